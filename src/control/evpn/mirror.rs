//! What the namespace's tables held when last read, so that each kernel message, and a full
//! re-read after the kernel dropped messages (ENOBUFS), becomes the changes the management
//! thread must make: no more, no fewer.

use std::collections::{BTreeSet, HashMap};
use std::net::IpAddr;

use super::kernel::Fact;
use crate::wire::{MacAddr, Vni};

/// A change of EVPN state for the management thread.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Imported {
    MacAt {
        vni: Vni,
        mac: MacAddr,
        vtep: IpAddr,
    },
    MacGone {
        vni: Vni,
        mac: MacAddr,
    },
    /// The VNI's whole type 3 flood list, as it is now.
    Flood {
        vni: Vni,
        vteps: Vec<IpAddr>,
    },
    BindingAt {
        vni: Vni,
        ip: IpAddr,
        mac: MacAddr,
    },
    BindingGone {
        vni: Vni,
        ip: IpAddr,
    },
}

#[derive(Debug, Default)]
pub struct Mirror {
    macs: HashMap<(Vni, MacAddr), IpAddr>,
    flood: HashMap<Vni, BTreeSet<IpAddr>>,
    bindings: HashMap<(Vni, IpAddr), MacAddr>,
}

impl Mirror {
    /// An entry appeared or changed.
    pub fn add(&mut self, fact: Fact) -> Option<Imported> {
        match fact {
            Fact::RemoteMac { vni, mac, vtep } => (self.macs.insert((vni, mac), vtep)
                != Some(vtep))
            .then_some(Imported::MacAt { vni, mac, vtep }),
            Fact::FloodVtep { vni, vtep } => self
                .flood
                .entry(vni)
                .or_default()
                .insert(vtep)
                .then(|| self.flood_of(vni)),
            Fact::Binding { vni, ip, mac } => (self.bindings.insert((vni, ip), mac) != Some(mac))
                .then_some(Imported::BindingAt { vni, ip, mac }),
            Fact::LocalMac { .. } => None,
        }
    }

    /// An entry went away. A removal that does not match what is held (the delete of a MAC's
    /// old location after its new one arrived) changes nothing.
    pub fn remove(&mut self, fact: Fact) -> Option<Imported> {
        match fact {
            Fact::RemoteMac { vni, mac, vtep } => {
                if self.macs.get(&(vni, mac)) != Some(&vtep) {
                    return None;
                }
                self.macs.remove(&(vni, mac));
                Some(Imported::MacGone { vni, mac })
            }
            Fact::FloodVtep { vni, vtep } => {
                let removed = self.flood.get_mut(&vni).is_some_and(|s| s.remove(&vtep));
                removed.then(|| self.flood_of(vni))
            }
            Fact::Binding { vni, ip, mac } => {
                if self.bindings.get(&(vni, ip)) != Some(&mac) {
                    return None;
                }
                self.bindings.remove(&(vni, ip));
                Some(Imported::BindingGone { vni, ip })
            }
            Fact::LocalMac { .. } => None,
        }
    }

    /// Everything the namespace holds now (a full re-read): the changes since the last view.
    pub fn replace(&mut self, facts: impl IntoIterator<Item = Fact>) -> Vec<Imported> {
        let mut fresh = Mirror::default();
        for f in facts {
            fresh.add(f);
        }
        let mut out = Vec::new();
        for (&(vni, mac), &vtep) in &fresh.macs {
            if self.macs.get(&(vni, mac)) != Some(&vtep) {
                out.push(Imported::MacAt { vni, mac, vtep });
            }
        }
        for &(vni, mac) in self.macs.keys() {
            if !fresh.macs.contains_key(&(vni, mac)) {
                out.push(Imported::MacGone { vni, mac });
            }
        }
        let vnis: BTreeSet<Vni> = self
            .flood
            .keys()
            .chain(fresh.flood.keys())
            .copied()
            .collect();
        for vni in vnis {
            if self.flood.get(&vni).filter(|s| !s.is_empty())
                != fresh.flood.get(&vni).filter(|s| !s.is_empty())
            {
                out.push(fresh.flood_of(vni));
            }
        }
        for (&(vni, ip), &mac) in &fresh.bindings {
            if self.bindings.get(&(vni, ip)) != Some(&mac) {
                out.push(Imported::BindingAt { vni, ip, mac });
            }
        }
        for &(vni, ip) in self.bindings.keys() {
            if !fresh.bindings.contains_key(&(vni, ip)) {
                out.push(Imported::BindingGone { vni, ip });
            }
        }
        *self = fresh;
        out
    }

    /// A VNI's devices were removed: its entries went with them (the management thread
    /// removed the VNI already, or re-creates it empty).
    pub fn forget(&mut self, vni: Vni) {
        self.macs.retain(|(v, _), _| *v != vni);
        self.flood.remove(&vni);
        self.bindings.retain(|(v, _), _| *v != vni);
    }

    fn flood_of(&self, vni: Vni) -> Imported {
        Imported::Flood {
            vni,
            vteps: self
                .flood
                .get(&vni)
                .map(|s| s.iter().copied().collect())
                .unwrap_or_default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vni() -> Vni {
        Vni::new(100).unwrap()
    }

    fn mac(n: u8) -> MacAddr {
        MacAddr([2, 0, 0, 0, 0, n])
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn at(n: u8, vtep: &str) -> Fact {
        Fact::RemoteMac {
            vni: vni(),
            mac: mac(n),
            vtep: ip(vtep),
        }
    }

    #[test]
    fn a_mac_that_moves_is_one_change_and_the_old_delete_is_ignored() {
        let mut m = Mirror::default();
        assert!(m.add(at(1, "10.0.0.3")).is_some());
        assert_eq!(m.add(at(1, "10.0.0.3")), None);
        assert_eq!(
            m.add(at(1, "10.0.0.4")),
            Some(Imported::MacAt {
                vni: vni(),
                mac: mac(1),
                vtep: ip("10.0.0.4")
            })
        );
        assert_eq!(m.remove(at(1, "10.0.0.3")), None);
        assert_eq!(
            m.remove(at(1, "10.0.0.4")),
            Some(Imported::MacGone {
                vni: vni(),
                mac: mac(1)
            })
        );
    }

    #[test]
    fn flood_changes_carry_the_whole_list() {
        let mut m = Mirror::default();
        let f = |v: &str| Fact::FloodVtep {
            vni: vni(),
            vtep: ip(v),
        };
        m.add(f("10.0.0.3"));
        assert_eq!(
            m.add(f("10.0.0.2")),
            Some(Imported::Flood {
                vni: vni(),
                vteps: vec![ip("10.0.0.2"), ip("10.0.0.3")]
            })
        );
        assert_eq!(m.add(f("10.0.0.2")), None);
        assert_eq!(
            m.remove(f("10.0.0.3")),
            Some(Imported::Flood {
                vni: vni(),
                vteps: vec![ip("10.0.0.2")]
            })
        );
        assert_eq!(m.remove(f("10.0.0.9")), None);
    }

    #[test]
    fn a_full_read_gives_only_the_differences() {
        let mut m = Mirror::default();
        m.add(at(1, "10.0.0.3"));
        m.add(at(2, "10.0.0.3"));
        m.add(Fact::FloodVtep {
            vni: vni(),
            vtep: ip("10.0.0.3"),
        });
        let b = Fact::Binding {
            vni: vni(),
            ip: ip("192.168.0.1"),
            mac: mac(1),
        };
        m.add(b);
        // Missed while the socket overflowed: 1 moved, 2 withdrawn, 3 new, flood unchanged,
        // the binding withdrawn.
        let mut out = m.replace([
            at(1, "10.0.0.4"),
            at(3, "10.0.0.3"),
            Fact::FloodVtep {
                vni: vni(),
                vtep: ip("10.0.0.3"),
            },
        ]);
        out.sort_by_key(|i| format!("{i:?}"));
        assert_eq!(
            out,
            vec![
                Imported::BindingGone {
                    vni: vni(),
                    ip: ip("192.168.0.1")
                },
                Imported::MacAt {
                    vni: vni(),
                    mac: mac(1),
                    vtep: ip("10.0.0.4")
                },
                Imported::MacAt {
                    vni: vni(),
                    mac: mac(3),
                    vtep: ip("10.0.0.3")
                },
                Imported::MacGone {
                    vni: vni(),
                    mac: mac(2)
                },
            ]
        );
        assert!(m
            .replace([
                at(1, "10.0.0.4"),
                at(3, "10.0.0.3"),
                Fact::FloodVtep {
                    vni: vni(),
                    vtep: ip("10.0.0.3"),
                }
            ])
            .is_empty());
    }
}
