//! The log-alert handler: decode a subscription delivery, redact, group, render to fit SNS,
//! publish once. Any failure fails the invocation, so Lambda retries it and the on-failure
//! destination keeps it.

use crate::config::LogAlertConfig;
use crate::decode::{self, DecodeError, LogsMessage, MessageType};
use crate::group::{self, Grouped};
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
    },
}

/// A batch's lines classified and grouped, or why there is nothing to alert on.
enum Classified<'e> {
    Done(Summary),
    Groups(Grouped<'e>),
}

/// Groups the suppression window decides on, most severe first: each is one or two small
/// DynamoDB writes, made together. Groups past these are always shown (as new).
const MAX_SUPPRESSION_GROUPS: usize = 16;

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
        let mut json = Vec::new();
        let message = self.decode(event, &mut json)?;
        self.plan(&message, metrics)
    }

    /// `awslogs.data` → gzip → JSON, bounded (`decode.rs`), parsed borrowing from `json`.
    fn decode<'j>(&self, event: &Value, json: &'j mut Vec<u8>) -> Result<LogsMessage<'j>, LogAlertError> {
        let data = decode::awslogs_data(event)?;
        decode::decompress(data, self.config.max_decompressed_bytes, json)?;
        Ok(decode::parse(json)?)
    }

    /// A decoded batch to what to publish: redact, classify and group its lines, then render
    /// them with as much detail as fits SNS (every group shown as new).
    pub fn plan(&self, message: &LogsMessage<'_>, metrics: &mut Metrics) -> Result<Prepared, LogAlertError> {
        match self.classify(message, metrics) {
            Classified::Done(summary) => Ok(Prepared::Done(summary)),
            Classified::Groups(grouped) => {
                let (message, alert) = self.render(message, &grouped, metrics, None)?;
                Ok(Prepared::Publish { message, alert })
            }
        }
    }

    fn classify<'e>(&self, message: &'e LogsMessage<'_>, metrics: &mut Metrics) -> Classified<'e> {
        if message.message_type == MessageType::Control {
            metrics.add(CONTROL_MESSAGES, 1);
            return Classified::Done(Summary::Acknowledged {
                message_type: "CONTROL_MESSAGE",
            });
        }
        metrics.add_len(EVENTS_DECODED, message.log_events.len());
        let ignored = |reason| {
            Classified::Done(Summary::Ignored {
                reason,
                log_group: message.log_group.to_string(),
            })
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
            return Classified::Done(Summary::BelowMinSeverity {
                reason: "no line is at or above MIN_SEVERITY",
                log_group: message.log_group.to_string(),
                min_severity: self.config.min_severity,
                highest_severity: grouped.below_min_severity,
                events: grouped.below_min,
            });
        }
        Classified::Groups(grouped)
    }

    /// Renders `grouped` to fit SNS, stating the repeats suppressed before it (`permit`).
    fn render(
        &self,
        message: &LogsMessage<'_>,
        grouped: &Grouped<'_>,
        metrics: &mut Metrics,
        permit: Option<&Permit>,
    ) -> Result<(SnsMessage, Alert), LogAlertError> {
        let context = AlertContext {
            message,
            grouped,
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
        let mut alert = figures(message, grouped);
        alert.shown_lines = detail.items.min(grouped.groups.len());
        alert.omitted_events = omitted_events;
        alert.published_bytes = sns.request_bytes();
        Ok((sns, alert))
    }
}

/// The figures of a batch before it is rendered (nothing shown or published yet).
fn figures(message: &LogsMessage<'_>, grouped: &Grouped<'_>) -> Alert {
    Alert {
        log_group: message.log_group.to_string(),
        severity: grouped.severity(),
        events: grouped.events,
        distinct_lines: grouped.groups.len(),
        shown_lines: 0,
        omitted_events: 0,
        redactions: grouped.redactions,
        below_min_severity: grouped.below_min,
        published_bytes: 0,
        message_id: None,
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

    /// Decode and group, admit (idempotency key: the payload's hash; one suppression window
    /// per group), render what is new first, then publish within the deadline margin.
    async fn handle(&self, event: Value, ctx: &mut Invocation) -> Result<Summary, LogAlertError> {
        let mut json = Vec::new();
        let message = self.decode(&event, &mut json)?;
        let mut grouped = match self.classify(&message, &mut ctx.metrics) {
            Classified::Done(summary) => return Ok(summary),
            Classified::Groups(grouped) => grouped,
        };
        let fingerprints = group::fingerprints(&message.log_group, &grouped, MAX_SUPPRESSION_GROUPS);
        let alerts: Vec<(&Fingerprint, u8)> = fingerprints
            .iter()
            .zip(&grouped.groups)
            .map(|(fingerprint, g)| (fingerprint, g.severity as u8))
            .collect();
        let key = IdempotencyKey::from_event(Self::NAME, &event);
        let permit = match self.outbox.admit(ctx, key, &alerts).await? {
            Admission::Publish(permit) => permit,
            Admission::Skip { reason } => {
                return Ok(Summary::Skipped {
                    reason,
                    alert: figures(&message, &grouped),
                });
            }
        };
        grouped.set_aside_known(|i| permit.known(i));
        let (sns, mut alert) = self.render(&message, &grouped, &mut ctx.metrics, Some(&permit))?;
        let message_id = self.outbox.publish(ctx, permit, &sns).await?;
        ctx.metrics.alert_published(sns.request_bytes());
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
