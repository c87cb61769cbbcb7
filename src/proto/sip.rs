//! SIP recognition and message framing helpers (RFC 3261).
//!
//! Only what the offline core needs now: telling a SIP message from other
//! payloads and finding its body. The full zero-copy scanner comes with the
//! calls work.

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
    METHODS
        .iter()
        .any(|m| payload.len() > m.len() && payload.starts_with(m) && payload[m.len()] == b' ')
}

/// The message body: everything after the first empty line, if there is one.
pub fn body(message: &[u8]) -> Option<&[u8]> {
    message
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| &message[i + 4..])
        .or_else(|| {
            // Some stacks end lines with a bare LF.
            message
                .windows(2)
                .position(|w| w == b"\n\n")
                .map(|i| &message[i + 2..])
        })
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

// ---------------------------------------------------------------------------
// Message scanner. STUB SHAPE (lead): the API below is the contract the call
// code uses; the scanner behind it is being completed (folding, compact
// forms, URIs with IPv6 literals, tel:, performance, tests, fuzzing).

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
    /// The method for a token.
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
/// (see [`unfold`]).
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
    /// The first Via (`v`).
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
    /// P-Asserted-Identity.
    pub p_asserted_identity: Option<&'a [u8]>,
    /// P-Charging-Vector.
    pub p_charging_vector: Option<&'a [u8]>,
    /// Reason (the first; a message may carry one per protocol).
    pub reason: Option<&'a [u8]>,
    /// RSeq (RFC 3262).
    pub rseq: Option<&'a [u8]>,
    /// RAck (RFC 3262).
    pub rack: Option<&'a [u8]>,
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
}

impl Error {
    /// Stable label for counters.
    pub fn reason(self) -> &'static str {
        match self {
            Error::BadStartLine => "bad_start_line",
            Error::BadStatusCode => "bad_status_code",
            Error::UnterminatedHeaders => "unterminated_headers",
        }
    }
}

/// Parses one SIP message.
///
/// # Errors
/// When the start line is not SIP or the headers never end.
pub fn parse(bytes: &[u8]) -> Result<Message<'_>, Error> {
    let (line, mut rest) = split_line(bytes).ok_or(Error::BadStartLine)?;
    let start = parse_start_line(line)?;
    let header_start = bytes.len() - rest.len();
    let mut h = KnownHeaders::default();
    loop {
        let Some((line, after)) = split_line(rest) else {
            return Err(Error::UnterminatedHeaders);
        };
        if line.is_empty() {
            let header_block = &bytes[header_start..bytes.len() - rest.len()];
            let mut body = after;
            if let Some(n) = h.content_length.and_then(parse_u32) {
                body = body.get(..n as usize).unwrap_or(body);
            }
            return Ok(Message {
                start,
                headers: h,
                header_block,
                body,
            });
        }
        // Folded continuation lines (RFC 3261 §7.3.1) extend this value.
        let mut value_end = after;
        let mut full = line;
        while let Some(&c) = value_end.first() {
            if c != b' ' && c != b'\t' {
                break;
            }
            let Some((cont, next)) = split_line(value_end) else {
                break;
            };
            let consumed = rest.len() - next.len();
            full = &rest[..consumed.min(rest.len())];
            full = trim_line_end(full);
            let _ = cont;
            value_end = next;
        }
        rest = value_end;
        let Some(colon) = full.iter().position(|&b| b == b':') else {
            continue;
        };
        let name = trim(&full[..colon]);
        let value = trim(&full[colon + 1..]);
        record_header(&mut h, name, value);
    }
}

fn trim_line_end(b: &[u8]) -> &[u8] {
    let mut end = b.len();
    while end > 0 && (b[end - 1] == b'\n' || b[end - 1] == b'\r') {
        end -= 1;
    }
    &b[..end]
}

fn record_header<'a>(h: &mut KnownHeaders<'a>, name: &[u8], value: &'a [u8]) {
    let eq = |s: &str| name.eq_ignore_ascii_case(s.as_bytes());
    let slot = if eq("call-id") || eq("i") {
        &mut h.call_id
    } else if eq("from") || eq("f") {
        &mut h.from
    } else if eq("to") || eq("t") {
        &mut h.to
    } else if eq("cseq") {
        &mut h.cseq
    } else if eq("via") || eq("v") {
        h.via_count = h
            .via_count
            .saturating_add(1 + value.iter().filter(|&&b| b == b',').count() as u16);
        &mut h.via
    } else if eq("contact") || eq("m") {
        &mut h.contact
    } else if eq("content-type") || eq("c") {
        &mut h.content_type
    } else if eq("content-length") || eq("l") {
        &mut h.content_length
    } else if eq("user-agent") {
        &mut h.user_agent
    } else if eq("server") {
        &mut h.server
    } else if eq("p-asserted-identity") {
        &mut h.p_asserted_identity
    } else if eq("p-charging-vector") {
        &mut h.p_charging_vector
    } else if eq("reason") {
        &mut h.reason
    } else if eq("rseq") {
        &mut h.rseq
    } else if eq("rack") {
        &mut h.rack
    } else {
        return;
    };
    if slot.is_none() {
        *slot = Some(value);
    }
}

fn parse_start_line(line: &[u8]) -> Result<StartLine<'_>, Error> {
    if let Some(rest) = line.strip_prefix(b"SIP/2.0 ") {
        let code = rest.get(..3).ok_or(Error::BadStatusCode)?;
        let code = parse_u32(code)
            .filter(|c| (100..=699).contains(c))
            .ok_or(Error::BadStatusCode)?;
        let reason = trim(rest.get(3..).unwrap_or_default());
        return Ok(StartLine::Response {
            code: code as u16,
            reason,
        });
    }
    let mut parts = line.splitn(3, |&b| b == b' ');
    let (Some(method), Some(uri), Some(version)) = (parts.next(), parts.next(), parts.next())
    else {
        return Err(Error::BadStartLine);
    };
    if method.is_empty()
        || !method.iter().all(|b| b.is_ascii_alphabetic() || *b == b'-')
        || trim(version) != b"SIP/2.0"
    {
        return Err(Error::BadStartLine);
    }
    Ok(StartLine::Request {
        method: Method::from_token(method),
        uri,
    })
}

/// Splits off one line (without its CRLF or LF); `None` at the end of input
/// without a line end.
fn split_line(b: &[u8]) -> Option<(&[u8], &[u8])> {
    let nl = b.iter().position(|&c| c == b'\n')?;
    let line = &b[..nl];
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    Some((line, &b[nl + 1..]))
}

fn trim(b: &[u8]) -> &[u8] {
    let start = b
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(b.len());
    let end = b
        .iter()
        .rposition(|c| !c.is_ascii_whitespace())
        .map_or(start, |e| e + 1);
    &b[start..end.max(start)]
}

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
    let split = value.iter().position(|c| c.is_ascii_whitespace())?;
    let number = parse_u32(&value[..split])?;
    let method = trim(&value[split..]);
    (!method.is_empty()).then(|| CSeq {
        number,
        method: Method::from_token(method),
    })
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
    /// User part (`sip:user@host`), or the number of a `tel:` URI.
    pub user: Option<&'a [u8]>,
    /// Host (an IPv6 literal without its brackets); empty for `tel:`.
    pub host: &'a [u8],
    /// Port, when given.
    pub port: Option<u16>,
    /// The whole URI as written (without angle brackets).
    pub raw: &'a [u8],
}

/// Parses a URI (`sip:alice@[2001:db8::1]:5060;transport=tcp`, `tel:+1-555-0100`).
pub fn parse_uri(raw: &[u8]) -> Option<Uri<'_>> {
    let raw = trim(raw);
    let colon = raw.iter().position(|&b| b == b':')?;
    let scheme = match &raw[..colon] {
        s if s.eq_ignore_ascii_case(b"sip") => Scheme::Sip,
        s if s.eq_ignore_ascii_case(b"sips") => Scheme::Sips,
        s if s.eq_ignore_ascii_case(b"tel") => Scheme::Tel,
        _ => Scheme::Other,
    };
    let rest = &raw[colon + 1..];
    let end = rest
        .iter()
        .position(|&b| b == b';' || b == b'?' || b == b'>')
        .unwrap_or(rest.len());
    let addr = &rest[..end];
    if scheme == Scheme::Tel || scheme == Scheme::Other {
        return Some(Uri {
            scheme,
            user: (scheme == Scheme::Tel).then_some(addr),
            host: b"",
            port: None,
            raw,
        });
    }
    let (user, hostport) = match addr.iter().rposition(|&b| b == b'@') {
        Some(at) => (Some(&addr[..at]), &addr[at + 1..]),
        None => (None, addr),
    };
    let (host, port) = if let Some(inner) = hostport.strip_prefix(b"[") {
        let close = inner.iter().position(|&b| b == b']')?;
        let port = inner[close + 1..].strip_prefix(b":").and_then(parse_u32);
        (&inner[..close], port)
    } else {
        match hostport.iter().position(|&b| b == b':') {
            Some(c) => (&hostport[..c], parse_u32(&hostport[c + 1..])),
            None => (hostport, None),
        }
    };
    Some(Uri {
        scheme,
        user,
        host,
        port: port.and_then(|p| u16::try_from(p).ok()),
        raw,
    })
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

/// Parses a name-addr or addr-spec with its parameters.
pub fn parse_name_addr(value: &[u8]) -> Option<NameAddr<'_>> {
    let value = trim(value);
    let (display, uri, params) = if let Some(lt) = value.iter().position(|&b| b == b'<') {
        let gt = lt + value[lt..].iter().position(|&b| b == b'>')?;
        let display = trim(&value[..lt]);
        let display = display
            .strip_prefix(b"\"")
            .and_then(|d| d.strip_suffix(b"\""))
            .unwrap_or(display);
        (
            (!display.is_empty()).then_some(display),
            &value[lt + 1..gt],
            &value[gt + 1..],
        )
    } else {
        // addr-spec: parameters after the URI belong to the header.
        let semi = value.iter().position(|&b| b == b';').unwrap_or(value.len());
        (None, &value[..semi], &value[semi..])
    };
    let tag = params.split(|&b| b == b';').find_map(|p| {
        let p = trim(p);
        let (k, v) = p.split_at(p.iter().position(|&b| b == b'=')?);
        trim(k).eq_ignore_ascii_case(b"tag").then(|| trim(&v[1..]))
    });
    Some(NameAddr {
        display,
        uri: parse_uri(uri)?,
        tag,
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
pub fn parse_reason<'a>(value: &'a [u8], protocol: Option<&str>) -> Option<Reason<'a>> {
    value.split(|&b| b == b',').find_map(|one| {
        let mut parts = one.split(|&b| b == b';');
        let proto = trim(parts.next()?);
        if protocol.is_some_and(|p| !proto.eq_ignore_ascii_case(p.as_bytes())) {
            return None;
        }
        let mut r = Reason {
            protocol: proto,
            cause: None,
            text: None,
        };
        for p in parts {
            let p = trim(p);
            let Some(eq) = p.iter().position(|&b| b == b'=') else {
                continue;
            };
            let (k, v) = (trim(&p[..eq]), trim(&p[eq + 1..]));
            if k.eq_ignore_ascii_case(b"cause") {
                r.cause = parse_u32(v).and_then(|c| u16::try_from(c).ok());
            } else if k.eq_ignore_ascii_case(b"text") {
                r.text = Some(
                    v.strip_prefix(b"\"")
                        .and_then(|t| t.strip_suffix(b"\""))
                        .unwrap_or(v),
                );
            }
        }
        Some(r)
    })
}

/// The `icid-value` of a P-Charging-Vector (RFC 7315 §5.6), the IMS charging
/// identifier that ties SIP to DIAMETER Rx.
pub fn parse_icid(value: &[u8]) -> Option<&[u8]> {
    value.split(|&b| b == b';').find_map(|p| {
        let p = trim(p);
        let eq = p.iter().position(|&b| b == b'=')?;
        trim(&p[..eq]).eq_ignore_ascii_case(b"icid-value").then(|| {
            let v = trim(&p[eq + 1..]);
            v.strip_prefix(b"\"")
                .and_then(|t| t.strip_suffix(b"\""))
                .unwrap_or(v)
        })
    })
}

#[cfg(test)]
mod message_tests {
    use super::*;

    const INVITE: &[u8] = b"INVITE sip:bob@biloxi.example.com SIP/2.0\r\n\
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
    fn parses_rfc3261_invite() {
        let m = parse(INVITE).unwrap();
        assert!(matches!(
            m.start,
            StartLine::Request {
                method: Method::Invite,
                ..
            }
        ));
        assert_eq!(
            m.headers.call_id,
            Some(&b"a84b4c76e66710@pc33.atlanta.example.com"[..])
        );
        assert_eq!(m.body, b"v=0\n");
        let from = parse_name_addr(m.headers.from.unwrap()).unwrap();
        assert_eq!(from.display, Some(&b"Alice"[..]));
        assert_eq!(from.tag, Some(&b"1928301774"[..]));
        assert_eq!(from.uri.user, Some(&b"alice"[..]));
        let cseq = parse_cseq(m.headers.cseq.unwrap()).unwrap();
        assert_eq!((cseq.number, cseq.method), (314159, Method::Invite));
    }

    #[test]
    fn compact_forms_folding_and_responses() {
        let m = parse(b"SIP/2.0 180 Ringing\r\ni: abc\r\nf: <sip:a@b>;tag=x\r\nt: <tel:+1555>\r\nSubject: I know you're\r\n there\r\nl: 0\r\n\r\n").unwrap();
        assert_eq!(
            m.start,
            StartLine::Response {
                code: 180,
                reason: b"Ringing"
            }
        );
        assert_eq!(m.headers.call_id, Some(&b"abc"[..]));
        let to = parse_name_addr(m.headers.to.unwrap()).unwrap();
        assert_eq!(to.uri.scheme, Scheme::Tel);
        assert_eq!(to.uri.user, Some(&b"+1555"[..]));
    }

    #[test]
    fn ipv6_uri_reason_and_icid() {
        let u = parse_uri(b"sip:alice@[2001:db8::1]:5070;transport=tcp").unwrap();
        assert_eq!(u.host, b"2001:db8::1");
        assert_eq!(u.port, Some(5070));
        let r = parse_reason(
            b"SIP;cause=200;text=\"x\", Q.850;cause=16;text=\"Normal\"",
            Some("Q.850"),
        )
        .unwrap();
        assert_eq!(r.cause, Some(16));
        assert_eq!(r.text, Some(&b"Normal"[..]));
        assert_eq!(
            parse_icid(b"icid-value=\"AyretyU0dm+6O2IrT5tAFrbHLso=023551024\";orig-ioi=home1.net"),
            Some(&b"AyretyU0dm+6O2IrT5tAFrbHLso=023551024"[..])
        );
    }
}
