//! Just enough HTTP/1.1 for the test servers (Runtime API stub, SNS and ECR stubs, the
//! fault proxy): keep-alive requests with a Content-Length, answered in one write.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;

pub struct Request {
    pub method: String,
    pub path: String,
    /// The request line and headers, without `Connection` (for forwarding).
    pub head: String,
    /// The operation of an AWS JSON protocol request (`X-Amz-Target`), if any.
    pub target: Option<String>,
    pub body: Vec<u8>,
}

impl Request {
    /// The AWS operation: `X-Amz-Target`'s, or a query-protocol body's `Action=`.
    pub fn operation(&self) -> String {
        self.target.clone().unwrap_or_else(|| {
            String::from_utf8_lossy(&self.body)
                .split('&')
                .find_map(|kv| kv.strip_prefix("Action="))
                .unwrap_or_default()
                .to_string()
        })
    }
}

/// Reads one request; `None` when the peer closed the connection.
pub fn read_request(reader: &mut BufReader<TcpStream>) -> Option<Request> {
    let mut line = String::new();
    if reader.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let mut parts = line.split_whitespace();
    let (method, path) = (parts.next()?.to_string(), parts.next()?.to_string());
    let mut head = line.clone();
    let (mut length, mut target) = (0usize, None);
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header).ok()? == 0 {
            return None;
        }
        if header == "\r\n" || header == "\n" {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse().ok()?;
            } else if name.eq_ignore_ascii_case("x-amz-target") {
                target = value.trim().rsplit('.').next().map(String::from);
            } else if name.eq_ignore_ascii_case("connection") {
                continue;
            }
        }
        head.push_str(&header);
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some(Request {
        method,
        path,
        head,
        target,
        body,
    })
}

/// Listens on a free loopback port and hands each connection to `on_connection` on its own
/// thread; returns the `127.0.0.1:PORT` address.
pub fn listen(on_connection: impl Fn(TcpStream) + Send + Sync + 'static) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    let address = listener.local_addr().expect("local address").to_string();
    let on_connection = Arc::new(on_connection);
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let on_connection = on_connection.clone();
            std::thread::spawn(move || on_connection(stream));
        }
    });
    address
}

/// Serves keep-alive requests on `stream` with `handle` until the peer closes or `handle`
/// returns `None` (which closes the connection without an answer).
pub fn serve(stream: TcpStream, mut handle: impl FnMut(Request) -> Option<Vec<u8>>) {
    // No Nagle delay: a response held for the peer's delayed ACK (~40 ms) skews every timing.
    let _ = stream.set_nodelay(true);
    let Ok(read) = stream.try_clone() else { return };
    let mut reader = BufReader::new(read);
    let mut writer = stream;
    while let Some(request) = read_request(&mut reader) {
        let Some(response) = handle(request) else {
            let _ = writer.shutdown(std::net::Shutdown::Both);
            return;
        };
        if writer.write_all(&response).and_then(|_| writer.flush()).is_err() {
            return;
        }
    }
}

/// A whole response, head and body in one buffer so it goes out in one write.
pub fn response(status: u16, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "HTTP/1.1 {status} {}\r\nContent-Length: {}\r\n",
        reason(status),
        body.len()
    );
    for (name, value) in headers {
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    out.push_str("\r\n");
    let mut out = out.into_bytes();
    out.extend_from_slice(body);
    out
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        202 => "Accepted",
        400 => "Bad Request",
        404 => "Not Found",
        502 => "Bad Gateway",
        _ => "Status",
    }
}
