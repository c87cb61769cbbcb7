#![no_main]
//! The capture file reader on arbitrary bytes: never panic, never loop, every
//! frame's bytes lie inside the input, frame numbers count up from 1, and a stop
//! lies inside the input too.
use libfuzzer_sys::fuzz_target;
use std::path::Path;
use voxprobe::capture::file::FrameReader;

fuzz_target!(|data: &[u8]| {
    let Ok(mut frames) = FrameReader::new(Path::new("fuzz"), data) else {
        return;
    };
    let input = data.as_ptr_range();
    let mut number = 0;
    for frame in frames.by_ref() {
        let bytes = frame.data.as_ptr_range();
        assert!(input.start <= bytes.start && bytes.end <= input.end);
        number += 1;
        assert_eq!(frame.number, number);
        let _ = frame.is_snaplen_truncated();
    }
    assert!(frames.offset() <= data.len() as u64);
    if let Some(stop) = frames.stop() {
        assert!(stop.offset <= data.len() as u64);
        assert_eq!(stop.offset, frames.offset());
    }
    let _ = frames.interfaces();
});
