//! The signalling log: every decoded DIAMETER and GTPv2-C message of a run,
//! in capture order, with the keys that tie it to a call (DIAMETER
//! Session-Id, GTPv2-C sequence number). Bounded; what does not fit is
//! counted. The multi-protocol ladder of a VoLTE call is read from it.

use super::dialog::LadderEntry;
use super::volte::VolteLegs;
use crate::packet::{Endpoint, Transport};
use crate::time::PacketTime;
use std::net::IpAddr;

/// Messages kept per run; later ones are counted in `dropped`.
pub const MAX_SIGNAL_ENTRIES: usize = 200_000;

/// One DIAMETER or GTPv2-C message.
#[derive(Clone, Debug, PartialEq)]
pub struct SignalEntry {
    /// The ladder line (time, frame, endpoints, label).
    pub entry: LadderEntry,
    /// DIAMETER Session-Id.
    pub session_id: Option<String>,
    /// DIAMETER Origin-Host of the sender.
    pub origin_host: Option<String>,
    /// GTPv2-C sequence number.
    pub gtp_sequence: Option<u32>,
}

/// The log of one run.
#[derive(Clone, Debug, Default)]
pub struct SignalLog {
    entries: Vec<SignalEntry>,
    /// Messages not kept past [`MAX_SIGNAL_ENTRIES`].
    pub dropped: u64,
}

impl SignalLog {
    /// Records one message.
    #[allow(clippy::too_many_arguments)]
    pub fn push(
        &mut self,
        time: PacketTime,
        frame: u64,
        src: Endpoint,
        dst: Endpoint,
        transport: Transport,
        label: String,
        session_id: Option<String>,
        origin_host: Option<String>,
        gtp_sequence: Option<u32>,
    ) {
        if self.entries.len() >= MAX_SIGNAL_ENTRIES {
            self.dropped += 1;
            return;
        }
        self.entries.push(SignalEntry {
            entry: LadderEntry {
                time,
                frame,
                src,
                dst,
                transport,
                label,
                retransmission: false,
            },
            session_id,
            origin_host,
            gtp_sequence,
        });
    }

    /// The messages of a VoLTE call's legs: its Rx and Gx sessions, and the
    /// Create Bearer exchange of its bearer leg (request and response).
    pub fn messages_of(&self, legs: &VolteLegs) -> Vec<&SignalEntry> {
        let sessions: Vec<&str> = [
            legs.rx_leg.as_ref().map(|l| l.session_id.as_str()),
            legs.gx_leg.as_ref().map(|l| l.session_id.as_str()),
        ]
        .into_iter()
        .flatten()
        .collect();
        let bearer = legs.bearer_leg.as_ref().and_then(|b| {
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

    /// Names for the nodes of a ladder: the UE by its address, DIAMETER peers
    /// by the Origin-Host they sent.
    pub fn node_names(
        &self,
        entries: &[&SignalEntry],
        ue_ip: Option<IpAddr>,
    ) -> Vec<(IpAddr, String)> {
        let mut names: Vec<(IpAddr, String)> = Vec::new();
        if let Some(ip) = ue_ip {
            names.push((ip, "UE".to_owned()));
        }
        for e in entries {
            if let Some(host) = &e.origin_host {
                if !names.iter().any(|(ip, _)| *ip == e.entry.src.ip) {
                    names.push((e.entry.src.ip, host.clone()));
                }
            }
        }
        names
    }
}

/// The ladder of a call: its SIP messages and, for a VoLTE call, the
/// DIAMETER and GTPv2-C messages of its legs, in time order, each with its
/// protocol; and names for the nodes that have one.
pub struct Ladder<'a> {
    /// `(protocol, entry)` in time order.
    pub messages: Vec<(&'static str, &'a LadderEntry)>,
    /// Node names by address.
    pub names: Vec<(IpAddr, String)>,
}

impl<'a> Ladder<'a> {
    /// The ladder of `call` with the messages of `log`.
    pub fn of(call: &'a super::CallRecord, log: &'a SignalLog) -> Self {
        let mut messages: Vec<(&'static str, &'a LadderEntry)> =
            call.call.ladder.iter().map(|e| ("sip", e)).collect();
        let mut names = Vec::new();
        if let Some(legs) = &call.volte {
            let signals = log.messages_of(legs);
            names = log.node_names(&signals, legs.ue_ip);
            messages.extend(signals.iter().map(|s| {
                let protocol = if s.gtp_sequence.is_some() {
                    "gtpv2"
                } else {
                    "diameter"
                };
                (protocol, &s.entry)
            }));
        }
        messages.sort_by_key(|(_, e)| (e.time, e.frame));
        Ladder { messages, names }
    }

    /// The name of an address, if it has one.
    pub fn name(&self, ip: IpAddr) -> Option<&str> {
        self.names
            .iter()
            .find(|(a, _)| *a == ip)
            .map(|(_, n)| n.as_str())
    }

    /// `name (ip:port)` or `ip:port`.
    pub fn label(&self, e: Endpoint) -> String {
        match self.name(e.ip) {
            Some(n) => format!("{n} ({e})"),
            None => e.to_string(),
        }
    }
}
