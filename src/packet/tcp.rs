//! TCP stream reassembly for signalling ports (SIP, DIAMETER, SIP over
//! WebSocket).
//!
//! [`TcpReassembler`] owns one entry per TCP connection (both directions of an
//! endpoint pair). Each direction tracks the next expected sequence number,
//! holds out-of-order segments (bounded in count and bytes), and feeds its
//! in-order bytes to a framer that cuts complete PDUs ([`Framing::Sip`],
//! [`Framing::Diameter`], [`Framing::WebSocket`]) and hands each to the
//! caller's `on_pdu`. Several PDUs in one segment and one PDU over several
//! segments both work.
//!
//! WebSocket (RFC 6455, SIP over it by RFC 7118): each direction first passes
//! over its HTTP handshake message (the `GET` with `Upgrade: websocket`, the
//! `101 Switching Protocols`), then reads frames. A complete text or binary
//! message is one PDU, unmasked and with its fragments joined in a buffer
//! owned by the direction (bounded by [`TcpConfig::max_buffered_bytes`],
//! reused, allocated only for masked or fragmented messages, so never on the
//! plain SIP path). Control frames are skipped; compressed
//! (permessage-deflate) messages are counted and dropped, not inflated; a
//! frame larger than the cap is skipped byte-exactly so framing stays in
//! step. After a gap the framer hunts for a frame whose payload starts like
//! SIP.
//!
//! The contract, Suricata-style:
//! - An incomplete PDU is not an error: its bytes wait in the direction's
//!   buffer. When nothing is buffered, complete PDUs are delivered straight
//!   from the segment, so the common in-order path copies only a trailing
//!   partial PDU.
//! - Bytes already delivered (retransmissions, overlaps) are trimmed, never
//!   delivered twice.
//! - A missing segment that is not filled before the out-of-order buffer is
//!   full, or before [`TcpConfig::reorder_timeout_ns`] passes without the
//!   stream moving on in order, is a gap: the partial PDU before it is
//!   dropped, the stream skips to the buffered data and the framer
//!   resynchronises (SIP: next line that starts like a SIP start line;
//!   DIAMETER: next plausible header). A segment is handled before the
//!   reorder timeout is checked, so the next in-order segment after a long
//!   silence is delivered rather than skipped over.
//! - Receive window: a segment starting more than [`MAX_WINDOW_BYTES`] ahead
//!   of the next expected byte, and a FIN outside that window, are dropped
//!   and counted, never held and never a reason to skip: one spoofed segment
//!   far ahead cannot make the stream jump past the real data. A stream that
//!   really moved that far ahead (capture loss of more than a window) is
//!   followed after [`FOLLOW_SEGMENTS`] out-of-window segments each
//!   continuing the one before, with no in-window data between them.
//! - Memory: besides the per-direction caps, all connections together hold
//!   at most [`TcpConfig::max_total_buffered_bytes`]; past it a new
//!   out-of-order segment is dropped and a partial PDU that would grow is
//!   released, both counted.
//! - A malformed PDU (SIP headers without an end within
//!   [`TcpConfig::max_sip_header_bytes`], an unparsable or oversized
//!   `Content-Length`, a DIAMETER header with a bad version or length) is
//!   counted and the framer resynchronises the same way.
//! - A connection picked up mid-stream (no SYN seen) starts resynchronising:
//!   its first bytes must look like a PDU start or are skipped.
//! - Every limit is in [`TcpConfig`] and every drop is counted in
//!   [`TcpCounters`]. Time is packet time; nothing reads the clock.
//!
//! Call order: `handle_segment` for every TCP segment of a signalling port
//! (including zero-length ones carrying SYN/FIN/RST), with non-decreasing
//! packet times; `handle_timeout(now)` from time to time to forget idle
//! connections.

use super::Endpoint;
use crate::proto::websocket;
use crate::time::PacketTime;
use serde::Serialize;
use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet, VecDeque};

type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;
type FastSet<K> = HashSet<K, foldhash::fast::RandomState>;

/// How the bytes of a stream are cut into PDUs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Framing {
    /// SIP: headers up to an empty line, then `Content-Length` bytes of body.
    Sip,
    /// DIAMETER: 20-byte header whose 24-bit length covers the message.
    Diameter,
    /// WebSocket (RFC 6455): an HTTP upgrade handshake, then frames; each
    /// text or binary message is a PDU (SIP over WebSocket, RFC 7118).
    WebSocket,
}

/// TCP flags the reassembler cares about.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TcpFlags {
    /// SYN.
    pub syn: bool,
    /// FIN.
    pub fin: bool,
    /// RST.
    pub rst: bool,
}

/// Limits of the TCP reassembler.
#[derive(Clone, Debug)]
pub struct TcpConfig {
    /// Connections tracked at once. A new connection beyond this is not
    /// tracked (counted in [`TcpCounters::connections_refused`]) until idle
    /// ones time out: refusing keeps established dialogs intact under a flood
    /// of new connections, where evicting would break them.
    pub max_connections: usize,
    /// Bytes buffered across all connections (incomplete PDUs, out-of-order
    /// segments, fragmented WebSocket messages). Past it a new out-of-order
    /// segment is dropped and a direction whose partial PDU would grow
    /// releases it (counted in [`TcpCounters::dropped_memory_cap_segments`]).
    /// `max_connections * 2 * max_buffered_bytes` (32 GiB by default) is no
    /// bound a probe can live with.
    pub max_total_buffered_bytes: usize,
    /// Bytes buffered per direction of a connection (incomplete PDU plus
    /// out-of-order segments). Also the largest PDU accepted: a SIP message
    /// or DIAMETER message declaring more is malformed.
    pub max_buffered_bytes: usize,
    /// Out-of-order segments held per direction; one more declares a gap.
    pub max_out_of_order_segments: usize,
    /// SIP headers longer than this without an empty line are malformed;
    /// so are the HTTP headers of a WebSocket handshake.
    pub max_sip_header_bytes: usize,
    /// A hole before buffered out-of-order data that stays unfilled this long
    /// (packet time), with the stream not moving on in order meanwhile, is a
    /// gap. TCP's first retransmission comes after an RTO
    /// of at least 1 s (RFC 6298 §2.4), the second about 2 s later; a segment
    /// still missing after 5 s was most likely lost by the capture.
    pub reorder_timeout_ns: i64,
    /// A connection idle this long (packet time) is forgotten.
    pub idle_timeout_ns: i64,
}

impl Default for TcpConfig {
    fn default() -> Self {
        TcpConfig {
            max_connections: 65_536,
            max_total_buffered_bytes: DEFAULT_MAX_TOTAL_BUFFERED_BYTES,
            max_buffered_bytes: 256 * 1024,
            max_out_of_order_segments: 64,
            max_sip_header_bytes: 64 * 1024,
            reorder_timeout_ns: 5 * 1_000_000_000,
            idle_timeout_ns: 300 * 1_000_000_000,
        }
    }
}

/// Default of [`TcpConfig::max_total_buffered_bytes`]: 64 MiB, four times
/// the IP fragment and SCTP caps (TCP carries the bulk of the signalling),
/// room for 256 directions each holding a full 256 KiB, or thousands of
/// connections each holding a partial message of a few KiB.
pub const DEFAULT_MAX_TOTAL_BUFFERED_BYTES: usize = 64 << 20;

/// How far ahead of the next expected byte a segment may start (sequence
/// space). A sender never sends past the receiver's advertised window, and
/// signalling peers advertise small ones: Linux autotunes its receive
/// buffer to at most 6 MiB by default (`tcp_rmem`), and the bandwidth-delay
/// product of a signalling link (100 Mbit/s at 50 ms is 625 KB) is far below
/// that. A segment further ahead is spoofed or garbage, unless the capture
/// lost more than a window of the stream ([`FOLLOW_SEGMENTS`]).
pub const MAX_WINDOW_BYTES: u32 = 8 << 20;

/// Out-of-window segments, each starting where the one before ended, after
/// which the stream is followed there (a gap up to the last one). A stream
/// whose capture lost more than [`MAX_WINDOW_BYTES`] sends on in such runs;
/// a live connection's own in-window data between them resets the count, so
/// spoofed far-ahead segments cannot move a stream that is carrying data. A
/// connection that stays silent while a spoofer sends this many continuing
/// segments can still be moved: telling that apart needs the peer's ACKs.
pub const FOLLOW_SEGMENTS: u8 = 8;

/// Refused connections remembered so that each is counted once in
/// [`TcpCounters::connections_refused`] however many segments it sends
/// (about 330 KiB at most; a connection refused again after this many
/// others is counted again).
const REFUSED_MEMORY: usize = 4096;

/// What the TCP reassembler did, and every limit it hit.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct TcpCounters {
    /// Segments handed to the reassembler.
    pub segments: u64,
    /// Connections created.
    pub connections_opened: u64,
    /// New connections not tracked because `max_connections` were tracked,
    /// each counted once (among the last 4096 refused) however many
    /// segments it sends.
    pub connections_refused: u64,
    /// Segments of refused connections (every one, SYN or data).
    pub refused_segments: u64,
    /// Connections removed after FIN in both directions or RST.
    pub connections_closed: u64,
    /// Connections removed by `handle_timeout` after `idle_timeout_ns`.
    pub connections_timed_out: u64,
    /// Directions restarted by a SYN with a new sequence number.
    pub directions_restarted: u64,
    /// PDUs delivered.
    pub pdus: u64,
    /// Payload bytes trimmed because they had been delivered already
    /// (retransmissions, overlaps).
    pub retransmitted_bytes: u64,
    /// Segments held out of order.
    pub out_of_order_segments: u64,
    /// Gaps: holes given up on (buffer full, reorder timeout, or a stream
    /// followed out of the window).
    pub gaps: u64,
    /// Sequence space skipped over by gaps (bytes never seen).
    pub gap_bytes: u64,
    /// Bytes discarded while resynchronising the framer, and partial PDUs
    /// dropped at a gap.
    pub skipped_bytes: u64,
    /// Malformed PDU starts after which the framer searched for the next PDU
    /// start (gaps and mid-stream pickups search too, counted elsewhere).
    pub resyncs: u64,
    /// Runs of CR/LF between SIP messages (RFC 5626 keep-alives).
    pub sip_keepalives: u64,
    /// SIP messages whose headers had no end within `max_sip_header_bytes`.
    pub sip_headers_too_long: u64,
    /// SIP messages with an unparsable `Content-Length`, or one making the
    /// message larger than `max_buffered_bytes`.
    pub sip_bad_content_length: u64,
    /// Bytes at a SIP message start that did not look like a start line.
    pub sip_not_a_start_line: u64,
    /// DIAMETER headers with a bad version, length or flags.
    pub diameter_bad_header: u64,
    /// Buffers dropped because they exceeded `max_buffered_bytes`.
    pub buffer_overflows: u64,
    /// Segments dropped because they started more than [`MAX_WINDOW_BYTES`]
    /// ahead of the next expected byte, and bare FINs outside that window
    /// (or before bytes already delivered).
    pub out_of_window_segments: u64,
    /// Streams followed out of the window after [`FOLLOW_SEGMENTS`]
    /// continuing out-of-window segments (each also a gap).
    pub out_of_window_jumps: u64,
    /// Out-of-order segments dropped, and partial PDUs released, because all
    /// connections together held `max_total_buffered_bytes`.
    pub dropped_memory_cap_segments: u64,
    /// Bytes of those segments and partial PDUs.
    pub dropped_memory_cap_bytes: u64,
    /// Bytes of incomplete PDUs and out-of-order data dropped when a
    /// connection closed, restarted or timed out.
    pub dropped_bytes_at_close: u64,
    /// WebSocket: HTTP handshake messages passed over (upgrade requests and
    /// their responses).
    pub websocket_handshakes: u64,
    /// WebSocket: complete text and binary messages delivered.
    pub websocket_messages: u64,
    /// WebSocket: control frames (close, ping, pong) skipped.
    pub websocket_control_frames: u64,
    /// WebSocket: compressed (RSV1, permessage-deflate) messages dropped.
    pub websocket_compressed_messages: u64,
    /// WebSocket: frames or messages larger than `max_buffered_bytes` dropped.
    pub websocket_oversized: u64,
    /// WebSocket: frames breaking RFC 6455 (bad length, fragmented or long
    /// control frame, reserved opcode or bits, a continuation without a
    /// start, a new message inside a fragmented one).
    pub websocket_bad_frames: u64,
    /// WebSocket: bytes where a handshake message was expected that were
    /// neither HTTP nor a frame.
    pub websocket_bad_handshakes: u64,
}

/// Key of a connection: the two endpoints, lower first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct ConnKey {
    a: Endpoint,
    b: Endpoint,
}

impl ConnKey {
    /// The key and the direction index of `src → dst` (0 when `src` is `a`).
    fn of(src: Endpoint, dst: Endpoint) -> (ConnKey, usize) {
        if src <= dst {
            (ConnKey { a: src, b: dst }, 0)
        } else {
            (ConnKey { a: dst, b: src }, 1)
        }
    }
}

#[derive(Debug)]
struct Connection {
    last_seen: PacketTime,
    dirs: [HalfStream; 2],
}

/// One segment held out of order.
#[derive(Debug)]
struct OooSegment {
    seq: u32,
    time: PacketTime,
    data: Vec<u8>,
}

/// One direction of a connection.
#[derive(Debug)]
struct HalfStream {
    /// Next expected sequence number; `None` until the first SYN or data.
    next_seq: Option<u32>,
    /// Sequence number just past the FIN, once a FIN is seen.
    fin_seq: Option<u32>,
    closed: bool,
    /// Out-of-window segments in the current run, each continuing the one
    /// before (0: no run).
    far_run: u8,
    /// Where the run's last segment ended.
    far_next: u32,
    /// In-order bytes not yet cut into PDUs (starts at a PDU start, or at the
    /// framer's resync position).
    buf: Vec<u8>,
    ooo: Vec<OooSegment>,
    ooo_bytes: usize,
    framer: Framer,
}

impl HalfStream {
    fn new(framing: Framing) -> Self {
        HalfStream {
            next_seq: None,
            fin_seq: None,
            closed: false,
            far_run: 0,
            far_next: 0,
            buf: Vec::new(),
            ooo: Vec::new(),
            ooo_bytes: 0,
            framer: Framer::new(framing),
        }
    }

    /// Bytes held (partial PDU and out-of-order data).
    fn held_bytes(&self) -> usize {
        self.buf.len() + self.ooo_bytes
    }

    /// Bytes counted against [`TcpConfig::max_total_buffered_bytes`]: those
    /// held, and a fragmented WebSocket message being joined.
    fn tallied_bytes(&self) -> usize {
        self.held_bytes() + self.framer.ws.message.len()
    }

    /// Drops everything held, counting it.
    fn drop_held(&mut self, counters: &mut TcpCounters) {
        counters.dropped_bytes_at_close += self.tallied_bytes() as u64;
        self.buf = Vec::new();
        self.ooo = Vec::new();
        self.ooo_bytes = 0;
        self.framer.ws.drop_message();
    }
}

/// What the other connections leave of [`TcpConfig::max_total_buffered_bytes`]
/// while one direction handles a segment.
#[derive(Clone, Copy, Debug)]
struct Budget {
    /// Bytes tallied by every other direction.
    others: usize,
    cap: usize,
}

impl Budget {
    /// A direction tallying `held` bytes may take `more`.
    fn allows(self, held: usize, more: usize) -> bool {
        self.others.saturating_add(held).saturating_add(more) <= self.cap
    }
}

/// Refused connections recently seen, so that each is counted once.
#[derive(Debug, Default)]
struct Refused {
    keys: FastSet<ConnKey>,
    /// The same keys, oldest first, to forget beyond [`REFUSED_MEMORY`].
    order: VecDeque<ConnKey>,
}

impl Refused {
    /// Counts a segment of a refused connection, and the connection the
    /// first time it is seen.
    fn refuse(&mut self, key: ConnKey, counters: &mut TcpCounters) {
        counters.refused_segments += 1;
        if self.keys.contains(&key) {
            return;
        }
        counters.connections_refused += 1;
        if self.order.len() >= REFUSED_MEMORY {
            if let Some(old) = self.order.pop_front() {
                self.keys.remove(&old);
            }
        }
        self.keys.insert(key);
        self.order.push_back(key);
    }
}

/// An empty framing buffer keeping more capacity than this is freed: most
/// connections carry PDUs of a few KiB, and 65 536 connections each holding on
/// to one earlier large PDU's buffer would add up.
const MAX_IDLE_BUFFER_CAPACITY: usize = 16 * 1024;

/// Signed distance from `base` to `seq` in sequence space (RFC 9293 §3.4
/// comparisons are modulo 2^32).
fn seq_diff(seq: u32, base: u32) -> i64 {
    i64::from(seq.wrapping_sub(base) as i32)
}

/// Reassembles TCP streams and frames them into PDUs.
///
/// Deterministic: state changes only through `handle_segment` and
/// `handle_timeout`, on packet time.
#[derive(Debug, Default)]
pub struct TcpReassembler {
    config: TcpConfig,
    conns: FastMap<ConnKey, Connection>,
    counters: TcpCounters,
    /// Bytes tallied by every direction of every connection (see
    /// `HalfStream::tallied_bytes`).
    held: usize,
    refused: Refused,
}

impl TcpReassembler {
    /// A reassembler with these limits.
    pub fn new(config: TcpConfig) -> Self {
        TcpReassembler {
            config,
            conns: FastMap::default(),
            counters: TcpCounters::default(),
            held: 0,
            refused: Refused::default(),
        }
    }

    /// Bytes buffered across all connections now: at most
    /// [`TcpConfig::max_total_buffered_bytes`] between segments.
    pub fn held_bytes(&self) -> usize {
        self.held
    }

    /// The limits.
    pub fn config(&self) -> &TcpConfig {
        &self.config
    }

    /// What happened so far.
    pub fn counters(&self) -> &TcpCounters {
        &self.counters
    }

    /// Connections tracked now.
    pub fn connection_count(&self) -> usize {
        self.conns.len()
    }

    /// Feeds one segment; calls `on_pdu` with every PDU it completes.
    ///
    /// `seq` is the segment's sequence number (of the SYN itself when `syn` is
    /// set); `framing` is used when the connection is new and ignored after.
    #[allow(clippy::too_many_arguments)]
    pub fn handle_segment(
        &mut self,
        time: PacketTime,
        src: Endpoint,
        dst: Endpoint,
        seq: u32,
        flags: TcpFlags,
        payload: &[u8],
        framing: Framing,
        on_pdu: &mut dyn FnMut(&[u8]),
    ) {
        self.counters.segments += 1;
        let (key, dir) = ConnKey::of(src, dst);
        let cfg = &self.config;
        let counters = &mut self.counters;
        let full = self.conns.len() >= cfg.max_connections;
        let conn = match self.conns.entry(key) {
            Entry::Occupied(o) => o.into_mut(),
            Entry::Vacant(v) => {
                // Pure ACKs, and FIN/RST of connections we do not know, create
                // nothing.
                if flags.rst || (!flags.syn && payload.is_empty()) {
                    return;
                }
                if full {
                    self.refused.refuse(key, counters);
                    return;
                }
                counters.connections_opened += 1;
                v.insert(Connection {
                    last_seen: time,
                    dirs: [HalfStream::new(framing), HalfStream::new(framing)],
                })
            }
        };
        conn.last_seen = time;

        if flags.rst {
            // Whatever was complete has been delivered; the rest is lost.
            // Data on a RST is not processed (RFC 9293 §3.5.3: the receiver
            // discards it).
            for d in &mut conn.dirs {
                self.held = self.held.saturating_sub(d.tallied_bytes());
                d.drop_held(counters);
            }
            counters.connections_closed += 1;
            self.conns.remove(&key);
            return;
        }

        let Some(half) = conn.dirs.get_mut(dir) else {
            return;
        };
        // The tally changes only through this direction until it is done:
        // take its share out, put back what it holds after.
        let budget = Budget {
            others: self.held.saturating_sub(half.tallied_bytes()),
            cap: cfg.max_total_buffered_bytes,
        };
        half.handle(time, seq, flags, payload, cfg, budget, counters, on_pdu);
        self.held = budget.others.saturating_add(half.tallied_bytes());
        // Closed both ways (a direction never seen counts as closed: with
        // one-way captures it never FINs).
        if conn.dirs.iter().all(|d| d.closed || d.next_seq.is_none()) {
            for d in &mut conn.dirs {
                self.held = self.held.saturating_sub(d.tallied_bytes());
                d.drop_held(counters);
            }
            counters.connections_closed += 1;
            self.conns.remove(&key);
        }
    }

    /// Forgets connections idle past the timeout at `now`.
    pub fn handle_timeout(&mut self, now: PacketTime) {
        let limit = self.config.idle_timeout_ns;
        let counters = &mut self.counters;
        let held = &mut self.held;
        self.conns.retain(|_, c| {
            if now.as_nanos().saturating_sub(c.last_seen.as_nanos()) > limit {
                counters.connections_timed_out += 1;
                for d in &mut c.dirs {
                    *held = held.saturating_sub(d.tallied_bytes());
                    d.drop_held(counters);
                }
                false
            } else {
                true
            }
        });
    }
}

impl HalfStream {
    /// Handles one segment of this direction (not a RST).
    #[allow(clippy::too_many_arguments)]
    fn handle(
        &mut self,
        time: PacketTime,
        seq: u32,
        flags: TcpFlags,
        payload: &[u8],
        cfg: &TcpConfig,
        budget: Budget,
        counters: &mut TcpCounters,
        on_pdu: &mut dyn FnMut(&[u8]),
    ) {
        let data_seq = if flags.syn { seq.wrapping_add(1) } else { seq };
        if flags.syn {
            match self.next_seq {
                // A retransmitted SYN, or the SYN after data we picked up.
                Some(n) if seq_diff(data_seq, n) <= 0 && !self.closed => {}
                Some(_) => {
                    // Same endpoints, new sequence space: a new connection.
                    counters.directions_restarted += 1;
                    self.drop_held(counters);
                    *self = HalfStream::new(self.framer.framing);
                    self.next_seq = Some(data_seq);
                }
                None => self.next_seq = Some(data_seq),
            }
        } else if self.next_seq.is_none() {
            if payload.is_empty() {
                return;
            }
            // Picked up mid-stream: the first bytes may be the tail of a PDU.
            self.next_seq = Some(data_seq);
            self.framer.lose_sync();
        }
        if self.closed {
            counters.retransmitted_bytes += payload.len() as u64;
            return;
        }

        // The segment first: if it is the next in order after a long
        // silence, it is delivered, not skipped over by the timeout.
        if !payload.is_empty() {
            self.handle_data(time, data_seq, payload, cfg, budget, counters, on_pdu);
        }
        self.expire_reorder(time, cfg, budget, counters, on_pdu);
        if flags.fin {
            let fin = data_seq.wrapping_add(payload.len() as u32);
            // A FIN before bytes already delivered, or more than a window
            // ahead, is spoofed or garbage: taking it would close the
            // direction (or wait for data that never comes).
            let in_window = self.next_seq.is_none_or(|n| {
                seq_diff(fin, n) >= 0 && seq_diff(data_seq, n) <= i64::from(MAX_WINDOW_BYTES)
            });
            if in_window {
                self.fin_seq = Some(fin);
            } else if payload.is_empty() {
                // (With data, the segment was counted as it was handled.)
                counters.out_of_window_segments += 1;
            }
        }
        if let (Some(fin), Some(next)) = (self.fin_seq, self.next_seq) {
            if seq_diff(next, fin) >= 0 {
                // All data before the FIN is in: what is left is incomplete.
                self.closed = true;
                self.drop_held(counters);
            }
        }
    }

    /// Declares a gap when the oldest out-of-order segment has waited longer
    /// than the reorder timeout. The clock of what is held restarts whenever
    /// the stream moves on (in order, or over a gap): a hole is given up on
    /// only once the stream has been stuck at it that long, so a segment
    /// planted ahead of a live stream never makes it skip its real data.
    fn expire_reorder(
        &mut self,
        now: PacketTime,
        cfg: &TcpConfig,
        budget: Budget,
        counters: &mut TcpCounters,
        on_pdu: &mut dyn FnMut(&[u8]),
    ) {
        let Some(oldest) = self.ooo.iter().map(|s| s.time).min() else {
            return;
        };
        if now.as_nanos().saturating_sub(oldest.as_nanos()) > cfg.reorder_timeout_ns {
            self.skip_gap(cfg, budget, counters, on_pdu);
            self.restart_reorder_clock(now);
        }
    }

    /// The stream moved on at `now`: what is still held waits anew.
    fn restart_reorder_clock(&mut self, now: PacketTime) {
        for s in &mut self.ooo {
            s.time = now;
        }
    }

    /// Handles the payload of one segment starting at `seq`.
    #[allow(clippy::too_many_arguments)]
    fn handle_data(
        &mut self,
        time: PacketTime,
        seq: u32,
        payload: &[u8],
        cfg: &TcpConfig,
        budget: Budget,
        counters: &mut TcpCounters,
        on_pdu: &mut dyn FnMut(&[u8]),
    ) {
        // Each round either consumes the segment or skips a gap, which
        // removes at least one out-of-order segment (or, once, moves the
        // stream to the segment): at most `max_out_of_order_segments + 3`
        // rounds.
        loop {
            let Some(next) = self.next_seq else {
                return;
            };
            let rel = seq_diff(seq, next);
            if rel <= 0 {
                let skip = usize::try_from(-rel).unwrap_or(usize::MAX);
                let Some(fresh) = payload.get(skip..).filter(|f| !f.is_empty()) else {
                    counters.retransmitted_bytes += payload.len() as u64;
                    return;
                };
                counters.retransmitted_bytes += skip as u64;
                self.far_run = 0;
                self.deliver_in_order(fresh, cfg, budget, counters, on_pdu);
                self.drain_ooo(cfg, budget, counters, on_pdu);
                self.restart_reorder_clock(time);
                return;
            }
            if rel > i64::from(MAX_WINDOW_BYTES) {
                if self.follow_far(seq, payload.len(), counters) {
                    continue;
                }
                counters.out_of_window_segments += 1;
                return;
            }
            self.far_run = 0;
            // Out of order: hold it if it fits.
            let fits = self.ooo.len() < cfg.max_out_of_order_segments
                && self.held_bytes().saturating_add(payload.len()) <= cfg.max_buffered_bytes;
            if fits {
                if self
                    .ooo
                    .iter()
                    .any(|s| s.seq == seq && s.data.len() >= payload.len())
                {
                    counters.retransmitted_bytes += payload.len() as u64;
                    return;
                }
                if !budget.allows(self.tallied_bytes(), payload.len()) {
                    // All connections together hold the cap: refuse the
                    // newcomer rather than evict data that may be about to
                    // complete a PDU. The hole it leaves becomes a gap.
                    counters.dropped_memory_cap_segments += 1;
                    counters.dropped_memory_cap_bytes += payload.len() as u64;
                    return;
                }
                counters.out_of_order_segments += 1;
                self.ooo_bytes += payload.len();
                self.ooo.push(OooSegment {
                    seq,
                    time,
                    data: payload.to_vec(),
                });
                return;
            }
            if self.ooo.is_empty() {
                // Nothing held to skip to, and this segment alone does not
                // fit: skip the hole up to it.
                self.declare_gap(seq, counters);
                continue;
            }
            self.skip_gap(cfg, budget, counters, on_pdu);
        }
    }

    /// Counts an out-of-window segment into the run of continuing ones;
    /// returns true when the run is long enough to follow, having moved the
    /// stream to `seq` (a gap; what was held out of order is skipped).
    fn follow_far(&mut self, seq: u32, len: usize, counters: &mut TcpCounters) -> bool {
        self.far_run = if self.far_run > 0 && seq == self.far_next {
            self.far_run.saturating_add(1)
        } else {
            1
        };
        self.far_next = seq.wrapping_add(len as u32);
        if self.far_run < FOLLOW_SEGMENTS {
            return false;
        }
        self.far_run = 0;
        counters.out_of_window_jumps += 1;
        counters.skipped_bytes += self.ooo_bytes as u64;
        self.ooo.clear();
        self.ooo_bytes = 0;
        self.declare_gap(seq, counters);
        true
    }

    /// Gives up on the hole before the lowest out-of-order segment and
    /// delivers what is contiguous after it.
    fn skip_gap(
        &mut self,
        cfg: &TcpConfig,
        budget: Budget,
        counters: &mut TcpCounters,
        on_pdu: &mut dyn FnMut(&[u8]),
    ) {
        let Some(next) = self.next_seq else {
            return;
        };
        let Some(lowest) = self
            .ooo
            .iter()
            .map(|s| s.seq)
            .min_by_key(|&s| seq_diff(s, next))
        else {
            return;
        };
        if seq_diff(lowest, next) > 0 {
            self.declare_gap(lowest, counters);
        }
        self.drain_ooo(cfg, budget, counters, on_pdu);
    }

    /// Moves the stream to `seq`, dropping the partial PDU cut by the hole.
    fn declare_gap(&mut self, seq: u32, counters: &mut TcpCounters) {
        let next = self.next_seq.unwrap_or(seq);
        counters.gaps += 1;
        counters.gap_bytes += seq_diff(seq, next).max(0) as u64;
        counters.skipped_bytes += self.buf.len() as u64;
        self.buf.clear();
        self.framer.lose_sync();
        self.next_seq = Some(seq);
    }

    /// Delivers out-of-order segments that have become contiguous.
    fn drain_ooo(
        &mut self,
        cfg: &TcpConfig,
        budget: Budget,
        counters: &mut TcpCounters,
        on_pdu: &mut dyn FnMut(&[u8]),
    ) {
        while let Some(next) = self.next_seq {
            let Some(i) = self.ooo.iter().position(|s| seq_diff(s.seq, next) <= 0) else {
                return;
            };
            let seg = self.ooo.swap_remove(i);
            self.ooo_bytes = self.ooo_bytes.saturating_sub(seg.data.len());
            let skip = usize::try_from(-seq_diff(seg.seq, next)).unwrap_or(usize::MAX);
            match seg.data.get(skip..).filter(|f| !f.is_empty()) {
                Some(fresh) => {
                    counters.retransmitted_bytes += skip as u64;
                    self.deliver_in_order(fresh, cfg, budget, counters, on_pdu);
                }
                None => counters.retransmitted_bytes += seg.data.len() as u64,
            }
        }
    }

    /// Appends in-order bytes at `next_seq` and cuts PDUs. When nothing is
    /// buffered, PDUs are cut straight from `data` and only the remainder is
    /// copied.
    fn deliver_in_order(
        &mut self,
        data: &[u8],
        cfg: &TcpConfig,
        budget: Budget,
        counters: &mut TcpCounters,
        on_pdu: &mut dyn FnMut(&[u8]),
    ) {
        if let Some(n) = self.next_seq.as_mut() {
            *n = n.wrapping_add(data.len() as u32);
        }
        if self.buf.is_empty() {
            let used = self.framer.cut(data, cfg, counters, on_pdu);
            self.buf
                .extend_from_slice(data.get(used..).unwrap_or_default());
        } else {
            self.buf.extend_from_slice(data);
            let used = self.framer.cut(&self.buf, cfg, counters, on_pdu);
            self.buf.drain(..used.min(self.buf.len()));
        }
        if self.buf.is_empty() && self.buf.capacity() > MAX_IDLE_BUFFER_CAPACITY {
            // Do not keep a large PDU's allocation for the connection's life.
            self.buf = Vec::new();
        }
        if self.buf.len() > cfg.max_buffered_bytes {
            // The framer bounds a PDU by the cap, so this is a safety net.
            counters.buffer_overflows += 1;
            counters.skipped_bytes += self.buf.len() as u64;
            self.buf.clear();
            self.framer.lose_sync();
        }
        if !budget.allows(self.tallied_bytes(), 0) {
            // All connections together would hold more than the cap: the
            // partial PDU this segment grew cannot complete without the
            // bytes it took, so it goes (with a WebSocket message being
            // joined) and the framer looks for the next PDU start. Only
            // growth gets here: moving held out-of-order data into `buf`
            // does not add to the tally.
            let dropped = self.buf.len() + self.framer.ws.message.len();
            counters.dropped_memory_cap_segments += 1;
            counters.dropped_memory_cap_bytes += dropped as u64;
            self.buf.clear();
            self.framer.lose_sync();
        }
    }
}

/// Why a PDU start was rejected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Malformed {
    SipHeadersTooLong,
    SipBadContentLength,
    SipNotStartLine,
    DiameterBadHeader,
    WebSocketBadFrame,
    WebSocketBadHandshake,
}

/// What the framer found at a PDU start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Cut {
    /// A complete PDU of this many bytes.
    Pdu(usize),
    /// Bytes to skip (SIP keep-alive CR/LF).
    Skip(usize),
    /// More bytes are needed.
    Incomplete,
    /// Not a valid PDU start.
    Malformed(Malformed),
    /// Bytes consumed, and any PDU in them already delivered (WebSocket).
    Used(usize),
}

/// Result of a resync search.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Hunt {
    /// A PDU starts at this offset.
    Found(usize),
    /// No PDU start yet: these leading bytes can be dropped, the rest may
    /// still begin one.
    NotYet(usize),
}

/// Cuts a byte stream into PDUs.
#[derive(Debug)]
struct Framer {
    framing: Framing,
    /// Looking for a PDU start.
    hunting: bool,
    /// While hunting SIP: the next byte starts a line.
    line_start: bool,
    /// SIP: bytes of the current message already searched for the end of
    /// headers, so a message arriving in many small segments is scanned once.
    header_scanned: usize,
    /// SIP: length of the current message once its headers are parsed, so a
    /// large body arriving in small segments does not reparse them.
    known_len: Option<usize>,
    /// WebSocket state (empty and unallocated for the other framings).
    ws: WsState,
}

/// Where a WebSocket direction is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum WsPhase {
    /// Expecting an HTTP handshake message.
    #[default]
    Handshake,
    /// Reading frames.
    Frames,
}

/// The WebSocket part of a framer.
#[derive(Debug, Default)]
struct WsState {
    phase: WsPhase,
    /// Unmasked payload of the message being assembled (masked frames and
    /// fragmented messages only).
    message: Vec<u8>,
    /// A fragmented message is being assembled in `message`.
    in_message: bool,
    /// The fragmented message in progress is being dropped (compressed or
    /// too large): skip its continuations.
    dropping: bool,
    /// Payload bytes of an oversized frame still to skip.
    skip: u64,
}

/// Bytes needed to decide whether a DIAMETER header is plausible: version,
/// 24-bit length and flags.
const DIAMETER_PROBE_LEN: usize = 5;

/// The DIAMETER header length (RFC 6733 §3).
const DIAMETER_HEADER_LEN: usize = 20;

/// A SIP start line longer than this, not yet ended, is not one we wait for.
const MAX_SIP_START_LINE_PROBE: usize = 512;

impl Framer {
    fn new(framing: Framing) -> Self {
        Framer {
            framing,
            hunting: false,
            line_start: true,
            header_scanned: 0,
            known_len: None,
            ws: WsState::default(),
        }
    }

    /// The next bytes start a new PDU.
    fn reset_pdu(&mut self) {
        self.header_scanned = 0;
        self.known_len = None;
    }

    /// The next bytes may not start a PDU: search for one.
    fn lose_sync(&mut self) {
        self.hunting = true;
        self.line_start = true;
        self.reset_pdu();
        self.ws.drop_message();
        self.ws.skip = 0;
    }

    /// Cuts every complete PDU from `data`, which starts where the previous
    /// call stopped. Returns the bytes used (delivered or skipped); the rest
    /// must be passed again with more data.
    fn cut(
        &mut self,
        data: &[u8],
        cfg: &TcpConfig,
        counters: &mut TcpCounters,
        on_pdu: &mut dyn FnMut(&[u8]),
    ) -> usize {
        let mut pos = 0usize;
        // Each round consumes bytes or returns.
        while let Some(rest) = data.get(pos..).filter(|r| !r.is_empty()) {
            if self.hunting {
                match self.hunt(rest, cfg) {
                    Hunt::Found(skip) => {
                        counters.skipped_bytes += skip as u64;
                        pos += skip;
                        self.hunting = false;
                        self.reset_pdu();
                    }
                    Hunt::NotYet(skip) => {
                        counters.skipped_bytes += skip as u64;
                        return pos + skip;
                    }
                }
                continue;
            }
            let cut = match self.framing {
                Framing::Sip => self.cut_sip(rest, cfg),
                Framing::Diameter => cut_diameter(rest, cfg),
                Framing::WebSocket => self.ws.cut(rest, cfg, counters, on_pdu),
            };
            match cut {
                Cut::Pdu(len) => {
                    let Some(pdu) = rest.get(..len) else {
                        return pos;
                    };
                    counters.pdus += 1;
                    on_pdu(pdu);
                    pos += len;
                    self.reset_pdu();
                }
                Cut::Skip(len) => {
                    counters.sip_keepalives += 1;
                    pos += len;
                }
                Cut::Used(len) => pos += len.max(1),
                Cut::Incomplete => return pos,
                Cut::Malformed(why) => {
                    match why {
                        Malformed::SipHeadersTooLong => counters.sip_headers_too_long += 1,
                        Malformed::SipBadContentLength => counters.sip_bad_content_length += 1,
                        Malformed::SipNotStartLine => counters.sip_not_a_start_line += 1,
                        Malformed::DiameterBadHeader => counters.diameter_bad_header += 1,
                        Malformed::WebSocketBadFrame => counters.websocket_bad_frames += 1,
                        Malformed::WebSocketBadHandshake => counters.websocket_bad_handshakes += 1,
                    }
                    counters.resyncs += 1;
                    self.hunting = true;
                    self.reset_pdu();
                    // The bad start itself is not a PDU start: SIP skips to
                    // the next line, DIAMETER and WebSocket to the next byte.
                    self.line_start = false;
                    self.ws.drop_message();
                    if self.framing != Framing::Sip {
                        counters.skipped_bytes += 1;
                        pos += 1;
                    }
                }
            }
        }
        pos
    }

    /// Searches `data` for a PDU start.
    fn hunt(&mut self, data: &[u8], cfg: &TcpConfig) -> Hunt {
        match self.framing {
            Framing::Sip => self.hunt_sip(data),
            Framing::Diameter => hunt_diameter(data, cfg.max_buffered_bytes),
            Framing::WebSocket => self.ws.hunt(data, cfg.max_buffered_bytes),
        }
    }

    fn hunt_sip(&mut self, data: &[u8]) -> Hunt {
        let mut i = 0usize;
        loop {
            let rest = data.get(i..).unwrap_or_default();
            if self.line_start {
                match sip_start(rest) {
                    Start::Yes => return Hunt::Found(i),
                    Start::Maybe => return Hunt::NotYet(i),
                    Start::No => {}
                }
            }
            match rest.iter().position(|&b| b == b'\n') {
                Some(nl) => {
                    i += nl + 1;
                    self.line_start = true;
                }
                None => {
                    self.line_start = false;
                    return Hunt::NotYet(data.len());
                }
            }
        }
    }

    /// One SIP message at the start of `data`.
    fn cut_sip(&mut self, data: &[u8], cfg: &TcpConfig) -> Cut {
        if let Some(total) = self.known_len {
            return if data.len() >= total {
                Cut::Pdu(total)
            } else {
                Cut::Incomplete
            };
        }
        let crlf = data
            .iter()
            .take_while(|&&b| b == b'\r' || b == b'\n')
            .count();
        if crlf > 0 {
            return Cut::Skip(crlf);
        }
        match sip_start(data) {
            Start::Yes => {}
            Start::Maybe => return Cut::Incomplete,
            Start::No => return Cut::Malformed(Malformed::SipNotStartLine),
        }
        let Some(header_len) = self.find_header_end(data) else {
            if data.len() > cfg.max_sip_header_bytes {
                return Cut::Malformed(Malformed::SipHeadersTooLong);
            }
            return Cut::Incomplete;
        };
        if header_len > cfg.max_sip_header_bytes {
            return Cut::Malformed(Malformed::SipHeadersTooLong);
        }
        let Some(body_len) = data.get(..header_len).and_then(sip_content_length) else {
            return Cut::Malformed(Malformed::SipBadContentLength);
        };
        let total = header_len.saturating_add(body_len);
        if total > cfg.max_buffered_bytes {
            return Cut::Malformed(Malformed::SipBadContentLength);
        }
        if data.len() >= total {
            Cut::Pdu(total)
        } else {
            self.known_len = Some(total);
            Cut::Incomplete
        }
    }

    /// Length of the header section including the empty line (CRLF CRLF, or
    /// bare LF line ends), resuming where the last search stopped.
    fn find_header_end(&mut self, data: &[u8]) -> Option<usize> {
        let mut i = self.header_scanned.min(data.len());
        while let Some(off) = data
            .get(i..)
            .and_then(|r| r.iter().position(|&b| b == b'\n'))
        {
            let nl = i + off;
            match (data.get(nl + 1), data.get(nl + 2)) {
                (Some(b'\n'), _) => return Some(nl + 2),
                (Some(b'\r'), Some(b'\n')) => return Some(nl + 3),
                (None, _) | (Some(b'\r'), None) => {
                    // Undecided until more bytes come: resume at this LF.
                    self.header_scanned = nl;
                    return None;
                }
                _ => i = nl + 1,
            }
        }
        self.header_scanned = data.len();
        None
    }
}

/// Payload bytes unmasked to judge whether a frame found while hunting
/// carries SIP (`SUBSCRIBE ` is the longest method with its space).
const WS_SIP_PROBE_LEN: usize = 16;

impl WsState {
    /// Forgets a message being assembled.
    fn drop_message(&mut self) {
        self.message.clear();
        self.in_message = false;
        self.dropping = false;
    }

    /// One handshake message or frame at the start of `data`.
    fn cut(
        &mut self,
        data: &[u8],
        cfg: &TcpConfig,
        counters: &mut TcpCounters,
        on_pdu: &mut dyn FnMut(&[u8]),
    ) -> Cut {
        if self.skip > 0 {
            let n = usize::try_from(self.skip)
                .unwrap_or(usize::MAX)
                .min(data.len());
            self.skip -= n as u64;
            return Cut::Used(n);
        }
        if self.phase == WsPhase::Handshake {
            return self.cut_handshake(data, cfg, counters);
        }
        let h = match websocket::FrameHeader::parse(data) {
            Ok(h) => h,
            Err(websocket::Error::Incomplete { .. }) => return Cut::Incomplete,
            Err(_) => return Cut::Malformed(Malformed::WebSocketBadFrame),
        };
        let cap = cfg.max_buffered_bytes;
        let Some(total) = h.frame_len().filter(|&t| t <= cap) else {
            // Too large to hold: skip it exactly, keeping the framing.
            counters.websocket_oversized += 1;
            counters.skipped_bytes += h.payload_len.saturating_add(h.header_len as u64);
            if !h.opcode.is_control() {
                self.drop_message();
                self.dropping = !h.fin;
            }
            self.skip = h.payload_len;
            return Cut::Used(h.header_len);
        };
        let Some(payload) = data.get(h.header_len..total) else {
            return Cut::Incomplete;
        };
        use websocket::Opcode;
        match h.opcode {
            _ if h.opcode.is_control() => {
                counters.websocket_control_frames += 1;
            }
            Opcode::Unknown(_) => counters.websocket_bad_frames += 1,
            _ if h.rsv23 != 0 => {
                counters.websocket_bad_frames += 1;
                self.drop_message();
                self.dropping = !h.fin;
            }
            Opcode::Text | Opcode::Binary => {
                if self.in_message || self.dropping {
                    // RFC 6455 §5.4: no new message inside a fragmented one.
                    counters.websocket_bad_frames += 1;
                    self.drop_message();
                }
                if h.rsv1 {
                    // permessage-deflate (RFC 7692): not inflated here.
                    counters.websocket_compressed_messages += 1;
                    self.dropping = !h.fin;
                } else if h.fin {
                    self.deliver(payload, h.mask, counters, on_pdu);
                } else {
                    self.in_message = true;
                    self.append(payload, h.mask);
                }
            }
            Opcode::Continuation => {
                if self.dropping {
                    self.dropping = !h.fin;
                } else if !self.in_message {
                    counters.websocket_bad_frames += 1;
                } else if self.message.len().saturating_add(payload.len()) > cap {
                    counters.websocket_oversized += 1;
                    counters.skipped_bytes += self.message.len() as u64;
                    self.drop_message();
                    self.dropping = !h.fin;
                } else {
                    self.append(payload, h.mask);
                    if h.fin {
                        counters.pdus += 1;
                        counters.websocket_messages += 1;
                        on_pdu(&self.message);
                        self.drop_message();
                        self.release();
                    }
                }
            }
            Opcode::Close | Opcode::Ping | Opcode::Pong => {
                counters.websocket_control_frames += 1;
            }
        }
        Cut::Used(total)
    }

    /// An HTTP handshake message at the start of `data`: passed over; a
    /// request or a `101` response switches to frames.
    fn cut_handshake(&mut self, data: &[u8], cfg: &TcpConfig, counters: &mut TcpCounters) -> Cut {
        if !websocket::starts_http(data) {
            if b"GET ".starts_with(data) || b"HTTP/1.".starts_with(data) {
                return Cut::Incomplete;
            }
            return Cut::Malformed(Malformed::WebSocketBadHandshake);
        }
        let Some(len) = websocket::http_header_len(data) else {
            if data.len() > cfg.max_sip_header_bytes {
                return Cut::Malformed(Malformed::WebSocketBadHandshake);
            }
            return Cut::Incomplete;
        };
        counters.websocket_handshakes += 1;
        let refused = websocket::http_status(data).is_some_and(|c| c != 101);
        if !refused {
            self.phase = WsPhase::Frames;
        }
        Cut::Used(len)
    }

    /// Delivers a complete one-frame message, unmasking a copy if needed.
    fn deliver(
        &mut self,
        payload: &[u8],
        mask: Option<[u8; 4]>,
        counters: &mut TcpCounters,
        on_pdu: &mut dyn FnMut(&[u8]),
    ) {
        counters.pdus += 1;
        counters.websocket_messages += 1;
        match mask {
            None => on_pdu(payload),
            Some(_) => {
                self.message.clear();
                self.append(payload, mask);
                on_pdu(&self.message);
                self.message.clear();
                self.release();
            }
        }
    }

    /// Appends a frame's payload, unmasked.
    fn append(&mut self, payload: &[u8], mask: Option<[u8; 4]>) {
        let start = self.message.len();
        self.message.extend_from_slice(payload);
        if let (Some(key), Some(new)) = (mask, self.message.get_mut(start..)) {
            websocket::unmask(new, key, 0);
        }
    }

    /// Frees a large message buffer once empty (see
    /// [`MAX_IDLE_BUFFER_CAPACITY`]).
    fn release(&mut self) {
        if self.message.is_empty() && self.message.capacity() > MAX_IDLE_BUFFER_CAPACITY {
            self.message = Vec::new();
        }
    }

    /// Searches for an HTTP handshake message, or a final text/binary frame
    /// whose payload starts like SIP.
    fn hunt(&mut self, data: &[u8], cap: usize) -> Hunt {
        if websocket::starts_http(data) {
            self.phase = WsPhase::Handshake;
            return Hunt::Found(0);
        }
        if b"GET ".starts_with(data) || b"HTTP/1.".starts_with(data) {
            return Hunt::NotYet(0);
        }
        for (i, &b) in data.iter().enumerate() {
            if b != 0x81 && b != 0x82 {
                continue;
            }
            let rest = data.get(i..).unwrap_or_default();
            let h = match websocket::FrameHeader::parse(rest) {
                Ok(h) => h,
                Err(websocket::Error::Incomplete { .. }) => return Hunt::NotYet(i),
                Err(_) => continue,
            };
            if h.rsv1 || h.frame_len().is_none_or(|t| t > cap) {
                continue;
            }
            let want = usize::try_from(h.payload_len)
                .unwrap_or(usize::MAX)
                .min(WS_SIP_PROBE_LEN);
            let Some(head) = rest.get(h.header_len..h.header_len + want) else {
                return Hunt::NotYet(i);
            };
            let mut probe = [0u8; WS_SIP_PROBE_LEN];
            let probe = probe.get_mut(..want).unwrap_or_default();
            probe.copy_from_slice(head);
            if let Some(key) = h.mask {
                websocket::unmask(probe, key, 0);
            }
            if crate::proto::sip::looks_like_sip(probe) {
                self.phase = WsPhase::Frames;
                return Hunt::Found(i);
            }
        }
        Hunt::NotYet(data.len())
    }
}

/// Whether `h` (at least [`DIAMETER_PROBE_LEN`] bytes) starts a plausible
/// DIAMETER header of at most `cap` bytes (RFC 6733 §3): version 1, length at
/// least the header, a multiple of 4, reserved flag bits clear, and not both
/// R(equest) and E(rror) set.
fn diameter_plausible(h: &[u8], cap: usize) -> Option<usize> {
    let [version, l0, l1, l2, flags, ..] = *h else {
        return None;
    };
    let len = usize::from(l0) << 16 | usize::from(l1) << 8 | usize::from(l2);
    let ok = version == 1
        && len >= DIAMETER_HEADER_LEN
        && len <= cap
        && len % 4 == 0
        && flags & 0x0f == 0
        && flags & 0xa0 != 0xa0;
    ok.then_some(len)
}

/// One DIAMETER message at the start of `data`.
fn cut_diameter(data: &[u8], cfg: &TcpConfig) -> Cut {
    if data.len() < DIAMETER_PROBE_LEN {
        return match data.first() {
            Some(&v) if v != 1 => Cut::Malformed(Malformed::DiameterBadHeader),
            _ => Cut::Incomplete,
        };
    }
    match diameter_plausible(data, cfg.max_buffered_bytes) {
        Some(len) if data.len() >= len => Cut::Pdu(len),
        Some(_) => Cut::Incomplete,
        None => Cut::Malformed(Malformed::DiameterBadHeader),
    }
}

/// Searches for a plausible DIAMETER header.
fn hunt_diameter(data: &[u8], cap: usize) -> Hunt {
    for (i, &b) in data.iter().enumerate() {
        if b != 1 {
            continue;
        }
        let rest = data.get(i..).unwrap_or_default();
        if rest.len() < DIAMETER_PROBE_LEN {
            return Hunt::NotYet(i);
        }
        if diameter_plausible(rest, cap).is_some() {
            return Hunt::Found(i);
        }
    }
    Hunt::NotYet(data.len())
}

/// Whether bytes begin a SIP start line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Start {
    Yes,
    No,
    /// Too few bytes to tell.
    Maybe,
}

/// Request methods and the response prefix, each with its trailing space.
const SIP_STARTS: &[&[u8]] = &[
    b"SIP/2.0 ",
    b"INVITE ",
    b"ACK ",
    b"BYE ",
    b"CANCEL ",
    b"OPTIONS ",
    b"REGISTER ",
    b"PRACK ",
    b"SUBSCRIBE ",
    b"NOTIFY ",
    b"PUBLISH ",
    b"INFO ",
    b"REFER ",
    b"MESSAGE ",
    b"UPDATE ",
];

/// Whether `data` begins a SIP start line: a known method or `SIP/2.0 `
/// ([`crate::proto::sip::looks_like_sip`]), or an extension method (an
/// upper-case token, RFC 3261 §25.1 `extension-method`) on a line ending in
/// ` SIP/2.0`.
fn sip_start(data: &[u8]) -> Start {
    if crate::proto::sip::looks_like_sip(data) {
        return Start::Yes;
    }
    if SIP_STARTS
        .iter()
        .any(|s| data.len() < s.len() && s.starts_with(data))
    {
        return Start::Maybe;
    }
    let token = data
        .iter()
        .take_while(|&&b| b.is_ascii_uppercase() || b == b'-' || b == b'_')
        .count();
    if token == 0 {
        return Start::No;
    }
    match data.get(token) {
        None => return Start::Maybe,
        Some(b' ') => {}
        Some(_) => return Start::No,
    }
    match data.iter().position(|&b| b == b'\n') {
        Some(nl) => {
            let line = data.get(..nl).unwrap_or_default();
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            if line.ends_with(b" SIP/2.0") {
                Start::Yes
            } else {
                Start::No
            }
        }
        None if data.len() < MAX_SIP_START_LINE_PROBE => Start::Maybe,
        None => Start::No,
    }
}

/// The `Content-Length` (or compact `l`) of a header section; 0 when absent
/// (RFC 3261 §18.3 makes it mandatory over TCP; a sender omitting it sends no
/// body). `None` when a value is not a decimal number.
fn sip_content_length(headers: &[u8]) -> Option<usize> {
    // Skip the start line; continuation lines (leading SP/HT) never match a
    // header name.
    for line in headers.split(|&b| b == b'\n').skip(1) {
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let (name, value) = line.split_at(colon);
        let name = trim_ws(name);
        if !(name.eq_ignore_ascii_case(b"content-length") || name.eq_ignore_ascii_case(b"l")) {
            continue;
        }
        let value = trim_ws(value.get(1..).unwrap_or_default());
        if value.is_empty() || value.len() > 12 || !value.iter().all(u8::is_ascii_digit) {
            return None;
        }
        return value.iter().try_fold(0usize, |n, &d| {
            n.checked_mul(10)?.checked_add(usize::from(d - b'0'))
        });
    }
    Some(0)
}

/// `b` without leading and trailing SP, HT, CR.
fn trim_ws(b: &[u8]) -> &[u8] {
    let is_ws = |c: &u8| matches!(c, b' ' | b'\t' | b'\r');
    let start = b.iter().position(|c| !is_ws(c)).unwrap_or(b.len());
    let end = b.iter().rposition(|c| !is_ws(c)).map_or(start, |e| e + 1);
    b.get(start..end).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{IpAddr, Ipv4Addr};

    /// One record of a `tests/fixtures/*.segs` file, written by a tshark
    /// extraction: `dir u8 | flags u8 (1 SYN, 2 FIN, 4 RST) | seq u32 |
    /// frame u32 | len u16 | payload`, integers big-endian.
    struct Seg<'a> {
        dir: u8,
        flags: TcpFlags,
        seq: u32,
        frame: u32,
        payload: &'a [u8],
    }

    fn read_segs(mut b: &[u8]) -> Vec<Seg<'_>> {
        let mut out = Vec::new();
        while b.len() >= 12 {
            let len = usize::from(u16::from_be_bytes([b[10], b[11]]));
            out.push(Seg {
                dir: b[0],
                flags: TcpFlags {
                    syn: b[1] & 1 != 0,
                    fin: b[1] & 2 != 0,
                    rst: b[1] & 4 != 0,
                },
                seq: u32::from_be_bytes([b[2], b[3], b[4], b[5]]),
                frame: u32::from_be_bytes([b[6], b[7], b[8], b[9]]),
                payload: &b[12..12 + len],
            });
            b = &b[12 + len..];
        }
        assert!(b.is_empty(), "fixture ends inside a record");
        out
    }

    /// `sip-tcp/sip-tcp-6060-segmented-37invites.pcap`, `tcp.stream==0`
    /// (10.186.207.1:37398 <-> 10.186.205.131:6060): 333 segments, 87 SIP
    /// messages by tshark `-d tcp.port==6060,sip`, 62 of them reassembled.
    const SIP_6060_STREAM0: &[u8] =
        include_bytes!("../../tests/fixtures/sip-tcp-6060-stream0.segs");
    /// `diameter/diameter-gy-ccr-tcp.pcap`: 6 frames, one DIAMETER message
    /// each (Gy CCR/CCA x3).
    const DIAMETER_GY_TCP: &[u8] = include_bytes!("../../tests/fixtures/diameter-gy-ccr-tcp.segs");

    fn ep(last: u8, port: u16) -> Endpoint {
        Endpoint::new(IpAddr::V4(Ipv4Addr::new(192, 0, 2, last)), port)
    }

    const CLIENT: u8 = 1;
    const SERVER: u8 = 2;

    fn t(ms: i64) -> PacketTime {
        PacketTime::from_nanos(ms * 1_000_000)
    }

    /// Test driver: a reassembler and the PDUs it delivered.
    struct Rig {
        r: TcpReassembler,
        pdus: Vec<Vec<u8>>,
        framing: Framing,
    }

    impl Rig {
        fn new(framing: Framing) -> Self {
            Rig::with(framing, TcpConfig::default())
        }
        fn with(framing: Framing, config: TcpConfig) -> Self {
            Rig {
                r: TcpReassembler::new(config),
                pdus: Vec::new(),
                framing,
            }
        }
        fn seg_at(&mut self, time: PacketTime, dir: u8, seq: u32, flags: TcpFlags, payload: &[u8]) {
            let (src, dst) = if dir == 0 {
                (ep(CLIENT, 37398), ep(SERVER, 6060))
            } else {
                (ep(SERVER, 6060), ep(CLIENT, 37398))
            };
            let pdus = &mut self.pdus;
            self.r.handle_segment(
                time,
                src,
                dst,
                seq,
                flags,
                payload,
                self.framing,
                &mut |p| pdus.push(p.to_vec()),
            );
        }
        fn seg(&mut self, seq: u32, payload: &[u8]) {
            self.seg_at(t(0), 0, seq, TcpFlags::default(), payload);
        }
        fn half(&self) -> &HalfStream {
            let (key, dir) = ConnKey::of(ep(CLIENT, 37398), ep(SERVER, 6060));
            &self.r.conns[&key].dirs[dir]
        }
    }

    const SYN: TcpFlags = TcpFlags {
        syn: true,
        fin: false,
        rst: false,
    };
    const FIN: TcpFlags = TcpFlags {
        syn: false,
        fin: true,
        rst: false,
    };
    const RST: TcpFlags = TcpFlags {
        syn: false,
        fin: false,
        rst: true,
    };

    /// Made up: a request with a 5-byte body.
    const OPTIONS: &[u8] =
        b"OPTIONS sip:a@b SIP/2.0\r\nCall-ID: 1\r\nContent-Length: 5\r\n\r\nv=0\r\n";
    /// Made up: a response without body.
    const OK: &[u8] = b"SIP/2.0 200 OK\r\nCall-ID: 1\r\nContent-Length: 0\r\n\r\n";

    #[test]
    fn replays_6060_stream0_into_87_sip_messages() {
        let mut rig = Rig::new(Framing::Sip);
        for s in read_segs(SIP_6060_STREAM0) {
            rig.seg_at(t(i64::from(s.frame)), s.dir, s.seq, s.flags, s.payload);
        }
        assert_eq!(rig.pdus.len(), 87);
        assert!(rig
            .pdus
            .iter()
            .all(|p| crate::proto::sip::looks_like_sip(p)));
        let c = rig.r.counters();
        assert_eq!(c.pdus, 87);
        assert_eq!(
            (c.gaps, c.resyncs, c.skipped_bytes, c.retransmitted_bytes),
            (0, 0, 0, 0)
        );
        let invites = rig
            .pdus
            .iter()
            .filter(|p| p.starts_with(b"INVITE "))
            .count();
        assert!(invites > 0);
        // Every message's body has exactly its Content-Length.
        for p in &rig.pdus {
            let body = crate::proto::sip::body(p).unwrap();
            let head = &p[..p.len() - body.len()];
            assert_eq!(sip_content_length(head), Some(body.len()));
        }
    }

    #[test]
    fn replays_6060_stream0_reordered_and_duplicated() {
        let segs = read_segs(SIP_6060_STREAM0);
        let mut order: Vec<&Seg<'_>> = Vec::new();
        // Swap neighbours and send every fifth segment twice.
        for pair in segs.chunks(2) {
            order.extend(pair.iter().rev());
        }
        let mut rig = Rig::new(Framing::Sip);
        // The first segment must come first: the stream is picked up
        // mid-connection (no SYN in the capture) and starts at it.
        rig.seg_at(
            t(0),
            segs[0].dir,
            segs[0].seq,
            segs[0].flags,
            segs[0].payload,
        );
        for (i, s) in order.iter().enumerate() {
            rig.seg_at(t(1), s.dir, s.seq, s.flags, s.payload);
            if i % 5 == 0 {
                rig.seg_at(t(1), s.dir, s.seq, s.flags, s.payload);
            }
        }
        assert_eq!(rig.pdus.len(), 87);
        let c = rig.r.counters();
        assert_eq!((c.gaps, c.resyncs, c.skipped_bytes), (0, 0, 0));
        assert!(c.out_of_order_segments > 0 && c.retransmitted_bytes > 0);
    }

    #[test]
    fn replays_6060_stream0_in_7_byte_segments() {
        let mut rig = Rig::new(Framing::Sip);
        for s in read_segs(SIP_6060_STREAM0) {
            for (k, piece) in s.payload.chunks(7).enumerate() {
                let seq = s.seq.wrapping_add(7 * k as u32);
                rig.seg_at(t(0), s.dir, seq, s.flags, piece);
            }
        }
        assert_eq!(rig.pdus.len(), 87);
    }

    #[test]
    fn sip_message_split_over_three_segments() {
        let mut rig = Rig::new(Framing::Sip);
        rig.seg_at(t(0), 0, 999, SYN, b"");
        rig.seg(1000, &OPTIONS[..10]);
        rig.seg(1010, &OPTIONS[10..50]);
        assert!(rig.pdus.is_empty());
        rig.seg(1050, &OPTIONS[50..]);
        assert_eq!(rig.pdus, vec![OPTIONS.to_vec()]);
        assert!(rig.half().buf.is_empty());
    }

    #[test]
    fn several_messages_in_one_segment_are_cut_without_buffering() {
        let mut rig = Rig::new(Framing::Sip);
        let mut seg = [OPTIONS, OK, OPTIONS].concat();
        seg.extend_from_slice(&OK[..5]);
        rig.seg(1, &seg);
        assert_eq!(
            rig.pdus,
            vec![OPTIONS.to_vec(), OK.to_vec(), OPTIONS.to_vec()]
        );
        // Only the partial message is copied.
        assert_eq!(rig.half().buf, OK[..5].to_vec());
        rig.seg(1 + seg.len() as u32, &OK[5..]);
        assert_eq!(rig.pdus.len(), 4);
    }

    #[test]
    fn out_of_order_segments_are_delivered_in_order() {
        let mut rig = Rig::new(Framing::Sip);
        let stream = [OPTIONS, OK].concat();
        rig.seg(100, &stream[..20]);
        rig.seg(100 + 60, &stream[60..]);
        rig.seg(100 + 40, &stream[40..60]);
        assert!(rig.pdus.is_empty());
        rig.seg(100 + 20, &stream[20..40]);
        assert_eq!(rig.pdus, vec![OPTIONS.to_vec(), OK.to_vec()]);
        assert_eq!(rig.r.counters().out_of_order_segments, 2);
        assert!(rig.half().ooo.is_empty());
    }

    #[test]
    fn retransmission_overlapping_delivered_data_is_trimmed() {
        let mut rig = Rig::new(Framing::Sip);
        let stream = [OPTIONS, OK].concat();
        rig.seg(5000, &stream[..OPTIONS.len() + 10]);
        assert_eq!(rig.pdus.len(), 1);
        // Resends the whole first message plus the rest of the second.
        rig.seg(5000, &stream);
        assert_eq!(rig.pdus, vec![OPTIONS.to_vec(), OK.to_vec()]);
        assert_eq!(
            rig.r.counters().retransmitted_bytes,
            OPTIONS.len() as u64 + 10
        );
        // A pure retransmission delivers nothing.
        rig.seg(5000, &stream);
        assert_eq!(rig.pdus.len(), 2);
    }

    #[test]
    fn sequence_numbers_wrap() {
        let mut rig = Rig::new(Framing::Sip);
        let start = u32::MAX - 9;
        rig.seg(start, &OPTIONS[..30]);
        rig.seg(start.wrapping_add(30), &OPTIONS[30..]);
        assert_eq!(rig.pdus, vec![OPTIONS.to_vec()]);
    }

    #[test]
    fn gap_when_out_of_order_buffer_is_full_skips_and_resyncs() {
        let cfg = TcpConfig {
            max_out_of_order_segments: 2,
            ..TcpConfig::default()
        };
        let mut rig = Rig::with(Framing::Sip, cfg);
        // OPTIONS, then OK is lost except its tail, then two more messages.
        let stream = [OPTIONS, OK, OPTIONS, OK].concat();
        let a = OPTIONS.len() + 5; // cut inside OK
        let b = OPTIONS.len() + OK.len() + 10; // inside the second OPTIONS
        let c = 2 * OPTIONS.len() + OK.len() + 3; // inside the second OK
        rig.seg(0, &stream[..a]);
        assert_eq!(rig.pdus.len(), 1);
        // stream[a..b] never arrives.
        rig.seg(b as u32, &stream[b..c]);
        rig.seg(c as u32, &stream[c..]);
        assert_eq!(rig.pdus.len(), 1);
        // A third out-of-order segment overflows the buffer: gap.
        rig.seg(stream.len() as u32 + 50, OK);
        let counters = rig.r.counters();
        assert_eq!(counters.gaps, 1);
        assert_eq!(counters.gap_bytes, (b - a) as u64);
        // The partial OK and the tail of the second OPTIONS are skipped; the
        // framer resyncs on the second OK.
        assert_eq!(rig.pdus, vec![OPTIONS.to_vec(), OK.to_vec()]);
        assert!(counters.skipped_bytes > 0);
    }

    #[test]
    fn gap_after_reorder_timeout() {
        let mut rig = Rig::new(Framing::Sip);
        rig.seg_at(t(0), 0, 0, TcpFlags::default(), &OPTIONS[..10]);
        rig.seg_at(t(1), 0, 500, TcpFlags::default(), OK);
        assert!(rig.pdus.is_empty());
        // Still inside the reorder timeout: nothing.
        rig.seg_at(t(4_000), 0, 500, TcpFlags::default(), b"");
        assert!(rig.pdus.is_empty());
        rig.seg_at(t(6_000), 0, 500, TcpFlags::default(), b"");
        assert_eq!(rig.pdus, vec![OK.to_vec()]);
        assert_eq!(rig.r.counters().gaps, 1);
        assert_eq!(rig.r.counters().gap_bytes, 490);
    }

    #[test]
    fn wrong_content_length_resyncs_on_next_start_line() {
        let mut rig = Rig::new(Framing::Sip);
        // Made up: Content-Length 2 but a 6-byte body; the 4 extra bytes are
        // not a SIP start, so the framer skips to the next line that is.
        let bad = b"BYE sip:a SIP/2.0\r\nContent-Length: 2\r\n\r\nab\r\ncd\r\n";
        rig.seg(1, &[&bad[..], OK].concat());
        assert_eq!(rig.pdus.len(), 2);
        assert_eq!(rig.pdus[1], OK);
        let c = rig.r.counters();
        assert_eq!(
            (c.sip_not_a_start_line, c.resyncs, c.skipped_bytes),
            (1, 1, 4)
        );
    }

    #[test]
    fn absurd_or_unparsable_content_length_is_malformed() {
        let mut rig = Rig::new(Framing::Sip);
        let huge = b"INVITE sip:a SIP/2.0\r\nContent-Length: 99999999999\r\n\r\nv=0\r\n";
        let junk = b"INVITE sip:a SIP/2.0\r\nl: 12x\r\n\r\n";
        rig.seg(1, &[&huge[..], junk, OK].concat());
        assert_eq!(rig.pdus, vec![OK.to_vec()]);
        assert_eq!(rig.r.counters().sip_bad_content_length, 2);
    }

    #[test]
    fn headers_without_end_are_malformed_at_the_limit() {
        let cfg = TcpConfig {
            max_sip_header_bytes: 100,
            ..TcpConfig::default()
        };
        let mut rig = Rig::with(Framing::Sip, cfg);
        let mut long = b"INVITE sip:a SIP/2.0\r\n".to_vec();
        for _ in 0..10 {
            long.extend_from_slice(b"X-Filler: 0123456789\r\n");
        }
        rig.seg(1, &long);
        rig.seg(1 + long.len() as u32, OK);
        assert_eq!(rig.pdus, vec![OK.to_vec()]);
        assert_eq!(rig.r.counters().sip_headers_too_long, 1);
    }

    #[test]
    fn keepalive_crlf_between_messages_is_skipped() {
        let mut rig = Rig::new(Framing::Sip);
        rig.seg_at(t(0), 0, 0, SYN, b"");
        rig.seg(1, b"\r\n\r\n");
        rig.seg(5, &[OK, b"\r\n", OK].concat());
        assert_eq!(rig.pdus, vec![OK.to_vec(), OK.to_vec()]);
        assert_eq!(rig.r.counters().sip_keepalives, 2);
    }

    #[test]
    fn content_length_compact_case_and_whitespace() {
        assert_eq!(
            sip_content_length(b"SIP/2.0 200 OK\r\nl:7\r\n\r\n"),
            Some(7)
        );
        assert_eq!(
            sip_content_length(b"SIP/2.0 200 OK\r\ncOnTeNt-LeNgTh \t:  12 \r\n\r\n"),
            Some(12)
        );
        assert_eq!(
            sip_content_length(b"SIP/2.0 200 OK\r\nCall-ID: l: 9\r\n\r\n"),
            Some(0)
        );
        assert_eq!(
            sip_content_length(b"SIP/2.0 200 OK\r\nContent-Length:\r\n\r\n"),
            None
        );
        assert_eq!(
            sip_content_length(b"SIP/2.0 200 OK\nContent-Length: 3\n\n"),
            Some(3)
        );
        // Missing over TCP means 0 (RFC 3261 §18.3).
        let mut rig = Rig::new(Framing::Sip);
        rig.seg(
            1,
            b"ACK sip:a SIP/2.0\r\nCall-ID: 1\r\n\r\nSIP/2.0 200 OK\n\n",
        );
        assert_eq!(rig.pdus.len(), 2);
    }

    #[test]
    fn extension_method_is_a_start_line() {
        assert_eq!(sip_start(b"FOO sip:a SIP/2.0\r\n"), Start::Yes);
        assert_eq!(sip_start(b"FOO sip:a HTTP/1.1\r\n"), Start::No);
        assert_eq!(sip_start(b"FOO sip:a"), Start::Maybe);
        assert_eq!(sip_start(b"INVI"), Start::Maybe);
        assert_eq!(sip_start(b"v=0\r\n"), Start::No);
    }

    #[test]
    fn midstream_pickup_skips_the_tail_of_a_message() {
        let mut rig = Rig::new(Framing::Sip);
        rig.seg(77, &[&OPTIONS[30..], OK].concat());
        assert_eq!(rig.pdus, vec![OK.to_vec()]);
        assert_eq!(rig.r.counters().skipped_bytes, (OPTIONS.len() - 30) as u64);
    }

    #[test]
    fn replays_diameter_gy_ccr_tcp_into_6_messages() {
        let mut rig = Rig::new(Framing::Diameter);
        let segs = read_segs(DIAMETER_GY_TCP);
        for s in &segs {
            rig.seg_at(t(i64::from(s.frame)), s.dir, s.seq, s.flags, s.payload);
        }
        assert_eq!(rig.pdus.len(), 6);
        // Frame 1: a CCR (flags 0x80, command 272) of 344 bytes.
        assert_eq!(rig.pdus[0].len(), 344);
        assert_eq!(
            &rig.pdus[0][..8],
            &[0x01, 0x00, 0x01, 0x58, 0x80, 0x00, 0x01, 0x10]
        );
        assert!(rig.pdus.iter().zip(&segs).all(|(p, s)| p == s.payload));
    }

    #[test]
    fn diameter_split_and_coalesced() {
        let segs = read_segs(DIAMETER_GY_TCP);
        // Frames 1, 3 and 5 (client → server): 344 + 360 + 308 bytes,
        // concatenated then cut at odd places.
        let stream: Vec<u8> = segs
            .iter()
            .filter(|s| s.dir == 0)
            .flat_map(|s| s.payload.to_vec())
            .collect();
        assert_eq!(stream.len(), 1012);
        let mut rig = Rig::new(Framing::Diameter);
        rig.seg(0, &stream[..3]);
        rig.seg(3, &stream[3..400]);
        assert_eq!(rig.pdus.len(), 1);
        rig.seg(400, &stream[400..]);
        assert_eq!(rig.pdus.len(), 3);
        assert_eq!(rig.pdus.concat(), stream);
        assert!(rig.half().buf.is_empty());
    }

    #[test]
    fn diameter_bad_header_resyncs_on_next_plausible_header() {
        let segs = read_segs(DIAMETER_GY_TCP);
        let ccr = segs[0].payload;
        let mut rig = Rig::new(Framing::Diameter);
        rig.seg_at(t(0), 0, u32::MAX, SYN, b"");
        // Made up: 7 junk bytes (a version-2 header start) before the CCR.
        rig.seg(0, &[&[2u8, 0, 0, 20, 0, 9, 9][..], ccr, ccr].concat());
        assert_eq!(rig.pdus, vec![ccr.to_vec(), ccr.to_vec()]);
        let c = rig.r.counters();
        assert_eq!((c.diameter_bad_header, c.skipped_bytes), (1, 7));
        // A length below the header or above the cap is bad too.
        assert_eq!(diameter_plausible(&[1, 0, 0, 16, 0x80], 1000), None);
        assert_eq!(diameter_plausible(&[1, 0, 4, 0, 0x80], 1000), None);
        assert_eq!(diameter_plausible(&[1, 0, 0, 22, 0x80], 1000), None);
        assert_eq!(diameter_plausible(&[1, 0, 0, 20, 0x80], 1000), Some(20));
    }

    #[test]
    fn byte_cap_bounds_out_of_order_data() {
        let cfg = TcpConfig {
            max_buffered_bytes: 100,
            ..TcpConfig::default()
        };
        let mut rig = Rig::with(Framing::Sip, cfg);
        rig.seg(0, &OPTIONS[..10]);
        rig.seg(1000, &[b'x'; 60]);
        assert_eq!(rig.half().held_bytes(), 70);
        // 40 more would exceed 100: the hole before seq 1000 becomes a gap.
        rig.seg(2000, &[b'y'; 40]);
        assert_eq!(rig.r.counters().gaps, 1);
        assert!(rig.half().held_bytes() <= 100);
        // A message larger than the cap is malformed.
        let mut rig = Rig::with(
            Framing::Sip,
            TcpConfig {
                max_buffered_bytes: 60,
                ..TcpConfig::default()
            },
        );
        rig.seg(0, &[OPTIONS, OK].concat());
        assert_eq!(rig.pdus, vec![OK.to_vec()]);
        assert_eq!(rig.r.counters().sip_bad_content_length, 1);
    }

    /// One segment straight into `r` from `src` to `dst`: the PDUs it
    /// completed.
    #[allow(clippy::too_many_arguments)]
    fn feed(
        r: &mut TcpReassembler,
        time: PacketTime,
        src: Endpoint,
        dst: Endpoint,
        seq: u32,
        flags: TcpFlags,
        payload: &[u8],
        framing: Framing,
    ) -> Vec<Vec<u8>> {
        let mut pdus = Vec::new();
        r.handle_segment(time, src, dst, seq, flags, payload, framing, &mut |p| {
            pdus.push(p.to_vec())
        });
        pdus
    }

    /// The bytes every direction of every connection tallies, summed.
    fn tally(r: &TcpReassembler) -> usize {
        r.conns
            .values()
            .flat_map(|c| c.dirs.iter())
            .map(HalfStream::tallied_bytes)
            .sum()
    }

    #[test]
    fn a_spoofed_segment_far_ahead_is_dropped_and_the_call_goes_on() {
        let mut rig = Rig::new(Framing::Sip);
        rig.seg_at(t(0), 0, 999, SYN, b"");
        rig.seg_at(t(1), 0, 1000, TcpFlags::default(), OPTIONS);
        let next = 1000 + OPTIONS.len() as u32;
        // Two guessed bytes 1 GiB ahead: never held, never a reason to jump.
        rig.seg_at(t(2), 0, next + (1 << 30), TcpFlags::default(), b"xx");
        assert!(rig.half().ooo.is_empty());
        // The next message, long after the reorder timeout, is delivered.
        rig.seg_at(t(9_000), 0, next, TcpFlags::default(), OK);
        assert_eq!(rig.pdus, vec![OPTIONS.to_vec(), OK.to_vec()]);
        let c = rig.r.counters();
        assert_eq!(
            (c.out_of_window_segments, c.gaps, c.retransmitted_bytes),
            (1, 0, 0)
        );
        // Just inside the window it is held (an out-of-order segment).
        let next = next + OK.len() as u32;
        rig.seg_at(
            t(9_001),
            0,
            next + MAX_WINDOW_BYTES,
            TcpFlags::default(),
            b"y",
        );
        assert_eq!(rig.half().ooo.len(), 1);
        assert_eq!(rig.r.counters().out_of_window_segments, 1);
    }

    #[test]
    fn a_spoofed_segment_in_the_window_does_not_skip_a_live_stream() {
        // Busy: a message a second for 12 s while two guessed bytes 1 MiB
        // ahead wait in the out-of-order buffer. The stream keeps moving, so
        // the hole before them is never given up on.
        let mut rig = Rig::new(Framing::Sip);
        rig.seg_at(t(0), 0, 0, SYN, b"");
        rig.seg_at(t(1), 0, 1 + (1 << 20), TcpFlags::default(), b"xx");
        let mut next = 1u32;
        for s in 0..12 {
            rig.seg_at(t(1_000 * s + 2), 0, next, TcpFlags::default(), OK);
            next += OK.len() as u32;
        }
        assert_eq!(rig.pdus.len(), 12);
        // Quiet: nothing for 60 s, then the next message. It is handled
        // before the reorder timeout, so it is delivered, not skipped over.
        rig.seg_at(t(72_000), 0, next, TcpFlags::default(), OK);
        assert_eq!(rig.pdus.len(), 13);
        let c = rig.r.counters();
        assert_eq!((c.gaps, c.retransmitted_bytes), (0, 0));
        assert_eq!(rig.half().ooo.len(), 1);
        // A real hole (the stream stuck at it) is still given up on.
        next += OK.len() as u32;
        rig.seg_at(t(72_001), 0, next + 10, TcpFlags::default(), OK);
        rig.seg_at(t(77_002), 0, next + 10, TcpFlags::default(), b"");
        assert_eq!(rig.pdus.len(), 14);
        assert_eq!(rig.r.counters().gaps, 1);
    }

    #[test]
    fn a_stream_that_moved_past_the_window_is_followed() {
        let mut rig = Rig::new(Framing::Sip);
        rig.seg_at(t(0), 0, 0, SYN, b"");
        rig.seg(1, OPTIONS);
        let next = 1 + OPTIONS.len() as u32;
        // The capture lost 100 MiB: the rest of the stream comes in
        // continuing segments. The first ones (the tail of a message) are
        // out of the window; the last of the run is followed.
        let far = next + (100 << 20);
        let run = usize::from(FOLLOW_SEGMENTS);
        let tail = [b'z'; 10];
        for k in 0..run - 1 {
            rig.seg(far + 10 * k as u32, &tail);
        }
        assert_eq!(rig.pdus.len(), 1);
        let at = far + 10 * (run as u32 - 1);
        rig.seg(at, &[OK, &OK[..5]].concat());
        rig.seg(at + OK.len() as u32 + 5, &OK[5..]);
        assert_eq!(rig.pdus, vec![OPTIONS.to_vec(), OK.to_vec(), OK.to_vec()]);
        let c = rig.r.counters();
        assert_eq!(
            (c.out_of_window_segments, c.out_of_window_jumps, c.gaps),
            (run as u64 - 1, 1, 1)
        );
        assert_eq!(c.gap_bytes, u64::from(at - next));
        // A run broken by the stream's own in-window data starts again.
        let mut rig = Rig::new(Framing::Sip);
        rig.seg_at(t(0), 0, 0, SYN, b"");
        let far = 1 + (100 << 20);
        for k in 0..run - 1 {
            rig.seg(far + 10 * k as u32, &tail);
        }
        rig.seg(1, OK);
        rig.seg(far + 10 * (run as u32 - 1), &tail);
        let c = rig.r.counters();
        assert_eq!((c.out_of_window_segments, c.gaps), (run as u64, 0));
        assert_eq!(rig.pdus, vec![OK.to_vec()]);
    }

    #[test]
    fn a_fin_outside_the_window_is_ignored() {
        let mut rig = Rig::new(Framing::Sip);
        rig.seg_at(t(0), 0, 0, SYN, b"");
        rig.seg(1, OPTIONS);
        let next = 1 + OPTIONS.len() as u32;
        // Before bytes already delivered, and far ahead.
        rig.seg_at(t(0), 0, next - 20, FIN, b"");
        rig.seg_at(t(0), 0, next + (1 << 30), FIN, b"");
        rig.seg_at(t(0), 0, next + (1 << 30), FIN, b"zz");
        rig.seg(next, OK);
        assert_eq!(rig.pdus, vec![OPTIONS.to_vec(), OK.to_vec()]);
        assert_eq!(rig.r.counters().out_of_window_segments, 3);
        // The real FIN closes the direction (and the one-way connection).
        rig.seg_at(t(0), 0, next + OK.len() as u32, FIN, b"");
        assert_eq!(rig.r.connection_count(), 0);
    }

    #[test]
    fn total_byte_cap_refuses_buffering_and_the_tally_returns_to_zero() {
        let cfg = TcpConfig {
            max_total_buffered_bytes: 1000,
            ..TcpConfig::default()
        };
        let mut r = TcpReassembler::new(cfg);
        let server = ep(SERVER, 5060);
        let none = TcpFlags::default();
        let step = |r: &mut TcpReassembler, ms, port, seq, flags, data: &[u8]| {
            let pdus = feed(
                r,
                t(ms),
                ep(CLIENT, port),
                server,
                seq,
                flags,
                data,
                Framing::Sip,
            );
            assert_eq!(r.held_bytes(), tally(r), "after {port} {seq}");
            pdus
        };
        // Three connections hold 300 out-of-order bytes each; a fourth
        // segment would pass 1000 and is dropped.
        for port in 1..=4u16 {
            step(&mut r, 0, port, 0, SYN, b"");
            step(&mut r, 0, port, 101, none, &[b'x'; 300]);
        }
        assert_eq!(r.held_bytes(), 900);
        let c = r.counters().clone();
        assert_eq!(
            (
                c.out_of_order_segments,
                c.dropped_memory_cap_segments,
                c.dropped_memory_cap_bytes
            ),
            (3, 1, 300)
        );
        // A partial message that would pass the cap is released; the rest of
        // it is skipped, the next message delivered.
        let big = [
            &b"OPTIONS sip:a@b SIP/2.0\r\nX-Filler: "[..],
            &[b'y'; 150],
            b"\r\nContent-Length: 0\r\n\r\n",
        ]
        .concat();
        step(&mut r, 0, 4, 1, none, &big[..150]);
        assert_eq!(r.held_bytes(), 900);
        let c = r.counters().clone();
        assert_eq!(
            (c.dropped_memory_cap_segments, c.dropped_memory_cap_bytes),
            (2, 300 + 150)
        );
        let pdus = step(&mut r, 0, 4, 151, none, &[&big[150..], OK].concat());
        assert_eq!(pdus, vec![OK.to_vec()]);
        // Under the cap, partial messages are held as ever.
        step(&mut r, 0, 5, 7, none, &OPTIONS[..50]);
        assert_eq!(r.held_bytes(), 950);
        // Every way out gives the bytes back: delivery, a gap on timeout, a
        // restart, FIN both ways, RST, the idle timeout.
        let pdus = step(&mut r, 0, 5, 57, none, &OPTIONS[50..]);
        assert_eq!(pdus, vec![OPTIONS.to_vec()]);
        step(&mut r, 6_000, 1, 101, none, b"");
        assert_eq!(r.counters().gaps, 1);
        step(&mut r, 6_000, 2, 5_000_000, SYN, b"");
        step(&mut r, 6_000, 2, 5_000_001, none, &OK[..10]);
        step(&mut r, 6_000, 2, 5_000_011, FIN, b"");
        step(&mut r, 6_000, 3, 1, RST, b"");
        assert_eq!(r.connection_count(), 3);
        // A fragmented WebSocket message being joined is tallied too.
        let ws = ep(SERVER, 5062);
        feed(
            &mut r,
            t(6_000),
            ep(CLIENT, 9),
            ws,
            0,
            SYN,
            b"",
            Framing::WebSocket,
        );
        let first = [WS_GET, &ws_frame(0x01, true, &OPTIONS[..40])].concat();
        feed(
            &mut r,
            t(6_000),
            ep(CLIENT, 9),
            ws,
            1,
            none,
            &first,
            Framing::WebSocket,
        );
        assert_eq!(r.held_bytes(), tally(&r));
        assert!(r.held_bytes() >= 40);
        r.handle_timeout(t(400_000));
        assert_eq!(r.connection_count(), 0);
        assert_eq!(r.held_bytes(), 0);
    }

    #[test]
    fn a_refused_connection_is_counted_once() {
        let cfg = TcpConfig {
            max_connections: 1,
            ..TcpConfig::default()
        };
        let mut r = TcpReassembler::new(cfg);
        let server = ep(SERVER, 5060);
        let none = TcpFlags::default();
        feed(
            &mut r,
            t(0),
            ep(CLIENT, 1),
            server,
            0,
            SYN,
            b"",
            Framing::Sip,
        );
        // Its SYN, the SYN again, two data segments.
        for (seq, flags, data) in [
            (0, SYN, &b""[..]),
            (0, SYN, b""),
            (1, none, OK),
            (1, none, OK),
        ] {
            feed(
                &mut r,
                t(0),
                ep(CLIENT, 2),
                server,
                seq,
                flags,
                data,
                Framing::Sip,
            );
        }
        feed(
            &mut r,
            t(0),
            ep(CLIENT, 3),
            server,
            1,
            none,
            OK,
            Framing::Sip,
        );
        let c = r.counters();
        assert_eq!((c.connections_refused, c.refused_segments), (2, 5));
        // Remembered refusals are bounded: the oldest is forgotten.
        for port in 4..4 + REFUSED_MEMORY as u16 {
            feed(
                &mut r,
                t(0),
                ep(CLIENT, port),
                server,
                0,
                SYN,
                b"",
                Framing::Sip,
            );
        }
        assert_eq!(r.refused.keys.len(), REFUSED_MEMORY);
        assert_eq!(r.refused.order.len(), REFUSED_MEMORY);
        feed(
            &mut r,
            t(0),
            ep(CLIENT, 2),
            server,
            0,
            SYN,
            b"",
            Framing::Sip,
        );
        assert_eq!(
            r.counters().connections_refused,
            2 + REFUSED_MEMORY as u64 + 1
        );
    }

    #[test]
    fn connection_cap_refuses_new_connections() {
        let cfg = TcpConfig {
            max_connections: 2,
            ..TcpConfig::default()
        };
        let mut r = TcpReassembler::new(cfg);
        let mut n = 0;
        for port in 1..=3u16 {
            r.handle_segment(
                t(0),
                ep(1, port),
                ep(2, 5060),
                1,
                TcpFlags::default(),
                OK,
                Framing::Sip,
                &mut |_| n += 1,
            );
        }
        assert_eq!(n, 2);
        assert_eq!(r.connection_count(), 2);
        assert_eq!(r.counters().connections_refused, 1);
        // Known connections still work when full.
        r.handle_segment(
            t(0),
            ep(2, 5060),
            ep(1, 1),
            9,
            TcpFlags::default(),
            OK,
            Framing::Sip,
            &mut |_| n += 1,
        );
        assert_eq!(n, 3);
    }

    #[test]
    fn idle_timeout_forgets_connections_and_counts_held_bytes() {
        let mut rig = Rig::new(Framing::Sip);
        rig.seg_at(t(0), 0, 1, TcpFlags::default(), &OPTIONS[..20]);
        rig.seg_at(t(100_000), 1, 7, TcpFlags::default(), OK);
        rig.r.handle_timeout(t(299_000));
        assert_eq!(rig.r.connection_count(), 1);
        rig.r.handle_timeout(t(400_001));
        assert_eq!(rig.r.connection_count(), 0);
        let c = rig.r.counters();
        assert_eq!((c.connections_timed_out, c.dropped_bytes_at_close), (1, 20));
    }

    #[test]
    fn fin_both_ways_closes_and_rst_drops() {
        let mut rig = Rig::new(Framing::Sip);
        rig.seg_at(t(0), 0, 10, SYN, b"");
        rig.seg_at(t(0), 1, 90, SYN, b"");
        rig.seg_at(t(0), 0, 11, FIN, OK);
        rig.seg_at(t(0), 1, 91, FIN, &OK[..5]);
        assert_eq!(rig.pdus.len(), 1);
        assert_eq!(rig.r.connection_count(), 0);
        let c = rig.r.counters();
        assert_eq!((c.connections_closed, c.dropped_bytes_at_close), (1, 5));
        // A FIN after missing data waits for it; a direction never seen
        // counts as closed.
        let mut rig = Rig::new(Framing::Sip);
        rig.seg_at(t(0), 0, 0, SYN, b"");
        rig.seg_at(t(0), 0, 21, FIN, &OK[20..]);
        assert_eq!(rig.r.connection_count(), 1);
        rig.seg_at(t(0), 0, 1, TcpFlags::default(), &OK[..20]);
        assert_eq!(rig.pdus, vec![OK.to_vec()]);
        assert_eq!(rig.r.connection_count(), 0);
        let mut rig = Rig::new(Framing::Sip);
        rig.seg(1, &OK[..9]);
        rig.seg_at(t(0), 1, 5, RST, b"");
        assert_eq!(rig.r.connection_count(), 0);
        assert_eq!(rig.r.counters().dropped_bytes_at_close, 9);
    }

    #[test]
    fn syn_with_new_sequence_restarts_the_direction() {
        let mut rig = Rig::new(Framing::Sip);
        rig.seg(1, &OK[..9]);
        rig.seg_at(t(0), 0, 7_000_000, SYN, b"");
        rig.seg(7_000_001, OK);
        assert_eq!(rig.pdus, vec![OK.to_vec()]);
        assert_eq!(rig.r.counters().directions_restarted, 1);
    }

    /// Made up, shaped like `sip-tcp/sip-websocket-and-udp.pcap` (RFC 7118):
    /// the client's upgrade request and the server's 101.
    const WS_GET: &[u8] = b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: upgrade\r\nSec-WebSocket-Protocol: sip\r\n\r\n";
    const WS_101: &[u8] = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nSec-WebSocket-Protocol: sip\r\n\r\n";
    /// The masking key of the INVITE frame of that capture (frame 10).
    const KEY: [u8; 4] = [0x35, 0xba, 0x59, 0x9f];

    /// One WebSocket frame: `first` is FIN/RSV/opcode, masked with `KEY` when
    /// `masked`.
    fn ws_frame(first: u8, masked: bool, payload: &[u8]) -> Vec<u8> {
        let mut f = vec![first];
        let m = if masked { 0x80 } else { 0 };
        match payload.len() {
            n if n < 126 => f.push(m | n as u8),
            n if n < 65536 => {
                f.push(m | 126);
                f.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                f.push(m | 127);
                f.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        let mut body = payload.to_vec();
        if masked {
            f.extend_from_slice(&KEY);
            websocket::unmask(&mut body, KEY, 0);
        }
        f.extend_from_slice(&body);
        f
    }

    #[test]
    fn websocket_handshake_then_masked_and_plain_messages() {
        let mut rig = Rig::new(Framing::WebSocket);
        rig.seg_at(t(0), 0, 99, SYN, b"");
        rig.seg_at(t(0), 1, 499, SYN, b"");
        let up = [WS_GET, &ws_frame(0x81, true, OPTIONS)].concat();
        // In 5-byte pieces: every header and payload split somewhere.
        for (k, piece) in up.chunks(5).enumerate() {
            rig.seg(100 + 5 * k as u32, piece);
        }
        assert_eq!(rig.pdus, vec![OPTIONS.to_vec()]);
        let down = [
            WS_101,
            &ws_frame(0x81, false, OK)[..],
            &ws_frame(0x82, false, OK),
        ]
        .concat();
        rig.seg_at(t(0), 1, 500, TcpFlags::default(), &down);
        assert_eq!(rig.pdus, vec![OPTIONS.to_vec(), OK.to_vec(), OK.to_vec()]);
        let c = rig.r.counters();
        assert_eq!(
            (c.websocket_handshakes, c.websocket_messages, c.pdus),
            (2, 3, 3)
        );
        assert_eq!(
            (c.skipped_bytes, c.resyncs, c.websocket_bad_frames),
            (0, 0, 0)
        );
        // The masked message was unmasked in the direction's buffer, which
        // is kept (empty) for the next one.
        let ws = &rig.half().framer.ws;
        assert!(ws.message.is_empty() && ws.message.capacity() >= OPTIONS.len());
    }

    #[test]
    fn websocket_fragments_joined_around_control_frames() {
        let mut rig = Rig::new(Framing::WebSocket);
        rig.seg_at(t(0), 0, 0, SYN, b"");
        let (a, b) = OPTIONS.split_at(20);
        let (b, c) = b.split_at(10);
        let stream = [
            WS_GET,
            &ws_frame(0x01, true, a),             // text, not final
            &ws_frame(0x89, true, b"ping"),       // a ping between fragments
            &ws_frame(0x00, true, b),             // continuation
            &ws_frame(0x80, true, c),             // final continuation
            &ws_frame(0x88, true, &[0x03, 0xe8]), // close
        ]
        .concat();
        rig.seg(1, &stream);
        assert_eq!(rig.pdus, vec![OPTIONS.to_vec()]);
        let c = rig.r.counters();
        assert_eq!((c.websocket_messages, c.websocket_control_frames), (1, 2));
        assert!(rig.half().buf.is_empty() && rig.half().framer.ws.message.is_empty());
    }

    #[test]
    fn websocket_compressed_bad_and_oversized_frames_are_counted() {
        let cfg = TcpConfig {
            max_buffered_bytes: 200,
            ..TcpConfig::default()
        };
        let mut rig = Rig::with(Framing::WebSocket, cfg);
        rig.seg_at(t(0), 0, 0, SYN, b"");
        let big = vec![b'x'; 300];
        let stream = [
            WS_GET,
            &ws_frame(0xc1, true, b"deflated"), // RSV1: permessage-deflate
            &ws_frame(0x80, true, b"stray"),    // continuation without a start
            &ws_frame(0x81, true, &big),        // larger than the cap: skipped
            &ws_frame(0x81, true, OK),
        ]
        .concat();
        // The oversized frame arrives over several segments.
        for (k, piece) in stream.chunks(64).enumerate() {
            rig.seg(1 + 64 * k as u32, piece);
        }
        assert_eq!(rig.pdus, vec![OK.to_vec()]);
        let c = rig.r.counters();
        assert_eq!(c.websocket_compressed_messages, 1);
        assert_eq!(c.websocket_bad_frames, 1);
        assert_eq!(c.websocket_oversized, 1);
        assert_eq!(c.skipped_bytes, 308); // 8-byte header + 300
                                          // A fragmented message growing past the cap is dropped too.
        let mut rig = Rig::with(
            Framing::WebSocket,
            TcpConfig {
                max_buffered_bytes: 200,
                ..TcpConfig::default()
            },
        );
        rig.seg_at(t(0), 0, 0, SYN, b"");
        let stream = [
            WS_GET,
            &ws_frame(0x01, true, &big[..150]),
            &ws_frame(0x00, true, &big[..150]),
            &ws_frame(0x80, true, b"end"),
            &ws_frame(0x81, true, OK),
        ]
        .concat();
        rig.seg(1, &stream);
        assert_eq!(rig.pdus, vec![OK.to_vec()]);
        assert_eq!(rig.r.counters().websocket_oversized, 1);
    }

    #[test]
    fn websocket_pickup_mid_frame_hunts_for_a_sip_frame() {
        let mut rig = Rig::new(Framing::WebSocket);
        let first = ws_frame(0x81, true, OPTIONS);
        // Made up: the payload of an unrelated binary frame holds 0x81 bytes
        // that do not start a SIP frame.
        let noise = ws_frame(0x82, false, &[0x81, 0x05, 1, 2, 3, 4, 5]);
        let stream = [&first[10..], &noise[..], &ws_frame(0x81, true, OK)].concat();
        rig.seg(5000, &stream);
        assert_eq!(rig.pdus, vec![OK.to_vec()]);
        assert_eq!(
            rig.r.counters().skipped_bytes,
            (first.len() - 10 + noise.len()) as u64
        );
        // Bytes that are neither HTTP nor a frame where the handshake should
        // be: counted, then the hunt.
        let mut rig = Rig::new(Framing::WebSocket);
        rig.seg_at(t(0), 0, 0, SYN, b"");
        rig.seg(1, &[b"junk\r\n", &ws_frame(0x81, false, OK)[..]].concat());
        assert_eq!(rig.pdus, vec![OK.to_vec()]);
        assert_eq!(rig.r.counters().websocket_bad_handshakes, 1);
    }

    #[test]
    fn websocket_refused_upgrade_stays_http() {
        let mut rig = Rig::new(Framing::WebSocket);
        rig.seg_at(t(0), 1, 0, SYN, b"");
        let refused = b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n";
        rig.seg_at(t(0), 1, 1, TcpFlags::default(), refused);
        rig.seg_at(
            t(0),
            1,
            1 + refused.len() as u32,
            TcpFlags::default(),
            WS_101,
        );
        let frame = ws_frame(0x81, false, OK);
        let seq = 1 + (refused.len() + WS_101.len()) as u32;
        rig.seg_at(t(0), 1, seq, TcpFlags::default(), &frame);
        assert_eq!(rig.pdus, vec![OK.to_vec()]);
        assert_eq!(rig.r.counters().websocket_handshakes, 2);
    }
}
