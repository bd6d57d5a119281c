//! The notification rendered from a run summary: the subject, the text (and chat) body, the
//! structured JSON body and the message attributes, each list cut to what fits.

use super::{ImageRef, Listed, Outcomes, RepositorySummary, RunSummary, TopImage};
use crate::enhanced::{CoverageReport, EnhancedReport, ImageFindings, Part};
use crate::inspector::RescanDurations;
use crate::model::ScanType;
use crate::scan::OutcomeKind;
use lookout_shared::console;
use lookout_shared::findings::image_name_with_digest;
use lookout_shared::findings::{SeverityCounts, VulnSeverity};
use lookout_shared::ids::{AccountId, Region};
use lookout_shared::notification::{Attribute, ChatMessage, Detail, Notification, chat_code_block};
use lookout_shared::text::{count, inline, thousands, truncate_utf8};
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt::Write;

pub(super) const SOURCE: &str = "lookout.ecr-rescan";

impl ImageRef {
    pub(super) fn name(&self) -> String {
        image_name_with_digest(&self.repository, &self.tags, &self.digest)
    }
}

impl RunSummary {
    pub(crate) fn subject(&self) -> String {
        match (self.scan_type, &self.enhanced) {
            (ScanType::Enhanced, Some(report)) => {
                let (findings, gaps) = inspector_words(report);
                let findings = findings.unwrap_or_else(|| "findings unavailable".to_string());
                let gaps = gaps.map_or(String::new(), |gaps| format!(", {gaps}"));
                format!("[Lookout] Inspector: {findings}{gaps}")
            }
            _ => rescan_subject("", self.dry_run, self.complete, &self.outcomes),
        }
    }

    /// Renders at most `detail.items` entries of each list. Every line that carries untrusted
    /// text (repository names, tags, AWS error details, Inspector's names) goes through `cut`:
    /// the shared one-line encoder (`text::inline`: line breaks, control and bidi characters
    /// shown escaped), then at most `detail.item_bytes`; so none can start a section, a
    /// `Subject:` or a link line.
    pub(crate) fn render(&self, detail: Detail, identity: &str) -> Notification {
        let scan_type = self.scan_type.as_str();
        notification(
            detail,
            identity,
            self.subject(),
            [scan_type, "ECR"],
            |t, cut| match self.scan_type {
                ScanType::Basic => self.basic_text(t, detail, cut),
                ScanType::Enhanced => self.enhanced_text(t, detail, cut),
            },
            || Structured::new(self, detail.items),
            attributes(
                Some(scan_type),
                self.complete,
                &self.outcomes,
                self.critical_count(),
            ),
        )
    }

    /// CRITICAL findings: the basic scans' and Inspector's.
    pub(super) fn critical_count(&self) -> u64 {
        let from_inspector = self
            .enhanced
            .as_ref()
            .and_then(|e| e.findings.available())
            .map_or(0, |f| {
                f.counts.get(lookout_shared::findings::VulnSeverity::Critical)
            });
        self.critical_findings.saturating_add(from_inspector)
    }

    fn header(&self, t: &mut String) {
        let mode = match self.scan_type {
            ScanType::Basic => "BASIC scanning: ECR scans on demand, so this run starts the rescans.",
            ScanType::Enhanced => {
                "ENHANCED scanning: Amazon Inspector scans continuously; no scan is started, this is its report."
            }
        };
        heading(
            t,
            &self.subject(),
            &self.region,
            &format!("Registry:      {mode}"),
            self.complete,
            &self.notes,
            &images_in_repositories(self.images, self.repositories),
        );
    }

    fn basic_text(&self, t: &mut String, detail: Detail, cut: &dyn Fn(&str) -> String) {
        self.header(t);
        outcome_table(t, self.dry_run, &self.outcomes);
        let shown = |n: usize| n.min(detail.items);
        if !self.per_repository.is_empty() {
            let _ = writeln!(t, "\nPer repository:");
            for repo in self.per_repository.iter().take(shown(self.per_repository.len())) {
                let mut line = format!(
                    "  {}: {}; {}",
                    repo.name,
                    count(repo.images as u64, "image", "images"),
                    repo.outcomes.describe()
                );
                if let Some(e) = &repo.error {
                    let _ = write!(line, " [{e}]");
                }
                let _ = writeln!(t, "{}", cut(&line));
            }
            more(t, self.per_repository.len(), detail.items, "repositories");
        }
        if !self.failures.is_empty() {
            let _ = writeln!(t, "\nFailures:");
            for f in self.failures.iter().take(detail.items) {
                let _ = writeln!(
                    t,
                    "{}",
                    cut(&format!("  {}: {}", f.name(), f.error.as_deref().unwrap_or("")))
                );
            }
            more(t, self.failures.len(), detail.items, "failures");
        }
        if !self.would_scan.is_empty() {
            let _ = writeln!(t, "\nWould scan:");
            for i in self.would_scan.iter().take(detail.items) {
                let _ = writeln!(t, "{}", cut(&format!("  {}", i.name())));
            }
            more(
                t,
                self.outcomes.get(OutcomeKind::WouldScan) as usize,
                detail.items.min(self.would_scan.len()),
                "images",
            );
        }
        let top_images = self.top_images.iter().map(|top| (None, top));
        most_vulnerable(t, top_images, detail.items, cut);
    }

    fn enhanced_text(&self, t: &mut String, detail: Detail, cut: &dyn Fn(&str) -> String) {
        self.header(t);
        let Some(report) = &self.enhanced else { return };
        match &report.rescan_durations {
            Part::Available(d) => {
                let line = format!(
                    "Rescan duration: {} after push, {} after last pull (mode {}), status {}",
                    d.rescan_duration.as_deref().unwrap_or("unknown"),
                    d.pull_date_rescan_duration.as_deref().unwrap_or("unknown"),
                    d.pull_date_rescan_mode.as_deref().unwrap_or("unknown"),
                    d.status.as_deref().unwrap_or("unknown"),
                );
                let _ = writeln!(t, "{}", cut(&line));
            }
            Part::Unavailable { unavailable } => {
                let _ = writeln!(t, "Rescan duration: unavailable ({})", cut(unavailable));
            }
        }
        match &report.coverage {
            Part::Available(c) => {
                let _ = writeln!(
                    t,
                    "\nCoverage: {}, {}:",
                    count(c.images as u64, "image", "images"),
                    count(c.gaps as u64, "gap", "gaps")
                );
                for (reason, images) in &c.gaps_by_reason {
                    let examples: Vec<&str> = images
                        .iter()
                        .take(detail.items.min(5))
                        .map(String::as_str)
                        .collect();
                    let _ = writeln!(
                        t,
                        "{}",
                        cut(&format!(
                            "  {reason}: {} (e.g. {})",
                            thousands(images.len() as u64),
                            examples.join(", ")
                        ))
                    );
                }
                if c.gaps_by_reason.contains_key("SCAN_ELIGIBILITY_EXPIRED") {
                    let _ = writeln!(
                        t,
                        "  An expired image is scanned again when it is pushed again (or pulled, within the pull-date window)."
                    );
                }
            }
            Part::Unavailable { unavailable } => {
                let _ = writeln!(t, "\nCoverage: unavailable ({})", cut(unavailable));
            }
        }
        match &report.unscanned_repositories {
            Part::Available(list) if !list.is_empty() => {
                let _ = writeln!(
                    t,
                    "\nRepositories no ENHANCED scanning rule covers: {}",
                    cut(&list.join(", "))
                );
            }
            Part::Available(_) => {}
            Part::Unavailable { unavailable } => {
                let _ = writeln!(
                    t,
                    "\nRepository scan frequencies: unavailable ({})",
                    cut(unavailable)
                );
            }
        }
        match &report.findings {
            Part::Available(f) => {
                let _ = writeln!(
                    t,
                    "\nActive findings, {} or worse: {} in {}{}",
                    f.min_severity,
                    f.counts.describe(),
                    count(f.images.len() as u64, "image", "images"),
                    if f.truncated {
                        " (more exist: raise MAX_FINDINGS)"
                    } else {
                        ""
                    }
                );
                for image in f.images.iter().take(detail.items) {
                    let name = image_name_with_digest(&image.repository, &image.tags, &image.digest);
                    let _ = writeln!(t, "\n{}", cut(&format!("  {name}: {}", image.counts.describe())));
                    let _ = writeln!(
                        t,
                        "    {}",
                        console::inspector_image_url(&self.region, &image.digest)
                    );
                    for finding in image.findings.iter().take(detail.items) {
                        let _ = writeln!(t, "{}", cut(&format!("    {}", finding.one_line())));
                    }
                    more(t, image.findings.len(), detail.items, "findings");
                }
                more(t, f.images.len(), detail.items, "images");
            }
            Part::Unavailable { unavailable } => {
                let _ = writeln!(t, "\nFindings: unavailable ({})", cut(unavailable));
            }
        }
    }
}

/// The summary as subscribers get it: every figure, each list cut to `items`. It borrows, so
/// fitting does not copy the summary at every step. An organisation's summary nests one per
/// account, without `source`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Structured<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    source: Option<&'static str>,
    scan_type: ScanType,
    dry_run: bool,
    complete: bool,
    notes: &'a [String],
    region: &'a Region,
    repositories: usize,
    images: usize,
    outcomes: &'a Outcomes,
    per_repository: &'a [RepositorySummary],
    failures: &'a [ImageRef],
    would_scan: &'a [ImageRef],
    top_images: &'a [TopImage],
    #[serde(skip_serializing_if = "Option::is_none")]
    enhanced: Option<EnhancedView<'a>>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    omitted: &'a BTreeMap<Listed, u64>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct EnhancedView<'a> {
    rescan_durations: &'a Part<RescanDurations>,
    coverage: &'a Part<CoverageReport>,
    unscanned_repositories: &'a Part<Vec<String>>,
    findings: Part<FindingsView<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct FindingsView<'a> {
    min_severity: VulnSeverity,
    total: usize,
    truncated: bool,
    counts: &'a SeverityCounts,
    images: &'a [ImageFindings],
}

impl<'a> Structured<'a> {
    fn new(s: &'a RunSummary, items: usize) -> Self {
        Self {
            source: Some(SOURCE),
            ..Self::nested(s, items)
        }
    }

    /// One account's, inside an organisation's summary.
    pub(super) fn nested(s: &'a RunSummary, items: usize) -> Self {
        let first = |n: usize| n.min(items);
        Self {
            source: None,
            scan_type: s.scan_type,
            dry_run: s.dry_run,
            complete: s.complete,
            notes: &s.notes,
            region: &s.region,
            repositories: s.repositories,
            images: s.images,
            outcomes: &s.outcomes,
            per_repository: &s.per_repository[..first(s.per_repository.len())],
            failures: &s.failures[..first(s.failures.len())],
            would_scan: &s.would_scan[..first(s.would_scan.len())],
            top_images: &s.top_images[..first(s.top_images.len())],
            enhanced: s.enhanced.as_ref().map(|e| EnhancedView {
                rescan_durations: &e.rescan_durations,
                coverage: &e.coverage,
                unscanned_repositories: &e.unscanned_repositories,
                findings: match &e.findings {
                    Part::Available(f) => Part::Available(FindingsView {
                        min_severity: f.min_severity,
                        total: f.total,
                        truncated: f.truncated,
                        counts: &f.counts,
                        images: &f.images[..first(f.images.len())],
                    }),
                    Part::Unavailable { unavailable } => Part::Unavailable {
                        unavailable: unavailable.clone(),
                    },
                },
            }),
            omitted: &s.omitted,
        }
    }
}

impl Outcomes {
    /// Each outcome and its images in a line: `failed 1, started 14`; empty when there are none.
    pub(super) fn describe(&self) -> String {
        let parts: Vec<String> = self
            .iter()
            .map(|(kind, n)| format!("{} {}", kind.label(), thousands(n)))
            .collect();
        parts.join(", ")
    }
}

/// The subject of a BASIC registry's run or an organisation's: `accounts` after `ECR rescan`
/// (`, 3 accounts`), or nothing for one registry.
pub(super) fn rescan_subject(accounts: &str, dry_run: bool, complete: bool, outcomes: &Outcomes) -> String {
    if dry_run {
        return format!(
            "[Lookout] ECR rescan dry run{accounts}: {} would be scanned",
            count(outcomes.get(OutcomeKind::WouldScan), "image", "images")
        );
    }
    let partial = if complete { "" } else { " (partial)" };
    format!(
        "[Lookout] ECR rescan{accounts}: {} started, {} already scanned, {} failed{partial}",
        thousands(outcomes.get(OutcomeKind::Started)),
        thousands(outcomes.get(OutcomeKind::AlreadyScanned)),
        thousands(outcomes.get(OutcomeKind::Failed)),
    )
}

/// Inspector's findings (`CRITICAL 1, HIGH 2 findings`, or `no findings`) and coverage gaps
/// (`2 coverage gaps`) in a few words; `None` for a part that was not read.
pub(super) fn inspector_words(report: &EnhancedReport) -> (Option<String>, Option<String>) {
    let findings = report.findings.available().map(|f| {
        // `describe` says "no findings" by itself.
        if f.counts.total_at_or_above(VulnSeverity::Untriaged) == 0 {
            f.counts.describe()
        } else {
            format!("{} findings", f.counts.describe())
        }
    });
    let gaps = report
        .coverage
        .available()
        .map(|c| count(c.gaps as u64, "coverage gap", "coverage gaps"));
    (findings, gaps)
}

/// `15 images in 3 repositories`.
pub(super) fn images_in_repositories(images: usize, repositories: usize) -> String {
    format!(
        "{} in {}",
        count(images as u64, "image", "images"),
        count(repositories as u64, "repository", "repositories")
    )
}

/// A summary's notification: the text `write_text` writes (every line with untrusted text
/// through the `cut` it is given), the chat message made of it, and the structured body, built
/// only when `detail` asks for it.
pub(super) fn notification<S: Serialize>(
    detail: Detail,
    identity: &str,
    subject: String,
    keywords: [&str; 2],
    write_text: impl FnOnce(&mut String, &dyn Fn(&str) -> String),
    structured: impl FnOnce() -> S,
    attributes: Vec<Attribute>,
) -> Notification {
    let cut = |s: &str| truncate_utf8(&inline(s), detail.item_bytes).to_string();
    let mut text = String::new();
    write_text(&mut text, &cut);
    let structured = if detail.bodies.structured {
        serde_json::to_value(structured()).unwrap_or(Value::Null)
    } else {
        Value::Null
    };
    let chat = if detail.bodies.chat {
        ChatMessage {
            title: subject.clone(),
            description: chat_code_block(truncate_utf8(&text, 2_000)),
            next_steps: Vec::new(),
            keywords: keywords.map(String::from).to_vec(),
            event_type: "LookoutEcrRescan".to_string(),
            related_resources: Vec::new(),
        }
    } else {
        ChatMessage::default()
    };
    Notification {
        subject,
        chat,
        text,
        structured,
        attributes,
        group: "ecr-rescan".to_string(),
        identity: identity.to_string(),
    }
}

/// The attributes of every summary, `scanType` when there is one; an organisation's adds its
/// accounts'.
pub(super) fn attributes(
    scan_type: Option<&str>,
    complete: bool,
    outcomes: &Outcomes,
    critical_findings: u64,
) -> Vec<Attribute> {
    let mut attributes = vec![Attribute::string("source", SOURCE)];
    if let Some(scan_type) = scan_type {
        attributes.push(Attribute::string("scanType", scan_type));
    }
    attributes.extend([
        Attribute::string("complete", if complete { "true" } else { "false" }),
        Attribute::number("scansStarted", outcomes.get(OutcomeKind::Started)),
        Attribute::number("failures", outcomes.get(OutcomeKind::Failed)),
        Attribute::number("criticalFindings", critical_findings),
    ]);
    attributes
}

/// The text body's heading: the subject, the region, `about` (the registry's scanning, or the
/// accounts), whether the run is complete and its notes, then its `scope`.
pub(super) fn heading(
    t: &mut String,
    subject: &str,
    region: &Region,
    about: &str,
    complete: bool,
    notes: &[String],
    scope: &str,
) {
    let _ = writeln!(t, "{subject}\n");
    let _ = writeln!(t, "Region:        {region}");
    let _ = writeln!(t, "{about}");
    let _ = writeln!(
        t,
        "Run:           {}",
        if complete { "complete" } else { "PARTIAL" }
    );
    for note in notes {
        let _ = writeln!(t, "               {note}");
    }
    let _ = writeln!(t, "Scope:         {scope}\n");
}

/// The outcome counts: started (or would be scanned), already scanned, failed, deferred,
/// skipped and each skip reason.
pub(super) fn outcome_table(t: &mut String, dry_run: bool, outcomes: &Outcomes) {
    let rows: [(&str, u64); 5] = [
        if dry_run {
            ("would be scanned", outcomes.get(OutcomeKind::WouldScan))
        } else {
            ("scans started", outcomes.get(OutcomeKind::Started))
        },
        (
            "already scanned (24 h quota)",
            outcomes.get(OutcomeKind::AlreadyScanned),
        ),
        ("failed", outcomes.get(OutcomeKind::Failed)),
        ("deferred to the next run", outcomes.deferred()),
        ("skipped", outcomes.skipped()),
    ];
    for (label, n) in rows {
        let _ = writeln!(t, "  {label:<30} {:>8}", thousands(n));
    }
    for (kind, n) in outcomes
        .iter()
        .filter(|(k, _)| matches!(k, OutcomeKind::Skipped(_)))
    {
        let _ = writeln!(t, "    {:<28} {:>8}", kind.label(), thousands(n));
    }
}

/// The most vulnerable images, at most `items`, each after its account (in an organisation's
/// summary) and with its console link.
pub(super) fn most_vulnerable<'i>(
    t: &mut String,
    images: impl Iterator<Item = (Option<&'i AccountId>, &'i TopImage)>,
    items: usize,
    cut: &dyn Fn(&str) -> String,
) {
    let mut images = images.peekable();
    if images.peek().is_none() {
        return;
    }
    let _ = writeln!(t, "\nMost vulnerable images (by their last completed scan):");
    for (account, top) in images.take(items) {
        let account = account.map_or(String::new(), |a| format!("{a} "));
        let _ = writeln!(
            t,
            "{}",
            cut(&format!(
                "  {account}{}: {}",
                top.image.name(),
                top.counts.describe()
            ))
        );
        // Built from the encoded repository and digest (`console`).
        if let Some(link) = &top.link {
            let _ = writeln!(t, "    {link}");
        }
    }
}

pub(super) fn more(t: &mut String, total: usize, shown: usize, what: &str) {
    if total > shown {
        let _ = writeln!(
            t,
            "  ... and {} more {what} (see the function's JSON output)",
            thousands((total - shown) as u64)
        );
    }
}
