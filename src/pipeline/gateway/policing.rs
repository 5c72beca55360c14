//! The gateway's side of the policy stage (`pipeline::policy`): where a packet's zone,
//! tenant and segments come from, what is counted, and how a new policy is taken in.

use crate::tables::session::SessionKey;
use crate::tables::update::{Event, Garbage, PolicyUpdate};
use crate::tables::VniIndex;

use super::super::frame::Frame;
use super::super::policy::vrf_zone;
use super::super::policy::{Decision, EndCause, FlowNote, Packet, PolicyStage, Scope};
use super::super::DropReason;
use super::Gateway;

/// Denied-flow log notes per second, the gateway over: a flood of denied packets must not
/// crowd session records out of the log queue.
pub const DENY_LOG_PPS: u32 = 1000;

/// Session slots aging looks at per drain period (about every 100 µs): a million-session
/// table is walked in well under a second.
const EXPIRE_PER_DRAIN: usize = 64;

impl Gateway {
    /// Lets the frame in `f` from segment `src` to segment `dst` pass, or names why not.
    /// Costs one branch without a policy.
    #[inline(always)]
    pub(super) fn police<F: Frame>(
        &mut self,
        f: &F,
        src: VniIndex,
        dst: VniIndex,
    ) -> Result<(), DropReason> {
        if self.policy.is_none() {
            return Ok(());
        }
        self.police_frame(f.data(), src, dst)
    }

    #[inline(never)]
    fn police_frame(
        &mut self,
        frame: &[u8],
        src: VniIndex,
        dst: VniIndex,
    ) -> Result<(), DropReason> {
        let scope = self.scope(src, dst)?;
        let now = self.now;
        // The first pass's hash of this packet's session key, to look it up without hashing
        // again (`use_hint` set it for this packet).
        let hint = self.hint.session;
        let workers = self.params.workers;
        let (sync, counters, deny_log) = (&self.sync, &self.counters, &mut self.deny_log);
        let Some(stage) = self.policy.as_mut() else {
            return Ok(());
        };
        let mut note = |n: FlowNote| match n {
            // Worked out only for a denied flow that is to be logged, not for every packet.
            FlowNote::Denied { .. }
                if !deny_log.admit(
                    super::super::policer::Policer::share(DENY_LOG_PPS, workers),
                    now,
                ) =>
            {
                counters.policy.deny_logs_policed.inc();
            }
            FlowNote::Started(_) => {
                counters.policy.sessions_opened.inc();
                sync.note_flow(n);
            }
            FlowNote::Ended(_, cause) => {
                counters.policy.sessions_closed.inc();
                if cause == EndCause::Revoked {
                    counters.policy.sessions_revoked.inc();
                }
                sync.note_flow(n);
            }
            FlowNote::Denied { .. } | FlowNote::Interim(_) => sync.note_flow(n),
        };
        let decided = match Packet::read(frame, scope.src_vni, scope.dst_vni) {
            Ok(p) => stage.decide(&p, scope, frame.len() as u64, now, hint, &mut note),
            Err(why) => stage.decide_unread(why, scope.src_vni == scope.dst_vni),
        };
        match decided {
            Ok(Decision::Tracked) => Ok(()),
            Ok(Decision::Allowed { slot, .. }) => {
                if let Some(c) = counters.policy.rules.get(usize::from(slot)) {
                    c.hits.inc();
                }
                Ok(())
            }
            Err((reason, slot)) => {
                if let Some(c) = slot.and_then(|s| counters.policy.rules.get(usize::from(s))) {
                    c.hits.inc();
                }
                Err(reason)
            }
        }
    }

    /// The zone, tenant and segment ids of a packet from VNI `src` to VNI `dst`. A routed
    /// packet's zone is the pair of its two VRFs, in slot order: the reply of a flow leaked
    /// from one VRF into another finds its session from the other side. Its sessions count
    /// against the source VRF's tenant.
    #[inline(always)]
    fn scope(&self, src: VniIndex, dst: VniIndex) -> Result<Scope, DropReason> {
        let s = self.tables.vnis.get(src).ok_or(DropReason::UnknownVni)?;
        let d = if dst == src {
            s
        } else {
            self.tables.vnis.get(dst).ok_or(DropReason::UnknownVni)?
        };
        let (zone, tenant) = match (s.routing.as_ref(), d.routing.as_ref()) {
            (Some(a), b) => {
                let (a, b) = (a.vrf.slot(), b.map_or(a.vrf.slot(), |b| b.vrf.slot()));
                (
                    vrf_zone(a.min(b), a.max(b)),
                    crate::tables::MAX_VNIS.saturating_add(a) as u16,
                )
            }
            (None, _) => (s.id.get(), src.0),
        };
        Ok(Scope {
            zone,
            tenant,
            src_vni: s.id.get(),
            dst_vni: d.id.get(),
        })
    }

    /// The first pass's guess at a packet's session (plain IPv4 TCP/UDP only; anything else
    /// is looked up unhinted): its hash, with its index line prefetched. `l3` starts at the
    /// ethertype. A wrong guess (a leaked route's zone, say) costs one useless prefetch.
    #[inline(always)]
    pub(super) fn session_hint(
        &self,
        vni: VniIndex,
        routed: Option<&super::routing::RoutedHint>,
        l3: &[u8],
    ) -> Option<u64> {
        let stage = self.policy.as_ref()?;
        let Some([0x08, 0x00, 0x45, ..]) = l3.get(..3) else {
            return None;
        };
        let protocol = *l3.get(11)?;
        if protocol != 6 && protocol != 17 {
            return None;
        }
        let addr = |at: usize| -> Option<std::net::IpAddr> {
            let b: [u8; 4] = l3.get(at..at.saturating_add(4))?.try_into().ok()?;
            Some(std::net::IpAddr::from(b))
        };
        let port = |at: usize| -> Option<u16> {
            let b: [u8; 2] = l3.get(at..at.saturating_add(2))?.try_into().ok()?;
            Some(u16::from_be_bytes(b))
        };
        let zone = match routed {
            Some(r) => r.zone(),
            None => self.scope(vni, vni).ok()?.zone,
        };
        let flow = crate::tables::policy::FlowKey {
            protocol,
            src_vni: 0,
            dst_vni: 0,
            src: addr(14)?,
            dst: addr(18)?,
            src_port: port(22)?,
            dst_port: port(24)?,
        };
        let hash = stage.sessions.hash(&SessionKey::of(zone, &flow));
        stage.sessions.prefetch_index(hash);
        Some(hash)
    }

    #[inline(always)]
    pub(super) fn prefetch_session(&self, hash: u64) {
        if let Some(stage) = self.policy.as_ref() {
            stage.sessions.prefetch_session(hash);
        }
    }

    /// Ages a few sessions; once per drain period, one branch without a policy.
    #[inline(always)]
    pub fn age_sessions(&mut self) {
        if self.policy.is_some() {
            self.expire_sessions();
        }
    }

    #[inline(never)]
    fn expire_sessions(&mut self) {
        let (sync, counters, now) = (&self.sync, &self.counters, self.now);
        let Some(stage) = self.policy.as_mut() else {
            return;
        };
        stage.expire(now, EXPIRE_PER_DRAIN, |n| {
            if let FlowNote::Ended(..) = n {
                counters.policy.sessions_closed.inc();
            }
            sync.note_flow(n);
        });
        counters
            .policy
            .sessions_active
            .set(stage.sessions.len() as u64);
    }

    /// Takes in a new policy, or the removal of the policy (every session ends).
    pub(super) fn set_policy(&mut self, u: PolicyUpdate) {
        for c in self.counters.policy.rules.iter() {
            c.hits.set(0);
        }
        match (u.set, self.policy.take()) {
            (Some(set), Some(mut stage)) => {
                let old = std::mem::replace(&mut stage.set, set);
                self.sync.emit(Event::Garbage(Garbage::Policy(old)));
                if let Some(unused) = u.sessions {
                    self.sync.emit(Event::Garbage(Garbage::Sessions(unused)));
                }
                self.policy = Some(stage);
            }
            (Some(set), None) => {
                let sessions = u.sessions.unwrap_or_else(|| {
                    // The management thread sends a table with the first policy; if it did
                    // not, one is made here (once, not per packet).
                    Box::new(crate::tables::session::Sessions::new(set.worker_sessions))
                });
                self.policy = Some(PolicyStage { set, sessions });
            }
            (None, Some(mut stage)) => {
                let (sync, counters) = (&self.sync, &self.counters);
                stage.sessions.clear(|s| {
                    counters.policy.sessions_closed.inc();
                    counters.policy.sessions_revoked.inc();
                    sync.note_flow(FlowNote::Ended(s, EndCause::Revoked));
                });
                counters.policy.sessions_active.set(0);
                self.sync.emit(Event::Garbage(Garbage::Policy(stage.set)));
                self.sync
                    .emit(Event::Garbage(Garbage::Sessions(stage.sessions)));
                if let Some(unused) = u.sessions {
                    self.sync.emit(Event::Garbage(Garbage::Sessions(unused)));
                }
            }
            (None, None) => {
                if let Some(unused) = u.sessions {
                    self.sync.emit(Event::Garbage(Garbage::Sessions(unused)));
                }
            }
        }
    }
}
