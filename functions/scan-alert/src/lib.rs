//! scan-alert: ECR basic scan and Amazon Inspector events to notifications.
//!
//! `events` types the invocation's payload (`detail` has the per-kind event details), `handler`
//! groups the events per image, applies thresholds, repository patterns and the ignore list
//! (reading findings via `scan_findings`), weighs each image against what was alerted before
//! (`news`, with the state table) and delivers through the shared outbox; `render` builds one
//! notification per image and `summary` the invocation's response. In organisation mode
//! (`MEMBER_ACCOUNTS`, `config`) findings are read in the event's account and region.

mod config;
mod detail;
mod error;
mod events;
mod handler;
mod news;
mod render;
mod scan_findings;
mod summary;

pub use config::ScanAlertConfig;
pub use handler::ScanAlert;
pub use scan_findings::{BasicScanFindings, EcrScanFindings, FindingsError, Registry, ScanFindingsSource};
