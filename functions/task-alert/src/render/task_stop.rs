//! The task stop alert: the newest stop of a service's (or family's) crash loop, its failed
//! container, the container's last log lines (then a stopped sidecar's, when they fit), and
//! links to the task, service, definition and logs. The stop that reaches `CRASH_LOOP_STOPS`
//! says "crash loop" in every body.

use super::{
    Naming, REASON_BYTES, SOURCE, account_id, chat_opening, field, heading, span, time_or_unknown,
    with_repeats,
};
use crate::alert::{Alert, CrashLoop, SidecarLogs, StoppedTask, TaskStopAlert};
use crate::links::{self, Links};
use crate::logs::{LogLine, LogOutcome, LogStream};
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
    /// `[ERROR] web: 3 tasks: killed: out of memory (app exit 137) in prod` (`lead`: the
    /// `[ERROR] ` and the account), before it is made SNS-safe.
    pub(super) fn subject(&self, lead: &str) -> String {
        let who = self.service.as_deref().unwrap_or(&self.task_definition.family);
        let what = match &self.container {
            Some(c) => match c.exit_code {
                Some(code) => format!("{} ({} exit {code})", self.problem.headline(), c.name),
                None => format!("{} ({})", self.problem.headline(), c.name),
            },
            None => self.problem.headline().to_string(),
        };
        // The loop first: the Subject is cut at 99 characters.
        let tasks = match (self.crash_loop, self.loop_span_ms()) {
            (Some(l), Some(ms)) => format!("crash loop, {} stops in {}: ", l.stops, span(ms)),
            (Some(l), None) => format!("crash loop, {} stops: ", l.stops),
            (None, _) if self.tasks.len() > 1 => format!("{} tasks: ", self.tasks.len()),
            (None, _) => String::new(),
        };
        format!("{lead}{who}: {tasks}{what} in {}", self.cluster.name)
    }

    /// From the crash loop's first alert to this stop (never negative: clocks differ).
    fn loop_span_ms(&self) -> Option<i64> {
        let l = self.crash_loop?;
        Some(self.stopped_at()?.saturating_sub(l.since_ms).max(0))
    }

    /// "3 stops for the same reason since <ISO> (2m 5s)".
    fn loop_line(&self, l: CrashLoop) -> String {
        let mut s = format!(
            "{} stops for the same reason since {}",
            l.stops,
            iso8601_ms(l.since_ms)
        );
        if let Some(ms) = self.loop_span_ms() {
            let _ = write!(s, " ({})", span(ms));
        }
        s
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
            // The role's name and the account's id: nothing of the event.
            LogOutcome::MemberUnreachable(e) => {
                format!("Last log lines unavailable: {}.", escape(&e.to_string()))
            }
        })
    }

    pub(super) fn render(
        &self,
        alert: &Alert,
        detail: Detail,
        facts: &Suppression,
        naming: &Naming,
    ) -> Notification {
        let subject = alert.subject(naming);
        let links = self.links();
        let (shown, omitted) = shown_lines(&self.logs, detail);
        let newest = self.newest();
        let mut t = heading(&subject, facts, 4096);
        if let Some(l) = self.crash_loop {
            field(
                &mut t,
                "Crash loop",
                &format!(
                    "{}; further stops stay suppressed until the window ends (CRASH_LOOP_STOPS, SUPPRESS_WINDOW_MINUTES)",
                    self.loop_line(l)
                ),
            );
        }
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
        field(&mut t, "Account", &naming.text(self.account.as_ref()));
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
                let who = self
                    .log_container
                    .as_deref()
                    .map_or_else(|| "the container".into(), |c| quoted(c, 255));
                let section = Section {
                    who: &who,
                    about: "",
                    stream,
                    shown: &shown,
                    omitted,
                    redactions: self.redactions,
                };
                section.write(&mut t);
            }
            (_, Some(note)) => {
                let _ = writeln!(t, "\nLog lines:\n{note}");
            }
            (_, None) => {}
        }
        let sidecar = self.sidecar.as_ref().and_then(|s| match &s.logs {
            LogOutcome::Lines { stream, .. } => {
                let (shown, omitted) = shown_lines(&s.logs, detail);
                Some((s, stream, shown, omitted))
            }
            _ => None,
        });
        if let Some((s, stream, shown, omitted)) = &sidecar {
            let who = format!("sidecar {}", quoted(&s.name, 255));
            let about = match s.exit_code {
                Some(code) => format!("not essential, exit code {code}; "),
                None => "not essential; ".to_string(),
            };
            let section = Section {
                who: &who,
                about: &about,
                stream,
                shown,
                omitted: *omitted,
                redactions: s.redactions,
            };
            section.write(&mut t);
        }
        let mut structured = with_repeats(self.structured(alert, &subject, &links, &shown, omitted), facts);
        if let Some(map) = structured.as_object_mut() {
            if let Some(l) = self.crash_loop {
                map.insert("loop".into(), json!(l));
            }
            if let Some((s, stream, shown, omitted)) = &sidecar {
                map.insert("sidecarLogs".into(), sidecar_json(s, stream, shown, *omitted));
            }
        }
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

    fn structured(
        &self,
        alert: &Alert,
        subject: &str,
        links: &Links,
        shown: &[(&LogLine, &str)],
        omitted: usize,
    ) -> Value {
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
        let lines = lines_json(shown);
        json!({
            "source": SOURCE,
            "schemaVersion": 1,
            "kind": "TaskStopped",
            "severity": alert.severity().as_str(),
            "reason": alert.reason(),
            "summary": subject,
            "account": account_id(self.account.as_ref()),
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
        if let Some(l) = self.crash_loop {
            let _ = writeln!(d, "_Crash loop: {}._", self.loop_line(l));
        }
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

/// The last lines of `logs` at this detail, and how many are not shown.
fn shown_lines(logs: &LogOutcome, detail: Detail) -> (Vec<(&LogLine, &str)>, usize) {
    match logs {
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

/// One container's lines in the text: a header naming the container (`who`, quoted), what
/// else to say of it (`about`, ending in "; ") and its stream, then each line framed.
struct Section<'a> {
    who: &'a str,
    about: &'a str,
    stream: &'a LogStream,
    shown: &'a [(&'a LogLine, &'a str)],
    omitted: usize,
    redactions: usize,
}

impl Section<'_> {
    fn write(&self, t: &mut String) {
        let _ = writeln!(
            t,
            "\nLast {} of {} ({}log group {}, stream {}; oldest first{}):",
            count(self.shown.len() as u64, "log line", "log lines"),
            self.who,
            self.about,
            quoted(&self.stream.group, 512),
            quoted(&self.stream.stream, 512),
            if self.redactions > 0 {
                format!(
                    "; {} redacted",
                    count(self.redactions as u64, "secret", "secrets")
                )
            } else {
                String::new()
            }
        );
        if self.omitted > 0 {
            let _ = writeln!(
                t,
                "[{} not shown; open the log stream for them]",
                count(self.omitted as u64, "earlier line", "earlier lines")
            );
        }
        for (line, text) in self.shown {
            let _ = writeln!(t, "--- {}", iso8601_ms(line.timestamp_ms));
            framed(t, text);
            if text.len() < line.message.len() {
                let _ = writeln!(
                    t,
                    "{LOG_PREFIX}… [{} more bytes]",
                    line.message.len() - text.len()
                );
            }
        }
    }
}

/// The sidecar's section of the JSON document.
fn sidecar_json(s: &SidecarLogs, stream: &LogStream, shown: &[(&LogLine, &str)], omitted: usize) -> Value {
    json!({
        "container": truncate_utf8(&s.name, 255),
        "exitCode": s.exit_code,
        "logGroup": stream.group,
        "logStream": stream.stream,
        "lines": lines_json(shown),
        "omittedLines": omitted,
        "redactions": s.redactions,
    })
}

/// Shown lines in the JSON document: each with its time and the bytes cut from it.
fn lines_json(shown: &[(&LogLine, &str)]) -> Vec<Value> {
    shown
        .iter()
        .map(|(l, text)| json!({"timestamp": iso8601_ms(l.timestamp_ms), "message": text, "truncatedBytes": l.message.len() - text.len()}))
        .collect()
}
