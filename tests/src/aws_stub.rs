//! An AWS endpoint that answers every call at once with a small valid response: benchmarks and
//! the soak harness measure the function, not the network or an emulator. SNS `Publish`
//! (query protocol) gets a MessageId; JSON-protocol calls (DynamoDB, ECS, CloudWatch Logs, ECR)
//! get a canned answer by operation, `{}` when none is listed.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub struct AwsStub {
    pub endpoint: String,
    calls: Arc<Mutex<HashMap<String, u64>>>,
}

const PUBLISH_RESPONSE: &str = "<PublishResponse xmlns=\"http://sns.amazonaws.com/doc/2010-03-31/\"><PublishResult><MessageId>00000000-0000-0000-0000-000000000000</MessageId></PublishResult><ResponseMetadata><RequestId>stub</RequestId></ResponseMetadata></PublishResponse>";

/// The JSON answer to one operation: enough for each function's happy path.
fn json_answer(operation: &str) -> &'static str {
    match operation {
        "DescribeTaskDefinition" => {
            r#"{"taskDefinition":{"taskDefinitionArn":"arn:aws:ecs:us-east-1:123456789012:task-definition/worker:7","family":"worker","revision":7,"containerDefinitions":[{"name":"worker","image":"worker:v2","essential":true,"logConfiguration":{"logDriver":"awslogs","options":{"awslogs-group":"/ecs/worker","awslogs-region":"us-east-1","awslogs-stream-prefix":"ecs"}}}]}}"#
        }
        "GetLogEvents" => {
            r#"{"events":[{"timestamp":1764093600000,"message":"ERROR job failed: connection reset","ingestionTime":1764093600001}],"nextForwardToken":"f/1","nextBackwardToken":"b/1"}"#
        }
        "FilterLogEvents" => r#"{"events":[]}"#,
        "GetRegistryScanningConfiguration" => {
            r#"{"registryId":"123456789012","scanningConfiguration":{"scanType":"BASIC","rules":[]}}"#
        }
        "DescribeRepositories" => {
            r#"{"repositories":[{"repositoryName":"web","registryId":"123456789012","repositoryArn":"arn:aws:ecr:us-east-1:123456789012:repository/web","repositoryUri":"123456789012.dkr.ecr.us-east-1.amazonaws.com/web"}]}"#
        }
        "DescribeImages" => {
            r#"{"imageDetails":[{"registryId":"123456789012","repositoryName":"web","imageDigest":"sha256:1111111111111111111111111111111111111111111111111111111111111111","imageTags":["v1"],"imagePushedAt":1764000000}]}"#
        }
        "StartImageScan" => {
            r#"{"registryId":"123456789012","repositoryName":"web","imageId":{"imageDigest":"sha256:1111111111111111111111111111111111111111111111111111111111111111"},"imageScanStatus":{"status":"IN_PROGRESS"}}"#
        }
        _ => "{}",
    }
}

impl AwsStub {
    pub fn start() -> Self {
        Self::with_latency(|_| Duration::ZERO)
    }

    /// Answers each call after `latency(operation)`, as a service in the same region would
    /// (benchmarks of what the calls cost in time).
    pub fn with_latency(latency: impl Fn(&str) -> Duration + Send + Sync + 'static) -> Self {
        let calls = Arc::new(Mutex::new(HashMap::new()));
        let counter = calls.clone();
        let latency = Arc::new(latency);
        let address = crate::http::listen(move |stream| {
            let counter = counter.clone();
            let latency = latency.clone();
            crate::http::serve(stream, move |request| {
                let operation = request.operation();
                std::thread::sleep(latency(&operation));
                *counter
                    .lock()
                    .expect("calls")
                    .entry(operation.clone())
                    .or_insert(0) += 1;
                Some(if request.target.is_some() {
                    crate::http::response(
                        200,
                        &[("Content-Type", "application/x-amz-json-1.1")],
                        json_answer(&operation).as_bytes(),
                    )
                } else {
                    crate::http::response(200, &[("Content-Type", "text/xml")], PUBLISH_RESPONSE.as_bytes())
                })
            })
        });
        let endpoint = format!("http://{address}");
        Self { endpoint, calls }
    }

    /// Calls seen for `operation` (`Publish`, `UpdateItem`, ...).
    pub fn calls(&self, operation: &str) -> u64 {
        self.calls
            .lock()
            .expect("calls")
            .get(operation)
            .copied()
            .unwrap_or(0)
    }

    pub fn publishes(&self) -> u64 {
        self.calls("Publish")
    }
}
