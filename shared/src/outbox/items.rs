//! Done marks per item, for an alert that covers many items of a stream batch (log-alert: the
//! records of a Kinesis batch, one alert per account and log group). Lambda delivers again
//! every record after the first one reported as failed, alerted or not, so each record carries
//! its own idempotency claim: [`Outbox::claim_items`] says which records an earlier attempt
//! already alerted, [`Outbox::items_done`] marks the records of an alert once it is settled
//! (published, suppressed, or found delivered), and [`Outbox::release_items`] hands the
//! records of an alert that was not delivered to the retry at once, with a note for it.
//!
//! The marks are the state table's idempotency claims (`idem#…`, [`crate::state`]), one per
//! item. Without a store every item is new (at-least-once, as everywhere without one); a store
//! problem fails open, logged and counted as `StateStoreProblems`, except a claim the state
//! budget cut off ([`ItemClaim::Unclaimed`]): its item may be settled already, so it is not
//! delivered but left for the retry.

use super::{Outbox, STATE_BUDGET, STATE_STORE_PROBLEMS, record, state_problem};
use crate::invocation::Invocation;
use crate::state::{Claim, IdempotencyKey, StateErrorKind, StateStore};
use futures::future::join_all;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::time::Instant;

/// Store calls in flight at once for one alert's items: one round trip per this many items.
/// In waves of `join_all`: `buffered` over a closure that borrows a key fails rustc's
/// higher-ranked `Send` check in the handlers that await it.
const ITEMS_IN_FLIGHT: usize = 16;

/// What the state table says of one item before its alert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ItemClaim<N> {
    /// New, or left by an attempt that did not deliver it: this attempt holds it. `note`: what
    /// that attempt left with it ([`Outbox::release_items`]).
    Held {
        /// The note of the attempt that released it, if any.
        note: Option<N>,
    },
    /// An earlier attempt settled it: leave it out.
    Done,
    /// Another attempt holds it (or one that crashed, until its hold ends at `until`, epoch
    /// seconds): report it as not delivered, so Lambda retries it.
    Busy {
        /// When that hold ends.
        until: u64,
    },
    /// The state budget ran out before its claim was made (a slow table): it may be settled
    /// already, so failing open could alert it again. Report it as not delivered.
    Unclaimed,
}

impl<P, S: StateStore> Outbox<P, S> {
    /// Claims each of `keys` for this attempt (held until its deadline), a few at a time, all
    /// within one state budget (as an alert's own claim: at most 3 s, half the time left).
    /// In the order of `keys`. A claim the budget cut off, or never started, is
    /// [`ItemClaim::Unclaimed`]; any other store problem fails open.
    pub async fn claim_items<N: DeserializeOwned + Send>(
        &self,
        ctx: &mut Invocation,
        keys: &[IdempotencyKey],
    ) -> Vec<ItemClaim<N>> {
        let Some((store, _)) = &self.state else {
            return keys.iter().map(|_| ItemClaim::Held { note: None }).collect();
        };
        let hold = ctx.deadline.remaining();
        let budget = (ctx.deadline.remaining_before(self.margin) / 2).min(STATE_BUDGET);
        let until = Instant::now() + budget;
        let mut items = Vec::with_capacity(keys.len());
        let mut cut_off = 0usize;
        for wave in keys.chunks(ITEMS_IN_FLIGHT) {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                // The budget is spent: these are not claimed at all.
                cut_off = cut_off.saturating_add(wave.len());
                items.extend(wave.iter().map(|_| ItemClaim::Unclaimed));
                continue;
            }
            // Each claim with whether the budget had run out when it ended.
            let calls = wave.iter().map(|key| async move {
                let claim = store.claim::<N>(key, hold, left).await;
                (claim, Instant::now() >= until)
            });
            for (claim, spent) in join_all(calls).await {
                items.push(match claim {
                    Ok(Claim::Acquired { previous_decision }) => ItemClaim::Held {
                        note: previous_decision,
                    },
                    Ok(Claim::AlreadyDone { .. }) => ItemClaim::Done,
                    Ok(Claim::InProgress { until }) => ItemClaim::Busy { until },
                    // The store ends a call at its timeout, the budget's end: the budget ran
                    // out, not the store. Counted (a slow table), not failed open.
                    Err(problem) if spent && problem.kind == StateErrorKind::Timeout => {
                        ctx.metrics.add(STATE_STORE_PROBLEMS, 1);
                        cut_off = cut_off.saturating_add(1);
                        ItemClaim::Unclaimed
                    }
                    Err(problem) => {
                        state_problem(ctx, &problem);
                        ItemClaim::Held { note: None }
                    }
                });
            }
        }
        if cut_off > 0 {
            tracing::warn!(
                items = cut_off,
                of = keys.len(),
                budget_ms = u64::try_from(budget.as_millis()).unwrap_or(u64::MAX),
                "state table claims did not finish within their budget; those items are left for \
                 Lambda's retry, not delivered (they may have been alerted already); the calls that \
                 timed out are counted in StateStoreProblems"
            );
        }
        items
    }

    /// Marks `keys` done (`message_id`: the alert that covered them, `None` when it was not
    /// sent), so a later delivery of any of them is left out. Within what is left of the
    /// margin, as the alert's own record.
    pub async fn items_done(&self, ctx: &mut Invocation, keys: &[IdempotencyKey], message_id: Option<&str>) {
        let Some((store, _)) = &self.state else {
            return;
        };
        let until = Instant::now() + ctx.deadline.remaining_before(self.margin / 4);
        for wave in keys.chunks(ITEMS_IN_FLIGHT) {
            let left = until.saturating_duration_since(Instant::now());
            for written in join_all(wave.iter().map(|key| store.complete(key, message_id, left))).await {
                record(ctx, written);
            }
        }
    }

    /// Releases `keys` (their alert was not delivered, or not tried) so that a retry takes
    /// them over at once; `note` is left with the first key for that retry
    /// ([`ItemClaim::Held`]).
    pub async fn release_items<N: Serialize + Sync>(
        &self,
        ctx: &mut Invocation,
        keys: &[IdempotencyKey],
        note: Option<&N>,
    ) {
        let Some((store, _)) = &self.state else {
            return;
        };
        let until = Instant::now() + ctx.deadline.remaining_before(self.margin / 4);
        let left = || until.saturating_duration_since(Instant::now());
        if let (Some(first), Some(note)) = (keys.first(), note) {
            let saved = store.save_decision(first, note, left()).await;
            record(ctx, saved);
        }
        for wave in keys.chunks(ITEMS_IN_FLIGHT) {
            let left = left();
            for written in join_all(wave.iter().map(|key| store.fail(key, left))).await {
                record(ctx, written);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::deadline::Deadline;
    use crate::state::{Fault, Faults, MemoryStore, SystemClock};
    use std::time::Duration;

    fn ctx() -> Invocation {
        Invocation::new(Deadline::after(Duration::from_secs(60)), "r")
    }

    fn keys(items: &[&str]) -> Vec<IdempotencyKey> {
        let batch = IdempotencyKey::from_payload("t", b"stream");
        items.iter().map(|item| batch.item(item)).collect()
    }

    #[tokio::test]
    async fn items_settled_done_are_left_out_and_released_ones_come_back_with_the_note() {
        let store = MemoryStore::new(Duration::from_secs(86_400), SystemClock);
        let outbox = Outbox::new((), Duration::from_millis(500)).with_state(Some(store), Duration::ZERO);
        let (first, second) = (keys(&["1", "2"]), keys(&["3", "4"]));
        let mut ctx = ctx();
        let held = outbox
            .claim_items::<String>(&mut ctx, &[first.clone(), second.clone()].concat())
            .await;
        assert!(
            held.iter().all(|c| *c == ItemClaim::Held { note: None }),
            "{held:?}"
        );
        outbox.items_done(&mut ctx, &first, Some("m-1")).await;
        outbox
            .release_items(&mut ctx, &second, Some(&"up to 4".to_string()))
            .await;
        // The retry: 1 and 2 were alerted; 3 and 4 are its to deliver, 3 with the note.
        let retry = outbox
            .claim_items::<String>(&mut ctx, &keys(&["1", "2", "3", "4"]))
            .await;
        assert_eq!(
            retry,
            vec![
                ItemClaim::Done,
                ItemClaim::Done,
                ItemClaim::Held {
                    note: Some("up to 4".into())
                },
                ItemClaim::Held { note: None },
            ]
        );
        // Held and not settled: another attempt finds them busy.
        let busy = outbox.claim_items::<String>(&mut ctx, &keys(&["3"])).await;
        assert!(matches!(busy[..], [ItemClaim::Busy { .. }]), "{busy:?}");
    }

    #[tokio::test]
    async fn without_a_store_every_item_is_new() {
        let outbox = Outbox::new((), Duration::from_millis(500));
        let mut ctx = ctx();
        let items = keys(&["1"]);
        outbox.items_done(&mut ctx, &items, Some("m-1")).await;
        assert_eq!(
            outbox.claim_items::<String>(&mut ctx, &items).await,
            vec![ItemClaim::Held { note: None }]
        );
    }

    fn problems(ctx: &Invocation) -> serde_json::Value {
        let config = crate::metrics::MetricsConfig::from_env(&crate::config::Env::default(), "t").unwrap();
        ctx.metrics.to_emf(&config, 0).unwrap()["StateStoreProblems"].clone()
    }

    /// Claims of 2 s against a 3 s budget: the first wave of 16 is claimed, the second is cut
    /// off at the budget's end and the third never starts. Those are not failed open (they
    /// may have been alerted already); a store that refuses a claim still fails open.
    #[tokio::test(start_paused = true)]
    async fn claims_the_budget_cut_off_are_unclaimed_not_held() {
        let slow = |throttled: bool| {
            let table = MemoryStore::new(Duration::from_secs(86_400), SystemClock);
            table.set_faults(Faults {
                claim_delay: Duration::from_secs(2),
                failing_claims: throttled.then_some(Fault {
                    kind: StateErrorKind::Throttled,
                    detail: "no answer",
                }),
                ..Faults::default()
            });
            table
        };
        let items: Vec<String> = (0..40).map(|n| n.to_string()).collect();
        let items: Vec<&str> = items.iter().map(String::as_str).collect();
        let outbox =
            Outbox::new((), Duration::from_millis(500)).with_state(Some(slow(false)), Duration::ZERO);
        let mut cut = ctx();
        let started = Instant::now();
        let claims = outbox.claim_items::<String>(&mut cut, &keys(&items)).await;
        assert_eq!(started.elapsed(), Duration::from_secs(3));
        assert!(
            claims[..16].iter().all(|c| *c == ItemClaim::Held { note: None }),
            "{claims:?}"
        );
        assert!(
            claims[16..].iter().all(|c| *c == ItemClaim::Unclaimed),
            "{claims:?}"
        );
        // The 16 calls that timed out: a slow table, for the alarm.
        assert_eq!(problems(&cut), 16);
        let outbox = Outbox::new((), Duration::from_millis(500)).with_state(Some(slow(true)), Duration::ZERO);
        let mut refused = ctx();
        let claims = outbox.claim_items::<String>(&mut refused, &keys(&items)).await;
        assert!(
            claims.iter().all(|c| *c == ItemClaim::Held { note: None }),
            "{claims:?}"
        );
        assert_eq!(problems(&refused), 40);
    }
}
