//! One scan-alert invocation: parse the events, group them by image, apply thresholds,
//! repository patterns and the ignore list, and publish one notification per image.

use super::config::ScanAlertConfig;
use super::events::{self, EventError, EventKind, ImageEvent};
use super::render::ImageAlert;
use super::scan_findings::ScanFindingsSource;
use lookout_shared::deadline::Deadline;
use lookout_shared::findings::{Finding, SeverityCounts};
use lookout_shared::metrics::Metrics;
use lookout_shared::notification::{Detail, FitError};
use lookout_shared::publish::{PublishError, Publisher};
use lookout_shared::redact::Redactor;
use serde_json::{Value, json};
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum ScanAlertError {
    #[error(transparent)]
    Event(#[from] EventError),
    #[error(transparent)]
    TooLarge(#[from] FitError),
    #[error(transparent)]
    Publish(#[from] PublishError),
    #[error("SNS Publish did not finish before the Lambda deadline")]
    Deadline,
}

impl ScanAlertError {
    pub fn kind(&self) -> &'static str {
        match self {
            ScanAlertError::Event(_) => "InvalidEvent",
            ScanAlertError::TooLarge(_) => "MessageTooLarge",
            ScanAlertError::Publish(_) => "PublishFailed",
            ScanAlertError::Deadline => "DeadlineExceeded",
        }
    }
}

impl From<ScanAlertError> for lambda_runtime::Diagnostic {
    fn from(e: ScanAlertError) -> Self {
        Self {
            error_type: format!("Lookout.{}", e.kind()),
            error_message: e.to_string(),
        }
    }
}

const DEADLINE_MARGIN: Duration = Duration::from_millis(500);
const ITEM_BYTES: usize = 1_000;

pub struct ScanAlert<S, P> {
    config: ScanAlertConfig,
    findings: S,
    publisher: P,
    redactor: Redactor,
}

impl<S: ScanFindingsSource, P: Publisher> ScanAlert<S, P> {
    pub fn new(config: ScanAlertConfig, findings: S, publisher: P) -> Self {
        Self {
            config,
            findings,
            publisher,
            redactor: Redactor::built_in(),
        }
    }

    pub async fn handle(&self, payload: Value, deadline: Deadline) -> Result<Value, ScanAlertError> {
        let mut metrics = Metrics::new();
        let result = self.handle_with(&payload, deadline, &mut metrics).await;
        if let Err(e) = &result {
            tracing::error!(error_type = e.kind(), error = %e, "scan-alert failed; Lambda will retry it");
        }
        metrics.flush(&self.config.metrics);
        result
    }

    async fn handle_with(
        &self,
        payload: &Value,
        deadline: Deadline,
        metrics: &mut Metrics,
    ) -> Result<Value, ScanAlertError> {
        let events = events::parse(payload)?;
        metrics.add("ScanEvents", events.len() as u64);
        let mut results = Vec::new();
        for group in group_by_image(events) {
            let first = &group[0];
            let image =
                json!({"repository": first.repository, "digest": first.digest, "event": first.kind.name()});
            if !self.config.repositories.matches(&first.repository) {
                results.push(with_outcome(image, "repository excluded"));
                continue;
            }
            let Some(alert) = self.decide(&group).await else {
                metrics.add("BelowThreshold", 1);
                results.push(with_outcome(image, "below threshold"));
                continue;
            };
            let max = Detail {
                items: self.config.max_shown,
                item_bytes: ITEM_BYTES,
            };
            let (message, _) = self.config.delivery.fit(max, |d| alert.render(d))?;
            let budget = deadline.remaining_before(DEADLINE_MARGIN);
            let id = tokio::time::timeout(budget, self.publisher.publish(&message))
                .await
                .map_err(|_| ScanAlertError::Deadline)??;
            metrics.add("AlertsPublished", 1);
            metrics.add("PublishedBytes", message.request_bytes() as u64);
            tracing::info!(repository = %alert.repository, digest = %alert.digest, event = alert.event, message_id = %id, "published scan alert");
            let mut r = with_outcome(image, "published");
            r["messageId"] = Value::String(id);
            r["subject"] = Value::String(message.subject);
            results.push(r);
        }
        let published = results.iter().filter(|r| r["outcome"] == "published").count();
        Ok(json!({"alerts": published, "results": results}))
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
                alert.findings.sort_by(|a, b| {
                    b.severity
                        .cmp(&a.severity)
                        .then_with(|| a.vulnerability_id.cmp(&b.vulnerability_id))
                });
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

fn with_outcome(mut image: Value, outcome: &str) -> Value {
    image["outcome"] = Value::from(outcome);
    image
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
