//! GTPv1-U (3GPP TS 29.281): the user-plane tunnel of S1-U, S5/S8-U and N3.
//!
//! ```text
//!  | ver=1 |PT=1| * | E | S | PN |  message type  |          length            |
//!  |                       TEID (tunnel endpoint identifier)                     |
//!  [ sequence number (16) | N-PDU number (8) | next extension header type (8) ]  if E|S|PN
//!  [ ext: length (8, in 4-byte units) | contents ... | next extension type (8) ] ...
//! ```
//!
//! A zero-copy view: [`Packet::new_checked`] checks the version, the protocol
//! type, the length field and the extension header chain (each extension's
//! length non-zero and inside the packet, at most [`MAX_EXTENSION_HEADERS`]);
//! after it succeeds no getter panics. The length field counts everything after
//! the 8-byte mandatory header, so bytes past it (padding) are excluded, and
//! the payload of a G-PDU (message type 0xFF) is the user's IP packet.

use super::{HeaderError, Layer};
use crate::proto::bytes::{be_u16, be_u32};

/// Extension headers followed per packet. TS 29.281 defines about ten types
/// and a packet carries one or two (PDU session container, UDP port); the
/// bound stops a crafted chain.
pub const MAX_EXTENSION_HEADERS: usize = 8;

/// Message type of a G-PDU (user data).
pub const MSG_G_PDU: u8 = 0xFF;

mod field {
    use std::ops::Range;
    pub const FLAGS: usize = 0;
    pub const MSG_TYPE: usize = 1;
    pub const LENGTH: Range<usize> = 2..4;
    pub const TEID: Range<usize> = 4..8;
    pub const HEADER_LEN: usize = TEID.end;
    /// Sequence number, N-PDU number and next extension type, present when
    /// any of E, S, PN is set.
    pub const OPTIONAL_LEN: usize = 4;
    pub const NEXT_EXT: usize = 11;

    pub const VERSION_SHIFT: u8 = 5;
    pub const VERSION_1: u8 = 1;
    pub const FLAG_PT: u8 = 0x10;
    pub const FLAG_E: u8 = 0x04;
    pub const FLAG_S: u8 = 0x02;
    pub const FLAG_PN: u8 = 0x01;
    /// Extension lengths count 4-byte units.
    pub const EXT_UNIT: usize = 4;
}

/// A checked GTPv1-U packet.
#[derive(Clone, Copy, Debug)]
pub struct Packet<T: AsRef<[u8]>> {
    buf: T,
    /// Mandatory + optional + extension headers.
    header_len: usize,
    /// End of the packet by the length field (≤ the buffer).
    end: usize,
    /// The snap length cut the packet short of its length field.
    clamped: bool,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Checks the header, the optional fields and the extension header chain.
    /// `cut` says whether the snap length cut the frame: then a length field
    /// past the captured bytes is expected.
    ///
    /// # Errors
    /// `Short(GtpU)` for a cut header; `Invalid(GtpU, ..)` for a version other
    /// than 1, PT = 0 (GTP'), a length past the bytes (frame not cut), or an
    /// extension header of length 0, past the end, or one too many.
    pub fn new_checked(buf: T, cut: bool) -> Result<Self, HeaderError> {
        let b = buf.as_ref();
        let short = HeaderError::Short(Layer::GtpU);
        let invalid = |r| HeaderError::Invalid(Layer::GtpU, r);
        let flags = *b.get(field::FLAGS).ok_or(short)?;
        let header = b.get(..field::HEADER_LEN).ok_or(short)?;
        if flags >> field::VERSION_SHIFT != field::VERSION_1 {
            return Err(invalid("bad_version"));
        }
        if flags & field::FLAG_PT == 0 {
            return Err(invalid("gtp_prime"));
        }
        let length = usize::from(be_u16(&header[field::LENGTH]));
        let declared_end = field::HEADER_LEN + length;
        let (end, clamped) = if declared_end <= b.len() {
            (declared_end, false)
        } else if cut {
            (b.len(), true)
        } else {
            return Err(invalid("length_past_end"));
        };
        let packet = &b[..end];
        let mut header_len = field::HEADER_LEN;
        if flags & (field::FLAG_E | field::FLAG_S | field::FLAG_PN) != 0 {
            header_len += field::OPTIONAL_LEN;
            if packet.len() < header_len {
                return Err(if declared_end < header_len {
                    invalid("length_below_header")
                } else {
                    short
                });
            }
            let mut next = if flags & field::FLAG_E != 0 {
                packet.get(field::NEXT_EXT).copied().unwrap_or_default()
            } else {
                0
            };
            let mut count = 0;
            while next != 0 {
                count += 1;
                if count > MAX_EXTENSION_HEADERS {
                    return Err(invalid("too_many_extension_headers"));
                }
                let units = usize::from(*packet.get(header_len).ok_or(short)?);
                if units == 0 {
                    return Err(invalid("extension_length_zero"));
                }
                let ext_end = header_len + units * field::EXT_UNIT;
                // The last byte of an extension is the next extension's type.
                next = *packet.get(ext_end - 1).ok_or(if declared_end < ext_end {
                    invalid("extension_past_end")
                } else {
                    short
                })?;
                header_len = ext_end;
            }
        }
        Ok(Packet {
            buf,
            header_len,
            end,
            clamped,
        })
    }

    /// Message type (0xFF: G-PDU; 1/2: echo request/response; 26: error
    /// indication; 254: end marker).
    pub fn message_type(&self) -> u8 {
        self.buf
            .as_ref()
            .get(field::MSG_TYPE)
            .copied()
            .unwrap_or_default()
    }

    /// Tunnel endpoint identifier.
    pub fn teid(&self) -> u32 {
        self.buf.as_ref().get(field::TEID).map_or(0, be_u32)
    }

    /// Length of all headers (mandatory, optional, extensions).
    pub fn header_len(&self) -> usize {
        self.header_len
    }

    /// Whether the snap length cut the packet short of its length field.
    pub fn is_clamped(&self) -> bool {
        self.clamped
    }

    /// The payload after all headers (the user IP packet of a G-PDU).
    pub fn payload(&self) -> &[u8] {
        self.buf
            .as_ref()
            .get(self.header_len..self.end)
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `gtp/gtpu-ipv6-inner-qinq.pcap` frame 1, GTP-U at offset 0x32:
    /// `30 ff 00 5c 12 80 8f b8` (v1, PT, G-PDU, length 92, TEID 0x12808fb8),
    /// then the inner IPv6 header `60 08 b8 52 ...` (shortened here, length
    /// adjusted to 4).
    #[test]
    fn plain_g_pdu() {
        let b = [
            0x30, 0xff, 0x00, 0x04, 0x12, 0x80, 0x8f, 0xb8, 0x60, 0x08, 0xb8, 0x52, 0xee,
        ];
        let p = Packet::new_checked(&b[..], false).unwrap();
        assert_eq!(p.message_type(), MSG_G_PDU);
        assert_eq!(p.teid(), 0x1280_8fb8);
        assert_eq!(p.payload(), &[0x60, 0x08, 0xb8, 0x52]);
        assert!(!p.is_clamped());
    }

    /// `gtp/gtpv2-attach-detach-20-sessions-sll.pcapng` frame 75, GTP-U at
    /// offset 0x2c: `32 ff 00 34 00 00 00 02 00 00 00 00` (S flag: sequence 0,
    /// N-PDU 0, no extension), then IPv6 (shortened here, length adjusted).
    #[test]
    fn sequence_number_present() {
        let b = [0x32, 0xff, 0x00, 0x05, 0, 0, 0, 2, 0, 0, 0, 0, 0x60];
        let p = Packet::new_checked(&b[..], false).unwrap();
        assert_eq!(
            (p.teid(), p.header_len(), p.payload()),
            (2, 12, &[0x60u8][..])
        );
    }

    /// Made up from TS 29.281 §5.2: E flag, next type 0x85 (PDU session
    /// container, 1 unit: `01 00 09 00`: QFI 9, next type 0), then IPv4.
    #[test]
    fn extension_header_chain() {
        let b = [
            0x34, 0xff, 0x00, 0x09, 0, 0, 0, 7, 0, 0, 0, 0x85, 0x01, 0x00, 0x09, 0x00, 0x45,
        ];
        let p = Packet::new_checked(&b[..], false).unwrap();
        assert_eq!((p.header_len(), p.payload()), (16, &[0x45u8][..]));
        // Two extensions: UDP port (0x40, 1 unit) then PDU session container.
        let b = [
            0x34, 0xff, 0x00, 0x0d, 0, 0, 0, 7, 0, 0, 0, 0x40, 0x01, 0x08, 0x68, 0x85, 0x01, 0x00,
            0x09, 0x00, 0x45,
        ];
        let p = Packet::new_checked(&b[..], false).unwrap();
        assert_eq!((p.header_len(), p.payload()), (20, &[0x45u8][..]));
    }

    #[test]
    fn rejects_bad_headers() {
        let err = |b: &[u8], cut| {
            Packet::new_checked(b, cut)
                .map(|p| p.header_len())
                .unwrap_err()
        };
        let inv = |r| HeaderError::Invalid(Layer::GtpU, r);
        // Version 2 (GTPv2-C on the wrong port).
        assert_eq!(
            err(&[0x48, 0x20, 0, 0, 0, 0, 0, 0], false),
            inv("bad_version")
        );
        // PT = 0: GTP'.
        assert_eq!(
            err(&[0x20, 0xff, 0, 0, 0, 0, 0, 0], false),
            inv("gtp_prime")
        );
        // Length past the end, unless the frame was cut.
        let b = [0x30, 0xff, 0x00, 0x10, 0, 0, 0, 1, 0x45];
        assert_eq!(err(&b, false), inv("length_past_end"));
        assert!(Packet::new_checked(&b[..], true).unwrap().is_clamped());
        // Extension of length 0.
        let b = [
            0x34, 0xff, 0x00, 0x08, 0, 0, 0, 7, 0, 0, 0, 0x85, 0x00, 0, 0, 0,
        ];
        assert_eq!(err(&b, false), inv("extension_length_zero"));
        // Extension past the end.
        let b = [
            0x34, 0xff, 0x00, 0x08, 0, 0, 0, 7, 0, 0, 0, 0x85, 0x02, 0, 0, 0,
        ];
        assert_eq!(err(&b, false), inv("extension_past_end"));
        // Cut mandatory header.
        assert_eq!(
            err(&[0x30, 0xff, 0x00], true),
            HeaderError::Short(Layer::GtpU)
        );
    }

    #[test]
    fn extension_chain_is_bounded() {
        let mut b = vec![0x34, 0xff, 0, 0, 0, 0, 0, 7, 0, 0, 0, 0x85];
        for _ in 0..=MAX_EXTENSION_HEADERS {
            b.extend_from_slice(&[0x01, 0x00, 0x00, 0x85]);
        }
        let len = (b.len() - 8) as u16;
        b[2..4].copy_from_slice(&len.to_be_bytes());
        assert_eq!(
            Packet::new_checked(&b[..], false)
                .map(|p| p.header_len())
                .unwrap_err(),
            HeaderError::Invalid(Layer::GtpU, "too_many_extension_headers")
        );
    }

    #[test]
    fn echo_request_has_no_payload_to_decode() {
        // Made up: echo request with sequence number (TS 29.281 §7.2.1).
        let b = [0x32, 0x01, 0x00, 0x04, 0, 0, 0, 0, 0x00, 0x01, 0, 0];
        let p = Packet::new_checked(&b[..], false).unwrap();
        assert_eq!((p.message_type(), p.payload().len()), (1, 0));
    }
}
