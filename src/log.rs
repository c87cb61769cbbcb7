//! Logs of the live probe: `tracing` events, one line each on stderr, as
//! text or JSON, and a rate limit for events that can come in floods (an
//! interface flapping, a peer resending garbage), so a bad day fills
//! counters, not disks.

use std::time::{Duration, Instant};

/// How log lines are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// `TIME LEVEL message key=value ...`.
    Text,
    /// One JSON object per line (`timestamp`, `level`, `fields`, ...).
    Json,
}

/// Sends `tracing` events at INFO and above to stderr in `format`. Calling
/// it again does nothing (the first subscriber stays).
pub fn init(format: LogFormat) {
    let builder = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(false);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}

/// At most `burst` events per `window`; the rest are counted and the count
/// is handed back with the next event let through, so the log says how many
/// were left out.
#[derive(Debug)]
pub struct RateLimit {
    burst: u32,
    window: Duration,
    window_start: Option<Instant>,
    in_window: u32,
    suppressed: u64,
}

impl RateLimit {
    /// `burst` events per `window`.
    pub fn new(burst: u32, window: Duration) -> Self {
        RateLimit {
            burst,
            window,
            window_start: None,
            in_window: 0,
            suppressed: 0,
        }
    }

    /// Whether an event at `now` may be logged: `Some(n)` with the number
    /// of events suppressed since the last one logged, `None` to suppress
    /// this one (it is counted).
    pub fn allow(&mut self, now: Instant) -> Option<u64> {
        let fresh = self
            .window_start
            .is_none_or(|start| now.saturating_duration_since(start) >= self.window);
        if fresh {
            self.window_start = Some(now);
            self.in_window = 0;
        }
        if self.in_window < self.burst {
            self.in_window += 1;
            Some(std::mem::take(&mut self.suppressed))
        } else {
            self.suppressed += 1;
            None
        }
    }

    /// Events suppressed and not yet reported.
    pub fn suppressed(&self) -> u64 {
        self.suppressed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flood_is_cut_to_the_burst_and_counted() {
        let mut limit = RateLimit::new(3, Duration::from_secs(10));
        let t0 = Instant::now();
        let allowed: Vec<Option<u64>> = (0..10)
            .map(|i| limit.allow(t0 + Duration::from_millis(i)))
            .collect();
        assert_eq!(allowed.iter().filter(|a| a.is_some()).count(), 3);
        assert_eq!(limit.suppressed(), 7);
        // The next window lets events through again and reports the 7.
        assert_eq!(limit.allow(t0 + Duration::from_secs(11)), Some(7));
        assert_eq!(limit.suppressed(), 0);
    }
}
