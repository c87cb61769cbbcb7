//! SCTP: common header, chunks, DATA reassembly into user messages.
//!
//! STUB: to be written (helper B2). The API below is the contract the decoder calls.

use crate::time::PacketTime;
use std::net::IpAddr;

/// One complete SCTP user message.
#[derive(Clone, Copy, Debug)]
pub struct SctpMessage<'a> {
    /// Source port.
    pub src_port: u16,
    /// Destination port.
    pub dst_port: u16,
    /// Stream identifier.
    pub stream: u16,
    /// Payload protocol identifier (46 = DIAMETER, 47 = DIAMETER/DTLS, ...).
    pub ppid: u32,
    /// The message bytes.
    pub data: &'a [u8],
}

/// Why an SCTP packet could not be decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SctpError {
    /// Shorter than the 12-byte common header.
    #[error("shorter than the SCTP common header")]
    TooShort,
    /// A chunk length is below 4 or runs past the packet.
    #[error("chunk length is invalid")]
    BadChunkLength,
}

/// Reassembles fragmented DATA chunks per association and stream.
#[derive(Debug, Default)]
pub struct SctpReassembler {}

impl SctpReassembler {
    /// Feeds one SCTP packet (common header + chunks); calls `on_message` for
    /// every complete user message.
    ///
    /// # Errors
    /// When the common header or a chunk is malformed; messages found before
    /// the bad chunk have been delivered.
    pub fn handle_packet(
        &mut self,
        time: PacketTime,
        src: IpAddr,
        dst: IpAddr,
        packet: &[u8],
        on_message: &mut dyn FnMut(&SctpMessage<'_>),
    ) -> Result<(), SctpError> {
        let _ = (time, src, dst, packet, on_message);
        Ok(())
    }

    /// Drops partial messages older than the timeout at `now`.
    pub fn handle_timeout(&mut self, now: PacketTime) {
        let _ = now;
    }
}
