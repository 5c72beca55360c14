//! The netlink side of EVPN: a thread on the management core, inside the shadow namespace,
//! that reads what zebra installs (remote MACs, flood entries, MAC/IP neighbours) and writes
//! what vtepd learned locally, for zebra to advertise.
//!
//! Two sockets, as FRR's zebra and OVN's neighbour exchange use them: one subscribed to the
//! link and neighbour groups for changes, one for requests (dumps, writes, each acked). The
//! full dump after subscribing, and again whenever the kernel drops messages (ENOBUFS),
//! goes through `Mirror::replace`, so nothing missed stays missed.

use std::collections::HashMap;
use std::io;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam::channel::{Receiver, RecvTimeoutError, Sender};
use netlink_packet_core::{
    NetlinkHeader, NetlinkMessage, NetlinkPayload, NLM_F_ACK, NLM_F_CREATE, NLM_F_DUMP,
    NLM_F_REPLACE, NLM_F_REQUEST,
};
use netlink_packet_route::link::{LinkAttribute, LinkMessage};
use netlink_packet_route::neighbour::{NeighbourFlags, NeighbourMessage};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};
use netlink_sys::{protocols::NETLINK_ROUTE, Socket, SocketAddr};

use super::kernel::{self, Fact};
use super::mirror::{Imported, Mirror};
use super::namespace::{self, Role};
use super::thread::spawn_ready;
use crate::wire::{MacAddr, Vni};

const RTNLGRP_LINK: u32 = 1;
const RTNLGRP_NEIGH: u32 = 3;
/// Room for a burst of route changes (a peer's full table at session start) before ENOBUFS.
const EVENT_SOCKET_BUFFER: usize = 8 << 20;
/// How long the thread waits for work from the management thread between socket reads.
const POLL: Duration = Duration::from_millis(5);
const FRR_CHECK_PERIOD: Duration = Duration::from_secs(2);

/// A local entry to write into (or remove from) the namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    ExportMac {
        vni: Vni,
        mac: MacAddr,
        is_static: bool,
    },
    WithdrawMac {
        vni: Vni,
        mac: MacAddr,
    },
    ExportBinding {
        vni: Vni,
        ip: IpAddr,
        mac: MacAddr,
    },
    WithdrawBinding {
        vni: Vni,
        ip: IpAddr,
    },
}

/// What the thread did, for `show evpn` and `/metrics`.
#[derive(Debug, Default)]
pub struct SyncCounters {
    pub kernel_messages: AtomicU64,
    /// Full re-reads after the kernel dropped messages (ENOBUFS).
    pub resyncs: AtomicU64,
    pub exported: AtomicU64,
    pub withdrawn: AtomicU64,
    /// Writes the kernel refused (logged once per kind of error).
    pub write_errors: AtomicU64,
    /// zebra and bgpd both run in the namespace (checked every two seconds).
    pub frr_running: AtomicBool,
}

/// The running thread, as the management thread holds it.
#[derive(Debug)]
pub struct NetlinkSync {
    commands: Sender<Command>,
    imported: Receiver<Imported>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    pub counters: Arc<SyncCounters>,
}

impl NetlinkSync {
    /// Enters `namespace` on a new thread (pinned to `cpu`), reads its tables, and keeps
    /// them in sync from then on. Fails if the sockets cannot be set up there.
    pub fn start(namespace: &str, cpu: Option<usize>) -> io::Result<NetlinkSync> {
        let (commands, command_rx) = crossbeam::channel::unbounded();
        let (imported_tx, imported) = crossbeam::channel::unbounded();
        let stop = Arc::new(AtomicBool::new(false));
        let counters = Arc::new(SyncCounters::default());
        let (s, c, ns) = (
            Arc::clone(&stop),
            Arc::clone(&counters),
            namespace.to_owned(),
        );
        let thread = spawn_ready(
            "vtepd-evpn",
            cpu,
            move || Watcher::open(&ns, imported_tx, c),
            move |mut w| w.run(&command_rx, &s),
        )?;
        Ok(NetlinkSync {
            commands,
            imported,
            stop,
            thread: Some(thread),
            counters,
        })
    }

    pub fn send(&self, command: Command) {
        // The thread outlives every sender call but the last (stop joins it).
        let _ = self.commands.send(command);
    }

    pub fn try_recv(&self) -> Option<Imported> {
        self.imported.try_recv().ok()
    }

    /// Writes what is queued, then ends the thread.
    pub fn stop(mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

struct Watcher {
    namespace: String,
    events: Socket,
    requests: Socket,
    seq: u32,
    devices: HashMap<u32, (Role, Vni)>,
    ifindex: HashMap<(Role, Vni), u32>,
    mirror: Mirror,
    exported_macs: HashMap<(Vni, MacAddr), bool>,
    exported_bindings: HashMap<(Vni, IpAddr), MacAddr>,
    /// Exports waiting for their VNI's devices to appear.
    pending: Vec<Command>,
    out: Sender<Imported>,
    counters: Arc<SyncCounters>,
    next_frr_check: Instant,
    reported_errors: std::collections::HashSet<i32>,
}

impl Watcher {
    fn open(
        namespace: &str,
        out: Sender<Imported>,
        counters: Arc<SyncCounters>,
    ) -> io::Result<Watcher> {
        let ns = std::fs::File::open(format!("/run/netns/{namespace}"))?;
        // Only this thread moves: sockets made here belong to the namespace for good.
        nix::sched::setns(&ns, nix::sched::CloneFlags::CLONE_NEWNET).map_err(io::Error::from)?;
        namespace::leave_vtep_addresses_to_the_data_plane();
        let mut events = Socket::new(NETLINK_ROUTE)?;
        events.bind_auto()?;
        events.set_rx_buf_sz(EVENT_SOCKET_BUFFER)?;
        events.add_membership(RTNLGRP_LINK)?;
        events.add_membership(RTNLGRP_NEIGH)?;
        events.set_non_blocking(true)?;
        let mut requests = Socket::new(NETLINK_ROUTE)?;
        requests.bind_auto()?;
        requests.connect(&SocketAddr::new(0, 0))?;
        let mut w = Watcher {
            namespace: namespace.to_owned(),
            events,
            requests,
            seq: 0,
            devices: HashMap::new(),
            ifindex: HashMap::new(),
            mirror: Mirror::default(),
            exported_macs: HashMap::new(),
            exported_bindings: HashMap::new(),
            pending: Vec::new(),
            out,
            counters,
            next_frr_check: Instant::now(),
            reported_errors: Default::default(),
        };
        w.resync()?;
        Ok(w)
    }

    fn run(&mut self, commands: &Receiver<Command>, stop: &AtomicBool) {
        loop {
            self.read_events();
            let stopping = stop.load(Ordering::Relaxed);
            let timeout = if stopping { Duration::ZERO } else { POLL };
            match commands.recv_timeout(timeout) {
                Ok(c) => {
                    self.apply(c);
                    while let Ok(c) = commands.try_recv() {
                        self.apply(c);
                    }
                }
                Err(RecvTimeoutError::Timeout) if stopping => return,
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return,
            }
            if Instant::now() >= self.next_frr_check {
                self.check_frr();
            }
        }
    }

    fn check_frr(&mut self) {
        self.next_frr_check = Instant::now() + FRR_CHECK_PERIOD;
        let programs = namespace::programs_in(&self.namespace);
        let running = ["zebra", "bgpd"]
            .iter()
            .all(|p| programs.iter().any(|q| q == p));
        let was = self.counters.frr_running.swap(running, Ordering::Relaxed);
        if running && !was {
            tracing::info!(
                "evpn: FRR (zebra, bgpd) runs in namespace {:?}",
                self.namespace
            );
        } else if !running && was {
            tracing::warn!(
                "evpn: FRR stopped in namespace {:?}: EVPN VNIs keep their routes' entries until \
                 zebra or vtepd removes them; static VNIs are unaffected",
                self.namespace
            );
        }
    }

    // --- reading ------------------------------------------------------------------------

    fn read_events(&mut self) {
        let mut buf = vec![0u8; 1 << 16];
        loop {
            match self.events.recv(&mut &mut buf[..], 0) {
                Ok(0) => return,
                Ok(n) => {
                    for msg in messages(buf.get(..n).unwrap_or(&[])) {
                        self.counters
                            .kernel_messages
                            .fetch_add(1, Ordering::Relaxed);
                        self.handle(msg);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) => {
                    self.counters.resyncs.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!("evpn: netlink messages were lost (ENOBUFS): reading all again");
                    if let Err(e) = self.resync() {
                        tracing::error!("evpn: re-reading the namespace: {e}");
                    }
                }
                Err(e) => {
                    tracing::error!("evpn: reading netlink: {e}");
                    return;
                }
            }
        }
    }

    fn handle(&mut self, msg: RouteNetlinkMessage) {
        match msg {
            RouteNetlinkMessage::NewLink(l) => self.link_up(&l),
            RouteNetlinkMessage::DelLink(l) => self.link_gone(&l),
            RouteNetlinkMessage::NewNeighbour(n) => {
                if let Some(fact) = self.fact(&n) {
                    if let Some(i) = self.mirror.add(fact) {
                        let _ = self.out.send(i);
                    }
                }
            }
            RouteNetlinkMessage::DelNeighbour(n) => match self.fact(&n) {
                Some(Fact::LocalMac { vni, mac }) => {
                    // Zebra took it away (a remote route won) or the kernel flushed it.
                    self.exported_macs.remove(&(vni, mac));
                }
                Some(fact) => {
                    if let Some(i) = self.mirror.remove(fact) {
                        let _ = self.out.send(i);
                    }
                }
                None => {}
            },
            _ => {}
        }
    }

    /// The fact a message states, or None; vtepd's own exported bindings (read back) are
    /// not remote ones.
    fn fact(&self, n: &NeighbourMessage) -> Option<Fact> {
        let fact = kernel::fact(n, |i| self.devices.get(&i).copied())?;
        if let Fact::Binding { vni, ip, mac } = fact {
            if self.exported_bindings.get(&(vni, ip)) == Some(&mac) {
                return None;
            }
        }
        Some(fact)
    }

    fn link_up(&mut self, l: &LinkMessage) {
        let Some(name) = l.attributes.iter().find_map(|a| match a {
            LinkAttribute::IfName(n) => Some(n.as_str()),
            _ => None,
        }) else {
            return;
        };
        let Some((role, vni)) = namespace::parse_device(name) else {
            return;
        };
        let index = l.header.index;
        if self.devices.insert(index, (role, vni)).is_none() {
            self.ifindex.insert((role, vni), index);
            let waiting = std::mem::take(&mut self.pending);
            for c in waiting {
                self.apply(c);
            }
        }
    }

    fn link_gone(&mut self, l: &LinkMessage) {
        let Some((role, vni)) = self.devices.remove(&l.header.index) else {
            return;
        };
        self.ifindex.remove(&(role, vni));
        // The device's entries went with it.
        match role {
            Role::Vxlan => self.mirror.forget(vni),
            Role::Port => self.exported_macs.retain(|(v, _), _| *v != vni),
            Role::Bridge => self.exported_bindings.retain(|(v, _), _| *v != vni),
        }
    }

    /// Reads every link and neighbour; the differences from what was known go out.
    fn resync(&mut self) -> io::Result<()> {
        self.devices.clear();
        self.ifindex.clear();
        for msg in self.dump(RouteNetlinkMessage::GetLink(LinkMessage::default()))? {
            if let RouteNetlinkMessage::NewLink(l) = msg {
                self.link_up(&l);
            }
        }
        let mut facts = Vec::new();
        for family in [
            AddressFamily::Bridge,
            AddressFamily::Inet,
            AddressFamily::Inet6,
        ] {
            let mut q = NeighbourMessage::default();
            q.header.family = family;
            for msg in self.dump(RouteNetlinkMessage::GetNeighbour(q))? {
                if let RouteNetlinkMessage::NewNeighbour(n) = msg {
                    match self.fact(&n) {
                        Some(Fact::LocalMac { .. }) | None => {}
                        Some(f) => facts.push(f),
                    }
                }
            }
        }
        for i in self.mirror.replace(facts) {
            let _ = self.out.send(i);
        }
        Ok(())
    }

    fn dump(&mut self, q: RouteNetlinkMessage) -> io::Result<Vec<RouteNetlinkMessage>> {
        let seq = self.send(q, NLM_F_REQUEST | NLM_F_DUMP)?;
        let mut out = Vec::new();
        let mut buf = vec![0u8; 1 << 16];
        loop {
            let n = self.requests.recv(&mut &mut buf[..], 0)?;
            for (header_seq, payload) in raw_messages(buf.get(..n).unwrap_or(&[])) {
                if header_seq != seq {
                    continue;
                }
                match payload {
                    NetlinkPayload::Done(_) => return Ok(out),
                    NetlinkPayload::Error(e) if e.code.is_some() => return Err(e.to_io()),
                    NetlinkPayload::InnerMessage(m) => out.push(m),
                    _ => {}
                }
            }
        }
    }

    fn send(&mut self, msg: RouteNetlinkMessage, flags: u16) -> io::Result<u32> {
        self.seq = self.seq.wrapping_add(1);
        let mut header = NetlinkHeader::default();
        header.flags = flags;
        header.sequence_number = self.seq;
        let mut packet = NetlinkMessage::new(header, NetlinkPayload::from(msg));
        packet.finalize();
        let mut buf = vec![0u8; packet.buffer_len()];
        packet.serialize(&mut buf);
        self.requests.send(&buf, 0)?;
        Ok(self.seq)
    }

    /// Sends a change and waits for the kernel's answer.
    fn request(&mut self, msg: RouteNetlinkMessage, flags: u16) -> io::Result<()> {
        let seq = self.send(msg, NLM_F_REQUEST | NLM_F_ACK | flags)?;
        let mut buf = vec![0u8; 1 << 12];
        loop {
            let n = self.requests.recv(&mut &mut buf[..], 0)?;
            for (header_seq, payload) in raw_messages(buf.get(..n).unwrap_or(&[])) {
                if header_seq != seq {
                    continue;
                }
                if let NetlinkPayload::Error(e) = payload {
                    return match e.code {
                        None => Ok(()),
                        Some(_) => Err(e.to_io()),
                    };
                }
            }
        }
    }

    // --- writing ------------------------------------------------------------------------

    fn apply(&mut self, c: Command) {
        let (role, vni) = match c {
            Command::ExportMac { vni, .. } | Command::WithdrawMac { vni, .. } => (Role::Port, vni),
            Command::ExportBinding { vni, .. } | Command::WithdrawBinding { vni, .. } => {
                (Role::Bridge, vni)
            }
        };
        let Some(&ifindex) = self.ifindex.get(&(role, vni)) else {
            // The VNI's devices are on their way (a VNI just added); a withdrawal of an
            // entry on a device that is gone has nothing left to do.
            if matches!(c, Command::ExportMac { .. } | Command::ExportBinding { .. }) {
                self.pending.retain(|p| !same_entry(p, &c));
                self.pending.push(c);
            } else {
                self.pending.retain(|p| !same_entry(p, &c));
            }
            return;
        };
        let result = match c {
            Command::ExportMac {
                vni,
                mac,
                is_static,
            } => {
                match self.exported_macs.get(&(vni, mac)) {
                    Some(&was) if was == is_static => return,
                    Some(_) => {
                        // Learned <-> static: the kernel keeps extern_learn across a
                        // replace, so the entry is made again.
                        let mut m = kernel::local_mac(ifindex, mac, false);
                        m.header.flags = NeighbourFlags::Controller;
                        let _ = self.request(RouteNetlinkMessage::DelNeighbour(m), 0);
                    }
                    None => {}
                }
                let r = self.request(
                    RouteNetlinkMessage::NewNeighbour(kernel::local_mac(ifindex, mac, is_static)),
                    NLM_F_CREATE | NLM_F_REPLACE,
                );
                if r.is_ok() {
                    self.exported_macs.insert((vni, mac), is_static);
                }
                r.map(|()| true)
            }
            Command::WithdrawMac { vni, mac } => {
                if self.exported_macs.remove(&(vni, mac)).is_none() {
                    return;
                }
                let mut m = kernel::local_mac(ifindex, mac, false);
                m.header.flags = NeighbourFlags::Controller;
                not_found_is_done(self.request(RouteNetlinkMessage::DelNeighbour(m), 0))
                    .map(|()| false)
            }
            Command::ExportBinding { vni, ip, mac } => {
                if self.exported_bindings.get(&(vni, ip)) == Some(&mac) {
                    return;
                }
                // Recorded first: the kernel's echo of this write is ours, not a route.
                self.exported_bindings.insert((vni, ip), mac);
                let r = self.request(
                    RouteNetlinkMessage::NewNeighbour(kernel::local_binding(ifindex, ip, mac)),
                    NLM_F_CREATE | NLM_F_REPLACE,
                );
                if r.is_err() {
                    self.exported_bindings.remove(&(vni, ip));
                }
                r.map(|()| true)
            }
            Command::WithdrawBinding { vni, ip } => {
                let Some(mac) = self.exported_bindings.remove(&(vni, ip)) else {
                    return;
                };
                let m = kernel::local_binding(ifindex, ip, mac);
                not_found_is_done(self.request(RouteNetlinkMessage::DelNeighbour(m), 0))
                    .map(|()| false)
            }
        };
        match result {
            Ok(true) => {
                self.counters.exported.fetch_add(1, Ordering::Relaxed);
            }
            Ok(false) => {
                self.counters.withdrawn.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => {
                self.counters.write_errors.fetch_add(1, Ordering::Relaxed);
                let code = e.raw_os_error().unwrap_or(0);
                if self.reported_errors.insert(code) {
                    tracing::warn!(
                        "evpn: writing {c:?} into namespace {:?}: {e} (further errors of this \
                         kind are only counted)",
                        self.namespace
                    );
                }
            }
        }
    }
}

fn same_entry(a: &Command, b: &Command) -> bool {
    use Command::*;
    match (a, b) {
        (
            ExportMac { vni, mac, .. } | WithdrawMac { vni, mac },
            ExportMac { vni: v, mac: m, .. } | WithdrawMac { vni: v, mac: m },
        ) => vni == v && mac == m,
        (
            ExportBinding { vni, ip, .. } | WithdrawBinding { vni, ip },
            ExportBinding { vni: v, ip: i, .. } | WithdrawBinding { vni: v, ip: i },
        ) => vni == v && ip == i,
        _ => false,
    }
}

/// Removing what is already gone (zebra removed it first) is success.
fn not_found_is_done(r: io::Result<()>) -> io::Result<()> {
    match r {
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Ok(()),
        other => other,
    }
}

/// The route messages in one datagram; messages that do not parse are skipped.
fn messages(buf: &[u8]) -> impl Iterator<Item = RouteNetlinkMessage> + '_ {
    raw_messages(buf).filter_map(|(_, p)| match p {
        NetlinkPayload::InnerMessage(m) => Some(m),
        _ => None,
    })
}

fn raw_messages(
    buf: &[u8],
) -> impl Iterator<Item = (u32, NetlinkPayload<RouteNetlinkMessage>)> + '_ {
    let mut offset = 0usize;
    std::iter::from_fn(move || loop {
        let rest = buf.get(offset..).filter(|r| r.len() >= 16)?;
        let len = u32::from_ne_bytes(rest.get(..4)?.try_into().ok()?) as usize;
        if len < 16 {
            return None;
        }
        // Netlink messages are 4-byte aligned.
        offset += (len + 3) & !3;
        match NetlinkMessage::<RouteNetlinkMessage>::deserialize(rest.get(..len)?) {
            Ok(m) => return Some((m.header.sequence_number, m.payload)),
            Err(e) => tracing::debug!("evpn: a netlink message did not parse: {e}"),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datagrams_split_into_messages() {
        let mut buf = Vec::new();
        for index in [3u32, 4] {
            let mut l = LinkMessage::default();
            l.header.index = index;
            l.attributes
                .push(LinkAttribute::IfName(format!("vxlan{index}")));
            let mut m = NetlinkMessage::new(
                NetlinkHeader::default(),
                NetlinkPayload::from(RouteNetlinkMessage::NewLink(l)),
            );
            m.finalize();
            let mut b = vec![0u8; m.buffer_len()];
            m.serialize(&mut b);
            buf.extend_from_slice(&b);
        }
        let got: Vec<u32> = messages(&buf)
            .filter_map(|m| match m {
                RouteNetlinkMessage::NewLink(l) => Some(l.header.index),
                _ => None,
            })
            .collect();
        assert_eq!(got, vec![3, 4]);
        // A truncated tail ends the walk, it does not panic.
        assert_eq!(messages(&buf[..buf.len() - 3]).count(), 1);
        assert_eq!(messages(&[0xff; 7]).count(), 0);
    }

    #[test]
    fn pending_exports_keep_one_command_per_entry() {
        let vni = Vni::new(100).unwrap();
        let mac = MacAddr([2, 0, 0, 0, 0, 1]);
        let a = Command::ExportMac {
            vni,
            mac,
            is_static: false,
        };
        let b = Command::WithdrawMac { vni, mac };
        assert!(same_entry(&a, &b));
        let c = Command::WithdrawBinding {
            vni,
            ip: "192.168.0.1".parse().unwrap(),
        };
        assert!(!same_entry(&a, &c));
    }
}
