//! The EventBridge events scan-alert handles, as typed values: each kind's `detail` is
//! deserialised into its own type here, as received (nothing is patched first).

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

/// What each kind of event says about its image.
struct Parsed {
    repository: String,
    digest: String,
    tags: Vec<String>,
    kind: EventKind,
}

fn parse_one(event: &Value) -> Result<ImageEvent, EventError> {
    let (source, detail_type) = (field(event, "source"), field(event, "detail-type"));
    let detail = || event.get("detail").cloned().unwrap_or_default();
    let parsed = match (source, detail_type) {
        ("aws.ecr", "ECR Image Scan") => ecr_scan(detail()),
        ("aws.inspector2", "Inspector2 Scan") => inspector_scan(detail()),
        ("aws.inspector2", "Inspector2 Finding") => inspector_finding(detail()),
        _ => {
            return Err(EventError::Unsupported {
                event_source: source.to_string(),
                detail_type: detail_type.to_string(),
            });
        }
    }
    .map_err(|problem| EventError::Malformed {
        detail_type: detail_type.to_string(),
        problem,
    })?;
    Ok(ImageEvent {
        id: field(event, "id").to_string(),
        account: field(event, "account").to_string(),
        region: field(event, "region").to_string(),
        repository: parsed.repository,
        digest: parsed.digest,
        tags: parsed.tags,
        kind: parsed.kind,
    })
}

/// `aws.ecr` / `ECR Image Scan`. FAILED scans may carry no counts or tags.
fn ecr_scan(detail: Value) -> Result<Parsed, String> {
    let d: EcrScanDetail = serde_json::from_value(detail).map_err(|e| e.to_string())?;
    let mut counts = SeverityCounts::default();
    for (name, n) in d.finding_severity_counts.unwrap_or_default() {
        if let Some(s) = VulnSeverity::parse(&name) {
            counts.add(s, n.and_then(|n| u64::try_from(n).ok()).unwrap_or(0));
        }
    }
    let repository = d
        .repository_name
        .filter(|r| !r.is_empty())
        .ok_or("no repository-name")?;
    let digest = d
        .image_digest
        .filter(|r| !r.is_empty())
        .ok_or("no image-digest")?;
    Ok(Parsed {
        repository,
        digest,
        tags: d.image_tags.unwrap_or_default(),
        kind: EventKind::BasicScan {
            status: d.scan_status.unwrap_or_default(),
            counts,
        },
    })
}

/// `aws.inspector2` / `Inspector2 Scan`: the detail names the repository by ARN.
fn inspector_scan(detail: Value) -> Result<Parsed, String> {
    let d: InspectorScanDetail = serde_json::from_value(detail).map_err(|e| e.to_string())?;
    let mut counts = SeverityCounts::default();
    for (name, n) in d.finding_severity_counts {
        if let Some(s) = VulnSeverity::parse(&name) {
            counts.add(s, n);
        }
    }
    let repository = d
        .repository_name
        .rsplit_once(":repository/")
        .map_or(d.repository_name.clone(), |(_, n)| n.to_string());
    Ok(Parsed {
        repository,
        digest: d.image_digest,
        tags: d.image_tags,
        kind: EventKind::InspectorScan {
            status: d.scan_status,
            counts,
        },
    })
}

/// `aws.inspector2` / `Inspector2 Finding`: one finding on one ECR image.
fn inspector_finding(detail: Value) -> Result<Parsed, String> {
    let d: InspectorFindingDetail = serde_json::from_value(detail).map_err(|e| e.to_string())?;
    let image = d
        .resources
        .iter()
        .find_map(|r| r.details.as_ref()?.aws_ecr_container_image.as_ref())
        .ok_or("no awsEcrContainerImage resource")?;
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
    Ok(Parsed {
        repository: image.repository_name.clone(),
        digest: image.image_hash.clone(),
        tags: image.image_tags.clone(),
        kind: EventKind::InspectorFinding {
            status: d.status,
            finding: Box::new(finding),
        },
    })
}

/// ECR's basic scan detail. Every field may be missing or null on a FAILED scan.
#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
struct EcrScanDetail {
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
    finding_severity_counts: Option<std::collections::BTreeMap<String, Option<i64>>>,
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
