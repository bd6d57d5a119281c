//! The store on DynamoDB: conditional UpdateItems, so concurrent invocations agree, and
//! `ReturnValues` so each decision needs one round trip (two for a suppressed repeat).

use super::record::{
    ClaimRecord, DECISION, DONE, EXPIRES_AT, FAILED, IN_PROGRESS, Item, MESSAGE_ID, OPENED_AT, PK, SEVERITY,
    STATUS, SUPPRESSED, WINDOW_END, WindowRecord, encode_decision, hold_limit, until, window_limit,
};
use super::{
    Claim, Clock, Fingerprint, IdempotencyKey, StateConfig, StateError, StateErrorKind, StateStore,
    SystemClock, Verdict, held,
};
use crate::aws::{SdkError, describe_sdk_error, error_code};
use aws_config::{retry::RetryConfig, timeout::TimeoutConfig};
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue, ReturnValuesOnConditionCheckFailure};
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use serde::{Serialize, de::DeserializeOwned};
use std::future::Future;
use std::time::Duration;

pub(super) const CONDITION_FAILED: &str = "ConditionalCheckFailedException";
/// Rounds of "open a window" / "count a repeat" before giving up: each lost round means the
/// window closed or changed severity between the two writes.
const OBSERVE_ROUNDS: usize = 3;

/// The DynamoDB state table.
#[derive(Debug, Clone)]
pub struct DynamoStore<C: Clock = SystemClock> {
    pub(super) client: aws_sdk_dynamodb::Client,
    pub(super) table: String,
    keep: Duration,
    /// The function timeout: no claim is held longer, so no record that says so is trusted.
    max_hold: Duration,
    pub(super) clock: C,
}

impl DynamoStore {
    /// The store `config` names, on a client built from the shared SDK configuration
    /// (`crate::aws::sdk_config`); `None` when `STATE_TABLE` is unset.
    pub fn from_config(sdk: &aws_config::SdkConfig, config: &StateConfig) -> Option<Self> {
        let table = config.table.clone()?;
        // Few, quick retries: each call is bounded by its caller's timeout anyway, and a
        // throttled table should fail open fast rather than spend the deadline backing off.
        let retry = RetryConfig::standard()
            .with_max_attempts(3)
            .with_initial_backoff(Duration::from_millis(20))
            .with_max_backoff(Duration::from_millis(200));
        let client_config = aws_sdk_dynamodb::config::Builder::from(sdk)
            .retry_config(retry)
            .build();
        Some(Self {
            client: aws_sdk_dynamodb::Client::from_conf(client_config),
            table,
            keep: config.keep,
            max_hold: config.max_hold,
            clock: SystemClock,
        })
    }
}

impl<C: Clock> DynamoStore<C> {
    /// The same store on another clock (tests move time without sleeping).
    pub fn with_clock<C2: Clock>(self, clock: C2) -> DynamoStore<C2> {
        DynamoStore {
            client: self.client,
            table: self.table,
            keep: self.keep,
            max_hold: self.max_hold,
            clock,
        }
    }

    async fn claim_inner<D: DeserializeOwned>(
        &self,
        key: &IdempotencyKey,
        hold: Duration,
        timeout: Duration,
    ) -> Result<Claim<D>, StateError> {
        let now = self.clock.now();
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(PK, string(key.as_str()))
            .update_expression("SET #status = :in_progress, #exp = :until REMOVE #mid")
            // Claimable: absent, expired, failed, or held longer than any attempt runs (not
            // trusted: `ClaimRecord::claimable` says the same).
            .condition_expression(
                "attribute_not_exists(#pk) OR #exp <= :now OR #status = :failed OR (#status = :in_progress AND #exp > :hold_limit)",
            )
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#status", STATUS)
            .expression_attribute_names("#exp", EXPIRES_AT)
            .expression_attribute_names("#mid", MESSAGE_ID)
            .expression_attribute_values(":in_progress", string(IN_PROGRESS))
            .expression_attribute_values(":failed", string(FAILED))
            .expression_attribute_values(":now", number(now))
            .expression_attribute_values(":until", number(until(now, held(hold, self.max_hold))))
            .expression_attribute_values(":hold_limit", number(hold_limit(now, self.max_hold)))
            .return_values(ReturnValue::AllOld)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .customize()
            .config_override(limits(&self.client, timeout))
            .send()
            .await;
        match result {
            Ok(out) => {
                // An old record that does not parse hands nothing on: treated as absent.
                let previous_decision = out
                    .attributes
                    .filter(|a| !a.is_empty())
                    .and_then(|old| ClaimRecord::parse(&old, "claim").ok())
                    .and_then(|old| old.inherited(now, self.max_hold));
                Ok(Claim::Acquired { previous_decision })
            }
            Err(e) if error_code(&e) == Some(CONDITION_FAILED) => {
                let existing = match condition_item(e) {
                    Some(item) => item,
                    None => self.read(key.as_str(), "claim", timeout).await?,
                };
                ClaimRecord::parse(&existing, "claim")?.refusal(now, self.max_hold)
            }
            Err(e) => Err(classify(&e, "claim")),
        }
    }

    /// A strongly consistent read, for a refused write that did not return the item.
    async fn read(&self, pk: &str, operation: &'static str, timeout: Duration) -> Result<Item, StateError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(PK, string(pk))
            .consistent_read(true)
            .customize()
            .config_override(limits(&self.client, timeout))
            .send()
            .await
            .map_err(|e| classify(&e, operation))?;
        out.item.ok_or_else(|| StateError {
            kind: StateErrorKind::Conflict,
            operation,
            detail: "the record that refused the write is gone".into(),
        })
    }

    async fn save_decision_inner(
        &self,
        key: &IdempotencyKey,
        decision: String,
        timeout: Duration,
    ) -> Result<(), StateError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(PK, string(key.as_str()))
            .update_expression("SET #decision = :decision")
            .condition_expression("#status = :in_progress")
            .expression_attribute_names("#decision", DECISION)
            .expression_attribute_names("#status", STATUS)
            .expression_attribute_values(":decision", AttributeValue::S(decision))
            .expression_attribute_values(":in_progress", string(IN_PROGRESS))
            .customize()
            .config_override(limits(&self.client, timeout))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if error_code(&e) == Some(CONDITION_FAILED) => Err(StateError {
                kind: StateErrorKind::Conflict,
                operation: "save_decision",
                detail: "the claim is no longer in progress".into(),
            }),
            Err(e) => Err(classify(&e, "save_decision")),
        }
    }

    async fn complete_inner(
        &self,
        key: &IdempotencyKey,
        message_id: Option<&str>,
        timeout: Duration,
    ) -> Result<(), StateError> {
        let now = self.clock.now();
        let request = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(PK, string(key.as_str()))
            .expression_attribute_names("#status", STATUS)
            .expression_attribute_names("#exp", EXPIRES_AT)
            .expression_attribute_names("#mid", MESSAGE_ID)
            .expression_attribute_names("#decision", DECISION)
            .expression_attribute_values(":done", string(DONE))
            .expression_attribute_values(":until", number(until(now, self.keep)));
        let request = match message_id {
            Some(id) => request
                .update_expression("SET #status = :done, #exp = :until, #mid = :mid REMOVE #decision")
                .expression_attribute_values(":mid", string(id)),
            None => request.update_expression("SET #status = :done, #exp = :until REMOVE #decision, #mid"),
        };
        request
            .customize()
            .config_override(limits(&self.client, timeout))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| classify(&e, "complete"))
    }

    async fn fail_inner(&self, key: &IdempotencyKey, timeout: Duration) -> Result<(), StateError> {
        let now = self.clock.now();
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(PK, string(key.as_str()))
            // Kept as long as a done record, so its decision outlives Lambda's retries.
            .update_expression("SET #status = :failed, #exp = :until")
            .condition_expression("#status = :in_progress")
            .expression_attribute_names("#status", STATUS)
            .expression_attribute_names("#exp", EXPIRES_AT)
            .expression_attribute_values(":failed", string(FAILED))
            .expression_attribute_values(":in_progress", string(IN_PROGRESS))
            .expression_attribute_values(":until", number(until(now, self.keep)))
            .customize()
            .config_override(limits(&self.client, timeout))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            // Done or taken over meanwhile: nothing of ours to release.
            Err(e) if error_code(&e) == Some(CONDITION_FAILED) => Ok(()),
            Err(e) => Err(classify(&e, "fail")),
        }
    }

    async fn observe_inner(
        &self,
        fingerprint: &Fingerprint,
        rank: u8,
        window: Duration,
        timeout: Duration,
    ) -> Result<Verdict, StateError> {
        for _ in 0..OBSERVE_ROUNDS {
            let now = self.clock.now();
            let limit = window_limit(now, window, self.max_hold);
            // Open a new window: first alert, window over, or more severe than the window's.
            let opened = self
                .client
                .update_item()
                .table_name(&self.table)
                .key(PK, string(fingerprint.as_str()))
                .update_expression(
                    "SET #opened = :now, #end = :end, #sev = :rank, #supp = :zero, #exp = :exp",
                )
                // A window ending past `limit` is not trusted: replaced as if absent.
                .condition_expression(
                    "attribute_not_exists(#pk) OR attribute_not_exists(#end) OR #end <= :now OR #sev < :rank OR #end > :limit",
                )
                .expression_attribute_names("#pk", PK)
                .expression_attribute_names("#opened", OPENED_AT)
                .expression_attribute_names("#end", WINDOW_END)
                .expression_attribute_names("#sev", SEVERITY)
                .expression_attribute_names("#supp", SUPPRESSED)
                .expression_attribute_names("#exp", EXPIRES_AT)
                .expression_attribute_values(":now", number(now))
                .expression_attribute_values(":end", number(until(now, window)))
                .expression_attribute_values(":rank", number(u64::from(rank)))
                .expression_attribute_values(":limit", number(limit))
                .expression_attribute_values(":zero", number(0))
                // The count outlives the window, for the first alert after it.
                .expression_attribute_values(":exp", number(until(now, window.saturating_add(self.keep))))
                .return_values(ReturnValue::AllOld)
                .customize()
                .config_override(limits(&self.client, timeout))
                .send()
                .await;
            match opened {
                Ok(out) => {
                    let previous = match out.attributes.filter(|a| !a.is_empty()) {
                        Some(old) => Some(WindowRecord::parse(&old, "observe")?),
                        None => None,
                    };
                    return Ok(WindowRecord::send_after(previous.as_ref(), now, limit));
                }
                Err(e) if error_code(&e) == Some(CONDITION_FAILED) => {}
                Err(e) => return Err(classify(&e, "observe")),
            }
            // A live window at least as severe: count this repeat in it.
            let counted = self
                .client
                .update_item()
                .table_name(&self.table)
                .key(PK, string(fingerprint.as_str()))
                .update_expression("ADD #supp :one")
                .condition_expression("#end > :now AND #end <= :limit AND #sev >= :rank")
                .expression_attribute_names("#supp", SUPPRESSED)
                .expression_attribute_names("#end", WINDOW_END)
                .expression_attribute_names("#sev", SEVERITY)
                .expression_attribute_values(":one", number(1))
                .expression_attribute_values(":now", number(now))
                .expression_attribute_values(":rank", number(u64::from(rank)))
                .expression_attribute_values(":limit", number(limit))
                .return_values(ReturnValue::AllNew)
                .customize()
                .config_override(limits(&self.client, timeout))
                .send()
                .await;
            match counted {
                Ok(out) => {
                    let window = WindowRecord::parse(&out.attributes.unwrap_or_default(), "observe")?;
                    return Ok(Verdict::Suppress {
                        count: window.suppressed,
                        since: window.opened_at,
                    });
                }
                // The window closed (or turned less severe) between the two writes: again.
                Err(e) if error_code(&e) == Some(CONDITION_FAILED) => {}
                Err(e) => return Err(classify(&e, "observe")),
            }
        }
        Err(StateError {
            kind: StateErrorKind::Conflict,
            operation: "observe",
            detail: format!("the window kept changing for {OBSERVE_ROUNDS} rounds"),
        })
    }
}

/// Runs one store method within `timeout` (its SDK requests are bounded by it too).
pub(super) async fn bounded<T>(
    operation: &'static str,
    timeout: Duration,
    call: impl Future<Output = Result<T, StateError>>,
) -> Result<T, StateError> {
    match tokio::time::timeout(timeout, call).await {
        Ok(result) => result,
        Err(_) => Err(StateError {
            kind: StateErrorKind::Timeout,
            operation,
            detail: format!("no answer within {} ms", timeout.as_millis()),
        }),
    }
}

/// Per-call operation timeouts. Never a per-call connect timeout: the SDK keys its HTTP
/// connectors by connect timeout, so a new value per call (the time left) would build a new
/// connector, pool and TLS context for every call and keep them all (issue 20: ~75 KB per
/// call). The client's own connect timeout is restated so the override matches its connector.
pub(super) fn limits(
    client: &aws_sdk_dynamodb::Client,
    timeout: Duration,
) -> aws_sdk_dynamodb::config::Builder {
    let mut timeouts = TimeoutConfig::builder()
        .operation_attempt_timeout(timeout)
        .operation_timeout(timeout);
    if let Some(connect) = client.config().timeout_config().and_then(|t| t.connect_timeout()) {
        timeouts = timeouts.connect_timeout(connect);
    }
    aws_sdk_dynamodb::config::Builder::default().timeout_config(timeouts.build())
}

impl<C: Clock> StateStore for DynamoStore<C> {
    async fn claim<D: DeserializeOwned + Send>(
        &self,
        key: &IdempotencyKey,
        hold: Duration,
        timeout: Duration,
    ) -> Result<Claim<D>, StateError> {
        bounded("claim", timeout, self.claim_inner(key, hold, timeout)).await
    }

    async fn save_decision<D: Serialize + Sync>(
        &self,
        key: &IdempotencyKey,
        decision: &D,
        timeout: Duration,
    ) -> Result<(), StateError> {
        let json = encode_decision(decision)?;
        bounded(
            "save_decision",
            timeout,
            self.save_decision_inner(key, json, timeout),
        )
        .await
    }

    async fn complete(
        &self,
        key: &IdempotencyKey,
        message_id: Option<&str>,
        timeout: Duration,
    ) -> Result<(), StateError> {
        bounded("complete", timeout, self.complete_inner(key, message_id, timeout)).await
    }

    async fn fail(&self, key: &IdempotencyKey, timeout: Duration) -> Result<(), StateError> {
        bounded("fail", timeout, self.fail_inner(key, timeout)).await
    }

    async fn observe(
        &self,
        fingerprint: &Fingerprint,
        severity_rank: u8,
        window: Duration,
        timeout: Duration,
    ) -> Result<Verdict, StateError> {
        if window.is_zero() {
            return Ok(Verdict::SEND);
        }
        bounded(
            "observe",
            timeout,
            self.observe_inner(fingerprint, severity_rank, window, timeout),
        )
        .await
    }
}

fn string(s: &str) -> AttributeValue {
    AttributeValue::S(s.to_string())
}

fn number(n: u64) -> AttributeValue {
    AttributeValue::N(n.to_string())
}

/// The item a refused conditional write returned (`ReturnValuesOnConditionCheckFailure`).
fn condition_item(e: SdkError<aws_sdk_dynamodb::operation::update_item::UpdateItemError>) -> Option<Item> {
    match e.into_service_error() {
        aws_sdk_dynamodb::operation::update_item::UpdateItemError::ConditionalCheckFailedException(c) => {
            c.item.filter(|i| !i.is_empty())
        }
        _ => None,
    }
}

fn is_key_schema_message(message: &str) -> bool {
    let message = message.to_ascii_lowercase();
    message.contains("key element does not match the schema") || message.contains("missing the key")
}

/// One kind per failure, from the service's error code, the HTTP status or the wire.
pub(super) fn classify<E>(err: &SdkError<E>, operation: &'static str) -> StateError
where
    E: ProvideErrorMetadata + std::error::Error,
{
    let kind = match err {
        SdkError::ServiceError(e) => match error_code(err) {
            Some(
                "ThrottlingException"
                | "ProvisionedThroughputExceededException"
                | "RequestLimitExceeded"
                | "Throttling",
            ) => StateErrorKind::Throttled,
            Some(
                "AccessDeniedException"
                | "UnrecognizedClientException"
                | "InvalidSignatureException"
                | "MissingAuthenticationTokenException"
                | "ExpiredTokenException"
                | "IncompleteSignatureException",
            ) => StateErrorKind::AccessDenied,
            Some("ResourceNotFoundException") => StateErrorKind::TableMissing,
            // DynamoDB's answer to a key that is not the table's: "The provided key element
            // does not match the schema".
            Some("ValidationException") if e.err().message().is_some_and(is_key_schema_message) => {
                StateErrorKind::WrongKeySchema
            }
            Some("ValidationException" | "SerializationException") => StateErrorKind::Misconfigured,
            Some("TransactionConflictException" | "ReplicatedWriteConflictException") => {
                StateErrorKind::Conflict
            }
            _ if e.raw().status().is_server_error() => StateErrorKind::Unavailable,
            _ => StateErrorKind::Unexpected,
        },
        SdkError::TimeoutError(_) => StateErrorKind::Timeout,
        SdkError::DispatchFailure(e) if e.is_timeout() => StateErrorKind::Timeout,
        SdkError::DispatchFailure(_) => StateErrorKind::Unreachable,
        SdkError::ConstructionFailure(_) => StateErrorKind::Misconfigured,
        _ => StateErrorKind::Unexpected,
    };
    StateError {
        kind,
        operation,
        detail: describe_sdk_error(err),
    }
}
