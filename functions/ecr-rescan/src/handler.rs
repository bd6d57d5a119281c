//! One ecr-rescan invocation: read the input, tell BASIC from ENHANCED, do the run, return
//! the summary and publish it.

use crate::config::RescanConfig;
use crate::ecr::Registry;
use crate::enhanced::{self, Limits, Part};
use crate::input::{self, InputError};
use crate::inspector::Inspector;
use crate::model::{Image, ScanType};
use crate::pace::AdaptiveRate;
use crate::scan::{self, Deferral, OutcomeKind, ScanOutcome, ScanSettings};
use crate::select::{self, Rules};
use crate::summary::{ImageRef, MAX_LISTED, RepositorySummary, RunSummary, TopImage};
use futures::StreamExt;
use lookout_shared::aws::ApiError;
use lookout_shared::console;
use lookout_shared::findings::VulnSeverity;
use lookout_shared::invocation::{Admission, DeliveryError, Function, FunctionError, Invocation, Outbox};
use lookout_shared::metrics::{Metric, Metrics, MetricsConfig};
use lookout_shared::notification::{Detail, FitError};
use lookout_shared::publish::Publisher;
use lookout_shared::state::{DynamoStore, IdempotencyKey, StateStore};
use lookout_shared::text::count;
use lookout_shared::wildcard::Patterns;
use serde::Serialize;
use serde_json::Value;
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

#[derive(Debug, thiserror::Error)]
pub enum RescanError {
    #[error(transparent)]
    Input(#[from] InputError),
    #[error("cannot read the registry's scanning configuration, so no scan is started: {0}")]
    ScanType(ApiError),
    #[error("cannot list the registry's repositories: {0}")]
    Repositories(ApiError),
    #[error(transparent)]
    TooLarge(#[from] FitError),
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
}

impl FunctionError for RescanError {
    fn kind(&self) -> &'static str {
        match self {
            RescanError::Input(_) => "InvalidInput",
            RescanError::ScanType(_) | RescanError::Repositories(_) => "RegistryUnreadable",
            RescanError::TooLarge(_) => "MessageTooLarge",
            RescanError::Delivery(e) => e.kind(),
            RescanError::Deadline => "DeadlineExceeded",
            RescanError::Incomplete { scans_failed: 0, .. } => "ImagesNotListed",
            RescanError::Incomplete { .. } => "ScansFailed",
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
pub fn publish_reserve(margin: Duration) -> Duration {
    margin.min(PUBLISH_RESERVE * 2) / 2
}

const PUBLISH_RESERVE: Duration = Duration::from_secs(1);

/// Summary lines per list in the SNS message at most; the JSON output has more.
const NOTIFICATION_ITEMS: usize = 50;
const NOTIFICATION_ITEM_BYTES: usize = 2_000;
const TOP_IMAGES: usize = 10;

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
pub struct RunLine<'s> {
    scan_type: ScanType,
    dry_run: bool,
    complete: bool,
    repositories: usize,
    images: usize,
    outcomes: &'s BTreeMap<OutcomeKind, u64>,
}

impl<R: Registry, I: Inspector, P: Publisher, S: StateStore> Function for Rescan<R, I, P, S> {
    type Event = Value;
    type Summary = RunSummary;
    type Error = RescanError;
    const NAME: &'static str = "ecr-rescan";

    fn metrics_config(&self) -> &MetricsConfig {
        &self.config.metrics
    }

    async fn handle(&self, event: Value, ctx: &mut Invocation) -> Result<RunSummary, RescanError> {
        let overrides = input::parse(&event)?;
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
        self.publish(&summary, &event, ctx).await?;
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
    /// [`publish_reserve`] before it, so it gets the rest of the margin.
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

    /// Publishes the summary when a topic is configured, once per event: the key is the
    /// payload's hash (an EventBridge event's carries its unique id); a payload without an
    /// `id` (a manual `{}`) is keyed by the request id too, so two manual runs both report.
    async fn publish(
        &self,
        summary: &RunSummary,
        event: &Value,
        ctx: &mut Invocation,
    ) -> Result<(), RescanError> {
        let Some(delivery) = &self.config.delivery else {
            return Ok(());
        };
        let mut key = IdempotencyKey::from_event(Self::NAME, event);
        if event.get("id").is_none() {
            key = key.item(&ctx.request_id);
        }
        let Admission::Publish(permit) = self.outbox.admit(ctx, key, &[]).await? else {
            return Ok(());
        };
        let identity = format!("ecr-rescan|{}", ctx.request_id);
        let max = Detail::new(NOTIFICATION_ITEMS, NOTIFICATION_ITEM_BYTES);
        let (message, _) = delivery.fit(max, |d| summary.render(d, &identity))?;
        self.outbox.publish(ctx, permit, &message).await?;
        ctx.metrics.add(SUMMARIES_PUBLISHED, 1);
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
        let mut summary = empty_summary(ScanType::Basic, dry_run, &config.region, repositories.len());
        // A fresh rate each run: what ECR accepted an hour ago says little about now.
        let rate = AdaptiveRate::new(config.max_rate_per_second);
        let listings = self.list_images(&rate, repositories, stop_at).await;
        let rules = Rules {
            selection: &config.images,
            latest_per_repository: latest,
            rescan_after_ms: i64::try_from(config.rescan_after.as_millis()).unwrap_or(i64::MAX),
            now_ms: lookout_shared::time::now_epoch_ms(),
        };
        let Selection {
            mut per_repository,
            mut candidates,
            mut decided,
            all_images,
            not_listed,
            failed_listings,
        } = select_images(listings, &rules);
        summary.repositories_not_listed = failed_listings;
        if not_listed > 0 {
            summary.complete = false;
            summary.notes.push(format!(
                "{} could not be listed; see per repository.",
                count(not_listed, "repository", "repositories")
            ));
        }

        select::order_for_progress(&mut candidates);
        let settings = ScanSettings {
            concurrency: config.concurrency,
            max_attempts: config.max_scan_attempts,
            dry_run,
            stop_at,
        };
        let report = scan::scan_all(&self.registry, &rate, candidates, &settings).await;
        if let Some(settled) = rate.settled() {
            summary.notes.push(format!(
                "ECR throttled the calls; the rate settled at {settled:.1} a second."
            ));
        }
        decided.extend(report.outcomes);
        self.note_stops(&mut summary, &decided, report.account_limit);

        count_outcomes(&mut summary, &mut per_repository, &decided);
        summary.images = all_images.len();
        summary.critical_findings = all_images
            .iter()
            .map(|i| i.severity_counts.get(VulnSeverity::Critical))
            .sum();
        summary.top_images = top_images(&all_images, config, &summary.region);
        summary.per_repository = ordered_repositories(per_repository);
        summary
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

    /// Why the run stopped short, if it did: the deadline, or the account's scan limit.
    fn note_stops(
        &self,
        summary: &mut RunSummary,
        decided: &[(Image, ScanOutcome)],
        account_limit: Option<String>,
    ) {
        let deadline_deferred = decided
            .iter()
            .filter(|(_, o)| *o == ScanOutcome::Deferred(Deferral::Deadline))
            .count();
        if deadline_deferred > 0 {
            summary.complete = false;
            summary.notes.push(format!(
                "Stopped {} s before the Lambda deadline; {} left for the next run (oldest scans go first).",
                self.config.deadline_margin.as_secs(),
                count(deadline_deferred as u64, "image", "images")
            ));
        }
        let failed = decided
            .iter()
            .filter(|(_, o)| matches!(o, ScanOutcome::Failed(_)))
            .count();
        if failed > 0 {
            summary.complete = false;
            summary.notes.push(format!(
                "{} could not be scanned (see failures); the run ends in an error, and Lambda's retry skips the scans already started.",
                count(failed as u64, "image", "images")
            ));
        }
        if let Some(message) = account_limit {
            summary.complete = false;
            summary.notes.push(format!(
                "The account's daily basic scan limit was reached; no more scans were started ({message})."
            ));
        }
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
        let mut summary = empty_summary(ScanType::Enhanced, dry_run, &config.region, repositories.len());
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
        if let Part::Available(c) = &report.coverage {
            summary.images = c.images;
        }
        let unavailable = [
            matches!(report.rescan_durations, Part::Unavailable { .. }),
            matches!(report.coverage, Part::Unavailable { .. }),
            matches!(report.unscanned_repositories, Part::Unavailable { .. }),
            matches!(report.findings, Part::Unavailable { .. }),
        ];
        if unavailable.iter().any(|u| *u) {
            summary.complete = false;
            summary
                .notes
                .push("Some Inspector data could not be read; the report says which.".to_string());
        }
        summary.enhanced = Some(report);
        summary
    }
}

enum ListingProblem {
    Api(ApiError),
    Deadline,
}

type Listing = Result<Vec<Image>, ListingProblem>;

/// The listings, sorted into what is decided already and what may be scanned.
struct Selection {
    per_repository: BTreeMap<String, RepositorySummary>,
    candidates: Vec<Image>,
    decided: Vec<(Image, ScanOutcome)>,
    all_images: Vec<Image>,
    not_listed: u64,
    /// Not listed because the API failed (not the deadline): the run is a Lambda error.
    failed_listings: u64,
}

fn select_images(listings: Vec<(String, Listing)>, rules: &Rules<'_>) -> Selection {
    let mut out = Selection {
        per_repository: BTreeMap::new(),
        candidates: Vec::new(),
        decided: Vec::new(),
        all_images: Vec::new(),
        not_listed: 0,
        failed_listings: 0,
    };
    for (repository, listing) in listings {
        let entry = out
            .per_repository
            .entry(repository.clone())
            .or_insert_with(|| RepositorySummary {
                name: repository.clone(),
                ..RepositorySummary::default()
            });
        match listing {
            Ok(images) => {
                entry.images = images.len();
                out.all_images.extend(images.iter().cloned());
                let selected = select::select(images, rules);
                out.decided.extend(
                    selected
                        .skipped
                        .into_iter()
                        .map(|(i, s)| (i, ScanOutcome::Skipped(s))),
                );
                out.candidates.extend(selected.candidates);
            }
            Err(ListingProblem::Api(e)) if e.not_found => {
                entry.error = Some("deleted during the run".to_string());
            }
            Err(ListingProblem::Api(e)) => {
                out.not_listed += 1;
                out.failed_listings += 1;
                entry.error = Some(format!("not listed: {e}"));
            }
            Err(ListingProblem::Deadline) => {
                out.not_listed += 1;
                entry.error = Some("not listed: the Lambda deadline came first".to_string());
            }
        }
    }
    out
}

/// Each image's outcome into the run's and its repository's counts, and the listed examples.
fn count_outcomes(
    summary: &mut RunSummary,
    per_repository: &mut BTreeMap<String, RepositorySummary>,
    decided: &[(Image, ScanOutcome)],
) {
    for (image, outcome) in decided {
        *summary.outcomes.entry(outcome.kind()).or_default() += 1;
        if let Some(repo) = per_repository.get_mut(&image.repository) {
            *repo.outcomes.entry(outcome.kind()).or_default() += 1;
        }
        match outcome {
            ScanOutcome::Failed(error) if summary.failures.len() < MAX_LISTED => {
                summary.failures.push(image_ref(image, Some(error.clone())));
            }
            ScanOutcome::WouldScan if summary.would_scan.len() < MAX_LISTED => {
                summary.would_scan.push(image_ref(image, None));
            }
            _ => {}
        }
    }
}

/// Repositories with a problem first, then by scans started, then by name.
fn ordered_repositories(per_repository: BTreeMap<String, RepositorySummary>) -> Vec<RepositorySummary> {
    let mut repos: Vec<RepositorySummary> = per_repository.into_values().collect();
    repos.sort_by(|a, b| {
        let started = |r: &RepositorySummary| r.outcomes.get(&OutcomeKind::Started).copied().unwrap_or(0);
        b.error
            .is_some()
            .cmp(&a.error.is_some())
            .then(started(b).cmp(&started(a)))
            .then_with(|| a.name.cmp(&b.name))
    });
    repos
}

fn empty_summary(scan_type: ScanType, dry_run: bool, region: &str, repositories: usize) -> RunSummary {
    RunSummary {
        scan_type,
        dry_run,
        complete: true,
        notes: Vec::new(),
        region: region.to_string(),
        repositories,
        images: 0,
        outcomes: BTreeMap::new(),
        per_repository: Vec::new(),
        failures: Vec::new(),
        would_scan: Vec::new(),
        top_images: Vec::new(),
        enhanced: None,
        critical_findings: 0,
        repositories_not_listed: 0,
    }
}

fn image_ref(image: &Image, error: Option<String>) -> ImageRef {
    ImageRef {
        repository: image.repository.clone(),
        digest: image.digest.clone(),
        tags: image.tags.clone(),
        error,
    }
}

/// Images whose last basic scan found the most at or above the threshold, worst first.
fn top_images(images: &[Image], config: &RescanConfig, region: &str) -> Vec<TopImage> {
    let mut ranked: Vec<&Image> = images
        .iter()
        .filter(|i| i.severity_counts.total_at_or_above(config.min_severity) > 0)
        .collect();
    ranked.sort_by(|a, b| {
        b.severity_counts
            .rank()
            .cmp(&a.severity_counts.rank())
            .then_with(|| a.digest.cmp(&b.digest))
    });
    ranked
        .into_iter()
        .take(TOP_IMAGES)
        .map(|i| TopImage {
            image: image_ref(i, None),
            counts: i.severity_counts.clone(),
            link: console::ecr_image_url(
                region,
                i.registry_id.as_deref().unwrap_or("-"),
                &i.repository,
                &i.digest,
            ),
        })
        .collect()
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
