//! GTPv2-C (3GPP TS 29.274): header view, message names, an owned per-message
//! summary, and a bounded request/response transaction table.
//!
//! ```text
//!  0                   1                   2                   3
//! |V=2|P|T|MP|spr|  message type  |  length (octets after the first 4) |
//! |                 TEID (only when T = 1)                             |
//! |           sequence number (24 bits)            |      spare        |
//! | information elements (see [`ie`]) ...                              |
//! ```
//!
//! [`messages`] iterates over a UDP payload: the first message and, when its
//! P flag is set, the piggybacked one that follows after `length + 4` octets
//! (§5.5.1), at most [`MAX_MESSAGES_PER_DATAGRAM`]. Each is a [`Packet`] view
//! whose [`Packet::body`] is sized by the length field. [`summarize`] turns a
//! message into a [`MessageSummary`]; a bad IE there becomes an
//! [`Anomaly`], never the loss of the message. [`Gtpv2Tracker`] pairs each
//! response with its request by sequence number and peers (§7.6) and keeps
//! the [`Gtpv2Counters`].
//!
//! Contract: after [`Packet::new_checked`] succeeds no getter panics; the IE
//! walk and the summary never panic on any input and are bounded by
//! [`ie::MAX_IES_PER_MESSAGE`] and [`ie::MAX_GROUPED_DEPTH`].

pub mod ie;

use crate::packet::Endpoint;
use crate::proto::bytes::{be_u16, be_u24, be_u32};
use crate::time::PacketTime;
use ie::{BearerQos, Cause, Fteid, Ie, IeType, Paa, Plmn, RatType, Uli};
use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

mod field {
    use std::ops::Range;
    pub const FLAGS: usize = 0;
    pub const MESSAGE_TYPE: usize = 1;
    pub const LENGTH: Range<usize> = 2..4;
    /// With T = 1.
    pub const TEID: Range<usize> = 4..8;
    pub const SEQUENCE_T: Range<usize> = 8..11;
    pub const SPARE_T: usize = 11;
    /// With T = 0.
    pub const SEQUENCE: Range<usize> = 4..7;
    pub const SPARE: usize = 7;
}

/// Header length without a TEID (T = 0).
pub const HEADER_LEN: usize = field::SPARE + 1;
/// Header length with a TEID (T = 1).
pub const HEADER_LEN_WITH_TEID: usize = field::SPARE_T + 1;
/// Messages read from one datagram at most: §5.5.1 allows one piggybacked
/// message after the first (whose own P flag is 0), so 2; a longer chain is
/// counted as [`Error::TooManyMessages`].
pub const MAX_MESSAGES_PER_DATAGRAM: usize = 2;

/// Why bytes are not a valid GTPv2-C message, or an IE is bad.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// Fewer bytes than the header.
    #[error("shorter than the GTPv2-C header")]
    TooShort,
    /// Version field is not 2.
    #[error("GTP version is not 2")]
    BadVersion,
    /// The length field is shorter than the header or runs past the datagram.
    #[error("GTPv2-C length field is shorter than the header or runs past the datagram")]
    BadLength,
    /// More piggybacked messages than [`MAX_MESSAGES_PER_DATAGRAM`].
    #[error("GTPv2-C datagram chains too many piggybacked messages")]
    TooManyMessages,
    /// An IE's length runs past its message or group.
    #[error("GTPv2-C IE length runs past the end of its message or group")]
    BadIeLength,
    /// Grouped IEs nested deeper than [`ie::MAX_GROUPED_DEPTH`].
    #[error("GTPv2-C grouped IEs nested too deep")]
    TooDeep,
    /// More IEs than [`ie::MAX_IES_PER_MESSAGE`].
    #[error("GTPv2-C message has too many IEs")]
    TooManyIes,
    /// An IE's value is too short or inconsistent for its type.
    #[error("GTPv2-C IE value is too short or inconsistent for its type")]
    BadIeValue,
    /// More bearer contexts or F-TEIDs than the summary keeps.
    #[error("GTPv2-C message has more bearer contexts or F-TEIDs than kept")]
    TooManyItems,
}

impl Error {
    /// Stable label for counters.
    pub fn reason(self) -> &'static str {
        match self {
            Error::TooShort => "too_short",
            Error::BadVersion => "bad_version",
            Error::BadLength => "bad_length",
            Error::TooManyMessages => "too_many_messages",
            Error::BadIeLength => "bad_ie_length",
            Error::TooDeep => "too_deep",
            Error::TooManyIes => "too_many_ies",
            Error::BadIeValue => "bad_ie_value",
            Error::TooManyItems => "too_many_items",
        }
    }
}

/// Whether a message asks, answers, or neither (commands, indications).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, serde::Serialize)]
pub enum Kind {
    /// A request: expects a response with its sequence number.
    Request,
    /// A response to a request.
    Response,
    /// Commands, indications, notifications without a named response, and
    /// unknown types.
    #[default]
    Other,
}

macro_rules! message_types {
    ($($(#[$doc:meta])* $name:ident = $v:literal, $label:literal, $kind:ident;)*) => {
        /// GTPv2-C message types (TS 29.274 Table 6.1-1) that voxprobe names.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum MessageType {
            $($(#[$doc])* $name,)*
            /// Any other value.
            Unknown(u8),
        }

        impl From<u8> for MessageType {
            fn from(v: u8) -> Self {
                match v {
                    $($v => MessageType::$name,)*
                    n => MessageType::Unknown(n),
                }
            }
        }

        impl From<MessageType> for u8 {
            fn from(t: MessageType) -> u8 {
                match t {
                    $(MessageType::$name => $v,)*
                    MessageType::Unknown(n) => n,
                }
            }
        }

        impl MessageType {
            /// Stable name (`create_session_request`), `unknown` otherwise.
            pub fn name(self) -> &'static str {
                match self {
                    $(MessageType::$name => $label,)*
                    MessageType::Unknown(_) => "unknown",
                }
            }

            /// Request, response or other.
            pub fn kind(self) -> Kind {
                match self {
                    $(MessageType::$name => Kind::$kind,)*
                    MessageType::Unknown(_) => Kind::Other,
                }
            }
        }
    };
}

message_types! {
    /// 1.
    EchoRequest = 1, "echo_request", Request;
    /// 2.
    EchoResponse = 2, "echo_response", Response;
    /// 3.
    VersionNotSupported = 3, "version_not_supported_indication", Other;
    /// 32.
    CreateSessionRequest = 32, "create_session_request", Request;
    /// 33.
    CreateSessionResponse = 33, "create_session_response", Response;
    /// 34.
    ModifyBearerRequest = 34, "modify_bearer_request", Request;
    /// 35.
    ModifyBearerResponse = 35, "modify_bearer_response", Response;
    /// 36.
    DeleteSessionRequest = 36, "delete_session_request", Request;
    /// 37.
    DeleteSessionResponse = 37, "delete_session_response", Response;
    /// 38.
    ChangeNotificationRequest = 38, "change_notification_request", Request;
    /// 39.
    ChangeNotificationResponse = 39, "change_notification_response", Response;
    /// 64.
    ModifyBearerCommand = 64, "modify_bearer_command", Other;
    /// 65.
    ModifyBearerFailureIndication = 65, "modify_bearer_failure_indication", Other;
    /// 66.
    DeleteBearerCommand = 66, "delete_bearer_command", Other;
    /// 67.
    DeleteBearerFailureIndication = 67, "delete_bearer_failure_indication", Other;
    /// 68.
    BearerResourceCommand = 68, "bearer_resource_command", Other;
    /// 69.
    BearerResourceFailureIndication = 69, "bearer_resource_failure_indication", Other;
    /// 70.
    DownlinkDataNotificationFailureIndication = 70,
        "downlink_data_notification_failure_indication", Other;
    /// 95.
    CreateBearerRequest = 95, "create_bearer_request", Request;
    /// 96.
    CreateBearerResponse = 96, "create_bearer_response", Response;
    /// 97.
    UpdateBearerRequest = 97, "update_bearer_request", Request;
    /// 98.
    UpdateBearerResponse = 98, "update_bearer_response", Response;
    /// 99.
    DeleteBearerRequest = 99, "delete_bearer_request", Request;
    /// 100.
    DeleteBearerResponse = 100, "delete_bearer_response", Response;
    /// 101.
    DeletePdnConnectionSetRequest = 101, "delete_pdn_connection_set_request", Request;
    /// 102.
    DeletePdnConnectionSetResponse = 102, "delete_pdn_connection_set_response", Response;
    /// 162.
    SuspendNotification = 162, "suspend_notification", Request;
    /// 163.
    SuspendAcknowledge = 163, "suspend_acknowledge", Response;
    /// 164.
    ResumeNotification = 164, "resume_notification", Request;
    /// 165.
    ResumeAcknowledge = 165, "resume_acknowledge", Response;
    /// 166.
    CreateIndirectDataForwardingTunnelRequest = 166,
        "create_indirect_data_forwarding_tunnel_request", Request;
    /// 167.
    CreateIndirectDataForwardingTunnelResponse = 167,
        "create_indirect_data_forwarding_tunnel_response", Response;
    /// 168.
    DeleteIndirectDataForwardingTunnelRequest = 168,
        "delete_indirect_data_forwarding_tunnel_request", Request;
    /// 169.
    DeleteIndirectDataForwardingTunnelResponse = 169,
        "delete_indirect_data_forwarding_tunnel_response", Response;
    /// 170.
    ReleaseAccessBearersRequest = 170, "release_access_bearers_request", Request;
    /// 171.
    ReleaseAccessBearersResponse = 171, "release_access_bearers_response", Response;
    /// 176.
    DownlinkDataNotification = 176, "downlink_data_notification", Request;
    /// 177.
    DownlinkDataNotificationAcknowledge = 177, "downlink_data_notification_acknowledge", Response;
    /// 211.
    ModifyAccessBearersRequest = 211, "modify_access_bearers_request", Request;
    /// 212.
    ModifyAccessBearersResponse = 212, "modify_access_bearers_response", Response;
}

/// A GTPv2-C message view.
#[derive(Clone, Copy, Debug)]
pub struct Packet<T: AsRef<[u8]>> {
    buf: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// A view without checks; getters may panic until [`Packet::check_len`]
    /// has succeeded.
    pub fn new_unchecked(buf: T) -> Self {
        Packet { buf }
    }

    /// A view whose getters never panic.
    ///
    /// # Errors
    ///
    /// See [`Packet::check_len`].
    pub fn new_checked(buf: T) -> Result<Self, Error> {
        let p = Packet::new_unchecked(buf);
        p.check_len()?;
        Ok(p)
    }

    /// Checks the version, that the header fits and that `length + 4` covers
    /// the header and fits in the buffer (trailing bytes, e.g. a piggybacked
    /// message, are allowed).
    ///
    /// # Errors
    ///
    /// [`Error::TooShort`], [`Error::BadVersion`], [`Error::BadLength`].
    pub fn check_len(&self) -> Result<(), Error> {
        let b = self.buf.as_ref();
        let flags = *b.first().ok_or(Error::TooShort)?;
        if flags >> 5 != 2 {
            return Err(Error::BadVersion);
        }
        if b.len() < self.header_len() {
            return Err(Error::TooShort);
        }
        let total = self.total_len();
        if total < self.header_len() || total > b.len() {
            return Err(Error::BadLength);
        }
        Ok(())
    }

    /// The underlying buffer.
    pub fn into_inner(self) -> T {
        self.buf
    }

    fn flags(&self) -> u8 {
        self.buf.as_ref()[field::FLAGS]
    }

    /// Version (2 after `new_checked`).
    pub fn version(&self) -> u8 {
        self.flags() >> 5
    }

    /// P: a piggybacked message follows this one.
    pub fn piggybacking(&self) -> bool {
        self.flags() & 0x10 != 0
    }

    /// T: the header holds a TEID.
    pub fn teid_present(&self) -> bool {
        self.flags() & 0x08 != 0
    }

    /// Header length: 12 with a TEID, 8 without.
    pub fn header_len(&self) -> usize {
        if self.teid_present() {
            HEADER_LEN_WITH_TEID
        } else {
            HEADER_LEN
        }
    }

    /// Message type.
    pub fn message_type(&self) -> MessageType {
        MessageType::from(self.buf.as_ref()[field::MESSAGE_TYPE])
    }

    /// Length field: octets after the first 4.
    pub fn length(&self) -> u16 {
        be_u16(&self.buf.as_ref()[field::LENGTH])
    }

    /// Length of the whole message (`length + 4`).
    pub fn total_len(&self) -> usize {
        usize::from(self.length()) + 4
    }

    /// TEID when T = 1.
    pub fn teid(&self) -> Option<u32> {
        self.teid_present()
            .then(|| be_u32(&self.buf.as_ref()[field::TEID]))
    }

    /// 24-bit sequence number.
    pub fn sequence(&self) -> u32 {
        let f = if self.teid_present() {
            field::SEQUENCE_T
        } else {
            field::SEQUENCE
        };
        be_u24(&self.buf.as_ref()[f])
    }

    /// The spare octet after the sequence number (message priority bits
    /// when MP is set).
    pub fn spare(&self) -> u8 {
        let i = if self.teid_present() {
            field::SPARE_T
        } else {
            field::SPARE
        };
        self.buf.as_ref()[i]
    }
}

impl<'a> Packet<&'a [u8]> {
    /// The IE octets, sized by the length field.
    pub fn body(&self) -> &'a [u8] {
        &self.buf[self.header_len()..self.total_len()]
    }

    /// The message's own octets (without what follows it).
    pub fn as_bytes(&self) -> &'a [u8] {
        &self.buf[..self.total_len()]
    }

    /// The top-level IEs.
    pub fn ies(&self) -> ie::Ies<'a> {
        ie::Ies::new(self.body())
    }
}

/// Iterator over the messages of one datagram; see [`messages`].
#[derive(Clone, Debug)]
pub struct Messages<'a> {
    rest: &'a [u8],
    count: usize,
    more: bool,
}

/// The messages in a UDP payload: the first, then the piggybacked one when
/// the P flag says so. Stops after the first error (yielded once).
pub fn messages(payload: &[u8]) -> Messages<'_> {
    Messages {
        rest: payload,
        count: 0,
        more: true,
    }
}

impl<'a> Iterator for Messages<'a> {
    type Item = Result<Packet<&'a [u8]>, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if !self.more {
            return None;
        }
        if self.count == MAX_MESSAGES_PER_DATAGRAM {
            self.more = false;
            return Some(Err(Error::TooManyMessages));
        }
        match Packet::new_checked(self.rest) {
            Ok(p) => {
                self.count += 1;
                self.more = p.piggybacking();
                self.rest = self.rest.get(p.total_len()..).unwrap_or_default();
                Some(Ok(p))
            }
            Err(e) => {
                self.more = false;
                Some(Err(e))
            }
        }
    }
}

/// Bearer contexts kept per message: EBIs run 5–15, so 11 is the most a
/// message can meaningfully carry; 16 leaves room for odd stacks.
pub const MAX_BEARERS: usize = 16;
/// F-TEIDs kept per message or bearer context.
pub const MAX_FTEIDS: usize = 8;
/// Anomalies kept per message (the rest are counted in `anomalies_dropped`).
pub const MAX_ANOMALIES: usize = 8;

/// A problem with one IE; the message is kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Anomaly {
    /// Type of the IE where the problem was found; for a broken member list,
    /// the group's type; 0 when the message's own IE list broke (a lying
    /// length, too many IEs).
    pub ie_type: u8,
    /// What was wrong (its `reason()` is the label).
    #[serde(serialize_with = "serialize_reason")]
    pub error: Error,
}

fn serialize_reason<S: serde::Serializer>(e: &Error, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(e.reason())
}

/// One bearer context (IE 93) of a message.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct BearerContext {
    /// IE instance (e.g. "to be created" vs "to be removed").
    pub instance: u8,
    /// EPS bearer ID.
    pub ebi: Option<u8>,
    /// Bearer level QoS.
    pub qos: Option<BearerQos>,
    /// F-TEIDs of the bearer (S1-U, S5/S8-U ...).
    pub fteids: Vec<Fteid>,
    /// Per-bearer cause (responses).
    pub cause: Option<Cause>,
    /// Charging ID.
    pub charging_id: Option<u32>,
}

/// What voxprobe keeps of one GTPv2-C message.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct MessageSummary {
    /// Message type code.
    pub message_type: u8,
    /// Its name (`create_session_request`, `unknown`).
    pub name: &'static str,
    /// Request, response or other.
    pub kind: Kind,
    /// TEID from the header, when present.
    pub teid: Option<u32>,
    /// Sequence number.
    pub sequence: u32,
    /// Cause (top level).
    pub cause: Option<Cause>,
    /// IMSI digits.
    pub imsi: Option<String>,
    /// MSISDN digits.
    pub msisdn: Option<String>,
    /// MEI (IMEI/IMEISV) digits.
    pub mei: Option<String>,
    /// APN, dotted.
    pub apn: Option<String>,
    /// RAT type.
    pub rat_type: Option<RatType>,
    /// Serving network.
    pub serving_network: Option<Plmn>,
    /// User location (TAI, ECGI).
    pub uli: Option<Uli>,
    /// Recovery restart counter.
    pub recovery: Option<u8>,
    /// APN aggregate maximum bit rate.
    pub ambr: Option<ie::Ambr>,
    /// PDN type (IE 99; the PAA's when IE 99 is absent).
    pub pdn_type: Option<ie::PdnType>,
    /// UE IPv4 address from the PAA.
    pub ue_ipv4: Option<Ipv4Addr>,
    /// UE IPv6 prefix and length from the PAA.
    pub ue_ipv6: Option<(Ipv6Addr, u8)>,
    /// Top-level (sender) F-TEIDs.
    pub fteids: Vec<Fteid>,
    /// Top-level EPS Bearer IDs (instance 1: the bearers a Delete Bearer
    /// Request removes), at most [`MAX_BEARERS`].
    pub ebis: Vec<u8>,
    /// Bearer contexts.
    pub bearers: Vec<BearerContext>,
    /// IEs read: top-level ones and bearer context members.
    pub ie_count: usize,
    /// IE problems, at most [`MAX_ANOMALIES`].
    pub anomalies: Vec<Anomaly>,
    /// Anomalies beyond [`MAX_ANOMALIES`].
    pub anomalies_dropped: u32,
}

impl MessageSummary {
    fn anomaly(&mut self, ie_type: u8, error: Error) {
        if self.anomalies.len() < MAX_ANOMALIES {
            self.anomalies.push(Anomaly { ie_type, error });
        } else {
            self.anomalies_dropped = self.anomalies_dropped.saturating_add(1);
        }
    }

    /// Whether the cause says the request was accepted (16–63).
    pub fn accepted(&self) -> Option<bool> {
        self.cause.map(Cause::is_accepted)
    }
}

fn keep<T>(v: &mut Option<T>, r: Result<T, Error>) -> Result<(), Error> {
    *v = Some(r?);
    Ok(())
}

fn push_fteid(list: &mut Vec<Fteid>, ie: &Ie<'_>) -> Result<(), Error> {
    let f = Fteid::parse(ie.value, ie.instance)?;
    if list.len() >= MAX_FTEIDS {
        return Err(Error::TooManyItems);
    }
    list.push(f);
    Ok(())
}

/// Summarises one message: header fields, the top-level IEs kept in
/// [`MessageSummary`], bearer contexts (IE 93) and their members. Never fails: a bad IE or a broken IE list becomes an
/// [`Anomaly`] and the rest is kept.
pub fn summarize(msg: &Packet<&[u8]>) -> MessageSummary {
    let t = msg.message_type();
    let mut s = MessageSummary {
        message_type: u8::from(t),
        name: t.name(),
        kind: t.kind(),
        teid: msg.teid(),
        sequence: msg.sequence(),
        ..MessageSummary::default()
    };
    // Top-level IEs fill the summary, a bearer context's members its entry.
    // A broken member list costs only the rest of that group: the outer
    // length still says where the next top-level IE starts. Deeper groups
    // (a bearer inside a PDN Connection) are not read here.
    let mut budget = ie::MAX_IES_PER_MESSAGE;
    'top: for item in msg.ies() {
        let top = match item {
            Ok((_, ie)) => ie,
            Err(e) => {
                s.anomaly(0, e);
                break;
            }
        };
        if budget == 0 {
            s.anomaly(0, Error::TooManyIes);
            break;
        }
        budget -= 1;
        s.ie_count += 1;
        let code = u8::from(top.ie_type);
        if let Err(e) = top_level(&mut s, &top) {
            s.anomaly(code, e);
            continue;
        }
        if top.ie_type != IeType::BearerContext {
            continue;
        }
        for member in ie::Ies::new(top.value) {
            let member = match member {
                Ok((_, m)) => m,
                Err(e) => {
                    s.anomaly(code, e);
                    break;
                }
            };
            if budget == 0 {
                s.anomaly(0, Error::TooManyIes);
                break 'top;
            }
            budget -= 1;
            s.ie_count += 1;
            let r = match s.bearers.last_mut() {
                Some(b) => bearer_member(b, &member),
                None => Ok(()),
            };
            if let Err(e) = r {
                s.anomaly(u8::from(member.ie_type), e);
            }
        }
    }
    s
}

fn top_level(s: &mut MessageSummary, ie: &Ie<'_>) -> Result<(), Error> {
    let v = ie.value;
    match ie.ie_type {
        IeType::Imsi => keep(&mut s.imsi, ie::tbcd(v)),
        IeType::Msisdn => keep(&mut s.msisdn, ie::tbcd(v)),
        IeType::Mei => keep(&mut s.mei, ie::tbcd(v)),
        IeType::Cause => keep(&mut s.cause, Cause::parse(v)),
        IeType::Recovery => keep(&mut s.recovery, ie::octet(v)),
        IeType::Apn => keep(&mut s.apn, ie::dotted_name(v)),
        IeType::RatType => keep(&mut s.rat_type, ie::octet(v).map(RatType)),
        IeType::ServingNetwork => keep(&mut s.serving_network, Plmn::parse(v)),
        IeType::Uli => keep(&mut s.uli, Uli::parse(v)),
        IeType::Ambr => keep(&mut s.ambr, ie::Ambr::parse(v)),
        IeType::PdnType => keep(&mut s.pdn_type, ie::pdn_type(v)),
        IeType::Paa => {
            let p = Paa::parse(v)?;
            s.pdn_type = s.pdn_type.or(Some(p.pdn_type));
            s.ue_ipv4 = p.ipv4;
            s.ue_ipv6 = p.ipv6;
            Ok(())
        }
        IeType::Fteid => push_fteid(&mut s.fteids, ie),
        IeType::Ebi if ie.instance == 1 => {
            if s.ebis.len() >= MAX_BEARERS {
                return Err(Error::TooManyItems);
            }
            s.ebis.push(ie::ebi(v)?);
            Ok(())
        }
        IeType::BearerContext => {
            if s.bearers.len() >= MAX_BEARERS {
                return Err(Error::TooManyItems);
            }
            s.bearers.push(BearerContext {
                instance: ie.instance,
                ..BearerContext::default()
            });
            Ok(())
        }
        _ => Ok(()),
    }
}

fn bearer_member(b: &mut BearerContext, ie: &Ie<'_>) -> Result<(), Error> {
    let v = ie.value;
    match ie.ie_type {
        IeType::Ebi => keep(&mut b.ebi, ie::ebi(v)),
        IeType::BearerQos => keep(&mut b.qos, BearerQos::parse(v)),
        IeType::Fteid => push_fteid(&mut b.fteids, ie),
        IeType::Cause => keep(&mut b.cause, Cause::parse(v)),
        IeType::ChargingId => keep(&mut b.charging_id, ie::charging_id(v)),
        _ => Ok(()),
    }
}

/// Requests waiting for a response at most, per tracker: beyond, new
/// requests are not tracked and counted in `table_full`.
pub const MAX_PENDING_REQUESTS: usize = 65_536;
/// A request unanswered for this long has timed out: T3-RESPONSE × (N3-REQUESTS
/// + 1) with the common defaults 3 s × 5 is 15 s; 20 s leaves margin.
pub const REQUEST_TIMEOUT_NANOS: i64 = 20_000_000_000;

/// A response paired with its request.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct Transaction {
    /// Request type code.
    pub request_type: u8,
    /// Response type code.
    pub response_type: u8,
    /// Sequence number.
    pub sequence: u32,
    /// Time of the (first) request.
    #[serde(skip)]
    pub request_time: PacketTime,
    /// Response time minus the first request's time, in milliseconds.
    pub latency_ms: f64,
    /// The response's cause.
    pub cause: Option<Cause>,
    /// Times the request was sent again before the answer.
    pub retransmissions: u32,
}

/// GTPv2-C counters.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Gtpv2Counters {
    /// Messages by type name (piggybacked messages counted separately).
    pub messages: BTreeMap<&'static str, u64>,
    /// Datagrams or messages that failed to parse, by reason.
    pub malformed: BTreeMap<&'static str, u64>,
    /// IE anomalies in kept messages, by reason.
    pub ie_anomalies: BTreeMap<&'static str, u64>,
    /// Responses paired with a request.
    pub answered: u64,
    /// Responses without a pending request.
    pub unmatched_responses: u64,
    /// Requests that got no response within the timeout.
    pub timed_out_requests: u64,
    /// Requests seen again with the same sequence number and peers.
    pub retransmitted_requests: u64,
    /// Requests not tracked because the table was full.
    pub table_full: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct Key {
    sequence: u32,
    requester: Endpoint,
    responder: IpAddr,
}

#[derive(Clone, Copy, Debug)]
struct Pending {
    request_type: u8,
    time: PacketTime,
    retransmissions: u32,
}

/// Decodes GTPv2-C datagrams, pairs responses with requests and counts.
///
/// Call [`Gtpv2Tracker::handle_datagram`] with packets in time order and
/// [`Gtpv2Tracker::handle_timeout`] now and then (packet time) to age out
/// unanswered requests. Deterministic: no clock but the packets'.
#[derive(Debug)]
pub struct Gtpv2Tracker {
    pending: HashMap<Key, Pending, foldhash::fast::RandomState>,
    max_pending: usize,
    timeout_nanos: i64,
    /// No pending request expires before this (packet time).
    next_expiry: Option<PacketTime>,
    counters: Gtpv2Counters,
}

impl Default for Gtpv2Tracker {
    fn default() -> Self {
        Gtpv2Tracker::new(MAX_PENDING_REQUESTS, REQUEST_TIMEOUT_NANOS)
    }
}

impl Gtpv2Tracker {
    /// A tracker holding at most `max_pending` requests, timing them out after
    /// `timeout_nanos` of packet time.
    pub fn new(max_pending: usize, timeout_nanos: i64) -> Self {
        Gtpv2Tracker {
            pending: HashMap::default(),
            max_pending,
            timeout_nanos,
            next_expiry: None,
            counters: Gtpv2Counters::default(),
        }
    }

    /// The counters.
    pub fn counters(&self) -> &Gtpv2Counters {
        &self.counters
    }

    /// Requests waiting for a response.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// Decodes every message of a UDP payload from `src` to `dst`, calling
    /// `on_message` with its summary and, for a response, the transaction it
    /// completes. Returns the number of messages decoded (0: malformed,
    /// counted).
    pub fn handle_datagram(
        &mut self,
        now: PacketTime,
        src: Endpoint,
        dst: Endpoint,
        payload: &[u8],
        on_message: &mut dyn FnMut(MessageSummary, Option<Transaction>),
    ) -> usize {
        let mut n = 0;
        for item in messages(payload) {
            match item {
                Ok(msg) => {
                    n += 1;
                    let s = summarize(&msg);
                    let t = self.handle_summary(now, src, dst, &s);
                    on_message(s, t);
                }
                Err(e) => *self.counters.malformed.entry(e.reason()).or_default() += 1,
            }
        }
        n
    }

    /// Counts a summarised message and pairs it: a request is remembered (or
    /// recognised as retransmitted), a response completes its request.
    pub fn handle_summary(
        &mut self,
        now: PacketTime,
        src: Endpoint,
        dst: Endpoint,
        s: &MessageSummary,
    ) -> Option<Transaction> {
        *self.counters.messages.entry(s.name).or_default() += 1;
        for a in &s.anomalies {
            *self
                .counters
                .ie_anomalies
                .entry(a.error.reason())
                .or_default() += 1;
        }
        match s.kind {
            Kind::Request => {
                let key = Key {
                    sequence: s.sequence,
                    requester: src,
                    responder: dst.ip,
                };
                if let Some(p) = self.pending.get_mut(&key) {
                    if p.request_type == s.message_type {
                        p.retransmissions = p.retransmissions.saturating_add(1);
                        self.counters.retransmitted_requests += 1;
                        return None;
                    }
                    // Same sequence, other type: a new request reusing it.
                    self.counters.timed_out_requests += 1;
                    self.pending.remove(&key);
                }
                if self.pending.len() >= self.max_pending {
                    self.counters.table_full += 1;
                    return None;
                }
                let expiry = now.add_nanos(self.timeout_nanos);
                self.next_expiry = Some(self.next_expiry.map_or(expiry, |e| e.min(expiry)));
                self.pending.insert(
                    key,
                    Pending {
                        request_type: s.message_type,
                        time: now,
                        retransmissions: 0,
                    },
                );
                None
            }
            Kind::Response => {
                let key = Key {
                    sequence: s.sequence,
                    requester: dst,
                    responder: src.ip,
                };
                let Some(p) = self.pending.remove(&key) else {
                    self.counters.unmatched_responses += 1;
                    return None;
                };
                self.counters.answered += 1;
                Some(Transaction {
                    request_type: p.request_type,
                    response_type: s.message_type,
                    sequence: s.sequence,
                    request_time: p.time,
                    latency_ms: now.millis_since(p.time),
                    cause: s.cause,
                    retransmissions: p.retransmissions,
                })
            }
            Kind::Other => None,
        }
    }

    /// Ages out requests older than the timeout at `now` (counted in
    /// `timed_out_requests`). Cheap until the oldest request expires; then
    /// one pass over the pending requests.
    pub fn handle_timeout(&mut self, now: PacketTime) {
        if self.next_expiry.is_none_or(|e| now < e) {
            return;
        }
        let timeout = self.timeout_nanos;
        let before = self.pending.len();
        self.pending
            .retain(|_, p| now.as_nanos().saturating_sub(p.time.as_nanos()) < timeout);
        self.counters.timed_out_requests += (before - self.pending.len()) as u64;
        self.next_expiry = self
            .pending
            .values()
            .map(|p| p.time.add_nanos(timeout))
            .min();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// gtpv2-csr-dsr-minimal.pcap frame 1: Create Session Request, UDP payload.
    const CSR: &[u8] = &[
        0x48, 0x20, 0x00, 0xf3, 0x00, 0x00, 0x00, 0x00, 0x4b, 0x54, 0x62, 0x00, 0x01, 0x00, 0x08,
        0x00, 0x89, 0x67, 0x45, 0x11, 0x22, 0x33, 0x44, 0xf5, 0x4c, 0x00, 0x06, 0x00, 0x98, 0x76,
        0x54, 0x12, 0x34, 0x56, 0x4b, 0x00, 0x08, 0x00, 0x34, 0x56, 0x78, 0x90, 0x12, 0x01, 0x02,
        0xf3, 0x56, 0x00, 0x0d, 0x00, 0x18, 0x98, 0x76, 0x54, 0x12, 0x34, 0x98, 0x76, 0x54, 0x12,
        0x34, 0x56, 0x78, 0x53, 0x00, 0x03, 0x00, 0x89, 0x47, 0x56, 0x52, 0x00, 0x01, 0x00, 0x06,
        0x4d, 0x00, 0x02, 0x00, 0x00, 0x00, 0x57, 0x00, 0x09, 0x00, 0x86, 0x35, 0x52, 0x92, 0x04,
        0x0a, 0x65, 0x00, 0x02, 0x47, 0x00, 0x09, 0x00, 0x08, 0x69, 0x6e, 0x74, 0x65, 0x72, 0x6e,
        0x65, 0x74, 0x80, 0x00, 0x01, 0x00, 0x00, 0x63, 0x00, 0x01, 0x00, 0x01, 0x4f, 0x00, 0x05,
        0x00, 0x01, 0x21, 0x17, 0x17, 0x01, 0x7f, 0x00, 0x01, 0x00, 0x02, 0x48, 0x00, 0x08, 0x00,
        0x00, 0x00, 0x27, 0x0f, 0x00, 0x00, 0x27, 0x0f, 0x49, 0x00, 0x01, 0x00, 0x05, 0x5d, 0x00,
        0x3d, 0x00, 0x49, 0x00, 0x01, 0x00, 0x05, 0x54, 0x00, 0x0d, 0x00, 0x21, 0x31, 0x01, 0x09,
        0x10, 0xc0, 0xa8, 0x01, 0x01, 0xff, 0xff, 0xff, 0x00, 0x57, 0x00, 0x09, 0x02, 0x84, 0x35,
        0x52, 0x92, 0x05, 0x0a, 0x65, 0x00, 0x02, 0x50, 0x00, 0x16, 0x00, 0x18, 0x07, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x84, 0x00, 0x07, 0x00, 0x01, 0xac, 0x10, 0x6b, 0x71, 0x00, 0x01, 0x84,
        0x00, 0x07, 0x01, 0x01, 0xac, 0x10, 0x6b, 0x72, 0x00, 0x01, 0x72, 0x00, 0x02, 0x00, 0x00,
        0x00, 0x5f, 0x00, 0x02, 0x00, 0x00, 0x01,
    ];

    /// gtpv2-csr-dsr-minimal.pcap frame 4: Delete Session Response.
    const DSR: &[u8] = &[
        0x48, 0x25, 0x00, 0x13, 0x35, 0x52, 0x92, 0x04, 0x4b, 0x54, 0x62, 0x00, 0x02, 0x00, 0x02,
        0x00, 0x10, 0x00, 0x03, 0x00, 0x01, 0x00, 0x01,
    ];

    #[test]
    fn header_of_create_session_request() {
        let p = Packet::new_checked(CSR).unwrap();
        assert_eq!(p.version(), 2);
        assert!(!p.piggybacking() && p.teid_present());
        assert_eq!(p.message_type(), MessageType::CreateSessionRequest);
        assert_eq!(p.message_type().kind(), Kind::Request);
        assert_eq!(p.length(), 0xf3);
        assert_eq!(p.total_len(), CSR.len());
        assert_eq!(p.teid(), Some(0));
        assert_eq!(p.sequence(), 0x4b5462);
        assert_eq!(p.spare(), 0);
    }

    #[test]
    fn summary_of_create_session_request() {
        let s = summarize(&Packet::new_checked(CSR).unwrap());
        assert_eq!(s.anomalies, vec![]);
        assert_eq!(s.name, "create_session_request");
        assert_eq!(s.imsi.as_deref(), Some("987654112233445"));
        assert_eq!(s.msisdn.as_deref(), Some("896745214365"));
        assert_eq!(s.mei.as_deref(), Some("436587092110203"));
        assert_eq!(s.apn.as_deref(), Some("internet"));
        assert_eq!(s.rat_type.map(RatType::name), Some("EUTRAN"));
        assert_eq!(s.serving_network.unwrap().to_string(), "987-654");
        assert_eq!(s.ue_ipv4, Some(Ipv4Addr::new(33, 23, 23, 1)));
        assert_eq!(s.pdn_type, Some(ie::PdnType::Ipv4));
        assert_eq!(s.ambr.map(|a| a.uplink_kbps), Some(9999));
        assert_eq!(s.fteids.len(), 1);
        assert_eq!(s.fteids[0].interface_name(), "S5/S8 SGW GTP-C");
        assert_eq!(s.bearers.len(), 1);
        let b = &s.bearers[0];
        assert_eq!(b.ebi, Some(5));
        assert_eq!(b.qos.unwrap().qci, 7);
        assert_eq!(b.fteids[0].interface_name(), "S5/S8 SGW GTP-U");
        assert_eq!(b.fteids[0].teid, 0x3552_9205);
    }

    #[test]
    fn delete_session_response_is_accepted_and_pairs() {
        let s = summarize(&Packet::new_checked(DSR).unwrap());
        assert_eq!(s.kind, Kind::Response);
        assert_eq!(s.accepted(), Some(true));
        assert_eq!(s.teid, Some(0x3552_9204));
        assert_eq!(s.recovery, Some(1));
    }

    #[test]
    fn header_without_teid() {
        // Made up: Echo Request, T=0, sequence 0x000102, Recovery 7.
        let b = [
            0x40, 0x01, 0x00, 0x09, 0x00, 0x01, 0x02, 0x00, 3, 0, 1, 0, 7,
        ];
        let p = Packet::new_checked(&b[..]).unwrap();
        assert_eq!(p.teid(), None);
        assert_eq!(p.header_len(), HEADER_LEN);
        assert_eq!(p.sequence(), 0x102);
        assert_eq!(p.message_type().name(), "echo_request");
        assert_eq!(summarize(&p).recovery, Some(7));
    }

    #[test]
    fn rejects_bad_headers() {
        assert_eq!(Packet::new_checked(&[][..]).err(), Some(Error::TooShort));
        assert_eq!(
            Packet::new_checked(&[0x30, 1, 0, 4, 0, 0, 0, 0][..]).err(),
            Some(Error::BadVersion)
        );
        assert_eq!(
            Packet::new_checked(&[0x48, 1, 0, 4, 0, 0, 0, 0][..]).err(),
            Some(Error::TooShort)
        );
        // Length 3 < header; length 9 past the 12-byte buffer.
        assert_eq!(
            Packet::new_checked(&[0x40, 1, 0, 3, 0, 0, 0, 0][..]).err(),
            Some(Error::BadLength)
        );
        assert_eq!(
            Packet::new_checked(&[0x40, 1, 0, 9, 0, 0, 0, 0, 0, 0, 0, 0][..]).err(),
            Some(Error::BadLength)
        );
    }

    #[test]
    fn piggybacked_message_follows() {
        // Made up: a Create Session Response (P=1) carrying a Create Bearer
        // Request (P=0) after it.
        let mut b = vec![0x58, 33, 0, 8, 0, 0, 0, 1, 0, 0, 5, 0];
        b.extend_from_slice(&[0x48, 95, 0, 8, 0, 0, 0, 2, 0, 0, 6, 0]);
        let m: Vec<_> = messages(&b).collect::<Result<_, _>>().unwrap();
        assert_eq!(m.len(), 2);
        assert_eq!(m[0].message_type(), MessageType::CreateSessionResponse);
        assert_eq!(m[1].message_type(), MessageType::CreateBearerRequest);
        assert_eq!(m[1].sequence(), 6);
        // A chain of three is cut.
        let mut c = vec![0x58, 33, 0, 8, 0, 0, 0, 1, 0, 0, 5, 0];
        c.extend_from_slice(&[0x58, 95, 0, 8, 0, 0, 0, 2, 0, 0, 6, 0]);
        c.extend_from_slice(&[0x48, 95, 0, 8, 0, 0, 0, 2, 0, 0, 7, 0]);
        let r: Vec<_> = messages(&c).collect();
        assert_eq!(r.len(), 3);
        assert_eq!(r[2].as_ref().err(), Some(&Error::TooManyMessages));
        // P=1 with nothing after: the second read fails once.
        let r: Vec<_> = messages(&c[..12]).collect();
        assert_eq!(r.len(), 2);
        assert_eq!(r[1].as_ref().err(), Some(&Error::TooShort));
    }

    #[test]
    fn bad_ie_keeps_the_message() {
        // Made up: CSR with IMSI 'a1' (bad TBCD), APN ok, then a lying length.
        let body: &[u8] = &[
            1, 0, 1, 0, 0xa1, 71, 0, 4, 0, 3, b'i', b'm', b's', 82, 0, 9, 0, 6,
        ];
        let mut b = vec![0x48, 32, 0, 0, 0, 0, 0, 0, 0, 0, 9, 0];
        b.extend_from_slice(body);
        b[3] = u8::try_from(b.len() - 4).unwrap();
        let s = summarize(&Packet::new_checked(&b[..]).unwrap());
        assert_eq!(s.apn.as_deref(), Some("ims"));
        assert_eq!(s.imsi, None);
        assert_eq!(
            s.anomalies,
            vec![
                Anomaly {
                    ie_type: 1,
                    error: Error::BadIeValue
                },
                Anomaly {
                    ie_type: 0,
                    error: Error::BadIeLength
                }
            ]
        );
    }

    fn message(message_type: u8, body: &[u8]) -> Vec<u8> {
        let mut b = vec![0x48, message_type, 0, 0, 0, 0, 0, 0, 0, 0, 9, 0];
        b.extend_from_slice(body);
        let len = u16::try_from(b.len() - 4).unwrap().to_be_bytes();
        b[2..4].copy_from_slice(&len);
        b
    }

    #[test]
    fn broken_bearer_context_keeps_later_ies() {
        // Made up: Bearer Context {EBI 5, then a member claiming 9 octets},
        // then APN "ims" at top level.
        let body: &[u8] = &[
            93, 0, 9, 0, 73, 0, 1, 0, 5, 80, 0, 9, 0, 71, 0, 4, 0, 3, b'i', b'm', b's',
        ];
        let s = summarize(&Packet::new_checked(&message(95, body)[..]).unwrap());
        assert_eq!(s.bearers.len(), 1);
        assert_eq!(s.bearers[0].ebi, Some(5));
        assert_eq!(s.apn.as_deref(), Some("ims"));
        assert_eq!(
            s.anomalies,
            vec![Anomaly {
                ie_type: 93,
                error: Error::BadIeLength
            }]
        );
        assert_eq!(s.ie_count, 3);
    }

    #[test]
    fn too_many_bearers_and_ies_are_bounded() {
        // Made up: 20 empty bearer contexts, then 300 Recovery IEs.
        let mut body = [93u8, 0, 0, 0].repeat(20);
        body.extend_from_slice(&[3u8, 0, 1, 0, 1].repeat(300));
        let s = summarize(&Packet::new_checked(&message(95, &body)[..]).unwrap());
        assert_eq!(s.bearers.len(), MAX_BEARERS);
        assert_eq!(s.ie_count, ie::MAX_IES_PER_MESSAGE);
        assert_eq!(s.anomalies.len(), 5);
        assert_eq!(s.anomalies[4].error, Error::TooManyIes);
    }

    fn ep(last: u8, port: u16) -> Endpoint {
        Endpoint::new(IpAddr::V4(Ipv4Addr::new(192, 0, 2, last)), port)
    }

    #[test]
    fn transactions_pair_retransmit_and_time_out() {
        let mut t = Gtpv2Tracker::new(2, 1_000_000_000);
        let (mme, sgw) = (ep(1, 2123), ep(2, 2123));
        let req = |seq: u8| vec![0x40, 1, 0, 4, 0, 0, seq, 0];
        let resp = |seq: u8| vec![0x40, 2, 0, 4, 0, 0, seq, 0];
        let ms = |n: i64| PacketTime::from_nanos(n * 1_000_000);
        let mut done = Vec::new();
        let mut cb = |_: MessageSummary, tr: Option<Transaction>| done.extend(tr);
        t.handle_datagram(ms(0), mme, sgw, &req(1), &mut cb);
        t.handle_datagram(ms(5), mme, sgw, &req(1), &mut cb);
        t.handle_datagram(ms(6), mme, sgw, &req(2), &mut cb);
        t.handle_datagram(ms(7), mme, sgw, &req(3), &mut cb); // table full
        t.handle_datagram(ms(12), sgw, mme, &resp(1), &mut cb);
        t.handle_datagram(ms(13), sgw, mme, &resp(9), &mut cb); // unmatched
        t.handle_timeout(ms(2000));
        let c = t.counters();
        assert_eq!(done.len(), 1);
        assert_eq!(done[0].latency_ms, 12.0);
        assert_eq!(done[0].retransmissions, 1);
        assert_eq!(c.retransmitted_requests, 1);
        assert_eq!(c.table_full, 1);
        assert_eq!(c.unmatched_responses, 1);
        assert_eq!(c.timed_out_requests, 1);
        assert_eq!(c.messages.get("echo_request"), Some(&4));
        assert_eq!(t.pending(), 0);
        t.handle_datagram(ms(2001), sgw, mme, &[0x20, 1], &mut |_, _| {});
        assert_eq!(t.counters().malformed.get("bad_version"), Some(&1));
    }
}
