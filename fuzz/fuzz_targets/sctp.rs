#![no_main]
//! SCTP chunk walk and DATA reassembly on an arbitrary packet, fed twice (the
//! second time every DATA chunk is a retransmission): never panic, messages
//! are non-empty, reassembled ones within the message cap, both passes stop at the same
//! error, and the timeout empties the partial messages.
use libfuzzer_sys::fuzz_target;
use std::net::{IpAddr, Ipv4Addr};
use voxprobe::packet::sctp::{SctpConfig, SctpReassembler};
use voxprobe::time::PacketTime;

fuzz_target!(|data: &[u8]| {
    let cfg = SctpConfig {
        max_partial_messages: 4,
        max_message_bytes: 4096,
        max_fragments_per_message: 16,
        max_total_bytes: 8192,
        ..SctpConfig::default()
    };
    let cap = cfg.max_message_bytes;
    let mut r = SctpReassembler::new(cfg);
    let src = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
    let dst = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2));
    let mut results = [Ok(()); 2];
    for (pass, slot) in results.iter_mut().enumerate() {
        let now = PacketTime::from_nanos(pass as i64 * 1_000_000);
        // An unfragmented message is a slice of the packet and may be as
        // long as it; only reassembled messages are bounded by the cap.
        let limit = cap.max(data.len());
        let result = r.handle_packet(now, src, dst, data, &mut |m| {
            assert!(
                !m.data.is_empty() && m.data.len() <= limit,
                "message size {}",
                m.data.len()
            );
        });
        if let Err(e) = result {
            assert!(!e.reason().is_empty());
        }
        *slot = result;
    }
    assert_eq!(results[0], results[1]);
    r.handle_timeout(PacketTime::from_nanos(i64::MAX));
    assert_eq!(r.partial_count(), 0);
});
