//! Per-packet logic: classify, decapsulate, encapsulate, flood, learn, answer.
//!
//! Works on byte slices and a small frame trait, so every stage is unit-tested and
//! benchmarked without EAL; the data plane feeds it real mbufs.

mod drops;

pub use drops::DropReason;
