//! Per-frame classification counters and reassembly counters.
//!
//! [`DecodeCounters`] puts every frame in exactly one [`FrameClass`];
//! [`ReassemblyCounters`] says what became of the decoder's bounded buffers
//! (IP fragments, learned SIP-over-TCP flows, tunnel nesting): every limit that
//! drops or evicts something has a counter here.

use serde::Serialize;

/// Protocol layers, for counting malformed and truncated frames by where they
/// broke. `name()` is the stable label used in output and metrics.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Layer {
    /// The capture record itself.
    Capture,
    /// Ethernet / SLL / SLL2 / NULL header.
    Link,
    /// 802.1Q / QinQ tag.
    Vlan,
    /// PPPoE session + PPP header.
    Pppoe,
    /// IPv4 header.
    Ipv4,
    /// IPv6 header or extension headers.
    Ipv6,
    /// IP fragment (overlap, bad offset, oversize).
    Fragment,
    /// GRE header.
    Gre,
    /// ERSPAN header.
    Erspan,
    /// UDP header.
    Udp,
    /// TCP header.
    Tcp,
    /// SCTP common header or chunk.
    Sctp,
    /// GTP-U header or extension headers.
    GtpU,
    /// RTP header.
    Rtp,
    /// RTCP packet.
    Rtcp,
    /// GTPv2-C message.
    GtpC,
    /// DIAMETER message.
    Diameter,
}

impl Layer {
    /// Every layer, in order (for tables).
    pub const ALL: [Layer; 17] = [
        Layer::Capture,
        Layer::Link,
        Layer::Vlan,
        Layer::Pppoe,
        Layer::Ipv4,
        Layer::Ipv6,
        Layer::Fragment,
        Layer::Gre,
        Layer::Erspan,
        Layer::Udp,
        Layer::Tcp,
        Layer::Sctp,
        Layer::GtpU,
        Layer::Rtp,
        Layer::Rtcp,
        Layer::GtpC,
        Layer::Diameter,
    ];

    /// Stable lower-case label.
    pub fn name(self) -> &'static str {
        match self {
            Layer::Capture => "capture",
            Layer::Link => "link",
            Layer::Vlan => "vlan",
            Layer::Pppoe => "pppoe",
            Layer::Ipv4 => "ipv4",
            Layer::Ipv6 => "ipv6",
            Layer::Fragment => "fragment",
            Layer::Gre => "gre",
            Layer::Erspan => "erspan",
            Layer::Udp => "udp",
            Layer::Tcp => "tcp",
            Layer::Sctp => "sctp",
            Layer::GtpU => "gtpu",
            Layer::Rtp => "rtp",
            Layer::Rtcp => "rtcp",
            Layer::GtpC => "gtpc",
            Layer::Diameter => "diameter",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// The one class each frame is counted in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FrameClass {
    /// At least one payload in it was ours, or it was held for reassembly.
    Decoded,
    /// Well-formed, nothing voxprobe analyses (ARP, DNS, HTTP ...), or on a
    /// link type the decoder does not support.
    NotForUs,
    /// A header at this layer is invalid.
    Malformed(Layer),
    /// The snap length (or the end of the record) cut a header at this layer.
    Truncated(Layer),
}

/// Counts by frame class. `total == decoded + not_for_us + Σ malformed + Σ truncated`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DecodeCounters {
    /// Frames seen.
    pub total: u64,
    /// Frames decoded.
    pub decoded: u64,
    /// Frames not for us.
    pub not_for_us: u64,
    /// Frames on a link type the decoder does not support (also in `not_for_us`).
    pub unsupported_link: u64,
    malformed: [u64; Layer::ALL.len()],
    truncated: [u64; Layer::ALL.len()],
}

impl DecodeCounters {
    /// Counts one frame into its class.
    pub fn count(&mut self, class: FrameClass) {
        self.total += 1;
        match class {
            FrameClass::Decoded => self.decoded += 1,
            FrameClass::NotForUs => self.not_for_us += 1,
            FrameClass::Malformed(l) => self.malformed[l.index()] += 1,
            FrameClass::Truncated(l) => self.truncated[l.index()] += 1,
        }
    }

    /// Malformed frames at `layer`.
    pub fn malformed(&self, layer: Layer) -> u64 {
        self.malformed[layer.index()]
    }

    /// Truncated frames at `layer`.
    pub fn truncated(&self, layer: Layer) -> u64 {
        self.truncated[layer.index()]
    }

    /// Malformed frames at any layer.
    pub fn malformed_total(&self) -> u64 {
        self.malformed.iter().sum()
    }

    /// Truncated frames at any layer.
    pub fn truncated_total(&self) -> u64 {
        self.truncated.iter().sum()
    }
}

/// Serialised as `{"total":..,"decoded":..,"not_for_us":..,"malformed":{"ipv4":1},"truncated":{..}}`
/// with only non-zero layers listed.
impl Serialize for DecodeCounters {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        struct ByLayer<'a>(&'a [u64; Layer::ALL.len()]);
        impl Serialize for ByLayer<'_> {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let mut m = s.serialize_map(None)?;
                for l in Layer::ALL {
                    let n = self.0[l.index()];
                    if n > 0 {
                        m.serialize_entry(l.name(), &n)?;
                    }
                }
                m.end()
            }
        }
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("total", &self.total)?;
        m.serialize_entry("decoded", &self.decoded)?;
        m.serialize_entry("not_for_us", &self.not_for_us)?;
        m.serialize_entry("unsupported_link", &self.unsupported_link)?;
        m.serialize_entry("malformed", &ByLayer(&self.malformed))?;
        m.serialize_entry("truncated", &ByLayer(&self.truncated))?;
        m.end()
    }
}

/// What became of the decoder's reassembly buffers: every limit that drops or
/// evicts something is counted here, by reason. (The TCP and SCTP reassemblers
/// keep their own counters.)
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ReassemblyCounters {
    /// IP fragments stored into a datagram buffer.
    pub fragments: u64,
    /// IP fragments ignored as exact duplicates of one already stored.
    pub fragments_duplicate: u64,
    /// IP fragments refused because a non-last fragment's length is not a
    /// multiple of 8.
    pub fragments_bad_length: u64,
    /// IP datagrams reassembled and decoded.
    pub reassembled: u64,
    /// Datagrams dropped: not complete within the timeout.
    pub dropped_timeout: u64,
    /// Datagrams evicted (oldest first) to stay under the buffered-bytes cap.
    pub dropped_memory_cap: u64,
    /// Datagrams evicted (oldest first) to stay under the pending-datagram cap.
    pub dropped_datagram_cap: u64,
    /// Datagrams dropped because a fragment overlapped another.
    pub dropped_overlap: u64,
    /// Datagrams dropped because a fragment ended past 65535 bytes.
    pub dropped_oversize: u64,
    /// Datagrams dropped because a fragment disagreed with the last fragment's end.
    pub dropped_inconsistent: u64,
    /// Datagrams dropped at the fragments-per-datagram cap.
    pub dropped_too_many_fragments: u64,
    /// Frames whose tunnels nest deeper than the bound (counted malformed too).
    pub tunnel_depth_exceeded: u64,
    /// TCP flows on non-signalling ports learned as SIP because a segment
    /// started like SIP.
    pub sip_tcp_flows_learned: u64,
    /// Learned SIP-over-TCP flows evicted (oldest first) at the table's cap.
    pub sip_tcp_flows_evicted: u64,
}
