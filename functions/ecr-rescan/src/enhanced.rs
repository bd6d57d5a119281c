//! ENHANCED scanning: Amazon Inspector scans continuously, so nothing is started. The run
//! reports what Inspector says instead: rescan durations, coverage gaps, active findings.
//! Each part is read on its own, so one unavailable API does not hide the others.

use crate::ecr::Registry;
use crate::inspector::{CoveredImage, Inspector, RescanDurations};
use crate::summary::{Listed, cut_list};
use lookout_shared::findings::{Finding, SeverityCounts, VulnSeverity};
use lookout_shared::wildcard::Patterns;
use serde::Serialize;
use std::collections::BTreeMap;
use std::future::Future;
use tokio::time::Instant;

/// A part of the report, or why it could not be read.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase", untagged)]
pub(crate) enum Part<T> {
    Available(T),
    Unavailable { unavailable: String },
}

impl<T> Part<T> {
    fn from_result<E: std::fmt::Display>(r: Result<T, E>) -> Self {
        match r {
            Ok(v) => Part::Available(v),
            Err(e) => Part::Unavailable {
                unavailable: e.to_string(),
            },
        }
    }

    pub(crate) fn available(&self) -> Option<&T> {
        match self {
            Part::Available(v) => Some(v),
            Part::Unavailable { .. } => None,
        }
    }

    fn unavailable(&self) -> Option<&str> {
        match self {
            Part::Available(_) => None,
            Part::Unavailable { unavailable } => Some(unavailable),
        }
    }
}

/// Why a part is missing when the deadline came before it was read.
const DEADLINE_FIRST: &str = "not read: the Lambda deadline came first";

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CoverageReport {
    pub(crate) images: usize,
    pub(crate) gaps: usize,
    /// Reason → images with it (`repo:tag`), worst-covered first.
    pub(crate) gaps_by_reason: BTreeMap<String, Vec<String>>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ImageFindings {
    pub(crate) repository: String,
    pub(crate) digest: String,
    pub(crate) tags: Vec<String>,
    pub(crate) counts: SeverityCounts,
    pub(crate) findings: Vec<Finding>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct FindingsReport {
    pub(crate) min_severity: VulnSeverity,
    pub(crate) total: usize,
    /// More findings exist than MAX_FINDINGS allowed reading.
    pub(crate) truncated: bool,
    pub(crate) counts: SeverityCounts,
    /// Worst image first.
    pub(crate) images: Vec<ImageFindings>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct EnhancedReport {
    pub(crate) rescan_durations: Part<RescanDurations>,
    pub(crate) coverage: Part<CoverageReport>,
    /// Selected repositories no ENHANCED rule covers (their frequency is MANUAL).
    pub(crate) unscanned_repositories: Part<Vec<String>>,
    pub(crate) findings: Part<FindingsReport>,
}

impl EnhancedReport {
    /// The parts that could not be read, by name.
    pub(crate) fn unavailable(&self) -> Vec<&'static str> {
        [
            ("rescan durations", self.rescan_durations.available().is_none()),
            ("coverage", self.coverage.available().is_none()),
            (
                "unscanned repositories",
                self.unscanned_repositories.available().is_none(),
            ),
            ("findings", self.findings.available().is_none()),
        ]
        .into_iter()
        .filter_map(|(name, missing)| missing.then_some(name))
        .collect()
    }

    /// Whether the deadline kept a part from being read.
    pub(crate) fn cut_by_deadline(&self) -> bool {
        let cut = |unavailable: Option<&str>| unavailable == Some(DEADLINE_FIRST);
        cut(self.rescan_durations.unavailable())
            || cut(self.coverage.unavailable())
            || cut(self.unscanned_repositories.unavailable())
            || cut(self.findings.unavailable())
    }

    /// Keeps at most `items` entries of each list (examples per coverage gap reason, unscanned
    /// repositories, images with findings and each one's findings), counting what it cuts.
    pub(crate) fn cut(&mut self, items: usize, omitted: &mut BTreeMap<Listed, u64>) {
        if let Part::Available(coverage) = &mut self.coverage {
            for examples in coverage.gaps_by_reason.values_mut() {
                cut_list(examples, items, Listed::CoverageExamples, omitted);
            }
        }
        if let Part::Available(list) = &mut self.unscanned_repositories {
            cut_list(list, items, Listed::UnscannedRepositories, omitted);
        }
        if let Part::Available(findings) = &mut self.findings {
            cut_list(&mut findings.images, items, Listed::FindingImages, omitted);
            for image in &mut findings.images {
                cut_list(&mut image.findings, items, Listed::Findings, omitted);
            }
        }
    }
}

#[derive(Debug)]
pub(crate) struct Limits {
    pub(crate) min_severity: VulnSeverity,
    pub(crate) max_findings: usize,
    pub(crate) max_coverage: usize,
}

/// `only`: when set, findings are asked for these repositories (the patterns left others out).
pub(crate) async fn report<I: Inspector, R: Registry>(
    inspector: &I,
    registry: &R,
    repositories: &[String],
    only: Option<&[String]>,
    patterns: &Patterns,
    limits: &Limits,
    stop_at: Instant,
) -> EnhancedReport {
    let (durations, coverage, frequencies, findings) = futures::join!(
        until(stop_at, inspector.configuration()),
        until(stop_at, inspector.coverage(limits.max_coverage)),
        until(stop_at, registry.scan_frequencies(repositories)),
        until(
            stop_at,
            inspector.findings(limits.min_severity, only, limits.max_findings + 1)
        ),
    );
    EnhancedReport {
        rescan_durations: Part::from_result(durations),
        coverage: Part::from_result(coverage.map(|c| coverage_report(c, patterns))),
        unscanned_repositories: Part::from_result(frequencies.map(|f| {
            f.into_iter()
                .filter(|(_, frequency)| frequency == "MANUAL")
                .map(|(name, _)| name)
                .collect()
        })),
        findings: Part::from_result(findings.map(|f| findings_report(f, patterns, limits))),
    }
}

/// A part's read, given up at `stop_at`.
async fn until<T, E: std::fmt::Display>(
    stop_at: Instant,
    read: impl Future<Output = Result<T, E>>,
) -> Result<T, String> {
    match tokio::time::timeout_at(stop_at, read).await {
        Ok(result) => result.map_err(|e| e.to_string()),
        Err(_) => Err(DEADLINE_FIRST.to_string()),
    }
}

fn coverage_report(images: Vec<CoveredImage>, patterns: &Patterns) -> CoverageReport {
    let images: Vec<CoveredImage> = images
        .into_iter()
        .filter(|i| patterns.matches(&i.repository))
        .collect();
    let mut gaps_by_reason: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for image in images.iter().filter(|i| i.is_gap()) {
        let name = lookout_shared::findings::image_name(&image.repository, &image.tags, &image.digest);
        gaps_by_reason.entry(image.reason.clone()).or_default().push(name);
    }
    CoverageReport {
        images: images.len(),
        gaps: gaps_by_reason.values().map(Vec::len).sum(),
        gaps_by_reason,
    }
}

fn findings_report(findings: Vec<Finding>, patterns: &Patterns, limits: &Limits) -> FindingsReport {
    let truncated = findings.len() > limits.max_findings;
    let mut counts = SeverityCounts::default();
    let mut by_image: BTreeMap<(String, String), ImageFindings> = BTreeMap::new();
    for finding in findings.into_iter().take(limits.max_findings) {
        if finding.severity < limits.min_severity || !patterns.matches(&finding.repository) {
            continue;
        }
        counts.add(finding.severity, 1);
        let entry = by_image
            .entry((finding.repository.clone(), finding.digest.clone()))
            .or_insert_with(|| ImageFindings {
                repository: finding.repository.clone(),
                digest: finding.digest.clone(),
                tags: finding.tags.clone(),
                counts: SeverityCounts::default(),
                findings: Vec::new(),
            });
        entry.counts.add(finding.severity, 1);
        entry.findings.push(finding);
    }
    let mut images: Vec<ImageFindings> = by_image.into_values().collect();
    for image in &mut images {
        image.findings.sort_by(Finding::worst_first);
    }
    images.sort_by(|a, b| {
        b.counts
            .rank()
            .cmp(&a.counts.rank())
            .then_with(|| a.repository.cmp(&b.repository))
    });
    FindingsReport {
        min_severity: limits.min_severity,
        total: usize::try_from(counts.total_at_or_above(VulnSeverity::Untriaged)).unwrap_or(usize::MAX),
        truncated,
        counts,
        images,
    }
}
