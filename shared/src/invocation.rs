//! The one invocation skeleton every function plugs into: the Lambda runtime loop, the error →
//! `Diagnostic` mapping, the deadline-bounded publish (with hooks for the state store), the
//! metrics flush and the single summary log line.
//!
//! A function implements [`Function`]; its `main` builds it and calls [`run`]. Tests, benches and
//! fuzz targets call [`invoke`], which is what `run` does for each event.

use crate::deadline::Deadline;
use crate::metrics::{Metric, Metrics, MetricsConfig};
use crate::notification::SnsMessage;
use crate::publish::{PublishError, Publisher};
use lambda_runtime::{Diagnostic, LambdaEvent, service_fn};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::future::Future;
use std::time::{Duration, Instant};

/// What a function's error says about itself.
pub trait FunctionError: std::error::Error + Send + Sync + 'static {
    /// `Diagnostic.error_type` is `Lookout.<kind>`, e.g. `PublishFailed`.
    fn kind(&self) -> &'static str;
    /// Counted once when this error ends an invocation.
    fn metric(&self) -> Option<Metric> {
        None
    }
}

/// The one error → `Diagnostic` mapping: the kind and the error's description, never the payload.
pub fn diagnostic<E: FunctionError + ?Sized>(error: &E) -> Diagnostic {
    Diagnostic {
        error_type: format!("Lookout.{}", error.kind()),
        error_message: error.to_string(),
    }
}

/// What one invocation carries besides its event.
#[derive(Debug)]
pub struct Invocation {
    pub deadline: Deadline,
    pub request_id: String,
    /// Flushed as one EMF line when the invocation ends, whatever its result.
    pub metrics: Metrics,
}

impl Invocation {
    pub fn new(deadline: Deadline, request_id: impl Into<String>) -> Self {
        Self {
            deadline,
            request_id: request_id.into(),
            metrics: Metrics::default(),
        }
    }
}

/// A Lambda function built on the skeleton.
pub trait Function: Send + Sync {
    type Event: DeserializeOwned + Send;
    /// The invocation's result, returned to Lambda.
    type Summary: Serialize + Send;
    type Error: FunctionError;
    /// The function's name in log lines.
    const NAME: &'static str;

    fn metrics_config(&self) -> &MetricsConfig;

    /// One invocation: count metrics on `ctx.metrics`, publish through an [`Outbox`].
    fn handle(
        &self,
        event: Self::Event,
        ctx: &mut Invocation,
    ) -> impl Future<Output = Result<Self::Summary, Self::Error>> + Send;

    /// What the summary log line shows of a summary (all of it unless the function says less).
    fn log_line<'s>(&self, summary: &'s Self::Summary) -> impl Serialize + 's;
}

/// One invocation as `run` does it: handle, then one log line, then the metrics flush.
pub async fn invoke<F: Function>(
    function: &F,
    event: F::Event,
    ctx: &mut Invocation,
) -> Result<F::Summary, F::Error> {
    let started = Instant::now();
    let result = function.handle(event, ctx).await;
    let elapsed_us = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
    match &result {
        Ok(summary) => {
            let line = JsonLine(function.log_line(summary));
            tracing::info!(function = F::NAME, elapsed_us, summary = %line, "invocation done");
        }
        Err(e) => {
            if let Some(metric) = e.metric() {
                ctx.metrics.add(metric, 1);
            }
            tracing::error!(
                function = F::NAME,
                elapsed_us,
                error_type = e.kind(),
                error = %e,
                "invocation failed; Lambda will retry it"
            );
        }
    }
    ctx.metrics.flush(function.metrics_config());
    result
}

/// Serialised only when the log line is written (benchmarks and tests have no subscriber).
struct JsonLine<T>(T);

impl<T: Serialize> std::fmt::Display for JsonLine<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let json = serde_json::to_string(&self.0).map_err(|_| std::fmt::Error)?;
        f.write_str(&json)
    }
}

/// The Lambda runtime loop around [`invoke`].
pub async fn run<F: Function>(function: F) -> Result<(), lambda_runtime::Error> {
    let function = &function;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<F::Event>| async move {
        let mut ctx = Invocation::new(
            Deadline::from_epoch_ms(event.context.deadline),
            event.context.request_id,
        );
        invoke(function, event.payload, &mut ctx)
            .await
            .map_err(|e| diagnostic(&e))
    }))
    .await
}

/// What a before-publish hook decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BeforePublish {
    Publish,
    /// Already delivered, or suppressed: nothing is sent, and the reason is reported.
    Skip {
        reason: &'static str,
    },
}

/// A hook could not do its job (the state store unreachable, for instance).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{detail}")]
pub struct HookError {
    /// The `Diagnostic` kind, e.g. `StateUnavailable`.
    pub kind: &'static str,
    pub detail: String,
}

/// Runs around every publish: the state store claims before and marks done after. The key is
/// `message.identity`: the same input gives the same identity, across retries and redeliveries.
pub trait PublishHooks: Send + Sync {
    /// Before publishing `message`.
    fn before_publish(
        &self,
        message: &SnsMessage,
    ) -> impl Future<Output = Result<BeforePublish, HookError>> + Send;
    /// After SNS confirmed the publish of `message` with `message_id`.
    fn after_publish(
        &self,
        message: &SnsMessage,
        message_id: &str,
    ) -> impl Future<Output = Result<(), HookError>> + Send;
}

/// No state: always publish.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoHooks;

impl PublishHooks for NoHooks {
    async fn before_publish(&self, _message: &SnsMessage) -> Result<BeforePublish, HookError> {
        Ok(BeforePublish::Publish)
    }
    async fn after_publish(&self, _message: &SnsMessage, _message_id: &str) -> Result<(), HookError> {
        Ok(())
    }
}

/// How a publish through the [`Outbox`] ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivered {
    Published { message_id: String },
    Skipped { reason: &'static str },
}

#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    #[error(transparent)]
    Publish(#[from] PublishError),
    #[error("SNS Publish did not finish before the Lambda deadline; gave up {margin_ms} ms before it")]
    Deadline { margin_ms: u128 },
    #[error(transparent)]
    Hook(HookError),
}

impl FunctionError for DeliveryError {
    fn kind(&self) -> &'static str {
        match self {
            DeliveryError::Publish(_) => "PublishFailed",
            DeliveryError::Deadline { .. } => "DeadlineExceeded",
            DeliveryError::Hook(e) => e.kind,
        }
    }
}

/// Every function publishes through one: the publisher, the hooks, and `DEADLINE_MARGIN_MS`.
#[derive(Debug)]
pub struct Outbox<P, H = NoHooks> {
    publisher: P,
    hooks: H,
    margin: Duration,
}

impl<P> Outbox<P, NoHooks> {
    pub fn new(publisher: P, margin: Duration) -> Self {
        Self {
            publisher,
            hooks: NoHooks,
            margin,
        }
    }
}

impl<P: Publisher, H: PublishHooks> Outbox<P, H> {
    pub fn with_hooks<H2: PublishHooks>(self, hooks: H2) -> Outbox<P, H2> {
        Outbox {
            publisher: self.publisher,
            hooks,
            margin: self.margin,
        }
    }

    pub fn publisher(&self) -> &P {
        &self.publisher
    }

    /// `sns:Publish` itself, owned by the publish-outcome rules (`publish.rs`): the publisher
    /// gets all the time left before the margin, so one attempt is never cut short by an SDK
    /// attempt timeout and retried while it may have been delivered.
    async fn publish_attempts(
        &self,
        ctx: &Invocation,
        message: &SnsMessage,
    ) -> Result<String, DeliveryError> {
        let budget = ctx.deadline.remaining_before(self.margin);
        // Boxed: the SDK's request future is deep, and under the runtime loop and the
        // handler it would pass rustc's default layout depth limit in every binary.
        match Box::pin(self.publisher.publish_within(message, budget)).await {
            Ok(id) => Ok(id),
            // The attempt used the whole budget: the deadline, not SNS, ended it.
            Err(PublishError::Unconfirmed { .. }) if ctx.deadline.remaining_before(self.margin).is_zero() => {
                Err(DeliveryError::Deadline {
                    margin_ms: self.margin.as_millis(),
                })
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Before hook, then `sns:Publish` given up `margin` before the deadline, then after hook:
    /// the whole delivery stays within the margin, so a failure is still reported.
    pub async fn publish(&self, ctx: &Invocation, message: &SnsMessage) -> Result<Delivered, DeliveryError> {
        let margin_ms = self.margin.as_millis();
        let bounded = async {
            if let BeforePublish::Skip { reason } = self
                .hooks
                .before_publish(message)
                .await
                .map_err(DeliveryError::Hook)?
            {
                return Ok(Delivered::Skipped { reason });
            }
            let message_id = self.publish_attempts(ctx, message).await?;
            self.hooks
                .after_publish(message, &message_id)
                .await
                .map_err(DeliveryError::Hook)?;
            Ok(Delivered::Published { message_id })
        };
        match tokio::time::timeout(ctx.deadline.remaining_before(self.margin), bounded).await {
            Ok(result) => result,
            Err(_) => Err(DeliveryError::Deadline { margin_ms }),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::publish::MemoryPublisher;

    fn message(identity: &str) -> SnsMessage {
        SnsMessage {
            subject: "s".into(),
            message: "m".into(),
            json_structure: false,
            attributes: Vec::new(),
            group_id: None,
            deduplication_id: None,
            identity: identity.into(),
        }
    }

    struct Seen(std::sync::Mutex<Vec<String>>);
    impl PublishHooks for Seen {
        async fn before_publish(&self, m: &SnsMessage) -> Result<BeforePublish, HookError> {
            self.0.lock().unwrap().push(format!("before {}", m.identity));
            Ok(if m.identity == "dup" {
                BeforePublish::Skip {
                    reason: "already delivered",
                }
            } else {
                BeforePublish::Publish
            })
        }
        async fn after_publish(&self, m: &SnsMessage, id: &str) -> Result<(), HookError> {
            self.0.lock().unwrap().push(format!("after {} {id}", m.identity));
            Ok(())
        }
    }

    #[tokio::test]
    async fn hooks_run_around_a_confirmed_publish_and_can_skip_it() {
        let outbox = Outbox::new(MemoryPublisher::default(), Duration::from_millis(500))
            .with_hooks(Seen(std::sync::Mutex::new(Vec::new())));
        let ctx = Invocation::new(Deadline::after(Duration::from_secs(60)), "r");
        let sent = outbox.publish(&ctx, &message("k")).await.unwrap();
        assert_eq!(
            sent,
            Delivered::Published {
                message_id: "memory-1".into()
            }
        );
        let skipped = outbox.publish(&ctx, &message("dup")).await.unwrap();
        assert_eq!(
            skipped,
            Delivered::Skipped {
                reason: "already delivered"
            }
        );
        assert_eq!(outbox.publisher().messages().len(), 1);
        assert_eq!(
            *outbox.hooks.0.lock().unwrap(),
            ["before k", "after k memory-1", "before dup"]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_publish_past_the_margin_is_a_deadline_error() {
        struct Never;
        impl Publisher for Never {
            async fn publish(&self, _m: &SnsMessage) -> Result<String, PublishError> {
                std::future::pending().await
            }
        }
        let outbox = Outbox::new(Never, Duration::from_millis(500));
        let ctx = Invocation::new(Deadline::after(Duration::from_secs(2)), "r");
        let err = outbox.publish(&ctx, &message("k")).await.unwrap_err();
        assert_eq!(diagnostic(&err).error_type, "Lookout.DeadlineExceeded");
        assert_eq!(
            err.to_string(),
            "SNS Publish did not finish before the Lambda deadline; gave up 500 ms before it"
        );
    }
}
