//! What scan-alert is invoked with, typed at the boundary: the function's event is
//! `Incoming<Batch>`. It accepts one EventBridge event (a rule's target), a JSON array of them,
//! or SQS messages whose bodies are EventBridge events (an event source mapping's
//! `{"Records": [...]}`, or an EventBridge Pipe's bare array of SQS messages). The envelopes are
//! `aws_lambda_events`' (`SqsEvent`, `SqsMessage`, `EventBridgeEvent<D>`) with a typed `detail`
//! per event kind ([`crate::detail`]); each event's names are then checked against AWS's own
//! grammars and normalised into an [`ImageEvent`].
//!
//! Each item carries its own result, so one bad event fails alone; only a document of none of
//! these shapes fails as a whole. No error quotes the payload.

use crate::detail::{EcrScanDetail, InspectorFindingDetail, InspectorScanDetail, Parsed};
use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};
use lookout_shared::envelope::Malformed;
use lookout_shared::findings::{Finding, SeverityCounts};
use lookout_shared::ids::{AccountId, Region};
use lookout_shared::text::ascii_line;
use serde::de::{DeserializeOwned, Deserializer, Error as _};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// What happened to which image.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ImageEvent {
    /// EventBridge event id: stable across redeliveries.
    pub(crate) id: String,
    pub(crate) account: AccountId,
    pub(crate) region: Region,
    pub(crate) repository: String,
    pub(crate) digest: String,
    pub(crate) tags: Vec<String>,
    pub(crate) kind: EventKind,
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
        /// The finding's ARN: what the state table remembers it by ([`crate::news`]).
        arn: Option<String>,
    },
}

/// Inspector's finding status: only ACTIVE findings count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub(crate) enum FindingStatus {
    Active,
    Suppressed,
    Closed,
}

impl FindingStatus {
    pub(crate) fn parse(s: &str) -> Option<Self> {
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

/// Why an event cannot be processed; never quotes the payload.
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
    pub(crate) message_id: Option<String>,
    pub(crate) event: Result<ImageEvent, EventError>,
}

/// The invocation's events, typed: one event, an array of them, or an SQS batch of them.
#[derive(Debug)]
pub struct Batch {
    pub(crate) shape: Shape,
    pub(crate) items: Vec<Item>,
}

/// A document of none of the accepted shapes fails here (`Incoming` carries it as
/// `Malformed`, the handler answers [`EventError::NotAnEvent`]); any other document succeeds,
/// each item with its own result.
impl<'de> Deserialize<'de> for Batch {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let document = Value::deserialize(deserializer)?;
        Batch::from_document(document).ok_or_else(|| D::Error::custom("not a scan-alert event"))
    }
}

impl Batch {
    fn from_document(document: Value) -> Option<Self> {
        if document.get("Records").is_some_and(Value::is_array) {
            return Self::sqs(SqsEvent::deserialize(document).ok()?.records);
        }
        match &document {
            Value::Array(items) => {
                // Pipes' SQS messages: every item one (EventBridge events are not).
                if !items.is_empty()
                    && let Ok(messages) = Vec::<SqsMessage>::deserialize(&document)
                    && messages.iter().all(is_sqs_message)
                {
                    return Self::sqs(messages);
                }
                Some(Batch {
                    shape: Shape::Array,
                    items: items
                        .iter()
                        .map(|e| Item {
                            message_id: None,
                            event: image_event(e),
                        })
                        .collect(),
                })
            }
            Value::Object(_) => Some(Batch {
                shape: Shape::Single,
                items: vec![Item {
                    message_id: None,
                    event: image_event(&document),
                }],
            }),
            _ => None,
        }
    }

    /// Every record must be an SQS message with a `messageId`: a partial batch response could
    /// not name one without it, and the queue would delete it as delivered.
    fn sqs(records: Vec<SqsMessage>) -> Option<Self> {
        if !records.iter().all(is_sqs_message) {
            return None;
        }
        let items = records
            .into_iter()
            .map(|record| Item {
                event: match serde_json::from_str::<Value>(record.body.as_deref().unwrap_or_default()) {
                    Ok(event) if event.is_object() => image_event(&event),
                    _ => Err(EventError::Malformed {
                        detail_type: "SQS message".to_string(),
                        problem: "body is not a JSON EventBridge event".to_string(),
                    }),
                },
                message_id: record.message_id,
            })
            .collect();
        Some(Batch {
            shape: Shape::Sqs,
            items,
        })
    }
}

fn is_sqs_message(m: &SqsMessage) -> bool {
    m.event_source.as_deref() == Some("aws:sqs") && m.message_id.is_some()
}

/// `source` and `detail-type`, read first so an event of another kind is named as such
/// whatever its detail holds (an event without them is of no kind scan-alert knows).
#[derive(Debug, Default, Deserialize)]
struct Kind<'a> {
    #[serde(default, borrow)]
    source: Option<&'a str>,
    #[serde(default, borrow, rename = "detail-type")]
    detail_type: Option<&'a str>,
}

/// The envelope's fields an [`ImageEvent`] keeps, and what the detail says of the image.
struct Typed {
    id: Option<String>,
    account: Option<String>,
    region: Option<String>,
    parsed: Parsed,
}

/// `event` as an `EventBridgeEvent<D>`, its detail parsed by `parse`.
fn typed<D: Serialize + DeserializeOwned>(
    event: &Value,
    parse: fn(D) -> Result<Parsed, String>,
) -> Result<Typed, String> {
    let EventBridgeEvent {
        id,
        account,
        region,
        detail,
        ..
    } = EventBridgeEvent::<D>::deserialize(event).map_err(|e| Malformed::from_serde(&e).to_string())?;
    Ok(Typed {
        id,
        account,
        region,
        parsed: parse(detail)?,
    })
}

fn image_event(event: &Value) -> Result<ImageEvent, EventError> {
    let kind = Kind::deserialize(event).unwrap_or_default();
    let (source, detail_type) = (
        kind.source.unwrap_or_default(),
        kind.detail_type.unwrap_or_default(),
    );
    let typed = match (source, detail_type) {
        ("aws.ecr", "ECR Image Scan") => typed(event, EcrScanDetail::parse),
        ("aws.inspector2", "Inspector2 Scan") => typed(event, InspectorScanDetail::parse),
        ("aws.inspector2", "Inspector2 Finding") => typed(event, InspectorFindingDetail::parse),
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
    let Typed {
        id,
        account,
        region,
        parsed,
    } = typed.map_err(malformed)?;
    // Links and ARNs are built from these: only values of AWS's own grammar get through.
    let Some(account) = AccountId::parse(account.as_deref().unwrap_or_default()) else {
        return Err(malformed("account is not a 12-digit AWS account id".into()));
    };
    let Some(region) = Region::parse(region.as_deref().unwrap_or_default()) else {
        return Err(malformed("region is not an AWS region name".into()));
    };
    if !valid_repository(&parsed.repository) {
        return Err(malformed(
            "the repository name is not a valid ECR repository name".into(),
        ));
    }
    if !valid_digest(&parsed.digest) {
        return Err(malformed("the image digest is not sha256:<64 hex digits>".into()));
    }
    Ok(ImageEvent {
        id: id.unwrap_or_default(),
        account,
        region,
        repository: parsed.repository,
        digest: parsed.digest,
        tags: parsed.tags,
        kind: parsed.kind,
    })
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

pub(crate) fn valid_digest(s: &str) -> bool {
    s.strip_prefix("sha256:")
        .is_some_and(|hex| hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
}
