//! Signalling text and RTCP bytes for generated calls: a SIP INVITE dialog
//! with SDP offer/answer (RFC 3261, RFC 3264) and RTCP SR compounds
//! (RFC 3550 §6.4.1, §6.5).
//!
//! Messages use real syntax (Via with a `z9hG4bK` branch, tags, Call-ID, CSeq,
//! Contact, Content-Type, a correct Content-Length) so any SIP parser, and
//! Wireshark, reads them as it would a phone's.

use std::fmt::Write as _;
use std::net::SocketAddrV4;

/// One side of a call.
#[derive(Clone, Debug)]
pub struct Party {
    /// User part of the AOR (`alice`).
    pub user: String,
    /// Display name.
    pub display: String,
    /// SIP signalling address.
    pub sip: SocketAddrV4,
    /// RTP address announced in SDP (RTCP on port + 1).
    pub media: SocketAddrV4,
    /// Dialog tag.
    pub tag: String,
    /// SDP session id (`o=` line).
    pub sdp_session: u64,
}

/// An INVITE dialog between two parties.
#[derive(Clone, Debug)]
pub struct Dialog {
    /// Caller.
    pub caller: Party,
    /// Callee.
    pub callee: Party,
    /// Call-ID.
    pub call_id: String,
    /// SIP domain of both AORs.
    pub domain: String,
}

/// A payload type offered in SDP: number, encoding name, clock, fmtp.
#[derive(Clone, Copy, Debug)]
pub struct Rtpmap {
    /// Payload type number.
    pub pt: u8,
    /// `encoding/clock` as in `a=rtpmap`.
    pub encoding: &'static str,
    /// `a=fmtp` parameters, if any.
    pub fmtp: Option<&'static str>,
}

/// The SDP body of `party`.
pub fn sdp(party: &Party, payloads: &[Rtpmap]) -> String {
    let ip = party.media.ip();
    let mut s = String::new();
    let pts: Vec<String> = payloads.iter().map(|p| p.pt.to_string()).collect();
    let _ = write!(
        s,
        "v=0\r\no={} {} {} IN IP4 {ip}\r\ns=-\r\nc=IN IP4 {ip}\r\nt=0 0\r\nm=audio {} RTP/AVP {}\r\n",
        party.user,
        party.sdp_session,
        party.sdp_session,
        party.media.port(),
        pts.join(" ")
    );
    for p in payloads {
        let _ = write!(s, "a=rtpmap:{} {}\r\n", p.pt, p.encoding);
        if let Some(f) = p.fmtp {
            let _ = write!(s, "a=fmtp:{} {f}\r\n", p.pt);
        }
    }
    s.push_str("a=ptime:20\r\na=sendrecv\r\n");
    s
}

/// A request within the dialog from `from` to `to`. `to_tag` is set once the
/// dialog is established (ACK, BYE).
pub struct Request<'a> {
    /// Method.
    pub method: &'a str,
    /// CSeq number.
    pub cseq: u32,
    /// Via branch (without the magic cookie).
    pub branch: &'a str,
    /// Whether the To header carries the peer's tag.
    pub to_tag: bool,
    /// SDP body, if any.
    pub body: Option<&'a str>,
}

impl Dialog {
    fn headers(&self, from: &Party, to: &Party, to_tag: bool) -> (String, String) {
        let from_h = format!(
            "\"{}\" <sip:{}@{}>;tag={}",
            from.display, from.user, self.domain, from.tag
        );
        let mut to_h = format!("\"{}\" <sip:{}@{}>", to.display, to.user, self.domain);
        if to_tag {
            let _ = write!(to_h, ";tag={}", to.tag);
        }
        (from_h, to_h)
    }

    /// A request from the caller (`caller_sends`) or the callee.
    pub fn request(&self, caller_sends: bool, r: &Request<'_>) -> String {
        let (from, to) = self.sides(caller_sends);
        let (from_h, to_h) = self.headers(from, to, r.to_tag);
        let uri = format!("sip:{}@{}", to.user, to.sip);
        let mut m = format!(
            "{} {uri} SIP/2.0\r\nVia: SIP/2.0/UDP {};branch=z9hG4bK{}\r\nMax-Forwards: 70\r\n\
             From: {from_h}\r\nTo: {to_h}\r\nCall-ID: {}\r\nCSeq: {} {}\r\n\
             Contact: <sip:{}@{}>\r\nUser-Agent: voxprobe-synth\r\n",
            r.method, from.sip, r.branch, self.call_id, r.cseq, r.method, from.user, from.sip
        );
        finish(&mut m, r.body);
        m
    }

    /// A response to a request the other side sent (`to_caller`: the caller
    /// sent it and receives this response).
    pub fn response(
        &self,
        to_caller: bool,
        code: u16,
        reason: &str,
        r: &Request<'_>,
        body: Option<&str>,
    ) -> String {
        // The request went from `req_from` to `req_to`; the response echoes
        // its Via, From, To (with the responder's tag), Call-ID and CSeq.
        let (req_from, req_to) = self.sides(to_caller);
        let (from_h, mut to_h) = self.headers(req_from, req_to, r.to_tag);
        if !r.to_tag && code > 100 {
            let _ = write!(to_h, ";tag={}", req_to.tag);
        }
        let mut m = format!(
            "SIP/2.0 {code} {reason}\r\nVia: SIP/2.0/UDP {};branch=z9hG4bK{}\r\n\
             From: {from_h}\r\nTo: {to_h}\r\nCall-ID: {}\r\nCSeq: {} {}\r\n",
            req_from.sip, r.branch, self.call_id, r.cseq, r.method
        );
        if code > 100 && r.method == "INVITE" {
            let _ = write!(m, "Contact: <sip:{}@{}>\r\n", req_to.user, req_to.sip);
        }
        m.push_str("User-Agent: voxprobe-synth\r\n");
        finish(&mut m, body);
        m
    }

    fn sides(&self, caller_sends: bool) -> (&Party, &Party) {
        if caller_sends {
            (&self.caller, &self.callee)
        } else {
            (&self.callee, &self.caller)
        }
    }
}

/// Adds Content-Type/Content-Length, the blank line and the body.
fn finish(m: &mut String, body: Option<&str>) {
    match body {
        Some(b) => {
            let _ = write!(
                m,
                "Allow: INVITE, ACK, BYE, CANCEL, OPTIONS\r\nContent-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{b}",
                b.len()
            );
        }
        None => m.push_str("Content-Length: 0\r\n\r\n"),
    }
}

/// A SIP user agent of the call scenarios: a phone, softphone or gateway
/// with its own product string (`User-Agent` in its requests, `Server` in its
/// responses, RFC 3261 §20.35, §20.41).
#[derive(Clone, Debug)]
pub struct UserAgent {
    /// User part of its AOR and Contact.
    pub user: String,
    /// Display name.
    pub display: String,
    /// Signalling and media IP (SIP on UDP 5060).
    pub ip: std::net::Ipv4Addr,
    /// Product string.
    pub product: &'static str,
}

impl UserAgent {
    /// Its SIP address (`ip:5060`).
    pub fn sip(&self) -> SocketAddrV4 {
        SocketAddrV4::new(self.ip, 5060)
    }
}

/// One INVITE dialog between two [`UserAgent`]s, for the call scenarios
/// (richer than [`Dialog`]: `rport`, `Server`, `Allow`/`Supported`, extra
/// headers such as `Reason`, either side sending requests).
#[derive(Clone, Debug)]
pub struct CallLeg {
    /// Caller.
    pub caller: UserAgent,
    /// Callee.
    pub callee: UserAgent,
    /// Caller's dialog tag.
    pub caller_tag: String,
    /// Callee's dialog tag.
    pub callee_tag: String,
    /// Call-ID.
    pub call_id: String,
    /// Domain of both AORs.
    pub domain: &'static str,
}

/// A request (or the request a response answers) within a [`CallLeg`].
#[derive(Clone, Copy, Debug)]
pub struct Txn<'a> {
    /// Method.
    pub method: &'a str,
    /// CSeq number.
    pub cseq: u32,
    /// Via branch (without the magic cookie).
    pub branch: &'a str,
    /// Whether the caller sends the request.
    pub from_caller: bool,
    /// Whether the To header carries the peer's tag.
    pub to_tag: bool,
}

impl CallLeg {
    fn sides(&self, from_caller: bool) -> ((&UserAgent, &str), (&UserAgent, &str)) {
        let a = (&self.caller, self.caller_tag.as_str());
        let b = (&self.callee, self.callee_tag.as_str());
        if from_caller {
            (a, b)
        } else {
            (b, a)
        }
    }

    /// The AOR URI of the caller (`from`) or callee.
    pub fn aor(&self, caller: bool) -> String {
        let ua = if caller { &self.caller } else { &self.callee };
        format!("sip:{}@{}", ua.user, self.domain)
    }

    fn name_addr(&self, ua: &UserAgent) -> String {
        format!("\"{}\" <sip:{}@{}>", ua.display, ua.user, self.domain)
    }

    /// The text of request `t`, with `extra` headers (`Name: value`, each
    /// without CRLF) and an SDP body.
    pub fn request(&self, t: &Txn<'_>, extra: &[String], body: Option<&str>) -> String {
        let ((from, from_tag), (to, to_tag)) = self.sides(t.from_caller);
        let mut m = format!(
            "{} sip:{}@{} SIP/2.0\r\nVia: SIP/2.0/UDP {};branch=z9hG4bK{};rport\r\n\
             Max-Forwards: 70\r\nFrom: {};tag={from_tag}\r\nTo: {}",
            t.method,
            to.user,
            to.sip(),
            from.sip(),
            t.branch,
            self.name_addr(from),
            self.name_addr(to),
        );
        if t.to_tag {
            let _ = write!(m, ";tag={to_tag}");
        }
        let _ = write!(
            m,
            "\r\nCall-ID: {}\r\nCSeq: {} {}\r\n",
            self.call_id, t.cseq, t.method
        );
        let invite = t.method == "INVITE";
        if invite {
            let _ = write!(m, "Contact: <sip:{}@{}>\r\n", from.user, from.sip());
        }
        for h in extra {
            let _ = write!(m, "{h}\r\n");
        }
        let _ = write!(m, "User-Agent: {}\r\n", from.product);
        if invite {
            m.push_str(ALLOW_SUPPORTED);
        }
        finish_leg(&mut m, body);
        m
    }

    /// The text of a response to request `t`, sent by its recipient.
    pub fn response(
        &self,
        t: &Txn<'_>,
        code: u16,
        reason: &str,
        extra: &[String],
        body: Option<&str>,
    ) -> String {
        let ((from, from_tag), (to, to_tag)) = self.sides(t.from_caller);
        let mut m = format!(
            "SIP/2.0 {code} {reason}\r\nVia: SIP/2.0/UDP {};branch=z9hG4bK{};rport={};received={}\r\n\
             From: {};tag={from_tag}\r\nTo: {}",
            from.sip(),
            t.branch,
            from.sip().port(),
            from.ip,
            self.name_addr(from),
            self.name_addr(to),
        );
        if t.to_tag || code > 100 {
            let _ = write!(m, ";tag={to_tag}");
        }
        let _ = write!(
            m,
            "\r\nCall-ID: {}\r\nCSeq: {} {}\r\n",
            self.call_id, t.cseq, t.method
        );
        let invite = t.method == "INVITE";
        if invite && code > 100 && code < 300 {
            let _ = write!(m, "Contact: <sip:{}@{}>\r\n", to.user, to.sip());
        }
        for h in extra {
            let _ = write!(m, "{h}\r\n");
        }
        let _ = write!(m, "Server: {}\r\n", to.product);
        if invite && (200..300).contains(&code) {
            m.push_str(ALLOW_SUPPORTED);
        }
        finish_leg(&mut m, body);
        m
    }
}

const ALLOW_SUPPORTED: &str =
    "Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, UPDATE, INFO\r\nSupported: replaces, timer\r\n";

fn finish_leg(m: &mut String, body: Option<&str>) {
    match body {
        Some(b) => {
            let _ = write!(
                m,
                "Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{b}",
                b.len()
            );
        }
        None => m.push_str("Content-Length: 0\r\n\r\n"),
    }
}

/// An SDP body (RFC 4566) for one audio stream at `media`, with `o=` session
/// id and version (a re-INVITE's offer increments the version).
pub fn sdp_audio(
    user: &str,
    session: u64,
    version: u64,
    media: SocketAddrV4,
    payloads: &[Rtpmap],
) -> String {
    let ip = media.ip();
    let pts: Vec<String> = payloads.iter().map(|p| p.pt.to_string()).collect();
    let mut s = format!(
        "v=0\r\no={user} {session} {version} IN IP4 {ip}\r\ns=Talk\r\nc=IN IP4 {ip}\r\nt=0 0\r\n\
         m=audio {} RTP/AVP {}\r\n",
        media.port(),
        pts.join(" ")
    );
    for p in payloads {
        let _ = write!(s, "a=rtpmap:{} {}\r\n", p.pt, p.encoding);
        if let Some(f) = p.fmtp {
            let _ = write!(s, "a=fmtp:{} {f}\r\n", p.pt);
        }
    }
    s.push_str("a=ptime:20\r\na=sendrecv\r\n");
    s
}

/// Seconds from 1900 (NTP era 0) to 1970.
const NTP_UNIX_OFFSET: u64 = 2_208_988_800;

/// What an RTCP SR says.
pub struct SenderReport<'a> {
    /// Sender SSRC.
    pub ssrc: u32,
    /// Wallclock of the report, µs since the Unix epoch.
    pub time_us: i64,
    /// RTP timestamp matching `time_us`.
    pub rtp_timestamp: u32,
    /// Packets sent.
    pub packets: u32,
    /// Payload octets sent.
    pub octets: u32,
    /// One report block: (SSRC, fraction lost, cumulative lost, ext highest
    /// seq, jitter), if the sender also receives.
    pub block: Option<(u32, u8, i64, u32, u32)>,
    /// SDES CNAME.
    pub cname: &'a str,
}

/// An RTCP compound packet: SR (+ one report block) then SDES CNAME.
pub fn rtcp_sr(r: &SenderReport<'_>, out: &mut Vec<u8>) {
    out.clear();
    let rc = u8::from(r.block.is_some());
    let words = 6 + 6 * usize::from(rc); // length in 32-bit words minus one
    out.push(0x80 | rc);
    out.push(200);
    out.extend_from_slice(&(words as u16).to_be_bytes());
    out.extend_from_slice(&r.ssrc.to_be_bytes());
    let secs = r.time_us.div_euclid(1_000_000) as u64 + NTP_UNIX_OFFSET;
    let frac = ((r.time_us.rem_euclid(1_000_000) as u64) << 32) / 1_000_000;
    out.extend_from_slice(&(secs as u32).to_be_bytes());
    out.extend_from_slice(&(frac as u32).to_be_bytes());
    out.extend_from_slice(&r.rtp_timestamp.to_be_bytes());
    out.extend_from_slice(&r.packets.to_be_bytes());
    out.extend_from_slice(&r.octets.to_be_bytes());
    if let Some((ssrc, fraction, cumulative, ext, jitter)) = r.block {
        out.extend_from_slice(&ssrc.to_be_bytes());
        // Cumulative lost is a signed 24-bit field (RFC 3550 §6.4.1).
        let cum = cumulative.clamp(-0x80_0000, 0x7f_ffff) as i32 as u32 & 0x00ff_ffff;
        out.extend_from_slice(&(u32::from(fraction) << 24 | cum).to_be_bytes());
        out.extend_from_slice(&ext.to_be_bytes());
        out.extend_from_slice(&jitter.to_be_bytes());
        out.extend_from_slice(&0u32.to_be_bytes()); // LSR: no SR received yet
        out.extend_from_slice(&0u32.to_be_bytes()); // DLSR
    }
    // SDES: one chunk, CNAME item, END, padded to a 32-bit boundary.
    let start = out.len();
    out.extend_from_slice(&[0x81, 202, 0, 0]);
    out.extend_from_slice(&r.ssrc.to_be_bytes());
    out.push(1);
    out.push(r.cname.len() as u8);
    out.extend_from_slice(r.cname.as_bytes());
    out.push(0);
    while !(out.len() - start).is_multiple_of(4) {
        out.push(0);
    }
    let sdes_words = ((out.len() - start) / 4 - 1) as u16;
    out[start + 2..start + 4].copy_from_slice(&sdes_words.to_be_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn party(user: &str, ip: [u8; 4]) -> Party {
        Party {
            user: user.into(),
            display: user.into(),
            sip: SocketAddrV4::new(ip.into(), 5060),
            media: SocketAddrV4::new(ip.into(), 40_000),
            tag: format!("{user}tag"),
            sdp_session: 1,
        }
    }

    #[test]
    fn content_length_counts_the_body() {
        let d = Dialog {
            caller: party("alice", [192, 0, 2, 10]),
            callee: party("bob", [198, 51, 100, 20]),
            call_id: "abc@192.0.2.10".into(),
            domain: "example.com".into(),
        };
        let body = sdp(
            &d.caller,
            &[Rtpmap {
                pt: 8,
                encoding: "PCMA/8000",
                fmtp: None,
            }],
        );
        let r = Request {
            method: "INVITE",
            cseq: 1,
            branch: "1",
            to_tag: false,
            body: Some(&body),
        };
        let m = d.request(true, &r);
        let (head, rest) = m.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("INVITE sip:bob@198.51.100.20:5060 SIP/2.0\r\n"));
        assert!(head.contains(&format!("Content-Length: {}", rest.len())));
        assert!(rest.contains("m=audio 40000 RTP/AVP 8\r\n"));
        let ok = d.response(true, 200, "OK", &r, None);
        assert!(ok.contains("To: \"bob\" <sip:bob@example.com>;tag=bobtag\r\n"));
        assert!(ok.contains("CSeq: 1 INVITE\r\n"));
    }

    #[test]
    fn the_analysers_scanners_learn_the_media_from_it() {
        use crate::media::PayloadKind;
        use crate::proto::{sdp, sip as scan};
        let d = Dialog {
            caller: party("alice", [192, 0, 2, 10]),
            callee: party("bob", [198, 51, 100, 20]),
            call_id: "abc@192.0.2.10".into(),
            domain: "example.com".into(),
        };
        let payloads = [
            Rtpmap {
                pt: 8,
                encoding: "PCMA/8000",
                fmtp: None,
            },
            Rtpmap {
                pt: 101,
                encoding: "telephone-event/8000",
                fmtp: Some("0-16"),
            },
        ];
        let body = sdp(&d.callee, &payloads);
        let r = Request {
            method: "INVITE",
            cseq: 1,
            branch: "1",
            to_tag: false,
            body: None,
        };
        let ok = d.response(true, 200, "OK", &r, Some(&body));
        assert!(scan::looks_like_sip(ok.as_bytes()));
        let media = sdp::media_descriptions(scan::body(ok.as_bytes()).unwrap());
        assert_eq!(media.len(), 1);
        assert_eq!(media[0].address, Some([198, 51, 100, 20].into()));
        assert_eq!(media[0].port, 40_000);
        assert_eq!(media[0].payloads.resolve(8).name, Some("PCMA"));
        assert_eq!(
            media[0].payloads.resolve(101).kind,
            PayloadKind::TelephoneEvent
        );
    }

    #[test]
    fn rtcp_lengths_are_consistent() {
        let mut out = Vec::new();
        rtcp_sr(
            &SenderReport {
                ssrc: 1,
                time_us: 1_000_000,
                rtp_timestamp: 0,
                packets: 1,
                octets: 160,
                block: Some((2, 0, -1, 100, 3)),
                cname: "a@b",
            },
            &mut out,
        );
        let sr_len = (usize::from(u16::from_be_bytes([out[2], out[3]])) + 1) * 4;
        assert_eq!(sr_len, 52);
        let sdes = &out[sr_len..];
        assert_eq!(sdes[1], 202);
        assert_eq!(
            (usize::from(u16::from_be_bytes([sdes[2], sdes[3]])) + 1) * 4,
            sdes.len()
        );
    }
}
