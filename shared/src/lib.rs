//! What two or more Lookout functions use. Each function's own domain lives in its crate under
//! `functions/<name>/src`; every function plugs into the [`invocation`] skeleton.

// Four crates build on this one: what each public item is for must be readable without its body.
#![warn(missing_docs)]

pub mod accounts;
pub mod aws;
pub mod config;
pub mod console;
pub mod deadline;
pub mod envelope;
pub mod findings;
pub mod ids;
pub mod invocation;
pub mod logging;
pub mod member;
pub mod metrics;
pub mod notification;
pub mod outbox;
pub mod publish;
pub mod redact;
pub mod severity;
pub mod state;
pub mod text;
pub mod time;
pub mod wildcard;
