//! A fault-injecting HTTP proxy between a function binary and moto: for chosen operations it
//! answers throttling or 5xx, resets the connection, or delays, a set number of times, and
//! passes everything else through. It counts the requests it saw per operation.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Debug, Clone)]
pub enum Fault {
    /// The service's throttling error (`Throttling` for SNS, `ThrottlingException` for JSON APIs).
    Throttle,
    /// An HTTP status with an empty body.
    Status(u16),
    /// A service error with this code and HTTP 400 (e.g. `RepositoryNotFoundException`).
    Error(&'static str),
    /// Close the connection without answering.
    Reset,
    /// Wait this long, then pass the request on.
    Delay(Duration),
    /// Pass the request on (it takes effect), then hold the answer this long: a call that
    /// succeeded but whose caller gave up first.
    DelayAnswer(Duration),
}

#[derive(Debug, Clone)]
struct Rule {
    operation: &'static str,
    /// Only requests whose body contains this.
    body_contains: Option<String>,
    fault: Fault,
    remaining: usize,
}

#[derive(Default)]
struct State {
    rules: Vec<Rule>,
    seen: HashMap<String, usize>,
}

pub struct FaultProxy {
    pub endpoint: String,
    state: Arc<Mutex<State>>,
}

impl FaultProxy {
    /// Proxies to `upstream` (`http://127.0.0.1:PORT`).
    pub fn start(upstream: &str) -> Self {
        let upstream = upstream.trim_start_matches("http://").to_string();
        let state = Arc::new(Mutex::new(State::default()));
        let shared = state.clone();
        let address = crate::http::listen(move |client| serve(client, &upstream, &shared));
        Self {
            endpoint: format!("http://{address}"),
            state,
        }
    }

    /// Applies `fault` to the next `times` requests for `operation` (SNS `Publish`, ECR
    /// `StartImageScan`, ...). `usize::MAX` means always.
    pub fn inject(&self, operation: &'static str, fault: Fault, times: usize) {
        self.inject_when(operation, None, fault, times);
    }

    pub fn inject_when(
        &self,
        operation: &'static str,
        body_contains: Option<&str>,
        fault: Fault,
        times: usize,
    ) {
        let rule = Rule {
            operation,
            body_contains: body_contains.map(String::from),
            fault,
            remaining: times,
        };
        self.state.lock().expect("state").rules.push(rule);
    }

    /// Requests seen for `operation`, faults included.
    pub fn seen(&self, operation: &str) -> usize {
        self.state
            .lock()
            .expect("state")
            .seen
            .get(operation)
            .copied()
            .unwrap_or(0)
    }
}

fn serve(client: TcpStream, upstream: &str, state: &Mutex<State>) {
    crate::http::serve(client, |request| {
        let operation = request.operation();
        let fault = {
            let mut s = state.lock().expect("state");
            *s.seen.entry(operation.clone()).or_default() += 1;
            let body = String::from_utf8_lossy(&request.body).to_string();
            s.rules
                .iter_mut()
                .find(|r| {
                    r.remaining > 0
                        && r.operation == operation
                        && r.body_contains
                            .as_ref()
                            .is_none_or(|needle| body.contains(needle.as_str()))
                })
                .map(|r| {
                    r.remaining = r.remaining.saturating_sub(1);
                    r.fault.clone()
                })
        };
        let json = request.target.is_some();
        Some(match fault {
            Some(Fault::Reset) => return None,
            Some(Fault::Throttle) if json => error_json(400, "ThrottlingException", "Rate exceeded"),
            Some(Fault::Throttle) => error_xml(400, "Throttling", "Rate exceeded"),
            Some(Fault::Error(code)) if json => error_json(400, code, "injected by the test proxy"),
            Some(Fault::Error(code)) => error_xml(400, code, "injected by the test proxy"),
            Some(Fault::Status(status)) => crate::http::response(status, &[], b""),
            Some(Fault::Delay(d)) => {
                std::thread::sleep(d);
                forward(&request, upstream)
            }
            Some(Fault::DelayAnswer(d)) => {
                let answer = forward(&request, upstream);
                std::thread::sleep(d);
                answer
            }
            None => forward(&request, upstream),
        })
    });
}

/// One request to moto on a fresh connection; the whole response comes back.
pub(crate) fn forward(request: &crate::http::Request, upstream: &str) -> Vec<u8> {
    let Ok(mut up) = TcpStream::connect(upstream) else {
        return b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n".to_vec();
    };
    let _ = up.set_nodelay(true);
    let mut out = request.head.clone().into_bytes();
    out.extend_from_slice(b"Connection: close\r\n\r\n");
    out.extend_from_slice(&request.body);
    let mut response = Vec::new();
    if up.write_all(&out).is_err() || up.read_to_end(&mut response).is_err() {
        return b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n".to_vec();
    }
    // moto closes after each response and says so; re-frame with a length so the client can
    // keep its connection.
    reframe(&response)
}

fn reframe(raw: &[u8]) -> Vec<u8> {
    let Some(split) = raw.windows(4).position(|w| w == b"\r\n\r\n") else {
        return raw.to_vec();
    };
    let head = String::from_utf8_lossy(&raw[..split]);
    let body = &raw[split + 4..];
    let mut out = String::new();
    for line in head.split("\r\n") {
        let lower = line.to_ascii_lowercase();
        if lower.starts_with("content-length:")
            || lower.starts_with("connection:")
            || lower.starts_with("transfer-encoding:")
        {
            continue;
        }
        out.push_str(line);
        out.push_str("\r\n");
    }
    out.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

fn error_json(status: u16, code: &str, message: &str) -> Vec<u8> {
    let body = format!("{{\"__type\":\"{code}\",\"message\":\"{message}\"}}");
    crate::http::response(
        status,
        &[
            ("Content-Type", "application/x-amz-json-1.1"),
            ("X-Amzn-Errortype", code),
        ],
        body.as_bytes(),
    )
}

fn error_xml(status: u16, code: &str, message: &str) -> Vec<u8> {
    let body = format!(
        "<ErrorResponse xmlns=\"http://sns.amazonaws.com/doc/2010-03-31/\"><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error><RequestId>proxy</RequestId></ErrorResponse>"
    );
    format!(
        "HTTP/1.1 {status} Error\r\nContent-Type: text/xml\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}
