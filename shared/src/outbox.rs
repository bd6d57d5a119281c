//! The one delivery path every function publishes through: [`Outbox::deliver`] admits an
//! alert in the state store (idempotency claim, suppression windows), hands the renderer what
//! it needs to know about suppression, publishes within the deadline margin, records the
//! outcome, and counts the delivery metrics. No function crate claims, publishes or records on
//! its own.

use crate::invocation::{FunctionError, Invocation};
use crate::metrics::Metric;
use crate::notification::{FitError, SnsMessage};
use crate::publish::{PublishError, Publisher};
use crate::state::{self, DynamoStore, Fingerprint, IdempotencyKey, StateError, StateStore, Verdict};
use std::future::Future;
use std::time::Duration;

mod items;
pub use items::ItemClaim;

/// What the renderer of one alert is told before it renders: which of the alert's parts were
/// already alerted inside their windows (shown as counts, after the new ones), and the repeats
/// suppressed since the previous alert of the part it leads with. Renderers place these facts
/// themselves.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Suppression {
    /// One per fingerprint admitted, in order; empty without a store.
    verdicts: Vec<Verdict>,
    repeats: Option<Suppressed>,
    escalated: Option<Escalated>,
}

impl Suppression {
    /// Whether part number `i` (in the order its fingerprint was given) was already alerted
    /// inside its window.
    pub fn known(&self, i: usize) -> bool {
        matches!(self.verdicts.get(i), Some(Verdict::Suppress { .. }))
    }

    /// The repeats suppressed since the previous alert of the first new part, if any.
    pub fn repeats(&self) -> Option<&Suppressed> {
        self.repeats.as_ref()
    }

    /// Set when this alert is a repeat sent because it reached the escalation threshold
    /// ([`Outbox::deliver_escalating`]).
    pub fn escalated(&self) -> Option<Escalated> {
        self.escalated
    }
}

/// A repeat sent because it is a part's threshold-th alert inside one window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Escalated {
    /// Alerts with this fingerprint inside the window, this one included.
    pub alerts: u64,
    /// When the window's first alert went out (epoch seconds).
    pub since: u64,
}

/// Repeats of an alert that were counted instead of sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Suppressed {
    /// Repeats counted inside the window.
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

    /// The text and email line: `Suppressed:    4 similar alerts … (SUPPRESS_WINDOW_MINUTES)`.
    pub fn text_line(&self) -> String {
        format!("Suppressed:    {} (SUPPRESS_WINDOW_MINUTES)\n", self.describe())
    }

    /// The JSON document's `suppressed` object: `{"count": 4, "since": "<ISO 8601>"}`.
    pub fn json(&self) -> serde_json::Value {
        serde_json::json!({"count": self.count, "since": self.since_iso()})
    }

    /// The chat description's line: `_4 similar alerts suppressed since …._`.
    pub fn chat_line(&self) -> String {
        format!("_{}._\n", self.describe())
    }

    fn since_iso(&self) -> String {
        let ms = i64::try_from(self.since)
            .unwrap_or(i64::MAX / 1_000)
            .saturating_mul(1_000);
        crate::time::iso8601_ms(ms)
    }
}

/// What became of one alert handed to [`Outbox::deliver`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivered<T> {
    /// Published now (`message_id` is `unconfirmed` for a publish that may have been delivered
    /// and could not be recorded; see [`Outbox`]). `rendered`: what the renderer returned
    /// besides the message.
    Published {
        /// SNS's MessageId.
        message_id: String,
        /// The message's subject, as sent.
        subject: String,
        /// The Publish request's size.
        request_bytes: usize,
        /// The renderer's own result.
        rendered: T,
    },
    /// An earlier attempt delivered it (or decided not to): nothing was sent again.
    AlreadyDelivered {
        /// Why, for the summary: "already delivered", "suppressed by an earlier attempt", ...
        reason: &'static str,
    },
    /// Every part was already alerted inside its window: counted, not sent.
    Suppressed,
}

/// What `admit` decided for one alert (internal: functions call [`Outbox::deliver`]).
#[derive(Debug)]
enum Admission {
    Publish(Permit),
    Duplicate { reason: &'static str },
    Suppressed,
}

/// Leave to publish one alert: the claim to complete afterwards and what the renderer is told.
#[derive(Debug)]
struct Permit {
    /// The key this attempt claimed (None: no store, or the store failed open).
    claimed: Option<IdempotencyKey>,
    suppression: Suppression,
}

/// `messageId` of a claim whose publish was sent but never answered before the deadline: it
/// may have been delivered, so a retry does not send it again.
const UNCONFIRMED: &str = "unconfirmed";
const ALERTS_SUPPRESSED: Metric = Metric::count("AlertsSuppressed");
const DUPLICATES_SKIPPED: Metric = Metric::count("DuplicatesSkipped");
const STATE_STORE_PROBLEMS: Metric = Metric::count("StateStoreProblems");
const PUBLISH_UNCONFIRMED: Metric = Metric::count("PublishUnconfirmed");
/// Counted here for every function alike, whatever the function's own error metrics.
const PUBLISH_FAILURES: Metric = Metric::count("PublishFailures");
/// The state store calls before a publish take at most this (and half the time left).
const STATE_BUDGET: Duration = Duration::from_secs(3);

/// Why an alert was not delivered: the one error of the delivery path.
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    /// SNS refused the publish, or it failed on the wire.
    #[error(transparent)]
    Publish(#[from] PublishError),
    /// Even with no detail, the message does not fit SNS's limit.
    #[error(transparent)]
    TooLarge(#[from] FitError),
    /// The publish was still running at the deadline margin.
    #[error("SNS Publish did not finish before the Lambda deadline; gave up {margin_ms} ms before it")]
    Deadline {
        /// `DEADLINE_MARGIN_MS`.
        margin_ms: u128,
    },
    /// Another attempt holds the idempotency claim.
    #[error(
        "another attempt is publishing this alert (its claim is held until {until}, epoch seconds); failing so Lambda retries later"
    )]
    Busy {
        /// When its claim ends, epoch seconds.
        until: u64,
    },
}

impl FunctionError for DeliveryError {
    fn kind(&self) -> &'static str {
        match self {
            DeliveryError::Publish(_) => "PublishFailed",
            DeliveryError::TooLarge(_) => "MessageTooLarge",
            DeliveryError::Deadline { .. } => "DeadlineExceeded",
            DeliveryError::Busy { .. } => "AlreadyInProgress",
        }
    }
}

/// Every function publishes through one: the publisher, `DEADLINE_MARGIN_MS`, and the state
/// store (idempotency and suppression, see [`crate::state`]) when `STATE_TABLE` is set.
///
/// Every alert goes through [`deliver`](Self::deliver): admit, render, publish, record.
///
/// # A publish that may have been delivered
/// A publish sent in time but not answered (the deadline, a timeout, a dropped connection) may
/// have reached SNS. With a state table it is recorded as done-unconfirmed and the invocation
/// fails: the retry finds the record and sends nothing. When the table could not record it
/// (or never held the claim), a failure would have each of Lambda's retries send a copy, so
/// the invocation reports success with MessageId `unconfirmed`, an ERROR log line and the
/// `PublishUnconfirmed` and `StateStoreProblems` metrics (the latter alarmed): one copy,
/// possibly none, rather than three. Without a table, the failure is reported (at-least-once,
/// as docs/operations.md says).
#[derive(Debug)]
pub struct Outbox<P, S = DynamoStore> {
    publisher: P,
    margin: Duration,
    /// The store and `SUPPRESS_WINDOW_MINUTES`; None: at-least-once, as without a table.
    state: Option<(S, Duration)>,
}

impl<P> Outbox<P> {
    /// Publishing through `publisher`, giving up `margin` before the deadline; no state store.
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

    /// The state store, when there is one (functions keep their notes in it).
    pub fn store(&self) -> Option<&S> {
        self.state.as_ref().map(|(store, _)| store)
    }

    /// The publisher (tests read what it sent).
    pub fn publisher(&self) -> &P {
        &self.publisher
    }
}

impl<P: Publisher, S: StateStore> Outbox<P, S> {
    /// Delivers one alert: admits it under `key` with the fingerprint and severity rank of
    /// each part it is suppressed on (`alerts`; empty for a message that is never suppressed,
    /// such as a run summary), calls `render` with what it needs to know about suppression,
    /// publishes what it returns within the deadline margin, and records the outcome.
    ///
    /// `render` runs only for an alert that will be sent, so work done there (reading a dying
    /// container's log lines, say) is never spent on a repeat. It returns the message and
    /// anything else the caller wants back (figures for its summary).
    pub async fn deliver<T, F, Fut>(
        &self,
        ctx: &mut Invocation,
        key: IdempotencyKey,
        alerts: &[(&Fingerprint, u8)],
        render: F,
    ) -> Result<Delivered<T>, DeliveryError>
    where
        F: FnOnce(Suppression) -> Fut,
        Fut: Future<Output = Result<(SnsMessage, T), FitError>>,
    {
        self.deliver_escalating(ctx, key, alerts, None, render).await
    }

    /// As [`Outbox::deliver`], and the repeat that is a part's `escalate_at`-th alert inside
    /// its window is sent too, once ([`Suppression::escalated`] tells the renderer): a crash
    /// loop named when it happens rather than after the window.
    pub async fn deliver_escalating<T, F, Fut>(
        &self,
        ctx: &mut Invocation,
        key: IdempotencyKey,
        alerts: &[(&Fingerprint, u8)],
        escalate_at: Option<u64>,
        render: F,
    ) -> Result<Delivered<T>, DeliveryError>
    where
        F: FnOnce(Suppression) -> Fut,
        Fut: Future<Output = Result<(SnsMessage, T), FitError>>,
    {
        let permit = match self.admit(ctx, key, alerts, escalate_at).await? {
            Admission::Publish(permit) => permit,
            Admission::Duplicate { reason } => return Ok(Delivered::AlreadyDelivered { reason }),
            Admission::Suppressed => return Ok(Delivered::Suppressed),
        };
        let (message, rendered) = match render(permit.suppression.clone()).await {
            Ok(rendered) => rendered,
            Err(e) => {
                // Nothing was sent: let a retry take the claim over at once.
                self.release(ctx, &permit).await;
                return Err(e.into());
            }
        };
        match self.publish(ctx, permit, &message).await {
            Ok(message_id) => {
                ctx.metrics.alert_published(message.request_bytes());
                Ok(Delivered::Published {
                    message_id,
                    request_bytes: message.request_bytes(),
                    subject: message.subject,
                    rendered,
                })
            }
            Err(e) => {
                ctx.metrics.add(PUBLISH_FAILURES, 1);
                Err(e)
            }
        }
    }

    /// Marks a claim failed without publishing (the renderer refused), so a retry takes over.
    async fn release(&self, ctx: &mut Invocation, permit: &Permit) {
        if let (Some((store, _)), Some(key)) = (&self.state, &permit.claimed) {
            let t = ctx.deadline.remaining_before(self.margin / 4);
            record(ctx, store.fail(key, t).await);
        }
    }

    /// Claims `key` and consults the suppression window for each of `alerts` (fingerprint and
    /// severity rank of each part the alert is suppressed on; empty for a message that is
    /// never suppressed). The alert is skipped only when every part is a repeat. A store
    /// problem is logged, counted and the alert published anyway (fail open). `Err` only when
    /// another attempt holds the claim.
    async fn admit(
        &self,
        ctx: &mut Invocation,
        key: IdempotencyKey,
        alerts: &[(&Fingerprint, u8)],
        escalate_at: Option<u64>,
    ) -> Result<Admission, DeliveryError> {
        let Some((store, window)) = &self.state else {
            return Ok(Admission::Publish(Permit {
                claimed: None,
                suppression: Suppression::default(),
            }));
        };
        let left = ctx.deadline.remaining_before(self.margin);
        let budget = (left / 2).min(STATE_BUDGET);
        let admitted = state::admit_escalating(
            store,
            &key,
            alerts,
            *window,
            escalate_at,
            ctx.deadline.remaining(),
            budget,
        )
        .await;
        for problem in &admitted.problems {
            state_problem(ctx, problem);
        }
        Ok(match admitted.ruling {
            state::Ruling::Publish { verdicts, claimed } => Admission::Publish(Permit {
                claimed: claimed.then_some(key),
                suppression: Suppression {
                    escalated: state::escalation(&verdicts, escalate_at)
                        .map(|(alerts, since)| Escalated { alerts, since }),
                    // The first new part's repeats: the part the alert leads with.
                    repeats: verdicts.iter().find_map(|v| match *v {
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
                },
            }),
            state::Ruling::AlreadyDone { message_id } => {
                ctx.metrics.add(DUPLICATES_SKIPPED, 1);
                Admission::Duplicate {
                    reason: match message_id.as_deref() {
                        None => "suppressed by an earlier attempt",
                        Some(UNCONFIRMED) => "sent by an earlier attempt (unconfirmed); not repeated",
                        Some(_) => "already delivered",
                    },
                }
            }
            state::Ruling::Suppressed { .. } => {
                ctx.metrics.add(ALERTS_SUPPRESSED, 1);
                Admission::Suppressed
            }
            state::Ruling::Busy { until } => return Err(DeliveryError::Busy { until }),
        })
    }

    /// Publishes an admitted message, given up `margin` before the deadline, then completes
    /// the claim: done with the MessageId; failed (a retry takes over) when SNS refused it;
    /// done as unconfirmed when the deadline cut off a publish already sent (not repeated:
    /// it may have been delivered). Returns the SNS MessageId.
    async fn publish(
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
    use crate::deadline::Deadline;
    use crate::invocation::diagnostic;
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

    /// Delivers `message(payload)` under `key(payload)` with these fingerprints.
    async fn send<P: Publisher, S: StateStore>(
        outbox: &Outbox<P, S>,
        ctx: &mut Invocation,
        payload: &str,
        alerts: &[(&Fingerprint, u8)],
    ) -> Result<Delivered<Suppression>, DeliveryError> {
        outbox
            .deliver(ctx, key(payload), alerts, |facts| async move {
                Ok((message(payload), facts))
            })
            .await
    }

    async fn admit_and_publish<P: Publisher>(
        outbox: &Outbox<P, MemoryStore<Fixed>>,
        ctx: &mut Invocation,
        payload: &str,
    ) -> Result<Option<String>, DeliveryError> {
        Ok(match send(outbox, ctx, payload, &[]).await? {
            Delivered::Published { message_id, .. } => Some(message_id),
            _ => None,
        })
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
            let Delivered::Published { rendered, .. } = send(&outbox, &mut ctx, "a", &[]).await.unwrap()
            else {
                panic!("no store: always publish");
            };
            assert_eq!(rendered, Suppression::default());
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
        let again = send(&outbox, &mut ctx, "a", &[]).await.unwrap();
        assert_eq!(
            again,
            Delivered::AlreadyDelivered {
                reason: "already delivered"
            }
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
        let retry = send(&outbox, &mut ctx(60), "a", &[]).await.unwrap();
        assert_eq!(
            retry,
            Delivered::AlreadyDelivered {
                reason: "sent by an earlier attempt (unconfirmed); not repeated"
            }
        );
    }

    #[tokio::test]
    async fn a_concurrent_attempt_holding_the_claim_fails_retryably() {
        let outbox = with_memory(MemoryPublisher::default());
        let mut first = ctx(60);
        let mut second = ctx(60);
        // The second attempt arrives while the first is still rendering.
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let held = outbox.deliver(&mut first, key("a"), &[], |_| async move {
            let _ = rx.await;
            Ok((message("a"), ()))
        });
        let racing = async {
            let err = send(&outbox, &mut second, "a", &[]).await.unwrap_err();
            let _ = tx.send(());
            err
        };
        let (held, err) = tokio::join!(held, racing);
        assert!(matches!(held, Ok(Delivered::Published { .. })), "{held:?}");
        assert_eq!(diagnostic(&err).error_type, "Lookout.AlreadyInProgress");
    }

    #[tokio::test]
    async fn repeats_inside_the_window_are_counted_not_sent() {
        let outbox = with_memory(MemoryPublisher::default());
        let mut ctx = ctx(60);
        let fp = Fingerprint::new("t", &["/ecs/web", "ERROR db down"]);
        let mut sent = 0;
        for batch in ["b1", "b2", "b3"] {
            match send(&outbox, &mut ctx, batch, &[(&fp, 2)]).await.unwrap() {
                Delivered::Published { .. } => sent += 1,
                other => assert_eq!(other, Delivered::Suppressed),
            }
        }
        assert_eq!(sent, 1);
        // A more severe alert with the same fingerprint goes through, and says what it follows.
        let Delivered::Published { rendered, .. } = send(&outbox, &mut ctx, "b4", &[(&fp, 3)]).await.unwrap()
        else {
            panic!("more severe: sent");
        };
        assert!(!rendered.known(0));
        assert_eq!(outbox.publisher().messages().len(), 2);
    }

    #[test]
    fn the_suppressed_repeats_are_stated_in_every_format() {
        let s = Suppressed {
            count: 4,
            since: 1_764_151_320,
        };
        assert_eq!(
            s.text_line(),
            "Suppressed:    4 similar alerts suppressed since 2025-11-26T10:02:00.000Z (SUPPRESS_WINDOW_MINUTES)\n"
        );
        assert_eq!(
            s.json(),
            serde_json::json!({"count": 4, "since": "2025-11-26T10:02:00.000Z"})
        );
        assert_eq!(
            s.chat_line(),
            "_4 similar alerts suppressed since 2025-11-26T10:02:00.000Z._\n"
        );
    }

    #[tokio::test]
    async fn a_renderer_that_cannot_fit_releases_the_claim_for_the_retry() {
        let outbox = with_memory(MemoryPublisher::default());
        let mut ctx = ctx(60);
        let err = outbox
            .deliver(&mut ctx, key("a"), &[], |_| async {
                Err::<(SnsMessage, ()), _>(FitError {
                    bytes: 300_000,
                    limit: 262_144,
                })
            })
            .await
            .unwrap_err();
        assert_eq!(err.kind(), "MessageTooLarge");
        // Same deadline: a held claim would answer AlreadyInProgress.
        assert!(admit_and_publish(&outbox, &mut ctx, "a").await.unwrap().is_some());
    }

    #[tokio::test]
    async fn delivery_metrics_are_counted_here_for_every_function() {
        let outbox = with_memory(FailsOnce::default());
        let mut ctx = ctx(60);
        assert!(send(&outbox, &mut ctx, "a", &[]).await.is_err());
        assert!(send(&outbox, &mut ctx, "a", &[]).await.is_ok());
        let config = crate::metrics::MetricsConfig::from_env(&crate::config::Env::default(), "t").unwrap();
        let emf = ctx.metrics.to_emf(&config, 0).unwrap();
        assert_eq!(
            (&emf["PublishFailures"], &emf["AlertsPublished"]),
            (&1.into(), &1.into())
        );
    }
}
