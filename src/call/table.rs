//! The table of calls of one run: SIP messages in, call records out.

use super::dialog::{Call, CallState, Dialog, MediaOffer, MessageContext, Side};
use super::record::{CallRecord, Direction, DirectionSummary, EndedBy};
use crate::analyze::{StreamCall, StreamRecord};
use crate::media::stream::{IntervalSample, HEADLINE_BUFFER};
use crate::media::StreamKey;
use crate::packet::Endpoint;
use crate::proto::sdp::MediaDescription;
use crate::proto::sip::{self, Method, StartLine};
use crate::time::PacketTime;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap, HashSet};

type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// Below this many queued Call-IDs the unanswered queue is not pruned.
const MIN_UNANSWERED_PRUNE: usize = 1024;

/// Limits of the call table.
#[derive(Clone, Debug)]
pub struct CallTableConfig {
    /// Calls tracked at once (default 100 000); INVITEs for new calls past it
    /// are refused and counted.
    pub max_active_calls: usize,
    /// A call with no SIP message for this long (packet time) is closed
    /// (default 2 h; BYE-less calls are closed at the end of the run anyway).
    pub idle_timeout_ns: i64,
    /// An ended call stays this long to absorb late retransmissions, ACKs and
    /// a new attempt with credentials after 401/407 before it is closed
    /// (default 64 s, twice RFC 3261 Timer B: users retype a password slowly).
    pub linger_ns: i64,
    /// A stream may start this long before the SDP that announced it was
    /// seen, or end this long after the call ended, and still belong to it
    /// (default 5 s).
    pub media_slack_ns: i64,
    /// Keep every message of each call, and every DIAMETER and GTPv2-C
    /// message, for ladders (default on; `analyze` turns it off unless a
    /// ladder is asked for).
    pub keep_ladders: bool,
}

impl Default for CallTableConfig {
    fn default() -> Self {
        CallTableConfig {
            max_active_calls: 100_000,
            idle_timeout_ns: 2 * 3600 * 1_000_000_000,
            linger_ns: 64 * 1_000_000_000,
            media_slack_ns: 5 * 1_000_000_000,
            keep_ladders: true,
        }
    }
}

/// SIP traffic by method and response, calls or not.
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct SipCounters {
    /// Requests by method (retransmissions included, as on the wire).
    pub requests: BTreeMap<String, u64>,
    /// Responses by `"<code> <CSeq method>"`, e.g. `"200 INVITE"`.
    pub responses: BTreeMap<String, u64>,
    /// Messages that did not parse as SIP.
    pub malformed: u64,
    /// Messages without a Call-ID.
    pub without_call_id: u64,
    /// INVITE-dialog messages for a Call-ID whose INVITE was not seen
    /// (the capture started mid-call).
    pub orphan_dialog_messages: u64,
    /// Retransmissions recognised within calls.
    pub retransmissions: u64,
    /// Calls started.
    pub calls: u64,
    /// New calls refused because the table was full.
    pub calls_refused_table_full: u64,
    /// Calls closed because they were idle past the timeout.
    pub calls_idle_closed: u64,
    /// INVITEs that never got a response, given up (not reported) to make
    /// room for new calls in a full table: an INVITE flood's.
    pub unanswered_evicted: u64,
}

/// Every call of a run.
pub struct CallTable {
    config: CallTableConfig,
    /// Boxed: a slot of a table sized for 100 000 calls stays small. Keyed
    /// by the Call-ID as written, which becomes part of the call only when
    /// it leaves the table (one copy per call).
    active: FastMap<Box<[u8]>, Box<Dialog>>,
    /// Call-IDs in the order their dialogs were created, while they may
    /// still have no response at all: what a full table gives up first
    /// (an INVITE flood's, never a call in progress). Entries whose dialog
    /// got a response or closed are dropped when met, and pruned when there
    /// are twice as many as the table holds.
    unanswered: std::collections::VecDeque<Box<[u8]>>,
    finished: Vec<Call>,
    requests: FastMap<Method<'static>, u64>,
    other_requests: BTreeMap<String, u64>,
    responses: FastMap<(Method<'static>, u16), u64>,
    counters: SipCounters,
}

/// A method without its borrowed token, for counting (extension methods are
/// counted by name separately).
fn static_method(m: Method<'_>) -> Option<Method<'static>> {
    Some(match m {
        Method::Invite => Method::Invite,
        Method::Ack => Method::Ack,
        Method::Bye => Method::Bye,
        Method::Cancel => Method::Cancel,
        Method::Options => Method::Options,
        Method::Register => Method::Register,
        Method::Prack => Method::Prack,
        Method::Subscribe => Method::Subscribe,
        Method::Notify => Method::Notify,
        Method::Publish => Method::Publish,
        Method::Info => Method::Info,
        Method::Refer => Method::Refer,
        Method::Message => Method::Message,
        Method::Update => Method::Update,
        Method::Other(_) => return None,
    })
}

/// Methods that belong to an INVITE dialog.
fn is_call_method(m: Method<'_>) -> bool {
    matches!(
        m,
        Method::Invite
            | Method::Ack
            | Method::Bye
            | Method::Cancel
            | Method::Prack
            | Method::Update
            | Method::Info
    )
}

impl CallTable {
    /// An empty table.
    pub fn new(config: CallTableConfig) -> Self {
        CallTable {
            config,
            active: FastMap::default(),
            unanswered: std::collections::VecDeque::new(),
            finished: Vec::new(),
            requests: FastMap::default(),
            other_requests: BTreeMap::new(),
            responses: FastMap::default(),
            counters: SipCounters::default(),
        }
    }

    /// Counts a message that did not parse.
    pub fn note_malformed(&mut self) {
        self.counters.malformed += 1;
    }

    /// Takes one SIP message; `media` is what its SDP describes.
    pub fn handle_message(
        &mut self,
        ctx: &MessageContext,
        msg: &sip::Message<'_>,
        media: &[MediaDescription],
    ) -> bool {
        let cseq = msg.headers.cseq.and_then(sip::parse_cseq);
        let method = match msg.start {
            StartLine::Request { method, .. } => {
                match static_method(method) {
                    Some(m) => *self.requests.entry(m).or_insert(0) += 1,
                    None => {
                        *self
                            .other_requests
                            .entry(method.as_str().to_owned())
                            .or_insert(0) += 1
                    }
                }
                Some(method)
            }
            StartLine::Response { code, .. } => {
                if let Some(m) = cseq.and_then(|c| static_method(c.method)) {
                    *self.responses.entry((m, code)).or_insert(0) += 1;
                }
                cseq.map(|c| c.method)
            }
        };
        let Some(call_id) = msg.headers.call_id else {
            self.counters.without_call_id += 1;
            return false;
        };
        if let Some(dialog) = self.active.get_mut(call_id) {
            dialog.handle_message(ctx, msg, media);
            return true;
        }
        if !method.is_some_and(is_call_method) {
            return false;
        }
        if !Dialog::is_initial_invite(msg) {
            self.counters.orphan_dialog_messages += 1;
            return false;
        }
        if self.active.len() >= self.config.max_active_calls && !self.evict_unanswered() {
            self.counters.calls_refused_table_full += 1;
            return false;
        }
        self.counters.calls += 1;
        self.unanswered.push_back(call_id.into());
        // Pruned against the calls in progress, not the cap: a queue let
        // grow to twice the cap would hold hundreds of thousands of long
        // answered Call-IDs on a quiet link (found by the soak: RSS rising
        // for an hour before that bound). Amortised O(1): after a prune at
        // most the active calls are left.
        if self.unanswered.len() > 2 * self.active.len() + MIN_UNANSWERED_PRUNE {
            let active = &self.active;
            self.unanswered.retain(|id| {
                active
                    .get(id)
                    .is_some_and(|d| d.state == CallState::Initiating)
            });
        }
        let mut dialog = Box::new(Dialog::new(ctx, msg).with_ladder(self.config.keep_ladders));
        dialog.handle_message(ctx, msg, media);
        self.active.insert(call_id.into(), dialog);
        true
    }

    /// Gives up the oldest dialog that never got a response; whether there
    /// was one. An INVITE is given up only once as many newer calls came as
    /// the table holds: during a flood a real call has that long (the table
    /// over the flood's rate) to get its first response, and without one
    /// the table is never full of unanswered INVITEs.
    fn evict_unanswered(&mut self) -> bool {
        while let Some(id) = self.unanswered.front() {
            let waiting = self
                .active
                .get(id)
                .is_some_and(|d| d.state == CallState::Initiating);
            if !waiting {
                self.unanswered.pop_front();
                continue;
            }
            if let Some(id) = self.unanswered.pop_front() {
                self.active.remove(&id);
                self.counters.unanswered_evicted += 1;
                return true;
            }
        }
        false
    }

    /// Closes calls that ended more than the linger time ago, or have been
    /// idle past the idle timeout, at `now` (packet time).
    pub fn handle_timeout(&mut self, now: PacketTime) {
        let linger = self.config.linger_ns;
        let idle = self.config.idle_timeout_ns;
        let since = |t: PacketTime| now.as_nanos().saturating_sub(t.as_nanos());
        let mut done: Vec<Box<[u8]>> = self
            .active
            .iter()
            .filter(|(_, c)| {
                (c.is_ended() && since(c.last_activity) > linger) || since(c.last_activity) > idle
            })
            .map(|(k, _)| k.clone())
            .collect();
        done.sort_unstable();
        for key in done {
            if let Some(dialog) = self.active.remove(&key) {
                if !dialog.is_ended() {
                    self.counters.calls_idle_closed += 1;
                }
                self.finished.push(Call::new(&key, *dialog));
            }
        }
    }

    /// The calls in progress, with their Call-IDs as written.
    pub fn active(&self) -> impl Iterator<Item = (&[u8], &Dialog)> {
        self.active.iter().map(|(id, d)| (&id[..], &**d))
    }

    /// Calls in progress.
    pub fn active_calls(&self) -> usize {
        self.active.len()
    }

    /// Ends the run: every call, with the streams that belong to it, in the
    /// order of their first INVITE; the streams of no call; the counters.
    pub fn finish(
        mut self,
        streams: Vec<StreamRecord>,
    ) -> (Vec<CallRecord>, Vec<StreamRecord>, SipCounters) {
        let mut calls = std::mem::take(&mut self.finished);
        calls.extend(
            self.active
                .drain()
                .map(|(call_id, dialog)| Call::new(&call_id, *dialog)),
        );
        let (records, unattached) = self.records_of(calls, streams);

        let mut counters = self.counters;
        for (m, n) in self.requests {
            counters.requests.insert(m.as_str().to_owned(), n);
        }
        counters.requests.extend(self.other_requests);
        for ((m, code), n) in self.responses {
            counters
                .responses
                .insert(format!("{code} {}", m.as_str()), n);
        }
        (records, unattached, counters)
    }

    /// Closed calls taken out of the table (a live probe emits them as they
    /// close instead of keeping them to the end).
    pub fn take_closed(&mut self) -> Vec<Call> {
        std::mem::take(&mut self.finished)
    }

    /// Gives back closed calls taken out but not handed on, so the end of
    /// the run reports them.
    pub fn restore_closed(&mut self, calls: Vec<Call>) {
        self.finished.extend(calls);
    }

    /// Media endpoints announced in the SDP of the calls still in the table.
    pub fn open_endpoints(&self) -> HashSet<Endpoint, foldhash::fast::RandomState> {
        let mut set = HashSet::default();
        for dialog in self.active.values() {
            set.extend(media_endpoints(&dialog.media));
        }
        set
    }

    /// The records of `calls`, in the order of their first INVITE, each with
    /// the streams of `streams` that belong to it; the streams of none.
    pub fn records_of(
        &mut self,
        calls: Vec<Call>,
        streams: Vec<StreamRecord>,
    ) -> (Vec<CallRecord>, Vec<StreamRecord>) {
        // Sorted by moving each call once: a sort of the calls themselves
        // moved each (a dialog of hundreds of bytes) about log2(n) times,
        // a fifth of the end of a run with 100 000 calls.
        let mut order: Vec<usize> = (0..calls.len()).collect();
        order.sort_by(|&a, &b| {
            let (a, b) = (&calls[a], &calls[b]);
            (a.invite_time, a.first_frame, &a.call_id).cmp(&(
                b.invite_time,
                b.first_frame,
                &b.call_id,
            ))
        });
        let mut slots: Vec<Option<Call>> = calls.into_iter().map(Some).collect();
        let calls: Vec<Call> = order
            .into_iter()
            .filter_map(|i| slots.get_mut(i).and_then(Option::take))
            .collect();

        let mut per_call: Vec<Vec<StreamRecord>> = vec![Vec::new(); calls.len()];
        let mut unattached = Vec::new();
        let dialogs: Vec<&Dialog> = calls.iter().map(|c| &c.dialog).collect();
        let index = MediaIndex::new(&dialogs);
        for mut s in streams {
            match index.find(
                &dialogs,
                &s.key,
                s.report.first_time,
                self.config.media_slack_ns,
            ) {
                Some((i, direction)) => {
                    s.call = Some(StreamCall {
                        call_id: calls[i].call_id.clone(),
                        direction,
                    });
                    per_call[i].push(s);
                }
                None => unattached.push(s),
            }
        }
        self.counters.retransmissions += calls
            .iter()
            .map(|c| u64::from(c.retransmissions))
            .sum::<u64>();
        let records = calls
            .into_iter()
            .zip(per_call)
            .map(|(call, streams)| build_record(call, streams))
            .collect();
        (records, unattached)
    }

    /// The calls that own streams still running, for samples reported
    /// while they run: among the calls in the table, those closed but not
    /// handed on, and `waiting` (closed, handed on, not yet emitted), the
    /// one [`CallTable::records_of`] would give each stream (the stream
    /// started at `start`), with its direction.
    pub fn owners_of<'a>(
        &'a self,
        waiting: &'a [Call],
        streams: &[(StreamKey, PacketTime)],
    ) -> Vec<Option<(&'a str, &'a Dialog, Direction)>> {
        let mut ids: Vec<&'a [u8]> = Vec::new();
        let mut dialogs: Vec<&'a Dialog> = Vec::new();
        for (id, dialog) in &self.active {
            ids.push(id);
            dialogs.push(dialog);
        }
        let closed = self.finished.iter().chain(waiting);
        let closed_ids: Vec<&'a str> = closed.clone().map(|c| c.call_id.as_str()).collect();
        dialogs.extend(closed.map(|c| &c.dialog));
        let index = MediaIndex::new(&dialogs);
        streams
            .iter()
            .map(|(key, start)| {
                let (i, direction) =
                    index.find(&dialogs, key, *start, self.config.media_slack_ns)?;
                let id = match ids.get(i) {
                    Some(raw) => std::str::from_utf8(raw).ok()?,
                    None => closed_ids.get(i - ids.len())?,
                };
                Some((id, dialogs[i], direction))
            })
            .collect()
    }

    /// How long after its end a call is closed (and so emitted).
    pub fn linger_ns(&self) -> i64 {
        self.config.linger_ns
    }

    /// How far around a call's span its streams may lie.
    pub fn media_slack_ns(&self) -> i64 {
        self.config.media_slack_ns
    }
}

/// The RTP endpoints a call's SDP announced.
pub fn media_endpoints(offers: &[MediaOffer]) -> impl Iterator<Item = Endpoint> + '_ {
    offers.iter().flat_map(|offer| {
        offer.media.iter().filter_map(|m| {
            m.address
                .filter(|_| m.port != 0)
                .map(|ip| Endpoint::new(ip, m.port))
        })
    })
}

/// Media endpoints announced in SDP → the calls (and sides) that announced them.
struct MediaIndex {
    by_endpoint: FastMap<Endpoint, Vec<(usize, Side, PacketTime)>>,
}

impl MediaIndex {
    /// Whether call `call` announced `endpoint` (either side).
    fn announced_by(&self, endpoint: &Endpoint, call: usize) -> bool {
        self.by_endpoint
            .get(endpoint)
            .is_some_and(|list| list.iter().any(|&(c, _, _)| c == call))
    }

    fn new(calls: &[&Dialog]) -> Self {
        let mut by_endpoint: FastMap<Endpoint, Vec<(usize, Side, PacketTime)>> = FastMap::default();
        for (i, call) in calls.iter().enumerate() {
            for offer in &call.media {
                for m in offer.media.iter() {
                    if let (Some(ip), true) = (m.address, m.port != 0) {
                        let list = by_endpoint.entry(Endpoint::new(ip, m.port)).or_default();
                        if !list.iter().any(|(c, s, _)| *c == i && *s == offer.side) {
                            list.push((i, offer.side, offer.time));
                        }
                    }
                }
            }
        }
        MediaIndex { by_endpoint }
    }

    /// The call a stream belongs to and its direction: the stream is sent to
    /// an endpoint a side announced (it flows towards that side), or from one
    /// (symmetric RTP: it flows from that side). Among calls that reused the
    /// endpoint, the one whose media window holds the stream's start; among
    /// those, one that announced both of the stream's endpoints (a media
    /// server answering every call from one port is told apart by the
    /// callers' ports), then the latest announced.
    fn find(
        &self,
        calls: &[&Dialog],
        key: &StreamKey,
        start: PacketTime,
        slack_ns: i64,
    ) -> Option<(usize, Direction)> {
        let candidates = self
            .by_endpoint
            .get(&key.dst)
            .into_iter()
            .flatten()
            .map(|&(i, side, t)| (i, Direction::from_sender(side.other()), t))
            .chain(
                self.by_endpoint
                    .get(&key.src)
                    .into_iter()
                    .flatten()
                    .map(|&(i, side, t)| (i, Direction::from_sender(side), t)),
            );
        candidates
            .filter(|&(i, _, announced)| {
                let call = calls[i];
                let opens = announced.add_nanos(-slack_ns);
                let closes = call
                    .end_time()
                    .unwrap_or(PacketTime::from_nanos(i64::MAX))
                    .add_nanos(slack_ns);
                start >= opens.min(call.invite_time) && start <= closes
            })
            .max_by_key(|&(i, _, announced)| {
                let both_ends = self.announced_by(&key.src, i) && self.announced_by(&key.dst, i);
                (both_ends, announced, calls[i].invite_time)
            })
            .map(|(i, d, _)| (i, d))
    }
}

/// Summarises one direction from its streams.
fn summarise(streams: &[&StreamRecord]) -> Option<DirectionSummary> {
    let main = streams.iter().max_by_key(|s| s.report.packets)?;
    let interval_mos: Vec<f64> = main.report.intervals.iter().filter_map(|i| i.mos).collect();
    Some(DirectionSummary {
        main_stream: main.key,
        streams: streams.len(),
        packets: streams.iter().map(|s| s.report.packets).sum(),
        lost: streams.iter().map(|s| s.report.lost).sum(),
        lost_percent: main.report.lost_percent,
        mean_jitter_ms: main.report.mean_jitter_ms,
        max_jitter_ms: main.report.max_jitter_ms,
        codec: main.report.codec.map(str::to_owned),
        mos: main.report.quality.as_ref().map(|q| q.mos),
        r: main.report.quality.as_ref().map(|q| q.r),
        mos_interval_min: interval_mos.iter().copied().reduce(f64::min),
        mos_interval_mean: (!interval_mos.is_empty())
            .then(|| interval_mos.iter().sum::<f64>() / interval_mos.len() as f64),
        intervals: main.report.intervals.clone(),
    })
}

/// The stream a direction summary was taken from.
fn direction_main<'a>(
    streams: &'a [StreamRecord],
    d: &DirectionSummary,
) -> Option<&'a StreamRecord> {
    streams.iter().find(|s| s.key == d.main_stream)
}

/// Whether quality fell during the call: some 5-second interval rates at
/// least [`DEGRADATION_MOS`] below the median interval.
fn degraded(intervals: &[IntervalSample]) -> bool {
    let mut mos: Vec<f64> = intervals.iter().filter_map(|i| i.mos).collect();
    if mos.len() < 3 {
        return false;
    }
    mos.sort_by(f64::total_cmp);
    let median = mos[mos.len() / 2];
    median - mos[0] >= DEGRADATION_MOS
}

/// A drop of this much MOS from the call's median interval is a degradation.
const DEGRADATION_MOS: f64 = 0.5;
/// Late discards by the adaptive buffer above this share (percent) mean jitter hurts.
const HIGH_LATE_PERCENT: f64 = 1.0;
/// One-way network delay above this (ms, ITU-T G.114) is called high.
const HIGH_DELAY_MS: f64 = 150.0;

/// Loss above this share of a direction (percent) is called high.
const HIGH_LOSS_PERCENT: f64 = 3.0;
/// Interarrival jitter above this (ms, maximum) is called high.
const HIGH_JITTER_MS: f64 = 50.0;

fn build_record(call: Call, mut streams: Vec<StreamRecord>) -> CallRecord {
    streams.sort_by_key(|s| (s.report.first_time, s.first_frame));
    let direction = |d: Direction| -> Vec<&StreamRecord> {
        streams
            .iter()
            .filter(|s| s.call.as_ref().is_some_and(|c| c.direction == d))
            .collect()
    };
    let caller_to_callee = summarise(&direction(Direction::CallerToCallee));
    let callee_to_caller = summarise(&direction(Direction::CalleeToCaller));
    let first_media = streams.iter().map(|s| s.report.first_time).min();
    let last_media = streams.iter().map(|s| s.report.last_time).max();
    let media_duration_s = first_media
        .zip(last_media)
        .map(|(f, l)| l.millis_since(f) / 1000.0);

    let (end_time, ended_by) = match call.end_time() {
        Some(t) if call.hangup_by.is_some() && call.final_code.is_none_or(|c| c < 300) => {
            (Some(t), EndedBy::Bye)
        }
        Some(t) => (Some(t), EndedBy::FinalResponse),
        None if call.answer_time().is_some() => match last_media {
            Some(t) => (
                Some(t.max(call.answer_time().unwrap_or(t))),
                EndedBy::MediaInactivity,
            ),
            None => (Some(call.last_activity), EndedBy::LastMessage),
        },
        None => (None, EndedBy::NotEnded),
    };

    // Codecs in order of use: the first audio codec of each answer (an
    // answer's first payload type is the one chosen), or of the offer when
    // the call was never answered.
    let mut codecs: Vec<String> = Vec::new();
    let answers: Vec<&MediaOffer> = call.media.iter().filter(|o| o.is_answer).collect();
    let sources = if answers.is_empty() {
        call.media.iter().take(1).collect()
    } else {
        answers
    };
    for name in sources.into_iter().filter_map(|offer| offer.audio_codec) {
        if codecs.last().map(String::as_str) != Some(name) {
            codecs.push(name.to_owned());
        }
    }

    let mut diagnosis = Vec::new();
    let outcome = call.outcome();
    if outcome == super::record::Outcome::Answered {
        let packets = |d: &Option<DirectionSummary>| d.as_ref().map_or(0, |d| d.packets);
        match (packets(&caller_to_callee), packets(&callee_to_caller)) {
            (0, 0) => diagnosis.push("no_media"),
            (0, _) | (_, 0) => diagnosis.push("one_way_audio"),
            _ => {}
        }
        let worst_loss = [&caller_to_callee, &callee_to_caller]
            .iter()
            .filter_map(|d| d.as_ref().map(|d| d.lost_percent))
            .fold(0.0f64, f64::max);
        if worst_loss > HIGH_LOSS_PERCENT {
            diagnosis.push("high_loss");
        }
        let worst_jitter = [&caller_to_callee, &callee_to_caller]
            .iter()
            .filter_map(|d| d.as_ref().map(|d| d.max_jitter_ms))
            .fold(0.0f64, f64::max);
        let late_share = [&caller_to_callee, &callee_to_caller]
            .iter()
            .filter_map(|d| d.as_ref())
            .filter_map(|d| direction_main(&streams, d))
            .map(|s| s.report.jitter_buffers[HEADLINE_BUFFER].late_percent())
            .fold(0.0f64, f64::max);
        if worst_jitter > HIGH_JITTER_MS || late_share > HIGH_LATE_PERCENT {
            diagnosis.push("high_jitter");
        }
        let worst_delay = streams
            .iter()
            .filter_map(|s| s.report.quality.as_ref())
            .filter(|q| q.delay_source == "rtcp")
            .map(|q| q.network_delay_ms)
            .fold(0.0f64, f64::max);
        if worst_delay > HIGH_DELAY_MS {
            diagnosis.push("high_delay");
        }
        if [&caller_to_callee, &callee_to_caller]
            .iter()
            .filter_map(|d| d.as_ref())
            .any(|d| degraded(&d.intervals))
        {
            diagnosis.push("degraded_over_time");
        }
    }
    let quality = [&caller_to_callee, &callee_to_caller]
        .iter()
        .filter_map(|d| d.as_ref().and_then(|d| d.mos))
        .reduce(f64::min)
        .map(crate::media::quality::label);

    CallRecord {
        outcome,
        quality,
        end_time,
        ended_by,
        streams,
        caller_to_callee,
        callee_to_caller,
        media_duration_s,
        codecs,
        diagnosis,
        call,
        volte: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::Transport;

    fn ctx(ms: i64, from: [u8; 4], to: [u8; 4]) -> MessageContext {
        MessageContext {
            time: PacketTime::from_nanos(ms * 1_000_000),
            frame: ms as u64,
            src: Endpoint::new(from.into(), 5060),
            dst: Endpoint::new(to.into(), 5060),
            transport: Transport::Udp,
            observation: crate::packet::Observation::Plain,
        }
    }

    /// Made up: an INVITE of Call-ID `id`.
    fn invite(id: &str) -> Vec<u8> {
        format!(
            "INVITE sip:b@x SIP/2.0\r\nVia: SIP/2.0/UDP a;branch=z9hG4bK{id}\r\nFrom: <sip:a@x>;tag=1\r\nTo: <sip:b@x>\r\nCall-ID: {id}\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n"
        )
        .into_bytes()
    }

    #[test]
    fn the_unanswered_queue_follows_the_calls_in_progress_not_the_cap() {
        let mut t = CallTable::new(CallTableConfig {
            idle_timeout_ns: 1_000_000_000,
            ..Default::default()
        });
        let mut longest = 0;
        for i in 0..20_000i64 {
            let bytes = invite(&format!("call-{i}"));
            let msg = sip::parse(&bytes).unwrap();
            let at_ms = i * 10;
            t.handle_message(&ctx(at_ms, [10, 0, 0, 1], [10, 0, 0, 2]), &msg, &[]);
            t.handle_timeout(PacketTime::from_nanos(at_ms * 1_000_000));
            longest = longest.max(t.unanswered.len());
        }
        // About 100 calls are open at a time (one every 10 ms, closed after
        // 1 s); the queue stays near that, far below twice the 100 000 cap.
        assert!(t.active_calls() <= 101, "{}", t.active_calls());
        assert!(
            longest <= 2 * 101 + MIN_UNANSWERED_PRUNE + 1,
            "{longest} queued"
        );
    }

    #[test]
    fn idle_calls_close_after_the_timeout_and_the_table_is_bounded() {
        let mut t = CallTable::new(CallTableConfig {
            max_active_calls: 2,
            idle_timeout_ns: 10 * 1_000_000_000,
            ..Default::default()
        });
        for (i, id) in ["a", "b", "c"].iter().enumerate() {
            let bytes = invite(id);
            let msg = sip::parse(&bytes).unwrap();
            t.handle_message(&ctx(i as i64, [10, 0, 0, 1], [10, 0, 0, 2]), &msg, &[]);
        }
        assert_eq!(t.active_calls(), 2);
        t.handle_timeout(PacketTime::from_nanos(5 * 1_000_000_000));
        assert_eq!(t.active_calls(), 2, "not idle yet");
        t.handle_timeout(PacketTime::from_nanos(11 * 1_000_000_000));
        assert_eq!(t.active_calls(), 0);
        let (records, _, counters) = t.finish(Vec::new());
        // The table full of INVITEs nobody answered: the third gave up the
        // oldest ("a") to take its place.
        let ids: Vec<&str> = records.iter().map(|r| r.call.call_id.as_str()).collect();
        assert_eq!(ids, ["b", "c"]);
        assert_eq!(counters.unanswered_evicted, 1);
        assert_eq!(counters.calls_refused_table_full, 0);
        assert_eq!(counters.calls_idle_closed, 2);
        assert!(records
            .iter()
            .all(|r| r.outcome == crate::call::Outcome::TimedOut));
        assert_eq!(counters.requests.get("INVITE"), Some(&3));
    }

    #[test]
    fn a_table_full_of_calls_in_progress_refuses_new_ones() {
        let mut t = CallTable::new(CallTableConfig {
            max_active_calls: 2,
            ..Default::default()
        });
        for (i, id) in ["a", "b", "c"].iter().enumerate() {
            let bytes = invite(id);
            let msg = sip::parse(&bytes).unwrap();
            t.handle_message(&ctx(i as i64 * 2, [10, 0, 0, 1], [10, 0, 0, 2]), &msg, &[]);
            // Answered at once: a call in progress is never given up.
            let trying = format!(
                "SIP/2.0 100 Trying\r\nVia: SIP/2.0/UDP a;branch=z9hG4bK{id}\r\nFrom: <sip:a@x>;tag=1\r\nTo: <sip:b@x>\r\nCall-ID: {id}\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n"
            );
            let msg = sip::parse(trying.as_bytes()).unwrap();
            t.handle_message(
                &ctx(i as i64 * 2 + 1, [10, 0, 0, 2], [10, 0, 0, 1]),
                &msg,
                &[],
            );
        }
        let (records, _, counters) = t.finish(Vec::new());
        assert_eq!(records.len(), 2);
        assert_eq!(counters.calls_refused_table_full, 1);
        assert_eq!(counters.unanswered_evicted, 0);
    }
}
