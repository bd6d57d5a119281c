//! The Lambda deadline, as a monotonic instant: work stops with a margin before it, so the
//! function returns a truthful (partial or failed) result instead of being killed.
//!
//! It is a `tokio` instant, so tests can run deadlines on a paused clock instead of waiting.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::time::Instant;

/// Lambda's longest timeout: a deadline further ahead is not one Lambda sent.
const MAX_LAMBDA_TIMEOUT: Duration = Duration::from_secs(15 * 60);
/// The budget when the deadline is unknown (past or too far at the start of an invocation).
/// Lambda sets no variable with the configured timeout, so this is a fixed, sane bound.
pub const UNKNOWN_DEADLINE_BUDGET: Duration = Duration::from_secs(60);

static WARNED_UNKNOWN: AtomicBool = AtomicBool::new(false);

/// When the invocation must have answered: every wait (SDK calls, publishes) is bounded by the
/// time left, so a slow dependency fails the invocation instead of timing it out silently.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadline {
    at: Instant,
}

impl Deadline {
    /// From the Runtime API's `Lambda-Runtime-Deadline-Ms` (epoch milliseconds), read at the
    /// start of an invocation.
    ///
    /// Real Lambda always sends a deadline within its 15-minute maximum. Emulators do not:
    /// cargo-lambda 1.9's `watch` sends `600000` (ten minutes after the epoch, in 1970), which
    /// would fail every invocation before it starts. A deadline already past or more than 15
    /// minutes ahead is therefore treated as unknown: one warning, and
    /// [`UNKNOWN_DEADLINE_BUDGET`] from now.
    pub fn from_epoch_ms(deadline_ms: u64) -> Self {
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        match plausible_remaining(deadline_ms, now_ms) {
            Some(left) => Self::after(left),
            None => {
                if !WARNED_UNKNOWN.swap(true, Ordering::Relaxed) {
                    tracing::warn!(
                        deadline_ms,
                        now_ms,
                        budget_ms = UNKNOWN_DEADLINE_BUDGET.as_millis() as u64,
                        "the runtime sent a deadline that is past or beyond Lambda's 15-minute maximum \
                         (a local emulator?); using a fixed budget instead"
                    );
                }
                Self::after(UNKNOWN_DEADLINE_BUDGET)
            }
        }
    }

    /// `d` from now.
    pub fn after(d: Duration) -> Self {
        Self {
            at: Instant::now() + d,
        }
    }

    /// Time left; zero once past.
    pub fn remaining(&self) -> Duration {
        self.at.saturating_duration_since(Instant::now())
    }

    /// Time left once `margin` is kept in reserve.
    pub fn remaining_before(&self, margin: Duration) -> Duration {
        self.remaining().saturating_sub(margin)
    }
}

/// Time left until `deadline_ms`, when it is a deadline Lambda could have sent at `now_ms`.
fn plausible_remaining(deadline_ms: u64, now_ms: u64) -> Option<Duration> {
    let left = Duration::from_millis(deadline_ms.checked_sub(now_ms).filter(|&ms| ms > 0)?);
    (left <= MAX_LAMBDA_TIMEOUT).then_some(left)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remaining_counts_down_and_keeps_the_margin() {
        let d = Deadline::after(Duration::from_secs(60));
        assert!(d.remaining() > Duration::from_secs(50));
        assert!(d.remaining_before(Duration::from_secs(59)) <= Duration::from_secs(1));
        assert_eq!(d.remaining_before(Duration::from_secs(120)), Duration::ZERO);
    }

    #[test]
    fn deadlines_lambda_could_send_are_kept() {
        let now = 1_764_000_000_000;
        assert_eq!(
            plausible_remaining(now + 30_000, now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            plausible_remaining(now + 900_000, now),
            Some(Duration::from_secs(900))
        );
        assert_eq!(plausible_remaining(now + 1, now), Some(Duration::from_millis(1)));
    }

    #[test]
    fn past_or_too_distant_deadlines_are_unknown() {
        let now = 1_764_000_000_000;
        // cargo-lambda 1.9's emulator: ten minutes after the epoch.
        assert_eq!(plausible_remaining(600_000, now), None);
        assert_eq!(plausible_remaining(now, now), None);
        assert_eq!(plausible_remaining(now - 1, now), None);
        assert_eq!(plausible_remaining(now + 900_001, now), None);
        assert_eq!(plausible_remaining(u64::MAX, now), None);
    }

    #[test]
    fn an_unknown_deadline_gets_the_fixed_budget() {
        let d = Deadline::from_epoch_ms(600_000);
        assert!(d.remaining() > UNKNOWN_DEADLINE_BUDGET - Duration::from_secs(5));
        assert!(d.remaining() <= UNKNOWN_DEADLINE_BUDGET);
    }
}
