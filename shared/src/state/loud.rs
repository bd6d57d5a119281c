//! A broken state table must be noticed: the store fails open on every invocation, so without
//! this a missing table or a wrong key schema would only ever show as warnings. The first
//! problem a process meets is one ERROR line that says what is wrong in words; later ones are
//! warnings (the `StateStoreProblems` metric and its alarm count them all).

use super::StateError;
use std::sync::atomic::{AtomicBool, Ordering};

/// Whether this process has already reported a problem as an error.
#[derive(Debug)]
struct FirstOnly(AtomicBool);

impl FirstOnly {
    const fn new() -> Self {
        Self(AtomicBool::new(false))
    }

    /// True exactly once, for the first caller.
    fn first(&self) -> bool {
        !self.0.swap(true, Ordering::Relaxed)
    }
}

/// Per process: a warm container logs one ERROR, however many invocations fail open after.
static REPORTED: FirstOnly = FirstOnly::new();

/// Logs one state store problem (never the payload: the error carries only the service's
/// code and message): ERROR naming its kind the first time in this process, WARN after.
pub fn report_problem(problem: &StateError) {
    report(&REPORTED, problem);
}

fn report(reported: &FirstOnly, problem: &StateError) {
    if reported.first() {
        tracing::error!(
            kind = problem.kind.as_str(),
            operation = problem.operation,
            error = %problem,
            "state store problem: {}; publishing anyway (at-least-once), without duplicate or storm protection until it is fixed; further problems are logged as warnings and counted in StateStoreProblems",
            problem.kind.describe()
        );
    } else {
        tracing::warn!(
            kind = problem.kind.as_str(),
            operation = problem.operation,
            error = %problem,
            "state store problem; publishing anyway (at-least-once)"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::StateErrorKind;

    #[test]
    fn only_the_first_problem_of_a_process_is_an_error() {
        let reported = FirstOnly::new();
        assert!(reported.first());
        assert!(!reported.first());
        assert!(!reported.first());
        // Reporting through it consumes the first turn like any caller.
        let fresh = FirstOnly::new();
        let problem = StateError {
            kind: StateErrorKind::WrongKeySchema,
            operation: "claim",
            detail: "ValidationException: The provided key element does not match the schema".into(),
        };
        report(&fresh, &problem);
        assert!(!fresh.first());
    }

    #[test]
    fn every_kind_has_its_own_words() {
        let kinds = [
            StateErrorKind::Throttled,
            StateErrorKind::Unavailable,
            StateErrorKind::Timeout,
            StateErrorKind::Unreachable,
            StateErrorKind::AccessDenied,
            StateErrorKind::TableMissing,
            StateErrorKind::WrongKeySchema,
            StateErrorKind::Misconfigured,
            StateErrorKind::InvalidRecord,
            StateErrorKind::Conflict,
            StateErrorKind::Unexpected,
        ];
        let words: std::collections::HashSet<&str> = kinds.iter().map(|k| k.describe()).collect();
        assert_eq!(words.len(), kinds.len());
        assert_eq!(
            StateErrorKind::WrongKeySchema.describe(),
            "the table's key schema is not `pk` (S)"
        );
        assert_eq!(
            StateErrorKind::TableMissing.describe(),
            "the table does not exist in the function's account and region"
        );
    }
}
