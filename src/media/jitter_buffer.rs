//! Jitter-buffer emulation: which packets of a stream a phone would have
//! played, and how long they waited.
//!
//! A [`JitterBuffer`] is fed every RTP packet of one stream in arrival order
//! (duplicates removed by the caller) and answers, per packet, whether it
//! arrived before its playout time ([`Playout::OnTime`]) or after it
//! ([`Playout::Late`]). A late packet is discarded by the buffer, so it counts
//! as lost for the E-model's Ppl of that buffer, the way a phone would drop
//! it. Its statistics ([`JitterBufferStats`]) give the packets played and
//! discarded and the mean and maximum time a played packet spent in the
//! buffer; the mean adds to the one-way delay Ta of the E-model.
//!
//! # The schedule
//!
//! Time is measured as each packet's *relative delay*
//! `n = (arrival − first arrival) − (timestamp − first timestamp)/clock`: the
//! network delay up to an unknown constant. A packet plays at its send time
//! plus the buffer's *playout delay* D (on the same relative scale), so it is
//! late exactly when `n > D`, and a played packet waits `D − n`.
//!
//! - **Fixed** (50 ms, 200 ms, or any delay): at the start of each talkspurt,
//!   `D = n + delay` for the packet that starts it: that packet plays `delay`
//!   after it arrives, and the rest of the talkspurt is scheduled from it by
//!   RTP timestamp. A talkspurt starts at the first packet of the stream, at
//!   every packet with the marker bit (RFC 3551 §4.1: first packet after
//!   silence), and when the clock rate changes. Re-anchoring at talkspurts is
//!   what keeps silence suppression from accumulating error: a sender whose
//!   timestamps do not advance with real time across silence, or a sender
//!   clock that drifts, shifts only the talkspurt in which it happens.
//! - **Adaptive**: Ramjee, Kurose, Towsley, Schulzrinne, "Adaptive Playout
//!   Mechanisms for Packetized Audio Applications in Wide-Area Networks",
//!   IEEE INFOCOM 1994, Algorithm 1: for every packet
//!   `d̂ = α·d̂ + (1 − α)·n` and `v̂ = α·v̂ + (1 − α)·|d̂ − n|` with
//!   `α = 0.998002`, and at each talkspurt start `D = d̂ + 4·v̂`. Our
//!   addition: the margin `4·v̂` over the mean delay is clamped to
//!   [20, 500] ms ([`ADAPTIVE_MIN_MARGIN_MS`], [`ADAPTIVE_MAX_MARGIN_MS`]),
//!   the range of buffer depths phones use, so a perfectly regular stream
//!   still gets one packet time of slack; and a talkspurt whose first packet's
//!   delay is further than that 500 ms from `d̂` is taken as a timestamp
//!   discontinuity (the re-anchoring of the fixed buffers): `d̂` restarts
//!   from it. The paper adapts only between talkspurts, so a stream without
//!   silence suppression (no marker bits: most trunk and many desk-phone
//!   calls) would keep the delay set at its first packet; phones adapt
//!   within talkspurts by stretching or compressing audio (WebRTC NetEq,
//!   PJMEDIA's adaptive buffer). So ours also re-plans `D` once a second of
//!   media time ([`ADAPTIVE_PERIOD_NS`]), and at once after a late packet
//!   (an underrun: the phone conceals that packet and plays deeper from the
//!   next one); and since `d̂` follows a step in delay only over seconds
//!   (α weighs 500 packets), a re-planned `D` never falls below the largest
//!   delay of the last second plus the smallest margin.
//!
//! RTP timestamps are extended across the 32-bit wrap (and back for a
//! reordered packet) by the signed distance to the highest timestamp seen.
//!
//! The state is `Copy` and nothing allocates; time is the packet's
//! [`PacketTime`], never the wall clock.

use crate::time::PacketTime;

/// Playout delay of the short fixed buffer (ms).
pub const FIXED_SHORT_MS: f64 = 50.0;
/// Playout delay of the long fixed buffer (ms).
pub const FIXED_LONG_MS: f64 = 200.0;
/// Ramjee et al. 1994, Algorithm 1: weight of the history in the delay and
/// variation estimates.
pub const ADAPTIVE_ALPHA: f64 = 0.998002;
/// Factor of the delay variation in the playout delay (Ramjee et al. 1994).
pub const ADAPTIVE_VARIATION_FACTOR: f64 = 4.0;
/// Smallest margin of the adaptive buffer over its mean-delay estimate (ms).
pub const ADAPTIVE_MIN_MARGIN_MS: f64 = 20.0;
/// Largest margin of the adaptive buffer over its mean-delay estimate (ms).
pub const ADAPTIVE_MAX_MARGIN_MS: f64 = 500.0;
/// Between talkspurts the adaptive buffer re-plans its delay at most this
/// often (media time), as phones that stretch or compress audio do.
pub const ADAPTIVE_PERIOD_NS: i64 = 1_000_000_000;

const NANOS_PER_MS: f64 = 1e6;

/// How the buffer sets its playout delay.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Kind {
    /// A constant delay (ms) after the first packet of each talkspurt.
    Fixed {
        /// Playout delay in ms.
        delay_ms: f64,
    },
    /// Ramjee et al. 1994 Algorithm 1, applied at talkspurt starts.
    Adaptive,
}

/// What the buffer did with one packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Playout {
    /// Arrived by its playout time: played.
    OnTime,
    /// Arrived after its playout time: discarded, counts as lost.
    Late,
    /// The clock rate is unknown (0): the packet cannot be scheduled and is
    /// left out of the buffer's statistics except [`JitterBufferStats::unknown`].
    Unknown,
}

/// What a buffer has done so far.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct JitterBufferStats {
    /// Packets played.
    pub played: u64,
    /// Packets discarded as late.
    pub late: u64,
    /// Packets with an unknown clock rate.
    pub unknown: u64,
    /// Mean time a played packet spent in the buffer (ms); 0 before any.
    pub mean_delay_ms: f64,
    /// Longest time a played packet spent in the buffer (ms).
    pub max_delay_ms: f64,
}

impl JitterBufferStats {
    /// Late packets as a percentage of those scheduled (played + late).
    pub fn late_percent(&self) -> f64 {
        let scheduled = self.played + self.late;
        if scheduled == 0 {
            0.0
        } else {
            self.late as f64 * 100.0 / scheduled as f64
        }
    }
}

/// The relative delay of each packet of a stream, shared by every buffer
/// emulated on it: RTP timestamps extended across the wrap, converted to
/// media time, compared with arrival.
#[derive(Clone, Copy, Debug, Default)]
pub struct RelativeDelay {
    /// Clock rate of the current origin; 0 before the first packet.
    clock_rate: u32,
    /// Nanoseconds per RTP timestamp tick at that clock rate.
    ns_per_tick: f64,
    /// Arrival of the packet the relative delays count from.
    origin_arrival: PacketTime,
    /// Highest timestamp seen and its extended value (relative to the origin).
    highest_ts: u32,
    highest_ext: i64,
}

/// One packet as the schedules see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Arrival {
    /// Relative delay `n` (ns): arrival since the origin minus media time.
    pub n: i64,
    /// Media time of the packet since the origin (ns).
    pub media_ns: i64,
    /// A new origin: the first packet, or a change of clock rate.
    pub restart: bool,
}

impl RelativeDelay {
    /// The relative delay of a packet; `None` when the clock rate is unknown (0).
    pub fn observe(
        &mut self,
        arrival: PacketTime,
        rtp_timestamp: u32,
        clock_rate: u32,
    ) -> Option<Arrival> {
        if clock_rate == 0 {
            return None;
        }
        let restart = self.clock_rate != clock_rate;
        let ext = if restart {
            // First packet, or a new clock: a new origin for relative delays.
            self.clock_rate = clock_rate;
            self.ns_per_tick = 1e9 / f64::from(clock_rate);
            self.origin_arrival = arrival;
            self.highest_ts = rtp_timestamp;
            self.highest_ext = 0;
            0
        } else {
            // Signed distance to the highest timestamp: crosses the wrap
            // forwards, and backwards for a reordered packet.
            let delta = i64::from(rtp_timestamp.wrapping_sub(self.highest_ts) as i32);
            let ext = self.highest_ext + delta;
            if delta > 0 {
                self.highest_ts = rtp_timestamp;
                self.highest_ext = ext;
            }
            ext
        };
        // f64 keeps 53 bits: exact to the nanosecond for 100 days of media.
        let media_ns = (ext as f64 * self.ns_per_tick) as i64;
        let since_origin = arrival
            .as_nanos()
            .saturating_sub(self.origin_arrival.as_nanos());
        Some(Arrival {
            n: since_origin.saturating_sub(media_ns),
            media_ns,
            restart,
        })
    }
}

/// The playout schedule of one buffer kind: when packets play, which are late.
#[derive(Clone, Copy, Debug)]
pub struct Schedule {
    kind: Kind,
    /// Playout delay D on the relative-delay scale (ns).
    playout_ns: i64,
    /// Adaptive estimates of the mean relative delay and its variation (ns).
    d_hat: f64,
    v_hat: f64,
    /// Media time (ns since the origin) of the last adaptive re-planning.
    adapted_at_ns: i64,
    /// Largest relative delay since then (ns).
    window_max_n: i64,
    played: u64,
    late: u64,
    /// Sum and maximum of the time played packets waited (ns).
    wait_sum_ns: u64,
    wait_max_ns: u64,
}

impl Schedule {
    /// A schedule of the given kind.
    pub fn new(kind: Kind) -> Self {
        Schedule {
            kind,
            playout_ns: 0,
            d_hat: 0.0,
            v_hat: 0.0,
            adapted_at_ns: 0,
            window_max_n: i64::MIN,
            played: 0,
            late: 0,
            wait_sum_ns: 0,
            wait_max_ns: 0,
        }
    }

    /// Schedules one packet.
    pub fn handle(&mut self, a: Arrival, marker: bool) -> Playout {
        let n = a.n;
        let talkspurt_start = a.restart || marker;
        match self.kind {
            Kind::Fixed { delay_ms } => {
                if talkspurt_start {
                    self.playout_ns = n.saturating_add((delay_ms * NANOS_PER_MS) as i64);
                }
            }
            Kind::Adaptive => {
                let nf = n as f64;
                let discontinuity = talkspurt_start
                    && (nf - self.d_hat).abs() > ADAPTIVE_MAX_MARGIN_MS * NANOS_PER_MS;
                if a.restart || discontinuity {
                    // Ramjee's estimator starts from the first delay. A new
                    // origin, or a talkspurt that starts further from d̂ than
                    // the largest margin (a timestamp jump, not network
                    // delay), invalidates d̂ but not the variation learned.
                    self.d_hat = nf;
                } else {
                    self.d_hat = ADAPTIVE_ALPHA * self.d_hat + (1.0 - ADAPTIVE_ALPHA) * nf;
                    self.v_hat = ADAPTIVE_ALPHA * self.v_hat
                        + (1.0 - ADAPTIVE_ALPHA) * (self.d_hat - nf).abs();
                }
                let margin = (ADAPTIVE_VARIATION_FACTOR * self.v_hat).clamp(
                    ADAPTIVE_MIN_MARGIN_MS * NANOS_PER_MS,
                    ADAPTIVE_MAX_MARGIN_MS * NANOS_PER_MS,
                );
                let min_margin = (ADAPTIVE_MIN_MARGIN_MS * NANOS_PER_MS) as i64;
                self.window_max_n = self.window_max_n.max(n);
                // Ramjee's target, but never below what the last second of
                // packets needed: d̂ follows a delay step only over seconds.
                let planned = ((self.d_hat + margin) as i64)
                    .max(self.window_max_n.saturating_add(min_margin));
                let periodic = a.media_ns.saturating_sub(self.adapted_at_ns) >= ADAPTIVE_PERIOD_NS;
                if talkspurt_start || periodic {
                    self.playout_ns = planned;
                    self.adapted_at_ns = a.media_ns;
                    self.window_max_n = n;
                } else if n > self.playout_ns {
                    // An underrun: the phone conceals this packet and stretches
                    // its audio, so the buffer is deeper from the next one on.
                    self.late += 1;
                    self.playout_ns = planned;
                    self.adapted_at_ns = a.media_ns;
                    return Playout::Late;
                }
            }
        }

        if n > self.playout_ns {
            self.late += 1;
            Playout::Late
        } else {
            // Non-negative: n ≤ playout.
            let wait = self.playout_ns.saturating_sub(n) as u64;
            self.played += 1;
            self.wait_sum_ns = self.wait_sum_ns.saturating_add(wait);
            self.wait_max_ns = self.wait_max_ns.max(wait);
            Playout::OnTime
        }
    }

    /// The current playout delay's margin over the packet that set it or, for
    /// the adaptive buffer, over the mean-delay estimate (ms).
    pub fn margin_ms(&self) -> f64 {
        match self.kind {
            Kind::Fixed { delay_ms } => delay_ms,
            Kind::Adaptive => (self.playout_ns as f64 - self.d_hat) / NANOS_PER_MS,
        }
    }

    fn stats(&self, unknown: u64) -> JitterBufferStats {
        JitterBufferStats {
            played: self.played,
            late: self.late,
            unknown,
            mean_delay_ms: if self.played == 0 {
                0.0
            } else {
                self.wait_sum_ns as f64 / self.played as f64 / NANOS_PER_MS
            },
            max_delay_ms: self.wait_max_ns as f64 / NANOS_PER_MS,
        }
    }
}

/// The emulated jitter buffer of one stream. See the module doc for the
/// schedule; feed packets with [`JitterBuffer::handle_packet`] in arrival
/// order.
#[derive(Clone, Copy, Debug)]
pub struct JitterBuffer {
    delay: RelativeDelay,
    schedule: Schedule,
    unknown: u64,
}

impl JitterBuffer {
    /// A buffer of the given kind.
    pub fn new(kind: Kind) -> Self {
        JitterBuffer {
            delay: RelativeDelay::default(),
            schedule: Schedule::new(kind),
            unknown: 0,
        }
    }

    /// A fixed buffer of `delay_ms`.
    pub fn fixed(delay_ms: f64) -> Self {
        JitterBuffer::new(Kind::Fixed { delay_ms })
    }

    /// The adaptive buffer.
    pub fn adaptive() -> Self {
        JitterBuffer::new(Kind::Adaptive)
    }

    /// The kind of buffer.
    pub fn kind(&self) -> Kind {
        self.schedule.kind
    }

    /// Schedules one packet: its arrival, RTP timestamp, the clock rate of its
    /// payload type (0 when unknown) and marker bit. Packets must come in
    /// arrival order, without duplicates.
    pub fn handle_packet(
        &mut self,
        arrival: PacketTime,
        rtp_timestamp: u32,
        clock_rate: u32,
        marker: bool,
    ) -> Playout {
        match self.delay.observe(arrival, rtp_timestamp, clock_rate) {
            Some(a) => self.schedule.handle(a, marker),
            None => {
                self.unknown += 1;
                Playout::Unknown
            }
        }
    }

    /// The current playout delay's margin (see [`Schedule::margin_ms`]).
    pub fn margin_ms(&self) -> f64 {
        self.schedule.margin_ms()
    }

    /// What the buffer has done so far.
    pub fn stats(&self) -> JitterBufferStats {
        self.schedule.stats(self.unknown)
    }
}

/// Several buffers emulated on one stream, sharing the timestamp arithmetic:
/// what the per-stream statistics keep.
#[derive(Clone, Copy, Debug)]
pub struct JitterBuffers<const N: usize> {
    delay: RelativeDelay,
    schedules: [Schedule; N],
    unknown: u64,
}

impl<const N: usize> JitterBuffers<N> {
    /// Buffers of these kinds.
    pub fn new(kinds: [Kind; N]) -> Self {
        JitterBuffers {
            delay: RelativeDelay::default(),
            schedules: kinds.map(Schedule::new),
            unknown: 0,
        }
    }

    /// Schedules one packet in every buffer; `late[i]` is set for each buffer
    /// that discarded it. Returns false when the clock rate is unknown.
    pub fn handle_packet(
        &mut self,
        arrival: PacketTime,
        rtp_timestamp: u32,
        clock_rate: u32,
        marker: bool,
        late: &mut [bool; N],
    ) -> bool {
        let Some(a) = self.delay.observe(arrival, rtp_timestamp, clock_rate) else {
            self.unknown += 1;
            return false;
        };
        for (schedule, late) in self.schedules.iter_mut().zip(late.iter_mut()) {
            *late = schedule.handle(a, marker) == Playout::Late;
        }
        true
    }

    /// Reads the state every packet updates (see `StreamStats::touch`).
    pub fn touch(&self) -> u64 {
        self.schedules
            .iter()
            .fold(self.delay.highest_ext as u64, |acc, s| {
                acc.wrapping_add(s.playout_ns as u64)
            })
    }

    /// What each buffer has done so far.
    pub fn stats(&self) -> [JitterBufferStats; N] {
        self.schedules.map(|s| s.stats(self.unknown))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One packet as sent: RTP timestamp, marker, and the network delay it
    /// suffers (ms).
    #[derive(Clone, Copy)]
    struct Sent {
        send_ms: f64,
        ts: u32,
        marker: bool,
        delay_ms: f64,
    }

    /// A 20 ms, 8000 Hz stream of `n` packets starting at `ts0`, with the
    /// network delay `delay(i)`.
    fn stream(n: usize, ts0: u32, delay: impl Fn(usize) -> f64) -> Vec<Sent> {
        (0..n)
            .map(|i| Sent {
                send_ms: 20.0 * i as f64,
                ts: ts0.wrapping_add(160 * i as u32),
                marker: false,
                delay_ms: delay(i),
            })
            .collect()
    }

    /// Feeds the packets in arrival order; returns the verdicts in that order.
    fn run(buf: &mut JitterBuffer, sent: &[Sent]) -> Vec<Playout> {
        let mut order: Vec<&Sent> = sent.iter().collect();
        order.sort_by(|a, b| (a.send_ms + a.delay_ms).total_cmp(&(b.send_ms + b.delay_ms)));
        let base = PacketTime::from_parts(1_700_000_000, 0);
        order
            .iter()
            .map(|s| {
                let at = base.add_nanos(((s.send_ms + s.delay_ms) * 1e6) as i64);
                buf.handle_packet(at, s.ts, 8000, s.marker)
            })
            .collect()
    }

    fn three() -> [JitterBuffer; 3] {
        [
            JitterBuffer::fixed(FIXED_SHORT_MS),
            JitterBuffer::fixed(FIXED_LONG_MS),
            JitterBuffer::adaptive(),
        ]
    }

    /// xorshift64: reproducible jitter without a dependency.
    fn rng(seed: u64) -> impl FnMut() -> f64 {
        let mut x = seed;
        move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 11) as f64 / (1u64 << 53) as f64
        }
    }

    #[test]
    fn clean_20ms_stream_loses_nothing_in_any_buffer() {
        let sent = stream(1000, 1234, |_| 30.0);
        for (mut buf, wait) in three()
            .into_iter()
            .zip([50.0, 200.0, ADAPTIVE_MIN_MARGIN_MS])
        {
            run(&mut buf, &sent);
            let s = buf.stats();
            assert_eq!(
                (s.played, s.late, s.unknown),
                (1000, 0, 0),
                "{:?}",
                buf.kind()
            );
            assert!(
                (s.mean_delay_ms - wait).abs() < 1e-6,
                "{:?}: {s:?}",
                buf.kind()
            );
            assert!((s.max_delay_ms - wait).abs() < 1e-6);
        }
    }

    #[test]
    fn jitter_peaks_of_100ms_lose_packets_at_50ms_but_not_200ms() {
        // Every 25th packet (not the first) is held 100 ms, the rest 0–4 ms.
        let sent = stream(
            1000,
            0,
            |i| {
                if i % 25 == 10 {
                    100.0
                } else {
                    (i % 5) as f64
                }
            },
        );
        let mut short = JitterBuffer::fixed(FIXED_SHORT_MS);
        run(&mut short, &sent);
        assert_eq!(short.stats().late, 40);
        assert_eq!(short.stats().played, 960);
        let mut long = JitterBuffer::fixed(FIXED_LONG_MS);
        run(&mut long, &sent);
        assert_eq!(long.stats().late, 0);
        // The held packets waited 200 − 100 ms; the others up to 200.
        assert!((long.stats().max_delay_ms - 200.0).abs() < 1e-6);
        assert!(long.stats().mean_delay_ms < 200.0);
    }

    #[test]
    fn adaptive_buffer_grows_under_jitter_and_loses_less_than_fixed_50ms() {
        // Two minutes of talkspurts of 50 packets with 10 packets of silence
        // between them, network delay uniform in 0–80 ms.
        let mut jitter = rng(0x5eed);
        let mut sent = Vec::new();
        let mut t = 0.0;
        let mut ts: u32 = 77;
        for spurt in 0..100 {
            for i in 0..50 {
                sent.push(Sent {
                    send_ms: t,
                    ts,
                    marker: i == 0 && spurt > 0,
                    delay_ms: 80.0 * jitter(),
                });
                t += 20.0;
                ts = ts.wrapping_add(160);
            }
            t += 200.0;
            ts = ts.wrapping_add(1600);
        }
        let mut fixed = JitterBuffer::fixed(FIXED_SHORT_MS);
        run(&mut fixed, &sent);
        let mut adaptive = JitterBuffer::adaptive();
        run(&mut adaptive, &sent);
        let (f, a) = (fixed.stats(), adaptive.stats());
        assert!(f.late > 100, "fixed 50 ms should lose some: {f:?}");
        assert!(a.late * 2 < f.late, "adaptive {a:?} vs fixed {f:?}");
        // It grew well past its 20 ms floor (steady state 4·20 ms).
        assert!(adaptive.margin_ms() > 60.0, "{}", adaptive.margin_ms());
        assert!(a.mean_delay_ms > ADAPTIVE_MIN_MARGIN_MS, "{a:?}");
    }

    #[test]
    fn timestamps_wrap_without_loss() {
        // Crosses 2^32 after 10 packets.
        let sent = stream(100, u32::MAX - 160 * 10 + 1, |i| {
            if i % 2 == 0 {
                5.0
            } else {
                15.0
            }
        });
        for mut buf in three() {
            let verdicts = run(&mut buf, &sent);
            assert!(
                verdicts.iter().all(|v| *v == Playout::OnTime),
                "{:?}",
                buf.kind()
            );
        }
        // A packet reordered across the wrap is still placed correctly.
        let mut sent = stream(20, u32::MAX - 160 * 10 + 1, |_| 0.0);
        sent[10].delay_ms = 30.0; // ts 0x00000000+..., arrives after later ones
        let mut buf = JitterBuffer::fixed(FIXED_SHORT_MS);
        assert!(run(&mut buf, &sent).iter().all(|v| *v == Playout::OnTime));
        assert!((buf.stats().max_delay_ms - 50.0).abs() < 1e-6);
        assert!((buf.stats().mean_delay_ms - (50.0 * 19.0 + 20.0) / 20.0).abs() < 1e-6);
    }

    #[test]
    fn marker_reanchors_the_schedule_after_silence() {
        // A sender that lets its timestamp advance only one packet across 1 s
        // of silence: the second talkspurt arrives 980 ms "late" by the first
        // one's schedule.
        let mut sent = stream(100, 500, |_| 10.0);
        for s in &mut sent[50..] {
            s.send_ms += 980.0;
        }
        sent[50].marker = true;
        for mut buf in three() {
            let verdicts = run(&mut buf, &sent);
            assert!(
                verdicts.iter().all(|v| *v == Playout::OnTime),
                "{:?}",
                buf.kind()
            );
        }
        // Without the marker the fixed buffers drop the whole second spurt.
        sent[50].marker = false;
        for delay in [FIXED_SHORT_MS, FIXED_LONG_MS] {
            let mut buf = JitterBuffer::fixed(delay);
            run(&mut buf, &sent);
            assert_eq!((buf.stats().played, buf.stats().late), (50, 50));
        }
    }

    #[test]
    fn unknown_clock_rate_is_not_scheduled() {
        let mut buf = JitterBuffer::fixed(FIXED_SHORT_MS);
        let t = PacketTime::from_parts(10, 0);
        assert_eq!(buf.handle_packet(t, 0, 0, false), Playout::Unknown);
        assert_eq!(buf.handle_packet(t, 0, 8000, false), Playout::OnTime);
        assert_eq!(
            buf.handle_packet(t.add_nanos(20_000_000), 160, 0, false),
            Playout::Unknown
        );
        let s = buf.stats();
        assert_eq!((s.played, s.late, s.unknown), (1, 0, 2));
        assert_eq!(s.late_percent(), 0.0);
    }

    #[test]
    fn clock_rate_change_starts_a_new_schedule() {
        // 8 kHz then 16 kHz timestamps that do not line up: a new origin.
        let mut buf = JitterBuffer::fixed(FIXED_SHORT_MS);
        let t0 = PacketTime::from_parts(10, 0);
        assert_eq!(buf.handle_packet(t0, 1000, 8000, false), Playout::OnTime);
        let t1 = t0.add_nanos(500_000_000);
        assert_eq!(buf.handle_packet(t1, 9, 16000, false), Playout::OnTime);
        assert_eq!(
            buf.handle_packet(t1.add_nanos(20_000_000), 9 + 320, 16000, false),
            Playout::OnTime
        );
        assert_eq!(buf.stats().late, 0);
    }

    #[test]
    fn adaptive_buffer_adapts_within_a_stream_without_markers() {
        // 30 s of continuous speech, no marker after the first packet; after
        // 5 s the path adds a steady 80 ms step plus up to 40 ms of jitter.
        let mut r = rng(7);
        let jitter: Vec<f64> = (0..1500).map(|_| r()).collect();
        let sent = stream(1500, 1000, |i| {
            if i < 250 {
                10.0
            } else {
                90.0 + 40.0 * jitter[i]
            }
        });
        let [mut short, _, mut adaptive] = three();
        let short_late = run(&mut short, &sent)
            .iter()
            .filter(|p| **p == Playout::Late)
            .count();
        let adaptive_late = run(&mut adaptive, &sent)
            .iter()
            .filter(|p| **p == Playout::Late)
            .count();
        // The 50 ms buffer, anchored before the step, loses most of the rest;
        // the adaptive one catches up within a second or so.
        assert!(short_late > 1000, "fixed 50 ms lost {short_late}");
        assert!(adaptive_late < 75, "adaptive lost {adaptive_late}");
        assert!(adaptive.stats().mean_delay_ms > 20.0);
    }
}
