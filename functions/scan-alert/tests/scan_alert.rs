//! scan-alert's decisions on the events/ fixtures, with a fake findings source and an
//! in-memory publisher: thresholds, ignore lists, FAILED scans, grouping, every event type.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failed test

use lookout_shared::aws::ApiError;
use lookout_shared::config::Env;
use lookout_shared::deadline::Deadline;
use lookout_shared::findings::{Finding, VulnSeverity};
use lookout_shared::invocation::{FunctionError, Invocation, invoke};
use lookout_shared::notification::SnsMessage;
use lookout_shared::publish::MemoryPublisher;
use scan_alert::config::ScanAlertConfig;
use scan_alert::handler::ScanAlert;
use scan_alert::scan_findings::{BasicScanFindings, ScanFindingsSource};
use serde_json::{Value, json};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

fn fixture(name: &str) -> Value {
    let path = format!("{}/../../events/scan-alert/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

struct FakeFindings {
    result: Result<BasicScanFindings, ApiError>,
    calls: AtomicUsize,
}

impl ScanFindingsSource for FakeFindings {
    async fn basic_findings(&self, _: &str, _: &str, _: usize) -> Result<BasicScanFindings, ApiError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
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
}

async fn run_with(env: &[(&str, &str)], source: Result<BasicScanFindings, ApiError>, payload: Value) -> Run {
    let mut pairs = vec![
        ("ALERT_TOPIC_ARN", "arn:aws:sns:us-east-1:123456789012:alerts"),
        ("MESSAGE_FORMAT", "text"),
    ];
    pairs.extend_from_slice(env);
    let config = ScanAlertConfig::from_env(&Env::from_pairs(pairs)).unwrap();
    let publisher = MemoryPublisher::default();
    let findings = FakeFindings {
        result: source,
        calls: AtomicUsize::new(0),
    };
    let alert = ScanAlert::new(config, &findings, &publisher);
    let mut ctx = Invocation::new(Deadline::after(Duration::from_secs(30)), "test");
    let summary = invoke(&alert, payload, &mut ctx).await.unwrap();
    let response = serde_json::to_value(summary).unwrap();
    Run {
        response,
        messages: publisher.messages(),
        reads: findings.calls.load(Ordering::SeqCst),
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
    let r = run_with(&[], Err(broken), fixture("ecr-scan-failed.json")).await;
    assert_eq!(r.messages.len(), 1);
    assert!(
        r.messages[0]
            .message
            .contains("Findings could not be read (DescribeImageScanFindings: AccessDeniedException: no)")
    );
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
    let findings = FakeFindings {
        result: Ok(BasicScanFindings::default()),
        calls: AtomicUsize::new(0),
    };
    let alert = ScanAlert::new(config, findings, MemoryPublisher::default());
    let deadline = Deadline::after(Duration::from_secs(5));
    let mut ctx = Invocation::new(deadline, "test");
    let e = invoke(
        &alert,
        json!({"source": "aws.s3", "detail-type": "Object Created"}),
        &mut ctx,
    )
    .await
    .unwrap_err();
    assert_eq!(e.kind(), "InvalidEvent");
    assert!(e.to_string().contains("\"aws.s3\""), "{e}");
    let e = invoke(
        &alert,
        json!({"source": "aws.ecr", "detail-type": "ECR Image Scan", "detail": {"scan-status": "COMPLETE"}}),
        &mut ctx,
    )
    .await
    .unwrap_err();
    assert!(e.to_string().contains("malformed ECR Image Scan event"), "{e}");
    assert!(invoke(&alert, json!("x"), &mut ctx).await.is_err());
}
