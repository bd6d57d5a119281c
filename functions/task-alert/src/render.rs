//! The alerts: what died, why, what it said last, and where to look. Rendered into the
//! shared notification model (Subject, email text, structured JSON, chat payload, attributes).

use crate::arn::{ClusterArn, Region, TaskArn, TaskDefinitionArn};
use crate::classify::Problem;
use crate::event::{AffectedEntity, Container};
use crate::links::{self, Links};
use crate::logs::{LogLine, LogOutcome};
use crate::quote::{chat_inline, escape, framed, quoted};
use lookout_shared::notification::{Attribute, ChatMessage, Detail, Notification, chat_code_block};
use lookout_shared::severity::Severity;
use lookout_shared::text::{count, truncate_utf8};
use lookout_shared::time::iso8601_ms;
use serde_json::{Value, json};
use std::fmt::Write;

pub const SOURCE: &str = "lookout.task-alert";
/// Reasons are short in ECS (255 characters); anything longer is cut here, once redacted
/// (the event parser keeps them whole for that).
const REASON_BYTES: usize = 1_024;
/// Tasks listed by name in one crash-loop alert; the rest are counted.
const TASKS_LISTED: usize = 20;
const CHAT_LINES: usize = 5;
const CHAT_LINE_BYTES: usize = 500;
use lookout_shared::text::FRAME as LOG_PREFIX;

/// One stopped task of an alert.
#[derive(Debug, Clone, PartialEq)]
pub struct StoppedTask {
    pub task: TaskArn,
    pub stopped_at_ms: Option<i64>,
    pub stop_code: Option<String>,
    /// Redacted.
    pub stopped_reason: Option<String>,
    pub version: Option<u64>,
}

/// Abnormal stops of one service (or task family) for one reason, newest first.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskStopAlert {
    pub problem: Problem,
    pub severity: Severity,
    pub account: String,
    pub region: Region,
    pub cluster: ClusterArn,
    pub service: Option<String>,
    pub task_definition: TaskDefinitionArn,
    pub tasks: Vec<StoppedTask>,
    /// The failed container of the newest task (reason redacted).
    pub container: Option<Container>,
    /// The container whose logs were read: the failed one, else the first of the task.
    pub log_container: Option<String>,
    pub essential: Option<bool>,
    /// The newest task's container logs, lines redacted.
    pub logs: LogOutcome,
    pub redactions: usize,
    pub event_ids: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServiceProblem {
    DeploymentFailed,
    DeploymentRolledBack,
    PlacementFailed,
    ConfigurationFailed,
    StartImpaired,
}

impl ServiceProblem {
    pub fn as_str(self) -> &'static str {
        match self {
            ServiceProblem::DeploymentFailed => "DeploymentFailed",
            ServiceProblem::DeploymentRolledBack => "DeploymentRolledBack",
            ServiceProblem::PlacementFailed => "TaskPlacementFailed",
            ServiceProblem::ConfigurationFailed => "TaskConfigurationFailed",
            ServiceProblem::StartImpaired => "TaskStartImpaired",
        }
    }

    fn headline(self) -> &'static str {
        match self {
            ServiceProblem::DeploymentFailed => "deployment failed",
            ServiceProblem::DeploymentRolledBack => "deployment rolled back by the circuit breaker",
            ServiceProblem::PlacementFailed => "tasks cannot be placed",
            ServiceProblem::ConfigurationFailed => "tasks cannot be placed: configuration error",
            ServiceProblem::StartImpaired => "tasks keep failing to start",
        }
    }

    pub fn severity(self) -> Severity {
        match self {
            ServiceProblem::DeploymentFailed => Severity::Critical,
            ServiceProblem::StartImpaired => Severity::Warning,
            _ => Severity::Error,
        }
    }
}

/// A service-level event: deployment failure or rollback, placement or start problems.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceAlert {
    pub problem: ServiceProblem,
    pub account: String,
    pub region: Region,
    pub cluster: Option<String>,
    pub service: Option<String>,
    pub event_name: String,
    pub deployment_id: Option<String>,
    /// Redacted.
    pub reason: Option<String>,
    pub capacity_providers: Vec<String>,
    pub at_ms: Option<i64>,
    pub event_id: String,
}

/// An AWS Health notice for ECS: tasks to be retired (SIGTERM, then SIGKILL) after a time.
#[derive(Debug, Clone, PartialEq)]
pub struct HealthAlert {
    pub account: String,
    pub region: Region,
    pub event_type_code: String,
    pub category: Option<String>,
    pub event_arn: Option<String>,
    pub start_time: Option<String>,
    pub end_time: Option<String>,
    /// Redacted.
    pub description: Option<String>,
    pub entities: Vec<AffectedEntity>,
    pub event_id: String,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Alert {
    TaskStop(Box<TaskStopAlert>),
    Service(ServiceAlert),
    Health(HealthAlert),
}

impl Alert {
    pub fn severity(&self) -> Severity {
        match self {
            Alert::TaskStop(a) => a.severity,
            Alert::Service(a) => a.problem.severity(),
            Alert::Health(_) => Severity::Warning,
        }
    }

    /// The `reason` MessageAttribute and summary field.
    pub fn reason(&self) -> &'static str {
        match self {
            Alert::TaskStop(a) => a.problem.as_str(),
            Alert::Service(a) => a.problem.as_str(),
            Alert::Health(a) if a.event_type_code.contains("RETIREMENT") => "TaskRetirement",
            Alert::Health(_) => "HealthNotice",
        }
    }

    pub fn cluster(&self) -> Option<&str> {
        match self {
            Alert::TaskStop(a) => Some(&a.cluster.name),
            Alert::Service(a) => a.cluster.as_deref(),
            Alert::Health(_) => None,
        }
    }

    pub fn service(&self) -> Option<&str> {
        match self {
            Alert::TaskStop(a) => a.service.as_deref(),
            Alert::Service(a) => a.service.as_deref(),
            Alert::Health(_) => None,
        }
    }

    /// Stable per event (or per group of task events): the same input, the same identity.
    pub fn identity(&self) -> String {
        match self {
            Alert::TaskStop(a) => {
                let mut ids: Vec<String> = a
                    .tasks
                    .iter()
                    .map(|t| format!("{}@{}", t.task.arn, t.version.unwrap_or(0)))
                    .collect();
                ids.sort();
                format!("task-alert|{}|{}", a.problem.as_str(), ids.join(","))
            }
            Alert::Service(a) => format!("task-alert|{}|{}", a.problem.as_str(), a.event_id),
            Alert::Health(a) => format!(
                "task-alert|health|{}|{}",
                a.event_arn.as_deref().unwrap_or_default(),
                a.event_id
            ),
        }
    }

    /// What makes two alerts the same crash loop across invocations (cluster, service or
    /// family, problem); `None`: never held back (Health notices are each news).
    pub fn loop_parts(&self) -> Option<[String; 3]> {
        match self {
            Alert::TaskStop(a) => Some([
                a.cluster.name.clone(),
                a.service
                    .clone()
                    .unwrap_or_else(|| a.task_definition.family.clone()),
                a.problem.as_str().to_string(),
            ]),
            Alert::Service(a) => Some([
                a.cluster.clone().unwrap_or_default(),
                a.service.clone().unwrap_or_default(),
                a.problem.as_str().to_string(),
            ]),
            Alert::Health(_) => None,
        }
    }

    /// SNS-safe (printable ASCII, one line, at most 99 characters), whatever the event said.
    pub fn subject(&self) -> String {
        lookout_shared::notification::subject(&self.raw_subject())
    }

    fn raw_subject(&self) -> String {
        let severity = self.severity().as_str();
        match self {
            Alert::TaskStop(a) => {
                let who = a.service.as_deref().unwrap_or(&a.task_definition.family);
                let what = match &a.container {
                    Some(c) => match c.exit_code {
                        Some(code) => format!("{} ({} exit {code})", a.problem.headline(), c.name),
                        None => format!("{} ({})", a.problem.headline(), c.name),
                    },
                    None => a.problem.headline().to_string(),
                };
                let tasks = if a.tasks.len() > 1 {
                    format!("{} tasks: ", a.tasks.len())
                } else {
                    String::new()
                };
                format!("[{severity}] {who}: {tasks}{what} in {}", a.cluster.name)
            }
            Alert::Service(a) => {
                let who = a.service.as_deref().unwrap_or("ECS service");
                let place = a
                    .cluster
                    .as_deref()
                    .map(|c| format!(" in {c}"))
                    .unwrap_or_default();
                format!("[{severity}] {who}: {}{place}", a.problem.headline())
            }
            Alert::Health(a) => {
                let what = if a.event_type_code.contains("RETIREMENT") {
                    "ECS task retirement"
                } else {
                    "AWS Health notice for ECS"
                };
                let when = a
                    .start_time
                    .as_deref()
                    .map(|t| format!(" after {t}"))
                    .unwrap_or_default();
                format!(
                    "[{severity}] {what}: {}{when}",
                    count(a.entities.len() as u64, "resource", "resources")
                )
            }
        }
    }

    /// The notification at one level of detail: `items` log lines (or affected resources),
    /// each cut to `item_bytes`.
    pub fn render(&self, detail: Detail) -> Notification {
        match self {
            Alert::TaskStop(a) => a.render(self, detail),
            Alert::Service(a) => a.render(self),
            Alert::Health(a) => a.render(self, detail),
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
}

/// `Label:` padded so values line up.
fn field(t: &mut String, label: &str, value: &str) {
    let _ = writeln!(t, "{:<19}{value}", format!("{label}:"));
}

fn time_or_unknown(ms: Option<i64>) -> String {
    ms.map_or_else(|| "(not in the event)".to_string(), iso8601_ms)
}

impl TaskStopAlert {
    fn newest(&self) -> Option<&StoppedTask> {
        self.tasks.first()
    }

    fn stopped_at(&self) -> Option<i64> {
        self.newest().and_then(|t| t.stopped_at_ms)
    }

    pub fn links(&self) -> Links {
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

    fn render(&self, alert: &Alert, detail: Detail) -> Notification {
        let subject = alert.subject();
        let links = self.links();
        let (shown, omitted) = self.shown_lines(detail);
        let newest = self.newest();
        let mut t = String::with_capacity(4096);
        let _ = writeln!(t, "{subject}\n");
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
        field(&mut t, "Account", &self.account);
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
        let structured = self.structured(alert, &links, &shown, omitted);
        let chat = self.chat(alert, &subject, &links, &shown);
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
            "account": self.account,
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

    fn chat(&self, alert: &Alert, subject: &str, links: &Links, shown: &[(&LogLine, &str)]) -> ChatMessage {
        let mut d = format!(
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
            event_type: "LookoutTaskAlert".to_string(),
            related_resources: self
                .tasks
                .iter()
                .take(TASKS_LISTED)
                .map(|t| t.task.arn.clone())
                .collect(),
        }
    }
}

impl ServiceAlert {
    fn links(&self) -> Links {
        Links {
            service: self
                .cluster
                .as_deref()
                .zip(self.service.as_deref())
                .and_then(|(c, s)| links::service(&self.region, c, s)),
            ..Links::default()
        }
    }

    fn render(&self, alert: &Alert) -> Notification {
        let subject = alert.subject();
        let links = self.links();
        let mut t = String::with_capacity(2048);
        let _ = writeln!(t, "{subject}\n");
        field(
            &mut t,
            "What",
            &format!("{} ({})", self.problem.headline(), escape(&self.event_name)),
        );
        if let Some(s) = &self.service {
            field(&mut t, "Service", s);
        }
        if let Some(c) = &self.cluster {
            field(&mut t, "Cluster", c);
        }
        if let Some(id) = &self.deployment_id {
            field(&mut t, "Deployment", &quoted(id, 255));
        }
        if let Some(reason) = &self.reason {
            field(&mut t, "Reason", &quoted(reason, REASON_BYTES));
        }
        for p in &self.capacity_providers {
            field(&mut t, "Capacity provider", &quoted(p, 512));
        }
        field(&mut t, "Time (UTC)", &time_or_unknown(self.at_ms));
        field(&mut t, "Account", &self.account);
        field(&mut t, "Region", self.region.as_str());
        for (label, link) in links.labelled() {
            let _ = writeln!(t, "\n{label}:\n{link}");
        }
        let structured = json!({
            "source": SOURCE,
            "schemaVersion": 1,
            "kind": "ServiceEvent",
            "severity": alert.severity().as_str(),
            "reason": alert.reason(),
            "summary": subject,
            "eventName": self.event_name,
            "account": self.account,
            "region": self.region,
            "cluster": self.cluster,
            "service": self.service,
            "deploymentId": self.deployment_id,
            "eventReason": self.reason.as_deref().map(|r| truncate_utf8(r, REASON_BYTES)),
            "capacityProviderArns": self.capacity_providers,
            "time": self.at_ms.map(iso8601_ms),
            "links": links,
            "eventIds": [self.event_id],
        });
        let mut d = format!("*{}* {}", alert.severity().as_str(), self.problem.headline());
        if let Some(s) = &self.service {
            let _ = write!(d, ", service {}", chat_inline(s, 255));
        }
        if let Some(c) = &self.cluster {
            let _ = write!(d, " in cluster {}", chat_inline(c, 255));
        }
        d.push_str(".\n");
        if let Some(reason) = &self.reason {
            d.push_str(&chat_code_block(&escape(truncate_utf8(reason, REASON_BYTES))));
        }
        Notification {
            subject: subject.clone(),
            text: t,
            structured,
            chat: ChatMessage {
                title: subject.clone(),
                description: d,
                next_steps: links
                    .labelled()
                    .into_iter()
                    .map(|(l, u)| format!("{l}: {u}"))
                    .collect(),
                keywords: vec![alert.severity().as_str().to_string(), alert.reason().to_string()],
                event_type: "LookoutTaskAlert".to_string(),
                related_resources: Vec::new(),
            },
            attributes: alert.attributes(),
            group: format!(
                "{}/{}",
                self.cluster.as_deref().unwrap_or("-"),
                self.service.as_deref().unwrap_or("-")
            ),
            identity: alert.identity(),
        }
    }
}

impl HealthAlert {
    fn entity_line(&self, e: &AffectedEntity) -> (String, Option<String>) {
        match e {
            AffectedEntity::Task(task) => {
                let cluster = task.cluster.as_deref().unwrap_or("(cluster not in the ARN)");
                let link = task
                    .cluster
                    .as_deref()
                    .and_then(|c| links::task(&task.region, c, &task.id));
                (format!("task {} in cluster {cluster}", task.id), link)
            }
            AffectedEntity::Service { cluster, service } => (
                format!("tasks of service {service} in cluster {cluster}"),
                links::service(&self.region, cluster, service),
            ),
            AffectedEntity::Other { value } => (quoted(value, 512), None),
        }
    }

    fn render(&self, alert: &Alert, detail: Detail) -> Notification {
        let subject = alert.subject();
        let shown: Vec<(String, Option<String>)> = self
            .entities
            .iter()
            .take(detail.items)
            .map(|e| self.entity_line(e))
            .collect();
        let mut t = String::with_capacity(4096);
        let _ = writeln!(t, "{subject}\n");
        field(&mut t, "Event type", &escape(&self.event_type_code));
        if let Some(c) = &self.category {
            field(&mut t, "Category", &escape(c));
        }
        if let Some(start) = &self.start_time {
            field(&mut t, "Starts after", &quoted(start, 64));
        }
        if let Some(end) = &self.end_time {
            field(&mut t, "Ends", &quoted(end, 64));
        }
        field(&mut t, "Account", &self.account);
        field(&mut t, "Region", self.region.as_str());
        let _ = writeln!(
            t,
            "\nRetired tasks get SIGTERM, then SIGKILL after the stop timeout; a service replaces them, a standalone task is not restarted.\n"
        );
        let _ = writeln!(
            t,
            "Affected ({}):",
            count(self.entities.len() as u64, "resource", "resources")
        );
        for (line, link) in &shown {
            let _ = writeln!(t, "  {line}");
            if let Some(link) = link {
                let _ = writeln!(t, "  {link}");
            }
        }
        if self.entities.len() > shown.len() {
            let _ = writeln!(
                t,
                "  ... and {} more (see the AWS Health Dashboard)",
                self.entities.len() - shown.len()
            );
        }
        if let Some(description) = &self.description {
            let cut = truncate_utf8(description, detail.item_bytes.saturating_mul(4));
            let _ = writeln!(t, "\nAWS Health says:");
            framed(&mut t, cut);
            if cut.len() < description.len() {
                let _ = writeln!(t, "{LOG_PREFIX}… [{} more bytes]", description.len() - cut.len());
            }
        }
        let entities: Vec<Value> = self
            .entities
            .iter()
            .take(detail.items)
            .map(|e| json!(e))
            .collect();
        let structured = json!({
            "source": SOURCE,
            "schemaVersion": 1,
            "kind": "HealthNotice",
            "severity": alert.severity().as_str(),
            "reason": alert.reason(),
            "summary": subject,
            "account": self.account,
            "region": self.region,
            "eventTypeCode": self.event_type_code,
            "eventTypeCategory": self.category,
            "eventArn": self.event_arn,
            "startTime": self.start_time,
            "endTime": self.end_time,
            "affectedEntities": entities,
            "omittedEntities": self.entities.len() - shown.len(),
            "eventIds": [self.event_id],
        });
        let mut d = format!(
            "*{}* {}",
            alert.severity().as_str(),
            escape(&self.event_type_code)
        );
        if let Some(start) = &self.start_time {
            let _ = write!(d, " after {}", chat_inline(start, 64));
        }
        d.push_str(".\n");
        let listed: Vec<&str> = shown.iter().take(10).map(|(l, _)| l.as_str()).collect();
        d.push_str(&chat_code_block(&listed.join("\n")));
        Notification {
            subject: subject.clone(),
            text: t,
            structured,
            chat: ChatMessage {
                title: subject.clone(),
                description: d,
                next_steps: vec!["Plan for the retirement: force a new deployment of the affected services before it starts, or restart standalone tasks after it.".to_string()],
                keywords: vec![alert.severity().as_str().to_string(), alert.reason().to_string()],
                event_type: "LookoutTaskAlert".to_string(),
                related_resources: Vec::new(),
            },
            attributes: alert.attributes(),
            group: "aws-health/ecs".to_string(),
            identity: alert.identity(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logs::LogStream;
    use lookout_shared::config::TopicArn;
    use lookout_shared::notification::{Delivery, MessageFormat, SNS_MAX_REQUEST_BYTES, SUBJECT_MAX_CHARS};

    const HOSTILE: &str =
        "app\n\nLinks:\nhttps://evil.example `x` <!channel> <@U123> \x1b[31mred\x1b[0m \u{202E}txt.exe";

    fn region() -> Region {
        Region::parse("us-east-1").unwrap()
    }

    fn task_alert(container: &str, reason: &str, lines: Vec<&str>) -> Alert {
        let task =
            TaskArn::parse("arn:aws:ecs:us-east-1:123456789012:task/prod/0123456789abcdef0123456789abcdef")
                .unwrap();
        Alert::TaskStop(Box::new(TaskStopAlert {
            problem: Problem::EssentialContainerExited,
            severity: Severity::Error,
            account: "123456789012".into(),
            region: region(),
            cluster: ClusterArn::parse("arn:aws:ecs:us-east-1:123456789012:cluster/prod").unwrap(),
            service: Some("web".into()),
            task_definition: TaskDefinitionArn::parse(
                "arn:aws:ecs:us-east-1:123456789012:task-definition/web:3",
            )
            .unwrap(),
            tasks: vec![StoppedTask {
                task,
                stopped_at_ms: Some(1_764_093_850_512),
                stop_code: Some("EssentialContainerExited".into()),
                stopped_reason: Some(reason.into()),
                version: Some(3),
            }],
            container: Some(Container {
                name: container.into(),
                exit_code: Some(1),
                reason: Some(reason.into()),
                last_status: None,
                runtime_id: None,
            }),
            log_container: Some(container.into()),
            essential: Some(true),
            logs: LogOutcome::Lines {
                stream: LogStream {
                    region: region(),
                    group: "/ecs/web".into(),
                    stream: "ecs/app/0123456789abcdef0123456789abcdef".into(),
                },
                lines: lines
                    .into_iter()
                    .enumerate()
                    .map(|(i, m)| LogLine {
                        timestamp_ms: 1_764_093_840_000 + i as i64,
                        message: m.into(),
                    })
                    .collect(),
                omitted: 0,
            },
            redactions: 0,
            event_ids: vec!["e1".into()],
        }))
    }

    fn delivery(format: MessageFormat, chat_app: bool) -> Delivery {
        Delivery {
            topic: TopicArn::parse("T", "arn:aws:sns:us-east-1:123456789012:alerts").unwrap(),
            format,
            chat_app,
            max_request_bytes: SNS_MAX_REQUEST_BYTES,
        }
    }

    const ALL: Detail = Detail::new(1_000, 16_384);

    #[test]
    fn hostile_text_cannot_forge_sections_links_or_mentions() {
        let alert = task_alert(HOSTILE, HOSTILE, vec![HOSTILE, "ok line"]);
        let n = alert.render(ALL);
        // Only our own section headers start a line; every log line is framed.
        assert_eq!(n.text.matches("\nLinks:\n").count(), 1, "{}", n.text);
        assert!(
            !n.text.lines().any(|l| l.starts_with("https://evil")),
            "{}",
            n.text
        );
        assert!(
            !n.text.contains('\x1b') && !n.text.contains('\u{202E}'),
            "{}",
            n.text
        );
        assert!(
            n.text.contains("\\u{1b}[31mred") && n.text.contains("\\u{202e}txt.exe"),
            "{}",
            n.text
        );
        let log_lines: Vec<&str> = n
            .text
            .lines()
            .skip_while(|l| !l.starts_with("Last "))
            .skip(1)
            .filter(|l| !l.starts_with("--- "))
            .collect();
        assert!(log_lines.iter().all(|l| l.starts_with("  | ")), "{log_lines:?}");
        // Chat: no live mention, no code block broken out of.
        let chat = &n.chat;
        assert!(
            !chat.description.contains("<!channel>") && !chat.description.contains("<@U123>"),
            "{}",
            chat.description
        );
        // The title is quoted once, by the shared chat encoder: check what is sent.
        let sent = delivery(MessageFormat::PerProtocol, true).encode(&n).message;
        let body: Value = serde_json::from_str(&sent).unwrap();
        let chat_sent = body["https"].as_str().unwrap();
        assert!(
            !chat_sent.contains("<!channel>") && !chat_sent.contains("<@U123>"),
            "{chat_sent}"
        );
        assert_eq!(
            chat.description.matches("```").count() % 2,
            0,
            "{}",
            chat.description
        );
        // Subject: SNS-safe whatever the container is called.
        let subject = alert.subject();
        assert!(
            subject.len() <= SUBJECT_MAX_CHARS && subject.bytes().all(|b| (0x20..0x7f).contains(&b)),
            "{subject}"
        );
    }

    #[test]
    fn subject_limit_holds_for_long_names() {
        let long = "c".repeat(255);
        let alert = task_alert(&long, "x", vec![]);
        let sns = delivery(MessageFormat::Text, false).encode(&alert.render(ALL));
        assert_eq!(sns.subject.len(), SUBJECT_MAX_CHARS);
        assert!(
            sns.subject
                .starts_with("[ERROR] web: essential container exited (ccc")
                && sns.subject.contains("..."),
            "{}",
            sns.subject
        );
    }

    #[test]
    fn text_format_attributes_and_per_protocol_documents() {
        let alert = task_alert("app", "Essential container in task exited", vec!["boom"]);
        let sns = delivery(MessageFormat::Text, false).encode(&alert.render(ALL));
        let attr = |n: &str| {
            sns.attributes
                .iter()
                .find(|a| a.name == n)
                .map(|a| a.value_string())
        };
        assert_eq!(attr("service").as_deref(), Some("web"));
        assert_eq!(attr("cluster").as_deref(), Some("prod"));
        assert_eq!(attr("severity").as_deref(), Some("ERROR"));
        assert_eq!(attr("reason").as_deref(), Some("EssentialContainerExited"));
        let sns = delivery(MessageFormat::PerProtocol, true).encode(&alert.render(ALL));
        let body: Value = serde_json::from_str(&sns.message).unwrap();
        let doc: Value = serde_json::from_str(body["sqs"].as_str().unwrap()).unwrap();
        assert_eq!(doc["logs"]["lines"][0]["message"], "boom");
        assert_eq!(doc["container"]["exitCode"], 1);
        assert_eq!(
            doc["links"]["taskDefinition"],
            "https://us-east-1.console.aws.amazon.com/ecs/v2/task-definitions/web/3/containers?region=us-east-1"
        );
        let chat: Value = serde_json::from_str(body["https"].as_str().unwrap()).unwrap();
        assert_eq!(chat["content"]["textType"], "client-markdown");
    }

    #[test]
    fn huge_logs_are_fitted_to_the_sns_limit_newest_kept() {
        let big = "x".repeat(16_000);
        let mut lines: Vec<&str> = vec![big.as_str(); 40];
        lines.push("the last line");
        let alert = task_alert("app", "r", lines);
        for format in [MessageFormat::Text, MessageFormat::PerProtocol] {
            let d = delivery(format, true);
            let (sns, detail) = d.fit(ALL, |detail| alert.render(detail)).unwrap();
            assert!(sns.request_bytes() <= SNS_MAX_REQUEST_BYTES);
            assert!(detail.items < 41, "{detail:?}");
            assert!(
                sns.message.contains("the last line"),
                "the newest line survives fitting"
            );
        }
    }

    #[test]
    fn health_notices_list_resources_with_links() {
        let alert = Alert::Health(HealthAlert {
            account: "123456789012".into(),
            region: region(),
            event_type_code: "AWS_ECS_TASK_PATCHING_RETIREMENT".into(),
            category: Some("scheduledChange".into()),
            event_arn: None,
            start_time: Some("Tue, 02 Dec 2025 18:00:00 GMT".into()),
            end_time: None,
            description: Some("Line one\nLinks:\nhttps://evil.example".into()),
            entities: vec![
                crate::event::AffectedEntity::Service {
                    cluster: "prod".into(),
                    service: "web".into(),
                },
                crate::event::AffectedEntity::Other { value: "x\ny".into() },
            ],
            event_id: "h1".into(),
        });
        assert_eq!(
            alert.subject(),
            "[WARNING] ECS task retirement: 2 resources after Tue, 02 Dec 2025 18:00:00 GMT"
        );
        let n = alert.render(ALL);
        assert!(n.text.contains("  tasks of service web in cluster prod\n  https://us-east-1.console.aws.amazon.com/ecs/v2/clusters/prod/services/web/health?region=us-east-1\n"), "{}", n.text);
        assert!(n.text.contains("  \"x\\ny\"\n"), "{}", n.text);
        assert!(
            n.text.contains("  | Links:\n  | https://evil.example\n"),
            "{}",
            n.text
        );
        assert_eq!(n.text.matches("\nLinks:").count(), 0);
    }

    /// A GitHub token and an AWS secret key, 40 characters each, with text around them.
    const GHP: &str = "ghp_aB3dE5fG7hJ9kL1mN2pQ4rS6tU8vW0xY2zA4";
    const AWS_KEY: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

    fn secret_unit() -> String {
        format!("op {GHP} key {AWS_KEY} ")
    }

    /// Units of secrets, padded so that byte `cut` falls 30 characters into a GitHub token.
    fn straddling(cut: usize, len: usize) -> String {
        let unit = secret_unit();
        let pad = (cut - 30 - "op ".len()) % unit.len();
        let text = format!("{}{}", "x".repeat(pad), unit.repeat(len / unit.len() + 1));
        assert_eq!(&text[cut - 30..cut], &GHP[..30]);
        text
    }

    /// Where 12 characters in a row of either secret survive in what is sent.
    fn secret_parts(what: &str, out: &str) -> Vec<String> {
        [GHP, AWS_KEY]
            .iter()
            .flat_map(|secret| (0..=secret.len() - 12).map(|i| &secret[i..i + 12]))
            .filter(|part| out.contains(part))
            .map(|part| format!("{what}: {part:?}"))
            .collect()
    }

    fn assert_no_secret_part(what: &str, out: &str) {
        let found = secret_parts(what, out);
        assert!(found.is_empty(), "parts of a secret survived: {found:?}");
    }

    fn assert_no_secret_in(what: &str, n: &Notification) {
        let found: Vec<String> = [
            ("text", n.text.clone()),
            ("structured", n.structured.to_string()),
            ("chat", n.chat.description.clone()),
        ]
        .iter()
        .flat_map(|(body, out)| secret_parts(&format!("{what} {body}"), out))
        .collect();
        assert!(found.is_empty(), "parts of a secret survived: {found:?}");
    }

    /// The newest log line straddles `LOG_BYTES`; the handler redacts what `keep_tail` kept;
    /// then every cut of rendering and fitting: `item_bytes` halved by `Delivery::fit` down to
    /// the chat's 500 bytes and below, and the SNS size limit.
    #[test]
    fn log_lines_are_cut_only_after_redaction() {
        let redactor = lookout_shared::redact::Redactor::built_in();
        let log_bytes = 2_000;
        let line = straddling(log_bytes, 40_000);
        let (kept, _) = crate::logs::keep_tail(
            vec![LogLine {
                timestamp_ms: 1,
                message: line,
            }],
            crate::logs::LogLimits {
                lines: 20,
                bytes: log_bytes,
            },
        );
        let redacted: Vec<String> = kept
            .iter()
            .map(|l| redactor.redact(&l.message).0.into_owned())
            .collect();
        let alert = task_alert("app", "r", redacted.iter().map(String::as_str).collect());
        let mut item_bytes = log_bytes;
        while item_bytes > 16 {
            assert_no_secret_in(
                &format!("item_bytes {item_bytes}"),
                &alert.render(Detail::new(1_000, item_bytes)),
            );
            item_bytes = item_bytes * 2 / 3;
        }
        // At the largest `LOG_BYTES`, one line and its JSON copy exceed SNS's limit: fitting
        // halves `item_bytes`.
        let max = Detail::new(1_000, 128 << 10);
        let long = redactor.redact(&straddling(128 << 10, 1_000_000)).0.into_owned();
        let alert = task_alert("app", "r", vec![long.as_str()]);
        let (sns, detail) = delivery(MessageFormat::PerProtocol, true)
            .fit(max, |detail| alert.render(detail))
            .unwrap();
        assert!(detail.item_bytes < max.item_bytes, "{detail:?}");
        assert_no_secret_part("fitted SNS message", &sns.message);
    }

    /// Reasons and Health descriptions straddling the 8 KiB bound event parsing used to cut
    /// them to, through parsing, `plan`'s redaction and every rendering.
    #[test]
    fn reasons_and_descriptions_are_cut_only_after_redaction() {
        let redactor = lookout_shared::redact::Redactor::built_in();
        let text = straddling(8 << 10, 12_000);
        let event = |detail_type: &str, source: &str, resources: Value, detail: Value| {
            json!({
                "version": "0", "id": "e1", "detail-type": detail_type, "source": source,
                "account": "111122223333", "time": "2025-11-25T18:00:00Z", "region": "us-west-2",
                "resources": resources, "detail": detail,
            })
        };
        let events = [
            event(
                "ECS Deployment State Change",
                "aws.ecs",
                json!(["arn:aws:ecs:us-west-2:111122223333:service/prod/web"]),
                json!({"eventType": "ERROR", "eventName": "SERVICE_DEPLOYMENT_FAILED",
                    "deploymentId": "ecs-svc/1", "reason": text}),
            ),
            event(
                "AWS Health Event",
                "aws.health",
                json!([]),
                json!({"service": "ECS", "eventTypeCode": "AWS_ECS_TASK_PATCHING_RETIREMENT",
                    "eventTypeCategory": "scheduledChange",
                    "eventDescription": [{"language": "en_US", "latestDescription": text}],
                    "affectedEntities": [{"entityValue":
                        "arn:aws:ecs:us-west-2:111122223333:task/prod/c13b4cb40f1f4fe4a2971f76ae5a47ad"}]}),
            ),
        ];
        let events: Vec<crate::event::Event> = events
            .iter()
            .map(|e| crate::event::parse_event(e, "").unwrap())
            .collect();
        let plan = crate::handler::plan(events, &redactor);
        assert_eq!(plan.ready.len(), 2);
        let found: Vec<String> = plan
            .ready
            .iter()
            .flat_map(|alert| {
                let n = alert.render(ALL);
                [n.text, n.structured.to_string(), n.chat.description]
                    .into_iter()
                    .flat_map(|out| secret_parts(&alert.subject(), &out))
                    .collect::<Vec<_>>()
            })
            .collect();
        assert!(found.is_empty(), "parts of a secret survived: {found:?}");
        // Task stop reasons are redacted by the handler once the logs are read: parsing keeps
        // them whole for it.
        let stop = event(
            "ECS Task State Change",
            "aws.ecs",
            json!([]),
            json!({
                "clusterArn": "arn:aws:ecs:us-west-2:111122223333:cluster/prod",
                "taskArn": "arn:aws:ecs:us-west-2:111122223333:task/prod/c13b4cb40f1f4fe4a2971f76ae5a47ad",
                "taskDefinitionArn": "arn:aws:ecs:us-west-2:111122223333:task-definition/web:3",
                "lastStatus": "STOPPED", "stoppedReason": text,
                "containers": [{"name": "app", "exitCode": 1, "reason": text}],
            }),
        );
        let crate::event::EventKind::Task(task) = crate::event::parse_event(&stop, "").unwrap().kind else {
            panic!("a task state change");
        };
        assert_eq!(task.stopped_reason.as_deref(), Some(text.as_str()));
        assert_eq!(task.containers[0].reason.as_deref(), Some(text.as_str()));
        let reason = redactor.redact(&text).0.into_owned();
        assert_no_secret_in("task stop", &task_alert("app", &reason, vec!["boom"]).render(ALL));
    }

    #[derive(serde::Deserialize)]
    struct Corpus {
        cases: Vec<CorpusCase>,
    }

    #[derive(serde::Deserialize)]
    struct CorpusCase {
        name: String,
        input: String,
        secrets: Vec<String>,
    }

    fn health_alert(description: &str) -> Alert {
        Alert::Health(HealthAlert {
            account: "123456789012".into(),
            region: region(),
            event_type_code: "AWS_ECS_TASK_PATCHING_RETIREMENT".into(),
            category: None,
            event_arn: None,
            start_time: None,
            end_time: None,
            description: Some(description.into()),
            entities: Vec::new(),
            event_id: "h1".into(),
        })
    }

    /// Every positive case of the shared secret corpus, redacted as the handler redacts, as a
    /// log line among others, as the stop and container reasons and as a Health description:
    /// no secret in the text, the structured document or the chat message. A short secret may
    /// also occur in our own words: only occurrences beyond the same alert without it count.
    #[test]
    fn no_secret_of_the_corpus_survives_in_any_format() {
        let corpus: Corpus =
            serde_json::from_str(include_str!("../../../shared/tests/secrets-corpus.json")).unwrap();
        let redactor = lookout_shared::redact::Redactor::built_in();
        let bodies = |n: Notification| [n.text, n.structured.to_string(), n.chat.description];
        let render = |text: &str| {
            let task = task_alert("app", text, vec!["ERROR before", text, "WARN after"]);
            let mut all = bodies(task.render(ALL)).to_vec();
            all.extend(bodies(health_alert(text).render(ALL)));
            all
        };
        let baseline = render("ERROR placeholder");
        let mut checked = 0;
        for case in corpus.cases.iter().filter(|c| !c.secrets.is_empty()) {
            let sent = render(&redactor.redact(&case.input).0);
            for secret in &case.secrets {
                let escaped = serde_json::to_string(secret).unwrap();
                for needle in [secret.as_str(), &escaped[1..escaped.len() - 1]] {
                    for (body, base) in sent.iter().zip(&baseline) {
                        assert!(
                            body.matches(needle).count() <= base.matches(needle).count(),
                            "{}: {needle:?} in {body}",
                            case.name
                        );
                    }
                }
                checked += 1;
            }
        }
        assert!(checked >= 140, "{checked}");
    }
}
