//! Interop with the Linux kernel's own VXLAN: vtepd in a network namespace, its ports DPDK
//! `net_af_packet` devices on veths (multi-segment TX, so floods take the zero-copy path),
//! kernel VTEPs and tenant hosts in other namespaces, real pings across.
//!
//! Needs root, iproute2, iputils-ping and tcpdump; skipped (with a message) without them.

mod common;

use std::net::Ipv4Addr;
use std::process::Output;
use std::time::Duration;

use common::api::{Api, Proxy};
use common::netns::{self, veth, Netns};
use common::{serial, Outcome, Scratch, Vtepd};

/// vtepd's ports: the underlay veth first (port 0), then the access veth.
fn vtepd_on(scratch: &Scratch, config: &str) -> Vtepd {
    Vtepd::new(scratch, config)
        .vdev("net_af_packet0,iface=und")
        .vdev("net_af_packet1,iface=acc")
}

/// A kernel VXLAN VTEP: `eth0` (the underlay, `underlay` on it; IPv6 left on for an IPv6
/// underlay) and `vxlan0` (VNI 5000, `tenant` on it). `remote`: the kernel's default
/// destination; without one the caller adds head-end replication entries (`bridge fdb
/// append 00:00:00:00:00:00 dev vxlan0 dst ...`).
fn kernel_vtep(ns: &Netns, underlay: &str, local: &str, remote: Option<&str>, tenant: &str) {
    if underlay.contains(':') {
        ns.up("eth0");
    } else {
        ns.quiet_up("eth0");
    }
    ns.addr("eth0", underlay);
    let mut args = vec![
        "link", "add", "vxlan0", "type", "vxlan", "id", "5000", "dstport", "4789", "local", local,
    ];
    if let Some(r) = remote {
        args.extend(["remote", r]);
    }
    args.extend(["dev", "eth0"]);
    ns.ip(&args);
    ns.quiet_up("vxlan0");
    ns.addr("vxlan0", tenant);
}

/// Waits until vtepd's own ARP request / neighbour solicitation for the kernel VTEP has
/// taught the kernel vtepd's address `vtepd_ip` (so vtepd resolves by itself), then makes
/// the kernel forget it again: its next packet to vtepd needs vtepd's ARP/ND responder.
fn kernel_learned_vtepd_then_forget(ns: &Netns, vtepd_ip: &str) {
    let learned = netns::wait_until(Duration::from_secs(20), Duration::from_millis(50), || {
        ns.ip(&["neigh", "show", vtepd_ip, "dev", "eth0"])
            .contains("lladdr")
    });
    assert!(
        learned,
        "vtepd never solicited the kernel VTEP from {vtepd_ip}: {}",
        ns.ip(&["neigh", "show"])
    );
    ns.ip(&["neigh", "flush", "dev", "eth0"]);
}

fn tenant_host(ns: &Netns, addr: &str) {
    ns.quiet_up("eth0");
    ns.addr("eth0", addr);
}

/// Asserts every ping got through, with vtepd's counters and log on failure.
fn assert_pings(pings: &[(&str, &Output)], out: &Outcome) {
    for (what, p) in pings {
        let text = String::from_utf8_lossy(&p.stdout);
        assert!(
            p.status.success() && text.contains(" 0% packet loss"),
            "{what} failed ({}):\n{text}{}\nvtepd stdout:\n{}\nvtepd stderr:\n{}",
            p.status,
            String::from_utf8_lossy(&p.stderr),
            out.stdout,
            out.stderr
        );
    }
}

fn report(out: &Outcome) -> &serde_json::Value {
    out.assert_success();
    let r = out.report.as_ref().expect("final stats written");
    assert_eq!(r["mempool"]["in_use_at_exit"], 0, "mbuf leak: {r:#}");
    r
}

fn u64_at(v: &serde_json::Value, path: &[&str]) -> u64 {
    let mut cur = v;
    for p in path {
        cur = match p.parse::<usize>() {
            Ok(i) => &cur[i],
            Err(_) => &cur[*p],
        };
    }
    cur.as_u64()
        .unwrap_or_else(|| panic!("no counter {path:?} in {v:#}"))
}

const ONE_VTEP_V4: &str = r#"
[underlay]
port = "net_af_packet0"
addresses = ["10.0.0.1/24"]

[[access]]
port = "net_af_packet1"
untagged_vni = 5000

[[vni]]
id = 5000
flood = ["10.0.0.2"]
"#;

/// One kernel VTEP over IPv4, vtepd resolving it by ARP itself (no next_hop_mac): pings
/// both ways between the kernel VTEP's own tenant address and a host on vtepd's access port.
#[test]
fn kernel_vtep_over_ipv4() {
    if !netns::capable(&["ping"]) {
        return;
    }
    let _slot = serial();
    let s = Scratch::new();
    let (v, a, b) = (Netns::new(), Netns::new(), Netns::new());
    veth(&v, "und", &a, "eth0");
    veth(&v, "acc", &b, "eth0");
    v.quiet_up("und");
    v.quiet_up("acc");
    kernel_vtep(
        &a,
        "10.0.0.2/24",
        "10.0.0.2",
        Some("10.0.0.1"),
        "192.168.1.1/24",
    );
    tenant_host(&b, "192.168.1.2/24");

    let vtepd = v.vtepd(vtepd_on(&s, ONE_VTEP_V4));
    kernel_learned_vtepd_then_forget(&a, "10.0.0.1");
    let a_to_b = a.ping("192.168.1.2", 3);
    let b_to_a = b.ping("192.168.1.1", 3);
    let out = vtepd.stop();
    assert_pings(
        &[
            ("ping from the kernel VTEP to the tenant", &a_to_b),
            ("ping from the tenant to the kernel VTEP", &b_to_a),
        ],
        &out,
    );
    let r = report(&out);
    // vtepd asked for 10.0.0.2 itself, and answered the kernel's ARP for 10.0.0.1 (which
    // the kernel had forgotten).
    assert!(u64_at(r, &["gateway", "generated"]) >= 1, "{r:#}");
    assert!(
        u64_at(r, &["gateway", "local", "arp_replies"]) >= 1,
        "{r:#}"
    );
    // 6 echo requests and replies each way, plus ARP.
    assert!(
        u64_at(r, &["gateway", "vnis", "0", "encap_packets"]) >= 6,
        "{r:#}"
    );
    assert!(
        u64_at(r, &["gateway", "vnis", "0", "decap_packets"]) >= 6,
        "{r:#}"
    );
    // The kernel VTEP's vxlan0 MAC behind 10.0.0.2, the tenant's behind the access port.
    assert_eq!(u64_at(r, &["gateway", "vnis", "0", "macs"]), 2, "{r:#}");
}

const TWO_VTEPS: &str = r#"
[underlay]
port = "net_af_packet0"
addresses = ["10.0.0.1/24"]

[[access]]
port = "net_af_packet1"
untagged_vni = 5000

[[vni]]
id = 5000
flood = ["10.0.0.2", "10.0.0.3"]
"#;

/// ARP requests (op 1) in a capture, as (sender IP, target IP).
fn arp_requests(frames: &[Vec<u8>]) -> Vec<(Ipv4Addr, Ipv4Addr)> {
    frames
        .iter()
        .filter(|f| f.get(12..14) == Some(&[0x08, 0x06]) && f.get(20..22) == Some(&[0, 1]))
        .filter_map(|f| {
            let ip = |at: usize| -> Option<Ipv4Addr> {
                let b: [u8; 4] = f.get(at..at + 4)?.try_into().ok()?;
                Some(Ipv4Addr::from(b))
            };
            Some((ip(28)?, ip(38)?))
        })
        .collect()
}

/// Two kernel VTEPs behind a Linux bridge, with head-end replication lists naming each other
/// and vtepd: a broadcast from vtepd's tenant is replicated to both. Each kernel VTEP's
/// vxlan0 sees the tenant's ARP request for the *other* VTEP's address, which only the flood
/// can have brought; pings to hosts behind both work.
#[test]
fn floods_reach_two_kernel_vteps() {
    if !netns::capable(&["ping", "tcpdump", "bridge"]) {
        return;
    }
    let _slot = serial();
    let s = Scratch::new();
    let (v, fabric, a, c, b) = (
        Netns::new(),
        Netns::new(),
        Netns::new(),
        Netns::new(),
        Netns::new(),
    );
    fabric.ip(&["link", "add", "br0", "type", "bridge"]);
    fabric.quiet_up("br0");
    veth(&v, "und", &fabric, "p0");
    veth(&a, "eth0", &fabric, "p1");
    veth(&c, "eth0", &fabric, "p2");
    for p in ["p0", "p1", "p2"] {
        fabric.no_ipv6(p);
        fabric.ip(&["link", "set", p, "master", "br0"]);
        fabric.up(p);
    }
    veth(&v, "acc", &b, "eth0");
    v.quiet_up("und");
    v.quiet_up("acc");
    for (ns, me, tenant, others) in [
        (&a, "10.0.0.2", "192.168.1.1/24", ["10.0.0.1", "10.0.0.3"]),
        (&c, "10.0.0.3", "192.168.1.3/24", ["10.0.0.1", "10.0.0.2"]),
    ] {
        kernel_vtep(ns, &format!("{me}/24"), me, None, tenant);
        for dst in others {
            ns.ok(&[
                "bridge",
                "fdb",
                "append",
                "00:00:00:00:00:00",
                "dev",
                "vxlan0",
                "dst",
                dst,
            ]);
        }
    }
    tenant_host(&b, "192.168.1.2/24");

    let cap_a = a.capture("vxlan0", &s.path("a.pcap"), "arp");
    let cap_c = c.capture("vxlan0", &s.path("c.pcap"), "arp");
    let vtepd = v.vtepd(vtepd_on(&s, TWO_VTEPS));
    let to_a = b.ping("192.168.1.1", 3);
    let to_c = b.ping("192.168.1.3", 3);
    let out = vtepd.stop();
    let seen_a = arp_requests(&cap_a.finish());
    let seen_c = arp_requests(&cap_c.finish());
    assert_pings(
        &[
            ("ping to the host behind VTEP 10.0.0.2", &to_a),
            ("ping to the host behind VTEP 10.0.0.3", &to_c),
        ],
        &out,
    );
    let tenant: Ipv4Addr = "192.168.1.2".parse().unwrap();
    let (host_a, host_c): (Ipv4Addr, Ipv4Addr) = (
        "192.168.1.1".parse().unwrap(),
        "192.168.1.3".parse().unwrap(),
    );
    for (vtep, seen) in [("10.0.0.2", &seen_a), ("10.0.0.3", &seen_c)] {
        for target in [host_a, host_c] {
            assert!(
                seen.contains(&(tenant, target)),
                "VTEP {vtep} did not get the tenant's ARP request for {target}: {seen:?}\n{}",
                out.stdout
            );
        }
    }
    let r = report(&out);
    // Two broadcasts from the tenant (at least), each copied to both VTEPs; the chained
    // (zero-copy) replication was in use on these ports.
    assert!(
        u64_at(r, &["gateway", "vnis", "0", "flood_copies"]) >= 4,
        "{r:#}"
    );
    assert!(u64_at(r, &["gateway", "replicas"]) >= 2, "{r:#}");
    assert!(
        out.stderr.contains("flood copies zero-copy"),
        "af_packet ports should take the chained-buffer flood path:\n{}",
        out.stderr
    );
    assert!(u64_at(r, &["gateway", "generated"]) >= 2, "{r:#}");
}

const ONE_VTEP_V6: &str = r#"
[underlay]
port = "net_af_packet0"
addresses = ["fd00::1/64"]

[[access]]
port = "net_af_packet1"
untagged_vni = 5000

[[vni]]
id = 5000
flood = ["fd00::2"]
"#;

/// As `kernel_vtep_over_ipv4` over an IPv6 underlay, vtepd resolving the kernel VTEP with
/// neighbour discovery. The kernel drops IPv6 VXLAN packets with a zero or wrong UDP
/// checksum (udp6zerocsumrx is off by default), so the pings also prove vtepd's software
/// outer UDP checksum.
#[test]
fn kernel_vtep_over_ipv6() {
    if !netns::capable(&["ping", "ethtool"]) {
        return;
    }
    let _slot = serial();
    let s = Scratch::new();
    let (v, a, b) = (Netns::new(), Netns::new(), Netns::new());
    veth(&v, "und", &a, "eth0");
    veth(&v, "acc", &b, "eth0");
    // A veth passes on the kernel's UDP checksums unfinished, left for a NIC to complete
    // (CHECKSUM_PARTIAL), and AF_PACKET delivers them so; vtepd verifies the UDP checksum of
    // IPv6 VXLAN, so the kernel VTEP must finish them itself, as it would before a real NIC
    // without checksum offload (OVS asks the same of veths on its AF_PACKET ports).
    a.ok(&["ethtool", "-K", "eth0", "tx", "off"]);
    v.quiet_up("und");
    v.quiet_up("acc");
    kernel_vtep(
        &a,
        "fd00::2/64",
        "fd00::2",
        Some("fd00::1"),
        "192.168.1.1/24",
    );
    tenant_host(&b, "192.168.1.2/24");

    let vtepd = v.vtepd(vtepd_on(&s, ONE_VTEP_V6));
    kernel_learned_vtepd_then_forget(&a, "fd00::1");
    let a_to_b = a.ping("192.168.1.2", 3);
    let b_to_a = b.ping("192.168.1.1", 3);
    let out = vtepd.stop();
    assert_pings(
        &[
            (
                "ping from the kernel VTEP to the tenant (IPv6 underlay)",
                &a_to_b,
            ),
            (
                "ping from the tenant to the kernel VTEP (IPv6 underlay)",
                &b_to_a,
            ),
        ],
        &out,
    );
    let r = report(&out);
    assert!(u64_at(r, &["gateway", "generated"]) >= 1, "{r:#}");
    assert!(u64_at(r, &["gateway", "local", "nd_replies"]) >= 1, "{r:#}");
    assert!(
        u64_at(r, &["gateway", "vnis", "0", "encap_packets"]) >= 6,
        "{r:#}"
    );
    assert!(
        u64_at(r, &["gateway", "vnis", "0", "decap_packets"]) >= 6,
        "{r:#}"
    );
    assert!(
        out.stderr.contains("outer UDP checksum (IPv6) software"),
        "af_packet has no checksum offload: the checksum is vtepd's own\n{}",
        out.stderr
    );
}

/// VNI 5000 on the standard port, VNI 1 on flannel's 8472, one kernel VTEP with both.
const TWO_UDP_PORTS: &str = r#"
[underlay]
port = "net_af_packet0"
addresses = ["10.0.0.1/24"]

[[access]]
port = "net_af_packet1"
untagged_vni = 5000

[[access]]
port = "net_af_packet2"
untagged_vni = 1

[[vni]]
id = 5000
flood = ["10.0.0.2"]

[[vni]]
id = 1
vxlan_port = 8472
flood = ["10.0.0.2"]
"#;

/// The kernel VTEP's device for VNI 1 on UDP port `dstport`, always with the same MAC (so
/// that the hosts' ARP caches stay right when it is made again on another port).
fn flannel_device(ns: &Netns, dstport: &str) {
    ns.ip(&[
        "link",
        "add",
        "vxlan1",
        "address",
        "02:00:00:00:01:01",
        "type",
        "vxlan",
        "id",
        "1",
        "dstport",
        dstport,
        "local",
        "10.0.0.2",
        "remote",
        "10.0.0.1",
        "dev",
        "eth0",
    ]);
    ns.quiet_up("vxlan1");
    ns.addr("vxlan1", "192.168.2.1/24");
}

/// A Linux VTEP with one VXLAN device on port 4789 (VNI 5000) and one on 8472 (VNI 1, as
/// flannel makes it): vtepd receives on both ports at once and sends each VNI's packets to
/// its own port (the kernel listens on each device's port only, so every answer proves it).
/// A reload moves VNI 1 to port 4096: 8472 closes (what the kernel still sends there is
/// dropped as `udp_port_closed`) while VNI 5000 keeps working, and once the kernel's device
/// is on 4096 too, VNI 1 works again.
#[test]
fn kernel_vtep_on_two_udp_ports_and_a_port_moved_by_reload() {
    if !netns::capable(&["ping"]) {
        return;
    }
    let _slot = serial();
    let s = Scratch::new();
    let (v, a, b, c) = (Netns::new(), Netns::new(), Netns::new(), Netns::new());
    veth(&v, "und", &a, "eth0");
    veth(&v, "acc", &b, "eth0");
    veth(&v, "acc2", &c, "eth0");
    for i in ["und", "acc", "acc2"] {
        v.quiet_up(i);
    }
    kernel_vtep(
        &a,
        "10.0.0.2/24",
        "10.0.0.2",
        Some("10.0.0.1"),
        "192.168.1.1/24",
    );
    flannel_device(&a, "8472");
    tenant_host(&b, "192.168.1.2/24");
    tenant_host(&c, "192.168.2.2/24");

    let run = vtepd_on(&s, TWO_UDP_PORTS).vdev("net_af_packet2,iface=acc2");
    let port = run.api_port().expect("the harness's API port");
    let config_path = run.config_path();
    let vtepd = v.vtepd(run);
    let (_proxy, local) = Proxy::start(&v, port);
    let api = Api::new(format!("http://127.0.0.1:{local}"));
    kernel_learned_vtepd_then_forget(&a, "10.0.0.1");
    let both_ports = [
        a.ping("192.168.1.2", 3),
        b.ping("192.168.1.1", 3),
        a.ping("192.168.2.2", 3),
        c.ping("192.168.2.1", 3),
    ];
    let vnis = api.get_ok("/api/v1/vnis");

    // VNI 1 to port 4096; the kernel still sends it to 8472.
    let file = std::fs::read_to_string(&config_path).expect("the running configuration");
    std::fs::write(
        &config_path,
        file.replace("vxlan_port = 8472", "vxlan_port = 4096"),
    )
    .expect("rewrite the configuration");
    assert_eq!(api.call("POST", "/api/v1/reload", None).status, 200);
    let stale = a.ping("192.168.2.2", 2);
    let closed = api.get_ok("/api/v1/stats")["drops"]["udp_port_closed"]
        .as_u64()
        .unwrap_or(0);
    let standard_after_reload = a.ping("192.168.1.2", 3);
    a.ip(&["link", "del", "vxlan1"]);
    flannel_device(&a, "4096");
    let moved = [a.ping("192.168.2.2", 3), c.ping("192.168.2.1", 3)];
    let out = vtepd.stop();

    assert_pings(
        &[
            ("VNI 5000 (4789) kernel -> access", &both_ports[0]),
            ("VNI 5000 (4789) access -> kernel", &both_ports[1]),
            ("VNI 1 (8472) kernel -> access", &both_ports[2]),
            ("VNI 1 (8472) access -> kernel", &both_ports[3]),
            ("VNI 5000 after the reload", &standard_after_reload),
            ("VNI 1 (4096) kernel -> access", &moved[0]),
            ("VNI 1 (4096) access -> kernel", &moved[1]),
        ],
        &out,
    );
    assert!(
        !stale.status.success(),
        "VNI 1 still reached over 8472 after the reload moved it:\n{}",
        String::from_utf8_lossy(&stale.stdout)
    );
    assert!(
        closed >= 1,
        "the kernel's packets to the closed 8472 were not counted as udp_port_closed"
    );
    let shown = vnis.as_array().expect("a VNI list");
    let shown_port = |id: u64| {
        shown
            .iter()
            .find(|v| v["id"].as_u64() == Some(id))
            .map(|v| v["vxlan_port"].clone())
    };
    assert_eq!(shown_port(1), Some(serde_json::json!(8472)), "{vnis:#}");
    assert_eq!(shown_port(5000), Some(serde_json::Value::Null), "{vnis:#}");
    let r = report(&out);
    assert_eq!(out.drop_count("vxlan_port_mismatch"), 0, "{r:#}");
    let vni = |id: u64| {
        r["gateway"]["vnis"]
            .as_array()
            .and_then(|vs| vs.iter().find(|v| v["id"].as_u64() == Some(id)))
            .unwrap_or_else(|| panic!("VNI {id} in {r:#}"))
    };
    for id in [1, 5000] {
        // Echo requests and replies each way, before and after the reload.
        assert!(vni(id)["decap_packets"].as_u64() >= Some(6), "{r:#}");
        assert!(vni(id)["encap_packets"].as_u64() >= Some(6), "{r:#}");
    }
}
