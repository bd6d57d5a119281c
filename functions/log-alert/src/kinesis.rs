//! The second event shape log-alert takes: a batch of Kinesis records (`aws_lambda_events`'
//! `KinesisEventRecord`), each record's data one CloudWatch Logs subscription payload as a
//! cross-account destination writes it (gzip of the same JSON as `awslogs.data`, no base64:
//! Lambda decoded it). A direct subscription event is told apart by having no `Records`.
//!
//! Each record is typed on its own, so one malformed record is rejected by itself
//! ([`Defect`]) instead of making the whole batch unreadable. The batch response is
//! `aws_lambda_events`' `KinesisEventResponse`.

use crate::decode::{AwslogsField, SubscriptionEvent};
use aws_lambda_events::event::kinesis::KinesisEventRecord;
use lookout_shared::envelope::Malformed;
use lookout_shared::state::IdempotencyKey;
use serde::de::{Deserialize, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_json::Value;
use std::borrow::Cow;
use std::cmp::Ordering;
use std::fmt;

/// What log-alert is invoked with.
#[derive(Debug, Clone)]
pub enum LogAlertEvent {
    /// A subscription filter (or account policy) invoking the function directly.
    Direct(SubscriptionEvent),
    /// A Kinesis event source mapping: one slot per record, in the shard's order.
    Kinesis(Vec<RecordSlot>),
}

/// A record as delivered: typed, or why it is not a Kinesis record.
#[derive(Debug, Clone)]
pub struct RecordSlot(pub(crate) Result<KinesisEventRecord, Defect>);

/// A record that does not type as a Kinesis record: what can be read of where it stands, and
/// the problem in words that never quote it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Defect {
    pub(crate) sequence_number: SequenceNumber,
    pub(crate) problem: Malformed,
}

/// Kinesis writes sequence numbers as decimal strings of at most this many digits.
const MAX_SEQUENCE_DIGITS: usize = 128;

/// A record's sequence number as the event gives it, fit to log: only a decimal string of at
/// most 128 digits (what Kinesis writes) is kept; other text is never repeated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SequenceNumber {
    /// None given (or empty).
    Absent,
    /// ASCII digits, at most 128.
    Readable(String),
    /// Given, but not a sequence number: logged as such, with the record's index.
    Unreadable,
}

impl SequenceNumber {
    /// `sequenceNumber` as given: a string, or any other JSON value.
    pub(crate) fn read(raw: Option<&Value>) -> Self {
        match raw {
            None | Some(Value::Null) => Self::Absent,
            Some(Value::String(text)) => Self::of(text),
            Some(_) => Self::Unreadable,
        }
    }

    /// From a typed record's `sequenceNumber`.
    pub(crate) fn of(text: &str) -> Self {
        if text.is_empty() {
            Self::Absent
        } else if text.len() <= MAX_SEQUENCE_DIGITS && text.bytes().all(|b| b.is_ascii_digit()) {
            Self::Readable(text.to_string())
        } else {
            Self::Unreadable
        }
    }

    /// For a log line: the number, `(none)` or `unreadable sequence number`.
    pub(crate) fn for_log(&self) -> &str {
        match self {
            Self::Absent => "(none)",
            Self::Readable(number) => number,
            Self::Unreadable => "unreadable sequence number",
        }
    }
}

impl<'de> Deserialize<'de> for LogAlertEvent {
    /// Objects only; anything else is not an event log-alert takes, and the envelope says so
    /// as for a direct event without `awslogs.data`.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(TopLevel)
    }
}

struct TopLevel;

impl<'de> Visitor<'de> for TopLevel {
    type Value = LogAlertEvent;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<LogAlertEvent, A::Error> {
        let mut records = None;
        let mut direct = SubscriptionEvent::default();
        while let Some(key) = map.next_key::<Cow<'_, str>>()? {
            match key.as_ref() {
                "Records" => records = map.next_value::<Option<Vec<RecordSlot>>>()?,
                "awslogs" => direct = map.next_value::<AwslogsField>()?.0,
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(match records {
            Some(records) => LogAlertEvent::Kinesis(records),
            None => LogAlertEvent::Direct(direct),
        })
    }
}

impl<'de> Deserialize<'de> for RecordSlot {
    /// Through a `Value`, so a record that is not a Kinesis record still tells its sequence
    /// number (for the log line that rejects it), when it reads as one.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        Ok(Self(KinesisEventRecord::deserialize(&value).map_err(|e| {
            Defect {
                sequence_number: SequenceNumber::read(value.pointer("/kinesis/sequenceNumber")),
                // "a field has the wrong type": serde's own words would quote the data.
                problem: Malformed::from_serde(&e),
            }
        })))
    }
}

/// The idempotency key of one record: the stream (`eventSourceARN`) and the record's
/// `eventID` (`shardId-…:<sequence number>`), so a record delivered again, in whatever batch,
/// has the same key and no two records share one.
pub(crate) fn record_key(function: &str, record: &KinesisEventRecord) -> IdempotencyKey {
    let stream = record.event_source_arn.as_deref().unwrap_or_default();
    IdempotencyKey::from_payload(function, stream.as_bytes()).item(&event_id(record))
}

/// `eventID`, or the sequence number when a hand-made event has none.
pub(crate) fn event_id(record: &KinesisEventRecord) -> Cow<'_, str> {
    match &record.event_id {
        Some(id) => Cow::Borrowed(id),
        None => Cow::Owned(format!(":{}", record.kinesis.sequence_number)),
    }
}

/// Orders sequence numbers (decimal strings of up to 128 digits) as numbers.
pub(crate) fn by_sequence(a: &str, b: &str) -> Ordering {
    let (a, b) = (a.trim_start_matches('0'), b.trim_start_matches('0'));
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use base64::Engine;
    use serde_json::json;

    /// A Kinesis record as Lambda delivers it, holding `data` (already gzip, or anything).
    pub(crate) fn record(sequence: u64, data: &[u8]) -> Value {
        json!({
            "kinesis": {
                "kinesisSchemaVersion": "1.0",
                "partitionKey": "a1b2c3",
                "sequenceNumber": sequence.to_string(),
                "data": base64::engine::general_purpose::STANDARD.encode(data),
                "approximateArrivalTimestamp": 1_764_093_600.5
            },
            "eventSource": "aws:kinesis",
            "eventVersion": "1.0",
            "eventID": format!("shardId-000000000000:{sequence}"),
            "eventName": "aws:kinesis:record",
            "invokeIdentityArn": "arn:aws:iam::123456789012:role/lookout-log-alert",
            "awsRegion": "us-east-1",
            "eventSourceARN": "arn:aws:kinesis:us-east-1:123456789012:stream/lookout-logs"
        })
    }

    fn typed(event: Value) -> LogAlertEvent {
        serde_json::from_value(event).unwrap()
    }

    #[test]
    fn records_make_a_kinesis_batch_and_awslogs_a_direct_event() {
        let LogAlertEvent::Kinesis(slots) = typed(json!({"Records": [record(7, b"x")]})) else {
            panic!("a Kinesis batch");
        };
        let record = slots[0].0.as_ref().unwrap();
        assert_eq!(record.kinesis.data.0, b"x");
        assert_eq!(event_id(record), "shardId-000000000000:7");
        let LogAlertEvent::Direct(direct) = typed(json!({"awslogs": {"data": "H4sI"}})) else {
            panic!("a direct event");
        };
        assert_eq!(direct.data().unwrap(), "H4sI");
        // No Records: read as a direct event, which names what is missing.
        assert!(matches!(typed(json!({"Records": null})), LogAlertEvent::Direct(d) if d.data().is_err()));
        assert!(serde_json::from_value::<LogAlertEvent>(json!("x")).is_err());
    }

    #[test]
    fn a_record_that_is_not_one_is_kept_with_its_sequence_number_never_its_data() {
        let mut bad = record(9, b"x");
        bad["kinesis"]["data"] = json!("not base64 password=hunter2");
        let LogAlertEvent::Kinesis(slots) = typed(json!({"Records": [record(8, b"x"), bad, {"x": 1}]}))
        else {
            panic!("a Kinesis batch");
        };
        assert!(slots[0].0.is_ok());
        let defect = slots[1].0.as_ref().unwrap_err();
        assert_eq!(defect.sequence_number, SequenceNumber::Readable("9".into()));
        assert!(
            !defect.problem.to_string().contains("hunter2"),
            "{}",
            defect.problem
        );
        let missing = slots[2].0.as_ref().unwrap_err();
        assert_eq!(
            (&missing.sequence_number, missing.problem.to_string().as_str()),
            (&SequenceNumber::Absent, "missing field `kinesis`")
        );
    }

    #[test]
    fn a_sequence_number_is_kept_only_when_it_is_decimal_digits_of_kinesis_length() {
        let defect = |sequence: Value| {
            let mut bad = record(1, b"x");
            bad["kinesis"]["data"] = json!(1);
            bad["kinesis"]["sequenceNumber"] = sequence;
            let LogAlertEvent::Kinesis(slots) = typed(json!({"Records": [bad]})) else {
                panic!("a Kinesis batch");
            };
            slots[0].0.as_ref().unwrap_err().sequence_number.clone()
        };
        let longest = "4".repeat(128);
        assert_eq!(defect(json!(longest)), SequenceNumber::Readable(longest.clone()));
        assert_eq!(defect(json!("007")), SequenceNumber::Readable("007".into()));
        assert_eq!(defect(json!(null)), SequenceNumber::Absent);
        assert_eq!(defect(json!("")), SequenceNumber::Absent);
        for unreadable in [
            json!("4".repeat(129)),
            json!("12\n{\"level\":\"ERROR\"} forged"),
            json!("password=hunter2"),
            json!("-1"),
            json!(" 1"),
            json!("１２"),
            json!(12),
            json!({"n": "1"}),
        ] {
            let read = defect(unreadable.clone());
            assert_eq!(read, SequenceNumber::Unreadable, "{unreadable}");
            assert_eq!(read.for_log(), "unreadable sequence number");
        }
        assert_eq!(SequenceNumber::Absent.for_log(), "(none)");
        assert_eq!(
            SequenceNumber::of("49590338271490256608559692538361571095921575989136588898").for_log(),
            "49590338271490256608559692538361571095921575989136588898"
        );
    }

    #[test]
    fn keys_are_per_stream_and_record_and_sequence_numbers_order_as_numbers() {
        let typed = |v: Value| serde_json::from_value::<KinesisEventRecord>(v).unwrap();
        let a = typed(record(1, b"x"));
        let mut other_stream = record(1, b"x");
        other_stream["eventSourceARN"] = json!("arn:aws:kinesis:us-east-1:123456789012:stream/other");
        assert_eq!(
            record_key("log-alert", &a),
            record_key("log-alert", &typed(record(1, b"y")))
        );
        assert_ne!(
            record_key("log-alert", &a),
            record_key("log-alert", &typed(record(2, b"x")))
        );
        assert_ne!(
            record_key("log-alert", &a),
            record_key("log-alert", &typed(other_stream))
        );
        let long = "49590338271490256608559692538361571095921575989136588898";
        let longer = "49590338271490256608559692538361571095921575989136588899";
        assert_eq!(by_sequence(long, longer), Ordering::Less);
        assert_eq!(by_sequence("9", "10"), Ordering::Less);
        assert_eq!(by_sequence("010", "10"), Ordering::Equal);
    }
}
