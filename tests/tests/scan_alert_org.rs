//! scan-alert in organisation mode (issue 24 §4), end to end: the binary through the Lambda
//! Runtime API, talking to moto through the fault proxy. moto answers AssumeRole for any
//! account id and keeps each account's registry apart, so a member's repository, image and
//! scan findings are created on credentials assumed in it; "no reader role" is the proxy
//! refusing AssumeRole for that account's role (moto checks no trust policy). The central
//! account holds an image of the same repository and digest with other findings: a read made
//! in the wrong account shows them.

use aws_config::SdkConfig;
use lookout_tests::Function;
use lookout_tests::ecr::{create_repository, put_image, seed_scan_findings_in};
use lookout_tests::fault_proxy::{Fault, FaultProxy};
use lookout_tests::moto::{ACCOUNT, Moto, TopicWithQueue, acting_in};
use lookout_tests::workspace::{binary, event_file};
use serde_json::{Value, json};

/// Member accounts: A has the reader role, B has none.
const A: &str = "111111111111";
const B: &str = "222222222222";

struct Setup {
    moto: Moto,
    proxy: FaultProxy,
    topic: TopicWithQueue,
    /// web-app:v1.4.2, the same image in the central account, A and B.
    digest: String,
}

/// An ECR client acting in `account` (the test's own setup, straight to moto).
async fn ecr_in(config: &SdkConfig, account: &str) -> aws_sdk_ecr::Client {
    aws_sdk_ecr::Client::new(&acting_in(config, account).await)
}

/// Pushes web-app:v1.4.2 to `ecr`'s registry, scans it, and queues `findings` as its result.
async fn scanned(moto: &Moto, ecr: &aws_sdk_ecr::Client, account: &str, findings: &[(&str, &str)]) -> String {
    create_repository(ecr, "web-app").await;
    let digest = put_image(ecr, "web-app", 42, Some("v1.4.2")).await;
    ecr.start_image_scan()
        .repository_name("web-app")
        .image_id(
            aws_sdk_ecr::types::ImageIdentifier::builder()
                .image_digest(&digest)
                .build(),
        )
        .send()
        .await
        .expect("start image scan");
    seed_scan_findings_in(moto, account, "web-app", &digest, findings);
    digest
}

async fn setup() -> Setup {
    let moto = Moto::start();
    let config = moto.sdk_config().await;
    let topic = TopicWithQueue::create(&config, "scans-org", false).await;
    let proxy = FaultProxy::start(&moto.endpoint);
    let central = aws_sdk_ecr::Client::new(&config);
    let digest = scanned(&moto, &central, ACCOUNT, &[("CVE-2025-9000", "CRITICAL")]).await;
    let in_a = scanned(
        &moto,
        &ecr_in(&config, A).await,
        A,
        &[("CVE-2025-1111", "CRITICAL"), ("CVE-2025-2222", "HIGH")],
    )
    .await;
    let in_b = scanned(
        &moto,
        &ecr_in(&config, B).await,
        B,
        &[("CVE-2025-3333", "CRITICAL")],
    )
    .await;
    assert!(in_a == digest && in_b == digest, "one image, three registries");
    Setup {
        moto,
        proxy,
        topic,
        digest,
    }
}

/// scan-alert in organisation mode with A and B as members, A named, through the proxy.
fn scan_alert(s: &Setup) -> Function {
    let mut env = s.moto.function_env();
    env.retain(|(k, _)| k != "AWS_ENDPOINT_URL");
    let names = format!(r#"{{"{A}": "payments-prod"}}"#);
    let members = format!("{A},{B}");
    for (k, v) in [
        ("AWS_ENDPOINT_URL", s.proxy.endpoint.as_str()),
        ("ALERT_TOPIC_ARN", s.topic.topic_arn.as_str()),
        ("MEMBER_ACCOUNTS", members.as_str()),
        ("ACCOUNT_NAMES", names.as_str()),
    ] {
        env.push((k.to_string(), v.to_string()));
    }
    Function::spawn(&binary("scan-alert"), &env)
}

/// The basic scan sample for the image, as `account` sends it, with its counts.
fn scan_event(s: &Setup, account: &str, id: &str, counts: Value) -> Value {
    let mut event = event_file("scan-alert/ecr-scan-complete.json");
    event["id"] = json!(id);
    event["account"] = json!(account);
    event["detail"]["image-digest"] = json!(s.digest);
    event["detail"]["finding-severity-counts"] = counts;
    event
}

fn finding_ids(doc: &Value) -> Vec<&str> {
    doc["findings"]
        .as_array()
        .map(|f| f.iter().filter_map(|f| f["vulnerabilityId"].as_str()).collect())
        .unwrap_or_default()
}

/// Before: the findings were read with the function's own client, in the central registry
/// (CVE-2025-9000), and the alert did not name the account.
#[tokio::test]
async fn a_members_image_alerts_with_the_findings_read_through_its_role_and_its_name() {
    let s = setup().await;
    let function = scan_alert(&s);

    let response = function
        .invoke(&scan_event(&s, A, "a-1", json!({"CRITICAL": 1, "HIGH": 1})))
        .response()
        .clone();
    assert_eq!(response["alerts"], 1, "{response}");
    assert_eq!(response["results"][0]["account"], A);
    assert!(
        response["results"][0].get("findingsUnavailable").is_none(),
        "{response}"
    );
    let delivered = s.topic.one().await;
    assert_eq!(
        delivered.subject(),
        Some("[CRITICAL] payments-prod: web-app:v1.4.2: CRITICAL 1, HIGH 1")
    );
    let doc = delivered.message_json();
    assert_eq!(
        finding_ids(&doc),
        ["CVE-2025-1111", "CVE-2025-2222"],
        "A's, not the central account's"
    );
    assert_eq!(
        (&doc["account"], &doc["accountName"]),
        (&json!(A), &json!("payments-prod"))
    );
    assert_eq!(s.proxy.seen("AssumeRole"), 1);
    assert_eq!(s.proxy.seen("DescribeImageScanFindings"), 1);

    // A rescan in the same warm container: A's credentials (and client) are reused.
    function
        .invoke(&scan_event(&s, A, "a-2", json!({"CRITICAL": 1, "HIGH": 1})))
        .response();
    assert_eq!(finding_ids(&s.topic.one().await.message_json()).len(), 2);
    assert_eq!(s.proxy.seen("AssumeRole"), 1, "cached across invocations");
}

/// B has no reader role: the alert still goes out, with the event's counts and no findings,
/// and says why; the failure is counted and logged with B's account and the error's kind.
#[tokio::test]
async fn a_member_whose_role_is_refused_still_alerts_without_findings_and_says_why() {
    let s = setup().await;
    s.proxy
        .inject_when("AssumeRole", Some(B), Fault::Error("AccessDenied"), usize::MAX);
    let function = scan_alert(&s);

    let response = function
        .invoke(&scan_event(&s, B, "b-1", json!({"CRITICAL": 1})))
        .response()
        .clone();
    assert_eq!(response["alerts"], 1, "{response}");
    assert_eq!(response["results"][0]["findingsUnavailable"], "memberUnreachable");
    assert_eq!(function.last_emf()["MemberAccessFailures"], 1);
    let delivered = s.topic.one().await;
    assert_eq!(
        delivered.subject(),
        Some("[CRITICAL] 222222222222: web-app:v1.4.2: CRITICAL 1")
    );
    let doc = delivered.message_json();
    assert!(finding_ids(&doc).is_empty(), "{doc}");
    assert_eq!(
        doc["severityCounts"],
        json!({"CRITICAL": 1}),
        "the event's counts"
    );
    assert_eq!(
        doc["notes"],
        json!([
            "Findings unavailable: cannot assume LookoutReader in 222222222222: access denied (role missing or not trusting this function); counts are from the event."
        ])
    );
    assert!(
        !delivered.body.contains("CVE-2025-9000"),
        "no other registry's findings"
    );
    assert_eq!(s.proxy.seen("DescribeImageScanFindings"), 0);
    let logged: Vec<String> = function
        .output()
        .into_iter()
        .filter(|l| l.contains("cannot read a member account"))
        .collect();
    assert_eq!(logged.len(), 1, "{logged:?}");
    assert!(
        logged[0].contains(B) && logged[0].contains("Denied") && !logged[0].contains("web-app"),
        "{}",
        logged[0]
    );

    // A refusal is not cached: B's next event asks again, and A is read as usual.
    function
        .invoke(&scan_event(&s, B, "b-2", json!({"CRITICAL": 1})))
        .response();
    s.topic.one().await;
    function
        .invoke(&scan_event(&s, A, "a-1", json!({"CRITICAL": 1, "HIGH": 1})))
        .response();
    assert_eq!(finding_ids(&s.topic.one().await.message_json()).len(), 2);
    assert_eq!(s.proxy.seen("AssumeRole"), 3, "B twice, A once");
}
