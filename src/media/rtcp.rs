//! RTCP per source: sender and receiver reports tied to RTP streams, with
//! round-trip time from LSR/DLSR and RTCP XR summaries.
//!
//! STUB: to be written (helper C). The API below is the contract.

use crate::packet::{Endpoint, Observation};
use crate::time::PacketTime;
use serde::Serialize;
use std::net::IpAddr;

/// What RTCP said about one RTP stream (sender `ip`, `ssrc`, observation).
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct RtcpReport {
    /// Sender reports from the stream's sender.
    pub sender_reports: u64,
    /// Receiver report blocks about this stream from its receivers.
    pub receiver_reports: u64,
}

/// RTCP packet counters.
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct RtcpCounters {
    /// Compound packets parsed.
    pub compound_packets: u64,
    /// Compound packets rejected as malformed.
    pub malformed: u64,
}

/// Tracks RTCP per source.
#[derive(Debug, Default)]
pub struct RtcpTracker {
    counters: RtcpCounters,
}

impl RtcpTracker {
    /// A tracker remembering at most `max_sources` sources.
    pub fn new(max_sources: usize) -> Self {
        let _ = max_sources;
        RtcpTracker::default()
    }

    /// Handles one RTCP compound packet. Returns false when it is malformed.
    pub fn handle_packet(
        &mut self,
        time: PacketTime,
        src: Endpoint,
        dst: Endpoint,
        observation: Observation,
        payload: &[u8],
    ) -> bool {
        let _ = (time, src, dst, observation, payload);
        self.counters.compound_packets += 1;
        true
    }

    /// What RTCP said about the stream sent by `sender` with `ssrc`, whose RTP
    /// clock rate is `clock_rate` (0 if unknown; reported jitter is then left out).
    pub fn report_for(
        &self,
        observation: Observation,
        sender: IpAddr,
        ssrc: u32,
        clock_rate: u32,
    ) -> Option<RtcpReport> {
        let _ = (observation, sender, ssrc, clock_rate);
        None
    }

    /// Counters.
    pub fn counters(&self) -> &RtcpCounters {
        &self.counters
    }
}
