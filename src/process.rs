//! Facts about this process the probe reports: its memory, from
//! `/proc/self/status` (Linux).

/// Resident memory now and at its peak, bytes (`VmRSS`, `VmHWM`); `None`
/// where `/proc` is not there.
pub fn memory() -> Option<(u64, u64)> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().strip_suffix("kB"))
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(|kb| kb * 1024)
    };
    Some((field("VmRSS:")?, field("VmHWM:")?))
}

#[cfg(test)]
mod tests {
    #[test]
    fn memory_is_read() {
        let (rss, peak) = super::memory().expect("Linux /proc");
        assert!(rss > 0 && peak >= rss, "{rss} {peak}");
    }
}
