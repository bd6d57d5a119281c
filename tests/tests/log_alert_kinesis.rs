//! Issue 23, end to end on moto: member accounts' log groups subscribed to Kinesis, their
//! records in the organisation's stream (as cross-account destinations would write them),
//! Lambda's Kinesis event built from `GetRecords`, and the log-alert binary run through the
//! Runtime API with the state table on moto's DynamoDB and SNS delivering to SQS. Faults (SNS
//! refusing, SNS slow) come from the fault proxy between the binary and moto.

use lookout_tests::Function;
use lookout_tests::dynamodb::create_state_table;
use lookout_tests::fault_proxy::{Fault, FaultProxy};
use lookout_tests::kinesis::{Member, Stream, StreamRecord, from_sequence, lambda_event};
use lookout_tests::moto::{Delivered, Moto, TopicWithQueue};
use lookout_tests::workspace::{binary, event_file};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

const TABLE: &str = "lookout-state";
const PAYMENTS: &str = "111122223333";
const SEARCH: &str = "444455556666";
/// Not in ACCOUNT_NAMES: alerts show its id.
const LEGACY: &str = "777788889999";
const ACCOUNT_NAMES: &str = r#"{"111122223333": "payments-prod", "444455556666": "search-prod"}"#;

/// The PutLogEvents calls, in the order the organisation's stream receives their records:
/// (account, log group, log stream, lines).
const CALLS: [(&str, &str, &str, &[&str]); 8] = [
    (
        PAYMENTS,
        "/ecs/web",
        "web/a",
        &[
            "ERROR payment 1 failed: card declined",
            "ERROR payment 2 failed: card declined",
        ],
    ),
    (SEARCH, "/ecs/web", "web/a", &["ERROR db down"]),
    (
        PAYMENTS,
        "/ecs/api",
        "api/a",
        &["ERROR token expired for client 17"],
    ),
    (LEGACY, "/ecs/batch", "batch/a", &["FATAL job 9 crashed"]),
    (SEARCH, "/ecs/search", "search/a", &["ERROR index 3 corrupt"]),
    (PAYMENTS, "/ecs/web", "web/b", &["ERROR db down"]),
    (SEARCH, "/ecs/web", "web/a", &["ERROR db down"]),
    (
        PAYMENTS,
        "/ecs/api",
        "api/a",
        &["ERROR token expired for client 18"],
    ),
];

/// The alerts the calls make: (account attribute, log group) → subject.
fn expected() -> BTreeMap<(String, String), String> {
    [
        (
            PAYMENTS,
            "/ecs/web",
            "[ERROR] payments-prod: 3 events in /ecs/web",
        ),
        (SEARCH, "/ecs/web", "[ERROR] search-prod: 2 events in /ecs/web"),
        (
            PAYMENTS,
            "/ecs/api",
            "[ERROR] payments-prod: 2 events in /ecs/api",
        ),
        (
            LEGACY,
            "/ecs/batch",
            "[CRITICAL] 777788889999: 1 event in /ecs/batch",
        ),
        (
            SEARCH,
            "/ecs/search",
            "[ERROR] search-prod: 1 event in /ecs/search",
        ),
    ]
    .into_iter()
    .map(|(account, group, subject)| ((account.to_string(), group.to_string()), subject.to_string()))
    .collect()
}

struct Org {
    moto: Moto,
    proxy: FaultProxy,
    topic: TopicWithQueue,
    /// The organisation's stream (in the central account, 123456789012).
    stream: Stream,
    /// What `GetRecords` reads from it.
    records: Vec<StreamRecord>,
}

/// Three member accounts, five log groups, eight records in the organisation's stream; with
/// `poison`, a record that is not a subscription payload after the fourth.
async fn organisation(poison: bool) -> Org {
    let moto = Moto::start();
    let proxy = FaultProxy::start(&moto.endpoint);
    let config = moto.sdk_config().await;
    create_state_table(&config, TABLE).await;
    let topic = TopicWithQueue::create(&config, "alerts", false).await;
    let mut members = Vec::new();
    for account in [PAYMENTS, SEARCH, LEGACY] {
        let member = Member::create(&config, account).await;
        let mut groups: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
        for (owner, group, stream, _) in CALLS {
            if owner == account {
                groups.entry(group).or_default().insert(stream);
            }
        }
        for (group, streams) in groups {
            let streams: Vec<&str> = streams.into_iter().collect();
            member.log_group(group, &streams).await;
        }
        members.push(member);
    }
    // Now: CloudWatch Logs (and moto) refuse events older than 14 days.
    let t0 = lookout_shared::time::now_epoch_ms() - 60_000;
    for (i, (owner, group, stream, lines)) in CALLS.iter().enumerate() {
        let member = members.iter().find(|m| m.account == *owner).expect("member");
        member
            .put_log_events(group, stream, t0 + i as i64 * 1_000, lines)
            .await;
    }
    // Each member's stream holds its records in order; the organisation's stream receives them
    // in the order of the calls, as the destinations would write them.
    let mut delivered = BTreeMap::new();
    for member in &members {
        let records = member.records().await;
        assert_eq!(
            records.len(),
            CALLS.iter().filter(|c| c.0 == member.account).count(),
            "moto delivers one record per PutLogEvents"
        );
        delivered.insert(member.account.clone(), records.into_iter());
    }
    let stream = Stream::create(&config).await;
    for (i, (owner, _, _, _)) in CALLS.iter().enumerate() {
        let record = delivered
            .get_mut(*owner)
            .and_then(Iterator::next)
            .expect("a record per call");
        stream.put(&record.data, &record.partition_key).await;
        if poison && i == 3 {
            stream
                .put(b"password=hunter2, not a subscription payload", "poison")
                .await;
        }
    }
    let records = stream.records().await;
    Org {
        moto,
        proxy,
        topic,
        stream,
        records,
    }
}

fn log_alert(org: &Org, extra: &[(&str, &str)]) -> Function {
    let mut env = org.moto.function_env();
    env.retain(|(k, _)| k != "AWS_ENDPOINT_URL");
    env.push(("AWS_ENDPOINT_URL".into(), org.proxy.endpoint.clone()));
    env.push(("ALERT_TOPIC_ARN".into(), org.topic.topic_arn.clone()));
    env.push(("STATE_TABLE".into(), TABLE.into()));
    env.push(("ACCOUNT_NAMES".into(), ACCOUNT_NAMES.into()));
    // Text: SNS delivers message attributes (the `account` that filter policies route on) only
    // with plain messages (docs/operations.md, message formats).
    env.push(("MESSAGE_FORMAT".into(), "text".into()));
    env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    Function::spawn(&binary("log-alert"), &env)
}

/// Every alert delivered so far, by (account attribute, log group attribute); fails on a
/// second alert for the same pair.
fn by_group(delivered: &[Delivered]) -> BTreeMap<(String, String), Delivered> {
    let mut out = BTreeMap::new();
    for d in delivered {
        let key = (
            d.attribute("account").unwrap_or_default().to_string(),
            d.attribute("logGroup").unwrap_or_default().to_string(),
        );
        assert!(
            out.insert(key.clone(), d.clone()).is_none(),
            "a second alert for {key:?}: {:?}",
            d.subject()
        );
    }
    out
}

fn subjects(alerts: &BTreeMap<(String, String), Delivered>) -> BTreeMap<(String, String), String> {
    alerts
        .iter()
        .map(|(k, d)| (k.clone(), d.subject().unwrap_or_default().to_string()))
        .collect()
}

/// The one sequence number a response reports.
fn reported(response: &Value) -> String {
    let failures = response["batchItemFailures"]
        .as_array()
        .expect("batchItemFailures");
    assert_eq!(failures.len(), 1, "{response}");
    failures[0]["itemIdentifier"]
        .as_str()
        .expect("itemIdentifier")
        .to_string()
}

#[tokio::test]
async fn one_alert_per_account_and_log_group_named_and_routable_and_a_redelivery_sends_nothing() {
    let org = organisation(false).await;
    assert_eq!(org.records.len(), 8);
    let function = log_alert(&org, &[]);
    let event = lambda_event(&org.stream.arn, &org.records);
    let response = function.invoke(&event);
    assert_eq!(response.response(), &json!({"batchItemFailures": []}));

    let alerts = by_group(&org.topic.drain().await);
    assert_eq!(subjects(&alerts), expected());
    // The body names the account and its id; the `account` attribute (the key above) is the
    // id, for filter policies.
    let web = alerts[&(PAYMENTS.to_string(), "/ecs/web".to_string())].message();
    for line in [
        "Account:       payments-prod (111122223333)\n",
        "Log stream:    web/a (and 1 more stream; the stream link opens this one)\n",
        "3 events as 2 distinct lines (most severe first):",
    ] {
        assert!(web.contains(line), "{line:?} in {web}");
    }
    let legacy = alerts[&(LEGACY.to_string(), "/ecs/batch".to_string())].message();
    assert!(legacy.contains("Account:       777788889999\n"), "{legacy}");
    let emf = function.last_emf();
    assert_eq!(
        (
            &emf["RecordsReceived"],
            &emf["AlertsPublished"],
            &emf["RecordsFailed"]
        ),
        (&json!(8), &json!(5), &json!(0))
    );

    // Lambda delivers the same batch again (a timeout after the alerts, say): nothing is sent.
    let again = function.invoke(&event);
    assert_eq!(again.response(), &json!({"batchItemFailures": []}));
    assert!(org.topic.drain().await.is_empty());
    assert_eq!(function.last_emf()["RecordsAlreadyAlerted"], 8);
}

#[tokio::test]
async fn a_poison_record_in_the_middle_is_logged_counted_and_does_not_hold_the_shard() {
    let org = organisation(true).await;
    assert_eq!(org.records.len(), 9);
    let poison = &org.records[4];
    assert_eq!(poison.partition_key, "poison");
    let function = log_alert(&org, &[]);
    let response = function.invoke(&lambda_event(&org.stream.arn, &org.records));
    assert_eq!(response.response(), &json!({"batchItemFailures": []}));
    assert_eq!(subjects(&by_group(&org.topic.drain().await)), expected());
    assert_eq!(function.last_emf()["RecordsRejected"], 1);
    // Logged by sequence number and problem, never by its data.
    let output = function.output().join("\n");
    let warning = function
        .output()
        .into_iter()
        .find(|l| l.contains("Kinesis record rejected"))
        .expect("a warning for the poison record");
    assert!(
        warning.contains(&format!("\"sequence_number\":\"{}\"", poison.sequence_number))
            && warning.contains("PayloadNotGzip"),
        "{warning}"
    );
    assert!(!output.contains("hunter2"), "{output}");
}

#[tokio::test]
async fn sns_failing_after_half_the_groups_reports_the_first_record_not_delivered_and_the_retry_sends_the_rest_once()
 {
    let org = organisation(false).await;
    // search-prod's two alerts (the 2nd and 5th of five) are refused.
    org.proxy.inject_when(
        "Publish",
        Some("search-prod"),
        Fault::Error("AuthorizationError"),
        2,
    );
    let function = log_alert(&org, &[]);
    let response = function.invoke(&lambda_event(&org.stream.arn, &org.records));
    // search-prod's first record is the stream's second.
    let resume = reported(response.response());
    assert_eq!(resume, org.records[1].sequence_number);
    let first = by_group(&org.topic.drain().await);
    assert_eq!(first.len(), 3);
    let emf = function.last_emf();
    assert_eq!(
        (&emf["RecordsFailed"], &emf["PublishFailures"]),
        (&json!(3), &json!(2))
    );

    // Lambda delivers the batch again from that record: search-prod's alerts go out, the
    // records already alerted (payments' and the legacy account's after it) are left out.
    let retry = function.invoke(&lambda_event(
        &org.stream.arn,
        &from_sequence(&org.records, &resume),
    ));
    assert_eq!(retry.response(), &json!({"batchItemFailures": []}));
    assert_eq!(function.last_emf()["RecordsAlreadyAlerted"], 4);
    let mut all: Vec<Delivered> = first.into_values().collect();
    all.extend(org.topic.drain().await);
    assert_eq!(subjects(&by_group(&all)), expected());
}

#[tokio::test]
async fn a_deadline_that_cuts_the_batch_reports_it_and_the_retry_alerts_each_record_once() {
    let org = organisation(false).await;
    // SNS takes the five alerts (they reach the queue at once) but answers after 5 s, past the
    // 4 s deadline: every alert is cut off at the 0.5 s margin, sent but unconfirmed.
    org.proxy
        .inject("Publish", Fault::DelayAnswer(Duration::from_secs(5)), 5);
    let function = log_alert(&org, &[]);
    let event = lambda_event(&org.stream.arn, &org.records);
    let started = std::time::Instant::now();
    let response = function.invoke_with_deadline(&event, Duration::from_secs(4));
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "answered before the deadline"
    );
    assert_eq!(reported(response.response()), org.records[0].sequence_number);
    let emf = function.last_emf();
    assert_eq!(
        (&emf["RecordsFailed"], &emf["PublishUnconfirmed"]),
        (&json!(8), &json!(5))
    );

    // Lambda delivers the batch again: the alerts that may have gone out are not repeated.
    let retry = function.invoke(&event);
    assert_eq!(retry.response(), &json!({"batchItemFailures": []}));
    assert_eq!(function.last_emf()["RecordsAlreadyAlerted"], 8);
    assert_eq!(subjects(&by_group(&org.topic.drain().await)), expected());
}

/// The sample event (`sam local invoke -e events/log-alert/kinesis-batch.json`): a CONTROL_MESSAGE
/// and four records from three accounts' account-level subscription policies.
#[tokio::test]
async fn the_sample_kinesis_event_is_one_alert_per_account_and_log_group() {
    let moto = Moto::start();
    let topic = TopicWithQueue::create(&moto.sdk_config().await, "alerts", false).await;
    let function = topic.spawn_publisher(
        &moto,
        "log-alert",
        &[("ACCOUNT_NAMES", ACCOUNT_NAMES), ("MESSAGE_FORMAT", "text")],
    );
    let response = function.invoke(&event_file("log-alert/kinesis-batch.json"));
    assert_eq!(response.response(), &json!({"batchItemFailures": []}));
    let alerts = by_group(&topic.drain().await);
    let expected: BTreeMap<(String, String), String> = [
        (
            PAYMENTS,
            "/ecs/payments-api",
            "[CRITICAL] payments-prod: 3 events in /ecs/payments-api",
        ),
        (
            SEARCH,
            "/ecs/search",
            "[ERROR] search-prod: 1 event in /ecs/search",
        ),
        (
            LEGACY,
            "/ecs/batch-jobs",
            "[ERROR] 777788889999: 1 event in /ecs/batch-jobs",
        ),
    ]
    .into_iter()
    .map(|(a, g, s)| ((a.to_string(), g.to_string()), s.to_string()))
    .collect();
    assert_eq!(subjects(&alerts), expected);
    let emf = function.last_emf();
    assert_eq!(
        (&emf["RecordsReceived"], &emf["ControlMessages"]),
        (&json!(5), &json!(1))
    );
}
