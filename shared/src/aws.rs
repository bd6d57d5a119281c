//! SDK configuration shared by every function: explicit timeouts, so a dead endpoint fails
//! the invocation in bounded time instead of hanging until the Lambda timeout, and the
//! standard retry mode (exponential backoff with jitter) for throttling and 5xx.
//!
//! The endpoint comes from the standard `AWS_ENDPOINT_URL` (the local demo and tests point it
//! at moto), so no endpoint code lives here.

use crate::config::{ConfigError, Env};
use aws_config::{BehaviorVersion, SdkConfig, retry::RetryConfig, timeout::TimeoutConfig};
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AwsSettings {
    pub connect_timeout: Duration,
    /// One HTTP attempt.
    pub attempt_timeout: Duration,
    /// All attempts of one call, backoff included.
    pub operation_timeout: Duration,
    pub max_attempts: u32,
}

impl AwsSettings {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self {
            connect_timeout: Duration::from_millis(env.number_in(
                "AWS_CONNECT_TIMEOUT_MS",
                3_000,
                100..=60_000,
            )?),
            attempt_timeout: Duration::from_millis(env.number_in(
                "AWS_ATTEMPT_TIMEOUT_MS",
                5_000,
                100..=300_000,
            )?),
            operation_timeout: Duration::from_millis(env.number_in(
                "AWS_OPERATION_TIMEOUT_MS",
                20_000,
                100..=900_000,
            )?),
            max_attempts: env.number_in("AWS_MAX_ATTEMPTS", 5, 1..=20)?,
        })
    }

    pub fn timeout_config(&self) -> TimeoutConfig {
        TimeoutConfig::builder()
            .connect_timeout(self.connect_timeout)
            .operation_attempt_timeout(self.attempt_timeout)
            .operation_timeout(self.operation_timeout)
            .build()
    }

    pub fn retry_config(&self) -> RetryConfig {
        RetryConfig::standard()
            .with_max_attempts(self.max_attempts)
            .with_initial_backoff(Duration::from_millis(100))
            .with_max_backoff(Duration::from_secs(5))
    }
}

/// Loads the SDK configuration once, at init. Lambda hands region and credentials to the
/// function in its environment, so they are read there: the default chains would also build
/// IMDS, ECS and STS providers, code and work a Lambda function never uses.
pub async fn load_sdk_config(settings: &AwsSettings) -> Result<SdkConfig, ConfigError> {
    require_region(sdk_loader(settings).load().await)
}

fn sdk_loader(settings: &AwsSettings) -> aws_config::ConfigLoader {
    aws_config::defaults(BehaviorVersion::latest())
        .region(aws_config::environment::EnvironmentVariableRegionProvider::new())
        .credentials_provider(aws_config::environment::EnvironmentVariableCredentialsProvider::new())
        .http_client(https_client())
        .timeout_config(settings.timeout_config())
        .retry_config(settings.retry_config())
}

/// Without a region every call would fail later as "request could not be sent"; a local run
/// that forgot `AWS_REGION` fails at init instead, naming it.
fn require_region(sdk: SdkConfig) -> Result<SdkConfig, ConfigError> {
    match sdk.region() {
        Some(_) => Ok(sdk),
        None => Err(ConfigError::new(
            "AWS_REGION",
            "is required but not set (Lambda sets it; for a local run export it, or AWS_DEFAULT_REGION)",
        )),
    }
}

/// The one HTTP client every SDK client shares: hyper with rustls on ring, Mozilla's root
/// certificates compiled in, proxy settings from the environment, the SDK's timeouts and sleep.
///
/// The SDK's default client scans the system's certificate file *and* directory when it is
/// created, at init; on some images that is hundreds of files for the same roots.
pub fn https_client() -> aws_smithy_runtime_api::client::http::SharedHttpClient {
    use aws_smithy_http_client::{Builder, ConnectorBuilder, proxy::ProxyConfig, tls};
    let mut trust = tls::TrustStore::empty().with_native_roots(false);
    trust.add_pem_certificate(compiled_in_roots_pem());
    let context = tls::TlsContext::builder().with_trust_store(trust).build();
    Builder::new().build_with_connector_fn(move |settings, components| {
        // Every `Client::new` calls this once with neither argument, only so that native
        // roots load early, and drops the result. Ours are compiled in, and parsing them for
        // a connector nobody uses cost about 1 ms of cold start per client. Requests always
        // pass both, and get TLS (tested below).
        if settings.is_none() && components.is_none() {
            return aws_smithy_http_client::Connector::builder().build_http();
        }
        let mut connector = ConnectorBuilder::default()
            .tls_provider(tls::Provider::Rustls(tls::rustls_provider::CryptoMode::Ring));
        if let Ok(context) = &context {
            connector = connector.tls_context(context.clone());
        }
        connector.set_connector_settings(settings.cloned());
        if let Some(components) = components {
            connector.set_sleep_impl(components.sleep_impl());
        }
        connector.set_proxy_config(Some(ProxyConfig::from_env()));
        connector.build()
    })
}

/// Short text for an SDK error: the service's error code and message when there is one,
/// otherwise what went wrong on the wire.
pub fn describe_sdk_error<E>(err: &SdkError<E>) -> String
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata + std::error::Error,
{
    match err {
        SdkError::ServiceError(e) => {
            let status = e.raw().status().as_u16();
            let e = e.err();
            match (e.code(), e.message()) {
                (Some(code), Some(msg)) => format!("{code}: {msg}"),
                (Some(code), None) => code.to_string(),
                // No error code: not an AWS error document (an HTML 404 from a proxy, say).
                _ => format!("HTTP {status} without an AWS error code ({e})"),
            }
        }
        SdkError::TimeoutError(_) => "timed out".to_string(),
        SdkError::DispatchFailure(e) => {
            if e.is_timeout() {
                "timed out".to_string()
            } else if e.is_io() {
                "connection failed".to_string()
            } else {
                "request could not be sent".to_string()
            }
        }
        SdkError::ResponseError(_) => "unreadable response".to_string(),
        SdkError::ConstructionFailure(_) => "request could not be built".to_string(),
        _ => "unknown SDK error".to_string(),
    }
}

/// The service error code, if the service answered with one.
pub fn error_code<E>(err: &SdkError<E>) -> Option<&str>
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata,
{
    match err {
        SdkError::ServiceError(e) => e.err().code(),
        _ => None,
    }
}

/// The SDK's error type for every operation.
pub type SdkError<E> =
    aws_smithy_runtime_api::client::result::SdkError<E, aws_smithy_runtime_api::http::Response>;

/// `webpki-root-certs` as one PEM bundle, the form the SDK's trust store takes.
fn compiled_in_roots_pem() -> Vec<u8> {
    use base64::Engine;
    let mut pem = Vec::with_capacity(webpki_root_certs::TLS_SERVER_ROOT_CERTS.len() * 2_100);
    for cert in webpki_root_certs::TLS_SERVER_ROOT_CERTS {
        let b64 = base64::engine::general_purpose::STANDARD.encode(cert.as_ref());
        pem.extend_from_slice(b"-----BEGIN CERTIFICATE-----\n");
        for line in b64.as_bytes().chunks(64) {
            pem.extend_from_slice(line);
            pem.push(b'\n');
        }
        pem.extend_from_slice(b"-----END CERTIFICATE-----\n");
    }
    pem
}

/// A failure to list or read something (after the SDK's own retries).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{operation}: {detail}")]
pub struct ApiError {
    pub operation: &'static str,
    pub detail: String,
    /// `RepositoryNotFoundException` and friends.
    pub not_found: bool,
}

impl ApiError {
    pub fn from_sdk<E>(operation: &'static str, e: &SdkError<E>) -> Self
    where
        E: aws_smithy_types::error::metadata::ProvideErrorMetadata + std::error::Error,
    {
        let not_found = error_code(e).is_some_and(|c| c.ends_with("NotFoundException"));
        Self {
            operation,
            detail: describe_sdk_error(e),
            not_found,
        }
    }

    /// A request the SDK refused to build (a missing required field): a bug, named as such.
    pub fn invalid_request(operation: &'static str, e: impl std::fmt::Display) -> Self {
        Self {
            operation,
            detail: format!("request could not be built: {e}"),
            not_found: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compiled_in_roots_are_a_pem_bundle() {
        let pem = String::from_utf8(compiled_in_roots_pem()).unwrap();
        assert_eq!(
            pem.matches("-----BEGIN CERTIFICATE-----").count(),
            webpki_root_certs::TLS_SERVER_ROOT_CERTS.len()
        );
        assert!(webpki_root_certs::TLS_SERVER_ROOT_CERTS.len() > 100);
    }

    /// The connector a request gets speaks TLS to an https endpoint: the first bytes on the
    /// wire are a TLS handshake record, not an HTTP request line.
    #[tokio::test]
    async fn requests_to_https_endpoints_use_tls() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let first_bytes = std::thread::spawn(move || {
            use std::io::Read;
            let (mut socket, _) = listener.accept().unwrap();
            let mut head = [0u8; 3];
            socket.read_exact(&mut head).unwrap();
            head
        });
        let settings = AwsSettings {
            max_attempts: 1,
            ..AwsSettings::from_env(&Env::default()).unwrap()
        };
        let sdk = sdk_loader(&settings).load().await;
        let config = aws_sdk_sns::config::Builder::from(&sdk)
            .region(aws_sdk_sns::config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_sns::config::Credentials::new(
                "AKID", "SECRET", None, None, "test",
            ))
            .endpoint_url(format!("https://127.0.0.1:{port}"))
            .build();
        let publish = aws_sdk_sns::Client::from_conf(config)
            .publish()
            .topic_arn("arn:aws:sns:us-east-1:123456789012:t")
            .message("m")
            .send();
        let (result, head) = tokio::join!(publish, tokio::task::spawn_blocking(move || first_bytes.join()));
        assert!(result.is_err(), "no TLS server there");
        // 0x16: handshake record; 0x03 0x01: the record version a ClientHello carries.
        assert_eq!(head.unwrap().unwrap(), [0x16, 0x03, 0x01]);
    }

    #[test]
    fn a_missing_region_is_named_at_init() {
        let e = require_region(SdkConfig::builder().build()).unwrap_err();
        assert_eq!(e.variable, "AWS_REGION");
        let with_region = SdkConfig::builder()
            .region(aws_config::Region::new("eu-west-1"))
            .build();
        assert!(require_region(with_region).is_ok());
    }

    #[test]
    fn settings_have_bounded_defaults() {
        let s = AwsSettings::from_env(&Env::default()).unwrap();
        assert_eq!(s.connect_timeout, Duration::from_secs(3));
        assert_eq!(s.operation_timeout, Duration::from_secs(20));
        assert_eq!(s.max_attempts, 5);
        let e = AwsSettings::from_env(&Env::from_pairs([("AWS_MAX_ATTEMPTS", "0")])).unwrap_err();
        assert_eq!(e.variable, "AWS_MAX_ATTEMPTS");
    }
}
