//! The one sequence every alert goes through before it is published: claim, then (unless an
//! earlier attempt already decided) the suppression window, then the decision saved with the
//! claim. Failing open is decided here, once: a store problem is recorded and the alert goes
//! out.

use super::{Claim, Fingerprint, IdempotencyKey, StateError, StateStore, Verdict};
use futures::future::join_all;
use serde::{Deserialize, Serialize};
use std::time::Duration;
use tokio::time::Instant;

/// What to do with one alert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ruling {
    /// Publish. `verdicts`: one per fingerprint admitted, in order (`Send`: new, with the
    /// repeats suppressed since; `Suppress`: already alerted inside the window, shown as a
    /// count). `claimed`: this attempt holds the claim, so it calls `complete` after a
    /// confirmed publish and `fail` otherwise.
    Publish {
        /// One per fingerprint, in order.
        verdicts: Vec<Verdict>,
        /// Whether this attempt holds the claim.
        claimed: bool,
    },
    /// An earlier attempt completed this alert: publish nothing.
    AlreadyDone {
        /// Its SNS MessageId (`None`: it completed without publishing).
        message_id: Option<String>,
    },
    /// Every fingerprint is a repeat inside its window (the highest repeat number is `count`):
    /// publish nothing; the claim is completed.
    Suppressed {
        /// The highest repeat number among the parts.
        count: u64,
    },
    /// Another attempt holds the claim until `until` (epoch s): fail with a retryable error.
    Busy {
        /// When its claim ends, epoch seconds.
        until: u64,
    },
}

/// The ruling and the store problems met on the way (each one: warn and count a metric).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Admitted {
    /// What to do with the alert.
    pub ruling: Ruling,
    /// Store problems met (the alert failed open past them).
    pub problems: Vec<StateError>,
}

/// The decision a claim carries for a retry: the verdict per fingerprint, in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Decision {
    verdicts: Vec<Verdict>,
}

/// Admits one alert under `key`. `alerts`: the fingerprint and severity rank of each part of
/// the alert that suppression decides on (a log batch's groups; empty for a message that is
/// never suppressed, such as a run summary). The alert is suppressed only when every part is
/// a repeat inside its window: one new part sends it. `hold`: how long this attempt may still
/// run; `budget`: the time all store calls together may take.
pub async fn admit<S: StateStore>(
    store: &S,
    key: &IdempotencyKey,
    alerts: &[(&Fingerprint, u8)],
    window: Duration,
    hold: Duration,
    budget: Duration,
) -> Admitted {
    admit_escalating(store, key, alerts, window, None, hold, budget).await
}

/// As [`admit`], and a repeat that makes a part's `escalate_at`-th alert inside its window
/// (task-alert: `CRASH_LOOP_STOPS`) is published too, once: the crash loop named when it
/// happens. The escalation follows from the verdicts alone, so a retry that inherits them
/// escalates the same way, and the stops after it stay suppressed.
pub async fn admit_escalating<S: StateStore>(
    store: &S,
    key: &IdempotencyKey,
    alerts: &[(&Fingerprint, u8)],
    window: Duration,
    escalate_at: Option<u64>,
    hold: Duration,
    budget: Duration,
) -> Admitted {
    let publishes = |verdicts: &[Verdict]| sends(verdicts) || escalation(verdicts, escalate_at).is_some();
    let until = Instant::now() + budget;
    let left = || until.saturating_duration_since(Instant::now());
    let mut problems = Vec::new();
    let (claimed, previous) = match store.claim::<Decision>(key, hold, left()).await {
        Ok(Claim::Acquired { previous_decision }) => (true, previous_decision),
        Ok(Claim::AlreadyDone { message_id }) => {
            return Admitted {
                ruling: Ruling::AlreadyDone { message_id },
                problems,
            };
        }
        Ok(Claim::InProgress { until }) => {
            return Admitted {
                ruling: Ruling::Busy { until },
                problems,
            };
        }
        Err(e) => {
            problems.push(e);
            (false, None)
        }
    };
    // An earlier attempt's decision wins: its alert opened the windows this retry would
    // otherwise be suppressed by.
    let verdicts = match previous {
        Some(decided) if decided.verdicts.len() == alerts.len() => decided.verdicts,
        _ => {
            // Observed together: each is one or two small writes, and the budget is shared.
            let observed = join_all(
                alerts
                    .iter()
                    .map(|(fingerprint, rank)| store.observe(fingerprint, *rank, window, left())),
            )
            .await;
            let verdicts: Vec<Verdict> = observed
                .into_iter()
                .map(|result| {
                    result.unwrap_or_else(|e| {
                        problems.push(e);
                        Verdict::SEND
                    })
                })
                .collect();
            // Saved for a retry that takes over after this attempt fails.
            if claimed
                && publishes(&verdicts)
                && !alerts.is_empty()
                && let Err(e) = store
                    .save_decision(
                        key,
                        &Decision {
                            verdicts: verdicts.clone(),
                        },
                        left(),
                    )
                    .await
            {
                problems.push(e);
            }
            verdicts
        }
    };
    let ruling = if publishes(&verdicts) {
        Ruling::Publish { verdicts, claimed }
    } else {
        if claimed && let Err(e) = store.complete(key, None, left()).await {
            problems.push(e);
        }
        let count = verdicts
            .iter()
            .filter_map(|v| match v {
                Verdict::Suppress { count, .. } => Some(*count),
                Verdict::Send { .. } => None,
            })
            .max()
            .unwrap_or(0);
        Ruling::Suppressed { count }
    };
    Admitted { ruling, problems }
}

/// The repeat that escalates: a part's `at`-th alert inside its window, as (alerts so far,
/// when the window opened). `at` below 2 never escalates (the first alert is not a repeat).
pub fn escalation(verdicts: &[Verdict], at: Option<u64>) -> Option<(u64, u64)> {
    let at = at.filter(|at| *at >= 2)?;
    verdicts.iter().find_map(|v| match *v {
        Verdict::Suppress { count, since } if count.saturating_add(1) == at => Some((at, since)),
        _ => None,
    })
}

/// Whether an alert with these verdicts goes out: no part to decide on, or one new part.
fn sends(verdicts: &[Verdict]) -> bool {
    verdicts.is_empty() || verdicts.iter().any(|v| matches!(v, Verdict::Send { .. }))
}

#[cfg(test)]
mod tests {
    use super::super::{MemoryStore, StateErrorKind};
    use super::*;
    use crate::state::Clock;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};

    const T0: u64 = 1_800_000_000;
    const WINDOW: Duration = Duration::from_secs(900);
    const HOLD: Duration = Duration::from_secs(60);
    const BUDGET: Duration = Duration::from_secs(1);

    #[derive(Clone)]
    struct TestClock(Arc<AtomicU64>);
    impl Clock for TestClock {
        fn now(&self) -> u64 {
            self.0.load(Ordering::SeqCst)
        }
    }

    fn store() -> (MemoryStore<TestClock>, TestClock) {
        let clock = TestClock(Arc::new(AtomicU64::new(T0)));
        (
            MemoryStore::new(Duration::from_secs(86_400), clock.clone()),
            clock,
        )
    }

    /// A store whose every call fails, as a throttled table's would.
    struct Down;
    fn down(operation: &'static str) -> StateError {
        StateError {
            kind: StateErrorKind::Throttled,
            operation,
            detail: "ThrottlingException: Rate exceeded".into(),
        }
    }
    impl StateStore for Down {
        async fn claim<D: serde::de::DeserializeOwned + Send>(
            &self,
            _: &IdempotencyKey,
            _: Duration,
            _: Duration,
        ) -> Result<Claim<D>, StateError> {
            Err(down("claim"))
        }
        async fn save_decision<D: serde::Serialize + Sync>(
            &self,
            _: &IdempotencyKey,
            _: &D,
            _: Duration,
        ) -> Result<(), StateError> {
            Err(down("save_decision"))
        }
        async fn complete(&self, _: &IdempotencyKey, _: Option<&str>, _: Duration) -> Result<(), StateError> {
            Err(down("complete"))
        }
        async fn fail(&self, _: &IdempotencyKey, _: Duration) -> Result<(), StateError> {
            Err(down("fail"))
        }
        async fn observe(
            &self,
            _: &Fingerprint,
            _: u8,
            _: Duration,
            _: Duration,
        ) -> Result<Verdict, StateError> {
            Err(down("observe"))
        }
    }

    fn key(payload: &str) -> IdempotencyKey {
        IdempotencyKey::from_payload("log-alert", payload.as_bytes())
    }

    #[tokio::test]
    async fn a_retry_after_a_failed_publish_is_not_suppressed_by_its_own_window() {
        let (store, clock) = store();
        let fp = Fingerprint::new("log-alert", &["/ecs/web", "db down"]);
        let alert = &[(&fp, 3)];
        let first = admit(&store, &key("batch-1"), alert, WINDOW, HOLD, BUDGET).await;
        assert_eq!(
            first.ruling,
            Ruling::Publish {
                verdicts: vec![Verdict::SEND],
                claimed: true
            }
        );
        // The publish fails; Lambda retries a minute later.
        store.fail(&key("batch-1"), BUDGET).await.unwrap();
        clock.0.store(T0 + 60, Ordering::SeqCst);
        let retry = admit(&store, &key("batch-1"), alert, WINDOW, HOLD, BUDGET).await;
        assert_eq!(
            first.ruling, retry.ruling,
            "same decision, not a suppressed repeat"
        );
        assert!(retry.problems.is_empty());
        // Another batch with the same error is a repeat.
        let other = admit(&store, &key("batch-2"), alert, WINDOW, HOLD, BUDGET).await;
        assert_eq!(other.ruling, Ruling::Suppressed { count: 1 });
        // ... and its retry does not count again.
        let other_retry = admit(&store, &key("batch-2"), alert, WINDOW, HOLD, BUDGET).await;
        assert_eq!(other_retry.ruling, Ruling::AlreadyDone { message_id: None });
    }

    #[tokio::test]
    async fn the_third_stop_inside_the_window_escalates_once_and_its_retry_does_too() {
        let (store, clock) = store();
        let fp = Fingerprint::new("task-alert", &["service/prod/web"]);
        let alert = &[(&fp, 3)];
        let at = Some(3);
        let stop = |n: &'static str| {
            let (store, k) = (&store, key(n));
            async move { admit_escalating(store, &k, alert, WINDOW, at, HOLD, BUDGET).await }
        };
        assert!(matches!(stop("stop-1").await.ruling, Ruling::Publish { .. }));
        clock.0.store(T0 + 60, Ordering::SeqCst);
        assert_eq!(stop("stop-2").await.ruling, Ruling::Suppressed { count: 1 });
        clock.0.store(T0 + 120, Ordering::SeqCst);
        let third = stop("stop-3").await.ruling;
        let loop_alert = Ruling::Publish {
            verdicts: vec![Verdict::Suppress { count: 2, since: T0 }],
            claimed: true,
        };
        assert_eq!(third, loop_alert);
        // Its publish fails: the retry inherits the decision and escalates again.
        store.fail(&key("stop-3"), BUDGET).await.unwrap();
        assert_eq!(stop("stop-3").await.ruling, loop_alert);
        // Further stops stay suppressed.
        assert_eq!(stop("stop-4").await.ruling, Ruling::Suppressed { count: 3 });
        assert_eq!(
            escalation(&[Verdict::Suppress { count: 2, since: T0 }], Some(3)),
            Some((3, T0))
        );
        assert_eq!(
            escalation(&[Verdict::Suppress { count: 0, since: T0 }], Some(1)),
            None
        );
        assert_eq!(
            escalation(&[Verdict::Suppress { count: 2, since: T0 }], None),
            None
        );
    }

    #[tokio::test]
    async fn one_new_part_sends_the_alert_and_known_parts_only_count() {
        let (store, _clock) = store();
        let (forged, real) = (
            Fingerprint::new("log-alert", &["/ecs/web", "ERROR invalid coupon code #"]),
            Fingerprint::new(
                "log-alert",
                &["/ecs/web", "ERROR database connection pool exhausted"],
            ),
        );
        let first = admit(&store, &key("b1"), &[(&forged, 3)], WINDOW, HOLD, BUDGET).await;
        assert_eq!(
            first.ruling,
            Ruling::Publish {
                verdicts: vec![Verdict::SEND],
                claimed: true
            }
        );
        // The next batch repeats the known line and adds a new one: it is sent, and says which.
        let second = admit(
            &store,
            &key("b2"),
            &[(&forged, 3), (&real, 3)],
            WINDOW,
            HOLD,
            BUDGET,
        )
        .await;
        assert_eq!(
            second.ruling,
            Ruling::Publish {
                verdicts: vec![Verdict::Suppress { count: 1, since: T0 }, Verdict::SEND],
                claimed: true
            }
        );
        // Both known now: suppressed.
        let third = admit(
            &store,
            &key("b3"),
            &[(&real, 3), (&forged, 3)],
            WINDOW,
            HOLD,
            BUDGET,
        )
        .await;
        assert_eq!(third.ruling, Ruling::Suppressed { count: 2 });
        assert!(third.problems.is_empty());
    }

    #[tokio::test]
    async fn delivered_and_busy_alerts_are_not_published() {
        let (store, _clock) = store();
        let k = key("batch-1");
        assert!(matches!(
            admit(&store, &k, &[], WINDOW, HOLD, BUDGET).await.ruling,
            Ruling::Publish { claimed: true, .. }
        ));
        assert_eq!(
            admit(&store, &k, &[], WINDOW, HOLD, BUDGET).await.ruling,
            Ruling::Busy { until: T0 + 60 }
        );
        store.complete(&k, Some("msg-1"), BUDGET).await.unwrap();
        assert_eq!(
            admit(&store, &k, &[], WINDOW, HOLD, BUDGET).await.ruling,
            Ruling::AlreadyDone {
                message_id: Some("msg-1".into())
            }
        );
    }

    #[tokio::test]
    async fn a_store_that_is_down_lets_every_alert_out_and_says_why() {
        let fp = Fingerprint::new("log-alert", &["/ecs/web", "db down"]);
        for _ in 0..2 {
            let admitted = admit(&Down, &key("batch-1"), &[(&fp, 3)], WINDOW, HOLD, BUDGET).await;
            assert_eq!(
                admitted.ruling,
                Ruling::Publish {
                    verdicts: vec![Verdict::SEND],
                    claimed: false
                }
            );
            let operations: Vec<_> = admitted.problems.iter().map(|e| (e.operation, e.kind)).collect();
            assert_eq!(
                operations,
                [
                    ("claim", StateErrorKind::Throttled),
                    ("observe", StateErrorKind::Throttled)
                ]
            );
        }
    }
}
