//! The notification rendered from an organisation's summary: the subject, the text (and chat)
//! body, the structured JSON body and the message attributes. As for one registry, every line
//! that carries untrusted text (repository names, tags, AWS error details, notes quoting them)
//! goes through `cut`, and each list is cut to what fits.

use super::{AccountReport, AccountStatus, OrgSummary};
use crate::model::ScanType;
use crate::scan::OutcomeKind;
use crate::summary::RunSummary;
use crate::summary::render::{SOURCE, Structured, more, outcome_table};
use lookout_shared::findings::VulnSeverity;
use lookout_shared::ids::Region;
use lookout_shared::notification::{Attribute, ChatMessage, Detail, Notification, chat_code_block};
use lookout_shared::text::{count, inline, thousands, truncate_utf8};
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt::Write;

impl OrgSummary {
    /// Accounts the run could not rescan because of a failure (not the deadline).
    fn failed_accounts(&self) -> u64 {
        self.status(AccountStatus::Unreachable)
            .saturating_add(self.status(AccountStatus::Unreadable))
    }

    fn account_count(&self) -> u64 {
        self.accounts.values().fold(0u64, |sum, n| sum.saturating_add(*n))
    }

    pub(crate) fn subject(&self) -> String {
        let failed = match self.failed_accounts() {
            0 => String::new(),
            n => format!(" ({} failed)", thousands(n)),
        };
        let accounts = format!("{}{failed}", count(self.account_count(), "account", "accounts"));
        if self.dry_run {
            return format!(
                "[Lookout] ECR rescan dry run, {accounts}: {} would be scanned",
                count(self.outcome(OutcomeKind::WouldScan), "image", "images")
            );
        }
        let partial = if self.complete { "" } else { " (partial)" };
        format!(
            "[Lookout] ECR rescan, {accounts}: {} started, {} already scanned, {} failed{partial}",
            thousands(self.outcome(OutcomeKind::Started)),
            thousands(self.outcome(OutcomeKind::AlreadyScanned)),
            thousands(self.outcome(OutcomeKind::Failed)),
        )
    }

    /// The scan type every account reached shares, `MIXED` when they differ; `None` when no
    /// account was reached.
    fn scan_type(&self) -> Option<&'static str> {
        let mut types = self.scan_types.keys();
        match (types.next(), types.next()) {
            (Some(only), None) => Some(only.as_str()),
            (Some(_), Some(_)) => Some("MIXED"),
            (None, _) => None,
        }
    }

    /// Renders at most `detail.items` accounts, failures and images, each line cut to
    /// `detail.item_bytes` after the shared one-line encoding.
    pub(crate) fn render(&self, detail: Detail, identity: &str) -> Notification {
        let cut = |s: &str| truncate_utf8(&inline(s), detail.item_bytes).to_string();
        let mut text = String::new();
        self.text(&mut text, detail, &cut);
        let structured = if detail.bodies.structured {
            serde_json::to_value(OrgStructured::new(self, detail.items)).unwrap_or(Value::Null)
        } else {
            Value::Null
        };
        let mut attributes = vec![Attribute::string("source", SOURCE)];
        if let Some(scan_type) = self.scan_type() {
            attributes.push(Attribute::string("scanType", scan_type));
        }
        attributes.extend([
            Attribute::string("complete", if self.complete { "true" } else { "false" }),
            Attribute::number("scansStarted", self.outcome(OutcomeKind::Started)),
            Attribute::number("failures", self.outcome(OutcomeKind::Failed)),
            Attribute::number("criticalFindings", self.critical_findings),
            Attribute::number("accounts", self.account_count()),
            Attribute::number("accountsFailed", self.failed_accounts()),
            Attribute::number("accountsNotReached", self.status(AccountStatus::NotReached)),
        ]);
        Notification {
            subject: self.subject(),
            chat: if detail.bodies.chat {
                ChatMessage {
                    title: self.subject(),
                    description: chat_code_block(truncate_utf8(&text, 2_000)),
                    next_steps: Vec::new(),
                    keywords: vec!["ECR".to_string(), "organisation".to_string()],
                    event_type: "LookoutEcrRescan".to_string(),
                    related_resources: Vec::new(),
                }
            } else {
                ChatMessage::default()
            },
            text,
            structured,
            attributes,
            group: "ecr-rescan".to_string(),
            identity: identity.to_string(),
        }
    }

    fn text(&self, t: &mut String, detail: Detail, cut: &dyn Fn(&str) -> String) {
        let _ = writeln!(t, "{}\n", self.subject());
        let _ = writeln!(t, "Region:        {}", self.region);
        let statuses: Vec<String> = self
            .accounts
            .iter()
            .map(|(status, n)| format!("{} {}", thousands(*n), status.label()))
            .collect();
        let _ = writeln!(
            t,
            "Accounts:      {}: {}",
            thousands(self.account_count()),
            statuses.join(", ")
        );
        let _ = writeln!(
            t,
            "Run:           {}",
            if self.complete { "complete" } else { "PARTIAL" }
        );
        for note in &self.notes {
            let _ = writeln!(t, "               {note}");
        }
        let _ = writeln!(
            t,
            "Scope:         {} in {} (the accounts reached)\n",
            count(self.images as u64, "image", "images"),
            count(self.repositories as u64, "repository", "repositories")
        );
        outcome_table(t, self.dry_run, &self.outcomes, self.deferred(), self.skipped());

        let _ = writeln!(t, "\nPer account:");
        for report in self.per_account.iter().take(detail.items) {
            let _ = writeln!(t, "{}", cut(&account_line(report)));
            for note in report.registry.iter().flat_map(|r| &r.notes) {
                let _ = writeln!(t, "{}", cut(&format!("    {note}")));
            }
        }
        more(t, self.per_account.len(), detail.items, "accounts");

        let failures: Vec<String> = self
            .registries()
            .flat_map(|(account, r)| {
                r.failures
                    .iter()
                    .map(move |f| format!("  {account} {}: {}", f.name(), f.error.as_deref().unwrap_or("")))
            })
            .collect();
        if !failures.is_empty() {
            let _ = writeln!(t, "\nFailures:");
            for line in failures.iter().take(detail.items) {
                let _ = writeln!(t, "{}", cut(line));
            }
            more(
                t,
                usize::try_from(self.outcome(OutcomeKind::Failed)).unwrap_or(usize::MAX),
                detail.items.min(failures.len()),
                "failures",
            );
        }
        if !self.top_images.is_empty() {
            let _ = writeln!(t, "\nMost vulnerable images (by their last completed scan):");
            for top in self.top_images.iter().take(detail.items) {
                let _ = writeln!(
                    t,
                    "{}",
                    cut(&format!(
                        "  {} {}: {}",
                        top.account,
                        top.image.image.name(),
                        top.image.counts.describe()
                    ))
                );
                // Built from the encoded repository and digest (`console`).
                if let Some(link) = &top.image.link {
                    let _ = writeln!(t, "    {link}");
                }
            }
        }
    }
}

/// One account in a line: what was done there, or why nothing was.
fn account_line(report: &AccountReport) -> String {
    let Some(r) = &report.registry else {
        return match &report.problem {
            Some(problem) if report.status != AccountStatus::NotReached => {
                format!("  {}: {}: {problem}", report.account, report.status.label())
            }
            _ => format!("  {}: {}", report.account, report.status.label()),
        };
    };
    let scope = format!(
        "{} in {}",
        count(r.images as u64, "image", "images"),
        count(r.repositories as u64, "repository", "repositories")
    );
    let partial = if r.complete { "" } else { " (partial)" };
    let what = match (r.scan_type, &r.enhanced) {
        (ScanType::Enhanced, Some(report)) => {
            let mut parts = Vec::new();
            if let Some(f) = report.findings.available() {
                if f.counts.total_at_or_above(VulnSeverity::Untriaged) == 0 {
                    parts.push(f.counts.describe());
                } else {
                    parts.push(format!("{} findings", f.counts.describe()));
                }
            }
            if let Some(c) = report.coverage.available() {
                parts.push(count(c.gaps as u64, "coverage gap", "coverage gaps"));
            }
            let unavailable = report.unavailable();
            if !unavailable.is_empty() {
                parts.push(format!("unavailable: {}", unavailable.join(", ")));
            }
            parts.join(", ")
        }
        _ => outcomes_line(r),
    };
    format!(
        "  {}: {}, {scope}; {what}{partial}",
        report.account,
        r.scan_type.as_str()
    )
}

fn outcomes_line(r: &RunSummary) -> String {
    let parts: Vec<String> = r
        .outcomes
        .iter()
        .map(|(k, v)| format!("{} {}", k.label(), thousands(*v)))
        .collect();
    if parts.is_empty() {
        "no images".to_string()
    } else {
        parts.join(", ")
    }
}

/// The organisation's summary as subscribers get it: every count, at most `items` accounts
/// (failures first), each with its lists cut to `items`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct OrgStructured<'a> {
    source: &'static str,
    dry_run: bool,
    complete: bool,
    notes: &'a [String],
    region: &'a Region,
    accounts: &'a BTreeMap<AccountStatus, u64>,
    scan_types: &'a BTreeMap<ScanType, u64>,
    repositories: usize,
    images: usize,
    outcomes: &'a BTreeMap<OutcomeKind, u64>,
    per_account: Vec<AccountView<'a>>,
    top_images: &'a [super::AccountImage],
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AccountView<'a> {
    account: &'a str,
    status: AccountStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    problem: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    registry: Option<Structured<'a>>,
}

impl<'a> OrgStructured<'a> {
    fn new(s: &'a OrgSummary, items: usize) -> Self {
        Self {
            source: SOURCE,
            dry_run: s.dry_run,
            complete: s.complete,
            notes: &s.notes,
            region: &s.region,
            accounts: &s.accounts,
            scan_types: &s.scan_types,
            repositories: s.repositories,
            images: s.images,
            outcomes: &s.outcomes,
            per_account: s
                .per_account
                .iter()
                .take(items)
                .map(|r| AccountView {
                    account: r.account.as_str(),
                    status: r.status,
                    problem: r.problem.as_deref(),
                    registry: r.registry.as_ref().map(|r| Structured::nested(r, items)),
                })
                .collect(),
            top_images: &s.top_images[..s.top_images.len().min(items)],
        }
    }
}
