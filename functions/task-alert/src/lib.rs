//! task-alert: ECS task stops, deployment failures, service actions and AWS Health task
//! retirements, turned into alerts that say what died, why, what it said last and where to look.
//!
//! - [`event`]: the EventBridge events, read into typed values (named errors, unknown fields ignored);
//! - [`classify`]: routine stops (scale-in, deployments, StopTask, finished one-off tasks) vs. news;
//! - [`logs`]: the failed container's awslogs stream and its last lines;
//! - [`links`]: console links from validated parts; [`quote`]: untrusted text made inert;
//! - [`render`]: the notification; [`handler`]: one invocation.

pub mod arn;
pub mod classify;
pub mod config;
pub mod event;
pub mod handler;
pub mod links;
pub mod logs;
pub mod quote;
pub mod render;
