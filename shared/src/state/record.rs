//! The table's records and what they mean at a given instant: pure, so the expiry logic is
//! tested with any clock. The DynamoDB conditions in `dynamo.rs` say the same thing in
//! expression form.

use super::{Claim, StateError, StateErrorKind, Verdict};
use aws_sdk_dynamodb::types::AttributeValue;
use serde::{Serialize, de::DeserializeOwned};
use std::collections::HashMap;
use std::time::Duration;

pub(super) const PK: &str = "pk";
pub(super) const EXPIRES_AT: &str = "expiresAt";
pub(super) const STATUS: &str = "status";
pub(super) const MESSAGE_ID: &str = "messageId";
pub(super) const DECISION: &str = "decision";
pub(super) const OPENED_AT: &str = "openedAt";
pub(super) const WINDOW_END: &str = "windowEnd";
pub(super) const SEVERITY: &str = "severity";
pub(super) const SUPPRESSED: &str = "suppressed";

pub(super) const IN_PROGRESS: &str = "in_progress";
pub(super) const DONE: &str = "done";
pub(super) const FAILED: &str = "failed";

pub(super) type Item = HashMap<String, AttributeValue>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Status {
    InProgress,
    Done,
    Failed,
}

/// An idempotency claim as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct ClaimRecord {
    pub(super) status: Status,
    pub(super) expires_at: u64,
    pub(super) message_id: Option<String>,
    pub(super) decision: Option<String>,
}

/// A suppression window as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct WindowRecord {
    pub(super) opened_at: u64,
    pub(super) expires_at: u64,
    pub(super) suppressed: u64,
}

fn invalid(operation: &'static str, detail: String) -> StateError {
    StateError {
        kind: StateErrorKind::InvalidRecord,
        operation,
        detail,
    }
}

/// `now + d` in whole seconds, rounded up: a hold or window never ends early.
pub(super) fn until(now: u64, d: Duration) -> u64 {
    now.saturating_add(d.as_secs())
        .saturating_add(u64::from(d.subsec_nanos() > 0))
}

pub(super) fn number(item: &Item, name: &str, operation: &'static str) -> Result<u64, StateError> {
    match item.get(name) {
        Some(AttributeValue::N(n)) => n
            .parse()
            .map_err(|_| invalid(operation, format!("attribute {name} is not a whole number"))),
        Some(_) => Err(invalid(operation, format!("attribute {name} is not a Number"))),
        None => Err(invalid(operation, format!("attribute {name} is missing"))),
    }
}

fn string(item: &Item, name: &str) -> Option<String> {
    match item.get(name) {
        Some(AttributeValue::S(s)) => Some(s.clone()),
        _ => None,
    }
}

impl ClaimRecord {
    pub(super) fn parse(item: &Item, operation: &'static str) -> Result<Self, StateError> {
        let status = match item.get(STATUS) {
            Some(AttributeValue::S(s)) if s == IN_PROGRESS => Status::InProgress,
            Some(AttributeValue::S(s)) if s == DONE => Status::Done,
            Some(AttributeValue::S(s)) if s == FAILED => Status::Failed,
            _ => {
                return Err(invalid(
                    operation,
                    format!("attribute {STATUS} is not a claim status"),
                ));
            }
        };
        Ok(Self {
            status,
            expires_at: number(item, EXPIRES_AT, operation)?,
            message_id: string(item, MESSAGE_ID),
            decision: string(item, DECISION),
        })
    }

    /// What a claim that was refused (the condition failed) means at `now`.
    pub(super) fn refusal<D>(&self, now: u64) -> Result<Claim<D>, StateError> {
        match self.status {
            Status::Done if self.expires_at > now => Ok(Claim::AlreadyDone {
                message_id: self.message_id.clone(),
            }),
            Status::InProgress if self.expires_at > now => Ok(Claim::InProgress {
                until: self.expires_at,
            }),
            // Claimable by the condition's own terms: the record changed between the
            // condition and this read, or clocks disagree. Let the caller fail open.
            _ => Err(StateError {
                kind: StateErrorKind::Conflict,
                operation: "claim",
                detail: "claim refused, but the record found is claimable".into(),
            }),
        }
    }

    /// The decision a claim taken over from this record inherits: only from an attempt that
    /// did not complete (failed, or crashed while in progress). Done records carry none.
    pub(super) fn inherited<D: DeserializeOwned>(&self) -> Result<Option<D>, StateError> {
        match (self.status, &self.decision) {
            (Status::InProgress | Status::Failed, Some(json)) => serde_json::from_str(json)
                .map(Some)
                .map_err(|e| invalid("claim", format!("attribute {DECISION} is unreadable: {e}"))),
            _ => Ok(None),
        }
    }
}

/// The `decision` attribute's text: both stores save what `inherited` reads back.
pub(super) fn encode_decision<D: Serialize>(decision: &D) -> Result<String, StateError> {
    serde_json::to_string(decision)
        .map_err(|e| invalid("save_decision", format!("decision not serializable: {e}")))
}

impl WindowRecord {
    pub(super) fn parse(item: &Item, operation: &'static str) -> Result<Self, StateError> {
        Ok(Self {
            opened_at: number(item, OPENED_AT, operation)?,
            expires_at: number(item, EXPIRES_AT, operation)?,
            suppressed: match item.get(SUPPRESSED) {
                None => 0,
                Some(_) => number(item, SUPPRESSED, operation)?,
            },
        })
    }

    /// The verdict of the alert that replaced this window at `now`: the repeats counted since
    /// its alert, unless the record had expired (DynamoDB deletes late).
    pub(super) fn send_after(previous: Option<&Self>, now: u64) -> Verdict {
        match previous {
            Some(w) if w.expires_at > now && w.suppressed > 0 => Verdict::Send {
                suppressed: w.suppressed,
                since: Some(w.opened_at),
            },
            _ => Verdict::SEND,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(v: u64) -> AttributeValue {
        AttributeValue::N(v.to_string())
    }
    fn s(v: &str) -> AttributeValue {
        AttributeValue::S(v.into())
    }
    fn claim(status: &str, expires_at: u64, decision: Option<&str>) -> ClaimRecord {
        let mut item = Item::from([(STATUS.into(), s(status)), (EXPIRES_AT.into(), n(expires_at))]);
        item.insert(MESSAGE_ID.into(), s("m-1"));
        if let Some(d) = decision {
            item.insert(DECISION.into(), s(d));
        }
        ClaimRecord::parse(&item, "claim").unwrap()
    }

    #[test]
    fn a_refused_claim_is_done_or_in_progress_until_it_expires() {
        let done = claim(DONE, 1_000, None);
        assert_eq!(
            done.refusal::<Verdict>(999).unwrap(),
            Claim::AlreadyDone {
                message_id: Some("m-1".into())
            }
        );
        let held = claim(IN_PROGRESS, 1_000, None);
        assert_eq!(
            held.refusal::<Verdict>(999).unwrap(),
            Claim::InProgress { until: 1_000 }
        );
        // At and after expiresAt the record no longer counts, whatever TTL has not deleted yet.
        for record in [done, held, claim(FAILED, 5_000, None)] {
            let now = if record.status == Status::Failed {
                10
            } else {
                1_000
            };
            assert_eq!(
                record.refusal::<Verdict>(now).unwrap_err().kind,
                StateErrorKind::Conflict
            );
        }
    }

    #[test]
    fn only_unfinished_attempts_hand_their_decision_on() {
        let json = r#"{"verdict":"send","suppressed":4,"since":600}"#;
        let expected = Verdict::Send {
            suppressed: 4,
            since: Some(600),
        };
        assert_eq!(
            claim(FAILED, 1, Some(json)).inherited::<Verdict>().unwrap(),
            Some(expected)
        );
        assert_eq!(
            claim(IN_PROGRESS, 1, Some(json)).inherited::<Verdict>().unwrap(),
            Some(expected)
        );
        assert_eq!(claim(DONE, 1, Some(json)).inherited::<Verdict>().unwrap(), None);
        assert_eq!(claim(FAILED, 1, None).inherited::<Verdict>().unwrap(), None);
        let err = claim(FAILED, 1, Some("{")).inherited::<Verdict>().unwrap_err();
        assert_eq!(err.kind, StateErrorKind::InvalidRecord);
    }

    #[test]
    fn records_without_the_contracts_shape_are_invalid() {
        let no_status = Item::from([(EXPIRES_AT.into(), n(1))]);
        let bad_expiry = Item::from([(STATUS.into(), s(DONE)), (EXPIRES_AT.into(), s("soon"))]);
        let unknown = Item::from([(STATUS.into(), s("paused")), (EXPIRES_AT.into(), n(1))]);
        for item in [no_status, bad_expiry, unknown] {
            assert_eq!(
                ClaimRecord::parse(&item, "claim").unwrap_err().kind,
                StateErrorKind::InvalidRecord
            );
        }
        let window = Item::from([
            (OPENED_AT.into(), n(1)),
            (EXPIRES_AT.into(), AttributeValue::N("-3".into())),
        ]);
        assert_eq!(
            WindowRecord::parse(&window, "observe").unwrap_err().kind,
            StateErrorKind::InvalidRecord
        );
    }

    #[test]
    fn the_alert_after_a_window_reports_its_repeats_until_the_record_expires() {
        let w = WindowRecord {
            opened_at: 600,
            expires_at: 2_000,
            suppressed: 4,
        };
        assert_eq!(
            WindowRecord::send_after(Some(&w), 1_999),
            Verdict::Send {
                suppressed: 4,
                since: Some(600)
            }
        );
        assert_eq!(WindowRecord::send_after(Some(&w), 2_000), Verdict::SEND);
        assert_eq!(WindowRecord::send_after(None, 0), Verdict::SEND);
        let quiet = WindowRecord { suppressed: 0, ..w };
        assert_eq!(WindowRecord::send_after(Some(&quiet), 700), Verdict::SEND);
    }
}
