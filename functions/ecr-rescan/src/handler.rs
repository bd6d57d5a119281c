//! One ecr-rescan invocation: read the input, tell BASIC from ENHANCED, do the run, return
//! the summary and publish it.

use super::config::RescanConfig;
use super::ecr::Registry;
use super::enhanced::{self, Limits, Part};
use super::input::{self, InputError};
use super::inspector::Inspector;
use super::model::{Image, ScanType};
use lookout_shared::aws::ApiError;
use super::pace::Pacer;
use super::scan::{self, Deferral, ScanOutcome, ScanSettings};
use super::select::{self, Rules};
use super::summary::{ImageRef, MAX_LISTED, RepositorySummary, RunSummary, TopImage};
use lookout_shared::console;
use lookout_shared::deadline::Deadline;
use lookout_shared::metrics::Metrics;
use lookout_shared::notification::{Detail, FitError};
use lookout_shared::publish::{PublishError, Publisher};
use lookout_shared::text::count;
use lookout_shared::wildcard::Patterns;
use futures::StreamExt;
use serde_json::Value;
use std::collections::BTreeMap;

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
    Publish(#[from] PublishError),
}

impl RescanError {
    pub fn kind(&self) -> &'static str {
        match self {
            RescanError::Input(_) => "InvalidInput",
            RescanError::ScanType(_) | RescanError::Repositories(_) => "RegistryUnreadable",
            RescanError::TooLarge(_) => "MessageTooLarge",
            RescanError::Publish(_) => "PublishFailed",
        }
    }
}

impl From<RescanError> for lambda_runtime::Diagnostic {
    fn from(e: RescanError) -> Self {
        Self {
            error_type: format!("Lookout.{}", e.kind()),
            error_message: e.to_string(),
        }
    }
}

/// Summary lines per list in the SNS message at most; the JSON output has more.
const NOTIFICATION_ITEMS: usize = 50;
const NOTIFICATION_ITEM_BYTES: usize = 2_000;
const TOP_IMAGES: usize = 10;

pub struct Rescan<R, I, P> {
    config: RescanConfig,
    registry: R,
    inspector: I,
    publisher: P,
    pacer: Pacer,
}

impl<R: Registry, I: Inspector, P: Publisher> Rescan<R, I, P> {
    pub fn new(config: RescanConfig, registry: R, inspector: I, publisher: P) -> Self {
        let pacer = Pacer::per_second(config.rate_per_second);
        Self {
            config,
            registry,
            inspector,
            publisher,
            pacer,
        }
    }

    pub fn config(&self) -> &RescanConfig {
        &self.config
    }

    pub async fn handle(
        &self,
        event: Value,
        deadline: Deadline,
        request_id: &str,
    ) -> Result<Value, RescanError> {
        let mut metrics = Metrics::new();
        let result = self.handle_with(&event, deadline, request_id, &mut metrics).await;
        if let Err(e) = &result {
            metrics.add("RunFailures", 1);
            tracing::error!(error_type = e.kind(), error = %e, "ecr-rescan failed");
        }
        metrics.flush(&self.config.metrics);
        result
    }

    async fn handle_with(
        &self,
        event: &Value,
        deadline: Deadline,
        request_id: &str,
        metrics: &mut Metrics,
    ) -> Result<Value, RescanError> {
        let overrides = input::parse(event)?;
        let dry_run = overrides.dry_run.unwrap_or(self.config.dry_run);
        let patterns = self
            .config
            .repositories
            .narrowed(overrides.repositories.as_deref().unwrap_or_default());
        let latest = overrides
            .max_images_per_repository
            .unwrap_or(self.config.images.latest_per_repository);

        let scan_type = self.registry.scan_type().await.map_err(RescanError::ScanType)?;
        let mut repositories: Vec<String> = self
            .registry
            .repositories()
            .await
            .map_err(RescanError::Repositories)?
            .into_iter()
            .map(|r| r.name)
            .filter(|name| patterns.matches(name))
            .collect();
        repositories.sort();

        let summary = match scan_type {
            ScanType::Basic => self.basic(repositories, dry_run, latest, deadline).await,
            ScanType::Enhanced => self.enhanced(repositories, dry_run, &patterns).await,
        };
        record_metrics(&summary, metrics);
        tracing::info!(
            scan_type = summary.scan_type.as_str(),
            dry_run = summary.dry_run,
            complete = summary.complete,
            repositories = summary.repositories,
            images = summary.images,
            started = summary.outcome("started"),
            already_scanned = summary.outcome("alreadyScanned"),
            failed = summary.outcome("failed"),
            skipped = summary.skipped(),
            deferred = summary.deferred(),
            "ecr-rescan finished"
        );
        if let Some(delivery) = &self.config.delivery {
            let identity = format!("ecr-rescan|{request_id}");
            let max = Detail {
                items: NOTIFICATION_ITEMS,
                item_bytes: NOTIFICATION_ITEM_BYTES,
            };
            let (message, _) = delivery.fit(max, |d| summary.render(d, &identity))?;
            let message_id = self.publisher.publish(&message).await?;
            metrics.add("SummariesPublished", 1);
            tracing::info!(message_id = %message_id, bytes = message.request_bytes(), "published run summary");
        }
        Ok(serde_json::to_value(&summary).unwrap_or(Value::Null))
    }

    async fn basic(
        &self,
        repositories: Vec<String>,
        dry_run: bool,
        latest: usize,
        deadline: Deadline,
    ) -> RunSummary {
        let config = &self.config;
        let mut summary = empty_summary(ScanType::Basic, dry_run, &config.region, repositories.len());
        let out_of_time = || deadline.remaining() <= config.deadline_margin;

        // List every repository's images, a few at a time, paced like every ECR call.
        let listings: Vec<(String, Result<Vec<Image>, ListingProblem>)> = futures::stream::iter(repositories)
            .map(|repository| async move {
                if out_of_time() {
                    return (repository, Err(ListingProblem::Deadline));
                }
                self.pacer.wait().await;
                let images = self
                    .registry
                    .images(&repository)
                    .await
                    .map_err(ListingProblem::Api);
                (repository, images)
            })
            .buffer_unordered(config.concurrency)
            .collect()
            .await;

        let now = lookout_shared::time::now_epoch_ms();
        let rules = Rules {
            selection: &config.images,
            latest_per_repository: latest,
            rescan_after_ms: i64::try_from(config.rescan_after.as_millis()).unwrap_or(i64::MAX),
            now_ms: now,
        };
        let mut per_repository: BTreeMap<String, RepositorySummary> = BTreeMap::new();
        let mut candidates = Vec::new();
        let mut decided: Vec<(Image, ScanOutcome)> = Vec::new();
        let mut all_images: Vec<Image> = Vec::new();
        let mut not_listed = 0;
        for (repository, listing) in listings {
            let entry = per_repository
                .entry(repository.clone())
                .or_insert_with(|| RepositorySummary {
                    name: repository.clone(),
                    ..RepositorySummary::default()
                });
            match listing {
                Ok(images) => {
                    entry.images = images.len();
                    all_images.extend(images.iter().cloned());
                    let selected = select::select(images, &rules);
                    decided.extend(
                        selected
                            .skipped
                            .into_iter()
                            .map(|(i, s)| (i, ScanOutcome::Skipped(s))),
                    );
                    candidates.extend(selected.candidates);
                }
                Err(ListingProblem::Api(e)) if e.not_found => {
                    entry.error = Some("deleted during the run".to_string());
                }
                Err(ListingProblem::Api(e)) => {
                    not_listed += 1;
                    entry.error = Some(format!("not listed: {e}"));
                }
                Err(ListingProblem::Deadline) => {
                    not_listed += 1;
                    entry.error = Some("not listed: the Lambda deadline came first".to_string());
                }
            }
        }
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
            deadline,
            deadline_margin: config.deadline_margin,
        };
        let report = scan::scan_all(&self.registry, &self.pacer, candidates, &settings).await;
        decided.extend(report.outcomes);

        let deadline_deferred = decided
            .iter()
            .filter(|(_, o)| *o == ScanOutcome::Deferred(Deferral::Deadline))
            .count();
        if deadline_deferred > 0 {
            summary.complete = false;
            summary.notes.push(format!(
                "Stopped {} s before the Lambda deadline; {} left for the next run (oldest scans go first).",
                config.deadline_margin.as_secs(),
                count(deadline_deferred as u64, "image", "images")
            ));
        }
        if let Some(message) = report.account_limit {
            summary.complete = false;
            summary.notes.push(format!(
                "The account's daily basic scan limit was reached; no more scans were started ({message})."
            ));
        }

        for (image, outcome) in &decided {
            *summary.outcomes.entry(outcome.key()).or_default() += 1;
            if let Some(repo) = per_repository.get_mut(&image.repository) {
                *repo.outcomes.entry(outcome.key()).or_default() += 1;
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
        summary.images = all_images.len();
        summary.top_images = top_images(&all_images, config, &summary.region);
        let mut repos: Vec<RepositorySummary> = per_repository.into_values().collect();
        repos.sort_by(|a, b| {
            let started = |r: &RepositorySummary| r.outcomes.get("started").copied().unwrap_or(0);
            b.error
                .is_some()
                .cmp(&a.error.is_some())
                .then(started(b).cmp(&started(a)))
                .then_with(|| a.name.cmp(&b.name))
        });
        summary.per_repository = repos;
        summary
    }

    async fn enhanced(&self, repositories: Vec<String>, dry_run: bool, patterns: &Patterns) -> RunSummary {
        let config = &self.config;
        let mut summary = empty_summary(ScanType::Enhanced, dry_run, &config.region, repositories.len());
        let limits = Limits {
            min_severity: config.min_severity,
            max_findings: config.max_findings,
            max_coverage: config.max_coverage,
        };
        let report =
            enhanced::report(&self.inspector, &self.registry, &repositories, patterns, &limits).await;
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
    metrics.add("ImagesListed", summary.images as u64);
    metrics.add("ScansStarted", summary.outcome("started"));
    metrics.add("ScansAlreadyDone", summary.outcome("alreadyScanned"));
    metrics.add("ScansFailed", summary.outcome("failed"));
    metrics.add("ScansDeferred", summary.deferred());
    metrics.add("ImagesSkipped", summary.skipped());
    if let Some(report) = &summary.enhanced {
        if let Some(f) = report.findings.available() {
            metrics.add("FindingsReported", f.total as u64);
        }
        if let Some(c) = report.coverage.available() {
            metrics.add("CoverageGaps", c.gaps as u64);
        }
    }
}
