#![no_main]
use libfuzzer_sys::fuzz_target;

// STUB: filled in with its parser.
fuzz_target!(|data: &[u8]| {
    let _ = data;
});
