//! The configuration file as written: TOML, every table closed (`deny_unknown_fields`), values
//! still as text. `validate` turns it into the typed `Config`.

use serde::Deserialize;

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct File {
    pub underlay: Option<Underlay>,
    #[serde(default)]
    pub access: Vec<Access>,
    #[serde(default)]
    pub vni: Vec<Vni>,
    #[serde(default)]
    pub fdb: Vec<Fdb>,
    #[serde(default)]
    pub arp: Vec<Arp>,
    pub xconnect: Option<Xconnect>,
    #[serde(default)]
    pub workers: Workers,
    #[serde(default)]
    pub tables: Tables,
    #[serde(default)]
    pub api: Api,
    pub evpn: Option<Evpn>,
    pub routing: Option<Routing>,
    #[serde(default)]
    pub vrf: Vec<Vrf>,
    #[serde(default)]
    pub route: Vec<Route>,
    pub policy: Option<Policy>,
    pub qos: Option<Qos>,
}

/// `[qos]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Qos {
    pub pcp_to_dscp: Option<PriorityMap>,
    pub dscp_to_pcp: Option<PriorityMap>,
}

/// A `[qos]` map: `"class-selector"`, a list indexed by the value mapped, or a table of
/// exceptions to the class-selector mapping.
#[derive(Debug, Deserialize, Clone)]
#[serde(untagged)]
pub enum PriorityMap {
    Named(String),
    List(Vec<i64>),
    Table(std::collections::BTreeMap<String, i64>),
}

/// A port named by DPDK device name or by port id.
#[derive(Debug, Deserialize, Clone)]
#[serde(untagged)]
pub enum PortRef {
    Name(String),
    Id(u16),
}

impl PortRef {
    pub fn into_name(self) -> String {
        match self {
            PortRef::Name(n) => n,
            PortRef::Id(id) => id.to_string(),
        }
    }
}

/// One value or a list of them.
#[derive(Debug, Deserialize, Clone)]
#[serde(untagged)]
pub enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    pub fn into_vec(self) -> Vec<String> {
        match self {
            OneOrMany::One(s) => vec![s],
            OneOrMany::Many(v) => v,
        }
    }
}

/// `dscp = "inherit"` or a fixed value.
#[derive(Debug, Deserialize, Clone)]
#[serde(untagged)]
pub enum Dscp {
    Fixed(i64),
    Policy(String),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Underlay {
    pub port: PortRef,
    pub addresses: Vec<String>,
    pub next_hop: Option<OneOrMany>,
    pub next_hop_mac: Option<String>,
    pub mtu: Option<i64>,
    pub vxlan_port: Option<i64>,
    pub ttl: Option<i64>,
    pub dscp: Option<Dscp>,
    pub source_port_range: Option<Vec<i64>>,
    pub neighbor_timeout_secs: Option<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Access {
    pub port: PortRef,
    pub untagged_vni: Option<i64>,
    pub mtu: Option<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Vni {
    pub id: i64,
    pub encap: Option<String>,
    pub vlan: Option<i64>,
    #[serde(default)]
    pub flood: Vec<String>,
    pub multicast_group: Option<String>,
    pub vxlan_port: Option<i64>,
    pub learning: Option<bool>,
    pub arp_suppression: Option<bool>,
    pub allowed_vteps: Option<Vec<String>>,
    pub max_macs: Option<i64>,
    pub bum_rate_pps: Option<i64>,
    pub learn_only_from_flood: Option<bool>,
    pub control: Option<String>,
    pub vrf: Option<String>,
    pub gateway: Option<OneOrMany>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fdb {
    pub vni: i64,
    pub mac: String,
    pub remote: Option<String>,
    pub port: Option<PortRef>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Arp {
    pub vni: i64,
    pub ip: String,
    pub mac: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Xconnect {
    pub ports: Vec<PortRef>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Workers {
    pub burst: Option<i64>,
    pub rx_desc: Option<i64>,
    pub tx_desc: Option<i64>,
    pub tx_drain_us: Option<i64>,
    pub idle_sleep_us: Option<i64>,
    pub mbufs: Option<i64>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Tables {
    pub mac_age_secs: Option<i64>,
    pub fdb_capacity: Option<i64>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Api {
    pub enabled: Option<bool>,
    pub listen: Option<String>,
    pub token: Option<String>,
    pub token_file: Option<String>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Evpn {
    pub namespace: Option<String>,
    pub vnis: Option<String>,
    pub bgp_via: Option<String>,
    pub exception_established_pps: Option<i64>,
    pub exception_new_pps: Option<i64>,
}

#[derive(Debug, Deserialize, Default, Clone)]
#[serde(deny_unknown_fields)]
pub struct Routing {
    pub gateway_mac: Option<String>,
    pub router_mac: Option<String>,
    pub icmp_errors_pps: Option<i64>,
    pub resolve_pps: Option<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Vrf {
    pub name: String,
    pub id: i64,
    pub l3vni: Option<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Route {
    pub vrf: String,
    pub prefix: String,
    pub via: Option<String>,
    pub next_vrf: Option<String>,
    pub vtep: Option<String>,
    pub router_mac: Option<String>,
}

/// `[policy]` with its `[[policy.group]]` and `[[policy.rule]]` tables.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    pub default_between: Option<String>,
    pub default_within: Option<String>,
    pub max_sessions: Option<i64>,
    pub tenant_max_sessions: Option<i64>,
    pub log_default_deny: Option<bool>,
    #[serde(default)]
    pub ipfix: Vec<String>,
    pub ipfix_template_refresh: Option<i64>,
    pub ipfix_interim: Option<i64>,
    #[serde(default)]
    pub timeouts: PolicyTimeouts,
    #[serde(default)]
    pub group: Vec<PolicyGroup>,
    #[serde(default)]
    pub rule: Vec<PolicyRule>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct PolicyTimeouts {
    pub tcp_established: Option<i64>,
    pub tcp_transient: Option<i64>,
    pub tcp_closed: Option<i64>,
    pub udp: Option<i64>,
    pub other: Option<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyGroup {
    pub name: String,
    #[serde(default)]
    pub vnis: Vec<i64>,
    #[serde(default)]
    pub prefixes: Vec<String>,
}

/// A port (`22`) or a range of them (`"6000-6010"`).
#[derive(Debug, Deserialize, Clone)]
#[serde(untagged)]
pub enum PortSpec {
    One(i64),
    Range(String),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyRule {
    pub id: i64,
    pub priority: Option<i64>,
    pub from: String,
    pub to: String,
    pub proto: Option<String>,
    #[serde(default)]
    pub ports: Vec<PortSpec>,
    pub action: String,
    pub stateful: Option<bool>,
    pub log: Option<bool>,
}
