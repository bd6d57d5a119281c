//! One scan-alert invocation: parse the events, group them by image, apply thresholds,
//! repository patterns and the ignore list, and publish one notification per image.
//!
//! Each input item succeeds or fails on its own: an SQS batch answers `batchItemFailures` (only
//! the failed messages come back); a single event or an array fails the invocation, after the
//! other items were published, naming how many failed and the first.

use crate::config::ScanAlertConfig;
use crate::events::{self, EventError, EventKind, FindingStatus, ImageEvent, Shape};
use crate::render::ImageAlert;
use crate::scan_findings::ScanFindingsSource;
use lookout_shared::findings::{Finding, SeverityCounts};
use lookout_shared::invocation::{Admission, DeliveryError, Function, FunctionError, Invocation, Outbox};
use lookout_shared::metrics::{Metric, MetricsConfig};
use lookout_shared::notification::{Detail, FitError};
use lookout_shared::publish::Publisher;
use lookout_shared::redact::Redactor;
use lookout_shared::state::{DynamoStore, Fingerprint, IdempotencyKey, StateStore};
use serde::Serialize;
use serde_json::Value;
use std::collections::HashMap;
use std::time::Duration;

const SCAN_EVENTS: Metric = Metric::count("ScanEvents");
const BELOW_THRESHOLD: Metric = Metric::count("BelowThreshold");
const ITEMS_FAILED: Metric = Metric::count("ItemsFailed");

/// A publish (with its ECR read) is not started with less than this left before the margin,
/// nor with less than the slowest one of this invocation took.
const MIN_PUBLISH_TIME: Duration = Duration::from_millis(250);
/// Entries of `results` and `failures` in the response; the rest are counted.
const MAX_LISTED: usize = 100;

#[derive(Debug, thiserror::Error)]
pub enum ScanAlertError {
    #[error(transparent)]
    Event(#[from] EventError),
    #[error(transparent)]
    TooLarge(#[from] FitError),
    #[error(transparent)]
    Delivery(#[from] DeliveryError),
    /// Not attempted: what was left of the invocation could not cover one more publish.
    #[error(
        "not attempted: {remaining_ms} ms were left before the deadline margin, less than a publish takes ({needed_ms} ms)"
    )]
    NoTimeLeft { remaining_ms: u128, needed_ms: u128 },
    /// The one item of a single event failed: its error, as recorded.
    #[error("{message}")]
    Item { kind: &'static str, message: String },
    /// Items of an event array failed; the others were processed (and are in the log line).
    #[error(
        "{failed} of {items} items failed, the others were processed; first failure: item {first_item}: {first}"
    )]
    Incomplete {
        kind: &'static str,
        failed: usize,
        items: usize,
        first_item: usize,
        first: String,
    },
}

impl FunctionError for ScanAlertError {
    fn kind(&self) -> &'static str {
        match self {
            ScanAlertError::Event(e) => e.kind(),
            ScanAlertError::TooLarge(_) => "MessageTooLarge",
            ScanAlertError::Delivery(e) => e.kind(),
            ScanAlertError::NoTimeLeft { .. } => "DeadlineExceeded",
            ScanAlertError::Item { kind, .. } | ScanAlertError::Incomplete { kind, .. } => kind,
        }
    }
}

const ITEM_BYTES: usize = 1_000;

/// The invocation's response: one result per image, and every item that failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    /// Notifications published.
    pub alerts: usize,
    /// Input items that failed.
    pub failed: usize,
    /// The first [`MAX_LISTED`] images.
    pub results: Vec<ImageResult>,
    #[serde(skip_serializing_if = "is_zero")]
    pub omitted_results: usize,
    /// The first [`MAX_LISTED`] failed items, each with its named error.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub failures: Vec<ItemFailure>,
    /// SQS batches (event source mapping with `ReportBatchItemFailures`, or an EventBridge Pipe
    /// with an SQS source): every failed item, so only those are redelivered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub batch_item_failures: Option<Vec<BatchItemFailure>>,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// One input item that was not processed or not delivered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ItemFailure {
    /// Position in the input (0-based).
    pub item: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub item_identifier: Option<String>,
    /// `Lookout.<kind>`.
    pub error_type: String,
    pub error: String,
    #[serde(skip)]
    kind: &'static str,
}

impl ItemFailure {
    fn new(item: usize, item_identifier: Option<String>, e: &ScanAlertError) -> Self {
        Self {
            item,
            item_identifier,
            error_type: format!("Lookout.{}", e.kind()),
            error: e.to_string(),
            kind: e.kind(),
        }
    }
}

/// The partial batch response entry SQS and EventBridge Pipes read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchItemFailure {
    /// The SQS `messageId`.
    pub item_identifier: String,
}

/// What the summary log line shows: everything but the (long) partial batch response.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct LogLine<'s> {
    alerts: usize,
    failed: usize,
    results: &'s [ImageResult],
    omitted_results: usize,
    failures: &'s [ItemFailure],
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageResult {
    pub repository: String,
    pub digest: String,
    pub event: &'static str,
    pub outcome: Outcome,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Outcome {
    #[serde(rename = "repository excluded")]
    RepositoryExcluded,
    #[serde(rename = "below threshold")]
    BelowThreshold,
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
}

#[derive(Debug)]
pub struct ScanAlert<S, P, St = DynamoStore> {
    config: ScanAlertConfig,
    findings: S,
    outbox: Outbox<P, St>,
    redactor: Redactor,
}

impl<S, P, St> ScanAlert<S, P, St> {
    /// Uses the state store (None when `STATE_TABLE` is unset) with this suppression window.
    pub fn with_state<St2: StateStore>(
        self,
        store: Option<St2>,
        window: std::time::Duration,
    ) -> ScanAlert<S, P, St2> {
        ScanAlert {
            config: self.config,
            findings: self.findings,
            outbox: self.outbox.with_state(store, window),
            redactor: self.redactor,
        }
    }
}

impl<S: ScanFindingsSource, P: Publisher, St: StateStore> Function for ScanAlert<S, P, St> {
    type Event = Value;
    type Summary = Summary;
    type Error = ScanAlertError;
    const NAME: &'static str = "scan-alert";

    fn metrics_config(&self) -> &MetricsConfig {
        &self.config.metrics
    }

    async fn handle(&self, payload: Value, ctx: &mut Invocation) -> Result<Summary, ScanAlertError> {
        let batch = events::parse(&payload)?;
        let items = batch.items.len();
        let mut failures: Vec<ItemFailure> = Vec::new();
        let mut ids = Vec::with_capacity(items);
        let mut events = Vec::new();
        for (index, item) in batch.items.into_iter().enumerate() {
            ids.push(item.message_id.clone());
            match item.event {
                Ok(event) => events.push((index, event)),
                // An event that cannot be processed fails alone, named; the rest go on.
                Err(e) => failures.push(ItemFailure::new(index, item.message_id, &e.into())),
            }
        }
        ctx.metrics.add_len(SCAN_EVENTS, events.len());
        // Each image's notification is claimed under its own key inside the payload's.
        let key = IdempotencyKey::from_event(Self::NAME, &payload);
        let mut results = Vec::new();
        let mut slowest = MIN_PUBLISH_TIME;
        for (indices, group) in group_by_image(events) {
            // Within this invocation: never start what the remaining time cannot finish.
            let remaining = ctx.deadline.remaining_before(self.config.deadline_margin);
            let outcome = if remaining < slowest {
                Err(ScanAlertError::NoTimeLeft {
                    remaining_ms: remaining.as_millis(),
                    needed_ms: slowest.as_millis(),
                })
            } else {
                let started = tokio::time::Instant::now();
                let outcome = self.one_image(&group, &key, ctx).await;
                slowest = slowest.max(started.elapsed());
                outcome
            };
            match outcome {
                Ok(result) => results.push(result),
                // Every item of the image fails with the image's error.
                Err(e) => failures.extend(
                    indices
                        .iter()
                        .map(|&index| ItemFailure::new(index, ids[index].clone(), &e)),
                ),
            }
        }
        failures.sort_by_key(|f| f.item);
        ctx.metrics.add_len(ITEMS_FAILED, failures.len());
        // Arrays and single events have no partial response: any failure fails the invocation
        // (after the rest was delivered), so the failure alarm sees it and Lambda retries. So does
        // an SQS failure without a messageId: a partial response could not name it, and the queue
        // would delete it as delivered.
        if (batch.shape != Shape::Sqs || failures.iter().any(|f| f.item_identifier.is_none()))
            && let Some(first) = failures.first()
        {
            let kind = first.kind;
            return Err(if batch.shape == Shape::Single {
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
        let batch_item_failures = (batch.shape == Shape::Sqs).then(|| {
            failures
                .iter()
                .filter_map(|f| f.item_identifier.clone())
                .map(|item_identifier| BatchItemFailure { item_identifier })
                .collect()
        });
        let alerts = results.iter().filter(|r| r.outcome == Outcome::Published).count();
        let omitted_results = results.len().saturating_sub(MAX_LISTED);
        results.truncate(MAX_LISTED);
        let failed = failures.len();
        failures.truncate(MAX_LISTED);
        Ok(Summary {
            alerts,
            failed,
            results,
            omitted_results,
            failures,
            batch_item_failures,
        })
    }

    fn log_line<'s>(&self, summary: &'s Summary) -> impl Serialize + 's {
        LogLine {
            alerts: summary.alerts,
            failed: summary.failed,
            results: &summary.results,
            omitted_results: summary.omitted_results,
            failures: &summary.failures,
        }
    }
}

impl<S: ScanFindingsSource, P: Publisher> ScanAlert<S, P> {
    pub fn new(config: ScanAlertConfig, findings: S, publisher: P) -> Self {
        Self {
            outbox: Outbox::new(publisher, config.deadline_margin),
            config,
            findings,
            redactor: Redactor::built_in(),
        }
    }
}

impl<S: ScanFindingsSource, P: Publisher, St: StateStore> ScanAlert<S, P, St> {
    /// One image's events: filter, decide, admit, render to fit, publish.
    async fn one_image(
        &self,
        group: &[ImageEvent],
        payload_key: &IdempotencyKey,
        ctx: &mut Invocation,
    ) -> Result<ImageResult, ScanAlertError> {
        let first = &group[0];
        let mut result = ImageResult {
            repository: first.repository.clone(),
            digest: first.digest.clone(),
            event: first.kind.name(),
            outcome: Outcome::RepositoryExcluded,
            message_id: None,
            subject: None,
        };
        if !self.config.repositories.matches(&first.repository) {
            return Ok(result);
        }
        let inactive = |e: &ImageEvent| matches!(&e.kind, EventKind::InspectorFinding { status, .. } if *status != FindingStatus::Active);
        if group.iter().all(inactive) {
            result.outcome = Outcome::NotActive;
            return Ok(result);
        }
        if group.iter().all(|e| e.kind.unfinished()) {
            result.outcome = Outcome::NotFinished;
            return Ok(result);
        }
        let Some(alert) = self.decide(group).await else {
            ctx.metrics.add(BELOW_THRESHOLD, 1);
            result.outcome = Outcome::BelowThreshold;
            return Ok(result);
        };
        let key = payload_key.item(&format!("{}|{}", alert.digest, alert.event_ids.join(",")));
        let (fingerprint, rank) = fingerprint(&alert);
        let permit = match self.outbox.admit(ctx, key, &[(&fingerprint, rank)]).await? {
            Admission::Publish(permit) => permit,
            Admission::Skip { .. } => {
                result.outcome = Outcome::Skipped;
                return Ok(result);
            }
        };
        let max = Detail::new(self.config.max_shown, ITEM_BYTES);
        let (message, _) = self.config.delivery.fit(max, |d| permit.note(alert.render(d)))?;
        let message_id = self.outbox.publish(ctx, permit, &message).await?;
        ctx.metrics.alert_published(message.request_bytes());
        result.outcome = Outcome::Published;
        result.message_id = Some(message_id);
        result.subject = Some(message.subject);
        Ok(result)
    }

    /// The notification for one image, or `None` when nothing reaches a threshold.
    async fn decide(&self, group: &[ImageEvent]) -> Option<ImageAlert> {
        let first = &group[0];
        let mut alert = ImageAlert {
            event: first.kind.name(),
            event_ids: group.iter().map(|e| e.id.clone()).collect(),
            account: first.account.clone(),
            region: first.region.clone(),
            repository: first.repository.clone(),
            digest: first.digest.clone(),
            tags: first.tags.clone(),
            status: String::new(),
            failed: false,
            counts: SeverityCounts::default(),
            findings: Vec::new(),
            notes: Vec::new(),
            thresholds: self.config.thresholds.describe(),
            reached: Vec::new(),
            ignored: Vec::new(),
            enhanced: !matches!(first.kind, EventKind::BasicScan { .. }),
        };
        match &first.kind {
            EventKind::BasicScan { status, counts } => {
                alert.status = status.clone();
                alert.counts = counts.clone();
                alert.failed = status != "COMPLETE";
                let worth_reading = alert.failed || !self.config.thresholds.reached(counts).is_empty();
                if worth_reading {
                    self.read_basic_findings(&mut alert).await;
                }
            }
            EventKind::InspectorScan { status, counts } => {
                alert.status = status.clone();
                alert.counts = counts.clone();
                if !self.config.ignore.is_empty() {
                    alert.notes.push("Inspector's scan summary counts every finding; IGNORE_VULNERABILITIES applies to finding events.".into());
                }
            }
            EventKind::InspectorFinding { .. } => {
                alert.status = "ACTIVE".to_string();
                for event in group {
                    let EventKind::InspectorFinding { status, finding } = &event.kind else {
                        continue;
                    };
                    if *status != FindingStatus::Active {
                        continue;
                    }
                    if self.is_ignored(finding) {
                        alert.ignored.push(finding.vulnerability_id.clone());
                        continue;
                    }
                    alert.counts.add(finding.severity, 1);
                    alert.findings.push((**finding).clone());
                }
                alert.findings.sort_by(Finding::worst_first);
            }
        }
        // The id too: a finding without package details is identified by its title.
        for f in &mut alert.findings {
            f.title = self.redactor.redact(&f.title).0.into_owned();
            f.vulnerability_id = self.redactor.redact(&f.vulnerability_id).0.into_owned();
        }
        alert.reached = self.config.thresholds.reached(&alert.counts);
        (alert.failed || !alert.reached.is_empty()).then_some(alert)
    }

    /// Reads the basic scan's findings: the top ones for the message, and, when every one
    /// was read, counts without the ignored ones. A failure here still lets the alert out.
    async fn read_basic_findings(&self, alert: &mut ImageAlert) {
        match self
            .findings
            .basic_findings(&alert.repository, &alert.digest, self.config.max_findings)
            .await
        {
            Ok(read) => {
                if alert.failed
                    && let Some(description) = read.description
                {
                    let description = self.redactor.redact(&description).0.into_owned();
                    alert.notes.push(format!("ECR says: {description}"));
                }
                let (ignored, kept): (Vec<Finding>, Vec<Finding>) =
                    read.findings.into_iter().partition(|f| self.is_ignored(f));
                alert.ignored = ignored.iter().map(|f| f.vulnerability_id.clone()).collect();
                if read.complete && !alert.ignored.is_empty() {
                    let mut counts = SeverityCounts::default();
                    for f in &kept {
                        counts.add(f.severity, 1);
                    }
                    alert.counts = counts;
                } else if !read.complete {
                    alert.notes.push(format!(
                        "Only the first {} findings were read (MAX_FINDINGS); counts are ECR's.",
                        self.config.max_findings
                    ));
                }
                alert.findings = kept;
            }
            Err(e) => alert.notes.push(format!(
                "Findings could not be read ({e}); counts are from the event."
            )),
        }
    }

    fn is_ignored(&self, finding: &Finding) -> bool {
        self.config
            .ignore
            .contains(&finding.vulnerability_id.to_ascii_uppercase())
    }
}

/// The suppression window's key: the image digest and its finding set (ids, else the counts),
/// ranked by the worst severity reached (a failed scan ranks lowest).
fn fingerprint(alert: &ImageAlert) -> (Fingerprint, u8) {
    let mut ids: Vec<&str> = alert
        .findings
        .iter()
        .map(|f| f.vulnerability_id.as_str())
        .collect();
    ids.sort_unstable();
    ids.dedup();
    let findings = if ids.is_empty() {
        format!("{} {}", alert.status, alert.counts.describe())
    } else {
        ids.join(",")
    };
    let rank = alert.reached.first().map_or(0, |s| *s as u8 + 1);
    (
        Fingerprint::new("scan-alert", &[&alert.digest, alert.event, &findings]),
        rank,
    )
}

/// Events for the same image and of the same kind become one notification, with the input
/// positions of its events.
fn group_by_image(events: Vec<(usize, ImageEvent)>) -> Vec<(Vec<usize>, Vec<ImageEvent>)> {
    let mut groups: Vec<(Vec<usize>, Vec<ImageEvent>)> = Vec::new();
    let mut by_image: HashMap<(String, String, &'static str), usize> = HashMap::new();
    for (index, event) in events {
        // Each basic scan is its own notification (a FAILED and a COMPLETE scan differ).
        if matches!(event.kind, EventKind::BasicScan { .. }) {
            groups.push((vec![index], vec![event]));
            continue;
        }
        let key = (event.repository.clone(), event.digest.clone(), event.kind.name());
        match by_image.get(&key) {
            Some(&g) => {
                groups[g].0.push(index);
                groups[g].1.push(event);
            }
            None => {
                by_image.insert(key, groups.len());
                groups.push((vec![index], vec![event]));
            }
        }
    }
    groups
}
