//! CloudWatch Logs subscription payloads: the event is `{"awslogs": {"data": "<base64>"}}`, and
//! `awslogs.data` is base64 of gzip of JSON.
//!
//! The envelope ([`SubscriptionEvent`]) and the decoder are log-alert's own, not
//! `aws_lambda_events`' `LogsEvent`: that one inflates the gzip inside its deserializer with no
//! size cap (a gzip bomb takes all memory), rejects unknown keys inside `awslogs`, and needs
//! `subscriptionFilters`, which some CONTROL_MESSAGEs lack (`shared/aws-facts.md`). Here the
//! bounds and the zero-copy parse are the point:
//!
//! - decompression is capped: the inflater stops at the configured number of bytes, so a gzip
//!   bomb is refused after inflating at most that much, in bounded memory and time;
//! - the JSON is parsed into structures that borrow from the decompressed buffer.

use base64::Engine;
use serde::Deserialize;
use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use std::borrow::Cow;
use std::fmt;
use std::io::Read;

/// CloudWatch sends at most ~1 MB of compressed data holding up to 1,048,576 bytes of log
/// events (plus JSON framing and escapes). 8 MiB leaves room for that and refuses bombs.
pub const DEFAULT_MAX_DECOMPRESSED_BYTES: usize = 8 << 20;

#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("the event has no awslogs.data field: it is not a CloudWatch Logs subscription event")]
    MissingData,
    #[error("awslogs.data is not a string")]
    DataNotString,
    /// The offset only: base64's own message quotes the offending byte of the payload.
    #[error("awslogs.data is not valid base64 (at or near byte offset {offset})")]
    NotBase64 { offset: usize },
    #[error("awslogs.data is not gzip (the decoded bytes do not start with the gzip magic number)")]
    NotGzip,
    #[error("awslogs.data is truncated gzip: the stream ended early")]
    TruncatedGzip,
    #[error("awslogs.data is corrupt gzip: {0}")]
    CorruptGzip(String),
    #[error("awslogs.data decompresses to more than the {limit}-byte cap (MAX_DECOMPRESSED_BYTES)")]
    TooLarge { limit: usize },
    #[error("the decompressed awslogs.data is not UTF-8 (invalid bytes at offset {valid_up_to})")]
    NotUtf8 { valid_up_to: usize },
    /// Only the position: serde's message can quote the input.
    #[error("the decompressed awslogs.data is not JSON (syntax error at line {line}, column {column})")]
    NotJson { line: usize, column: usize },
    /// Names the field (or the position), never the value: a value can be a secret or 5 KB long.
    #[error("the decompressed awslogs.data is not a CloudWatch Logs message ({problem})")]
    NotLogsMessage { problem: String },
}

impl DecodeError {
    /// A stable name for Lambda's `errorType`, so failures can be told apart in metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            DecodeError::MissingData => "MissingAwslogsData",
            DecodeError::DataNotString => "AwslogsDataNotString",
            DecodeError::NotBase64 { .. } => "PayloadNotBase64",
            DecodeError::NotGzip => "PayloadNotGzip",
            DecodeError::TruncatedGzip => "PayloadTruncatedGzip",
            DecodeError::CorruptGzip(_) => "PayloadCorruptGzip",
            DecodeError::TooLarge { .. } => "PayloadTooLarge",
            DecodeError::NotUtf8 { .. } => "PayloadNotUtf8",
            DecodeError::NotJson { .. } => "PayloadNotJson",
            DecodeError::NotLogsMessage { .. } => "PayloadNotLogsMessage",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum MessageType {
    #[serde(rename = "DATA_MESSAGE")]
    Data,
    /// CloudWatch checking that the destination is reachable: acknowledge, publish nothing.
    #[serde(rename = "CONTROL_MESSAGE")]
    Control,
}

/// One subscription delivery. Unknown fields are tolerated: new subscription options add them.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LogsMessage<'a> {
    pub message_type: MessageType,
    #[serde(default, borrow)]
    pub owner: Cow<'a, str>,
    #[serde(default, borrow)]
    pub log_group: Cow<'a, str>,
    #[serde(default, borrow)]
    pub log_stream: Cow<'a, str>,
    /// `[]` or missing on some CONTROL_MESSAGEs.
    #[serde(default, borrow)]
    pub subscription_filters: Vec<Cow<'a, str>>,
    /// Set (e.g. `ACCOUNT_LEVEL_POLICY`) when an account-level subscription policy delivered it.
    #[serde(default, borrow)]
    pub policy_level: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    pub log_events: Vec<LogEvent<'a>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct LogEvent<'a> {
    /// A string of digits from CloudWatch Logs; moto writes a number, read as its digits.
    #[serde(deserialize_with = "event_id")]
    pub id: Cow<'a, str>,
    pub timestamp: i64,
    #[serde(borrow)]
    pub message: Cow<'a, str>,
}

/// An event id: a string, borrowed when it has no escapes, or a whole number.
fn event_id<'de: 'a, 'a, D: Deserializer<'de>>(deserializer: D) -> Result<Cow<'a, str>, D::Error> {
    struct Id;
    impl<'de> Visitor<'de> for Id {
        type Value = Cow<'de, str>;

        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a string or a whole number")
        }

        fn visit_borrowed_str<E>(self, id: &'de str) -> Result<Self::Value, E> {
            Ok(Cow::Borrowed(id))
        }

        fn visit_str<E>(self, id: &str) -> Result<Self::Value, E> {
            Ok(Cow::Owned(id.to_owned()))
        }

        fn visit_u64<E>(self, id: u64) -> Result<Self::Value, E> {
            Ok(Cow::Owned(id.to_string()))
        }
    }
    deserializer.deserialize_any(Id)
}

/// A CloudWatch Logs subscription event as Lambda delivers it:
/// `{"awslogs": {"data": "<base64 of gzip of JSON>"}}`. Any JSON document types as one: other
/// keys are ignored, and a missing or mistyped `awslogs.data` is kept as such, so that
/// [`data`](Self::data) names what is wrong (without quoting it).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SubscriptionEvent {
    data: AwslogsData,
}

/// What `awslogs.data` holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
enum AwslogsData {
    Text(String),
    NotText,
    /// Absent or null, or `awslogs` (or the event) is not an object.
    #[default]
    Missing,
}

impl SubscriptionEvent {
    /// `awslogs.data`, still base64 of gzip: [`decompress`] it.
    pub fn data(&self) -> Result<&str, DecodeError> {
        match &self.data {
            AwslogsData::Text(data) => Ok(data),
            AwslogsData::NotText => Err(DecodeError::DataNotString),
            AwslogsData::Missing => Err(DecodeError::MissingData),
        }
    }
}

impl<'de> Deserialize<'de> for SubscriptionEvent {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Level::Event.deserialize(deserializer).map(|data| Self { data })
    }
}

/// The value of an event's `awslogs` key, read as [`SubscriptionEvent`] reads it (the Kinesis
/// envelope looks at the event's keys itself).
#[derive(Debug)]
pub(crate) struct AwslogsField(pub(crate) SubscriptionEvent);

impl<'de> Deserialize<'de> for AwslogsField {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Level::Awslogs
            .deserialize(deserializer)
            .map(|data| Self(SubscriptionEvent { data }))
    }
}

/// Where the envelope's visitor stands: the event, its `awslogs` object, or `awslogs.data`.
/// A visitor rather than derived structs: those accept any value only as an error (which
/// would lose which field was wrong) and accept arrays in place of objects.
#[derive(Debug, Clone, Copy)]
enum Level {
    Event,
    Awslogs,
    Data,
}

impl Level {
    /// What a value other than the expected one means here.
    fn other(self) -> AwslogsData {
        match self {
            Level::Data => AwslogsData::NotText,
            Level::Event | Level::Awslogs => AwslogsData::Missing,
        }
    }
}

impl<'de> DeserializeSeed<'de> for Level {
    type Value = AwslogsData;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<AwslogsData, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Level {
    type Value = AwslogsData;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<AwslogsData, E> {
        Ok(self.other())
    }

    fn visit_i64<E>(self, _: i64) -> Result<AwslogsData, E> {
        Ok(self.other())
    }

    fn visit_u64<E>(self, _: u64) -> Result<AwslogsData, E> {
        Ok(self.other())
    }

    fn visit_f64<E>(self, _: f64) -> Result<AwslogsData, E> {
        Ok(self.other())
    }

    /// `null`: as if absent.
    fn visit_unit<E>(self) -> Result<AwslogsData, E> {
        Ok(AwslogsData::Missing)
    }

    fn visit_str<E>(self, text: &str) -> Result<AwslogsData, E> {
        Ok(match self {
            Level::Data => AwslogsData::Text(text.to_owned()),
            _ => self.other(),
        })
    }

    fn visit_string<E>(self, text: String) -> Result<AwslogsData, E> {
        Ok(match self {
            Level::Data => AwslogsData::Text(text),
            _ => self.other(),
        })
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<AwslogsData, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(self.other())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<AwslogsData, A::Error> {
        let inner = match self {
            Level::Event => Some(("awslogs", Level::Awslogs)),
            Level::Awslogs => Some(("data", Level::Data)),
            Level::Data => None,
        };
        let mut found = self.other();
        while let Some(key) = map.next_key::<Cow<'_, str>>()? {
            match inner {
                Some((wanted, level)) if key == wanted => found = map.next_value_seed(level)?,
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(found)
    }
}

/// base64 → gzip into `out` (cleared first), refusing more than `max_bytes` of output.
pub fn decompress(data: &str, max_bytes: usize, out: &mut Vec<u8>) -> Result<(), DecodeError> {
    let data = data.trim();
    let compressed = base64::engine::general_purpose::STANDARD
        .decode(data)
        .map_err(|e| DecodeError::NotBase64 {
            offset: match e {
                base64::DecodeError::InvalidByte(offset, _)
                | base64::DecodeError::InvalidLastSymbol(offset, _) => offset,
                base64::DecodeError::InvalidLength(_) | base64::DecodeError::InvalidPadding => data.len(),
            },
        })?;
    inflate(&compressed, max_bytes, out)
}

/// gzip into `out` (cleared first), refusing more than `max_bytes` of output: the second half
/// of [`decompress`], and all of it for a Kinesis record, whose data Lambda base64-decoded.
pub(crate) fn inflate(compressed: &[u8], max_bytes: usize, out: &mut Vec<u8>) -> Result<(), DecodeError> {
    out.clear();
    if compressed.len() < 2 || compressed[..2] != [0x1f, 0x8b] {
        return Err(DecodeError::NotGzip);
    }
    out.reserve(expected_size(compressed).min(max_bytes) + 1);
    // Every gzip member is decoded (RFC 1952 allows several, concatenated): a single-member
    // decoder would silently drop the events after the first.
    let mut inflater = flate2::read::MultiGzDecoder::new(compressed).take(max_bytes as u64 + 1);
    match inflater.read_to_end(out) {
        Ok(_) if out.len() > max_bytes => Err(DecodeError::TooLarge { limit: max_bytes }),
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Err(DecodeError::TruncatedGzip),
        Err(e) => Err(DecodeError::CorruptGzip(e.to_string())),
    }
}

/// The size the gzip trailer announces (ISIZE: the input's length mod 2^32), so the output
/// is allocated once instead of doubling through a megabyte batch. Only a capacity hint: the
/// caller caps it, and the inflater's own cap is what refuses a lie.
fn expected_size(gzip: &[u8]) -> usize {
    match gzip.last_chunk::<4>() {
        Some(isize) => u32::from_le_bytes(*isize) as usize,
        None => 0,
    }
}

/// What is wrong with the shape, without the offending value: serde's message quotes it
/// (`unknown variant "password=hunter2"`), so only the field it names and the position are kept.
fn shape_problem(e: &serde_json::Error) -> String {
    let text = e.to_string();
    let field = [
        "messageType",
        "owner",
        "logGroup",
        "logStream",
        "subscriptionFilters",
        "policyLevel",
        "logEvents",
        "id",
        "timestamp",
        "message",
    ]
    .into_iter()
    .find(|f| text.contains(&format!("`{f}`")));
    let what = if text.starts_with("missing field") {
        "missing field"
    } else if text.starts_with("unknown variant") {
        "unknown value"
    } else if text.starts_with("invalid type") {
        "wrong type"
    } else if text.starts_with("invalid value") {
        "invalid value"
    } else {
        "unexpected content"
    };
    match field {
        Some(f) => format!("{what} for field {f} at line {}, column {}", e.line(), e.column()),
        None => format!("{what} at line {}, column {}", e.line(), e.column()),
    }
}

/// Parses decompressed bytes into a message borrowing from them.
pub fn parse(json: &[u8]) -> Result<LogsMessage<'_>, DecodeError> {
    // One SIMD pass validates the whole buffer; serde_json would otherwise validate every
    // string on its own, slowly for non-ASCII text.
    let json = simdutf8::basic::from_utf8(json).map_err(|_| {
        let valid_up_to = simdutf8::compat::from_utf8(json).map_or_else(|e| e.valid_up_to(), |s| s.len());
        DecodeError::NotUtf8 { valid_up_to }
    })?;
    let message: LogsMessage = serde_json::from_str(json).map_err(|e| match e.classify() {
        serde_json::error::Category::Data => DecodeError::NotLogsMessage {
            problem: shape_problem(&e),
        },
        _ => DecodeError::NotJson {
            line: e.line(),
            column: e.column(),
        },
    })?;
    if message.message_type == MessageType::Data && message.log_group.is_empty() {
        return Err(DecodeError::NotLogsMessage {
            problem: "DATA_MESSAGE without logGroup".into(),
        });
    }
    Ok(message)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use flate2::{Compression, write::GzEncoder};
    use std::io::Write;

    pub(crate) fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut enc = GzEncoder::new(Vec::new(), Compression::default());
        enc.write_all(bytes).unwrap();
        enc.finish().unwrap()
    }

    pub(crate) fn encode(json: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(gzip(json.as_bytes()))
    }

    fn decode(data: &str, max: usize) -> Result<Vec<u8>, DecodeError> {
        let mut out = Vec::new();
        decompress(data, max, &mut out).map(|_| out)
    }

    const DATA: &str = r#"{"messageType":"DATA_MESSAGE","owner":"123456789012","logGroup":"/ecs/web","logStream":"web/1","subscriptionFilters":["errors"],"policyLevel":"ACCOUNT_LEVEL_POLICY","logEvents":[{"id":"1","timestamp":1714557600000,"message":"ERROR one\n\tat Foo.bar(Foo.java:1)"},{"id":"2","timestamp":1714557601000,"message":"日本語 \"quoted\" ✓"}],"newField":1}"#;

    #[test]
    fn decodes_a_data_message_with_borrowed_text() {
        let bytes = decode(&encode(DATA), DEFAULT_MAX_DECOMPRESSED_BYTES).unwrap();
        let msg = parse(&bytes).unwrap();
        assert_eq!(msg.message_type, MessageType::Data);
        assert_eq!(msg.log_group, "/ecs/web");
        assert_eq!(msg.policy_level.as_deref(), Some("ACCOUNT_LEVEL_POLICY"));
        assert_eq!(msg.log_events.len(), 2);
        assert_eq!(msg.log_events[0].message, "ERROR one\n\tat Foo.bar(Foo.java:1)");
        assert_eq!(msg.log_events[1].message, "日本語 \"quoted\" ✓");
        assert!(matches!(msg.log_group, Cow::Borrowed(_)));
    }

    #[test]
    fn event_ids_are_strings_or_whole_numbers_as_moto_writes_them() {
        let json = br#"{"messageType":"DATA_MESSAGE","logGroup":"/g","logEvents":[{"id":"3\u0030","timestamp":1,"message":"a"},{"id":7,"timestamp":2,"message":"b"}]}"#;
        let msg = parse(json).unwrap();
        assert_eq!(
            (msg.log_events[0].id.as_ref(), msg.log_events[1].id.as_ref()),
            ("30", "7")
        );
        for id in ["-1", "1.5", "null", "[]"] {
            let json = format!(
                r#"{{"messageType":"DATA_MESSAGE","logGroup":"/g","logEvents":[{{"id":{id},"timestamp":1,"message":"a"}}]}}"#
            );
            assert_eq!(
                parse(json.as_bytes()).unwrap_err().kind(),
                "PayloadNotLogsMessage",
                "{id}"
            );
        }
    }

    #[test]
    fn control_messages_may_lack_everything_but_their_type() {
        let json = r#"{"messageType":"CONTROL_MESSAGE","owner":"CloudwatchLogs","logGroup":"","logStream":"","logEvents":[{"id":"","timestamp":1,"message":"CWL CONTROL MESSAGE: Checking health of destination Lambda."}]}"#;
        let bytes = decode(&encode(json), 1 << 20).unwrap();
        assert_eq!(parse(&bytes).unwrap().message_type, MessageType::Control);
    }

    #[test]
    fn each_malformed_input_is_named() {
        let cases: Vec<(String, &str)> = vec![
            ("not base64 !!".into(), "PayloadNotBase64"),
            (
                base64::engine::general_purpose::STANDARD.encode(b"plain text"),
                "PayloadNotGzip",
            ),
            (
                {
                    let gz = gzip(DATA.as_bytes());
                    base64::engine::general_purpose::STANDARD.encode(&gz[..gz.len() / 2])
                },
                "PayloadTruncatedGzip",
            ),
            (
                {
                    let mut gz = gzip(DATA.as_bytes());
                    let n = gz.len();
                    gz[12..n - 8].iter_mut().for_each(|b| *b ^= 0x5a);
                    base64::engine::general_purpose::STANDARD.encode(&gz)
                },
                "PayloadCorruptGzip",
            ),
        ];
        for (data, kind) in cases {
            let err = decode(&data, 1 << 20).unwrap_err();
            assert_eq!(err.kind(), kind, "{err}");
        }
        let not_json = decode(&encode("hello"), 1 << 20).unwrap();
        assert_eq!(parse(&not_json).unwrap_err().kind(), "PayloadNotJson");
        let mut latin1 = DATA.as_bytes().to_vec();
        let at = DATA.find("ERROR").unwrap();
        latin1[at] = 0xC9; // 'É' in Latin-1, a stray continuation-less lead byte in UTF-8
        let err = parse(&latin1).unwrap_err();
        assert_eq!(err.kind(), "PayloadNotUtf8");
        assert!(err.to_string().contains(&format!("offset {at}")), "{err}");
        let wrong_shape = decode(&encode(r#"{"messageType":"SOMETHING"}"#), 1 << 20).unwrap();
        let err = parse(&wrong_shape).unwrap_err();
        assert_eq!(err.kind(), "PayloadNotLogsMessage");
        assert!(!err.to_string().contains("SOMETHING"), "{err}");
        let no_group = decode(
            &encode(r#"{"messageType":"DATA_MESSAGE","logEvents":[]}"#),
            1 << 20,
        )
        .unwrap();
        assert_eq!(parse(&no_group).unwrap_err().kind(), "PayloadNotLogsMessage");
    }

    fn data_of(event: serde_json::Value) -> Result<String, &'static str> {
        let event: SubscriptionEvent = serde_json::from_value(event).unwrap();
        event.data().map(str::to_string).map_err(|e| e.kind())
    }

    #[test]
    fn missing_or_mistyped_data() {
        use serde_json::json;
        for missing in [
            json!({}),
            json!({"awslogs": {}}),
            json!({"awslogs": null}),
            json!({"awslogs": {"data": null}}),
            json!({"awslogs": 5}),
            json!({"awslogs": ["x"]}),
            json!([{"awslogs": {"data": "x"}}]),
            json!("x"),
            json!({"data": "x"}),
        ] {
            assert_eq!(data_of(missing.clone()), Err("MissingAwslogsData"), "{missing}");
        }
        for mistyped in [
            json!({"awslogs": {"data": 5}}),
            json!({"awslogs": {"data": ["x"]}}),
            json!({"awslogs": {"data": {"data": "x"}}}),
            json!({"awslogs": {"data": true}}),
        ] {
            assert_eq!(
                data_of(mistyped.clone()),
                Err("AwslogsDataNotString"),
                "{mistyped}"
            );
        }
        assert_eq!(data_of(json!({"awslogs": {"data": "x"}})), Ok("x".into()));
        // Unknown keys anywhere are tolerated, whatever their values.
        let extra = json!({"v": [1, {"a": null}], "awslogs": {"type": 2.5, "data": "x", "z": {}}});
        assert_eq!(data_of(extra), Ok("x".into()));
    }

    #[test]
    fn the_envelope_is_typed_from_raw_bytes_too() {
        let event: SubscriptionEvent =
            serde_json::from_str(r#"{"awslogs":{"data":"H4sI\u0041"},"awslogs2":1}"#).unwrap();
        assert_eq!(event.data().unwrap(), "H4sIA");
        let err = serde_json::from_str::<SubscriptionEvent>(r#"{"awslogs":{"data":5}}"#)
            .unwrap()
            .data()
            .unwrap_err();
        assert_eq!(err.to_string(), "awslogs.data is not a string");
    }

    #[test]
    fn size_cap_is_exact() {
        let payload = "a".repeat(1000);
        let data = encode(&payload);
        assert_eq!(decode(&data, 1000).unwrap().len(), 1000);
        let err = decode(&data, 999).unwrap_err();
        assert!(matches!(err, DecodeError::TooLarge { limit: 999 }));
        assert!(err.to_string().contains("MAX_DECOMPRESSED_BYTES"));
    }

    #[test]
    fn gzip_bomb_is_refused_without_inflating_it_all() {
        // 64 MiB of zeros compresses to ~64 KiB; only cap + 1 bytes are ever inflated.
        let mut enc = GzEncoder::new(Vec::new(), Compression::best());
        let zeros = vec![0u8; 1 << 20];
        for _ in 0..64 {
            enc.write_all(&zeros).unwrap();
        }
        let data = base64::engine::general_purpose::STANDARD.encode(enc.finish().unwrap());
        let mut out = Vec::new();
        let err = decompress(&data, 1 << 20, &mut out).unwrap_err();
        assert!(matches!(err, DecodeError::TooLarge { .. }));
        assert_eq!(out.len(), (1 << 20) + 1);
    }

    #[test]
    fn every_gzip_member_is_decoded() {
        let first = br#"{"messageType":"DATA_MESSAGE","logGroup":"/g","logEvents":[{"id":"1","timestamp":1,"message":"ERROR a"},"#;
        let second = br#"{"id":"2","timestamp":2,"message":"FATAL member two"}]}"#;
        let mut two = gzip(first);
        two.extend_from_slice(&gzip(second));
        let data = base64::engine::general_purpose::STANDARD.encode(&two);
        let bytes = decode(&data, 1 << 20).unwrap();
        let msg = parse(&bytes).unwrap();
        assert_eq!(msg.log_events.len(), 2);
        assert_eq!(msg.log_events[1].message, "FATAL member two");
        // The cap covers all members together.
        let err = decode(&data, first.len() + 10).unwrap_err();
        assert!(matches!(err, DecodeError::TooLarge { .. }), "{err}");
    }

    #[test]
    fn errors_name_the_field_and_position_never_the_value() {
        let secret = "password=hunter2";
        let long = "x".repeat(5_000);
        for json in [
            format!(r#"{{"messageType":"{secret}"}}"#),
            format!(r#"{{"messageType":"DATA_MESSAGE","logGroup":"/g","logEvents":"{secret} {long}"}}"#),
            format!(r#"{{"messageType":"DATA_MESSAGE","logGroup":["{secret}"]}}"#),
            format!(
                r#"{{"messageType":"DATA_MESSAGE","logGroup":"/g","logEvents":[{{"id":"1","timestamp":"{secret}","message":""}}]}}"#
            ),
            format!(r#"{{"messageType":"DATA_MESSAGE" {secret} {long}"#),
        ] {
            let err = parse(json.as_bytes()).unwrap_err();
            let text = err.to_string();
            assert!(!text.contains("hunter2") && !text.contains("xxxxxxxx"), "{text}");
            assert!(
                text.contains("line 1, column") || text.contains("field"),
                "{text}"
            );
            assert!(text.len() < 200, "{text}");
        }
        let err = parse(br#"{"messageType":"DATA_MESSAGE","logGroup":"/g","logEvents":"x"}"#).unwrap_err();
        assert!(err.to_string().contains("(wrong type at line 1, column"), "{err}");
    }

    #[test]
    fn a_bad_base64_byte_is_named_by_offset_not_by_value() {
        // 'é' is two bytes (0xC3 0xA9); base64's own message would say "Invalid symbol 195".
        let err = decode("QUJD\u{e9}RA==", DEFAULT_MAX_DECOMPRESSED_BYTES).unwrap_err();
        assert_eq!(
            err.to_string(),
            "awslogs.data is not valid base64 (at or near byte offset 4)"
        );
    }
}
