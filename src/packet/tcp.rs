//! TCP stream reassembly for signalling ports (SIP, DIAMETER).
//!
//! STUB: to be written (helper B2). The API below is the contract the decoder calls.

use super::Endpoint;
use crate::time::PacketTime;

/// How the bytes of a stream are cut into PDUs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Framing {
    /// SIP: headers up to an empty line, then `Content-Length` bytes of body.
    Sip,
    /// DIAMETER: 20-byte header whose 24-bit length covers the message.
    Diameter,
}

/// TCP flags the reassembler cares about.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TcpFlags {
    /// SYN.
    pub syn: bool,
    /// FIN.
    pub fin: bool,
    /// RST.
    pub rst: bool,
}

/// Limits of the TCP reassembler.
#[derive(Clone, Debug)]
pub struct TcpConfig {
    /// Connections tracked at once.
    pub max_connections: usize,
    /// Bytes buffered per direction of a connection (incomplete PDU plus
    /// out-of-order segments).
    pub max_buffered_bytes: usize,
    /// A connection idle this long (packet time) is forgotten.
    pub idle_timeout_ns: i64,
}

impl Default for TcpConfig {
    fn default() -> Self {
        TcpConfig {
            max_connections: 65_536,
            max_buffered_bytes: 256 * 1024,
            idle_timeout_ns: 300 * 1_000_000_000,
        }
    }
}

/// Reassembles TCP streams and frames them into PDUs.
#[derive(Debug, Default)]
pub struct TcpReassembler {}

impl TcpReassembler {
    /// A reassembler with these limits.
    pub fn new(config: TcpConfig) -> Self {
        let _ = config;
        TcpReassembler {}
    }

    /// Feeds one segment; calls `on_pdu` with every PDU it completes.
    #[allow(clippy::too_many_arguments)]
    pub fn handle_segment(
        &mut self,
        time: PacketTime,
        src: Endpoint,
        dst: Endpoint,
        seq: u32,
        flags: TcpFlags,
        payload: &[u8],
        framing: Framing,
        on_pdu: &mut dyn FnMut(&[u8]),
    ) {
        let _ = (time, src, dst, seq, flags, payload, framing, on_pdu);
    }

    /// Forgets connections idle past the timeout at `now`.
    pub fn handle_timeout(&mut self, now: PacketTime) {
        let _ = now;
    }
}
