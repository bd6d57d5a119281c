//! scan-alert: ECR basic scan and Amazon Inspector events to notifications.
//!
//! `events` types the invocation's payload (`detail` has the per-kind event details), `handler`
//! groups the events per image, applies thresholds, repository patterns and the ignore list
//! (reading findings via `scan_findings`) and delivers through the shared outbox; `render`
//! builds one notification per image and `summary` the invocation's response.

mod config;
mod detail;
mod error;
mod events;
mod handler;
mod render;
mod scan_findings;
mod summary;

pub use config::ScanAlertConfig;
pub use handler::ScanAlert;
pub use scan_findings::{BasicScanFindings, EcrScanFindings, ScanFindingsSource};
