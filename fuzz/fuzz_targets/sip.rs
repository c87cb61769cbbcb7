#![no_main]
//! The SIP scanner and every header helper on arbitrary bytes: never panic,
//! every borrowed slice lies inside the input, the limits hold, and the
//! header iterator agrees with the scanner's count.
use libfuzzer_sys::fuzz_target;
use voxprobe::proto::sip::{self, Method, StartLine};

/// Whether `s` lies inside `input` (empty slices may point anywhere).
fn inside(input: &[u8], s: &[u8]) -> bool {
    let (a, b) = (input.as_ptr() as usize, s.as_ptr() as usize);
    s.is_empty() || (b >= a && b + s.len() <= a + input.len())
}

fn check(input: &[u8], s: &[u8], what: &str) {
    assert!(inside(input, s), "{what} is not inside the input");
}

fn check_method(input: &[u8], m: Method<'_>) {
    if let Method::Other(t) = m {
        check(input, t, "method");
    }
    let _ = m.as_str();
}

fn check_uri(input: &[u8], u: &sip::Uri<'_>) {
    check(input, u.raw, "uri.raw");
    check(input, u.host, "uri.host");
    check(input, u.params(), "uri.params");
    if let Some(user) = u.user {
        check(input, user, "uri.user");
    }
    if let Some(base) = u.user_base() {
        check(input, base, "uri.user_base");
    }
    if let Some(p) = u.param("transport") {
        check(input, p, "uri.param");
    }
}

/// Every helper on one header value.
fn check_value(input: &[u8], v: &[u8]) {
    if let Some(c) = sip::parse_cseq(v) {
        check_method(input, c.method);
    }
    if let Some(n) = sip::parse_name_addr(v) {
        check_uri(input, &n.uri);
        for s in [n.display, n.tag].into_iter().flatten() {
            check(input, s, "name-addr part");
        }
    }
    if let Some(u) = sip::parse_uri(v) {
        check_uri(input, &u);
    }
    if let Some(via) = sip::parse_via(v) {
        check(input, via.transport, "via.transport");
        check(input, via.host, "via.host");
        for s in [via.branch, via.received, via.rport].into_iter().flatten() {
            check(input, s, "via param");
        }
    }
    for proto in [None, Some("Q.850"), Some("SIP")] {
        if let Some(r) = sip::parse_reason(v, proto) {
            check(input, r.protocol, "reason.protocol");
            if let Some(t) = r.text {
                check(input, t, "reason.text");
            }
        }
    }
    if let Some(icid) = sip::parse_icid(v) {
        check(input, icid, "icid");
    }
    for item in sip::list_items(v) {
        check(input, item, "list item");
        assert!(!item.is_empty());
    }
    for (name, value) in sip::params(v) {
        check(input, name, "param name");
        if let Some(value) = value {
            check(input, value, "param value");
        }
    }
    let _ = sip::expand_compact(v);
    let _ = sip::same_header_name(v, b"call-id");
    let _ = sip::unfold(v);
}

fuzz_target!(|data: &[u8]| {
    let _ = sip::looks_like_sip(data);
    if let Some(b) = sip::body(data) {
        check(data, b, "body()");
    }
    // The helpers also see raw bytes, not only values the scanner cut.
    check_value(data, data);
    let Ok(m) = sip::parse(data) else {
        return;
    };
    check(data, m.header_block, "header_block");
    check(data, m.body, "body");
    match m.start {
        StartLine::Request { method, uri } => {
            check_method(data, method);
            check(data, uri, "request uri");
            assert!(!uri.is_empty());
        }
        StartLine::Response { code, reason } => {
            assert!((100..=699).contains(&code));
            check(data, reason, "reason phrase");
        }
    }
    assert!(usize::from(m.header_count) <= sip::MAX_HEADERS);
    let mut fields = 0usize;
    for (name, value) in m.fields() {
        check(data, name, "field name");
        check(data, value, "field value");
        assert!(!name.is_empty());
        check_value(data, value);
        fields += 1;
    }
    assert_eq!(fields, usize::from(m.header_count));
    let h = m.headers;
    for v in [
        h.call_id,
        h.from,
        h.to,
        h.cseq,
        h.via,
        h.contact,
        h.content_type,
        h.content_length,
        h.user_agent,
        h.server,
        h.p_asserted_identity,
        h.p_charging_vector,
        h.reason,
        h.rseq,
        h.rack,
        h.max_forwards,
        h.expires,
        h.session_expires,
        h.p_preferred_identity,
        h.p_called_party_id,
        h.p_access_network_info,
        h.supported,
        h.require,
        h.event,
        h.refer_to,
        h.subject,
    ]
    .into_iter()
    .flatten()
    {
        check(data, v, "known header");
    }
    assert!(h.via_count == 0 || h.via.is_some());
    if let Some(v) = m.header("i") {
        check(data, v, "header()");
    }
    if let Some(c) = m.cseq() {
        check_method(data, c.method);
    }
    // The body stays within what Content-Length announced.
    if let Some(n) = h.content_length.and_then(|v| std::str::from_utf8(v).ok()?.trim().parse::<usize>().ok()) {
        assert!(m.body.len() <= n);
        assert_eq!(m.body_truncated, m.body.len() < n);
    }
});
