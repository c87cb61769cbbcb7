//! Request/answer matching: pairs each DIAMETER answer with its request and
//! gives the latency on packet time.
//!
//! A request is keyed by (hop-by-hop, end-to-end, command code, requester,
//! responder); its answer carries the same identifiers (RFC 6733 §6.2) and
//! travels back on the same connection, so the answer's (dst, src) are the
//! request's (src, dst). The table holds at most [`MAX_PENDING_REQUESTS`];
//! when full a new request is refused and counted (`DropNewest`). Requests
//! unanswered for [`ANSWER_TIMEOUT_NS`] age out in [`Transactions::handle_timeout`]
//! and are counted. Time is the packets' ([`PacketTime`]), never the wall
//! clock; it is expected to be non-decreasing.

use super::Header;
use crate::packet::Endpoint;
use crate::time::PacketTime;
use serde::Serialize;
use std::collections::HashMap;

/// Requests waiting for an answer at most. A busy PCRF link sees a few
/// thousand transactions per second with answers in milliseconds; 65 536
/// leaves room for a long outage of answers.
pub const MAX_PENDING_REQUESTS: usize = 65_536;
/// A request unanswered this long is given up: 30 s, RFC 6733's default
/// watchdog interval Tw (§5.5.3); application timers (Tx of RFC 4006 §13)
/// are shorter.
pub const ANSWER_TIMEOUT_NS: i64 = 30_000_000_000;

/// What identifies one transaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TransactionKey {
    /// Hop-by-Hop Identifier.
    pub hop_by_hop: u32,
    /// End-to-End Identifier.
    pub end_to_end: u32,
    /// Command code.
    pub command_code: u32,
    /// Who sent the request.
    pub requester: Endpoint,
    /// Who answers it.
    pub responder: Endpoint,
}

impl TransactionKey {
    /// The key of a message with `header` sent from `src` to `dst`.
    pub fn of(header: &Header, src: Endpoint, dst: Endpoint) -> Self {
        let (requester, responder) = if header.request {
            (src, dst)
        } else {
            (dst, src)
        };
        TransactionKey {
            hop_by_hop: header.hop_by_hop,
            end_to_end: header.end_to_end,
            command_code: header.command_code,
            requester,
            responder,
        }
    }
}

/// An answer matched with its request.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Matched {
    /// When the request was seen.
    pub request_time: PacketTime,
    /// Frame number of the request.
    pub request_frame: u64,
    /// Answer time minus request time, in milliseconds.
    pub latency_ms: f64,
}

/// Matching counters.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct TransactionCounters {
    /// Requests entered in the table.
    pub requests: u64,
    /// Answers matched with a request.
    pub answered: u64,
    /// Answers with no pending request (request not seen, timed out or
    /// refused).
    pub unmatched_answers: u64,
    /// Requests given up after [`ANSWER_TIMEOUT_NS`].
    pub timed_out_requests: u64,
    /// Requests refused because the table held [`MAX_PENDING_REQUESTS`].
    pub refused_table_full: u64,
    /// Requests seen again while pending (T flag or duplicates); the first
    /// one's time is kept.
    pub duplicate_requests: u64,
    /// Requests still pending when [`Transactions::finish`] was called.
    pub pending_at_end: u64,
}

#[derive(Clone, Copy, Debug)]
struct Pending {
    time: PacketTime,
    frame: u64,
}

/// The table of pending requests.
#[derive(Debug)]
pub struct Transactions {
    /// Only requests in flight: timeouts sweep this map (a time-ordered queue
    /// kept every answered request for the whole timeout, 64 bytes each).
    pending: HashMap<TransactionKey, Pending, foldhash::fast::RandomState>,
    capacity: usize,
    timeout_ns: i64,
    counters: TransactionCounters,
}

impl Default for Transactions {
    fn default() -> Self {
        Self::new(MAX_PENDING_REQUESTS, ANSWER_TIMEOUT_NS)
    }
}

impl Transactions {
    /// A table holding `capacity` requests, each for `timeout_ns`.
    pub fn new(capacity: usize, timeout_ns: i64) -> Self {
        Transactions {
            pending: HashMap::default(),
            capacity,
            timeout_ns,
            counters: TransactionCounters::default(),
        }
    }

    /// Takes one message; for an answer, returns its request when found.
    pub fn handle_message(
        &mut self,
        now: PacketTime,
        frame: u64,
        header: &Header,
        src: Endpoint,
        dst: Endpoint,
    ) -> Option<Matched> {
        let key = TransactionKey::of(header, src, dst);
        if header.request {
            if self.pending.contains_key(&key) {
                self.counters.duplicate_requests += 1;
            } else if self.pending.len() >= self.capacity {
                self.counters.refused_table_full += 1;
            } else {
                self.pending.insert(key, Pending { time: now, frame });
                self.counters.requests += 1;
            }
            return None;
        }
        match self.pending.remove(&key) {
            Some(p) => {
                self.counters.answered += 1;
                Some(Matched {
                    request_time: p.time,
                    request_frame: p.frame,
                    latency_ms: now.millis_since(p.time),
                })
            }
            None => {
                self.counters.unmatched_answers += 1;
                None
            }
        }
    }

    /// Gives up requests older than the timeout.
    pub fn handle_timeout(&mut self, now: PacketTime) {
        let before = self.pending.len();
        let timeout_ns = self.timeout_ns;
        self.pending
            .retain(|_, p| now.as_nanos().saturating_sub(p.time.as_nanos()) < timeout_ns);
        self.counters.timed_out_requests += (before - self.pending.len()) as u64;
    }

    /// Requests waiting for an answer.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// The counters so far.
    pub fn counters(&self) -> &TransactionCounters {
        &self.counters
    }

    /// Ends the run: pending requests are counted in `pending_at_end`.
    pub fn finish(mut self) -> TransactionCounters {
        self.counters.pending_at_end = self.pending.len() as u64;
        self.counters
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{IpAddr, Ipv4Addr};

    fn ep(last: u8, port: u16) -> Endpoint {
        Endpoint::new(IpAddr::V4(Ipv4Addr::new(10, 0, 0, last)), port)
    }

    fn header(request: bool, hbh: u32) -> Header {
        Header {
            request,
            command_code: 272,
            application_id: 16_777_238,
            hop_by_hop: hbh,
            end_to_end: hbh ^ 0xffff,
            ..Header::default()
        }
    }

    #[test]
    fn pairs_answer_with_request_and_gives_latency() {
        let (a, b) = (ep(1, 40000), ep(2, 3868));
        let mut t = Transactions::default();
        let t0 = PacketTime::from_parts(100, 0);
        assert_eq!(t.handle_message(t0, 1, &header(true, 7), a, b), None);
        // Same ids from the wrong peer: not this transaction.
        assert_eq!(
            t.handle_message(t0, 2, &header(false, 7), ep(3, 3868), a),
            None
        );
        let m = t
            .handle_message(t0.add_nanos(12_500_000), 3, &header(false, 7), b, a)
            .unwrap();
        assert_eq!(m.request_frame, 1);
        assert!((m.latency_ms - 12.5).abs() < 1e-9);
        let c = t.finish();
        assert_eq!((c.requests, c.answered, c.unmatched_answers), (1, 1, 1));
    }

    #[test]
    fn unanswered_requests_age_out_and_full_table_refuses() {
        let (a, b) = (ep(1, 40000), ep(2, 3868));
        let mut t = Transactions::new(2, 1_000);
        let t0 = PacketTime::from_nanos(0);
        for i in 0..3 {
            t.handle_message(t0, i, &header(true, i as u32), a, b);
        }
        assert_eq!(t.counters().refused_table_full, 1);
        t.handle_timeout(PacketTime::from_nanos(999));
        assert_eq!(t.pending(), 2);
        t.handle_timeout(PacketTime::from_nanos(1_000));
        assert_eq!(t.pending(), 0);
        assert_eq!(t.counters().timed_out_requests, 2);
        assert_eq!(
            t.handle_message(PacketTime::from_nanos(1_001), 9, &header(false, 0), b, a),
            None
        );
        assert_eq!(t.counters().unmatched_answers, 1);
    }
}
