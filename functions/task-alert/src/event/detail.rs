//! The payload as `aws_lambda_events` types it: one EventBridge envelope
//! ([`EventBridgeEvent`]) with a typed `detail` per `detail-type`, or an array of them.
//!
//! Serde checks the JSON shape only (a field of the wrong type fails as
//! [`Malformed`](lookout_shared::envelope::Malformed), never quoting it). Fields the checks in
//! [`super::check`] require are `Option` here, so that a missing or empty one is refused there,
//! naming its path (`[3].detail.taskArn`). Unknown fields are ignored: ECS adds fields over time.

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use serde::de::{self, Deserializer};
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub(super) const TASK_STATE_CHANGE: &str = "ECS Task State Change";
pub(super) const DEPLOYMENT_STATE_CHANGE: &str = "ECS Deployment State Change";
pub(super) const SERVICE_ACTION: &str = "ECS Service Action";
pub(super) const HEALTH_EVENT: &str = "AWS Health Event";

/// Batches (a JSON array of events) larger than this are refused: EventBridge hands a
/// Lambda target one event; arrays come from tests, replays and pipes.
pub(super) const MAX_BATCH: usize = 1_000;

/// task-alert's payload: one EventBridge event, or an array of them. Its `Function::Event` is
/// `Incoming<Batch>`; [`Batch::into_events`](super::Batch::into_events) checks the events.
#[derive(Debug, Clone, PartialEq)]
pub struct Batch(pub(super) Events);

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Events {
    One(Box<EcsEvent>),
    Many(Vec<EcsEvent>),
    /// An array of more than [`MAX_BATCH`] events: refused before its events are typed.
    TooMany(usize),
    /// Neither an object nor an array.
    NotAnEvent,
}

/// One EventBridge event, its detail typed by its `detail-type`.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum EcsEvent {
    Task(Box<EventBridgeEvent<TaskStateChange>>),
    Deployment(EventBridgeEvent<DeploymentStateChange>),
    ServiceAction(EventBridgeEvent<ServiceActionDetail>),
    Health(EventBridgeEvent<HealthEventDetail>),
    /// A `detail-type` task-alert does not handle (the rule's pattern should not send it).
    Unsupported,
}

/// `ECS Task State Change`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct TaskStateChange {
    pub(super) task_arn: Option<String>,
    pub(super) cluster_arn: Option<String>,
    pub(super) task_definition_arn: Option<String>,
    pub(super) group: Option<String>,
    pub(super) started_by: Option<String>,
    pub(super) last_status: Option<String>,
    pub(super) desired_status: Option<String>,
    pub(super) stop_code: Option<String>,
    pub(super) stopped_reason: Option<String>,
    pub(super) stopped_at: Option<String>,
    pub(super) launch_type: Option<String>,
    pub(super) capacity_provider_name: Option<String>,
    pub(super) containers: Option<Vec<ContainerDetail>>,
    /// Incremented on every state change of the task: higher is newer.
    pub(super) version: Option<u64>,
}

/// One of a task's `containers`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct ContainerDetail {
    pub(super) name: Option<String>,
    pub(super) exit_code: Option<i64>,
    pub(super) reason: Option<String>,
    pub(super) last_status: Option<String>,
    pub(super) runtime_id: Option<String>,
}

/// `ECS Deployment State Change`; the service is `resources[0]`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct DeploymentStateChange {
    pub(super) event_type: Option<String>,
    pub(super) event_name: Option<String>,
    pub(super) deployment_id: Option<String>,
    pub(super) reason: Option<String>,
    /// When the deployment changed state (the event's `time` is when it was sent).
    pub(super) updated_at: Option<String>,
}

/// `ECS Service Action`; the service, when there is one, is `resources[0]`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct ServiceActionDetail {
    pub(super) event_type: Option<String>,
    pub(super) event_name: Option<String>,
    pub(super) cluster_arn: Option<String>,
    pub(super) reason: Option<String>,
    pub(super) capacity_provider_arns: Option<Vec<String>>,
    pub(super) created_at: Option<String>,
}

/// `AWS Health Event` (only the ECS service's are alerted).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct HealthEventDetail {
    pub(super) service: Option<String>,
    pub(super) event_type_code: Option<String>,
    pub(super) event_type_category: Option<String>,
    pub(super) event_arn: Option<String>,
    pub(super) start_time: Option<String>,
    pub(super) end_time: Option<String>,
    pub(super) event_description: Option<Vec<HealthDescription>>,
    pub(super) affected_entities: Option<Vec<HealthEntity>>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct HealthDescription {
    pub(super) latest_description: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct HealthEntity {
    pub(super) entity_value: Option<String>,
}

impl<'de> Deserialize<'de> for Batch {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match Value::deserialize(deserializer)? {
            Value::Array(items) if items.len() > MAX_BATCH => Ok(Events::TooMany(items.len())),
            Value::Array(items) => items
                .into_iter()
                .map(EcsEvent::from_value)
                .collect::<Result<_, _>>()
                .map(Events::Many)
                .map_err(de::Error::custom),
            event @ Value::Object(_) => EcsEvent::from_value(event)
                .map(|event| Events::One(Box::new(event)))
                .map_err(de::Error::custom),
            _ => Ok(Events::NotAnEvent),
        }
        .map(Batch)
    }
}

impl<'de> Deserialize<'de> for EcsEvent {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Self::from_value(Value::deserialize(deserializer)?).map_err(de::Error::custom)
    }
}

impl EcsEvent {
    /// Dispatches on `detail-type`: the envelope is the same, the detail's type is not.
    fn from_value(event: Value) -> Result<Self, serde_json::Error> {
        let detail_type = event.get("detail-type").and_then(Value::as_str).map(String::from);
        Ok(match detail_type.as_deref() {
            Some(TASK_STATE_CHANGE) => EcsEvent::Task(Box::new(EventBridgeEvent::deserialize(event)?)),
            Some(DEPLOYMENT_STATE_CHANGE) => EcsEvent::Deployment(EventBridgeEvent::deserialize(event)?),
            Some(SERVICE_ACTION) => EcsEvent::ServiceAction(EventBridgeEvent::deserialize(event)?),
            Some(HEALTH_EVENT) => EcsEvent::Health(EventBridgeEvent::deserialize(event)?),
            Some(_) => EcsEvent::Unsupported,
            // Missing or not a string: serde's error names the field.
            None => {
                EventBridgeEvent::<Value>::deserialize(event)?;
                EcsEvent::Unsupported
            }
        })
    }
}
