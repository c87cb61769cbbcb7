//! SDP session descriptions (RFC 4566, offer/answer RFC 3264): where each
//! side wants RTP and what its payload types mean.
//!
//! A line scanner over borrowed bytes. Per `m=` section it reports the
//! connection address (`c=` at media level, else session level; `IN IP4` and
//! `IN IP6`), the RTP port, the transport, the payload types of the `m=` line
//! in order (the first is the preferred codec; static types need no
//! `a=rtpmap`), `a=rtpmap`, `a=fmtp`, `a=ptime`/`a=maxptime`, `a=rtcp`
//! (port and optional address), `a=rtcp-mux`, telephone-event (RFC 4733),
//! and the direction (`sendrecv`/`sendonly`/`recvonly`/`inactive`; a media
//! attribute overrides the session one). A `c=` address of `0.0.0.0` is the
//! RFC 2543 way of putting a call on hold (RFC 3264 §8.4) and is flagged.
//!
//! Hostile input is bounded: at most [`MAX_MEDIA`] media sections are
//! reported (longer SDP is cut there), and per section at most
//! [`MAX_FORMATS`] payload types, [`MAX_RTPMAP_ENTRIES`] rtpmaps and
//! [`MAX_FMTP`] fmtp lines, each fmtp value at most [`MAX_FMTP_BYTES`]. Lines
//! that do not parse are skipped. The returned values are small and owned:
//! SDP comes once per signalling message, never per RTP packet.

use crate::media::payload::MAX_RTPMAP_ENTRIES;
use crate::media::{PayloadInfo, PayloadMap};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Most media sections reported from one SDP.
pub const MAX_MEDIA: usize = 16;

/// Most payload types kept from one `m=` line (WebRTC offers list ~15).
pub const MAX_FORMATS: usize = 32;

/// Most `a=fmtp` lines kept per media section.
pub const MAX_FMTP: usize = 32;

/// Longest `a=fmtp` parameter string kept (longer ones are cut at a
/// character boundary).
pub const MAX_FMTP_BYTES: usize = 256;

/// Media direction (RFC 4566 §6, RFC 3264 §5.1).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Direction {
    /// Send and receive (the default).
    #[default]
    SendRecv,
    /// Send only (the other side is on hold, RFC 3264 §8.4).
    SendOnly,
    /// Receive only.
    RecvOnly,
    /// Neither.
    Inactive,
}

impl Direction {
    fn from_attribute(a: &str) -> Option<Direction> {
        Some(match a {
            "sendrecv" => Direction::SendRecv,
            "sendonly" => Direction::SendOnly,
            "recvonly" => Direction::RecvOnly,
            "inactive" => Direction::Inactive,
            _ => return None,
        })
    }

    /// The attribute name.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::SendRecv => "sendrecv",
            Direction::SendOnly => "sendonly",
            Direction::RecvOnly => "recvonly",
            Direction::Inactive => "inactive",
        }
    }
}

/// One `a=rtpmap:<pt> <encoding>/<clock>[/<channels>]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rtpmap {
    /// Payload type.
    pub payload_type: u8,
    /// Encoding name as written (`AMR-WB`, `opus`, `telephone-event`).
    pub encoding: String,
    /// Clock rate in Hz.
    pub clock_rate: u32,
    /// Channels (audio), when given.
    pub channels: Option<u16>,
}

/// One `m=` section with the address it resolves to.
#[derive(Clone, Debug, PartialEq)]
pub struct MediaDescription {
    /// Media type (`audio`, `video`, ...), lower case as written.
    pub media: String,
    /// Connection address (media-level `c=`, else session-level).
    pub address: Option<IpAddr>,
    /// RTP port (0 = stream rejected/disabled).
    pub port: u16,
    /// Transport protocol as written (`RTP/AVP`, `RTP/SAVP`, `UDP/TLS/RTP/SAVPF`, ...).
    pub protocol: String,
    /// RTCP port from `a=rtcp:`, if given.
    pub rtcp_port: Option<u16>,
    /// `a=rtcp-mux` present.
    pub rtcp_mux: bool,
    /// Payload types from `a=rtpmap`.
    pub payloads: PayloadMap,
    /// Payload types of the `m=` line in order: the first is the preferred
    /// codec (RFC 3264 §5.1). Non-numeric formats (`t38`) are left out.
    pub payload_types: Vec<u8>,
    /// `a=rtpmap` lines as written.
    pub rtpmaps: Vec<Rtpmap>,
    /// `a=fmtp:<pt> <parameters>` lines.
    pub fmtp: Vec<(u8, String)>,
    /// `a=ptime` in ms.
    pub ptime: Option<u32>,
    /// `a=maxptime` in ms.
    pub maxptime: Option<u32>,
    /// RTCP address from `a=rtcp:<port> IN IP4 <addr>` (RFC 3605).
    pub rtcp_address: Option<IpAddr>,
    /// Direction: the media attribute, else the session one, else sendrecv.
    pub direction: Direction,
    /// The connection address is `0.0.0.0` (or `::`): old-style hold
    /// (RFC 3264 §8.4).
    pub hold_address: bool,
}

impl MediaDescription {
    /// Whether the media is SRTP (RFC 3711): a `SAVP`/`SAVPF` profile.
    pub fn is_secure(&self) -> bool {
        self.protocol.contains("SAVP")
    }

    /// The preferred payload type: the first of the `m=` line.
    pub fn preferred_payload_type(&self) -> Option<u8> {
        self.payload_types.first().copied()
    }

    /// The payload type of telephone-event (RFC 4733) at `clock_rate`, or
    /// the first one listed when `clock_rate` is `None`.
    pub fn telephone_event(&self, clock_rate: Option<u32>) -> Option<u8> {
        self.rtpmaps
            .iter()
            .filter(|r| r.encoding.eq_ignore_ascii_case("telephone-event"))
            .find(|r| clock_rate.is_none_or(|c| c == r.clock_rate))
            .map(|r| r.payload_type)
    }

    /// The fmtp parameters of `pt`.
    pub fn fmtp_of(&self, pt: u8) -> Option<&str> {
        self.fmtp
            .iter()
            .find(|(p, _)| *p == pt)
            .map(|(_, f)| f.as_str())
    }

    /// Whether this side puts the media on hold: a hold address, or it will
    /// not receive (`sendonly`, `inactive`).
    pub fn is_hold(&self) -> bool {
        self.hold_address || matches!(self.direction, Direction::SendOnly | Direction::Inactive)
    }
}

/// Parses a `c=` value (`IN IP4 192.0.2.1[/ttl]`, `IN IP6 2001:db8::1`).
fn connection_address(rest: &str) -> Option<IpAddr> {
    let mut f = rest.split_ascii_whitespace();
    if f.next()? != "IN" {
        return None;
    }
    let kind = f.next()?;
    let addr = f.next()?.split('/').next()?;
    match kind {
        "IP4" => addr.parse::<Ipv4Addr>().ok().map(IpAddr::V4),
        "IP6" => addr.parse::<Ipv6Addr>().ok().map(IpAddr::V6),
        _ => None,
    }
}

/// Whether an address is the unspecified one (hold).
fn is_hold_address(a: Option<IpAddr>) -> bool {
    a.is_some_and(|a| a.is_unspecified())
}

/// `s` cut to at most `max` bytes at a character boundary.
fn bounded(s: &str, max: usize) -> String {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s.get(..end).unwrap_or_default().to_owned()
}

/// Parses the media sections of an SDP body. Lines that do not parse are
/// skipped; an SDP with none gives an empty list.
pub fn media_descriptions(sdp: &[u8]) -> Vec<MediaDescription> {
    let mut out: Vec<MediaDescription> = Vec::new();
    let mut session_address: Option<IpAddr> = None;
    let mut session_direction: Option<Direction> = None;
    for line in sdp.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let Ok(line) = std::str::from_utf8(line) else {
            continue;
        };
        let line = line.trim_end();
        if let Some(rest) = line.strip_prefix("m=") {
            if out.len() >= MAX_MEDIA {
                break;
            }
            // m=<media> <port>[/<count>] <proto> <fmt> ...
            let mut f = rest.split_ascii_whitespace();
            let media = f.next().unwrap_or_default().to_owned();
            let port = f
                .next()
                .and_then(|p| p.split('/').next())
                .and_then(|p| p.parse().ok())
                .unwrap_or(0);
            let protocol = f.next().unwrap_or_default().to_owned();
            let payload_types = f
                .filter_map(|pt| pt.parse::<u8>().ok().filter(|&pt| pt <= 127))
                .take(MAX_FORMATS)
                .collect();
            out.push(MediaDescription {
                media,
                address: session_address,
                port,
                protocol,
                rtcp_port: None,
                rtcp_mux: false,
                payloads: PayloadMap::default(),
                payload_types,
                rtpmaps: Vec::new(),
                fmtp: Vec::new(),
                ptime: None,
                maxptime: None,
                rtcp_address: None,
                direction: session_direction.unwrap_or_default(),
                hold_address: is_hold_address(session_address),
            });
        } else if let Some(rest) = line.strip_prefix("c=") {
            let address = connection_address(rest);
            match out.last_mut() {
                Some(m) => {
                    m.address = address.or(m.address);
                    m.hold_address = is_hold_address(m.address);
                }
                None => session_address = address,
            }
        } else if let Some(attr) = line.strip_prefix("a=") {
            if let Some(d) = Direction::from_attribute(attr) {
                match out.last_mut() {
                    Some(m) => m.direction = d,
                    None => session_direction = Some(d),
                }
                continue;
            }
            let Some(m) = out.last_mut() else {
                continue;
            };
            media_attribute(m, attr);
        }
    }
    for m in &mut out {
        // The payload map outlives the SDP (the media table keeps it per
        // endpoint for the life of the call): a copy holds exactly its
        // entries, where the one grown line by line has room for more.
        if !m.payloads.is_empty() {
            m.payloads = m.payloads.clone();
        }
    }
    out
}

/// Applies one media-level `a=` attribute (without `a=`).
fn media_attribute(m: &mut MediaDescription, attr: &str) {
    let (name, value) = attr.split_once(':').unwrap_or((attr, ""));
    match name {
        "rtpmap" => {
            // a=rtpmap:<pt> <name>/<clock>[/<channels>]
            let mut f = value.splitn(2, ' ');
            let pt = f.next().and_then(|p| p.trim().parse::<u8>().ok());
            let mut enc = f.next().unwrap_or_default().trim().split('/');
            let encoding = enc.next().unwrap_or_default().trim();
            let clock = enc.next().and_then(|c| c.trim().parse::<u32>().ok());
            let channels = enc.next().and_then(|c| c.trim().parse::<u16>().ok());
            if let (Some(pt), Some(clock)) = (pt, clock) {
                if pt > 127 || encoding.is_empty() {
                    return;
                }
                m.payloads
                    .insert(pt, PayloadInfo::from_rtpmap(encoding, clock));
                if m.rtpmaps.len() < MAX_RTPMAP_ENTRIES {
                    m.rtpmaps.push(Rtpmap {
                        payload_type: pt,
                        encoding: bounded(encoding, MAX_FMTP_BYTES),
                        clock_rate: clock,
                        channels,
                    });
                }
            }
        }
        "fmtp" => {
            let (pt, params) = value.split_once(' ').unwrap_or((value, ""));
            if let Ok(pt) = pt.trim().parse::<u8>() {
                if m.fmtp.len() < MAX_FMTP {
                    m.fmtp.push((pt, bounded(params.trim(), MAX_FMTP_BYTES)));
                }
            }
        }
        "ptime" => m.ptime = value.trim().parse().ok(),
        "maxptime" => m.maxptime = value.trim().parse().ok(),
        "rtcp" => {
            // a=rtcp:<port> [IN IP4 <addr>] (RFC 3605)
            let (port, addr) = value.split_once(' ').unwrap_or((value, ""));
            m.rtcp_port = port.trim().parse().ok();
            m.rtcp_address = connection_address(addr);
        }
        "rtcp-mux" => m.rtcp_mux = true,
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The offer of sip-rtp-g711a-rfc2833-dtmf.cap (shape of it; addresses from the capture).
    const OFFER: &[u8] = b"v=0\r\no=- 1 1 IN IP4 192.168.105.110\r\ns=-\r\nc=IN IP4 192.168.105.110\r\nt=0 0\r\nm=audio 4374 RTP/AVP 8 0 18 101\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\n";

    #[test]
    fn media_inherits_session_address_and_rtpmap() {
        let m = media_descriptions(OFFER);
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].media, "audio");
        assert_eq!(m[0].port, 4374);
        assert_eq!(m[0].address, Some("192.168.105.110".parse().unwrap()));
        assert_eq!(m[0].payloads.resolve(101).name, Some("telephone-event"));
        assert_eq!(m[0].payloads.resolve(8).clock_rate, 8000);
        assert_eq!(m[0].protocol, "RTP/AVP");
        assert!(!m[0].is_secure());
        // Static types 0 and 18 have no rtpmap, yet are in the list, in order.
        assert_eq!(m[0].payload_types, vec![8, 0, 18, 101]);
        assert_eq!(m[0].preferred_payload_type(), Some(8));
        assert_eq!(m[0].telephone_event(Some(8000)), Some(101));
        assert_eq!(m[0].fmtp_of(101), Some("0-15"));
        assert_eq!(m[0].direction, Direction::SendRecv);
        assert!(!m[0].is_hold());
    }

    #[test]
    fn media_level_connection_and_rtcp_attributes() {
        let sdp = b"c=IN IP4 10.0.0.1\r\nm=audio 5000 RTP/AVP 96\r\nc=IN IP6 2001:db8::1\r\na=rtpmap:96 AMR-WB/16000/1\r\na=rtcp:5003\r\na=rtcp-mux\r\nm=video 0 RTP/AVP 97\r\n";
        let m = media_descriptions(sdp);
        assert_eq!(m.len(), 2);
        assert_eq!(m[0].address, Some("2001:db8::1".parse().unwrap()));
        assert_eq!(m[0].rtcp_port, Some(5003));
        assert!(m[0].rtcp_mux);
        assert_eq!(m[0].payloads.resolve(96).clock_rate, 16000);
        assert_eq!(m[0].rtpmaps[0].channels, Some(1));
        assert_eq!(m[1].port, 0);
        assert_eq!(m[1].address, Some("10.0.0.1".parse().unwrap()));
    }

    /// `odd/sip-in-erspan-gre.pcapng` frame 45 (re-INVITE body): old-style
    /// hold (`c=IN IP4 0.0.0.0`) and `a=sendonly`.
    const HOLD: &[u8] = b"v=0\r\n\
o=IpPhone 2890844526 8001 IN IP4 0.0.0.0\r\n\
s=IpPhone CALL\r\n\
c=IN IP4 0.0.0.0\r\n\
t=0 0\r\n\
m=audio 10012 RTP/AVP 8 0 18 4 101\r\n\
a=rtpmap:8 PCMA/8000\r\n\
a=rtpmap:0 PCMU/8000\r\n\
a=rtpmap:18 G729/8000\r\n\
a=rtpmap:4 G723/8000\r\n\
a=rtpmap:101 telephone-event/8000\r\n\
a=fmtp:18 annexb=no\r\n\
a=fmtp:101 0-15\r\n\
a=ptime:20\r\n\
a=sendonly\r\n";

    #[test]
    fn old_style_hold_and_sendonly() {
        let m = media_descriptions(HOLD);
        assert_eq!(m.len(), 1);
        assert!(m[0].hold_address && m[0].is_hold());
        assert_eq!(m[0].address, Some(IpAddr::V4(Ipv4Addr::UNSPECIFIED)));
        assert_eq!(m[0].direction, Direction::SendOnly);
        assert_eq!(m[0].payload_types, vec![8, 0, 18, 4, 101]);
        assert_eq!(m[0].ptime, Some(20));
        assert_eq!(m[0].fmtp_of(18), Some("annexb=no"));
        assert_eq!(m[0].rtpmaps.len(), 5);
    }

    /// `odd/sip-rtp-h263-null-loopback.pcap` frame 1 (INVITE body): audio and
    /// video sections, each with its own direction and fmtp.
    const AUDIO_VIDEO: &[u8] = b"v=0\r\n\
o=- 7 2 IN IP4 192.168.6.199\r\n\
s=CounterPath eyeBeam 1.5\r\n\
c=IN IP4 192.168.6.199\r\n\
t=0 0\r\n\
m=audio 55306 RTP/AVP 8 101\r\n\
a=x-rtp-session-id:10F88471518A3D03FF925B1F11D45B68\r\n\
a=fmtp:101 0-15\r\n\
a=rtpmap:101 telephone-event/8000\r\n\
a=sendrecv\r\n\
m=video 32976 RTP/AVP 34\r\n\
a=x-rtp-session-id:54C91D75272CE247F4DFA34528CC3624\r\n\
a=fmtp:34 QCIF=2 CIF=3 MaxBR=4520\r\n\
a=rtpmap:34 H263/90000\r\n\
a=sendrecv\r\n";

    #[test]
    fn audio_and_video_sections() {
        let m = media_descriptions(AUDIO_VIDEO);
        assert_eq!(m.len(), 2);
        assert_eq!((m[0].media.as_str(), m[0].port), ("audio", 55306));
        assert_eq!((m[1].media.as_str(), m[1].port), ("video", 32976));
        assert_eq!(m[1].payload_types, vec![34]);
        assert_eq!(m[1].payloads.resolve(34).clock_rate, 90000);
        assert_eq!(m[1].fmtp_of(34), Some("QCIF=2 CIF=3 MaxBR=4520"));
        assert_eq!(m[0].telephone_event(None), Some(101));
        assert!(m.iter().all(|d| d.direction == Direction::SendRecv));
        assert_eq!(m[1].address, Some("192.168.6.199".parse().unwrap()));
    }

    /// `sip-tcp/sip-websocket-and-udp.pcap` frame 20 (INVITE body),
    /// shortened: ICE candidates, ssrc lines and some codecs left out.
    const WEBRTC: &[u8] = b"v=0\r\n\
o=- 5857782044904022261 2 IN IP4 10.243.17.55\r\n\
s=-\r\n\
t=0 0\r\n\
a=group:BUNDLE audio\r\n\
m=audio 55695 UDP/TLS/RTP/SAVPF 111 103 104 9 0 8 106 105 13 110 112 113 126\r\n\
c=IN IP4 10.243.17.55\r\n\
a=rtcp:9 IN IP4 0.0.0.0\r\n\
a=setup:actpass\r\n\
a=mid:audio\r\n\
a=sendrecv\r\n\
a=rtcp-mux\r\n\
a=rtpmap:111 opus/48000/2\r\n\
a=rtcp-fb:111 transport-cc\r\n\
a=fmtp:111 minptime=10;useinbandfec=1\r\n\
a=rtpmap:9 G722/8000\r\n\
a=rtpmap:110 telephone-event/48000\r\n\
a=rtpmap:126 telephone-event/8000\r\n";

    #[test]
    fn webrtc_offer_rtcp_address_and_telephone_events() {
        let m = media_descriptions(WEBRTC);
        assert_eq!(m.len(), 1);
        let a = &m[0];
        assert!(a.is_secure() && a.rtcp_mux);
        assert_eq!(a.payload_types.len(), 13);
        assert_eq!(a.preferred_payload_type(), Some(111));
        assert_eq!(a.rtcp_port, Some(9));
        assert_eq!(a.rtcp_address, Some(IpAddr::V4(Ipv4Addr::UNSPECIFIED)));
        // The RTCP address is not the media's: no hold.
        assert!(!a.hold_address);
        assert_eq!(a.telephone_event(Some(48000)), Some(110));
        assert_eq!(a.telephone_event(Some(8000)), Some(126));
        assert_eq!(a.fmtp_of(111), Some("minptime=10;useinbandfec=1"));
        let opus = &a.rtpmaps[0];
        assert_eq!(
            (opus.encoding.as_str(), opus.clock_rate, opus.channels),
            ("opus", 48000, Some(2))
        );
    }

    #[test]
    fn session_direction_applies_unless_media_overrides() {
        // Made up (RFC 3264 §8.4 hold by the offerer).
        let sdp = b"v=0\r\nc=IN IP6 ::\r\na=inactive\r\nm=audio 1000 RTP/AVP 0\r\nm=audio 1002 RTP/AVP 0\r\na=recvonly\r\nm=video 1004 RTP/AVP 96\r\nc=IN IP4 192.0.2.1\r\n";
        let m = media_descriptions(sdp);
        assert_eq!(m[0].direction, Direction::Inactive);
        assert_eq!(m[1].direction, Direction::RecvOnly);
        assert_eq!(m[2].direction, Direction::Inactive);
        assert!(m[0].hold_address && m[1].hold_address && !m[2].hold_address);
        assert_eq!(Direction::RecvOnly.as_str(), "recvonly");
    }

    #[test]
    fn garbage_is_bounded_and_skipped() {
        let mut sdp = Vec::new();
        for _ in 0..1000 {
            sdp.extend_from_slice(b"m=audio x RTP/AVP\r\na=rtpmap:999 X/y\r\n\xff\xfe\r\n");
        }
        let m = media_descriptions(&sdp);
        assert_eq!(m.len(), MAX_MEDIA);
        assert!(m.iter().all(|d| d.port == 0 && d.payloads.is_empty()));
        // Long lists and values are cut at their limits.
        let mut sdp = b"m=audio 1 RTP/AVP".to_vec();
        for pt in 0..100 {
            sdp.extend_from_slice(format!(" {pt}").as_bytes());
        }
        sdp.extend_from_slice(b"\r\n");
        for pt in 0..100 {
            sdp.extend_from_slice(format!("a=fmtp:{pt} {}\r\n", "x".repeat(1000)).as_bytes());
        }
        sdp.extend_from_slice("a=fmtp:1 é\r\nc=IN IP4 300.1.1.1\r\n".as_bytes());
        let m = media_descriptions(&sdp);
        assert_eq!(m[0].payload_types.len(), MAX_FORMATS);
        assert_eq!(m[0].fmtp.len(), MAX_FMTP);
        assert!(m[0].fmtp.iter().all(|(_, f)| f.len() <= MAX_FMTP_BYTES));
        assert_eq!(m[0].address, None);
        assert_eq!(bounded("aé", 2), "a");
    }
}
