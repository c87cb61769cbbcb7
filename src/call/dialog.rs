//! One call: the SIP INVITE dialog(s) of a Call-ID and what they said about
//! timing, outcome and media.
//!
//! A [`Dialog`] is fed every SIP message of its Call-ID in capture order with
//! the packet time as a parameter. It recognises retransmissions (the same
//! message between the same two hops again) and copies of a message seen at
//! another hop (proxies, VoLTE P-CSCF/S-CSCF), so each event is counted once and
//! timed at its first sighting. Of forked responses (several to-tags), the
//! first 2xx answers the call. The call table keeps a dialog per active call,
//! compact (its Call-ID is the table's key); a dialog that leaves the table
//! becomes a [`Call`], the dialog with its Call-ID and ICID.

use super::record::Outcome;
use crate::media::PayloadKind;
use crate::packet::{Endpoint, Observation, Transport};
use crate::proto::sdp::MediaDescription;
use crate::proto::sip::{self, Method, StartLine};
use crate::time::PacketTime;
use std::hash::{BuildHasher, Hash, Hasher};
use std::net::IpAddr;

/// Messages kept per call for its ladder diagram; more are counted, not kept.
pub const MAX_LADDER_ENTRIES: usize = 512;
/// Media descriptions kept per call (offers and answers, re-INVITEs included).
pub const MAX_MEDIA_OFFERS: usize = 32;
/// Recent message fingerprints kept per call to recognise retransmissions
/// (32-bit: a false match needs one of 32 fingerprints to equal a new one,
/// about 1 in 10^8 per message).
const RETRANSMISSION_WINDOW: usize = 32;
/// Longest text kept from a header (user agent, reason phrase, URI).
const MAX_TEXT_LEN: usize = 256;

/// The two parties of a call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    /// The party that sent the first INVITE.
    Caller,
    /// The party it called.
    Callee,
}

impl Side {
    /// The other party.
    pub fn other(self) -> Side {
        match self {
            Side::Caller => Side::Callee,
            Side::Callee => Side::Caller,
        }
    }

    /// `"caller"` or `"callee"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Side::Caller => "caller",
            Side::Callee => "callee",
        }
    }
}

/// Where a call is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CallState {
    /// INVITE sent, nothing back yet.
    Initiating,
    /// 100 Trying received.
    Trying,
    /// 18x received.
    Ringing,
    /// 18x with SDP: early media possible.
    EarlyMedia,
    /// 2xx received.
    Answered,
    /// ACK to the 2xx seen.
    Confirmed,
    /// BYE sent.
    Terminating,
    /// BYE answered.
    Completed,
    /// A final failure response.
    Failed,
    /// CANCELled (487).
    Cancelled,
}

/// Where one `m=` line of an SDP wants RTP: all a call keeps of the line
/// besides its codec (joining streams to calls and the VoLTE correlator read
/// nothing else, and a call holds several SDPs for its whole life).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MediaLine {
    /// Connection address (media-level `c=`, else session-level).
    pub address: Option<IpAddr>,
    /// RTP port (0 = stream rejected/disabled).
    pub port: u16,
}

/// The media lines of one SDP, in order. Nearly every SDP of a call has one
/// line, kept without an allocation of its own.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MediaLines {
    /// A single `m=` line.
    One(MediaLine),
    /// Several (audio and video, ...).
    Many(Box<[MediaLine]>),
}

impl MediaLines {
    fn of(media: &[MediaDescription]) -> MediaLines {
        let line = |m: &MediaDescription| MediaLine {
            address: m.address,
            port: m.port,
        };
        match media {
            [one] => MediaLines::One(line(one)),
            many => MediaLines::Many(many.iter().map(line).collect()),
        }
    }

    /// The lines as a slice.
    pub fn as_slice(&self) -> &[MediaLine] {
        match self {
            MediaLines::One(line) => std::slice::from_ref(line),
            MediaLines::Many(lines) => lines,
        }
    }

    /// The lines in order.
    pub fn iter(&self) -> std::slice::Iter<'_, MediaLine> {
        self.as_slice().iter()
    }
}

/// The SDP of one side at one moment: an offer or an answer.
#[derive(Clone, Debug, PartialEq)]
pub struct MediaOffer {
    /// When the message carrying it was seen.
    pub time: PacketTime,
    /// Which side announced it (it receives RTP there).
    pub side: Side,
    /// An answer (SDP in a response, ACK or PRACK) rather than an offer.
    pub is_answer: bool,
    /// The codec of its first audio line that is not disabled: the first
    /// payload type of the line that is a codec (not telephone-event or
    /// comfort noise), by name. An answer's first payload type is the one
    /// chosen (RFC 3264 §6.1).
    pub audio_codec: Option<&'static str>,
    /// Where each media line wants RTP.
    pub media: MediaLines,
}

impl MediaOffer {
    /// Whether `other` says the same as this one (its time aside).
    fn says_the_same_as(&self, other: &MediaOffer) -> bool {
        self.side == other.side
            && self.is_answer == other.is_answer
            && self.audio_codec == other.audio_codec
            && self.media == other.media
    }
}

/// The first payload type of an m-line that is a codec (not telephone-event
/// or comfort noise), by name.
fn preferred_codec(m: &MediaDescription) -> Option<&'static str> {
    m.payload_types.iter().find_map(|&pt| {
        let info = m.payloads.resolve(pt);
        (info.kind == PayloadKind::Media).then_some(info.name?)
    })
}

/// One SIP message of a call, for its ladder diagram.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct LadderEntry {
    /// Capture time.
    #[serde(serialize_with = "crate::export::json::serialize_time")]
    pub time: PacketTime,
    /// Frame number.
    pub frame: u64,
    /// Sender.
    #[serde(serialize_with = "crate::export::json::serialize_display")]
    pub src: Endpoint,
    /// Receiver.
    #[serde(serialize_with = "crate::export::json::serialize_display")]
    pub dst: Endpoint,
    /// Transport.
    #[serde(serialize_with = "crate::export::json::serialize_debug_lower")]
    pub transport: Transport,
    /// `INVITE (SDP)`, `180 Ringing`, ...
    pub label: String,
    /// A retransmission of an earlier message.
    pub retransmission: bool,
}

/// A rewrite of a text field.
type Rewrite<'a> = &'a dyn Fn(&str) -> String;

/// The ladder label of a SIP message: `INVITE (SDP)`, `180 Ringing`, ...
pub fn message_label(msg: &sip::Message<'_>, has_sdp: bool) -> String {
    let mut label = match msg.start {
        StartLine::Request { method, .. } => method.as_str().to_owned(),
        StartLine::Response { code, reason } => format!("{code} {}", text_of(reason)),
    };
    if has_sdp {
        label.push_str(" (SDP)");
    }
    label
}

/// Where and when a message was seen: the context of [`Dialog::handle_message`].
#[derive(Clone, Copy, Debug)]
pub struct MessageContext {
    /// Capture time.
    pub time: PacketTime,
    /// Frame number.
    pub frame: u64,
    /// Sender.
    pub src: Endpoint,
    /// Receiver.
    pub dst: Endpoint,
    /// Transport.
    pub transport: Transport,
    /// Where the message was seen (plain, or inside a GTP-U tunnel): a copy
    /// seen at another observation point is not a retransmission.
    pub observation: Observation,
}

/// The text of a dialog, in one allocation:
/// [`TextField`]s one after the other. Most are set once, with the INVITE.
/// A user part found in its URI's text is not written again.
#[derive(Clone, Debug, Default)]
struct CallText {
    bytes: Box<[u8]>,
    /// Where each text field ends in `bytes` (it starts where the one before
    /// ends). Each is at most [`MAX_TEXT_LEN`] bytes, so all of them fit a
    /// `u16`; the caller tag, as long as written, runs from the last end to
    /// the end of `bytes`.
    ends: [u16; TEXT_FIELDS],
    /// Where the From and To user parts are in `bytes` (start, length):
    /// within the URI's text, or their own place when not found there.
    user_spans: [(u16, u16); 2],
    /// Bit `i` set: field `i` is present (an absent field is empty).
    present: u16,
}

/// The fields of [`CallText`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum TextField {
    From,
    FromUser,
    To,
    ToUser,
    AssertedIdentity,
    CallerUserAgent,
    CalleeUserAgent,
    FinalReason,
    Icid,
    /// The From tag of the first INVITE, as written (not text: compared
    /// byte for byte). Last: not bounded like the others.
    CallerTag,
}

/// Text fields of [`CallText`]: the [`TextField`]s before the caller tag.
const TEXT_FIELDS: usize = TextField::CallerTag as usize;

/// Every [`TextField`], in order.
const ALL_TEXT_FIELDS: [TextField; TEXT_FIELDS + 1] = [
    TextField::From,
    TextField::FromUser,
    TextField::To,
    TextField::ToUser,
    TextField::AssertedIdentity,
    TextField::CallerUserAgent,
    TextField::CalleeUserAgent,
    TextField::FinalReason,
    TextField::Icid,
    TextField::CallerTag,
];

impl TextField {
    /// For a user part: its slot in [`CallText::user_spans`] and its URI.
    fn user_of(self) -> Option<(usize, TextField)> {
        match self {
            TextField::FromUser => Some((0, TextField::From)),
            TextField::ToUser => Some((1, TextField::To)),
            _ => None,
        }
    }
}

/// A text offset of [`CallText`] (bounded: see `ends`).
fn text_offset(at: usize) -> u16 {
    u16::try_from(at).unwrap_or(u16::MAX)
}

impl CallText {
    fn range(&self, field: TextField) -> std::ops::Range<usize> {
        if let Some(&(start, len)) = field
            .user_of()
            .and_then(|(slot, _)| self.user_spans.get(slot))
        {
            let start = usize::from(start);
            return start..start + usize::from(len);
        }
        let i = field as usize;
        let end = self
            .ends
            .get(i)
            .map_or(self.bytes.len(), |&e| usize::from(e));
        let start = i
            .checked_sub(1)
            .and_then(|before| self.ends.get(before))
            .map_or(0, |&e| usize::from(e));
        start..end
    }

    fn bytes(&self, field: TextField) -> Option<&[u8]> {
        (self.present & (1 << field as u16) != 0)
            .then(|| self.bytes.get(self.range(field)).unwrap_or_default())
    }

    fn text(&self, field: TextField) -> Option<&str> {
        self.bytes(field)
            .map(|b| std::str::from_utf8(b).unwrap_or_default())
    }

    /// The fields in [`TextField`] order from their values (`None`: absent),
    /// `write` putting each into `out`, an empty buffer with room for them.
    fn build(
        mut out: Vec<u8>,
        values: [Option<&[u8]>; TEXT_FIELDS + 1],
        write: impl Fn(&mut Vec<u8>, TextField, &[u8]),
    ) -> CallText {
        let mut text = CallText::default();
        for (field, value) in ALL_TEXT_FIELDS.into_iter().zip(values) {
            if let Some(value) = value {
                text.present |= 1 << field as u16;
                let start = out.len();
                write(&mut out, field, value);
                if let Some((slot, uri)) = field.user_of() {
                    let written = out.get(start..).unwrap_or_default();
                    // The URI is complete: its end is set.
                    let uri = text.range(uri);
                    let found = out
                        .get(uri.clone())
                        .filter(|_| !written.is_empty())
                        .and_then(|uri| uri.windows(written.len()).position(|w| w == written))
                        .map(|at| uri.start + at);
                    let span = (
                        text_offset(found.unwrap_or(start)),
                        text_offset(written.len()),
                    );
                    if found.is_some() {
                        out.truncate(start);
                    }
                    if let Some(slot) = text.user_spans.get_mut(slot) {
                        *slot = span;
                    }
                }
            }
            if let Some(end) = text.ends.get_mut(field as usize) {
                *end = text_offset(out.len());
            }
        }
        text.bytes = out.into_boxed_slice();
        text
    }

    /// The fields of a call's first INVITE, as [`text_of`] keeps text; the
    /// caller tag as written.
    fn of_invite(values: [Option<&[u8]>; TEXT_FIELDS + 1]) -> CallText {
        // Unfolding only shortens valid UTF-8: room enough, most of the time.
        let room = values.iter().flatten().map(|v| v.len()).sum();
        CallText::build(Vec::with_capacity(room), values, |out, field, value| {
            if field == TextField::CallerTag {
                out.extend_from_slice(value);
            } else {
                write_text(out, value);
            }
        })
    }

    /// Sets one field (rare after the INVITE: the callee's user agent, the
    /// final reason; `value` already kept as [`text_of`] keeps text),
    /// rewriting the allocation to its exact new size.
    fn set(&mut self, field: TextField, value: Option<&[u8]>) {
        let old = std::mem::take(self);
        let values = ALL_TEXT_FIELDS.map(|f| if f == field { value } else { old.bytes(f) });
        let size = values.iter().flatten().map(|v| v.len()).sum();
        *self = CallText::build(Vec::with_capacity(size), values, |out, _, value| {
            out.extend_from_slice(value)
        });
    }
}

/// The moments of a call kept in [`Dialog`] besides its first INVITE.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Milestone {
    /// First 18x to the INVITE.
    Ringing,
    /// First 2xx to the INVITE.
    Answer,
    /// BYE, the final failure response, or the 487 after CANCEL.
    End,
}

/// The SIP messages of a call, for its ladder diagram (the multi-protocol
/// view is `signal_log::Ladder`): allocated only for calls
/// that keep theirs.
#[derive(Clone, Debug, Default)]
// The box is the point: one pointer in every call instead of a `Vec`'s three
// words, most calls keeping no ladder.
#[allow(clippy::box_collection)]
pub struct SipMessages(Option<Box<Vec<LadderEntry>>>);

impl SipMessages {
    /// The messages in order.
    pub fn as_slice(&self) -> &[LadderEntry] {
        self.0.as_deref().map_or(&[], Vec::as_slice)
    }

    /// The messages in order.
    pub fn iter(&self) -> std::slice::Iter<'_, LadderEntry> {
        self.as_slice().iter()
    }

    /// Messages kept.
    pub fn len(&self) -> usize {
        self.0.as_ref().map_or(0, |entries| entries.len())
    }

    /// Whether no message was kept.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn push(&mut self, entry: LadderEntry) {
        self.0.get_or_insert_with(Box::default).push(entry);
    }
}

/// A call: its Call-ID and ICID, and what its dialog said (read through
/// `Deref`, so `call.invite_time` is the dialog's).
#[derive(Clone, Debug)]
pub struct Call {
    /// Call-ID.
    pub call_id: String,
    /// IMS charging identifier (P-Charging-Vector icid-value), if any.
    pub icid: Option<String>,
    /// The dialog.
    pub dialog: Dialog,
}

impl Call {
    /// The call of a dialog that left the call table, which kept it by
    /// `call_id` (the header value as written).
    pub fn new(call_id: &[u8], dialog: Dialog) -> Call {
        Call {
            call_id: text_of(call_id),
            icid: dialog.icid().map(str::to_owned),
            dialog,
        }
    }
}

impl std::ops::Deref for Call {
    type Target = Dialog;

    fn deref(&self) -> &Dialog {
        &self.dialog
    }
}

/// Everything known about the dialog(s) of one Call-ID so far: what the call
/// table keeps per active call, the Call-ID being the table's key.
#[derive(Clone, Debug)]
pub struct Dialog {
    /// From, To, user parts, P-Asserted-Identity, user agents, final
    /// reason, ICID, caller tag.
    text: CallText,
    /// Sender of the first INVITE.
    pub caller_signalling: Endpoint,
    /// Receiver of the first INVITE.
    pub callee_signalling: Endpoint,
    /// First INVITE.
    pub invite_time: PacketTime,
    /// Frame of the first INVITE.
    pub first_frame: u64,
    /// The [`Milestone`]s' times, valid where `milestones_seen` says so
    /// (three `Option`s would take twice the room).
    milestone_times: [PacketTime; 3],
    /// Bit `m` set: [`Milestone`] `m` was seen.
    milestones_seen: u8,
    /// Final response code to the INVITE.
    pub final_code: Option<u16>,
    /// Q.850 cause from a Reason header (BYE, CANCEL or final response).
    pub q850_cause: Option<u16>,
    /// Who sent the BYE (or the CANCEL that abandoned the call).
    pub hangup_by: Option<Side>,
    /// A CANCEL was seen.
    pub cancelled: bool,
    /// Current state.
    pub state: CallState,
    invite_cseq: u32,
    /// SDP offers and answers in order; one that says the same as the one
    /// before it (the copy of a message seen at another hop) is not kept.
    pub media: Box<[MediaOffer]>,
    /// SDP offers and answers seen, kept or not (bounded by
    /// [`MAX_MEDIA_OFFERS`]).
    media_offers_seen: u8,
    /// Messages in order (bounded by [`MAX_LADDER_ENTRIES`]).
    pub ladder: SipMessages,
    /// Messages not kept in the ladder because it was full.
    pub ladder_overflow: u32,
    /// SIP messages of this call (retransmissions included).
    pub messages: u32,
    /// Retransmissions recognised.
    pub retransmissions: u32,
    /// re-INVITEs (and UPDATEs with SDP) after the first INVITE.
    pub reinvites: u32,
    /// INVITE attempts (more than 1 after an authentication challenge).
    pub attempts: u32,
    /// Time of the last message.
    pub last_activity: PacketTime,
    /// Recent message fingerprints, at most [`RETRANSMISSION_WINDOW`]: grown
    /// as messages come (most calls have a handful), then a ring.
    fingerprints: Box<[u32]>,
    fingerprint_next: u8,
    keep_ladder: bool,
}

/// Writes `b` unfolded (whitespace runs as one space, invalid UTF-8
/// replaced) into `out`, cut to [`MAX_TEXT_LEN`] bytes at a character
/// boundary: what [`text_of`] returns, without allocating.
fn write_text(out: &mut Vec<u8>, b: &[u8]) {
    let start = out.len();
    let s = String::from_utf8_lossy(b);
    for (i, word) in s.split_whitespace().enumerate() {
        if i > 0 {
            out.push(b' ');
        }
        out.extend_from_slice(word.as_bytes());
    }
    if out.len() - start > MAX_TEXT_LEN {
        let mut end = start + MAX_TEXT_LEN;
        // A UTF-8 continuation byte is no character boundary.
        while out.get(end).is_some_and(|&b| b & 0xc0 == 0x80) {
            end -= 1;
        }
        out.truncate(end);
    }
}

/// Header text as kept: unfolded, cut to [`MAX_TEXT_LEN`] bytes.
fn text_of(b: &[u8]) -> String {
    let mut out = Vec::new();
    write_text(&mut out, b);
    String::from_utf8(out).unwrap_or_default()
}

/// From and To as kept: the name-addr's URI, else the header as written,
/// else empty (present all the same).
fn uri_or_header<'a>(
    parsed: Option<sip::NameAddr<'a>>,
    header: Option<&'a [u8]>,
) -> Option<&'a [u8]> {
    Some(parsed.map(|n| n.uri.raw).or(header).unwrap_or_default())
}

/// The `branch` parameter of a Via value.
fn via_branch(via: &[u8]) -> &[u8] {
    let Some(at) = via
        .windows(7)
        .position(|w| w.eq_ignore_ascii_case(b"branch="))
    else {
        return b"";
    };
    let v = &via[at + 7..];
    let end = v
        .iter()
        .position(|&b| b == b';' || b == b',' || b.is_ascii_whitespace())
        .unwrap_or(v.len());
    &v[..end]
}

/// The SDP in a message's body: the body itself for `application/sdp`, the
/// SDP part of a multipart body (SIP-I/SIP-T carry ISUP beside it), or a body
/// that starts like SDP when Content-Type is missing.
pub fn sdp_body<'a>(msg: &sip::Message<'a>) -> Option<&'a [u8]> {
    let body = msg.body;
    if body.is_empty() {
        return None;
    }
    let content_type = msg.headers.content_type.unwrap_or_default();
    let contains = |needle: &[u8]| {
        content_type
            .windows(needle.len())
            .any(|w| w.eq_ignore_ascii_case(needle))
    };
    if contains(b"application/sdp") || (content_type.is_empty() && body.starts_with(b"v=0")) {
        Some(body)
    } else if contains(b"multipart") {
        body.windows(4)
            .position(|w| w == b"v=0\r" || w == b"v=0\n")
            .map(|at| &body[at..])
    } else {
        None
    }
}

impl Dialog {
    /// A dialog started by an initial INVITE (`msg` must be one; see
    /// [`Dialog::is_initial_invite`]).
    pub fn new(ctx: &MessageContext, msg: &sip::Message<'_>) -> Dialog {
        let h = &msg.headers;
        let from = h.from.and_then(sip::parse_name_addr);
        let to = h.to.and_then(sip::parse_name_addr);
        let invite_cseq = h.cseq.and_then(sip::parse_cseq).map_or(0, |c| c.number);
        let text = CallText::of_invite([
            uri_or_header(from, h.from),
            from.and_then(|n| n.uri.user),
            uri_or_header(to, h.to),
            to.and_then(|n| n.uri.user),
            h.p_asserted_identity
                .and_then(sip::parse_name_addr)
                .map(|n| n.uri.raw),
            h.user_agent,
            None,
            None,
            h.p_charging_vector.and_then(sip::parse_icid),
            from.and_then(|f| f.tag),
        ]);
        Dialog {
            text,
            caller_signalling: ctx.src,
            callee_signalling: ctx.dst,
            invite_time: ctx.time,
            first_frame: ctx.frame,
            milestone_times: [PacketTime::ZERO; 3],
            milestones_seen: 0,
            final_code: None,
            q850_cause: None,
            hangup_by: None,
            cancelled: false,
            state: CallState::Initiating,
            invite_cseq,
            media: Box::default(),
            media_offers_seen: 0,
            ladder: SipMessages::default(),
            ladder_overflow: 0,
            messages: 0,
            retransmissions: 0,
            reinvites: 0,
            attempts: 1,
            last_activity: ctx.time,
            fingerprints: Box::default(),
            fingerprint_next: 0,
            keep_ladder: true,
        }
    }

    /// IMS charging identifier (P-Charging-Vector icid-value), if any.
    pub fn icid(&self) -> Option<&str> {
        self.text.text(TextField::Icid)
    }

    /// First 18x to the INVITE.
    pub fn ringing_time(&self) -> Option<PacketTime> {
        self.milestone(Milestone::Ringing)
    }

    /// First 2xx to the INVITE.
    pub fn answer_time(&self) -> Option<PacketTime> {
        self.milestone(Milestone::Answer)
    }

    /// BYE, the final failure response, or the 487 after CANCEL.
    pub fn end_time(&self) -> Option<PacketTime> {
        self.milestone(Milestone::End)
    }

    fn milestone(&self, m: Milestone) -> Option<PacketTime> {
        self.milestone_times
            .get(m as usize)
            .copied()
            .filter(|_| self.milestones_seen & (1 << m as u8) != 0)
    }

    fn set_milestone(&mut self, m: Milestone, time: Option<PacketTime>) {
        match (time, self.milestone_times.get_mut(m as usize)) {
            (Some(time), Some(slot)) => {
                *slot = time;
                self.milestones_seen |= 1 << m as u8;
            }
            _ => self.milestones_seen &= !(1 << m as u8),
        }
    }

    /// Sets a milestone unless it was seen already.
    fn note_milestone(&mut self, m: Milestone, time: PacketTime) {
        if self.milestone(m).is_none() {
            self.set_milestone(m, Some(time));
        }
    }

    /// From URI of the first INVITE.
    pub fn from(&self) -> &str {
        self.text.text(TextField::From).unwrap_or_default()
    }

    /// User part of [`Dialog::from`].
    pub fn from_user(&self) -> Option<&str> {
        self.text.text(TextField::FromUser)
    }

    /// To URI of the first INVITE.
    pub fn to(&self) -> &str {
        self.text.text(TextField::To).unwrap_or_default()
    }

    /// User part of [`Dialog::to`].
    pub fn to_user(&self) -> Option<&str> {
        self.text.text(TextField::ToUser)
    }

    /// P-Asserted-Identity of the first INVITE, if any.
    pub fn asserted_identity(&self) -> Option<&str> {
        self.text.text(TextField::AssertedIdentity)
    }

    /// User-Agent of the first INVITE.
    pub fn caller_user_agent(&self) -> Option<&str> {
        self.text.text(TextField::CallerUserAgent)
    }

    /// Server or User-Agent of the callee's first response.
    pub fn callee_user_agent(&self) -> Option<&str> {
        self.text.text(TextField::CalleeUserAgent)
    }

    /// The reason phrase of the final response to the INVITE.
    pub fn final_reason(&self) -> Option<&str> {
        self.text.text(TextField::FinalReason)
    }

    /// Rewrites what identifies people — From, To, P-Asserted-Identity with
    /// `uri`, the From and To users with `user` — before any output (the
    /// probe's privacy settings).
    pub fn rewrite_identities(
        &mut self,
        uri: &dyn Fn(&str) -> String,
        user: &dyn Fn(&str) -> String,
    ) {
        let fields: [(TextField, Rewrite<'_>); 5] = [
            (TextField::From, uri),
            (TextField::To, uri),
            (TextField::AssertedIdentity, uri),
            (TextField::FromUser, user),
            (TextField::ToUser, user),
        ];
        for (field, rewrite) in fields {
            if let Some(new) = self.text.text(field).map(rewrite) {
                self.text.set(field, Some(new.as_bytes()));
            }
        }
    }

    fn set_text(&mut self, field: TextField, value: Option<&[u8]>) {
        match value {
            Some(raw) => {
                let mut written = Vec::new();
                write_text(&mut written, raw);
                self.text.set(field, Some(&written));
            }
            None => self.text.set(field, None),
        }
    }

    /// Keeps the messages for the ladder (the default) or not: a probe that
    /// exports each message as it comes needs no copy per call.
    pub fn with_ladder(mut self, keep: bool) -> Self {
        self.keep_ladder = keep;
        self
    }

    /// Whether `msg` starts a call: an INVITE without a To tag.
    pub fn is_initial_invite(msg: &sip::Message<'_>) -> bool {
        matches!(
            msg.start,
            StartLine::Request {
                method: Method::Invite,
                ..
            }
        ) && msg
            .headers
            .to
            .and_then(sip::parse_name_addr)
            .is_none_or(|t| t.tag.is_none())
    }

    /// The caller's IP (sender of the first INVITE).
    pub fn caller_ip(&self) -> IpAddr {
        self.caller_signalling.ip
    }

    /// The callee's IP (receiver of the first INVITE).
    pub fn callee_ip(&self) -> IpAddr {
        self.callee_signalling.ip
    }

    /// Which side sent a message with this From tag.
    fn side_of_from_tag(&self, tag: Option<&[u8]>) -> Side {
        match (self.text.bytes(TextField::CallerTag), tag) {
            (Some(caller), Some(t)) if caller != t => Side::Callee,
            _ => Side::Caller,
        }
    }

    /// Whether this exact message (same hop, same transaction, same status)
    /// was seen recently; remembers it otherwise.
    fn is_retransmission(&mut self, ctx: &MessageContext, msg: &sip::Message<'_>) -> bool {
        let mut hasher = foldhash::fast::FixedState::with_seed(0x766f_7870).build_hasher();
        ctx.src.hash(&mut hasher);
        ctx.dst.hash(&mut hasher);
        ctx.observation.hash(&mut hasher);
        match msg.start {
            StartLine::Request { method, .. } => (0u8, method.as_str()).hash(&mut hasher),
            StartLine::Response { code, .. } => (1u8, code).hash(&mut hasher),
        }
        msg.headers.cseq.unwrap_or_default().hash(&mut hasher);
        via_branch(msg.headers.via.unwrap_or_default()).hash(&mut hasher);
        msg.headers
            .to
            .and_then(sip::parse_name_addr)
            .and_then(|t| t.tag)
            .hash(&mut hasher);
        // Never 0, the value of an empty slot.
        let fp = (hasher.finish() >> 32) as u32 | 1;
        if self.fingerprints.contains(&fp) {
            return true;
        }
        let next = usize::from(self.fingerprint_next) % RETRANSMISSION_WINDOW;
        match self.fingerprints.get_mut(next) {
            Some(slot) => *slot = fp,
            None => {
                // Room for exactly one more: most calls stop at a handful.
                let mut grown = std::mem::take(&mut self.fingerprints).into_vec();
                grown.reserve_exact(1);
                grown.push(fp);
                self.fingerprints = grown.into_boxed_slice();
            }
        }
        self.fingerprint_next = ((next + 1) % RETRANSMISSION_WINDOW) as u8;
        false
    }

    fn push_ladder(
        &mut self,
        ctx: &MessageContext,
        msg: &sip::Message<'_>,
        has_sdp: bool,
        retransmission: bool,
    ) {
        if self.ladder.len() >= MAX_LADDER_ENTRIES {
            self.ladder_overflow += 1;
            return;
        }
        let label = message_label(msg, has_sdp);
        self.ladder.push(LadderEntry {
            time: ctx.time,
            frame: ctx.frame,
            src: ctx.src,
            dst: ctx.dst,
            transport: ctx.transport,
            label,
            retransmission,
        });
    }

    fn note_media(
        &mut self,
        time: PacketTime,
        side: Side,
        is_answer: bool,
        media: &[MediaDescription],
    ) {
        if media.is_empty() || usize::from(self.media_offers_seen) >= MAX_MEDIA_OFFERS {
            return;
        }
        self.media_offers_seen += 1;
        let offer = MediaOffer {
            time,
            side,
            is_answer,
            audio_codec: media
                .iter()
                .find(|m| m.media.eq_ignore_ascii_case("audio") && m.port != 0)
                .and_then(preferred_codec),
            media: MediaLines::of(media),
        };
        // A repeat of the offer before it changes neither the codecs in use
        // (the same answer again) nor the endpoints a side announced (the
        // first announcement's time counts), nor the correlator's addresses.
        if self
            .media
            .last()
            .is_some_and(|last| last.says_the_same_as(&offer))
        {
            return;
        }
        // Calls see a few SDPs: room for exactly one more each time.
        let mut media = std::mem::take(&mut self.media).into_vec();
        media.reserve_exact(1);
        media.push(offer);
        self.media = media.into_boxed_slice();
    }

    fn note_q850(&mut self, msg: &sip::Message<'_>) {
        if let Some(cause) = msg
            .headers
            .reason
            .and_then(|r| sip::parse_reason(r, Some("Q.850")))
            .and_then(|r| r.cause)
        {
            self.q850_cause.get_or_insert(cause);
        }
    }

    /// Takes one SIP message of this call. `media` is what its SDP body
    /// describes (empty without SDP).
    pub fn handle_message(
        &mut self,
        ctx: &MessageContext,
        msg: &sip::Message<'_>,
        media: &[MediaDescription],
    ) {
        self.messages += 1;
        self.last_activity = self.last_activity.max(ctx.time);
        let retransmission = self.is_retransmission(ctx, msg);
        if self.keep_ladder {
            self.push_ladder(ctx, msg, !media.is_empty(), retransmission);
        }
        if retransmission {
            self.retransmissions += 1;
            return;
        }
        let h = &msg.headers;
        let cseq = h.cseq.and_then(sip::parse_cseq);
        let from_tag = h.from.and_then(sip::parse_name_addr).and_then(|f| f.tag);
        let to_tag = h.to.and_then(sip::parse_name_addr).and_then(|t| t.tag);
        match msg.start {
            StartLine::Request { method, .. } => {
                let side = self.side_of_from_tag(from_tag);
                match method {
                    Method::Invite if to_tag.is_some() => {
                        self.reinvites += 1;
                        self.note_media(ctx.time, side, false, media);
                    }
                    Method::Invite => {
                        let number = cseq.map_or(self.invite_cseq, |c| c.number);
                        if number > self.invite_cseq && self.answer_time().is_none() {
                            // A new attempt of the same call: the INVITE sent
                            // again with credentials after 401/407, or after
                            // 422/491. The call goes on from the first INVITE.
                            self.invite_cseq = number;
                            self.final_code = None;
                            self.text.set(TextField::FinalReason, None);
                            self.set_milestone(Milestone::End, None);
                            self.state = CallState::Initiating;
                            self.attempts += 1;
                        }
                        // The first INVITE, or its copy at another hop.
                        if number == self.invite_cseq {
                            self.note_media(ctx.time, Side::Caller, false, media);
                        }
                    }
                    Method::Update | Method::Ack | Method::Prack => {
                        if method == Method::Update && !media.is_empty() {
                            self.reinvites += 1;
                        }
                        self.note_media(ctx.time, side, method != Method::Update, media);
                        if method == Method::Ack && self.state == CallState::Answered {
                            self.state = CallState::Confirmed;
                        }
                    }
                    Method::Cancel => {
                        // Abandoning the call before the answer is hanging up.
                        self.cancelled = true;
                        if self.answer_time().is_none() {
                            self.hangup_by.get_or_insert(side);
                        }
                        self.note_q850(msg);
                    }
                    Method::Bye => {
                        if self.end_time().is_none() {
                            self.set_milestone(Milestone::End, Some(ctx.time));
                            self.hangup_by = Some(side);
                        }
                        self.note_q850(msg);
                        if !matches!(self.state, CallState::Completed) {
                            self.state = CallState::Terminating;
                        }
                    }
                    _ => {}
                }
            }
            StartLine::Response { code, reason } => {
                let Some(cseq) = cseq else {
                    return;
                };
                // The responder is the side the request's From did not name.
                let responder = self.side_of_from_tag(from_tag).other();
                match cseq.method {
                    Method::Invite if cseq.number == self.invite_cseq => {
                        if responder == Side::Callee
                            && code > 100
                            && self.callee_user_agent().is_none()
                        {
                            self.set_text(TextField::CalleeUserAgent, h.server.or(h.user_agent));
                        }
                        self.handle_invite_response(ctx.time, code, reason, msg);
                        self.note_media(ctx.time, responder, true, media);
                    }
                    Method::Invite | Method::Update => {
                        self.note_media(ctx.time, responder, true, media)
                    }
                    Method::Bye if (200..300).contains(&code) => self.state = CallState::Completed,
                    _ => {}
                }
            }
        }
    }

    fn handle_invite_response(
        &mut self,
        time: PacketTime,
        code: u16,
        reason: &[u8],
        msg: &sip::Message<'_>,
    ) {
        match code {
            100 => {
                if self.state == CallState::Initiating {
                    self.state = CallState::Trying;
                }
            }
            101..=199 => {
                self.note_milestone(Milestone::Ringing, time);
                if matches!(
                    self.state,
                    CallState::Initiating | CallState::Trying | CallState::Ringing
                ) {
                    self.state = if sdp_body(msg).is_some() {
                        CallState::EarlyMedia
                    } else {
                        CallState::Ringing
                    };
                }
            }
            200..=299 => {
                if self.answer_time().is_none() {
                    self.set_milestone(Milestone::Answer, Some(time));
                    self.final_code = Some(code);
                    self.set_text(TextField::FinalReason, Some(reason));
                    self.state = CallState::Answered;
                }
            }
            _ => {
                // A failure ends the call unless another fork answered it.
                if self.answer_time().is_none() && self.final_code.is_none() {
                    self.final_code = Some(code);
                    self.set_text(TextField::FinalReason, Some(reason));
                    self.note_milestone(Milestone::End, time);
                    self.note_q850(msg);
                    self.state = if code == 487 && self.cancelled {
                        CallState::Cancelled
                    } else {
                        CallState::Failed
                    };
                }
            }
        }
    }

    /// Whether the call has ended by signalling (BYE answered or not, a final
    /// failure, a cancel).
    pub fn is_ended(&self) -> bool {
        matches!(
            self.state,
            CallState::Terminating
                | CallState::Completed
                | CallState::Failed
                | CallState::Cancelled
        )
    }

    /// The outcome class so far (see [`Outcome::classify`]).
    pub fn outcome(&self) -> Outcome {
        Outcome::classify(self.final_code, self.cancelled)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields<'a>(from: &'a [u8], from_user: Option<&'a [u8]>) -> [Option<&'a [u8]>; 10] {
        [
            Some(from),
            from_user,
            Some(b"sip:bob@example.com"),
            Some(b"bob"),
            None,
            Some(b"UA  1.0"),
            None,
            None,
            Some(b"icid-1"),
            Some(b"tag\xff"),
        ]
    }

    #[test]
    fn call_text_keeps_each_field_and_a_user_part_once() {
        let text = CallText::of_invite(fields(b"sip:alice@example.com", Some(b"alice")));
        assert_eq!(text.text(TextField::From), Some("sip:alice@example.com"));
        assert_eq!(text.text(TextField::FromUser), Some("alice"));
        assert_eq!(text.text(TextField::To), Some("sip:bob@example.com"));
        assert_eq!(text.text(TextField::ToUser), Some("bob"));
        assert_eq!(text.text(TextField::AssertedIdentity), None);
        assert_eq!(text.text(TextField::CallerUserAgent), Some("UA 1.0"));
        assert_eq!(text.text(TextField::Icid), Some("icid-1"));
        assert_eq!(text.bytes(TextField::CallerTag), Some(&b"tag\xff"[..]));
        // Both user parts point into their URIs.
        let written = "sip:alice@example.comsip:bob@example.comUA 1.0icid-1".len() + 4;
        assert_eq!(text.bytes.len(), written);

        // A user part that is not in the URI, and an empty one, stay apart.
        let odd = CallText::of_invite(fields(b"sip:alice@example.com", Some(b"carol")));
        assert_eq!(odd.text(TextField::FromUser), Some("carol"));
        let empty = CallText::of_invite(fields(b"sip:@example.com", Some(b"")));
        assert_eq!(empty.text(TextField::FromUser), Some(""));

        // Setting a field later keeps the others.
        let mut later = text.clone();
        later.set(TextField::FinalReason, Some(b"OK"));
        later.set(TextField::CallerUserAgent, None);
        assert_eq!(later.text(TextField::FinalReason), Some("OK"));
        assert_eq!(later.text(TextField::CallerUserAgent), None);
        for field in ALL_TEXT_FIELDS {
            if !matches!(field, TextField::FinalReason | TextField::CallerUserAgent) {
                assert_eq!(later.bytes(field), text.bytes(field), "{field:?}");
            }
        }
    }
}
