//! The alerts rendered into the shared notification model (Subject, email text, structured
//! JSON, chat payload, attributes): what died, why, what it said last, and where to look. One
//! module per kind; each places the suppression facts the outbox hands it itself.

mod health;
mod service;
mod task_stop;
#[cfg(test)]
mod tests;

use crate::alert::Alert;
use lookout_shared::notification::{Attribute, Detail, Notification};
use lookout_shared::outbox::Suppression;
use lookout_shared::time::iso8601_ms;
use serde_json::Value;
use std::fmt::Write;

const SOURCE: &str = "lookout.task-alert";
/// Reasons are short in ECS (255 characters); anything longer is cut here, once redacted
/// (the event parser keeps them whole for that).
const REASON_BYTES: usize = 1_024;
const EVENT_TYPE: &str = "LookoutTaskAlert";

impl Alert {
    /// SNS-safe (printable ASCII, one line, at most 99 characters), whatever the event said.
    pub(crate) fn subject(&self) -> String {
        let severity = self.severity().as_str();
        let raw = match self {
            Alert::TaskStop(a) => a.subject(severity),
            Alert::Service(a) => a.subject(severity),
            Alert::Health(a) => a.subject(severity),
        };
        lookout_shared::notification::subject(&raw)
    }

    /// The notification at one level of detail (`items` log lines or affected resources,
    /// each cut to `item_bytes`), with the repeats suppressed before it.
    pub(crate) fn render(&self, detail: Detail, facts: &Suppression) -> Notification {
        match self {
            Alert::TaskStop(a) => a.render(self, detail, facts),
            Alert::Service(a) => a.render(self, facts),
            Alert::Health(a) => a.render(self, detail, facts),
        }
    }

    fn attributes(&self) -> Vec<Attribute> {
        vec![
            Attribute::string("source", SOURCE),
            Attribute::string("severity", self.severity().as_str()),
            Attribute::string("reason", self.reason()),
            Attribute::string("cluster", self.cluster().unwrap_or_default()),
            Attribute::string("service", self.service().unwrap_or_default()),
        ]
    }

    fn keywords(&self) -> Vec<String> {
        vec![self.severity().as_str().to_string(), self.reason().to_string()]
    }
}

/// The text's first lines: the subject, a blank line, and the repeats suppressed before it.
fn heading(subject: &str, facts: &Suppression, capacity: usize) -> String {
    let mut t = String::with_capacity(capacity);
    let _ = writeln!(t, "{subject}\n");
    if let Some(s) = facts.repeats() {
        t.push_str(&s.text_line());
    }
    t
}

/// The structured document with the repeats suppressed before it (`suppressed`).
fn with_repeats(mut doc: Value, facts: &Suppression) -> Value {
    if let (Some(s), Some(map)) = (facts.repeats(), doc.as_object_mut()) {
        map.insert("suppressed".into(), s.json());
    }
    doc
}

/// The chat description's first line, when repeats were suppressed before it.
fn chat_opening(facts: &Suppression) -> String {
    facts.repeats().map(|s| s.chat_line()).unwrap_or_default()
}

/// `Label:` padded so values line up.
fn field(t: &mut String, label: &str, value: &str) {
    let _ = writeln!(t, "{:<19}{value}", format!("{label}:"));
}

fn time_or_unknown(ms: Option<i64>) -> String {
    ms.map_or_else(|| "(not in the event)".to_string(), iso8601_ms)
}

/// The account as shown: every alert sent has one (`own_events`).
fn account(account: Option<&lookout_shared::ids::AccountId>) -> &str {
    account.map_or("", |a| a.as_str())
}
