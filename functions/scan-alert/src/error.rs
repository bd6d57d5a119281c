//! scan-alert's one error type: what fails an item or the invocation, named, never quoting
//! the payload.

use crate::events::EventError;
use lookout_shared::invocation::FunctionError;
use lookout_shared::outbox::DeliveryError;

/// Why an item, or the invocation, failed.
#[derive(Debug, thiserror::Error)]
pub enum ScanAlertError {
    /// The event is of no kind scan-alert handles, or malformed.
    #[error(transparent)]
    Event(#[from] EventError),
    /// Rendering or publishing the alert failed (its `PublishFailures` is counted by the outbox).
    #[error(transparent)]
    Delivery(#[from] DeliveryError),
    /// Not attempted: what was left of the invocation could not cover one more publish.
    #[error(
        "not attempted: {remaining_ms} ms were left before the deadline margin, less than a publish takes ({needed_ms} ms)"
    )]
    NoTimeLeft {
        /// Time left before `DEADLINE_MARGIN_MS`.
        remaining_ms: u128,
        /// The slowest publish of this invocation so far.
        needed_ms: u128,
    },
    /// The one item of a single event failed: its error, as recorded.
    #[error("{message}")]
    Item {
        /// Its error's kind.
        kind: &'static str,
        /// Its error, as recorded.
        message: String,
    },
    /// Items of an event array failed; the others were processed (and are in the log line).
    #[error(
        "{failed} of {items} items failed, the others were processed; first failure: item {first_item}: {first}"
    )]
    Incomplete {
        /// The failures' kind when they share one, else `BatchIncomplete`.
        kind: &'static str,
        /// Items that failed.
        failed: usize,
        /// Items in the input.
        items: usize,
        /// Position of the first failed item.
        first_item: usize,
        /// Its error.
        first: String,
    },
}

impl FunctionError for ScanAlertError {
    fn kind(&self) -> &'static str {
        match self {
            ScanAlertError::Event(e) => e.kind(),
            ScanAlertError::Delivery(e) => e.kind(),
            ScanAlertError::NoTimeLeft { .. } => "DeadlineExceeded",
            ScanAlertError::Item { kind, .. } | ScanAlertError::Incomplete { kind, .. } => kind,
        }
    }
}
