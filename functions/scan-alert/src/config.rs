//! scan-alert's settings, parsed once at cold start.

use lookout_shared::aws::AwsSettings;
use lookout_shared::config::{ConfigError, Env, RedactSettings, TopicArn};
use lookout_shared::findings::{SeverityCounts, VulnSeverity};
use lookout_shared::metrics::MetricsConfig;
use lookout_shared::notification::Delivery;
use lookout_shared::wildcard::Patterns;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

/// Notify when any severity reaches its threshold, e.g. `CRITICAL=1,HIGH=5`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Thresholds(BTreeMap<VulnSeverity, u64>);

impl Thresholds {
    /// Items are named by position (1-based) and parsed severity, never quoted.
    pub(crate) fn parse(variable: &str, raw: &str) -> Result<Self, ConfigError> {
        let mut map = BTreeMap::new();
        for (i, item) in raw
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .enumerate()
        {
            let position = i + 1;
            let (name, n) = item.split_once('=').ok_or_else(|| {
                ConfigError::new(
                    variable,
                    format!("items must look like CRITICAL=1; item {position} has no ="),
                )
            })?;
            let severity = VulnSeverity::parse(name.trim()).ok_or_else(|| {
                ConfigError::new(
                    variable,
                    format!(
                        "item {position} names no severity (CRITICAL, HIGH, MEDIUM, LOW, INFORMATIONAL or UNTRIAGED)"
                    ),
                )
            })?;
            let n: u64 = n.trim().parse().ok().filter(|n| *n > 0).ok_or_else(|| {
                ConfigError::new(
                    variable,
                    format!("{severity} (item {position}) needs a count of at least 1"),
                )
            })?;
            // A repeated severity would silently win or lose (`HIGH=1,HIGH=500`).
            if map.insert(severity, n).is_some() {
                return Err(ConfigError::new(
                    variable,
                    format!("lists {severity} more than once"),
                ));
            }
        }
        if map.is_empty() {
            return Err(ConfigError::new(variable, "needs at least one SEVERITY=COUNT"));
        }
        Ok(Self(map))
    }

    /// The severities whose threshold the counts reach, worst first.
    pub(crate) fn reached(&self, counts: &SeverityCounts) -> Vec<VulnSeverity> {
        let mut out: Vec<VulnSeverity> = self
            .0
            .iter()
            .filter(|(s, n)| counts.get(**s) >= **n)
            .map(|(s, _)| *s)
            .collect();
        out.reverse();
        out
    }

    /// `CRITICAL ≥ 1 or HIGH ≥ 5`.
    pub(crate) fn describe(&self) -> String {
        let parts: Vec<String> = self.0.iter().rev().map(|(s, n)| format!("{s} ≥ {n}")).collect();
        parts.join(" or ")
    }
}

/// Everything scan-alert reads from its environment, parsed once at cold start.
#[derive(Debug, Clone)]
pub struct ScanAlertConfig {
    /// The topic and the message format.
    pub delivery: Delivery,
    /// `SEVERITY_THRESHOLDS`.
    pub(crate) thresholds: Thresholds,
    /// `REPOSITORY_INCLUDE` / `REPOSITORY_EXCLUDE`.
    pub(crate) repositories: Patterns,
    /// Accepted vulnerabilities (CVE ids), never counted or shown.
    pub(crate) ignore: BTreeSet<String>,
    /// Basic-scan findings read per image at most (DescribeImageScanFindings pages).
    pub(crate) max_findings: usize,
    /// Findings listed in a message at most.
    pub(crate) max_shown: usize,
    /// `REDACT` and `REDACT_EXTRA_PATTERNS`, parsed like every function's; compiled by
    /// `ScanAlert::new`, still at init.
    pub(crate) redact: RedactSettings,
    /// Stop waiting on SNS this long before the Lambda deadline, so the failure is reported.
    pub(crate) deadline_margin: Duration,
    pub(crate) metrics: MetricsConfig,
    /// The SDK's settings (endpoint, retries).
    pub aws: AwsSettings,
}

impl ScanAlertConfig {
    /// Every variable, checked: an error names the variable, never its value.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let topic = TopicArn::parse("ALERT_TOPIC_ARN", env.required("ALERT_TOPIC_ARN")?)?;
        Ok(Self {
            delivery: Delivery::from_env(env, topic)?,
            thresholds: Thresholds::parse(
                "SEVERITY_THRESHOLDS",
                env.get("SEVERITY_THRESHOLDS").unwrap_or("CRITICAL=1,HIGH=1"),
            )?,
            repositories: Patterns::new(env.list("REPOSITORY_INCLUDE"), env.list("REPOSITORY_EXCLUDE")),
            ignore: env
                .list("IGNORE_VULNERABILITIES")
                .into_iter()
                .map(|s| s.to_ascii_uppercase())
                .collect(),
            max_findings: env.number_in("MAX_FINDINGS", 1000, 1..=100_000)?,
            max_shown: env.number_in("MAX_FINDINGS_SHOWN", 25, 1..=1000)?,
            redact: RedactSettings::from_env(env)?,
            deadline_margin: env.deadline_margin(500)?,
            metrics: MetricsConfig::from_env(env, "scan-alert")?,
            aws: AwsSettings::from_env(env)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds() {
        let t = Thresholds::parse("T", "CRITICAL=1, high=5").unwrap();
        let mut counts = SeverityCounts::default();
        counts.add(VulnSeverity::High, 4);
        assert!(t.reached(&counts).is_empty());
        counts.add(VulnSeverity::High, 1);
        assert_eq!(t.reached(&counts), vec![VulnSeverity::High]);
        counts.add(VulnSeverity::Critical, 1);
        assert_eq!(
            t.reached(&counts),
            vec![VulnSeverity::Critical, VulnSeverity::High]
        );
        assert_eq!(t.describe(), "CRITICAL ≥ 1 or HIGH ≥ 5");
        for bad in [
            "",
            "CRITICAL",
            "CRITICAL=0",
            "URGENT=1",
            "HIGH=x",
            "HIGH=1,HIGH=500",
            "high=1,HIGH=2",
        ] {
            assert_eq!(
                Thresholds::parse("SEVERITY_THRESHOLDS", bad)
                    .unwrap_err()
                    .variable,
                "SEVERITY_THRESHOLDS",
                "{bad}"
            );
        }
    }

    #[test]
    fn threshold_errors_never_repeat_the_value() {
        for bad in ["hunter2", "hunter2=1", "HIGH=hunter2", "HIGH=1,hunter2"] {
            let e = Thresholds::parse("SEVERITY_THRESHOLDS", bad).unwrap_err();
            assert_eq!(e.variable, "SEVERITY_THRESHOLDS");
            assert!(!e.to_string().contains("hunter2"), "{e}");
        }
        let e = Thresholds::parse("SEVERITY_THRESHOLDS", "HIGH=1,hunter2=5").unwrap_err();
        assert!(e.to_string().contains("item 2 names no severity"), "{e}");
    }

    #[test]
    fn topic_is_required() {
        assert_eq!(
            ScanAlertConfig::from_env(&Env::default()).unwrap_err().variable,
            "ALERT_TOPIC_ARN"
        );
    }
}
