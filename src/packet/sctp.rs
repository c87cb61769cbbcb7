//! SCTP: common header, chunks, DATA reassembly into user messages.
//!
//! [`SctpReassembler::handle_packet`] walks one SCTP packet (RFC 9260 §3: a
//! 12-byte common header, then chunks of type, flags, length, value, each
//! padded to 4 bytes) and hands every complete user message to the caller, in
//! chunk order:
//! - DATA (type 0, RFC 9260 §3.3.1) and I-DATA (type 64, RFC 8260 §2.1)
//!   chunks with both B(eginning) and E(nding) set are delivered straight from
//!   the packet, without a copy.
//! - Fragments are held per association (source and destination address and
//!   port, verification tag) and stream. DATA fragments of one message carry
//!   consecutive TSNs (RFC 9260 §6.9), so a message is a run of consecutive
//!   TSNs from a B to an E fragment; I-DATA fragments are grouped by message
//!   identifier and ordered by fragment sequence number. A completed message
//!   is copied once into a scratch buffer and delivered.
//! - A DATA chunk whose TSN was already seen on the association (a
//!   retransmission) is not delivered again: each association keeps a bitmap
//!   of the last [`TSN_WINDOW`] TSNs below the highest seen. A TSN older than
//!   that window is delivered and counted (`tsn_out_of_window`): delivering
//!   twice is better than losing a message.
//! - Other chunks (INIT, SACK, HEARTBEAT, ABORT, SHUTDOWN, ...) are skipped.
//!   The CRC32c checksum is not verified: the probe sees what the wire
//!   carried, and a capture with checksum offload has wrong checksums.
//!
//! Every limit is in [`SctpConfig`], every drop counted in [`SctpCounters`].
//! Time is packet time; partial messages and associations age out in
//! `handle_timeout(now)`.

use crate::proto::bytes::{be_u16, be_u32};
use crate::time::PacketTime;
use serde::Serialize;
use std::collections::HashMap;
use std::net::IpAddr;

type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

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
#[non_exhaustive]
pub enum SctpError {
    /// Shorter than the 12-byte common header.
    #[error("shorter than the SCTP common header")]
    TooShort,
    /// A chunk length is below 4 or runs past the packet.
    #[error("chunk length is invalid")]
    BadChunkLength,
    /// A DATA or I-DATA chunk is shorter than its fixed header (16 or 20
    /// bytes).
    #[error("DATA chunk shorter than its header")]
    BadDataChunk,
}

impl SctpError {
    /// Stable label for counters and metrics.
    pub fn reason(self) -> &'static str {
        match self {
            SctpError::TooShort => "too_short",
            SctpError::BadChunkLength => "bad_chunk_length",
            SctpError::BadDataChunk => "bad_data_chunk",
        }
    }
}

/// Limits of the SCTP reassembler.
#[derive(Clone, Debug)]
pub struct SctpConfig {
    /// Partial (fragmented, incomplete) messages held at once; a fragment
    /// that would start one more is dropped and counted.
    pub max_partial_messages: usize,
    /// Bytes of one reassembled message; a message growing past this is
    /// dropped. DIAMETER and SIP messages are far smaller.
    pub max_message_bytes: usize,
    /// Fragments held for one partial message (bounds work per fragment).
    pub max_fragments_per_message: usize,
    /// Bytes held across all partial messages.
    pub max_total_bytes: usize,
    /// A partial message not completed this long after its first fragment
    /// (packet time) is dropped. RFC 9260 §16 RTO.Initial is 1 s, so a lost
    /// fragment is normally resent within a few seconds.
    pub partial_timeout_ns: i64,
    /// Associations whose recent TSNs are tracked for duplicate detection.
    /// Beyond this, DATA of new associations is delivered without that check
    /// (counted).
    pub max_associations: usize,
    /// An association (one direction) idle this long is forgotten.
    pub association_idle_timeout_ns: i64,
}

impl Default for SctpConfig {
    fn default() -> Self {
        SctpConfig {
            max_partial_messages: 1024,
            max_message_bytes: 256 * 1024,
            max_fragments_per_message: 512,
            max_total_bytes: 16 * 1024 * 1024,
            partial_timeout_ns: 10 * 1_000_000_000,
            max_associations: 16_384,
            association_idle_timeout_ns: 300 * 1_000_000_000,
        }
    }
}

/// What the SCTP reassembler did, and every limit it hit.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct SctpCounters {
    /// Packets handed in.
    pub packets: u64,
    /// Packets rejected (`handle_packet` returned an error).
    pub malformed_packets: u64,
    /// Chunks other than DATA and I-DATA, skipped.
    pub control_chunks: u64,
    /// DATA and I-DATA chunks.
    pub data_chunks: u64,
    /// DATA chunks without user data (RFC 9260 §6.2 "No User Data"), skipped.
    pub empty_data_chunks: u64,
    /// User messages delivered.
    pub messages: u64,
    /// Of those, reassembled from fragments.
    pub reassembled_messages: u64,
    /// DATA chunks not delivered because their TSN was seen already.
    pub duplicate_tsns: u64,
    /// DATA chunks with a TSN older than the duplicate window (delivered).
    pub tsn_out_of_window: u64,
    /// DATA chunks of associations not tracked for duplicates (table full).
    pub untracked_associations: u64,
    /// Fragments held.
    pub fragments: u64,
    /// Fragments dropped: `max_partial_messages` reached.
    pub partials_refused: u64,
    /// Fragments dropped: `max_total_bytes` reached.
    pub total_bytes_exceeded: u64,
    /// Partial messages dropped: `max_message_bytes` or
    /// `max_fragments_per_message` exceeded.
    pub message_too_big: u64,
    /// Partial messages dropped by `handle_timeout`.
    pub partials_timed_out: u64,
    /// Bytes of the partial messages dropped (too big or timed out).
    pub partial_bytes_dropped: u64,
    /// Associations forgotten after `association_idle_timeout_ns`.
    pub associations_timed_out: u64,
}

/// Chunk types handled (RFC 9260 §3.2, RFC 8260 §2.1).
const CHUNK_DATA: u8 = 0;
const CHUNK_I_DATA: u8 = 64;

/// Common header length (RFC 9260 §3.1).
const COMMON_HEADER_LEN: usize = 12;
/// Chunk header: type, flags, length.
const CHUNK_HEADER_LEN: usize = 4;
/// DATA chunk fixed part: chunk header, TSN, stream id, SSN, PPID.
const DATA_HEADER_LEN: usize = 16;
/// I-DATA chunk fixed part: chunk header, TSN, stream id, reserved, MID,
/// PPID/FSN.
const I_DATA_HEADER_LEN: usize = 20;

/// DATA / I-DATA flag bits (RFC 9260 §3.3.1).
const FLAG_U: u8 = 0x04;
const FLAG_B: u8 = 0x02;
const FLAG_E: u8 = 0x01;

/// TSNs below the highest seen that are remembered per association.
pub const TSN_WINDOW: u32 = 256;

/// One direction of an association.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct AssocKey {
    src: IpAddr,
    dst: IpAddr,
    src_port: u16,
    dst_port: u16,
    vtag: u32,
}

/// Recently seen TSNs: bit `d` of `bits` is TSN `high - d`.
#[derive(Debug)]
struct Assoc {
    last_seen: PacketTime,
    high: u32,
    bits: [u64; (TSN_WINDOW / 64) as usize],
}

/// What the TSN window says about a TSN.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum TsnSeen {
    New,
    Duplicate,
    TooOld,
}

impl Assoc {
    fn new(time: PacketTime, tsn: u32) -> Self {
        let mut a = Assoc {
            last_seen: time,
            high: tsn,
            bits: [0; (TSN_WINDOW / 64) as usize],
        };
        a.set(0);
        a
    }

    fn get(&self, d: u32) -> bool {
        let (w, b) = ((d / 64) as usize, d % 64);
        self.bits.get(w).is_some_and(|x| x >> b & 1 == 1)
    }

    fn set(&mut self, d: u32) {
        let (w, b) = ((d / 64) as usize, d % 64);
        if let Some(x) = self.bits.get_mut(w) {
            *x |= 1 << b;
        }
    }

    /// Records `tsn`, saying whether it was seen before.
    fn see(&mut self, tsn: u32) -> TsnSeen {
        let d = self.high.wrapping_sub(tsn) as i32;
        if d < 0 {
            // A new highest TSN: shift the window up.
            let shift = d.unsigned_abs();
            self.shift(shift);
            self.high = tsn;
            self.set(0);
            return TsnSeen::New;
        }
        let d = d.unsigned_abs();
        if d >= TSN_WINDOW {
            return TsnSeen::TooOld;
        }
        if self.get(d) {
            TsnSeen::Duplicate
        } else {
            self.set(d);
            TsnSeen::New
        }
    }

    /// Moves every bit `n` places up (older); bits past the window fall off.
    fn shift(&mut self, n: u32) {
        if n >= TSN_WINDOW {
            self.bits = [0; (TSN_WINDOW / 64) as usize];
            return;
        }
        let old = self.bits;
        let (words, bits) = ((n / 64) as usize, n % 64);
        for (i, w) in self.bits.iter_mut().enumerate() {
            let lo = i
                .checked_sub(words)
                .and_then(|j| old.get(j))
                .copied()
                .unwrap_or(0);
            let below = i
                .checked_sub(words + 1)
                .and_then(|j| old.get(j))
                .copied()
                .unwrap_or(0);
            *w = if bits == 0 {
                lo
            } else {
                lo << bits | below >> (64 - bits)
            };
        }
    }
}

/// What groups fragments into one partial message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct PartialKey {
    assoc: AssocKey,
    stream: u16,
    /// I-DATA: (unordered, message identifier). DATA: `None`, fragments of
    /// several messages of a stream may share the entry, told apart by TSN
    /// runs.
    idata: Option<(bool, u32)>,
}

/// One held fragment.
#[derive(Debug)]
struct Fragment {
    /// TSN (DATA) or FSN (I-DATA).
    n: u32,
    begin: bool,
    end: bool,
    ppid: u32,
    data: Vec<u8>,
}

#[derive(Debug)]
struct Partial {
    first_time: PacketTime,
    /// Sorted by `n` in sequence-number order.
    frags: Vec<Fragment>,
    bytes: usize,
}

/// Reassembles fragmented DATA chunks per association and stream.
#[derive(Debug, Default)]
pub struct SctpReassembler {
    config: SctpConfig,
    assocs: FastMap<AssocKey, Assoc>,
    partials: FastMap<PartialKey, Partial>,
    total_bytes: usize,
    /// Reassembled message, reused between messages.
    scratch: Vec<u8>,
    counters: SctpCounters,
}

/// A DATA or I-DATA chunk's fields.
#[derive(Clone, Copy, Debug)]
struct DataChunk<'a> {
    flags: u8,
    tsn: u32,
    stream: u16,
    /// I-DATA: (unordered, MID).
    idata: Option<(bool, u32)>,
    /// DATA: the PPID. I-DATA: PPID when B is set, else the FSN.
    ppid_or_fsn: u32,
    data: &'a [u8],
}

impl<'a> DataChunk<'a> {
    /// Parses the value of a chunk of `kind` (whole chunk, unpadded).
    fn parse(kind: u8, chunk: &'a [u8]) -> Result<Self, SctpError> {
        let header = if kind == CHUNK_I_DATA {
            I_DATA_HEADER_LEN
        } else {
            DATA_HEADER_LEN
        };
        if chunk.len() < header {
            return Err(SctpError::BadDataChunk);
        }
        let (fixed, data) = chunk.split_at(header);
        let flags = fixed.get(1).copied().unwrap_or(0);
        let f = |r: std::ops::Range<usize>| fixed.get(r).unwrap_or_default();
        let tsn = be_u32(f(4..8));
        let stream = be_u16(f(8..10));
        if kind == CHUNK_I_DATA {
            Ok(DataChunk {
                flags,
                tsn,
                stream,
                idata: Some((flags & FLAG_U != 0, be_u32(f(12..16)))),
                ppid_or_fsn: be_u32(f(16..20)),
                data,
            })
        } else {
            Ok(DataChunk {
                flags,
                tsn,
                stream,
                idata: None,
                ppid_or_fsn: be_u32(f(12..16)),
                data,
            })
        }
    }
}

impl SctpReassembler {
    /// A reassembler with these limits.
    pub fn new(config: SctpConfig) -> Self {
        SctpReassembler {
            config,
            ..SctpReassembler::default()
        }
    }

    /// The limits.
    pub fn config(&self) -> &SctpConfig {
        &self.config
    }

    /// What happened so far.
    pub fn counters(&self) -> &SctpCounters {
        &self.counters
    }

    /// Partial messages held now.
    pub fn partial_count(&self) -> usize {
        self.partials.len()
    }

    /// Bytes of those partial messages.
    pub fn partial_bytes(&self) -> usize {
        self.total_bytes
    }

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
        self.counters.packets += 1;
        let r = self.walk(time, src, dst, packet, on_message);
        if r.is_err() {
            self.counters.malformed_packets += 1;
        }
        r
    }

    fn walk(
        &mut self,
        time: PacketTime,
        src: IpAddr,
        dst: IpAddr,
        packet: &[u8],
        on_message: &mut dyn FnMut(&SctpMessage<'_>),
    ) -> Result<(), SctpError> {
        if packet.len() < COMMON_HEADER_LEN {
            return Err(SctpError::TooShort);
        }
        let (common, mut chunks) = packet.split_at(COMMON_HEADER_LEN);
        let f = |r: std::ops::Range<usize>| common.get(r).unwrap_or_default();
        let assoc = AssocKey {
            src,
            dst,
            src_port: be_u16(f(0..2)),
            dst_port: be_u16(f(2..4)),
            vtag: be_u32(f(4..8)),
        };
        while !chunks.is_empty() {
            let (Some(&kind), Some(len)) = (chunks.first(), chunks.get(2..4).map(be_u16)) else {
                return Err(SctpError::BadChunkLength);
            };
            let len = usize::from(len);
            if len < CHUNK_HEADER_LEN || len > chunks.len() {
                return Err(SctpError::BadChunkLength);
            }
            let (chunk, _) = chunks.split_at(len);
            // Padding to 4 bytes; the last chunk's padding may be absent.
            let padded = len.saturating_add(3) & !3;
            chunks = chunks.get(padded..).unwrap_or_default();
            match kind {
                CHUNK_DATA | CHUNK_I_DATA => {
                    self.counters.data_chunks += 1;
                    let d = DataChunk::parse(kind, chunk)?;
                    self.handle_data(time, assoc, &d, on_message);
                }
                _ => self.counters.control_chunks += 1,
            }
        }
        Ok(())
    }

    fn handle_data(
        &mut self,
        time: PacketTime,
        assoc: AssocKey,
        d: &DataChunk<'_>,
        on_message: &mut dyn FnMut(&SctpMessage<'_>),
    ) {
        if d.data.is_empty() {
            self.counters.empty_data_chunks += 1;
            return;
        }
        if !self.check_tsn(time, assoc, d.tsn) {
            self.counters.duplicate_tsns += 1;
            return;
        }
        let begin = d.flags & FLAG_B != 0;
        let end = d.flags & FLAG_E != 0;
        if begin && end {
            self.counters.messages += 1;
            on_message(&SctpMessage {
                src_port: assoc.src_port,
                dst_port: assoc.dst_port,
                stream: d.stream,
                ppid: d.ppid_or_fsn,
                data: d.data,
            });
            return;
        }
        // A fragment: DATA orders by TSN, I-DATA by FSN (0 for the first).
        let (n, ppid) = match d.idata {
            Some(_) if begin => (0, d.ppid_or_fsn),
            Some(_) => (d.ppid_or_fsn, 0),
            None => (d.tsn, d.ppid_or_fsn),
        };
        let key = PartialKey {
            assoc,
            stream: d.stream,
            idata: d.idata,
        };
        self.add_fragment(time, key, n, begin, end, ppid, d.data, on_message);
    }

    /// Whether a DATA chunk with `tsn` is new on `assoc`.
    fn check_tsn(&mut self, time: PacketTime, assoc: AssocKey, tsn: u32) -> bool {
        let full = self.assocs.len() >= self.config.max_associations;
        match self.assocs.get_mut(&assoc) {
            Some(a) => {
                a.last_seen = time;
                match a.see(tsn) {
                    TsnSeen::New => true,
                    TsnSeen::Duplicate => false,
                    TsnSeen::TooOld => {
                        self.counters.tsn_out_of_window += 1;
                        true
                    }
                }
            }
            None if full => {
                self.counters.untracked_associations += 1;
                true
            }
            None => {
                self.assocs.insert(assoc, Assoc::new(time, tsn));
                true
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn add_fragment(
        &mut self,
        time: PacketTime,
        key: PartialKey,
        n: u32,
        begin: bool,
        end: bool,
        ppid: u32,
        data: &[u8],
        on_message: &mut dyn FnMut(&SctpMessage<'_>),
    ) {
        let cfg = &self.config;
        if self.total_bytes.saturating_add(data.len()) > cfg.max_total_bytes {
            self.counters.total_bytes_exceeded += 1;
            return;
        }
        if !self.partials.contains_key(&key) && self.partials.len() >= cfg.max_partial_messages {
            self.counters.partials_refused += 1;
            return;
        }
        let p = self.partials.entry(key).or_insert_with(|| Partial {
            first_time: time,
            frags: Vec::new(),
            bytes: 0,
        });
        // Sorted insert; the spread of a partial's sequence numbers is tiny
        // next to 2^31, so signed differences order them across wrap.
        let pos = p
            .frags
            .partition_point(|f| (f.n.wrapping_sub(n) as i32) < 0);
        if p.frags.get(pos).is_some_and(|f| f.n == n) {
            // Same fragment again (I-DATA FSN resent under a new TSN).
            self.counters.duplicate_tsns += 1;
            return;
        }
        if p.bytes.saturating_add(data.len()) > cfg.max_message_bytes
            || p.frags.len() >= cfg.max_fragments_per_message
        {
            self.counters.message_too_big += 1;
            self.counters.partial_bytes_dropped += p.bytes as u64;
            self.total_bytes = self.total_bytes.saturating_sub(p.bytes);
            self.partials.remove(&key);
            return;
        }
        self.counters.fragments += 1;
        p.bytes += data.len();
        self.total_bytes += data.len();
        p.frags.insert(
            pos,
            Fragment {
                n,
                begin,
                end,
                ppid,
                data: data.to_vec(),
            },
        );
        // The run containing the new fragment: back to a B, forward to an E,
        // through consecutive numbers.
        let mut first = pos;
        while !p.frags.get(first).is_some_and(|f| f.begin) {
            let Some(prev) = first.checked_sub(1) else {
                return;
            };
            let (Some(a), Some(b)) = (p.frags.get(prev), p.frags.get(first)) else {
                return;
            };
            if a.n.wrapping_add(1) != b.n || a.end {
                return;
            }
            first = prev;
        }
        let mut last = pos;
        while !p.frags.get(last).is_some_and(|f| f.end) {
            let (Some(a), Some(b)) = (p.frags.get(last), p.frags.get(last + 1)) else {
                return;
            };
            if a.n.wrapping_add(1) != b.n || b.begin {
                return;
            }
            last += 1;
        }
        let ppid = p.frags.get(first).map_or(0, |f| f.ppid);
        self.scratch.clear();
        for f in p.frags.drain(first..=last) {
            self.scratch.extend_from_slice(&f.data);
        }
        let run_bytes = self.scratch.len();
        p.bytes = p.bytes.saturating_sub(run_bytes);
        self.total_bytes = self.total_bytes.saturating_sub(run_bytes);
        if p.frags.is_empty() {
            self.partials.remove(&key);
        }
        self.counters.messages += 1;
        self.counters.reassembled_messages += 1;
        on_message(&SctpMessage {
            src_port: key.assoc.src_port,
            dst_port: key.assoc.dst_port,
            stream: key.stream,
            ppid,
            data: &self.scratch,
        });
    }

    /// Drops partial messages older than the timeout at `now`, and
    /// associations idle past theirs.
    pub fn handle_timeout(&mut self, now: PacketTime) {
        let age = |t: PacketTime| now.as_nanos().saturating_sub(t.as_nanos());
        let (limit, counters, total) = (
            self.config.partial_timeout_ns,
            &mut self.counters,
            &mut self.total_bytes,
        );
        self.partials.retain(|_, p| {
            if age(p.first_time) > limit {
                counters.partials_timed_out += 1;
                counters.partial_bytes_dropped += p.bytes as u64;
                *total = total.saturating_sub(p.bytes);
                false
            } else {
                true
            }
        });
        let limit = self.config.association_idle_timeout_ns;
        self.assocs.retain(|_, a| {
            if age(a.last_seen) > limit {
                counters.associations_timed_out += 1;
                false
            } else {
                true
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    /// One record of a `tests/fixtures/*.sctp` file, written by a tshark
    /// extraction: `dir u8 | 0 u8 | 0 u32 | frame u32 | len u16 | SCTP packet`
    /// (integers big-endian; the packet is the IP payload).
    struct Rec<'a> {
        dir: u8,
        frame: u32,
        packet: &'a [u8],
    }

    fn read_recs(mut b: &[u8]) -> Vec<Rec<'_>> {
        let mut out = Vec::new();
        while b.len() >= 12 {
            let len = usize::from(u16::from_be_bytes([b[10], b[11]]));
            out.push(Rec {
                dir: b[0],
                frame: u32::from_be_bytes([b[6], b[7], b[8], b[9]]),
                packet: &b[12..12 + len],
            });
            b = &b[12 + len..];
        }
        assert!(b.is_empty(), "fixture ends inside a record");
        out
    }

    /// `sip-tcp/sip-sctp-sll.pcap`, all 5 frames: INVITE in two DATA
    /// fragments (frame 1 B, TSN 0; frame 2 E, TSN 1), then 100, 403, ACK.
    const SIP_SCTP: &[u8] = include_bytes!("../../tests/fixtures/sip-sctp-sll.sctp");
    /// `diameter/diameter-gx-gy-s6a-sctp-1ue.pcapng`, the 95 SCTP packets of
    /// frames 1-120: 61 DATA chunks (48 DIAMETER, PPID 46; 13 S1AP, PPID 18),
    /// 32 of them bundled after a SACK; 60 SACK, 3 HEARTBEAT, 3 HEARTBEAT ACK.
    const DIAMETER_SCTP: &[u8] =
        include_bytes!("../../tests/fixtures/diameter-gx-gy-s6a-sctp-1ue-first120.sctp");

    fn ip(dir: u8) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1 + dir))
    }

    fn t(ms: i64) -> PacketTime {
        PacketTime::from_nanos(ms * 1_000_000)
    }

    /// An owned copy of a delivered message.
    #[derive(Debug, Clone, PartialEq, Eq)]
    struct Msg {
        stream: u16,
        ppid: u32,
        data: Vec<u8>,
    }

    struct Rig {
        r: SctpReassembler,
        msgs: Vec<Msg>,
    }

    impl Rig {
        fn new() -> Self {
            Rig::with(SctpConfig::default())
        }
        fn with(cfg: SctpConfig) -> Self {
            Rig {
                r: SctpReassembler::new(cfg),
                msgs: Vec::new(),
            }
        }
        fn packet_at(&mut self, time: PacketTime, dir: u8, packet: &[u8]) -> Result<(), SctpError> {
            let msgs = &mut self.msgs;
            self.r
                .handle_packet(time, ip(dir), ip(1 - dir), packet, &mut |m| {
                    msgs.push(Msg {
                        stream: m.stream,
                        ppid: m.ppid,
                        data: m.data.to_vec(),
                    })
                })
        }
        fn packet(&mut self, packet: &[u8]) -> Result<(), SctpError> {
            self.packet_at(t(0), 0, packet)
        }
    }

    /// Made up: a common header, ports 3868 → 3868, verification tag 7.
    fn common() -> Vec<u8> {
        vec![0x0f, 0x1c, 0x0f, 0x1c, 0, 0, 0, 7, 0, 0, 0, 0]
    }

    /// Made up: a DATA chunk, padded.
    fn data(flags: u8, tsn: u32, stream: u16, ppid: u32, user: &[u8]) -> Vec<u8> {
        let len = (DATA_HEADER_LEN + user.len()) as u16;
        let mut c = vec![CHUNK_DATA, flags];
        c.extend_from_slice(&len.to_be_bytes());
        c.extend_from_slice(&tsn.to_be_bytes());
        c.extend_from_slice(&stream.to_be_bytes());
        c.extend_from_slice(&0u16.to_be_bytes());
        c.extend_from_slice(&ppid.to_be_bytes());
        c.extend_from_slice(user);
        while c.len() % 4 != 0 {
            c.push(0);
        }
        c
    }

    /// Made up: an I-DATA chunk, padded.
    fn idata(flags: u8, tsn: u32, stream: u16, mid: u32, ppid_or_fsn: u32, user: &[u8]) -> Vec<u8> {
        let len = (I_DATA_HEADER_LEN + user.len()) as u16;
        let mut c = vec![CHUNK_I_DATA, flags];
        c.extend_from_slice(&len.to_be_bytes());
        c.extend_from_slice(&tsn.to_be_bytes());
        c.extend_from_slice(&stream.to_be_bytes());
        c.extend_from_slice(&0u16.to_be_bytes());
        c.extend_from_slice(&mid.to_be_bytes());
        c.extend_from_slice(&ppid_or_fsn.to_be_bytes());
        c.extend_from_slice(user);
        while c.len() % 4 != 0 {
            c.push(0);
        }
        c
    }

    /// Made up: a SACK chunk with no gap blocks.
    fn sack() -> Vec<u8> {
        vec![3, 0, 0, 16, 0, 0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0]
    }

    fn pkt(chunks: &[Vec<u8>]) -> Vec<u8> {
        let mut p = common();
        for c in chunks {
            p.extend_from_slice(c);
        }
        p
    }

    const BE: u8 = FLAG_B | FLAG_E;

    #[test]
    fn sip_sctp_sll_reassembles_the_invite_from_frames_1_and_2() {
        let mut rig = Rig::new();
        for r in read_recs(SIP_SCTP) {
            rig.packet_at(t(i64::from(r.frame)), r.dir, r.packet)
                .unwrap();
        }
        assert_eq!(rig.msgs.len(), 4);
        let invite = &rig.msgs[0];
        // Frame 1 chunk length 1468, frame 2 chunk length 328, 16-byte headers.
        assert_eq!(invite.data.len(), 1452 + 312);
        assert!(invite.data.starts_with(b"INVITE "));
        assert!(rig.msgs[1].data.starts_with(b"SIP/2.0 100"));
        assert!(rig.msgs[3].data.starts_with(b"ACK "));
        assert!(rig
            .msgs
            .iter()
            .all(|m| crate::proto::sip::looks_like_sip(&m.data)));
        let c = rig.r.counters();
        assert_eq!((c.messages, c.reassembled_messages, c.fragments), (4, 1, 2));
        assert_eq!(rig.r.partial_count(), 0);
    }

    #[test]
    fn sip_sctp_sll_fragments_out_of_order() {
        let recs = read_recs(SIP_SCTP);
        let mut in_order = Rig::new();
        in_order.packet_at(t(0), 0, recs[0].packet).unwrap();
        in_order.packet_at(t(0), 0, recs[1].packet).unwrap();
        let mut reversed = Rig::new();
        reversed.packet_at(t(0), 0, recs[1].packet).unwrap();
        assert!(reversed.msgs.is_empty());
        reversed.packet_at(t(0), 0, recs[0].packet).unwrap();
        assert_eq!(in_order.msgs, reversed.msgs);
        assert_eq!(reversed.msgs.len(), 1);
    }

    #[test]
    fn diameter_sctp_1ue_bundled_sack_and_data() {
        let mut rig = Rig::new();
        let recs = read_recs(DIAMETER_SCTP);
        assert_eq!(recs.len(), 95);
        for r in &recs {
            rig.packet_at(t(i64::from(r.frame)), r.dir, r.packet)
                .unwrap();
        }
        assert_eq!(rig.msgs.len(), 61);
        let diameter: Vec<&Msg> = rig.msgs.iter().filter(|m| m.ppid == 46).collect();
        assert_eq!(diameter.len(), 48);
        assert_eq!(rig.msgs.iter().filter(|m| m.ppid == 18).count(), 13);
        for m in diameter {
            assert_eq!(m.data[0], 1, "DIAMETER version");
            let len =
                usize::from(m.data[1]) << 16 | usize::from(m.data[2]) << 8 | usize::from(m.data[3]);
            assert_eq!(len, m.data.len());
        }
        let c = rig.r.counters();
        assert_eq!(
            (c.data_chunks, c.control_chunks, c.duplicate_tsns),
            (61, 66, 0)
        );

        // Replaying every packet (as retransmissions) delivers nothing new.
        for r in &recs {
            rig.packet_at(t(200), r.dir, r.packet).unwrap();
        }
        assert_eq!(rig.msgs.len(), 61);
        assert_eq!(rig.r.counters().duplicate_tsns, 61);
    }

    #[test]
    fn bundled_data_chunks_are_delivered_in_order() {
        let mut rig = Rig::new();
        let p = pkt(&[
            sack(),
            data(BE, 10, 1, 46, b"one"),
            data(BE, 11, 2, 46, b"second!"),
            data(BE, 12, 1, 0, b"3"),
        ]);
        rig.packet(&p).unwrap();
        let got: Vec<(u16, &[u8])> = rig.msgs.iter().map(|m| (m.stream, &m.data[..])).collect();
        assert_eq!(got, vec![(1, &b"one"[..]), (2, b"second!"), (1, b"3")]);
        assert_eq!(rig.msgs[2].ppid, 0);
    }

    /// Regression (fuzz/artifacts/sctp crash-f523b4b9, an oracle error in the
    /// fuzz target): a whole message in one DATA chunk is a slice of the
    /// packet and is delivered whatever the reassembly cap; the cap bounds
    /// only what is buffered.
    #[test]
    fn unfragmented_message_longer_than_the_reassembly_cap_is_delivered() {
        let mut rig = Rig::with(SctpConfig {
            max_message_bytes: 16,
            ..SctpConfig::default()
        });
        rig.packet(&pkt(&[data(BE, 1, 0, 46, &[b'x'; 100])]))
            .unwrap();
        assert_eq!(rig.msgs.len(), 1);
        assert_eq!(rig.msgs[0].data.len(), 100);
        // The same size in fragments is over the cap and dropped, counted.
        rig.packet(&pkt(&[data(FLAG_B, 2, 0, 46, &[b'y'; 50])]))
            .unwrap();
        rig.packet(&pkt(&[data(FLAG_E, 3, 0, 46, &[b'y'; 50])]))
            .unwrap();
        assert_eq!(rig.msgs.len(), 1);
        assert!(rig.r.counters().message_too_big >= 1);
    }

    #[test]
    fn fragments_b_middle_e_in_every_order() {
        let frags = [
            data(FLAG_B, 100, 3, 46, b"AAAA"),
            data(0, 101, 3, 46, b"BB"),
            data(FLAG_E, 102, 3, 46, b"C"),
        ];
        let orders = [
            [0, 1, 2],
            [0, 2, 1],
            [1, 0, 2],
            [1, 2, 0],
            [2, 0, 1],
            [2, 1, 0],
        ];
        for order in orders {
            let mut rig = Rig::new();
            for (k, &i) in order.iter().enumerate() {
                rig.packet(&pkt(&[frags[i].clone()])).unwrap();
                assert_eq!(rig.msgs.len(), usize::from(k == 2), "order {order:?}");
            }
            assert_eq!(
                rig.msgs[0],
                Msg {
                    stream: 3,
                    ppid: 46,
                    data: b"AAAABBC".to_vec()
                }
            );
            assert_eq!(rig.r.partial_count(), 0);
            assert_eq!(rig.r.total_bytes, 0);
        }
        // All three bundled in one packet, reversed.
        let mut rig = Rig::new();
        rig.packet(&pkt(&[
            frags[2].clone(),
            frags[1].clone(),
            frags[0].clone(),
        ]))
        .unwrap();
        assert_eq!(rig.msgs.len(), 1);
    }

    #[test]
    fn fragments_of_two_messages_on_one_stream_and_tsn_wrap() {
        let mut rig = Rig::new();
        let m = u32::MAX;
        // Message 1: TSN MAX-1 .. MAX; message 2: TSN 0 .. 1 (wrapped).
        rig.packet(&pkt(&[data(FLAG_B, 0, 0, 46, b"x1")])).unwrap();
        rig.packet(&pkt(&[data(FLAG_B, m - 1, 0, 46, b"m1")]))
            .unwrap();
        rig.packet(&pkt(&[data(FLAG_E, 1, 0, 46, b"x2")])).unwrap();
        assert_eq!(rig.msgs.len(), 1);
        assert_eq!(rig.msgs[0].data, b"x1x2");
        rig.packet(&pkt(&[data(FLAG_E, m, 0, 46, b"m2")])).unwrap();
        assert_eq!(rig.msgs[1].data, b"m1m2");
        assert_eq!(rig.r.partial_count(), 0);
    }

    #[test]
    fn chunk_length_lies_are_errors_after_earlier_messages() {
        let mut rig = Rig::new();
        let mut p = pkt(&[data(BE, 1, 0, 46, b"ok")]);
        p.extend_from_slice(&[0, 3, 0, 200, 0, 0, 0, 2]); // length 200 > packet
        assert_eq!(rig.packet(&p), Err(SctpError::BadChunkLength));
        assert_eq!(rig.msgs.len(), 1);
        let mut p = pkt(&[data(BE, 2, 0, 46, b"ok")]);
        p.extend_from_slice(&[3, 0, 0, 2]); // length 2 < 4
        assert_eq!(rig.packet(&p), Err(SctpError::BadChunkLength));
        assert_eq!(rig.msgs.len(), 2);
        let mut p = common();
        p.extend_from_slice(&[3, 0]); // a chunk header cut short
        assert_eq!(rig.packet(&p), Err(SctpError::BadChunkLength));
        assert_eq!(rig.packet(&[0; 11]), Err(SctpError::TooShort));
        // A DATA chunk too short for its header.
        assert_eq!(
            rig.packet(&pkt(&[vec![0, 3, 0, 12, 0, 0, 0, 5, 0, 0, 0, 0]])),
            Err(SctpError::BadDataChunk)
        );
        assert_eq!(rig.r.counters().malformed_packets, 5);
        // The last chunk may omit its padding; a bare common header is fine.
        let mut p = pkt(&[data(BE, 3, 0, 46, b"odd")]);
        p.pop();
        rig.packet(&p).unwrap();
        assert_eq!(rig.msgs.len(), 3);
        rig.packet(&common()).unwrap();
    }

    #[test]
    fn empty_data_chunk_is_skipped() {
        let mut rig = Rig::new();
        rig.packet(&pkt(&[data(BE, 1, 0, 46, b""), data(BE, 2, 0, 46, b"x")]))
            .unwrap();
        assert_eq!(rig.msgs.len(), 1);
        assert_eq!(rig.r.counters().empty_data_chunks, 1);
    }

    #[test]
    fn i_data_whole_and_fragmented_by_fsn() {
        let mut rig = Rig::new();
        rig.packet(&pkt(&[idata(BE, 1, 4, 0, 46, b"whole")]))
            .unwrap();
        // Message MID 1 in three fragments: FSN 0 (B, carries the PPID), 1, 2 (E);
        // interleaved with MID 2 on the same stream, unordered.
        rig.packet(&pkt(&[idata(FLAG_E, 4, 4, 1, 2, b"-c")]))
            .unwrap();
        rig.packet(&pkt(&[idata(FLAG_B | FLAG_U, 5, 4, 2, 46, b"u")]))
            .unwrap();
        rig.packet(&pkt(&[idata(FLAG_B, 2, 4, 1, 46, b"a")]))
            .unwrap();
        rig.packet(&pkt(&[idata(FLAG_E | FLAG_U, 6, 4, 2, 1, b"!")]))
            .unwrap();
        rig.packet(&pkt(&[idata(0, 3, 4, 1, 1, b"-b")])).unwrap();
        let got: Vec<(u32, &[u8])> = rig.msgs.iter().map(|m| (m.ppid, &m.data[..])).collect();
        assert_eq!(got, vec![(46, &b"whole"[..]), (46, b"u!"), (46, b"a-b-c")]);
        assert_eq!(rig.r.partial_count(), 0);
    }

    #[test]
    fn retransmitted_data_is_not_delivered_twice() {
        let mut rig = Rig::new();
        let p = pkt(&[data(BE, 500, 0, 46, b"m")]);
        rig.packet(&p).unwrap();
        rig.packet(&pkt(&[data(BE, 501, 0, 46, b"n")])).unwrap();
        rig.packet(&p).unwrap();
        assert_eq!(rig.msgs.len(), 2);
        assert_eq!(rig.r.counters().duplicate_tsns, 1);
        // The same TSN from another association (other tag) is new.
        let mut other = p.clone();
        other[7] = 8;
        rig.packet(&other).unwrap();
        assert_eq!(rig.msgs.len(), 3);
        // A TSN older than the window is delivered and counted.
        rig.packet(&pkt(&[data(BE, 501 + TSN_WINDOW + 10, 0, 46, b"far")]))
            .unwrap();
        rig.packet(&pkt(&[data(BE, 501, 0, 46, b"n")])).unwrap();
        assert_eq!(rig.msgs.len(), 5);
        assert_eq!(rig.r.counters().tsn_out_of_window, 1);
    }

    #[test]
    fn tsn_window_shift_matches_bit_by_bit() {
        for n in [1u32, 5, 63, 64, 65, 128, 200, 255] {
            let mut a = Assoc::new(t(0), 1000);
            for tsn in [999u32, 990, 940, 900, 870, 800, 760] {
                a.see(tsn);
            }
            let before: Vec<bool> = (0..TSN_WINDOW).map(|d| a.get(d)).collect();
            a.shift(n);
            for d in 0..TSN_WINDOW {
                let want = d >= n && before[(d - n) as usize];
                assert_eq!(a.get(d), want, "shift {n} bit {d}");
            }
        }
    }

    #[test]
    fn tsn_window_shifts() {
        let mut a = Assoc::new(t(0), 10);
        assert_eq!(a.see(10), TsnSeen::Duplicate);
        assert_eq!(a.see(9), TsnSeen::New);
        assert_eq!(a.see(80), TsnSeen::New);
        assert_eq!(a.see(9), TsnSeen::Duplicate);
        assert_eq!(a.see(10), TsnSeen::Duplicate);
        assert_eq!(a.see(11), TsnSeen::New);
        assert_eq!(a.see(80 + TSN_WINDOW), TsnSeen::New);
        assert_eq!(a.see(80), TsnSeen::TooOld);
        assert_eq!(a.see(81), TsnSeen::New);
        assert_eq!(a.see(81), TsnSeen::Duplicate);
    }

    #[test]
    fn message_byte_and_partial_limits_are_counted() {
        let cfg = SctpConfig {
            max_message_bytes: 10,
            max_partial_messages: 1,
            ..SctpConfig::default()
        };
        let mut rig = Rig::with(cfg);
        rig.packet(&pkt(&[data(FLAG_B, 1, 0, 46, b"123456")]))
            .unwrap();
        // A second stream would be a second partial message: refused.
        rig.packet(&pkt(&[data(FLAG_B, 7, 1, 46, b"x")])).unwrap();
        assert_eq!(rig.r.counters().partials_refused, 1);
        // Growing past 10 bytes drops the partial message.
        rig.packet(&pkt(&[data(0, 2, 0, 46, b"789012")])).unwrap();
        assert_eq!(rig.r.partial_count(), 0);
        assert_eq!(rig.r.total_bytes, 0);
        let c = rig.r.counters();
        assert_eq!((c.message_too_big, c.partial_bytes_dropped), (1, 6));
        // The total byte cap.
        let cfg = SctpConfig {
            max_total_bytes: 8,
            ..SctpConfig::default()
        };
        let mut rig = Rig::with(cfg);
        rig.packet(&pkt(&[data(FLAG_B, 1, 0, 46, b"123456")]))
            .unwrap();
        rig.packet(&pkt(&[data(FLAG_E, 2, 0, 46, b"789")])).unwrap();
        assert_eq!(rig.r.counters().total_bytes_exceeded, 1);
        assert!(rig.msgs.is_empty());
    }

    #[test]
    fn partial_messages_and_associations_time_out() {
        let mut rig = Rig::new();
        rig.packet_at(t(0), 0, &pkt(&[data(FLAG_B, 1, 0, 46, b"abc")]))
            .unwrap();
        rig.r.handle_timeout(t(9_000));
        assert_eq!(rig.r.partial_count(), 1);
        rig.r.handle_timeout(t(10_001));
        assert_eq!(rig.r.partial_count(), 0);
        let c = rig.r.counters();
        assert_eq!((c.partials_timed_out, c.partial_bytes_dropped), (1, 3));
        assert_eq!(rig.r.total_bytes, 0);
        // The E fragment alone now waits for a B that is gone.
        rig.packet_at(t(10_002), 0, &pkt(&[data(FLAG_E, 2, 0, 46, b"d")]))
            .unwrap();
        assert!(rig.msgs.is_empty());
        rig.r.handle_timeout(t(400_000));
        assert_eq!(rig.r.counters().associations_timed_out, 1);
        assert!(rig.r.assocs.is_empty());
    }
}
