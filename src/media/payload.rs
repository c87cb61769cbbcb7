//! Payload types: what an RTP payload type number means for a stream, from the
//! static table of RFC 3551 or from SDP `a=rtpmap` lines.

use crate::proto::rtp;

/// How a payload type takes part in the statistics.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PayloadKind {
    /// A media codec with a known clock rate: timing statistics apply.
    Media,
    /// Comfort noise (RFC 3389).
    ComfortNoise,
    /// RFC 4733 telephone-event: its timestamp stays put during an event, so
    /// it is left out of jitter (RFC 4733 §2.2.1; Wireshark does the same).
    TelephoneEvent,
    /// A dynamic payload type with no SDP: clock rate unknown.
    Unknown,
}

/// What one payload type number means.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PayloadInfo {
    /// Encoding name (`PCMA`, `AMR-WB`, `telephone-event`); for an unknown
    /// dynamic type, `None`.
    pub name: Option<&'static str>,
    /// RTP clock rate in Hz; 0 when unknown.
    pub clock_rate: u32,
    /// Role in the statistics.
    pub kind: PayloadKind,
}

impl PayloadInfo {
    /// The meaning of `pt` without any SDP.
    pub fn from_static(pt: u8) -> PayloadInfo {
        match rtp::static_payload_type(pt) {
            Some((name, clock_rate)) => PayloadInfo {
                name: Some(name),
                clock_rate,
                kind: if rtp::is_comfort_noise(pt) {
                    PayloadKind::ComfortNoise
                } else {
                    PayloadKind::Media
                },
            },
            None => PayloadInfo {
                name: None,
                clock_rate: 0,
                kind: PayloadKind::Unknown,
            },
        }
    }

    /// The meaning of a dynamic type announced as `name/clock` in SDP.
    pub fn from_rtpmap(name: &str, clock_rate: u32) -> PayloadInfo {
        let canonical = canonical_name(name);
        let kind = if name.eq_ignore_ascii_case("telephone-event") {
            PayloadKind::TelephoneEvent
        } else if name.eq_ignore_ascii_case("CN") {
            PayloadKind::ComfortNoise
        } else {
            PayloadKind::Media
        };
        PayloadInfo {
            name: canonical,
            clock_rate,
            kind,
        }
    }
}

/// Encoding names we report, interned so that a `PayloadInfo` stays `Copy`
/// and nothing is allocated per stream. Names outside the list report as
/// `dynamic`.
const KNOWN_NAMES: &[&str] = &[
    "PCMU",
    "PCMA",
    "G722",
    "G729",
    "G723",
    "GSM",
    "CN",
    "telephone-event",
    "AMR",
    "AMR-WB",
    "EVS",
    "opus",
    "iLBC",
    "speex",
    "SILK",
    "G7221",
    "G726-32",
    "H263",
    "H263-1998",
    "H264",
    "VP8",
    "VP9",
    "red",
    "ulpfec",
    "t140",
    "L16",
];

fn canonical_name(name: &str) -> Option<&'static str> {
    KNOWN_NAMES
        .iter()
        .find(|k| k.eq_ignore_ascii_case(name))
        .copied()
}

/// Most `a=rtpmap` lines kept per media endpoint; an SDP listing more is cut
/// here (real offers list a dozen at most).
pub const MAX_RTPMAP_ENTRIES: usize = 32;

/// Payload type meanings learned from SDP for one media endpoint. Built once
/// per SDP and consulted only when a stream's payload type changes, so a short
/// list beats a 128-slot array.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PayloadMap {
    entries: Vec<(u8, PayloadInfo)>,
}

impl PayloadMap {
    /// Records that `pt` means `info` (from `a=rtpmap`). Dynamic and static
    /// numbers alike; values above 127 and entries past
    /// [`MAX_RTPMAP_ENTRIES`] are ignored.
    pub fn insert(&mut self, pt: u8, info: PayloadInfo) {
        if pt > 127 {
            return;
        }
        if let Some(slot) = self.entries.iter_mut().find(|(p, _)| *p == pt) {
            slot.1 = info;
        } else if self.entries.len() < MAX_RTPMAP_ENTRIES {
            self.entries.push((pt, info));
        }
    }

    /// What `pt` means: the SDP entry, else the static table.
    pub fn resolve(&self, pt: u8) -> PayloadInfo {
        self.entries
            .iter()
            .find(|(p, _)| *p == pt)
            .map(|(_, info)| *info)
            .unwrap_or_else(|| PayloadInfo::from_static(pt))
    }

    /// Whether any entry was learned.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn static_and_learned_types_resolve() {
        let mut map = PayloadMap::default();
        assert_eq!(map.resolve(8).name, Some("PCMA"));
        assert_eq!(map.resolve(9).clock_rate, 8000);
        assert_eq!(map.resolve(13).kind, PayloadKind::ComfortNoise);
        assert_eq!(map.resolve(101).kind, PayloadKind::Unknown);
        map.insert(101, PayloadInfo::from_rtpmap("telephone-event", 8000));
        map.insert(118, PayloadInfo::from_rtpmap("amr-wb", 16000));
        assert_eq!(map.resolve(101).kind, PayloadKind::TelephoneEvent);
        assert_eq!(map.resolve(118).name, Some("AMR-WB"));
        assert_eq!(map.resolve(118).clock_rate, 16000);
        map.insert(200, PayloadInfo::from_static(0)); // out of range: ignored
    }
}
