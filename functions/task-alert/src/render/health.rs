//! The AWS Health alert: ECS tasks to be retired after a time, with the affected resources
//! and what AWS Health says.

use super::{Naming, SOURCE, account_id, chat_opening, field, heading, with_repeats};
use crate::alert::{Alert, HealthAlert};
use crate::event::AffectedEntity;
use crate::links;
use crate::quote::{chat_inline, escape, framed, quoted};
use lookout_shared::notification::{ChatMessage, Detail, Notification, chat_code_block};
use lookout_shared::outbox::Suppression;
use lookout_shared::text::FRAME as LOG_PREFIX;
use lookout_shared::text::{count, truncate_utf8};
use serde_json::{Value, json};
use std::fmt::Write;

impl HealthAlert {
    /// `[WARNING] ECS task retirement: 2 resources after …` (`lead`: the `[WARNING] ` and the
    /// account), before it is made SNS-safe.
    pub(super) fn subject(&self, lead: &str) -> String {
        let what = if self.is_retirement() {
            "ECS task retirement"
        } else {
            "AWS Health notice for ECS"
        };
        let when = self
            .start_time
            .as_deref()
            .map(|t| format!(" after {t}"))
            .unwrap_or_default();
        format!(
            "{lead}{what}: {}{when}",
            count(self.entities.len() as u64, "resource", "resources")
        )
    }

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

    pub(super) fn render(
        &self,
        alert: &Alert,
        detail: Detail,
        facts: &Suppression,
        naming: &Naming,
    ) -> Notification {
        let subject = alert.subject(naming);
        let shown: Vec<(String, Option<String>)> = self
            .entities
            .iter()
            .take(detail.items)
            .map(|e| self.entity_line(e))
            .collect();
        let mut t = heading(&subject, facts, 4096);
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
        field(&mut t, "Account", &naming.text(self.account.as_ref()));
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
        let structured = with_repeats(
            json!({
                "source": SOURCE,
                "schemaVersion": 1,
                "kind": "HealthNotice",
                "severity": alert.severity().as_str(),
                "reason": alert.reason(),
                "summary": subject,
                "account": account_id(self.account.as_ref()),
                "region": self.region,
                "eventTypeCode": self.event_type_code,
                "eventTypeCategory": self.category,
                "eventArn": self.event_arn,
                "startTime": self.start_time,
                "endTime": self.end_time,
                "affectedEntities": entities,
                "omittedEntities": self.entities.len() - shown.len(),
                "eventIds": [self.event_id],
            }),
            facts,
        );
        let mut d = chat_opening(facts);
        let _ = write!(
            d,
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
                keywords: alert.keywords(),
                event_type: super::EVENT_TYPE.to_string(),
                related_resources: Vec::new(),
            },
            attributes: alert.attributes(),
            group: "aws-health/ecs".to_string(),
            identity: alert.identity(),
        }
    }
}
