//! DIAMETER AVPs (RFC 6733 §4): a checked view, an iterator over a run of
//! AVPs, and a bounded walk into grouped AVPs.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! |                           AVP Code                            |
//! |V M P r r r r r|                  AVP Length                   |
//! |                        Vendor-ID (opt)                        |
//! |    Data ...  (AVP Length − header), then padding to 4 bytes   |
//! ```
//!
//! [`Avp::parse`] takes bytes and returns `(rest, avp)`: the AVP sized by
//! its length field, and what follows its padding. [`Avps`] repeats that over
//! a message body or a grouped AVP's data; it stops for good at the first
//! error (the AVPs before it have been yielded), and every step consumes at
//! least 8 bytes, so it always ends. [`walk`] visits a whole tree, recursing
//! into AVPs the dictionary calls grouped up to [`MAX_GROUP_DEPTH`] levels
//! and visiting at most [`MAX_AVPS`] AVPs; an error inside a group ends that
//! group only, never its siblings.
//!
//! Leniency, on purpose: padding may be missing after the last AVP of a run
//! (some stacks end a message on the unpadded data), padding bytes need not
//! be zero, and the reserved flag bits are ignored.

use super::dictionary::{self, AvpType};
use super::Error;
use crate::proto::bytes::{be_u24, be_u32, be_u64};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

mod field {
    use std::ops::Range;
    pub const CODE: Range<usize> = 0..4;
    pub const FLAGS: usize = 4;
    pub const LENGTH: Range<usize> = 5..8;
    pub const VENDOR_ID: Range<usize> = 8..12;
}

/// Length of an AVP header without the Vendor-ID.
pub const HEADER_LEN: usize = field::LENGTH.end;
/// Length of an AVP header with the Vendor-ID (V flag set).
pub const VENDOR_HEADER_LEN: usize = field::VENDOR_ID.end;

/// Levels of grouped AVPs walked into at most. Real messages nest 4 deep
/// (Charging-Rule-Install / Definition / QoS-Information / ARP); 8 leaves
/// room for Failed-AVP and Proxy-Info wrapping those.
pub const MAX_GROUP_DEPTH: usize = 8;
/// AVPs visited per message at most. A large Insert-Subscriber-Data holds a
/// few hundred; 4096 bounds the work on a 64 KiB message of empty AVPs.
pub const MAX_AVPS: usize = 4096;

/// AVP flag bits (RFC 6733 §4.1).
pub mod flags {
    /// V: the Vendor-ID field is present.
    pub const VENDOR: u8 = 0x80;
    /// M: the receiver must understand this AVP.
    pub const MANDATORY: u8 = 0x40;
    /// P: reserved for end-to-end security.
    pub const PROTECTED: u8 = 0x20;
}

/// (vendor, code) of an AVP; vendor 0 when the V flag is clear.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AvpKey {
    /// Vendor-ID, 0 for IETF AVPs.
    pub vendor: u32,
    /// AVP code.
    pub code: u32,
}

impl AvpKey {
    /// An IETF AVP.
    pub const fn ietf(code: u32) -> Self {
        AvpKey { vendor: 0, code }
    }

    /// A 3GPP AVP (vendor 10415).
    pub const fn tgpp(code: u32) -> Self {
        AvpKey {
            vendor: dictionary::VENDOR_3GPP,
            code,
        }
    }
}

/// A checked view of one AVP, without its padding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Avp<'a> {
    buf: &'a [u8],
}

impl<'a> Avp<'a> {
    /// Reads the AVP at the start of `buf`, returning `(rest, avp)` where
    /// `rest` starts after the AVP's padding (or is empty when the padding
    /// is cut short by the end of `buf`).
    ///
    /// # Errors
    /// [`Error::AvpTooShort`] when `buf` is shorter than the header (with
    /// the Vendor-ID when V is set); [`Error::AvpBadLength`] when the length
    /// field is below the header length or runs past `buf`.
    pub fn parse(buf: &'a [u8]) -> Result<(&'a [u8], Avp<'a>), Error> {
        let header = buf.get(..HEADER_LEN).ok_or(Error::AvpTooShort)?;
        let vendor = header[field::FLAGS] & flags::VENDOR != 0;
        let header_len = if vendor {
            VENDOR_HEADER_LEN
        } else {
            HEADER_LEN
        };
        if buf.len() < header_len {
            return Err(Error::AvpTooShort);
        }
        let len = be_u24(&header[field::LENGTH]) as usize;
        if len < header_len || len > buf.len() {
            return Err(Error::AvpBadLength);
        }
        let padded = len.saturating_add(3) & !3;
        let rest = buf.get(padded..).unwrap_or(&[]);
        Ok((rest, Avp { buf: &buf[..len] }))
    }

    /// AVP code.
    pub fn code(&self) -> u32 {
        be_u32(&self.buf[field::CODE])
    }

    /// The flag byte (see [`flags`]).
    pub fn flags(&self) -> u8 {
        self.buf[field::FLAGS]
    }

    /// V flag: a Vendor-ID is present.
    pub fn is_vendor_specific(&self) -> bool {
        self.flags() & flags::VENDOR != 0
    }

    /// M flag.
    pub fn is_mandatory(&self) -> bool {
        self.flags() & flags::MANDATORY != 0
    }

    /// P flag.
    pub fn is_protected(&self) -> bool {
        self.flags() & flags::PROTECTED != 0
    }

    /// The Vendor-ID, when V is set.
    pub fn vendor_id(&self) -> Option<u32> {
        self.is_vendor_specific()
            .then(|| be_u32(&self.buf[field::VENDOR_ID]))
    }

    /// (vendor or 0, code).
    pub fn key(&self) -> AvpKey {
        AvpKey {
            vendor: self.vendor_id().unwrap_or(0),
            code: self.code(),
        }
    }

    /// AVP length field: header and data, without padding.
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    /// Whether the AVP has no data (its length is the header's).
    pub fn is_empty(&self) -> bool {
        self.data().is_empty()
    }

    /// The data, without header or padding.
    pub fn data(&self) -> &'a [u8] {
        let header_len = if self.is_vendor_specific() {
            VENDOR_HEADER_LEN
        } else {
            HEADER_LEN
        };
        &self.buf[header_len..]
    }

    /// The dictionary entry, if the AVP is known.
    pub fn definition(&self) -> Option<&'static dictionary::AvpDef> {
        let k = self.key();
        dictionary::avp(k.vendor, k.code)
    }

    /// Whether the dictionary says this AVP holds other AVPs.
    pub fn is_grouped(&self) -> bool {
        self.definition().is_some_and(|d| d.ty == AvpType::Grouped)
    }

    /// Unsigned32 / Enumerated / Integer32 data as `u32`, if exactly 4 bytes.
    pub fn as_u32(&self) -> Option<u32> {
        let d = self.data();
        (d.len() == 4).then(|| be_u32(d))
    }

    /// Unsigned64 data, if exactly 8 bytes.
    pub fn as_u64(&self) -> Option<u64> {
        let d = self.data();
        (d.len() == 8).then(|| be_u64(d))
    }

    /// UTF8String / DiameterIdentity data, if valid UTF-8.
    pub fn as_str(&self) -> Option<&'a str> {
        std::str::from_utf8(self.data()).ok()
    }

    /// Address data (RFC 6733 §4.3.1): a 2-byte IANA address family (1 IPv4,
    /// 2 IPv6) then the address.
    pub fn as_address(&self) -> Option<IpAddr> {
        let d = self.data();
        match (d.get(..2)?, d.len()) {
            ([0, 1], 6) => Some(IpAddr::V4(ipv4(d.get(2..6)?)?)),
            ([0, 2], 18) => Some(IpAddr::V6(ipv6(d.get(2..18)?)?)),
            _ => None,
        }
    }

    /// Four raw bytes as an IPv4 address (Framed-IP-Address, RFC 7155 §4.4).
    pub fn as_raw_ipv4(&self) -> Option<Ipv4Addr> {
        ipv4(self.data())
    }

    /// Framed-IPv6-Prefix data (RFC 3162 §2.3, RFC 7155 §4.4): reserved byte,
    /// prefix length, then the prefix bytes (zero-filled to 128 bits).
    pub fn as_ipv6_prefix(&self) -> Option<(Ipv6Addr, u8)> {
        let d = self.data();
        let prefix_len = *d.get(1)?;
        let bytes = d.get(2..)?;
        if prefix_len > 128 || bytes.len() > 16 || bytes.len() * 8 < usize::from(prefix_len) {
            return None;
        }
        let mut a = [0u8; 16];
        for (dst, src) in a.iter_mut().zip(bytes) {
            *dst = *src;
        }
        Some((Ipv6Addr::from(a), prefix_len))
    }

    /// The AVPs inside, for a grouped AVP (any AVP, in fact: the caller
    /// decides whether the data is meant as AVPs).
    pub fn children(&self) -> Avps<'a> {
        Avps::new(self.data())
    }
}

fn ipv4(d: &[u8]) -> Option<Ipv4Addr> {
    let a: [u8; 4] = d.try_into().ok()?;
    Some(Ipv4Addr::from(a))
}

fn ipv6(d: &[u8]) -> Option<Ipv6Addr> {
    let a: [u8; 16] = d.try_into().ok()?;
    Some(Ipv6Addr::from(a))
}

/// The AVPs of a run of bytes (a message body or a grouped AVP's data).
///
/// Yields `Ok(avp)` until the bytes run out, or one `Err` then `None`.
#[derive(Clone, Debug)]
pub struct Avps<'a> {
    rest: &'a [u8],
}

impl<'a> Avps<'a> {
    /// Iterates over the AVPs in `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        Avps { rest: buf }
    }

    /// The bytes not read yet.
    pub fn rest(&self) -> &'a [u8] {
        self.rest
    }
}

impl<'a> Iterator for Avps<'a> {
    type Item = Result<Avp<'a>, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        match Avp::parse(self.rest) {
            Ok((rest, avp)) => {
                // Each step consumes ≥ HEADER_LEN bytes, so this ends.
                self.rest = rest;
                Some(Ok(avp))
            }
            Err(e) => {
                self.rest = &[];
                Some(Err(e))
            }
        }
    }
}

/// What a [`walk`] saw besides the AVPs it visited.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WalkOutcome {
    /// AVPs visited, at every depth.
    pub avps: usize,
    /// Errors met (each ends one run of AVPs), depth-limit hits included.
    pub errors: u32,
    /// The first error met.
    pub first_error: Option<Error>,
    /// Grouped AVPs not walked into because they sit at
    /// [`MAX_GROUP_DEPTH`].
    pub depth_limit_hits: u32,
    /// Whether the walk stopped at [`MAX_AVPS`].
    pub truncated: bool,
}

impl WalkOutcome {
    fn error(&mut self, e: Error) {
        self.errors += 1;
        self.first_error.get_or_insert(e);
    }
}

/// Visits every AVP in `buf` depth first. `visit` gets the keys of the
/// grouped AVPs enclosing the AVP (outermost first, empty at top level),
/// then the AVP; a grouped AVP is visited before its children.
pub fn walk<'a>(buf: &'a [u8], visit: &mut dyn FnMut(&[AvpKey], Avp<'a>)) -> WalkOutcome {
    let mut out = WalkOutcome::default();
    let mut path = [AvpKey::default(); MAX_GROUP_DEPTH];
    walk_level(buf, &mut path, 0, visit, &mut out);
    out
}

/// Returns false when the walk must stop ([`MAX_AVPS`]).
fn walk_level<'a>(
    buf: &'a [u8],
    path: &mut [AvpKey; MAX_GROUP_DEPTH],
    depth: usize,
    visit: &mut dyn FnMut(&[AvpKey], Avp<'a>),
    out: &mut WalkOutcome,
) -> bool {
    for item in Avps::new(buf) {
        let avp = match item {
            Ok(avp) => avp,
            Err(e) => {
                out.error(e);
                return true;
            }
        };
        if out.avps >= MAX_AVPS {
            out.truncated = true;
            out.error(Error::TooManyAvps);
            return false;
        }
        out.avps += 1;
        visit(path.get(..depth).unwrap_or(&[]), avp);
        if !avp.is_grouped() {
            continue;
        }
        let Some(slot) = path.get_mut(depth) else {
            out.depth_limit_hits += 1;
            out.error(Error::TooDeep);
            continue;
        };
        *slot = avp.key();
        if !walk_level(avp.data(), path, depth + 1, visit, out) {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Made-up AVP bytes: code, flags, data; vendor when `Some`.
    pub(crate) fn avp(code: u32, flags: u8, vendor: Option<u32>, data: &[u8]) -> Vec<u8> {
        let header = if vendor.is_some() { 12 } else { 8 };
        let len = header + data.len();
        let mut v = code.to_be_bytes().to_vec();
        v.push(flags | if vendor.is_some() { 0x80 } else { 0 });
        v.extend_from_slice(&(len as u32).to_be_bytes()[1..]);
        if let Some(id) = vendor {
            v.extend_from_slice(&id.to_be_bytes());
        }
        v.extend_from_slice(data);
        while !v.len().is_multiple_of(4) {
            v.push(0);
        }
        v
    }

    #[test]
    fn parses_plain_and_vendor_avps_with_padding() {
        // Session-Id "abcde": 13 bytes, padded to 16.
        let mut buf = avp(263, 0x40, None, b"abcde");
        assert_eq!(buf.len(), 16);
        buf.extend(avp(1028, 0xc0, Some(10415), &1u32.to_be_bytes()));
        let (rest, a) = Avp::parse(&buf).unwrap();
        assert_eq!(a.code(), 263);
        assert!(a.is_mandatory() && !a.is_vendor_specific() && !a.is_protected());
        assert_eq!(a.as_str(), Some("abcde"));
        assert_eq!(a.len(), 13);
        assert_eq!(rest.len(), 16);
        let (rest, b) = Avp::parse(rest).unwrap();
        assert_eq!(b.key(), AvpKey::tgpp(1028));
        assert_eq!(b.as_u32(), Some(1));
        assert!(rest.is_empty());
    }

    #[test]
    fn accepts_missing_padding_at_the_end() {
        let mut buf = avp(263, 0, None, b"abcde");
        buf.truncate(13);
        let all: Vec<_> = Avps::new(&buf).collect();
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].unwrap().as_str(), Some("abcde"));
    }

    #[test]
    fn rejects_length_below_header() {
        let mut buf = avp(263, 0, None, b"");
        buf[7] = 7;
        assert_eq!(Avp::parse(&buf), Err(Error::AvpBadLength));
        // V set: 8..11 is too short for the 12-byte header.
        let mut buf = avp(1028, 0, Some(10415), &[0; 4]);
        buf[7] = 11;
        assert_eq!(Avp::parse(&buf), Err(Error::AvpBadLength));
    }

    #[test]
    fn rejects_vendor_flag_without_room_for_vendor_id() {
        // Made up: V set, length 8, and only 8 bytes.
        let buf = [0, 0, 0x04, 0x04, 0x80, 0, 0, 8];
        assert_eq!(Avp::parse(&buf), Err(Error::AvpTooShort));
    }

    #[test]
    fn lying_length_stops_iteration_after_earlier_avps() {
        let mut buf = avp(264, 0, None, b"host");
        let mut bad = avp(296, 0, None, b"realm");
        bad[7] = 200; // longer than what follows
        buf.extend(bad);
        buf.extend(avp(263, 0, None, b"never"));
        let all: Vec<_> = Avps::new(&buf).collect();
        assert_eq!(all.len(), 2);
        assert_eq!(all[0].unwrap().as_str(), Some("host"));
        assert_eq!(all[1], Err(Error::AvpBadLength));
    }

    #[test]
    fn trailing_bytes_shorter_than_a_header_are_an_error() {
        let mut buf = avp(264, 0, None, b"host");
        buf.extend([0, 0, 1]);
        let all: Vec<_> = Avps::new(&buf).collect();
        assert_eq!(
            all,
            vec![Ok(Avp::parse(&buf).unwrap().1), Err(Error::AvpTooShort)]
        );
    }

    #[test]
    fn depth_bomb_stops_at_max_depth_and_is_counted() {
        // Made up: Experimental-Result (grouped) nested 20 deep around a
        // Result-Code.
        let mut inner = avp(268, 0x40, None, &2001u32.to_be_bytes());
        for _ in 0..20 {
            inner = avp(297, 0x40, None, &inner);
        }
        let mut seen = 0;
        let mut deepest = 0;
        let out = walk(&inner, &mut |path, _| {
            seen += 1;
            deepest = deepest.max(path.len());
        });
        assert_eq!(out.depth_limit_hits, 1);
        assert_eq!(out.first_error, Some(Error::TooDeep));
        assert_eq!(seen, MAX_GROUP_DEPTH + 1);
        assert_eq!(deepest, MAX_GROUP_DEPTH);
    }

    #[test]
    fn error_inside_a_group_keeps_its_siblings() {
        let mut bad_child = avp(298, 0, None, &[0; 4]);
        bad_child[7] = 100;
        let mut buf = avp(297, 0, None, &bad_child);
        buf.extend(avp(264, 0, None, b"host"));
        let mut codes = Vec::new();
        let out = walk(&buf, &mut |_, a| codes.push(a.code()));
        assert_eq!(codes, vec![297, 264]);
        assert_eq!(out.first_error, Some(Error::AvpBadLength));
        assert_eq!(out.errors, 1);
    }

    #[test]
    fn walk_is_bounded_by_max_avps() {
        let one = avp(278, 0, None, &[0; 4]);
        let buf: Vec<u8> = one
            .iter()
            .copied()
            .cycle()
            .take(one.len() * (MAX_AVPS + 10))
            .collect();
        let out = walk(&buf, &mut |_, _| {});
        assert_eq!(out.avps, MAX_AVPS);
        assert!(out.truncated);
        assert_eq!(out.first_error, Some(Error::TooManyAvps));
    }

    #[test]
    fn decodes_addresses() {
        let a = avp(257, 0, None, &[0, 1, 10, 0, 0, 1]);
        assert_eq!(
            Avp::parse(&a).unwrap().1.as_address(),
            Some(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)))
        );
        let p = avp(97, 0, None, &[0, 64, 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 1]);
        assert_eq!(
            Avp::parse(&p).unwrap().1.as_ipv6_prefix(),
            Some(("2001:db8:0:1::".parse().unwrap(), 64))
        );
        let bad = avp(97, 0, None, &[0, 129]);
        assert_eq!(Avp::parse(&bad).unwrap().1.as_ipv6_prefix(), None);
    }
}
