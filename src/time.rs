//! Packet time: the only clock protocol logic ever sees.
//!
//! Every timer in voxprobe (fragment and TCP reassembly timeouts, stream
//! inactivity, later call timeouts and 5-second quality intervals) runs on the
//! timestamps of the captured packets, never on the wall clock. That is what makes
//! offline analysis deterministic: the same file gives the same output whatever
//! the machine, its load or the number of workers.

use std::fmt;

/// A capture timestamp: nanoseconds since the Unix epoch (UTC).
///
/// `i64` nanoseconds cover the years 1678 to 2262, which is every timestamp a
/// capture file can hold in practice; pcap files from 1979 (seen in the wild)
/// are fine.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PacketTime(i64);

const NANOS_PER_SEC: i64 = 1_000_000_000;

impl PacketTime {
    /// The epoch, used before any packet has been seen.
    pub const ZERO: PacketTime = PacketTime(0);

    /// A time from whole seconds and nanoseconds since the epoch.
    pub fn from_parts(secs: i64, nanos: u32) -> Self {
        PacketTime(
            secs.saturating_mul(NANOS_PER_SEC)
                .saturating_add(i64::from(nanos)),
        )
    }

    /// A time from nanoseconds since the epoch.
    pub const fn from_nanos(nanos: i64) -> Self {
        PacketTime(nanos)
    }

    /// Nanoseconds since the epoch.
    pub const fn as_nanos(self) -> i64 {
        self.0
    }

    /// Seconds since the epoch, as a float (for arithmetic, not for display).
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / 1e9
    }

    /// `self - earlier` in milliseconds (negative when `earlier` is later).
    pub fn millis_since(self, earlier: PacketTime) -> f64 {
        self.0.saturating_sub(earlier.0) as f64 / 1e6
    }

    /// This time plus `nanos` nanoseconds, saturating.
    pub fn add_nanos(self, nanos: i64) -> PacketTime {
        PacketTime(self.0.saturating_add(nanos))
    }

    /// Formats as RFC 3339 UTC with microseconds, e.g. `2005-09-09T12:02:25.330945Z`.
    pub fn rfc3339_micros(self) -> Rfc3339Micros {
        Rfc3339Micros(self)
    }
}

/// Display adapter returned by [`PacketTime::rfc3339_micros`]; allocates nothing.
#[derive(Clone, Copy, Debug)]
pub struct Rfc3339Micros(PacketTime);

impl fmt::Display for Rfc3339Micros {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let nanos = self.0 .0;
        let secs = nanos.div_euclid(NANOS_PER_SEC);
        let micros = nanos.rem_euclid(NANOS_PER_SEC) / 1000;
        let days = secs.div_euclid(86_400);
        let sod = secs.rem_euclid(86_400);
        let (y, m, d) = civil_from_days(days);
        write!(
            f,
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{micros:06}Z",
            sod / 3600,
            (sod / 60) % 60,
            sod % 60
        )
    }
}

/// Days since 1970-01-01 to a proleptic Gregorian (year, month, day).
/// Howard Hinnant's `civil_from_days`, exact for the whole `i64` day range we use.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_capinfos_first_packet_time() {
        // sip-rtp-g711a-rfc2833-dtmf.cap: capinfos "2005-09-09 12:02:25.330945".
        let t = PacketTime::from_parts(1_126_267_345, 330_945_000);
        assert_eq!(
            t.rfc3339_micros().to_string(),
            "2005-09-09T12:02:25.330945Z"
        );
    }

    #[test]
    fn formats_before_epoch_and_leap_day() {
        assert_eq!(
            PacketTime::from_nanos(-1_000).rfc3339_micros().to_string(),
            "1969-12-31T23:59:59.999999Z"
        );
        // 2024-02-29T00:00:00Z
        let t = PacketTime::from_parts(1_709_164_800, 0);
        assert_eq!(
            t.rfc3339_micros().to_string(),
            "2024-02-29T00:00:00.000000Z"
        );
    }

    #[test]
    fn millis_since_is_signed() {
        let a = PacketTime::from_parts(10, 0);
        let b = PacketTime::from_parts(10, 500_000);
        assert_eq!(b.millis_since(a), 0.5);
        assert_eq!(a.millis_since(b), -0.5);
    }
}
