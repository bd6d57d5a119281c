//! The invocation's result: returned to Lambda and logged as one line.

use crate::alert::CrashLoop;
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
    /// Events that are not news (deployment in progress, desired count...), by why.
    pub(crate) ignored: BTreeMap<&'static str, usize>,
    /// Steady-state events, by what became of them (`resolved`: a `[RESOLVED]` message, in
    /// `alerts`).
    pub(crate) recoveries: BTreeMap<Recovered, usize>,
    pub(crate) alerts: Vec<AlertSummary>,
}

/// What a steady-state event did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) enum Recovered {
    /// It settled the service's open alert: the `[RESOLVED]` message went out (or had).
    Resolved,
    /// The service has no open alert: nothing to say.
    NoOpenAlert,
    /// Another steady-state event resolved the open alert already.
    AlreadyResolved,
    /// The open alert's own delivery was never confirmed: nothing to resolve.
    AlertUnconfirmed,
    /// The event is older than the open alert (a late delivery).
    OlderThanAlert,
    /// No `STATE_TABLE`: no open alerts are kept, so none is resolved.
    NoStateTable,
    /// The state table failed (counted in `StateStoreProblems`): nothing is resolved.
    StateStoreProblem,
}

/// One alert of the invocation, and what became of it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct AlertSummary {
    pub(crate) reason: &'static str,
    pub(crate) severity: &'static str,
    /// The account the alert is about.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) account: Option<String>,
    pub(crate) cluster: Option<String>,
    pub(crate) service: Option<String>,
    pub(crate) tasks: usize,
    pub(crate) logs: Option<&'static str>,
    pub(crate) outcome: Outcome,
    /// Repeats of this alert the state store held back since the previous one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) suppressed_before: Option<u64>,
    /// This stop reached `CRASH_LOOP_STOPS`: it was sent as a crash loop.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) crash_loop: Option<CrashLoop>,
    /// The sidecar's lines: `shown` as a second section, or why not (`noRoom`, a log status).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) sidecar_logs: Option<&'static str>,
    /// A `[RESOLVED]` message: the service's open alert (`reason`) is over.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub(crate) resolved: bool,
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
