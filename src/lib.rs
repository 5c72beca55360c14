//! vtepd: a DPDK-accelerated VXLAN/NVGRE gateway.
//!
//! The folders are the architecture: `wire` (header formats), `pipeline` (per-packet logic),
//! `tables` (FDB, VNIs, neighbours and their per-worker replicas), `dataplane` (worker lcores),
//! `control` (management thread), `config`, and `dpdk` (the safe layer over DPDK, the only
//! place `unsafe` is allowed). See docs/ARCHITECTURE.md.

pub mod cli;
pub mod config;
pub mod control;
pub mod dataplane;
pub mod dpdk;
pub mod pipeline;
pub mod tables;
pub mod wire;
