//! Crafted traffic for black-box tests: runs the scapy scenario generators in tests/traffic/
//! and decodes vtepd's output. Owned by the pcap black-box tests.
//!
//! A scenario writes the captures the ports replay (`underlay.pcap`, `access1.pcap`,
//! `access2.pcap`), the frames expected out where they can be written byte for byte
//! (`expect-*.pcap`) and `expect.json`. [`run_gateway`] replays them through vtepd once and
//! checks the accounting every gateway run must satisfy ([`assert_accounting`]).

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::Command;

use etherparse::{Ethernet2Header, Ipv4Header, Ipv6Header, UdpHeader};
use serde_json::Value;

use super::{read_pcap, write_pcap, Outcome, Scratch, Vtepd};

/// Debian's Python, which has scapy (the `python3` on PATH may not).
pub const PYTHON: &str = "/usr/bin/python3";
/// What `--exit-when-idle` is given: the run ends this long after the last packet.
pub const IDLE_MS: u64 = 300;

/// The addresses every scenario uses (tests/traffic/scenarios.py).
pub const VTEP4: &str = "10.0.0.1";
pub const VTEP6: &str = "fd00::1";
pub const NEXT_HOP_MAC: &str = "02:00:00:00:00:fe";

/// Input captures, by port: net_pcap0 is the underlay, net_pcapN the Nth access port.
pub const INPUTS: [&str; 4] = [
    "underlay.pcap",
    "access1.pcap",
    "access2.pcap",
    "access3.pcap",
];

fn scenarios_py() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/traffic/scenarios.py")
}

/// Runs scenario `name` of tests/traffic/scenarios.py into `dir`; returns its expect.json
/// (Null when it writes none).
pub fn scenario(name: &str, dir: &Path) -> Value {
    let out = Command::new(PYTHON)
        .arg(scenarios_py())
        .arg(name)
        .arg(dir)
        .output()
        .unwrap_or_else(|e| panic!("run {PYTHON}: {e}"));
    assert!(
        out.status.success(),
        "scenario {name} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    match std::fs::read_to_string(dir.join("expect.json")) {
        Ok(t) => serde_json::from_str(&t).unwrap(),
        Err(_) => Value::Null,
    }
}

/// One finished gateway run.
#[derive(Debug)]
pub struct GatewayRun {
    pub outcome: Outcome,
    pub report: Value,
    dir: PathBuf,
}

impl GatewayRun {
    /// Where port `port` wrote what it sent.
    pub fn output_path(&self, port: usize) -> PathBuf {
        self.dir.join(format!("out{port}.pcap"))
    }

    /// Every frame port `port` sent, in order.
    pub fn output(&self, port: usize) -> Vec<Vec<u8>> {
        read_pcap(&self.output_path(port))
    }

    /// The MAC net_pcap gave port `port`.
    pub fn port_mac(&self, port: usize) -> [u8; 6] {
        mac(self.report["ports"][port]["mac"].as_str().unwrap())
    }

    pub fn gateway(&self) -> &Value {
        &self.report["gateway"]
    }

    /// A per-VNI counter.
    pub fn vni(&self, id: u64, counter: &str) -> u64 {
        let vnis = self.gateway()["vnis"].as_array().unwrap();
        let v = vnis
            .iter()
            .find(|v| v["id"].as_u64() == Some(id))
            .unwrap_or_else(|| panic!("no VNI {id} in the report"));
        v[counter]
            .as_u64()
            .unwrap_or_else(|| panic!("no counter {counter} for VNI {id}"))
    }

    /// A counter of `gateway.local`.
    pub fn local(&self, counter: &str) -> u64 {
        self.gateway()["local"][counter].as_u64().unwrap()
    }

    pub fn replicas(&self) -> u64 {
        self.gateway()["replicas"].as_u64().unwrap()
    }

    pub fn generated(&self) -> u64 {
        self.gateway()["generated"].as_u64().unwrap()
    }

    pub fn port_counter(&self, port: usize, counter: &str) -> u64 {
        self.report["ports"][port][counter].as_u64().unwrap()
    }

    pub fn drop_count(&self, reason: &str) -> u64 {
        self.outcome.drop_count(reason)
    }

    /// Asserts the drop counters are exactly `expected`, every other reason zero.
    pub fn assert_drops(&self, expected: &BTreeMap<String, u64>) {
        let drops = self.report["drops"].as_object().unwrap();
        for name in expected.keys() {
            assert!(drops.contains_key(name), "no drop reason {name:?}");
        }
        let actual: BTreeMap<String, u64> = drops
            .iter()
            .map(|(k, v)| (k.clone(), v.as_u64().unwrap()))
            .filter(|(k, v)| *v != 0 || expected.contains_key(k))
            .collect();
        assert_eq!(&actual, expected, "drop counters");
    }
}

/// `expect.json`'s `drops` object as a map.
pub fn expected_drops(expect: &Value) -> BTreeMap<String, u64> {
    expect["drops"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_u64().unwrap()))
                .collect()
        })
        .unwrap_or_default()
}

/// Runs vtepd once in gateway mode with `config` on `ports` net_pcap devices: port i replays
/// `INPUTS[i]` from `s` (an empty capture if the scenario wrote none) and writes what it sends
/// to `out{i}.pcap`. Asserts a clean exit and [`assert_accounting`].
pub fn run_gateway(s: &Scratch, config: &str, ports: usize) -> GatewayRun {
    let mut v = Vtepd::new(s, config);
    for (i, input) in INPUTS.iter().enumerate().take(ports) {
        let rx = s.path(input);
        if !rx.exists() {
            write_pcap(&rx, &[]);
        }
        v = v.vdev(format!(
            "net_pcap{i},rx_pcap={},tx_pcap={}",
            rx.display(),
            s.path(&format!("out{i}.pcap")).display()
        ));
    }
    let outcome = v.run_until_idle(IDLE_MS);
    outcome.assert_success();
    let report = outcome
        .report
        .clone()
        .unwrap_or_else(|| panic!("no final stats\nstderr:\n{}", outcome.stderr));
    assert_accounting(&report);
    GatewayRun {
        outcome,
        report,
        dir: s.dir.path().to_path_buf(),
    }
}

/// What every gateway run must satisfy: no mbuf leaked, and every packet accounted for —
/// received + replicas + generated = sent + dropped + absorbed.
pub fn assert_accounting(report: &Value) {
    super::balance::assert_no_mbuf_leak(report);
    super::balance::assert_counters_balance(report);
}

// --- addresses ------------------------------------------------------------------------------

pub fn mac(s: &str) -> [u8; 6] {
    let v: Vec<u8> = s
        .split(':')
        .map(|b| u8::from_str_radix(b, 16).unwrap())
        .collect();
    v.try_into().unwrap()
}

pub fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

// --- decoding -------------------------------------------------------------------------------

/// The outer IP header of a tunnel packet.
#[derive(Debug, Clone)]
pub enum OuterIp {
    V4(Ipv4Header),
    V6(Ipv6Header),
}

/// VXLAN (with its UDP header) or NVGRE: the 8 bytes in front of the inner frame, raw.
#[derive(Debug, Clone)]
pub enum TunnelHeader {
    Vxlan { udp: UdpHeader, vxlan: [u8; 8] },
    Nvgre { gre: [u8; 8] },
}

/// A VXLAN or NVGRE packet taken apart with etherparse.
#[derive(Debug, Clone)]
pub struct Encapsulated {
    pub eth: Ethernet2Header,
    pub ip: OuterIp,
    /// The outer IP payload, as long as the IP header says.
    pub ip_payload: Vec<u8>,
    pub tunnel: TunnelHeader,
    pub inner: Vec<u8>,
    /// The whole frame's length.
    pub frame_len: usize,
}

impl Encapsulated {
    /// Parses `frame`; None when it is not an untagged IPv4/IPv6 UDP or GRE packet.
    pub fn parse(frame: &[u8]) -> Option<Encapsulated> {
        let (eth, rest) = Ethernet2Header::from_slice(frame).ok()?;
        let (ip, payload, proto) = match eth.ether_type {
            etherparse::EtherType::IPV4 => {
                let (h, _) = Ipv4Header::from_slice(rest).ok()?;
                let total = usize::from(h.total_len);
                let payload = rest.get(h.header_len()..total)?.to_vec();
                let proto = h.protocol.0;
                (OuterIp::V4(h), payload, proto)
            }
            etherparse::EtherType::IPV6 => {
                let (h, after) = Ipv6Header::from_slice(rest).ok()?;
                let payload = after.get(..usize::from(h.payload_length))?.to_vec();
                let proto = h.next_header.0;
                (OuterIp::V6(h), payload, proto)
            }
            _ => return None,
        };
        let (tunnel, inner) = match proto {
            17 => {
                let (udp, after) = UdpHeader::from_slice(&payload).ok()?;
                let len = usize::from(udp.length).checked_sub(8)?;
                let body = after.get(..len)?;
                let vxlan: [u8; 8] = body.get(..8)?.try_into().ok()?;
                (TunnelHeader::Vxlan { udp, vxlan }, body[8..].to_vec())
            }
            47 => {
                let gre: [u8; 8] = payload.get(..8)?.try_into().ok()?;
                (TunnelHeader::Nvgre { gre }, payload[8..].to_vec())
            }
            _ => return None,
        };
        Some(Encapsulated {
            eth,
            ip,
            ip_payload: payload,
            tunnel,
            inner,
            frame_len: frame.len(),
        })
    }

    /// Parses `frame`, panicking with a description if it is not a tunnel packet.
    pub fn of(frame: &[u8]) -> Encapsulated {
        Encapsulated::parse(frame)
            .unwrap_or_else(|| panic!("not a VXLAN/NVGRE packet: {:02x?}", frame))
    }

    pub fn is_vxlan(&self) -> bool {
        matches!(self.tunnel, TunnelHeader::Vxlan { .. })
    }

    /// The VNI (VXLAN) or VSID (NVGRE).
    pub fn vni(&self) -> u32 {
        match &self.tunnel {
            TunnelHeader::Vxlan { vxlan, .. } => {
                u32::from_be_bytes([0, vxlan[4], vxlan[5], vxlan[6]])
            }
            TunnelHeader::Nvgre { gre } => u32::from_be_bytes([0, gre[4], gre[5], gre[6]]),
        }
    }

    pub fn udp(&self) -> &UdpHeader {
        match &self.tunnel {
            TunnelHeader::Vxlan { udp, .. } => udp,
            TunnelHeader::Nvgre { .. } => panic!("NVGRE has no UDP header"),
        }
    }

    pub fn src_ip(&self) -> IpAddr {
        match &self.ip {
            OuterIp::V4(h) => IpAddr::from(h.source),
            OuterIp::V6(h) => IpAddr::from(h.source),
        }
    }

    pub fn dst_ip(&self) -> IpAddr {
        match &self.ip {
            OuterIp::V4(h) => IpAddr::from(h.destination),
            OuterIp::V6(h) => IpAddr::from(h.destination),
        }
    }

    /// The outer DSCP/ECN byte (IPv4 TOS or IPv6 traffic class).
    pub fn tos(&self) -> u8 {
        match &self.ip {
            OuterIp::V4(h) => h.dscp.value() << 2 | h.ecn.value(),
            OuterIp::V6(h) => h.traffic_class,
        }
    }

    /// TTL or hop limit.
    pub fn ttl(&self) -> u8 {
        match &self.ip {
            OuterIp::V4(h) => h.time_to_live,
            OuterIp::V6(h) => h.hop_limit,
        }
    }

    /// The outer IP packet's length (header included).
    pub fn ip_len(&self) -> usize {
        match &self.ip {
            OuterIp::V4(h) => usize::from(h.total_len),
            OuterIp::V6(h) => 40 + usize::from(h.payload_length),
        }
    }

    /// The entropy a flow's packets share: the VXLAN UDP source port, else the NVGRE FlowID.
    pub fn entropy(&self) -> u32 {
        match &self.tunnel {
            TunnelHeader::Vxlan { udp, .. } => u32::from(udp.source_port),
            TunnelHeader::Nvgre { gre } => u32::from(gre[7]),
        }
    }

    /// Asserts the outer IPv4 header is a VTEP's: version 4, no options, DF, not a fragment,
    /// total length matching the frame, valid checksum.
    pub fn assert_ipv4_header_valid(&self) {
        let OuterIp::V4(h) = &self.ip else {
            panic!("outer header is not IPv4")
        };
        assert_eq!(h.header_len(), 20, "no IPv4 options");
        assert!(h.dont_fragment, "DF set");
        assert!(!h.more_fragments, "MF clear");
        assert_eq!(h.fragment_offset.value(), 0, "fragment offset");
        assert_eq!(
            usize::from(h.total_len),
            self.frame_len - 14,
            "total length"
        );
        assert_eq!(
            h.header_checksum,
            h.calc_header_checksum(),
            "outer IPv4 header checksum"
        );
    }

    /// Asserts the VXLAN/IPv6 UDP checksum is present and correct.
    pub fn assert_udp6_checksum_valid(&self) {
        let OuterIp::V6(h) = &self.ip else {
            panic!("outer header is not IPv6")
        };
        let udp = self.udp();
        assert_ne!(udp.checksum, 0, "UDP over IPv6 needs a checksum");
        let expected = udp.calc_checksum_ipv6(h, &self.ip_payload[8..]).unwrap();
        assert_eq!(udp.checksum, expected, "outer UDP checksum");
    }
}

/// Distinct values.
pub fn distinct<T: Ord + Clone>(values: impl IntoIterator<Item = T>) -> BTreeSet<T> {
    values.into_iter().collect()
}

// --- tshark ---------------------------------------------------------------------------------

/// Field values of every packet in `pcap` as Wireshark's dissectors see them, checksum
/// verification on (a `*.checksum.status` field is 1 for good, 0 for bad, 3 for absent).
/// Multiple occurrences of a field (outer and inner headers) are comma-separated. `decode_as`
/// are `-d` rules such as `udp.port==8472,vxlan`.
pub fn tshark_fields(pcap: &Path, decode_as: &[&str], fields: &[&str]) -> Vec<Vec<String>> {
    let mut c = Command::new("tshark");
    c.arg("-n").arg("-r").arg(pcap).args(["-T", "fields"]);
    for o in [
        "ip.check_checksum:TRUE",
        "udp.check_checksum:TRUE",
        "tcp.check_checksum:TRUE",
    ] {
        c.args(["-o", o]);
    }
    for d in decode_as {
        c.args(["-d", d]);
    }
    for f in fields {
        c.args(["-e", f]);
    }
    let out = c.output().unwrap_or_else(|e| panic!("run tshark: {e}"));
    assert!(
        out.status.success(),
        "tshark failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| l.split('\t').map(str::to_owned).collect())
        .collect()
}
