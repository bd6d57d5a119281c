pub mod config;
pub mod events;
pub mod handler;
pub mod render;
pub mod scan_findings;
