#![no_main]
//! RTP header view and the RTP heuristic on arbitrary bytes: never panic, and
//! a parsed payload always lies inside the input.
use libfuzzer_sys::fuzz_target;
use voxprobe::proto::rtp;

fuzz_target!(|data: &[u8]| {
    let _ = rtp::looks_like_rtp(data);
    if let Ok(p) = rtp::Packet::new_checked(data) {
        let r = p.repr();
        assert!(p.header_len() + r.payload_len as usize + p.padding_len() == data.len());
    }
});
