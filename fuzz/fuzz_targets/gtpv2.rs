#![no_main]
//! GTPv2-C on arbitrary bytes: header views, piggybacked messages, the IE
//! walk (grouped IEs included), every value decoder, the summary and the
//! transaction tracker never panic, and every view stays inside its message.
use libfuzzer_sys::fuzz_target;
use std::net::{IpAddr, Ipv4Addr};
use voxprobe::packet::Endpoint;
use voxprobe::proto::gtpv2::{self, ie, Gtpv2Tracker};
use voxprobe::time::PacketTime;

fn touch(ie: &ie::Ie<'_>) {
    let v = ie.value;
    let _ = (ie.ie_type.name(), ie.ie_type.is_grouped(), ie.instance);
    let _ = (ie::tbcd(v), ie::dotted_name(v), ie::Cause::parse(v));
    let _ = (
        ie::octet(v),
        ie::ebi(v),
        ie::ip_address(v),
        ie::charging_id(v),
        ie::pdn_type(v),
        ie::selection_mode(v),
    );
    let _ = (
        ie::Ambr::parse(v),
        ie::Paa::parse(v),
        ie::BearerQos::parse(v),
    );
    let _ = (ie::FlowQos::parse(v), ie::Plmn::parse(v), ie::Uli::parse(v));
    if let Ok(f) = ie::Fteid::parse(v, ie.instance) {
        let _ = f.interface_name();
    }
    if let Some(members) = ie.members() {
        let _ = members.count();
    }
}

fuzz_target!(|data: &[u8]| {
    let mut consumed = 0;
    for item in gtpv2::messages(data) {
        let Ok(msg) = item else { break };
        consumed += msg.total_len();
        assert!(consumed <= data.len());
        assert_eq!(msg.body().len() + msg.header_len(), msg.total_len());
        let _ = (msg.version(), msg.piggybacking(), msg.message_type().name());
        let _ = (
            msg.message_type().kind(),
            msg.teid(),
            msg.sequence(),
            msg.spare(),
        );
        let mut visited = 0;
        let _ = ie::walk(msg.body(), &mut |depth, ie| {
            assert!(depth <= ie::MAX_GROUPED_DEPTH);
            visited += 1;
            touch(ie);
        });
        assert!(visited <= ie::MAX_IES_PER_MESSAGE);
        let s = gtpv2::summarize(&msg);
        assert!(s.bearers.len() <= gtpv2::MAX_BEARERS);
        assert!(s.anomalies.len() <= gtpv2::MAX_ANOMALIES);
        let _ = format!("{s:?}");
    }

    let a = Endpoint::new(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)), 2123);
    let b = Endpoint::new(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2)), 2123);
    let mut tracker = Gtpv2Tracker::new(4, 1_000_000_000);
    let t0 = PacketTime::from_nanos(1_000_000_000);
    tracker.handle_datagram(t0, a, b, data, &mut |_, _| {});
    tracker.handle_datagram(t0.add_nanos(1), b, a, data, &mut |_, _| {});
    tracker.handle_timeout(t0.add_nanos(2_000_000_000));
    assert_eq!(tracker.pending(), 0);
});
