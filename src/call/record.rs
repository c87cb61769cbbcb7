//! The call record (CDR): one owned summary per call, the equivalent of the
//! `acc`/`acc_cdrs` rows Kamailio users keep, with the media of each
//! direction.

use super::dialog::{Call, LadderEntry, Side};
use crate::analyze::StreamRecord;
use crate::time::PacketTime;
use serde::Serialize;

/// How a call ended, by its final response.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// 2xx.
    Answered,
    /// 486 Busy Here, 600 Busy Everywhere.
    Busy,
    /// 480 Temporarily Unavailable, 408 Request Timeout.
    NoAnswer,
    /// Other 3xx and 4xx, 603 Decline.
    Rejected,
    /// CANCEL, then 487 (or no final response at all).
    Cancelled,
    /// 5xx and the other 6xx.
    Failed,
    /// No final response before the end of the capture or the timeout.
    TimedOut,
}

impl Outcome {
    /// Every outcome, in display order.
    pub const ALL: [Outcome; 7] = [
        Outcome::Answered,
        Outcome::Busy,
        Outcome::NoAnswer,
        Outcome::Rejected,
        Outcome::Cancelled,
        Outcome::Failed,
        Outcome::TimedOut,
    ];

    /// The class of a final response code (`None`: no final response) for a
    /// call that was or was not CANCELled.
    pub fn classify(final_code: Option<u16>, cancelled: bool) -> Outcome {
        match final_code {
            Some(200..=299) => Outcome::Answered,
            Some(486 | 600) => Outcome::Busy,
            Some(408 | 480) => Outcome::NoAnswer,
            Some(487) if cancelled => Outcome::Cancelled,
            Some(300..=499 | 603) => Outcome::Rejected,
            Some(_) => Outcome::Failed,
            None if cancelled => Outcome::Cancelled,
            None => Outcome::TimedOut,
        }
    }

    /// Stable label.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Answered => "answered",
            Outcome::Busy => "busy",
            Outcome::NoAnswer => "no_answer",
            Outcome::Rejected => "rejected",
            Outcome::Cancelled => "cancelled",
            Outcome::Failed => "failed",
            Outcome::TimedOut => "timed_out",
        }
    }
}

/// Direction of a media stream within its call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// From the caller to the callee.
    CallerToCallee,
    /// From the callee to the caller.
    CalleeToCaller,
}

impl Direction {
    /// The direction of media sent by `side`.
    pub fn from_sender(side: Side) -> Direction {
        match side {
            Side::Caller => Direction::CallerToCallee,
            Side::Callee => Direction::CalleeToCaller,
        }
    }

    /// Stable label.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::CallerToCallee => "caller_to_callee",
            Direction::CalleeToCaller => "callee_to_caller",
        }
    }
}

/// How the end time of a call was decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EndedBy {
    /// A BYE.
    Bye,
    /// The final failure response (or the 487 after CANCEL).
    FinalResponse,
    /// No BYE: the last media packet of the call (media inactivity).
    MediaInactivity,
    /// No BYE and no media: the last SIP message of the call.
    LastMessage,
    /// Not ended: no final response was seen.
    NotEnded,
    /// Still in progress when a live capture was stopped (SIGINT, SIGTERM,
    /// `--duration`, `--count`): its end time is the last frame seen.
    Shutdown,
}

/// The media of one direction, summarised from its main stream (the one
/// with the most packets when a direction was seen at several observation
/// points or in several segments).
#[derive(Clone, Debug, Serialize)]
pub struct DirectionSummary {
    /// The stream the figures below come from.
    #[serde(skip)]
    pub main_stream: crate::media::StreamKey,
    /// Streams in this direction.
    pub streams: usize,
    /// Packets of all of them.
    pub packets: u64,
    /// Lost packets (sum, may be negative with duplicates).
    pub lost: i64,
    /// Loss % of the main stream.
    pub lost_percent: f64,
    /// Mean jitter (ms) of the main stream.
    pub mean_jitter_ms: f64,
    /// Max jitter (ms) of the main stream.
    pub max_jitter_ms: f64,
    /// Codec of the main stream.
    pub codec: Option<String>,
    /// MOS of the main stream (adaptive jitter buffer), when it could be rated.
    pub mos: Option<f64>,
    /// R of the main stream (narrowband scale).
    pub r: Option<f64>,
    /// Lowest MOS of its 5-second intervals.
    pub mos_interval_min: Option<f64>,
    /// Mean MOS of its 5-second intervals.
    pub mos_interval_mean: Option<f64>,
    /// The main stream's 5-second samples.
    pub intervals: Vec<crate::media::stream::IntervalSample>,
}

/// One call, finished.
#[derive(Clone, Debug)]
pub struct CallRecord {
    /// The call as signalling described it.
    pub call: Call,
    /// Outcome class.
    pub outcome: Outcome,
    /// Quality label of the worse direction (see [`crate::media::quality::label`]).
    pub quality: Option<&'static str>,
    /// End time (see `ended_by`).
    pub end_time: Option<PacketTime>,
    /// How the end time was decided.
    pub ended_by: EndedBy,
    /// The call's RTP streams, each tagged with its direction.
    pub streams: Vec<StreamRecord>,
    /// Caller → callee media.
    pub caller_to_callee: Option<DirectionSummary>,
    /// Callee → caller media.
    pub callee_to_caller: Option<DirectionSummary>,
    /// First to last RTP packet of the call, seconds.
    pub media_duration_s: Option<f64>,
    /// Codecs negotiated, in order of use (re-INVITEs add segments).
    pub codecs: Vec<String>,
    /// Short diagnoses (`one_way_audio`, `no_media`, `high_loss`, ...).
    pub diagnosis: Vec<&'static str>,
    /// VoLTE legs (Rx, Gx, bearer, RTP in GTP-U), when the correlator joined
    /// any (boxed: inline they were 592 of a record's 1 416 bytes, paid by
    /// every SIP-only call too).
    pub volte: Option<Box<super::volte::VolteLegs>>,
}

impl CallRecord {
    /// Marks a call still in progress when a live capture stopped at
    /// `last_frame`: ended by the shutdown, at that time.
    pub fn end_by_shutdown(&mut self, last_frame: PacketTime) {
        if self.call.is_ended() {
            return;
        }
        self.ended_by = EndedBy::Shutdown;
        self.end_time = Some(last_frame.max(self.end_time.unwrap_or(last_frame)));
    }

    /// INVITE → 2xx, ms.
    pub fn setup_ms(&self) -> Option<f64> {
        self.call
            .answer_time()
            .map(|a| a.millis_since(self.call.invite_time))
    }

    /// INVITE → first 18x, ms (post-dial delay).
    pub fn pdd_ms(&self) -> Option<f64> {
        self.call
            .ringing_time()
            .map(|r| r.millis_since(self.call.invite_time))
    }

    /// First 18x → 2xx, ms.
    pub fn answer_delay_ms(&self) -> Option<f64> {
        match (self.call.ringing_time(), self.call.answer_time()) {
            (Some(r), Some(a)) => Some(a.millis_since(r)),
            _ => None,
        }
    }

    /// 2xx → end, seconds (0 for unanswered calls? no: `None`).
    pub fn duration_s(&self) -> Option<f64> {
        match (self.call.answer_time(), self.end_time) {
            (Some(a), Some(e)) => Some(e.millis_since(a) / 1000.0),
            _ => None,
        }
    }

    /// The ladder of the call.
    pub fn ladder(&self) -> &[LadderEntry] {
        self.call.ladder.as_slice()
    }

    /// MOS of one direction (narrowband scale), when its media could be rated.
    pub fn mos(&self, d: Direction) -> Option<f64> {
        self.direction(d).and_then(|s| s.mos)
    }

    /// The worse of the two directions' `metric` (the lower when
    /// `lower_is_worse`), over the directions that have one.
    pub fn worst(
        &self,
        metric: impl Fn(&DirectionSummary) -> Option<f64>,
        lower_is_worse: bool,
    ) -> Option<f64> {
        [
            self.caller_to_callee.as_ref(),
            self.callee_to_caller.as_ref(),
        ]
        .into_iter()
        .flatten()
        .filter_map(metric)
        .reduce(|a, b| if (a < b) == lower_is_worse { a } else { b })
    }

    /// Mouth-to-ear delay of a direction (its main stream's, the E-model's
    /// with the headline buffer) when RTCP measured the network part; a
    /// configured default delay is not a measurement.
    pub fn measured_delay_ms(&self, d: &DirectionSummary) -> Option<f64> {
        let q = self
            .streams
            .iter()
            .find(|s| s.key == d.main_stream)?
            .report
            .quality
            .as_ref()?;
        if q.delay_source != "rtcp" {
            return None;
        }
        q.buffers
            .get(crate::media::stream::HEADLINE_BUFFER)
            .map(|b| b.delay_ms)
    }

    /// The summary of one direction.
    pub fn direction(&self, d: Direction) -> Option<&DirectionSummary> {
        match d {
            Direction::CallerToCallee => self.caller_to_callee.as_ref(),
            Direction::CalleeToCaller => self.callee_to_caller.as_ref(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn final_codes_classify() {
        use Outcome::*;
        let cases = [
            (Some(200), false, Answered),
            (Some(486), false, Busy),
            (Some(600), false, Busy),
            (Some(480), false, NoAnswer),
            (Some(408), false, NoAnswer),
            (Some(487), true, Cancelled),
            (Some(487), false, Rejected),
            (Some(403), false, Rejected),
            (Some(302), false, Rejected),
            (Some(603), false, Rejected),
            (Some(503), false, Failed),
            (Some(604), false, Failed),
            (None, true, Cancelled),
            (None, false, TimedOut),
        ];
        for (code, cancelled, want) in cases {
            assert_eq!(
                Outcome::classify(code, cancelled),
                want,
                "{code:?} {cancelled}"
            );
        }
    }
}
