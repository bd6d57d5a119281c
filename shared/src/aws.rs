//! SDK configuration shared by every function: explicit timeouts, so a dead endpoint fails
//! the invocation in bounded time instead of hanging until the Lambda timeout, and the
//! standard retry mode (exponential backoff with jitter) for throttling and 5xx.
//!
//! The endpoint comes from the standard `AWS_ENDPOINT_URL` (the local demo and tests point it
//! at moto), checked for shape here; the SDK resolves it.

use crate::config::{ConfigError, Env, check_region, shape};
use aws_config::{BehaviorVersion, Region, SdkConfig, retry::RetryConfig, timeout::TimeoutConfig};
use aws_types::sdk_config::SharedCredentialsProvider;
use std::time::Duration;

/// Timeouts and retries for every AWS call, from the environment: bounded so one slow
/// service cannot use up the invocation's deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AwsSettings {
    /// Opening a connection (`AWS_CONNECT_TIMEOUT_MS`, default 3 s).
    pub connect_timeout: Duration,
    /// One HTTP attempt.
    pub attempt_timeout: Duration,
    /// All attempts of one call, backoff included.
    pub operation_timeout: Duration,
    /// Attempts per call, the first included (`AWS_MAX_ATTEMPTS`, default 5).
    pub max_attempts: u32,
}

impl AwsSettings {
    /// `AWS_CONNECT_TIMEOUT_MS`, `AWS_ATTEMPT_TIMEOUT_MS`, `AWS_OPERATION_TIMEOUT_MS` and
    /// `AWS_MAX_ATTEMPTS`, each within its range or an error naming it.
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

    /// The settings as the SDK's timeout configuration.
    pub fn timeout_config(&self) -> TimeoutConfig {
        TimeoutConfig::builder()
            .connect_timeout(self.connect_timeout)
            .operation_attempt_timeout(self.attempt_timeout)
            .operation_timeout(self.operation_timeout)
            .build()
    }

    /// Standard retries (throttling and transient errors), with short backoffs: the caller's
    /// deadline, not the SDK, decides when to give up.
    pub fn retry_config(&self) -> RetryConfig {
        RetryConfig::standard()
            .with_max_attempts(self.max_attempts)
            .with_initial_backoff(Duration::from_millis(100))
            .with_max_backoff(Duration::from_secs(5))
    }
}

/// The SDK configuration every client is built from, made once at init from the environment
/// Lambda gives the function: region, credentials, and `AWS_ENDPOINT_URL` (the local demo and
/// tests point it at moto).
///
/// Not `aws_config::load`: its loader also builds IMDS, ECS and STS providers, looks up the home
/// directory, reads profile files and asks a dozen settings providers, code and cold-start work
/// for settings a Lambda function does not have (BENCHMARKS.md, "Cold start"). Sleep, time
/// source and identity cache are each service client's defaults.
///
/// Every function calls this at init, so a region or endpoint that is not one fails every
/// function the same way, naming the variable and never repeating its value.
pub fn sdk_config(env: &Env, settings: &AwsSettings) -> Result<SdkConfig, ConfigError> {
    let (variable, region) = ["AWS_REGION", "AWS_DEFAULT_REGION"]
        .into_iter()
        .find_map(|name| env.get(name).map(|r| (name, r)))
        // Without a region every call would fail later as "request could not be sent"; a local
        // run that forgot it fails at init instead, naming it.
        .ok_or_else(|| {
            ConfigError::new(
                "AWS_REGION",
                "is required but not set (Lambda sets it; for a local run export it, or AWS_DEFAULT_REGION)",
            )
        })?;
    // The SDK builds the endpoint host from it: `hunter2` would fail every call, later.
    check_region(variable, region)?;
    let endpoint = env.get("AWS_ENDPOINT_URL");
    if let Some(url) = endpoint {
        check_endpoint_url(url)?;
    }
    let mut builder = SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(region.to_owned()))
        .credentials_provider(SharedCredentialsProvider::new(
            aws_config::environment::EnvironmentVariableCredentialsProvider::new(),
        ))
        .http_client(https_client())
        .timeout_config(settings.timeout_config())
        .retry_config(settings.retry_config());
    builder.set_endpoint_url(endpoint.map(str::to_owned));
    Ok(builder.build())
}

/// `AWS_ENDPOINT_URL`: `http` or `https`, a host (a DNS name, an IPv4 address or a bracketed
/// IPv6 one), an optional port, an optional path; no user info, query or fragment.
fn check_endpoint_url(raw: &str) -> Result<(), ConfigError> {
    let bad = |problem: &str| {
        ConfigError::new(
            "AWS_ENDPOINT_URL",
            format!(
                "must be an http(s) URL (https://HOST[:PORT][/PATH]); {} {problem}",
                shape(raw)
            ),
        )
    };
    let rest = raw
        .strip_prefix("https://")
        .or_else(|| raw.strip_prefix("http://"))
        .ok_or_else(|| bad("does not start with http:// or https://"))?;
    let (authority, path) = rest.find('/').map_or((rest, ""), |i| rest.split_at(i));
    if authority.contains('@') {
        // Credentials in a URL end up in logs and proxies.
        return Err(bad("carries user info (an @ before the host)"));
    }
    let (host_ok, port) = match authority.strip_prefix('[') {
        Some(v6) => {
            let (inside, after) = v6
                .split_once(']')
                .ok_or_else(|| bad("has an unclosed [ in its host"))?;
            let port = match after {
                "" => None,
                _ => Some(
                    after
                        .strip_prefix(':')
                        .ok_or_else(|| bad("has text between its host and its port"))?,
                ),
            };
            (inside.parse::<std::net::Ipv6Addr>().is_ok(), port)
        }
        None => match authority.rsplit_once(':') {
            Some((host, port)) => (is_host_name(host), Some(port)),
            None => (is_host_name(authority), None),
        },
    };
    if !host_ok {
        return Err(bad("has no valid host"));
    }
    if let Some(port) = port
        && !(port.bytes().all(|b| b.is_ascii_digit()) && port.parse::<u16>().is_ok_and(|p| p > 0))
    {
        return Err(bad("has a port that is not 1-65535"));
    }
    if !path
        .bytes()
        .all(|b| b.is_ascii_graphic() && b != b'?' && b != b'#')
    {
        return Err(bad(
            "has a path with spaces, control characters, a query or a fragment",
        ));
    }
    Ok(())
}

/// A DNS name or an IPv4 address: labels of letters, digits and `-`, joined by dots.
fn is_host_name(host: &str) -> bool {
    (1..=253).contains(&host.len())
        && host.split('.').all(|label| {
            (1..=63).contains(&label.len())
                && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

/// The one HTTP client every SDK client shares: hyper with rustls on ring, Mozilla's root
/// certificates compiled in, proxy settings from the environment, the SDK's timeouts and sleep.
///
/// The SDK's default client scans the system's certificate file *and* directory when it is
/// created, at init; on some images that is hundreds of files for the same roots.
pub fn https_client() -> aws_smithy_runtime_api::client::http::SharedHttpClient {
    use aws_smithy_http_client::{Builder, ConnectorBuilder, proxy::ProxyConfig, tls};
    let mut trust = tls::TrustStore::empty().with_native_roots(false);
    trust.add_pem_certificate(COMPILED_IN_ROOTS_PEM);
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

/// Mozilla's roots (`webpki-root-certs`) as one PEM bundle, the form the SDK's trust store takes;
/// written by build.rs.
static COMPILED_IN_ROOTS_PEM: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/roots.pem"));

/// A failure to list or read something (after the SDK's own retries).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{operation}: {detail}")]
pub struct ApiError {
    /// The SDK operation, e.g. `DescribeImages`.
    pub operation: &'static str,
    /// What went wrong, from the error's code and message; never the request.
    pub detail: String,
    /// `RepositoryNotFoundException` and friends.
    pub not_found: bool,
}

impl ApiError {
    /// Describes an SDK error for logs and responses, and whether it said "not found".
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

    /// Every compiled-in root, in order and byte for byte, and nothing else.
    #[test]
    fn compiled_in_roots_are_the_mozilla_roots_as_pem() {
        use base64::Engine;
        let pem = std::str::from_utf8(COMPILED_IN_ROOTS_PEM).unwrap();
        let ders: Vec<Vec<u8>> = pem
            .split("-----END CERTIFICATE-----\n")
            .filter(|block| !block.is_empty())
            .map(|block| {
                let body = block.strip_prefix("-----BEGIN CERTIFICATE-----\n").unwrap();
                assert!(body.lines().all(|line| line.len() <= 64));
                base64::engine::general_purpose::STANDARD
                    .decode(body.replace('\n', ""))
                    .unwrap()
            })
            .collect();
        let expected: Vec<&[u8]> = webpki_root_certs::TLS_SERVER_ROOT_CERTS
            .iter()
            .map(|c| c.as_ref())
            .collect();
        assert!(expected.len() > 100);
        assert_eq!(ders, expected);
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
        let env = Env::from_pairs([("AWS_REGION", "us-east-1")]);
        let sdk = sdk_config(&env, &settings).unwrap();
        let config = aws_sdk_sns::config::Builder::from(&sdk)
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
        let settings = AwsSettings::from_env(&Env::default()).unwrap();
        for env in [Env::default(), Env::from_pairs([("AWS_REGION", " ")])] {
            let e = sdk_config(&env, &settings).unwrap_err();
            assert_eq!(e.variable, "AWS_REGION");
        }
        let fallback =
            sdk_config(&Env::from_pairs([("AWS_DEFAULT_REGION", "eu-west-1")]), &settings).unwrap();
        assert_eq!(fallback.region().map(|r| r.as_ref()), Some("eu-west-1"));
        let both = Env::from_pairs([
            ("AWS_REGION", "eu-central-1"),
            ("AWS_DEFAULT_REGION", "eu-west-1"),
        ]);
        assert_eq!(
            sdk_config(&both, &settings).unwrap().region().map(|r| r.as_ref()),
            Some("eu-central-1")
        );
    }

    /// The local demo and tests reach moto through `AWS_ENDPOINT_URL`; unset, the SDK resolves
    /// the real endpoint.
    #[test]
    fn the_endpoint_comes_from_aws_endpoint_url() {
        let settings = AwsSettings::from_env(&Env::default()).unwrap();
        let local = Env::from_pairs([
            ("AWS_REGION", "us-east-1"),
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:5000"),
        ]);
        assert_eq!(
            sdk_config(&local, &settings).unwrap().endpoint_url(),
            Some("http://127.0.0.1:5000")
        );
        let real = Env::from_pairs([("AWS_REGION", "us-east-1")]);
        assert_eq!(sdk_config(&real, &settings).unwrap().endpoint_url(), None);
    }

    /// The region every function's SDK calls go to: one grammar, refused at init, the error
    /// naming the variable it came from and never its value.
    #[test]
    fn a_region_that_is_not_one_fails_at_init_without_its_value() {
        let settings = AwsSettings::from_env(&Env::default()).unwrap();
        for (variable, value) in [
            ("AWS_REGION", "hunter2"),
            ("AWS_REGION", "us-east-1.evil.example"),
            ("AWS_DEFAULT_REGION", "hunter2"),
        ] {
            let e = sdk_config(&Env::from_pairs([(variable, value)]), &settings).unwrap_err();
            assert_eq!(e.variable, variable);
            let text = e.to_string();
            assert!(!text.contains(value), "{text}");
            assert!(text.contains("not an AWS region"), "{text}");
        }
        for region in [
            "us-gov-west-1",
            "cn-north-1",
            "eu-central-2",
            "ap-southeast-5",
            "il-central-1",
            "mx-central-1",
            "us-isob-east-1",
        ] {
            let sdk = sdk_config(&Env::from_pairs([("AWS_REGION", region)]), &settings).unwrap();
            assert_eq!(sdk.region().map(|r| r.as_ref()), Some(region));
        }
    }

    #[test]
    fn an_endpoint_that_is_not_a_url_fails_at_init_without_its_value() {
        let settings = AwsSettings::from_env(&Env::default()).unwrap();
        let with = |url: &str| Env::from_pairs([("AWS_REGION", "us-east-1"), ("AWS_ENDPOINT_URL", url)]);
        for bad in [
            "hunter2",
            "127.0.0.1:5000",
            "ftp://127.0.0.1",
            "http://",
            "http:///path",
            "http://user:hunter2@moto:5000",
            "http://moto:0",
            "http://moto:99999",
            "http://moto:port",
            "http://mo to:5000",
            "http://moto:5000/a b",
            "http://moto:5000/?x=1",
            "http://moto:5000#f",
            "http://-moto:5000",
            "http://[::1",
            "http://[hunter2]:5000",
            "http://[::1]x:5000",
        ] {
            let e = sdk_config(&with(bad), &settings).unwrap_err();
            assert_eq!(e.variable, "AWS_ENDPOINT_URL", "{bad}");
            assert!(!e.to_string().contains(bad), "{e}");
            assert!(!e.to_string().contains("hunter2"), "{e}");
        }
        for good in [
            "http://127.0.0.1:5000",
            "https://moto.internal",
            "http://localhost:4566/",
            "https://vpce-1a2b.ecr.us-east-1.vpce.amazonaws.com/prefix",
            "http://[::1]:5000",
            "http://[::1]",
        ] {
            assert_eq!(
                sdk_config(&with(good), &settings).unwrap().endpoint_url(),
                Some(good)
            );
        }
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
