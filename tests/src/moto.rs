//! moto's server on loopback, one per test: tests never share AWS state.

use aws_config::BehaviorVersion;
use serde_json::Value;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const REGION: &str = "us-east-1";
pub const ACCOUNT: &str = "123456789012";

pub struct Moto {
    child: Child,
    pub endpoint: String,
    pub port: u16,
}

impl Moto {
    /// Starts `moto_server` from the project's `.venv` (or `MOTO_SERVER`) on a free port and
    /// waits until it answers.
    pub fn start() -> Self {
        let program = std::env::var_os("MOTO_SERVER")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|| crate::workspace::root().join(".venv/bin/moto_server"));
        assert!(
            program.exists(),
            "{} is missing: run scripts/setup.sh",
            program.display()
        );
        let port = free_port();
        let child = Command::new(&program)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn moto_server");
        let moto = Self {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
            port,
        };
        let started = Instant::now();
        while http(port, "GET", "/moto-api/", "").map(|(status, _)| status) != Some(200) {
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "moto_server did not start on port {port}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        moto
    }

    /// Environment for a function binary that talks to this server.
    pub fn function_env(&self) -> Vec<(String, String)> {
        [
            ("AWS_ENDPOINT_URL", self.endpoint.as_str()),
            ("AWS_REGION", REGION),
            ("AWS_ACCESS_KEY_ID", "testing"),
            ("AWS_SECRET_ACCESS_KEY", "testing"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

    pub async fn sdk_config(&self) -> aws_config::SdkConfig {
        aws_config::defaults(BehaviorVersion::latest())
            .endpoint_url(&self.endpoint)
            .region(aws_config::Region::new(REGION))
            .credentials_provider(aws_sdk_sns::config::Credentials::new(
                "testing", "testing", None, None, "moto",
            ))
            .http_client(lookout_shared::aws::https_client())
            .load()
            .await
    }

    /// POSTs JSON to one of moto's own endpoints (seeding scan findings, for instance).
    pub fn post(&self, path: &str, body: &Value) {
        let (status, text) = http(self.port, "POST", path, &body.to_string()).expect("moto answers");
        assert!((200..300).contains(&status), "POST {path}: {status} {text}");
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// A minimal HTTP/1.1 exchange over loopback, for moto's own API.
fn http(port: u16, method: &str, path: &str, body: &str) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let status = response.split(' ').nth(1)?.parse().ok()?;
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    Some((status, body))
}

/// A topic with an SQS queue subscribed, so tests can read what was really published.
pub struct TopicWithQueue {
    pub topic_arn: String,
    pub queue_url: String,
    sqs: aws_sdk_sqs::Client,
}

/// What SNS delivered to the queue.
#[derive(Debug, Clone)]
pub struct Delivered {
    /// The SNS envelope (without raw delivery) or the raw body.
    pub envelope: Value,
    pub body: String,
}

impl Delivered {
    pub fn subject(&self) -> Option<&str> {
        self.envelope["Subject"].as_str()
    }

    pub fn message(&self) -> &str {
        self.envelope["Message"].as_str().unwrap_or(&self.body)
    }

    pub fn message_json(&self) -> Value {
        serde_json::from_str(self.message()).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.message()))
    }

    pub fn attribute(&self, name: &str) -> Option<&str> {
        self.envelope["MessageAttributes"][name]["Value"].as_str()
    }
}

impl TopicWithQueue {
    pub async fn create(config: &aws_config::SdkConfig, name: &str, fifo: bool) -> Self {
        let sns = aws_sdk_sns::Client::new(config);
        let sqs = aws_sdk_sqs::Client::new(config);
        let suffix = if fifo { ".fifo" } else { "" };
        let mut topic = sns.create_topic().name(format!("{name}{suffix}"));
        let mut queue = sqs.create_queue().queue_name(format!("{name}-queue{suffix}"));
        if fifo {
            topic = topic.attributes("FifoTopic", "true");
            queue = queue.attributes(aws_sdk_sqs::types::QueueAttributeName::FifoQueue, "true");
        }
        let topic_arn = topic
            .send()
            .await
            .expect("create topic")
            .topic_arn
            .expect("topic arn");
        let queue_url = queue
            .send()
            .await
            .expect("create queue")
            .queue_url
            .expect("queue url");
        let queue_arn = sqs
            .get_queue_attributes()
            .queue_url(&queue_url)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
            .send()
            .await
            .expect("queue attributes")
            .attributes
            .and_then(|a| a.get(&aws_sdk_sqs::types::QueueAttributeName::QueueArn).cloned())
            .expect("queue arn");
        sns.subscribe()
            .topic_arn(&topic_arn)
            .protocol("sqs")
            .endpoint(queue_arn)
            .send()
            .await
            .expect("subscribe");
        Self {
            topic_arn,
            queue_url,
            sqs,
        }
    }

    /// The function `binary` (a workspace binary) on `moto`, publishing to this topic, with
    /// `extra` environment.
    pub fn spawn_publisher(&self, moto: &Moto, binary: &str, extra: &[(&str, &str)]) -> crate::Function {
        let mut env = moto.function_env();
        env.push(("ALERT_TOPIC_ARN".into(), self.topic_arn.clone()));
        env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        crate::Function::spawn(&crate::workspace::binary(binary), &env)
    }

    /// The one message on the queue now; fails the test if there are none or more.
    pub async fn one(&self) -> Delivered {
        let mut delivered = self.drain().await;
        assert_eq!(delivered.len(), 1, "expected exactly one message: {delivered:?}");
        delivered.remove(0)
    }

    /// Everything on the queue now (waits briefly for delivery, then drains).
    pub async fn drain(&self) -> Vec<Delivered> {
        let mut out = Vec::new();
        loop {
            let received = self
                .sqs
                .receive_message()
                .queue_url(&self.queue_url)
                .max_number_of_messages(10)
                .wait_time_seconds(if out.is_empty() { 1 } else { 0 })
                .send()
                .await
                .expect("receive");
            let messages = received.messages.unwrap_or_default();
            if messages.is_empty() {
                return out;
            }
            for m in messages {
                let body = m.body.unwrap_or_default();
                let envelope = serde_json::from_str(&body).unwrap_or(Value::Null);
                out.push(Delivered { envelope, body });
                if let Some(handle) = m.receipt_handle {
                    self.sqs
                        .delete_message()
                        .queue_url(&self.queue_url)
                        .receipt_handle(handle)
                        .send()
                        .await
                        .expect("delete");
                }
            }
        }
    }
}

/// The SDK configuration of `central`'s endpoint, acting in `account`: moto's AssumeRole, made
/// by the test's own setup (not by the code under test), straight to moto.
pub async fn acting_in(central: &aws_config::SdkConfig, account: &str) -> aws_config::SdkConfig {
    let credentials = aws_sdk_sts::Client::new(central)
        .assume_role()
        .role_arn(format!("arn:aws:iam::{account}:role/lookout-member"))
        .role_session_name("lookout-tests")
        .send()
        .await
        .expect("assume role")
        .credentials
        .expect("credentials");
    let credentials = aws_sdk_sts::config::Credentials::new(
        credentials.access_key_id,
        credentials.secret_access_key,
        Some(credentials.session_token),
        None,
        "moto-assume-role",
    );
    central
        .to_builder()
        .credentials_provider(aws_sdk_sts::config::SharedCredentialsProvider::new(credentials))
        .build()
}
