//! ecr-rescan: scheduled ECR rescans under BASIC scanning, Amazon Inspector reports under ENHANCED.
//!
//! The handler (`handler.rs`) types the [`RescanInput`], reads the registry's scan type and
//! repositories, then either selects images (`select.rs`) and scans them (`scan.rs`, BASIC,
//! paced by `pace.rs`) or builds the Inspector report (`enhanced.rs`); the run summary
//! (`summary.rs`) is delivered and returned. `ecr.rs` and `inspector.rs` wrap the SDK clients.
//! With `ACCOUNTS`, each account's registry is read the same way, through the member reader
//! role (`members.rs`), in rotation order (`rotation.rs`), under one organisation summary.
//!
//! The modules are private: this re-exports what `main.rs` and the tests build a [`Rescan`]
//! from.

mod config;
mod ecr;
mod enhanced;
mod handler;
mod input;
mod inspector;
mod members;
mod model;
mod pace;
mod rotation;
mod scan;
mod select;
mod summary;

pub use config::{Organisation, RescanConfig};
pub use ecr::{EcrRegistry, Registry};
pub use handler::Rescan;
pub use inspector::{Inspector, Inspector2};
pub use members::{MemberRegistries, Members};
pub use model::{Image, Repository, ScanError, ScanType};
