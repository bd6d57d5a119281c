//! One task-alert invocation: parse, drop stale and duplicate task events, classify, group a
//! service's stops for the same reason into one alert, admit each alert through the state
//! store (crash loops across invocations), then, only for an alert that will be sent, read the
//! dying container's last log lines (within a capped share of the deadline, so the publish
//! keeps its own), render and publish, all within the Lambda deadline.
//!
//! `plan` is pure; `TaskAlert` is the shared skeleton's `Function` and only wires I/O.

use crate::arn::TaskDefinitionArn;
use crate::classify::{self, Abnormal, Verdict};
use crate::config::TaskAlertConfig;
use crate::event::{self, Event, EventError, EventKind, Meta, TaskStop};
use crate::logs::{Fetched, LogOutcome, LogRequest, LogSource};
use crate::render::{Alert, HealthAlert, ServiceAlert, ServiceProblem, StoppedTask, TaskStopAlert};
use lookout_shared::config::ConfigError;
use lookout_shared::invocation::{Admission, DeliveryError, Function, FunctionError, Invocation, Outbox};
use lookout_shared::metrics::{Metric, MetricsConfig};
use lookout_shared::notification::{Detail, FitError};
use lookout_shared::publish::Publisher;
use lookout_shared::redact::Redactor;
use lookout_shared::state::{DynamoStore, Fingerprint, IdempotencyKey, StateStore};
use serde::Serialize;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

/// The longest log lookup. It also gets at most half the time left before the margin, so the
/// publish after it always keeps the other half.
const LOG_LOOKUP_MAX: Duration = Duration::from_secs(5);
/// Items (log lines, affected resources) offered to the renderer; the fetch already bounds lines.
const MAX_ITEMS: usize = 1_000;

const EVENTS: Metric = Metric::count("TaskAlertEvents");
const STALE_EVENTS: Metric = Metric::count("StaleEvents");
const EXPECTED_STOPS: Metric = Metric::count("ExpectedStops");
const LOG_LINES_SHOWN: Metric = Metric::count("LogLinesShown");
const LOG_LOOKUP_FAILURES: Metric = Metric::count("LogLookupFailures");
const REDACTIONS: Metric = Metric::count("Redactions");
const INVALID_EVENTS: Metric = Metric::count("InvalidEvents");
const PUBLISH_FAILURES: Metric = Metric::count("PublishFailures");

#[derive(Debug, thiserror::Error)]
pub enum TaskAlertError {
    #[error(transparent)]
    Event(#[from] EventError),
    #[error(transparent)]
    TooLarge(#[from] FitError),
    #[error(transparent)]
    Delivery(#[from] DeliveryError),
}

impl FunctionError for TaskAlertError {
    fn kind(&self) -> &'static str {
        match self {
            TaskAlertError::Event(_) => "InvalidEvent",
            TaskAlertError::TooLarge(_) => "MessageTooLarge",
            TaskAlertError::Delivery(e) => e.kind(),
        }
    }

    fn metric(&self) -> Option<Metric> {
        Some(match self {
            TaskAlertError::Event(_) => INVALID_EVENTS,
            _ => PUBLISH_FAILURES,
        })
    }
}

/// The invocation's result: returned to Lambda and logged as one line.
#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    pub events: usize,
    /// Older versions of a task's state than another event of the same batch.
    pub stale_events: usize,
    pub duplicate_events: usize,
    /// Routine stops, by kind (`ScaleIn`, `UserStopped`...).
    pub expected_stops: BTreeMap<&'static str, usize>,
    /// Events that are not news (steady state, deployment in progress...), by why.
    pub ignored: BTreeMap<&'static str, usize>,
    pub alerts: Vec<AlertSummary>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AlertSummary {
    pub reason: &'static str,
    pub severity: &'static str,
    pub cluster: Option<String>,
    pub service: Option<String>,
    pub tasks: usize,
    pub logs: Option<&'static str>,
    pub outcome: Outcome,
    /// Repeats of this alert the state store held back since the previous one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suppressed_before: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub published_bytes: Option<usize>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Outcome {
    Published,
    /// An earlier attempt delivered it (the state store's claim is done).
    AlreadyDelivered,
    /// A repeat inside the suppression window: counted, reported with the next alert.
    Suppressed,
}

/// A group of abnormal stops: same cluster, same service (or family), same problem.
#[derive(Debug, Clone, PartialEq)]
pub struct StopGroup {
    pub meta: Meta,
    /// Newest first.
    pub stops: Vec<(Box<TaskStop>, Abnormal, String)>,
}

/// What to do with a batch, decided without I/O.
#[derive(Debug, Default)]
pub struct Plan {
    pub stop_groups: Vec<StopGroup>,
    pub ready: Vec<Alert>,
    pub summary: Summary,
}

/// Keeps the newest version of each task's state change (ECS may deliver them more than once
/// and out of order), classifies, and groups.
pub fn plan(events: Vec<Event>, redactor: &Redactor) -> Plan {
    let mut plan = Plan::default();
    plan.summary.events = events.len();
    let mut newest: HashMap<String, usize> = HashMap::new();
    let mut keep = vec![true; events.len()];
    for (i, e) in events.iter().enumerate() {
        let EventKind::Task(t) = &e.kind else { continue };
        match newest.get(&t.task.arn).copied() {
            None => {
                newest.insert(t.task.arn.clone(), i);
            }
            Some(j) => {
                let EventKind::Task(other) = &events[j].kind else {
                    continue;
                };
                if t.version.is_some() && t.version == other.version {
                    plan.summary.duplicate_events += 1;
                    keep[i] = false;
                } else {
                    plan.summary.stale_events += 1;
                    // Without versions, the later event of the batch wins.
                    if t.version.unwrap_or(u64::MAX) >= other.version.unwrap_or(0) {
                        keep[j] = false;
                        newest.insert(t.task.arn.clone(), i);
                    } else {
                        keep[i] = false;
                    }
                }
            }
        }
    }
    for (event, kept) in events.into_iter().zip(keep) {
        if !kept {
            continue;
        }
        let Event { meta, kind } = event;
        match kind {
            EventKind::Task(task) => match classify::classify(&task) {
                Verdict::NotStopped => *plan.summary.ignored.entry("task not stopped").or_default() += 1,
                Verdict::Expected(why) => *plan.summary.expected_stops.entry(why.as_str()).or_default() += 1,
                Verdict::Abnormal(abnormal) => {
                    let id = meta.id.clone();
                    let same = |g: &StopGroup| {
                        let (first, a, _) = &g.stops[0];
                        first.cluster == task.cluster
                            && first.group == task.group
                            && first.task_definition.family == task.task_definition.family
                            && a.problem == abnormal.problem
                    };
                    match plan.stop_groups.iter_mut().find(|g| same(g)) {
                        Some(g) => g.stops.push((task, abnormal, id)),
                        None => plan.stop_groups.push(StopGroup {
                            meta,
                            stops: vec![(task, abnormal, id)],
                        }),
                    }
                }
            },
            EventKind::Deployment(d) => {
                let rolled_back = d.event_name == "SERVICE_DEPLOYMENT_IN_PROGRESS"
                    && d.reason
                        .as_deref()
                        .is_some_and(|r| r.contains("circuit breaker") && r.contains("rolling back"));
                let problem = match d.event_name.as_str() {
                    "SERVICE_DEPLOYMENT_FAILED" => ServiceProblem::DeploymentFailed,
                    _ if rolled_back => ServiceProblem::DeploymentRolledBack,
                    _ => {
                        *plan
                            .summary
                            .ignored
                            .entry("deployment event that is not a failure")
                            .or_default() += 1;
                        continue;
                    }
                };
                plan.ready.push(Alert::Service(ServiceAlert {
                    problem,
                    account: meta.account,
                    region: meta.region,
                    cluster: d.service.cluster.clone(),
                    service: Some(d.service.name.clone()),
                    event_name: d.event_name,
                    deployment_id: d.deployment_id,
                    reason: d.reason.map(|r| redactor.redact(&r).0.into_owned()),
                    capacity_providers: Vec::new(),
                    at_ms: meta.time_ms,
                    event_id: meta.id,
                }));
            }
            EventKind::ServiceAction(a) => {
                let problem = match a.event_name.as_str() {
                    "SERVICE_TASK_PLACEMENT_FAILURE" => ServiceProblem::PlacementFailed,
                    "SERVICE_TASK_CONFIGURATION_FAILURE" => ServiceProblem::ConfigurationFailed,
                    "SERVICE_TASK_START_IMPAIRED" => ServiceProblem::StartImpaired,
                    _ => {
                        *plan
                            .summary
                            .ignored
                            .entry("service action that is not a failure")
                            .or_default() += 1;
                        continue;
                    }
                };
                let cluster = a
                    .cluster
                    .as_ref()
                    .map(|c| c.name.clone())
                    .or_else(|| a.service.as_ref().and_then(|s| s.cluster.clone()));
                plan.ready.push(Alert::Service(ServiceAlert {
                    problem,
                    account: meta.account,
                    region: meta.region,
                    cluster,
                    service: a.service.map(|s| s.name),
                    event_name: a.event_name,
                    deployment_id: None,
                    reason: a.reason.map(|r| redactor.redact(&r).0.into_owned()),
                    capacity_providers: a.capacity_providers,
                    at_ms: a.created_at_ms.or(meta.time_ms),
                    event_id: meta.id,
                }));
            }
            EventKind::Health(h) => {
                if !h.service.eq_ignore_ascii_case("ECS") {
                    *plan
                        .summary
                        .ignored
                        .entry("health event for another service")
                        .or_default() += 1;
                    continue;
                }
                plan.ready.push(Alert::Health(HealthAlert {
                    account: meta.account,
                    region: meta.region,
                    event_type_code: h.event_type_code,
                    category: h.event_type_category,
                    event_arn: h.event_arn,
                    start_time: h.start_time,
                    end_time: h.end_time,
                    description: h.description.map(|d| redactor.redact(&d).0.into_owned()),
                    entities: h.entities,
                    event_id: meta.id,
                }));
            }
        }
    }
    for g in &mut plan.stop_groups {
        g.stops
            .sort_by_key(|(t, _, _)| std::cmp::Reverse(t.stopped_at_ms));
    }
    plan
}

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
    type Event = Value;
    type Summary = Summary;
    type Error = TaskAlertError;
    const NAME: &'static str = "task-alert";

    fn metrics_config(&self) -> &MetricsConfig {
        &self.config.metrics
    }

    async fn handle(&self, payload: Value, ctx: &mut Invocation) -> Result<Summary, TaskAlertError> {
        let events = event::parse_batch(&payload)?;
        ctx.metrics.add_len(EVENTS, events.len());
        let (events, others) = event::own_events(events, &self.config.account, &self.config.region);
        let Plan {
            stop_groups,
            ready,
            mut summary,
        } = plan(events, &self.redactor);
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
        let mut alerts = Vec::with_capacity(stop_groups.len().saturating_add(ready.len()));
        for group in stop_groups {
            let (alert, logs) = self.task_stop_alert(group, ctx);
            alerts.push((Alert::TaskStop(Box::new(alert)), logs));
        }
        alerts.extend(ready.into_iter().map(|alert| (alert, None)));
        let key = IdempotencyKey::from_event(Self::NAME, &payload);
        for (alert, logs) in alerts {
            let result = self.deliver(alert, logs, &key, ctx).await?;
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

impl<L: LogSource, P: Publisher, S: StateStore> TaskAlert<L, P, S> {
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

    /// Admits one alert through the state store (when there is one); only an alert that will
    /// be sent reads its log lines (`logs`), within a share of the deadline that leaves the
    /// publish its own. Then renders it with the repeats held back since the previous alert,
    /// and publishes it.
    async fn deliver(
        &self,
        mut alert: Alert,
        logs: Option<PendingLogs>,
        payload_key: &IdempotencyKey,
        ctx: &mut Invocation,
    ) -> Result<AlertSummary, TaskAlertError> {
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
        // Claim first: a suppressed repeat or a delivered retry reads no log lines.
        let key = payload_key.item(&alert.identity());
        let fingerprint = alert.loop_parts().map(|parts| {
            let parts: Vec<&str> = parts.iter().map(String::as_str).collect();
            Fingerprint::new(Self::NAME, &parts)
        });
        let rank = alert.severity() as u8;
        let admission = Box::pin(self.outbox.admit(
            ctx,
            key,
            fingerprint.as_ref().map(|f| (f, rank)).as_slice(),
        ))
        .await?;
        let permit = match admission {
            Admission::Publish(permit) => permit,
            Admission::Skip { reason } => {
                result.outcome = if reason == "suppressed" {
                    Outcome::Suppressed
                } else {
                    Outcome::AlreadyDelivered
                };
                return Ok(result);
            }
        };
        if let (Alert::TaskStop(a), Some(pending)) = (&mut alert, logs) {
            self.read_logs(a, pending, ctx).await;
            result.logs = Some(a.logs.status());
        }
        result.suppressed_before = permit.suppressed().map(|s| s.count);
        let max = Detail::new(MAX_ITEMS, self.config.log_limits.bytes);
        let (message, _) = self.config.delivery.fit(max, |d| permit.note(alert.render(d)))?;
        let message_id = self.outbox.publish(ctx, permit, &message).await?;
        ctx.metrics.alert_published(message.request_bytes());
        result.message_id = Some(message_id);
        result.published_bytes = Some(message.request_bytes());
        result.subject = Some(message.subject);
        Ok(result)
    }

    /// The alert for one group: the newest stop's failed container, without its log lines
    /// yet. The lookup they need is returned, for [`Self::read_logs`] once the alert is
    /// admitted.
    fn task_stop_alert(
        &self,
        group: StopGroup,
        ctx: &mut Invocation,
    ) -> (TaskStopAlert, Option<PendingLogs>) {
        let StopGroup { meta, stops } = group;
        let (newest, abnormal, _) = &stops[0];
        let problem = abnormal.problem;
        let failed = abnormal.container.and_then(|i| newest.containers.get(i));
        // Health checks, Spot and the like name no container: read the first one's logs.
        let log_container = failed.or(newest.containers.first());
        let (logs, pending) = match log_container {
            _ if problem.never_ran() => (LogOutcome::NeverRan, None),
            None => (LogOutcome::NoContainer, None),
            Some(c) => (
                // Replaced by what the lookup finds before the alert is rendered.
                LogOutcome::TimedOut,
                Some(PendingLogs {
                    task_definition: newest.task_definition.clone(),
                    container: c.name.clone(),
                    task_id: newest.task.id.clone(),
                    runtime_id: c.runtime_id.clone(),
                }),
            ),
        };
        let mut redactions = 0usize;
        let mut redact = |s: &str| {
            let (out, n) = self.redactor.redact(s);
            redactions = redactions.saturating_add(n);
            out.into_owned()
        };
        let mut container = log_container.filter(|_| failed.is_some()).cloned();
        if let Some(c) = &mut container {
            c.reason = c.reason.as_deref().map(&mut redact);
        }
        let tasks: Vec<StoppedTask> = stops
            .iter()
            .map(|(t, _, _)| StoppedTask {
                task: t.task.clone(),
                stopped_at_ms: t.stopped_at_ms.or(meta.time_ms),
                stop_code: t.stop_code.clone(),
                stopped_reason: t.stopped_reason.as_deref().map(&mut redact),
                version: t.version,
            })
            .collect();
        ctx.metrics.add_len(REDACTIONS, redactions);
        let severity = problem.severity(self.config.spot_severity);
        let alert = TaskStopAlert {
            problem,
            severity,
            account: meta.account,
            region: meta.region,
            cluster: newest.cluster.clone(),
            service: newest.service().map(String::from),
            task_definition: newest.task_definition.clone(),
            tasks,
            log_container: log_container.map(|c| c.name.clone()),
            container,
            essential: None,
            logs,
            redactions,
            event_ids: stops.iter().map(|(_, _, id)| id.clone()).collect(),
        };
        (alert, pending)
    }

    /// Reads the container's last log lines into `alert`, redacted. The lookup gets at most
    /// [`LOG_LOOKUP_MAX`] and at most half the time left before the margin: the publish keeps
    /// the rest, however slow CloudWatch Logs or ECS are.
    async fn read_logs(&self, alert: &mut TaskStopAlert, pending: PendingLogs, ctx: &mut Invocation) {
        let request = LogRequest {
            task_definition: &pending.task_definition,
            container: &pending.container,
            task_id: &pending.task_id,
            runtime_id: pending.runtime_id.as_deref(),
        };
        let budget = (ctx.deadline.remaining_before(self.config.deadline_margin) / 2).min(LOG_LOOKUP_MAX);
        // Boxed: the SDK's futures are deep, and this one runs once per alert.
        let fetched = tokio::time::timeout(budget, Box::pin(self.logs.last_lines(request)))
            .await
            .unwrap_or(Fetched {
                essential: None,
                logs: LogOutcome::TimedOut,
            });
        let mut redactions = 0usize;
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
                        redactions = redactions.saturating_add(n);
                        l.message = out.into_owned();
                        l
                    })
                    .collect(),
                omitted,
            },
            other => other,
        };
        match &logs {
            LogOutcome::Lines { lines, .. } => ctx.metrics.add_len(LOG_LINES_SHOWN, lines.len()),
            LogOutcome::Unavailable { .. } | LogOutcome::TimedOut => ctx.metrics.add(LOG_LOOKUP_FAILURES, 1),
            _ => {}
        }
        ctx.metrics.add_len(REDACTIONS, redactions);
        alert.redactions = alert.redactions.saturating_add(redactions);
        alert.essential = fetched.essential;
        alert.logs = logs;
    }
}

/// `logs` in the summary of an alert whose lines were not read: suppressed or delivered before.
const NOT_READ: &str = "notRead";

/// The log lookup a task stop alert needs, made only once the alert is admitted.
#[derive(Debug)]
struct PendingLogs {
    task_definition: TaskDefinitionArn,
    container: String,
    task_id: String,
    runtime_id: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logs::{LogLine, LogStream};
    use lookout_shared::config::Env;
    use lookout_shared::deadline::Deadline;
    use lookout_shared::invocation::{diagnostic, invoke};
    use lookout_shared::publish::MemoryPublisher;
    use lookout_shared::state::MemoryStore;
    use serde_json::json;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::{Arc, Mutex};

    /// Answers every lookup with the same outcome and records what was asked.
    struct FakeLogs {
        answer: Fetched,
        asked: Mutex<Vec<(String, String, String)>>,
    }

    impl FakeLogs {
        fn with(logs: LogOutcome) -> Self {
            Self {
                answer: Fetched {
                    essential: Some(true),
                    logs,
                },
                asked: Mutex::new(Vec::new()),
            }
        }
    }

    impl LogSource for FakeLogs {
        async fn last_lines(&self, request: LogRequest<'_>) -> Fetched {
            self.asked.lock().unwrap().push((
                request.task_definition.family.clone(),
                request.container.to_string(),
                request.task_id.to_string(),
            ));
            self.answer.clone()
        }
    }

    fn sample(name: &str) -> Value {
        let path = format!("{}/../../events/task-alert/{name}", env!("CARGO_MANIFEST_DIR"));
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
    }

    fn lines() -> LogOutcome {
        LogOutcome::Lines {
            stream: LogStream {
                region: crate::arn::Region::parse("us-east-1").unwrap(),
                group: "/ecs/web-app".into(),
                stream: "ecs/app/5c2bfe2f2b4f4a0e9f3f0c9d1a7e6b21".into(),
            },
            lines: vec![
                LogLine {
                    timestamp_ms: 1_764_093_849_000,
                    message: "allocating cache for 1200000 entries".into(),
                },
                LogLine {
                    timestamp_ms: 1_764_093_850_000,
                    message: "connecting with password=hunter2".into(),
                },
            ],
            omitted: 0,
        }
    }

    fn alert(logs: LogOutcome, extra: &[(&str, &str)]) -> TaskAlert<FakeLogs, MemoryPublisher> {
        let mut pairs = vec![
            ("ALERT_TOPIC_ARN", "arn:aws:sns:us-east-1:123456789012:alerts"),
            ("MESSAGE_FORMAT", "text"),
        ];
        pairs.extend_from_slice(extra);
        let config = TaskAlertConfig::from_env(&Env::from_pairs(pairs)).unwrap();
        TaskAlert::new(config, FakeLogs::with(logs), MemoryPublisher::default()).unwrap()
    }

    /// One invocation through the skeleton, 30 s before its deadline.
    async fn run<L: LogSource, P: Publisher, S: StateStore>(
        a: &TaskAlert<L, P, S>,
        payload: Value,
    ) -> Result<Summary, TaskAlertError> {
        run_until(a, payload, Deadline::after(Duration::from_secs(30))).await
    }

    async fn run_until<L: LogSource, P: Publisher, S: StateStore>(
        a: &TaskAlert<L, P, S>,
        payload: Value,
        deadline: Deadline,
    ) -> Result<Summary, TaskAlertError> {
        invoke(a, payload, &mut Invocation::new(deadline, "test-request")).await
    }

    /// Every sample: alert or not, the reason, the severity, whether log lines were looked up.
    #[tokio::test]
    async fn every_sample_is_classified() {
        // (sample, (reason, severity) of the alert or none, whether log lines were looked up)
        type Row = (&'static str, Option<(&'static str, &'static str)>, bool);
        let table: [Row; 13] = [
            ("oom-killed.json", Some(("OutOfMemory", "ERROR")), true),
            ("exit-1.json", Some(("EssentialContainerExited", "ERROR")), true),
            ("cannot-pull.json", Some(("ImagePullFailed", "ERROR")), false),
            (
                "secrets-unavailable.json",
                Some(("SecretsUnavailable", "ERROR")),
                false,
            ),
            (
                "elb-health-check.json",
                Some(("ElbHealthCheckFailed", "ERROR")),
                true,
            ),
            (
                "spot-interruption.json",
                Some(("SpotInterruption", "WARNING")),
                true,
            ),
            ("scale-in.json", None, false),
            ("deployment-replacement.json", None, false),
            ("user-stop.json", None, false),
            (
                "non-awslogs.json",
                Some(("EssentialContainerExited", "ERROR")),
                true,
            ),
            (
                "deployment-failed.json",
                Some(("DeploymentFailed", "CRITICAL")),
                false,
            ),
            (
                "placement-failure.json",
                Some(("TaskPlacementFailed", "ERROR")),
                false,
            ),
            ("task-retirement.json", Some(("TaskRetirement", "WARNING")), false),
        ];
        for (file, expected, looked_up) in table {
            let a = alert(lines(), &[]);
            let summary = run(&a, sample(file)).await.unwrap();
            let published = a.publisher().messages();
            match expected {
                None => {
                    assert!(published.is_empty(), "{file}");
                    assert_eq!(summary.expected_stops.values().sum::<usize>(), 1, "{file}");
                }
                Some((reason, severity)) => {
                    assert_eq!(published.len(), 1, "{file}");
                    let attr = |n: &str| {
                        published[0]
                            .attributes
                            .iter()
                            .find(|x| x.name == n)
                            .map(|x| x.value_string())
                    };
                    assert_eq!(attr("reason").as_deref(), Some(reason), "{file}");
                    assert_eq!(attr("severity").as_deref(), Some(severity), "{file}");
                    assert_eq!(summary.alerts[0].reason, reason);
                }
            }
            assert_eq!(!a.logs.asked.lock().unwrap().is_empty(), looked_up, "{file}");
        }
    }

    #[tokio::test]
    async fn the_oom_alert_carries_redacted_lines_links_and_attributes() {
        let a = alert(lines(), &[]);
        run(&a, sample("oom-killed.json")).await.unwrap();
        assert_eq!(
            a.logs.asked.lock().unwrap().as_slice(),
            [(
                "web-app".to_string(),
                "app".to_string(),
                "5c2bfe2f2b4f4a0e9f3f0c9d1a7e6b21".to_string()
            )]
        );
        let m = &a.publisher().messages()[0];
        assert_eq!(
            m.subject,
            "[ERROR] web: killed: out of memory (app exit 137) in prod"
        );
        let attr = |n: &str| {
            m.attributes
                .iter()
                .find(|x| x.name == n)
                .map(|x| x.value_string())
        };
        assert_eq!(attr("service").as_deref(), Some("web"));
        assert_eq!(attr("cluster").as_deref(), Some("prod"));
        let t = &m.message;
        assert!(t.contains("  | allocating cache for 1200000 entries\n"), "{t}");
        assert!(t.contains("password=[REDACTED]") && !t.contains("hunter2"), "{t}");
        assert!(t.contains("1 secret redacted"), "{t}");
        assert!(
            t.contains("Container reason:  \"OutOfMemoryError: Container killed due to memory usage\""),
            "{t}"
        );
        assert!(t.contains("https://us-east-1.console.aws.amazon.com/ecs/v2/clusters/prod/tasks/5c2bfe2f2b4f4a0e9f3f0c9d1a7e6b21/configuration?region=us-east-1"), "{t}");
        assert!(t.contains("https://us-east-1.console.aws.amazon.com/ecs/v2/clusters/prod/services/web/health?region=us-east-1"), "{t}");
        assert!(t.contains("https://us-east-1.console.aws.amazon.com/ecs/v2/task-definitions/web-app/1/containers?region=us-east-1"), "{t}");
        // Stopped 2025-11-25T18:04:10.512Z: the stream opens ten minutes before.
        assert!(t.contains("log-events/ecs$252Fapp$252F5c2bfe2f2b4f4a0e9f3f0c9d1a7e6b21$3Fstart$3D1764093250512$26end$3D1764093910512"), "{t}");
        assert!(t.contains("logs-insights$3FqueryDetail$3D"), "{t}");
    }

    #[tokio::test]
    async fn missing_log_lines_are_explained() {
        let a = alert(
            LogOutcome::NotAwslogs {
                driver: "awsfirelens".into(),
            },
            &[],
        );
        run(&a, sample("non-awslogs.json")).await.unwrap();
        let t = &a.publisher().messages()[0].message;
        assert!(
            t.contains("logs with the \"awsfirelens\" driver, not awslogs: its logs are elsewhere"),
            "{t}"
        );
        let a = alert(lines(), &[]);
        run(&a, sample("cannot-pull.json")).await.unwrap();
        let t = &a.publisher().messages()[0].message;
        assert!(
            t.contains("never started (image pull failed), so it wrote no log lines"),
            "{t}"
        );
        assert!(!t.contains("  | "), "{t}");
    }

    fn with_task(mut event: Value, id: &str, version: u64, stopped: &str) -> Value {
        let arn = format!("arn:aws:ecs:us-east-1:123456789012:task/prod/{id}");
        event["detail"]["taskArn"] = json!(arn);
        event["detail"]["version"] = json!(version);
        event["detail"]["stoppedAt"] = json!(stopped);
        event
    }

    #[tokio::test]
    async fn a_crash_loop_in_one_batch_is_one_alert_and_stale_versions_are_dropped() {
        let oom = sample("oom-killed.json");
        let batch = json!([
            with_task(
                oom.clone(),
                "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa1",
                6,
                "2025-11-25T18:01:00.000Z"
            ),
            with_task(
                oom.clone(),
                "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa2",
                6,
                "2025-11-25T18:03:00.000Z"
            ),
            with_task(
                oom.clone(),
                "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa3",
                6,
                "2025-11-25T18:02:00.000Z"
            ),
            // The same task again, older and identical: neither counts twice.
            with_task(
                oom.clone(),
                "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa1",
                4,
                "2025-11-25T18:01:00.000Z"
            ),
            with_task(
                oom,
                "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa2",
                6,
                "2025-11-25T18:03:00.000Z"
            ),
            sample("exit-1.json"),
        ]);
        let a = alert(lines(), &[]);
        let summary = run(&a, batch).await.unwrap();
        assert_eq!((summary.stale_events, summary.duplicate_events), (1, 1));
        let published = a.publisher().messages();
        assert_eq!(
            published.len(),
            2,
            "one alert for the web crash loop, one for the worker"
        );
        assert_eq!(
            published[0].subject,
            "[ERROR] web: 3 tasks: killed: out of memory (app exit 137) in prod"
        );
        assert_eq!(summary.alerts[0].tasks, 3);
        // The newest stop's logs were read, once.
        let asked = a.logs.asked.lock().unwrap().clone();
        assert_eq!(asked.iter().filter(|(f, _, _)| f == "web-app").count(), 1);
        assert_eq!(asked[0].2, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa2");
        assert!(
            published[0]
                .message
                .contains("3 tasks of this service stopped for the same reason")
        );
    }

    /// Epoch seconds the test moves by hand.
    #[derive(Debug, Clone)]
    struct TestClock(Arc<AtomicU64>);

    impl lookout_shared::state::Clock for TestClock {
        fn now(&self) -> u64 {
            self.0.load(Ordering::SeqCst)
        }
    }

    #[tokio::test]
    async fn a_crash_loop_across_invocations_is_one_alert_then_a_count() {
        // 2025-11-25T18:04:10Z
        let clock = TestClock(Arc::new(AtomicU64::new(1_764_093_850)));
        let store = MemoryStore::new(Duration::from_secs(24 * 3600), clock.clone());
        let a = alert(lines(), &[]).with_state(Some(store));
        let stop = |id: &str| {
            with_task(
                sample("oom-killed.json"),
                &format!("bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb{id}"),
                6,
                "2025-11-25T18:04:10.512Z",
            )
        };
        let outcomes = [
            run(&a, stop("1")).await.unwrap(),
            run(&a, stop("2")).await.unwrap(),
            run(&a, stop("3")).await.unwrap(),
        ]
        .map(|s| s.alerts[0].outcome);
        assert_eq!(
            outcomes,
            [Outcome::Published, Outcome::Suppressed, Outcome::Suppressed]
        );
        assert_eq!(a.publisher().messages().len(), 1);
        // Lambda's retry of the first event: already delivered, not sent again.
        let retry = run(&a, stop("1")).await.unwrap();
        assert_eq!(retry.alerts[0].outcome, Outcome::AlreadyDelivered);
        // Another service's crash is news of its own.
        let other = run(&a, sample("exit-1.json")).await.unwrap();
        assert_eq!(other.alerts[0].outcome, Outcome::Published);
        // After the 15-minute window, the next stop goes out with the count.
        clock.0.store(1_764_093_850 + 16 * 60, Ordering::SeqCst);
        let next = run(&a, stop("4")).await.unwrap();
        assert_eq!(next.alerts[0].outcome, Outcome::Published);
        assert_eq!(next.alerts[0].suppressed_before, Some(2));
        let published = a.publisher().messages();
        assert_eq!(published.len(), 3);
        let t = &published[2].message;
        assert!(
            t.contains("\nSuppressed:    2 similar alerts suppressed since 2025-11-25T18:04:10.000Z (SUPPRESS_WINDOW_MINUTES)\n"),
            "{t}"
        );
        assert!(!published[0].message.contains("suppressed since"));
    }

    /// SNS failing the first publish, then accepting.
    #[derive(Debug, Default)]
    struct FailsOnce {
        calls: std::sync::atomic::AtomicUsize,
        sent: MemoryPublisher,
    }

    impl Publisher for FailsOnce {
        async fn publish(
            &self,
            message: &lookout_shared::notification::SnsMessage,
        ) -> Result<String, lookout_shared::publish::PublishError> {
            if self.calls.fetch_add(1, Ordering::SeqCst) == 0 {
                return Err(lookout_shared::publish::PublishError::Failed {
                    topic: "alerts".into(),
                    code: Some("InternalError".into()),
                    detail: "injected".into(),
                });
            }
            self.sent.publish(message).await
        }
    }

    #[tokio::test]
    async fn a_failed_publish_is_retried_at_once_and_then_never_repeated() {
        let clock = TestClock(Arc::new(AtomicU64::new(1_764_093_850)));
        let config = TaskAlertConfig::from_env(&Env::from_pairs([
            ("ALERT_TOPIC_ARN", "arn:aws:sns:us-east-1:123456789012:alerts"),
            ("MESSAGE_FORMAT", "text"),
        ]))
        .unwrap();
        let a = TaskAlert::new(config, FakeLogs::with(lines()), FailsOnce::default())
            .unwrap()
            .with_state(Some(MemoryStore::new(Duration::from_secs(24 * 3600), clock)));
        let err = run(&a, sample("oom-killed.json")).await.unwrap_err();
        assert_eq!(diagnostic(&err).error_type, "Lookout.PublishFailed");
        // Lambda's retry, before the first attempt's claim would have expired: it takes over
        // (the claim was marked failed), and is not suppressed by the window it opened.
        let retry = run(&a, sample("oom-killed.json")).await.unwrap();
        assert_eq!(retry.alerts[0].outcome, Outcome::Published);
        let again = run(&a, sample("oom-killed.json")).await.unwrap();
        assert_eq!(again.alerts[0].outcome, Outcome::AlreadyDelivered);
        assert_eq!(a.publisher().sent.messages().len(), 1);
    }

    #[tokio::test]
    async fn a_newer_stale_order_keeps_the_newest_state() {
        let mut running = sample("oom-killed.json");
        running["detail"]["lastStatus"] = json!("RUNNING");
        running["detail"]["version"] = json!(3);
        let batch = json!([sample("oom-killed.json"), running]);
        let a = alert(lines(), &[]);
        let summary = run(&a, batch).await.unwrap();
        assert_eq!(summary.stale_events, 1);
        assert_eq!(
            a.publisher().messages().len(),
            1,
            "the RUNNING event is older (version 3 < 6)"
        );
    }

    #[tokio::test]
    async fn malformed_events_fail_with_a_named_error() {
        let a = alert(lines(), &[]);
        let mut e = sample("oom-killed.json");
        e["detail"]["containers"][0]["exitCode"] = json!("137; DROP TABLE");
        let err = run(&a, e).await.unwrap_err();
        assert_eq!(err.kind(), "InvalidEvent");
        let d = diagnostic(&err);
        assert_eq!(d.error_type, "Lookout.InvalidEvent");
        assert_eq!(
            d.error_message,
            "event field detail.containers[0].exitCode must be a whole number"
        );
        assert!(a.publisher().messages().is_empty());
    }

    #[tokio::test]
    async fn a_stop_without_containers_says_there_is_nothing_to_look_up() {
        let mut spot = sample("spot-interruption.json");
        spot["detail"]["containers"] = json!([]);
        let a = alert(lines(), &[]);
        let summary = run(&a, spot).await.unwrap();
        assert_eq!(summary.alerts[0].logs, Some("noContainer"));
        assert!(a.logs.asked.lock().unwrap().is_empty());
        assert!(
            a.publisher().messages()[0]
                .message
                .contains("The event lists no container")
        );
    }

    #[tokio::test]
    async fn spot_severity_is_configurable() {
        let a = alert(lines(), &[("SPOT_SEVERITY", "NOTICE")]);
        run(&a, sample("spot-interruption.json")).await.unwrap();
        assert!(
            a.publisher().messages()[0]
                .subject
                .starts_with("[NOTICE] worker: Spot interruption")
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_slow_log_lookup_gives_way_to_the_deadline() {
        struct Slow;
        impl LogSource for Slow {
            async fn last_lines(&self, _: LogRequest<'_>) -> Fetched {
                tokio::time::sleep(Duration::from_secs(3600)).await;
                Fetched {
                    essential: None,
                    logs: LogOutcome::NoLogConfiguration,
                }
            }
        }
        let config = TaskAlertConfig::from_env(&Env::from_pairs([
            ("ALERT_TOPIC_ARN", "arn:aws:sns:us-east-1:123456789012:alerts"),
            ("MESSAGE_FORMAT", "text"),
        ]))
        .unwrap();
        let a = TaskAlert::new(config, Slow, MemoryPublisher::default()).unwrap();
        let summary = run_until(
            &a,
            sample("oom-killed.json"),
            Deadline::after(Duration::from_secs(10)),
        )
        .await
        .unwrap();
        assert_eq!(summary.alerts[0].logs, Some("timedOut"));
        assert!(
            a.publisher().messages()[0]
                .message
                .contains("would have run past the Lambda deadline")
        );
    }
    #[tokio::test]
    async fn a_suppressed_repeat_or_a_delivered_retry_reads_no_log_lines() {
        // 2025-11-25T18:04:10Z
        let clock = TestClock(Arc::new(AtomicU64::new(1_764_093_850)));
        let store = MemoryStore::new(Duration::from_secs(24 * 3600), clock);
        let a = alert(lines(), &[]).with_state(Some(store));
        let stop = |id: &str| {
            with_task(
                sample("oom-killed.json"),
                &format!("ccccccccccccccccccccccccccccccc{id}"),
                6,
                "2025-11-25T18:04:10.512Z",
            )
        };
        let first = run(&a, stop("1")).await.unwrap();
        assert_eq!(first.alerts[0].outcome, Outcome::Published);
        assert_eq!(first.alerts[0].logs, Some("shown"));
        assert_eq!(a.logs.asked.lock().unwrap().len(), 1);
        let repeat = run(&a, stop("2")).await.unwrap();
        assert_eq!(repeat.alerts[0].outcome, Outcome::Suppressed);
        assert_eq!(repeat.alerts[0].logs, Some("notRead"));
        let retry = run(&a, stop("1")).await.unwrap();
        assert_eq!(retry.alerts[0].outcome, Outcome::AlreadyDelivered);
        assert_eq!(
            a.logs.asked.lock().unwrap().len(),
            1,
            "only the alert that was sent looked its log lines up"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn slow_log_lines_leave_a_slow_publish_its_time() {
        /// CloudWatch Logs that never answers.
        struct Hung;
        impl LogSource for Hung {
            async fn last_lines(&self, _: LogRequest<'_>) -> Fetched {
                std::future::pending().await
            }
        }
        /// SNS that answers after 6 s.
        #[derive(Default)]
        struct SlowSns(MemoryPublisher);
        impl Publisher for SlowSns {
            async fn publish(
                &self,
                message: &lookout_shared::notification::SnsMessage,
            ) -> Result<String, lookout_shared::publish::PublishError> {
                tokio::time::sleep(Duration::from_secs(6)).await;
                self.0.publish(message).await
            }
        }
        let config = TaskAlertConfig::from_env(&Env::from_pairs([
            ("ALERT_TOPIC_ARN", "arn:aws:sns:us-east-1:123456789012:alerts"),
            ("MESSAGE_FORMAT", "text"),
        ]))
        .unwrap();
        let a = TaskAlert::new(config, Hung, SlowSns::default()).unwrap();
        let started = tokio::time::Instant::now();
        // 15 s: the lookup may take 5 of them (its cap), leaving the publish 9.5 before the
        // 500 ms margin. Before, it took all but 2 s, and the publish ran out of time.
        let summary = run_until(
            &a,
            sample("oom-killed.json"),
            Deadline::after(Duration::from_secs(15)),
        )
        .await
        .unwrap();
        assert_eq!(summary.alerts[0].outcome, Outcome::Published);
        assert_eq!(summary.alerts[0].logs, Some("timedOut"));
        assert_eq!(started.elapsed(), Duration::from_secs(5 + 6));
        assert_eq!(a.publisher().0.messages().len(), 1);
    }
}
