//! The data plane: worker lcores, their queues, their loop, their counters.
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

pub mod counters;
mod frame;
pub mod gateway;
pub mod setup;
pub mod worker;
pub mod xconnect;

pub use counters::{CounterSnapshot, SharedCounters, WorkerCounters, MAX_PORTS};
pub use worker::{BurstHandler, IdleBackOff, TxPorts, Worker};
