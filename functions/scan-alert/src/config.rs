//! scan-alert's settings, parsed once at cold start.

use lookout_shared::accounts::{AccountNames, MemberAccounts};
use lookout_shared::aws::AwsSettings;
use lookout_shared::config::{ConfigError, Env, RedactSettings, TopicArn};
use lookout_shared::findings::{SeverityCounts, VulnSeverity};
use lookout_shared::ids::{AccountId, Region};
use lookout_shared::member::MemberConfig;
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
    /// The function's region: in organisation mode, events of other partitions are not read.
    pub(crate) region: Region,
    /// The function's account (`ACCOUNT_ID`, else the alert topic's): its reads need no role.
    pub account: AccountId,
    /// `MEMBER_ACCOUNTS`: organisation mode, and which other accounts' events are read (their
    /// findings in their account and region, through the reader role). `None`: single-account
    /// mode, every event read with the function's own client, as before.
    pub(crate) members: Option<MemberAccounts>,
    /// `MEMBER_ROLE_NAME`, `MEMBER_EXTERNAL_ID`: the reader role assumed in member accounts.
    pub member: MemberConfig,
    /// `ACCOUNT_NAMES`: what alerts call each account.
    pub(crate) account_names: AccountNames,
}

impl ScanAlertConfig {
    /// Every variable, checked: an error names the variable, never its value.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let topic = TopicArn::parse("ALERT_TOPIC_ARN", env.required("ALERT_TOPIC_ARN")?)?;
        let region = env.region(Some(&topic))?;
        let account = lookout_shared::accounts::own_account(env, Some(&topic))?
            .unwrap_or_else(|| topic.account().clone());
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
            region,
            account,
            members: MemberAccounts::from_env(env)?,
            member: MemberConfig::from_env(env)?,
            account_names: AccountNames::from_env(env)?,
        })
    }

    /// Whether an event of `account` and `region` is read. Single-account mode reads every
    /// event, as scan-alert always did (its findings with the function's own client); in
    /// organisation mode, the own account's and the members', in the function's partition.
    pub(crate) fn accepts(&self, account: &AccountId, region: &Region) -> Result<(), NotRead> {
        let Some(members) = &self.members else {
            return Ok(());
        };
        if region.partition() != self.region.partition() {
            return Err(NotRead::OtherPartition);
        }
        if *account == self.account || members.accepts(account) {
            Ok(())
        } else {
            Err(NotRead::NotAMember)
        }
    }
}

/// Why an event is not read in organisation mode; not a failure (nothing in it is malformed,
/// and a retry would not read it either).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NotRead {
    /// Its account is neither the function's own nor in `MEMBER_ACCOUNTS`.
    NotAMember,
    /// Its region is in another partition: no role there could be assumed from here.
    OtherPartition,
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

    fn env(extra: &[(&str, &str)]) -> Env {
        let mut pairs = vec![("ALERT_TOPIC_ARN", "arn:aws:sns:us-east-1:123456789012:alerts")];
        pairs.extend_from_slice(extra);
        Env::from_pairs(pairs)
    }

    fn id(s: &str) -> AccountId {
        AccountId::parse(s).unwrap()
    }

    fn region(s: &str) -> Region {
        Region::parse(s).unwrap()
    }

    /// Unset (or blank) `MEMBER_ACCOUNTS`: single-account mode, every event read as before;
    /// `*` any account; a list those besides the own; in organisation mode only the function's
    /// partition. The own account is `ACCOUNT_ID`, else the topic's.
    #[test]
    fn member_accounts_decide_which_events_are_read() {
        let single = ScanAlertConfig::from_env(&env(&[])).unwrap();
        assert_eq!(single.members, None);
        assert_eq!(single.account, "123456789012", "the topic's");
        assert_eq!(single.member.role_name, "LookoutReader");
        for (account, r) in [("999999999999", "cn-north-1"), ("123456789012", "us-east-1")] {
            assert_eq!(single.accepts(&id(account), &region(r)), Ok(()), "as before");
        }
        for blank in ["", " ", " , "] {
            let c = ScanAlertConfig::from_env(&env(&[("MEMBER_ACCOUNTS", blank)])).unwrap();
            assert_eq!(c.members, None, "{blank:?}");
        }
        let listed = ScanAlertConfig::from_env(&env(&[
            ("MEMBER_ACCOUNTS", "111111111111, 222222222222,111111111111"),
            ("ACCOUNT_ID", "333333333333"),
            ("MEMBER_ROLE_NAME", "OrgReader"),
        ]))
        .unwrap();
        assert_eq!(listed.account, "333333333333");
        assert_eq!(listed.member.role_name, "OrgReader");
        for (account, r, read) in [
            ("111111111111", "eu-west-1", Ok(())),
            ("222222222222", "us-east-1", Ok(())),
            ("333333333333", "ap-south-1", Ok(())),
            ("123456789012", "us-east-1", Err(NotRead::NotAMember)),
            ("111111111111", "cn-north-1", Err(NotRead::OtherPartition)),
            ("333333333333", "us-gov-west-1", Err(NotRead::OtherPartition)),
        ] {
            assert_eq!(listed.accepts(&id(account), &region(r)), read, "{account} {r}");
        }
        let any = ScanAlertConfig::from_env(&env(&[("MEMBER_ACCOUNTS", " * ")])).unwrap();
        assert_eq!(any.members, Some(MemberAccounts::Any));
        assert_eq!(any.accepts(&id("999999999999"), &region("eu-west-1")), Ok(()));
        assert_eq!(
            any.accepts(&id("999999999999"), &region("cn-north-1")),
            Err(NotRead::OtherPartition)
        );
    }

    #[test]
    fn organisation_errors_name_the_variable_never_the_value() {
        for (name, value, said) in [
            ("MEMBER_ACCOUNTS", "111111111111,hunter2", "item 2 is not one"),
            ("MEMBER_ACCOUNTS", "*,111111111111", "item 1 is not one"),
            ("ACCOUNT_ID", "hunter2", "12-digit"),
            ("MEMBER_ROLE_NAME", "role/hunter2", "IAM role name"),
            ("ACCOUNT_NAMES", "{hunter2", "JSON object"),
        ] {
            let e = ScanAlertConfig::from_env(&env(&[(name, value)])).unwrap_err();
            assert_eq!(e.variable, name, "{value}");
            assert!(e.problem.contains(said), "{e}");
            assert!(!e.to_string().contains("hunter2"), "{e}");
        }
    }

    /// The same rules as log-alert's and task-alert's `ACCOUNT_NAMES`.
    #[test]
    fn topic_is_required() {
        assert_eq!(
            ScanAlertConfig::from_env(&Env::default()).unwrap_err().variable,
            "ALERT_TOPIC_ARN"
        );
    }
}
