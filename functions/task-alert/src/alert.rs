//! The alerts task-alert sends, and what identifies each: the idempotency identity (the same
//! input, the same alert), the crash-loop parts it is suppressed on across invocations, and
//! the open alert it leaves for a recovery to resolve. Rendering is [`crate::render`], one
//! module per kind.

use crate::arn::{ClusterArn, TaskArn, TaskDefinitionArn};
use crate::classify::{Problem, ServiceProblem};
use crate::event::{AffectedEntity, Container};
use crate::logs::LogOutcome;
use crate::recovery::{self, OpenAlert, Opened, Recovery};
use lookout_shared::ids::{AccountId, Region};
use lookout_shared::severity::Severity;
use lookout_shared::state::NoteKey;
use serde::{Serialize, Serializer};

/// One stopped task of an alert.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct StoppedTask {
    pub(crate) task: TaskArn,
    pub(crate) stopped_at_ms: Option<i64>,
    pub(crate) stop_code: Option<String>,
    /// Redacted.
    pub(crate) stopped_reason: Option<String>,
    pub(crate) version: Option<u64>,
}

/// Abnormal stops of one service (or task family) for one reason, newest first.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct TaskStopAlert {
    pub(crate) problem: Problem,
    pub(crate) severity: Severity,
    pub(crate) account: Option<AccountId>,
    pub(crate) region: Region,
    pub(crate) cluster: ClusterArn,
    pub(crate) service: Option<String>,
    pub(crate) task_definition: TaskDefinitionArn,
    pub(crate) tasks: Vec<StoppedTask>,
    /// The failed container of the newest task (reason redacted).
    pub(crate) container: Option<Container>,
    /// The container whose logs were read: the failed one, else the first of the task.
    pub(crate) log_container: Option<String>,
    pub(crate) essential: Option<bool>,
    /// The newest task's container logs, lines redacted.
    pub(crate) logs: LogOutcome,
    pub(crate) redactions: usize,
    /// The non-essential sidecar that stopped with the blamed container, and its last lines:
    /// a second section when they fit.
    pub(crate) sidecar: Option<SidecarLogs>,
    /// Set when this stop reached `CRASH_LOOP_STOPS` inside the window.
    pub(crate) crash_loop: Option<CrashLoop>,
    pub(crate) event_ids: Vec<String>,
}

/// A sidecar's last lines (redacted), shown after the blamed container's.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SidecarLogs {
    pub(crate) name: String,
    pub(crate) exit_code: Option<i64>,
    pub(crate) logs: LogOutcome,
    pub(crate) redactions: usize,
}

/// A crash loop named when it happens: `loop` in the JSON document, `crashLoop` in the
/// invocation's summary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub(crate) struct CrashLoop {
    /// Stops of the service for this problem inside the window, this one included.
    pub(crate) stops: u64,
    /// When the window's first alert went out, epoch ms (ISO 8601 when serialized).
    #[serde(rename = "since", serialize_with = "iso8601")]
    pub(crate) since_ms: i64,
}

fn iso8601<S: Serializer>(epoch_ms: &i64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&lookout_shared::time::iso8601_ms(*epoch_ms))
}

/// A service steady again after an open alert: the `[RESOLVED]` message.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ResolvedAlert {
    pub(crate) recovery: Recovery,
    pub(crate) open: OpenAlert,
}

/// A service-level event: deployment failure or rollback, placement or start problems.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ServiceAlert {
    pub(crate) problem: ServiceProblem,
    pub(crate) account: Option<AccountId>,
    pub(crate) region: Region,
    pub(crate) cluster: Option<String>,
    pub(crate) service: Option<String>,
    pub(crate) event_name: String,
    pub(crate) deployment_id: Option<String>,
    /// Redacted.
    pub(crate) reason: Option<String>,
    pub(crate) capacity_providers: Vec<String>,
    pub(crate) at_ms: Option<i64>,
    pub(crate) event_id: String,
}

/// An AWS Health notice for ECS: tasks to be retired (SIGTERM, then SIGKILL) after a time.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct HealthAlert {
    pub(crate) account: Option<AccountId>,
    pub(crate) region: Region,
    pub(crate) event_type_code: String,
    pub(crate) category: Option<String>,
    pub(crate) event_arn: Option<String>,
    pub(crate) start_time: Option<String>,
    pub(crate) end_time: Option<String>,
    /// Redacted.
    pub(crate) description: Option<String>,
    pub(crate) entities: Vec<AffectedEntity>,
    pub(crate) event_id: String,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Alert {
    TaskStop(Box<TaskStopAlert>),
    Service(ServiceAlert),
    Health(HealthAlert),
    Resolved(Box<ResolvedAlert>),
}

impl HealthAlert {
    pub(crate) fn is_retirement(&self) -> bool {
        self.event_type_code.contains("RETIREMENT")
    }
}

impl Alert {
    pub(crate) fn severity(&self) -> Severity {
        match self {
            Alert::TaskStop(a) => a.severity,
            Alert::Service(a) => a.problem.severity(),
            Alert::Health(_) => Severity::Warning,
            // Routed as the alert it resolves (filter policies on `severity`).
            Alert::Resolved(a) => a.open.severity,
        }
    }

    /// The `reason` MessageAttribute and summary field.
    pub(crate) fn reason(&self) -> &'static str {
        match self {
            Alert::TaskStop(a) => a.problem.as_str(),
            Alert::Service(a) => a.problem.as_str(),
            Alert::Health(a) if a.is_retirement() => "TaskRetirement",
            Alert::Health(_) => "HealthNotice",
            Alert::Resolved(a) => a.open.what.reason(),
        }
    }

    /// The account the alert is about (every alert read has one: `event::accepted_events`).
    pub(crate) fn account(&self) -> Option<&AccountId> {
        match self {
            Alert::TaskStop(a) => a.account.as_ref(),
            Alert::Service(a) => a.account.as_ref(),
            Alert::Health(a) => a.account.as_ref(),
            Alert::Resolved(a) => a.recovery.account.as_ref(),
        }
    }

    pub(crate) fn cluster(&self) -> Option<&str> {
        match self {
            Alert::TaskStop(a) => Some(&a.cluster.name),
            Alert::Service(a) => a.cluster.as_deref(),
            Alert::Health(_) => None,
            Alert::Resolved(a) => Some(&a.recovery.cluster),
        }
    }

    pub(crate) fn service(&self) -> Option<&str> {
        match self {
            Alert::TaskStop(a) => a.service.as_deref(),
            Alert::Service(a) => a.service.as_deref(),
            Alert::Health(_) => None,
            Alert::Resolved(a) => Some(&a.recovery.service),
        }
    }

    /// Stable per event (or per group of task events): the same input, the same identity.
    pub(crate) fn identity(&self) -> String {
        match self {
            Alert::TaskStop(a) => {
                let mut ids: Vec<String> = a
                    .tasks
                    .iter()
                    .map(|t| format!("{}@{}", t.task.arn, t.version.unwrap_or(0)))
                    .collect();
                ids.sort();
                format!("task-alert|{}|{}", a.problem.as_str(), ids.join(","))
            }
            Alert::Service(a) => format!("task-alert|{}|{}", a.problem.as_str(), a.event_id),
            Alert::Health(a) => format!(
                "task-alert|health|{}|{}",
                a.event_arn.as_deref().unwrap_or_default(),
                a.event_id
            ),
            Alert::Resolved(a) => a.recovery.identity(),
        }
    }

    /// What makes two alerts the same crash loop across invocations (account, region,
    /// cluster, service or family, problem: `prod/web` of two member accounts are two
    /// services); `None`: never held back (Health notices are each news).
    pub(crate) fn loop_parts(&self) -> Option<[String; 5]> {
        let place = |account: Option<&AccountId>, region: &Region| {
            [
                account.map(|a| a.as_str().to_owned()).unwrap_or_default(),
                region.as_str().to_owned(),
            ]
        };
        match self {
            Alert::TaskStop(a) => {
                let [account, region] = place(a.account.as_ref(), &a.region);
                Some([
                    account,
                    region,
                    a.cluster.name.clone(),
                    a.service
                        .clone()
                        .unwrap_or_else(|| a.task_definition.family.clone()),
                    a.problem.as_str().to_string(),
                ])
            }
            Alert::Service(a) => {
                let [account, region] = place(a.account.as_ref(), &a.region);
                Some([
                    account,
                    region,
                    a.cluster.clone().unwrap_or_default(),
                    a.service.clone().unwrap_or_default(),
                    a.problem.as_str().to_string(),
                ])
            }
            Alert::Health(_) | Alert::Resolved(_) => None,
        }
    }

    /// Where the service's open alert is noted, for an alert that may open one: a task stop
    /// of a service (a crash loop, once escalated) or a failed deployment.
    pub(crate) fn note_key(&self) -> Option<NoteKey> {
        match self {
            Alert::TaskStop(a) => recovery::note_key(
                a.account.as_ref(),
                &a.region,
                &a.cluster.name,
                a.service.as_deref()?,
            ),
            Alert::Service(a) if a.problem.is_deployment() => recovery::note_key(
                a.account.as_ref(),
                &a.region,
                a.cluster.as_deref()?,
                a.service.as_deref()?,
            ),
            Alert::Service(_) | Alert::Health(_) | Alert::Resolved(_) => None,
        }
    }

    /// The open alert this one leaves once delivered (unconfirmed until then): a crash loop
    /// or a failed deployment, of a service. `key`: its idempotency key; `subject`: as sent.
    pub(crate) fn opens(&self, key: &str, subject: &str) -> Option<OpenAlert> {
        let (what, at_ms, since_ms) = match self {
            Alert::TaskStop(a) => {
                let crash_loop = a.crash_loop?;
                let at = a.tasks.first().and_then(|t| t.stopped_at_ms);
                let what = Opened::CrashLoop {
                    problem: a.problem,
                    stops: crash_loop.stops,
                };
                (what, at, Some(crash_loop.since_ms))
            }
            Alert::Service(a) if a.problem.is_deployment() => (
                Opened::deployment(a.problem, a.deployment_id.as_deref()),
                a.at_ms,
                a.at_ms,
            ),
            Alert::Service(_) | Alert::Health(_) | Alert::Resolved(_) => return None,
        };
        self.note_key()?;
        Some(OpenAlert {
            what,
            severity: self.severity(),
            subject: subject.to_string(),
            at_ms,
            since_ms,
            key: key.to_string(),
            confirmed: false,
        })
    }
}
