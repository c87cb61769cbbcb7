//! `voxprobe report`: the ranking of carriers, agents or codecs from
//! captures, offline, with the figures of the ClickHouse rollups
//! (`calls_hourly_by_*`), computed the same way: MOS is a call's worse
//! direction, loss and jitter its worse direction's, setup time INVITE → 2xx,
//! quantiles interpolated between the two nearest values as ClickHouse's
//! `quantile` does for fewer than 8192 values.

use super::labels::Labeller;
use crate::call::{CallRecord, Outcome};
use serde::Serialize;
use std::collections::BTreeMap;

/// What calls are grouped by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Dimension {
    /// The configured carrier.
    Carrier,
    /// The SIP user of the configured side.
    Agent,
    /// The first codec negotiated.
    Codec,
}

impl Dimension {
    /// Stable label.
    pub fn as_str(self) -> &'static str {
        match self {
            Dimension::Carrier => "carrier",
            Dimension::Agent => "agent",
            Dimension::Codec => "codec",
        }
    }
}

/// The figures of one group.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct ReportRow {
    /// The group's value (carrier name, agent, codec).
    pub key: String,
    /// Calls.
    pub calls: u64,
    /// Answered calls.
    pub answered: u64,
    /// Answered / calls.
    pub asr: f64,
    /// Calls whose media could be rated.
    pub rated: u64,
    /// Mean MOS of the rated calls.
    pub mos_mean: Option<f64>,
    /// Lowest MOS.
    pub mos_min: Option<f64>,
    /// Median MOS.
    pub mos_median: Option<f64>,
    /// Share of rated calls with MOS ≥ 4.0.
    pub mos_good_share: Option<f64>,
    /// Share of rated calls with MOS < 3.0.
    pub mos_poor_share: Option<f64>,
    /// Mean loss %, over calls with media.
    pub lost_percent_mean: Option<f64>,
    /// Mean jitter ms, over calls with media.
    pub jitter_ms_mean: Option<f64>,
    /// Setup time (ms) at 50, 90 and 99 %.
    pub setup_ms_p50: Option<f64>,
    /// 90 %.
    pub setup_ms_p90: Option<f64>,
    /// 99 %.
    pub setup_ms_p99: Option<f64>,
}

/// What the rows are built from.
#[derive(Default)]
struct Group {
    calls: u64,
    answered: u64,
    mos: Vec<f64>,
    lost: Vec<f64>,
    jitter: Vec<f64>,
    setup: Vec<f64>,
}

/// Collects calls, then ranks.
pub struct Report {
    by: Dimension,
    labels: Labeller,
    groups: BTreeMap<String, Group>,
}

impl Report {
    /// An empty report by `by`.
    pub fn new(by: Dimension, labels: Labeller) -> Self {
        Report {
            by,
            labels,
            groups: BTreeMap::new(),
        }
    }

    /// Adds calls.
    pub fn add(&mut self, calls: &[CallRecord]) {
        for r in calls {
            let key = match self.by {
                Dimension::Carrier => self.labels.carrier(&r.call).to_owned(),
                Dimension::Agent => self.labels.agent(&r.call).to_owned(),
                Dimension::Codec => r.codecs.first().cloned().unwrap_or_default(),
            };
            let g = self.groups.entry(key).or_default();
            g.calls += 1;
            g.answered += u64::from(r.outcome == Outcome::Answered);
            // The call rows keep these as Float32; the rollups average those.
            let f32_round = |v: f64| f64::from(v as f32);
            g.mos.extend(r.worst(|d| d.mos, true).map(f32_round));
            g.lost
                .extend(r.worst(|d| Some(d.lost_percent), false).map(f32_round));
            g.jitter
                .extend(r.worst(|d| Some(d.mean_jitter_ms), false).map(f32_round));
            g.setup.extend(r.setup_ms());
        }
    }

    /// The rows, worst mean MOS first (groups without rated calls last, by
    /// name).
    pub fn rows(&self) -> Vec<ReportRow> {
        let mut rows: Vec<ReportRow> = self
            .groups
            .iter()
            .map(|(key, g)| {
                let rated = g.mos.len() as u64;
                let share = |n: usize| (rated > 0).then(|| n as f64 / rated as f64);
                ReportRow {
                    key: key.clone(),
                    calls: g.calls,
                    answered: g.answered,
                    asr: if g.calls > 0 {
                        g.answered as f64 / g.calls as f64
                    } else {
                        0.0
                    },
                    rated,
                    mos_mean: mean(&g.mos),
                    mos_min: g.mos.iter().copied().reduce(f64::min),
                    mos_median: quantile(&g.mos, 0.5),
                    mos_good_share: share(g.mos.iter().filter(|m| **m >= 4.0).count()),
                    mos_poor_share: share(g.mos.iter().filter(|m| **m < 3.0).count()),
                    lost_percent_mean: mean(&g.lost),
                    jitter_ms_mean: mean(&g.jitter),
                    setup_ms_p50: quantile(&g.setup, 0.5),
                    setup_ms_p90: quantile(&g.setup, 0.9),
                    setup_ms_p99: quantile(&g.setup, 0.99),
                }
            })
            .collect();
        rows.sort_by(|a, b| match (a.mos_mean, b.mos_mean) {
            (Some(x), Some(y)) => x.total_cmp(&y).then_with(|| a.key.cmp(&b.key)),
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (None, None) => a.key.cmp(&b.key),
        });
        rows
    }

    /// The dimension.
    pub fn by(&self) -> Dimension {
        self.by
    }
}

fn mean(v: &[f64]) -> Option<f64> {
    (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
}

/// The `level` quantile with linear interpolation between the two nearest
/// ranks (position `level × (n − 1)`).
pub fn quantile(values: &[f64], level: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let position = level.clamp(0.0, 1.0) * (sorted.len() - 1) as f64;
    let low = position.floor() as usize;
    let high = position.ceil() as usize;
    let (a, b) = (sorted.get(low)?, sorted.get(high)?);
    Some(a + (b - a) * (position - low as f64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_interpolate() {
        assert_eq!(quantile(&[], 0.5), None);
        assert_eq!(quantile(&[7.0], 0.99), Some(7.0));
        assert_eq!(quantile(&[1.0, 2.0, 3.0, 4.0], 0.5), Some(2.5));
        assert_eq!(quantile(&[4.0, 1.0, 3.0, 2.0], 0.0), Some(1.0));
        let q = quantile(&[10.0, 20.0, 30.0, 40.0, 50.0], 0.9).unwrap();
        assert!((q - 46.0).abs() < 1e-9, "{q}");
    }
}
