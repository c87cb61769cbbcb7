//! DIAMETER (RFC 6733): a checked view of the message header, AVPs
//! ([`avp`]), names ([`dictionary`]), an owned per-message summary
//! ([`summary`]), request/answer matching ([`transactions`]) and counters.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! |    Version    |                 Message Length                |
//! | command flags |                  Command Code                 |
//! |                         Application-ID                        |
//! |                      Hop-by-Hop Identifier                    |
//! |                      End-to-End Identifier                    |
//! |  AVPs ...
//! ```
//!
//! Input is one DIAMETER message: a TCP PDU framed by the reassembler or an
//! SCTP user message (PPID 46/47). Contract: after [`Packet::new_checked`]
//! succeeds no getter panics, and [`Packet::avps`] covers exactly the bytes
//! the Message Length counts (anything after it is not read). Nothing here
//! panics on any input; AVP errors are values, and one bad AVP does not drop
//! the message (see [`summary::Message`]).
//!
//! Leniency, on purpose: a Message Length that is not a multiple of 4 is
//! accepted (the last AVP's padding is then short, which [`avp::Avps`]
//! accepts), and the reserved command flag bits are ignored.

pub mod avp;
pub mod dictionary;
pub mod summary;
pub mod transactions;

use crate::proto::bytes::{be_u24, be_u32};
use serde::Serialize;
use std::collections::BTreeMap;

pub use avp::{Avp, AvpKey, Avps};
pub use summary::{Message, SubscriptionIdType};

mod field {
    use std::ops::Range;
    pub const VERSION: usize = 0;
    pub const LENGTH: Range<usize> = 1..4;
    pub const FLAGS: usize = 4;
    pub const COMMAND_CODE: Range<usize> = 5..8;
    pub const APPLICATION_ID: Range<usize> = 8..12;
    pub const HOP_BY_HOP: Range<usize> = 12..16;
    pub const END_TO_END: Range<usize> = 16..20;
}

/// Length of the message header.
pub const HEADER_LEN: usize = field::END_TO_END.end;
/// The only DIAMETER version (RFC 6733 §3).
pub const VERSION: u8 = 1;

/// Command flag bits (RFC 6733 §3).
pub mod flags {
    /// R: request (clear: answer).
    pub const REQUEST: u8 = 0x80;
    /// P: proxiable.
    pub const PROXIABLE: u8 = 0x40;
    /// E: the answer carries a protocol error.
    pub const ERROR: u8 = 0x20;
    /// T: potentially retransmitted request.
    pub const RETRANSMIT: u8 = 0x10;
}

/// Why bytes are not a valid DIAMETER message, or why part of one was
/// skipped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, thiserror::Error)]
pub enum Error {
    /// Fewer bytes than the 20-byte header.
    #[error("shorter than the DIAMETER header")]
    TooShort,
    /// Version is not 1.
    #[error("DIAMETER version is not 1")]
    BadVersion,
    /// Message Length below 20 or past the end of the bytes.
    #[error("DIAMETER message length below 20 or past the end of the data")]
    BadLength,
    /// Fewer bytes left than an AVP header (with Vendor-ID when V is set).
    #[error("AVP header cut short")]
    AvpTooShort,
    /// AVP Length below its header or past the end of its container.
    #[error("AVP length below its header or past the end of its container")]
    AvpBadLength,
    /// A grouped AVP nested deeper than [`avp::MAX_GROUP_DEPTH`].
    #[error("grouped AVPs nested too deep")]
    TooDeep,
    /// More AVPs than [`avp::MAX_AVPS`] in one message.
    #[error("too many AVPs in one message")]
    TooManyAvps,
}

impl Error {
    /// Stable label for counters.
    pub fn reason(self) -> &'static str {
        match self {
            Error::TooShort => "too_short",
            Error::BadVersion => "bad_version",
            Error::BadLength => "bad_length",
            Error::AvpTooShort => "avp_too_short",
            Error::AvpBadLength => "avp_bad_length",
            Error::TooDeep => "too_deep",
            Error::TooManyAvps => "too_many_avps",
        }
    }
}

/// A read-only view of a DIAMETER message.
#[derive(Clone, Copy, Debug)]
pub struct Packet<T: AsRef<[u8]>> {
    buf: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Checks the header and the Message Length.
    ///
    /// # Errors
    /// [`Error::TooShort`], [`Error::BadVersion`] or [`Error::BadLength`].
    pub fn new_checked(buf: T) -> Result<Self, Error> {
        let b = buf.as_ref();
        let header = b.get(..HEADER_LEN).ok_or(Error::TooShort)?;
        if header[field::VERSION] != VERSION {
            return Err(Error::BadVersion);
        }
        let len = be_u24(&header[field::LENGTH]) as usize;
        if len < HEADER_LEN || len > b.len() {
            return Err(Error::BadLength);
        }
        Ok(Packet { buf })
    }

    fn header(&self) -> &[u8] {
        &self.buf.as_ref()[..HEADER_LEN]
    }

    /// Message Length: header and AVPs.
    pub fn length(&self) -> u32 {
        be_u24(&self.header()[field::LENGTH])
    }

    /// The command flag byte (see [`flags`]).
    pub fn flags(&self) -> u8 {
        self.header()[field::FLAGS]
    }

    /// R flag: a request.
    pub fn is_request(&self) -> bool {
        self.flags() & flags::REQUEST != 0
    }

    /// Command code.
    pub fn command_code(&self) -> u32 {
        be_u24(&self.header()[field::COMMAND_CODE])
    }

    /// Application-ID.
    pub fn application_id(&self) -> u32 {
        be_u32(&self.header()[field::APPLICATION_ID])
    }

    /// Hop-by-Hop Identifier.
    pub fn hop_by_hop(&self) -> u32 {
        be_u32(&self.header()[field::HOP_BY_HOP])
    }

    /// End-to-End Identifier.
    pub fn end_to_end(&self) -> u32 {
        be_u32(&self.header()[field::END_TO_END])
    }

    /// The owned header.
    pub fn header_repr(&self) -> Header {
        Header {
            length: self.length(),
            request: self.is_request(),
            proxiable: self.flags() & flags::PROXIABLE != 0,
            error: self.flags() & flags::ERROR != 0,
            retransmit: self.flags() & flags::RETRANSMIT != 0,
            command_code: self.command_code(),
            application_id: self.application_id(),
            hop_by_hop: self.hop_by_hop(),
            end_to_end: self.end_to_end(),
        }
    }
}

impl<'a> Packet<&'a [u8]> {
    /// The AVP bytes, borrowed for the buffer's lifetime.
    pub fn avp_data(&self) -> &'a [u8] {
        let len = be_u24(&self.buf[field::LENGTH]) as usize;
        &self.buf[HEADER_LEN..len]
    }

    /// The top-level AVPs.
    pub fn avps(&self) -> Avps<'a> {
        Avps::new(self.avp_data())
    }
}

/// The owned header of a DIAMETER message.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize)]
pub struct Header {
    /// Message Length.
    pub length: u32,
    /// R flag.
    pub request: bool,
    /// P flag.
    pub proxiable: bool,
    /// E flag.
    pub error: bool,
    /// T flag.
    pub retransmit: bool,
    /// Command code (24 bits).
    pub command_code: u32,
    /// Application-ID.
    pub application_id: u32,
    /// Hop-by-Hop Identifier.
    pub hop_by_hop: u32,
    /// End-to-End Identifier.
    pub end_to_end: u32,
}

/// (application, command, request) of a message, for counting.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MessageKind {
    /// Application-ID.
    pub application_id: u32,
    /// Command code.
    pub command_code: u32,
    /// R flag.
    pub request: bool,
}

impl MessageKind {
    /// The kind of a message with this header.
    pub fn of(h: &Header) -> Self {
        MessageKind {
            application_id: h.application_id,
            command_code: h.command_code,
            request: h.request,
        }
    }
}

/// One row of [`DiameterCounters::messages`] as serialised.
#[derive(Serialize)]
struct MessageRow {
    application_id: u32,
    application: Option<&'static str>,
    command_code: u32,
    command: Option<&'static str>,
    request: bool,
    count: u64,
}

fn serialize_messages<S: serde::Serializer>(
    m: &BTreeMap<MessageKind, u64>,
    s: S,
) -> Result<S::Ok, S::Error> {
    s.collect_seq(m.iter().map(|(k, &count)| MessageRow {
        application_id: k.application_id,
        application: dictionary::application_name(k.application_id),
        command_code: k.command_code,
        command: dictionary::command_name(k.command_code, k.request),
        request: k.request,
        count,
    }))
}

/// DIAMETER counters: messages by kind, malformed messages by reason, AVP
/// anomalies inside otherwise good messages, and request/answer matching.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct DiameterCounters {
    /// Messages with a valid header.
    pub messages: u64,
    /// Those by (application, command, request/answer); the kinds seen in
    /// one capture are a handful.
    #[serde(serialize_with = "serialize_messages")]
    pub by_kind: BTreeMap<MessageKind, u64>,
    /// Messages rejected (bad header).
    pub malformed: u64,
    /// Rejected messages by reason (labels of [`Error::reason`]).
    pub malformed_by_reason: BTreeMap<&'static str, u64>,
    /// Messages kept with at least one AVP error.
    pub messages_with_avp_errors: u64,
    /// AVP anomalies in kept messages (all of them, see
    /// [`Message::anomaly_count`]).
    pub avp_errors: u64,
    /// The anomalies each message names (its first
    /// [`summary::MAX_ANOMALIES`]) by reason (labels of
    /// [`summary::Anomaly::reason`]).
    pub avp_errors_by_reason: BTreeMap<&'static str, u64>,
    /// Grouped AVPs not walked into at [`avp::MAX_GROUP_DEPTH`].
    pub depth_limit_hits: u64,
    /// Request/answer matching.
    pub transactions: transactions::TransactionCounters,
}

impl DiameterCounters {
    /// Counts a message that failed [`Packet::new_checked`].
    pub fn count_malformed(&mut self, e: Error) {
        self.malformed += 1;
        *self.malformed_by_reason.entry(e.reason()).or_default() += 1;
    }

    /// Counts a summarised message.
    pub fn count_message(&mut self, m: &Message) {
        self.messages += 1;
        *self.by_kind.entry(MessageKind::of(&m.header)).or_default() += 1;
        if m.anomaly_count > 0 {
            self.messages_with_avp_errors += 1;
        }
        self.avp_errors += u64::from(m.anomaly_count);
        for e in &m.anomalies {
            *self.avp_errors_by_reason.entry(e.reason()).or_default() += 1;
        }
        self.depth_limit_hits += u64::from(m.depth_limit_hits);
    }

    /// Messages of one kind seen.
    pub fn count_of(&self, application_id: u32, command_code: u32, request: bool) -> u64 {
        self.by_kind
            .get(&MessageKind {
                application_id,
                command_code,
                request,
            })
            .copied()
            .unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Made up: a DWR (280) from Origin-Host "a.b", Origin-Realm "b", with
    /// hop-by-hop 0x11223344 and end-to-end 0x55667788.
    pub(crate) fn dwr() -> Vec<u8> {
        let mut v = vec![1, 0, 0, 0, 0x80, 0, 1, 0x18, 0, 0, 0, 0];
        v.extend(0x1122_3344u32.to_be_bytes());
        v.extend(0x5566_7788u32.to_be_bytes());
        v.extend([0, 0, 1, 8, 0x40, 0, 0, 11, b'a', b'.', b'b', 0]);
        v.extend([0, 0, 1, 0x28, 0x40, 0, 0, 9, b'b', 0, 0, 0]);
        let len = v.len() as u32;
        v[1..4].copy_from_slice(&len.to_be_bytes()[1..]);
        v
    }

    #[test]
    fn reads_header_fields() {
        let b = dwr();
        let p = Packet::new_checked(&b[..]).unwrap();
        let h = p.header_repr();
        assert!(h.request && !h.proxiable && !h.error && !h.retransmit);
        assert_eq!(h.command_code, 280);
        assert_eq!(h.application_id, 0);
        assert_eq!(h.hop_by_hop, 0x1122_3344);
        assert_eq!(h.end_to_end, 0x5566_7788);
        assert_eq!(h.length, 44);
        assert_eq!(p.avps().count(), 2);
    }

    #[test]
    fn rejects_bad_headers() {
        let b = dwr();
        assert_eq!(Packet::new_checked(&b[..19]).err(), Some(Error::TooShort));
        let mut v = b.clone();
        v[0] = 2;
        assert_eq!(Packet::new_checked(&v[..]).err(), Some(Error::BadVersion));
        let mut v = b.clone();
        v[3] = 19;
        assert_eq!(Packet::new_checked(&v[..]).err(), Some(Error::BadLength));
        let mut v = b.clone();
        v[3] = 48; // past the end
        assert_eq!(Packet::new_checked(&v[..]).err(), Some(Error::BadLength));
    }

    #[test]
    fn avps_stop_at_message_length() {
        let mut b = dwr();
        b.extend([0xff; 12]); // trailing bytes are not the message's
        let p = Packet::new_checked(&b[..]).unwrap();
        assert_eq!(p.avp_data().len(), 24);
        assert!(p.avps().all(|a| a.is_ok()));
    }

    #[test]
    fn counters_serialise_with_names() {
        let b = dwr();
        let m = Message::parse(&b).unwrap();
        let mut c = DiameterCounters::default();
        c.count_message(&m);
        c.count_malformed(Error::BadVersion);
        let json = serde_json::to_string(&c).unwrap();
        assert!(json.contains(r#""command":"DWR""#), "{json}");
        assert!(json.contains(r#""application":"Base""#), "{json}");
        assert!(json.contains(r#""bad_version":1"#), "{json}");
        assert_eq!(c.count_of(0, 280, true), 1);
    }
}
