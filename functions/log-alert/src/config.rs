//! log-alert's settings, from the environment, parsed once at cold start.

use crate::decode;
use lookout_shared::aws::AwsSettings;
use lookout_shared::config::{ConfigError, Env, RedactSettings, TopicArn};
use lookout_shared::metrics::MetricsConfig;
use lookout_shared::notification::Delivery;
use lookout_shared::redact::Redactor;
use std::time::Duration;

/// Everything log-alert reads from its environment, parsed once at cold start.
#[derive(Debug, Clone)]
pub struct LogAlertConfig {
    pub delivery: Delivery,
    pub max_decompressed_bytes: usize,
    /// Distinct (grouped) lines shown at most; the rest are counted.
    pub max_lines: usize,
    /// Each shown line is cut to this many bytes.
    pub max_line_bytes: usize,
    pub redact: RedactSettings,
    /// Region for console links (the function's own).
    pub region: String,
    /// The function's own log group: alerts on it would loop.
    pub own_log_group: Option<String>,
    /// Stop waiting on SNS this long before the Lambda deadline, so the failure is reported.
    pub deadline_margin: Duration,
    pub metrics: MetricsConfig,
    pub aws: AwsSettings,
}

impl LogAlertConfig {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let topic = TopicArn::parse("ALERT_TOPIC_ARN", env.required("ALERT_TOPIC_ARN")?)?;
        let region = env.region(Some(&topic));
        let config = Self {
            delivery: Delivery::from_env(env, topic)?,
            max_decompressed_bytes: env.number_in(
                "MAX_DECOMPRESSED_BYTES",
                decode::DEFAULT_MAX_DECOMPRESSED_BYTES,
                64 << 10..=64 << 20,
            )?,
            max_lines: env.number_in("MAX_LINES", 100, 1..=10_000)?,
            max_line_bytes: env.number_in("MAX_LINE_BYTES", 8 << 10, 256..=256 << 10)?,
            redact: RedactSettings::from_env(env)?,
            region,
            own_log_group: env.get("AWS_LAMBDA_LOG_GROUP_NAME").map(String::from),
            deadline_margin: env.deadline_margin(500)?,
            metrics: MetricsConfig::from_env(env, "log-alert")?,
            aws: AwsSettings::from_env(env)?,
        };
        // A bad REDACT_EXTRA_PATTERNS surfaces from `LogAlert::new`, still at init: compiling
        // here as well would double the cold-start cost of the patterns.
        Ok(config)
    }

    pub fn redactor(&self) -> Result<Redactor, ConfigError> {
        self.redact.redactor()
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
    fn a_bad_redaction_pattern_is_an_init_error_naming_the_variable() {
        let config =
            LogAlertConfig::from_env(&env(&[("REDACT_EXTRA_PATTERNS", r#"["(unclosed"]"#)])).unwrap();
        let err = config.redactor().unwrap_err();
        assert_eq!(err.variable, "REDACT_EXTRA_PATTERNS");
        let err = LogAlertConfig::from_env(&env(&[("REDACT_EXTRA_PATTERNS", "not json")])).unwrap_err();
        assert_eq!(err.variable, "REDACT_EXTRA_PATTERNS");
    }

    #[test]
    fn limits_are_bounded_and_named() {
        for (name, value) in [
            ("MAX_DECOMPRESSED_BYTES", "10"),
            ("MAX_LINES", "0"),
            ("MAX_LINE_BYTES", "1"),
            ("MESSAGE_FORMAT", "xml"),
        ] {
            assert_eq!(
                LogAlertConfig::from_env(&env(&[(name, value)]))
                    .unwrap_err()
                    .variable,
                name
            );
        }
        let c = LogAlertConfig::from_env(&env(&[])).unwrap();
        assert_eq!(c.max_decompressed_bytes, 8 << 20);
        assert!(c.redact.enabled);
    }
}
