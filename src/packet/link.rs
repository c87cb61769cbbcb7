//! Link layers: from a captured frame to the network-layer packet in it.
//!
//! Handles Ethernet II (802.3 length frames are not for us), 802.1Q / 802.1ad
//! VLAN tags including QinQ, MPLS label stacks, PPPoE sessions carrying PPP,
//! Linux cooked captures v1 (SLL, 16 bytes) and v2 (SLL2, 20 bytes), BSD
//! NULL / OpenBSD LOOP (4-byte address family) and raw IP.
//!
//! Stateless: every function maps bytes to a borrowed [`Network`] slice or a
//! [`HeaderError`]. Nothing here allocates or copies. The network slice still
//! holds whatever Ethernet padding followed the packet; the IP layer trims it
//! with its own length field.
//!
//! Limits: at most [`MAX_VLAN_TAGS`] VLAN tags and [`MAX_MPLS_LABELS`] MPLS
//! labels per frame; a frame with more is malformed at that layer.

use super::{HeaderError, Layer};
use crate::capture::LinkType;
use crate::proto::bytes::{be_u16, be_u32};

/// VLAN tags followed per frame. QinQ uses two; a few more are seen on carrier
/// networks; more than this is a loop guard against crafted tag chains.
pub const MAX_VLAN_TAGS: usize = 8;

/// MPLS labels followed per frame before the bottom of stack. Real stacks are
/// 1–5 deep (transport, VPN, entropy, FRR); 16 is a loop guard.
pub const MAX_MPLS_LABELS: usize = 16;

/// Ethertypes the walk follows (IEEE registry).
pub mod ethertype {
    /// IPv4.
    pub const IPV4: u16 = 0x0800;
    /// IPv6.
    pub const IPV6: u16 = 0x86DD;
    /// 802.1Q customer VLAN tag.
    pub const VLAN: u16 = 0x8100;
    /// 802.1ad service VLAN tag (QinQ outer tag).
    pub const QINQ: u16 = 0x88A8;
    /// Pre-standard QinQ outer tag used by some switches.
    pub const QINQ_OLD_9100: u16 = 0x9100;
    /// Pre-standard QinQ outer tag used by some switches.
    pub const QINQ_OLD_9200: u16 = 0x9200;
    /// MPLS unicast.
    pub const MPLS: u16 = 0x8847;
    /// PPPoE session stage.
    pub const PPPOE_SESSION: u16 = 0x8864;
    /// Values up to this are an 802.3 length, not a type.
    pub const MAX_8023_LENGTH: u16 = 1500;
    /// Values from this up are types (1501..1535 are undefined).
    pub const MIN_TYPE: u16 = 0x0600;
}

/// The network-layer packet a link header leads to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Network<'a> {
    /// An IPv4 packet (possibly followed by link padding).
    Ipv4(&'a [u8]),
    /// An IPv6 packet (possibly followed by link padding).
    Ipv6(&'a [u8]),
    /// Something else (ARP, STP, LLDP, 802.3 frames ...): not for us.
    Other,
}

mod ethernet {
    use std::ops::Range;
    pub const ETHERTYPE: Range<usize> = 12..14;
    pub const HEADER_LEN: usize = ETHERTYPE.end;
}

mod vlan {
    use std::ops::Range;
    /// After the tag's own type (which the previous header carried): TCI, then
    /// the next type.
    pub const ETHERTYPE: Range<usize> = 2..4;
    pub const HEADER_LEN: usize = ETHERTYPE.end;
}

mod mpls {
    pub const ENTRY_LEN: usize = 4;
    /// Byte of the label stack entry holding the bottom-of-stack bit.
    pub const BOS_BYTE: usize = 2;
    pub const BOS_BIT: u8 = 0x01;
}

mod pppoe {
    use std::ops::Range;
    pub const VER_TYPE: usize = 0;
    pub const CODE: usize = 1;
    pub const LENGTH: Range<usize> = 4..6;
    pub const HEADER_LEN: usize = LENGTH.end;
    /// Version 1, type 1 (RFC 2516 §4).
    pub const VER_TYPE_1_1: u8 = 0x11;
    /// Session data.
    pub const CODE_SESSION: u8 = 0x00;
    /// PPP protocol numbers (RFC 1332, RFC 5072).
    pub const PPP_IPV4: u16 = 0x0021;
    pub const PPP_IPV6: u16 = 0x0057;
}

mod sll {
    use std::ops::Range;
    pub const PROTOCOL: Range<usize> = 14..16;
    pub const HEADER_LEN: usize = PROTOCOL.end;
}

mod sll2 {
    use std::ops::Range;
    pub const PROTOCOL: Range<usize> = 0..2;
    pub const HEADER_LEN: usize = 20;
}

mod null {
    use std::ops::Range;
    pub const FAMILY: Range<usize> = 0..4;
    pub const HEADER_LEN: usize = FAMILY.end;
    /// AF_INET everywhere.
    pub const AF_INET: u32 = 2;
    /// AF_INET6 on Linux (10), NetBSD/OpenBSD (24), FreeBSD (28), macOS (30).
    pub const AF_INET6: [u32; 4] = [10, 24, 28, 30];
}

/// Walks the link header(s) of a frame of type `link`.
///
/// `LinkType::Unknown` gives `Network::Other`; the caller counts it.
///
/// # Errors
/// A link header shorter than its length, or invalid.
pub fn parse(link: LinkType, data: &[u8]) -> Result<Network<'_>, HeaderError> {
    match link {
        LinkType::Ethernet => parse_ethernet(data),
        LinkType::LinuxSll => parse_sll(data),
        LinkType::LinuxSll2 => parse_sll2(data),
        LinkType::Null => parse_null(data, false),
        LinkType::Loop => parse_null(data, true),
        LinkType::RawIp => Ok(by_version(data)),
        LinkType::Ipv4 => Ok(Network::Ipv4(data)),
        LinkType::Ipv6 => Ok(Network::Ipv6(data)),
        LinkType::Unknown(_) => Ok(Network::Other),
    }
}

/// An IP packet told apart by its version nibble (raw IP, MPLS payloads).
pub fn by_version(data: &[u8]) -> Network<'_> {
    match data.first().map(|b| b >> 4) {
        Some(4) => Network::Ipv4(data),
        Some(6) => Network::Ipv6(data),
        // An empty raw-IP frame: IPv4 will report it short.
        None => Network::Ipv4(data),
        Some(_) => Network::Other,
    }
}

/// Ethernet II header, then tags and encapsulations by ethertype.
///
/// # Errors
/// Shorter than 14 bytes, or a tag/label/PPPoE header broken.
pub fn parse_ethernet(data: &[u8]) -> Result<Network<'_>, HeaderError> {
    let short = HeaderError::Short(Layer::Link);
    let ty = be_u16(data.get(ethernet::ETHERTYPE).ok_or(short)?);
    let rest = data.get(ethernet::HEADER_LEN..).ok_or(short)?;
    by_ethertype(ty, rest)
}

/// Follows an ethertype chain: VLAN tags, MPLS, PPPoE, down to IP.
///
/// # Errors
/// A tag, label stack or PPPoE header shorter than its length, or too many tags.
pub fn by_ethertype(mut ty: u16, mut rest: &[u8]) -> Result<Network<'_>, HeaderError> {
    let mut tags = 0;
    loop {
        match ty {
            ethertype::IPV4 => return Ok(Network::Ipv4(rest)),
            ethertype::IPV6 => return Ok(Network::Ipv6(rest)),
            ethertype::VLAN
            | ethertype::QINQ
            | ethertype::QINQ_OLD_9100
            | ethertype::QINQ_OLD_9200 => {
                tags += 1;
                if tags > MAX_VLAN_TAGS {
                    return Err(HeaderError::Invalid(Layer::Vlan, "too_many_tags"));
                }
                let short = HeaderError::Short(Layer::Vlan);
                ty = be_u16(rest.get(vlan::ETHERTYPE).ok_or(short)?);
                rest = rest.get(vlan::HEADER_LEN..).ok_or(short)?;
            }
            ethertype::MPLS => return parse_mpls(rest),
            ethertype::PPPOE_SESSION => return parse_pppoe(rest),
            // 802.3 length frames (LLC/SNAP, STP, ...) and other types.
            _ => return Ok(Network::Other),
        }
    }
}

/// An MPLS label stack, then IPv4 or IPv6 told apart by the first nibble (an
/// MPLS payload has no type field; a pseudowire control word starts with 0).
fn parse_mpls(mut rest: &[u8]) -> Result<Network<'_>, HeaderError> {
    for _ in 0..MAX_MPLS_LABELS {
        let entry = rest
            .get(..mpls::ENTRY_LEN)
            .ok_or(HeaderError::Short(Layer::Link))?;
        rest = rest.get(mpls::ENTRY_LEN..).unwrap_or_default();
        if entry
            .get(mpls::BOS_BYTE)
            .is_some_and(|b| b & mpls::BOS_BIT != 0)
        {
            return Ok(match rest.first().map(|b| b >> 4) {
                Some(4) => Network::Ipv4(rest),
                Some(6) => Network::Ipv6(rest),
                _ => Network::Other,
            });
        }
    }
    Err(HeaderError::Invalid(Layer::Link, "too_many_mpls_labels"))
}

/// PPPoE session header (RFC 2516) and the PPP protocol field. The PPPoE
/// length bounds the payload, which drops Ethernet padding.
fn parse_pppoe(rest: &[u8]) -> Result<Network<'_>, HeaderError> {
    let short = HeaderError::Short(Layer::Pppoe);
    let header = rest.get(..pppoe::HEADER_LEN).ok_or(short)?;
    if header.get(pppoe::VER_TYPE) != Some(&pppoe::VER_TYPE_1_1) {
        return Err(HeaderError::Invalid(Layer::Pppoe, "bad_version"));
    }
    if header.get(pppoe::CODE) != Some(&pppoe::CODE_SESSION) {
        return Ok(Network::Other);
    }
    let len = usize::from(be_u16(header.get(pppoe::LENGTH).ok_or(short)?));
    let body = rest.get(pppoe::HEADER_LEN..).unwrap_or_default();
    // A length past the captured bytes: the frame was cut (the IP layer sees
    // the same) or the header lies; the IP length check decides which.
    let body = body.get(..len).unwrap_or(body);
    // PPP protocol field: two bytes, or one with protocol-field compression
    // (RFC 1661 §6.5: an odd first byte is a compressed one-byte field).
    let (proto, payload) = match body.first() {
        Some(&b) if b & 1 == 1 => (u16::from(b), body.get(1..).unwrap_or_default()),
        _ => {
            let p = body.get(..2).ok_or(short)?;
            (be_u16(p), body.get(2..).unwrap_or_default())
        }
    };
    Ok(match proto {
        pppoe::PPP_IPV4 => Network::Ipv4(payload),
        pppoe::PPP_IPV6 => Network::Ipv6(payload),
        _ => Network::Other,
    })
}

/// Linux cooked capture v1: 16 bytes, the protocol (an ethertype) last.
fn parse_sll(data: &[u8]) -> Result<Network<'_>, HeaderError> {
    let short = HeaderError::Short(Layer::Link);
    let ty = be_u16(data.get(sll::PROTOCOL).ok_or(short)?);
    let rest = data.get(sll::HEADER_LEN..).ok_or(short)?;
    by_ethertype(ty, rest)
}

/// Linux cooked capture v2: 20 bytes, the protocol (an ethertype) first.
fn parse_sll2(data: &[u8]) -> Result<Network<'_>, HeaderError> {
    let short = HeaderError::Short(Layer::Link);
    let rest = data.get(sll2::HEADER_LEN..).ok_or(short)?;
    let ty = be_u16(data.get(sll2::PROTOCOL).ok_or(short)?);
    by_ethertype(ty, rest)
}

/// NULL (host byte order, so both orders are tried) or LOOP (big-endian)
/// 4-byte address family.
fn parse_null(data: &[u8], big_endian_only: bool) -> Result<Network<'_>, HeaderError> {
    let short = HeaderError::Short(Layer::Link);
    let family = data.get(null::FAMILY).ok_or(short)?;
    let rest = data.get(null::HEADER_LEN..).ok_or(short)?;
    let be = be_u32(family);
    let le = be.swap_bytes();
    let is = |af: u32| be == af || (!big_endian_only && le == af);
    if is(null::AF_INET) {
        Ok(Network::Ipv4(rest))
    } else if null::AF_INET6.iter().any(|&af| is(af)) {
        Ok(Network::Ipv6(rest))
    } else {
        Ok(Network::Other)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Made up: a minimal IPv4 header start, enough for the link layer.
    const IP4: [u8; 4] = [0x45, 0x00, 0x00, 0x14];

    fn eth(ty: u16, rest: &[u8]) -> Vec<u8> {
        let mut f = vec![0u8; 12];
        f.extend_from_slice(&ty.to_be_bytes());
        f.extend_from_slice(rest);
        f
    }

    #[test]
    fn ethernet_ipv4() {
        let f = eth(0x0800, &IP4);
        assert_eq!(parse(LinkType::Ethernet, &f), Ok(Network::Ipv4(&IP4[..])));
    }

    #[test]
    fn ethernet_8023_length_frame_is_other() {
        // Made up: an STP BPDU in an 802.3 frame (length 0x0026, LLC 42 42 03).
        let f = eth(0x0026, &[0x42, 0x42, 0x03, 0, 0]);
        assert_eq!(parse(LinkType::Ethernet, &f), Ok(Network::Other));
    }

    #[test]
    fn arp_is_other() {
        let f = eth(0x0806, &[0; 28]);
        assert_eq!(parse(LinkType::Ethernet, &f), Ok(Network::Other));
    }

    #[test]
    fn short_ethernet_is_short_link() {
        assert_eq!(
            parse(LinkType::Ethernet, &[0; 13]),
            Err(HeaderError::Short(Layer::Link))
        );
    }

    /// `odd/qinq-sap-sdp.pcap` frame 1, bytes 12..22:
    /// `81 00 00 0d 81 00 00 0a 08 00` (VLAN 13, then VLAN 10, then IPv4).
    #[test]
    fn qinq_two_tags() {
        let mut rest = vec![0x00, 0x0d, 0x81, 0x00, 0x00, 0x0a, 0x08, 0x00];
        rest.extend_from_slice(&IP4);
        let f = eth(0x8100, &rest);
        assert_eq!(parse(LinkType::Ethernet, &f), Ok(Network::Ipv4(&IP4[..])));
    }

    #[test]
    fn vlan_8021ad_outer() {
        let mut rest = vec![0x00, 0x0a, 0x81, 0x00, 0x00, 0x14, 0x86, 0xdd];
        rest.extend_from_slice(&[0x60, 0, 0, 0]);
        let f = eth(0x88a8, &rest);
        assert!(matches!(
            parse(LinkType::Ethernet, &f),
            Ok(Network::Ipv6(_))
        ));
    }

    #[test]
    fn too_many_vlan_tags_is_malformed() {
        let mut rest = Vec::new();
        for _ in 0..MAX_VLAN_TAGS {
            rest.extend_from_slice(&[0x00, 0x01, 0x81, 0x00]);
        }
        rest.extend_from_slice(&[0x00, 0x01, 0x08, 0x00]);
        let f = eth(0x8100, &rest);
        assert_eq!(
            parse(LinkType::Ethernet, &f),
            Err(HeaderError::Invalid(Layer::Vlan, "too_many_tags"))
        );
    }

    #[test]
    fn cut_vlan_tag_is_short_vlan() {
        let f = eth(0x8100, &[0x00]);
        assert_eq!(
            parse(LinkType::Ethernet, &f),
            Err(HeaderError::Short(Layer::Vlan))
        );
    }

    #[test]
    fn mpls_two_labels_then_ipv4() {
        // Made up: label 16 (no BoS), label 17 (BoS), then IPv4.
        let mut rest = vec![0x00, 0x01, 0x00, 0x40, 0x00, 0x01, 0x11, 0x40];
        rest.extend_from_slice(&IP4);
        let f = eth(0x8847, &rest);
        assert_eq!(parse(LinkType::Ethernet, &f), Ok(Network::Ipv4(&IP4[..])));
    }

    #[test]
    fn mpls_without_bottom_is_bounded() {
        let rest = [0x00, 0x01, 0x00, 0x40].repeat(MAX_MPLS_LABELS + 1);
        let f = eth(0x8847, &rest);
        assert_eq!(
            parse(LinkType::Ethernet, &f),
            Err(HeaderError::Invalid(Layer::Link, "too_many_mpls_labels"))
        );
    }

    /// `odd/sip-pppoe-info-dtmf.pcap` frame 1 bytes 12..22:
    /// `88 64 11 00 18 e5 04 31 00 21` (session 0x18e5, length 1073, PPP
    /// IPv4); here the length is shrunk to 6 to cover a 4-byte IP stub.
    #[test]
    fn pppoe_session_ipv4_and_padding_cut() {
        let mut rest = vec![0x11, 0x00, 0x18, 0xe5, 0x00, 0x06, 0x00, 0x21];
        rest.extend_from_slice(&IP4);
        rest.extend_from_slice(&[0xee; 10]); // Ethernet padding
        let f = eth(0x8864, &rest);
        assert_eq!(parse(LinkType::Ethernet, &f), Ok(Network::Ipv4(&IP4[..])));
    }

    #[test]
    fn pppoe_lcp_is_other_and_bad_version_is_malformed() {
        let f = eth(
            0x8864,
            &[0x11, 0x00, 0x02, 0x62, 0x00, 0x06, 0xc0, 0x21, 1, 2, 3, 4],
        );
        assert_eq!(parse(LinkType::Ethernet, &f), Ok(Network::Other));
        let f = eth(
            0x8864,
            &[0x21, 0x00, 0x02, 0x62, 0x00, 0x06, 0x00, 0x21, 1, 2, 3, 4],
        );
        assert_eq!(
            parse(LinkType::Ethernet, &f),
            Err(HeaderError::Invalid(Layer::Pppoe, "bad_version"))
        );
    }

    /// `odd/sip-ipv6-fragments-sll-amrwb.pcap` frame 1, SLL header:
    /// `00 00 00 01 00 06 00 50 56 8b 53 1c 55 54 86 dd` (to us, Ethernet, IPv6).
    #[test]
    fn sll_ipv6() {
        let mut f = vec![
            0x00, 0x00, 0x00, 0x01, 0x00, 0x06, 0x00, 0x50, 0x56, 0x8b, 0x53, 0x1c, 0x55, 0x54,
            0x86, 0xdd,
        ];
        f.extend_from_slice(&[0x60, 0, 0, 0]);
        assert_eq!(
            parse(LinkType::LinuxSll, &f),
            Ok(Network::Ipv6(&[0x60, 0, 0, 0][..]))
        );
        assert_eq!(
            parse(LinkType::LinuxSll, &f[..15]),
            Err(HeaderError::Short(Layer::Link))
        );
    }

    /// `odd/linux-sll2-icmp-arp.pcap` frame 1, SLL2 header:
    /// `08 00 00 00 00 00 00 01 03 04 00 06 00 .. 00` (IPv4, ifindex 1,
    /// loopback); the test also flips the protocol to ARP (0x0806).
    #[test]
    fn sll2_arp_is_other_and_ipv4_follows() {
        let mut f = vec![8, 0, 0, 0, 0, 0, 0, 1, 3, 4, 0, 6, 0, 0, 0, 0, 0, 0, 0, 0];
        f.extend_from_slice(&IP4);
        assert_eq!(parse(LinkType::LinuxSll2, &f), Ok(Network::Ipv4(&IP4[..])));
        f[1] = 0x06;
        assert_eq!(parse(LinkType::LinuxSll2, &f), Ok(Network::Other));
        assert_eq!(
            parse(LinkType::LinuxSll2, &f[..19]),
            Err(HeaderError::Short(Layer::Link))
        );
    }

    /// `odd/sip-rtp-h263-null-loopback.pcap` frame 1 starts `02 00 00 00 45`:
    /// AF_INET in little-endian host order.
    #[test]
    fn null_both_byte_orders() {
        let le = [0x02, 0, 0, 0, 0x45];
        assert!(matches!(parse(LinkType::Null, &le), Ok(Network::Ipv4(_))));
        let be = [0, 0, 0, 0x02, 0x45];
        assert!(matches!(parse(LinkType::Null, &be), Ok(Network::Ipv4(_))));
        for af in [10u32, 24, 28, 30] {
            let mut f = af.to_le_bytes().to_vec();
            f.push(0x60);
            assert!(matches!(parse(LinkType::Null, &f), Ok(Network::Ipv6(_))));
            let mut f = af.to_be_bytes().to_vec();
            f.push(0x60);
            assert!(matches!(parse(LinkType::Loop, &f), Ok(Network::Ipv6(_))));
        }
        // LOOP is big-endian only.
        assert_eq!(parse(LinkType::Loop, &le), Ok(Network::Other));
        assert_eq!(
            parse(LinkType::Null, &[2, 0, 0]),
            Err(HeaderError::Short(Layer::Link))
        );
    }

    #[test]
    fn errors_read_well() {
        assert_eq!(
            HeaderError::Short(Layer::Vlan).to_string(),
            "vlan header ends early"
        );
        assert_eq!(
            HeaderError::Invalid(Layer::Link, "too_many_mpls_labels").to_string(),
            "link header is invalid: too_many_mpls_labels"
        );
    }

    #[test]
    fn raw_ip_by_version() {
        assert!(matches!(
            parse(LinkType::RawIp, &[0x45]),
            Ok(Network::Ipv4(_))
        ));
        assert!(matches!(
            parse(LinkType::RawIp, &[0x60]),
            Ok(Network::Ipv6(_))
        ));
        assert_eq!(parse(LinkType::RawIp, &[0x20]), Ok(Network::Other));
        assert!(matches!(
            parse(LinkType::Ipv4, &[0x60]),
            Ok(Network::Ipv4(_))
        ));
        assert!(matches!(
            parse(LinkType::Ipv6, &[0x45]),
            Ok(Network::Ipv6(_))
        ));
        assert_eq!(parse(LinkType::Unknown(147), &[0x45]), Ok(Network::Other));
    }
}
