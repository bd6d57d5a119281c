//! The log-alert handler: decode a subscription delivery, redact, group, render to fit SNS,
//! publish once. Any failure fails the invocation, so Lambda retries it and the on-failure
//! destination keeps it.

use crate::config::LogAlertConfig;
use crate::decode::{self, DecodeError, LogsMessage, MessageType};
use crate::group;
use crate::render::AlertContext;
use lookout_shared::config::ConfigError;
use lookout_shared::invocation::{
    Admission, DeliveryError, Function, FunctionError, Invocation, Outbox, Permit,
};
use lookout_shared::metrics::{Metric, Metrics, MetricsConfig};
use lookout_shared::notification::{Detail, FitError, SnsMessage};
use lookout_shared::publish::Publisher;
use lookout_shared::redact::Redactor;
use lookout_shared::severity::Severity;
use lookout_shared::state::{DynamoStore, Fingerprint, IdempotencyKey, StateStore};
use serde::Serialize;
use serde_json::Value;

const CONTROL_MESSAGES: Metric = Metric::count("ControlMessages");
const EVENTS_DECODED: Metric = Metric::count("EventsDecoded");
const DISTINCT_LINES: Metric = Metric::count("DistinctLines");
const EVENTS_GROUPED: Metric = Metric::count("EventsGrouped");
const EVENTS_OMITTED: Metric = Metric::count("EventsOmitted");
const REDACTIONS: Metric = Metric::count("Redactions");
const INVALID_PAYLOADS: Metric = Metric::count("InvalidPayloads");
const PUBLISH_FAILURES: Metric = Metric::count("PublishFailures");
const EVENTS_BELOW_MIN_SEVERITY: Metric = Metric::count("EventsBelowMinSeverity");

#[derive(Debug, thiserror::Error)]
pub enum LogAlertError {
    #[error(transparent)]
    Decode(#[from] DecodeError),
    #[error(transparent)]
    TooLarge(#[from] FitError),
    #[error(transparent)]
    Delivery(#[from] DeliveryError),
}

impl FunctionError for LogAlertError {
    fn kind(&self) -> &'static str {
        match self {
            LogAlertError::Decode(e) => e.kind(),
            LogAlertError::TooLarge(_) => "MessageTooLarge",
            LogAlertError::Delivery(e) => e.kind(),
        }
    }

    fn metric(&self) -> Option<Metric> {
        Some(match self {
            LogAlertError::Decode(_) => INVALID_PAYLOADS,
            _ => PUBLISH_FAILURES,
        })
    }
}

/// What one batch came to: the invocation's response and its summary log line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "camelCase")]
pub enum Summary {
    /// CONTROL_MESSAGE: CloudWatch checking the destination. Nothing to publish.
    #[serde(rename_all = "camelCase")]
    Acknowledged {
        message_type: &'static str,
    },
    /// A batch from this function's own log group, or an empty batch.
    #[serde(rename_all = "camelCase")]
    Ignored {
        reason: &'static str,
        log_group: String,
    },
    Published(Alert),
    /// No line reached `MIN_SEVERITY`: nothing published.
    #[serde(rename_all = "camelCase")]
    BelowMinSeverity {
        reason: &'static str,
        log_group: String,
        min_severity: Severity,
        highest_severity: Severity,
        events: u64,
    },
    /// The state store said this batch was already delivered (or is suppressed).
    #[serde(rename_all = "camelCase")]
    Skipped {
        reason: &'static str,
        #[serde(flatten)]
        alert: Alert,
    },
}

/// The figures of one alert.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Alert {
    pub log_group: String,
    pub severity: Severity,
    pub events: u64,
    pub distinct_lines: usize,
    pub shown_lines: usize,
    pub omitted_events: u64,
    pub redactions: u64,
    /// Events rated below `MIN_SEVERITY`, counted and not shown.
    pub below_min_severity: u64,
    pub published_bytes: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
}

/// What `prepare` decided, before any network call.
#[derive(Debug)]
pub enum Prepared {
    /// Nothing to publish: the summary says why.
    Done(Summary),
    Publish {
        message: SnsMessage,
        alert: Alert,
        /// Log group and the most severe line, normalised as grouping does: repeats of this
        /// alert in later batches share it (the suppression window's key).
        fingerprint: Fingerprint,
    },
}

#[derive(Debug)]
pub struct LogAlert<P, S = DynamoStore> {
    config: LogAlertConfig,
    redactor: Redactor,
    outbox: Outbox<P, S>,
}

impl<P> LogAlert<P> {
    pub fn new(config: LogAlertConfig, publisher: P) -> Result<Self, ConfigError> {
        Ok(Self {
            redactor: config.redactor()?,
            outbox: Outbox::new(publisher, config.deadline_margin),
            config,
        })
    }
}

impl<P, S> LogAlert<P, S> {
    /// Uses the state store (None when `STATE_TABLE` is unset) with this suppression window.
    pub fn with_state<S2: StateStore>(
        self,
        store: Option<S2>,
        window: std::time::Duration,
    ) -> LogAlert<P, S2> {
        LogAlert {
            config: self.config,
            redactor: self.redactor,
            outbox: self.outbox.with_state(store, window),
        }
    }

    /// Decodes, then [`plan`](Self::plan)s: synchronously and without I/O.
    pub fn prepare(&self, event: &Value, metrics: &mut Metrics) -> Result<Prepared, LogAlertError> {
        self.prepare_noted(event, metrics, None)
    }

    fn prepare_noted(
        &self,
        event: &Value,
        metrics: &mut Metrics,
        permit: Option<&Permit>,
    ) -> Result<Prepared, LogAlertError> {
        let data = decode::awslogs_data(event)?;
        let mut json = Vec::new();
        decode::decompress(data, self.config.max_decompressed_bytes, &mut json)?;
        let message = decode::parse(&json)?;
        self.plan_noted(&message, metrics, permit)
    }

    /// A decoded batch to what to publish: redact, classify and group its lines, then render
    /// them with as much detail as fits SNS.
    pub fn plan(&self, message: &LogsMessage<'_>, metrics: &mut Metrics) -> Result<Prepared, LogAlertError> {
        self.plan_noted(message, metrics, None)
    }

    /// [`plan`](Self::plan), stating the repeats suppressed before this alert (`permit`).
    fn plan_noted(
        &self,
        message: &LogsMessage<'_>,
        metrics: &mut Metrics,
        permit: Option<&Permit>,
    ) -> Result<Prepared, LogAlertError> {
        if message.message_type == MessageType::Control {
            metrics.add(CONTROL_MESSAGES, 1);
            return Ok(Prepared::Done(Summary::Acknowledged {
                message_type: "CONTROL_MESSAGE",
            }));
        }
        metrics.add_len(EVENTS_DECODED, message.log_events.len());
        let ignored = |reason| {
            Ok(Prepared::Done(Summary::Ignored {
                reason,
                log_group: message.log_group.to_string(),
            }))
        };
        if self.config.own_log_group.as_deref() == Some(message.log_group.as_ref()) {
            return ignored("events from this function's own log group would alert in a loop");
        }
        if message.log_events.is_empty() {
            return ignored("no log events");
        }
        let grouped =
            group::redact_classify_group(&message.log_events, &self.redactor, self.config.min_severity);
        metrics.add(EVENTS_BELOW_MIN_SEVERITY, grouped.below_min);
        if grouped.events == 0 {
            return Ok(Prepared::Done(Summary::BelowMinSeverity {
                reason: "no line is at or above MIN_SEVERITY",
                log_group: message.log_group.to_string(),
                min_severity: self.config.min_severity,
                highest_severity: grouped.below_min_severity,
                events: grouped.below_min,
            }));
        }
        let context = AlertContext {
            message,
            grouped: &grouped,
            region: &self.config.region,
        };
        let max = Detail::new(self.config.max_lines, self.config.max_line_bytes);
        let (sns, detail) = self.config.delivery.fit(max, |d| match permit {
            Some(p) => p.note(context.render(d)),
            None => context.render(d),
        })?;
        let omitted_events: u64 = grouped.groups.iter().skip(detail.items).map(|g| g.count).sum();
        metrics.add_len(DISTINCT_LINES, grouped.groups.len());
        metrics.add(EVENTS_GROUPED, grouped.grouped_away());
        metrics.add(EVENTS_OMITTED, omitted_events);
        metrics.add(REDACTIONS, grouped.redactions);
        let alert = Alert {
            log_group: message.log_group.to_string(),
            severity: grouped.severity(),
            events: grouped.events,
            distinct_lines: grouped.groups.len(),
            shown_lines: detail.items.min(grouped.groups.len()),
            omitted_events,
            redactions: grouped.redactions,
            below_min_severity: grouped.below_min,
            published_bytes: sns.request_bytes(),
            message_id: None,
        };
        let fingerprint = group::fingerprint(&message.log_group, &grouped);
        Ok(Prepared::Publish {
            message: sns,
            alert,
            fingerprint,
        })
    }
}

impl<P: Publisher, S: StateStore> Function for LogAlert<P, S> {
    type Event = Value;
    type Summary = Summary;
    type Error = LogAlertError;
    const NAME: &'static str = "log-alert";

    fn metrics_config(&self) -> &MetricsConfig {
        &self.config.metrics
    }

    /// Prepare, admit (idempotency key: the payload's hash), then publish within the
    /// deadline margin.
    async fn handle(&self, event: Value, ctx: &mut Invocation) -> Result<Summary, LogAlertError> {
        let (mut message, mut alert, fingerprint) = match self.prepare(&event, &mut ctx.metrics)? {
            Prepared::Done(summary) => return Ok(summary),
            Prepared::Publish {
                message,
                alert,
                fingerprint,
            } => (message, alert, fingerprint),
        };
        let key = IdempotencyKey::from_event(Self::NAME, &event);
        let rank = alert.severity as u8;
        let permit = match self.outbox.admit(ctx, key, Some((&fingerprint, rank))).await? {
            Admission::Publish(permit) => permit,
            Admission::Skip { reason } => return Ok(Summary::Skipped { reason, alert }),
        };
        if permit.suppressed().is_some() {
            // Rare (the first alert after a window of repeats): render again with the count.
            let mut scratch = Metrics::default();
            if let Prepared::Publish { message: noted, .. } =
                self.prepare_noted(&event, &mut scratch, Some(&permit))?
            {
                alert.published_bytes = noted.request_bytes();
                message = noted;
            }
        }
        let message_id = self.outbox.publish(ctx, permit, &message).await?;
        ctx.metrics.alert_published(message.request_bytes());
        alert.message_id = Some(message_id);
        Ok(Summary::Published(alert))
    }

    fn log_line<'s>(&self, summary: &'s Summary) -> impl Serialize + 's {
        summary
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::tests::encode;
    use lookout_shared::config::Env;
    use serde_json::json;

    fn log_alert(extra: &[(&str, &str)]) -> LogAlert<()> {
        let mut pairs = vec![
            ("ALERT_TOPIC_ARN", "arn:aws:sns:eu-west-1:123456789012:alerts"),
            ("AWS_REGION", "eu-west-1"),
            ("MESSAGE_FORMAT", "text"),
        ];
        pairs.extend_from_slice(extra);
        let config = LogAlertConfig::from_env(&Env::from_pairs(pairs)).unwrap();
        LogAlert::new(config, ()).unwrap()
    }

    fn event(group: &str, events: &str) -> Value {
        let data = format!(
            r#"{{"messageType":"DATA_MESSAGE","owner":"123456789012","logGroup":"{group}","logStream":"s","subscriptionFilters":["f"],"logEvents":[{events}]}}"#
        );
        json!({"awslogs": {"data": encode(&data)}})
    }

    #[test]
    fn prepare_groups_redacts_and_renders_without_io() {
        let events = r#"{"id":"1","timestamp":1714557600000,"message":"ERROR job 17 failed password=hunter2"},
            {"id":"2","timestamp":1714557601000,"message":"ERROR job 18 failed password=hunter3"},
            {"id":"3","timestamp":1714557602000,"message":"WARN disk at 91%"}"#;
        let mut metrics = Metrics::default();
        let prepared = log_alert(&[])
            .prepare(&event("/ecs/web", events), &mut metrics)
            .unwrap();
        let Prepared::Publish { message, alert, .. } = prepared else {
            panic!("three events are published: {prepared:?}");
        };
        assert_eq!(alert.log_group, "/ecs/web");
        assert_eq!(alert.severity, Severity::Error);
        // MIN_SEVERITY defaults to ERROR: the WARN line is counted, not shown.
        assert_eq!((alert.events, alert.distinct_lines, alert.shown_lines), (2, 1, 1));
        assert_eq!(alert.below_min_severity, 1);
        assert_eq!((alert.omitted_events, alert.redactions), (0, 2));
        assert_eq!(alert.published_bytes, message.request_bytes());
        assert!(!message.message.contains("hunter"), "{}", message.message);
        assert!(message.subject.starts_with("[ERROR]"), "{}", message.subject);
    }

    #[test]
    fn prepare_publishes_nothing_for_control_own_and_empty_batches() {
        let control = r#"{"messageType":"CONTROL_MESSAGE","owner":"CloudwatchLogs","logGroup":"","logStream":"","subscriptionFilters":[],"logEvents":[]}"#;
        let alert = log_alert(&[("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/log-alert")]);
        let mut metrics = Metrics::default();
        let done = |p: Prepared| match p {
            Prepared::Done(summary) => serde_json::to_value(summary).unwrap(),
            other => panic!("nothing to publish: {other:?}"),
        };
        let ack = alert
            .prepare(&json!({"awslogs": {"data": encode(control)}}), &mut metrics)
            .unwrap();
        assert_eq!(
            done(ack),
            json!({"status": "acknowledged", "messageType": "CONTROL_MESSAGE"})
        );
        let own = event(
            "/aws/lambda/log-alert",
            r#"{"id":"1","timestamp":1,"message":"ERROR x"}"#,
        );
        assert_eq!(
            done(alert.prepare(&own, &mut metrics).unwrap())["reason"],
            "events from this function's own log group would alert in a loop"
        );
        let empty = alert.prepare(&event("/ecs/web", ""), &mut metrics).unwrap();
        assert_eq!(
            done(empty),
            json!({"status": "ignored", "reason": "no log events", "logGroup": "/ecs/web"})
        );
    }
}
