//! Alert state in DynamoDB: exactly one alert per event across Lambda's retries
//! (idempotency) and no alert storms across invocations (suppression window).
//!
//! # Contract (stable: operators' tooling and the tests rely on it)
//! - The table is named by `STATE_TABLE`. Unset: there is no store, and every function
//!   behaves as without it (at-least-once: a retry may repeat an alert). Set but blank or
//!   spaced, or an ARN outside the function's region or partition: refused at init.
//! - Key: the partition key `pk` (String) and nothing else (no sort key).
//! - TTL attribute: `expiresAt` (Number, epoch seconds). DynamoDB deletes expired items days
//!   late, so every read and every condition here compares `expiresAt` with the clock itself.
//! - Key prefixes: `idem#<function>#<sha256 hex>` for idempotency claims (`#<sha256 hex>` more
//!   per item of a batch) and `supp#<function>#<sha256 hex>` for suppression windows. Untrusted
//!   text never reaches a key: only its hash does.
//! - Other attributes: claims carry `status` (`in_progress` | `done` | `failed`), `messageId`
//!   and `decision` (JSON); windows carry `openedAt`, `windowEnd`, `severity`, `suppressed`.
//!
//! # Idempotency (Powertools' design)
//! [`StateStore::claim`] writes an "in progress" record that expires after `hold` (the time the
//! attempt may still run), unless a live record exists. After SNS confirmed the publish,
//! [`StateStore::complete`] marks it done with the MessageId for `IDEMPOTENCY_TTL_HOURS`
//! (≥ 6 h, Lambda's async retry horizon); a retry then gets [`Claim::AlreadyDone`] and
//! publishes nothing. After a failed publish, [`StateStore::fail`] lets a retry take over at
//! once; a crashed attempt's claim is taken over when its hold expires.
//!
//! The key is the SHA-256 of the payload, not the request id: Lambda's async retries
//! keep the request id *and* the payload, a redelivered event (the async queue is at least
//! once) keeps only the payload, and two distinct events never share a payload hash (a
//! CloudWatch Logs batch carries unique event ids; an EventBridge event its unique `id`).
//! The bytes hashed are the event's canonical JSON ([`IdempotencyKey::from_event`]): compact,
//! object keys sorted by their UTF-8 bytes at every depth, non-ASCII written raw, the same as
//! Python's `json.dumps(event, sort_keys=True, separators=(",", ":"), ensure_ascii=False)`. So a
//! key does not depend on how the payload was spaced or ordered, nor on serde_json's
//! `preserve_order` feature, which test builds turn on and production builds do not.
//!
//! A claim carries an opaque, typed decision ([`StateStore::save_decision`]): an attempt that
//! decided to send (the [`Verdict`] of the suppression window) and then failed hands that
//! decision to the retry that takes over ([`Claim::Acquired`]`{ previous_decision }`), so the
//! retry is not suppressed by the window its own first attempt opened.
//!
//! # Suppression window
//! [`StateStore::observe`] decides, atomically across concurrent invocations, whether an alert
//! with a fingerprint goes out: the first one, the first after the window and any of higher
//! severity are sent (with the count of repeats suppressed since the previous alert); the
//! others are counted (UpdateItem ADD) and not sent.
//!
//! # Per alert
//! [`admit`] runs the sequence (claim → window unless an earlier attempt decided → decision
//! saved) and says what to do: publish (then `complete` with the MessageId, or `fail`), skip
//! (done or suppressed), or fail retryably (another attempt holds the claim). Writes per
//! published alert: claim, window, decision, completion (four small UpdateItems; a
//! suppressed repeat: claim, two window writes, completion).
//! Handler tests use `MemoryStore` (feature `test-support`), which follows the same rules.
//!
//! # Failing open, loudly
//! Every store problem is one [`StateError`] with a [`StateErrorKind`]; callers then publish
//! anyway (at-least-once) and count `StateStoreProblems`, which the template alarms on. The
//! first problem in a process is one ERROR line saying what is wrong ([`report_problem`]),
//! the rest are warnings. Every call is bounded by the `timeout` its caller passes (from the
//! remaining deadline), so a hung table cannot eat it.
//!
//! # Records are bounded before they are trusted
//! No attempt runs longer than the function timeout ([`StateConfig::max_hold`]), so an
//! `in_progress` claim held longer, or a window ending later than the window plus that, was
//! not written by this contract: it is treated as absent (else one bad item would hold an
//! alert back forever). So is a stored decision that does not parse.
//!
//! # Where
//! Records and their meaning at an instant: `state/record.rs`; the DynamoDB calls and error
//! kinds: `state/dynamo.rs` (IAM: `dynamodb:UpdateItem` and `dynamodb:GetItem` on the table);
//! the per-alert sequence: `state/admit.rs`. Tests against moto's DynamoDB and the fault proxy:
//! `tests/tests/state.rs`.

mod admit;
mod dynamo;
mod loud;
#[cfg(any(test, feature = "test-support"))]
mod memory;
mod note;
mod record;

pub use admit::{Admitted, Ruling, admit, admit_escalating, escalation};
pub use dynamo::DynamoStore;
pub use loud::report_problem;
#[cfg(any(test, feature = "test-support"))]
pub use memory::{Fault, Faults, MemoryStore};
pub use note::{MAX_NOTE_BYTES, NoteKey, Notes, Recalled};

use crate::config::{ConfigError, Env};
use serde::{Deserialize, Serialize, de::DeserializeOwned};
use sha2::{Digest, Sha256};
use std::future::Future;
use std::time::Duration;

/// Settings parsed once at init.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateConfig {
    /// `STATE_TABLE`; `None` = no store (at-least-once, as without one).
    pub table: Option<String>,
    /// `SUPPRESS_WINDOW_MINUTES` (default 15); zero disables suppression.
    pub suppress_window: Duration,
    /// `IDEMPOTENCY_TTL_HOURS` (default 24, at least 6): how long done claims and suppressed
    /// counts are kept.
    pub keep: Duration,
    /// `FUNCTION_TIMEOUT_SECONDS` (default 900, Lambda's maximum): no attempt runs longer, so a
    /// claim held longer, or a window longer than the window plus this, is not trusted.
    pub max_hold: Duration,
}

impl StateConfig {
    /// `STATE_TABLE`, `SUPPRESS_WINDOW_MINUTES`, `IDEMPOTENCY_TTL_HOURS` and
    /// `FUNCTION_TIMEOUT_SECONDS`, each checked; a bad value is an init error naming it.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        // Blank is refused, not read as unset: a template that meant to name a table and
        // named none would otherwise run without one, silently.
        let table = match env.raw("STATE_TABLE") {
            None => None,
            Some(name) => match table_problem(name, env.get("AWS_REGION")) {
                None => Some(name.to_string()),
                Some(problem) => return Err(ConfigError::new("STATE_TABLE", problem)),
            },
        };
        let minutes: u64 = env.number_in("SUPPRESS_WINDOW_MINUTES", 15, 0..=1_440)?;
        // Lambda retries async events for up to 6 hours: a shorter memory would let a late
        // retry publish again.
        let hours: u64 = env.number_in("IDEMPOTENCY_TTL_HOURS", 24, 6..=720)?;
        let timeout_s: u64 =
            env.number_in("FUNCTION_TIMEOUT_SECONDS", DEFAULT_MAX_HOLD.as_secs(), 1..=900)?;
        Ok(Self {
            table,
            suppress_window: Duration::from_secs(minutes * 60),
            keep: Duration::from_secs(hours * 3_600),
            max_hold: Duration::from_secs(timeout_s),
        })
    }
}

/// What is wrong with a `STATE_TABLE` value, said without repeating it: a table name, or a
/// table ARN in the function's own region (`AWS_REGION`) and partition.
fn table_problem(raw: &str, function_region: Option<&str>) -> Option<&'static str> {
    if raw.trim().is_empty() {
        return Some("is set but blank: name the table, or leave the variable unset");
    }
    if raw.chars().any(char::is_whitespace) {
        return Some("contains spaces: a DynamoDB table name has none");
    }
    if !raw.starts_with("arn:") {
        return (!is_table_name(raw))
            .then_some("must be a DynamoDB table name (3-255 of A-Z a-z 0-9 _ . -) or table ARN");
    }
    let parts: Vec<&str> = raw.split(':').collect();
    let [_, partition, service, region, account, resource] = parts[..] else {
        return Some("is not a DynamoDB table ARN (arn:PARTITION:dynamodb:REGION:ACCOUNT:table/NAME)");
    };
    let name = resource.strip_prefix("table/").unwrap_or_default();
    if service != "dynamodb"
        || raw.len() > 1_024
        || account.len() != 12
        || !account.bytes().all(|b| b.is_ascii_digit())
        || !is_table_name(name)
    {
        return Some("is not a DynamoDB table ARN (arn:PARTITION:dynamodb:REGION:ACCOUNT:table/NAME)");
    }
    if !crate::console::is_region(region) {
        return Some("is a table ARN whose region is not a region name");
    }
    if function_region.is_some_and(|own| own != region) {
        return Some(
            "is a table ARN in another region than the function's (AWS_REGION): the state table must be in the function's region",
        );
    }
    if partition != crate::console::partition_of_region(region) {
        return Some("is a table ARN whose partition is not its region's");
    }
    None
}

fn is_table_name(name: &str) -> bool {
    (3..=255).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

/// The key of one idempotency claim: `idem#<function>#<sha256 of the payload>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    /// From the payload bytes exactly as delivered (see the module doc for why).
    pub fn from_payload(function: &str, payload: &[u8]) -> Self {
        Self(format!("idem#{function}#{}", sha256_hex(&[payload])))
    }

    /// From an event already parsed to JSON: the hash of its canonical form (`canonical_json`),
    /// so redeliveries and retries of one payload share the key however it was spaced or
    /// ordered, and every build hashes the same bytes.
    pub fn from_event(function: &str, event: &serde_json::Value) -> Self {
        let mut canonical = String::new();
        canonical_json(event, &mut canonical);
        Self::from_payload(function, canonical.as_bytes())
    }

    /// The key of one item of the payload (a notification of a batch): distinct per item.
    pub fn item(&self, item: &str) -> Self {
        Self(format!("{}#{}", self.0, sha256_hex(&[item.as_bytes()])))
    }

    /// The `pk` value, `idem#…`.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What makes two alerts "the same" for the suppression window:
/// `supp#<function>#<sha256 of the parts>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Fingerprint(String);

impl Fingerprint {
    /// From parts such as the log group and the normalised most-severe line. Parts are
    /// length-prefixed, so `["ab", "c"]` and `["a", "bc"]` differ.
    pub fn new(function: &str, parts: &[&str]) -> Self {
        let parts: Vec<&[u8]> = parts.iter().map(|p| p.as_bytes()).collect();
        Self(format!("supp#{function}#{}", sha256_hex(&parts)))
    }

    /// The `pk` value, `supp#…`.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Compact JSON with every object's keys sorted by their UTF-8 bytes, at every depth; strings
/// escaped as JSON requires and no more (`\"`, `\\`, `\b \f \n \r \t`, other controls as
/// lowercase `\u00xx`; non-ASCII written raw); numbers as serde_json writes them. Python's
/// `json.dumps(v, sort_keys=True, separators=(',', ':'), ensure_ascii=False)` gives the same
/// bytes, except for floats it writes with an exponent (`1e+16` here `1e16`).
///
/// Written by hand, not with `Value::to_string()`: that follows the `Map`'s iteration order,
/// which is insertion order when any crate in the build turns on serde_json's `preserve_order`
/// (the AWS SDK's test utilities do), so tests and production would hash different bytes.
/// Without that feature `to_string()` wrote exactly these bytes, so keys stored before match.
fn canonical_json(value: &serde_json::Value, out: &mut String) {
    use serde_json::Value;
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) => json_string(s, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                canonical_json(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            out.push('{');
            for (i, (key, item)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                json_string(key, out);
                out.push(':');
                canonical_json(item, out);
            }
            out.push('}');
        }
    }
}

/// A JSON string literal, escaped as [`canonical_json`] says.
fn json_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c < ' ' => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
}

fn sha256_hex(parts: &[&[u8]]) -> String {
    let mut hasher = Sha256::new();
    if let [single] = parts {
        hasher.update(single);
    } else {
        for part in parts {
            hasher.update((part.len() as u64).to_be_bytes());
            hasher.update(part);
        }
    }
    hasher.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// What [`StateStore::claim`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim<D> {
    /// This attempt holds the claim.
    Acquired {
        /// What a failed or crashed earlier attempt for the same key decided (use it instead
        /// of deciding again).
        previous_decision: Option<D>,
    },
    /// An earlier attempt completed: publish nothing.
    AlreadyDone {
        /// Its SNS MessageId; `None` when it completed without publishing (suppressed).
        message_id: Option<String>,
    },
    /// Another attempt holds a live claim: fail with a retryable error rather than publish.
    InProgress {
        /// When the claim expires (epoch seconds).
        until: u64,
    },
}

/// The suppression window's verdict for one alert. Serializable, so it can be the decision a
/// claim carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum Verdict {
    /// Publish.
    Send {
        /// Repeats counted since the previous alert was sent.
        suppressed: u64,
        /// When the previous alert was sent (epoch seconds); `None` when nothing was
        /// suppressed.
        since: Option<u64>,
    },
    /// Do not publish.
    Suppress {
        /// This is repeat number `count` inside the window.
        count: u64,
        /// When the window's alert went out (epoch seconds): a crash loop's first stop.
        /// Absent in decisions stored before it existed.
        #[serde(default)]
        since: u64,
    },
}

impl Verdict {
    /// First alert, nothing suppressed: what a disabled window or no store decides.
    pub const SEND: Self = Self::Send {
        suppressed: 0,
        since: None,
    };
}

/// The one error of the state store: callers fail open on every kind.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
#[error("state store {operation} failed ({}): {detail}", kind.as_str())]
pub struct StateError {
    /// What went wrong, for the operator and the metric.
    pub kind: StateErrorKind,
    /// `claim`, `save_decision`, `complete`, `fail` or `observe`.
    pub operation: &'static str,
    /// The service's error code and message, or what went wrong on the wire; never the payload.
    pub detail: String,
}

/// The ways the store fails, each with its own words ([`StateErrorKind::describe`]): an
/// operator reading the first ERROR line learns what to fix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StateErrorKind {
    /// Throttling or provisioned throughput exceeded, after the SDK's retries.
    Throttled,
    /// HTTP 5xx from DynamoDB.
    Unavailable,
    /// No answer within the caller's timeout.
    Timeout,
    /// The connection failed.
    Unreachable,
    /// Credentials or IAM policy refused the call.
    AccessDenied,
    /// The table does not exist.
    TableMissing,
    /// The table's key is not the contract's: partition key `pk` (String), no sort key.
    WrongKeySchema,
    /// The table or request does not match the contract otherwise.
    Misconfigured,
    /// A record in the table does not have the contract's shape.
    InvalidRecord,
    /// The record changed under this attempt (claim lost, window still contended).
    Conflict,
    /// Anything else the SDK reported.
    Unexpected,
}

impl StateErrorKind {
    /// PascalCase, for logs and metric names.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Throttled => "Throttled",
            Self::Unavailable => "Unavailable",
            Self::Timeout => "Timeout",
            Self::Unreachable => "Unreachable",
            Self::AccessDenied => "AccessDenied",
            Self::TableMissing => "TableMissing",
            Self::WrongKeySchema => "WrongKeySchema",
            Self::Misconfigured => "Misconfigured",
            Self::InvalidRecord => "InvalidRecord",
            Self::Conflict => "Conflict",
            Self::Unexpected => "Unexpected",
        }
    }

    /// What is wrong, for the operator who reads the first problem's ERROR line.
    pub fn describe(self) -> &'static str {
        match self {
            Self::Throttled => "the table throttled the calls (capacity exceeded)",
            Self::Unavailable => "DynamoDB answered with a server error",
            Self::Timeout => "the table did not answer in time",
            Self::Unreachable => "the DynamoDB endpoint could not be reached",
            Self::AccessDenied => {
                "access denied: the function's role may not use the table (dynamodb:UpdateItem, dynamodb:GetItem)"
            }
            Self::TableMissing => "the table does not exist in the function's account and region",
            Self::WrongKeySchema => "the table's key schema is not `pk` (S)",
            Self::Misconfigured => "the table or the request does not match the state table contract",
            Self::InvalidRecord => "a record in the table does not have the contract's shape",
            Self::Conflict => "a record changed under this attempt",
            Self::Unexpected => "DynamoDB reported an unexpected error",
        }
    }
}

/// The shortest claim: a zero hold would expire as it is written.
const MIN_HOLD: Duration = Duration::from_secs(1);
/// Lambda's longest timeout: the bound on a claim when the function's is not known.
const DEFAULT_MAX_HOLD: Duration = Duration::from_secs(900);

/// The hold a claim is written with: at least [`MIN_HOLD`], at most `max_hold`, so the store
/// never writes a record its own bounds would distrust.
fn held(hold: Duration, max_hold: Duration) -> Duration {
    hold.min(max_hold).max(MIN_HOLD)
}

/// Epoch seconds, injectable so tests move time without sleeping.
pub trait Clock: Send + Sync {
    /// Now, in epoch seconds.
    fn now(&self) -> u64;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> u64 {
        u64::try_from(crate::time::now_epoch_ms() / 1_000).unwrap_or(0)
    }
}

/// The state store. Every call is bounded by `timeout`; every failure is a [`StateError`].
pub trait StateStore: Send + Sync {
    /// Claims `key` for this attempt for `hold` (its remaining run time; at least a second,
    /// so a claim made at the deadline still excludes a concurrent duplicate), unless a live
    /// claim or a completed one exists.
    fn claim<D: DeserializeOwned + Send>(
        &self,
        key: &IdempotencyKey,
        hold: Duration,
        timeout: Duration,
    ) -> impl Future<Output = Result<Claim<D>, StateError>> + Send;

    /// Stores this attempt's decision with its claim, for a retry that takes over.
    fn save_decision<D: Serialize + Sync>(
        &self,
        key: &IdempotencyKey,
        decision: &D,
        timeout: Duration,
    ) -> impl Future<Output = Result<(), StateError>> + Send;

    /// Marks `key` done (`message_id` of the confirmed publish, `None` when nothing was
    /// published) for the configured keep time; drops the stored decision.
    fn complete(
        &self,
        key: &IdempotencyKey,
        message_id: Option<&str>,
        timeout: Duration,
    ) -> impl Future<Output = Result<(), StateError>> + Send;

    /// Marks this attempt's claim failed, keeping its decision, so a retry takes over at once.
    /// Does nothing when the claim is no longer in progress.
    fn fail(
        &self,
        key: &IdempotencyKey,
        timeout: Duration,
    ) -> impl Future<Output = Result<(), StateError>> + Send;

    /// Sends or suppresses one alert with `fingerprint` and `severity_rank` (higher = more
    /// severe) under a window of `window`; a zero window always sends without a call.
    fn observe(
        &self,
        fingerprint: &Fingerprint,
        severity_rank: u8,
        window: Duration,
        timeout: Duration,
    ) -> impl Future<Output = Result<Verdict, StateError>> + Send;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_defaults_and_errors_name_the_variable() {
        let c = StateConfig::from_env(&Env::default()).unwrap();
        assert_eq!(
            c,
            StateConfig {
                table: None,
                suppress_window: Duration::from_secs(900),
                keep: Duration::from_secs(86_400),
                max_hold: Duration::from_secs(900),
            }
        );
        let c = StateConfig::from_env(&Env::from_pairs([
            ("STATE_TABLE", "lookout-state"),
            ("SUPPRESS_WINDOW_MINUTES", "0"),
            ("IDEMPOTENCY_TTL_HOURS", "6"),
            ("FUNCTION_TIMEOUT_SECONDS", "60"),
        ]))
        .unwrap();
        assert_eq!(c.table.as_deref(), Some("lookout-state"));
        assert!(c.suppress_window.is_zero());
        assert_eq!(c.keep, Duration::from_secs(6 * 3_600));
        assert_eq!(c.max_hold, Duration::from_secs(60));
        let arn = "arn:aws:dynamodb:eu-west-1:123456789012:table/lookout-state";
        let c = StateConfig::from_env(&Env::from_pairs([("STATE_TABLE", arn)])).unwrap();
        assert_eq!(c.table.as_deref(), Some(arn));
        for (name, value) in [
            ("STATE_TABLE", "my table"),
            ("STATE_TABLE", "ab"),
            ("STATE_TABLE", "arn:aws:sns:eu-west-1:123456789012:t"),
            ("SUPPRESS_WINDOW_MINUTES", "-1"),
            ("SUPPRESS_WINDOW_MINUTES", "1441"),
            // Shorter than Lambda's 6-hour async retry horizon.
            ("IDEMPOTENCY_TTL_HOURS", "5"),
            ("FUNCTION_TIMEOUT_SECONDS", "901"),
        ] {
            let e = StateConfig::from_env(&Env::from_pairs([(name, value)])).unwrap_err();
            assert_eq!(e.variable, name, "{value}");
        }
    }

    /// `STATE_TABLE` as the function in `region` would read it.
    fn table_in(region: &str, value: &str) -> Result<StateConfig, ConfigError> {
        StateConfig::from_env(&Env::from_pairs([("AWS_REGION", region), ("STATE_TABLE", value)]))
    }

    #[test]
    fn a_blank_or_spaced_table_name_is_refused_not_read_as_unset() {
        for value in ["", " ", "\t", " lookout-state", "lookout-state ", "lookout state"] {
            let e = table_in("eu-west-1", value).unwrap_err();
            assert_eq!(e.variable, "STATE_TABLE", "{value:?}");
        }
        assert_eq!(
            table_in("eu-west-1", "").unwrap_err().problem,
            "is set but blank: name the table, or leave the variable unset"
        );
        assert_eq!(
            table_in("eu-west-1", "lookout state").unwrap_err().problem,
            "contains spaces: a DynamoDB table name has none"
        );
        // Unset is still "no store".
        let unset = StateConfig::from_env(&Env::from_pairs([("AWS_REGION", "eu-west-1")])).unwrap();
        assert_eq!(unset.table, None);
    }

    #[test]
    fn a_table_arn_must_be_in_the_functions_region_and_partition() {
        let ok = [
            (
                "eu-west-1",
                "arn:aws:dynamodb:eu-west-1:123456789012:table/lookout-state",
            ),
            (
                "cn-north-1",
                "arn:aws-cn:dynamodb:cn-north-1:123456789012:table/lookout-state",
            ),
            (
                "us-gov-west-1",
                "arn:aws-us-gov:dynamodb:us-gov-west-1:123456789012:table/lookout-state",
            ),
        ];
        for (region, arn) in ok {
            assert_eq!(table_in(region, arn).unwrap().table.as_deref(), Some(arn));
        }
        let refused = [
            // Another region than the function's.
            (
                "eu-west-1",
                "arn:aws:dynamodb:us-east-1:123456789012:table/lookout-state",
                "another region",
            ),
            // A partition that is not the region's.
            (
                "cn-north-1",
                "arn:aws:dynamodb:cn-north-1:123456789012:table/lookout-state",
                "partition",
            ),
            (
                "eu-west-1",
                "arn:aws-cn:dynamodb:eu-west-1:123456789012:table/lookout-state",
                "partition",
            ),
            (
                "eu-west-1",
                "arn:awsbogus:dynamodb:eu-west-1:123456789012:table/lookout-state",
                "partition",
            ),
            // Not a table ARN at all.
            (
                "eu-west-1",
                "arn:aws:dynamodb:eu-west-1:123456789012:table/lookout-state/index/by-x",
                "ARN",
            ),
            (
                "eu-west-1",
                "arn:aws:dynamodb:eu-west-1:1234:table/lookout-state",
                "ARN",
            ),
            (
                "eu-west-1",
                "arn:aws:dynamodb:eu-west-1:123456789012:stream/lookout-state",
                "ARN",
            ),
            (
                "eu-west-1",
                "arn:aws:dynamodb:hunter2:123456789012:table/lookout-state",
                "region",
            ),
        ];
        for (region, arn, said) in refused {
            let e = table_in(region, arn).unwrap_err();
            assert_eq!(e.variable, "STATE_TABLE", "{arn}");
            assert!(e.problem.contains(said), "{arn}: {}", e.problem);
            assert!(!e.to_string().contains(arn), "the value is not repeated: {e}");
        }
    }

    #[test]
    fn keys_are_prefixed_hashes() {
        // SHA-256("abc"), FIPS 180-2 test vector.
        let abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        let key = IdempotencyKey::from_payload("log-alert", b"abc");
        assert_eq!(key.as_str(), format!("idem#log-alert#{abc}"));
        assert_eq!(key.item("abc").as_str(), format!("idem#log-alert#{abc}#{abc}"));
        assert_ne!(key.item("a"), key.item("b"));
        assert_ne!(key, IdempotencyKey::from_payload("scan-alert", b"abc"));
        // A parsed event: the same payload, however it was spaced, gives one key.
        let event =
            |text: &str| IdempotencyKey::from_event("log-alert", &serde_json::from_str(text).unwrap());
        assert_eq!(
            event(r#"{"awslogs":{"data":"H4sI"}}"#),
            event("{ \"awslogs\" : {\"data\": \"H4sI\"} }\n")
        );
        assert_ne!(
            event(r#"{"awslogs":{"data":"H4sI"}}"#),
            event(r#"{"awslogs":{"data":"H4sJ"}}"#)
        );
        // Expected values computed outside Rust: sha256 over (u64 BE length, bytes) per part.
        assert_eq!(
            Fingerprint::new("log-alert", &["/ecs/web", "ERROR db down"]).as_str(),
            "supp#log-alert#e40adbcd162f707783cc844a69af90fb9b9673198ea33e37344869c122963abf"
        );
        assert_eq!(
            Fingerprint::new("x", &["ab", "c"]).as_str(),
            "supp#x#601d5476e2ccfe2c87a2bba7a322659734a05749d5b5aa781f513e4912db0d5f"
        );
        assert_eq!(
            Fingerprint::new("x", &["a", "bc"]).as_str(),
            "supp#x#3fafa1cf2f19a7c1129beb20cf0983f73a489a221fc0dd2f16d1be292d089205"
        );
    }

    /// The key hashes sorted, compact JSON, whatever order the keys arrived in and whether or
    /// not serde_json's `preserve_order` is on in this build.
    #[test]
    fn event_keys_hash_sorted_compact_json_whatever_the_key_order() {
        // Keys out of order at every depth, escapes, control and non-ASCII characters.
        let payload = r#"{"zeta":{"b":[1,{"y":"é\"\\\n\t\u0001\u001f/","x":null}],"a":true},"alpha":-2.5,"ünï":"日本\u2028","n":12345678901234567890,"f":0.1,"e":{},"A":[]}"#;
        // The same event: other key order, spacing and escapes (`\u00e9`, `\/`).
        let reordered = r#"{ "A": [], "e": {}, "f": 0.1, "\u00fcn\u00ef": "日本\u2028", "n": 12345678901234567890,
            "alpha": -2.5, "zeta": {"b": [1, {"x": null, "y": "\u00e9\"\\\n\t\u0001\u001f\/"}], "a": true} }"#;
        let key = |text: &str| IdempotencyKey::from_event("log-alert", &serde_json::from_str(text).unwrap());
        // Computed outside Rust: sha256 of Python's json.dumps(json.loads(payload),
        // sort_keys=True, separators=(",", ":"), ensure_ascii=False), UTF-8.
        let expected = "idem#log-alert#2e690ea1ef3e1fb7a2eaee9ca40483c24a7e3df6d90a47fc7d50a1800bbaa244";
        assert_eq!(key(payload).as_str(), expected);
        assert_eq!(key(reordered).as_str(), expected);
        assert_ne!(key(&payload.replace("-2.5", "-2.6")).as_str(), expected);
    }

    #[test]
    fn verdicts_are_stored_as_tagged_json() {
        let send = Verdict::Send {
            suppressed: 4,
            since: Some(600),
        };
        let json = r#"{"verdict":"send","suppressed":4,"since":600}"#;
        assert_eq!(serde_json::to_string(&send).unwrap(), json);
        assert_eq!(serde_json::from_str::<Verdict>(json).unwrap(), send);
        assert_eq!(
            serde_json::to_string(&Verdict::Suppress { count: 2, since: 7 }).unwrap(),
            r#"{"verdict":"suppress","count":2,"since":7}"#
        );
        // Decisions stored before `since` existed still parse.
        assert_eq!(
            serde_json::from_str::<Verdict>(r#"{"verdict":"suppress","count":2}"#).unwrap(),
            Verdict::Suppress { count: 2, since: 0 }
        );
    }
}
