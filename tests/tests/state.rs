//! The state store (issue 13) against moto's DynamoDB, on a table created with the contract's
//! schema: idempotency claims, the suppression window, races between concurrent callers, and
//! failing open behind the fault proxy. Time moves on a manual clock, never by sleeping.
//!
//! The behaviour scenarios run twice: on DynamoDB (`dynamodb::*`) and on the in-memory store
//! handler tests use (`memory::*`), so the stand-in cannot drift from the real thing.

use aws_sdk_dynamodb::types::AttributeValue;
use lookout_shared::state::{
    Claim, DynamoStore, Fingerprint, IdempotencyKey, NoteKey, Notes, Recalled, Ruling, StateConfig,
    StateErrorKind, StateStore, Verdict,
};
use lookout_tests::dynamodb::{ManualClock, create_state_table};
use lookout_tests::fault_proxy::{Fault, FaultProxy};
use lookout_tests::moto::Moto;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

const TABLE: &str = "lookout-state";
const T0: u64 = 1_800_000_000;
const HOLD: Duration = Duration::from_secs(60);
const TIMEOUT: Duration = Duration::from_secs(5);
const WINDOW: Duration = Duration::from_secs(15 * 60);
const DAY: u64 = 86_400;
/// The function timeout the store is built with (`FUNCTION_TIMEOUT_SECONDS`).
const MAX_HOLD: Duration = Duration::from_secs(60);

struct Setup {
    moto: Moto,
    sdk: aws_config::SdkConfig,
    store: DynamoStore<ManualClock>,
    clock: ManualClock,
}

fn config(table: &str) -> StateConfig {
    StateConfig {
        table: Some(table.to_string()),
        suppress_window: WINDOW,
        keep: Duration::from_secs(DAY),
        max_hold: MAX_HOLD,
    }
}

fn store_at(sdk: &aws_config::SdkConfig, table: &str, clock: &ManualClock) -> DynamoStore<ManualClock> {
    DynamoStore::from_config(sdk, &config(table))
        .expect("a table is configured")
        .with_clock(clock.clone())
}

async fn setup() -> Setup {
    let moto = Moto::start();
    let sdk = moto.sdk_config().await;
    create_state_table(&sdk, TABLE).await;
    let clock = ManualClock::at(T0);
    Setup {
        store: store_at(&sdk, TABLE, &clock),
        moto,
        sdk,
        clock,
    }
}

/// The record as stored, read around the store.
async fn raw_item(sdk: &aws_config::SdkConfig, pk: &str) -> HashMap<String, AttributeValue> {
    aws_sdk_dynamodb::Client::new(sdk)
        .get_item()
        .table_name(TABLE)
        .key("pk", AttributeValue::S(pk.into()))
        .consistent_read(true)
        .send()
        .await
        .expect("get item")
        .item
        .unwrap_or_default()
}

fn n(v: u64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}
fn text(v: &str) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn key(payload: &str) -> IdempotencyKey {
    IdempotencyKey::from_payload("log-alert", payload.as_bytes())
}

async fn claim(store: &impl StateStore, key: &IdempotencyKey) -> Claim<Verdict> {
    store.claim(key, HOLD, TIMEOUT).await.expect("claim")
}

/// Each scenario runs on moto's DynamoDB (through `SerialProxy`: DynamoDB's write order, see
/// there) and on the in-memory store, both on a manual clock at `T0`.
macro_rules! on_both_stores {
    ($($scenario:ident),* $(,)?) => {
        mod dynamodb {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $scenario() {
                    let s = super::setup().await;
                    let proxy = lookout_tests::dynamodb::SerialProxy::start(&s.moto.endpoint);
                    let sdk = s.sdk.to_builder().endpoint_url(&proxy.endpoint).build();
                    let store = super::store_at(&sdk, super::TABLE, &s.clock);
                    super::$scenario(std::sync::Arc::new(store), &s.clock).await;
                }
            )*
        }
        mod memory {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $scenario() {
                    let clock = lookout_tests::dynamodb::ManualClock::at(super::T0);
                    let store = lookout_shared::state::MemoryStore::new(
                        std::time::Duration::from_secs(super::DAY),
                        clock.clone(),
                    );
                    super::$scenario(std::sync::Arc::new(store), &clock).await;
                }
            )*
        }
    };
}

on_both_stores!(
    a_completed_claim_answers_every_retry_with_its_message_id,
    expired_claims_are_taken_over_without_waiting_for_ttl,
    a_failed_claim_is_taken_over_at_once_with_the_decision_it_saved,
    saving_a_decision_needs_a_live_claim,
    repeats_are_counted_and_reported_by_the_first_alert_after_the_window,
    a_more_severe_alert_goes_through_inside_the_window,
    racing_claims_on_one_key_acquire_it_exactly_once,
    racing_alerts_with_one_fingerprint_send_exactly_once,
    a_retry_is_not_suppressed_by_the_window_its_first_attempt_opened,
    notes_are_replaced_whole_settled_once_per_event_and_expire,
);

/// Notes: what scan-alert remembers per image and task-alert per service's open alert.
async fn notes_are_replaced_whole_settled_once_per_event_and_expire(
    store: Arc<impl Notes>,
    clock: &ManualClock,
) {
    let k = NoteKey::new(
        "task-alert",
        &[
            "111111111111",
            "arn:aws:ecs:eu-west-1:111111111111:service/prod/web",
        ],
    );
    let absent: Option<Recalled<Vec<String>>> = store.recall(&k, TIMEOUT).await.unwrap();
    assert_eq!(absent, None);
    let none: Option<Vec<String>> = store.settle(&k, &key("steady-1"), TIMEOUT).await.unwrap();
    assert_eq!(none, None, "nothing to settle");

    let hour = Duration::from_secs(3_600);
    store
        .remember(&k, &vec!["crash loop".to_string()], hour, TIMEOUT)
        .await
        .unwrap();
    assert_eq!(
        store.recall(&k, TIMEOUT).await.unwrap(),
        Some(Recalled {
            note: vec!["crash loop".to_string()],
            settled: false
        })
    );
    // Settled by one event: that event (a retry) gets it again, another event does not.
    let by = key("steady-1");
    let first: Option<Vec<String>> = store.settle(&k, &by, TIMEOUT).await.unwrap();
    assert_eq!(first, Some(vec!["crash loop".to_string()]));
    let retry: Option<Vec<String>> = store.settle(&k, &by, TIMEOUT).await.unwrap();
    assert_eq!(retry, Some(vec!["crash loop".to_string()]));
    let other: Option<Vec<String>> = store.settle(&k, &key("steady-2"), TIMEOUT).await.unwrap();
    assert_eq!(other, None);
    let read: Option<Recalled<Vec<String>>> = store.recall(&k, TIMEOUT).await.unwrap();
    assert!(read.is_some_and(|r| r.settled));

    // A new note replaces the old one whole, unsettled.
    store
        .remember(&k, &vec!["deployment failed".to_string()], hour, TIMEOUT)
        .await
        .unwrap();
    let reopened: Option<Vec<String>> = store.settle(&k, &key("steady-2"), TIMEOUT).await.unwrap();
    assert_eq!(reopened, Some(vec!["deployment failed".to_string()]));

    // Expired notes are absent whatever TTL has not deleted yet.
    store
        .remember(&k, &vec!["again".to_string()], hour, TIMEOUT)
        .await
        .unwrap();
    clock.set(T0 + 3_600);
    let gone: Option<Recalled<Vec<String>>> = store.recall(&k, TIMEOUT).await.unwrap();
    assert_eq!(gone, None);
    let gone: Option<Vec<String>> = store.settle(&k, &key("steady-3"), TIMEOUT).await.unwrap();
    assert_eq!(gone, None);
}

async fn a_completed_claim_answers_every_retry_with_its_message_id(
    store: Arc<impl StateStore>,
    clock: &ManualClock,
) {
    let k = key("batch-1");
    assert_eq!(
        claim(&*store, &k).await,
        Claim::Acquired {
            previous_decision: None
        }
    );
    assert_eq!(claim(&*store, &k).await, Claim::InProgress { until: T0 + 60 });
    store.complete(&k, Some("msg-1"), TIMEOUT).await.unwrap();
    for later in [T0, T0 + 6 * 3_600, T0 + DAY - 1] {
        clock.set(later);
        assert_eq!(
            claim(&*store, &k).await,
            Claim::AlreadyDone {
                message_id: Some("msg-1".into())
            },
            "at {later}"
        );
    }
    // A different payload is a different event.
    assert_eq!(
        claim(&*store, &key("batch-2")).await,
        Claim::Acquired {
            previous_decision: None
        }
    );
}

async fn expired_claims_are_taken_over_without_waiting_for_ttl(
    store: Arc<impl StateStore>,
    clock: &ManualClock,
) {
    let k = key("batch-1");
    assert!(matches!(claim(&*store, &k).await, Claim::Acquired { .. }));
    clock.set(T0 + 59);
    assert_eq!(claim(&*store, &k).await, Claim::InProgress { until: T0 + 60 });
    // The first attempt crashed: its hold is over, the item is still there (TTL is late).
    clock.set(T0 + 60);
    assert_eq!(
        claim(&*store, &k).await,
        Claim::Acquired {
            previous_decision: None
        }
    );
    assert_eq!(claim(&*store, &k).await, Claim::InProgress { until: T0 + 120 });

    // A claim made with no time left still holds for a second.
    let late = key("batch-late");
    assert!(matches!(
        store
            .claim::<Verdict>(&late, Duration::ZERO, TIMEOUT)
            .await
            .unwrap(),
        Claim::Acquired { .. }
    ));
    assert_eq!(claim(&*store, &late).await, Claim::InProgress { until: T0 + 61 });

    // A done record past its keep time no longer answers either.
    store.complete(&k, None, TIMEOUT).await.unwrap();
    clock.set(T0 + 60 + DAY - 1);
    assert_eq!(claim(&*store, &k).await, Claim::AlreadyDone { message_id: None });
    clock.set(T0 + 60 + DAY);
    assert_eq!(
        claim(&*store, &k).await,
        Claim::Acquired {
            previous_decision: None
        }
    );
}

async fn a_failed_claim_is_taken_over_at_once_with_the_decision_it_saved(
    store: Arc<impl StateStore>,
    clock: &ManualClock,
) {
    let k = key("batch-1");
    let decided = Verdict::Send {
        suppressed: 3,
        since: Some(T0 - 600),
    };
    assert!(matches!(claim(&*store, &k).await, Claim::Acquired { .. }));
    store.save_decision(&k, &decided, TIMEOUT).await.unwrap();
    store.fail(&k, TIMEOUT).await.unwrap();

    // Same instant: no wait for the hold to end.
    assert_eq!(
        claim(&*store, &k).await,
        Claim::Acquired {
            previous_decision: Some(decided)
        }
    );
    // The second attempt crashes while in progress: the third still inherits the decision.
    clock.set(T0 + 60);
    assert_eq!(
        claim(&*store, &k).await,
        Claim::Acquired {
            previous_decision: Some(decided)
        }
    );
    store.complete(&k, Some("msg-3"), TIMEOUT).await.unwrap();
    // A late `fail` (another attempt's) cannot undo a completion.
    store.fail(&k, TIMEOUT).await.unwrap();
    assert_eq!(
        claim(&*store, &k).await,
        Claim::AlreadyDone {
            message_id: Some("msg-3".into())
        }
    );
    // After the keep time the same payload starts afresh: completion dropped the decision.
    clock.set(T0 + 60 + DAY);
    assert_eq!(
        claim(&*store, &k).await,
        Claim::Acquired {
            previous_decision: None
        }
    );
}

async fn saving_a_decision_needs_a_live_claim(store: Arc<impl StateStore>, _clock: &ManualClock) {
    let k = key("batch-1");
    let e = store
        .save_decision(&k, &Verdict::SEND, TIMEOUT)
        .await
        .unwrap_err();
    assert_eq!(e.kind, StateErrorKind::Conflict, "{e}");
    assert!(matches!(claim(&*store, &k).await, Claim::Acquired { .. }));
    store.complete(&k, Some("m"), TIMEOUT).await.unwrap();
    let e = store
        .save_decision(&k, &Verdict::SEND, TIMEOUT)
        .await
        .unwrap_err();
    assert_eq!(e.kind, StateErrorKind::Conflict, "{e}");
}

async fn repeats_are_counted_and_reported_by_the_first_alert_after_the_window(
    store: Arc<impl StateStore>,
    clock: &ManualClock,
) {
    let fp = Fingerprint::new("log-alert", &["/ecs/web", "ERROR db down"]);
    let observe = |rank| store.observe(&fp, rank, WINDOW, TIMEOUT);
    assert_eq!(observe(3).await.unwrap(), Verdict::SEND);
    for (count, at) in [(1, T0 + 60), (2, T0 + 120), (3, T0 + 600), (4, T0 + 899)] {
        clock.set(at);
        assert_eq!(
            observe(3).await.unwrap(),
            Verdict::Suppress { count, since: T0 },
            "at {at}"
        );
    }
    // A less severe repeat is counted in the same window.
    assert_eq!(
        observe(1).await.unwrap(),
        Verdict::Suppress { count: 5, since: T0 }
    );
    clock.set(T0 + 900);
    assert_eq!(
        observe(3).await.unwrap(),
        Verdict::Send {
            suppressed: 5,
            since: Some(T0)
        }
    );
    // That alert opened a new window with a fresh count.
    clock.set(T0 + 960);
    assert_eq!(
        observe(3).await.unwrap(),
        Verdict::Suppress {
            count: 1,
            since: T0 + 900
        }
    );
    // A quiet window: the next alert reports nothing suppressed.
    let quiet = Fingerprint::new("log-alert", &["/ecs/web", "WARN slow"]);
    assert_eq!(
        store.observe(&quiet, 2, WINDOW, TIMEOUT).await.unwrap(),
        Verdict::SEND
    );
    clock.set(T0 + 960 + 900);
    assert_eq!(
        store.observe(&quiet, 2, WINDOW, TIMEOUT).await.unwrap(),
        Verdict::SEND
    );
    // Counts are kept `keep` past the window's end, then forgotten.
    clock.set(T0 + 1_800 + DAY);
    assert_eq!(observe(3).await.unwrap(), Verdict::SEND);
}

async fn a_more_severe_alert_goes_through_inside_the_window(
    store: Arc<impl StateStore>,
    clock: &ManualClock,
) {
    let fp = Fingerprint::new("log-alert", &["/ecs/web", "db down"]);
    let observe = |rank| store.observe(&fp, rank, WINDOW, TIMEOUT);
    assert_eq!(observe(3).await.unwrap(), Verdict::SEND);
    clock.set(T0 + 60);
    assert_eq!(
        observe(3).await.unwrap(),
        Verdict::Suppress { count: 1, since: T0 }
    );
    clock.set(T0 + 120);
    assert_eq!(
        observe(5).await.unwrap(),
        Verdict::Send {
            suppressed: 1,
            since: Some(T0)
        }
    );
    // The new window is as severe as its alert: both ranks are repeats now, until it ends.
    assert_eq!(
        observe(5).await.unwrap(),
        Verdict::Suppress {
            count: 1,
            since: T0 + 120
        }
    );
    assert_eq!(
        observe(3).await.unwrap(),
        Verdict::Suppress {
            count: 2,
            since: T0 + 120
        }
    );
    clock.set(T0 + 120 + 899);
    assert_eq!(
        observe(3).await.unwrap(),
        Verdict::Suppress {
            count: 3,
            since: T0 + 120
        }
    );
    clock.set(T0 + 120 + 900);
    assert!(matches!(
        observe(3).await.unwrap(),
        Verdict::Send { suppressed: 3, .. }
    ));
}

/// Lambda's story: the first attempt opens the window and fails to publish; its retry takes
/// the decision over; a different batch with the same error is a counted repeat, once.
async fn a_retry_is_not_suppressed_by_the_window_its_first_attempt_opened(
    store: Arc<impl StateStore>,
    clock: &ManualClock,
) {
    use lookout_shared::state::admit;
    let fp = Fingerprint::new("log-alert", &["/ecs/web", "db down"]);
    let alert: &[(&Fingerprint, u8)] = &[(&fp, 3)];
    let budget = TIMEOUT;
    let publish = Ruling::Publish {
        verdicts: vec![Verdict::SEND],
        claimed: true,
    };
    let first = admit(&*store, &key("batch-1"), alert, WINDOW, HOLD, budget).await;
    assert_eq!((first.ruling, first.problems), (publish.clone(), vec![]));
    // No `fail`: the attempt was killed. Lambda retries a minute later.
    clock.set(T0 + 60);
    let retry = admit(&*store, &key("batch-1"), alert, WINDOW, HOLD, budget).await;
    assert_eq!((retry.ruling, retry.problems), (publish, vec![]));
    store
        .complete(&key("batch-1"), Some("msg-1"), TIMEOUT)
        .await
        .unwrap();
    let late = admit(&*store, &key("batch-1"), alert, WINDOW, HOLD, budget).await;
    assert_eq!(
        late.ruling,
        Ruling::AlreadyDone {
            message_id: Some("msg-1".into())
        }
    );
    let other = admit(&*store, &key("batch-2"), alert, WINDOW, HOLD, budget).await;
    assert_eq!(other.ruling, Ruling::Suppressed { count: 1 });
    let other_again = admit(&*store, &key("batch-2"), alert, WINDOW, HOLD, budget).await;
    assert_eq!(other_again.ruling, Ruling::AlreadyDone { message_id: None });
    // The first alert after the window reports the one repeat.
    clock.set(T0 + 900);
    let next = admit(&*store, &key("batch-3"), alert, WINDOW, HOLD, budget).await;
    assert_eq!(
        next.ruling,
        Ruling::Publish {
            verdicts: vec![Verdict::Send {
                suppressed: 1,
                since: Some(T0)
            }],
            claimed: true
        }
    );
}

const RACERS: usize = 12;

async fn racing_claims_on_one_key_acquire_it_exactly_once(
    store: Arc<impl StateStore + 'static>,
    _clock: &ManualClock,
) {
    let k = key("batch-1");
    let barrier = Arc::new(tokio::sync::Barrier::new(RACERS));
    let racers: Vec<_> = (0..RACERS)
        .map(|_| {
            let (store, k, barrier) = (store.clone(), k.clone(), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                store.claim::<Verdict>(&k, HOLD, TIMEOUT).await
            })
        })
        .collect();
    let mut acquired = 0;
    for racer in racers {
        match racer.await.unwrap().expect("claim") {
            Claim::Acquired { .. } => acquired += 1,
            Claim::InProgress { until } => assert_eq!(until, T0 + 60),
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(acquired, 1);
}

async fn racing_alerts_with_one_fingerprint_send_exactly_once(
    store: Arc<impl StateStore + 'static>,
    _clock: &ManualClock,
) {
    let fp = Fingerprint::new("log-alert", &["/ecs/web", "db down"]);
    let barrier = Arc::new(tokio::sync::Barrier::new(RACERS));
    let racers: Vec<_> = (0..RACERS)
        .map(|_| {
            let (store, fp, barrier) = (store.clone(), fp.clone(), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                store.observe(&fp, 3, WINDOW, TIMEOUT).await
            })
        })
        .collect();
    let (mut sent, mut counts) = (0, Vec::new());
    for racer in racers {
        match racer.await.unwrap().expect("observe") {
            Verdict::Send { .. } => sent += 1,
            Verdict::Suppress { count, .. } => counts.push(count),
        }
    }
    assert_eq!(sent, 1);
    counts.sort_unstable();
    let expected: Vec<u64> = (1..RACERS as u64).collect();
    assert_eq!(counts, expected, "every repeat counted once");
}

/// What operators' tooling reads: `pk`, `status`, `messageId`, `decision`, the window's
/// attributes and `expiresAt` in epoch seconds.
#[tokio::test]
async fn records_have_the_contracts_shape() {
    let s = setup().await;
    let k = key("batch-1");
    assert!(matches!(claim(&s.store, &k).await, Claim::Acquired { .. }));
    let stored = raw_item(&s.sdk, k.as_str()).await;
    assert_eq!(stored["pk"], text(k.as_str()));
    assert_eq!(stored["status"], text("in_progress"));
    assert_eq!(stored["expiresAt"], n(T0 + 60));
    let decided = Verdict::Send {
        suppressed: 2,
        since: Some(T0 - 60),
    };
    s.store.save_decision(&k, &decided, TIMEOUT).await.unwrap();
    s.store.fail(&k, TIMEOUT).await.unwrap();
    let stored = raw_item(&s.sdk, k.as_str()).await;
    assert_eq!(stored["status"], text("failed"));
    assert_eq!(
        stored["decision"],
        text(&format!(
            r#"{{"verdict":"send","suppressed":2,"since":{}}}"#,
            T0 - 60
        ))
    );
    assert_eq!(stored["expiresAt"], n(T0 + DAY), "kept past Lambda's retries");

    s.store.complete(&k, Some("msg-1"), TIMEOUT).await.unwrap();
    let stored = raw_item(&s.sdk, k.as_str()).await;
    assert_eq!(stored["status"], text("done"));
    assert_eq!(stored["messageId"], text("msg-1"));
    assert_eq!(stored["expiresAt"], n(T0 + DAY));
    assert!(
        !stored.contains_key("decision"),
        "a done record carries no decision"
    );

    let fp = Fingerprint::new("log-alert", &["/ecs/web", "db down"]);
    s.store.observe(&fp, 3, WINDOW, TIMEOUT).await.unwrap();
    s.clock.set(T0 + 60);
    s.store.observe(&fp, 2, WINDOW, TIMEOUT).await.unwrap();
    let stored = raw_item(&s.sdk, fp.as_str()).await;
    assert_eq!(stored["pk"], text(fp.as_str()));
    assert_eq!(stored["openedAt"], n(T0));
    assert_eq!(stored["windowEnd"], n(T0 + 900));
    assert_eq!(stored["severity"], n(3));
    assert_eq!(stored["suppressed"], n(1));
    assert_eq!(
        stored["expiresAt"],
        n(T0 + 900 + DAY),
        "counts outlive the window"
    );
}

#[tokio::test]
async fn a_zero_window_sends_without_touching_the_table() {
    let s = setup().await;
    // A store on a table that does not exist: any call would fail.
    let missing = store_at(&s.sdk, "no-such-table", &s.clock);
    let fp = Fingerprint::new("log-alert", &["g", "line"]);
    for _ in 0..3 {
        assert_eq!(
            missing.observe(&fp, 3, Duration::ZERO, TIMEOUT).await.unwrap(),
            Verdict::SEND
        );
    }
    let e = missing.observe(&fp, 3, WINDOW, TIMEOUT).await.unwrap_err();
    assert_eq!(e.kind, StateErrorKind::TableMissing, "{e}");
    let e = missing
        .claim::<Verdict>(&key("b"), HOLD, TIMEOUT)
        .await
        .unwrap_err();
    assert_eq!(e.kind, StateErrorKind::TableMissing, "{e}");
}

/// A store that reaches moto through the fault proxy, with `faults` on every DynamoDB call.
async fn behind_faults(fault: Fault) -> (Setup, FaultProxy, DynamoStore<ManualClock>) {
    let s = setup().await;
    let proxy = FaultProxy::start(&s.moto.endpoint);
    for operation in ["UpdateItem", "GetItem"] {
        proxy.inject(operation, fault.clone(), usize::MAX);
    }
    let sdk = s.sdk.to_builder().endpoint_url(&proxy.endpoint).build();
    let store = store_at(&sdk, TABLE, &s.clock);
    (s, proxy, store)
}

/// Every operation of the store fails with `kind`, within `timeout`.
async fn every_call_fails_with(store: &DynamoStore<ManualClock>, kind: StateErrorKind, timeout: Duration) {
    let k = key("batch-1");
    let fp = Fingerprint::new("log-alert", &["g", "line"]);
    let errors = [
        (
            "claim",
            store.claim::<Verdict>(&k, HOLD, timeout).await.map(|_| ()),
        ),
        (
            "save_decision",
            store.save_decision(&k, &Verdict::SEND, timeout).await,
        ),
        ("complete", store.complete(&k, Some("m"), timeout).await),
        ("fail", store.fail(&k, timeout).await),
        (
            "observe",
            store.observe(&fp, 3, WINDOW, timeout).await.map(|_| ()),
        ),
    ];
    for (operation, result) in errors {
        let e = result.expect_err(operation);
        assert_eq!((e.operation, e.kind), (operation, kind), "{e}");
        assert!(!e.to_string().contains("batch-1"), "no payload in errors: {e}");
    }
}

/// Every note operation (scan-alert's news, task-alert's open alerts) fails with `kind`,
/// within `timeout`.
async fn every_note_call_fails_with(
    store: &DynamoStore<ManualClock>,
    kind: StateErrorKind,
    timeout: Duration,
) {
    let note = NoteKey::new("task-alert", &["111111111111", "service/prod/web"]);
    let errors = [
        (
            "recall",
            Notes::recall::<Vec<String>>(store, &note, timeout)
                .await
                .map(|_| ()),
        ),
        (
            "remember",
            store.remember(&note, &vec!["open"], WINDOW, timeout).await,
        ),
        (
            "settle",
            Notes::settle::<Vec<String>>(store, &note, &key("steady-1"), timeout)
                .await
                .map(|_| ()),
        ),
    ];
    for (operation, result) in errors {
        let e = result.expect_err(operation);
        assert_eq!((e.operation, e.kind), (operation, kind), "{e}");
    }
}

#[tokio::test]
async fn a_throttled_table_fails_every_call_as_throttled_after_three_attempts() {
    let (_s, proxy, store) = behind_faults(Fault::Throttle).await;
    every_call_fails_with(&store, StateErrorKind::Throttled, TIMEOUT).await;
    assert_eq!(proxy.seen("UpdateItem"), 5 * 3, "five calls, three attempts each");
    every_note_call_fails_with(&store, StateErrorKind::Throttled, TIMEOUT).await;
}

#[tokio::test]
async fn exceeded_provisioned_throughput_is_throttling_too() {
    let (_s, _proxy, store) = behind_faults(Fault::Error("ProvisionedThroughputExceededException")).await;
    every_call_fails_with(&store, StateErrorKind::Throttled, TIMEOUT).await;
}

#[tokio::test]
async fn server_errors_fail_every_call_as_unavailable() {
    for status in [500, 503] {
        let (_s, _proxy, store) = behind_faults(Fault::Status(status)).await;
        every_call_fails_with(&store, StateErrorKind::Unavailable, TIMEOUT).await;
        every_note_call_fails_with(&store, StateErrorKind::Unavailable, TIMEOUT).await;
    }
}

#[tokio::test]
async fn refused_access_fails_every_call_as_access_denied() {
    let (_s, _proxy, store) = behind_faults(Fault::Error("AccessDeniedException")).await;
    every_call_fails_with(&store, StateErrorKind::AccessDenied, TIMEOUT).await;
    every_note_call_fails_with(&store, StateErrorKind::AccessDenied, TIMEOUT).await;
}

#[tokio::test]
async fn a_table_that_never_answers_fails_every_call_with_a_timeout() {
    // The proxy holds each request far longer than the caller's timeout.
    let (_s, _proxy, store) = behind_faults(Fault::Delay(Duration::from_secs(600))).await;
    every_call_fails_with(&store, StateErrorKind::Timeout, Duration::from_millis(300)).await;
    every_note_call_fails_with(&store, StateErrorKind::Timeout, Duration::from_millis(300)).await;
}

/// A settle that took effect but answered after its caller gave up: the retry of the same
/// event settles again and still gets the note, so its `[RESOLVED]` is not lost.
#[tokio::test]
async fn a_settle_answered_too_late_is_settled_again_by_the_same_events_retry() {
    let s = setup().await;
    let proxy = FaultProxy::start(&s.moto.endpoint);
    let sdk = s.sdk.to_builder().endpoint_url(&proxy.endpoint).build();
    let store = store_at(&sdk, TABLE, &s.clock);
    let note = NoteKey::new("task-alert", &["111111111111", "service/prod/web"]);
    let open = vec!["crash loop".to_string()];
    store.remember(&note, &open, WINDOW, TIMEOUT).await.unwrap();
    proxy.inject("UpdateItem", Fault::DelayAnswer(Duration::from_secs(2)), 1);
    let by = key("steady-1");
    let e = Notes::settle::<Vec<String>>(&store, &note, &by, Duration::from_millis(300))
        .await
        .unwrap_err();
    assert_eq!((e.operation, e.kind), ("settle", StateErrorKind::Timeout), "{e}");
    let retried: Option<Vec<String>> = store.settle(&note, &by, TIMEOUT).await.unwrap();
    assert_eq!(
        retried,
        Some(open),
        "the same event's retry gets the note it settled"
    );
    let other: Option<Vec<String>> = store.settle(&note, &key("steady-2"), TIMEOUT).await.unwrap();
    assert_eq!(other, None, "and no other event does");
}

#[tokio::test]
async fn an_unreachable_table_fails_every_call_as_unreachable() {
    let s = setup().await;
    // A port nobody listens on.
    let closed = format!("http://127.0.0.1:{}", lookout_tests::moto::free_port());
    let sdk = s.sdk.to_builder().endpoint_url(closed).build();
    let store = store_at(&sdk, TABLE, &s.clock);
    every_call_fails_with(&store, StateErrorKind::Unreachable, TIMEOUT).await;
    every_note_call_fails_with(&store, StateErrorKind::Unreachable, TIMEOUT).await;
}

#[tokio::test]
async fn a_throttled_table_never_costs_an_alert() {
    let (_s, _proxy, store) = behind_faults(Fault::Throttle).await;
    let fp = Fingerprint::new("log-alert", &["/ecs/web", "db down"]);
    for _ in 0..3 {
        let admitted =
            lookout_shared::state::admit(&store, &key("batch-1"), &[(&fp, 3)], WINDOW, HOLD, TIMEOUT).await;
        assert_eq!(
            admitted.ruling,
            Ruling::Publish {
                verdicts: vec![Verdict::SEND],
                claimed: false
            }
        );
        let problems: Vec<_> = admitted.problems.iter().map(|e| (e.operation, e.kind)).collect();
        assert_eq!(
            problems,
            [
                ("claim", StateErrorKind::Throttled),
                ("observe", StateErrorKind::Throttled)
            ]
        );
    }
}

/// Writes `item` under `pk` around the store, as a broken or foreign writer would.
async fn put_raw(sdk: &aws_config::SdkConfig, pk: &str, attributes: &[(&str, AttributeValue)]) {
    let mut request = aws_sdk_dynamodb::Client::new(sdk)
        .put_item()
        .table_name(TABLE)
        .item("pk", text(pk));
    for (name, value) in attributes {
        request = request.item(*name, value.clone());
    }
    request.send().await.expect("put item");
}

/// Issue 20: an `in_progress` item with `expiresAt` 9999999999 held the alert back forever
/// (every attempt was "busy"). No attempt holds a claim longer than the function timeout.
#[tokio::test]
async fn an_in_progress_claim_held_longer_than_the_function_can_run_is_treated_as_absent() {
    let s = setup().await;
    let forever = key("batch-forever");
    put_raw(
        &s.sdk,
        forever.as_str(),
        &[
            ("status", text("in_progress")),
            ("expiresAt", n(9_999_999_999)),
            (
                "decision",
                text(r#"{"verdict":"send","suppressed":99,"since":1}"#),
            ),
        ],
    )
    .await;
    assert_eq!(
        claim(&s.store, &forever).await,
        Claim::Acquired {
            previous_decision: None
        },
        "taken over, and its decision not trusted either"
    );
    // The claim this store wrote in its place is bounded and holds as usual.
    assert_eq!(
        claim(&s.store, &forever).await,
        Claim::InProgress { until: T0 + 60 }
    );

    // The longest real hold (the 60 s timeout, plus 10 s of clock skew) is respected.
    let held = key("batch-held");
    put_raw(
        &s.sdk,
        held.as_str(),
        &[("status", text("in_progress")), ("expiresAt", n(T0 + 70))],
    )
    .await;
    assert_eq!(claim(&s.store, &held).await, Claim::InProgress { until: T0 + 70 });
    let too_long = key("batch-too-long");
    put_raw(
        &s.sdk,
        too_long.as_str(),
        &[("status", text("in_progress")), ("expiresAt", n(T0 + 71))],
    )
    .await;
    assert!(matches!(claim(&s.store, &too_long).await, Claim::Acquired { .. }));

    // A hold asked for beyond the timeout is written within it.
    let asked = key("batch-asked");
    let acquired = s
        .store
        .claim::<Verdict>(&asked, Duration::from_secs(3_600), TIMEOUT)
        .await
        .unwrap();
    assert!(matches!(acquired, Claim::Acquired { .. }));
    assert_eq!(raw_item(&s.sdk, asked.as_str()).await["expiresAt"], n(T0 + 60));
}

#[tokio::test]
async fn a_stored_decision_that_does_not_parse_is_treated_as_absent() {
    let s = setup().await;
    let k = key("batch-1");
    put_raw(
        &s.sdk,
        k.as_str(),
        &[
            ("status", text("failed")),
            ("expiresAt", n(T0 + DAY)),
            ("decision", text("{\"verdict\":")),
        ],
    )
    .await;
    // Before: InvalidRecord on every retry of the event (each failing open, uncounted).
    assert_eq!(
        claim(&s.store, &k).await,
        Claim::Acquired {
            previous_decision: None
        }
    );
}

/// A window that "never ends" suppressed its fingerprint forever. Windows end within the
/// window plus the function timeout of being opened; one ending later is replaced.
#[tokio::test]
async fn a_window_ending_later_than_the_window_plus_the_timeout_is_treated_as_absent() {
    let s = setup().await;
    let fp = Fingerprint::new("log-alert", &["/ecs/web", "db down"]);
    put_raw(
        &s.sdk,
        fp.as_str(),
        &[
            ("openedAt", n(T0 - 60)),
            ("windowEnd", n(9_999_999_999)),
            ("severity", n(3)),
            ("suppressed", n(41)),
            ("expiresAt", n(9_999_999_999)),
        ],
    )
    .await;
    assert_eq!(
        s.store.observe(&fp, 3, WINDOW, TIMEOUT).await.unwrap(),
        Verdict::SEND,
        "sent, and none of the untrusted count reported"
    );
    // It opened a real window in its place.
    let stored = raw_item(&s.sdk, fp.as_str()).await;
    assert_eq!(stored["windowEnd"], n(T0 + 900));
    assert_eq!(
        s.store.observe(&fp, 3, WINDOW, TIMEOUT).await.unwrap(),
        Verdict::Suppress { count: 1, since: T0 }
    );

    // The latest real end: the window (900 s) plus the timeout (60 s) plus 10 s of skew.
    let edge = Fingerprint::new("log-alert", &["/ecs/web", "edge"]);
    put_raw(
        &s.sdk,
        edge.as_str(),
        &[
            ("openedAt", n(T0)),
            ("windowEnd", n(T0 + 970)),
            ("severity", n(3)),
            ("suppressed", n(0)),
            ("expiresAt", n(T0 + 970 + DAY)),
        ],
    )
    .await;
    assert_eq!(
        s.store.observe(&edge, 3, WINDOW, TIMEOUT).await.unwrap(),
        Verdict::Suppress { count: 1, since: T0 }
    );
}

/// DynamoDB answers a key that is not the table's with ValidationException "The provided key
/// element does not match the schema": named, so the operator reads what to fix.
#[tokio::test]
async fn a_table_with_another_key_schema_fails_every_call_as_wrong_key_schema() {
    let s = setup().await;
    lookout_tests::dynamodb::create_table_keyed_by(&s.sdk, "keyed-by-id", "id").await;
    let store = store_at(&s.sdk, "keyed-by-id", &s.clock);
    let fp = Fingerprint::new("log-alert", &["g", "line"]);
    let e = store
        .claim::<Verdict>(&key("b"), HOLD, TIMEOUT)
        .await
        .unwrap_err();
    assert_eq!(e.kind, StateErrorKind::WrongKeySchema, "{e}");
    let e = store.observe(&fp, 3, WINDOW, TIMEOUT).await.unwrap_err();
    assert_eq!(e.kind, StateErrorKind::WrongKeySchema, "{e}");
    assert_eq!(e.kind.describe(), "the table's key schema is not `pk` (S)");
}
