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
