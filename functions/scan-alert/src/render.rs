//! The scan alert: which image, how bad, what to fix, where to look.

use crate::news::{Coverage, News, Since};
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
    /// Inspector finding events: each finding's ARN, in the order of `findings` (what the
    /// state table remembers it by). Empty for scans.
    pub(crate) arns: Vec<Option<String>>,
    /// How much of the image's findings `findings` holds.
    pub(crate) coverage: Coverage,
    /// With the state table: what this alert adds to the earlier ones (it leads with it).
    pub(crate) news: Option<News>,
    pub(crate) notes: Vec<String>,
    pub(crate) thresholds: String,
    pub(crate) reached: Vec<VulnSeverity>,
    pub(crate) ignored: Vec<String>,
    /// Inspector's (enhanced) scanning: the link goes to Inspector, not ECR.
    pub(crate) enhanced: bool,
    /// How the account is named.
    pub(crate) naming: AccountNaming,
}

/// How an alert names its account: its id always (text, JSON, the `account` attribute), with
/// its `ACCOUNT_NAMES` name when it has one (`accountName` in the JSON); and in the Subject,
/// after the severity, in organisation mode or once the operator names accounts (as log-alert
/// and task-alert do), so one topic's Subjects say whose image it is while a single account's
/// read as before.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct AccountNaming {
    /// The account's `ACCOUNT_NAMES` name.
    pub(crate) name: Option<String>,
    /// Whether the Subject names the account.
    pub(crate) in_subject: bool,
}

impl ImageAlert {
    fn image_name(&self) -> String {
        image_name(&self.repository, &self.tags, &self.digest)
    }

    /// The worst severity reached; with news, the worst new finding's: a new HIGH beside
    /// known CRITICALs does not page as CRITICAL again.
    fn worst(&self) -> Option<VulnSeverity> {
        match &self.news {
            Some(news) => news.worst(),
            None => self.reached.first().copied(),
        }
    }

    /// The Subject's account: `payments-prod: `, the id when it has no name, or nothing.
    fn lead(&self) -> String {
        if !self.naming.in_subject {
            return String::new();
        }
        format!(
            "{}: ",
            self.naming.name.as_deref().unwrap_or(self.account.as_str())
        )
    }

    pub(crate) fn subject(&self) -> String {
        let lead = self.lead();
        if self.failed {
            return format!("[FAILED] {lead}ECR scan of {} failed", self.image_name());
        }
        let severity = self.worst().map_or("NOTICE", VulnSeverity::as_str);
        if let Some(news) = &self.news {
            let fixed = match news.fixed.len() {
                0 => String::new(),
                n => format!(", {} fixed", thousands(n as u64)),
            };
            let build = match news.since {
                Since::LastScan => "",
                Since::PreviousImage { .. } => "this build of ",
            };
            return match news.new.as_slice() {
                [only] if news.unread.0.is_empty() => format!(
                    "[{severity}] {lead}{} new in {build}{}{fixed}",
                    name(only),
                    self.image_name()
                ),
                new => {
                    // The unread new ones count at their severity beside those read.
                    let mut all = counts(new);
                    for (s, n) in &news.unread.0 {
                        all.add(*s, *n);
                    }
                    format!(
                        "[{severity}] {lead}{}: {} ({}){fixed}",
                        self.image_name(),
                        news.headline(),
                        all.describe()
                    )
                }
            };
        }
        match self.findings.as_slice() {
            [only] if self.counts.total_at_or_above(VulnSeverity::Untriaged) == 1 => {
                format!("[{severity}] {lead}{} in {}", name(only), self.image_name())
            }
            _ => format!(
                "[{severity}] {lead}{}: {}",
                self.image_name(),
                self.counts.describe()
            ),
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
    /// JSON's `suppressed` object and first in the chat description. With news (the state
    /// table), the alert leads with the new findings, lists only them and counts the known.
    pub(crate) fn render(&self, detail: Detail, facts: &Suppression) -> Notification {
        // With news, only the new findings are listed; the known ones are counted.
        let listed = self.news.as_ref().map_or(&self.findings, |n| &n.new);
        let shown: Vec<&Finding> = listed.iter().take(detail.items).collect();
        // Package names and versions are untrusted: one escaped line each.
        let line = |f: &Finding| truncate_utf8(&inline(&f.one_line()), detail.item_bytes).to_string();
        let link = self.link();
        let subject = self.subject();
        let tags = Capped::new(&self.tags, detail.items);
        let ignored = Capped::new(&self.ignored, detail.items);
        let event_ids = Capped::new(&self.event_ids, detail.items);
        let mut t = String::new();
        let _ = writeln!(t, "{}\n", inline(&subject));
        if let Some(news) = &self.news {
            self.news_lines(&mut t, news, detail);
        }
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
        match &self.naming.name {
            // The name is the operator's text: escaped like any other.
            Some(name) => {
                let _ = writeln!(t, "Account:       {} ({})", inline(name), self.account);
            }
            None => {
                let _ = writeln!(t, "Account:       {}", self.account);
            }
        }
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
            let heading = if self.news.is_some() {
                "New findings"
            } else {
                "Findings"
            };
            let _ = writeln!(t, "\n{heading}, worst first:");
            for f in &shown {
                let _ = writeln!(t, "  {}", line(f));
            }
            if listed.len() > shown.len() {
                let _ = writeln!(
                    t,
                    "  ... and {} more (open the console link)",
                    thousands((listed.len() - shown.len()) as u64)
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
                    "omittedFindings": listed.len() - shown.len(),
            })
        } else {
            serde_json::Value::Null
        };
        if let (Some(s), Some(doc)) = (facts.repeats(), structured.as_object_mut()) {
            doc.insert("suppressed".into(), s.json());
        }
        if let (Some(news), Some(doc)) = (&self.news, structured.as_object_mut()) {
            doc.insert("news".into(), news_json(news, detail.items));
        }
        if let (Some(name), Some(doc)) = (&self.naming.name, structured.as_object_mut()) {
            doc.insert("accountName".into(), name.as_str().into());
        }
        // Chat: untrusted text only inside the code block; the title and keywords are quoted
        // once, by the chat encoder (quoting them here too showed `&amp;lt;`).
        let mut block = vec![inline(&self.image_name()), self.counts.describe()];
        if let Some(news) = &self.news {
            block.push(format!("{}:", news.headline()));
        }
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
                // For a team's subscription filter policy: its accounts' alerts only.
                Attribute::string("account", self.account.as_str()),
                Attribute::string("eventType", self.event),
                Attribute::number("critical", self.counts.get(VulnSeverity::Critical)),
                Attribute::number("high", self.counts.get(VulnSeverity::High)),
            ],
            group: self.repository.clone(),
            identity: self.identity(),
        }
    }
}

impl ImageAlert {
    /// What the alert leads with: the new findings by name, then the known ones as counts,
    /// and for a new build the image it was compared with and what it fixed.
    fn news_lines(&self, t: &mut String, news: &News, detail: Detail) {
        let new: Vec<String> = news
            .new
            .iter()
            .map(|f| format!("{} {}", name(f), f.severity))
            .collect();
        let mut told = Vec::new();
        if !new.is_empty() {
            told.push(Capped::new(&new, detail.items).text());
        }
        if !news.unread.0.is_empty() {
            told.push(format!(
                "{} more counted by the scan, past the findings read (MAX_FINDINGS)",
                news.unread.describe()
            ));
        }
        let _ = writeln!(t, "{}: {}", news.headline(), told.join("; "));
        let known = news.known.total_at_or_above(VulnSeverity::Untriaged);
        if known > 0 {
            let _ = writeln!(
                t,
                "Known:         {}, alerted before (counted, not listed)",
                news.known.describe()
            );
        }
        if let Since::PreviousImage { tag, digest } = &news.since {
            if !news.fixed.is_empty() {
                let fixed: Vec<String> = news.fixed.iter().map(|(id, s)| format!("{id} {s}")).collect();
                let _ = writeln!(
                    t,
                    "Fixed:         {} (alerted on the previous image, not in this one)",
                    Capped::new(&fixed, detail.items).text()
                );
            }
            let _ = writeln!(
                t,
                "Previous:      {digest} (tagged {} before this build)",
                inline(tag)
            );
        }
    }
}

/// The JSON document's `news`: what is new, against what, what is known and what was fixed.
fn news_json(news: &News, max: usize) -> serde_json::Value {
    let fixed: Vec<serde_json::Value> = news
        .fixed
        .iter()
        .take(max)
        .map(|(id, s)| json!({"vulnerabilityId": id, "severity": s}))
        .collect();
    let mut doc = json!({
        "since": match news.since {
            Since::LastScan => "last scan",
            Since::PreviousImage { .. } => "previous image",
        },
        "new": news.total(),
        "known": news.known,
        "fixed": fixed,
        "omittedFixed": news.fixed.len().saturating_sub(max),
    });
    if let (Since::PreviousImage { tag, digest }, Some(d)) = (&news.since, doc.as_object_mut()) {
        d.insert("previousImage".into(), json!({"tag": tag, "digest": digest}));
    }
    // New past the findings read (`MAX_FINDINGS`): counted in `new`, not in `findings`.
    if let (false, Some(d)) = (news.unread.0.is_empty(), doc.as_object_mut()) {
        d.insert("unread".into(), json!(news.unread));
    }
    doc
}

/// What names a finding in a subject or a line: its id, else its package (a basic scan's
/// finding may have neither).
fn name(f: &Finding) -> &str {
    Some(f.vulnerability_id.as_str())
        .filter(|id| !id.trim().is_empty())
        .or(f.package.as_deref())
        .unwrap_or("a finding")
}

fn counts(findings: &[Finding]) -> SeverityCounts {
    let mut c = SeverityCounts::default();
    for f in findings {
        c.add(f.severity, 1);
    }
    c
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
