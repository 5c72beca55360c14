//! The management plane: starts the data plane, watches it, stops it, reports.

pub mod admin;
pub mod api;
pub mod audit;
pub mod console;
pub mod daemon;
pub mod evpn;
pub mod gateway;
pub mod ipfix;
pub mod management;
pub mod metrics;
pub mod multicast;
pub mod neighbor;
pub mod policy;
pub mod policy_view;
pub mod reload;
pub mod report;
pub mod routing_view;
pub mod tables;
pub mod telemetry;

pub use daemon::{run, RunError, RunOptions};
