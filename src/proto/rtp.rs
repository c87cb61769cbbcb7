//! RTP fixed header (RFC 3550 §5.1): a zero-copy view and an owned summary.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! |V=2|P|X|  CC   |M|     PT      |       sequence number         |
//! |                           timestamp                           |
//! |           synchronization source (SSRC) identifier            |
//! |            contributing source (CSRC) identifiers  (CC × 4)   |
//! | [extension: profile(16) length(16, in words) + length×4 bytes]|
//! | payload ...                          [padding, last byte = n] |
//! ```
//!
//! Contract: after [`Packet::new_checked`] succeeds, no getter panics, and
//! `payload()` excludes CSRCs, the extension and padding.

use super::bytes::{be_u16, be_u32};

mod field {
    use std::ops::Range;
    pub const FLAGS: usize = 0;
    pub const MARKER_PT: usize = 1;
    pub const SEQ: Range<usize> = 2..4;
    pub const TIMESTAMP: Range<usize> = 4..8;
    pub const SSRC: Range<usize> = 8..12;
}

/// Length of the fixed header.
pub const HEADER_LEN: usize = field::SSRC.end;

/// Why bytes are not a valid RTP packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// Fewer than 12 bytes.
    #[error("shorter than the 12-byte RTP header")]
    TooShort,
    /// Version field is not 2.
    #[error("RTP version is not 2")]
    BadVersion,
    /// The CSRC list runs past the end.
    #[error("CSRC list runs past the end of the packet")]
    CsrcOverrun,
    /// The header extension runs past the end.
    #[error("header extension runs past the end of the packet")]
    ExtensionOverrun,
    /// The padding count is zero or larger than the payload.
    #[error("padding count is zero or larger than the payload")]
    BadPadding,
}

impl Error {
    /// Stable label for counters.
    pub fn reason(self) -> &'static str {
        match self {
            Error::TooShort => "too_short",
            Error::BadVersion => "bad_version",
            Error::CsrcOverrun => "csrc_overrun",
            Error::ExtensionOverrun => "extension_overrun",
            Error::BadPadding => "bad_padding",
        }
    }
}

/// A read-only view of an RTP packet.
#[derive(Clone, Copy, Debug)]
pub struct Packet<T: AsRef<[u8]>> {
    buf: T,
    header_len: usize,
    padding_len: usize,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Checks every length the getters rely on.
    ///
    /// # Errors
    /// The first reason the bytes are not RTP.
    pub fn new_checked(buf: T) -> Result<Self, Error> {
        let b = buf.as_ref();
        let flags = *b.first().ok_or(Error::TooShort)?;
        if b.len() < HEADER_LEN {
            return Err(Error::TooShort);
        }
        if flags >> 6 != 2 {
            return Err(Error::BadVersion);
        }
        let csrc_count = usize::from(flags & 0x0f);
        let mut header_len = HEADER_LEN + 4 * csrc_count;
        if header_len > b.len() {
            return Err(Error::CsrcOverrun);
        }
        if flags & 0x10 != 0 {
            let ext = b
                .get(header_len..header_len + 4)
                .ok_or(Error::ExtensionOverrun)?;
            let words = usize::from(be_u16(&ext[2..4]));
            header_len += 4 + 4 * words;
            if header_len > b.len() {
                return Err(Error::ExtensionOverrun);
            }
        }
        let mut padding_len = 0;
        if flags & 0x20 != 0 {
            // RFC 3550 §5.1: the last octet counts the padding, itself included.
            padding_len = usize::from(b[b.len() - 1]);
            if padding_len == 0 || header_len + padding_len > b.len() {
                return Err(Error::BadPadding);
            }
        }
        Ok(Packet {
            buf,
            header_len,
            padding_len,
        })
    }

    /// Marker bit.
    pub fn marker(&self) -> bool {
        self.buf.as_ref()[field::MARKER_PT] & 0x80 != 0
    }

    /// Payload type (7 bits).
    pub fn payload_type(&self) -> u8 {
        self.buf.as_ref()[field::MARKER_PT] & 0x7f
    }

    /// Sequence number.
    pub fn sequence(&self) -> u16 {
        be_u16(&self.buf.as_ref()[field::SEQ])
    }

    /// RTP timestamp.
    pub fn timestamp(&self) -> u32 {
        be_u32(&self.buf.as_ref()[field::TIMESTAMP])
    }

    /// Synchronization source.
    pub fn ssrc(&self) -> u32 {
        be_u32(&self.buf.as_ref()[field::SSRC])
    }

    /// Number of CSRCs.
    pub fn csrc_count(&self) -> u8 {
        self.buf.as_ref()[field::FLAGS] & 0x0f
    }

    /// Header length including CSRCs and extension.
    pub fn header_len(&self) -> usize {
        self.header_len
    }

    /// Padding bytes at the end (0 without the P bit).
    pub fn padding_len(&self) -> usize {
        self.padding_len
    }

    /// The payload, without header, extension or padding.
    pub fn payload(&self) -> &[u8] {
        let b = self.buf.as_ref();
        &b[self.header_len..b.len() - self.padding_len]
    }

    /// The owned summary of this header.
    pub fn repr(&self) -> Repr {
        Repr {
            marker: self.marker(),
            payload_type: self.payload_type(),
            sequence: self.sequence(),
            timestamp: self.timestamp(),
            ssrc: self.ssrc(),
            payload_len: self.payload().len() as u32,
            padding_len: self.padding_len as u8,
            // A UDP payload is at most 65 535 bytes, so is its header.
            header_len: u16::try_from(self.header_len).unwrap_or(u16::MAX),
        }
    }
}

/// The owned header fields the media path needs: small and `Copy`, so it
/// crosses threads without the frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Repr {
    /// Marker bit.
    pub marker: bool,
    /// Payload type.
    pub payload_type: u8,
    /// Sequence number.
    pub sequence: u16,
    /// RTP timestamp.
    pub timestamp: u32,
    /// SSRC.
    pub ssrc: u32,
    /// Payload length in bytes (without padding).
    pub payload_len: u32,
    /// Padding length in bytes.
    pub padding_len: u8,
    /// Header length in bytes (CSRCs and extension included).
    pub header_len: u16,
}

impl Repr {
    /// The whole packet's length in bytes: header, payload and padding.
    pub fn packet_len(&self) -> u64 {
        u64::from(self.header_len) + u64::from(self.payload_len) + u64::from(self.padding_len)
    }

    /// Parses and summarises an RTP packet.
    ///
    /// # Errors
    /// As [`Packet::new_checked`].
    pub fn parse(bytes: &[u8]) -> Result<Repr, Error> {
        Packet::new_checked(bytes).map(|p| p.repr())
    }
}

/// Whether a UDP payload plausibly starts an RTP packet, for captures with no
/// signalling: version 2, a payload type that is assigned statically or
/// dynamic (0–34, 96–127), and not in the range where an RTCP packet type with
/// the marker bit would land (72–76, i.e. 200–204 with M set).
pub fn looks_like_rtp(payload: &[u8]) -> bool {
    if payload.len() < HEADER_LEN || payload[field::FLAGS] >> 6 != 2 {
        return false;
    }
    let pt = payload[field::MARKER_PT] & 0x7f;
    matches!(pt, 0..=34 | 96..=127)
}

/// Static payload types of RFC 3551 with their encoding name and RTP clock rate
/// (the same table Wireshark uses, so jitter agrees with it).
pub fn static_payload_type(pt: u8) -> Option<(&'static str, u32)> {
    Some(match pt {
        0 => ("PCMU", 8000),
        1 => ("1016", 8000),
        2 => ("G721", 8000),
        3 => ("GSM", 8000),
        4 => ("G723", 8000),
        5 => ("DVI4", 8000),
        6 => ("DVI4", 16000),
        7 => ("LPC", 8000),
        8 => ("PCMA", 8000),
        // G.722 samples at 16 kHz but its RTP clock is 8000 (RFC 3551 §4.5.2).
        9 => ("G722", 8000),
        10 => ("L16", 44100),
        11 => ("L16", 44100),
        12 => ("QCELP", 8000),
        13 => ("CN", 8000),
        14 => ("MPA", 90000),
        15 => ("G728", 8000),
        16 => ("DVI4", 11025),
        17 => ("DVI4", 22050),
        18 => ("G729", 8000),
        19 => ("CN", 8000),
        25 => ("CelB", 90000),
        26 => ("JPEG", 90000),
        28 => ("nv", 90000),
        31 => ("H261", 90000),
        32 => ("MPV", 90000),
        33 => ("MP2T", 90000),
        34 => ("H263", 90000),
        _ => return None,
    })
}

/// Comfort noise payload types (13, and the old 19), which Wireshark leaves out
/// of delta and jitter statistics.
pub fn is_comfort_noise(pt: u8) -> bool {
    pt == 13 || pt == 19
}

#[cfg(test)]
mod tests {
    use super::*;

    /// sip-rtp-g711a-rfc2833-dtmf.cap, an RTP header of the PCMA stream
    /// (0x5711BF84): V=2, PT 8, then 160 bytes of payload (made-up payload bytes).
    fn pcma_packet() -> Vec<u8> {
        let mut p = vec![
            0x80, 0x08, 0x12, 0x34, 0x00, 0x00, 0x0a, 0x00, 0x57, 0x11, 0xbf, 0x84,
        ];
        p.extend(std::iter::repeat_n(0xd5, 160));
        p
    }

    #[test]
    fn parses_fixed_header() {
        let r = Repr::parse(&pcma_packet()).unwrap();
        assert_eq!(r.payload_type, 8);
        assert_eq!(r.sequence, 0x1234);
        assert_eq!(r.timestamp, 0x0a00);
        assert_eq!(r.ssrc, 0x5711_bf84);
        assert_eq!(r.payload_len, 160);
        assert!(!r.marker);
    }

    #[test]
    fn rejects_short_and_wrong_version() {
        assert_eq!(Repr::parse(&[0x80; 11]), Err(Error::TooShort));
        assert_eq!(Repr::parse(&[]), Err(Error::TooShort));
        let mut p = pcma_packet();
        p[0] = 0x40;
        assert_eq!(Repr::parse(&p), Err(Error::BadVersion));
    }

    #[test]
    fn csrc_and_extension_lengths_are_checked() {
        let mut p = vec![0x8f, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1];
        assert_eq!(Repr::parse(&p), Err(Error::CsrcOverrun));
        p[0] = 0x90; // X set, no CSRC
        p.extend([0xbe, 0xde, 0x00, 0x02, 1, 2, 3, 4]); // claims 2 words, has 1
        assert_eq!(Repr::parse(&p), Err(Error::ExtensionOverrun));
        p.extend([5, 6, 7, 8, 0xaa]);
        let pkt = Packet::new_checked(&p[..]).unwrap();
        assert_eq!(pkt.header_len(), 24);
        assert_eq!(pkt.payload(), &[0xaa]);
        assert_eq!(pkt.repr().packet_len(), p.len() as u64);
    }

    #[test]
    fn padding_is_excluded_and_checked() {
        let mut p = pcma_packet();
        p[0] |= 0x20;
        *p.last_mut().unwrap() = 4;
        let padded = Repr::parse(&p).unwrap();
        assert_eq!(padded.payload_len, 156);
        assert_eq!(padded.packet_len(), p.len() as u64);
        *p.last_mut().unwrap() = 0;
        assert_eq!(Repr::parse(&p), Err(Error::BadPadding));
        *p.last_mut().unwrap() = 200;
        assert_eq!(Repr::parse(&p), Err(Error::BadPadding));
    }

    #[test]
    fn heuristic_rejects_rtcp_and_unassigned_types() {
        assert!(looks_like_rtp(&pcma_packet()));
        // RTCP SR: 0x80 0xc8 -> M=1, PT 72.
        let mut sr = pcma_packet();
        sr[1] = 0xc8;
        assert!(!looks_like_rtp(&sr));
        let mut pt50 = pcma_packet();
        pt50[1] = 50;
        assert!(!looks_like_rtp(&pt50));
        assert!(!looks_like_rtp(&[0x80, 0x08]));
    }
}
