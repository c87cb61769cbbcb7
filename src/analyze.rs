//! Offline analysis: one capture file through decode, classification and
//! stream measurement, to a [`FileAnalysis`].
//!
//! The [`Analyzer`] owns the decoder, the stream table and the RTCP tracker
//! for one run. It classifies each transport payload (SIP, RTP, RTCP, or not
//! ours), learns media endpoints from SDP, and drives every timer from packet
//! time, so the same file always gives the same result.

use crate::call::correlator::CorrelatorLimits;
use crate::call::dialog::LadderEntry;
use crate::call::dialog::{Call, MessageContext};
use crate::call::signal_log::{diameter_roles, gtp_roles, SignalEntry, SignalLog};
use crate::call::table::media_endpoints;
use crate::call::{
    CallRecord, CallTable, CallTableConfig, Correlator, CorrelatorCounters, Direction, SipCounters,
    SubscriberReport,
};
use crate::capture::{CaptureError, CaptureFile, Frame, LinkType, ReadStop};
use crate::media::quality::{rate_stream, QualityConfig};
use crate::media::rtcp::{RtcpCounters, RtcpReport, RtcpTracker};
use crate::media::table::StreamTableCounters;
use crate::media::table::{heuristic_eligible, Admission, MAX_BATCH};
use crate::media::{MediaPacket, StreamKey, StreamReport, StreamTable, StreamTableConfig};
use crate::packet::sctp::SctpCounters;
use crate::packet::tcp::TcpCounters;
use crate::packet::{
    Datagram, DecodeCounters, Decoder, DecoderConfig, Endpoint, Layer, ReassemblyCounters,
    Transport, Verdict,
};
use crate::proto::diameter::{self, DiameterCounters};
use crate::proto::gtpv2::{Gtpv2Counters, Gtpv2Tracker};
use crate::proto::{rtcp, rtp, sdp, sip};
use crate::time::PacketTime;
use serde::Serialize;
use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// Everything that configures an analysis run.
#[derive(Clone, Debug)]
pub struct AnalyzeConfig {
    /// Decoder ports and reassembly limits.
    pub decoder: DecoderConfig,
    /// Stream table limits and the RTP heuristic switch.
    pub streams: StreamTableConfig,
    /// UDP ports treated as SIP whatever the payload looks like (default 5060, 5080).
    pub sip_udp_ports: Vec<u16>,
    /// UDP/TCP port of GTPv2-C (default 2123).
    pub gtpv2_port: u16,
    /// RTCP sources remembered at once.
    pub max_rtcp_sources: usize,
    /// Call table limits and timeouts.
    pub calls: CallTableConfig,
    /// E-model inputs (codec table, default delay).
    pub quality: QualityConfig,
    /// What the VoLTE correlator remembers.
    pub correlator: CorrelatorLimits,
    /// Worker threads for RTP stream statistics (0: on the analysis
    /// thread itself).
    pub media_workers: usize,
}

impl Default for AnalyzeConfig {
    fn default() -> Self {
        AnalyzeConfig {
            decoder: DecoderConfig::default(),
            streams: StreamTableConfig::default(),
            sip_udp_ports: vec![5060, 5080],
            gtpv2_port: 2123,
            max_rtcp_sources: 100_000,
            calls: CallTableConfig::default(),
            quality: QualityConfig::default(),
            correlator: CorrelatorLimits::default(),
            media_workers: 0,
        }
    }
}

/// Counts by protocol: of messages (`Summary::protocols`), or of their
/// payload bytes (`Summary::protocol_bytes`).
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct ProtocolCounters {
    /// RTP packets counted in a stream.
    pub rtp: u64,
    /// RTCP compound packets.
    pub rtcp: u64,
    /// SIP messages.
    pub sip: u64,
    /// SDP bodies with at least one media section.
    pub sdp: u64,
    /// DIAMETER messages (decoded in a later stage).
    pub diameter: u64,
    /// GTPv2-C messages (decoded in a later stage).
    pub gtpv2: u64,
    /// STUN messages on media endpoints announced in SDP (ICE, keep-alives).
    pub stun: u64,
    /// ZRTP messages on media endpoints (RFC 6189 key agreement).
    pub zrtp: u64,
    /// DTLS records on media endpoints (DTLS-SRTP key agreement).
    pub dtls: u64,
    /// RTCP on encrypted media (SRTP: SDP `SAVP` profile, or ZRTP/DTLS seen
    /// on the endpoint) whose encrypted part does not parse: SRTCP.
    pub srtcp: u64,
    /// Other datagrams on media endpoints that are none of the above nor
    /// RTP/RTCP (e.g. NAT keep-alives); left out, counted here.
    pub other_on_media_ports: u64,
}

impl ProtocolCounters {
    /// Every count with its protocol's name (as metrics label it).
    pub fn named(&self) -> [(&'static str, u64); 11] {
        [
            ("rtp", self.rtp),
            ("rtcp", self.rtcp),
            ("sip", self.sip),
            ("sdp", self.sdp),
            ("diameter", self.diameter),
            ("gtpv2", self.gtpv2),
            ("stun", self.stun),
            ("zrtp", self.zrtp),
            ("dtls", self.dtls),
            ("srtcp", self.srtcp),
            ("other_on_media_ports", self.other_on_media_ports),
        ]
    }
}

/// Which count of [`ProtocolCounters`] a message adds to.
type Protocol = fn(&mut ProtocolCounters) -> &mut u64;

/// Messages and their payload bytes by protocol, counted together.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProtocolTally {
    /// Messages.
    pub messages: ProtocolCounters,
    /// Their bytes as the transport delivered them: the UDP payload, the
    /// TCP or SCTP message (for SDP, the SIP body; for RTP, header, payload
    /// and padding). Headers below are in the frames' bytes, not here.
    pub bytes: ProtocolCounters,
}

impl ProtocolTally {
    fn count(&mut self, protocol: Protocol, bytes: usize) {
        self.add(protocol, 1, bytes as u64);
    }

    fn add(&mut self, protocol: Protocol, messages: u64, bytes: u64) {
        *protocol(&mut self.messages) += messages;
        *protocol(&mut self.bytes) += bytes;
    }

    fn add_rtp(&mut self, counted: crate::media::Counted) {
        self.add(|p| &mut p.rtp, counted.packets, counted.bytes);
    }
}

/// The 5-second samples a running stream completed, for reporting while it
/// runs.
#[derive(Clone, Debug)]
pub struct StreamSamples {
    /// The stream so far, rated with what is known now; its
    /// `report.intervals` holds only the new samples, its `call` the owner.
    pub stream: StreamRecord,
    /// The owner's INVITE time (with the Call-ID, its identity) and labels.
    pub owner: Option<SampleOwner>,
}

/// A call in progress, as a live probe reports it every few seconds.
#[derive(Clone, Debug, Serialize)]
pub struct CallUpdate {
    /// Call-ID.
    pub call_id: String,
    /// Where the dialog is.
    pub state: crate::call::dialog::CallState,
    /// The caller's user (or From URI).
    pub from: String,
    /// The callee's user (or To URI).
    pub to: String,
    /// INVITE time.
    #[serde(serialize_with = "crate::export::json::serialize_time")]
    pub invite_time: PacketTime,
    /// 2xx time, once answered.
    #[serde(serialize_with = "serialize_time_opt")]
    pub answer_time: Option<PacketTime>,
    /// Seconds since the answer (or the INVITE, unanswered), at `now`.
    pub elapsed_s: f64,
    /// SIP messages so far.
    pub messages: u32,
}

/// What samples repeat of the call that owns their stream.
#[derive(Clone, Debug)]
pub struct SampleOwner {
    /// The call's INVITE time.
    pub invite_time: PacketTime,
    /// Its carrier.
    pub carrier: String,
    /// Its agent.
    pub agent: String,
}

/// The call a stream belongs to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StreamCall {
    /// Call-ID.
    pub call_id: String,
    /// Direction within the call.
    pub direction: Direction,
}

/// One stream in the result: identity, statistics, and what RTCP said.
#[derive(Clone, Debug)]
pub struct StreamRecord {
    /// Identity.
    pub key: StreamKey,
    /// Frame number of the first packet.
    pub first_frame: u64,
    /// Statistics.
    pub report: StreamReport,
    /// RTCP about this stream, if any was seen.
    pub rtcp: Option<RtcpReport>,
    /// The call it belongs to, if any.
    pub call: Option<StreamCall>,
}

/// A set of ports, tested on every packet: one bit per port (8 KiB).
struct PortSet(Box<[u64; 1024]>);

impl PortSet {
    fn new(ports: &[u16]) -> Self {
        let mut bits = Box::new([0u64; 1024]);
        for &p in ports {
            bits[usize::from(p >> 6)] |= 1 << (p & 63);
        }
        PortSet(bits)
    }

    fn contains(&self, port: u16) -> bool {
        self.0[usize::from(port >> 6)] & (1 << (port & 63)) != 0
    }
}

/// Counters of a run, for the `summary` record.
#[derive(Clone, Debug, Serialize)]
pub struct Summary {
    /// The file.
    pub file: PathBuf,
    /// Bytes of the file read.
    pub bytes_read: u64,
    /// Time of the first frame (the reference for relative times in tables).
    #[serde(serialize_with = "serialize_time_opt")]
    pub first_frame_time: Option<PacketTime>,
    /// Frame classes.
    pub packets: DecodeCounters,
    /// IP fragment reassembly and tunnel outcomes.
    pub reassembly: ReassemblyCounters,
    /// TCP stream reassembly (signalling ports).
    pub tcp: TcpCounters,
    /// SCTP chunks and user-message reassembly.
    pub sctp: SctpCounters,
    /// What the reassemblers still held, incomplete, when the run ended.
    pub held_at_end: crate::packet::decoder::HeldCounters,
    /// Messages by protocol.
    pub protocols: ProtocolCounters,
    /// Their payload bytes by protocol (see [`ProtocolTally::bytes`]).
    pub protocol_bytes: ProtocolCounters,
    /// SIP requests and responses, calls and their limits.
    pub sip: SipCounters,
    /// Stream table limits.
    pub streams: StreamTableCounters,
    /// RTCP counters.
    pub rtcp: RtcpCounters,
    /// GTPv2-C messages by type, transactions, malformed.
    pub gtpv2: Gtpv2Counters,
    /// DIAMETER messages by application and command, transactions, malformed.
    pub diameter: DiameterCounters,
    /// VoLTE correlation: legs joined and unmatched, evictions.
    pub volte: CorrelatorCounters,
    /// Link types seen that the decoder does not support, with frame counts.
    pub unsupported_link_types: Vec<(u32, u64)>,
    /// Where reading stopped early, if it did.
    pub stopped: Option<StoppedAt>,
    /// Live capture: what the kernel counted per interface (absent for
    /// files).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub interfaces: Vec<InterfaceCounters>,
    /// Live capture on AF_PACKET rings: what the capture stage handed to
    /// the analysis and dropped because the analysis was behind.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub capture_stage: Option<StageCounters>,
}

/// What a live capture's capture stage counted.
#[derive(Clone, Copy, Debug, Default, Serialize, PartialEq, Eq)]
pub struct StageCounters {
    /// Frames handed to the analysis.
    pub frames_sent: u64,
    /// Frames dropped because the analysis's queue was full.
    pub frames_dropped: u64,
}

/// What the kernel counted for one interface of a live capture.
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct InterfaceCounters {
    /// Interface name.
    pub interface: String,
    /// Packets its socket received (dropped ones included).
    pub received: u64,
    /// Packets dropped because the ring was full.
    pub dropped: u64,
    /// Times the ring was frozen full.
    pub ring_freezes: u64,
    /// Times the interface went down.
    pub link_downs: u64,
}

/// Where reading stopped before the end of the file.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct StoppedAt {
    /// Byte offset.
    pub offset: u64,
    /// Why.
    pub reason: String,
}

impl FileAnalysis {
    /// Every stream: those of the calls, then those of no call.
    pub fn all_streams(&self) -> impl Iterator<Item = &StreamRecord> {
        self.calls
            .iter()
            .flat_map(|c| c.streams.iter())
            .chain(&self.streams)
    }
}

impl From<&ReadStop> for StoppedAt {
    fn from(s: &ReadStop) -> Self {
        StoppedAt {
            offset: s.offset,
            reason: s.reason.clone(),
        }
    }
}

/// The result of analysing one file.
#[derive(Clone, Debug)]
pub struct FileAnalysis {
    /// Calls, in the order of their first INVITE, each with its streams.
    pub calls: Vec<CallRecord>,
    /// Every DIAMETER and GTPv2-C message (bounded), for ladders.
    pub signals: SignalLog,
    /// Streams that belong to no call, ordered by first frame.
    pub streams: Vec<StreamRecord>,
    /// Subscribers learned from GTPv2-C and DIAMETER, by IMSI, with their
    /// Rx and Gx sessions.
    pub subscribers: Vec<SubscriberReport>,
    /// Counters.
    pub summary: Summary,
}

/// How often (packet time) reassembly and stream timeouts are checked.
const TIMEOUT_CHECK_INTERVAL_NS: i64 = 1_000_000_000;

/// The state of one analysis run.
pub struct Analyzer {
    decoder: Decoder,
    media: MediaClassifier,
    next_timeout_check: Option<PacketTime>,
    first_frame_time: Option<PacketTime>,
    unsupported_links: Vec<(u32, u64)>,
    quality: QualityConfig,
}

fn serialize_time_opt<S: serde::Serializer>(
    t: &Option<PacketTime>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => s.collect_str(&t.rfc3339_micros()),
        None => s.serialize_none(),
    }
}

/// Classifies transport payloads and feeds the media state.
struct MediaClassifier {
    sip_udp_ports: PortSet,
    sip_tcp_ports: PortSet,
    diameter_ports: PortSet,
    gtpv2_port: u16,
    streams: StreamTable,
    /// Worker threads holding the streams of heuristic-eligible flows
    /// (`--workers`); `None`: `streams` holds them all.
    shards: Option<crate::media::shards::Shards>,
    rtcp: RtcpTracker,
    protocols: ProtocolTally,
    /// Media endpoints known to carry SRTP/SRTCP.
    encrypted: HashSet<Endpoint, foldhash::fast::RandomState>,
    calls: CallTable,
    /// GTPv2-C transactions (requests paired with responses).
    gtpv2: Gtpv2Tracker,
    /// DIAMETER counters and request/answer pairing.
    diameter: DiameterCounters,
    diameter_transactions: diameter::transactions::Transactions,
    /// Joins DIAMETER, GTPv2-C and subscribers to calls.
    correlator: Correlator,
    /// Every DIAMETER and GTPv2-C message, for ladders (when kept).
    signals: Option<SignalLog>,
    /// RTP packets waiting to be counted (see `StreamTable::handle_batch`).
    batch: Vec<MediaPacket>,
    /// Finished streams waiting for their call (live emission).
    waiting_streams: Vec<StreamRecord>,
    /// Closed calls waiting for their streams (live emission).
    waiting_calls: Vec<Call>,
}

/// Longest a closed call waits, in packet time, because a call still open
/// announced one of its media endpoints (a media server answering every
/// call from one port): ten minutes, then it is emitted with the streams
/// it can be given.
pub const MAX_EMIT_WAIT_NS: i64 = 600_000_000_000;

/// Most media endpoints remembered as encrypted.
const MAX_ENCRYPTED_ENDPOINTS: usize = 100_000;

impl Analyzer {
    /// A new run.
    pub fn new(config: &AnalyzeConfig) -> Self {
        Analyzer {
            decoder: Decoder::new(config.decoder.clone()),
            media: MediaClassifier {
                sip_udp_ports: PortSet::new(&config.sip_udp_ports),
                sip_tcp_ports: PortSet::new(&config.decoder.sip_tcp_ports),
                diameter_ports: PortSet::new(&config.decoder.diameter_tcp_ports),
                gtpv2_port: config.gtpv2_port,
                streams: StreamTable::new(config.streams.clone()),
                shards: start_shards(config),
                rtcp: RtcpTracker::new(config.max_rtcp_sources),
                protocols: ProtocolTally::default(),
                encrypted: HashSet::default(),
                calls: CallTable::new(config.calls.clone()),
                gtpv2: Gtpv2Tracker::default(),
                diameter: DiameterCounters::default(),
                diameter_transactions: Default::default(),
                correlator: Correlator::with_limits(config.correlator),
                signals: config.calls.keep_ladders.then(SignalLog::default),
                batch: Vec::with_capacity(MAX_BATCH),
                waiting_streams: Vec::new(),
                waiting_calls: Vec::new(),
            },
            next_timeout_check: None,
            first_frame_time: None,
            unsupported_links: Vec::new(),
            quality: config.quality.clone(),
        }
    }

    /// Handles one captured frame.
    pub fn handle_frame(&mut self, frame: &Frame<'_>) {
        self.first_frame_time.get_or_insert(frame.time);
        if let LinkType::Unknown(n) = frame.link {
            match self.unsupported_links.iter_mut().find(|(l, _)| *l == n) {
                Some((_, count)) => *count += 1,
                None => self.unsupported_links.push((n, 1)),
            }
        }
        let media = &mut self.media;
        self.decoder.decode(frame, &mut |dg| media.classify(dg));
        self.poll_timeouts(frame.time);
    }

    /// Handles one payload the decoder yielded, without the frame around it:
    /// the classification, signalling and correlation stage on its own, as
    /// the correlator bench drives it. [`Analyzer::handle_frame`] is this
    /// after decoding; decode counters are not touched here.
    pub fn handle_datagram(&mut self, dg: &Datagram<'_>) -> Verdict {
        self.first_frame_time.get_or_insert(dg.time);
        let verdict = self.media.classify(dg);
        self.poll_timeouts(dg.time);
        verdict
    }

    /// Calls in progress (INVITE seen, not yet ended or timed out).
    pub fn active_calls(&self) -> usize {
        self.media.calls.active_calls()
    }

    /// RTP streams in progress.
    pub fn active_streams(&self) -> usize {
        self.media.streams.active_streams()
            + self
                .media
                .shards
                .as_ref()
                .map_or(0, crate::media::shards::Shards::active_streams)
    }

    /// The frame classes and the messages (and bytes) by protocol counted
    /// so far.
    pub fn counters(&self) -> (&DecodeCounters, &ProtocolTally) {
        (self.decoder.counters(), &self.media.protocols)
    }

    /// The 5-second samples running streams completed since the last call,
    /// each with the call that owns its stream (labelled by `label`: carrier
    /// and agent). These are provisional: the stream's final record rates
    /// every sample again with the whole stream known.
    pub fn take_completed_samples(
        &mut self,
        label: &dyn Fn(&crate::call::dialog::Dialog) -> (String, String),
    ) -> Vec<StreamSamples> {
        let media = &mut self.media;
        media.flush_media();
        let mut taken = media.streams.take_completed_samples();
        if let Some(shards) = &mut media.shards {
            let (finished, samples) = shards.take(true);
            taken.extend(samples);
            media.protocols.add_rtp(shards.take_counted());
            // Streams that finished meanwhile wait for their call as those
            // `take_closed` finds do.
            let (rtcp, quality) = (&media.rtcp, &self.quality);
            media.waiting_streams.extend(
                finished
                    .into_iter()
                    .map(|f| stream_record(f, rtcp, quality)),
            );
        }
        if taken.is_empty() {
            return Vec::new();
        }
        let keys: Vec<_> = taken.iter().map(|f| (f.key, f.report.first_time)).collect();
        let owners = media.calls.owners_of(&media.waiting_calls, &keys);
        taken
            .into_iter()
            .zip(owners)
            .map(|(f, owner)| {
                let mut stream = stream_record(f, &media.rtcp, &self.quality);
                let owner = owner.map(|(call_id, dialog, direction)| {
                    stream.call = Some(StreamCall {
                        call_id: call_id.to_owned(),
                        direction,
                    });
                    let (carrier, agent) = label(dialog);
                    SampleOwner {
                        invite_time: dialog.invite_time,
                        carrier,
                        agent,
                    }
                });
                StreamSamples { stream, owner }
            })
            .collect()
    }

    /// The calls in progress at `now` (packet time), oldest first, each
    /// with its parties rewritten by `party` (privacy settings).
    pub fn call_updates(&self, now: PacketTime, party: &dyn Fn(&str) -> String) -> Vec<CallUpdate> {
        let mut updates: Vec<CallUpdate> = self
            .media
            .calls
            .active()
            .filter(|(_, d)| !d.is_ended())
            .map(|(id, d)| {
                let since = d.answer_time().unwrap_or(d.invite_time);
                CallUpdate {
                    call_id: String::from_utf8_lossy(id).into_owned(),
                    state: d.state,
                    from: party(d.from_user().unwrap_or(d.from())),
                    to: party(d.to_user().unwrap_or(d.to())),
                    invite_time: d.invite_time,
                    answer_time: d.answer_time(),
                    elapsed_s: (now.millis_since(since) / 1000.0).max(0.0),
                    messages: d.messages,
                }
            })
            .collect();
        updates.sort_by(|a, b| (a.invite_time, &a.call_id).cmp(&(b.invite_time, &b.call_id)));
        updates
    }

    /// Takes the DIAMETER and GTPv2-C messages logged so far (kept only
    /// when ladders or the signaling export are on), for export as they come.
    pub fn take_signals(&mut self) -> Vec<SignalEntry> {
        self.media
            .signals
            .as_mut()
            .map(SignalLog::take)
            .unwrap_or_default()
    }

    /// Takes out of the run the calls that closed, with their streams and
    /// VoLTE legs, and the streams no call can claim any more: a live probe
    /// emits them as it goes, so what it holds stays bounded by what is in
    /// progress; what is taken is not in [`Analyzer::finish`]'s result.
    ///
    /// A closed call waits until its streams had time to finish (stream
    /// idle timeout and media slack after its last activity), and while a
    /// call still open announced one of its media endpoints (the stream
    /// could be either's), for at most [`MAX_EMIT_WAIT_NS`]. A finished
    /// stream waits while an open call announced one of its endpoints, or
    /// until no call can claim it. `now` is packet time.
    pub fn take_closed(&mut self, now: PacketTime) -> (Vec<CallRecord>, Vec<StreamRecord>) {
        let media = &mut self.media;
        media.flush_media();
        let quality = &self.quality;
        let mut finished = media.streams.take_finished();
        if let Some(shards) = &mut media.shards {
            finished.extend(shards.take(false).0);
            media.protocols.add_rtp(shards.take_counted());
        }
        media.waiting_streams.extend(
            finished
                .into_iter()
                .map(|f| stream_record(f, &media.rtcp, quality)),
        );
        media.waiting_calls.extend(media.calls.take_closed());
        if media.waiting_calls.is_empty() && media.waiting_streams.is_empty() {
            return (Vec::new(), Vec::new());
        }
        let settle = media.streams.idle_timeout_ns() + media.calls.media_slack_ns();
        let last = |c: &Call| c.end_time().unwrap_or(c.last_activity).max(c.last_activity);
        let (settled, unsettled): (Vec<Call>, Vec<Call>) = std::mem::take(&mut media.waiting_calls)
            .into_iter()
            .partition(|c| last(c).add_nanos(settle) <= now);
        let mut open = media.calls.open_endpoints();
        open.extend(unsettled.iter().flat_map(|c| media_endpoints(&c.media)));
        let (ready, shared): (Vec<Call>, Vec<Call>) = settled.into_iter().partition(|c| {
            last(c).add_nanos(MAX_EMIT_WAIT_NS) <= now
                || !media_endpoints(&c.media).any(|e| open.contains(&e))
        });
        open.extend(shared.iter().flat_map(|c| media_endpoints(&c.media)));
        media.waiting_calls = unsettled;
        media.waiting_calls.extend(shared);
        let (offered, held): (Vec<StreamRecord>, Vec<StreamRecord>) =
            std::mem::take(&mut media.waiting_streams)
                .into_iter()
                .partition(|s| !open.contains(&s.key.src) && !open.contains(&s.key.dst));
        let (mut calls, unclaimed) = if ready.is_empty() {
            (Vec::new(), offered)
        } else {
            media.calls.records_of(ready, offered)
        };
        media.correlator.attach(&mut calls);
        // An unclaimed stream may still belong to a call not closed yet: one
        // that ended less than the linger (plus settling) before it did.
        let horizon =
            now.add_nanos(-(media.calls.linger_ns() + settle + media.calls.media_slack_ns()));
        let (keep, done): (Vec<StreamRecord>, Vec<StreamRecord>) = unclaimed
            .into_iter()
            .partition(|s| s.report.last_time >= horizon);
        media.waiting_streams = held;
        media.waiting_streams.extend(keep);
        (calls, done)
    }

    /// Lets packet time run on to `now` with no frame: everything due to
    /// time out by then does (a replay's jump from one pass to the next).
    pub fn advance_to(&mut self, now: PacketTime) {
        self.next_timeout_check = Some(now);
        self.poll_timeouts(now);
    }

    fn poll_timeouts(&mut self, now: PacketTime) {
        match self.next_timeout_check {
            Some(due) if now < due => {}
            Some(_) => {
                self.decoder.handle_timeout(now);
                self.media.flush_media();
                self.media.streams.handle_timeout(now);
                // Encrypted endpoints are remembered as long as their SDP
                // endpoint is.
                let (encrypted, streams) = (&mut self.media.encrypted, &self.media.streams);
                encrypted.retain(|e| streams.is_learned(e));
                if let Some(shards) = &self.media.shards {
                    shards.handle_timeout(now);
                }
                self.media.calls.handle_timeout(now);
                self.media.gtpv2.handle_timeout(now);
                self.media.diameter_transactions.handle_timeout(now);
                self.media.correlator.handle_timeout(now);
                self.next_timeout_check = Some(now.add_nanos(TIMEOUT_CHECK_INTERVAL_NS));
            }
            None => self.next_timeout_check = Some(now.add_nanos(TIMEOUT_CHECK_INTERVAL_NS)),
        }
    }

    /// Ends the run.
    pub fn finish(self, file: PathBuf, bytes_read: u64, stop: Option<&ReadStop>) -> FileAnalysis {
        let Analyzer {
            decoder,
            media,
            unsupported_links,
            first_frame_time,
            quality,
            ..
        } = self;
        let mut media = media;
        media.flush_media();
        let (mut finished, mut stream_counters) = media.streams.finish();
        if let Some(shards) = media.shards.take() {
            let (more, counters, counted) = shards.finish();
            finished.extend(more);
            finished.sort_by_key(|s| (s.first_frame, s.key));
            stream_counters.add(&counters);
            media.protocols.add_rtp(counted);
        }
        media
            .calls
            .restore_closed(std::mem::take(&mut media.waiting_calls));
        let mut streams = std::mem::take(&mut media.waiting_streams);
        streams.extend(
            finished
                .into_iter()
                .map(|f| stream_record(f, &media.rtcp, &quality)),
        );
        streams.sort_by_key(|s| (s.first_frame, s.key));
        let (mut calls, streams, sip) = media.calls.finish(streams);
        media.correlator.attach(&mut calls);
        media.correlator.count_unjoined_at_end();
        FileAnalysis {
            calls,
            streams,
            signals: media.signals.take().unwrap_or_default(),
            subscribers: media.correlator.subscribers(),
            summary: Summary {
                file,
                bytes_read,
                first_frame_time,
                packets: decoder.counters().clone(),
                reassembly: decoder.reassembly_counters().clone(),
                tcp: decoder.tcp_counters().clone(),
                sctp: decoder.sctp_counters().clone(),
                held_at_end: decoder.held(),
                protocols: media.protocols.messages,
                protocol_bytes: media.protocols.bytes,
                sip,
                streams: stream_counters,
                rtcp: media.rtcp.counters().clone(),
                gtpv2: media.gtpv2.counters().clone(),
                diameter: DiameterCounters {
                    transactions: media.diameter_transactions.finish(),
                    ..media.diameter
                },
                volte: media.correlator.counters(),
                unsupported_link_types: unsupported_links,
                stopped: stop.map(StoppedAt::from),
                interfaces: Vec::new(),
                capture_stage: None,
            },
        }
    }
}

impl MediaClassifier {
    fn classify(&mut self, dg: &Datagram<'_>) -> Verdict {
        match dg.transport {
            Transport::Udp => self.classify_udp(dg),
            Transport::Tcp => {
                if self.diameter_ports.contains(dg.src.port)
                    || self.diameter_ports.contains(dg.dst.port)
                {
                    self.handle_diameter(dg)
                } else if sip::looks_like_sip(dg.payload)
                    || self.sip_tcp_ports.contains(dg.src.port)
                    || self.sip_tcp_ports.contains(dg.dst.port)
                {
                    self.handle_sip(dg);
                    Verdict::Ours
                } else {
                    Verdict::NotForUs
                }
            }
            Transport::Sctp => {
                // PPID 46/47: DIAMETER (RFC 6733 §2.1); SIP over SCTP has no
                // assigned PPID, so it is recognised by content.
                if matches!(dg.sctp_ppid, 46 | 47)
                    || self.diameter_ports.contains(dg.src.port)
                    || self.diameter_ports.contains(dg.dst.port)
                {
                    self.handle_diameter(dg)
                } else if sip::looks_like_sip(dg.payload) {
                    self.handle_sip(dg);
                    Verdict::Ours
                } else {
                    Verdict::NotForUs
                }
            }
        }
    }

    fn classify_udp(&mut self, dg: &Datagram<'_>) -> Verdict {
        let payload = dg.payload;
        if dg.src.port == self.gtpv2_port || dg.dst.port == self.gtpv2_port {
            // GTPv2-C: version 2 in the top three bits (GTPv1-C shares the port).
            if payload.first().is_some_and(|b| b >> 5 == 2) {
                let correlator = &mut self.correlator;
                let signals = &mut self.signals;
                let decoded = self.gtpv2.handle_datagram(
                    dg.time,
                    dg.src,
                    dg.dst,
                    payload,
                    &mut |summary, transaction| {
                        if let Some(signals) = signals.as_mut() {
                            let label = match summary.cause {
                                Some(c) => format!("{} (cause {})", summary.name, c.value),
                                None => summary.name.to_owned(),
                            };
                            signals.push(SignalEntry {
                                protocol: "gtpv2",
                                call_id: None,
                                entry: ladder_entry(dg, label),
                                session_id: None,
                                origin_host: None,
                                gtp_sequence: Some(summary.sequence),
                                icid: None,
                                imsi: summary.imsi.clone(),
                                teid: summary.teid,
                                roles: gtp_roles(&summary),
                            });
                        }
                        correlator.handle_gtpv2(
                            dg.time,
                            dg.frame,
                            dg.src,
                            dg.dst,
                            &summary,
                            transaction.as_ref(),
                        )
                    },
                );
                if decoded == 0 {
                    return Verdict::Malformed(Layer::GtpC);
                }
                self.protocols
                    .add(|p| &mut p.gtpv2, decoded as u64, payload.len() as u64);
                return Verdict::Ours;
            }
        }
        if sip::looks_like_sip(payload) {
            self.handle_sip(dg);
            return Verdict::Ours;
        }
        if self.sip_udp_ports.contains(dg.src.port) || self.sip_udp_ports.contains(dg.dst.port) {
            // Keep-alives (CRLF) and other noise on the SIP port.
            return Verdict::NotForUs;
        }
        // RFC 7983: what shares a media port is told apart by its first byte,
        // and only 128–191 is RTP or RTCP. STUN (ICE), ZRTP and DTLS(-SRTP)
        // beside a media stream announced in SDP are counted as such, not as
        // malformed RTP.
        let first = payload.first().copied().unwrap_or(0);
        if !(128..=191).contains(&first) {
            if !(self.is_media_endpoint(&dg.src) || self.is_media_endpoint(&dg.dst)) {
                return Verdict::NotForUs;
            }
            let protocol: Protocol = match first {
                0..=3 => |p| &mut p.stun,
                16..=19 => |p| &mut p.zrtp,
                20..=63 => |p| &mut p.dtls,
                _ => {
                    self.protocols
                        .count(|p| &mut p.other_on_media_ports, payload.len());
                    return Verdict::NotForUs;
                }
            };
            self.protocols.count(protocol, payload.len());
            if first >= 16 {
                // ZRTP or DTLS: keys for SRTP are being agreed on this flow.
                self.mark_encrypted(dg.src);
                self.mark_encrypted(dg.dst);
            }
            return Verdict::Ours;
        }
        if rtcp::looks_like_rtcp(payload) {
            let learned = self.is_media_endpoint(&dg.src) || self.is_media_endpoint(&dg.dst);
            // Without SDP, only a compound that parses whole is RTCP: noise
            // that happens to start like RTCP is not counted as malformed.
            if !learned && (!self.streams.heuristic_enabled() || !rtcp::is_valid_compound(payload))
            {
                return Verdict::NotForUs;
            }
            if learned {
                // RTCP keeps its call's SDP endpoints known here even when
                // the media workers hold the streams.
                self.streams.keep_learned(&dg.src, &dg.dst, dg.time);
            }
            if (self.is_encrypted(&dg.src) || self.is_encrypted(&dg.dst))
                && !rtcp::is_valid_compound(payload)
            {
                // SRTCP: the first header and SSRC are clear, the rest is not.
                self.protocols.count(|p| &mut p.srtcp, payload.len());
                return Verdict::Ours;
            }
            if self
                .rtcp
                .handle_packet(dg.time, dg.src, dg.dst, dg.observation, payload)
            {
                self.protocols.count(|p| &mut p.rtcp, payload.len());
                return Verdict::Ours;
            }
            return if learned {
                Verdict::Malformed(Layer::Rtcp)
            } else {
                Verdict::NotForUs
            };
        }
        // RTP: the stream table looks the stream up first, so the common case
        // (a packet of a known stream) costs one hash lookup; SDP endpoints are
        // consulted only for packets that no stream claims yet.
        let repr = match rtp::Repr::parse(payload) {
            Ok(r) => r,
            Err(_) if self.is_media_endpoint(&dg.src) || self.is_media_endpoint(&dg.dst) => {
                return Verdict::Malformed(Layer::Rtp)
            }
            Err(_) => return Verdict::NotForUs,
        };
        if !rtp::looks_like_rtp(payload)
            && !self.streams.is_learned(&dg.src)
            && !self.streams.is_learned(&dg.dst)
        {
            return Verdict::NotForUs;
        }
        let pkt = MediaPacket {
            time: dg.time,
            frame: dg.frame,
            src: dg.src,
            dst: dg.dst,
            observation: dg.observation,
            rtp: repr,
        };
        if self.streams.heuristic_enabled() && heuristic_eligible(&pkt.src, &pkt.dst) {
            // Whatever the table decides, a packet on these ports is ours
            // (counted, or held in probation): it can wait for its batch.
            self.batch.push(pkt);
            if self.batch.len() >= MAX_BATCH {
                self.flush_media();
            }
            return Verdict::Ours;
        }
        self.flush_media();
        let admission = self.streams.handle_packet(&pkt);
        self.protocols.add_rtp(admission.counted(&pkt));
        if admission == Admission::NotRtp {
            Verdict::NotForUs
        } else {
            Verdict::Ours
        }
    }

    /// Decodes a DIAMETER message and pairs answers with requests.
    fn handle_diameter(&mut self, dg: &Datagram<'_>) -> Verdict {
        match diameter::Message::parse(dg.payload) {
            Ok(m) => {
                self.protocols.count(|p| &mut p.diameter, dg.payload.len());
                self.diameter.count_message(&m);
                let matched = self
                    .diameter_transactions
                    .handle_message(dg.time, dg.frame, &m.header, dg.src, dg.dst);
                self.correlator.handle_diameter(
                    dg.time,
                    dg.frame,
                    dg.src,
                    dg.dst,
                    &m,
                    matched.as_ref(),
                );
                if let Some(signals) = self.signals.as_mut() {
                    let command =
                        diameter::dictionary::command_name(m.header.command_code, m.header.request)
                            .map_or_else(
                                || format!("DIAMETER {}", m.header.command_code),
                                str::to_owned,
                            );
                    let label = match m.result_code.or(m.experimental_result_code) {
                        Some(code) if !m.header.request => format!("{command} {code}"),
                        _ => command,
                    };
                    signals.push(SignalEntry {
                        protocol: "diameter",
                        call_id: None,
                        entry: ladder_entry(dg, label),
                        session_id: m.session_id.clone(),
                        origin_host: m.origin_host.clone(),
                        gtp_sequence: None,
                        icid: m.af_charging_identifier.clone(),
                        imsi: m
                            .subscription_ids
                            .iter()
                            .find(|s| s.kind == Some(diameter::SubscriptionIdType::Imsi))
                            .and_then(|s| s.data.clone()),
                        teid: None,
                        roles: diameter_roles(
                            m.header.application_id,
                            m.header.command_code,
                            m.header.request,
                        ),
                    });
                }
                Verdict::Ours
            }
            Err(e) => {
                self.diameter.count_malformed(e);
                Verdict::Malformed(Layer::Diameter)
            }
        }
    }

    /// Counts the batched media packets in their streams. Called before
    /// anything else touches the stream table, so every stream sees its
    /// packets in arrival order.
    fn flush_media(&mut self) {
        if !self.batch.is_empty() {
            match &mut self.shards {
                Some(shards) => shards.handle_batch(&self.batch),
                None => self
                    .protocols
                    .add_rtp(self.streams.handle_batch(&self.batch)),
            }
            self.batch.clear();
        }
    }

    /// A media endpoint learned from SDP, or the RTCP port next to one.
    fn is_media_endpoint(&self, e: &Endpoint) -> bool {
        self.streams.is_learned(e)
            || (e.port % 2 == 1 && self.streams.is_learned(&Endpoint::new(e.ip, e.port - 1)))
    }

    /// Remembers that `e` (an RTP endpoint, or the RTCP port beside one)
    /// carries encrypted media. Bounded like the SDP endpoints.
    fn mark_encrypted(&mut self, e: Endpoint) {
        let rtp = if e.port % 2 == 1 && !self.streams.is_learned(&e) {
            Endpoint::new(e.ip, e.port - 1)
        } else {
            e
        };
        if self.encrypted.len() < MAX_ENCRYPTED_ENDPOINTS {
            self.encrypted.insert(rtp);
        }
    }

    fn is_encrypted(&self, e: &Endpoint) -> bool {
        !self.encrypted.is_empty()
            && (self.encrypted.contains(e)
                || (e.port % 2 == 1 && self.encrypted.contains(&Endpoint::new(e.ip, e.port - 1))))
    }

    fn handle_sip(&mut self, dg: &Datagram<'_>) {
        self.protocols.count(|p| &mut p.sip, dg.payload.len());
        let msg = match sip::parse(dg.payload) {
            Ok(m) => m,
            Err(_) => {
                self.calls.note_malformed();
                return;
            }
        };
        let body = crate::call::dialog::sdp_body(&msg);
        let media = body.map(sdp::media_descriptions).unwrap_or_default();
        if let (false, Some(body)) = (media.is_empty(), body) {
            self.protocols.count(|p| &mut p.sdp, body.len());
        }
        let ctx = MessageContext {
            time: dg.time,
            frame: dg.frame,
            src: dg.src,
            dst: dg.dst,
            transport: dg.transport,
            observation: dg.observation,
        };
        let in_a_call = self.calls.handle_message(&ctx, &msg, &media);
        if let (false, Some(signals)) = (in_a_call, self.signals.as_mut()) {
            signals.push(SignalEntry {
                protocol: "sip",
                call_id: msg
                    .headers
                    .call_id
                    .map(|c| String::from_utf8_lossy(c).into_owned()),
                entry: ladder_entry(
                    dg,
                    crate::call::dialog::message_label(&msg, !media.is_empty()),
                ),
                session_id: None,
                origin_host: None,
                gtp_sequence: None,
                icid: None,
                imsi: None,
                teid: None,
                roles: None,
            });
        }
        if !media.is_empty() {
            self.flush_media();
        }
        for m in media {
            if let (Some(ip), true) = (m.address, m.port != 0) {
                let endpoint = Endpoint::new(ip, m.port);
                if m.is_secure() {
                    self.mark_encrypted(endpoint);
                }
                if let Some(shards) = &self.shards {
                    shards.learn_endpoint(endpoint, &m.payloads, dg.time);
                }
                self.streams.learn_endpoint(endpoint, m.payloads, dg.time);
            }
        }
    }
}

/// The media shards a configuration asks for; a thread that cannot start
/// leaves the streams on the analysis thread (said in the log).
fn start_shards(config: &AnalyzeConfig) -> Option<crate::media::shards::Shards> {
    if config.media_workers == 0 {
        return None;
    }
    match crate::media::shards::Shards::new(config.media_workers, &config.streams) {
        Ok(shards) => Some(shards),
        Err(e) => {
            tracing::error!(error = %e, "cannot start the media workers: {e}; streams are measured on the analysis thread");
            None
        }
    }
}

/// The ladder line of a message carried by `dg`.
fn ladder_entry(dg: &Datagram<'_>, label: String) -> LadderEntry {
    LadderEntry {
        time: dg.time,
        frame: dg.frame,
        src: dg.src,
        dst: dg.dst,
        transport: dg.transport,
        label,
        retransmission: false,
    }
}

/// A finished stream as a record: rated (MOS, with the RTCP round trip when
/// there is one) and with what RTCP said of it.
fn stream_record(
    f: crate::media::table::FinishedStream,
    rtcp: &RtcpTracker,
    quality: &QualityConfig,
) -> StreamRecord {
    let rtcp = rtcp.report_for(
        f.key.observation,
        f.key.src.ip,
        f.key.ssrc,
        f.report.clock_rate,
    );
    let mut report = f.report;
    let rtt_ms = rtcp
        .as_ref()
        .and_then(|r| r.rtt.as_ref())
        .map(|r| r.mean_ms);
    rate_stream(&mut report, rtt_ms, quality);
    StreamRecord {
        key: f.key,
        first_frame: f.first_frame,
        report,
        rtcp,
        call: None,
    }
}

/// Analyses one capture file. `progress` is called now and then with the
/// number of bytes read so far.
///
/// # Errors
/// When the file cannot be read at all; a file that stops early is analysed up
/// to that point and the stop is in `summary.stopped`.
pub fn analyze_file(
    path: &Path,
    config: &AnalyzeConfig,
    progress: &mut dyn FnMut(u64),
) -> Result<FileAnalysis, CaptureError> {
    let file = CaptureFile::open(path)?;
    let mut analyzer = Analyzer::new(config);
    let mut frames = file.frames();
    let mut since_progress = 0u32;
    while let Some(frame) = frames.next() {
        analyzer.handle_frame(&frame);
        file.release_behind(frames.offset());
        since_progress += 1;
        if since_progress == 65_536 {
            since_progress = 0;
            progress(frames.offset());
        }
    }
    progress(frames.offset());
    Ok(analyzer.finish(path.to_owned(), frames.offset(), frames.stop()))
}
