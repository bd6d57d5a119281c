//! Issue 13 "Done when", through the Runtime API on moto (DynamoDB, SNS → SQS): the state
//! store wired into log-alert, scan-alert and ecr-rescan. Retries are the same payload invoked
//! again, as Lambda's async retries and redeliveries are; SNS and DynamoDB faults come from the
//! fault proxy; races go through `SerialProxy` (moto's conditional writes are not atomic).

use aws_sdk_dynamodb::types::AttributeValue;
use lookout_tests::dynamodb::{SerialProxy, create_state_table};
use lookout_tests::ecr::{create_repository, put_image};
use lookout_tests::events::payments_batch;
use lookout_tests::fault_proxy::{Fault, FaultProxy};
use lookout_tests::moto::{Moto, TopicWithQueue};
use lookout_tests::workspace::{binary, event_file};
use lookout_tests::{Function, Outcome};
use serde_json::{Value, json};
use std::time::Duration;

const TABLE: &str = "lookout-state";

struct Setup {
    moto: Moto,
    proxy: FaultProxy,
    topic: TopicWithQueue,
    config: aws_config::SdkConfig,
}

async fn setup() -> Setup {
    let moto = Moto::start();
    let proxy = FaultProxy::start(&moto.endpoint);
    let config = moto.sdk_config().await;
    create_state_table(&config, TABLE).await;
    let topic = TopicWithQueue::create(&config, "alerts", false).await;
    Setup {
        moto,
        proxy,
        topic,
        config,
    }
}

/// `name` talking to moto through `endpoint`, with the state table.
fn function_via(s: &Setup, endpoint: &str, name: &str, extra: &[(&str, &str)]) -> Function {
    let mut env = s.moto.function_env();
    env.retain(|(k, _)| k != "AWS_ENDPOINT_URL");
    env.push(("AWS_ENDPOINT_URL".into(), endpoint.to_string()));
    env.push(("ALERT_TOPIC_ARN".into(), s.topic.topic_arn.clone()));
    env.push(("STATE_TABLE".into(), TABLE.into()));
    env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    Function::spawn(&binary(name), &env)
}

fn function(s: &Setup, name: &str, extra: &[(&str, &str)]) -> Function {
    function_via(s, &s.proxy.endpoint.clone(), name, extra)
}

/// The sum of one EMF metric over every invocation so far.
fn emf_total(f: &Function, metric: &str) -> u64 {
    f.output()
        .iter()
        .filter(|l| l.contains("\"_aws\""))
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter_map(|v| v[metric].as_u64())
        .sum()
}

/// Ends every suppression window in the table, as time passing would.
async fn end_windows(s: &Setup) {
    let db = aws_sdk_dynamodb::Client::new(&s.config);
    let items = db
        .scan()
        .table_name(TABLE)
        .send()
        .await
        .unwrap()
        .items
        .unwrap_or_default();
    let mut ended = 0;
    for item in items {
        let Some(AttributeValue::S(pk)) = item.get("pk") else {
            continue;
        };
        if !pk.starts_with("supp#") {
            continue;
        }
        db.update_item()
            .table_name(TABLE)
            .key("pk", AttributeValue::S(pk.clone()))
            .update_expression("SET windowEnd = :past")
            .expression_attribute_values(":past", AttributeValue::N("1".into()))
            .send()
            .await
            .unwrap();
        ended += 1;
    }
    assert!(ended > 0, "no suppression window in the table");
}

#[tokio::test]
async fn a_publish_delivered_after_the_deadline_is_not_repeated_by_the_retries() {
    let s = setup().await;
    // SNS takes the first publish (it reaches the queue) but answers after the deadline.
    s.proxy
        .inject("Publish", Fault::DelayAnswer(Duration::from_secs(8)), 1);
    let f = function(
        &s,
        "log-alert",
        &[
            ("DEADLINE_MARGIN_MS", "500"),
            ("AWS_ATTEMPT_TIMEOUT_MS", "120000"),
            ("AWS_OPERATION_TIMEOUT_MS", "300000"),
        ],
    );
    let event = event_file("log-alert/plain-errors.json");
    let first = f.invoke_with_deadline(&event, Duration::from_secs(4));
    assert_eq!(first.error().0, "Lookout.DeadlineExceeded");
    for _ in 0..2 {
        let retry = f.invoke(&event);
        assert_eq!(retry.response()["status"], "skipped", "{retry:?}");
        assert_eq!(
            retry.response()["reason"],
            "sent by an earlier attempt (unconfirmed); not repeated"
        );
    }
    assert_eq!(s.proxy.seen("Publish"), 1, "the retries did not publish");
    assert_eq!(s.topic.drain().await.len(), 1, "exactly one delivered message");
    assert_eq!(emf_total(&f, "PublishUnconfirmed"), 1);
    assert_eq!(emf_total(&f, "DuplicatesSkipped"), 2);
}

#[tokio::test]
async fn a_retry_after_a_confirmed_publish_publishes_nothing() {
    let s = setup().await;
    let f = function(&s, "log-alert", &[]);
    let event = event_file("log-alert/plain-errors.json");
    assert_eq!(f.invoke(&event).response()["status"], "published");
    // The README's cost: claim, one window per distinct line (three here), decision, completion.
    assert_eq!(s.proxy.seen("UpdateItem"), 6, "writes per published alert");
    let retry = f.invoke(&event);
    assert_eq!(retry.response()["reason"], "already delivered");
    assert_eq!(s.proxy.seen("UpdateItem"), 7, "one refused claim per duplicate");
    assert_eq!(s.proxy.seen("GetItem"), 0);
    assert_eq!(s.topic.drain().await.len(), 1);
}

#[tokio::test]
async fn repeats_inside_the_window_are_counted_and_reported_by_the_next_alert() {
    let s = setup().await;
    let f = function(&s, "log-alert", &[]);
    let statuses: Vec<Value> = (0..5)
        .map(|minute| {
            let line = format!("ERROR payment 4{minute}17 failed: gateway timeout after 30{minute} ms");
            f.invoke(&payments_batch(minute, &[&line])).response()["status"].clone()
        })
        .collect();
    assert_eq!(
        statuses,
        ["published", "skipped", "skipped", "skipped", "skipped"]
    );
    assert_eq!(s.topic.drain().await.len(), 1, "one message for five batches");
    assert_eq!(emf_total(&f, "AlertsSuppressed"), 4);
    // The README's cost: 4 writes for the alert, 4 per suppressed repeat (claim, two window
    // writes, completion).
    assert_eq!(s.proxy.seen("UpdateItem"), 4 + 4 * 4);

    end_windows(&s).await;
    let after = f.invoke(&payments_batch(
        30,
        &["ERROR payment 999 failed: gateway timeout after 1 ms"],
    ));
    assert_eq!(after.response()["status"], "published");
    let delivered = s.topic.drain().await;
    assert_eq!(delivered.len(), 1);
    let doc = delivered[0].message_json();
    assert_eq!(doc["suppressed"]["count"], 4, "{doc}");
    assert!(
        doc["suppressed"]["since"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z')),
        "{doc}"
    );
}

#[tokio::test]
async fn the_suppressed_count_is_a_line_of_the_text_alert() {
    let s = setup().await;
    let f = function(&s, "log-alert", &[("MESSAGE_FORMAT", "text")]);
    for minute in 0..3 {
        f.invoke(&payments_batch(minute, &["ERROR cache miss storm"]))
            .response();
    }
    end_windows(&s).await;
    f.invoke(&payments_batch(40, &["ERROR cache miss storm"]))
        .response();
    let delivered = s.topic.drain().await;
    assert_eq!(delivered.len(), 2);
    let text = delivered[1].message();
    assert!(
        text.contains("\nSuppressed:    2 similar alerts suppressed since 20"),
        "{text}"
    );
    assert!(!delivered[0].message().contains("Suppressed:"));
}

#[tokio::test]
async fn a_more_severe_error_inside_the_window_is_delivered() {
    let s = setup().await;
    let f = function(&s, "log-alert", &[]);
    assert_eq!(
        f.invoke(&payments_batch(0, &["ERROR db connection refused"]))
            .response()["status"],
        "published"
    );
    assert_eq!(
        f.invoke(&payments_batch(1, &["ERROR db connection refused"]))
            .response()["status"],
        "skipped"
    );
    let worse = f.invoke(&payments_batch(
        2,
        &[
            "ERROR db connection refused",
            "FATAL out of memory: killing process 7",
        ],
    ));
    assert_eq!(worse.response()["status"], "published");
    let delivered = s.topic.drain().await;
    assert_eq!(delivered.len(), 2);
    assert!(
        delivered[1]
            .subject()
            .is_some_and(|t| t.starts_with("[CRITICAL]")),
        "{:?}",
        delivered[1].subject()
    );
}

async fn every_alert_is_delivered_while_dynamodb_fails(fault: Fault) {
    let s = setup().await;
    s.proxy.inject("UpdateItem", fault.clone(), usize::MAX);
    s.proxy.inject("GetItem", fault, usize::MAX);
    let f = function(&s, "log-alert", &[]);
    let same = payments_batch(0, &["ERROR secret-free line: queue full"]);
    let outcomes: Vec<Value> = [
        same.clone(),
        same,
        payments_batch(1, &["ERROR secret-free line: queue full"]),
    ]
    .iter()
    .map(|e| f.invoke(e).response()["status"].clone())
    .collect();
    assert_eq!(outcomes, ["published", "published", "published"]);
    assert_eq!(s.topic.drain().await.len(), 3, "fail open: at-least-once");
    assert!(s.proxy.seen("UpdateItem") >= 3, "the store was asked");
    assert!(emf_total(&f, "StateStoreProblems") >= 3);
    let warnings: Vec<String> = f
        .output()
        .into_iter()
        .filter(|l| l.contains("state store problem"))
        .collect();
    assert!(!warnings.is_empty());
    assert!(
        warnings.iter().all(|w| !w.contains("queue full")),
        "never the payload: {warnings:?}"
    );
}

#[tokio::test]
async fn every_alert_is_delivered_while_dynamodb_throttles() {
    every_alert_is_delivered_while_dynamodb_fails(Fault::Throttle).await;
}

#[tokio::test]
async fn every_alert_is_delivered_while_dynamodb_answers_5xx() {
    every_alert_is_delivered_while_dynamodb_fails(Fault::Status(503)).await;
}

#[tokio::test]
async fn two_concurrent_invocations_of_one_event_publish_once() {
    let s = setup().await;
    let serial = SerialProxy::start(&s.moto.endpoint);
    let a = function_via(&s, &serial.endpoint, "log-alert", &[]);
    let b = function_via(&s, &serial.endpoint, "log-alert", &[]);
    let event = event_file("log-alert/plain-errors.json").to_string();
    let (id_a, id_b) = (
        a.api.enqueue(event.as_bytes(), Duration::from_secs(30)),
        b.api.enqueue(event.as_bytes(), Duration::from_secs(30)),
    );
    let outcomes: Vec<Outcome> = [(&a, id_a), (&b, id_b)]
        .into_iter()
        .map(|(f, id)| f.api.wait(&id, Duration::from_secs(60)).expect("answer").0)
        .collect();
    let published = outcomes
        .iter()
        .filter(|o| matches!(o, Outcome::Response(r) if r["status"] == "published"))
        .count();
    assert_eq!(published, 1, "{outcomes:?}");
    let other = outcomes
        .iter()
        .find(|o| !matches!(o, Outcome::Response(r) if r["status"] == "published"))
        .expect("the other one");
    match other {
        Outcome::Error { error_type, .. } => assert_eq!(error_type, "Lookout.AlreadyInProgress"),
        Outcome::Response(r) => assert_eq!(r["reason"], "already delivered"),
    }
    assert_eq!(s.topic.drain().await.len(), 1);
}

#[tokio::test]
async fn without_a_state_table_a_retry_publishes_again() {
    let s = setup().await;
    let mut env = s.moto.function_env();
    env.push(("ALERT_TOPIC_ARN".into(), s.topic.topic_arn.clone()));
    let f = Function::spawn(&binary("log-alert"), &env);
    let event = event_file("log-alert/plain-errors.json");
    for _ in 0..2 {
        assert_eq!(f.invoke(&event).response()["status"], "published");
    }
    assert_eq!(s.topic.drain().await.len(), 2, "at-least-once, as documented");
    assert_eq!(s.proxy.seen("UpdateItem"), 0);
}

/// Two images in one payload: the second image's publish fails, so the invocation fails; the
/// retry publishes only that one.
#[tokio::test]
async fn scan_alert_retry_delivers_only_the_missing_image() {
    let s = setup().await;
    let first = event_file("scan-alert/inspector2-finding.json");
    let digest = "36c7b282abd0186e01419f2e58743e1bf635808231049bbc9d77e59e3a8e4914";
    let other = "ab".repeat(32);
    let second: Value = serde_json::from_str(&first.to_string().replace(digest, &other).replace(
        "42c3e2fd-6a6c-4b2a-9d9f-2f1e0a9b8c7d",
        "52c3e2fd-6a6c-4b2a-9d9f-2f1e0a9b8c7e",
    ))
    .unwrap();
    let payload = json!([first, second]);
    s.proxy
        .inject_when("Publish", Some(other.as_str()), Fault::Status(500), 1);
    let f = function(&s, "scan-alert", &[("AWS_MAX_ATTEMPTS", "1")]);
    assert_eq!(f.invoke(&payload).error().0, "Lookout.PublishFailed");
    let retry = f.invoke(&payload);
    let outcomes: Vec<&Value> = retry.response()["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| &r["outcome"])
        .collect();
    // The delivered image's notes (issue 22 §3) already hold its finding: nothing new to send.
    assert_eq!(outcomes, ["nothing new", "published"]);
    let delivered = s.topic.drain().await;
    assert_eq!(delivered.len(), 2, "one message per image");
    assert!(delivered[0].message().contains(digest));
    assert!(delivered[1].message().contains(&other));
}

#[tokio::test]
async fn ecr_rescan_publishes_a_run_summary_once_per_event() {
    let s = setup().await;
    let ecr = aws_sdk_ecr::Client::new(&s.config);
    create_repository(&ecr, "web-app").await;
    put_image(&ecr, "web-app", 500, Some("v1")).await;
    let f = function(&s, "ecr-rescan", &[]);
    let scheduled = event_file("ecr-rescan/scheduled.json");
    f.invoke(&scheduled).response();
    assert_eq!(s.proxy.seen("UpdateItem"), 2, "a summary: claim and completion");
    f.invoke(&scheduled).response();
    assert_eq!(s.topic.drain().await.len(), 1, "the retry did not publish again");
    // Manual runs carry no event id: each one reports.
    f.invoke(&json!({})).response();
    f.invoke(&json!({})).response();
    assert_eq!(s.topic.drain().await.len(), 2);
}

/// The function's log lines that mention the state store, parsed (JSON: `AWS_LAMBDA_LOG_FORMAT`).
fn state_store_lines(f: &Function) -> Vec<Value> {
    f.output()
        .iter()
        .filter(|l| l.contains("state store problem"))
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

/// Issue 20 §4: a broken table used to be a WARN per invocation and a metric nothing watched.
/// Still failing open, the first problem of the container is now one ERROR saying what is
/// wrong; the rest stay warnings.
#[tokio::test]
async fn a_table_with_the_wrong_key_is_one_error_line_then_warnings_and_every_alert_goes_out() {
    let s = setup().await;
    lookout_tests::dynamodb::create_table_keyed_by(&s.config, "keyed-by-id", "id").await;
    let f = function(&s, "log-alert", &[("STATE_TABLE", "keyed-by-id")]);
    for minute in 0..3 {
        let outcome = f.invoke(&payments_batch(minute, &["ERROR ledger 7731 out of balance"]));
        assert_eq!(outcome.response()["status"], "published", "fail open");
    }
    assert_eq!(s.topic.drain().await.len(), 3);
    let lines = state_store_lines(&f);
    let errors: Vec<&Value> = lines.iter().filter(|l| l["level"] == "ERROR").collect();
    assert_eq!(errors.len(), 1, "one ERROR per container: {lines:?}");
    let message = errors[0]["fields"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("the table's key schema is not `pk` (S)"),
        "{message}"
    );
    assert_eq!(errors[0]["fields"]["kind"], "WrongKeySchema");
    let warnings = lines.iter().filter(|l| l["level"] == "WARN").count();
    assert!(warnings >= 2, "later problems are warnings: {lines:?}");
    assert!(
        lines.iter().all(|l| !l.to_string().contains("ledger")),
        "never the payload: {lines:?}"
    );
    assert!(emf_total(&f, "StateStoreProblems") >= 3);
}

#[tokio::test]
async fn a_missing_table_is_named_in_the_error_line() {
    let s = setup().await;
    let f = function(&s, "log-alert", &[("STATE_TABLE", "no-such-table")]);
    assert_eq!(
        f.invoke(&payments_batch(0, &["ERROR ledger out of balance"]))
            .response()["status"],
        "published"
    );
    let lines = state_store_lines(&f);
    let errors: Vec<&Value> = lines.iter().filter(|l| l["level"] == "ERROR").collect();
    assert_eq!(errors.len(), 1, "{lines:?}");
    let message = errors[0]["fields"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("the table does not exist"), "{message}");
}

/// What can be known at init is refused there: a blank or spaced name (before: read as "no
/// table", silently), an ARN in another region or partition (before: accepted, then every
/// call failed open).
#[tokio::test]
async fn a_blank_spaced_or_foreign_state_table_is_refused_at_init() {
    let s = setup().await;
    for (value, said) in [
        ("", "blank"),
        ("   ", "blank"),
        ("lookout-state ", "spaces"),
        (
            "arn:aws:dynamodb:eu-west-1:123456789012:table/lookout-state",
            "another region",
        ),
        (
            "arn:aws-cn:dynamodb:us-east-1:123456789012:table/lookout-state",
            "partition",
        ),
    ] {
        for name in ["log-alert", "task-alert"] {
            let mut f = function(&s, name, &[("STATE_TABLE", value)]);
            let status = f
                .wait_exit(Duration::from_secs(20))
                .unwrap_or_else(|| panic!("{name} started with STATE_TABLE={value:?}"));
            assert!(!status.success(), "{name} {value:?}");
            let output = f.output().join("\n");
            assert!(
                output.contains("STATE_TABLE") && output.contains(said),
                "{name} {value:?}: {output}"
            );
        }
    }
}
