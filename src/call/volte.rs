//! The VoLTE legs of a call: what the correlator joined to a SIP dialog
//! (DIAMETER Rx and Gx, the GTPv2-C dedicated bearer, the RTP inside it),
//! the VoLTE state of the call, the leg that failed, and the timings users
//! compare across legs.
//!
//! These are owned values built by [`super::correlator::Correlator::attach`]
//! at the end of a run; nothing here holds state between packets.

use super::dialog::{CallState, Side};
use super::record::{CallRecord, Outcome};
use serde::Serialize;
use std::net::IpAddr;

/// DIAMETER Result-Code of success (RFC 6733 §7.1.2).
pub const DIAMETER_SUCCESS: u32 = 2001;
/// GTPv2-C Cause "Request accepted" (TS 29.274 Table 8.4-1).
pub const GTP_REQUEST_ACCEPTED: u8 = 16;

/// Where a VoLTE call is, from signalling, policy, bearer and media.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum VolteState {
    /// INVITE sent, nothing back yet.
    Initiating,
    /// 100 Trying received.
    Trying,
    /// 18x received.
    Ringing,
    /// 2xx received.
    Answered,
    /// ACK to the 2xx seen, no media yet.
    Confirmed,
    /// Answered with RTP flowing.
    MediaActive,
    /// BYE sent.
    Terminating,
    /// BYE answered.
    Completed,
    /// A leg failed (see `failed_leg`) or a final failure response.
    Failed,
    /// CANCELled.
    Cancelled,
}

/// The Rx leg: the P-CSCF's AAR/AAA for the call's media.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RxLeg {
    /// Rx Session-Id.
    pub session_id: String,
    /// Frame of the AAR.
    pub request_frame: u64,
    /// AAR → AAA, ms.
    pub aar_to_aaa_ms: Option<f64>,
    /// Result-Code (or Experimental-Result-Code) of the AAA.
    pub result_code: Option<u32>,
    /// Media-Component-Descriptions in the AAR.
    pub media_components: usize,
    /// AF-Charging-Identifier (the ICID), when sent.
    pub af_charging_identifier: Option<String>,
    /// The P-CSCF ending the session (STR/STA), when seen.
    pub termination: Option<RxTermination>,
}

/// The end of an Rx session: Session-Termination-Request and its answer.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RxTermination {
    /// Frame of the STR.
    pub request_frame: u64,
    /// STR → STA, ms.
    pub str_to_sta_ms: Option<f64>,
    /// Result-Code of the STA.
    pub result_code: Option<u32>,
    /// Termination-Cause of the STR (RFC 6733 §8.15; 1 is a logout, the
    /// usual end of a call).
    pub termination_cause: Option<u32>,
}

/// The Gx leg: the PCRF pushing (RAR) or answering (CCA) the voice rule.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct GxLeg {
    /// Gx Session-Id.
    pub session_id: String,
    /// `rar` (Re-Auth) or `ccr` (Credit-Control).
    pub command: &'static str,
    /// Frame of the request.
    pub request_frame: u64,
    /// Request → answer, ms.
    pub latency_ms: Option<f64>,
    /// Result-Code (or Experimental-Result-Code) of the answer.
    pub result_code: Option<u32>,
    /// Charging rules installed.
    pub rule_names: Vec<String>,
    /// QCI of the installed rules (the lowest).
    pub qci: Option<u32>,
}

/// The dedicated bearer of the call (Create Bearer, QCI 1).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct BearerLeg {
    /// Frame of the Create Bearer Request.
    pub request_frame: u64,
    /// EPS bearer ID (from the response).
    pub ebi: Option<u8>,
    /// QCI.
    pub qci: Option<u8>,
    /// GBR uplink, kbit/s.
    pub gbr_ul_kbps: Option<u64>,
    /// GBR downlink, kbit/s.
    pub gbr_dl_kbps: Option<u64>,
    /// How it was tied to the call: `teid` (the call's GTP-U streams),
    /// `imsi` (the UE's subscriber), `time` (nearest QCI 1 bearer).
    pub joined_by: &'static str,
    /// Create Bearer Request → Response, ms.
    pub request_to_response_ms: Option<f64>,
    /// Cause of the response (bearer context's, else top level).
    pub cause: Option<u8>,
    /// Uplink TEIDs (F-TEIDs of the request).
    pub uplink_teids: Vec<u32>,
    /// Downlink TEIDs (F-TEIDs of the response).
    pub downlink_teids: Vec<u32>,
    /// The bearer's removal (Delete Bearer), when seen.
    pub deletion: Option<BearerDeletion>,
}

/// The removal of a dedicated bearer: Delete Bearer Request and Response.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct BearerDeletion {
    /// Frame of the Delete Bearer Request.
    pub request_frame: u64,
    /// Delete Bearer Request → Response, ms.
    pub request_to_response_ms: Option<f64>,
    /// Cause of the response (the bearer context's, else top level).
    pub cause: Option<u8>,
}

/// One RTP stream of the call carried in GTP-U.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RtpLegStream {
    /// TEID of the G-PDUs.
    pub teid: u32,
    /// Whether the TEID is one of the dedicated bearer's.
    pub in_bearer: bool,
    /// SSRC.
    pub ssrc: u32,
    /// Codec.
    pub codec: Option<&'static str>,
    /// Packets.
    pub packets: u64,
    /// Lost packets.
    pub lost: i64,
    /// Loss, %.
    pub lost_percent: f64,
    /// MOS (adaptive jitter buffer), when rated.
    pub mos: Option<f64>,
}

/// The media of the call seen inside GTP-U, by direction from the UE.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct RtpLeg {
    /// Sent by the UE.
    pub uplink: Vec<RtpLegStream>,
    /// Sent to the UE.
    pub downlink: Vec<RtpLegStream>,
}

impl RtpLeg {
    /// Whether any stream is in the dedicated bearer.
    pub fn in_bearer(&self) -> bool {
        self.uplink
            .iter()
            .chain(&self.downlink)
            .any(|s| s.in_bearer)
    }
}

/// The legs of one VoLTE call.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct VolteLegs {
    /// The call's UE and its legs (the caller's when both ends are UEs and
    /// the first found).
    #[serde(flatten)]
    pub ue: UeLegs,
    /// ICID (P-Charging-Vector).
    pub icid: Option<String>,
    /// VoLTE state.
    pub state: VolteState,
    /// The leg that failed: `rx`, `gx`, `bearer`, `sip`.
    pub failed_leg: Option<&'static str>,
    /// Why the call is in its state, for a failed, cancelled or completed
    /// call: `Rx AAA 5065`, `Create Bearer cause 73`, `SIP 503 Service
    /// Unavailable (Q.850 34)`, `CANCEL from the caller`, `BYE from the callee`.
    pub state_reason: Option<String>,
    /// The other end's legs, when it is a VoLTE UE seen in the same capture
    /// too (a call between two UEs of one core: each has its Rx session,
    /// Gx rule and dedicated bearer).
    pub remote_ue: Option<Box<UeLegs>>,
}

/// The legs of one UE of a call.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct UeLegs {
    /// IMSI of the UE.
    pub imsi: Option<String>,
    /// MSISDN of the UE.
    pub msisdn: Option<String>,
    /// UE address the legs were joined on.
    pub ue_ip: Option<IpAddr>,
    /// Rx leg.
    pub rx_leg: Option<RxLeg>,
    /// Gx leg.
    pub gx_leg: Option<GxLeg>,
    /// Dedicated bearer leg.
    pub bearer_leg: Option<BearerLeg>,
    /// Media inside GTP-U.
    pub rtp_leg: Option<RtpLeg>,
}

/// The policy or bearer leg that failed among one UE's, and why.
fn leg_failure(
    rx: Option<&RxLeg>,
    gx: Option<&GxLeg>,
    bearer: Option<&BearerLeg>,
) -> Option<(&'static str, String)> {
    let bad = |c: Option<u32>| c.is_some_and(|c| c != DIAMETER_SUCCESS);
    let code = |c: Option<u32>| c.map_or_else(|| "without a result".to_owned(), |c| c.to_string());
    if let Some(l) = rx.filter(|l| bad(l.result_code)) {
        return Some(("rx", format!("Rx AAA {}", code(l.result_code))));
    }
    if let Some(l) = gx.filter(|l| bad(l.result_code)) {
        let answer = if l.command == "rar" { "RAA" } else { "CCA" };
        return Some(("gx", format!("Gx {answer} {}", code(l.result_code))));
    }
    let cause = bearer
        .and_then(|b| b.cause)
        .filter(|c| *c != GTP_REQUEST_ACCEPTED)?;
    Some(("bearer", format!("Create Bearer cause {cause}")))
}

impl VolteLegs {
    /// Decides `failed_leg` and `state` from the legs (this UE's first,
    /// then the remote UE's) and the SIP call.
    pub fn settle(&mut self, record: &CallRecord) {
        let failure = leg_failure(
            self.ue.rx_leg.as_ref(),
            self.ue.gx_leg.as_ref(),
            self.ue.bearer_leg.as_ref(),
        )
        .or_else(|| {
            let r = self.remote_ue.as_deref()?;
            let (leg, why) =
                leg_failure(r.rx_leg.as_ref(), r.gx_leg.as_ref(), r.bearer_leg.as_ref())?;
            Some((leg, format!("{why} (remote UE)")))
        });
        let (leg_failed, leg_reason) = failure.unzip();
        self.failed_leg = if leg_failed.is_some() {
            leg_failed
        } else if record.outcome != Outcome::Cancelled
            && record.call.final_code.is_some_and(|c| c >= 400)
        {
            Some("sip")
        } else {
            None
        };
        let media = !record.streams.is_empty();
        self.state = if record.outcome == Outcome::Cancelled {
            VolteState::Cancelled
        } else if self.failed_leg.is_some() {
            VolteState::Failed
        } else {
            match record.call.state {
                CallState::Initiating => VolteState::Initiating,
                CallState::Trying => VolteState::Trying,
                CallState::Ringing | CallState::EarlyMedia => VolteState::Ringing,
                CallState::Answered | CallState::Confirmed if media => VolteState::MediaActive,
                CallState::Answered => VolteState::Answered,
                CallState::Confirmed => VolteState::Confirmed,
                CallState::Terminating => VolteState::Terminating,
                CallState::Completed => VolteState::Completed,
                CallState::Failed => VolteState::Failed,
                CallState::Cancelled => VolteState::Cancelled,
            }
        };
        self.state_reason = match (self.state, leg_reason) {
            (VolteState::Failed, Some(why)) => Some(why),
            _ => self.reason(record),
        };
    }

    fn reason(&self, record: &CallRecord) -> Option<String> {
        let call = &record.call;
        let side = |s: Option<Side>| match s {
            Some(Side::Caller) => " from the caller",
            Some(Side::Callee) => " from the callee",
            None => "",
        };
        match self.state {
            VolteState::Cancelled => Some(format!("CANCEL{}", side(call.hangup_by))),
            VolteState::Failed => call.final_code.map(|c| {
                let mut r = format!("SIP {c}");
                if let Some(phrase) = call.final_reason().filter(|p| !p.is_empty()) {
                    r.push(' ');
                    r.push_str(phrase);
                }
                if let Some(q850) = call.q850_cause {
                    r.push_str(&format!(" (Q.850 {q850})"));
                }
                r
            }),
            VolteState::Completed | VolteState::Terminating => {
                Some(format!("BYE{}", side(call.hangup_by)))
            }
            _ => None,
        }
    }
}

/// Timings of a VoLTE call, ms.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct VolteMetrics {
    /// INVITE → 2xx.
    pub setup_time_ms: Option<f64>,
    /// INVITE → first 18x.
    pub post_dial_delay_ms: Option<f64>,
    /// First 18x → 2xx.
    pub answer_delay_ms: Option<f64>,
    /// Create Bearer Request → Response.
    pub bearer_setup_time_ms: Option<f64>,
    /// AAR → AAA.
    pub rx_authorization_time_ms: Option<f64>,
    /// RAR → RAA or CCR → CCA.
    pub gx_policy_time_ms: Option<f64>,
    /// INVITE → end of the call.
    pub total_call_duration_ms: Option<f64>,
    /// First to last RTP packet.
    pub media_duration_ms: Option<f64>,
}

impl VolteMetrics {
    /// The timings of a call with VoLTE legs (`None` without).
    pub fn of(record: &CallRecord) -> Option<VolteMetrics> {
        let legs = record.volte.as_ref()?;
        Some(VolteMetrics {
            setup_time_ms: record.setup_ms(),
            post_dial_delay_ms: record.pdd_ms(),
            answer_delay_ms: record.answer_delay_ms(),
            bearer_setup_time_ms: legs
                .ue
                .bearer_leg
                .as_ref()
                .and_then(|b| b.request_to_response_ms),
            rx_authorization_time_ms: legs.ue.rx_leg.as_ref().and_then(|l| l.aar_to_aaa_ms),
            gx_policy_time_ms: legs.ue.gx_leg.as_ref().and_then(|l| l.latency_ms),
            total_call_duration_ms: record
                .end_time
                .map(|e| e.millis_since(record.call.invite_time)),
            media_duration_ms: record.media_duration_s.map(|s| s * 1000.0),
        })
    }
}
