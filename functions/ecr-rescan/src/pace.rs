//! The ECR call rate, shared by every call in flight. ECR publishes no request-rate quota, so
//! there is no fixed rate by default: concurrency alone bounds the calls until ECR answers
//! `ThrottlingException`. Then the rate drops to 70 % of what was being sent and grows back along
//! a cubic curve (the AWS SDKs' adaptive retry mode, CUBIC congestion control), probing above
//! the old rate only after it has held there a while. `SCAN_RATE_PER_SECOND` is a ceiling.
//!
//! Not the SDK's own `RetryConfig::adaptive()`: it rides on the retry classifier, which takes
//! StartImageScan's per-image `LimitExceededException` for throttling (every rescan within 24 h
//! would collapse the rate), it is off for StartImageScan since that call runs without SDK
//! retries, it waits inside `send()` where the deadline cannot stop it, and it reads the wall
//! clock, so it cannot be tested on a paused clock.

use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;
use tokio::time::Instant;

/// How much of the rate is kept on throttling (the SDKs' `BETA`).
const BETA: f64 = 0.7;
/// How fast the rate grows back (the SDKs' `SCALE_CONSTANT`).
const SCALE: f64 = 0.4;
/// Never slower than this, so a run always makes progress (the SDKs' `MIN_FILL_RATE`).
const MIN_RATE: f64 = 0.5;
/// Sends counted for the measured rate.
const WINDOW: Duration = Duration::from_secs(1);

#[derive(Debug)]
pub(crate) struct AdaptiveRate {
    /// `SCAN_RATE_PER_SECOND`: never faster than this.
    ceiling: Option<f64>,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    /// Calls per second since the last throttle; `None` until the first one.
    rate: Option<f64>,
    /// The earliest instant the next call may go.
    next: Option<Instant>,
    /// When the last `WINDOW` of calls went.
    sent: VecDeque<Instant>,
    /// The rate that was throttled last, and when.
    last_max: f64,
    throttled_at: Option<Instant>,
}

impl State {
    /// Calls per second over the last window (at least 100 ms of it, so a burst at the start
    /// does not read as an infinite rate).
    fn measured(&self, now: Instant) -> f64 {
        let Some(first) = self.sent.front() else {
            return 0.0;
        };
        let span = now
            .saturating_duration_since(*first)
            .clamp(Duration::from_millis(100), WINDOW);
        self.sent.len() as f64 / span.as_secs_f64()
    }
}

/// The caller may send now; it says when, for [`AdaptiveRate::throttled`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sent(Instant);

impl AdaptiveRate {
    pub(crate) fn new(ceiling: Option<f64>) -> Self {
        Self {
            ceiling,
            state: Mutex::new(State::default()),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The rate in force: the adaptive one, under the ceiling. `None`: unlimited.
    fn limit(&self, state: &State) -> Option<f64> {
        match (state.rate, self.ceiling) {
            (Some(r), Some(c)) => Some(r.min(c)),
            (r, c) => r.or(c),
        }
    }

    /// Waits for the next slot and takes it. When that slot is after `stop_at` it returns
    /// `None` at once, without waiting: a wait never runs past the caller's stop.
    pub(crate) async fn acquire(&self, stop_at: Instant) -> Option<Sent> {
        let slot = {
            let mut state = self.state();
            let now = Instant::now();
            match self.limit(&state) {
                Some(rate) => {
                    let slot = state.next.map_or(now, |n| n.max(now));
                    if slot > stop_at {
                        return None;
                    }
                    state.next = Some(slot + Duration::from_secs_f64(1.0 / rate.max(MIN_RATE)));
                    slot
                }
                None if now > stop_at => return None,
                None => now,
            }
        };
        tokio::time::sleep_until(slot).await;
        let mut state = self.state();
        state.sent.push_back(slot);
        while state
            .sent
            .front()
            .is_some_and(|t| slot.saturating_duration_since(*t) > WINDOW)
        {
            state.sent.pop_front();
        }
        Some(Sent(slot))
    }

    /// The call sent at `sent` was throttled: the rate drops to `BETA` of what was sent. Calls
    /// sent before the last drop were sent at the old rate and do not drop it again.
    pub(crate) fn throttled(&self, sent: Sent) {
        let mut state = self.state();
        if state.throttled_at.is_some_and(|t| sent.0 < t) {
            return;
        }
        let now = Instant::now();
        let measured = state.measured(now);
        let sending = self
            .limit(&state)
            .map_or(measured, |r| r.min(measured.max(MIN_RATE)));
        state.last_max = sending.max(MIN_RATE);
        state.rate = Some((sending * BETA).max(MIN_RATE));
        state.throttled_at = Some(now);
    }

    /// A call went through: after a throttle the rate grows back along the cubic curve, to the
    /// throttled rate in `k` seconds and beyond it after, but never past twice what is sent.
    pub(crate) fn succeeded(&self) {
        let mut state = self.state();
        let Some(at) = state.throttled_at else {
            return;
        };
        let now = Instant::now();
        let k = (state.last_max * (1.0 - BETA) / SCALE).cbrt();
        let t = now.saturating_duration_since(at).as_secs_f64() - k;
        let cubic = SCALE * t * t * t + state.last_max;
        let cap = 2.0 * state.measured(now);
        state.rate = Some(cubic.min(cap.max(MIN_RATE)).max(MIN_RATE));
    }

    /// The rate in force, once ECR has throttled: for the summary's note.
    pub(crate) fn settled(&self) -> Option<f64> {
        let state = self.state();
        state.throttled_at.and(self.limit(&state))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn far() -> Instant {
        Instant::now() + Duration::from_secs(3600)
    }

    #[tokio::test(start_paused = true)]
    async fn unthrottled_and_without_a_ceiling_nothing_waits() {
        let rate = AdaptiveRate::new(None);
        let start = Instant::now();
        for _ in 0..100 {
            rate.acquire(far()).await.unwrap();
        }
        assert_eq!(start.elapsed(), Duration::ZERO);
        assert_eq!(rate.settled(), None);
    }

    #[tokio::test(start_paused = true)]
    async fn the_ceiling_spaces_calls_evenly() {
        let rate = AdaptiveRate::new(Some(10.0));
        let start = Instant::now();
        for _ in 0..5 {
            rate.acquire(far()).await.unwrap();
        }
        // The first call goes at once, the fifth 400 ms later (virtual time).
        assert_eq!(start.elapsed(), Duration::from_millis(400));
    }

    #[tokio::test(start_paused = true)]
    async fn a_slot_after_the_stop_is_refused_without_waiting() {
        let rate = AdaptiveRate::new(Some(0.5));
        let start = Instant::now();
        let stop = start + Duration::from_secs(3);
        assert!(rate.acquire(stop).await.is_some()); // at 0 s
        assert!(rate.acquire(stop).await.is_some()); // at 2 s
        assert!(rate.acquire(stop).await.is_none(), "4 s is past the stop");
        assert_eq!(start.elapsed(), Duration::from_secs(2));
    }

    #[tokio::test(start_paused = true)]
    async fn throttling_drops_the_rate_once_per_window_and_it_grows_back() {
        let rate = AdaptiveRate::new(None);
        // 20 calls in 200 ms: 100 a second.
        let mut sent = Vec::new();
        for _ in 0..20 {
            sent.push(rate.acquire(far()).await.unwrap());
            tokio::time::advance(Duration::from_millis(10)).await;
        }
        rate.throttled(sent[19]);
        let dropped = rate.settled().unwrap();
        assert!((dropped - 70.0).abs() < 1e-6, "{dropped}");
        // Earlier calls were sent at the old rate: they do not drop it again.
        rate.throttled(sent[18]);
        assert_eq!(rate.settled(), Some(dropped));
        // Calls at the new rate, then the cubic climbs back towards 100.
        for _ in 0..300 {
            rate.acquire(far()).await.unwrap();
            rate.succeeded();
        }
        let grown = rate.settled().unwrap();
        assert!(grown > dropped, "{grown}");
    }

    #[tokio::test(start_paused = true)]
    async fn the_ceiling_holds_after_throttling_too() {
        let rate = AdaptiveRate::new(Some(5.0));
        let s = rate.acquire(far()).await.unwrap();
        rate.throttled(s);
        tokio::time::advance(Duration::from_secs(60)).await;
        rate.succeeded();
        assert!(rate.settled().unwrap() <= 5.0);
    }
}
