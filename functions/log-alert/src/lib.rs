//! log-alert: the target of a CloudWatch Logs subscription filter. One delivery (base64 → gzip →
//! JSON) becomes at most one SNS alert: `decode` the payload, `group` its lines (redacted,
//! classified, identical ones counted), `render` them to fit SNS; `handler` wires the phases
//! into the shared invocation skeleton and delivers through the shared outbox.
//!
//! The modules are private: what `main.rs`, the tests, the benches and the fuzz targets use is
//! re-exported here.

mod config;
mod decode;
mod group;
mod handler;
mod render;

pub use config::LogAlertConfig;
pub use decode::{
    DEFAULT_MAX_DECOMPRESSED_BYTES, DecodeError, LogEvent, LogsMessage, MessageType, SubscriptionEvent,
    decompress, parse,
};
pub use handler::{Alert, LogAlert, LogAlertError, Prepared, Summary};
