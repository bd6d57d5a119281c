//! ecr-rescan over an organisation, end to end: the binary through the Lambda Runtime API, with
//! `ACCOUNTS` naming three member accounts on moto (which answers AssumeRole for any account and
//! keeps each account's registry apart). Two members have registries; the third is unreachable:
//! the fault proxy between the binary and moto answers its AssumeRole with AccessDenied, as STS
//! does for a member without the reader role (moto does not check trust policies). The proxy
//! also counts the calls. The summary is read back from an SQS queue subscribed to the topic.

use aws_config::SdkConfig;
use lookout_tests::Function;
use lookout_tests::ecr::{create_repository, put_image, was_scanned};
use lookout_tests::fault_proxy::{Fault, FaultProxy};
use lookout_tests::moto::{Moto, TopicWithQueue, acting_in};
use lookout_tests::workspace::binary;
use serde_json::{Value, json};

const A: &str = "111111111111";
const B: &str = "222222222222";
const UNREACHABLE: &str = "333333333333";

/// An ECR client acting in `account` (the test's own setup, straight to moto).
async fn ecr_in(config: &SdkConfig, account: &str) -> aws_sdk_ecr::Client {
    aws_sdk_ecr::Client::new(&acting_in(config, account).await)
}

fn account<'v>(summary: &'v Value, id: &str) -> &'v Value {
    summary["perAccount"]
        .as_array()
        .expect("perAccount")
        .iter()
        .find(|a| a["account"] == id)
        .unwrap_or_else(|| panic!("{id} is not in {summary}"))
}

#[tokio::test]
async fn three_accounts_one_unreachable_scans_the_two_once_per_image_then_fails_after_the_summary() {
    let moto = Moto::start();
    let proxy = FaultProxy::start(&moto.endpoint);
    let config = moto.sdk_config().await;
    let topic = TopicWithQueue::create(&config, "rescan-org", false).await;

    // The central account's own registry: not in ACCOUNTS, so never rescanned.
    let central = aws_sdk_ecr::Client::new(&config);
    create_repository(&central, "central").await;
    let central_image = put_image(&central, "central", 90, Some("v1")).await;
    // A: three tagged images and an untagged one; B: two repositories.
    let ecr_a = ecr_in(&config, A).await;
    create_repository(&ecr_a, "web").await;
    let mut tagged = Vec::new();
    for seed in 1..=3u64 {
        tagged.push((
            A,
            "web",
            put_image(&ecr_a, "web", seed, Some(&format!("v{seed}"))).await,
        ));
    }
    let untagged = put_image(&ecr_a, "web", 4, None).await;
    let ecr_b = ecr_in(&config, B).await;
    for (repository, seeds) in [("api", 10..=11u64), ("jobs", 20..=20)] {
        create_repository(&ecr_b, repository).await;
        for seed in seeds {
            let digest = put_image(&ecr_b, repository, seed, Some(&format!("build-{seed}"))).await;
            tagged.push((B, repository, digest));
        }
    }

    // The third member's STS answer: AccessDenied, for as long as the test runs.
    proxy.inject_when(
        "AssumeRole",
        Some(UNREACHABLE),
        Fault::Error("AccessDenied"),
        usize::MAX,
    );
    let accounts = format!("{A},{UNREACHABLE},{B}");
    let mut env = moto.function_env();
    env.retain(|(k, _)| k != "AWS_ENDPOINT_URL");
    env.extend(
        [
            ("AWS_ENDPOINT_URL", proxy.endpoint.as_str()),
            ("ALERT_TOPIC_ARN", topic.topic_arn.as_str()),
            ("ACCOUNTS", accounts.as_str()),
        ]
        .map(|(k, v)| (k.to_string(), v.to_string())),
    );
    let function = Function::spawn(&binary("ecr-rescan"), &env);

    // Before: ACCOUNTS was not read; the run rescanned the central registry and succeeded.
    let outcome = function.invoke(&json!({}));
    let (error_type, message) = outcome.error();
    assert_eq!(error_type, "Lookout.MemberUnreachable");
    assert!(
        message.starts_with("cannot assume LookoutReader in 333333333333: access denied"),
        "{message}"
    );
    assert_eq!(
        proxy.seen("StartImageScan"),
        tagged.len(),
        "one StartImageScan per image of the two reachable registries"
    );
    for (owner, repository, digest) in &tagged {
        let ecr = if *owner == A { &ecr_a } else { &ecr_b };
        assert!(
            was_scanned(ecr, repository, digest).await,
            "{owner} {repository} {digest}"
        );
    }
    assert!(!was_scanned(&ecr_a, "web", &untagged).await, "untagged");
    assert!(
        !was_scanned(&central, "central", &central_image).await,
        "the central registry is not in ACCOUNTS"
    );

    // The summary went out before the error, and names the third account and why.
    let delivered = topic.one().await;
    assert_eq!(
        delivered.subject(),
        Some("[Lookout] ECR rescan, 3 accounts (1 failed): 6 started, 0 already scanned, 0 failed (partial)")
    );
    let summary = delivered.message_json();
    assert_eq!(summary["accounts"], json!({"unreachable": 1, "reached": 2}));
    assert_eq!(summary["outcomes"], json!({"started": 6, "skippedUntagged": 1}));
    assert_eq!(summary["complete"], false);
    let third = account(&summary, UNREACHABLE);
    assert_eq!(third["status"], "unreachable");
    assert_eq!(
        third["problem"],
        "cannot assume LookoutReader in 333333333333: access denied (role missing or not trusting this function)"
    );
    let a = &account(&summary, A)["registry"];
    assert_eq!(a["outcomes"], json!({"started": 3, "skippedUntagged": 1}));
    let b = &account(&summary, B)["registry"];
    assert_eq!(
        (b["repositories"].clone(), b["outcomes"].clone()),
        (json!(2), json!({"started": 3}))
    );
    assert_eq!(proxy.seen("AssumeRole"), 3, "A, B and the denied one");

    // Lambda's retry (the function still warm): A's and B's credentials are cached, the denied
    // account is asked again, and ECR's per-image quota answers every scan: none is repeated.
    let outcome = function.invoke(&json!({}));
    assert_eq!(outcome.error().0, "Lookout.MemberUnreachable");
    assert_eq!(
        proxy.seen("AssumeRole"),
        4,
        "only the denied account is assumed again"
    );
    let summary = topic.one().await.message_json();
    assert_eq!(
        summary["outcomes"],
        json!({"alreadyScanned": 6, "skippedUntagged": 1})
    );
}
