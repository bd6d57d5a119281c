//! The invocation's response: one result per image and every item that failed, and how the
//! failures are answered for each input shape (a partial batch response for SQS, a failed
//! invocation naming how many and the first for a single event or an array).

use crate::error::ScanAlertError;
use crate::events::Shape;
use aws_lambda_events::event::sqs::SqsBatchResponse;
use lookout_shared::ids::AccountId;
use lookout_shared::invocation::FunctionError;
use serde::Serialize;

/// Entries of `results` and `failures` in the response; the rest are counted.
const MAX_LISTED: usize = 100;

/// The invocation's response: one result per image, and every item that failed. Read as
/// JSON (its fields are the crate's).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    /// Notifications published.
    alerts: usize,
    /// Input items that failed.
    failed: usize,
    /// Images whose findings above the threshold were all alerted before (state table only).
    #[serde(skip_serializing_if = "is_zero")]
    scans_without_news: usize,
    /// The first [`MAX_LISTED`] images.
    results: Vec<ImageResult>,
    /// Images past [`MAX_LISTED`].
    #[serde(skip_serializing_if = "is_zero")]
    omitted_results: usize,
    /// The first [`MAX_LISTED`] failed items, each with its named error.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    failures: Vec<ItemFailure>,
    /// SQS batches (event source mapping with `ReportBatchItemFailures`, or an EventBridge Pipe
    /// with an SQS source): `batchItemFailures` names every failed item, so only those are
    /// redelivered.
    #[serde(flatten)]
    batch_item_failures: Option<SqsBatchResponse>,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// One input item that was not processed or not delivered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ItemFailure {
    /// Position in the input (0-based).
    item: usize,
    /// The SQS `messageId`, for SQS batches.
    #[serde(skip_serializing_if = "Option::is_none")]
    item_identifier: Option<String>,
    /// `Lookout.<kind>`.
    error_type: String,
    /// The named error.
    error: String,
    #[serde(skip)]
    kind: &'static str,
}

impl ItemFailure {
    pub(crate) fn new(item: usize, item_identifier: Option<String>, e: &ScanAlertError) -> Self {
        Self {
            item,
            item_identifier,
            error_type: format!("Lookout.{}", e.kind()),
            error: e.to_string(),
            kind: e.kind(),
        }
    }
}

/// What the summary log line shows: everything but the (long) partial batch response.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct LogLine<'s> {
    alerts: usize,
    failed: usize,
    #[serde(skip_serializing_if = "is_zero")]
    scans_without_news: usize,
    results: &'s [ImageResult],
    omitted_results: usize,
    failures: &'s [ItemFailure],
}

impl<'s> From<&'s Summary> for LogLine<'s> {
    fn from(summary: &'s Summary) -> Self {
        LogLine {
            alerts: summary.alerts,
            failed: summary.failed,
            scans_without_news: summary.scans_without_news,
            results: &summary.results,
            omitted_results: summary.omitted_results,
            failures: &summary.failures,
        }
    }
}

/// What became of one image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ImageResult {
    /// The account the event came from.
    pub(crate) account: AccountId,
    /// The repository name.
    pub(crate) repository: String,
    /// The image digest.
    pub(crate) digest: String,
    /// The event kind (`detail-type`).
    pub(crate) event: &'static str,
    /// What was done with it.
    pub(crate) outcome: Outcome,
    /// SNS's MessageId, when published.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) message_id: Option<String>,
    /// The alert's subject, when published.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) subject: Option<String>,
    /// Why the basic scan's findings could not be read, when they were asked for and were
    /// not: the alert went without them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) findings_unavailable: Option<Unavailable>,
}

/// Why an image's findings could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) enum Unavailable {
    /// The member account's reader role could not be assumed (`MemberAccessFailures`).
    MemberUnreachable,
    /// ECR answered with an error.
    ReadFailed,
    /// No answer within the read's share of the deadline.
    TimedOut,
}

/// What was done with one image's events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub(crate) enum Outcome {
    /// `REPOSITORY_INCLUDE` / `REPOSITORY_EXCLUDE` left it out.
    #[serde(rename = "repository excluded")]
    RepositoryExcluded,
    /// No severity reached its threshold.
    #[serde(rename = "below threshold")]
    BelowThreshold,
    /// The alert was published.
    #[serde(rename = "published")]
    Published,
    /// The state store said it was already delivered (or is suppressed).
    #[serde(rename = "skipped")]
    Skipped,
    /// Inspector finding events whose findings are all SUPPRESSED or CLOSED.
    #[serde(rename = "no active finding")]
    NotActive,
    /// A scan still IN_PROGRESS or PENDING: not a failure, and no result yet.
    #[serde(rename = "scan not finished")]
    NotFinished,
    /// Every finding above the threshold was alerted before (the state table's notes).
    #[serde(rename = "nothing new")]
    NothingNew,
    /// Organisation mode: an account neither the function's own nor in `MEMBER_ACCOUNTS`.
    #[serde(rename = "account not in MEMBER_ACCOUNTS")]
    NotAMember,
    /// Organisation mode: a region of another partition than the function's.
    #[serde(rename = "other partition")]
    OtherPartition,
}

/// The invocation's answer. Arrays and single events have no partial response: any failure
/// fails the invocation (after the rest was delivered), so the failure alarm sees it and Lambda
/// retries. So does an SQS failure without a messageId: a partial response could not name it,
/// and the queue would delete it as delivered.
pub(crate) fn conclude(
    shape: Shape,
    items: usize,
    mut results: Vec<ImageResult>,
    mut failures: Vec<ItemFailure>,
) -> Result<Summary, ScanAlertError> {
    failures.sort_by_key(|f| f.item);
    if (shape != Shape::Sqs || failures.iter().any(|f| f.item_identifier.is_none()))
        && let Some(first) = failures.first()
    {
        let kind = first.kind;
        return Err(if shape == Shape::Single {
            ScanAlertError::Item {
                kind,
                message: first.error.clone(),
            }
        } else {
            ScanAlertError::Incomplete {
                kind: if failures.iter().all(|f| f.kind == kind) {
                    kind
                } else {
                    "BatchIncomplete"
                },
                failed: failures.len(),
                items,
                first_item: first.item,
                first: first.error.clone(),
            }
        });
    }
    let batch_item_failures = (shape == Shape::Sqs).then(|| {
        let mut response = SqsBatchResponse::default();
        response.set_failures(failures.iter().filter_map(|f| f.item_identifier.clone()));
        response
    });
    let alerts = results.iter().filter(|r| r.outcome == Outcome::Published).count();
    let scans_without_news = results
        .iter()
        .filter(|r| r.outcome == Outcome::NothingNew)
        .count();
    let omitted_results = results.len().saturating_sub(MAX_LISTED);
    results.truncate(MAX_LISTED);
    let failed = failures.len();
    failures.truncate(MAX_LISTED);
    Ok(Summary {
        alerts,
        failed,
        scans_without_news,
        results,
        omitted_results,
        failures,
        batch_item_failures,
    })
}
