//! The notification rendered from an organisation's summary: the subject, the text (and chat)
//! body, the structured JSON body and the message attributes. As for one registry, every line
//! that carries untrusted text (repository names, tags, AWS error details, notes quoting them)
//! goes through `cut`, and each list is cut to what fits.

use super::{AccountReport, AccountStatus, OrgSummary};
use crate::model::ScanType;
use crate::scan::OutcomeKind;
use crate::summary::Outcomes;
use crate::summary::render::{SOURCE, Structured, attributes, heading, images_in_repositories};
use crate::summary::render::{
    inspector_words, more, most_vulnerable, notification, outcome_table, rescan_subject,
};
use lookout_shared::ids::Region;
use lookout_shared::notification::{Attribute, Detail, Notification};
use lookout_shared::text::{count, thousands};
use serde::Serialize;
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
        let accounts = format!(", {}{failed}", count(self.account_count(), "account", "accounts"));
        rescan_subject(&accounts, self.dry_run, self.complete, &self.outcomes)
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
        let mut attributes = attributes(
            self.scan_type(),
            self.complete,
            &self.outcomes,
            self.critical_findings,
        );
        attributes.extend([
            Attribute::number("accounts", self.account_count()),
            Attribute::number("accountsFailed", self.failed_accounts()),
            Attribute::number("accountsNotReached", self.status(AccountStatus::NotReached)),
        ]);
        notification(
            detail,
            identity,
            self.subject(),
            ["ECR", "organisation"],
            |t, cut| self.text(t, detail, cut),
            || OrgStructured::new(self, detail.items),
            attributes,
        )
    }

    fn text(&self, t: &mut String, detail: Detail, cut: &dyn Fn(&str) -> String) {
        let statuses: Vec<String> = self
            .accounts
            .iter()
            .map(|(status, n)| format!("{} {}", thousands(*n), status.label()))
            .collect();
        heading(
            t,
            &self.subject(),
            &self.region,
            &format!(
                "Accounts:      {}: {}",
                thousands(self.account_count()),
                statuses.join(", ")
            ),
            self.complete,
            &self.notes,
            &format!(
                "{} (the accounts reached)",
                images_in_repositories(self.images, self.repositories)
            ),
        );
        outcome_table(t, self.dry_run, &self.outcomes);

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
                usize::try_from(self.outcomes.get(OutcomeKind::Failed)).unwrap_or(usize::MAX),
                detail.items.min(failures.len()),
                "failures",
            );
        }
        let top_images = self.top_images.iter().map(|top| (Some(&top.account), &top.image));
        most_vulnerable(t, top_images, detail.items, cut);
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
    let scope = images_in_repositories(r.images, r.repositories);
    let partial = if r.complete { "" } else { " (partial)" };
    let what = match (r.scan_type, &r.enhanced) {
        (ScanType::Enhanced, Some(report)) => {
            let (findings, gaps) = inspector_words(report);
            let mut parts: Vec<String> = findings.into_iter().chain(gaps).collect();
            let unavailable = report.unavailable();
            if !unavailable.is_empty() {
                parts.push(format!("unavailable: {}", unavailable.join(", ")));
            }
            parts.join(", ")
        }
        _ => {
            let outcomes = r.outcomes.describe();
            if outcomes.is_empty() {
                "no images".to_string()
            } else {
                outcomes
            }
        }
    };
    format!(
        "  {}: {}, {scope}; {what}{partial}",
        report.account,
        r.scan_type.as_str()
    )
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
    outcomes: &'a Outcomes,
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
