//! WebSocket (RFC 6455) as a SIP transport (RFC 7118): the opening
//! handshake's HTTP messages and the frame header, as pure functions.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! |F|R|R|R| opcode|M| Payload len |    Extended payload length    |
//! |I|S|S|S|  (4)  |A|     (7)     |             (16/64)           |
//! |N|V|V|V|       |S|             |   (if payload len==126/127)   |
//! | |1|2|3|       |K|             |                               |
//! |     Extended payload length continued, if payload len == 127  |
//! |                               |Masking-key, if MASK set to 1  |
//! | Masking-key (continued)       |          Payload Data         |
//! ```
//!
//! [`FrameHeader::parse`] reads a header from the start of a byte stream and
//! says how many more bytes it needs when they are not there yet
//! ([`Error::Incomplete`]); [`unmask`] undoes the client's XOR mask in place.
//! The stream state (handshake seen, fragments of a message) lives in the TCP
//! reassembler (`packet::tcp`, `Framing::WebSocket`). Nothing here allocates
//! or panics, whatever the input.

/// Longest frame header: 2 bytes, a 64-bit extended length, a masking key.
pub const MAX_HEADER_LEN: usize = 14;

/// Longest control frame payload (RFC 6455 §5.5).
pub const MAX_CONTROL_PAYLOAD: u64 = 125;

/// Frame opcodes (RFC 6455 §5.2, §11.8).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Opcode {
    /// 0: a continuation of a fragmented message.
    Continuation,
    /// 1: UTF-8 text (SIP over WebSocket is usually text).
    Text,
    /// 2: binary.
    Binary,
    /// 8: connection close.
    Close,
    /// 9: ping.
    Ping,
    /// 10: pong.
    Pong,
    /// A reserved opcode (3–7, 11–15).
    Unknown(u8),
}

impl Opcode {
    /// The opcode of a 4-bit value.
    pub fn from_bits(v: u8) -> Opcode {
        match v & 0x0f {
            0 => Opcode::Continuation,
            1 => Opcode::Text,
            2 => Opcode::Binary,
            8 => Opcode::Close,
            9 => Opcode::Ping,
            10 => Opcode::Pong,
            other => Opcode::Unknown(other),
        }
    }

    /// Close, ping and pong (opcodes 8–15) are control frames.
    pub fn is_control(self) -> bool {
        match self {
            Opcode::Close | Opcode::Ping | Opcode::Pong => true,
            Opcode::Unknown(v) => v >= 8,
            _ => false,
        }
    }
}

/// A parsed frame header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameHeader {
    /// FIN: the last frame of a message.
    pub fin: bool,
    /// RSV1 (set on compressed frames with permessage-deflate, RFC 7692).
    pub rsv1: bool,
    /// RSV2 and RSV3 (no registered extension uses them).
    pub rsv23: u8,
    /// Opcode.
    pub opcode: Opcode,
    /// Masking key (client-to-server frames are masked, RFC 6455 §5.3).
    pub mask: Option<[u8; 4]>,
    /// Payload length.
    pub payload_len: u64,
    /// Header length (2 to [`MAX_HEADER_LEN`]).
    pub header_len: usize,
}

/// Why bytes are not (yet) a frame header.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The header needs this many bytes in all; fewer are there.
    #[error("frame header incomplete: {needed} bytes needed")]
    Incomplete {
        /// Total header bytes needed.
        needed: usize,
    },
    /// A 64-bit length with its most significant bit set (RFC 6455 §5.2).
    #[error("64-bit payload length has its top bit set")]
    BadLength,
    /// A control frame that is fragmented or longer than 125 bytes.
    #[error("control frame fragmented or longer than 125 bytes")]
    BadControlFrame,
}

impl Error {
    /// Stable label for counters.
    pub fn reason(self) -> &'static str {
        match self {
            Error::Incomplete { .. } => "incomplete",
            Error::BadLength => "bad_length",
            Error::BadControlFrame => "bad_control_frame",
        }
    }
}

impl FrameHeader {
    /// Reads the frame header at the start of `b`.
    ///
    /// # Errors
    /// [`Error::Incomplete`] when `b` is shorter than the header; the other
    /// variants when the header breaks RFC 6455 §5.2/§5.5.
    pub fn parse(b: &[u8]) -> Result<FrameHeader, Error> {
        let (Some(&b0), Some(&b1)) = (b.first(), b.get(1)) else {
            return Err(Error::Incomplete { needed: 2 });
        };
        let masked = b1 & 0x80 != 0;
        let len7 = b1 & 0x7f;
        let ext = match len7 {
            126 => 2,
            127 => 8,
            _ => 0,
        };
        let header_len = 2 + ext + if masked { 4 } else { 0 };
        if b.len() < header_len {
            return Err(Error::Incomplete { needed: header_len });
        }
        let ext_bytes = b.get(2..2 + ext).unwrap_or_default();
        let payload_len = match len7 {
            126 | 127 => ext_bytes.iter().fold(0u64, |n, &d| (n << 8) | u64::from(d)),
            n => u64::from(n),
        };
        if payload_len >> 63 != 0 {
            return Err(Error::BadLength);
        }
        let mask = if masked {
            let k = b.get(2 + ext..2 + ext + 4).unwrap_or_default();
            let mut key = [0u8; 4];
            for (d, s) in key.iter_mut().zip(k) {
                *d = *s;
            }
            Some(key)
        } else {
            None
        };
        let h = FrameHeader {
            fin: b0 & 0x80 != 0,
            rsv1: b0 & 0x40 != 0,
            rsv23: (b0 >> 4) & 0x03,
            opcode: Opcode::from_bits(b0),
            mask,
            payload_len,
            header_len,
        };
        if h.opcode.is_control() && (!h.fin || payload_len > MAX_CONTROL_PAYLOAD) {
            return Err(Error::BadControlFrame);
        }
        Ok(h)
    }

    /// Header plus payload, if it fits in a `usize`.
    pub fn frame_len(&self) -> Option<usize> {
        usize::try_from(self.payload_len)
            .ok()?
            .checked_add(self.header_len)
    }
}

/// XORs `data` with `key` (RFC 6455 §5.3), `offset` being the position of
/// `data[0]` within the frame's payload.
pub fn unmask(data: &mut [u8], key: [u8; 4], offset: usize) {
    for (i, b) in data.iter_mut().enumerate() {
        *b ^= key[(offset + i) % 4];
    }
}

/// Whether `data` starts an HTTP request or response (the opening
/// handshake, RFC 6455 §4).
pub fn starts_http(data: &[u8]) -> bool {
    data.starts_with(b"GET ") || data.starts_with(b"HTTP/1.")
}

/// Length of an HTTP header section ending in an empty line (CRLF CRLF or
/// bare LFs), including it.
pub fn http_header_len(data: &[u8]) -> Option<usize> {
    let mut i = 0usize;
    while let Some(off) = data.get(i..)?.iter().position(|&b| b == b'\n') {
        let nl = i + off;
        match (data.get(nl + 1), data.get(nl + 2)) {
            (Some(b'\n'), _) => return Some(nl + 2),
            (Some(b'\r'), Some(b'\n')) => return Some(nl + 3),
            _ => i = nl + 1,
        }
    }
    None
}

/// The status code of an HTTP response start (`HTTP/1.1 101 ...`).
pub fn http_status(data: &[u8]) -> Option<u16> {
    let rest = data.strip_prefix(b"HTTP/1.")?;
    let code = rest.get(2..5)?;
    if rest.get(1) != Some(&b' ') || !code.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(code.iter().fold(0u16, |n, d| n * 10 + u16::from(d - b'0')))
}

/// The value of HTTP header `name` (case-insensitive) in the header section
/// at the start of `data` (stops at the empty line or the end of `data`).
pub fn http_header<'a>(data: &'a [u8], name: &str) -> Option<&'a [u8]> {
    for line in data.split(|&b| b == b'\n').skip(1) {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            return None;
        }
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let (n, v) = line.split_at(colon);
        if n.eq_ignore_ascii_case(name.as_bytes()) {
            return Some(v.get(1..).unwrap_or_default().trim_ascii());
        }
    }
    None
}

/// Whether a comma-separated HTTP header value lists `token`
/// (case-insensitive).
fn lists_token(value: &[u8], token: &str) -> bool {
    value
        .split(|&b| b == b',')
        .any(|t| t.trim_ascii().eq_ignore_ascii_case(token.as_bytes()))
}

/// Whether `data` starts a WebSocket upgrade request for SIP (RFC 7118 §4):
/// `GET`, `Upgrade: websocket` and `sip` among the `Sec-WebSocket-Protocol`
/// values, all in these bytes.
pub fn is_sip_upgrade_request(data: &[u8]) -> bool {
    data.starts_with(b"GET ")
        && http_header(data, "upgrade").is_some_and(|v| lists_token(v, "websocket"))
        && http_header(data, "sec-websocket-protocol").is_some_and(|v| lists_token(v, "sip"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `sip-tcp/sip-websocket-and-udp.pcap` frame 11 starts with this header
    /// (frame 10 holds the first 1448 bytes of the frame): FIN, text, masked,
    /// 16-bit length 2210, then the key.
    const INVITE_FRAME_START: &[u8] = &[0x81, 0xfe, 0x08, 0xa2, 0x35, 0xba, 0x59, 0x9f];

    #[test]
    fn parses_masked_text_frame_with_16_bit_length() {
        let h = FrameHeader::parse(INVITE_FRAME_START).unwrap();
        assert!(h.fin && !h.rsv1);
        assert_eq!(h.opcode, Opcode::Text);
        assert_eq!(h.payload_len, 2210);
        assert_eq!(h.header_len, 8);
        assert_eq!(h.mask, Some([0x35, 0xba, 0x59, 0x9f]));
        assert_eq!(h.frame_len(), Some(2218));
    }

    #[test]
    fn incomplete_headers_say_what_they_need() {
        assert_eq!(
            FrameHeader::parse(&[]),
            Err(Error::Incomplete { needed: 2 })
        );
        assert_eq!(
            FrameHeader::parse(&INVITE_FRAME_START[..5]),
            Err(Error::Incomplete { needed: 8 })
        );
        assert_eq!(
            FrameHeader::parse(&[0x82, 127, 0, 0]),
            Err(Error::Incomplete { needed: 10 })
        );
    }

    #[test]
    fn lengths_7_16_64_bits_and_bad_ones() {
        // Made up: unmasked server frames.
        let h = FrameHeader::parse(&[0x81, 5, b'h']).unwrap();
        assert_eq!((h.payload_len, h.header_len, h.mask), (5, 2, None));
        let h = FrameHeader::parse(&[0x02, 127, 0, 0, 0, 1, 0, 0, 0, 0]).unwrap();
        assert_eq!((h.payload_len, h.fin), (1 << 32, false));
        assert_eq!(h.opcode, Opcode::Binary);
        assert_eq!(
            FrameHeader::parse(&[0x82, 127, 0x80, 0, 0, 0, 0, 0, 0, 0]),
            Err(Error::BadLength)
        );
        // Control frames: at most 125 bytes, never fragmented.
        assert_eq!(
            FrameHeader::parse(&[0x89, 126, 0, 200]),
            Err(Error::BadControlFrame)
        );
        assert_eq!(FrameHeader::parse(&[0x08, 0]), Err(Error::BadControlFrame));
        let h = FrameHeader::parse(&[0x88, 0x02, 0x03, 0xe8]).unwrap();
        assert_eq!(h.opcode, Opcode::Close);
        assert!(Opcode::Unknown(11).is_control() && !Opcode::Unknown(3).is_control());
        let h = FrameHeader::parse(&[0xc1, 0]).unwrap();
        assert!(h.rsv1);
    }

    #[test]
    fn unmask_is_an_involution_across_offsets() {
        // RFC 6455 §5.7: "Hello" masked with 37 fa 21 3d.
        let key = [0x37, 0xfa, 0x21, 0x3d];
        let mut data = [0x7f, 0x9f, 0x4d, 0x51, 0x58];
        unmask(&mut data, key, 0);
        assert_eq!(&data, b"Hello");
        let mut tail = *b"llo";
        unmask(&mut tail, key, 2);
        unmask(&mut tail, key, 2);
        assert_eq!(&tail, b"llo");
        let mut split = [0x7f, 0x9f, 0x4d, 0x51, 0x58];
        let (a, b) = split.split_at_mut(2);
        unmask(a, key, 0);
        unmask(b, key, 2);
        assert_eq!(&split, b"Hello");
    }

    /// `sip-tcp/sip-websocket-and-udp.pcap` frames 6 and 8, shortened (the
    /// cookies and browser headers left out).
    const UPGRADE: &[u8] = b"GET / HTTP/1.1\r\nHost: dev-mike.tncp.textnow.com\r\nUpgrade: websocket\r\nConnection: upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: gK2uT4WpKUz1ETyhNqgY3Q==\r\nSec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\nSec-WebSocket-Protocol: sip\r\n\r\n";
    const SWITCHING: &[u8] = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Protocol: sip\r\nSec-WebSocket-Accept: 73kZ5DOiufBXN3TwT4dTCGGEaYU=\r\n\r\n";

    #[test]
    fn recognises_the_sip_upgrade_handshake() {
        assert!(is_sip_upgrade_request(UPGRADE));
        assert!(starts_http(UPGRADE) && starts_http(SWITCHING));
        assert_eq!(http_header_len(UPGRADE), Some(UPGRADE.len()));
        assert_eq!(http_header_len(&UPGRADE[..40]), None);
        assert_eq!(http_status(SWITCHING), Some(101));
        assert_eq!(http_status(b"HTTP/1.1 4x4 No"), None);
        assert_eq!(
            http_header(SWITCHING, "SEC-WEBSOCKET-ACCEPT"),
            Some(&b"73kZ5DOiufBXN3TwT4dTCGGEaYU="[..])
        );
        // Made up: another subprotocol, or no upgrade at all.
        let other = String::from_utf8_lossy(UPGRADE).replace("Protocol: sip", "Protocol: mqtt");
        assert!(!is_sip_upgrade_request(other.as_bytes()));
        assert!(is_sip_upgrade_request(
            b"GET /ws HTTP/1.1\nupgrade: WebSocket\nsec-websocket-protocol: chat, SIP\n\n"
        ));
        assert!(!is_sip_upgrade_request(
            b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
        ));
        assert!(!is_sip_upgrade_request(SWITCHING));
    }
}
