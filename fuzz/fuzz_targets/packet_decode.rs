//! Fuzzes the frame decoder: the first byte picks the link type, the rest is
//! the frame. The same bytes are decoded twice (as frames 1 and 2, the second
//! one second later) so fragments, TCP segments and SCTP chunks meet reassembly
//! state, then the timeout runs. Checks: no panic, every payload slice readable,
//! the frame-class counters add up.
#![no_main]
use libfuzzer_sys::fuzz_target;
use voxprobe::capture::{Frame, LinkType};
use voxprobe::packet::{Decoder, DecoderConfig, Verdict};
use voxprobe::time::PacketTime;

const LINKS: [LinkType; 9] = [
    LinkType::Ethernet,
    LinkType::LinuxSll,
    LinkType::LinuxSll2,
    LinkType::Null,
    LinkType::Loop,
    LinkType::RawIp,
    LinkType::Ipv4,
    LinkType::Ipv6,
    LinkType::Unknown(147),
];

fuzz_target!(|data: &[u8]| {
    let Some((&pick, frame)) = data.split_first() else {
        return;
    };
    let link = LINKS[usize::from(pick) % LINKS.len()];
    // The top bit says whether the snap length cut the frame.
    let cut = pick & 0x80 != 0;
    let orig_len = frame.len() as u32 + if cut { 100 } else { 0 };
    let mut decoder = Decoder::new(DecoderConfig::default());
    for number in 1..=2u64 {
        let f = Frame {
            data: frame,
            time: PacketTime::from_parts(number as i64, 0),
            orig_len,
            link,
            interface: 0,
            number,
        };
        decoder.decode(&f, &mut |dg| {
            // Touch every byte: a bad slice would fault here.
            let sum = dg.payload.iter().fold(0u8, |a, b| a.wrapping_add(*b));
            assert_eq!(dg.frame, number);
            if sum & 1 == 0 {
                Verdict::Ours
            } else {
                Verdict::NotForUs
            }
        });
    }
    decoder.handle_timeout(PacketTime::from_parts(1_000, 0));
    let c = decoder.counters();
    assert_eq!(c.total, 2);
    assert_eq!(
        c.total,
        c.decoded + c.not_for_us + c.malformed_total() + c.truncated_total()
    );
});
