//! Arbitrary decoded log batches into redaction, grouping, rendering and SNS fitting.

#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use lookout_fuzz_support::check_rendered;
use log_alert::{LogEvent, LogsMessage, MessageType};
use std::borrow::Cow;

#[derive(Arbitrary, Debug)]
struct Batch<'a> {
    owner: &'a str,
    log_group: &'a str,
    log_stream: &'a str,
    filters: Vec<&'a str>,
    policy_level: Option<&'a str>,
    events: Vec<(i64, &'a str)>,
    max_lines: u16,
    max_line_bytes: u32,
    per_protocol: bool,
    fifo: bool,
}

fuzz_target!(|b: Batch| {
    let message = LogsMessage {
        message_type: MessageType::Data,
        owner: Cow::Borrowed(b.owner),
        log_group: Cow::Borrowed(b.log_group),
        log_stream: Cow::Borrowed(b.log_stream),
        subscription_filters: b.filters.iter().map(|f| Cow::Borrowed(*f)).collect(),
        policy_level: b.policy_level.map(Cow::Borrowed),
        log_events: b
            .events
            .iter()
            .enumerate()
            .map(|(i, (ts, m))| LogEvent { id: Cow::Owned(i.to_string()), timestamp: *ts, message: Cow::Borrowed(*m) })
            .collect(),
    };
    if message.log_events.is_empty() {
        return;
    }
    // A few limits each (one log-alert per configuration is built and kept): the smallest,
    // small, the defaults and the largest allowed.
    let max_lines = [1, 3, 100, 10_000][usize::from(b.max_lines) % 4];
    let max_line_bytes = [256, 1_000, 8 << 10, 256 << 10][b.max_line_bytes as usize % 4];
    check_rendered(&message, max_lines, max_line_bytes, b.per_protocol, b.fifo);
});

#[path = "../support.rs"]
mod lookout_fuzz_support;
