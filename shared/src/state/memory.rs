//! The store in memory, for handler tests without a network (feature `test-support`). It applies
//! the same record rules as the DynamoDB store, and the workspace tests run one suite against
//! both (`tests/tests/state.rs`). A test makes it slow or failing with [`MemoryStore::set_faults`].

use super::dynamo::bounded;
use super::note::{NoteKey, Notes, Recalled, decode_note, encode_note};
use super::record::{ClaimRecord, Status, WindowRecord, encode_decision, until, window_limit};
use super::{
    Claim, Clock, DEFAULT_MAX_HOLD, Fingerprint, IdempotencyKey, StateError, StateErrorKind, StateStore,
    Verdict, held,
};
use serde::{Serialize, de::DeserializeOwned};
use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

#[derive(Debug, Clone, Copy)]
struct Window {
    record: WindowRecord,
    severity: u8,
}

#[derive(Debug, Default)]
struct Tables {
    claims: HashMap<String, ClaimRecord>,
    windows: HashMap<String, Window>,
    notes: HashMap<String, StoredNote>,
}

/// A note as the table holds it: its JSON, `expiresAt` and `settledBy`.
#[derive(Debug, Clone)]
struct StoredNote {
    json: String,
    expires_at: u64,
    settled_by: Option<String>,
}

/// What a failing call answers: its kind and the SDK's words (the error's `detail`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fault {
    /// The error's kind.
    pub kind: StateErrorKind,
    /// The error's detail, e.g. `"ThrottlingException: Rate exceeded"`.
    pub detail: &'static str,
}

impl Fault {
    fn error(self, operation: &'static str) -> StateError {
        StateError {
            kind: self.kind,
            operation,
            detail: self.detail.into(),
        }
    }
}

/// The faults a [`MemoryStore`] injects ([`MemoryStore::set_faults`]); the default, none. A
/// failing call changes nothing in the table.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Faults {
    /// How long every claim waits before it is answered. Bounded by the claim's `timeout`, as
    /// the DynamoDB store's calls are: a claim that outlasts it fails as
    /// [`StateErrorKind::Timeout`] when it ends.
    pub claim_delay: Duration,
    /// Every claim fails at once with this.
    pub failing_claims: Option<Fault>,
    /// Every note call (`recall`, `remember`, `settle`) fails with this.
    pub failing_notes: Option<Fault>,
    /// The `remember` calls that fail, by turn (0 = the first after `set_faults`), and how.
    pub failing_remembers: Vec<(usize, Fault)>,
}

/// The faults in force and the `remember` calls made since they were set.
#[derive(Debug, Default)]
struct Injected {
    faults: Faults,
    remembers: usize,
}

/// One process's state table; `keep` as `IDEMPOTENCY_TTL_HOURS`.
#[derive(Debug)]
pub struct MemoryStore<C: Clock> {
    tables: Mutex<Tables>,
    injected: Mutex<Injected>,
    keep: Duration,
    max_hold: Duration,
    clock: C,
}

impl<C: Clock> MemoryStore<C> {
    /// With the longest hold Lambda allows (900 s); see [`MemoryStore::with_max_hold`].
    pub fn new(keep: Duration, clock: C) -> Self {
        Self {
            tables: Mutex::new(Tables::default()),
            injected: Mutex::new(Injected::default()),
            keep,
            max_hold: DEFAULT_MAX_HOLD,
            clock,
        }
    }

    /// As `StateConfig::max_hold`: the function timeout that bounds every claim.
    pub fn with_max_hold(mut self, max_hold: Duration) -> Self {
        self.max_hold = max_hold;
        self
    }

    /// Injects `faults` from the next call on, in place of the previous ones (the table is
    /// kept); `remember` turns count again from 0.
    pub fn set_faults(&self, faults: Faults) {
        *self.injected() = Injected { faults, remembers: 0 };
    }

    fn tables(&self) -> MutexGuard<'_, Tables> {
        self.tables
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn injected(&self) -> MutexGuard<'_, Injected> {
        self.injected
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The claim's fault: an immediate failure, or its delay (bounded by `timeout`).
    async fn claim_fault(&self, timeout: Duration) -> Result<(), StateError> {
        let (failing, delay) = {
            let injected = self.injected();
            (injected.faults.failing_claims, injected.faults.claim_delay)
        };
        if let Some(fault) = failing {
            return Err(fault.error("claim"));
        }
        if delay.is_zero() {
            return Ok(());
        }
        bounded("claim", timeout, async {
            tokio::time::sleep(delay).await;
            Ok(())
        })
        .await
    }

    /// A note call's fault: `failing_notes`, or for a `remember` (which takes its turn) its
    /// turn's.
    fn note_fault(&self, operation: &'static str) -> Result<(), StateError> {
        let mut injected = self.injected();
        let mut failing = injected.faults.failing_notes;
        if operation == "remember" {
            let turn = injected.remembers;
            injected.remembers = turn.saturating_add(1);
            let listed = &injected.faults.failing_remembers;
            failing = failing.or_else(|| listed.iter().find(|(t, _)| *t == turn).map(|&(_, f)| f));
        }
        failing.map_or(Ok(()), |fault| Err(fault.error(operation)))
    }
}

impl<C: Clock> StateStore for MemoryStore<C> {
    async fn claim<D: DeserializeOwned + Send>(
        &self,
        key: &IdempotencyKey,
        hold: Duration,
        timeout: Duration,
    ) -> Result<Claim<D>, StateError> {
        self.claim_fault(timeout).await?;
        let now = self.clock.now();
        let expires_at = until(now, held(hold, self.max_hold));
        let mut tables = self.tables();
        match tables.claims.get_mut(key.as_str()) {
            None => {
                let record = ClaimRecord {
                    status: Status::InProgress,
                    expires_at,
                    message_id: None,
                    decision: None,
                };
                tables.claims.insert(key.as_str().to_string(), record);
                Ok(Claim::Acquired {
                    previous_decision: None,
                })
            }
            Some(record) if record.claimable(now, self.max_hold) => {
                let previous_decision = record.inherited(now, self.max_hold);
                record.status = Status::InProgress;
                record.expires_at = expires_at;
                record.message_id = None;
                Ok(Claim::Acquired { previous_decision })
            }
            Some(record) => record.refusal(now, self.max_hold),
        }
    }

    async fn save_decision<D: Serialize + Sync>(
        &self,
        key: &IdempotencyKey,
        decision: &D,
        _timeout: Duration,
    ) -> Result<(), StateError> {
        let json = encode_decision(decision)?;
        match self.tables().claims.get_mut(key.as_str()) {
            Some(record) if record.status == Status::InProgress => {
                record.decision = Some(json);
                Ok(())
            }
            _ => Err(StateError {
                kind: StateErrorKind::Conflict,
                operation: "save_decision",
                detail: "the claim is no longer in progress".into(),
            }),
        }
    }

    async fn complete(
        &self,
        key: &IdempotencyKey,
        message_id: Option<&str>,
        _timeout: Duration,
    ) -> Result<(), StateError> {
        let record = ClaimRecord {
            status: Status::Done,
            expires_at: until(self.clock.now(), self.keep),
            message_id: message_id.map(String::from),
            decision: None,
        };
        self.tables().claims.insert(key.as_str().to_string(), record);
        Ok(())
    }

    async fn fail(&self, key: &IdempotencyKey, _timeout: Duration) -> Result<(), StateError> {
        let expires_at = until(self.clock.now(), self.keep);
        if let Some(record) = self.tables().claims.get_mut(key.as_str())
            && record.status == Status::InProgress
        {
            record.status = Status::Failed;
            record.expires_at = expires_at;
        }
        Ok(())
    }

    async fn observe(
        &self,
        fingerprint: &Fingerprint,
        severity_rank: u8,
        window: Duration,
        _timeout: Duration,
    ) -> Result<Verdict, StateError> {
        if window.is_zero() {
            return Ok(Verdict::SEND);
        }
        let now = self.clock.now();
        let limit = window_limit(now, window, self.max_hold);
        let mut tables = self.tables();
        let previous = tables.windows.get(fingerprint.as_str()).copied();
        match previous {
            Some(w) if w.record.suppresses(w.severity, severity_rank, now, limit) => {
                let count = w.record.suppressed.saturating_add(1);
                if let Some(stored) = tables.windows.get_mut(fingerprint.as_str()) {
                    stored.record.suppressed = count;
                }
                Ok(Verdict::Suppress {
                    count,
                    since: w.record.opened_at,
                })
            }
            _ => {
                let opened = Window {
                    record: WindowRecord {
                        opened_at: now,
                        window_end: until(now, window),
                        expires_at: until(now, window.saturating_add(self.keep)),
                        suppressed: 0,
                    },
                    severity: severity_rank,
                };
                tables.windows.insert(fingerprint.as_str().to_string(), opened);
                Ok(WindowRecord::send_after(
                    previous.map(|w| w.record).as_ref(),
                    now,
                    limit,
                ))
            }
        }
    }
}

impl<C: Clock> Notes for MemoryStore<C> {
    async fn recall<D: DeserializeOwned + Send>(
        &self,
        key: &NoteKey,
        _timeout: Duration,
    ) -> Result<Option<Recalled<D>>, StateError> {
        self.note_fault("recall")?;
        let now = self.clock.now();
        let stored = self.tables().notes.get(key.as_str()).cloned();
        match stored {
            Some(n) if n.expires_at > now => Ok(Some(Recalled {
                note: decode_note(&n.json, "recall")?,
                settled: n.settled_by.is_some(),
            })),
            _ => Ok(None),
        }
    }

    async fn remember<D: Serialize + Sync>(
        &self,
        key: &NoteKey,
        note: &D,
        keep: Duration,
        _timeout: Duration,
    ) -> Result<(), StateError> {
        self.note_fault("remember")?;
        let stored = StoredNote {
            json: encode_note(note)?,
            expires_at: until(self.clock.now(), keep),
            settled_by: None,
        };
        self.tables().notes.insert(key.as_str().to_string(), stored);
        Ok(())
    }

    async fn settle<D: DeserializeOwned + Send>(
        &self,
        key: &NoteKey,
        by: &IdempotencyKey,
        _timeout: Duration,
    ) -> Result<Option<D>, StateError> {
        self.note_fault("settle")?;
        let now = self.clock.now();
        let mut tables = self.tables();
        match tables.notes.get_mut(key.as_str()) {
            Some(n) if n.expires_at > now && n.settled_by.as_deref().is_none_or(|s| s == by.as_str()) => {
                n.settled_by = Some(by.as_str().to_string());
                decode_note(&n.json, "settle").map(Some)
            }
            _ => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::state::SystemClock;
    use tokio::time::Instant;

    const THROTTLED: Fault = Fault {
        kind: StateErrorKind::Throttled,
        detail: "ThrottlingException: Rate exceeded",
    };

    fn kind<T>(result: Result<T, StateError>) -> Option<(StateErrorKind, &'static str, String)> {
        result.err().map(|e| (e.kind, e.operation, e.detail))
    }

    #[tokio::test(start_paused = true)]
    async fn faults_fail_the_calls_they_name_until_they_are_changed() {
        let store = MemoryStore::new(Duration::from_secs(3_600), SystemClock);
        let key = IdempotencyKey::from_payload("t", b"1");
        let note = NoteKey::new("t", &["n"]);
        let second = Duration::from_secs(1);
        store.set_faults(Faults {
            claim_delay: Duration::from_secs(2),
            failing_remembers: vec![(1, THROTTLED)],
            ..Faults::default()
        });
        // A slow claim is cut off at its timeout and leaves nothing behind.
        let started = Instant::now();
        let cut = store.claim::<String>(&key, second, second).await;
        assert_eq!(started.elapsed(), second);
        assert_eq!(kind(cut).unwrap().0, StateErrorKind::Timeout);
        let waited = store.claim::<String>(&key, second, Duration::from_secs(3)).await;
        assert!(matches!(waited, Ok(Claim::Acquired { .. })), "{waited:?}");
        // Only the listed turn of `remember` fails.
        let mut remembered = Vec::new();
        for n in 0..3_u8 {
            let result = store.remember(&note, &n, Duration::from_secs(60), second).await;
            remembered.push(kind(result));
        }
        let throttled = (
            StateErrorKind::Throttled,
            "remember",
            "ThrottlingException: Rate exceeded".to_string(),
        );
        assert_eq!(remembered, [None, Some(throttled), None]);
        store.set_faults(Faults {
            failing_claims: Some(THROTTLED),
            failing_notes: Some(THROTTLED),
            ..Faults::default()
        });
        assert_eq!(
            kind(store.claim::<String>(&key, second, second).await).unwrap().1,
            "claim"
        );
        assert_eq!(kind(store.recall::<u8>(&note, second).await).unwrap().1, "recall");
        assert_eq!(
            kind(store.settle::<u8>(&note, &key, second).await).unwrap().1,
            "settle"
        );
        // Without faults the table is as the calls that succeeded left it.
        store.set_faults(Faults::default());
        let recalled = store.recall::<u8>(&note, second).await.unwrap().unwrap();
        assert_eq!((recalled.note, recalled.settled), (2, false));
    }
}
