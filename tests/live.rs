//! Ordered scenarios a pcap replay cannot order: traffic injected step by step, in time, and
//! vtepd's behaviour checked after each step.
//!
//! vtepd runs in a network namespace; each of its ports is a `net_pcap` device reading a veth
//! (`rx_iface_in`) and writing what it transmits to a pcap file (`tx_pcap`, flushed after
//! every burst). Frames are built here, byte for byte, and put on the veth's other end by
//! tests/traffic/live/inject.py (an AF_PACKET socket). Every probe carries a unique token in
//! its payload (ARP: in the Ethernet padding; a neighbour solicitation vtepd should answer:
//! as the requester's address, which the advertisement is sent to), so each of its copies is
//! found in the outputs whatever else is there: "unicast, not flooded" is "exactly one copy,
//! on that port".
//!
//! Table changes reach the workers asynchronously (worker → management thread → every
//! worker), so a step that depends on one retries its probe until the change shows (bounded,
//! generous for a loaded machine); the final counters then say exactly what happened.
//!
//! Needs root and iproute2; skipped (with a message) without them.

mod common;

use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use common::netns::{self, read_pcap_lenient, veth, wait_until, Netns, PYTHON};
use common::{serial, Outcome, Running, Scratch, Vtepd};
use etherparse::PacketBuilder;

type Mac = [u8; 6];

/// The MAC DPDK's pcap driver gives port 0 (the underlay): 02:70:63:61:70 ("pcap") + port id.
const VTEPD_MAC: Mac = [0x02, 0x70, 0x63, 0x61, 0x70, 0x00];
const NEXT_HOP_MAC: Mac = [0x02, 0, 0, 0, 0, 0xfe];
const BROADCAST: Mac = [0xff; 6];
const LOCAL: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const R2: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
const R3: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 3);
const VNI: u32 = 5000;

const UNDERLAY: usize = 0;
const ACC1: usize = 1;
const ACC2: usize = 2;

/// After a probe's first copy shows up, how long its other copies (if any) may still take.
const SETTLE: Duration = Duration::from_millis(250);
/// How long a probe that should be dropped gets to show up anyway.
const QUIET: Duration = Duration::from_millis(600);
/// The longest wait for anything that must happen.
const LIMIT: Duration = Duration::from_secs(10);
/// Pause between two attempts of a step waiting for a table change.
const RETRY: Duration = Duration::from_millis(100);

fn station(n: u8) -> Mac {
    [0x02, 0, 0, 0, 0x01, n]
}

// --- the lab ------------------------------------------------------------------------------

/// vtepd in a namespace with veth pairs `und`/`und-p`, `acc1`/`acc1-p`, ...: vtepd's port i
/// reads the first and writes to `outputs[i]`; tests inject on the `-p` end. With more than
/// one worker, every port has a veth pair per RX queue (`und`, `undq1`, ...: queue q is
/// worker q's) and a TX file per worker.
struct Lab {
    // Fields drop in order: vtepd first, then its namespace, then the files.
    vtepd: Option<Running>,
    ns: Netns,
    /// `peers[port][queue]`: where to inject for that port's RX queue.
    peers: Vec<Vec<String>>,
    /// `outputs[port]`: what each of that port's TX queues wrote.
    outputs: Vec<Vec<PathBuf>>,
    _scratch: Scratch,
}

/// One copy of a probe that left vtepd.
#[derive(Debug, Clone)]
struct Copy {
    port: usize,
    frame: Vec<u8>,
}

impl Lab {
    /// vtepd with the underlay and `access` access ports; `config` names them `net_pcap0`
    /// (underlay), `net_pcap1`, ...
    fn start(config: &str, access: usize) -> Lab {
        Lab::start_workers(config, access, 1)
    }

    /// As `start`, with `workers` workers (all on CPU 1: this machine may have two cores).
    fn start_workers(config: &str, access: usize, workers: usize) -> Lab {
        let scratch = Scratch::new();
        let ns = Netns::new();
        let mut v = Vtepd::new(&scratch, config);
        if workers > 1 {
            let map: Vec<String> = (1..=workers).map(|w| format!("{w}@1")).collect();
            v = v.lcores(&format!("0@0,{}", map.join(",")));
        }
        let mut peers = Vec::new();
        let mut outputs = Vec::new();
        let names =
            std::iter::once("und".to_owned()).chain((1..=access).map(|i| format!("acc{i}")));
        for (i, name) in names.enumerate() {
            let mut spec = format!("net_pcap{i}");
            let (mut port_peers, mut port_outputs) = (Vec::new(), Vec::new());
            for q in 0..workers {
                let iface = if q == 0 {
                    name.clone()
                } else {
                    format!("{name}q{q}")
                };
                let peer = format!("{iface}-p");
                veth(&ns, &iface, &ns, &peer);
                ns.quiet_up(&iface);
                ns.quiet_up(&peer);
                let out = scratch.path(&format!("{name}-tx{q}.pcap"));
                spec.push_str(&format!(",rx_iface_in={iface},tx_pcap={}", out.display()));
                port_peers.push(peer);
                port_outputs.push(out);
            }
            v = v.vdev(spec);
            peers.push(port_peers);
            outputs.push(port_outputs);
        }
        let vtepd = ns.vtepd(v);
        Lab {
            vtepd: Some(vtepd),
            ns,
            peers,
            outputs,
            _scratch: scratch,
        }
    }

    /// Puts `frames` on the wire to vtepd's port `port`, in order.
    fn send(&self, port: usize, frames: &[Vec<u8>]) {
        self.send_on(port, 0, frames);
    }

    /// Puts `frames` on the wire to RX queue `queue` of vtepd's port `port`, in order.
    fn send_on(&self, port: usize, queue: usize, frames: &[Vec<u8>]) {
        let args = inject_args(&self.peers[port][queue], &[], frames);
        self.ns
            .ok(&args.iter().map(String::as_str).collect::<Vec<_>>());
    }

    /// Sends `frames` to port `port` in the background, `interval_ms` apart.
    fn stream(&self, port: usize, interval_ms: u32, frames: &[Vec<u8>]) -> netns::Bg {
        let interval = interval_ms.to_string();
        let args = inject_args(&self.peers[port][0], &["--interval", &interval], frames);
        self.ns
            .spawn(&args.iter().map(String::as_str).collect::<Vec<_>>())
    }

    /// Every frame vtepd has sent so far on `port` (queue by queue).
    fn output(&self, port: usize) -> Vec<Vec<u8>> {
        self.outputs[port]
            .iter()
            .flat_map(|f| read_pcap_lenient(f))
            .collect()
    }

    /// Every copy of the frame carrying `token` that vtepd sent, on any port.
    fn copies(&self, token: &[u8]) -> Vec<Copy> {
        (0..self.outputs.len())
            .flat_map(|port| {
                self.output(port)
                    .into_iter()
                    .filter(|f| contains(f, token))
                    .map(move |frame| Copy { port, frame })
            })
            .collect()
    }

    /// Sends one frame carrying `token` and returns its copies, once the first one is out
    /// and the others had time to follow.
    fn probe(&self, port: usize, frame: Vec<u8>, token: &[u8]) -> Vec<Copy> {
        self.probe_on(port, 0, frame, token)
    }

    /// `probe` through RX queue `queue` of `port` (worker `queue`'s).
    fn probe_on(&self, port: usize, queue: usize, frame: Vec<u8>, token: &[u8]) -> Vec<Copy> {
        self.send_on(port, queue, &[frame]);
        wait_until(LIMIT, Duration::from_millis(10), || {
            !self.copies(token).is_empty()
        });
        std::thread::sleep(SETTLE);
        self.copies(token)
    }

    /// Sends one frame carrying `token` that should go nowhere; its copies after a while.
    fn probe_dropped(&self, port: usize, frame: Vec<u8>, token: &[u8]) -> Vec<Copy> {
        self.send(port, &[frame]);
        std::thread::sleep(QUIET);
        self.copies(token)
    }

    /// Repeats `attempt` (given a fresh token each time) until `accept` holds for its
    /// copies; returns that token and those copies. For steps that wait on a table change.
    fn eventually(
        &self,
        what: &str,
        mut attempt: impl FnMut(&[u8]) -> Vec<Copy>,
        accept: impl Fn(&[Copy]) -> bool,
    ) -> (Vec<u8>, Vec<Copy>) {
        let start = std::time::Instant::now();
        let mut tries = Vec::new();
        loop {
            let t = token();
            let c = attempt(&t);
            if accept(&c) {
                if !tries.is_empty() {
                    eprintln!("{what}: after {} earlier tries {tries:?}", tries.len());
                }
                return (t, c);
            }
            tries.push(ports(&c));
            assert!(
                start.elapsed() < LIMIT * 2,
                "{what}: never happened; copies per try (by port): {tries:?}"
            );
            std::thread::sleep(RETRY);
        }
    }

    /// Stops vtepd and returns its outcome, checked for a clean exit without leaks.
    fn stop(mut self) -> Outcome {
        let out = self.vtepd.take().expect("running").stop();
        out.assert_success();
        let r = out.report.as_ref().expect("final stats written");
        assert_eq!(r["mempool"]["in_use_at_exit"], 0, "mbuf leak: {r:#}");
        out
    }
}

/// The injector's command line: `frames` onto interface `peer`, after `options`.
fn inject_args(peer: &str, options: &[&str], frames: &[Vec<u8>]) -> Vec<String> {
    let script = format!(
        "{}/tests/traffic/live/inject.py",
        env!("CARGO_MANIFEST_DIR")
    );
    let mut args = vec![PYTHON.to_owned(), script, peer.to_owned()];
    args.extend(options.iter().map(|o| (*o).to_owned()));
    args.extend(frames.iter().map(|f| to_hex(f)));
    args
}

fn to_hex(f: &[u8]) -> String {
    f.iter().map(|b| format!("{b:02x}")).collect()
}

fn contains(frame: &[u8], token: &[u8]) -> bool {
    frame.windows(token.len()).any(|w| w == token)
}

/// A token unique in this process (16 bytes).
fn token() -> Vec<u8> {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    format!(
        "tok{:07}{:06}",
        std::process::id() % 10_000_000,
        NEXT.fetch_add(1, Ordering::SeqCst)
    )
    .into_bytes()
}

/// The ports the copies went out on, sorted.
fn ports(c: &[Copy]) -> Vec<usize> {
    let mut p: Vec<usize> = c.iter().map(|c| c.port).collect();
    p.sort_unstable();
    p
}

fn stat(out: &Outcome, path: &[&str]) -> u64 {
    let r = out.report.as_ref().expect("report");
    let mut cur = r;
    for p in path {
        cur = match p.parse::<usize>() {
            Ok(i) => &cur[i],
            Err(_) => &cur[*p],
        };
    }
    cur.as_u64()
        .unwrap_or_else(|| panic!("no counter {path:?} in {r:#}"))
}

fn tables(out: &Outcome, key: &str) -> u64 {
    stat(out, &["gateway", "tables", key])
}

// --- frames -------------------------------------------------------------------------------

fn pad(mut f: Vec<u8>) -> Vec<u8> {
    if f.len() < 60 {
        f.resize(60, 0);
    }
    f
}

/// A tenant IPv4/UDP frame carrying `token`.
fn tenant(src: Mac, dst: Mac, token: &[u8]) -> Vec<u8> {
    let mut f = Vec::new();
    PacketBuilder::ethernet2(src, dst)
        .ipv4([192, 168, 1, 1], [192, 168, 1, 2], 64)
        .udp(1000, 2000)
        .write(&mut f, token)
        .expect("build frame");
    pad(f)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Arp {
    op: u16,
    sender_mac: Mac,
    sender_ip: Ipv4Addr,
    target_mac: Mac,
    target_ip: Ipv4Addr,
}

/// An ARP frame with `token` in its Ethernet padding.
fn arp_frame(eth_src: Mac, eth_dst: Mac, a: Arp, token: &[u8]) -> Vec<u8> {
    let mut f = Vec::with_capacity(64);
    f.extend_from_slice(&eth_dst);
    f.extend_from_slice(&eth_src);
    f.extend_from_slice(&[0x08, 0x06, 0x00, 0x01, 0x08, 0x00, 6, 4]);
    f.extend_from_slice(&a.op.to_be_bytes());
    f.extend_from_slice(&a.sender_mac);
    f.extend_from_slice(&a.sender_ip.octets());
    f.extend_from_slice(&a.target_mac);
    f.extend_from_slice(&a.target_ip.octets());
    f.extend_from_slice(token);
    pad(f)
}

fn parse_arp(f: &[u8]) -> Option<Arp> {
    if f.get(12..20)? != [0x08, 0x06, 0x00, 0x01, 0x08, 0x00, 6, 4] {
        return None;
    }
    let mac = |at: usize| -> Option<Mac> { f.get(at..at + 6)?.try_into().ok() };
    let ip = |at: usize| -> Option<Ipv4Addr> {
        let b: [u8; 4] = f.get(at..at + 4)?.try_into().ok()?;
        Some(Ipv4Addr::from(b))
    };
    Some(Arp {
        op: u16::from_be_bytes(f.get(20..22)?.try_into().ok()?),
        sender_mac: mac(22)?,
        sender_ip: ip(28)?,
        target_mac: mac(32)?,
        target_ip: ip(38)?,
    })
}

/// `inner` in VXLAN (VNI 5000) from remote VTEP `remote` to vtepd.
fn vxlan_from(remote: Ipv4Addr, inner: &[u8]) -> Vec<u8> {
    let [_, _, c, d] = remote.octets();
    let mut payload = vec![0x08, 0, 0, 0];
    payload.extend_from_slice(&(VNI << 8).to_be_bytes());
    payload.extend_from_slice(inner);
    let mut f = Vec::new();
    PacketBuilder::ethernet2([0x02, 0, 0, 0xee, c, d], VTEPD_MAC)
        .ipv4(remote.octets(), LOCAL.octets(), 64)
        .udp(50000 + u16::from(d), 4789)
        .write(&mut f, &payload)
        .expect("build frame");
    f
}

/// A VXLAN packet vtepd sent, decoded (and its outer IPv4 header checked).
#[derive(Debug)]
struct Vxlan {
    src_mac: Mac,
    dst_mac: Mac,
    src: Ipv4Addr,
    dst: Ipv4Addr,
    vni: u32,
    inner: Vec<u8>,
}

fn parse_vxlan(f: &[u8]) -> Option<Vxlan> {
    if f.get(12..14)? != [0x08, 0x00] {
        return None;
    }
    let ihl = usize::from(f.get(14)? & 0x0f) * 4;
    let ip = f.get(14..14 + ihl)?;
    let sum = ip
        .chunks(2)
        .map(|w| u32::from(u16::from_be_bytes([w[0], *w.get(1).unwrap_or(&0)])))
        .sum::<u32>();
    let folded = (sum & 0xffff) + (sum >> 16);
    assert_eq!(
        (folded & 0xffff) + (folded >> 16),
        0xffff,
        "bad outer IPv4 checksum"
    );
    if *ip.get(9)? != 17 {
        return None;
    }
    let udp = 14 + ihl;
    if f.get(udp + 2..udp + 4)? != 4789u16.to_be_bytes() {
        return None;
    }
    let vx = f.get(udp + 8..udp + 16)?;
    if vx.first()? & 0x08 == 0 {
        return None;
    }
    let addr = |at: usize| -> Option<Ipv4Addr> {
        let b: [u8; 4] = ip.get(at..at + 4)?.try_into().ok()?;
        Some(Ipv4Addr::from(b))
    };
    Some(Vxlan {
        dst_mac: f.get(0..6)?.try_into().ok()?,
        src_mac: f.get(6..12)?.try_into().ok()?,
        src: addr(12)?,
        dst: addr(16)?,
        vni: u32::from_be_bytes([0, *vx.get(4)?, *vx.get(5)?, *vx.get(6)?]),
        inner: f.get(udp + 16..)?.to_vec(),
    })
}

/// The one copy of a probe, which went out encapsulated to `remote`: its decoded packet.
fn single_vxlan_to(c: &[Copy], remote: Ipv4Addr, next_hop: Mac) -> Vxlan {
    assert_eq!(ports(c), [UNDERLAY], "one copy, to the underlay: {c:?}");
    let v = parse_vxlan(&c[0].frame).expect("a VXLAN packet");
    assert_eq!(v.dst, remote, "outer destination");
    assert_eq!(v.src, LOCAL, "outer source");
    assert_eq!(v.dst_mac, next_hop, "outer destination MAC");
    assert_eq!(v.src_mac, VTEPD_MAC, "outer source MAC");
    assert_eq!(v.vni, VNI);
    v
}

fn is_single_vxlan_to(c: &[Copy], remote: Ipv4Addr) -> bool {
    ports(c) == [UNDERLAY] && parse_vxlan(&c[0].frame).is_some_and(|v| v.dst == remote)
}

// --- configurations -----------------------------------------------------------------------

/// Underlay with a fixed next-hop MAC, two access ports, VNI 5000 flooding to 10.0.0.2 and
/// 10.0.0.3; `vni_extra` goes into the `[[vni]]` table, `tail` after it.
fn config(vni_extra: &str, tail: &str) -> String {
    format!(
        r#"
[underlay]
port = "net_pcap0"
addresses = ["10.0.0.1/24"]
next_hop_mac = "02:00:00:00:00:fe"

[[access]]
port = "net_pcap1"
untagged_vni = 5000

[[access]]
port = "net_pcap2"
untagged_vni = 5000

[[vni]]
id = 5000
flood = ["10.0.0.2", "10.0.0.3"]
{vni_extra}

{tail}
"#
    )
}

fn mac_text(m: Mac) -> String {
    m.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// A frame from `x` on access port 1 to an unknown MAC: flooded, and `x` learned.
fn learn_on_acc1(lab: &Lab, x: Mac) {
    let t = token();
    let c = lab.probe(ACC1, tenant(x, station(0xff), &t), &t);
    assert_flooded_from_access(&c, ACC2);
}

/// Flooded from an access port: a copy on the other access port and one to each VTEP of
/// the flood list.
fn assert_flooded_from_access(c: &[Copy], other: usize) {
    assert_eq!(ports(c), [UNDERLAY, UNDERLAY, other], "flooded: {c:?}");
    let mut dsts: Vec<Ipv4Addr> = c
        .iter()
        .filter(|c| c.port == UNDERLAY)
        .map(|c| parse_vxlan(&c.frame).expect("VXLAN").dst)
        .collect();
    dsts.sort();
    assert_eq!(dsts, [R2, R3], "head-end replication to the flood list");
}

// --- scenarios ----------------------------------------------------------------------------

/// A MAC learned on an access port: VXLAN traffic to it is then delivered to that port
/// alone, decapsulated byte for byte (before, it was flooded to both access ports).
#[test]
fn learned_access_mac_gets_unicast_from_the_underlay() {
    if !netns::capable(&[PYTHON]) {
        return;
    }
    let _slot = serial();
    let lab = Lab::start(&config("", ""), 2);
    let (x, h) = (station(0x0a), station(0x21));
    learn_on_acc1(&lab, x);
    let (t, c) = lab.eventually(
        "VXLAN from 10.0.0.2 to the learned MAC delivered to its port only",
        |t| lab.probe(UNDERLAY, vxlan_from(R2, &tenant(h, x, t)), t),
        |c| ports(c) == [ACC1],
    );
    assert_eq!(c[0].frame, tenant(h, x, &t), "decapsulated frame");
    let out = lab.stop();
    // x behind access port 1, h behind 10.0.0.2.
    assert_eq!(tables(&out, "learned"), 2, "{}", out.stdout);
    assert_eq!(tables(&out, "moved"), 0);
    assert_eq!(stat(&out, &["gateway", "vnis", "0", "macs"]), 2);
    assert_eq!(stat(&out, &["totals", "dropped"]), 0, "{}", out.stdout);
}

/// A MAC learned behind a remote VTEP that is not in the flood list: access traffic to it is
/// then encapsulated to that VTEP alone (before, it would have been flooded).
#[test]
fn learned_remote_mac_gets_unicast_to_its_vtep() {
    if !netns::capable(&[PYTHON]) {
        return;
    }
    let _slot = serial();
    let lab = Lab::start(&config("", ""), 2);
    let r4 = Ipv4Addr::new(10, 0, 0, 4);
    let (y, x) = (station(0x31), station(0x0b));
    let t = token();
    let c = lab.probe(UNDERLAY, vxlan_from(r4, &tenant(y, BROADCAST, &t)), &t);
    assert_eq!(
        ports(&c),
        [ACC1, ACC2],
        "a broadcast from the underlay goes to every access port, never back: {c:?}"
    );
    let (t, c) = lab.eventually(
        "access traffic to the remote MAC encapsulated to 10.0.0.4 only",
        |t| lab.probe(ACC1, tenant(x, y, t), t),
        |c| is_single_vxlan_to(c, r4),
    );
    let v = single_vxlan_to(&c, r4, NEXT_HOP_MAC);
    assert_eq!(v.inner, tenant(x, y, &t), "encapsulated frame");
    let out = lab.stop();
    assert_eq!(tables(&out, "learned"), 2, "{}", out.stdout);
    assert_eq!(stat(&out, &["totals", "dropped"]), 0, "{}", out.stdout);
}

/// Two workers, each polling its own RX queue of every port: what one learns reaches the
/// other through the management thread. Worker 0 learns `x` on access port 1, then worker
/// 1 delivers VXLAN traffic to `x` to that port alone (and learns `h` behind 10.0.0.2 from
/// it), then worker 0 encapsulates traffic to `h` to 10.0.0.2 alone. Each worker counted
/// exactly the frames put on its queues, and the report adds both up.
#[test]
fn two_workers_forward_by_what_the_other_learned() {
    if !netns::capable(&[PYTHON]) {
        return;
    }
    let _slot = serial();
    let lab = Lab::start_workers(&config("", ""), 2, 2);
    let (x, h, y) = (station(0x0c), station(0x22), station(0x0d));
    let mut sent = [0u64; 2];
    let t = token();
    let c = lab.probe_on(ACC1, 0, tenant(x, station(0xff), &t), &t);
    sent[0] += 1;
    assert_flooded_from_access(&c, ACC2);
    let (t, c) = lab.eventually(
        "worker 1 delivers VXLAN to the MAC worker 0 learned to its port only",
        |t| {
            sent[1] += 1;
            lab.probe_on(UNDERLAY, 1, vxlan_from(R2, &tenant(h, x, t)), t)
        },
        |c| ports(c) == [ACC1],
    );
    assert_eq!(c[0].frame, tenant(h, x, &t), "decapsulated frame");
    let (t, c) = lab.eventually(
        "worker 0 encapsulates to the MAC worker 1 learned, to its VTEP only",
        |t| {
            sent[0] += 1;
            lab.probe_on(ACC2, 0, tenant(y, h, t), t)
        },
        |c| is_single_vxlan_to(c, R2),
    );
    let v = single_vxlan_to(&c, R2, NEXT_HOP_MAC);
    assert_eq!(v.inner, tenant(y, h, &t), "encapsulated frame");
    let out = lab.stop();
    let workers = out.report.as_ref().expect("report")["workers"]
        .as_array()
        .expect("workers")
        .clone();
    let counted: Vec<(u64, u64)> = workers
        .iter()
        .map(|w| (w["lcore"].as_u64().unwrap(), w["packets"].as_u64().unwrap()))
        .collect();
    assert_eq!(
        counted,
        [(1, sent[0]), (2, sent[1])],
        "(lcore, packets) per worker: each counted its own queues' frames"
    );
    assert_eq!(stat(&out, &["totals", "rx_packets"]), sent[0] + sent[1]);
    // x and y behind access ports, h behind 10.0.0.2: each learned once, whichever worker.
    assert_eq!(tables(&out, "learned"), 3, "{}", out.stdout);
    assert_eq!(tables(&out, "moved"), 0);
    assert_eq!(stat(&out, &["totals", "dropped"]), 0, "{}", out.stdout);
}

/// A MAC first behind an access port, then seen decapsulated from 10.0.0.2: traffic to it
/// follows it to the VTEP. A static entry sent from the same VTEP in the same burst stays
/// where the configuration put it.
#[test]
fn mac_moves_to_a_vtep_but_static_entries_stay() {
    if !netns::capable(&[PYTHON]) {
        return;
    }
    let _slot = serial();
    let (x, s, z) = (station(0x0c), station(0x05), station(0x0d));
    let lab = Lab::start(
        &config(
            "",
            &format!(
                "[[fdb]]\nvni = 5000\nmac = \"{}\"\nport = \"net_pcap1\"\n",
                mac_text(s)
            ),
        ),
        2,
    );
    learn_on_acc1(&lab, x);
    lab.eventually(
        "traffic from access port 2 to x bridged to access port 1",
        |t| lab.probe(ACC2, tenant(z, x, t), t),
        |c| ports(c) == [ACC1],
    );
    // The static MAC first, then x: once x's move shows, s's was handled too.
    let (ts, tx) = (token(), token());
    lab.send(
        UNDERLAY,
        &[
            vxlan_from(R2, &tenant(s, BROADCAST, &ts)),
            vxlan_from(R2, &tenant(x, BROADCAST, &tx)),
        ],
    );
    assert!(wait_until(LIMIT, Duration::from_millis(10), || {
        lab.copies(&tx).len() == 2 && lab.copies(&ts).len() == 2
    }));
    lab.eventually(
        "traffic to x follows it to 10.0.0.2",
        |t| lab.probe(ACC2, tenant(z, x, t), t),
        |c| is_single_vxlan_to(c, R2),
    );
    let t = token();
    let c = lab.probe(ACC2, tenant(z, s, &t), &t);
    assert_eq!(ports(&c), [ACC1], "the static MAC stayed on access port 1");
    let out = lab.stop();
    assert_eq!(tables(&out, "moved"), 1, "{}", out.stdout);
    // x and z; nothing for s (static).
    assert_eq!(tables(&out, "learned"), 2, "{}", out.stdout);
    assert_eq!(stat(&out, &["totals", "dropped"]), 0, "{}", out.stdout);
}

/// With mac_age_secs = 2 a learned MAC left idle for 4 s is forgotten: traffic to it is
/// flooded again, until it speaks again and is learned again.
#[test]
fn idle_macs_age_out_and_are_learned_again() {
    if !netns::capable(&[PYTHON]) {
        return;
    }
    let _slot = serial();
    let lab = Lab::start(&config("", "[tables]\nmac_age_secs = 2\n"), 2);
    let (x, h) = (station(0x0e), station(0x23));
    // Each attempt refreshes x first: on a slow machine x may age before the check.
    let learned_unicast = |what: &str| {
        lab.eventually(
            what,
            |t| {
                learn_on_acc1(&lab, x);
                std::thread::sleep(Duration::from_millis(50));
                lab.probe(UNDERLAY, vxlan_from(R2, &tenant(h, x, t)), t)
            },
            |c| ports(c) == [ACC1],
        );
    };
    learned_unicast("x learned");
    std::thread::sleep(Duration::from_secs(4));
    lab.eventually(
        "traffic to x flooded after x aged",
        |t| lab.probe(UNDERLAY, vxlan_from(R2, &tenant(h, x, t)), t),
        |c| ports(c) == [ACC1, ACC2],
    );
    learned_unicast("x learned again");
    let out = lab.stop();
    assert!(tables(&out, "aged") >= 1, "{}", out.stdout);
    // x twice, h at least once.
    assert!(tables(&out, "learned") >= 3, "{}", out.stdout);
}

/// ARP snooping and suppression: bindings come from ARP seen in the VNI (a request on an
/// access port, a reply from behind a VTEP); later requests for those addresses are
/// answered by vtepd, on the access port the request came from or back through the tunnel
/// it came from, instead of being flooded.
#[test]
fn arp_bindings_are_snooped_and_requests_answered() {
    if !netns::capable(&[PYTHON]) {
        return;
    }
    let _slot = serial();
    let lab = Lab::start(&config("arp_suppression = true", ""), 2);
    let ip = |n: u8| Ipv4Addr::new(192, 168, 1, n);
    let (h1, h2, h3) = (station(0x41), station(0x42), station(0x43));
    let request = |from: Mac, from_ip: Ipv4Addr, for_ip: Ipv4Addr| Arp {
        op: 1,
        sender_mac: from,
        sender_ip: from_ip,
        target_mac: [0; 6],
        target_ip: for_ip,
    };

    // h1 (access port 1) asks for h2: nobody knows h2 yet, so the request is flooded.
    let t = token();
    let c = lab.probe(
        ACC1,
        arp_frame(h1, BROADCAST, request(h1, ip(11), ip(12)), &t),
        &t,
    );
    assert_flooded_from_access(&c, ACC2);
    // h2 answers from behind 10.0.0.2.
    let reply = Arp {
        op: 2,
        sender_mac: h2,
        sender_ip: ip(12),
        target_mac: h1,
        target_ip: ip(11),
    };
    let t = token();
    let c = lab.probe(UNDERLAY, vxlan_from(R2, &arp_frame(h2, h1, reply, &t)), &t);
    assert!(
        ports(&c).contains(&ACC1) && !ports(&c).contains(&UNDERLAY),
        "the reply reaches h1: {c:?}"
    );

    // h3 (access port 2) asks for h2: vtepd answers on access port 2 itself.
    let (t, c) = lab.eventually(
        "vtepd answers h3's request for 192.168.1.12",
        |t| {
            lab.probe(
                ACC2,
                arp_frame(h3, BROADCAST, request(h3, ip(13), ip(12)), t),
                t,
            )
        },
        |c| ports(c) == [ACC2],
    );
    let answer = &c[0].frame;
    assert_eq!(answer[0..6], h3, "to h3");
    assert_eq!(answer[6..12], h2, "from h2's MAC");
    assert_eq!(
        parse_arp(answer),
        Some(Arp {
            op: 2,
            sender_mac: h2,
            sender_ip: ip(12),
            target_mac: h3,
            target_ip: ip(13),
        }),
        "{answer:02x?}"
    );
    assert!(contains(answer, &t));

    // h2 (behind 10.0.0.2) asks for h1: answered back through the tunnel to 10.0.0.2.
    let (_, c) = lab.eventually(
        "vtepd answers h2's request for 192.168.1.11 through the tunnel",
        |t| {
            lab.probe(
                UNDERLAY,
                vxlan_from(
                    R2,
                    &arp_frame(h2, BROADCAST, request(h2, ip(12), ip(11)), t),
                ),
                t,
            )
        },
        |c| is_single_vxlan_to(c, R2),
    );
    let v = single_vxlan_to(&c, R2, NEXT_HOP_MAC);
    assert_eq!(v.inner[0..6], h2);
    assert_eq!(
        parse_arp(&v.inner),
        Some(Arp {
            op: 2,
            sender_mac: h1,
            sender_ip: ip(11),
            target_mac: h2,
            target_ip: ip(12),
        })
    );
    let out = lab.stop();
    assert_eq!(
        stat(&out, &["gateway", "vnis", "0", "arp_suppressed"]),
        2,
        "{}",
        out.stdout
    );
    // 192.168.1.11, .12, .13.
    assert!(tables(&out, "bindings_snooped") >= 3, "{}", out.stdout);
    assert_eq!(stat(&out, &["totals", "dropped"]), 0, "{}", out.stdout);
}

const ROUTED: &str = r#"
[underlay]
port = "net_pcap0"
addresses = ["10.0.0.1/24"]
next_hop = "10.0.0.254"

[[access]]
port = "net_pcap1"
untagged_vni = 5000

[[vni]]
id = 5000
flood = ["172.16.0.2"]

[[fdb]]
vni = 5000
mac = "02:00:00:00:01:dd"
remote = "172.16.0.2"
"#;

/// How many ARP requests for `router_ip` vtepd has sent (broadcast, from its own MAC).
fn router_requests(lab: &Lab, router_ip: Ipv4Addr) -> usize {
    let request = Arp {
        op: 1,
        sender_mac: VTEPD_MAC,
        sender_ip: LOCAL,
        target_mac: [0; 6],
        target_ip: router_ip,
    };
    lab.output(UNDERLAY)
        .iter()
        .filter(|f| f[0..6] == BROADCAST && f[6..12] == VTEPD_MAC && parse_arp(f) == Some(request))
        .count()
}

/// The router's ARP reply to vtepd.
fn router_answers(lab: &Lab, router: Mac, router_ip: Ipv4Addr) {
    let reply = Arp {
        op: 2,
        sender_mac: router,
        sender_ip: router_ip,
        target_mac: VTEPD_MAC,
        target_ip: LOCAL,
    };
    lab.send(UNDERLAY, &[arp_frame(router, VTEPD_MAC, reply, &token())]);
}

/// No next_hop_mac: vtepd asks for its router by ARP; until the router answers, traffic to
/// the remote VTEP behind it waits (dropped as neighbor_unresolved); once it answers, the
/// traffic goes out encapsulated to the router's MAC.
#[test]
fn next_hop_is_resolved_by_arp_before_traffic_flows() {
    if !netns::capable(&[PYTHON]) {
        return;
    }
    let _slot = serial();
    let lab = Lab::start(ROUTED, 1);
    let remote = Ipv4Addr::new(172, 16, 0, 2);
    let router_ip = Ipv4Addr::new(10, 0, 0, 254);
    let router: Mac = [0x02, 0, 0, 0, 0xaa, 0xfe];
    let (x, d) = (station(0x0f), station(0xdd));

    let asked = wait_until(LIMIT, Duration::from_millis(20), || {
        router_requests(&lab, router_ip) >= 1
    });
    assert!(
        asked,
        "no ARP request for the router: {:02x?}",
        lab.output(UNDERLAY)
    );

    let t = token();
    let c = lab.probe_dropped(ACC1, tenant(x, d, &t), &t);
    assert!(c.is_empty(), "unicast before resolution: {c:?}");
    let t = token();
    let c = lab.probe_dropped(ACC1, tenant(x, BROADCAST, &t), &t);
    assert!(c.is_empty(), "flood before resolution: {c:?}");

    router_answers(&lab, router, router_ip);
    let (t, c) = lab.eventually(
        "unicast encapsulated to the router once it answered",
        |t| lab.probe(ACC1, tenant(x, d, t), t),
        |c| !c.is_empty(),
    );
    let v = single_vxlan_to(&c, remote, router);
    assert_eq!(v.inner, tenant(x, d, &t));
    let t = token();
    let c = lab.probe(ACC1, tenant(x, BROADCAST, &t), &t);
    single_vxlan_to(&c, remote, router);

    let out = lab.stop();
    assert!(out.drop_count("neighbor_unresolved") >= 2, "{}", out.stdout);
    assert!(stat(&out, &["gateway", "generated"]) >= 1, "{}", out.stdout);
    assert!(
        stat(&out, &["gateway", "local", "absorbed"]) >= 1,
        "the router's reply is absorbed: {}",
        out.stdout
    );
}

/// A MAC moves while a stream to it runs: every frame of the stream arrives exactly once,
/// first on the old port, then (from one frame on, for good) encapsulated to the new VTEP.
#[test]
fn a_move_during_a_stream_switches_it_once_without_loss() {
    if !netns::capable(&[PYTHON]) {
        return;
    }
    let _slot = serial();
    let lab = Lab::start(&config("", ""), 2);
    let (x, z) = (station(0x10), station(0x11));
    learn_on_acc1(&lab, x);
    lab.eventually(
        "traffic from access port 2 to x bridged to access port 1",
        |t| lab.probe(ACC2, tenant(z, x, t), t),
        |c| ports(c) == [ACC1],
    );
    let tokens: Vec<Vec<u8>> = (0..80).map(|_| token()).collect();
    let frames: Vec<Vec<u8>> = tokens.iter().map(|t| tenant(z, x, t)).collect();
    let stream = lab.stream(ACC2, 25, &frames);
    let started = wait_until(LIMIT, Duration::from_millis(10), || {
        tokens
            .iter()
            .take(20)
            .filter(|t| !lab.copies(t).is_empty())
            .count()
            >= 5
    });
    assert!(started, "the stream did not start");
    let t = token();
    lab.send(UNDERLAY, &[vxlan_from(R2, &tenant(x, BROADCAST, &t))]);
    stream.wait(Duration::from_secs(60));
    let all_out = wait_until(LIMIT, Duration::from_millis(20), || {
        tokens.iter().all(|t| !lab.copies(t).is_empty())
    });
    std::thread::sleep(SETTLE);
    let went: Vec<Vec<Copy>> = tokens.iter().map(|t| lab.copies(t)).collect();
    let summary: Vec<Vec<usize>> = went.iter().map(|c| ports(c)).collect();
    assert!(all_out, "frames lost: {summary:?}");
    let mut switched_at = None;
    for (i, c) in went.iter().enumerate() {
        assert_eq!(
            c.len(),
            1,
            "frame {i} went out {} times: {summary:?}",
            c.len()
        );
        match (c[0].port, switched_at) {
            (ACC1, None) => {}
            (UNDERLAY, _) => {
                single_vxlan_to(c, R2, NEXT_HOP_MAC);
                switched_at.get_or_insert(i);
            }
            _ => panic!("frame {i} went back or elsewhere: {summary:?}"),
        }
    }
    let at = switched_at.unwrap_or_else(|| panic!("never switched: {summary:?}"));
    assert!(at >= 5, "switched before the move: {summary:?}");
    eprintln!(
        "stream switched to the tunnel at frame {at} of {}",
        tokens.len()
    );
    let out = lab.stop();
    assert_eq!(tables(&out, "moved"), 1, "{}", out.stdout);
    assert_eq!(stat(&out, &["totals", "dropped"]), 0, "{}", out.stdout);
}

/// A MAC hopping between VTEPs outside the flood list and access ports: each move creates the
/// new VTEP's tunnel and releases the old one (tunnel ids are recycled), and traffic follows
/// the MAC every time.
#[test]
fn a_mac_hops_between_vteps_and_ports() {
    if !netns::capable(&[PYTHON]) {
        return;
    }
    let _slot = serial();
    let lab = Lab::start(&config("", ""), 2);
    let (y, z) = (station(0x32), station(0x12));
    let (r4, r5) = (Ipv4Addr::new(10, 0, 0, 4), Ipv4Addr::new(10, 0, 0, 5));
    let follow = |what: &str, accept: &dyn Fn(&[Copy]) -> bool| {
        lab.eventually(what, |t| lab.probe(ACC1, tenant(z, y, t), t), accept);
    };
    let from_vtep = |r: Ipv4Addr| {
        let t = token();
        let c = lab.probe(UNDERLAY, vxlan_from(r, &tenant(y, BROADCAST, &t)), &t);
        assert_eq!(ports(&c), [ACC1, ACC2], "{c:?}");
    };
    from_vtep(r4);
    follow("y behind 10.0.0.4", &|c| is_single_vxlan_to(c, r4));
    from_vtep(r5);
    follow("y moved to 10.0.0.5", &|c| is_single_vxlan_to(c, r5));
    let t = token();
    let c = lab.probe(ACC2, tenant(y, station(0xff), &t), &t);
    assert_flooded_from_access(&c, ACC1);
    follow("y moved to access port 2", &|c| ports(c) == [ACC2]);
    from_vtep(r4);
    follow("y back behind 10.0.0.4", &|c| is_single_vxlan_to(c, r4));
    let out = lab.stop();
    assert_eq!(tables(&out, "moved"), 3, "{}", out.stdout);
    assert_eq!(tables(&out, "learned"), 2, "{}", out.stdout);
    assert_eq!(stat(&out, &["totals", "dropped"]), 0, "{}", out.stdout);
}

/// A resolved next hop is probed again from 3/4 of neighbor_timeout_secs; when it stops
/// answering it is forgotten at the timeout (traffic waits again, neighbor_unresolved), and
/// when it answers again, from a new MAC (a replaced router), traffic flows to that MAC.
#[test]
fn a_silent_next_hop_is_forgotten_and_resolved_again() {
    if !netns::capable(&[PYTHON]) {
        return;
    }
    let _slot = serial();
    let config = ROUTED.replace(
        "next_hop = \"10.0.0.254\"",
        "next_hop = \"10.0.0.254\"\nneighbor_timeout_secs = 5",
    );
    let lab = Lab::start(&config, 1);
    let remote = Ipv4Addr::new(172, 16, 0, 2);
    let router_ip = Ipv4Addr::new(10, 0, 0, 254);
    let (old_router, new_router): (Mac, Mac) = ([0x02, 0, 0, 0, 0xaa, 1], [0x02, 0, 0, 0, 0xaa, 2]);
    let (x, d) = (station(0x13), station(0xdd));
    assert!(wait_until(LIMIT, Duration::from_millis(20), || {
        router_requests(&lab, router_ip) >= 1
    }));
    router_answers(&lab, old_router, router_ip);
    lab.eventually(
        "traffic to the router",
        |t| lab.probe(ACC1, tenant(x, d, t), t),
        |c| !c.is_empty() && parse_vxlan(&c[0].frame).is_some_and(|v| v.dst_mac == old_router),
    );
    let asked_before = router_requests(&lab, router_ip);
    // No answer to the probes: after 5 s without one the router is forgotten.
    lab.eventually(
        "traffic held back once the router is forgotten",
        |t| lab.probe_dropped(ACC1, tenant(x, d, t), t),
        |c| c.is_empty(),
    );
    assert!(
        router_requests(&lab, router_ip) > asked_before,
        "vtepd probed the router before forgetting it"
    );
    router_answers(&lab, new_router, router_ip);
    let (_, c) = lab.eventually(
        "traffic to the new router MAC",
        |t| lab.probe(ACC1, tenant(x, d, t), t),
        |c| !c.is_empty(),
    );
    single_vxlan_to(&c, remote, new_router);
    let out = lab.stop();
    assert!(out.drop_count("neighbor_unresolved") >= 1, "{}", out.stdout);
}

/// A neighbour solicitation from `src_ip` (link-layer address `src`) for `target`, to its
/// solicited-node group, with `trailer` after the IPv6 packet (Ethernet trailer).
fn neighbor_solicitation(src: Mac, src_ip: Ipv6Addr, target: Ipv6Addr, trailer: &[u8]) -> Vec<u8> {
    let t = target.octets();
    let group = Ipv6Addr::new(
        0xff02,
        0,
        0,
        0,
        0,
        1,
        0xff00 | u16::from(t[13]),
        u16::from_be_bytes([t[14], t[15]]),
    );
    let mut icmp = vec![135, 0, 0, 0, 0, 0, 0, 0];
    icmp.extend_from_slice(&t);
    icmp.extend_from_slice(&[1, 1]);
    icmp.extend_from_slice(&src);
    let sum = icmpv6_sum(&src_ip, &group, &icmp);
    icmp[2..4].copy_from_slice(&(!sum).to_be_bytes());
    let mut f = Vec::new();
    f.extend_from_slice(&[0x33, 0x33, 0xff, t[13], t[14], t[15]]);
    f.extend_from_slice(&src);
    f.extend_from_slice(&[0x86, 0xdd, 0x60, 0, 0, 0]);
    f.extend_from_slice(&(icmp.len() as u16).to_be_bytes());
    f.extend_from_slice(&[58, 255]);
    f.extend_from_slice(&src_ip.octets());
    f.extend_from_slice(&group.octets());
    f.extend_from_slice(&icmp);
    f.extend_from_slice(trailer);
    f
}

/// The folded one's-complement sum of an ICMPv6 message with its pseudo-header.
fn icmpv6_sum(src: &Ipv6Addr, dst: &Ipv6Addr, icmp: &[u8]) -> u16 {
    let mut data = Vec::new();
    data.extend_from_slice(&src.octets());
    data.extend_from_slice(&dst.octets());
    data.extend_from_slice(&(icmp.len() as u32).to_be_bytes());
    data.extend_from_slice(&[0, 0, 0, 58]);
    data.extend_from_slice(icmp);
    let mut sum: u32 = data
        .chunks(2)
        .map(|w| u32::from(u16::from_be_bytes([w[0], *w.get(1).unwrap_or(&0)])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    sum as u16
}

/// Neighbour discovery in a VNI with suppression on: a solicitation from behind a VTEP
/// binds its source; a later solicitation for that address from an access port is answered
/// by vtepd with a neighbour advertisement built from the binding (valid checksum, solicited
/// and override flags, target link-layer address), not flooded.
#[test]
fn nd_bindings_are_snooped_and_solicitations_answered() {
    if !netns::capable(&[PYTHON]) {
        return;
    }
    let _slot = serial();
    let lab = Lab::start(&config("arp_suppression = true", ""), 2);
    let (h2, h3) = (station(0x52), station(0x53));
    let (h1_ip, h2_ip): (Ipv6Addr, Ipv6Addr) =
        ("fd00:1::11".parse().unwrap(), "fd00:1::12".parse().unwrap());

    // h2 (behind 10.0.0.2) asks for h1, unknown: flooded to the access ports.
    let t = token();
    let c = lab.probe(
        UNDERLAY,
        vxlan_from(R2, &neighbor_solicitation(h2, h2_ip, h1_ip, &t)),
        &t,
    );
    assert_eq!(ports(&c), [ACC1, ACC2], "{c:?}");

    // h3 (access port 2) asks for h2. Its source address is the attempt's token, so the
    // advertisement (sent to it) carries the token too.
    let (t, c) = lab.eventually(
        "vtepd answers h3's solicitation for fd00:1::12",
        |t| {
            let h3_ip = Ipv6Addr::from(<[u8; 16]>::try_from(t).expect("16-byte token"));
            lab.probe(ACC2, neighbor_solicitation(h3, h3_ip, h2_ip, &[]), t)
        },
        |c| ports(c) == [ACC2],
    );
    let h3_ip = Ipv6Addr::from(<[u8; 16]>::try_from(&t[..]).expect("16-byte token"));
    let na = &c[0].frame;
    assert_eq!(na[0..6], h3, "to h3's link-layer address");
    assert_eq!(na[6..12], h2, "from h2's");
    assert_eq!(na[12..14], [0x86, 0xdd]);
    let ip = &na[14..];
    assert_eq!(ip[0] >> 4, 6);
    assert_eq!(ip[6], 58, "ICMPv6");
    assert_eq!(ip[7], 255, "hop limit");
    let len = usize::from(u16::from_be_bytes([ip[4], ip[5]]));
    let src = Ipv6Addr::from(<[u8; 16]>::try_from(&ip[8..24]).unwrap());
    let dst = Ipv6Addr::from(<[u8; 16]>::try_from(&ip[24..40]).unwrap());
    assert_eq!((src, dst), (h2_ip, h3_ip));
    let icmp = &ip[40..40 + len];
    assert_eq!(icmp[0], 136, "neighbour advertisement");
    assert_eq!(icmpv6_sum(&src, &dst, icmp), 0xffff, "ICMPv6 checksum");
    assert_eq!(icmp[4] & 0xe0, 0x60, "solicited and override, not router");
    assert_eq!(icmp[8..24], h2_ip.octets(), "target");
    assert_eq!(
        icmp[24..32],
        [2, 1, h2[0], h2[1], h2[2], h2[3], h2[4], h2[5]]
    );
    let out = lab.stop();
    assert_eq!(
        stat(&out, &["gateway", "vnis", "0", "arp_suppressed"]),
        1,
        "{}",
        out.stdout
    );
    assert_eq!(stat(&out, &["totals", "dropped"]), 0, "{}", out.stdout);
}

/// A solicited neighbour advertisement from `src`/`src_ip` to `dst`/`dst_ip`: `src_ip` is at
/// `src` (target link-layer address option).
fn neighbor_advertisement(src: Mac, src_ip: Ipv6Addr, dst: Mac, dst_ip: Ipv6Addr) -> Vec<u8> {
    let mut icmp = vec![136, 0, 0, 0, 0x60, 0, 0, 0];
    icmp.extend_from_slice(&src_ip.octets());
    icmp.extend_from_slice(&[2, 1]);
    icmp.extend_from_slice(&src);
    let sum = icmpv6_sum(&src_ip, &dst_ip, &icmp);
    icmp[2..4].copy_from_slice(&(!sum).to_be_bytes());
    let mut f = Vec::new();
    f.extend_from_slice(&dst);
    f.extend_from_slice(&src);
    f.extend_from_slice(&[0x86, 0xdd, 0x60, 0, 0, 0]);
    f.extend_from_slice(&(icmp.len() as u16).to_be_bytes());
    f.extend_from_slice(&[58, 255]);
    f.extend_from_slice(&src_ip.octets());
    f.extend_from_slice(&dst_ip.octets());
    f.extend_from_slice(&icmp);
    f
}

/// The IPv6 counterpart of snooping ARP replies: a neighbour advertisement seen in the VNI
/// should bind its target to its target link-layer address, as an ARP reply binds its
/// sender. An ARP reply from the same host in the same burst is the control: once its
/// binding answers requests, the advertisement has been seen too.
#[test]
fn nd_advertisements_are_snooped_like_arp_replies() {
    if !netns::capable(&[PYTHON]) {
        return;
    }
    let _slot = serial();
    let lab = Lab::start(&config("arp_suppression = true", ""), 2);
    let (h1, h2, h3) = (station(0x61), station(0x62), station(0x63));
    let (h1_ip, h2_ip): (Ipv6Addr, Ipv6Addr) =
        ("fd00:1::21".parse().unwrap(), "fd00:1::22".parse().unwrap());
    let v4 = |n: u8| Ipv4Addr::new(192, 168, 1, n);
    // h2, behind 10.0.0.2, answers h1 over IPv6 and over IPv4.
    let arp_reply = Arp {
        op: 2,
        sender_mac: h2,
        sender_ip: v4(22),
        target_mac: h1,
        target_ip: v4(21),
    };
    lab.send(
        UNDERLAY,
        &[
            vxlan_from(R2, &neighbor_advertisement(h2, h2_ip, h1, h1_ip)),
            vxlan_from(R2, &arp_frame(h2, h1, arp_reply, &token())),
        ],
    );
    let request = Arp {
        op: 1,
        sender_mac: h3,
        sender_ip: v4(23),
        target_mac: [0; 6],
        target_ip: v4(22),
    };
    lab.eventually(
        "control: the ARP reply's binding answers requests",
        |t| lab.probe(ACC2, arp_frame(h3, BROADCAST, request, t), t),
        |c| ports(c) == [ACC2],
    );
    // As in nd_bindings_are_snooped_and_solicitations_answered, the token is h3's address
    // here, so an answer (sent to it) carries it too.
    let t = token();
    let h3_ip = Ipv6Addr::from(<[u8; 16]>::try_from(&t[..]).expect("16-byte token"));
    let c = lab.probe(ACC2, neighbor_solicitation(h3, h3_ip, h2_ip, &[]), &t);
    assert_eq!(
        ports(&c),
        [ACC2],
        "the solicitation for fd00:1::22 was not answered from the advertisement: {c:?}"
    );
}
