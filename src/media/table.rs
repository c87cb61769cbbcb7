//! The table of RTP streams: finds streams, owns their statistics, bounds
//! their number.
//!
//! A packet belongs to a stream by `(observation, src, dst, SSRC)`. Streams
//! are found in two ways: a packet to or from an endpoint learned from SDP is
//! RTP at once; otherwise (if the heuristic is on) a UDP flow becomes a
//! stream when two consecutive packets look like RTP with the same SSRC and
//! near sequence numbers on ports ≥ 1024, one of them even. The first packet
//! waits in a one-packet probation slot, so a stream found by heuristic loses
//! nothing.
//!
//! Memory is bounded: at most `max_streams` streams and as many probation
//! slots; streams idle longer than `idle_timeout_ns` (packet time) are moved to
//! the finished list, and a new stream that finds the table full is refused
//! and counted.

use super::payload::{PayloadInfo, PayloadMap};
use super::stream::{StreamReport, StreamStats};
use super::{Counted, MediaPacket};
use crate::packet::{Endpoint, Observation};
use crate::time::PacketTime;
use serde::Serialize;
use std::collections::HashMap;

type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// Identity of a stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StreamKey {
    /// Observation point.
    pub observation: Observation,
    /// Sender.
    pub src: Endpoint,
    /// Receiver.
    pub dst: Endpoint,
    /// Synchronization source.
    pub ssrc: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct FlowKey {
    observation: Observation,
    src: Endpoint,
    dst: Endpoint,
}

/// Limits and switches of the stream table.
#[derive(Clone, Debug)]
pub struct StreamTableConfig {
    /// Streams tracked at once (default 100 000).
    pub max_streams: usize,
    /// Endpoints learned from SDP kept at once (default 100 000).
    pub max_learned_endpoints: usize,
    /// Find streams without signalling (default on).
    pub heuristic: bool,
    /// A stream with no packet for this long is finished (default 60 s).
    pub idle_timeout_ns: i64,
    /// An endpoint learned from SDP is forgotten this long after its last
    /// SDP mention or the last packet of a stream it defines (default
    /// 5 min: longer than a call rings; media that resumes after a longer
    /// hold comes with a re-INVITE's SDP). Without it a probe running for
    /// weeks would fill the table and learn nothing more.
    pub learned_idle_ns: i64,
}

impl Default for StreamTableConfig {
    fn default() -> Self {
        StreamTableConfig {
            max_streams: 100_000,
            max_learned_endpoints: 100_000,
            heuristic: true,
            idle_timeout_ns: 60 * 1_000_000_000,
            learned_idle_ns: 300 * 1_000_000_000,
        }
    }
}

/// Counters of the table's limits.
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct StreamTableCounters {
    /// Streams created.
    pub streams_created: u64,
    /// Streams finished because they were idle.
    pub streams_idle_finished: u64,
    /// New streams refused because the table was full.
    pub streams_refused_table_full: u64,
    /// Packets of refused streams.
    pub packets_refused_table_full: u64,
    /// Probation packets that never became a stream (replaced or aged out).
    pub heuristic_rejected: u64,
    /// SDP endpoints not learned because that table was full.
    pub learned_refused_table_full: u64,
    /// SDP endpoints forgotten after `learned_idle_ns` unused.
    pub learned_expired: u64,
}

impl StreamTableCounters {
    /// Adds a media shard's stream counters to the classifier's table's.
    /// The SDP endpoint counts are the classifier's table's alone: every
    /// shard learns (and forgets) the same endpoints.
    pub fn add(&mut self, other: &StreamTableCounters) {
        self.streams_created += other.streams_created;
        self.streams_idle_finished += other.streams_idle_finished;
        self.streams_refused_table_full += other.streams_refused_table_full;
        self.packets_refused_table_full += other.packets_refused_table_full;
        self.heuristic_rejected += other.heuristic_rejected;
    }
}

struct Entry {
    key: StreamKey,
    stats: StreamStats,
    first_frame: u64,
    /// The endpoint whose SDP defines payload types for this stream, if any.
    sdp_endpoint: Option<Endpoint>,
    last_payload_type: u8,
    last_payload: PayloadInfo,
}

/// A finished stream: identity, where it started, and its statistics.
#[derive(Clone, Debug)]
pub struct FinishedStream {
    /// Identity.
    pub key: StreamKey,
    /// Frame number of its first packet.
    pub first_frame: u64,
    /// Statistics.
    pub report: StreamReport,
}

/// What [`StreamTable::handle_packet`] did with a packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Admission {
    /// Counted in a stream.
    Counted,
    /// Counted in a new stream together with the packet that waited in
    /// probation before it (of `waited_bytes`): two packets counted.
    Promoted {
        /// The length of the packet that waited.
        waited_bytes: u64,
    },
    /// Held in probation (heuristic), or counted later if the flow proves to be RTP.
    Probation,
    /// Not RTP as far as the table can tell (no SDP, heuristic off or failed).
    NotRtp,
    /// RTP, but the table is full.
    Refused,
}

impl Admission {
    /// What `pkt`, admitted so, adds to the RTP counts.
    pub fn counted(self, pkt: &MediaPacket) -> Counted {
        match self {
            Admission::Counted => Counted {
                packets: 1,
                bytes: pkt.rtp.packet_len(),
            },
            Admission::Promoted { waited_bytes } => Counted {
                packets: 2,
                bytes: waited_bytes + pkt.rtp.packet_len(),
            },
            Admission::Probation | Admission::NotRtp | Admission::Refused => Counted::default(),
        }
    }
}

/// An endpoint learned from SDP: its payload types, and when it was last
/// mentioned or used.
struct Learned {
    payloads: PayloadMap,
    last_used: PacketTime,
}

/// All streams of one observation run.
pub struct StreamTable {
    config: StreamTableConfig,
    /// Stream identity → slot in `entries`. The map holds only small values,
    /// so the lookup every packet makes touches a compact table; the
    /// statistics (about a kilobyte each) live in the slab.
    streams: FastMap<StreamKey, u32>,
    entries: Vec<Option<Entry>>,
    free_slots: Vec<u32>,
    probation: FastMap<FlowKey, MediaPacket>,
    flow_ssrc: FastMap<FlowKey, u32>,
    learned: FastMap<Endpoint, Learned>,
    finished: Vec<FinishedStream>,
    counters: StreamTableCounters,
}

impl StreamTable {
    /// An empty table.
    pub fn new(config: StreamTableConfig) -> Self {
        StreamTable {
            config,
            streams: FastMap::default(),
            entries: Vec::new(),
            free_slots: Vec::new(),
            probation: FastMap::default(),
            flow_ssrc: FastMap::default(),
            learned: FastMap::default(),
            finished: Vec::new(),
            counters: StreamTableCounters::default(),
        }
    }

    /// Learns from SDP, at `now`, that `endpoint` receives (and sends) RTP
    /// with these payload types.
    pub fn learn_endpoint(&mut self, endpoint: Endpoint, payloads: PayloadMap, now: PacketTime) {
        if self.learned.len() >= self.config.max_learned_endpoints
            && !self.learned.contains_key(&endpoint)
        {
            self.counters.learned_refused_table_full += 1;
            return;
        }
        self.learned.insert(
            endpoint,
            Learned {
                payloads,
                last_used: now,
            },
        );
    }

    /// Marks the SDP endpoints among these RTCP endpoints (or the RTP
    /// ports beside them) as used at `now`.
    pub fn keep_learned(&mut self, src: &Endpoint, dst: &Endpoint, now: PacketTime) {
        for e in [src, dst] {
            let rtp = Endpoint::new(e.ip, e.port.wrapping_sub(e.port % 2));
            for candidate in [*e, rtp] {
                if let Some(learned) = self.learned.get_mut(&candidate) {
                    learned.last_used = learned.last_used.max(now);
                }
            }
        }
    }

    /// SDP endpoints known now.
    pub fn learned_endpoints(&self) -> usize {
        self.learned.len()
    }

    /// Whether streams are found without signalling.
    pub fn heuristic_enabled(&self) -> bool {
        self.config.heuristic
    }

    /// Whether `endpoint` was learned from SDP.
    pub fn is_learned(&self, endpoint: &Endpoint) -> bool {
        !self.learned.is_empty() && self.learned.contains_key(endpoint)
    }

    /// The SDP endpoint that applies to a packet: the receiver's first (its
    /// SDP says what it accepts), else the sender's.
    fn sdp_endpoint(&self, src: &Endpoint, dst: &Endpoint) -> Option<Endpoint> {
        if self.learned.is_empty() {
            return None;
        }
        [dst, src]
            .into_iter()
            .find(|e| self.learned.contains_key(e))
            .copied()
    }

    fn resolve(&self, sdp_endpoint: Option<Endpoint>, pt: u8) -> PayloadInfo {
        match sdp_endpoint.and_then(|e| self.learned.get(&e)) {
            Some(learned) => learned.payloads.resolve(pt),
            None => PayloadInfo::from_static(pt),
        }
    }

    /// Adds one RTP packet (already parsed).
    pub fn handle_packet(&mut self, pkt: &MediaPacket) -> Admission {
        let key = Self::key_of(pkt);
        match self.streams.get(&key).copied() {
            Some(slot) => self.count_in(slot, pkt),
            None => self.admit(pkt),
        }
    }

    fn key_of(pkt: &MediaPacket) -> StreamKey {
        StreamKey {
            observation: pkt.observation,
            src: pkt.src,
            dst: pkt.dst,
            ssrc: pkt.rtp.ssrc,
        }
    }

    /// Adds a batch of RTP packets (in arrival order) and returns how many
    /// were counted in streams.
    ///
    /// With thousands of concurrent streams their state (about a kilobyte
    /// each) does not fit the L2 cache, and a packet at a time waits on memory
    /// for its stream. A batch first finds every packet's stream and touches
    /// its hot state, so the loads of the whole batch overlap; the packets are
    /// then counted in order, each finding its stream already in cache.
    pub fn handle_batch(&mut self, pkts: &[MediaPacket]) -> Counted {
        let mut slots = [None; MAX_BATCH];
        let mut warm = 0u64;
        for (slot, pkt) in slots.iter_mut().zip(pkts) {
            *slot = self.streams.get(&Self::key_of(pkt)).copied();
            if let Some(entry) = slot
                .and_then(|s| self.entries.get(s as usize))
                .and_then(Option::as_ref)
            {
                warm = warm.wrapping_add(entry.stats.touch());
            }
        }
        std::hint::black_box(warm);
        let mut counted = Counted::default();
        for (i, pkt) in pkts.iter().enumerate() {
            let admission = match slots.get(i).copied().flatten() {
                Some(slot) => self.count_in(slot, pkt),
                // A new stream, or one created earlier in this batch.
                None => self.handle_packet(pkt),
            };
            counted += admission.counted(pkt);
        }
        counted
    }

    /// Counts a packet in the stream at `slot`.
    fn count_in(&mut self, slot: u32, pkt: &MediaPacket) -> Admission {
        let Some(entry) = self.entries.get_mut(slot as usize).and_then(Option::as_mut) else {
            return self.admit(pkt);
        };
        if entry.last_payload_type != pkt.rtp.payload_type {
            let info = match entry.sdp_endpoint.and_then(|e| self.learned.get(&e)) {
                Some(learned) => learned.payloads.resolve(pkt.rtp.payload_type),
                None => PayloadInfo::from_static(pkt.rtp.payload_type),
            };
            entry.last_payload_type = pkt.rtp.payload_type;
            entry.last_payload = info;
        }
        entry.stats.handle_packet(pkt, entry.last_payload);
        Admission::Counted
    }

    /// A packet of no known stream: SDP endpoint, heuristic probation, or not RTP.
    fn admit(&mut self, pkt: &MediaPacket) -> Admission {
        let sdp_endpoint = self.sdp_endpoint(&pkt.src, &pkt.dst);
        let flow = FlowKey {
            observation: pkt.observation,
            src: pkt.src,
            dst: pkt.dst,
        };
        if sdp_endpoint.is_none() {
            if !self.config.heuristic || !heuristic_ports(&pkt.src, &pkt.dst) {
                return Admission::NotRtp;
            }
            match self.probation.get(&flow).copied() {
                Some(first) if continues(&first, pkt) => {
                    self.probation.remove(&flow);
                    if self.create(flow, &first, None) == Admission::Refused {
                        self.counters.packets_refused_table_full += 1;
                        return Admission::Refused;
                    }
                    return match self.handle_packet(pkt) {
                        Admission::Counted => Admission::Promoted {
                            waited_bytes: first.rtp.packet_len(),
                        },
                        other => other,
                    };
                }
                Some(_) => {
                    self.counters.heuristic_rejected += 1;
                    self.probation.insert(flow, *pkt);
                    return Admission::Probation;
                }
                None => {
                    if self.probation.len() >= self.config.max_streams {
                        self.counters.heuristic_rejected += 1;
                        return Admission::NotRtp;
                    }
                    self.probation.insert(flow, *pkt);
                    return Admission::Probation;
                }
            }
        }
        self.create(flow, pkt, sdp_endpoint)
    }

    fn create(
        &mut self,
        flow: FlowKey,
        pkt: &MediaPacket,
        sdp_endpoint: Option<Endpoint>,
    ) -> Admission {
        if self.streams.len() >= self.config.max_streams {
            self.counters.streams_refused_table_full += 1;
            self.counters.packets_refused_table_full += 1;
            return Admission::Refused;
        }
        let info = self.resolve(sdp_endpoint, pkt.rtp.payload_type);
        let mut stats = StreamStats::new(pkt, info);
        match self.flow_ssrc.insert(flow, pkt.rtp.ssrc) {
            Some(previous) if previous != pkt.rtp.ssrc => stats.note_ssrc_change(),
            _ => {}
        }
        self.counters.streams_created += 1;
        let key = StreamKey {
            observation: flow.observation,
            src: flow.src,
            dst: flow.dst,
            ssrc: pkt.rtp.ssrc,
        };
        let entry = Entry {
            key,
            stats,
            first_frame: pkt.frame,
            sdp_endpoint,
            last_payload_type: pkt.rtp.payload_type,
            last_payload: info,
        };
        let slot = match self.free_slots.pop() {
            Some(slot) => {
                self.entries[slot as usize] = Some(entry);
                slot
            }
            None => {
                self.entries.push(Some(entry));
                (self.entries.len() - 1) as u32
            }
        };
        self.streams.insert(key, slot);
        Admission::Counted
    }

    /// Finishes streams idle past the timeout at `now` (packet time) and drops
    /// stale probation slots.
    pub fn handle_timeout(&mut self, now: PacketTime) {
        let timeout = self.config.idle_timeout_ns;
        let idle = |t: PacketTime| now.as_nanos().saturating_sub(t.as_nanos()) > timeout;
        let mut done: Vec<(StreamKey, u32)> = self
            .entries
            .iter()
            .enumerate()
            .filter_map(|(slot, e)| e.as_ref().map(|e| (e, slot)))
            .filter(|(e, _)| idle(e.stats.last_time()))
            .map(|(e, slot)| (e.key, slot as u32))
            .collect();
        done.sort_unstable();
        for (key, slot) in done {
            self.streams.remove(&key);
            let Some(entry) = self.entries.get_mut(slot as usize).and_then(Option::take) else {
                continue;
            };
            self.free_slots.push(slot);
            self.counters.streams_idle_finished += 1;
            self.flow_ssrc.remove(&FlowKey {
                observation: key.observation,
                src: key.src,
                dst: key.dst,
            });
            self.finished.push(FinishedStream {
                key,
                first_frame: entry.first_frame,
                report: entry.stats.report(),
            });
        }
        let before = self.probation.len();
        self.probation.retain(|_, p| !idle(p.time));
        self.counters.heuristic_rejected += (before - self.probation.len()) as u64;
        self.forget_unused_endpoints(now);
    }

    /// Forgets the SDP endpoints unused for `learned_idle_ns`: neither
    /// mentioned again nor defining a stream that had a packet since.
    fn forget_unused_endpoints(&mut self, now: PacketTime) {
        if self.learned.is_empty() {
            return;
        }
        for entry in self.entries.iter().flatten() {
            if let Some(learned) = entry.sdp_endpoint.and_then(|e| self.learned.get_mut(&e)) {
                learned.last_used = learned.last_used.max(entry.stats.last_time());
            }
        }
        let keep = self.config.learned_idle_ns;
        let before = self.learned.len();
        self.learned
            .retain(|_, l| now.as_nanos().saturating_sub(l.last_used.as_nanos()) <= keep);
        self.counters.learned_expired += (before - self.learned.len()) as u64;
    }

    /// Streams currently tracked.
    pub fn active_streams(&self) -> usize {
        self.streams.len()
    }

    /// Counters.
    pub fn counters(&self) -> &StreamTableCounters {
        &self.counters
    }

    /// A stream idle this long is finished.
    pub fn idle_timeout_ns(&self) -> i64 {
        self.config.idle_timeout_ns
    }

    /// The 5-second samples the active streams completed since the last
    /// call: each stream's summary so far, with only those samples as its
    /// `intervals`.
    pub fn take_completed_samples(&mut self) -> Vec<FinishedStream> {
        self.entries
            .iter_mut()
            .flatten()
            .filter_map(|e| {
                let (mut report, samples) = e.stats.take_completed_samples()?;
                report.intervals = samples;
                Some(FinishedStream {
                    key: e.key,
                    first_frame: e.first_frame,
                    report,
                })
            })
            .collect()
    }

    /// Streams finished so far, taken out of the table (a live probe hands
    /// them on as it goes instead of keeping them to the end).
    pub fn take_finished(&mut self) -> Vec<FinishedStream> {
        std::mem::take(&mut self.finished)
    }

    /// Ends the run: every stream, finished or active, ordered by first frame
    /// (then identity), so output is deterministic.
    pub fn finish(mut self) -> (Vec<FinishedStream>, StreamTableCounters) {
        self.counters.heuristic_rejected += self.probation.len() as u64;
        let mut all = std::mem::take(&mut self.finished);
        all.extend(self.entries.drain(..).flatten().map(|e| FinishedStream {
            key: e.key,
            first_frame: e.first_frame,
            report: e.stats.report(),
        }));
        all.sort_by_key(|s| (s.first_frame, s.key));
        (all, self.counters)
    }
}

/// Most packets handed to [`StreamTable::handle_batch`] at once.
pub const MAX_BATCH: usize = 32;

/// Whether a packet of an unknown stream on these ports could become a stream
/// by heuristic (so its frame is ours whatever the table decides).
pub fn heuristic_eligible(src: &Endpoint, dst: &Endpoint) -> bool {
    heuristic_ports(src, dst)
}

/// Ports the heuristic accepts: both unprivileged, at least one even (RTP's
/// convention, RFC 3550 §11), which keeps DNS, SNMP, NTP and the like out.
fn heuristic_ports(src: &Endpoint, dst: &Endpoint) -> bool {
    src.port >= 1024
        && dst.port >= 1024
        && (src.port.is_multiple_of(2) || dst.port.is_multiple_of(2))
}

/// Whether `next` continues the flow whose previous packet was `first`: same
/// SSRC and a sequence number a little ahead (losses of a few packets allowed).
fn continues(first: &MediaPacket, next: &MediaPacket) -> bool {
    const MAX_STEP: u16 = 10;
    first.rtp.ssrc == next.rtp.ssrc && {
        let step = next.rtp.sequence.wrapping_sub(first.rtp.sequence);
        (1..=MAX_STEP).contains(&step)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::rtp::Repr;

    fn pkt(src_port: u16, ssrc: u32, seq: u16, ms: i64) -> MediaPacket {
        MediaPacket {
            time: PacketTime::from_nanos(ms * 1_000_000),
            frame: seq.into(),
            src: Endpoint::new([10, 0, 0, 1].into(), src_port),
            dst: Endpoint::new([10, 0, 0, 2].into(), 4000),
            observation: Observation::Plain,
            rtp: Repr {
                marker: false,
                payload_type: 0,
                sequence: seq,
                timestamp: u32::from(seq) * 160,
                ssrc,
                payload_len: 160,
                padding_len: 0,
                header_len: 12,
            },
        }
    }

    #[test]
    fn heuristic_keeps_the_probation_packet() {
        let mut t = StreamTable::new(StreamTableConfig::default());
        let mut first = pkt(5000, 7, 1, 0);
        first.rtp.payload_len = 80;
        assert_eq!(t.handle_packet(&first), Admission::Probation);
        let second = pkt(5000, 7, 2, 20);
        let promoted = t.handle_packet(&second);
        assert_eq!(
            promoted,
            Admission::Promoted {
                waited_bytes: 12 + 80
            }
        );
        // Both packets counted, each with its own length.
        assert_eq!(
            promoted.counted(&second),
            Counted {
                packets: 2,
                bytes: 92 + 172
            }
        );
        assert_eq!(t.handle_packet(&pkt(5000, 7, 3, 40)), Admission::Counted);
        let (streams, _) = t.finish();
        assert_eq!(streams.len(), 1);
        assert_eq!(streams[0].report.packets, 3);
    }

    #[test]
    fn heuristic_rejects_changing_ssrc_and_privileged_ports() {
        let mut t = StreamTable::new(StreamTableConfig::default());
        t.handle_packet(&pkt(5000, 7, 1, 0));
        assert_eq!(t.handle_packet(&pkt(5000, 8, 2, 20)), Admission::Probation);
        assert_eq!(t.handle_packet(&pkt(53, 8, 2, 20)), Admission::NotRtp);
        let (streams, counters) = t.finish();
        assert!(streams.is_empty());
        assert_eq!(counters.heuristic_rejected, 2);
    }

    #[test]
    fn learned_endpoint_needs_no_probation_and_resolves_payloads() {
        let mut t = StreamTable::new(StreamTableConfig {
            heuristic: false,
            ..Default::default()
        });
        let mut map = PayloadMap::default();
        map.insert(0, PayloadInfo::from_rtpmap("PCMU", 8000));
        t.learn_endpoint(
            Endpoint::new([10, 0, 0, 2].into(), 4000),
            map,
            PacketTime::from_nanos(0),
        );
        assert_eq!(t.handle_packet(&pkt(5001, 7, 1, 0)), Admission::Counted);
        let (streams, _) = t.finish();
        assert_eq!(streams[0].report.codec, Some("PCMU"));
    }

    #[test]
    fn sdp_endpoints_are_forgotten_when_unused_so_a_long_run_keeps_learning() {
        let mut t = StreamTable::new(StreamTableConfig {
            heuristic: false,
            max_learned_endpoints: 2,
            ..Default::default()
        });
        let minute = |m: i64| PacketTime::from_nanos(m * 60 * 1_000_000_000);
        let used = Endpoint::new([10, 0, 0, 2].into(), 4000);
        let idle = Endpoint::new([10, 0, 0, 9].into(), 6000);
        let later = Endpoint::new([10, 0, 0, 7].into(), 8000);
        t.learn_endpoint(used, PayloadMap::default(), minute(0));
        t.learn_endpoint(idle, PayloadMap::default(), minute(0));
        t.learn_endpoint(later, PayloadMap::default(), minute(1));
        assert_eq!(t.counters().learned_refused_table_full, 1);
        // A stream to `used` runs for ten minutes; nothing mentions `idle`.
        for second in 0..600 {
            let mut p = pkt(5000, 7, second as u16, second * 1000);
            p.rtp.timestamp = second as u32 * 8000;
            assert_eq!(t.handle_packet(&p), Admission::Counted);
            if second % 30 == 0 {
                t.handle_timeout(p.time);
            }
        }
        assert!(t.is_learned(&used), "in use: kept");
        assert!(!t.is_learned(&idle), "unused for five minutes: forgotten");
        assert_eq!(t.counters().learned_expired, 1);
        // Room again for what SDP announces next.
        t.learn_endpoint(later, PayloadMap::default(), minute(10));
        assert!(t.is_learned(&later));
        // RTCP on the port beside it keeps it too.
        t.keep_learned(
            &Endpoint::new([10, 0, 0, 1].into(), 5001),
            &Endpoint::new([10, 0, 0, 7].into(), 8001),
            minute(14),
        );
        t.handle_timeout(minute(18));
        assert!(t.is_learned(&later));
        t.handle_timeout(minute(20));
        assert!(!t.is_learned(&later) && !t.is_learned(&used));
        assert_eq!(t.learned_endpoints(), 0);
    }

    #[test]
    fn full_table_refuses_and_counts() {
        let mut t = StreamTable::new(StreamTableConfig {
            max_streams: 1,
            ..Default::default()
        });
        t.handle_packet(&pkt(5000, 1, 1, 0));
        t.handle_packet(&pkt(5000, 1, 2, 20));
        t.handle_packet(&pkt(6000, 2, 1, 0));
        assert_eq!(t.handle_packet(&pkt(6000, 2, 2, 20)), Admission::Refused);
        assert_eq!(t.counters().streams_refused_table_full, 1);
    }

    #[test]
    fn idle_streams_finish_and_ssrc_changes_count() {
        let mut t = StreamTable::new(StreamTableConfig::default());
        for s in 1..=3 {
            t.handle_packet(&pkt(5000, 1, s, i64::from(s) * 20));
        }
        for s in 10..=12 {
            t.handle_packet(&pkt(5000, 2, s, 100 + i64::from(s) * 20));
        }
        t.handle_timeout(PacketTime::from_nanos(120_000 * 1_000_000));
        assert_eq!(t.active_streams(), 0);
        let (streams, counters) = t.finish();
        assert_eq!(counters.streams_idle_finished, 2);
        assert_eq!(streams[1].report.ssrc_changes, 1);
    }
}
