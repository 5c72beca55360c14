//! The policy, proven on the real binary in the style of tests/isolation.rs.
//!
//! One tenant VRF with three segments (training, inference, storage), hosts behind remote
//! VTEPs and on a trunk, and a policy with overlapping rules: priorities, a tie kept in file
//! order, a deny inside a broader allow, a stateless allow, host groups inside a segment and
//! a quarantined host. For every (source host, destination host, protocol, port) the first
//! packet passes or is dropped as an independent model of the rules says; the reply to an
//! allowed connection passes when the rule is stateful (or the reverse direction is itself
//! allowed), and an unsolicited "reply" is judged as the new flow it is. Each rule's hit
//! count, the defaults' hits, the sessions opened and the `policy_denied` drops match the
//! model exactly.

mod common;

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use common::api::{mac_text, pcap_mac, vxlan_from, Mac};
use common::traffic::{run_gateway, Encapsulated, INPUTS};
use common::{serial, write_pcap, Scratch};

const GATEWAY_MAC: Mac = [0x02, 0xaa, 0xaa, 0, 0, 0x01];
const MARK: &[u8; 4] = b"PSWP";
const TRUNK: usize = 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Site {
    /// Behind its segment's remote VTEP: enters and leaves on the underlay (port 0).
    Fabric,
    /// On the trunk (port 1), tagged with its segment's VLAN.
    Trunk,
}

#[derive(Debug)]
struct Segment {
    vni: u32,
    vlan: u16,
    subnet: u8,
    vtep: Ipv4Addr,
}

static SEGMENTS: [Segment; 3] = [
    // training
    Segment {
        vni: 1000,
        vlan: 100,
        subnet: 10,
        vtep: Ipv4Addr::new(10, 0, 0, 11),
    },
    // inference
    Segment {
        vni: 2000,
        vlan: 200,
        subnet: 20,
        vtep: Ipv4Addr::new(10, 0, 0, 12),
    },
    // storage
    Segment {
        vni: 9000,
        vlan: 900,
        subnet: 90,
        vtep: Ipv4Addr::new(10, 0, 0, 19),
    },
];

#[derive(Debug, Clone, Copy)]
struct Host {
    seg: &'static Segment,
    ip: Ipv4Addr,
    mac: Mac,
    site: Site,
}

impl Host {
    fn vni(&self) -> u32 {
        self.seg.vni
    }

    fn new(seg: &'static Segment, last: u8, site: Site) -> Host {
        Host {
            seg,
            ip: Ipv4Addr::new(10, seg.subnet, 0, last),
            mac: [0x02, (seg.vni >> 8) as u8, seg.vni as u8, 0, 0, last],
            site,
        }
    }
}

fn hosts() -> Vec<Host> {
    let mut h = Vec::new();
    for seg in &SEGMENTS {
        h.push(Host::new(seg, 10, Site::Fabric));
        h.push(Host::new(seg, 20, Site::Trunk));
    }
    h.push(Host::new(&SEGMENTS[0], 30, Site::Fabric)); // quarantined
    h.push(Host::new(&SEGMENTS[0], 40, Site::Trunk)); // secured
    h
}

// --- the policy, as data: written into the configuration and evaluated by the model -------

struct Group {
    name: &'static str,
    vni: Option<u32>,
    prefix: Option<(Ipv4Addr, u8)>,
}

const GROUPS: &[Group] = &[
    Group {
        name: "training",
        vni: Some(1000),
        prefix: None,
    },
    Group {
        name: "inference",
        vni: Some(2000),
        prefix: None,
    },
    Group {
        name: "storage",
        vni: Some(9000),
        prefix: None,
    },
    Group {
        name: "secured",
        vni: Some(1000),
        prefix: Some((Ipv4Addr::new(10, 10, 0, 40), 32)),
    },
    Group {
        name: "quarantine",
        vni: None,
        prefix: Some((Ipv4Addr::new(10, 10, 0, 30), 32)),
    },
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Proto {
    Tcp,
    Udp,
    Icmp,
}

struct Rule {
    id: u32,
    priority: u32,
    from: &'static str,
    to: &'static str,
    proto: Option<Proto>,
    ports: &'static [(u16, u16)],
    allow: bool,
    stateful: bool,
}

const fn rule(
    id: u32,
    priority: u32,
    from: &'static str,
    to: &'static str,
    proto: Option<Proto>,
    ports: &'static [(u16, u16)],
    allow: bool,
) -> Rule {
    Rule {
        id,
        priority,
        from,
        to,
        proto,
        ports,
        allow,
        stateful: allow,
    }
}

const TCP: Option<Proto> = Some(Proto::Tcp);
const UDP: Option<Proto> = Some(Proto::Udp);
const ICMP: Option<Proto> = Some(Proto::Icmp);

const RULES: &[Rule] = &[
    rule(
        10,
        100,
        "training",
        "storage",
        TCP,
        &[(22, 22), (2049, 2049)],
        true,
    ),
    rule(20, 100, "inference", "storage", TCP, &[(2049, 2049)], true),
    rule(30, 100, "inference", "training", UDP, &[(5000, 5100)], true),
    // The same priority as 30 and later in the file: 30 decides 5050.
    rule(
        35,
        100,
        "inference",
        "training",
        UDP,
        &[(5050, 5050)],
        false,
    ),
    rule(40, 100, "training", "any", ICMP, &[], true),
    rule(50, 200, "any", "secured", TCP, &[(23, 23)], false),
    rule(60, 300, "quarantine", "any", None, &[], false),
    Rule {
        stateful: false,
        ..rule(70, 100, "storage", "training", UDP, &[(53, 53)], true)
    },
    rule(80, 50, "training", "inference", None, &[], true),
    rule(90, 60, "training", "inference", TCP, &[(80, 80)], false),
];

fn policy_config() -> String {
    let mut c = String::from("\n[policy]\nlog_default_deny = false\n");
    for g in GROUPS {
        c += &format!("\n[[policy.group]]\nname = \"{}\"\n", g.name);
        if let Some(v) = g.vni {
            c += &format!("vnis = [{v}]\n");
        }
        if let Some((p, len)) = g.prefix {
            c += &format!("prefixes = [\"{p}/{len}\"]\n");
        }
    }
    for r in RULES {
        c += &format!(
            "\n[[policy.rule]]\nid = {}\npriority = {}\nfrom = \"{}\"\nto = \"{}\"\n\
             action = \"{}\"\nstateful = {}\n",
            r.id,
            r.priority,
            r.from,
            r.to,
            if r.allow { "allow" } else { "deny" },
            r.stateful,
        );
        if let Some(p) = r.proto {
            c += &format!("proto = \"{}\"\n", format!("{p:?}").to_lowercase());
        }
        if !r.ports.is_empty() {
            let ports: Vec<String> = r
                .ports
                .iter()
                .map(|&(a, b)| {
                    if a == b {
                        a.to_string()
                    } else {
                        format!("\"{a}-{b}\"")
                    }
                })
                .collect();
            c += &format!("ports = [{}]\n", ports.join(", "));
        }
    }
    c
}

/// The gateway (underlay port 0, trunk port 1, routing) with `vrfs` (name, id) and the VNIs
/// of `segments`, each in the VRF named beside it.
fn gateway_config(vrfs: &[(&str, u32)], segments: &[(&Segment, &str)]) -> String {
    let mut c = format!(
        r#"
[underlay]
port = "net_pcap0"
addresses = ["10.0.0.1/24"]
next_hop_mac = "02:00:00:00:00:fe"
mtu = 1600

[[access]]
port = "net_pcap1"

[routing]
gateway_mac = "{}"
"#,
        mac_text(GATEWAY_MAC)
    );
    for (name, id) in vrfs {
        c += &format!("\n[[vrf]]\nname = \"{name}\"\nid = {id}\n");
    }
    for (s, vrf) in segments {
        c += &format!(
            "\n[[vni]]\nid = {}\nvlan = {}\nflood = [\"{}\"]\nvrf = \"{vrf}\"\n\
             gateway = \"10.{}.0.1/24\"\n",
            s.vni, s.vlan, s.vtep, s.subnet
        );
    }
    c
}

fn config(hosts: &[Host]) -> String {
    let segments: Vec<(&Segment, &str)> = SEGMENTS.iter().map(|s| (s, "org-a")).collect();
    gateway_config(&[("org-a", 10)], &segments) + &hosts_config(hosts) + &policy_config()
}

/// Each host's FDB entry and ARP binding.
fn hosts_config(hosts: &[Host]) -> String {
    let mut c = String::new();
    for h in hosts {
        let s = h.seg;
        let place = match h.site {
            Site::Trunk => "port = \"net_pcap1\"".to_owned(),
            Site::Fabric => format!("remote = \"{}\"", s.vtep),
        };
        c += &format!(
            "\n[[fdb]]\nvni = {}\nmac = \"{}\"\n{place}\n\n[[arp]]\nvni = {}\nip = \"{}\"\nmac = \"{}\"\n",
            s.vni,
            mac_text(h.mac),
            s.vni,
            h.ip,
            mac_text(h.mac)
        );
    }
    c
}

// --- the model ------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy)]
struct Flow {
    src: Host,
    dst: Host,
    proto: Proto,
    dst_port: u16,
}

/// What decides a flow: a rule (by index) or a default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Decider {
    Rule(u32),
    DefaultWithin,
    DefaultBetween,
}

fn in_group(name: &str, h: &Host) -> bool {
    if name == "any" {
        return true;
    }
    let g = GROUPS.iter().find(|g| g.name == name).expect("a group");
    let in_prefix = |(p, len): (Ipv4Addr, u8)| {
        let mask = u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0);
        u32::from(h.ip) & mask == u32::from(p) & mask
    };
    g.vni.is_none_or(|v| v == h.vni()) && g.prefix.is_none_or(in_prefix)
}

/// The decider of `f` and whether it allows, and opens a session.
fn judge(f: &Flow) -> (Decider, bool, bool) {
    let mut order: Vec<&Rule> = RULES.iter().collect();
    order.sort_by_key(|r| std::cmp::Reverse(r.priority)); // stable: ties keep file order
    let hit = order.into_iter().find(|r| {
        in_group(r.from, &f.src)
            && in_group(r.to, &f.dst)
            && r.proto.is_none_or(|p| p == f.proto)
            && (r.ports.is_empty() || r.ports.iter().any(|&(a, b)| (a..=b).contains(&f.dst_port)))
    });
    match hit {
        Some(r) => (Decider::Rule(r.id), r.allow, r.allow && r.stateful),
        None if f.src.vni() == f.dst.vni() => (Decider::DefaultWithin, true, false),
        None => (Decider::DefaultBetween, false, false),
    }
}

// --- frames ---------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// A TCP SYN, a UDP datagram, an ICMP echo request.
    Request,
    /// A TCP SYN-ACK, a UDP datagram, an ICMP echo reply.
    Answer,
}

/// The frame `from` sends `to` (through the gateway MAC when they are in two segments),
/// and the port it enters on.
fn frame(
    from: &Host,
    to: &Host,
    proto: Proto,
    ports: (u16, u16),
    kind: Kind,
    id: u32,
) -> (usize, Vec<u8>) {
    let mut payload = MARK.to_vec();
    payload.extend_from_slice(&id.to_be_bytes());
    let routed = from.vni() != to.vni();
    let eth =
        etherparse::PacketBuilder::ethernet2(from.mac, if routed { GATEWAY_MAC } else { to.mac })
            .ipv4(from.ip.octets(), to.ip.octets(), 64);
    let mut f = Vec::new();
    let built = match (proto, kind) {
        (Proto::Tcp, Kind::Request) => eth
            .tcp(ports.0, ports.1, 1000, 64240)
            .syn()
            .write(&mut f, &payload),
        (Proto::Tcp, Kind::Answer) => eth
            .tcp(ports.0, ports.1, 5000, 64240)
            .syn()
            .ack(1001)
            .write(&mut f, &payload),
        (Proto::Udp, _) => eth.udp(ports.0, ports.1).write(&mut f, &payload),
        (Proto::Icmp, Kind::Request) => eth.icmpv4_echo_request(ports.0, 1).write(&mut f, &payload),
        (Proto::Icmp, Kind::Answer) => eth.icmpv4_echo_reply(ports.0, 1).write(&mut f, &payload),
    };
    built.expect("build a frame");
    let s = from.seg;
    match from.site {
        Site::Fabric => (0, vxlan_from(s.vtep, pcap_mac(0), s.vni, &f)),
        Site::Trunk => {
            let tag = [0x81, 0x00, (s.vlan >> 8) as u8, s.vlan as u8];
            f.splice(12..12, tag);
            (TRUNK, f)
        }
    }
}

fn mark_in(frame: &[u8]) -> Option<u32> {
    let at = frame.windows(4).position(|w| w == MARK)?;
    Some(u32::from_be_bytes(
        frame.get(at + 4..at + 8)?.try_into().ok()?,
    ))
}

/// The inner destination and source MACs of a frame that left on `port`.
fn macs_of(port: usize, frame: &[u8]) -> (Mac, Mac) {
    let inner = if port == 0 {
        Encapsulated::of(frame).inner
    } else {
        frame.to_vec()
    };
    let mac = |at: usize| -> Mac { inner[at..at + 6].try_into().expect("6 bytes") };
    (mac(0), mac(6))
}

/// What the sweep expects of one packet.
#[derive(Debug)]
struct Expect {
    what: String,
    /// Where it must arrive (its destination's MAC, and the MAC it comes from), if it passes.
    to: Option<(Mac, Mac)>,
}

const PROBES: &[(Proto, u16)] = &[
    (Proto::Tcp, 22),
    (Proto::Tcp, 23),
    (Proto::Tcp, 80),
    (Proto::Tcp, 2049),
    (Proto::Udp, 53),
    (Proto::Udp, 5000),
    (Proto::Udp, 5050),
    (Proto::Udp, 5100),
    (Proto::Udp, 5101),
    (Proto::Icmp, 0),
];

#[test]
fn every_flow_between_segments_is_decided_as_the_model_says() {
    let _slot = serial();
    let s = Scratch::new();
    let hosts = hosts();

    let mut inputs: Vec<Vec<Vec<u8>>> = vec![Vec::new(), Vec::new()];
    let mut want: BTreeMap<u32, Expect> = BTreeMap::new();
    let mut hits: BTreeMap<Decider, u64> = BTreeMap::new();
    let (mut opened, mut denied) = (0u64, 0u64);
    let mut id = 0u32;
    let mut ephemeral = 40000u16;
    let mut send = |from: &Host,
                    to: &Host,
                    proto: Proto,
                    ports: (u16, u16),
                    kind: Kind,
                    verdict: Option<(Decider, bool, bool)>,
                    what: String| {
        id += 1;
        let (port, f) = frame(from, to, proto, ports, kind, id);
        inputs[port].push(f);
        // None: a session lets it through, nothing is classified.
        let pass = match verdict {
            Some((decider, allow, stateful)) => {
                *hits.entry(decider).or_default() += 1;
                opened += u64::from(stateful);
                denied += u64::from(!allow);
                allow
            }
            None => true,
        };
        let via = if from.vni() == to.vni() {
            from.mac
        } else {
            GATEWAY_MAC
        };
        want.insert(
            id,
            Expect {
                what,
                to: pass.then_some((to.mac, via)),
            },
        );
    };

    for a in &hosts {
        for b in &hosts {
            let same_segment = a.vni() == b.vni();
            // Inside a segment on one side, a frame is the bridge's to refuse (same port,
            // split horizon): only frames crossing the gateway are policed.
            if std::ptr::eq(a, b) || (same_segment && a.site == b.site) {
                continue;
            }
            for &(proto, port) in PROBES {
                ephemeral += 1;
                let eph = ephemeral;
                let (sport, dport) = if proto == Proto::Icmp {
                    (eph, eph)
                } else {
                    (eph, port)
                };
                let request = Flow {
                    src: *a,
                    dst: *b,
                    proto,
                    dst_port: dport,
                };
                let verdict = judge(&request);
                let name = |what: &str| format!("{what} {} -> {} {proto:?} {port}", a.ip, b.ip);
                send(
                    a,
                    b,
                    proto,
                    (sport, dport),
                    Kind::Request,
                    Some(verdict),
                    name("request"),
                );
                // The answer, when both are on one side and so it surely follows the
                // request: a session lets it through, or it is judged on its own.
                if a.site == b.site {
                    let answer = Flow {
                        src: *b,
                        dst: *a,
                        proto,
                        dst_port: sport,
                    };
                    let tracked = verdict.1 && verdict.2;
                    send(
                        b,
                        a,
                        proto,
                        (dport, sport),
                        Kind::Answer,
                        (!tracked).then(|| judge(&answer)),
                        name("answer to"),
                    );
                }
                // An unsolicited answer: no request went out on these ports.
                ephemeral += 1;
                let stray = ephemeral;
                let unsolicited = Flow {
                    src: *b,
                    dst: *a,
                    proto,
                    dst_port: stray,
                };
                send(
                    b,
                    a,
                    proto,
                    if proto == Proto::Icmp {
                        (stray, stray)
                    } else {
                        (dport, stray)
                    },
                    Kind::Answer,
                    Some(judge(&unsolicited)),
                    name("unsolicited answer to"),
                );
            }
        }
    }

    for (port, frames) in inputs.iter().enumerate() {
        write_pcap(&s.path(INPUTS[port]), frames);
    }
    let run = run_gateway(&s, &config(&hosts), inputs.len());
    let report = run.report.clone();

    let mut got: BTreeMap<u32, Vec<(Mac, Mac)>> = BTreeMap::new();
    for port in 0..2 {
        for frame in run.output(port) {
            if let Some(id) = mark_in(&frame) {
                got.entry(id).or_default().push(macs_of(port, &frame));
            }
        }
    }
    let mut wrong = Vec::new();
    for (id, w) in &want {
        let g = got.remove(id).unwrap_or_default();
        let w_copies: Vec<(Mac, Mac)> = w.to.into_iter().collect();
        if g != w_copies {
            wrong.push(format!(
                "{} (frame {id}): expected {}, got {} copies",
                w.what,
                if w.to.is_some() { "to pass" } else { "a drop" },
                g.len()
            ));
        }
    }
    assert!(got.is_empty(), "copies of frames never sent: {got:?}");
    assert!(
        wrong.is_empty(),
        "{} of {} packets were decided wrongly:\n{}",
        wrong.len(),
        want.len(),
        wrong.join("\n")
    );

    let policy = &report["gateway"]["policy"];
    let rule_hits = |rid: u32| {
        policy["rules"]
            .as_array()
            .and_then(|r| r.iter().find(|r| r["id"] == rid))
            .and_then(|r| r["hits"].as_u64())
            .unwrap_or_else(|| panic!("rule {rid} not in {policy:#}"))
    };
    for r in RULES {
        let want = hits.get(&Decider::Rule(r.id)).copied().unwrap_or(0);
        assert_eq!(rule_hits(r.id), want, "hits of rule {}: {policy:#}", r.id);
    }
    let default = |d| hits.get(&d).copied().unwrap_or(0);
    assert_eq!(
        policy["default_within_hits"].as_u64(),
        Some(default(Decider::DefaultWithin)),
        "{policy:#}"
    );
    assert_eq!(
        policy["default_between_hits"].as_u64(),
        Some(default(Decider::DefaultBetween)),
        "{policy:#}"
    );
    assert_eq!(
        policy["sessions"]["opened"].as_u64(),
        Some(opened),
        "{policy:#}"
    );
    assert_eq!(report["drops"]["policy_denied"].as_u64(), Some(denied));
    // Every rule but the shadowed 35 decided some packets, and both defaults did.
    let idle: Vec<u32> = RULES
        .iter()
        .map(|r| r.id)
        .filter(|id| !hits.contains_key(&Decider::Rule(*id)))
        .collect();
    assert_eq!(idle, [35], "rules the sweep never exercised");
    assert!(default(Decider::DefaultWithin) > 0 && default(Decider::DefaultBetween) > 0);
    assert!(
        opened > 50 && denied > 100,
        "opened {opened}, denied {denied}"
    );
}

// --- one tenant fills its share of the session table --------------------------------------

/// Two VRFs with the very same prefixes: org-a's training and storage, then org-b's.
static TENANT_SEGMENTS: [Segment; 4] = [
    Segment {
        vni: 1000,
        vlan: 100,
        subnet: 10,
        vtep: Ipv4Addr::new(10, 0, 0, 11),
    },
    Segment {
        vni: 9000,
        vlan: 900,
        subnet: 90,
        vtep: Ipv4Addr::new(10, 0, 0, 19),
    },
    Segment {
        vni: 1100,
        vlan: 110,
        subnet: 10,
        vtep: Ipv4Addr::new(10, 0, 0, 21),
    },
    Segment {
        vni: 9100,
        vlan: 910,
        subnet: 90,
        vtep: Ipv4Addr::new(10, 0, 0, 29),
    },
];

const TENANT_LIMIT: u16 = 1000;

fn tenants_config(hosts: &[Host]) -> String {
    let segments: Vec<(&Segment, &str)> = TENANT_SEGMENTS
        .iter()
        .enumerate()
        .map(|(i, s)| (s, if i < 2 { "org-a" } else { "org-b" }))
        .collect();
    let mut c = gateway_config(&[("org-a", 10), ("org-b", 20)], &segments);
    c += &hosts_config(hosts);
    c += &format!(
        r#"
[policy]
max_sessions = 65536
tenant_max_sessions = {TENANT_LIMIT}
log_default_deny = false

[[policy.group]]
name = "training"
vnis = [1000, 1100]

[[policy.group]]
name = "storage"
vnis = [9000, 9100]

[[policy.rule]]
id = 1
from = "training"
to = "storage"
proto = "udp"
ports = [2049]
action = "allow"
"#
    );
    c
}

#[test]
fn one_tenant_filling_its_sessions_leaves_the_others_connecting() {
    let _slot = serial();
    let s = Scratch::new();
    let [a_train, a_store, b_train, b_store] =
        [0, 1, 2, 3].map(|i| Host::new(&TENANT_SEGMENTS[i], 10, Site::Fabric));
    let hosts = [a_train, a_store, b_train, b_store];

    let mut inputs: Vec<Vec<u8>> = Vec::new();
    let mut want: BTreeMap<u32, (String, bool)> = BTreeMap::new();
    let mut id = 0u32;
    let mut send = |from: &Host, to: &Host, ports: (u16, u16), pass: bool, what: String| {
        id += 1;
        let (port, f) = frame(from, to, Proto::Udp, ports, Kind::Request, id);
        assert_eq!(port, 0);
        inputs.push(f);
        want.insert(id, (what, pass));
    };
    // org-a opens three times its share: the first TENANT_LIMIT connections are admitted.
    let flood = 3 * TENANT_LIMIT;
    for i in 0..flood {
        let sport = 10000 + i;
        send(
            &a_train,
            &a_store,
            (sport, 2049),
            i < TENANT_LIMIT,
            format!("org-a connection {i}"),
        );
    }
    // org-b, with the same addresses, still connects, and its answers pass.
    let others = 200u16;
    for i in 0..others {
        let sport = 10000 + i;
        send(
            &b_train,
            &b_store,
            (sport, 2049),
            true,
            format!("org-b connection {i}"),
        );
        send(
            &b_store,
            &b_train,
            (2049, sport),
            true,
            format!("answer to org-b connection {i}"),
        );
    }
    // org-a's admitted connections still carry their answers; the refused ones have none.
    let answers = 100u16;
    for i in (0..answers).chain(TENANT_LIMIT..TENANT_LIMIT + answers) {
        send(
            &a_store,
            &a_train,
            (2049, 10000 + i),
            i < TENANT_LIMIT,
            format!("answer to org-a connection {i}"),
        );
    }

    write_pcap(&s.path(INPUTS[0]), &inputs);
    let run = run_gateway(&s, &tenants_config(&hosts), 2);
    let report = run.report.clone();
    let mut passed: BTreeMap<u32, usize> = BTreeMap::new();
    for frame in run.output(0) {
        if let Some(id) = mark_in(&frame) {
            *passed.entry(id).or_default() += 1;
        }
    }
    let wrong: Vec<String> = want
        .iter()
        .filter(|(id, (_, pass))| passed.get(id).copied().unwrap_or(0) != usize::from(*pass))
        .map(|(id, (what, pass))| {
            format!(
                "{what} (frame {id}) should {}",
                if *pass { "pass" } else { "be dropped" }
            )
        })
        .collect();
    assert!(
        wrong.is_empty(),
        "{} of {} packets went wrong:\n{}",
        wrong.len(),
        want.len(),
        wrong
            .iter()
            .take(40)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
    let refused = u64::from(flood - TENANT_LIMIT);
    assert_eq!(
        report["drops"]["session_tenant_limit"].as_u64(),
        Some(refused),
        "{report:#}"
    );
    assert_eq!(report["drops"]["session_table_full"].as_u64(), Some(0));
    // The answers to refused connections are new flows from storage: the default denies them.
    assert_eq!(
        report["drops"]["policy_denied"].as_u64(),
        Some(u64::from(answers))
    );
    let policy = &report["gateway"]["policy"];
    assert_eq!(
        policy["sessions"]["opened"].as_u64(),
        Some(u64::from(TENANT_LIMIT + others)),
        "{policy:#}"
    );
    assert_eq!(
        policy["sessions"]["active"].as_u64(),
        Some(u64::from(TENANT_LIMIT + others)),
        "{policy:#}"
    );
}
