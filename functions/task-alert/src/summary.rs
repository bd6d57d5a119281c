//! The invocation's result: returned to Lambda and logged as one line.

use serde::Serialize;
use std::collections::BTreeMap;

/// What one invocation did with its events.
#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    pub(crate) events: usize,
    /// Older versions of a task's state than another event of the same batch.
    pub(crate) stale_events: usize,
    pub(crate) duplicate_events: usize,
    /// Routine stops, by kind (`ScaleIn`, `UserStopped`...).
    pub(crate) expected_stops: BTreeMap<&'static str, usize>,
    /// Events that are not news (steady state, deployment in progress...), by why.
    pub(crate) ignored: BTreeMap<&'static str, usize>,
    pub(crate) alerts: Vec<AlertSummary>,
}

/// One alert of the invocation, and what became of it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct AlertSummary {
    pub(crate) reason: &'static str,
    pub(crate) severity: &'static str,
    pub(crate) cluster: Option<String>,
    pub(crate) service: Option<String>,
    pub(crate) tasks: usize,
    pub(crate) logs: Option<&'static str>,
    pub(crate) outcome: Outcome,
    /// Repeats of this alert the state store held back since the previous one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) suppressed_before: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) subject: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) message_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) published_bytes: Option<usize>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) enum Outcome {
    Published,
    /// An earlier attempt delivered it (the state store's claim is done).
    AlreadyDelivered,
    /// A repeat inside the suppression window: counted, reported with the next alert.
    Suppressed,
}
