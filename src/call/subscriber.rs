//! Subscribers seen on the control plane: IMSI, MSISDN, UE addresses and
//! EPS bearers, learned from GTPv2-C (Create Session, Create Bearer) and
//! DIAMETER (Framed-IP-Address, Subscription-Id).
//!
//! [`SubscriberTable`] owns every subscriber of a run and three O(1) indices:
//! by IMSI, by UE IP and by control-plane TEID (what a GTPv2-C header names;
//! bearer TEIDs are kept with their bearer but not indexed: nothing looks a
//! subscriber up by one, and they were most of the index). Everything is
//! bounded: at most [`MAX_SUBSCRIBERS`] subscribers (when full, the least
//! recently seen [`EVICTION_BATCH`]th of them are evicted and counted),
//! [`MAX_UE_IPS`] addresses and [`MAX_BEARERS`] bearers each. Subscribers
//! not seen for [`SUBSCRIBER_IDLE_NS`] of packet time are aged out by
//! [`SubscriberTable::handle_timeout`]; no clock is read here.
//!
//! Recency is each subscriber's `last_seen` alone, with no queue of touches
//! (one held 1.4 entries of 16 bytes per subscriber, in a deque doubling
//! its room, and cost a push per message): aging scans the table once per
//! sixtieth of the idle time, and a full table once per batch it evicts.

use crate::time::PacketTime;
use serde::Serialize;
use smallvec::SmallVec;
use std::collections::HashMap;
use std::net::IpAddr;

/// Most subscribers remembered at once.
pub const MAX_SUBSCRIBERS: usize = 100_000;
/// Most UE addresses per subscriber (one IPv4 and one IPv6 per PDN, a few PDNs).
pub const MAX_UE_IPS: usize = 4;
/// Most bearers per subscriber (EBI 5 to 15: eleven).
pub const MAX_BEARERS: usize = 11;
/// Most TEIDs per bearer (S1-U, S5/S8-U, each side).
pub const MAX_BEARER_TEIDS: usize = 8;
/// Most control-plane TEIDs (S11, S5/S8-C) per subscriber.
pub const MAX_CONTROL_TEIDS: usize = 8;
/// A subscriber not seen for this long (packet time) is forgotten: one hour
/// (within a sixtieth more: aging runs that often).
pub const SUBSCRIBER_IDLE_NS: i64 = 3_600_000_000_000;
/// A full table evicts this fraction of its capacity at once (at least one
/// subscriber): the scan that finds the least recently seen is paid once
/// per 1 562 new subscribers at the default capacity, not for each.
pub const EVICTION_BATCH: usize = 64;

/// One EPS bearer of a subscriber.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Bearer {
    /// EPS bearer ID.
    pub ebi: Option<u8>,
    /// QoS class identifier (1: conversational voice).
    pub qci: Option<u8>,
    /// Guaranteed bit rate uplink, kbit/s (4 Tbit/s at most: the 40 bits
    /// GTPv2-C allows are saturated).
    pub gbr_ul_kbps: Option<u32>,
    /// Guaranteed bit rate downlink, kbit/s (as uplink).
    pub gbr_dl_kbps: Option<u32>,
    /// TEIDs of the bearer's F-TEIDs (request and response), at most
    /// [`MAX_BEARER_TEIDS`] (four kept inline: a subscriber's lists are short,
    /// and a heap block for each cost more than the list).
    pub teids: SmallVec<[u32; 4]>,
}

/// What is known of one subscriber.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Subscriber {
    /// IMSI digits.
    pub imsi: Box<str>,
    /// MSISDN digits, when seen.
    pub msisdn: Option<Box<str>>,
    /// UE addresses (PAA, Framed-IP-Address), at most [`MAX_UE_IPS`].
    pub ue_ips: SmallVec<[IpAddr; 1]>,
    /// Bearers, at most [`MAX_BEARERS`].
    pub bearers: Vec<Bearer>,
    /// Control-plane TEIDs (sender F-TEIDs of Create Session).
    pub control_teids: SmallVec<[u32; 4]>,
    /// Last time it was seen.
    #[serde(skip)]
    pub last_seen: PacketTime,
}

/// A subscriber of a [`SubscriberTable`], as [`SubscriberTable::touch`]
/// names it, for the updates that follow at once: one of a subscriber since
/// evicted names nobody until 2^32 more subscribers have come (ids wrap).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SubscriberId(u32);

/// Limits hit by the subscriber table.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct SubscriberCounters {
    /// Subscribers created.
    pub created: u64,
    /// Subscribers evicted because the table was full.
    pub evicted_table_full: u64,
    /// Subscribers forgotten after [`SUBSCRIBER_IDLE_NS`].
    pub aged_out: u64,
    /// UE addresses, bearers or TEIDs not kept (per-subscriber limits).
    pub items_dropped: u64,
}

/// The subscribers of a run, with indices by IMSI, UE IP and TEID.
#[derive(Debug)]
pub struct SubscriberTable {
    capacity: usize,
    idle_ns: i64,
    /// Ids are 32 bits (index values half the size); one still in use is
    /// skipped when they wrap.
    next_id: u32,
    subscribers: HashMap<u32, Subscriber, foldhash::fast::RandomState>,
    /// IMSIs of digits, packed ([`packed_imsi`]): no second copy of the
    /// text per subscriber.
    by_imsi: HashMap<u64, u32, foldhash::fast::RandomState>,
    /// Any other IMSI (odd or hostile input), by its text.
    by_imsi_text: HashMap<Box<str>, u32, foldhash::fast::RandomState>,
    by_ip: HashMap<IpAddr, u32, foldhash::fast::RandomState>,
    by_teid: HashMap<u32, u32, foldhash::fast::RandomState>,
    /// When aging next looks at the table (packet time).
    next_aging: Option<PacketTime>,
    counters: SubscriberCounters,
}

/// An IMSI of at most 17 digits as one number: the digits' value and, in the
/// top bits, their count (leading zeros count: "001..." is not "01...").
/// IMSIs have at most 15; anything else is `None` and indexed by its text.
fn packed_imsi(imsi: &str) -> Option<u64> {
    const MAX_DIGITS: usize = 17; // 10^17 < 2^59: the count fits above
    if imsi.is_empty() || imsi.len() > MAX_DIGITS {
        return None;
    }
    let mut value = 0u64;
    for b in imsi.bytes() {
        if !b.is_ascii_digit() {
            return None;
        }
        value = value * 10 + u64::from(b - b'0');
    }
    Some((imsi.len() as u64) << 59 | value)
}

/// Appends to one of a subscriber's short lists, growing it by one item
/// rather than doubling: the lists rarely pass two items, and a table of
/// 100 000 subscribers paid for the room of four.
fn push_exact<T>(list: &mut Vec<T>, item: T) {
    list.reserve_exact(1);
    list.push(item);
}

impl Default for SubscriberTable {
    fn default() -> Self {
        SubscriberTable::new(MAX_SUBSCRIBERS, SUBSCRIBER_IDLE_NS)
    }
}

impl SubscriberTable {
    /// A table of at most `capacity` subscribers, forgotten after `idle_ns`.
    pub fn new(capacity: usize, idle_ns: i64) -> Self {
        SubscriberTable {
            capacity: capacity.max(1),
            idle_ns,
            next_id: 0,
            subscribers: HashMap::default(),
            by_imsi: HashMap::default(),
            by_imsi_text: HashMap::default(),
            by_ip: HashMap::default(),
            by_teid: HashMap::default(),
            next_aging: None,
            counters: SubscriberCounters::default(),
        }
    }

    /// Marks the subscriber with this IMSI seen at `now`, creating it when new
    /// (evicting the least recently seen ones when full); the id names it in
    /// the updates that follow, without looking the IMSI up again.
    pub fn touch(&mut self, now: PacketTime, imsi: &str) -> SubscriberId {
        let id = match self.id_of_imsi(imsi) {
            Some(id) => id,
            None => {
                if self.subscribers.len() >= self.capacity {
                    self.evict_least_recent();
                }
                let mut id = self.next_id;
                while self.subscribers.contains_key(&id) {
                    id = id.wrapping_add(1);
                }
                self.next_id = id.wrapping_add(1);
                self.subscribers.insert(
                    id,
                    Subscriber {
                        imsi: Box::from(imsi),
                        msisdn: None,
                        ue_ips: SmallVec::new(),
                        bearers: Vec::new(),
                        control_teids: SmallVec::new(),
                        last_seen: now,
                    },
                );
                match packed_imsi(imsi) {
                    Some(key) => self.by_imsi.insert(key, id),
                    None => self.by_imsi_text.insert(Box::from(imsi), id),
                };
                self.counters.created += 1;
                id
            }
        };
        if let Some(sub) = self.subscribers.get_mut(&id) {
            sub.last_seen = sub.last_seen.max(now);
        }
        SubscriberId(id)
    }

    /// Evicts the least recently seen [`EVICTION_BATCH`]th of the table's
    /// capacity (at least one; ties go by id, so runs repeat).
    fn evict_least_recent(&mut self) {
        let batch = (self.capacity / EVICTION_BATCH).max(1);
        let mut seen: Vec<(PacketTime, u32)> = self
            .subscribers
            .iter()
            .map(|(id, s)| (s.last_seen, *id))
            .collect();
        if seen.len() > batch {
            seen.select_nth_unstable(batch - 1);
            seen.truncate(batch);
        }
        for (_, id) in seen {
            self.remove(id);
            self.counters.evicted_table_full += 1;
        }
    }

    /// Sets the MSISDN of a subscriber.
    pub fn set_msisdn(&mut self, SubscriberId(id): SubscriberId, msisdn: &str) {
        if let Some(sub) = self.subscribers.get_mut(&id) {
            if sub.msisdn.as_deref() != Some(msisdn) {
                sub.msisdn = Some(Box::from(msisdn));
            }
        }
    }

    /// Adds a UE address to a subscriber and indexes it (an address
    /// moves to its latest owner).
    pub fn add_ue_ip(&mut self, SubscriberId(id): SubscriberId, ip: IpAddr) {
        let Some(sub) = self.subscribers.get_mut(&id) else {
            return;
        };
        if !sub.ue_ips.contains(&ip) {
            if sub.ue_ips.len() >= MAX_UE_IPS {
                self.counters.items_dropped += 1;
                return;
            }
            sub.ue_ips.push(ip);
        }
        if let Some(old) = self.by_ip.insert(ip, id) {
            if old != id {
                if let Some(o) = self.subscribers.get_mut(&old) {
                    o.ue_ips.retain(|a| *a != ip);
                }
            }
        }
    }

    /// Adds a control-plane TEID to a subscriber and indexes it.
    pub fn add_control_teid(&mut self, SubscriberId(id): SubscriberId, teid: u32) {
        let Some(sub) = self.subscribers.get_mut(&id) else {
            return;
        };
        if !sub.control_teids.contains(&teid) {
            if sub.control_teids.len() >= MAX_CONTROL_TEIDS {
                self.counters.items_dropped += 1;
                return;
            }
            sub.control_teids.push(teid);
        }
        self.by_teid.insert(teid, id);
    }

    /// Adds or updates (same EBI) a bearer of a subscriber; its TEIDs
    /// are merged and indexed.
    pub fn add_bearer(&mut self, SubscriberId(id): SubscriberId, bearer: Bearer) {
        let Some(sub) = self.subscribers.get_mut(&id) else {
            return;
        };
        let at = match sub
            .bearers
            .iter()
            .position(|b| b.ebi.is_some() && b.ebi == bearer.ebi)
        {
            Some(i) => i,
            None if sub.bearers.len() >= MAX_BEARERS => {
                self.counters.items_dropped += 1;
                return;
            }
            None => {
                push_exact(
                    &mut sub.bearers,
                    Bearer {
                        ebi: bearer.ebi,
                        ..Bearer::default()
                    },
                );
                sub.bearers.len() - 1
            }
        };
        let b = &mut sub.bearers[at];
        b.qci = bearer.qci.or(b.qci);
        b.gbr_ul_kbps = bearer.gbr_ul_kbps.or(b.gbr_ul_kbps);
        b.gbr_dl_kbps = bearer.gbr_dl_kbps.or(b.gbr_dl_kbps);
        for t in bearer.teids {
            if b.teids.contains(&t) {
                continue;
            }
            if b.teids.len() >= MAX_BEARER_TEIDS {
                self.counters.items_dropped += 1;
                continue;
            }
            b.teids.push(t);
        }
    }

    /// The subscriber with this IMSI.
    pub fn by_imsi(&self, imsi: &str) -> Option<&Subscriber> {
        self.id_of_imsi(imsi)
            .and_then(|id| self.subscribers.get(&id))
    }

    fn id_of_imsi(&self, imsi: &str) -> Option<u32> {
        match packed_imsi(imsi) {
            Some(key) => self.by_imsi.get(&key),
            None => self.by_imsi_text.get(imsi),
        }
        .copied()
    }

    /// The subscriber using this UE address.
    pub fn by_ue_ip(&self, ip: IpAddr) -> Option<&Subscriber> {
        self.by_ip.get(&ip).and_then(|id| self.subscribers.get(id))
    }

    /// The subscriber owning this control-plane TEID.
    pub fn by_teid(&self, teid: u32) -> Option<&Subscriber> {
        self.by_teid
            .get(&teid)
            .and_then(|id| self.subscribers.get(id))
    }

    /// Subscribers held.
    pub fn len(&self) -> usize {
        self.subscribers.len()
    }

    /// Whether no subscriber is held.
    pub fn is_empty(&self) -> bool {
        self.subscribers.is_empty()
    }

    /// Every subscriber, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = &Subscriber> {
        self.subscribers.values()
    }

    /// Forgets subscribers not seen for the idle time before `now`; looks
    /// at the table once per sixtieth of the idle time.
    pub fn handle_timeout(&mut self, now: PacketTime) {
        if self.next_aging.is_some_and(|due| now < due) {
            return;
        }
        self.next_aging = Some(now.add_nanos((self.idle_ns / 60).max(1)));
        let limit = now.add_nanos(-self.idle_ns);
        let idle: Vec<u32> = self
            .subscribers
            .iter()
            .filter(|(_, s)| s.last_seen < limit)
            .map(|(id, _)| *id)
            .collect();
        for id in idle {
            self.remove(id);
            self.counters.aged_out += 1;
        }
    }

    /// Limits hit so far.
    pub fn counters(&self) -> &SubscriberCounters {
        &self.counters
    }

    fn remove(&mut self, id: u32) {
        let Some(sub) = self.subscribers.remove(&id) else {
            return;
        };
        match packed_imsi(&sub.imsi) {
            Some(key) => self.by_imsi.remove(&key),
            None => self.by_imsi_text.remove(&sub.imsi),
        };
        for ip in &sub.ue_ips {
            if self.by_ip.get(ip) == Some(&id) {
                self.by_ip.remove(ip);
            }
        }
        for t in &sub.control_teids {
            if self.by_teid.get(t) == Some(&id) {
                self.by_teid.remove(t);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn t(secs: i64) -> PacketTime {
        PacketTime::from_parts(secs, 0)
    }

    fn ip(last: u8) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(192, 168, 101, last))
    }

    #[test]
    fn indexes_by_imsi_ip_and_control_teid() {
        let mut table = SubscriberTable::default();
        let id = table.touch(t(1), "001011234567895");
        table.set_msisdn(id, "0198765432100");
        table.add_ue_ip(id, ip(2));
        table.add_control_teid(id, 0x11);
        table.add_bearer(
            id,
            Bearer {
                ebi: Some(6),
                qci: Some(1),
                gbr_ul_kbps: Some(128),
                gbr_dl_kbps: Some(128),
                teids: [0x21, 0x11].into_iter().collect(),
            },
        );
        let s = table.by_ue_ip(ip(2)).expect("by ip");
        assert_eq!(&*s.imsi, "001011234567895");
        assert_eq!(s.msisdn.as_deref(), Some("0198765432100"));
        assert_eq!(table.by_teid(0x11).map(|s| &s.imsi), Some(&s.imsi));
        assert_eq!(table.by_imsi("001011234567895").unwrap().bearers.len(), 1);
        assert!(
            table.by_teid(0x21).is_none(),
            "bearer TEIDs are not indexed"
        );
        assert!(table.by_teid(0x99).is_none());
    }

    #[test]
    fn imsis_of_digits_are_packed_exactly_and_any_other_text_still_indexed() {
        assert_eq!(packed_imsi("001"), Some(3 << 59 | 1));
        assert_ne!(packed_imsi("001"), packed_imsi("01"));
        assert_eq!(
            packed_imsi("99999999999999999"),
            Some(17 << 59 | 99_999_999_999_999_999)
        );
        for odd in ["", "123456789012345678", "00101123456789f", "12 4"] {
            assert_eq!(packed_imsi(odd), None, "{odd:?}");
        }
        let mut table = SubscriberTable::default();
        let ids: Vec<_> = [
            "001010000000001",
            "01010000000001",
            "00101x",
            "123456789012345678",
        ]
        .iter()
        .map(|imsi| (imsi, table.touch(t(1), imsi)))
        .collect();
        assert_eq!(
            table.len(),
            4,
            "IMSIs differing only in leading zeros are two"
        );
        for (imsi, id) in ids {
            assert_eq!(table.touch(t(2), imsi), id, "{imsi} found again");
            assert_eq!(table.by_imsi(imsi).map(|s| &*s.imsi), Some(*imsi));
        }
        table.handle_timeout(t(2 + SUBSCRIBER_IDLE_NS / 1_000_000_000 + 1));
        assert!(table.is_empty());
        assert!(table.by_imsi.is_empty() && table.by_imsi_text.is_empty());
    }

    #[test]
    fn full_table_evicts_least_recently_seen() {
        let mut table = SubscriberTable::new(2, SUBSCRIBER_IDLE_NS);
        let one = table.touch(t(1), "1");
        table.add_ue_ip(one, ip(1));
        table.touch(t(2), "2");
        table.touch(t(3), "1"); // "1" seen again: "2" is now the oldest
        table.touch(t(4), "3");
        assert_eq!(table.len(), 2);
        assert!(table.by_imsi("2").is_none());
        assert!(table.by_ue_ip(ip(1)).is_some());
        assert_eq!(table.counters().evicted_table_full, 1);
        assert_eq!(table.counters().created, 3);
    }

    #[test]
    fn a_full_table_evicts_the_least_recently_seen_batch() {
        let capacity = 4 * EVICTION_BATCH;
        let mut table = SubscriberTable::new(capacity, SUBSCRIBER_IDLE_NS);
        for i in 0..capacity {
            table.touch(t(i as i64), &i.to_string());
        }
        table.touch(t(1000), "0"); // seen again: no longer among the oldest
        table.touch(t(1001), "new");
        assert_eq!(table.counters().evicted_table_full, 4);
        assert_eq!(table.len(), capacity - 4 + 1);
        assert!(table.by_imsi("0").is_some() && table.by_imsi("new").is_some());
        for gone in ["1", "2", "3", "4"] {
            assert!(table.by_imsi(gone).is_none(), "{gone} was among the oldest");
        }
        assert!(table.by_imsi("5").is_some());
    }

    #[test]
    fn ids_wrap_past_those_still_in_use() {
        let mut table = SubscriberTable {
            next_id: u32::MAX,
            ..SubscriberTable::default()
        };
        let a = table.touch(t(0), "1");
        let b = table.touch(t(0), "2");
        assert_eq!((a, b), (SubscriberId(u32::MAX), SubscriberId(0)));
        table.next_id = u32::MAX;
        let c = table.touch(t(0), "3");
        assert_eq!(c, SubscriberId(1), "ids in use are skipped");
        assert_eq!(table.by_imsi("1").map(|s| &*s.imsi), Some("1"));
    }

    #[test]
    fn aging_looks_at_the_table_once_per_sixtieth_of_the_idle_time() {
        let mut table = SubscriberTable::new(10, 60_000_000_000);
        table.touch(t(0), "1");
        table.handle_timeout(t(60));
        assert_eq!(table.len(), 1, "seen exactly the idle time ago");
        let just_after = PacketTime::from_parts(60, 500_000_000);
        table.handle_timeout(just_after);
        assert_eq!(table.len(), 1, "the next look is a second later");
        table.handle_timeout(t(61));
        assert!(table.is_empty());
        assert_eq!(table.counters().aged_out, 1);
    }

    #[test]
    fn idle_subscribers_age_out_with_their_indices() {
        let mut table = SubscriberTable::new(10, 10_000_000_000);
        let one = table.touch(t(0), "1");
        table.add_ue_ip(one, ip(1));
        table.add_control_teid(one, 7);
        table.touch(t(5), "2");
        table.handle_timeout(t(12));
        assert!(table.by_imsi("1").is_none());
        assert!(table.by_ue_ip(ip(1)).is_none());
        assert!(table.by_teid(7).is_none());
        assert!(table.by_imsi("2").is_some());
        assert_eq!(table.counters().aged_out, 1);
        table.handle_timeout(t(16));
        assert!(table.is_empty());
    }

    #[test]
    fn per_subscriber_limits_are_counted() {
        let mut table = SubscriberTable::default();
        let one = table.touch(t(0), "1");
        for i in 0..(MAX_UE_IPS as u8 + 2) {
            table.add_ue_ip(one, ip(i));
        }
        for e in 0..(MAX_BEARERS as u8 + 1) {
            table.add_bearer(
                one,
                Bearer {
                    ebi: Some(e),
                    ..Bearer::default()
                },
            );
        }
        let s = table.by_imsi("1").unwrap();
        assert_eq!(s.ue_ips.len(), MAX_UE_IPS);
        assert_eq!(s.bearers.len(), MAX_BEARERS);
        assert_eq!(table.counters().items_dropped, 3);
    }

    #[test]
    fn an_address_moves_to_its_latest_owner() {
        let mut table = SubscriberTable::default();
        let one = table.touch(t(0), "1");
        table.add_ue_ip(one, ip(9));
        let two = table.touch(t(1), "2");
        table.add_ue_ip(two, ip(9));
        assert_eq!(&*table.by_ue_ip(ip(9)).unwrap().imsi, "2");
        assert!(table.by_imsi("1").unwrap().ue_ips.is_empty());
    }
}
