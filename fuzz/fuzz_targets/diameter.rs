#![no_main]
//! DIAMETER on arbitrary bytes: the header view, the AVP iterator, the
//! bounded walk, the message summary and request/answer matching never
//! panic, every AVP stays inside the message, and the walk's bounds hold.
use libfuzzer_sys::fuzz_target;
use std::net::{IpAddr, Ipv4Addr};
use voxprobe::packet::Endpoint;
use voxprobe::proto::diameter::avp::{self, walk, MAX_AVPS, MAX_GROUP_DEPTH};
use voxprobe::proto::diameter::summary::{Message, MAX_ANOMALIES};
use voxprobe::proto::diameter::transactions::Transactions;
use voxprobe::proto::diameter::{DiameterCounters, Packet, HEADER_LEN};
use voxprobe::time::PacketTime;

fn touch(a: &avp::Avp<'_>) {
    let _ = (
        a.code(),
        a.flags(),
        a.vendor_id(),
        a.key(),
        a.is_mandatory(),
    );
    let _ = (a.is_protected(), a.definition(), a.is_grouped());
    let _ = (a.as_u32(), a.as_u64(), a.as_str(), a.as_address());
    let _ = (a.as_raw_ipv4(), a.as_ipv6_prefix());
    assert!(a.data().len() + avp::HEADER_LEN <= a.len());
}

fuzz_target!(|data: &[u8]| {
    // The AVP iterator on the raw bytes, as if they were a grouped AVP.
    let mut total = 0;
    for item in avp::Avps::new(data) {
        let Ok(a) = item else { break };
        total += a.len();
        assert!(total <= data.len());
        touch(&a);
        let _ = a.children().take(16).count();
    }
    let mut visited = 0;
    let out = walk(data, &mut |path, a| {
        visited += 1;
        assert!(path.len() <= MAX_GROUP_DEPTH);
        touch(&a);
    });
    assert_eq!(out.avps, visited);
    assert!(out.avps <= MAX_AVPS);

    let mut counters = DiameterCounters::default();
    match Packet::new_checked(data) {
        Ok(p) => {
            let h = p.header_repr();
            assert!(h.length as usize >= HEADER_LEN && h.length as usize <= data.len());
            assert_eq!(p.avp_data().len() + HEADER_LEN, h.length as usize);
            let _ = p.avps().count();
            let m = Message::parse(data).expect("header already checked");
            assert!(m.anomalies.len() <= MAX_ANOMALIES);
            assert!(m.anomalies.len() as u32 <= m.anomaly_count);
            counters.count_message(&m);
            let a = Endpoint::new(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)), 3868);
            let b = Endpoint::new(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2)), 40000);
            let mut tx = Transactions::new(4, 1_000);
            let t = PacketTime::from_nanos(0);
            tx.handle_message(t, 1, &m.header, a, b);
            let mut answer = m.header;
            answer.request = !answer.request;
            tx.handle_message(t.add_nanos(10), 2, &answer, b, a);
            tx.handle_timeout(t.add_nanos(2_000));
            let c = tx.finish();
            assert_eq!(c.answered + c.unmatched_answers, 1);
        }
        Err(e) => {
            assert!(Message::parse(data).is_err());
            counters.count_malformed(e);
        }
    }
    assert_eq!(counters.messages + counters.malformed, 1);
});
