//! One scan-alert invocation: the typed events ([`crate::events`]) grouped by image; each
//! image filtered (repository patterns, finding status, unfinished scans), decided against the
//! thresholds and the ignore list (reading basic-scan findings via [`crate::scan_findings`]),
//! with the state table weighed against what was alerted before ([`crate::news`]), and
//! delivered through the one shared path, `Outbox::deliver`, rendered by [`crate::render`].
//! The response and its failures are [`crate::summary`]'s.
//!
//! Each input item succeeds or fails on its own: an SQS batch answers `batchItemFailures` (only
//! the failed messages come back); a single event or an array fails the invocation, after the
//! other items were published, naming how many failed and the first.
//!
//! In organisation mode (`MEMBER_ACCOUNTS`), an image's findings are read in the event's
//! account and region; a member whose reader role cannot be assumed still gets its alert,
//! without the findings and saying why.

use crate::config::{NotRead, ScanAlertConfig};
use crate::error::ScanAlertError;
use crate::events::{Batch, EventError, EventKind, FindingStatus, ImageEvent};
use crate::news::{self, Coverage, Verdict};
use crate::render::{AccountNaming, ImageAlert};
use crate::scan_findings::{FindingsError, Registry, ScanFindingsSource};
use crate::summary::{self, ImageResult, ItemFailure, LogLine, Outcome, Summary, Unavailable};
use lookout_shared::config::ConfigError;
use lookout_shared::deadline::Deadline;
use lookout_shared::envelope::Incoming;
use lookout_shared::findings::{Finding, SeverityCounts, VulnSeverity};
use lookout_shared::ids::{AccountId, Region};
use lookout_shared::invocation::{Function, Invocation};
use lookout_shared::metrics::{Metric, MetricsConfig};
use lookout_shared::notification::Detail;
use lookout_shared::outbox::{Delivered, Outbox};
use lookout_shared::publish::Publisher;
use lookout_shared::redact::Redactor;
use lookout_shared::state::{DynamoStore, Fingerprint, IdempotencyKey, Notes, StateStore};
use serde::Serialize;
use std::collections::HashMap;
use std::time::Duration;

const SCAN_EVENTS: Metric = Metric::count("ScanEvents");
const BELOW_THRESHOLD: Metric = Metric::count("BelowThreshold");
const ITEMS_FAILED: Metric = Metric::count("ItemsFailed");
const SCANS_WITHOUT_NEWS: Metric = Metric::count("ScansWithoutNews");

/// A publish (with its ECR read) is not started with less than this left before the margin,
/// nor with less than the slowest one of this invocation took.
const MIN_PUBLISH_TIME: Duration = Duration::from_millis(250);

/// Each finding line is cut to this many bytes.
const ITEM_BYTES: usize = 1_000;

/// The scan-alert function: its configuration, the basic-scan findings source, the outbox
/// (publisher and state store) and the redaction rules (`REDACT`, `REDACT_EXTRA_PATTERNS`).
#[derive(Debug)]
pub struct ScanAlert<S, P, St = DynamoStore> {
    config: ScanAlertConfig,
    findings: S,
    outbox: Outbox<P, St>,
    redactor: Redactor,
}

impl<S, P, St> ScanAlert<S, P, St> {
    /// Uses the state store (None when `STATE_TABLE` is unset) with this suppression window;
    /// its notes remember what was alerted per image.
    pub fn with_state<St2: StateStore + Notes>(
        self,
        store: Option<St2>,
        window: Duration,
    ) -> ScanAlert<S, P, St2> {
        ScanAlert {
            config: self.config,
            findings: self.findings,
            outbox: self.outbox.with_state(store, window),
            redactor: self.redactor,
        }
    }
}

impl<S: ScanFindingsSource, P: Publisher, St: StateStore + Notes> Function for ScanAlert<S, P, St> {
    type Event = Incoming<Batch>;
    type Summary = Summary;
    type Error = ScanAlertError;
    const NAME: &'static str = "scan-alert";

    fn metrics_config(&self) -> &MetricsConfig {
        &self.config.metrics
    }

    async fn handle(
        &self,
        incoming: Incoming<Batch>,
        ctx: &mut Invocation,
    ) -> Result<Summary, ScanAlertError> {
        let (document, batch) = incoming.into_parts();
        let batch = batch.map_err(|_| EventError::NotAnEvent)?;
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
        let key = IdempotencyKey::from_event(Self::NAME, &document);
        // Only the key needed the document: not held through the publishes.
        drop(document);
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
        ctx.metrics.add_len(ITEMS_FAILED, failures.len());
        summary::conclude(batch.shape, items, results, failures)
    }

    fn log_line<'s>(&self, summary: &'s Summary) -> impl Serialize + 's {
        LogLine::from(summary)
    }
}

impl<S: ScanFindingsSource, P: Publisher> ScanAlert<S, P> {
    /// Compiles the redaction rules: a bad `REDACT_EXTRA_PATTERNS` fails here, at init.
    pub fn new(config: ScanAlertConfig, findings: S, publisher: P) -> Result<Self, ConfigError> {
        Ok(Self {
            redactor: config.redact.redactor()?,
            outbox: Outbox::new(publisher, config.deadline_margin),
            config,
            findings,
        })
    }
}

impl<S: ScanFindingsSource, P: Publisher, St: StateStore + Notes> ScanAlert<S, P, St> {
    /// One image's events: filter, decide, weigh against what was alerted before, then deliver
    /// (admit, render to fit, publish) and remember what was.
    async fn one_image(
        &self,
        group: &[ImageEvent],
        payload_key: &IdempotencyKey,
        ctx: &mut Invocation,
    ) -> Result<ImageResult, ScanAlertError> {
        let first = &group[0];
        let mut result = ImageResult {
            account: first.account.clone(),
            repository: first.repository.clone(),
            digest: first.digest.clone(),
            event: first.kind.name(),
            outcome: Outcome::RepositoryExcluded,
            message_id: None,
            subject: None,
            findings_unavailable: None,
        };
        // A group is one account and region (`group_by_image`).
        if let Err(why) = self.config.accepts(&first.account, &first.region) {
            result.outcome = match why {
                NotRead::NotAMember => Outcome::NotAMember,
                NotRead::OtherPartition => Outcome::OtherPartition,
            };
            return Ok(result);
        }
        if !self.config.repositories.matches(&first.repository) {
            return Ok(result);
        }
        let margin = self.config.deadline_margin;
        if let (Some(store), EventKind::InspectorFinding { .. }) = (self.outbox.store(), &first.kind) {
            news::record_closures(store, group, margin, ctx).await;
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
        let (alert, unavailable) = self.decide(group, ctx).await;
        result.findings_unavailable = unavailable;
        let Some(mut alert) = alert else {
            ctx.metrics.add(BELOW_THRESHOLD, 1);
            result.outcome = Outcome::BelowThreshold;
            return Ok(result);
        };
        let settle = match self.outbox.store() {
            Some(store) => {
                let assessed = news::assess(store, &first.kind, &alert, margin, ctx).await;
                match assessed.verdict {
                    Verdict::NothingNew => {
                        // Written at once: the notes' time to live starts again.
                        assessed.settle.write(store, margin, ctx).await;
                        ctx.metrics.add(SCANS_WITHOUT_NEWS, 1);
                        result.outcome = Outcome::NothingNew;
                        return Ok(result);
                    }
                    Verdict::News(news) => alert.news = Some(news),
                    Verdict::NoHistory => {}
                }
                Some((store, assessed.settle))
            }
            None => None,
        };
        let key = payload_key.item(&format!("{}|{}", alert.digest, alert.event_ids.join(",")));
        let (fingerprint, rank) = fingerprint(&alert);
        let max = Detail::new(self.config.max_shown, ITEM_BYTES);
        let delivery = &self.config.delivery;
        let delivered = self
            .outbox
            .deliver(ctx, key, &[(&fingerprint, rank)], |facts| async move {
                let (message, _) = delivery.fit(max, |d| alert.render(d, &facts))?;
                Ok((message, ()))
            })
            .await?;
        // Only now: a publish that failed returned above, and its retry finds the same news.
        // Suppressed too: the fingerprint is this image's (account, region, repository,
        // digest) with these findings at these severities (and these counts, when partly
        // read), so the alert held back is one already sent on this very image inside the
        // window, and what the notes record was alerted on it.
        if let Some((store, settle)) = settle {
            settle.write(store, margin, ctx).await;
        }
        match delivered {
            Delivered::Published {
                message_id, subject, ..
            } => {
                result.outcome = Outcome::Published;
                result.message_id = Some(message_id);
                result.subject = Some(subject);
            }
            Delivered::AlreadyDelivered { .. } | Delivered::Suppressed => result.outcome = Outcome::Skipped,
        }
        Ok(result)
    }

    /// The notification for one image, or `None` when nothing reaches a threshold; and why
    /// the basic scan's findings could not be read, when they could not.
    async fn decide(
        &self,
        group: &[ImageEvent],
        ctx: &mut Invocation,
    ) -> (Option<ImageAlert>, Option<Unavailable>) {
        let first = &group[0];
        let mut unavailable = None;
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
            arns: Vec::new(),
            coverage: Coverage::CountsOnly,
            news: None,
            notes: Vec::new(),
            thresholds: self.config.thresholds.describe(),
            reached: Vec::new(),
            ignored: Vec::new(),
            enhanced: !matches!(first.kind, EventKind::BasicScan { .. }),
            naming: AccountNaming {
                name: self.config.account_names.name(&first.account).map(str::to_owned),
                in_subject: self.config.members.is_some() || !self.config.account_names.is_empty(),
            },
        };
        match &first.kind {
            EventKind::BasicScan { status, counts } => {
                alert.status = status.clone();
                alert.counts = counts.clone();
                alert.failed = status != "COMPLETE";
                let worth_reading = alert.failed || !self.config.thresholds.reached(counts).is_empty();
                if worth_reading {
                    unavailable = self.read_basic_findings(&mut alert, ctx).await;
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
                let mut active: Vec<(Finding, Option<String>)> = Vec::new();
                for event in group {
                    let EventKind::InspectorFinding { status, finding, arn } = &event.kind else {
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
                    active.push(((**finding).clone(), arn.clone()));
                }
                active.sort_by(|a, b| Finding::worst_first(&a.0, &b.0));
                (alert.findings, alert.arns) = active.into_iter().unzip();
            }
        }
        // The id too: a finding without package details is identified by its title, one
        // without an id or title by its package or its finding ARN's last part.
        for f in &mut alert.findings {
            f.title = self.redactor.redact(&f.title).0.into_owned();
            f.vulnerability_id = self.redactor.redact(&f.vulnerability_id).0.into_owned();
            // And the package: it names the finding when there is no id (the subject).
            if let Some(p) = &mut f.package {
                *p = self.redactor.redact(p).0.into_owned();
            }
        }
        alert.reached = self.config.thresholds.reached(&alert.counts);
        (
            (alert.failed || !alert.reached.is_empty()).then_some(alert),
            unavailable,
        )
    }

    /// Reads the basic scan's findings: the top ones for the message, and, when every one
    /// was read, counts without the ignored ones. In organisation mode they are read in the
    /// event's account and region. A failure here still lets the alert out, saying why
    /// (the counts are the event's), and is returned for the summary.
    async fn read_basic_findings(&self, alert: &mut ImageAlert, ctx: &mut Invocation) -> Option<Unavailable> {
        let registry = match self.config.members {
            Some(_) => Registry::Of {
                account: &alert.account,
                region: &alert.region,
            },
            None => Registry::Default,
        };
        let budget = self.read_budget(ctx.deadline);
        // Half for the member's AssumeRole: a slow STS is said as such, and the read after
        // it keeps the other half.
        let read = self.findings.basic_findings(
            registry,
            &alert.repository,
            &alert.digest,
            self.config.max_findings,
            budget / 2,
        );
        let outcome = tokio::time::timeout(budget, read)
            .await
            .unwrap_or(Err(FindingsError::TimedOut {
                ms: budget.as_millis(),
            }));
        match outcome {
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
                alert.coverage = if read.complete {
                    Coverage::Complete
                } else {
                    Coverage::Partial
                };
                alert.findings = kept;
                None
            }
            Err(e) => {
                let unavailable = match &e {
                    FindingsError::Member(member) => {
                        lookout_shared::member::report(ctx, member);
                        Unavailable::MemberUnreachable
                    }
                    FindingsError::Api(_) => Unavailable::ReadFailed,
                    FindingsError::TimedOut { .. } => Unavailable::TimedOut,
                };
                alert.notes.push(match unavailable {
                    Unavailable::MemberUnreachable => {
                        format!("Findings unavailable: {e}; counts are from the event.")
                    }
                    Unavailable::ReadFailed | Unavailable::TimedOut => {
                        format!("Findings could not be read ({e}); counts are from the event.")
                    }
                });
                Some(unavailable)
            }
        }
    }

    /// The time one image's findings read (a member's AssumeRole included) may take: half of
    /// what is left before the margin, so the publish keeps the rest however slow STS or ECR
    /// are.
    fn read_budget(&self, deadline: Deadline) -> Duration {
        deadline.remaining_before(self.config.deadline_margin) / 2
    }

    fn is_ignored(&self, finding: &Finding) -> bool {
        self.config
            .ignore
            .contains(&finding.vulnerability_id.to_ascii_uppercase())
    }
}

/// The suppression window's key: the image (account, region, repository, digest, as its
/// notes are kept) and what the alert says of it, as the notes record it: its findings (ids
/// and severities; with the counts when only the first `MAX_FINDINGS` were read), else the
/// counts; ranked by the worst severity reached (a failed scan ranks lowest). The same digest
/// with the same findings in another account, region or repository is another image: its own
/// alert, not a repeat (a repeat's notes would record it as alerted when it never was).
fn fingerprint(alert: &ImageAlert) -> (Fingerprint, u8) {
    let mut ids: Vec<(&str, VulnSeverity)> = alert
        .findings
        .iter()
        .map(|f| (f.vulnerability_id.as_str(), f.severity))
        .collect();
    ids.sort_unstable();
    ids.dedup();
    let named: Vec<String> = ids.iter().map(|(id, s)| format!("{id} {s}")).collect();
    let findings = match (named.is_empty(), alert.coverage) {
        (true, _) => format!("{} {}", alert.status, alert.counts.describe()),
        // Partly read: the counts tell what the ids cannot (findings past the read).
        (false, Coverage::Partial) => format!("{} {}", named.join(","), alert.counts.describe()),
        (false, Coverage::Complete | Coverage::CountsOnly) => named.join(","),
    };
    let rank = alert.reached.first().map_or(0, |s| *s as u8 + 1);
    (
        Fingerprint::new(
            "scan-alert",
            &[
                alert.account.as_str(),
                alert.region.as_str(),
                &alert.repository,
                &alert.digest,
                alert.event,
                &findings,
            ],
        ),
        rank,
    )
}

/// An image as events name it: account, region, repository, digest, and the event kind.
type ImageKey = (AccountId, Region, String, String, &'static str);

/// Events for the same image (in one account and region) and of the same kind become one
/// notification, with the input positions of its events.
fn group_by_image(events: Vec<(usize, ImageEvent)>) -> Vec<(Vec<usize>, Vec<ImageEvent>)> {
    let mut groups: Vec<(Vec<usize>, Vec<ImageEvent>)> = Vec::new();
    let mut by_image: HashMap<ImageKey, usize> = HashMap::new();
    for (index, event) in events {
        // Each basic scan is its own notification (a FAILED and a COMPLETE scan differ).
        if matches!(event.kind, EventKind::BasicScan { .. }) {
            groups.push((vec![index], vec![event]));
            continue;
        }
        let key = (
            event.account.clone(),
            event.region.clone(),
            event.repository.clone(),
            event.digest.clone(),
            event.kind.name(),
        );
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
