//! Resource exhaustion: an empty mempool, a full TX ring and a full table-update queue each
//! degrade into counted drops (or counted deferrals), never into a hang or a crash, and vtepd
//! recovers by itself once the pressure goes.
//!
//! The TX sink that does not drain is DPDK's `net_ring` as the underlay port. Created from
//! `--vdev net_ring0` it is a single ring of 1024 slots that the port both transmits into and
//! receives from (a loopback, DPDK 22.11 drivers/net/ring), and nothing but vtepd's own RX
//! poll (32 packets per loop) takes packets out of it. A broadcast flooded to 8 VTEPs puts 8
//! packets into it per frame received, so a burst of broadcasts fills it within a few loops:
//! what does not fit is refused by the driver (`tx_queue_full`) — or, with a pool smaller than
//! the ring, the flood copies find no buffer first (`mbuf_exhausted`), since a port without
//! multi-segment TX (net_pcap) gets full copies. The looped-back copies come in as packets for
//! other VTEPs and are dropped (`not_local`), which frees their buffers again.
//!
//! Recovery is proven by what comes after: the access capture continues with 4096 frames
//! dropped at once (an unmapped VLAN, 128 RX bursts, while the ring drains 32 per loop), then
//! probes in a VNI that floods to an underlay multicast group. Their copies go into the ring,
//! loop back, are accepted (vtepd listens to the group), decapsulated and flooded to the
//! access port, whose capture must hold every probe exactly once.
//!
//! The update queue (65536 updates per worker, src/control/gateway.rs) is filled by a reload
//! adding 90 000 static MACs while the worker applies 256 updates per drain period, made
//! 10 ms (`tx_drain_us`), 25 600 a second: the reload sends them in a few milliseconds (~150
//! in a debug build), so over 20 000 do not fit and the management thread keeps them in a
//! backlog (`update_queue_full`, `updates_deferred`); the API and the traffic go on, and the
//! last MAC of the reload reaches the worker and takes effect in the packets.

mod common;

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use common::api::{mac_text, parse_exposition, station, tenant, Api, Mac};
use common::balance::{assert_counters_balance, assert_nic_agrees, assert_no_mbuf_leak};
use common::netns::wait_until;
use common::{read_pcap, serial, write_pcap, Outcome, Scratch, Vtepd};
use serde_json::Value;

const BROADCAST: Mac = [0xff; 6];
/// Each test must finish well within this.
const LIMIT: Duration = Duration::from_secs(30);

/// Broadcasts in VLAN 100 (VNI 5000, flooded to 8 VTEPs), then frames of an unmapped VLAN
/// while the ring drains, then the probes in VLAN 300 (VNI 7000, a multicast group).
const PRESSURE: usize = 3000;
const GAP: usize = 4096;
const PROBES: usize = 10;

fn ring_config(extra: &str) -> String {
    format!(
        r#"
[underlay]
port = "net_ring0"
addresses = ["10.0.0.1/24"]
next_hop_mac = "02:00:00:00:00:fe"

[[access]]
port = "net_pcap0"

[[vni]]
id = 5000
vlan = 100
learning = false
flood = ["10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5", "10.0.0.6", "10.0.0.7", "10.0.0.8", "10.0.0.9"]

[[vni]]
id = 7000
vlan = 300
learning = false
multicast_group = "239.1.1.1"
{extra}"#
    )
}

fn probe_token(i: usize) -> Vec<u8> {
    format!("EXHAUSTION-PROBE-{i:02}").into_bytes()
}

/// The access capture: pressure, gap, probes.
fn pressure_frames() -> Vec<Vec<u8>> {
    let mut frames = Vec::with_capacity(PRESSURE + GAP + PROBES);
    for i in 0..PRESSURE {
        frames.push(tenant(
            station((i % 200) as u8),
            BROADCAST,
            Some(100),
            b"pressure",
        ));
    }
    for _ in 0..GAP {
        frames.push(tenant(station(0xf0), station(0xf1), Some(999), b"gap"));
    }
    for i in 0..PROBES {
        frames.push(tenant(station(0xe0), BROADCAST, Some(300), &probe_token(i)));
    }
    frames
}

/// Runs the ring scenario with `extra` configuration; returns the outcome (clean exit, no
/// leak, balanced) and how many times each probe came out on the access port.
fn ring_run(extra: &str) -> (Outcome, Vec<usize>) {
    let s = Scratch::new();
    let input = s.path("access.pcap");
    let output = s.path("access-out.pcap");
    write_pcap(&input, &pressure_frames());
    let v = Vtepd::new(&s, &ring_config(extra))
        .vdev("net_ring0")
        .vdev(format!(
            "net_pcap0,rx_pcap={},tx_pcap={}",
            input.display(),
            output.display()
        ));
    let started = Instant::now();
    let out = v.run_until_idle(500);
    let took = started.elapsed();
    out.assert_success();
    assert!(took < LIMIT, "the run took {took:?}");
    let report = out
        .report
        .as_ref()
        .unwrap_or_else(|| panic!("no final report\n{}", out.stderr));
    assert_no_mbuf_leak(report);
    assert_counters_balance(report);
    assert_nic_agrees(report);
    let sent = read_pcap(&output);
    let seen = (0..PROBES)
        .map(|i| {
            let t = probe_token(i);
            sent.iter()
                .filter(|f| f.windows(t.len()).any(|w| w == t))
                .count()
        })
        .collect();
    (out, seen)
}

fn vni_counter(report: &Value, id: u64, key: &str) -> u64 {
    report["gateway"]["vnis"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["id"].as_u64() == Some(id))
        .and_then(|v| v[key].as_u64())
        .unwrap_or_else(|| panic!("no {key} for VNI {id}"))
}

fn port<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["ports"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == name)
        .unwrap_or_else(|| panic!("no port {name}"))
}

/// A pool of 1024 mbufs (the least `[workers] mbufs` takes) and a ring that can hold 1023 of
/// them: the flood copies run out of buffers. Counted as `mbuf_exhausted` (or, for frames the
/// driver could not receive, `rx_nombuf`), and the probes after it all come through.
#[test]
fn an_empty_mempool_is_counted_and_recovers() {
    let _slot = serial();
    let (out, seen) = ring_run("\n[workers]\nmbufs = 1024\n");
    let r = out.report.as_ref().unwrap();
    // The ports' pool (the first; the gateway's replication pools follow).
    assert_eq!(
        r["mempool"]["pools"][0]["capacity"], 1024,
        "{:#}",
        r["mempool"]
    );
    let exhausted = out.drop_count("mbuf_exhausted");
    let nombuf = port(r, "net_pcap0")["nic"]["rx_nombuf"].as_u64().unwrap();
    eprintln!(
        "mbuf_exhausted {exhausted}, rx_nombuf {nombuf}, tx_queue_full {}, flood copies \
         {}, looped back {}",
        out.drop_count("tx_queue_full"),
        vni_counter(r, 5000, "flood_copies"),
        out.drop_count("not_local"),
    );
    assert!(
        exhausted + nombuf > 0,
        "the pool never ran out: {:#}",
        r["drops"]
    );
    assert_eq!(
        seen,
        vec![1; PROBES],
        "probes after the pressure (times seen)"
    );
    assert_eq!(vni_counter(r, 7000, "decap_packets"), PROBES as u64);
    // Every frame of the capture was received (none lost to an empty pool at the port) or
    // counted as not received.
    let rx = port(r, "net_pcap0")["rx_packets"].as_u64().unwrap();
    assert_eq!(rx + nombuf, (PRESSURE + GAP + PROBES) as u64);
}

/// The ring fills up with a pool larger than it: the driver refuses what does not fit,
/// counted as `tx_queue_full` (and the port's `tx_dropped`), never waited for; once the ring
/// drains, the probes go through.
#[test]
fn a_full_tx_ring_is_counted_and_recovers() {
    let _slot = serial();
    let (out, seen) = ring_run("");
    let r = out.report.as_ref().unwrap();
    let full = out.drop_count("tx_queue_full");
    let refused = port(r, "net_ring0")["tx_dropped"].as_u64().unwrap();
    eprintln!(
        "tx_queue_full {full} (underlay tx_dropped {refused}), sent into the ring {}",
        port(r, "net_ring0")["tx_packets"]
    );
    assert!(full > 1000, "the ring never filled: {:#}", r["drops"]);
    assert_eq!(refused, full, "the refused packets are the underlay's");
    assert_eq!(out.drop_count("mbuf_exhausted"), 0, "{:#}", r["mempool"]);
    assert_eq!(
        seen,
        vec![1; PROBES],
        "probes after the pressure (times seen)"
    );
    assert_eq!(vni_counter(r, 7000, "decap_packets"), PROBES as u64);
}

// --- the update queue ---------------------------------------------------------------------

/// Static MACs the reload adds: more than a worker's update queue holds (65536).
const RELOAD_MACS: u32 = 90_000;
/// The reload's last MAC (the largest: the reload sends them in order), behind 10.0.0.9; the
/// traffic goes to it.
const LATE: Mac = [0x02, 0xff, 0xff, 0xff, 0xff, 0xfe];

const QUEUE_CONFIG: &str = r#"
[underlay]
port = "net_null0"
addresses = ["10.0.0.1/24"]
next_hop_mac = "02:00:00:00:00:fe"

[[access]]
port = "net_pcap0"
untagged_vni = 5000

[[vni]]
id = 5000

[workers]
tx_drain_us = 10000

[tables]
fdb_capacity = 131072
"#;

/// The configuration file plus `RELOAD_MACS` static entries and the late one, as one inline
/// array of tables at the top (what a debug build parses fastest: ~5 s for 90 000 entries).
fn rewrite_with_macs(path: &std::path::Path) {
    let text = std::fs::read_to_string(path).expect("read the configuration");
    let mut out = String::with_capacity(text.len() + RELOAD_MACS as usize * 64);
    out.push_str("fdb = [\n");
    for k in 0..RELOAD_MACS {
        let [_, a, b, c] = k.to_be_bytes();
        let _ = writeln!(
            out,
            "{{vni = 5000, mac = \"02:10:{a:02x}:{b:02x}:{c:02x}:01\", remote = \"10.0.0.{}\"}},",
            2 + k % 8
        );
    }
    let _ = writeln!(
        out,
        "{{vni = 5000, mac = \"{}\", remote = \"10.0.0.9\"}},\n]",
        mac_text(LATE)
    );
    out.push_str(&text);
    std::fs::write(path, out).expect("write the configuration");
}

fn depth(api: &Api) -> u64 {
    api.get_ok("/api/v1/workers")
        .as_array()
        .expect("workers")
        .iter()
        .map(|w| w["update_queue_depth"].as_u64().expect("a depth"))
        .sum()
}

/// A reload of 90 001 static MACs: the worker's update queue fills, the rest waits in the
/// management thread's backlog (counted), the API keeps answering and the traffic keeps
/// flowing meanwhile, and the last MAC of the reload takes effect: frames to it, dropped for
/// want of a destination before, are encapsulated to its VTEP.
#[test]
fn a_full_update_queue_defers_and_catches_up() {
    let _slot = serial();
    let s = Scratch::new();
    let frames: Vec<Vec<u8>> = (0..64u8)
        .map(|i| tenant(station(i), LATE, None, b"to the late MAC"))
        .collect();
    let input = s.path("access.pcap");
    write_pcap(&input, &frames);
    let v = Vtepd::new(&s, QUEUE_CONFIG)
        .vdev("net_null0,no-rx=1")
        .vdev(format!(
            "net_pcap0,rx_pcap={},infinite_rx=1",
            input.display()
        ));
    let api = Api::new(v.api_url().unwrap());
    let path = v.config_path();
    let vtepd = v.spawn();
    let stats = |api: &Api| api.get_ok("/api/v1/stats");
    let drops = |st: &Value| st["drops"]["no_flood_destination"].as_u64().unwrap();
    let encap = |api: &Api| {
        api.get_ok("/api/v1/vnis/5000")["encap_packets"]
            .as_u64()
            .unwrap()
    };
    assert!(
        wait_until(Duration::from_secs(10), Duration::from_millis(50), || {
            drops(&stats(&api)) > 0
        }),
        "the traffic to the unknown MAC is not being dropped"
    );

    // SIGHUP rather than POST /api/v1/reload: parsing 90 000 entries takes a debug build
    // longer than the API waits for an answer on a loaded machine. The management thread is
    // busy with the reload meanwhile (calls wait, or time out with 503), then it is done.
    rewrite_with_macs(&path);
    let asked = Instant::now();
    vtepd.signal("HUP");
    let reloaded = wait_until(Duration::from_secs(25), Duration::from_millis(50), || {
        let r = api.get("/api/v1/stats");
        r.status == 200
            && r.json()["gateway"]["fdb_entries"]
                .as_u64()
                .is_some_and(|n| n > u64::from(RELOAD_MACS))
    });
    let reload_took = asked.elapsed();
    assert!(reloaded, "the reload never completed");

    // The backlog drains while the API answers and the worker forwards.
    let mut slowest = Duration::ZERO;
    let mut backlogged = 0;
    let mut rx_moved = 0;
    let mut early = 0;
    let mut last_rx = stats(&api)["totals"]["rx_packets"].as_u64().unwrap();
    let metrics = parse_exposition(&api.get("/metrics").body).expect("metrics parse");
    let queue_full = metrics.one("vtepd_update_queue_full_total", &[]);
    let drained = wait_until(Duration::from_secs(20), Duration::from_millis(100), || {
        let t = Instant::now();
        let status = api.get("/api/v1/status");
        slowest = slowest.max(t.elapsed());
        assert_eq!(status.status, 200, "{status:?}");
        let rx = stats(&api)["totals"]["rx_packets"].as_u64().unwrap();
        if rx > last_rx {
            rx_moved += 1;
        }
        last_rx = rx;
        // Read before the depth: the late MAC is the backlog's last update, so while updates
        // are still pending it cannot have reached the worker.
        let e = encap(&api);
        let d = depth(&api);
        if d > 0 {
            backlogged += 1;
            early += e;
        }
        d == 0
    });
    let drain_took = asked.elapsed();
    assert!(drained, "the update backlog never drained");
    // The late MAC now takes the traffic: encapsulated, no longer dropped.
    assert!(
        wait_until(Duration::from_secs(5), Duration::from_millis(50), || encap(
            &api
        ) > 0),
        "the last MAC of the reload never took effect"
    );
    let settled = drops(&stats(&api));
    std::thread::sleep(Duration::from_millis(300));
    let still = drops(&stats(&api)) - settled;
    let running = stats(&api);
    let out = vtepd.stop();
    eprintln!(
        "reload (SIGHUP) took {reload_took:?}, backlog drained {drain_took:?} after SIGHUP \
         ({backlogged} polls saw it), update_queue_full {queue_full}, slowest status answer \
         {slowest:?}, traffic moved in {rx_moved} polls; sync {}",
        running["gateway"]["sync"]
    );
    out.assert_success();
    let report = out.report.as_ref().unwrap();
    assert_no_mbuf_leak(report);
    assert_counters_balance(report);
    assert_nic_agrees(report);

    assert!(queue_full > 0.0, "the update queue never filled");
    let g = &report["gateway"];
    assert!(
        g["sync"]["updates_deferred"].as_u64().unwrap() > 0,
        "no update waited in the backlog: {}",
        g["sync"]
    );
    assert_eq!(
        g["updates_applied"], g["sync"]["updates_sent"],
        "updates sent but never applied: {}",
        g["sync"]
    );
    assert!(
        g["fdb_entries"].as_u64().unwrap() > u64::from(RELOAD_MACS),
        "{}",
        g["fdb_entries"]
    );
    assert!(backlogged > 0, "no poll saw the backlog");
    assert!(
        slowest < Duration::from_secs(1),
        "the API stalled for {slowest:?} while the backlog drained"
    );
    assert!(
        rx_moved > 0,
        "no packet was received while the backlog drained"
    );
    assert_eq!(still, 0, "frames to the late MAC still dropped");
    assert_eq!(
        early, 0,
        "frames reached the late MAC while updates before it were still pending"
    );
}
