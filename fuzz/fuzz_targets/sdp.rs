#![no_main]
//! SDP media descriptions and SIP body finding on arbitrary bytes.
use libfuzzer_sys::fuzz_target;
use voxprobe::proto::{sdp, sip};

fuzz_target!(|data: &[u8]| {
    let _ = sip::looks_like_sip(data);
    let body = sip::body(data).unwrap_or(data);
    let media = sdp::media_descriptions(body);
    assert!(media.len() <= sdp::MAX_MEDIA);
});
