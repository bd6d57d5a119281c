//! What the rescan knows about a registry, independent of the SDK's types.

use crate::findings::SeverityCounts;
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ScanType {
    Basic,
    Enhanced,
}

impl ScanType {
    pub fn as_str(self) -> &'static str {
        match self {
            ScanType::Basic => "BASIC",
            ScanType::Enhanced => "ENHANCED",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repository {
    pub name: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ImageStatus {
    #[default]
    Active,
    Archived,
    /// Being restored from the archive: not scannable yet.
    Activating,
}

/// One image as `DescribeImages` reports it. moto leaves most optional fields out, and real
/// registries omit them for images never scanned or pulled, so every one is optional.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Image {
    pub registry_id: Option<String>,
    pub repository: String,
    pub digest: String,
    pub tags: Vec<String>,
    pub pushed_at_ms: Option<i64>,
    pub last_pulled_at_ms: Option<i64>,
    pub status: ImageStatus,
    pub manifest_media_type: Option<String>,
    pub artifact_media_type: Option<String>,
    pub subject_digest: Option<String>,
    /// `imageScanStatus.status`: COMPLETE, FAILED, UNSUPPORTED_IMAGE, ...
    pub scan_status: Option<String>,
    pub scan_completed_at_ms: Option<i64>,
    pub severity_counts: SeverityCounts,
}

/// `repo:tag`, or `repo@sha256:abcdef123456` when untagged.
pub fn image_name(repository: &str, tags: &[String], digest: &str) -> String {
    match tags.first() {
        Some(tag) => format!("{repository}:{tag}"),
        None => format!("{repository}@{}", short_digest(digest)),
    }
}

/// [`image_name`] with the short digest also after a tag: tags move, digests do not.
pub fn image_name_with_digest(repository: &str, tags: &[String], digest: &str) -> String {
    match tags.first() {
        Some(tag) => format!("{repository}:{tag} ({})", short_digest(digest)),
        None => image_name(repository, tags, digest),
    }
}

/// `sha256:` and the first 12 hex digits: enough to find the image, short enough to read.
pub fn short_digest(digest: &str) -> &str {
    crate::text::truncate_utf8(digest, "sha256:".len() + 12)
}

/// Why a StartImageScan did not start a scan.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScanError {
    /// LimitExceededException "The scan quota per image has been exceeded": it was scanned
    /// (on push or by a rescan) in the last 24 hours.
    #[error("image already scanned in the last 24 hours")]
    ImageQuota,
    /// LimitExceededException for the account's 100,000 basic scans per 24 hours.
    #[error("account scan limit reached: {0}")]
    AccountQuota(String),
    /// ThrottlingException, 5xx or a transport failure: worth retrying with backoff.
    #[error("{0}")]
    Transient(String),
    #[error("image type not supported by basic scanning")]
    UnsupportedImage,
    /// ImageNotFound, RepositoryNotFound, ImageArchived: it changed since it was listed.
    #[error("{0}")]
    Gone(String),
    #[error("{0}")]
    Other(String),
}

/// A failure to list or read something (after the SDK's own retries).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{operation}: {detail}")]
pub struct ApiError {
    pub operation: &'static str,
    pub detail: String,
    /// `RepositoryNotFoundException` and friends.
    pub not_found: bool,
}

impl ApiError {
    pub fn from_sdk<E>(operation: &'static str, e: &crate::aws::SdkError<E>) -> Self
    where
        E: aws_smithy_types::error::metadata::ProvideErrorMetadata + std::error::Error,
    {
        let not_found = crate::aws::error_code(e).is_some_and(|c| c.ends_with("NotFoundException"));
        Self {
            operation,
            detail: crate::aws::describe_sdk_error(e),
            not_found,
        }
    }

    /// A request the SDK refused to build (a missing required field): a bug, named as such.
    pub fn invalid_request(operation: &'static str, e: impl std::fmt::Display) -> Self {
        Self {
            operation,
            detail: format!("request could not be built: {e}"),
            not_found: false,
        }
    }
}
