//! The management plane: starts the data plane, watches it, stops it, reports.

pub mod console;
pub mod daemon;
pub mod report;

pub use daemon::{run, RunError, RunOptions};
