//! Removing and inserting 802.1Q tags in place.

use crate::wire::{ethernet, vlan, EtherType};

use super::frame::Frame;

const MACS: usize = 12;

/// Removes the frame's 802.1Q tag: the MAC addresses move 4 bytes forward over it.
#[inline(always)]
pub fn strip<F: Frame>(f: &mut F) -> bool {
    let data = f.data_mut();
    if data.len() < ethernet::HEADER_LEN + vlan::TAG_LEN {
        return false;
    }
    data.copy_within(..MACS, vlan::TAG_LEN);
    f.adj(vlan::TAG_LEN)
}

/// Inserts an 802.1Q tag with `tci` after the MAC addresses.
#[inline(always)]
pub fn push<F: Frame>(f: &mut F, tci: u16) -> bool {
    if f.data().len() < ethernet::HEADER_LEN || f.prepend(vlan::TAG_LEN).is_none() {
        return false;
    }
    let data = f.data_mut();
    if data.len() < ethernet::HEADER_LEN + vlan::TAG_LEN {
        return false;
    }
    data.copy_within(vlan::TAG_LEN..vlan::TAG_LEN + MACS, 0);
    let [t0, t1] = EtherType::VLAN.to_be_bytes();
    let [c0, c1] = tci.to_be_bytes();
    if let Some(tag) = data.get_mut(MACS..MACS + vlan::TAG_LEN) {
        tag.copy_from_slice(&[t0, t1, c0, c1]);
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::frame::VecFrame;

    const UNTAGGED: [u8; 16] = [1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 0x08, 0x00, 0xaa, 0xbb];
    const TAGGED: [u8; 20] = [
        1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 0x81, 0x00, 0x00, 0x64, 0x08, 0x00, 0xaa, 0xbb,
    ];

    #[test]
    fn strip_removes_the_tag() {
        let mut f = VecFrame::new(&TAGGED);
        assert!(strip(&mut f));
        assert_eq!(f.data(), &UNTAGGED);
    }

    #[test]
    fn push_inserts_the_tag() {
        let mut f = VecFrame::new(&UNTAGGED);
        assert!(push(&mut f, 100));
        assert_eq!(f.data(), &TAGGED);
    }

    #[test]
    fn too_short_is_refused() {
        let mut f = VecFrame::new(&UNTAGGED[..15]);
        assert!(!strip(&mut f));
    }
}
