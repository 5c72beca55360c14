//! Software TCP segmentation with DPDK's GSO library (librte_gso), for ports without
//! tunnel TSO.

use super::error::{DpdkError, Errno};
use super::mbuf::Mbuf;
use super::mempool::Mempool;

/// Most segments one packet is cut into (a 64 KiB packet at a 576-byte MTU).
pub const MAX_SEGMENTS: usize = 128;

/// A GSO context: where segment headers and payload references come from, and how big a
/// segment may be.
#[derive(Debug)]
pub struct Gso {
    ctx: dpdk_sys::rte_gso_ctx,
}

// SAFETY: the context holds pointers to mempools, which are thread-safe and live until EAL
// cleanup; each worker owns its own context.
unsafe impl Send for Gso {}

/// What segmentation produced.
#[derive(Debug)]
pub enum Segmented {
    /// The packet was small enough: here it is, unchanged.
    Whole(Mbuf),
    /// This many segments were written to the output slots.
    Segments(usize),
}

impl Gso {
    /// `max_frame` is the largest segment, Ethernet header included (underlay MTU + 14).
    pub fn new(direct: &Mempool, indirect: &Mempool, max_frame: u16) -> Gso {
        Gso {
            ctx: dpdk_sys::rte_gso_ctx {
                direct_pool: direct.as_ptr(),
                indirect_pool: indirect.as_ptr(),
                flag: 0,
                gso_types: (dpdk_sys::RTE_ETH_TX_OFFLOAD_VXLAN_TNL_TSO
                    | dpdk_sys::RTE_ETH_TX_OFFLOAD_GRE_TNL_TSO
                    | dpdk_sys::RTE_ETH_TX_OFFLOAD_TCP_TSO) as u32,
                gso_size: max_frame,
            },
        }
    }

    /// Cuts `m` (whose offload flags and lengths ask for TCP segmentation) into segments
    /// written to `out`, which must be all `None`. Each segment is a header mbuf chained to
    /// an indirect mbuf holding a slice of the original payload; checksums are left to the
    /// caller, as librte_gso does not compute them.
    pub fn segment(
        &self,
        m: Mbuf,
        out: &mut [Option<Mbuf>; MAX_SEGMENTS],
    ) -> Result<Segmented, DpdkError> {
        let raw = m.into_raw();
        // SAFETY: `raw` is a valid mbuf we own; `out` has MAX_SEGMENTS slots of
        // `struct rte_mbuf *` layout (Option<Mbuf> is a nullable pointer), all None; the
        // context's pools are valid.
        let ret = unsafe {
            dpdk_sys::rte_gso_segment(
                raw.as_ptr(),
                &self.ctx,
                out.as_mut_ptr().cast::<*mut dpdk_sys::rte_mbuf>(),
                MAX_SEGMENTS as u16,
            )
        };
        // SAFETY: rte_gso_segment never frees or keeps the input; ownership returns to us.
        let m = unsafe { Mbuf::from_raw(raw) };
        match ret {
            0 => Ok(Segmented::Whole(m)),
            n if n > 0 => {
                // The segments hold their own references to the payload.
                drop(m);
                Ok(Segmented::Segments(n.unsigned_abs() as usize))
            }
            n => Err(DpdkError::new("rte_gso_segment", Errno(-n))),
        }
    }
}
