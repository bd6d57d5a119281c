//! One ecr-rescan invocation, as wiring: type the input, tell BASIC from ENHANCED, run it
//! ([`select`](crate::select), [`scan`](crate::scan) or [`enhanced`](crate::enhanced)), assemble
//! the [`summary`](crate::summary), deliver it through the outbox and return it.

use crate::config::RescanConfig;
use crate::ecr::Registry;
use crate::enhanced::{self, Limits};
use crate::input::{InputError, RescanInput};
use crate::inspector::Inspector;
use crate::model::ScanType;
use crate::pace::AdaptiveRate;
use crate::scan::{self, OutcomeKind, ScanSettings};
use crate::select::{self, Listing, ListingProblem, Rules};
use crate::summary::{BasicRun, RunSummary};
use futures::StreamExt;
use lookout_shared::aws::ApiError;
use lookout_shared::envelope::Incoming;
use lookout_shared::invocation::{Function, FunctionError, Invocation};
use lookout_shared::metrics::{Metric, Metrics, MetricsConfig};
use lookout_shared::notification::Detail;
use lookout_shared::outbox::{Delivered, DeliveryError, Outbox};
use lookout_shared::publish::Publisher;
use lookout_shared::state::{DynamoStore, IdempotencyKey, StateStore};
use lookout_shared::text::count;
use lookout_shared::wildcard::Patterns;
use serde::Serialize;
use std::collections::BTreeMap;
use std::time::Duration;
use tokio::time::Instant;

const RUN_FAILURES: Metric = Metric::count("RunFailures");
const IMAGES_LISTED: Metric = Metric::count("ImagesListed");
const SCANS_STARTED: Metric = Metric::count("ScansStarted");
const SCANS_ALREADY_DONE: Metric = Metric::count("ScansAlreadyDone");
const SCANS_FAILED: Metric = Metric::count("ScansFailed");
const SCANS_DEFERRED: Metric = Metric::count("ScansDeferred");
const IMAGES_SKIPPED: Metric = Metric::count("ImagesSkipped");
const FINDINGS_REPORTED: Metric = Metric::count("FindingsReported");
const COVERAGE_GAPS: Metric = Metric::count("CoverageGaps");
const SUMMARIES_PUBLISHED: Metric = Metric::count("SummariesPublished");

/// Why an invocation failed; none quotes the payload.
#[derive(Debug, thiserror::Error)]
pub enum RescanError {
    #[error(transparent)]
    Input(#[from] InputError),
    #[error("cannot read the registry's scanning configuration, so no scan is started: {0}")]
    ScanType(ApiError),
    #[error("cannot list the registry's repositories: {0}")]
    Repositories(ApiError),
    #[error("the run finished but its summary was not published: {0}")]
    Delivery(#[from] DeliveryError),
    #[error("the Lambda deadline came before the registry could be read")]
    Deadline,
    /// Raised after the summary is published, so the failure alarm and the on-failure
    /// destination see a run that could not do its job.
    #[error(
        "{scans_failed} images could not be scanned and {repositories_not_listed} repositories could not be listed; the summary says which"
    )]
    Incomplete {
        scans_failed: u64,
        repositories_not_listed: u64,
    },
    /// ENHANCED: a part of Inspector's report could not be read (permission denied, API
    /// missing, deadline). Raised after the summary is published, as `Incomplete`.
    #[error("{} of Inspector's report could not be read ({}); the summary says why", count(.0.len() as u64, "part", "parts"), .0.join(", "))]
    InspectorUnreadable(Vec<&'static str>),
}

impl FunctionError for RescanError {
    fn kind(&self) -> &'static str {
        match self {
            RescanError::Input(_) => "InvalidInput",
            RescanError::ScanType(_) | RescanError::Repositories(_) => "RegistryUnreadable",
            RescanError::Delivery(e) => e.kind(),
            RescanError::Deadline => "DeadlineExceeded",
            RescanError::Incomplete { scans_failed: 0, .. } => "ImagesNotListed",
            RescanError::Incomplete { .. } => "ScansFailed",
            RescanError::InspectorUnreadable(_) => "InspectorUnreadable",
        }
    }

    fn metric(&self) -> Option<Metric> {
        Some(RUN_FAILURES)
    }
}

/// How long before the deadline the summary publish gives up: long enough to return the error
/// (one log line, the metrics flush and the Runtime API call take milliseconds), and no longer,
/// so the publish gets the rest of the margin (9 s of the default 10 s). Half the margin, when
/// the margin is under 2 s.
fn publish_reserve(margin: Duration) -> Duration {
    margin.min(PUBLISH_RESERVE * 2) / 2
}

const PUBLISH_RESERVE: Duration = Duration::from_secs(1);

/// Summary lines per list in the SNS message at most; the JSON output has more.
const NOTIFICATION_ITEMS: usize = 50;
const NOTIFICATION_ITEM_BYTES: usize = 2_000;

/// The ecr-rescan function: its configuration, the registry and Inspector it reads, and the
/// outbox its summary goes out through.
#[derive(Debug)]
pub struct Rescan<R, I, P, S = DynamoStore> {
    config: RescanConfig,
    registry: R,
    inspector: I,
    outbox: Outbox<P, S>,
}

impl<R, I, P, S> Rescan<R, I, P, S> {
    /// Uses the state store (None when `STATE_TABLE` is unset): a retry does not publish a
    /// delivered summary again.
    pub fn with_state<S2: StateStore>(
        self,
        store: Option<S2>,
        window: std::time::Duration,
    ) -> Rescan<R, I, P, S2> {
        Rescan {
            config: self.config,
            registry: self.registry,
            inspector: self.inspector,
            outbox: self.outbox.with_state(store, window),
        }
    }
}

/// The summary log line: the run's figures, not its lists.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct RunLine<'s> {
    scan_type: ScanType,
    dry_run: bool,
    complete: bool,
    repositories: usize,
    images: usize,
    outcomes: &'s BTreeMap<OutcomeKind, u64>,
}

impl<R: Registry, I: Inspector, P: Publisher, S: StateStore> Function for Rescan<R, I, P, S> {
    type Event = Incoming<RescanInput>;
    type Summary = RunSummary;
    type Error = RescanError;
    const NAME: &'static str = "ecr-rescan";

    fn metrics_config(&self) -> &MetricsConfig {
        &self.config.metrics
    }

    async fn handle(
        &self,
        event: Incoming<RescanInput>,
        ctx: &mut Invocation,
    ) -> Result<RunSummary, RescanError> {
        let input = event.event().map_err(|m| InputError::from(m.clone()))?;
        let overrides = input.overrides()?;
        let dry_run = overrides.dry_run.unwrap_or(self.config.dry_run);
        let patterns = self
            .config
            .repositories
            .narrowed(overrides.repositories.as_deref().unwrap_or_default());
        let latest = overrides
            .max_images_per_repository
            .unwrap_or(self.config.images.latest_per_repository);

        // Nothing of the run passes this; the summary publish has the margin.
        let stop_at = Instant::now() + ctx.deadline.remaining_before(self.config.deadline_margin);
        let scan_type = tokio::time::timeout_at(stop_at, self.registry.scan_type())
            .await
            .map_err(|_| RescanError::Deadline)?
            .map_err(RescanError::ScanType)?;
        let (repositories, filtered) = self.repositories(&patterns, stop_at).await?;
        let summary = match scan_type {
            ScanType::Basic => self.basic(repositories, dry_run, latest, stop_at).await,
            ScanType::Enhanced => {
                let only = filtered.then_some(repositories.as_slice());
                self.enhanced(&repositories, only, dry_run, &patterns, stop_at)
                    .await
            }
        };
        record_metrics(&summary, &mut ctx.metrics);
        self.deliver_summary(&summary, &event, ctx).await?;
        if let Some(report) = &summary.enhanced {
            let unavailable = report.unavailable();
            if !unavailable.is_empty() {
                return Err(RescanError::InspectorUnreadable(unavailable));
            }
        }
        match (
            summary.outcome(OutcomeKind::Failed),
            summary.repositories_not_listed,
        ) {
            (0, 0) => Ok(summary),
            (scans_failed, repositories_not_listed) => Err(RescanError::Incomplete {
                scans_failed,
                repositories_not_listed,
            }),
        }
    }

    fn log_line<'s>(&self, summary: &'s RunSummary) -> impl Serialize + 's {
        RunLine {
            scan_type: summary.scan_type,
            dry_run: summary.dry_run,
            complete: summary.complete,
            repositories: summary.repositories,
            images: summary.images,
            outcomes: &summary.outcomes,
        }
    }
}

impl<R: Registry, I: Inspector, P: Publisher> Rescan<R, I, P> {
    /// The run stops `DEADLINE_MARGIN_MS` before the deadline; the summary publish gives up
    /// `publish_reserve` before it, so it gets the rest of the margin.
    pub fn new(config: RescanConfig, registry: R, inspector: I, publisher: P) -> Self {
        Self {
            outbox: Outbox::new(publisher, publish_reserve(config.deadline_margin)),
            config,
            registry,
            inspector,
        }
    }
}

impl<R: Registry, I: Inspector, P: Publisher, S: StateStore> Rescan<R, I, P, S> {
    /// The registry's repositories that the patterns select, sorted by name, and whether the
    /// patterns left any out.
    async fn repositories(
        &self,
        patterns: &Patterns,
        stop_at: Instant,
    ) -> Result<(Vec<String>, bool), RescanError> {
        let all = tokio::time::timeout_at(stop_at, self.registry.repositories())
            .await
            .map_err(|_| RescanError::Deadline)?
            .map_err(RescanError::Repositories)?;
        let listed = all.len();
        let mut repositories: Vec<String> = all
            .into_iter()
            .map(|r| r.name)
            .filter(|name| patterns.matches(name))
            .collect();
        repositories.sort();
        let filtered = repositories.len() < listed;
        Ok((repositories, filtered))
    }

    /// Delivers the summary when a topic is configured, once per event: the key is the
    /// payload's hash (an EventBridge event's carries its unique id); a payload without an
    /// event id (a manual `{}`) is keyed by the request id too, so two manual runs both
    /// report. A summary is never suppressed: it has no fingerprint.
    async fn deliver_summary(
        &self,
        summary: &RunSummary,
        event: &Incoming<RescanInput>,
        ctx: &mut Invocation,
    ) -> Result<(), RescanError> {
        let Some(delivery) = &self.config.delivery else {
            return Ok(());
        };
        let mut key = IdempotencyKey::from_event(Self::NAME, event.document());
        if event.event().ok().and_then(RescanInput::event_id).is_none() {
            key = key.item(&ctx.request_id);
        }
        let identity = format!("ecr-rescan|{}", ctx.request_id);
        let render = |_no_suppression| async move {
            let max = Detail::new(NOTIFICATION_ITEMS, NOTIFICATION_ITEM_BYTES);
            delivery.fit(max, |d| summary.render(d, &identity))
        };
        if let Delivered::Published { .. } = self.outbox.deliver(ctx, key, &[], render).await? {
            ctx.metrics.add(SUMMARIES_PUBLISHED, 1);
        }
        Ok(())
    }

    /// BASIC: list every repository, select, scan, then count: one phase each.
    async fn basic(
        &self,
        repositories: Vec<String>,
        dry_run: bool,
        latest: usize,
        stop_at: Instant,
    ) -> RunSummary {
        let config = &self.config;
        let repository_count = repositories.len();
        // A fresh rate each run: what ECR accepted an hour ago says little about now.
        let rate = AdaptiveRate::new(config.max_rate_per_second);
        let listings = self.list_images(&rate, repositories, stop_at).await;
        let rules = Rules {
            selection: &config.images,
            latest_per_repository: latest,
            rescan_after_ms: i64::try_from(config.rescan_after.as_millis()).unwrap_or(i64::MAX),
            now_ms: lookout_shared::time::now_epoch_ms(),
        };
        let mut selection = select::select_all(listings, &rules);
        let mut candidates = std::mem::take(&mut selection.candidates);
        select::order_for_progress(&mut candidates);
        let settings = ScanSettings {
            concurrency: config.concurrency,
            max_attempts: config.max_scan_attempts,
            dry_run,
            stop_at,
        };
        let report = scan::scan_all(&self.registry, &rate, candidates, &settings).await;
        let run = BasicRun {
            dry_run,
            repositories: repository_count,
            selection,
            report,
            settled_rate: rate.settled(),
        };
        RunSummary::basic(run, config)
    }

    /// Every repository's images, a few at a time, paced like every ECR call.
    async fn list_images(
        &self,
        rate: &AdaptiveRate,
        repositories: Vec<String>,
        stop_at: Instant,
    ) -> Vec<(String, Listing)> {
        futures::stream::iter(repositories)
            .map(|repository| async move {
                // Listing takes a slot; its throttling is the SDK's to retry (one call per page).
                if rate.acquire(stop_at).await.is_none() {
                    return (repository, Err(ListingProblem::Deadline));
                }
                let images = match tokio::time::timeout_at(stop_at, self.registry.images(&repository)).await {
                    Err(_) => Err(ListingProblem::Deadline),
                    Ok(result) => result.map_err(ListingProblem::Api),
                };
                (repository, images)
            })
            .buffer_unordered(self.config.concurrency)
            .collect()
            .await
    }

    /// `only`: the selected repositories, when the patterns left some out (Inspector filters on them).
    async fn enhanced(
        &self,
        repositories: &[String],
        only: Option<&[String]>,
        dry_run: bool,
        patterns: &Patterns,
        stop_at: Instant,
    ) -> RunSummary {
        let config = &self.config;
        let limits = Limits {
            min_severity: config.min_severity,
            max_findings: config.max_findings,
            max_coverage: config.max_coverage,
        };
        let report = enhanced::report(
            &self.inspector,
            &self.registry,
            repositories,
            only,
            patterns,
            &limits,
            stop_at,
        )
        .await;
        RunSummary::enhanced(dry_run, &config.region, repositories.len(), report)
    }
}

fn record_metrics(summary: &RunSummary, metrics: &mut Metrics) {
    metrics.add_len(IMAGES_LISTED, summary.images);
    metrics.add(SCANS_STARTED, summary.outcome(OutcomeKind::Started));
    metrics.add(SCANS_ALREADY_DONE, summary.outcome(OutcomeKind::AlreadyScanned));
    metrics.add(SCANS_FAILED, summary.outcome(OutcomeKind::Failed));
    metrics.add(SCANS_DEFERRED, summary.deferred());
    metrics.add(IMAGES_SKIPPED, summary.skipped());
    if let Some(report) = &summary.enhanced {
        if let Some(f) = report.findings.available() {
            metrics.add_len(FINDINGS_REPORTED, f.total);
        }
        if let Some(c) = report.coverage.available() {
            metrics.add_len(COVERAGE_GAPS, c.gaps);
        }
    }
}
