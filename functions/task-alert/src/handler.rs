//! One task-alert invocation, as wiring: check the typed events ([`crate::event`]), keep the
//! function's own, [`plan`](crate::plan) the alerts, and deliver each through the shared
//! outbox. Only an alert that will be sent reads the dying container's last log lines, inside
//! the renderer the outbox calls, within a capped share of the deadline so the publish keeps
//! its own.

use crate::alert::{Alert, TaskStopAlert};
use crate::classify;
use crate::config::TaskAlertConfig;
use crate::event::{self, Batch, EventError};
use crate::logs::{Fetched, LogOutcome, LogSource};
use crate::plan::{PendingLogs, Plan, Planned, plan};
use crate::summary::{AlertSummary, Outcome, Summary};
use lookout_shared::config::ConfigError;
use lookout_shared::deadline::Deadline;
use lookout_shared::envelope::Incoming;
use lookout_shared::invocation::{Function, FunctionError, Invocation};
use lookout_shared::metrics::{Metric, MetricsConfig};
use lookout_shared::notification::Detail;
use lookout_shared::outbox::{Delivered, DeliveryError, Outbox};
use lookout_shared::publish::Publisher;
use lookout_shared::redact::Redactor;
use lookout_shared::state::{DynamoStore, Fingerprint, IdempotencyKey, StateStore};
use serde::Serialize;
use std::time::Duration;

/// The longest log lookup. It also gets at most half the time left before the margin, so the
/// publish after it always keeps the other half.
const LOG_LOOKUP_MAX: Duration = Duration::from_secs(5);
/// Items (log lines, affected resources) offered to the renderer; the fetch already bounds lines.
const MAX_ITEMS: usize = 1_000;
/// `logs` in the summary of an alert whose lines were not read: suppressed or delivered before.
const NOT_READ: &str = "notRead";

const EVENTS: Metric = Metric::count("TaskAlertEvents");
const STALE_EVENTS: Metric = Metric::count("StaleEvents");
const EXPECTED_STOPS: Metric = Metric::count("ExpectedStops");
const LOG_LINES_SHOWN: Metric = Metric::count("LogLinesShown");
const LOG_LOOKUP_FAILURES: Metric = Metric::count("LogLookupFailures");
const REDACTIONS: Metric = Metric::count("Redactions");
const INVALID_EVENTS: Metric = Metric::count("InvalidEvents");

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
    logs: L,
    /// With the state store when `STATE_TABLE` is set; without it, crash loops are grouped
    /// within one invocation only.
    outbox: Outbox<P, S>,
}

impl<L: LogSource, P: Publisher, S: StateStore> Function for TaskAlert<L, P, S> {
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
        let (events, others) = event::own_events(events, &self.config.account, &self.config.region);
        let Plan { alerts, mut summary } = plan(events, &self.redactor, self.config.spot_severity);
        if others > 0 {
            summary.events += others;
            *summary
                .ignored
                .entry("event of another account or region")
                .or_default() += others;
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

impl<L: LogSource, P: Publisher, S: StateStore> TaskAlert<L, P, S> {
    /// With the state store (`None` when `STATE_TABLE` is unset).
    pub fn with_state<S2: StateStore>(self, store: Option<S2>) -> TaskAlert<L, P, S2> {
        let window = self.config.state.suppress_window;
        TaskAlert {
            config: self.config,
            redactor: self.redactor,
            logs: self.logs,
            outbox: self.outbox.with_state(store, window),
        }
    }

    pub fn publisher(&self) -> &P {
        self.outbox.publisher()
    }

    /// Delivers one alert through the outbox. Its renderer, which runs only for an alert that
    /// will be sent, first reads the log lines the alert needs (`logs`).
    async fn deliver(
        &self,
        planned: Planned,
        payload_key: &IdempotencyKey,
        ctx: &mut Invocation,
    ) -> Result<AlertSummary, TaskAlertError> {
        let Planned { mut alert, mut logs } = planned;
        if let (Alert::TaskStop(a), Some(pending)) = (&mut alert, &mut logs)
            && !pending.candidates.is_empty()
        {
            let redactions = self.blame_essential(a, pending, ctx.deadline).await;
            ctx.metrics.add_len(REDACTIONS, redactions);
        }
        let mut result = AlertSummary {
            reason: alert.reason(),
            severity: alert.severity().as_str(),
            cluster: alert.cluster().map(String::from),
            service: alert.service().map(String::from),
            tasks: 0,
            logs: None,
            outcome: Outcome::Published,
            suppressed_before: None,
            subject: None,
            message_id: None,
            published_bytes: None,
        };
        if let Alert::TaskStop(a) = &alert {
            result.tasks = a.tasks.len();
            result.logs = Some(if logs.is_some() { NOT_READ } else { a.logs.status() });
        }
        let key = payload_key.item(&alert.identity());
        let fingerprint = alert.loop_parts().map(|parts| {
            let parts: Vec<&str> = parts.iter().map(String::as_str).collect();
            Fingerprint::new(Self::NAME, &parts)
        });
        let rank = alert.severity() as u8;
        // `deliver` holds `ctx`; the lookup's budget is measured from the same deadline.
        let deadline = ctx.deadline;
        let mut looked_up: Option<LookedUp> = None;
        let found = &mut looked_up;
        let delivered = Box::pin(self.outbox.deliver(
            ctx,
            key,
            fingerprint.as_ref().map(|f| (f, rank)).as_slice(),
            |facts| async move {
                let mut logs_status = None;
                if let (Alert::TaskStop(a), Some(pending)) = (&mut alert, &logs) {
                    *found = Some(self.read_logs(a, pending, deadline).await);
                    logs_status = Some(a.logs.status());
                }
                let max = Detail::new(MAX_ITEMS, self.config.log_limits.bytes);
                let (message, _) = self.config.delivery.fit(max, |d| alert.render(d, &facts))?;
                Ok((message, (logs_status, facts.repeats().map(|s| s.count))))
            },
        ))
        .await;
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
                rendered: (logs_status, suppressed_before),
            } => {
                result.logs = logs_status.or(result.logs);
                result.suppressed_before = suppressed_before;
                result.message_id = Some(message_id);
                result.published_bytes = Some(request_bytes);
                result.subject = Some(subject);
            }
            Delivered::AlreadyDelivered { .. } => result.outcome = Outcome::AlreadyDelivered,
            Delivered::Suppressed => result.outcome = Outcome::Suppressed,
        }
        Ok(result)
    }

    /// When more than one container stopped the task: blames the first the task definition
    /// marks essential (its exit code, reason and logs), not a sidecar ECS stopped after it.
    /// Asked before delivery, within the log lookup's budget: the problem it names is what
    /// the alert is identified and suppressed on. Returns the redactions of the new reason.
    async fn blame_essential(
        &self,
        alert: &mut TaskStopAlert,
        pending: &mut PendingLogs,
        deadline: Deadline,
    ) -> usize {
        let budget = (deadline.remaining_before(self.config.deadline_margin) / 2).min(LOG_LOOKUP_MAX);
        let lookup = Box::pin(self.logs.essential_containers(pending.task_definition()));
        let Ok(Some(essential)) = tokio::time::timeout(budget, lookup).await else {
            return 0;
        };
        let Some(i) = classify::blame_essential(&pending.candidates, &essential) else {
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

    /// Reads the container's last log lines into `alert`, redacted. The lookup gets at most
    /// [`LOG_LOOKUP_MAX`] and at most half the time left before the margin: the publish keeps
    /// the rest, however slow CloudWatch Logs or ECS are.
    async fn read_logs(
        &self,
        alert: &mut TaskStopAlert,
        pending: &PendingLogs,
        deadline: Deadline,
    ) -> LookedUp {
        let budget = (deadline.remaining_before(self.config.deadline_margin) / 2).min(LOG_LOOKUP_MAX);
        // Boxed: the SDK's futures are deep, and this one runs once per alert.
        let fetched = tokio::time::timeout(budget, Box::pin(self.logs.last_lines(pending.request())))
            .await
            .unwrap_or(Fetched {
                essential: None,
                logs: LogOutcome::TimedOut,
            });
        let mut found = LookedUp::default();
        let logs = match fetched.logs {
            LogOutcome::Lines {
                stream,
                lines,
                omitted,
            } => LogOutcome::Lines {
                stream,
                lines: lines
                    .into_iter()
                    .map(|mut l| {
                        let (out, n) = self.redactor.redact(&l.message);
                        found.redactions = found.redactions.saturating_add(n);
                        l.message = out.into_owned();
                        l
                    })
                    .collect(),
                omitted,
            },
            other => other,
        };
        match &logs {
            LogOutcome::Lines { lines, .. } => found.lines_shown = Some(lines.len()),
            LogOutcome::Unavailable { .. } | LogOutcome::TimedOut => found.failed = true,
            _ => {}
        }
        alert.redactions = alert.redactions.saturating_add(found.redactions);
        alert.essential = fetched.essential;
        alert.logs = logs;
        found
    }
}

#[cfg(test)]
mod tests;
