//! Open alerts and the recoveries that resolve them (issue 22 §4). A crash-loop alert or a
//! failed deployment leaves a note in the state table, keyed by the service (account, region,
//! cluster, service); the service's next steady state (`SERVICE_STEADY_STATE`, or
//! `SERVICE_DEPLOYMENT_COMPLETED`) settles the note once and sends one `[RESOLVED]` message
//! naming it. Without a state table there are no notes, so no resolutions.
//!
//! The note is written as unconfirmed just before its alert is published and confirmed once
//! the outbox says it was delivered (published now, or by an earlier attempt): a retry that
//! finds its alert already delivered can still confirm it, and an alert never delivered is
//! never resolved.

use crate::classify::{Problem, ServiceProblem};
use lookout_shared::ids::{AccountId, Region};
use lookout_shared::severity::Severity;
use lookout_shared::state::NoteKey;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// How long an open alert waits for its recovery: a service still failing after a week is
/// not recovering by itself, and a resolution that late would be no news.
pub(crate) const OPEN_ALERT_KEEP: Duration = Duration::from_secs(7 * 24 * 3_600);
/// Deployment ids are ECS's (`ecs-svc/…`); anything longer is cut in the note.
const DEPLOYMENT_ID_BYTES: usize = 255;

/// The note key of a service's open alert; `None` without the account (every event read has
/// one: `event::accepted_events`).
pub(crate) fn note_key(
    account: Option<&AccountId>,
    region: &Region,
    cluster: &str,
    service: &str,
) -> Option<NoteKey> {
    let account = account?;
    Some(NoteKey::new(
        "task-alert",
        &[account.as_str(), region.as_str(), cluster, service],
    ))
}

/// What the open alert was.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub(crate) enum Opened {
    /// The service's stops reached `CRASH_LOOP_STOPS` inside the window.
    CrashLoop { problem: Problem, stops: u64 },
    /// A failed (or rolled back) deployment.
    Deployment {
        problem: ServiceProblem,
        /// Cut to [`DEPLOYMENT_ID_BYTES`].
        deployment: Option<String>,
    },
}

impl Opened {
    pub(crate) fn deployment(problem: ServiceProblem, deployment: Option<&str>) -> Self {
        Opened::Deployment {
            problem,
            deployment: deployment
                .map(|d| lookout_shared::text::truncate_utf8(d, DEPLOYMENT_ID_BYTES).to_string()),
        }
    }

    /// The `reason` of the open alert (and of its resolution's attributes).
    pub(crate) fn reason(&self) -> &'static str {
        match self {
            Opened::CrashLoop { problem, .. } => problem.as_str(),
            Opened::Deployment { problem, .. } => problem.as_str(),
        }
    }

    /// Short, for Subjects: "crash loop", "deployment failed".
    pub(crate) fn headline(&self) -> &'static str {
        match self {
            Opened::CrashLoop { .. } => "crash loop",
            Opened::Deployment { problem, .. } => problem.headline(),
        }
    }
}

/// A service's open alert, as the note holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct OpenAlert {
    pub(crate) what: Opened,
    #[serde(with = "severity_name")]
    pub(crate) severity: Severity,
    /// The Subject it was sent with (SNS-safe ASCII, at most 99 characters).
    pub(crate) subject: String,
    /// When it happened (the crash loop's newest stop, the deployment's `updatedAt`), epoch ms.
    pub(crate) at_ms: Option<i64>,
    /// Since when the service was failing (the crash loop's first alert in its window, the
    /// deployment's failure), epoch ms.
    pub(crate) since_ms: Option<i64>,
    /// The alert's idempotency key: a retry that finds it delivered confirms this note only.
    pub(crate) key: String,
    /// The outbox said the alert was delivered; an unconfirmed note is never resolved.
    pub(crate) confirmed: bool,
}

/// A steady-state event for a service, to resolve its open alert with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Recovery {
    pub(crate) account: Option<AccountId>,
    pub(crate) region: Region,
    pub(crate) cluster: String,
    pub(crate) service: String,
    /// `SERVICE_STEADY_STATE` or `SERVICE_DEPLOYMENT_COMPLETED`.
    pub(crate) event_name: String,
    /// When the service was steady (the event's `createdAt` / `updatedAt`, else its time).
    pub(crate) at_ms: Option<i64>,
    pub(crate) event_id: String,
}

impl Recovery {
    pub(crate) fn note_key(&self) -> Option<NoteKey> {
        note_key(self.account.as_ref(), &self.region, &self.cluster, &self.service)
    }

    /// The identity of its `[RESOLVED]` message (and of the settlement, per event).
    pub(crate) fn identity(&self) -> String {
        format!(
            "task-alert|resolved|{}|{}|{}",
            self.cluster, self.service, self.event_id
        )
    }

    /// An event from before the alert (EventBridge retries deliver late) does not resolve it.
    pub(crate) fn precedes(&self, open: &OpenAlert) -> bool {
        matches!((self.at_ms, open.at_ms), (Some(steady), Some(failed)) if steady <= failed)
    }
}

/// `ERROR` in the note, as in alerts; any level name reads back (`Severity::from_level_name`).
mod severity_name {
    use lookout_shared::severity::Severity;
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub(super) fn serialize<S: Serializer>(severity: &Severity, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(severity.as_str())
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Severity, D::Error> {
        let name = String::deserialize(d)?;
        Severity::from_level_name(&name).ok_or_else(|| D::Error::custom("not a severity"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notes_round_trip_as_camel_case_json() {
        let open = OpenAlert {
            what: Opened::CrashLoop {
                problem: Problem::OutOfMemory,
                stops: 3,
            },
            severity: Severity::Error,
            subject: "[ERROR] web: crash loop".into(),
            at_ms: Some(2_000),
            since_ms: Some(1_000),
            key: "idem#task-alert#ab".into(),
            confirmed: false,
        };
        let json = serde_json::to_value(&open).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "what": {"kind": "crashLoop", "problem": "OutOfMemory", "stops": 3},
                "severity": "ERROR", "subject": "[ERROR] web: crash loop", "atMs": 2000,
                "sinceMs": 1000, "key": "idem#task-alert#ab", "confirmed": false,
            })
        );
        assert_eq!(serde_json::from_value::<OpenAlert>(json).unwrap(), open);
        let long = "x".repeat(1_000);
        let Opened::Deployment { deployment, .. } =
            Opened::deployment(ServiceProblem::DeploymentFailed, Some(&long))
        else {
            unreachable!()
        };
        assert_eq!(deployment.map(|d| d.len()), Some(DEPLOYMENT_ID_BYTES));
    }

    #[test]
    fn keys_are_per_service_and_need_the_account() {
        let region = Region::parse("us-east-1").unwrap();
        let account = AccountId::parse("123456789012");
        let web = note_key(account.as_ref(), &region, "prod", "web").unwrap();
        assert_ne!(
            Some(web.clone()),
            note_key(account.as_ref(), &region, "prod", "api")
        );
        assert_ne!(Some(web), note_key(account.as_ref(), &region, "staging", "web"));
        assert_eq!(note_key(None, &region, "prod", "web"), None);
    }
}
