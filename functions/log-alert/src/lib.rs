//! log-alert: the target of a CloudWatch Logs subscription filter. One delivery (base64 → gzip →
//! JSON) becomes at most one SNS alert: `decode` the payload, `group` its lines (redacted,
//! classified, identical ones counted), `render` them to fit SNS; `handler` wires the phases
//! into the shared invocation skeleton and delivers through the shared outbox. It also reads an
//! organisation's Kinesis stream of such payloads (`kinesis`; `handler/batch.rs`): one alert per
//! account and log group of a batch, and a response that says where Lambda resumes.
//!
//! The modules are private: what `main.rs`, the tests, the benches and the fuzz targets use is
//! re-exported here.

mod config;
mod decode;
mod group;
mod handler;
mod kinesis;
mod render;

pub use config::LogAlertConfig;
pub use decode::{
    DEFAULT_MAX_DECOMPRESSED_BYTES, DecodeError, LogEvent, LogsMessage, MessageType, SubscriptionEvent,
    decompress, parse,
};
pub use handler::{Alert, BatchSummary, LogAlert, LogAlertError, Prepared, Response, Summary};
pub use kinesis::{LogAlertEvent, RecordSlot};
