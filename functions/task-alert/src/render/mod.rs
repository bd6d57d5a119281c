//! The alerts rendered into the shared notification model (Subject, email text, structured
//! JSON, chat payload, attributes): what died, why, what it said last, and where to look; and
//! when a service is steady again, what it recovered from. One module per kind; each places
//! the suppression facts the outbox hands it itself, and names the account as [`Naming`] says.

mod health;
mod resolved;
mod service;
mod task_stop;
#[cfg(test)]
mod tests;

use crate::alert::Alert;
use crate::config::TaskAlertConfig;
use crate::quote::escape;
use lookout_shared::accounts::AccountNames;
use lookout_shared::ids::AccountId;
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

/// How alerts name the account they are about: its id always (text, JSON, the `account`
/// attribute), with its `ACCOUNT_NAMES` name when it has one; and in the Subject, after the
/// severity, in organisation mode or once the operator names accounts (as log-alert does), so
/// one topic's Subjects say whose service failed while a single account's read as before.
#[derive(Debug, Clone, Default)]
pub(crate) struct Naming {
    names: AccountNames,
    in_subject: bool,
}

impl Naming {
    pub(crate) fn new(config: &TaskAlertConfig) -> Self {
        Self {
            names: config.account_names.clone(),
            in_subject: config.members.is_some() || !config.account_names.is_empty(),
        }
    }

    /// The Subject's start: `[ERROR] ` or `[ERROR] payments-prod: `.
    fn lead(&self, tag: &str, account: Option<&AccountId>) -> String {
        match account.filter(|_| self.in_subject) {
            Some(a) => format!("[{tag}] {}: ", self.names.name(a).unwrap_or(a.as_str())),
            None => format!("[{tag}] "),
        }
    }

    /// The text's `Account:` value: `payments-prod (111111111111)`, or the id.
    fn text(&self, account: Option<&AccountId>) -> String {
        let Some(a) = account else {
            return String::new();
        };
        match self.names.name(a) {
            Some(name) => format!("{} ({a})", escape(name)),
            None => a.to_string(),
        }
    }

    /// `accountName` in the JSON document, when the account has one.
    fn annotate(&self, doc: &mut Value, account: Option<&AccountId>) {
        let name = account.and_then(|a| self.names.name(a));
        if let (Some(name), Some(map)) = (name, doc.as_object_mut()) {
            map.insert("accountName".into(), name.into());
        }
    }
}

impl Alert {
    /// SNS-safe (printable ASCII, one line, at most 99 characters), whatever the event said.
    pub(crate) fn subject(&self, naming: &Naming) -> String {
        let tag = match self {
            Alert::Resolved(_) => "RESOLVED",
            _ => self.severity().as_str(),
        };
        let lead = naming.lead(tag, self.account());
        let raw = match self {
            Alert::TaskStop(a) => a.subject(&lead),
            Alert::Service(a) => a.subject(&lead),
            Alert::Health(a) => a.subject(&lead),
            Alert::Resolved(a) => a.subject(&lead),
        };
        lookout_shared::notification::subject(&raw)
    }

    /// The notification at one level of detail (`items` log lines or affected resources,
    /// each cut to `item_bytes`), with the repeats suppressed before it.
    pub(crate) fn render(&self, detail: Detail, facts: &Suppression, naming: &Naming) -> Notification {
        let mut n = match self {
            Alert::TaskStop(a) => a.render(self, detail, facts, naming),
            Alert::Service(a) => a.render(self, facts, naming),
            Alert::Health(a) => a.render(self, detail, facts, naming),
            // Never suppressed, never long: no facts, no detail to fit.
            Alert::Resolved(a) => a.render(self, naming),
        };
        naming.annotate(&mut n.structured, self.account());
        n
    }

    /// A resolution carries the severity and reason of the alert it resolves (so the same
    /// filter policies route it) and `status=RESOLVED`.
    fn attributes(&self) -> Vec<Attribute> {
        let mut attributes = vec![
            Attribute::string("source", SOURCE),
            Attribute::string("severity", self.severity().as_str()),
            Attribute::string("reason", self.reason()),
            Attribute::string("cluster", self.cluster().unwrap_or_default()),
            Attribute::string("service", self.service().unwrap_or_default()),
        ];
        // For a team's subscription filter policy: its accounts' alerts only.
        if let Some(account) = self.account() {
            attributes.push(Attribute::string("account", account.as_str()));
        }
        if let Alert::Resolved(_) = self {
            attributes.push(Attribute::string("status", "RESOLVED"));
        }
        attributes
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

/// A duration for people: `45s`, `12m 3s`, `2h 5m`, `3d 4h`; under a second, `<1s`.
fn span(ms: i64) -> String {
    let secs = ms.max(0) / 1_000;
    let (d, h, m, s) = (secs / 86_400, secs / 3_600 % 24, secs / 60 % 60, secs % 60);
    match (d, h, m) {
        _ if ms < 1_000 => "<1s".to_string(),
        (0, 0, 0) => format!("{s}s"),
        (0, 0, _) => format!("{m}m {s}s"),
        (0, _, _) => format!("{h}h {m}m"),
        _ => format!("{d}d {h}h"),
    }
}

fn time_or_unknown(ms: Option<i64>) -> String {
    ms.map_or_else(|| "(not in the event)".to_string(), iso8601_ms)
}

/// The account's id in the JSON document: every alert sent has one (`accepted_events`).
fn account_id(account: Option<&AccountId>) -> &str {
    account.map_or("", |a| a.as_str())
}
