//! scan-alert: ECR basic scan and Amazon Inspector events to notifications.
//!
//! [`events`] parses and normalises the incoming events, [`handler`] groups them per image, applies
//! thresholds, repository patterns and the ignore list (reading findings via [`scan_findings`]),
//! and [`render`] builds one notification per image.

pub mod config;
mod events;
pub mod handler;
mod render;
pub mod scan_findings;
