//! The data plane: worker lcores, their queues, their loop, their counters.

pub mod counters;
pub mod setup;
pub mod worker;
pub mod xconnect;

pub use counters::{CounterSnapshot, SharedCounters, WorkerCounters, MAX_PORTS};
pub use worker::{BurstHandler, TxPorts, Worker};
