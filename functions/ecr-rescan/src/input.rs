//! What an invocation may ask for: nothing (`{}`), an EventBridge scheduled event, or
//! overrides. Anything else is a clear error, never a silent default run.

use serde::Deserialize;
use serde_json::Value;

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct Overrides {
    pub dry_run: Option<bool>,
    /// Repository name patterns, narrowing the configured ones.
    pub repositories: Option<Vec<String>>,
    pub max_images_per_repository: Option<usize>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error(
    "invalid ecr-rescan input: {0}. Expected {{}}, a scheduled event, or {{\"dryRun\": bool, \"repositories\": [\"pattern\"], \"maxImagesPerRepository\": n}}"
)]
pub struct InputError(pub String);

/// Parses the invocation payload.
pub(crate) fn parse(event: &Value) -> Result<Overrides, InputError> {
    match event {
        Value::Null => Ok(Overrides::default()),
        Value::Object(map) if is_scheduled_event(map) => match map.get("detail") {
            None | Some(Value::Null) => Ok(Overrides::default()),
            Some(detail) => {
                overrides(detail).map_err(|e| InputError(format!("in the event's detail: {}", e.0)))
            }
        },
        Value::Object(_) => overrides(event),
        other => Err(InputError(format!("expected a JSON object, got {}", kind(other)))),
    }
}

/// EventBridge scheduled events (`aws.events`) and rule-forwarded ones have these fields.
fn is_scheduled_event(map: &serde_json::Map<String, Value>) -> bool {
    map.contains_key("detail-type") && map.contains_key("source")
}

fn overrides(value: &Value) -> Result<Overrides, InputError> {
    let parsed = Overrides::deserialize(value).map_err(|e| InputError(e.to_string()))?;
    if parsed
        .repositories
        .as_ref()
        .is_some_and(|r| r.iter().any(|p| p.trim().is_empty()))
    {
        return Err(InputError("repositories contains an empty pattern".into()));
    }
    Ok(parsed)
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
    use serde_json::json;

    #[test]
    fn accepts_the_documented_shapes() {
        assert_eq!(parse(&json!({})).unwrap(), Overrides::default());
        assert_eq!(parse(&Value::Null).unwrap(), Overrides::default());
        let scheduled = json!({
            "version": "0", "id": "89d1a02d-5ec7-412e-82f5-13505f849b41", "detail-type": "Scheduled Event",
            "source": "aws.events", "account": "123456789012", "time": "2025-11-25T03:00:00Z",
            "region": "us-east-1", "resources": ["arn:aws:events:us-east-1:123456789012:rule/lookout"], "detail": {}
        });
        assert_eq!(parse(&scheduled).unwrap(), Overrides::default());
        let o =
            parse(&json!({"dryRun": true, "repositories": ["web-*"], "maxImagesPerRepository": 5})).unwrap();
        assert_eq!(o.dry_run, Some(true));
        assert_eq!(o.repositories, Some(vec!["web-*".to_string()]));
        assert_eq!(o.max_images_per_repository, Some(5));
    }

    #[test]
    fn unknown_fields_and_wrong_types_are_named() {
        let e = parse(&json!({"dryrun": true})).unwrap_err();
        assert!(e.to_string().contains("unknown field `dryrun`"), "{e}");
        let e = parse(&json!({"dryRun": "yes"})).unwrap_err();
        assert!(
            e.to_string()
                .contains("invalid type: string \"yes\", expected a boolean"),
            "{e}"
        );
        let e = parse(&json!({"maxImagesPerRepository": -1})).unwrap_err();
        assert!(e.to_string().contains("invalid value"), "{e}");
        assert!(
            parse(&json!([1]))
                .unwrap_err()
                .to_string()
                .contains("got an array")
        );
        let e = parse(&json!({"detail-type": "Scheduled Event", "source": "aws.events", "detail": {"x": 1}}))
            .unwrap_err();
        assert!(
            e.to_string().contains("in the event's detail: unknown field `x`"),
            "{e}"
        );
        assert!(parse(&json!({"repositories": [" "]})).is_err());
    }
}
