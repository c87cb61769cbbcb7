//! Ground truth: what the generator decided, turned into the statistics an
//! analyser should report, and the JSON written next to each capture.
//!
//! [`StreamTruth`] is fed every copy of every packet of one stream (one SSRC
//! of one flow) in the order it is written to the capture, with the packet's
//! index in the sender's sequence (so it never has to guess an extended
//! sequence number) and its send and arrival times. It then reports:
//!
//! - `packets`: copies written (`sent − lost + duplicates`).
//! - `expected`: `highest index received − index of the first arrival + 1`
//!   (RFC 3550 A.3 "extended highest sequence number received − base + 1",
//!   with the base being the first packet *to arrive*); `lost = expected −
//!   packets`, negative when duplicates outnumber losses.
//! - `duplicates`: copies of a sequence number already received.
//! - `out_of_order`: arrivals below the highest sequence number seen so far
//!   that are not duplicates.
//! - `seq_wraps`: times the 16-bit sequence number of the highest packet so far
//!   passed 65535 → 0.
//! - `seq_errors`: Wireshark's "wrong sequence number" count (every arrival that
//!   is not the previous sequence number + 1; a lower one does not move the
//!   reference, a higher one does).
//! - `loss_runs`: runs of consecutive sequence numbers between the base and the
//!   highest received that never arrived; index `i` counts runs of `i + 1`, the
//!   last bucket runs of 16 or more (as `media::stream`).
//! - `markers`, `telephone_events`.
//! - `max_delta_ms`: largest gap between the arrival of a packet and of the
//!   packet before it in the capture, over packets without the marker bit
//!   (the first packet excluded), as Wireshark's "Max Delta".
//! - jitter, see [`JITTER_DEFINITION`].

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Buckets of the loss-run histogram (same as `media::stream::LOSS_RUN_BUCKETS`).
pub const LOSS_RUN_BUCKETS: usize = 16;

/// Exactly what `mean_jitter_ms` / `max_jitter_ms` in the expected JSON are.
pub const JITTER_DEFINITION: &str = "RFC 3550 6.4.1 interarrival jitter in ms over the stream's \
packets with a known clock rate (telephone-event packets excluded), in arrival order, each packet \
against the previous such packet in arrival order (duplicates and late packets included, as RFC \
3550 says: 'not necessarily in sequence'): D = (R_i - R_j) - (S_i - S_j), R = pcap arrival time \
(microseconds), S = RTP timestamp / (clock_rate / 1000) ms, J += (|D| - J) / 16, J = 0 at the \
first packet. max_jitter_ms = max J over packets without the marker bit; mean_jitter_ms = sum of J \
over packets without the marker bit after the first / their number (Wireshark's running mean). \
Wireshark differs in how a marker packet enters its running mean (compare within 1% + 0.01 ms) \
and, in streams with telephone-event packets, in using the event packets' arrival as reference \
(see wireshark_jitter_comparable).";

/// The expected results of one generated capture.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
pub struct ExpectedCapture {
    /// Format tag of this JSON.
    pub format: String,
    /// Scenario name.
    pub scenario: String,
    /// Seed it was generated with.
    pub seed: u64,
    /// Frames in the pcap.
    pub frames: u64,
    /// RTP packets in the pcap (every copy).
    pub rtp_packets: u64,
    /// RTCP compound packets in the pcap.
    pub rtcp_packets: u64,
    /// SIP messages in the pcap.
    pub sip_messages: u64,
    /// What the jitter figures are.
    pub jitter_definition: String,
    /// One entry per (source, destination, SSRC).
    pub streams: Vec<ExpectedStream>,
    /// SIP requests in the pcap by method, retransmissions included (call
    /// scenarios only).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub sip_requests: BTreeMap<String, u64>,
    /// SIP responses in the pcap by status code, retransmissions included
    /// (call scenarios only).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub sip_responses: BTreeMap<u16, u64>,
    /// What the call fields mean (call scenarios only), see
    /// [`CALL_DEFINITIONS`].
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub call_definitions: String,
    /// One entry per Call-ID (call scenarios only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub calls: Vec<ExpectedCall>,
    /// Names of the answered calls that carry a media impairment, from the
    /// best to the worst expected MOS, by [`MOS_ORDER_RULE`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mos_order: Vec<String>,
    /// How `mos_order` was decided.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub mos_order_rule: String,
    /// DIAMETER messages in the pcap (VoLTE scenarios only).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub diameter_messages: u64,
    /// GTPv2-C messages in the pcap (VoLTE scenarios only).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub gtpv2_messages: u64,
    /// What the VoLTE call fields mean, see
    /// [`super::volte::VOLTE_DEFINITIONS`] (VoLTE scenarios only).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub volte_definitions: String,
    /// One entry per VoLTE call (the `volte` scenario).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub volte_calls: Vec<super::volte::ExpectedVolteCall>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// Exactly what the fields of [`ExpectedCall`] are.
pub const CALL_DEFINITIONS: &str = "Times are packet times of the capture, as RFC 3339 UTC with \
microseconds and as ns since the epoch (*_ns). invite_time: the first INVITE of the dialog \
(retransmissions are the same transaction and do not move it); ringing_time: the first 18x to it; \
answer_time: the 2xx to the initial INVITE (a re-INVITE's 2xx does not count); end_time: the BYE \
request (not its 200), else the final non-2xx response (the 487 for a cancelled call), null when \
the capture holds no end. setup_ms = answer - invite, pdd_ms = first 18x - invite, \
answer_delay_ms = answer - first 18x, duration_s = end - answer, each null when a term is null. \
final_code/final_reason: the final response to the initial INVITE. q850_cause: the Q.850 cause of \
a Reason header (RFC 3326, RFC 6432) on the BYE or the final response, else null. hangup_by: who \
sent the BYE or the CANCEL (caller/callee), else null. outcome from final_code: 2xx answered; \
486, 600 busy; 480, 408 no_answer; 487 after a CANCEL cancelled; other 3xx/4xx and 603 rejected; \
5xx and other 6xx failed; no final response timed_out. streams: the RTP streams of the call \
(same fields as the top-level streams), named CALL:caller-to-callee / CALL:callee-to-caller, with \
:2 for the media after a re-INVITE. late_50ms/late_200ms: packets per direction that miss a \
fixed jitter buffer of that depth: per stream, playout = arrival of the stream's first packet + \
(RTP ts - first ts) / clock + depth, late if arrival > playout; no arrival lies within 1 ms of \
its playout, so ns/us rounding cannot change the count.";

/// How [`ExpectedCapture::mos_order`] is decided.
pub const MOS_ORDER_RULE: &str = "Answered calls with a media impairment (all PCMU, 100 packets \
each way, impairment caller -> callee only), ordered by the impaired direction's effective loss \
for a fixed 50 ms jitter buffer (lost + late_50ms), ties broken by the longest run of \
consecutive missing packets (bursty loss is worse: E-model BurstR > 1, ITU-T G.107). With a \
200 ms buffer the jitter call has no late packet and would rank next to the clean call.";

/// One SIP call of a call scenario: what happened, at exactly which times.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ExpectedCall {
    /// Name within the scenario (`basic`, `busy`, ...).
    pub name: String,
    /// What the call exercises, in words.
    pub behaviour: String,
    /// Media impairment label (`none`, `loss-1pct`, ...); `none` without media.
    pub impairment: String,
    /// Call-ID.
    pub call_id: String,
    /// From URI of the initial INVITE.
    pub from_uri: String,
    /// To URI of the initial INVITE.
    pub to_uri: String,
    /// User part of `from_uri`.
    pub from_user: String,
    /// User part of `to_uri`.
    pub to_user: String,
    /// Caller's signalling IP.
    pub caller_ip: String,
    /// Callee's signalling IP.
    pub callee_ip: String,
    /// `User-Agent` of the caller's requests.
    pub caller_user_agent: Option<String>,
    /// `Server` of the callee's responses (null if it never answers).
    pub callee_user_agent: Option<String>,
    /// First INVITE.
    pub invite_time: String,
    /// `invite_time` in ns since the epoch.
    pub invite_time_ns: i64,
    /// First 18x.
    pub ringing_time: Option<String>,
    /// `ringing_time` in ns.
    pub ringing_time_ns: Option<i64>,
    /// 2xx to the initial INVITE.
    pub answer_time: Option<String>,
    /// `answer_time` in ns.
    pub answer_time_ns: Option<i64>,
    /// BYE, final failure response, or 487 after CANCEL.
    pub end_time: Option<String>,
    /// `end_time` in ns.
    pub end_time_ns: Option<i64>,
    /// answer − invite, ms.
    pub setup_ms: Option<f64>,
    /// first 18x − invite, ms.
    pub pdd_ms: Option<f64>,
    /// answer − first 18x, ms.
    pub answer_delay_ms: Option<f64>,
    /// end − answer, s.
    pub duration_s: Option<f64>,
    /// Final response code to the initial INVITE.
    pub final_code: Option<u16>,
    /// Its reason phrase.
    pub final_reason: Option<String>,
    /// Q.850 cause from a Reason header.
    pub q850_cause: Option<u16>,
    /// `caller` or `callee`.
    pub hangup_by: Option<String>,
    /// answered, busy, no_answer, rejected, cancelled, failed, timed_out.
    pub outcome: String,
    /// Audio codecs used, in order (`PCMU`, then `PCMA` after a re-INVITE).
    pub codecs: Vec<String>,
    /// SIP messages of this Call-ID in the capture, retransmissions included.
    pub sip_messages: u64,
    /// INVITE retransmissions (same branch) of the initial transaction.
    pub invite_retransmissions: u64,
    /// Direction the impairment applies to, if any.
    pub impaired_direction: Option<String>,
    /// Packets late for a fixed 50 ms jitter buffer, per direction.
    pub late_50ms: Option<DirectionCounts>,
    /// Packets late for a fixed 200 ms jitter buffer, per direction.
    pub late_200ms: Option<DirectionCounts>,
    /// The call's RTP streams.
    pub streams: Vec<ExpectedStream>,
}

/// A count per media direction of a call.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirectionCounts {
    /// Caller → callee.
    pub caller_to_callee: u64,
    /// Callee → caller.
    pub callee_to_caller: u64,
}

/// The expected statistics of one stream.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ExpectedStream {
    /// Name within the scenario (`clean`, `loss-5pct`, ...).
    pub name: String,
    /// Impairment applied, in words.
    pub impairment: String,
    /// Sender `ip:port`.
    pub src: String,
    /// Receiver `ip:port`.
    pub dst: String,
    /// SSRC.
    pub ssrc: u32,
    /// Payload type of the first packet.
    pub payload_type: u8,
    /// RTP clock rate of the audio payload.
    pub clock_rate: u32,
    /// Packets the sender emitted (one per sequence number).
    pub sent: u64,
    /// Sequence number of the first packet to arrive.
    pub first_seq: u16,
    /// Sequence number of the highest packet received.
    pub highest_seq: u16,
    /// Packets in the capture, duplicates included.
    pub packets: u64,
    /// `highest − base + 1`, extended.
    pub expected: u64,
    /// `expected − packets`.
    pub lost: i64,
    /// Copies of an already received sequence number.
    pub duplicates: u64,
    /// Late arrivals that are not duplicates.
    pub out_of_order: u64,
    /// Wireshark's wrong-sequence count.
    pub seq_errors: u64,
    /// 16-bit sequence wraps.
    pub seq_wraps: u32,
    /// 1 when this SSRC replaced another one on the same flow.
    pub ssrc_changes: u32,
    /// Loss-run histogram.
    pub loss_runs: [u64; LOSS_RUN_BUCKETS],
    /// Longest loss run.
    pub max_loss_run: u64,
    /// Packets with the marker bit.
    pub markers: u64,
    /// RFC 4733 telephone-event packets.
    pub telephone_events: u64,
    /// See the module doc.
    pub max_delta_ms: f64,
    /// See [`JITTER_DEFINITION`].
    pub mean_jitter_ms: f64,
    /// See [`JITTER_DEFINITION`].
    pub max_jitter_ms: f64,
    /// Whether Wireshark (and an analyser that follows it) should report the
    /// same jitter. False when telephone-event packets sit between audio
    /// packets: Wireshark 4.0 takes the arrival time of the last event packet
    /// but the timestamp of the last audio packet as the reference for the
    /// next audio packet, so its jitter jumps by about the event's length
    /// after each event (in `sip-call`, tshark's max is 13.264 ms where RFC
    /// 3550 gives 1.557 ms).
    pub wireshark_jitter_comparable: bool,
    /// Arrival of the first packet, µs since the epoch.
    pub first_time_us: i64,
    /// Arrival of the last packet, µs since the epoch.
    pub last_time_us: i64,
}

/// Identity and fixed facts of a stream, given by the scenario.
#[derive(Clone, Debug)]
pub struct StreamIdentity {
    /// Name within the scenario.
    pub name: String,
    /// Impairment, in words.
    pub impairment: String,
    /// Sender.
    pub src: std::net::SocketAddrV4,
    /// Receiver.
    pub dst: std::net::SocketAddrV4,
    /// SSRC.
    pub ssrc: u32,
    /// Sequence number of packet index 0.
    pub start_seq: u16,
    /// RTP clock rate of the audio payload.
    pub clock_rate: u32,
    /// Whether this SSRC replaced another on the same flow.
    pub ssrc_change: bool,
}

/// One copy of one packet as written to the capture.
#[derive(Clone, Copy, Debug)]
pub struct Arrival {
    /// Index in the sender's sequence (0 = `start_seq`).
    pub index: u64,
    /// RTP timestamp.
    pub timestamp: u32,
    /// Payload type.
    pub payload_type: u8,
    /// Marker bit.
    pub marker: bool,
    /// RFC 4733 telephone-event (no jitter).
    pub telephone_event: bool,
    /// Capture time, µs since the epoch.
    pub time_us: i64,
}

/// Accumulates the truth of one stream from its arrivals.
#[derive(Clone, Debug)]
pub struct StreamTruth {
    id: StreamIdentity,
    sent: u64,
    /// Bit `i` set when index `i` has arrived.
    received: Vec<u64>,
    first: Option<Arrival>,
    highest: u64,
    packets: u64,
    duplicates: u64,
    out_of_order: u64,
    markers: u64,
    telephone_events: u64,
    ws_last_seq: u16,
    seq_errors: u64,
    last_time_us: i64,
    max_delta_us: i64,
    /// Previous packet with a clock: (arrival µs, RTP timestamp).
    jitter_prev: Option<(i64, u32)>,
    jitter: f64,
    max_jitter: f64,
    jitter_sum: f64,
    jitter_count: u64,
    /// Packets late for each of [`JITTER_BUFFERS_MS`].
    late: [u64; JITTER_BUFFERS_MS.len()],
    /// Smallest |arrival − playout| over arrivals and depths, µs.
    min_playout_margin_us: i64,
}

/// Fixed jitter-buffer depths for which late packets are counted.
pub const JITTER_BUFFERS_MS: [i64; 2] = [50, 200];

impl StreamTruth {
    /// A stream with no arrival yet.
    pub fn new(id: StreamIdentity) -> Self {
        StreamTruth {
            id,
            sent: 0,
            received: Vec::new(),
            first: None,
            highest: 0,
            packets: 0,
            duplicates: 0,
            out_of_order: 0,
            markers: 0,
            telephone_events: 0,
            ws_last_seq: 0,
            seq_errors: 0,
            last_time_us: 0,
            max_delta_us: 0,
            jitter_prev: None,
            jitter: 0.0,
            max_jitter: 0.0,
            jitter_sum: 0.0,
            jitter_count: 0,
            late: [0; JITTER_BUFFERS_MS.len()],
            min_playout_margin_us: i64::MAX,
        }
    }

    /// Packets that missed a fixed jitter buffer of each depth in
    /// [`JITTER_BUFFERS_MS`], by the rule of [`CALL_DEFINITIONS`], and the
    /// smallest distance in µs between an arrival and its playout time.
    pub fn late_packets(&self) -> ([u64; JITTER_BUFFERS_MS.len()], i64) {
        (self.late, self.min_playout_margin_us)
    }

    /// Playout-time margin check: (arrival − playout) for depth 0, µs.
    fn playout_offset_us(&self, a: &Arrival) -> i64 {
        let Some(first) = self.first else { return 0 };
        let ts = i64::from(a.timestamp.wrapping_sub(first.timestamp) as i32);
        a.time_us - first.time_us - ts * 1_000_000 / i64::from(self.id.clock_rate)
    }

    /// The stream's identity.
    pub fn identity(&self) -> &StreamIdentity {
        &self.id
    }

    /// The sender emitted `sent` packets in all (whatever became of them).
    pub fn set_sent(&mut self, sent: u64) {
        self.sent = sent;
    }

    /// Fields of an RTCP report block about this stream as its receiver
    /// would fill them now: (extended highest sequence, cumulative lost,
    /// fraction lost /256, jitter in timestamp units). Approximate by design
    /// (the fraction is over the whole stream, not the last interval): RTCP in
    /// generated captures is realistic filler, not ground truth.
    pub fn report_block(&self) -> (u32, i64, u8, u32) {
        let Some(first) = self.first else {
            return (0, 0, 0, 0);
        };
        let expected = self.highest - first.index + 1;
        let lost = expected as i64 - self.packets as i64;
        let fraction = if lost > 0 {
            (lost as u64 * 256 / expected).min(255) as u8
        } else {
            0
        };
        let ext = (u64::from(self.id.start_seq) + self.highest) as u32;
        let jitter = (self.jitter * f64::from(self.id.clock_rate) / 1000.0) as u32;
        (ext, lost, fraction, jitter)
    }

    /// Packets received so far and packets expected so far (for RTCP reports).
    pub fn progress(&self) -> (u64, u64) {
        match self.first {
            Some(f) => (self.packets, self.highest - f.index + 1),
            None => (0, 0),
        }
    }

    fn was_received(&self, index: u64) -> bool {
        let (w, b) = ((index / 64) as usize, index % 64);
        self.received.get(w).is_some_and(|x| x & (1 << b) != 0)
    }

    fn mark_received(&mut self, index: u64) {
        let (w, b) = ((index / 64) as usize, index % 64);
        if self.received.len() <= w {
            self.received.resize(w + 1, 0);
        }
        self.received[w] |= 1 << b;
    }

    /// One copy of a packet was written to the capture.
    pub fn handle_arrival(&mut self, a: Arrival) {
        let seq = self.seq_of(a.index);
        self.packets += 1;
        self.markers += u64::from(a.marker);
        self.telephone_events += u64::from(a.telephone_event);
        match self.first {
            None => {
                self.first = Some(a);
                self.highest = a.index;
                self.ws_last_seq = seq;
                self.last_time_us = a.time_us;
            }
            Some(_) => {
                if a.index > self.highest {
                    self.highest = a.index;
                } else if self.was_received(a.index) {
                    self.duplicates += 1;
                } else {
                    self.out_of_order += 1;
                }
                // Wireshark: the next number is fine (65535 → 0 too); a higher
                // one is an error and becomes the reference; a lower or equal
                // one is an error. (Every packet here is "in time sequence":
                // no timestamp goes back before the first arrival's.)
                if seq != self.ws_last_seq.wrapping_add(1) {
                    self.seq_errors += 1;
                    let ahead = u32::from(self.ws_last_seq) + 1 < u32::from(seq)
                        || i32::from(self.ws_last_seq) - i32::from(seq) > 0xFF00;
                    if ahead {
                        self.ws_last_seq = seq;
                    }
                } else {
                    self.ws_last_seq = seq;
                }
                if !a.marker {
                    self.max_delta_us = self.max_delta_us.max(a.time_us - self.last_time_us);
                }
                self.last_time_us = a.time_us;
            }
        }
        self.mark_received(a.index);
        if !a.telephone_event {
            self.handle_jitter(a);
            let offset = self.playout_offset_us(&a);
            for (late, depth) in self.late.iter_mut().zip(JITTER_BUFFERS_MS) {
                let margin = offset - depth * 1000;
                *late += u64::from(margin > 0);
                self.min_playout_margin_us = self.min_playout_margin_us.min(margin.abs());
            }
        }
    }

    fn handle_jitter(&mut self, a: Arrival) {
        let khz = f64::from(self.id.clock_rate / 1000);
        match self.jitter_prev {
            None => {}
            Some((prev_us, prev_ts)) => {
                let r = (a.time_us - prev_us) as f64 / 1000.0;
                let s = f64::from(a.timestamp.wrapping_sub(prev_ts) as i32) / khz;
                let d = r - s;
                self.jitter += (d.abs() - self.jitter) / 16.0;
                if !a.marker {
                    self.max_jitter = self.max_jitter.max(self.jitter);
                    self.jitter_sum += self.jitter;
                    self.jitter_count += 1;
                }
            }
        }
        self.jitter_prev = Some((a.time_us, a.timestamp));
    }

    fn seq_of(&self, index: u64) -> u16 {
        (u64::from(self.id.start_seq) + index) as u16
    }

    /// The expected statistics, or `None` if no packet arrived.
    pub fn report(&self) -> Option<ExpectedStream> {
        let first = self.first?;
        let expected = self.highest - first.index + 1;
        let mut loss_runs = [0u64; LOSS_RUN_BUCKETS];
        let mut max_loss_run = 0;
        let mut run = 0u64;
        for i in first.index..=self.highest {
            if self.was_received(i) {
                if run > 0 {
                    loss_runs[(run as usize).min(LOSS_RUN_BUCKETS) - 1] += 1;
                    max_loss_run = max_loss_run.max(run);
                }
                run = 0;
            } else {
                run += 1;
            }
        }
        // The highest index was received, so no run is open here.
        let start_ext = u64::from(self.id.start_seq);
        let seq_wraps = ((start_ext + self.highest) >> 16) - ((start_ext + first.index) >> 16);
        Some(ExpectedStream {
            name: self.id.name.clone(),
            impairment: self.id.impairment.clone(),
            src: self.id.src.to_string(),
            dst: self.id.dst.to_string(),
            ssrc: self.id.ssrc,
            payload_type: first.payload_type,
            clock_rate: self.id.clock_rate,
            sent: self.sent,
            first_seq: self.seq_of(first.index),
            highest_seq: self.seq_of(self.highest),
            packets: self.packets,
            expected,
            lost: expected as i64 - self.packets as i64,
            duplicates: self.duplicates,
            out_of_order: self.out_of_order,
            seq_errors: self.seq_errors,
            seq_wraps: seq_wraps as u32,
            ssrc_changes: u32::from(self.id.ssrc_change),
            loss_runs,
            max_loss_run,
            markers: self.markers,
            telephone_events: self.telephone_events,
            max_delta_ms: self.max_delta_us as f64 / 1000.0,
            mean_jitter_ms: if self.jitter_count > 0 {
                self.jitter_sum / self.jitter_count as f64
            } else {
                0.0
            },
            max_jitter_ms: self.max_jitter,
            wireshark_jitter_comparable: self.telephone_events == 0,
            first_time_us: first.time_us,
            last_time_us: self.last_time_us,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn truth(start_seq: u16) -> StreamTruth {
        StreamTruth::new(StreamIdentity {
            name: "t".into(),
            impairment: String::new(),
            src: "192.0.2.1:4000".parse().unwrap(),
            dst: "192.0.2.2:4000".parse().unwrap(),
            ssrc: 1,
            start_seq,
            clock_rate: 8000,
            ssrc_change: false,
        })
    }

    fn feed(t: &mut StreamTruth, order: &[(u64, i64)]) {
        for &(index, time_ms) in order {
            t.set_sent(index + 1);
            t.handle_arrival(Arrival {
                index,
                timestamp: (index * 160) as u32,
                payload_type: 0,
                marker: false,
                telephone_event: false,
                time_us: 1_000_000 + time_ms * 1000,
            });
        }
    }

    #[test]
    fn counts_loss_duplicates_and_reordering() {
        // Same pattern as media::stream's unit test: 1 2 3 3 5 4 6 6 7.
        let mut t = truth(1);
        let seqs = [0u64, 1, 2, 2, 4, 3, 5, 5, 6];
        let order: Vec<(u64, i64)> = seqs
            .iter()
            .enumerate()
            .map(|(k, &i)| (i, 20 * k as i64))
            .collect();
        feed(&mut t, &order);
        let r = t.report().unwrap();
        assert_eq!((r.packets, r.expected, r.lost), (9, 7, -2));
        assert_eq!((r.duplicates, r.out_of_order), (2, 1));
        assert_eq!(r.loss_runs, [0; LOSS_RUN_BUCKETS]);
    }

    #[test]
    fn loss_runs_and_wraps() {
        let mut t = truth(65_530);
        let order: Vec<(u64, i64)> = (0..20u64)
            .filter(|i| ![3, 10, 11, 12].contains(i))
            .map(|i| (i, 20 * i as i64))
            .collect();
        feed(&mut t, &order);
        let r = t.report().unwrap();
        assert_eq!((r.packets, r.expected, r.lost), (16, 20, 4));
        assert_eq!(r.loss_runs[0], 1);
        assert_eq!(r.loss_runs[2], 1);
        assert_eq!(r.max_loss_run, 3);
        assert_eq!(r.seq_wraps, 1);
        assert_eq!(r.seq_errors, 2);
        assert_eq!(r.first_seq, 65_530);
        assert_eq!(r.highest_seq, 13);
    }

    #[test]
    fn jitter_of_one_late_packet() {
        // As media::stream's test: the third packet arrives 8 ms late.
        let mut t = truth(0);
        feed(&mut t, &[(0, 0), (1, 20)]);
        t.handle_arrival(Arrival {
            index: 2,
            timestamp: 320,
            payload_type: 0,
            marker: false,
            telephone_event: false,
            time_us: 1_000_000 + 48_000,
        });
        feed(&mut t, &[(3, 60)]);
        let r = t.report().unwrap();
        let j1 = 8.0 / 16.0;
        let j2 = (15.0 * j1 + 8.0) / 16.0;
        assert!((r.max_jitter_ms - j2).abs() < 1e-12);
        assert!((r.mean_jitter_ms - (j1 + j2) / 3.0).abs() < 1e-12);
        assert_eq!(r.max_delta_ms, 28.0);
    }
}
