//! ecr-rescan against the real SDK adapters with aws-smithy-mocks: the paths moto cannot
//! serve (throttling, quota messages, Inspector coverage and configuration, deadlines).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failed test

mod common;

use aws_sdk_ecr::operation::describe_images::DescribeImagesOutput;
use aws_sdk_ecr::operation::describe_repositories::DescribeRepositoriesOutput;
use aws_sdk_ecr::operation::start_image_scan::{StartImageScanError, StartImageScanOutput};
use aws_sdk_ecr::types::error::{ImageNotFoundException, LimitExceededException};
use aws_sdk_ecr::types::{ImageDetail, Repository, ScanType};
use aws_sdk_inspector2::operation::get_configuration::GetConfigurationOutput;
use aws_sdk_inspector2::operation::list_coverage::ListCoverageOutput;
use aws_sdk_inspector2::operation::list_findings::ListFindingsOutput;
use aws_smithy_mocks::{Rule, mock};
use ecr_rescan::{EcrRegistry, Inspector2, Registry, Rescan, RescanConfig};
use lookout_shared::aws::ApiError;
use lookout_shared::config::{Env, TopicArn};
use lookout_shared::deadline::Deadline;
use lookout_shared::envelope::Incoming;
use lookout_shared::invocation::{Invocation, diagnostic, invoke};
use lookout_shared::metrics::MetricsConfig;
use lookout_shared::notification::SnsMessage;
use lookout_shared::notification::{AttributeValue, Delivery, MessageFormat, SNS_MAX_REQUEST_BYTES};
use lookout_shared::publish::{MemoryPublisher, PublishError, Publisher};
use lookout_shared::state::{MemoryStore, SystemClock};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::time::Duration;

use common::{FORGED, OWN, assert_quoted, config, ecr, error_of, finding, forged_registry, images};
use common::{empty_configuration, empty_coverage, inspector, json_error, no_findings};
use common::{no_repository_frequencies, repositories, scan_ok, scan_type, sqs_document, summary_of};

const QUOTA: &str = "The scan quota per image has been exceeded. Wait and try again.";

fn scan_of(
    digest: &'static str,
) -> aws_smithy_mocks::RuleBuilder<
    aws_sdk_ecr::operation::start_image_scan::StartImageScanInput,
    StartImageScanOutput,
    StartImageScanError,
> {
    mock!(aws_sdk_ecr::Client::start_image_scan)
        .match_requests(move |r| r.image_id().and_then(|i| i.image_digest()) == Some(digest))
}

async fn run(
    config: RescanConfig,
    ecr: aws_sdk_ecr::Client,
    inspector: aws_sdk_inspector2::Client,
    event: Value,
) -> Value {
    let rescan = Rescan::new(
        config,
        EcrRegistry::new(ecr),
        Inspector2::new(inspector),
        None::<MemoryPublisher>,
    );
    summary_of(&rescan, event, Deadline::after(Duration::from_secs(600)), "req-1").await
}

#[tokio::test]
async fn the_per_image_quota_is_not_retried() {
    // The SDK's default classifier would retry this as throttling: 3 calls instead of 1.
    let quota = scan_of("sha256:a")
        .sequence()
        .http_status(400, Some(json_error("LimitExceededException", QUOTA)))
        .repeatedly()
        .build();
    let registry = EcrRegistry::new(ecr(&[&quota]));
    let err = registry.start_scan("web", "sha256:a").await.unwrap_err();
    assert_eq!(err, ecr_rescan::ScanError::ImageQuota);
    assert_eq!(quota.num_calls(), 1);
}

#[tokio::test]
async fn listing_retries_throttling_then_succeeds() {
    let throttled = mock!(aws_sdk_ecr::Client::describe_images)
        .sequence()
        .http_status(400, Some(json_error("ThrottlingException", "Rate exceeded")))
        .times(2)
        .output(|| {
            DescribeImagesOutput::builder()
                .image_details(ImageDetail::builder().image_digest("sha256:a").build())
                .build()
        })
        .build();
    let registry = EcrRegistry::new(ecr(&[&throttled]));
    let images = registry.images("web").await.unwrap();
    assert_eq!(images.len(), 1);
    assert_eq!(throttled.num_calls(), 3);
}

#[tokio::test]
async fn every_page_is_read() {
    let repos_1 = mock!(aws_sdk_ecr::Client::describe_repositories)
        .match_requests(|r| r.next_token().is_none())
        .then_output(|| {
            DescribeRepositoriesOutput::builder()
                .repositories(Repository::builder().repository_name("a").build())
                .next_token("r2")
                .build()
        });
    let repos_2 = mock!(aws_sdk_ecr::Client::describe_repositories)
        .match_requests(|r| r.next_token() == Some("r2"))
        .then_output(|| {
            DescribeRepositoriesOutput::builder()
                .repositories(Repository::builder().repository_name("b").build())
                .build()
        });
    let page = |digest: &'static str, next: Option<&'static str>| {
        move || {
            DescribeImagesOutput::builder()
                .image_details(ImageDetail::builder().image_digest(digest).build())
                .set_next_token(next.map(String::from))
                .build()
        }
    };
    let images_1 = mock!(aws_sdk_ecr::Client::describe_images)
        .match_requests(|r| r.next_token().is_none())
        .then_output(page("sha256:1", Some("i2")));
    let images_2 = mock!(aws_sdk_ecr::Client::describe_images)
        .match_requests(|r| r.next_token() == Some("i2"))
        .then_output(page("sha256:2", Some("i3")));
    let images_3 = mock!(aws_sdk_ecr::Client::describe_images)
        .match_requests(|r| r.next_token() == Some("i3"))
        .then_output(page("sha256:3", None));
    let registry = EcrRegistry::new(ecr(&[&repos_1, &repos_2, &images_1, &images_2, &images_3]));
    let names: Vec<String> = registry
        .repositories()
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.name)
        .collect();
    assert_eq!(names, ["a", "b"]);
    let digests: Vec<String> = registry
        .images("a")
        .await
        .unwrap()
        .into_iter()
        .map(|i| i.digest)
        .collect();
    assert_eq!(digests, ["sha256:1", "sha256:2", "sha256:3"]);
}

#[tokio::test(start_paused = true)]
async fn scans_retry_throttling_then_start() {
    let throttled = scan_of("sha256:a")
        .sequence()
        .http_status(400, Some(json_error("ThrottlingException", "Rate exceeded")))
        .times(2)
        .output(|| StartImageScanOutput::builder().build())
        .build();
    let rules = [
        &scan_type(ScanType::Basic),
        &repositories(&["web"]),
        &images("web", &["sha256:a"]),
        &throttled,
    ];
    let summary = run(config(&[]), ecr(&rules), inspector(&[]), json!({})).await;
    assert_eq!(summary["outcomes"], json!({"started": 1}));
    assert_eq!(throttled.num_calls(), 3);
    assert_eq!(summary["complete"], true);
}

#[tokio::test(start_paused = true)]
async fn throttling_that_never_ends_fails_the_image_and_then_the_run() {
    let throttled = scan_of("sha256:a")
        .sequence()
        .http_status(400, Some(json_error("ThrottlingException", "Rate exceeded")))
        .repeatedly()
        .build();
    let rules = [
        &scan_type(ScanType::Basic),
        &repositories(&["web"]),
        &images("web", &["sha256:a", "sha256:b"]),
        &throttled,
        &scan_ok(),
    ];
    let publisher = MemoryPublisher::default();
    let rescan = publishing_text(config(&[("MAX_SCAN_ATTEMPTS", "3")]), &rules, &publisher);
    let (error_type, message) = error_of(&rescan, json!({}), Deadline::after(Duration::from_secs(600))).await;
    // One image of two failed: the run goes on, the summary is published, then the error.
    assert_eq!(error_type, "Lookout.ScansFailed");
    assert_eq!(
        message,
        "1 images could not be scanned and 0 repositories could not be listed; the summary says which"
    );
    assert_eq!(throttled.num_calls(), 3);
    let sent = publisher.messages();
    assert_eq!(sent.len(), 1);
    assert_eq!(
        sent[0].subject,
        "[Lookout] ECR rescan: 1 started, 0 already scanned, 1 failed (partial)"
    );
    assert!(
        sent[0].message.contains("ThrottlingException") && sent[0].message.contains("after 3 attempts"),
        "{}",
        sent[0].message
    );
}

#[tokio::test]
async fn the_per_image_quota_counts_as_scanned_and_the_account_cap_stops_the_run() {
    let per_image = scan_of("sha256:a").then_error(|| {
        StartImageScanError::LimitExceededException(LimitExceededException::builder().message(QUOTA).build())
    });
    let account = scan_of("sha256:b").then_error(|| {
        StartImageScanError::LimitExceededException(
            LimitExceededException::builder()
                .message("You have exceeded the daily basic scan limit for this account.")
                .build(),
        )
    });
    let never = scan_ok();
    let rules = [
        &scan_type(ScanType::Basic),
        &repositories(&["web"]),
        &images("web", &["sha256:a", "sha256:b", "sha256:c"]),
        &per_image,
        &account,
        &never,
    ];
    let summary = run(config(&[]), ecr(&rules), inspector(&[]), json!({})).await;
    assert_eq!(
        summary["outcomes"],
        json!({"alreadyScanned": 1, "deferredAccountLimit": 2})
    );
    assert_eq!(never.num_calls(), 0, "no scan is attempted after the account cap");
    assert_eq!(summary["complete"], false);
    assert!(
        summary["notes"][0]
            .as_str()
            .unwrap()
            .contains("daily basic scan limit"),
        "{}",
        summary["notes"]
    );
}

#[tokio::test]
async fn an_image_or_repository_deleted_mid_run_is_skipped_and_counted() {
    let gone = scan_of("sha256:a").then_error(|| {
        StartImageScanError::ImageNotFoundException(ImageNotFoundException::builder().message("gone").build())
    });
    let repo_gone = mock!(aws_sdk_ecr::Client::describe_images)
        .match_requests(|r| r.repository_name() == Some("old"))
        .sequence()
        .http_status(
            400,
            Some(json_error(
                "RepositoryNotFoundException",
                "The repository with name 'old' does not exist",
            )),
        )
        .repeatedly()
        .build();
    let rules = [
        &scan_type(ScanType::Basic),
        &repositories(&["old", "web"]),
        &repo_gone,
        &images("web", &["sha256:a", "sha256:b"]),
        &gone,
        &scan_ok(),
    ];
    let summary = run(config(&[]), ecr(&rules), inspector(&[]), json!({})).await;
    assert_eq!(
        summary["outcomes"],
        json!({"started": 1, "skippedDeletedMidRun": 1})
    );
    let old = summary["perRepository"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "old")
        .unwrap();
    assert_eq!(old["error"], "deleted during the run");
    assert_eq!(
        summary["complete"], true,
        "a deleted repository leaves no work undone"
    );
}

#[tokio::test]
async fn a_listing_that_keeps_failing_makes_a_partial_run_and_an_error() {
    let broken = mock!(aws_sdk_ecr::Client::describe_images)
        .match_requests(|r| r.repository_name() == Some("broken"))
        .sequence()
        .http_status(500, Some(json_error("ServerException", "internal")))
        .repeatedly()
        .build();
    let rules = [
        &scan_type(ScanType::Basic),
        &repositories(&["broken", "web"]),
        &broken,
        &images("web", &["sha256:a"]),
        &scan_ok(),
    ];
    let publisher = MemoryPublisher::default();
    let rescan = publishing_text(config(&[]), &rules, &publisher);
    let (error_type, _) = error_of(&rescan, json!({}), Deadline::after(Duration::from_secs(600))).await;
    assert_eq!(error_type, "Lookout.ImagesNotListed");
    assert_eq!(broken.num_calls(), 3, "the SDK retried the 5xx");
    let sent = publisher.messages();
    assert_eq!(sent.len(), 1, "the summary goes out before the error");
    assert_eq!(
        sent[0].subject,
        "[Lookout] ECR rescan: 1 started, 0 already scanned, 0 failed (partial)"
    );
    assert!(
        sent[0].message.contains("1 repository could not be listed"),
        "{}",
        sent[0].message
    );
}

#[tokio::test(start_paused = true)]
async fn the_deadline_cuts_the_run_short_and_says_what_is_left() {
    let digests: &'static [&'static str] = &[
        "sha256:0", "sha256:1", "sha256:2", "sha256:3", "sha256:4", "sha256:5", "sha256:6", "sha256:7",
        "sha256:8", "sha256:9",
    ];
    let start = scan_ok();
    let rules = [
        &scan_type(ScanType::Basic),
        &repositories(&["web"]),
        &images("web", digests),
        &start,
    ];
    let rescan = Rescan::new(
        config(&[]),
        EcrRegistry::new(ecr(&rules)),
        Inspector2::new(inspector(&[])),
        None::<MemoryPublisher>,
    );
    // 10 calls a second on a paused clock: the listing goes at 0 ms and scans at 100, 200 and
    // 300 ms; at 400 ms less than the 1,000 ms margin is left of the 1,350 ms deadline.
    let summary = summary_of(
        &rescan,
        json!({}),
        Deadline::after(Duration::from_millis(1_350)),
        "req",
    )
    .await;
    assert_eq!(summary["outcomes"], json!({"started": 3, "deferredDeadline": 7}));
    assert_eq!(start.num_calls(), 3);
    assert_eq!(summary["complete"], false);
    assert!(
        summary["notes"][0]
            .as_str()
            .unwrap()
            .contains("7 images left for the next run"),
        "{}",
        summary["notes"]
    );
}

fn covered(
    repo: &str,
    digest: &str,
    reason: aws_sdk_inspector2::types::ScanStatusReason,
) -> aws_sdk_inspector2::types::CoveredResource {
    use aws_sdk_inspector2::types::*;
    CoveredResource::builder()
        .resource_type(CoverageResourceType::AwsEcrContainerImage)
        .resource_id(format!(
            "arn:aws:ecr:us-east-1:123456789012:repository/{repo}/{digest}"
        ))
        .account_id("123456789012")
        .scan_type(aws_sdk_inspector2::types::ScanType::Package)
        .scan_status(
            ScanStatus::builder()
                .status_code(if reason == ScanStatusReason::Successful {
                    ScanStatusCode::Active
                } else {
                    ScanStatusCode::Inactive
                })
                .reason(reason)
                .build()
                .unwrap(),
        )
        .resource_metadata(
            ResourceScanMetadata::builder()
                .ecr_repository(EcrRepositoryMetadata::builder().name(repo).build())
                .ecr_image(EcrContainerImageMetadata::builder().tags("v1").build())
                .build(),
        )
        .build()
        .unwrap()
}

#[tokio::test]
async fn enhanced_registries_report_inspector_and_never_start_a_scan() {
    use aws_sdk_inspector2::types::{
        EcrConfigurationState, EcrPullDateRescanDuration, EcrRescanDuration, EcrRescanDurationState,
        ScanStatusReason, Severity,
    };
    let never = scan_ok();
    let frequencies = mock!(aws_sdk_ecr::Client::batch_get_repository_scanning_configuration).then_output(|| {
        use aws_sdk_ecr::types::{RepositoryScanningConfiguration, ScanFrequency};
        aws_sdk_ecr::operation::batch_get_repository_scanning_configuration::BatchGetRepositoryScanningConfigurationOutput::builder()
            .scanning_configurations(RepositoryScanningConfiguration::builder().repository_name("web").scan_frequency(ScanFrequency::ContinuousScan).build())
            .scanning_configurations(RepositoryScanningConfiguration::builder().repository_name("legacy").scan_frequency(ScanFrequency::Manual).build())
            .build()
    });
    let ecr_rules = [
        &scan_type(ScanType::Enhanced),
        &repositories(&["legacy", "web"]),
        &never,
        &frequencies,
    ];
    let configuration = mock!(aws_sdk_inspector2::Client::get_configuration).then_output(|| {
        GetConfigurationOutput::builder()
            .ecr_configuration(
                EcrConfigurationState::builder()
                    .rescan_duration_state(
                        EcrRescanDurationState::builder()
                            .rescan_duration(EcrRescanDuration::Days180)
                            .pull_date_rescan_duration(EcrPullDateRescanDuration::Days14)
                            .build(),
                    )
                    .build(),
            )
            .build()
    });
    let coverage = mock!(aws_sdk_inspector2::Client::list_coverage).then_output(|| {
        ListCoverageOutput::builder()
            .covered_resources(covered("web", "sha256:aaa", ScanStatusReason::Successful))
            .covered_resources(covered(
                "web",
                "sha256:bbb",
                ScanStatusReason::ScanEligibilityExpired,
            ))
            .covered_resources(covered("legacy", "sha256:ccc", ScanStatusReason::UnsupportedOs))
            .build()
    });
    let findings = mock!(aws_sdk_inspector2::Client::list_findings)
        .match_requests(|r| {
            let severities: Vec<&str> = r
                .filter_criteria()
                .and_then(|f| f.severity.as_ref())
                .map(|s| s.iter().map(|f| f.value()).collect())
                .unwrap_or_default();
            severities == ["CRITICAL", "HIGH"]
        })
        .then_output(|| {
            ListFindingsOutput::builder()
                .findings(finding(
                    OWN,
                    "web",
                    "sha256:aaa",
                    "CVE-2024-0001",
                    Severity::Critical,
                ))
                .findings(finding(OWN, "web", "sha256:aaa", "CVE-2024-0002", Severity::High))
                .build()
        });
    let inspector_rules = [&configuration, &coverage, &findings];
    let summary = run(
        config(&[]),
        ecr(&ecr_rules),
        inspector(&inspector_rules),
        json!({}),
    )
    .await;
    assert_eq!(
        never.num_calls(),
        0,
        "StartImageScan is never called under ENHANCED"
    );
    assert_eq!(summary["scanType"], "ENHANCED");
    let report = &summary["enhanced"];
    assert_eq!(report["rescanDurations"]["rescanDuration"], "DAYS_180");
    assert_eq!(report["rescanDurations"]["pullDateRescanDuration"], "DAYS_14");
    assert_eq!(report["coverage"]["images"], 3);
    assert_eq!(
        report["coverage"]["gapsByReason"],
        json!({"SCAN_ELIGIBILITY_EXPIRED": ["web:v1"], "UNSUPPORTED_OS": ["legacy:v1"]})
    );
    assert_eq!(report["unscannedRepositories"], json!(["legacy"]));
    assert_eq!(report["findings"]["total"], 2);
    let image = &report["findings"]["images"][0];
    assert_eq!(image["digest"], "sha256:aaa");
    assert_eq!(image["findings"][0]["vulnerabilityId"], "CVE-2024-0001");
    assert_eq!(image["findings"][0]["fixedInVersion"], "3.0.1");
    assert_eq!(summary["complete"], true);
}

/// Issue 22 §5: a part of the report that cannot be read makes the run PARTIAL, and a partial
/// ENHANCED run is an error after its summary is published, as for BASIC (it used to succeed,
/// so the Errors alarm never fired).
#[tokio::test]
async fn an_unavailable_inspector_api_is_reported_then_an_error() {
    // moto answers these with an HTML 404; so does this mock, for every Inspector call.
    let html = || Some("<html><body>Not Found</body></html>".to_string());
    let not_found = [
        mock!(aws_sdk_inspector2::Client::get_configuration)
            .sequence()
            .http_status(404, html())
            .repeatedly()
            .build(),
        mock!(aws_sdk_inspector2::Client::list_coverage)
            .sequence()
            .http_status(404, html())
            .repeatedly()
            .build(),
        mock!(aws_sdk_inspector2::Client::list_findings)
            .sequence()
            .http_status(404, html())
            .repeatedly()
            .build(),
    ];
    let frequencies = mock!(aws_sdk_ecr::Client::batch_get_repository_scanning_configuration)
        .sequence()
        .http_status(400, Some(json_error("AccessDeniedException", "not allowed")))
        .repeatedly()
        .build();
    let ecr_rules = [
        &scan_type(ScanType::Enhanced),
        &repositories(&["web"]),
        &frequencies,
    ];
    let publisher = MemoryPublisher::default();
    let mut settings = with_topic(config(&[]));
    settings.delivery.as_mut().unwrap().format = MessageFormat::PerProtocol;
    let rescan = Rescan::new(
        settings,
        EcrRegistry::new(ecr(&ecr_rules)),
        Inspector2::new(inspector(&not_found.iter().collect::<Vec<_>>())),
        &publisher,
    );
    let (error_type, message) = error_of(&rescan, json!({}), Deadline::after(Duration::from_secs(600))).await;
    assert_eq!(error_type, "Lookout.InspectorUnreadable");
    assert_eq!(
        message,
        "4 parts of Inspector's report could not be read (rescan durations, coverage, unscanned repositories, findings); the summary says why"
    );
    let sent = publisher.messages();
    assert_eq!(sent.len(), 1, "the summary goes out first");
    assert_eq!(sent[0].subject, "[Lookout] Inspector: findings unavailable");
    let summary = sqs_document(&sent[0]);
    let report = &summary["enhanced"];
    for part in ["rescanDurations", "coverage", "findings", "unscannedRepositories"] {
        let why = report[part]["unavailable"]
            .as_str()
            .unwrap_or_else(|| panic!("{part}: {}", report[part]));
        assert!(
            why.contains("HTTP 404 without an AWS error code") || why.contains("AccessDeniedException"),
            "{part}: {why}"
        );
    }
    assert_eq!(summary["complete"], false);
}

/// Issue 22 §5: one part denied is enough: the summary is published, then the run fails.
#[tokio::test]
async fn inspector_access_denied_is_an_error_after_the_summary() {
    let frequencies = no_repository_frequencies();
    let ecr_rules = [
        &scan_type(ScanType::Enhanced),
        &repositories(&["web"]),
        &frequencies,
    ];
    let denied = mock!(aws_sdk_inspector2::Client::list_findings)
        .sequence()
        .http_status(400, Some(json_error("AccessDeniedException", "not allowed")))
        .repeatedly()
        .build();
    let (configuration, coverage) = (empty_configuration(), empty_coverage());
    let publisher = MemoryPublisher::default();
    let rescan = Rescan::new(
        with_topic(config(&[])),
        EcrRegistry::new(ecr(&ecr_rules)),
        Inspector2::new(inspector(&[&denied, &configuration, &coverage])),
        &publisher,
    );
    let (error_type, message) = error_of(&rescan, json!({}), Deadline::after(Duration::from_secs(600))).await;
    assert_eq!(error_type, "Lookout.InspectorUnreadable");
    assert_eq!(
        message,
        "1 part of Inspector's report could not be read (findings); the summary says why"
    );
    let sent = publisher.messages();
    assert_eq!(sent.len(), 1, "the summary goes out first");
    assert_eq!(
        sent[0].subject,
        "[Lookout] Inspector: findings unavailable, 0 coverage gaps"
    );
    assert!(
        sent[0].message.contains("AccessDeniedException"),
        "{}",
        sent[0].message
    );
}

/// Issue 22 §5: a complete report with nothing found says "no findings", once.
#[tokio::test]
async fn an_enhanced_report_with_no_findings_says_so_once() {
    let frequencies = no_repository_frequencies();
    let ecr_rules = [
        &scan_type(ScanType::Enhanced),
        &repositories(&["web"]),
        &frequencies,
    ];
    let findings = no_findings();
    let (configuration, coverage) = (empty_configuration(), empty_coverage());
    let publisher = MemoryPublisher::default();
    let rescan = Rescan::new(
        with_topic(config(&[])),
        EcrRegistry::new(ecr(&ecr_rules)),
        Inspector2::new(inspector(&[&findings, &configuration, &coverage])),
        &publisher,
    );
    let summary = summary_of(&rescan, json!({}), Deadline::after(Duration::from_secs(600)), "r").await;
    assert_eq!(summary["complete"], true);
    assert_eq!(
        publisher.messages()[0].subject,
        "[Lookout] Inspector: no findings, 0 coverage gaps"
    );
}

#[tokio::test]
async fn dry_runs_list_and_start_nothing_and_summaries_fit_sns() {
    let never = scan_ok();
    let rules = [
        &scan_type(ScanType::Basic),
        &repositories(&["web", "api"]),
        &images("web", &["sha256:a", "sha256:b"]),
        &images("api", &["sha256:c"]),
        &never,
    ];
    let publisher = MemoryPublisher::default();
    let rescan = publishing_text(config(&[]), &rules, &publisher);
    let summary = summary_of(
        &rescan,
        json!({"dryRun": true, "repositories": ["web"]}),
        Deadline::after(Duration::from_secs(60)),
        "req",
    )
    .await;
    assert_eq!(never.num_calls(), 0);
    assert_eq!(summary["outcomes"], json!({"wouldScan": 2}));
    assert_eq!(
        summary["repositories"], 1,
        "the override narrowed the repositories"
    );
    let messages = publisher.messages();
    assert_eq!(messages.len(), 1);
    assert_eq!(
        messages[0].subject,
        "[Lookout] ECR rescan dry run: 2 images would be scanned"
    );
    assert!(
        messages[0]
            .message
            .contains("Would scan:\n  web:v0 (sha256:a)\n  web:v1 (sha256:b)"),
        "{}",
        messages[0].message
    );
}

#[tokio::test]
async fn critical_findings_count_every_image_not_only_the_top_ten() {
    use aws_sdk_ecr::types::{FindingSeverity, ImageScanFindingsSummary};
    let listing = mock!(aws_sdk_ecr::Client::describe_images).then_output(|| {
        let mut out = DescribeImagesOutput::builder();
        for i in 0..12 {
            let summary = ImageScanFindingsSummary::builder()
                .finding_severity_counts(FindingSeverity::Critical, 1)
                .build();
            out = out.image_details(
                ImageDetail::builder()
                    .repository_name("web")
                    .image_digest(format!("sha256:{i:064x}"))
                    .image_tags(format!("v{i}"))
                    .image_scan_findings_summary(summary)
                    .build(),
            );
        }
        out.build()
    });
    let rules = [&scan_type(ScanType::Basic), &repositories(&["web"]), &listing];
    let publisher = MemoryPublisher::default();
    let rescan = publishing_text(config(&[("DRY_RUN", "true")]), &rules, &publisher);
    let summary = summary_of(
        &rescan,
        json!({}),
        Deadline::after(Duration::from_secs(60)),
        "req",
    )
    .await;
    assert_eq!(summary["topImages"].as_array().map(Vec::len), Some(10));
    let messages = publisher.messages();
    let critical = messages[0]
        .attributes
        .iter()
        .find(|a| a.name == "criticalFindings")
        .map(|a| a.value.clone());
    assert_eq!(critical, Some(AttributeValue::Number(12)));
}

/// A rescan over the mocked ECR that publishes its summary as text to `publisher`.
fn publishing_text<'p>(
    mut config: RescanConfig,
    rules: &[&Rule],
    publisher: &'p MemoryPublisher,
) -> Rescan<EcrRegistry, Inspector2, &'p MemoryPublisher> {
    config.delivery = Some(Delivery {
        topic: TopicArn::parse("T", "arn:aws:sns:us-east-1:123456789012:alerts").unwrap(),
        format: MessageFormat::Text,
        chat_app: false,
        max_request_bytes: SNS_MAX_REQUEST_BYTES,
    });
    Rescan::new(
        config,
        EcrRegistry::new(ecr(rules)),
        Inspector2::new(inspector(&[])),
        publisher,
    )
}

// ---- Delivery: once per event through the outbox, never suppressed ----

/// The scheduled event as EventBridge sends it (events/ecr-rescan/scheduled.json).
fn scheduled_event() -> Value {
    json!({
        "version": "0", "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa", "detail-type": "Scheduled Event",
        "source": "aws.events", "account": "123456789012", "time": "2025-11-25T03:00:00Z",
        "region": "us-east-1", "resources": ["arn:aws:events:us-east-1:123456789012:rule/lookout-ecr-rescan"],
        "detail": {}
    })
}

#[tokio::test]
async fn a_summary_goes_out_once_per_scheduled_event_and_once_per_manual_run() {
    let rules = [
        &scan_type(ScanType::Basic),
        &repositories(&["web"]),
        &images("web", &["sha256:a"]),
        &scan_ok(),
    ];
    let publisher = MemoryPublisher::default();
    let store = MemoryStore::new(Duration::from_secs(86_400), SystemClock);
    let rescan =
        publishing_text(config(&[]), &rules, &publisher).with_state(Some(store), Duration::from_secs(900));
    let deadline = || Deadline::after(Duration::from_secs(600));
    // Lambda's retry of the scheduled event comes with another request id: the event's id keys it.
    summary_of(&rescan, scheduled_event(), deadline(), "req-1").await;
    summary_of(&rescan, scheduled_event(), deadline(), "req-2").await;
    assert_eq!(publisher.messages().len(), 1);
    // A manual `{}` has no event id: each run reports, a retry of one (its request id) does not.
    summary_of(&rescan, json!({}), deadline(), "req-3").await;
    summary_of(&rescan, json!({}), deadline(), "req-4").await;
    assert_eq!(publisher.messages().len(), 3);
    summary_of(&rescan, json!({}), deadline(), "req-4").await;
    assert_eq!(publisher.messages().len(), 3);
    // Identical summaries in a row: a summary is never suppressed, whatever the window.
    let subjects: Vec<String> = publisher.messages().into_iter().map(|m| m.subject).collect();
    assert_eq!(subjects[1], subjects[2]);
}

#[tokio::test]
async fn a_published_summary_counts_the_delivery_metrics_once() {
    let rules = [
        &scan_type(ScanType::Basic),
        &repositories(&["web"]),
        &images("web", &["sha256:a"]),
        &scan_ok(),
    ];
    let publisher = MemoryPublisher::default();
    let rescan = publishing_text(config(&[]), &rules, &publisher);
    let mut ctx = Invocation::new(Deadline::after(Duration::from_secs(600)), "req");
    let result = invoke(&rescan, Incoming::from_document(scheduled_event()), &mut ctx).await;
    assert!(result.is_ok());
    let metrics =
        MetricsConfig::from_env(&Env::from_pairs([("METRICS_ENABLED", "true")]), "ecr-rescan").unwrap();
    let emf = ctx.metrics.to_emf(&metrics, 0).unwrap();
    assert_eq!(emf["SummariesPublished"], 1);
    assert_eq!(emf["AlertsPublished"], 1);
    assert!(emf["PublishedBytes"].as_u64().is_some_and(|b| b > 0), "{emf}");
    assert_eq!(emf["ScansStarted"], 1);
    assert!(emf.get("PublishFailures").is_none());
}

// ---- The deadline: nothing runs past the margin; the summary publish gets a real budget ----

/// Answers after `delay` (virtual time on a paused clock); `None`: never.
struct SlowPublisher(Option<Duration>);

impl Publisher for SlowPublisher {
    async fn publish(&self, _message: &SnsMessage) -> Result<String, PublishError> {
        match self.0 {
            Some(delay) => {
                tokio::time::sleep(delay).await;
                Ok("slow-1".to_string())
            }
            None => std::future::pending().await,
        }
    }
}

fn with_topic(mut config: RescanConfig) -> RescanConfig {
    config.delivery = Some(Delivery {
        topic: TopicArn::parse("T", "arn:aws:sns:us-east-1:123456789012:alerts").unwrap(),
        format: MessageFormat::Text,
        chat_app: false,
        max_request_bytes: SNS_MAX_REQUEST_BYTES,
    });
    config
}

const TWENTY: &[&str] = &[
    "sha256:00",
    "sha256:01",
    "sha256:02",
    "sha256:03",
    "sha256:04",
    "sha256:05",
    "sha256:06",
    "sha256:07",
    "sha256:08",
    "sha256:09",
    "sha256:10",
    "sha256:11",
    "sha256:12",
    "sha256:13",
    "sha256:14",
    "sha256:15",
    "sha256:16",
    "sha256:17",
    "sha256:18",
    "sha256:19",
];

#[tokio::test(start_paused = true)]
async fn a_wait_for_the_rate_never_passes_the_deadline_margin() {
    // Before: each of 16 scans in flight reserved the next slot 2 s apart and slept until it,
    // past the margin, up to the deadline itself (it returned at 40 s, where Lambda kills it).
    let start = scan_ok();
    let rules = [
        &scan_type(ScanType::Basic),
        &repositories(&["web"]),
        &images("web", TWENTY),
        &start,
    ];
    let settings = config(&[
        ("SCAN_RATE_PER_SECOND", "0.5"),
        ("SCAN_CONCURRENCY", "16"),
        ("DEADLINE_MARGIN_MS", "10000"),
    ]);
    let publisher = MemoryPublisher::default();
    let rescan = Rescan::new(
        with_topic(settings),
        EcrRegistry::new(ecr(&rules)),
        Inspector2::new(inspector(&[])),
        &publisher,
    );
    let began = tokio::time::Instant::now();
    let summary = summary_of(&rescan, json!({}), Deadline::after(Duration::from_secs(40)), "r").await;
    // The listing took the slot at 0 s, scans the slots at 2, 4, ... 30 s: 15 of them. The
    // slot at 32 s is past the stop (40 - 10 s) and is refused without waiting.
    assert_eq!(began.elapsed(), Duration::from_secs(30));
    assert_eq!(summary["outcomes"], json!({"started": 15, "deferredDeadline": 5}));
    assert_eq!(start.num_calls(), 15);
    assert_eq!(publisher.messages().len(), 1);
}

/// A registry whose StartImageScan never answers (a hung connection).
struct HungRegistry;

impl Registry for HungRegistry {
    async fn scan_type(&self) -> Result<ecr_rescan::ScanType, ApiError> {
        Ok(ecr_rescan::ScanType::Basic)
    }
    async fn repositories(&self) -> Result<Vec<ecr_rescan::Repository>, ApiError> {
        Ok(vec![ecr_rescan::Repository { name: "web".into() }])
    }
    async fn images(&self, repository: &str) -> Result<Vec<ecr_rescan::Image>, ApiError> {
        Ok((0..3)
            .map(|i| ecr_rescan::Image {
                repository: repository.into(),
                digest: format!("sha256:{i}"),
                tags: vec![format!("v{i}")],
                ..Default::default()
            })
            .collect())
    }
    async fn start_scan(&self, _repository: &str, _digest: &str) -> Result<(), ecr_rescan::ScanError> {
        std::future::pending().await
    }
    async fn scan_frequencies(&self, _r: &[String]) -> Result<BTreeMap<String, String>, ApiError> {
        Ok(BTreeMap::new())
    }
}

#[tokio::test(start_paused = true)]
async fn calls_in_flight_are_cut_at_the_margin_and_the_summary_still_goes_out() {
    let publisher = MemoryPublisher::default();
    let rescan = Rescan::new(
        with_topic(config(&[
            ("SCAN_CONCURRENCY", "4"),
            ("DEADLINE_MARGIN_MS", "10000"),
        ])),
        HungRegistry,
        Inspector2::new(inspector(&[])),
        &publisher,
    );
    let began = tokio::time::Instant::now();
    // Before: the run waited for the hung calls forever (here: an hour of virtual time).
    let summary = tokio::time::timeout(
        Duration::from_secs(3600),
        summary_of(&rescan, json!({}), Deadline::after(Duration::from_secs(60)), "r"),
    )
    .await
    .expect("the run must end at the margin");
    assert_eq!(began.elapsed(), Duration::from_secs(50));
    assert_eq!(summary["outcomes"], json!({"deferredDeadline": 3}));
    assert_eq!(publisher.messages().len(), 1);
}

#[tokio::test(start_paused = true)]
async fn the_summary_publish_gets_the_margin_less_one_second() {
    // The scans use the run up to the margin (10 s before a 40 s deadline); then:
    // a publish answering in 7 s is delivered (before: given up at 5 s, half the margin);
    // one that never answers is given up 1 s before the deadline, and that is the error.
    for (publisher, expected) in [
        (SlowPublisher(Some(Duration::from_secs(7))), Ok(37)),
        (SlowPublisher(None), Err(39)),
    ] {
        let rules = [
            &scan_type(ScanType::Basic),
            &repositories(&["web"]),
            &images("web", TWENTY),
            &scan_ok(),
        ];
        let rescan = Rescan::new(
            with_topic(config(&[
                ("SCAN_RATE_PER_SECOND", "0.5"),
                ("DEADLINE_MARGIN_MS", "10000"),
            ])),
            EcrRegistry::new(ecr(&rules)),
            Inspector2::new(inspector(&[])),
            publisher,
        );
        let began = tokio::time::Instant::now();
        let mut ctx = Invocation::new(Deadline::after(Duration::from_secs(40)), "r");
        let result = invoke(&rescan, Incoming::from_document(json!({})), &mut ctx).await;
        let at = began.elapsed().as_secs();
        match (result, expected) {
            (Ok(_), Ok(secs)) => assert_eq!(at, secs),
            (Err(e), Err(secs)) => {
                assert_eq!(diagnostic(&e).error_type, "Lookout.DeadlineExceeded");
                assert_eq!(at, secs);
            }
            (result, expected) => panic!("{:?} vs {expected:?}", result.map(|_| ())),
        }
    }
}

// ---- A run that could not do its job is a Lambda error, after its summary ----

#[tokio::test(start_paused = true)]
async fn every_scan_throttled_or_failing_is_an_error_after_the_summary() {
    for (status, code) in [(400, "ThrottlingException"), (500, "ServerException")] {
        let failing = mock!(aws_sdk_ecr::Client::start_image_scan)
            .sequence()
            .http_status(status, Some(json_error(code, "no")))
            .repeatedly()
            .build();
        let rules = [
            &scan_type(ScanType::Basic),
            &repositories(&["web"]),
            &images("web", &["sha256:a", "sha256:b"]),
            &failing,
        ];
        let publisher = MemoryPublisher::default();
        let rescan = publishing_text(config(&[("MAX_SCAN_ATTEMPTS", "2")]), &rules, &publisher);
        let (error_type, message) =
            error_of(&rescan, json!({}), Deadline::after(Duration::from_secs(600))).await;
        assert_eq!(error_type, "Lookout.ScansFailed", "{code}");
        assert!(message.starts_with("2 images could not be scanned"), "{message}");
        assert_eq!(failing.num_calls(), 4, "{code}: 2 images × 2 attempts");
        let sent = publisher.messages();
        assert_eq!(sent.len(), 1, "{code}: the summary goes out first");
        assert_eq!(
            sent[0].subject,
            "[Lookout] ECR rescan: 0 started, 0 already scanned, 2 failed (partial)"
        );
    }
}

#[tokio::test]
async fn images_that_cannot_be_listed_are_an_error_after_the_summary() {
    let broken = mock!(aws_sdk_ecr::Client::describe_images)
        .sequence()
        .http_status(400, Some(json_error("AccessDeniedException", "not allowed")))
        .repeatedly()
        .build();
    let never = scan_ok();
    let rules = [
        &scan_type(ScanType::Basic),
        &repositories(&["api", "web"]),
        &broken,
        &never,
    ];
    let publisher = MemoryPublisher::default();
    let rescan = publishing_text(config(&[]), &rules, &publisher);
    let (error_type, message) = error_of(&rescan, json!({}), Deadline::after(Duration::from_secs(600))).await;
    assert_eq!(error_type, "Lookout.ImagesNotListed");
    assert_eq!(
        message,
        "0 images could not be scanned and 2 repositories could not be listed; the summary says which"
    );
    assert_eq!(never.num_calls(), 0);
    let sent = publisher.messages();
    assert_eq!(sent.len(), 1);
    assert!(
        sent[0].message.contains("2 repositories could not be listed"),
        "{}",
        sent[0].message
    );
}

// ---- A retry never starts a scan again ----

/// Fails the first publish, then delivers: the case where only the summary publish failed.
#[derive(Default)]
struct FailsOnce {
    calls: std::sync::atomic::AtomicUsize,
    delivered: std::sync::Mutex<Vec<String>>,
}

impl Publisher for FailsOnce {
    async fn publish(&self, message: &SnsMessage) -> Result<String, PublishError> {
        if self.calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0 {
            return Err(PublishError::Failed {
                topic: "alerts".into(),
                code: Some("InternalError".into()),
                detail: "SNS was down".into(),
            });
        }
        self.delivered.lock().unwrap().push(message.subject.clone());
        Ok("m-2".into())
    }
}

#[tokio::test]
async fn a_retry_after_a_failed_summary_publish_starts_no_scan_again() {
    use aws_sdk_ecr::types::{ImageScanFindingsSummary, ImageScanStatus, ScanStatus};
    // What ECR lists once the first attempt started the scans: one still IN_PROGRESS, one
    // COMPLETE a minute ago.
    let now = aws_smithy_types::DateTime::from_millis(lookout_shared::time::now_epoch_ms() - 60_000);
    let listing = mock!(aws_sdk_ecr::Client::describe_images)
        .sequence()
        .output(|| {
            DescribeImagesOutput::builder()
                .image_details(
                    ImageDetail::builder()
                        .repository_name("web")
                        .image_digest("sha256:a")
                        .image_tags("v1")
                        .build(),
                )
                .image_details(
                    ImageDetail::builder()
                        .repository_name("web")
                        .image_digest("sha256:b")
                        .image_tags("v2")
                        .build(),
                )
                .build()
        })
        .output(move || {
            DescribeImagesOutput::builder()
                .image_details(
                    ImageDetail::builder()
                        .repository_name("web")
                        .image_digest("sha256:a")
                        .image_tags("v1")
                        .image_scan_status(ImageScanStatus::builder().status(ScanStatus::InProgress).build())
                        .build(),
                )
                .image_details(
                    ImageDetail::builder()
                        .repository_name("web")
                        .image_digest("sha256:b")
                        .image_tags("v2")
                        .image_scan_status(ImageScanStatus::builder().status(ScanStatus::Complete).build())
                        .image_scan_findings_summary(
                            ImageScanFindingsSummary::builder()
                                .image_scan_completed_at(now)
                                .build(),
                        )
                        .build(),
                )
                .build()
        })
        .build();
    let start = scan_ok();
    let rules = [
        &scan_type(ScanType::Basic),
        &repositories(&["web"]),
        &listing,
        &start,
    ];
    let publisher = FailsOnce::default();
    let rescan = Rescan::new(
        with_topic(config(&[])),
        EcrRegistry::new(ecr(&rules)),
        Inspector2::new(inspector(&[])),
        &publisher,
    );
    let deadline = || Deadline::after(Duration::from_secs(600));
    let (error_type, _) = error_of(&rescan, json!({}), deadline()).await;
    assert_eq!(error_type, "Lookout.PublishFailed");
    assert_eq!(start.num_calls(), 2);
    // Lambda's retry of the same event.
    let summary = summary_of(&rescan, json!({}), deadline(), "req").await;
    assert_eq!(start.num_calls(), 2, "no StartImageScan on the retry");
    assert_eq!(
        summary["outcomes"],
        json!({"skippedScanInProgress": 1, "skippedScannedRecently": 1})
    );
    assert_eq!(
        *publisher.delivered.lock().unwrap(),
        ["[Lookout] ECR rescan: 0 started, 0 already scanned, 0 failed"]
    );
}

/// The per-image quota is one scan in 24 hours: what the listing says was scanned inside it
/// (or is being scanned) is skipped and counted, what was scanned before it, or failed without
/// a time, is started.
#[tokio::test]
async fn scans_inside_the_24_hour_quota_are_skipped_through_the_real_adapter() {
    use aws_sdk_ecr::types::{ImageScanFindingsSummary, ImageScanStatus, ScanStatus};
    const HOUR: i64 = 3_600_000;
    let now = lookout_shared::time::now_epoch_ms();
    let image = move |digest: &str, status: Option<ScanStatus>, completed_hours_ago: Option<i64>| {
        let mut detail = ImageDetail::builder()
            .repository_name("web")
            .image_digest(digest)
            .image_tags(digest.replace("sha256:", "v-"))
            .set_image_scan_status(status.map(|s| ImageScanStatus::builder().status(s).build()));
        if let Some(hours) = completed_hours_ago {
            detail = detail.image_scan_findings_summary(
                ImageScanFindingsSummary::builder()
                    .image_scan_completed_at(aws_smithy_types::DateTime::from_millis(now - hours * HOUR))
                    .build(),
            );
        }
        detail.build()
    };
    let listing = mock!(aws_sdk_ecr::Client::describe_images).then_output(move || {
        DescribeImagesOutput::builder()
            .image_details(image("sha256:complete23h", Some(ScanStatus::Complete), Some(23)))
            .image_details(image("sha256:complete25h", Some(ScanStatus::Complete), Some(25)))
            .image_details(image("sha256:pending", Some(ScanStatus::Pending), None))
            .image_details(image("sha256:inprogress", Some(ScanStatus::InProgress), Some(30)))
            .image_details(image("sha256:failed", Some(ScanStatus::Failed), None))
            .image_details(image("sha256:never", None, None))
            .build()
    });
    let started = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let record = started.clone();
    let start = mock!(aws_sdk_ecr::Client::start_image_scan)
        .match_requests(move |r| {
            let digest = r.image_id().and_then(|i| i.image_digest()).unwrap_or_default();
            record.lock().unwrap().push(digest.to_string());
            true
        })
        .then_output(|| StartImageScanOutput::builder().build());
    let rules = [
        &scan_type(ScanType::Basic),
        &repositories(&["web"]),
        &listing,
        &start,
    ];
    let summary = run(config(&[]), ecr(&rules), inspector(&[]), json!({})).await;
    let mut started = started.lock().unwrap().clone();
    started.sort();
    assert_eq!(started, ["sha256:complete25h", "sha256:failed", "sha256:never"]);
    assert_eq!(
        summary["outcomes"],
        json!({"started": 3, "skippedScanInProgress": 2, "skippedScannedRecently": 1})
    );
}

// ---- ENHANCED: the findings cut keeps the worst, in the selected repositories ----

#[tokio::test]
async fn findings_are_asked_worst_first_in_the_selected_repositories() {
    use aws_sdk_inspector2::types::{Severity, SortField, SortOrder};
    let frequencies = no_repository_frequencies();
    let ecr_rules = [
        &scan_type(ScanType::Enhanced),
        &repositories(&["legacy", "web"]),
        &frequencies,
    ];
    // Inspector answers worst first for the request that asks so, for `web` only.
    let asked_right = mock!(aws_sdk_inspector2::Client::list_findings)
        .match_requests(|r| {
            let sort = r.sort_criteria();
            let repos: Vec<(&str, &str)> = r
                .filter_criteria()
                .and_then(|f| f.ecr_image_repository_name.as_ref())
                .map(|l| l.iter().map(|f| (f.comparison.as_str(), f.value())).collect())
                .unwrap_or_default();
            sort.map(|s| (s.field(), s.sort_order())) == Some((&SortField::Severity, &SortOrder::Desc))
                && repos == [("EQUALS", "web")]
        })
        .then_output(|| {
            ListFindingsOutput::builder()
                .findings(finding(
                    OWN,
                    "web",
                    "sha256:w",
                    "CVE-2024-0001",
                    Severity::Critical,
                ))
                .findings(finding(OWN, "web", "sha256:w", "CVE-2024-0002", Severity::High))
                .build()
        });
    // Before: unsorted, unfiltered; the cut kept other repositories' findings, then dropped them.
    let asked_wrong = mock!(aws_sdk_inspector2::Client::list_findings).then_output(|| {
        ListFindingsOutput::builder()
            .findings(finding(
                OWN,
                "legacy",
                "sha256:l",
                "CVE-2024-0009",
                Severity::High,
            ))
            .findings(finding(OWN, "web", "sha256:w", "CVE-2024-0002", Severity::High))
            .build()
    });
    // The other parts answer: an unavailable part would fail the run (issue 22 §5).
    let others = [empty_configuration(), empty_coverage()];
    let inspector_rules = [&asked_right, &asked_wrong, &others[0], &others[1]];
    let summary = run(
        config(&[("REPOSITORY_EXCLUDE", "legacy"), ("MAX_FINDINGS", "1")]),
        ecr(&ecr_rules),
        inspector(&inspector_rules),
        json!({}),
    )
    .await;
    assert_eq!(asked_right.num_calls(), 1);
    assert_eq!(asked_wrong.num_calls(), 0);
    let findings = &summary["enhanced"]["findings"];
    assert_eq!(findings["total"], 1);
    assert_eq!(findings["truncated"], true);
    assert_eq!(
        findings["images"][0]["findings"][0]["vulnerabilityId"],
        "CVE-2024-0001"
    );
}

// ---- Untrusted text in the summary is quoted ----

#[tokio::test]
async fn names_tags_and_error_details_cannot_forge_summary_lines() {
    let rules = forged_registry();
    let publisher = MemoryPublisher::default();
    let rescan = publishing_text(config(&[]), &rules.each_ref(), &publisher);
    let (error_type, message) = error_of(&rescan, json!({}), Deadline::after(Duration::from_secs(60))).await;
    assert_eq!(error_type, "Lookout.ScansFailed");
    assert!(
        !message.contains("evil"),
        "errors name counts, not payloads: {message}"
    );
    let sent = publisher.messages();
    let body = &sent[0].message;
    assert!(body.contains("Failures:"), "{body}");
    assert!(body.contains("Per repository:"), "{body}");
    assert_quoted(body);
}

#[tokio::test]
async fn inspector_names_cannot_forge_summary_lines() {
    use aws_sdk_inspector2::types::Severity;
    let frequencies = no_repository_frequencies();
    let ecr_rules = [
        &scan_type(ScanType::Enhanced),
        &repositories(&["web"]),
        &frequencies,
    ];
    let findings = mock!(aws_sdk_inspector2::Client::list_findings).then_output(|| {
        let mut f = finding(OWN, "web", "sha256:w", "CVE-2024-0001", Severity::Critical);
        f.title = Some(FORGED.to_string());
        let details = f.package_vulnerability_details.as_mut().unwrap();
        let package = &mut details.vulnerable_packages.as_mut().unwrap()[0];
        package.name = format!("openssl{FORGED}");
        package.version = FORGED.to_string();
        ListFindingsOutput::builder().findings(f).build()
    });
    let coverage = mock!(aws_sdk_inspector2::Client::list_coverage).then_output(|| {
        ListCoverageOutput::builder()
            .covered_resources(covered(
                &format!("web{FORGED}"),
                "sha256:w",
                aws_sdk_inspector2::types::ScanStatusReason::ScanEligibilityExpired,
            ))
            .build()
    });
    let configuration = mock!(aws_sdk_inspector2::Client::get_configuration)
        .sequence()
        .http_status(400, Some(json_error("AccessDeniedException", FORGED)))
        .repeatedly()
        .build();
    let publisher = MemoryPublisher::default();
    let mut settings = with_topic(config(&[]));
    settings.delivery.as_mut().unwrap().format = MessageFormat::Text;
    let rescan = Rescan::new(
        settings,
        EcrRegistry::new(ecr(&ecr_rules)),
        Inspector2::new(inspector(&[&findings, &coverage, &configuration])),
        &publisher,
    );
    let (error_type, message) = error_of(&rescan, json!({}), Deadline::after(Duration::from_secs(60))).await;
    assert_eq!(error_type, "Lookout.InspectorUnreadable");
    assert!(
        !message.contains("evil"),
        "errors name parts, not payloads: {message}"
    );
    let body = &publisher.messages()[0].message;
    assert!(body.contains("CVE-2024-0001 CRITICAL openssl"), "{body}");
    assert!(body.contains("Coverage:"), "{body}");
    assert_quoted(body);
}
