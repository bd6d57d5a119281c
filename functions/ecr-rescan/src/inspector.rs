//! Amazon Inspector (ENHANCED scanning) behind a narrow trait, and its aws-sdk-inspector2
//! adapter. Read-only: Inspector scans continuously and has no API to force a rescan.

use aws_sdk_inspector2::types::{
    CoverageFilterCriteria, CoverageStringComparison, CoverageStringFilter, FilterCriteria, SortCriteria,
    SortField, SortOrder, StringComparison, StringFilter,
};
use lookout_shared::aws::ApiError;
use lookout_shared::findings::{Finding, VulnSeverity};
use serde::Serialize;
use std::future::Future;

/// `ecrConfiguration.rescanDurationState`: how long Inspector keeps rescanning images.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RescanDurations {
    pub rescan_duration: Option<String>,
    pub pull_date_rescan_duration: Option<String>,
    pub pull_date_rescan_mode: Option<String>,
    pub status: Option<String>,
}

/// One ECR image in Inspector's coverage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CoveredImage {
    pub repository: String,
    pub digest: String,
    pub tags: Vec<String>,
    pub status_code: String,
    /// SUCCESSFUL, SCAN_ELIGIBILITY_EXPIRED, PENDING_INITIAL_SCAN, UNSUPPORTED_OS, ...
    pub reason: String,
}

impl CoveredImage {
    pub fn is_gap(&self) -> bool {
        self.reason != "SUCCESSFUL"
    }
}

pub trait Inspector: Send + Sync {
    fn configuration(&self) -> impl Future<Output = Result<RescanDurations, ApiError>> + Send;
    /// ECR images in Inspector's coverage, at most `limit`.
    fn coverage(&self, limit: usize) -> impl Future<Output = Result<Vec<CoveredImage>, ApiError>> + Send;
    /// ACTIVE findings on ECR images at or above `min` (in `repositories` when given), at most
    /// `limit`, worst first: the cut keeps the most severe.
    fn findings(
        &self,
        min: VulnSeverity,
        repositories: Option<&[String]>,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<Finding>, ApiError>> + Send;
}

#[derive(Debug, Clone)]
pub struct Inspector2 {
    client: aws_sdk_inspector2::Client,
}

impl Inspector2 {
    pub fn new(client: aws_sdk_inspector2::Client) -> Self {
        Self { client }
    }
}

const ECR_IMAGE: &str = "AWS_ECR_CONTAINER_IMAGE";

fn string_filter(value: &str) -> Result<StringFilter, ApiError> {
    StringFilter::builder()
        .comparison(StringComparison::Equals)
        .value(value)
        .build()
        .map_err(|e| ApiError::invalid_request("ListFindings", e))
}

impl Inspector for Inspector2 {
    async fn configuration(&self) -> Result<RescanDurations, ApiError> {
        let out = self
            .client
            .get_configuration()
            .send()
            .await
            .map_err(|e| ApiError::from_sdk("GetConfiguration", &e))?;
        let Some(state) = out.ecr_configuration.and_then(|c| c.rescan_duration_state) else {
            return Ok(RescanDurations::default());
        };
        Ok(RescanDurations {
            rescan_duration: state.rescan_duration.map(|d| d.as_str().to_string()),
            pull_date_rescan_duration: state.pull_date_rescan_duration.map(|d| d.as_str().to_string()),
            pull_date_rescan_mode: state.pull_date_rescan_mode.map(|d| d.as_str().to_string()),
            status: state.status.map(|s| s.as_str().to_string()),
        })
    }

    async fn coverage(&self, limit: usize) -> Result<Vec<CoveredImage>, ApiError> {
        let filter = CoverageStringFilter::builder()
            .comparison(CoverageStringComparison::Equals)
            .value(ECR_IMAGE)
            .build()
            .map_err(|e| ApiError::invalid_request("ListCoverage", e))?;
        let mut pages = self
            .client
            .list_coverage()
            .filter_criteria(CoverageFilterCriteria::builder().resource_type(filter).build())
            .into_paginator()
            .send();
        let mut out = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| ApiError::from_sdk("ListCoverage", &e))?;
            for resource in page.covered_resources.unwrap_or_default() {
                let metadata = resource.resource_metadata;
                let repository = metadata
                    .as_ref()
                    .and_then(|m| m.ecr_repository.as_ref())
                    .and_then(|r| r.name.clone())
                    .unwrap_or_default();
                let tags = metadata
                    .as_ref()
                    .and_then(|m| m.ecr_image.as_ref())
                    .and_then(|i| i.tags.clone())
                    .unwrap_or_default();
                // The resource id ends with the image digest.
                let digest = resource
                    .resource_id
                    .rsplit('/')
                    .next()
                    .unwrap_or_default()
                    .to_string();
                let (status_code, reason) = resource
                    .scan_status
                    .map(|s| (s.status_code.as_str().to_string(), s.reason.as_str().to_string()))
                    .unwrap_or_default();
                out.push(CoveredImage {
                    repository,
                    digest,
                    tags,
                    status_code,
                    reason,
                });
                if out.len() >= limit {
                    return Ok(out);
                }
            }
        }
        Ok(out)
    }

    async fn findings(
        &self,
        min: VulnSeverity,
        repositories: Option<&[String]>,
        limit: usize,
    ) -> Result<Vec<Finding>, ApiError> {
        // One query per 10 repositories (the API's limit per filter field), each sorted worst
        // first by Inspector and read to `limit`; merged, the worst `limit` overall.
        let chunks: Vec<Option<&[String]>> = match repositories {
            None => vec![None],
            Some(names) => names.chunks(FILTER_VALUES).map(Some).collect(),
        };
        let mut out = Vec::new();
        for chunk in chunks {
            out.extend(self.findings_in(min, chunk, limit).await?);
        }
        let mut out = sorted(out);
        out.truncate(limit);
        Ok(out)
    }
}

/// Values one `FilterCriteria` field takes at most.
const FILTER_VALUES: usize = 10;

impl Inspector2 {
    async fn findings_in(
        &self,
        min: VulnSeverity,
        repositories: Option<&[String]>,
        limit: usize,
    ) -> Result<Vec<Finding>, ApiError> {
        let mut criteria = FilterCriteria::builder()
            .resource_type(string_filter(ECR_IMAGE)?)
            .finding_status(string_filter("ACTIVE")?);
        for severity in VulnSeverity::DESCENDING.iter().filter(|s| **s >= min) {
            criteria = criteria.severity(string_filter(severity.as_str())?);
        }
        for repository in repositories.unwrap_or_default() {
            criteria = criteria.ecr_image_repository_name(string_filter(repository)?);
        }
        let worst_first = SortCriteria::builder()
            .field(SortField::Severity)
            .sort_order(SortOrder::Desc)
            .build()
            .map_err(|e| ApiError::invalid_request("ListFindings", e))?;
        let mut pages = self
            .client
            .list_findings()
            .filter_criteria(criteria.build())
            .sort_criteria(worst_first)
            .into_paginator()
            .send();
        let mut out = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| ApiError::from_sdk("ListFindings", &e))?;
            for f in page.findings.unwrap_or_default() {
                out.extend(convert_finding(f));
                if out.len() >= limit {
                    out.truncate(limit);
                    return Ok(out);
                }
            }
        }
        Ok(out)
    }
}

fn sorted(mut findings: Vec<Finding>) -> Vec<Finding> {
    findings.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then_with(|| a.repository.cmp(&b.repository))
    });
    findings
}

/// One Inspector finding, on each ECR image resource it names.
pub(crate) fn convert_finding(f: aws_sdk_inspector2::types::Finding) -> Vec<Finding> {
    let severity = VulnSeverity::parse(f.severity.as_str()).unwrap_or(VulnSeverity::Untriaged);
    let details = f.package_vulnerability_details;
    let package = details
        .as_ref()
        .and_then(|d| d.vulnerable_packages.as_ref())
        .and_then(|p| p.first());
    let vulnerability_id = details
        .as_ref()
        .map(|d| d.vulnerability_id.clone())
        .or_else(|| f.title.clone())
        .unwrap_or_else(|| f.finding_arn.clone());
    f.resources
        .iter()
        .filter_map(|r| r.details.as_ref()?.aws_ecr_container_image.as_ref())
        .map(|image| Finding {
            vulnerability_id: vulnerability_id.clone(),
            severity,
            title: f.title.clone().unwrap_or_default(),
            package: package.map(|p| p.name.clone()),
            installed_version: package.map(|p| p.version.clone()),
            fixed_in_version: package
                .and_then(|p| p.fixed_in_version.clone())
                .filter(|v| !v.is_empty() && v != "NotAvailable"),
            fix_available: f.fix_available.as_ref().map(|x| x.as_str().to_string()),
            exploit_available: f.exploit_available.as_ref().map(|x| x.as_str().to_string()),
            score: f.inspector_score,
            repository: image.repository_name.clone(),
            digest: image.image_hash.clone(),
            tags: image.image_tags.clone().unwrap_or_default(),
        })
        .collect()
}
