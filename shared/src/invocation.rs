//! The one invocation skeleton every function plugs into: the Lambda runtime loop, the error →
//! `Diagnostic` mapping, the deadline-bounded publish (with the state store's idempotency
//! claim and suppression window around it), the metrics flush and the single summary log line.
//!
//! A function implements [`Function`]; its `main` builds it and calls [`run`]. Tests, benches and
//! fuzz targets call [`invoke`], which is what `run` does for each event.

use crate::deadline::Deadline;
use crate::metrics::{Metric, Metrics, MetricsConfig};
use crate::notification::{Notification, SnsMessage};
use crate::publish::{PublishError, Publisher};
use crate::state::{self, DynamoStore, Fingerprint, IdempotencyKey, StateError, StateStore, Verdict};
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

/// What one alert may do, decided before it is rendered (see [`Outbox::admit`]).
#[derive(Debug)]
pub enum Admission {
    /// Render (through [`Permit::note`]) and hand the permit to [`Outbox::publish`].
    Publish(Permit),
    /// Publish nothing: already delivered by an earlier attempt, or a suppressed repeat.
    Skip { reason: &'static str },
}

/// Leave to publish one alert: the claim to complete afterwards and what to say about the
/// repeats suppressed before it.
#[derive(Debug)]
#[must_use = "a permit is handed to Outbox::publish"]
pub struct Permit {
    /// The key this attempt claimed (None: no store, or the store failed open).
    claimed: Option<IdempotencyKey>,
    suppressed: Option<Suppressed>,
    /// One per fingerprint admitted, in order; empty without a store.
    verdicts: Vec<Verdict>,
}

impl Permit {
    /// Whether fingerprint number `i` (in the order admitted) was already alerted inside its
    /// window: the renderer shows it as a count, after the new ones.
    pub fn known(&self, i: usize) -> bool {
        matches!(self.verdicts.get(i), Some(Verdict::Suppress { .. }))
    }

    /// The repeats suppressed since the previous alert with this fingerprint, if any.
    pub fn suppressed(&self) -> Option<&Suppressed> {
        self.suppressed.as_ref()
    }

    /// `notification` with the suppressed repeats stated in every format (text, JSON, chat).
    pub fn note(&self, mut notification: Notification) -> Notification {
        if let Some(s) = &self.suppressed {
            s.annotate(&mut notification);
        }
        notification
    }
}

/// Repeats of an alert that were counted instead of sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Suppressed {
    pub count: u64,
    /// When the previous alert with this fingerprint went out (epoch seconds).
    pub since: u64,
}

impl Suppressed {
    /// "4 similar alerts suppressed since 2026-11-26T10:02:00.000Z".
    pub fn describe(&self) -> String {
        format!(
            "{} suppressed since {}",
            crate::text::count(self.count, "similar alert", "similar alerts"),
            self.since_iso()
        )
    }

    fn since_iso(&self) -> String {
        let ms = i64::try_from(self.since)
            .unwrap_or(i64::MAX / 1_000)
            .saturating_mul(1_000);
        crate::time::iso8601_ms(ms)
    }

    /// A line after the text's subject, a `suppressed` object in the JSON, a line in chat.
    fn annotate(&self, n: &mut Notification) {
        let line = format!("Suppressed:    {} (SUPPRESS_WINDOW_MINUTES)\n", self.describe());
        match n.text.find("\n\n") {
            Some(i) => n.text.insert_str(i + 2, &line),
            None => n.text.insert_str(0, &line),
        }
        if let Some(doc) = n.structured.as_object_mut() {
            doc.insert(
                "suppressed".into(),
                serde_json::json!({"count": self.count, "since": self.since_iso()}),
            );
        }
        n.chat
            .description
            .insert_str(0, &format!("_{}._\n", self.describe()));
    }
}

/// `messageId` of a claim whose publish was sent but never answered before the deadline: it
/// may have been delivered, so a retry does not send it again.
const UNCONFIRMED: &str = "unconfirmed";
const ALERTS_SUPPRESSED: Metric = Metric::count("AlertsSuppressed");
const DUPLICATES_SKIPPED: Metric = Metric::count("DuplicatesSkipped");
const STATE_STORE_PROBLEMS: Metric = Metric::count("StateStoreProblems");
const PUBLISH_UNCONFIRMED: Metric = Metric::count("PublishUnconfirmed");
/// The state store calls before a publish take at most this (and half the time left).
const STATE_BUDGET: Duration = Duration::from_secs(3);

#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    #[error(transparent)]
    Publish(#[from] PublishError),
    #[error("SNS Publish did not finish before the Lambda deadline; gave up {margin_ms} ms before it")]
    Deadline { margin_ms: u128 },
    #[error(
        "another attempt is publishing this alert (its claim is held until {until}, epoch seconds); failing so Lambda retries later"
    )]
    Busy { until: u64 },
}

impl FunctionError for DeliveryError {
    fn kind(&self) -> &'static str {
        match self {
            DeliveryError::Publish(_) => "PublishFailed",
            DeliveryError::Deadline { .. } => "DeadlineExceeded",
            DeliveryError::Busy { .. } => "AlreadyInProgress",
        }
    }
}

/// Every function publishes through one: the publisher, `DEADLINE_MARGIN_MS`, and the state
/// store (idempotency and suppression, see [`crate::state`]) when `STATE_TABLE` is set.
///
/// Per alert, every function does the same: [`admit`](Self::admit) with the alert's
/// idempotency key (and fingerprints), render with [`Permit::note`], then
/// [`publish`](Self::publish) the permit.
///
/// # A publish that may have been delivered
/// A publish sent in time but not answered (the deadline, a timeout, a dropped connection) may
/// have reached SNS. With a state table it is recorded as done-unconfirmed and the invocation
/// fails: the retry finds the record and sends nothing. When the table could not record it
/// (or never held the claim), a failure would have each of Lambda's retries send a copy, so
/// the invocation reports success with MessageId `unconfirmed`, an ERROR log line and the
/// `PublishUnconfirmed` and `StateStoreProblems` metrics (both alarmed): one copy, possibly
/// none, rather than three. Without a table, the failure is reported (at-least-once, as the
/// README says).
#[derive(Debug)]
pub struct Outbox<P, S = DynamoStore> {
    publisher: P,
    margin: Duration,
    /// The store and `SUPPRESS_WINDOW_MINUTES`; None: at-least-once, as without a table.
    state: Option<(S, Duration)>,
}

impl<P> Outbox<P> {
    pub fn new(publisher: P, margin: Duration) -> Self {
        Self {
            publisher,
            margin,
            state: None,
        }
    }
}

impl<P, S> Outbox<P, S> {
    /// Uses `store` (None when `STATE_TABLE` is unset) with this suppression window.
    pub fn with_state<S2: StateStore>(self, store: Option<S2>, window: Duration) -> Outbox<P, S2> {
        Outbox {
            publisher: self.publisher,
            margin: self.margin,
            state: store.map(|s| (s, window)),
        }
    }

    pub fn publisher(&self) -> &P {
        &self.publisher
    }
}

impl<P: Publisher, S: StateStore> Outbox<P, S> {
    /// Claims `key` and consults the suppression window for each of `alerts` (fingerprint and
    /// severity rank of each part the alert is suppressed on; empty for a message that is
    /// never suppressed). The alert is skipped only when every part is a repeat. A store
    /// problem is logged, counted and the alert published anyway (fail open). `Err` only when
    /// another attempt holds the claim.
    pub async fn admit(
        &self,
        ctx: &mut Invocation,
        key: IdempotencyKey,
        alerts: &[(&Fingerprint, u8)],
    ) -> Result<Admission, DeliveryError> {
        let Some((store, window)) = &self.state else {
            return Ok(Admission::Publish(Permit {
                claimed: None,
                suppressed: None,
                verdicts: Vec::new(),
            }));
        };
        let left = ctx.deadline.remaining_before(self.margin);
        let budget = (left / 2).min(STATE_BUDGET);
        let admitted = state::admit(store, &key, alerts, *window, ctx.deadline.remaining(), budget).await;
        for problem in &admitted.problems {
            state_problem(ctx, problem);
        }
        Ok(match admitted.admission {
            state::Admission::Publish { verdicts, claimed } => Admission::Publish(Permit {
                claimed: claimed.then_some(key),
                // The first new part's repeats: the part the alert leads with.
                suppressed: verdicts.iter().find_map(|v| match *v {
                    Verdict::Send {
                        suppressed,
                        since: Some(since),
                    } if suppressed > 0 => Some(Suppressed {
                        count: suppressed,
                        since,
                    }),
                    _ => None,
                }),
                verdicts,
            }),
            state::Admission::AlreadyDone { message_id } => {
                ctx.metrics.add(DUPLICATES_SKIPPED, 1);
                Admission::Skip {
                    reason: match message_id.as_deref() {
                        None => "suppressed by an earlier attempt",
                        Some(UNCONFIRMED) => "sent by an earlier attempt (unconfirmed); not repeated",
                        Some(_) => "already delivered",
                    },
                }
            }
            state::Admission::Suppressed { .. } => {
                ctx.metrics.add(ALERTS_SUPPRESSED, 1);
                Admission::Skip { reason: "suppressed" }
            }
            state::Admission::Busy { until } => return Err(DeliveryError::Busy { until }),
        })
    }

    /// Publishes an admitted message, given up `margin` before the deadline, then completes
    /// the claim: done with the MessageId; failed (a retry takes over) when SNS refused it;
    /// done as unconfirmed when the deadline cut off a publish already sent (not repeated:
    /// it may have been delivered). Returns the SNS MessageId.
    pub async fn publish(
        &self,
        ctx: &mut Invocation,
        permit: Permit,
        message: &SnsMessage,
    ) -> Result<String, DeliveryError> {
        let sent_in_time = !ctx.deadline.remaining_before(self.margin).is_zero();
        let result = self.send(ctx, message).await;
        let Some((store, _)) = &self.state else {
            return result;
        };
        // Sent but unanswered (deadline, timeout, dropped connection): it may have been
        // delivered, so a retry must not repeat it.
        let ambiguous = sent_in_time
            && matches!(
                result,
                Err(DeliveryError::Deadline { .. } | DeliveryError::Publish(PublishError::Unconfirmed { .. }))
            );
        if ambiguous {
            ctx.metrics.add(PUBLISH_UNCONFIRMED, 1);
        }
        // What is left of the margin is for this one write.
        let t = ctx.deadline.remaining_before(self.margin / 4);
        let recorded = match (&permit.claimed, &result) {
            (None, _) => false,
            (Some(key), Ok(message_id)) => record(ctx, store.complete(key, Some(message_id), t).await),
            (Some(key), Err(_)) if ambiguous => record(ctx, store.complete(key, Some(UNCONFIRMED), t).await),
            (Some(key), Err(_)) => record(ctx, store.fail(key, t).await),
        };
        if ambiguous && !recorded {
            // No record for a retry to find: failing now would have Lambda send a copy per
            // retry. A publish that may have been delivered is reported as done, loudly.
            tracing::error!(
                "SNS Publish may have been delivered but was not confirmed, and the state store could not record it; reporting success so that no retry sends a copy"
            );
            return Ok(UNCONFIRMED.to_string());
        }
        result
    }

    /// `sns:Publish`, given up `margin` before the deadline, so a failure is still reported.
    async fn send(&self, ctx: &Invocation, message: &SnsMessage) -> Result<String, DeliveryError> {
        let margin_ms = self.margin.as_millis();
        let publish = self.publish_attempts(ctx, message);
        match tokio::time::timeout(ctx.deadline.remaining_before(self.margin), publish).await {
            Ok(result) => result,
            Err(_) => Err(DeliveryError::Deadline { margin_ms }),
        }
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
}

/// Whether a state write worked; a problem is reported as [`state_problem`] does.
fn record(ctx: &mut Invocation, written: Result<(), StateError>) -> bool {
    match written {
        Ok(()) => true,
        Err(problem) => {
            state_problem(ctx, &problem);
            false
        }
    }
}

/// Fail open: log the problem (never the payload; the first of a process as an ERROR) and count it.
fn state_problem(ctx: &mut Invocation, problem: &StateError) {
    // The first of the process as an ERROR naming the kind, the rest as warnings.
    state::report_problem(problem);
    ctx.metrics.add(STATE_STORE_PROBLEMS, 1);
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::notification::ChatMessage;
    use crate::publish::MemoryPublisher;
    use crate::state::{Clock, MemoryStore};

    const MARGIN: Duration = Duration::from_millis(500);
    const WINDOW: Duration = Duration::from_secs(900);

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

    struct Fixed;
    impl Clock for Fixed {
        fn now(&self) -> u64 {
            1_800_000_000
        }
    }

    fn ctx(secs: u64) -> Invocation {
        Invocation::new(Deadline::after(Duration::from_secs(secs)), "r")
    }

    fn key(payload: &str) -> IdempotencyKey {
        IdempotencyKey::from_payload("t", payload.as_bytes())
    }

    async fn admit_and_publish<P: Publisher>(
        outbox: &Outbox<P, MemoryStore<Fixed>>,
        ctx: &mut Invocation,
        payload: &str,
    ) -> Result<Option<String>, DeliveryError> {
        match outbox.admit(ctx, key(payload), &[]).await? {
            Admission::Publish(permit) => outbox.publish(ctx, permit, &message(payload)).await.map(Some),
            Admission::Skip { .. } => Ok(None),
        }
    }

    fn with_memory<P>(publisher: P) -> Outbox<P, MemoryStore<Fixed>> {
        let store = MemoryStore::new(Duration::from_secs(86_400), Fixed);
        Outbox::new(publisher, MARGIN).with_state(Some(store), WINDOW)
    }

    #[tokio::test]
    async fn without_a_store_every_admission_publishes() {
        let outbox = Outbox::new(MemoryPublisher::default(), MARGIN);
        let mut ctx = ctx(60);
        for _ in 0..2 {
            let Admission::Publish(permit) = outbox.admit(&mut ctx, key("a"), &[]).await.unwrap() else {
                panic!("no store: always publish");
            };
            assert!(permit.suppressed().is_none());
            outbox.publish(&mut ctx, permit, &message("a")).await.unwrap();
        }
        assert_eq!(outbox.publisher().messages().len(), 2, "at-least-once");
    }

    #[tokio::test]
    async fn a_delivered_alert_is_not_published_again() {
        let outbox = with_memory(MemoryPublisher::default());
        let mut ctx = ctx(60);
        assert_eq!(
            admit_and_publish(&outbox, &mut ctx, "a")
                .await
                .unwrap()
                .as_deref(),
            Some("memory-1")
        );
        let again = outbox.admit(&mut ctx, key("a"), &[]).await.unwrap();
        assert!(
            matches!(
                again,
                Admission::Skip {
                    reason: "already delivered"
                }
            ),
            "{again:?}"
        );
        assert_eq!(outbox.publisher().messages().len(), 1);
    }

    /// Fails its first publish, then works.
    #[derive(Default)]
    struct FailsOnce(std::sync::atomic::AtomicBool, MemoryPublisher);
    impl Publisher for FailsOnce {
        async fn publish(&self, m: &SnsMessage) -> Result<String, PublishError> {
            if !self.0.swap(true, std::sync::atomic::Ordering::SeqCst) {
                return Err(PublishError::Failed {
                    topic: "t".into(),
                    code: Some("InternalError".into()),
                    detail: "503".into(),
                });
            }
            self.1.publish(m).await
        }
    }

    #[tokio::test]
    async fn a_refused_publish_is_taken_over_by_the_retry_at_once() {
        let outbox = with_memory(FailsOnce::default());
        let mut ctx = ctx(60);
        let err = admit_and_publish(&outbox, &mut ctx, "a").await.unwrap_err();
        assert_eq!(err.kind(), "PublishFailed");
        // Same deadline: the claim would still be held had it not been marked failed.
        assert!(admit_and_publish(&outbox, &mut ctx, "a").await.unwrap().is_some());
        assert_eq!(outbox.publisher().1.messages().len(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_publish_cut_off_by_the_deadline_is_not_repeated() {
        struct Never;
        impl Publisher for Never {
            async fn publish(&self, _m: &SnsMessage) -> Result<String, PublishError> {
                std::future::pending().await
            }
        }
        let outbox = with_memory(Never);
        let mut first = ctx(2);
        let err = admit_and_publish(&outbox, &mut first, "a").await.unwrap_err();
        assert_eq!(diagnostic(&err).error_type, "Lookout.DeadlineExceeded");
        assert_eq!(
            err.to_string(),
            "SNS Publish did not finish before the Lambda deadline; gave up 500 ms before it"
        );
        let retry = outbox.admit(&mut ctx(60), key("a"), &[]).await.unwrap();
        assert!(
            matches!(
                retry,
                Admission::Skip {
                    reason: "sent by an earlier attempt (unconfirmed); not repeated"
                }
            ),
            "{retry:?}"
        );
    }

    #[tokio::test]
    async fn a_concurrent_attempt_holding_the_claim_fails_retryably() {
        let outbox = with_memory(MemoryPublisher::default());
        let mut ctx = ctx(60);
        let Admission::Publish(_held) = outbox.admit(&mut ctx, key("a"), &[]).await.unwrap() else {
            panic!("first claim");
        };
        let err = outbox.admit(&mut ctx, key("a"), &[]).await.unwrap_err();
        assert_eq!(diagnostic(&err).error_type, "Lookout.AlreadyInProgress");
    }

    #[tokio::test]
    async fn repeats_inside_the_window_are_counted_not_sent() {
        let outbox = with_memory(MemoryPublisher::default());
        let mut ctx = ctx(60);
        let fp = Fingerprint::new("t", &["/ecs/web", "ERROR db down"]);
        let mut sent = 0;
        for batch in ["b1", "b2", "b3"] {
            match outbox.admit(&mut ctx, key(batch), &[(&fp, 2)]).await.unwrap() {
                Admission::Publish(permit) => {
                    outbox.publish(&mut ctx, permit, &message(batch)).await.unwrap();
                    sent += 1;
                }
                Admission::Skip { reason } => assert_eq!(reason, "suppressed"),
            }
        }
        assert_eq!(sent, 1);
        // A more severe alert with the same fingerprint goes through.
        assert!(matches!(
            outbox.admit(&mut ctx, key("b4"), &[(&fp, 3)]).await.unwrap(),
            Admission::Publish(_)
        ));
    }

    #[test]
    fn the_suppressed_repeats_are_stated_in_every_format() {
        let permit = Permit {
            claimed: None,
            suppressed: Some(Suppressed {
                count: 4,
                since: 1_764_151_320,
            }),
            verdicts: Vec::new(),
        };
        let n = permit.note(Notification {
            subject: "[ERROR] x".into(),
            text: "[ERROR] x\n\nLog group:     /g\n".into(),
            structured: serde_json::json!({"source": "t"}),
            chat: ChatMessage {
                description: "d".into(),
                ..ChatMessage::default()
            },
            attributes: Vec::new(),
            group: String::new(),
            identity: String::new(),
        });
        assert_eq!(
            n.text,
            "[ERROR] x\n\nSuppressed:    4 similar alerts suppressed since 2025-11-26T10:02:00.000Z (SUPPRESS_WINDOW_MINUTES)\nLog group:     /g\n"
        );
        assert_eq!(
            n.structured,
            serde_json::json!({"source": "t", "suppressed": {"count": 4, "since": "2025-11-26T10:02:00.000Z"}})
        );
        assert_eq!(
            n.chat.description,
            "_4 similar alerts suppressed since 2025-11-26T10:02:00.000Z._\nd"
        );
    }
}
