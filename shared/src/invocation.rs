//! The one invocation skeleton every function plugs into: the Lambda runtime loop, the error →
//! `Diagnostic` mapping, the metrics flush and the single summary log line. Delivery (the
//! deadline-bounded publish with the state store's claim and suppression windows around it)
//! is [`crate::outbox`].
//!
//! A function implements [`Function`]; its `main` builds it and calls [`run`]. Tests, benches and
//! fuzz targets call [`invoke`], which is what `run` does for each event.

use crate::deadline::Deadline;
use crate::metrics::{Metric, Metrics, MetricsConfig};
use lambda_runtime::{Diagnostic, LambdaEvent, service_fn};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::future::Future;
use std::time::Instant;

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
    /// When Lambda ends the invocation; every wait is bounded by it less the margin.
    pub deadline: Deadline,
    /// Lambda's request id (kept for logs; never part of an idempotency key but for manual runs).
    pub request_id: String,
    /// Flushed as one EMF line when the invocation ends, whatever its result.
    pub metrics: Metrics,
}

impl Invocation {
    /// A fresh invocation with no metrics counted yet.
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
    /// The payload, typed at the boundary ([`crate::envelope::Incoming`]).
    type Event: DeserializeOwned + Send;
    /// The invocation's result, returned to Lambda.
    type Summary: Serialize + Send;
    /// The one error of the function; mapped to a `Diagnostic` by [`diagnostic`].
    type Error: FunctionError;
    /// The function's name in log lines.
    const NAME: &'static str;

    /// Where and whether its EMF line is written.
    fn metrics_config(&self) -> &MetricsConfig;

    /// One invocation: count metrics on `ctx.metrics`, deliver through a [`crate::outbox::Outbox`].
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
