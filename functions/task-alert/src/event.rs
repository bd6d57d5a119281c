//! The EventBridge events task-alert handles: typed by `aws_lambda_events` ([`detail`]), then
//! checked into the values below ([`check`]), which the rest of the crate trusts. A malformed
//! event fails with a named error that names the field, never its value.

mod check;
mod detail;
#[cfg(test)]
mod tests;

use crate::arn::{ClusterArn, ServiceArn, TaskArn, TaskDefinitionArn};
pub use detail::Batch;
use detail::{DEPLOYMENT_STATE_CHANGE, Events, HEALTH_EVENT, MAX_BATCH, SERVICE_ACTION, TASK_STATE_CHANGE};
use lookout_shared::accounts::MemberAccounts;
use lookout_shared::envelope::Malformed;
use lookout_shared::ids::{AccountId, Region};
use serde::Serialize;
use std::collections::BTreeMap;

/// Why a payload is not a batch of events task-alert handles.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EventError {
    #[error("event field {field} {problem}")]
    Field { field: String, problem: &'static str },
    /// A field of the wrong JSON type, or a required envelope field missing (said by serde,
    /// in words that never quote the payload).
    #[error("the event is not an EventBridge event task-alert can read: {0}")]
    Malformed(#[from] Malformed),
    #[error("the event is neither an EventBridge event object nor an array of them")]
    NotAnEvent,
    #[error("the batch has {0} events; at most {MAX_BATCH} are accepted")]
    TooMany(usize),
    #[error(
        "event field {field} is not a detail-type task-alert handles ({TASK_STATE_CHANGE}, {DEPLOYMENT_STATE_CHANGE}, {SERVICE_ACTION}, {HEALTH_EVENT}): check the rule's event pattern"
    )]
    Unsupported { field: String },
    /// An ARN of another account or region (so partition) than the event's own `account` and
    /// `region`: not an event AWS sends, and it would have the function read another's logs.
    #[error("event field {field} {problem}: an event's ARNs must be of its own account and region")]
    Mismatch { field: String, problem: &'static str },
}

/// The envelope fields every alert uses.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct Meta {
    pub(crate) id: String,
    /// Absent only in events that name no ARN.
    pub(crate) account: Option<AccountId>,
    pub(crate) region: Region,
    /// The event's `time`, epoch milliseconds.
    pub(crate) time_ms: Option<i64>,
}

/// One checked event.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub(crate) meta: Meta,
    pub(crate) kind: EventKind,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum EventKind {
    Task(Box<TaskStop>),
    Deployment(DeploymentChange),
    ServiceAction(ServiceAction),
    Health(HealthNotice),
}

/// `ECS Task State Change` (any status; only `STOPPED` matters).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TaskStop {
    pub(crate) task: TaskArn,
    pub(crate) cluster: ClusterArn,
    pub(crate) task_definition: TaskDefinitionArn,
    /// `service:NAME` for service tasks, `family:NAME` for others.
    pub(crate) group: Option<String>,
    pub(crate) started_by: Option<String>,
    pub(crate) last_status: String,
    pub(crate) desired_status: Option<String>,
    pub(crate) stop_code: Option<String>,
    pub(crate) stopped_reason: Option<String>,
    pub(crate) stopped_at_ms: Option<i64>,
    pub(crate) launch_type: Option<String>,
    pub(crate) capacity_provider: Option<String>,
    pub(crate) containers: Vec<Container>,
    /// Incremented on every state change of the task: higher is newer.
    pub(crate) version: Option<u64>,
}

impl TaskStop {
    /// The service's name when the service scheduler started the task (`group` = `service:NAME`).
    pub(crate) fn service(&self) -> Option<&str> {
        self.group
            .as_deref()
            .and_then(|g| g.strip_prefix("service:"))
            .filter(|name| crate::arn::is_ecs_name(name))
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Container {
    pub(crate) name: String,
    pub(crate) exit_code: Option<i64>,
    pub(crate) reason: Option<String>,
    pub(crate) last_status: Option<String>,
    /// The container runtime's id: the awslogs stream name when no prefix is set (EC2).
    pub(crate) runtime_id: Option<String>,
}

/// `ECS Deployment State Change`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DeploymentChange {
    pub(crate) event_type: Option<String>,
    pub(crate) event_name: String,
    pub(crate) deployment_id: Option<String>,
    pub(crate) reason: Option<String>,
    pub(crate) service: ServiceArn,
    /// `detail.updatedAt` when it is an ISO 8601 time.
    pub(crate) updated_at_ms: Option<i64>,
}

/// `ECS Service Action`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ServiceAction {
    pub(crate) event_type: Option<String>,
    pub(crate) event_name: String,
    pub(crate) cluster: Option<ClusterArn>,
    pub(crate) service: Option<ServiceArn>,
    pub(crate) reason: Option<String>,
    pub(crate) capacity_providers: Vec<String>,
    pub(crate) created_at_ms: Option<i64>,
}

/// `AWS Health Event` for ECS: task retirements and patching notices.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct HealthNotice {
    pub(crate) service: String,
    pub(crate) event_type_code: String,
    pub(crate) event_type_category: Option<String>,
    pub(crate) event_arn: Option<String>,
    /// As AWS wrote it (`Wed, 16 Aug 2023 23:09:20 GMT`): the retirement starts after it.
    pub(crate) start_time: Option<String>,
    pub(crate) end_time: Option<String>,
    pub(crate) description: Option<String>,
    pub(crate) entities: Vec<AffectedEntity>,
    /// The entities are the detail's `affectedEntities` (else the event's `resources`).
    pub(crate) entities_from_detail: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub(crate) enum AffectedEntity {
    Task(TaskArn),
    /// `cluster/service`, the form Health uses for service tasks.
    Service {
        cluster: String,
        service: String,
    },
    /// Anything else, shown quoted.
    Other {
        value: String,
    },
}

impl Batch {
    /// Checks every event; the first that fails names its field (`[3].detail.taskArn`).
    pub fn into_events(self) -> Result<Vec<Event>, EventError> {
        match self.0 {
            Events::One(event) => Ok(vec![check::event(*event, "")?]),
            Events::Many(events) => events
                .into_iter()
                .enumerate()
                .map(|(i, event)| check::event(event, &format!("[{i}].")))
                .collect(),
            Events::TooMany(n) => Err(EventError::TooMany(n)),
            Events::NotAnEvent => Err(EventError::NotAnEvent),
        }
    }
}

/// The events of a payload as the runtime hands it over (typed, or why it is not).
pub fn parse(batch: Result<Batch, Malformed>) -> Result<Vec<Event>, EventError> {
    batch?.into_events()
}

/// A JSON document's events, as `handle` reads them (tests build events this way).
#[cfg(test)]
pub(crate) fn parse_value(payload: serde_json::Value) -> Result<Vec<Event>, EventError> {
    parse(
        lookout_shared::envelope::Incoming::<Batch>::from_document(payload)
            .into_parts()
            .1,
    )
}

/// Why an event was not read, for the summary's `ignored`.
const OTHER_ACCOUNT_OR_REGION: &str = "event of another account or region";
const NOT_A_MEMBER: &str = "event of an account not in MEMBER_ACCOUNTS";
const OTHER_PARTITION: &str = "event of another partition";
const NO_ACCOUNT: &str = "event that names no account";

/// Keeps the events task-alert reads, and counts the others by why.
///
/// - Without `MEMBER_ACCOUNTS` (`members` `None`): the function's own account and region only.
///   A consistent event of another account or region is not one task-alert was set up for (a
///   direct `lambda:Invoke` could name another team's tasks), and reading it would read that
///   account's logs with this function's role.
/// - With it (organisation mode): the own account's and the members', in any region of the
///   function's partition; their reads are made in the event's account (through its reader
///   role) and region.
///
/// Ignored events are not failed, like a Health event for another service: nothing in them is
/// malformed.
pub(crate) fn accepted_events(
    events: Vec<Event>,
    own: &AccountId,
    region: &Region,
    members: Option<&MemberAccounts>,
) -> (Vec<Event>, BTreeMap<&'static str, usize>) {
    let mut ignored: BTreeMap<&'static str, usize> = BTreeMap::new();
    let kept = events
        .into_iter()
        .filter(|e| {
            let why = match (&e.meta.account, members) {
                (Some(a), None) if a == own && e.meta.region == *region => return true,
                (_, None) => OTHER_ACCOUNT_OR_REGION,
                (None, Some(_)) => NO_ACCOUNT,
                (Some(_), Some(_)) if e.meta.region.partition() != region.partition() => OTHER_PARTITION,
                (Some(a), Some(m)) if a == own || m.accepts(a) => return true,
                (Some(_), Some(_)) => NOT_A_MEMBER,
            };
            *ignored.entry(why).or_default() += 1;
            false
        })
        .collect();
    (kept, ignored)
}
