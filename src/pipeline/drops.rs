//! Every reason the data plane drops a packet, declared once: each is a counter, a metric
//! label and a line in the final report (VPP's `*_error.def` idea).

macro_rules! drop_reasons {
    ($($variant:ident => $name:literal, $help:literal;)*) => {
        /// Why a packet was dropped. The discriminant indexes the counter array.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[repr(u8)]
        pub enum DropReason {
            $($variant,)*
        }

        impl DropReason {
            pub const ALL: &'static [DropReason] = &[$(DropReason::$variant,)*];
            pub const COUNT: usize = Self::ALL.len();

            /// The counter's name (snake_case, stable: metrics and tests use it).
            pub const fn name(self) -> &'static str {
                match self {
                    $(DropReason::$variant => $name,)*
                }
            }

            /// One line for operators.
            pub const fn help(self) -> &'static str {
                match self {
                    $(DropReason::$variant => $help,)*
                }
            }
        }
    };
}

drop_reasons! {
    // Anywhere.
    TxQueueFull => "tx_queue_full", "the port's TX queue had no room for the burst";
    Runt => "runt", "frame shorter than its Ethernet header (with its 802.1Q tag)";
    FrameTooLong => "frame_too_long", "frame larger than a receive buffer (raise the port's mtu)";
    RxOverMtu => "rx_over_mtu", "received frame longer than its port's MTU plus its Ethernet header (and one 802.1Q tag on an access port)";
    NoHeadroom => "no_headroom", "not enough buffer headroom to add the outer headers";
    MbufExhausted => "mbuf_exhausted", "no buffer left in the pool for a flood copy or a reply";
    // Access side (encapsulation).
    UnmappedVlan => "unmapped_vlan", "802.1Q VLAN mapped to no VNI on this access port";
    UntaggedNoVni => "untagged_no_vni", "untagged frame on an access port without untagged_vni";
    QinqUnsupported => "qinq_unsupported", "802.1ad/QinQ or double-tagged frame on an access port";
    BadSourceMac => "bad_source_mac", "multicast, broadcast or zero source MAC";
    SamePort => "same_port", "destination MAC sits behind the port the frame came in on";
    MtuExceeded => "mtu_exceeded", "encapsulated packet larger than the underlay MTU and not segmentable";
    AccessMtuExceeded => "access_mtu_exceeded", "frame larger than the MTU of the access port it would leave on: decapsulated, routed, bridged or a flood copy (never fragmented)";
    NeighborUnresolved => "neighbor_unresolved", "the underlay next hop's MAC is not resolved yet";
    NoFloodDestination => "no_flood_destination", "broadcast/unknown frame with no other port or VTEP in its VNI";
    BumRateLimited => "bum_rate_limited", "broadcast/multicast/unknown-unicast frame over its VNI's bum_rate_pps (storm control)";
    // Underlay side (decapsulation and the VTEP's own addresses).
    UnderlayVlan => "underlay_vlan", "802.1Q-tagged frame on the underlay port";
    NonIp => "non_ip", "underlay frame that is neither IPv4, IPv6 nor ARP";
    IpMalformed => "ip_malformed", "outer IP header truncated, bad version, header or total length, or bad IPv4 header checksum";
    IpFragment => "ip_fragment", "outer IPv4 or IPv6 fragment (VTEPs never fragment)";
    IpTtlZero => "ip_ttl_zero", "outer TTL or hop limit 0";
    NotLocal => "not_local", "outer destination is not a local VTEP address or joined group";
    UnsupportedProtocol => "unsupported_protocol", "IP protocol the VTEP does not serve (not UDP/VXLAN, GRE or ICMP)";
    Ipv6ExtensionHeader => "ipv6_extension_header", "outer IPv6 extension headers that cannot be skipped: truncated, more than four, or routing with segments left";
    UdpMalformed => "udp_malformed", "UDP header truncated or its length disagrees with IP";
    UdpBadChecksum => "udp_bad_checksum", "VXLAN over IPv6 whose non-zero UDP checksum does not verify (RFC 8200 8.1; zero is accepted, RFC 6935)";
    UdpPortClosed => "udp_port_closed", "UDP to a local address on a port other than the VXLAN port";
    VxlanTruncated => "vxlan_truncated", "VXLAN header truncated";
    VxlanNoVni => "vxlan_no_vni", "VXLAN header without the I flag";
    GreTruncated => "gre_truncated", "GRE header truncated";
    GreChecksumOrSequence => "gre_checksum_or_sequence", "GRE with the C or S bit set (NVGRE forbids them)";
    GreNoKey => "gre_no_key", "GRE without the K bit: no VSID";
    GreBadVersion => "gre_bad_version", "GRE version other than 0";
    GreRfc1701 => "gre_rfc1701", "GRE with RFC 1701 routing, strict source route or recursion bits (RFC 2784: discard)";
    GreNotEthernet => "gre_not_ethernet", "GRE payload is not Ethernet (protocol not 0x6558)";
    UnknownVni => "unknown_vni", "VNI/VSID not configured on this gateway";
    EncapMismatch => "encap_mismatch", "VNI configured for the other encapsulation (VXLAN vs NVGRE)";
    VxlanPortMismatch => "vxlan_port_mismatch", "VXLAN to one of the gateway's UDP ports other than its VNI's vxlan_port";
    VtepNotAllowed => "vtep_not_allowed", "source VTEP not in the VNI's allowed_vteps";
    InnerTruncated => "inner_truncated", "decapsulated frame shorter than an Ethernet header";
    InnerVlan => "inner_vlan", "decapsulated frame with an 802.1Q tag (RFC 7348 6.1)";
    EcnCeNotEct => "ecn_ce_not_ect", "outer ECN CE (congestion experienced) over an inner packet that is not ECN-capable (RFC 6040 4.2)";
    SplitHorizon => "split_horizon", "decapsulated frame to a MAC behind another VTEP (never sent back into the underlay)";
    ArpMalformed => "arp_malformed", "ARP that is not Ethernet/IPv4 or is truncated";
    ArpNotForUs => "arp_not_for_us", "ARP on the underlay for an address that is not ours";
    IcmpUnsupported => "icmp_unsupported", "ICMP/ICMPv6 to a local address other than echo and neighbour discovery";
    IcmpMalformed => "icmp_malformed", "ICMP/ICMPv6 message truncated or invalid";
    ExceptionPoliced => "exception_policed", "for the kernel in the EVPN namespace, over its class's exception_established_pps or exception_new_pps";
    ExceptionQueueFull => "exception_queue_full", "for the kernel in the EVPN namespace, whose queue was full (the exception thread fell behind)";
    IcmpBadChecksum => "icmp_bad_checksum", "ICMP echo or ICMPv6 echo/neighbour discovery to the VTEP whose checksum does not verify (RFC 792, RFC 4443 2.3, RFC 4861 7.1)";
    // Routing (the anycast gateway of a tenant VRF).
    NoRoute => "no_route", "routed packet whose destination no route of its VRF covers";
    TtlExpired => "ttl_expired", "routed packet with TTL or hop limit 1 or less whose ICMP time exceeded was not sent (icmp_errors_pps, or not to be answered)";
    HostUnresolved => "host_unresolved", "routed packet to a host whose MAC is not known, while a resolution for it is already out or over resolve_pps";
    VrfMismatch => "vrf_mismatch", "route to a VNI that is no longer in the packet's VRF (tables changing)";
    NotRoutable => "not_routable", "to the anycast gateway MAC but not a routable unicast IP packet (bad header or checksum, multicast, broadcast, link-local, not IP)";
    GatewayUnsupported => "gateway_unsupported", "to an anycast gateway address, other than ICMP/ICMPv6 echo";
    NotRouterMac => "not_router_mac", "frame in an L3VNI not sent to this gateway's router MAC (an L3VNI bridges nothing)";
    // The policy stage (micro-segmentation).
    PolicyDenied => "policy_denied", "denied by a policy rule, or by the default of its segment pair (default_between, default_within)";
    PolicyFragment => "policy_fragment", "an IP fragment under a policy: without its ports it cannot be classified, and vtepd does not reassemble";
    PolicyMalformed => "policy_malformed", "under a policy, an IP packet whose header is truncated or malformed";
    SessionTenantLimit => "session_tenant_limit", "a new flow its rule allows, refused because its tenant holds policy.tenant_max_sessions sessions";
    SessionTableFull => "session_table_full", "a new flow its rule allows, refused because the worker's session table is full (policy.max_sessions)";
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn names_are_unique_and_snake_case() {
        let mut seen = HashSet::new();
        for r in DropReason::ALL {
            assert!(seen.insert(r.name()), "duplicate {}", r.name());
            assert!(r
                .name()
                .chars()
                .all(|c| c.is_ascii_lowercase() || c == '_' || c.is_ascii_digit()));
            assert!(!r.help().is_empty());
        }
        for (i, r) in DropReason::ALL.iter().enumerate() {
            assert_eq!(*r as usize, i);
        }
    }
}
