//! What an invocation may ask for (events/ecr-rescan/*.json): nothing (`{}` or no payload),
//! overrides, or an EventBridge event: the schedule's `Scheduled Event` with `detail: {}`, or a
//! rule's event carrying overrides in its `detail`. Anything else is a clear error, never a
//! silent default run, in words that never quote the payload.

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use lookout_shared::envelope::Malformed;
use serde::de::{Error as _, IgnoredAny};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// What the invocation may change of the configured run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Overrides {
    pub(crate) dry_run: Option<bool>,
    /// Repository name patterns, narrowing the configured ones.
    pub(crate) repositories: Option<Vec<String>>,
    pub(crate) max_images_per_repository: Option<usize>,
    /// Any other field: a typo must not run with the defaults (`deny_unknown_fields` would,
    /// but its message quotes the field's name, which is the payload's text).
    #[serde(flatten, skip_serializing)]
    unknown: BTreeMap<String, IgnoredAny>,
}

/// ecr-rescan's event (its `Function::Event` is `Incoming<RescanInput>`); opaque outside
/// the crate, which builds it from JSON only.
#[derive(Debug, Clone, PartialEq)]
pub struct RescanInput(Envelope);

#[derive(Debug, Clone, PartialEq)]
enum Envelope {
    /// An EventBridge event (it has `detail-type` and `source`); its `detail` may carry
    /// overrides.
    EventBridge(EventBridgeEvent<Option<Overrides>>),
    /// A manual invocation: `{}`, no payload, or overrides.
    Manual(Overrides),
    /// A payload that is not a JSON object: what it is instead ("an array").
    NotAnObject(&'static str),
}

/// Why the payload is not an input ecr-rescan takes; never quotes it.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
#[error(
    "invalid ecr-rescan input: {0}. Expected {{}}, a scheduled event, or {{\"dryRun\": bool, \"repositories\": [\"pattern\"], \"maxImagesPerRepository\": n}}"
)]
pub struct InputError(#[from] Malformed);

impl RescanInput {
    /// The overrides asked for (none for a scheduled event), or why the input is not one
    /// ecr-rescan takes.
    pub(crate) fn overrides(&self) -> Result<Overrides, InputError> {
        match &self.0 {
            Envelope::EventBridge(event) => match &event.detail {
                None => Ok(Overrides::default()),
                Some(detail) => checked(detail)
                    .map_err(|problem| Malformed::new(format!("in the event's detail: {problem}")).into()),
            },
            Envelope::Manual(overrides) => checked(overrides).map_err(|p| Malformed::new(p).into()),
            Envelope::NotAnObject(what) => {
                Err(Malformed::new(format!("expected a JSON object, got {what}")).into())
            }
        }
    }

    /// The EventBridge event's unique id: its redeliveries and Lambda's retries carry it.
    pub(crate) fn event_id(&self) -> Option<&str> {
        match &self.0 {
            Envelope::EventBridge(event) => event.id.as_deref(),
            Envelope::Manual(_) | Envelope::NotAnObject(_) => None,
        }
    }

    /// When an EventBridge event says it was scheduled (its `time`), epoch ms.
    pub(crate) fn scheduled_ms(&self) -> Option<i64> {
        match &self.0 {
            Envelope::EventBridge(event) => event.time.map(|t| t.timestamp_millis()),
            Envelope::Manual(_) | Envelope::NotAnObject(_) => None,
        }
    }
}

fn checked(overrides: &Overrides) -> Result<Overrides, &'static str> {
    if !overrides.unknown.is_empty() {
        return Err("an unknown field (the fields are dryRun, repositories and maxImagesPerRepository)");
    }
    if overrides
        .repositories
        .as_ref()
        .is_some_and(|r| r.iter().any(|p| p.trim().is_empty()))
    {
        return Err("repositories contains an empty pattern");
    }
    Ok(overrides.clone())
}

/// Tells the envelopes apart by EventBridge's own fields. A field of the wrong type fails here
/// (`Incoming` says so without quoting); everything else is judged by [`RescanInput::overrides`].
impl<'de> Deserialize<'de> for RescanInput {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let envelope = match Value::deserialize(deserializer)? {
            Value::Null => Envelope::Manual(Overrides::default()),
            Value::Object(mut map) if map.contains_key("detail-type") && map.contains_key("source") => {
                // A forwarded event without `detail` asks for nothing, as `detail: {}` does.
                map.entry("detail").or_insert(Value::Null);
                Envelope::EventBridge(
                    EventBridgeEvent::deserialize(Value::Object(map)).map_err(D::Error::custom)?,
                )
            }
            document @ Value::Object(_) => {
                Envelope::Manual(Overrides::deserialize(document).map_err(D::Error::custom)?)
            }
            other => Envelope::NotAnObject(kind(&other)),
        };
        Ok(RescanInput(envelope))
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lookout_shared::envelope::Incoming;
    use serde_json::json;

    /// The overrides of `document` as the handler gets them, or its error's text.
    fn parse(document: Value) -> Result<Overrides, String> {
        let incoming = Incoming::<RescanInput>::from_document(document);
        let input = incoming
            .event()
            .map_err(|m| InputError::from(m.clone()).to_string())?;
        input.overrides().map_err(|e| e.to_string())
    }

    #[test]
    fn accepts_the_documented_shapes() {
        assert_eq!(parse(json!({})).unwrap(), Overrides::default());
        assert_eq!(parse(Value::Null).unwrap(), Overrides::default());
        let scheduled = json!({
            "version": "0", "id": "89d1a02d-5ec7-412e-82f5-13505f849b41", "detail-type": "Scheduled Event",
            "source": "aws.events", "account": "123456789012", "time": "2025-11-25T03:00:00Z",
            "region": "us-east-1", "resources": ["arn:aws:events:us-east-1:123456789012:rule/lookout"], "detail": {}
        });
        assert_eq!(parse(scheduled).unwrap(), Overrides::default());
        let o =
            parse(json!({"dryRun": true, "repositories": ["web-*"], "maxImagesPerRepository": 5})).unwrap();
        assert_eq!(o.dry_run, Some(true));
        assert_eq!(o.repositories, Some(vec!["web-*".to_string()]));
        assert_eq!(o.max_images_per_repository, Some(5));
        // A rule forwarding overrides in its detail, or no detail at all.
        let forwarded = json!({"detail-type": "Rescan", "source": "ops", "detail": {"dryRun": true}});
        assert_eq!(parse(forwarded).unwrap().dry_run, Some(true));
        let bare = json!({"detail-type": "Rescan", "source": "ops"});
        assert_eq!(parse(bare).unwrap(), Overrides::default());
    }

    #[test]
    fn the_sample_events_parse() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../events/ecr-rescan/");
        for (file, dry_run, max) in [
            ("scheduled.json", None, None),
            ("empty.json", None, None),
            ("dry-run.json", Some(true), None),
            ("override.json", None, Some(5)),
        ] {
            let text = std::fs::read_to_string(format!("{dir}{file}")).unwrap();
            let o = parse(serde_json::from_str(&text).unwrap()).unwrap();
            assert_eq!((o.dry_run, o.max_images_per_repository), (dry_run, max), "{file}");
        }
    }

    #[test]
    fn only_an_eventbridge_event_carries_an_id() {
        let scheduled =
            json!({"id": "53dc4d37", "detail-type": "Scheduled Event", "source": "aws.events", "detail": {}});
        let input = |document| {
            Incoming::<RescanInput>::from_document(document)
                .event()
                .unwrap()
                .clone()
        };
        assert_eq!(input(scheduled).event_id(), Some("53dc4d37"));
        let timed = json!({"detail-type": "Scheduled Event", "source": "aws.events", "time": "2025-11-25T03:00:00Z", "detail": {}});
        assert_eq!(input(timed).scheduled_ms(), Some(1_764_039_600_000));
        assert_eq!(input(json!({})).scheduled_ms(), None);
        assert_eq!(input(json!({})).event_id(), None);
        let without = json!({"detail-type": "Scheduled Event", "source": "aws.events", "detail": {}});
        assert_eq!(input(without).event_id(), None);
    }

    #[test]
    fn unknown_fields_and_wrong_types_are_named_without_quoting_the_payload() {
        let e = parse(json!({"hunter2": true})).unwrap_err();
        assert_eq!(
            e,
            "invalid ecr-rescan input: an unknown field (the fields are dryRun, repositories and maxImagesPerRepository). Expected {}, a scheduled event, or {\"dryRun\": bool, \"repositories\": [\"pattern\"], \"maxImagesPerRepository\": n}"
        );
        for document in [
            json!({"dryRun": "hunter2"}),
            json!({"maxImagesPerRepository": -1}),
            json!({"repositories": "hunter2"}),
            json!({"detail-type": "Scheduled Event", "source": "aws.events", "time": "hunter2", "detail": {}}),
        ] {
            let e = parse(document).unwrap_err();
            assert!(
                e.starts_with("invalid ecr-rescan input: a field has the wrong type or value. Expected"),
                "{e}"
            );
            assert!(!e.contains("hunter2"), "{e}");
        }
        assert!(
            parse(json!([1]))
                .unwrap_err()
                .contains(": expected a JSON object, got an array.")
        );
        assert!(parse(json!("hunter2")).unwrap_err().contains("got a string"));
        let e = parse(
            json!({"detail-type": "Scheduled Event", "source": "aws.events", "detail": {"hunter2": 1}}),
        )
        .unwrap_err();
        assert!(
            e.contains(": in the event's detail: an unknown field (the fields are"),
            "{e}"
        );
        assert!(!e.contains("hunter2"), "{e}");
        assert!(
            parse(json!({"repositories": [" "]}))
                .unwrap_err()
                .contains("repositories contains an empty pattern")
        );
    }
}
