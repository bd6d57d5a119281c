//! Logging: `tracing`, JSON when Lambda's advanced logging sets `AWS_LAMBDA_LOG_FORMAT=JSON`,
//! level from `AWS_LAMBDA_LOG_LEVEL` or `RUST_LOG`. Messages and secrets are never logged:
//! only names, counts and error descriptions.
//!
//! A failed init is also reported to the Runtime API ([`exit_on_init_error`]), so the reason
//! reaches whoever invoked the function, not only the logs.

use lambda_runtime::Diagnostic;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

/// Installs the subscriber described in the module doc; call once, first thing in `main`.
pub fn init() {
    lambda_runtime::tracing::init_default_subscriber();
}

/// Ends a failed init: logs the reason, reports it to the Runtime API's init-error endpoint
/// (`Lookout.ConfigError` and a message naming the variable, never its value) and exits
/// non-zero. Without the report Lambda would say only `Runtime.ExitError`. Lambda retries the
/// event later, so nothing is lost.
pub fn exit_on_init_error<T, E: Into<Diagnostic>>(result: Result<T, E>) -> T {
    match result {
        Ok(value) => value,
        Err(e) => {
            let diagnostic: Diagnostic = e.into();
            tracing::error!(
                error = %diagnostic.error_message,
                error_type = %diagnostic.error_type,
                "init failed"
            );
            // Unset outside Lambda (a local run, a unit test): then the log is the report.
            if let Ok(api) = std::env::var("AWS_LAMBDA_RUNTIME_API") {
                match report_init_error(&api, &diagnostic) {
                    Ok(202) => {}
                    Ok(status) => tracing::warn!(status, "the Runtime API refused the init error"),
                    Err(e) => tracing::warn!(error = %e, "could not report the init error"),
                }
            }
            std::process::exit(1)
        }
    }
}

/// Each step of the report (connect, write, read the answer) waits at most this: the endpoint
/// is local, and a report must never hold the sandbox in init.
const REPORT_TIMEOUT: Duration = Duration::from_secs(1);

/// POSTs `/2018-06-01/runtime/init/error` (the Runtime API's reference: the error type in
/// `Lambda-Runtime-Function-Error-Type`, a JSON body with `errorMessage` and `errorType`);
/// returns the answer's status code. Plain HTTP/1.1 over a socket: `lambda_runtime` keeps its
/// own init-error request private, and init has not started its client yet.
fn report_init_error(api: &str, diagnostic: &Diagnostic) -> std::io::Result<u16> {
    let body = serde_json::json!({
        "errorMessage": diagnostic.error_message,
        "errorType": diagnostic.error_type,
        "stackTrace": [],
    })
    .to_string();
    // A header value cannot hold a line break; ours never do, but the type is the caller's.
    let error_type: String = diagnostic
        .error_type
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let address = api
        .to_socket_addrs()?
        .next()
        .ok_or_else(|| std::io::Error::other("AWS_LAMBDA_RUNTIME_API names no address"))?;
    let mut stream = TcpStream::connect_timeout(&address, REPORT_TIMEOUT)?;
    stream.set_write_timeout(Some(REPORT_TIMEOUT))?;
    stream.set_read_timeout(Some(REPORT_TIMEOUT))?;
    let request = format!(
        "POST /2018-06-01/runtime/init/error HTTP/1.1\r\n\
         Host: {api}\r\n\
         Lambda-Runtime-Function-Error-Type: {error_type}\r\n\
         Content-Type: application/json\r\n\
         Content-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes())?;
    // Waiting for the answer means Lambda has the report before the process exits.
    let mut status_line = String::new();
    BufReader::new(stream).read_line(&mut status_line)?;
    status_line
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| std::io::Error::other("the Runtime API answered without a status line"))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

    use super::*;
    use std::io::Read;
    use std::net::TcpListener;
    use std::time::Instant;

    fn diagnostic() -> Diagnostic {
        Diagnostic {
            error_type: "Lookout.ConfigError".into(),
            error_message: "configuration: ALERT_TOPIC_ARN is required but not set".into(),
        }
    }

    /// Reads one request's head and body as a server would (Content-Length framed).
    fn read_request(stream: TcpStream) -> (String, serde_json::Value) {
        let mut reader = BufReader::new(stream);
        let mut head = String::new();
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            if line == "\r\n" {
                break;
            }
            head.push_str(&line);
        }
        let length: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("Content-Length: "))
            .unwrap()
            .parse()
            .unwrap();
        let mut body = vec![0; length];
        reader.read_exact(&mut body).unwrap();
        (head, serde_json::from_slice(&body).unwrap())
    }

    #[test]
    fn the_report_is_the_runtime_apis_init_error_request() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let api = listener.local_addr().unwrap().to_string();
        let server = std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            let request = read_request(stream.try_clone().unwrap());
            stream
                .write_all(b"HTTP/1.1 202 Accepted\r\nContent-Length: 2\r\n\r\n{}")
                .unwrap();
            request
        });
        assert_eq!(report_init_error(&api, &diagnostic()).unwrap(), 202);
        let (head, body) = server.join().unwrap();
        assert!(
            head.starts_with("POST /2018-06-01/runtime/init/error HTTP/1.1\r\n"),
            "{head}"
        );
        assert!(
            head.contains("\r\nLambda-Runtime-Function-Error-Type: Lookout.ConfigError\r\n"),
            "{head}"
        );
        assert_eq!(body["errorType"], "Lookout.ConfigError");
        assert_eq!(
            body["errorMessage"],
            "configuration: ALERT_TOPIC_ARN is required but not set"
        );
    }

    #[test]
    fn a_silent_runtime_api_cannot_hold_init() {
        // Accepts the connection, never answers.
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let api = listener.local_addr().unwrap().to_string();
        let _server = std::thread::spawn(move || {
            let held = listener.accept();
            std::thread::sleep(Duration::from_secs(10));
            drop(held);
        });
        let started = Instant::now();
        assert!(report_init_error(&api, &diagnostic()).is_err());
        let took = started.elapsed();
        assert!(took < 3 * REPORT_TIMEOUT, "took {took:?}");
    }
}
