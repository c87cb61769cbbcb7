//! Tunnels carried in IP: GRE (RFC 2784/2890) with its IPv4, IPv6, transparent
//! Ethernet bridging and ERSPAN type I/II/III payloads. (IP-in-IP needs no
//! header of its own: the decoder recurses on the IP payload.)
//!
//! Stateless and zero-copy: [`parse_gre`] maps the GRE payload to the
//! [`Inner`] packet it carries. The decoder bounds how deep tunnels nest
//! ([`MAX_TUNNEL_DEPTH`]).
//!
//! ```text
//! GRE:        |C|R|K|S| reserved0 | ver |   protocol type   |
//!             [checksum | reserved1]  [key]  [sequence number]
//! ERSPAN II:  | ver=1 | VLAN | COS|En|T| session |  reserved | index |     (8 bytes)
//! ERSPAN III: | ver=2 | VLAN | COS|BSO|T| session | timestamp |
//!             | SGT | P | FT | HW ID | D | Gra | O |  [platform subheader, 8 bytes if O]
//! ```

use super::{HeaderError, Layer};
use crate::proto::bytes::be_u16;

/// Tunnels nested inside one frame (IP-in-IP, GRE, GTP-U each count one).
/// Real networks nest 1–2 (GTP-U inside a GRE mirror); 4 leaves room and
/// stops a crafted packet from recursing deeper.
pub const MAX_TUNNEL_DEPTH: usize = 4;

/// What a tunnel carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Inner<'a> {
    /// An IPv4 packet.
    Ipv4(&'a [u8]),
    /// An IPv6 packet.
    Ipv6(&'a [u8]),
    /// An Ethernet frame (transparent Ethernet bridging, ERSPAN).
    Ethernet(&'a [u8]),
    /// Something else (PPTP's enhanced GRE, MPLS in GRE, ERSPAN of non-Ethernet
    /// frames, source routes): not for us.
    Other,
}

mod gre {
    use std::ops::Range;
    pub const FLAGS_VERSION: Range<usize> = 0..2;
    pub const PROTOCOL: Range<usize> = 2..4;
    pub const HEADER_LEN: usize = PROTOCOL.end;
    pub const OPTION_LEN: usize = 4;
    pub const FLAG_CHECKSUM: u16 = 0x8000;
    pub const FLAG_ROUTING: u16 = 0x4000;
    pub const FLAG_KEY: u16 = 0x2000;
    pub const FLAG_SEQUENCE: u16 = 0x1000;
    pub const VERSION_MASK: u16 = 0x0007;
    /// RFC 2637 enhanced GRE (PPTP).
    pub const VERSION_PPTP: u16 = 1;
}

/// GRE protocol types (ethertypes plus the ERSPAN registrations).
pub mod gre_protocol {
    /// IPv4.
    pub const IPV4: u16 = 0x0800;
    /// IPv6.
    pub const IPV6: u16 = 0x86DD;
    /// Transparent Ethernet bridging.
    pub const TEB: u16 = 0x6558;
    /// ERSPAN type I (no sequence number) and type II (sequence number).
    pub const ERSPAN_II: u16 = 0x88BE;
    /// ERSPAN type III.
    pub const ERSPAN_III: u16 = 0x22EB;
}

mod erspan {
    pub const VERSION_BYTE: usize = 0;
    pub const TYPE_II_LEN: usize = 8;
    pub const TYPE_II_VERSION: u8 = 1;
    pub const TYPE_III_LEN: usize = 12;
    pub const TYPE_III_VERSION: u8 = 2;
    /// Byte holding P, FT (frame type) and the top of the hardware ID.
    pub const FT_BYTE: usize = 10;
    pub const FT_SHIFT: u8 = 2;
    pub const FT_MASK: u8 = 0x1f;
    /// Frame type 0: Ethernet.
    pub const FT_ETHERNET: u8 = 0;
    /// Byte holding D, Gra and O (optional platform subheader present).
    pub const O_BYTE: usize = 11;
    pub const O_BIT: u8 = 0x01;
    pub const PLATFORM_LEN: usize = 8;
}

/// Parses a GRE header (`data` is the IP payload) and returns what it carries.
///
/// # Errors
/// `Short(Gre)` / `Short(Erspan)` for cut headers; `Invalid(Gre, "bad_version")`
/// for a GRE version other than 0 or 1; `Invalid(Erspan, "bad_version")` for an
/// ERSPAN header whose version does not match its protocol type.
pub fn parse_gre(data: &[u8]) -> Result<Inner<'_>, HeaderError> {
    let short = HeaderError::Short(Layer::Gre);
    let flags = be_u16(data.get(gre::FLAGS_VERSION).ok_or(short)?);
    let protocol = be_u16(data.get(gre::PROTOCOL).ok_or(short)?);
    match flags & gre::VERSION_MASK {
        0 => {}
        gre::VERSION_PPTP => return Ok(Inner::Other),
        _ => return Err(HeaderError::Invalid(Layer::Gre, "bad_version")),
    }
    if flags & gre::FLAG_ROUTING != 0 {
        // RFC 1701 source routes: deprecated by RFC 2784, not seen on mirrors.
        return Ok(Inner::Other);
    }
    let options = [gre::FLAG_CHECKSUM, gre::FLAG_KEY, gre::FLAG_SEQUENCE]
        .iter()
        .filter(|&&f| flags & f != 0)
        .count();
    let header_len = gre::HEADER_LEN + options * gre::OPTION_LEN;
    let payload = data.get(header_len..).ok_or(short)?;
    Ok(match protocol {
        gre_protocol::IPV4 => Inner::Ipv4(payload),
        gre_protocol::IPV6 => Inner::Ipv6(payload),
        gre_protocol::TEB => Inner::Ethernet(payload),
        // Type I has no sequence number and no ERSPAN header.
        gre_protocol::ERSPAN_II if flags & gre::FLAG_SEQUENCE == 0 => Inner::Ethernet(payload),
        gre_protocol::ERSPAN_II => parse_erspan_ii(payload)?,
        gre_protocol::ERSPAN_III => parse_erspan_iii(payload)?,
        _ => Inner::Other,
    })
}

fn erspan_version(header: &[u8]) -> u8 {
    header.get(erspan::VERSION_BYTE).map_or(0, |b| b >> 4)
}

fn parse_erspan_ii(data: &[u8]) -> Result<Inner<'_>, HeaderError> {
    let header = data
        .get(..erspan::TYPE_II_LEN)
        .ok_or(HeaderError::Short(Layer::Erspan))?;
    if erspan_version(header) != erspan::TYPE_II_VERSION {
        return Err(HeaderError::Invalid(Layer::Erspan, "bad_version"));
    }
    Ok(Inner::Ethernet(
        data.get(erspan::TYPE_II_LEN..).unwrap_or_default(),
    ))
}

fn parse_erspan_iii(data: &[u8]) -> Result<Inner<'_>, HeaderError> {
    let short = HeaderError::Short(Layer::Erspan);
    let header = data.get(..erspan::TYPE_III_LEN).ok_or(short)?;
    if erspan_version(header) != erspan::TYPE_III_VERSION {
        return Err(HeaderError::Invalid(Layer::Erspan, "bad_version"));
    }
    let ft = header
        .get(erspan::FT_BYTE)
        .map_or(0, |b| (b >> erspan::FT_SHIFT) & erspan::FT_MASK);
    let platform = header
        .get(erspan::O_BYTE)
        .is_some_and(|b| b & erspan::O_BIT != 0);
    let len = erspan::TYPE_III_LEN + if platform { erspan::PLATFORM_LEN } else { 0 };
    let payload = data.get(len..).ok_or(short)?;
    Ok(if ft == erspan::FT_ETHERNET {
        Inner::Ethernet(payload)
    } else {
        Inner::Other
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `odd/sip-in-erspan-gre.pcapng` frame 1, GRE header at offset 34:
    /// `20 00 65 58 00 00 00 00` (key present, transparent Ethernet bridging,
    /// key 0), then the inner Ethernet header `00 50 56 94 8b 61 ...`.
    #[test]
    fn gre_teb_with_key() {
        let b = [0x20, 0x00, 0x65, 0x58, 0, 0, 0, 0, 0x00, 0x50, 0x56];
        assert_eq!(parse_gre(&b), Ok(Inner::Ethernet(&[0x00, 0x50, 0x56][..])));
        assert_eq!(parse_gre(&b[..7]), Err(HeaderError::Short(Layer::Gre)));
    }

    #[test]
    fn gre_options_ipv4_ipv6() {
        // Made up: checksum + key + sequence (12 option bytes), IPv4.
        let mut b = vec![0xb0, 0x00, 0x08, 0x00];
        b.extend_from_slice(&[0; 12]);
        b.push(0x45);
        assert_eq!(parse_gre(&b), Ok(Inner::Ipv4(&[0x45][..])));
        let b = [0x00, 0x00, 0x86, 0xdd, 0x60];
        assert_eq!(parse_gre(&b), Ok(Inner::Ipv6(&[0x60][..])));
    }

    #[test]
    fn gre_versions_and_routing() {
        // PPTP enhanced GRE (version 1, PPP 0x880b): not for us.
        assert_eq!(
            parse_gre(&[0x30, 0x01, 0x88, 0x0b, 0, 0, 0, 0]),
            Ok(Inner::Other)
        );
        assert_eq!(
            parse_gre(&[0x00, 0x02, 0x08, 0x00]),
            Err(HeaderError::Invalid(Layer::Gre, "bad_version"))
        );
        assert_eq!(
            parse_gre(&[0x40, 0x00, 0x08, 0x00, 0, 0, 0, 0]),
            Ok(Inner::Other)
        );
    }

    /// Made up from the ERSPAN draft (draft-foschiano-erspan-03 §4.1): GRE with
    /// sequence number, type II header version 1, VLAN 0, session 1, index 0.
    #[test]
    fn erspan_type_ii_and_type_i() {
        let mut b = vec![0x10, 0x00, 0x88, 0xbe, 0, 0, 0, 7];
        b.extend_from_slice(&[0x10, 0x00, 0x00, 0x01, 0, 0, 0, 0]);
        b.extend_from_slice(&[0xaa, 0xbb]);
        assert_eq!(parse_gre(&b), Ok(Inner::Ethernet(&[0xaa, 0xbb][..])));
        b[8] = 0x20;
        assert_eq!(
            parse_gre(&b),
            Err(HeaderError::Invalid(Layer::Erspan, "bad_version"))
        );
        assert_eq!(parse_gre(&b[..12]), Err(HeaderError::Short(Layer::Erspan)));
        // Type I: no sequence number, no ERSPAN header.
        let b = [0x00, 0x00, 0x88, 0xbe, 0xaa];
        assert_eq!(parse_gre(&b), Ok(Inner::Ethernet(&[0xaa][..])));
    }

    /// Made up from draft-foschiano-erspan-03 §4.2: type III header version 2,
    /// FT 0 (Ethernet), with and without the 8-byte platform subheader.
    #[test]
    fn erspan_type_iii() {
        let mut b = vec![0x10, 0x00, 0x22, 0xeb, 0, 0, 0, 1];
        b.extend_from_slice(&[0x20, 0x00, 0x00, 0x01, 1, 2, 3, 4, 0, 0, 0x00, 0x00]);
        b.extend_from_slice(&[0xaa]);
        assert_eq!(parse_gre(&b), Ok(Inner::Ethernet(&[0xaa][..])));
        let mut o = b.clone();
        o[8 + 11] = 0x01;
        o.pop();
        o.extend_from_slice(&[0; 8]);
        o.push(0xcc);
        assert_eq!(parse_gre(&o), Ok(Inner::Ethernet(&[0xcc][..])));
        // Frame type 2 (IP): not for us.
        let mut ip = b.clone();
        ip[8 + 10] = 2 << 2;
        assert_eq!(parse_gre(&ip), Ok(Inner::Other));
        // The platform subheader is cut.
        assert_eq!(
            parse_gre(&o[..8 + 15]),
            Err(HeaderError::Short(Layer::Erspan))
        );
    }
}
