//! ecr-rescan end to end: the binary through the Lambda Runtime API, against moto's ECR,
//! Inspector2 and SNS; the summary is read back from an SQS queue.

use lookout_tests::Function;
use lookout_tests::ecr::{create_repository, put_image, was_scanned};
use lookout_tests::moto::{Moto, TopicWithQueue};
use lookout_tests::workspace::{binary, event_file};
use serde_json::{Value, json};

struct Registry {
    moto: Moto,
    ecr: aws_sdk_ecr::Client,
    topic: TopicWithQueue,
}

async fn registry() -> Registry {
    let moto = Moto::start();
    let config = moto.sdk_config().await;
    let topic = TopicWithQueue::create(&config, "rescan", false).await;
    Registry {
        ecr: aws_sdk_ecr::Client::new(&config),
        moto,
        topic,
    }
}

fn rescan(r: &Registry, extra: &[(&str, &str)]) -> Function {
    let mut env = r.moto.function_env();
    env.push(("ALERT_TOPIC_ARN".into(), r.topic.topic_arn.clone()));
    // The shipped defaults: adaptive rate, default concurrency.
    env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    Function::spawn(&binary("ecr-rescan"), &env)
}

#[tokio::test]
async fn basic_rescan_then_a_second_run_within_24_hours() {
    let r = registry().await;
    for repo in ["web-app", "api", "scratch"] {
        create_repository(&r.ecr, repo).await;
    }
    // web-app: 3 tagged digests (one with two tags) and 2 untagged ones.
    let mut web_tagged = Vec::new();
    for (seed, tag) in [(1, "v1"), (2, "v2"), (3, "v3")] {
        web_tagged.push(put_image(&r.ecr, "web-app", seed, Some(tag)).await);
    }
    put_image(&r.ecr, "web-app", 1, Some("latest")).await;
    let web_untagged = [
        put_image(&r.ecr, "web-app", 4, None).await,
        put_image(&r.ecr, "web-app", 5, None).await,
    ];
    // api: more images than one DescribeImages page (1,000).
    let mut api = Vec::new();
    for i in 0..1_005u64 {
        api.push(put_image(&r.ecr, "api", 1_000 + i, Some(&format!("build-{i}"))).await);
    }
    let scratch = put_image(&r.ecr, "scratch", 9, Some("tmp")).await;

    let function = rescan(&r, &[("REPOSITORY_EXCLUDE", "scratch")]);
    let summary = function
        .invoke(&event_file("ecr-rescan/scheduled.json"))
        .response()
        .clone();
    assert_eq!(summary["scanType"], "BASIC");
    assert_eq!(summary["repositories"], 2);
    assert_eq!(summary["images"], 5 + 1_005);
    assert_eq!(
        summary["outcomes"],
        json!({"started": 3 + 1_005, "skippedUntagged": 2})
    );
    assert_eq!(summary["complete"], true);
    for digest in &web_tagged {
        assert!(was_scanned(&r.ecr, "web-app", digest).await, "{digest}");
    }
    for digest in &web_untagged {
        assert!(
            !was_scanned(&r.ecr, "web-app", digest).await,
            "untagged {digest} must not be scanned"
        );
    }
    assert!(
        was_scanned(&r.ecr, "api", &api[1_004]).await,
        "the last image past the first page"
    );
    assert!(
        !was_scanned(&r.ecr, "scratch", &scratch).await,
        "excluded repository"
    );

    let delivered = r.topic.drain().await;
    assert_eq!(delivered.len(), 1);
    assert_eq!(
        delivered[0].subject(),
        Some("[Lookout] ECR rescan: 1,008 started, 0 already scanned, 0 failed")
    );
    let doc = delivered[0].message_json();
    assert_eq!(doc["source"], "lookout.ecr-rescan");
    assert_eq!(doc["outcomes"]["started"], 1_008);

    // Within 24 h every image hits the per-image quota: counted, not retried, not a failure.
    let summary = function.invoke(&json!({})).response().clone();
    assert_eq!(
        summary["outcomes"],
        json!({"alreadyScanned": 1_008, "skippedUntagged": 2})
    );
    assert_eq!(summary["complete"], true);
    assert_eq!(
        r.topic.drain().await[0].subject(),
        Some("[Lookout] ECR rescan: 0 started, 1,008 already scanned, 0 failed")
    );
}

#[tokio::test]
async fn a_retry_after_the_summary_publish_failed_starts_no_scan_twice() {
    let moto = Moto::start();
    let config = moto.sdk_config().await;
    let ecr = aws_sdk_ecr::Client::new(&config);
    create_repository(&ecr, "web-app").await;
    let mut digests = Vec::new();
    for i in 0..5u64 {
        digests.push(put_image(&ecr, "web-app", 100 + i, Some(&format!("v{i}"))).await);
    }
    // The topic does not exist yet: the first summary publish fails.
    let topic_arn = "arn:aws:sns:us-east-1:123456789012:rescan-late";
    let mut env = moto.function_env();
    env.push(("ALERT_TOPIC_ARN".into(), topic_arn.into()));
    let function = Function::spawn(&binary("ecr-rescan"), &env);
    let outcome = function.invoke(&json!({}));
    let (error_type, _) = outcome.error();
    assert_eq!(error_type, "Lookout.PublishFailed");
    for digest in &digests {
        assert!(was_scanned(&ecr, "web-app", digest).await, "{digest}");
    }

    // Lambda retries the event once the topic is back. moto lists no scan status, so the
    // retry asks again and ECR's per-image quota answers: counted, none started twice.
    let topic = TopicWithQueue::create(&config, "rescan-late", false).await;
    assert_eq!(topic.topic_arn, topic_arn);
    let summary = function.invoke(&json!({})).response().clone();
    assert_eq!(summary["outcomes"], json!({"alreadyScanned": 5}));
    assert_eq!(summary["complete"], true);
    assert_eq!(
        topic.drain().await[0].subject(),
        Some("[Lookout] ECR rescan: 0 started, 5 already scanned, 0 failed")
    );
}

#[tokio::test]
async fn a_dry_run_lists_what_it_would_scan_and_starts_nothing() {
    let r = registry().await;
    create_repository(&r.ecr, "web-app").await;
    let a = put_image(&r.ecr, "web-app", 1, Some("v1")).await;
    let b = put_image(&r.ecr, "web-app", 2, Some("v2")).await;
    let function = rescan(&r, &[("MESSAGE_FORMAT", "text")]);
    let summary = function
        .invoke(&event_file("ecr-rescan/dry-run.json"))
        .response()
        .clone();
    assert_eq!(summary["dryRun"], true);
    assert_eq!(summary["outcomes"], json!({"wouldScan": 2}));
    let listed: Vec<&str> = summary["wouldScan"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["digest"].as_str().unwrap())
        .collect();
    assert!(listed.contains(&a.as_str()) && listed.contains(&b.as_str()));
    assert!(!was_scanned(&r.ecr, "web-app", &a).await && !was_scanned(&r.ecr, "web-app", &b).await);
    let delivered = r.topic.drain().await;
    assert_eq!(
        delivered[0].subject(),
        Some("[Lookout] ECR rescan dry run: 2 images would be scanned")
    );
    assert_eq!(delivered[0].attribute("scansStarted"), Some("0"));
}

#[tokio::test]
async fn overrides_narrow_the_run() {
    let r = registry().await;
    for repo in ["web-app", "web-admin", "api"] {
        create_repository(&r.ecr, repo).await;
    }
    for i in 0..8u64 {
        put_image(&r.ecr, "web-app", 10 + i, Some(&format!("v{i}"))).await;
        put_image(&r.ecr, "api", 30 + i, Some(&format!("v{i}"))).await;
    }
    put_image(&r.ecr, "web-admin", 50, Some("v1")).await;
    let function = rescan(&r, &[]);
    let summary = function
        .invoke(&event_file("ecr-rescan/override.json"))
        .response()
        .clone();
    assert_eq!(summary["repositories"], 2, "web-* only");
    assert_eq!(
        summary["outcomes"],
        json!({"started": 5 + 1, "skippedNotLatest": 3})
    );
}

#[tokio::test]
async fn bad_input_is_a_clear_error() {
    let r = registry().await;
    let function = rescan(&r, &[]);
    let outcome = function.invoke(&json!({"dryRun": "yes", "repos": []}));
    let (error_type, message) = outcome.error();
    assert_eq!(error_type, "Lookout.InvalidInput");
    assert!(message.contains("invalid ecr-rescan input"), "{message}");
    assert!(
        !message.contains("yes") && !message.contains("repos\""),
        "quotes the payload: {message}"
    );
    assert!(r.topic.drain().await.is_empty());
}

#[tokio::test]
async fn an_enhanced_registry_gets_an_inspector_report_and_no_scan() {
    let r = registry().await;
    create_repository(&r.ecr, "svc").await;
    let digest = put_image(&r.ecr, "svc", 7, Some("v1")).await;
    r.ecr
        .put_registry_scanning_configuration()
        .scan_type(aws_sdk_ecr::types::ScanType::Enhanced)
        .rules(
            aws_sdk_ecr::types::RegistryScanningRule::builder()
                .scan_frequency(aws_sdk_ecr::types::ScanFrequency::ContinuousScan)
                .repository_filters(
                    aws_sdk_ecr::types::ScanningRepositoryFilter::builder()
                        .filter("*")
                        .filter_type(aws_sdk_ecr::types::ScanningRepositoryFilterType::Wildcard)
                        .build()
                        .unwrap(),
                )
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    r.moto.post(
        "/moto-api/static/inspector2/findings-results",
        &json!({"account_id": "123456789012", "region": "us-east-1", "results": [[inspector_finding("svc", &digest)]]}),
    );
    let function = rescan(&r, &[]);
    // moto does not serve ListCoverage or GetConfiguration: the report is published, then the
    // run fails so the Errors alarm hears of the parts it could not read.
    let outcome = function.invoke(&json!({}));
    let (error_type, message) = outcome.error();
    assert_eq!(error_type, "Lookout.InspectorUnreadable");
    assert!(message.contains("could not be read"), "{message}");
    let delivered = r.topic.drain().await;
    assert_eq!(delivered.len(), 1, "the summary went out before the error");
    let summary: Value = delivered[0].message_json();
    assert_eq!(summary["scanType"], "ENHANCED");
    assert!(
        !was_scanned(&r.ecr, "svc", &digest).await,
        "no StartImageScan under ENHANCED"
    );
    let findings = &summary["enhanced"]["findings"];
    assert_eq!(findings["total"], 1);
    assert_eq!(
        findings["images"][0]["findings"][0]["vulnerabilityId"],
        "CVE-2024-0001"
    );
    // The report says which parts were missing.
    assert!(
        summary["enhanced"]["coverage"]["unavailable"]
            .as_str()
            .unwrap()
            .contains("ListCoverage")
    );
    assert!(
        summary["enhanced"]["rescanDurations"]["unavailable"]
            .as_str()
            .unwrap()
            .contains("GetConfiguration")
    );

    assert_eq!(
        delivered[0].subject(),
        Some("[Lookout] Inspector: CRITICAL 1 findings")
    );
    assert_eq!(
        summary["enhanced"]["findings"]["images"][0]["findings"][0]["package"],
        "openssl"
    );
}

fn inspector_finding(repository: &str, digest: &str) -> Value {
    json!({
        "findingArn": "arn:aws:inspector2:us-east-1:123456789012:finding/0123456789abcdef",
        "awsAccountId": "123456789012",
        "type": "PACKAGE_VULNERABILITY",
        "title": "CVE-2024-0001 - openssl",
        "description": "A buffer overflow in openssl.",
        "severity": "CRITICAL",
        "status": "ACTIVE",
        "inspectorScore": 9.8,
        "fixAvailable": "YES",
        "exploitAvailable": "NO",
        "firstObservedAt": 1_700_000_000,
        "lastObservedAt": 1_700_003_600,
        "updatedAt": 1_700_003_600,
        "packageVulnerabilityDetails": {
            "vulnerabilityId": "CVE-2024-0001",
            "source": "NVD",
            "vulnerablePackages": [{"name": "openssl", "version": "3.0.0", "fixedInVersion": "3.0.1", "packageManager": "OS"}]
        },
        "resources": [{
            "type": "AWS_ECR_CONTAINER_IMAGE",
            "id": format!("arn:aws:ecr:us-east-1:123456789012:repository/{repository}/{digest}"),
            "partition": "aws",
            "region": "us-east-1",
            "details": {"awsEcrContainerImage": {"repositoryName": repository, "imageHash": digest, "registry": "123456789012", "imageTags": ["v1"], "pushedAt": 1_700_000_000}}
        }]
    })
}
