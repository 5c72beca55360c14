//! Per-packet logic: classify, decapsulate, encapsulate, flood, learn, answer.
//!
//! Works on byte slices and a small frame trait, so every stage is unit-tested and
//! benchmarked without EAL; the data plane feeds it real mbufs.
#![cfg_attr(
    not(test),
    deny(
        clippy::indexing_slicing,
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::arithmetic_side_effects
    )
)]

pub mod burst;
mod drops;
pub mod ecn;
pub mod encap;
pub mod entropy;
pub mod exception;
pub mod frame;
pub mod gateway;
pub mod icmp_error;
pub mod learn;
pub mod policer;
pub mod policy;
pub mod priority;
pub mod reply;
pub mod segment;
pub mod shape;
pub mod solicit;
pub mod storm;
#[cfg(test)]
mod tests;
pub mod underlay;
pub mod vlan;

pub use burst::{BurstRun, MAX_BURST};
pub use drops::DropReason;
pub use frame::{Frame, Offload, VecFrame};
pub use gateway::{
    Flood, Gateway, GatewayParams, InnerMeta, OffloadCaps, RoutingParams, Target, Verdict,
};
