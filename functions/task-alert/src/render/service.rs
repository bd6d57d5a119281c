//! The service alert: a deployment that failed or was rolled back, tasks that cannot be placed
//! or keep failing to start.

use super::{
    Naming, REASON_BYTES, SOURCE, account_id, chat_opening, field, heading, time_or_unknown, with_repeats,
};
use crate::alert::{Alert, ServiceAlert};
use crate::links::{self, Links};
use crate::quote::{chat_inline, escape, quoted};
use lookout_shared::notification::{ChatMessage, Notification, chat_code_block};
use lookout_shared::outbox::Suppression;
use lookout_shared::text::truncate_utf8;
use lookout_shared::time::iso8601_ms;
use serde_json::json;
use std::fmt::Write;

impl ServiceAlert {
    /// `[CRITICAL] web: deployment failed in prod` (`lead`: the `[CRITICAL] ` and the
    /// account), before it is made SNS-safe.
    pub(super) fn subject(&self, lead: &str) -> String {
        let who = self.service.as_deref().unwrap_or("ECS service");
        let place = self
            .cluster
            .as_deref()
            .map(|c| format!(" in {c}"))
            .unwrap_or_default();
        format!("{lead}{who}: {}{place}", self.problem.headline())
    }

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

    pub(super) fn render(&self, alert: &Alert, facts: &Suppression, naming: &Naming) -> Notification {
        let subject = alert.subject(naming);
        let links = self.links();
        let mut t = heading(&subject, facts, 2048);
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
        field(&mut t, "Account", &naming.text(self.account.as_ref()));
        field(&mut t, "Region", self.region.as_str());
        for (label, link) in links.labelled() {
            let _ = writeln!(t, "\n{label}:\n{link}");
        }
        let structured = with_repeats(
            json!({
                "source": SOURCE,
                "schemaVersion": 1,
                "kind": "ServiceEvent",
                "severity": alert.severity().as_str(),
                "reason": alert.reason(),
                "summary": subject,
                "eventName": self.event_name,
                "account": account_id(self.account.as_ref()),
                "region": self.region,
                "cluster": self.cluster,
                "service": self.service,
                "deploymentId": self.deployment_id,
                "eventReason": self.reason.as_deref().map(|r| truncate_utf8(r, REASON_BYTES)),
                "capacityProviderArns": self.capacity_providers,
                "time": self.at_ms.map(iso8601_ms),
                "links": links,
                "eventIds": [self.event_id],
            }),
            facts,
        );
        let mut d = chat_opening(facts);
        let _ = write!(d, "*{}* {}", alert.severity().as_str(), self.problem.headline());
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
                keywords: alert.keywords(),
                event_type: super::EVENT_TYPE.to_string(),
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
