//! scan-alert end to end: the binary through the Lambda Runtime API; moto's ECR answers
//! DescribeImageScanFindings after a real StartImageScan, and the alert is read from SQS. With
//! the state table in moto's DynamoDB, rescans alert on what is new (issue 22 §3).

use lookout_tests::Function;
use lookout_tests::dynamodb::create_state_table;
use lookout_tests::ecr::{create_repository, put_image, seed_scan_findings};
use lookout_tests::moto::{Moto, TopicWithQueue};
use lookout_tests::workspace::{binary, event_file};
use serde_json::{Value, json};

struct Setup {
    moto: Moto,
    topic: TopicWithQueue,
    digest: String,
}

/// A scanned image in moto's ECR; moto reports one HIGH finding, CVE-9999-9999.
async fn scanned_image() -> Setup {
    let moto = Moto::start();
    let config = moto.sdk_config().await;
    let ecr = aws_sdk_ecr::Client::new(&config);
    let topic = TopicWithQueue::create(&config, "scans", false).await;
    create_repository(&ecr, "web-app").await;
    let digest = push_and_scan(&ecr, 42).await;
    Setup { moto, topic, digest }
}

/// Pushes image `seed` to web-app under v1.4.2 (moving the tag) and starts its scan.
async fn push_and_scan(ecr: &aws_sdk_ecr::Client, seed: u64) -> String {
    let digest = put_image(ecr, "web-app", seed, Some("v1.4.2")).await;
    ecr.start_image_scan()
        .repository_name("web-app")
        .image_id(
            aws_sdk_ecr::types::ImageIdentifier::builder()
                .image_digest(&digest)
                .build(),
        )
        .send()
        .await
        .unwrap();
    digest
}

fn scan_event(s: &Setup) -> Value {
    let mut event = event_file("scan-alert/ecr-scan-complete.json");
    event["detail"]["image-digest"] = json!(s.digest);
    event["detail"]["finding-severity-counts"] = json!({"HIGH": 1});
    event
}

fn scan_alert(s: &Setup, extra: &[(&str, &str)]) -> Function {
    let mut env = s.moto.function_env();
    env.push(("ALERT_TOPIC_ARN".into(), s.topic.topic_arn.clone()));
    env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    Function::spawn(&binary("scan-alert"), &env)
}

#[tokio::test]
async fn a_basic_scan_result_becomes_an_alert_with_its_findings() {
    let s = scanned_image().await;
    let function = scan_alert(&s, &[]);
    let response = function.invoke(&scan_event(&s)).response().clone();
    assert_eq!(response["alerts"], 1);
    let delivered = s.topic.drain().await;
    assert_eq!(delivered.len(), 1);
    assert_eq!(
        delivered[0].subject(),
        Some("[HIGH] CVE-9999-9999 in web-app:v1.4.2")
    );
    let doc = delivered[0].message_json();
    assert_eq!(doc["source"], "lookout.scan-alert");
    assert_eq!(doc["digest"], s.digest);
    assert_eq!(doc["findings"][0]["vulnerabilityId"], "CVE-9999-9999");
    assert_eq!(doc["findings"][0]["package"], "moto_fake");
}

#[tokio::test]
async fn an_ignored_vulnerability_keeps_the_image_below_threshold() {
    let s = scanned_image().await;
    let function = scan_alert(&s, &[("IGNORE_VULNERABILITIES", "CVE-9999-9999")]);
    let response = function.invoke(&scan_event(&s)).response().clone();
    assert_eq!(response["alerts"], 0);
    assert_eq!(response["results"][0]["outcome"], "below threshold");
    assert!(s.topic.drain().await.is_empty());
}

#[tokio::test]
async fn inspector_events_from_the_fixtures() {
    let s = scanned_image().await;
    let function = scan_alert(&s, &[("MESSAGE_FORMAT", "text")]);
    for (file, subject) in [
        (
            "inspector2-scan.json",
            "[CRITICAL] payments:v3.1.0: CRITICAL 2, HIGH 9, MEDIUM 14",
        ),
        (
            "inspector2-finding.json",
            "[HIGH] CVE-2024-0727 in payments:v3.1.0",
        ),
        (
            "ecr-scan-failed.json",
            "[FAILED] ECR scan of batch-jobs:nightly failed",
        ),
    ] {
        function
            .invoke(&event_file(&format!("scan-alert/{file}")))
            .response();
        let delivered = s.topic.drain().await;
        assert_eq!(delivered.len(), 1, "{file}");
        assert_eq!(delivered[0].subject(), Some(subject), "{file}");
        assert_eq!(delivered[0].attribute("source"), Some("lookout.scan-alert"));
    }
    function
        .invoke(&event_file("scan-alert/ecr-scan-complete-clean.json"))
        .response();
    assert!(s.topic.drain().await.is_empty(), "a clean scan is not news");
}

/// 2,500 finding events on one image (issue 12): one alert within SNS's limit, read back from
/// the queue, with the lists cut and counted. Before the fix: `Lookout.MessageTooLarge`.
#[tokio::test]
async fn an_image_with_2500_findings_alerts_once_through_the_runtime_api() {
    let s = scanned_image().await;
    let function = scan_alert(&s, &[]);
    let mut base = event_file("scan-alert/inspector2-finding.json");
    // Smaller events (the description and CVSS are not read): 2,500 stay under Lambda's 6 MB.
    let detail = base["detail"].as_object_mut().unwrap();
    detail.remove("description");
    detail.remove("remediation");
    let events: Vec<Value> = (0..2_500)
        .map(|i| {
            let mut e = base.clone();
            e["id"] = json!(format!("{i:08}-6a6c-4b2a-9d9f-2f1e0a9b8c7d"));
            e["detail"]["packageVulnerabilityDetails"]["vulnerabilityId"] = json!(format!("CVE-2025-{i:05}"));
            e["detail"]["severity"] = json!(if i < 100 { "CRITICAL" } else { "HIGH" });
            e
        })
        .collect();
    let response = function.invoke(&Value::Array(events)).response().clone();
    assert_eq!(response["alerts"], 1, "{response}");
    let delivered = s.topic.drain().await;
    assert_eq!(delivered.len(), 1);
    assert_eq!(
        delivered[0].subject(),
        Some("[CRITICAL] payments:v3.1.0: CRITICAL 100, HIGH 2,400")
    );
    let doc = delivered[0].message_json();
    assert_eq!(doc["eventIds"].as_array().unwrap().len(), 25);
    assert_eq!(doc["omittedEventIds"], 2_475);
    assert_eq!(doc["findings"][0]["vulnerabilityId"], "CVE-2025-00000");
    assert_eq!(doc["findings"][0]["severity"], "CRITICAL");
    assert_eq!(doc["omittedFindings"], 2_475);
}

/// An EventBridge Pipe with an SQS source hands the function an array of SQS messages: the
/// unknown one is answered in `batchItemFailures` (only it is redelivered), the other alerts.
#[tokio::test]
async fn a_pipes_sqs_batch_gets_a_partial_batch_response() {
    let s = scanned_image().await;
    let function = scan_alert(&s, &[("MESSAGE_FORMAT", "text")]);
    let record = |id: &str, event: &Value| {
        json!({"messageId": id, "receiptHandle": "h", "body": event.to_string(),
               "attributes": {}, "messageAttributes": {}, "eventSource": "aws:sqs",
               "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:scan-events", "awsRegion": "us-east-1"})
    };
    let batch = json!([
        record("known", &event_file("scan-alert/inspector2-finding.json")),
        record(
            "unknown",
            &json!({"source": "aws.s3", "detail-type": "Object Created", "detail": {}})
        ),
    ]);
    let response = function.invoke(&batch).response().clone();
    assert_eq!(
        response["batchItemFailures"],
        json!([{"itemIdentifier": "unknown"}])
    );
    assert_eq!(response["failures"][0]["errorType"], "Lookout.UnsupportedEvent");
    assert_eq!(response["alerts"], 1);
    let delivered = s.topic.drain().await;
    assert_eq!(delivered.len(), 1);
    assert_eq!(
        delivered[0].subject(),
        Some("[HIGH] CVE-2024-0727 in payments:v3.1.0")
    );
}

// ---- issue 22 §3: with the state table, rescans alert on what is new ----

const TABLE: &str = "lookout-state";

/// A scanned image and the state table; scan-alert with the table, text messages, and no
/// suppression window: a weekly rescan is far past any window, so the notes alone decide.
async fn with_state_table() -> (Setup, Function) {
    let s = scanned_image().await;
    create_state_table(&s.moto.sdk_config().await, TABLE).await;
    let function = scan_alert(
        &s,
        &[
            ("STATE_TABLE", TABLE),
            ("SUPPRESS_WINDOW_MINUTES", "0"),
            ("MESSAGE_FORMAT", "text"),
        ],
    );
    (s, function)
}

/// The basic scan event for `digest` as event `id`, with these counts (ECR's, as it sends them).
fn rescan(id: &str, digest: &str, counts: Value) -> Value {
    let mut event = event_file("scan-alert/ecr-scan-complete.json");
    event["id"] = json!(id);
    event["detail"]["image-digest"] = json!(digest);
    event["detail"]["finding-severity-counts"] = counts;
    event
}

#[tokio::test]
async fn with_the_state_table_the_same_findings_twice_alert_once() {
    let (s, function) = with_state_table().await;
    let mut responses = Vec::new();
    for week in ["week-1", "week-2"] {
        responses.push(
            function
                .invoke(&rescan(week, &s.digest, json!({"HIGH": 1})))
                .response()
                .clone(),
        );
    }
    assert_eq!(responses[0]["alerts"], 1);
    assert_eq!(responses[1]["alerts"], 0);
    assert_eq!(responses[1]["scansWithoutNews"], 1);
    assert_eq!(responses[1]["results"][0]["outcome"], "nothing new");
    let delivered = s.topic.drain().await;
    assert_eq!(delivered.len(), 1, "one alert for two scans");
    assert_eq!(
        delivered[0].subject(),
        Some("[HIGH] CVE-9999-9999 in web-app:v1.4.2")
    );
}

#[tokio::test]
async fn with_the_state_table_one_new_critical_is_one_alert_naming_it_as_new() {
    let (s, function) = with_state_table().await;
    function
        .invoke(&rescan("week-1", &s.digest, json!({"HIGH": 1})))
        .response();
    assert_eq!(s.topic.drain().await.len(), 1);
    // The CVE database learnt of a CRITICAL in the same image.
    seed_scan_findings(
        &s.moto,
        "web-app",
        &s.digest,
        &[("CVE-9999-9999", "HIGH"), ("CVE-2025-0001", "CRITICAL")],
    );
    let counts = json!({"CRITICAL": 1, "HIGH": 1});
    let response = function
        .invoke(&rescan("week-2", &s.digest, counts.clone()))
        .response()
        .clone();
    assert_eq!(response["alerts"], 1);
    let alert = s.topic.one().await;
    assert_eq!(
        alert.subject(),
        Some("[CRITICAL] CVE-2025-0001 new in web-app:v1.4.2")
    );
    assert!(
        alert.message().contains(
            "1 new since the last scan: CVE-2025-0001 CRITICAL\nKnown:         HIGH 1, alerted before (counted, not listed)\n"
        ),
        "{}",
        alert.message()
    );
    assert!(
        !alert.message().contains("CVE-9999-9999 HIGH moto"),
        "the known one is not listed"
    );
    function.invoke(&rescan("week-3", &s.digest, counts)).response();
    assert!(s.topic.drain().await.is_empty(), "nothing new the week after");
}

#[tokio::test]
async fn with_the_state_table_a_new_digest_under_the_same_tag_alerts_what_it_added_and_fixed() {
    let (s, function) = with_state_table().await;
    function
        .invoke(&rescan("build-1", &s.digest, json!({"HIGH": 1})))
        .response();
    assert_eq!(s.topic.drain().await.len(), 1);
    // The next build under v1.4.2 fixes CVE-9999-9999 and brings a CRITICAL.
    let ecr = aws_sdk_ecr::Client::new(&s.moto.sdk_config().await);
    let next = push_and_scan(&ecr, 43).await;
    assert_ne!(next, s.digest);
    seed_scan_findings(&s.moto, "web-app", &next, &[("CVE-2025-0001", "CRITICAL")]);
    function
        .invoke(&rescan("build-2", &next, json!({"CRITICAL": 1})))
        .response();
    let alert = s.topic.one().await;
    assert_eq!(
        alert.subject(),
        Some("[CRITICAL] CVE-2025-0001 new in this build of web-app:v1.4.2, 1 fixed")
    );
    let expected = format!(
        "1 new in this build: CVE-2025-0001 CRITICAL\n\
         Fixed:         CVE-9999-9999 HIGH (alerted on the previous image, not in this one)\n\
         Previous:      {} (tagged v1.4.2 before this build)\n",
        s.digest
    );
    assert!(alert.message().contains(&expected), "{}", alert.message());
}

#[tokio::test]
async fn with_the_state_table_failed_scans_always_alert() {
    let (s, function) = with_state_table().await;
    for id in ["failed-1", "failed-2"] {
        let mut event = event_file("scan-alert/ecr-scan-failed.json");
        event["id"] = json!(id);
        assert_eq!(function.invoke(&event).response()["alerts"], 1);
    }
    let delivered = s.topic.drain().await;
    assert_eq!(delivered.len(), 2);
    for d in &delivered {
        assert_eq!(
            d.subject(),
            Some("[FAILED] ECR scan of batch-jobs:nightly failed")
        );
    }
}

#[tokio::test]
async fn with_the_state_table_an_inspector_finding_updated_at_the_same_severity_sends_nothing() {
    let (s, function) = with_state_table().await;
    let finding = |id: &str, severity: &str| {
        let mut event = event_file("scan-alert/inspector2-finding.json");
        event["id"] = json!(id);
        event["detail"]["severity"] = json!(severity);
        event["detail"]["updatedAt"] = json!(format!("Nov 26, 2025, {id}"));
        event
    };
    let mut outcomes = Vec::new();
    for (id, severity) in [("created", "HIGH"), ("updated", "HIGH"), ("rerated", "CRITICAL")] {
        let response = function.invoke(&finding(id, severity)).response().clone();
        outcomes.push(response["results"][0]["outcome"].clone());
    }
    assert_eq!(outcomes, ["published", "nothing new", "published"]);
    let subjects: Vec<String> = s
        .topic
        .drain()
        .await
        .iter()
        .filter_map(|d| d.subject().map(String::from))
        .collect();
    assert_eq!(
        subjects,
        [
            "[HIGH] CVE-2024-0727 in payments:v3.1.0",
            "[CRITICAL] CVE-2024-0727 in payments:v3.1.0"
        ]
    );
}
