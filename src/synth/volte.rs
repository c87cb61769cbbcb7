//! VoLTE scenarios: per call, the EPC and IMS signalling a passive probe
//! sees around one mobile-originated voice call, with exact known times.
//!
//! For each call: GTPv2-C Create Session Request/Response (S11, MME ↔ SGW,
//! UDP 2123: IMSI, MSISDN, PAA with the UE's IPv4, F-TEIDs, default bearer
//! EBI 5 QCI 5), a Gx CCR-I/CCA-I (PGW ↔ PCRF, TCP 3868: Subscription-Id,
//! Framed-IP-Address), the SIP INVITE dialog between the UE and the P-CSCF
//! (P-Charging-Vector icid-value, SDP with AMR-WB/16000 or PCMU), Rx AAR/AAA
//! (P-CSCF ↔ PCRF, TCP 3868: AF-Charging-Identifier = the ICID,
//! Framed-IP-Address, Media-Component-Description), Gx RAR/RAA
//! (Charging-Rule-Install, QCI 1, GBR), Create Bearer Request/Response
//! (EBI 6, QCI 1, GBR, S1-U F-TEIDs) and RTP both ways inside GTP-U (UDP
//! 2152) with the dedicated bearer's TEIDs. Some calls fail at one leg.
//!
//! Layouts: GTPv2-C after TS 29.274 §5.1 (header) and §8 (IEs); DIAMETER
//! after RFC 6733 §3-4 with the Rx (TS 29.214) and Gx (TS 29.212) AVPs.
//!
//! Frames are decided as small `(time, call, event)` records, sorted, then
//! rendered one by one, so a bulk capture of 100 000 calls needs a few tens
//! of MB, not the capture's size.

use super::pcap_writer::PcapWriter;
use super::rng::Rng;
use super::scenario::{BASE_TIME_US, EXPECTED_FORMAT};
use super::truth::ExpectedCapture;
use serde::{Deserialize, Serialize};
use std::io::{self, Write};
use std::net::{Ipv4Addr, SocketAddrV4};

/// Default call count of the `volte-bulk` scenario.
pub const DEFAULT_VOLTE_BULK_CALLS: u64 = 100_000;

/// What the fields of [`ExpectedVolteCall`] are.
pub const VOLTE_DEFINITIONS: &str = "One entry per SIP Call-ID. Latencies are answer time minus \
request time of the packets, in ms from µs packet times (exact). rx_*: the Rx AAR/AAA \
(rx_result is the Result-Code, or the Experimental-Result-Code when the AAA carries one); gx_*: \
the Gx RAR/RAA installing the QCI 1 rule (null when no RAR was sent); bearer_*: the GTPv2-C \
Create Bearer Request/Response of the dedicated bearer (cause of the response; null when no \
request was sent); failed_leg: the first leg that failed, in the order rx, gx, bearer, sip \
(a final SIP response >= 400), else null; setup_ms: INVITE to 200 OK, null when not answered. \
Media: rtp_uplink/rtp_downlink packets inside GTP-U with the dedicated bearer's TEIDs \
(uplink to the SGW's S1-U TEID, downlink to the eNodeB's). At the end of the call: \
rx_str_to_sta_ms, the P-CSCF's STR/STA (null when the AAR was refused); bearer_delete_ms, the \
Delete Bearer Request/Response of the dedicated bearer (null when none was accepted).";

/// The truth of one generated VoLTE call.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ExpectedVolteCall {
    /// Short name saying what the call exercises.
    pub name: String,
    /// SIP Call-ID.
    pub call_id: String,
    /// IMSI of the UE.
    pub imsi: String,
    /// MSISDN of the UE.
    pub msisdn: String,
    /// UE IPv4 address (the PAA of the Create Session Response).
    pub ue_ip: String,
    /// ICID of the P-Charging-Vector and the AF-Charging-Identifier.
    pub icid: String,
    /// Codec of the SDP (`AMR-WB` or `PCMU`).
    pub codec: String,
    /// Rx AAR → AAA, ms.
    pub rx_aar_to_aaa_ms: f64,
    /// Result-Code or Experimental-Result-Code of the AAA.
    pub rx_result: u32,
    /// Gx RAR → RAA, ms (null without a RAR).
    pub gx_rar_to_raa_ms: Option<f64>,
    /// Result-Code of the RAA.
    pub gx_result: Option<u32>,
    /// Create Bearer Request → Response, ms (null without a request).
    pub bearer_request_to_response_ms: Option<f64>,
    /// Cause of the Create Bearer Response.
    pub bearer_cause: Option<u8>,
    /// QCI of the dedicated bearer requested.
    pub bearer_qci: Option<u8>,
    /// Uplink TEID of the dedicated bearer (SGW S1-U).
    pub bearer_uplink_teid: Option<u32>,
    /// Downlink TEID of the dedicated bearer (eNodeB S1-U), when accepted.
    pub bearer_downlink_teid: Option<u32>,
    /// The leg that failed: `rx`, `gx`, `bearer`, `sip`, or null.
    pub failed_leg: Option<String>,
    /// Final SIP response code to the INVITE.
    pub final_code: u16,
    /// INVITE → 200 OK, ms (null when not answered).
    pub setup_ms: Option<f64>,
    /// RTP packets UE → network inside GTP-U.
    pub rtp_uplink: u64,
    /// RTP packets network → UE inside GTP-U.
    pub rtp_downlink: u64,
    /// Rx STR → STA at the end of the call, ms (null when the Rx session
    /// was refused: nothing to end).
    #[serde(default)]
    pub rx_str_to_sta_ms: Option<f64>,
    /// Delete Bearer Request → Response at the end of the call, ms (null
    /// without an accepted dedicated bearer).
    #[serde(default)]
    pub bearer_delete_ms: Option<f64>,
}

/// Where a call fails.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fail {
    None,
    Rx,
    Gx,
    Bearer,
    Sip,
}

impl Fail {
    fn leg(self) -> Option<&'static str> {
        match self {
            Fail::None => None,
            Fail::Rx => Some("rx"),
            Fail::Gx => Some("gx"),
            Fail::Bearer => Some("bearer"),
            Fail::Sip => Some("sip"),
        }
    }
}

/// Rx Experimental-Result-Code: REQUESTED_SERVICE_NOT_AUTHORIZED (TS 29.214 §5.5.3).
const RX_NOT_AUTHORIZED: u32 = 5065;
/// Gx RAA Result-Code: DIAMETER_UNABLE_TO_COMPLY (RFC 6733 §7.1.5).
const GX_UNABLE_TO_COMPLY: u32 = 5012;
/// GTPv2-C cause "No resources available" (TS 29.274 Table 8.4-1).
const CAUSE_NO_RESOURCES: u8 = 73;
/// GTPv2-C cause "Request accepted".
const CAUSE_ACCEPTED: u8 = 16;
const DIAMETER_SUCCESS: u32 = 2001;
const APP_RX: u32 = 16_777_236;
const APP_GX: u32 = 16_777_238;
const VENDOR_3GPP: u32 = 10_415;

/// Signalling address of the MME (S11).
pub const MME: [u8; 4] = [10, 10, 0, 1];
/// Signalling address of the SGW (S11; its Create Bearer hop to the MME is
/// the one the generated calls carry).
pub const SGW_C: [u8; 4] = [10, 10, 0, 2];
const ENB: [u8; 4] = [10, 20, 0, 1];
const SGW_U: [u8; 4] = [10, 20, 0, 2];
const PGW_U: [u8; 4] = [10, 20, 0, 3];
/// The P-CSCF: SIP peer of the UEs and Rx client.
pub const PCSCF: [u8; 4] = [10, 46, 0, 1];
const MEDIA_GW: [u8; 4] = [10, 46, 0, 2];
/// The PCRF (Rx and Gx server).
pub const PCRF: [u8; 4] = [10, 47, 0, 1];
/// The PGW's Gx client address.
pub const PGW_C: [u8; 4] = [10, 48, 0, 1];
const UE_RTP_PORT: u16 = 40_000;

fn sa(ip: [u8; 4], port: u16) -> SocketAddrV4 {
    SocketAddrV4::new(ip.into(), port)
}

/// Everything decided about one call before any frame is written.
#[derive(Clone, Debug)]
struct Call {
    name: &'static str,
    index: u32,
    fail: Fail,
    amr_wb: bool,
    ue_ip: Ipv4Addr,
    imsi: String,
    msisdn: String,
    icid: String,
    call_id: String,
    mme_teid: u32,
    sgw_teid: u32,
    sgw_s1u_default: u32,
    sgw_s1u: u32,
    pgw_s5u: u32,
    enb_s1u: u32,
    ssrc_up: u32,
    ssrc_down: u32,
    gw_port: u16,
    // Times, µs.
    csr: i64,
    csr_lat: i64,
    ccr: i64,
    ccr_lat: i64,
    invite: i64,
    aar: i64,
    rx_lat: i64,
    rar: i64,
    gx_lat: i64,
    cbr: i64,
    bearer_lat: i64,
    ringing: i64,
    answer: i64,
    ack: i64,
    media_start: i64,
    media_packets: u32,
    bye: i64,
    bye_ok: i64,
    final_code: u16,
}

/// One frame to render.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Ev {
    time: i64,
    call: u32,
    kind: Kind,
    n: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Csr,
    CsResp,
    Ccr,
    Cca,
    Invite,
    Aar,
    Aaa,
    Rar,
    Raa,
    Cbr,
    CbResp,
    Ringing,
    Ok,
    Fail,
    Ack,
    RtpUp,
    RtpDown,
    Bye,
    ByeOk,
    Str,
    Sta,
    Dbr,
    DbResp,
}

impl Call {
    /// `media` RTP packets each way; an answered call then stays up `hold_us`
    /// more without packets before its BYE.
    fn plan(
        rng: &mut Rng,
        index: u32,
        start: i64,
        fail: Fail,
        amr_wb: bool,
        media: u32,
        hold_us: i64,
    ) -> Call {
        let name = match fail {
            Fail::None if amr_wb => "ok-amr-wb",
            Fail::None => "ok-pcmu",
            Fail::Rx => "rx-aaa-5065",
            Fail::Gx => "gx-raa-5012",
            Fail::Bearer => "bearer-cause-73",
            Fail::Sip => "sip-503",
        };
        let ue_ip = Ipv4Addr::new(
            10,
            64 + (index >> 16) as u8,
            (index >> 8) as u8,
            index as u8,
        );
        let imsi = format!("001010{:09}", 100_000_000 + u64::from(index));
        let msisdn = format!("1555{:07}", 1_000_000 + u64::from(index));
        let icid = format!("{:016x}-{index}", rng.next_u64());
        let call_id = format!("{:012x}-{index}@{ue_ip}", rng.next_u64() >> 16);
        let teid = |rng: &mut Rng, base: u32| base | (index << 4) | (rng.below(16) as u32);
        let mme_teid = teid(rng, 0x1000_0000);
        let sgw_teid = teid(rng, 0x2000_0000);
        let sgw_s1u_default = teid(rng, 0x3000_0000);
        let sgw_s1u = teid(rng, 0x4000_0000);
        let pgw_s5u = teid(rng, 0x5000_0000);
        let enb_s1u = teid(rng, 0x6000_0000);
        let ssrc_up = rng.range(1, u64::from(u32::MAX)) as u32;
        let ssrc_down = rng.range(1, u64::from(u32::MAX)) as u32;
        let gw_port = 20_000 + 2 * rng.below(5_000) as u16;
        let csr = start;
        let csr_lat = rng.range(800, 5_000) as i64;
        let ccr = csr + csr_lat + 2_000;
        let ccr_lat = rng.range(1_000, 8_000) as i64;
        let invite = start + 500_000;
        let aar = invite + rng.range(2_000, 6_000) as i64;
        let rx_lat = rng.range(2_000, 20_000) as i64;
        let rar = aar + rx_lat + rng.range(500, 2_000) as i64;
        let gx_lat = rng.range(1_000, 12_000) as i64;
        let cbr = rar + gx_lat + rng.range(500, 2_000) as i64;
        let bearer_lat = rng.range(5_000, 60_000) as i64;
        let (ringing, answer, ack, final_code) = match fail {
            Fail::Rx => (0, 0, aar + rx_lat + 5_000, 503),
            Fail::Gx => (0, 0, rar + gx_lat + 5_000, 503),
            Fail::Bearer => (0, 0, cbr + bearer_lat + 5_000, 503),
            Fail::Sip => (
                0,
                0,
                cbr + bearer_lat + rng.range(50_000, 300_000) as i64,
                503,
            ),
            Fail::None => {
                let ringing = cbr + bearer_lat + rng.range(20_000, 80_000) as i64;
                let answer = ringing + rng.range(200_000, 2_000_000) as i64;
                (
                    ringing,
                    answer,
                    answer + rng.range(10_000, 40_000) as i64,
                    200,
                )
            }
        };
        let media_packets = if fail == Fail::None { media } else { 0 };
        let media_start = ack + 10_000;
        let bye = media_start + i64::from(media_packets) * 20_000 + 20_000 + hold_us;
        Call {
            name,
            index,
            fail,
            amr_wb,
            ue_ip,
            imsi,
            msisdn,
            icid,
            call_id,
            mme_teid,
            sgw_teid,
            sgw_s1u_default,
            sgw_s1u,
            pgw_s5u,
            enb_s1u,
            ssrc_up,
            ssrc_down,
            gw_port,
            csr,
            csr_lat,
            ccr,
            ccr_lat,
            invite,
            aar,
            rx_lat,
            rar,
            gx_lat,
            cbr,
            bearer_lat,
            ringing,
            answer,
            ack,
            media_start,
            media_packets,
            bye,
            bye_ok: bye + rng.range(2_000, 10_000) as i64,
            final_code,
        }
    }

    fn events(&self, out: &mut Vec<Ev>) {
        let call = self.index;
        let mut push = |time: i64, kind: Kind, n: u32| {
            out.push(Ev {
                time,
                call,
                kind,
                n,
            })
        };
        push(self.csr, Kind::Csr, 0);
        push(self.csr + self.csr_lat, Kind::CsResp, 0);
        push(self.ccr, Kind::Ccr, 0);
        push(self.ccr + self.ccr_lat, Kind::Cca, 0);
        push(self.invite, Kind::Invite, 0);
        push(self.aar, Kind::Aar, 0);
        push(self.aar + self.rx_lat, Kind::Aaa, 0);
        if self.fail == Fail::Rx {
            push(self.ack - 2_000, Kind::Fail, 0);
            push(self.ack, Kind::Ack, 0);
            return;
        }
        push(self.rar, Kind::Rar, 0);
        push(self.rar + self.gx_lat, Kind::Raa, 0);
        if self.fail == Fail::Gx {
            push(self.ack - 2_000, Kind::Fail, 0);
            push(self.ack, Kind::Ack, 0);
            self.release(self.ack, &mut push);
            return;
        }
        push(self.cbr, Kind::Cbr, 0);
        push(self.cbr + self.bearer_lat, Kind::CbResp, 0);
        if self.fail != Fail::None {
            push(self.ack - 2_000, Kind::Fail, 0);
            push(self.ack, Kind::Ack, 0);
            self.release(self.ack, &mut push);
            return;
        }
        push(self.ringing, Kind::Ringing, 0);
        push(self.answer, Kind::Ok, 0);
        push(self.ack, Kind::Ack, 0);
        for k in 0..self.media_packets {
            let t = self.media_start + i64::from(k) * 20_000;
            push(t, Kind::RtpUp, k);
            push(t + 7_000, Kind::RtpDown, k);
        }
        push(self.bye, Kind::Bye, 0);
        push(self.bye_ok, Kind::ByeOk, 0);
        self.release(self.bye_ok, &mut push);
    }

    /// The end of a call's policy and bearer once its dialog ended at
    /// `end`: the P-CSCF's STR (the Rx session exists: its AAR was
    /// accepted), then the Delete Bearer of an accepted dedicated bearer.
    /// Latencies follow from the set-up's, drawing nothing from the random
    /// stream (the calls' other frames stay as they were).
    fn release(&self, end: i64, push: &mut impl FnMut(i64, Kind, u32)) {
        if let Some(lat) = self.str_lat() {
            push(end + 1_000, Kind::Str, 0);
            push(end + 1_000 + lat, Kind::Sta, 0);
        }
        if let Some(lat) = self.delete_lat() {
            push(end + 3_000, Kind::Dbr, 0);
            push(end + 3_000 + lat, Kind::DbResp, 0);
        }
    }

    /// STR → STA, µs, when the call's Rx session was accepted.
    fn str_lat(&self) -> Option<i64> {
        (self.fail != Fail::Rx).then_some(self.rx_lat / 2 + 300)
    }

    /// Delete Bearer Request → Response, µs, when its dedicated bearer was
    /// accepted.
    fn delete_lat(&self) -> Option<i64> {
        matches!(self.fail, Fail::None | Fail::Sip).then_some(self.bearer_lat + 500)
    }

    fn truth(&self) -> ExpectedVolteCall {
        let ms = |us: i64| us as f64 / 1000.0;
        let rar = self.fail != Fail::Rx;
        let cbr = rar && self.fail != Fail::Gx;
        let accepted = cbr && self.fail != Fail::Bearer;
        ExpectedVolteCall {
            name: self.name.to_owned(),
            call_id: self.call_id.clone(),
            imsi: self.imsi.clone(),
            msisdn: self.msisdn.clone(),
            ue_ip: self.ue_ip.to_string(),
            icid: self.icid.clone(),
            codec: if self.amr_wb { "AMR-WB" } else { "PCMU" }.to_owned(),
            rx_aar_to_aaa_ms: ms(self.rx_lat),
            rx_result: self.rx_result(),
            gx_rar_to_raa_ms: rar.then(|| ms(self.gx_lat)),
            gx_result: rar.then(|| self.gx_result()),
            bearer_request_to_response_ms: cbr.then(|| ms(self.bearer_lat)),
            bearer_cause: cbr.then(|| self.bearer_cause()),
            bearer_qci: cbr.then_some(1),
            bearer_uplink_teid: cbr.then_some(self.sgw_s1u),
            bearer_downlink_teid: accepted.then_some(self.enb_s1u),
            failed_leg: self.fail.leg().map(str::to_owned),
            final_code: self.final_code,
            setup_ms: (self.fail == Fail::None).then(|| ms(self.answer - self.invite)),
            rtp_uplink: u64::from(self.media_packets),
            rtp_downlink: u64::from(self.media_packets),
            rx_str_to_sta_ms: self.str_lat().map(ms),
            bearer_delete_ms: self.delete_lat().map(ms),
        }
    }

    fn rx_result(&self) -> u32 {
        if self.fail == Fail::Rx {
            RX_NOT_AUTHORIZED
        } else {
            DIAMETER_SUCCESS
        }
    }

    fn gx_result(&self) -> u32 {
        if self.fail == Fail::Gx {
            GX_UNABLE_TO_COMPLY
        } else {
            DIAMETER_SUCCESS
        }
    }

    fn bearer_cause(&self) -> u8 {
        if self.fail == Fail::Bearer {
            CAUSE_NO_RESOURCES
        } else {
            CAUSE_ACCEPTED
        }
    }
}

// ---------------------------------------------------------------- GTPv2-C

/// TBCD digits (TS 29.274 §8.3: low nibble first, 0xF filler).
fn tbcd(digits: &str) -> Vec<u8> {
    let d: Vec<u8> = digits.bytes().map(|b| b - b'0').collect();
    d.chunks(2)
        .map(|c| c[0] | (c.get(1).copied().unwrap_or(0xf) << 4))
        .collect()
}

/// One IE: type, length, spare/instance, value (TS 29.274 §8.2.1).
fn ie(out: &mut Vec<u8>, kind: u8, instance: u8, value: &[u8]) {
    out.push(kind);
    out.extend_from_slice(&(value.len() as u16).to_be_bytes());
    out.push(instance & 0x0f);
    out.extend_from_slice(value);
}

/// F-TEID (type 87) with an IPv4 address (§8.22).
fn fteid(out: &mut Vec<u8>, instance: u8, interface: u8, teid: u32, ip: [u8; 4]) {
    let mut v = vec![0x80 | (interface & 0x3f)];
    v.extend_from_slice(&teid.to_be_bytes());
    v.extend_from_slice(&ip);
    ie(out, 87, instance, &v);
}

/// Bearer QoS (type 80, §8.15): ARP, QCI, MBR/GBR as 5-octet kbit/s.
fn bearer_qos(out: &mut Vec<u8>, qci: u8, mbr: u64, gbr: u64) {
    let mut v = vec![(2 << 2) | 0x01, qci]; // PL 2, PCI on, PVI off
    for rate in [mbr, mbr, gbr, gbr] {
        v.extend_from_slice(&rate.to_be_bytes()[3..8]);
    }
    ie(out, 80, 0, &v);
}

fn cause(out: &mut Vec<u8>, value: u8) {
    ie(out, 2, 0, &[value, 0]);
}

/// A GTPv2-C message with TEID (§5.1): flags 0x48, type, length, TEID,
/// sequence (3 octets), spare.
fn gtpv2(kind: u8, teid: u32, seq: u32, ies: &[u8]) -> Vec<u8> {
    let mut m = vec![0x48, kind];
    m.extend_from_slice(&((ies.len() + 8) as u16).to_be_bytes());
    m.extend_from_slice(&teid.to_be_bytes());
    m.extend_from_slice(&(seq << 8).to_be_bytes());
    m.extend_from_slice(ies);
    m
}

/// Interface types of F-TEIDs (§8.22 Table 8.22-1).
mod iface {
    pub const S1U_ENB: u8 = 0;
    pub const S1U_SGW: u8 = 1;
    pub const S5_PGW_U: u8 = 5;
    pub const S5_PGW_C: u8 = 7;
    pub const S11_MME: u8 = 10;
    pub const S11_SGW: u8 = 11;
}

fn create_session_request(c: &Call) -> Vec<u8> {
    let mut b = Vec::new();
    ie(&mut b, 1, 0, &tbcd(&c.imsi));
    ie(&mut b, 76, 0, &tbcd(&c.msisdn));
    ie(&mut b, 82, 0, &[6]); // RAT type EUTRAN
    fteid(&mut b, 0, iface::S11_MME, c.mme_teid, MME);
    fteid(&mut b, 1, iface::S5_PGW_C, 0, PGW_C);
    ie(&mut b, 71, 0, b"\x03ims");
    ie(&mut b, 99, 0, &[1]); // PDN type IPv4
    ie(&mut b, 79, 0, &[1, 0, 0, 0, 0]); // PAA, address to be allocated
    let mut ctx = Vec::new();
    ie(&mut ctx, 73, 0, &[5]);
    bearer_qos(&mut ctx, 5, 0, 0);
    ie(&mut b, 93, 0, &ctx);
    gtpv2(32, 0, seq_of(c, 1), &b)
}

fn create_session_response(c: &Call) -> Vec<u8> {
    let mut b = Vec::new();
    cause(&mut b, CAUSE_ACCEPTED);
    fteid(&mut b, 0, iface::S11_SGW, c.sgw_teid, SGW_C);
    let mut paa = vec![1];
    paa.extend_from_slice(&c.ue_ip.octets());
    ie(&mut b, 79, 0, &paa);
    let mut ctx = Vec::new();
    ie(&mut ctx, 73, 0, &[5]);
    cause(&mut ctx, CAUSE_ACCEPTED);
    fteid(&mut ctx, 0, iface::S1U_SGW, c.sgw_s1u_default, SGW_U);
    ie(&mut b, 93, 0, &ctx);
    gtpv2(33, c.mme_teid, seq_of(c, 1), &b)
}

/// GBR of the voice bearer, kbit/s.
fn gbr_kbps(c: &Call) -> u64 {
    if c.amr_wb {
        38
    } else {
        88
    }
}

fn create_bearer_request(c: &Call) -> Vec<u8> {
    let mut b = Vec::new();
    ie(&mut b, 73, 0, &[5]); // Linked EPS bearer ID
    let mut ctx = Vec::new();
    ie(&mut ctx, 73, 0, &[0]); // EBI assigned by the MME
    bearer_qos(&mut ctx, 1, gbr_kbps(c), gbr_kbps(c));
    fteid(&mut ctx, 0, iface::S1U_SGW, c.sgw_s1u, SGW_U);
    fteid(&mut ctx, 1, iface::S5_PGW_U, c.pgw_s5u, PGW_U);
    ie(&mut b, 93, 0, &ctx);
    gtpv2(95, c.mme_teid, seq_of(c, 2), &b)
}

fn create_bearer_response(c: &Call) -> Vec<u8> {
    let mut b = Vec::new();
    let value = c.bearer_cause();
    cause(&mut b, value);
    let mut ctx = Vec::new();
    if value == CAUSE_ACCEPTED {
        ie(&mut ctx, 73, 0, &[6]);
        cause(&mut ctx, value);
        fteid(&mut ctx, 0, iface::S1U_ENB, c.enb_s1u, ENB);
        fteid(&mut ctx, 1, iface::S1U_SGW, c.sgw_s1u, SGW_U);
    } else {
        ie(&mut ctx, 73, 0, &[0]);
        cause(&mut ctx, value);
    }
    ie(&mut b, 93, 0, &ctx);
    gtpv2(96, c.sgw_teid, seq_of(c, 2), &b)
}

/// Delete Bearer Request: the bearer the Create Bearer set up (EBI 6),
/// named in the EPS Bearer IDs IE (EBI, instance 1).
fn delete_bearer_request(c: &Call) -> Vec<u8> {
    let mut b = Vec::new();
    ie(&mut b, 73, 1, &[6]);
    gtpv2(99, c.mme_teid, seq_of(c, 3), &b)
}

fn delete_bearer_response(c: &Call) -> Vec<u8> {
    let mut b = Vec::new();
    cause(&mut b, CAUSE_ACCEPTED);
    let mut ctx = Vec::new();
    ie(&mut ctx, 73, 0, &[6]);
    cause(&mut ctx, CAUSE_ACCEPTED);
    ie(&mut b, 93, 0, &ctx);
    gtpv2(100, c.sgw_teid, seq_of(c, 3), &b)
}

fn seq_of(c: &Call, k: u32) -> u32 {
    ((c.index << 1) | (k & 1)) & 0x00ff_ffff
}

// ---------------------------------------------------------------- DIAMETER

/// One AVP (RFC 6733 §4.1): code, flags (V 0x80, M 0x40), length, vendor,
/// data, padding to 4 octets.
fn avp(out: &mut Vec<u8>, code: u32, vendor: Option<u32>, data: &[u8]) {
    let header = if vendor.is_some() { 12 } else { 8 };
    out.extend_from_slice(&code.to_be_bytes());
    let flags: u8 = if vendor.is_some() { 0xc0 } else { 0x40 };
    let len = (header + data.len()) as u32;
    out.push(flags);
    out.extend_from_slice(&len.to_be_bytes()[1..]);
    if let Some(v) = vendor {
        out.extend_from_slice(&v.to_be_bytes());
    }
    out.extend_from_slice(data);
    out.resize(out.len() + (4 - data.len() % 4) % 4, 0);
}

fn avp_u32(out: &mut Vec<u8>, code: u32, vendor: Option<u32>, v: u32) {
    avp(out, code, vendor, &v.to_be_bytes());
}

const V: Option<u32> = Some(VENDOR_3GPP);

/// A DIAMETER message (RFC 6733 §3): version 1, length, flags (R 0x80,
/// P 0x40), command, application, hop-by-hop, end-to-end.
fn diameter(request: bool, command: u32, app: u32, hbh: u32, avps: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(20 + avps.len());
    m.extend_from_slice(&((20 + avps.len()) as u32 | 0x0100_0000).to_be_bytes());
    let flags: u32 = if request { 0xc0 } else { 0x40 };
    m.extend_from_slice(&((flags << 24) | command).to_be_bytes());
    m.extend_from_slice(&app.to_be_bytes());
    m.extend_from_slice(&hbh.to_be_bytes());
    m.extend_from_slice(&(hbh ^ 0x5a5a_0000).to_be_bytes());
    m.extend_from_slice(avps);
    m
}

fn origin(out: &mut Vec<u8>, host: &str) {
    avp(out, 264, None, host.as_bytes());
    avp(out, 296, None, b"epc.example");
}

fn rx_session(c: &Call) -> String {
    format!("pcscf.ims.example;{};rx", c.index)
}

fn gx_session(c: &Call) -> String {
    format!("pgw.epc.example;{};gx", c.index)
}

fn hbh(c: &Call, k: u32) -> u32 {
    (c.index << 2) | k
}

fn ccr(c: &Call) -> Vec<u8> {
    let mut b = Vec::new();
    avp(&mut b, 263, None, gx_session(c).as_bytes());
    avp_u32(&mut b, 258, None, APP_GX);
    origin(&mut b, "pgw.epc.example");
    avp(&mut b, 283, None, b"epc.example");
    avp_u32(&mut b, 416, None, 1); // CC-Request-Type INITIAL_REQUEST
    avp_u32(&mut b, 415, None, 0);
    for (kind, data) in [(1, &c.imsi), (0, &c.msisdn)] {
        let mut s = Vec::new();
        avp_u32(&mut s, 450, None, kind); // END_USER_IMSI 1, END_USER_E164 0
        avp(&mut s, 444, None, data.as_bytes());
        avp(&mut b, 443, None, &s);
    }
    avp(&mut b, 8, None, &c.ue_ip.octets());
    diameter(true, 272, APP_GX, hbh(c, 0), &b)
}

fn cca(c: &Call) -> Vec<u8> {
    let mut b = Vec::new();
    avp(&mut b, 263, None, gx_session(c).as_bytes());
    avp_u32(&mut b, 258, None, APP_GX);
    origin(&mut b, "pcrf.epc.example");
    avp_u32(&mut b, 268, None, DIAMETER_SUCCESS);
    avp_u32(&mut b, 416, None, 1);
    avp_u32(&mut b, 415, None, 0);
    diameter(false, 272, APP_GX, hbh(c, 0), &b)
}

fn aar(c: &Call) -> Vec<u8> {
    let mut b = Vec::new();
    avp(&mut b, 263, None, rx_session(c).as_bytes());
    avp_u32(&mut b, 258, None, APP_RX);
    origin(&mut b, "pcscf.ims.example");
    avp(&mut b, 283, None, b"epc.example");
    avp(&mut b, 505, V, c.icid.as_bytes());
    avp(&mut b, 8, None, &c.ue_ip.octets());
    let mut mcd = Vec::new();
    avp_u32(&mut mcd, 518, V, 1); // Media-Component-Number
    avp_u32(&mut mcd, 520, V, 0); // Media-Type AUDIO
    let bw = gbr_kbps(c) as u32 * 1000;
    avp_u32(&mut mcd, 516, V, bw); // Max-Requested-Bandwidth-UL
    avp_u32(&mut mcd, 515, V, bw); // Max-Requested-Bandwidth-DL
    let mut sub = Vec::new();
    avp_u32(&mut sub, 509, V, 1); // Flow-Number
    let (gw, ue) = (Ipv4Addr::from(MEDIA_GW), c.ue_ip);
    let out = format!(
        "permit out 17 from {gw} {} to {ue} {UE_RTP_PORT}",
        c.gw_port
    );
    let inn = format!("permit in 17 from {ue} {UE_RTP_PORT} to {gw} {}", c.gw_port);
    avp(&mut sub, 507, V, out.as_bytes());
    avp(&mut sub, 507, V, inn.as_bytes());
    avp(&mut mcd, 519, V, &sub);
    avp(&mut b, 517, V, &mcd);
    diameter(true, 265, APP_RX, hbh(c, 1), &b)
}

fn result(b: &mut Vec<u8>, code: u32) {
    if code == DIAMETER_SUCCESS || code == GX_UNABLE_TO_COMPLY {
        avp_u32(b, 268, None, code);
    } else {
        let mut e = Vec::new();
        avp_u32(&mut e, 266, None, VENDOR_3GPP);
        avp_u32(&mut e, 298, None, code);
        avp(b, 297, None, &e);
    }
}

fn aaa(c: &Call) -> Vec<u8> {
    let mut b = Vec::new();
    avp(&mut b, 263, None, rx_session(c).as_bytes());
    avp_u32(&mut b, 258, None, APP_RX);
    origin(&mut b, "pcrf.epc.example");
    result(&mut b, c.rx_result());
    diameter(false, 265, APP_RX, hbh(c, 1), &b)
}

fn rar(c: &Call) -> Vec<u8> {
    let mut b = Vec::new();
    avp(&mut b, 263, None, gx_session(c).as_bytes());
    avp_u32(&mut b, 258, None, APP_GX);
    origin(&mut b, "pcrf.epc.example");
    avp(&mut b, 283, None, b"epc.example");
    avp(&mut b, 293, None, b"pgw.epc.example");
    avp_u32(&mut b, 285, None, 0); // Re-Auth-Request-Type AUTHORIZE_ONLY
    let mut qos = Vec::new();
    avp_u32(&mut qos, 1028, V, 1); // QCI
    let gbr = gbr_kbps(c) as u32 * 1000;
    avp_u32(&mut qos, 1026, V, gbr); // Guaranteed-Bitrate-UL
    avp_u32(&mut qos, 1025, V, gbr); // Guaranteed-Bitrate-DL
    let mut arp = Vec::new();
    avp_u32(&mut arp, 1046, V, 2); // Priority-Level
    avp(&mut qos, 1034, V, &arp);
    let mut def = Vec::new();
    avp(&mut def, 1005, V, format!("voice-{}", c.index).as_bytes());
    avp(&mut def, 1016, V, &qos);
    let mut install = Vec::new();
    avp(&mut install, 1003, V, &def);
    avp(&mut b, 1001, V, &install);
    diameter(true, 258, APP_GX, hbh(c, 2), &b)
}

/// Session-Termination-Request (TS 29.214 §5.6.4): Termination-Cause
/// DIAMETER_LOGOUT (1).
fn str_request(c: &Call) -> Vec<u8> {
    let mut b = Vec::new();
    avp(&mut b, 263, None, rx_session(c).as_bytes());
    avp_u32(&mut b, 258, None, APP_RX);
    origin(&mut b, "pcscf.ims.example");
    avp(&mut b, 283, None, b"epc.example");
    avp_u32(&mut b, 295, None, 1);
    diameter(true, 275, APP_RX, hbh(c, 3), &b)
}

fn sta(c: &Call) -> Vec<u8> {
    let mut b = Vec::new();
    avp(&mut b, 263, None, rx_session(c).as_bytes());
    origin(&mut b, "pcrf.epc.example");
    avp_u32(&mut b, 268, None, DIAMETER_SUCCESS);
    diameter(false, 275, APP_RX, hbh(c, 3), &b)
}

fn raa(c: &Call) -> Vec<u8> {
    let mut b = Vec::new();
    avp(&mut b, 263, None, gx_session(c).as_bytes());
    origin(&mut b, "pgw.epc.example");
    result(&mut b, c.gx_result());
    diameter(false, 258, APP_GX, hbh(c, 2), &b)
}

// ---------------------------------------------------------------- SIP

fn sdp(ip: Ipv4Addr, port: u16, amr_wb: bool, session: u32) -> String {
    let (pt, map) = if amr_wb {
        (
            97,
            "a=rtpmap:97 AMR-WB/16000\r\na=fmtp:97 octet-align=1\r\n",
        )
    } else {
        (0, "a=rtpmap:0 PCMU/8000\r\n")
    };
    format!(
        "v=0\r\no=- {session} 1 IN IP4 {ip}\r\ns=-\r\nc=IN IP4 {ip}\r\nt=0 0\r\n\
         m=audio {port} RTP/AVP {pt}\r\n{map}a=ptime:20\r\na=sendrecv\r\n"
    )
}

fn sip_message(c: &Call, start: &str, cseq: &str, to_tag: bool, body: Option<String>) -> Vec<u8> {
    let ue = c.ue_ip;
    let mut m = format!(
        "{start}\r\nVia: SIP/2.0/UDP {ue}:5060;branch=z9hG4bK{}{}\r\n\
         From: <sip:+{}@ims.example>;tag=ue{}\r\nTo: <sip:+15550000000@ims.example>{}\r\n\
         Call-ID: {}\r\nCSeq: {cseq}\r\nContact: <sip:+{}@{ue}:5060>\r\n\
         P-Charging-Vector: icid-value={}\r\nMax-Forwards: 70\r\n",
        c.index,
        cseq.split(' ').nth(1).unwrap_or_default(),
        c.msisdn,
        c.index,
        if to_tag { ";tag=pcscf" } else { "" },
        c.call_id,
        c.msisdn,
        c.icid,
    );
    match body {
        Some(b) => {
            m.push_str(&format!(
                "Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{b}",
                b.len()
            ));
        }
        None => m.push_str("Content-Length: 0\r\n\r\n"),
    }
    m.into_bytes()
}

// ---------------------------------------------------------------- RTP in GTP-U

fn rtp_in_gtpu(c: &Call, up: bool, k: u32, out: &mut Vec<u8>) {
    // AMR-WB octet-aligned (RFC 4867 §4.4): CMR 15, one ToC (FT 2, 12.65
    // kbit/s, Q 1), 32 speech octets; PCMU: 160 samples.
    let (pt, samples, payload) = if c.amr_wb {
        (97u8, 320u32, 32usize)
    } else {
        (0, 160, 160)
    };
    let ssrc = if up { c.ssrc_up } else { c.ssrc_down };
    let mut rtp = vec![0x80, pt | if k == 0 { 0x80 } else { 0 }];
    rtp.extend_from_slice(&((ssrc as u16).wrapping_add(k as u16)).to_be_bytes());
    rtp.extend_from_slice(&(ssrc.rotate_left(7).wrapping_add(k * samples)).to_be_bytes());
    rtp.extend_from_slice(&ssrc.to_be_bytes());
    if c.amr_wb {
        rtp.extend_from_slice(&[0xf0, 0x14]);
    }
    rtp.extend((0..payload).map(|i| (i as u32 ^ k ^ ssrc) as u8 | 1));
    let gw = Ipv4Addr::from(MEDIA_GW);
    let (src, dst, sport, dport) = if up {
        (c.ue_ip, gw, UE_RTP_PORT, c.gw_port)
    } else {
        (gw, c.ue_ip, c.gw_port, UE_RTP_PORT)
    };
    let udp_len = 8 + rtp.len();
    let ip_len = 20 + udp_len;
    let mut ip = vec![0x45, 0xb8];
    ip.extend_from_slice(&(ip_len as u16).to_be_bytes());
    ip.extend_from_slice(&(k as u16).to_be_bytes());
    ip.extend_from_slice(&[0x40, 0, 64, 17, 0, 0]);
    ip.extend_from_slice(&src.octets());
    ip.extend_from_slice(&dst.octets());
    let sum = super::pcap_writer::ipv4_checksum(&ip);
    ip[10..12].copy_from_slice(&sum.to_be_bytes());
    ip.extend_from_slice(&sport.to_be_bytes());
    ip.extend_from_slice(&dport.to_be_bytes());
    ip.extend_from_slice(&(udp_len as u16).to_be_bytes());
    ip.extend_from_slice(&[0, 0]);
    ip.extend_from_slice(&rtp);
    // GTP-U G-PDU (TS 29.281 §5.1): version 1, PT 1, no options.
    let teid = if up { c.sgw_s1u } else { c.enb_s1u };
    out.clear();
    out.extend_from_slice(&[0x30, 0xff]);
    out.extend_from_slice(&(ip.len() as u16).to_be_bytes());
    out.extend_from_slice(&teid.to_be_bytes());
    out.extend_from_slice(&ip);
}

// ---------------------------------------------------------------- writing

/// A TCP connection's next sequence numbers, client and server.
struct Tcp {
    client: SocketAddrV4,
    server: SocketAddrV4,
    seq: [u32; 2],
}

impl Tcp {
    fn open<W: Write>(
        w: &mut PcapWriter<W>,
        time: i64,
        client: SocketAddrV4,
        server: SocketAddrV4,
    ) -> io::Result<Tcp> {
        let (a, b) = (1_000u32, 5_000u32);
        w.write_tcp(time, client, server, a, 0, 0x02, &[])?;
        w.write_tcp(time + 100, server, client, b, a + 1, 0x12, &[])?;
        w.write_tcp(time + 200, client, server, a + 1, b + 1, 0x10, &[])?;
        Ok(Tcp {
            client,
            server,
            seq: [a + 1, b + 1],
        })
    }

    fn send<W: Write>(
        &mut self,
        w: &mut PcapWriter<W>,
        time: i64,
        from_client: bool,
        data: &[u8],
    ) -> io::Result<()> {
        let (i, src, dst) = if from_client {
            (0, self.client, self.server)
        } else {
            (1, self.server, self.client)
        };
        let (seq, ack) = (self.seq[i], self.seq[1 - i]);
        w.write_tcp(time, src, dst, seq, ack, 0x18, data)?;
        self.seq[i] = seq.wrapping_add(data.len() as u32);
        Ok(())
    }
}

/// Message counts of a written capture.
#[derive(Default)]
struct Counts {
    sip: u64,
    diameter: u64,
    gtpv2: u64,
    rtp: u64,
}

fn write_calls<W: Write>(
    scenario: &str,
    seed: u64,
    calls: &[Call],
    with_truth: bool,
    out: W,
) -> io::Result<ExpectedCapture> {
    let mut events = Vec::new();
    for c in calls {
        c.events(&mut events);
    }
    events.sort_unstable();
    let mut w = PcapWriter::new(out)?;
    let start = BASE_TIME_US;
    let mut rx = Tcp::open(&mut w, start, sa(PCSCF, 38_680), sa(PCRF, 3868))?;
    let mut gx = Tcp::open(&mut w, start + 1_000, sa(PGW_C, 38_681), sa(PCRF, 3868))?;
    let (mme, sgw) = (sa(MME, 2123), sa(SGW_C, 2123));
    let pcscf = sa(PCSCF, 5060);
    let mut n = Counts::default();
    let mut buf = Vec::with_capacity(512);
    for e in &events {
        let c = &calls[e.call as usize - 1];
        let t = e.time;
        let ue = SocketAddrV4::new(c.ue_ip, 5060);
        match e.kind {
            Kind::Csr => w.write_udp(t, mme, sgw, &create_session_request(c))?,
            Kind::CsResp => w.write_udp(t, sgw, mme, &create_session_response(c))?,
            Kind::Cbr => w.write_udp(t, sgw, mme, &create_bearer_request(c))?,
            Kind::CbResp => w.write_udp(t, mme, sgw, &create_bearer_response(c))?,
            Kind::Dbr => w.write_udp(t, sgw, mme, &delete_bearer_request(c))?,
            Kind::DbResp => w.write_udp(t, mme, sgw, &delete_bearer_response(c))?,
            Kind::Str => rx.send(&mut w, t, true, &str_request(c))?,
            Kind::Sta => rx.send(&mut w, t, false, &sta(c))?,
            Kind::Ccr => gx.send(&mut w, t, true, &ccr(c))?,
            Kind::Cca => gx.send(&mut w, t, false, &cca(c))?,
            Kind::Rar => gx.send(&mut w, t, false, &rar(c))?,
            Kind::Raa => gx.send(&mut w, t, true, &raa(c))?,
            Kind::Aar => rx.send(&mut w, t, true, &aar(c))?,
            Kind::Aaa => rx.send(&mut w, t, false, &aaa(c))?,
            Kind::Invite => {
                let start = "INVITE sip:+15550000000@ims.example SIP/2.0";
                let body = sdp(c.ue_ip, UE_RTP_PORT, c.amr_wb, c.index);
                w.write_udp(
                    t,
                    ue,
                    pcscf,
                    &sip_message(c, start, "1 INVITE", false, Some(body)),
                )?
            }
            Kind::Ringing => w.write_udp(
                t,
                pcscf,
                ue,
                &sip_message(c, "SIP/2.0 180 Ringing", "1 INVITE", true, None),
            )?,
            Kind::Ok => {
                let body = sdp(MEDIA_GW.into(), c.gw_port, c.amr_wb, c.index + 1);
                let m = sip_message(c, "SIP/2.0 200 OK", "1 INVITE", true, Some(body));
                w.write_udp(t, pcscf, ue, &m)?
            }
            Kind::Fail => w.write_udp(
                t,
                pcscf,
                ue,
                &sip_message(c, "SIP/2.0 503 Service Unavailable", "1 INVITE", true, None),
            )?,
            Kind::Ack => w.write_udp(
                t,
                ue,
                pcscf,
                &sip_message(
                    c,
                    "ACK sip:+15550000000@ims.example SIP/2.0",
                    "1 ACK",
                    true,
                    None,
                ),
            )?,
            Kind::Bye => w.write_udp(
                t,
                ue,
                pcscf,
                &sip_message(
                    c,
                    "BYE sip:+15550000000@ims.example SIP/2.0",
                    "2 BYE",
                    true,
                    None,
                ),
            )?,
            Kind::ByeOk => w.write_udp(
                t,
                pcscf,
                ue,
                &sip_message(c, "SIP/2.0 200 OK", "2 BYE", true, None),
            )?,
            Kind::RtpUp | Kind::RtpDown => {
                let up = e.kind == Kind::RtpUp;
                rtp_in_gtpu(c, up, e.n, &mut buf);
                let (src, dst) = if up {
                    (sa(ENB, 2152), sa(SGW_U, 2152))
                } else {
                    (sa(SGW_U, 2152), sa(ENB, 2152))
                };
                w.write_udp(t, src, dst, &buf)?
            }
        }
        match e.kind {
            Kind::Csr | Kind::CsResp | Kind::Cbr | Kind::CbResp | Kind::Dbr | Kind::DbResp => {
                n.gtpv2 += 1
            }
            Kind::Ccr
            | Kind::Cca
            | Kind::Rar
            | Kind::Raa
            | Kind::Aar
            | Kind::Aaa
            | Kind::Str
            | Kind::Sta => n.diameter += 1,
            Kind::RtpUp | Kind::RtpDown => n.rtp += 1,
            _ => n.sip += 1,
        }
    }
    let frames = w.frames();
    w.finish()?;
    Ok(ExpectedCapture {
        format: EXPECTED_FORMAT.to_owned(),
        scenario: scenario.to_owned(),
        seed,
        frames,
        rtp_packets: n.rtp,
        sip_messages: n.sip,
        diameter_messages: n.diameter,
        gtpv2_messages: n.gtpv2,
        volte_definitions: if with_truth {
            VOLTE_DEFINITIONS.to_owned()
        } else {
            String::new()
        },
        volte_calls: if with_truth {
            calls.iter().map(Call::truth).collect()
        } else {
            Vec::new()
        },
        ..ExpectedCapture::default()
    })
}

/// The `volte` scenario: seven calls 1.5 s apart (overlapping): AMR-WB,
/// PCMU and AMR-WB answered with 2 s of media each way, then one failing at
/// each leg (Rx AAA 5065, Gx RAA 5012, Create Bearer cause 73, SIP 503).
pub(super) fn volte<W: Write>(seed: u64, out: W) -> io::Result<ExpectedCapture> {
    let mut rng = Rng::new(seed);
    let plan = [
        (Fail::None, true),
        (Fail::None, false),
        (Fail::Rx, true),
        (Fail::None, true),
        (Fail::Gx, false),
        (Fail::Bearer, true),
        (Fail::Sip, true),
    ];
    let calls: Vec<Call> = plan
        .iter()
        .enumerate()
        .map(|(i, &(fail, amr))| {
            let start = BASE_TIME_US + 10_000 + i as i64 * 1_500_000;
            Call::plan(&mut rng, i as u32 + 1, start, fail, amr, 100, 0)
        })
        .collect();
    write_calls("volte", seed, &calls, true, out)
}

/// How long an answered `volte-bulk` call stays up: longer than the spread of
/// the starts plus the slowest setup, so every answered call is up at once
/// (from about 13 s to 20.5 s of the capture).
pub const BULK_HOLD_US: i64 = 20_000_000;

/// The `volte-bulk` scenario: `n` calls all overlapping (starts spread over
/// 10 s, answered calls up for [`BULK_HOLD_US`]), no media, 80 % answered,
/// the rest failing at one of the four legs within a few seconds; truth is
/// counts only.
pub(super) fn volte_bulk<W: Write>(seed: u64, n: u64, out: W) -> io::Result<ExpectedCapture> {
    let mut rng = Rng::new(seed);
    let spread = 10_000_000 / n.max(1) as i64;
    let calls: Vec<Call> = (0..n)
        .map(|i| {
            let fail = match rng.below(20) {
                0 => Fail::Rx,
                1 => Fail::Gx,
                2 => Fail::Bearer,
                3 => Fail::Sip,
                _ => Fail::None,
            };
            let start = BASE_TIME_US + 10_000 + i as i64 * spread;
            Call::plan(
                &mut rng,
                i as u32 + 1,
                start,
                fail,
                i % 4 != 0,
                0,
                BULK_HOLD_US,
            )
        })
        .collect();
    write_calls("volte-bulk", seed, &calls, false, out)
}
