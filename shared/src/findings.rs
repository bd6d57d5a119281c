//! Vulnerability findings as ECR basic scanning and Amazon Inspector report them.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Vulnerability severity, ordered so `max()` is the worst. ECR and Inspector share the names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum VulnSeverity {
    /// Not rated yet (`UNTRIAGED`; ECR's `UNDEFINED`).
    #[serde(alias = "UNDEFINED")]
    Untriaged,
    /// `INFORMATIONAL`.
    Informational,
    /// `LOW`.
    Low,
    /// `MEDIUM`.
    Medium,
    /// `HIGH`.
    High,
    /// `CRITICAL`: the worst.
    Critical,
}

impl VulnSeverity {
    /// Worst first, for reports.
    pub const DESCENDING: [VulnSeverity; 6] = [
        VulnSeverity::Critical,
        VulnSeverity::High,
        VulnSeverity::Medium,
        VulnSeverity::Low,
        VulnSeverity::Informational,
        VulnSeverity::Untriaged,
    ];

    /// The name as ECR and Inspector write it (`CRITICAL`).
    pub fn as_str(self) -> &'static str {
        match self {
            VulnSeverity::Untriaged => "UNTRIAGED",
            VulnSeverity::Informational => "INFORMATIONAL",
            VulnSeverity::Low => "LOW",
            VulnSeverity::Medium => "MEDIUM",
            VulnSeverity::High => "HIGH",
            VulnSeverity::Critical => "CRITICAL",
        }
    }

    /// A name in any case, `UNDEFINED` included; `None` for anything else.
    pub fn parse(name: &str) -> Option<Self> {
        Some(match name.trim().to_ascii_uppercase().as_str() {
            "CRITICAL" => VulnSeverity::Critical,
            "HIGH" => VulnSeverity::High,
            "MEDIUM" => VulnSeverity::Medium,
            "LOW" => VulnSeverity::Low,
            "INFORMATIONAL" => VulnSeverity::Informational,
            "UNTRIAGED" | "UNDEFINED" => VulnSeverity::Untriaged,
            _ => return None,
        })
    }
}

impl std::str::FromStr for VulnSeverity {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s).ok_or_else(|| {
            format!("expected CRITICAL, HIGH, MEDIUM, LOW, INFORMATIONAL or UNTRIAGED, got {s:?}")
        })
    }
}

impl std::fmt::Display for VulnSeverity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Findings per severity, as ECR's `findingSeverityCounts`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SeverityCounts(pub BTreeMap<VulnSeverity, u64>);

impl SeverityCounts {
    /// The count for `s`; 0 when absent.
    pub fn get(&self, s: VulnSeverity) -> u64 {
        self.0.get(&s).copied().unwrap_or(0)
    }

    /// Saturating: counts come from events (`CRITICAL` and `critical` both add to one entry).
    pub fn add(&mut self, s: VulnSeverity, n: u64) {
        let count = self.0.entry(s).or_default();
        *count = count.saturating_add(n);
    }

    /// Saturating, like [`add`](Self::add).
    pub fn total_at_or_above(&self, min: VulnSeverity) -> u64 {
        self.0
            .iter()
            .filter(|(s, _)| **s >= min)
            .fold(0, |sum, (_, n)| sum.saturating_add(*n))
    }

    /// `CRITICAL 2, HIGH 5` (worst first, zero counts left out).
    pub fn describe(&self) -> String {
        let parts: Vec<String> = VulnSeverity::DESCENDING
            .iter()
            .filter(|s| self.get(**s) > 0)
            .map(|s| format!("{s} {}", crate::text::thousands(self.get(*s))))
            .collect();
        if parts.is_empty() {
            "no findings".to_string()
        } else {
            parts.join(", ")
        }
    }

    /// Sort key: critical first, then high, and so on.
    pub fn rank(&self) -> [u64; 6] {
        VulnSeverity::DESCENDING.map(|s| self.get(s))
    }
}

/// One vulnerability in one image.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Finding {
    /// The CVE or advisory id, e.g. `CVE-2024-1234`.
    pub vulnerability_id: String,
    /// As the scanner rated it.
    pub severity: VulnSeverity,
    /// The scanner's one-line title: untrusted text, redacted before it is shown.
    pub title: String,
    /// The affected package, when the scanner names it.
    pub package: Option<String>,
    /// The package version in the image.
    pub installed_version: Option<String>,
    /// The first version with a fix, if one exists.
    pub fixed_in_version: Option<String>,
    /// `YES`, `NO` or `PARTIAL` (Inspector); unknown for basic scans.
    pub fix_available: Option<String>,
    /// `YES` or `NO` (Inspector); unknown for basic scans.
    pub exploit_available: Option<String>,
    /// The scanner's score (CVSS for Inspector), if any.
    pub score: Option<f64>,
    /// The ECR repository of the image.
    pub repository: String,
    /// The image digest (`sha256:…`).
    pub digest: String,
    /// The image's tags; empty for an untagged image.
    pub tags: Vec<String>,
}

impl Finding {
    /// The one order findings are listed in: worst first, then by vulnerability id.
    pub fn worst_first(a: &Finding, b: &Finding) -> std::cmp::Ordering {
        b.severity
            .cmp(&a.severity)
            .then_with(|| a.vulnerability_id.cmp(&b.vulnerability_id))
    }

    /// `CVE-2024-1 CRITICAL openssl 3.0.0 → 3.0.1 (fix available, score 9.8)`
    pub fn one_line(&self) -> String {
        let mut line = format!("{} {}", self.vulnerability_id, self.severity);
        if let Some(p) = &self.package {
            line.push(' ');
            line.push_str(p);
            if let Some(v) = &self.installed_version {
                line.push(' ');
                line.push_str(v);
            }
            if let Some(f) = &self.fixed_in_version {
                line.push_str(" → ");
                line.push_str(f);
            }
        }
        let mut notes = Vec::new();
        match self.fix_available.as_deref() {
            Some("YES") => notes.push("fix available".to_string()),
            Some("PARTIAL") => notes.push("partial fix".to_string()),
            Some("NO") => notes.push("no fix yet".to_string()),
            _ => {}
        }
        if self.exploit_available.as_deref() == Some("YES") {
            notes.push("exploit available".to_string());
        }
        if let Some(score) = self.score {
            notes.push(format!("score {score:.1}"));
        }
        if !notes.is_empty() {
            line.push_str(&format!(" ({})", notes.join(", ")));
        }
        line
    }
}

/// `repo:tag`, or `repo@sha256:abcdef123456` when untagged.
pub fn image_name(repository: &str, tags: &[String], digest: &str) -> String {
    match tags.first() {
        Some(tag) => format!("{repository}:{tag}"),
        None => format!("{repository}@{}", short_digest(digest)),
    }
}

/// [`image_name`] with the short digest also after a tag: tags move, digests do not.
pub fn image_name_with_digest(repository: &str, tags: &[String], digest: &str) -> String {
    match tags.first() {
        Some(tag) => format!("{repository}:{tag} ({})", short_digest(digest)),
        None => image_name(repository, tags, digest),
    }
}

/// `sha256:` and the first 12 hex digits: enough to find the image, short enough to read.
pub fn short_digest(digest: &str) -> &str {
    crate::text::truncate_utf8(digest, "sha256:".len() + 12)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn severities_order_and_parse() {
        assert!(VulnSeverity::Critical > VulnSeverity::High);
        assert!(VulnSeverity::Informational > VulnSeverity::Untriaged);
        assert_eq!("high".parse::<VulnSeverity>().unwrap(), VulnSeverity::High);
        assert_eq!(VulnSeverity::parse("UNDEFINED"), Some(VulnSeverity::Untriaged));
        assert!("urgent".parse::<VulnSeverity>().is_err());
    }

    #[test]
    fn counts_describe_and_rank() {
        let mut c = SeverityCounts::default();
        c.add(VulnSeverity::High, 5);
        c.add(VulnSeverity::Critical, 2);
        c.add(VulnSeverity::Low, 1);
        assert_eq!(c.describe(), "CRITICAL 2, HIGH 5, LOW 1");
        assert_eq!(c.total_at_or_above(VulnSeverity::High), 7);
        assert!(c.rank() > SeverityCounts::default().rank());
        assert_eq!(SeverityCounts::default().describe(), "no findings");
    }

    #[test]
    fn counts_from_events_saturate_instead_of_wrapping() {
        let mut c = SeverityCounts::default();
        c.add(VulnSeverity::Critical, u64::MAX);
        c.add(VulnSeverity::Critical, 1);
        c.add(VulnSeverity::High, u64::MAX);
        assert_eq!(c.get(VulnSeverity::Critical), u64::MAX);
        assert_eq!(c.total_at_or_above(VulnSeverity::Untriaged), u64::MAX);
    }

    #[test]
    fn finding_one_line() {
        let f = Finding {
            vulnerability_id: "CVE-2024-0001".into(),
            severity: VulnSeverity::Critical,
            title: "t".into(),
            package: Some("openssl".into()),
            installed_version: Some("3.0.0".into()),
            fixed_in_version: Some("3.0.1".into()),
            fix_available: Some("YES".into()),
            exploit_available: Some("YES".into()),
            score: Some(9.8),
            repository: "svc".into(),
            digest: "sha256:1".into(),
            tags: vec![],
        };
        assert_eq!(
            f.one_line(),
            "CVE-2024-0001 CRITICAL openssl 3.0.0 → 3.0.1 (fix available, exploit available, score 9.8)"
        );
    }
}
