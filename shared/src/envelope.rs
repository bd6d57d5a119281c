//! The boundary where an invocation's payload becomes a typed event: [`Incoming<T>`] is every
//! function's `Function::Event`. The runtime hands it any JSON; it keeps the document (the
//! idempotency key hashes its canonical form) and the typed value, or the reason the payload
//! is not a `T`, in words that never quote the payload (serde's own messages can: "invalid
//! type: string \"hunter2\""). A function then fails with its own named error.
//!
//! The typed envelopes are `aws_lambda_events`' (EventBridge, SQS, Kinesis), each function
//! bringing its own `detail` types.

use serde::de::{Deserialize, DeserializeOwned, Deserializer};
use serde_json::Value;

/// Why a payload is not the event a function takes; never quotes the payload.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Malformed(String);

impl Malformed {
    /// From serde's error: a missing field is named (the name is the schema's, not the
    /// payload's); anything else is said in general words.
    pub fn from_serde(e: &serde_json::Error) -> Self {
        let text = e.to_string();
        match text.strip_prefix("missing field ") {
            Some(rest) => Self(format!(
                "missing field {}",
                rest.split(" at line").next().unwrap_or(rest)
            )),
            None => Self("a field has the wrong type or value".into()),
        }
    }

    /// A problem the function found itself, in its own words.
    pub fn new(problem: impl Into<String>) -> Self {
        Self(problem.into())
    }
}

/// An invocation's payload: the JSON document as delivered and, when it is one, the `T`.
#[derive(Debug, Clone)]
pub struct Incoming<T> {
    document: Value,
    event: Result<T, Malformed>,
}

impl<T> Incoming<T> {
    /// The document as delivered (for the idempotency key).
    pub fn document(&self) -> &Value {
        &self.document
    }

    /// The typed event, or why the payload is not one.
    pub fn event(&self) -> Result<&T, &Malformed> {
        self.event.as_ref()
    }

    /// Both, by value.
    pub fn into_parts(self) -> (Value, Result<T, Malformed>) {
        (self.document, self.event)
    }
}

impl<T: DeserializeOwned> Incoming<T> {
    /// Types `document` as a `T` (tests, benches and fuzz targets build events this way).
    pub fn from_document(document: Value) -> Self {
        let event = T::deserialize(&document).map_err(|e| Malformed::from_serde(&e));
        Self { document, event }
    }
}

/// Never fails on JSON: a payload that is not a `T` is carried as [`Malformed`], so the
/// function answers with its named error instead of the runtime's message quoting serde's.
impl<'de, T: DeserializeOwned> Deserialize<'de> for Incoming<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Value::deserialize(deserializer).map(Self::from_document)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize, PartialEq)]
    struct Scan {
        #[serde(rename = "repository-name")]
        repository: String,
        count: u32,
    }

    #[test]
    fn a_payload_that_is_not_the_event_is_named_without_quoting_it() {
        let ok: Incoming<Scan> = serde_json::from_str(r#"{"repository-name":"web","count":2}"#).unwrap();
        assert_eq!(
            ok.event(),
            Ok(&Scan {
                repository: "web".into(),
                count: 2
            })
        );
        let wrong: Incoming<Scan> =
            serde_json::from_str(r#"{"repository-name":"web","count":"hunter2"}"#).unwrap();
        let problem = wrong.event().unwrap_err().to_string();
        assert_eq!(problem, "a field has the wrong type or value");
        let missing: Incoming<Scan> = serde_json::from_str(r#"{"count":1,"x":"hunter2"}"#).unwrap();
        assert_eq!(
            missing.event().unwrap_err().to_string(),
            "missing field `repository-name`"
        );
        assert_eq!(
            missing.document()["x"],
            "hunter2",
            "the document is kept for the key"
        );
    }
}
