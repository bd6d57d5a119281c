//! The checks that turn a typed EventBridge event into one task-alert trusts: required fields
//! present, ARNs well formed and of the event's own account and region, the source the AWS
//! service that sends the detail-type, times parsed, free text bounded. Errors name the field's
//! path, never its value.

use super::detail::{
    ContainerDetail, DeploymentStateChange, EcsEvent, HealthEventDetail, ServiceActionDetail, TaskStateChange,
};
use super::{
    AffectedEntity, Container, DeploymentChange, Event, EventError, EventKind, HealthNotice, Meta,
    ServiceAction, TaskStop,
};
use crate::arn::{ClusterArn, ServiceArn, TaskArn, TaskDefinitionArn, is_ecs_name};
use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use lookout_shared::ids::{AccountId, Region};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Text fields longer than this are cut; an ECS reason is at most 255 characters, a Health
/// description a few KiB. Reasons and descriptions are not cut here ([`prose`]).
const MAX_TEXT_BYTES: usize = 8 << 10;

/// Where a value is, for error messages: `""` for a single event, `"[3]."` inside a batch.
#[derive(Clone, Copy)]
struct At<'a>(&'a str);

impl At<'_> {
    fn path(self, name: &str) -> String {
        format!("{}{name}", self.0)
    }

    fn bad(self, name: &str, problem: &'static str) -> EventError {
        EventError::Field {
            field: self.path(name),
            problem,
        }
    }

    /// A field the event must have, not empty.
    fn required(self, value: Option<&str>, name: &str) -> Result<String, EventError> {
        value
            .filter(|s| !s.is_empty())
            .map(String::from)
            .ok_or_else(|| self.bad(name, "is missing or empty"))
    }
}

/// Free text, cut to a bound so one event cannot make the alert huge.
fn text(value: Option<String>) -> Option<String> {
    value.map(|s| lookout_shared::text::truncate_utf8(&s, MAX_TEXT_BYTES).to_string())
}

/// Free text that is redacted later: kept whole, since a cut before redaction leaves the part
/// of a secret before it, which no rule recognises. The renderer cuts it once redacted; the
/// invocation payload bounds its size.
fn prose(value: Option<String>) -> Option<String> {
    value
}

/// One typed event, checked. `at` prefixes field names in errors (`[3].` inside a batch).
pub(super) fn event(event: EcsEvent, at: &str) -> Result<Event, EventError> {
    let at = At(at);
    let unsupported = || EventError::Unsupported {
        field: at.path("detail-type"),
    };
    let (meta, kind) = match event {
        EcsEvent::Task(e) => {
            let (meta, detail, _) = envelope(*e, at, "aws.ecs")?;
            (meta, EventKind::Task(Box::new(task_stop(detail, at)?)))
        }
        EcsEvent::Deployment(e) => {
            let (meta, detail, resources) = envelope(e, at, "aws.ecs")?;
            (meta, EventKind::Deployment(deployment(detail, &resources, at)?))
        }
        EcsEvent::ServiceAction(e) => {
            let (meta, detail, resources) = envelope(e, at, "aws.ecs")?;
            (
                meta,
                EventKind::ServiceAction(service_action(detail, &resources, at)?),
            )
        }
        EcsEvent::Health(e) => {
            let (meta, detail, resources) = envelope(e, at, "aws.health")?;
            (meta, EventKind::Health(health(detail, resources, at)?))
        }
        EcsEvent::Unsupported => return Err(unsupported()),
    };
    check_arns(at, &meta, &kind)?;
    Ok(Event { meta, kind })
}

/// The envelope's fields every alert uses, and the detail and resources.
fn envelope<T: Serialize + DeserializeOwned>(
    e: EventBridgeEvent<T>,
    at: At,
    source: &str,
) -> Result<(Meta, T, Vec<String>), EventError> {
    let region = at.required(e.region.as_deref(), "region")?;
    let meta = Meta {
        id: e.id.unwrap_or_default(),
        account: match e.account.as_deref() {
            None => None,
            Some(a) => Some(
                AccountId::parse(a).ok_or_else(|| at.bad("account", "is not a 12-digit AWS account id"))?,
            ),
        },
        region: Region::parse(&region).ok_or_else(|| at.bad("region", "is not an AWS region name"))?,
        time_ms: e.time.map(|t| t.timestamp_millis()),
    };
    // Only AWS can send events with an `aws.` source: a custom event cannot pose as ECS.
    if e.source != source {
        return Err(at.bad("source", "is not the AWS service that sends this detail-type"));
    }
    Ok((meta, e.detail, e.resources.unwrap_or_default()))
}

fn task_stop(d: TaskStateChange, at: At) -> Result<TaskStop, EventError> {
    let d_at = format!("{}detail.", at.0);
    let d_at = At(&d_at);
    let task = d_at.required(d.task_arn.as_deref(), "taskArn")?;
    let cluster = d_at.required(d.cluster_arn.as_deref(), "clusterArn")?;
    let definition = d_at.required(d.task_definition_arn.as_deref(), "taskDefinitionArn")?;
    let containers = d
        .containers
        .unwrap_or_default()
        .into_iter()
        .enumerate()
        .map(|(i, c)| container(c, At(&format!("{}containers[{i}].", d_at.0))))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(TaskStop {
        task: TaskArn::parse(&task).ok_or_else(|| d_at.bad("taskArn", "is not an ECS task ARN"))?,
        cluster: ClusterArn::parse(&cluster)
            .ok_or_else(|| d_at.bad("clusterArn", "is not an ECS cluster ARN"))?,
        task_definition: TaskDefinitionArn::parse(&definition)
            .ok_or_else(|| d_at.bad("taskDefinitionArn", "is not an ECS task definition ARN"))?,
        group: d.group,
        started_by: text(d.started_by),
        last_status: d_at.required(d.last_status.as_deref(), "lastStatus")?,
        desired_status: d.desired_status,
        stop_code: d.stop_code,
        stopped_reason: prose(d.stopped_reason),
        stopped_at_ms: match d.stopped_at {
            None => None,
            Some(s) => {
                Some(parse_iso8601_ms(&s).ok_or_else(|| d_at.bad("stoppedAt", "is not an ISO 8601 time"))?)
            }
        },
        launch_type: d.launch_type,
        capacity_provider: d.capacity_provider_name,
        containers,
        version: d.version,
    })
}

fn container(c: ContainerDetail, at: At) -> Result<Container, EventError> {
    Ok(Container {
        name: at.required(c.name.as_deref(), "name")?,
        exit_code: c.exit_code,
        reason: prose(c.reason),
        last_status: c.last_status,
        runtime_id: c.runtime_id,
    })
}

/// The service ARN of a service-level event: `resources[0]`.
fn service_resource(resources: &[String], at: At) -> Result<Option<ServiceArn>, EventError> {
    match resources.first() {
        None => Ok(None),
        Some(r) => ServiceArn::parse(r)
            .map(Some)
            .ok_or_else(|| at.bad("resources[0]", "is not an ECS service ARN")),
    }
}

fn deployment(
    d: DeploymentStateChange,
    resources: &[String],
    at: At,
) -> Result<DeploymentChange, EventError> {
    Ok(DeploymentChange {
        event_type: d.event_type,
        event_name: At(&at.path("detail.")).required(d.event_name.as_deref(), "eventName")?,
        deployment_id: text(d.deployment_id),
        reason: prose(d.reason),
        service: service_resource(resources, at)?
            .ok_or_else(|| at.bad("resources", "is missing the service ARN"))?,
        // Not required: without a valid one the alert falls back to the event's time.
        updated_at_ms: d.updated_at.as_deref().and_then(parse_iso8601_ms),
    })
}

fn service_action(d: ServiceActionDetail, resources: &[String], at: At) -> Result<ServiceAction, EventError> {
    let d_at = at.path("detail.");
    let d_at = At(&d_at);
    let cluster = match d.cluster_arn {
        None => None,
        Some(c) => {
            Some(ClusterArn::parse(&c).ok_or_else(|| d_at.bad("clusterArn", "is not an ECS cluster ARN"))?)
        }
    };
    Ok(ServiceAction {
        event_type: d.event_type,
        event_name: d_at.required(d.event_name.as_deref(), "eventName")?,
        cluster,
        service: service_resource(resources, at)?,
        reason: prose(d.reason),
        capacity_providers: d.capacity_provider_arns.unwrap_or_default(),
        created_at_ms: d.created_at.as_deref().and_then(parse_iso8601_ms),
    })
}

fn health(d: HealthEventDetail, resources: Vec<String>, at: At) -> Result<HealthNotice, EventError> {
    let d_at = at.path("detail.");
    let d_at = At(&d_at);
    let description = d
        .event_description
        .unwrap_or_default()
        .into_iter()
        .next()
        .and_then(|first| prose(first.latest_description));
    let mut values: Vec<String> = d
        .affected_entities
        .unwrap_or_default()
        .into_iter()
        .filter_map(|e| text(e.entity_value))
        .collect();
    let entities_from_detail = !values.is_empty();
    if !entities_from_detail {
        values = resources;
    }
    Ok(HealthNotice {
        service: d_at.required(d.service.as_deref(), "service")?,
        event_type_code: d_at.required(d.event_type_code.as_deref(), "eventTypeCode")?,
        event_type_category: d.event_type_category,
        event_arn: text(d.event_arn),
        start_time: text(d.start_time),
        end_time: text(d.end_time),
        description,
        entities: values.iter().map(|v| entity(v)).collect(),
        entities_from_detail,
    })
}

pub(super) fn entity(value: &str) -> AffectedEntity {
    if let Some(task) = TaskArn::parse(value) {
        return AffectedEntity::Task(task);
    }
    match value.split_once('/') {
        Some((cluster, service)) if is_ecs_name(cluster) && is_ecs_name(service) => AffectedEntity::Service {
            cluster: cluster.to_string(),
            service: service.to_string(),
        },
        _ => AffectedEntity::Other {
            value: value.to_string(),
        },
    }
}

/// Every ARN of the event is of the event's `account` and `region`, and so of its partition (an
/// ARN's partition is its region's: `arn::Arn::parse`). Names fields, never values.
fn check_arns(at: At, meta: &Meta, kind: &EventKind) -> Result<(), EventError> {
    let mut arns: Vec<(String, &AccountId, &Region)> = Vec::new();
    match kind {
        EventKind::Task(t) => {
            arns.push((
                at.path("detail.clusterArn"),
                &t.cluster.account,
                &t.cluster.region,
            ));
            arns.push((at.path("detail.taskArn"), &t.task.account, &t.task.region));
            let d = &t.task_definition;
            arns.push((at.path("detail.taskDefinitionArn"), &d.account, &d.region));
        }
        EventKind::Deployment(d) => {
            arns.push((at.path("resources[0]"), &d.service.account, &d.service.region));
        }
        EventKind::ServiceAction(a) => {
            if let Some(c) = &a.cluster {
                arns.push((at.path("detail.clusterArn"), &c.account, &c.region));
            }
            if let Some(s) = &a.service {
                arns.push((at.path("resources[0]"), &s.account, &s.region));
            }
        }
        EventKind::Health(h) => {
            // Where `health` took the entities from: the detail's, else `resources`.
            let field = at.path(if h.entities_from_detail {
                "detail.affectedEntities"
            } else {
                "resources"
            });
            for entity in &h.entities {
                if let AffectedEntity::Task(t) = entity {
                    arns.push((field.clone(), &t.account, &t.region));
                }
            }
        }
    }
    for (field, account, region) in arns {
        let Some(own) = &meta.account else {
            return Err(at.bad("account", "is missing, and the event names ARNs"));
        };
        if account != own {
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

/// `2020-01-23T17:57:58.103Z` (or `+00:00`, or without fraction) → epoch milliseconds.
pub(super) fn parse_iso8601_ms(s: &str) -> Option<i64> {
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
