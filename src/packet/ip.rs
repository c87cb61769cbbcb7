//! IPv4 and IPv6 headers: from a network-layer slice to the transport payload.
//!
//! IPv4 (RFC 791): version 4, IHL ≥ 5, total length ≥ header length and ≤ the
//! captured bytes. The payload is sized by the total length, so link padding
//! (Ethernet frames are padded to 60 bytes) is excluded. IPv6 (RFC 8200): the
//! fixed header, then hop-by-hop, routing, destination options, fragment and
//! authentication headers, at most [`MAX_IPV6_EXT_HEADERS`] of them.
//!
//! Stateless and zero-copy: header checks use `etherparse` slices, the result
//! is an [`IpPacket`] borrowing the input. A fragment is reported, not
//! reassembled: that is [`super::defrag`]'s job.
//!
//! When the snap length cut the frame (`cut`), a length field past the
//! captured bytes is expected and the payload is what was captured; otherwise
//! it is malformed.

use super::{HeaderError, Layer};
use crate::proto::bytes::{be_u16, be_u32};
use etherparse::err::{ipv4, ipv6};
use etherparse::{Ipv4HeaderSlice, Ipv6HeaderSlice};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// IPv6 extension headers walked per packet. A real packet has 0–3; the bound
/// keeps a crafted chain of empty options headers from looping long.
pub const MAX_IPV6_EXT_HEADERS: usize = 8;

/// IP protocol numbers (IANA) the decoder acts on.
pub mod protocol {
    /// IPv6 hop-by-hop options.
    pub const HOP_BY_HOP: u8 = 0;
    /// IPv4 encapsulated in IP.
    pub const IPV4_IN_IP: u8 = 4;
    /// TCP.
    pub const TCP: u8 = 6;
    /// UDP.
    pub const UDP: u8 = 17;
    /// IPv6 encapsulated in IP.
    pub const IPV6_IN_IP: u8 = 41;
    /// IPv6 routing header.
    pub const ROUTING: u8 = 43;
    /// IPv6 fragment header.
    pub const FRAGMENT: u8 = 44;
    /// GRE.
    pub const GRE: u8 = 47;
    /// Authentication header.
    pub const AUTH: u8 = 51;
    /// IPv6 destination options.
    pub const DEST_OPTS: u8 = 60;
    /// SCTP.
    pub const SCTP: u8 = 132;
}

/// Fragment fields of an IPv4 header or an IPv6 fragment header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fragment {
    /// Identification (16 bits for IPv4, 32 for IPv6).
    pub id: u32,
    /// Offset of this fragment's data in the original payload, in bytes.
    pub offset: u32,
    /// More fragments follow.
    pub more: bool,
}

/// An IP packet's addresses, transport protocol and payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IpPacket<'a> {
    /// Source address.
    pub src: IpAddr,
    /// Destination address.
    pub dst: IpAddr,
    /// Transport protocol (after IPv6 extension headers).
    pub protocol: u8,
    /// The payload: sized by the length field, or the captured bytes when the
    /// snap length cut the packet.
    pub payload: &'a [u8],
    /// Set when this packet is a fragment of a larger one.
    pub fragment: Option<Fragment>,
    /// The snap length cut the payload short of the length field.
    pub clamped: bool,
}

mod ipv4_field {
    pub const FLAG_MF: u16 = 0x2000;
    pub const OFFSET_MASK: u16 = 0x1fff;
    /// Fragment offsets count 8-byte units.
    pub const OFFSET_UNIT: u32 = 8;
}

/// The bytes `data[..len]` when `len` fits, else the captured bytes when the
/// frame was cut (and `clamped`), else an error.
fn sized(data: &[u8], len: usize, cut: bool, layer: Layer) -> Result<(&[u8], bool), HeaderError> {
    match data.get(..len) {
        Some(d) => Ok((d, false)),
        None if cut => Ok((data, true)),
        None => Err(HeaderError::Invalid(layer, "length_past_end")),
    }
}

/// Checks an IPv4 header and returns its payload.
///
/// A total length of 0 is read as "the captured bytes": Linux captures of
/// TCP segmentation offload show it (Wireshark does the same).
///
/// # Errors
/// `Short(Ipv4)` when the header itself is cut; `Invalid(Ipv4, ..)` for a bad
/// version, IHL < 5, total length below the header or past the captured bytes
/// (on a frame the snap length did not cut).
pub fn parse_ipv4(data: &[u8], cut: bool) -> Result<IpPacket<'_>, HeaderError> {
    let h = Ipv4HeaderSlice::from_slice(data).map_err(|e| match e {
        ipv4::HeaderSliceError::Len(_) => HeaderError::Short(Layer::Ipv4),
        ipv4::HeaderSliceError::Content(ipv4::HeaderError::UnexpectedVersion { .. }) => {
            HeaderError::Invalid(Layer::Ipv4, "bad_version")
        }
        ipv4::HeaderSliceError::Content(ipv4::HeaderError::HeaderLengthSmallerThanHeader {
            ..
        }) => HeaderError::Invalid(Layer::Ipv4, "ihl_below_5"),
    })?;
    let header_len = h.slice().len();
    let total = usize::from(h.total_len());
    let (packet, clamped) = if total == 0 {
        (data, false)
    } else if total < header_len {
        return Err(HeaderError::Invalid(
            Layer::Ipv4,
            "total_length_below_header",
        ));
    } else {
        sized(data, total, cut, Layer::Ipv4)?
    };
    let payload = packet.get(header_len..).unwrap_or_default();
    let flags = be_u16(&h.slice()[6..8]);
    let offset = u32::from(flags & ipv4_field::OFFSET_MASK) * ipv4_field::OFFSET_UNIT;
    let more = flags & ipv4_field::FLAG_MF != 0;
    let fragment = (more || offset != 0).then_some(Fragment {
        id: u32::from(h.identification()),
        offset,
        more,
    });
    Ok(IpPacket {
        src: IpAddr::V4(Ipv4Addr::from(h.source())),
        dst: IpAddr::V4(Ipv4Addr::from(h.destination())),
        protocol: h.protocol().0,
        payload,
        fragment,
        clamped,
    })
}

/// Checks an IPv6 header, walks its extension headers and returns the payload.
///
/// A payload length of 0 is read as "the captured bytes" (jumbograms, TSO).
///
/// # Errors
/// `Short(Ipv6)` when the fixed header or an extension header is cut;
/// `Invalid(Ipv6, ..)` for a bad version, a payload length past the captured
/// bytes (frame not cut) or too many extension headers.
pub fn parse_ipv6(data: &[u8], cut: bool) -> Result<IpPacket<'_>, HeaderError> {
    let h = Ipv6HeaderSlice::from_slice(data).map_err(|e| match e {
        ipv6::HeaderSliceError::Len(_) => HeaderError::Short(Layer::Ipv6),
        ipv6::HeaderSliceError::Content(ipv6::HeaderError::UnexpectedVersion { .. }) => {
            HeaderError::Invalid(Layer::Ipv6, "bad_version")
        }
    })?;
    let header_len = h.slice().len();
    let rest = data.get(header_len..).unwrap_or_default();
    let payload_len = usize::from(h.payload_length());
    let (rest, clamped) = if payload_len == 0 {
        (rest, false)
    } else {
        sized(rest, payload_len, cut, Layer::Ipv6)?
    };
    let (protocol, payload, fragment) = ipv6_extensions(h.next_header().0, rest)?;
    Ok(IpPacket {
        src: IpAddr::V6(Ipv6Addr::from(h.source())),
        dst: IpAddr::V6(Ipv6Addr::from(h.destination())),
        protocol,
        payload,
        fragment,
        clamped,
    })
}

/// Walks IPv6 extension headers starting with `next`, and returns the upper
/// protocol, its payload and the fragment header if there was one.
///
/// The walk stops at a fragment header: what follows is the fragmentable part
/// (RFC 8200 §4.5), headers only once reassembled. An atomic fragment (offset
/// 0, no more fragments, RFC 6946) is not a fragment and the walk goes on.
/// Also used on a reassembled payload, from the fragment header's next header.
///
/// # Errors
/// `Short(Ipv6)` for a cut header, `Invalid(Ipv6, "too_many_ext_headers")`.
pub fn ipv6_extensions(
    mut next: u8,
    mut rest: &[u8],
) -> Result<(u8, &[u8], Option<Fragment>), HeaderError> {
    let short = HeaderError::Short(Layer::Ipv6);
    for _ in 0..MAX_IPV6_EXT_HEADERS {
        let len = match next {
            protocol::HOP_BY_HOP | protocol::ROUTING | protocol::DEST_OPTS => {
                // Length in 8-octet units, not counting the first 8.
                (usize::from(*rest.get(1).ok_or(short)?) + 1) * 8
            }
            protocol::AUTH => {
                // RFC 4302: length in 4-octet units, minus 2.
                (usize::from(*rest.get(1).ok_or(short)?) + 2) * 4
            }
            protocol::FRAGMENT => {
                let h = rest.get(..8).ok_or(short)?;
                let flags = be_u16(&h[2..4]);
                let f = Fragment {
                    id: be_u32(&h[4..8]),
                    offset: u32::from(flags & 0xfff8),
                    more: flags & 1 != 0,
                };
                next = h[0];
                rest = &rest[8..];
                if f.offset != 0 || f.more {
                    // The fragmentable part starts here (it may hold more
                    // extension headers): the reassembled payload is walked
                    // again from `next`.
                    return Ok((next, rest, Some(f)));
                }
                continue;
            }
            _ => return Ok((next, rest, None)),
        };
        let header = rest.get(..len).ok_or(short)?;
        next = header.first().copied().unwrap_or_default();
        rest = rest.get(len..).unwrap_or_default();
    }
    match next {
        protocol::HOP_BY_HOP
        | protocol::ROUTING
        | protocol::DEST_OPTS
        | protocol::AUTH
        | protocol::FRAGMENT => Err(HeaderError::Invalid(Layer::Ipv6, "too_many_ext_headers")),
        _ => Ok((next, rest, None)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `odd/sip-rtp-h263-null-loopback.pcap` frame 2 shape, made up payload:
    /// IPv4 127.0.0.1 → 127.0.0.1, UDP, total length 28, 8 payload bytes.
    fn ipv4_udp() -> Vec<u8> {
        vec![
            0x45, 0x00, 0x00, 0x1c, 0x03, 0xf4, 0x00, 0x00, 0x40, 0x11, 0x00, 0x00, 127, 0, 0, 1,
            127, 0, 0, 1, 1, 2, 3, 4, 5, 6, 7, 8,
        ]
    }

    #[test]
    fn ipv4_payload_and_addresses() {
        let b = ipv4_udp();
        let p = parse_ipv4(&b, false).unwrap();
        assert_eq!(p.protocol, protocol::UDP);
        assert_eq!(p.payload, &[1, 2, 3, 4, 5, 6, 7, 8]);
        assert_eq!(p.src, IpAddr::V4(Ipv4Addr::LOCALHOST));
        assert_eq!(p.fragment, None);
        assert!(!p.clamped);
    }

    #[test]
    fn ipv4_ethernet_padding_excluded() {
        let mut b = ipv4_udp();
        b.extend_from_slice(&[0; 18]);
        let p = parse_ipv4(&b, false).unwrap();
        assert_eq!(p.payload.len(), 8);
    }

    #[test]
    fn rejects_ihl_below_5() {
        let mut b = ipv4_udp();
        b[0] = 0x44;
        assert_eq!(
            parse_ipv4(&b, false),
            Err(HeaderError::Invalid(Layer::Ipv4, "ihl_below_5"))
        );
        b[0] = 0x55;
        assert_eq!(
            parse_ipv4(&b, false),
            Err(HeaderError::Invalid(Layer::Ipv4, "bad_version"))
        );
    }

    #[test]
    fn total_length_past_buffer_is_malformed_unless_cut() {
        let mut b = ipv4_udp();
        b[3] = 0x40;
        assert_eq!(
            parse_ipv4(&b, false),
            Err(HeaderError::Invalid(Layer::Ipv4, "length_past_end"))
        );
        let p = parse_ipv4(&b, true).unwrap();
        assert!(p.clamped);
        assert_eq!(p.payload.len(), 8);
        b[3] = 0x10;
        assert_eq!(
            parse_ipv4(&b, true),
            Err(HeaderError::Invalid(
                Layer::Ipv4,
                "total_length_below_header"
            ))
        );
    }

    #[test]
    fn cut_ipv4_header_is_short() {
        let b = ipv4_udp();
        assert_eq!(
            parse_ipv4(&b[..19], true),
            Err(HeaderError::Short(Layer::Ipv4))
        );
        // IHL 6 but only 20 bytes captured.
        let mut b = b[..20].to_vec();
        b[0] = 0x46;
        assert_eq!(parse_ipv4(&b, true), Err(HeaderError::Short(Layer::Ipv4)));
    }

    #[test]
    fn ipv4_fragment_fields() {
        let mut b = ipv4_udp();
        b[6] = 0x20; // MF, offset 0
        assert_eq!(
            parse_ipv4(&b, false).unwrap().fragment,
            Some(Fragment {
                id: 0x03f4,
                offset: 0,
                more: true
            })
        );
        b[6] = 0x00;
        b[7] = 0xb9; // offset 185 * 8 = 1480
        assert_eq!(
            parse_ipv4(&b, false).unwrap().fragment,
            Some(Fragment {
                id: 0x03f4,
                offset: 1480,
                more: false
            })
        );
    }

    /// `odd/sip-ipv6-fragments-sll-amrwb.pcap` frame 1 after the SLL header:
    /// `60 00 d7 7f 05 b0 2c 40` (payload 1456, next header 44 = fragment),
    /// then the fragment header `11 00 00 01 b0 64 77 80` (UDP, offset 0, M,
    /// id 0xb0647780). Addresses and payload here are shortened/made up.
    #[test]
    fn ipv6_fragment_header() {
        let mut b = vec![0x60, 0x00, 0xd7, 0x7f, 0x00, 0x0c, 0x2c, 0x40];
        b.extend_from_slice(&[0xfd; 32]);
        b.extend_from_slice(&[0x11, 0x00, 0x00, 0x01, 0xb0, 0x64, 0x77, 0x80]);
        b.extend_from_slice(&[1, 2, 3, 4]);
        let p = parse_ipv6(&b, false).unwrap();
        assert_eq!(p.protocol, protocol::UDP);
        assert_eq!(p.payload, &[1, 2, 3, 4]);
        assert_eq!(
            p.fragment,
            Some(Fragment {
                id: 0xb064_7780,
                offset: 0,
                more: true
            })
        );
    }

    #[test]
    fn ipv6_ext_headers_walked() {
        // Made up: hop-by-hop (8 bytes), destination options (16 bytes), UDP.
        let mut ext = vec![60, 0, 1, 4, 0, 0, 0, 0];
        ext.extend_from_slice(&[17, 1, 1, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        ext.extend_from_slice(&[9, 9]);
        let mut b = vec![0x60, 0, 0, 0, 0, ext.len() as u8, 0, 64];
        b.extend_from_slice(&[0; 32]);
        b.extend_from_slice(&ext);
        b.extend_from_slice(&[0; 6]); // link padding
        let p = parse_ipv6(&b, false).unwrap();
        assert_eq!(p.protocol, protocol::UDP);
        assert_eq!(p.payload, &[9, 9]);
        assert_eq!(p.fragment, None);
        // Cut inside the destination options header.
        let short = &b[..40 + 12];
        let mut s = short.to_vec();
        s[5] = 12;
        assert_eq!(parse_ipv6(&s, false), Err(HeaderError::Short(Layer::Ipv6)));
    }

    #[test]
    fn ipv6_ext_chain_is_bounded() {
        let mut ext = Vec::new();
        for _ in 0..=MAX_IPV6_EXT_HEADERS {
            ext.extend_from_slice(&[60, 0, 0, 0, 0, 0, 0, 0]);
        }
        let mut b = vec![0x60, 0, 0, 0, 0, ext.len() as u8, 60, 64];
        b.extend_from_slice(&[0; 32]);
        b.extend_from_slice(&ext);
        assert_eq!(
            parse_ipv6(&b, false),
            Err(HeaderError::Invalid(Layer::Ipv6, "too_many_ext_headers"))
        );
    }

    #[test]
    fn ipv6_atomic_fragment_is_not_a_fragment() {
        let mut b = vec![0x60, 0, 0, 0, 0, 10, 44, 64];
        b.extend_from_slice(&[0; 32]);
        b.extend_from_slice(&[17, 0, 0, 0, 0, 0, 0, 7, 5, 5]);
        let p = parse_ipv6(&b, false).unwrap();
        assert_eq!(
            (p.protocol, p.payload, p.fragment),
            (17, &[5u8, 5][..], None)
        );
    }

    #[test]
    fn ipv6_payload_length_past_end() {
        let mut b = vec![0x60, 0, 0, 0, 0, 10, 17, 64];
        b.extend_from_slice(&[0; 32]);
        b.extend_from_slice(&[1, 2]);
        assert_eq!(
            parse_ipv6(&b, false),
            Err(HeaderError::Invalid(Layer::Ipv6, "length_past_end"))
        );
        assert!(parse_ipv6(&b, true).unwrap().clamped);
        assert_eq!(
            parse_ipv6(&b[..39], true),
            Err(HeaderError::Short(Layer::Ipv6))
        );
    }
}
