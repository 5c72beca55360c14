//! Underlay multicast groups that change at runtime: a VNI moved to another group through
//! the API makes vtepd report the join (IGMPv3) and the leave of the old group at once, and
//! accept the new group's traffic, which it dropped as `not_local` before. The peer is a
//! Linux kernel VXLAN VTEP flooding to that group.
//!
//! Needs root, iproute2, iputils-ping, bridge and tcpdump; skipped (with a message) without.

mod common;

use std::time::Duration;

use common::api::{Api, Proxy};
use common::netns::{self, veth, Netns};
use common::{serial, Scratch, Vtepd};

const CONFIG: &str = r#"
[underlay]
port = "net_af_packet0"
addresses = ["10.0.0.1/24"]

[[access]]
port = "net_af_packet1"
untagged_vni = 200

[[vni]]
id = 200
multicast_group = "239.1.1.1"
"#;

/// The IGMPv3 group records (type, group) of the reports in `frames`.
fn igmp_records(frames: &[Vec<u8>]) -> Vec<(u8, [u8; 4])> {
    let mut out = Vec::new();
    for f in frames {
        let Ok((eth, rest)) = etherparse::Ethernet2Header::from_slice(f) else {
            continue;
        };
        if eth.ether_type != etherparse::EtherType::IPV4 {
            continue;
        }
        let Ok((ip, payload)) = etherparse::Ipv4Header::from_slice(rest) else {
            continue;
        };
        if ip.protocol != etherparse::IpNumber(2) || payload.first() != Some(&0x22) {
            continue;
        }
        let n = payload
            .get(6..8)
            .map_or(0, |b| u16::from_be_bytes([b[0], b[1]]));
        for i in 0..usize::from(n) {
            let at = 8 + i * 8;
            if let Some(r) = payload.get(at..at + 8) {
                out.push((r[0], [r[4], r[5], r[6], r[7]]));
            }
        }
    }
    out
}

#[test]
fn a_vni_moved_to_another_group_joins_it_and_leaves_the_old_one() {
    if !netns::capable(&["ping", "bridge", "tcpdump"]) {
        return;
    }
    let _slot = serial();
    let s = Scratch::new();
    let (v, fabric, host, acc) = (Netns::new(), Netns::new(), Netns::new(), Netns::new());
    fabric.ip(&[
        "link",
        "add",
        "br0",
        "type",
        "bridge",
        "mcast_snooping",
        "0",
    ]);
    fabric.quiet_up("br0");
    veth(&v, "und", &fabric, "p0");
    veth(&host, "eth0", &fabric, "p1");
    for p in ["p0", "p1"] {
        fabric.no_ipv6(p);
        fabric.ip(&["link", "set", p, "master", "br0"]);
        fabric.up(p);
    }
    veth(&v, "acc", &acc, "eth0");
    v.quiet_up("und");
    v.quiet_up("acc");
    // The kernel VTEP floods VNI 200 to 239.1.1.5 (not vtepd's group yet).
    host.quiet_up("eth0");
    host.addr("eth0", "10.0.0.2/24");
    host.ip(&[
        "link",
        "add",
        "vxlan0",
        "type",
        "vxlan",
        "id",
        "200",
        "dstport",
        "4789",
        "local",
        "10.0.0.2",
        "group",
        "239.1.1.5",
        "dev",
        "eth0",
    ]);
    host.quiet_up("vxlan0");
    host.addr("vxlan0", "192.168.200.2/24");
    acc.quiet_up("eth0");
    acc.addr("eth0", "192.168.200.3/24");

    let run = Vtepd::new(&s, CONFIG)
        .vdev("net_af_packet0,iface=und")
        .vdev("net_af_packet1,iface=acc");
    let port = run.api_port().expect("the harness's API port");
    let vtepd = v.vtepd(run);
    let (_proxy, local) = Proxy::start(&v, port);
    let api = Api::new(format!("http://127.0.0.1:{local}"));
    let not_local = || {
        api.get_ok("/api/v1/stats")["drops"]["not_local"]
            .as_u64()
            .unwrap_or(0)
    };

    // Another group's floods are not vtepd's: the host's ARP requests are dropped.
    let before = not_local();
    assert!(!host.ping("192.168.200.3", 2).status.success());
    assert!(not_local() > before, "the group's floods were not seen");

    let cap = fabric.capture("p0", &s.path("igmp.pcap"), "igmp");
    let moved = api.expect(
        200,
        "PATCH",
        "/api/v1/vnis/200",
        Some(&serde_json::json!({"multicast_group": "239.1.1.5"})),
    );
    assert_eq!(moved["multicast_group"], "239.1.1.5", "{moved:#}");
    let ok = netns::wait_until(Duration::from_secs(10), Duration::from_millis(200), || {
        host.ping("192.168.200.3", 1).status.success()
    });
    assert!(ok, "the new group's traffic is not accepted");
    std::thread::sleep(Duration::from_millis(300));
    let records = igmp_records(&cap.finish());
    // RFC 3376 §4.2.12: CHANGE_TO_EXCLUDE_MODE {} joins, CHANGE_TO_INCLUDE_MODE {} leaves.
    assert!(
        records.contains(&(4, [239, 1, 1, 5])),
        "no join: {records:?}"
    );
    assert!(
        records.contains(&(3, [239, 1, 1, 1])),
        "no leave: {records:?}"
    );

    let out = vtepd.stop();
    out.assert_success();
}
