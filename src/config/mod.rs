//! vtepd's configuration: loaded from TOML, validated completely before anything starts.
//!
//! Every error names the key it is about (`vni[1].flood[0]`) and why, in one line, so an
//! operator can fix the file without reading code. See docs/CONFIG.md for every key.

mod evpn;
mod policy;
mod qos;
mod routing;
mod schema;
mod validate;

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::Path;

use crate::wire::{MacAddr, Vni};

pub use policy::{
    Action, GroupConfig, GroupRef, Member, PolicyConfig, Protocol, RuleConfig, SessionTimeouts,
};
pub use validate::{arp_from_json, fdb_from_json, parse, vni_from_json};

/// A configuration problem: the key, and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("{path}: {reason}")]
    Io { path: String, reason: String },
    #[error("{key}: {reason}")]
    Invalid { key: String, reason: String },
}

impl ConfigError {
    pub(crate) fn invalid(key: impl Into<String>, reason: impl Into<String>) -> ConfigError {
        ConfigError::Invalid {
            key: key.into(),
            reason: reason.into(),
        }
    }
}

/// A validated configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub mode: Mode,
    pub workers: WorkersConfig,
    pub tables: TablesConfig,
    pub api: ApiConfig,
}

/// The management API (HTTP/JSON, Prometheus `/metrics`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiConfig {
    /// None: no API server.
    pub listen: Option<std::net::SocketAddr>,
    /// Bearer token every request must carry; required off loopback.
    pub token: Option<String>,
}

impl Default for ApiConfig {
    fn default() -> Self {
        ApiConfig {
            listen: Some(std::net::SocketAddr::from((
                [127, 0, 0, 1],
                DEFAULT_API_PORT,
            ))),
            token: None,
        }
    }
}

/// The API's default port (also vtepctl's default).
pub const DEFAULT_API_PORT: u16 = 8179;

impl Config {
    /// Reads and validates a configuration file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Io {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
        parse(&text)
    }

    /// Every port the configuration uses, each once, in the order they appear.
    pub fn ports(&self) -> Vec<&str> {
        match &self.mode {
            Mode::CrossConnect { ports } => ports.iter().map(String::as_str).collect(),
            Mode::Gateway(g) => std::iter::once(g.underlay.port.as_str())
                .chain(g.access.iter().map(|a| a.port.as_str()))
                .collect(),
        }
    }
}

/// What the data plane does.
#[derive(Debug, Clone, PartialEq, Eq)]
// Built once per load or reload and never on a hot path: boxing the gateway (or its
// sections) would only add indirection to every reader.
#[allow(clippy::large_enum_variant)]
pub enum Mode {
    /// The VXLAN/NVGRE L2 gateway.
    Gateway(GatewayConfig),
    /// Every frame received on one port is sent unchanged on the other (a wiring check and
    /// the I/O baseline for benchmarks).
    CrossConnect { ports: [String; 2] },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayConfig {
    pub underlay: UnderlayConfig,
    pub access: Vec<AccessConfig>,
    pub vnis: Vec<VniConfig>,
    pub fdb: Vec<StaticFdb>,
    pub arp: Vec<StaticArp>,
    /// BGP EVPN through FRR in a shadow namespace (None: no VNI is under EVPN control).
    pub evpn: Option<EvpnConfig>,
    /// The L3 gateway: tenant VRFs, the anycast gateway, static routes (None: bridging only).
    pub routing: Option<Box<RoutingConfig>>,
    /// The stateful firewall between segments (None: everything is forwarded as bridged or
    /// routed, and the policy stage is not in the path).
    pub policy: Option<Box<PolicyConfig>>,
    /// 802.1p priority carried across the tunnel (`[qos]`; both directions off by default).
    pub qos: QosConfig,
}

/// `[qos]`: the access VLAN tag's priority (PCP) to the outer DSCP and back. Each map is
/// None when its direction is off: frames leave as before (outer DSCP per `underlay.dscp`,
/// pushed tags with the ingress tag's PCP, or 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct QosConfig {
    /// PCP (index) → outer DSCP, for frames that arrived with an 802.1Q tag (priority tags
    /// included); untagged frames follow `underlay.dscp`.
    pub pcp_to_dscp: Option<[u8; 8]>,
    /// Outer DSCP (index) → PCP of the tag pushed when a decapsulated frame leaves on a
    /// tagged access VLAN.
    pub dscp_to_pcp: Option<[u8; 64]>,
}

/// `[routing]`, `[[vrf]]` and `[[route]]`: routing between the VNIs of a tenant VRF through a
/// distributed anycast gateway (docs/ROUTING.md).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoutingConfig {
    /// The anycast gateway MAC: the same on every gateway of the fabric, so a host keeps its
    /// gateway's MAC when it moves.
    pub gateway_mac: MacAddr,
    /// This gateway's own router MAC (symmetric IRB, RFC 9135): the inner destination of
    /// routed packets other VTEPs send it through a VRF's L3VNI. Unique per gateway.
    pub router_mac: MacAddr,
    pub vrfs: Vec<VrfConfig>,
    pub routes: Vec<StaticRoute>,
    /// ICMP errors (time exceeded) the gateway sends per second, all workers together.
    pub icmp_errors_pps: u32,
    /// ARP requests / neighbour solicitations for unresolved hosts per second.
    pub resolve_pps: u32,
}

impl RoutingConfig {
    pub fn vrf(&self, name: &str) -> Option<&VrfConfig> {
        self.vrfs.iter().find(|v| v.name == name)
    }
}

/// `[routing] gateway_mac` when not given: locally administered, the same on every vtepd.
pub const DEFAULT_GATEWAY_MAC: MacAddr = MacAddr([0x02, 0x76, 0x74, 0x70, 0x00, 0x01]);

/// A tenant routing domain: its VNIs' subnets and routes meet nothing of another VRF.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VrfConfig {
    pub name: String,
    pub id: u32,
    /// The VRF's L3VNI (symmetric IRB): routed packets to and from other VTEPs travel in it.
    pub l3vni: Option<Vni>,
}

/// `[[route]]`: a prefix reached through a router on one of the VRF's gateway subnets, or
/// leaked from another VRF (`next_vrf`: looked up again there, as FRR's `nexthop-vrf`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaticRoute {
    pub vrf: String,
    /// Host bits zero.
    pub prefix: IpCidr,
    pub next_hop: RouteNextHop,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouteNextHop {
    /// A router, a host of one of the VRF's VNIs.
    Via(IpAddr),
    /// Another VRF, whose own routes (connected or through a router) carry the packet on.
    Vrf(String),
    /// Another VTEP, through the VRF's L3VNI, to its router MAC (symmetric IRB: what an
    /// EVPN type 5 prefix or type 2 host route installs).
    Remote(RemoteHop),
}

/// A routed next hop behind another VTEP: its address and its router MAC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RemoteHop {
    pub vtep: IpAddr,
    pub router_mac: MacAddr,
}

impl StaticRoute {
    pub fn via(&self) -> Option<IpAddr> {
        match self.next_hop {
            RouteNextHop::Via(ip) => Some(ip),
            _ => None,
        }
    }

    pub fn next_vrf(&self) -> Option<&str> {
        match &self.next_hop {
            RouteNextHop::Vrf(v) => Some(v),
            _ => None,
        }
    }

    pub fn remote(&self) -> Option<RemoteHop> {
        match self.next_hop {
            RouteNextHop::Remote(r) => Some(r),
            _ => None,
        }
    }
}

/// `[evpn]`: where FRR sees vtepd's state (docs/EVPN.md).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvpnConfig {
    /// The Linux network namespace vtepd owns and mirrors its EVPN VNIs into.
    pub namespace: String,
    /// `vnis = "all"`: every VNI without a `control` key is under EVPN control.
    pub all_vnis: bool,
    /// How FRR reaches its BGP peers.
    pub bgp_via: BgpVia,
}

/// `[evpn] bgp_via`: the way FRR in the namespace reaches its peers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BgpVia {
    /// Through vtepd's underlay port: the exception path carries what the namespace's
    /// kernel sends and receives at the VTEP addresses, policed per class.
    Underlay(ExceptionLimits),
    /// Through an interface of its own the operator moves into the namespace (a
    /// management NIC); vtepd carries nothing for the kernel.
    Namespace,
}

/// The exception path's policers, packets per second for the whole gateway (each worker
/// polices its share).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExceptionLimits {
    /// Established traffic: TCP segments other than a bare SYN, BFD, ARP/ND replies.
    pub established_pps: u32,
    /// Everything else: connection attempts (a bare SYN), other UDP, ICMP, other protocols.
    pub new_pps: u32,
}

impl Default for ExceptionLimits {
    fn default() -> Self {
        ExceptionLimits {
            established_pps: 20_000,
            new_pps: 1_000,
        }
    }
}

/// The namespace EVPN uses when `[evpn] namespace` is not given.
pub const DEFAULT_EVPN_NAMESPACE: &str = "vtepd";

/// Which control plane fills a VNI's remote MACs and flood list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Control {
    /// Configuration and the API (`flood`, `[[fdb]]`), plus data-plane learning.
    #[default]
    Static,
    /// BGP EVPN: type 2 routes give remote MACs, type 3 the flood list; remote MACs are not
    /// learned from the data plane.
    Evpn,
}

impl fmt::Display for Control {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Control::Static => "static",
            Control::Evpn => "evpn",
        })
    }
}

/// An address with its prefix length, as in `10.0.0.1/24`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IpCidr {
    pub addr: IpAddr,
    pub prefix: u8,
}

impl IpCidr {
    /// True when `ip` is on this subnet.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

impl IpCidr {
    /// Whether `ip` is this IPv4 subnet's broadcast address (host bits all ones; /31 and
    /// /32 have none).
    pub fn is_broadcast_of(&self, ip: IpAddr) -> bool {
        match (self.addr, ip) {
            (IpAddr::V4(_), IpAddr::V4(a)) if self.prefix < 31 && self.contains(ip) => {
                let host = u32::MAX >> self.prefix;
                u32::from(a) & host == host
            }
            _ => false,
        }
    }

    /// The subnet: the address with its host bits cleared.
    pub fn network(&self) -> IpCidr {
        let addr = match self.addr {
            IpAddr::V4(a) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                IpAddr::V4(Ipv4Addr::from(u32::from(a) & mask))
            }
            IpAddr::V6(a) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                IpAddr::V6(Ipv6Addr::from(u128::from(a) & mask))
            }
        };
        IpCidr {
            addr,
            prefix: self.prefix,
        }
    }

    /// Whether the two subnets share an address.
    pub fn overlaps(&self, other: &IpCidr) -> bool {
        let shorter = if self.prefix <= other.prefix {
            self
        } else {
            other
        };
        let longer = if std::ptr::eq(shorter, self) {
            other
        } else {
            self
        };
        shorter.contains(longer.addr)
    }
}

impl fmt::Display for IpCidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// How the outer header's DSCP is chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DscpPolicy {
    /// Copied from the inner IPv4/IPv6 header (0 for non-IP inner frames).
    Inherit,
    Fixed(u8),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnderlayConfig {
    pub port: String,
    /// Local VTEP addresses; the first of each family is the source of encapsulated packets.
    pub addresses: Vec<IpCidr>,
    /// Gateways for remote VTEPs that are not on a local subnet, at most one per family.
    pub next_hops: Vec<IpAddr>,
    /// Fixed next-hop MAC: no ARP/ND resolution at all.
    pub next_hop_mac: Option<MacAddr>,
    /// IP MTU of the underlay: the largest outer IP packet sent.
    pub mtu: u16,
    pub vxlan_port: u16,
    pub ttl: u8,
    pub dscp: DscpPolicy,
    pub source_ports: (u16, u16),
    /// How long a resolved neighbour stays valid before it is resolved again.
    pub neighbor_timeout_secs: u32,
}

impl UnderlayConfig {
    pub fn source_v4(&self) -> Option<Ipv4Addr> {
        self.addresses.iter().find_map(|c| match c.addr {
            IpAddr::V4(a) => Some(a),
            IpAddr::V6(_) => None,
        })
    }

    pub fn source_v6(&self) -> Option<Ipv6Addr> {
        self.addresses.iter().find_map(|c| match c.addr {
            IpAddr::V6(a) => Some(a),
            IpAddr::V4(_) => None,
        })
    }

    /// The local address used to reach `remote`, if the underlay has one of its family.
    pub fn source_for(&self, remote: IpAddr) -> Option<IpAddr> {
        match remote {
            IpAddr::V4(_) => self.source_v4().map(IpAddr::V4),
            IpAddr::V6(_) => self.source_v6().map(IpAddr::V6),
        }
    }

    /// The neighbour whose MAC a packet to `remote` is sent to: `remote` itself when it is on a
    /// local subnet, else the family's next hop.
    pub fn gateway_for(&self, remote: IpAddr) -> Option<IpAddr> {
        if self.addresses.iter().any(|c| c.contains(remote)) {
            return Some(remote);
        }
        self.next_hops
            .iter()
            .copied()
            .find(|nh| nh.is_ipv4() == remote.is_ipv4())
    }

    pub fn is_local(&self, ip: IpAddr) -> bool {
        self.addresses.iter().any(|c| c.addr == ip)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessConfig {
    pub port: String,
    pub untagged_vni: Option<Vni>,
    pub mtu: Option<u16>,
}

/// The MTU DPDK gives a port configured without one (`RTE_ETHER_MTU`).
pub const DEFAULT_PORT_MTU: u16 = 1500;

impl AccessConfig {
    /// The port's MTU: the configured one, else DPDK's default (`DEFAULT_PORT_MTU`).
    pub fn effective_mtu(&self) -> u16 {
        self.mtu.unwrap_or(DEFAULT_PORT_MTU)
    }
}

/// Tunnel encapsulation of a VNI.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Encap {
    Vxlan,
    Nvgre,
}

impl fmt::Display for Encap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Encap::Vxlan => "vxlan",
            Encap::Nvgre => "nvgre",
        })
    }
}

/// Distinct VXLAN UDP ports a gateway receives on at once, `underlay.vxlan_port` included.
pub const MAX_VXLAN_PORTS: usize = 4;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VniConfig {
    pub id: Vni,
    pub encap: Encap,
    /// 802.1Q VLAN of this segment on access ports.
    pub vlan: Option<u16>,
    /// Head-end replication list.
    pub flood: Vec<IpAddr>,
    /// Underlay multicast group for BUM traffic (instead of `flood`).
    pub multicast_group: Option<IpAddr>,
    /// The VXLAN UDP port of this VNI's packets, both ways (None: `underlay.vxlan_port`).
    pub vxlan_port: Option<u16>,
    pub learning: bool,
    pub arp_suppression: bool,
    /// Only these VTEPs may send traffic into the VNI.
    pub allowed_vteps: Option<Vec<IpAddr>>,
    pub max_macs: Option<u32>,
    /// Storm control: broadcast, multicast and unknown-unicast packets per second admitted
    /// into the VNI (both directions together), shared out between the workers.
    pub bum_rate_pps: Option<u32>,
    /// Learn MACs (and snoop bindings) behind remote VTEPs only from those in `flood`.
    pub learn_only_from_flood: bool,
    pub control: Control,
    /// The tenant VRF this VNI's hosts are routed in (None: bridged only).
    pub vrf: Option<String>,
    /// The anycast gateway's addresses in this VNI, each with its subnet.
    pub gateways: Vec<IpCidr>,
    /// The L3VNI of `vrf` (symmetric IRB), made from `[[vrf]] l3vni`: it carries routed
    /// packets between VTEPs, to their router MACs, and nothing bridged.
    pub l3: bool,
}

/// Where a static FDB entry points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FdbDest {
    Remote(IpAddr),
    Access(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaticFdb {
    pub vni: Vni,
    pub mac: MacAddr,
    pub dest: FdbDest,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaticArp {
    pub vni: Vni,
    pub ip: IpAddr,
    pub mac: MacAddr,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorkersConfig {
    pub burst: u16,
    pub rx_desc: u16,
    pub tx_desc: u16,
    pub tx_drain_us: u32,
    /// Mbufs per pool; derived from queues and descriptors when not given.
    pub mbufs: Option<u32>,
    /// Idle back-off: a worker that has received nothing for `IDLE_BEFORE_SLEEP_US` sleeps
    /// this long between polls until traffic returns (0: never, the worker spins).
    pub idle_sleep_us: u32,
}

impl Default for WorkersConfig {
    fn default() -> Self {
        WorkersConfig {
            burst: 32,
            rx_desc: 1024,
            tx_desc: 1024,
            tx_drain_us: 100,
            mbufs: None,
            idle_sleep_us: 0,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TablesConfig {
    pub mac_age_secs: u32,
    /// Capacity reserved up front in each worker's FDB replica (no growth on the fast path).
    pub fdb_capacity: u32,
}

impl Default for TablesConfig {
    fn default() -> Self {
        TablesConfig {
            mac_age_secs: 300,
            fdb_capacity: 65536,
        }
    }
}

#[cfg(test)]
mod samples {
    /// Every sample in config/ parses: they are what operators start from.
    #[test]
    fn every_sample_configuration_parses() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config");
        let mut checked = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "toml") {
                let text = std::fs::read_to_string(&path).unwrap();
                if let Err(e) = crate::config::parse(&text) {
                    panic!("{}: {e}", path.display());
                }
                checked += 1;
            }
        }
        assert!(checked >= 7, "only {checked} samples in {}", dir.display());
    }
}
