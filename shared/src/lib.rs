//! Lookout's shared crate. Each module is named for what it does; the function binaries in
//! `functions/` only parse configuration, build clients and hand events to these modules.

pub mod aws;
pub mod config;
pub mod console;
pub mod deadline;
pub mod findings;
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

/// log-alert: CloudWatch Logs subscription payloads to one SNS alert.
pub mod logs;
/// ecr-rescan: scheduled ECR rescans (BASIC) and Inspector2 reports (ENHANCED).
pub mod rescan;
/// scan-alert: ECR and Inspector2 scan results to notifications.
pub mod scan_alert;
