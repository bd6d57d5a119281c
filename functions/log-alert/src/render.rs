//! The log alert people act on: what failed, where, when, how often, and links to look.

use crate::decode::LogsMessage;
use crate::group::{Group, Grouped};
use lookout_shared::console;
use lookout_shared::ids::{AccountId, Region};
use lookout_shared::notification::{
    Attribute, ChatMessage, Detail, Notification, chat_code_block, chat_code_span,
};
use lookout_shared::outbox::Suppressed;
use lookout_shared::severity::Severity;
use lookout_shared::text::{count, inline, push_framed, thousands, truncate_utf8};
use lookout_shared::time::iso8601_ms;
use serde_json::{Value, json};
use std::fmt::Write;

pub(crate) const SOURCE: &str = "lookout.log-alert";
/// Lines shown in the chat-app payload: a chat message is a pointer, not a log viewer.
const CHAT_LINES: usize = 5;
const CHAT_LINE_BYTES: usize = 500;
/// The Logs Insights link opens this much context around the events.
const INSIGHTS_PADDING_MS: i64 = 60_000;
const INSIGHTS_QUERY: &str = "fields @timestamp, @logStream, @message\n| sort @timestamp asc\n| limit 10000";

/// Everything about the batch that does not depend on how much detail fits.
#[derive(Debug)]
pub(crate) struct AlertContext<'m, 'a> {
    pub message: &'m LogsMessage<'a>,
    pub grouped: &'m Grouped<'m>,
    pub region: &'m Region,
    /// The repeats suppressed since the previous alert of the group this one leads with.
    pub suppressed: Option<&'m Suppressed>,
    pub account: Account<'m>,
    /// Distinct log streams among the alert's events (records of a Kinesis batch may come from
    /// several); `message.log_stream` is the first of them.
    pub streams: usize,
}

/// How the alert names the account its events came from (the payload's `owner`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Account<'m> {
    /// `ACCOUNT_NAMES`' name for it, if any.
    pub name: Option<&'m str>,
    /// Whether the subject names it too: the alert came through an organisation's stream, or
    /// the operator named accounts.
    pub in_subject: bool,
}

impl AlertContext<'_, '_> {
    fn severity(&self) -> Severity {
        self.grouped.severity()
    }

    /// The account's name, else its id, as the payload gave it.
    fn account_label(&self) -> &str {
        self.account.name.unwrap_or(&self.message.owner)
    }

    pub(crate) fn subject(&self) -> String {
        let account = if self.account.in_subject {
            format!("{}: ", self.account_label())
        } else {
            String::new()
        };
        format!(
            "[{}] {account}{} in {}",
            self.severity(),
            self.event_count(),
            self.message.log_group
        )
    }

    /// Events of the batch: all of them (`MIN_SEVERITY` let every one through), else those at
    /// or above it out of all of them ("1 of 4 events").
    fn event_count(&self) -> String {
        let g = self.grouped;
        if g.below_min == 0 {
            count(g.events, "event", "events")
        } else {
            format!(
                "{} of {}",
                thousands(g.events),
                count(g.total_events(), "event", "events")
            )
        }
    }

    fn stream_url(&self) -> String {
        console::log_stream_url(
            self.region,
            &self.message.log_group,
            &self.message.log_stream,
            self.grouped.first_timestamp,
            self.grouped.last_timestamp.saturating_add(1),
        )
    }

    fn insights_url(&self) -> String {
        console::logs_insights_url(
            self.region,
            &self.message.log_group,
            INSIGHTS_QUERY,
            self.grouped.first_timestamp.saturating_sub(INSIGHTS_PADDING_MS),
            self.grouped.last_timestamp.saturating_add(INSIGHTS_PADDING_MS),
        )
    }

    /// Whether the batch's timestamps fit a console link (else links omit or clamp the window).
    fn times_linkable(&self) -> bool {
        let range = console::LINK_TIME_RANGE_MS;
        range.contains(&self.grouped.first_timestamp) && range.contains(&self.grouped.last_timestamp)
    }

    fn severity_summary(&self) -> String {
        let parts: Vec<String> = Severity::ALL
            .iter()
            .filter(|s| self.grouped.count_of(**s) > 0)
            .map(|s| format!("{} {s}", thousands(self.grouped.count_of(*s))))
            .collect();
        parts.join(", ")
    }

    /// The identity of this batch for FIFO deduplication: event ids are unique.
    fn identity(&self) -> String {
        let ids = &self.message.log_events;
        format!(
            "{}|{}|{}|{}|{}|{}",
            self.message.owner,
            self.message.log_group,
            self.message.log_stream,
            ids.first().map_or("", |e| &e.id),
            ids.last().map_or("", |e| &e.id),
            ids.len()
        )
    }

    /// Renders the alert with the first `detail.items` groups, each cut to `detail.item_bytes`.
    pub(crate) fn render(&self, detail: Detail) -> Notification {
        let shown: Vec<(&Group, &str)> = self
            .grouped
            .groups
            .iter()
            .take(detail.items)
            .map(|g| (g, truncate_utf8(&g.message, detail.item_bytes)))
            .collect();
        let omitted = Omitted::of(self.grouped, &shown);
        let stream_url = self.stream_url();
        let insights_url = self.insights_url();
        Notification {
            subject: self.subject(),
            text: self.text(&shown, &omitted, &stream_url, &insights_url),
            structured: if detail.bodies.structured {
                self.structured(&shown, &omitted, &stream_url, &insights_url)
            } else {
                Value::Null
            },
            chat: if detail.bodies.chat {
                self.chat(&shown, &omitted, &stream_url, &insights_url)
            } else {
                ChatMessage::default()
            },
            attributes: vec![
                Attribute::string("source", SOURCE),
                Attribute::string("severity", self.severity().as_str()),
                Attribute::string("logGroup", self.message.log_group.as_ref()),
                Attribute::number("eventCount", self.grouped.events),
                Attribute::string("account", self.message.owner.as_ref()),
            ],
            group: self.message.log_group.to_string(),
            identity: self.identity(),
        }
    }

    fn text(
        &self,
        shown: &[(&Group, &str)],
        omitted: &Omitted,
        stream_url: &str,
        insights_url: &str,
    ) -> String {
        let m = self.message;
        let g = self.grouped;
        let mut t = String::with_capacity(4096 + shown.iter().map(|(_, s)| s.len() + 80).sum::<usize>());
        let _ = writeln!(t, "{}\n", inline(&self.subject()));
        if let Some(s) = self.suppressed {
            t.push_str(&s.text_line());
        }
        // Names and fields from the event are quoted: one line each, hidden characters escaped.
        let _ = writeln!(t, "Log group:     {}", inline(&m.log_group));
        let _ = write!(t, "Log stream:    {}", inline(&m.log_stream));
        if self.streams > 1 {
            let _ = write!(
                t,
                " (and {}; the stream link opens this one)",
                count(self.streams as u64 - 1, "more stream", "more streams")
            );
        }
        t.push('\n');
        let _ = writeln!(t, "Filter:        {}", inline(&m.subscription_filters.join(", ")));
        if let Some(level) = &m.policy_level {
            let _ = writeln!(t, "Delivered by:  subscription policy ({})", inline(level));
        }
        match self.account.name {
            Some(name) => {
                let _ = writeln!(t, "Account:       {} ({})", inline(name), inline(&m.owner));
            }
            None => {
                let _ = writeln!(t, "Account:       {}", inline(&m.owner));
            }
        }
        let _ = writeln!(t, "Region:        {}", self.region);
        let _ = writeln!(
            t,
            "Time (UTC):    {} to {}",
            iso8601_ms(g.first_timestamp),
            iso8601_ms(g.last_timestamp)
        );
        if !self.times_linkable() {
            let _ = writeln!(
                t,
                "Note:          event timestamps outside 1970-9999; links open without that window"
            );
        }
        let _ = writeln!(t, "Severity:      {}", self.severity_summary());
        if g.known.lines > 0 {
            let _ = writeln!(
                t,
                "Known:         {} ({}) already alerted inside SUPPRESS_WINDOW_MINUTES; not shown again",
                count(g.known.lines, "distinct line", "distinct lines"),
                count(g.known.events, "event", "events")
            );
        }
        if g.redactions > 0 {
            let _ = writeln!(t, "Redacted:      {}", count(g.redactions, "secret", "secrets"));
        }
        if g.below_min > 0 {
            let _ = writeln!(
                t,
                "Not shown:     {} below MIN_SEVERITY (at most {})",
                count(g.below_min, "event", "events"),
                g.below_min_severity
            );
        }
        let _ = writeln!(t, "\nOpen the log stream at the first event:\n{stream_url}");
        let _ = writeln!(t, "\nLogs Insights over the window (±1 min):\n{insights_url}");
        let _ = writeln!(
            t,
            "\n{} as {} (most severe first):",
            count(g.events.saturating_sub(g.known.events), "event", "events"),
            count(g.groups.len() as u64, "distinct line", "distinct lines")
        );
        for (group, message) in shown {
            let _ = write!(t, "\n--- {}", group.severity);
            if group.count > 1 {
                let _ = write!(
                    t,
                    " ×{}, {} to {}",
                    thousands(group.count),
                    iso8601_ms(group.first_timestamp),
                    iso8601_ms(group.last_timestamp)
                );
            } else {
                let _ = write!(t, ", {}", iso8601_ms(group.first_timestamp));
            }
            t.push('\n');
            // Each line of the log text is framed, so none can pass for a section or a link.
            push_framed(&mut t, message);
            let cut = group.message.len() - message.len();
            if cut > 0 {
                let _ = writeln!(t, "[{} more bytes]", thousands(cut as u64));
            }
        }
        if omitted.lines > 0 {
            let _ = writeln!(
                t,
                "\n[{} ({}, {} bytes) not shown: an SNS message is limited to 256 KiB. Open the log stream for all of them.]",
                count(omitted.lines, "more distinct line", "more distinct lines"),
                count(omitted.events, "event", "events"),
                thousands(omitted.bytes)
            );
        }
        t
    }

    fn structured(
        &self,
        shown: &[(&Group, &str)],
        omitted: &Omitted,
        stream_url: &str,
        insights_url: &str,
    ) -> Value {
        let m = self.message;
        let g = self.grouped;
        let severity_counts: serde_json::Map<String, Value> = Severity::ALL
            .iter()
            .map(|s| (s.as_str().to_string(), Value::from(g.count_of(*s))))
            .collect();
        let lines: Vec<Value> = shown
            .iter()
            .map(|(group, message)| {
                json!({
                    "severity": group.severity.as_str(),
                    "count": group.count,
                    "firstTimestamp": iso8601_ms(group.first_timestamp),
                    "lastTimestamp": iso8601_ms(group.last_timestamp),
                    "firstEventId": group.first_id,
                    "message": message,
                    "truncatedBytes": group.message.len() - message.len(),
                })
            })
            .collect();
        let mut doc = json!({
            "source": SOURCE,
            "schemaVersion": 1,
            "severity": self.severity().as_str(),
            "account": m.owner,
            "region": self.region,
            "logGroup": m.log_group,
            "logStream": m.log_stream,
            "subscriptionFilters": m.subscription_filters,
            "policyLevel": m.policy_level,
            "firstTimestamp": iso8601_ms(g.first_timestamp),
            "lastTimestamp": iso8601_ms(g.last_timestamp),
            "eventCount": g.events,
            "totalEvents": g.total_events(),
            "distinctLines": g.groups.len(),
            "severityCounts": severity_counts,
            "redactions": g.redactions,
            "belowMinSeverity": g.below_min,
            "links": {"logStream": stream_url, "logsInsights": insights_url},
            "lines": lines,
            "known": {"lines": g.known.lines, "events": g.known.events},
            "omitted": {"lines": omitted.lines, "events": omitted.events, "bytes": omitted.bytes},
        });
        if let Some(doc) = doc.as_object_mut() {
            if let Some(s) = self.suppressed {
                doc.insert("suppressed".into(), s.json());
            }
            if let Some(name) = self.account.name {
                doc.insert("accountName".into(), name.into());
            }
            if self.streams > 1 {
                doc.insert("logStreamCount".into(), self.streams.into());
            }
        }
        doc
    }

    fn chat(
        &self,
        shown: &[(&Group, &str)],
        omitted: &Omitted,
        stream_url: &str,
        insights_url: &str,
    ) -> ChatMessage {
        let m = self.message;
        let g = self.grouped;
        let mut d = self.suppressed.map(Suppressed::chat_line).unwrap_or_default();
        let account = if self.account.in_subject {
            format!("account {}, ", chat_code_span(self.account_label()))
        } else {
            String::new()
        };
        let _ = writeln!(
            d,
            "*{}* as {} in {account}log group {}, stream {}, {} to {} UTC. Severity: {}.",
            self.event_count(),
            count(g.groups.len() as u64, "distinct line", "distinct lines"),
            chat_code_span(&m.log_group),
            chat_code_span(&m.log_stream),
            iso8601_ms(g.first_timestamp),
            iso8601_ms(g.last_timestamp),
            self.severity_summary(),
        );
        for (group, message) in shown.iter().take(CHAT_LINES) {
            let _ = write!(d, "\n{} ×{}\n", group.severity, thousands(group.count));
            d.push_str(&chat_code_block(truncate_utf8(message, CHAT_LINE_BYTES)));
            d.push('\n');
        }
        if g.known.lines > 0 {
            let _ = write!(
                d,
                "\n_Also {} ({}) already alerted inside the suppression window._\n",
                count(g.known.lines, "distinct line", "distinct lines"),
                count(g.known.events, "event", "events")
            );
        }
        let hidden = g.groups.len().saturating_sub(shown.len().min(CHAT_LINES)) as u64;
        if hidden > 0 || omitted.lines > 0 {
            let _ = write!(
                d,
                "\n{} not shown here.",
                count(hidden, "more distinct line", "more distinct lines")
            );
        }
        ChatMessage {
            title: self.subject(),
            description: d,
            next_steps: vec![
                format!("Open the log stream: {stream_url}"),
                format!("Query the window in Logs Insights: {insights_url}"),
            ],
            keywords: vec![self.severity().as_str().to_string(), m.log_group.to_string()],
            event_type: "LookoutLogAlert".to_string(),
            // An ARN only from a name of CloudWatch Logs' own grammar (it is not quoted there).
            related_resources: match AccountId::parse(&m.owner) {
                Some(account) if is_log_group_name(&m.log_group) => vec![console::arn(
                    "logs",
                    self.region,
                    &account,
                    &format!("log-group:{}", m.log_group),
                )],
                _ => Vec::new(),
            },
        }
    }
}

/// CloudWatch Logs' log group name grammar: `[.\-_/#A-Za-z0-9]{1,512}`.
fn is_log_group_name(s: &str) -> bool {
    (1..=512).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-/#".contains(&b))
}

/// What the message leaves out.
#[derive(Debug, Default, PartialEq, Eq)]
struct Omitted {
    lines: u64,
    events: u64,
    bytes: u64,
}

impl Omitted {
    fn of(grouped: &Grouped, shown: &[(&Group, &str)]) -> Self {
        let hidden = &grouped.groups[shown.len()..];
        Self {
            lines: hidden.len() as u64,
            events: hidden.iter().map(|g| g.count).sum(),
            bytes: hidden.iter().map(|g| g.message.len() as u64).sum::<u64>()
                + shown
                    .iter()
                    .map(|(g, s)| (g.message.len() - s.len()) as u64)
                    .sum::<u64>(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::{LogEvent, MessageType};
    use crate::group::redact_classify_group;
    use lookout_shared::config::TopicArn;
    use lookout_shared::notification::{AttributeValue, Delivery, MessageFormat};
    use lookout_shared::redact::Redactor;
    use std::borrow::Cow;

    fn batch(group: &str, lines: &[&str]) -> LogsMessage<'static> {
        LogsMessage {
            message_type: MessageType::Data,
            owner: "123456789012".into(),
            log_group: Cow::Owned(group.to_string()),
            log_stream: "s/1".into(),
            subscription_filters: vec!["errors".into()],
            policy_level: None,
            log_events: lines
                .iter()
                .enumerate()
                .map(|(i, m)| LogEvent {
                    id: Cow::Owned(format!("id{i}")),
                    timestamp: 1_714_557_600_000 + i as i64 * 1000,
                    message: Cow::Owned(m.to_string()),
                })
                .collect(),
        }
    }

    fn render(msg: &LogsMessage, detail: Detail) -> Notification {
        render_after(msg, detail, None)
    }

    /// As `render`, for an alert that follows suppressed repeats.
    fn render_after(msg: &LogsMessage, detail: Detail, suppressed: Option<&Suppressed>) -> Notification {
        render_at(msg, detail, Severity::Notice, suppressed)
    }

    /// As `render`, with lines below `min` counted and not shown (`MIN_SEVERITY`).
    fn render_at(
        msg: &LogsMessage,
        detail: Detail,
        min: Severity,
        suppressed: Option<&Suppressed>,
    ) -> Notification {
        render_as(msg, detail, min, suppressed, NO_NAME, 1)
    }

    /// As `render_at`, naming the account as `account` says, with `streams` log streams.
    fn render_as(
        msg: &LogsMessage,
        detail: Detail,
        min: Severity,
        suppressed: Option<&Suppressed>,
        account: Account<'_>,
        streams: usize,
    ) -> Notification {
        let grouped = redact_classify_group(&msg.log_events, &Redactor::disabled(), min);
        let region = Region::parse("eu-west-1").unwrap();
        AlertContext {
            message: msg,
            grouped: &grouped,
            region: &region,
            suppressed,
            account,
            streams,
        }
        .render(detail)
    }

    /// A direct subscription without `ACCOUNT_NAMES`.
    const NO_NAME: Account<'static> = Account {
        name: None,
        in_subject: false,
    };

    /// Issue 23: the account by name (else id) in the subject, body, JSON and chat, quoted for
    /// each; the `account` attribute keeps the id for subscription filter policies.
    #[test]
    fn alerts_name_the_account_and_quote_it_for_each_format() {
        let msg = batch("/ecs/web", &["ERROR db down"]);
        let named = Account {
            name: Some("payments <prod>\u{1b}[31m"),
            in_subject: true,
        };
        let n = render_as(&msg, ALL, Severity::Notice, None, named, 3);
        assert_eq!(
            n.subject,
            "[ERROR] payments <prod>\u{1b}[31m: 1 event in /ecs/web"
        );
        let sns = text_delivery().encode(&n);
        assert!(!sns.subject.contains('\u{1b}'), "{}", sns.subject);
        assert!(
            n.text
                .contains("\nAccount:       payments <prod>\\u{1b}[31m (123456789012)\n"),
            "{}",
            n.text
        );
        assert!(
            n.text
                .contains("Log stream:    s/1 (and 2 more streams; the stream link opens this one)\n"),
            "{}",
            n.text
        );
        assert_eq!(
            (
                &n.structured["account"],
                &n.structured["accountName"],
                &n.structured["logStreamCount"]
            ),
            (
                &json!("123456789012"),
                &json!("payments <prod>\u{1b}[31m"),
                &json!(3)
            )
        );
        assert!(
            n.chat
                .description
                .contains("in account `payments &lt;prod&gt;\\u{1b}[31m`, log group `/ecs/web`"),
            "{}",
            n.chat.description
        );
        let attribute = n.attributes.iter().find(|a| a.name == "account").unwrap();
        assert_eq!(attribute.value, AttributeValue::String("123456789012".into()));
        // No name: the id, from the payload, quoted like any field of it.
        let mut odd = batch("/ecs/web", &["ERROR db down"]);
        odd.owner = "1234\nSubject: x".into();
        let unnamed = Account {
            name: None,
            in_subject: true,
        };
        let n = render_as(&odd, ALL, Severity::Notice, None, unnamed, 1);
        assert!(
            n.subject.starts_with("[ERROR] 1234\nSubject: x: 1 event"),
            "{}",
            n.subject
        );
        assert!(
            n.text.contains("\nAccount:       1234\\nSubject: x\n"),
            "{}",
            n.text
        );
        assert!(n.text.contains("Log stream:    s/1\n"), "{}", n.text);
        assert_eq!(n.structured.get("accountName"), None);
        // A direct subscription without names: the subject as before.
        let plain = render(&msg, ALL);
        assert_eq!(plain.subject, "[ERROR] 1 event in /ecs/web");
        assert!(
            plain.text.contains("\nAccount:       123456789012\n"),
            "{}",
            plain.text
        );
    }

    const ALL: Detail = Detail::new(100, 8192);

    /// Plain-text delivery to a topic, as `MESSAGE_FORMAT=text` configures it.
    fn text_delivery() -> Delivery {
        Delivery {
            topic: TopicArn::parse("T", "arn:aws:sns:eu-west-1:123456789012:t").unwrap(),
            format: MessageFormat::Text,
            chat_app: false,
            max_request_bytes: 262_144,
        }
    }

    #[test]
    fn subject_names_severity_count_and_group() {
        let msg = batch("/ecs/web-app", &["ERROR a 1", "ERROR a 2", "WARN b"]);
        assert_eq!(render(&msg, ALL).subject, "[ERROR] 3 events in /ecs/web-app");
        let long = format!("/ecs/{}", "x".repeat(500));
        let sns = text_delivery().encode(&render(&batch(&long, &["ERROR x"]), ALL));
        assert_eq!(sns.subject.len(), 99);
        assert!(sns.subject.starts_with("[ERROR] 1 event in /ecs/xxx") && sns.subject.contains("..."));
    }

    /// Issue 22 §5: a batch with lines below `MIN_SEVERITY` says how many of how many it shows.
    #[test]
    fn subject_counts_events_at_min_severity_out_of_the_batch() {
        let msg = batch(
            "/ecs/web",
            &["ERROR db down", "INFO ok", "WARN slow", "INFO 0 errors"],
        );
        let n = render_at(&msg, ALL, Severity::Error, None);
        assert_eq!(n.subject, "[ERROR] 1 of 4 events in /ecs/web");
        assert!(
            n.text.starts_with("[ERROR] 1 of 4 events in /ecs/web\n"),
            "{}",
            n.text
        );
        assert_eq!(
            (&n.structured["eventCount"], &n.structured["totalEvents"]),
            (&json!(1), &json!(4))
        );
        assert!(
            n.chat
                .description
                .starts_with("*1 of 4 events* as 1 distinct line"),
            "{}",
            n.chat.description
        );
        // Within SNS's 100 characters with the longest log group.
        let long = format!("/ecs/{}", "x".repeat(500));
        let n = render_at(&batch(&long, &["ERROR x", "INFO y"]), ALL, Severity::Error, None);
        let sns = text_delivery().encode(&n);
        assert!(sns.subject.len() <= 100, "{}", sns.subject);
        assert!(
            sns.subject.starts_with("[ERROR] 1 of 2 events in /ecs/xxx"),
            "{}",
            sns.subject
        );
    }

    #[test]
    fn storms_read_as_counted_lines() {
        let lines: Vec<String> = (0..1_987)
            .map(|i| format!("ERROR timeout after {i} ms"))
            .collect();
        let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
        let n = render(&batch("/g", &refs), ALL);
        assert!(
            n.text.contains("--- ERROR ×1,987, 2024-05-01T10:00:00.000Z to "),
            "{}",
            n.text
        );
        assert!(n.text.contains("1,987 events as 1 distinct line"), "{}", n.text);
        assert_eq!(n.text.matches("ERROR timeout after").count(), 1);
    }

    #[test]
    fn what_is_left_out_is_stated() {
        let msg = batch("/g", &["ERROR alpha", "ERROR beta", "ERROR gamma"]);
        let n = render(&msg, Detail::new(1, 8));
        assert!(n.text.contains("\n  | ERROR al\n[3 more bytes]\n"), "{}", n.text);
        assert!(
            n.text
                .contains("[2 more distinct lines (2 events, 24 bytes) not shown"),
            "{}",
            n.text
        );
        assert_eq!(
            n.structured["omitted"],
            json!({"lines": 2, "events": 2, "bytes": 24})
        );
        assert_eq!(n.structured["lines"][0]["truncatedBytes"], 3);
    }

    #[test]
    fn chat_text_cannot_inject_markup() {
        let msg = batch("/g", &["ERROR ``` <!channel> <https://evil.example|click here>"]);
        let chat = render(&msg, ALL).chat;
        assert!(!chat.description.contains("<!channel>"));
        assert!(!chat.description.contains("<https://evil"));
        assert_eq!(chat.description.matches("```").count(), 2, "{}", chat.description);
        assert_eq!(
            chat.related_resources,
            vec!["arn:aws:logs:eu-west-1:123456789012:log-group:/g"]
        );
    }

    #[test]
    fn chat_related_resources_name_only_valid_log_groups() {
        for group in ["/g\nhttps://evil.example", "/ecs/web <!channel>", "/ecs/web`", ""] {
            let chat = render(&batch(group, &["ERROR x"]), ALL).chat;
            assert_eq!(chat.related_resources, Vec::<String>::new(), "{group:?}");
        }
        let chat = render(&batch("/aws/lambda/web_app-1.blue#2", &["ERROR x"]), ALL).chat;
        assert_eq!(
            chat.related_resources,
            vec!["arn:aws:logs:eu-west-1:123456789012:log-group:/aws/lambda/web_app-1.blue#2"]
        );
    }

    #[test]
    fn identity_is_stable_per_batch() {
        let a = render(&batch("/g", &["ERROR x", "ERROR y"]), ALL);
        let b = render(&batch("/g", &["ERROR x", "ERROR y"]), Detail::new(1, 300));
        assert_eq!(
            a.identity, b.identity,
            "detail must not change the deduplication identity"
        );
        let c = render(&batch("/g", &["ERROR x"]), ALL);
        assert_ne!(a.identity, c.identity);
    }

    #[test]
    fn suppressed_repeats_are_stated_in_every_format() {
        let msg = batch("/g", &["ERROR x"]);
        let plain = render(&msg, ALL);
        assert!(!plain.text.contains("Suppressed:"), "{}", plain.text);
        assert_eq!(plain.structured.get("suppressed"), None);
        let repeats = Suppressed {
            count: 4,
            since: 1_764_151_320,
        };
        let n = render_after(&msg, ALL, Some(&repeats));
        assert!(
            n.text.starts_with(
                "[ERROR] 1 event in /g\n\nSuppressed:    4 similar alerts suppressed since 2025-11-26T10:02:00.000Z (SUPPRESS_WINDOW_MINUTES)\nLog group:     /g\n"
            ),
            "{}",
            n.text
        );
        assert_eq!(
            n.structured["suppressed"],
            json!({"count": 4, "since": "2025-11-26T10:02:00.000Z"})
        );
        assert!(
            n.chat.description.starts_with(
                "_4 similar alerts suppressed since 2025-11-26T10:02:00.000Z._\n*1 event* as 1 distinct line"
            ),
            "{}",
            n.chat.description
        );
        // Everything else is as without it.
        assert_eq!(n.text.replacen(&repeats.text_line(), "", 1), plain.text);
    }
}
