//! log-alert: the target of a CloudWatch Logs subscription filter. One delivery (base64 → gzip →
//! JSON) becomes at most one SNS alert: [`decode`] the payload, [`group`] its lines (redacted,
//! classified, identical ones counted), [`render`] them to fit SNS; [`handler`] wires the phases
//! into the shared invocation skeleton.

pub mod config;
pub mod decode;
mod group;
pub mod handler;
mod render;
