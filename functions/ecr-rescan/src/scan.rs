//! Starting basic scans: bounded concurrency, the shared adaptive rate, our own retries for
//! throttling (the SDK's are off for this call), and a stop before the Lambda deadline that
//! nothing passes: not a wait for the rate, not a backoff, not a call in flight.

use crate::ecr::Registry;
use crate::model::{Image, ScanError};
use crate::pace::AdaptiveRate;
use crate::select::Skip;
use futures::StreamExt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::time::Instant;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ScanOutcome {
    Started,
    /// Dry run: it would have been started.
    WouldScan,
    /// The per-image quota: it was scanned in the last 24 hours.
    AlreadyScanned,
    Skipped(Skip),
    /// Not attempted; the next scheduled run picks it up.
    Deferred(Deferral),
    Failed(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Deferral {
    Deadline,
    AccountLimit,
}

impl ScanOutcome {
    pub(crate) fn kind(&self) -> OutcomeKind {
        match self {
            ScanOutcome::Started => OutcomeKind::Started,
            ScanOutcome::WouldScan => OutcomeKind::WouldScan,
            ScanOutcome::AlreadyScanned => OutcomeKind::AlreadyScanned,
            ScanOutcome::Skipped(skip) => OutcomeKind::Skipped(*skip),
            ScanOutcome::Deferred(deferral) => OutcomeKind::Deferred(*deferral),
            ScanOutcome::Failed(_) => OutcomeKind::Failed,
        }
    }
}

/// What an image's outcome is counted as in the summary's `outcomes` maps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum OutcomeKind {
    Started,
    WouldScan,
    AlreadyScanned,
    Failed,
    Skipped(Skip),
    Deferred(Deferral),
}

impl OutcomeKind {
    /// The key in the JSON output.
    pub(crate) fn key(self) -> &'static str {
        match self {
            OutcomeKind::Started => "started",
            OutcomeKind::WouldScan => "wouldScan",
            OutcomeKind::AlreadyScanned => "alreadyScanned",
            OutcomeKind::Failed => "failed",
            OutcomeKind::Skipped(skip) => skip.key(),
            OutcomeKind::Deferred(Deferral::Deadline) => "deferredDeadline",
            OutcomeKind::Deferred(Deferral::AccountLimit) => "deferredAccountLimit",
        }
    }

    /// The words in the notification.
    pub(crate) fn label(self) -> &'static str {
        match self {
            OutcomeKind::Started => "started",
            OutcomeKind::WouldScan => "would scan",
            OutcomeKind::AlreadyScanned => "already scanned",
            OutcomeKind::Failed => "failed",
            OutcomeKind::Skipped(skip) => skip.describe(),
            OutcomeKind::Deferred(Deferral::Deadline) => "deferred deadline",
            OutcomeKind::Deferred(Deferral::AccountLimit) => "deferred account limit",
        }
    }
}

/// Ordered by key, so maps list outcomes alphabetically, as the JSON always did.
impl Ord for OutcomeKind {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.key().cmp(other.key())
    }
}

impl PartialOrd for OutcomeKind {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl serde::Serialize for OutcomeKind {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.key())
    }
}

#[derive(Debug, Clone)]
pub(crate) struct ScanSettings {
    pub(crate) concurrency: usize,
    pub(crate) max_attempts: u32,
    pub(crate) dry_run: bool,
    /// `DEADLINE_MARGIN_MS` before the Lambda deadline: no call starts or runs past it.
    pub(crate) stop_at: Instant,
}

/// What happened to each candidate, in the order given; and the account-limit message if hit.
#[derive(Debug)]
pub(crate) struct ScanReport {
    pub(crate) outcomes: Vec<(Image, ScanOutcome)>,
    pub(crate) account_limit: Option<String>,
}

pub(crate) async fn scan_all<R: Registry>(
    registry: &R,
    rate: &AdaptiveRate,
    candidates: Vec<Image>,
    settings: &ScanSettings,
) -> ScanReport {
    let stop = AtomicBool::new(false);
    let account_limit = std::sync::Mutex::new(None);
    let outcomes = futures::stream::iter(candidates.into_iter().enumerate())
        .map(|(i, image)| {
            let (stop, account_limit) = (&stop, &account_limit);
            async move {
                let outcome = scan_one(registry, rate, &image, settings, stop, account_limit).await;
                (i, image, outcome)
            }
        })
        .buffer_unordered(settings.concurrency.max(1))
        .collect::<Vec<_>>()
        .await;
    let mut outcomes = outcomes;
    outcomes.sort_by_key(|(i, _, _)| *i);
    ScanReport {
        outcomes: outcomes
            .into_iter()
            .map(|(_, image, outcome)| (image, outcome))
            .collect(),
        account_limit: account_limit.into_inner().unwrap_or_else(|e| e.into_inner()),
    }
}

async fn scan_one<R: Registry>(
    registry: &R,
    rate: &AdaptiveRate,
    image: &Image,
    settings: &ScanSettings,
    stop: &AtomicBool,
    account_limit: &std::sync::Mutex<Option<String>>,
) -> ScanOutcome {
    if settings.dry_run {
        return ScanOutcome::WouldScan;
    }
    let mut attempt = 1;
    loop {
        if stop.load(Ordering::SeqCst) {
            return ScanOutcome::Deferred(Deferral::AccountLimit);
        }
        let Some(sent) = rate.acquire(settings.stop_at).await else {
            return ScanOutcome::Deferred(Deferral::Deadline);
        };
        // A call cut at the stop may have started the scan: the next run sees it IN_PROGRESS.
        let Ok(result) = tokio::time::timeout_at(
            settings.stop_at,
            registry.start_scan(&image.repository, &image.digest),
        )
        .await
        else {
            return ScanOutcome::Deferred(Deferral::Deadline);
        };
        match &result {
            Err(ScanError::Throttled(_)) => rate.throttled(sent),
            Err(ScanError::Transient(_)) => {}
            _ => rate.succeeded(),
        }
        match result {
            Ok(()) => return ScanOutcome::Started,
            Err(ScanError::ImageQuota) => return ScanOutcome::AlreadyScanned,
            Err(ScanError::AccountQuota(message)) => {
                stop.store(true, Ordering::SeqCst);
                account_limit
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .get_or_insert(message);
                return ScanOutcome::Deferred(Deferral::AccountLimit);
            }
            Err(ScanError::UnsupportedImage) => return ScanOutcome::Skipped(Skip::UnsupportedType),
            Err(ScanError::Gone(_)) => return ScanOutcome::Skipped(Skip::DeletedMidRun),
            Err(ScanError::Other(message)) => return ScanOutcome::Failed(message),
            Err(ScanError::Throttled(message) | ScanError::Transient(message)) => {
                if attempt >= settings.max_attempts {
                    return ScanOutcome::Failed(format!("{message} (after {attempt} attempts)"));
                }
                let pause = backoff(attempt, &image.digest);
                if Instant::now() + pause >= settings.stop_at {
                    return ScanOutcome::Deferred(Deferral::Deadline);
                }
                tokio::time::sleep(pause).await;
                attempt += 1;
            }
        }
    }
}

/// Exponential backoff from 200 ms, capped at 10 s, with jitter derived from the digest so
/// concurrent retries spread out without a random number generator.
pub(crate) fn backoff(attempt: u32, digest: &str) -> Duration {
    let base = 200u64
        .saturating_mul(1 << attempt.min(6).saturating_sub(1))
        .min(10_000);
    let jitter = digest
        .bytes()
        .fold(attempt as u64, |h, b| h.wrapping_mul(31).wrapping_add(b as u64))
        % (base / 2 + 1);
    Duration::from_millis(base / 2 + jitter)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        let b1 = backoff(1, "sha256:a");
        let b3 = backoff(3, "sha256:a");
        assert!(
            b1 >= Duration::from_millis(100) && b1 <= Duration::from_millis(200),
            "{b1:?}"
        );
        assert!(
            b3 >= Duration::from_millis(400) && b3 <= Duration::from_millis(800),
            "{b3:?}"
        );
        assert!(backoff(30, "x") <= Duration::from_secs(10));
    }
}
