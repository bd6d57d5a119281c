//! What two or more Lookout functions use. Each function's own domain lives in its crate under
//! `functions/<name>/src`; every function plugs into the [`invocation`] skeleton.

pub mod aws;
pub mod config;
pub mod console;
pub mod deadline;
pub mod findings;
pub mod invocation;
pub mod logging;
pub mod metrics;
pub mod notification;
pub mod publish;
pub mod redact;
pub mod severity;
pub mod state;
pub mod text;
pub mod time;
pub mod wildcard;

// Kept out of redact.rs while its rewrite is under way (one file, one owner); move it there
// when that lands. Field-free: the compiled rules say nothing useful in a debug print.
impl std::fmt::Debug for redact::Redactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Redactor").finish_non_exhaustive()
    }
}
