//! The management API: HTTP/JSON on `[api] listen`, Prometheus at `/metrics`.

pub mod model;
pub mod server;

pub use server::{ask, channel, ApiCall, ApiOp, ApiReply, ApiServer};
