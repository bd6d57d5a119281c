//! What the rescan knows about a registry, independent of the SDK's types.

use lookout_shared::findings::SeverityCounts;
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
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
    /// ThrottlingException: retried with backoff, and the call rate drops.
    #[error("{0}")]
    Throttled(String),
    /// 5xx or a transport failure: worth retrying with backoff.
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
