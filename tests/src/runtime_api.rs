//! A Lambda Runtime API stub: the same HTTP interface Lambda gives a `provided.al2023`
//! function, so tests drive the real binaries through their real runtime loop.

use serde_json::Value;
use std::collections::{HashMap, VecDeque};
use std::io::{BufRead, BufReader, Read};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// What the function answered.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Response(Value),
    Error {
        error_type: String,
        error_message: String,
    },
}

impl Outcome {
    pub fn response(&self) -> &Value {
        match self {
            Outcome::Response(v) => v,
            Outcome::Error {
                error_type,
                error_message,
            } => panic!("expected a response, got {error_type}: {error_message}"),
        }
    }

    pub fn error(&self) -> (&str, &str) {
        match self {
            Outcome::Error {
                error_type,
                error_message,
            } => (error_type, error_message),
            Outcome::Response(v) => panic!("expected an error, got {v}"),
        }
    }
}

/// What the function reported to `/runtime/init/error` before exiting.
#[derive(Debug, Clone, PartialEq)]
pub struct InitError {
    /// The body's `errorType`: what the invoke result names.
    pub error_type: String,
    pub error_message: String,
    /// The `Lambda-Runtime-Function-Error-Type` header, if sent.
    pub header_type: Option<String>,
}

#[derive(Default)]
struct State {
    queue: Mutex<VecDeque<(String, Vec<u8>, u64)>>,
    queued: Condvar,
    outcomes: Mutex<HashMap<String, (Outcome, Instant)>>,
    answered: Condvar,
    first_poll: Mutex<Option<Instant>>,
    init_error: Mutex<Option<InitError>>,
}

/// The Runtime API endpoint, on a free loopback port.
pub struct RuntimeApi {
    pub address: String,
    state: Arc<State>,
    next_id: AtomicU64,
}

impl RuntimeApi {
    pub fn start() -> Self {
        let state = Arc::new(State::default());
        let served = state.clone();
        let address = crate::http::listen(move |stream| serve(stream, &served));
        Self {
            address,
            state,
            next_id: AtomicU64::new(1),
        }
    }

    /// Queues an event with a deadline `timeout` from now; returns its request id.
    pub fn enqueue(&self, event: &[u8], timeout: Duration) -> String {
        let deadline = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d + timeout)
            .unwrap_or_default();
        self.enqueue_with_deadline_ms(event, deadline.as_millis() as u64)
    }

    /// Queues an event with exactly this `Lambda-Runtime-Deadline-Ms` (emulators send odd ones).
    pub fn enqueue_with_deadline_ms(&self, event: &[u8], deadline_ms: u64) -> String {
        let id = format!("req-{:04}", self.next_id.fetch_add(1, Ordering::SeqCst));
        let mut queue = self.state.queue.lock().expect("queue");
        queue.push_back((id.clone(), event.to_vec(), deadline_ms));
        self.state.queued.notify_all();
        id
    }

    /// Waits for the function's answer to `id`, and when it came.
    pub fn wait(&self, id: &str, wait: Duration) -> Option<(Outcome, Instant)> {
        let started = Instant::now();
        let mut outcomes = self.state.outcomes.lock().expect("outcomes");
        loop {
            if let Some(found) = outcomes.remove(id) {
                return Some(found);
            }
            let left = wait.checked_sub(started.elapsed())?;
            outcomes = self
                .state
                .answered
                .wait_timeout(outcomes, left)
                .expect("outcomes")
                .0;
        }
    }

    /// How many events were queued so far.
    pub fn queued(&self) -> u64 {
        self.next_id.load(Ordering::SeqCst).saturating_sub(1)
    }

    /// When the function first asked for an event: its init phase was over.
    pub fn first_poll(&self) -> Option<Instant> {
        *self.state.first_poll.lock().expect("first poll")
    }

    /// The init error the function reported, if any (the last one, as Lambda keeps).
    pub fn init_error(&self) -> Option<InitError> {
        self.state.init_error.lock().expect("init error").clone()
    }
}

fn serve(stream: TcpStream, state: &State) {
    crate::http::serve(stream, |request| {
        let error_type = header(&request.head, "Lambda-Runtime-Function-Error-Type");
        let (status, headers, body) = handle(state, &request.method, &request.path, error_type, request.body);
        let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        Some(crate::http::response(status, &headers, &body))
    });
}

/// A request header's value, by case-insensitive name.
fn header(head: &str, name: &str) -> Option<String> {
    head.lines().find_map(|line| {
        let (n, value) = line.split_once(':')?;
        n.trim()
            .eq_ignore_ascii_case(name)
            .then(|| value.trim().to_string())
    })
}

type Reply = (u16, Vec<(&'static str, String)>, Vec<u8>);

fn handle(state: &State, method: &str, path: &str, error_type: Option<String>, body: Vec<u8>) -> Reply {
    const PREFIX: &str = "/2018-06-01/runtime/";
    let Some(route) = path.strip_prefix(PREFIX) else {
        return (404, vec![], b"{}".to_vec());
    };
    match (method, route) {
        ("GET", "invocation/next") => {
            state
                .first_poll
                .lock()
                .expect("first poll")
                .get_or_insert_with(Instant::now);
            let mut queue = state.queue.lock().expect("queue");
            let (id, event, deadline) = loop {
                if let Some(item) = queue.pop_front() {
                    break item;
                }
                queue = state.queued.wait(queue).expect("queue");
            };
            let headers = vec![
                ("Lambda-Runtime-Aws-Request-Id", id),
                ("Lambda-Runtime-Deadline-Ms", deadline.to_string()),
                (
                    "Lambda-Runtime-Invoked-Function-Arn",
                    "arn:aws:lambda:us-east-1:123456789012:function:lookout-test".to_string(),
                ),
                (
                    "Lambda-Runtime-Trace-Id",
                    "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0".to_string(),
                ),
                ("Content-Type", "application/json".to_string()),
            ];
            (200, headers, event)
        }
        ("POST", r) if r.starts_with("invocation/") => {
            let mut parts = r.split('/');
            let (_, id, kind) = (
                parts.next(),
                parts.next().unwrap_or_default(),
                parts.next().unwrap_or_default(),
            );
            let outcome = match kind {
                "response" => Outcome::Response(serde_json::from_slice(&body).unwrap_or(Value::Null)),
                _ => {
                    let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                    Outcome::Error {
                        error_type: v["errorType"].as_str().unwrap_or_default().to_string(),
                        error_message: v["errorMessage"].as_str().unwrap_or_default().to_string(),
                    }
                }
            };
            state
                .outcomes
                .lock()
                .expect("outcomes")
                .insert(id.to_string(), (outcome, Instant::now()));
            state.answered.notify_all();
            (202, vec![], br#"{"status":"OK"}"#.to_vec())
        }
        ("POST", "init/error") => {
            let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            *state.init_error.lock().expect("init error") = Some(InitError {
                error_type: v["errorType"].as_str().unwrap_or_default().to_string(),
                error_message: v["errorMessage"].as_str().unwrap_or_default().to_string(),
                header_type: error_type,
            });
            (202, vec![], br#"{"status":"OK"}"#.to_vec())
        }
        _ => (404, vec![], b"{}".to_vec()),
    }
}

/// A function binary running against its own [`RuntimeApi`], with its output captured.
pub struct Function {
    pub api: RuntimeApi,
    child: Child,
    output: Arc<Mutex<Vec<String>>>,
    pub spawned_at: Instant,
}

impl Function {
    pub fn spawn(binary: &Path, env: &[(String, String)]) -> Self {
        Self::spawn_with_args(binary, &[], env)
    }

    /// Like [`Function::spawn`], for a program that needs arguments (an interpreter and a script).
    pub fn spawn_with_args(binary: &Path, args: &[&str], env: &[(String, String)]) -> Self {
        let api = RuntimeApi::start();
        let mut command = Command::new(binary);
        command
            .args(args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("AWS_LAMBDA_RUNTIME_API", &api.address)
            .env("AWS_LAMBDA_FUNCTION_NAME", "lookout-test")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_LOG_FORMAT", "JSON")
            .env("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/lookout-test")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in env {
            command.env(k, v);
        }
        let spawned_at = Instant::now();
        let mut child = command
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {}: {e}", binary.display()));
        let output = Arc::new(Mutex::new(Vec::new()));
        for pipe in [
            child.stdout.take().map(|p| Box::new(p) as Box<dyn Read + Send>),
            child.stderr.take().map(|p| Box::new(p) as Box<dyn Read + Send>),
        ]
        .into_iter()
        .flatten()
        {
            let output = output.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                    output.lock().expect("output").push(line);
                }
            });
        }
        Self {
            api,
            child,
            output,
            spawned_at,
        }
    }

    /// Invokes with a 30 s deadline and waits up to 60 s for the answer.
    pub fn invoke(&self, event: &Value) -> Outcome {
        self.invoke_with_deadline(event, Duration::from_secs(30))
    }

    pub fn invoke_with_deadline(&self, event: &Value, deadline: Duration) -> Outcome {
        let id = self.api.enqueue(event.to_string().as_bytes(), deadline);
        self.answer(&id, deadline + Duration::from_secs(30))
    }

    /// Invokes with a raw `Lambda-Runtime-Deadline-Ms` and waits up to `wait` for the answer.
    pub fn invoke_with_deadline_ms(&self, event: &Value, deadline_ms: u64, wait: Duration) -> Outcome {
        let id = self
            .api
            .enqueue_with_deadline_ms(event.to_string().as_bytes(), deadline_ms);
        self.answer(&id, wait)
    }

    fn answer(&self, id: &str, wait: Duration) -> Outcome {
        match self.api.wait(id, wait) {
            Some((outcome, _)) => outcome,
            None => panic!(
                "no answer to {id}; function output:\n{}",
                self.output().join("\n")
            ),
        }
    }

    /// Everything the function wrote to stdout and stderr so far.
    pub fn output(&self) -> Vec<String> {
        self.output.lock().map(|o| o.clone()).unwrap_or_default()
    }

    /// The last EMF metrics line the function wrote (one per invocation), parsed.
    ///
    /// The function writes it before it answers, but the pipe reader may not have read it yet
    /// when the answer arrives: wait (up to 5 s) for one EMF line per event queued so far.
    pub fn last_emf(&self) -> serde_json::Value {
        let queued = self.api.queued();
        let started = Instant::now();
        let emf_lines = || -> Vec<String> {
            self.output()
                .into_iter()
                .filter(|l| l.contains("\"_aws\""))
                .collect()
        };
        let mut lines = emf_lines();
        while (lines.len() as u64) < queued && started.elapsed() < Duration::from_secs(5) {
            std::thread::sleep(Duration::from_millis(10));
            lines = emf_lines();
        }
        let line = lines.pop().expect("an EMF line");
        serde_json::from_str(&line).expect("the EMF line is JSON")
    }

    /// What the function reported to `/runtime/init/error`, if anything.
    pub fn init_error(&self) -> Option<InitError> {
        self.api.init_error()
    }

    /// Waits for the process to exit (it should only on an init error).
    pub fn wait_exit(&mut self, wait: Duration) -> Option<std::process::ExitStatus> {
        let started = Instant::now();
        while started.elapsed() < wait {
            if let Ok(Some(status)) = self.child.try_wait() {
                std::thread::sleep(Duration::from_millis(50)); // let the readers drain
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    /// Open file descriptors now (sockets included): a pool per connector would show here.
    pub fn open_fds(&self) -> Option<usize> {
        std::fs::read_dir(format!("/proc/{}/fd", self.child.id()))
            .ok()
            .map(Iterator::count)
    }

    /// Peak resident memory so far (Linux VmHWM), in KiB.
    pub fn peak_rss_kib(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
        status
            .lines()
            .find(|l| l.starts_with("VmHWM:"))?
            .split_whitespace()
            .nth(1)?
            .parse()
            .ok()
    }
}

impl Drop for Function {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
