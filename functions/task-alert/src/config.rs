//! task-alert's settings, parsed once at cold start; every error names its variable.

use crate::logs::LogLimits;
use lookout_shared::accounts::{AccountNames, MemberAccounts};
use lookout_shared::aws::AwsSettings;
use lookout_shared::config::{ConfigError, Env, RedactSettings, TopicArn};
use lookout_shared::ids::{AccountId, Region};
use lookout_shared::member::MemberConfig;
use lookout_shared::metrics::MetricsConfig;
use lookout_shared::notification::Delivery;
use lookout_shared::severity::Severity;
use lookout_shared::state::StateConfig;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct TaskAlertConfig {
    pub delivery: Delivery,
    /// The function's region. Without `MEMBER_ACCOUNTS`, with `account`, the only events read
    /// (`event::accepted_events`); with it, the partition read.
    pub region: Region,
    /// The function's account (`ACCOUNT_ID`, else the alert topic's): the only events read
    /// without `MEMBER_ACCOUNTS`; its reads need no role.
    pub account: AccountId,
    /// `MEMBER_ACCOUNTS`: organisation mode, and which other accounts' events are read (in
    /// their account and region, through the reader role). `None`: the own account only.
    pub(crate) members: Option<MemberAccounts>,
    /// `MEMBER_ROLE_NAME`, `MEMBER_EXTERNAL_ID`: the reader role assumed in member accounts.
    pub member: MemberConfig,
    /// `ACCOUNT_NAMES`: what alerts call each account.
    pub(crate) account_names: AccountNames,
    /// `LOG_LINES` / `LOG_BYTES`: how much of the container's tail to read and show.
    pub log_limits: LogLimits,
    /// `SPOT_SEVERITY`: Spot interruptions are routine for some teams and news for others.
    pub spot_severity: Severity,
    pub redact: RedactSettings,
    /// `STATE_TABLE` and the suppression window: crash loops across invocations, and the open
    /// alerts a recovery resolves.
    pub state: StateConfig,
    /// `CRASH_LOOP_STOPS`: the stop of a service inside its suppression window that is sent as
    /// a "crash loop" alert (default 3); `None` (`0`): never. `1` is refused: the first stop
    /// is alerted anyway.
    pub crash_loop_stops: Option<u64>,
    pub deadline_margin: Duration,
    pub metrics: MetricsConfig,
    pub aws: AwsSettings,
}

impl TaskAlertConfig {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let topic = TopicArn::parse("ALERT_TOPIC_ARN", env.required("ALERT_TOPIC_ARN")?)?;
        let region = env.region(Some(&topic))?;
        let account = lookout_shared::accounts::own_account(env, Some(&topic))?
            .unwrap_or_else(|| topic.account().clone());
        let spot_severity = env.severity("SPOT_SEVERITY", Severity::Warning)?;
        let crash_loop_stops = match env.number_in("CRASH_LOOP_STOPS", 3u64, 0..=1_000)? {
            0 => None,
            1 => {
                return Err(ConfigError::new(
                    "CRASH_LOOP_STOPS",
                    "must be 0 (no crash-loop alerts) or at least 2: the first stop is alerted anyway",
                ));
            }
            stops => Some(stops),
        };
        Ok(Self {
            delivery: Delivery::from_env(env, topic)?,
            region,
            account,
            members: MemberAccounts::from_env(env)?,
            member: MemberConfig::from_env(env)?,
            account_names: AccountNames::from_env(env)?,
            log_limits: LogLimits {
                lines: env.number_in("LOG_LINES", 20, 1..=1_000)?,
                bytes: env.number_in("LOG_BYTES", 16 << 10, 256..=128 << 10)?,
            },
            spot_severity,
            redact: RedactSettings::from_env(env)?,
            state: StateConfig::from_env(env)?,
            crash_loop_stops,
            deadline_margin: env.deadline_margin(500)?,
            metrics: MetricsConfig::from_env(env, "task-alert")?,
            aws: AwsSettings::from_env(env)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(extra: &[(&str, &str)]) -> Env {
        let mut pairs = vec![("ALERT_TOPIC_ARN", "arn:aws:sns:us-east-1:123456789012:alerts")];
        pairs.extend_from_slice(extra);
        Env::from_pairs(pairs)
    }

    #[test]
    fn defaults_and_named_errors() {
        let c = TaskAlertConfig::from_env(&env(&[])).unwrap();
        assert_eq!(
            c.log_limits,
            LogLimits {
                lines: 20,
                bytes: 16 << 10
            }
        );
        assert_eq!(c.spot_severity, Severity::Warning);
        assert_eq!(c.crash_loop_stops, Some(3));
        assert_eq!(c.region.as_str(), "us-east-1");
        assert_eq!(c.account, "123456789012", "the topic's");
        let c = TaskAlertConfig::from_env(&env(&[("ACCOUNT_ID", "111122223333")])).unwrap();
        assert_eq!(c.account, "111122223333");
        let stops = |v: &str| TaskAlertConfig::from_env(&env(&[("CRASH_LOOP_STOPS", v)]));
        assert_eq!(stops("0").unwrap().crash_loop_stops, None, "0: off");
        assert_eq!(stops("5").unwrap().crash_loop_stops, Some(5));
        let one = stops("1").unwrap_err();
        assert_eq!(one.variable, "CRASH_LOOP_STOPS");
        assert!(one.to_string().contains("at least 2"), "{one}");
        assert_eq!(
            TaskAlertConfig::from_env(&env(&[("SPOT_SEVERITY", "notice")]))
                .unwrap()
                .spot_severity,
            Severity::Notice
        );
        for (name, value) in [
            ("LOG_LINES", "5000"),
            ("LOG_LINES", "0"),
            ("LOG_BYTES", "10"),
            ("SPOT_SEVERITY", "loud"),
            ("CRASH_LOOP_STOPS", "1"),
            ("CRASH_LOOP_STOPS", "1001"),
            ("CRASH_LOOP_STOPS", "three"),
            ("AWS_REGION", "mars"),
            ("ACCOUNT_ID", "12345"),
            ("MESSAGE_FORMAT", "xml"),
            ("REDACT_EXTRA_PATTERNS", "nope"),
        ] {
            assert_eq!(
                TaskAlertConfig::from_env(&env(&[(name, value)]))
                    .unwrap_err()
                    .variable,
                name
            );
        }
        assert_eq!(
            TaskAlertConfig::from_env(&Env::default()).unwrap_err().variable,
            "ALERT_TOPIC_ARN"
        );
    }

    /// Organisation mode: `MEMBER_ACCOUNTS` unset (or blank) keeps the own account only; `*`
    /// any account; a list those besides the own. The reader role and the names are read once.
    #[test]
    fn member_accounts_role_and_names_are_parsed_once() {
        let c = TaskAlertConfig::from_env(&env(&[])).unwrap();
        assert_eq!(c.members, None, "single-account mode");
        assert_eq!(c.member.role_name, "LookoutReader");
        assert!(c.account_names.is_empty());
        for blank in ["", " ", " , "] {
            let c = TaskAlertConfig::from_env(&env(&[("MEMBER_ACCOUNTS", blank)])).unwrap();
            assert_eq!(c.members, None, "{blank:?}");
        }
        let any = TaskAlertConfig::from_env(&env(&[("MEMBER_ACCOUNTS", " * ")])).unwrap();
        assert_eq!(any.members, Some(MemberAccounts::Any));
        assert!(
            any.members
                .unwrap()
                .accepts(&AccountId::parse("999999999999").unwrap())
        );
        let listed = TaskAlertConfig::from_env(&env(&[
            ("MEMBER_ACCOUNTS", "111111111111, 222222222222,111111111111"),
            ("MEMBER_ROLE_NAME", "OrgReader"),
            ("ACCOUNT_NAMES", r#"{"111111111111": "payments-prod"}"#),
        ]))
        .unwrap();
        let members = listed.members.unwrap();
        let id = |s: &str| AccountId::parse(s).unwrap();
        assert!(members.accepts(&id("111111111111")) && members.accepts(&id("222222222222")));
        assert!(!members.accepts(&id("333333333333")));
        assert_eq!(listed.member.role_name, "OrgReader");
        assert_eq!(
            listed.account_names.name(&id("111111111111")),
            Some("payments-prod")
        );
        assert_eq!(listed.account_names.name(&id("222222222222")), None);
        for (name, value) in [
            ("MEMBER_ACCOUNTS", "111111111111,hunter2"),
            ("MEMBER_ACCOUNTS", "*,111111111111"),
            ("MEMBER_ROLE_NAME", "role/hunter2"),
            ("ACCOUNT_NAMES", "{hunter2"),
        ] {
            let e = TaskAlertConfig::from_env(&env(&[(name, value)])).unwrap_err();
            assert_eq!(e.variable, name, "{value}");
            assert!(!e.to_string().contains("hunter2"), "{e}");
        }
        let e = TaskAlertConfig::from_env(&env(&[("MEMBER_ACCOUNTS", "111111111111,hunter2")])).unwrap_err();
        assert!(e.problem.contains("item 2 is not one"), "{e}");
    }

    /// The same rules as log-alert's `ACCOUNT_NAMES`.
    #[test]
    fn init_errors_never_repeat_the_value() {
        for (name, value) in [
            ("AWS_REGION", "hunter2"),
            ("ACCOUNT_ID", "hunter2"),
            (
                "ALERT_TOPIC_ARN",
                "arn:awsbogus:sns:us-east-1:123456789012:hunter2",
            ),
            ("DEADLINE_MARGIN_MS", "hunter2"),
            ("SPOT_SEVERITY", "hunter2"),
            ("CRASH_LOOP_STOPS", "hunter2"),
        ] {
            let e = TaskAlertConfig::from_env(&env(&[(name, value)])).unwrap_err();
            assert_eq!(e.variable, name);
            assert!(!e.to_string().contains("hunter2"), "{e}");
        }
        let e = TaskAlertConfig::from_env(&env(&[
            ("DEADLINE_MARGIN_MS", "59500"),
            ("FUNCTION_TIMEOUT_SECONDS", "60"),
        ]))
        .unwrap_err();
        assert_eq!(e.variable, "DEADLINE_MARGIN_MS");
    }
}
