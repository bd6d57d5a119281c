//! The registry behind a narrow trait, and its adapter over aws-sdk-ecr.

use crate::model::{Image, ImageStatus, Repository, ScanError, ScanType};
use aws_sdk_ecr::config::retry::RetryConfig;
use aws_sdk_ecr::operation::start_image_scan::StartImageScanError;
use aws_sdk_ecr::types::{ImageIdentifier, ScanFrequency};
use lookout_shared::aws::ApiError;
use lookout_shared::aws::{describe_sdk_error, error_code};
use lookout_shared::findings::{SeverityCounts, VulnSeverity};
use std::collections::BTreeMap;
use std::future::Future;

pub trait Registry: Send + Sync {
    fn scan_type(&self) -> impl Future<Output = Result<ScanType, ApiError>> + Send;
    /// Every repository, all pages.
    fn repositories(&self) -> impl Future<Output = Result<Vec<Repository>, ApiError>> + Send;
    /// Every image of one repository, all pages.
    fn images(&self, repository: &str) -> impl Future<Output = Result<Vec<Image>, ApiError>> + Send;
    /// One StartImageScan attempt by digest; the caller decides about retries.
    fn start_scan(
        &self,
        repository: &str,
        digest: &str,
    ) -> impl Future<Output = Result<(), ScanError>> + Send;
    /// Effective scan frequency per repository (SCAN_ON_PUSH, CONTINUOUS_SCAN, MANUAL).
    fn scan_frequencies(
        &self,
        repositories: &[String],
    ) -> impl Future<Output = Result<BTreeMap<String, String>, ApiError>> + Send;
}

/// aws-sdk-ecr, with the client built once at init.
#[derive(Debug, Clone)]
pub struct EcrRegistry {
    client: aws_sdk_ecr::Client,
}

impl EcrRegistry {
    pub fn new(client: aws_sdk_ecr::Client) -> Self {
        Self { client }
    }
}

const PAGE_SIZE: i32 = 1000;
/// BatchGetRepositoryScanningConfiguration takes at most 25 names.
const SCANNING_CONFIG_BATCH: usize = 25;

fn millis(t: Option<&aws_smithy_types::DateTime>) -> Option<i64> {
    t.and_then(|t| t.to_millis().ok())
}

impl Registry for EcrRegistry {
    async fn scan_type(&self) -> Result<ScanType, ApiError> {
        let out = self
            .client
            .get_registry_scanning_configuration()
            .send()
            .await
            .map_err(|e| ApiError::from_sdk("GetRegistryScanningConfiguration", &e))?;
        let scan_type = out.scanning_configuration.and_then(|c| c.scan_type);
        Ok(match scan_type {
            Some(aws_sdk_ecr::types::ScanType::Enhanced) => ScanType::Enhanced,
            _ => ScanType::Basic,
        })
    }

    async fn repositories(&self) -> Result<Vec<Repository>, ApiError> {
        let mut pages = self
            .client
            .describe_repositories()
            .max_results(PAGE_SIZE)
            .into_paginator()
            .send();
        let mut out = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| ApiError::from_sdk("DescribeRepositories", &e))?;
            out.extend(
                page.repositories
                    .unwrap_or_default()
                    .into_iter()
                    .filter_map(|r| r.repository_name.map(|name| Repository { name })),
            );
        }
        Ok(out)
    }

    async fn images(&self, repository: &str) -> Result<Vec<Image>, ApiError> {
        let mut pages = self
            .client
            .describe_images()
            .repository_name(repository)
            .max_results(PAGE_SIZE)
            .into_paginator()
            .send();
        let mut out = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| ApiError::from_sdk("DescribeImages", &e))?;
            for detail in page.image_details.unwrap_or_default() {
                let Some(digest) = detail.image_digest else {
                    continue;
                };
                let summary = detail.image_scan_findings_summary;
                let mut severity_counts = SeverityCounts::default();
                for (severity, n) in summary
                    .as_ref()
                    .and_then(|s| s.finding_severity_counts.as_ref())
                    .into_iter()
                    .flatten()
                {
                    if let Some(s) = VulnSeverity::parse(severity.as_str()) {
                        severity_counts.add(s, u64::try_from(*n).unwrap_or(0));
                    }
                }
                out.push(Image {
                    registry_id: detail.registry_id,
                    repository: detail.repository_name.unwrap_or_else(|| repository.to_string()),
                    digest,
                    tags: detail.image_tags.unwrap_or_default(),
                    pushed_at_ms: millis(detail.image_pushed_at.as_ref()),
                    last_pulled_at_ms: millis(detail.last_recorded_pull_time.as_ref()),
                    status: match detail.image_status.as_ref().map(|s| s.as_str()) {
                        Some("ARCHIVED") => ImageStatus::Archived,
                        Some("ACTIVATING") => ImageStatus::Activating,
                        _ => ImageStatus::Active,
                    },
                    manifest_media_type: detail.image_manifest_media_type,
                    artifact_media_type: detail.artifact_media_type,
                    subject_digest: detail.subject_manifest_digest,
                    scan_status: detail
                        .image_scan_status
                        .and_then(|s| s.status)
                        .map(|s| s.as_str().to_string()),
                    scan_completed_at_ms: millis(
                        summary.as_ref().and_then(|s| s.image_scan_completed_at.as_ref()),
                    ),
                    severity_counts,
                });
            }
        }
        Ok(out)
    }

    async fn start_scan(&self, repository: &str, digest: &str) -> Result<(), ScanError> {
        let result = self
            .client
            .start_image_scan()
            .repository_name(repository)
            .image_id(ImageIdentifier::builder().image_digest(digest).build())
            // The SDK's default classifier retries LimitExceededException as throttling; for
            // this call it means "scanned in the last 24 h" and retrying only burns time.
            .customize()
            .config_override(aws_sdk_ecr::config::Builder::default().retry_config(RetryConfig::disabled()))
            .send()
            .await;
        let Err(e) = result else { return Ok(()) };
        let detail = describe_sdk_error(&e);
        // Modeled errors first; unmodeled ones (ThrottlingException) by their code.
        let code = match e.as_service_error() {
            Some(StartImageScanError::LimitExceededException(x)) => {
                return Err(classify_scan_error(
                    Some("LimitExceededException"),
                    x.message().unwrap_or(&detail),
                    false,
                ));
            }
            Some(StartImageScanError::UnsupportedImageTypeException(_)) => {
                Some("UnsupportedImageTypeException")
            }
            Some(StartImageScanError::ImageNotFoundException(_)) => Some("ImageNotFoundException"),
            Some(StartImageScanError::RepositoryNotFoundException(_)) => Some("RepositoryNotFoundException"),
            Some(StartImageScanError::ImageArchivedException(_)) => Some("ImageArchivedException"),
            Some(StartImageScanError::ServerException(_)) => Some("ServerException"),
            _ => error_code(&e),
        };
        Err(classify_scan_error(code, &detail, is_transient(&e)))
    }

    async fn scan_frequencies(&self, repositories: &[String]) -> Result<BTreeMap<String, String>, ApiError> {
        let mut out = BTreeMap::new();
        for chunk in repositories.chunks(SCANNING_CONFIG_BATCH) {
            let page = self
                .client
                .batch_get_repository_scanning_configuration()
                .set_repository_names(Some(chunk.to_vec()))
                .send()
                .await
                .map_err(|e| ApiError::from_sdk("BatchGetRepositoryScanningConfiguration", &e))?;
            for config in page.scanning_configurations.unwrap_or_default() {
                if let Some(name) = config.repository_name {
                    let frequency = config.scan_frequency.unwrap_or(ScanFrequency::Manual);
                    out.insert(name, frequency.as_str().to_string());
                }
            }
        }
        Ok(out)
    }
}

fn is_transient<E>(e: &lookout_shared::aws::SdkError<E>) -> bool {
    use aws_smithy_runtime_api::client::result::SdkError;
    match e {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => true,
        SdkError::ServiceError(s) => s.raw().status().is_server_error(),
        _ => false,
    }
}

/// Sorts a StartImageScan failure by what the caller should do about it.
pub(crate) fn classify_scan_error(code: Option<&str>, detail: &str, transient: bool) -> ScanError {
    match code {
        // The per-image message is documented ("The scan quota per image has been exceeded");
        // any other LimitExceededException is the account-wide daily cap.
        Some("LimitExceededException") if detail.to_ascii_lowercase().contains("per image") => {
            ScanError::ImageQuota
        }
        Some("LimitExceededException") => ScanError::AccountQuota(detail.to_string()),
        Some("ThrottlingException") => ScanError::Throttled(detail.to_string()),
        Some("ServerException" | "ServiceUnavailableException") => ScanError::Transient(detail.to_string()),
        Some("UnsupportedImageTypeException") => ScanError::UnsupportedImage,
        Some("ImageNotFoundException" | "RepositoryNotFoundException" | "ImageArchivedException") => {
            ScanError::Gone(detail.to_string())
        }
        _ if transient => ScanError::Transient(detail.to_string()),
        _ => ScanError::Other(detail.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scan_errors_are_classified() {
        let quota = "LimitExceededException: The scan quota per image has been exceeded. Wait and try again.";
        assert_eq!(
            classify_scan_error(Some("LimitExceededException"), quota, false),
            ScanError::ImageQuota
        );
        assert!(matches!(
            classify_scan_error(
                Some("LimitExceededException"),
                "LimitExceededException: daily scan limit for the account",
                false
            ),
            ScanError::AccountQuota(_)
        ));
        assert!(matches!(
            classify_scan_error(Some("ThrottlingException"), "slow down", false),
            ScanError::Throttled(_)
        ));
        assert!(matches!(
            classify_scan_error(None, "connection failed", true),
            ScanError::Transient(_)
        ));
        assert_eq!(
            classify_scan_error(Some("UnsupportedImageTypeException"), "x", false),
            ScanError::UnsupportedImage
        );
        for code in [
            "ImageNotFoundException",
            "RepositoryNotFoundException",
            "ImageArchivedException",
        ] {
            assert!(matches!(
                classify_scan_error(Some(code), code, false),
                ScanError::Gone(_)
            ));
        }
        assert!(matches!(
            classify_scan_error(Some("ValidationException"), "bad", false),
            ScanError::Other(_)
        ));
    }
}
