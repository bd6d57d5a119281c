//! One task-alert invocation, as wiring: check the typed events ([`crate::event`]), keep the
//! ones it reads (its own account's, and in organisation mode its members'),
//! [`plan`](crate::plan) the alerts, and deliver each through the shared outbox. Only an alert
//! that will be sent reads the dying container's last log lines (and a stopped sidecar's), in
//! the task's account and region, inside the renderer the outbox calls, within a capped share
//! of the deadline so the publish keeps its own; a member account that cannot be read costs
//! the lines, never the alert. The stop that reaches `CRASH_LOOP_STOPS` inside its window is
//! sent as a crash loop; a crash loop or a failed deployment leaves an open-alert note that
//! the service's next steady state resolves ([`crate::recovery`]).

use crate::alert::{Alert, CrashLoop, ResolvedAlert, SidecarLogs, TaskStopAlert};
use crate::arn::TaskDefinitionArn;
use crate::classify;
use crate::config::TaskAlertConfig;
use crate::event::{self, Batch, EventError};
use crate::logs::{Fetched, LogOutcome, LogSource};
use crate::plan::{PendingLogs, Plan, Planned, plan};
use crate::recovery::{OPEN_ALERT_KEEP, OpenAlert, Recovery};
use crate::render::Naming;
use crate::summary::{AlertSummary, Outcome, Recovered, Summary};
use lookout_shared::config::ConfigError;
use lookout_shared::deadline::Deadline;
use lookout_shared::envelope::Incoming;
use lookout_shared::invocation::{Function, FunctionError, Invocation};
use lookout_shared::member::MemberError;
use lookout_shared::metrics::{Metric, MetricsConfig};
use lookout_shared::notification::{Detail, FitError, SnsMessage};
use lookout_shared::outbox::{Delivered, DeliveryError, Outbox, Suppression};
use lookout_shared::publish::Publisher;
use lookout_shared::redact::Redactor;
use lookout_shared::state::{
    DynamoStore, Fingerprint, IdempotencyKey, NoteKey, Notes, StateError, StateStore,
};
use serde::Serialize;
use std::time::Duration;
use tokio::time::Instant;

/// The longest log lookup. It also gets at most half the time left before the margin, so the
/// publish after it always keeps the other half.
const LOG_LOOKUP_MAX: Duration = Duration::from_secs(5);
/// The longest open-alert note call; each also gets at most half the time left before the
/// margin, so no note holds up a publish.
const NOTE_CALL_MAX: Duration = Duration::from_secs(2);
/// Items (log lines, affected resources) offered to the renderer; the fetch already bounds lines.
const MAX_ITEMS: usize = 1_000;
/// `logs` in the summary of an alert whose lines were not read: suppressed or delivered before.
const NOT_READ: &str = "notRead";
/// `sidecarLogs` in the summary: shown as the second section, or left out for want of room.
const SHOWN: &str = "shown";
const NO_ROOM: &str = "noRoom";

const EVENTS: Metric = Metric::count("TaskAlertEvents");
const STALE_EVENTS: Metric = Metric::count("StaleEvents");
const EXPECTED_STOPS: Metric = Metric::count("ExpectedStops");
const LOG_LINES_SHOWN: Metric = Metric::count("LogLinesShown");
const LOG_LOOKUP_FAILURES: Metric = Metric::count("LogLookupFailures");
const REDACTIONS: Metric = Metric::count("Redactions");
const INVALID_EVENTS: Metric = Metric::count("InvalidEvents");
/// Alerts sent without a member account's detail: its reader role could not be assumed.
/// The outbox's metric: a note call that failed is a state store problem like any other.
const STATE_STORE_PROBLEMS: Metric = Metric::count("StateStoreProblems");

/// Why an invocation failed.
#[derive(Debug, thiserror::Error)]
pub enum TaskAlertError {
    #[error(transparent)]
    Event(#[from] EventError),
    #[error(transparent)]
    Delivery(#[from] DeliveryError),
}

impl FunctionError for TaskAlertError {
    fn kind(&self) -> &'static str {
        match self {
            TaskAlertError::Event(_) => "InvalidEvent",
            TaskAlertError::Delivery(e) => e.kind(),
        }
    }

    /// Delivery failures are counted by the outbox.
    fn metric(&self) -> Option<Metric> {
        match self {
            TaskAlertError::Event(_) => Some(INVALID_EVENTS),
            TaskAlertError::Delivery(_) => None,
        }
    }
}

/// task-alert: the shared skeleton's [`Function`].
#[derive(Debug)]
pub struct TaskAlert<L, P, S = DynamoStore> {
    config: TaskAlertConfig,
    redactor: Redactor,
    /// How alerts name the account (`ACCOUNT_NAMES`, organisation mode).
    naming: Naming,
    logs: L,
    /// With the state store when `STATE_TABLE` is set; without it, crash loops are grouped
    /// within one invocation only, and no open alert is kept for a recovery to resolve.
    outbox: Outbox<P, S>,
}

impl<L: LogSource, P: Publisher, S: StateStore + Notes> Function for TaskAlert<L, P, S> {
    type Event = Incoming<Batch>;
    type Summary = Summary;
    type Error = TaskAlertError;
    const NAME: &'static str = "task-alert";

    fn metrics_config(&self) -> &MetricsConfig {
        &self.config.metrics
    }

    async fn handle(
        &self,
        incoming: Incoming<Batch>,
        ctx: &mut Invocation,
    ) -> Result<Summary, TaskAlertError> {
        let (document, batch) = incoming.into_parts();
        let key = IdempotencyKey::from_event(Self::NAME, &document);
        drop(document);
        let events = event::parse(batch)?;
        ctx.metrics.add_len(EVENTS, events.len());
        let (events, ignored) = event::accepted_events(
            events,
            &self.config.account,
            &self.config.region,
            self.config.members.as_ref(),
        );
        let Plan {
            alerts,
            recoveries,
            mut summary,
        } = plan(events, &self.redactor, self.config.spot_severity);
        for (why, n) in ignored {
            summary.events = summary.events.saturating_add(n);
            let count = summary.ignored.entry(why).or_default();
            *count = count.saturating_add(n);
        }
        ctx.metrics.add_len(
            STALE_EVENTS,
            summary.stale_events.saturating_add(summary.duplicate_events),
        );
        ctx.metrics
            .add_len(EXPECTED_STOPS, summary.expected_stops.values().sum::<usize>());
        for planned in &alerts {
            if let Alert::TaskStop(a) = &planned.alert {
                ctx.metrics.add_len(REDACTIONS, a.redactions);
            }
        }
        for planned in alerts {
            let result = self.deliver(planned, &key, ctx).await?;
            summary.alerts.push(result);
        }
        // After the batch's alerts: a steady state older than an alert they open is refused
        // by its time, not by its place in the batch.
        for recovery in recoveries {
            let (recovered, resolved) = self.resolve(recovery, &key, ctx).await?;
            *summary.recoveries.entry(recovered).or_default() += 1;
            summary.alerts.extend(resolved);
        }
        Ok(summary)
    }

    fn log_line<'s>(&self, summary: &'s Summary) -> impl Serialize + 's {
        summary
    }
}

impl<L: LogSource, P: Publisher> TaskAlert<L, P> {
    /// Without a state store; [`TaskAlert::with_state`] adds one.
    pub fn new(config: TaskAlertConfig, logs: L, publisher: P) -> Result<Self, ConfigError> {
        Ok(Self {
            redactor: config.redact.redactor()?,
            naming: Naming::new(&config),
            outbox: Outbox::new(publisher, config.deadline_margin),
            config,
            logs,
        })
    }
}

/// What a log lookup found, counted once the delivery is over.
#[derive(Debug, Default)]
struct LookedUp {
    /// Lines found, when there were.
    lines_shown: Option<usize>,
    failed: bool,
    redactions: usize,
}

/// The reader of an alert's account and region, once asked for: one AssumeRole (or cache
/// lookup) per alert, shared by the essential flags, its lines and its sidecar's.
type Reached<R> = Option<Result<R, MemberError>>;

/// What the renderer hands back besides the message, for the summary and the note.
#[derive(Debug)]
struct Rendered {
    logs_status: Option<&'static str>,
    suppressed_before: Option<u64>,
    crash_loop: Option<CrashLoop>,
    /// The sidecar's section: shown, left out, or its log status.
    sidecar_logs: Option<&'static str>,
    /// The sidecar's lines, when shown.
    sidecar_lines: usize,
    /// The open alert noted (unconfirmed) before the publish, to confirm after it.
    opened: Option<OpenAlert>,
}

impl<L: LogSource, P: Publisher, S: StateStore + Notes> TaskAlert<L, P, S> {
    /// With the state store (`None` when `STATE_TABLE` is unset).
    pub fn with_state<S2: StateStore + Notes>(self, store: Option<S2>) -> TaskAlert<L, P, S2> {
        let window = self.config.state.suppress_window;
        TaskAlert {
            config: self.config,
            redactor: self.redactor,
            naming: self.naming,
            logs: self.logs,
            outbox: self.outbox.with_state(store, window),
        }
    }

    pub fn publisher(&self) -> &P {
        self.outbox.publisher()
    }

    /// Delivers one alert through the outbox. Its renderer, which runs only for an alert that
    /// will be sent, first reads the log lines the alert needs (`logs`), and notes the open
    /// alert it leaves; the note is confirmed once the outbox says the alert was delivered.
    async fn deliver(
        &self,
        planned: Planned,
        payload_key: &IdempotencyKey,
        ctx: &mut Invocation,
    ) -> Result<AlertSummary, TaskAlertError> {
        let Planned { mut alert, mut logs } = planned;
        let mut reached: Reached<L::Reader> = None;
        if let (Alert::TaskStop(a), Some(pending)) = (&mut alert, &mut logs)
            && !pending.candidates.is_empty()
        {
            let redactions = self.blame_essential(a, pending, ctx.deadline, &mut reached).await;
            ctx.metrics.add_len(REDACTIONS, redactions);
        }
        let mut result = AlertSummary {
            reason: alert.reason(),
            severity: alert.severity().as_str(),
            account: alert.account().map(|a| a.as_str().to_owned()),
            cluster: alert.cluster().map(String::from),
            service: alert.service().map(String::from),
            tasks: 0,
            logs: None,
            outcome: Outcome::Published,
            suppressed_before: None,
            crash_loop: None,
            sidecar_logs: None,
            resolved: matches!(alert, Alert::Resolved(_)),
            subject: None,
            message_id: None,
            published_bytes: None,
        };
        if let Alert::TaskStop(a) = &alert {
            result.tasks = a.tasks.len();
            result.logs = Some(if logs.is_some() { NOT_READ } else { a.logs.status() });
        }
        let key = payload_key.item(&alert.identity());
        let alert_key = key.as_str().to_string();
        let note_key = alert.note_key();
        let fingerprint = alert.loop_parts().map(|parts| {
            let parts: Vec<&str> = parts.iter().map(String::as_str).collect();
            Fingerprint::new(Self::NAME, &parts)
        });
        let rank = alert.severity() as u8;
        // Only a service's stops loop; the outbox sends the one that reaches the threshold.
        let escalate_at = match alert {
            Alert::TaskStop(_) => self.config.crash_loop_stops,
            _ => None,
        };
        // `deliver` holds `ctx`; the lookups' budgets are measured from the same deadline.
        let deadline = ctx.deadline;
        let mut looked_up: Option<LookedUp> = None;
        let found = &mut looked_up;
        let mut problems: Vec<StateError> = Vec::new();
        let problems_met = &mut problems;
        let (alert_key_ref, note_key_ref) = (&alert_key, note_key.as_ref());
        let reached_ref = &mut reached;
        let delivered = Box::pin(self.outbox.deliver_escalating(
            ctx,
            key,
            fingerprint.as_ref().map(|f| (f, rank)).as_slice(),
            escalate_at,
            |facts| async move {
                if let Alert::TaskStop(a) = &mut alert {
                    a.crash_loop = facts.escalated().map(|e| CrashLoop {
                        stops: e.alerts,
                        since_ms: epoch_ms(e.since),
                    });
                }
                let mut logs_status = None;
                if let (Alert::TaskStop(a), Some(pending)) = (&mut alert, &logs) {
                    *found = Some(self.read_logs(a, pending, deadline, reached_ref).await);
                    logs_status = Some(a.logs.status());
                }
                let (message, sidecar_logs, sidecar_lines) = self.fit(&mut alert, &facts)?;
                let opened = alert.opens(alert_key_ref, &message.subject);
                // Noted before the publish, unconfirmed: a retry that finds the alert
                // delivered confirms it even if this attempt ends right after publishing.
                if let (Some(note), Some(at)) = (&opened, note_key_ref)
                    && let Err(e) = self.remember(at, note, deadline).await
                {
                    problems_met.push(e);
                }
                let crash_loop = match &alert {
                    Alert::TaskStop(a) => a.crash_loop,
                    _ => None,
                };
                Ok((
                    message,
                    Rendered {
                        logs_status,
                        suppressed_before: facts.repeats().map(|s| s.count),
                        crash_loop,
                        sidecar_logs,
                        sidecar_lines,
                        opened,
                    },
                ))
            },
        ))
        .await;
        for problem in &problems {
            state_problem(ctx, problem);
        }
        if let Some(Err(e)) = &reached {
            lookout_shared::member::report(ctx, e);
        }
        if let Some(found) = looked_up {
            if let Some(lines) = found.lines_shown {
                ctx.metrics.add_len(LOG_LINES_SHOWN, lines);
            }
            if found.failed {
                ctx.metrics.add(LOG_LOOKUP_FAILURES, 1);
            }
            ctx.metrics.add_len(REDACTIONS, found.redactions);
        }
        match delivered? {
            Delivered::Published {
                message_id,
                subject,
                request_bytes,
                rendered,
            } => {
                ctx.metrics.add_len(LOG_LINES_SHOWN, rendered.sidecar_lines);
                result.logs = rendered.logs_status.or(result.logs);
                result.suppressed_before = rendered.suppressed_before;
                result.crash_loop = rendered.crash_loop;
                result.sidecar_logs = rendered.sidecar_logs;
                result.message_id = Some(message_id);
                result.published_bytes = Some(request_bytes);
                result.subject = Some(subject);
                if let (Some(note), Some(at)) = (rendered.opened, &note_key) {
                    self.confirm(ctx, at, note).await;
                }
            }
            Delivered::AlreadyDelivered { .. } => {
                result.outcome = Outcome::AlreadyDelivered;
                if let Some(at) = &note_key {
                    self.confirm_delivered(ctx, at, &alert_key).await;
                }
            }
            Delivered::Suppressed => result.outcome = Outcome::Suppressed,
        }
        Ok(result)
    }

    /// Fits the alert to SNS's limits. A sidecar's lines go in only when the whole message
    /// fits with them at the blamed container's full detail: they never cost its lines.
    /// Returns the message, the sidecar's status for the summary, and its lines shown.
    fn fit(
        &self,
        alert: &mut Alert,
        facts: &Suppression,
    ) -> Result<(SnsMessage, Option<&'static str>, usize), FitError> {
        let delivery = &self.config.delivery;
        let max = Detail::new(MAX_ITEMS, self.config.log_limits.bytes);
        let sidecar = sidecar_slot(alert).and_then(Option::take);
        let naming = &self.naming;
        let (message, detail) = delivery.fit(max, |d| alert.render(d, facts, naming))?;
        let Some(sidecar) = sidecar else {
            return Ok((message, None, 0));
        };
        let lines = match &sidecar.logs {
            LogOutcome::Lines { lines, .. } => lines.len(),
            other => return Ok((message, Some(other.status()), 0)),
        };
        if (detail.items, detail.item_bytes) != (max.items, max.item_bytes) {
            return Ok((message, Some(NO_ROOM), 0));
        }
        if let Some(slot) = sidecar_slot(alert) {
            *slot = Some(sidecar);
        }
        let with_sidecar = delivery.encode(&alert.render(detail, facts, naming));
        if with_sidecar.request_bytes() <= delivery.max_request_bytes {
            return Ok((with_sidecar, Some(SHOWN), lines));
        }
        if let Some(slot) = sidecar_slot(alert) {
            *slot = None;
        }
        Ok((message, Some(NO_ROOM), 0))
    }

    /// A steady service: settles its open alert for this event and sends one `[RESOLVED]`
    /// message naming it. Nothing without a state table, without an open (delivered) alert,
    /// or when another event settled it; a retry of this event settles it again and the
    /// outbox sends the message once.
    async fn resolve(
        &self,
        recovery: Recovery,
        payload_key: &IdempotencyKey,
        ctx: &mut Invocation,
    ) -> Result<(Recovered, Option<AlertSummary>), TaskAlertError> {
        let Some(store) = self.outbox.store() else {
            return Ok((Recovered::NoStateTable, None));
        };
        let Some(note_key) = recovery.note_key() else {
            return Ok((Recovered::NoOpenAlert, None));
        };
        let open = match store
            .recall::<OpenAlert>(&note_key, self.note_budget(ctx.deadline))
            .await
        {
            Err(e) => {
                state_problem(ctx, &e);
                return Ok((Recovered::StateStoreProblem, None));
            }
            Ok(None) => return Ok((Recovered::NoOpenAlert, None)),
            Ok(Some(recalled)) => recalled.note,
        };
        if !open.confirmed {
            return Ok((Recovered::AlertUnconfirmed, None));
        }
        if recovery.precedes(&open) {
            return Ok((Recovered::OlderThanAlert, None));
        }
        // The resolution's own idempotency key settles it: this event's retries get it back.
        let by = payload_key.item(&recovery.identity());
        let open = match store
            .settle::<OpenAlert>(&note_key, &by, self.note_budget(ctx.deadline))
            .await
        {
            Err(e) => {
                state_problem(ctx, &e);
                return Ok((Recovered::StateStoreProblem, None));
            }
            Ok(None) => return Ok((Recovered::AlreadyResolved, None)),
            Ok(Some(open)) => open,
        };
        let alert = Alert::Resolved(Box::new(ResolvedAlert { recovery, open }));
        let planned = Planned { alert, logs: None };
        let summary = Box::pin(self.deliver(planned, payload_key, ctx)).await?;
        Ok((Recovered::Resolved, Some(summary)))
    }

    /// The time one note call may take: capped, and at most half of what is left.
    fn note_budget(&self, deadline: Deadline) -> Duration {
        (deadline.remaining_before(self.config.deadline_margin) / 2).min(NOTE_CALL_MAX)
    }

    /// Writes a service's open alert (replacing any other, and its settlement).
    async fn remember(&self, at: &NoteKey, note: &OpenAlert, deadline: Deadline) -> Result<(), StateError> {
        match self.outbox.store() {
            Some(store) => {
                store
                    .remember(at, note, OPEN_ALERT_KEEP, self.note_budget(deadline))
                    .await
            }
            None => Ok(()),
        }
    }

    /// The alert was delivered: its note is confirmed, so a recovery resolves it.
    async fn confirm(&self, ctx: &mut Invocation, at: &NoteKey, note: OpenAlert) {
        let note = OpenAlert {
            confirmed: true,
            ..note
        };
        if let Err(e) = self.remember(at, &note, ctx.deadline).await {
            state_problem(ctx, &e);
        }
    }

    /// An earlier attempt delivered the alert: confirms the note it left, if that attempt
    /// ended before confirming it. Any other note (confirmed, another alert's) is left alone.
    async fn confirm_delivered(&self, ctx: &mut Invocation, at: &NoteKey, alert_key: &str) {
        let Some(store) = self.outbox.store() else {
            return;
        };
        match store
            .recall::<OpenAlert>(at, self.note_budget(ctx.deadline))
            .await
        {
            Ok(Some(recalled))
                if !recalled.note.confirmed && !recalled.settled && recalled.note.key == alert_key =>
            {
                self.confirm(ctx, at, recalled.note).await;
            }
            Ok(_) => {}
            Err(e) => state_problem(ctx, &e),
        }
    }

    /// When more than one container stopped the task: blames the first the task definition
    /// marks essential (its exit code, reason and logs), not a sidecar ECS stopped after it,
    /// and keeps the non-essential sidecar for a second section. Asked before delivery, within
    /// the log lookup's budget: the problem it names is what the alert is identified and
    /// suppressed on. Returns the redactions of the new reason.
    async fn blame_essential(
        &self,
        alert: &mut TaskStopAlert,
        pending: &mut PendingLogs,
        deadline: Deadline,
        reached: &mut Reached<L::Reader>,
    ) -> usize {
        let until = Instant::now() + self.lookup_budget(deadline);
        let definition = pending.task_definition();
        let lookup = Box::pin(async {
            let reader = self.reach(reached, definition, until).await.ok()?;
            self.logs.essential_containers(reader, definition).await
        });
        let Ok(Some(essential)) = tokio::time::timeout_at(until, lookup).await else {
            return 0;
        };
        let blamed = classify::blame_essential(&pending.candidates, &essential);
        pending.sidecar = classify::sidecar(&pending.candidates, blamed.unwrap_or(0), &essential).cloned();
        let Some(i) = blamed else {
            return 0;
        };
        let Some(mut container) = pending.blame(i).cloned() else {
            return 0;
        };
        let mut redactions = 0;
        if let Some(reason) = &container.reason {
            let (out, n) = self.redactor.redact(reason);
            redactions = n;
            container.reason = Some(out.into_owned());
        }
        alert.redactions = alert.redactions.saturating_add(redactions);
        alert.problem = classify::exit_problem(&container);
        alert.severity = alert.problem.severity(self.config.spot_severity);
        alert.log_container = Some(container.name.clone());
        alert.container = Some(container);
        redactions
    }

    /// The time one log lookup (a reader, the essential flags, or the lines) may take: at
    /// most [`LOG_LOOKUP_MAX`] and at most half the time left before the margin.
    fn lookup_budget(&self, deadline: Deadline) -> Duration {
        (deadline.remaining_before(self.config.deadline_margin) / 2).min(LOG_LOOKUP_MAX)
    }

    /// The reader of the task definition's account and region, asked for once per alert.
    /// Assuming a member's role may take half of what is left before `until`, so the reads
    /// after it keep the other half and a slow STS is said as such, not as a lookup timeout.
    async fn reach<'r>(
        &self,
        reached: &'r mut Reached<L::Reader>,
        definition: &TaskDefinitionArn,
        until: Instant,
    ) -> Result<&'r L::Reader, &'r MemberError> {
        let found = match reached.take() {
            Some(found) => found,
            None => {
                let timeout = until.saturating_duration_since(Instant::now()) / 2;
                let reader = self.logs.reader(&definition.account, &definition.region, timeout);
                Box::pin(reader).await
            }
        };
        reached.insert(found).as_ref()
    }

    /// Reads the container's last log lines into `alert`, redacted, then the sidecar's when
    /// the container's were found, in the task's account and region. Both lookups share one
    /// budget ([`Self::lookup_budget`]), the member's AssumeRole included, so the publish
    /// keeps the rest, however slow STS, CloudWatch Logs or ECS are.
    async fn read_logs(
        &self,
        alert: &mut TaskStopAlert,
        pending: &PendingLogs,
        deadline: Deadline,
        reached: &mut Reached<L::Reader>,
    ) -> LookedUp {
        let until = Instant::now() + self.lookup_budget(deadline);
        let definition = pending.task_definition();
        // Boxed: the SDK's futures are deep, and this one runs once per alert.
        let lookup = Box::pin(async {
            match self.reach(reached, definition, until).await {
                Ok(reader) => self.logs.last_lines(reader, pending.request()).await,
                Err(e) => Fetched {
                    essential: None,
                    logs: LogOutcome::MemberUnreachable(e.clone()),
                },
            }
        });
        let fetched = tokio::time::timeout_at(until, lookup).await.unwrap_or(Fetched {
            essential: None,
            logs: LogOutcome::TimedOut,
        });
        let mut found = LookedUp::default();
        let (logs, redactions) = self.redact_lines(fetched.logs);
        found.redactions = redactions;
        match &logs {
            LogOutcome::Lines { lines, .. } => found.lines_shown = Some(lines.len()),
            LogOutcome::Unavailable { .. } | LogOutcome::TimedOut | LogOutcome::MemberUnreachable(_) => {
                found.failed = true;
            }
            _ => {}
        }
        alert.redactions = alert.redactions.saturating_add(redactions);
        alert.essential = fetched.essential;
        alert.logs = logs;
        if let (LogOutcome::Lines { .. }, Some(sidecar), Some(request), Some(Ok(reader))) = (
            &alert.logs,
            &pending.sidecar,
            pending.sidecar_request(),
            &*reached,
        ) {
            let fetched = tokio::time::timeout_at(until, Box::pin(self.logs.last_lines(reader, request)))
                .await
                .map_or(LogOutcome::TimedOut, |f| f.logs);
            let (logs, redactions) = self.redact_lines(fetched);
            found.redactions = found.redactions.saturating_add(redactions);
            alert.sidecar = Some(SidecarLogs {
                name: sidecar.name.clone(),
                exit_code: sidecar.exit_code,
                logs,
                redactions,
            });
        }
        found
    }

    /// Log lines with their secrets redacted, and how many were.
    fn redact_lines(&self, logs: LogOutcome) -> (LogOutcome, usize) {
        let LogOutcome::Lines {
            stream,
            lines,
            omitted,
        } = logs
        else {
            return (logs, 0);
        };
        let mut redactions = 0usize;
        let lines = lines
            .into_iter()
            .map(|mut l| {
                let (out, n) = self.redactor.redact(&l.message);
                redactions = redactions.saturating_add(n);
                l.message = out.into_owned();
                l
            })
            .collect();
        let logs = LogOutcome::Lines {
            stream,
            lines,
            omitted,
        };
        (logs, redactions)
    }
}

/// Fail open, as the outbox does: the problem logged (the first of a process as an ERROR)
/// and counted in `StateStoreProblems`, which the template alarms on.
fn state_problem(ctx: &mut Invocation, problem: &StateError) {
    lookout_shared::state::report_problem(problem);
    ctx.metrics.add(STATE_STORE_PROBLEMS, 1);
}

/// Where a task stop keeps its sidecar's lines (rendered when set).
fn sidecar_slot(alert: &mut Alert) -> Option<&mut Option<SidecarLogs>> {
    match alert {
        Alert::TaskStop(a) => Some(&mut a.sidecar),
        Alert::Service(_) | Alert::Health(_) | Alert::Resolved(_) => None,
    }
}

/// Epoch seconds (the state store's) as epoch milliseconds.
fn epoch_ms(secs: u64) -> i64 {
    i64::try_from(secs).unwrap_or(i64::MAX).saturating_mul(1_000)
}

#[cfg(test)]
mod tests;
