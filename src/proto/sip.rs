//! SIP messages (RFC 3261): recognition, a zero-copy scanner and header
//! helpers.
//!
//! [`parse`] reads one message in a single pass and returns a [`Message`] of
//! slices borrowed from the input: the start line, the headers a probe needs
//! ([`KnownHeaders`]: the first occurrence of each, compact forms included),
//! the header block (every field through [`Message::fields`]) and the body,
//! bounded by Content-Length. It allocates nothing. Header values are parsed
//! on demand by the helpers: [`parse_cseq`], [`parse_name_addr`],
//! [`parse_uri`], [`parse_via`], [`parse_reason`], [`parse_icid`], and the
//! generic [`list_items`] (comma-separated values) and [`params`]
//! (`;name=value` parameters), which both respect quoted strings.
//!
//! Contract:
//! - No input makes anything here panic, and every slice returned lies inside
//!   the input (the fuzz target `sip` checks both).
//! - Bounded work: at most [`MAX_HEADERS`] header lines and [`MAX_LINE_BYTES`]
//!   per logical line (folded continuation lines included), else an
//!   [`Error`]; every other loop consumes input.
//! - Lenient where a probe must be (it sees what was sent, not what should
//!   have been): bare-LF line ends, CR/LF before the start line (RFC 3261
//!   §7.5), header lines that are not `name: value` (skipped, counted in
//!   [`Message::malformed_lines`]), a body shorter than Content-Length (kept
//!   as is, [`Message::body_truncated`] set), IPv6 hosts written without
//!   brackets (seen in `odd/sip-ipv6-udp.pcap`).
//! - Folded values (RFC 3261 §7.3.1) are borrowed as written, their inner
//!   line breaks included; [`unfold`] joins them for display.

use std::net::Ipv6Addr;

/// Most header lines read from one message (folded lines count once). Real
/// messages carry 10–40; IMS ones up to ~60. More is an attack or garbage.
pub const MAX_HEADERS: usize = 256;

/// Longest start line or logical header line (continuation lines included).
/// The longest seen in the shared captures are Contact and Authorization
/// values of well under 1 KiB.
pub const MAX_LINE_BYTES: usize = 16 * 1024;

/// Request methods recognised at the start of a message (RFC 3261 and
/// extensions: RFC 3262 PRACK, 3265 SUBSCRIBE/NOTIFY, 3311 UPDATE, 3428
/// MESSAGE, 3515 REFER, 3903 PUBLISH, 6086 INFO).
const METHODS: &[&[u8]] = &[
    b"INVITE",
    b"ACK",
    b"BYE",
    b"CANCEL",
    b"OPTIONS",
    b"REGISTER",
    b"PRACK",
    b"SUBSCRIBE",
    b"NOTIFY",
    b"PUBLISH",
    b"INFO",
    b"REFER",
    b"MESSAGE",
    b"UPDATE",
];

/// Whether `payload` starts like a SIP request (`METHOD SP`) or response
/// (`SIP/2.0 SP`).
pub fn looks_like_sip(payload: &[u8]) -> bool {
    // Every method and "SIP/2.0" start with an upper-case letter; this one
    // test rejects RTP (first byte 0x80) and most other traffic at once.
    if !payload.first().is_some_and(u8::is_ascii_uppercase) {
        return false;
    }
    if payload.starts_with(b"SIP/2.0 ") {
        return true;
    }
    METHODS.iter().any(|m| {
        payload.len() > m.len() && payload.starts_with(m) && payload.get(m.len()) == Some(&b' ')
    })
}

/// The message body: everything after the first empty line, if there is one.
pub fn body(message: &[u8]) -> Option<&[u8]> {
    message
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .and_then(|i| message.get(i + 4..))
        .or_else(|| {
            // Some stacks end lines with a bare LF.
            message
                .windows(2)
                .position(|w| w == b"\n\n")
                .and_then(|i| message.get(i + 2..))
        })
}

/// A SIP method; extension methods are kept as written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Method<'a> {
    /// INVITE.
    Invite,
    /// ACK.
    Ack,
    /// BYE.
    Bye,
    /// CANCEL.
    Cancel,
    /// OPTIONS.
    Options,
    /// REGISTER.
    Register,
    /// PRACK (RFC 3262).
    Prack,
    /// SUBSCRIBE (RFC 6665).
    Subscribe,
    /// NOTIFY (RFC 6665).
    Notify,
    /// PUBLISH (RFC 3903).
    Publish,
    /// INFO (RFC 6086).
    Info,
    /// REFER (RFC 3515).
    Refer,
    /// MESSAGE (RFC 3428).
    Message,
    /// UPDATE (RFC 3311).
    Update,
    /// Any other token.
    Other(&'a [u8]),
}

impl<'a> Method<'a> {
    /// The method for a token (methods are case-sensitive, RFC 3261 §7.1).
    pub fn from_token(t: &'a [u8]) -> Method<'a> {
        match t {
            b"INVITE" => Method::Invite,
            b"ACK" => Method::Ack,
            b"BYE" => Method::Bye,
            b"CANCEL" => Method::Cancel,
            b"OPTIONS" => Method::Options,
            b"REGISTER" => Method::Register,
            b"PRACK" => Method::Prack,
            b"SUBSCRIBE" => Method::Subscribe,
            b"NOTIFY" => Method::Notify,
            b"PUBLISH" => Method::Publish,
            b"INFO" => Method::Info,
            b"REFER" => Method::Refer,
            b"MESSAGE" => Method::Message,
            b"UPDATE" => Method::Update,
            other => Method::Other(other),
        }
    }

    /// The method's name (`"OTHER"` for extension methods that are not UTF-8).
    pub fn as_str(&self) -> &'a str {
        match self {
            Method::Invite => "INVITE",
            Method::Ack => "ACK",
            Method::Bye => "BYE",
            Method::Cancel => "CANCEL",
            Method::Options => "OPTIONS",
            Method::Register => "REGISTER",
            Method::Prack => "PRACK",
            Method::Subscribe => "SUBSCRIBE",
            Method::Notify => "NOTIFY",
            Method::Publish => "PUBLISH",
            Method::Info => "INFO",
            Method::Refer => "REFER",
            Method::Message => "MESSAGE",
            Method::Update => "UPDATE",
            Method::Other(t) => std::str::from_utf8(t).unwrap_or("OTHER"),
        }
    }
}

/// The first line of a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StartLine<'a> {
    /// `METHOD Request-URI SIP/2.0`.
    Request {
        /// Method.
        method: Method<'a>,
        /// Request-URI as written.
        uri: &'a [u8],
    },
    /// `SIP/2.0 code reason`.
    Response {
        /// Status code (100–699).
        code: u16,
        /// Reason phrase as written.
        reason: &'a [u8],
    },
}

/// The headers a probe needs, found in one pass: the first occurrence of
/// each (compact forms included), values trimmed, folded lines left in place
/// (see [`unfold`]). Later occurrences are reachable through
/// [`Message::fields`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KnownHeaders<'a> {
    /// Call-ID (`i`).
    pub call_id: Option<&'a [u8]>,
    /// From (`f`).
    pub from: Option<&'a [u8]>,
    /// To (`t`).
    pub to: Option<&'a [u8]>,
    /// CSeq.
    pub cseq: Option<&'a [u8]>,
    /// The first Via (`v`) header field (it may hold several values).
    pub via: Option<&'a [u8]>,
    /// Number of Via header values (comma-separated values counted).
    pub via_count: u16,
    /// Contact (`m`).
    pub contact: Option<&'a [u8]>,
    /// Content-Type (`c`).
    pub content_type: Option<&'a [u8]>,
    /// Content-Length (`l`).
    pub content_length: Option<&'a [u8]>,
    /// User-Agent.
    pub user_agent: Option<&'a [u8]>,
    /// Server.
    pub server: Option<&'a [u8]>,
    /// P-Asserted-Identity (RFC 3325).
    pub p_asserted_identity: Option<&'a [u8]>,
    /// P-Charging-Vector (RFC 7315).
    pub p_charging_vector: Option<&'a [u8]>,
    /// Reason (the first; a message may carry one per protocol).
    pub reason: Option<&'a [u8]>,
    /// RSeq (RFC 3262).
    pub rseq: Option<&'a [u8]>,
    /// RAck (RFC 3262).
    pub rack: Option<&'a [u8]>,
    /// Max-Forwards.
    pub max_forwards: Option<&'a [u8]>,
    /// Expires.
    pub expires: Option<&'a [u8]>,
    /// Session-Expires (`x`, RFC 4028).
    pub session_expires: Option<&'a [u8]>,
    /// P-Preferred-Identity (RFC 3325).
    pub p_preferred_identity: Option<&'a [u8]>,
    /// P-Called-Party-ID (RFC 7315).
    pub p_called_party_id: Option<&'a [u8]>,
    /// P-Access-Network-Info (RFC 7315; the VoLTE cell).
    pub p_access_network_info: Option<&'a [u8]>,
    /// Supported (`k`).
    pub supported: Option<&'a [u8]>,
    /// Require.
    pub require: Option<&'a [u8]>,
    /// Event (`o`, RFC 6665).
    pub event: Option<&'a [u8]>,
    /// Refer-To (`r`, RFC 3515).
    pub refer_to: Option<&'a [u8]>,
    /// Subject (`s`).
    pub subject: Option<&'a [u8]>,
}

/// A parsed SIP message, borrowing the bytes it came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Message<'a> {
    /// Start line.
    pub start: StartLine<'a>,
    /// Well-known headers.
    pub headers: KnownHeaders<'a>,
    /// All header lines (from after the start line to the empty line).
    pub header_block: &'a [u8],
    /// The body (bounded by Content-Length when present).
    pub body: &'a [u8],
    /// Header fields read (a folded field counts once).
    pub header_count: u16,
    /// Header lines skipped because they were not `name: value` (no colon,
    /// a name that is not a token, a continuation line before any field).
    pub malformed_lines: u16,
    /// Content-Length announced more bytes than follow the headers (a cut
    /// datagram or a lying sender); `body` holds what there is.
    pub body_truncated: bool,
}

impl<'a> Message<'a> {
    /// Whether this is a request.
    pub fn is_request(&self) -> bool {
        matches!(self.start, StartLine::Request { .. })
    }

    /// The method of a request.
    pub fn method(&self) -> Option<Method<'a>> {
        match self.start {
            StartLine::Request { method, .. } => Some(method),
            StartLine::Response { .. } => None,
        }
    }

    /// The status code of a response.
    pub fn status_code(&self) -> Option<u16> {
        match self.start {
            StartLine::Response { code, .. } => Some(code),
            StartLine::Request { .. } => None,
        }
    }

    /// The parsed CSeq header.
    pub fn cseq(&self) -> Option<CSeq<'a>> {
        self.headers.cseq.and_then(parse_cseq)
    }

    /// Every header field in order, `(name as written, trimmed value)`,
    /// repeated names included; lines that are not fields are skipped.
    pub fn fields(&self) -> HeaderFields<'a> {
        HeaderFields::new(self.header_block)
    }

    /// The first value of header `name` (case-insensitive; a compact form and
    /// its full name are the same header).
    pub fn header(&self, name: &str) -> Option<&'a [u8]> {
        self.fields()
            .find(|(n, _)| same_header_name(n, name.as_bytes()))
            .map(|(_, v)| v)
    }

    /// Every value of header `name` (see [`Message::header`]).
    pub fn header_values<'n>(&self, name: &'n str) -> impl Iterator<Item = &'a [u8]> + 'n
    where
        'a: 'n,
    {
        self.fields()
            .filter(move |(n, _)| same_header_name(n, name.as_bytes()))
            .map(|(_, v)| v)
    }
}

/// Why bytes are not a SIP message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The start line is not a request or status line.
    #[error("start line is not a SIP request or status line")]
    BadStartLine,
    /// The status code is not three digits from 100 to 699.
    #[error("status code is not 100-699")]
    BadStatusCode,
    /// No empty line ends the headers.
    #[error("headers are not terminated by an empty line")]
    UnterminatedHeaders,
    /// More than [`MAX_HEADERS`] header lines.
    #[error("more than MAX_HEADERS header lines")]
    TooManyHeaders,
    /// A start line or logical header line longer than [`MAX_LINE_BYTES`].
    #[error("a line is longer than MAX_LINE_BYTES")]
    LineTooLong,
    /// Content-Length is not a decimal number below 10^9.
    #[error("Content-Length is not a number")]
    BadContentLength,
}

impl Error {
    /// Stable label for counters.
    pub fn reason(self) -> &'static str {
        match self {
            Error::BadStartLine => "bad_start_line",
            Error::BadStatusCode => "bad_status_code",
            Error::UnterminatedHeaders => "unterminated_headers",
            Error::TooManyHeaders => "too_many_headers",
            Error::LineTooLong => "line_too_long",
            Error::BadContentLength => "bad_content_length",
        }
    }
}

/// Parses one SIP message.
///
/// # Errors
/// When the start line is not SIP, the headers never end, a limit
/// ([`MAX_HEADERS`], [`MAX_LINE_BYTES`]) is exceeded, or Content-Length is
/// not a number.
pub fn parse(bytes: &[u8]) -> Result<Message<'_>, Error> {
    // RFC 3261 §7.5: CRLFs before the start line are ignored.
    let lead = bytes
        .iter()
        .take_while(|&&b| b == b'\r' || b == b'\n')
        .count();
    let input = bytes.get(lead..).unwrap_or_default();
    let Some(lf) = find_lf(input) else {
        if input.len() > MAX_LINE_BYTES {
            return Err(Error::LineTooLong);
        }
        parse_start_line(strip_cr(input))?;
        return Err(Error::UnterminatedHeaders);
    };
    if lf > MAX_LINE_BYTES {
        return Err(Error::LineTooLong);
    }
    let start = parse_start_line(strip_cr(input.get(..lf).unwrap_or_default()))?;
    let header_start = lf + 1;
    let mut h = KnownHeaders::default();
    let mut pos = header_start;
    let (mut lines, mut fields, mut malformed) = (0usize, 0u16, 0u16);
    let body_start = loop {
        let step = step(input, pos);
        if !matches!(step, Step::End { .. }) {
            lines += 1;
            if lines > MAX_HEADERS {
                return Err(Error::TooManyHeaders);
            }
        }
        match step {
            Step::Field { name, value, next } => {
                fields = fields.saturating_add(1);
                record_header(&mut h, name, value);
                pos = next;
            }
            Step::Malformed { next } => {
                malformed = malformed.saturating_add(1);
                pos = next;
            }
            Step::End { next } => break next,
            Step::Unterminated => return Err(Error::UnterminatedHeaders),
            Step::TooLong => return Err(Error::LineTooLong),
        }
    };
    // `pos` is the start of the empty line.
    let header_block = input.get(header_start..pos).unwrap_or_default();
    let after = input.get(body_start..).unwrap_or_default();
    let (body, body_truncated) = match h.content_length {
        None => (after, false),
        Some(v) => {
            let n = parse_decimal(v).ok_or(Error::BadContentLength)?;
            match after.get(..n as usize) {
                Some(b) => (b, false),
                None => (after, true),
            }
        }
    };
    Ok(Message {
        start,
        headers: h,
        header_block,
        body,
        header_count: fields,
        malformed_lines: malformed,
        body_truncated,
    })
}

/// One logical line of a header section.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Step<'a> {
    /// A header field; the next line starts at `next`.
    Field {
        name: &'a [u8],
        value: &'a [u8],
        next: usize,
    },
    /// A line that is not a header field.
    Malformed { next: usize },
    /// The empty line ending the headers; the body starts at `next`.
    End { next: usize },
    /// The input ends before a line end.
    Unterminated,
    /// A logical line longer than [`MAX_LINE_BYTES`].
    TooLong,
}

/// Reads the logical line at `pos` of `buf`: one line plus the continuation
/// lines (starting with SP or HT) after it.
fn step(buf: &[u8], pos: usize) -> Step<'_> {
    let Some(rest) = buf.get(pos..) else {
        return Step::Unterminated;
    };
    let Some(lf) = find_lf(rest) else {
        return Step::Unterminated;
    };
    let mut end = pos + strip_cr(rest.get(..lf).unwrap_or_default()).len();
    let mut next = pos + lf + 1;
    if end == pos {
        return Step::End { next };
    }
    while let Some(b' ' | b'\t') = buf.get(next) {
        let Some(cont) = buf.get(next..) else {
            break;
        };
        let Some(lf) = find_lf(cont) else {
            // An unended continuation: the field ends before it and the
            // next step reports the missing line end.
            break;
        };
        end = next + strip_cr(cont.get(..lf).unwrap_or_default()).len();
        next += lf + 1;
        if end - pos > MAX_LINE_BYTES {
            return Step::TooLong;
        }
    }
    if end - pos > MAX_LINE_BYTES {
        return Step::TooLong;
    }
    let line = buf.get(pos..end).unwrap_or_default();
    if matches!(line.first(), Some(b' ' | b'\t')) {
        // A continuation with no field before it.
        return Step::Malformed { next };
    }
    // The name is a token (one table lookup per byte), then optional
    // whitespace (RFC 3261 §7.3.1 allows it before the colon), then `:`.
    let n = line.iter().take_while(|&&b| is_token_char(b)).count();
    let (name, after) = line.split_at(n);
    let after = trim_start(after);
    let (true, Some(value)) = (n > 0, after.strip_prefix(b":")) else {
        return Step::Malformed { next };
    };
    Step::Field {
        name,
        value: trim(value),
        next,
    }
}

/// Every header field of a header block, `(name, value)`, in order. See
/// [`Message::fields`].
#[derive(Clone, Debug)]
pub struct HeaderFields<'a> {
    block: &'a [u8],
    pos: usize,
}

impl<'a> HeaderFields<'a> {
    /// The fields of `block` (header lines, each ended by a line end).
    pub fn new(block: &'a [u8]) -> Self {
        HeaderFields { block, pos: 0 }
    }
}

impl<'a> Iterator for HeaderFields<'a> {
    type Item = (&'a [u8], &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        // Each round moves `pos` forward or ends.
        loop {
            match step(self.block, self.pos) {
                Step::Field { name, value, next } => {
                    self.pos = next;
                    return Some((name, value));
                }
                Step::Malformed { next } | Step::End { next } => self.pos = next,
                Step::Unterminated | Step::TooLong => {
                    self.pos = self.block.len();
                    return None;
                }
            }
        }
    }
}

/// Position of the first LF, a machine word at a time (SIP lines average
/// ~40 bytes; this halves the scan time of a byte loop).
fn find_lf(b: &[u8]) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    const LFS: u64 = ONES * b'\n' as u64;
    let mut chunks = b.chunks_exact(8);
    let mut offset = 0usize;
    for chunk in &mut chunks {
        let word = u64::from_le_bytes(chunk.try_into().unwrap_or([0; 8]));
        let x = word ^ LFS;
        // Bit 7 of the lowest zero byte of `x` is set (bytes above it may be
        // flagged spuriously by the borrow; the lowest flag is exact).
        let zero = x.wrapping_sub(ONES) & !x & HIGHS;
        if zero != 0 {
            return Some(offset + (zero.trailing_zeros() / 8) as usize);
        }
        offset += 8;
    }
    chunks
        .remainder()
        .iter()
        .position(|&c| c == b'\n')
        .map(|p| offset + p)
}

#[inline]
fn strip_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// RFC 3261 §25.1 `token` characters.
fn is_token_char(b: u8) -> bool {
    TOKEN_CHARS[usize::from(b)]
}

/// [`is_token_char`] as a table: header names are checked byte by byte.
static TOKEN_CHARS: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        t[i] = b.is_ascii_alphanumeric()
            || matches!(
                b,
                b'-' | b'.' | b'!' | b'%' | b'*' | b'_' | b'+' | b'`' | b'\'' | b'~'
            );
        i += 1;
    }
    t
};

/// Which [`KnownHeaders`] slot a header name fills.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Known {
    CallId,
    From,
    To,
    CSeq,
    Via,
    Contact,
    ContentType,
    ContentLength,
    UserAgent,
    Server,
    PAssertedIdentity,
    PChargingVector,
    Reason,
    RSeq,
    RAck,
    MaxForwards,
    Expires,
    SessionExpires,
    PPreferredIdentity,
    PCalledPartyId,
    PAccessNetworkInfo,
    Supported,
    Require,
    Event,
    ReferTo,
    Subject,
}

/// The known header a name stands for: dispatch on length first, so most
/// names are compared with one candidate at most.
fn known(name: &[u8]) -> Option<Known> {
    use Known::*;
    let eq = |s: &[u8]| name.eq_ignore_ascii_case(s);
    Some(match name.len() {
        1 => match name.first()?.to_ascii_lowercase() {
            b'i' => CallId,
            b'f' => From,
            b't' => To,
            b'v' => Via,
            b'm' => Contact,
            b'c' => ContentType,
            b'l' => ContentLength,
            b'k' => Supported,
            b'o' => Event,
            b'r' => ReferTo,
            b's' => Subject,
            b'x' => SessionExpires,
            _ => return None,
        },
        2 if eq(b"to") => To,
        3 if eq(b"via") => Via,
        4 if eq(b"from") => From,
        4 if eq(b"cseq") => CSeq,
        4 if eq(b"rseq") => RSeq,
        4 if eq(b"rack") => RAck,
        5 if eq(b"event") => Event,
        6 if eq(b"server") => Server,
        6 if eq(b"reason") => Reason,
        7 if eq(b"call-id") => CallId,
        7 if eq(b"contact") => Contact,
        7 if eq(b"expires") => Expires,
        7 if eq(b"require") => Require,
        7 if eq(b"subject") => Subject,
        8 if eq(b"refer-to") => ReferTo,
        9 if eq(b"supported") => Supported,
        10 if eq(b"user-agent") => UserAgent,
        12 if eq(b"content-type") => ContentType,
        12 if eq(b"max-forwards") => MaxForwards,
        14 if eq(b"content-length") => ContentLength,
        15 if eq(b"session-expires") => SessionExpires,
        17 if eq(b"p-charging-vector") => PChargingVector,
        17 if eq(b"p-called-party-id") => PCalledPartyId,
        19 if eq(b"p-asserted-identity") => PAssertedIdentity,
        20 if eq(b"p-preferred-identity") => PPreferredIdentity,
        21 if eq(b"p-access-network-info") => PAccessNetworkInfo,
        _ => return None,
    })
}

fn record_header<'a>(h: &mut KnownHeaders<'a>, name: &[u8], value: &'a [u8]) {
    let Some(k) = known(name) else {
        return;
    };
    let slot = match k {
        Known::CallId => &mut h.call_id,
        Known::From => &mut h.from,
        Known::To => &mut h.to,
        Known::CSeq => &mut h.cseq,
        Known::Via => {
            let n = if value.is_empty() {
                0
            } else if value.contains(&b',') {
                u16::try_from(list_items(value).count()).unwrap_or(u16::MAX)
            } else {
                1
            };
            h.via_count = h.via_count.saturating_add(n);
            &mut h.via
        }
        Known::Contact => &mut h.contact,
        Known::ContentType => &mut h.content_type,
        Known::ContentLength => &mut h.content_length,
        Known::UserAgent => &mut h.user_agent,
        Known::Server => &mut h.server,
        Known::PAssertedIdentity => &mut h.p_asserted_identity,
        Known::PChargingVector => &mut h.p_charging_vector,
        Known::Reason => &mut h.reason,
        Known::RSeq => &mut h.rseq,
        Known::RAck => &mut h.rack,
        Known::MaxForwards => &mut h.max_forwards,
        Known::Expires => &mut h.expires,
        Known::SessionExpires => &mut h.session_expires,
        Known::PPreferredIdentity => &mut h.p_preferred_identity,
        Known::PCalledPartyId => &mut h.p_called_party_id,
        Known::PAccessNetworkInfo => &mut h.p_access_network_info,
        Known::Supported => &mut h.supported,
        Known::Require => &mut h.require,
        Known::Event => &mut h.event,
        Known::ReferTo => &mut h.refer_to,
        Known::Subject => &mut h.subject,
    };
    if slot.is_none() {
        *slot = Some(value);
    }
}

/// The full name of a compact header form (RFC 3261 §7.3.3 and the
/// extensions that registered one: RFC 3515 `r`, 3841 `a j d`, 3892 `b`,
/// 4028 `x`, 6665 `o u`, 8224 `y`, 4474 `n`), for any case of the letter.
pub fn expand_compact(name: &[u8]) -> Option<&'static str> {
    let [c] = name else {
        return None;
    };
    Some(match c.to_ascii_lowercase() {
        b'a' => "Accept-Contact",
        b'b' => "Referred-By",
        b'c' => "Content-Type",
        b'd' => "Request-Disposition",
        b'e' => "Content-Encoding",
        b'f' => "From",
        b'i' => "Call-ID",
        b'j' => "Reject-Contact",
        b'k' => "Supported",
        b'l' => "Content-Length",
        b'm' => "Contact",
        b'n' => "Identity-Info",
        b'o' => "Event",
        b'r' => "Refer-To",
        b's' => "Subject",
        b't' => "To",
        b'u' => "Allow-Events",
        b'v' => "Via",
        b'x' => "Session-Expires",
        b'y' => "Identity",
        _ => return None,
    })
}

/// Whether two header names name the same header (case-insensitive, compact
/// forms expanded).
pub fn same_header_name(a: &[u8], b: &[u8]) -> bool {
    fn full(n: &[u8]) -> &[u8] {
        expand_compact(n).map_or(n, str::as_bytes)
    }
    full(a).eq_ignore_ascii_case(full(b))
}

fn parse_start_line(line: &[u8]) -> Result<StartLine<'_>, Error> {
    if line.len() > 8
        && line
            .get(..8)
            .is_some_and(|p| p.eq_ignore_ascii_case(b"SIP/2.0 "))
    {
        let rest = line.get(8..).unwrap_or_default();
        // Status-Code = 3DIGIT, then SP (or nothing: the reason phrase may be
        // empty, and some stacks drop the space too).
        let code = rest.get(..3).ok_or(Error::BadStatusCode)?;
        if rest.get(3).is_some_and(|&b| b != b' ' && b != b'\t') {
            return Err(Error::BadStatusCode);
        }
        let code = parse_decimal(code)
            .filter(|c| (100..=699).contains(c))
            .ok_or(Error::BadStatusCode)?;
        let reason = trim(rest.get(3..).unwrap_or_default());
        return Ok(StartLine::Response {
            code: code as u16,
            reason,
        });
    }
    // Request-Line = Method SP Request-URI SP SIP-Version: single spaces,
    // a URI without spaces (RFC 4475 §3.1.2.1 lists extra spaces as invalid).
    let mut parts = line.splitn(3, |&b| b == b' ');
    let (Some(method), Some(uri), Some(version)) = (parts.next(), parts.next(), parts.next())
    else {
        return Err(Error::BadStartLine);
    };
    if method.is_empty()
        || !method.iter().all(|&b| is_token_char(b))
        || uri.is_empty()
        || !version.eq_ignore_ascii_case(b"SIP/2.0")
    {
        return Err(Error::BadStartLine);
    }
    Ok(StartLine::Request {
        method: Method::from_token(method),
        uri,
    })
}

/// Linear whitespace: SP, HT and the CR/LF of folded lines.
fn is_lws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

#[inline]
fn trim(b: &[u8]) -> &[u8] {
    let start = b.iter().position(|&c| !is_lws(c)).unwrap_or(b.len());
    let end = b.iter().rposition(|&c| !is_lws(c)).map_or(start, |e| e + 1);
    b.get(start..end).unwrap_or_default()
}

/// A decimal number of 1 to 9 digits (surrounding whitespace allowed).
fn parse_decimal(b: &[u8]) -> Option<u32> {
    let b = trim(b);
    if b.is_empty() || b.len() > 10 || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    b.iter().try_fold(0u32, |n, d| {
        n.checked_mul(10)?.checked_add(u32::from(d - b'0'))
    })
}

/// A decimal `u32` (up to 10 digits, no overflow).
fn parse_u32(b: &[u8]) -> Option<u32> {
    let b = trim(b);
    if b.is_empty() || b.len() > 10 || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    b.iter().try_fold(0u32, |n, d| {
        n.checked_mul(10)?.checked_add(u32::from(d - b'0'))
    })
}

/// A header value with folded lines joined by single spaces, as text
/// (lossy UTF-8). Allocates: for records, not per packet.
pub fn unfold(value: &[u8]) -> String {
    let text = String::from_utf8_lossy(value);
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `CSeq: 314159 INVITE`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CSeq<'a> {
    /// Sequence number.
    pub number: u32,
    /// Method.
    pub method: Method<'a>,
}

/// Parses a CSeq value.
pub fn parse_cseq(value: &[u8]) -> Option<CSeq<'_>> {
    let value = trim(value);
    let split = value.iter().position(|&c| is_lws(c))?;
    // RFC 3261 §8.1.1.5: below 2^31; some phones use all 32 bits.
    let number = parse_u32(value.get(..split)?)?;
    let method = trim(value.get(split..)?);
    (!method.is_empty() && method.iter().all(|&b| is_token_char(b))).then(|| CSeq {
        number,
        method: Method::from_token(method),
    })
}

/// Splits `s` at each `,` (or `;`) outside quoted strings (with `\` escapes) and,
/// when `angles` is set, outside `<...>`. Yields trimmed, non-empty items.
#[derive(Clone, Debug)]
struct Splitter<'a> {
    rest: &'a [u8],
    /// `true`: a comma list (angle brackets protect); `false`: `;` parameters.
    angles: bool,
}

/// Bytes the list splitter stops at: `,`, `"`, `<`.
static LIST_SPECIAL: [bool; 256] = special_table(b',', true);
/// Bytes the parameter splitter stops at: `;`, `"`.
static PARAM_SPECIAL: [bool; 256] = special_table(b';', false);

const fn special_table(sep: u8, angles: bool) -> [bool; 256] {
    let mut t = [false; 256];
    t[sep as usize] = true;
    t[b'"' as usize] = true;
    if angles {
        t[b'<' as usize] = true;
    }
    t
}

impl<'a> Splitter<'a> {
    /// Offset of the first separator outside quotes (and angle brackets).
    /// One table lookup per ordinary byte.
    fn find_cut(&self) -> Option<usize> {
        let table = if self.angles {
            &LIST_SPECIAL
        } else {
            &PARAM_SPECIAL
        };
        let mut i = 0usize;
        while let Some(off) = self
            .rest
            .get(i..)?
            .iter()
            .position(|&b| table[usize::from(b)])
        {
            i += off;
            match self.rest.get(i) {
                Some(b'"') => i += closing_quote(self.rest.get(i..)?)?,
                Some(b'<') => i += self.rest.get(i..)?.iter().position(|&b| b == b'>')?,
                _ => return Some(i),
            }
            i += 1;
        }
        None
    }
}

impl<'a> Iterator for Splitter<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        // Each round consumes at least one item or ends.
        while !self.rest.is_empty() {
            let (item, rest) = match self.find_cut() {
                Some(i) => (
                    self.rest.get(..i).unwrap_or_default(),
                    self.rest.get(i + 1..).unwrap_or_default(),
                ),
                // No separator, or an unclosed quote or bracket: the rest is
                // one item.
                None => (self.rest, &[][..]),
            };
            self.rest = rest;
            let item = trim(item);
            if !item.is_empty() {
                return Some(item);
            }
        }
        None
    }
}

/// The comma-separated values of a header (`Via: a, b`, `Contact: <x>, <y>`,
/// `P-Asserted-Identity: <sip:...>, <tel:...>`): commas inside quoted strings
/// and `<...>` do not split. Values are trimmed; empty ones are skipped.
pub fn list_items(value: &[u8]) -> impl Iterator<Item = &[u8]> + Clone {
    Splitter {
        rest: value,
        angles: true,
    }
}

/// The `;name=value` parameters in `s` (a leading `;` is optional):
/// `(name, value)`, the value without surrounding quotes, `None` for a
/// parameter without `=`. Semicolons inside quoted strings do not split.
pub fn params(s: &[u8]) -> impl Iterator<Item = (&[u8], Option<&[u8]>)> + Clone {
    Splitter {
        rest: s,
        angles: false,
    }
    .map(|p| match p.iter().position(|&b| b == b'=') {
        Some(eq) => (
            trim(p.get(..eq).unwrap_or_default()),
            Some(unquote(trim(p.get(eq + 1..).unwrap_or_default()))),
        ),
        None => (p, None),
    })
}

/// The value of parameter `name` (case-insensitive) in `s`; `Some(b"")` for
/// a parameter without value.
pub fn param<'a>(s: &'a [u8], name: &str) -> Option<&'a [u8]> {
    params(s)
        .find(|(n, _)| n.eq_ignore_ascii_case(name.as_bytes()))
        .map(|(_, v)| v.unwrap_or_default())
}

fn unquote(v: &[u8]) -> &[u8] {
    match v {
        [b'"', inner @ .., b'"'] => inner,
        _ => v,
    }
}

/// URI schemes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scheme {
    /// `sip:`.
    Sip,
    /// `sips:`.
    Sips,
    /// `tel:`.
    Tel,
    /// Anything else (`urn:`, `http:` ...).
    Other,
}

/// A SIP, SIPS or tel URI, borrowed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Uri<'a> {
    /// Scheme.
    pub scheme: Scheme,
    /// User part (`sip:user@host`, without a password, with user parameters
    /// such as `;phone-context=`), or the number of a `tel:` URI.
    pub user: Option<&'a [u8]>,
    /// Host (an IPv6 literal without its brackets); empty for `tel:`.
    pub host: &'a [u8],
    /// Port, when given.
    pub port: Option<u16>,
    /// The whole URI as written (without angle brackets).
    pub raw: &'a [u8],
}

impl<'a> Uri<'a> {
    /// The URI parameters (`;transport=tcp;lr`, `;phone-context=...` of a
    /// `tel:` URI), up to any `?headers`; empty when there are none.
    pub fn params(&self) -> &'a [u8] {
        let rest = self
            .raw
            .iter()
            .position(|&b| b == b':')
            .and_then(|c| self.raw.get(c + 1..))
            .unwrap_or_default();
        let q = rest.iter().position(|&b| b == b'?').unwrap_or(rest.len());
        let addr = rest.get(..q).unwrap_or_default();
        // The user part of a sip URI may carry `;` parameters of its own.
        let host_from = match self.scheme {
            Scheme::Sip | Scheme::Sips => addr.iter().position(|&b| b == b'@').map_or(0, |a| a + 1),
            _ => 0,
        };
        let tail = addr.get(host_from..).unwrap_or_default();
        tail.iter()
            .position(|&b| b == b';')
            .and_then(|s| tail.get(s..))
            .unwrap_or_default()
    }

    /// The value of URI parameter `name` (`transport`, `user`, `lr` ...).
    pub fn param(&self, name: &str) -> Option<&'a [u8]> {
        param(self.params(), name)
    }

    /// The user part without its parameters (`sip:+1555;npdi@h` → `+1555`):
    /// the number of a telephone-subscriber user.
    pub fn user_base(&self) -> Option<&'a [u8]> {
        let user = self.user?;
        user.split(|&b| b == b';').next()
    }
}

/// Parses a URI (`sip:alice@[2001:db8::1]:5060;transport=tcp`,
/// `tel:+1-555-0100;phone-context=example.com`). Angle brackets around it
/// are tolerated. `None` when there is no scheme, or a sip/sips URI has no
/// host or an unclosed IPv6 bracket.
pub fn parse_uri(raw: &[u8]) -> Option<Uri<'_>> {
    let raw = trim(raw);
    let raw = raw
        .strip_prefix(b"<")
        .and_then(|r| r.strip_suffix(b">"))
        .unwrap_or(raw);
    let colon = raw.iter().position(|&b| b == b':')?;
    let scheme = raw.get(..colon)?;
    // RFC 3986 scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )
    if !scheme.first().is_some_and(u8::is_ascii_alphabetic)
        || !scheme
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || b"+-.".contains(&b))
    {
        return None;
    }
    let scheme = if scheme.eq_ignore_ascii_case(b"sip") {
        Scheme::Sip
    } else if scheme.eq_ignore_ascii_case(b"sips") {
        Scheme::Sips
    } else if scheme.eq_ignore_ascii_case(b"tel") {
        Scheme::Tel
    } else {
        Scheme::Other
    };
    let rest = raw.get(colon + 1..).unwrap_or_default();
    let mut uri = Uri {
        scheme,
        user: None,
        host: b"",
        port: None,
        raw,
    };
    match scheme {
        Scheme::Other => return Some(uri),
        Scheme::Tel => {
            // RFC 3966: the number, then `;` parameters.
            let end = rest
                .iter()
                .position(|&b| b == b';' || b == b'?')
                .unwrap_or(rest.len());
            let number = trim(rest.get(..end).unwrap_or_default());
            uri.user = (!number.is_empty()).then_some(number);
            return uri.user.map(|_| uri);
        }
        Scheme::Sip | Scheme::Sips => {}
    }
    // userinfo "@" hostport, then ;params and ?headers. An unescaped `@`
    // appears only there before `?` (RFC 3261 §25.1: user and password
    // characters exclude it, and so do uri-parameter characters).
    let q = rest.iter().position(|&b| b == b'?').unwrap_or(rest.len());
    let addr = rest.get(..q).unwrap_or_default();
    let hostport = match addr.iter().position(|&b| b == b'@') {
        Some(at) => {
            let userinfo = addr.get(..at).unwrap_or_default();
            // Password after the first `:` (RFC 3261 §19.1.1), not part of
            // the user.
            let user = userinfo.split(|&b| b == b':').next().unwrap_or_default();
            uri.user = Some(user);
            addr.get(at + 1..).unwrap_or_default()
        }
        None => addr,
    };
    let end = hostport
        .iter()
        .position(|&b| b == b';')
        .unwrap_or(hostport.len());
    let (host, port) = parse_host_port(hostport.get(..end).unwrap_or_default())?;
    uri.host = host;
    uri.port = port;
    (!host.is_empty()).then_some(uri)
}

/// Splits `host[:port]`. IPv6 literals come in brackets (RFC 3261 §25.1);
/// without brackets (as some phones write them) a text that is an IPv6
/// address is the host, else a trailing `:port` is split off if the rest is
/// one. `None` for an unclosed bracket.
fn parse_host_port(hp: &[u8]) -> Option<(&[u8], Option<u16>)> {
    let hp = trim(hp);
    let port_of = |p: &[u8]| parse_decimal(p).and_then(|p| u16::try_from(p).ok());
    if let Some(inner) = hp.strip_prefix(b"[") {
        let close = inner.iter().position(|&b| b == b']')?;
        let port = inner
            .get(close + 1..)
            .and_then(|r| r.strip_prefix(b":"))
            .and_then(port_of);
        return Some((inner.get(..close)?, port));
    }
    let colons = hp.iter().filter(|&&b| b == b':').count();
    if colons <= 1 {
        return Some(match hp.iter().position(|&b| b == b':') {
            Some(c) => (
                hp.get(..c).unwrap_or_default(),
                hp.get(c + 1..).and_then(port_of),
            ),
            None => (hp, None),
        });
    }
    let is_v6 = |b: &[u8]| {
        std::str::from_utf8(b)
            .ok()
            .and_then(|s| s.parse::<Ipv6Addr>().ok())
            .is_some()
    };
    if is_v6(hp) {
        return Some((hp, None));
    }
    if let Some(c) = hp.iter().rposition(|&b| b == b':') {
        let (host, port) = (hp.get(..c).unwrap_or_default(), hp.get(c + 1..));
        if let Some(port) = port.and_then(port_of) {
            if is_v6(host) {
                return Some((host, Some(port)));
            }
        }
    }
    Some((hp, None))
}

/// `"Alice" <sip:alice@example.com>;tag=1928301774` (From, To, Contact, P-Asserted-Identity).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NameAddr<'a> {
    /// Display name, without quotes.
    pub display: Option<&'a [u8]>,
    /// The URI.
    pub uri: Uri<'a>,
    /// The `tag` parameter.
    pub tag: Option<&'a [u8]>,
}

/// Parses a name-addr or addr-spec with its parameters. For a header with
/// several values (Contact, P-Asserted-Identity) this reads the first; use
/// [`list_items`] for the others.
pub fn parse_name_addr(value: &[u8]) -> Option<NameAddr<'_>> {
    let value = trim(value);
    // A quoted display name may hold `<`, `,`, `;` and escaped quotes.
    let (quoted, after) = if value.first() == Some(&b'"') {
        let close = closing_quote(value)?;
        (
            value.get(1..close),
            value.get(close + 1..).unwrap_or_default(),
        )
    } else {
        (None, value)
    };
    let (display, uri, header_params) = match after.iter().position(|&b| b == b'<' || b == b',') {
        Some(lt) if after.get(lt) == Some(&b'<') => {
            let gt = lt + after.get(lt..)?.iter().position(|&b| b == b'>')?;
            let display = quoted.or_else(|| Some(trim(after.get(..lt)?)));
            (
                display.filter(|d| !d.is_empty()),
                after.get(lt + 1..gt)?,
                after.get(gt + 1..).unwrap_or_default(),
            )
        }
        _ => {
            if quoted.is_some() {
                return None; // a display name needs <uri>
            }
            // addr-spec: parameters after the URI belong to the header
            // (RFC 3261 §20.10); a comma starts the next value.
            let semi = after
                .iter()
                .position(|&b| b == b';' || b == b',')
                .unwrap_or(after.len());
            (
                None,
                after.get(..semi)?,
                after.get(semi..).unwrap_or_default(),
            )
        }
    };
    // Header parameters end where the next value of the list begins.
    let header_params = if header_params.contains(&b',') {
        list_items(header_params).next().unwrap_or_default()
    } else {
        header_params
    };
    Some(NameAddr {
        display,
        uri: parse_uri(uri)?,
        tag: param(header_params, "tag").filter(|t| !t.is_empty()),
    })
}

/// Index of the quote closing the quoted string that starts `s`.
fn closing_quote(s: &[u8]) -> Option<usize> {
    let mut escaped = false;
    for (i, &b) in s.iter().enumerate().skip(1) {
        match (escaped, b) {
            (true, _) => escaped = false,
            (false, b'\\') => escaped = true,
            (false, b'"') => return Some(i),
            _ => {}
        }
    }
    None
}

/// A Via value: `SIP/2.0/UDP host:port;branch=z9hG4bK...;received=...;rport`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Via<'a> {
    /// Transport (`UDP`, `TCP`, `TLS`, `SCTP`, `WS`, `WSS`).
    pub transport: &'a [u8],
    /// sent-by host (an IPv6 literal without brackets).
    pub host: &'a [u8],
    /// sent-by port.
    pub port: Option<u16>,
    /// `branch` (the transaction id; RFC 3261 ones start with `z9hG4bK`).
    pub branch: Option<&'a [u8]>,
    /// `received` (the address the next hop saw).
    pub received: Option<&'a [u8]>,
    /// `rport` (RFC 3581; empty when requested but not filled in).
    pub rport: Option<&'a [u8]>,
}

/// Parses the first value of a Via header (see [`list_items`] for the
/// others). Whitespace around the `/` of the sent-protocol is accepted
/// (RFC 3261 §25.1 `SLASH` is `SWS "/" SWS`).
pub fn parse_via(value: &[u8]) -> Option<Via<'_>> {
    let v = list_items(value).next()?;
    let (_protocol, r) = take_token(v)?;
    let r = trim_start(r).strip_prefix(b"/")?;
    let (_version, r) = take_token(r)?;
    let r = trim_start(r).strip_prefix(b"/")?;
    let (transport, sent) = take_token(r)?;
    let semi = sent.iter().position(|&b| b == b';').unwrap_or(sent.len());
    let (host, port) = parse_host_port(sent.get(..semi)?)?;
    if host.is_empty() {
        return None;
    }
    let ps = sent.get(semi..).unwrap_or_default();
    Some(Via {
        transport,
        host,
        port,
        branch: param(ps, "branch"),
        received: param(ps, "received"),
        rport: param(ps, "rport"),
    })
}

/// The `Reason` header (RFC 3326): `Q.850;cause=16;text="Normal call clearing"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reason<'a> {
    /// Protocol (`Q.850`, `SIP`, ...).
    pub protocol: &'a [u8],
    /// The cause.
    pub cause: Option<u16>,
    /// The text, without quotes.
    pub text: Option<&'a [u8]>,
}

/// Parses every reason in a Reason header value and returns the first with
/// `protocol` (case-insensitive), or the first of all when `protocol` is `None`.
/// Commas and semicolons inside the quoted text do not split.
pub fn parse_reason<'a>(value: &'a [u8], protocol: Option<&str>) -> Option<Reason<'a>> {
    list_items(value).find_map(|one| {
        let semi = one.iter().position(|&b| b == b';').unwrap_or(one.len());
        let proto = trim(one.get(..semi)?);
        if proto.is_empty() || protocol.is_some_and(|p| !proto.eq_ignore_ascii_case(p.as_bytes())) {
            return None;
        }
        let ps = one.get(semi..).unwrap_or_default();
        Some(Reason {
            protocol: proto,
            cause: param(ps, "cause")
                .and_then(parse_decimal)
                .and_then(|c| u16::try_from(c).ok()),
            text: param(ps, "text"),
        })
    })
}

/// The `icid-value` of a P-Charging-Vector (RFC 7315 §5.6), the IMS charging
/// identifier that ties SIP to DIAMETER Rx.
pub fn parse_icid(value: &[u8]) -> Option<&[u8]> {
    param(value, "icid-value").filter(|v| !v.is_empty())
}

/// A token at the start of `s` (after whitespace) and the rest.
fn take_token(s: &[u8]) -> Option<(&[u8], &[u8])> {
    let s = trim_start(s);
    let n = s.iter().take_while(|&&b| is_token_char(b)).count();
    (n > 0).then(|| s.split_at(n))
}

#[inline]
fn trim_start(b: &[u8]) -> &[u8] {
    let start = b.iter().position(|&c| !is_lws(c)).unwrap_or(b.len());
    b.get(start..).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_requests_and_responses() {
        assert!(looks_like_sip(b"INVITE sip:bob@example.com SIP/2.0\r\n"));
        assert!(looks_like_sip(b"SIP/2.0 200 OK\r\n"));
        assert!(!looks_like_sip(b"INVITEX sip:x"));
        assert!(!looks_like_sip(b"GET / HTTP/1.1\r\n"));
        assert!(!looks_like_sip(b"ACK"));
    }

    #[test]
    fn finds_body_after_empty_line() {
        assert_eq!(body(b"A: b\r\n\r\nv=0\r\n"), Some(&b"v=0\r\n"[..]));
        assert_eq!(body(b"A: b\n\nv=0\n"), Some(&b"v=0\n"[..]));
        assert_eq!(body(b"A: b\r\n"), None);
    }
}

#[cfg(test)]
mod message_tests {
    use super::*;

    /// `sip-rtp/sip-rtp-g711a-rfc2833-dtmf.cap` frame 16 (UDP payload): an INVITE forwarded by the proxy, two Vias, no body.
    const DTMF_INVITE: &[u8] = include_bytes!("../../tests/fixtures/sip/dtmf-invite.sip");
    /// `sip-rtp/sip-rtp-g711a-rfc2833-dtmf.cap` frame 20: the 200 OK with the SDP answer (`Content-Length:   264`).
    const DTMF_OK: &[u8] = include_bytes!("../../tests/fixtures/sip/dtmf-200-ok.sip");
    /// `odd/sip-ipv6-udp.pcap` frame 1: IPv6 hosts written without brackets.
    const IPV6_INVITE: &[u8] = b"INVITE sip:4321@fec0:0:0:0:216:d3ff:fe0d:22c:5060 SIP/2.0\r\n\
Call-ID: c3eF6f58-363323Cd-8058EB88-10300252@fe80:0:0:0:21a:a0ff:fe07:32e0\r\n\
Contact: <sip:9876@fe80:0:0:0:21a:a0ff:fe07:32e0:5060>\r\n\
CSeq: 1 INVITE\r\n\
From: <sip:9876@fe80:0:0:0:21a:a0ff:fe07:32e0>;tag=a3bhg\r\n\
To: <sip:4321@fec0:0:0:0:216:d3ff:fe0d:22c>\r\n\
Via: SIP/2.0/UDP fe80:0:0:0:21a:a0ff:fe07:32e0:5060;branch=z9hG4bKkdjuw8376\r\n\
Max-Forwards: 70\r\n\
Allow: INVITE, ACK, BYE, CANCEL, REFER, OPTIONS, REGISTER, SUBSCRIBE\r\n\
Content-Type: application/sdp\r\n\
Content-Length: 181\r\n\
\r\n\
v=0\r\n\
o=Valid8.com-UserAgent 8521 32 IN IP6 fe80:0:0:0:21a:a0ff:fe07:32e0\r\n\
s=SIP-Call\r\n\
c=IN IP6 fe80:0:0:0:21a:a0ff:fe07:32e0\r\n\
t=0 0\r\n\
m=audio 5008 RTP/AVP 0\r\n\
a=rtpmap:0 pcmu/8000/1\r\n";
    /// `sip-rtp/sip-register-invite-failures-aaa.pcap` frame 223.
    const AAA_INVITE: &[u8] = b"INVITE sip:97239287044@voip.brujula.net SIP/2.0\r\n\
Via: SIP/2.0/UDP 192.168.1.2:5060;branch=z9hG4bKnp104984053-44ce4a41192.168.1.2;rport\r\n\
From: \"arik\" <sip:816666@voip.brurjula.net>;tag=6433ef9\r\n\
To: <sip:97239287044@voip.brujula.net>\r\n\
Call-ID: 105090259-446faf7a@192.168.1.2\r\n\
CSeq: 1 INVITE\r\n\
User-Agent: Nero SIPPS IP Phone Version 2.0.51.16\r\n\
Expires: 120\r\n\
Accept: application/sdp\r\n\
Content-Type: application/sdp\r\n\
Content-Length: 272\r\n\
Contact: <sip:816666@192.168.1.2>\r\n\
Max-Forwards: 70\r\n\
Allow: INVITE, ACK, CANCEL, BYE, REFER, OPTIONS, NOTIFY, INFO\r\n\
\r\n\
v=0\r\n\
o=SIPPS 105015165 105015162 IN IP4 192.168.1.2\r\n\
s=SIP call\r\n\
c=IN IP4 192.168.1.2\r\n\
t=0 0\r\n\
m=audio 30000 RTP/AVP 0 8 97 2 3\r\n\
a=rtpmap:0 pcmu/8000\r\n\
a=rtpmap:8 pcma/8000\r\n\
a=rtpmap:97 iLBC/8000\r\n\
a=rtpmap:2 G726-32/8000\r\n\
a=rtpmap:3 GSM/8000\r\n\
a=fmtp:97 mode=20\r\n\
a=sendrecv\r\n";
    /// `sip-rtp/sip-register-invite-failures-aaa.pcap` frame 621: 480 with a lower-case `q.850` Reason.
    const AAA_480: &[u8] = b"SIP/2.0 480 Error\r\n\
Allow: UPDATE,REFER\r\n\
Call-ID: 11894297-4432a9f8@192.168.1.2\r\n\
Contact: <sip:212.242.33.35:5060>\r\n\
CSeq: 2 INVITE\r\n\
From: \"arik\" <sip:35104723@sip.cybercity.dk>;tag=b56e6e\r\n\
Reason: q.850;cause=21\r\n\
Server: Cirpack/v4.38e (gw_sip)\r\n\
To: <sip:35104724@sip.cybercity.dk>;tag=00-04075-1701baa2-2dfdf7c21\r\n\
Via: SIP/2.0/UDP 192.168.1.2;received=80.230.219.70;rport=5060;branch=z9hG4bKnp10144774-4725f980192.168.1.2\r\n\
Content-Length: 0\r\n\
\r\n"
;
    /// `volte/volte-call-gx-rar-cbr-amrwb.pcapng` frame 42: IMS INVITE with P-Charging-Vector, a tel: P-Asserted-Identity and a tel-subscriber Request-URI.
    const VOLTE_INVITE: &[u8] = include_bytes!("../../tests/fixtures/sip/volte-invite.sip");
    /// `volte/volte-call-ipsec-to-nonipsec-cancel.pcapng` frame 234: CANCEL with `Reason: SIP;cause=200;text="Call completed elsewhere"`.
    const VOLTE_CANCEL: &[u8] = b"CANCEL sip:192.168.101.7:5060;alias=192.168.101.7~5060~1 SIP/2.0\r\n\
Route: <sip:term@pcscf.ims.mnc001.mcc001.3gppnetwork.org;lr>\r\n\
Via: SIP/2.0/UDP 10.4.128.21:6060;branch=z9hG4bK826f.08a2db7e44e7f758cbb0f50c7a4fff12.0\r\n\
Max-Forwards: 66\r\n\
To: <sip:0598765432100;phone-context=ims.mnc001.mcc262.3gppnetwork.org@ims.mnc001.mcc001.3gppnetwork.org;user=phone>\r\n\
From: <sip:001011234567893@ims.mnc001.mcc001.3gppnetwork.org>;tag=b29e8e10\r\n\
Call-ID: UeE-Kc-iNlv7QvhZbppI2Q..@192.168.101.6\r\n\
CSeq: 1 CANCEL\r\n\
Content-Length: 0\r\n\
Reason: SIP;cause=200;text=\"Call completed elsewhere\"\r\n\
\r\n"
;

    /// Every slice of `m` lies inside `input`.
    fn inside(input: &[u8], s: &[u8]) -> bool {
        let (a, b) = (input.as_ptr() as usize, s.as_ptr() as usize);
        s.is_empty() || (b >= a && b + s.len() <= a + input.len())
    }

    #[test]
    fn parses_proxied_invite_from_capture() {
        let m = parse(DTMF_INVITE).unwrap();
        assert_eq!(m.method(), Some(Method::Invite));
        assert_eq!(
            m.start,
            StartLine::Request {
                method: Method::Invite,
                uri: b"sip:2504@192.168.105.110:5060"
            }
        );
        let h = &m.headers;
        assert_eq!(h.call_id, Some(&b"25672@192.168.105.110"[..]));
        assert_eq!(h.via_count, 2);
        assert_eq!(
            h.via,
            Some(&b"SIP/2.0/UDP 192.168.105.105:5060;branch=z9hG4bK48df8586c6abf.1"[..])
        );
        // Trailing spaces trimmed.
        assert_eq!(
            h.user_agent,
            Some(&b"SIP IP-DECT gateway, NEC Philips Unified Solutions"[..])
        );
        assert_eq!(h.max_forwards, Some(&b"69"[..]));
        assert_eq!(h.supported, Some(&b"replaces"[..]));
        assert_eq!((m.header_count, m.malformed_lines), (14, 0));
        assert!(m.body.is_empty() && !m.body_truncated);
        let from = parse_name_addr(h.from.unwrap()).unwrap();
        assert_eq!(from.display, Some(&b"2502"[..]));
        assert_eq!(from.tag, Some(&b"26598"[..]));
        let to = parse_name_addr(h.to.unwrap()).unwrap();
        assert_eq!((to.tag, to.uri.port), (None, Some(5060)));
        let cseq = m.cseq().unwrap();
        assert_eq!((cseq.number, cseq.method), (20, Method::Invite));
        let vias: Vec<_> = m.header_values("v").collect();
        assert_eq!(vias.len(), 2);
        let second = parse_via(vias[1]).unwrap();
        assert_eq!(second.host, b"192.168.105.110");
        assert_eq!(second.branch, Some(&b"z9hG4bK12840"[..]));
        let contact = parse_name_addr(h.contact.unwrap()).unwrap();
        assert_eq!(contact.uri.param("transport"), Some(&b"udp"[..]));
        assert_eq!(
            m.header("record-route"),
            Some(&b"<sip:192.168.105.105:5060;lr>"[..])
        );
    }

    #[test]
    fn response_body_is_bounded_by_content_length_with_spaces() {
        let m = parse(DTMF_OK).unwrap();
        assert_eq!(m.status_code(), Some(200));
        assert_eq!(
            m.start,
            StartLine::Response {
                code: 200,
                reason: b"OK"
            }
        );
        assert_eq!(m.headers.content_length, Some(&b"264"[..]));
        assert_eq!(m.body.len(), 264);
        assert!(m.body.starts_with(b"v=0\r\n") && m.body.ends_with(b"0-15\r\n"));
        let to = parse_name_addr(m.headers.to.unwrap()).unwrap();
        assert_eq!(to.tag, Some(&b"12860"[..]));
        // The UDP payload ends with the body: nothing after it, nothing cut.
        assert!(!m.body_truncated);
        // Cut the datagram: the body is kept as is and flagged.
        let cut = parse(&DTMF_OK[..DTMF_OK.len() - 10]).unwrap();
        assert_eq!(cut.body.len(), 254);
        assert!(cut.body_truncated);
    }

    #[test]
    fn ipv6_hosts_with_and_without_brackets() {
        let m = parse(IPV6_INVITE).unwrap();
        let StartLine::Request { uri, .. } = m.start else {
            panic!("not a request")
        };
        // Written without brackets: the trailing group is a port only when
        // the rest is an IPv6 address.
        let ruri = parse_uri(uri).unwrap();
        assert_eq!(ruri.host, b"fec0:0:0:0:216:d3ff:fe0d:22c");
        assert_eq!(ruri.port, Some(5060));
        let from = parse_name_addr(m.headers.from.unwrap()).unwrap();
        assert_eq!(from.uri.host, b"fe80:0:0:0:21a:a0ff:fe07:32e0");
        assert_eq!((from.uri.port, from.tag), (None, Some(&b"a3bhg"[..])));
        let via = parse_via(m.headers.via.unwrap()).unwrap();
        assert_eq!((via.transport, via.port), (&b"UDP"[..], Some(5060)));
        assert_eq!(via.host, b"fe80:0:0:0:21a:a0ff:fe07:32e0");
        assert_eq!(m.body.len(), 181);
        // Bracketed, as RFC 3261 wants them.
        let u = parse_uri(b"sips:alice@[2001:db8::1]:5071;transport=tls?subject=x").unwrap();
        assert_eq!(
            (u.scheme, u.host, u.port),
            (Scheme::Sips, &b"2001:db8::1"[..], Some(5071))
        );
        assert_eq!(u.params(), b";transport=tls");
        let v = parse_via(b"SIP/2.0/TCP [2001:db8::9]:5060;branch=z9hG4bKx;rport").unwrap();
        assert_eq!(
            (v.host, v.port, v.rport),
            (&b"2001:db8::9"[..], Some(5060), Some(&b""[..]))
        );
        assert_eq!(parse_uri(b"sip:[2001:db8::1"), None);
    }

    #[test]
    fn invite_with_sdp_and_quoted_display_name() {
        let m = parse(AAA_INVITE).unwrap();
        let from = parse_name_addr(m.headers.from.unwrap()).unwrap();
        assert_eq!(from.display, Some(&b"arik"[..]));
        assert_eq!(from.uri.user, Some(&b"816666"[..]));
        assert_eq!(from.uri.host, b"voip.brurjula.net");
        let via = parse_via(m.headers.via.unwrap()).unwrap();
        assert_eq!(via.rport, Some(&b""[..]));
        assert_eq!(
            via.branch,
            Some(&b"z9hG4bKnp104984053-44ce4a41192.168.1.2"[..])
        );
        assert_eq!(m.headers.expires, Some(&b"120"[..]));
        assert_eq!(m.body.len(), 272);
        assert_eq!(
            m.headers.user_agent,
            Some(&b"Nero SIPPS IP Phone Version 2.0.51.16"[..])
        );
    }

    #[test]
    fn failure_response_with_q850_reason_and_server() {
        let m = parse(AAA_480).unwrap();
        assert_eq!(
            m.start,
            StartLine::Response {
                code: 480,
                reason: b"Error"
            }
        );
        let r = parse_reason(m.headers.reason.unwrap(), Some("Q.850")).unwrap();
        assert_eq!(
            (r.protocol, r.cause, r.text),
            (&b"q.850"[..], Some(21), None)
        );
        assert_eq!(m.headers.server, Some(&b"Cirpack/v4.38e (gw_sip)"[..]));
        let via = parse_via(m.headers.via.unwrap()).unwrap();
        assert_eq!(via.received, Some(&b"80.230.219.70"[..]));
        assert_eq!(via.port, None);
        let to = parse_name_addr(m.headers.to.unwrap()).unwrap();
        assert_eq!(to.tag, Some(&b"00-04075-1701baa2-2dfdf7c21"[..]));
    }

    #[test]
    fn ims_invite_charging_vector_and_identities() {
        let m = parse(VOLTE_INVITE).unwrap();
        let h = &m.headers;
        assert_eq!(
            parse_icid(h.p_charging_vector.unwrap()),
            Some(&b"4956537F000001BE6900001F00000000"[..])
        );
        assert_eq!(
            param(h.p_charging_vector.unwrap(), "icid-generated-at"),
            Some(&b"10.4.128.21"[..])
        );
        let pai = parse_name_addr(h.p_asserted_identity.unwrap()).unwrap();
        assert_eq!(pai.uri.scheme, Scheme::Tel);
        assert_eq!(pai.uri.user, Some(&b"0298765432100"[..]));
        let StartLine::Request { uri, .. } = m.start else {
            panic!("not a request")
        };
        let ruri = parse_uri(uri).unwrap();
        assert_eq!(
            ruri.user,
            Some(&b"0198765432100;phone-context=ims.mnc001.mcc001.3gppnetwork.org"[..])
        );
        assert_eq!(ruri.user_base(), Some(&b"0198765432100"[..]));
        assert_eq!(ruri.host, b"ims.mnc001.mcc001.3gppnetwork.org");
        assert_eq!(ruri.param("user"), Some(&b"phone"[..]));
        assert_eq!(h.via_count, 2);
        assert_eq!(h.session_expires, Some(&b"1800;refresher=uac"[..]));
        assert_eq!(
            h.p_access_network_info,
            Some(&b"3GPP-E-UTRAN-FDD; utran-cell-id-3gpp=001010001000019C"[..])
        );
        let contact = parse_name_addr(h.contact.unwrap()).unwrap();
        assert_eq!(
            contact.uri.param("alias"),
            Some(&b"192.168.101.3~40762~2"[..])
        );
        assert_eq!(m.body.len(), 479);
        assert_eq!(m.fields().count(), usize::from(m.header_count));
        assert_eq!(m.header_count, 24);
        assert_eq!(m.fields().filter(|(n, _)| n == b"Record-Route").count(), 2);
        let from = parse_name_addr(h.from.unwrap()).unwrap();
        assert_eq!(from.tag, Some(&b"401181971"[..]));
    }

    #[test]
    fn reason_text_with_spaces_and_protocol_choice() {
        let m = parse(VOLTE_CANCEL).unwrap();
        assert_eq!(m.method(), Some(Method::Cancel));
        let r = parse_reason(m.headers.reason.unwrap(), None).unwrap();
        assert_eq!(r.protocol, b"SIP");
        assert_eq!(r.cause, Some(200));
        assert_eq!(r.text, Some(&b"Call completed elsewhere"[..]));
        assert_eq!(parse_reason(m.headers.reason.unwrap(), Some("Q.850")), None);
        // Made up: a comma and a semicolon inside the text do not split.
        let r = parse_reason(
            b"SIP;cause=200;text=\"a, b; c\", Q.850 ;cause=16 ;text=\"Normal\"",
            Some("q.850"),
        )
        .unwrap();
        assert_eq!((r.cause, r.text), (Some(16), Some(&b"Normal"[..])));
        let r = parse_reason(b"SIP;cause=200;text=\"a, b; c\"", None).unwrap();
        assert_eq!(r.text, Some(&b"a, b; c"[..]));
    }

    const LEAD_INVITE: &[u8] = b"INVITE sip:bob@biloxi.example.com SIP/2.0\r\n\
Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK776asdhds\r\n\
Max-Forwards: 70\r\n\
To: Bob <sip:bob@biloxi.example.com>\r\n\
From: \"Alice\" <sip:alice@atlanta.example.com>;tag=1928301774\r\n\
Call-ID: a84b4c76e66710@pc33.atlanta.example.com\r\n\
CSeq: 314159 INVITE\r\n\
Contact: <sip:alice@pc33.atlanta.example.com>\r\n\
Content-Type: application/sdp\r\n\
Content-Length: 4\r\n\
\r\n\
v=0\nEXTRA";

    #[test]
    fn rfc3261_example_body_stops_at_content_length() {
        let m = parse(LEAD_INVITE).unwrap();
        assert_eq!(m.body, b"v=0\n");
        let from = parse_name_addr(m.headers.from.unwrap()).unwrap();
        assert_eq!(from.display, Some(&b"Alice"[..]));
        assert_eq!(from.uri.user, Some(&b"alice"[..]));
        let to = parse_name_addr(m.headers.to.unwrap()).unwrap();
        assert_eq!(to.display, Some(&b"Bob"[..]));
    }

    /// Made up, in the spirit of RFC 4475 §3.1.1.1 "wsinv": folding with
    /// tabs and spaces, compact forms, whitespace before colons, a header
    /// repeated, comma-separated Vias, a quoted display name holding `<`,
    /// `,` and an escaped quote, and unknown headers.
    const TORTURE: &[u8] =
        b"\r\n\r\nINVITE sip:vivekg@chair-dnrc.example.com;unknownparam SIP/2.0\r\n\
TO :\r\n \
sip:vivekg@chair-dnrc.example.com ;   tag    = 1918181833n\r\n\
from   : \"J Rosenberg \\\\\\\"\"       <sip:jdrosen@example.com>\r\n\
\x20 ;\r\n\
\x20 tag = 98asjd8\r\n\
MaX-fOrWaRdS: 0068\r\n\
Call-ID: wsinv.ndaksdj@192.0.2.1\r\n\
i: second-call-id-ignored\r\n\
Content-Length   : 5\r\n\
cseq: 0009\r\n\
\t  INVITE\r\n\
Via  : SIP  /   2.0\r\n\
\x20/UDP\r\n\
\x20   192.0.2.2;received=192.0.2.9;branch=390skdjuw, SIP/2.0/TCP \"odd,\"\r\n\
v:  SIP/2.0/UDP [2001:db8::1]:5061;branch=z9hG4bKx\r\n\
NewFangledHeader:   newfangled value\r\n\
\x20continued newfangled value\r\n\
UnknownHeaderWithUnusualValue: ;;,,;;,;\r\n\
l: 99\r\n\
c: application/sdp\r\n\
m: \"Quoted <not the uri>, really\" <sip:c@192.0.2.4>, <sip:d@192.0.2.5>\r\n\
\r\n\
v=0\r\n";

    #[test]
    fn torture_folding_compact_forms_and_repeats() {
        let m = parse(TORTURE).unwrap();
        let h = &m.headers;
        assert_eq!(
            m.start,
            StartLine::Request {
                method: Method::Invite,
                uri: b"sip:vivekg@chair-dnrc.example.com;unknownparam"
            }
        );
        // Folded values borrow the line breaks; unfold joins them.
        let to = h.to.unwrap();
        assert_eq!(
            unfold(to),
            "sip:vivekg@chair-dnrc.example.com ; tag = 1918181833n"
        );
        let to = parse_name_addr(to).unwrap();
        assert_eq!(to.tag, Some(&b"1918181833n"[..]));
        let from = parse_name_addr(h.from.unwrap()).unwrap();
        assert_eq!(from.display, Some(&b"J Rosenberg \\\\\\\""[..]));
        assert_eq!(from.uri.host, b"example.com");
        assert_eq!(from.tag, Some(&b"98asjd8"[..]));
        assert_eq!(h.call_id, Some(&b"wsinv.ndaksdj@192.0.2.1"[..]));
        assert_eq!(m.header_values("call-id").count(), 2);
        let cseq = parse_cseq(h.cseq.unwrap()).unwrap();
        assert_eq!((cseq.number, cseq.method), (9, Method::Invite));
        // Three Via values in two fields; the quoted comma does not count.
        assert_eq!(h.via_count, 3);
        let via = parse_via(h.via.unwrap()).unwrap();
        assert_eq!(via.transport, b"UDP");
        assert_eq!(via.host, b"192.0.2.2");
        assert_eq!(via.branch, Some(&b"390skdjuw"[..]));
        // The first Content-Length wins and bounds the body.
        assert_eq!(h.content_length, Some(&b"5"[..]));
        assert_eq!(m.body, b"v=0\r\n");
        assert_eq!(h.content_type, Some(&b"application/sdp"[..]));
        let contacts: Vec<_> = list_items(h.contact.unwrap()).collect();
        assert_eq!(contacts.len(), 2);
        let c = parse_name_addr(h.contact.unwrap()).unwrap();
        assert_eq!(c.display, Some(&b"Quoted <not the uri>, really"[..]));
        assert_eq!(c.uri.host, b"192.0.2.4");
        assert_eq!(
            parse_name_addr(contacts[1]).unwrap().uri.user,
            Some(&b"d"[..])
        );
        assert_eq!(
            m.header("NewFangledHeader").map(unfold).as_deref(),
            Some("newfangled value continued newfangled value")
        );
        assert_eq!(m.header_count, 14);
        assert_eq!(m.malformed_lines, 0);
        assert_eq!(m.header("l"), Some(&b"5"[..]));
    }

    #[test]
    fn header_lines_that_are_not_fields_are_counted_and_skipped() {
        // Made up: a line without a colon, a name with a space, and a
        // continuation before the first field.
        let m = parse(
            b"OPTIONS sip:a SIP/2.0\n folded-first\nNo colon here\nBad Name: x\nCall-ID: 1\n\n",
        )
        .unwrap();
        assert_eq!(m.malformed_lines, 3);
        assert_eq!(m.header_count, 1);
        assert_eq!(m.headers.call_id, Some(&b"1"[..]));
        assert_eq!(m.fields().count(), 1);
    }

    #[test]
    fn start_line_errors() {
        let e = |b: &[u8]| parse(b).err();
        assert_eq!(e(b"SIP/2.0 99 Low\r\n\r\n"), Some(Error::BadStatusCode));
        assert_eq!(e(b"SIP/2.0 700 High\r\n\r\n"), Some(Error::BadStatusCode));
        assert_eq!(e(b"SIP/2.0 2000 OK\r\n\r\n"), Some(Error::BadStatusCode));
        assert_eq!(e(b"SIP/2.0 20x OK\r\n\r\n"), Some(Error::BadStatusCode));
        // RFC 4475 §3.1.2.1 lists extra spaces in the Request-Line as invalid.
        assert_eq!(
            e(b"INVITE  sip:a SIP/2.0\r\n\r\n"),
            Some(Error::BadStartLine)
        );
        assert_eq!(
            e(b"INVITE sip:a SIP/7.0\r\n\r\n"),
            Some(Error::BadStartLine)
        );
        assert_eq!(e(b"GET / HTTP/1.1\r\n\r\n"), Some(Error::BadStartLine));
        assert_eq!(e(b""), Some(Error::BadStartLine));
        assert_eq!(e(b"INVITE sip:a SIP/2.0"), Some(Error::UnterminatedHeaders));
        assert_eq!(
            e(b"INVITE sip:a SIP/2.0\r\nA: b\r\n"),
            Some(Error::UnterminatedHeaders)
        );
        // RFC 4475 §3.1.1.3 "unreason": an empty reason phrase; extension
        // methods and a lower-case version are fine.
        assert_eq!(
            parse(b"SIP/2.0 200\r\n\r\n").unwrap().status_code(),
            Some(200)
        );
        let m = parse(b"NEWMETHOD sip:a sip/2.0\r\n\r\n").unwrap();
        assert_eq!(m.method(), Some(Method::Other(b"NEWMETHOD")));
    }

    #[test]
    fn limits_and_content_length_errors() {
        let mut many = b"OPTIONS sip:a SIP/2.0\r\n".to_vec();
        for _ in 0..MAX_HEADERS {
            many.extend_from_slice(b"X: y\r\n");
        }
        many.extend_from_slice(b"\r\n");
        assert_eq!(parse(&many).unwrap().header_count as usize, MAX_HEADERS);
        let mut more = many[..many.len() - 2].to_vec();
        more.extend_from_slice(b"bad line\r\n\r\n");
        assert_eq!(parse(&more).err(), Some(Error::TooManyHeaders));
        let mut long = b"OPTIONS sip:a SIP/2.0\r\nX: ".to_vec();
        long.extend(std::iter::repeat_n(b'a', MAX_LINE_BYTES));
        long.extend_from_slice(b"\r\n\r\n");
        assert_eq!(parse(&long).err(), Some(Error::LineTooLong));
        // Folding cannot get around the line limit.
        let mut folded = b"OPTIONS sip:a SIP/2.0\r\nX: a".to_vec();
        for _ in 0..MAX_LINE_BYTES / 8 {
            folded.extend_from_slice(b"\r\n bbbbb");
        }
        folded.extend_from_slice(b"\r\n\r\n");
        assert_eq!(parse(&folded).err(), Some(Error::LineTooLong));
        assert_eq!(
            parse(b"BYE sip:a SIP/2.0\r\nl: 1x\r\n\r\n").err(),
            Some(Error::BadContentLength)
        );
        assert_eq!(
            parse(b"BYE sip:a SIP/2.0\r\nContent-Length: 9999999999\r\n\r\n").err(),
            Some(Error::BadContentLength)
        );
        // No Content-Length (UDP): the body is the rest.
        assert_eq!(parse(b"BYE sip:a SIP/2.0\r\n\r\nxy").unwrap().body, b"xy");
    }

    #[test]
    fn uris_of_every_scheme() {
        let t = parse_uri(b"tel:+1-201-555-0123;phone-context=example.com").unwrap();
        assert_eq!(
            (t.scheme, t.user, t.host),
            (Scheme::Tel, Some(&b"+1-201-555-0123"[..]), &b""[..])
        );
        assert_eq!(t.param("phone-context"), Some(&b"example.com"[..]));
        assert_eq!(parse_uri(b"tel:"), None);
        let u = parse_uri(b"<sip:alice:secret@atlanta.com:5060;transport=tcp>").unwrap();
        assert_eq!(
            (u.user, u.host, u.port),
            (Some(&b"alice"[..]), &b"atlanta.com"[..], Some(5060))
        );
        // RFC 4475 §3.1.1.5 "escnull"-style escapes stay escaped; a user with
        // parameters (RFC 4475 §3.1.1.1 uses `;unknownparam`).
        let u = parse_uri(b"sip:%61lice;day=tuesday@example.com;lr").unwrap();
        assert_eq!(u.user, Some(&b"%61lice;day=tuesday"[..]));
        assert_eq!(u.user_base(), Some(&b"%61lice"[..]));
        assert_eq!(u.params(), b";lr");
        assert_eq!(u.param("lr"), Some(&b""[..]));
        let u = parse_uri(b"urn:service:sos").unwrap();
        assert_eq!((u.scheme, u.user), (Scheme::Other, None));
        assert_eq!(parse_uri(b"sip:"), None);
        assert_eq!(parse_uri(b"1sip:a"), None);
        assert_eq!(parse_uri(b"sip:a@b:99999").unwrap().port, None);
        // An addr-spec: parameters belong to the header.
        let n = parse_name_addr(b"sip:a@b;tag=x").unwrap();
        assert_eq!((n.uri.raw, n.tag), (&b"sip:a@b"[..], Some(&b"x"[..])));
        assert_eq!(parse_name_addr(b"\"unclosed <sip:a@b>"), None);
    }

    #[test]
    fn cseq_numbers_use_all_32_bits() {
        // `odd/sip-in-erspan-gre.pcapng` frame 21 (an OmniPCX INVITE): a
        // 10-digit CSeq.
        let c = parse_cseq(b"1709929692 INVITE").unwrap();
        assert_eq!((c.number, c.method), (1_709_929_692, Method::Invite));
        assert_eq!(parse_cseq(b"4294967295 BYE").unwrap().number, u32::MAX);
        assert_eq!(parse_cseq(b"4294967296 BYE"), None);
        assert_eq!(parse_cseq(b"12 IN VITE"), None);
    }

    #[test]
    fn compact_forms_expand() {
        for (c, full) in [
            ("i", "Call-ID"),
            ("F", "From"),
            ("o", "Event"),
            ("u", "Allow-Events"),
        ] {
            assert_eq!(expand_compact(c.as_bytes()), Some(full));
            assert!(same_header_name(
                c.as_bytes(),
                full.to_ascii_lowercase().as_bytes()
            ));
        }
        assert_eq!(expand_compact(b"z"), None);
        assert!(!same_header_name(b"i", b"f"));
        let m = parse(b"SIP/2.0 180 Ringing\r\ni: abc\r\nf: <sip:a@b>;tag=x\r\nt: <tel:+1555>\r\nk: 100rel\r\no: refer\r\nr: <sip:c@d>\r\nx: 90\r\ns: hi\r\nl: 0\r\n\r\n").unwrap();
        let h = &m.headers;
        assert_eq!(
            (h.call_id, h.supported, h.event),
            (Some(&b"abc"[..]), Some(&b"100rel"[..]), Some(&b"refer"[..]))
        );
        assert_eq!(
            (h.refer_to, h.session_expires, h.subject),
            (Some(&b"<sip:c@d>"[..]), Some(&b"90"[..]), Some(&b"hi"[..]))
        );
        let to = parse_name_addr(h.to.unwrap()).unwrap();
        assert_eq!(
            (to.uri.scheme, to.uri.user),
            (Scheme::Tel, Some(&b"+1555"[..]))
        );
    }

    #[test]
    fn find_lf_agrees_with_a_byte_loop() {
        let mut b = vec![b'a'; 40];
        for i in 0..b.len() {
            b[i] = b'\n';
            for start in 0..=i {
                assert_eq!(find_lf(&b[start..]), Some(i - start), "{start} {i}");
            }
            b[i] = 0x8a; // bytes with the high bit set are not LF
        }
        assert_eq!(find_lf(&b), None);
        assert_eq!(find_lf(b"\x0b\x09\n"), Some(2));
    }

    #[test]
    fn every_prefix_parses_or_fails_inside_the_input() {
        for msg in [
            DTMF_INVITE,
            DTMF_OK,
            IPV6_INVITE,
            VOLTE_INVITE,
            TORTURE,
            AAA_480,
        ] {
            for n in 0..=msg.len() {
                let input = &msg[..n];
                let Ok(m) = parse(input) else { continue };
                assert!(inside(input, m.header_block) && inside(input, m.body));
                for (name, value) in m.fields() {
                    assert!(inside(input, name) && inside(input, value));
                }
            }
        }
    }

    /// Deterministic mutations (xorshift) of the capture messages: byte
    /// flips, CR/LF/SP/HT/colon/quote/comma insertions, cuts. Whatever
    /// comes out, parse and the helpers stay inside the input and the
    /// iterator agrees with the scanner (the fuzz target `sip` goes further).
    #[test]
    fn mutated_capture_messages_never_escape_the_input() {
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let mut rnd = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let specials = b"\r\n \t:\",;<>[]@=\\";
        for msg in [
            DTMF_INVITE,
            DTMF_OK,
            IPV6_INVITE,
            VOLTE_INVITE,
            TORTURE,
            AAA_480,
            VOLTE_CANCEL,
        ] {
            for _ in 0..300 {
                let mut m = msg.to_vec();
                for _ in 0..1 + rnd() % 8 {
                    let at = (rnd() as usize) % m.len().max(1);
                    let b = specials[(rnd() as usize) % specials.len()];
                    match rnd() % 3 {
                        0 => m.insert(at, b),
                        1 => m[at] = b,
                        _ => m.truncate(at.max(1)),
                    }
                }
                let input = &m[..];
                let Ok(p) = parse(input) else { continue };
                assert!(inside(input, p.header_block) && inside(input, p.body));
                let mut n = 0;
                for (name, value) in p.fields() {
                    assert!(inside(input, name) && inside(input, value));
                    if let Some(a) = parse_name_addr(value) {
                        assert!(inside(input, a.uri.raw) && inside(input, a.uri.host));
                        assert!(inside(input, a.uri.params()));
                    }
                    if let Some(v) = parse_via(value) {
                        assert!(inside(input, v.host) && inside(input, v.transport));
                    }
                    if let Some(r) = parse_reason(value, None) {
                        assert!(inside(input, r.protocol));
                    }
                    assert!(list_items(value).all(|i| inside(input, i)));
                    n += 1;
                }
                assert_eq!(n, usize::from(p.header_count));
            }
        }
    }
}
