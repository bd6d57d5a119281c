//! What the SDK-mock tests share (`rescan_mocks.rs`, `organisation_mocks.rs`): mocked ECR and
//! Inspector clients and their rules, the settings, one invocation that must fail or succeed,
//! the structured body of a message, and the check that untrusted text is quoted.

use aws_sdk_ecr::config::retry::RetryConfig;
use aws_sdk_ecr::operation::describe_images::DescribeImagesOutput;
use aws_sdk_ecr::operation::describe_repositories::DescribeRepositoriesOutput;
use aws_sdk_ecr::operation::get_registry_scanning_configuration::GetRegistryScanningConfigurationOutput;
use aws_sdk_ecr::operation::start_image_scan::StartImageScanOutput;
use aws_sdk_ecr::types::{ImageDetail, RegistryScanningConfiguration, Repository, ScanType};
use aws_sdk_inspector2::operation::get_configuration::GetConfigurationOutput;
use aws_sdk_inspector2::operation::list_coverage::ListCoverageOutput;
use aws_sdk_inspector2::operation::list_findings::ListFindingsOutput;
use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
use ecr_rescan::RescanConfig;
use lookout_shared::config::Env;
use lookout_shared::deadline::Deadline;
use lookout_shared::envelope::Incoming;
use lookout_shared::invocation::{Function, Invocation, diagnostic, invoke};
use lookout_shared::notification::SnsMessage;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use std::time::Duration;

/// The function's own account.
pub(crate) const OWN: &str = "123456789012";

pub(crate) fn ecr(rules: &[&Rule]) -> aws_sdk_ecr::Client {
    mock_client!(aws_sdk_ecr, RuleMode::MatchAny, rules, |b| b.retry_config(
        RetryConfig::standard()
            .with_max_attempts(3)
            .with_initial_backoff(Duration::from_millis(5))
    ))
}

pub(crate) fn inspector(rules: &[&Rule]) -> aws_sdk_inspector2::Client {
    mock_client!(aws_sdk_inspector2, RuleMode::MatchAny, rules)
}

pub(crate) fn scan_type(t: ScanType) -> Rule {
    mock!(aws_sdk_ecr::Client::get_registry_scanning_configuration).then_output(move || {
        GetRegistryScanningConfigurationOutput::builder()
            .scanning_configuration(
                RegistryScanningConfiguration::builder()
                    .scan_type(t.clone())
                    .build(),
            )
            .build()
    })
}

/// No per-repository scanning configuration: every repository has the registry's rules.
pub(crate) fn no_repository_frequencies() -> Rule {
    mock!(aws_sdk_ecr::Client::batch_get_repository_scanning_configuration).then_output(|| {
        aws_sdk_ecr::operation::batch_get_repository_scanning_configuration::BatchGetRepositoryScanningConfigurationOutput::builder().build()
    })
}

pub(crate) fn repositories(names: &[&str]) -> Rule {
    let names: Vec<String> = names.iter().map(|name| name.to_string()).collect();
    mock!(aws_sdk_ecr::Client::describe_repositories).then_output(move || {
        let mut out = DescribeRepositoriesOutput::builder();
        for name in &names {
            out = out.repositories(Repository::builder().repository_name(name).build());
        }
        out.build()
    })
}

pub(crate) fn images(repository: &'static str, digests: &'static [&'static str]) -> Rule {
    mock!(aws_sdk_ecr::Client::describe_images)
        .match_requests(move |r| r.repository_name() == Some(repository))
        .then_output(move || {
            let mut out = DescribeImagesOutput::builder();
            for (i, d) in digests.iter().enumerate() {
                out = out.image_details(
                    ImageDetail::builder()
                        .repository_name(repository)
                        .image_digest(*d)
                        .image_tags(format!("v{i}"))
                        .build(),
                );
            }
            out.build()
        })
}

pub(crate) fn scan_ok() -> Rule {
    mock!(aws_sdk_ecr::Client::start_image_scan).then_output(|| StartImageScanOutput::builder().build())
}

/// Inspector's configuration, with no rescan durations in it.
pub(crate) fn empty_configuration() -> Rule {
    mock!(aws_sdk_inspector2::Client::get_configuration)
        .then_output(|| GetConfigurationOutput::builder().build())
}

/// Inspector's coverage, with no image in it.
pub(crate) fn empty_coverage() -> Rule {
    mock!(aws_sdk_inspector2::Client::list_coverage).then_output(|| ListCoverageOutput::builder().build())
}

pub(crate) fn no_findings() -> Rule {
    mock!(aws_sdk_inspector2::Client::list_findings).then_output(|| ListFindingsOutput::builder().build())
}

pub(crate) fn json_error(code: &str, message: &str) -> String {
    json!({"__type": code, "message": message}).to_string()
}

/// The settings of these tests: ten calls a second, one at a time, a one-second margin; then
/// `pairs`.
pub(crate) fn config(pairs: &[(&str, &str)]) -> RescanConfig {
    let mut all = vec![
        ("SCAN_RATE_PER_SECOND", "10"),
        ("SCAN_CONCURRENCY", "1"),
        ("DEADLINE_MARGIN_MS", "1000"),
    ];
    all.extend_from_slice(pairs);
    RescanConfig::from_env(&Env::from_pairs(
        all.iter().map(|(k, v)| (k.to_string(), v.to_string())),
    ))
    .unwrap()
}

/// An active CRITICAL or HIGH finding of `cve` (openssl 3.0.0, fixed in 3.0.1) on an image of
/// `account`'s registry.
pub(crate) fn finding(
    account: &str,
    repo: &str,
    digest: &str,
    cve: &str,
    severity: aws_sdk_inspector2::types::Severity,
) -> aws_sdk_inspector2::types::Finding {
    use aws_sdk_inspector2::types::*;
    let t = aws_smithy_types::DateTime::from_secs(1_700_000_000);
    Finding::builder()
        .finding_arn(format!("arn:aws:inspector2:us-east-1:{account}:finding/{cve}"))
        .aws_account_id(account)
        .r#type(FindingType::PackageVulnerability)
        .description("d")
        .title(format!("{cve} - openssl"))
        .severity(severity)
        .first_observed_at(t)
        .last_observed_at(t)
        .status(FindingStatus::Active)
        .fix_available(FixAvailable::Yes)
        .inspector_score(9.8)
        .package_vulnerability_details(
            PackageVulnerabilityDetails::builder()
                .vulnerability_id(cve)
                .source("NVD")
                .vulnerable_packages(
                    VulnerablePackage::builder()
                        .name("openssl")
                        .version("3.0.0")
                        .fixed_in_version("3.0.1")
                        .build()
                        .unwrap(),
                )
                .build()
                .unwrap(),
        )
        .resources(
            Resource::builder()
                .r#type(ResourceType::AwsEcrContainerImage)
                .id(format!(
                    "arn:aws:ecr:us-east-1:{account}:repository/{repo}/{digest}"
                ))
                .details(
                    ResourceDetails::builder()
                        .aws_ecr_container_image(
                            AwsEcrContainerImageDetails::builder()
                                .repository_name(repo)
                                .image_hash(digest)
                                .registry(account)
                                .image_tags("v1")
                                .build()
                                .unwrap(),
                        )
                        .build(),
                )
                .build()
                .unwrap(),
        )
        .build()
        .unwrap()
}

/// One invocation that must fail: its `Diagnostic` type and message.
pub(crate) async fn error_of<F, T>(function: &F, event: Value, deadline: Deadline) -> (String, String)
where
    F: Function<Event = Incoming<T>>,
    T: DeserializeOwned,
{
    let mut ctx = Invocation::new(deadline, "req");
    match invoke(function, Incoming::from_document(event), &mut ctx).await {
        Ok(_) => panic!("the invocation succeeded"),
        Err(e) => {
            let d = diagnostic(&e);
            (d.error_type, d.error_message)
        }
    }
}

/// One invocation through the skeleton's entry point, its summary as JSON.
pub(crate) async fn summary_of<F, T>(
    function: &F,
    event: Value,
    deadline: Deadline,
    request_id: &str,
) -> Value
where
    F: Function<Event = Incoming<T>>,
    T: DeserializeOwned,
{
    let mut ctx = Invocation::new(deadline, request_id);
    match invoke(function, Incoming::from_document(event), &mut ctx).await {
        Ok(summary) => serde_json::to_value(summary).unwrap_or(Value::Null),
        Err(e) => panic!("{e}"),
    }
}

/// The structured (SQS) body of a per-protocol message.
pub(crate) fn sqs_document(m: &SnsMessage) -> Value {
    let body: Value = serde_json::from_str(&m.message).unwrap();
    serde_json::from_str(body["sqs"].as_str().unwrap()).unwrap()
}

/// Names, tags and error details that try to start a section, a `Subject:` or a link, and to
/// hide text.
pub(crate) const FORGED: &str = "x\n--- CRITICAL\nSubject: [Lookout] all clear\n\u{1b}]8;;https://evil.example\u{7}click\u{1b}]8;;\u{7} \u{202e}txet";

/// The rules of a BASIC registry whose one repository's name, its image's tag and the scan's
/// error (it refuses every scan) carry [`FORGED`].
pub(crate) fn forged_registry() -> [Rule; 4] {
    let hostile_repo: &'static str = Box::leak(format!("web{FORGED}").into_boxed_str());
    let listing = mock!(aws_sdk_ecr::Client::describe_images).then_output(move || {
        DescribeImagesOutput::builder()
            .image_details(
                ImageDetail::builder()
                    .repository_name(hostile_repo)
                    .image_digest("sha256:a")
                    .image_tags(format!("v1{FORGED}"))
                    .build(),
            )
            .build()
    });
    let refused = mock!(aws_sdk_ecr::Client::start_image_scan)
        .sequence()
        .http_status(400, Some(json_error("ValidationException", FORGED)))
        .repeatedly()
        .build();
    [
        scan_type(ScanType::Basic),
        repositories(&[hostile_repo]),
        listing,
        refused,
    ]
}

/// No line of a text body that untrusted text could have started or hidden.
pub(crate) fn assert_quoted(body: &str) {
    for line in body.lines() {
        assert!(
            !line.starts_with("--- ") && !line.starts_with("Subject:"),
            "forged line {line:?} in\n{body}"
        );
    }
    assert!(
        !body.contains('\u{1b}') && !body.contains('\u{7}') && !body.contains('\u{202e}'),
        "{body:?}"
    );
}
