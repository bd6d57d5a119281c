//! ecr-rescan: scheduled ECR rescans under BASIC scanning, Amazon Inspector reports under ENHANCED.
//!
//! [`handler`] reads the registry's scan type and repositories, then either [`select`]s images and
//! [`scan`]s them (BASIC, paced by [`pace`]) or builds the [`enhanced`] report from Inspector; the
//! [`summary`] is returned and published. [`ecr`] and [`inspector`] wrap the SDK clients.

pub mod config;
pub mod ecr;
mod enhanced;
pub mod handler;
mod input;
pub mod inspector;
pub mod model;
mod pace;
mod scan;
mod select;
mod summary;
