//! Wire formats: zero-copy views and builders for every header vtepd reads or writes.
//!
//! Shaped after smoltcp's `wire`: one file per protocol, each with a `HEADER_LEN`, a header
//! overlay (a `zerocopy` struct of network-endian fields: no offsets to get wrong, no
//! accessor that can index out of bounds) obtained with `parse`/`parse_mut` which check the
//! length, and protocol numbers as enums with an `Unknown` arm so parsing never fails on a
//! value it does not know.
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

pub mod arp;
pub mod checksum;
pub mod ethernet;
pub mod gre;
pub mod icmpv4;
pub mod icmpv6;
pub mod ipfix;
pub mod ipv4;
pub mod ipv6;
pub mod tcp;
pub mod udp;
pub mod vlan;
pub mod vxlan;

mod vni;

pub use ethernet::{EtherType, MacAddr};
pub use ipv4::IpProtocol;
pub use vni::Vni;

/// Why bytes could not be read as a header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error("truncated")]
    Truncated,
    #[error("malformed")]
    Malformed,
}

/// Views the front of `bytes` as a `T`, returning it and the rest.
#[inline(always)]
pub fn overlay<T>(bytes: &[u8]) -> Result<(&T, &[u8]), Error>
where
    T: zerocopy::FromBytes + zerocopy::KnownLayout + zerocopy::Immutable + zerocopy::Unaligned,
{
    T::ref_from_prefix(bytes).map_err(|_| Error::Truncated)
}

/// Mutable `overlay`.
#[inline(always)]
pub fn overlay_mut<T>(bytes: &mut [u8]) -> Result<(&mut T, &mut [u8]), Error>
where
    T: zerocopy::FromBytes + zerocopy::IntoBytes + zerocopy::KnownLayout + zerocopy::Unaligned,
{
    T::mut_from_prefix(bytes).map_err(|_| Error::Truncated)
}
