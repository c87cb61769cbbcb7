#![no_main]
//! The configuration file reader on arbitrary text: options or an error,
//! never a panic; every option's name can follow `--`.
use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(options) = voxprobe::config::to_options(text, Path::new("fuzz.toml")) {
        for o in &options {
            assert!(voxprobe::config::is_option_name(&o.long), "{o:?}");
            assert_eq!(o.words().count(), 1 + usize::from(o.value.is_some()));
        }
    }
});
