#![no_main]
//! What the export side reads from outside: spool files (a disk can hand
//! back anything), carrier rules and credentials lines (configuration), SIP
//! From/To values (traffic) through the carrier matcher and the privacy
//! rewriting. An answer or an error, never a panic; a rewritten URI keeps no
//! user part in clear.
use libfuzzer_sys::fuzz_target;
use voxprobe::export::labels::{uri_host, CarrierRule};
use voxprobe::export::prometheus::BasicAuth;
use voxprobe::export::spool::parse_batch;
use voxprobe::privacy::{Privacy, PrivacyMode};

fuzz_target!(|data: &[u8]| {
    if let Ok(batch) = parse_batch(data) {
        assert_eq!(batch.body.len() as u64, batch.header.length);
    }
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = text.parse::<CarrierRule>();
    let _ = BasicAuth::from_line(text);
    let _ = uri_host(text);
    let hashing = Privacy::new(PrivacyMode::Hash, Some(b"fuzzing key 0123".to_vec())).unwrap();
    let masking = Privacy::new(PrivacyMode::Mask, None).unwrap();
    for p in [&hashing, &masking] {
        let _ = p.uri(text);
        let _ = p.imsi(text);
        let _ = p.identifier(text);
    }
});
