//! ecr-rescan's settings, from the environment, parsed once at cold start.

use lookout_shared::aws::AwsSettings;
use lookout_shared::config::{ConfigError, Env, TopicArn, shape};
use lookout_shared::findings::VulnSeverity;
use lookout_shared::ids::{AccountId, Region};
use lookout_shared::member::MemberConfig;
use lookout_shared::metrics::MetricsConfig;
use lookout_shared::notification::Delivery;
use lookout_shared::wildcard::Patterns;
use std::collections::BTreeSet;
use std::time::Duration;

/// Which images of a repository are candidates for a rescan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ImageSelection {
    /// `IMAGES=all` also rescans untagged images; the default `tagged` does not.
    pub(crate) tagged_only: bool,
    /// `TAG_PATTERNS`: keep images with at least one matching tag.
    pub(crate) tag_patterns: Vec<String>,
    /// `LATEST_PER_REPOSITORY`: keep the newest N by push time (0 = no limit).
    pub(crate) latest_per_repository: usize,
    /// `PULLED_WITHIN_DAYS`: keep images pulled in the last D days (0 = no limit).
    pub(crate) pulled_within_days: u32,
}

/// ECR calls in flight by default. At ECR's usual 20-50 ms per call this offers 300-800 calls a
/// second, more than a sequential loop's 20-50 by over 10x; where ECR wants less, it throttles
/// and the adaptive rate settles below that. More in flight adds sockets and memory, not speed
/// once ECR throttles.
pub(crate) const DEFAULT_CONCURRENCY: usize = 16;

/// Accounts one function takes at most: its summary and its rotation note stay bounded.
pub(crate) const MAX_ACCOUNTS: usize = 1_000;

/// `ACCOUNTS`: the registries one run rescans, each in its own account through the member
/// reader role. `main.rs` reads `own` and `member` to build the member access.
#[derive(Debug, Clone)]
pub struct Organisation {
    /// In `ACCOUNTS` order, each once.
    pub(crate) accounts: Vec<AccountId>,
    /// The function's own account (`ACCOUNT_ID`, else the alert topic's): no role needed.
    pub own: AccountId,
    /// `MEMBER_ROLE_NAME` and `MEMBER_EXTERNAL_ID`.
    pub member: MemberConfig,
}

/// `main.rs` reads `aws` and the tests set `delivery`; the rest is the crate's own.
#[derive(Debug, Clone)]
pub struct RescanConfig {
    pub(crate) repositories: Patterns,
    pub(crate) images: ImageSelection,
    /// ECR calls in flight at once.
    pub(crate) concurrency: usize,
    /// `SCAN_RATE_PER_SECOND`: a ceiling on ECR calls per second. Unset (the default), the rate
    /// is only what ECR accepts: it adapts on throttling (`pace`).
    pub(crate) max_rate_per_second: Option<f64>,
    /// A basic scan younger than this is not repeated (ECR allows one per 24 h).
    pub(crate) rescan_after: Duration,
    /// Attempts per StartImageScan when throttled.
    pub(crate) max_scan_attempts: u32,
    pub(crate) min_severity: VulnSeverity,
    /// Inspector findings and coverage entries read at most.
    pub(crate) max_findings: usize,
    pub(crate) max_coverage: usize,
    pub(crate) dry_run: bool,
    /// `None`: no summary is published.
    pub delivery: Option<Delivery>,
    pub(crate) region: Region,
    pub(crate) deadline_margin: Duration,
    pub(crate) metrics: MetricsConfig,
    pub aws: AwsSettings,
    /// `None` (`ACCOUNTS` unset or empty): the function's own registry only.
    pub organisation: Option<Organisation>,
}

impl RescanConfig {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let images = match env.get("IMAGES").map(str::to_ascii_lowercase).as_deref() {
            None | Some("tagged") => true,
            Some("all") => false,
            Some(other) => {
                return Err(ConfigError::new(
                    "IMAGES",
                    format!("must be tagged or all, not {}", shape(other)),
                ));
            }
        };
        let delivery = match env.get("ALERT_TOPIC_ARN") {
            Some(arn) => Some(Delivery::from_env(env, TopicArn::parse("ALERT_TOPIC_ARN", arn)?)?),
            None => None,
        };
        let region = env.region(delivery.as_ref().map(|d| &d.topic))?;
        let organisation = organisation(env, delivery.as_ref())?;
        let max_rate_per_second: Option<f64> = match env.get("SCAN_RATE_PER_SECOND") {
            None => None,
            Some(_) => Some(env.parse_or("SCAN_RATE_PER_SECOND", 0.0)?),
        };
        if max_rate_per_second.is_some_and(|r| !(0.5..=1000.0).contains(&r)) {
            return Err(ConfigError::new(
                "SCAN_RATE_PER_SECOND",
                "must be between 0.5 and 1000 (or unset: adaptive)",
            ));
        }
        Ok(Self {
            repositories: Patterns::new(env.list("REPOSITORY_INCLUDE"), env.list("REPOSITORY_EXCLUDE")),
            images: ImageSelection {
                tagged_only: images,
                tag_patterns: env.list("TAG_PATTERNS"),
                latest_per_repository: env.number_in("LATEST_PER_REPOSITORY", 0, 0..=100_000)?,
                pulled_within_days: env.number_in("PULLED_WITHIN_DAYS", 0, 0..=3650)?,
            },
            concurrency: env.number_in("SCAN_CONCURRENCY", DEFAULT_CONCURRENCY, 1..=64)?,
            max_rate_per_second,
            rescan_after: Duration::from_secs(
                3600 * env.number_in("RESCAN_AFTER_HOURS", 24u64, 24..=24 * 365)?,
            ),
            max_scan_attempts: env.number_in("MAX_SCAN_ATTEMPTS", 5, 1..=20)?,
            min_severity: match env.get("MIN_SEVERITY") {
                None => VulnSeverity::High,
                Some(raw) => VulnSeverity::parse(raw).ok_or_else(|| {
                    ConfigError::new(
                        "MIN_SEVERITY",
                        format!(
                            "must be CRITICAL, HIGH, MEDIUM, LOW, INFORMATIONAL or UNTRIAGED, not {}",
                            shape(raw)
                        ),
                    )
                })?,
            },
            max_findings: env.number_in("MAX_FINDINGS", 1000, 1..=100_000)?,
            max_coverage: env.number_in("MAX_COVERAGE", 10_000, 1..=1_000_000)?,
            dry_run: env.flag("DRY_RUN", false)?,
            delivery,
            region,
            deadline_margin: env.deadline_margin(10_000)?,
            metrics: MetricsConfig::from_env(env, "ecr-rescan")?,
            aws: AwsSettings::from_env(env)?,
            organisation,
        })
    }
}

/// `ACCOUNTS` (12-digit ids, comma-separated), with the function's own account and the reader
/// role; `None` when it lists nothing. Errors name the variable and the item's position, never
/// its text.
fn organisation(env: &Env, delivery: Option<&Delivery>) -> Result<Option<Organisation>, ConfigError> {
    let items = env.list("ACCOUNTS");
    if items.is_empty() {
        return Ok(None);
    }
    if items.len() > MAX_ACCOUNTS {
        return Err(ConfigError::new(
            "ACCOUNTS",
            format!(
                "lists {} accounts; one function takes at most {MAX_ACCOUNTS}",
                items.len()
            ),
        ));
    }
    let mut seen = BTreeSet::new();
    let mut accounts = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let position = i.saturating_add(1);
        let Some(account) = AccountId::parse(item) else {
            return Err(ConfigError::new(
                "ACCOUNTS",
                format!(
                    "item {position} is not a 12-digit AWS account id ({})",
                    shape(item)
                ),
            ));
        };
        if !seen.insert(account.as_str().to_owned()) {
            return Err(ConfigError::new(
                "ACCOUNTS",
                format!("lists an account more than once (item {position} repeats an earlier one)"),
            ));
        }
        accounts.push(account);
    }
    let Some(own) = lookout_shared::accounts::own_account(env, delivery.map(|d| &d.topic))? else {
        return Err(ConfigError::new(
            "ACCOUNTS",
            "needs the function's own account: set ACCOUNT_ID (or ALERT_TOPIC_ARN, whose account is taken)",
        ));
    };
    Ok(Some(Organisation {
        accounts,
        own,
        member: MemberConfig::from_env(env)?,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_safe() {
        let c = RescanConfig::from_env(&Env::default()).unwrap();
        assert!(c.images.tagged_only);
        assert!(c.delivery.is_none(), "no topic, no summary");
        assert!(!c.dry_run);
        assert_eq!(c.min_severity, VulnSeverity::High);
        assert_eq!(c.rescan_after, Duration::from_secs(86_400));
        assert_eq!(c.max_rate_per_second, None, "no fixed rate: it adapts");
        assert_eq!(c.concurrency, 16);
    }

    #[test]
    fn bad_values_name_their_variable() {
        for (name, value) in [
            ("IMAGES", "some"),
            ("SCAN_CONCURRENCY", "0"),
            ("SCAN_RATE_PER_SECOND", "0"),
            ("SCAN_RATE_PER_SECOND", "fast"),
            ("MIN_SEVERITY", "urgent"),
            ("RESCAN_AFTER_HOURS", "1"),
            ("ALERT_TOPIC_ARN", "topic"),
        ] {
            let e = RescanConfig::from_env(&Env::from_pairs([(name, value)])).unwrap_err();
            assert_eq!(e.variable, name);
        }
    }

    const TOPIC: &str = "arn:aws:sns:us-east-1:123456789012:alerts";

    #[test]
    fn accounts_unset_or_empty_is_the_single_registry_run() {
        for pairs in [vec![], vec![("ACCOUNTS", "")], vec![("ACCOUNTS", " , ")]] {
            let c = RescanConfig::from_env(&Env::from_pairs(pairs)).unwrap();
            assert!(c.organisation.is_none());
        }
    }

    #[test]
    fn accounts_are_parsed_once_with_the_own_account_and_the_role() {
        let c = RescanConfig::from_env(&Env::from_pairs([
            ("ACCOUNTS", "111111111111, 222222222222,123456789012"),
            ("ALERT_TOPIC_ARN", TOPIC),
        ]))
        .unwrap();
        let org = c.organisation.unwrap();
        let ids: Vec<&str> = org.accounts.iter().map(AccountId::as_str).collect();
        assert_eq!(ids, ["111111111111", "222222222222", "123456789012"]);
        assert_eq!(org.own, "123456789012", "the topic's account");
        assert_eq!(org.member.role_name, "LookoutReader");
        let c = RescanConfig::from_env(&Env::from_pairs([
            ("ACCOUNTS", "111111111111"),
            ("ACCOUNT_ID", "999999999999"),
            ("MEMBER_ROLE_NAME", "OrgReader"),
        ]))
        .unwrap();
        let org = c.organisation.unwrap();
        assert_eq!(org.own, "999999999999");
        assert_eq!(org.member.role_name, "OrgReader");
    }

    #[test]
    fn bad_accounts_are_named_by_variable_and_position_never_quoted() {
        for (pairs, variable, words) in [
            (
                vec![("ACCOUNTS", "111111111111,hunter2"), ("ALERT_TOPIC_ARN", TOPIC)],
                "ACCOUNTS",
                "item 2 is not a 12-digit AWS account id",
            ),
            (
                vec![
                    ("ACCOUNTS", "111111111111,111111111111"),
                    ("ALERT_TOPIC_ARN", TOPIC),
                ],
                "ACCOUNTS",
                "item 2 repeats",
            ),
            (vec![("ACCOUNTS", "111111111111")], "ACCOUNTS", "set ACCOUNT_ID"),
            (
                vec![("ACCOUNTS", "111111111111"), ("ACCOUNT_ID", "hunter2")],
                "ACCOUNT_ID",
                "12-digit",
            ),
            (
                vec![
                    ("ACCOUNTS", "111111111111"),
                    ("ALERT_TOPIC_ARN", TOPIC),
                    ("MEMBER_ROLE_NAME", "hunter2/x"),
                ],
                "MEMBER_ROLE_NAME",
                "IAM role name",
            ),
        ] {
            let e = RescanConfig::from_env(&Env::from_pairs(pairs)).unwrap_err();
            assert_eq!(e.variable, variable, "{e}");
            assert!(e.to_string().contains(words), "{e}");
            assert!(!e.to_string().contains("hunter2"), "{e}");
        }
        let many: Vec<String> = (0..=MAX_ACCOUNTS).map(|i| format!("{:012}", i)).collect();
        let e = RescanConfig::from_env(&Env::from_pairs([
            ("ACCOUNTS", many.join(",").as_str()),
            ("ALERT_TOPIC_ARN", TOPIC),
        ]))
        .unwrap_err();
        assert!(e.to_string().contains("at most 1000"), "{e}");
    }

    /// The region was taken as it came (`hunter2` reached the summary and the SDK); now it is
    /// refused at init like every function's, without repeating it.
    #[test]
    fn init_errors_never_repeat_the_value() {
        for (name, value) in [
            ("AWS_REGION", "hunter2"),
            ("IMAGES", "hunter2"),
            ("MIN_SEVERITY", "hunter2"),
            ("SCAN_RATE_PER_SECOND", "hunter2"),
            (
                "ALERT_TOPIC_ARN",
                "arn:awsbogus:sns:us-east-1:123456789012:hunter2",
            ),
            ("ALERT_TOPIC_ARN", "arn:aws:sns:us-east-1:123456789012:hunter2 x"),
        ] {
            let e = RescanConfig::from_env(&Env::from_pairs([(name, value)])).unwrap_err();
            assert_eq!(e.variable, name);
            assert!(!e.to_string().contains("hunter2"), "{e}");
        }
        let c = RescanConfig::from_env(&Env::from_pairs([("AWS_REGION", "eu-central-2")])).unwrap();
        assert_eq!(c.region, "eu-central-2");
        assert_eq!(
            RescanConfig::from_env(&Env::from_pairs([("MIN_SEVERITY", "critical")]))
                .unwrap()
                .min_severity,
            VulnSeverity::Critical
        );
    }
}
