//! The alerts task-alert sends, and what identifies each: the idempotency identity (the same
//! input, the same alert) and the crash-loop parts it is suppressed on across invocations.
//! Rendering is [`crate::render`], one module per kind.

use crate::arn::{ClusterArn, TaskArn, TaskDefinitionArn};
use crate::classify::{Problem, ServiceProblem};
use crate::event::{AffectedEntity, Container};
use crate::logs::LogOutcome;
use lookout_shared::ids::{AccountId, Region};
use lookout_shared::severity::Severity;

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
    pub(crate) event_ids: Vec<String>,
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
        }
    }

    /// The `reason` MessageAttribute and summary field.
    pub(crate) fn reason(&self) -> &'static str {
        match self {
            Alert::TaskStop(a) => a.problem.as_str(),
            Alert::Service(a) => a.problem.as_str(),
            Alert::Health(a) if a.is_retirement() => "TaskRetirement",
            Alert::Health(_) => "HealthNotice",
        }
    }

    pub(crate) fn cluster(&self) -> Option<&str> {
        match self {
            Alert::TaskStop(a) => Some(&a.cluster.name),
            Alert::Service(a) => a.cluster.as_deref(),
            Alert::Health(_) => None,
        }
    }

    pub(crate) fn service(&self) -> Option<&str> {
        match self {
            Alert::TaskStop(a) => a.service.as_deref(),
            Alert::Service(a) => a.service.as_deref(),
            Alert::Health(_) => None,
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
        }
    }

    /// What makes two alerts the same crash loop across invocations (cluster, service or
    /// family, problem); `None`: never held back (Health notices are each news).
    pub(crate) fn loop_parts(&self) -> Option<[String; 3]> {
        match self {
            Alert::TaskStop(a) => Some([
                a.cluster.name.clone(),
                a.service
                    .clone()
                    .unwrap_or_else(|| a.task_definition.family.clone()),
                a.problem.as_str().to_string(),
            ]),
            Alert::Service(a) => Some([
                a.cluster.clone().unwrap_or_default(),
                a.service.clone().unwrap_or_default(),
                a.problem.as_str().to_string(),
            ]),
            Alert::Health(_) => None,
        }
    }
}
