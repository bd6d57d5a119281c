//! The log-alert handler: decode a subscription delivery, redact, group, render to fit SNS,
//! publish once. Any failure fails the invocation, so Lambda retries it and the on-failure
//! destination keeps it.

use super::decode::{self, DecodeError, MessageType};
use super::group;
use super::render::AlertContext;
use lookout_shared::aws::AwsSettings;
use lookout_shared::config::{ConfigError, Env, TopicArn};
use lookout_shared::deadline::Deadline;
use lookout_shared::metrics::{Metrics, MetricsConfig};
use lookout_shared::notification::{Delivery, Detail, FitError, SnsMessage};
use lookout_shared::publish::{PublishError, Publisher};
use lookout_shared::redact::Redactor;
use serde_json::{Value, json};
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
    pub redact: bool,
    pub redact_extra_patterns: Vec<String>,
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
        let region = env.get("AWS_REGION").unwrap_or(topic.region()).to_string();
        let redact_extra_patterns = match env.get("REDACT_EXTRA_PATTERNS") {
            None => Vec::new(),
            Some(raw) => serde_json::from_str::<Vec<String>>(raw).map_err(|e| {
                ConfigError::new(
                    "REDACT_EXTRA_PATTERNS",
                    format!("must be a JSON array of regular expressions: {e}"),
                )
            })?,
        };
        let config = Self {
            delivery: Delivery::from_env(env, topic)?,
            max_decompressed_bytes: env.number_in(
                "MAX_DECOMPRESSED_BYTES",
                decode::DEFAULT_MAX_DECOMPRESSED_BYTES,
                64 << 10..=64 << 20,
            )?,
            max_lines: env.number_in("MAX_LINES", 100, 1..=10_000)?,
            max_line_bytes: env.number_in("MAX_LINE_BYTES", 8 << 10, 256..=256 << 10)?,
            redact: env.flag("REDACT", true)?,
            redact_extra_patterns,
            region,
            own_log_group: env.get("AWS_LAMBDA_LOG_GROUP_NAME").map(String::from),
            deadline_margin: Duration::from_millis(env.number_in("DEADLINE_MARGIN_MS", 500, 0..=60_000)?),
            metrics: MetricsConfig::from_env(env, "log-alert")?,
            aws: AwsSettings::from_env(env)?,
        };
        // A bad REDACT_EXTRA_PATTERNS surfaces from `LogAlert::new`, still at init: compiling
        // here as well would double the cold-start cost of the patterns.
        Ok(config)
    }

    pub fn redactor(&self) -> Result<Redactor, ConfigError> {
        if !self.redact {
            return Ok(Redactor::disabled());
        }
        Redactor::new(&self.redact_extra_patterns)
            .map_err(|e| ConfigError::new("REDACT_EXTRA_PATTERNS", e.to_string()))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LogAlertError {
    #[error(transparent)]
    Decode(#[from] DecodeError),
    #[error(transparent)]
    TooLarge(#[from] FitError),
    #[error(transparent)]
    Publish(#[from] PublishError),
    #[error("SNS Publish did not finish before the Lambda deadline; gave up {margin_ms} ms before it")]
    Deadline { margin_ms: u128 },
}

impl LogAlertError {
    pub fn kind(&self) -> &'static str {
        match self {
            LogAlertError::Decode(e) => e.kind(),
            LogAlertError::TooLarge(_) => "MessageTooLarge",
            LogAlertError::Publish(_) => "PublishFailed",
            LogAlertError::Deadline { .. } => "DeadlineExceeded",
        }
    }
}

impl From<LogAlertError> for lambda_runtime::Diagnostic {
    fn from(e: LogAlertError) -> Self {
        Self {
            error_type: format!("Lookout.{}", e.kind()),
            error_message: e.to_string(),
        }
    }
}

/// What `prepare` decided, before any network call.
#[derive(Debug)]
pub enum Prepared {
    /// CONTROL_MESSAGE: CloudWatch checking the destination. Nothing to publish.
    Acknowledged,
    /// A batch from this function's own log group, or an empty batch.
    Ignored {
        reason: &'static str,
        log_group: String,
    },
    Publish {
        message: SnsMessage,
        summary: Value,
    },
}

pub struct LogAlert<P> {
    config: LogAlertConfig,
    redactor: Redactor,
    publisher: P,
}

impl<P: Publisher> LogAlert<P> {
    pub fn new(config: LogAlertConfig, publisher: P) -> Result<Self, ConfigError> {
        Ok(Self {
            redactor: config.redactor()?,
            config,
            publisher,
        })
    }

    pub fn config(&self) -> &LogAlertConfig {
        &self.config
    }

    /// Decodes and renders, synchronously and without I/O.
    pub fn prepare(&self, event: &Value, metrics: &mut Metrics) -> Result<Prepared, LogAlertError> {
        let data = decode::awslogs_data(event)?;
        let mut json = Vec::new();
        decode::decompress(data, self.config.max_decompressed_bytes, &mut json)?;
        let message = decode::parse(&json)?;
        if message.message_type == MessageType::Control {
            metrics.add("ControlMessages", 1);
            return Ok(Prepared::Acknowledged);
        }
        metrics.add("EventsDecoded", message.log_events.len() as u64);
        if self.config.own_log_group.as_deref() == Some(message.log_group.as_ref()) {
            return Ok(Prepared::Ignored {
                reason: "events from this function's own log group would alert in a loop",
                log_group: message.log_group.to_string(),
            });
        }
        if message.log_events.is_empty() {
            return Ok(Prepared::Ignored {
                reason: "no log events",
                log_group: message.log_group.to_string(),
            });
        }
        let grouped = group::group(&message.log_events, &self.redactor);
        let context = AlertContext {
            message: &message,
            grouped: &grouped,
            region: &self.config.region,
        };
        let max = Detail {
            items: self.config.max_lines,
            item_bytes: self.config.max_line_bytes,
        };
        let (sns, detail) = self.config.delivery.fit(max, |d| context.render(d))?;
        let shown = detail.items.min(grouped.groups.len()) as u64;
        let omitted_events: u64 = grouped.groups.iter().skip(detail.items).map(|g| g.count).sum();
        metrics.add("DistinctLines", grouped.groups.len() as u64);
        metrics.add("EventsGrouped", grouped.grouped_away());
        metrics.add("EventsOmitted", omitted_events);
        metrics.add("Redactions", grouped.redactions);
        let summary = json!({
            "status": "published",
            "logGroup": message.log_group,
            "severity": grouped.severity().as_str(),
            "events": grouped.events,
            "distinctLines": grouped.groups.len(),
            "shownLines": shown,
            "omittedEvents": omitted_events,
            "redactions": grouped.redactions,
            "publishedBytes": sns.request_bytes(),
        });
        Ok(Prepared::Publish {
            message: sns,
            summary,
        })
    }

    /// One invocation: prepare, publish within the deadline, record metrics and one summary log line.
    pub async fn handle(&self, event: Value, deadline: Deadline) -> Result<Value, LogAlertError> {
        let started = std::time::Instant::now();
        let mut metrics = Metrics::new();
        let result = self.handle_with(&event, deadline, &mut metrics).await;
        if let Err(e) = &result {
            metrics.add(
                if matches!(e, LogAlertError::Decode(_)) {
                    "InvalidPayloads"
                } else {
                    "PublishFailures"
                },
                1,
            );
            tracing::error!(error_type = e.kind(), error = %e, "log-alert invocation failed; Lambda will retry it");
        }
        metrics.flush(&self.config.metrics);
        tracing::debug!(
            elapsed_us = started.elapsed().as_micros() as u64,
            "log-alert invocation done"
        );
        result
    }

    async fn handle_with(
        &self,
        event: &Value,
        deadline: Deadline,
        metrics: &mut Metrics,
    ) -> Result<Value, LogAlertError> {
        let (message, mut summary) = match self.prepare(event, metrics)? {
            Prepared::Acknowledged => {
                tracing::info!(
                    message_type = "CONTROL_MESSAGE",
                    "acknowledged CloudWatch Logs control message"
                );
                return Ok(json!({"status": "acknowledged", "messageType": "CONTROL_MESSAGE"}));
            }
            Prepared::Ignored { reason, log_group } => {
                tracing::warn!(log_group = %log_group, reason, "batch ignored");
                return Ok(json!({"status": "ignored", "reason": reason, "logGroup": log_group}));
            }
            Prepared::Publish { message, summary } => (message, summary),
        };
        let budget = deadline.remaining_before(self.config.deadline_margin);
        let margin_ms = self.config.deadline_margin.as_millis();
        let message_id = match tokio::time::timeout(budget, self.publisher.publish(&message)).await {
            Ok(result) => result?,
            Err(_) => return Err(LogAlertError::Deadline { margin_ms }),
        };
        metrics.add("AlertsPublished", 1);
        metrics.add("PublishedBytes", message.request_bytes() as u64);
        summary["messageId"] = Value::String(message_id);
        tracing::info!(
            log_group = %summary["logGroup"].as_str().unwrap_or_default(),
            severity = %summary["severity"].as_str().unwrap_or_default(),
            events = summary["events"].as_u64(),
            distinct_lines = summary["distinctLines"].as_u64(),
            shown_lines = summary["shownLines"].as_u64(),
            omitted_events = summary["omittedEvents"].as_u64(),
            redactions = summary["redactions"].as_u64(),
            published_bytes = summary["publishedBytes"].as_u64(),
            message_id = %summary["messageId"].as_str().unwrap_or_default(),
            "published log alert"
        );
        Ok(summary)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lookout_shared::publish::MemoryPublisher;

    fn env(extra: &[(&str, &str)]) -> Env {
        let mut pairs = vec![("ALERT_TOPIC_ARN", "arn:aws:sns:us-east-1:123456789012:alerts")];
        pairs.extend_from_slice(extra);
        Env::from_pairs(pairs)
    }

    #[test]
    fn a_bad_redaction_pattern_is_an_init_error_naming_the_variable() {
        let config =
            LogAlertConfig::from_env(&env(&[("REDACT_EXTRA_PATTERNS", r#"["(unclosed"]"#)])).unwrap();
        let err = LogAlert::new(config, MemoryPublisher::default()).err().unwrap();
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
        assert!(c.redact);
    }
}
