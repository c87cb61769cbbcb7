//! Packet decoding: from a captured frame to the transport payloads in it.
//!
//! [`Decoder::decode`] walks link → (VLAN, PPPoE) → IPv4/IPv6 (fragments
//! reassembled) → tunnels (GRE/ERSPAN, IP-in-IP, GTP-U) → UDP / TCP / SCTP and
//! hands every transport payload it finds to a callback as a borrowed
//! [`Datagram`]. Reassembly state (IP fragments, TCP streams on signalling
//! ports, SCTP user messages) lives here, bounded by [`DecoderConfig`] limits,
//! and ages out on packet time.
//!
//! Every frame is counted in exactly one class of [`FrameClass`]: decoded,
//! not-for-us, malformed (by layer) or truncated (by layer). A frame held in a
//! reassembly buffer counts as decoded; what becomes of the buffer is counted in
//! the reassembly counters.

pub mod counters;
pub mod decoder;
pub mod defrag;
pub mod gtpu;
pub mod ip;
pub mod link;
pub mod sctp;
pub mod tcp;
pub mod tunnel;

pub use counters::{DecodeCounters, FrameClass, Layer, ReassemblyCounters};
pub use decoder::{Decoder, DecoderConfig};
pub use defrag::DefragConfig;

use crate::time::PacketTime;
use std::fmt;
use std::net::IpAddr;

/// Transport protocol of a payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Transport {
    /// UDP datagram payload.
    Udp,
    /// In-order bytes of a TCP stream: one complete PDU (SIP message,
    /// DIAMETER message) as framed by the reassembler.
    Tcp,
    /// One complete SCTP user message (DATA chunks reassembled).
    Sctp,
}

/// Where in the network a packet was observed: a packet captured once outside
/// a tunnel and once inside GTP-U is two observations, not a duplicate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum Observation {
    /// Not inside a user-plane tunnel.
    #[default]
    Plain,
    /// Inside GTP-U with this TEID.
    GtpU {
        /// Tunnel endpoint identifier of the G-PDU.
        teid: u32,
    },
}

impl fmt::Display for Observation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Observation::Plain => f.write_str("plain"),
            Observation::GtpU { teid } => write!(f, "gtpu:{teid:#010x}"),
        }
    }
}

/// An IP address and port.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Endpoint {
    /// Address.
    pub ip: IpAddr,
    /// Port.
    pub port: u16,
}

impl Endpoint {
    /// The endpoint `ip:port`.
    pub fn new(ip: IpAddr, port: u16) -> Self {
        Endpoint { ip, port }
    }
}

/// Hashes an endpoint as one or two machine words (the derived hash feeds the
/// address byte by byte with a length prefix): endpoints are hashed on every
/// packet, in the stream table's key.
impl std::hash::Hash for Endpoint {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        match self.ip {
            IpAddr::V4(a) => state.write_u64((u64::from(a.to_bits()) << 16) | u64::from(self.port)),
            IpAddr::V6(a) => {
                state.write_u128(a.to_bits());
                state.write_u16(self.port);
            }
        }
    }
}

impl fmt::Display for Endpoint {
    /// `192.0.2.1:5060`, `[2001:db8::1]:5060`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.ip {
            IpAddr::V4(ip) => write!(f, "{ip}:{}", self.port),
            IpAddr::V6(ip) => write!(f, "[{ip}]:{}", self.port),
        }
    }
}

/// A transport payload found in a frame, borrowed from the frame or from a
/// reassembly buffer for the duration of the callback.
#[derive(Clone, Copy, Debug)]
pub struct Datagram<'a> {
    /// Capture time of the frame that completed this payload.
    pub time: PacketTime,
    /// Number of that frame.
    pub frame: u64,
    /// Sender.
    pub src: Endpoint,
    /// Receiver.
    pub dst: Endpoint,
    /// Transport.
    pub transport: Transport,
    /// Observation point (plain or inside GTP-U).
    pub observation: Observation,
    /// The payload bytes (UDP payload, a TCP PDU, an SCTP user message).
    pub payload: &'a [u8],
    /// SCTP payload protocol identifier (0 for UDP and TCP).
    pub sctp_ppid: u32,
}

/// What the consumer made of a payload handed to it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// A protocol voxprobe analyses (RTP, RTCP, SIP, DIAMETER, GTP-C ...).
    Ours,
    /// Well-formed, but not something voxprobe analyses.
    NotForUs,
    /// Meant for a protocol we analyse (e.g. UDP to a learned RTP port) but
    /// malformed at this layer.
    Malformed(Layer),
}

/// Why the walk through a frame stopped at a header.
///
/// `Short` becomes [`FrameClass::Truncated`] when the capture's snap length cut
/// the frame, and [`FrameClass::Malformed`] otherwise: a header that ends before
/// its own length on a frame captured whole is broken, not cut.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum HeaderError {
    /// The bytes end inside the header at this layer.
    #[error("{} header ends early", .0.name())]
    Short(Layer),
    /// A field of the header at this layer is invalid; the string is a stable
    /// label (`ihl_below_5`, `bad_version` ...).
    #[error("{} header is invalid: {}", .0.name(), .1)]
    Invalid(Layer, &'static str),
}

impl HeaderError {
    /// The layer whose header broke.
    pub fn layer(self) -> Layer {
        match self {
            HeaderError::Short(l) | HeaderError::Invalid(l, _) => l,
        }
    }

    /// Stable label for counters and logs.
    pub fn reason(self) -> &'static str {
        match self {
            HeaderError::Short(_) => "short",
            HeaderError::Invalid(_, r) => r,
        }
    }

    /// The frame class this error gives a frame; `cut` is whether the snap
    /// length cut the frame.
    pub fn class(self, cut: bool) -> FrameClass {
        match self {
            HeaderError::Short(l) if cut => FrameClass::Truncated(l),
            HeaderError::Short(l) | HeaderError::Invalid(l, _) => FrameClass::Malformed(l),
        }
    }
}
