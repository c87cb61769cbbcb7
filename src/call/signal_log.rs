//! The signalling log: every decoded DIAMETER and GTPv2-C message of a run,
//! in capture order, with the keys that tie it to a call (DIAMETER
//! Session-Id, GTPv2-C sequence number). Bounded; what does not fit is
//! counted. The multi-protocol ladder of a VoLTE call is read from it.

use super::dialog::LadderEntry;
use super::volte::VolteLegs;
use crate::packet::Endpoint;
use crate::proto::gtpv2::MessageSummary;
use std::net::IpAddr;

/// What a node is in a VoLTE call's ladder.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// The subscriber's phone (the call's UE IP).
    Ue,
    /// The other party's phone, when the capture sees it.
    Remote,
    /// The proxy CSCF: the UE's SIP peer and the Rx client (AF).
    PCscf,
    /// The policy server: Rx and Gx server.
    Pcrf,
    /// The PDN gateway: Gx client, sender of the first Create Bearer hop.
    Pgw,
    /// The serving gateway.
    Sgw,
    /// The mobility management entity.
    Mme,
}

impl Role {
    /// The usual name of the role.
    pub fn name(self) -> &'static str {
        match self {
            Role::Ue => "UE",
            Role::Remote => "remote",
            Role::PCscf => "P-CSCF",
            Role::Pcrf => "PCRF",
            Role::Pgw => "PGW",
            Role::Sgw => "SGW",
            Role::Mme => "MME",
        }
    }
}

/// DIAMETER application IDs and command codes (TS 29.214, TS 29.212).
const APP_RX: u32 = 16_777_236;
const APP_GX: u32 = 16_777_238;
const CMD_RA: u32 = 258;
const CMD_AS: u32 = 274;

/// The roles of a DIAMETER message's sender and receiver: on Rx the P-CSCF
/// asks (AAR, STR) and the PCRF pushes (RAR, ASR); on Gx the PGW asks (CCR)
/// and the PCRF pushes (RAR). Answers go the other way.
pub fn diameter_roles(
    application_id: u32,
    command_code: u32,
    request: bool,
) -> Option<(Role, Role)> {
    let (client, pushed_by_server) = match application_id {
        APP_RX => (Role::PCscf, matches!(command_code, CMD_RA | CMD_AS)),
        APP_GX => (Role::Pgw, command_code == CMD_RA),
        _ => return None,
    };
    let request_from_client = (client, Role::Pcrf);
    let (from, to) = if pushed_by_server {
        (Role::Pcrf, client)
    } else {
        request_from_client
    };
    Some(if request { (from, to) } else { (to, from) })
}

/// F-TEID interface types (TS 29.274 Table 8.22-1) that only their owner
/// sends, with the owner and the peer on that interface.
const FTEID_OWNERS: [(u8, Role, Role); 8] = [
    (0, Role::Mme, Role::Sgw),  // S1-U eNodeB GTP-U, passed on by the MME
    (10, Role::Mme, Role::Sgw), // S11 MME GTP-C
    (1, Role::Sgw, Role::Mme),  // S1-U SGW GTP-U
    (11, Role::Sgw, Role::Mme), // S11/S4 SGW GTP-C
    (4, Role::Sgw, Role::Pgw),  // S5/S8 SGW GTP-U
    (6, Role::Sgw, Role::Pgw),  // S5/S8 SGW GTP-C
    (5, Role::Pgw, Role::Sgw),  // S5/S8 PGW GTP-U
    (7, Role::Pgw, Role::Sgw),  // S5/S8 PGW GTP-C
];

/// The roles of a GTPv2-C message's sender and receiver, from the F-TEID
/// interface types it carries: the first of `FTEID_OWNERS` present wins,
/// in that order, because a message may also carry a peer's F-TEID (a
/// Create Session Request from the MME names the PGW's; a Create Bearer
/// Request from the SGW may pass on the PGW's). None without F-TEIDs.
pub fn gtp_roles(summary: &MessageSummary) -> Option<(Role, Role)> {
    let present = |t: u8| {
        summary
            .fteids
            .iter()
            .chain(summary.bearers.iter().flat_map(|b| b.fteids.iter()))
            .any(|f| f.interface_type == t)
    };
    FTEID_OWNERS
        .iter()
        .find(|(t, _, _)| present(*t))
        .map(|&(_, from, to)| (from, to))
}

/// A node of a ladder: an endpoint (or every port of an address) with its
/// role and, for DIAMETER peers, the Origin-Host it sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Node {
    /// Address.
    pub ip: IpAddr,
    /// Port, or every port of the address.
    pub port: Option<u16>,
    /// Role.
    pub role: Role,
    /// Origin-Host, for a DIAMETER peer.
    pub host: Option<String>,
}

impl Node {
    fn matches(&self, e: Endpoint) -> bool {
        self.ip == e.ip && self.port.is_none_or(|p| p == e.port)
    }

    /// The Origin-Host when known, else the role's name.
    pub fn name(&self) -> &str {
        self.host.as_deref().unwrap_or(self.role.name())
    }
}

/// Messages kept per run; later ones are counted in `dropped`.
pub const MAX_SIGNAL_ENTRIES: usize = 200_000;

/// One DIAMETER or GTPv2-C message, or a SIP message of no call (REGISTER,
/// OPTIONS, SUBSCRIBE ...).
#[derive(Clone, Debug, PartialEq)]
pub struct SignalEntry {
    /// `diameter`, `gtpv2` or `sip`.
    pub protocol: &'static str,
    /// SIP Call-ID.
    pub call_id: Option<String>,
    /// The ladder line (time, frame, endpoints, label).
    pub entry: LadderEntry,
    /// DIAMETER Session-Id.
    pub session_id: Option<String>,
    /// DIAMETER Origin-Host of the sender.
    pub origin_host: Option<String>,
    /// GTPv2-C sequence number.
    pub gtp_sequence: Option<u32>,
    /// AF-Charging-Identifier (the ICID) of a DIAMETER Rx message.
    pub icid: Option<String>,
    /// The subscriber's IMSI, when the message names it.
    pub imsi: Option<String>,
    /// GTPv2-C header TEID.
    pub teid: Option<u32>,
    /// Roles of the sender and the receiver, when the message tells them.
    pub roles: Option<(Role, Role)>,
}

/// The log of one run.
#[derive(Clone, Debug, Default)]
pub struct SignalLog {
    entries: Vec<SignalEntry>,
    /// Messages not kept past [`MAX_SIGNAL_ENTRIES`].
    pub dropped: u64,
}

impl SignalLog {
    /// Records one message (counted in `dropped` when the log is full).
    pub fn push(&mut self, entry: SignalEntry) {
        if self.entries.len() >= MAX_SIGNAL_ENTRIES {
            self.dropped += 1;
            return;
        }
        self.entries.push(entry);
    }

    /// Rewrites every message logged (privacy settings).
    pub fn rewrite(&mut self, f: impl Fn(&mut SignalEntry)) {
        self.entries.iter_mut().for_each(f);
    }

    /// The messages logged.
    pub fn entries(&self) -> &[SignalEntry] {
        &self.entries
    }

    /// Hands over the messages logged so far (for export as they come; a
    /// live run does not keep them).
    pub fn take(&mut self) -> Vec<SignalEntry> {
        std::mem::take(&mut self.entries)
    }

    /// The messages of a VoLTE call's legs: its Rx and Gx sessions, and the
    /// Create Bearer exchange of its bearer leg (request and response).
    pub fn messages_of(&self, legs: &VolteLegs) -> Vec<&SignalEntry> {
        let sessions: Vec<&str> = [
            legs.ue.rx_leg.as_ref().map(|l| l.session_id.as_str()),
            legs.ue.gx_leg.as_ref().map(|l| l.session_id.as_str()),
        ]
        .into_iter()
        .flatten()
        .collect();
        let bearer = legs.ue.bearer_leg.as_ref().and_then(|b| {
            self.entries
                .iter()
                .find(|e| e.entry.frame == b.request_frame && e.gtp_sequence.is_some())
        });
        self.entries
            .iter()
            .filter(|e| {
                e.session_id
                    .as_deref()
                    .is_some_and(|s| sessions.contains(&s))
                    || bearer.is_some_and(|req| {
                        e.gtp_sequence == req.gtp_sequence
                            && ((e.entry.src == req.entry.src && e.entry.dst == req.entry.dst)
                                || (e.entry.src == req.entry.dst && e.entry.dst == req.entry.src))
                    })
            })
            .collect()
    }
}

/// The ladder of a call: its SIP messages and, for a VoLTE call, the
/// DIAMETER and GTPv2-C messages of its legs, in time order, each with its
/// protocol; and the nodes whose role is known.
pub struct Ladder<'a> {
    /// `(protocol, entry)` in time order.
    pub messages: Vec<(&'static str, &'a LadderEntry)>,
    /// Nodes with a role, the most specific first.
    pub nodes: Vec<Node>,
}

impl<'a> Ladder<'a> {
    /// The ladder of `call` with the messages of `log`.
    pub fn of(call: &'a super::CallRecord, log: &'a SignalLog) -> Self {
        let mut messages: Vec<(&'static str, &'a LadderEntry)> =
            call.call.ladder.iter().map(|e| ("sip", e)).collect();
        let mut nodes = Vec::new();
        if let Some(legs) = &call.volte {
            let signals = log.messages_of(legs);
            nodes = ladder_nodes(call, &signals, legs.ue.ue_ip);
            messages.extend(signals.iter().map(|s| (s.protocol, &s.entry)));
        }
        messages.sort_by_key(|(_, e)| (e.time, e.frame));
        Ladder { messages, nodes }
    }

    /// The node at an endpoint, if its role is known.
    pub fn node(&self, e: Endpoint) -> Option<&Node> {
        self.nodes.iter().find(|n| n.matches(e))
    }

    /// `ROLE host (ip:port)`, `ROLE (ip:port)` or `ip:port`.
    pub fn label(&self, e: Endpoint) -> String {
        match self.node(e) {
            Some(Node {
                role,
                host: Some(h),
                ..
            }) => format!("{} {h} ({e})", role.name()),
            Some(n) => format!("{} ({e})", n.role.name()),
            None => e.to_string(),
        }
    }
}

/// The nodes of a VoLTE call's ladder: the UE by its address; the other
/// party's phone by its address when the UE answered the call and the
/// first INVITE came from an address in the call's SDP; the SIP
/// peers of either phone as P-CSCFs; DIAMETER and GTPv2-C endpoints by the
/// roles their messages show, DIAMETER ones with their Origin-Host.
fn ladder_nodes(
    call: &super::CallRecord,
    signals: &[&SignalEntry],
    ue_ip: Option<IpAddr>,
) -> Vec<Node> {
    let mut nodes: Vec<Node> = Vec::new();
    let add = |nodes: &mut Vec<Node>, ip: IpAddr, port: Option<u16>, role: Role| {
        if !nodes.iter().any(|n| n.ip == ip && n.port == port) {
            nodes.push(Node {
                ip,
                port,
                role,
                host: None,
            });
        }
    };
    let Some(ue) = ue_ip else {
        return nodes;
    };
    add(&mut nodes, ue, None, Role::Ue);
    let caller = call.call.caller_signalling;
    let caller_in_sdp = call
        .call
        .media
        .iter()
        .flat_map(|o| o.media.iter().filter_map(|m| m.address))
        .any(|a| a == caller.ip);
    if caller.ip != ue && call.call.callee_ip() != ue && caller_in_sdp {
        // The UE answered a call whose first INVITE came from an address
        // that also receives media: the other phone, not a core node.
        add(&mut nodes, caller.ip, None, Role::Remote);
    }
    let phones: Vec<IpAddr> = nodes.iter().map(|n| n.ip).collect();
    for e in call.call.ladder.iter() {
        let peer = match (phones.contains(&e.src.ip), phones.contains(&e.dst.ip)) {
            (true, false) => e.dst,
            (false, true) => e.src,
            _ => continue,
        };
        add(&mut nodes, peer.ip, Some(peer.port), Role::PCscf);
    }
    for s in signals {
        let Some((from, to)) = s.roles else {
            continue;
        };
        let (src, dst) = (s.entry.src, s.entry.dst);
        add(&mut nodes, src.ip, Some(src.port), from);
        add(&mut nodes, dst.ip, Some(dst.port), to);
        if let Some(host) = &s.origin_host {
            if let Some(n) = nodes
                .iter_mut()
                .find(|n| n.ip == src.ip && n.port == Some(src.port))
            {
                n.host.get_or_insert_with(|| host.clone());
            }
        }
    }
    // Endpoints first, whole addresses (the phones) last.
    nodes.sort_by_key(|n| n.port.is_none());
    nodes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diameter_roles_follow_who_asks_on_each_interface() {
        const CMD_AA: u32 = 265;
        const CMD_CC: u32 = 272;
        const CMD_ST: u32 = 275;
        let cases = [
            (APP_RX, CMD_AA, true, (Role::PCscf, Role::Pcrf)),
            (APP_RX, CMD_AA, false, (Role::Pcrf, Role::PCscf)),
            (APP_RX, CMD_ST, true, (Role::PCscf, Role::Pcrf)),
            (APP_RX, CMD_RA, true, (Role::Pcrf, Role::PCscf)),
            (APP_RX, CMD_AS, false, (Role::PCscf, Role::Pcrf)),
            (APP_GX, CMD_CC, true, (Role::Pgw, Role::Pcrf)),
            (APP_GX, CMD_CC, false, (Role::Pcrf, Role::Pgw)),
            (APP_GX, CMD_RA, true, (Role::Pcrf, Role::Pgw)),
            (APP_GX, CMD_RA, false, (Role::Pgw, Role::Pcrf)),
        ];
        for (app, cmd, request, want) in cases {
            assert_eq!(
                diameter_roles(app, cmd, request),
                Some(want),
                "{app} {cmd} {request}"
            );
        }
        assert_eq!(diameter_roles(16_777_216, 300, true), None, "Cx: no role");
    }
}
