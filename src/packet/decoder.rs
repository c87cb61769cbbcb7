//! The frame decoder: link → IP (defragmented) → tunnels → transport.
//!
//! [`Decoder::decode`] walks one frame, hands every transport payload to the
//! caller's callback as a borrowed [`Datagram`], and counts the frame in one
//! [`FrameClass`]. It owns all reassembly state: the IP [`Defragmenter`], the
//! [`TcpReassembler`] for signalling ports, the [`SctpReassembler`], and a
//! small table of TCP flows on other ports learned as SIP (a first segment
//! that starts like SIP) or as SIP over WebSocket (a first segment that is an
//! HTTP `GET` with `Upgrade: websocket` and the `sip` subprotocol, RFC 7118,
//! on any port). All of it is bounded
//! by [`DecoderConfig`] and ages out in [`Decoder::handle_timeout`] on packet
//! time.
//!
//! The class of a frame, first match wins:
//! 1. a payload the callback called `Malformed(layer)` → `Malformed(layer)`;
//! 2. a payload the callback called `Ours` → `Decoded`;
//! 3. held for reassembly (an IP fragment, a TCP segment on a signalling flow
//!    that completed no PDU, SCTP DATA that completed no message) or a GTP-U
//!    control message → `Decoded`;
//! 4. a header broken at a layer → `Malformed(layer)`, or `Truncated(layer)`
//!    when the snap length cut the frame and the bytes end inside that header;
//! 5. anything else (ARP, other transports, payloads not for us, unsupported
//!    link types) → `NotForUs`.
//!
//! The plain Ethernet → IPv4 → UDP path allocates, hashes and copies nothing.
//! Tunnels recurse at most [`MAX_TUNNEL_DEPTH`] deep.

use super::defrag::{DefragConfig, Defragmenter, FragmentKey, Insert};
use super::ip::{self, protocol, IpPacket};
use super::link::{self, Network};
use super::sctp::{SctpConfig, SctpCounters, SctpError, SctpMessage, SctpReassembler};
use super::tcp::{Framing, TcpConfig, TcpCounters, TcpFlags, TcpReassembler};
use super::tunnel::{self, Inner, MAX_TUNNEL_DEPTH};
use super::{gtpu, HeaderError, Layer, Observation, Transport};
use super::{Datagram, DecodeCounters, Endpoint, FrameClass, ReassemblyCounters, Verdict};
use crate::capture::{Frame, LinkType};
use crate::proto::bytes::be_u16;
use crate::proto::sip::looks_like_sip;
use crate::proto::websocket;
use crate::time::PacketTime;
use etherparse::err::tcp::HeaderSliceError as TcpSliceError;
use etherparse::TcpHeaderSlice;
use std::collections::HashMap;
use std::net::IpAddr;

/// Limits and ports for the decoder. Defaults are sized for a busy SPAN port.
#[derive(Clone, Debug)]
pub struct DecoderConfig {
    /// TCP ports whose streams are reassembled as SIP (default 5060, 5080).
    pub sip_tcp_ports: Vec<u16>,
    /// TCP ports whose streams are reassembled as DIAMETER (default 3868).
    pub diameter_tcp_ports: Vec<u16>,
    /// UDP port of GTP-U (default 2152).
    pub gtpu_port: u16,
    /// IP fragment reassembly limits.
    pub defrag: DefragConfig,
    /// TCP stream reassembly limits.
    pub tcp: TcpConfig,
    /// SCTP reassembly limits.
    pub sctp: SctpConfig,
    /// TCP flows on other ports remembered as SIP because a segment started
    /// like SIP or was a WebSocket upgrade for SIP (default 4096); past it the
    /// least recently seen is evicted.
    pub max_learned_sip_flows: usize,
}

impl Default for DecoderConfig {
    fn default() -> Self {
        DecoderConfig {
            sip_tcp_ports: vec![5060, 5080],
            diameter_tcp_ports: vec![3868],
            gtpu_port: 2152,
            defrag: DefragConfig::default(),
            tcp: TcpConfig::default(),
            sctp: SctpConfig::default(),
            max_learned_sip_flows: 4096,
        }
    }
}

mod udp {
    use std::ops::Range;
    pub const SRC_PORT: Range<usize> = 0..2;
    pub const DST_PORT: Range<usize> = 2..4;
    pub const LENGTH: Range<usize> = 4..6;
    pub const HEADER_LEN: usize = 8;
}

mod sctp_scan {
    pub const COMMON_HEADER_LEN: usize = 12;
    pub const CHUNK_HEADER_LEN: usize = 4;
    /// DATA (RFC 9260) and I-DATA (RFC 8260).
    pub const DATA: u8 = 0;
    pub const I_DATA: u8 = 64;
}

/// One direction-independent TCP flow: the two endpoints, lower first.
type FlowKey = (Endpoint, Endpoint);

fn flow_key(a: Endpoint, b: Endpoint) -> FlowKey {
    if a <= b {
        (a, b)
    } else {
        (b, a)
    }
}

/// The per-frame state of a walk: where the frame came from, where in the
/// tunnels we are, and what the callback said so far.
struct Walk<'cb> {
    time: PacketTime,
    number: u64,
    /// The snap length cut this frame (a short header is truncated, not
    /// malformed; a length field past the bytes is expected).
    cut: bool,
    observation: Observation,
    depth: usize,
    ours: bool,
    held: bool,
    payload_malformed: Option<Layer>,
    delivered: u64,
    on_payload: &'cb mut dyn FnMut(&Datagram<'_>) -> Verdict,
}

impl Walk<'_> {
    #[allow(clippy::too_many_arguments)]
    fn deliver(
        &mut self,
        src: IpAddr,
        src_port: u16,
        dst: IpAddr,
        dst_port: u16,
        transport: Transport,
        payload: &[u8],
        sctp_ppid: u32,
    ) {
        let dg = Datagram {
            time: self.time,
            frame: self.number,
            src: Endpoint::new(src, src_port),
            dst: Endpoint::new(dst, dst_port),
            transport,
            observation: self.observation,
            payload,
            sctp_ppid,
        };
        self.delivered += 1;
        match (self.on_payload)(&dg) {
            Verdict::Ours => self.ours = true,
            Verdict::NotForUs => {}
            Verdict::Malformed(l) => {
                self.payload_malformed.get_or_insert(l);
            }
        }
    }

    fn class(&self, walked: Result<(), HeaderError>) -> FrameClass {
        if let Some(l) = self.payload_malformed {
            FrameClass::Malformed(l)
        } else if self.ours || self.held {
            FrameClass::Decoded
        } else if let Err(e) = walked {
            e.class(self.cut)
        } else {
            FrameClass::NotForUs
        }
    }
}

/// Incomplete data the reassemblers hold: at the end of a run, the IP
/// datagrams, TCP bytes and SCTP messages that never completed (a flood in
/// a capture's last seconds shows here, not in the timeout counters).
#[derive(Clone, Debug, Default, serde::Serialize, PartialEq, Eq)]
pub struct HeldCounters {
    /// IP datagrams waiting for fragments.
    pub ip_datagrams: u64,
    /// Their fragments' bytes.
    pub ip_bytes: u64,
    /// TCP connections tracked (on signalling ports).
    pub tcp_connections: u64,
    /// Bytes held by them: partial messages and out-of-order data.
    pub tcp_bytes: u64,
    /// SCTP user messages waiting for fragments.
    pub sctp_messages: u64,
    /// Their bytes.
    pub sctp_bytes: u64,
}

/// Decodes frames; owns all reassembly state.
///
/// Deterministic: time comes only from the frames and from
/// [`handle_timeout`](Decoder::handle_timeout), which the caller invokes with
/// non-decreasing packet times.
pub struct Decoder {
    config: DecoderConfig,
    counters: DecodeCounters,
    reassembly: ReassemblyCounters,
    defrag: Defragmenter,
    tcp: TcpReassembler,
    sctp: SctpReassembler,
    /// TCP flows on non-signalling ports that started like SIP (or upgraded
    /// to WebSocket for SIP), with the packet time they were last seen and
    /// their framing. Looked up only when non-empty.
    sip_flows: HashMap<FlowKey, (PacketTime, Framing), foldhash::fast::RandomState>,
}

impl Decoder {
    /// A decoder with these limits.
    pub fn new(config: DecoderConfig) -> Self {
        Decoder {
            defrag: Defragmenter::new(config.defrag.clone()),
            tcp: TcpReassembler::new(config.tcp.clone()),
            sctp: SctpReassembler::new(config.sctp.clone()),
            sip_flows: HashMap::default(),
            config,
            counters: DecodeCounters::default(),
            reassembly: ReassemblyCounters::default(),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &DecoderConfig {
        &self.config
    }

    /// Decodes `frame`, passing every transport payload in it to `on_payload`,
    /// which says whether it was ours. Counts the frame into one class and
    /// returns that class.
    pub fn decode(
        &mut self,
        frame: &Frame<'_>,
        on_payload: &mut dyn FnMut(&Datagram<'_>) -> Verdict,
    ) -> FrameClass {
        let mut w = Walk {
            time: frame.time,
            number: frame.number,
            cut: frame.is_snaplen_truncated(),
            observation: Observation::Plain,
            depth: 0,
            ours: false,
            held: false,
            payload_malformed: None,
            delivered: 0,
            on_payload,
        };
        if let LinkType::Unknown(_) = frame.link {
            self.counters.unsupported_link += 1;
        }
        let walked = link::parse(frame.link, frame.data).and_then(|net| self.network(&mut w, net));
        let class = w.class(walked);
        self.counters.count(class);
        class
    }

    /// Ages out reassembly state older than its timeout at `now` (packet time):
    /// IP fragments, TCP connections, SCTP partial messages, learned SIP flows.
    pub fn handle_timeout(&mut self, now: PacketTime) {
        self.defrag.handle_timeout(now, &mut self.reassembly);
        self.tcp.handle_timeout(now);
        self.sctp.handle_timeout(now);
        let idle = self.config.tcp.idle_timeout_ns;
        self.sip_flows
            .retain(|_, (seen, _)| now.as_nanos().saturating_sub(seen.as_nanos()) <= idle);
    }

    /// Frame class counters.
    pub fn counters(&self) -> &DecodeCounters {
        &self.counters
    }

    /// Reassembly counters.
    pub fn reassembly_counters(&self) -> &ReassemblyCounters {
        &self.reassembly
    }

    /// TCP reassembly counters.
    pub fn tcp_counters(&self) -> &TcpCounters {
        self.tcp.counters()
    }

    /// SCTP reassembly counters.
    pub fn sctp_counters(&self) -> &SctpCounters {
        self.sctp.counters()
    }

    /// IP datagrams waiting for more fragments.
    pub fn pending_datagrams(&self) -> usize {
        self.defrag.pending()
    }

    /// What the reassemblers hold now, incomplete: neither delivered nor
    /// dropped (at the end of a run, what the run ended with).
    pub fn held(&self) -> HeldCounters {
        HeldCounters {
            ip_datagrams: self.defrag.pending() as u64,
            ip_bytes: self.defrag.buffered_bytes() as u64,
            tcp_connections: self.tcp.connection_count() as u64,
            tcp_bytes: self.tcp.held_bytes() as u64,
            sctp_messages: self.sctp.partial_count() as u64,
            sctp_bytes: self.sctp.partial_bytes() as u64,
        }
    }

    fn network(&mut self, w: &mut Walk<'_>, net: Network<'_>) -> Result<(), HeaderError> {
        match net {
            Network::Ipv4(b) => self.ip(w, ip::parse_ipv4(b, w.cut)?),
            Network::Ipv6(b) => self.ip(w, ip::parse_ipv6(b, w.cut)?),
            Network::Other => Ok(()),
        }
    }

    /// An IP packet: reassembled when a fragment, then its transport.
    fn ip(&mut self, w: &mut Walk<'_>, p: IpPacket<'_>) -> Result<(), HeaderError> {
        let Some(frag) = p.fragment else {
            return self.transport(w, p.src, p.dst, p.protocol, p.payload);
        };
        if p.clamped {
            // A fragment missing its tail can never complete a datagram.
            return Err(HeaderError::Short(Layer::Fragment));
        }
        let key = FragmentKey {
            src: p.src,
            dst: p.dst,
            protocol: p.protocol,
            id: frag.id,
        };
        let insert = self
            .defrag
            .insert(w.time, key, frag, p.payload, &mut self.reassembly);
        match insert {
            Err(e) => Err(HeaderError::Invalid(Layer::Fragment, e.reason())),
            Ok(Insert::Held) => {
                w.held = true;
                Ok(())
            }
            Ok(Insert::Complete(buf)) => {
                let cut = std::mem::replace(&mut w.cut, false);
                let walked = match p.src {
                    IpAddr::V4(_) => self.transport(w, p.src, p.dst, p.protocol, &buf),
                    IpAddr::V6(_) => match ip::ipv6_extensions(p.protocol, &buf) {
                        Ok((_, _, Some(_))) => {
                            Err(HeaderError::Invalid(Layer::Ipv6, "nested_fragment"))
                        }
                        Ok((proto, payload, None)) => {
                            self.transport(w, p.src, p.dst, proto, payload)
                        }
                        Err(e) => Err(e),
                    },
                };
                w.cut = cut;
                self.defrag.recycle(buf);
                // The reassembled bytes were complete: short there is broken.
                walked.map_err(|e| match e {
                    HeaderError::Short(l) => HeaderError::Invalid(l, "short"),
                    e => e,
                })
            }
        }
    }

    fn transport(
        &mut self,
        w: &mut Walk<'_>,
        src: IpAddr,
        dst: IpAddr,
        proto: u8,
        payload: &[u8],
    ) -> Result<(), HeaderError> {
        match proto {
            protocol::UDP => self.udp(w, src, dst, payload),
            protocol::TCP => self.tcp(w, src, dst, payload),
            protocol::SCTP => self.sctp(w, src, dst, payload),
            protocol::IPV4_IN_IP => {
                self.tunnel(w, Layer::Ipv4, |d, w| d.network(w, Network::Ipv4(payload)))
            }
            protocol::IPV6_IN_IP => {
                self.tunnel(w, Layer::Ipv6, |d, w| d.network(w, Network::Ipv6(payload)))
            }
            protocol::GRE => match tunnel::parse_gre(payload)? {
                Inner::Ipv4(b) => self.tunnel(w, Layer::Gre, |d, w| d.network(w, Network::Ipv4(b))),
                Inner::Ipv6(b) => self.tunnel(w, Layer::Gre, |d, w| d.network(w, Network::Ipv6(b))),
                Inner::Ethernet(b) => self.tunnel(w, Layer::Gre, |d, w| {
                    let net = link::parse_ethernet(b)?;
                    d.network(w, net)
                }),
                Inner::Other => Ok(()),
            },
            _ => Ok(()),
        }
    }

    /// Runs `inner` one tunnel deeper, or fails at `layer` past the bound.
    fn tunnel(
        &mut self,
        w: &mut Walk<'_>,
        layer: Layer,
        inner: impl FnOnce(&mut Self, &mut Walk<'_>) -> Result<(), HeaderError>,
    ) -> Result<(), HeaderError> {
        if w.depth >= MAX_TUNNEL_DEPTH {
            self.reassembly.tunnel_depth_exceeded += 1;
            return Err(HeaderError::Invalid(layer, "tunnel_too_deep"));
        }
        w.depth += 1;
        let observation = w.observation;
        let walked = inner(self, w);
        w.observation = observation;
        w.depth -= 1;
        walked
    }

    /// UDP header (RFC 768): length ≥ 8 and within the IP payload, whose end
    /// it then sets. GTP-U is decapsulated; anything else goes to the callback.
    fn udp(
        &mut self,
        w: &mut Walk<'_>,
        src: IpAddr,
        dst: IpAddr,
        payload: &[u8],
    ) -> Result<(), HeaderError> {
        let header = payload
            .get(..udp::HEADER_LEN)
            .ok_or(HeaderError::Short(Layer::Udp))?;
        let src_port = be_u16(&header[udp::SRC_PORT]);
        let dst_port = be_u16(&header[udp::DST_PORT]);
        let len = usize::from(be_u16(&header[udp::LENGTH]));
        if len < udp::HEADER_LEN {
            return Err(HeaderError::Invalid(Layer::Udp, "length_below_header"));
        }
        let data = match payload.get(udp::HEADER_LEN..len) {
            Some(d) => d,
            None if w.cut => payload.get(udp::HEADER_LEN..).unwrap_or_default(),
            None => return Err(HeaderError::Invalid(Layer::Udp, "length_past_end")),
        };
        let gtpu_port = self.config.gtpu_port;
        if dst_port == gtpu_port || src_port == gtpu_port {
            return self.gtpu(w, data);
        }
        w.deliver(src, src_port, dst, dst_port, Transport::Udp, data, 0);
        Ok(())
    }

    /// GTPv1-U: a G-PDU's inner IP packet is decoded with the TEID as the
    /// observation point; other messages (echo, end marker, error indication)
    /// are decoded with nothing to deliver.
    fn gtpu(&mut self, w: &mut Walk<'_>, data: &[u8]) -> Result<(), HeaderError> {
        let p = gtpu::Packet::new_checked(data, w.cut)?;
        if p.message_type() != gtpu::MSG_G_PDU {
            w.held = true;
            return Ok(());
        }
        let teid = p.teid();
        let inner = p.payload();
        self.tunnel(w, Layer::GtpU, |d, w| {
            w.observation = Observation::GtpU { teid };
            d.network(w, link::by_version(inner))
        })
    }

    /// TCP: segments of signalling flows go to the stream reassembler, every
    /// PDU it completes to the callback; other TCP is not for us.
    fn tcp(
        &mut self,
        w: &mut Walk<'_>,
        src: IpAddr,
        dst: IpAddr,
        payload: &[u8],
    ) -> Result<(), HeaderError> {
        let h = TcpHeaderSlice::from_slice(payload).map_err(|e| match e {
            TcpSliceError::Len(_) => HeaderError::Short(Layer::Tcp),
            TcpSliceError::Content(_) => HeaderError::Invalid(Layer::Tcp, "data_offset_below_5"),
        })?;
        let data = payload.get(h.slice().len()..).unwrap_or_default();
        let (src_port, dst_port) = (h.source_port(), h.destination_port());
        let src_ep = Endpoint::new(src, src_port);
        let dst_ep = Endpoint::new(dst, dst_port);
        let Some(framing) = self.tcp_framing(w.time, src_ep, dst_ep, data) else {
            return Ok(());
        };
        let flags = TcpFlags {
            syn: h.syn(),
            fin: h.fin(),
            rst: h.rst(),
        };
        let before = w.delivered;
        self.tcp.handle_segment(
            w.time,
            src_ep,
            dst_ep,
            h.sequence_number(),
            flags,
            data,
            framing,
            &mut |pdu| w.deliver(src, src_port, dst, dst_port, Transport::Tcp, pdu, 0),
        );
        if w.delivered == before {
            w.held = true;
        }
        Ok(())
    }

    /// How a TCP flow is framed, if it is a signalling flow: by port, or
    /// because it was seen starting like SIP or with a WebSocket upgrade for
    /// SIP (then remembered).
    fn tcp_framing(
        &mut self,
        now: PacketTime,
        src: Endpoint,
        dst: Endpoint,
        data: &[u8],
    ) -> Option<Framing> {
        let is = |ports: &[u16]| ports.contains(&src.port) || ports.contains(&dst.port);
        if is(&self.config.sip_tcp_ports) {
            return Some(Framing::Sip);
        }
        if is(&self.config.diameter_tcp_ports) {
            return Some(Framing::Diameter);
        }
        let key = flow_key(src, dst);
        if !self.sip_flows.is_empty() {
            if let Some((seen, framing)) = self.sip_flows.get_mut(&key) {
                *seen = now;
                return Some(*framing);
            }
        }
        let framing = if looks_like_sip(data) {
            Framing::Sip
        } else if websocket::is_sip_upgrade_request(data) {
            Framing::WebSocket
        } else {
            return None;
        };
        let max = self.config.max_learned_sip_flows;
        if max == 0 {
            return Some(framing);
        }
        if self.sip_flows.len() >= max {
            let oldest = self
                .sip_flows
                .iter()
                .min_by_key(|(_, (t, _))| *t)
                .map(|(k, _)| *k);
            if let Some(k) = oldest {
                self.sip_flows.remove(&k);
                self.reassembly.sip_tcp_flows_evicted += 1;
            }
        }
        self.sip_flows.insert(key, (now, framing));
        self.reassembly.sip_tcp_flows_learned += 1;
        Some(framing)
    }

    /// SCTP: the whole packet goes to the SCTP reassembler, every user
    /// message it completes to the callback.
    fn sctp(
        &mut self,
        w: &mut Walk<'_>,
        src: IpAddr,
        dst: IpAddr,
        payload: &[u8],
    ) -> Result<(), HeaderError> {
        let before = w.delivered;
        let handled = self
            .sctp
            .handle_packet(w.time, src, dst, payload, &mut |m: &SctpMessage<'_>| {
                w.deliver(
                    src,
                    m.src_port,
                    dst,
                    m.dst_port,
                    Transport::Sctp,
                    m.data,
                    m.ppid,
                )
            });
        if let Err(e) = handled {
            return Err(if e == SctpError::TooShort {
                HeaderError::Short(Layer::Sctp)
            } else if w.cut {
                // A chunk running past the captured bytes of a cut frame.
                HeaderError::Short(Layer::Sctp)
            } else {
                HeaderError::Invalid(Layer::Sctp, "bad_chunk")
            });
        }
        if w.delivered == before && has_data_chunk(payload) {
            w.held = true;
        }
        Ok(())
    }
}

/// Whether an SCTP packet carries a DATA or I-DATA chunk (user data the
/// reassembler holds when it completes no message). Walks chunk headers only.
fn has_data_chunk(packet: &[u8]) -> bool {
    let mut at = sctp_scan::COMMON_HEADER_LEN;
    while let Some(chunk) = packet.get(at..at + sctp_scan::CHUNK_HEADER_LEN) {
        if chunk[0] == sctp_scan::DATA || chunk[0] == sctp_scan::I_DATA {
            return true;
        }
        let len = usize::from(be_u16(&chunk[2..4]));
        if len < sctp_scan::CHUNK_HEADER_LEN {
            return false;
        }
        // Chunks are padded to 4 bytes.
        at += (len + 3) & !3;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    /// What the callback was given, owned.
    #[derive(Clone, Debug, PartialEq, Eq)]
    struct Got {
        frame: u64,
        src: Endpoint,
        dst: Endpoint,
        transport: Transport,
        observation: Observation,
        payload: Vec<u8>,
        ppid: u32,
    }

    fn hex(parts: &[&str]) -> Vec<u8> {
        let s: String = parts.concat();
        (0..s.len() / 2)
            .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap())
            .collect()
    }

    fn frame(link: LinkType, data: &[u8], orig_len: usize, number: u64) -> Frame<'_> {
        Frame {
            data,
            time: PacketTime::from_parts(1_000 + number as i64, 0),
            orig_len: orig_len as u32,
            link,
            interface: 0,
            number,
        }
    }

    /// Decodes `data` as a whole frame; the callback answers `verdict`.
    fn run(
        d: &mut Decoder,
        link: LinkType,
        data: &[u8],
        number: u64,
        verdict: Verdict,
    ) -> (FrameClass, Vec<Got>) {
        run_frame(d, &frame(link, data, data.len(), number), verdict)
    }

    fn run_frame(d: &mut Decoder, f: &Frame<'_>, verdict: Verdict) -> (FrameClass, Vec<Got>) {
        let mut got = Vec::new();
        let class = d.decode(f, &mut |dg| {
            got.push(Got {
                frame: dg.frame,
                src: dg.src,
                dst: dg.dst,
                transport: dg.transport,
                observation: dg.observation,
                payload: dg.payload.to_vec(),
                ppid: dg.sctp_ppid,
            });
            verdict
        });
        (class, got)
    }

    fn decoder() -> Decoder {
        Decoder::new(DecoderConfig::default())
    }

    fn invariant(d: &Decoder) {
        let c = d.counters();
        assert_eq!(
            c.total,
            c.decoded + c.not_for_us + c.malformed_total() + c.truncated_total()
        );
    }

    // Made-up frame builders (checksums left zero: the decoder does not check them).

    fn eth(ty: u16, payload: &[u8]) -> Vec<u8> {
        let mut f = vec![0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2];
        f.extend_from_slice(&ty.to_be_bytes());
        f.extend_from_slice(payload);
        f
    }

    const A4: [u8; 4] = [192, 0, 2, 1];
    const B4: [u8; 4] = [192, 0, 2, 2];

    fn ipv4(proto: u8, id: u16, frag: u16, payload: &[u8]) -> Vec<u8> {
        let total = (20 + payload.len()) as u16;
        let mut p = vec![0x45, 0];
        p.extend_from_slice(&total.to_be_bytes());
        p.extend_from_slice(&id.to_be_bytes());
        p.extend_from_slice(&frag.to_be_bytes());
        p.extend_from_slice(&[64, proto, 0, 0]);
        p.extend_from_slice(&A4);
        p.extend_from_slice(&B4);
        p.extend_from_slice(payload);
        p
    }

    fn ipv6(next: u8, payload: &[u8]) -> Vec<u8> {
        let mut p = vec![0x60, 0, 0, 0];
        p.extend_from_slice(&(payload.len() as u16).to_be_bytes());
        p.extend_from_slice(&[next, 64]);
        p.extend_from_slice(&Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1).octets());
        p.extend_from_slice(&Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2).octets());
        p.extend_from_slice(payload);
        p
    }

    fn udp(sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
        let mut p = Vec::new();
        p.extend_from_slice(&sport.to_be_bytes());
        p.extend_from_slice(&dport.to_be_bytes());
        p.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
        p.extend_from_slice(&[0, 0]);
        p.extend_from_slice(payload);
        p
    }

    fn tcp(sport: u16, dport: u16, seq: u32, payload: &[u8]) -> Vec<u8> {
        let mut p = Vec::new();
        p.extend_from_slice(&sport.to_be_bytes());
        p.extend_from_slice(&dport.to_be_bytes());
        p.extend_from_slice(&seq.to_be_bytes());
        p.extend_from_slice(&[0, 0, 0, 0, 0x50, 0x18, 0xff, 0xff, 0, 0, 0, 0]);
        p.extend_from_slice(payload);
        p
    }

    fn gtpu_gpdu(teid: u32, inner: &[u8]) -> Vec<u8> {
        let mut p = vec![0x30, 0xff];
        p.extend_from_slice(&(inner.len() as u16).to_be_bytes());
        p.extend_from_slice(&teid.to_be_bytes());
        p.extend_from_slice(inner);
        p
    }

    fn ep(ip: [u8; 4], port: u16) -> Endpoint {
        Endpoint::new(IpAddr::V4(Ipv4Addr::from(ip)), port)
    }

    /// `sip-rtp/sip-rtp-g711-pcmu-pcma-2calls.pcap` frame 3: Ethernet, IPv4
    /// 10.0.2.15 → 10.0.2.15, UDP 27942 → 27942, 5 bytes `TEST\0`.
    const G711_FRAME_3: &[&str] = &[
        "000000000000000000000000080045000021bf3a4000401163740a00020f0a00020f6d266d26000d183c5445535400",
    ];

    #[test]
    fn plain_udp_classes_follow_the_verdict() {
        let f = hex(G711_FRAME_3);
        let mut d = decoder();
        let (class, got) = run(&mut d, LinkType::Ethernet, &f, 3, Verdict::Ours);
        assert_eq!(class, FrameClass::Decoded);
        assert_eq!(
            got,
            vec![Got {
                frame: 3,
                src: ep([10, 0, 2, 15], 27942),
                dst: ep([10, 0, 2, 15], 27942),
                transport: Transport::Udp,
                observation: Observation::Plain,
                payload: b"TEST\0".to_vec(),
                ppid: 0,
            }]
        );
        assert_eq!(
            run(&mut d, LinkType::Ethernet, &f, 4, Verdict::NotForUs).0,
            FrameClass::NotForUs
        );
        assert_eq!(
            run(
                &mut d,
                LinkType::Ethernet,
                &f,
                5,
                Verdict::Malformed(Layer::Rtp)
            )
            .0,
            FrameClass::Malformed(Layer::Rtp)
        );
        let c = d.counters();
        assert_eq!(
            (c.total, c.decoded, c.not_for_us, c.malformed(Layer::Rtp)),
            (3, 1, 1, 1)
        );
        invariant(&d);
    }

    #[test]
    fn ethernet_padding_excluded_from_udp_payload() {
        let mut f = eth(0x0800, &ipv4(17, 1, 0, &udp(1000, 2000, b"hi")));
        f.extend_from_slice(&[0; 20]);
        let (class, got) = run(&mut decoder(), LinkType::Ethernet, &f, 1, Verdict::Ours);
        assert_eq!(class, FrameClass::Decoded);
        assert_eq!(got[0].payload, b"hi");
    }

    /// `odd/qinq-sap-sdp.pcap` frame 1: VLAN 13, VLAN 10, IPv4
    /// 172.19.51.37 → 172.19.51.63, UDP 47808 → 47808 (BACnet), 18 bytes.
    #[test]
    fn qinq_frame_from_capture() {
        let f = hex(&[
            "ffffffffffff00c0e4012ced8100000d8100000a08004500002e479600004011749eac133325ac13333fbac0bac0001a",
            "b9da810b00120120ffff00ff10080a1b591a1b59",
        ]);
        let (class, got) = run(&mut decoder(), LinkType::Ethernet, &f, 1, Verdict::NotForUs);
        assert_eq!(class, FrameClass::NotForUs);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].src, ep([172, 19, 51, 37], 47808));
        assert_eq!(got[0].payload.len(), 18);
    }

    /// `gtp/gtpu-ipv6-inner-qinq.pcap` frame 1: QinQ (VLAN 3233, 5), IPv4
    /// 10.238.80.26 → 10.238.254.75, UDP 2152, GTP-U G-PDU TEID 0x12808fb8,
    /// inner IPv6 UDP 52 bytes (8-byte header + 44 bytes).
    #[test]
    fn gtpu_inner_ipv6_from_capture_tagged_with_teid() {
        let f = hex(&[
            "00000000000234b35407ca5681000ca18100600508004568008068490000ff11ee790aee501a0aeefe4b08680868006c",
            "000030ff005c12808fb86008b852003411402607fc204052039e490aea4d17fee09cfd00976abc67193e000000000000",
            "0007bfe0643a00343748806e1597c35ac22f32b5ab35f3f8171e4e61ee025025e03ece7388f973f214ffdbb74b976c6d",
            "a896cf2e4ac4",
        ]);
        let (class, got) = run(&mut decoder(), LinkType::Ethernet, &f, 1, Verdict::Ours);
        assert_eq!(class, FrameClass::Decoded);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].observation, Observation::GtpU { teid: 0x1280_8fb8 });
        assert_eq!(got[0].transport, Transport::Udp);
        assert!(got[0].src.ip.is_ipv6());
        assert_eq!(got[0].payload.len(), 44);
    }

    /// `odd/linux-sll2-icmp-arp.pcap` frame 1: SLL2, IPv4, ICMP echo request.
    #[test]
    fn sll2_icmp_is_not_for_us() {
        let f = hex(&[
            "080000000000000103040006000000000000000045000054af8c40004001071ac0000201c0000201080066b400080001",
            "e9bdf96200000000e24e0d0000000000101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f",
            "3031323334353637",
        ]);
        let mut d = decoder();
        let (class, got) = run(&mut d, LinkType::LinuxSll2, &f, 1, Verdict::Ours);
        assert_eq!((class, got.len()), (FrameClass::NotForUs, 0));
        // ARP on Ethernet, STP in 802.3: not for us either.
        let arp = eth(0x0806, &[0; 28]);
        assert_eq!(
            run(&mut d, LinkType::Ethernet, &arp, 2, Verdict::Ours).0,
            FrameClass::NotForUs
        );
        invariant(&d);
    }

    #[test]
    fn null_sll_and_raw_links_deliver() {
        let packet = ipv4(17, 1, 0, &udp(5060, 5060, b"OPTIONS"));
        let mut d = decoder();
        let mut null = vec![2, 0, 0, 0];
        null.extend_from_slice(&packet);
        assert_eq!(
            run(&mut d, LinkType::Null, &null, 1, Verdict::Ours).0,
            FrameClass::Decoded
        );
        let mut sll = vec![0, 0, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0, 0x08, 0x00];
        sll.extend_from_slice(&packet);
        assert_eq!(
            run(&mut d, LinkType::LinuxSll, &sll, 2, Verdict::Ours).0,
            FrameClass::Decoded
        );
        assert_eq!(
            run(&mut d, LinkType::RawIp, &packet, 3, Verdict::Ours).0,
            FrameClass::Decoded
        );
        assert_eq!(
            run(&mut d, LinkType::Ipv4, &packet, 4, Verdict::Ours).0,
            FrameClass::Decoded
        );
        let v6 = ipv6(17, &udp(5060, 5060, b"OPTIONS"));
        assert_eq!(
            run(&mut d, LinkType::Ipv6, &v6, 5, Verdict::Ours).0,
            FrameClass::Decoded
        );
        assert_eq!(d.counters().decoded, 5);
    }

    #[test]
    fn unsupported_link_is_counted_not_for_us() {
        let mut d = decoder();
        assert_eq!(
            run(&mut d, LinkType::Unknown(147), &[1, 2, 3], 1, Verdict::Ours).0,
            FrameClass::NotForUs
        );
        assert_eq!(
            (d.counters().unsupported_link, d.counters().not_for_us),
            (1, 1)
        );
    }

    #[test]
    fn broken_headers_are_malformed_by_layer() {
        let mut d = decoder();
        let mut bad_ihl = eth(0x0800, &ipv4(17, 1, 0, &udp(1, 2, b"x")));
        bad_ihl[14] = 0x44;
        assert_eq!(
            run(&mut d, LinkType::Ethernet, &bad_ihl, 1, Verdict::Ours).0,
            FrameClass::Malformed(Layer::Ipv4)
        );
        let mut past_end = eth(0x0800, &ipv4(17, 1, 0, &udp(1, 2, b"x")));
        past_end[17] += 1; // total length one past the bytes
        assert_eq!(
            run(&mut d, LinkType::Ethernet, &past_end, 2, Verdict::Ours).0,
            FrameClass::Malformed(Layer::Ipv4)
        );
        let mut udp_len = udp(1, 2, b"x");
        udp_len[5] = 7;
        let f = eth(0x0800, &ipv4(17, 1, 0, &udp_len));
        assert_eq!(
            run(&mut d, LinkType::Ethernet, &f, 3, Verdict::Ours).0,
            FrameClass::Malformed(Layer::Udp)
        );
        udp_len[5] = 20;
        let f = eth(0x0800, &ipv4(17, 1, 0, &udp_len));
        assert_eq!(
            run(&mut d, LinkType::Ethernet, &f, 4, Verdict::Ours).0,
            FrameClass::Malformed(Layer::Udp)
        );
        let mut bad_tcp = tcp(5060, 5060, 1, b"INVITE ");
        bad_tcp[12] = 0x40; // data offset 4
        let f = eth(0x0800, &ipv4(6, 1, 0, &bad_tcp));
        assert_eq!(
            run(&mut d, LinkType::Ethernet, &f, 5, Verdict::Ours).0,
            FrameClass::Malformed(Layer::Tcp)
        );
        // A header short on a frame captured whole is malformed, not truncated.
        let f = eth(0x0800, &[0x45, 0, 0]);
        assert_eq!(
            run(&mut d, LinkType::Ethernet, &f, 6, Verdict::Ours).0,
            FrameClass::Malformed(Layer::Ipv4)
        );
        assert_eq!(d.counters().malformed_total(), 6);
        invariant(&d);
    }

    /// `odd/snaplen-truncated-tcp.pcap` frame 1 (68 of 74 bytes: the TCP
    /// header with options is cut) and frame 3 (54 of 60 bytes: only the
    /// Ethernet padding is cut; SMTP port 25 is not for us).
    #[test]
    fn snaplen_cut_header_is_truncated() {
        let f1 = hex(&[
            "eaf61c2d9fd2800b983bb9ec08004500003c38e0400033060ce2c9ba9d4380031af9ed9b00193e1775de00000000a0c2",
            "16d090d60000020405b404020808000000010000",
        ]);
        let f3 = hex(&[
            "eaf61c2d9fd2800b983bb9ec080045000028658e40003306e047c9ba9d4380031af9ed9b00193e1775df40f952535010",
            "16d062120000",
        ]);
        let mut d = decoder();
        let (class, _) = run_frame(
            &mut d,
            &frame(LinkType::Ethernet, &f1, 74, 1),
            Verdict::Ours,
        );
        assert_eq!(class, FrameClass::Truncated(Layer::Tcp));
        let (class, _) = run_frame(
            &mut d,
            &frame(LinkType::Ethernet, &f3, 60, 3),
            Verdict::Ours,
        );
        assert_eq!(class, FrameClass::NotForUs);
        // Cut inside the IPv4 header.
        let (class, _) = run_frame(
            &mut d,
            &frame(LinkType::Ethernet, &f1[..20], 74, 4),
            Verdict::Ours,
        );
        assert_eq!(class, FrameClass::Truncated(Layer::Ipv4));
        // Cut inside the Ethernet header.
        let (class, _) = run_frame(
            &mut d,
            &frame(LinkType::Ethernet, &f1[..10], 74, 5),
            Verdict::Ours,
        );
        assert_eq!(class, FrameClass::Truncated(Layer::Link));
        assert_eq!(d.counters().truncated_total(), 3);
        invariant(&d);
    }

    #[test]
    fn snaplen_cut_udp_payload_is_delivered_as_captured() {
        let f = eth(0x0800, &ipv4(17, 1, 0, &udp(4000, 4002, &[0x80; 172])));
        let cut = &f[..14 + 20 + 8 + 12];
        let (class, got) = run_frame(
            &mut decoder(),
            &frame(LinkType::Ethernet, cut, f.len(), 1),
            Verdict::Ours,
        );
        assert_eq!(class, FrameClass::Decoded);
        assert_eq!(got[0].payload.len(), 12);
    }

    /// Made up: a 40-byte UDP datagram (8 + 32) in IPv4 fragments of 24 and
    /// 16 bytes, delivered whole once, with the completing frame's number.
    #[test]
    fn ipv4_fragments_in_and_out_of_order() {
        let dgram = udp(5060, 5060, &[b'x'; 32]);
        let first = eth(0x0800, &ipv4(17, 7, 0x2000, &dgram[..24]));
        let second = eth(0x0800, &ipv4(17, 7, 3, &dgram[24..]));
        for (a, b) in [(&first, &second), (&second, &first)] {
            let mut d = decoder();
            let (class, got) = run(&mut d, LinkType::Ethernet, a, 1, Verdict::Ours);
            assert_eq!((class, got.len()), (FrameClass::Decoded, 0));
            let (class, got) = run(&mut d, LinkType::Ethernet, b, 2, Verdict::Ours);
            assert_eq!(class, FrameClass::Decoded);
            assert_eq!(got.len(), 1);
            assert_eq!(
                (got[0].frame, got[0].payload.as_slice()),
                (2, &[b'x'; 32][..])
            );
            assert_eq!(
                (
                    d.reassembly_counters().fragments,
                    d.reassembly_counters().reassembled
                ),
                (2, 1)
            );
            invariant(&d);
        }
    }

    #[test]
    fn overlapping_fragment_is_malformed_and_counted() {
        let dgram = udp(5060, 5060, &[b'x'; 32]);
        let mut d = decoder();
        run(
            &mut d,
            LinkType::Ethernet,
            &eth(0x0800, &ipv4(17, 7, 0x2000, &dgram[..24])),
            1,
            Verdict::Ours,
        );
        let (class, _) = run(
            &mut d,
            LinkType::Ethernet,
            &eth(0x0800, &ipv4(17, 7, 2, &dgram[16..])),
            2,
            Verdict::Ours,
        );
        assert_eq!(class, FrameClass::Malformed(Layer::Fragment));
        assert_eq!(d.reassembly_counters().dropped_overlap, 1);
        invariant(&d);
    }

    #[test]
    fn fragment_timeout_via_handle_timeout() {
        let dgram = udp(5060, 5060, &[b'x'; 32]);
        let mut d = decoder();
        run(
            &mut d,
            LinkType::Ethernet,
            &eth(0x0800, &ipv4(17, 7, 0x2000, &dgram[..24])),
            1,
            Verdict::Ours,
        );
        d.handle_timeout(PacketTime::from_parts(1_001 + 31, 0));
        assert_eq!(d.reassembly_counters().dropped_timeout, 1);
        let (class, got) = run(
            &mut d,
            LinkType::Ethernet,
            &eth(0x0800, &ipv4(17, 7, 3, &dgram[24..])),
            40,
            Verdict::Ours,
        );
        assert_eq!((class, got.len()), (FrameClass::Decoded, 0));
    }

    /// Made up: IPv6 fragments with a destination options header inside the
    /// fragmentable part, out of order.
    #[test]
    fn ipv6_fragments_reassembled() {
        let mut frag_part = vec![17, 0, 1, 4, 0, 0, 0, 0]; // dest opts → UDP
        frag_part.extend_from_slice(&udp(5060, 5060, &[b'y'; 24]));
        // 40 bytes: 16 + 24.
        let fh = |off: u16, more: bool| {
            let v = off | u16::from(more);
            let mut h = vec![60, 0];
            h.extend_from_slice(&v.to_be_bytes());
            h.extend_from_slice(&0xb064_7780u32.to_be_bytes());
            h
        };
        let mut a = fh(0, true);
        a.extend_from_slice(&frag_part[..16]);
        let mut b = fh(16, false);
        b.extend_from_slice(&frag_part[16..]);
        let mut d = decoder();
        let (class, got) = run(
            &mut d,
            LinkType::Ethernet,
            &eth(0x86dd, &ipv6(44, &b)),
            1,
            Verdict::Ours,
        );
        assert_eq!((class, got.len()), (FrameClass::Decoded, 0));
        let (class, got) = run(
            &mut d,
            LinkType::Ethernet,
            &eth(0x86dd, &ipv6(44, &a)),
            2,
            Verdict::Ours,
        );
        assert_eq!(class, FrameClass::Decoded);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].payload, vec![b'y'; 24]);
    }

    /// `gtp/gtpu-v1-ip-fragmented.pcap` frames 4 (first fragment, 1514 bytes)
    /// and 5 (last fragment, 16 bytes + padding): outer IPv4 239.114.155.111 →
    /// 63.94.149.181 id 0x2cf1, UDP 2152, GTP-U TEID 0x8c61be36, inner IPv4
    /// TCP 1923 → 80 (HTTP): decoded, nothing delivered, not for us.
    #[test]
    fn gtpu_over_fragmented_ipv4_from_capture() {
        let f4 = hex(FRAME_4);
        let f5 = hex(&[
            "00000c07ace888e0f3c8bff00800450000242cf100b93d11f029ef729b6f3f5e95b5516e5a4855336470534846315a33",
            "4d4c00000000000000000000",
        ]);
        let mut d = decoder();
        let (class, got) = run(&mut d, LinkType::Ethernet, &f4, 4, Verdict::Ours);
        assert_eq!((class, got.len()), (FrameClass::Decoded, 0));
        let (class, got) = run(&mut d, LinkType::Ethernet, &f5, 5, Verdict::Ours);
        assert_eq!((class, got.len()), (FrameClass::NotForUs, 0));
        assert_eq!(d.reassembly_counters().reassembled, 1);
        invariant(&d);
    }

    #[test]
    fn gtpu_with_extension_and_control_messages() {
        // Made up (TS 29.281 §5.2): E flag, PDU session container, inner IPv4 UDP RTP.
        let inner = ipv4(17, 1, 0, &udp(50000, 50002, &[0x80; 12]));
        let mut g = vec![0x34, 0xff];
        g.extend_from_slice(&((8 + inner.len()) as u16).to_be_bytes());
        g.extend_from_slice(&0x0102_0304u32.to_be_bytes());
        g.extend_from_slice(&[0, 0, 0, 0x85, 0x01, 0x00, 0x09, 0x00]);
        g.extend_from_slice(&inner);
        let f = eth(0x0800, &ipv4(17, 2, 0, &udp(2152, 2152, &g)));
        let mut d = decoder();
        let (class, got) = run(&mut d, LinkType::Ethernet, &f, 1, Verdict::Ours);
        assert_eq!(class, FrameClass::Decoded);
        assert_eq!(got[0].observation, Observation::GtpU { teid: 0x0102_0304 });
        assert_eq!(got[0].dst.port, 50002);
        // Echo request: decoded, no callback.
        let echo = [0x32, 0x01, 0x00, 0x04, 0, 0, 0, 0, 0x00, 0x01, 0, 0];
        let f = eth(0x0800, &ipv4(17, 3, 0, &udp(2152, 2152, &echo)));
        let (class, got) = run(&mut d, LinkType::Ethernet, &f, 2, Verdict::Ours);
        assert_eq!((class, got.len()), (FrameClass::Decoded, 0));
        // Version 2 on the GTP-U port: malformed.
        let f = eth(
            0x0800,
            &ipv4(17, 3, 0, &udp(2152, 2152, &[0x48, 0x20, 0, 4, 0, 0, 0, 0])),
        );
        assert_eq!(
            run(&mut d, LinkType::Ethernet, &f, 3, Verdict::Ours).0,
            FrameClass::Malformed(Layer::GtpU)
        );
    }

    #[test]
    fn gre_teb_and_erspan_carry_inner_ethernet() {
        let inner = eth(
            0x0800,
            &ipv4(17, 1, 0, &udp(5060, 5060, b"SIP/2.0 200 OK\r\n")),
        );
        let mut teb = vec![0x20, 0x00, 0x65, 0x58, 0, 0, 0, 0];
        teb.extend_from_slice(&inner);
        let mut erspan2 = vec![
            0x10, 0x00, 0x88, 0xbe, 0, 0, 0, 1, 0x10, 0, 0, 1, 0, 0, 0, 0,
        ];
        erspan2.extend_from_slice(&inner);
        let mut erspan3 = vec![0x10, 0x00, 0x22, 0xeb, 0, 0, 0, 1];
        erspan3.extend_from_slice(&[0x20, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0]);
        erspan3.extend_from_slice(&inner);
        let mut d = decoder();
        for (n, gre) in [teb, erspan2, erspan3].iter().enumerate() {
            let f = eth(0x0800, &ipv4(47, 1, 0, gre));
            let (class, got) = run(&mut d, LinkType::Ethernet, &f, n as u64, Verdict::Ours);
            assert_eq!(class, FrameClass::Decoded, "case {n}");
            assert_eq!(got[0].payload, b"SIP/2.0 200 OK\r\n");
            assert_eq!(got[0].observation, Observation::Plain);
        }
        let f = eth(
            0x0800,
            &ipv4(47, 1, 0, &[0x10, 0x00, 0x88, 0xbe, 0, 0, 0, 1, 0x20]),
        );
        assert_eq!(
            run(&mut d, LinkType::Ethernet, &f, 9, Verdict::Ours).0,
            FrameClass::Malformed(Layer::Erspan)
        );
    }

    #[test]
    fn ip_in_ip_and_nesting_bound() {
        let mut packet = ipv4(17, 1, 0, &udp(5060, 5060, b"BYE sip:a SIP/2.0\r\n"));
        let mut d = decoder();
        for depth in 1..=MAX_TUNNEL_DEPTH + 1 {
            packet = ipv4(4, 1, 0, &packet);
            let (class, got) = run(
                &mut d,
                LinkType::Ethernet,
                &eth(0x0800, &packet),
                depth as u64,
                Verdict::Ours,
            );
            if depth <= MAX_TUNNEL_DEPTH {
                assert_eq!(
                    (class, got.len()),
                    (FrameClass::Decoded, 1),
                    "depth {depth}"
                );
            } else {
                assert_eq!((class, got.len()), (FrameClass::Malformed(Layer::Ipv4), 0));
            }
        }
        assert_eq!(d.reassembly_counters().tunnel_depth_exceeded, 1);
        // IPv6 in IPv4 (6in4, protocol 41).
        let v6 = ipv6(17, &udp(5060, 5060, b"ACK sip:a SIP/2.0\r\n"));
        let f = eth(0x0800, &ipv4(41, 1, 0, &v6));
        let (class, got) = run(&mut d, LinkType::Ethernet, &f, 10, Verdict::Ours);
        assert_eq!((class, got.len()), (FrameClass::Decoded, 1));
    }

    /// The TCP reassembler decides when a PDU is complete; a segment that
    /// completes none is held (decoded). These segments are incomplete SIP
    /// messages (no empty line), so no PDU comes out whatever its framing.
    #[test]
    fn tcp_signalling_ports_and_learned_sip_flows() {
        let mut d = decoder();
        let f = eth(
            0x0800,
            &ipv4(6, 1, 0, &tcp(40000, 5060, 1, b"INVITE sip:a SIP/2.0\r\n")),
        );
        assert_eq!(
            run(&mut d, LinkType::Ethernet, &f, 1, Verdict::Ours).0,
            FrameClass::Decoded
        );
        let f = eth(0x0800, &ipv4(6, 1, 0, &tcp(40000, 3868, 1, &[1, 0, 0])));
        assert_eq!(
            run(&mut d, LinkType::Ethernet, &f, 2, Verdict::Ours).0,
            FrameClass::Decoded
        );
        let f = eth(
            0x0800,
            &ipv4(6, 1, 0, &tcp(40000, 80, 1, b"GET / HTTP/1.1\r\n")),
        );
        assert_eq!(
            run(&mut d, LinkType::Ethernet, &f, 3, Verdict::Ours).0,
            FrameClass::NotForUs
        );
        // Port 6060 (not configured) but the segment starts like SIP: learned,
        // and the flow's next segment (either direction) follows it.
        let f = eth(
            0x0800,
            &ipv4(6, 1, 0, &tcp(40000, 6060, 1, b"INVITE sip:a SIP/2.0\r\n")),
        );
        assert_eq!(
            run(&mut d, LinkType::Ethernet, &f, 4, Verdict::Ours).0,
            FrameClass::Decoded
        );
        let mut back = tcp(6060, 40000, 9, b"Via: x\r\n");
        back.truncate(back.len());
        let mut p = ipv4(6, 1, 0, &back);
        p[12..16].copy_from_slice(&B4);
        p[16..20].copy_from_slice(&A4);
        assert_eq!(
            run(
                &mut d,
                LinkType::Ethernet,
                &eth(0x0800, &p),
                5,
                Verdict::Ours
            )
            .0,
            FrameClass::Decoded
        );
        assert_eq!(d.reassembly_counters().sip_tcp_flows_learned, 1);
        invariant(&d);
    }

    #[test]
    fn sip_flow_table_is_bounded() {
        let mut d = Decoder::new(DecoderConfig {
            max_learned_sip_flows: 2,
            ..DecoderConfig::default()
        });
        for port in 0..3u16 {
            let f = eth(
                0x0800,
                &ipv4(
                    6,
                    1,
                    0,
                    &tcp(40000 + port, 6060, 1, b"OPTIONS sip:a SIP/2.0\r\n"),
                ),
            );
            run(
                &mut d,
                LinkType::Ethernet,
                &f,
                u64::from(port),
                Verdict::Ours,
            );
        }
        assert_eq!(d.sip_flows.len(), 2);
        assert_eq!(d.reassembly_counters().sip_tcp_flows_evicted, 1);
        d.handle_timeout(PacketTime::from_parts(1_000_000, 0));
        assert!(d.sip_flows.is_empty());
    }

    /// Made up (RFC 7118 §4): a WebSocket upgrade for SIP on port 8080 is
    /// learned as a WebSocket flow; one without the `sip` subprotocol is not.
    #[test]
    fn websocket_upgrade_for_sip_is_learned_on_any_port() {
        let mut d = decoder();
        let get = b"GET / HTTP/1.1\r\nUpgrade: websocket\r\nSec-WebSocket-Protocol: sip\r\n\r\n";
        let f = eth(0x0800, &ipv4(6, 1, 0, &tcp(43380, 8080, 1, get)));
        assert_eq!(
            run(&mut d, LinkType::Ethernet, &f, 1, Verdict::Ours).0,
            FrameClass::Decoded
        );
        assert_eq!(
            d.sip_flows.values().next().map(|v| v.1),
            Some(Framing::WebSocket)
        );
        assert_eq!(d.tcp_counters().websocket_handshakes, 1);
        let chat = b"GET / HTTP/1.1\r\nUpgrade: websocket\r\nSec-WebSocket-Protocol: chat\r\n\r\n";
        let f = eth(0x0800, &ipv4(6, 1, 0, &tcp(43381, 8080, 1, chat)));
        assert_eq!(
            run(&mut d, LinkType::Ethernet, &f, 2, Verdict::Ours).0,
            FrameClass::NotForUs
        );
        assert_eq!(d.sip_flows.len(), 1);
        invariant(&d);
    }

    /// Made up (RFC 9260 §3.3.1): SCTP common header + a DATA chunk with only
    /// the B flag (first fragment of a user message): held, so decoded. A
    /// packet with only a SACK chunk holds nothing: not for us.
    #[test]
    fn sctp_data_is_held_and_sack_is_not_for_us() {
        let mut sctp = vec![0x0f, 0x1c, 0x0f, 0x1c, 0, 0, 0, 1, 0, 0, 0, 0];
        sctp.extend_from_slice(&[0x00, 0x02, 0x00, 0x14, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 46]);
        sctp.extend_from_slice(&[1, 0, 0, 0]);
        let mut d = decoder();
        let f = eth(0x0800, &ipv4(132, 1, 0, &sctp));
        assert_eq!(
            run(&mut d, LinkType::Ethernet, &f, 1, Verdict::Ours).0,
            FrameClass::Decoded
        );
        let mut sack = vec![0x0f, 0x1c, 0x0f, 0x1c, 0, 0, 0, 1, 0, 0, 0, 0];
        sack.extend_from_slice(&[
            0x03, 0x00, 0x00, 0x10, 0, 0, 0, 1, 0, 0, 0xff, 0xff, 0, 0, 0, 0,
        ]);
        let f = eth(0x0800, &ipv4(132, 1, 0, &sack));
        assert_eq!(
            run(&mut d, LinkType::Ethernet, &f, 2, Verdict::Ours).0,
            FrameClass::NotForUs
        );
        assert!(has_data_chunk(&sctp));
        assert!(!has_data_chunk(&sack));
        assert!(!has_data_chunk(&[0; 13]));
        // A zero chunk length ends the scan.
        assert!(!has_data_chunk(&[
            0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0
        ]));
    }

    #[test]
    fn never_panics_on_prefixes_of_valid_frames() {
        let inner = eth(
            0x0800,
            &ipv4(17, 1, 0, &udp(5060, 5060, b"SIP/2.0 200 OK\r\n")),
        );
        let mut gre = vec![0x10, 0x00, 0x22, 0xeb, 0, 0, 0, 1];
        gre.extend_from_slice(&[
            0x20, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0,
        ]);
        gre.extend_from_slice(&inner);
        let frames = [
            eth(0x0800, &ipv4(47, 1, 0, &gre)),
            eth(
                0x0800,
                &ipv4(
                    17,
                    2,
                    0,
                    &udp(
                        2152,
                        2152,
                        &gtpu_gpdu(9, &ipv4(6, 1, 0, &tcp(1, 5060, 1, b"INVITE x"))),
                    ),
                ),
            ),
            eth(
                0x86dd,
                &ipv6(44, &[17, 0, 0, 1, 0, 0, 0, 1, 1, 2, 3, 4, 5, 6, 7, 8]),
            ),
            hex(FRAME_4),
        ];
        let mut d = decoder();
        let mut n = 0;
        for f in &frames {
            for len in 0..=f.len() {
                for link in [
                    LinkType::Ethernet,
                    LinkType::LinuxSll,
                    LinkType::Null,
                    LinkType::RawIp,
                ] {
                    for orig in [len, f.len()] {
                        n += 1;
                        run_frame(&mut d, &frame(link, &f[..len], orig, n), Verdict::Ours);
                    }
                }
            }
        }
        assert_eq!(d.counters().total, n);
        invariant(&d);
    }

    /// Made-up mutations: valid frames with random bytes overwritten,
    /// decoded twice each (to meet reassembly state) under every link type.
    #[test]
    fn never_panics_on_mutated_frames() {
        let inner = eth(
            0x0800,
            &ipv4(17, 1, 0, &udp(5060, 5060, b"SIP/2.0 200 OK\r\n")),
        );
        let mut gre = vec![0xb0, 0x00, 0x88, 0xbe, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
        gre.extend_from_slice(&[0x10, 0, 0, 1, 0, 0, 0, 0]);
        gre.extend_from_slice(&inner);
        let dgram = udp(5060, 5060, &[b'x'; 32]);
        let seeds = [
            eth(0x0800, &ipv4(47, 1, 0, &gre)),
            eth(
                0x8100,
                &[
                    &[0, 1, 0x88, 0x64, 0x11, 0, 0, 1, 0, 40, 0, 0x21][..],
                    &ipv4(17, 1, 0, &udp(1, 2, &[0; 18])),
                ]
                .concat(),
            ),
            eth(0x0800, &ipv4(17, 7, 0x2000, &dgram[..24])),
            eth(
                0x86dd,
                &ipv6(44, &[17, 0, 0, 1, 0, 0, 0, 1, 1, 2, 3, 4, 5, 6, 7, 8]),
            ),
            eth(
                0x0800,
                &ipv4(
                    17,
                    2,
                    0,
                    &udp(
                        2152,
                        2152,
                        &gtpu_gpdu(
                            9,
                            &ipv4(4, 1, 0, &ipv4(6, 1, 0, &tcp(1, 5060, 1, b"INVITE x"))),
                        ),
                    ),
                ),
            ),
            eth(
                0x0800,
                &ipv4(
                    132,
                    1,
                    0,
                    &[
                        0x0f, 0x1c, 0x0f, 0x1c, 0, 0, 0, 1, 0, 0, 0, 0, 0, 3, 0, 20, 0, 0, 0, 1, 0,
                        0, 0, 0, 0, 0, 0, 46, 1, 0, 0, 0,
                    ],
                ),
            ),
        ];
        let links = [
            LinkType::Ethernet,
            LinkType::LinuxSll,
            LinkType::LinuxSll2,
            LinkType::Null,
            LinkType::RawIp,
        ];
        let mut rng = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng
        };
        let mut d = decoder();
        let mut n = 0;
        for _ in 0..3_000 {
            let mut f = seeds[(next() % seeds.len() as u64) as usize].clone();
            for _ in 0..1 + next() % 4 {
                let at = (next() % f.len() as u64) as usize;
                f[at] = next() as u8;
            }
            let len = if next() % 4 == 0 {
                (next() % f.len() as u64) as usize
            } else {
                f.len()
            };
            let link = links[(next() % links.len() as u64) as usize];
            for _ in 0..2 {
                n += 1;
                run_frame(&mut d, &frame(link, &f[..len], f.len(), n), Verdict::Ours);
            }
        }
        d.handle_timeout(PacketTime::from_parts(1_000_000, 0));
        assert_eq!(d.counters().total, n);
        invariant(&d);
    }

    /// `gtp/gtpu-v1-ip-fragmented.pcap` frame 4, 1514 bytes.
    const FRAME_4: &[&str] = &[
    "00000c07ace888e0f3c8bff00800450005dc2cf120003d11cb2aef729b6f3f5e95b50868086805d8a66530ff05c88c61",
    "be36450005c8526740008006aa9a0a832fb94f656e8d07830050cd6c69b86fc354945010fdcade1c0000474554202f76",
    "6964656f706c61796261636b3f75706e3d4d5455324d4459354e7a51354f544d304e5449334e4459344e446326737061",
    "72616d733d616c676f726974686d25324362757273742532436370253243666163746f72253243696425324369702532",
    "4369706269747325324369746167253243736f7572636525324375706e25324365787069726526666578703d39313233",
    "303025324339303732313026616c676f726974686d3d7468726f74746c652d666163746f7226697461673d3334266970",
    "3d3231322e302e302e302662757273743d343026737665723d33267369676e61747572653d3833324642313034324532",
    "30373830434643413737413444423545413634414335393345383632372e443131363643374538333635373332453532",
    "4441464436383037364441453031343645304145303126736f757263653d796f7574756265266578706972653d313333",
    "33343834393830266b65793d797431266970626974733d3826666163746f723d312e32352663703d5530685353465254",
    "556c394e536b4e4f4d6c394d54565a4b4f6a683565454e32534738745a4638342669643d656266316539333264346264",
    "3132383626636d323d3120485454502f312e310d0a4163636570743a202a2f2a0d0a4163636570742d43686172736574",
    "3a2049534f2d383835392d312c7574662d383b713d302e372c2a3b713d302e330d0a4163636570742d456e636f64696e",
    "673a20677a69702c6465666c6174652c736463680d0a4163636570742d4c616e67756167653a20656e2d55532c656e3b",
    "713d302e380d0a436f6e6e656374696f6e3a20636c6f73650d0a436f6f6b69653a206175746f5f7472616e736c617469",
    "6f6e3d3361643761666337373536303432376337633238326532366461663561363737644177414141426d5957787a5a",
    "56396d62334a6a5a57513d3b205f5f75746d613d32373036393233372e313434303839373237322e3133323832333531",
    "36382e313333313130373531322e313333323138313938332e343b205f5f75746d7a3d32373036393233372e31333238",
    "3233353136382e312e312e75746d6373723d28646972656374297c75746d63636e3d28646972656374297c75746d636d",
    "643d286e6f6e65293b207573655f686974626f783d643563353531366333333739313235663433616130643439356431",
    "303064366464414541414141773b2056495349544f525f494e464f315f4c4956453d3062794477486b2d795f303b2041",
    "435449564954593d313333333238373235323032353b20726563656e746c795f776174636865645f766964656f5f6964",
    "5f6c6973743d6330363431383830336537323865333330616561393230633339663837326237577955414141427a4377",
    "414141445a665348424e64464d355257395a63777341414142566253316a574667305957785a56584d4c414141415954",
    "465a63334e32525864356133647a4377414141453477566e5674576b5a57545556466377734141414235545468764e32",
    "314f5346557857584d4c414141415255687652316c4a516d686164574e7a437741414145526c63433166536b4a306346",
    "6433637773414141427952554e50526d4a77515777345a334d4c4141414159326f77523074756148707964574e7a4377",
    "4141414467315a47644c516e424a5556425263777341414141325555383464573948556c523557584d4c414141415758",
    "59344f466778564778435656567a4377414141454a4f524756314c556c68566a645a63777341414142535a445a455232",
    "4a71596d56304f484d4c4141414157477045534535715a47395a4d55567a437741414145457a61327853656a46576557",
    "6876637773414141427862474a5a516c4a316245777454584d4c41414141576b5a6e61305130643034346232397a4377",
    "4141414752474e4739715a30593256314a4a6377734141414177",
    ];
}
