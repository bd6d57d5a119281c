//! The workspace-level test harness: moto's server, a Lambda Runtime API stub that drives the
//! real function binaries, and helpers to build events and read what SNS delivered.

pub mod aws_stub;
pub mod dynamodb;
pub mod ecr;
pub mod ecs;
pub mod events;
pub mod fault_proxy;
pub mod filter_pattern;
pub mod http;
pub mod kinesis;
pub mod moto;
pub mod runtime_api;
pub mod soak;
pub mod workspace;

pub use moto::Moto;
pub use runtime_api::{Function, Outcome};
