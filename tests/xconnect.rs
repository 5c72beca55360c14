//! The cross-connect through the real binary: every frame out, byte for byte, in order.

mod common;

use common::{read_pcap, serial, write_pcap, Scratch, Vtepd};
use etherparse::PacketBuilder;

const CONFIG: &str = "[xconnect]\nports = [\"net_pcap0\", \"net_pcap1\"]\n";

/// Frames of many sizes and kinds (built by etherparse, independently of vtepd's wire code).
fn frames(n: usize) -> Vec<Vec<u8>> {
    (0..n)
        .map(|i| {
            let payload: Vec<u8> = (0..(18 + (i * 53) % 1400)).map(|k| (k + i) as u8).collect();
            let mac = [2, 0, 0, 0, (i >> 8) as u8, i as u8];
            let b = PacketBuilder::ethernet2(mac, [2, 0, 0, 0, 0xff, 1]);
            let mut out = Vec::new();
            if i % 2 == 0 {
                b.ipv4([192, 168, 1, 1], [192, 168, 1, 2], 64)
                    .udp(1000 + i as u16, 9999)
                    .write(&mut out, &payload)
                    .unwrap();
            } else {
                b.single_vlan(etherparse::VlanId::try_new(((i % 4094) + 1) as u16).unwrap())
                    .ipv6([0xfd; 16], [0xfe; 16], 64)
                    .tcp(1000 + i as u16, 80, i as u32, 1024)
                    .write(&mut out, &payload)
                    .unwrap();
            }
            out
        })
        .collect()
}

#[test]
fn copies_every_frame_byte_for_byte_in_order() {
    let _slot = serial();
    let s = Scratch::new();
    let input = frames(2000);
    write_pcap(&s.path("in.pcap"), &input);
    let out = Vtepd::new(&s, CONFIG)
        .vdev(format!("net_pcap0,rx_pcap={}", s.path("in.pcap").display()))
        .vdev(format!(
            "net_pcap1,tx_pcap={}",
            s.path("out.pcap").display()
        ))
        .run_until_idle(300);
    out.assert_success();
    let output = read_pcap(&s.path("out.pcap"));
    assert_eq!(output.len(), input.len(), "frame count");
    for (i, (a, b)) in input.iter().zip(&output).enumerate() {
        assert_eq!(a, b, "frame {i} differs");
    }
    let report = out.report.as_ref().unwrap();
    assert_eq!(report["ports"][0]["rx_packets"], 2000);
    assert_eq!(report["ports"][1]["tx_packets"], 2000);
    assert_eq!(report["totals"]["dropped"], 0);
    assert_eq!(report["mempool"]["in_use_at_exit"], 0, "mbuf leak");
    assert!(out.stdout.contains("vtepd final counters"));
}

/// `workers.idle_sleep_us`: an idle worker sleeps between polls instead of spinning, and
/// loses nothing of the traffic that wakes it.
#[test]
fn the_idle_back_off_sleeps_when_idle_and_forwards_everything() {
    let _slot = serial();
    let run = |config: &str| {
        let s = Scratch::new();
        let input = frames(500);
        write_pcap(&s.path("in.pcap"), &input);
        let out = Vtepd::new(&s, config)
            .vdev(format!("net_pcap0,rx_pcap={}", s.path("in.pcap").display()))
            .vdev(format!(
                "net_pcap1,tx_pcap={}",
                s.path("out.pcap").display()
            ))
            .run_until_idle(400);
        out.assert_success();
        assert_eq!(read_pcap(&s.path("out.pcap")), input, "{config}");
        let w = out.report.as_ref().unwrap()["workers"][0].clone();
        (
            w["idle_polls"].as_u64().unwrap(),
            w["idle_sleeps"].as_u64().unwrap(),
        )
    };
    let (spinning, none) = run(CONFIG);
    assert_eq!(none, 0, "off by default");
    let (backing_off, sleeps) = run(&format!("{CONFIG}\n[workers]\nidle_sleep_us = 500\n"));
    // 400 ms or more idle, one sleep per 0.5 ms (and the kernel's slack) after the first
    // idle millisecond.
    assert!((100..=5000).contains(&sleeps), "{sleeps} sleeps");
    assert!(
        backing_off * 10 < spinning,
        "idle polls {backing_off} with the back-off, {spinning} without"
    );
}

#[test]
fn forwards_both_directions() {
    let _slot = serial();
    let s = Scratch::new();
    let a: Vec<Vec<u8>> = frames(300);
    let b: Vec<Vec<u8>> = frames(200).into_iter().rev().collect();
    write_pcap(&s.path("a.pcap"), &a);
    write_pcap(&s.path("b.pcap"), &b);
    let out = Vtepd::new(&s, CONFIG)
        .vdev(format!(
            "net_pcap0,rx_pcap={},tx_pcap={}",
            s.path("a.pcap").display(),
            s.path("a-out.pcap").display()
        ))
        .vdev(format!(
            "net_pcap1,rx_pcap={},tx_pcap={}",
            s.path("b.pcap").display(),
            s.path("b-out.pcap").display()
        ))
        .run_until_idle(300);
    out.assert_success();
    assert_eq!(read_pcap(&s.path("b-out.pcap")), a);
    assert_eq!(read_pcap(&s.path("a-out.pcap")), b);
}

#[test]
fn sigint_stops_cleanly_with_counters() {
    let _slot = serial();
    let s = Scratch::new();
    write_pcap(&s.path("in.pcap"), &frames(64));
    let running = Vtepd::new(&s, "[xconnect]\nports = [\"net_pcap0\", \"net_null0\"]\n")
        .vdev(format!(
            "net_pcap0,rx_pcap={},infinite_rx=1",
            s.path("in.pcap").display()
        ))
        .vdev("net_null0,no-rx=1")
        .spawn();
    std::thread::sleep(std::time::Duration::from_millis(500));
    let out = running.stop();
    out.assert_success();
    let report = out.report.as_ref().expect("final stats written");
    let rx = report["ports"][0]["rx_packets"].as_u64().unwrap();
    let tx = report["ports"][1]["tx_packets"].as_u64().unwrap();
    assert!(rx > 1000, "traffic flowed: {rx}");
    assert_eq!(rx, tx + report["totals"]["dropped"].as_u64().unwrap());
    assert!(out.stderr.contains("signal received"), "{}", out.stderr);
}
