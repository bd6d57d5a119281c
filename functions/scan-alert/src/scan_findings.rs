//! A basic scan's findings (DescribeImageScanFindings) behind a narrow trait, and its
//! aws-sdk-ecr adapter.

use aws_sdk_ecr::types::ImageIdentifier;
use lookout_shared::aws::ApiError;
use lookout_shared::findings::{Finding, VulnSeverity};
use std::future::Future;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct BasicScanFindings {
    pub status: Option<String>,
    pub description: Option<String>,
    pub findings: Vec<Finding>,
    /// Every finding was read (the limit was not reached).
    pub complete: bool,
}

pub trait ScanFindingsSource: Send + Sync {
    /// The image's basic scan findings, at most `limit`, worst first.
    fn basic_findings(
        &self,
        repository: &str,
        digest: &str,
        limit: usize,
    ) -> impl Future<Output = Result<BasicScanFindings, ApiError>> + Send;
}

impl<S: ScanFindingsSource> ScanFindingsSource for &S {
    fn basic_findings(
        &self,
        repository: &str,
        digest: &str,
        limit: usize,
    ) -> impl Future<Output = Result<BasicScanFindings, ApiError>> + Send {
        (**self).basic_findings(repository, digest, limit)
    }
}

#[derive(Debug, Clone)]
pub struct EcrScanFindings {
    client: aws_sdk_ecr::Client,
}

impl EcrScanFindings {
    pub fn new(client: aws_sdk_ecr::Client) -> Self {
        Self { client }
    }
}

impl ScanFindingsSource for EcrScanFindings {
    async fn basic_findings(
        &self,
        repository: &str,
        digest: &str,
        limit: usize,
    ) -> Result<BasicScanFindings, ApiError> {
        let mut pages = self
            .client
            .describe_image_scan_findings()
            .repository_name(repository)
            .image_id(ImageIdentifier::builder().image_digest(digest).build())
            .max_results(1000)
            .into_paginator()
            .send();
        let mut out = BasicScanFindings {
            complete: true,
            ..BasicScanFindings::default()
        };
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| ApiError::from_sdk("DescribeImageScanFindings", &e))?;
            if let Some(status) = page.image_scan_status {
                out.status = status.status.map(|s| s.as_str().to_string());
                out.description = status.description;
            }
            for f in page
                .image_scan_findings
                .and_then(|s| s.findings)
                .unwrap_or_default()
            {
                if out.findings.len() >= limit {
                    out.complete = false;
                    break;
                }
                let attribute = |key: &str| {
                    f.attributes
                        .as_ref()?
                        .iter()
                        .find(|a| a.key == key)
                        .and_then(|a| a.value.clone())
                };
                out.findings.push(Finding {
                    vulnerability_id: f.name.clone().unwrap_or_default(),
                    severity: f
                        .severity
                        .as_ref()
                        .and_then(|s| VulnSeverity::parse(s.as_str()))
                        .unwrap_or(VulnSeverity::Untriaged),
                    title: f.description.clone().unwrap_or_default(),
                    package: attribute("package_name"),
                    installed_version: attribute("package_version"),
                    fixed_in_version: None,
                    fix_available: None,
                    exploit_available: None,
                    score: attribute("CVSS3_SCORE")
                        .or_else(|| attribute("CVSS2_SCORE"))
                        .and_then(|s| s.parse().ok()),
                    repository: repository.to_string(),
                    digest: digest.to_string(),
                    tags: Vec::new(),
                });
            }
            if !out.complete {
                break;
            }
        }
        out.findings.sort_by(Finding::worst_first);
        Ok(out)
    }
}
