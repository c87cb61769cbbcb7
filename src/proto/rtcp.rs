//! RTCP compound packets (RFC 3550 §6) and extended reports (RFC 3611 XR):
//! zero-copy views and small owned values.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! |V=2|P|  count  |  packet type  |   length (32-bit words − 1)   |   every packet
//! | body: (length × 4) bytes, the last `padding` of them padding  |
//! ```
//!
//! A UDP payload holds a *compound* of such packets back to back.
//! [`compound`] iterates over it; each item is a [`Packet`] view sized by
//! its own length field, and [`Packet::parse`] gives the typed [`Body`]:
//! SR (200), RR (201), SDES (202), BYE (203), APP (204), RTPFB (205),
//! PSFB (206) and XR (207); other types are [`Body::Unknown`], data rather
//! than an error.
//!
//! Contract: after [`Packet::new_checked`] succeeds no getter of the packet
//! panics, and after [`Packet::parse`] succeeds no getter or iterator of the
//! typed body panics or reads past the packet: every count (report blocks,
//! SSRCs, SDES chunks and items, XR blocks) has been checked against the
//! length before the view is handed out. Iteration is bounded by the bytes
//! and by named limits ([`MAX_COMPOUND_PACKETS`], [`MAX_SDES_ITEMS`],
//! [`MAX_XR_BLOCKS`]).
//!
//! Leniency, each on purpose: the first packet of a compound may be any type
//! (RFC 5506 reduced-size RTCP); padding is accepted on any packet, not only
//! the last; an SDES chunk that ends exactly at the end of the packet without
//! its null terminator is accepted (seen from broken stacks, and nothing is
//! ambiguous about it).

use super::bytes::{be_u16, be_u24, be_u32, be_u64};

mod field {
    use std::ops::Range;
    /// Common header.
    pub const FLAGS: usize = 0;
    pub const PACKET_TYPE: usize = 1;
    pub const LENGTH: Range<usize> = 2..4;

    /// Offsets inside a body (after the 4-byte common header).
    pub mod body {
        use std::ops::Range;
        /// SSRC of the sender: SR, RR, APP, RTPFB/PSFB, XR.
        pub const SSRC: Range<usize> = 0..4;
        /// SR sender info.
        pub const SR_NTP: Range<usize> = 4..12;
        pub const SR_RTP_TIMESTAMP: Range<usize> = 12..16;
        pub const SR_PACKET_COUNT: Range<usize> = 16..20;
        pub const SR_OCTET_COUNT: Range<usize> = 20..24;
        /// APP name, after the SSRC.
        pub const APP_NAME: Range<usize> = 4..8;
        /// RTPFB/PSFB media source, after the sender SSRC.
        pub const FB_MEDIA_SSRC: Range<usize> = 4..8;
    }

    /// A report block (RFC 3550 §6.4.1), 24 bytes.
    pub mod block {
        use std::ops::Range;
        pub const SSRC: Range<usize> = 0..4;
        pub const FRACTION_LOST: usize = 4;
        pub const CUMULATIVE_LOST: Range<usize> = 5..8;
        pub const EXTENDED_SEQ: Range<usize> = 8..12;
        pub const JITTER: Range<usize> = 12..16;
        pub const LSR: Range<usize> = 16..20;
        pub const DLSR: Range<usize> = 20..24;
    }

    /// An XR report block header (RFC 3611 §3).
    pub mod xr {
        use std::ops::Range;
        pub const BLOCK_TYPE: usize = 0;
        pub const TYPE_SPECIFIC: usize = 1;
        pub const BLOCK_LENGTH: Range<usize> = 2..4;
    }

    /// Statistics Summary block content (RFC 3611 §4.6), after the block header.
    pub mod stats {
        use std::ops::Range;
        pub const SSRC: Range<usize> = 0..4;
        pub const BEGIN_SEQ: Range<usize> = 4..6;
        pub const END_SEQ: Range<usize> = 6..8;
        pub const LOST: Range<usize> = 8..12;
        pub const DUP: Range<usize> = 12..16;
        pub const MIN_JITTER: Range<usize> = 16..20;
        pub const MAX_JITTER: Range<usize> = 20..24;
        pub const MEAN_JITTER: Range<usize> = 24..28;
        pub const DEV_JITTER: Range<usize> = 28..32;
        pub const MIN_TTL: usize = 32;
        pub const MAX_TTL: usize = 33;
        pub const MEAN_TTL: usize = 34;
        pub const DEV_TTL: usize = 35;
    }

    /// VoIP Metrics block content (RFC 3611 §4.7), after the block header.
    pub mod voip {
        use std::ops::Range;
        pub const SSRC: Range<usize> = 0..4;
        pub const LOSS_RATE: usize = 4;
        pub const DISCARD_RATE: usize = 5;
        pub const BURST_DENSITY: usize = 6;
        pub const GAP_DENSITY: usize = 7;
        pub const BURST_DURATION: Range<usize> = 8..10;
        pub const GAP_DURATION: Range<usize> = 10..12;
        pub const ROUND_TRIP_DELAY: Range<usize> = 12..14;
        pub const END_SYSTEM_DELAY: Range<usize> = 14..16;
        pub const SIGNAL_LEVEL: usize = 16;
        pub const NOISE_LEVEL: usize = 17;
        pub const RERL: usize = 18;
        pub const GMIN: usize = 19;
        pub const R_FACTOR: usize = 20;
        pub const EXT_R_FACTOR: usize = 21;
        pub const MOS_LQ: usize = 22;
        pub const MOS_CQ: usize = 23;
        pub const RX_CONFIG: usize = 24;
        pub const JB_NOMINAL: Range<usize> = 26..28;
        pub const JB_MAXIMUM: Range<usize> = 28..30;
        pub const JB_ABS_MAX: Range<usize> = 30..32;
    }

    /// Receiver Reference Time block content (RFC 3611 §4.4).
    pub mod rrt {
        use std::ops::Range;
        pub const NTP: Range<usize> = 0..8;
    }

    /// One DLRR sub-block (RFC 3611 §4.5), 12 bytes.
    pub mod dlrr {
        use std::ops::Range;
        pub const SSRC: Range<usize> = 0..4;
        pub const LRR: Range<usize> = 4..8;
        pub const DLRR: Range<usize> = 8..12;
    }
}

/// Length of the common header of every RTCP packet.
pub const HEADER_LEN: usize = field::LENGTH.end;
/// Length of an SR body before its report blocks (sender SSRC + sender info).
pub const SR_FIXED_LEN: usize = field::body::SR_OCTET_COUNT.end;
/// Length of an RR body before its report blocks (sender SSRC).
pub const RR_FIXED_LEN: usize = field::body::SSRC.end;
/// Length of one report block.
pub const REPORT_BLOCK_LEN: usize = field::block::DLSR.end;
/// Length of an XR block header.
pub const XR_BLOCK_HEADER_LEN: usize = field::xr::BLOCK_LENGTH.end;
/// Content length (after the block header) of a Statistics Summary block.
pub const STATISTICS_SUMMARY_LEN: usize = field::stats::DEV_TTL + 1;
/// Content length (after the block header) of a VoIP Metrics block.
pub const VOIP_METRICS_LEN: usize = field::voip::JB_ABS_MAX.end;
/// Content length of a Receiver Reference Time block.
pub const RRT_LEN: usize = field::rrt::NTP.end;
/// Length of one DLRR sub-block.
pub const DLRR_ITEM_LEN: usize = field::dlrr::DLRR.end;

/// Packets read from one compound at most. Real compounds hold 2–4; a
/// 1500-byte datagram could hold 375 empty ones, which is only noise.
pub const MAX_COMPOUND_PACKETS: usize = 64;
/// Items per SDES chunk at most. RFC 3550 defines 8 item types; only PRIV may
/// repeat, and no stack sends more than a handful.
pub const MAX_SDES_ITEMS: usize = 16;
/// Report blocks per XR packet at most (RFC 3611 defines 7 types).
pub const MAX_XR_BLOCKS: usize = 32;

/// The value RFC 3611 §4.7.4–§4.7.5 use for "this parameter is unavailable"
/// in the 8-bit signal, echo and quality fields of the VoIP Metrics block.
pub const XR_UNAVAILABLE: u8 = 127;

/// Why bytes are not a valid RTCP compound packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// Fewer bytes than a header, or than a body's fixed part.
    #[error("shorter than the RTCP header or the packet's fixed fields")]
    TooShort,
    /// Version field is not 2.
    #[error("RTCP version is not 2")]
    BadVersion,
    /// The length field runs past the end of the datagram.
    #[error("RTCP length field runs past the end of the datagram")]
    BadLength,
    /// The padding count is zero or larger than the body.
    #[error("RTCP padding count is zero or larger than the body")]
    BadPadding,
    /// The count field asks for more report blocks, SSRCs or chunks than fit.
    #[error("RTCP count field asks for more than the packet holds")]
    BadCount,
    /// An SDES chunk or item runs past the end of the packet.
    #[error("SDES chunk or item runs past the end of the packet")]
    BadSdes,
    /// An SDES chunk has more items than [`MAX_SDES_ITEMS`].
    #[error("SDES chunk has too many items")]
    TooManyItems,
    /// The BYE reason runs past the end of the packet.
    #[error("BYE reason runs past the end of the packet")]
    BadReason,
    /// An XR block runs past the end, or is too short for its type.
    #[error("XR report block runs past the end or is too short for its type")]
    BadXrBlock,
    /// An XR packet has more blocks than [`MAX_XR_BLOCKS`].
    #[error("XR packet has too many report blocks")]
    TooManyBlocks,
    /// A compound has more packets than [`MAX_COMPOUND_PACKETS`].
    #[error("RTCP compound has too many packets")]
    TooManyPackets,
}

impl Error {
    /// Stable label for counters.
    pub fn reason(self) -> &'static str {
        match self {
            Error::TooShort => "too_short",
            Error::BadVersion => "bad_version",
            Error::BadLength => "bad_length",
            Error::BadPadding => "bad_padding",
            Error::BadCount => "bad_count",
            Error::BadSdes => "bad_sdes",
            Error::TooManyItems => "too_many_items",
            Error::BadReason => "bad_reason",
            Error::BadXrBlock => "bad_xr_block",
            Error::TooManyBlocks => "too_many_blocks",
            Error::TooManyPackets => "too_many_packets",
        }
    }
}

/// RTCP packet types (RFC 3550 §12.1, RFC 4585 §6.1, RFC 3611 §2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PacketType {
    /// 200, sender report.
    SenderReport,
    /// 201, receiver report.
    ReceiverReport,
    /// 202, source description.
    SourceDescription,
    /// 203, goodbye.
    Goodbye,
    /// 204, application-defined.
    App,
    /// 205, transport-layer feedback (RFC 4585).
    TransportFeedback,
    /// 206, payload-specific feedback (RFC 4585).
    PayloadFeedback,
    /// 207, extended report (RFC 3611).
    ExtendedReport,
    /// Any other value.
    Unknown(u8),
}

impl From<u8> for PacketType {
    fn from(v: u8) -> Self {
        match v {
            200 => PacketType::SenderReport,
            201 => PacketType::ReceiverReport,
            202 => PacketType::SourceDescription,
            203 => PacketType::Goodbye,
            204 => PacketType::App,
            205 => PacketType::TransportFeedback,
            206 => PacketType::PayloadFeedback,
            207 => PacketType::ExtendedReport,
            n => PacketType::Unknown(n),
        }
    }
}

impl From<PacketType> for u8 {
    fn from(t: PacketType) -> u8 {
        match t {
            PacketType::SenderReport => 200,
            PacketType::ReceiverReport => 201,
            PacketType::SourceDescription => 202,
            PacketType::Goodbye => 203,
            PacketType::App => 204,
            PacketType::TransportFeedback => 205,
            PacketType::PayloadFeedback => 206,
            PacketType::ExtendedReport => 207,
            PacketType::Unknown(n) => n,
        }
    }
}

/// A read-only view of one RTCP packet: the common header and a body sized
/// by the length field (bytes after it belong to the next packet).
#[derive(Clone, Copy, Debug)]
pub struct Packet<T: AsRef<[u8]>> {
    buf: T,
    len: usize,
    padding_len: usize,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Checks the header, that the length fits in `buf`, and the padding.
    /// `buf` may be longer than the packet (the rest of a compound).
    ///
    /// # Errors
    /// `TooShort` below 4 bytes, `BadVersion`, `BadLength` when the length
    /// field runs past `buf`, `BadPadding` when the padding count is 0 or
    /// larger than the body.
    pub fn new_checked(buf: T) -> Result<Self, Error> {
        let b = buf.as_ref();
        let header = b.get(..HEADER_LEN).ok_or(Error::TooShort)?;
        if header[field::FLAGS] >> 6 != 2 {
            return Err(Error::BadVersion);
        }
        let len = (usize::from(be_u16(&header[field::LENGTH])) + 1) * 4;
        let packet = b.get(..len).ok_or(Error::BadLength)?;
        let mut padding_len = 0;
        if header[field::FLAGS] & 0x20 != 0 {
            // RFC 3550 §6.4.1: the last octet counts the padding, itself included.
            padding_len = usize::from(packet.last().copied().unwrap_or(0));
            if padding_len == 0 || HEADER_LEN + padding_len > len {
                return Err(Error::BadPadding);
            }
        }
        Ok(Packet {
            buf,
            len,
            padding_len,
        })
    }

    /// Version (always 2 after `new_checked`).
    pub fn version(&self) -> u8 {
        self.buf.as_ref()[field::FLAGS] >> 6
    }

    /// Padding bit.
    pub fn has_padding(&self) -> bool {
        self.buf.as_ref()[field::FLAGS] & 0x20 != 0
    }

    /// The 5-bit count: report blocks (SR, RR), chunks (SDES), SSRCs (BYE),
    /// subtype (APP) or feedback message type (RTPFB, PSFB).
    pub fn count(&self) -> u8 {
        self.buf.as_ref()[field::FLAGS] & 0x1f
    }

    /// Packet type.
    pub fn packet_type(&self) -> PacketType {
        PacketType::from(self.buf.as_ref()[field::PACKET_TYPE])
    }

    /// The length field: packet length in 32-bit words minus one.
    pub fn length_words(&self) -> u16 {
        be_u16(&self.buf.as_ref()[field::LENGTH])
    }

    /// Length of this packet in bytes, header and padding included.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Always false: a packet holds at least its header.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Padding bytes at the end (0 without the P bit).
    pub fn padding_len(&self) -> usize {
        self.padding_len
    }
}

impl<'a> Packet<&'a [u8]> {
    /// This packet's bytes, header and padding included.
    pub fn as_bytes(&self) -> &'a [u8] {
        &self.buf[..self.len]
    }

    /// The body: after the 4-byte header, without padding.
    pub fn body(&self) -> &'a [u8] {
        &self.buf[HEADER_LEN..self.len - self.padding_len]
    }

    /// The typed body, with every count checked against the length.
    ///
    /// # Errors
    /// `TooShort` when the body lacks the type's fixed fields, `BadCount`
    /// when the count does not fit, and the type-specific errors.
    pub fn parse(&self) -> Result<Body<'a>, Error> {
        let body = self.body();
        let count = self.count();
        Ok(match self.packet_type() {
            PacketType::SenderReport => Body::SenderReport(SenderReport::new_checked(body, count)?),
            PacketType::ReceiverReport => {
                Body::ReceiverReport(ReceiverReport::new_checked(body, count)?)
            }
            PacketType::SourceDescription => {
                Body::SourceDescription(Sdes::new_checked(body, count)?)
            }
            PacketType::Goodbye => Body::Goodbye(Bye::new_checked(body, count)?),
            PacketType::App => Body::App(App::new_checked(body, count)?),
            PacketType::TransportFeedback => {
                Body::TransportFeedback(Feedback::new_checked(body, count)?)
            }
            PacketType::PayloadFeedback => {
                Body::PayloadFeedback(Feedback::new_checked(body, count)?)
            }
            PacketType::ExtendedReport => Body::ExtendedReport(ExtendedReport::new_checked(body)?),
            PacketType::Unknown(n) => Body::Unknown(n),
        })
    }
}

/// Whether every packet of a compound parses (at least one packet): the test
/// for RTCP found by heuristic, before anything is counted.
pub fn is_valid_compound(bytes: &[u8]) -> bool {
    let mut packets = 0;
    for item in compound(bytes) {
        match item.and_then(|p| p.parse()) {
            Ok(_) => packets += 1,
            Err(_) => return false,
        }
    }
    packets > 0
}

/// Iterates over the packets of a compound.
///
/// Yields `Err` once and then stops when a packet's header or length is bad,
/// or after [`MAX_COMPOUND_PACKETS`] packets; packets before it were valid.
/// An empty input yields nothing.
///
/// Fewer than 4 bytes left after at least one valid packet are not an error:
/// some relays append stray bytes to the compound they forward (seen in
/// `rtcp/sip-g711a-rtcp-sr-rr-noise.pcap`, frames 529 and 531). Iteration ends
/// there and [`Compound::trailing_len`] tells how many were left.
pub fn compound(bytes: &[u8]) -> Compound<'_> {
    Compound {
        rest: bytes,
        packets: 0,
        trailing: 0,
        done: false,
    }
}

/// Iterator returned by [`compound`].
#[derive(Clone, Debug)]
pub struct Compound<'a> {
    rest: &'a [u8],
    packets: usize,
    trailing: usize,
    done: bool,
}

impl Compound<'_> {
    /// Stray bytes (fewer than a packet header) found after the last packet.
    pub fn trailing_len(&self) -> usize {
        self.trailing
    }
}

impl<'a> Iterator for Compound<'a> {
    type Item = Result<Packet<&'a [u8]>, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done || self.rest.is_empty() {
            return None;
        }
        if self.packets > 0 && self.rest.len() < HEADER_LEN {
            self.trailing = self.rest.len();
            self.done = true;
            return None;
        }
        if self.packets == MAX_COMPOUND_PACKETS {
            self.done = true;
            return Some(Err(Error::TooManyPackets));
        }
        match Packet::new_checked(self.rest) {
            Ok(p) => {
                let (this, rest) = self.rest.split_at(p.len());
                self.rest = rest;
                self.packets += 1;
                Some(Ok(Packet {
                    buf: this,
                    len: p.len,
                    padding_len: p.padding_len,
                }))
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

/// The typed body of one RTCP packet.
#[derive(Clone, Copy, Debug)]
pub enum Body<'a> {
    /// 200.
    SenderReport(SenderReport<'a>),
    /// 201.
    ReceiverReport(ReceiverReport<'a>),
    /// 202.
    SourceDescription(Sdes<'a>),
    /// 203.
    Goodbye(Bye<'a>),
    /// 204.
    App(App<'a>),
    /// 205.
    TransportFeedback(Feedback<'a>),
    /// 206.
    PayloadFeedback(Feedback<'a>),
    /// 207.
    ExtendedReport(ExtendedReport<'a>),
    /// Another packet type, skipped by its length.
    Unknown(u8),
}

/// Checks that `count` report blocks fit after `fixed` bytes of `body`, and
/// returns the blocks' bytes.
fn report_block_area(body: &[u8], fixed: usize, count: u8) -> Result<&[u8], Error> {
    if body.len() < fixed {
        return Err(Error::TooShort);
    }
    let end = fixed + REPORT_BLOCK_LEN * usize::from(count);
    body.get(fixed..end).ok_or(Error::BadCount)
}

/// Sender report (RFC 3550 §6.4.1).
#[derive(Clone, Copy, Debug)]
pub struct SenderReport<'a> {
    body: &'a [u8],
    blocks: &'a [u8],
}

impl<'a> SenderReport<'a> {
    /// Checks that the sender info and `count` report blocks fit in `body`.
    ///
    /// # Errors
    /// `TooShort` without the 24-byte sender part, `BadCount` when the
    /// report blocks do not fit.
    pub fn new_checked(body: &'a [u8], count: u8) -> Result<Self, Error> {
        let blocks = report_block_area(body, SR_FIXED_LEN, count)?;
        Ok(SenderReport { body, blocks })
    }

    /// SSRC of the sender.
    pub fn ssrc(&self) -> u32 {
        be_u32(&self.body[field::body::SSRC])
    }

    /// 64-bit NTP timestamp (seconds since 1900 in the high 32 bits).
    pub fn ntp_timestamp(&self) -> u64 {
        be_u64(&self.body[field::body::SR_NTP])
    }

    /// The middle 32 bits of the NTP timestamp, which receivers echo as LSR.
    pub fn ntp_middle(&self) -> u32 {
        ntp_middle(self.ntp_timestamp())
    }

    /// RTP timestamp matching the NTP timestamp.
    pub fn rtp_timestamp(&self) -> u32 {
        be_u32(&self.body[field::body::SR_RTP_TIMESTAMP])
    }

    /// Sender's packet count.
    pub fn packet_count(&self) -> u32 {
        be_u32(&self.body[field::body::SR_PACKET_COUNT])
    }

    /// Sender's octet count.
    pub fn octet_count(&self) -> u32 {
        be_u32(&self.body[field::body::SR_OCTET_COUNT])
    }

    /// The report blocks.
    pub fn report_blocks(&self) -> ReportBlocks<'a> {
        ReportBlocks {
            chunks: self.blocks.chunks_exact(REPORT_BLOCK_LEN),
        }
    }

    /// Profile-specific extension after the report blocks (usually empty).
    pub fn extension(&self) -> &'a [u8] {
        &self.body[SR_FIXED_LEN + self.blocks.len()..]
    }
}

/// The middle 32 bits of a 64-bit NTP timestamp (RFC 3550 §6.4.1 LSR).
pub fn ntp_middle(ntp: u64) -> u32 {
    ((ntp >> 16) & 0xffff_ffff) as u32
}

/// Receiver report (RFC 3550 §6.4.2).
#[derive(Clone, Copy, Debug)]
pub struct ReceiverReport<'a> {
    body: &'a [u8],
    blocks: &'a [u8],
}

impl<'a> ReceiverReport<'a> {
    /// Checks that the sender SSRC and `count` report blocks fit in `body`.
    ///
    /// # Errors
    /// `TooShort` without the SSRC, `BadCount` when the blocks do not fit.
    pub fn new_checked(body: &'a [u8], count: u8) -> Result<Self, Error> {
        let blocks = report_block_area(body, RR_FIXED_LEN, count)?;
        Ok(ReceiverReport { body, blocks })
    }

    /// SSRC of the reporter.
    pub fn ssrc(&self) -> u32 {
        be_u32(&self.body[field::body::SSRC])
    }

    /// The report blocks.
    pub fn report_blocks(&self) -> ReportBlocks<'a> {
        ReportBlocks {
            chunks: self.blocks.chunks_exact(REPORT_BLOCK_LEN),
        }
    }

    /// Profile-specific extension after the report blocks (usually empty).
    pub fn extension(&self) -> &'a [u8] {
        &self.body[RR_FIXED_LEN + self.blocks.len()..]
    }
}

/// Iterator over the report blocks of an SR or RR.
#[derive(Clone, Debug)]
pub struct ReportBlocks<'a> {
    chunks: std::slice::ChunksExact<'a, u8>,
}

impl<'a> Iterator for ReportBlocks<'a> {
    type Item = ReportBlock<'a>;

    fn next(&mut self) -> Option<Self::Item> {
        self.chunks.next().map(|buf| ReportBlock { buf })
    }
}

/// One report block (RFC 3550 §6.4.1): what a receiver says about one source.
#[derive(Clone, Copy, Debug)]
pub struct ReportBlock<'a> {
    buf: &'a [u8],
}

impl<'a> ReportBlock<'a> {
    /// A view over the first 24 bytes of `buf`.
    ///
    /// # Errors
    /// `TooShort` below 24 bytes.
    pub fn new_checked(buf: &'a [u8]) -> Result<Self, Error> {
        buf.get(..REPORT_BLOCK_LEN)
            .map(|buf| ReportBlock { buf })
            .ok_or(Error::TooShort)
    }

    /// SSRC of the source this block is about.
    pub fn ssrc(&self) -> u32 {
        be_u32(&self.buf[field::block::SSRC])
    }

    /// Fraction lost since the previous report, in 256ths.
    pub fn fraction_lost(&self) -> u8 {
        self.buf[field::block::FRACTION_LOST]
    }

    /// Cumulative packets lost: a signed 24-bit value (negative with duplicates).
    pub fn cumulative_lost(&self) -> i32 {
        let v = be_u24(&self.buf[field::block::CUMULATIVE_LOST]);
        // Sign-extend 24 → 32 bits.
        ((v << 8) as i32) >> 8
    }

    /// Extended highest sequence number received.
    pub fn extended_highest_seq(&self) -> u32 {
        be_u32(&self.buf[field::block::EXTENDED_SEQ])
    }

    /// Interarrival jitter in RTP timestamp units.
    pub fn jitter(&self) -> u32 {
        be_u32(&self.buf[field::block::JITTER])
    }

    /// Last SR timestamp: middle 32 bits of the NTP time of the last SR from
    /// the source (0 when none was received).
    pub fn lsr(&self) -> u32 {
        be_u32(&self.buf[field::block::LSR])
    }

    /// Delay since that SR, in 1/65536 s.
    pub fn dlsr(&self) -> u32 {
        be_u32(&self.buf[field::block::DLSR])
    }

    /// The owned values.
    pub fn repr(&self) -> ReportBlockRepr {
        ReportBlockRepr {
            ssrc: self.ssrc(),
            fraction_lost: self.fraction_lost(),
            cumulative_lost: self.cumulative_lost(),
            extended_highest_seq: self.extended_highest_seq(),
            jitter: self.jitter(),
            lsr: self.lsr(),
            dlsr: self.dlsr(),
        }
    }
}

/// The owned values of a report block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReportBlockRepr {
    /// Source the block is about.
    pub ssrc: u32,
    /// Fraction lost, in 256ths.
    pub fraction_lost: u8,
    /// Cumulative lost (signed 24-bit).
    pub cumulative_lost: i32,
    /// Extended highest sequence number received.
    pub extended_highest_seq: u32,
    /// Interarrival jitter, RTP timestamp units.
    pub jitter: u32,
    /// Last SR timestamp (middle 32 bits of its NTP time).
    pub lsr: u32,
    /// Delay since last SR, 1/65536 s.
    pub dlsr: u32,
}

/// Source description (RFC 3550 §6.5): chunks of (SSRC, items).
#[derive(Clone, Copy, Debug)]
pub struct Sdes<'a> {
    body: &'a [u8],
    count: u8,
}

/// Walks one SDES chunk starting at `start`; returns the chunk and where the
/// next one starts.
fn sdes_chunk(body: &[u8], start: usize) -> Result<(SdesChunk<'_>, usize), Error> {
    let ssrc = body.get(start..start + 4).ok_or(Error::BadCount)?;
    let items_start = start + 4;
    let mut pos = items_start;
    let mut items = 0;
    let items_end;
    loop {
        match body.get(pos) {
            // Lenient: the chunk ends with the packet, without its null octet.
            None => {
                items_end = pos;
                break;
            }
            Some(0) => {
                items_end = pos;
                pos += 1;
                break;
            }
            Some(_) => {
                let len = usize::from(*body.get(pos + 1).ok_or(Error::BadSdes)?);
                let end = pos + 2 + len;
                if end > body.len() {
                    return Err(Error::BadSdes);
                }
                items += 1;
                if items > MAX_SDES_ITEMS {
                    return Err(Error::TooManyItems);
                }
                pos = end;
            }
        }
    }
    // Null octets pad the chunk to a 32-bit boundary (the body starts on one).
    let next = pos.next_multiple_of(4).min(body.len());
    let chunk = SdesChunk {
        ssrc: be_u32(ssrc),
        items: &body[items_start..items_end],
    };
    Ok((chunk, next))
}

impl<'a> Sdes<'a> {
    /// Walks every chunk and item once to check them.
    ///
    /// # Errors
    /// `BadCount` when fewer than `count` chunks are present, `BadSdes` when
    /// an item runs past the end, `TooManyItems` past [`MAX_SDES_ITEMS`].
    pub fn new_checked(body: &'a [u8], count: u8) -> Result<Self, Error> {
        let mut pos = 0;
        for _ in 0..count {
            pos = sdes_chunk(body, pos)?.1;
        }
        Ok(Sdes { body, count })
    }

    /// The chunks.
    pub fn chunks(&self) -> SdesChunks<'a> {
        SdesChunks {
            body: self.body,
            pos: 0,
            left: self.count,
        }
    }
}

/// Iterator over SDES chunks.
#[derive(Clone, Debug)]
pub struct SdesChunks<'a> {
    body: &'a [u8],
    pos: usize,
    left: u8,
}

impl<'a> Iterator for SdesChunks<'a> {
    type Item = SdesChunk<'a>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        // Checked by `Sdes::new_checked`; a failure here just ends the walk.
        match sdes_chunk(self.body, self.pos) {
            Ok((chunk, next)) => {
                self.pos = next;
                Some(chunk)
            }
            Err(_) => {
                self.left = 0;
                None
            }
        }
    }
}

/// One SDES chunk: an SSRC and its items.
#[derive(Clone, Copy, Debug)]
pub struct SdesChunk<'a> {
    ssrc: u32,
    items: &'a [u8],
}

impl<'a> SdesChunk<'a> {
    /// SSRC or CSRC described.
    pub fn ssrc(&self) -> u32 {
        self.ssrc
    }

    /// The items (without the terminating null).
    pub fn items(&self) -> SdesItems<'a> {
        SdesItems { rest: self.items }
    }

    /// The CNAME item's text, if present (may be empty).
    pub fn cname(&self) -> Option<&'a [u8]> {
        self.items()
            .find(|i| i.item_type == SDES_CNAME)
            .map(|i| i.value)
    }
}

/// SDES item type of CNAME.
pub const SDES_CNAME: u8 = 1;

/// Iterator over SDES items; bounded by the checked bytes of the chunk.
#[derive(Clone, Debug)]
pub struct SdesItems<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for SdesItems<'a> {
    type Item = SdesItem<'a>;

    fn next(&mut self) -> Option<Self::Item> {
        let (&item_type, rest) = self.rest.split_first()?;
        let (&len, rest) = rest.split_first()?;
        let value = rest.get(..usize::from(len))?;
        self.rest = &rest[value.len()..];
        Some(SdesItem { item_type, value })
    }
}

/// One SDES item.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SdesItem<'a> {
    /// 1 CNAME, 2 NAME, 3 EMAIL, 4 PHONE, 5 LOC, 6 TOOL, 7 NOTE, 8 PRIV.
    pub item_type: u8,
    /// The text (UTF-8 by the RFC, not checked).
    pub value: &'a [u8],
}

/// Goodbye (RFC 3550 §6.6).
#[derive(Clone, Copy, Debug)]
pub struct Bye<'a> {
    ssrcs: &'a [u8],
    reason: Option<&'a [u8]>,
}

impl<'a> Bye<'a> {
    /// Checks that `count` SSRCs and the optional reason fit.
    ///
    /// # Errors
    /// `BadCount` when the SSRCs do not fit, `BadReason` when the reason's
    /// length octet runs past the end.
    pub fn new_checked(body: &'a [u8], count: u8) -> Result<Self, Error> {
        let n = 4 * usize::from(count);
        let ssrcs = body.get(..n).ok_or(Error::BadCount)?;
        let reason = match body.get(n) {
            None | Some(0) => None,
            Some(&len) => Some(
                body.get(n + 1..n + 1 + usize::from(len))
                    .ok_or(Error::BadReason)?,
            ),
        };
        Ok(Bye { ssrcs, reason })
    }

    /// The SSRCs leaving.
    pub fn ssrcs(&self) -> impl Iterator<Item = u32> + 'a {
        self.ssrcs.chunks_exact(4).map(be_u32)
    }

    /// The reason for leaving, if given.
    pub fn reason(&self) -> Option<&'a [u8]> {
        self.reason
    }
}

/// Application-defined packet (RFC 3550 §6.7): only the header is read.
#[derive(Clone, Copy, Debug)]
pub struct App<'a> {
    body: &'a [u8],
    subtype: u8,
}

impl<'a> App<'a> {
    /// Checks that the SSRC and name fit.
    ///
    /// # Errors
    /// `TooShort` below 8 bytes.
    pub fn new_checked(body: &'a [u8], subtype: u8) -> Result<Self, Error> {
        if body.len() < field::body::APP_NAME.end {
            return Err(Error::TooShort);
        }
        Ok(App { body, subtype })
    }

    /// Subtype (the count field).
    pub fn subtype(&self) -> u8 {
        self.subtype
    }

    /// SSRC of the sender.
    pub fn ssrc(&self) -> u32 {
        be_u32(&self.body[field::body::SSRC])
    }

    /// The four-character name.
    pub fn name(&self) -> [u8; 4] {
        let mut name = [0u8; 4];
        name.copy_from_slice(&self.body[field::body::APP_NAME]);
        name
    }

    /// Application data.
    pub fn data(&self) -> &'a [u8] {
        &self.body[field::body::APP_NAME.end..]
    }
}

/// RTPFB/PSFB feedback message (RFC 4585 §6.1): only the header is read.
#[derive(Clone, Copy, Debug)]
pub struct Feedback<'a> {
    body: &'a [u8],
    fmt: u8,
}

impl<'a> Feedback<'a> {
    /// Checks that both SSRCs fit.
    ///
    /// # Errors
    /// `TooShort` below 8 bytes.
    pub fn new_checked(body: &'a [u8], fmt: u8) -> Result<Self, Error> {
        if body.len() < field::body::FB_MEDIA_SSRC.end {
            return Err(Error::TooShort);
        }
        Ok(Feedback { body, fmt })
    }

    /// Feedback message type (the count field).
    pub fn fmt(&self) -> u8 {
        self.fmt
    }

    /// SSRC of the packet sender.
    pub fn sender_ssrc(&self) -> u32 {
        be_u32(&self.body[field::body::SSRC])
    }

    /// SSRC of the media source.
    pub fn media_ssrc(&self) -> u32 {
        be_u32(&self.body[field::body::FB_MEDIA_SSRC])
    }

    /// Feedback control information.
    pub fn fci(&self) -> &'a [u8] {
        &self.body[field::body::FB_MEDIA_SSRC.end..]
    }
}

/// XR report block types (RFC 3611 §4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum XrBlockType {
    /// 1, loss RLE.
    LossRle,
    /// 2, duplicate RLE.
    DuplicateRle,
    /// 3, packet receipt times.
    PacketReceiptTimes,
    /// 4, receiver reference time.
    ReceiverReferenceTime,
    /// 5, DLRR.
    Dlrr,
    /// 6, statistics summary.
    StatisticsSummary,
    /// 7, VoIP metrics.
    VoipMetrics,
    /// Any other block type, skipped by its length.
    Unknown(u8),
}

impl From<u8> for XrBlockType {
    fn from(v: u8) -> Self {
        match v {
            1 => XrBlockType::LossRle,
            2 => XrBlockType::DuplicateRle,
            3 => XrBlockType::PacketReceiptTimes,
            4 => XrBlockType::ReceiverReferenceTime,
            5 => XrBlockType::Dlrr,
            6 => XrBlockType::StatisticsSummary,
            7 => XrBlockType::VoipMetrics,
            n => XrBlockType::Unknown(n),
        }
    }
}

/// Extended report (RFC 3611 §2): reporter SSRC and report blocks.
#[derive(Clone, Copy, Debug)]
pub struct ExtendedReport<'a> {
    body: &'a [u8],
}

/// Splits the next XR block off `rest`: `(block, rest)`.
fn xr_block(rest: &[u8]) -> Result<(XrBlock<'_>, &[u8]), Error> {
    let header = rest.get(..XR_BLOCK_HEADER_LEN).ok_or(Error::BadXrBlock)?;
    let content_len = 4 * usize::from(be_u16(&header[field::xr::BLOCK_LENGTH]));
    let end = XR_BLOCK_HEADER_LEN + content_len;
    let content = rest
        .get(XR_BLOCK_HEADER_LEN..end)
        .ok_or(Error::BadXrBlock)?;
    let block = XrBlock {
        block_type: header[field::xr::BLOCK_TYPE],
        type_specific: header[field::xr::TYPE_SPECIFIC],
        content,
    };
    // The blocks this module reads must be long enough for their fields.
    let fits = match block.kind() {
        XrBlockType::ReceiverReferenceTime => content_len >= RRT_LEN,
        XrBlockType::Dlrr => content_len % DLRR_ITEM_LEN == 0,
        XrBlockType::StatisticsSummary => content_len >= STATISTICS_SUMMARY_LEN,
        XrBlockType::VoipMetrics => content_len >= VOIP_METRICS_LEN,
        _ => true,
    };
    if !fits {
        return Err(Error::BadXrBlock);
    }
    Ok((block, &rest[end..]))
}

impl<'a> ExtendedReport<'a> {
    /// Walks every block once to check its length.
    ///
    /// # Errors
    /// `TooShort` without the reporter SSRC, `BadXrBlock` when a block runs
    /// past the end or is too short for its type, `TooManyBlocks` past
    /// [`MAX_XR_BLOCKS`].
    pub fn new_checked(body: &'a [u8]) -> Result<Self, Error> {
        let mut rest = body.get(field::body::SSRC.end..).ok_or(Error::TooShort)?;
        let mut blocks = 0;
        while !rest.is_empty() {
            blocks += 1;
            if blocks > MAX_XR_BLOCKS {
                return Err(Error::TooManyBlocks);
            }
            rest = xr_block(rest)?.1;
        }
        Ok(ExtendedReport { body })
    }

    /// SSRC of the reporter.
    pub fn ssrc(&self) -> u32 {
        be_u32(&self.body[field::body::SSRC])
    }

    /// The report blocks.
    pub fn blocks(&self) -> XrBlocks<'a> {
        XrBlocks {
            rest: &self.body[field::body::SSRC.end..],
        }
    }
}

/// Iterator over XR report blocks.
#[derive(Clone, Debug)]
pub struct XrBlocks<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for XrBlocks<'a> {
    type Item = XrBlock<'a>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        // Checked by `ExtendedReport::new_checked`; a failure just ends the walk.
        match xr_block(self.rest) {
            Ok((block, rest)) => {
                self.rest = rest;
                Some(block)
            }
            Err(_) => {
                self.rest = &[];
                None
            }
        }
    }
}

/// One XR report block: header and content.
#[derive(Clone, Copy, Debug)]
pub struct XrBlock<'a> {
    block_type: u8,
    type_specific: u8,
    content: &'a [u8],
}

impl<'a> XrBlock<'a> {
    /// Block type (BT).
    pub fn block_type(&self) -> u8 {
        self.block_type
    }

    /// Block type as an enum.
    pub fn kind(&self) -> XrBlockType {
        XrBlockType::from(self.block_type)
    }

    /// The type-specific octet.
    pub fn type_specific(&self) -> u8 {
        self.type_specific
    }

    /// Block length field: content length in 32-bit words.
    pub fn length_words(&self) -> usize {
        self.content.len() / 4
    }

    /// The content after the 4-byte block header.
    pub fn content(&self) -> &'a [u8] {
        self.content
    }

    /// The Statistics Summary block (type 6), if this is one.
    pub fn statistics_summary(&self) -> Option<StatisticsSummary<'a>> {
        (self.kind() == XrBlockType::StatisticsSummary
            && self.content.len() >= STATISTICS_SUMMARY_LEN)
            .then_some(StatisticsSummary {
                flags: self.type_specific,
                buf: self.content,
            })
    }

    /// The VoIP Metrics block (type 7), if this is one.
    pub fn voip_metrics(&self) -> Option<VoipMetrics<'a>> {
        (self.kind() == XrBlockType::VoipMetrics && self.content.len() >= VOIP_METRICS_LEN)
            .then_some(VoipMetrics { buf: self.content })
    }

    /// The NTP timestamp of a Receiver Reference Time block (type 4).
    pub fn receiver_reference_time(&self) -> Option<u64> {
        if self.kind() != XrBlockType::ReceiverReferenceTime {
            return None;
        }
        self.content.get(field::rrt::NTP).map(be_u64)
    }

    /// The sub-blocks of a DLRR block (type 5); empty for other types.
    pub fn dlrr(&self) -> DlrrItems<'a> {
        let buf = if self.kind() == XrBlockType::Dlrr {
            self.content
        } else {
            &[]
        };
        DlrrItems {
            chunks: buf.chunks_exact(DLRR_ITEM_LEN),
        }
    }
}

/// Iterator over DLRR sub-blocks.
#[derive(Clone, Debug)]
pub struct DlrrItems<'a> {
    chunks: std::slice::ChunksExact<'a, u8>,
}

impl Iterator for DlrrItems<'_> {
    type Item = DlrrItem;

    fn next(&mut self) -> Option<Self::Item> {
        self.chunks.next().map(|b| DlrrItem {
            ssrc: be_u32(&b[field::dlrr::SSRC]),
            lrr: be_u32(&b[field::dlrr::LRR]),
            dlrr: be_u32(&b[field::dlrr::DLRR]),
        })
    }
}

/// One DLRR sub-block (RFC 3611 §4.5).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DlrrItem {
    /// SSRC of the receiver whose RRT block is echoed.
    pub ssrc: u32,
    /// Middle 32 bits of that RRT block's NTP time (0: none received).
    pub lrr: u32,
    /// Delay since it was received, 1/65536 s.
    pub dlrr: u32,
}

/// Statistics Summary block (RFC 3611 §4.6).
#[derive(Clone, Copy, Debug)]
pub struct StatisticsSummary<'a> {
    flags: u8,
    buf: &'a [u8],
}

/// What the TTL/Hop Limit fields of a Statistics Summary report (ToH flag).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TtlOrHopLimit {
    /// 1: IPv4 TTL values.
    Ttl,
    /// 2: IPv6 Hop Limit values.
    HopLimit,
    /// 3: undefined by the RFC ("MUST NOT be used").
    Undefined,
}

impl StatisticsSummary<'_> {
    /// SSRC of the source reported on.
    pub fn ssrc(&self) -> u32 {
        be_u32(&self.buf[field::stats::SSRC])
    }

    /// L flag: `lost_packets` holds a report.
    pub fn loss_reported(&self) -> bool {
        self.flags & 0x80 != 0
    }

    /// D flag: `dup_packets` holds a report.
    pub fn duplicates_reported(&self) -> bool {
        self.flags & 0x40 != 0
    }

    /// J flag: the four jitter fields hold reports.
    pub fn jitter_reported(&self) -> bool {
        self.flags & 0x20 != 0
    }

    /// ToH flag: which values the four TTL/HL fields hold, if any.
    pub fn ttl_or_hop_limit(&self) -> Option<TtlOrHopLimit> {
        match (self.flags >> 3) & 0x03 {
            0 => None,
            1 => Some(TtlOrHopLimit::Ttl),
            2 => Some(TtlOrHopLimit::HopLimit),
            _ => Some(TtlOrHopLimit::Undefined),
        }
    }

    /// First sequence number of the interval.
    pub fn begin_seq(&self) -> u16 {
        be_u16(&self.buf[field::stats::BEGIN_SEQ])
    }

    /// Sequence number one past the interval's end.
    pub fn end_seq(&self) -> u16 {
        be_u16(&self.buf[field::stats::END_SEQ])
    }

    /// Lost packets in the interval (meaningful with the L flag).
    pub fn lost_packets(&self) -> u32 {
        be_u32(&self.buf[field::stats::LOST])
    }

    /// Duplicate packets in the interval (meaningful with the D flag).
    pub fn dup_packets(&self) -> u32 {
        be_u32(&self.buf[field::stats::DUP])
    }

    /// Minimum relative transit time, RTP timestamp units.
    pub fn min_jitter(&self) -> u32 {
        be_u32(&self.buf[field::stats::MIN_JITTER])
    }

    /// Maximum relative transit time, RTP timestamp units.
    pub fn max_jitter(&self) -> u32 {
        be_u32(&self.buf[field::stats::MAX_JITTER])
    }

    /// Mean relative transit time, RTP timestamp units.
    pub fn mean_jitter(&self) -> u32 {
        be_u32(&self.buf[field::stats::MEAN_JITTER])
    }

    /// Standard deviation of the relative transit time, RTP timestamp units.
    pub fn dev_jitter(&self) -> u32 {
        be_u32(&self.buf[field::stats::DEV_JITTER])
    }

    /// Minimum TTL or Hop Limit.
    pub fn min_ttl_or_hl(&self) -> u8 {
        self.buf[field::stats::MIN_TTL]
    }

    /// Maximum TTL or Hop Limit.
    pub fn max_ttl_or_hl(&self) -> u8 {
        self.buf[field::stats::MAX_TTL]
    }

    /// Mean TTL or Hop Limit.
    pub fn mean_ttl_or_hl(&self) -> u8 {
        self.buf[field::stats::MEAN_TTL]
    }

    /// Standard deviation of TTL or Hop Limit.
    pub fn dev_ttl_or_hl(&self) -> u8 {
        self.buf[field::stats::DEV_TTL]
    }

    /// The owned values, with unflagged fields as `None` (RFC 3611 §4.6:
    /// fields of unreported parameters are present but zero).
    pub fn repr(&self) -> StatisticsSummaryRepr {
        let jitter = self.jitter_reported();
        let toh = self.ttl_or_hop_limit();
        StatisticsSummaryRepr {
            ssrc: self.ssrc(),
            begin_seq: self.begin_seq(),
            end_seq: self.end_seq(),
            lost_packets: self.loss_reported().then(|| self.lost_packets()),
            dup_packets: self.duplicates_reported().then(|| self.dup_packets()),
            min_jitter: jitter.then(|| self.min_jitter()),
            max_jitter: jitter.then(|| self.max_jitter()),
            mean_jitter: jitter.then(|| self.mean_jitter()),
            dev_jitter: jitter.then(|| self.dev_jitter()),
            ttl_or_hop_limit: toh,
            min_ttl_or_hl: toh.map(|_| self.min_ttl_or_hl()),
            max_ttl_or_hl: toh.map(|_| self.max_ttl_or_hl()),
            mean_ttl_or_hl: toh.map(|_| self.mean_ttl_or_hl()),
            dev_ttl_or_hl: toh.map(|_| self.dev_ttl_or_hl()),
        }
    }
}

/// The owned values of a Statistics Summary block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StatisticsSummaryRepr {
    /// Source reported on.
    pub ssrc: u32,
    /// First sequence number of the interval.
    pub begin_seq: u16,
    /// One past the last sequence number of the interval.
    pub end_seq: u16,
    /// Lost packets (L flag).
    pub lost_packets: Option<u32>,
    /// Duplicate packets (D flag).
    pub dup_packets: Option<u32>,
    /// Minimum jitter, RTP units (J flag).
    pub min_jitter: Option<u32>,
    /// Maximum jitter, RTP units (J flag).
    pub max_jitter: Option<u32>,
    /// Mean jitter, RTP units (J flag).
    pub mean_jitter: Option<u32>,
    /// Jitter standard deviation, RTP units (J flag).
    pub dev_jitter: Option<u32>,
    /// What the TTL/HL values are (ToH flag), if reported.
    pub ttl_or_hop_limit: Option<TtlOrHopLimit>,
    /// Minimum TTL/HL.
    pub min_ttl_or_hl: Option<u8>,
    /// Maximum TTL/HL.
    pub max_ttl_or_hl: Option<u8>,
    /// Mean TTL/HL.
    pub mean_ttl_or_hl: Option<u8>,
    /// Standard deviation of TTL/HL.
    pub dev_ttl_or_hl: Option<u8>,
}

/// VoIP Metrics block (RFC 3611 §4.7).
#[derive(Clone, Copy, Debug)]
pub struct VoipMetrics<'a> {
    buf: &'a [u8],
}

impl VoipMetrics<'_> {
    /// SSRC of the source reported on.
    pub fn ssrc(&self) -> u32 {
        be_u32(&self.buf[field::voip::SSRC])
    }

    /// The owned values.
    pub fn repr(&self) -> VoipMetricsRepr {
        use field::voip as f;
        let b = self.buf;
        VoipMetricsRepr {
            ssrc: self.ssrc(),
            loss_rate: b[f::LOSS_RATE],
            discard_rate: b[f::DISCARD_RATE],
            burst_density: b[f::BURST_DENSITY],
            gap_density: b[f::GAP_DENSITY],
            burst_duration_ms: be_u16(&b[f::BURST_DURATION]),
            gap_duration_ms: be_u16(&b[f::GAP_DURATION]),
            round_trip_delay_ms: be_u16(&b[f::ROUND_TRIP_DELAY]),
            end_system_delay_ms: be_u16(&b[f::END_SYSTEM_DELAY]),
            signal_level: b[f::SIGNAL_LEVEL] as i8,
            noise_level: b[f::NOISE_LEVEL] as i8,
            rerl: b[f::RERL],
            gmin: b[f::GMIN],
            r_factor: b[f::R_FACTOR],
            ext_r_factor: b[f::EXT_R_FACTOR],
            mos_lq: b[f::MOS_LQ],
            mos_cq: b[f::MOS_CQ],
            rx_config: b[f::RX_CONFIG],
            jb_nominal_ms: be_u16(&b[f::JB_NOMINAL]),
            jb_maximum_ms: be_u16(&b[f::JB_MAXIMUM]),
            jb_abs_max_ms: be_u16(&b[f::JB_ABS_MAX]),
        }
    }
}

/// Packet loss concealment in the RX config byte (RFC 3611 §4.7.6).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PacketLossConcealment {
    /// 0: no information.
    Unspecified,
    /// 1: silence or no concealment.
    Disabled,
    /// 2: enhanced (interpolation able to conceal high loss).
    Enhanced,
    /// 3: standard (simple replay or interpolation).
    Standard,
}

/// Jitter buffer adaptivity in the RX config byte (RFC 3611 §4.7.6).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JitterBufferAdaptive {
    /// 0: unknown.
    Unknown,
    /// 1: reserved.
    Reserved,
    /// 2: non-adaptive (fixed).
    NonAdaptive,
    /// 3: adaptive.
    Adaptive,
}

/// The raw values of a VoIP Metrics block; helpers apply the RFC's scales and
/// its 127 "unavailable" value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VoipMetricsRepr {
    /// Source reported on.
    pub ssrc: u32,
    /// Packets lost, in 256ths (§4.7.1).
    pub loss_rate: u8,
    /// Packets discarded by the jitter buffer, in 256ths.
    pub discard_rate: u8,
    /// Loss+discard density inside bursts, in 256ths (§4.7.2).
    pub burst_density: u8,
    /// Loss+discard density inside gaps, in 256ths.
    pub gap_density: u8,
    /// Mean burst duration, ms.
    pub burst_duration_ms: u16,
    /// Mean gap duration, ms.
    pub gap_duration_ms: u16,
    /// Round-trip delay, ms (§4.7.3).
    pub round_trip_delay_ms: u16,
    /// End-system delay, ms.
    pub end_system_delay_ms: u16,
    /// Signal level, dBm0 (signed; 127 unavailable, §4.7.4).
    pub signal_level: i8,
    /// Noise level, dBm0 (signed; 127 unavailable).
    pub noise_level: i8,
    /// Residual echo return loss, dB (127 unavailable).
    pub rerl: u8,
    /// Gap threshold Gmin (RFC recommends 16).
    pub gmin: u8,
    /// R factor 0–100 (127 unavailable, §4.7.5).
    pub r_factor: u8,
    /// External R factor (127 unavailable).
    pub ext_r_factor: u8,
    /// MOS-LQ × 10 (127 unavailable).
    pub mos_lq: u8,
    /// MOS-CQ × 10 (127 unavailable).
    pub mos_cq: u8,
    /// RX config byte: PLC(2) JBA(2) JB rate(4) (§4.7.6).
    pub rx_config: u8,
    /// Jitter buffer nominal delay, ms (§4.7.7).
    pub jb_nominal_ms: u16,
    /// Jitter buffer maximum delay, ms.
    pub jb_maximum_ms: u16,
    /// Jitter buffer absolute maximum delay, ms.
    pub jb_abs_max_ms: u16,
}

fn available_u8(v: u8) -> Option<u8> {
    (v != XR_UNAVAILABLE).then_some(v)
}

impl VoipMetricsRepr {
    /// Loss rate as a percentage.
    pub fn loss_rate_pct(&self) -> f64 {
        f64::from(self.loss_rate) * 100.0 / 256.0
    }

    /// Discard rate as a percentage.
    pub fn discard_rate_pct(&self) -> f64 {
        f64::from(self.discard_rate) * 100.0 / 256.0
    }

    /// Burst density as a percentage.
    pub fn burst_density_pct(&self) -> f64 {
        f64::from(self.burst_density) * 100.0 / 256.0
    }

    /// Gap density as a percentage.
    pub fn gap_density_pct(&self) -> f64 {
        f64::from(self.gap_density) * 100.0 / 256.0
    }

    /// Signal level in dBm0, `None` when unavailable.
    pub fn signal_level_dbm0(&self) -> Option<i8> {
        (self.signal_level != XR_UNAVAILABLE as i8).then_some(self.signal_level)
    }

    /// Noise level in dBm0, `None` when unavailable.
    pub fn noise_level_dbm0(&self) -> Option<i8> {
        (self.noise_level != XR_UNAVAILABLE as i8).then_some(self.noise_level)
    }

    /// RERL in dB, `None` when unavailable.
    pub fn rerl_db(&self) -> Option<u8> {
        available_u8(self.rerl)
    }

    /// R factor, `None` when unavailable.
    pub fn r_factor(&self) -> Option<u8> {
        available_u8(self.r_factor)
    }

    /// External R factor, `None` when unavailable.
    pub fn ext_r_factor(&self) -> Option<u8> {
        available_u8(self.ext_r_factor)
    }

    /// MOS-LQ (the field ÷ 10), `None` when unavailable.
    pub fn mos_lq(&self) -> Option<f64> {
        available_u8(self.mos_lq).map(|v| f64::from(v) / 10.0)
    }

    /// MOS-CQ (the field ÷ 10), `None` when unavailable.
    pub fn mos_cq(&self) -> Option<f64> {
        available_u8(self.mos_cq).map(|v| f64::from(v) / 10.0)
    }

    /// Packet loss concealment (top 2 bits of RX config).
    pub fn plc(&self) -> PacketLossConcealment {
        match self.rx_config >> 6 {
            1 => PacketLossConcealment::Disabled,
            2 => PacketLossConcealment::Enhanced,
            3 => PacketLossConcealment::Standard,
            _ => PacketLossConcealment::Unspecified,
        }
    }

    /// Jitter buffer adaptivity (next 2 bits of RX config).
    pub fn jitter_buffer_adaptive(&self) -> JitterBufferAdaptive {
        match (self.rx_config >> 4) & 0x03 {
            1 => JitterBufferAdaptive::Reserved,
            2 => JitterBufferAdaptive::NonAdaptive,
            3 => JitterBufferAdaptive::Adaptive,
            _ => JitterBufferAdaptive::Unknown,
        }
    }

    /// Jitter buffer adjustment rate 0–15 (low 4 bits of RX config).
    pub fn jb_rate(&self) -> u8 {
        self.rx_config & 0x0f
    }
}

/// Whether a UDP payload plausibly starts an RTCP compound packet: version 2
/// and a first packet type of SR (200) or RR (201), as RFC 3550 §6.1 requires,
/// or any RTCP type 192–223 to be lenient with broken stacks.
pub fn looks_like_rtcp(payload: &[u8]) -> bool {
    payload.len() >= 8 && payload[0] >> 6 == 2 && (192..=223).contains(&payload[1])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        let s: Vec<u8> = s.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
        s.chunks(2)
            .map(|p| u8::from_str_radix(std::str::from_utf8(p).unwrap(), 16).unwrap())
            .collect()
    }

    /// rtcp/rtcp-compound-sr-rr-sdes-sll.pcap frame 3, UDP payload: SR from
    /// 0x5d931534 with one report block about 0x01932db4, then SDES.
    const FRAME3_SR_SDES: &str = "81c8000c 5d931534 dd3ac174 52808c82 0000faa0 00000191 0000faa0
        01932db4 00000001 00000000 00000000 00000000 00000000
        81ca000e 5d931534 0108 3564393331353334 0725 467265655357495443482e6f7267202d2d20436f6d6520746f20436c7565436f6e2e636f6d 000000";

    /// Same capture, frame 4: RR from 0x01932db4 about 0x5d931534 (LSR echoes
    /// frame 1's SR), then SDES.
    const FRAME4_RR_SDES: &str = "81c90007 01932db4 5d931534 00000001 0000bf8b 00000006 c1704d61 0004051c
        81ca000e 01932db4 0107 31393332646234 0725 467265655357495443482e6f7267202d2d20436f6d6520746f20436c7565436f6e2e636f6d 00000000";

    fn bodies(bytes: &[u8]) -> Vec<Body<'_>> {
        compound(bytes)
            .map(|p| p.unwrap().parse().unwrap())
            .collect()
    }

    #[test]
    fn parses_sr_with_report_block_and_sdes_from_capture() {
        let bytes = hex(FRAME3_SR_SDES);
        let packets: Vec<_> = compound(&bytes).map(Result::unwrap).collect();
        assert_eq!(packets.len(), 2);
        assert_eq!(packets[0].packet_type(), PacketType::SenderReport);
        assert_eq!(packets[0].len(), 52);
        assert_eq!(packets[0].count(), 1);
        assert_eq!(packets[1].packet_type(), PacketType::SourceDescription);
        assert_eq!(packets[1].len(), 60);
        let Body::SenderReport(sr) = packets[0].parse().unwrap() else {
            panic!("not an SR")
        };
        assert_eq!(sr.ssrc(), 0x5d93_1534);
        assert_eq!(sr.ntp_timestamp(), 0xdd3a_c174_5280_8c82);
        assert_eq!(sr.ntp_middle(), 0xc174_5280);
        assert_eq!(sr.rtp_timestamp(), 64160);
        assert_eq!(sr.packet_count(), 401);
        assert_eq!(sr.octet_count(), 64160);
        assert!(sr.extension().is_empty());
        let blocks: Vec<_> = sr.report_blocks().map(|b| b.repr()).collect();
        assert_eq!(
            blocks,
            [ReportBlockRepr {
                ssrc: 0x0193_2db4,
                fraction_lost: 0,
                cumulative_lost: 1,
                extended_highest_seq: 0,
                jitter: 0,
                lsr: 0,
                dlsr: 0,
            }]
        );
        let Body::SourceDescription(sdes) = packets[1].parse().unwrap() else {
            panic!("not SDES")
        };
        let chunks: Vec<_> = sdes.chunks().collect();
        assert_eq!(chunks.len(), 1);
        assert_eq!(chunks[0].ssrc(), 0x5d93_1534);
        assert_eq!(chunks[0].cname(), Some(&b"5d931534"[..]));
        let items: Vec<_> = chunks[0].items().collect();
        assert_eq!(items.len(), 2);
        assert_eq!(items[1].item_type, 7);
        assert_eq!(items[1].value, b"FreeSWITCH.org -- Come to ClueCon.com");
    }

    #[test]
    fn parses_rr_from_capture() {
        let bytes = hex(FRAME4_RR_SDES);
        let b = bodies(&bytes);
        assert_eq!(b.len(), 2);
        let Body::ReceiverReport(rr) = b[0] else {
            panic!("not an RR")
        };
        assert_eq!(rr.ssrc(), 0x0193_2db4);
        let block = rr.report_blocks().next().unwrap();
        assert_eq!(block.ssrc(), 0x5d93_1534);
        assert_eq!(block.fraction_lost(), 0);
        assert_eq!(block.cumulative_lost(), 1);
        assert_eq!(block.extended_highest_seq(), 0xbf8b);
        assert_eq!(block.jitter(), 6);
        // Frame 1's SR NTP is dd3ac170 4d614df8: middle 32 bits c1704d61.
        assert_eq!(block.lsr(), 0xc170_4d61);
        assert_eq!(block.dlsr(), 0x0004_051c);
        assert_eq!(rr.report_blocks().count(), 1);
        let Body::SourceDescription(sdes) = b[1] else {
            panic!("not SDES")
        };
        assert_eq!(sdes.chunks().next().unwrap().cname(), Some(&b"1932db4"[..]));
    }

    #[test]
    fn empty_cname_from_volte_capture() {
        // volte/volte-call-ipsec-both-ends.pcapng frame 852: SR then SDES
        // whose CNAME item has length 0.
        let bytes = hex(
            "81c8000c000e61f1e2440100c5cbccf29a4d1264000000120000044a003268d0
             0000000000007b8a00000002000000000000000081ca0002000e61f101000000",
        );
        let b = bodies(&bytes);
        let Body::SourceDescription(sdes) = b[1] else {
            panic!("not SDES")
        };
        let chunk = sdes.chunks().next().unwrap();
        assert_eq!(chunk.ssrc(), 0x000e_61f1);
        assert_eq!(chunk.cname(), Some(&b""[..]));
    }

    #[test]
    fn bye_with_reason() {
        // Made up: BYE, 2 SSRCs, reason "done" (len 4), 3 pad bytes.
        let bytes = hex("82cb0004 11111111 22222222 04646f6e65 000000");
        let Body::Goodbye(bye) = bodies(&bytes)[0] else {
            panic!("not BYE")
        };
        assert_eq!(bye.ssrcs().collect::<Vec<_>>(), [0x1111_1111, 0x2222_2222]);
        assert_eq!(bye.reason(), Some(&b"done"[..]));
        // Reason length past the end.
        let bytes = hex("81cb0002 11111111 09646f6e");
        assert_eq!(
            compound(&bytes).next().unwrap().unwrap().parse().err(),
            Some(Error::BadReason)
        );
        // Without a reason.
        let bytes = hex("81cb0001 11111111");
        let Body::Goodbye(bye) = bodies(&bytes)[0] else {
            panic!("not BYE")
        };
        assert_eq!(bye.reason(), None);
    }

    #[test]
    fn app_is_read_by_header_only() {
        // Made up: APP subtype 3, SSRC, name "QOSx", 4 data bytes.
        let bytes = hex("83cc0003 12345678 514f5378 01020304");
        let Body::App(app) = bodies(&bytes)[0] else {
            panic!("not APP")
        };
        assert_eq!(app.subtype(), 3);
        assert_eq!(app.ssrc(), 0x1234_5678);
        assert_eq!(&app.name(), b"QOSx");
        assert_eq!(app.data(), &[1, 2, 3, 4]);
        let short = hex("80cc0001 12345678");
        assert_eq!(
            compound(&short).next().unwrap().unwrap().parse().err(),
            Some(Error::TooShort)
        );
    }

    #[test]
    fn feedback_header() {
        // Made up: PSFB PLI (fmt 1).
        let bytes = hex("81ce0002 11111111 22222222");
        let Body::PayloadFeedback(fb) = bodies(&bytes)[0] else {
            panic!("not PSFB")
        };
        assert_eq!(
            (fb.fmt(), fb.sender_ssrc(), fb.media_ssrc()),
            (1, 0x1111_1111, 0x2222_2222)
        );
        assert!(fb.fci().is_empty());
    }

    #[test]
    fn lying_length_in_second_packet_stops_after_first() {
        // Frame 3's SR, then an RR whose length claims 8 words but has 1.
        let mut bytes = hex(FRAME3_SR_SDES);
        bytes.truncate(52);
        bytes.extend(hex("80c90008 01932db4"));
        let items: Vec<_> = compound(&bytes).collect();
        assert_eq!(items.len(), 2);
        assert!(items[0].is_ok());
        assert_eq!(items[1].as_ref().err(), Some(&Error::BadLength));
    }

    #[test]
    fn padding_is_excluded_and_checked() {
        // Made up: RR with no blocks, padded with 4 bytes (last = 4).
        let bytes = hex("a0c90002 01020304 00000004");
        let p = compound(&bytes).next().unwrap().unwrap();
        assert_eq!(p.padding_len(), 4);
        assert_eq!(p.body(), &[1, 2, 3, 4]);
        assert!(matches!(p.parse(), Ok(Body::ReceiverReport(_))));
        let zero = hex("a0c90002 01020304 00000000");
        assert_eq!(
            compound(&zero).next().unwrap().err(),
            Some(Error::BadPadding)
        );
        let big = hex("a0c90002 01020304 00000009");
        assert_eq!(
            compound(&big).next().unwrap().err(),
            Some(Error::BadPadding)
        );
    }

    #[test]
    fn count_larger_than_what_fits() {
        // RR claiming 2 report blocks with room for 1.
        let mut bytes = hex(FRAME4_RR_SDES);
        bytes.truncate(32);
        bytes[0] = 0x82;
        let p = compound(&bytes).next().unwrap().unwrap();
        assert_eq!(p.parse().err(), Some(Error::BadCount));
        // SR without its sender info.
        let sr = hex("80c80001 01020304");
        assert_eq!(
            compound(&sr).next().unwrap().unwrap().parse().err(),
            Some(Error::TooShort)
        );
        // BYE with 2 SSRCs claimed and 1 present.
        let bye = hex("82cb0001 01020304");
        assert_eq!(
            compound(&bye).next().unwrap().unwrap().parse().err(),
            Some(Error::BadCount)
        );
        // SDES with 2 chunks claimed and 1 present.
        let sdes = hex("82ca0002 01020304 01014100");
        assert_eq!(
            compound(&sdes).next().unwrap().unwrap().parse().err(),
            Some(Error::BadCount)
        );
    }

    #[test]
    fn sdes_items_are_checked_and_bounded() {
        // CNAME claims 9 bytes, 2 present.
        let bytes = hex("81ca0002 01020304 01094142");
        assert_eq!(
            compound(&bytes).next().unwrap().unwrap().parse().err(),
            Some(Error::BadSdes)
        );
        // 17 empty NOTE items: more than MAX_SDES_ITEMS.
        let mut bytes = hex("81ca0000 01020304");
        bytes.extend([7u8, 0].repeat(MAX_SDES_ITEMS + 1));
        bytes.extend([0, 0]);
        let words = (bytes.len() / 4 - 1) as u16;
        bytes[2..4].copy_from_slice(&words.to_be_bytes());
        assert_eq!(
            compound(&bytes).next().unwrap().unwrap().parse().err(),
            Some(Error::TooManyItems)
        );
        // Lenient: a chunk ending with the packet without its null octet.
        let bytes = hex("81ca0002 01020304 01024142");
        let Body::SourceDescription(sdes) = bodies(&bytes)[0] else {
            panic!("not SDES")
        };
        assert_eq!(sdes.chunks().next().unwrap().cname(), Some(&b"AB"[..]));
    }

    #[test]
    fn cumulative_lost_is_signed_24_bit() {
        let block = hex("01020304 10ffffff 00000000 00000000 00000000 00000000");
        let b = ReportBlock::new_checked(&block).unwrap();
        assert_eq!(b.cumulative_lost(), -1);
        assert_eq!(b.fraction_lost(), 0x10);
        let block = hex("01020304 00800000 00000000 00000000 00000000 00000000");
        assert_eq!(
            ReportBlock::new_checked(&block).unwrap().cumulative_lost(),
            -8_388_608
        );
        let block = hex("01020304 007fffff 00000000 00000000 00000000 00000000");
        assert_eq!(
            ReportBlock::new_checked(&block).unwrap().cumulative_lost(),
            8_388_607
        );
        assert_eq!(
            ReportBlock::new_checked(&block[..23]).err(),
            Some(Error::TooShort)
        );
    }

    #[test]
    fn rejects_bad_headers() {
        assert_eq!(
            compound(&[0x80, 0xc9, 0x00]).next().unwrap().err(),
            Some(Error::TooShort)
        );
        assert_eq!(
            compound(&hex("40c90001 01020304")).next().unwrap().err(),
            Some(Error::BadVersion)
        );
        assert_eq!(
            compound(&hex("80c90002 01020304")).next().unwrap().err(),
            Some(Error::BadLength)
        );
        assert!(compound(&[]).next().is_none());
        // Fewer bytes than a header after a valid packet: stray trailing
        // bytes, not an error (a relay in sip-g711a-rtcp-sr-rr-noise.pcap
        // appends 2).
        let mut bytes = hex("80c90001 01020304");
        bytes.extend([0x80, 0xc9]);
        let mut it = compound(&bytes);
        assert!(it.next().unwrap().is_ok());
        assert!(it.next().is_none());
        assert_eq!(it.trailing_len(), 2);
        assert!(is_valid_compound(&bytes));
        // Four or more stray bytes are read as a packet (here an RR too
        // short for its SSRC), which makes the compound invalid.
        bytes.extend([0, 0]);
        assert_eq!(compound(&bytes).count(), 2);
        assert!(!is_valid_compound(&bytes));
    }

    #[test]
    fn compound_iteration_is_bounded() {
        // MAX_COMPOUND_PACKETS + 1 header-only packets of an unknown type.
        let bytes = [0x80, 0xd0, 0, 0].repeat(MAX_COMPOUND_PACKETS + 1);
        let items: Vec<_> = compound(&bytes).collect();
        assert_eq!(items.len(), MAX_COMPOUND_PACKETS + 1);
        assert!(matches!(
            items[0].as_ref().unwrap().parse(),
            Ok(Body::Unknown(208))
        ));
        assert_eq!(
            items[MAX_COMPOUND_PACKETS].as_ref().err(),
            Some(&Error::TooManyPackets)
        );
    }

    /// Made up from RFC 3611 (no XR capture exists): XR from 0xaaaaaaaa with
    /// a Statistics Summary block (§4.6, L+D+J, ToH=1 TTL), an unknown block
    /// type 42 of 1 word, and a VoIP Metrics block (§4.7).
    fn xr_sample() -> Vec<u8> {
        hex("80cf0016 aaaaaaaa
             06e80009 bbbbbbbb 0064 01f4 00000005 00000002
                      00000010 000000a0 00000030 00000008 3c40 3e 01
             2a000001 deadbeef
             07000008 bbbbbbbb 0d 05 80 02 0078 0bb8 0096 0028
                      ec b0 7f 10 5d 7f 29 7f b8 00 0028 0064 00c8")
    }

    #[test]
    fn xr_statistics_summary_and_voip_metrics() {
        let bytes = xr_sample();
        let b = bodies(&bytes);
        let Body::ExtendedReport(xr) = b[0] else {
            panic!("not XR")
        };
        assert_eq!(xr.ssrc(), 0xaaaa_aaaa);
        let blocks: Vec<_> = xr.blocks().collect();
        assert_eq!(
            blocks.iter().map(|b| b.kind()).collect::<Vec<_>>(),
            [
                XrBlockType::StatisticsSummary,
                XrBlockType::Unknown(42),
                XrBlockType::VoipMetrics
            ]
        );
        assert_eq!(blocks[0].length_words(), 9);
        assert_eq!(blocks[1].content(), &[0xde, 0xad, 0xbe, 0xef]);
        assert!(blocks[1].statistics_summary().is_none());
        let s = blocks[0].statistics_summary().unwrap().repr();
        assert_eq!(
            s,
            StatisticsSummaryRepr {
                ssrc: 0xbbbb_bbbb,
                begin_seq: 100,
                end_seq: 500,
                lost_packets: Some(5),
                dup_packets: Some(2),
                min_jitter: Some(16),
                max_jitter: Some(160),
                mean_jitter: Some(48),
                dev_jitter: Some(8),
                ttl_or_hop_limit: Some(TtlOrHopLimit::Ttl),
                min_ttl_or_hl: Some(60),
                max_ttl_or_hl: Some(64),
                mean_ttl_or_hl: Some(62),
                dev_ttl_or_hl: Some(1),
            }
        );
        let v = blocks[2].voip_metrics().unwrap().repr();
        assert_eq!(v.ssrc, 0xbbbb_bbbb);
        assert_eq!(
            (v.loss_rate, v.discard_rate, v.burst_density, v.gap_density),
            (13, 5, 128, 2)
        );
        assert_eq!((v.burst_duration_ms, v.gap_duration_ms), (120, 3000));
        assert_eq!((v.round_trip_delay_ms, v.end_system_delay_ms), (150, 40));
        assert_eq!(v.signal_level_dbm0(), Some(-20));
        assert_eq!(v.noise_level_dbm0(), Some(-80));
        assert_eq!(v.rerl_db(), None);
        assert_eq!(v.gmin, 16);
        assert_eq!(v.r_factor(), Some(93));
        assert_eq!(v.ext_r_factor(), None);
        assert_eq!(v.mos_lq(), Some(4.1));
        assert_eq!(v.mos_cq(), None);
        assert_eq!(v.plc(), PacketLossConcealment::Enhanced);
        assert_eq!(v.jitter_buffer_adaptive(), JitterBufferAdaptive::Adaptive);
        assert_eq!(v.jb_rate(), 8);
        assert_eq!(
            (v.jb_nominal_ms, v.jb_maximum_ms, v.jb_abs_max_ms),
            (40, 100, 200)
        );
        assert_eq!(v.loss_rate_pct(), 13.0 * 100.0 / 256.0);
        assert_eq!(v.burst_density_pct(), 50.0);
    }

    #[test]
    fn statistics_summary_unflagged_fields_are_none() {
        // Made up: block 6 with no flags set (values present but zero).
        let bytes = hex(
            "80cf000b 01010101 06000009 bbbbbbbb 00010002 00000000 00000000
                         00000000 00000000 00000000 00000000 00000000",
        );
        let Body::ExtendedReport(xr) = bodies(&bytes)[0] else {
            panic!("not XR")
        };
        let s = xr
            .blocks()
            .next()
            .unwrap()
            .statistics_summary()
            .unwrap()
            .repr();
        assert_eq!(
            (
                s.lost_packets,
                s.dup_packets,
                s.mean_jitter,
                s.ttl_or_hop_limit
            ),
            (None, None, None, None)
        );
        assert_eq!((s.begin_seq, s.end_seq), (1, 2));
    }

    #[test]
    fn xr_blocks_are_checked() {
        // Block claiming 4 words with 1 present.
        let bytes = hex("80cf0002 01010101 2a000004");
        assert_eq!(
            compound(&bytes).next().unwrap().unwrap().parse().err(),
            Some(Error::BadXrBlock)
        );
        // VoIP metrics block with length 2 (too short for its fields).
        let bytes = hex("80cf0004 01010101 07000002 bbbbbbbb 00000000");
        assert_eq!(
            compound(&bytes).next().unwrap().unwrap().parse().err(),
            Some(Error::BadXrBlock)
        );
        // Half a block header before 2 bytes of padding.
        let bytes = hex("a0cf0002 01010101 07000002");
        assert_eq!(
            compound(&bytes).next().unwrap().unwrap().parse().err(),
            Some(Error::BadXrBlock)
        );
        // Too many (empty) blocks.
        let mut bytes = hex("80cf0000 01010101");
        bytes.extend([0x2a, 0, 0, 0].repeat(MAX_XR_BLOCKS + 1));
        let words = (bytes.len() / 4 - 1) as u16;
        bytes[2..4].copy_from_slice(&words.to_be_bytes());
        assert_eq!(
            compound(&bytes).next().unwrap().unwrap().parse().err(),
            Some(Error::TooManyBlocks)
        );
        // XR without the reporter SSRC.
        assert_eq!(
            compound(&hex("80cf0000"))
                .next()
                .unwrap()
                .unwrap()
                .parse()
                .err(),
            Some(Error::TooShort)
        );
    }

    #[test]
    fn xr_rrt_and_dlrr() {
        // Made up from RFC 3611 §4.4–4.5: RRT block, then DLRR with 2 sub-blocks.
        let bytes = hex("80cf000b 01010101 04000002 e2440100 c5cb0000
                         05000006 22222222 0100c5cb 00008000 33333333 00000000 00000000");
        let Body::ExtendedReport(xr) = bodies(&bytes)[0] else {
            panic!("not XR")
        };
        let blocks: Vec<_> = xr.blocks().collect();
        assert_eq!(
            blocks[0].receiver_reference_time(),
            Some(0xe244_0100_c5cb_0000)
        );
        assert_eq!(blocks[1].receiver_reference_time(), None);
        let items: Vec<_> = blocks[1].dlrr().collect();
        assert_eq!(
            items,
            [
                DlrrItem {
                    ssrc: 0x2222_2222,
                    lrr: 0x0100_c5cb,
                    dlrr: 0x8000
                },
                DlrrItem {
                    ssrc: 0x3333_3333,
                    lrr: 0,
                    dlrr: 0
                },
            ]
        );
        assert_eq!(blocks[0].dlrr().count(), 0);
        // A DLRR block whose length is not a multiple of 3 words.
        let bytes = hex("80cf0003 01010101 05000001 22222222");
        assert_eq!(
            compound(&bytes).next().unwrap().unwrap().parse().err(),
            Some(Error::BadXrBlock)
        );
    }

    #[test]
    fn heuristic_accepts_rtcp_types_only() {
        assert!(looks_like_rtcp(&hex(FRAME3_SR_SDES)));
        assert!(!looks_like_rtcp(&[0x80, 0x08, 0, 0, 0, 0, 0, 0]));
        assert!(!looks_like_rtcp(&[0x81, 0xc8, 0, 0]));
    }

    #[test]
    fn error_reasons_are_distinct() {
        let all = [
            Error::TooShort,
            Error::BadVersion,
            Error::BadLength,
            Error::BadPadding,
            Error::BadCount,
            Error::BadSdes,
            Error::TooManyItems,
            Error::BadReason,
            Error::BadXrBlock,
            Error::TooManyBlocks,
            Error::TooManyPackets,
        ];
        let mut reasons: Vec<_> = all.iter().map(|e| e.reason()).collect();
        reasons.sort_unstable();
        reasons.dedup();
        assert_eq!(reasons.len(), all.len());
    }
}
