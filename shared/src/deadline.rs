//! The Lambda deadline, as a monotonic instant: work stops with a margin before it, so the
//! function returns a truthful (partial or failed) result instead of being killed.
//!
//! It is a `tokio` instant, so tests can run deadlines on a paused clock instead of waiting.

use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::time::Instant;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadline {
    at: Instant,
}

impl Deadline {
    /// From the Runtime API's `Lambda-Runtime-Deadline-Ms` (epoch milliseconds).
    pub fn from_epoch_ms(deadline_ms: u64) -> Self {
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        Self {
            at: Instant::now() + Duration::from_millis(deadline_ms.saturating_sub(now_ms)),
        }
    }

    pub fn after(d: Duration) -> Self {
        Self {
            at: Instant::now() + d,
        }
    }

    pub fn remaining(&self) -> Duration {
        self.at.saturating_duration_since(Instant::now())
    }

    /// Time left once `margin` is kept in reserve.
    pub fn remaining_before(&self, margin: Duration) -> Duration {
        self.remaining().saturating_sub(margin)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn past_deadlines_leave_nothing() {
        let d = Deadline::from_epoch_ms(1_000);
        assert_eq!(d.remaining(), Duration::ZERO);
        let d = Deadline::after(Duration::from_secs(60));
        assert!(d.remaining() > Duration::from_secs(50));
        assert!(d.remaining_before(Duration::from_secs(59)) <= Duration::from_secs(1));
        assert_eq!(d.remaining_before(Duration::from_secs(120)), Duration::ZERO);
    }
}
