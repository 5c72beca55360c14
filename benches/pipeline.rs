//! Criterion benchmarks of the per-packet pipeline on real packet bytes, without EAL.
//!
//! Every packet is built with etherparse and every gateway from a TOML configuration the way
//! the daemon builds one, so these measure exactly the code a worker runs per packet (minus
//! the NIC). Besides criterion's own report, each benchmark's time and TSC cycles per
//! packet are printed in a summary at the end: the TSC is read around every batch criterion
//! times, and its frequency estimated against `Instant` over the same intervals
//! (`rte_get_tsc_hz` would need EAL). Next to the mean over every batch it prints the
//! fastest batch's cycles per packet: on a shared host, a wide gap between the two says
//! the run was disturbed.
//!
//! `cargo bench --bench pipeline` runs them all (a filter after `--` selects some);
//! `cargo test --benches` runs each once, as a test, on small tables.
//!
//! With `VTEPD_BENCH_COUNT=N` in the environment, the first `packet/` or `burst/` benchmark
//! the filter selects runs its body N times inside `counted` instead of being measured, and
//! the process exits: `scripts/bench/instructions.sh` counts the instructions that takes under
//! callgrind. A count, unlike a time, does not move with the load on a shared host, so it
//! shows what a code change did where timings cannot.

use std::hint::black_box;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use criterion::{Bencher, BenchmarkId, Criterion, Throughput};
use crossbeam::utils::CachePadded;
use etherparse as ep;

use vtepd::config::{self, Mode};
use vtepd::control::gateway::{authority_from_config, params};
use vtepd::dataplane::WorkerCounters;
use vtepd::pipeline::entropy::flow_hash;
use vtepd::pipeline::underlay::{self, NicChecks, Underlay};
use vtepd::pipeline::{BurstRun, Gateway, OffloadCaps, VecFrame, Verdict};
use vtepd::tables::fdb::{Fdb, FdbEntry};
use vtepd::tables::sync::SyncChannel;
use vtepd::tables::{Dest, FdbKey, Replica, Update, VniIndex};
use vtepd::wire::{MacAddr, Vni};

// --- the gateway and its packets -------------------------------------------------------

const GW_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x01];
const NH_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0xfe];
/// A local host, sending from access port 1 (VNI 5000) or 2 (VNI 6000).
const H1: [u8; 6] = [0x02, 0, 0, 0, 0x01, 0x01];
/// Static behind VTEP 10.0.0.2 in both VNIs.
const R2: [u8; 6] = [0x02, 0, 0, 0, 0x02, 0x02];
/// Static behind access port 1 (VNI 5000) and port 2 (VNI 6000).
const L3: [u8; 6] = [0x02, 0, 0, 0, 0x03, 0x03];
/// A host behind 10.0.0.2 that the gateway learns on decapsulation.
const R9: [u8; 6] = [0x02, 0, 0, 0, 0x02, 0x99];

/// Port 1 carries VNI 5000 (VXLAN), port 2 VNI 6000 (NVGRE), both untagged; both VNIs flood
/// to 10.0.0.2, so the tunnel back to it exists and decapsulated sources are installed.
const CONFIG: &str = r#"
[underlay]
port = "u0"
addresses = ["10.0.0.1/24"]
next_hop_mac = "02:00:00:00:00:fe"
mtu = 1500

[[access]]
port = "acc1"
untagged_vni = 5000

[[access]]
port = "acc2"
untagged_vni = 6000

[[vni]]
id = 5000
flood = ["10.0.0.2"]

[[vni]]
id = 6000
encap = "nvgre"
flood = ["10.0.0.2"]

[[fdb]]
vni = 5000
mac = "02:00:00:00:02:02"
remote = "10.0.0.2"

[[fdb]]
vni = 6000
mac = "02:00:00:00:02:02"
remote = "10.0.0.2"

[[fdb]]
vni = 5000
mac = "02:00:00:00:03:03"
port = "acc1"

[[fdb]]
vni = 6000
mac = "02:00:00:00:03:03"
port = "acc2"
"#;

fn gateway() -> Gateway {
    gateway_with_capacity(65536)
}

/// The benchmark gateway with room for `capacity` MAC entries.
fn gateway_with_capacity(capacity: usize) -> Gateway {
    gateway_from(CONFIG, capacity)
}

/// The gateway `config` describes, with room for `capacity` MAC entries.
fn gateway_from(config: &str, capacity: usize) -> Gateway {
    let config = config::parse(config).expect("benchmark configuration");
    let Mode::Gateway(g) = config.mode else {
        panic!("not a gateway configuration")
    };
    let mac = MacAddr(GW_MAC);
    let authority = authority_from_config(&g, mac, capacity).expect("tables");
    let replica = authority.replica(1 + g.access.len(), capacity);
    Gateway::new(
        params(&g, mac, OffloadCaps::default()),
        replica,
        SyncChannel::new(65536, 65536),
        Arc::new(CachePadded::new(WorkerCounters::default())),
    )
}

/// A 64-byte UDP/IPv4 frame.
fn udp4_64(src: [u8; 6], dst: [u8; 6]) -> Vec<u8> {
    let mut out = Vec::new();
    ep::PacketBuilder::ethernet2(src, dst)
        .ipv4([192, 168, 1, 1], [192, 168, 1, 2], 64)
        .udp(1000, 2000)
        .write(&mut out, &[0x5a; 64 - 42])
        .expect("frame");
    out
}

/// A 64-byte UDP/IPv6 frame (the smallest a UDP/IPv6 frame with 2 bytes of payload is).
fn udp6_64(src: [u8; 6], dst: [u8; 6]) -> Vec<u8> {
    let mut out = Vec::new();
    let a: std::net::Ipv6Addr = "2001:db8::1".parse().expect("address");
    let b: std::net::Ipv6Addr = "2001:db8::2".parse().expect("address");
    ep::PacketBuilder::ethernet2(src, dst)
        .ipv6(a.octets(), b.octets(), 64)
        .udp(1000, 2000)
        .write(&mut out, &[0x5a; 2])
        .expect("frame");
    out
}

/// `inner` in VXLAN (VNI 5000) from 10.0.0.2 to the gateway.
fn vxlan_packet(inner: &[u8]) -> Vec<u8> {
    vxlan_packet_from([10, 0, 0, 2], 5000, inner)
}

/// `inner` in VXLAN (VNI `vni`) from `vtep` to the gateway.
fn vxlan_packet_from(vtep: [u8; 4], vni: u32, inner: &[u8]) -> Vec<u8> {
    let [_, a, b, c] = vni.to_be_bytes();
    let mut payload = vec![0x08, 0, 0, 0, a, b, c, 0];
    payload.extend_from_slice(inner);
    let mut out = Vec::new();
    ep::PacketBuilder::ethernet2(NH_MAC, GW_MAC)
        .ipv4(vtep, [10, 0, 0, 1], 64)
        .udp(51000, 4789)
        .write(&mut out, &payload)
        .expect("packet");
    out
}

/// `inner` in NVGRE (VSID 6000) from 10.0.0.2 to the gateway.
fn nvgre_packet(inner: &[u8]) -> Vec<u8> {
    let mut payload = vec![0x20, 0x00, 0x65, 0x58, 0x00, 0x17, 0x70, 0x42];
    payload.extend_from_slice(inner);
    let mut out = Vec::new();
    ep::PacketBuilder::ethernet2(NH_MAC, GW_MAC)
        .ipv4([10, 0, 0, 2], [10, 0, 0, 1], 64)
        .write(&mut out, ep::IpNumber::GRE, &payload)
        .expect("packet");
    out
}

// --- cycles per packet ------------------------------------------------------------------

/// Per benchmark: iterations, wall time and TSC cycles of every batch criterion timed.
struct Totals {
    name: String,
    unit: &'static str,
    iters: u64,
    elapsed: Duration,
    cycles: u64,
    /// The fewest TSC cycles per unit of any one batch: on a shared host, the batches that
    /// ran while the neighbours were quiet.
    fastest: f64,
}

static TOTALS: Mutex<Vec<Totals>> = Mutex::new(Vec::new());

fn has_tsc() -> bool {
    #[cfg(any(target_arch = "x86_64", target_arch = "x86"))]
    {
        std::arch::is_x86_feature_detected!("tsc")
    }
    #[cfg(not(any(target_arch = "x86_64", target_arch = "x86")))]
    {
        false
    }
}

fn tsc() -> u64 {
    if has_tsc() {
        vtepd::dpdk::tsc()
    } else {
        0
    }
}

fn record(name: &str, unit: &'static str, iters: u64, elapsed: Duration, cycles: u64) {
    let per_unit = cycles as f64 / iters.max(1) as f64;
    let mut all = TOTALS.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(t) = all.iter_mut().find(|t| t.name == name) {
        t.iters += iters;
        t.elapsed += elapsed;
        t.cycles += cycles;
        t.fastest = t.fastest.min(per_unit);
    } else {
        all.push(Totals {
            name: name.to_owned(),
            unit,
            iters,
            elapsed,
            cycles,
            fastest: per_unit,
        });
    }
}

/// Packets per burst, as the data plane receives them (`workers.burst`'s default).
const BURST: usize = 32;

/// Times `iters` runs of `f`, each handling `units` of `unit`, with `Instant` and the TSC,
/// for criterion and the summary.
fn timed(
    name: &str,
    (unit, units): (&'static str, usize),
    iters: u64,
    mut f: impl FnMut(),
) -> Duration {
    let start = Instant::now();
    let c0 = tsc();
    for _ in 0..iters {
        f();
    }
    let c1 = tsc();
    let elapsed = start.elapsed();
    record(
        name,
        unit,
        iters * units as u64,
        elapsed,
        c1.wrapping_sub(c0),
    );
    elapsed
}

/// A per-packet benchmark: `f` handles one packet.
fn per_packet(b: &mut Bencher, name: &str, f: impl FnMut()) {
    per_packets(b, name, 1, f)
}

/// A benchmark whose `f` handles `packets` packets: timed, or counted (`count_request`).
fn per_packets(b: &mut Bencher, name: &str, packets: usize, mut f: impl FnMut()) {
    if let Some(n) = count_request() {
        counted(n, &mut f);
        println!("{name}: ran {n} times in counted(), {packets} packets each");
        std::process::exit(0);
    }
    b.iter_custom(|iters| timed(name, ("packet", packets), iters, &mut f));
}

/// `VTEPD_BENCH_COUNT`: how many runs of a benchmark's body to count (see the module doc).
fn count_request() -> Option<u64> {
    let v = std::env::var("VTEPD_BENCH_COUNT").ok()?;
    match v.parse() {
        Ok(n) if n > 0 => Some(n),
        _ => panic!("VTEPD_BENCH_COUNT={v}: a positive number of runs"),
    }
}

/// The loop an instruction counter measures (callgrind's `--toggle-collect=*counted*`):
/// never inlined, so its callees' instructions and its own are all it counts.
#[inline(never)]
fn counted(n: u64, f: &mut impl FnMut()) {
    for _ in 0..n {
        f();
    }
}

fn summary() {
    let all = TOTALS.lock().unwrap_or_else(|e| e.into_inner());
    if all.is_empty() {
        return;
    }
    let (cycles, secs) = all.iter().fold((0u64, 0f64), |(c, s), t| {
        (c + t.cycles, s + t.elapsed.as_secs_f64())
    });
    let hz = if has_tsc() && secs > 0.0 {
        cycles as f64 / secs
    } else {
        0.0
    };
    println!();
    if hz > 0.0 {
        println!(
            "summary (TSC {:.3} GHz, estimated against the wall clock):",
            hz / 1e9
        );
    } else {
        println!("summary (no TSC: time only):");
    }
    for t in all.iter() {
        let n = t.iters.max(1) as f64;
        let ns = t.elapsed.as_secs_f64() * 1e9 / n;
        if hz > 0.0 {
            println!(
                "{}: {ns:.1} ns, {:.0} cycles/{} (fastest batch {:.0})",
                t.name,
                t.cycles as f64 / n,
                t.unit,
                t.fastest
            );
        } else {
            println!("{}: {ns:.1} ns per {}", t.name, t.unit);
        }
    }
}

/// True when criterion will measure (`cargo bench`), false when it runs each benchmark once
/// as a test (`cargo test --benches`): the big tables are only built for the former.
fn measuring() -> bool {
    let args: Vec<String> = std::env::args().collect();
    let has = |a: &str| args.iter().any(|x| x == a);
    has("--bench") && !has("--test") && !has("--list")
}

// --- per-packet benchmarks ---------------------------------------------------------------

fn packets(c: &mut Criterion) {
    let mut group = c.benchmark_group("packet");
    group
        .throughput(Throughput::Elements(1))
        .sample_size(30)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));

    // The underlay classifier alone, on a VXLAN packet (IPv4 header checksum verified in
    // software, as without RX checksum offload).
    let vxlan = vxlan_packet(&udp4_64(R9, L3));
    let local = gateway().params.local;
    assert!(matches!(
        underlay::classify(
            &vxlan,
            &local,
            &underlay::VxlanPorts::single(4789),
            NicChecks::NONE
        ),
        Ok(Underlay::Tunnel(_))
    ));
    group.bench_function("classify", |b| {
        per_packet(b, "classify", || {
            let _ = black_box(underlay::classify(
                black_box(&vxlan),
                &local,
                &underlay::VxlanPorts::single(4789),
                NicChecks::NONE,
            ));
        })
    });

    // What every per-packet benchmark below also pays: copying the frame back into its
    // buffer (the stand-in for receiving it) and the benchmark loop itself. The pipeline's
    // own work is a benchmark's figure less this one.
    {
        let mut f = VecFrame::new(&vxlan);
        group.bench_function("frame_copy", |b| {
            per_packet(b, "frame_copy", || {
                f.reset(black_box(&vxlan));
                black_box(&mut f);
            })
        });
    }

    // Full decapsulation to a known access MAC, learning the inner source.
    for (name, packet, port) in [
        ("vxlan_decap", vxlan.clone(), 1),
        ("nvgre_decap", nvgre_packet(&udp4_64(R9, L3)), 2),
    ] {
        let mut gw = gateway();
        let mut f = VecFrame::new(&packet);
        assert_eq!(gw.underlay(&mut f), Verdict::Forward(port), "{name}");
        group.bench_function(name, |b| {
            per_packet(b, name, || {
                f.reset(black_box(&packet));
                black_box(gw.underlay(&mut f));
            })
        });
    }

    // Full encapsulation of a 64-byte frame to a known remote MAC: learning on, entropy
    // hashed from the frame (no RSS hash).
    for (name, port) in [("vxlan_encap", 1), ("nvgre_encap", 2)] {
        let mut gw = gateway();
        let frame = udp4_64(H1, R2);
        let mut f = VecFrame::new(&frame);
        assert_eq!(gw.access(&mut f, port), Verdict::Forward(0), "{name}");
        group.bench_function(name, |b| {
            per_packet(b, name, || {
                f.reset(black_box(&frame));
                black_box(gw.access(&mut f, port));
            })
        });
    }

    // The entropy hash alone.
    for (name, frame) in [
        ("flow_hash_ipv4", udp4_64(H1, R2)),
        ("flow_hash_ipv6", udp6_64(H1, R2)),
    ] {
        group.bench_function(name, |b| {
            per_packet(b, name, || {
                black_box(flow_hash(black_box(&frame)));
            })
        });
    }
    group.finish();
}

// --- FDB lookups ------------------------------------------------------------------------

/// xorshift64*: deterministic, so every run looks the same keys up.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// `n` distinct random (VNI, unicast MAC) keys.
fn random_keys(n: usize, rng: &mut Rng) -> Vec<FdbKey> {
    let mut seen = std::collections::HashSet::with_capacity(n);
    let mut keys = Vec::with_capacity(n);
    while keys.len() < n {
        let r = rng.next();
        let b = r.to_be_bytes();
        let mac = MacAddr([b[2] & 0xfe, b[3], b[4], b[5], b[6], b[7]]);
        if !mac.is_unicast() {
            continue;
        }
        let key = FdbKey::new(VniIndex((b[0] % 16).into()), mac);
        if seen.insert(key) {
            keys.push(key);
        }
    }
    keys
}

/// `len` ranks in `0..n`, uniform or Zipf-distributed with exponent 1 (rank k drawn with
/// probability proportional to 1 / (k + 1)).
fn access_sequence(n: usize, len: usize, zipf: bool, rng: &mut Rng) -> Vec<usize> {
    if !zipf {
        return (0..len)
            .map(|_| (rng.unit() * n as f64) as usize % n)
            .collect();
    }
    let mut cdf = Vec::with_capacity(n);
    let mut total = 0.0;
    for k in 0..n {
        total += 1.0 / (k as f64 + 1.0);
        cdf.push(total);
    }
    (0..len)
        .map(|_| {
            let u = rng.unit() * total;
            cdf.partition_point(|&c| c < u).min(n - 1)
        })
        .collect()
}

fn fdb_lookup(c: &mut Criterion) {
    let measuring = measuring();
    let mut group = c.benchmark_group("fdb_lookup");
    group
        .throughput(Throughput::Elements(1))
        .sample_size(20)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1));
    let sizes: &[(usize, &str)] = if measuring {
        &[(1 << 10, "1K"), (1 << 16, "64K"), (1 << 20, "1M")]
    } else {
        &[(1 << 10, "1K"), (1 << 16, "64K")]
    };
    // Lookups cycle through a sequence generated up front (a power of two, for masking).
    let sequence_len = if measuring { 1 << 20 } else { 1 << 12 };
    let mut rng = Rng(0x7665_7470_6421_2024);
    for &(n, label) in sizes {
        let keys = random_keys(n, &mut rng);
        let mut fdb = Fdb::with_capacity(n);
        for (i, k) in keys.iter().enumerate() {
            let port = u8::try_from(i % 8 + 1).unwrap_or(1);
            fdb.insert(*k, FdbEntry::learned(Dest::Access(port), 0))
                .expect("reserved capacity");
        }
        for (dist, zipf) in [("uniform", false), ("zipf", true)] {
            let seq: Vec<FdbKey> = access_sequence(n, sequence_len, zipf, &mut rng)
                .into_iter()
                .map(|r| keys[r])
                .collect();
            let mask = seq.len() - 1;
            let name = format!("fdb_lookup/{dist}/{label}");
            let mut i = 0usize;
            group.bench_function(BenchmarkId::new(dist, label), |b| {
                b.iter_custom(|iters| {
                    timed(&name, ("lookup", 1), iters, || {
                        let k = seq[i & mask];
                        i = i.wrapping_add(1);
                        black_box(fdb.get(black_box(k)).map(|e| e.dest));
                    })
                })
            });
            // As the data plane looks up a burst: every slot prefetched, then probed.
            let burst_name = format!("fdb_lookup_burst32/{dist}/{label}");
            let mut out = [None; BURST];
            group.throughput(Throughput::Elements(BURST as u64));
            group.bench_function(BenchmarkId::new(format!("{dist}-burst32"), label), |b| {
                b.iter_custom(|iters| {
                    timed(&burst_name, ("lookup", BURST), iters, || {
                        let at = i & mask & !(BURST - 1);
                        fdb.get_many(black_box(&seq[at..at + BURST]), &mut out);
                        black_box(&out);
                        i = i.wrapping_add(BURST);
                    })
                })
            });
            group.throughput(Throughput::Elements(1));
        }
    }
    group.finish();
}

// --- replica updates --------------------------------------------------------------------

fn replica_apply(c: &mut Criterion) {
    const UPDATES: usize = 100_000;
    let mut group = c.benchmark_group("replica");
    group
        .throughput(Throughput::Elements(UPDATES as u64))
        .sample_size(10)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(2));
    let keys = random_keys(UPDATES, &mut Rng(0x5eed));
    group.bench_function("apply_fdb_set_100k", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                // A fresh replica and fresh updates (they are moved in), not timed.
                let mut replica = Replica::new(3, UPDATES * 2, 4789);
                let mut updates: Vec<Update> = keys
                    .iter()
                    .map(|k| Update::FdbSet(*k, FdbEntry::learned(Dest::Access(1), 0)))
                    .collect();
                let mut drain = updates.drain(..);
                total += timed(
                    "replica_apply_fdb_set",
                    ("update", 1),
                    UPDATES as u64,
                    || {
                        if let Some(u) = drain.next() {
                            black_box(replica.apply(u, 7));
                        }
                    },
                );
                drop(drain);
                black_box(replica.fdb.len());
            }
            total
        })
    });
    group.finish();
}

// --- the policy's session table ------------------------------------------------------------

/// A UDP flow between two tenant hosts, numbered.
fn flow_key(n: u32) -> vtepd::tables::policy::FlowKey {
    use std::net::{IpAddr, Ipv4Addr};
    vtepd::tables::policy::FlowKey {
        protocol: 17,
        src_vni: 5001,
        dst_vni: 5002,
        src: IpAddr::V4(Ipv4Addr::from(0x0a01_0000 | (n & 0xffff))),
        dst: IpAddr::V4(Ipv4Addr::from(0x0a02_0000 | (n >> 16))),
        src_port: 1024 + (n % 60000) as u16,
        dst_port: 5000,
    }
}

/// What a stateful policy adds to a flow: a new flow's session opened (and, so the table
/// stays at its size, an old one closed), and an established flow's session found among
/// 65536 (the `vxlan-routed-policy` bench scenario's path, minus the packet parse).
fn sessions(c: &mut Criterion) {
    use vtepd::tables::session::{Session, SessionKey, Sessions};
    const LIVE: u32 = 65536;
    let mut group = c.benchmark_group("session");
    group
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(2));
    let mut table = Sessions::new(2 * LIVE);
    let key = |n: u32| SessionKey::of(vtepd::pipeline::policy::vrf_zone(0, 0), &flow_key(n));
    for n in 0..LIVE {
        let s = Session::new(key(n), flow_key(n), 0, 0);
        table.open(s, u32::MAX).expect("room for the live sessions");
    }
    let mut next = LIVE;
    group.bench_function("open_close", |b| {
        per_packet(b, "session_open_close", || {
            let (new, old) = (next, next.wrapping_sub(LIVE));
            next = next.wrapping_add(1);
            let s = Session::new(key(new), flow_key(new), 0, 1);
            black_box(table.open(s, u32::MAX).is_ok());
            black_box(table.close(&key(old)));
        })
    });
    let mut n = 0u32;
    group.bench_function("hit", |b| {
        per_packet(b, "session_hit", || {
            n = n.wrapping_mul(1_103_515_245).wrapping_add(12345);
            let k = key(next.wrapping_sub(1 + n % LIVE));
            if let Some(s) = table.get_mut(black_box(&k)) {
                s.account(true, 64, 0, 2);
            }
        })
    });
    group.finish();
}

// --- bursts through the worker's loop -----------------------------------------------------

/// Distinct packets the bursts cycle through (a power of two, for masking).
const FLOWS: usize = 4096;

/// `n` distinct random unicast MACs.
fn random_macs(n: usize, rng: &mut Rng) -> Vec<MacAddr> {
    let mut seen = std::collections::HashSet::with_capacity(n);
    let mut macs = Vec::with_capacity(n);
    while macs.len() < n {
        let b = rng.next().to_be_bytes();
        let mac = MacAddr([b[2] & 0xfe, b[3], b[4], b[5], b[6], b[7]]);
        if mac.is_unicast() && seen.insert(mac) {
            macs.push(mac);
        }
    }
    macs
}

/// A gateway whose VNI 5000 holds `n` MACs, a quarter in each role a burst needs, and
/// `FLOWS` packets of each direction between random pairs of them: decapsulated packets go
/// from a MAC learned behind 10.0.0.2 to one on access port 1, encapsulated frames from a
/// MAC learned on port 1 to one behind 10.0.0.2. Every source is already learned where it
/// is seen (the learning check finds it fresh), every destination known: the steady state.
fn populated(n: usize, rng: &mut Rng) -> (Gateway, Vec<Vec<u8>>, Vec<Vec<u8>>) {
    let mut gw = gateway_with_capacity(n + 16);
    let vni = gw.tables.vnis.by_id(Vni::from_u24(5000)).expect("VNI 5000");
    let remote = gw
        .tables
        .tunnels
        .find([10, 0, 0, 2].into(), config::Encap::Vxlan)
        .expect("tunnel to 10.0.0.2");
    let macs = random_macs(n, rng);
    let quarter = n / 4;
    let role = |i: usize| &macs[i * quarter..(i + 1) * quarter];
    let (to_local, from_remote, from_local, to_remote) = (role(0), role(1), role(2), role(3));
    for (set, dest) in [
        (to_local, Dest::Access(1)),
        (from_remote, Dest::Tunnel(remote)),
        (from_local, Dest::Access(1)),
        (to_remote, Dest::Tunnel(remote)),
    ] {
        for mac in set {
            let u = Update::FdbSet(FdbKey::new(vni, *mac), FdbEntry::learned(dest, 0));
            gw.tables.apply(u, 0);
        }
    }
    let pick = |set: &[MacAddr], rng: &mut Rng| set[(rng.next() % set.len() as u64) as usize].0;
    let mut decap = Vec::with_capacity(FLOWS);
    let mut encap = Vec::with_capacity(FLOWS);
    for _ in 0..FLOWS {
        decap.push(vxlan_packet(&udp4_64(
            pick(from_remote, rng),
            pick(to_local, rng),
        )));
        encap.push(udp4_64(pick(from_local, rng), pick(to_remote, rng)));
    }
    (gw, decap, encap)
}

/// The fabric bursts' VNIs (VXLAN 5000.., on VLANs 100.. of access port 1) and remote VTEPs
/// (10.0.0.2..): the shape of `scripts/bench.sh`'s traffic.
const FABRIC_VNIS: u32 = 4;
const FABRIC_VTEPS: u8 = 8;

fn fabric_config() -> String {
    let flood: Vec<String> = (0..FABRIC_VTEPS)
        .map(|t| format!("\"10.0.0.{}\"", 2 + t))
        .collect();
    let mut config = String::from(
        "[underlay]\nport = \"u0\"\naddresses = [\"10.0.0.1/24\"]\n\
         next_hop_mac = \"02:00:00:00:00:fe\"\nmtu = 1500\n\n\
         [[access]]\nport = \"acc1\"\n\n",
    );
    for v in 0..FABRIC_VNIS {
        config += &format!(
            "[[vni]]\nid = {}\nvlan = {}\nflood = [{}]\n\n",
            5000 + v,
            100 + v,
            flood.join(", ")
        );
    }
    config
}

/// A 64-byte UDP/IPv4 frame tagged with 802.1Q VLAN `vlan`.
fn tagged_udp4_64(src: [u8; 6], dst: [u8; 6], vlan: u16) -> Vec<u8> {
    let mut out = Vec::new();
    ep::PacketBuilder::ethernet2(src, dst)
        .single_vlan(ep::VlanId::try_new(vlan).expect("a VLAN id"))
        .ipv4([192, 168, 1, 1], [192, 168, 1, 2], 64)
        .udp(1000, 2000)
        .write(&mut out, &[0x5a; 64 - 46])
        .expect("frame");
    out
}

/// As `populated`, shaped like `scripts/bench.sh`'s traffic instead of one VNI and one
/// VTEP: `FABRIC_VNIS` VNIs tagged on access port 1 and `FABRIC_VTEPS` remote VTEPs, every
/// MAC in one VNI and every remote one behind one VTEP, consecutive packets of random VNIs
/// and VTEPs. What this costs over `populated`'s bursts is what interleaved VNIs, VTEPs and
/// VLAN tags cost.
fn populated_fabric(n: usize, rng: &mut Rng) -> (Gateway, Vec<Vec<u8>>, Vec<Vec<u8>>) {
    let mut gw = gateway_from(&fabric_config(), n + 16);
    let vnis: Vec<VniIndex> = (0..FABRIC_VNIS)
        .map(|v| gw.tables.vnis.by_id(Vni::from_u24(5000 + v)).expect("VNI"))
        .collect();
    let vteps: Vec<[u8; 4]> = (0..FABRIC_VTEPS).map(|t| [10, 0, 0, 2 + t]).collect();
    let tunnels: Vec<_> = vteps
        .iter()
        .map(|&ip| {
            gw.tables
                .tunnels
                .find(ip.into(), config::Encap::Vxlan)
                .expect("tunnel")
        })
        .collect();
    // Per VNI and role (to_local, from_remote, from_local, to_remote): (MAC, VTEP).
    let vni_count = FABRIC_VNIS as usize;
    let mut roles = vec![[(); 4].map(|_| Vec::new()); vni_count];
    for (i, mac) in random_macs(n, rng).into_iter().enumerate() {
        let (v, role) = (i % vni_count, (i / vni_count) % 4);
        let vtep = (rng.next() % u64::from(FABRIC_VTEPS)) as usize;
        let dest = if role % 2 == 0 {
            Dest::Access(1)
        } else {
            Dest::Tunnel(tunnels[vtep])
        };
        let u = Update::FdbSet(FdbKey::new(vnis[v], mac), FdbEntry::learned(dest, 0));
        gw.tables.apply(u, 0);
        roles[v][role].push((mac.0, vtep));
    }
    let pick =
        |set: &[([u8; 6], usize)], rng: &mut Rng| set[(rng.next() % set.len() as u64) as usize];
    let mut decap = Vec::with_capacity(FLOWS);
    let mut encap = Vec::with_capacity(FLOWS);
    for _ in 0..FLOWS {
        let v = (rng.next() % u64::from(FABRIC_VNIS)) as usize;
        let [to_local, from_remote, from_local, to_remote] = &roles[v];
        let (src, vtep) = pick(from_remote, rng);
        let (dst, _) = pick(to_local, rng);
        let id = 5000 + v as u32;
        decap.push(vxlan_packet_from(vteps[vtep], id, &udp4_64(src, dst)));
        let (src, _) = pick(from_local, rng);
        let (dst, _) = pick(to_remote, rng);
        encap.push(tagged_udp4_64(src, dst, 100 + v as u16));
    }
    (gw, decap, encap)
}

/// Builds a gateway holding `n` MACs and the decapsulation and encapsulation packets of the
/// flows between them.
type Populate = fn(usize, &mut Rng) -> (Gateway, Vec<Vec<u8>>, Vec<Vec<u8>>);

/// Runs bursts of `BURST` packets from `packets` through the worker's loop, checking
/// each verdict against `expect`: timed per packet.
fn burst_bench(
    b: &mut Bencher,
    name: &str,
    gw: &mut Gateway,
    packets: &[Vec<u8>],
    (port, from_underlay): (u8, bool),
    expect: Verdict,
) {
    let mut run = BurstRun::default();
    let mut frames: Vec<VecFrame> = (0..BURST).map(|_| VecFrame::new(&packets[0])).collect();
    let mut next = 0usize;
    per_packets(b, name, BURST, || {
        // Borrowed frames: a packet moves through the loop as a pointer, like an mbuf.
        let mut free = frames.iter_mut();
        let mut burst: [Option<&mut VecFrame>; BURST] = std::array::from_fn(|_| {
            let f = free.next()?;
            f.reset(&packets[next & (FLOWS - 1)]);
            next = next.wrapping_add(1);
            Some(f)
        });
        run.start(gw, &burst, port, from_underlay);
        for i in 0..BURST {
            if let Some(v) = run.next(gw, &mut burst, i) {
                debug_assert_eq!(v, expect);
                black_box(v);
            }
        }
    });
}

fn bursts(c: &mut Criterion) {
    let mut group = c.benchmark_group("burst");
    group
        .throughput(Throughput::Elements(BURST as u64))
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    let sizes: &[(usize, &str)] = if measuring() {
        &[(1 << 10, "1K"), (1 << 16, "64K"), (1 << 20, "1M")]
    } else {
        &[(1 << 10, "1K")]
    };
    let mut rng = Rng(0x6275_7273_7432_3032);
    let traffic: [(&str, Populate); 2] = [("", populated), ("_fabric", populated_fabric)];
    for &(n, label) in sizes {
        for (suffix, populate) in traffic {
            let (mut gw, decap, encap) = populate(n, &mut rng);
            // Every packet takes the path the benchmark names.
            for (packets, side, expect) in [
                (&decap, (0, true), Verdict::Forward(1)),
                (&encap, (1, false), Verdict::Forward(0)),
            ] {
                for p in packets.iter().take(64) {
                    let mut f = VecFrame::new(p);
                    let v = if side.1 {
                        gw.underlay(&mut f)
                    } else {
                        gw.access(&mut f, side.0)
                    };
                    assert_eq!(v, expect, "{label}");
                }
            }
            for (what, packets, side, expect) in [
                ("vxlan_decap", &decap, (0, true), Verdict::Forward(1)),
                ("vxlan_encap", &encap, (1, false), Verdict::Forward(0)),
            ] {
                let what = format!("{what}{suffix}");
                let name = format!("burst/{what}/{label}");
                group.bench_function(BenchmarkId::new(&what, label), |b| {
                    burst_bench(b, &name, &mut gw, packets, side, expect)
                });
            }
        }
    }
    group.finish();
}

fn main() {
    let mut c = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .configure_from_args();
    packets(&mut c);
    bursts(&mut c);
    fdb_lookup(&mut c);
    replica_apply(&mut c);
    sessions(&mut c);
    c.final_summary();
    if measuring() {
        summary();
    }
}
