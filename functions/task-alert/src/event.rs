//! The EventBridge events task-alert handles, read into typed values.
//!
//! Read field by field from the JSON, so that unknown fields are ignored (ECS adds fields
//! over time) and a malformed event fails naming the field and what was wrong with it,
//! never quoting the value.

use crate::arn::{ClusterArn, Region, ServiceArn, TaskArn, TaskDefinitionArn};
use serde::Serialize;
use serde_json::{Map, Value};

pub const TASK_STATE_CHANGE: &str = "ECS Task State Change";
pub const DEPLOYMENT_STATE_CHANGE: &str = "ECS Deployment State Change";
pub const SERVICE_ACTION: &str = "ECS Service Action";
pub const HEALTH_EVENT: &str = "AWS Health Event";

/// Batches (a JSON array of events) larger than this are refused: EventBridge hands a
/// Lambda target one event; arrays come from tests, replays and pipes.
pub const MAX_BATCH: usize = 1_000;
/// Text fields longer than this are cut; an ECS reason is at most 255 characters, a Health
/// description a few KiB. Reasons and descriptions are not cut here (`opt_prose`).
const MAX_TEXT_BYTES: usize = 8 << 10;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EventError {
    #[error("event field {field} {problem}")]
    Field { field: String, problem: &'static str },
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

impl EventError {
    fn field(field: String, problem: &'static str) -> Self {
        Self::Field { field, problem }
    }
}

/// The envelope fields every alert uses.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Meta {
    pub id: String,
    pub account: String,
    pub region: Region,
    /// The event's `time`, epoch milliseconds.
    pub time_ms: Option<i64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub meta: Meta,
    pub kind: EventKind,
}

#[derive(Debug, Clone, PartialEq)]
pub enum EventKind {
    Task(Box<TaskStop>),
    Deployment(DeploymentChange),
    ServiceAction(ServiceAction),
    Health(HealthNotice),
}

/// `ECS Task State Change` (any status; only `STOPPED` matters).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskStop {
    pub task: TaskArn,
    pub cluster: ClusterArn,
    pub task_definition: TaskDefinitionArn,
    /// `service:NAME` for service tasks, `family:NAME` for others.
    pub group: Option<String>,
    pub started_by: Option<String>,
    pub last_status: String,
    pub desired_status: Option<String>,
    pub stop_code: Option<String>,
    pub stopped_reason: Option<String>,
    pub stopped_at_ms: Option<i64>,
    pub launch_type: Option<String>,
    pub capacity_provider: Option<String>,
    pub containers: Vec<Container>,
    /// Incremented on every state change of the task: higher is newer.
    pub version: Option<u64>,
}

impl TaskStop {
    /// The service's name when the service scheduler started the task (`group` = `service:NAME`).
    pub fn service(&self) -> Option<&str> {
        self.group
            .as_deref()
            .and_then(|g| g.strip_prefix("service:"))
            .filter(|name| crate::arn::is_ecs_name(name))
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Container {
    pub name: String,
    pub exit_code: Option<i64>,
    pub reason: Option<String>,
    pub last_status: Option<String>,
    /// The container runtime's id: the awslogs stream name when no prefix is set (EC2).
    pub runtime_id: Option<String>,
}

/// `ECS Deployment State Change`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeploymentChange {
    pub event_type: Option<String>,
    pub event_name: String,
    pub deployment_id: Option<String>,
    pub reason: Option<String>,
    pub service: ServiceArn,
}

/// `ECS Service Action`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceAction {
    pub event_type: Option<String>,
    pub event_name: String,
    pub cluster: Option<ClusterArn>,
    pub service: Option<ServiceArn>,
    pub reason: Option<String>,
    pub capacity_providers: Vec<String>,
    pub created_at_ms: Option<i64>,
}

/// `AWS Health Event` for ECS: task retirements and patching notices.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HealthNotice {
    pub service: String,
    pub event_type_code: String,
    pub event_type_category: Option<String>,
    pub event_arn: Option<String>,
    /// As AWS wrote it (`Wed, 16 Aug 2023 23:09:20 GMT`): the retirement starts after it.
    pub start_time: Option<String>,
    pub end_time: Option<String>,
    pub description: Option<String>,
    pub entities: Vec<AffectedEntity>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum AffectedEntity {
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

/// A single event object, or an array of them.
pub fn parse_batch(payload: &Value) -> Result<Vec<Event>, EventError> {
    match payload {
        Value::Object(_) => Ok(vec![parse_event(payload, "")?]),
        Value::Array(items) if items.len() > MAX_BATCH => Err(EventError::TooMany(items.len())),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, item)| parse_event(item, &format!("[{i}].")))
            .collect(),
        _ => Err(EventError::NotAnEvent),
    }
}

/// One EventBridge event. `at` prefixes field names in errors (`[3].` inside a batch).
pub fn parse_event(value: &Value, at: &str) -> Result<Event, EventError> {
    let root = Obj::root(value, at)?;
    let detail_type = root.req_str("detail-type")?;
    let region = root.req_str("region")?;
    let meta = Meta {
        id: root.opt_str("id")?.unwrap_or_default().to_string(),
        account: match root.opt_str("account")? {
            None => String::new(),
            Some(a) if crate::arn::is_account(a) => a.to_string(),
            Some(_) => return Err(root.bad("account", "is not a 12-digit AWS account id")),
        },
        region: Region::parse(region).ok_or_else(|| root.bad("region", "is not an AWS region name"))?,
        time_ms: root.opt_str("time")?.and_then(parse_iso8601_ms),
    };
    // Only AWS can send events with an `aws.` source: a custom event cannot pose as ECS.
    let source = root.req_str("source")?;
    let expected_source = if detail_type == HEALTH_EVENT {
        "aws.health"
    } else {
        "aws.ecs"
    };
    if source != expected_source
        && [
            TASK_STATE_CHANGE,
            DEPLOYMENT_STATE_CHANGE,
            SERVICE_ACTION,
            HEALTH_EVENT,
        ]
        .contains(&detail_type)
    {
        return Err(root.bad("source", "is not the AWS service that sends this detail-type"));
    }
    let detail = root.req_obj("detail")?;
    let resources = root.opt_str_array("resources")?;
    let kind = match detail_type {
        TASK_STATE_CHANGE => EventKind::Task(Box::new(task_stop(&detail)?)),
        DEPLOYMENT_STATE_CHANGE => EventKind::Deployment(deployment(&root, &detail, &resources)?),
        SERVICE_ACTION => EventKind::ServiceAction(service_action(&root, &detail, &resources)?),
        HEALTH_EVENT => EventKind::Health(health(&detail, &resources)?),
        _ => {
            return Err(EventError::Unsupported {
                field: root.path("detail-type"),
            });
        }
    };
    check_arns(&root, &meta, &kind)?;
    Ok(Event { meta, kind })
}

/// Every ARN of the event is of the event's `account` and `region`, and so of its partition (an
/// ARN's partition is its region's: `arn::Arn::parse`). Names fields, never values.
fn check_arns(root: &Obj, meta: &Meta, kind: &EventKind) -> Result<(), EventError> {
    let mut arns: Vec<(String, &str, &Region)> = Vec::new();
    match kind {
        EventKind::Task(t) => {
            arns.push((
                root.path("detail.clusterArn"),
                t.cluster.account.as_str(),
                &t.cluster.region,
            ));
            arns.push((
                root.path("detail.taskArn"),
                t.task.account.as_str(),
                &t.task.region,
            ));
            let d = &t.task_definition;
            arns.push((
                root.path("detail.taskDefinitionArn"),
                d.account.as_str(),
                &d.region,
            ));
        }
        EventKind::Deployment(d) => {
            arns.push((
                root.path("resources[0]"),
                d.service.account.as_str(),
                &d.service.region,
            ));
        }
        EventKind::ServiceAction(a) => {
            if let Some(c) = &a.cluster {
                arns.push((root.path("detail.clusterArn"), c.account.as_str(), &c.region));
            }
            if let Some(s) = &a.service {
                arns.push((root.path("resources[0]"), s.account.as_str(), &s.region));
            }
        }
        EventKind::Health(h) => {
            // Where `health` took the entities from: the detail's, else `resources`.
            let from_detail = root
                .get("detail")
                .and_then(|d| d.get("affectedEntities"))
                .and_then(Value::as_array)
                .is_some_and(|a| {
                    a.iter()
                        .any(|e| e.get("entityValue").is_some_and(Value::is_string))
                });
            let field = root.path(if from_detail {
                "detail.affectedEntities"
            } else {
                "resources"
            });
            for entity in &h.entities {
                if let AffectedEntity::Task(t) = entity {
                    arns.push((field.clone(), t.account.as_str(), &t.region));
                }
            }
        }
    }
    for (field, account, region) in arns {
        if meta.account.is_empty() {
            return Err(root.bad("account", "is missing, and the event names ARNs"));
        }
        if account != meta.account {
            return Err(EventError::Mismatch {
                field,
                problem: "is of another account than the event's account",
            });
        }
        if *region != meta.region {
            return Err(EventError::Mismatch {
                field,
                problem: "is of another region than the event's region",
            });
        }
    }
    Ok(())
}

/// Keeps the events of the function's own account and region (and so partition), and counts
/// the others: a consistent event of another account or region is not one task-alert was set
/// up for (a direct `lambda:Invoke` could name another team's tasks), and reading it would
/// read that account's logs with this function's role. They are ignored, like a Health event
/// for another service, not failed: nothing in them is malformed.
pub fn own_events(events: Vec<Event>, account: &str, region: &Region) -> (Vec<Event>, usize) {
    let before = events.len();
    let own: Vec<Event> = events
        .into_iter()
        .filter(|e| e.meta.account == account && e.meta.region == *region)
        .collect();
    let others = before - own.len();
    (own, others)
}

fn task_stop(d: &Obj) -> Result<TaskStop, EventError> {
    let task = d.req_str("taskArn")?;
    let cluster = d.req_str("clusterArn")?;
    let definition = d.req_str("taskDefinitionArn")?;
    let mut containers = Vec::new();
    for (i, c) in d.opt_array("containers")?.iter().enumerate() {
        let c = Obj::nested(c, format!("{}[{i}]", d.path("containers")))?;
        containers.push(Container {
            name: c.req_str("name")?.to_string(),
            exit_code: c.opt_i64("exitCode")?,
            reason: c.opt_prose("reason")?,
            last_status: c.opt_str("lastStatus")?.map(String::from),
            runtime_id: c.opt_str("runtimeId")?.map(String::from),
        });
    }
    Ok(TaskStop {
        task: TaskArn::parse(task).ok_or_else(|| d.bad("taskArn", "is not an ECS task ARN"))?,
        cluster: ClusterArn::parse(cluster)
            .ok_or_else(|| d.bad("clusterArn", "is not an ECS cluster ARN"))?,
        task_definition: TaskDefinitionArn::parse(definition)
            .ok_or_else(|| d.bad("taskDefinitionArn", "is not an ECS task definition ARN"))?,
        group: d.opt_str("group")?.map(String::from),
        started_by: d.opt_text("startedBy")?,
        last_status: d.req_str("lastStatus")?.to_string(),
        desired_status: d.opt_str("desiredStatus")?.map(String::from),
        stop_code: d.opt_str("stopCode")?.map(String::from),
        stopped_reason: d.opt_prose("stoppedReason")?,
        stopped_at_ms: match d.opt_str("stoppedAt")? {
            None => None,
            Some(s) => {
                Some(parse_iso8601_ms(s).ok_or_else(|| d.bad("stoppedAt", "is not an ISO 8601 time"))?)
            }
        },
        launch_type: d.opt_str("launchType")?.map(String::from),
        capacity_provider: d.opt_str("capacityProviderName")?.map(String::from),
        containers,
        version: d.opt_u64("version")?,
    })
}

/// The service ARN of a service-level event: `resources[0]`.
fn service_resource(root: &Obj, resources: &[&str]) -> Result<Option<ServiceArn>, EventError> {
    match resources.first() {
        None => Ok(None),
        Some(r) => ServiceArn::parse(r)
            .map(Some)
            .ok_or_else(|| root.bad("resources[0]", "is not an ECS service ARN")),
    }
}

fn deployment(root: &Obj, d: &Obj, resources: &[&str]) -> Result<DeploymentChange, EventError> {
    Ok(DeploymentChange {
        event_type: d.opt_str("eventType")?.map(String::from),
        event_name: d.req_str("eventName")?.to_string(),
        deployment_id: d.opt_text("deploymentId")?,
        reason: d.opt_prose("reason")?,
        service: service_resource(root, resources)?
            .ok_or_else(|| root.bad("resources", "is missing the service ARN"))?,
    })
}

fn service_action(root: &Obj, d: &Obj, resources: &[&str]) -> Result<ServiceAction, EventError> {
    let cluster = match d.opt_str("clusterArn")? {
        None => None,
        Some(c) => {
            Some(ClusterArn::parse(c).ok_or_else(|| d.bad("clusterArn", "is not an ECS cluster ARN"))?)
        }
    };
    Ok(ServiceAction {
        event_type: d.opt_str("eventType")?.map(String::from),
        event_name: d.req_str("eventName")?.to_string(),
        cluster,
        service: service_resource(root, resources)?,
        reason: d.opt_prose("reason")?,
        capacity_providers: d
            .opt_str_array("capacityProviderArns")?
            .into_iter()
            .map(String::from)
            .collect(),
        created_at_ms: d.opt_str("createdAt")?.and_then(parse_iso8601_ms),
    })
}

fn health(d: &Obj, resources: &[&str]) -> Result<HealthNotice, EventError> {
    let description = match d.opt_array("eventDescription")?.first() {
        None => None,
        Some(first) => Obj::nested(first, format!("{}[0]", d.path("eventDescription")))?
            .opt_prose("latestDescription")?,
    };
    let mut values: Vec<String> = Vec::new();
    for (i, e) in d.opt_array("affectedEntities")?.iter().enumerate() {
        let e = Obj::nested(e, format!("{}[{i}]", d.path("affectedEntities")))?;
        if let Some(v) = e.opt_text("entityValue")? {
            values.push(v);
        }
    }
    if values.is_empty() {
        values = resources.iter().map(|r| r.to_string()).collect();
    }
    Ok(HealthNotice {
        service: d.req_str("service")?.to_string(),
        event_type_code: d.req_str("eventTypeCode")?.to_string(),
        event_type_category: d.opt_str("eventTypeCategory")?.map(String::from),
        event_arn: d.opt_text("eventArn")?,
        start_time: d.opt_text("startTime")?,
        end_time: d.opt_text("endTime")?,
        description,
        entities: values.into_iter().map(|v| entity(&v)).collect(),
    })
}

fn entity(value: &str) -> AffectedEntity {
    if let Some(task) = TaskArn::parse(value) {
        return AffectedEntity::Task(task);
    }
    match value.split_once('/') {
        Some((cluster, service)) if crate::arn::is_ecs_name(cluster) && crate::arn::is_ecs_name(service) => {
            AffectedEntity::Service {
                cluster: cluster.to_string(),
                service: service.to_string(),
            }
        }
        _ => AffectedEntity::Other {
            value: value.to_string(),
        },
    }
}

/// One JSON object and where it is, for error messages.
struct Obj<'a> {
    map: &'a Map<String, Value>,
    at: String,
}

impl<'a> Obj<'a> {
    fn root(value: &'a Value, at: &str) -> Result<Self, EventError> {
        match value {
            Value::Object(map) => Ok(Self {
                map,
                at: at.to_string(),
            }),
            _ => Err(EventError::field(
                if at.is_empty() {
                    "(root)".into()
                } else {
                    at.trim_end_matches('.').to_string()
                },
                "must be a JSON object",
            )),
        }
    }

    fn nested(value: &'a Value, path: String) -> Result<Self, EventError> {
        match value {
            Value::Object(map) => Ok(Self {
                map,
                at: format!("{path}."),
            }),
            _ => Err(EventError::field(path, "must be a JSON object")),
        }
    }

    fn path(&self, name: &str) -> String {
        format!("{}{name}", self.at)
    }

    fn bad(&self, name: &str, problem: &'static str) -> EventError {
        EventError::field(self.path(name), problem)
    }

    /// The field, with JSON `null` read as absent.
    fn get(&self, name: &str) -> Option<&'a Value> {
        self.map.get(name).filter(|v| !v.is_null())
    }

    fn req_obj(&self, name: &str) -> Result<Obj<'a>, EventError> {
        match self.get(name) {
            None => Err(self.bad(name, "is missing")),
            Some(v) => Obj::nested(v, self.path(name)),
        }
    }

    fn opt_str(&self, name: &str) -> Result<Option<&'a str>, EventError> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(self.bad(name, "must be a string")),
        }
    }

    fn req_str(&self, name: &str) -> Result<&'a str, EventError> {
        self.opt_str(name)?
            .filter(|s| !s.is_empty())
            .ok_or_else(|| self.bad(name, "is missing or empty"))
    }

    /// Free text, cut to a bound so one event cannot make the alert huge.
    fn opt_text(&self, name: &str) -> Result<Option<String>, EventError> {
        Ok(self
            .opt_str(name)?
            .map(|s| lookout_shared::text::truncate_utf8(s, MAX_TEXT_BYTES).to_string()))
    }

    /// Free text that is redacted later: kept whole, since a cut before redaction leaves the
    /// part of a secret before it, which no rule recognises. The renderer cuts it once
    /// redacted; the invocation payload bounds its size.
    fn opt_prose(&self, name: &str) -> Result<Option<String>, EventError> {
        Ok(self.opt_str(name)?.map(String::from))
    }

    fn opt_i64(&self, name: &str) -> Result<Option<i64>, EventError> {
        match self.get(name) {
            None => Ok(None),
            Some(v) => v
                .as_i64()
                .map(Some)
                .ok_or_else(|| self.bad(name, "must be a whole number")),
        }
    }

    fn opt_u64(&self, name: &str) -> Result<Option<u64>, EventError> {
        match self.get(name) {
            None => Ok(None),
            Some(v) => v
                .as_u64()
                .map(Some)
                .ok_or_else(|| self.bad(name, "must be a whole number of at least 0")),
        }
    }

    fn opt_array(&self, name: &str) -> Result<&'a [Value], EventError> {
        match self.get(name) {
            None => Ok(&[]),
            Some(Value::Array(items)) => Ok(items),
            Some(_) => Err(self.bad(name, "must be an array")),
        }
    }

    fn opt_str_array(&self, name: &str) -> Result<Vec<&'a str>, EventError> {
        self.opt_array(name)?
            .iter()
            .enumerate()
            .map(|(i, v)| {
                v.as_str()
                    .ok_or_else(|| EventError::field(format!("{}[{i}]", self.path(name)), "must be a string"))
            })
            .collect()
    }
}

/// `2020-01-23T17:57:58.103Z` (or `+00:00`, or without fraction) → epoch milliseconds.
pub fn parse_iso8601_ms(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b't' | b' ')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let part = s.get(r)?;
        part.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| part.parse().ok())?
    };
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let mut rest = &s[19..];
    let mut millis = 0i64;
    if let Some(fraction) = rest.strip_prefix('.') {
        let digits = fraction.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        for (i, c) in fraction.bytes().take(3).take(digits).enumerate() {
            millis += i64::from(c - b'0') * [100, 10, 1][i];
        }
        rest = &fraction[digits..];
    }
    let offset_secs = match rest {
        "Z" | "z" => 0,
        _ => {
            let (sign, hm) = match rest.as_bytes().first()? {
                b'+' => (1, &rest[1..]),
                b'-' => (-1, &rest[1..]),
                _ => return None,
            };
            let (h, m) = hm.split_once(':')?;
            let (h, m): (i64, i64) = (h.parse().ok()?, m.parse().ok()?);
            if h.abs() > 23 || !(0..60).contains(&m) || hm.len() != 5 {
                return None;
            }
            sign * (h * 3600 + m * 60)
        }
    };
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + hour * 3600 + minute * 60 + second - offset_secs;
    secs.checked_mul(1000)?.checked_add(millis)
}

/// Howard Hinnant's `days_from_civil`: proleptic Gregorian date → days since 1970-01-01.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn task_event(detail: Value) -> Value {
        json!({
            "version": "0", "id": "e1", "detail-type": "ECS Task State Change", "source": "aws.ecs",
            "account": "111122223333", "time": "2020-01-23T17:57:58Z", "region": "us-west-2",
            "resources": [], "detail": detail,
        })
    }

    fn detail() -> Value {
        json!({
            "clusterArn": "arn:aws:ecs:us-west-2:111122223333:cluster/prod",
            "taskArn": "arn:aws:ecs:us-west-2:111122223333:task/prod/c13b4cb40f1f4fe4a2971f76ae5a47ad",
            "taskDefinitionArn": "arn:aws:ecs:us-west-2:111122223333:task-definition/web:3",
            "lastStatus": "STOPPED", "group": "service:web", "stoppedAt": "2020-01-23T17:57:58.103Z",
            "containers": [{"name": "app", "exitCode": 137, "reason": "OutOfMemoryError: Container killed due to memory usage"}],
            "version": 5, "someFutureField": {"nested": [1, 2]},
        })
    }

    #[test]
    fn reads_a_task_stop_and_ignores_unknown_fields() {
        let e = parse_event(&task_event(detail()), "").unwrap();
        let EventKind::Task(t) = e.kind else { panic!() };
        assert_eq!(t.service(), Some("web"));
        assert_eq!(t.containers[0].exit_code, Some(137));
        assert_eq!(t.version, Some(5));
        assert_eq!(t.stopped_at_ms, Some(1_579_802_278_103));
        assert_eq!(e.meta.time_ms, Some(1_579_802_278_000));
    }

    #[test]
    fn errors_name_the_field_and_never_the_value() {
        let secret = "hunter2-SECRET-VALUE";
        let cases: Vec<(Value, &str)> = vec![
            (json!({"taskArn": secret}), "detail.clusterArn"),
            (
                {
                    let mut d = detail();
                    d["taskArn"] = json!(secret);
                    d
                },
                "detail.taskArn",
            ),
            (
                {
                    let mut d = detail();
                    d["containers"][0]["exitCode"] = json!(secret);
                    d
                },
                "detail.containers[0].exitCode",
            ),
            (
                {
                    let mut d = detail();
                    d["containers"][0]["name"] = json!(null);
                    d
                },
                "detail.containers[0].name",
            ),
            (
                {
                    let mut d = detail();
                    d["stoppedAt"] = json!(secret);
                    d
                },
                "detail.stoppedAt",
            ),
            (
                {
                    let mut d = detail();
                    d["version"] = json!(-1);
                    d
                },
                "detail.version",
            ),
        ];
        for (d, field) in cases {
            let err = parse_event(&task_event(d), "").unwrap_err();
            let text = err.to_string();
            assert!(text.contains(field), "{text}");
            assert!(!text.contains(secret), "{text}");
        }
        let mut e = task_event(detail());
        e["detail-type"] = json!(format!("Evil {secret}"));
        let text = parse_event(&e, "").unwrap_err().to_string();
        assert!(text.contains("detail-type") && !text.contains(secret), "{text}");
        let mut forged = task_event(detail());
        forged["source"] = json!("custom.app");
        assert_eq!(
            parse_event(&forged, "").unwrap_err(),
            EventError::Field {
                field: "source".into(),
                problem: "is not the AWS service that sends this detail-type"
            }
        );
        let batch = json!([task_event(detail()), {"detail-type": 5}]);
        assert_eq!(
            parse_batch(&batch).unwrap_err(),
            EventError::Field {
                field: "[1].detail-type".into(),
                problem: "must be a string"
            }
        );
        assert_eq!(parse_batch(&json!("x")).unwrap_err(), EventError::NotAnEvent);
    }

    /// A direct invoke that says one account and names another's task (to read its logs)
    /// fails, naming the field and never quoting the payload.
    #[test]
    fn arns_of_another_account_region_or_partition_than_the_event_fail() {
        let other = "999988887777";
        let mismatch = |field: &str, problem: &'static str| EventError::Mismatch {
            field: field.into(),
            problem,
        };
        let account = "is of another account than the event's account";
        let region = "is of another region than the event's region";
        let cases: Vec<(Value, EventError)> = vec![
            (
                {
                    let mut e = task_event(detail());
                    e["account"] = json!(other);
                    e
                },
                mismatch("detail.clusterArn", account),
            ),
            (
                {
                    let mut d = detail();
                    d["taskArn"] = json!(format!(
                        "arn:aws:ecs:us-west-2:{other}:task/prod/c13b4cb40f1f4fe4a2971f76ae5a47ad"
                    ));
                    task_event(d)
                },
                mismatch("detail.taskArn", account),
            ),
            (
                {
                    let mut d = detail();
                    d["taskDefinitionArn"] =
                        json!(format!("arn:aws:ecs:us-west-2:{other}:task-definition/web:3"));
                    task_event(d)
                },
                mismatch("detail.taskDefinitionArn", account),
            ),
            (
                {
                    let mut d = detail();
                    d["taskDefinitionArn"] =
                        json!("arn:aws:ecs:eu-west-1:111122223333:task-definition/web:3");
                    task_event(d)
                },
                mismatch("detail.taskDefinitionArn", region),
            ),
            (
                {
                    let mut d = detail();
                    d["clusterArn"] = json!("arn:aws-cn:ecs:cn-north-1:111122223333:cluster/prod");
                    task_event(d)
                },
                mismatch("detail.clusterArn", region),
            ),
            (
                {
                    let mut e = task_event(detail());
                    e["region"] = json!("us-east-1");
                    e
                },
                mismatch("detail.clusterArn", region),
            ),
            (
                {
                    let mut e = task_event(detail());
                    e.as_object_mut().unwrap().remove("account");
                    e
                },
                EventError::Field {
                    field: "account".into(),
                    problem: "is missing, and the event names ARNs",
                },
            ),
            (
                json!([task_event(detail()), {
                    "detail-type": "ECS Deployment State Change", "source": "aws.ecs",
                    "account": "111122223333", "region": "us-west-2",
                    "resources": [format!("arn:aws:ecs:us-west-2:{other}:service/prod/web")],
                    "detail": {"eventName": "SERVICE_DEPLOYMENT_FAILED"},
                }]),
                mismatch("[1].resources[0]", account),
            ),
            (
                json!({
                    "detail-type": "AWS Health Event", "source": "aws.health",
                    "account": "111122223333", "region": "us-west-2", "resources": [],
                    "detail": {"service": "ECS", "eventTypeCode": "AWS_ECS_TASK_PATCHING_RETIREMENT",
                        "affectedEntities": [{"entityValue": format!(
                            "arn:aws:ecs:us-west-2:{other}:task/prod/00805ce1d81940b5a37398e5a2c23333"
                        )}]},
                }),
                mismatch("detail.affectedEntities", account),
            ),
        ];
        for (payload, expected) in cases {
            let err = parse_batch(&payload).unwrap_err();
            assert_eq!(err, expected);
            let text = err.to_string();
            assert!(!text.contains(other) && !text.contains("arn:"), "{text}");
        }
        // Agreeing in every part, in another partition: accepted.
        let mut gov = task_event(json!({
            "clusterArn": "arn:aws-us-gov:ecs:us-gov-west-1:111122223333:cluster/prod",
            "taskArn": "arn:aws-us-gov:ecs:us-gov-west-1:111122223333:task/prod/c13b4cb40f1f4fe4a2971f76ae5a47ad",
            "taskDefinitionArn": "arn:aws-us-gov:ecs:us-gov-west-1:111122223333:task-definition/web:3",
            "lastStatus": "STOPPED",
        }));
        gov["region"] = json!("us-gov-west-1");
        assert!(parse_event(&gov, "").is_ok());
    }

    #[test]
    fn only_events_of_the_functions_own_account_and_region_are_kept() {
        let mut other_account = task_event(json!({
            "clusterArn": "arn:aws:ecs:us-west-2:999988887777:cluster/prod",
            "taskArn": "arn:aws:ecs:us-west-2:999988887777:task/prod/c13b4cb40f1f4fe4a2971f76ae5a47ad",
            "taskDefinitionArn": "arn:aws:ecs:us-west-2:999988887777:task-definition/web:3",
            "lastStatus": "STOPPED",
        }));
        other_account["account"] = json!("999988887777");
        let mut other_region = task_event(json!({
            "clusterArn": "arn:aws:ecs:eu-west-1:111122223333:cluster/prod",
            "taskArn": "arn:aws:ecs:eu-west-1:111122223333:task/prod/c13b4cb40f1f4fe4a2971f76ae5a47ad",
            "taskDefinitionArn": "arn:aws:ecs:eu-west-1:111122223333:task-definition/web:3",
            "lastStatus": "STOPPED",
        }));
        other_region["region"] = json!("eu-west-1");
        let own = task_event(detail());
        let events = parse_batch(&json!([other_account, own, other_region])).unwrap();
        let us_west_2 = Region::parse("us-west-2").unwrap();
        let (kept, others) = own_events(events.clone(), "111122223333", &us_west_2);
        assert_eq!(others, 2);
        assert_eq!(kept.len(), 1);
        assert_eq!(kept[0].meta.account, "111122223333");
        assert_eq!(kept[0].meta.region, us_west_2);
        let (kept, others) = own_events(events, "123456789012", &us_west_2);
        assert_eq!((kept.len(), others), (0, 3));
    }

    #[test]
    fn iso8601() {
        assert_eq!(parse_iso8601_ms("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_iso8601_ms("2000-02-29T00:00:00.5Z"), Some(951_782_400_500));
        assert_eq!(
            parse_iso8601_ms("2020-05-23T11:11:11+01:00"),
            Some(1_590_228_671_000)
        );
        for bad in [
            "",
            "2020-13-01T00:00:00Z",
            "2020-01-01T00:00:00",
            "2020-01-01T00:00:00.Z",
            "x020-01-01T00:00:00Z",
            "2020-01-01T00:00:00+1:00",
        ] {
            assert_eq!(parse_iso8601_ms(bad), None, "{bad}");
        }
    }

    #[test]
    fn health_entities() {
        assert!(matches!(
            entity("arn:aws:ecs:eu-west-1:111222333444:task/examplecluster/00805ce1d81940b5a37398e5a2c23333"),
            AffectedEntity::Task(_)
        ));
        assert_eq!(
            entity("prod/web"),
            AffectedEntity::Service {
                cluster: "prod".into(),
                service: "web".into()
            }
        );
        assert!(matches!(entity("x/y/z"), AffectedEntity::Other { .. }));
    }
}
