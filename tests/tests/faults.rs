//! Reliability under faults: a fault-injecting proxy between each function binary and moto.
//! Every test here would fail without the behaviour it names.

use lookout_tests::Function;
use lookout_tests::ecr::{create_repository, put_image, was_scanned};
use lookout_tests::fault_proxy::{Fault, FaultProxy};
use lookout_tests::moto::{Moto, TopicWithQueue};
use lookout_tests::workspace::{binary, event_file};
use serde_json::json;
use std::time::Duration;

struct Setup {
    moto: Moto,
    proxy: FaultProxy,
    topic: TopicWithQueue,
    ecr: aws_sdk_ecr::Client,
}

async fn setup() -> Setup {
    let moto = Moto::start();
    let proxy = FaultProxy::start(&moto.endpoint);
    let config = moto.sdk_config().await;
    let topic = TopicWithQueue::create(&config, "faults", false).await;
    Setup {
        ecr: aws_sdk_ecr::Client::new(&config),
        moto,
        proxy,
        topic,
    }
}

/// The function talks to moto through the proxy.
fn function(s: &Setup, name: &str, extra: &[(&str, &str)]) -> Function {
    let mut env = s.moto.function_env();
    env.retain(|(k, _)| k != "AWS_ENDPOINT_URL");
    env.push(("AWS_ENDPOINT_URL".into(), s.proxy.endpoint.clone()));
    env.push(("ALERT_TOPIC_ARN".into(), s.topic.topic_arn.clone()));
    env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    Function::spawn(&binary(name), &env)
}

#[tokio::test]
async fn log_alert_retries_throttling_and_503_then_publishes_once() {
    let s = setup().await;
    s.proxy.inject("Publish", Fault::Throttle, 1);
    s.proxy.inject("Publish", Fault::Status(503), 1);
    let f = function(&s, "log-alert", &[]);
    assert_eq!(
        f.invoke(&event_file("log-alert/plain-errors.json")).response()["status"],
        "published"
    );
    assert_eq!(
        s.proxy.seen("Publish"),
        3,
        "two refusals, then the publish that went through"
    );
    assert_eq!(s.topic.drain().await.len(), 1, "exactly one message");
}

/// A connection dropped after the request was sent may have delivered it: not retried.
#[tokio::test]
async fn log_alert_never_retries_a_publish_whose_connection_dropped() {
    let s = setup().await;
    s.proxy.inject("Publish", Fault::Reset, 1);
    let f = function(&s, "log-alert", &[]);
    let outcome = f.invoke(&event_file("log-alert/plain-errors.json"));
    let (error_type, message) = outcome.error();
    assert_eq!(error_type, "Lookout.PublishFailed");
    assert!(
        message.contains("may have been delivered, so it was not retried"),
        "{message}"
    );
    assert_eq!(s.proxy.seen("Publish"), 1);
}

/// Issue 12 §3: SNS answers in 5 s, inside the deadline. The SDK's 5 s attempt timeout used to
/// fire, retry, and every timed-out attempt was delivered. Now the one attempt gets the time
/// the deadline allows: one message, and a success.
#[tokio::test]
async fn log_alert_delivers_once_when_sns_answers_late_inside_the_deadline() {
    let s = setup().await;
    s.proxy
        .inject("Publish", Fault::DelayAnswer(Duration::from_secs(5)), usize::MAX);
    let f = function(&s, "log-alert", &[]);
    let outcome = f.invoke_with_deadline(
        &event_file("log-alert/plain-errors.json"),
        Duration::from_secs(15),
    );
    assert_eq!(outcome.response()["status"], "published");
    assert_eq!(s.proxy.seen("Publish"), 1, "one attempt");
    assert_eq!(s.topic.drain().await.len(), 1, "exactly one message");
}

/// Delivered, but the answer comes after the deadline: the invocation reports the error, and
/// no second attempt is started (each would be delivered again), whatever the SDK timeouts say.
#[tokio::test]
async fn log_alert_reports_a_publish_answered_after_the_deadline_and_never_repeats_it() {
    let s = setup().await;
    s.proxy
        .inject("Publish", Fault::DelayAnswer(Duration::from_secs(8)), usize::MAX);
    let f = function(&s, "log-alert", &[("AWS_ATTEMPT_TIMEOUT_MS", "1000")]);
    let outcome = f.invoke_with_deadline(&event_file("log-alert/plain-errors.json"), Duration::from_secs(5));
    let (error_type, _) = outcome.error();
    assert_eq!(error_type, "Lookout.DeadlineExceeded");
    assert_eq!(s.proxy.seen("Publish"), 1, "one attempt");
    assert_eq!(
        s.topic.drain().await.len(),
        1,
        "exactly one message reached the queue"
    );
}

#[tokio::test]
async fn log_alert_fails_the_invocation_when_sns_stays_down() {
    let s = setup().await;
    s.proxy.inject("Publish", Fault::Status(503), usize::MAX);
    let f = function(&s, "log-alert", &[("AWS_MAX_ATTEMPTS", "3")]);
    let outcome = f.invoke(&event_file("log-alert/plain-errors.json"));
    let (error_type, message) = outcome.error();
    assert_eq!(error_type, "Lookout.PublishFailed");
    assert!(
        message.contains("SNS Publish to arn:aws:sns:us-east-1:123456789012:faults failed"),
        "{message}"
    );
    assert_eq!(
        s.proxy.seen("Publish"),
        3,
        "AWS_MAX_ATTEMPTS attempts, then the failure is reported"
    );
    assert!(s.topic.drain().await.is_empty());
}

#[tokio::test]
async fn log_alert_gives_up_on_a_hung_sns_within_its_timeouts() {
    let s = setup().await;
    s.proxy
        .inject("Publish", Fault::Delay(Duration::from_secs(30)), usize::MAX);
    let f = function(
        &s,
        "log-alert",
        &[
            ("AWS_ATTEMPT_TIMEOUT_MS", "300"),
            ("AWS_OPERATION_TIMEOUT_MS", "1000"),
        ],
    );
    let outcome = f.invoke(&event_file("log-alert/plain-errors.json"));
    let (error_type, message) = outcome.error();
    assert_eq!(error_type, "Lookout.PublishFailed");
    assert!(message.contains("timed out"), "{message}");
}

#[tokio::test]
async fn log_alert_stops_waiting_before_the_lambda_deadline() {
    let s = setup().await;
    s.proxy
        .inject("Publish", Fault::Delay(Duration::from_secs(60)), usize::MAX);
    // Generous SDK timeouts: only the deadline guard can end this invocation in time.
    let f = function(
        &s,
        "log-alert",
        &[
            ("AWS_ATTEMPT_TIMEOUT_MS", "120000"),
            ("AWS_OPERATION_TIMEOUT_MS", "300000"),
            ("DEADLINE_MARGIN_MS", "500"),
        ],
    );
    let outcome = f.invoke_with_deadline(&event_file("log-alert/plain-errors.json"), Duration::from_secs(3));
    assert_eq!(outcome.error().0, "Lookout.DeadlineExceeded");
}

async fn registry(s: &Setup, images: u64) -> Vec<String> {
    create_repository(&s.ecr, "web-app").await;
    let mut digests = Vec::new();
    for i in 0..images {
        digests.push(put_image(&s.ecr, "web-app", 500 + i, Some(&format!("v{i}"))).await);
    }
    digests
}

#[tokio::test]
async fn ecr_rescan_retries_throttled_listing_and_scans() {
    let s = setup().await;
    let digests = registry(&s, 4).await;
    s.proxy.inject("DescribeImages", Fault::Throttle, 2);
    s.proxy.inject("StartImageScan", Fault::Throttle, 3);
    let f = function(
        &s,
        "ecr-rescan",
        &[("SCAN_CONCURRENCY", "1"), ("SCAN_RATE_PER_SECOND", "50")],
    );
    let summary = f.invoke(&json!({})).response().clone();
    assert_eq!(summary["outcomes"], json!({"started": 4}));
    assert_eq!(summary["complete"], true);
    assert_eq!(s.proxy.seen("DescribeImages"), 3);
    assert_eq!(s.proxy.seen("StartImageScan"), 4 + 3);
    for d in &digests {
        assert!(was_scanned(&s.ecr, "web-app", d).await);
    }
}

#[tokio::test]
async fn ecr_rescan_never_retries_the_per_image_quota() {
    let s = setup().await;
    registry(&s, 3).await;
    let f = function(&s, "ecr-rescan", &[]);
    f.invoke(&json!({})).response();
    let before = s.proxy.seen("StartImageScan");
    let summary = f.invoke(&json!({})).response().clone();
    assert_eq!(summary["outcomes"], json!({"alreadyScanned": 3}));
    assert_eq!(
        s.proxy.seen("StartImageScan") - before,
        3,
        "one call per image, no retries"
    );
}

#[tokio::test]
async fn ecr_rescan_survives_deletions_and_a_failing_call_and_says_so() {
    let s = setup().await;
    registry(&s, 3).await;
    create_repository(&s.ecr, "api").await;
    put_image(&s.ecr, "api", 900, Some("v1")).await;
    create_repository(&s.ecr, "jobs").await;
    put_image(&s.ecr, "jobs", 901, Some("v1")).await;
    // web-app's first scan: the image was deleted; api: the repository went away; jobs'
    // listing keeps failing.
    s.proxy.inject_when(
        "StartImageScan",
        Some("\"web-app\""),
        Fault::Error("ImageNotFoundException"),
        1,
    );
    s.proxy.inject_when(
        "StartImageScan",
        Some("\"api\""),
        Fault::Error("RepositoryNotFoundException"),
        1,
    );
    s.proxy
        .inject_when("DescribeImages", Some("\"jobs\""), Fault::Status(500), usize::MAX);
    let f = function(&s, "ecr-rescan", &[("AWS_MAX_ATTEMPTS", "2")]);
    // A repository that could not be listed makes the run an error, after its summary.
    let outcome = f.invoke(&json!({}));
    assert_eq!(outcome.error().0, "Lookout.ImagesNotListed");
    let delivered = s.topic.drain().await;
    let summary = delivered[0].message_json();
    assert_eq!(
        summary["outcomes"],
        json!({"started": 2, "skippedDeletedMidRun": 2})
    );
    assert_eq!(summary["complete"], false, "jobs was never listed");
    let jobs = summary["perRepository"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "jobs")
        .unwrap()
        .clone();
    assert!(
        jobs["error"]
            .as_str()
            .unwrap()
            .starts_with("not listed: DescribeImages"),
        "{jobs}"
    );
    assert_eq!(
        delivered[0].subject(),
        Some("[Lookout] ECR rescan: 2 started, 0 already scanned, 0 failed (partial)")
    );
}

#[tokio::test]
async fn ecr_rescan_returns_a_partial_summary_before_the_deadline() {
    let s = setup().await;
    registry(&s, 12).await;
    s.proxy.inject(
        "StartImageScan",
        Fault::Delay(Duration::from_millis(400)),
        usize::MAX,
    );
    let f = function(
        &s,
        "ecr-rescan",
        &[("SCAN_CONCURRENCY", "1"), ("DEADLINE_MARGIN_MS", "1500")],
    );
    let summary = f
        .invoke_with_deadline(&json!({}), Duration::from_secs(4))
        .response()
        .clone();
    let started = summary["outcomes"]["started"].as_u64().unwrap_or(0);
    let deferred = summary["outcomes"]["deferredDeadline"].as_u64().unwrap_or(0);
    assert!(
        started >= 1 && deferred >= 1 && started + deferred == 12,
        "{}",
        summary["outcomes"]
    );
    assert_eq!(summary["complete"], false);
    assert!(
        summary["notes"][0]
            .as_str()
            .unwrap()
            .contains("left for the next run")
    );
}

#[tokio::test]
async fn scan_alert_retries_a_throttled_publish() {
    let s = setup().await;
    s.proxy.inject("Publish", Fault::Throttle, 2);
    let f = function(&s, "scan-alert", &[]);
    assert_eq!(
        f.invoke(&event_file("scan-alert/inspector2-finding.json"))
            .response()["alerts"],
        1
    );
    assert_eq!(s.proxy.seen("Publish"), 3);
    assert_eq!(s.topic.drain().await.len(), 1);
}

/// Issue 21 §6: a publish SNS refused is counted in scan-alert's `PublishFailures`, as in every
/// function's (scan-alert's error never counted it).
#[tokio::test]
async fn scan_alert_counts_a_failed_publish_in_its_metrics() {
    let s = setup().await;
    s.proxy.inject("Publish", Fault::Status(500), 1);
    let f = function(&s, "scan-alert", &[("AWS_MAX_ATTEMPTS", "1")]);
    let outcome = f.invoke(&event_file("scan-alert/inspector2-finding.json"));
    assert_eq!(outcome.error().0, "Lookout.PublishFailed");
    let emf = f.last_emf();
    assert_eq!(emf["PublishFailures"], 1, "{emf}");
    assert!(s.topic.drain().await.is_empty());
}
