//! The log-alert handler: decode a subscription delivery, redact, group, then deliver through
//! the shared outbox (which renders to fit SNS only what it will send). Any failure of a direct
//! delivery fails the invocation, so Lambda retries it and the on-failure destination keeps it;
//! a Kinesis batch (`batch.rs`) answers per record instead.

mod batch;

pub use batch::BatchSummary;

use crate::config::LogAlertConfig;
use crate::decode::{self, DecodeError, LogsMessage, MessageType, SubscriptionEvent};
use crate::group::{self, Grouped};
use crate::kinesis::LogAlertEvent;
use crate::render::{Account, AlertContext};
use lookout_shared::config::ConfigError;
use lookout_shared::envelope::Incoming;
use lookout_shared::ids::AccountId;
use lookout_shared::invocation::{Function, FunctionError, Invocation};
use lookout_shared::metrics::{Metric, Metrics, MetricsConfig};
use lookout_shared::notification::{Detail, FitError, SnsMessage};
use lookout_shared::outbox::{Delivered, DeliveryError, Outbox, Suppressed};
use lookout_shared::publish::Publisher;
use lookout_shared::redact::Redactor;
use lookout_shared::severity::Severity;
use lookout_shared::state::{DynamoStore, Fingerprint, IdempotencyKey, StateStore};
use serde::Serialize;

const CONTROL_MESSAGES: Metric = Metric::count("ControlMessages");
const EVENTS_DECODED: Metric = Metric::count("EventsDecoded");
const DISTINCT_LINES: Metric = Metric::count("DistinctLines");
const EVENTS_GROUPED: Metric = Metric::count("EventsGrouped");
const EVENTS_OMITTED: Metric = Metric::count("EventsOmitted");
const REDACTIONS: Metric = Metric::count("Redactions");
const INVALID_PAYLOADS: Metric = Metric::count("InvalidPayloads");
const EVENTS_BELOW_MIN_SEVERITY: Metric = Metric::count("EventsBelowMinSeverity");

/// Why a batch was not alerted on. Delivery failures are counted by the outbox
/// (`PublishFailures`), so only a payload that is not a subscription delivery is counted here.
#[derive(Debug, thiserror::Error)]
pub enum LogAlertError {
    /// The payload is not a CloudWatch Logs subscription delivery (named, never quoted).
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// Even with no detail the alert does not fit SNS ([`LogAlert::plan`]; the handler reports
    /// it as a [`DeliveryError`]).
    #[error(transparent)]
    TooLarge(#[from] FitError),
    /// Rendering, publishing or the state store's claim failed.
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
        match self {
            LogAlertError::Decode(_) => Some(INVALID_PAYLOADS),
            LogAlertError::TooLarge(_) | LogAlertError::Delivery(_) => None,
        }
    }
}

/// The invocation's answer to Lambda.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Response {
    /// A direct delivery: its summary.
    Delivery(Summary),
    /// A Kinesis batch: Lambda reads `batchItemFailures`; the log line has the rest.
    Batch(BatchSummary),
}

impl Serialize for Response {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Response::Delivery(summary) => summary.serialize(serializer),
            Response::Batch(batch) => batch.response.serialize(serializer),
        }
    }
}

/// The summary log line: all of either summary.
#[derive(Debug, Serialize)]
#[serde(untagged)]
enum LogLine<'s> {
    Delivery(&'s Summary),
    Batch(&'s BatchSummary),
}

/// `Summary::Skipped`'s reason when the window suppressed the alert.
const SUPPRESSED: &str = "suppressed";

/// What one delivery (or one alert of a Kinesis batch) came to: a direct delivery's response
/// and its summary log line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "camelCase")]
pub enum Summary {
    /// CONTROL_MESSAGE: CloudWatch checking the destination. Nothing to publish.
    #[serde(rename_all = "camelCase")]
    Acknowledged {
        /// Always `CONTROL_MESSAGE`.
        message_type: &'static str,
    },
    /// A batch from this function's own log group, or an empty batch.
    #[serde(rename_all = "camelCase")]
    Ignored {
        /// Why, in words.
        reason: &'static str,
        /// The batch's log group.
        log_group: String,
    },
    /// Published now.
    Published(Alert),
    /// No line reached `MIN_SEVERITY`: nothing published.
    #[serde(rename_all = "camelCase")]
    BelowMinSeverity {
        /// Why, in words.
        reason: &'static str,
        /// The batch's log group.
        log_group: String,
        /// `MIN_SEVERITY`.
        min_severity: Severity,
        /// The most severe line of the batch.
        highest_severity: Severity,
        /// Events in the batch, all below `MIN_SEVERITY`.
        events: u64,
    },
    /// The state store said this batch was already delivered (or is suppressed).
    #[serde(rename_all = "camelCase")]
    Skipped {
        /// "already delivered", "suppressed", ... (the outbox's words).
        reason: &'static str,
        /// The batch's figures (nothing shown or published).
        #[serde(flatten)]
        alert: Alert,
    },
}

/// The figures of one alert.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Alert {
    /// The batch's log group.
    pub log_group: String,
    /// Its most severe line.
    pub severity: Severity,
    /// Events at or above `MIN_SEVERITY`.
    pub events: u64,
    /// Every event of the batch, those below `MIN_SEVERITY` included.
    pub total_events: u64,
    /// Distinct lines they group into (new ones: known groups are counted apart).
    pub distinct_lines: usize,
    /// Distinct lines the message shows.
    pub shown_lines: usize,
    /// Events of the distinct lines left out to fit SNS.
    pub omitted_events: u64,
    /// Secrets redacted.
    pub redactions: u64,
    /// Events rated below `MIN_SEVERITY`, counted and not shown.
    pub below_min_severity: u64,
    /// The Publish request's size.
    pub published_bytes: usize,
    /// SNS's MessageId, once published.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
}

/// Where an alert's events came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Origin {
    /// One subscription delivery.
    Direct,
    /// Records of an organisation's Kinesis stream, from this many log streams.
    Stream { streams: usize },
}

/// What `prepare` decided, before any network call.
#[derive(Debug)]
pub enum Prepared {
    /// Nothing to publish: the summary says why.
    Done(Summary),
    /// This message would be published.
    Publish {
        /// The message, fitted to SNS.
        message: SnsMessage,
        /// Its figures.
        alert: Alert,
    },
}

/// A batch's lines classified and grouped, or why there is nothing to alert on.
enum Classified<'e> {
    Done(Summary),
    Groups(Grouped<'e>),
}

/// A rendered batch's figures: its summary, and what its metrics count besides.
struct Rendered {
    alert: Alert,
    grouped_away: u64,
}

impl Rendered {
    fn count(&self, metrics: &mut Metrics) {
        metrics.add_len(DISTINCT_LINES, self.alert.distinct_lines);
        metrics.add(EVENTS_GROUPED, self.grouped_away);
        metrics.add(EVENTS_OMITTED, self.alert.omitted_events);
        metrics.add(REDACTIONS, self.alert.redactions);
    }
}

/// Groups the suppression window decides on, most severe first: each is one or two small
/// DynamoDB writes, made together. Groups past these are always shown (as new).
const MAX_SUPPRESSION_GROUPS: usize = 16;

/// The function: its configuration, compiled redaction rules and the outbox it delivers through.
#[derive(Debug)]
pub struct LogAlert<P, S = DynamoStore> {
    config: LogAlertConfig,
    redactor: Redactor,
    outbox: Outbox<P, S>,
}

impl<P> LogAlert<P> {
    /// Compiles the redaction rules (a bad `REDACT_EXTRA_PATTERNS` fails here, at init).
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
    pub fn prepare(
        &self,
        event: &Incoming<SubscriptionEvent>,
        metrics: &mut Metrics,
    ) -> Result<Prepared, LogAlertError> {
        let mut json = Vec::new();
        // Any JSON types as a SubscriptionEvent; this is only in case it ever does not.
        let delivery = event.event().map_err(|_| DecodeError::MissingData)?;
        let message = self.decode(delivery, &mut json)?;
        self.plan(&message, metrics)
    }

    /// `awslogs.data` → gzip → JSON, bounded (`decode.rs`), parsed borrowing from `json`.
    fn decode<'j>(
        &self,
        delivery: &SubscriptionEvent,
        json: &'j mut Vec<u8>,
    ) -> Result<LogsMessage<'j>, LogAlertError> {
        decode::decompress(delivery.data()?, self.config.max_decompressed_bytes, json)?;
        Ok(decode::parse(json)?)
    }

    /// A decoded batch to what to publish: redact, classify and group its lines, then render
    /// them with as much detail as fits SNS (every group shown as new).
    pub fn plan(&self, message: &LogsMessage<'_>, metrics: &mut Metrics) -> Result<Prepared, LogAlertError> {
        match self.classify(message, metrics) {
            Classified::Done(summary) => Ok(Prepared::Done(summary)),
            Classified::Groups(grouped) => {
                let (message, rendered) = self.render(message, Origin::Direct, &grouped, None)?;
                rendered.count(metrics);
                Ok(Prepared::Publish {
                    message,
                    alert: rendered.alert,
                })
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

    /// Renders `grouped` to fit SNS, stating the repeats suppressed before it.
    fn render(
        &self,
        message: &LogsMessage<'_>,
        origin: Origin,
        grouped: &Grouped<'_>,
        suppressed: Option<&Suppressed>,
    ) -> Result<(SnsMessage, Rendered), FitError> {
        let names = &self.config.account_names;
        let context = AlertContext {
            message,
            grouped,
            region: &self.config.region,
            suppressed,
            account: Account {
                name: AccountId::parse(&message.owner).and_then(|a| names.name(&a)),
                in_subject: origin != Origin::Direct || !names.is_empty(),
            },
            streams: match origin {
                Origin::Direct => 1,
                Origin::Stream { streams } => streams,
            },
        };
        let max = Detail::new(self.config.max_lines, self.config.max_line_bytes);
        let (sns, detail) = self.config.delivery.fit(max, |d| context.render(d))?;
        let mut alert = figures(message, grouped);
        alert.shown_lines = detail.items.min(grouped.groups.len());
        alert.omitted_events = grouped.groups.iter().skip(detail.items).map(|g| g.count).sum();
        alert.published_bytes = sns.request_bytes();
        let grouped_away = grouped.grouped_away();
        Ok((sns, Rendered { alert, grouped_away }))
    }
}

/// The figures of a batch before it is rendered (nothing shown or published yet).
fn figures(message: &LogsMessage<'_>, grouped: &Grouped<'_>) -> Alert {
    Alert {
        log_group: message.log_group.to_string(),
        severity: grouped.severity(),
        events: grouped.events,
        total_events: grouped.total_events(),
        distinct_lines: grouped.groups.len(),
        shown_lines: 0,
        omitted_events: 0,
        redactions: grouped.redactions,
        below_min_severity: grouped.below_min,
        published_bytes: 0,
        message_id: None,
    }
}

impl<P: Publisher, S: StateStore> LogAlert<P, S> {
    /// One alert: classify and group `message`'s lines, then deliver them under `key` (one
    /// suppression window per group): the groups already alerted are set aside as counts, the
    /// rest rendered, new first.
    async fn alert(
        &self,
        message: &LogsMessage<'_>,
        origin: Origin,
        key: IdempotencyKey,
        ctx: &mut Invocation,
    ) -> Result<Summary, LogAlertError> {
        let mut grouped = match self.classify(message, &mut ctx.metrics) {
            Classified::Done(summary) => return Ok(summary),
            Classified::Groups(grouped) => grouped,
        };
        let fingerprints = group::fingerprints(
            &message.owner,
            &message.log_group,
            &grouped,
            MAX_SUPPRESSION_GROUPS,
        );
        let alerts: Vec<(&Fingerprint, u8)> = fingerprints
            .iter()
            .zip(&grouped.groups)
            .map(|(fingerprint, g)| (fingerprint, g.severity as u8))
            .collect();
        let lines = &mut grouped;
        let delivered = self
            .outbox
            .deliver(ctx, key, &alerts, |facts| async move {
                lines.set_aside_known(|i| facts.known(i));
                self.render(message, origin, lines, facts.repeats())
            })
            .await?;
        Ok(match delivered {
            Delivered::Published {
                message_id, rendered, ..
            } => {
                // Counted here, not while rendering: the outbox holds `ctx` until it returns.
                rendered.count(&mut ctx.metrics);
                Summary::Published(Alert {
                    message_id: Some(message_id),
                    ..rendered.alert
                })
            }
            Delivered::AlreadyDelivered { reason } => Summary::Skipped {
                reason,
                alert: figures(message, &grouped),
            },
            Delivered::Suppressed => Summary::Skipped {
                reason: SUPPRESSED,
                alert: figures(message, &grouped),
            },
        })
    }
}

impl<P: Publisher, S: StateStore> Function for LogAlert<P, S> {
    type Event = Incoming<LogAlertEvent>;
    type Summary = Response;
    type Error = LogAlertError;
    const NAME: &'static str = "log-alert";

    fn metrics_config(&self) -> &MetricsConfig {
        &self.config.metrics
    }

    /// A direct delivery is one alert (idempotency key: the payload's hash); a Kinesis batch is
    /// one alert per account and log group, and a response naming where Lambda resumes.
    async fn handle(
        &self,
        event: Incoming<LogAlertEvent>,
        ctx: &mut Invocation,
    ) -> Result<Response, LogAlertError> {
        // Anything but a JSON object: as a direct event without `awslogs.data`.
        let delivery = match event.event().map_err(|_| DecodeError::MissingData)? {
            LogAlertEvent::Kinesis(records) => return Ok(Response::Batch(self.batch(records, ctx).await)),
            LogAlertEvent::Direct(delivery) => delivery,
        };
        let mut json = Vec::new();
        let message = self.decode(delivery, &mut json)?;
        let key = IdempotencyKey::from_event(Self::NAME, event.document());
        let summary = self.alert(&message, Origin::Direct, key, ctx).await?;
        Ok(Response::Delivery(summary))
    }

    fn log_line<'s>(&self, response: &'s Response) -> impl Serialize + 's {
        match response {
            Response::Delivery(summary) => LogLine::Delivery(summary),
            Response::Batch(batch) => LogLine::Batch(batch),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::tests::encode;
    use lookout_shared::config::Env;
    use serde_json::{Value, json};

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

    fn event<T: serde::de::DeserializeOwned>(group: &str, events: &str) -> Incoming<T> {
        let data = format!(
            r#"{{"messageType":"DATA_MESSAGE","owner":"123456789012","logGroup":"{group}","logStream":"s","subscriptionFilters":["f"],"logEvents":[{events}]}}"#
        );
        Incoming::from_document(json!({"awslogs": {"data": encode(&data)}}))
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
        // Issue 22 §5: both numbers, the batch's total too.
        assert_eq!(message.subject, "[ERROR] 2 of 3 events in /ecs/web");
        assert_eq!(alert.total_events, 3);
        let summary = serde_json::to_value(Summary::Published(alert)).unwrap();
        assert_eq!(
            (
                &summary["events"],
                &summary["totalEvents"],
                &summary["belowMinSeverity"]
            ),
            (&json!(2), &json!(3), &json!(1))
        );
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
            .prepare(
                &Incoming::from_document(json!({"awslogs": {"data": encode(control)}})),
                &mut metrics,
            )
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

    /// One event of `events` per line, ids from `first_id`, one second apart.
    fn lines(first_id: u32, lines: &[&str]) -> String {
        let events: Vec<String> = (first_id..)
            .zip(lines)
            .map(|(id, line)| {
                format!(
                    r#"{{"id":"{id}","timestamp":{},"message":"{line}"}}"#,
                    1_714_557_600_000i64 + i64::from(id) * 1000
                )
            })
            .collect();
        events.join(",")
    }

    fn emf(ctx: &Invocation) -> Value {
        let config = MetricsConfig::from_env(&Env::default(), "log-alert").unwrap();
        ctx.metrics.to_emf(&config, 0).unwrap()
    }

    #[tokio::test]
    async fn known_groups_are_set_aside_as_counts_and_a_batch_of_only_known_ones_is_suppressed() {
        use lookout_shared::deadline::Deadline;
        use lookout_shared::publish::MemoryPublisher;
        use lookout_shared::state::{MemoryStore, SystemClock};
        use std::time::Duration;

        let config = LogAlertConfig::from_env(&Env::from_pairs([
            ("ALERT_TOPIC_ARN", "arn:aws:sns:eu-west-1:123456789012:alerts"),
            ("MESSAGE_FORMAT", "text"),
        ]))
        .unwrap();
        let store = MemoryStore::new(Duration::from_secs(86_400), SystemClock);
        let alert = LogAlert::new(config, MemoryPublisher::default())
            .unwrap()
            .with_state(Some(store), Duration::from_secs(900));
        let ctx = || Invocation::new(Deadline::after(Duration::from_secs(60)), "r");
        let handle = |event| async {
            let mut ctx = ctx();
            let summary = alert.handle(event, &mut ctx).await.unwrap();
            (serde_json::to_value(summary).unwrap(), emf(&ctx))
        };

        let (first, _) = handle(event("/ecs/web", &lines(1, &["ERROR db down"]))).await;
        assert_eq!(
            (&first["status"], &first["messageId"]),
            (&json!("published"), &json!("memory-1"))
        );

        // The known line is counted, not shown; the new one is the alert.
        let (second, metrics) = handle(event(
            "/ecs/web",
            &lines(2, &["ERROR db down", "ERROR cache gone"]),
        ))
        .await;
        assert_eq!(second["status"], "published");
        assert_eq!(
            (&second["events"], &second["distinctLines"], &second["shownLines"]),
            (&json!(2), &json!(1), &json!(1))
        );
        // Counted once the alert is out: one distinct new line.
        assert_eq!(metrics["DistinctLines"], 1);
        assert_eq!(metrics["AlertsPublished"], 1);
        let sent = alert.outbox.publisher().messages();
        let text = &sent[1].message;
        assert!(
            text.contains("ERROR cache gone") && !text.contains("db down"),
            "{text}"
        );
        assert!(
            text.contains(
                "Known:         1 distinct line (1 event) already alerted inside SUPPRESS_WINDOW_MINUTES"
            ),
            "{text}"
        );

        // Only known lines: nothing sent, the batch's figures reported.
        let repeat = event("/ecs/web", &lines(4, &["ERROR db down", "ERROR cache gone"]));
        let (third, metrics) = handle(repeat.clone()).await;
        assert_eq!(
            third,
            json!({"status": "skipped", "reason": "suppressed", "logGroup": "/ecs/web", "severity": "ERROR",
                   "events": 2, "totalEvents": 2, "distinctLines": 2, "shownLines": 0, "omittedEvents": 0, "redactions": 0,
                   "belowMinSeverity": 0, "publishedBytes": 0})
        );
        assert_eq!(metrics.get("DistinctLines"), None, "nothing rendered: {metrics}");
        // The same delivery again: the outbox's own reason.
        let (again, _) = handle(repeat).await;
        assert_eq!(again["reason"], "suppressed by an earlier attempt");
        assert_eq!(alert.outbox.publisher().messages().len(), 2);
    }

    #[test]
    fn only_an_invalid_payload_is_counted_by_the_function() {
        let decode = LogAlertError::Decode(DecodeError::MissingData);
        assert_eq!(decode.metric(), Some(INVALID_PAYLOADS));
        // Delivery failures are the outbox's to count (PublishFailures), once.
        let too_large = LogAlertError::Delivery(DeliveryError::TooLarge(FitError {
            bytes: 300_000,
            limit: 262_144,
        }));
        assert_eq!((too_large.kind(), too_large.metric()), ("MessageTooLarge", None));
    }
}
