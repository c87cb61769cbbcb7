//! Statistics of one RTP stream.
//!
//! Two families of numbers are kept side by side, because users check both:
//!
//! - **Timing, as Wireshark computes it** (`tshark -z rtp,streams`, from
//!   `rtppacket_analyse` in Wireshark 4.0): interarrival jitter by RFC 3550
//!   §6.4.1 (`J += (|D| − J)/16`) in milliseconds, its mean and maximum, and the
//!   arrival delta between packets. The same packets are left out as in
//!   Wireshark (the first, marker packets, comfort noise and the packet after
//!   it, packets whose timestamp goes back before the stream's first), and the
//!   clock rate is converted with the same integer milliseconds, so the figures
//!   match Wireshark's to its printed precision. Packets whose clock rate is
//!   unknown (telephone-event, dynamic types with no SDP) take no part in
//!   jitter, as in Wireshark.
//! - **Sequence, as RFC 3550 Appendix A.1 defines it**: the extended highest
//!   sequence number, `expected = max − base + 1`, `lost = expected −
//!   received` (negative with duplicates, as Wireshark shows it), plus what
//!   Wireshark lumps into one "wrong sequence" count told apart: duplicates,
//!   out-of-order arrivals, sequence wraps, and the lengths of loss runs. A
//!   1024-packet window of seen sequence numbers (128 bytes, no allocation)
//!   decides duplicates and closes loss runs once a hole can no longer be
//!   filled by a late packet.

use super::jitter_buffer::{JitterBufferStats, JitterBuffers, Kind, FIXED_LONG_MS, FIXED_SHORT_MS};
use super::payload::{PayloadInfo, PayloadKind};
use super::MediaPacket;
use crate::time::PacketTime;
use serde::Serialize;

/// Number of sequence numbers the duplicate/loss-run window covers.
pub const SEQ_WINDOW: usize = 1024;
const WINDOW_WORDS: usize = SEQ_WINDOW / 64;

/// Buckets of the loss-run histogram: bucket `i` counts runs of `i + 1` lost
/// packets; the last counts runs of `LOSS_RUN_BUCKETS` or more.
pub const LOSS_RUN_BUCKETS: usize = 16;

/// Everything measured about one stream. Updated per packet without
/// allocating; read through [`StreamStats::report`].
#[derive(Clone, Debug)]
pub struct StreamStats {
    first_time: PacketTime,
    last_time: PacketTime,
    packets: u64,
    payload_bytes: u64,
    markers: u64,
    telephone_events: u64,
    comfort_noise: u64,
    payload_types_seen: [u64; 2],
    first_payload: PayloadInfo,
    first_payload_type: u8,
    clock_rate: u32,
    ssrc_changes: u32,
    timing: WiresharkTiming,
    sequence: SequenceTracker,
    buffers: JitterBuffers<JITTER_BUFFERS>,
    interval: IntervalAccumulator,
    intervals: Vec<IntervalSample>,
    intervals_dropped: u64,
    /// Completed samples already handed out while the stream runs.
    samples_taken: usize,
}

/// The emulated jitter buffers, in this order: fixed 50 ms, fixed 200 ms,
/// adaptive. A phone drops a packet that misses its playout time, so each
/// buffer gives its own loss and its own MOS.
pub const JITTER_BUFFERS: usize = 3;
/// Names of the emulated jitter buffers, as in the JSON output.
pub const JITTER_BUFFER_NAMES: [&str; JITTER_BUFFERS] = ["fixed_50ms", "fixed_200ms", "adaptive"];
/// Index of the buffer whose figures are the stream's headline MOS.
pub const HEADLINE_BUFFER: usize = 2;

fn jitter_buffers() -> JitterBuffers<JITTER_BUFFERS> {
    JitterBuffers::new([
        Kind::Fixed {
            delay_ms: FIXED_SHORT_MS,
        },
        Kind::Fixed {
            delay_ms: FIXED_LONG_MS,
        },
        Kind::Adaptive,
    ])
}

/// Quality samples are taken over this period of packet time, on a grid
/// aligned to the epoch so samples of different streams line up.
pub const INTERVAL_NS: i64 = 5_000_000_000;
/// Most samples kept per stream (24 h of 5-second samples); later ones are
/// counted, not kept.
pub const MAX_INTERVALS: usize = 17_280;
/// Samples reserved at stream creation, so the first minute and a half
/// allocates nothing more.
const INITIAL_INTERVALS: usize = 16;

impl StreamStats {
    /// A stream whose first packet is `pkt`.
    pub fn new(pkt: &MediaPacket, payload: PayloadInfo) -> Self {
        let mut s = StreamStats {
            first_time: pkt.time,
            last_time: pkt.time,
            packets: 0,
            payload_bytes: 0,
            markers: 0,
            telephone_events: 0,
            comfort_noise: 0,
            payload_types_seen: [0; 2],
            first_payload: payload,
            first_payload_type: pkt.rtp.payload_type,
            clock_rate: 0,
            ssrc_changes: 0,
            timing: WiresharkTiming::new(pkt),
            sequence: SequenceTracker::new(pkt.rtp.sequence),
            buffers: jitter_buffers(),
            interval: IntervalAccumulator::new(pkt.time, i64::from(pkt.rtp.sequence) - 1),
            intervals: Vec::with_capacity(INITIAL_INTERVALS),
            intervals_dropped: 0,
            samples_taken: 0,
        };
        s.play(pkt, payload);
        s.count(pkt, payload);
        s
    }

    /// Adds one packet. `payload` is what its payload type means for this stream.
    pub fn handle_packet(&mut self, pkt: &MediaPacket, payload: PayloadInfo) {
        if pkt.time >= self.interval.end {
            self.close_interval();
            self.interval = IntervalAccumulator::new(pkt.time, self.sequence.max);
        }
        self.timing.handle_packet(pkt, payload);
        let duplicate = self.sequence.handle_sequence(pkt.rtp.sequence);
        if !duplicate {
            self.play(pkt, payload);
        }
        self.count(pkt, payload);
    }

    /// Feeds the jitter buffers with a packet that is new media (not a
    /// duplicate, not a telephone event, with a known clock rate).
    fn play(&mut self, pkt: &MediaPacket, payload: PayloadInfo) {
        if !matches!(payload.kind, PayloadKind::Media | PayloadKind::ComfortNoise)
            || payload.clock_rate == 0
        {
            return;
        }
        let mut late = [false; JITTER_BUFFERS];
        self.buffers.handle_packet(
            pkt.time,
            pkt.rtp.timestamp,
            payload.clock_rate,
            pkt.rtp.marker,
            &mut late,
        );
        for (count, late) in self.interval.late.iter_mut().zip(late) {
            *count += u64::from(late);
        }
    }

    fn close_interval(&mut self) {
        let sample = self.interval.sample(self.sequence.max);
        if self.intervals.len() < MAX_INTERVALS {
            self.intervals.push(sample);
        } else {
            self.intervals_dropped += 1;
        }
    }

    fn count(&mut self, pkt: &MediaPacket, payload: PayloadInfo) {
        self.last_time = pkt.time;
        self.packets += 1;
        self.interval.packets += 1;
        let jitter = self.timing.jitter;
        self.interval.jitter_sum += jitter;
        self.interval.jitter_max = self.interval.jitter_max.max(jitter);
        self.payload_bytes += u64::from(pkt.rtp.payload_len);
        let pt = pkt.rtp.payload_type & 0x7f;
        self.payload_types_seen[usize::from(pt >> 6)] |= 1 << (pt & 63);
        self.markers += u64::from(pkt.rtp.marker);
        match payload.kind {
            PayloadKind::TelephoneEvent => self.telephone_events += 1,
            PayloadKind::ComfortNoise => self.comfort_noise += 1,
            PayloadKind::Media if payload.clock_rate != 0 => self.clock_rate = payload.clock_rate,
            _ => {}
        }
    }

    /// Reads one value from each part of the state a packet updates, so that a
    /// batch can bring many streams into cache at once (see
    /// `StreamTable::handle_batch`). Returns a value only to keep the reads.
    pub fn touch(&self) -> u64 {
        (self.packets)
            .wrapping_add(self.timing.total)
            .wrapping_add(self.sequence.max as u64)
            .wrapping_add(self.sequence.window[(self.sequence.max as usize / 64) % WINDOW_WORDS])
            .wrapping_add(self.buffers.touch())
            .wrapping_add(self.interval.packets)
            .wrapping_add(self.last_time.as_nanos() as u64)
    }

    /// Records that the flow switched to this stream's SSRC from another one.
    pub fn note_ssrc_change(&mut self) {
        self.ssrc_changes += 1;
    }

    /// Packets received.
    pub fn packets(&self) -> u64 {
        self.packets
    }

    /// Time of the last packet.
    pub fn last_time(&self) -> PacketTime {
        self.last_time
    }

    /// The summary of everything measured so far.
    pub fn report(&self) -> StreamReport {
        let mut report = self.summary();
        report.intervals = self.intervals.clone();
        if report.intervals.len() < MAX_INTERVALS && self.interval.packets > 0 {
            report
                .intervals
                .push(self.interval.sample(self.sequence.max));
        }
        report
    }

    /// The 5-second samples completed since the last call, with the summary
    /// so far (whose own `intervals` is empty): what a live probe reports
    /// while the stream runs. `None` when no sample completed since.
    pub fn take_completed_samples(&mut self) -> Option<(StreamReport, Vec<IntervalSample>)> {
        let new = self.intervals.get(self.samples_taken..)?;
        if new.is_empty() {
            return None;
        }
        let samples = new.to_vec();
        self.samples_taken = self.intervals.len();
        Some((self.summary(), samples))
    }

    /// The summary without its samples.
    fn summary(&self) -> StreamReport {
        let seq = self.sequence.summary();
        let t = &self.timing;
        let lost = seq.expected as i64 - self.packets as i64;
        StreamReport {
            payload_type: self.first_payload_type,
            codec: self.first_payload.name,
            clock_rate: self.clock_rate,
            payload_types: (0..128u8)
                .filter(|pt| self.payload_types_seen[usize::from(pt >> 6)] & (1 << (pt & 63)) != 0)
                .collect(),
            packets: self.packets,
            payload_bytes: self.payload_bytes,
            expected: seq.expected,
            lost,
            lost_percent: if seq.expected > 0 {
                lost as f64 * 100.0 / seq.expected as f64
            } else {
                0.0
            },
            duplicates: seq.duplicates,
            out_of_order: seq.out_of_order,
            seq_errors: t.seq_errors,
            seq_wraps: seq.wraps,
            ssrc_changes: self.ssrc_changes,
            max_delta_ms: t.max_delta,
            mean_delta_ms: t.mean_delta,
            min_delta_ms: if t.min_delta < 0.0 { 0.0 } else { t.min_delta },
            mean_jitter_ms: t.mean_jitter,
            max_jitter_ms: t.max_jitter,
            markers: self.markers,
            telephone_events: self.telephone_events,
            comfort_noise: self.comfort_noise,
            loss_runs: seq.loss_runs,
            max_loss_run: seq.max_loss_run,
            first_time: self.first_time,
            last_time: self.last_time,
            jitter_buffers: self.buffers.stats(),
            intervals: Vec::new(),
            intervals_dropped: self.intervals_dropped,
            quality: None,
        }
    }
}

fn interval_index(t: PacketTime) -> i64 {
    t.as_nanos().div_euclid(INTERVAL_NS)
}

/// The counts of the interval in progress.
#[derive(Clone, Copy, Debug)]
struct IntervalAccumulator {
    index: i64,
    /// Start of the next interval: one comparison per packet, no division.
    end: PacketTime,
    /// Highest extended sequence number before the interval began.
    seq_before: i64,
    packets: u64,
    jitter_sum: f64,
    jitter_max: f64,
    late: [u64; JITTER_BUFFERS],
}

impl IntervalAccumulator {
    fn new(time: PacketTime, seq_before: i64) -> Self {
        let index = interval_index(time);
        IntervalAccumulator {
            index,
            end: PacketTime::from_nanos(index.saturating_add(1).saturating_mul(INTERVAL_NS)),
            seq_before,
            packets: 0,
            jitter_sum: 0.0,
            jitter_max: 0.0,
            late: [0; JITTER_BUFFERS],
        }
    }

    fn sample(&self, seq_max: i64) -> IntervalSample {
        let expected = (seq_max - self.seq_before).max(0) as u64;
        IntervalSample {
            start: PacketTime::from_nanos(self.index.saturating_mul(INTERVAL_NS)),
            packets: self.packets,
            expected,
            lost: expected as i64 - self.packets as i64,
            mean_jitter_ms: if self.packets > 0 {
                self.jitter_sum / self.packets as f64
            } else {
                0.0
            },
            max_jitter_ms: self.jitter_max,
            late: self.late,
            mos: None,
            r: None,
        }
    }
}

/// Quality over one 5-second interval of a stream.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct IntervalSample {
    /// Start of the interval (a multiple of 5 s since the epoch).
    #[serde(serialize_with = "crate::export::json::serialize_time")]
    pub start: PacketTime,
    /// Packets received in it.
    pub packets: u64,
    /// Sequence numbers it covered (highest at its end − highest before it).
    pub expected: u64,
    /// `expected − packets` (negative with duplicates or late arrivals from the interval before).
    pub lost: i64,
    /// Mean RFC 3550 jitter over its packets (ms).
    pub mean_jitter_ms: f64,
    /// Largest RFC 3550 jitter in it (ms).
    pub max_jitter_ms: f64,
    /// Packets each emulated jitter buffer discarded as late, in the order of
    /// [`JITTER_BUFFER_NAMES`].
    pub late: [u64; JITTER_BUFFERS],
    /// MOS of the interval with the adaptive buffer, when the codec is known.
    pub mos: Option<f64>,
    /// R (narrowband scale) of the interval, when the codec is known.
    pub r: Option<f64>,
}

/// The owned summary of a stream (without its identity, which the table adds).
#[derive(Clone, Debug, Serialize)]
pub struct StreamReport {
    /// Payload type of the first packet.
    pub payload_type: u8,
    /// Its encoding name, when known.
    pub codec: Option<&'static str>,
    /// RTP clock rate used for jitter (0: unknown, no jitter computed).
    pub clock_rate: u32,
    /// Every payload type seen.
    pub payload_types: Vec<u8>,
    /// Packets received (duplicates included, as RFC 3550 counts them).
    pub packets: u64,
    /// RTP payload bytes.
    pub payload_bytes: u64,
    /// `extended highest sequence − base sequence + 1`.
    pub expected: u64,
    /// `expected − packets` (negative when duplicates outnumber losses).
    pub lost: i64,
    /// `lost` as a percentage of `expected`.
    pub lost_percent: f64,
    /// Packets whose sequence number was already received.
    pub duplicates: u64,
    /// Packets older than the highest sequence number seen (not duplicates).
    pub out_of_order: u64,
    /// Wireshark's "wrong sequence" count: every arrival that was not the
    /// next sequence number.
    pub seq_errors: u64,
    /// Times the 16-bit sequence number wrapped.
    pub seq_wraps: u32,
    /// Times the flow switched to this SSRC from another.
    pub ssrc_changes: u32,
    /// Largest arrival gap between consecutive regular packets (ms).
    pub max_delta_ms: f64,
    /// Mean arrival gap (ms).
    pub mean_delta_ms: f64,
    /// Smallest arrival gap (ms).
    pub min_delta_ms: f64,
    /// Mean RFC 3550 interarrival jitter (ms).
    pub mean_jitter_ms: f64,
    /// Largest RFC 3550 interarrival jitter (ms).
    pub max_jitter_ms: f64,
    /// Packets with the marker bit.
    pub markers: u64,
    /// RFC 4733 telephone-event packets.
    pub telephone_events: u64,
    /// Comfort-noise packets.
    pub comfort_noise: u64,
    /// Loss-run histogram: index `i` counts runs of `i + 1` consecutive lost
    /// packets; the last bucket counts runs of 16 or more.
    pub loss_runs: [u64; LOSS_RUN_BUCKETS],
    /// Longest run of consecutive lost packets.
    pub max_loss_run: u64,
    /// Arrival of the first packet.
    #[serde(skip)]
    pub first_time: PacketTime,
    /// Arrival of the last packet.
    #[serde(skip)]
    pub last_time: PacketTime,
    /// What each emulated jitter buffer did, in the order of [`JITTER_BUFFER_NAMES`].
    #[serde(skip)]
    pub jitter_buffers: [JitterBufferStats; JITTER_BUFFERS],
    /// Quality per 5-second interval.
    #[serde(skip)]
    pub intervals: Vec<IntervalSample>,
    /// Intervals not kept past [`MAX_INTERVALS`].
    #[serde(skip)]
    pub intervals_dropped: u64,
    /// E-model rating, once computed (see [`crate::media::quality`]).
    #[serde(skip)]
    pub quality: Option<crate::media::quality::StreamQuality>,
}

/// Timing state with the semantics of Wireshark 4.0's `rtppacket_analyse`,
/// so jitter and delta agree with `tshark -z rtp,streams`.
#[derive(Clone, Debug)]
struct WiresharkTiming {
    start: PacketTime,
    first_timestamp: u32,
    /// Arrival (ms since `start`) of the last packet in time sequence.
    last_time_ms: f64,
    last_nominal_ms: f64,
    seq_num: u16,
    payload_type: u8,
    jitter: f64,
    max_jitter: f64,
    mean_jitter: f64,
    delta: f64,
    max_delta: f64,
    min_delta: f64,
    mean_delta: f64,
    /// Packets so far (Wireshark's `total_nr`).
    total: u64,
    seq_errors: u64,
}

impl WiresharkTiming {
    fn new(first: &MediaPacket) -> Self {
        WiresharkTiming {
            start: first.time,
            first_timestamp: first.rtp.timestamp,
            last_time_ms: 0.0,
            last_nominal_ms: 0.0,
            seq_num: first.rtp.sequence,
            payload_type: first.rtp.payload_type,
            jitter: 0.0,
            max_jitter: 0.0,
            mean_jitter: 0.0,
            delta: 0.0,
            max_delta: 0.0,
            min_delta: -1.0,
            mean_delta: 0.0,
            total: 1,
            seq_errors: 0,
        }
    }

    fn handle_packet(&mut self, pkt: &MediaPacket, payload: PayloadInfo) {
        let now_ms = pkt.time.millis_since(self.start);
        let seq = pkt.rtp.sequence;
        let ts = pkt.rtp.timestamp;

        // "In time sequence": within half the timestamp space after the first
        // packet's timestamp, with Wireshark's exact test for the wrapped case.
        let first = i64::from(self.first_timestamp);
        let ts64 = i64::from(ts);
        let in_time_sequence = if first <= ts64 {
            ts64 - first < 0x8000_0000
        } else {
            first + (0xFFFF_FFFF - ts64) < 0x8000_0000
        };

        // Sequence: the next one, a jump forward (loss, or a wrap heuristic of
        // Wireshark issue 5958), or late/duplicate.
        let expected_next = u32::from(self.seq_num) + 1;
        let seq32 = u32::from(seq);
        let is_next = expected_next == seq32 || (self.seq_num == u16::MAX && seq == 0);
        if in_time_sequence && is_next {
            self.seq_num = seq;
        } else if in_time_sequence
            && (expected_next < seq32 || i32::from(self.seq_num) - i32::from(seq) > 0xFF00)
        {
            self.seq_num = seq;
            self.seq_errors += 1;
        } else if expected_next > seq32 {
            self.seq_errors += 1;
        }

        let pt = pkt.rtp.payload_type;
        let follows_cn = crate::proto::rtp::is_comfort_noise(self.payload_type);
        let is_cn = crate::proto::rtp::is_comfort_noise(pt);
        self.payload_type = pt;

        let clock_rate = match payload.kind {
            PayloadKind::TelephoneEvent | PayloadKind::Unknown => 0,
            PayloadKind::Media | PayloadKind::ComfortNoise => payload.clock_rate,
        };
        // Wireshark divides by the clock in whole kHz (integer division).
        let clock_khz = clock_rate / 1000;

        let mut current_jitter = 0.0;
        if in_time_sequence {
            if clock_khz != 0 {
                let nominal_ms =
                    f64::from(ts.wrapping_sub(self.first_timestamp)) / f64::from(clock_khz);
                let expected_ms = self.last_time_ms + (nominal_ms - self.last_nominal_ms);
                let diff = (now_ms - expected_ms).abs();
                current_jitter = (15.0 * self.jitter + diff) / 16.0;
                self.delta = now_ms - self.last_time_ms;
                self.jitter = current_jitter;
                self.last_nominal_ms = nominal_ms;
            } else {
                self.delta = now_ms - self.last_time_ms;
            }
        }

        let regular = !pkt.rtp.marker && !is_cn && in_time_sequence && !follows_cn;
        if regular {
            self.max_delta = self.max_delta.max(self.delta);
            if self.min_delta < 0.0 || self.delta < self.min_delta {
                self.min_delta = self.delta;
            }
            let n = self.total as f64;
            self.mean_delta = (self.mean_delta * (n - 1.0) + self.delta) / n;
            if clock_khz != 0 {
                self.max_jitter = self.max_jitter.max(self.jitter);
                self.mean_jitter = (self.mean_jitter * (n - 1.0) + current_jitter) / n;
            }
        }
        if in_time_sequence {
            self.last_time_ms = now_ms;
        }
        self.total += 1;
    }
}

/// RFC 3550 extended sequence numbers with a window of recently seen ones.
#[derive(Clone, Debug)]
struct SequenceTracker {
    base: i64,
    max: i64,
    /// Bit `s % SEQ_WINDOW` is set when extended sequence `s` (for `s` in
    /// `max − SEQ_WINDOW + 1 ..= max`) has been received.
    window: [u64; WINDOW_WORDS],
    duplicates: u64,
    out_of_order: u64,
    wraps: u32,
    runs: LossRuns,
}

#[derive(Clone, Copy, Debug, Default)]
struct LossRuns {
    current: u64,
    histogram: [u64; LOSS_RUN_BUCKETS],
    max: u64,
}

impl LossRuns {
    /// One sequence number leaves the window, received or not.
    fn settle(&mut self, received: bool) {
        if received {
            self.close();
        } else {
            self.current += 1;
        }
    }

    fn close(&mut self) {
        if self.current > 0 {
            let bucket = (self.current as usize).min(LOSS_RUN_BUCKETS) - 1;
            self.histogram[bucket] += 1;
            self.max = self.max.max(self.current);
            self.current = 0;
        }
    }
}

/// What the sequence tracker reports.
struct SequenceSummary {
    expected: u64,
    duplicates: u64,
    out_of_order: u64,
    wraps: u32,
    loss_runs: [u64; LOSS_RUN_BUCKETS],
    max_loss_run: u64,
}

impl SequenceTracker {
    fn new(first_seq: u16) -> Self {
        let base = i64::from(first_seq);
        let mut t = SequenceTracker {
            base,
            max: base,
            window: [0; WINDOW_WORDS],
            duplicates: 0,
            out_of_order: 0,
            wraps: 0,
            runs: LossRuns::default(),
        };
        t.set(base);
        t
    }

    fn slot(ext: i64) -> (usize, u64) {
        let i = ext.rem_euclid(SEQ_WINDOW as i64) as usize;
        (i / 64, 1u64 << (i % 64))
    }

    fn is_set(&self, ext: i64) -> bool {
        let (w, bit) = Self::slot(ext);
        self.window[w] & bit != 0
    }

    fn set(&mut self, ext: i64) {
        let (w, bit) = Self::slot(ext);
        self.window[w] |= bit;
    }

    fn take(&mut self, ext: i64) -> bool {
        let (w, bit) = Self::slot(ext);
        let was = self.window[w] & bit != 0;
        self.window[w] &= !bit;
        was
    }

    /// Takes one sequence number; returns whether it is a duplicate.
    fn handle_sequence(&mut self, seq: u16) -> bool {
        // The extended sequence nearest to the highest seen (RFC 3550 A.1
        // without probation: a jump of more than half the space reads as old).
        let step = i64::from(seq.wrapping_sub(self.max as u16) as i16);
        let ext = self.max + step;
        if ext > self.max {
            if (ext >> 16) > (self.max >> 16) {
                self.wraps += 1;
            }
            let window = SEQ_WINDOW as i64;
            // Sequence numbers that fall out of the window are settled; a jump
            // longer than the window settles whole unseen stretches as lost.
            let first_leaving = self.max + 1 - window;
            let last_leaving = ext - window;
            let mut s = first_leaving.max(self.base);
            while s <= last_leaving && s <= self.max {
                let received = self.take(s);
                self.runs.settle(received);
                s += 1;
            }
            // Slots of the entering sequence numbers were cleared by `take`
            // above; after a jump past the whole window, clear them all.
            if last_leaving > self.max {
                self.runs.current += (last_leaving - self.max) as u64;
                self.window = [0; WINDOW_WORDS];
            }
            self.max = ext;
            self.set(ext);
            false
        } else if ext > self.max - SEQ_WINDOW as i64 {
            if self.is_set(ext) {
                self.duplicates += 1;
                true
            } else {
                // A packet older than the first one received, reordered at the
                // start: the stream began earlier than we thought. Extending it
                // backwards keeps `lost` honest (Wireshark, whose base is fixed,
                // shows it as one packet of negative loss).
                self.base = self.base.min(ext);
                self.set(ext);
                self.out_of_order += 1;
                false
            }
        } else {
            // Older than the window (or before the first packet): late, and
            // too old to tell from a duplicate.
            self.out_of_order += 1;
            false
        }
    }

    fn summary(&self) -> SequenceSummary {
        let mut runs = self.runs;
        let from = (self.max - SEQ_WINDOW as i64 + 1).max(self.base);
        for s in from..=self.max {
            runs.settle(self.is_set(s));
        }
        runs.close();
        SequenceSummary {
            expected: (self.max - self.base + 1) as u64,
            duplicates: self.duplicates,
            out_of_order: self.out_of_order,
            wraps: self.wraps,
            loss_runs: runs.histogram,
            max_loss_run: runs.max,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::{Endpoint, Observation};
    use crate::proto::rtp::Repr;

    fn pkt(ms: i64, seq: u16, ts: u32) -> MediaPacket {
        let ep = Endpoint::new([192, 0, 2, 1].into(), 4000);
        MediaPacket {
            time: PacketTime::from_nanos(1_000_000_000_000 + ms * 1_000_000),
            frame: 0,
            src: ep,
            dst: ep,
            observation: Observation::Plain,
            rtp: Repr {
                marker: false,
                payload_type: 8,
                sequence: seq,
                timestamp: ts,
                ssrc: 1,
                payload_len: 160,
                padding_len: 0,
                header_len: 12,
            },
        }
    }

    fn pcma() -> PayloadInfo {
        PayloadInfo::from_static(8)
    }

    fn run(seqs: &[u16]) -> StreamReport {
        let mut s = StreamStats::new(&pkt(0, seqs[0], 0), pcma());
        for (i, &q) in seqs.iter().enumerate().skip(1) {
            s.handle_packet(&pkt(20 * i as i64, q, 160 * i as u32), pcma());
        }
        s.report()
    }

    #[test]
    fn perfect_stream_has_no_loss_or_jitter() {
        let r = run(&(100..200).collect::<Vec<_>>());
        assert_eq!((r.packets, r.expected, r.lost), (100, 100, 0));
        assert_eq!(r.max_jitter_ms, 0.0);
        assert_eq!(r.max_delta_ms, 20.0);
        assert_eq!(r.seq_errors, 0);
        assert_eq!(r.loss_runs, [0; LOSS_RUN_BUCKETS]);
    }

    #[test]
    fn gaps_are_loss_runs() {
        // lose 3 (single), 10..12 (run of 3)
        let seqs: Vec<u16> = (0..20).filter(|s| ![3, 10, 11, 12].contains(s)).collect();
        let r = run(&seqs);
        assert_eq!((r.packets, r.expected, r.lost), (16, 20, 4));
        assert_eq!(r.loss_runs[0], 1);
        assert_eq!(r.loss_runs[2], 1);
        assert_eq!(r.max_loss_run, 3);
        assert_eq!(r.seq_errors, 2);
    }

    #[test]
    fn duplicates_make_loss_negative_and_reorder_fills_holes() {
        let r = run(&[1, 2, 3, 3, 5, 4, 6, 6, 7]);
        assert_eq!(r.duplicates, 2);
        assert_eq!(r.out_of_order, 1);
        assert_eq!(r.expected, 7);
        assert_eq!(r.lost, -2);
        assert_eq!(r.loss_runs, [0; LOSS_RUN_BUCKETS]);
    }

    #[test]
    fn packet_older_than_the_first_extends_the_stream_backwards() {
        let r = run(&[11, 10, 12, 13]);
        assert_eq!(
            (r.expected, r.lost, r.out_of_order, r.duplicates),
            (4, 0, 1, 0)
        );
        let r = run(&[11, 9, 12, 13]);
        assert_eq!((r.expected, r.lost), (5, 1));
        assert_eq!(r.loss_runs[0], 1);
    }

    #[test]
    fn sequence_wraps_are_counted() {
        let seqs: Vec<u16> = (0..200u32).map(|i| (65_500 + i) as u16).collect();
        let r = run(&seqs);
        assert_eq!(r.seq_wraps, 1);
        assert_eq!((r.expected, r.lost), (200, 0));
        assert_eq!(r.seq_errors, 0);
    }

    #[test]
    fn jump_longer_than_window_counts_every_lost_packet() {
        let r = run(&[10, 11, 3000, 3001]);
        assert_eq!(r.expected, 2992);
        assert_eq!(r.lost, 2988);
        assert_eq!(r.max_loss_run, 2988);
        assert_eq!(r.loss_runs[LOSS_RUN_BUCKETS - 1], 1);
    }

    #[test]
    fn jitter_follows_rfc3550_on_a_late_packet() {
        // 20 ms packets, the third arrives 8 ms late: D = 8 then -8.
        let mut s = StreamStats::new(&pkt(0, 0, 0), pcma());
        s.handle_packet(&pkt(20, 1, 160), pcma());
        s.handle_packet(&pkt(48, 2, 320), pcma());
        s.handle_packet(&pkt(60, 3, 480), pcma());
        let r = s.report();
        let j1 = 8.0 / 16.0;
        let j2 = (15.0 * j1 + 8.0) / 16.0;
        assert!((r.max_jitter_ms - j2).abs() < 1e-12);
        assert!((r.mean_jitter_ms - (0.0 + j1 + j2) / 3.0).abs() < 1e-12);
        assert_eq!(r.max_delta_ms, 28.0);
    }
}
