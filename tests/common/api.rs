//! Helpers for the management-plane tests (tests/api.rs, tests/vtepctl.rs, tests/reload.rs,
//! tests/observability.rs): an HTTP client for vtepd's API, vtepctl and dpdk-telemetry.py
//! runners, a strict parser of the Prometheus text format, and a live lab (vtepd in a network
//! namespace on veths, its API reached through tests/traffic/api/netns_proxy.py) with numbered,
//! paced streams (tests/traffic/api/stream.py) for changes made under traffic.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::Value;

use super::netns::{self, veth, wait_until, Netns, PYTHON};
use super::{Outcome, Running, Scratch, Vtepd};

// --- HTTP ---------------------------------------------------------------------------------

/// One answer of the API.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub body: String,
    pub content_type: String,
    /// When the answer had been read (wall clock, comparable with capture timestamps).
    pub at: SystemTime,
}

impl Reply {
    /// The body as JSON (Null when empty); panics when it is not JSON.
    pub fn json(&self) -> Value {
        if self.body.trim().is_empty() {
            return Value::Null;
        }
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("answer is not JSON ({e}): {:?}", self.body))
    }

    /// The `error` of an error answer, which must be `{"error": "..."}` and nothing else.
    pub fn error(&self) -> String {
        let v = self.json();
        let obj = v
            .as_object()
            .unwrap_or_else(|| panic!("error answer is not an object: {v}"));
        assert_eq!(obj.len(), 1, "error answer has more than `error`: {v}");
        obj["error"]
            .as_str()
            .unwrap_or_else(|| panic!("no error message: {v}"))
            .to_owned()
    }

    /// Asserts the status and that the error message starts with `prefix`; returns it.
    pub fn refused(&self, status: u16, prefix: &str) -> String {
        assert_eq!(self.status, status, "expected {status}, got {self:?}");
        let e = self.error();
        assert!(
            e.starts_with(prefix),
            "error should start with {prefix:?}: {e:?}"
        );
        e
    }
}

/// A client for vtepd's API.
#[derive(Debug, Clone)]
pub struct Api {
    pub base: String,
    pub token: Option<String>,
    agent: ureq::Agent,
}

impl Api {
    pub fn new(base: impl Into<String>) -> Api {
        Api {
            base: base.into().trim_end_matches('/').to_owned(),
            token: None,
            agent: ureq::AgentBuilder::new()
                .timeout(Duration::from_secs(30))
                .build(),
        }
    }

    pub fn with_token(mut self, token: &str) -> Api {
        self.token = Some(token.to_owned());
        self
    }

    /// Sends `method path` with a raw body and an explicit `Authorization` header value.
    pub fn request(
        &self,
        method: &str,
        path: &str,
        body: Option<&str>,
        authorization: Option<&str>,
    ) -> Reply {
        let url = format!("{}{path}", self.base);
        let mut req = self.agent.request(method, &url);
        if let Some(a) = authorization {
            req = req.set("Authorization", a);
        }
        let result = match body {
            Some(b) => req.set("Content-Type", "application/json").send_string(b),
            None => req.call(),
        };
        let resp = match result {
            Ok(r) => r,
            Err(ureq::Error::Status(_, r)) => r,
            Err(e) => panic!("{method} {url}: {e}"),
        };
        let status = resp.status();
        let content_type = resp.header("Content-Type").unwrap_or_default().to_owned();
        let mut body = String::new();
        resp.into_reader()
            .read_to_string(&mut body)
            .unwrap_or_else(|e| panic!("{method} {url}: read the answer: {e}"));
        Reply {
            status,
            body,
            content_type,
            at: SystemTime::now(),
        }
    }

    /// Sends `method path` with a raw body (and this client's token, if any).
    pub fn call(&self, method: &str, path: &str, body: Option<&str>) -> Reply {
        let auth = self.token.as_ref().map(|t| format!("Bearer {t}"));
        self.request(method, path, body, auth.as_deref())
    }

    pub fn get(&self, path: &str) -> Reply {
        self.call("GET", path, None)
    }

    /// Sends `body` as JSON.
    pub fn send(&self, method: &str, path: &str, body: &Value) -> Reply {
        self.call(method, path, Some(&body.to_string()))
    }

    /// A request that must succeed with `status`; its JSON.
    pub fn expect(&self, status: u16, method: &str, path: &str, body: Option<&Value>) -> Value {
        let r = match body {
            Some(b) => self.send(method, path, b),
            None => self.call(method, path, None),
        };
        assert_eq!(r.status, status, "{method} {path}: {r:?}");
        r.json()
    }

    /// `GET path`, which must answer 200; its JSON.
    pub fn get_ok(&self, path: &str) -> Value {
        self.expect(200, "GET", path, None)
    }

    /// Every read-only view at once: what a refused request must leave unchanged.
    pub fn state(&self) -> Value {
        serde_json::json!({
            "vnis": config_only(&self.get_ok("/api/v1/vnis")),
            "fdb": strip_idle(&self.get_ok("/api/v1/fdb")),
            "arp": self.get_ok("/api/v1/arp"),
        })
    }
}

/// VNI views without their counters (which move with traffic).
pub fn config_only(vnis: &Value) -> Value {
    let keep = [
        "id",
        "encap",
        "vlan",
        "flood",
        "multicast_group",
        "learning",
        "arp_suppression",
        "allowed_vteps",
        "max_macs",
        "bum_rate_pps",
        "learn_only_from_flood",
    ];
    let strip = |v: &Value| -> Value {
        let mut o = serde_json::Map::new();
        for k in keep {
            if let Some(x) = v.get(k) {
                o.insert(k.to_owned(), x.clone());
            }
        }
        Value::Object(o)
    };
    match vnis {
        Value::Array(a) => Value::Array(a.iter().map(strip).collect()),
        v => strip(v),
    }
}

/// FDB rows without `idle_secs` (which moves with time).
pub fn strip_idle(fdb: &Value) -> Value {
    let mut v = fdb.clone();
    if let Some(rows) = v.as_array_mut() {
        for r in rows {
            if let Some(o) = r.as_object_mut() {
                o.remove("idle_secs");
            }
        }
    }
    v
}

/// The ids of a VNI list.
pub fn ids(vnis: &Value) -> Vec<u64> {
    vnis.as_array()
        .expect("a list of VNIs")
        .iter()
        .map(|v| v["id"].as_u64().expect("an id"))
        .collect()
}

/// A loopback port nothing listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

// --- configurations -----------------------------------------------------------------------

/// A gateway on two `net_null` ports that receive nothing (`null_ports`): underlay net_null0,
/// access net_null1 with native VNI 5000 (flooding to 10.0.0.2), VNI 5100 on VLAN 100.
pub const NULL_GATEWAY: &str = r#"
[underlay]
port = "net_null0"
addresses = ["10.0.0.1/24"]
next_hop_mac = "02:00:00:00:00:fe"

[[access]]
port = "net_null1"
untagged_vni = 5000

[[vni]]
id = 5000
flood = ["10.0.0.2"]

[[vni]]
id = 5100
vlan = 100
"#;

/// The two silent `net_null` ports `NULL_GATEWAY` uses.
pub fn null_ports(v: Vtepd) -> Vtepd {
    v.vdev("net_null0,no-rx=1").vdev("net_null1,no-rx=1")
}

// --- vtepctl ------------------------------------------------------------------------------

pub fn vtepctl_bin() -> &'static str {
    env!("CARGO_BIN_EXE_vtepctl")
}

/// What one vtepctl run printed.
#[derive(Debug)]
pub struct CtlRun {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl CtlRun {
    /// Asserts exit 0 with nothing on stderr; returns stdout.
    pub fn ok(&self) -> &str {
        assert_eq!(self.code, Some(0), "vtepctl failed: {self:?}");
        assert!(self.stderr.is_empty(), "vtepctl wrote to stderr: {self:?}");
        &self.stdout
    }

    /// Stdout parsed as JSON (for --json).
    pub fn json(&self) -> Value {
        serde_json::from_str(self.ok())
            .unwrap_or_else(|e| panic!("vtepctl --json printed no JSON ({e}): {self:?}"))
    }

    /// Asserts the contract for errors: exit 1, nothing on stdout, one line on stderr
    /// starting "vtepctl: "; returns that line.
    pub fn failed(&self) -> String {
        assert_eq!(self.code, Some(1), "vtepctl should fail with 1: {self:?}");
        assert!(self.stdout.is_empty(), "stdout on error: {self:?}");
        assert_eq!(
            self.stderr.lines().count(),
            1,
            "one line on stderr: {self:?}"
        );
        assert!(self.stderr.ends_with('\n'), "{self:?}");
        let line = self.stderr.trim_end().to_owned();
        assert!(line.starts_with("vtepctl: "), "{line}");
        line
    }
}

/// Runs vtepctl against `api` (`--api`), with no token from the environment.
pub fn vtepctl(api: &str, args: &[&str]) -> CtlRun {
    let out = Command::new(vtepctl_bin())
        .arg("--api")
        .arg(api)
        .args(args)
        .env_remove("VTEPCTL_API")
        .env_remove("VTEPCTL_TOKEN")
        .stdin(Stdio::null())
        .output()
        .expect("run vtepctl");
    CtlRun {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

// --- DPDK telemetry -----------------------------------------------------------------------

/// Feeds `commands` to `dpdk-telemetry.py -f prefix` (one per line) and returns its answers,
/// one JSON object per command, in order.
pub fn telemetry(prefix: &str, commands: &[&str]) -> Vec<Value> {
    let mut child = Command::new(PYTHON)
        .args(["/usr/bin/dpdk-telemetry.py", "-f", prefix])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run dpdk-telemetry.py");
    {
        use std::io::Write as _;
        let mut stdin = child.stdin.take().expect("stdin");
        for c in commands {
            writeln!(stdin, "{c}").expect("write a command");
        }
    }
    let out = child.wait_with_output().expect("dpdk-telemetry.py");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "dpdk-telemetry.py failed: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let answers: Vec<Value> = stdout
        .lines()
        .map(|l| {
            serde_json::from_str(l)
                .unwrap_or_else(|e| panic!("telemetry printed no JSON ({e}): {l:?}\n{stdout}"))
        })
        .collect();
    assert_eq!(
        answers.len(),
        commands.len(),
        "one answer per command {commands:?}:\n{stdout}"
    );
    answers
}

// --- Prometheus text format ---------------------------------------------------------------

/// One sample of a metric family.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Family {
    pub kind: String,
    pub help: Option<String>,
    pub samples: Vec<Sample>,
}

/// A parsed exposition: families by name.
#[derive(Debug, Clone, Default)]
pub struct Exposition {
    pub families: BTreeMap<String, Family>,
}

impl Exposition {
    /// The value of the sample of `name` whose labels are exactly `labels`.
    pub fn value(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let want: BTreeMap<String, String> = labels
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        self.families
            .get(name)?
            .samples
            .iter()
            .find(|s| s.labels == want)
            .map(|s| s.value)
    }

    /// The value of the sample of `name` whose labels include `labels`; panics unless exactly
    /// one matches.
    pub fn one(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        let f = self
            .families
            .get(name)
            .unwrap_or_else(|| panic!("no metric family {name}"));
        let hits: Vec<&Sample> = f
            .samples
            .iter()
            .filter(|s| {
                labels
                    .iter()
                    .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
            })
            .collect();
        assert_eq!(
            hits.len(),
            1,
            "{name}{labels:?}: {} samples match: {:?}",
            hits.len(),
            f.samples
        );
        hits[0].value
    }
}

fn is_metric_name(s: &str) -> bool {
    let mut c = s.chars();
    c.next()
        .is_some_and(|f| f.is_ascii_alphabetic() || f == '_' || f == ':')
        && c.all(|x| x.is_ascii_alphanumeric() || x == '_' || x == ':')
}

fn is_label_name(s: &str) -> bool {
    let mut c = s.chars();
    c.next()
        .is_some_and(|f| f.is_ascii_alphabetic() || f == '_')
        && c.all(|x| x.is_ascii_alphanumeric() || x == '_')
        && !s.starts_with("__")
}

/// A sample value: a float, or NaN / +Inf / -Inf as the format writes them.
fn parse_value(s: &str) -> Option<f64> {
    match s {
        "NaN" => Some(f64::NAN),
        "+Inf" => Some(f64::INFINITY),
        "-Inf" => Some(f64::NEG_INFINITY),
        _ if s
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '+' | '-')) =>
        {
            s.parse().ok()
        }
        _ => None,
    }
}

/// `{a="x",b="y"}` (starting after `{`): the labels and the rest of the line after `}`.
fn parse_labels(s: &str) -> Result<(BTreeMap<String, String>, &str), String> {
    let mut labels = BTreeMap::new();
    let mut rest = s;
    loop {
        rest = rest.trim_start_matches(' ');
        if let Some(r) = rest.strip_prefix('}') {
            return Ok((labels, r));
        }
        let eq = rest.find('=').ok_or("a label without `=`")?;
        let name = rest[..eq].trim();
        if !is_label_name(name) {
            return Err(format!("bad label name {name:?}"));
        }
        rest = rest[eq + 1..]
            .strip_prefix('"')
            .ok_or_else(|| format!("the value of label {name} is not quoted"))?;
        let mut value = String::new();
        let mut chars = rest.char_indices();
        let end = loop {
            match chars.next() {
                None => return Err(format!("unterminated value of label {name}")),
                Some((i, '"')) => break i,
                Some((_, '\\')) => match chars.next() {
                    Some((_, '\\')) => value.push('\\'),
                    Some((_, '"')) => value.push('"'),
                    Some((_, 'n')) => value.push('\n'),
                    other => return Err(format!("bad escape {other:?} in label {name}")),
                },
                Some((_, '\n')) => return Err("a raw newline in a label value".into()),
                Some((_, c)) => value.push(c),
            }
        };
        if labels.insert(name.to_owned(), value).is_some() {
            return Err(format!("label {name} given twice"));
        }
        rest = &rest[end + 1..];
        rest = rest.trim_start_matches(' ');
        if let Some(r) = rest.strip_prefix(',') {
            rest = r;
        } else if !rest.starts_with('}') {
            return Err(format!("expected `,` or `}}` after label {name}"));
        }
    }
}

/// Parses the Prometheus text exposition format (0.0.4) strictly: every sample needs a
/// `# TYPE` line before it (counter or gauge), a family's lines are together, a name has at
/// most one TYPE and one HELP, counters end in `_total` and are never negative, label names
/// are valid and unique, label values quoted with only `\\`, `\"` and `\n` escapes, values
/// parse as floats, no series appears twice and the text ends with a newline.
pub fn parse_exposition(text: &str) -> Result<Exposition, String> {
    if !text.is_empty() && !text.ends_with('\n') {
        return Err("the exposition does not end with a newline".into());
    }
    let mut exp = Exposition::default();
    let mut helps: BTreeMap<String, String> = BTreeMap::new();
    // The family whose lines are being read; families left behind are closed.
    let mut current: Option<String> = None;
    let mut closed: BTreeSet<String> = BTreeSet::new();
    let mut series: BTreeSet<(String, Vec<(String, String)>)> = BTreeSet::new();
    let mut enter = |name: &str, current: &mut Option<String>| -> Result<(), String> {
        if current.as_deref() == Some(name) {
            return Ok(());
        }
        if closed.contains(name) {
            return Err(format!("the lines of {name} are not together"));
        }
        if let Some(prev) = current.replace(name.to_owned()) {
            closed.insert(prev);
        }
        Ok(())
    };
    for (n, line) in text.lines().enumerate() {
        let at = |e: String| format!("line {}: {e}: {line:?}", n + 1);
        if line.trim().is_empty() {
            continue;
        }
        if let Some(comment) = line.strip_prefix('#') {
            let mut words = comment.trim_start().splitn(3, ' ');
            let (kw, name, rest) = (words.next(), words.next(), words.next());
            match kw {
                Some("HELP") => {
                    let name = name.ok_or_else(|| at("HELP without a name".into()))?;
                    if !is_metric_name(name) {
                        return Err(at(format!("bad metric name {name:?}")));
                    }
                    enter(name, &mut current).map_err(at)?;
                    let help = rest.unwrap_or_default();
                    if helps.insert(name.to_owned(), help.to_owned()).is_some() {
                        return Err(at(format!("a second HELP for {name}")));
                    }
                    let mut chars = help.chars();
                    while let Some(c) = chars.next() {
                        if c == '\\' && !matches!(chars.next(), Some('\\' | 'n')) {
                            return Err(at("bad escape in HELP".into()));
                        }
                    }
                }
                Some("TYPE") => {
                    let name = name.ok_or_else(|| at("TYPE without a name".into()))?;
                    if !is_metric_name(name) {
                        return Err(at(format!("bad metric name {name:?}")));
                    }
                    let kind = rest.ok_or_else(|| at("TYPE without a type".into()))?;
                    if !matches!(kind, "counter" | "gauge") {
                        return Err(at(format!("type {kind:?} (vtepd has counters and gauges)")));
                    }
                    if kind == "counter" && !name.ends_with("_total") {
                        return Err(at(format!("counter {name} does not end in _total")));
                    }
                    if kind == "gauge" && name.ends_with("_total") {
                        return Err(at(format!("gauge {name} ends in _total")));
                    }
                    enter(name, &mut current).map_err(at)?;
                    if exp.families.contains_key(name) {
                        return Err(at(format!("a second TYPE for {name}")));
                    }
                    exp.families.insert(
                        name.to_owned(),
                        Family {
                            kind: kind.to_owned(),
                            help: None,
                            samples: Vec::new(),
                        },
                    );
                }
                _ => {}
            }
            continue;
        }
        let name_end = line
            .find(['{', ' '])
            .ok_or_else(|| at("a sample without a value".into()))?;
        let name = &line[..name_end];
        if !is_metric_name(name) {
            return Err(at(format!("bad metric name {name:?}")));
        }
        let (labels, rest) = match line[name_end..].strip_prefix('{') {
            Some(l) => parse_labels(l).map_err(at)?,
            None => (BTreeMap::new(), &line[name_end..]),
        };
        let mut fields = rest.split(' ').filter(|f| !f.is_empty());
        let value = fields
            .next()
            .ok_or_else(|| at("a sample without a value".into()))?;
        let value = parse_value(value).ok_or_else(|| at(format!("value {value:?}")))?;
        if let Some(ts) = fields.next() {
            ts.parse::<i64>()
                .map_err(|_| at(format!("timestamp {ts:?}")))?;
        }
        if fields.next().is_some() {
            return Err(at("trailing text after the sample".into()));
        }
        if !rest.starts_with(' ') {
            return Err(at("no space before the value".into()));
        }
        if current.as_deref() != Some(name) {
            return Err(at(format!(
                "sample of {name} without its # TYPE line right before its family"
            )));
        }
        let family = exp
            .families
            .get_mut(name)
            .ok_or_else(|| at(format!("sample of {name} without a # TYPE line")))?;
        if family.kind == "counter" && (value.is_nan() || value < 0.0) {
            return Err(at(format!("counter {name} is {value}")));
        }
        let key = (
            name.to_owned(),
            labels.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        );
        if !series.insert(key) {
            return Err(at(format!("series {name}{labels:?} appears twice")));
        }
        family.samples.push(Sample { labels, value });
    }
    for (name, help) in helps {
        if let Some(f) = exp.families.get_mut(&name) {
            f.help = Some(help);
        }
    }
    Ok(exp)
}

// --- frames -------------------------------------------------------------------------------

pub type Mac = [u8; 6];

pub const BROADCAST: Mac = [0xff; 6];
pub const NEXT_HOP_MAC: Mac = [0x02, 0, 0, 0, 0, 0xfe];
pub const LOCAL: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);

/// The MAC DPDK's pcap driver gives port `id`: 02:70:63:61:70 ("pcap") and the port id.
pub fn pcap_mac(id: u8) -> Mac {
    [0x02, 0x70, 0x63, 0x61, 0x70, id]
}

/// A station MAC.
pub fn station(n: u8) -> Mac {
    [0x02, 0, 0, 0, 0x01, n]
}

pub fn mac_text(m: Mac) -> String {
    m.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// A tenant IPv4/UDP frame from `src` to `dst` (802.1Q-tagged with `vlan`) carrying
/// `payload`, padded to 60 bytes.
pub fn tenant(src: Mac, dst: Mac, vlan: Option<u16>, payload: &[u8]) -> Vec<u8> {
    let mut f = Vec::new();
    let eth = etherparse::PacketBuilder::ethernet2(src, dst);
    match vlan {
        Some(v) => eth
            .single_vlan(etherparse::VlanId::try_new(v).expect("a VLAN id"))
            .ipv4([192, 168, 1, 1], [192, 168, 1, 2], 64)
            .udp(1000, 2000)
            .write(&mut f, payload),
        None => eth
            .ipv4([192, 168, 1, 1], [192, 168, 1, 2], 64)
            .udp(1000, 2000)
            .write(&mut f, payload),
    }
    .expect("build a frame");
    if f.len() < 60 {
        f.resize(60, 0);
    }
    f
}

/// `inner` in VXLAN with `vni`, from remote VTEP `remote` to vtepd (10.0.0.1, MAC `to`).
pub fn vxlan_from(remote: Ipv4Addr, to: Mac, vni: u32, inner: &[u8]) -> Vec<u8> {
    let [_, _, c, d] = remote.octets();
    let mut payload = vec![0x08, 0, 0, 0];
    payload.extend_from_slice(&(vni << 8).to_be_bytes());
    payload.extend_from_slice(inner);
    let mut f = Vec::new();
    etherparse::PacketBuilder::ethernet2([0x02, 0, 0, 0xee, c, d], to)
        .ipv4(remote.octets(), LOCAL.octets(), 64)
        .udp(50000 + u16::from(d), 4789)
        .write(&mut f, &payload)
        .expect("build a frame");
    f
}

/// A VXLAN packet vtepd sent, decoded.
#[derive(Debug, Clone)]
pub struct Vxlan {
    pub dst_mac: Mac,
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    pub vni: u32,
    pub inner: Vec<u8>,
}

pub fn parse_vxlan(f: &[u8]) -> Option<Vxlan> {
    if f.get(12..14)? != [0x08, 0x00] {
        return None;
    }
    let ihl = usize::from(f.get(14)? & 0x0f) * 4;
    let ip = f.get(14..14 + ihl)?;
    if *ip.get(9)? != 17 {
        return None;
    }
    let udp = 14 + ihl;
    if f.get(udp + 2..udp + 4)? != 4789u16.to_be_bytes() {
        return None;
    }
    let vx = f.get(udp + 8..udp + 16)?;
    if vx.first()? & 0x08 == 0 {
        return None;
    }
    let addr = |at: usize| -> Option<Ipv4Addr> {
        let b: [u8; 4] = ip.get(at..at + 4)?.try_into().ok()?;
        Some(Ipv4Addr::from(b))
    };
    Some(Vxlan {
        dst_mac: f.get(0..6)?.try_into().ok()?,
        src: addr(12)?,
        dst: addr(16)?,
        vni: u32::from_be_bytes([0, *vx.get(4)?, *vx.get(5)?, *vx.get(6)?]),
        inner: f.get(udp + 16..)?.to_vec(),
    })
}

pub fn contains(frame: &[u8], needle: &[u8]) -> bool {
    frame.windows(needle.len()).any(|w| w == needle)
}

/// A tenant frame (as `tenant` builds it) with its UDP checksum zeroed ("none", valid for
/// IPv4): stream.py rewrites the payload, which would leave a stale checksum.
pub fn stream_frame(src: Mac, dst: Mac, vlan: Option<u16>, tag: &str) -> Vec<u8> {
    let mut f = tenant(src, dst, vlan, &stream_payload(tag));
    let udp = 14 + if vlan.is_some() { 4 } else { 0 } + 20;
    f[udp + 6..udp + 8].copy_from_slice(&[0, 0]);
    f
}

/// The payload of a stream frame: `tag` and the placeholder stream.py numbers.
pub fn stream_payload(tag: &str) -> Vec<u8> {
    format!("{tag}SEQ:00000000").into_bytes()
}

/// The number stream.py put after `tag` in `frame`, if it carries it.
pub fn seq_of(frame: &[u8], tag: &str) -> Option<u32> {
    let marker = format!("{tag}SEQ:").into_bytes();
    let at = frame.windows(marker.len()).position(|w| w == marker)? + marker.len();
    std::str::from_utf8(frame.get(at..at + 8)?)
        .ok()?
        .parse()
        .ok()
}

/// One frame of a capture with its timestamp (seconds since the epoch).
#[derive(Debug, Clone)]
pub struct Captured {
    pub ts: f64,
    pub data: Vec<u8>,
}

/// Every complete frame of a pcap file that may still be growing, with timestamps
/// (microsecond or nanosecond files); a missing or empty file has none.
pub fn read_pcap_timed(path: &Path) -> Vec<Captured> {
    let Ok(bytes) = std::fs::read(path) else {
        return Vec::new();
    };
    let Some(magic) = bytes.get(..4) else {
        return Vec::new();
    };
    let (le, nanos) = match magic {
        [0xd4, 0xc3, 0xb2, 0xa1] => (true, false),
        [0x4d, 0x3c, 0xb2, 0xa1] => (true, true),
        [0xa1, 0xb2, 0xc3, 0xd4] => (false, false),
        [0xa1, 0xb2, 0x3c, 0x4d] => (false, true),
        _ => panic!("{}: not a pcap file", path.display()),
    };
    let u32_at = |at: usize| -> Option<u32> {
        let b: [u8; 4] = bytes.get(at..at + 4)?.try_into().ok()?;
        Some(if le {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        })
    };
    let mut frames = Vec::new();
    let mut at = 24;
    while let (Some(sec), Some(frac), Some(len)) = (u32_at(at), u32_at(at + 4), u32_at(at + 8)) {
        let start = at + 16;
        let Some(data) = bytes.get(start..start + len as usize) else {
            break;
        };
        let frac = f64::from(frac) / if nanos { 1e9 } else { 1e6 };
        frames.push(Captured {
            ts: f64::from(sec) + frac,
            data: data.to_vec(),
        });
        at = start + len as usize;
    }
    frames
}

/// Seconds since the epoch.
pub fn unix(t: SystemTime) -> f64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

// --- the live lab -------------------------------------------------------------------------

fn script(name: &str) -> String {
    format!("{}/tests/traffic/api/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// tests/traffic/api/netns_proxy.py: the API of a vtepd inside a namespace, on a loopback
/// port of the test's own namespace. Killed on drop.
#[derive(Debug)]
pub struct Proxy {
    child: Child,
}

impl Proxy {
    /// The proxy, and the loopback port here that reaches `port` in `ns`.
    pub fn start(ns: &Netns, port: u16) -> (Proxy, u16) {
        let mut child = Command::new(PYTHON)
            .arg(script("netns_proxy.py"))
            .arg(ns.name())
            .arg(port.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start netns_proxy.py");
        let mut line = String::new();
        let _ = BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut line);
        let Ok(local) = line.trim().parse::<u16>() else {
            let _ = child.kill();
            let mut err = String::new();
            if let Some(e) = child.stderr.as_mut() {
                let _ = e.read_to_string(&mut err);
            }
            panic!("netns_proxy.py did not start: {line:?} {err}");
        };
        (Proxy { child }, local)
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// vtepd in a network namespace with veth pairs `und`/`und-p`, `acc1`/`acc1-p`, ...: vtepd's
/// port i (`net_pcap<i>`) reads the first of its pair and writes what it sends to
/// `outputs[i]`; tests inject on the `-p` end. The API is reached through a proxy.
pub struct Lab {
    // Fields drop in order: vtepd first, then the proxy, the namespace, the files.
    vtepd: Option<Running>,
    proxy: Option<Proxy>,
    pub ns: Netns,
    pub peers: Vec<String>,
    pub outputs: Vec<PathBuf>,
    pub api: Api,
    pub config_path: PathBuf,
    pub scratch: Scratch,
}

/// A running stream.py.
#[derive(Debug)]
pub struct Stream {
    bg: netns::Bg,
    stop: PathBuf,
    log: PathBuf,
}

impl Stream {
    /// Stops the stream (if still running) and returns the send time of every frame, by
    /// number.
    pub fn finish(self) -> Vec<f64> {
        std::fs::write(&self.stop, b"").expect("create the stop file");
        self.bg.wait(Duration::from_secs(60));
        std::fs::read_to_string(&self.log)
            .expect("stream log")
            .lines()
            .map(|l| {
                let (_, t) = l.split_once(' ').expect("`i t`");
                t.parse().expect("a time")
            })
            .collect()
    }
}

impl Lab {
    /// True when this machine can run the lab (root, iproute2, Debian's Python); prints why
    /// not otherwise.
    pub fn capable() -> bool {
        netns::capable(&[PYTHON])
    }

    /// vtepd with the underlay and `access` access ports; `config` names them `net_pcap0`
    /// (underlay), `net_pcap1`, ... and has no `[api]` (the harness picks a port).
    pub fn start(config: &str, access: usize) -> Lab {
        let scratch = Scratch::new();
        let ns = Netns::new();
        let mut v = Vtepd::new(&scratch, config);
        let port = v.api_port().expect("the harness chose the API port");
        let config_path = v.config_path();
        let mut peers = Vec::new();
        let mut outputs = Vec::new();
        let names =
            std::iter::once("und".to_owned()).chain((1..=access).map(|i| format!("acc{i}")));
        for (i, name) in names.enumerate() {
            let peer = format!("{name}-p");
            veth(&ns, &name, &ns, &peer);
            ns.quiet_up(&name);
            ns.quiet_up(&peer);
            let out = scratch.path(&format!("{name}-tx.pcap"));
            v = v.vdev(format!(
                "net_pcap{i},rx_iface_in={name},tx_pcap={}",
                out.display()
            ));
            peers.push(peer);
            outputs.push(out);
        }
        let vtepd = ns.vtepd(v);
        let (proxy, local) = Proxy::start(&ns, port);
        let api = Api::new(format!("http://127.0.0.1:{local}"));
        let lab = Lab {
            vtepd: Some(vtepd),
            proxy: Some(proxy),
            ns,
            peers,
            outputs,
            api,
            config_path,
            scratch,
        };
        let up = wait_until(Duration::from_secs(10), Duration::from_millis(50), || {
            lab.api.get("/api/v1/status").status == 200
        });
        assert!(up, "the API is not reachable through the proxy");
        lab
    }

    pub fn vtepd(&self) -> &Running {
        self.vtepd.as_ref().expect("running")
    }

    /// Puts `frames` on the wire to vtepd's port `port`, in order (tests/traffic/live/inject.py).
    pub fn send(&self, port: usize, frames: &[Vec<u8>]) {
        let inject = format!(
            "{}/tests/traffic/live/inject.py",
            env!("CARGO_MANIFEST_DIR")
        );
        let hex: Vec<String> = frames.iter().map(|f| hex(f)).collect();
        let mut args = vec![PYTHON, &inject, &self.peers[port]];
        args.extend(hex.iter().map(String::as_str));
        self.ns.ok(&args);
    }

    /// Starts a numbered stream of `templates` (each with a `stream_payload` placeholder) to
    /// port `port`, one frame every `interval_ms`, at most `count` frames.
    pub fn stream(
        &self,
        port: usize,
        interval_ms: u32,
        count: u32,
        templates: &[Vec<u8>],
    ) -> Stream {
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let stop = self.scratch.path(&format!("stream-{n}.stop"));
        let log = self.scratch.path(&format!("stream-{n}.log"));
        let hex: Vec<String> = templates.iter().map(|f| hex(f)).collect();
        let (py, interval, count) = (
            script("stream.py"),
            interval_ms.to_string(),
            count.to_string(),
        );
        let (stop_s, log_s) = (stop.display().to_string(), log.display().to_string());
        let mut args = vec![
            PYTHON,
            &py,
            &self.peers[port],
            &interval,
            &count,
            &stop_s,
            &log_s,
        ];
        args.extend(hex.iter().map(String::as_str));
        Stream {
            bg: self.ns.spawn(&args),
            stop,
            log,
        }
    }

    /// Every frame vtepd has sent so far on `port`.
    pub fn output(&self, port: usize) -> Vec<Captured> {
        read_pcap_timed(&self.outputs[port])
    }

    /// vtepctl against this lab's vtepd.
    pub fn vtepctl(&self, args: &[&str]) -> CtlRun {
        vtepctl(&self.api.base, args)
    }

    /// Rewrites the configuration file (for a reload).
    pub fn rewrite(&self, config: &str) {
        let api = std::fs::read_to_string(&self.config_path)
            .ok()
            .and_then(|t| t.find("\n[api]").map(|i| t[i..].to_owned()))
            .expect("the harness's [api] section");
        std::fs::write(&self.config_path, format!("{config}{api}")).expect("write the config");
    }

    /// Stops vtepd and returns its outcome, checked for a clean exit without leaks.
    pub fn stop(mut self) -> Outcome {
        drop(self.proxy.take());
        let out = self.vtepd.take().expect("running").stop();
        out.assert_success();
        let r = out.report.as_ref().expect("final stats written");
        assert_eq!(r["mempool"]["in_use_at_exit"], 0, "mbuf leak: {r:#}");
        out
    }
}

fn hex(f: &[u8]) -> String {
    f.iter().map(|b| format!("{b:02x}")).collect()
}

/// Gives `v` one `net_pcap` port per entry of `inputs`: port i replays `inputs[i]` once (at
/// start) and writes what it sends to the returned path i.
pub fn pcap_ports(mut v: Vtepd, s: &Scratch, inputs: &[Vec<Vec<u8>>]) -> (Vtepd, Vec<PathBuf>) {
    let mut outputs = Vec::new();
    for (i, frames) in inputs.iter().enumerate() {
        let rx = s.path(&format!("in{i}.pcap"));
        super::write_pcap(&rx, frames);
        let tx = s.path(&format!("out{i}.pcap"));
        v = v.vdev(format!(
            "net_pcap{i},rx_pcap={},tx_pcap={}",
            rx.display(),
            tx.display()
        ));
        outputs.push(tx);
    }
    (v, outputs)
}

/// Polls `GET path` until `done` holds for its JSON (at most `limit`); returns the last JSON.
pub fn poll(api: &Api, path: &str, limit: Duration, done: impl Fn(&Value) -> bool) -> Value {
    let mut last = Value::Null;
    let ok = wait_until(limit, Duration::from_millis(20), || {
        last = api.get_ok(path);
        done(&last)
    });
    assert!(ok, "GET {path} never satisfied the condition: {last:#}");
    last
}

/// Waits for an output to be complete: until `state` (how many frames are out, and whether
/// that is everything expected) says complete, or the count has not moved for a second (what
/// is missing will not come), at most 15 s; then a short pause for stragglers.
pub fn settle(mut state: impl FnMut() -> (usize, bool)) {
    let start = std::time::Instant::now();
    let mut last = (usize::MAX, start);
    loop {
        let (n, complete) = state();
        if complete {
            break;
        }
        if n != last.0 {
            last = (n, std::time::Instant::now());
        } else if last.1.elapsed() > Duration::from_secs(1) {
            break;
        }
        if start.elapsed() > Duration::from_secs(15) {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(300));
}
