//! The task stop alert: the newest stop of a service's (or family's) crash loop, its failed
//! container, the container's last log lines, and links to the task, service, definition and
//! logs.

use super::{REASON_BYTES, SOURCE, account, chat_opening, field, heading, time_or_unknown, with_repeats};
use crate::alert::{Alert, StoppedTask, TaskStopAlert};
use crate::links::{self, Links};
use crate::logs::{LogLine, LogOutcome};
use crate::quote::{chat_inline, escape, framed, quoted};
use lookout_shared::notification::{ChatMessage, Detail, Notification, chat_code_block};
use lookout_shared::outbox::Suppression;
use lookout_shared::text::FRAME as LOG_PREFIX;
use lookout_shared::text::{count, truncate_utf8};
use lookout_shared::time::iso8601_ms;
use serde_json::{Value, json};
use std::fmt::Write;

/// Tasks listed by name in one crash-loop alert; the rest are counted.
const TASKS_LISTED: usize = 20;
const CHAT_LINES: usize = 5;
const CHAT_LINE_BYTES: usize = 500;

impl TaskStopAlert {
    /// `[ERROR] web: 3 tasks: killed: out of memory (app exit 137) in prod`, before it is made
    /// SNS-safe.
    pub(super) fn subject(&self, severity: &str) -> String {
        let who = self.service.as_deref().unwrap_or(&self.task_definition.family);
        let what = match &self.container {
            Some(c) => match c.exit_code {
                Some(code) => format!("{} ({} exit {code})", self.problem.headline(), c.name),
                None => format!("{} ({})", self.problem.headline(), c.name),
            },
            None => self.problem.headline().to_string(),
        };
        let tasks = if self.tasks.len() > 1 {
            format!("{} tasks: ", self.tasks.len())
        } else {
            String::new()
        };
        format!("[{severity}] {who}: {tasks}{what} in {}", self.cluster.name)
    }

    fn newest(&self) -> Option<&StoppedTask> {
        self.tasks.first()
    }

    fn stopped_at(&self) -> Option<i64> {
        self.newest().and_then(|t| t.stopped_at_ms)
    }

    fn links(&self) -> Links {
        let region = &self.cluster.region;
        let cluster = &self.cluster.name;
        let stopped = self.stopped_at();
        let stream = self.logs.stream();
        Links {
            task: self
                .newest()
                .and_then(|t| links::task(region, cluster, &t.task.id)),
            service: self
                .service
                .as_deref()
                .and_then(|s| links::service(region, cluster, s)),
            task_definition: links::task_definition(&self.task_definition),
            log_stream: stream.zip(stopped).and_then(|(s, at)| links::log_stream(s, at)),
            logs_insights: stream
                .zip(stopped)
                .and_then(|(s, at)| links::logs_insights(s, at)),
        }
    }

    /// What explains the missing lines, when there are none to show.
    fn logs_note(&self) -> Option<String> {
        let container = self.log_container.as_deref().map_or_else(
            || "The container".to_string(),
            |c| format!("Container {}", quoted(c, 255)),
        );
        Some(match &self.logs {
            LogOutcome::Lines { .. } => return None,
            LogOutcome::Empty { stream } => {
                format!("The log stream {} has no events.", quoted(&stream.stream, 512))
            }
            LogOutcome::StreamMissing { stream } => format!(
                "No log stream {} in log group {}: it was never written, or retention deleted it.",
                quoted(&stream.stream, 512),
                quoted(&stream.group, 512)
            ),
            LogOutcome::NotAwslogs { driver } => format!(
                "{container} logs with the {} driver, not awslogs: its logs are elsewhere (see the log configuration in the task definition).",
                quoted(driver, 64)
            ),
            LogOutcome::NoLogConfiguration => format!(
                "{container} has no awslogs log configuration in the task definition: no log lines to show."
            ),
            LogOutcome::StreamUnknown { group } => format!(
                "{container} logs to {} without awslogs-stream-prefix, and the event does not name its stream.",
                quoted(group, 512)
            ),
            LogOutcome::ContainerNotInDefinition => {
                format!("{container} is not in the task definition: no log configuration to follow.")
            }
            LogOutcome::NoContainer => "The event lists no container: no log lines to look up.".to_string(),
            LogOutcome::NeverRan => format!(
                "None: {container} never started ({}), so it wrote no log lines.",
                self.problem.headline()
            ),
            LogOutcome::Unavailable { call, detail } => {
                format!("Could not be read: {call} failed ({}).", escape(detail))
            }
            LogOutcome::TimedOut => {
                "Not read: the lookup would have run past the Lambda deadline.".to_string()
            }
        })
    }

    fn shown_lines(&self, detail: Detail) -> (Vec<(&LogLine, &str)>, usize) {
        match &self.logs {
            LogOutcome::Lines { lines, omitted, .. } => {
                let skip = lines.len().saturating_sub(detail.items);
                let shown = lines[skip..]
                    .iter()
                    .map(|l| (l, truncate_utf8(&l.message, detail.item_bytes)))
                    .collect();
                (shown, omitted.saturating_add(skip))
            }
            _ => (Vec::new(), 0),
        }
    }

    pub(super) fn render(&self, alert: &Alert, detail: Detail, facts: &Suppression) -> Notification {
        let subject = alert.subject();
        let links = self.links();
        let (shown, omitted) = self.shown_lines(detail);
        let newest = self.newest();
        let mut t = heading(&subject, facts, 4096);
        field(&mut t, "What", &self.what());
        if let Some(s) = &self.service {
            field(&mut t, "Service", s);
        }
        field(&mut t, "Cluster", &self.cluster.name);
        field(
            &mut t,
            "Task definition",
            &format!(
                "{}:{}",
                self.task_definition.family, self.task_definition.revision
            ),
        );
        if let Some(task) = newest {
            field(&mut t, "Task", &task.task.id);
            field(&mut t, "Stopped at (UTC)", &time_or_unknown(task.stopped_at_ms));
            if let Some(code) = &task.stop_code {
                field(&mut t, "Stop code", &quoted(code, 64));
            }
            if let Some(reason) = &task.stopped_reason {
                field(&mut t, "Stopped reason", &quoted(reason, REASON_BYTES));
            }
        }
        if let Some(c) = &self.container {
            field(&mut t, "Container", &quoted(&c.name, 255));
            if let Some(code) = c.exit_code {
                field(&mut t, "Exit code", &code.to_string());
            }
            if let Some(reason) = &c.reason {
                field(&mut t, "Container reason", &quoted(reason, REASON_BYTES));
            }
            if let Some(essential) = self.essential {
                field(&mut t, "Essential", if essential { "yes" } else { "no" });
            }
        }
        field(&mut t, "Account", account(self.account.as_ref()));
        field(&mut t, "Region", self.region.as_str());
        if self.tasks.len() > 1 {
            let _ = writeln!(
                t,
                "\n{} of this service stopped for the same reason in this batch (newest first):",
                count(self.tasks.len() as u64, "task", "tasks")
            );
            for task in self.tasks.iter().take(TASKS_LISTED) {
                let _ = writeln!(t, "  {}  {}", task.task.id, time_or_unknown(task.stopped_at_ms));
            }
            if self.tasks.len() > TASKS_LISTED {
                let _ = writeln!(t, "  ... and {} more", self.tasks.len() - TASKS_LISTED);
            }
        }
        let labelled = links.labelled();
        if !labelled.is_empty() {
            let _ = writeln!(t, "\nLinks:");
            for (label, link) in &labelled {
                let _ = writeln!(t, "{label}:\n{link}");
            }
        }
        match (&self.logs, self.logs_note()) {
            (LogOutcome::Lines { stream, .. }, _) => {
                let _ = writeln!(
                    t,
                    "\nLast {} of {} (log group {}, stream {}; oldest first{}):",
                    count(shown.len() as u64, "log line", "log lines"),
                    self.log_container
                        .as_deref()
                        .map_or_else(|| "the container".into(), |c| quoted(c, 255)),
                    quoted(&stream.group, 512),
                    quoted(&stream.stream, 512),
                    if self.redactions > 0 {
                        format!(
                            "; {} redacted",
                            count(self.redactions as u64, "secret", "secrets")
                        )
                    } else {
                        String::new()
                    }
                );
                if omitted > 0 {
                    let _ = writeln!(
                        t,
                        "[{} not shown; open the log stream for them]",
                        count(omitted as u64, "earlier line", "earlier lines")
                    );
                }
                for (line, text) in &shown {
                    let _ = writeln!(t, "--- {}", iso8601_ms(line.timestamp_ms));
                    framed(&mut t, text);
                    if text.len() < line.message.len() {
                        let _ = writeln!(
                            t,
                            "{LOG_PREFIX}… [{} more bytes]",
                            line.message.len() - text.len()
                        );
                    }
                }
            }
            (_, Some(note)) => {
                let _ = writeln!(t, "\nLog lines:\n{note}");
            }
            (_, None) => {}
        }
        let structured = with_repeats(self.structured(alert, &links, &shown, omitted), facts);
        let chat = self.chat(alert, &subject, &links, &shown, facts);
        Notification {
            subject,
            text: t,
            structured,
            chat,
            attributes: alert.attributes(),
            group: format!(
                "{}/{}",
                self.cluster.name,
                self.service.as_deref().unwrap_or(&self.task_definition.family)
            ),
            identity: alert.identity(),
        }
    }

    fn what(&self) -> String {
        let mut s = match &self.container {
            Some(c) => format!("Container {} {}", quoted(&c.name, 255), self.problem.headline()),
            None => format!("Task {}", self.problem.headline()),
        };
        if let Some(code) = self.container.as_ref().and_then(|c| c.exit_code) {
            let _ = write!(s, ", exit code {code}");
            if code == 137 {
                s.push_str(" (SIGKILL)");
            }
        }
        s
    }

    fn structured(&self, alert: &Alert, links: &Links, shown: &[(&LogLine, &str)], omitted: usize) -> Value {
        let tasks: Vec<Value> = self
            .tasks
            .iter()
            .take(TASKS_LISTED)
            .map(|t| {
                json!({
                    "taskArn": t.task.arn,
                    "stoppedAt": t.stopped_at_ms.map(iso8601_ms),
                    "stopCode": t.stop_code,
                    "stoppedReason": t.stopped_reason.as_deref().map(|r| truncate_utf8(r, REASON_BYTES)),
                    "version": t.version,
                })
            })
            .collect();
        let lines: Vec<Value> = shown
            .iter()
            .map(|(l, text)| json!({"timestamp": iso8601_ms(l.timestamp_ms), "message": text, "truncatedBytes": l.message.len() - text.len()}))
            .collect();
        json!({
            "source": SOURCE,
            "schemaVersion": 1,
            "kind": "TaskStopped",
            "severity": alert.severity().as_str(),
            "reason": alert.reason(),
            "summary": alert.subject(),
            "account": account(self.account.as_ref()),
            "region": self.region,
            "cluster": self.cluster.name,
            "clusterArn": self.cluster.arn,
            "service": self.service,
            "taskDefinitionArn": self.task_definition.arn,
            "taskCount": self.tasks.len(),
            "tasks": tasks,
            "container": self.container.as_ref().map(|c| json!({
                "name": truncate_utf8(&c.name, 255),
                "exitCode": c.exit_code,
                "reason": c.reason.as_deref().map(|r| truncate_utf8(r, REASON_BYTES)),
                "essential": self.essential,
            })),
            "logs": {
                "status": self.logs.status(),
                "note": self.logs_note(),
                "logGroup": self.logs.stream().map(|s| &s.group),
                "logStream": self.logs.stream().map(|s| &s.stream),
                "lines": lines,
                "omittedLines": omitted,
                "redactions": self.redactions,
            },
            "links": links,
            "eventIds": self.event_ids,
        })
    }

    fn chat(
        &self,
        alert: &Alert,
        subject: &str,
        links: &Links,
        shown: &[(&LogLine, &str)],
        facts: &Suppression,
    ) -> ChatMessage {
        let mut d = chat_opening(facts);
        let _ = write!(
            d,
            "*{}* {} in cluster {}",
            alert.severity().as_str(),
            self.problem.headline(),
            chat_inline(&self.cluster.name, 255)
        );
        if let Some(s) = &self.service {
            let _ = write!(d, ", service {}", chat_inline(s, 255));
        }
        if let Some(c) = &self.container {
            let _ = write!(d, ", container {}", chat_inline(&c.name, 255));
            if let Some(code) = c.exit_code {
                let _ = write!(d, " (exit {code})");
            }
        }
        if self.tasks.len() > 1 {
            let _ = write!(
                d,
                "; {} in this batch",
                count(self.tasks.len() as u64, "task", "tasks")
            );
        }
        d.push_str(".\n");
        let reason = self
            .container
            .as_ref()
            .and_then(|c| c.reason.as_deref())
            .or(self.newest().and_then(|t| t.stopped_reason.as_deref()));
        if let Some(reason) = reason {
            d.push_str(&chat_code_block(&escape(truncate_utf8(reason, REASON_BYTES))));
            d.push('\n');
        }
        let tail: Vec<String> = shown
            .iter()
            .rev()
            .take(CHAT_LINES)
            .rev()
            .map(|(_, text)| escape(truncate_utf8(text, CHAT_LINE_BYTES)))
            .collect();
        if !tail.is_empty() {
            d.push_str("Last lines:\n");
            d.push_str(&chat_code_block(&tail.join("\n")));
        } else if let Some(note) = self.logs_note() {
            d.push_str(&chat_code_block(&note));
        }
        let next_steps = links
            .labelled()
            .into_iter()
            .map(|(label, link)| format!("{label}: {link}"))
            .collect();
        ChatMessage {
            title: subject.to_string(),
            description: d,
            next_steps,
            keywords: vec![
                alert.severity().as_str().to_string(),
                alert.reason().to_string(),
                self.cluster.name.clone(),
            ],
            event_type: super::EVENT_TYPE.to_string(),
            related_resources: self
                .tasks
                .iter()
                .take(TASKS_LISTED)
                .map(|t| t.task.arn.clone())
                .collect(),
        }
    }
}
