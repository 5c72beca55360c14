//! Exporting the connection log to IPFIX collectors over UDP (RFC 7011 §10.3).
//!
//! The workers hand `FlowRecord`s to the management thread, which owns one `Exporter` and
//! calls `export` with each batch (an empty batch too: that is when a template refresh falls
//! due without traffic). Every collector gets the same messages, so one sequence number
//! serves them all, and a collector that misses a message sees the gap.
//!
//! UDP has no template state a collector can ask for, so templates go in the first message,
//! again every `template_refresh` (RFC 7011 §8.4), and at once when a collector is added.
//! The exporter never blocks the management thread: the sockets are non-blocking, and a
//! datagram the kernel will not take now is counted and dropped, not retried.

use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::wire::ipfix::{Encoder, FlowRecord};

/// What the exporter did, per collector: a message sent to two collectors counts twice.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ExporterStats {
    /// Datagrams the kernel took.
    pub messages_sent: u64,
    /// Records in those datagrams.
    pub records_sent: u64,
    /// Datagrams that failed or would have blocked.
    pub send_errors: u64,
    /// Records in those datagrams (and any the encoder could not place).
    pub records_dropped: u64,
}

#[derive(Debug)]
pub struct Exporter {
    encoder: Encoder,
    collectors: Vec<SocketAddr>,
    /// One socket per address family the collectors use, bound to the unspecified address.
    v4: Option<UdpSocket>,
    v6: Option<UdpSocket>,
    template_refresh: Duration,
    /// When the templates last went out; `None` until the first message.
    templates_sent: Option<SystemTime>,
    /// The message being built, reused: one message limit long.
    buf: Vec<u8>,
    stats: ExporterStats,
}

impl Exporter {
    /// An exporter for Observation Domain `observation_domain`, sending to `collectors`
    /// (duplicates ignored). Fails when a socket for their address family cannot be opened.
    pub fn new(
        collectors: Vec<SocketAddr>,
        observation_domain: u32,
        template_refresh: Duration,
    ) -> io::Result<Exporter> {
        let encoder = Encoder::new(observation_domain);
        let mut exporter = Exporter {
            buf: vec![0; encoder.message_limit()],
            encoder,
            collectors: Vec::new(),
            v4: None,
            v6: None,
            template_refresh,
            templates_sent: None,
            stats: ExporterStats::default(),
        };
        exporter.replace_collectors(collectors)?;
        Ok(exporter)
    }

    /// Messages of at most `limit` bytes instead of `DEFAULT_MESSAGE_LIMIT` (for a path MTU
    /// other than 1500; see `Encoder::with_message_limit` for the bounds).
    pub fn with_message_limit(mut self, limit: usize) -> Exporter {
        self.encoder = self.encoder.with_message_limit(limit);
        self.buf = vec![0; self.encoder.message_limit()];
        self
    }

    pub fn collectors(&self) -> &[SocketAddr] {
        &self.collectors
    }

    /// Sends to `collectors` from now on (a reload). A collector not in the previous list
    /// gets the templates at once (everyone does: one refresh timer for all). On error (a
    /// socket for a new address family would not open) nothing changes.
    pub fn set_collectors(
        &mut self,
        collectors: Vec<SocketAddr>,
        now: SystemTime,
    ) -> io::Result<()> {
        let added = collectors.iter().any(|c| !self.collectors.contains(c));
        self.replace_collectors(collectors)?;
        if added {
            self.send_messages(&[], true, now);
        }
        Ok(())
    }

    /// Sends `records`, in as many messages as they need, to every collector, with the
    /// templates first when they are due. Never blocks; what cannot be sent is counted.
    pub fn export(&mut self, records: &[FlowRecord], now: SystemTime) {
        let templates_due = match self.templates_sent {
            None => true,
            // A clock stepped back also sends them: better early than never.
            Some(sent) => now
                .duration_since(sent)
                .map_or(true, |age| age >= self.template_refresh),
        };
        if records.is_empty() && !templates_due {
            return;
        }
        self.send_messages(records, templates_due, now);
    }

    pub fn stats(&self) -> ExporterStats {
        self.stats
    }

    fn replace_collectors(&mut self, wanted: Vec<SocketAddr>) -> io::Result<()> {
        // A collector listed twice would get every message twice.
        let mut collectors: Vec<SocketAddr> = Vec::with_capacity(wanted.len());
        for c in wanted {
            if !collectors.contains(&c) {
                collectors.push(c);
            }
        }
        let wants_v4 = collectors.iter().any(SocketAddr::is_ipv4);
        let wants_v6 = collectors.iter().any(SocketAddr::is_ipv6);
        // Open what is missing before changing anything, so a failure leaves all as it was.
        let new_v4 = match (wants_v4, &self.v4) {
            (true, None) => Some(open((Ipv4Addr::UNSPECIFIED, 0).into())?),
            _ => None,
        };
        let new_v6 = match (wants_v6, &self.v6) {
            (true, None) => Some(open((Ipv6Addr::UNSPECIFIED, 0).into())?),
            _ => None,
        };
        // A family no collector uses any more has its socket closed.
        self.v4 = if wants_v4 {
            new_v4.or(self.v4.take())
        } else {
            None
        };
        self.v6 = if wants_v6 {
            new_v6.or(self.v6.take())
        } else {
            None
        };
        self.collectors = collectors;
        Ok(())
    }

    fn send_messages(&mut self, records: &[FlowRecord], with_templates: bool, now: SystemTime) {
        if self.collectors.is_empty() {
            return;
        }
        let export_time = unix_seconds(now);
        let mut rest = records;
        let mut with_templates = with_templates;
        loop {
            match self
                .encoder
                .encode(rest, with_templates, export_time, &mut self.buf)
            {
                Ok(message) => {
                    self.send(message.len, message.records);
                    rest = rest.get(message.records..).unwrap_or_default();
                }
                Err(e) => {
                    // The buffer is one message limit long, which always holds a record.
                    tracing::error!("IPFIX: cannot encode {} flow records: {e}", rest.len());
                    self.count_dropped(rest.len());
                    return;
                }
            }
            if with_templates {
                self.templates_sent = Some(now);
                with_templates = false;
            }
            if rest.is_empty() {
                return;
            }
        }
    }

    /// Sends the first `len` bytes of the buffer, holding `records` records, to everyone.
    fn send(&mut self, len: usize, records: usize) {
        let Some(message) = self.buf.get(..len) else {
            return;
        };
        let records = u64::try_from(records).unwrap_or(u64::MAX);
        for collector in &self.collectors {
            let socket = if collector.is_ipv4() {
                self.v4.as_ref()
            } else {
                self.v6.as_ref()
            };
            let sent = match socket.map(|s| s.send_to(message, collector)) {
                Some(Ok(n)) => n == len,
                Some(Err(e)) => {
                    tracing::debug!("IPFIX: sending to {collector}: {e}");
                    false
                }
                None => false,
            };
            let stats = &mut self.stats;
            if sent {
                stats.messages_sent = stats.messages_sent.saturating_add(1);
                stats.records_sent = stats.records_sent.saturating_add(records);
            } else {
                stats.send_errors = stats.send_errors.saturating_add(1);
                stats.records_dropped = stats.records_dropped.saturating_add(records);
            }
        }
    }

    fn count_dropped(&mut self, records: usize) {
        let per_collector = u64::try_from(records).unwrap_or(u64::MAX);
        let collectors = u64::try_from(self.collectors.len()).unwrap_or(u64::MAX);
        self.stats.records_dropped = self
            .stats
            .records_dropped
            .saturating_add(per_collector.saturating_mul(collectors));
    }
}

fn open(local: SocketAddr) -> io::Result<UdpSocket> {
    let socket = UdpSocket::bind(local)?;
    socket.set_nonblocking(true)?;
    Ok(socket)
}

/// The message header's export time: Unix seconds, 0 before 1970, saturated after 2106.
fn unix_seconds(t: SystemTime) -> u32 {
    let secs = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    u32::try_from(secs).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::ipfix::{
        self, EndReason, FlowEvent, IPV4_TEMPLATE_ID, IPV6_TEMPLATE_ID, MIN_MESSAGE_LIMIT,
        TEMPLATE_SET_ID,
    };
    use std::net::IpAddr;

    const REFRESH: Duration = Duration::from_secs(60);

    fn record(n: u8) -> FlowRecord {
        FlowRecord {
            event: FlowEvent::Ended(EndReason::IdleTimeout),
            src: IpAddr::V4(Ipv4Addr::new(10, 0, 0, n)),
            dst: IpAddr::V4(Ipv4Addr::new(10, 0, 1, 1)),
            src_port: 1234,
            dst_port: 80,
            protocol: 6,
            src_vni: 100,
            dst_vni: 100,
            src_encap: Default::default(),
            dst_encap: Default::default(),
            vrf: 1,
            rule_id: 3,
            packets: 5,
            bytes: 500,
            reverse_packets: 4,
            reverse_bytes: 4000,
            start_ms: 1_000,
            end_ms: 2_000,
        }
    }

    fn v6_record() -> FlowRecord {
        FlowRecord {
            src: "2001:db8::1".parse().unwrap(),
            dst: "2001:db8::2".parse().unwrap(),
            ..record(0)
        }
    }

    fn collector(local: &str) -> (UdpSocket, SocketAddr) {
        let s = UdpSocket::bind(local).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        let a = s.local_addr().unwrap();
        (s, a)
    }

    /// A received message: its sequence number and the ids of its sets in order.
    #[derive(Debug, PartialEq, Eq)]
    struct Received {
        sequence: u32,
        sets: Vec<u16>,
        export_time: u32,
        domain: u32,
    }

    fn receive(s: &UdpSocket) -> Received {
        let mut buf = [0u8; 65535];
        let n = s.recv(&mut buf).expect("a message");
        let (h, mut sets) = ipfix::parse(&buf[..n]).unwrap();
        assert_eq!(usize::from(h.length()), n);
        let mut ids = Vec::new();
        while !sets.is_empty() {
            let (set, _, rest) = ipfix::parse_set(sets).unwrap();
            ids.push(set.id());
            sets = rest;
        }
        Received {
            sequence: h.sequence(),
            sets: ids,
            export_time: h.export_time(),
            domain: h.observation_domain(),
        }
    }

    fn nothing_more(s: &UdpSocket) {
        s.set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        let mut buf = [0u8; 16];
        assert!(s.recv(&mut buf).is_err(), "no further message");
        s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    }

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_700_000_000 + secs)
    }

    #[test]
    fn templates_lead_the_first_message() {
        let (rx, addr) = collector("127.0.0.1:0");
        let mut e = Exporter::new(vec![addr], 42, REFRESH).unwrap();
        e.export(&[record(1), v6_record()], at(0));
        let m = receive(&rx);
        assert_eq!(
            m,
            Received {
                sequence: 0,
                sets: vec![TEMPLATE_SET_ID, IPV4_TEMPLATE_ID, IPV6_TEMPLATE_ID],
                export_time: 1_700_000_000,
                domain: 42,
            }
        );
        assert_eq!(
            e.stats(),
            ExporterStats {
                messages_sent: 1,
                records_sent: 2,
                ..Default::default()
            }
        );
    }

    #[test]
    fn templates_are_refreshed() {
        let (rx, addr) = collector("127.0.0.1:0");
        let mut e = Exporter::new(vec![addr], 1, REFRESH).unwrap();
        e.export(&[], at(0));
        assert_eq!(
            receive(&rx).sets,
            [TEMPLATE_SET_ID],
            "templates without records"
        );
        e.export(&[], at(10));
        nothing_more(&rx);
        e.export(&[record(1)], at(30));
        let m = receive(&rx);
        assert_eq!((m.sequence, m.sets), (0, vec![IPV4_TEMPLATE_ID]));
        e.export(&[record(2)], at(60));
        let m = receive(&rx);
        assert_eq!(
            (m.sequence, m.sets),
            (1, vec![TEMPLATE_SET_ID, IPV4_TEMPLATE_ID])
        );
        e.export(&[], at(100));
        nothing_more(&rx);
        // A clock stepped back resends them rather than waiting for it to catch up.
        e.export(&[], at(5));
        assert_eq!(receive(&rx).sets, [TEMPLATE_SET_ID]);
    }

    #[test]
    fn a_new_collector_gets_templates_at_once() {
        let (rx1, a1) = collector("127.0.0.1:0");
        let (rx2, a2) = collector("127.0.0.1:0");
        let mut e = Exporter::new(vec![a1], 1, REFRESH).unwrap();
        e.export(&[record(1)], at(0));
        receive(&rx1);
        e.set_collectors(vec![a1, a2, a2], at(1)).unwrap();
        assert_eq!(e.collectors(), [a1, a2], "duplicates dropped");
        assert_eq!(receive(&rx2).sets, [TEMPLATE_SET_ID]);
        assert_eq!(receive(&rx1).sets, [TEMPLATE_SET_ID]);
        e.export(&[record(2)], at(2));
        for rx in [&rx1, &rx2] {
            let m = receive(rx);
            assert_eq!((m.sequence, m.sets), (1, vec![IPV4_TEMPLATE_ID]));
            nothing_more(rx);
        }
        // Removing one sends nothing new.
        e.set_collectors(vec![a2], at(3)).unwrap();
        nothing_more(&rx2);
        e.export(&[record(3)], at(4));
        assert_eq!(receive(&rx2).sequence, 2);
        nothing_more(&rx1);
        assert_eq!(e.stats().messages_sent, 6);
        assert_eq!(e.stats().records_sent, 4);
    }

    #[test]
    fn large_batches_split_with_running_sequence_numbers() {
        let (rx, addr) = collector("127.0.0.1:0");
        let mut e = Exporter::new(vec![addr], 1, REFRESH)
            .unwrap()
            .with_message_limit(MIN_MESSAGE_LIMIT);
        let records: Vec<FlowRecord> = (0..10).map(record).collect();
        e.export(&records, at(0));
        // MIN_MESSAGE_LIMIT: templates and 1 record (v4 records are smaller than the v6
        // ones it is sized for, so 1 still), then (312 - 20) / 88 = 3 a message.
        let sequences: Vec<u32> = (0..4).map(|_| receive(&rx).sequence).collect();
        assert_eq!(sequences, [0, 1, 4, 7]);
        nothing_more(&rx);
        assert_eq!(e.stats().messages_sent, 4);
        assert_eq!(e.stats().records_sent, 10);
    }

    #[test]
    fn ipv6_collectors_get_their_own_socket() {
        let (rx4, a4) = collector("127.0.0.1:0");
        let (rx6, a6) = collector("[::1]:0");
        let mut e = Exporter::new(vec![a4], 1, REFRESH).unwrap();
        assert!(e.v6.is_none());
        e.set_collectors(vec![a4, a6], at(0)).unwrap();
        assert!(e.v6.is_some());
        receive(&rx4);
        receive(&rx6);
        e.export(&[v6_record()], at(1));
        assert_eq!(receive(&rx6).sets, [IPV6_TEMPLATE_ID]);
        assert_eq!(receive(&rx4).sets, [IPV6_TEMPLATE_ID]);
        e.set_collectors(vec![a6], at(2)).unwrap();
        assert!(e.v4.is_none(), "the family no collector uses is closed");
    }

    #[test]
    fn failed_sends_are_counted_not_fatal() {
        let (rx, good) = collector("127.0.0.1:0");
        // Broadcast without SO_BROADCAST: the kernel refuses it (EACCES) every time.
        let refused: SocketAddr = (Ipv4Addr::BROADCAST, 4739).into();
        let mut e = Exporter::new(vec![refused, good], 1, REFRESH).unwrap();
        e.export(&[record(1), record(2)], at(0));
        assert_eq!(receive(&rx).sets, [TEMPLATE_SET_ID, IPV4_TEMPLATE_ID]);
        assert_eq!(
            e.stats(),
            ExporterStats {
                messages_sent: 1,
                records_sent: 2,
                send_errors: 1,
                records_dropped: 2,
            }
        );
    }

    #[test]
    fn without_collectors_nothing_happens() {
        let mut e = Exporter::new(Vec::new(), 1, REFRESH).unwrap();
        e.export(&[record(1)], at(0));
        assert_eq!(e.stats(), ExporterStats::default());
        assert!(e.v4.is_none() && e.v6.is_none());
    }

    #[test]
    fn export_time_bounds() {
        assert_eq!(unix_seconds(UNIX_EPOCH - Duration::from_secs(1)), 0);
        assert_eq!(
            unix_seconds(UNIX_EPOCH + Duration::from_secs(1 << 33)),
            u32::MAX
        );
    }
}
