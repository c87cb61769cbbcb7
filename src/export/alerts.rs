//! Per-call quality alerts: a direction of a finished call whose MOS, jitter,
//! loss or one-way delay crossed a threshold. The same thresholds drive the
//! Prometheus rules in `alerts/voxprobe.rules.yml` (over many calls); these
//! name the single call.

use crate::call::{CallRecord, Direction};
use crate::time::PacketTime;
use serde::{Deserialize, Serialize};

/// The metrics an alert can be about.
pub const METRICS: [&str; 4] = ["mos", "jitter", "loss", "delay"];

/// A warning and a critical level; which way is worse depends on the metric.
#[derive(Clone, Copy, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Levels {
    /// Warning level.
    pub warning: f64,
    /// Critical level.
    pub critical: f64,
}

/// The thresholds (ITU-T G.107/G.114 and common carrier practice).
#[derive(Clone, Copy, Debug, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Thresholds {
    /// MOS below.
    pub mos: Levels,
    /// Mean jitter above, ms.
    pub jitter_ms: Levels,
    /// Loss above, %.
    pub loss_percent: Levels,
    /// One-way delay above, ms (only when RTCP measured it).
    pub delay_ms: Levels,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            mos: Levels {
                warning: 3.0,
                critical: 2.5,
            },
            jitter_ms: Levels {
                warning: 30.0,
                critical: 50.0,
            },
            loss_percent: Levels {
                warning: 3.0,
                critical: 5.0,
            },
            delay_ms: Levels {
                warning: 150.0,
                critical: 200.0,
            },
        }
    }
}

/// How bad.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Past the warning level.
    Warning,
    /// Past the critical level.
    Critical,
}

impl Severity {
    /// Stable label.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }
}

/// One threshold crossed by one direction of one call.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct QualityAlert {
    /// When the call ended (else its last media).
    #[serde(serialize_with = "crate::export::json::serialize_time")]
    pub time: PacketTime,
    /// Call-ID.
    pub call_id: String,
    /// The direction.
    pub direction: Direction,
    /// `mos`, `jitter`, `loss` or `delay`.
    pub metric: &'static str,
    /// How bad.
    pub severity: Severity,
    /// The measured value.
    pub value: f64,
    /// The level it crossed.
    pub threshold: f64,
}

impl Thresholds {
    /// The alerts of a finished call, worst first within each direction.
    pub fn evaluate(&self, r: &CallRecord) -> Vec<QualityAlert> {
        let time = r
            .end_time
            .or_else(|| r.streams.iter().map(|s| s.report.last_time).max())
            .unwrap_or(r.call.invite_time);
        let mut out = Vec::new();
        for d in [Direction::CallerToCallee, Direction::CalleeToCaller] {
            let Some(s) = r.direction(d) else { continue };
            let delay = r.measured_delay_ms(s);
            let checks = [
                ("mos", s.mos, self.mos, true),
                ("jitter", Some(s.mean_jitter_ms), self.jitter_ms, false),
                ("loss", Some(s.lost_percent), self.loss_percent, false),
                ("delay", delay, self.delay_ms, false),
            ];
            for (metric, value, levels, lower_is_worse) in checks {
                let Some(value) = value.filter(|v| v.is_finite()) else {
                    continue;
                };
                let past = |level: f64| {
                    if lower_is_worse {
                        value < level
                    } else {
                        value > level
                    }
                };
                let hit = if past(levels.critical) {
                    Some((Severity::Critical, levels.critical))
                } else if past(levels.warning) {
                    Some((Severity::Warning, levels.warning))
                } else {
                    None
                };
                if let Some((severity, threshold)) = hit {
                    out.push(QualityAlert {
                        time,
                        call_id: r.call.call_id.clone(),
                        direction: d,
                        metric,
                        severity,
                        value,
                        threshold,
                    });
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_thresholds_are_the_documented_ones() {
        let t = Thresholds::default();
        assert_eq!((t.mos.warning, t.mos.critical), (3.0, 2.5));
        assert_eq!((t.jitter_ms.warning, t.jitter_ms.critical), (30.0, 50.0));
        assert_eq!(
            (t.loss_percent.warning, t.loss_percent.critical),
            (3.0, 5.0)
        );
        assert_eq!((t.delay_ms.warning, t.delay_ms.critical), (150.0, 200.0));
    }

    #[test]
    fn thresholds_read_from_toml() {
        let t: Thresholds = toml::from_str("mos = { warning = 3.5, critical = 3.0 }").unwrap();
        assert_eq!(t.mos.warning, 3.5);
        assert_eq!(t.jitter_ms, Thresholds::default().jitter_ms);
        assert!(toml::from_str::<Thresholds>("mos_typo = 1").is_err());
    }
}
