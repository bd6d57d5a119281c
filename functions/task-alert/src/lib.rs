//! task-alert: ECS task stops, deployment failures, service actions and AWS Health task
//! retirements, turned into alerts that say what died, why, what it said last and where to look.
//!
//! - `event`: the EventBridge events, typed (`aws_lambda_events`) then checked (named errors);
//! - `classify`: routine stops (scale-in, deployments, StopTask, finished one-off tasks) vs.
//!   news, and which service and Health events are news;
//! - `plan`: a batch's alerts, without I/O; `alert`: what each alert is and is identified by;
//! - `recovery`: open alerts (crash loops, failed deployments) and the steady states that
//!   resolve them;
//! - `logs`: the failed container's awslogs stream and its last lines, read in the task's
//!   account (a member's through its reader role) and region;
//! - `links`: console links from validated parts; `quote`: untrusted text made inert;
//! - `render`: the notification, one module per kind; `handler`: one invocation, as wiring.
//!
//! Only what `main.rs`, the tests and the fuzz target use is public.

mod alert;
mod arn;
mod classify;
mod config;
mod event;
mod handler;
mod links;
mod logs;
mod plan;
mod quote;
mod recovery;
mod render;
mod summary;

pub use config::TaskAlertConfig;
pub use event::{Batch, Event, EventError, parse};
pub use handler::{TaskAlert, TaskAlertError};
pub use logs::{AccountLogs, AwsLogSource, Fetched, LogLine, LogOutcome, LogRequest, LogSource, LogStream};
