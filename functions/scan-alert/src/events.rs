//! The EventBridge events scan-alert handles, as typed values: each kind's `detail` is
//! deserialised into its own type here, as received (nothing is patched first).

use lookout_shared::findings::{Finding, SeverityCounts, VulnSeverity};
use lookout_shared::text::ascii_line;
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
    InspectorFinding {
        status: FindingStatus,
        finding: Box<Finding>,
    },
}

/// Inspector's finding status: only ACTIVE findings count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FindingStatus {
    Active,
    Suppressed,
    Closed,
}

impl FindingStatus {
    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "ACTIVE" => FindingStatus::Active,
            "SUPPRESSED" => FindingStatus::Suppressed,
            "CLOSED" => FindingStatus::Closed,
            _ => return None,
        })
    }
}

/// Scan statuses that say the scan has not finished: its counts are not a result yet, and it
/// has not failed either.
const UNFINISHED: [&str; 2] = ["IN_PROGRESS", "PENDING"];

impl EventKind {
    /// A scan event whose scan has not finished (IN_PROGRESS, PENDING): nothing to publish
    /// until the event for its end comes.
    pub(crate) fn unfinished(&self) -> bool {
        match self {
            EventKind::BasicScan { status, .. } | EventKind::InspectorScan { status, .. } => {
                UNFINISHED.contains(&status.as_str())
            }
            EventKind::InspectorFinding { .. } => false,
        }
    }

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
    /// `problem` names a field and what is wrong with it, never the value.
    #[error("malformed {detail_type} event: {problem}")]
    Malformed { detail_type: String, problem: String },
    #[error(
        "expected an EventBridge event object, an array of them, or an SQS batch (Records, or an EventBridge Pipes array of SQS messages)"
    )]
    NotAnEvent,
}

impl EventError {
    /// The `Diagnostic` kind (`Lookout.<kind>`) of an event that cannot be processed.
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            EventError::Unsupported { .. } => "UnsupportedEvent",
            EventError::Malformed { .. } => "MalformedEvent",
            EventError::NotAnEvent => "InvalidEvent",
        }
    }
}

/// How the events arrived: it decides how failures are reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shape {
    /// One EventBridge event (an EventBridge rule's target).
    Single,
    /// A JSON array of EventBridge events (replays, Pipes without an SQS source).
    Array,
    /// SQS messages whose bodies are EventBridge events: an SQS event source mapping
    /// (`{"Records": [...]}`) or an EventBridge Pipe with an SQS source (a JSON array).
    /// Failures are answered with `batchItemFailures`, so only they are redelivered.
    Sqs,
}

/// One input item: an event, or why it cannot be processed.
#[derive(Debug)]
pub(crate) struct Item {
    /// The SQS `messageId` (the partial batch response's `itemIdentifier`).
    pub message_id: Option<String>,
    pub event: Result<ImageEvent, EventError>,
}

#[derive(Debug)]
pub(crate) struct Batch {
    pub shape: Shape,
    pub items: Vec<Item>,
}

/// One event, an array of them, or an SQS batch of them. Only a payload of none of these
/// shapes fails as a whole; otherwise each item carries its own result.
pub(crate) fn parse(payload: &Value) -> Result<Batch, EventError> {
    if let Some(records) = payload.get("Records").and_then(Value::as_array) {
        return sqs_batch(records);
    }
    match payload {
        Value::Array(items) if !items.is_empty() && items.iter().all(is_sqs_record) => sqs_batch(items),
        Value::Array(items) => Ok(Batch {
            shape: Shape::Array,
            items: items
                .iter()
                .map(|e| Item {
                    message_id: None,
                    event: parse_one(e),
                })
                .collect(),
        }),
        Value::Object(_) => Ok(Batch {
            shape: Shape::Single,
            items: vec![Item {
                message_id: None,
                event: parse_one(payload),
            }],
        }),
        _ => Err(EventError::NotAnEvent),
    }
}

fn is_sqs_record(v: &Value) -> bool {
    field(v, "eventSource") == "aws:sqs" && v.get("messageId").is_some_and(Value::is_string)
}

fn sqs_batch(records: &[Value]) -> Result<Batch, EventError> {
    if !records.iter().all(is_sqs_record) {
        return Err(EventError::NotAnEvent);
    }
    let items = records
        .iter()
        .map(|record| Item {
            message_id: Some(field(record, "messageId").to_string()),
            event: match serde_json::from_str::<Value>(field(record, "body")) {
                Ok(event) if event.is_object() => parse_one(&event),
                _ => Err(EventError::Malformed {
                    detail_type: "SQS message".to_string(),
                    problem: "body is not a JSON EventBridge event".to_string(),
                }),
            },
        })
        .collect();
    Ok(Batch {
        shape: Shape::Sqs,
        items,
    })
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
            // Named, bounded and single-line: never a payload dump in an error.
            return Err(EventError::Unsupported {
                event_source: ascii_line(source, 64),
                detail_type: ascii_line(detail_type, 64),
            });
        }
    };
    let malformed = |problem: String| EventError::Malformed {
        detail_type: detail_type.to_string(),
        problem,
    };
    let parsed = parsed.map_err(malformed)?;
    let (account, region) = (field(event, "account"), field(event, "region"));
    // Links and ARNs are built from these: only values of AWS's own grammar get through.
    if !valid_account(account) {
        return Err(malformed("account is not a 12-digit AWS account id".into()));
    }
    if !lookout_shared::console::is_region(region) {
        return Err(malformed("region is not an AWS region name".into()));
    }
    if !valid_repository(&parsed.repository) {
        return Err(malformed(
            "the repository name is not a valid ECR repository name".into(),
        ));
    }
    if !valid_digest(&parsed.digest) {
        return Err(malformed("the image digest is not sha256:<64 hex digits>".into()));
    }
    Ok(ImageEvent {
        id: field(event, "id").to_string(),
        account: account.to_string(),
        region: region.to_string(),
        repository: parsed.repository,
        digest: parsed.digest,
        tags: parsed.tags,
        kind: parsed.kind,
    })
}

/// A serde error as a problem: the field it names, or the position, never the value.
fn problem(e: &serde_json::Error) -> String {
    let message = e.to_string();
    if message.starts_with("missing field `") {
        return message.split(" at line").next().unwrap_or_default().to_string();
    }
    format!(
        "a field has the wrong type or shape (detail line {}, column {})",
        e.line(),
        e.column()
    )
}

fn valid_account(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

/// ECR: `(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*`, 2 to 256 characters.
fn valid_repository(s: &str) -> bool {
    let component = |c: &str| {
        !c.is_empty()
            && c.split(['.', '_', '-'])
                .all(|w| !w.is_empty() && w.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()))
    };
    (2..=256).contains(&s.len()) && s.split('/').all(component)
}

fn valid_digest(s: &str) -> bool {
    s.strip_prefix("sha256:")
        .is_some_and(|hex| hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// A severity name as ECR or Inspector spell it; anything else is an error naming `field`.
fn severity(field: &str, name: &str) -> Result<VulnSeverity, String> {
    VulnSeverity::parse(name).ok_or_else(|| format!("{field} is not a known severity"))
}

/// `aws.ecr` / `ECR Image Scan`. FAILED scans may carry no counts or tags.
fn ecr_scan(detail: Value) -> Result<Parsed, String> {
    let d: EcrScanDetail = serde_json::from_value(detail).map_err(|e| problem(&e))?;
    let mut counts = SeverityCounts::default();
    for (name, n) in d.finding_severity_counts.unwrap_or_default() {
        let s = severity("a finding-severity-counts key", &name)?;
        // null is how FAILED scans say "none"; a negative count is not a count.
        let n = u64::try_from(n.unwrap_or(0))
            .map_err(|_| "a finding-severity-counts value is negative".to_string())?;
        counts.add(s, n);
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
    let d: InspectorScanDetail = serde_json::from_value(detail).map_err(|e| problem(&e))?;
    let mut counts = SeverityCounts::default();
    for (name, n) in d.finding_severity_counts {
        // Inspector adds the sum of the others.
        if name != "TOTAL" {
            counts.add(severity("a finding-severity-counts key", &name)?, n);
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
    let d: InspectorFindingDetail = serde_json::from_value(detail).map_err(|e| problem(&e))?;
    // A finding whose status or severity is unknown is not "below threshold": it fails, named.
    let status = FindingStatus::parse(d.status.as_deref().ok_or("missing field `status`")?)
        .ok_or("status is not ACTIVE, SUPPRESSED or CLOSED")?;
    let severity = severity("severity", &d.severity)?;
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
        severity,
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
            status,
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
    status: Option<String>,
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
