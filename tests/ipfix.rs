//! The IPFIX connection log as an independent collector decodes it: vtepd's `Exporter` sends
//! to a real `nfcapd` (Debian's nfdump), and `nfdump -o raw` reads back what it stored.
//!
//! nfdump 1.7 decodes addresses, ports, protocol, times, packet and byte counts, the RFC 5103
//! reverse counts (its "out" counts), flowEndReason, biflowDirection and ingressVRFID; it skips
//! firewallEvent, layer2SegmentId and enterprise elements it does not know (the rule id), so
//! those are checked by the unit tests of `vtepd::wire::ipfix` only.

mod common;

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use common::nfdump::{nfdump_raw, Nfcapd};
use common::Scratch;
use vtepd::control::ipfix::Exporter;
use vtepd::wire::ipfix::{EndReason, FlowEvent, FlowRecord, MIN_MESSAGE_LIMIT};

const OBSERVATION_DOMAIN: u32 = 4242;

fn flow(event: FlowEvent, src: &str, dst: &str, ports: (u16, u16), protocol: u8) -> FlowRecord {
    FlowRecord {
        event,
        src: src.parse().unwrap(),
        dst: dst.parse().unwrap(),
        src_port: ports.0,
        dst_port: ports.1,
        protocol,
        src_vni: 5000,
        dst_vni: 5001,
        src_encap: Default::default(),
        dst_encap: Default::default(),
        vrf: 0,
        rule_id: 0,
        packets: 0,
        bytes: 0,
        reverse_packets: 0,
        reverse_bytes: 0,
        start_ms: 1_700_000_000_000,
        end_ms: 1_700_000_000_000,
    }
}

fn records() -> Vec<FlowRecord> {
    let started = FlowRecord {
        vrf: 7,
        rule_id: 12,
        packets: 1,
        bytes: 60,
        ..flow(FlowEvent::Started, "10.1.0.1", "10.2.0.2", (40001, 443), 6)
    };
    let ended = FlowRecord {
        vrf: 7,
        rule_id: 12,
        packets: 12,
        bytes: 3_400,
        reverse_packets: 10,
        reverse_bytes: 45_678,
        start_ms: 1_700_000_000_250,
        end_ms: 1_700_000_009_750,
        ..flow(
            FlowEvent::Ended(EndReason::EndOfFlow),
            "10.1.0.5",
            "10.2.0.6",
            (40002, 8443),
            6,
        )
    };
    let denied = FlowRecord {
        rule_id: 99,
        packets: 1,
        bytes: 80,
        ..flow(FlowEvent::Denied, "10.1.0.3", "10.2.0.4", (5353, 53), 17)
    };
    // Echo request: type 8, code 0 in the destination port.
    let ping = FlowRecord {
        packets: 3,
        bytes: 252,
        ..flow(FlowEvent::Denied, "10.1.0.9", "10.2.0.9", (0, 8 << 8), 1)
    };
    let started6 = FlowRecord {
        vrf: 8,
        packets: 2,
        bytes: 152,
        ..flow(
            FlowEvent::Started,
            "2001:db8:1::10",
            "2001:db8:2::20",
            (50000, 22),
            6,
        )
    };
    let ended6 = FlowRecord {
        vrf: 8,
        packets: 40,
        bytes: 4_000_000_000_000,
        reverse_packets: 30,
        reverse_bytes: 3_000,
        end_ms: 1_700_000_060_000,
        ..flow(
            FlowEvent::Ended(EndReason::IdleTimeout),
            "2001:db8:1::11",
            "2001:db8:2::21",
            (50001, 53),
            17,
        )
    };
    let denied6 = FlowRecord {
        packets: 1,
        bytes: 80,
        ..flow(
            FlowEvent::Denied,
            "2001:db8:1::12",
            "2001:db8:2::22",
            (50002, 25),
            6,
        )
    };
    vec![started, ended, denied, ping, started6, ended6, denied6]
}

#[test]
fn nfdump_decodes_the_connection_log() {
    let scratch = Scratch::new();
    let mut nfcapd = Nfcapd::start(&scratch, None);
    // Small messages, so the records span several and nfcapd checks the sequence numbers.
    let mut exporter = Exporter::new(
        vec![nfcapd.addr],
        OBSERVATION_DOMAIN,
        Duration::from_secs(60),
    )
    .unwrap()
    .with_message_limit(MIN_MESSAGE_LIMIT);
    let sent = records();
    let now = SystemTime::now();
    exporter.export(&sent[..4], now);
    exporter.export(&sent[4..], now + Duration::from_secs(1));
    let stats = exporter.stats();
    assert_eq!(stats.records_sent, 7);
    assert_eq!(stats.send_errors, 0);
    nfcapd.wait_for_log("New ipfix exporter");
    // The rest of the messages were queued with the first one; let it read them.
    std::thread::sleep(Duration::from_millis(500));
    let (log, files) = nfcapd.stop();
    assert!(
        log.contains("Flows: 7,") && log.contains("Sequence Errors: 0,"),
        "nfcapd did not take all 7 flows in sequence:\n{log}"
    );
    assert!(!files.is_empty(), "nfcapd wrote no file:\n{log}");
    let decoded: Vec<HashMap<String, String>> = files.iter().flat_map(|f| nfdump_raw(f)).collect();
    assert_eq!(decoded.len(), sent.len(), "{decoded:#?}");

    for r in &sent {
        let src = r.src.to_string();
        let d = decoded
            .iter()
            .find(|d| d.get("src addr") == Some(&src))
            .unwrap_or_else(|| panic!("no record from {src}: {decoded:#?}"));
        let get = |key: &str| -> &str {
            d.get(key)
                .unwrap_or_else(|| panic!("{src}: no {key:?} in {d:#?}"))
        };
        let context = format!("{src}: {d:#?}");
        assert_eq!(get("dst addr"), r.dst.to_string(), "{context}");
        assert_eq!(get("proto"), r.protocol.to_string(), "{context}");
        if r.protocol == 1 {
            let (ty, code) = (r.dst_port >> 8, r.dst_port & 0xff);
            assert_eq!(get("ICMP"), format!("{ty}.{code}"), "{context}");
        } else {
            assert_eq!(get("src port"), r.src_port.to_string(), "{context}");
            assert_eq!(get("dst port"), r.dst_port.to_string(), "{context}");
        }
        assert_eq!(get("in packets"), r.packets.to_string(), "{context}");
        assert_eq!(get("in bytes"), r.bytes.to_string(), "{context}");
        assert_eq!(
            get("out packets"),
            r.reverse_packets.to_string(),
            "{context}"
        );
        assert_eq!(get("out bytes"), r.reverse_bytes.to_string(), "{context}");
        assert_eq!(get("first"), r.start_ms.to_string(), "{context}");
        assert_eq!(get("last"), r.end_ms.to_string(), "{context}");
        assert_eq!(
            get("end reason"),
            format!("0x{:02x}", r.event.end_reason()),
            "{context}"
        );
        assert_eq!(get("biFlow Dir"), "0x01", "initiator: {context}");
        assert_eq!(get("ingress VRF"), r.vrf.to_string(), "{context}");
    }
}
