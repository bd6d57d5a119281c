//! Publishing to SNS behind a narrow trait, so handlers are tested without a network.
//!
//! One publish must never be delivered twice by our own retries: an attempt that timed out or
//! lost its connection may have been delivered, so it is never retried within the invocation
//! ([`PublishError::Unconfirmed`]); only clean refusals (throttling, 502/503/504) are, while the
//! budget allows. Each attempt gets the whole remaining budget (the time to the deadline margin,
//! at most `AWS_OPERATION_TIMEOUT_MS`), not the SDK's per-attempt timeout.

use crate::aws::{describe_sdk_error, error_code};
use crate::config::TopicArn;
use crate::notification::{AttributeValue, SnsMessage};
use aws_sdk_sns::types::MessageAttributeValue;
use std::future::Future;
use std::time::{Duration, Instant};

/// Why a publish failed; which variant decides whether a retry may deliver twice.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PublishError {
    /// SNS answered with an error after the SDK's retries.
    #[error("SNS Publish to {topic} failed: {detail}")]
    Failed {
        /// The topic ARN.
        topic: String,
        /// SNS's error code (`Throttling`), when it sent one.
        code: Option<String>,
        /// What went wrong, as [`describe_sdk_error`] says it.
        detail: String,
    },
    /// The request could not be built (bad attribute, for instance): a bug, not an outage.
    #[error("SNS Publish request is invalid: {0}")]
    Invalid(String),
    /// Sent, but no answer came (timeout, dropped connection): SNS may have delivered it, so
    /// it was not retried.
    #[error(
        "SNS Publish to {topic} was not confirmed ({detail}); it may have been delivered, so it was not retried"
    )]
    Unconfirmed {
        /// The topic ARN.
        topic: String,
        /// How the attempt ended (`timed out`, `connection failed`).
        detail: String,
    },
}

impl PublishError {
    /// A refusal SNS gave before accepting the message: retrying cannot deliver it twice.
    fn is_clean_refusal(&self) -> bool {
        let PublishError::Failed { code, detail, .. } = self else {
            return false;
        };
        let throttled = code.as_deref().is_some_and(|c| {
            matches!(
                c,
                "Throttling"
                    | "ThrottlingException"
                    | "ThrottledException"
                    | "RequestLimitExceeded"
                    | "TooManyRequestsException"
                    | "KMSThrottlingException"
                    | "ServiceUnavailable"
            )
        });
        throttled
            || ["HTTP 502 ", "HTTP 503 ", "HTTP 504 "]
                .iter()
                .any(|s| detail.starts_with(s))
    }
}

/// Where notifications go: SNS in production, memory in tests, so handlers are tested
/// without a network.
pub trait Publisher: Send + Sync {
    /// Publishes one message and returns its SNS message id.
    fn publish(&self, message: &SnsMessage) -> impl Future<Output = Result<String, PublishError>> + Send;

    /// Publishes within `budget`, giving each attempt all of the time left. The [`Outbox`]
    /// calls this with the time to the deadline margin. Default: [`Publisher::publish`].
    ///
    /// [`Outbox`]: crate::invocation::Outbox
    fn publish_within(
        &self,
        message: &SnsMessage,
        budget: Duration,
    ) -> impl Future<Output = Result<String, PublishError>> + Send {
        let _ = budget;
        self.publish(message)
    }
}

/// The real thing: `sns:Publish` to one topic.
#[derive(Debug, Clone)]
pub struct SnsPublisher {
    client: aws_sdk_sns::Client,
    topic: TopicArn,
}

impl SnsPublisher {
    /// Publishes to `topic` with `client` (its region is the topic's, see `attempt`).
    pub fn new(client: aws_sdk_sns::Client, topic: TopicArn) -> Self {
        Self { client, topic }
    }
}

impl SnsPublisher {
    /// One attempt, with no SDK retry, timing out after `timeout`, in the topic's own region
    /// (a topic in another region than the function's is still reached).
    async fn attempt(&self, message: &SnsMessage, timeout: Duration) -> Result<String, PublishError> {
        let config = self.client.config();
        let mut timeouts = aws_config::timeout::TimeoutConfig::builder()
            .operation_attempt_timeout(timeout)
            .operation_timeout(timeout);
        if let Some(connect) = config.timeout_config().and_then(|t| t.connect_timeout()) {
            timeouts = timeouts.connect_timeout(connect);
        }
        let once = aws_sdk_sns::config::Builder::default()
            .retry_config(aws_config::retry::RetryConfig::disabled())
            .timeout_config(timeouts.build())
            .region(aws_sdk_sns::config::Region::new(self.topic.region().to_string()));
        let mut request = self
            .client
            .publish()
            .topic_arn(self.topic.as_str())
            .subject(&message.subject)
            .message(&message.message)
            .set_message_structure(message.json_structure.then(|| "json".to_string()))
            .set_message_group_id(message.group_id.clone())
            .set_message_deduplication_id(message.deduplication_id.clone());
        for attribute in &message.attributes {
            let value = match &attribute.value {
                AttributeValue::String(s) => MessageAttributeValue::builder()
                    .data_type("String")
                    .string_value(s),
                AttributeValue::Number(n) => MessageAttributeValue::builder()
                    .data_type("Number")
                    .string_value(n.to_string()),
            };
            let value = value.build().map_err(|e| PublishError::Invalid(e.to_string()))?;
            request = request.message_attributes(attribute.name, value);
        }
        match request.customize().config_override(once).send().await {
            Ok(out) => Ok(out.message_id.unwrap_or_default()),
            Err(e) => {
                let topic = self.topic.as_str().to_string();
                let detail = describe_sdk_error(&e);
                Err(match &e {
                    aws_smithy_runtime_api::client::result::SdkError::ServiceError(_) => {
                        PublishError::Failed {
                            topic,
                            code: error_code(&e).map(String::from),
                            detail,
                        }
                    }
                    aws_smithy_runtime_api::client::result::SdkError::ConstructionFailure(_) => {
                        PublishError::Invalid(detail)
                    }
                    // Timeouts, dispatch and response failures: the request may have arrived.
                    _ => PublishError::Unconfirmed { topic, detail },
                })
            }
        }
    }
}

impl Publisher for SnsPublisher {
    async fn publish(&self, message: &SnsMessage) -> Result<String, PublishError> {
        self.publish_within(message, Duration::MAX).await
    }

    async fn publish_within(&self, message: &SnsMessage, budget: Duration) -> Result<String, PublishError> {
        let config = self.client.config();
        let budget = config
            .timeout_config()
            .and_then(|t| t.operation_timeout())
            .map_or(budget, |op| budget.min(op));
        let max_attempts = config.retry_config().map_or(1, |r| r.max_attempts());
        let started = Instant::now();
        let mut attempt: u32 = 1;
        loop {
            let left = budget.saturating_sub(started.elapsed());
            let error = match self.attempt(message, left).await {
                Ok(id) => return Ok(id),
                Err(e) => e,
            };
            // Exponential backoff from 100 ms, capped at 5 s, only if the wait leaves time.
            let backoff =
                Duration::from_millis(100u64.saturating_mul(1 << attempt.min(6))).min(Duration::from_secs(5));
            let left = budget.saturating_sub(started.elapsed());
            if !error.is_clean_refusal() || attempt >= max_attempts || backoff >= left {
                return Err(error);
            }
            tokio::time::sleep(backoff).await;
            attempt += 1;
        }
    }
}

/// Keeps messages in memory: for tests and benchmarks (feature `test-support`), never shipped.
#[cfg(any(test, feature = "test-support"))]
#[derive(Debug, Default)]
pub struct MemoryPublisher {
    messages: std::sync::Mutex<Vec<SnsMessage>>,
}

#[cfg(any(test, feature = "test-support"))]
impl MemoryPublisher {
    /// Everything published so far, in order.
    pub fn messages(&self) -> Vec<SnsMessage> {
        self.messages.lock().map(|m| m.clone()).unwrap_or_default()
    }
}

#[cfg(any(test, feature = "test-support"))]
impl Publisher for MemoryPublisher {
    async fn publish(&self, message: &SnsMessage) -> Result<String, PublishError> {
        let mut messages = self
            .messages
            .lock()
            .map_err(|_| PublishError::Invalid("poisoned".into()))?;
        messages.push(message.clone());
        Ok(format!("memory-{}", messages.len()))
    }
}

impl<P: Publisher> Publisher for &P {
    fn publish(&self, message: &SnsMessage) -> impl Future<Output = Result<String, PublishError>> + Send {
        (**self).publish(message)
    }

    fn publish_within(
        &self,
        message: &SnsMessage,
        budget: Duration,
    ) -> impl Future<Output = Result<String, PublishError>> + Send {
        (**self).publish_within(message, budget)
    }
}

/// No topic configured: nothing to publish to. Callers check before publishing; this is
/// only reached by a bug, and says so.
impl<P: Publisher> Publisher for Option<P> {
    async fn publish(&self, message: &SnsMessage) -> Result<String, PublishError> {
        match self {
            Some(p) => p.publish(message).await,
            None => Err(PublishError::Invalid("no ALERT_TOPIC_ARN is configured".into())),
        }
    }

    async fn publish_within(&self, message: &SnsMessage, budget: Duration) -> Result<String, PublishError> {
        match self {
            Some(p) => p.publish_within(message, budget).await,
            None => Err(PublishError::Invalid("no ALERT_TOPIC_ARN is configured".into())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failed(code: Option<&str>, detail: &str) -> PublishError {
        PublishError::Failed {
            topic: "t".into(),
            code: code.map(String::from),
            detail: detail.into(),
        }
    }

    /// Records the budget it was given.
    #[derive(Default)]
    struct Budget(std::sync::Mutex<Vec<Duration>>);
    impl Publisher for Budget {
        async fn publish(&self, _m: &SnsMessage) -> Result<String, PublishError> {
            Err(PublishError::Invalid(
                "the outbox must call publish_within".into(),
            ))
        }
        async fn publish_within(&self, _m: &SnsMessage, budget: Duration) -> Result<String, PublishError> {
            self.0
                .lock()
                .map_err(|_| PublishError::Invalid("poisoned".into()))?
                .push(budget);
            Ok("id".into())
        }
    }

    #[tokio::test]
    async fn the_outbox_gives_the_publish_all_the_time_to_the_margin() {
        use crate::deadline::Deadline;
        use crate::invocation::Invocation;
        use crate::outbox::Outbox;
        use crate::state::IdempotencyKey;
        let outbox = Outbox::new(Budget::default(), Duration::from_millis(500));
        let mut ctx = Invocation::new(Deadline::after(Duration::from_secs(30)), "r");
        let message = SnsMessage {
            subject: "s".into(),
            message: "m".into(),
            json_structure: false,
            attributes: Vec::new(),
            group_id: None,
            deduplication_id: None,
            identity: "i".into(),
        };
        let key = IdempotencyKey::from_payload("t", b"m");
        outbox
            .deliver(&mut ctx, key, &[], |_| async { Ok((message, ())) })
            .await
            .unwrap();
        let budgets = outbox.publisher().0.lock().unwrap().clone();
        assert_eq!(budgets.len(), 1);
        // 30 s to the deadline less the 500 ms margin, less the few ms this test took: far more
        // than the SDK's 5 s attempt timeout that used to cut a slow but delivered publish.
        assert!(
            budgets[0] <= Duration::from_millis(29_500) && budgets[0] > Duration::from_secs(25),
            "{budgets:?}"
        );
    }

    #[test]
    fn only_refusals_before_delivery_are_retried() {
        assert!(failed(Some("Throttling"), "Throttling: Rate exceeded").is_clean_refusal());
        assert!(failed(None, "HTTP 503 without an AWS error code (x)").is_clean_refusal());
        assert!(!failed(None, "HTTP 500 without an AWS error code (x)").is_clean_refusal());
        assert!(!failed(Some("InvalidParameter"), "InvalidParameter: x").is_clean_refusal());
        let unconfirmed = PublishError::Unconfirmed {
            topic: "t".into(),
            detail: "timed out".into(),
        };
        assert!(!unconfirmed.is_clean_refusal());
        assert!(
            unconfirmed.to_string().contains("may have been delivered"),
            "{unconfirmed}"
        );
    }
}
