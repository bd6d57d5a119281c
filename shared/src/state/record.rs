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
    /// `windowEnd`: repeats until then are counted, not sent.
    pub(super) window_end: u64,
    pub(super) expires_at: u64,
    pub(super) suppressed: u64,
}

/// Clocks of two containers may disagree this much; a bound never cuts a real record short.
const CLOCK_SKEW: Duration = Duration::from_secs(10);

/// The latest `expiresAt` an `in_progress` claim can have at `now`: no attempt holds its
/// claim longer than the function can run (`max_hold`). Later is not this contract's record.
pub(super) fn hold_limit(now: u64, max_hold: Duration) -> u64 {
    until(now, max_hold.saturating_add(CLOCK_SKEW))
}

/// The latest `windowEnd` a window of `window` can have at `now` (opened at most one
/// attempt's run time ago by a clock ahead of this one). Later is not trusted.
pub(super) fn window_limit(now: u64, window: Duration, max_hold: Duration) -> u64 {
    until(now, window.saturating_add(max_hold).saturating_add(CLOCK_SKEW))
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

    /// An `in_progress` hold longer than any attempt runs: treated as absent.
    pub(super) fn untrusted(&self, now: u64, max_hold: Duration) -> bool {
        self.status == Status::InProgress && self.expires_at > hold_limit(now, max_hold)
    }

    /// Whether a claim at `now` takes this record over: expired (whatever TTL has not deleted
    /// yet), failed, or not trusted. The claim condition in `dynamo.rs` says the same.
    pub(super) fn claimable(&self, now: u64, max_hold: Duration) -> bool {
        self.expires_at <= now || self.status == Status::Failed || self.untrusted(now, max_hold)
    }

    /// What a claim that was refused (the condition failed) means at `now`.
    pub(super) fn refusal<D>(&self, now: u64, max_hold: Duration) -> Result<Claim<D>, StateError> {
        match self.status {
            _ if self.claimable(now, max_hold) => Err(StateError {
                kind: StateErrorKind::Conflict,
                operation: "claim",
                detail: "claim refused, but the record found is claimable".into(),
            }),
            Status::Done => Ok(Claim::AlreadyDone {
                message_id: self.message_id.clone(),
            }),
            Status::InProgress => Ok(Claim::InProgress {
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
    /// did not complete (failed, or crashed while in progress) and whose record is trusted.
    /// Done records carry none; a decision that does not parse is treated as absent (the
    /// retry decides again) rather than failing every retry of the event.
    pub(super) fn inherited<D: DeserializeOwned>(&self, now: u64, max_hold: Duration) -> Option<D> {
        match (self.status, &self.decision) {
            _ if self.untrusted(now, max_hold) => None,
            (Status::InProgress | Status::Failed, Some(json)) => serde_json::from_str(json).ok(),
            _ => None,
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
            // Absent: a window that never counted repeats (the open condition allows it).
            window_end: match item.get(WINDOW_END) {
                None => 0,
                Some(_) => number(item, WINDOW_END, operation)?,
            },
            expires_at: number(item, EXPIRES_AT, operation)?,
            suppressed: match item.get(SUPPRESSED) {
                None => 0,
                Some(_) => number(item, SUPPRESSED, operation)?,
            },
        })
    }

    /// Whether this window suppresses an alert of `rank` at `now` (`severity`: the window's).
    /// A window ending past `limit` ([`window_limit`]) is not trusted: treated as absent.
    /// The memory store's rule; `dynamo.rs` says the same in its conditions.
    #[cfg(any(test, feature = "test-support"))]
    pub(super) fn suppresses(&self, severity: u8, rank: u8, now: u64, limit: u64) -> bool {
        self.window_end > now && self.window_end <= limit && severity >= rank
    }

    /// The verdict of the alert that replaced this window at `now`: the repeats counted since
    /// its alert, unless the record had expired (DynamoDB deletes late) or was not trusted
    /// (ending past `limit`).
    pub(super) fn send_after(previous: Option<&Self>, now: u64, limit: u64) -> Verdict {
        match previous {
            Some(w) if w.expires_at > now && w.window_end <= limit && w.suppressed > 0 => Verdict::Send {
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

    /// Lambda's maximum timeout, the default bound.
    const MAX_HOLD: Duration = Duration::from_secs(900);

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
            done.refusal::<Verdict>(999, MAX_HOLD).unwrap(),
            Claim::AlreadyDone {
                message_id: Some("m-1".into())
            }
        );
        let held = claim(IN_PROGRESS, 1_000, None);
        assert_eq!(
            held.refusal::<Verdict>(999, MAX_HOLD).unwrap(),
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
                record.refusal::<Verdict>(now, MAX_HOLD).unwrap_err().kind,
                StateErrorKind::Conflict
            );
        }
    }

    #[test]
    fn an_in_progress_hold_longer_than_the_function_can_run_is_treated_as_absent() {
        let now = 1_800_000_000;
        // The issue's item: held "forever".
        let forever = claim(
            IN_PROGRESS,
            9_999_999_999,
            Some(r#"{"verdict":"send","suppressed":9,"since":1}"#),
        );
        assert!(forever.claimable(now, MAX_HOLD));
        assert_eq!(forever.inherited::<Verdict>(now, MAX_HOLD), None);
        assert_eq!(
            forever.refusal::<Verdict>(now, MAX_HOLD).unwrap_err().kind,
            StateErrorKind::Conflict,
            "never reported as held"
        );
        // The longest real hold (900 s) plus 10 s of clock skew still holds; a second more does not.
        assert!(!claim(IN_PROGRESS, now + 910, None).claimable(now, MAX_HOLD));
        assert!(claim(IN_PROGRESS, now + 911, None).claimable(now, MAX_HOLD));
        // The bound is the function's timeout, not Lambda's maximum.
        let one_minute = Duration::from_secs(60);
        assert!(!claim(IN_PROGRESS, now + 70, None).claimable(now, one_minute));
        assert!(claim(IN_PROGRESS, now + 71, None).claimable(now, one_minute));
        // Done records are kept for hours by design: not bounded by the hold.
        assert!(!claim(DONE, now + 86_400, None).claimable(now, one_minute));
    }

    #[test]
    fn only_unfinished_attempts_hand_their_decision_on() {
        let json = r#"{"verdict":"send","suppressed":4,"since":600}"#;
        let expected = Verdict::Send {
            suppressed: 4,
            since: Some(600),
        };
        let inherited = |status, decision| claim(status, 1, decision).inherited::<Verdict>(0, MAX_HOLD);
        assert_eq!(inherited(FAILED, Some(json)), Some(expected));
        assert_eq!(inherited(IN_PROGRESS, Some(json)), Some(expected));
        assert_eq!(inherited(DONE, Some(json)), None);
        assert_eq!(inherited(FAILED, None), None);
    }

    #[test]
    fn a_stored_decision_that_does_not_parse_is_treated_as_absent() {
        for garbage in [
            "{",
            "null",
            r#"{"verdict":"maybe"}"#,
            r#"{"verdict":"send","suppressed":-1}"#,
        ] {
            assert_eq!(
                claim(FAILED, 1, Some(garbage)).inherited::<Verdict>(0, MAX_HOLD),
                None,
                "{garbage}"
            );
        }
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

    fn window(window_end: u64) -> WindowRecord {
        WindowRecord {
            opened_at: 600,
            window_end,
            expires_at: 2_000,
            suppressed: 4,
        }
    }

    #[test]
    fn the_alert_after_a_window_reports_its_repeats_until_the_record_expires() {
        let w = window(1_500);
        let limit = u64::MAX;
        assert_eq!(
            WindowRecord::send_after(Some(&w), 1_999, limit),
            Verdict::Send {
                suppressed: 4,
                since: Some(600)
            }
        );
        assert_eq!(WindowRecord::send_after(Some(&w), 2_000, limit), Verdict::SEND);
        assert_eq!(WindowRecord::send_after(None, 0, limit), Verdict::SEND);
        let quiet = WindowRecord { suppressed: 0, ..w };
        assert_eq!(WindowRecord::send_after(Some(&quiet), 700, limit), Verdict::SEND);
    }

    #[test]
    fn a_window_ending_later_than_the_window_plus_the_timeout_is_treated_as_absent() {
        let now = 1_800_000_000;
        let fifteen_minutes = Duration::from_secs(900);
        let limit = window_limit(now, fifteen_minutes, MAX_HOLD);
        // 900 s window + 900 s timeout + 10 s skew.
        assert_eq!(limit, now + 1_810);
        let (sev, rank) = (3, 3);
        assert!(window(now + 1).suppresses(sev, rank, now, limit));
        assert!(window(now + 1_810).suppresses(sev, rank, now, limit));
        assert!(!window(now + 1_811).suppresses(sev, rank, now, limit));
        assert!(!window(9_999_999_999).suppresses(sev, rank, now, limit));
        // Over, or less severe than the alert: not a repeat either.
        assert!(!window(now).suppresses(sev, rank, now, limit));
        assert!(!window(now + 1).suppresses(2, rank, now, limit));
        // The alert that replaces an untrusted window reports none of its count.
        let forged = WindowRecord {
            expires_at: 9_999_999_999,
            ..window(9_999_999_999)
        };
        assert_eq!(WindowRecord::send_after(Some(&forged), now, limit), Verdict::SEND);
    }
}
