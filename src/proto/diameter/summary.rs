//! An owned summary of one DIAMETER message: the fields the probe reports
//! and correlates on (session, peers, result, UE address, subscriber ids,
//! the Rx media description and the Gx charging rules).
//!
//! Built by one [`super::avp::walk`] over the message, so the work is
//! bounded by [`super::avp::MAX_AVPS`] and [`super::avp::MAX_GROUP_DEPTH`].
//! Allocating per signalling message is fine (a few per second per UE);
//! every list is capped ([`MAX_LIST_LEN`]) so a hostile message cannot grow
//! one without bound. An AVP that fails to decode (bad length, wrong size
//! for its type, not UTF-8) is recorded in [`Message::anomalies`] and the
//! rest of the message is kept.

use super::avp::{walk, Avp, AvpKey};
use super::dictionary::{self, avp as code};
use super::{Error, Header, Packet};
use serde::Serialize;
use std::net::{Ipv4Addr, Ipv6Addr};

/// Entries per list (subscription ids, specific actions, media components,
/// flow descriptions, rules) at most; more are dropped and counted as
/// anomalies. Real messages carry a handful.
pub const MAX_LIST_LEN: usize = 32;
/// Anomalies kept per message at most (all are counted in `anomaly_count`).
pub const MAX_ANOMALIES: usize = 8;

/// Why one AVP of a kept message was skipped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Anomaly {
    /// The AVP walk stopped (see [`Error`]).
    Walk(#[serde(serialize_with = "ser_reason")] Error),
    /// A known AVP with data of the wrong size or encoding.
    BadValue {
        /// Vendor, 0 for IETF.
        vendor: u32,
        /// AVP code.
        code: u32,
    },
    /// A list reached [`MAX_LIST_LEN`].
    ListFull,
}

impl Anomaly {
    /// Stable label for counters.
    pub fn reason(self) -> &'static str {
        match self {
            Anomaly::Walk(e) => e.reason(),
            Anomaly::BadValue { .. } => "bad_value",
            Anomaly::ListFull => "list_full",
        }
    }
}

fn ser_reason<S: serde::Serializer>(e: &Error, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(e.reason())
}

/// Subscription-Id-Type (RFC 4006 §8.47).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum SubscriptionIdType {
    /// 0, END_USER_E164: an MSISDN.
    E164,
    /// 1, END_USER_IMSI.
    Imsi,
    /// 2, END_USER_SIP_URI.
    SipUri,
    /// 3, END_USER_NAI.
    Nai,
    /// 4, END_USER_PRIVATE.
    Private,
    /// Any other value.
    Unknown(u32),
}

impl From<u32> for SubscriptionIdType {
    fn from(v: u32) -> Self {
        match v {
            0 => SubscriptionIdType::E164,
            1 => SubscriptionIdType::Imsi,
            2 => SubscriptionIdType::SipUri,
            3 => SubscriptionIdType::Nai,
            4 => SubscriptionIdType::Private,
            n => SubscriptionIdType::Unknown(n),
        }
    }
}

/// One Subscription-Id (RFC 4006 §8.46).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SubscriptionId {
    /// Subscription-Id-Type, when present.
    pub kind: Option<SubscriptionIdType>,
    /// Subscription-Id-Data, when present.
    pub data: Option<String>,
}

/// One Media-Component-Description (TS 29.214 §5.3).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct MediaComponent {
    /// Media-Component-Number.
    pub number: Option<u32>,
    /// Media-Type (0 audio, 1 video, 2 data, 3 application, 4 control, 5
    /// text, 6 message, 0xFFFFFFFF other).
    pub media_type: Option<u32>,
    /// Flow-Descriptions of all its Media-Sub-Components, in order.
    pub flow_descriptions: Vec<String>,
    /// Max-Requested-Bandwidth-UL (bit/s).
    pub max_requested_bandwidth_ul: Option<u32>,
    /// Max-Requested-Bandwidth-DL (bit/s).
    pub max_requested_bandwidth_dl: Option<u32>,
    /// RR-Bandwidth (bit/s).
    pub rr_bandwidth: Option<u32>,
    /// RS-Bandwidth (bit/s).
    pub rs_bandwidth: Option<u32>,
}

/// One rule of a Charging-Rule-Install (TS 29.212 §5.3): a
/// Charging-Rule-Definition, or a predefined rule activated by name.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ChargingRule {
    /// Charging-Rule-Name (or Charging-Rule-Base-Name), lossy UTF-8.
    pub name: Option<String>,
    /// QoS-Class-Identifier.
    pub qci: Option<u32>,
    /// Allocation-Retention-Priority / Priority-Level.
    pub arp_priority: Option<u32>,
    /// Max-Requested-Bandwidth-UL (bit/s).
    pub mbr_ul: Option<u32>,
    /// Max-Requested-Bandwidth-DL (bit/s).
    pub mbr_dl: Option<u32>,
    /// Guaranteed-Bitrate-UL (bit/s).
    pub gbr_ul: Option<u32>,
    /// Guaranteed-Bitrate-DL (bit/s).
    pub gbr_dl: Option<u32>,
}

/// The owned summary of one DIAMETER message.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Message {
    /// The header.
    pub header: Header,
    /// Short application name ("Gx"), `None` when unknown.
    pub application: Option<&'static str>,
    /// Command abbreviation ("CCR"), `None` when unknown.
    pub command: Option<&'static str>,
    /// Session-Id.
    pub session_id: Option<String>,
    /// Origin-Host.
    pub origin_host: Option<String>,
    /// Origin-Realm.
    pub origin_realm: Option<String>,
    /// Destination-Host.
    pub destination_host: Option<String>,
    /// Destination-Realm.
    pub destination_realm: Option<String>,
    /// Result-Code.
    pub result_code: Option<u32>,
    /// Experimental-Result / Experimental-Result-Code.
    pub experimental_result_code: Option<u32>,
    /// Experimental-Result / Vendor-Id.
    pub experimental_result_vendor: Option<u32>,
    /// Framed-IP-Address (the UE's IPv4 address).
    pub framed_ip: Option<Ipv4Addr>,
    /// Framed-IPv6-Prefix (prefix, length).
    pub framed_ipv6_prefix: Option<(Ipv6Addr, u8)>,
    /// Subscription-Ids (IMSI, MSISDN...).
    pub subscription_ids: Vec<SubscriptionId>,
    /// AF-Charging-Identifier (the IMS ICID), lossy UTF-8.
    pub af_charging_identifier: Option<String>,
    /// Rx-Request-Type (0 initial, 1 update, 2 PCSCF-restoration).
    pub rx_request_type: Option<u32>,
    /// CC-Request-Type (1 initial, 2 update, 3 termination, 4 event).
    pub cc_request_type: Option<u32>,
    /// CC-Request-Number.
    pub cc_request_number: Option<u32>,
    /// Specific-Actions.
    pub specific_actions: Vec<u32>,
    /// Abort-Cause.
    pub abort_cause: Option<u32>,
    /// Termination-Cause (RFC 6733 §8.15: 1 logout, 4 administrative, ...).
    pub termination_cause: Option<u32>,
    /// Event-Triggers.
    pub event_triggers: Vec<u32>,
    /// Media-Component-Descriptions (Rx).
    pub media_components: Vec<MediaComponent>,
    /// Charging-Rule-Install rules (Gx).
    pub rules_installed: Vec<ChargingRule>,
    /// Charging-Rule-Remove names (Gx).
    pub rules_removed: Vec<String>,
    /// AVPs visited, at every depth.
    pub avp_count: u32,
    /// Grouped AVPs not walked into at the depth limit.
    pub depth_limit_hits: u32,
    /// The first [`MAX_ANOMALIES`] anomalies.
    pub anomalies: Vec<Anomaly>,
    /// All anomalies.
    pub anomaly_count: u32,
}

/// Pushes `v` unless `list` already holds [`MAX_LIST_LEN`] entries.
fn push_capped<T>(list: &mut Vec<T>, v: T) -> Result<(), Anomaly> {
    if list.len() >= MAX_LIST_LEN {
        return Err(Anomaly::ListFull);
    }
    list.push(v);
    Ok(())
}

const fn ietf(c: u32) -> AvpKey {
    AvpKey::ietf(c)
}
const fn tgpp(c: u32) -> AvpKey {
    AvpKey::tgpp(c)
}

impl Message {
    /// Summarises one message (bytes past its Message Length are ignored).
    ///
    /// # Errors
    /// When the header is bad ([`Packet::new_checked`]); AVP problems are
    /// anomalies of the returned message, not errors.
    pub fn parse(buf: &[u8]) -> Result<Message, Error> {
        let packet = Packet::new_checked(buf)?;
        let header = packet.header_repr();
        let mut m = Message {
            header,
            application: dictionary::application_name(header.application_id),
            command: dictionary::command_name(header.command_code, header.request),
            ..Message::default()
        };
        let outcome = walk(packet.avp_data(), &mut |path, avp| m.visit(path, avp));
        m.avp_count = u32::try_from(outcome.avps).unwrap_or(u32::MAX);
        m.depth_limit_hits = outcome.depth_limit_hits;
        if let Some(e) = outcome.first_error {
            // The walk's errors count once each; only the first is named.
            m.anomaly(Anomaly::Walk(e));
            m.anomaly_count += outcome.errors.saturating_sub(1);
        }
        Ok(m)
    }

    fn anomaly(&mut self, a: Anomaly) {
        self.anomaly_count += 1;
        if self.anomalies.len() < MAX_ANOMALIES {
            self.anomalies.push(a);
        }
    }

    fn bad(&mut self, avp: &Avp<'_>) {
        let k = avp.key();
        self.anomaly(Anomaly::BadValue {
            vendor: k.vendor,
            code: k.code,
        });
    }

    fn string(&mut self, avp: &Avp<'_>) -> Option<String> {
        let s = avp.as_str().map(str::to_owned);
        if s.is_none() {
            self.bad(avp);
        }
        s
    }

    fn u32(&mut self, avp: &Avp<'_>) -> Option<u32> {
        let v = avp.as_u32();
        if v.is_none() {
            self.bad(avp);
        }
        v
    }

    fn note(&mut self, pushed: Result<(), Anomaly>) {
        if let Err(a) = pushed {
            self.anomaly(a);
        }
    }

    fn visit(&mut self, path: &[AvpKey], avp: Avp<'_>) {
        let key = avp.key();
        let parent = path.last().copied();
        match (parent, key) {
            // Top level: identities and results (RFC 6733 §6, §7, §8).
            (None, k) if k == ietf(code::SESSION_ID) => self.session_id = self.string(&avp),
            (None, k) if k == ietf(code::ORIGIN_HOST) => self.origin_host = self.string(&avp),
            (None, k) if k == ietf(code::ORIGIN_REALM) => self.origin_realm = self.string(&avp),
            (None, k) if k == ietf(code::DESTINATION_HOST) => {
                self.destination_host = self.string(&avp)
            }
            (None, k) if k == ietf(code::DESTINATION_REALM) => {
                self.destination_realm = self.string(&avp)
            }
            (None, k) if k == ietf(code::RESULT_CODE) => self.result_code = self.u32(&avp),
            (Some(p), k)
                if p == ietf(code::EXPERIMENTAL_RESULT)
                    && path.len() == 1
                    && k == ietf(code::EXPERIMENTAL_RESULT_CODE) =>
            {
                self.experimental_result_code = self.u32(&avp)
            }
            (Some(p), k)
                if p == ietf(code::EXPERIMENTAL_RESULT)
                    && path.len() == 1
                    && k == ietf(code::VENDOR_ID) =>
            {
                self.experimental_result_vendor = self.u32(&avp)
            }
            (None, k) if k == ietf(code::FRAMED_IP_ADDRESS) => {
                self.framed_ip = avp.as_raw_ipv4();
                if self.framed_ip.is_none() {
                    self.bad(&avp);
                }
            }
            (None, k) if k == ietf(code::FRAMED_IPV6_PREFIX) => {
                self.framed_ipv6_prefix = avp.as_ipv6_prefix();
                if self.framed_ipv6_prefix.is_none() {
                    self.bad(&avp);
                }
            }
            // Credit control (RFC 4006 §8).
            (None, k) if k == ietf(code::SUBSCRIPTION_ID) => {
                let id = SubscriptionId {
                    kind: None,
                    data: None,
                };
                let pushed = push_capped(&mut self.subscription_ids, id);
                self.note(pushed);
            }
            (Some(p), k) if p == ietf(code::SUBSCRIPTION_ID) && path.len() == 1 => {
                if k == ietf(code::SUBSCRIPTION_ID_TYPE) {
                    let v = self.u32(&avp).map(SubscriptionIdType::from);
                    if let Some(s) = self.subscription_ids.last_mut() {
                        s.kind = v;
                    }
                } else if k == ietf(code::SUBSCRIPTION_ID_DATA) {
                    let v = self.string(&avp);
                    if let Some(s) = self.subscription_ids.last_mut() {
                        s.data = v;
                    }
                }
            }
            (None, k) if k == ietf(code::CC_REQUEST_TYPE) => self.cc_request_type = self.u32(&avp),
            (None, k) if k == ietf(code::CC_REQUEST_NUMBER) => {
                self.cc_request_number = self.u32(&avp)
            }
            // Rx (TS 29.214 §5.3).
            (None, k) if k == tgpp(code::V3_AF_CHARGING_IDENTIFIER) => {
                self.af_charging_identifier = Some(String::from_utf8_lossy(avp.data()).into_owned())
            }
            (None, k) if k == tgpp(code::V3_RX_REQUEST_TYPE) => {
                self.rx_request_type = self.u32(&avp)
            }
            (None, k) if k == tgpp(code::V3_SPECIFIC_ACTION) => {
                if let Some(v) = self.u32(&avp) {
                    let pushed = push_capped(&mut self.specific_actions, v);
                    self.note(pushed);
                }
            }
            (None, k) if k == tgpp(code::V3_ABORT_CAUSE) => self.abort_cause = self.u32(&avp),
            (None, k) if k == ietf(code::TERMINATION_CAUSE) => {
                self.termination_cause = self.u32(&avp)
            }
            (None, k) if k == tgpp(code::V3_EVENT_TRIGGER) => {
                if let Some(v) = self.u32(&avp) {
                    let pushed = push_capped(&mut self.event_triggers, v);
                    self.note(pushed);
                }
            }
            (None, k) if k == tgpp(code::V3_MEDIA_COMPONENT_DESCRIPTION) => {
                let pushed = push_capped(&mut self.media_components, MediaComponent::default());
                self.note(pushed);
            }
            (Some(_), k) if path.first() == Some(&tgpp(code::V3_MEDIA_COMPONENT_DESCRIPTION)) => {
                self.media_component_avp(path, k, &avp)
            }
            // Gx (TS 29.212 §5.3).
            (Some(p), k) if p == tgpp(code::V3_CHARGING_RULE_INSTALL) && path.len() == 1 => {
                let named = k == tgpp(code::V3_CHARGING_RULE_NAME)
                    || k == tgpp(code::V3_CHARGING_RULE_BASE_NAME);
                if k == tgpp(code::V3_CHARGING_RULE_DEFINITION) || named {
                    let name = named.then(|| String::from_utf8_lossy(avp.data()).into_owned());
                    let rule = ChargingRule {
                        name,
                        ..ChargingRule::default()
                    };
                    let pushed = push_capped(&mut self.rules_installed, rule);
                    self.note(pushed);
                }
            }
            (Some(_), k)
                if path.len() >= 2
                    && path.first() == Some(&tgpp(code::V3_CHARGING_RULE_INSTALL))
                    && path.get(1) == Some(&tgpp(code::V3_CHARGING_RULE_DEFINITION)) =>
            {
                self.rule_avp(path, k, &avp)
            }
            (Some(p), k)
                if p == tgpp(code::V3_CHARGING_RULE_REMOVE)
                    && path.len() == 1
                    && (k == tgpp(code::V3_CHARGING_RULE_NAME)
                        || k == tgpp(code::V3_CHARGING_RULE_BASE_NAME)) =>
            {
                let name = String::from_utf8_lossy(avp.data()).into_owned();
                let pushed = push_capped(&mut self.rules_removed, name);
                self.note(pushed);
            }
            _ => {}
        }
    }

    /// An AVP somewhere inside a Media-Component-Description: its own
    /// fields, and the Flow-Descriptions of its Media-Sub-Components.
    fn media_component_avp(&mut self, path: &[AvpKey], k: AvpKey, avp: &Avp<'_>) {
        if k == tgpp(code::V3_FLOW_DESCRIPTION) {
            let Some(s) = self.string(avp) else { return };
            if let Some(mc) = self.media_components.last_mut() {
                let pushed = push_capped(&mut mc.flow_descriptions, s);
                self.note(pushed);
            }
            return;
        }
        if path.len() != 1 || k.vendor != dictionary::VENDOR_3GPP {
            return;
        }
        let field: fn(&mut MediaComponent) -> &mut Option<u32> = match k.code {
            code::V3_MEDIA_COMPONENT_NUMBER => |mc| &mut mc.number,
            code::V3_MEDIA_TYPE => |mc| &mut mc.media_type,
            code::V3_MAX_REQUESTED_BANDWIDTH_UL => |mc| &mut mc.max_requested_bandwidth_ul,
            code::V3_MAX_REQUESTED_BANDWIDTH_DL => |mc| &mut mc.max_requested_bandwidth_dl,
            code::V3_RR_BANDWIDTH => |mc| &mut mc.rr_bandwidth,
            code::V3_RS_BANDWIDTH => |mc| &mut mc.rs_bandwidth,
            _ => return,
        };
        let v = self.u32(avp);
        if let Some(mc) = self.media_components.last_mut() {
            *field(mc) = v;
        }
    }

    /// An AVP inside Charging-Rule-Install / Charging-Rule-Definition.
    fn rule_avp(&mut self, path: &[AvpKey], k: AvpKey, avp: &Avp<'_>) {
        // path = [Install, Definition, ...]
        let in_definition = path.len() == 2;
        let in_qos = path.len() == 3 && path.get(2) == Some(&tgpp(code::V3_QOS_INFORMATION));
        let in_arp = path.len() == 4
            && path.get(2) == Some(&tgpp(code::V3_QOS_INFORMATION))
            && path.get(3) == Some(&tgpp(code::V3_ALLOCATION_RETENTION_PRIORITY));
        if in_definition && k == tgpp(code::V3_CHARGING_RULE_NAME) {
            let name = String::from_utf8_lossy(avp.data()).into_owned();
            if let Some(r) = self.rules_installed.last_mut() {
                r.name = Some(name);
            }
            return;
        }
        type Field = fn(&mut ChargingRule) -> &mut Option<u32>;
        let field: Field = match (k.vendor == dictionary::VENDOR_3GPP, k.code) {
            (true, code::V3_QOS_CLASS_IDENTIFIER) if in_qos => |r| &mut r.qci,
            (true, code::V3_MAX_REQUESTED_BANDWIDTH_UL) if in_qos => |r| &mut r.mbr_ul,
            (true, code::V3_MAX_REQUESTED_BANDWIDTH_DL) if in_qos => |r| &mut r.mbr_dl,
            (true, code::V3_GUARANTEED_BITRATE_UL) if in_qos => |r| &mut r.gbr_ul,
            (true, code::V3_GUARANTEED_BITRATE_DL) if in_qos => |r| &mut r.gbr_dl,
            (true, code::V3_PRIORITY_LEVEL) if in_arp => |r| &mut r.arp_priority,
            _ => return,
        };
        let v = self.u32(avp);
        if let Some(r) = self.rules_installed.last_mut() {
            *field(r) = v;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::diameter::avp::HEADER_LEN as AVP_HEADER_LEN;

    /// `volte/volte-call-gx-rar-cbr-amrwb.pcapng` frame 98: the DIAMETER
    /// message (720 bytes, an SCTP DATA chunk with PPID 46) of a Gx RAR
    /// from the PCRF installing rule "ims1" (QCI 1, ARP priority 2, GBR and
    /// MBR 41000 bit/s both ways) with two flows of an AMR-WB call.
    const GX_RAR_FRAME_98: &[&str] = &[
        "010002d0c0000102010000162b316832c3c9f08700000107400000427067772e",
        "6570632e6d6e633030312e6d63633030312e336770706e6574776f726b2e6f72",
        "673b313537393038343836303b31303b6170705f67780000000003e9c00001a8",
        "000028af000003ebc000019c000028af000003edc0000010000028af696d7331",
        "0000042280000064000028af0000043880000010000028af00000001000001fb",
        "c0000047000028af7065726d6974206f75742031372066726f6d203139322e31",
        "36382e3130312e3220353030353620746f2031302e342e3132382e3231203331",
        "323236000000042280000064000028af0000043880000010000028af00000002",
        "000001fbc0000047000028af7065726d6974206f75742031372066726f6d2031",
        "39322e3136382e3130312e3220353030353620746f2031302e342e3132382e32",
        "3120333132323600000001ffc0000010000028af00000002000003f8c0000098",
        "000028af00000404c0000010000028af000000010000040a8000003c000028af",
        "0000041680000010000028af000000020000041780000010000028af00000000",
        "0000041880000010000028af0000000000000204c0000010000028af0000a028",
        "00000203c0000010000028af0000a02800000402c0000010000028af0000a028",
        "00000401c0000010000028af0000a028000003f2c0000010000028af00000001",
        "000001084000002e706372662e6570632e6d6e633030312e6d63633030312e33",
        "6770706e6574776f726b2e6f7267000000000128400000296570632e6d6e6330",
        "30312e6d63633030312e336770706e6574776f726b2e6f72670000000000011b",
        "400000296570632e6d6e633030312e6d63633030312e336770706e6574776f72",
        "6b2e6f7267000000000001254000002d7067772e6570632e6d6e633030312e6d",
        "63633030312e336770706e6574776f726b2e6f7267000000000001024000000c",
        "010000160000011d4000000c00000000",
    ];

    fn unhex(parts: &[&str]) -> Vec<u8> {
        let s: String = parts.concat();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn summarises_gx_rar_from_capture() {
        let b = unhex(GX_RAR_FRAME_98);
        assert_eq!(b.len(), 720);
        let m = Message::parse(&b).unwrap();
        assert_eq!((m.application, m.command), (Some("Gx"), Some("RAR")));
        assert!(m.header.request && m.header.proxiable);
        assert_eq!(m.header.hop_by_hop, 0x2b31_6832);
        assert_eq!(m.header.end_to_end, 0xc3c9_f087);
        assert_eq!(
            m.session_id.as_deref(),
            Some("pgw.epc.mnc001.mcc001.3gppnetwork.org;1579084860;10;app_gx")
        );
        assert_eq!(
            m.origin_host.as_deref(),
            Some("pcrf.epc.mnc001.mcc001.3gppnetwork.org")
        );
        assert_eq!(
            m.destination_host.as_deref(),
            Some("pgw.epc.mnc001.mcc001.3gppnetwork.org")
        );
        assert_eq!(
            m.rules_installed,
            vec![ChargingRule {
                name: Some("ims1".into()),
                qci: Some(1),
                arp_priority: Some(2),
                mbr_ul: Some(41_000),
                mbr_dl: Some(41_000),
                gbr_ul: Some(41_000),
                gbr_dl: Some(41_000),
            }]
        );
        assert!(m.anomalies.is_empty(), "{:?}", m.anomalies);
        assert_eq!(m.depth_limit_hits, 0);
    }

    /// Made-up AVP bytes (no vendor).
    fn avp(code: u32, data: &[u8]) -> Vec<u8> {
        let mut v = code.to_be_bytes().to_vec();
        v.push(0x40);
        v.extend_from_slice(&((AVP_HEADER_LEN + data.len()) as u32).to_be_bytes()[1..]);
        v.extend_from_slice(data);
        while !v.len().is_multiple_of(4) {
            v.push(0);
        }
        v
    }

    /// Made up: a CCA (272, answer, app 4) around `avps`.
    fn message(avps: &[u8]) -> Vec<u8> {
        let mut v = vec![
            1, 0, 0, 0, 0x40, 0, 1, 0x10, 0, 0, 0, 4, 0, 0, 0, 1, 0, 0, 0, 2,
        ];
        v.extend_from_slice(avps);
        let len = v.len() as u32;
        v[1..4].copy_from_slice(&len.to_be_bytes()[1..]);
        v
    }

    #[test]
    fn bad_value_is_an_anomaly_and_the_rest_is_kept() {
        let mut avps = avp(263, b"s;1");
        avps.extend(avp(268, &[0, 0, 7])); // Result-Code of 3 bytes
        avps.extend(avp(264, b"ocs"));
        let m = Message::parse(&message(&avps)).unwrap();
        assert_eq!((m.application, m.command), (Some("Gy/Ro"), Some("CCA")));
        assert_eq!(m.session_id.as_deref(), Some("s;1"));
        assert_eq!(m.result_code, None);
        assert_eq!(m.origin_host.as_deref(), Some("ocs"));
        assert_eq!(
            m.anomalies,
            vec![Anomaly::BadValue {
                vendor: 0,
                code: 268
            }]
        );
    }

    #[test]
    fn lying_avp_length_keeps_earlier_avps() {
        let mut avps = avp(263, b"s;1");
        avps.extend(avp(268, &2001u32.to_be_bytes()));
        let mut liar = avp(264, b"ocs");
        liar[7] = 0xf0;
        avps.extend(liar);
        let m = Message::parse(&message(&avps)).unwrap();
        assert_eq!(m.result_code, Some(2001));
        assert_eq!(m.origin_host, None);
        assert_eq!(m.anomalies, vec![Anomaly::Walk(Error::AvpBadLength)]);
        assert_eq!(m.anomaly_count, 1);
    }

    #[test]
    fn subscription_ids_and_experimental_result() {
        let mut sub = avp(450, &1u32.to_be_bytes());
        sub.extend(avp(444, b"001011234567895"));
        let mut avps = avp(443, &sub);
        let mut er = avp(266, &10415u32.to_be_bytes());
        er.extend(avp(298, &5030u32.to_be_bytes()));
        avps.extend(avp(297, &er));
        avps.extend(avp(8, &[10, 45, 0, 2]));
        let m = Message::parse(&message(&avps)).unwrap();
        assert_eq!(
            m.subscription_ids,
            vec![SubscriptionId {
                kind: Some(SubscriptionIdType::Imsi),
                data: Some("001011234567895".into())
            }]
        );
        assert_eq!(m.experimental_result_code, Some(5030));
        assert_eq!(m.experimental_result_vendor, Some(10415));
        assert_eq!(m.framed_ip, Some(Ipv4Addr::new(10, 45, 0, 2)));
    }

    #[test]
    fn lists_are_capped() {
        let one = avp(443, &avp(444, b"x"));
        let avps: Vec<u8> = one.iter().copied().cycle().take(one.len() * 40).collect();
        let m = Message::parse(&message(&avps)).unwrap();
        assert_eq!(m.subscription_ids.len(), MAX_LIST_LEN);
        assert_eq!(m.anomaly_count, 40 - MAX_LIST_LEN as u32);
        assert_eq!(m.anomalies.len(), MAX_ANOMALIES);
    }

    /// Made-up 3GPP AVP bytes (V and M set, vendor 10415).
    fn avp3(code: u32, data: &[u8]) -> Vec<u8> {
        let mut v = code.to_be_bytes().to_vec();
        v.push(0xc0);
        v.extend_from_slice(&((12 + data.len()) as u32).to_be_bytes()[1..]);
        v.extend_from_slice(&10415u32.to_be_bytes());
        v.extend_from_slice(data);
        while !v.len().is_multiple_of(4) {
            v.push(0);
        }
        v
    }

    #[test]
    fn rx_aar_media_components_and_icid() {
        // Made up after TS 29.214 §5.6.2: an AAR with ICID, two media
        // components, the first with bandwidths and two sub-components.
        let mut avps = avp3(505, b"icid-0001;abc");
        avps.extend(avp3(533, &0u32.to_be_bytes()));
        let mut msc1 = avp3(509, &1u32.to_be_bytes());
        msc1.extend(avp3(
            507,
            b"permit out 17 from 10.0.0.1 1000 to 10.0.0.2 2000",
        ));
        let mut msc2 = avp3(509, &2u32.to_be_bytes());
        msc2.extend(avp3(
            507,
            b"permit out 17 from 10.0.0.1 1001 to 10.0.0.2 2001",
        ));
        let mut mcd1 = avp3(518, &1u32.to_be_bytes());
        mcd1.extend(avp3(520, &0u32.to_be_bytes()));
        mcd1.extend(avp3(516, &41_000u32.to_be_bytes()));
        mcd1.extend(avp3(515, &42_000u32.to_be_bytes()));
        mcd1.extend(avp3(519, &msc1));
        mcd1.extend(avp3(519, &msc2));
        avps.extend(avp3(517, &mcd1));
        avps.extend(avp3(517, &avp3(518, &2u32.to_be_bytes())));
        avps.extend(avp3(513, &1u32.to_be_bytes()));
        avps.extend(avp3(500, &0u32.to_be_bytes()));
        let mut b = message(&avps);
        b[4] = 0xc0; // request
        b[5..8].copy_from_slice(&265u32.to_be_bytes()[1..]);
        b[8..12].copy_from_slice(&16_777_236u32.to_be_bytes());
        let m = Message::parse(&b).unwrap();
        assert_eq!((m.application, m.command), (Some("Rx"), Some("AAR")));
        assert_eq!(m.af_charging_identifier.as_deref(), Some("icid-0001;abc"));
        assert_eq!(m.rx_request_type, Some(0));
        assert_eq!(m.specific_actions, vec![1]);
        assert_eq!(m.abort_cause, Some(0));
        assert_eq!(
            m.media_components,
            vec![
                MediaComponent {
                    number: Some(1),
                    media_type: Some(0),
                    flow_descriptions: vec![
                        "permit out 17 from 10.0.0.1 1000 to 10.0.0.2 2000".into(),
                        "permit out 17 from 10.0.0.1 1001 to 10.0.0.2 2001".into(),
                    ],
                    max_requested_bandwidth_ul: Some(41_000),
                    max_requested_bandwidth_dl: Some(42_000),
                    rr_bandwidth: None,
                    rs_bandwidth: None,
                },
                MediaComponent {
                    number: Some(2),
                    ..MediaComponent::default()
                },
            ]
        );
        assert!(m.anomalies.is_empty());
    }

    #[test]
    fn charging_rule_remove_and_predefined_install() {
        // Made up after TS 29.212 §5.3: remove "old", activate
        // predefined "pre" by name.
        let mut avps = avp3(1002, &avp3(1005, b"old"));
        avps.extend(avp3(1001, &avp3(1005, b"pre")));
        let m = Message::parse(&message(&avps)).unwrap();
        assert_eq!(m.rules_removed, vec!["old".to_string()]);
        assert_eq!(m.rules_installed.len(), 1);
        assert_eq!(m.rules_installed[0].name.as_deref(), Some("pre"));
        assert_eq!(m.rules_installed[0].qci, None);
    }
}
