//! SDP media descriptions (RFC 4566): where each side wants RTP and what its
//! payload types mean.
//!
//! A line scanner over borrowed bytes: `c=` (session or media level), `m=`
//! and `a=rtpmap`, `a=rtcp`, `a=rtcp-mux`. Hostile input is bounded: at most
//! [`MAX_MEDIA`] media sections are reported; longer SDP is cut there.

use crate::media::{PayloadInfo, PayloadMap};
use std::net::IpAddr;

/// Most media sections reported from one SDP.
pub const MAX_MEDIA: usize = 16;

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
}

impl MediaDescription {
    /// Whether the media is SRTP (RFC 3711): a `SAVP`/`SAVPF` profile.
    pub fn is_secure(&self) -> bool {
        self.protocol.contains("SAVP")
    }
}

/// Parses the media sections of an SDP body. Lines that do not parse are
/// skipped; an SDP with none gives an empty list.
pub fn media_descriptions(sdp: &[u8]) -> Vec<MediaDescription> {
    let mut out: Vec<MediaDescription> = Vec::new();
    let mut session_address: Option<IpAddr> = None;
    for line in sdp.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let Ok(line) = std::str::from_utf8(line) else {
            continue;
        };
        if let Some(rest) = line.strip_prefix("m=") {
            if out.len() >= MAX_MEDIA {
                break;
            }
            let mut f = rest.split(' ');
            let media = f.next().unwrap_or_default().to_owned();
            let port = f
                .next()
                .and_then(|p| p.split('/').next())
                .and_then(|p| p.parse().ok())
                .unwrap_or(0);
            let protocol = f.next().unwrap_or_default().to_owned();
            out.push(MediaDescription {
                media,
                address: session_address,
                port,
                protocol,
                rtcp_port: None,
                rtcp_mux: false,
                payloads: PayloadMap::default(),
            });
        } else if let Some(rest) = line.strip_prefix("c=") {
            // c=IN IP4 192.0.2.1[/ttl]
            let address = rest
                .split(' ')
                .nth(2)
                .and_then(|a| a.split('/').next())
                .and_then(|a| a.parse().ok());
            match out.last_mut() {
                Some(m) => m.address = address.or(m.address),
                None => session_address = address,
            }
        } else if let Some(m) = out.last_mut() {
            if let Some(rest) = line.strip_prefix("a=rtpmap:") {
                // a=rtpmap:<pt> <name>/<clock>[/<channels>]
                let mut f = rest.splitn(2, ' ');
                let pt = f.next().and_then(|p| p.trim().parse::<u8>().ok());
                let mut enc = f.next().unwrap_or_default().split('/');
                let name = enc.next().unwrap_or_default().trim();
                let clock = enc.next().and_then(|c| c.trim().parse::<u32>().ok());
                if let (Some(pt), Some(clock)) = (pt, clock) {
                    m.payloads.insert(pt, PayloadInfo::from_rtpmap(name, clock));
                }
            } else if let Some(rest) = line.strip_prefix("a=rtcp:") {
                m.rtcp_port = rest.split(' ').next().and_then(|p| p.parse().ok());
            } else if line == "a=rtcp-mux" {
                m.rtcp_mux = true;
            }
        }
    }
    out
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
        assert_eq!(m[1].port, 0);
        assert_eq!(m[1].address, Some("10.0.0.1".parse().unwrap()));
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
    }
}
