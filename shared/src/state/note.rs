//! Notes: small typed documents a function keeps between invocations in the state table, next
//! to claims and windows. scan-alert keeps the findings it alerted per image (so a rescan
//! alerts only what is new); task-alert keeps a service's open alert (so a recovery resolves
//! it once).
//!
//! Record: `pk` = `note#<function>#<sha256 of the parts>`, `note` (the JSON document, at most
//! [`MAX_NOTE_BYTES`]), `expiresAt` (TTL; compared with the clock on every read, as for the
//! other records) and, once settled, `settledBy` (the idempotency key of the event that
//! settled it). Writing a note replaces it whole and clears `settledBy`.

use super::record::{EXPIRES_AT, Item, PK, number, until};
use super::{Clock, DynamoStore, IdempotencyKey, StateError, StateErrorKind, sha256_hex};
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use serde::{Serialize, de::DeserializeOwned};
use std::future::Future;
use std::time::Duration;

const NOTE: &str = "note";
const SETTLED_BY: &str = "settledBy";

/// A note's JSON, at most: far under DynamoDB's 400 KB item limit, and a bound on what one
/// read may cost. Callers cap what they keep (scan-alert: finding ids per digest).
pub const MAX_NOTE_BYTES: usize = 64 * 1024;

/// The key of one note: `note#<function>#<sha256 of the parts>`. Untrusted parts (repository
/// names, tags, service ARNs) reach the key only as their hash.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct NoteKey(String);

impl NoteKey {
    /// From parts such as the account, region, repository and digest; length-prefixed, so
    /// `["ab", "c"]` and `["a", "bc"]` differ.
    pub fn new(function: &str, parts: &[&str]) -> Self {
        let parts: Vec<&[u8]> = parts.iter().map(|p| p.as_bytes()).collect();
        Self(format!("note#{function}#{}", sha256_hex(&parts)))
    }

    /// The `pk` value, `note#…`.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A note as read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recalled<D> {
    /// The document.
    pub note: D,
    /// Whether an event settled it (task-alert: the open alert was resolved).
    pub settled: bool,
}

/// The notes of the state table. Every call is bounded by `timeout`; every failure is a
/// [`StateError`], and callers fail open (a note not read is a note absent).
pub trait Notes: Send + Sync {
    /// The live note under `key`, if any. A record that does not parse is an
    /// [`StateErrorKind::InvalidRecord`] error (the caller treats it as absent, loudly).
    fn recall<D: DeserializeOwned + Send>(
        &self,
        key: &NoteKey,
        timeout: Duration,
    ) -> impl Future<Output = Result<Option<Recalled<D>>, StateError>> + Send;

    /// Writes `note` under `key` for `keep`, replacing what was there (and its settlement).
    fn remember<D: Serialize + Sync>(
        &self,
        key: &NoteKey,
        note: &D,
        keep: Duration,
        timeout: Duration,
    ) -> impl Future<Output = Result<(), StateError>> + Send;

    /// Settles the live note under `key` on behalf of the event `by`, and returns it; `None`
    /// when there is none, or another event settled it. The same event settling again (a
    /// retry) gets the note again, so its message can still be sent.
    fn settle<D: DeserializeOwned + Send>(
        &self,
        key: &NoteKey,
        by: &IdempotencyKey,
        timeout: Duration,
    ) -> impl Future<Output = Result<Option<D>, StateError>> + Send;
}

/// The note's JSON, refused when larger than [`MAX_NOTE_BYTES`].
pub(super) fn encode_note<D: Serialize>(note: &D) -> Result<String, StateError> {
    let json = serde_json::to_string(note).map_err(|e| StateError {
        kind: StateErrorKind::Misconfigured,
        operation: "remember",
        detail: format!("note not serializable: {e}"),
    })?;
    if json.len() > MAX_NOTE_BYTES {
        return Err(StateError {
            kind: StateErrorKind::Misconfigured,
            operation: "remember",
            detail: format!("note of {} bytes exceeds {MAX_NOTE_BYTES}", json.len()),
        });
    }
    Ok(json)
}

/// The document of a stored note; a record without one, or one that does not parse, is invalid.
pub(super) fn decode_note<D: DeserializeOwned>(json: &str, operation: &'static str) -> Result<D, StateError> {
    if json.len() > MAX_NOTE_BYTES {
        return Err(invalid(operation, "the note exceeds the size a note may have"));
    }
    serde_json::from_str(json).map_err(|_| invalid(operation, "the note does not parse"))
}

fn invalid(operation: &'static str, detail: &str) -> StateError {
    StateError {
        kind: StateErrorKind::InvalidRecord,
        operation,
        detail: detail.into(),
    }
}

fn note_of<D: DeserializeOwned>(item: &Item, operation: &'static str) -> Result<D, StateError> {
    match item.get(NOTE) {
        Some(AttributeValue::S(json)) => decode_note(json, operation),
        _ => Err(invalid(operation, "the record has no `note` string")),
    }
}

impl<C: Clock> DynamoStore<C> {
    async fn recall_inner<D: DeserializeOwned>(
        &self,
        key: &NoteKey,
        timeout: Duration,
    ) -> Result<Option<Recalled<D>>, StateError> {
        let now = self.clock.now();
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(PK, AttributeValue::S(key.as_str().into()))
            .consistent_read(true)
            .customize()
            .config_override(super::dynamo::limits(&self.client, timeout))
            .send()
            .await
            .map_err(|e| super::dynamo::classify(&e, "recall"))?;
        let Some(item) = out.item.filter(|i| !i.is_empty()) else {
            return Ok(None);
        };
        // DynamoDB deletes expired items days late.
        if number(&item, EXPIRES_AT, "recall")? <= now {
            return Ok(None);
        }
        Ok(Some(Recalled {
            note: note_of(&item, "recall")?,
            settled: item.contains_key(SETTLED_BY),
        }))
    }

    async fn remember_inner(
        &self,
        key: &NoteKey,
        json: String,
        keep: Duration,
        timeout: Duration,
    ) -> Result<(), StateError> {
        let now = self.clock.now();
        self.client
            .update_item()
            .table_name(&self.table)
            .key(PK, AttributeValue::S(key.as_str().into()))
            .update_expression("SET #note = :note, #exp = :exp REMOVE #settled")
            .expression_attribute_names("#note", NOTE)
            .expression_attribute_names("#exp", EXPIRES_AT)
            .expression_attribute_names("#settled", SETTLED_BY)
            .expression_attribute_values(":note", AttributeValue::S(json))
            .expression_attribute_values(":exp", AttributeValue::N(until(now, keep).to_string()))
            .customize()
            .config_override(super::dynamo::limits(&self.client, timeout))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| super::dynamo::classify(&e, "remember"))
    }

    async fn settle_inner<D: DeserializeOwned>(
        &self,
        key: &NoteKey,
        by: &IdempotencyKey,
        timeout: Duration,
    ) -> Result<Option<D>, StateError> {
        let now = self.clock.now();
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(PK, AttributeValue::S(key.as_str().into()))
            .update_expression("SET #settled = :by")
            .condition_expression(
                "attribute_exists(#note) AND #exp > :now AND (attribute_not_exists(#settled) OR #settled = :by)",
            )
            .expression_attribute_names("#note", NOTE)
            .expression_attribute_names("#exp", EXPIRES_AT)
            .expression_attribute_names("#settled", SETTLED_BY)
            .expression_attribute_values(":by", AttributeValue::S(by.as_str().into()))
            .expression_attribute_values(":now", AttributeValue::N(now.to_string()))
            .return_values(ReturnValue::AllNew)
            .customize()
            .config_override(super::dynamo::limits(&self.client, timeout))
            .send()
            .await;
        match result {
            Ok(out) => note_of(&out.attributes.unwrap_or_default(), "settle").map(Some),
            Err(e) if crate::aws::error_code(&e) == Some(super::dynamo::CONDITION_FAILED) => Ok(None),
            Err(e) => Err(super::dynamo::classify(&e, "settle")),
        }
    }
}

impl<C: Clock> Notes for DynamoStore<C> {
    async fn recall<D: DeserializeOwned + Send>(
        &self,
        key: &NoteKey,
        timeout: Duration,
    ) -> Result<Option<Recalled<D>>, StateError> {
        super::dynamo::bounded("recall", timeout, self.recall_inner(key, timeout)).await
    }

    async fn remember<D: Serialize + Sync>(
        &self,
        key: &NoteKey,
        note: &D,
        keep: Duration,
        timeout: Duration,
    ) -> Result<(), StateError> {
        let json = encode_note(note)?;
        super::dynamo::bounded("remember", timeout, self.remember_inner(key, json, keep, timeout)).await
    }

    async fn settle<D: DeserializeOwned + Send>(
        &self,
        key: &NoteKey,
        by: &IdempotencyKey,
        timeout: Duration,
    ) -> Result<Option<D>, StateError> {
        super::dynamo::bounded("settle", timeout, self.settle_inner(key, by, timeout)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_hash_their_parts_and_keep_them_apart() {
        let a = NoteKey::new("scan-alert", &["ab", "c"]);
        assert!(a.as_str().starts_with("note#scan-alert#"));
        assert_eq!(a.as_str().len(), "note#scan-alert#".len() + 64);
        assert_ne!(a, NoteKey::new("scan-alert", &["a", "bc"]));
        assert!(!a.as_str().contains("ab"));
    }

    #[test]
    fn notes_larger_than_the_bound_are_refused_both_ways() {
        // At the bound exactly (a JSON string: two quotes around the text) it is kept.
        let edge = "x".repeat(MAX_NOTE_BYTES - 2);
        let json = encode_note(&edge).unwrap();
        assert_eq!(json.len(), MAX_NOTE_BYTES);
        assert_eq!(decode_note::<String>(&json, "recall").unwrap(), edge);
        let big = "x".repeat(MAX_NOTE_BYTES);
        let e = encode_note(&big).unwrap_err();
        assert_eq!((e.kind, e.operation), (StateErrorKind::Misconfigured, "remember"));
        assert!(e.detail.contains("exceeds 65536"), "{}", e.detail);
        let stored = format!("\"{big}\"");
        let e = decode_note::<String>(&stored, "recall").unwrap_err();
        assert_eq!(e.kind, StateErrorKind::InvalidRecord);
        let e = decode_note::<Vec<u8>>("{\"hunter2\":1}", "recall").unwrap_err();
        assert!(!e.detail.contains("hunter2"));
    }
}
