//! Environment configuration, parsed once at cold start. Every problem names the variable,
//! so a bad deploy fails at init with a message the operator can act on.

use std::collections::HashMap;
use std::str::FromStr;
use std::time::Duration;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("configuration: {variable} {problem}")]
pub struct ConfigError {
    pub variable: String,
    pub problem: String,
}

impl ConfigError {
    pub fn new(variable: &str, problem: impl Into<String>) -> Self {
        Self {
            variable: variable.to_string(),
            problem: problem.into(),
        }
    }
}

impl From<ConfigError> for lambda_runtime::Diagnostic {
    fn from(e: ConfigError) -> Self {
        Self {
            error_type: "Lookout.ConfigError".into(),
            error_message: e.to_string(),
        }
    }
}

/// A read-only view of the environment. Tests build one from pairs instead of mutating the
/// process environment.
#[derive(Debug, Clone, Default)]
pub struct Env {
    vars: HashMap<String, String>,
}

impl Env {
    pub fn from_process() -> Self {
        Self {
            vars: std::env::vars().collect(),
        }
    }

    pub fn from_pairs<K: Into<String>, V: Into<String>>(pairs: impl IntoIterator<Item = (K, V)>) -> Self {
        Self {
            vars: pairs.into_iter().map(|(k, v)| (k.into(), v.into())).collect(),
        }
    }

    /// The value, or `None` when unset or blank.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.vars.get(name).map(|v| v.trim()).filter(|v| !v.is_empty())
    }

    /// A severity name (NOTICE, WARNING, ERROR, CRITICAL, any case), or `default` when unset.
    pub fn severity(
        &self,
        name: &str,
        default: crate::severity::Severity,
    ) -> Result<crate::severity::Severity, ConfigError> {
        let Some(raw) = self.get(name) else {
            return Ok(default);
        };
        crate::severity::Severity::ALL
            .into_iter()
            .find(|s| raw.eq_ignore_ascii_case(s.as_str()))
            .ok_or_else(|| {
                ConfigError::new(
                    name,
                    format!("must be NOTICE, WARNING, ERROR or CRITICAL, got {raw:?}"),
                )
            })
    }

    pub fn required(&self, name: &str) -> Result<&str, ConfigError> {
        self.get(name)
            .ok_or_else(|| ConfigError::new(name, "is required but not set"))
    }

    /// Parses the value with `FromStr`, or returns `default` when unset.
    pub fn parse_or<T>(&self, name: &str, default: T) -> Result<T, ConfigError>
    where
        T: FromStr,
        T::Err: std::fmt::Display,
    {
        match self.get(name) {
            None => Ok(default),
            Some(raw) => raw
                .parse()
                .map_err(|e| ConfigError::new(name, format!("has invalid value {raw:?}: {e}"))),
        }
    }

    /// A whole number within `range`, or `default` when unset.
    pub fn number_in<T>(
        &self,
        name: &str,
        default: T,
        range: std::ops::RangeInclusive<T>,
    ) -> Result<T, ConfigError>
    where
        T: FromStr + PartialOrd + std::fmt::Display + Copy,
        T::Err: std::fmt::Display,
    {
        let value = self.parse_or(name, default)?;
        if range.contains(&value) {
            Ok(value)
        } else {
            Err(ConfigError::new(
                name,
                format!(
                    "must be between {} and {}, got {value}",
                    range.start(),
                    range.end()
                ),
            ))
        }
    }

    /// `true/false`, `yes/no`, `1/0`, `on/off`, case-insensitive.
    pub fn flag(&self, name: &str, default: bool) -> Result<bool, ConfigError> {
        match self.get(name).map(str::to_ascii_lowercase).as_deref() {
            None => Ok(default),
            Some("true" | "yes" | "1" | "on") => Ok(true),
            Some("false" | "no" | "0" | "off") => Ok(false),
            Some(other) => Err(ConfigError::new(
                name,
                format!("must be true or false, got {other:?}"),
            )),
        }
    }

    /// `DEADLINE_MARGIN_MS`: work stops, and a publish gives up, this long before the Lambda
    /// deadline, so the result (or the failure) is still reported.
    ///
    /// Lambda exposes no function timeout to the process, so the template sets
    /// `FUNCTION_TIMEOUT_SECONDS`; when it is set, a margin that leaves no time to work (at least
    /// the timeout) is refused here, at init, instead of failing every invocation.
    pub fn deadline_margin(&self, default_ms: u64) -> Result<Duration, ConfigError> {
        let margin_ms = self.number_in("DEADLINE_MARGIN_MS", default_ms, 0..=300_000)?;
        if self.get("FUNCTION_TIMEOUT_SECONDS").is_some() {
            let timeout_s: u64 = self.number_in("FUNCTION_TIMEOUT_SECONDS", 900, 1..=900)?;
            if margin_ms >= timeout_s.saturating_mul(1000) {
                return Err(ConfigError::new(
                    "DEADLINE_MARGIN_MS",
                    format!(
                        "({margin_ms} ms) must be less than the function timeout (FUNCTION_TIMEOUT_SECONDS={timeout_s})"
                    ),
                ));
            }
        }
        Ok(Duration::from_millis(margin_ms))
    }

    /// A `KEY=VALUE,KEY=VALUE` list: every item must have a `=` and a non-empty key, and a key
    /// may appear once (a repeated key would otherwise silently win or lose).
    pub fn key_values(&self, name: &str) -> Result<Vec<(String, String)>, ConfigError> {
        let mut out: Vec<(String, String)> = Vec::new();
        for item in self.list(name) {
            let Some((key, value)) = item.split_once('=') else {
                return Err(ConfigError::new(
                    name,
                    format!("items must be KEY=VALUE, got {item:?}"),
                ));
            };
            let key = key.trim().to_string();
            if key.is_empty() {
                return Err(ConfigError::new(
                    name,
                    format!("has an item without a key: {item:?}"),
                ));
            }
            if out.iter().any(|(k, _)| k.eq_ignore_ascii_case(&key)) {
                return Err(ConfigError::new(name, format!("lists {key} more than once")));
            }
            out.push((key, value.trim().to_string()));
        }
        Ok(out)
    }

    /// The region console links point at: the function's own (`AWS_REGION`, always set by
    /// Lambda), else the alert topic's, else `us-east-1`.
    pub fn region(&self, topic: Option<&TopicArn>) -> String {
        self.get("AWS_REGION")
            .or(topic.map(TopicArn::region))
            .unwrap_or("us-east-1")
            .to_string()
    }

    /// A comma-separated list; blank items are dropped.
    pub fn list(&self, name: &str) -> Vec<String> {
        self.get(name)
            .map(|v| {
                v.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(String::from)
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// `REDACT` (default on) and `REDACT_EXTRA_PATTERNS` (a JSON array of regular expressions),
/// for every function that shows untrusted text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedactSettings {
    pub enabled: bool,
    pub extra_patterns: Vec<String>,
}

impl RedactSettings {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let extra_patterns = match env.get("REDACT_EXTRA_PATTERNS") {
            None => Vec::new(),
            Some(raw) => serde_json::from_str::<Vec<String>>(raw).map_err(|e| {
                ConfigError::new(
                    "REDACT_EXTRA_PATTERNS",
                    format!("must be a JSON array of regular expressions: {e}"),
                )
            })?,
        };
        Ok(Self {
            enabled: env.flag("REDACT", true)?,
            extra_patterns,
        })
    }

    /// Compiles the rules: call it at init, so a bad pattern fails the deployment, not an alert.
    pub fn redactor(&self) -> Result<crate::redact::Redactor, ConfigError> {
        if !self.enabled {
            return Ok(crate::redact::Redactor::disabled());
        }
        crate::redact::Redactor::new(&self.extra_patterns)
            .map_err(|e| ConfigError::new("REDACT_EXTRA_PATTERNS", e.to_string()))
    }
}

/// An SNS topic ARN, checked for shape so a typo fails at init, not at the first alert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicArn {
    arn: String,
    region: String,
}

impl TopicArn {
    pub fn parse(variable: &str, raw: &str) -> Result<Self, ConfigError> {
        let parts: Vec<&str> = raw.split(':').collect();
        let valid = parts.len() == 6
            && parts[0] == "arn"
            && parts[1].starts_with("aws")
            && parts[2] == "sns"
            && !parts[3].is_empty()
            && parts[4].len() == 12
            && parts[4].bytes().all(|b| b.is_ascii_digit())
            && !parts[5].is_empty();
        if !valid {
            return Err(ConfigError::new(
                variable,
                format!("must be an SNS topic ARN (arn:aws:sns:REGION:ACCOUNT:NAME), got {raw:?}"),
            ));
        }
        Ok(Self {
            arn: raw.to_string(),
            region: parts[3].to_string(),
        })
    }

    pub fn as_str(&self) -> &str {
        &self.arn
    }

    pub fn region(&self) -> &str {
        &self.region
    }

    /// FIFO topics need a group id and a deduplication id on every publish.
    pub fn is_fifo(&self) -> bool {
        self.arn.ends_with(".fifo")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_name_the_variable() {
        let env = Env::from_pairs([("N", "abc"), ("F", "maybe"), ("R", "500")]);
        let e = env.parse_or::<u32>("N", 1).unwrap_err();
        assert_eq!(e.variable, "N");
        assert!(e.to_string().contains("N has invalid value \"abc\""), "{e}");
        assert!(
            env.flag("F", false)
                .unwrap_err()
                .to_string()
                .contains("F must be true or false")
        );
        assert!(
            env.number_in("R", 1u32, 1..=100)
                .unwrap_err()
                .to_string()
                .contains("between 1 and 100")
        );
        assert_eq!(
            env.required("MISSING").unwrap_err().to_string(),
            "configuration: MISSING is required but not set"
        );
    }

    #[test]
    fn blank_means_unset_and_lists_split() {
        let env = Env::from_pairs([("B", "  "), ("L", "a, b,,c ")]);
        assert_eq!(env.get("B"), None);
        assert!(env.flag("B", true).unwrap());
        assert_eq!(env.list("L"), vec!["a", "b", "c"]);
    }

    #[test]
    fn redaction_settings_name_their_variable() {
        let on = RedactSettings::from_env(&Env::default()).unwrap();
        assert!(on.enabled && on.extra_patterns.is_empty());
        for (name, value) in [("REDACT", "maybe"), ("REDACT_EXTRA_PATTERNS", "not json")] {
            let e = RedactSettings::from_env(&Env::from_pairs([(name, value)])).unwrap_err();
            assert_eq!(e.variable, name);
        }
        let bad = RedactSettings::from_env(&Env::from_pairs([("REDACT_EXTRA_PATTERNS", r#"["(unclosed"]"#)]))
            .unwrap();
        assert_eq!(bad.redactor().unwrap_err().variable, "REDACT_EXTRA_PATTERNS");
    }

    #[test]
    fn a_margin_as_long_as_the_function_timeout_fails_at_init() {
        let env = |margin: &str, timeout: &str| {
            Env::from_pairs([
                ("DEADLINE_MARGIN_MS", margin),
                ("FUNCTION_TIMEOUT_SECONDS", timeout),
            ])
        };
        let e = env("30000", "30").deadline_margin(500).unwrap_err();
        assert_eq!(e.variable, "DEADLINE_MARGIN_MS");
        assert!(e.to_string().contains("FUNCTION_TIMEOUT_SECONDS=30"), "{e}");
        assert_eq!(
            env("29999", "30").deadline_margin(500).unwrap(),
            Duration::from_millis(29_999)
        );
        assert_eq!(
            env("500", "0").deadline_margin(500).unwrap_err().variable,
            "FUNCTION_TIMEOUT_SECONDS"
        );
        // Unset (a local run): the range check alone.
        assert!(
            Env::from_pairs([("DEADLINE_MARGIN_MS", "60000")])
                .deadline_margin(500)
                .is_ok()
        );
    }

    #[test]
    fn key_value_lists_refuse_repeated_keys() {
        let env = Env::from_pairs([
            ("T", "HIGH=1,HIGH=500"),
            ("U", "CRITICAL=1, high=5"),
            ("V", "high=1,HIGH=2"),
            ("W", "HIGH"),
            ("X", "=1"),
        ]);
        let e = env.key_values("T").unwrap_err();
        assert_eq!(e.variable, "T");
        assert!(e.to_string().contains("lists HIGH more than once"), "{e}");
        assert_eq!(env.key_values("V").unwrap_err().variable, "V");
        assert_eq!(env.key_values("W").unwrap_err().variable, "W");
        assert_eq!(env.key_values("X").unwrap_err().variable, "X");
        assert_eq!(
            env.key_values("U").unwrap(),
            vec![
                ("CRITICAL".to_string(), "1".to_string()),
                ("high".to_string(), "5".to_string())
            ]
        );
        assert!(env.key_values("UNSET").unwrap().is_empty());
    }

    #[test]
    fn topic_arns_are_checked() {
        let t = TopicArn::parse("T", "arn:aws:sns:eu-west-1:123456789012:alerts.fifo").unwrap();
        assert!(t.is_fifo());
        assert_eq!(t.region(), "eu-west-1");
        assert!(
            !TopicArn::parse("T", "arn:aws-cn:sns:cn-north-1:123456789012:a")
                .unwrap()
                .is_fifo()
        );
        for bad in [
            "alerts",
            "arn:aws:sqs:eu-west-1:123456789012:q",
            "arn:aws:sns:eu-west-1:12:x",
        ] {
            let e = TopicArn::parse("ALERT_TOPIC_ARN", bad).unwrap_err();
            assert_eq!(e.variable, "ALERT_TOPIC_ARN");
        }
    }
}
