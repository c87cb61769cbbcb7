//! One RTP sender and the network between it and the capture point: the send
//! schedule (20 ms packets, talkspurts, RFC 4733 events, an SSRC change) and
//! the impairments (random and bursty loss, delay jitter, swaps, duplicates).
//!
//! Packets are decided in send order and released in *arrival* order: a
//! packet is held in a small heap until no packet sent later can arrive
//! before it (every delay is ≥ 0, so that is once the next send time has
//! reached its arrival time). Memory is bounded by the delay spread, never by
//! the length of the stream.

use super::rng::Rng;
use super::truth::Arrival;
use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// The 2-state Gilbert–Elliott loss model: every packet sent in the bad state
/// is lost, none in the good state. Mean burst length is `1 / r`; the share of
/// time in the bad state is `p / (p + r)`.
#[derive(Clone, Copy, Debug)]
pub struct GilbertElliott {
    /// Probability of going good → bad after a packet.
    pub p: f64,
    /// Probability of going bad → good after a packet.
    pub r: f64,
}

/// What the network does to a stream. Packets in the first `clean_head` and
/// last `clean_tail` send slots are never impaired, so a stream always starts
/// with two in-order packets (what RTP heuristics need) and ends cleanly.
#[derive(Clone, Copy, Debug, Default)]
pub struct Impairments {
    /// Independent loss probability per packet.
    pub random_loss: f64,
    /// Bursty loss.
    pub burst: Option<GilbertElliott>,
    /// Extra delay per packet, uniform in `0..=jitter_us` µs.
    pub jitter_us: i64,
    /// Probability that a packet is held back past its successor (delay of
    /// one packet time plus 5 ms).
    pub swap: f64,
    /// Probability that a packet arrives twice (the copy 0.1–2 ms later).
    pub duplicate: f64,
    /// Unimpaired slots at the start.
    pub clean_head: u64,
    /// Unimpaired slots at the end.
    pub clean_tail: u64,
}

/// An RFC 4733 event sent instead of audio for some slots.
#[derive(Clone, Copy, Debug)]
pub struct DtmfEvent {
    /// First slot of the event.
    pub slot: u64,
    /// Event code (0–9 digits, 10 `*`, 11 `#`).
    pub event: u8,
    /// Slots the key is held (each sends one update, the last with the E bit);
    /// the end packet is then repeated twice more (three in all, RFC 4733
    /// §2.5.1.4), each copy with its own sequence number.
    pub slots: u64,
}

/// Talkspurts: after `talk` slots of audio the sender is silent for `silence`
/// slots (timestamps keep running); the first packet after silence has the
/// marker bit (RFC 3551 §4.1).
#[derive(Clone, Copy, Debug)]
pub struct Talkspurts {
    /// Slots of speech.
    pub talk: u64,
    /// Slots of silence.
    pub silence: u64,
}

/// One SSRC of the sender: from `from_slot` on, packets carry this SSRC,
/// sequence numbers from `start_seq` and timestamps from `start_timestamp`.
#[derive(Clone, Copy, Debug)]
pub struct Segment {
    /// First slot.
    pub from_slot: u64,
    /// SSRC.
    pub ssrc: u32,
    /// Sequence number of its first packet.
    pub start_seq: u16,
    /// RTP timestamp of `from_slot`.
    pub start_timestamp: u32,
    /// Index of the [`super::truth::StreamTruth`] that accounts for it.
    pub truth: usize,
}

/// Everything about one sender.
#[derive(Clone, Debug)]
pub struct SourceSpec {
    /// Audio payload type.
    pub payload_type: u8,
    /// Payload type of telephone-event (used when `dtmf` is not empty).
    pub event_payload_type: u8,
    /// Audio payload bytes per packet.
    pub payload_len: usize,
    /// Send time of slot 0, µs since the epoch.
    pub start_us: i64,
    /// Send slots.
    pub slots: u64,
    /// Packet time, µs.
    pub ptime_us: i64,
    /// Timestamp units per packet.
    pub samples_per_packet: u32,
    /// Constant one-way delay to the capture point, µs.
    pub base_delay_us: i64,
    /// Network impairments.
    pub impairments: Impairments,
    /// Silence periods, if any.
    pub talkspurts: Option<Talkspurts>,
    /// Events, by slot, not overlapping.
    pub dtmf: Vec<DtmfEvent>,
    /// SSRC segments by `from_slot`, the first from slot 0.
    pub segments: Vec<Segment>,
    /// Slots whose packet the network loses, decided by the scenario (sorted;
    /// applied even in the clean head and tail, on top of `impairments`).
    pub lost_slots: Vec<u64>,
    /// Extra delay per slot in µs, decided by the scenario (index = slot;
    /// slots past the end get none), on top of `impairments`.
    pub extra_delay_us: Vec<i64>,
}

/// One copy of a packet waiting for its arrival time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Pending {
    /// Arrival at the capture point, µs since the epoch.
    pub time_us: i64,
    /// Decision order within the source: breaks ties deterministically.
    pub serial: u64,
    /// Segment (index into `segments`).
    pub segment: usize,
    /// Index within the segment's sequence.
    pub index: u64,
    /// RTP sequence number.
    pub seq: u16,
    /// RTP timestamp.
    pub timestamp: u32,
    /// Marker bit.
    pub marker: bool,
    /// Telephone-event payload `(event, end, duration)`, or audio when `None`.
    pub event: Option<(u8, bool, u16)>,
}

/// A sender in progress.
pub struct Source {
    spec: SourceSpec,
    rng: Rng,
    slot: u64,
    /// Packets sent in the current segment.
    index: u64,
    segment: usize,
    burst_bad: bool,
    serial: u64,
    held: BinaryHeap<Reverse<Pending>>,
    /// (segment, index) of every packet decided, for the sender-side count.
    sent_per_segment: Vec<u64>,
}

impl Source {
    /// A sender that has sent nothing yet.
    pub fn new(spec: SourceSpec, rng: Rng) -> Self {
        assert!(
            spec.segments.first().is_some_and(|s| s.from_slot == 0),
            "the first segment starts at slot 0"
        );
        let n = spec.segments.len();
        Source {
            spec,
            rng,
            slot: 0,
            index: 0,
            segment: 0,
            burst_bad: false,
            serial: 0,
            held: BinaryHeap::new(),
            sent_per_segment: vec![0; n],
        }
    }

    /// The sender's description.
    pub fn spec(&self) -> &SourceSpec {
        &self.spec
    }

    /// Packets sent so far in `segment` (decided, whatever became of them).
    pub fn sent(&self, segment: usize) -> u64 {
        self.sent_per_segment[segment]
    }

    fn send_time(&self, slot: u64) -> i64 {
        self.spec.start_us + slot as i64 * self.spec.ptime_us
    }

    /// The next copy in arrival order, once no later decision can precede it.
    pub fn peek_time(&mut self) -> Option<i64> {
        loop {
            let head = self.held.peek().map(|Reverse(p)| p.time_us);
            match head {
                Some(t) if self.slot >= self.spec.slots || self.send_time(self.slot) >= t => {
                    return Some(t);
                }
                _ if self.slot >= self.spec.slots => return None,
                _ => self.decide_slot(),
            }
        }
    }

    /// Removes the copy [`Source::peek_time`] announced.
    pub fn pop(&mut self) -> Option<Pending> {
        self.peek_time()?;
        self.held.pop().map(|Reverse(p)| p)
    }

    /// The arrival-truth record of a released copy.
    pub fn arrival(&self, p: &Pending) -> Arrival {
        Arrival {
            index: p.index,
            timestamp: p.timestamp,
            payload_type: self.payload_type_of(p),
            marker: p.marker,
            telephone_event: p.event.is_some(),
            time_us: p.time_us,
        }
    }

    /// The payload type a copy carries.
    pub fn payload_type_of(&self, p: &Pending) -> u8 {
        if p.event.is_some() {
            self.spec.event_payload_type
        } else {
            self.spec.payload_type
        }
    }

    /// Writes the RTP packet of `p` into `buf` (cleared first).
    pub fn build_rtp(&self, p: &Pending, buf: &mut Vec<u8>) {
        let seg = &self.spec.segments[p.segment];
        buf.clear();
        buf.push(0x80); // V=2, no padding, extension or CSRC
        buf.push(u8::from(p.marker) << 7 | self.payload_type_of(p));
        buf.extend_from_slice(&p.seq.to_be_bytes());
        buf.extend_from_slice(&p.timestamp.to_be_bytes());
        buf.extend_from_slice(&seg.ssrc.to_be_bytes());
        match p.event {
            Some((event, end, duration)) => {
                // RFC 4733 §2.3: event, E|R|volume (10 = -10 dBm0), duration.
                buf.push(event);
                buf.push(u8::from(end) << 7 | 10);
                buf.extend_from_slice(&duration.to_be_bytes());
            }
            None => {
                // Silence in the codec's own encoding (PCMU 0xFF, PCMA 0xD5).
                let fill = if self.spec.payload_type == 8 {
                    0xd5
                } else {
                    0xff
                };
                buf.resize(buf.len() + self.spec.payload_len, fill);
            }
        }
    }

    /// Decides what happens to the packet(s) of the current slot.
    fn decide_slot(&mut self) {
        let slot = self.slot;
        self.slot += 1;
        if self.segment + 1 < self.spec.segments.len()
            && self.spec.segments[self.segment + 1].from_slot == slot
        {
            self.segment += 1;
            self.index = 0;
        }
        let seg = self.spec.segments[self.segment];
        let spp = self.spec.samples_per_packet;
        let audio_ts = seg
            .start_timestamp
            .wrapping_add(((slot - seg.from_slot) as u32).wrapping_mul(spp));
        let segment_start = slot == seg.from_slot;

        // What the sender sends in this slot, if anything.
        let mut event = None;
        let mut timestamp = audio_ts;
        let mut marker = segment_start;
        if let Some(e) = self
            .spec
            .dtmf
            .iter()
            .find(|e| (e.slot..e.slot + e.slots + 2).contains(&slot))
        {
            let k = slot - e.slot;
            let end = k + 1 >= e.slots;
            let held = (k + 1).min(e.slots);
            let duration = (held as u32 * spp).min(u32::from(u16::MAX)) as u16;
            let event_ts = seg
                .start_timestamp
                .wrapping_add(((e.slot - seg.from_slot) as u32).wrapping_mul(spp));
            event = Some((e.event, end, duration));
            timestamp = event_ts;
            marker = k == 0;
        } else if let Some(t) = self.spec.talkspurts {
            let phase = (slot - seg.from_slot) % (t.talk + t.silence);
            if phase >= t.talk {
                return; // silent
            }
            marker |= phase == 0;
        }
        let index = self.index;
        self.index += 1;
        self.sent_per_segment[self.segment] = self.index;
        let seq = seg.start_seq.wrapping_add(index as u16);
        let send = self.send_time(slot);

        let imp = self.spec.impairments;
        let clean = slot < imp.clean_head || slot + imp.clean_tail >= self.spec.slots;
        let mut lost = false;
        let mut extra = 0;
        let mut dup = None;
        if !clean {
            if let Some(ge) = imp.burst {
                lost |= self.burst_bad;
                let flip = if self.burst_bad { ge.r } else { ge.p };
                if self.rng.chance(flip) {
                    self.burst_bad = !self.burst_bad;
                }
            }
            if imp.random_loss > 0.0 {
                lost |= self.rng.chance(imp.random_loss);
            }
            if imp.jitter_us > 0 {
                extra += self.rng.range(0, imp.jitter_us as u64) as i64;
            }
            if imp.swap > 0.0 && self.rng.chance(imp.swap) {
                extra += self.spec.ptime_us + 5_000;
            }
            if imp.duplicate > 0.0 && self.rng.chance(imp.duplicate) {
                dup = Some(self.rng.range(100, 2_000) as i64);
            }
        }
        lost |= self.spec.lost_slots.binary_search(&slot).is_ok();
        extra += self
            .spec
            .extra_delay_us
            .get(slot as usize)
            .copied()
            .unwrap_or(0);
        if lost {
            return;
        }
        let arrival = send + self.spec.base_delay_us + extra;
        let mut p = Pending {
            time_us: arrival,
            serial: self.serial,
            segment: self.segment,
            index,
            seq,
            timestamp,
            marker,
            event,
        };
        self.serial += 1;
        self.held.push(Reverse(p));
        if let Some(later) = dup {
            p.time_us += later;
            p.serial = self.serial;
            self.serial += 1;
            self.held.push(Reverse(p));
        }
    }
}
