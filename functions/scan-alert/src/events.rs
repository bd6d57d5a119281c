//! The EventBridge events scan-alert handles, as typed values. ECR's basic scan event uses
//! `aws_lambda_events`' type; Inspector's have none there, so they are typed here.

use aws_lambda_events::event::ecr_scan::EcrScanEvent;
use lookout_shared::findings::{Finding, SeverityCounts, VulnSeverity};
use serde::Deserialize;
use serde_json::Value;

/// What happened to which image.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ImageEvent {
    /// EventBridge event id: stable across redeliveries.
    pub id: String,
    pub account: String,
    pub region: String,
    pub repository: String,
    pub digest: String,
    pub tags: Vec<String>,
    pub kind: EventKind,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum EventKind {
    /// `aws.ecr` / `ECR Image Scan`: a basic scan finished (COMPLETE or FAILED).
    BasicScan { status: String, counts: SeverityCounts },
    /// `aws.inspector2` / `Inspector2 Scan`: Inspector's initial scan of a pushed image.
    InspectorScan { status: String, counts: SeverityCounts },
    /// `aws.inspector2` / `Inspector2 Finding`: one finding, new or updated.
    InspectorFinding { status: String, finding: Box<Finding> },
}

impl EventKind {
    pub(crate) fn name(&self) -> &'static str {
        match self {
            EventKind::BasicScan { .. } => "ECR Image Scan",
            EventKind::InspectorScan { .. } => "Inspector2 Scan",
            EventKind::InspectorFinding { .. } => "Inspector2 Finding",
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EventError {
    #[error(
        "unsupported event (source {event_source:?}, detail-type {detail_type:?}): scan-alert handles aws.ecr \"ECR Image Scan\" and aws.inspector2 \"Inspector2 Scan\" / \"Inspector2 Finding\""
    )]
    Unsupported {
        event_source: String,
        detail_type: String,
    },
    #[error("malformed {detail_type} event: {problem}")]
    Malformed { detail_type: String, problem: String },
    #[error("expected an EventBridge event object or an array of them")]
    NotAnEvent,
}

/// One event, or an array of them (EventBridge Pipes and replays can batch).
pub(crate) fn parse(payload: &Value) -> Result<Vec<ImageEvent>, EventError> {
    match payload {
        Value::Array(items) => items.iter().map(parse_one).collect(),
        Value::Object(_) => parse_one(payload).map(|e| vec![e]),
        _ => Err(EventError::NotAnEvent),
    }
}

fn field<'a>(v: &'a Value, name: &str) -> &'a str {
    v.get(name).and_then(Value::as_str).unwrap_or_default()
}

fn parse_one(event: &Value) -> Result<ImageEvent, EventError> {
    let (source, detail_type) = (field(event, "source"), field(event, "detail-type"));
    let malformed = |problem: String| EventError::Malformed {
        detail_type: detail_type.to_string(),
        problem,
    };
    let base = |repository: String, digest: String, tags: Vec<String>, kind: EventKind| ImageEvent {
        id: field(event, "id").to_string(),
        account: field(event, "account").to_string(),
        region: field(event, "region").to_string(),
        repository,
        digest,
        tags,
        kind,
    };
    match (source, detail_type) {
        ("aws.ecr", "ECR Image Scan") => {
            // FAILED scans may carry no counts or tags; the shared type requires both.
            let mut event = event.clone();
            if let Some(detail) = event.get_mut("detail").and_then(Value::as_object_mut) {
                detail
                    .entry("finding-severity-counts")
                    .or_insert_with(|| Value::Object(Default::default()));
                detail
                    .entry("image-tags")
                    .or_insert_with(|| Value::Array(Vec::new()));
            }
            if event.get("resources").is_none() {
                event["resources"] = Value::Array(Vec::new());
            }
            let scan: EcrScanEvent = serde_json::from_value(event).map_err(|e| malformed(e.to_string()))?;
            let d = scan.detail;
            let c = d.finding_severity_counts;
            let mut counts = SeverityCounts::default();
            for (s, n) in [
                (VulnSeverity::Critical, c.critical),
                (VulnSeverity::High, c.high),
                (VulnSeverity::Medium, c.medium),
                (VulnSeverity::Low, c.low),
                (VulnSeverity::Informational, c.informational),
                (VulnSeverity::Untriaged, c.undefined),
            ] {
                counts.add(s, n.and_then(|n| u64::try_from(n).ok()).unwrap_or(0));
            }
            let repository = d
                .repository_name
                .filter(|r| !r.is_empty())
                .ok_or_else(|| malformed("no repository-name".into()))?;
            let digest = d
                .image_digest
                .filter(|r| !r.is_empty())
                .ok_or_else(|| malformed("no image-digest".into()))?;
            let status = d.scan_status.unwrap_or_default();
            Ok(base(
                repository,
                digest,
                d.image_tags,
                EventKind::BasicScan { status, counts },
            ))
        }
        ("aws.inspector2", "Inspector2 Scan") => {
            let d: InspectorScanDetail =
                serde_json::from_value(event.get("detail").cloned().unwrap_or_default())
                    .map_err(|e| malformed(e.to_string()))?;
            let mut counts = SeverityCounts::default();
            for (name, n) in d.finding_severity_counts {
                if let Some(s) = VulnSeverity::parse(&name) {
                    counts.add(s, n);
                }
            }
            // The detail names the repository by ARN.
            let repository = d
                .repository_name
                .rsplit_once(":repository/")
                .map_or(d.repository_name.clone(), |(_, n)| n.to_string());
            Ok(base(
                repository,
                d.image_digest,
                d.image_tags,
                EventKind::InspectorScan {
                    status: d.scan_status,
                    counts,
                },
            ))
        }
        ("aws.inspector2", "Inspector2 Finding") => {
            let d: InspectorFindingDetail =
                serde_json::from_value(event.get("detail").cloned().unwrap_or_default())
                    .map_err(|e| malformed(e.to_string()))?;
            let image = d
                .resources
                .iter()
                .find_map(|r| r.details.as_ref()?.aws_ecr_container_image.as_ref())
                .ok_or_else(|| malformed("no awsEcrContainerImage resource".into()))?;
            let package = d
                .package_vulnerability_details
                .as_ref()
                .and_then(|p| p.vulnerable_packages.first());
            let finding = Finding {
                vulnerability_id: d
                    .package_vulnerability_details
                    .as_ref()
                    .map(|p| p.vulnerability_id.clone())
                    .unwrap_or_else(|| d.title.clone()),
                severity: VulnSeverity::parse(&d.severity).unwrap_or(VulnSeverity::Untriaged),
                title: d.title.clone(),
                package: package.map(|p| p.name.clone()),
                installed_version: package.map(|p| p.version.clone()),
                fixed_in_version: package
                    .and_then(|p| p.fixed_in_version.clone())
                    .filter(|v| !v.is_empty() && v != "NotAvailable"),
                fix_available: d.fix_available.clone(),
                exploit_available: d.exploit_available.clone(),
                score: d.inspector_score,
                repository: image.repository_name.clone(),
                digest: image.image_hash.clone(),
                tags: image.image_tags.clone(),
            };
            Ok(base(
                image.repository_name.clone(),
                image.image_hash.clone(),
                image.image_tags.clone(),
                EventKind::InspectorFinding {
                    status: d.status,
                    finding: Box::new(finding),
                },
            ))
        }
        _ => Err(EventError::Unsupported {
            event_source: source.to_string(),
            detail_type: detail_type.to_string(),
        }),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
struct InspectorScanDetail {
    #[serde(default)]
    scan_status: String,
    repository_name: String,
    #[serde(default)]
    finding_severity_counts: std::collections::BTreeMap<String, u64>,
    image_digest: String,
    #[serde(default)]
    image_tags: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct InspectorFindingDetail {
    #[serde(default)]
    title: String,
    severity: String,
    #[serde(default)]
    status: String,
    inspector_score: Option<f64>,
    fix_available: Option<String>,
    exploit_available: Option<String>,
    package_vulnerability_details: Option<PackageDetails>,
    #[serde(default)]
    resources: Vec<FindingResource>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PackageDetails {
    vulnerability_id: String,
    #[serde(default)]
    vulnerable_packages: Vec<VulnerablePackage>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct VulnerablePackage {
    name: String,
    #[serde(default)]
    version: String,
    fixed_in_version: Option<String>,
}

#[derive(Deserialize)]
struct FindingResource {
    details: Option<FindingResourceDetails>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct FindingResourceDetails {
    aws_ecr_container_image: Option<EcrImageDetails>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct EcrImageDetails {
    repository_name: String,
    image_hash: String,
    #[serde(default)]
    image_tags: Vec<String>,
}
