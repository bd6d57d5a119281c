//! ecr-rescan: scheduled ECR rescans under BASIC scanning, Amazon Inspector reports under ENHANCED.
//!
//! The handler (`handler.rs`) types the [`RescanInput`], reads the registry's scan type and
//! repositories, then either selects images (`select.rs`) and scans them (`scan.rs`, BASIC,
//! paced by `pace.rs`) or builds the Inspector report (`enhanced.rs`); the run summary
//! (`summary.rs`) is delivered and returned. `ecr.rs` and `inspector.rs` wrap the SDK clients.
//!
//! The modules are private: this re-exports what `main.rs` and the tests build a [`Rescan`]
//! from.

mod config;
mod ecr;
mod enhanced;
mod handler;
mod input;
mod inspector;
mod model;
mod pace;
mod scan;
mod select;
mod summary;

pub use config::RescanConfig;
pub use ecr::{EcrRegistry, Registry};
pub use handler::Rescan;
pub use inspector::Inspector2;
pub use model::{Image, Repository, ScanError, ScanType};
