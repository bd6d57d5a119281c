//! scan-alert's decisions on the events/ fixtures, with a fake findings source and an
//! in-memory publisher: thresholds, ignore lists, FAILED scans, grouping, every event type.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failed test

use lookout_shared::aws::ApiError;
use lookout_shared::config::Env;
use lookout_shared::deadline::Deadline;
use lookout_shared::envelope::Incoming;
use lookout_shared::findings::{Finding, VulnSeverity};
use lookout_shared::invocation::{Function, FunctionError, Invocation};
use lookout_shared::member::{MemberError, MemberErrorKind};
use lookout_shared::metrics::MetricsConfig;
use lookout_shared::notification::SnsMessage;
use lookout_shared::publish::{MemoryPublisher, PublishError, Publisher};
use lookout_shared::state::{Clock, Fault, Faults, MemoryStore, StateErrorKind};
use scan_alert::{
    BasicScanFindings, FindingsError, Registry, ScanAlert, ScanAlertConfig, ScanFindingsSource,
};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

/// `invoke` with the payload as the runtime hands it over: any JSON document.
async fn invoke<F, E>(function: &F, payload: Value, ctx: &mut Invocation) -> Result<F::Summary, F::Error>
where
    F: Function<Event = Incoming<E>>,
    E: DeserializeOwned,
{
    lookout_shared::invocation::invoke(function, Incoming::from_document(payload), ctx).await
}

fn fixture(name: &str) -> Value {
    let path = format!("{}/../../events/scan-alert/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

struct FakeFindings {
    result: Result<BasicScanFindings, FindingsError>,
    calls: AtomicUsize,
    /// Where each read was asked for: `default`, or `account region`.
    registries: Mutex<Vec<String>>,
}

impl FakeFindings {
    fn new(result: Result<BasicScanFindings, FindingsError>) -> Self {
        Self {
            result,
            calls: AtomicUsize::new(0),
            registries: Mutex::new(Vec::new()),
        }
    }
}

impl ScanFindingsSource for FakeFindings {
    async fn basic_findings(
        &self,
        registry: Registry<'_>,
        _: &str,
        _: &str,
        _: usize,
        _: Duration,
    ) -> Result<BasicScanFindings, FindingsError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.registries.lock().unwrap().push(match registry {
            Registry::Default => "default".to_string(),
            Registry::Of { account, region } => format!("{account} {region}"),
        });
        self.result.clone()
    }
}

fn finding(id: &str, severity: VulnSeverity) -> Finding {
    Finding {
        vulnerability_id: id.into(),
        severity,
        title: format!("{id} in openssl"),
        package: Some("openssl".into()),
        installed_version: Some("3.0.11".into()),
        fixed_in_version: None,
        fix_available: None,
        exploit_available: None,
        score: Some(9.1),
        repository: "web-app".into(),
        digest: "sha256:x".into(),
        tags: vec![],
    }
}

fn basic_findings() -> BasicScanFindings {
    let mut findings = vec![finding("CVE-2024-0001", VulnSeverity::Critical)];
    findings.extend((2..=4).map(|i| finding(&format!("CVE-2024-000{i}"), VulnSeverity::High)));
    findings.extend((10..17).map(|i| finding(&format!("CVE-2024-00{i}"), VulnSeverity::Medium)));
    BasicScanFindings {
        status: Some("COMPLETE".into()),
        description: None,
        findings,
        complete: true,
    }
}

struct Run {
    response: Value,
    messages: Vec<SnsMessage>,
    reads: usize,
    /// Where each read was asked for ([`FakeFindings::registries`]).
    registries: Vec<String>,
}

async fn run_with(
    env: &[(&str, &str)],
    source: Result<BasicScanFindings, FindingsError>,
    payload: Value,
) -> Run {
    let mut pairs = vec![
        ("ALERT_TOPIC_ARN", "arn:aws:sns:us-east-1:123456789012:alerts"),
        ("MESSAGE_FORMAT", "text"),
    ];
    pairs.extend_from_slice(env);
    let config = ScanAlertConfig::from_env(&Env::from_pairs(pairs)).unwrap();
    let publisher = MemoryPublisher::default();
    let findings = FakeFindings::new(source);
    let alert = ScanAlert::new(config, &findings, &publisher).unwrap();
    let mut ctx = Invocation::new(Deadline::after(Duration::from_secs(30)), "test");
    let summary = invoke(&alert, payload, &mut ctx).await.unwrap();
    let response = serde_json::to_value(summary).unwrap();
    Run {
        response,
        messages: publisher.messages(),
        reads: findings.calls.load(Ordering::SeqCst),
        registries: findings.registries.lock().unwrap().clone(),
    }
}

async fn run(env: &[(&str, &str)], payload: Value) -> Run {
    run_with(env, Ok(basic_findings()), payload).await
}

#[tokio::test]
async fn a_basic_scan_over_threshold_lists_its_worst_findings() {
    let r = run(&[], fixture("ecr-scan-complete.json")).await;
    assert_eq!(r.messages.len(), 1);
    let m = &r.messages[0];
    assert_eq!(
        m.subject,
        "[CRITICAL] web-app:v1.4.2: CRITICAL 1, HIGH 3, MEDIUM 7, LOW 12, INFORMATIONAL 4"
    );
    assert!(
        m.message
            .contains("Threshold:     CRITICAL ≥ 1 or HIGH ≥ 1 (reached: CRITICAL, HIGH)"),
        "{}",
        m.message
    );
    assert!(m.message.contains("Findings, worst first:\n  CVE-2024-0001 CRITICAL openssl 3.0.11 (score 9.1)\n  CVE-2024-0002 HIGH"), "{}", m.message);
    assert!(m.message.contains("https://us-east-1.console.aws.amazon.com/ecr/repositories/private/123456789012/web-app/_/image/sha256%3A7f5b2640"), "{}", m.message);
    let attrs: Vec<(String, String)> = m
        .attributes
        .iter()
        .map(|a| (a.name.to_string(), a.value_string()))
        .collect();
    assert!(
        attrs.contains(&("severity".into(), "CRITICAL".into()))
            && attrs.contains(&("critical".into(), "1".into()))
    );
    assert_eq!(r.reads, 1);
}

#[tokio::test]
async fn clean_scans_and_counts_below_the_threshold_publish_nothing() {
    let clean = run(&[], fixture("ecr-scan-complete-clean.json")).await;
    assert!(clean.messages.is_empty());
    assert_eq!(
        clean.reads, 0,
        "no findings are read for an image below the threshold"
    );
    assert_eq!(clean.response["results"][0]["outcome"], "below threshold");
    let strict = run(
        &[("SEVERITY_THRESHOLDS", "CRITICAL=2,HIGH=5")],
        fixture("ecr-scan-complete.json"),
    )
    .await;
    assert!(strict.messages.is_empty());
}

#[tokio::test]
async fn failed_scans_are_always_reported() {
    let failed = BasicScanFindings {
        status: Some("FAILED".into()),
        description: Some(
            "UnsupportedImageError: The operating system and/or package manager are not supported.".into(),
        ),
        findings: vec![],
        complete: true,
    };
    let r = run_with(
        &[("SEVERITY_THRESHOLDS", "CRITICAL=100")],
        Ok(failed),
        fixture("ecr-scan-failed.json"),
    )
    .await;
    assert_eq!(r.messages.len(), 1);
    assert_eq!(
        r.messages[0].subject,
        "[FAILED] ECR scan of batch-jobs:nightly failed"
    );
    assert!(
        r.messages[0].message.contains("ECR says: UnsupportedImageError"),
        "{}",
        r.messages[0].message
    );
    // Even when the findings cannot be read.
    let broken = ApiError {
        operation: "DescribeImageScanFindings",
        detail: "AccessDeniedException: no".into(),
        not_found: false,
    };
    let r = run_with(&[], Err(broken.into()), fixture("ecr-scan-failed.json")).await;
    assert_eq!(r.messages.len(), 1);
    assert!(
        r.messages[0]
            .message
            .contains("Findings could not be read (DescribeImageScanFindings: AccessDeniedException: no)")
    );
}

/// A scan that has not finished is neither a failure nor a result: nothing is published or
/// read, and the summary says why.
#[tokio::test]
async fn a_scan_in_progress_is_not_reported_as_failed() {
    for status in ["IN_PROGRESS", "PENDING"] {
        for name in ["ecr-scan-failed.json", "ecr-scan-complete.json"] {
            let mut event = fixture(name);
            event["detail"]["scan-status"] = json!(status);
            let r = run(&[], event).await;
            assert!(r.messages.is_empty(), "{status} {name}: {:?}", r.messages);
            assert_eq!(r.reads, 0, "{status} {name}");
            assert_eq!(r.response["alerts"], 0);
            assert_eq!(r.response["failed"], 0);
            assert_eq!(r.response["results"][0]["outcome"], "scan not finished");
        }
        let mut inspector = fixture("inspector2-scan.json");
        inspector["detail"]["scan-status"] = json!(status);
        let r = run(&[], inspector).await;
        assert!(r.messages.is_empty(), "{status}: {:?}", r.messages);
        assert_eq!(r.response["results"][0]["outcome"], "scan not finished");
    }
    // Statuses that end a scan without a result still alert as failed.
    for status in ["FAILED", "UNSUPPORTED_IMAGE", "FINDINGS_UNAVAILABLE"] {
        let mut event = fixture("ecr-scan-failed.json");
        event["detail"]["scan-status"] = json!(status);
        let r = run(&[], event).await;
        assert_eq!(r.messages.len(), 1, "{status}");
        assert!(r.messages[0].subject.starts_with("[FAILED]"), "{status}");
    }
}

#[tokio::test]
async fn ignored_vulnerabilities_are_neither_counted_nor_shown() {
    let r = run(
        &[
            ("SEVERITY_THRESHOLDS", "CRITICAL=1"),
            ("IGNORE_VULNERABILITIES", "cve-2024-0001"),
        ],
        fixture("ecr-scan-complete.json"),
    )
    .await;
    assert!(
        r.messages.is_empty(),
        "the only CRITICAL is accepted: below threshold"
    );
    let r = run(
        &[("IGNORE_VULNERABILITIES", "CVE-2024-0001")],
        fixture("ecr-scan-complete.json"),
    )
    .await;
    let m = &r.messages[0];
    assert_eq!(m.subject, "[HIGH] web-app:v1.4.2: HIGH 3, MEDIUM 7");
    assert!(
        m.message.contains("Ignored:       CVE-2024-0001"),
        "{}",
        m.message
    );
    assert!(!m.message.contains("CVE-2024-0001 CRITICAL"));
}

#[tokio::test]
async fn counts_that_overflow_saturate_and_still_alert() {
    let mut e = fixture("inspector2-scan.json");
    // Two spellings of one severity add up: u64::MAX + 1 must not wrap to 0 (below threshold).
    e["detail"]["finding-severity-counts"] = json!({"CRITICAL": u64::MAX, "critical": 1});
    let r = run(&[], e).await;
    assert_eq!(r.messages.len(), 1);
    assert_eq!(
        r.messages[0].subject,
        "[CRITICAL] payments:v3.1.0: CRITICAL 18,446,744,073,709,551,615"
    );
}

#[tokio::test]
async fn inspector_scan_and_finding_events() {
    let r = run(&[], fixture("inspector2-scan.json")).await;
    assert_eq!(
        r.messages[0].subject,
        "[CRITICAL] payments:v3.1.0: CRITICAL 2, HIGH 9, MEDIUM 14"
    );
    assert!(
        r.messages[0]
            .message
            .contains("inspector/v2/home?region=us-east-1#/findings"),
        "{}",
        r.messages[0].message
    );
    assert_eq!(r.reads, 0, "Inspector events never call ECR");

    let r = run(&[], fixture("inspector2-finding.json")).await;
    let m = &r.messages[0];
    assert_eq!(m.subject, "[HIGH] CVE-2024-0727 in payments:v3.1.0");
    assert!(
        m.message
            .contains("CVE-2024-0727 HIGH openssl 3.0.11 → 0:3.0.13-1~deb12u1 (fix available, score 7.5)"),
        "{}",
        m.message
    );
}

#[tokio::test]
async fn findings_on_one_image_are_grouped_in_one_message() {
    let base = fixture("inspector2-finding.json");
    let mut events = Vec::new();
    for (i, (cve, severity)) in [
        ("CVE-2024-1", "CRITICAL"),
        ("CVE-2024-2", "HIGH"),
        ("CVE-2024-3", "HIGH"),
    ]
    .iter()
    .enumerate()
    {
        let mut e = base.clone();
        e["id"] = json!(format!("event-{i}"));
        e["detail"]["packageVulnerabilityDetails"]["vulnerabilityId"] = json!(cve);
        e["detail"]["severity"] = json!(severity);
        events.push(e);
    }
    let mut other = base.clone();
    other["detail"]["resources"][0]["details"]["awsEcrContainerImage"]["repositoryName"] = json!("ledger");
    events.push(other);
    let mut closed = base.clone();
    closed["detail"]["status"] = json!("CLOSED");
    closed["detail"]["packageVulnerabilityDetails"]["vulnerabilityId"] = json!("CVE-2020-9");
    events.push(closed);
    let r = run(&[], Value::Array(events)).await;
    assert_eq!(r.messages.len(), 2);
    assert_eq!(
        r.messages[0].subject,
        "[CRITICAL] payments:v3.1.0: CRITICAL 1, HIGH 2"
    );
    assert!(
        !r.messages[0].message.contains("CVE-2020-9"),
        "closed findings are not reported"
    );
    assert_eq!(r.messages[1].subject, "[HIGH] CVE-2024-0727 in ledger:v3.1.0");
    assert_eq!(r.response["alerts"], 2);
}

#[tokio::test]
async fn excluded_repositories_are_skipped() {
    let r = run(
        &[("REPOSITORY_EXCLUDE", "web-*")],
        fixture("ecr-scan-complete.json"),
    )
    .await;
    assert!(r.messages.is_empty());
    assert_eq!(r.response["results"][0]["outcome"], "repository excluded");
}

#[tokio::test]
async fn unsupported_events_fail_the_invocation() {
    let config = ScanAlertConfig::from_env(&Env::from_pairs([(
        "ALERT_TOPIC_ARN",
        "arn:aws:sns:us-east-1:123456789012:a",
    )]))
    .unwrap();
    let findings = FakeFindings::new(Ok(BasicScanFindings::default()));
    let alert = ScanAlert::new(config, findings, MemoryPublisher::default()).unwrap();
    let deadline = Deadline::after(Duration::from_secs(5));
    let mut ctx = Invocation::new(deadline, "test");
    let e = invoke(
        &alert,
        json!({"source": "aws.s3", "detail-type": "Object Created"}),
        &mut ctx,
    )
    .await
    .unwrap_err();
    assert_eq!(e.kind(), "UnsupportedEvent");
    assert!(e.to_string().contains("\"aws.s3\""), "{e}");
    let e = invoke(
        &alert,
        json!({"source": "aws.ecr", "detail-type": "ECR Image Scan", "detail": {"scan-status": "COMPLETE"}}),
        &mut ctx,
    )
    .await
    .unwrap_err();
    assert!(e.to_string().contains("malformed ECR Image Scan event"), "{e}");
    assert_eq!(e.kind(), "MalformedEvent");
    let e = invoke(&alert, json!("x"), &mut ctx).await.unwrap_err();
    assert_eq!(e.kind(), "InvalidEvent");
}

// ---- bounded output, batches and retries, dropped input, quoting (issue 12) ----

const SNS_LIMIT: usize = 262_144;

fn config(env: &[(&str, &str)]) -> ScanAlertConfig {
    let mut pairs = vec![("ALERT_TOPIC_ARN", "arn:aws:sns:us-east-1:123456789012:alerts")];
    pairs.extend_from_slice(env);
    ScanAlertConfig::from_env(&Env::from_pairs(pairs)).unwrap()
}

fn no_findings() -> FakeFindings {
    FakeFindings::new(Ok(BasicScanFindings::default()))
}

/// The three bodies a subscriber can receive: text, per-protocol JSON, per-protocol with the
/// chat-app payload for HTTPS.
const FORMATS: [&[(&str, &str)]; 3] = [
    &[("MESSAGE_FORMAT", "per-protocol")],
    &[("MESSAGE_FORMAT", "text")],
    &[("MESSAGE_FORMAT", "per-protocol"), ("CHAT_APP_PAYLOAD", "true")],
];

/// `n` finding events on one image (payments@sha256:36c7...), ids `event-<i>`: every fifth is
/// CRITICAL, the rest HIGH, with distinct CVEs.
fn findings_on_one_image(n: usize) -> Vec<Value> {
    let base = fixture("inspector2-finding.json");
    (0..n)
        .map(|i| {
            let mut e = base.clone();
            e["id"] = json!(format!("event-{i:05}-0a1b2c3d-4e5f-6789-abcd-ef0123456789"));
            e["detail"]["packageVulnerabilityDetails"]["vulnerabilityId"] = json!(format!("CVE-2025-{i:05}"));
            e["detail"]["severity"] = json!(if i % 5 == 0 { "CRITICAL" } else { "HIGH" });
            e
        })
        .collect()
}

/// Every string a subscriber can read from a message: the raw body, and each decoded body's
/// strings (per-protocol bodies are JSON inside JSON).
fn readable(m: &SnsMessage) -> Vec<String> {
    fn strings(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::String(s) => {
                out.push(s.clone());
                if let Ok(inner @ (Value::Object(_) | Value::Array(_))) = serde_json::from_str::<Value>(s) {
                    strings(&inner, out);
                }
            }
            Value::Array(a) => a.iter().for_each(|v| strings(v, out)),
            Value::Object(o) => o.values().for_each(|v| strings(v, out)),
            _ => {}
        }
    }
    let mut out = vec![m.subject.clone(), m.message.clone()];
    if m.json_structure {
        strings(&serde_json::from_str(&m.message).unwrap(), &mut out);
    }
    out.extend(m.attributes.iter().map(|a| a.value_string()));
    out
}

#[tokio::test]
async fn an_image_with_2500_findings_is_one_bounded_alert_with_the_worst_first() {
    let events = Value::Array(findings_on_one_image(2_500));
    for env in FORMATS {
        let publisher = MemoryPublisher::default();
        let alert = ScanAlert::new(config(env), no_findings(), &publisher).unwrap();
        let mut ctx = Invocation::new(Deadline::after(Duration::from_secs(60)), "test");
        let summary = invoke(&alert, events.clone(), &mut ctx).await.unwrap();
        assert_eq!(serde_json::to_value(&summary).unwrap()["alerts"], 1, "{env:?}");
        let messages = publisher.messages();
        assert_eq!(messages.len(), 1);
        let m = &messages[0];
        assert!(m.request_bytes() <= SNS_LIMIT, "{env:?}: {}", m.request_bytes());
        assert_eq!(m.subject, "[CRITICAL] payments:v3.1.0: CRITICAL 500, HIGH 2,000");
        let text = if m.json_structure {
            let body: Value = serde_json::from_str(&m.message).unwrap();
            let doc: Value = serde_json::from_str(body["sqs"].as_str().unwrap()).unwrap();
            // 25 = MAX_FINDINGS_SHOWN's default: the lists are cut there, the rest counted.
            assert_eq!(doc["eventIds"].as_array().unwrap().len(), 25);
            assert_eq!(doc["omittedEventIds"], 2_475);
            assert_eq!(doc["findings"].as_array().unwrap().len(), 25);
            assert_eq!(doc["omittedFindings"], 2_475);
            assert_eq!(doc["severityCounts"]["CRITICAL"], 500);
            body["default"].as_str().unwrap().to_string()
        } else {
            m.message.clone()
        };
        assert!(
            text.contains("  ... and 2,475 more (open the console link)"),
            "{text}"
        );
        let listed: Vec<&str> = text.lines().filter(|l| l.starts_with("  CVE-2025-")).collect();
        assert_eq!(listed.len(), 25);
        // Worst first: the 500 CRITICAL ones (every fifth CVE) come before any HIGH.
        assert!(
            listed[0].starts_with("  CVE-2025-00000 CRITICAL"),
            "{}",
            listed[0]
        );
        assert!(
            listed[24].starts_with("  CVE-2025-00120 CRITICAL"),
            "{}",
            listed[24]
        );
    }
}

/// Answers after `delay`, and fails the publishes whose (1-based) number is in `fail`.
struct SlowPublisher {
    delay: Duration,
    fail: Vec<usize>,
    calls: AtomicUsize,
    delivered: Mutex<Vec<SnsMessage>>,
}

impl SlowPublisher {
    fn new(delay: Duration, fail: Vec<usize>) -> Self {
        Self {
            delay,
            fail,
            calls: AtomicUsize::new(0),
            delivered: Mutex::new(Vec::new()),
        }
    }

    fn delivered(&self) -> Vec<SnsMessage> {
        self.delivered.lock().unwrap().clone()
    }
}

impl Publisher for SlowPublisher {
    async fn publish(&self, message: &SnsMessage) -> Result<String, PublishError> {
        let call = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        tokio::time::sleep(self.delay).await;
        if self.fail.contains(&call) {
            return Err(PublishError::Failed {
                topic: "alerts".into(),
                code: Some("InternalError".into()),
                detail: "injected".into(),
            });
        }
        let mut delivered = self.delivered.lock().unwrap();
        delivered.push(message.clone());
        Ok(format!("id-{}", delivered.len()))
    }
}

/// An Inspector2 Scan event (CRITICAL 2: over the default threshold) for image number `i`.
fn image_event(i: usize) -> Value {
    let mut e = fixture("inspector2-scan.json");
    e["id"] = json!(format!("scan-{i}"));
    e["detail"]["image-digest"] = json!(format!("sha256:{i:064x}"));
    e
}

fn digest_of(m: &SnsMessage) -> String {
    let line = m.message.lines().find(|l| l.starts_with("Digest:")).unwrap();
    line["Digest:".len()..].trim().to_string()
}

/// An SQS message carrying `event`, as an event source mapping or a Pipe delivers it.
fn sqs_record(id: &str, event: &Value) -> Value {
    json!({
        "messageId": id,
        "receiptHandle": format!("handle-{id}"),
        "body": event.to_string(),
        "attributes": {"ApproximateReceiveCount": "1"},
        "messageAttributes": {},
        "md5OfBody": "",
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:scan-events",
        "awsRegion": "us-east-1"
    })
}

fn failed_ids(response: &Value) -> Vec<String> {
    response["batchItemFailures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["itemIdentifier"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test(start_paused = true)]
async fn a_10000_image_sqs_batch_is_delivered_once_across_partial_retries() {
    let records: Vec<Value> = (0..10_000)
        .map(|i| sqs_record(&format!("m-{i}"), &image_event(i)))
        .collect();
    let publisher = SlowPublisher::new(Duration::from_millis(20), vec![]);
    let alert = ScanAlert::new(config(&[("MESSAGE_FORMAT", "text")]), no_findings(), &publisher).unwrap();
    let mut pending = records;
    let mut invocations = 0;
    let mut first_batch_failed = 0;
    // As SQS does: redeliver only the messages the response names, until none is left.
    while !pending.is_empty() {
        invocations += 1;
        assert!(invocations <= 10, "no progress");
        let mut ctx = Invocation::new(Deadline::after(Duration::from_secs(60)), "sqs");
        let before = publisher.delivered().len();
        let summary = invoke(&alert, json!({ "Records": pending.clone() }), &mut ctx)
            .await
            .unwrap();
        assert!(
            ctx.deadline.remaining() >= Duration::from_millis(500),
            "returned inside the deadline margin"
        );
        let response = serde_json::to_value(&summary).unwrap();
        let failed = failed_ids(&response);
        let published = publisher.delivered().len() - before;
        assert_eq!(
            published + failed.len(),
            pending.len(),
            "every item is delivered or failed"
        );
        assert!(published > 0);
        if invocations == 1 {
            first_batch_failed = failed.len();
            assert_eq!(response["failed"], failed.len());
            assert_eq!(response["failures"][0]["errorType"], "Lookout.DeadlineExceeded");
            let error = response["failures"][0]["error"].as_str().unwrap();
            assert!(error.starts_with("not attempted"), "{error}");
        }
        pending.retain(|r| failed.iter().any(|id| r["messageId"] == id.as_str()));
    }
    assert!(
        invocations >= 2 && first_batch_failed > 0,
        "the first invocation ran out of time"
    );
    let mut digests: Vec<String> = publisher.delivered().iter().map(digest_of).collect();
    assert_eq!(digests.len(), 10_000, "10,000 alerts for 10,000 images");
    digests.sort();
    digests.dedup();
    assert_eq!(digests.len(), 10_000, "no image alerted twice");
}

#[tokio::test(start_paused = true)]
async fn a_10000_image_array_that_runs_out_of_time_fails_and_says_how_many() {
    let events = Value::Array((0..10_000).map(image_event).collect());
    let publisher = SlowPublisher::new(Duration::from_millis(20), vec![]);
    let alert = ScanAlert::new(config(&[("MESSAGE_FORMAT", "text")]), no_findings(), &publisher).unwrap();
    let mut ctx = Invocation::new(Deadline::after(Duration::from_secs(60)), "array");
    let e = invoke(&alert, events.clone(), &mut ctx).await.unwrap_err();
    assert!(ctx.deadline.remaining() >= Duration::from_millis(500));
    let published = publisher.delivered();
    assert!(!published.is_empty() && published.len() < 10_000);
    assert_eq!(e.kind(), "DeadlineExceeded");
    assert!(
        e.to_string().starts_with(&format!(
            "{} of 10000 items failed, the others were processed; first failure: item {}: not attempted",
            10_000 - published.len(),
            published.len()
        )),
        "{e}"
    );
    // Lambda's retry sends the same array: each image has the same identity as before, the key
    // the state store uses to skip what was delivered.
    let mut ctx = Invocation::new(Deadline::after(Duration::from_secs(60)), "retry");
    let _ = invoke(&alert, events, &mut ctx).await;
    let all = publisher.delivered();
    for (first, again) in published.iter().zip(&all[published.len()..]) {
        assert_eq!(first.identity, again.identity);
        assert!(first.identity.len() < 200, "identities are bounded");
    }
}

#[tokio::test]
async fn a_failed_second_publish_is_retried_alone_in_an_sqs_batch() {
    let records = vec![
        sqs_record("m-1", &image_event(1)),
        sqs_record("m-2", &image_event(2)),
    ];
    let publisher = SlowPublisher::new(Duration::ZERO, vec![2]);
    let alert = ScanAlert::new(config(&[("MESSAGE_FORMAT", "text")]), no_findings(), &publisher).unwrap();
    let mut ctx = Invocation::new(Deadline::after(Duration::from_secs(30)), "1");
    // EventBridge Pipes passes the SQS messages as a bare array.
    let first = invoke(&alert, Value::Array(records.clone()), &mut ctx)
        .await
        .unwrap();
    let response = serde_json::to_value(&first).unwrap();
    assert_eq!(response["batchItemFailures"], json!([{"itemIdentifier": "m-2"}]));
    assert_eq!(response["failures"][0]["errorType"], "Lookout.PublishFailed");
    assert_eq!(response["alerts"], 1);
    let mut ctx = Invocation::new(Deadline::after(Duration::from_secs(30)), "2");
    let retry = invoke(&alert, json!({"Records": [records[1].clone()]}), &mut ctx)
        .await
        .unwrap();
    assert_eq!(
        serde_json::to_value(&retry).unwrap()["batchItemFailures"],
        json!([])
    );
    let digests: Vec<String> = publisher.delivered().iter().map(digest_of).collect();
    assert_eq!(
        digests,
        [format!("sha256:{:064x}", 1), format!("sha256:{:064x}", 2)],
        "2 alerts for 2 images"
    );
}

#[tokio::test]
async fn a_failed_second_publish_in_an_array_fails_the_invocation_precisely() {
    let events = json!([image_event(1), image_event(2)]);
    let publisher = SlowPublisher::new(Duration::ZERO, vec![2]);
    let alert = ScanAlert::new(config(&[("MESSAGE_FORMAT", "text")]), no_findings(), &publisher).unwrap();
    let mut ctx = Invocation::new(Deadline::after(Duration::from_secs(30)), "1");
    let e = invoke(&alert, events.clone(), &mut ctx).await.unwrap_err();
    assert_eq!(e.kind(), "PublishFailed");
    assert!(
        e.to_string().starts_with(
            "1 of 2 items failed, the others were processed; first failure: item 1: SNS Publish"
        ),
        "{e}"
    );
    let mut ctx = Invocation::new(Deadline::after(Duration::from_secs(30)), "2");
    invoke(&alert, events, &mut ctx).await.unwrap();
    let delivered = publisher.delivered();
    assert_eq!(
        delivered.len(),
        3,
        "without the state store the retry repeats image 1..."
    );
    assert_eq!(
        delivered[0].identity, delivered[1].identity,
        "...under the same identity it skips"
    );
    assert_ne!(delivered[1].identity, delivered[2].identity);
}

#[tokio::test]
async fn an_unknown_event_fails_only_its_own_item() {
    let unknown = json!({"source": "aws.s3", "detail-type": "Object Created", "detail": {}});
    // SQS batch: the unknown message alone is reported for redelivery (and, in the end, the DLQ).
    let publisher = MemoryPublisher::default();
    let alert = ScanAlert::new(config(&[("MESSAGE_FORMAT", "text")]), no_findings(), &publisher).unwrap();
    let mut ctx = Invocation::new(Deadline::after(Duration::from_secs(30)), "sqs");
    let records = json!({"Records": [
        sqs_record("a", &image_event(1)),
        sqs_record("b", &unknown),
        sqs_record("c", &image_event(2)),
        {"messageId": "d", "body": "not json", "eventSource": "aws:sqs"}
    ]});
    let summary = invoke(&alert, records, &mut ctx).await.unwrap();
    let response = serde_json::to_value(&summary).unwrap();
    assert_eq!(response["alerts"], 2);
    assert_eq!(publisher.messages().len(), 2);
    assert_eq!(
        response["batchItemFailures"],
        json!([{"itemIdentifier": "b"}, {"itemIdentifier": "d"}])
    );
    assert_eq!(response["failures"][0]["errorType"], "Lookout.UnsupportedEvent");
    assert_eq!(response["failures"][1]["errorType"], "Lookout.MalformedEvent");
    assert!(
        !response["failures"][1]["error"]
            .as_str()
            .unwrap()
            .contains("not json")
    );
    // Plain array: the others are delivered, then the invocation fails naming the item.
    let publisher = MemoryPublisher::default();
    let alert = ScanAlert::new(config(&[("MESSAGE_FORMAT", "text")]), no_findings(), &publisher).unwrap();
    let e = invoke(&alert, json!([image_event(1), unknown, image_event(2)]), &mut ctx)
        .await
        .unwrap_err();
    assert_eq!(publisher.messages().len(), 2);
    assert_eq!(e.kind(), "UnsupportedEvent");
    assert!(
        e.to_string()
            .starts_with("1 of 3 items failed, the others were processed; first failure: item 1: unsupported event (source \"aws.s3\""),
        "{e}"
    );
}

#[tokio::test]
async fn an_sqs_record_without_a_message_id_fails_the_whole_batch() {
    // A partial response could not name it, and the queue would delete it as delivered.
    let publisher = MemoryPublisher::default();
    let alert = ScanAlert::new(config(&[("MESSAGE_FORMAT", "text")]), no_findings(), &publisher).unwrap();
    let mut ctx = Invocation::new(Deadline::after(Duration::from_secs(30)), "sqs");
    let records = json!({"Records": [
        sqs_record("a", &image_event(1)),
        {"body": "not json", "eventSource": "aws:sqs"}
    ]});
    let e = invoke(&alert, records, &mut ctx).await.unwrap_err();
    assert_eq!(e.kind(), "InvalidEvent");
    assert!(publisher.messages().is_empty());
}

#[tokio::test]
async fn findings_with_an_unknown_status_or_severity_fail_naming_the_field() {
    let base = fixture("inspector2-finding.json");
    let mut no_status = base.clone();
    no_status["detail"].as_object_mut().unwrap().remove("status");
    let mut odd_status = base.clone();
    odd_status["detail"]["status"] = json!("WEIRD-hunter2");
    let mut severe = base.clone();
    severe["detail"]["severity"] = json!("SEVERE-hunter2");
    let mut wrong_type = base.clone();
    wrong_type["detail"]["inspectorScore"] = json!("hunter2");
    let mut ecr_severe = fixture("ecr-scan-complete.json");
    ecr_severe["detail"]["finding-severity-counts"] = json!({"SEVERE-hunter2": 3});
    let mut ecr_negative = fixture("ecr-scan-complete.json");
    ecr_negative["detail"]["finding-severity-counts"] = json!({"CRITICAL": -1});
    let cases = [
        (
            no_status,
            "malformed Inspector2 Finding event: missing field `status`",
        ),
        (
            odd_status,
            "malformed Inspector2 Finding event: status is not ACTIVE, SUPPRESSED or CLOSED",
        ),
        (
            severe,
            "malformed Inspector2 Finding event: severity is not a known severity",
        ),
        (
            wrong_type,
            "malformed Inspector2 Finding event: a field has the wrong type or value",
        ),
        (
            ecr_severe,
            "malformed ECR Image Scan event: a finding-severity-counts key is not a known severity",
        ),
        (
            ecr_negative,
            "malformed ECR Image Scan event: a finding-severity-counts value is negative",
        ),
    ];
    for (event, expected) in cases {
        let publisher = MemoryPublisher::default();
        let alert = ScanAlert::new(config(&[]), no_findings(), &publisher).unwrap();
        let mut ctx = Invocation::new(Deadline::after(Duration::from_secs(30)), "t");
        let e = invoke(&alert, event, &mut ctx).await.unwrap_err();
        assert_eq!(e.kind(), "MalformedEvent", "{expected}");
        assert!(e.to_string().starts_with(expected), "{e}");
        assert!(
            !e.to_string().contains("hunter2"),
            "the value is never quoted: {e}"
        );
        assert!(publisher.messages().is_empty());
    }
    // A closed finding is not news, and is reported as what it is.
    let mut closed = base.clone();
    closed["detail"]["status"] = json!("CLOSED");
    let r = run(&[], closed).await;
    assert!(r.messages.is_empty());
    assert_eq!(r.response["results"][0]["outcome"], "no active finding");
}

#[tokio::test]
async fn chat_related_resources_use_the_region_partition() {
    for (region, arn) in [
        (
            "us-east-1",
            "arn:aws:ecr:us-east-1:123456789012:repository/payments",
        ),
        (
            "cn-north-1",
            "arn:aws-cn:ecr:cn-north-1:123456789012:repository/payments",
        ),
        (
            "us-gov-west-1",
            "arn:aws-us-gov:ecr:us-gov-west-1:123456789012:repository/payments",
        ),
    ] {
        let mut event = fixture("inspector2-finding.json");
        event["region"] = json!(region);
        let r = run(
            &[("MESSAGE_FORMAT", "per-protocol"), ("CHAT_APP_PAYLOAD", "true")],
            event,
        )
        .await;
        let body: Value = serde_json::from_str(&r.messages[0].message).unwrap();
        let chat: Value = serde_json::from_str(body["https"].as_str().unwrap()).unwrap();
        assert_eq!(chat["metadata"]["relatedResources"], json!([arn]), "{region}");
    }
}

#[tokio::test]
async fn events_whose_names_break_the_aws_grammar_fail_named() {
    for (pointer, value, problem) in [
        ("/region", "evil.example/#", "region is not an AWS region name"),
        ("/account", "1234", "account is not a 12-digit AWS account id"),
        (
            "/detail/resources/0/details/awsEcrContainerImage/repositoryName",
            "Web`App\n<!channel>",
            "the repository name is not a valid ECR repository name",
        ),
        (
            "/detail/resources/0/details/awsEcrContainerImage/imageHash",
            "sha256:x\n--- CRITICAL",
            "the image digest is not sha256:<64 hex digits>",
        ),
    ] {
        let mut event = fixture("inspector2-finding.json");
        *event.pointer_mut(pointer).unwrap() = json!(value);
        let alert = ScanAlert::new(config(&[]), no_findings(), MemoryPublisher::default()).unwrap();
        let mut ctx = Invocation::new(Deadline::after(Duration::from_secs(30)), "t");
        let e = invoke(&alert, event, &mut ctx).await.unwrap_err();
        assert_eq!(e.kind(), "MalformedEvent");
        assert!(e.to_string().ends_with(problem), "{e}");
    }
}

#[tokio::test]
async fn untrusted_text_is_quoted_in_every_format() {
    let hostile = "x\n--- CRITICAL\nSubject: forged\n\u{1b}]8;;https://evil.example\u{7}click\u{1b}[0m \u{202e}gnp.exe `<!channel>` <https://evil.example|ok>";
    let mut event = fixture("inspector2-finding.json");
    event["detail"]["resources"][0]["details"]["awsEcrContainerImage"]["imageTags"] = json!([hostile]);
    event["detail"]["packageVulnerabilityDetails"]["vulnerablePackages"][0]["name"] = json!(hostile);
    event["detail"]["packageVulnerabilityDetails"]["vulnerablePackages"][0]["version"] = json!(hostile);
    event["detail"]["title"] = json!(hostile);
    for env in FORMATS {
        let r = run(env, event.clone()).await;
        let m = &r.messages[0];
        let text = if m.json_structure {
            let body: Value = serde_json::from_str(&m.message).unwrap();
            body["default"].as_str().unwrap().to_string()
        } else {
            m.message.clone()
        };
        for line in text.lines() {
            assert!(
                !line.starts_with("--- ") && !line.starts_with("Subject:"),
                "{env:?}: a forged line: {line:?}"
            );
        }
        // What people read: no terminal escapes, bell or bidi override in any form. (The
        // programs' JSON carries the values as data, control characters JSON-escaped.)
        let mut for_people = vec![text.clone()];
        if m.json_structure {
            let body: Value = serde_json::from_str(&m.message).unwrap();
            if let Ok(chat) = serde_json::from_str::<Value>(body["https"].as_str().unwrap())
                && chat["version"] == "1.0"
            {
                for_people.push(chat["content"].to_string());
                for_people.push(chat["content"]["title"].as_str().unwrap().to_string());
                for_people.push(chat["content"]["description"].as_str().unwrap().to_string());
            }
        }
        for s in for_people {
            for c in ['\u{1b}', '\u{7}', '\u{0}', '\u{202e}'] {
                assert!(!s.contains(c), "{env:?}: {c:?} in {s:?}");
            }
        }
        for c in ['\u{1b}', '\u{7}', '\u{0}'] {
            assert!(!m.message.contains(c), "{env:?}: a raw {c:?} in the request");
        }
        if env.contains(&("CHAT_APP_PAYLOAD", "true")) {
            let body: Value = serde_json::from_str(&m.message).unwrap();
            let chat: Value = serde_json::from_str(body["https"].as_str().unwrap()).unwrap();
            let content = chat["content"].to_string();
            assert!(
                !content.contains("<!channel>") && !content.contains("<https://"),
                "{content}"
            );
            let description = chat["content"]["description"].as_str().unwrap();
            assert_eq!(
                description.matches("```").count(),
                2,
                "one code block: {description}"
            );
            assert!(!chat["content"]["title"].as_str().unwrap().contains('`'));
            // Quoted once: `<` reads as `<` in the chat app, not as `&lt;`.
            assert!(!content.contains("&amp;"), "quoted twice: {content}");
        }
    }
}

#[derive(serde::Deserialize)]
struct Corpus {
    cases: Vec<CorpusCase>,
}

#[derive(serde::Deserialize)]
struct CorpusCase {
    name: String,
    input: String,
    secrets: Vec<String>,
}

#[tokio::test]
async fn no_secret_in_a_finding_title_survives_in_any_format() {
    let path = format!(
        "{}/../../shared/tests/secrets-corpus.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let corpus: Corpus = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let cases: Vec<&CorpusCase> = corpus.cases.iter().filter(|c| !c.secrets.is_empty()).collect();
    assert!(cases.len() >= 40);
    for env in FORMATS {
        // One image, one finding event per case: every title goes through every body.
        let events: Vec<Value> = cases
            .iter()
            .enumerate()
            .map(|(i, case)| {
                let mut e = fixture("inspector2-finding.json");
                e["id"] = json!(format!("secret-{i}"));
                e["detail"]["packageVulnerabilityDetails"]["vulnerabilityId"] =
                    json!(format!("CVE-2025-{i:04}"));
                e["detail"]["severity"] = json!("CRITICAL");
                e["detail"]["title"] = json!(case.input);
                // Every other finding has no package details: its title is its id too.
                if i % 2 == 1 {
                    e["detail"]
                        .as_object_mut()
                        .unwrap()
                        .remove("packageVulnerabilityDetails");
                }
                e
            })
            .collect();
        let mut env = env.to_vec();
        env.push(("MAX_FINDINGS_SHOWN", "1000"));
        let r = run(&env, Value::Array(events)).await;
        assert_eq!(r.messages.len(), 1);
        let bodies = readable(&r.messages[0]);
        let titles = bodies.iter().filter(|s| s.contains("CVE-2025-0000")).count();
        assert!(titles > 0, "{env:?}: the findings are in the message");
        for case in &cases {
            for secret in &case.secrets {
                for body in &bodies {
                    assert!(
                        !body.contains(secret.as_str()),
                        "{env:?} {}: {secret:?} survived",
                        case.name
                    );
                }
            }
        }
    }
}

/// The binary itself refuses at init what would fail later or mislead, naming the variable and
/// never repeating its value (`hunter2` stands for a secret pasted into the wrong variable).
#[test]
fn bad_configuration_fails_at_init_without_repeating_the_value() {
    const TOPIC: &str = "arn:aws:sns:us-east-1:123456789012:alerts";
    let cases: [(&str, &[(&str, &str)]); 6] = [
        ("AWS_REGION", &[("AWS_REGION", "hunter2")]),
        ("AWS_ENDPOINT_URL", &[("AWS_ENDPOINT_URL", "hunter2")]),
        (
            "ALERT_TOPIC_ARN",
            &[(
                "ALERT_TOPIC_ARN",
                "arn:awsbogus:sns:us-east-1:123456789012:hunter2",
            )],
        ),
        (
            "ALERT_TOPIC_ARN",
            &[(
                "ALERT_TOPIC_ARN",
                "arn:aws:sns:us-east-1:123456789012:hunter2 alerts",
            )],
        ),
        (
            "DEADLINE_MARGIN_MS",
            &[
                ("DEADLINE_MARGIN_MS", "59500"),
                ("FUNCTION_TIMEOUT_SECONDS", "60"),
            ],
        ),
        // Compiled at init: a pattern that does not compile is named by position.
        (
            "REDACT_EXTRA_PATTERNS",
            &[("REDACT_EXTRA_PATTERNS", r#"["hunter2("]"#)],
        ),
    ];
    for (variable, env) in cases {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_scan-alert"))
            .env_clear()
            .env("AWS_REGION", "us-east-1")
            .env("ALERT_TOPIC_ARN", TOPIC)
            .envs(env.iter().copied())
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        assert_eq!(output.status.code(), Some(1), "{variable}: {text}");
        assert!(text.contains(&format!("configuration: {variable} ")), "{text}");
        assert!(!text.contains("hunter2"), "{text}");
    }
}

/// The `sqs` protocol's JSON document of a per-protocol message.
fn document(m: &SnsMessage) -> Value {
    let body: Value = serde_json::from_str(&m.message).unwrap();
    serde_json::from_str(body["sqs"].as_str().unwrap()).unwrap()
}

/// Issue 21 §6: scan-alert honours `REDACT_EXTRA_PATTERNS` and `REDACT` as every function does
/// (it used to apply the built-in rules only, whatever the settings).
#[tokio::test]
async fn the_operators_redaction_settings_apply_to_finding_titles() {
    let mut event = fixture("inspector2-finding.json");
    event["detail"]["title"] = json!("CVE-2024-0727 - openssl, see ticket ACME-4821");
    let per_protocol = ("MESSAGE_FORMAT", "per-protocol");
    let extra = ("REDACT_EXTRA_PATTERNS", r#"["ACME-[0-9]{4}"]"#);
    let r = run(&[per_protocol, extra], event.clone()).await;
    assert_eq!(
        document(&r.messages[0])["findings"][0]["title"],
        "CVE-2024-0727 - openssl, see ticket [REDACTED]"
    );
    for body in readable(&r.messages[0]) {
        assert!(!body.contains("ACME-4821"), "{body}");
    }
    // A finding without package details is named by its title: redacted there too.
    let mut unnamed = event.clone();
    unnamed["detail"]
        .as_object_mut()
        .unwrap()
        .remove("packageVulnerabilityDetails");
    let r = run(&[per_protocol, extra], unnamed).await;
    assert_eq!(
        r.messages[0].subject,
        "[HIGH] CVE-2024-0727 - openssl, see ticket [REDACTED] in payments:v3.1.0"
    );
    // REDACT=false: the operator's choice, text passes unchanged.
    let r = run(&[per_protocol, extra, ("REDACT", "false")], event).await;
    assert_eq!(
        document(&r.messages[0])["findings"][0]["title"],
        "CVE-2024-0727 - openssl, see ticket ACME-4821"
    );
}

/// Epoch seconds the test moves by hand.
#[derive(Debug, Clone)]
struct TestClock(Arc<AtomicU64>);

impl Clock for TestClock {
    fn now(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// The same CVE on the same image, reported again: one alert, the repeat counted; after
/// the window the next alert states the repeats, placed by the renderer in every body. Each
/// report is another finding of that CVE (its own ARN: another package, say), so the state
/// table's notes see news and only the suppression window holds the repeat back.
#[tokio::test]
async fn a_repeated_finding_is_suppressed_then_counted_in_the_next_alert() {
    // 2025-11-25T18:04:10Z
    let clock = TestClock(Arc::new(AtomicU64::new(1_764_093_850)));
    let store = MemoryStore::new(Duration::from_secs(24 * 3600), clock.clone());
    let publisher = MemoryPublisher::default();
    let env = [("MESSAGE_FORMAT", "per-protocol"), ("CHAT_APP_PAYLOAD", "true")];
    let alert = ScanAlert::new(config(&env), no_findings(), &publisher)
        .unwrap()
        .with_state(Some(store), Duration::from_secs(15 * 60));
    let report = |id: &str| {
        let mut e = fixture("inspector2-finding.json");
        e["id"] = json!(id);
        e["detail"]["findingArn"] = json!(format!("arn:aws:inspector2:us-east-1:123456789012:finding/{id}"));
        e
    };
    let mut outcomes = Vec::new();
    for id in ["first", "again", "first"] {
        let mut ctx = Invocation::new(Deadline::after(Duration::from_secs(30)), id);
        let summary = invoke(&alert, report(id), &mut ctx).await.unwrap();
        outcomes.push(serde_json::to_value(&summary).unwrap()["results"][0]["outcome"].clone());
    }
    // The redelivered first report: its finding's note already says it was alerted.
    assert_eq!(outcomes, ["published", "skipped", "nothing new"]);
    assert_eq!(publisher.messages().len(), 1);
    clock.0.store(1_764_093_850 + 16 * 60, Ordering::SeqCst);
    let mut ctx = Invocation::new(Deadline::after(Duration::from_secs(30)), "later");
    invoke(&alert, report("later"), &mut ctx).await.unwrap();
    let messages = publisher.messages();
    assert_eq!(messages.len(), 2);
    let body: Value = serde_json::from_str(&messages[1].message).unwrap();
    let text = body["default"].as_str().unwrap();
    assert!(
        text.starts_with(
            "[HIGH] CVE-2024-0727 in payments:v3.1.0\n\nSuppressed:    1 similar alert suppressed since 2025-11-25T18:04:10.000Z (SUPPRESS_WINDOW_MINUTES)\nEvent:"
        ),
        "{text}"
    );
    assert_eq!(
        document(&messages[1])["suppressed"],
        json!({"count": 1, "since": "2025-11-25T18:04:10.000Z"})
    );
    let chat: Value = serde_json::from_str(body["https"].as_str().unwrap()).unwrap();
    let description = chat["content"]["description"].as_str().unwrap();
    assert!(
        description.starts_with("_1 similar alert suppressed since 2025-11-25T18:04:10.000Z._\n```"),
        "{description}"
    );
    let first: Value = serde_json::from_str(&messages[0].message).unwrap();
    assert!(!first.to_string().contains("suppressed since"));
    assert!(document(&messages[0]).get("suppressed").is_none());
}

/// Issue 22 §5: a finding with no CVE id and no title is named by its package, else by its
/// finding ARN's last part (the subject used to read `[HIGH]  in payments:v3.1.0`), redacted
/// as the id is.
#[tokio::test]
async fn a_finding_without_an_id_or_title_is_named_by_its_package_or_its_arn() {
    let mut event = fixture("inspector2-finding.json");
    event["detail"]["title"] = json!("");
    event["detail"]["packageVulnerabilityDetails"]["vulnerabilityId"] = json!("");
    let r = run(&[], event.clone()).await;
    assert_eq!(r.messages[0].subject, "[HIGH] openssl in payments:v3.1.0");

    let mut unpackaged = event.clone();
    unpackaged["detail"]
        .as_object_mut()
        .unwrap()
        .remove("packageVulnerabilityDetails");
    let r = run(&[], unpackaged.clone()).await;
    assert_eq!(
        r.messages[0].subject,
        "[HIGH] fb6a2d3e0b4c5d6e7f8a9b0c1d2e3f4a in payments:v3.1.0"
    );

    // What names the finding is redacted too.
    let extra = ("REDACT_EXTRA_PATTERNS", r#"["ACME-[0-9]{4}"]"#);
    let mut secret = event.clone();
    secret["detail"]["packageVulnerabilityDetails"]["vulnerablePackages"][0]["name"] =
        json!("openssl-ACME-4821");
    let r = run(&[extra], secret).await;
    assert_eq!(
        r.messages[0].subject,
        "[HIGH] openssl-[REDACTED] in payments:v3.1.0"
    );
    for body in readable(&r.messages[0]) {
        assert!(!body.contains("ACME-4821"), "{body}");
    }
    unpackaged["detail"]["findingArn"] = json!("arn:aws:inspector2:us-east-1:123456789012:finding/ACME-4821");
    let r = run(&[extra], unpackaged).await;
    assert_eq!(r.messages[0].subject, "[HIGH] [REDACTED] in payments:v3.1.0");
}

// ---- issue 22 §3: with the state table, a rescan alerts on what is new ----

/// A basic scan's findings, changed by the test between scans as CVE databases change.
struct Rescans(Mutex<BasicScanFindings>);

impl Rescans {
    fn new(findings: Vec<Finding>) -> Self {
        Self(Mutex::new(complete_scan(findings)))
    }

    fn set(&self, findings: Vec<Finding>) {
        *self.0.lock().unwrap() = complete_scan(findings);
    }
}

fn complete_scan(findings: Vec<Finding>) -> BasicScanFindings {
    BasicScanFindings {
        status: Some("COMPLETE".into()),
        description: None,
        findings,
        complete: true,
    }
}

impl ScanFindingsSource for Rescans {
    async fn basic_findings(
        &self,
        _: Registry<'_>,
        _: &str,
        _: &str,
        _: usize,
        _: Duration,
    ) -> Result<BasicScanFindings, FindingsError> {
        Ok(self.0.lock().unwrap().clone())
    }
}

/// `basic_findings()` (CRITICAL 1, HIGH 3, MEDIUM 7) and `more`.
fn findings_and(more: &[(&str, VulnSeverity)]) -> Vec<Finding> {
    let mut findings = basic_findings().findings;
    findings.extend(more.iter().map(|(id, s)| finding(id, *s)));
    findings
}

fn test_store() -> MemoryStore<TestClock> {
    // 2025-11-25T18:04:10Z
    MemoryStore::new(
        Duration::from_secs(24 * 3600),
        TestClock(Arc::new(AtomicU64::new(1_764_093_850))),
    )
}

/// scan-alert with the state table and no suppression window (a weekly rescan is far past any
/// window): what the notes decide, alone. `format`: `MESSAGE_FORMAT` (`text` sends the
/// attributes, `per-protocol` the JSON document).
fn with_notes<S: ScanFindingsSource, P: Publisher>(
    findings: S,
    publisher: P,
    format: &str,
) -> ScanAlert<S, P, MemoryStore<TestClock>> {
    ScanAlert::new(config(&[("MESSAGE_FORMAT", format)]), findings, publisher)
        .unwrap()
        .with_state(Some(test_store()), Duration::ZERO)
}

/// One invocation that succeeds: its response and its EMF metrics.
async fn scan<F, E>(alert: &F, event: Value) -> (Value, Value)
where
    F: Function<Event = Incoming<E>>,
    E: DeserializeOwned,
{
    let mut ctx = Invocation::new(Deadline::after(Duration::from_secs(30)), "scan");
    let summary = invoke(alert, event, &mut ctx).await.unwrap();
    let metrics = MetricsConfig::from_env(&Env::default(), "scan-alert").unwrap();
    (
        serde_json::to_value(summary).unwrap(),
        ctx.metrics.to_emf(&metrics, 0).unwrap(),
    )
}

/// The basic scan fixture (web-app:v1.4.2, `sha256:7f5b…`) as event `id`.
fn rescan(id: &str) -> Value {
    let mut e = fixture("ecr-scan-complete.json");
    e["id"] = json!(id);
    e
}

/// The text body, of a text or a per-protocol message.
fn text_of(m: &SnsMessage) -> String {
    if !m.json_structure {
        return m.message.clone();
    }
    let body: Value = serde_json::from_str(&m.message).unwrap();
    body["default"].as_str().unwrap().to_string()
}

fn attribute(m: &SnsMessage, name: &str) -> String {
    m.attributes
        .iter()
        .find(|a| a.name == name)
        .map(|a| a.value_string())
        .unwrap()
}

#[tokio::test]
async fn a_rescan_with_the_same_findings_sends_nothing_and_counts_it() {
    let findings = Rescans::new(basic_findings().findings);
    let publisher = MemoryPublisher::default();
    let alert = with_notes(&findings, &publisher, "per-protocol");
    let (first, _) = scan(&alert, rescan("week-1")).await;
    assert_eq!(first["alerts"], 1);
    assert!(first.get("scansWithoutNews").is_none(), "{first}");
    let (second, metrics) = scan(&alert, rescan("week-2")).await;
    assert_eq!(second["alerts"], 0);
    assert_eq!(second["scansWithoutNews"], 1);
    assert_eq!(second["results"][0]["outcome"], "nothing new");
    assert_eq!(metrics["ScansWithoutNews"], 1);
    assert_eq!(publisher.messages().len(), 1, "one alert for two scans");

    // Without a state table, as before: every rescan alerts, alike.
    let before = MemoryPublisher::default();
    let plain = ScanAlert::new(config(&[("MESSAGE_FORMAT", "per-protocol")]), &findings, &before).unwrap();
    for week in ["week-1", "week-2"] {
        let (response, _) = scan(&plain, rescan(week)).await;
        assert!(response.get("scansWithoutNews").is_none(), "{response}");
    }
    let sent = before.messages();
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[0].subject, publisher.messages()[0].subject);
    assert_eq!(text_of(&sent[0]), text_of(&publisher.messages()[0]));
}

#[tokio::test]
async fn a_rescan_with_a_new_critical_leads_with_it_and_counts_the_known() {
    let findings = Rescans::new(basic_findings().findings);
    let publisher = MemoryPublisher::default();
    let alert = with_notes(&findings, &publisher, "text");
    scan(&alert, rescan("week-1")).await;
    findings.set(findings_and(&[("CVE-2025-1111", VulnSeverity::Critical)]));
    let (response, _) = scan(&alert, rescan("week-2")).await;
    assert_eq!(response["alerts"], 1);
    let m = &publisher.messages()[1];
    assert_eq!(m.subject, "[CRITICAL] CVE-2025-1111 new in web-app:v1.4.2");
    let text = text_of(m);
    assert!(
        text.starts_with(
            "[CRITICAL] CVE-2025-1111 new in web-app:v1.4.2\n\n\
             1 new since the last scan: CVE-2025-1111 CRITICAL\n\
             Known:         CRITICAL 1, HIGH 3, alerted before (counted, not listed)\n\
             Event:         ECR Image Scan (COMPLETE)\n"
        ),
        "{text}"
    );
    assert!(
        text.ends_with("New findings, worst first:\n  CVE-2025-1111 CRITICAL openssl 3.0.11 (score 9.1)\n"),
        "only the new one is listed: {text}"
    );

    // Two more, and then one HIGH beside the known CRITICALs: it pages as HIGH, not CRITICAL.
    findings.set(findings_and(&[
        ("CVE-2025-1111", VulnSeverity::Critical),
        ("CVE-2025-2222", VulnSeverity::Critical),
        ("CVE-2025-3333", VulnSeverity::High),
    ]));
    scan(&alert, rescan("week-3")).await;
    findings.set(findings_and(&[
        ("CVE-2025-1111", VulnSeverity::Critical),
        ("CVE-2025-2222", VulnSeverity::Critical),
        ("CVE-2025-3333", VulnSeverity::High),
        ("CVE-2025-4444", VulnSeverity::High),
    ]));
    scan(&alert, rescan("week-4")).await;
    let (quiet, _) = scan(&alert, rescan("week-5")).await;
    assert_eq!(quiet["scansWithoutNews"], 1);
    let sent = publisher.messages();
    let subjects: Vec<&str> = sent.iter().map(|m| m.subject.as_str()).collect();
    assert_eq!(
        subjects[2..],
        [
            "[CRITICAL] web-app:v1.4.2: 2 new since the last scan (CRITICAL 1, HIGH 1)",
            "[HIGH] CVE-2025-4444 new in web-app:v1.4.2",
        ]
    );
    assert_eq!(attribute(&sent[3], "severity"), "HIGH");
    assert_eq!(
        attribute(&sent[3], "critical"),
        "1",
        "the image's counts are unchanged"
    );
}

#[tokio::test]
async fn a_new_digest_under_the_same_tag_says_what_the_build_added_and_fixed() {
    let findings = Rescans::new(basic_findings().findings);
    let publisher = MemoryPublisher::default();
    let alert = with_notes(&findings, &publisher, "per-protocol");
    let (first, _) = scan(&alert, rescan("build-1")).await;
    assert_eq!(first["alerts"], 1);
    let build = |id: &str, digest: u64| {
        let mut e = rescan(id);
        e["detail"]["image-digest"] = json!(format!("sha256:{digest:064x}"));
        e
    };
    // The next build drops CVE-2024-0002 and brings CVE-2025-2222.
    let mut next: Vec<Finding> = findings_and(&[("CVE-2025-2222", VulnSeverity::High)]);
    next.retain(|f| f.vulnerability_id != "CVE-2024-0002");
    findings.set(next.clone());
    scan(&alert, build("build-2", 2)).await;
    let m = &publisher.messages()[1];
    assert_eq!(
        m.subject,
        "[HIGH] CVE-2025-2222 new in this build of web-app:v1.4.2, 1 fixed"
    );
    let text = text_of(m);
    assert!(
        text.contains(
            "1 new in this build: CVE-2025-2222 HIGH\n\
             Known:         CRITICAL 1, HIGH 2, alerted before (counted, not listed)\n\
             Fixed:         CVE-2024-0002 HIGH (alerted on the previous image, not in this one)\n\
             Previous:      sha256:7f5b2640fe6fb4f46592dfd3410c4a79dac4f89e4782432e0378abcd1234ef56 (tagged v1.4.2 before this build)\n"
        ),
        "{text}"
    );
    let news = &document(m)["news"];
    assert_eq!(news["since"], "previous image");
    assert_eq!(
        news["previousImage"],
        json!({"tag": "v1.4.2", "digest": "sha256:7f5b2640fe6fb4f46592dfd3410c4a79dac4f89e4782432e0378abcd1234ef56"})
    );
    assert_eq!(
        news["fixed"],
        json!([{"vulnerabilityId": "CVE-2024-0002", "severity": "HIGH"}])
    );
    assert_eq!(
        (news["new"].clone(), news["known"].clone()),
        (json!(1), json!({"CRITICAL": 1, "HIGH": 2}))
    );
    let listed = document(m)["findings"].clone();
    assert_eq!(
        listed.as_array().map(Vec::len),
        Some(1),
        "only the new one is listed: {listed}"
    );

    // Rescanned: nothing new. A third build that only fixes: nothing to send either.
    let (again, _) = scan(&alert, build("build-2-rescan", 2)).await;
    assert_eq!(again["scansWithoutNews"], 1);
    next.retain(|f| f.vulnerability_id != "CVE-2025-2222");
    findings.set(next);
    let (fix_only, _) = scan(&alert, build("build-3", 3)).await;
    assert_eq!(fix_only["scansWithoutNews"], 1);
    assert_eq!(publisher.messages().len(), 2);

    // A digest under tags never seen: no history, an alert as before.
    let mut fresh = build("other", 4);
    fresh["detail"]["image-tags"] = json!(["v9"]);
    scan(&alert, fresh).await;
    assert_eq!(
        publisher.messages()[2].subject,
        "[CRITICAL] web-app:v9: CRITICAL 1, HIGH 3, MEDIUM 7, LOW 12, INFORMATIONAL 4"
    );
}

#[tokio::test]
async fn failed_scans_always_alert_and_leave_no_note() {
    let findings = Rescans::new(basic_findings().findings);
    let publisher = MemoryPublisher::default();
    let alert = with_notes(&findings, &publisher, "per-protocol");
    for id in ["failed-1", "failed-2"] {
        let mut e = fixture("ecr-scan-failed.json");
        e["id"] = json!(id);
        let (response, _) = scan(&alert, e).await;
        assert_eq!(response["alerts"], 1);
    }
    // The same image's first COMPLETE scan alerts as a first scan.
    let mut complete = fixture("ecr-scan-complete.json");
    let failed = fixture("ecr-scan-failed.json");
    for field in ["repository-name", "image-digest", "image-tags"] {
        complete["detail"][field] = failed["detail"][field].clone();
    }
    scan(&alert, complete).await;
    let subjects: Vec<String> = publisher.messages().into_iter().map(|m| m.subject).collect();
    assert_eq!(
        subjects,
        [
            "[FAILED] ECR scan of batch-jobs:nightly failed",
            "[FAILED] ECR scan of batch-jobs:nightly failed",
            "[CRITICAL] batch-jobs:nightly: CRITICAL 1, HIGH 3, MEDIUM 7, LOW 12, INFORMATIONAL 4",
        ]
    );
}

/// An Inspector finding as event `id`, at `severity` with `status`.
fn finding_event(id: &str, severity: &str, status: &str) -> Value {
    let mut e = fixture("inspector2-finding.json");
    e["id"] = json!(id);
    e["detail"]["severity"] = json!(severity);
    e["detail"]["status"] = json!(status);
    e["detail"]["updatedAt"] = json!(format!("Nov 26, 2025, {id}"));
    e
}

#[tokio::test]
async fn an_inspector_finding_updated_at_the_same_severity_is_not_news() {
    let publisher = MemoryPublisher::default();
    let alert = with_notes(no_findings(), &publisher, "per-protocol");
    let mut outcomes = Vec::new();
    for (id, severity, status) in [
        ("created", "HIGH", "ACTIVE"),
        ("updated", "HIGH", "ACTIVE"),
        ("rerated", "CRITICAL", "ACTIVE"),
        ("updated-again", "CRITICAL", "ACTIVE"),
        ("closed", "CRITICAL", "CLOSED"),
        ("reopened", "CRITICAL", "ACTIVE"),
    ] {
        let (response, _) = scan(&alert, finding_event(id, severity, status)).await;
        outcomes.push(response["results"][0]["outcome"].clone());
    }
    assert_eq!(
        outcomes,
        [
            "published",
            "nothing new",
            "published",
            "nothing new",
            "no active finding",
            "published"
        ]
    );
    let subjects: Vec<String> = publisher.messages().into_iter().map(|m| m.subject).collect();
    assert_eq!(
        subjects,
        [
            "[HIGH] CVE-2024-0727 in payments:v3.1.0",
            "[CRITICAL] CVE-2024-0727 in payments:v3.1.0",
            "[CRITICAL] CVE-2024-0727 in payments:v3.1.0",
        ]
    );
    // A batch with that known finding and a new one: one alert, leading with the new one.
    let mut new = finding_event("another", "HIGH", "ACTIVE");
    new["detail"]["findingArn"] =
        json!("arn:aws:inspector2:us-east-1:123456789012:finding/0000000000000000000000000000beef");
    new["detail"]["packageVulnerabilityDetails"]["vulnerabilityId"] = json!("CVE-2025-0001");
    let batch = json!([finding_event("known", "CRITICAL", "ACTIVE"), new]);
    scan(&alert, batch).await;
    let m = publisher.messages().pop().unwrap();
    assert_eq!(m.subject, "[HIGH] CVE-2025-0001 new in payments:v3.1.0");
    assert!(
        text_of(&m).contains(
            "1 new since the last scan: CVE-2025-0001 HIGH\nKnown:         CRITICAL 1, alerted before"
        ),
        "{}",
        text_of(&m)
    );
}

#[tokio::test]
async fn a_failed_publish_is_news_again_on_the_retry() {
    let findings = Rescans::new(basic_findings().findings);
    // The second publish fails.
    let publisher = SlowPublisher::new(Duration::ZERO, vec![2]);
    let alert = with_notes(&findings, &publisher, "per-protocol");
    scan(&alert, rescan("week-1")).await;
    findings.set(findings_and(&[("CVE-2025-1111", VulnSeverity::Critical)]));
    let mut ctx = Invocation::new(Deadline::after(Duration::from_secs(30)), "week-2");
    let e = invoke(&alert, rescan("week-2"), &mut ctx).await.unwrap_err();
    assert_eq!(e.kind(), "PublishFailed");
    // Lambda's retry: the notes were not written, so the new finding is still news.
    let (retry, _) = scan(&alert, rescan("week-2")).await;
    assert_eq!(retry["alerts"], 1);
    let (later, _) = scan(&alert, rescan("week-3")).await;
    assert_eq!(later["scansWithoutNews"], 1);
    let subjects: Vec<String> = publisher.delivered().into_iter().map(|m| m.subject).collect();
    assert_eq!(
        subjects,
        [
            "[CRITICAL] web-app:v1.4.2: CRITICAL 1, HIGH 3, MEDIUM 7, LOW 12, INFORMATIONAL 4",
            "[CRITICAL] CVE-2025-1111 new in web-app:v1.4.2",
        ]
    );
}

#[tokio::test]
async fn notes_that_cannot_be_read_are_absent_the_alert_goes_out_and_the_problem_is_counted() {
    let findings = Rescans::new(basic_findings().findings);
    let publisher = MemoryPublisher::default();
    // Claims and windows work; notes cannot be read or written.
    let store = test_store();
    store.set_faults(Faults {
        failing_notes: Some(Fault {
            kind: StateErrorKind::Unavailable,
            detail: "InternalServerError: 500",
        }),
        ..Faults::default()
    });
    let alert = ScanAlert::new(
        config(&[("MESSAGE_FORMAT", "per-protocol")]),
        &findings,
        &publisher,
    )
    .unwrap()
    .with_state(Some(store), Duration::ZERO);
    for week in ["week-1", "week-2"] {
        let (response, metrics) = scan(&alert, rescan(week)).await;
        assert_eq!(response["alerts"], 1, "as without a table");
        assert_eq!(
            metrics["StateStoreProblems"], 1,
            "the recall; nothing is written after it"
        );
    }
    let sent = publisher.messages();
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[0].subject, sent[1].subject);
    assert!(document(&sent[1]).get("news").is_none());
}

// ---- issue 24 §4: organisation mode, findings read in the event's account ----

const MEMBER_A: &str = "111111111111";
const MEMBER_B: &str = "222222222222";

/// Organisation mode with A and B as members, A named.
const ORGANISATION: [(&str, &str); 2] = [
    ("MEMBER_ACCOUNTS", "111111111111, 222222222222"),
    ("ACCOUNT_NAMES", r#"{"111111111111": "payments-prod"}"#),
];

/// `fixture` as `account` sends it from `region`.
fn from(name: &str, account: &str, region: &str) -> Value {
    let mut e = fixture(name);
    e["account"] = json!(account);
    e["region"] = json!(region);
    e
}

fn denied(account: &str) -> FindingsError {
    FindingsError::Member(MemberError {
        role: "LookoutReader".into(),
        account: account.into(),
        kind: MemberErrorKind::Denied,
        detail: "AccessDenied: not authorized to perform sts:AssumeRole".into(),
    })
}

/// Before: the findings were read with the function's own client, in its own region (another
/// account's repository of that name, or none), and the alert did not say whose image it was.
#[tokio::test]
async fn a_members_scan_is_read_in_its_account_and_region_and_the_alert_names_it() {
    let r = run(
        &ORGANISATION,
        from("ecr-scan-complete.json", MEMBER_A, "eu-west-1"),
    )
    .await;
    assert_eq!(r.registries, ["111111111111 eu-west-1"]);
    assert_eq!(r.messages.len(), 1);
    let m = &r.messages[0];
    assert_eq!(
        m.subject,
        "[CRITICAL] payments-prod: web-app:v1.4.2: CRITICAL 1, HIGH 3, MEDIUM 7, LOW 12, INFORMATIONAL 4"
    );
    assert!(
        m.message
            .contains("\nAccount:       payments-prod (111111111111)\nRegion:        eu-west-1\n"),
        "{}",
        m.message
    );
    assert!(
        m.message
            .contains("Findings, worst first:\n  CVE-2024-0001 CRITICAL"),
        "{}",
        m.message
    );
    assert!(
        m.message.contains(
            "https://eu-west-1.console.aws.amazon.com/ecr/repositories/private/111111111111/web-app/"
        ),
        "{}",
        m.message
    );
    assert_eq!(attribute(m, "account"), MEMBER_A);
    assert_eq!(r.response["results"][0]["account"], MEMBER_A);
    assert!(r.response["results"][0].get("findingsUnavailable").is_none());

    // A member without a name is named by its id; the JSON names it only when it has one.
    let r = run_with(
        &[
            ORGANISATION[0],
            ORGANISATION[1],
            ("MESSAGE_FORMAT", "per-protocol"),
        ],
        Ok(basic_findings()),
        from("ecr-scan-failed.json", MEMBER_B, "us-east-1"),
    )
    .await;
    assert_eq!(
        r.messages[0].subject,
        "[FAILED] 222222222222: ECR scan of batch-jobs:nightly failed"
    );
    assert!(document(&r.messages[0]).get("accountName").is_none());
    let r = run_with(
        &[
            ORGANISATION[0],
            ORGANISATION[1],
            ("MESSAGE_FORMAT", "per-protocol"),
        ],
        Ok(basic_findings()),
        from("ecr-scan-complete.json", MEMBER_A, "us-east-1"),
    )
    .await;
    let doc = document(&r.messages[0]);
    assert_eq!(
        (doc["account"].clone(), doc["accountName"].clone()),
        (json!(MEMBER_A), json!("payments-prod"))
    );
}

/// Without `MEMBER_ACCOUNTS`, nothing changes: every event is read with the function's own
/// client, whatever account it names, and the subject does not name the account.
#[tokio::test]
async fn single_account_mode_reads_every_event_with_the_own_client_as_before() {
    let r = run(&[], from("ecr-scan-complete.json", MEMBER_A, "eu-west-1")).await;
    assert_eq!(r.registries, ["default"]);
    assert_eq!(
        r.messages[0].subject,
        "[CRITICAL] web-app:v1.4.2: CRITICAL 1, HIGH 3, MEDIUM 7, LOW 12, INFORMATIONAL 4"
    );
    assert!(
        r.messages[0].message.contains("\nAccount:       111111111111\n"),
        "{}",
        r.messages[0].message
    );
    // ACCOUNT_NAMES alone names accounts, in the subject too (as log-alert does).
    let r = run(
        &[ORGANISATION[1]],
        from("ecr-scan-complete.json", MEMBER_A, "us-east-1"),
    )
    .await;
    assert_eq!(r.registries, ["default"]);
    assert!(
        r.messages[0]
            .subject
            .starts_with("[CRITICAL] payments-prod: web-app:v1.4.2"),
        "{}",
        r.messages[0].subject
    );
}

/// Organisation mode reads the own account's events (in any region of its partition) and the
/// members'; another account's, or another partition's, are not read, and not failed either.
#[tokio::test]
async fn organisation_mode_reads_the_own_account_and_members_only_in_its_partition() {
    let events = json!([
        from("ecr-scan-complete.json", "333333333333", "us-east-1"),
        from("ecr-scan-complete.json", MEMBER_A, "cn-north-1"),
        from("ecr-scan-complete.json", "123456789012", "eu-west-1"),
    ]);
    let r = run(&ORGANISATION, events.clone()).await;
    let outcomes: Vec<&Value> = r.response["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| &r["outcome"])
        .collect();
    assert_eq!(
        outcomes,
        ["account not in MEMBER_ACCOUNTS", "other partition", "published"]
    );
    assert_eq!(r.response["failed"], 0);
    assert_eq!(
        r.registries,
        ["123456789012 eu-west-1"],
        "the own account, in the event's region"
    );
    assert_eq!(
        r.messages[0].subject,
        "[CRITICAL] 123456789012: web-app:v1.4.2: CRITICAL 1, HIGH 3, MEDIUM 7, LOW 12, INFORMATIONAL 4"
    );
    // `*`: any account of the partition.
    let r = run(&[("MEMBER_ACCOUNTS", "*")], events).await;
    assert_eq!(r.registries, ["333333333333 us-east-1", "123456789012 eu-west-1"]);
    assert_eq!(r.response["results"][1]["outcome"], "other partition");
}

/// Before: a member whose role cannot be assumed did not exist as a case; the own client's
/// read failed (or read the wrong registry). Now the alert goes out with the event's counts,
/// says why the findings are missing, and the failure is counted.
#[tokio::test]
async fn a_member_whose_role_cannot_be_assumed_still_alerts_and_says_why() {
    let publisher = MemoryPublisher::default();
    let findings = FakeFindings::new(Err(denied(MEMBER_B)));
    let env = [ORGANISATION[0], ORGANISATION[1], ("MESSAGE_FORMAT", "text")];
    let alert = ScanAlert::new(config(&env), &findings, &publisher).unwrap();
    let (response, metrics) = scan(&alert, from("ecr-scan-complete.json", MEMBER_B, "us-east-1")).await;
    assert_eq!(response["alerts"], 1);
    assert_eq!(response["results"][0]["findingsUnavailable"], "memberUnreachable");
    assert_eq!(metrics["MemberAccessFailures"], 1, "{metrics}");
    let m = &publisher.messages()[0];
    assert_eq!(
        m.subject,
        "[CRITICAL] 222222222222: web-app:v1.4.2: CRITICAL 1, HIGH 3, MEDIUM 7, LOW 12, INFORMATIONAL 4",
        "the event's counts"
    );
    assert!(
        m.message.contains(
            "Note:          Findings unavailable: cannot assume LookoutReader in 222222222222: access denied (role missing or not trusting this function); counts are from the event.\n"
        ),
        "{}",
        m.message
    );
    assert!(
        !m.message.contains("not authorized"),
        "the detail is for the log line"
    );
    assert!(!m.message.contains("Findings, worst first"), "{}", m.message);
    // A readable member is not counted.
    let findings = FakeFindings::new(Ok(basic_findings()));
    let alert = ScanAlert::new(config(&env), &findings, &publisher).unwrap();
    let (_, metrics) = scan(&alert, from("ecr-scan-complete.json", MEMBER_A, "us-east-1")).await;
    assert!(metrics.get("MemberAccessFailures").is_none(), "{metrics}");
}

/// A findings source that never answers, and the assume timeout it was given.
struct Stalled(Mutex<Vec<Duration>>);

impl ScanFindingsSource for Stalled {
    async fn basic_findings(
        &self,
        _: Registry<'_>,
        _: &str,
        _: &str,
        _: usize,
        assume_timeout: Duration,
    ) -> Result<BasicScanFindings, FindingsError> {
        self.0.lock().unwrap().push(assume_timeout);
        std::future::pending().await
    }
}

/// Before: the read had no bound of its own; a stalled STS or ECR held the image until the
/// invocation's deadline. Now it takes at most half of the time left before the margin (the
/// AssumeRole half of that), and the alert goes out without the findings.
#[tokio::test(start_paused = true)]
async fn a_stalled_read_is_cut_from_the_deadline_and_the_alert_still_goes_out() {
    let publisher = MemoryPublisher::default();
    let findings = Stalled(Mutex::new(Vec::new()));
    let env = [ORGANISATION[0], ("MESSAGE_FORMAT", "text")];
    let alert = ScanAlert::new(config(&env), &findings, &publisher).unwrap();
    let started = tokio::time::Instant::now();
    let (response, metrics) = scan(&alert, from("ecr-scan-complete.json", MEMBER_A, "us-east-1")).await;
    // 30 s, less the 500 ms margin, halved.
    assert_eq!(started.elapsed(), Duration::from_millis(14_750));
    assert_eq!(*findings.0.lock().unwrap(), [Duration::from_millis(7_375)]);
    assert_eq!(response["alerts"], 1);
    assert_eq!(response["results"][0]["findingsUnavailable"], "timedOut");
    assert!(metrics.get("MemberAccessFailures").is_none(), "{metrics}");
    assert!(
        publisher.messages()[0].message.contains(
            "Findings could not be read (DescribeImageScanFindings: no answer within 14750 ms); counts are from the event."
        ),
        "{}",
        publisher.messages()[0].message
    );
}

/// Before: events on the same repository and digest were grouped, and suppressed, whatever
/// their account: a second member's image was counted as a repeat of the first's.
#[tokio::test]
async fn the_same_image_in_two_accounts_is_two_alerts_not_a_repeat() {
    let report = |account: &str, id: &str| {
        let mut e = from("inspector2-finding.json", account, "us-east-1");
        e["id"] = json!(id);
        e["detail"]["findingArn"] = json!(format!("arn:aws:inspector2:us-east-1:{account}:finding/{id}"));
        e
    };
    let publisher = MemoryPublisher::default();
    let alert = ScanAlert::new(
        config(&[ORGANISATION[0], ORGANISATION[1]]),
        no_findings(),
        &publisher,
    )
    .unwrap()
    .with_state(Some(test_store()), Duration::from_secs(15 * 60));
    let (response, _) = scan(&alert, json!([report(MEMBER_A, "a-1"), report(MEMBER_B, "b-1")])).await;
    assert_eq!(response["alerts"], 2, "one per account: {response}");
    let (response, _) = scan(&alert, report(MEMBER_B, "b-2")).await;
    assert_eq!(
        response["results"][0]["outcome"], "skipped",
        "B's repeat, inside B's window"
    );
    let subjects: Vec<String> = publisher.messages().iter().map(|m| m.subject.clone()).collect();
    assert_eq!(
        subjects,
        [
            "[HIGH] payments-prod: CVE-2024-0727 in payments:v3.1.0",
            "[HIGH] 222222222222: CVE-2024-0727 in payments:v3.1.0"
        ]
    );
}

// ---- review of the notes: suppression per image, partly read scans ----

/// Before: the suppression fingerprint left out the repository and the region, so the same
/// digest and findings pushed to a second repository (or region) inside the window was
/// suppressed as a repeat of the first's alert, and its notes then said it had been alerted:
/// its rescans sent nothing for 90 days though it never was. Now each image is its own alert,
/// and a rescan of the second after the window has nothing new because it was alerted.
#[tokio::test]
async fn the_same_digest_in_two_repositories_or_regions_is_its_own_alert() {
    let clock = TestClock(Arc::new(AtomicU64::new(1_764_093_850)));
    let store = MemoryStore::new(Duration::from_secs(24 * 3600), clock.clone());
    let findings = Rescans::new(basic_findings().findings);
    let publisher = MemoryPublisher::default();
    let alert = ScanAlert::new(config(&[]), &findings, &publisher)
        .unwrap()
        .with_state(Some(store), Duration::from_secs(15 * 60));
    let pushed = |id: &str, repository: &str, region: &str| {
        let mut e = rescan(id);
        e["region"] = json!(region);
        e["detail"]["repository-name"] = json!(repository);
        e["resources"] = json!([format!(
            "arn:aws:ecr:{region}:123456789012:repository/{repository}"
        )]);
        e
    };
    let (a, _) = scan(&alert, pushed("a-1", "web-app", "us-east-1")).await;
    let (b, _) = scan(&alert, pushed("b-1", "web-app-mirror", "us-east-1")).await;
    let (west, _) = scan(&alert, pushed("w-1", "web-app", "us-west-2")).await;
    for response in [&a, &b, &west] {
        assert_eq!(response["alerts"], 1, "its own alert: {response}");
    }
    let subjects: Vec<String> = publisher.messages().iter().map(|m| m.subject.clone()).collect();
    assert_eq!(
        subjects,
        [
            "[CRITICAL] web-app:v1.4.2: CRITICAL 1, HIGH 3, MEDIUM 7, LOW 12, INFORMATIONAL 4",
            "[CRITICAL] web-app-mirror:v1.4.2: CRITICAL 1, HIGH 3, MEDIUM 7, LOW 12, INFORMATIONAL 4",
            "[CRITICAL] web-app:v1.4.2: CRITICAL 1, HIGH 3, MEDIUM 7, LOW 12, INFORMATIONAL 4",
        ]
    );
    // Inside the window the same image again is still a repeat (its notes say nothing new
    // first: the window is met only when they could not tell).
    let (again, _) = scan(&alert, pushed("b-2", "web-app-mirror", "us-east-1")).await;
    assert_eq!(again["results"][0]["outcome"], "nothing new", "{again}");
    // After the window: B was alerted, so its rescan has nothing new.
    clock.0.store(1_764_093_850 + 16 * 60, Ordering::SeqCst);
    let (later, metrics) = scan(&alert, pushed("b-3", "web-app-mirror", "us-east-1")).await;
    assert_eq!(later["alerts"], 0, "{later}");
    assert_eq!(later["scansWithoutNews"], 1);
    assert_eq!(later["results"][0]["outcome"], "nothing new");
    assert_eq!(metrics["ScansWithoutNews"], 1);
    assert_eq!(publisher.messages().len(), 3);
}

/// The basic scan fixture as event `id`, counting `critical` CRITICAL findings.
fn counting(id: &str, critical: u64) -> Value {
    let mut e = rescan(id);
    e["detail"]["finding-severity-counts"]["CRITICAL"] = json!(critical);
    e
}

/// Before: when only the first `MAX_FINDINGS` findings were read and every one of them was
/// known, the rescan was "nothing new" even though the event counted more CRITICALs than were
/// ever alerted: the new one was past the read. Now the counts are weighed too (the note keeps
/// a partly read scan's counts), and the rise alerts as news, counted; the same counts again
/// stay quiet, and a new finding read is not counted twice.
#[tokio::test]
async fn a_partly_read_rescan_whose_counts_grew_is_news() {
    let findings = Rescans::new(basic_findings().findings);
    findings.0.lock().unwrap().complete = false;
    let publisher = MemoryPublisher::default();
    let alert = with_notes(&findings, &publisher, "per-protocol");
    // N = 5 CRITICAL counted, one read.
    let (first, _) = scan(&alert, counting("week-1", 5)).await;
    assert_eq!(first["alerts"], 1);
    let (same, _) = scan(&alert, counting("week-2", 5)).await;
    assert_eq!(same["scansWithoutNews"], 1, "the counts alerted before: {same}");

    // N + 1: every finding read is known, the count is not.
    let (grew, _) = scan(&alert, counting("week-3", 6)).await;
    assert_eq!(grew["alerts"], 1, "{grew}");
    assert_eq!(grew["results"][0]["outcome"], "published");
    let m = &publisher.messages()[1];
    assert_eq!(
        m.subject,
        "[CRITICAL] web-app:v1.4.2: 1 new since the last scan (CRITICAL 1)"
    );
    let text = text_of(m);
    assert!(
        text.starts_with(
            "[CRITICAL] web-app:v1.4.2: 1 new since the last scan (CRITICAL 1)\n\n\
             1 new since the last scan: CRITICAL 1 more counted by the scan, past the findings read (MAX_FINDINGS)\n\
             Known:         CRITICAL 1, HIGH 3, alerted before (counted, not listed)\n"
        ),
        "{text}"
    );
    assert!(!text.contains("New findings"), "none read to list: {text}");
    assert_eq!(
        document(m)["news"],
        json!({
            "since": "last scan",
            "new": 1,
            "known": {"CRITICAL": 1, "HIGH": 3},
            "fixed": [],
            "omittedFixed": 0,
            "unread": {"CRITICAL": 1},
        })
    );
    assert_eq!(document(m)["findings"], json!([]));

    // Alerted: the same counts again are not news.
    let (quiet, _) = scan(&alert, counting("week-4", 6)).await;
    assert_eq!(quiet["scansWithoutNews"], 1, "{quiet}");
    // One more, and it is read: named once, not counted again as unread.
    findings.0.lock().unwrap().findings = findings_and(&[("CVE-2025-1111", VulnSeverity::Critical)]);
    let (read, _) = scan(&alert, counting("week-5", 7)).await;
    assert_eq!(read["alerts"], 1);
    let m = &publisher.messages()[2];
    assert_eq!(m.subject, "[CRITICAL] CVE-2025-1111 new in web-app:v1.4.2");
    assert!(
        document(m)["news"].get("unread").is_none(),
        "{}",
        document(m)["news"]
    );
    assert_eq!(publisher.messages().len(), 3);
}
