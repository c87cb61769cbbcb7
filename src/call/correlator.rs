//! The VoLTE correlator: DIAMETER Rx/Gx exchanges, GTPv2-C procedures and
//! subscribers, joined to SIP calls as they close.
//!
//! [`Correlator`] is fed in capture order (time is a parameter) with decoded
//! DIAMETER messages ([`Correlator::handle_diameter`]) and GTPv2-C summaries
//! ([`Correlator::handle_gtpv2`]). It keeps:
//! - Rx and Gx exchanges (AAR/AAA, CCR/CCA, RAR/RAA, STR/STA) indexed by
//!   Session-Id, AF-Charging-Identifier (ICID) and UE IP (Framed-IP-Address);
//! - the hops of voice bearer set-ups (QCI 1 Create Bearer) with request →
//!   response latency and cause, linked hop to hop as they come, indexed by
//!   TEID and IMSI, with the Delete Bearer that removed them; every other
//!   GTPv2-C procedure (Create Session, ...) only teaches the subscriber
//!   table when its response comes;
//! - the [`SubscriberTable`] (IMSI, MSISDN, UE IPs, bearers, TEIDs).
//!
//! All of it is bounded ([`CorrelatorLimits`], [`MAX_PER_KEY`]; evictions
//! counted) and aged out
//! by [`Correlator::handle_timeout`] after [`RETENTION_NS`] of packet time.
//!
//! Memory is what limits a probe with 100 000 calls up at once, so the state
//! is laid out for it (`benches/volte_state.rs` measures it per call): items
//! live in logs of fixed blocks and are named by 32-bit sequence numbers;
//! indices hold those numbers, never copies (strings by their seeded hash, a
//! key naming one item in a map of one number, up to three numbers inline);
//! an exchange carries only its application's fields, a logged hop only what
//! a call's legs show.
//!
//! [`Correlator::attach`] then joins legs to each call per DESIGN.md: ICID →
//! Rx (else UE IP + nearest in time); the call's GTP-U streams' TEIDs → the
//! QCI 1 Create Bearer (else the UE's subscriber + nearest in time); Gx by
//! UE IP / IMSI, else the RAR nearest before the bearer request; RTP: the
//! call's streams inside GTP-U, split by direction from the UE. When the
//! other end is a UE with legs of its own, the same join runs again for it
//! (`remote_ue`), only on what names it. A live probe attaches each call as
//! it closes; a leg joined to one call is joined to no other.

use super::record::CallRecord;
use super::subscriber::{Bearer, Subscriber, SubscriberCounters, SubscriberTable};
use super::volte::{
    BearerDeletion, BearerLeg, GxLeg, RtpLeg, RtpLegStream, RxLeg, RxTermination, UeLegs,
    VolteLegs, VolteState,
};
use crate::packet::{Endpoint, Observation};
use crate::proto::diameter::summary::{Message, SubscriptionIdType};
use crate::proto::diameter::transactions::Matched;
use crate::proto::gtpv2::{MessageSummary, Transaction};
use crate::time::PacketTime;
use serde::Serialize;
use smallvec::SmallVec;
use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasher, Hash};
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

/// Most DIAMETER Rx/Gx exchanges remembered by default: a VoLTE call makes
/// about five (CCR-I, AAR, RAR, STR, CCR-T), so 100 000 calls at once (the
/// call table's default) keep their legs.
pub const MAX_EXCHANGES: usize = 524_288;
/// Most GTPv2-C procedures remembered by default: a call makes about four
/// (Create Session, Create Bearer on two hops, Delete Bearer).
pub const MAX_PROCEDURES: usize = 524_288;
/// Most GTPv2-C requests waiting for their response by default.
pub const MAX_PENDING_REQUESTS: usize = 65_536;

/// How much the correlator remembers; what goes past a limit is evicted
/// (oldest first) and counted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CorrelatorLimits {
    /// DIAMETER Rx/Gx exchanges (default [`MAX_EXCHANGES`]).
    pub max_exchanges: usize,
    /// GTPv2-C procedures (default [`MAX_PROCEDURES`]).
    pub max_procedures: usize,
    /// GTPv2-C requests waiting for a response (default
    /// [`MAX_PENDING_REQUESTS`]).
    pub max_pending_requests: usize,
}

impl Default for CorrelatorLimits {
    fn default() -> Self {
        CorrelatorLimits {
            max_exchanges: MAX_EXCHANGES,
            max_procedures: MAX_PROCEDURES,
            max_pending_requests: MAX_PENDING_REQUESTS,
        }
    }
}
/// Most entries per index key (e.g. RARs of one Gx session); the oldest goes.
pub const MAX_PER_KEY: usize = 64;
/// Exchanges and procedures are kept this long (packet time): two hours, the
/// longest call we join legs to.
pub const RETENTION_NS: i64 = 7_200_000_000_000;
/// A GTPv2-C request with no response for this long is forgotten.
pub const PENDING_TIMEOUT_NS: i64 = 30_000_000_000;
/// How far around a call (INVITE − this … end + this) legs joined by UE IP or
/// IMSI may be.
pub const NEAREST_WINDOW_NS: i64 = 30_000_000_000;
/// Longest gap between two hops of one Create Bearer (PGW → SGW → MME).
pub const BEARER_HOP_GAP_NS: i64 = 1_000_000_000;
/// Most hops of one Create Bearer chained together.
const MAX_HOPS: usize = 4;
/// How long before a Create Bearer Request the RAR that caused it may be.
pub const RAR_BEFORE_BEARER_NS: i64 = 2_000_000_000;

/// Diagnosis of a call whose UE sends its RTP in GTP-U tunnels other than
/// its QCI 1 bearer's (e.g. the default bearer: the TFT did not match).
pub const MEDIA_OUTSIDE_BEARER: &str = "volte_media_outside_bearer";

/// DIAMETER application IDs (TS 29.214, TS 29.212).
const APP_RX: u32 = 16_777_236;
const APP_GX: u32 = 16_777_238;
/// Command codes: AA, Re-Auth, Credit-Control, Session-Termination.
const CMD_AA: u32 = 265;
const CMD_RA: u32 = 258;
const CMD_CC: u32 = 272;
const CMD_ST: u32 = 275;
/// GTPv2-C message types (TS 29.274 Table 6.1-1).
const CREATE_SESSION_REQUEST: u8 = 32;
const CREATE_SESSION_RESPONSE: u8 = 33;
const CREATE_BEARER_REQUEST: u8 = 95;
const CREATE_BEARER_RESPONSE: u8 = 96;
const UPDATE_BEARER_REQUEST: u8 = 97;
const UPDATE_BEARER_RESPONSE: u8 = 98;
const DELETE_BEARER_REQUEST: u8 = 99;
const DELETE_BEARER_RESPONSE: u8 = 100;

/// What the correlator joined, missed and dropped.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct CorrelatorCounters {
    /// Calls given VoLTE legs.
    pub calls_with_legs: u64,
    /// Of those, calls whose other end is a UE with legs of its own.
    pub calls_with_remote_ue: u64,
    /// Rx legs joined to a call (each UE's of a call between two UEs).
    pub rx_joined: u64,
    /// Gx legs joined to a call.
    pub gx_joined: u64,
    /// Bearer legs joined to a call.
    pub bearer_joined: u64,
    /// RTP legs (media inside the bearer's TEIDs) joined to a call.
    pub rtp_joined: u64,
    /// Rx AARs joined to no call (counted as they age out or are evicted,
    /// and those held at the end of a run).
    pub rx_unmatched: u64,
    /// Gx RARs joined to no call (counted likewise).
    pub gx_unmatched: u64,
    /// QCI 1 Create Bearer procedures (each hop) joined to no call (counted
    /// likewise).
    pub bearer_unmatched: u64,
    /// DIAMETER answers whose exchange was not found.
    pub diameter_answers_unmatched: u64,
    /// Exchanges evicted because [`CorrelatorLimits::max_exchanges`] was reached.
    pub exchanges_evicted: u64,
    /// Procedures evicted because [`CorrelatorLimits::max_procedures`] was reached.
    pub procedures_evicted: u64,
    /// Exchanges and procedures aged out after [`RETENTION_NS`].
    pub aged_out: u64,
    /// GTPv2-C requests not remembered
    /// ([`CorrelatorLimits::max_pending_requests`]) or timed out.
    pub pending_dropped: u64,
    /// Index entries dropped past [`MAX_PER_KEY`].
    pub index_overflow: u64,
    /// Subscriber table.
    pub subscribers: SubscriberCounters,
}

/// A subscriber at the end of a run, with the DIAMETER sessions tied to it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SubscriberReport {
    /// What the subscriber table holds.
    #[serde(flatten)]
    pub subscriber: Subscriber,
    /// Rx Session-Ids of AARs for one of its UE IPs.
    pub rx_sessions: Vec<String>,
    /// Gx Session-Ids of CCRs for one of its UE IPs or its IMSI.
    pub gx_sessions: Vec<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum App {
    Rx,
    Gx,
}

/// One DIAMETER request and its answer.
#[derive(Clone, Debug)]
struct Exchange {
    app: App,
    command_code: u32,
    /// Shared by the exchanges of one session.
    session_id: Arc<str>,
    request_time: PacketTime,
    request_frame: u64,
    /// Framed-IP-Address: IPv4 only (RFC 7155; IPv6 has a prefix AVP of its
    /// own), which keeps the exchange and its index entries small.
    framed_ip: Option<Ipv4Addr>,
    media_components: u16,
    qci: Option<u32>,
    answered: bool,
    /// The answer was paired by the transaction tracker: `latency_ms` holds
    /// (a flag beside the others, where an `Option` took 16 bytes).
    timed: bool,
    latency_ms: f64,
    result_code: Option<u32>,
    /// Joined to a call.
    joined: bool,
    /// What only one application's exchanges carry (an exchange of 100
    /// bytes where one with every field was 152: three per call).
    detail: ExchangeDetail,
}

#[derive(Clone, Debug)]
enum ExchangeDetail {
    Rx {
        af_charging_id: Option<Box<str>>,
        /// For an AAR, the STR/STA that ended its Rx session (boxed: most
        /// exchanges have none while their call is up).
        end: Option<Box<SessionEnd>>,
    },
    Gx {
        /// Shared by the exchanges of one session.
        imsi: Option<Arc<str>>,
        /// Charging-Rule-Names installed (a boxed slice: no room kept spare).
        rules: Box<[Box<str>]>,
    },
}

/// The Session-Termination exchange of an Rx session, kept with its AAR.
#[derive(Clone, Debug)]
struct SessionEnd {
    request_frame: u64,
    termination_cause: Option<u32>,
    answered: bool,
    latency_ms: Option<f64>,
    result_code: Option<u32>,
}

impl Exchange {
    fn latency_ms(&self) -> Option<f64> {
        self.timed.then_some(self.latency_ms)
    }

    fn af_charging_id(&self) -> Option<&str> {
        match &self.detail {
            ExchangeDetail::Rx { af_charging_id, .. } => af_charging_id.as_deref(),
            ExchangeDetail::Gx { .. } => None,
        }
    }

    fn end(&self) -> Option<&SessionEnd> {
        match &self.detail {
            ExchangeDetail::Rx { end, .. } => end.as_deref(),
            ExchangeDetail::Gx { .. } => None,
        }
    }

    fn imsi(&self) -> Option<&Arc<str>> {
        match &self.detail {
            ExchangeDetail::Gx { imsi, .. } => imsi.as_ref(),
            ExchangeDetail::Rx { .. } => None,
        }
    }

    fn rules(&self) -> &[Box<str>] {
        match &self.detail {
            ExchangeDetail::Gx { rules, .. } => rules,
            ExchangeDetail::Rx { .. } => &[],
        }
    }

    /// Counts this exchange as left unjoined, when its kind makes a leg.
    fn count_unjoined(&self, counters: &mut CorrelatorCounters) {
        match (self.joined, self.app, self.command_code) {
            (false, App::Rx, CMD_AA) => counters.rx_unmatched += 1,
            (false, App::Gx, CMD_RA) => counters.gx_unmatched += 1,
            _ => {}
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ProcedureKind {
    CreateSession,
    CreateBearer,
    UpdateBearer,
    DeleteBearer,
}

#[derive(Clone, Debug, Default)]
struct ProcBearer {
    ebi: Option<u8>,
    qci: Option<u8>,
    /// Guaranteed bit rates, kbit/s (saturated at `u32::MAX`: 4 Tbit/s).
    gbr_ul: Option<u32>,
    gbr_dl: Option<u32>,
    request_teids: Teids,
    response_teids: Teids,
    cause: Option<u8>,
}

/// The TEIDs of one side of a bearer or procedure: most have one or two,
/// kept inline.
type Teids = SmallVec<[u32; 2]>;

/// One GTPv2-C request and its response.
#[derive(Clone, Debug)]
struct Procedure {
    kind: ProcedureKind,
    request_time: PacketTime,
    request_frame: u64,
    requester: IpAddr,
    responder: IpAddr,
    imsi: Option<Box<str>>,
    bearers: SmallVec<[ProcBearer; 1]>,
    answered: bool,
    /// Request to response, valid once answered.
    latency_ms: f64,
    cause: Option<u8>,
    /// The hop before this one (PGW → SGW before SGW → MME), when linked.
    upstream: Option<Seq>,
    /// The hop after this one, when linked.
    downstream: Option<Seq>,
    /// Joined to a call.
    joined: bool,
    /// For a voice bearer hop, its removal (boxed: rarely there while a
    /// call is up).
    deletion: Option<Box<BearerDeletion>>,
}

impl PendingRequest {
    fn new(time: PacketTime, request: &MessageSummary, procedure: Pending) -> Self {
        let mut teids: Teids = request
            .fteids
            .iter()
            .map(|f| f.teid)
            .filter(|t| *t != 0)
            .collect();
        teids.extend(request.teid.filter(|t| *t != 0));
        PendingRequest {
            time,
            control: ControlIdentity {
                msisdn: request.msisdn.as_deref().map(Box::from),
                teids,
            },
            procedure,
        }
    }
}

impl Procedure {
    fn latency_ms(&self) -> Option<f64> {
        self.answered.then_some(self.latency_ms)
    }

    fn voice_bearer(&self) -> Option<&ProcBearer> {
        self.bearers.iter().find(|b| b.qci == Some(1))
    }

    /// Whether this is a hop of a voice bearer's set-up: the only
    /// procedures kept once answered (the rest only teach subscribers).
    fn is_voice_hop(&self) -> bool {
        self.kind == ProcedureKind::CreateBearer && self.voice_bearer().is_some()
    }
}

/// A GTPv2-C request waiting for its response: a voice bearer's hop, kept in
/// the log to be joined to a call, or any other procedure, held here only
/// until its response teaches the subscriber table.
#[derive(Debug)]
enum Pending {
    Logged(Seq),
    Held(Box<Procedure>),
}

/// A GTPv2-C request waiting for its response.
#[derive(Debug)]
struct PendingRequest {
    time: PacketTime,
    control: ControlIdentity,
    procedure: Pending,
}

/// What only the subscriber table takes from a procedure, as its response
/// completes it: kept with the request while it waits, not in every
/// logged hop.
#[derive(Debug)]
struct ControlIdentity {
    msisdn: Option<Box<str>>,
    /// The request's and response's control-plane TEIDs (F-TEIDs and the
    /// header's).
    teids: Teids,
}

/// Voice bearer hops looked at for the one a new hop continues: hops follow
/// each other within milliseconds, and the bound keeps the work per request
/// constant when thousands of calls overlap.
const MAX_HOP_CANDIDATES: usize = 256;

/// Procedures looked at by the last-resort time join of a bearer: bounds the
/// work per call when thousands of calls overlap.
const MAX_TIME_JOIN_CANDIDATES: usize = 64;

/// Items per block of a [`Log`].
const LOG_BLOCK: usize = 1024;

/// The sequence number of an item of a [`Log`]: 32 bits, so an index entry
/// holds three inline. It wraps (after 2^32 items, months on a busy link);
/// the log finds an item by its distance from the oldest one held, which a
/// log of at most a few hundred thousand items never confuses: an item
/// gone is further from the oldest than any held, until 2^32 more come.
/// Order items by [`Log::position`], not by their numbers.
type Seq = u32;

/// A bounded, time-ordered log with stable sequence numbers.
///
/// Held in blocks of [`LOG_BLOCK`] items so it grows a block at a time: one
/// deque doubling its room held space for 524 288 exchanges when 300 001
/// were in it. Every block is full but the first (which loses items at its
/// front) and the last (which gains them at its back).
#[derive(Debug)]
struct Log<T> {
    /// Sequence number of the oldest item held.
    base: Seq,
    blocks: VecDeque<VecDeque<T>>,
    len: usize,
}

impl<T> Default for Log<T> {
    fn default() -> Self {
        Log {
            base: 0,
            blocks: VecDeque::new(),
            len: 0,
        }
    }
}

impl<T> Log<T> {
    fn len(&self) -> usize {
        self.len
    }
    fn next_seq(&self) -> Seq {
        self.base.wrapping_add(self.len as Seq)
    }
    /// Block and index within it of the item at `position` (0: oldest).
    fn locate(&self, position: usize) -> Option<(usize, usize)> {
        if position >= self.len {
            return None;
        }
        let first = self.blocks.front().map_or(0, VecDeque::len);
        if position < first {
            return Some((0, position));
        }
        let rest = position - first;
        Some((1 + rest / LOG_BLOCK, rest % LOG_BLOCK))
    }
    fn at(&self, position: usize) -> Option<&T> {
        let (b, i) = self.locate(position)?;
        self.blocks.get(b)?.get(i)
    }
    /// Where the item `seq` is (0: oldest), when it is held.
    fn position(&self, seq: Seq) -> Option<usize> {
        let position = usize::try_from(seq.wrapping_sub(self.base)).ok()?;
        (position < self.len).then_some(position)
    }
    fn get(&self, seq: Seq) -> Option<&T> {
        self.at(self.position(seq)?)
    }
    fn get_mut(&mut self, seq: Seq) -> Option<&mut T> {
        let (b, i) = self.locate(self.position(seq)?)?;
        self.blocks.get_mut(b)?.get_mut(i)
    }
    fn front(&self) -> Option<&T> {
        self.at(0)
    }
    fn push_back(&mut self, item: T) {
        match self.blocks.back_mut() {
            Some(last) if last.len() < LOG_BLOCK => last.push_back(item),
            _ => {
                let mut block = VecDeque::with_capacity(LOG_BLOCK);
                block.push_back(item);
                self.blocks.push_back(block);
            }
        }
        self.len += 1;
    }
    fn pop_front(&mut self) -> Option<(Seq, T)> {
        let first = self.blocks.front_mut()?;
        let t = first.pop_front()?;
        if first.is_empty() {
            self.blocks.pop_front();
        }
        self.len -= 1;
        let seq = self.base;
        self.base = self.base.wrapping_add(1);
        Some((seq, t))
    }
    /// The position of the first item for which `before` is false, the items
    /// being ordered so that `before` holds for a prefix (binary search).
    fn partition_point(&self, mut before: impl FnMut(&T) -> bool) -> usize {
        let (mut lo, mut hi) = (0, self.len);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if self.at(mid).is_some_and(&mut before) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo
    }
    fn iter(&self) -> impl Iterator<Item = (Seq, &T)> {
        self.iter_from(0)
    }
    /// Items from position `first` (not a sequence number) on.
    fn iter_from(&self, first: usize) -> impl Iterator<Item = (Seq, &T)> {
        let (block, index) = self.locate(first).unwrap_or((self.blocks.len(), 0));
        let base = self.base.wrapping_add(first as Seq);
        self.blocks
            .range(block..)
            .enumerate()
            .flat_map(move |(k, b)| b.range(if k == 0 { index } else { 0 }..))
            .enumerate()
            .map(move |(i, t)| (base.wrapping_add(i as Seq), t))
    }
}

/// The sequence numbers under one index key, oldest first. Up to three are
/// kept in the entry itself (16 bytes, as one `u64` and its tag were): a
/// UE address names its AAR, CCR and RAR, a Gx session its CCR and RARs,
/// and a heap block for each such key was a tenth of the correlator's
/// memory. A key with more moves them to the heap.
#[derive(Debug)]
enum Seqs {
    One(Seq),
    Two([Seq; 2]),
    Three([Seq; 3]),
    // Boxed on purpose: a bare Vec would make every entry 32 bytes for the
    // few keys that have more than three.
    #[allow(clippy::box_collection)]
    Many(Box<Vec<Seq>>),
}

impl Seqs {
    fn as_slice(&self) -> &[Seq] {
        match self {
            Seqs::One(s) => std::slice::from_ref(s),
            Seqs::Two(s) => s,
            Seqs::Three(s) => s,
            Seqs::Many(v) => v,
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.as_slice().len()
    }

    fn iter(&self) -> std::slice::Iter<'_, Seq> {
        self.as_slice().iter()
    }

    /// Holds `seqs` (at least one), inline when they fit.
    fn from_slice(seqs: &[Seq]) -> Option<Seqs> {
        Some(match *seqs {
            [] => return None,
            [a] => Seqs::One(a),
            [a, b] => Seqs::Two([a, b]),
            [a, b, c] => Seqs::Three([a, b, c]),
            _ => Seqs::Many(Box::new(seqs.to_vec())),
        })
    }

    /// Adds `seq` (not twice in a row), dropping the oldest past
    /// [`MAX_PER_KEY`] (counted in `overflow`).
    fn push(&mut self, seq: Seq, overflow: &mut u64) {
        if self.as_slice().last() == Some(&seq) {
            return;
        }
        *self = match std::mem::replace(self, Seqs::One(seq)) {
            Seqs::One(a) => Seqs::Two([a, seq]),
            Seqs::Two([a, b]) => Seqs::Three([a, b, seq]),
            Seqs::Three(v) => {
                let mut many = Vec::with_capacity(4);
                many.extend_from_slice(&v);
                many.push(seq);
                Seqs::Many(Box::new(many))
            }
            Seqs::Many(mut v) => {
                if v.len() >= MAX_PER_KEY {
                    v.remove(0);
                    *overflow += 1;
                }
                v.push(seq);
                Seqs::Many(v)
            }
        };
    }

    /// Removes `seq`; whether none is left.
    fn remove(&mut self, seq: Seq) -> bool {
        if let Seqs::Many(v) = self {
            v.retain(|s| *s != seq);
            if v.len() > 3 {
                return false;
            }
        }
        let left: SmallVec<[Seq; 3]> = self.iter().copied().filter(|s| *s != seq).collect();
        match Seqs::from_slice(&left) {
            Some(rest) => {
                *self = rest;
                false
            }
            None => true,
        }
    }
}

impl<'a> IntoIterator for &'a Seqs {
    type Item = &'a Seq;
    type IntoIter = std::slice::Iter<'a, Seq>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

/// An index from a key to the sequence numbers of a [`Log`].
type Index<K> = HashMap<K, Seqs, foldhash::fast::RandomState>;

/// An index whose keys nearly all name one item (a TEID, an ICID, a
/// Session-Id of Rx): those keys take an entry of a key and one number (8
/// bytes for a TEID, where a [`Seqs`] entry took 24); a key naming more
/// moves to `many`. A key is in one of the two maps, never both.
#[derive(Debug)]
struct SparseIndex<K> {
    one: HashMap<K, Seq, foldhash::fast::RandomState>,
    many: Index<K>,
}

impl<K> Default for SparseIndex<K> {
    fn default() -> Self {
        SparseIndex {
            one: HashMap::default(),
            many: Index::default(),
        }
    }
}

impl<K: Hash + Eq + Copy> SparseIndex<K> {
    /// Adds `seq` under `key` (not twice in a row), dropping the oldest past
    /// [`MAX_PER_KEY`] (counted in `overflow`).
    fn add(&mut self, key: K, seq: Seq, overflow: &mut u64) {
        if let Some(seqs) = self.many.get_mut(&key) {
            seqs.push(seq, overflow);
            return;
        }
        match self.one.entry(key) {
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert(seq);
            }
            std::collections::hash_map::Entry::Occupied(e) if *e.get() == seq => {}
            std::collections::hash_map::Entry::Occupied(e) => {
                let first = e.remove();
                self.many.insert(key, Seqs::Two([first, seq]));
            }
        }
    }

    fn remove(&mut self, key: &K, seq: Seq) {
        if self.one.get(key) == Some(&seq) {
            self.one.remove(key);
        } else {
            index_remove(&mut self.many, key, seq);
        }
    }

    /// The sequence numbers under `key`, oldest first.
    fn get(&self, key: &K) -> &[Seq] {
        match self.one.get(key) {
            Some(seq) => std::slice::from_ref(seq),
            None => self.many.get(key).map_or(&[], Seqs::as_slice),
        }
    }

    #[cfg(test)]
    fn is_empty(&self) -> bool {
        self.one.is_empty() && self.many.is_empty()
    }
}

/// An index from a string (Session-Id, ICID, IMSI) to sequence numbers, keyed
/// by the string's 64-bit hash under a per-run random seed: the items hold
/// the string already, and a second copy per key cost more than the rest of
/// the entry. A lookup yields candidates; callers compare the item's own
/// string, so a collision can cost a lookup but never join a wrong leg.
#[derive(Debug, Default)]
struct StrIndex {
    seed: foldhash::fast::RandomState,
    seqs: SparseIndex<u64>,
}

impl StrIndex {
    fn add(&mut self, key: &str, seq: Seq, overflow: &mut u64) {
        self.seqs.add(self.seed.hash_one(key), seq, overflow);
    }

    fn remove(&mut self, key: &str, seq: Seq) {
        self.seqs.remove(&self.seed.hash_one(key), seq);
    }

    /// Sequence numbers whose key may be `key` (oldest first).
    fn candidates(&self, key: &str) -> &[Seq] {
        self.seqs.get(&self.seed.hash_one(key))
    }

    #[cfg(test)]
    fn is_empty(&self) -> bool {
        self.seqs.is_empty()
    }
}

fn index_add<K: Hash + Eq>(index: &mut Index<K>, key: K, seq: Seq, overflow: &mut u64) {
    match index.entry(key) {
        std::collections::hash_map::Entry::Vacant(e) => {
            e.insert(Seqs::One(seq));
        }
        std::collections::hash_map::Entry::Occupied(mut e) => e.get_mut().push(seq, overflow),
    }
}

fn index_remove<K: Hash + Eq>(index: &mut Index<K>, key: &K, seq: Seq) {
    if index.get_mut(key).is_some_and(|v| v.remove(seq)) {
        index.remove(key);
    }
}

/// What one call's legs were made of (sequence numbers in the logs).
struct Joined {
    exchanges: SmallVec<[Seq; 2]>,
    procedures: SmallVec<[Seq; 4]>,
}

/// What a call's first UE took, which its other end may not.
struct Taken<'a> {
    joined: &'a Joined,
    ips: SmallVec<[IpAddr; 4]>,
    /// The first UE's bearer was joined by time (a capture without the
    /// UEs' subscribers): the other end's may be too, as the next one.
    by_time: bool,
}

/// Joins DIAMETER, GTPv2-C and subscribers to SIP calls. See the module doc.
#[derive(Debug, Default)]
pub struct Correlator {
    limits: CorrelatorLimits,
    subscribers: SubscriberTable,
    exchanges: Log<Exchange>,
    ex_by_session: StrIndex,
    ex_by_icid: StrIndex,
    ex_by_ip: Index<Ipv4Addr>,
    procedures: Log<Procedure>,
    /// User-plane TEIDs of Create Bearer procedures.
    proc_by_teid: SparseIndex<u32>,
    proc_by_imsi: StrIndex,
    /// (requester IP, responder IP, sequence) → (request time, procedure).
    pending: HashMap<(IpAddr, IpAddr, u32), PendingRequest, foldhash::fast::RandomState>,
    /// Voice bearer hops of the last [`BEARER_HOP_GAP_NS`] by responder,
    /// oldest first: where the next hop's request (sent by that responder)
    /// finds the hop it continues, without scanning the log.
    hop_ends: HashMap<IpAddr, VecDeque<Seq>, foldhash::fast::RandomState>,
    counters: CorrelatorCounters,
}

fn diameter_imsi(m: &Message) -> Option<&str> {
    m.subscription_ids
        .iter()
        .find(|s| s.kind == Some(SubscriptionIdType::Imsi))
        .and_then(|s| s.data.as_deref())
}

fn diameter_msisdn(m: &Message) -> Option<&str> {
    m.subscription_ids
        .iter()
        .find(|s| s.kind == Some(SubscriptionIdType::E164))
        .and_then(|s| s.data.as_deref())
}

fn saturate_kbps(kbps: u64) -> u32 {
    u32::try_from(kbps).unwrap_or(u32::MAX)
}

fn gtp_bearers(s: &MessageSummary, response: bool) -> SmallVec<[ProcBearer; 1]> {
    s.bearers
        .iter()
        .map(|b| {
            // TEID 0 is a placeholder (not yet allocated), never a tunnel.
            let teids: Teids = b
                .fteids
                .iter()
                .map(|f| f.teid)
                .filter(|t| *t != 0)
                .collect();
            ProcBearer {
                ebi: b.ebi,
                qci: b.qos.map(|q| q.qci),
                gbr_ul: b.qos.map(|q| saturate_kbps(q.gbr_uplink_kbps)),
                gbr_dl: b.qos.map(|q| saturate_kbps(q.gbr_downlink_kbps)),
                request_teids: if response {
                    Teids::new()
                } else {
                    teids.clone()
                },
                response_teids: if response { teids } else { Teids::new() },
                cause: b.cause.map(|c| c.value),
            }
        })
        .collect()
}

/// Completes a procedure with its response: latency is set by the caller;
/// here the answered flag, the cause and bearers; the response's control
/// F-TEIDs go to `control`. Returns the bearer TEIDs the response brought.
fn complete_procedure(
    p: &mut Procedure,
    control: &mut ControlIdentity,
    s: &MessageSummary,
) -> Vec<u32> {
    p.answered = true;
    p.cause = s.cause.map(|c| c.value);
    control
        .teids
        .extend(s.fteids.iter().map(|f| f.teid).filter(|t| *t != 0));
    control.teids.truncate(super::subscriber::MAX_CONTROL_TEIDS);
    let mut new_teids = Vec::new();
    for rb in gtp_bearers(s, true) {
        let at = p
            .bearers
            .iter()
            .position(|b| rb.ebi.is_some() && b.ebi == rb.ebi)
            .or_else(|| (p.bearers.len() == 1 && s.bearers.len() == 1).then_some(0));
        let room = p.bearers.len() < crate::proto::gtpv2::MAX_BEARERS;
        match at.and_then(|i| p.bearers.get_mut(i)) {
            Some(b) => {
                b.ebi = rb.ebi.filter(|e| *e != 0).or(b.ebi);
                b.qci = b.qci.or(rb.qci);
                b.cause = rb.cause;
                for t in rb.response_teids {
                    if !b.request_teids.contains(&t) && !b.response_teids.contains(&t) {
                        new_teids.push(t);
                        b.response_teids.push(t);
                    }
                }
            }
            None if room => {
                new_teids.extend(&rb.response_teids);
                p.bearers.push(rb);
            }
            None => {}
        }
    }
    new_teids
}

/// Teaches the subscriber table what an accepted procedure says of its UE.
fn learn_subscriber(
    subscribers: &mut SubscriberTable,
    time: PacketTime,
    p: &Procedure,
    control: &ControlIdentity,
    s: &MessageSummary,
) {
    if p.cause
        .is_some_and(|c| c != super::volte::GTP_REQUEST_ACCEPTED)
    {
        return;
    }
    let Some(imsi) = p.imsi.as_deref() else {
        return;
    };
    let sub = subscribers.touch(time, imsi);
    if let Some(m) = &control.msisdn {
        subscribers.set_msisdn(sub, m);
    }
    if let Some(ip) = s.ue_ipv4 {
        subscribers.add_ue_ip(sub, IpAddr::V4(ip));
    }
    if let Some((ip, _)) = s.ue_ipv6 {
        subscribers.add_ue_ip(sub, IpAddr::V6(ip));
    }
    for t in &control.teids {
        subscribers.add_control_teid(sub, *t);
    }
    for b in &p.bearers {
        let mut teids = b.request_teids.to_vec();
        teids.extend(&b.response_teids);
        subscribers.add_bearer(
            sub,
            Bearer {
                ebi: b.ebi,
                qci: b.qci,
                gbr_ul_kbps: b.gbr_ul,
                gbr_dl_kbps: b.gbr_dl,
                teids: teids.into(),
            },
        );
    }
}

impl Correlator {
    /// A correlator with the default limits.
    pub fn new() -> Self {
        Correlator::default()
    }

    /// A correlator with these limits.
    pub fn with_limits(limits: CorrelatorLimits) -> Self {
        Correlator {
            limits,
            ..Correlator::default()
        }
    }

    /// Takes one decoded DIAMETER message; `matched` is the request an
    /// answer completes, when found.
    pub fn handle_diameter(
        &mut self,
        time: PacketTime,
        frame: u64,
        _src: Endpoint,
        _dst: Endpoint,
        m: &Message,
        matched: Option<&Matched>,
    ) {
        let app = match m.header.application_id {
            APP_RX => App::Rx,
            APP_GX => App::Gx,
            _ => return,
        };
        let command_code = m.header.command_code;
        if !matches!(command_code, CMD_AA | CMD_RA | CMD_CC | CMD_ST) {
            return;
        }
        let Some(session_id) = m.session_id.clone() else {
            return;
        };
        let framed_ip = m.framed_ip;
        let imsi = diameter_imsi(m);
        if let Some(imsi) = imsi {
            let sub = self.subscribers.touch(time, imsi);
            if let Some(msisdn) = diameter_msisdn(m) {
                self.subscribers.set_msisdn(sub, msisdn);
            }
            if let Some(ip) = framed_ip {
                self.subscribers.add_ue_ip(sub, IpAddr::V4(ip));
            }
        }
        let qci = m.rules_installed.iter().filter_map(|r| r.qci).min();
        let rules = m
            .rules_installed
            .iter()
            .filter_map(|r| r.name.as_deref().map(Box::from));
        if app == App::Rx && command_code == CMD_ST && self.end_rx_session(frame, m, matched) {
            return;
        }
        if m.header.request {
            // A session's later requests (CCR-U, RAR) inherit what its first
            // request said of the UE.
            let first = self
                .ex_by_session
                .candidates(&session_id)
                .iter()
                .filter_map(|&s| self.exchanges.get(s))
                .find(|e| *e.session_id == *session_id);
            let framed_ip = framed_ip.or(first.and_then(|e| e.framed_ip));
            let detail = match app {
                App::Rx => ExchangeDetail::Rx {
                    af_charging_id: m.af_charging_identifier.as_deref().map(Box::from),
                    end: None,
                },
                App::Gx => ExchangeDetail::Gx {
                    imsi: imsi
                        .map(Arc::from)
                        .or_else(|| first.and_then(|e| e.imsi().cloned())),
                    rules: rules.collect(),
                },
            };
            let session_id = first.map_or_else(|| Arc::from(session_id), |e| e.session_id.clone());
            let ex = Exchange {
                app,
                command_code,
                session_id,
                request_time: time,
                request_frame: frame,
                framed_ip,
                media_components: u16::try_from(m.media_components.len()).unwrap_or(u16::MAX),
                qci,
                answered: false,
                timed: false,
                latency_ms: 0.0,
                result_code: None,
                joined: false,
                detail,
            };
            self.push_exchange(ex);
            return;
        }
        let found = self.latest_of_session(&session_id, |e| {
            e.command_code == command_code
                && !e.answered
                && matched.is_none_or(|mm| mm.request_frame == e.request_frame)
        });
        let Some(seq) = found else {
            self.counters.diameter_answers_unmatched += 1;
            return;
        };
        let Some(e) = self.exchanges.get_mut(seq) else {
            return;
        };
        e.answered = true;
        e.timed = matched.is_some();
        e.latency_ms = matched.map_or(0.0, |mm| mm.latency_ms);
        e.result_code = m.result_code.or(m.experimental_result_code);
        if let ExchangeDetail::Gx { rules: kept, .. } = &mut e.detail {
            let mut all = std::mem::take(kept).into_vec();
            all.extend(rules);
            all.truncate(crate::proto::diameter::summary::MAX_LIST_LEN);
            *kept = all.into_boxed_slice();
        }
        e.qci = match (e.qci, qci) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        if e.framed_ip.is_none() {
            if let Some(ip) = framed_ip {
                e.framed_ip = Some(ip);
                index_add(
                    &mut self.ex_by_ip,
                    ip,
                    seq,
                    &mut self.counters.index_overflow,
                );
            }
        }
    }

    /// The exchanges whose Framed-IP-Address is `ip`.
    fn exchanges_of_ip(&self, ip: IpAddr) -> Option<&Seqs> {
        match ip {
            IpAddr::V4(v4) => self.ex_by_ip.get(&v4),
            IpAddr::V6(_) => None,
        }
    }

    /// The newest exchange of the session `session_id` for which `want` holds.
    fn latest_of_session(&self, session_id: &str, want: impl Fn(&Exchange) -> bool) -> Option<Seq> {
        self.ex_by_session
            .candidates(session_id)
            .iter()
            .rev()
            .copied()
            .find(|&s| {
                self.exchanges
                    .get(s)
                    .is_some_and(|e| *e.session_id == *session_id && want(e))
            })
    }

    /// Keeps an STR, or completes it with its STA, with the AAR of its Rx
    /// session (the latest one). Returns whether there was one: an STR of a
    /// session whose AAR was not seen is kept as an exchange of its own.
    fn end_rx_session(&mut self, frame: u64, m: &Message, matched: Option<&Matched>) -> bool {
        let Some(session_id) = m.session_id.as_deref() else {
            return false;
        };
        let aar = self.latest_of_session(session_id, |e| {
            e.command_code == CMD_AA
                && match (e.end(), m.header.request) {
                    (None, true) => true,
                    (Some(end), false) => {
                        !end.answered
                            && matched.is_none_or(|mm| mm.request_frame == end.request_frame)
                    }
                    _ => false,
                }
        });
        let Some(e) = aar.and_then(|s| self.exchanges.get_mut(s)) else {
            return false;
        };
        let ExchangeDetail::Rx { end: kept, .. } = &mut e.detail else {
            return false;
        };
        if m.header.request {
            *kept = Some(Box::new(SessionEnd {
                request_frame: frame,
                termination_cause: m.termination_cause,
                answered: false,
                latency_ms: None,
                result_code: None,
            }));
        } else if let Some(end) = kept.as_mut() {
            end.answered = true;
            end.latency_ms = matched.map(|mm| mm.latency_ms);
            end.result_code = m.result_code.or(m.experimental_result_code);
        }
        true
    }

    fn push_exchange(&mut self, ex: Exchange) {
        if self.exchanges.len() >= self.limits.max_exchanges {
            self.pop_exchange();
            self.counters.exchanges_evicted += 1;
        }
        let seq = self.exchanges.next_seq();
        let o = &mut self.counters.index_overflow;
        self.ex_by_session.add(&ex.session_id, seq, o);
        if let Some(icid) = ex.af_charging_id() {
            self.ex_by_icid.add(icid, seq, o);
        }
        if let Some(ip) = ex.framed_ip {
            index_add(&mut self.ex_by_ip, ip, seq, o);
        }
        self.exchanges.push_back(ex);
    }

    fn pop_exchange(&mut self) {
        if let Some((seq, ex)) = self.exchanges.pop_front() {
            ex.count_unjoined(&mut self.counters);
            self.ex_by_session.remove(&ex.session_id, seq);
            if let Some(icid) = ex.af_charging_id() {
                self.ex_by_icid.remove(icid, seq);
            }
            if let Some(ip) = ex.framed_ip {
                index_remove(&mut self.ex_by_ip, &ip, seq);
            }
        }
    }

    fn pop_procedure(&mut self) {
        if let Some((seq, p)) = self.procedures.pop_front() {
            self.counters.bearer_unmatched += u64::from(!p.joined);
            for t in p
                .bearers
                .iter()
                .flat_map(|b| b.request_teids.iter().chain(&b.response_teids))
            {
                self.proc_by_teid.remove(t, seq);
            }
            if let Some(imsi) = &p.imsi {
                self.proc_by_imsi.remove(imsi, seq);
            }
        }
    }

    /// Takes one GTPv2-C message; `transaction` is the request a response
    /// completes, when the tracker paired it.
    pub fn handle_gtpv2(
        &mut self,
        time: PacketTime,
        frame: u64,
        src: Endpoint,
        dst: Endpoint,
        s: &MessageSummary,
        transaction: Option<&Transaction>,
    ) {
        let kind = match s.message_type {
            CREATE_SESSION_REQUEST | CREATE_SESSION_RESPONSE => ProcedureKind::CreateSession,
            CREATE_BEARER_REQUEST | CREATE_BEARER_RESPONSE => ProcedureKind::CreateBearer,
            UPDATE_BEARER_REQUEST | UPDATE_BEARER_RESPONSE => ProcedureKind::UpdateBearer,
            DELETE_BEARER_REQUEST | DELETE_BEARER_RESPONSE => ProcedureKind::DeleteBearer,
            _ => return,
        };
        let request = matches!(
            s.message_type,
            CREATE_SESSION_REQUEST
                | CREATE_BEARER_REQUEST
                | UPDATE_BEARER_REQUEST
                | DELETE_BEARER_REQUEST
        );
        if request {
            self.gtp_request(time, frame, src, dst, kind, s);
        } else {
            self.gtp_response(time, src, dst, s, transaction);
        }
    }

    fn gtp_request(
        &mut self,
        time: PacketTime,
        frame: u64,
        src: Endpoint,
        dst: Endpoint,
        kind: ProcedureKind,
        s: &MessageSummary,
    ) {
        let key = (src.ip, dst.ip, s.sequence);
        if self.pending.contains_key(&key) {
            return; // a retransmission: the first copy times the procedure
        }
        if self.pending.len() >= self.limits.max_pending_requests {
            self.counters.pending_dropped += 1;
            return;
        }
        // The header TEID of a bearer request names the receiver's control
        // tunnel of the UE, learned from Create Session.
        let imsi = s.imsi.as_deref().map(Box::from).or_else(|| {
            s.teid
                .and_then(|t| self.subscribers.by_teid(t))
                .map(|sub| sub.imsi.clone())
        });
        let mut p = Procedure {
            kind,
            request_time: time,
            request_frame: frame,
            requester: src.ip,
            responder: dst.ip,
            imsi,
            bearers: gtp_bearers(s, false),
            answered: false,
            latency_ms: 0.0,
            cause: None,
            upstream: None,
            downstream: None,
            joined: false,
            deletion: None,
        };
        if kind == ProcedureKind::DeleteBearer && p.bearers.is_empty() {
            // The request names the bearers it removes by EBI alone.
            p.bearers = s
                .ebis
                .iter()
                .map(|&ebi| ProcBearer {
                    ebi: Some(ebi),
                    ..ProcBearer::default()
                })
                .collect();
        }
        if !p.is_voice_hop() {
            let held = Pending::Held(Box::new(p));
            self.pending.insert(key, PendingRequest::new(time, s, held));
            return;
        }
        if self.procedures.len() >= self.limits.max_procedures {
            self.pop_procedure();
            self.counters.procedures_evicted += 1;
        }
        let seq = self.procedures.next_seq();
        p.upstream = self.link_upstream_hop(&p, seq);
        let o = &mut self.counters.index_overflow;
        // Only dedicated bearers are looked up by the TEIDs of a call's media.
        for t in p.bearers.iter().flat_map(|b| &b.request_teids) {
            self.proc_by_teid.add(*t, seq, o);
        }
        if let Some(imsi) = &p.imsi {
            self.proc_by_imsi.add(imsi, seq, o);
        }
        self.hop_ends.entry(p.responder).or_default().push_back(seq);
        self.procedures.push_back(p);
        self.pending
            .insert(key, PendingRequest::new(time, s, Pending::Logged(seq)));
    }

    /// Records an answered Delete Bearer with the voice bearer hops it
    /// removes: of the same subscriber, with an EBI it names, set up before
    /// it; the hop between the same nodes when there is one, else the latest.
    fn note_deletion(&mut self, delete: &Procedure) {
        let Some(imsi) = delete.imsi.as_deref() else {
            return;
        };
        for b in &delete.bearers {
            let Some(ebi) = b.ebi else { continue };
            let target = self
                .proc_by_imsi
                .candidates(imsi)
                .iter()
                .copied()
                .filter_map(|s| self.procedures.get(s).map(|p| (s, p)))
                .filter(|(_, p)| {
                    p.imsi.as_deref() == Some(imsi)
                        && p.request_time <= delete.request_time
                        && p.voice_bearer().is_some_and(|v| v.ebi == Some(ebi))
                })
                .max_by_key(|(s, p)| {
                    let newest = self.procedures.position(*s);
                    (p.requester == delete.requester, newest)
                })
                .map(|(s, _)| s);
            if let Some(p) = target.and_then(|s| self.procedures.get_mut(s)) {
                p.deletion = Some(Box::new(BearerDeletion {
                    request_frame: delete.request_frame,
                    request_to_response_ms: delete.latency_ms(),
                    cause: b.cause.or(delete.cause),
                }));
            }
        }
    }

    /// Links the voice bearer hop `p` (to be logged as `seq`) to the hop it
    /// continues: the oldest not yet continued voice hop answered by `p`'s
    /// requester within [`BEARER_HOP_GAP_NS`] before it, of the same
    /// subscriber when both are known. Returns that hop.
    fn link_upstream_hop(&mut self, p: &Procedure, seq: Seq) -> Option<Seq> {
        let from = p.request_time.add_nanos(-BEARER_HOP_GAP_NS);
        let procedures = &self.procedures;
        let ends = self.hop_ends.get_mut(&p.requester)?;
        while ends
            .front()
            .is_some_and(|s| procedures.get(*s).is_none_or(|h| h.request_time < from))
        {
            ends.pop_front();
        }
        let same_ue = |h: &Procedure| match (&h.imsi, &p.imsi) {
            (Some(a), Some(b)) => a == b,
            _ => true,
        };
        let (at, upstream) = ends
            .iter()
            .take(MAX_HOP_CANDIDATES)
            .enumerate()
            .find(|(_, s)| procedures.get(**s).is_some_and(&same_ue))
            .map(|(i, s)| (i, *s))?;
        ends.remove(at);
        if let Some(h) = self.procedures.get_mut(upstream) {
            h.downstream = Some(seq);
        }
        Some(upstream)
    }

    fn gtp_response(
        &mut self,
        time: PacketTime,
        src: Endpoint,
        dst: Endpoint,
        s: &MessageSummary,
        transaction: Option<&Transaction>,
    ) {
        let Some(pending) = self.pending.remove(&(dst.ip, src.ip, s.sequence)) else {
            return;
        };
        let mut control = pending.control;
        let latency_ms = |p: &Procedure| match transaction {
            Some(t) => t.latency_ms,
            None => time.millis_since(p.request_time),
        };
        match pending.procedure {
            Pending::Held(mut p) => {
                p.latency_ms = latency_ms(&p);
                complete_procedure(&mut p, &mut control, s);
                if p.kind == ProcedureKind::DeleteBearer {
                    self.note_deletion(&p);
                } else {
                    learn_subscriber(&mut self.subscribers, time, &p, &control, s);
                }
            }
            Pending::Logged(seq) => {
                let Some(p) = self.procedures.get_mut(seq) else {
                    return;
                };
                p.latency_ms = latency_ms(p);
                let new_teids = complete_procedure(p, &mut control, s);
                let o = &mut self.counters.index_overflow;
                for t in new_teids {
                    self.proc_by_teid.add(t, seq, o);
                }
                if let Some(p) = self.procedures.get(seq) {
                    learn_subscriber(&mut self.subscribers, time, p, &control, s);
                }
            }
        }
    }

    /// Ages out exchanges, procedures, pending requests and subscribers.
    pub fn handle_timeout(&mut self, now: PacketTime) {
        let keep_after = now.add_nanos(-RETENTION_NS);
        while self
            .exchanges
            .front()
            .is_some_and(|e| e.request_time < keep_after)
        {
            self.pop_exchange();
            self.counters.aged_out += 1;
        }
        while self
            .procedures
            .front()
            .is_some_and(|p| p.request_time < keep_after)
        {
            self.pop_procedure();
            self.counters.aged_out += 1;
        }
        let pending_after = now.add_nanos(-PENDING_TIMEOUT_NS);
        let before = self.pending.len();
        self.pending.retain(|_, r| r.time >= pending_after);
        self.counters.pending_dropped += (before - self.pending.len()) as u64;
        let hop_after = now.add_nanos(-BEARER_HOP_GAP_NS);
        let procedures = &self.procedures;
        self.hop_ends.retain(|_, ends| {
            ends.retain(|s| {
                procedures
                    .get(*s)
                    .is_some_and(|h| h.request_time >= hop_after)
            });
            !ends.is_empty()
        });
        self.subscribers.handle_timeout(now);
    }

    /// The subscribers held, by IMSI, each with the Rx and Gx sessions of
    /// its UE IPs or IMSI (in the order of their first request).
    pub fn subscribers(&self) -> Vec<SubscriberReport> {
        let mut out: Vec<SubscriberReport> = self
            .subscribers
            .iter()
            .map(|sub| SubscriberReport {
                subscriber: sub.clone(),
                rx_sessions: Vec::new(),
                gx_sessions: Vec::new(),
            })
            .collect();
        out.sort_unstable_by(|a, b| a.subscriber.imsi.cmp(&b.subscriber.imsi));
        let at_imsi: HashMap<&str, usize, foldhash::fast::RandomState> = out
            .iter()
            .enumerate()
            .map(|(i, r)| (&*r.subscriber.imsi, i))
            .collect();
        let of_ip = |ip: Option<Ipv4Addr>| {
            let sub = self.subscribers.by_ue_ip(IpAddr::V4(ip?))?;
            at_imsi.get(&*sub.imsi).copied()
        };
        let mut sessions: Vec<(usize, bool, &str)> = Vec::new();
        for (_, e) in self.exchanges.iter() {
            match (e.app, e.command_code) {
                (App::Rx, CMD_AA) => {
                    sessions.extend(of_ip(e.framed_ip).map(|i| (i, false, &*e.session_id)));
                }
                (App::Gx, command) => {
                    let by_ip = (command == CMD_CC).then(|| of_ip(e.framed_ip)).flatten();
                    let by_imsi = e.imsi().and_then(|m| at_imsi.get(&**m).copied());
                    for i in by_ip
                        .into_iter()
                        .chain(by_imsi.filter(|i| Some(*i) != by_ip))
                    {
                        sessions.push((i, true, &e.session_id));
                    }
                }
                _ => {}
            }
        }
        for (i, gx, session) in sessions {
            let Some(report) = out.get_mut(i) else {
                continue;
            };
            let list = if gx {
                &mut report.gx_sessions
            } else {
                &mut report.rx_sessions
            };
            if list.len() < MAX_PER_KEY && !list.iter().any(|l| l == session) {
                list.push(session.to_owned());
            }
        }
        out
    }

    /// Counters so far (joins are counted by [`Correlator::attach`]).
    pub fn counters(&self) -> CorrelatorCounters {
        CorrelatorCounters {
            subscribers: self.subscribers.counters().clone(),
            ..self.counters.clone()
        }
    }

    /// Joins the legs held to each call (see the module doc) and counts
    /// what was joined. A leg joined to a call is joined to no other.
    pub fn attach(&mut self, calls: &mut [CallRecord]) {
        for record in calls.iter_mut() {
            let Some((legs, joined)) = self.legs_of(record) else {
                continue;
            };
            for seq in joined.exchanges {
                if let Some(e) = self.exchanges.get_mut(seq) {
                    e.joined = true;
                }
            }
            for seq in joined.procedures {
                if let Some(p) = self.procedures.get_mut(seq) {
                    p.joined = true;
                }
            }
            self.counters.calls_with_legs += 1;
            self.counters.calls_with_remote_ue += u64::from(legs.remote_ue.is_some());
            for ue in std::iter::once(&legs.ue).chain(legs.remote_ue.as_deref()) {
                self.counters.rx_joined += u64::from(ue.rx_leg.is_some());
                self.counters.gx_joined += u64::from(ue.gx_leg.is_some());
                self.counters.bearer_joined += u64::from(ue.bearer_leg.is_some());
                self.counters.rtp_joined +=
                    u64::from(ue.rtp_leg.as_ref().is_some_and(RtpLeg::in_bearer));
            }
            let outside = legs.ue.bearer_leg.is_some()
                && legs
                    .ue
                    .rtp_leg
                    .as_ref()
                    .is_some_and(|l| !l.uplink.is_empty() && !l.in_bearer());
            if outside && !record.diagnosis.contains(&MEDIA_OUTSIDE_BEARER) {
                record.diagnosis.push(MEDIA_OUTSIDE_BEARER);
            }
            record.volte = Some(Box::new(legs));
        }
    }

    /// Counts the legs still held and joined to no call, once at the end of
    /// a run (those that left earlier were counted as they went).
    pub fn count_unjoined_at_end(&mut self) {
        for (_, e) in self.exchanges.iter() {
            e.count_unjoined(&mut self.counters);
        }
        let unjoined = self.procedures.iter().filter(|(_, p)| !p.joined).count();
        self.counters.bearer_unmatched += unjoined as u64;
    }

    /// The exchange among `seqs` matching `want`, nearest to `at`.
    fn nearest_exchange<'a>(
        &self,
        seqs: impl Iterator<Item = &'a Seq>,
        at: PacketTime,
        want: impl Fn(&Exchange) -> bool,
    ) -> Option<Seq> {
        seqs.copied()
            .filter_map(|s| self.exchanges.get(s).map(|e| (s, e)))
            .filter(|(_, e)| want(e))
            .min_by_key(|(_, e)| (e.request_time.millis_since(at).abs() * 1000.0) as i64)
            .map(|(s, _)| s)
    }

    /// The hops of the voice bearer set-up `seq` belongs to, upstream first
    /// (linked as their requests came: [`Correlator::link_upstream_hop`]).
    fn bearer_hops(&self, seq: Seq) -> Vec<Seq> {
        let mut first = seq;
        for _ in 1..MAX_HOPS {
            match self.procedures.get(first).and_then(|p| p.upstream) {
                Some(up) if self.procedures.get(up).is_some() => first = up,
                _ => break,
            }
        }
        let mut hops = vec![first];
        while hops.len() < MAX_HOPS {
            let last = hops.last().and_then(|s| self.procedures.get(*s));
            match last.and_then(|p| p.downstream) {
                Some(down) if self.procedures.get(down).is_some() => hops.push(down),
                _ => break,
            }
        }
        hops
    }

    /// The legs of a call: its UE's (see the module doc), and the other
    /// end's when it is a UE with legs of its own.
    fn legs_of(&self, record: &CallRecord) -> Option<(VolteLegs, Joined)> {
        let (first, mut joined) = self.ue_legs(record, None)?;
        let mut ips: SmallVec<[IpAddr; 4]> = first.ue_ip.into_iter().collect();
        let sub = first
            .imsi
            .as_deref()
            .and_then(|i| self.subscribers.by_imsi(i));
        ips.extend(sub.iter().flat_map(|s| s.ue_ips.iter().copied()));
        let taken = Taken {
            joined: &joined,
            ips,
            by_time: first
                .bearer_leg
                .as_ref()
                .is_some_and(|b| b.joined_by == "time"),
        };
        let remote = self.ue_legs(record, Some(&taken));
        if let Some((_, more)) = &remote {
            joined.exchanges.extend(more.exchanges.iter().copied());
            joined.procedures.extend(more.procedures.iter().copied());
        }
        let mut legs = VolteLegs {
            ue: first,
            icid: record.call.icid.clone(),
            state: VolteState::Initiating,
            failed_leg: None,
            state_reason: None,
            remote_ue: remote.map(|(ue, _)| Box::new(ue)),
        };
        legs.settle(record);
        Some((legs, joined))
    }

    /// The legs of one UE of a call. With `taken` (what the call's first UE
    /// took), the other end's: only its own addresses and legs, and only
    /// joins that name it (ICID, its address, its media's TEIDs); a bearer
    /// by time, and an address from a tunnelled stream's sender outside the
    /// SDP, only when the first UE's were found so (a small capture without
    /// the UEs' subscribers: the next voice bearer of the call).
    fn ue_legs(&self, record: &CallRecord, taken: Option<&Taken<'_>>) -> Option<(UeLegs, Joined)> {
        let strict = taken.is_some();
        let time_join = taken.is_none_or(|t| t.by_time);
        let free_ip = |ip: &IpAddr| taken.is_none_or(|t| !t.ips.contains(ip));
        let free_ex = |seq: &Seq| taken.is_none_or(|t| !t.joined.exchanges.contains(seq));
        let free_proc = |seq: &Seq| taken.is_none_or(|t| !t.joined.procedures.contains(seq));
        let call = &record.call;
        let start = call.invite_time.add_nanos(-NEAREST_WINDOW_NS);
        let end = record
            .end_time
            .unwrap_or(call.last_activity)
            .add_nanos(NEAREST_WINDOW_NS);
        let in_window = |t: PacketTime| t >= start && t <= end;

        // Candidate UE addresses: SDP of either side, then signalling.
        let mut candidates: Vec<IpAddr> = Vec::new();
        let sdp = call
            .media
            .iter()
            .flat_map(|o| o.media.iter().filter_map(|m| m.address));
        for ip in sdp.chain([call.caller_ip(), call.callee_ip()]) {
            if !candidates.contains(&ip) && candidates.len() < 16 && free_ip(&ip) {
                candidates.push(ip);
            }
        }
        let mut ue_ip = candidates.iter().copied().find(|ip| {
            self.subscribers.by_ue_ip(*ip).is_some() || self.exchanges_of_ip(*ip).is_some()
        });

        // Rx: ICID, else UE IP + nearest in time.
        let is_aar = |e: &Exchange| e.app == App::Rx && e.command_code == CMD_AA;
        let rx = call
            .icid
            .as_ref()
            .and_then(|icid| {
                let v = self.ex_by_icid.candidates(icid);
                self.nearest_exchange(v.iter().filter(|s| free_ex(s)), call.invite_time, |e| {
                    is_aar(e) && e.af_charging_id() == Some(icid.as_str())
                })
            })
            .or_else(|| {
                let v = self.exchanges_of_ip(ue_ip?)?;
                self.nearest_exchange(v.iter().filter(|s| free_ex(s)), call.invite_time, |e| {
                    is_aar(e) && in_window(e.request_time)
                })
            });
        if let (None, Some(seq)) = (ue_ip, rx) {
            ue_ip = self
                .exchanges
                .get(seq)
                .and_then(|e| e.framed_ip.map(IpAddr::V4))
                .filter(free_ip);
        }

        // Bearer: the QCI 1 Create Bearer whose TEIDs carry most of the
        // call's packets; else the UE's nearest one.
        let mut score: HashMap<Seq, u64, foldhash::fast::RandomState> = HashMap::default();
        for s in &record.streams {
            if let Observation::GtpU { teid } = s.key.observation {
                let seqs = self.proc_by_teid.get(&teid).iter();
                for &seq in seqs.filter(|s| free_proc(s)) {
                    let p = self.procedures.get(seq);
                    if p.is_some_and(|p| {
                        p.kind == ProcedureKind::CreateBearer && p.voice_bearer().is_some()
                    }) {
                        *score.entry(seq).or_default() += s.report.packets;
                    }
                }
            }
        }
        let mut bearer = score
            .iter()
            .max_by_key(|(seq, n)| (**n, std::cmp::Reverse(self.procedures.position(**seq))))
            .map(|(seq, _)| *seq);
        let subscriber = ue_ip.and_then(|ip| self.subscribers.by_ue_ip(ip));
        if bearer.is_none() {
            if let Some(sub) = subscriber {
                bearer = self
                    .proc_by_imsi
                    .candidates(&sub.imsi)
                    .iter()
                    .copied()
                    .filter(free_proc)
                    .filter_map(|s| self.procedures.get(s).map(|p| (s, p)))
                    .filter(|(_, p)| {
                        p.imsi.as_deref() == Some(&*sub.imsi)
                            && p.kind == ProcedureKind::CreateBearer
                            && p.voice_bearer().is_some()
                            && in_window(p.request_time)
                    })
                    .min_by_key(|(_, p)| {
                        (p.request_time.millis_since(call.invite_time).abs() * 1000.0) as i64
                    })
                    .map(|(s, _)| s);
            }
        }
        let mut bearer_by = if !score.is_empty() { "teid" } else { "imsi" };
        // Last resort, only when the UE's subscriber is unknown (a capture
        // without its Create Session): the QCI 1 Create Bearer of no other
        // call nearest the INVITE, from the INVITE to the end of the call,
        // among the first few. A known subscriber with no voice bearer has
        // none (its Rx or Gx leg failed before one was asked for).
        if bearer.is_none() && subscriber.is_none() && time_join {
            bearer_by = "time";
            let from = call.invite_time;
            let first = self.procedures.partition_point(|p| p.request_time < from);
            bearer = self
                .procedures
                .iter_from(first)
                .take_while(|(_, p)| p.request_time <= end)
                .take(MAX_TIME_JOIN_CANDIDATES)
                .find(|(seq, p)| {
                    p.kind == ProcedureKind::CreateBearer
                        && p.voice_bearer().is_some()
                        && !p.joined
                        && free_proc(seq)
                })
                .map(|(seq, _)| seq);
        }
        // The hops of that Create Bearer (PGW → SGW, SGW → MME): TEIDs of
        // all, timing and cause of the hop nearest the UE.
        let hops = bearer.map(|s| self.bearer_hops(s)).unwrap_or_default();
        let bearer_proc = hops.last().and_then(|&s| self.procedures.get(s));
        let merged = bearer_proc.and_then(Procedure::voice_bearer).map(|last| {
            let mut m = last.clone();
            for p in hops.iter().filter_map(|&s| self.procedures.get(s)) {
                let Some(v) = p.voice_bearer() else { continue };
                for t in &v.request_teids {
                    if !m.request_teids.contains(t) {
                        m.request_teids.push(*t);
                    }
                }
                for t in &v.response_teids {
                    if !m.response_teids.contains(t) {
                        m.response_teids.push(*t);
                    }
                }
                m.ebi = m.ebi.filter(|e| *e != 0).or(v.ebi);
            }
            let up = m.request_teids.clone();
            m.response_teids.retain(|t| !up.contains(t));
            m
        });
        let voice = merged.as_ref();

        // The UE address, when only the bearer told: the sender of the
        // call's uplink stream inside it.
        if ue_ip.is_none() {
            if let Some(v) = voice {
                ue_ip = record
                    .streams
                    .iter()
                    .filter(|s| {
                        matches!(s.key.observation, Observation::GtpU { teid }
                            if v.request_teids.contains(&teid))
                    })
                    .max_by_key(|s| s.report.packets)
                    .map(|s| s.key.src.ip)
                    .filter(free_ip);
            }
        }
        if ue_ip.is_none() {
            // The sender of the call's busiest GTP-U stream that is not in
            // the SDP (a media relay rewrote it: the UE is behind it), else
            // an SDP address sending inside GTP-U.
            let tunnelled = || {
                record
                    .streams
                    .iter()
                    .filter(|s| matches!(s.key.observation, Observation::GtpU { .. }))
            };
            ue_ip = tunnelled()
                .filter(|s| time_join && free_ip(&s.key.src.ip))
                .filter(|s| !candidates.contains(&s.key.src.ip))
                .max_by_key(|s| s.report.packets)
                .map(|s| s.key.src.ip)
                .or_else(|| {
                    // The other end: an SDP address that is not a SIP peer
                    // too (a P-CSCF's media relay is both) before any.
                    let signalling = [call.caller_ip(), call.callee_ip()];
                    let sending = |ip: &&IpAddr| tunnelled().any(|s| s.key.src.ip == **ip);
                    let mut sdp_first = candidates
                        .iter()
                        .filter(|ip| strict && !signalling.contains(ip))
                        .chain(&candidates);
                    sdp_first.find(sending).copied()
                });
        }
        let subscriber = ue_ip
            .and_then(|ip| self.subscribers.by_ue_ip(ip))
            .or(subscriber)
            .or_else(|| {
                bearer_proc
                    .and_then(|p| p.imsi.as_deref())
                    .and_then(|i| self.subscribers.by_imsi(i))
            });

        // Gx: by UE IP (RAR installing QCI 1 nearest the bearer or call,
        // else the CCR); else the RAR just before the bearer request.
        let anchor = bearer_proc.map_or(call.invite_time, |p| p.request_time);
        let is_rar = |e: &Exchange| e.app == App::Gx && e.command_code == CMD_RA;
        let mut gx = None;
        let gx_ips = ue_ip
            .into_iter()
            .chain(subscriber.iter().flat_map(|s| s.ue_ips.iter().copied()));
        for ip in gx_ips {
            let Some(v) = self.exchanges_of_ip(ip) else {
                continue;
            };
            gx = self
                .nearest_exchange(v.iter().filter(|s| free_ex(s)), anchor, |e| {
                    is_rar(e) && e.qci == Some(1) && in_window(e.request_time)
                })
                .or_else(|| {
                    self.nearest_exchange(v.iter().filter(|s| free_ex(s)), anchor, |e| {
                        e.app == App::Gx && e.command_code == CMD_CC
                    })
                });
            if gx.is_some() {
                break;
            }
        }
        if gx.is_none() {
            if let Some(p) = bearer_proc {
                let from = p.request_time.add_nanos(-RAR_BEFORE_BEARER_NS);
                let first = self.exchanges.partition_point(|e| e.request_time < from);
                let candidates = self
                    .exchanges
                    .iter_from(first)
                    .take_while(|(_, e)| e.request_time <= p.request_time)
                    .filter(|(s, e)| is_rar(e) && free_ex(s))
                    .map(|(s, e)| (s, e.qci == Some(1), e.request_time));
                gx = candidates
                    .max_by_key(|&(s, q, t)| (q, t, self.exchanges.position(s)))
                    .map(|(s, _, _)| s);
            }
        }
        let gx_ex = gx.and_then(|s| self.exchanges.get(s));
        let rx_ex = rx.and_then(|s| self.exchanges.get(s));

        let anything = rx_ex.is_some() || gx_ex.is_some() || bearer_proc.is_some();
        if !anything && (strict || subscriber.is_none()) {
            return None;
        }
        let joined = Joined {
            exchanges: rx.into_iter().chain(gx).collect(),
            procedures: hops.iter().copied().collect(),
        };

        let imsi = subscriber
            .map(|s| &*s.imsi)
            .or_else(|| bearer_proc.and_then(|p| p.imsi.as_deref()))
            .or_else(|| gx_ex.and_then(|e| e.imsi().map(|i| &**i)))
            .map(str::to_owned);
        let msisdn = subscriber.and_then(|s| s.msisdn.as_deref().map(str::to_owned));

        let rtp_leg = ue_ip.map(|ip| {
            let mut leg = RtpLeg::default();
            for s in &record.streams {
                let Observation::GtpU { teid } = s.key.observation else {
                    continue;
                };
                let in_bearer = voice.is_some_and(|v| {
                    v.request_teids.contains(&teid) || v.response_teids.contains(&teid)
                });
                let item = RtpLegStream {
                    teid,
                    in_bearer,
                    ssrc: s.key.ssrc,
                    codec: s.report.codec,
                    packets: s.report.packets,
                    lost: s.report.lost,
                    lost_percent: s.report.lost_percent,
                    mos: s.report.quality.as_ref().map(|q| q.mos),
                };
                if s.key.src.ip == ip {
                    leg.uplink.push(item);
                } else if s.key.dst.ip == ip {
                    leg.downlink.push(item);
                }
            }
            leg
        });
        let rtp_leg = rtp_leg.filter(|l| !l.uplink.is_empty() || !l.downlink.is_empty());

        let legs = UeLegs {
            imsi,
            msisdn,
            ue_ip,
            rx_leg: rx_ex.map(|e| RxLeg {
                session_id: String::from(&*e.session_id),
                request_frame: e.request_frame,
                aar_to_aaa_ms: e.latency_ms(),
                result_code: e.result_code,
                media_components: usize::from(e.media_components),
                af_charging_identifier: e.af_charging_id().map(str::to_owned),
                termination: e.end().map(|end| RxTermination {
                    request_frame: end.request_frame,
                    str_to_sta_ms: end.latency_ms,
                    result_code: end.result_code,
                    termination_cause: end.termination_cause,
                }),
            }),
            gx_leg: gx_ex.map(|e| GxLeg {
                session_id: String::from(&*e.session_id),
                command: if e.command_code == CMD_RA {
                    "rar"
                } else {
                    "ccr"
                },
                request_frame: e.request_frame,
                latency_ms: e.latency_ms(),
                result_code: e.result_code,
                rule_names: e.rules().iter().map(|r| String::from(&**r)).collect(),
                qci: e.qci,
            }),
            bearer_leg: bearer_proc.zip(voice).map(|(p, v)| BearerLeg {
                request_frame: p.request_frame,
                ebi: v.ebi,
                qci: v.qci,
                gbr_ul_kbps: v.gbr_ul.map(u64::from),
                gbr_dl_kbps: v.gbr_dl.map(u64::from),
                joined_by: bearer_by,
                request_to_response_ms: p.latency_ms(),
                cause: v.cause.or(p.cause),
                uplink_teids: v.request_teids.to_vec(),
                downlink_teids: v.response_teids.to_vec(),
                deletion: hops
                    .iter()
                    .rev()
                    .filter_map(|&s| self.procedures.get(s)?.deletion.as_deref())
                    .next()
                    .cloned(),
            }),
            rtp_leg,
        };
        Some((legs, joined))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::call::dialog::MessageContext;
    use crate::call::{CallTable, CallTableConfig};
    use crate::packet::Transport;
    use crate::proto::diameter::summary::{MediaComponent, SubscriptionId};
    use crate::proto::diameter::Header;
    use crate::proto::gtpv2::ie::{BearerQos, Fteid};
    use crate::proto::gtpv2::BearerContext;
    use crate::proto::sip;

    const UE: [u8; 4] = [192, 168, 101, 2];

    fn at(ms: i64) -> PacketTime {
        PacketTime::from_parts(ms / 1000, (ms % 1000) as u32 * 1_000_000)
    }

    fn ep(ip: [u8; 4]) -> Endpoint {
        Endpoint::new(ip.into(), 3868)
    }

    /// Made up: one INVITE from the UE with P-Charging-Vector `icid`.
    fn calls_with_invite(icid: &str) -> Vec<CallRecord> {
        let bytes = format!(
            "INVITE sip:b@x SIP/2.0\r\nVia: SIP/2.0/UDP a;branch=z9hG4bK1\r\nFrom: <sip:a@x>;tag=1\r\nTo: <sip:b@x>\r\nCall-ID: c1\r\nCSeq: 1 INVITE\r\nP-Charging-Vector: icid-value={icid}\r\nContent-Length: 0\r\n\r\n"
        )
        .into_bytes();
        let msg = sip::parse(&bytes).unwrap();
        let mut table = CallTable::new(CallTableConfig::default());
        let ctx = MessageContext {
            time: at(1000),
            frame: 1,
            src: Endpoint::new(UE.into(), 5060),
            dst: Endpoint::new([10, 4, 128, 21].into(), 5060),
            transport: Transport::Udp,
            observation: crate::packet::Observation::Plain,
        };
        table.handle_message(&ctx, &msg, &[]);
        table.finish(Vec::new()).0
    }

    fn diameter(app: u32, cmd: u32, request: bool, session: &str) -> Message {
        Message {
            header: Header {
                request,
                command_code: cmd,
                application_id: app,
                hop_by_hop: 1,
                end_to_end: 1,
                ..Header::default()
            },
            session_id: Some(session.to_owned()),
            ..Message::default()
        }
    }

    #[test]
    fn rx_joins_by_icid_and_an_experimental_5065_fails_the_rx_leg() {
        let mut c = Correlator::new();
        let mut aar = diameter(APP_RX, CMD_AA, true, "pcscf;1");
        aar.af_charging_identifier = Some("icid-1".into());
        aar.framed_ip = Some(Ipv4Addr::from(UE));
        aar.media_components = vec![MediaComponent::default(); 2];
        c.handle_diameter(at(1100), 10, ep([1; 4]), ep([2; 4]), &aar, None);
        let mut aaa = diameter(APP_RX, CMD_AA, false, "pcscf;1");
        aaa.experimental_result_code = Some(5065);
        let matched = Matched {
            request_time: at(1100),
            request_frame: 10,
            latency_ms: 2.5,
        };
        c.handle_diameter(at(1102), 11, ep([2; 4]), ep([1; 4]), &aaa, Some(&matched));

        let mut calls = calls_with_invite("icid-1");
        c.attach(&mut calls);
        let legs = calls[0].volte.as_ref().expect("legs");
        let rx = legs.ue.rx_leg.as_ref().expect("rx leg");
        assert_eq!(rx.session_id, "pcscf;1");
        assert_eq!(rx.aar_to_aaa_ms, Some(2.5));
        assert_eq!(rx.result_code, Some(5065));
        assert_eq!(rx.media_components, 2);
        assert_eq!(legs.ue.ue_ip, Some(IpAddr::from(UE)));
        assert_eq!(legs.failed_leg, Some("rx"));
        assert_eq!(legs.state, VolteState::Failed);
        assert_eq!(c.counters().rx_joined, 1);
        assert_eq!(c.counters().rx_unmatched, 0);
    }

    #[test]
    fn an_unrelated_call_gets_no_legs_and_the_aar_counts_as_unmatched_once() {
        let mut c = Correlator::new();
        for (i, icid) in ["icid-1", "icid-2"].into_iter().enumerate() {
            let mut aar = diameter(APP_RX, CMD_AA, true, &format!("pcscf;{i}"));
            aar.af_charging_identifier = Some(icid.into());
            aar.framed_ip = Some(Ipv4Addr::new(10, 9, 9, 9));
            c.handle_diameter(at(1100 + i as i64), 10, ep([1; 4]), ep([2; 4]), &aar, None);
        }
        // Calls closing tick after tick (a live run): nothing counted yet.
        for _ in 0..3 {
            let mut calls = calls_with_invite("other");
            c.attach(&mut calls);
            assert!(calls[0].volte.is_none());
        }
        assert_eq!(c.counters().rx_unmatched, 0);
        assert_eq!(c.counters().calls_with_legs, 0);
        // One ages out (counted as it goes), the other is held at the end.
        c.handle_timeout(at(1100).add_nanos(RETENTION_NS).add_nanos(1_000_000));
        assert_eq!(c.counters().rx_unmatched, 1);
        c.count_unjoined_at_end();
        assert_eq!(c.counters().rx_unmatched, 2);
    }

    #[test]
    fn gx_ccr_learns_the_subscriber_and_later_requests_inherit_its_address() {
        let mut c = Correlator::new();
        let mut ccr = diameter(APP_GX, CMD_CC, true, "pgw;9");
        ccr.framed_ip = Some(Ipv4Addr::from(UE));
        ccr.subscription_ids = vec![
            SubscriptionId {
                kind: Some(SubscriptionIdType::Imsi),
                data: Some("001011234567895".into()),
            },
            SubscriptionId {
                kind: Some(SubscriptionIdType::E164),
                data: Some("0198765432100".into()),
            },
        ];
        c.handle_diameter(at(0), 1, ep([1; 4]), ep([2; 4]), &ccr, None);
        let rar = diameter(APP_GX, CMD_RA, true, "pgw;9");
        c.handle_diameter(at(5), 2, ep([2; 4]), ep([1; 4]), &rar, None);
        let subs = c.subscribers();
        assert_eq!(subs.len(), 1);
        assert_eq!(&*subs[0].subscriber.imsi, "001011234567895");
        assert_eq!(subs[0].subscriber.msisdn.as_deref(), Some("0198765432100"));
        assert_eq!(subs[0].subscriber.ue_ips.as_slice(), [IpAddr::from(UE)]);
        assert_eq!(subs[0].gx_sessions, ["pgw;9"]);
        let rar_seqs = &c.ex_by_ip[&Ipv4Addr::from(UE)];
        assert_eq!(rar_seqs.len(), 2, "the RAR is indexed by the CCR's address");
    }

    #[test]
    fn log_keeps_sequence_numbers_across_blocks() {
        let mut log = Log::default();
        for i in 0..3 * LOG_BLOCK as Seq + 5 {
            log.push_back(i * 10);
        }
        for i in 0..LOG_BLOCK as Seq + 7 {
            assert_eq!(log.pop_front(), Some((i, i * 10)));
        }
        let first = LOG_BLOCK as Seq + 7;
        assert_eq!(log.len(), 2 * LOG_BLOCK - 2);
        assert_eq!(log.get(first - 1), None);
        for seq in [
            first,
            first + 1,
            2 * LOG_BLOCK as Seq,
            3 * LOG_BLOCK as Seq + 4,
        ] {
            assert_eq!(log.get(seq), Some(&(seq * 10)));
        }
        assert_eq!(log.get(3 * LOG_BLOCK as Seq + 5), None);
        if let Some(v) = log.get_mut(2 * LOG_BLOCK as Seq + 1) {
            *v += 1;
        }
        assert_eq!(
            log.get(2 * LOG_BLOCK as Seq + 1),
            Some(&((2 * LOG_BLOCK as Seq + 1) * 10 + 1))
        );
        let p = log.partition_point(|v| *v < 20_000);
        let (seq, v) = log.iter_from(p).next().unwrap();
        assert_eq!((seq, *v), (2000, 20_000));
        let all: Vec<Seq> = log.iter().map(|(s, _)| s).collect();
        assert_eq!(all.len(), log.len());
        assert!(all.windows(2).all(|w| w[1] == w[0] + 1) && all[0] == first);
        assert_eq!(log.iter_from(log.len()).count(), 0);
    }

    #[test]
    fn log_numbers_wrap_without_confusing_items_gone_with_items_held() {
        let mut log = Log {
            base: Seq::MAX - 2,
            ..Log::default()
        };
        for v in 0..LOG_BLOCK as u32 + 10 {
            log.push_back(v);
        }
        let gone: Vec<Seq> = (0..5)
            .filter_map(|_| log.pop_front())
            .map(|(s, _)| s)
            .collect();
        assert_eq!(gone, [Seq::MAX - 2, Seq::MAX - 1, Seq::MAX, 0, 1]);
        for s in gone {
            assert_eq!(log.get(s), None, "an item gone stays gone across the wrap");
        }
        assert_eq!(log.get(2), Some(&5));
        assert_eq!(log.position(2), Some(0));
        let newest = log.next_seq().wrapping_sub(1);
        assert_eq!(log.get(newest), Some(&(LOG_BLOCK as u32 + 9)));
        assert_eq!(log.get(log.next_seq()), None);
        let seqs: Vec<Seq> = log.iter().map(|(s, _)| s).take(2).collect();
        assert_eq!(seqs, [2, 3]);
    }

    #[test]
    fn a_sparse_index_keeps_single_keys_small_and_moves_shared_ones() {
        let mut overflow = 0;
        let mut index = SparseIndex::<u32>::default();
        index.add(7, 1, &mut overflow);
        index.add(7, 1, &mut overflow);
        assert_eq!((index.get(&7), index.one.len()), (&[1][..], 1));
        index.add(7, 2, &mut overflow);
        index.add(7, 3, &mut overflow);
        assert_eq!(index.get(&7), [1, 2, 3]);
        assert!(index.one.is_empty(), "a key lives in one map only");
        index.add(8, 4, &mut overflow);
        index.remove(&7, 2);
        index.remove(&8, 9);
        assert_eq!((index.get(&7), index.get(&8)), (&[1, 3][..], &[4][..]));
        for (key, seq) in [(7, 1), (7, 3), (8, 4)] {
            index.remove(&key, seq);
        }
        assert!(index.is_empty() && index.get(&7).is_empty());
        assert_eq!(overflow, 0);
    }

    #[test]
    fn index_keys_hold_three_inline_then_spill_and_come_back() {
        let mut overflow = 0;
        let mut seqs = Seqs::One(7);
        for s in [8, 8, 9] {
            seqs.push(s, &mut overflow);
        }
        assert!(matches!(seqs, Seqs::Three([7, 8, 9])), "{seqs:?}");
        seqs.push(10, &mut overflow);
        assert_eq!(seqs.as_slice(), [7, 8, 9, 10]);
        assert!(!seqs.remove(8));
        assert!(matches!(seqs, Seqs::Three([7, 9, 10])), "{seqs:?}");
        assert!(!seqs.remove(7) && !seqs.remove(10));
        assert!(matches!(seqs, Seqs::One(9)));
        assert!(
            !seqs.remove(3),
            "a number not held leaves the key as it was"
        );
        assert!(seqs.remove(9), "the last one: the caller drops the key");
        let mut seqs = Seqs::One(100);
        for s in 1..=MAX_PER_KEY as Seq {
            seqs.push(100 + s, &mut overflow);
        }
        assert_eq!((seqs.len(), overflow), (MAX_PER_KEY, 1));
        assert_eq!(seqs.as_slice().first(), Some(&101));
        assert_eq!(std::mem::size_of::<Seqs>(), 16);
    }

    #[test]
    fn exchanges_are_bounded_and_aged_out_with_their_indices() {
        const LIMIT: usize = 1000;
        let mut c = Correlator::with_limits(CorrelatorLimits {
            max_exchanges: LIMIT,
            ..CorrelatorLimits::default()
        });
        for i in 0..=LIMIT {
            let mut aar = diameter(APP_RX, CMD_AA, true, &format!("s;{i}"));
            aar.framed_ip = Some(Ipv4Addr::from(UE));
            c.handle_diameter(at(0), i as u64, ep([1; 4]), ep([2; 4]), &aar, None);
        }
        assert_eq!(c.counters().exchanges_evicted, 1);
        assert_eq!(c.exchanges.len(), LIMIT);
        assert!(c.ex_by_session.candidates("s;0").is_empty());
        assert_eq!(c.ex_by_ip[&Ipv4Addr::from(UE)].len(), MAX_PER_KEY);
        c.handle_timeout(at(1000).add_nanos(RETENTION_NS));
        assert_eq!(c.counters().aged_out, LIMIT as u64);
        assert_eq!(c.exchanges.len(), 0);
        assert!(c.ex_by_session.is_empty());
        assert!(c.ex_by_ip.is_empty());
    }

    /// Made up: a GTPv2-C message of `kind` with one bearer context.
    fn gtp(kind: u8, sequence: u32, imsi: Option<&str>, bearer: BearerContext) -> MessageSummary {
        MessageSummary {
            message_type: kind,
            kind: if kind.is_multiple_of(2) {
                crate::proto::gtpv2::Kind::Response
            } else {
                crate::proto::gtpv2::Kind::Request
            },
            sequence,
            imsi: imsi.map(str::to_owned),
            bearers: vec![bearer],
            ..MessageSummary::default()
        }
    }

    fn voice_bearer(teid: u32) -> BearerContext {
        BearerContext {
            qos: Some(BearerQos {
                qci: 1,
                ..BearerQos::default()
            }),
            fteids: vec![Fteid {
                teid,
                ..Fteid::default()
            }],
            ..BearerContext::default()
        }
    }

    /// The request frames of the hops of the set-up whose hop was
    /// requested in `frame`.
    fn hop_frames(c: &Correlator, frame: u64) -> Vec<u64> {
        let seq = c.procedures.iter().find(|(_, p)| p.request_frame == frame);
        let hops = seq.map(|(s, _)| c.bearer_hops(s)).unwrap_or_default();
        hops.iter()
            .filter_map(|s| c.procedures.get(*s).map(|p| p.request_frame))
            .collect()
    }

    #[test]
    fn bearer_hops_link_per_subscriber_and_only_voice_bearers_stay_logged() {
        let (pgw, sgw, mme) = (ep([10, 0, 0, 1]), ep([10, 0, 0, 2]), ep([10, 0, 0, 3]));
        let mut c = Correlator::new();
        // A Create Session teaches the subscriber and is not kept.
        let mut csr = gtp(
            CREATE_SESSION_REQUEST,
            1,
            Some("001010000000001"),
            BearerContext::default(),
        );
        csr.msisdn = Some("111".into());
        c.handle_gtpv2(at(0), 1, mme, sgw, &csr, None);
        let mut csr_resp = gtp(CREATE_SESSION_RESPONSE, 1, None, BearerContext::default());
        csr_resp.ue_ipv4 = Some(Ipv4Addr::from(UE));
        c.handle_gtpv2(at(5), 2, sgw, mme, &csr_resp, None);
        assert_eq!(c.procedures.len(), 0);
        assert!(c.pending.is_empty());
        let sub = c.subscribers.by_ue_ip(IpAddr::from(UE)).expect("learned");
        assert_eq!(sub.msisdn.as_deref(), Some("111"));

        // Two UEs' two-hop set-ups interleaved: the SGW → MME hop of the
        // second UE comes first and still continues its own PGW → SGW hop.
        let (a, b) = (Some("001010000000001"), Some("001010000000002"));
        let cbr = CREATE_BEARER_REQUEST;
        c.handle_gtpv2(
            at(100),
            3,
            pgw,
            sgw,
            &gtp(cbr, 10, a, voice_bearer(0xa1)),
            None,
        );
        c.handle_gtpv2(
            at(101),
            4,
            pgw,
            sgw,
            &gtp(cbr, 11, b, voice_bearer(0xb1)),
            None,
        );
        c.handle_gtpv2(
            at(102),
            5,
            sgw,
            mme,
            &gtp(cbr, 12, b, voice_bearer(0xb2)),
            None,
        );
        c.handle_gtpv2(
            at(103),
            6,
            sgw,
            mme,
            &gtp(cbr, 13, a, voice_bearer(0xa2)),
            None,
        );
        // A default bearer is not a voice hop: not logged, not linked.
        let mut default = voice_bearer(0xd1);
        default.qos = Some(BearerQos {
            qci: 9,
            ..BearerQos::default()
        });
        c.handle_gtpv2(at(104), 7, sgw, mme, &gtp(cbr, 14, a, default), None);
        assert_eq!(c.procedures.len(), 4);
        assert_eq!(hop_frames(&c, 3), [3, 6]);
        assert_eq!(hop_frames(&c, 6), [3, 6]);
        assert_eq!(hop_frames(&c, 4), [4, 5]);
        // A hop more than BEARER_HOP_GAP_NS later starts a chain of its own.
        c.handle_gtpv2(
            at(1_200),
            8,
            pgw,
            sgw,
            &gtp(cbr, 15, a, voice_bearer(0xa3)),
            None,
        );
        c.handle_gtpv2(
            at(2_300),
            9,
            sgw,
            mme,
            &gtp(cbr, 16, a, voice_bearer(0xa4)),
            None,
        );
        assert_eq!(hop_frames(&c, 9), [9]);
    }

    #[test]
    fn an_str_ends_its_aars_session_and_one_without_its_aar_stands_alone() {
        let mut c = Correlator::new();
        let mut aar = diameter(APP_RX, CMD_AA, true, "pcscf;1");
        aar.af_charging_identifier = Some("icid-1".into());
        c.handle_diameter(at(1100), 10, ep([1; 4]), ep([2; 4]), &aar, None);
        let mut str_ = diameter(APP_RX, CMD_ST, true, "pcscf;1");
        str_.termination_cause = Some(1);
        c.handle_diameter(at(9000), 20, ep([1; 4]), ep([2; 4]), &str_, None);
        let mut sta = diameter(APP_RX, CMD_ST, false, "pcscf;1");
        sta.result_code = Some(2001);
        let matched = Matched {
            request_time: at(9000),
            request_frame: 20,
            latency_ms: 1.5,
        };
        c.handle_diameter(at(9001), 21, ep([2; 4]), ep([1; 4]), &sta, Some(&matched));
        assert_eq!(c.exchanges.len(), 1, "the STR is kept with its AAR");
        // An STR of a session whose AAR was not seen, and its STA.
        let orphan = diameter(APP_RX, CMD_ST, true, "pcscf;2");
        c.handle_diameter(at(9100), 30, ep([1; 4]), ep([2; 4]), &orphan, None);
        let sta = diameter(APP_RX, CMD_ST, false, "pcscf;2");
        c.handle_diameter(at(9101), 31, ep([2; 4]), ep([1; 4]), &sta, None);
        assert_eq!(c.exchanges.len(), 2);
        assert_eq!(c.counters().diameter_answers_unmatched, 0);

        let mut calls = calls_with_invite("icid-1");
        c.attach(&mut calls);
        let rx = calls[0].volte.as_ref().and_then(|l| l.ue.rx_leg.as_ref());
        let end = rx
            .and_then(|l| l.termination.as_ref())
            .expect("termination");
        assert_eq!(
            (
                end.request_frame,
                end.str_to_sta_ms,
                end.result_code,
                end.termination_cause
            ),
            (20, Some(1.5), Some(2001), Some(1))
        );
    }
}
