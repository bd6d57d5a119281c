//! Issue 20 §2 and §5, through the Runtime API on moto (DynamoDB, SNS → SQS): log text cannot
//! steer suppression, and a publish that may have been delivered is never sent again by
//! Lambda's retries, even when the state table cannot record it.

use lookout_tests::Function;
use lookout_tests::dynamodb::create_state_table;
use lookout_tests::events::payments_batch;
use lookout_tests::fault_proxy::{Fault, FaultProxy};
use lookout_tests::moto::{Moto, TopicWithQueue};
use lookout_tests::workspace::{binary, event_file};
use serde_json::Value;
use std::time::Duration;

const TABLE: &str = "lookout-state";

struct Setup {
    moto: Moto,
    proxy: FaultProxy,
    topic: TopicWithQueue,
}

async fn setup() -> Setup {
    let moto = Moto::start();
    let proxy = FaultProxy::start(&moto.endpoint);
    let config = moto.sdk_config().await;
    create_state_table(&config, TABLE).await;
    let topic = TopicWithQueue::create(&config, "alerts", false).await;
    Setup { moto, proxy, topic }
}

/// log-alert with the state table (the template's default), through the fault proxy.
fn log_alert(s: &Setup, extra: &[(&str, &str)]) -> Function {
    let mut env = s.moto.function_env();
    env.retain(|(k, _)| k != "AWS_ENDPOINT_URL");
    env.push(("AWS_ENDPOINT_URL".into(), s.proxy.endpoint.clone()));
    env.push(("ALERT_TOPIC_ARN".into(), s.topic.topic_arn.clone()));
    env.push(("STATE_TABLE".into(), TABLE.into()));
    env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    Function::spawn(&binary("log-alert"), &env)
}

/// The alert document (the JSON message format, the default) of an SQS-delivered SNS body.
fn alert_document(body: &str) -> Value {
    let envelope: Value = serde_json::from_str(body).expect("an SNS envelope");
    serde_json::from_str(envelope["Message"].as_str().expect("a Message")).expect("a JSON alert")
}

/// Sends `first`, then `second`, and returns every message delivered, in order.
async fn two_batches(first: &[&str], second: &[&str]) -> Vec<String> {
    let s = setup().await;
    let f = log_alert(&s, &[]);
    for (minute, lines) in [(0, first), (1, second)] {
        let outcome = f.invoke(&payments_batch(minute, lines));
        assert!(
            matches!(outcome, lookout_tests::Outcome::Response(_)),
            "{outcome:?}"
        );
    }
    s.topic.drain().await.into_iter().map(|d| d.body).collect()
}

#[tokio::test]
async fn user_text_at_info_cannot_hide_a_real_fatal() {
    let delivered = two_batches(
        &["INFO search query was: 'fatal panic' (user 77)"],
        // The user searches again: before, the INFO line rated CRITICAL, led the batch and
        // keyed its suppression, so the FATAL behind it was skipped as a repeat.
        &[
            "INFO search query was: 'fatal panic' (user 78)",
            "FATAL payments-db primary unreachable, failing over",
        ],
    )
    .await;
    assert_eq!(
        delivered.len(),
        1,
        "the INFO line alerts on nothing: {delivered:?}"
    );
    assert_eq!(
        alert_document(&delivered[0])["lines"][0]["message"],
        "FATAL payments-db primary unreachable, failing over"
    );
}

#[tokio::test]
async fn user_text_in_a_json_info_line_cannot_hide_a_real_fatal() {
    let delivered = two_batches(
        &[r#"{"level":"info","msg":"user bio: \"fatal\" error \"panic\""}"#],
        &[
            r#"{"level":"info","msg":"user bio: \"fatal\" error \"panic\""}"#,
            r#"{"level":"fatal","msg":"payments-db primary unreachable, failing over"}"#,
        ],
    )
    .await;
    assert_eq!(delivered.len(), 1, "{delivered:?}");
    assert!(delivered[0].contains("payments-db primary unreachable"));
}

#[tokio::test]
async fn one_error_line_cannot_stand_for_another() {
    // Both ERROR: suppression decides per line shape, not per batch.
    let delivered = two_batches(
        &["ERROR invalid coupon code 'SPRING-77' for user 4411"],
        &[
            "ERROR invalid coupon code 'SPRING-77' for user 9001",
            "ERROR database connection pool exhausted",
        ],
    )
    .await;
    assert_eq!(delivered.len(), 2, "{delivered:?}");
    let second = alert_document(&delivered[1]);
    assert_eq!(
        second["lines"][0]["message"], "ERROR database connection pool exhausted",
        "the new line leads: {second}"
    );
    // The known line is a count, not shown again.
    assert_eq!(second["lines"].as_array().map(Vec::len), Some(1), "{second}");
    assert_eq!(second["known"], serde_json::json!({"lines": 1, "events": 1}));
}

#[tokio::test]
async fn a_batch_of_known_lines_only_is_suppressed() {
    let delivered = two_batches(
        &[
            "ERROR database connection pool exhausted",
            "ERROR invalid coupon code 'SPRING-77' for user 4411",
        ],
        &[
            "ERROR invalid coupon code 'SPRING-77' for user 9001",
            "ERROR database connection pool exhausted",
        ],
    )
    .await;
    assert_eq!(delivered.len(), 1, "{delivered:?}");
}

/// DynamoDB slower than the state budget and SNS answering after the deadline: the publish may
/// have been delivered and nothing could record it. Reporting a failure would have Lambda's two
/// retries deliver it twice more; the function reports it done instead, loudly.
#[tokio::test]
async fn an_unconfirmed_publish_the_table_could_not_record_is_not_retried() {
    let s = setup().await;
    s.proxy
        .inject("UpdateItem", Fault::Delay(Duration::from_secs(20)), usize::MAX);
    s.proxy
        .inject("Publish", Fault::DelayAnswer(Duration::from_secs(8)), usize::MAX);
    let f = log_alert(
        &s,
        &[
            ("DEADLINE_MARGIN_MS", "500"),
            ("AWS_ATTEMPT_TIMEOUT_MS", "120000"),
            ("AWS_OPERATION_TIMEOUT_MS", "300000"),
        ],
    );
    let outcome = f.invoke_with_deadline(&event_file("log-alert/plain-errors.json"), Duration::from_secs(6));
    let response = outcome.response();
    assert_eq!(response["status"], "published", "{response}");
    assert_eq!(response["messageId"], "unconfirmed");
    assert_eq!(s.proxy.seen("Publish"), 1);
    assert_eq!(s.topic.drain().await.len(), 1, "delivered once");
    let emf = f.last_emf();
    assert_eq!(emf["PublishUnconfirmed"], 1, "{emf}");
    assert!(emf["StateStoreProblems"].as_u64().unwrap_or(0) >= 1, "{emf}");
}
