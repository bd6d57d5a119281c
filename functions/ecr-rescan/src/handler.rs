//! One ecr-rescan invocation, as wiring: type the input, tell BASIC from ENHANCED, run it
//! ([`select`](crate::select), [`scan`](crate::scan) or [`enhanced`](crate::enhanced)), assemble
//! the [`summary`](crate::summary), deliver it through the outbox and return it. With
//! `ACCOUNTS`, the same for every account's registry ([`organisation`]).

mod organisation;

use crate::config::RescanConfig;
use crate::ecr::Registry;
use crate::enhanced::{self, EnhancedReport, Limits};
use crate::input::{InputError, RescanInput};
use crate::inspector::Inspector;
use crate::members::{MemberRegistries, Members};
use crate::model::ScanType;
use crate::pace::AdaptiveRate;
use crate::scan::{self, OutcomeKind, ScanSettings};
use crate::select::{self, Listing, ListingProblem, Rules};
use crate::summary::{AccountStatus, BasicRun, Outcomes, RunSummary, Summary};
use futures::StreamExt;
use lookout_shared::aws::ApiError;
use lookout_shared::envelope::Incoming;
use lookout_shared::invocation::{Function, FunctionError, Invocation};
use lookout_shared::metrics::{Metric, Metrics, MetricsConfig};
use lookout_shared::notification::Detail;
use lookout_shared::outbox::{Delivered, DeliveryError, Outbox};
use lookout_shared::publish::Publisher;
use lookout_shared::state::{DynamoStore, IdempotencyKey, Notes, StateStore};
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
    /// `ACCOUNTS`: member accounts whose reader role could not be assumed (the first one's
    /// words, and how many more). Raised after the summary is published, as `Incomplete`.
    #[error("{first}{}; the summary names each account and why", and_more(*.more))]
    MembersUnreachable { first: String, more: u64 },
    /// `ACCOUNTS`: registries reached whose scanning configuration or repositories could not
    /// be read. Raised after the summary is published, as `Incomplete`.
    #[error("account {first}{}; the summary names each account and why", and_more(*.more))]
    RegistriesUnreadable { first: String, more: u64 },
}

/// ` (and 2 more accounts)`, or nothing.
fn and_more(more: u64) -> String {
    match more {
        0 => String::new(),
        n => format!(" (and {} more)", count(n, "account", "accounts")),
    }
}

impl FunctionError for RescanError {
    fn kind(&self) -> &'static str {
        match self {
            RescanError::Input(_) => "InvalidInput",
            RescanError::ScanType(_)
            | RescanError::Repositories(_)
            | RescanError::RegistriesUnreadable { .. } => "RegistryUnreadable",
            RescanError::Delivery(e) => e.kind(),
            RescanError::Deadline => "DeadlineExceeded",
            RescanError::Incomplete { scans_failed: 0, .. } => "ImagesNotListed",
            RescanError::Incomplete { .. } => "ScansFailed",
            RescanError::InspectorUnreadable(_) => "InspectorUnreadable",
            RescanError::MembersUnreachable { .. } => "MemberUnreachable",
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

/// The ecr-rescan function: its configuration, the registry and Inspector it reads (its own
/// account's), the member accounts' (with `ACCOUNTS`), and the outbox its summary goes out
/// through.
#[derive(Debug)]
pub struct Rescan<R, I, P, S = DynamoStore, M = MemberRegistries> {
    config: RescanConfig,
    registry: R,
    inspector: I,
    /// `None`: every account of `ACCOUNTS` but the function's own is unreachable.
    members: Option<M>,
    outbox: Outbox<P, S>,
}

impl<R, I, P, S, M> Rescan<R, I, P, S, M> {
    /// Uses the state store (None when `STATE_TABLE` is unset): a retry does not publish a
    /// delivered summary again, and an organisation run keeps its rotation there.
    pub fn with_state<S2: StateStore>(
        self,
        store: Option<S2>,
        window: std::time::Duration,
    ) -> Rescan<R, I, P, S2, M> {
        Rescan {
            config: self.config,
            registry: self.registry,
            inspector: self.inspector,
            members: self.members,
            outbox: self.outbox.with_state(store, window),
        }
    }

    /// Reaches the accounts of `ACCOUNTS` other than the function's own through `members`.
    pub fn with_members<M2: Members>(self, members: Option<M2>) -> Rescan<R, I, P, S, M2> {
        Rescan {
            config: self.config,
            registry: self.registry,
            inspector: self.inspector,
            members,
            outbox: self.outbox,
        }
    }
}

/// What this invocation asks of each registry: the configuration narrowed by its overrides.
#[derive(Debug)]
struct Plan {
    dry_run: bool,
    patterns: Patterns,
    latest: usize,
    /// `DEADLINE_MARGIN_MS` before the deadline: nothing of the run passes it.
    stop_at: Instant,
}

/// The summary log line: the run's figures, not its lists.
#[derive(Debug, Serialize)]
#[serde(untagged)]
enum LogLine<'s> {
    Registry(RunLine<'s>),
    Organisation(OrgLine<'s>),
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct RunLine<'s> {
    scan_type: ScanType,
    dry_run: bool,
    complete: bool,
    repositories: usize,
    images: usize,
    outcomes: &'s Outcomes,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct OrgLine<'s> {
    dry_run: bool,
    complete: bool,
    accounts: &'s BTreeMap<AccountStatus, u64>,
    repositories: usize,
    images: usize,
    outcomes: &'s Outcomes,
}

impl<R, I, P, S, M> Function for Rescan<R, I, P, S, M>
where
    R: Registry,
    I: Inspector,
    P: Publisher,
    S: StateStore + Notes,
    M: Members,
{
    type Event = Incoming<RescanInput>;
    type Summary = Summary;
    type Error = RescanError;
    const NAME: &'static str = "ecr-rescan";

    fn metrics_config(&self) -> &MetricsConfig {
        &self.config.metrics
    }

    async fn handle(
        &self,
        event: Incoming<RescanInput>,
        ctx: &mut Invocation,
    ) -> Result<Summary, RescanError> {
        let input = event.event().map_err(|m| InputError::from(m.clone()))?;
        let overrides = input.overrides()?;
        let plan = Plan {
            dry_run: overrides.dry_run.unwrap_or(self.config.dry_run),
            patterns: self
                .config
                .repositories
                .narrowed(overrides.repositories.as_deref().unwrap_or_default()),
            latest: overrides
                .max_images_per_repository
                .unwrap_or(self.config.images.latest_per_repository),
            // Nothing of the run passes this; the summary publish has the margin.
            stop_at: Instant::now() + ctx.deadline.remaining_before(self.config.deadline_margin),
        };
        // Boxed: a whole run nested in the runtime's future is deeper than the compiler lays
        // out by default; one allocation an invocation.
        match &self.config.organisation {
            None => Box::pin(self.own_registry(&plan, &event, ctx)).await,
            Some(organisation) => Box::pin(self.organisation(organisation, &plan, &event, ctx)).await,
        }
    }

    fn log_line<'s>(&self, summary: &'s Summary) -> impl Serialize + 's {
        match summary {
            Summary::Registry(summary) => LogLine::Registry(RunLine {
                scan_type: summary.scan_type,
                dry_run: summary.dry_run,
                complete: summary.complete,
                repositories: summary.repositories,
                images: summary.images,
                outcomes: &summary.outcomes,
            }),
            Summary::Organisation(summary) => LogLine::Organisation(OrgLine {
                dry_run: summary.dry_run,
                complete: summary.complete,
                accounts: &summary.accounts,
                repositories: summary.repositories,
                images: summary.images,
                outcomes: &summary.outcomes,
            }),
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
            members: None,
        }
    }
}

impl<R, I, P, S, M> Rescan<R, I, P, S, M>
where
    R: Registry,
    I: Inspector,
    P: Publisher,
    S: StateStore + Notes,
    M: Members,
{
    /// Without `ACCOUNTS`: the function's own registry, as it always was.
    async fn own_registry(
        &self,
        plan: &Plan,
        event: &Incoming<RescanInput>,
        ctx: &mut Invocation,
    ) -> Result<Summary, RescanError> {
        let summary = self
            .registry_summary(&self.registry, &self.inspector, plan)
            .await?;
        record_metrics(
            summary.images,
            &summary.outcomes,
            &summary.enhanced,
            &mut ctx.metrics,
        );
        let failure = run_failure(
            &summary.outcomes,
            summary.repositories_not_listed,
            &summary.enhanced,
        );
        let summary = Summary::Registry(Box::new(summary));
        self.deliver_summary(&summary, event, ctx).await?;
        match failure {
            None => Ok(summary),
            Some(e) => Err(e),
        }
    }

    /// One registry, read and rescanned (BASIC) or reported (ENHANCED).
    async fn registry_summary<RR: Registry, II: Inspector>(
        &self,
        registry: &RR,
        inspector: &II,
        plan: &Plan,
    ) -> Result<RunSummary, RescanError> {
        let stop_at = plan.stop_at;
        let scan_type = tokio::time::timeout_at(stop_at, registry.scan_type())
            .await
            .map_err(|_| RescanError::Deadline)?
            .map_err(RescanError::ScanType)?;
        let (repositories, filtered) = self.repositories(registry, &plan.patterns, stop_at).await?;
        Ok(match scan_type {
            ScanType::Basic => self.basic(registry, repositories, plan).await,
            ScanType::Enhanced => {
                let only = filtered.then_some(repositories.as_slice());
                self.enhanced(registry, inspector, &repositories, only, plan)
                    .await
            }
        })
    }

    /// The registry's repositories that the patterns select, sorted by name, and whether the
    /// patterns left any out.
    async fn repositories<RR: Registry>(
        &self,
        registry: &RR,
        patterns: &Patterns,
        stop_at: Instant,
    ) -> Result<(Vec<String>, bool), RescanError> {
        let all = tokio::time::timeout_at(stop_at, registry.repositories())
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
        summary: &Summary,
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
    async fn basic<RR: Registry>(&self, registry: &RR, repositories: Vec<String>, plan: &Plan) -> RunSummary {
        let config = &self.config;
        let (dry_run, stop_at) = (plan.dry_run, plan.stop_at);
        let repository_count = repositories.len();
        // A fresh rate each run and each registry: what ECR accepted an hour ago says little
        // about now, and ECR's limits are per account and region.
        let rate = AdaptiveRate::new(config.max_rate_per_second);
        let listings = self.list_images(registry, &rate, repositories, stop_at).await;
        let rules = Rules {
            selection: &config.images,
            latest_per_repository: plan.latest,
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
        let report = scan::scan_all(registry, &rate, candidates, &settings).await;
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
    async fn list_images<RR: Registry>(
        &self,
        registry: &RR,
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
                let images = match tokio::time::timeout_at(stop_at, registry.images(&repository)).await {
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
    async fn enhanced<RR: Registry, II: Inspector>(
        &self,
        registry: &RR,
        inspector: &II,
        repositories: &[String],
        only: Option<&[String]>,
        plan: &Plan,
    ) -> RunSummary {
        let config = &self.config;
        let limits = Limits {
            min_severity: config.min_severity,
            max_findings: config.max_findings,
            max_coverage: config.max_coverage,
        };
        let report = enhanced::report(
            inspector,
            registry,
            repositories,
            only,
            &plan.patterns,
            &limits,
            plan.stop_at,
        )
        .await;
        RunSummary::enhanced(plan.dry_run, &config.region, repositories.len(), report)
    }
}

/// Why a run is an error after its summary, if it is: Inspector's report first (each part not
/// read, named once over the `reports` of every registry), then scans failed and repositories
/// not listed.
fn run_failure<'r>(
    outcomes: &Outcomes,
    repositories_not_listed: u64,
    reports: impl IntoIterator<Item = &'r EnhancedReport>,
) -> Option<RescanError> {
    let mut parts: Vec<&'static str> = Vec::new();
    for part in reports.into_iter().flat_map(EnhancedReport::unavailable) {
        if !parts.contains(&part) {
            parts.push(part);
        }
    }
    if !parts.is_empty() {
        return Some(RescanError::InspectorUnreadable(parts));
    }
    match (outcomes.get(OutcomeKind::Failed), repositories_not_listed) {
        (0, 0) => None,
        (scans_failed, repositories_not_listed) => Some(RescanError::Incomplete {
            scans_failed,
            repositories_not_listed,
        }),
    }
}

/// What a run did, one registry's or every account's: `images` listed, the `outcomes`, and
/// what Inspector's `reports` found.
fn record_metrics<'r>(
    images: usize,
    outcomes: &Outcomes,
    reports: impl IntoIterator<Item = &'r EnhancedReport>,
    metrics: &mut Metrics,
) {
    metrics.add_len(IMAGES_LISTED, images);
    metrics.add(SCANS_STARTED, outcomes.get(OutcomeKind::Started));
    metrics.add(SCANS_ALREADY_DONE, outcomes.get(OutcomeKind::AlreadyScanned));
    metrics.add(SCANS_FAILED, outcomes.get(OutcomeKind::Failed));
    metrics.add(SCANS_DEFERRED, outcomes.deferred());
    metrics.add(IMAGES_SKIPPED, outcomes.skipped());
    for report in reports {
        if let Some(f) = report.findings.available() {
            metrics.add_len(FINDINGS_REPORTED, f.total);
        }
        if let Some(c) = report.coverage.available() {
            metrics.add_len(COVERAGE_GAPS, c.gaps);
        }
    }
}
