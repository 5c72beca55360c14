//! IPFIX (RFC 7011) messages carrying the stateful firewall's connection log.
//!
//! ```text
//! +--------------------+--------------------+
//! | Version (10)       | Length             |  message header, 16 bytes
//! +--------------------+--------------------+
//! | Export Time (Unix seconds)              |
//! | Sequence Number (data records before)   |
//! | Observation Domain ID                   |
//! +--------------------+--------------------+
//! | Set ID             | Set Length         |  set header, 4 bytes: 2 for templates,
//! +--------------------+--------------------+  a template ID (>= 256) for data
//! | records ...                             |
//! ```
//!
//! Two fixed templates, one per address family ([`IPV4_TEMPLATE_ID`], [`IPV6_TEMPLATE_ID`]),
//! with the same fields around the addresses, in this order:
//!
//! | IE  | enterprise  | name                          | len | from `FlowRecord`               |
//! |-----|-------------|-------------------------------|-----|---------------------------------|
//! | 152 |             | flowStartMilliseconds         | 8   | `start_ms`                      |
//! | 153 |             | flowEndMilliseconds           | 8   | `end_ms`                        |
//! | 1   |             | octetDeltaCount               | 8   | `bytes`                         |
//! | 2   |             | packetDeltaCount              | 8   | `packets`                       |
//! | 1   | 29305       | reverseOctetDeltaCount        | 8   | `reverse_bytes` (RFC 5103)      |
//! | 2   | 29305       | reversePacketDeltaCount       | 8   | `reverse_packets` (RFC 5103)    |
//! | 351 |             | layer2SegmentId (1st)         | 8   | `src_vni`, `src_encap`          |
//! | 351 |             | layer2SegmentId (2nd)         | 8   | `dst_vni`, `dst_encap`          |
//! | 8/27|             | sourceIPv4/IPv6Address        | 4/16| `src`                           |
//! |12/28|             | destinationIPv4/IPv6Address   | 4/16| `dst`                           |
//! | 234 |             | ingressVRFID                  | 4   | `vrf`                           |
//! | 1   | 32473       | vtepd rule id                 | 4   | `rule_id`                       |
//! | 7   |             | sourceTransportPort           | 2   | `src_port`                      |
//! | 11  |             | destinationTransportPort      | 2   | `dst_port` (ICMP: type, code)   |
//! | 4   |             | protocolIdentifier            | 1   | `protocol`                      |
//! | 233 |             | firewallEvent                 | 1   | `event`                         |
//! | 136 |             | flowEndReason                 | 1   | `event` (0 unless it ended)     |
//! | 239 |             | biflowDirection               | 1   | 1 (initiator): `src` opened it  |
//!
//! Choices worth knowing:
//! - The reverse counters are RFC 5103 reverse elements (PEN 29305), the standard form for a
//!   biflow; nfdump decodes them as its "out" packets and bytes.
//! - layer2SegmentId appears twice: RFC 7011 §8 says repeated elements follow the Metering
//!   Process's logical order, so the first is the ingress (initiator's) segment and the
//!   second the egress one. Its top byte is the segment type IANA assigns (0x01 VXLAN,
//!   0x02 NVGRE), the rest the VNI/VSID; an unknown segment (VNI 0) is sent as 0.
//! - The rule id has no IANA element, so it is enterprise-specific element 1 under PEN 32473,
//!   the documentation PEN of RFC 5612: a deployment that wants collectors to name it must
//!   register a PEN of its own and change [`VTEPD_PEN`].
//! - Counters are deltas: what the flow carried since its previous record (all of it if this
//!   is its first), as octetDeltaCount says.
//! - Every record length is a multiple of 4, so sets need no padding.

use std::net::{IpAddr, Ipv6Addr};

use zerocopy::network_endian::{U16, U32, U64};
use zerocopy::{FromBytes, FromZeros, Immutable, IntoBytes, KnownLayout, Unaligned};

use super::Error;

pub const VERSION: u16 = 10;
pub const MESSAGE_HEADER_LEN: usize = 16;
pub const SET_HEADER_LEN: usize = 4;
/// The Set ID of a Template Set.
pub const TEMPLATE_SET_ID: u16 = 2;
/// Template (and so Data Set) IDs: 256 is the first one RFC 7011 allows.
pub const IPV4_TEMPLATE_ID: u16 = 256;
pub const IPV6_TEMPLATE_ID: u16 = 257;
/// Fits a 1500-byte MTU path with IPv6 and UDP headers to spare, so no message fragments.
pub const DEFAULT_MESSAGE_LIMIT: usize = 1400;
/// The enterprise number of RFC 5103 reverse Information Elements.
pub const REVERSE_PEN: u32 = 29305;
/// The enterprise number vtepd's own elements go under: the documentation PEN (RFC 5612).
pub const VTEPD_PEN: u32 = 32473;
/// vtepd's enterprise-specific element for the deciding policy rule (unsigned32).
pub const VTEPD_RULE_ID_ELEMENT: u16 = 1;
/// Marks an element specifier as enterprise-specific (RFC 7011 §3.2).
const ENTERPRISE_BIT: u16 = 0x8000;
/// biflowDirection's "initiator": the source address opened the flow (RFC 5103 §6.3).
const BIFLOW_INITIATOR: u8 = 1;

/// One field of a template: an Information Element, its length, and the enterprise number of
/// elements outside IANA's registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field {
    pub element: u16,
    pub len: u16,
    pub enterprise: Option<u32>,
}

const fn iana(element: u16, len: u16) -> Field {
    Field {
        element,
        len,
        enterprise: None,
    }
}

const fn enterprise(element: u16, len: u16, pen: u32) -> Field {
    Field {
        element,
        len,
        enterprise: Some(pen),
    }
}

/// The fields before the addresses, as `RecordHead` lays them out.
const HEAD_FIELDS: [Field; 8] = [
    iana(152, 8),
    iana(153, 8),
    iana(1, 8),
    iana(2, 8),
    enterprise(1, 8, REVERSE_PEN),
    enterprise(2, 8, REVERSE_PEN),
    iana(351, 8),
    iana(351, 8),
];
const IPV4_ADDRESS_FIELDS: [Field; 2] = [iana(8, 4), iana(12, 4)];
const IPV6_ADDRESS_FIELDS: [Field; 2] = [iana(27, 16), iana(28, 16)];
/// The fields after the addresses, as `RecordTail` lays them out.
const TAIL_FIELDS: [Field; 8] = [
    iana(234, 4),
    enterprise(VTEPD_RULE_ID_ELEMENT, 4, VTEPD_PEN),
    iana(7, 2),
    iana(11, 2),
    iana(4, 1),
    iana(233, 1),
    iana(136, 1),
    iana(239, 1),
];

/// A template's field specifiers: 4 bytes each, 4 more for an enterprise number.
const fn specifiers_len(fields: &[Field]) -> usize {
    match fields {
        [] => 0,
        [first, rest @ ..] => {
            let len = if first.enterprise.is_some() { 8 } else { 4 };
            specifiers_len(rest).saturating_add(len)
        }
    }
}

const TEMPLATE_HEADER_LEN: usize = 4;
const TEMPLATE_LEN: usize = TEMPLATE_HEADER_LEN
    + specifiers_len(&HEAD_FIELDS)
    + specifiers_len(&IPV4_ADDRESS_FIELDS)
    + specifiers_len(&TAIL_FIELDS);
/// The Template Set every templated message starts with: both templates.
pub const TEMPLATE_SET_LEN: usize = SET_HEADER_LEN + 2 * TEMPLATE_LEN;
pub const IPV4_RECORD_LEN: usize =
    size_of::<RecordHead>() + 2 * size_of::<[u8; 4]>() + size_of::<RecordTail>();
pub const IPV6_RECORD_LEN: usize =
    size_of::<RecordHead>() + 2 * size_of::<[u8; 16]>() + size_of::<RecordTail>();
/// The smallest limit that still holds templates and one record of either family.
pub const MIN_MESSAGE_LIMIT: usize =
    MESSAGE_HEADER_LEN + TEMPLATE_SET_LEN + SET_HEADER_LEN + IPV6_RECORD_LEN;

/// What happened to a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlowEvent {
    Started,
    Ended(EndReason),
    Denied,
    /// A periodic report on a long-lived connection that goes on.
    Interim,
}

impl FlowEvent {
    /// firewallEvent (IANA IE 233).
    pub const fn firewall_event(self) -> u8 {
        match self {
            FlowEvent::Started => 1,
            FlowEvent::Ended(_) => 2,
            FlowEvent::Denied => 3,
            FlowEvent::Interim => 5,
        }
    }

    /// flowEndReason (IANA IE 136); 0, which IANA leaves unassigned, when the flow goes on
    /// or never started.
    pub const fn end_reason(self) -> u8 {
        match self {
            FlowEvent::Ended(reason) => reason.code(),
            FlowEvent::Started | FlowEvent::Denied | FlowEvent::Interim => 0,
        }
    }
}

/// Why a connection ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndReason {
    IdleTimeout,
    ActiveTimeout,
    /// TCP FIN or RST.
    EndOfFlow,
    /// A rule change or shutdown.
    Forced,
    LackOfResources,
}

impl EndReason {
    /// flowEndReason (IANA IE 136).
    pub const fn code(self) -> u8 {
        match self {
            EndReason::IdleTimeout => 1,
            EndReason::ActiveTimeout => 2,
            EndReason::EndOfFlow => 3,
            EndReason::Forced => 4,
            EndReason::LackOfResources => 5,
        }
    }
}

/// The overlay a segment ID belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Encapsulation {
    #[default]
    Vxlan,
    Nvgre,
}

impl Encapsulation {
    /// layer2SegmentId's segment type (its top byte, per IANA).
    pub const fn segment_type(self) -> u8 {
        match self {
            Encapsulation::Vxlan => 0x01,
            Encapsulation::Nvgre => 0x02,
        }
    }

    /// The layer2SegmentId of `vni` in this overlay; 0 (reserved type, no ID) when the
    /// segment is unknown.
    pub const fn segment_id(self, vni: u32) -> u64 {
        if vni == 0 {
            return 0;
        }
        let [a, b, c, d] = vni.to_be_bytes();
        u64::from_be_bytes([self.segment_type(), 0, 0, 0, a, b, c, d])
    }
}

/// One connection-log entry, as a worker reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlowRecord {
    pub event: FlowEvent,
    /// The initiator's view: `src` opened the connection. Both of one family (a record that
    /// mixes them goes out as IPv6, the IPv4 address mapped, rather than being lost).
    pub src: IpAddr,
    pub dst: IpAddr,
    /// ICMP: 0 and type<<8|code, as IPFIX exporters put it in the destination port.
    pub src_port: u16,
    pub dst_port: u16,
    pub protocol: u8,
    /// Segments (VXLAN VNI / NVGRE VSID) the initiator and the responder are in; 0 unknown.
    pub src_vni: u32,
    pub dst_vni: u32,
    pub src_encap: Encapsulation,
    pub dst_encap: Encapsulation,
    /// Tenant VRF id, 0 when none.
    pub vrf: u32,
    /// The policy rule that decided (0: the default action).
    pub rule_id: u32,
    /// Initiator → responder, since this flow's previous record.
    pub packets: u64,
    pub bytes: u64,
    /// Responder → initiator, since this flow's previous record.
    pub reverse_packets: u64,
    pub reverse_bytes: u64,
    /// Unix epoch milliseconds.
    pub start_ms: u64,
    pub end_ms: u64,
}

/// Which template a record goes out under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    V4,
    V6,
}

impl Family {
    pub const fn template_id(self) -> u16 {
        match self {
            Family::V4 => IPV4_TEMPLATE_ID,
            Family::V6 => IPV6_TEMPLATE_ID,
        }
    }

    pub const fn record_len(self) -> usize {
        match self {
            Family::V4 => IPV4_RECORD_LEN,
            Family::V6 => IPV6_RECORD_LEN,
        }
    }

    /// The template's fields, in record order.
    pub fn fields(self) -> impl Iterator<Item = &'static Field> {
        let head: &'static [Field] = &HEAD_FIELDS;
        let tail: &'static [Field] = &TAIL_FIELDS;
        let addresses: &'static [Field] = match self {
            Family::V4 => &IPV4_ADDRESS_FIELDS,
            Family::V6 => &IPV6_ADDRESS_FIELDS,
        };
        head.iter().chain(addresses).chain(tail)
    }
}

impl FlowRecord {
    pub fn family(&self) -> Family {
        match (self.src, self.dst) {
            (IpAddr::V4(_), IpAddr::V4(_)) => Family::V4,
            _ => Family::V6,
        }
    }

    fn head(&self) -> RecordHead {
        RecordHead {
            start_ms: U64::new(self.start_ms),
            end_ms: U64::new(self.end_ms),
            octets: U64::new(self.bytes),
            packets: U64::new(self.packets),
            reverse_octets: U64::new(self.reverse_bytes),
            reverse_packets: U64::new(self.reverse_packets),
            ingress_segment: U64::new(self.src_encap.segment_id(self.src_vni)),
            egress_segment: U64::new(self.dst_encap.segment_id(self.dst_vni)),
        }
    }

    fn tail(&self) -> RecordTail {
        RecordTail {
            vrf: U32::new(self.vrf),
            rule_id: U32::new(self.rule_id),
            src_port: U16::new(self.src_port),
            dst_port: U16::new(self.dst_port),
            protocol: self.protocol,
            firewall_event: self.event.firewall_event(),
            end_reason: self.event.end_reason(),
            biflow_direction: BIFLOW_INITIATOR,
        }
    }
}

fn as_v6(a: IpAddr) -> Ipv6Addr {
    match a {
        IpAddr::V4(a) => a.to_ipv6_mapped(),
        IpAddr::V6(a) => a,
    }
}

/// The fields of `HEAD_FIELDS`.
#[derive(Debug, Clone, Copy, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
struct RecordHead {
    start_ms: U64,
    end_ms: U64,
    octets: U64,
    packets: U64,
    reverse_octets: U64,
    reverse_packets: U64,
    ingress_segment: U64,
    egress_segment: U64,
}

/// The fields of `TAIL_FIELDS`.
#[derive(Debug, Clone, Copy, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
struct RecordTail {
    vrf: U32,
    rule_id: U32,
    src_port: U16,
    dst_port: U16,
    protocol: u8,
    firewall_event: u8,
    end_reason: u8,
    biflow_direction: u8,
}

#[derive(Debug, Clone, Copy, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct MessageHeader {
    version: U16,
    length: U16,
    export_time: U32,
    sequence: U32,
    observation_domain: U32,
}

impl MessageHeader {
    pub fn version(&self) -> u16 {
        self.version.get()
    }

    /// The whole message's length, header included.
    pub fn length(&self) -> u16 {
        self.length.get()
    }

    /// Unix seconds.
    pub fn export_time(&self) -> u32 {
        self.export_time.get()
    }

    /// Data records sent in this session before this message, modulo 2^32.
    pub fn sequence(&self) -> u32 {
        self.sequence.get()
    }

    pub fn observation_domain(&self) -> u32 {
        self.observation_domain.get()
    }
}

#[derive(Debug, Clone, Copy, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct SetHeader {
    id: U16,
    length: U16,
}

impl SetHeader {
    pub fn id(&self) -> u16 {
        self.id.get()
    }

    /// The set's length, header included.
    pub fn length(&self) -> u16 {
        self.length.get()
    }
}

/// Views the front of `bytes` as a message header; the rest is bounded by its length field.
pub fn parse(bytes: &[u8]) -> Result<(&MessageHeader, &[u8]), Error> {
    let (h, _) = super::overlay::<MessageHeader>(bytes)?;
    if h.version() != VERSION {
        return Err(Error::Malformed);
    }
    let len = usize::from(h.length());
    if len < MESSAGE_HEADER_LEN {
        return Err(Error::Malformed);
    }
    let sets = bytes.get(MESSAGE_HEADER_LEN..len).ok_or(Error::Truncated)?;
    Ok((h, sets))
}

/// Views the front of `bytes` as a set: its header, its contents, and the sets after it.
pub fn parse_set(bytes: &[u8]) -> Result<(&SetHeader, &[u8], &[u8]), Error> {
    let (h, _) = super::overlay::<SetHeader>(bytes)?;
    let len = usize::from(h.length());
    if len < SET_HEADER_LEN {
        return Err(Error::Malformed);
    }
    let contents = bytes.get(SET_HEADER_LEN..len).ok_or(Error::Truncated)?;
    let rest = bytes.get(len..).ok_or(Error::Truncated)?;
    Ok((h, contents, rest))
}

/// What one `Encoder::encode` wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Encoded {
    /// The message's length: it is `buf[..len]`.
    pub len: usize,
    /// How many of the records given it holds (the first ones).
    pub records: usize,
}

/// Writes IPFIX messages for one Observation Domain, keeping the sequence number.
#[derive(Debug, Clone)]
pub struct Encoder {
    observation_domain: u32,
    sequence: u32,
    message_limit: usize,
}

impl Encoder {
    /// An encoder whose messages are at most `DEFAULT_MESSAGE_LIMIT` bytes.
    pub fn new(observation_domain: u32) -> Encoder {
        Encoder {
            observation_domain,
            sequence: 0,
            message_limit: DEFAULT_MESSAGE_LIMIT,
        }
    }

    /// Messages of at most `limit` bytes (kept between `MIN_MESSAGE_LIMIT` and the 65535
    /// the length field can state).
    pub fn with_message_limit(mut self, limit: usize) -> Encoder {
        self.message_limit = limit.clamp(MIN_MESSAGE_LIMIT, usize::from(u16::MAX));
        self
    }

    pub fn message_limit(&self) -> usize {
        self.message_limit
    }

    pub fn observation_domain(&self) -> u32 {
        self.observation_domain
    }

    /// The sequence number the next message will carry.
    pub fn sequence(&self) -> u32 {
        self.sequence
    }

    /// Writes one message into the front of `buf` (at most the message limit of it): the
    /// templates when `with_templates`, then as many of `records`, in order, as fit. The
    /// caller sends `buf[..len]` and calls again with the records it did not hold.
    ///
    /// Fails with `Truncated`, writing nothing that counts, when `buf` cannot hold the header
    /// (and templates, when asked) plus one record: a buffer of the message limit always can.
    pub fn encode(
        &mut self,
        records: &[FlowRecord],
        with_templates: bool,
        export_time: u32,
        buf: &mut [u8],
    ) -> Result<Encoded, Error> {
        let limit = buf.len().min(self.message_limit);
        let mut w = Writer::new(buf.get_mut(..limit).ok_or(Error::Truncated)?);
        // The header goes in last, once the length and record count are known.
        w.put(MessageHeader::new_zeroed().as_bytes())?;
        if with_templates {
            write_template_set(&mut w)?;
        }
        let mut held = 0usize;
        // The family and start of the data set being filled.
        let mut open: Option<(Family, usize)> = None;
        for record in records {
            let family = record.family();
            let needs_set = open.map(|(f, _)| f) != Some(family);
            let need = if needs_set {
                SET_HEADER_LEN.saturating_add(family.record_len())
            } else {
                family.record_len()
            };
            if w.remaining() < need {
                break;
            }
            if needs_set {
                if let Some((_, start)) = open {
                    w.close_set(start)?;
                }
                open = Some((family, w.len()));
                w.put(SetHeader::new(family.template_id(), 0).as_bytes())?;
            }
            write_record(&mut w, record, family)?;
            held = held.saturating_add(1);
        }
        if let Some((_, start)) = open {
            w.close_set(start)?;
        }
        if held == 0 && !records.is_empty() {
            return Err(Error::Truncated);
        }
        let len = w.len();
        let header = MessageHeader {
            version: U16::new(VERSION),
            length: U16::new(u16::try_from(len).map_err(|_| Error::Malformed)?),
            export_time: U32::new(export_time),
            sequence: U32::new(self.sequence),
            observation_domain: U32::new(self.observation_domain),
        };
        w.patch(0, header.as_bytes())?;
        // Held records are bounded by the 65535-byte message, so they fit in a u32.
        let held_u32 = u32::try_from(held).unwrap_or(u32::MAX);
        self.sequence = self.sequence.wrapping_add(held_u32);
        Ok(Encoded { len, records: held })
    }
}

impl SetHeader {
    pub const fn new(id: u16, length: u16) -> SetHeader {
        SetHeader {
            id: U16::new(id),
            length: U16::new(length),
        }
    }
}

fn write_template_set(w: &mut Writer<'_>) -> Result<(), Error> {
    let start = w.len();
    w.put(SetHeader::new(TEMPLATE_SET_ID, 0).as_bytes())?;
    for family in [Family::V4, Family::V6] {
        let count = u16::try_from(family.fields().count()).map_err(|_| Error::Malformed)?;
        w.put(&family.template_id().to_be_bytes())?;
        w.put(&count.to_be_bytes())?;
        for field in family.fields() {
            match field.enterprise {
                None => w.put(&field.element.to_be_bytes())?,
                Some(_) => w.put(&(field.element | ENTERPRISE_BIT).to_be_bytes())?,
            }
            w.put(&field.len.to_be_bytes())?;
            if let Some(pen) = field.enterprise {
                w.put(&pen.to_be_bytes())?;
            }
        }
    }
    w.close_set(start)
}

fn write_record(w: &mut Writer<'_>, record: &FlowRecord, family: Family) -> Result<(), Error> {
    w.put(record.head().as_bytes())?;
    match family {
        Family::V4 => match (record.src, record.dst) {
            (IpAddr::V4(src), IpAddr::V4(dst)) => {
                w.put(&src.octets())?;
                w.put(&dst.octets())?;
            }
            _ => return Err(Error::Malformed),
        },
        Family::V6 => {
            w.put(&as_v6(record.src).octets())?;
            w.put(&as_v6(record.dst).octets())?;
        }
    }
    w.put(record.tail().as_bytes())
}

/// Appends to a byte slice, failing instead of overrunning it.
struct Writer<'a> {
    buf: &'a mut [u8],
    len: usize,
}

impl<'a> Writer<'a> {
    fn new(buf: &'a mut [u8]) -> Writer<'a> {
        Writer { buf, len: 0 }
    }

    fn len(&self) -> usize {
        self.len
    }

    fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.len)
    }

    fn put(&mut self, bytes: &[u8]) -> Result<(), Error> {
        let end = self.len.checked_add(bytes.len()).ok_or(Error::Truncated)?;
        self.buf
            .get_mut(self.len..end)
            .ok_or(Error::Truncated)?
            .copy_from_slice(bytes);
        self.len = end;
        Ok(())
    }

    /// Overwrites already written bytes at `at`.
    fn patch(&mut self, at: usize, bytes: &[u8]) -> Result<(), Error> {
        let end = at.checked_add(bytes.len()).ok_or(Error::Truncated)?;
        if end > self.len {
            return Err(Error::Truncated);
        }
        self.buf
            .get_mut(at..end)
            .ok_or(Error::Truncated)?
            .copy_from_slice(bytes);
        Ok(())
    }

    /// Fills in the length of the set whose header starts at `start`.
    fn close_set(&mut self, start: usize) -> Result<(), Error> {
        let len = self.len.checked_sub(start).ok_or(Error::Malformed)?;
        let len = u16::try_from(len).map_err(|_| Error::Malformed)?;
        let at = start.checked_add(2).ok_or(Error::Truncated)?;
        self.patch(at, &len.to_be_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn v4_record(n: u8) -> FlowRecord {
        FlowRecord {
            event: FlowEvent::Ended(EndReason::EndOfFlow),
            src: IpAddr::V4(Ipv4Addr::new(10, 0, 0, n)),
            dst: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 7)),
            src_port: 40000,
            dst_port: 443,
            protocol: 6,
            src_vni: 5000,
            dst_vni: 6000,
            src_encap: Encapsulation::Vxlan,
            dst_encap: Encapsulation::Nvgre,
            vrf: 12,
            rule_id: 0xdead_beef,
            packets: 11,
            bytes: 1_100,
            reverse_packets: 22,
            reverse_bytes: 2_200_000_000_000,
            start_ms: 1_700_000_000_123,
            end_ms: 1_700_000_005_456,
        }
    }

    fn v6_record() -> FlowRecord {
        FlowRecord {
            event: FlowEvent::Denied,
            src: "2001:db8::1".parse().unwrap(),
            dst: "2001:db8:1::2".parse().unwrap(),
            src_port: 0,
            dst_port: 128 << 8,
            protocol: 58,
            src_vni: 0,
            dst_vni: 0,
            src_encap: Encapsulation::Vxlan,
            dst_encap: Encapsulation::Vxlan,
            vrf: 0,
            rule_id: 7,
            packets: 1,
            bytes: 104,
            reverse_packets: 0,
            reverse_bytes: 0,
            start_ms: 1_700_000_000_000,
            end_ms: 1_700_000_000_000,
        }
    }

    fn be16(b: &[u8], at: usize) -> u16 {
        u16::from_be_bytes(b[at..at + 2].try_into().unwrap())
    }

    fn be32(b: &[u8], at: usize) -> u32 {
        u32::from_be_bytes(b[at..at + 4].try_into().unwrap())
    }

    fn be64(b: &[u8], at: usize) -> u64 {
        u64::from_be_bytes(b[at..at + 8].try_into().unwrap())
    }

    /// A template as a collector learns it: (element, enterprise, length) in order.
    type Template = Vec<(u16, u32, usize)>;

    /// Decodes a Template Set's contents by hand, independently of the encoder's tables.
    fn read_templates(mut b: &[u8]) -> Vec<(u16, Template)> {
        let mut out = Vec::new();
        while !b.is_empty() {
            let id = be16(b, 0);
            let count = be16(b, 2);
            let mut at = 4;
            let mut fields = Vec::new();
            for _ in 0..count {
                let raw = be16(b, at);
                let len = usize::from(be16(b, at + 2));
                at += 4;
                let pen = if raw & 0x8000 != 0 {
                    at += 4;
                    be32(b, at - 4)
                } else {
                    0
                };
                fields.push((raw & 0x7fff, pen, len));
            }
            out.push((id, fields));
            b = &b[at..];
        }
        out
    }

    /// A record's fields by (element, enterprise), in template order (repeats kept).
    fn read_record<'a>(t: &Template, record: &'a [u8]) -> Vec<((u16, u32), &'a [u8])> {
        let mut at = 0;
        t.iter()
            .map(|&(e, pen, len)| {
                at += len;
                ((e, pen), &record[at - len..at])
            })
            .collect()
    }

    fn field<'a>(fields: &[((u16, u32), &'a [u8])], e: u16, pen: u32, nth: usize) -> &'a [u8] {
        fields
            .iter()
            .filter(|(k, _)| *k == (e, pen))
            .nth(nth)
            .unwrap_or_else(|| panic!("no element {e}/{pen} #{nth}"))
            .1
    }

    fn num(b: &[u8]) -> u64 {
        b.iter().fold(0, |acc, &x| acc << 8 | u64::from(x))
    }

    #[test]
    fn lengths_are_consistent() {
        assert_eq!(TEMPLATE_SET_LEN, 4 + 2 * (4 + 18 * 4 + 3 * 4));
        assert_eq!(IPV4_RECORD_LEN, 88);
        assert_eq!(IPV6_RECORD_LEN, 112);
        for family in [Family::V4, Family::V6] {
            let total: usize = family.fields().map(|f| usize::from(f.len)).sum();
            assert_eq!(total, family.record_len());
            // No padding needed: every set of these records is a multiple of 4 long.
            assert_eq!(family.record_len() % 4, 0);
        }
    }

    #[test]
    fn message_header() {
        let mut enc = Encoder::new(0x0102_0304);
        let mut buf = [0u8; DEFAULT_MESSAGE_LIMIT];
        let m = enc
            .encode(&[v4_record(1)], true, 1_700_000_006, &mut buf)
            .unwrap();
        assert_eq!(m.records, 1);
        assert_eq!(m.len, 16 + TEMPLATE_SET_LEN + 4 + 88);
        let b = &buf[..m.len];
        assert_eq!(be16(b, 0), 10);
        assert_eq!(usize::from(be16(b, 2)), m.len);
        assert_eq!(be32(b, 4), 1_700_000_006);
        assert_eq!(be32(b, 8), 0, "no data records before the first message");
        assert_eq!(be32(b, 12), 0x0102_0304);
        // The data set follows the template set; its record starts with flowStartMilliseconds
        // and has the addresses after the eight 8-byte fields.
        let set = 16 + TEMPLATE_SET_LEN;
        assert_eq!(be16(b, set), IPV4_TEMPLATE_ID);
        assert_eq!(usize::from(be16(b, set + 2)), 4 + 88);
        let rec = set + 4;
        assert_eq!(be64(b, rec), 1_700_000_000_123);
        assert_eq!(&b[rec + 64..rec + 72], [10, 0, 0, 1, 192, 0, 2, 7]);
        assert_eq!(b[rec + 84], 6, "protocol");
        let (h, sets) = parse(b).unwrap();
        assert_eq!(h.observation_domain(), 0x0102_0304);
        assert_eq!(sets.len(), m.len - 16);
    }

    #[test]
    fn templates_as_a_collector_reads_them() {
        let mut enc = Encoder::new(1);
        let mut buf = [0u8; DEFAULT_MESSAGE_LIMIT];
        let m = enc.encode(&[], true, 0, &mut buf).unwrap();
        assert_eq!(
            m,
            Encoded {
                len: 16 + TEMPLATE_SET_LEN,
                records: 0
            }
        );
        let b = &buf[16..m.len];
        assert_eq!(be16(b, 0), 2, "template set");
        assert_eq!(usize::from(be16(b, 2)), TEMPLATE_SET_LEN);
        assert_eq!(TEMPLATE_SET_LEN % 4, 0);
        let templates = read_templates(&b[4..]);
        let ids: Vec<u16> = templates.iter().map(|t| t.0).collect();
        assert_eq!(ids, [256, 257]);
        let common_head = [
            (152, 0, 8),
            (153, 0, 8),
            (1, 0, 8),
            (2, 0, 8),
            (1, 29305, 8),
            (2, 29305, 8),
            (351, 0, 8),
            (351, 0, 8),
        ];
        let common_tail = [
            (234, 0, 4),
            (1, 32473, 4),
            (7, 0, 2),
            (11, 0, 2),
            (4, 0, 1),
            (233, 0, 1),
            (136, 0, 1),
            (239, 0, 1),
        ];
        let expect = |a: [(u16, u32, usize); 2]| {
            let mut v = common_head.to_vec();
            v.extend(a);
            v.extend(common_tail);
            v
        };
        assert_eq!(templates[0].1, expect([(8, 0, 4), (12, 0, 4)]));
        assert_eq!(templates[1].1, expect([(27, 0, 16), (28, 0, 16)]));
    }

    #[test]
    fn records_parse_back_through_the_templates() {
        let mut enc = Encoder::new(9);
        let mut buf = [0u8; DEFAULT_MESSAGE_LIMIT];
        let records = [v4_record(1), v4_record(2), v6_record(), v4_record(3)];
        let m = enc.encode(&records, true, 0, &mut buf).unwrap();
        assert_eq!(m.records, 4);
        let (_, mut sets) = parse(&buf[..m.len]).unwrap();

        let (t, contents, rest) = parse_set(sets).unwrap();
        assert_eq!(t.id(), TEMPLATE_SET_ID);
        let templates = read_templates(contents);
        sets = rest;

        // Family changes open a new data set: v4 v4 | v6 | v4.
        let mut seen = Vec::new();
        while !sets.is_empty() {
            let (h, contents, rest) = parse_set(sets).unwrap();
            assert_eq!(usize::from(h.length()) % 4, 0);
            let template = &templates.iter().find(|t| t.0 == h.id()).unwrap().1;
            let len: usize = template.iter().map(|f| f.2).sum();
            assert_eq!(contents.len() % len, 0, "no padding, whole records");
            for record in contents.chunks(len) {
                seen.push((h.id(), read_record(template, record)));
            }
            sets = rest;
        }
        let ids: Vec<u16> = seen.iter().map(|s| s.0).collect();
        assert_eq!(ids, [256, 256, 257, 256]);

        let f = &seen[1].1;
        assert_eq!(field(f, 8, 0, 0), [10, 0, 0, 2]);
        assert_eq!(field(f, 12, 0, 0), [192, 0, 2, 7]);
        assert_eq!(num(field(f, 7, 0, 0)), 40000);
        assert_eq!(num(field(f, 11, 0, 0)), 443);
        assert_eq!(num(field(f, 4, 0, 0)), 6);
        assert_eq!(num(field(f, 1, 0, 0)), 1_100);
        assert_eq!(num(field(f, 2, 0, 0)), 11);
        assert_eq!(num(field(f, 1, 29305, 0)), 2_200_000_000_000);
        assert_eq!(num(field(f, 2, 29305, 0)), 22);
        assert_eq!(num(field(f, 152, 0, 0)), 1_700_000_000_123);
        assert_eq!(num(field(f, 153, 0, 0)), 1_700_000_005_456);
        assert_eq!(num(field(f, 233, 0, 0)), 2, "deleted");
        assert_eq!(num(field(f, 136, 0, 0)), 3, "end of flow");
        assert_eq!(num(field(f, 234, 0, 0)), 12);
        assert_eq!(num(field(f, 1, 32473, 0)), 0xdead_beef);
        assert_eq!(num(field(f, 239, 0, 0)), 1);
        assert_eq!(
            num(field(f, 351, 0, 0)),
            0x0100_0000_0000_1388,
            "VXLAN 5000"
        );
        assert_eq!(
            num(field(f, 351, 0, 1)),
            0x0200_0000_0000_1770,
            "NVGRE 6000"
        );

        let f = &seen[2].1;
        let src: Ipv6Addr = "2001:db8::1".parse().unwrap();
        let dst: Ipv6Addr = "2001:db8:1::2".parse().unwrap();
        assert_eq!(field(f, 27, 0, 0), src.octets());
        assert_eq!(field(f, 28, 0, 0), dst.octets());
        assert_eq!(num(field(f, 11, 0, 0)), 128 << 8, "echo request");
        assert_eq!(num(field(f, 4, 0, 0)), 58);
        assert_eq!(num(field(f, 233, 0, 0)), 3, "denied");
        assert_eq!(num(field(f, 136, 0, 0)), 0, "not an end");
        assert_eq!(num(field(f, 351, 0, 0)), 0, "unknown segment");
        assert_eq!(num(field(f, 1, 32473, 0)), 7);
    }

    #[test]
    fn sequence_counts_records_of_earlier_messages() {
        let mut enc = Encoder::new(1);
        let mut buf = [0u8; DEFAULT_MESSAGE_LIMIT];
        let m = enc
            .encode(&[v4_record(1), v6_record()], true, 0, &mut buf)
            .unwrap();
        assert_eq!(m.records, 2);
        assert_eq!(be32(&buf, 8), 0);
        let m = enc.encode(&[], true, 0, &mut buf).unwrap();
        assert_eq!(m.records, 0);
        assert_eq!(be32(&buf, 8), 2);
        enc.encode(&[v4_record(2); 3], false, 0, &mut buf).unwrap();
        assert_eq!(be32(&buf, 8), 2, "a template-only message adds none");
        enc.encode(&[v4_record(3)], false, 0, &mut buf).unwrap();
        assert_eq!(be32(&buf, 8), 5);
        assert_eq!(enc.sequence(), 6);
    }

    #[test]
    fn sequence_wraps() {
        let mut enc = Encoder::new(1);
        enc.sequence = u32::MAX;
        let mut buf = [0u8; DEFAULT_MESSAGE_LIMIT];
        enc.encode(&[v4_record(1); 2], false, 0, &mut buf).unwrap();
        assert_eq!(be32(&buf, 8), u32::MAX);
        assert_eq!(enc.sequence(), 1);
    }

    #[test]
    fn full_messages_split() {
        let records: Vec<FlowRecord> = (0..40).map(v4_record).collect();
        let mut enc = Encoder::new(1);
        let mut buf = vec![0u8; 4096];
        let mut rest = &records[..];
        let mut sizes = Vec::new();
        let mut first = true;
        while !rest.is_empty() {
            let m = enc.encode(rest, first, 0, &mut buf).unwrap();
            assert!(
                m.len <= DEFAULT_MESSAGE_LIMIT,
                "the limit, not the buffer, bounds it"
            );
            assert_eq!(usize::from(be16(&buf, 2)), m.len);
            sizes.push(m.records);
            rest = &rest[m.records..];
            first = false;
        }
        // (1400 - 16 - 180 - 4) / 88 with templates, (1400 - 16 - 4) / 88 without.
        assert_eq!(sizes, [13, 15, 12]);
        assert_eq!(enc.sequence(), 40);
    }

    #[test]
    fn a_small_buffer_bounds_the_message() {
        let mut enc = Encoder::new(1);
        let mut buf = [0u8; 16 + 4 + 88 * 2 + 50];
        let m = enc.encode(&[v4_record(1); 5], false, 0, &mut buf).unwrap();
        assert_eq!(
            m,
            Encoded {
                len: 16 + 4 + 88 * 2,
                records: 2
            }
        );
        // A family change needs a set header too: 4 + 112 does not fit after one v4 record.
        let mut buf = [0u8; 16 + 4 + 88 + 4 + 111];
        let m = enc
            .encode(&[v4_record(1), v6_record()], false, 0, &mut buf)
            .unwrap();
        assert_eq!(m.records, 1);
    }

    #[test]
    fn too_small_for_one_record() {
        let mut enc = Encoder::new(1);
        let mut buf = [0u8; 16 + TEMPLATE_SET_LEN + 4 + 87];
        assert_eq!(
            enc.encode(&[v4_record(1)], true, 0, &mut buf).unwrap_err(),
            Error::Truncated
        );
        assert_eq!(enc.sequence(), 0, "a failed message counts nothing");
        let mut buf = [0u8; 15];
        assert_eq!(
            enc.encode(&[], false, 0, &mut buf).unwrap_err(),
            Error::Truncated
        );
    }

    #[test]
    fn message_limit_is_clamped() {
        assert_eq!(
            Encoder::new(1).with_message_limit(10).message_limit(),
            MIN_MESSAGE_LIMIT
        );
        assert_eq!(
            Encoder::new(1).with_message_limit(1 << 20).message_limit(),
            65535
        );
        let mut enc = Encoder::new(1).with_message_limit(MIN_MESSAGE_LIMIT);
        let mut buf = vec![0u8; 65535];
        let m = enc.encode(&[v6_record(); 3], true, 0, &mut buf).unwrap();
        assert_eq!((m.len, m.records), (MIN_MESSAGE_LIMIT, 1));
    }

    #[test]
    fn mixed_families_go_out_as_ipv6() {
        let mut r = v6_record();
        r.src = IpAddr::V4(Ipv4Addr::new(10, 1, 2, 3));
        assert_eq!(r.family(), Family::V6);
        let mut enc = Encoder::new(1);
        let mut buf = [0u8; DEFAULT_MESSAGE_LIMIT];
        let m = enc.encode(&[r], false, 0, &mut buf).unwrap();
        assert_eq!(m.len, 16 + 4 + 112);
        assert_eq!(be16(&buf, 16), IPV6_TEMPLATE_ID);
        let src = &buf[16 + 4 + 64..16 + 4 + 80];
        assert_eq!(src, Ipv4Addr::new(10, 1, 2, 3).to_ipv6_mapped().octets());
    }

    #[test]
    fn events() {
        assert_eq!(FlowEvent::Started.firewall_event(), 1);
        assert_eq!(FlowEvent::Interim.firewall_event(), 5);
        for (reason, code) in [
            (EndReason::IdleTimeout, 1),
            (EndReason::ActiveTimeout, 2),
            (EndReason::EndOfFlow, 3),
            (EndReason::Forced, 4),
            (EndReason::LackOfResources, 5),
        ] {
            assert_eq!(FlowEvent::Ended(reason).end_reason(), code);
        }
        assert_eq!(
            Encapsulation::Vxlan.segment_id(0xff_ffff),
            0x0100_0000_00ff_ffff
        );
    }

    #[test]
    fn parse_rejects_bad_messages() {
        let mut enc = Encoder::new(1);
        let mut buf = [0u8; DEFAULT_MESSAGE_LIMIT];
        let m = enc.encode(&[v4_record(1)], false, 0, &mut buf).unwrap();
        assert_eq!(parse(&buf[..m.len - 1]).unwrap_err(), Error::Truncated);
        let mut bad = buf;
        bad[1] = 9;
        assert_eq!(parse(&bad[..m.len]).unwrap_err(), Error::Malformed);
        let (_, sets) = parse(&buf[..m.len]).unwrap();
        assert_eq!(
            parse_set(&sets[..sets.len() - 1]).unwrap_err(),
            Error::Truncated
        );
    }
}
