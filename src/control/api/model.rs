//! What the API exchanges: JSON views of the tables, shared by the server and `vtepctl`.

use serde::{Deserialize, Serialize};

/// Every error answer: `{"error": "..."}` naming the field at fault where there is one.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ErrorBody {
    pub error: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct StatusView {
    pub version: String,
    pub dpdk: String,
    pub mode: String,
    pub uptime_secs: u64,
    pub workers: usize,
    pub ports: usize,
    pub config: String,
    /// TSC ticks per second: the unit of the workers' cycle counters.
    pub tsc_hz: u64,
}

/// A VNI: its configuration (the same fields as a `[[vni]]` table) and its counters.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct VniView {
    pub id: u32,
    pub encap: String,
    pub vlan: Option<u16>,
    pub flood: Vec<String>,
    pub multicast_group: Option<String>,
    /// The VNI's own VXLAN UDP port (none: `underlay.vxlan_port`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vxlan_port: Option<u16>,
    pub learning: bool,
    pub arp_suppression: bool,
    pub allowed_vteps: Option<Vec<String>>,
    pub max_macs: Option<u32>,
    pub bum_rate_pps: Option<u32>,
    pub learn_only_from_flood: bool,
    /// `"static"` or `"evpn"`: which control plane fills the remote MACs and flood list.
    #[serde(default = "static_control")]
    pub control: String,
    /// The tenant VRF it is routed in, and the gateway's addresses in it (docs/ROUTING.md).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vrf: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub gateway: Vec<String>,
    /// The VNI is `vrf`'s L3VNI (`[[vrf]] l3vni`): routed packets between VTEPs only.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub l3vni: bool,
    /// Learned MACs.
    pub macs: u32,
    pub encap_packets: u64,
    pub encap_bytes: u64,
    pub decap_packets: u64,
    pub decap_bytes: u64,
    pub flood_copies: u64,
    pub arp_suppressed: u64,
    /// BUM frames dropped by storm control (`bum_rate_pps`).
    pub bum_rate_limited: u64,
    /// Decapsulated frames whose source was not learned (`learn_only_from_flood`).
    pub learn_refused: u64,
}

fn static_control() -> String {
    "static".to_owned()
}

/// A MAC entry: behind an access port or a remote VTEP.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct FdbView {
    pub vni: u32,
    pub mac: String,
    pub port: Option<String>,
    pub remote: Option<String>,
    #[serde(rename = "static")]
    pub is_static: bool,
    /// `"static"`, `"learned"` or `"evpn"` (a BGP EVPN route).
    #[serde(default = "static_control")]
    pub origin: String,
    /// Seconds since traffic from it was last reported (learned entries).
    pub idle_secs: Option<u64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ArpView {
    pub vni: u32,
    pub ip: String,
    pub mac: String,
    #[serde(rename = "static")]
    pub is_static: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PortView {
    pub name: String,
    pub role: String,
    pub mac: String,
    pub driver: String,
    pub link_up: bool,
    pub speed_mbps: u32,
    pub queues: u16,
    pub rx_packets: u64,
    pub tx_packets: u64,
    pub rx_bytes: u64,
    pub tx_bytes: u64,
    pub rx_missed: u64,
    pub rx_errors: u64,
    pub tx_errors: u64,
    pub tx_dropped: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct WorkerView {
    pub lcore: u32,
    pub packets: u64,
    pub bursts: u64,
    pub average_burst: f64,
    pub busy_polls: u64,
    pub idle_polls: u64,
    /// Sleeps of the idle back-off (`workers.idle_sleep_us`; 0 when it is off).
    #[serde(default)]
    pub idle_sleeps: u64,
    pub cycles_per_packet: f64,
    pub update_queue_depth: usize,
}

/// What a reload changed.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, Default)]
pub struct ReloadView {
    pub vnis_added: Vec<u32>,
    pub vnis_removed: Vec<u32>,
    pub vnis_changed: Vec<u32>,
    pub fdb_changed: usize,
    pub arp_changed: usize,
    pub settings_changed: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct FlushView {
    pub vni: u32,
    pub removed: usize,
}

/// `GET /api/v1/evpn`: the EVPN state, per VNI and in total.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct EvpnView {
    pub namespace: String,
    /// zebra and bgpd run in the namespace.
    pub frr_running: bool,
    pub vnis: Vec<EvpnVniView>,
    pub counters: EvpnCounters,
    /// What crossed the exception path (BGP over the underlay); null with
    /// `bgp_via = "namespace"`.
    pub exception: Option<crate::control::evpn::exception::ExceptionStats>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct EvpnVniView {
    pub vni: u32,
    /// VTEPs from type 3 routes (flooded to together with the configured `flood`).
    pub flood_vteps: Vec<String>,
    /// MACs from type 2 routes, with their VTEP.
    pub remote_macs: Vec<EvpnMacView>,
    /// MACs on local ports written into the namespace for FRR to advertise.
    pub local_macs: Vec<String>,
    /// IP bindings from type 2 MAC/IP routes.
    pub remote_bindings: Vec<ArpView>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct EvpnMacView {
    pub mac: String,
    pub vtep: String,
}

#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct EvpnCounters {
    pub macs_installed: u64,
    pub macs_withdrawn: u64,
    pub moved_remote: u64,
    pub moved_local: u64,
    pub refused_static: u64,
    pub flood_updates: u64,
    pub bindings_installed: u64,
    pub bindings_withdrawn: u64,
    /// Route changes read from the namespace, and those the tables refused.
    pub imported: u64,
    pub import_refused: u64,
    pub kernel_messages: u64,
    pub resyncs: u64,
    /// Local MACs and bindings written into the namespace, and removed from it.
    pub exported: u64,
    pub export_withdrawn: u64,
    pub export_errors: u64,
}

/// `GET /api/v1/vrfs`: a tenant VRF, its VNIs, and what the workers counted in it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct VrfView {
    pub name: String,
    pub id: u32,
    pub vnis: Vec<u32>,
    /// The L3VNI routed packets to and from other VTEPs travel in (symmetric IRB).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub l3vni: Option<u32>,
    /// Routes installed in its FIB (connected subnets and static routes).
    pub routes: usize,
    pub counters: VrfCountersView,
}

/// Sums over every worker of one VRF's counters (docs/ROUTING.md).
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct VrfCountersView {
    pub routed_packets: u64,
    pub routed_bytes: u64,
    pub no_route: u64,
    pub ttl_expired: u64,
    pub icmp_errors: u64,
    pub unresolved: u64,
    pub resolve_requests: u64,
    pub gateway_replies: u64,
    pub echo_replies: u64,
}

/// `GET /api/v1/routes[?vrf=NAME]`: one route of a VRF and the packets routed by it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct RouteView {
    pub vrf: String,
    pub prefix: String,
    /// `"connected"` (a VNI's gateway subnet) or `"static"` (a `[[route]]`).
    pub kind: String,
    /// The VNI the next hop is in; null when a static route's `via` is on no subnet of the
    /// VRF any more.
    pub vni: Option<u32>,
    pub via: Option<String>,
    /// A leaked route: the VRF it is looked up again in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_vrf: Option<String>,
    /// A route through another VTEP (in the L3VNI, `vni`): its address and router MAC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vtep: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub router_mac: Option<String>,
    /// In the workers' FIB now.
    pub installed: bool,
    pub packets: u64,
    pub bytes: u64,
}
