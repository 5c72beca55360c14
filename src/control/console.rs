//! `--stats-interval`: one line per traffic direction for someone watching a terminal.

use std::time::Instant;

/// Cumulative counters the lines are computed from: (label, packets, bytes) per direction
/// (per port for a cross-connect), and all drops.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sources {
    pub flows: Vec<(String, u64, u64)>,
    pub drops: u64,
}

/// Remembers the last reading to turn counters into rates.
#[derive(Debug)]
pub struct RateLine {
    last: Sources,
    at: Instant,
}

impl RateLine {
    pub fn new(start: Sources) -> RateLine {
        RateLine {
            last: start,
            at: Instant::now(),
        }
    }

    /// Lines describing the rates since the previous call.
    pub fn lines(&mut self, now: Sources) -> Vec<String> {
        let secs = self.at.elapsed().as_secs_f64().max(1e-6);
        let rate = |a: u64, b: u64| a.saturating_sub(b) as f64 / secs;
        let mut out = Vec::with_capacity(now.flows.len() + 1);
        for (label, packets, bytes) in &now.flows {
            let (p0, b0) = self
                .last
                .flows
                .iter()
                .find(|(l, ..)| l == label)
                .map(|(_, p, b)| (*p, *b))
                .unwrap_or((0, 0));
            out.push(format!(
                "{label}: {:.3} Mpps {:.3} Gb/s",
                rate(*packets, p0) / 1e6,
                rate(*bytes, b0) * 8.0 / 1e9
            ));
        }
        out.push(format!("drops: {:.0}/s", rate(now.drops, self.last.drops)));
        self.last = now;
        self.at = Instant::now();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_per_flow_and_drops() {
        let mut r = RateLine::new(Sources {
            flows: vec![("encap".into(), 0, 0)],
            drops: 0,
        });
        let lines = r.lines(Sources {
            flows: vec![("encap".into(), 10, 1000)],
            drops: 3,
        });
        assert_eq!(lines.len(), 2);
        assert!(lines[0].starts_with("encap: "), "{}", lines[0]);
        assert!(lines[0].contains(" Mpps ") && lines[0].ends_with(" Gb/s"));
        assert!(lines[1].starts_with("drops: "));
    }
}
