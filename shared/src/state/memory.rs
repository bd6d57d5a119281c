//! The store in memory, for handler tests without a network (feature `test-support`). It applies
//! the same record rules as the DynamoDB store, and the workspace tests run one suite against
//! both (`tests/tests/state.rs`).

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

/// One process's state table; `keep` as `IDEMPOTENCY_TTL_HOURS`.
#[derive(Debug)]
pub struct MemoryStore<C: Clock> {
    tables: Mutex<Tables>,
    keep: Duration,
    max_hold: Duration,
    clock: C,
}

impl<C: Clock> MemoryStore<C> {
    /// With the longest hold Lambda allows (900 s); see [`MemoryStore::with_max_hold`].
    pub fn new(keep: Duration, clock: C) -> Self {
        Self {
            tables: Mutex::new(Tables::default()),
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

    fn tables(&self) -> MutexGuard<'_, Tables> {
        self.tables
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl<C: Clock> StateStore for MemoryStore<C> {
    async fn claim<D: DeserializeOwned + Send>(
        &self,
        key: &IdempotencyKey,
        hold: Duration,
        _timeout: Duration,
    ) -> Result<Claim<D>, StateError> {
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
