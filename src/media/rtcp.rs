//! RTCP per source: sender and receiver reports tied to RTP streams, with
//! round-trip time from LSR/DLSR and RTCP XR summaries.
//!
//! [`RtcpTracker`] owns one bounded table of sources keyed by
//! `(observation, IP address, SSRC)`. What a packet says goes to the source
//! it is about:
//!
//! - SR sender info, SDES CNAME and BYE describe their *sender*: keyed by the
//!   packet's source IP and the SSRC in the packet.
//! - Report blocks (in SR and RR) and XR blocks 6/7 describe a *media source*
//!   X from a receiver's point of view. The receiver sends them to X's RTCP
//!   address, so they are keyed by the packet's destination IP and X. This is
//!   what makes them land on the same entry as X's own SRs, and on the stream
//!   `report_for(observation, stream.src.ip, ssrc)` asks about, also behind a
//!   relay (each leg has its own IP).
//!
//! # Round-trip time as the probe sees it
//!
//! When a report block about X carries LSR ≠ 0 and one of the last
//! [`RECENT_SENDER_REPORTS`] SRs of X seen by the probe (same key) had that
//! NTP middle-32 value, one sample is
//!
//! ```text
//! RTT = (arrival of the RR at the probe − arrival of that SR at the probe) − DLSR / 65536 s
//! ```
//!
//! That is the round trip **from the probe's vantage point to the reporter
//! and back**: SR probe→reporter, plus RR reporter→probe. It equals the
//! end-to-end RTT between X's sender and the reporter only when the probe
//! sits next to X's sender; with the probe next to the reporter it tends to
//! 0 (and may come out slightly negative from DLSR's 1/65536 s rounding).
//! Negative samples are rejected and counted, never averaged. The same
//! computation runs for XR (RFC 3611 §4.4–4.5): an RRT block from receiver R
//! echoed by a DLRR sub-block about R gives the round trip from the probe to
//! the DLRR sender, attached to R — again "the peer receiving this source".
//!
//! # Malformed compounds
//!
//! A compound is read packet by packet. When a packet is bad, the compound
//! counts as malformed (by the error's reason) and `handle_packet` returns
//! false, but the packets before it have been counted and applied: a good SR
//! followed by a broken SDES still gives its timestamps.
//!
//! # Bounds and allocation
//!
//! At most `max_sources` sources; when full, updates for new sources are
//! refused and counted (there is no ageing: the tracker lives for one run).
//! `handle_packet` allocates only when it creates a source's entry and the
//! first time (or when it grows) a source's CNAME is stored.

use crate::packet::{Endpoint, Observation};
use crate::proto::rtcp::{
    self, Body, Error, PacketType, ReportBlockRepr, StatisticsSummaryRepr, TtlOrHopLimit,
    VoipMetricsRepr, XrBlockType,
};
use crate::time::PacketTime;
use serde::Serialize;
use std::collections::HashMap;
use std::net::IpAddr;

type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// SR (and XR RRT) arrivals remembered per source for matching LSR (LRR).
/// A receiver echoes the *last* SR it got; a few more absorb SRs the probe saw
/// that the receiver did not yet answer.
pub const RECENT_SENDER_REPORTS: usize = 4;

/// CNAME bytes kept at most (an SDES item holds up to 255).
pub const MAX_CNAME_BYTES: usize = 255;

/// Round-trip statistics, in milliseconds.
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct RttStats {
    /// Samples accepted.
    pub samples: u64,
    /// Smallest sample.
    pub min_ms: f64,
    /// Mean of the samples.
    pub mean_ms: f64,
    /// Largest sample.
    pub max_ms: f64,
}

/// XR VoIP Metrics (RFC 3611 §4.7) about a stream, in plain units; `None`
/// where the reporter said "unavailable" (127).
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct XrVoipMetrics {
    /// SSRC of the reporter.
    pub reporter_ssrc: u32,
    /// Loss rate, %.
    pub loss_rate_pct: f64,
    /// Jitter-buffer discard rate, %.
    pub discard_rate_pct: f64,
    /// Burst density, %.
    pub burst_density_pct: f64,
    /// Gap density, %.
    pub gap_density_pct: f64,
    /// Mean burst duration, ms.
    pub burst_duration_ms: u16,
    /// Mean gap duration, ms.
    pub gap_duration_ms: u16,
    /// Round-trip delay the reporter measured, ms.
    pub round_trip_delay_ms: u16,
    /// End-system delay, ms.
    pub end_system_delay_ms: u16,
    /// Signal level, dBm0.
    pub signal_level_dbm0: Option<i8>,
    /// Noise level, dBm0.
    pub noise_level_dbm0: Option<i8>,
    /// Residual echo return loss, dB.
    pub rerl_db: Option<u8>,
    /// Gap threshold.
    pub gmin: u8,
    /// R factor.
    pub r_factor: Option<u8>,
    /// External R factor.
    pub ext_r_factor: Option<u8>,
    /// MOS-LQ.
    pub mos_lq: Option<f64>,
    /// MOS-CQ.
    pub mos_cq: Option<f64>,
    /// Packet loss concealment: `unspecified`, `disabled`, `enhanced`, `standard`.
    pub plc: &'static str,
    /// Jitter buffer: `unknown`, `reserved`, `non_adaptive`, `adaptive`.
    pub jitter_buffer: &'static str,
    /// Jitter buffer adjustment rate 0–15.
    pub jb_rate: u8,
    /// Jitter buffer nominal delay, ms.
    pub jb_nominal_ms: u16,
    /// Jitter buffer maximum delay, ms.
    pub jb_maximum_ms: u16,
    /// Jitter buffer absolute maximum delay, ms.
    pub jb_abs_max_ms: u16,
}

impl XrVoipMetrics {
    fn new(reporter_ssrc: u32, v: &VoipMetricsRepr) -> Self {
        use rtcp::{JitterBufferAdaptive as J, PacketLossConcealment as P};
        XrVoipMetrics {
            reporter_ssrc,
            loss_rate_pct: v.loss_rate_pct(),
            discard_rate_pct: v.discard_rate_pct(),
            burst_density_pct: v.burst_density_pct(),
            gap_density_pct: v.gap_density_pct(),
            burst_duration_ms: v.burst_duration_ms,
            gap_duration_ms: v.gap_duration_ms,
            round_trip_delay_ms: v.round_trip_delay_ms,
            end_system_delay_ms: v.end_system_delay_ms,
            signal_level_dbm0: v.signal_level_dbm0(),
            noise_level_dbm0: v.noise_level_dbm0(),
            rerl_db: v.rerl_db(),
            gmin: v.gmin,
            r_factor: v.r_factor(),
            ext_r_factor: v.ext_r_factor(),
            mos_lq: v.mos_lq(),
            mos_cq: v.mos_cq(),
            plc: match v.plc() {
                P::Unspecified => "unspecified",
                P::Disabled => "disabled",
                P::Enhanced => "enhanced",
                P::Standard => "standard",
            },
            jitter_buffer: match v.jitter_buffer_adaptive() {
                J::Unknown => "unknown",
                J::Reserved => "reserved",
                J::NonAdaptive => "non_adaptive",
                J::Adaptive => "adaptive",
            },
            jb_rate: v.jb_rate(),
            jb_nominal_ms: v.jb_nominal_ms,
            jb_maximum_ms: v.jb_maximum_ms,
            jb_abs_max_ms: v.jb_abs_max_ms,
        }
    }
}

/// XR Statistics Summary (RFC 3611 §4.6) about a stream; `None` where the
/// block's flags say the field is not reported.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct XrStatisticsSummary {
    /// SSRC of the reporter.
    pub reporter_ssrc: u32,
    /// First sequence number of the interval.
    pub begin_seq: u16,
    /// One past the last sequence number of the interval.
    pub end_seq: u16,
    /// Lost packets in the interval.
    pub lost_packets: Option<u32>,
    /// Duplicate packets in the interval.
    pub duplicate_packets: Option<u32>,
    /// Minimum jitter, ms (needs the clock rate).
    pub min_jitter_ms: Option<f64>,
    /// Maximum jitter, ms.
    pub max_jitter_ms: Option<f64>,
    /// Mean jitter, ms.
    pub mean_jitter_ms: Option<f64>,
    /// Jitter standard deviation, ms.
    pub dev_jitter_ms: Option<f64>,
    /// `ttl`, `hop_limit` or `undefined` when TTL/HL values are reported.
    pub ttl_or_hop_limit: Option<&'static str>,
    /// Minimum TTL/HL.
    pub min_ttl_or_hl: Option<u8>,
    /// Maximum TTL/HL.
    pub max_ttl_or_hl: Option<u8>,
    /// Mean TTL/HL.
    pub mean_ttl_or_hl: Option<u8>,
    /// Standard deviation of TTL/HL.
    pub dev_ttl_or_hl: Option<u8>,
}

impl XrStatisticsSummary {
    fn new(reporter_ssrc: u32, s: &StatisticsSummaryRepr, clock_rate: u32) -> Self {
        let ms = |v: Option<u32>| v.and_then(|v| rtp_units_to_ms(v, clock_rate));
        XrStatisticsSummary {
            reporter_ssrc,
            begin_seq: s.begin_seq,
            end_seq: s.end_seq,
            lost_packets: s.lost_packets,
            duplicate_packets: s.dup_packets,
            min_jitter_ms: ms(s.min_jitter),
            max_jitter_ms: ms(s.max_jitter),
            mean_jitter_ms: ms(s.mean_jitter),
            dev_jitter_ms: ms(s.dev_jitter),
            ttl_or_hop_limit: s.ttl_or_hop_limit.map(|t| match t {
                TtlOrHopLimit::Ttl => "ttl",
                TtlOrHopLimit::HopLimit => "hop_limit",
                TtlOrHopLimit::Undefined => "undefined",
            }),
            min_ttl_or_hl: s.min_ttl_or_hl,
            max_ttl_or_hl: s.max_ttl_or_hl,
            mean_ttl_or_hl: s.mean_ttl_or_hl,
            dev_ttl_or_hl: s.dev_ttl_or_hl,
        }
    }
}

/// RTP timestamp units to milliseconds; `None` when the clock rate is unknown.
fn rtp_units_to_ms(units: u32, clock_rate: u32) -> Option<f64> {
    (clock_rate > 0).then(|| f64::from(units) * 1000.0 / f64::from(clock_rate))
}

/// What RTCP said about one RTP stream (sender `ip`, `ssrc`, observation).
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct RtcpReport {
    /// Sender reports from the stream's sender.
    pub sender_reports: u64,
    /// Receiver report blocks about this stream from its receivers.
    pub receiver_reports: u64,
    /// CNAME from the sender's SDES (lossy UTF-8).
    pub cname: Option<String>,
    /// The sender said BYE.
    pub bye: bool,
    /// Packet count in the sender's last SR.
    pub sender_packet_count: Option<u32>,
    /// Octet count in the sender's last SR.
    pub sender_octet_count: Option<u32>,
    /// SSRC of the receiver that sent the last report block.
    pub reporter_ssrc: Option<u32>,
    /// Fraction lost in the last report block, %.
    pub fraction_lost_pct: Option<f64>,
    /// Cumulative lost in the last report block (negative with duplicates).
    pub cumulative_lost: Option<i32>,
    /// Extended highest sequence number in the last report block.
    pub extended_highest_seq: Option<u32>,
    /// Interarrival jitter in the last report block, RTP timestamp units.
    pub jitter_rtp_units: Option<u32>,
    /// The same in ms (absent when the clock rate is unknown).
    pub jitter_ms: Option<f64>,
    /// Largest reported jitter, ms (absent when the clock rate is unknown).
    pub max_jitter_ms: Option<f64>,
    /// Round trip between the probe and the reporters, from LSR/DLSR (and
    /// XR RRT/DLRR); see the module documentation for what it measures.
    pub rtt: Option<RttStats>,
    /// RTT samples rejected because they came out negative.
    pub rtt_negative_samples: u64,
    /// Last XR VoIP Metrics block about this stream.
    pub xr_voip_metrics: Option<XrVoipMetrics>,
    /// Last XR Statistics Summary block about this stream.
    pub xr_statistics_summary: Option<XrStatisticsSummary>,
}

/// RTCP packets by type (compound members counted separately).
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct RtcpPacketCounters {
    /// Sender reports (200).
    pub sr: u64,
    /// Receiver reports (201).
    pub rr: u64,
    /// Source descriptions (202).
    pub sdes: u64,
    /// Goodbyes (203).
    pub bye: u64,
    /// Application-defined (204).
    pub app: u64,
    /// Transport-layer feedback (205).
    pub rtpfb: u64,
    /// Payload-specific feedback (206).
    pub psfb: u64,
    /// Extended reports (207).
    pub xr: u64,
    /// Other packet types.
    pub unknown: u64,
}

/// XR report blocks by type.
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct XrBlockCounters {
    /// 1, loss RLE.
    pub loss_rle: u64,
    /// 2, duplicate RLE.
    pub duplicate_rle: u64,
    /// 3, packet receipt times.
    pub packet_receipt_times: u64,
    /// 4, receiver reference time.
    pub receiver_reference_time: u64,
    /// 5, DLRR.
    pub dlrr: u64,
    /// 6, statistics summary.
    pub statistics_summary: u64,
    /// 7, VoIP metrics.
    pub voip_metrics: u64,
    /// Other block types (skipped).
    pub other: u64,
}

/// Malformed compounds by reason (labels of [`Error::reason`]).
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct RtcpMalformedCounters {
    /// `too_short` (also an empty payload).
    pub too_short: u64,
    /// `bad_version`.
    pub bad_version: u64,
    /// `bad_length`.
    pub bad_length: u64,
    /// `bad_padding`.
    pub bad_padding: u64,
    /// `bad_count`.
    pub bad_count: u64,
    /// `bad_sdes`.
    pub bad_sdes: u64,
    /// `too_many_items`.
    pub too_many_items: u64,
    /// `bad_reason`.
    pub bad_reason: u64,
    /// `bad_xr_block`.
    pub bad_xr_block: u64,
    /// `too_many_blocks`.
    pub too_many_blocks: u64,
    /// `too_many_packets`.
    pub too_many_packets: u64,
}

impl RtcpMalformedCounters {
    fn count(&mut self, e: Error) {
        let c = match e {
            Error::TooShort => &mut self.too_short,
            Error::BadVersion => &mut self.bad_version,
            Error::BadLength => &mut self.bad_length,
            Error::BadPadding => &mut self.bad_padding,
            Error::BadCount => &mut self.bad_count,
            Error::BadSdes => &mut self.bad_sdes,
            Error::TooManyItems => &mut self.too_many_items,
            Error::BadReason => &mut self.bad_reason,
            Error::BadXrBlock => &mut self.bad_xr_block,
            Error::TooManyBlocks => &mut self.too_many_blocks,
            Error::TooManyPackets => &mut self.too_many_packets,
        };
        *c += 1;
    }
}

/// RTCP packet counters.
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct RtcpCounters {
    /// Compound packets parsed completely.
    pub compound_packets: u64,
    /// Of those, compounds followed by a few stray bytes (fewer than a
    /// header), which some relays append.
    pub compounds_with_trailing_bytes: u64,
    /// Compound packets rejected as malformed (packets before the bad one
    /// are still counted below).
    pub malformed: u64,
    /// Malformed compounds by reason.
    pub malformed_by_reason: RtcpMalformedCounters,
    /// Valid packets by type.
    pub packets: RtcpPacketCounters,
    /// Report blocks in SRs and RRs.
    pub report_blocks: u64,
    /// XR report blocks by type.
    pub xr_blocks: XrBlockCounters,
    /// Sources created.
    pub sources: u64,
    /// Updates about a new source refused because the table was full.
    pub sources_refused_table_full: u64,
    /// RTT samples accepted.
    pub rtt_samples: u64,
    /// RTT samples rejected as negative.
    pub rtt_negative_samples: u64,
    /// Report blocks (or DLRR sub-blocks) with LSR ≠ 0 matching no SR (RRT)
    /// the probe saw.
    pub rtt_unmatched: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct SourceKey {
    observation: Observation,
    ip: IpAddr,
    ssrc: u32,
}

/// Arrivals of recent timestamps (NTP middle-32, packet time), a ring.
#[derive(Clone, Copy, Debug, Default)]
struct RecentTimestamps {
    slots: [Option<(u32, PacketTime)>; RECENT_SENDER_REPORTS],
    next: usize,
}

impl RecentTimestamps {
    fn push(&mut self, ntp_middle: u32, time: PacketTime) {
        if let Some(slot) = self.slots.get_mut(self.next) {
            *slot = Some((ntp_middle, time));
        }
        self.next = (self.next + 1) % RECENT_SENDER_REPORTS;
    }

    /// The latest arrival with this NTP middle-32 value.
    fn find(&self, ntp_middle: u32) -> Option<PacketTime> {
        self.slots
            .iter()
            .flatten()
            .filter(|(ntp, _)| *ntp == ntp_middle)
            .map(|(_, t)| *t)
            .max()
    }
}

#[derive(Clone, Copy, Debug, Default)]
struct RttAccumulator {
    samples: u64,
    sum_ms: f64,
    min_ms: f64,
    max_ms: f64,
    negative: u64,
}

impl RttAccumulator {
    fn add(&mut self, ms: f64) {
        if self.samples == 0 {
            self.min_ms = ms;
            self.max_ms = ms;
        } else {
            self.min_ms = self.min_ms.min(ms);
            self.max_ms = self.max_ms.max(ms);
        }
        self.samples += 1;
        self.sum_ms += ms;
    }
}

/// Everything remembered about one source.
#[derive(Clone, Debug, Default)]
struct SourceState {
    // What the source said about itself.
    sender_reports: u64,
    recent_srs: RecentTimestamps,
    last_sr_counts: Option<(u32, u32)>,
    cname: Option<Vec<u8>>,
    bye: bool,
    recent_rrts: RecentTimestamps,
    // What receivers said about it.
    report_blocks: u64,
    last_block: Option<ReportBlockRepr>,
    last_reporter: u32,
    max_jitter: u32,
    rtt: RttAccumulator,
    xr_voip: Option<(u32, VoipMetricsRepr)>,
    xr_stats: Option<(u32, StatisticsSummaryRepr)>,
}

/// One RTCP packet's addressing, passed down the handlers.
#[derive(Clone, Copy)]
struct Context {
    time: PacketTime,
    src: IpAddr,
    dst: IpAddr,
    observation: Observation,
}

/// Tracks RTCP per source.
///
/// Deterministic: time comes only from the packets. Call
/// [`handle_packet`](Self::handle_packet) for every RTCP compound in capture
/// order, then [`report_for`](Self::report_for) per RTP stream.
#[derive(Debug)]
pub struct RtcpTracker {
    max_sources: usize,
    sources: FastMap<SourceKey, SourceState>,
    counters: RtcpCounters,
}

impl Default for RtcpTracker {
    fn default() -> Self {
        RtcpTracker::new(100_000)
    }
}

impl RtcpTracker {
    /// A tracker remembering at most `max_sources` sources.
    pub fn new(max_sources: usize) -> Self {
        RtcpTracker {
            max_sources,
            sources: FastMap::default(),
            counters: RtcpCounters::default(),
        }
    }

    /// Handles one RTCP compound packet. Returns false when it is malformed
    /// (what was valid before the bad packet has still been applied).
    pub fn handle_packet(
        &mut self,
        time: PacketTime,
        src: Endpoint,
        dst: Endpoint,
        observation: Observation,
        payload: &[u8],
    ) -> bool {
        let cx = Context {
            time,
            src: src.ip,
            dst: dst.ip,
            observation,
        };
        let mut packets = 0;
        let mut items = rtcp::compound(payload);
        for item in items.by_ref() {
            match item.and_then(|p| p.parse().map(|body| (p.packet_type(), body))) {
                Ok((kind, body)) => {
                    packets += 1;
                    self.count_packet(kind);
                    self.handle_body(&cx, body);
                }
                Err(e) => return self.malformed(e),
            }
        }
        if packets == 0 {
            return self.malformed(Error::TooShort);
        }
        self.counters.compound_packets += 1;
        if items.trailing_len() > 0 {
            self.counters.compounds_with_trailing_bytes += 1;
        }
        true
    }

    fn malformed(&mut self, e: Error) -> bool {
        self.counters.malformed += 1;
        self.counters.malformed_by_reason.count(e);
        false
    }

    fn count_packet(&mut self, kind: PacketType) {
        let p = &mut self.counters.packets;
        let c = match kind {
            PacketType::SenderReport => &mut p.sr,
            PacketType::ReceiverReport => &mut p.rr,
            PacketType::SourceDescription => &mut p.sdes,
            PacketType::Goodbye => &mut p.bye,
            PacketType::App => &mut p.app,
            PacketType::TransportFeedback => &mut p.rtpfb,
            PacketType::PayloadFeedback => &mut p.psfb,
            PacketType::ExtendedReport => &mut p.xr,
            PacketType::Unknown(_) => &mut p.unknown,
        };
        *c += 1;
    }

    /// The entry for `key`, created if there is room.
    fn source(
        &mut self,
        observation: Observation,
        ip: IpAddr,
        ssrc: u32,
    ) -> Option<&mut SourceState> {
        let key = SourceKey {
            observation,
            ip,
            ssrc,
        };
        if !self.sources.contains_key(&key) {
            if self.sources.len() >= self.max_sources {
                self.counters.sources_refused_table_full += 1;
                return None;
            }
            self.counters.sources += 1;
        }
        Some(self.sources.entry(key).or_default())
    }

    fn handle_body(&mut self, cx: &Context, body: Body<'_>) {
        match body {
            Body::SenderReport(sr) => {
                if let Some(s) = self.source(cx.observation, cx.src, sr.ssrc()) {
                    s.sender_reports += 1;
                    s.recent_srs.push(sr.ntp_middle(), cx.time);
                    s.last_sr_counts = Some((sr.packet_count(), sr.octet_count()));
                }
                for block in sr.report_blocks() {
                    self.handle_report_block(cx, sr.ssrc(), &block.repr());
                }
            }
            Body::ReceiverReport(rr) => {
                for block in rr.report_blocks() {
                    self.handle_report_block(cx, rr.ssrc(), &block.repr());
                }
            }
            Body::SourceDescription(sdes) => {
                for chunk in sdes.chunks() {
                    let Some(cname) = chunk.cname() else { continue };
                    if let Some(s) = self.source(cx.observation, cx.src, chunk.ssrc()) {
                        store_cname(&mut s.cname, cname);
                    }
                }
            }
            Body::Goodbye(bye) => {
                for ssrc in bye.ssrcs() {
                    if let Some(s) = self.source(cx.observation, cx.src, ssrc) {
                        s.bye = true;
                    }
                }
            }
            Body::ExtendedReport(xr) => {
                let reporter = xr.ssrc();
                for block in xr.blocks() {
                    self.handle_xr_block(cx, reporter, &block);
                }
            }
            Body::App(_)
            | Body::TransportFeedback(_)
            | Body::PayloadFeedback(_)
            | Body::Unknown(_) => {}
        }
    }

    fn handle_report_block(&mut self, cx: &Context, reporter: u32, b: &ReportBlockRepr) {
        self.counters.report_blocks += 1;
        let time = cx.time;
        let Some(s) = self.source(cx.observation, cx.dst, b.ssrc) else {
            return;
        };
        s.report_blocks += 1;
        s.last_block = Some(*b);
        s.last_reporter = reporter;
        s.max_jitter = s.max_jitter.max(b.jitter);
        let sample =
            (b.lsr != 0).then(|| s.recent_srs.find(b.lsr).map(|sr| rtt_ms(time, sr, b.dlsr)));
        self.add_rtt_sample(cx, b.ssrc, sample);
    }

    /// Applies an RTT outcome: `None` = no LSR, `Some(None)` = unmatched.
    fn add_rtt_sample(&mut self, cx: &Context, ssrc: u32, sample: Option<Option<f64>>) {
        match sample {
            None => {}
            Some(None) => self.counters.rtt_unmatched += 1,
            Some(Some(ms)) => {
                let negative = ms < 0.0;
                if negative {
                    self.counters.rtt_negative_samples += 1;
                } else {
                    self.counters.rtt_samples += 1;
                }
                // The entry exists: the caller just found or created it.
                if let Some(s) = self.sources.get_mut(&SourceKey {
                    observation: cx.observation,
                    ip: cx.dst,
                    ssrc,
                }) {
                    if negative {
                        s.rtt.negative += 1;
                    } else {
                        s.rtt.add(ms);
                    }
                }
            }
        }
    }

    fn handle_xr_block(&mut self, cx: &Context, reporter: u32, block: &rtcp::XrBlock<'_>) {
        let c = &mut self.counters.xr_blocks;
        match block.kind() {
            XrBlockType::LossRle => c.loss_rle += 1,
            XrBlockType::DuplicateRle => c.duplicate_rle += 1,
            XrBlockType::PacketReceiptTimes => c.packet_receipt_times += 1,
            XrBlockType::ReceiverReferenceTime => {
                c.receiver_reference_time += 1;
                if let Some(ntp) = block.receiver_reference_time() {
                    if let Some(s) = self.source(cx.observation, cx.src, reporter) {
                        s.recent_rrts.push(rtcp::ntp_middle(ntp), cx.time);
                    }
                }
            }
            XrBlockType::Dlrr => {
                c.dlrr += 1;
                for item in block.dlrr() {
                    if item.lrr == 0 {
                        continue;
                    }
                    let time = cx.time;
                    let sample = self
                        .sources
                        .get(&SourceKey {
                            observation: cx.observation,
                            ip: cx.dst,
                            ssrc: item.ssrc,
                        })
                        .and_then(|s| s.recent_rrts.find(item.lrr))
                        .map(|rrt| rtt_ms(time, rrt, item.dlrr));
                    self.add_rtt_sample(cx, item.ssrc, Some(sample));
                }
            }
            XrBlockType::StatisticsSummary => {
                c.statistics_summary += 1;
                if let Some(stats) = block.statistics_summary() {
                    let repr = stats.repr();
                    if let Some(s) = self.source(cx.observation, cx.dst, repr.ssrc) {
                        s.xr_stats = Some((reporter, repr));
                    }
                }
            }
            XrBlockType::VoipMetrics => {
                c.voip_metrics += 1;
                if let Some(voip) = block.voip_metrics() {
                    let repr = voip.repr();
                    if let Some(s) = self.source(cx.observation, cx.dst, repr.ssrc) {
                        s.xr_voip = Some((reporter, repr));
                    }
                }
            }
            XrBlockType::Unknown(_) => c.other += 1,
        }
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
        let s = self.sources.get(&SourceKey {
            observation,
            ip: sender,
            ssrc,
        })?;
        let block = s.last_block.as_ref();
        let rtt = &s.rtt;
        Some(RtcpReport {
            sender_reports: s.sender_reports,
            receiver_reports: s.report_blocks,
            cname: s
                .cname
                .as_deref()
                .map(|c| String::from_utf8_lossy(c).into_owned()),
            bye: s.bye,
            sender_packet_count: s.last_sr_counts.map(|c| c.0),
            sender_octet_count: s.last_sr_counts.map(|c| c.1),
            reporter_ssrc: block.map(|_| s.last_reporter),
            fraction_lost_pct: block.map(|b| f64::from(b.fraction_lost) * 100.0 / 256.0),
            cumulative_lost: block.map(|b| b.cumulative_lost),
            extended_highest_seq: block.map(|b| b.extended_highest_seq),
            jitter_rtp_units: block.map(|b| b.jitter),
            jitter_ms: block.and_then(|b| rtp_units_to_ms(b.jitter, clock_rate)),
            max_jitter_ms: block.and_then(|_| rtp_units_to_ms(s.max_jitter, clock_rate)),
            rtt: (rtt.samples > 0).then(|| RttStats {
                samples: rtt.samples,
                min_ms: rtt.min_ms,
                mean_ms: rtt.sum_ms / rtt.samples as f64,
                max_ms: rtt.max_ms,
            }),
            rtt_negative_samples: rtt.negative,
            xr_voip_metrics: s.xr_voip.as_ref().map(|(r, v)| XrVoipMetrics::new(*r, v)),
            xr_statistics_summary: s
                .xr_stats
                .as_ref()
                .map(|(r, st)| XrStatisticsSummary::new(*r, st, clock_rate)),
        })
    }

    /// Counters.
    pub fn counters(&self) -> &RtcpCounters {
        &self.counters
    }

    /// Sources currently remembered.
    pub fn source_count(&self) -> usize {
        self.sources.len()
    }
}

/// Stores a CNAME, reusing the buffer; allocates only when it grows.
fn store_cname(slot: &mut Option<Vec<u8>>, cname: &[u8]) {
    let cname = cname.get(..MAX_CNAME_BYTES).unwrap_or(cname);
    match slot {
        Some(v) if v.as_slice() == cname => {}
        Some(v) => {
            v.clear();
            v.extend_from_slice(cname);
        }
        None => *slot = Some(cname.to_vec()),
    }
}

/// `(echo arrival − original arrival) − delay/65536 s`, in ms.
fn rtt_ms(echo: PacketTime, original: PacketTime, delay_65536ths: u32) -> f64 {
    echo.millis_since(original) - f64::from(delay_65536ths) * 1000.0 / 65536.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn hex(s: &str) -> Vec<u8> {
        let s: Vec<u8> = s.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
        s.chunks(2)
            .map(|p| u8::from_str_radix(std::str::from_utf8(p).unwrap(), 16).unwrap())
            .collect()
    }

    fn ep(a: [u8; 4], port: u16) -> Endpoint {
        Endpoint::new(IpAddr::V4(Ipv4Addr::from(a)), port)
    }

    fn at(secs: i64, nanos: u32) -> PacketTime {
        PacketTime::from_parts(secs, nanos)
    }

    const PLAIN: Observation = Observation::Plain;

    /// Made up: an SR from `ssrc` with NTP `ntp`, no report blocks.
    fn sr(ssrc: u32, ntp: u64) -> Vec<u8> {
        let mut p = hex("80c80006");
        p.extend(ssrc.to_be_bytes());
        p.extend(ntp.to_be_bytes());
        p.extend(hex("00000000 00000064 00003e80"));
        p
    }

    /// Made up: an RR from `reporter` with one block about `ssrc`.
    fn rr(reporter: u32, ssrc: u32, fraction: u8, jitter: u32, lsr: u32, dlsr: u32) -> Vec<u8> {
        let mut p = hex("81c90007");
        p.extend(reporter.to_be_bytes());
        p.extend(ssrc.to_be_bytes());
        p.extend([fraction, 0xff, 0xff, 0xfe]); // cumulative lost −2
        p.extend(1000u32.to_be_bytes());
        p.extend(jitter.to_be_bytes());
        p.extend(lsr.to_be_bytes());
        p.extend(dlsr.to_be_bytes());
        p
    }

    const A: [u8; 4] = [192, 0, 2, 1];
    const B: [u8; 4] = [192, 0, 2, 2];

    #[test]
    fn rtt_from_sr_then_rr_with_lsr_dlsr() {
        let mut t = RtcpTracker::new(16);
        // SR from A (SSRC 0x1111) at t = 10.000 s, NTP middle 32 = 0x0001_8000.
        assert!(t.handle_packet(
            at(10, 0),
            ep(A, 5001),
            ep(B, 6001),
            PLAIN,
            &sr(0x1111, 0x0000_0001_8000_0000)
        ));
        // RR from B at 10.620 s, DLSR 0.5 s: RTT = 620 − 500 = 120 ms.
        assert!(t.handle_packet(
            at(10, 620_000_000),
            ep(B, 6001),
            ep(A, 5001),
            PLAIN,
            &rr(0x2222, 0x1111, 64, 160, 0x0001_8000, 32768)
        ));
        // Second SR at 15 s, RR at 15.250 s with DLSR 0.2 s (13107.2 → 13107):
        // RTT = 250 − 13107 × 1000 / 65536 = 50.0030517578125 ms.
        assert!(t.handle_packet(
            at(15, 0),
            ep(A, 5001),
            ep(B, 6001),
            PLAIN,
            &sr(0x1111, 0x0000_0006_4000_0000)
        ));
        assert!(t.handle_packet(
            at(15, 250_000_000),
            ep(B, 6001),
            ep(A, 5001),
            PLAIN,
            &rr(0x2222, 0x1111, 0, 80, 0x0006_4000, 13107)
        ));
        let r = t.report_for(PLAIN, A.into(), 0x1111, 8000).unwrap();
        assert_eq!(r.sender_reports, 2);
        assert_eq!(r.receiver_reports, 2);
        let rtt = r.rtt.unwrap();
        assert_eq!(rtt.samples, 2);
        assert_eq!(rtt.max_ms, 120.0);
        assert!((rtt.min_ms - 50.003_051_757_812_5).abs() < 1e-9);
        assert!((rtt.mean_ms - (120.0 + 50.003_051_757_812_5) / 2.0).abs() < 1e-9);
        assert_eq!(r.cumulative_lost, Some(-2));
        assert_eq!(r.fraction_lost_pct, Some(0.0));
        assert_eq!(r.reporter_ssrc, Some(0x2222));
        assert_eq!(r.sender_packet_count, Some(100));
        assert_eq!(r.sender_octet_count, Some(16000));
        assert_eq!(t.counters().rtt_samples, 2);
        // The reporter itself sent no SR: nothing is known about it as a sender.
        assert!(t.report_for(PLAIN, B.into(), 0x2222, 8000).is_none());
    }

    #[test]
    fn jitter_is_converted_with_the_clock_rate() {
        let mut t = RtcpTracker::new(16);
        assert!(t.handle_packet(
            at(1, 0),
            ep(B, 6001),
            ep(A, 5001),
            PLAIN,
            &rr(0x2222, 0x1111, 64, 400, 0, 0)
        ));
        assert!(t.handle_packet(
            at(2, 0),
            ep(B, 6001),
            ep(A, 5001),
            PLAIN,
            &rr(0x2222, 0x1111, 32, 160, 0, 0)
        ));
        let r = t.report_for(PLAIN, A.into(), 0x1111, 8000).unwrap();
        assert_eq!(r.jitter_rtp_units, Some(160));
        assert_eq!(r.jitter_ms, Some(20.0));
        assert_eq!(r.max_jitter_ms, Some(50.0));
        assert_eq!(r.fraction_lost_pct, Some(12.5));
        let wideband = t.report_for(PLAIN, A.into(), 0x1111, 16000).unwrap();
        assert_eq!(wideband.jitter_ms, Some(10.0));
        let unknown = t.report_for(PLAIN, A.into(), 0x1111, 0).unwrap();
        assert_eq!((unknown.jitter_ms, unknown.max_jitter_ms), (None, None));
        assert_eq!(unknown.jitter_rtp_units, Some(160));
        // LSR 0: no RTT, nothing unmatched.
        assert!(r.rtt.is_none());
        assert_eq!(t.counters().rtt_unmatched, 0);
    }

    #[test]
    fn negative_and_unmatched_rtt_are_counted_not_averaged() {
        let mut t = RtcpTracker::new(16);
        t.handle_packet(
            at(10, 0),
            ep(A, 5001),
            ep(B, 6001),
            PLAIN,
            &sr(0x1111, 0x0000_0001_8000_0000),
        );
        // RR 100 ms after the SR claims it held the SR for 0.5 s.
        t.handle_packet(
            at(10, 100_000_000),
            ep(B, 6001),
            ep(A, 5001),
            PLAIN,
            &rr(0x2222, 0x1111, 0, 0, 0x0001_8000, 32768),
        );
        // LSR of an SR the probe never saw.
        t.handle_packet(
            at(11, 0),
            ep(B, 6001),
            ep(A, 5001),
            PLAIN,
            &rr(0x2222, 0x1111, 0, 0, 0x0009_0000, 10),
        );
        let r = t.report_for(PLAIN, A.into(), 0x1111, 8000).unwrap();
        assert!(r.rtt.is_none());
        assert_eq!(r.rtt_negative_samples, 1);
        let c = t.counters();
        assert_eq!(
            (c.rtt_samples, c.rtt_negative_samples, c.rtt_unmatched),
            (0, 1, 1)
        );
    }

    /// rtcp/rtcp-compound-sr-rr-sdes-sll.pcap, frames 1–5 (UDP payloads and
    /// capture times): SR+SDES from 217.12.244.34:25963 (SSRC 0x5d931534),
    /// RR+SDES from 217.12.247.98:31601 (SSRC 0x01932db4).
    fn sll_capture() -> Vec<(PacketTime, Endpoint, Endpoint, Vec<u8>)> {
        let sdes_5d = "81ca000e5d931534010835643933313533340725467265655357495443482e6f7267202d2d20436f6d6520746f20436c7565436f6e2e636f6d000000";
        let sdes_01 = "81ca000e01932db40107313933326462340725467265655357495443482e6f7267202d2d20436f6d6520746f20436c7565436f6e2e636f6d00000000";
        let x = ep([217, 12, 244, 34], 25963);
        let y = ep([217, 12, 247, 98], 31601);
        vec![
            (at(1_502_626_544, 321_377_000), x, y, hex(&format!("81c8000c5d931534dd3ac1704d614df800007d00000000c800007d00000000000000000100000000000000000000000000000000{sdes_5d}"))),
            (at(1_502_626_544, 329_483_000), y, x, hex(&format!("81c9000701932db400000000010000010000bec2000000010000000000000000{sdes_01}"))),
            (at(1_502_626_548, 341_364_000), x, y, hex(&format!("81c8000c5d931534dd3ac17452808c820000faa0000001910000faa001932db40000000100000000000000000000000000000000{sdes_5d}"))),
            (at(1_502_626_548, 349_503_000), y, x, hex(&format!("81c9000701932db45d931534000000010000bf8b00000006c1704d610004051c{sdes_01}"))),
            (at(1_502_626_552, 361_361_000), x, y, hex(&format!("81c8000c5d931534dd3ac178579d2bf5000178400000025a0001784001932db40000000100000000000000000000000000000000{sdes_5d}"))),
        ]
    }

    #[test]
    fn real_compounds_match_tshark_counts_and_give_rtt() {
        let mut t = RtcpTracker::new(16);
        for (time, src, dst, payload) in sll_capture() {
            assert!(t.handle_packet(time, src, dst, PLAIN, &payload));
        }
        let c = t.counters();
        // Ground truth (tshark): SR 3, RR 2, SDES 5.
        assert_eq!((c.packets.sr, c.packets.rr, c.packets.sdes), (3, 2, 5));
        assert_eq!(c.compound_packets, 5);
        assert_eq!(c.malformed, 0);
        // Frames 1 and 2 carry a block about SSRC 0 (as sent).
        assert_eq!(c.report_blocks, 5);
        let x_ip: IpAddr = Ipv4Addr::new(217, 12, 244, 34).into();
        let r = t.report_for(PLAIN, x_ip, 0x5d93_1534, 8000).unwrap();
        assert_eq!(r.sender_reports, 3);
        assert_eq!(r.cname.as_deref(), Some("5d931534"));
        assert_eq!(r.receiver_reports, 1);
        // Frame 4: jitter 6 at 8 kHz.
        assert_eq!(r.jitter_ms, Some(0.75));
        assert_eq!(r.cumulative_lost, Some(1));
        // Frame 4 echoes frame 1's SR: (548.349503 − 544.321377) s − 0x4051c/65536 s.
        let rtt = r.rtt.unwrap();
        assert_eq!(rtt.samples, 1);
        assert!(
            (rtt.mean_ms - 8.167_503_906_25).abs() < 1e-6,
            "{}",
            rtt.mean_ms
        );
        // The other side sent RRs only, plus its CNAME; SRs from x report on it.
        let y_ip: IpAddr = Ipv4Addr::new(217, 12, 247, 98).into();
        let r = t.report_for(PLAIN, y_ip, 0x0193_2db4, 8000).unwrap();
        assert_eq!(r.sender_reports, 0);
        assert_eq!(r.cname.as_deref(), Some("1932db4"));
        assert_eq!(r.receiver_reports, 2);
    }

    #[test]
    fn rtt_from_volte_relay_frames() {
        // volte/volte-call-ipsec-both-ends.pcapng frame 852: SR (SSRC 0x000e61f1)
        // relayed by 10.4.128.21 to 192.168.101.3; frame 969: that UE's SR+RR
        // back, block about 0x000e61f1 with LSR 0x0100c5cb, DLSR 0x1520e.
        let relay = ep([10, 4, 128, 21], 30635);
        let ue = ep([192, 168, 101, 3], 1243);
        let f852 = hex("81c8000c000e61f1e2440100c5cbccf29a4d1264000000120000044a003268d00000000000007b8a00000002000000000000000081ca0002000e61f101000000");
        let f969 = hex("81c8000c003268d0e2440101ef0e3cd99a7161c60000004b000010f5000e61f10000000000007b62000000030100c5cb0001520e81ca0002003268d001000000");
        let mut t = RtcpTracker::new(16);
        assert!(t.handle_packet(at(1_587_118_721, 428_231_460), relay, ue, PLAIN, &f852));
        assert!(t.handle_packet(at(1_587_118_722, 764_466_001), ue, relay, PLAIN, &f969));
        let r = t.report_for(PLAIN, relay.ip, 0x000e_61f1, 16000).unwrap();
        // (722.764466001 − 721.428231460) s − 86542/65536 s.
        let rtt = r.rtt.unwrap();
        assert!(
            (rtt.mean_ms - 15.708_417_953_125).abs() < 1e-6,
            "{}",
            rtt.mean_ms
        );
        assert_eq!(r.cname.as_deref(), Some(""));
        // Same SSRC seen from another IP is another source.
        assert!(t.report_for(PLAIN, ue.ip, 0x000e_61f1, 16000).is_none());
        assert!(t
            .report_for(Observation::GtpU { teid: 1 }, relay.ip, 0x000e_61f1, 16000)
            .is_none());
    }

    #[test]
    fn malformed_compound_keeps_what_was_read_before() {
        let mut t = RtcpTracker::new(16);
        let mut p = sr(0x1111, 0x0000_0001_8000_0000);
        p.extend(hex("81ca0009 00001111 0103414243")); // SDES length lies
        assert!(!t.handle_packet(at(1, 0), ep(A, 5001), ep(B, 6001), PLAIN, &p));
        let c = t.counters();
        assert_eq!(
            (
                c.compound_packets,
                c.malformed,
                c.malformed_by_reason.bad_length
            ),
            (0, 1, 1)
        );
        assert_eq!((c.packets.sr, c.packets.sdes), (1, 0));
        assert_eq!(
            t.report_for(PLAIN, A.into(), 0x1111, 8000)
                .unwrap()
                .sender_reports,
            1
        );
        assert!(!t.handle_packet(at(1, 0), ep(A, 5001), ep(B, 6001), PLAIN, &[]));
        assert!(!t.handle_packet(
            at(1, 0),
            ep(A, 5001),
            ep(B, 6001),
            PLAIN,
            &hex("82c90001 00001111")
        ));
        let c = t.counters();
        assert_eq!(
            (
                c.malformed,
                c.malformed_by_reason.too_short,
                c.malformed_by_reason.bad_count
            ),
            (3, 1, 1)
        );
    }

    #[test]
    fn sdes_bye_app_and_feedback() {
        let mut t = RtcpTracker::new(16);
        // Made up: SR, SDES CNAME "alice@host", APP, PSFB, BYE with reason.
        let mut p = sr(0x1111, 1);
        p.extend(hex("81ca0005 00001111 010a616c69636540686f7374 00000000"));
        p.extend(hex("80cc0002 00001111 41424344"));
        p.extend(hex("81ce0002 00001111 00002222"));
        p.extend(hex("81cb0002 00001111 03627965"));
        assert!(t.handle_packet(at(1, 0), ep(A, 5001), ep(B, 6001), PLAIN, &p));
        let c = t.counters();
        assert_eq!(
            (
                c.packets.sr,
                c.packets.sdes,
                c.packets.app,
                c.packets.psfb,
                c.packets.bye
            ),
            (1, 1, 1, 1, 1)
        );
        let r = t.report_for(PLAIN, A.into(), 0x1111, 8000).unwrap();
        assert_eq!(r.cname.as_deref(), Some("alice@host"));
        assert!(r.bye);
        assert_eq!(r.receiver_reports, 0);
        assert_eq!(r.jitter_ms, None);
    }

    /// Made up from RFC 3611 (no XR capture exists): XR from 0xaaaaaaaa with a
    /// Statistics Summary about 0xbbbbbbbb (L, D, J, ToH = TTL), an unknown
    /// block type 42, and VoIP Metrics about 0xbbbbbbbb.
    fn xr_sample() -> Vec<u8> {
        hex("80cf0016 aaaaaaaa
             06e80009 bbbbbbbb 0064 01f4 00000005 00000002
                      00000010 000000a0 00000030 00000008 3c40 3e 01
             2a000001 deadbeef
             07000008 bbbbbbbb 0d 05 80 02 0078 0bb8 0096 0028
                      ec b0 7f 10 5d 7f 29 7f b8 00 0028 0064 00c8")
    }

    #[test]
    fn xr_blocks_attach_to_the_source_reported_on() {
        let mut t = RtcpTracker::new(16);
        assert!(t.handle_packet(at(1, 0), ep(B, 6001), ep(A, 5001), PLAIN, &xr_sample()));
        let c = t.counters();
        assert_eq!(c.packets.xr, 1);
        assert_eq!(
            (
                c.xr_blocks.statistics_summary,
                c.xr_blocks.voip_metrics,
                c.xr_blocks.other
            ),
            (1, 1, 1)
        );
        let r = t.report_for(PLAIN, A.into(), 0xbbbb_bbbb, 8000).unwrap();
        let v = r.xr_voip_metrics.unwrap();
        assert_eq!(v.reporter_ssrc, 0xaaaa_aaaa);
        assert_eq!(v.mos_lq, Some(4.1));
        assert_eq!(v.mos_cq, None);
        assert_eq!(v.r_factor, Some(93));
        assert_eq!(v.rerl_db, None);
        assert_eq!(v.signal_level_dbm0, Some(-20));
        assert_eq!(v.burst_density_pct, 50.0);
        assert_eq!(
            (v.plc, v.jitter_buffer, v.jb_rate),
            ("enhanced", "adaptive", 8)
        );
        assert_eq!(
            (v.round_trip_delay_ms, v.jb_nominal_ms, v.jb_abs_max_ms),
            (150, 40, 200)
        );
        let s = r.xr_statistics_summary.unwrap();
        assert_eq!(
            (s.begin_seq, s.end_seq, s.lost_packets, s.duplicate_packets),
            (100, 500, Some(5), Some(2))
        );
        assert_eq!(
            (
                s.min_jitter_ms,
                s.max_jitter_ms,
                s.mean_jitter_ms,
                s.dev_jitter_ms
            ),
            (Some(2.0), Some(20.0), Some(6.0), Some(1.0))
        );
        assert_eq!(
            (s.ttl_or_hop_limit, s.mean_ttl_or_hl),
            (Some("ttl"), Some(62))
        );
        let no_rate = t.report_for(PLAIN, A.into(), 0xbbbb_bbbb, 0).unwrap();
        assert_eq!(no_rate.xr_statistics_summary.unwrap().mean_jitter_ms, None);
    }

    #[test]
    fn rtt_from_xr_rrt_and_dlrr() {
        let mut t = RtcpTracker::new(16);
        // Made up: receiver R (0x3333) at A sends an RRT block at t = 20 s,
        // NTP middle 32 = 0x0014_0000; the sender at B answers at 20.300 s with
        // a DLRR about R holding it 0.25 s: RTT = 300 − 250 = 50 ms.
        let rrt = hex("80cf0004 00003333 04000002 00000014 00000000");
        let dlrr = hex("80cf0005 00004444 05000003 00003333 00140000 00004000");
        assert!(t.handle_packet(at(20, 0), ep(A, 5001), ep(B, 6001), PLAIN, &rrt));
        assert!(t.handle_packet(at(20, 300_000_000), ep(B, 6001), ep(A, 5001), PLAIN, &dlrr));
        let r = t.report_for(PLAIN, A.into(), 0x3333, 8000).unwrap();
        let rtt = r.rtt.unwrap();
        assert_eq!((rtt.samples, rtt.mean_ms), (1, 50.0));
        let c = t.counters();
        assert_eq!(
            (c.xr_blocks.receiver_reference_time, c.xr_blocks.dlrr),
            (1, 1)
        );
    }

    #[test]
    fn table_is_bounded_and_refusals_counted() {
        let mut t = RtcpTracker::new(1);
        assert!(t.handle_packet(at(1, 0), ep(A, 5001), ep(B, 6001), PLAIN, &sr(0x1111, 1)));
        // Valid packet, but its source finds the table full.
        assert!(t.handle_packet(at(1, 0), ep(A, 5001), ep(B, 6001), PLAIN, &sr(0x2222, 1)));
        assert!(t.handle_packet(at(2, 0), ep(A, 5001), ep(B, 6001), PLAIN, &sr(0x1111, 2)));
        assert_eq!(t.source_count(), 1);
        assert_eq!(t.counters().sources, 1);
        assert_eq!(t.counters().sources_refused_table_full, 1);
        assert_eq!(
            t.report_for(PLAIN, A.into(), 0x1111, 8000)
                .unwrap()
                .sender_reports,
            2
        );
        assert!(t.report_for(PLAIN, A.into(), 0x2222, 8000).is_none());
    }

    #[test]
    fn survives_truncations_and_byte_flips_of_real_compounds() {
        let mut inputs: Vec<Vec<u8>> = sll_capture().into_iter().map(|f| f.3).collect();
        inputs.push(xr_sample());
        let mut t = RtcpTracker::new(4);
        let mut handled = 0;
        for input in &inputs {
            for cut in 0..=input.len() {
                t.handle_packet(at(1, 0), ep(A, 1), ep(B, 2), PLAIN, &input[..cut]);
                handled += 1;
            }
            for i in 0..input.len() {
                for flip in [0x01u8, 0x20, 0x80, 0xff] {
                    let mut m = input.clone();
                    m[i] ^= flip;
                    t.handle_packet(at(2, 0), ep(B, 2), ep(A, 1), PLAIN, &m);
                    handled += 1;
                }
            }
        }
        let c = t.counters();
        assert_eq!(c.compound_packets + c.malformed, handled);
        assert!(t.source_count() <= 4);
    }

    #[test]
    fn cname_is_bounded_and_reused() {
        let mut slot = None;
        store_cname(&mut slot, b"abc");
        store_cname(&mut slot, b"abd");
        assert_eq!(slot.as_deref(), Some(&b"abd"[..]));
        let long = [b'x'; 300];
        store_cname(&mut slot, &long);
        assert_eq!(slot.map(|v| v.len()), Some(MAX_CNAME_BYTES));
    }
}
