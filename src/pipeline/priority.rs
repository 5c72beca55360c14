//! IEEE 802.1p priority across the tunnel (`[qos]`): the PCP of a frame's access tag chooses
//! its outer DSCP on encapsulation, and the outer DSCP the PCP of the tag pushed on
//! decapsulation. Between access ports a frame keeps its PCP, as an 802.1Q bridge's default
//! priority regeneration does.

use crate::config::QosConfig;
/// The outer DSCP for a frame that arrived with priority `pcp` (None: untagged), or None
/// where `underlay.dscp` decides.
#[inline(always)]
pub fn outer_dscp(qos: &QosConfig, pcp: Option<u8>) -> Option<u8> {
    let map = qos.pcp_to_dscp.as_ref()?;
    map.get(usize::from(pcp? & 0x7)).copied()
}

/// The priority of a frame decapsulated from a packet with outer TOS/traffic class
/// `outer_tos`, or None where no map is configured (tags pushed with PCP 0).
#[inline(always)]
pub fn pcp_for_outer(qos: &QosConfig, outer_tos: u8) -> Option<u8> {
    let map = qos.dscp_to_pcp.as_ref()?;
    map.get(usize::from(outer_tos >> 2)).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_apply_only_where_configured() {
        let off = QosConfig::default();
        assert_eq!(outer_dscp(&off, Some(5)), None);
        assert_eq!(pcp_for_outer(&off, 46 << 2), None);
        let mut back = [0u8; 64];
        back[46] = 6;
        let on = QosConfig {
            pcp_to_dscp: Some([0, 8, 16, 24, 32, 46, 48, 56]),
            dscp_to_pcp: Some(back),
        };
        assert_eq!(outer_dscp(&on, Some(5)), Some(46));
        assert_eq!(
            outer_dscp(&on, None),
            None,
            "untagged: underlay.dscp decides"
        );
        assert_eq!(
            pcp_for_outer(&on, (46 << 2) | 3),
            Some(6),
            "ECN bits ignored"
        );
        assert_eq!(pcp_for_outer(&on, 10 << 2), Some(0));
    }
}
