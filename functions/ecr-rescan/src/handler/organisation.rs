//! One run over `ACCOUNTS`: the accounts in rotation order ([`crate::rotation`]), a few at a
//! time, each registry read through its own clients and paced by its own rate (the function's
//! own account through its own clients, the others through the member reader role), then one
//! summary for the organisation. A member that cannot be reached is named in the summary and
//! makes the run an error after it is published; the other accounts' results are all there.

use super::{Plan, Rescan, RescanError, run_failure};
use crate::config::Organisation;
use crate::ecr::Registry;
use crate::input::RescanInput;
use crate::inspector::Inspector;
use crate::members::Members;
use crate::rotation::{self, Rotation};
use crate::summary::{AccountReport, AccountRun, AccountStatus, OrgRun, OrgSummary, Summary};
use futures::StreamExt;
use lookout_shared::envelope::Incoming;
use lookout_shared::ids::AccountId;
use lookout_shared::invocation::Invocation;
use lookout_shared::member::{MemberError, MemberErrorKind};
use lookout_shared::metrics::{Metric, Metrics};
use lookout_shared::publish::Publisher;
use lookout_shared::state::{Notes, StateError, StateStore, report_problem};
use std::time::Duration;
use tokio::time::Instant;

/// Accounts rescanned at once. Each has its own rate and `SCAN_CONCURRENCY` calls in flight
/// (ECR's limits are per account); a few at once keep one slow registry from holding the
/// others back, and bound what is held in memory to a few registries' listings.
const ACCOUNTS_AT_ONCE: usize = 4;
/// Each AssumeRole at most (less when the stop is nearer): one slow STS answer costs one
/// account, not the run.
const ASSUME_TIMEOUT: Duration = Duration::from_secs(10);
/// Reading or writing the rotation note at most.
const NOTE_BUDGET: Duration = Duration::from_secs(2);

const ACCOUNTS_UNREACHABLE: Metric = Metric::count("AccountsUnreachable");
const ACCOUNTS_NOT_REACHED: Metric = Metric::count("AccountsNotReached");
/// The outbox's metric for the same alarm: a state table that fails is heard of.
const STATE_STORE_PROBLEMS: Metric = Metric::count("StateStoreProblems");

impl<R, I, P, S, M> Rescan<R, I, P, S, M>
where
    R: Registry,
    I: Inspector,
    P: Publisher,
    S: StateStore + Notes,
    M: Members,
{
    pub(super) async fn organisation(
        &self,
        organisation: &Organisation,
        plan: &Plan,
        event: &Incoming<RescanInput>,
        ctx: &mut Invocation,
    ) -> Result<Summary, RescanError> {
        let scheduled_ms = event
            .event()
            .ok()
            .and_then(RescanInput::scheduled_ms)
            .unwrap_or_else(lookout_shared::time::now_epoch_ms);
        let order = self.order(organisation, plan, scheduled_ms, ctx).await;
        let mut runs: Vec<(usize, AccountReport)> = futures::stream::iter(order.into_iter().enumerate())
            .map(|(i, account)| async move {
                let run = self.account(organisation, &account, plan).await;
                (i, AccountReport::new(account, run))
            })
            .buffer_unordered(ACCOUNTS_AT_ONCE)
            .collect()
            .await;
        runs.sort_by_key(|(i, _)| *i);
        let accounts: Vec<AccountReport> = runs.into_iter().map(|(_, report)| report).collect();
        let rotation = Rotation::after_run(accounts.iter().map(|r| (&r.account, r.reached())));
        let summary = OrgSummary::new(OrgRun {
            dry_run: plan.dry_run,
            region: self.config.region.clone(),
            role: organisation.member.role_name.clone(),
            deadline_margin: self.config.deadline_margin,
            accounts,
        });
        record_metrics(&summary, &mut ctx.metrics);
        let failure = failure(&summary);
        let summary = Summary::Organisation(summary);
        // The note goes with the summary, inside the margin: a retry after a failed publish
        // starts with the same accounts.
        let note_timeout = NOTE_BUDGET.min(ctx.deadline.remaining() / 4);
        let (remembered, delivered) = futures::join!(
            self.remember(&rotation, plan.dry_run, note_timeout),
            self.deliver_summary(&summary, event, ctx)
        );
        if let Err(problem) = remembered {
            state_problem(&problem, &mut ctx.metrics);
        }
        delivered?;
        match failure {
            None => Ok(summary),
            Some(e) => Err(e),
        }
    }

    /// `ACCOUNTS` in the order this run takes them: the note's (with the state table), else
    /// rotated by the hour the run was scheduled for.
    async fn order(
        &self,
        organisation: &Organisation,
        plan: &Plan,
        scheduled_ms: i64,
        ctx: &mut Invocation,
    ) -> Vec<AccountId> {
        let accounts = &organisation.accounts;
        let Some(store) = self.outbox.store() else {
            return rotation::by_hour(accounts, scheduled_ms);
        };
        let timeout = NOTE_BUDGET.min(plan.stop_at.saturating_duration_since(Instant::now()));
        match store
            .recall::<Rotation>(&rotation::key(&self.config.region), timeout)
            .await
        {
            Ok(Some(recalled)) => rotation::first_then_rest(accounts, &recalled.note.first),
            Ok(None) => accounts.clone(),
            // Fail open: a table that cannot be read still rotates.
            Err(problem) => {
                state_problem(&problem, &mut ctx.metrics);
                rotation::by_hour(accounts, scheduled_ms)
            }
        }
    }

    /// What the next run starts with, in the state table (a dry run changes nothing).
    async fn remember(
        &self,
        rotation: &Rotation,
        dry_run: bool,
        timeout: Duration,
    ) -> Result<(), StateError> {
        match self.outbox.store() {
            Some(store) if !dry_run => {
                store
                    .remember(
                        &rotation::key(&self.config.region),
                        rotation,
                        rotation::KEEP,
                        timeout,
                    )
                    .await
            }
            _ => Ok(()),
        }
    }

    /// One account's turn: not reached when the stop has come; else its registry, through its
    /// own clients (the function's account) or its reader role.
    async fn account(&self, organisation: &Organisation, account: &AccountId, plan: &Plan) -> AccountRun {
        let now = Instant::now();
        if now >= plan.stop_at {
            return AccountRun::NotReached;
        }
        if *account == organisation.own {
            return self.read(&self.registry, &self.inspector, plan).await;
        }
        let Some(members) = &self.members else {
            return AccountRun::Unreachable(MemberError {
                role: organisation.member.role_name.clone(),
                account: account.as_str().to_owned(),
                kind: MemberErrorKind::Unavailable,
                detail: "no member access was configured".to_owned(),
            });
        };
        let timeout = plan.stop_at.saturating_duration_since(now).min(ASSUME_TIMEOUT);
        match tokio::time::timeout_at(plan.stop_at, members.reach(account, timeout)).await {
            Ok(Ok((registry, inspector))) => self.read(&registry, &inspector, plan).await,
            // The stop came while STS was asked: the deadline's doing, not the member's.
            Ok(Err(e)) if e.kind == MemberErrorKind::Timeout && Instant::now() >= plan.stop_at => {
                AccountRun::NotReached
            }
            Ok(Err(e)) => AccountRun::Unreachable(e),
            Err(_) => AccountRun::NotReached,
        }
    }

    async fn read<RR: Registry, II: Inspector>(
        &self,
        registry: &RR,
        inspector: &II,
        plan: &Plan,
    ) -> AccountRun {
        match self.registry_summary(registry, inspector, plan).await {
            Ok(summary) => AccountRun::Reached(Box::new(summary)),
            Err(RescanError::Deadline) => AccountRun::NotReached,
            Err(e) => AccountRun::Unreadable(e.to_string()),
        }
    }
}

fn state_problem(problem: &StateError, metrics: &mut Metrics) {
    report_problem(problem);
    metrics.add(STATE_STORE_PROBLEMS, 1);
}

/// Why the organisation's run is an error after its summary, if it is: members not reached
/// through their role, then registries not read, then as for one registry, over every account
/// ([`run_failure`]).
fn failure(summary: &OrgSummary) -> Option<RescanError> {
    let mut unreachable = summary.problems(AccountStatus::Unreachable);
    if let Some(first) = unreachable.next() {
        return Some(RescanError::MembersUnreachable {
            first: first.to_owned(),
            more: u64::try_from(unreachable.count()).unwrap_or(u64::MAX),
        });
    }
    let mut unreadable = summary
        .per_account
        .iter()
        .filter(|r| r.status == AccountStatus::Unreadable);
    if let Some(first) = unreadable.next() {
        return Some(RescanError::RegistriesUnreadable {
            first: format!(
                "{}: {}",
                first.account,
                first.problem.as_deref().unwrap_or_default()
            ),
            more: u64::try_from(unreadable.count()).unwrap_or(u64::MAX),
        });
    }
    run_failure(
        &summary.outcomes,
        summary.repositories_not_listed,
        summary.reports(),
    )
}

fn record_metrics(summary: &OrgSummary, metrics: &mut Metrics) {
    super::record_metrics(summary.images, &summary.outcomes, summary.reports(), metrics);
    metrics.add(ACCOUNTS_UNREACHABLE, summary.status(AccountStatus::Unreachable));
    metrics.add(ACCOUNTS_NOT_REACHED, summary.status(AccountStatus::NotReached));
}
