//! task-alert's settings, parsed once at cold start; every error names its variable.

use crate::logs::LogLimits;
use lookout_shared::aws::AwsSettings;
use lookout_shared::config::{ConfigError, Env, RedactSettings, TopicArn};
use lookout_shared::ids::{AccountId, Region};
use lookout_shared::metrics::MetricsConfig;
use lookout_shared::notification::Delivery;
use lookout_shared::severity::Severity;
use lookout_shared::state::StateConfig;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct TaskAlertConfig {
    pub delivery: Delivery,
    /// The function's region: log groups without `awslogs-region` are here. With `account`, the
    /// only events read (`event::own_events`).
    pub region: Region,
    /// The function's account (`ACCOUNT_ID`, else the alert topic's): the only events read.
    pub account: AccountId,
    /// `LOG_LINES` / `LOG_BYTES`: how much of the container's tail to read and show.
    pub log_limits: LogLimits,
    /// `SPOT_SEVERITY`: Spot interruptions are routine for some teams and news for others.
    pub spot_severity: Severity,
    pub redact: RedactSettings,
    /// `STATE_TABLE` and the suppression window: crash loops across invocations.
    pub state: StateConfig,
    pub deadline_margin: Duration,
    pub metrics: MetricsConfig,
    pub aws: AwsSettings,
}

impl TaskAlertConfig {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let topic = TopicArn::parse("ALERT_TOPIC_ARN", env.required("ALERT_TOPIC_ARN")?)?;
        let region = env.region(Some(&topic))?;
        // Lambda tells a function its account only per invocation; the template creates the
        // topic in the stack's account, and a stack with a topic in another sets ACCOUNT_ID.
        let account = match env.get("ACCOUNT_ID") {
            None => topic.account().clone(),
            Some(id) => AccountId::parse(id).ok_or_else(|| {
                ConfigError::new(
                    "ACCOUNT_ID",
                    format!(
                        "must be a 12-digit AWS account id, not {}",
                        lookout_shared::config::shape(id)
                    ),
                )
            })?,
        };
        let spot_severity = env.severity("SPOT_SEVERITY", Severity::Warning)?;
        Ok(Self {
            delivery: Delivery::from_env(env, topic)?,
            region,
            account,
            log_limits: LogLimits {
                lines: env.number_in("LOG_LINES", 20, 1..=1_000)?,
                bytes: env.number_in("LOG_BYTES", 16 << 10, 256..=128 << 10)?,
            },
            spot_severity,
            redact: RedactSettings::from_env(env)?,
            state: StateConfig::from_env(env)?,
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
        assert_eq!(c.region.as_str(), "us-east-1");
        assert_eq!(c.account, "123456789012", "the topic's");
        let c = TaskAlertConfig::from_env(&env(&[("ACCOUNT_ID", "111122223333")])).unwrap();
        assert_eq!(c.account, "111122223333");
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
