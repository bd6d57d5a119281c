//! The `detail` of each EventBridge event kind scan-alert handles, typed as received (nothing
//! is patched first), and what each says about its image. The envelope around them is
//! `aws_lambda_events`' `EventBridgeEvent<D>` ([`crate::events`]), whose bounds want
//! `Serialize` too.

use crate::events::{EventKind, FindingStatus};
use lookout_shared::findings::{Finding, SeverityCounts, VulnSeverity};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What each kind of event says about its image.
#[derive(Debug)]
pub(crate) struct Parsed {
    pub(crate) repository: String,
    pub(crate) digest: String,
    pub(crate) tags: Vec<String>,
    pub(crate) kind: EventKind,
}

/// A severity name as ECR or Inspector spell it; anything else is an error naming `field`.
fn severity(field: &str, name: &str) -> Result<VulnSeverity, String> {
    VulnSeverity::parse(name).ok_or_else(|| format!("{field} is not a known severity"))
}

/// `aws.ecr` / `ECR Image Scan`: a basic scan finished. FAILED scans may carry no counts or
/// tags. Every field may be missing or null on a FAILED scan.
#[derive(Debug, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) struct EcrScanDetail {
    #[serde(default)]
    scan_status: Option<String>,
    #[serde(default)]
    repository_name: Option<String>,
    #[serde(default)]
    image_digest: Option<String>,
    #[serde(default)]
    image_tags: Option<Vec<String>>,
    /// `CRITICAL`, `HIGH`, ..., `UNDEFINED` → count.
    #[serde(default)]
    finding_severity_counts: Option<BTreeMap<String, Option<i64>>>,
}

impl EcrScanDetail {
    pub(crate) fn parse(self) -> Result<Parsed, String> {
        let mut counts = SeverityCounts::default();
        for (name, n) in self.finding_severity_counts.unwrap_or_default() {
            let s = severity("a finding-severity-counts key", &name)?;
            // null is how FAILED scans say "none"; a negative count is not a count.
            let n = u64::try_from(n.unwrap_or(0))
                .map_err(|_| "a finding-severity-counts value is negative".to_string())?;
            counts.add(s, n);
        }
        let repository = self
            .repository_name
            .filter(|r| !r.is_empty())
            .ok_or("no repository-name")?;
        let digest = self
            .image_digest
            .filter(|r| !r.is_empty())
            .ok_or("no image-digest")?;
        Ok(Parsed {
            repository,
            digest,
            tags: self.image_tags.unwrap_or_default(),
            kind: EventKind::BasicScan {
                status: self.scan_status.unwrap_or_default(),
                counts,
            },
        })
    }
}

/// `aws.inspector2` / `Inspector2 Scan`: Inspector's initial scan of a pushed image. The
/// detail names the repository by ARN.
#[derive(Debug, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) struct InspectorScanDetail {
    #[serde(default)]
    scan_status: String,
    repository_name: String,
    #[serde(default)]
    finding_severity_counts: BTreeMap<String, u64>,
    image_digest: String,
    #[serde(default)]
    image_tags: Vec<String>,
}

impl InspectorScanDetail {
    pub(crate) fn parse(self) -> Result<Parsed, String> {
        let mut counts = SeverityCounts::default();
        for (name, n) in self.finding_severity_counts {
            // Inspector adds the sum of the others.
            if name != "TOTAL" {
                counts.add(severity("a finding-severity-counts key", &name)?, n);
            }
        }
        let repository = match self.repository_name.rsplit_once(":repository/") {
            Some((_, name)) => name.to_string(),
            None => self.repository_name,
        };
        Ok(Parsed {
            repository,
            digest: self.image_digest,
            tags: self.image_tags,
            kind: EventKind::InspectorScan {
                status: self.scan_status,
                counts,
            },
        })
    }
}

/// `aws.inspector2` / `Inspector2 Finding`: one finding on one ECR image, new or updated.
#[derive(Debug, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct InspectorFindingDetail {
    #[serde(default)]
    title: String,
    /// `arn:aws:inspector2:…:finding/<id>`: the last part names a finding that has no id,
    /// title or package.
    #[serde(default)]
    finding_arn: Option<String>,
    severity: String,
    #[serde(default)]
    status: Option<String>,
    inspector_score: Option<f64>,
    fix_available: Option<String>,
    exploit_available: Option<String>,
    package_vulnerability_details: Option<PackageDetails>,
    #[serde(default)]
    resources: Vec<FindingResource>,
}

impl InspectorFindingDetail {
    pub(crate) fn parse(self) -> Result<Parsed, String> {
        // A finding whose status or severity is unknown is not "below threshold": it fails, named.
        let status = FindingStatus::parse(self.status.as_deref().ok_or("missing field `status`")?)
            .ok_or("status is not ACTIVE, SUPPRESSED or CLOSED")?;
        let severity = severity("severity", &self.severity)?;
        let image = self
            .resources
            .into_iter()
            .find_map(|r| r.details?.aws_ecr_container_image)
            .ok_or("no awsEcrContainerImage resource")?;
        let (vulnerability_id, package) = match self.package_vulnerability_details {
            Some(p) => (p.vulnerability_id, p.vulnerable_packages.into_iter().next()),
            // Without package details the finding is identified by its title.
            None => (self.title.clone(), None),
        };
        // No CVE id and no title: the package name, else the finding ARN's last part, so the
        // subject never reads `[HIGH]  in payments:v3.1.0`. Redacted as the id is.
        let vulnerability_id = [
            Some(vulnerability_id.as_str()),
            Some(self.title.as_str()),
            package.as_ref().map(|p| p.name.as_str()),
            self.finding_arn
                .as_deref()
                .map(|arn| arn.rsplit(['/', ':']).next().unwrap_or(arn)),
        ]
        .into_iter()
        .flatten()
        .find(|s| !s.trim().is_empty())
        .unwrap_or("unnamed finding")
        .to_string();
        let (package, installed_version, fixed_in_version) = match package {
            Some(p) => (
                Some(p.name),
                Some(p.version),
                p.fixed_in_version
                    .filter(|v| !v.is_empty() && v != "NotAvailable"),
            ),
            None => (None, None, None),
        };
        let finding = Finding {
            vulnerability_id,
            severity,
            title: self.title,
            package,
            installed_version,
            fixed_in_version,
            fix_available: self.fix_available,
            exploit_available: self.exploit_available,
            score: self.inspector_score,
            repository: image.repository_name.clone(),
            digest: image.image_hash.clone(),
            tags: image.image_tags.clone(),
        };
        Ok(Parsed {
            repository: image.repository_name,
            digest: image.image_hash,
            tags: image.image_tags,
            kind: EventKind::InspectorFinding {
                status,
                finding: Box::new(finding),
                arn: self.finding_arn,
            },
        })
    }
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
struct PackageDetails {
    vulnerability_id: String,
    #[serde(default)]
    vulnerable_packages: Vec<VulnerablePackage>,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
struct VulnerablePackage {
    name: String,
    #[serde(default)]
    version: String,
    fixed_in_version: Option<String>,
}

#[derive(Debug, Deserialize, Serialize)]
struct FindingResource {
    details: Option<FindingResourceDetails>,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
struct FindingResourceDetails {
    aws_ecr_container_image: Option<EcrImageDetails>,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
struct EcrImageDetails {
    repository_name: String,
    image_hash: String,
    #[serde(default)]
    image_tags: Vec<String>,
}
