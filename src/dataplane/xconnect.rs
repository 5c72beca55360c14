//! The cross-connect: every frame received on one port leaves unchanged on the other.
//! A wiring check for new deployments and the pure-I/O baseline of the benchmarks.

use crate::dpdk::Burst;

use super::worker::{BurstHandler, TxPorts};

#[derive(Debug, Clone, Copy)]
pub struct CrossConnect;

impl BurstHandler for CrossConnect {
    #[inline]
    fn handle(&mut self, rx_port: usize, burst: &mut Burst, tx: &mut TxPorts, _now: u64) {
        let out = rx_port ^ 1;
        for slot in burst.packets() {
            if let Some(m) = slot.take() {
                tx.send(out, m);
            }
        }
    }
}
