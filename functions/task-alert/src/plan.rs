//! What to do with a batch, decided without I/O: keep the newest version of each task's state
//! change, classify every event ([`crate::classify`]), group a service's stops for the same
//! problem into one alert, and redact the reasons the alerts show. A task stop alert leaves
//! its log lines to read: [`PendingLogs`], read only once the alert is admitted. A service
//! steady again is a [`Recovery`], resolved against the state table by the handler.

use crate::alert::{Alert, HealthAlert, ServiceAlert, StoppedTask, TaskStopAlert};
use crate::arn::TaskDefinitionArn;
use crate::classify::{self, Abnormal, News, Problem, ServiceNews, Verdict};
use crate::event::{Container, Event, EventKind, Meta, ServiceAction, TaskStop};
use crate::logs::{LogOutcome, LogRequest};
use crate::recovery::Recovery;
use crate::summary::Summary;
use lookout_shared::redact::Redactor;
use lookout_shared::severity::Severity;
use std::collections::HashMap;

/// One alert to deliver, and the log lookup it needs first (task stops with a container).
#[derive(Debug)]
pub(crate) struct Planned {
    pub(crate) alert: Alert,
    pub(crate) logs: Option<PendingLogs>,
}

/// The log lookup a task stop alert needs, made only once the alert is admitted.
#[derive(Debug, Clone)]
pub(crate) struct PendingLogs {
    task_definition: TaskDefinitionArn,
    container: String,
    task_id: String,
    runtime_id: Option<String>,
    /// When more than one container stopped the task: all of them, the one blamed first
    /// (reasons redacted). The task definition says which is essential ([`Self::blame`]).
    pub(crate) candidates: Vec<Container>,
    /// The non-essential container among the candidates that is not blamed: its last lines
    /// are the second section, when they fit.
    pub(crate) sidecar: Option<Container>,
}

impl PendingLogs {
    pub(crate) fn request(&self) -> LogRequest<'_> {
        LogRequest {
            task_definition: &self.task_definition,
            container: &self.container,
            task_id: &self.task_id,
            runtime_id: self.runtime_id.as_deref(),
        }
    }

    /// The sidecar's log lookup, when there is a sidecar.
    pub(crate) fn sidecar_request(&self) -> Option<LogRequest<'_>> {
        self.sidecar.as_ref().map(|c| LogRequest {
            task_definition: &self.task_definition,
            container: &c.name,
            task_id: &self.task_id,
            runtime_id: c.runtime_id.as_deref(),
        })
    }

    pub(crate) fn task_definition(&self) -> &TaskDefinitionArn {
        &self.task_definition
    }

    /// Reads the logs of `candidates[i]` instead: it is the container to blame.
    pub(crate) fn blame(&mut self, i: usize) -> Option<&Container> {
        let c = self.candidates.get(i)?;
        self.container = c.name.clone();
        self.runtime_id = c.runtime_id.clone();
        Some(c)
    }
}

/// The alerts of a batch (task stops first), the recoveries to resolve, and the summary so far.
#[derive(Debug, Default)]
pub(crate) struct Plan {
    pub(crate) alerts: Vec<Planned>,
    pub(crate) recoveries: Vec<Recovery>,
    pub(crate) summary: Summary,
}

/// A group of abnormal stops: same cluster, same service (or family), same problem.
#[derive(Debug)]
struct StopGroup {
    meta: Meta,
    /// Newest first, once sorted.
    stops: Vec<(Box<TaskStop>, Abnormal, String)>,
}

/// Keeps the newest version of each task's state change (ECS may deliver them more than once
/// and out of order), classifies, groups and redacts. `spot` is `SPOT_SEVERITY`.
pub(crate) fn plan(events: Vec<Event>, redactor: &Redactor, spot: Severity) -> Plan {
    let mut summary = Summary {
        events: events.len(),
        ..Summary::default()
    };
    let keep = newest_versions(&events, &mut summary);
    let mut groups: Vec<StopGroup> = Vec::new();
    let mut ready = Vec::new();
    let mut recoveries = Vec::new();
    let redact = |s: String| redactor.redact(&s).0.into_owned();
    for (event, kept) in events.into_iter().zip(keep) {
        if !kept {
            continue;
        }
        let Event { meta, kind } = event;
        let ignored = match kind {
            EventKind::Task(task) => match classify::classify(&task) {
                Verdict::NotStopped => Some("task not stopped"),
                Verdict::Expected(why) => {
                    *summary.expected_stops.entry(why.as_str()).or_default() += 1;
                    None
                }
                Verdict::Abnormal(abnormal) => {
                    group(&mut groups, meta, task, abnormal);
                    None
                }
            },
            EventKind::Deployment(d) => match classify::deployment(&d) {
                ServiceNews::Ignored(why) => Some(why),
                ServiceNews::Steady => recovery(
                    &mut recoveries,
                    meta,
                    d.service.cluster.clone(),
                    Some(d.service.name.clone()),
                    d.event_name,
                    d.updated_at_ms,
                ),
                ServiceNews::Failed(problem) => {
                    ready.push(Alert::Service(ServiceAlert {
                        problem,
                        account: meta.account,
                        region: meta.region,
                        cluster: d.service.cluster.clone(),
                        service: Some(d.service.name.clone()),
                        event_name: d.event_name,
                        deployment_id: d.deployment_id,
                        reason: d.reason.map(redact),
                        capacity_providers: Vec::new(),
                        // When the deployment failed, not when EventBridge sent the event.
                        at_ms: d.updated_at_ms.or(meta.time_ms),
                        event_id: meta.id,
                    }));
                    None
                }
            },
            EventKind::ServiceAction(a) => match classify::service_action(&a) {
                ServiceNews::Ignored(why) => Some(why),
                ServiceNews::Steady => {
                    let cluster = service_cluster(&a);
                    let service = a.service.map(|s| s.name);
                    recovery(
                        &mut recoveries,
                        meta,
                        cluster,
                        service,
                        a.event_name,
                        a.created_at_ms,
                    )
                }
                ServiceNews::Failed(problem) => {
                    let cluster = service_cluster(&a);
                    ready.push(Alert::Service(ServiceAlert {
                        problem,
                        account: meta.account,
                        region: meta.region,
                        cluster,
                        service: a.service.map(|s| s.name),
                        event_name: a.event_name,
                        deployment_id: None,
                        reason: a.reason.map(redact),
                        capacity_providers: a.capacity_providers,
                        at_ms: a.created_at_ms.or(meta.time_ms),
                        event_id: meta.id,
                    }));
                    None
                }
            },
            EventKind::Health(h) => match classify::health(&h) {
                News::Ignored(why) => Some(why),
                News::Alert(()) => {
                    ready.push(Alert::Health(HealthAlert {
                        account: meta.account,
                        region: meta.region,
                        event_type_code: h.event_type_code,
                        category: h.event_type_category,
                        event_arn: h.event_arn,
                        start_time: h.start_time,
                        end_time: h.end_time,
                        description: h.description.map(redact),
                        entities: h.entities,
                        event_id: meta.id,
                    }));
                    None
                }
            },
        };
        if let Some(why) = ignored {
            *summary.ignored.entry(why).or_default() += 1;
        }
    }
    let mut alerts: Vec<Planned> = groups
        .into_iter()
        .map(|mut g| {
            g.stops
                .sort_by_key(|(t, _, _)| std::cmp::Reverse(t.stopped_at_ms));
            task_stop_alert(g, redactor, spot)
        })
        .collect();
    alerts.extend(ready.into_iter().map(|alert| Planned { alert, logs: None }));
    Plan {
        alerts,
        recoveries,
        summary,
    }
}

/// A service action's cluster: its `clusterArn`, else the service ARN's.
fn service_cluster(a: &ServiceAction) -> Option<String> {
    a.cluster
        .as_ref()
        .map(|c| c.name.clone())
        .or_else(|| a.service.as_ref().and_then(|s| s.cluster.clone()))
}

/// Adds a recovery of the service, or says why there is none: a steady state resolves
/// something only for a named service of a named cluster (its note's key).
fn recovery(
    recoveries: &mut Vec<Recovery>,
    meta: Meta,
    cluster: Option<String>,
    service: Option<String>,
    event_name: String,
    at_ms: Option<i64>,
) -> Option<&'static str> {
    let (Some(cluster), Some(service)) = (cluster, service) else {
        return Some("steady-state event that names no cluster and service");
    };
    recoveries.push(Recovery {
        account: meta.account,
        region: meta.region,
        cluster,
        service,
        event_name,
        at_ms: at_ms.or(meta.time_ms),
        event_id: meta.id,
    });
    None
}

/// Which events to keep: of a task's state changes, the newest version (without versions, the
/// later event of the batch); an identical version counts as a duplicate.
fn newest_versions(events: &[Event], summary: &mut Summary) -> Vec<bool> {
    let mut newest: HashMap<&str, usize> = HashMap::new();
    let mut keep = vec![true; events.len()];
    for (i, e) in events.iter().enumerate() {
        let EventKind::Task(t) = &e.kind else { continue };
        let Some(j) = newest.get(t.task.arn.as_str()).copied() else {
            newest.insert(&t.task.arn, i);
            continue;
        };
        let EventKind::Task(other) = &events[j].kind else {
            continue;
        };
        if t.version.is_some() && t.version == other.version {
            summary.duplicate_events += 1;
            keep[i] = false;
        } else {
            summary.stale_events += 1;
            if t.version.unwrap_or(u64::MAX) >= other.version.unwrap_or(0) {
                keep[j] = false;
                newest.insert(&t.task.arn, i);
            } else {
                keep[i] = false;
            }
        }
    }
    keep
}

/// Adds a stop to the group of its cluster, service (or family) and problem.
fn group(groups: &mut Vec<StopGroup>, meta: Meta, task: Box<TaskStop>, abnormal: Abnormal) {
    let id = meta.id.clone();
    let same = |g: &StopGroup| {
        let (first, a, _) = &g.stops[0];
        first.cluster == task.cluster
            && first.group == task.group
            && first.task_definition.family == task.task_definition.family
            && a.problem == abnormal.problem
    };
    match groups.iter_mut().find(|g| same(g)) {
        Some(g) => g.stops.push((task, abnormal, id)),
        None => groups.push(StopGroup {
            meta,
            stops: vec![(task, abnormal, id)],
        }),
    }
}

/// The alert for one group: the newest stop's failed container, its reasons redacted, without
/// its log lines yet; the lookup they need comes with it.
fn task_stop_alert(group: StopGroup, redactor: &Redactor, spot: Severity) -> Planned {
    let StopGroup { meta, stops } = group;
    let (newest, abnormal, _) = &stops[0];
    let problem = abnormal.problem;
    let failed = abnormal.container.and_then(|i| newest.containers.get(i));
    // Health checks, Spot and the like name no container: read the first one's logs.
    let log_container = failed.or(newest.containers.first());
    let mut redactions = 0usize;
    let mut redact = |s: &str| {
        let (out, n) = redactor.redact(s);
        redactions = redactions.saturating_add(n);
        out.into_owned()
    };
    // A task that more than one container stopped (an essential one and a sidecar ECS then
    // stopped): which one to blame is the task definition's to say (the handler asks it).
    // Their reasons are redacted by the handler, if one is blamed instead.
    let candidates: Vec<Container> = match (failed, problem) {
        (Some(first), Problem::EssentialContainerExited | Problem::OutOfMemory) => {
            let others = newest
                .containers
                .iter()
                .filter(|c| c.name != first.name && classify::stopped_it(c));
            let all: Vec<Container> = std::iter::once(first).chain(others).cloned().collect();
            if all.len() > 1 { all } else { Vec::new() }
        }
        _ => Vec::new(),
    };
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
                candidates,
                sidecar: None,
            }),
        ),
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
    let alert = TaskStopAlert {
        problem,
        severity: problem.severity(spot),
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
        sidecar: None,
        crash_loop: None,
        event_ids: stops.iter().map(|(_, _, id)| id.clone()).collect(),
    };
    Planned {
        alert: Alert::TaskStop(Box::new(alert)),
        logs: pending,
    }
}
