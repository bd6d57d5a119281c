//! Environment configuration, parsed once at cold start. Every problem names the variable,
//! so a bad deploy fails at init with a message the operator can act on. A problem says what
//! is wrong with a value, never what the value is: any variable may hold a secret pasted into
//! the wrong place, and init errors go to the logs.

use crate::ids::{AccountId, Region};
use std::collections::HashMap;
use std::str::FromStr;
use std::time::Duration;

/// A setting that cannot be used: refused at init, naming the variable and never its value.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("configuration: {variable} {problem}")]
pub struct ConfigError {
    /// The environment variable, e.g. `ALERT_TOPIC_ARN`.
    pub variable: String,
    /// What is wrong with it, said without repeating the value ([`shape`]).
    pub problem: String,
}

impl ConfigError {
    /// `variable` has `problem` (which must not quote the value).
    pub fn new(variable: &str, problem: impl Into<String>) -> Self {
        Self {
            variable: variable.to_string(),
            problem: problem.into(),
        }
    }
}

/// How a problem refers to a value without repeating it: "a 7-character value".
pub fn shape(raw: &str) -> String {
    format!("a {}-character value", raw.chars().count())
}

/// A region of the one grammar every function uses ([`crate::console::is_region`]), or an
/// error naming `variable`.
pub fn check_region(variable: &str, raw: &str) -> Result<(), ConfigError> {
    if crate::console::is_region(raw) {
        Ok(())
    } else {
        Err(ConfigError::new(
            variable,
            format!("has {} that is not an AWS region (like us-east-1)", shape(raw)),
        ))
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
    /// The process environment, read once at init.
    pub fn from_process() -> Self {
        Self {
            vars: std::env::vars().collect(),
        }
    }

    /// From `(name, value)` pairs: tests and benches, without touching the process.
    pub fn from_pairs<K: Into<String>, V: Into<String>>(pairs: impl IntoIterator<Item = (K, V)>) -> Self {
        Self {
            vars: pairs.into_iter().map(|(k, v)| (k.into(), v.into())).collect(),
        }
    }

    /// The value, or `None` when unset or blank.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.vars.get(name).map(|v| v.trim()).filter(|v| !v.is_empty())
    }

    /// The value as set, blank or spaced included, for a variable where set-but-blank is an
    /// error rather than unset (`STATE_TABLE`).
    pub fn raw(&self, name: &str) -> Option<&str> {
        self.vars.get(name).map(String::as_str)
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
                    format!("must be NOTICE, WARNING, ERROR or CRITICAL, not {}", shape(raw)),
                )
            })
    }

    /// The value, or an error saying `name` is required.
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
            // Not the parse error: some (severities, for one) quote the value.
            Some(raw) => raw.parse().map_err(|_| {
                ConfigError::new(
                    name,
                    format!("has {} that is not {}", shape(raw), expected::<T>()),
                )
            }),
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
            let side = if value < *range.start() { "below" } else { "above" };
            Err(ConfigError::new(
                name,
                format!(
                    "must be between {} and {}; the value is {side} that",
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
                format!("must be true or false, not {}", shape(other)),
            )),
        }
    }

    /// `DEADLINE_MARGIN_MS`: work stops, and a publish gives up, this long before the Lambda
    /// deadline, so the result (or the failure) is still reported.
    ///
    /// Lambda exposes no function timeout to the process, so the template sets
    /// `FUNCTION_TIMEOUT_SECONDS`; when it is set, a margin of more than half the timeout is
    /// refused here, at init: the work must keep at least as much time as the margin, or
    /// every invocation is cut before it starts (59.5 s of a 60 s timeout left 0.5 s to work).
    pub fn deadline_margin(&self, default_ms: u64) -> Result<Duration, ConfigError> {
        let margin_ms = self.number_in("DEADLINE_MARGIN_MS", default_ms, 0..=300_000)?;
        if self.get("FUNCTION_TIMEOUT_SECONDS").is_some() {
            let timeout_s: u64 = self.number_in("FUNCTION_TIMEOUT_SECONDS", 900, 1..=900)?;
            if margin_ms.saturating_mul(2) > timeout_s.saturating_mul(1000) {
                return Err(ConfigError::new(
                    "DEADLINE_MARGIN_MS",
                    format!(
                        "({margin_ms} ms) must be at most half the function timeout (FUNCTION_TIMEOUT_SECONDS={timeout_s}), so the work keeps at least as long as the margin"
                    ),
                ));
            }
        }
        Ok(Duration::from_millis(margin_ms))
    }

    /// A `KEY=VALUE,KEY=VALUE` list: every item must have a `=` and a non-empty key, and a key
    /// may appear once (a repeated key would otherwise silently win or lose). Errors name items
    /// by position (1-based), never quote them.
    pub fn key_values(&self, name: &str) -> Result<Vec<(String, String)>, ConfigError> {
        let mut out: Vec<(String, String)> = Vec::new();
        for (i, item) in self.list(name).into_iter().enumerate() {
            let position = i + 1;
            let Some((key, value)) = item.split_once('=') else {
                return Err(ConfigError::new(
                    name,
                    format!("items must be KEY=VALUE; item {position} has no ="),
                ));
            };
            let key = key.trim().to_string();
            if key.is_empty() {
                return Err(ConfigError::new(
                    name,
                    format!("has an item without a key (item {position})"),
                ));
            }
            if out.iter().any(|(k, _)| k.eq_ignore_ascii_case(&key)) {
                return Err(ConfigError::new(
                    name,
                    format!("lists a key more than once (item {position} repeats an earlier one)"),
                ));
            }
            out.push((key, value.trim().to_string()));
        }
        Ok(out)
    }

    /// The region console links point at: the function's own (`AWS_REGION`, always set by
    /// Lambda), else the alert topic's, else `us-east-1`. One that is not a region fails, naming
    /// `AWS_REGION`.
    pub fn region(&self, topic: Option<&TopicArn>) -> Result<Region, ConfigError> {
        if let Some(raw) = self.get("AWS_REGION") {
            check_region("AWS_REGION", raw)?;
            if let Some(region) = Region::parse(raw) {
                return Ok(region);
            }
        }
        match topic {
            Some(topic) => Ok(topic.region().clone()),
            None => Region::parse("us-east-1")
                .ok_or_else(|| ConfigError::new("AWS_REGION", "has no usable default")),
        }
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

/// What [`Env::parse_or`] expected, in words: its parse errors are not shown.
fn expected<T>() -> &'static str {
    let name = std::any::type_name::<T>();
    match name.rsplit("::").next().unwrap_or(name) {
        "u8" | "u16" | "u32" | "u64" | "u128" | "usize" | "i8" | "i16" | "i32" | "i64" | "i128" | "isize" => {
            "a whole number"
        }
        "f32" | "f64" => "a number",
        _ => "a value this setting accepts",
    }
}

/// `REDACT` (default on) and `REDACT_EXTRA_PATTERNS` (a JSON array of regular expressions),
/// for every function that shows untrusted text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedactSettings {
    /// `REDACT`: off passes text unchanged (a choice for the operator, default on).
    pub enabled: bool,
    /// `REDACT_EXTRA_PATTERNS`: the operator's regular expressions, run after the built-in ones.
    pub extra_patterns: Vec<String>,
}

impl RedactSettings {
    /// `REDACT` and `REDACT_EXTRA_PATTERNS`; a pattern list that does not parse is an error
    /// naming the variable.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let extra_patterns = match env.get("REDACT_EXTRA_PATTERNS") {
            None => Vec::new(),
            // The position, not serde's message: it quotes the value it could not read.
            Some(raw) => serde_json::from_str::<Vec<String>>(raw).map_err(|e| {
                ConfigError::new(
                    "REDACT_EXTRA_PATTERNS",
                    format!(
                        "must be a JSON array of regular expressions (strings); {} is not one (line {}, column {})",
                        shape(raw),
                        e.line(),
                        e.column()
                    ),
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
        // Named by position: a pattern may spell out part of the secret it hides, and the
        // regex error quotes the pattern.
        crate::redact::Redactor::new(&self.extra_patterns).map_err(|e| {
            let (pattern, problem) = match &e {
                crate::redact::PatternError::Invalid { pattern, .. } => {
                    (pattern, "is not a valid regular expression")
                }
                crate::redact::PatternError::MatchesEmpty { pattern } => {
                    (pattern, "matches the empty string: it would mark every line")
                }
            };
            let position = self
                .extra_patterns
                .iter()
                .position(|p| p == pattern)
                .map_or(0, |i| i + 1);
            ConfigError::new("REDACT_EXTRA_PATTERNS", format!("pattern {position} {problem}"))
        })
    }
}

/// An SNS topic ARN, checked part by part so a typo fails at init, not at the first alert:
/// `arn:PARTITION:sns:REGION:ACCOUNT:NAME`, the partition one of AWS's and the region's own,
/// the region of the one grammar ([`crate::console::is_region`]), a 12-digit account, and
/// SNS's topic name grammar (1-256 of `A-Z a-z 0-9 _ -`, `.fifo` at the end of FIFO topics).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicArn {
    arn: String,
    region: Region,
    account: AccountId,
}

impl TopicArn {
    /// A topic ARN from `variable`: its partition, region, account and name checked, so a typo
    /// fails at init rather than at the first publish.
    pub fn parse(variable: &str, raw: &str) -> Result<Self, ConfigError> {
        let bad = |problem: &str| {
            ConfigError::new(
                variable,
                format!(
                    "must be an SNS topic ARN (arn:PARTITION:sns:REGION:ACCOUNT:NAME); {} {problem}",
                    shape(raw)
                ),
            )
        };
        let parts: Vec<&str> = raw.split(':').collect();
        let [arn, partition, service, region, account, name] = parts[..] else {
            return Err(bad("does not have its six :-separated parts"));
        };
        if arn != "arn" || service != "sns" {
            return Err(bad("is not an arn:…:sns: ARN"));
        }
        if !crate::console::is_partition(partition) {
            return Err(bad("names no AWS partition"));
        }
        let Some(region) = Region::parse(region) else {
            return Err(bad("names no AWS region"));
        };
        if region.partition() != partition {
            return Err(bad("names a region of another partition"));
        }
        let Some(account) = AccountId::parse(account) else {
            return Err(bad("has no 12-digit account id"));
        };
        if !is_topic_name(name) {
            return Err(bad(
                "has no valid topic name (1-256 of A-Z a-z 0-9 _ -, optionally ending .fifo)",
            ));
        }
        Ok(Self {
            arn: raw.to_string(),
            region,
            account,
        })
    }

    /// The ARN as configured.
    pub fn as_str(&self) -> &str {
        &self.arn
    }

    /// The topic's region: it is published to there, whatever the function's.
    pub fn region(&self) -> &Region {
        &self.region
    }

    /// The account that owns the topic.
    pub fn account(&self) -> &AccountId {
        &self.account
    }

    /// FIFO topics need a group id and a deduplication id on every publish.
    pub fn is_fifo(&self) -> bool {
        self.arn.ends_with(".fifo")
    }
}

/// SNS: 1-256 characters of `A-Z a-z 0-9 _ -`; a FIFO topic's name ends in `.fifo` (counted).
fn is_topic_name(name: &str) -> bool {
    let base = name.strip_suffix(".fifo").unwrap_or(name);
    (1..=256).contains(&name.len())
        && !base.is_empty()
        && base
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_name_the_variable() {
        let env = Env::from_pairs([("N", "abc"), ("F", "maybe"), ("R", "500")]);
        let e = env.parse_or::<u32>("N", 1).unwrap_err();
        assert_eq!(e.variable, "N");
        assert!(
            e.to_string()
                .contains("N has a 3-character value that is not a whole number"),
            "{e}"
        );
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
            env("15000", "30").deadline_margin(500).unwrap(),
            Duration::from_millis(15_000)
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
        assert!(e.to_string().contains("item 2 repeats an earlier one"), "{e}");
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
    fn a_margin_over_half_the_function_timeout_fails_at_init() {
        let env = |margin: &str, timeout: &str| {
            Env::from_pairs([
                ("DEADLINE_MARGIN_MS", margin),
                ("FUNCTION_TIMEOUT_SECONDS", timeout),
            ])
        };
        // 0.5 s of a 60 s function left to work.
        let e = env("59500", "60").deadline_margin(500).unwrap_err();
        assert_eq!(e.variable, "DEADLINE_MARGIN_MS");
        assert!(e.to_string().contains("at most half"), "{e}");
        assert_eq!(
            env("30001", "60").deadline_margin(500).unwrap_err().variable,
            "DEADLINE_MARGIN_MS"
        );
        assert_eq!(
            env("30000", "60").deadline_margin(500).unwrap(),
            Duration::from_secs(30)
        );
        // The template's: 500 ms of 30 s, 10 s of 900 s.
        assert!(env("500", "30").deadline_margin(500).is_ok());
        assert!(env("10000", "900").deadline_margin(500).is_ok());
    }

    /// Whatever is wrong, the error names the variable and describes the value without it.
    #[test]
    fn errors_never_repeat_the_value() {
        const SECRET: &str = "hunter2";
        let with = |name: &str, value: &str| Env::from_pairs([(name.to_string(), value.to_string())]);
        let errors = [
            with("S", SECRET)
                .severity("S", crate::severity::Severity::Error)
                .unwrap_err(),
            with("N", SECRET).parse_or::<u32>("N", 1).unwrap_err(),
            with("N", "7777").number_in::<u32>("N", 1, 1..=100).unwrap_err(),
            with("N", SECRET)
                .parse_or::<crate::findings::VulnSeverity>("N", crate::findings::VulnSeverity::High)
                .unwrap_err(),
            with("F", SECRET).flag("F", false).unwrap_err(),
            with("K", SECRET).key_values("K").unwrap_err(),
            with("K", &format!("={SECRET}")).key_values("K").unwrap_err(),
            with("K", &format!("{SECRET}=1,{SECRET}=2"))
                .key_values("K")
                .unwrap_err(),
            with("AWS_REGION", SECRET).region(None).unwrap_err(),
            RedactSettings::from_env(&with("REDACT", SECRET)).unwrap_err(),
            RedactSettings::from_env(&with("REDACT_EXTRA_PATTERNS", SECRET)).unwrap_err(),
            RedactSettings::from_env(&with("REDACT_EXTRA_PATTERNS", &format!(r#"["{SECRET}", 5]"#)))
                .unwrap_err(),
            RedactSettings::from_env(&with("REDACT_EXTRA_PATTERNS", &format!(r#"["{SECRET}("]"#)))
                .unwrap()
                .redactor()
                .unwrap_err(),
            RedactSettings::from_env(&with(
                "REDACT_EXTRA_PATTERNS",
                &format!(r#"["a", "({SECRET})?"]"#),
            ))
            .unwrap()
            .redactor()
            .unwrap_err(),
            TopicArn::parse("ALERT_TOPIC_ARN", SECRET).unwrap_err(),
            TopicArn::parse(
                "ALERT_TOPIC_ARN",
                &format!("arn:aws:sns:us-east-1:123456789012:{SECRET} x"),
            )
            .unwrap_err(),
        ];
        for e in errors {
            let text = e.to_string();
            assert!(
                text.starts_with(&format!("configuration: {} ", e.variable)),
                "{text}"
            );
            assert!(!text.contains(SECRET) && !text.contains("7777"), "{text}");
        }
        let e = with("AWS_REGION", SECRET).region(None).unwrap_err();
        assert_eq!(
            e.to_string(),
            "configuration: AWS_REGION has a 7-character value that is not an AWS region (like us-east-1)"
        );
        let e = RedactSettings::from_env(&with("REDACT_EXTRA_PATTERNS", r#"["a", "(x"]"#))
            .unwrap()
            .redactor()
            .unwrap_err();
        assert!(
            e.to_string()
                .contains("pattern 2 is not a valid regular expression"),
            "{e}"
        );
    }

    #[test]
    fn the_region_is_aws_region_the_topics_or_us_east_1() {
        let topic = TopicArn::parse("T", "arn:aws:sns:eu-west-1:123456789012:a").unwrap();
        let region =
            |pairs: &[(&str, &str)], topic: Option<&TopicArn>| Env::from_pairs(pairs.to_vec()).region(topic);
        assert_eq!(
            region(&[("AWS_REGION", "ap-southeast-5")], Some(&topic)).unwrap(),
            "ap-southeast-5"
        );
        assert_eq!(region(&[], Some(&topic)).unwrap(), "eu-west-1");
        assert_eq!(region(&[], None).unwrap(), "us-east-1");
        for bad in ["hunter2", "us-east-1.evil.example", "US-EAST-1"] {
            assert_eq!(
                region(&[("AWS_REGION", bad)], Some(&topic)).unwrap_err().variable,
                "AWS_REGION"
            );
        }
    }

    #[test]
    fn topic_arns_are_checked() {
        let t = TopicArn::parse("T", "arn:aws:sns:eu-west-1:123456789012:alerts.fifo").unwrap();
        assert!(t.is_fifo());
        assert_eq!(t.region().as_str(), "eu-west-1");
        assert_eq!(t.account(), "123456789012");
        for good in [
            "arn:aws-us-gov:sns:us-gov-west-1:123456789012:a-b_C9",
            "arn:aws-iso:sns:us-iso-east-1:123456789012:a",
            "arn:aws-iso-b:sns:us-isob-east-1:123456789012:a",
            "arn:aws-iso-e:sns:eu-isoe-west-1:123456789012:a",
            "arn:aws-iso-f:sns:us-isof-south-1:123456789012:a",
            "arn:aws-eusc:sns:eusc-de-east-1:123456789012:a",
            "arn:aws:sns:il-central-1:123456789012:a",
        ] {
            assert!(TopicArn::parse("T", good).is_ok(), "{good}");
        }
        let longest = format!("arn:aws:sns:us-east-1:123456789012:{}", "n".repeat(256));
        assert!(TopicArn::parse("T", &longest).is_ok());
        let longest_fifo = format!("arn:aws:sns:us-east-1:123456789012:{}.fifo", "n".repeat(251));
        assert!(TopicArn::parse("T", &longest_fifo).is_ok());
        assert!(
            !TopicArn::parse("T", "arn:aws-cn:sns:cn-north-1:123456789012:a")
                .unwrap()
                .is_fifo()
        );
        for bad in [
            "alerts",
            "arn:aws:sqs:eu-west-1:123456789012:q",
            "arn:aws:sns:eu-west-1:12:x",
            "arn:awsbogus:sns:eu-west-1:123456789012:alerts",
            "arn:aws:sns:eu-west-1:123456789012:my alerts",
            "arn:aws:sns:eu-west-1:123456789012:",
            "arn:aws:sns:eu-west-1:123456789012:.fifo",
            "arn:aws:sns:eu-west-1:123456789012:a.b",
            "arn:aws:sns:eu-west-1:123456789012:a:b",
            "arn:aws:sns:hunter2:123456789012:alerts",
            "arn:aws-cn:sns:eu-west-1:123456789012:alerts",
            "arn:aws:sns:cn-north-1:123456789012:alerts",
            "arn:aws:sns:eu-west-1:12345678901x:alerts",
            format!("arn:aws:sns:us-east-1:123456789012:{}", "n".repeat(257)).as_str(),
            format!("arn:aws:sns:us-east-1:123456789012:{}.fifo", "n".repeat(252)).as_str(),
        ] {
            let e = TopicArn::parse("ALERT_TOPIC_ARN", bad).unwrap_err();
            assert_eq!(e.variable, "ALERT_TOPIC_ARN");
        }
    }
}
