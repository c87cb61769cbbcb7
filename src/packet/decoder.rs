//! The frame decoder: link → IP → tunnels → transport, with reassembly.
//!
//! STUB: to be written (helper B). The API below is the contract.

use super::{Datagram, DecodeCounters, FrameClass, ReassemblyCounters, Verdict};
use crate::capture::Frame;
use crate::time::PacketTime;

/// Limits and ports for the decoder. Defaults are sized for a busy SPAN port.
#[derive(Clone, Debug)]
pub struct DecoderConfig {
    /// TCP ports whose streams are reassembled as SIP (default 5060, 5080).
    pub sip_tcp_ports: Vec<u16>,
    /// TCP ports whose streams are reassembled as DIAMETER (default 3868).
    pub diameter_tcp_ports: Vec<u16>,
    /// UDP port of GTP-U (default 2152).
    pub gtpu_port: u16,
}

impl Default for DecoderConfig {
    fn default() -> Self {
        DecoderConfig {
            sip_tcp_ports: vec![5060, 5080],
            diameter_tcp_ports: vec![3868],
            gtpu_port: 2152,
        }
    }
}

/// Decodes frames; owns all reassembly state.
pub struct Decoder {
    config: DecoderConfig,
    counters: DecodeCounters,
    reassembly: ReassemblyCounters,
}

impl Decoder {
    /// A decoder with these limits.
    pub fn new(config: DecoderConfig) -> Self {
        Decoder {
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
        let _ = (frame, on_payload);
        let class = FrameClass::NotForUs;
        self.counters.count(class);
        class
    }

    /// Ages out reassembly state older than its timeout at `now` (packet time).
    pub fn handle_timeout(&mut self, now: PacketTime) {
        let _ = now;
    }

    /// Frame class counters.
    pub fn counters(&self) -> &DecodeCounters {
        &self.counters
    }

    /// Reassembly counters.
    pub fn reassembly_counters(&self) -> &ReassemblyCounters {
        &self.reassembly
    }
}
