//! Publishing to SNS behind a narrow trait, so handlers are tested without a network.

use crate::aws::{describe_sdk_error, error_code};
use crate::config::TopicArn;
use crate::notification::{AttributeValue, SnsMessage};
use aws_sdk_sns::types::MessageAttributeValue;
use std::future::Future;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PublishError {
    /// SNS answered with an error after the SDK's retries.
    #[error("SNS Publish to {topic} failed: {detail}")]
    Failed {
        topic: String,
        code: Option<String>,
        detail: String,
    },
    /// The request could not be built (bad attribute, for instance): a bug, not an outage.
    #[error("SNS Publish request is invalid: {0}")]
    Invalid(String),
}

pub trait Publisher: Send + Sync {
    /// Publishes one message and returns its SNS message id.
    fn publish(&self, message: &SnsMessage) -> impl Future<Output = Result<String, PublishError>> + Send;
}

/// The real thing: `sns:Publish` to one topic.
#[derive(Debug, Clone)]
pub struct SnsPublisher {
    client: aws_sdk_sns::Client,
    topic: TopicArn,
}

impl SnsPublisher {
    pub fn new(client: aws_sdk_sns::Client, topic: TopicArn) -> Self {
        Self { client, topic }
    }
}

impl Publisher for SnsPublisher {
    async fn publish(&self, message: &SnsMessage) -> Result<String, PublishError> {
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
        match request.send().await {
            Ok(out) => Ok(out.message_id.unwrap_or_default()),
            Err(e) => Err(PublishError::Failed {
                topic: self.topic.as_str().to_string(),
                code: error_code(&e).map(String::from),
                detail: describe_sdk_error(&e),
            }),
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
}
