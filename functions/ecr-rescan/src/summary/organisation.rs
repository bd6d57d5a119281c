//! The organisation's summary (`ACCOUNTS`): per account, where the run got to and its registry's
//! own summary; over all of them, the counts. Bounded whatever the organisation's size: each
//! account's lists keep [`PER_ACCOUNT_LISTED`] entries (the first [`ACCOUNTS_DETAILED`] accounts
//! in the summary's order) or none (the rest), and every count stays complete.

mod render;

use super::{Outcomes, RunSummary, TOP_IMAGES, TopImage};
use crate::enhanced::EnhancedReport;
use crate::model::ScanType;
use crate::rotation::Reached;
use crate::scan::OutcomeKind;
use lookout_shared::ids::{AccountId, Region};
use lookout_shared::member::MemberError;
use lookout_shared::text::count;
use serde::Serialize;
use std::cmp::Reverse;
use std::collections::BTreeMap;
use std::time::Duration;

/// Entries kept in each list of an account's summary.
const PER_ACCOUNT_LISTED: usize = 20;
/// Accounts whose summaries keep their lists; the others keep their counts.
const ACCOUNTS_DETAILED: usize = 50;

/// Where the run got to in one account. The order is the summary's: failures first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) enum AccountStatus {
    /// Its reader role could not be assumed: a failure of the run.
    Unreachable,
    /// Reached, but its registry's scanning configuration or repositories could not be read:
    /// a failure of the run.
    Unreadable,
    /// The deadline came before its turn, or before its registry could be read.
    NotReached,
    /// Its registry was read; its summary says what was done there.
    Reached,
}

impl AccountStatus {
    /// The words in the notification.
    pub(crate) fn label(self) -> &'static str {
        match self {
            Self::Unreachable => "unreachable",
            Self::Unreadable => "registry unreadable",
            Self::NotReached => NOT_REACHED,
            Self::Reached => "reached",
        }
    }
}

const NOT_REACHED: &str = "not reached (deadline)";

/// What the run did in one account.
#[derive(Debug)]
pub(crate) enum AccountRun {
    Reached(Box<RunSummary>),
    Unreachable(MemberError),
    /// The registry could not be read: the error's words.
    Unreadable(String),
    NotReached,
}

/// One account in the organisation's summary.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct AccountReport {
    pub(crate) account: AccountId,
    pub(crate) status: AccountStatus,
    /// Why it is not `reached`: the role's failure, the registry's error, or the deadline.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) problem: Option<String>,
    /// Its registry's summary, lists cut ([`RunSummary::cut`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) registry: Option<RunSummary>,
}

impl AccountReport {
    pub(crate) fn new(account: AccountId, run: AccountRun) -> Self {
        let (status, problem, registry) = match run {
            AccountRun::Reached(summary) => (AccountStatus::Reached, None, Some(*summary)),
            AccountRun::Unreachable(e) => (AccountStatus::Unreachable, Some(e.to_string()), None),
            AccountRun::Unreadable(e) => (AccountStatus::Unreadable, Some(e), None),
            AccountRun::NotReached => (AccountStatus::NotReached, Some(NOT_REACHED.to_string()), None),
        };
        Self {
            account,
            status,
            problem,
            registry,
        }
    }

    /// For the rotation: whether the deadline kept this account from its turn or cut it.
    pub(crate) fn reached(&self) -> Reached {
        match (&self.status, &self.registry) {
            (AccountStatus::NotReached, _) => Reached::No,
            (_, Some(r)) if r.cut_by_deadline => Reached::CutShort,
            _ => Reached::Yes,
        }
    }

    fn started(&self) -> u64 {
        self.registry
            .as_ref()
            .map_or(0, |r| r.outcomes.get(OutcomeKind::Started))
    }

    fn complete(&self) -> bool {
        self.registry.as_ref().is_some_and(|r| r.complete)
    }
}

/// One of the organisation's most vulnerable images, with its account.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct AccountImage {
    pub(crate) account: AccountId,
    #[serde(flatten)]
    pub(crate) image: TopImage,
}

/// The invocation's result with `ACCOUNTS`: returned to Lambda, logged in part, and published.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OrgSummary {
    pub(crate) dry_run: bool,
    /// False when an account was not reached, failed, or its own run was partial.
    pub(crate) complete: bool,
    pub(crate) notes: Vec<String>,
    pub(crate) region: Region,
    /// Status → accounts: every account of `ACCOUNTS`, once.
    pub(crate) accounts: BTreeMap<AccountStatus, u64>,
    /// Scan type → accounts reached.
    pub(crate) scan_types: BTreeMap<ScanType, u64>,
    /// Over the accounts reached.
    pub(crate) repositories: usize,
    pub(crate) images: usize,
    pub(crate) outcomes: Outcomes,
    /// Every account: failures, then those not reached, then partial runs, then by scans
    /// started.
    pub(crate) per_account: Vec<AccountReport>,
    /// Over every account reached, worst first.
    pub(crate) top_images: Vec<AccountImage>,
    /// CRITICAL findings over every account reached (basic scans and Inspector).
    #[serde(skip)]
    pub(crate) critical_findings: u64,
    /// Repositories whose listing failed, over every account reached.
    #[serde(skip)]
    pub(crate) repositories_not_listed: u64,
}

/// What the organisation's notes say besides the accounts themselves.
#[derive(Debug)]
pub(crate) struct OrgRun {
    pub(crate) dry_run: bool,
    pub(crate) region: Region,
    /// The reader role's name.
    pub(crate) role: String,
    pub(crate) deadline_margin: Duration,
    /// In the order the run took them.
    pub(crate) accounts: Vec<AccountReport>,
}

impl OrgSummary {
    pub(crate) fn new(run: OrgRun) -> Self {
        let OrgRun {
            dry_run,
            region,
            role,
            deadline_margin,
            accounts: mut per_account,
        } = run;
        let mut summary = Self {
            dry_run,
            complete: true,
            notes: Vec::new(),
            region,
            accounts: BTreeMap::new(),
            scan_types: BTreeMap::new(),
            repositories: 0,
            images: 0,
            outcomes: Outcomes::default(),
            per_account: Vec::new(),
            top_images: Vec::new(),
            critical_findings: 0,
            repositories_not_listed: 0,
        };
        let mut top: Vec<AccountImage> = Vec::new();
        for report in &per_account {
            add(&mut summary.accounts, report.status, 1);
            let Some(registry) = &report.registry else {
                summary.complete = false;
                continue;
            };
            summary.complete &= registry.complete;
            add(&mut summary.scan_types, registry.scan_type, 1);
            summary.repositories = summary.repositories.saturating_add(registry.repositories);
            summary.images = summary.images.saturating_add(registry.images);
            for (kind, n) in registry.outcomes.iter() {
                summary.outcomes.add(kind, n);
            }
            summary.critical_findings = summary
                .critical_findings
                .saturating_add(registry.critical_count());
            summary.repositories_not_listed = summary
                .repositories_not_listed
                .saturating_add(registry.repositories_not_listed);
            top.extend(registry.top_images.iter().map(|image| AccountImage {
                account: report.account.clone(),
                image: image.clone(),
            }));
        }
        top.sort_by(|a, b| {
            b.image
                .counts
                .rank()
                .cmp(&a.image.counts.rank())
                .then_with(|| a.account.as_str().cmp(b.account.as_str()))
                .then_with(|| a.image.image.digest.cmp(&b.image.image.digest))
        });
        top.truncate(TOP_IMAGES);
        summary.top_images = top;
        summary.note(&role, deadline_margin);
        // Stable: accounts of one status keep the run's order (not reached: the next run's).
        per_account.sort_by_key(|r| (r.status, r.complete(), Reverse(r.started())));
        for (i, report) in per_account.iter_mut().enumerate() {
            if let Some(registry) = &mut report.registry {
                registry.cut(if i < ACCOUNTS_DETAILED {
                    PER_ACCOUNT_LISTED
                } else {
                    0
                });
            }
        }
        summary.per_account = per_account;
        summary
    }

    fn note(&mut self, role: &str, deadline_margin: Duration) {
        let not_reached = self.status(AccountStatus::NotReached);
        if not_reached > 0 {
            self.notes.push(format!(
                "Stopped {} s before the Lambda deadline with {} not reached; the next run starts with them.",
                deadline_margin.as_secs(),
                count(not_reached, "account", "accounts")
            ));
        }
        let unreachable = self.status(AccountStatus::Unreachable);
        if unreachable > 0 {
            self.notes.push(format!(
                "{} could not be reached through the {role} role; the run ends in an error after this summary.",
                count(unreachable, "account", "accounts")
            ));
        }
        let unreadable = self.status(AccountStatus::Unreadable);
        if unreadable > 0 {
            self.notes.push(format!(
                "{} could not be read; the run ends in an error after this summary.",
                count(unreadable, "registry", "registries")
            ));
        }
    }

    /// Accounts with `status`.
    pub(crate) fn status(&self, status: AccountStatus) -> u64 {
        self.accounts.get(&status).copied().unwrap_or(0)
    }

    /// The accounts reached, with their registry summaries.
    pub(crate) fn registries(&self) -> impl Iterator<Item = (&AccountId, &RunSummary)> {
        self.per_account
            .iter()
            .filter_map(|r| r.registry.as_ref().map(|s| (&r.account, s)))
    }

    /// Inspector's reports: the ENHANCED registries'.
    pub(crate) fn reports(&self) -> impl Iterator<Item = &EnhancedReport> {
        self.registries().filter_map(|(_, r)| r.enhanced.as_ref())
    }

    /// The accounts with `status`, and their problems.
    pub(crate) fn problems(&self, status: AccountStatus) -> impl Iterator<Item = &str> {
        self.per_account
            .iter()
            .filter(move |r| r.status == status)
            .filter_map(|r| r.problem.as_deref())
    }
}

fn add<K: Ord>(map: &mut BTreeMap<K, u64>, key: K, n: u64) {
    let entry = map.entry(key).or_default();
    *entry = entry.saturating_add(n);
}
