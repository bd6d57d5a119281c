//! The run summary: the function's JSON output, assembled here from what the run found and did
//! ([`RunSummary::basic`], [`RunSummary::enhanced`]); the notification rendered from it is in
//! [`render`]. With `ACCOUNTS`, one [`OrgSummary`] covers every account ([`organisation`]).

mod organisation;
mod render;

pub(crate) use organisation::OrgSummary;
pub(crate) use organisation::{AccountReport, AccountRun, AccountStatus, OrgRun};

use crate::config::RescanConfig;
use crate::enhanced::{EnhancedReport, Part};
use crate::model::{Image, ScanType};
use crate::scan::{Deferral, OutcomeKind, ScanOutcome, ScanReport};
use crate::select::{RepositoryListing, Selection};
use lookout_shared::console;
use lookout_shared::findings::{SeverityCounts, VulnSeverity};
use lookout_shared::ids::{AccountId, Region};
use lookout_shared::notification::{Detail, Notification};
use lookout_shared::text::count;
use serde::Serialize;
use std::collections::BTreeMap;
use std::time::Duration;

/// Entries kept in each list of the JSON output; the counts stay exact.
const MAX_LISTED: usize = 200;
/// Images listed as the most vulnerable.
const TOP_IMAGES: usize = 10;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ImageRef {
    pub(crate) repository: String,
    pub(crate) digest: String,
    pub(crate) tags: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) error: Option<String>,
}

impl ImageRef {
    fn of(image: &Image, error: Option<String>) -> Self {
        Self {
            repository: image.repository.clone(),
            digest: image.digest.clone(),
            tags: image.tags.clone(),
            error,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TopImage {
    #[serde(flatten)]
    pub(crate) image: ImageRef,
    /// From the image's last basic scan (`findingSeverityCounts`).
    pub(crate) counts: SeverityCounts,
    /// None when ECR named no valid registry id for the image.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) link: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RepositorySummary {
    pub(crate) name: String,
    pub(crate) images: usize,
    pub(crate) outcomes: Outcomes,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) error: Option<String>,
}

/// Outcome → images (`started`, `alreadyScanned`, `failed`, `skipped…`, `deferred…`): a
/// repository's, a registry's or an organisation's. Serialized as the map.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub(crate) struct Outcomes(BTreeMap<OutcomeKind, u64>);

impl Outcomes {
    /// Images with outcome `kind`.
    pub(crate) fn get(&self, kind: OutcomeKind) -> u64 {
        self.0.get(&kind).copied().unwrap_or(0)
    }

    pub(crate) fn add(&mut self, kind: OutcomeKind, n: u64) {
        let entry = self.0.entry(kind).or_default();
        *entry = entry.saturating_add(n);
    }

    /// Every outcome and its images, by key.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (OutcomeKind, u64)> + '_ {
        self.0.iter().map(|(kind, n)| (*kind, *n))
    }

    pub(crate) fn skipped(&self) -> u64 {
        self.iter()
            .filter(|(k, _)| matches!(k, OutcomeKind::Skipped(_)))
            .fold(0u64, |sum, (_, n)| sum.saturating_add(n))
    }

    pub(crate) fn deferred(&self) -> u64 {
        self.get(OutcomeKind::Deferred(Deferral::Deadline))
            .saturating_add(self.get(OutcomeKind::Deferred(Deferral::AccountLimit)))
    }
}

/// The invocation's result: returned to Lambda, logged in part, and published. Untagged, so a
/// run without `ACCOUNTS` returns exactly the one registry's summary it always did.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Summary {
    /// The function's own registry.
    Registry(Box<RunSummary>),
    /// Every account of `ACCOUNTS`.
    Organisation(OrgSummary),
}

impl Summary {
    /// The notification, with at most `detail` of each list.
    pub(crate) fn render(&self, detail: Detail, identity: &str) -> Notification {
        match self {
            Summary::Registry(summary) => summary.render(detail, identity),
            Summary::Organisation(summary) => summary.render(detail, identity),
        }
    }
}

/// A list of a registry's summary that an organisation summary cuts short.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) enum Listed {
    PerRepository,
    Failures,
    WouldScan,
    TopImages,
    CoverageExamples,
    UnscannedRepositories,
    FindingImages,
    Findings,
}

/// One registry's summary: returned to Lambda, logged in part, and published.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RunSummary {
    pub(crate) scan_type: ScanType,
    pub(crate) dry_run: bool,
    /// False when the deadline, the account limit or a failing call left work undone.
    pub(crate) complete: bool,
    pub(crate) notes: Vec<String>,
    pub(crate) region: Region,
    pub(crate) repositories: usize,
    pub(crate) images: usize,
    pub(crate) outcomes: Outcomes,
    pub(crate) per_repository: Vec<RepositorySummary>,
    pub(crate) failures: Vec<ImageRef>,
    /// Dry run: what would have been scanned.
    pub(crate) would_scan: Vec<ImageRef>,
    pub(crate) top_images: Vec<TopImage>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) enhanced: Option<EnhancedReport>,
    /// CRITICAL findings over every listed image's last basic scan (not only the top ones).
    #[serde(skip)]
    pub(crate) critical_findings: u64,
    /// Repositories whose listing failed (not cut by the deadline): they make the run an error.
    #[serde(skip)]
    pub(crate) repositories_not_listed: u64,
    /// Entries cut from each list ([`RunSummary::cut`]); empty, so absent, unless cut.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub(crate) omitted: BTreeMap<Listed, u64>,
    /// The deadline left work undone (images deferred, a listing or an Inspector read cut):
    /// the organisation's rotation takes this account first next time.
    #[serde(skip)]
    pub(crate) cut_by_deadline: bool,
}

/// What a BASIC run found and did, for its summary.
#[derive(Debug)]
pub(crate) struct BasicRun {
    pub(crate) dry_run: bool,
    /// Repositories the patterns selected.
    pub(crate) repositories: usize,
    /// The listings, sorted (its candidates went to the scan).
    pub(crate) selection: Selection,
    pub(crate) report: ScanReport,
    /// The calls a second ECR's throttling settled at, if it throttled.
    pub(crate) settled_rate: Option<f64>,
}

impl RunSummary {
    /// A run that has done nothing yet.
    fn empty(scan_type: ScanType, dry_run: bool, region: &Region, repositories: usize) -> Self {
        Self {
            scan_type,
            dry_run,
            complete: true,
            notes: Vec::new(),
            region: region.clone(),
            repositories,
            images: 0,
            outcomes: Outcomes::default(),
            per_repository: Vec::new(),
            failures: Vec::new(),
            would_scan: Vec::new(),
            top_images: Vec::new(),
            enhanced: None,
            critical_findings: 0,
            repositories_not_listed: 0,
            omitted: BTreeMap::new(),
            cut_by_deadline: false,
        }
    }

    /// The summary of a BASIC run: its notes (in the order the run met them), the counts of
    /// every image's outcome, the listed examples and the most vulnerable images.
    pub(crate) fn basic(run: BasicRun, config: &RescanConfig) -> Self {
        let BasicRun {
            dry_run,
            repositories,
            selection,
            report,
            settled_rate,
        } = run;
        let mut summary = Self::empty(ScanType::Basic, dry_run, &config.region, repositories);
        summary.repositories_not_listed = selection.failed_listings;
        summary.cut_by_deadline = selection.not_listed > selection.failed_listings;
        if selection.not_listed > 0 {
            summary.complete = false;
            summary.notes.push(format!(
                "{} could not be listed; see per repository.",
                count(selection.not_listed, "repository", "repositories")
            ));
        }
        if let Some(settled) = settled_rate {
            summary.notes.push(format!(
                "ECR throttled the calls; the rate settled at {settled:.1} a second."
            ));
        }
        let mut decided: Vec<(Image, ScanOutcome)> = selection
            .skipped
            .into_iter()
            .map(|(i, s)| (i, ScanOutcome::Skipped(s)))
            .collect();
        decided.extend(report.outcomes);
        summary.note_stops(&decided, report.account_limit, config.deadline_margin);

        let mut per_repository = selection
            .repositories
            .into_iter()
            .map(|(name, listing)| (name.clone(), RepositorySummary::listed(name, listing)))
            .collect();
        summary.count_outcomes(&mut per_repository, &decided);
        let all_images = selection.all_images;
        summary.images = all_images.len();
        summary.critical_findings = all_images
            .iter()
            .map(|i| i.severity_counts.get(VulnSeverity::Critical))
            .sum();
        summary.top_images = top_images(&all_images, config.min_severity, &config.region);
        summary.per_repository = ordered_repositories(per_repository);
        summary
    }

    /// The summary of an ENHANCED run: Inspector's report, partial when a part of it is not.
    pub(crate) fn enhanced(
        dry_run: bool,
        region: &Region,
        repositories: usize,
        report: EnhancedReport,
    ) -> Self {
        let mut summary = Self::empty(ScanType::Enhanced, dry_run, region, repositories);
        if let Part::Available(c) = &report.coverage {
            summary.images = c.images;
        }
        if !report.unavailable().is_empty() {
            summary.complete = false;
            summary
                .notes
                .push("Some Inspector data could not be read; the report says which.".to_string());
        }
        summary.cut_by_deadline = report.cut_by_deadline();
        summary.enhanced = Some(report);
        summary
    }

    /// Keeps at most `items` entries of each list, counting what it cuts in `omitted`; the
    /// counts (`outcomes`, `images`, Inspector's totals) stay complete.
    pub(crate) fn cut(&mut self, items: usize) {
        let omitted = &mut self.omitted;
        cut_list(&mut self.per_repository, items, Listed::PerRepository, omitted);
        cut_list(&mut self.failures, items, Listed::Failures, omitted);
        cut_list(&mut self.would_scan, items, Listed::WouldScan, omitted);
        cut_list(&mut self.top_images, items, Listed::TopImages, omitted);
        if let Some(report) = &mut self.enhanced {
            report.cut(items, omitted);
        }
    }

    /// Why the run stopped short, if it did: the deadline, failed scans, or the account's
    /// scan limit.
    fn note_stops(
        &mut self,
        decided: &[(Image, ScanOutcome)],
        account_limit: Option<String>,
        deadline_margin: Duration,
    ) {
        let deadline_deferred = decided
            .iter()
            .filter(|(_, o)| *o == ScanOutcome::Deferred(Deferral::Deadline))
            .count();
        if deadline_deferred > 0 {
            self.complete = false;
            self.cut_by_deadline = true;
            self.notes.push(format!(
                "Stopped {} s before the Lambda deadline; {} left for the next run (oldest scans go first).",
                deadline_margin.as_secs(),
                count(deadline_deferred as u64, "image", "images")
            ));
        }
        let failed = decided
            .iter()
            .filter(|(_, o)| matches!(o, ScanOutcome::Failed(_)))
            .count();
        if failed > 0 {
            self.complete = false;
            self.notes.push(format!(
                "{} could not be scanned (see failures); the run ends in an error, and Lambda's retry skips the scans already started.",
                count(failed as u64, "image", "images")
            ));
        }
        if let Some(message) = account_limit {
            self.complete = false;
            self.notes.push(format!(
                "The account's daily basic scan limit was reached; no more scans were started ({message})."
            ));
        }
    }

    /// Each image's outcome into the run's and its repository's counts, and the listed examples.
    fn count_outcomes(
        &mut self,
        per_repository: &mut BTreeMap<String, RepositorySummary>,
        decided: &[(Image, ScanOutcome)],
    ) {
        for (image, outcome) in decided {
            self.outcomes.add(outcome.kind(), 1);
            if let Some(repo) = per_repository.get_mut(&image.repository) {
                repo.outcomes.add(outcome.kind(), 1);
            }
            match outcome {
                ScanOutcome::Failed(error) if self.failures.len() < MAX_LISTED => {
                    self.failures.push(ImageRef::of(image, Some(error.clone())));
                }
                ScanOutcome::WouldScan if self.would_scan.len() < MAX_LISTED => {
                    self.would_scan.push(ImageRef::of(image, None));
                }
                _ => {}
            }
        }
    }
}

/// Truncates `list` to `items`, adding what it dropped to `omitted[what]`.
pub(crate) fn cut_list<T>(
    list: &mut Vec<T>,
    items: usize,
    what: Listed,
    omitted: &mut BTreeMap<Listed, u64>,
) {
    let dropped = list.len().saturating_sub(items);
    if dropped > 0 {
        list.truncate(items);
        let n = omitted.entry(what).or_default();
        *n = n.saturating_add(u64::try_from(dropped).unwrap_or(u64::MAX));
    }
}

impl RepositorySummary {
    /// A repository as listed, before its images' outcomes are counted.
    fn listed(name: String, listing: RepositoryListing) -> Self {
        Self {
            name,
            images: listing.images,
            outcomes: Outcomes::default(),
            error: listing.error,
        }
    }
}

/// Repositories with a problem first, then by scans started, then by name.
fn ordered_repositories(per_repository: BTreeMap<String, RepositorySummary>) -> Vec<RepositorySummary> {
    let mut repos: Vec<RepositorySummary> = per_repository.into_values().collect();
    repos.sort_by(|a, b| {
        let started = |r: &RepositorySummary| r.outcomes.get(OutcomeKind::Started);
        b.error
            .is_some()
            .cmp(&a.error.is_some())
            .then(started(b).cmp(&started(a)))
            .then_with(|| a.name.cmp(&b.name))
    });
    repos
}

/// Images whose last basic scan found the most at or above `min_severity`, worst first.
fn top_images(images: &[Image], min_severity: VulnSeverity, region: &Region) -> Vec<TopImage> {
    let mut ranked: Vec<&Image> = images
        .iter()
        .filter(|i| i.severity_counts.total_at_or_above(min_severity) > 0)
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
            image: ImageRef::of(i, None),
            counts: i.severity_counts.clone(),
            link: i
                .registry_id
                .as_deref()
                .and_then(AccountId::parse)
                .map(|registry| console::ecr_image_url(region, &registry, &i.repository, &i.digest)),
        })
        .collect()
}
