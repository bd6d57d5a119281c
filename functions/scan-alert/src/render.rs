//! The scan alert: which image, how bad, what to fix, where to look.

use lookout_shared::console;
use lookout_shared::findings::image_name;
use lookout_shared::findings::{Finding, SeverityCounts, VulnSeverity};
use lookout_shared::ids::{AccountId, Region};
use lookout_shared::notification::{
    Attribute, ChatMessage, Detail, Notification, chat_code_block, deduplication_id,
};
use lookout_shared::outbox::Suppression;
use lookout_shared::text::{inline, thousands, truncate_utf8};
use serde_json::json;
use std::fmt::Write;

pub(crate) const SOURCE: &str = "lookout.scan-alert";

/// Everything one image's notification says.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ImageAlert {
    pub(crate) event: &'static str,
    pub(crate) event_ids: Vec<String>,
    pub(crate) account: AccountId,
    pub(crate) region: Region,
    pub(crate) repository: String,
    pub(crate) digest: String,
    pub(crate) tags: Vec<String>,
    pub(crate) status: String,
    pub(crate) failed: bool,
    pub(crate) counts: SeverityCounts,
    /// Worst first.
    pub(crate) findings: Vec<Finding>,
    pub(crate) notes: Vec<String>,
    pub(crate) thresholds: String,
    pub(crate) reached: Vec<VulnSeverity>,
    pub(crate) ignored: Vec<String>,
    /// Inspector's (enhanced) scanning: the link goes to Inspector, not ECR.
    pub(crate) enhanced: bool,
}

impl ImageAlert {
    fn image_name(&self) -> String {
        image_name(&self.repository, &self.tags, &self.digest)
    }

    fn worst(&self) -> Option<VulnSeverity> {
        self.reached.first().copied()
    }

    pub(crate) fn subject(&self) -> String {
        if self.failed {
            return format!("[FAILED] ECR scan of {} failed", self.image_name());
        }
        let severity = self.worst().map_or("NOTICE", VulnSeverity::as_str);
        match self.findings.as_slice() {
            [only] if self.counts.total_at_or_above(VulnSeverity::Untriaged) == 1 => {
                // A basic scan's finding may have no name either: its package then.
                let name = Some(only.vulnerability_id.as_str())
                    .filter(|id| !id.trim().is_empty())
                    .or(only.package.as_deref())
                    .unwrap_or("a finding");
                format!("[{severity}] {name} in {}", self.image_name())
            }
            _ => format!("[{severity}] {}: {}", self.image_name(), self.counts.describe()),
        }
    }

    /// The same events give the same identity (the state store's per-item key and the FIFO
    /// deduplication id), whatever their number: the event ids are hashed.
    pub(crate) fn identity(&self) -> String {
        format!(
            "scan-alert|{}|{}|{}|{}",
            self.event,
            self.digest,
            self.event_ids.len(),
            deduplication_id(&self.event_ids.join(","))
        )
    }

    fn link(&self) -> String {
        if self.enhanced {
            console::inspector_image_url(&self.region, &self.digest)
        } else {
            console::ecr_image_url(&self.region, &self.account, &self.repository, &self.digest)
        }
    }

    /// Every list is cut to `detail.items` entries with the rest counted, so any number of
    /// findings, event ids, ignored ids or tags fits the SNS limit (`Delivery::fit`). Repeats
    /// suppressed since the previous alert (`facts`) are stated after the subject line, as the
    /// JSON's `suppressed` object and first in the chat description.
    pub(crate) fn render(&self, detail: Detail, facts: &Suppression) -> Notification {
        let shown: Vec<&Finding> = self.findings.iter().take(detail.items).collect();
        // Package names and versions are untrusted: one escaped line each.
        let line = |f: &Finding| truncate_utf8(&inline(&f.one_line()), detail.item_bytes).to_string();
        let link = self.link();
        let subject = self.subject();
        let tags = Capped::new(&self.tags, detail.items);
        let ignored = Capped::new(&self.ignored, detail.items);
        let event_ids = Capped::new(&self.event_ids, detail.items);
        let mut t = String::new();
        let _ = writeln!(t, "{}\n", inline(&subject));
        if let Some(s) = facts.repeats() {
            t.push_str(&s.text_line());
        }
        let _ = writeln!(t, "Event:         {} ({})", self.event, inline(&self.status));
        let _ = writeln!(t, "Repository:    {}", self.repository);
        let _ = writeln!(
            t,
            "Tags:          {}",
            if self.tags.is_empty() {
                "(untagged)".to_string()
            } else {
                tags.text()
            }
        );
        let _ = writeln!(t, "Digest:        {}", self.digest);
        let _ = writeln!(t, "Account:       {}", self.account);
        let _ = writeln!(t, "Region:        {}", self.region);
        let _ = writeln!(t, "Findings:      {}", self.counts.describe());
        if !self.failed {
            let reached: Vec<&str> = self.reached.iter().map(|s| s.as_str()).collect();
            let _ = writeln!(
                t,
                "Threshold:     {} (reached: {})",
                self.thresholds,
                reached.join(", ")
            );
        }
        if !self.ignored.is_empty() {
            let _ = writeln!(t, "Ignored:       {} (IGNORE_VULNERABILITIES)", ignored.text());
        }
        for note in &self.notes {
            let _ = writeln!(t, "Note:          {}", inline(note));
        }
        let _ = writeln!(t, "\nFindings in the console:\n{link}");
        if !shown.is_empty() {
            let _ = writeln!(t, "\nFindings, worst first:");
            for f in &shown {
                let _ = writeln!(t, "  {}", line(f));
            }
            if self.findings.len() > shown.len() {
                let _ = writeln!(
                    t,
                    "  ... and {} more (open the console link)",
                    thousands((self.findings.len() - shown.len()) as u64)
                );
            }
        }
        let mut structured = if detail.bodies.structured {
            json!({
                    "source": SOURCE,
                    "schemaVersion": 1,
                    "event": self.event,
                    "eventIds": event_ids.shown,
                    "omittedEventIds": event_ids.omitted,
                    "status": self.status,
                    "failed": self.failed,
                    "account": self.account,
                    "region": self.region,
                    "repository": self.repository,
                    "digest": self.digest,
                    "tags": tags.shown,
                    "omittedTags": tags.omitted,
                    "severityCounts": self.counts,
                    "thresholdsReached": self.reached,
                    "ignored": ignored.shown,
                    "omittedIgnored": ignored.omitted,
                    "notes": self.notes,
                    "link": link,
                    "findings": shown,
                    "omittedFindings": self.findings.len() - shown.len(),
            })
        } else {
            serde_json::Value::Null
        };
        if let (Some(s), Some(doc)) = (facts.repeats(), structured.as_object_mut()) {
            doc.insert("suppressed".into(), s.json());
        }
        // Chat: untrusted text only inside the code block; the title and keywords are quoted
        // once, by the chat encoder (quoting them here too showed `&amp;lt;`).
        let mut block = vec![inline(&self.image_name()), self.counts.describe()];
        block.extend(shown.iter().take(10).map(|f| line(f)));
        let mut description = facts.repeats().map(|s| s.chat_line()).unwrap_or_default();
        description.push_str(&chat_code_block(&block.join("\n")));
        Notification {
            subject: subject.clone(),
            text: t,
            structured,
            chat: ChatMessage {
                title: subject.clone(),
                description,
                next_steps: vec![format!("Review the findings: {link}")],
                keywords: vec![
                    self.worst().map_or("FAILED", VulnSeverity::as_str).to_string(),
                    self.repository.clone(),
                ],
                event_type: "LookoutScanAlert".to_string(),
                related_resources: vec![console::arn(
                    "ecr",
                    &self.region,
                    &self.account,
                    &format!("repository/{}", self.repository),
                )],
            },
            attributes: vec![
                Attribute::string("source", SOURCE),
                Attribute::string(
                    "severity",
                    if self.failed {
                        "FAILED"
                    } else {
                        self.worst().map_or("NOTICE", VulnSeverity::as_str)
                    },
                ),
                Attribute::string("repository", self.repository.clone()),
                Attribute::string("eventType", self.event),
                Attribute::number("critical", self.counts.get(VulnSeverity::Critical)),
                Attribute::number("high", self.counts.get(VulnSeverity::High)),
            ],
            group: self.repository.clone(),
            identity: self.identity(),
        }
    }
}

/// The first `max` entries of a list, and how many were left out.
struct Capped {
    shown: Vec<String>,
    omitted: usize,
}

impl Capped {
    fn new(list: &[String], max: usize) -> Self {
        Self {
            shown: list.iter().take(max).cloned().collect(),
            omitted: list.len().saturating_sub(max),
        }
    }

    /// `a, b (and 3 more)`, each entry escaped for a text line.
    fn text(&self) -> String {
        let shown: Vec<String> = self.shown.iter().map(|s| inline(s)).collect();
        let mut out = shown.join(", ");
        if self.omitted > 0 {
            let _ = write!(out, " (and {} more)", thousands(self.omitted as u64));
        }
        out
    }
}
