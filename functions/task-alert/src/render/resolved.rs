//! The `[RESOLVED]` message: a service steady again after a crash loop or a failed deployment,
//! naming the open alert (what it was, when) and how long the service was failing.

use super::{Naming, SOURCE, account_id, field, span, time_or_unknown};
use crate::alert::{Alert, ResolvedAlert};
use crate::links::{self, Links};
use crate::quote::{chat_inline, escape, quoted};
use crate::recovery::Opened;
use lookout_shared::notification::{ChatMessage, Notification};
use lookout_shared::time::iso8601_ms;
use serde_json::json;
use std::fmt::Write;

impl ResolvedAlert {
    /// `[RESOLVED] web: crash loop, steady after 12m 3s in prod` (`lead`: the `[RESOLVED] `
    /// and the account), before it is made SNS-safe.
    pub(super) fn subject(&self, lead: &str) -> String {
        let after = self
            .failing_ms()
            .map(|ms| format!(", steady after {}", span(ms)))
            .unwrap_or_else(|| ", steady again".to_string());
        format!(
            "{lead}{}: {}{after} in {}",
            self.recovery.service,
            self.open.what.headline(),
            self.recovery.cluster
        )
    }

    /// Since the service began failing (else since the alert) until it was steady.
    fn failing_ms(&self) -> Option<i64> {
        let since = self.open.since_ms.or(self.open.at_ms)?;
        Some(self.recovery.at_ms?.saturating_sub(since).max(0))
    }

    fn links(&self) -> Links {
        Links {
            service: links::service(
                &self.recovery.region,
                &self.recovery.cluster,
                &self.recovery.service,
            ),
            ..Links::default()
        }
    }

    /// "crash loop (OutOfMemory, 3 stops) at <ISO>", naming the open alert.
    fn resolves(&self) -> String {
        let detail = match &self.open.what {
            Opened::CrashLoop { problem, stops } => format!("{}, {stops} stops", problem.as_str()),
            Opened::Deployment { problem, .. } => problem.as_str().to_string(),
        };
        format!(
            "{} ({detail}, {}) at {}",
            self.open.what.headline(),
            self.open.severity.as_str(),
            time_or_unknown(self.open.at_ms)
        )
    }

    pub(super) fn render(&self, alert: &Alert, naming: &Naming) -> Notification {
        let subject = alert.subject(naming);
        let links = self.links();
        let r = &self.recovery;
        let mut t = String::with_capacity(1024);
        let _ = writeln!(t, "{subject}\n");
        field(
            &mut t,
            "What",
            &format!(
                "Service {} is steady again ({})",
                quoted(&r.service, 255),
                escape(&r.event_name)
            ),
        );
        field(&mut t, "Resolves", &self.resolves());
        field(&mut t, "Open alert", &quoted(&self.open.subject, 255));
        if let Opened::Deployment {
            deployment: Some(id), ..
        } = &self.open.what
        {
            field(&mut t, "Deployment", &quoted(id, 255));
        }
        let since = self.open.since_ms.or(self.open.at_ms);
        field(&mut t, "Failing since", &time_or_unknown(since));
        field(&mut t, "Steady at (UTC)", &time_or_unknown(r.at_ms));
        if let Some(ms) = self.failing_ms() {
            field(&mut t, "Failing for", &span(ms));
        }
        field(&mut t, "Service", &r.service);
        field(&mut t, "Cluster", &r.cluster);
        field(&mut t, "Account", &naming.text(r.account.as_ref()));
        field(&mut t, "Region", r.region.as_str());
        for (label, link) in links.labelled() {
            let _ = writeln!(t, "\n{label}:\n{link}");
        }
        let (kind, stops, deployment) = match &self.open.what {
            Opened::CrashLoop { stops, .. } => ("crashLoop", Some(*stops), None),
            Opened::Deployment { deployment, .. } => ("deployment", None, deployment.as_deref()),
        };
        let structured = json!({
            "source": SOURCE,
            "schemaVersion": 1,
            "kind": "Resolved",
            "status": "RESOLVED",
            "severity": alert.severity().as_str(),
            "reason": alert.reason(),
            "summary": subject,
            "eventName": r.event_name,
            "account": account_id(r.account.as_ref()),
            "region": r.region,
            "cluster": r.cluster,
            "service": r.service,
            "time": r.at_ms.map(iso8601_ms),
            "resolves": {
                "kind": kind,
                "reason": self.open.what.reason(),
                "severity": self.open.severity.as_str(),
                "subject": self.open.subject,
                "at": self.open.at_ms.map(iso8601_ms),
                "stops": stops,
                "deploymentId": deployment,
            },
            "failingSince": since.map(iso8601_ms),
            "failingForSeconds": self.failing_ms().map(|ms| ms / 1_000),
            "links": links,
            "eventIds": [r.event_id],
        });
        let mut d = format!(
            "*RESOLVED* {}, service {} in cluster {}",
            self.open.what.headline(),
            chat_inline(&r.service, 255),
            chat_inline(&r.cluster, 255)
        );
        if let Some(ms) = self.failing_ms() {
            let _ = write!(d, ": steady after {}", span(ms));
        }
        let _ = write!(d, ".\nResolves {}.", chat_inline(&self.open.subject, 255));
        Notification {
            subject: subject.clone(),
            text: t,
            structured,
            chat: ChatMessage {
                title: subject,
                description: d,
                next_steps: links
                    .labelled()
                    .into_iter()
                    .map(|(l, u)| format!("{l}: {u}"))
                    .collect(),
                keywords: vec!["RESOLVED".to_string(), alert.reason().to_string()],
                event_type: super::EVENT_TYPE.to_string(),
                related_resources: Vec::new(),
            },
            attributes: alert.attributes(),
            group: format!("{}/{}", r.cluster, r.service),
            identity: alert.identity(),
        }
    }
}
