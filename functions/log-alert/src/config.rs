//! log-alert's settings, from the environment, parsed once at cold start.

use crate::decode;
use lookout_shared::accounts::AccountNames;
use lookout_shared::aws::AwsSettings;
use lookout_shared::config::{ConfigError, Env, RedactSettings, TopicArn};
use lookout_shared::ids::Region;
use lookout_shared::metrics::MetricsConfig;
use lookout_shared::notification::Delivery;
use lookout_shared::redact::Redactor;
use lookout_shared::severity::Severity;
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
    /// `REDACT` and `REDACT_EXTRA_PATTERNS`, parsed like every function's.
    pub redact: RedactSettings,
    /// `MIN_SEVERITY`: lines rated below it are counted, not published.
    pub min_severity: Severity,
    /// Region for console links (the function's own).
    pub region: Region,
    /// The function's own log group: alerts on it would loop.
    pub own_log_group: Option<String>,
    /// `ACCOUNT_NAMES`: what alerts call each account.
    pub account_names: AccountNames,
    /// Stop waiting on SNS this long before the Lambda deadline, so the failure is reported.
    pub deadline_margin: Duration,
    pub metrics: MetricsConfig,
    pub aws: AwsSettings,
}

impl LogAlertConfig {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let topic = TopicArn::parse("ALERT_TOPIC_ARN", env.required("ALERT_TOPIC_ARN")?)?;
        // Console links are built from it: `Env::region` refuses any text that is not a region.
        let region = env.region(Some(&topic))?;
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
            min_severity: env.severity("MIN_SEVERITY", Severity::Error)?,
            region,
            own_log_group: env.get("AWS_LAMBDA_LOG_GROUP_NAME").map(String::from),
            account_names: AccountNames::from_env(env)?,
            deadline_margin: env.deadline_margin(500)?,
            metrics: MetricsConfig::from_env(env, "log-alert")?,
            aws: AwsSettings::from_env(env)?,
        };
        config.check_memory(env)?;
        // A bad REDACT_EXTRA_PATTERNS surfaces from `LogAlert::new`, still at init: compiling
        // here as well would double the cold-start cost of the patterns.
        Ok(config)
    }

    /// A conservative worst case of one batch's memory, in bytes: the runtime, the decompressed
    /// batch with its parsed events, redacted copies and grouping keys (8× the cap), and the
    /// rendered bodies of everything that can be shown (12× what the limits let through,
    /// escapes included). Calibrated on measurements: 12.7 MB for a 2.8 MB batch at the
    /// defaults, 959 MB at the largest limits (issue 12); this gives 1.3 GB there.
    pub fn worst_case_memory_bytes(&self) -> u64 {
        let decompressed = self.max_decompressed_bytes as u64;
        let shown = (self.max_lines as u64)
            .saturating_mul(self.max_line_bytes as u64)
            .min(decompressed);
        (16u64 << 20)
            .saturating_add(decompressed.saturating_mul(8))
            .saturating_add(shown.saturating_mul(12))
    }

    /// Limits whose worst case does not fit the function's memory (`AWS_LAMBDA_FUNCTION_MEMORY_SIZE`,
    /// set by Lambda) are refused at init, not found by an out-of-memory kill mid-batch.
    fn check_memory(&self, env: &Env) -> Result<(), ConfigError> {
        if env.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE").is_none() {
            return Ok(());
        }
        let memory_mb: u64 = env.parse_or("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", 0)?;
        let need_mb = self.worst_case_memory_bytes().div_ceil(1 << 20);
        if need_mb > memory_mb {
            return Err(ConfigError::new(
                "MAX_DECOMPRESSED_BYTES",
                format!(
                    "with MAX_LINES and MAX_LINE_BYTES can need up to {need_mb} MB, more than the function's {memory_mb} MB (AWS_LAMBDA_FUNCTION_MEMORY_SIZE): lower the limits or raise MemorySize"
                ),
            ));
        }
        Ok(())
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
    fn run_time_failures_of_the_configuration_fail_at_init() {
        // Limits whose worst case exceeds the function's memory.
        let big = [
            ("MAX_DECOMPRESSED_BYTES", "67108864"),
            ("MAX_LINES", "10000"),
            ("MAX_LINE_BYTES", "262144"),
        ];
        let mut pairs = big.to_vec();
        pairs.push(("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256"));
        let e = LogAlertConfig::from_env(&env(&pairs)).unwrap_err();
        assert_eq!(e.variable, "MAX_DECOMPRESSED_BYTES");
        assert!(e.to_string().contains("more than the function's 256 MB"), "{e}");
        // The same limits without a memory size (a local run) and the defaults at 128 MB pass.
        assert!(LogAlertConfig::from_env(&env(&big)).is_ok());
        let defaults = LogAlertConfig::from_env(&env(&[("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")])).unwrap();
        assert!(defaults.worst_case_memory_bytes() <= 128 << 20);
        // A region that is not one never reaches a link, and is not repeated.
        let e = LogAlertConfig::from_env(&env(&[("AWS_REGION", "evil.example/#")])).unwrap_err();
        assert_eq!(e.variable, "AWS_REGION");
        assert!(!e.to_string().contains("evil"), "{e}");
        // A topic of no AWS partition, or whose name has a space.
        for topic in [
            "arn:awsbogus:sns:us-east-1:123456789012:alerts",
            "arn:aws:sns:us-east-1:123456789012:my alerts",
        ] {
            let e = LogAlertConfig::from_env(&env(&[("ALERT_TOPIC_ARN", topic)])).unwrap_err();
            assert_eq!(e.variable, "ALERT_TOPIC_ARN");
            assert!(!e.to_string().contains("alerts"), "{e}");
        }
        // A margin as long as the function timeout, or over half of it.
        for (margin, timeout) in [("3000", "3"), ("59500", "60")] {
            let e = LogAlertConfig::from_env(&env(&[
                ("DEADLINE_MARGIN_MS", margin),
                ("FUNCTION_TIMEOUT_SECONDS", timeout),
            ]))
            .unwrap_err();
            assert_eq!(e.variable, "DEADLINE_MARGIN_MS");
        }
    }

    #[test]
    fn limits_are_bounded_and_named() {
        for (name, value) in [
            ("MAX_DECOMPRESSED_BYTES", "10"),
            ("MAX_LINES", "0"),
            ("MAX_LINE_BYTES", "1"),
            ("MESSAGE_FORMAT", "xml"),
            ("MIN_SEVERITY", "SEVERE"),
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
        assert_eq!(c.min_severity, Severity::Error);
        let c = LogAlertConfig::from_env(&env(&[("MIN_SEVERITY", "warning")])).unwrap();
        assert_eq!(c.min_severity, Severity::Warning);
        assert!(c.redact.enabled);
    }
}
