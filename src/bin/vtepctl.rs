//! `vtepctl`: look at and change a running vtepd through its API.
//!
//! ```text
//! vtepctl show vni|fdb|arp|ports|workers|stats|status|evpn|vrf|route [--vrf NAME] [--json]
//! vtepctl vni add --id 6000 --vlan 600 --flood 10.0.0.2,10.0.0.3
//! vtepctl fdb add --vni 6000 --mac 02:00:00:00:06:01 --remote 10.0.0.2
//! vtepctl reload
//! ```

use std::io::Write as _;
use std::process::ExitCode;

use clap::{Args, CommandFactory, Parser, Subcommand};
use serde_json::{json, Value};

use vtepd::control::api::model::{
    ArpView, EvpnView, FdbView, PortView, RouteView, StatusView, VniView, VrfView, WorkerView,
};
use vtepd::control::policy_view::{PolicyView, SessionView};

#[derive(Debug, Parser)]
#[command(name = "vtepctl", version = vtepd::cli::LONG_VERSION, about = "Inspect and change a running vtepd")]
struct Cli {
    /// vtepd's API.
    #[arg(
        long,
        env = "VTEPCTL_API",
        default_value = "http://127.0.0.1:8179",
        global = true
    )]
    api: String,
    /// Bearer token, if vtepd's [api] has one.
    #[arg(
        long,
        env = "VTEPCTL_TOKEN",
        global = true,
        conflicts_with = "token_file"
    )]
    token: Option<String>,
    /// File holding the bearer token.
    #[arg(long, global = true)]
    token_file: Option<std::path::PathBuf>,
    /// Print the API's JSON instead of tables.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Show tables and counters.
    Show {
        #[command(subcommand)]
        what: Show,
    },
    /// Add, change or remove VNIs.
    Vni {
        #[command(subcommand)]
        op: VniOp,
    },
    /// Add or remove static MAC entries.
    Fdb {
        #[command(subcommand)]
        op: FdbOp,
    },
    /// Add or remove static IP→MAC bindings (ARP/ND suppression).
    Arp {
        #[command(subcommand)]
        op: ArpOp,
    },
    /// Remove a VNI's learned MACs (all MACs with --all).
    Flush {
        #[arg(long)]
        vni: u32,
        #[arg(long)]
        all: bool,
    },
    /// Re-read vtepd's configuration file and apply what changed.
    Reload,
    /// Print a shell completion script.
    Completions { shell: clap_complete::Shell },
}

#[derive(Debug, Subcommand)]
enum Show {
    Status,
    /// VNIs, or one VNI.
    Vni {
        id: Option<u32>,
    },
    Fdb {
        #[arg(long)]
        vni: Option<u32>,
    },
    Arp {
        #[arg(long)]
        vni: Option<u32>,
    },
    Ports,
    Workers,
    Stats,
    /// BGP EVPN: per VNI, the remote VTEPs and MACs from routes and the local MACs exported.
    Evpn,
    /// Tenant VRFs: their VNIs, routes and what was routed in them.
    Vrf,
    /// Routes (connected subnets and static routes) with the packets each routed.
    Route {
        #[arg(long)]
        vrf: Option<String>,
    },
    /// The policy: rules with their hits, defaults, sessions and the connection log.
    Policy,
    /// Live policy sessions (oldest first).
    Sessions {
        #[arg(long, default_value_t = 1000)]
        limit: usize,
    },
}

/// The settings `vni add|set` and `vni update` take alike.
#[derive(Debug, Args)]
struct VniValues {
    /// vxlan or nvgre.
    #[arg(long)]
    encap: Option<String>,
    #[arg(long)]
    vlan: Option<u16>,
    #[arg(long)]
    multicast_group: Option<String>,
    /// The VNI's own VXLAN UDP port (8472 for flannel/Cilium); default underlay.vxlan_port.
    #[arg(long)]
    vxlan_port: Option<u16>,
    #[arg(long, value_delimiter = ',')]
    allowed_vteps: Option<Vec<String>>,
    #[arg(long)]
    max_macs: Option<u32>,
    /// Storm control: broadcast/multicast/unknown-unicast packets per second.
    #[arg(long)]
    bum_rate_pps: Option<u32>,
    /// The tenant VRF the VNI is routed in (with --gateway).
    #[arg(long)]
    vrf: Option<String>,
    /// The anycast gateway's addresses in the VNI, comma separated: 192.168.10.1/24,fd10::1/64.
    #[arg(long, value_delimiter = ',')]
    gateway: Option<Vec<String>>,
}

impl VniValues {
    /// Each setting by its API name, with the value given (if any).
    fn given(&self) -> [(&'static str, Option<Value>); 9] {
        [
            ("encap", self.encap.as_ref().map(|x| json!(x))),
            ("vlan", self.vlan.map(|x| json!(x))),
            (
                "multicast_group",
                self.multicast_group.as_ref().map(|x| json!(x)),
            ),
            ("vxlan_port", self.vxlan_port.map(|x| json!(x))),
            (
                "allowed_vteps",
                self.allowed_vteps.as_ref().map(|x| json!(x)),
            ),
            ("max_macs", self.max_macs.map(|x| json!(x))),
            ("bum_rate_pps", self.bum_rate_pps.map(|x| json!(x))),
            ("vrf", self.vrf.as_ref().map(|x| json!(x))),
            ("gateway", self.gateway.as_ref().map(|x| json!(x))),
        ]
    }
}

#[derive(Debug, Args)]
struct VniSpec {
    #[arg(long)]
    id: u32,
    #[command(flatten)]
    values: VniValues,
    /// Remote VTEPs for broadcast/unknown traffic, comma separated.
    #[arg(long, value_delimiter = ',')]
    flood: Vec<String>,
    #[arg(long)]
    no_learning: bool,
    #[arg(long)]
    arp_suppression: bool,
    /// Learn MACs behind remote VTEPs only from those in --flood.
    #[arg(long)]
    learn_only_from_flood: bool,
    /// Control plane of the VNI's remote MACs and flood list: static or evpn (default: the
    /// gateway's `[evpn] vnis`).
    #[arg(long, value_parser = ["static", "evpn"])]
    control: Option<String>,
}

impl VniSpec {
    fn body(&self) -> Value {
        let mut v = json!({
            "id": self.id,
            "flood": self.flood,
            "learning": !self.no_learning,
            "arp_suppression": self.arp_suppression,
            "learn_only_from_flood": self.learn_only_from_flood,
        });
        if let Some(obj) = v.as_object_mut() {
            if let Some(c) = &self.control {
                obj.insert("control".into(), json!(c));
            }
            for (name, value) in self.values.given() {
                if let Some(x) = value {
                    obj.insert(name.into(), x);
                }
            }
        }
        v
    }
}

/// Settings `vni update --clear` can remove (`encap` always has a value).
const CLEARABLE: [&str; 8] = [
    "vlan",
    "multicast-group",
    "vxlan-port",
    "allowed-vteps",
    "max-macs",
    "bum-rate-pps",
    "vrf",
    "gateway",
];

#[derive(Debug, Args)]
struct VniUpdate {
    #[arg(long)]
    id: u32,
    #[command(flatten)]
    values: VniValues,
    /// Remote VTEPs for broadcast/unknown traffic, comma separated (an empty value: none).
    #[arg(long, value_delimiter = ',')]
    flood: Option<Vec<String>>,
    #[arg(long)]
    learning: Option<bool>,
    #[arg(long)]
    arp_suppression: Option<bool>,
    #[arg(long)]
    learn_only_from_flood: Option<bool>,
    #[arg(long, value_parser = ["static", "evpn"])]
    control: Option<String>,
    /// Settings to remove, comma separated: vlan, multicast-group, allowed-vteps, max-macs,
    /// bum-rate-pps, vrf, gateway (the last two together: a VNI leaves its VRF).
    #[arg(long, value_delimiter = ',')]
    clear: Vec<String>,
}

impl VniUpdate {
    /// The JSON merge patch (RFC 7396) of what was given: each setting given, and `null`
    /// for each one cleared.
    fn patch(&self) -> Result<Value, String> {
        if let Some(c) = self.clear.iter().find(|c| !CLEARABLE.contains(&c.as_str())) {
            return Err(format!(
                "--clear {c}: not a setting that can be removed ({})",
                CLEARABLE.join(", ")
            ));
        }
        let mut patch = serde_json::Map::new();
        for (name, given) in self.values.given() {
            let option = name.replace('_', "-");
            let cleared = self.clear.contains(&option);
            match (given, cleared) {
                (Some(_), true) => {
                    return Err(format!(
                        "--{option} and --clear {option} contradict each other"
                    ))
                }
                (Some(x), false) => {
                    patch.insert(name.into(), x);
                }
                (None, true) => {
                    patch.insert(name.into(), Value::Null);
                }
                (None, false) => {}
            }
        }
        if let Some(flood) = &self.flood {
            let flood: Vec<&String> = flood.iter().filter(|f| !f.is_empty()).collect();
            patch.insert("flood".into(), json!(flood));
        }
        let flags = [
            ("learning", self.learning),
            ("arp_suppression", self.arp_suppression),
            ("learn_only_from_flood", self.learn_only_from_flood),
        ];
        for (name, value) in flags {
            if let Some(v) = value {
                patch.insert(name.into(), json!(v));
            }
        }
        if let Some(c) = &self.control {
            patch.insert("control".into(), json!(c));
        }
        if patch.is_empty() {
            return Err("nothing to change: give a setting, or --clear one".into());
        }
        Ok(Value::Object(patch))
    }
}

#[derive(Debug, Subcommand)]
enum VniOp {
    /// Add a VNI.
    Add(VniSpec),
    /// Change only the settings given (and those --clear names), keeping the others: one
    /// PATCH, applied to the VNI as vtepd holds it.
    #[command(alias = "update")]
    Set(VniUpdate),
    /// Replace a VNI's settings, all of them: options left out take their defaults (no
    /// --flood empties the flood list). Its learned MACs are kept.
    Replace(VniSpec),
    /// Replace a VNI's flood list.
    Flood {
        id: u32,
        #[arg(value_delimiter = ',')]
        vteps: Vec<String>,
    },
    /// Remove a VNI and everything in it.
    Del { id: u32 },
}

#[derive(Debug, Subcommand)]
enum FdbOp {
    Add {
        #[arg(long, required_unless_present = "file")]
        vni: Option<u32>,
        #[arg(long, required_unless_present = "file")]
        mac: Option<String>,
        /// The VTEP behind which the MAC sits ...
        #[arg(long, conflicts_with = "port", required_unless_present_any = ["port", "file"])]
        remote: Option<String>,
        /// ... or the access port.
        #[arg(long)]
        port: Option<String>,
        /// Many entries at once, all or none: a file of JSON lines, one entry each as
        /// `POST /api/v1/fdb` takes it (`{"vni": 6000, "mac": "...", "remote": "..."}`);
        /// `-` reads standard input.
        #[arg(long, conflicts_with_all = ["vni", "mac", "remote", "port"])]
        file: Option<std::path::PathBuf>,
    },
    Del {
        #[arg(long)]
        vni: u32,
        #[arg(long)]
        mac: String,
    },
}

#[derive(Debug, Subcommand)]
enum ArpOp {
    Add {
        #[arg(long)]
        vni: u32,
        #[arg(long)]
        ip: String,
        #[arg(long)]
        mac: String,
    },
    Del {
        #[arg(long)]
        vni: u32,
        #[arg(long)]
        ip: String,
    },
}

struct Client {
    base: String,
    token: Option<String>,
    agent: ureq::Agent,
}

impl Client {
    /// Sends a request; returns the JSON body, or the API's error message.
    fn call(&self, method: &str, path: &str, body: Option<&Value>) -> Result<Value, String> {
        let req = self.request(method, path);
        let result = match body {
            Some(b) => req.send_json(b.clone()),
            None => req.call(),
        };
        self.answer(result)
    }

    /// `call` with a body of JSON lines.
    fn call_lines(&self, method: &str, path: &str, lines: &str) -> Result<Value, String> {
        let req = self
            .request(method, path)
            .set("Content-Type", "application/jsonl");
        self.answer(req.send_string(lines))
    }

    fn request(&self, method: &str, path: &str) -> ureq::Request {
        let url = format!("{}{path}", self.base.trim_end_matches('/'));
        let mut req = self.agent.request(method, &url);
        if let Some(t) = &self.token {
            req = req.set("Authorization", &format!("Bearer {t}"));
        }
        req
    }

    fn answer(&self, result: Result<ureq::Response, ureq::Error>) -> Result<Value, String> {
        match result {
            Ok(resp) => {
                let text = resp
                    .into_string()
                    .map_err(|e| format!("read answer: {e}"))?;
                if text.trim().is_empty() {
                    Ok(Value::Null)
                } else {
                    serde_json::from_str(&text).or(Ok(Value::String(text)))
                }
            }
            Err(ureq::Error::Status(code, resp)) => {
                let text = resp.into_string().unwrap_or_default();
                let msg = serde_json::from_str::<Value>(&text)
                    .ok()
                    .and_then(|v| v.get("error").and_then(Value::as_str).map(str::to_owned))
                    .unwrap_or(text);
                Err(format!("{msg} (HTTP {code})"))
            }
            Err(e) => Err(format!("cannot reach vtepd at {}: {e}", self.base)),
        }
    }
}

/// Prints rows as aligned columns.
fn table(headers: &[&str], rows: Vec<Vec<String>>) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.len()).collect();
    for r in &rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.len());
        }
    }
    let line = |cells: Vec<String>| {
        cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_owned()
    };
    let mut out = line(headers.iter().map(|h| h.to_uppercase()).collect());
    out.push('\n');
    for r in rows {
        out.push_str(&line(r));
        out.push('\n');
    }
    out
}

fn or_dash<T: ToString>(v: Option<T>) -> String {
    v.map_or_else(|| "-".to_owned(), |v| v.to_string())
}

fn parse<T: serde::de::DeserializeOwned>(v: Value) -> Result<T, String> {
    serde_json::from_value(v).map_err(|e| format!("unexpected answer from vtepd: {e}"))
}

fn evpn(e: EvpnView) -> String {
    let c = e.counters;
    let mut out = format!(
        "EVPN namespace {}, FRR {}\nroutes: {} MACs installed, {} withdrawn, {} moved here, {} moved away, \
         {} refused (static), {} flood list changes\nexported: {} written, {} removed, {} errors; \
         netlink: {} messages, {} re-reads\n\n",
        e.namespace,
        if e.frr_running { "running" } else { "NOT running" },
        c.macs_installed,
        c.macs_withdrawn,
        c.moved_local,
        c.moved_remote,
        c.refused_static,
        c.flood_updates,
        c.exported,
        c.export_withdrawn,
        c.export_errors,
        c.kernel_messages,
        c.resyncs,
    );
    match e.exception {
        Some(x) => out.push_str(&format!(
            "BGP over the underlay (exception path): {} packets ({} bytes) into the namespace, \
             {} out of it; {} refused by the namespace, {} not sent (queue full)\n\n",
            x.to_kernel_packets,
            x.to_kernel_bytes,
            x.from_kernel_packets,
            x.to_kernel_dropped,
            x.from_kernel_dropped,
        )),
        None => out.push_str("BGP through an interface of FRR's own in the namespace\n\n"),
    }
    let mut rows = Vec::new();
    for v in &e.vnis {
        rows.push(vec![
            v.vni.to_string(),
            "flood".into(),
            if v.flood_vteps.is_empty() {
                "-".into()
            } else {
                v.flood_vteps.join(",")
            },
            String::new(),
        ]);
        for m in &v.remote_macs {
            rows.push(vec![
                v.vni.to_string(),
                "remote".into(),
                m.mac.clone(),
                format!("vtep {}", m.vtep),
            ]);
        }
        for m in &v.local_macs {
            rows.push(vec![
                v.vni.to_string(),
                "local".into(),
                m.clone(),
                "exported".into(),
            ]);
        }
        for b in &v.remote_bindings {
            rows.push(vec![
                v.vni.to_string(),
                "ip".into(),
                b.ip.clone(),
                b.mac.clone(),
            ]);
        }
    }
    out.push_str(&table(&["vni", "kind", "entry", "where"], rows));
    out
}

fn human(what: &Show, v: Value) -> Result<String, String> {
    Ok(match what {
        Show::Status => {
            let s: StatusView = parse(v)?;
            format!(
                "vtepd {}\n{} on {}, {} worker(s), {} port(s), up {}s, config {}\n",
                s.version, s.mode, s.dpdk, s.workers, s.ports, s.uptime_secs, s.config
            )
        }
        Show::Vni { id: Some(_) } => human(&Show::Vni { id: None }, Value::Array(vec![v]))?,
        Show::Vni { id: None } => {
            let vnis: Vec<VniView> = parse(v)?;
            table(
                &[
                    "vni",
                    "encap",
                    "vlan",
                    "flood",
                    "macs",
                    "encap pkts",
                    "decap pkts",
                    "flooded",
                    "arp supp",
                    "storm drops",
                ],
                vnis.into_iter()
                    .map(|v| {
                        vec![
                            v.id.to_string(),
                            match v.vxlan_port {
                                Some(port) => format!("{}:{port}", v.encap),
                                None => v.encap,
                            },
                            or_dash(v.vlan),
                            v.multicast_group.unwrap_or_else(|| {
                                if v.flood.is_empty() {
                                    "-".into()
                                } else {
                                    v.flood.join(",")
                                }
                            }),
                            v.macs.to_string(),
                            v.encap_packets.to_string(),
                            v.decap_packets.to_string(),
                            v.flood_copies.to_string(),
                            v.arp_suppressed.to_string(),
                            v.bum_rate_limited.to_string(),
                        ]
                    })
                    .collect(),
            )
        }
        Show::Fdb { .. } => {
            let rows: Vec<FdbView> = parse(v)?;
            table(
                &["vni", "mac", "where", "type", "idle s"],
                rows.into_iter()
                    .map(|f| {
                        vec![
                            f.vni.to_string(),
                            f.mac,
                            f.port
                                .map(|p| format!("port {p}"))
                                .or(f.remote.map(|r| format!("vtep {r}")))
                                .unwrap_or_default(),
                            f.origin,
                            or_dash(f.idle_secs),
                        ]
                    })
                    .collect(),
            )
        }
        Show::Arp { .. } => {
            let rows: Vec<ArpView> = parse(v)?;
            table(
                &["vni", "ip", "mac", "type"],
                rows.into_iter()
                    .map(|a| {
                        vec![
                            a.vni.to_string(),
                            a.ip,
                            a.mac,
                            if a.is_static {
                                "static".into()
                            } else {
                                "snooped".into()
                            },
                        ]
                    })
                    .collect(),
            )
        }
        Show::Evpn => evpn(parse(v)?),
        Show::Vrf => {
            let rows: Vec<VrfView> = parse(v)?;
            table(
                &[
                    "vrf",
                    "id",
                    "vnis",
                    "routes",
                    "routed",
                    "no route",
                    "ttl exp",
                    "unresolved",
                    "resolves",
                ],
                rows.into_iter()
                    .map(|r| {
                        let c = r.counters;
                        vec![
                            r.name,
                            r.id.to_string(),
                            r.vnis
                                .iter()
                                .map(ToString::to_string)
                                .chain(r.l3vni.map(|v| format!("l3:{v}")))
                                .collect::<Vec<_>>()
                                .join(","),
                            r.routes.to_string(),
                            c.routed_packets.to_string(),
                            c.no_route.to_string(),
                            c.ttl_expired.to_string(),
                            c.unresolved.to_string(),
                            c.resolve_requests.to_string(),
                        ]
                    })
                    .collect(),
            )
        }
        Show::Route { .. } => {
            let rows: Vec<RouteView> = parse(v)?;
            table(
                &["vrf", "prefix", "type", "next hop", "packets", "bytes"],
                rows.into_iter()
                    .map(|r| {
                        let hop = match (r.via, r.vni) {
                            _ if r.next_vrf.is_some() => {
                                format!("vrf {}", r.next_vrf.unwrap_or_default())
                            }
                            _ if r.vtep.is_some() => format!(
                                "vtep {} rmac {} ({})",
                                r.vtep.unwrap_or_default(),
                                r.router_mac.unwrap_or_default(),
                                r.vni
                                    .map_or("no l3vni: inactive".into(), |v| format!("l3vni {v}"))
                            ),
                            (Some(via), Some(vni)) => format!("{via} (vni {vni})"),
                            (Some(via), None) => format!("{via} (not on any subnet: inactive)"),
                            (None, Some(vni)) => format!("vni {vni}"),
                            (None, None) => "-".into(),
                        };
                        vec![
                            r.vrf,
                            r.prefix,
                            r.kind,
                            hop,
                            r.packets.to_string(),
                            r.bytes.to_string(),
                        ]
                    })
                    .collect(),
            )
        }
        Show::Policy => {
            let p: PolicyView = parse(v)?;
            let mut out = format!(
                "default: between segments {}, within a segment {}\n",
                p.default_between, p.default_within
            );
            out.push_str(&table(
                &[
                    "rule", "prio", "from", "to", "proto", "ports", "action", "state", "log",
                    "hits",
                ],
                p.rules
                    .into_iter()
                    .map(|r| {
                        vec![
                            r.id.to_string(),
                            r.priority.to_string(),
                            r.from,
                            r.to,
                            r.proto,
                            if r.ports.is_empty() {
                                "any".into()
                            } else {
                                r.ports.join(",")
                            },
                            r.action,
                            if r.stateful { "stateful" } else { "-" }.into(),
                            if r.log { "log" } else { "-" }.into(),
                            r.hits.to_string(),
                        ]
                    })
                    .chain([
                        vec![
                            "default".into(),
                            "-".into(),
                            "within".into(),
                            "segment".into(),
                            "any".into(),
                            "any".into(),
                            p.default_within.clone(),
                            "-".into(),
                            "-".into(),
                            p.default_within_hits.to_string(),
                        ],
                        vec![
                            "default".into(),
                            "-".into(),
                            "between".into(),
                            "segments".into(),
                            "any".into(),
                            "any".into(),
                            p.default_between.clone(),
                            "-".into(),
                            "-".into(),
                            p.default_between_hits.to_string(),
                        ],
                    ])
                    .collect(),
            ));
            let s = p.sessions;
            out.push_str(&format!(
                "sessions: {} active of {}, {} opened, {} closed ({} revoked by rule changes)\n",
                s.active, s.capacity, s.opened, s.closed, s.revoked
            ));
            let l = p.log;
            out.push_str(&format!(
                "classifier: generation {}, {} IPv4 and {} IPv6 entries\n\
                 log: collectors [{}], {} notes ({} dropped, {} denied notes over rate), \
                 {} records in {} messages, {} send errors\n",
                p.classifier.generation,
                p.classifier.ipv4_entries,
                p.classifier.ipv6_entries,
                l.collectors.join(", "),
                l.notes,
                l.notes_dropped,
                l.deny_logs_policed,
                l.records,
                l.messages_sent,
                l.send_errors
            ));
            out
        }
        Show::Sessions { .. } => {
            let rows: Vec<SessionView> = parse(v)?;
            table(
                &[
                    "worker", "proto", "from", "to", "vnis", "rule", "age s", "packets", "bytes",
                ],
                rows.into_iter()
                    .map(|s| {
                        let addr = |ip: &str, port: u16| {
                            if ip.contains(':') {
                                format!("[{ip}]:{port}")
                            } else {
                                format!("{ip}:{port}")
                            }
                        };
                        vec![
                            s.worker.to_string(),
                            match s.proto {
                                6 => "tcp".into(),
                                17 => "udp".into(),
                                1 => "icmp".into(),
                                58 => "icmpv6".into(),
                                n => n.to_string(),
                            },
                            addr(&s.src, s.src_port),
                            addr(&s.dst, s.dst_port),
                            format!("{}->{}", s.src_vni, s.dst_vni),
                            s.rule.to_string(),
                            s.age_secs.to_string(),
                            format!("{}/{}", s.packets, s.reverse_packets),
                            format!("{}/{}", s.bytes, s.reverse_bytes),
                        ]
                    })
                    .collect(),
            )
        }
        Show::Ports => {
            let rows: Vec<PortView> = parse(v)?;
            table(
                &[
                    "port",
                    "role",
                    "mac",
                    "driver",
                    "link",
                    "rx pkts",
                    "tx pkts",
                    "rx missed",
                    "tx dropped",
                ],
                rows.into_iter()
                    .map(|p| {
                        vec![
                            p.name,
                            p.role,
                            p.mac,
                            p.driver,
                            if p.link_up {
                                format!("up {} Mb/s", p.speed_mbps)
                            } else {
                                "down".into()
                            },
                            p.rx_packets.to_string(),
                            p.tx_packets.to_string(),
                            p.rx_missed.to_string(),
                            p.tx_dropped.to_string(),
                        ]
                    })
                    .collect(),
            )
        }
        Show::Workers => {
            let rows: Vec<WorkerView> = parse(v)?;
            table(
                &[
                    "lcore",
                    "packets",
                    "bursts",
                    "avg burst",
                    "busy polls",
                    "idle polls",
                    "cycles/pkt",
                    "update queue",
                ],
                rows.into_iter()
                    .map(|w| {
                        vec![
                            w.lcore.to_string(),
                            w.packets.to_string(),
                            w.bursts.to_string(),
                            format!("{:.1}", w.average_burst),
                            w.busy_polls.to_string(),
                            w.idle_polls.to_string(),
                            format!("{:.0}", w.cycles_per_packet),
                            w.update_queue_depth.to_string(),
                        ]
                    })
                    .collect(),
            )
        }
        Show::Stats => {
            let mut out = String::new();
            let t = &v["totals"];
            out.push_str(&format!(
                "received {}  sent {}  dropped {}\n",
                t["rx_packets"], t["tx_packets"], t["dropped"]
            ));
            let drops: Vec<Vec<String>> = v["drops"]
                .as_object()
                .map(|m| {
                    m.iter()
                        .filter(|(_, n)| n.as_u64().unwrap_or(0) > 0)
                        .map(|(k, n)| vec![k.clone(), n.to_string()])
                        .collect()
                })
                .unwrap_or_default();
            if drops.is_empty() {
                out.push_str("no drops\n");
            } else {
                out.push_str(&table(&["drop reason", "packets"], drops));
            }
            if let Some(g) = v.get("gateway") {
                let tb = &g["tables"];
                out.push_str(&format!(
                    "MACs {}: learned {} moved {} aged {}; bindings snooped {}\n",
                    g["fdb_entries"],
                    tb["learned"],
                    tb["moved"],
                    tb["aged"],
                    tb["bindings_snooped"]
                ));
            }
            out
        }
    })
}

fn run(cli: Cli) -> Result<(), String> {
    if let Command::Completions { shell } = cli.command {
        let mut cmd = Cli::command();
        let mut script = Vec::new();
        clap_complete::generate(shell, &mut cmd, "vtepctl", &mut script);
        // A closed pipe (`| head`) is not an error worth a message.
        let _ = std::io::stdout().write_all(&script);
        return Ok(());
    }
    let token = match (&cli.token, &cli.token_file) {
        (Some(t), _) => Some(t.clone()),
        (None, Some(f)) => Some(
            std::fs::read_to_string(f)
                .map_err(|e| format!("{}: {e}", f.display()))?
                .trim()
                .to_owned(),
        ),
        (None, None) => None,
    };
    let client = Client {
        base: cli.api.clone(),
        token,
        agent: ureq::AgentBuilder::new()
            .timeout(std::time::Duration::from_secs(15))
            .build(),
    };
    let print = |v: Value| -> Result<(), String> {
        if cli.json {
            println!(
                "{}",
                serde_json::to_string_pretty(&v).map_err(|e| e.to_string())?
            );
        }
        Ok(())
    };
    match &cli.command {
        Command::Show { what } => {
            let path = match what {
                Show::Status => "/api/v1/status".to_owned(),
                Show::Vni { id: Some(id) } => format!("/api/v1/vnis/{id}"),
                Show::Vni { id: None } => "/api/v1/vnis".to_owned(),
                Show::Fdb { vni: Some(v) } => format!("/api/v1/fdb?vni={v}"),
                Show::Fdb { vni: None } => "/api/v1/fdb".to_owned(),
                Show::Arp { vni: Some(v) } => format!("/api/v1/arp?vni={v}"),
                Show::Arp { vni: None } => "/api/v1/arp".to_owned(),
                Show::Ports => "/api/v1/ports".to_owned(),
                Show::Workers => "/api/v1/workers".to_owned(),
                Show::Stats => "/api/v1/stats".to_owned(),
                Show::Evpn => "/api/v1/evpn".to_owned(),
                Show::Vrf => "/api/v1/vrfs".to_owned(),
                Show::Route { vrf: Some(v) } => format!("/api/v1/routes?vrf={v}"),
                Show::Route { vrf: None } => "/api/v1/routes".to_owned(),
                Show::Policy => "/api/v1/policy".to_owned(),
                Show::Sessions { limit } => format!("/api/v1/sessions?limit={limit}"),
            };
            let v = client.call("GET", &path, None)?;
            if cli.json {
                print(v)?;
            } else {
                let text = human(what, v)?;
                let _ = std::io::stdout().write_all(text.as_bytes());
            }
        }
        Command::Vni { op } => {
            let (v, done) = match op {
                VniOp::Add(spec) => (
                    client.call("POST", "/api/v1/vnis", Some(&spec.body()))?,
                    format!("added VNI {}", spec.id),
                ),
                VniOp::Set(u) => (
                    client.call(
                        "PATCH",
                        &format!("/api/v1/vnis/{}", u.id),
                        Some(&u.patch()?),
                    )?,
                    format!("changed VNI {}", u.id),
                ),
                VniOp::Replace(spec) => (
                    client.call(
                        "PUT",
                        &format!("/api/v1/vnis/{}", spec.id),
                        Some(&spec.body()),
                    )?,
                    format!("replaced VNI {}", spec.id),
                ),
                VniOp::Flood { id, vteps } => (
                    client.call(
                        "PUT",
                        &format!("/api/v1/vnis/{id}/flood"),
                        Some(&json!(vteps)),
                    )?,
                    format!(
                        "VNI {id} floods to {}",
                        if vteps.is_empty() {
                            "no VTEP".into()
                        } else {
                            vteps.join(", ")
                        }
                    ),
                ),
                VniOp::Del { id } => (
                    client.call("DELETE", &format!("/api/v1/vnis/{id}"), None)?,
                    format!("removed VNI {id}"),
                ),
            };
            done_or_json(cli.json, v, &done)?;
        }
        Command::Fdb { op } => {
            let (v, done) = match op {
                FdbOp::Add {
                    file: Some(path), ..
                } => {
                    let lines = if path.as_os_str() == "-" {
                        std::io::read_to_string(std::io::stdin())
                    } else {
                        std::fs::read_to_string(path)
                    }
                    .map_err(|e| format!("{}: {e}", path.display()))?;
                    let v = client.call_lines("POST", "/api/v1/fdb/bulk", &lines)?;
                    let n = v["added"].as_u64().unwrap_or(0);
                    (v, format!("{n} static MAC entries added"))
                }
                FdbOp::Add {
                    vni,
                    mac,
                    remote,
                    port,
                    file: None,
                } => {
                    let (vni, mac) = (vni.unwrap_or_default(), mac.clone().unwrap_or_default());
                    let mut body = json!({"vni": vni, "mac": mac});
                    if let Some(obj) = body.as_object_mut() {
                        if let Some(r) = remote {
                            obj.insert("remote".into(), json!(r));
                        }
                        if let Some(p) = port {
                            obj.insert("port".into(), json!(p));
                        }
                    }
                    (
                        client.call("POST", "/api/v1/fdb", Some(&body))?,
                        format!("{mac} in VNI {vni} added"),
                    )
                }
                FdbOp::Del { vni, mac } => (
                    client.call("DELETE", &format!("/api/v1/fdb/{vni}/{mac}"), None)?,
                    format!("{mac} in VNI {vni} removed"),
                ),
            };
            done_or_json(cli.json, v, &done)?;
        }
        Command::Arp { op } => {
            let (v, done) = match op {
                ArpOp::Add { vni, ip, mac } => (
                    client.call(
                        "POST",
                        "/api/v1/arp",
                        Some(&json!({"vni": vni, "ip": ip, "mac": mac})),
                    )?,
                    format!("{ip} is {mac} in VNI {vni}"),
                ),
                ArpOp::Del { vni, ip } => (
                    client.call("DELETE", &format!("/api/v1/arp/{vni}/{ip}"), None)?,
                    format!("binding of {ip} in VNI {vni} removed"),
                ),
            };
            done_or_json(cli.json, v, &done)?;
        }
        Command::Flush { vni, all } => {
            let path = format!(
                "/api/v1/vnis/{vni}/flush{}",
                if *all { "?all=true" } else { "" }
            );
            let v = client.call("POST", &path, None)?;
            let removed = v["removed"].as_u64().unwrap_or(0);
            done_or_json(
                cli.json,
                v,
                &format!("removed {removed} MAC(s) from VNI {vni}"),
            )?;
        }
        Command::Reload => {
            let v = client.call("POST", "/api/v1/reload", None)?;
            let summary = format!(
                "reloaded: VNIs added {} removed {} changed {}; {} static MAC and {} binding changes",
                v["vnis_added"], v["vnis_removed"], v["vnis_changed"], v["fdb_changed"], v["arp_changed"]
            );
            done_or_json(cli.json, v, &summary)?;
        }
        Command::Completions { .. } => {}
    }
    Ok(())
}

fn done_or_json(json: bool, v: Value, done: &str) -> Result<(), String> {
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&v).map_err(|e| e.to_string())?
        );
    } else {
        println!("{done}");
    }
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("vtepctl: {e}");
            ExitCode::from(1)
        }
    }
}
