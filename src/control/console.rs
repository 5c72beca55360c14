//! `--stats-interval`: one line of rates per port for someone watching a terminal.

use std::time::Instant;

use crate::dataplane::CounterSnapshot;

/// Remembers the last snapshot to turn counters into rates.
#[derive(Debug)]
pub struct RateLine {
    last: CounterSnapshot,
    at: Instant,
}

impl RateLine {
    pub fn new(start: CounterSnapshot) -> RateLine {
        RateLine {
            last: start,
            at: Instant::now(),
        }
    }

    /// Lines describing the rates since the previous call.
    pub fn lines(&mut self, now: CounterSnapshot, names: &[String]) -> Vec<String> {
        let secs = self.at.elapsed().as_secs_f64().max(1e-6);
        let rate = |a: u64, b: u64| (a.saturating_sub(b)) as f64 / secs;
        let mut out = Vec::with_capacity(names.len() + 1);
        for (i, name) in names.iter().enumerate() {
            let g = |v: &Vec<u64>| v.get(i).copied().unwrap_or(0);
            let rx_pps = rate(g(&now.port_rx_packets), g(&self.last.port_rx_packets));
            let rx_bps = rate(g(&now.port_rx_bytes), g(&self.last.port_rx_bytes)) * 8.0;
            let tx_pps = rate(g(&now.port_tx_packets), g(&self.last.port_tx_packets));
            out.push(format!(
                "{name}: rx {:.3} Mpps {:.3} Gb/s, tx {:.3} Mpps",
                rx_pps / 1e6,
                rx_bps / 1e9,
                tx_pps / 1e6
            ));
        }
        out.push(format!(
            "drops: {:.0}/s",
            rate(now.total_drops(), self.last.total_drops())
        ));
        self.last = now;
        self.at = Instant::now();
        out
    }
}
