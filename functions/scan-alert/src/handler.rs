//! One scan-alert invocation: parse the events, group them by image, apply thresholds,
//! repository patterns and the ignore list, and publish one notification per image.

use crate::config::ScanAlertConfig;
use crate::events::{self, EventError, EventKind, ImageEvent};
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

const SCAN_EVENTS: Metric = Metric::count("ScanEvents");
const BELOW_THRESHOLD: Metric = Metric::count("BelowThreshold");

#[derive(Debug, thiserror::Error)]
pub enum ScanAlertError {
    #[error(transparent)]
    Event(#[from] EventError),
    #[error(transparent)]
    TooLarge(#[from] FitError),
    #[error(transparent)]
    Delivery(#[from] DeliveryError),
}

impl FunctionError for ScanAlertError {
    fn kind(&self) -> &'static str {
        match self {
            ScanAlertError::Event(_) => "InvalidEvent",
            ScanAlertError::TooLarge(_) => "MessageTooLarge",
            ScanAlertError::Delivery(e) => e.kind(),
        }
    }
}

const ITEM_BYTES: usize = 1_000;

/// The invocation's response: one result per image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Notifications published.
    pub alerts: usize,
    pub results: Vec<ImageResult>,
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
        let events = events::parse(&payload)?;
        ctx.metrics.add_len(SCAN_EVENTS, events.len());
        // Each image's notification is claimed under its own key inside the payload's.
        let key = IdempotencyKey::from_event(Self::NAME, &payload);
        let mut results = Vec::new();
        for group in group_by_image(events) {
            let result = self.one_image(&group, &key, ctx).await?;
            results.push(result);
        }
        let alerts = results.iter().filter(|r| r.outcome == Outcome::Published).count();
        Ok(Summary { alerts, results })
    }

    fn log_line<'s>(&self, summary: &'s Summary) -> impl Serialize + 's {
        summary
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
        let Some(alert) = self.decide(group).await else {
            ctx.metrics.add(BELOW_THRESHOLD, 1);
            result.outcome = Outcome::BelowThreshold;
            return Ok(result);
        };
        let key = payload_key.item(&format!("{}|{}", alert.digest, alert.event_ids.join(",")));
        let (fingerprint, rank) = fingerprint(&alert);
        let permit = match self.outbox.admit(ctx, key, Some((&fingerprint, rank))).await? {
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
                    if status != "ACTIVE" {
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
        for f in &mut alert.findings {
            f.title = self.redactor.redact(&f.title).0.into_owned();
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

/// Events for the same image and of the same kind become one notification.
fn group_by_image(events: Vec<ImageEvent>) -> Vec<Vec<ImageEvent>> {
    let mut groups: Vec<Vec<ImageEvent>> = Vec::new();
    for event in events {
        let same = |g: &Vec<ImageEvent>| {
            g[0].repository == event.repository
                && g[0].digest == event.digest
                && std::mem::discriminant(&g[0].kind) == std::mem::discriminant(&event.kind)
                && !matches!(event.kind, EventKind::BasicScan { .. })
        };
        match groups.iter_mut().find(|g| same(g)) {
            Some(g) => g.push(event),
            None => groups.push(vec![event]),
        }
    }
    groups
}
