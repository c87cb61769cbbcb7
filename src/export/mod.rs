//! Output of results: JSON lines and the terminal table, ClickHouse (rows,
//! schema, spool), quality alerts, and the labels exports group by.

pub mod alerts;
pub mod clickhouse;
pub mod json;
pub mod labels;
pub mod pcap;
pub mod prometheus;
pub mod report;
pub mod rows;
pub mod schema;
pub mod spool;
pub mod table;

use crate::analyze::StreamRecord;
use crate::call::signal_log::SignalEntry;
use crate::call::CallRecord;
use crate::log::RateLimit;
use std::io::Write as _;
use std::sync::Arc;
use std::time::Duration;

/// Where a run's records go besides standard output: ClickHouse (when
/// configured), and per-call quality alerts to the log and a JSON lines
/// file.
pub struct Exports {
    context: rows::RowContext,
    clickhouse: Option<clickhouse::ClickHouseSink>,
    metrics: Option<Arc<prometheus::Metrics>>,
    alerts_file: Option<std::io::BufWriter<std::fs::File>>,
    alert_log: RateLimit,
    /// Alerts raised, warning and critical.
    pub alerts_raised: [u64; 2],
}

/// How a record reaches the export thread.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Delivery {
    /// Wait for room (offline analysis: nothing to lose by waiting).
    Wait,
    /// Never wait; drop and count when the queue is full (live capture).
    DropWhenFull,
}

impl Exports {
    /// Exports with `context`'s labels and thresholds to `clickhouse` (if
    /// any), `metrics` (if any) and `alerts_file` (if any).
    pub fn new(
        context: rows::RowContext,
        clickhouse: Option<clickhouse::ClickHouseSink>,
        metrics: Option<Arc<prometheus::Metrics>>,
        alerts_file: Option<std::fs::File>,
    ) -> Self {
        if let (Some(m), Some(sink)) = (&metrics, &clickhouse) {
            m.set_export(sink.counters().clone());
        }
        Exports {
            context,
            clickhouse,
            metrics,
            alerts_file: alerts_file.map(std::io::BufWriter::new),
            alert_log: RateLimit::new(20, Duration::from_secs(60)),
            alerts_raised: [0; 2],
        }
    }

    /// Exports closed calls (with their streams) and streams of no call.
    pub fn calls(
        &mut self,
        source: &str,
        calls: &[CallRecord],
        streams: &[StreamRecord],
        delivery: Delivery,
    ) {
        let version = now_micros();
        let mut rows = rows::Rows::default();
        for c in calls {
            let alerts = self.context.add_call(&mut rows, source, version, c);
            if let Some(m) = &self.metrics {
                let carrier = self.context.labels.carrier(&c.call);
                m.observe_call(c, carrier);
                for a in &alerts {
                    m.observe_alert(a, carrier);
                }
            }
            for a in &alerts {
                self.alert(a);
            }
        }
        for s in streams {
            self.context.add_orphan_stream(&mut rows, version, s);
        }
        self.send(rows, delivery);
    }

    /// Exports the provisional 5-second samples of running streams.
    pub fn samples(&mut self, samples: &[crate::analyze::StreamSamples], delivery: Delivery) {
        if self.clickhouse.is_none() || samples.is_empty() {
            return;
        }
        let version = now_micros();
        let mut rows = rows::Rows::default();
        for s in samples {
            self.context.add_samples(&mut rows, version, s);
        }
        self.send(rows, delivery);
    }

    /// Changes how calls are labelled and when they raise alerts (a
    /// configuration reload); new carriers get their metric series.
    pub fn reconfigure(&mut self, labels: labels::Labeller, thresholds: alerts::Thresholds) {
        if let Some(m) = &self.metrics {
            m.add_carriers(&labels.carrier_names());
        }
        self.context.labels = labels;
        self.context.thresholds = thresholds;
    }

    /// The carrier and agent of a call, as rows label it.
    pub fn labels(&self) -> &labels::Labeller {
        &self.context.labels
    }

    /// Exports DIAMETER and GTPv2-C messages.
    pub fn signals(&mut self, signals: &[SignalEntry], delivery: Delivery) {
        let version = now_micros();
        let mut rows = rows::Rows::default();
        for s in signals {
            self.context.add_signal(&mut rows, version, s);
        }
        self.send(rows, delivery);
    }

    /// The run's counters, for the metrics.
    pub fn status(&self, status: prometheus::RunStatus) {
        if let Some(m) = &self.metrics {
            m.set_status(status);
        }
    }

    /// Whether rows go to ClickHouse (the signaling table wants every
    /// message kept).
    pub fn to_clickhouse(&self) -> bool {
        self.clickhouse.is_some()
    }

    /// The ClickHouse sink's counters, when there is one.
    pub fn clickhouse_counters(&self) -> Option<&Arc<clickhouse::ExportCounters>> {
        self.clickhouse
            .as_ref()
            .map(clickhouse::ClickHouseSink::counters)
    }

    fn send(&mut self, rows: rows::Rows, delivery: Delivery) {
        if let Some(sink) = &self.clickhouse {
            match delivery {
                Delivery::Wait => sink.send_waiting(rows),
                Delivery::DropWhenFull => sink.send(rows),
            }
        }
    }

    fn alert(&mut self, a: &alerts::QualityAlert) {
        self.alerts_raised[a.severity as usize] += 1;
        if let Some(suppressed) = self.alert_log.allow(std::time::Instant::now()) {
            tracing::warn!(
                suppressed_before = suppressed,
                call_id = %a.call_id,
                direction = a.direction.as_str(),
                metric = a.metric,
                severity = a.severity.as_str(),
                value = a.value,
                threshold = a.threshold,
                "quality alert: call {} {} {} {:.2} past the {} level {}",
                a.call_id,
                a.direction.as_str(),
                a.metric,
                a.value,
                a.severity.as_str(),
                a.threshold
            );
        }
        if let Some(f) = &mut self.alerts_file {
            let line = serde_json::to_vec(&serde_json::json!({
                "type": "quality_alert",
                "time": a.time.rfc3339_micros().to_string(),
                "call_id": a.call_id,
                "direction": a.direction.as_str(),
                "metric": a.metric,
                "severity": a.severity.as_str(),
                "value": a.value,
                "threshold": a.threshold,
            }));
            let written = line.map_err(std::io::Error::other).and_then(|mut l| {
                l.push(b'\n');
                f.write_all(&l)?;
                f.flush()
            });
            if let Err(e) = written {
                tracing::error!(error = %e, "writing the alerts file: {e}; no more alerts are written to it");
                self.alerts_file = None;
            }
        }
    }

    /// Flushes everything; waits at most `drain` for ClickHouse to take
    /// what is spooled. Returns the sink's counters.
    pub fn finish(mut self, drain: Duration) -> Option<Arc<clickhouse::ExportCounters>> {
        if let Some(f) = &mut self.alerts_file {
            let _ = f.flush();
        }
        self.clickhouse.take().map(|s| s.finish(drain))
    }
}

/// Wall-clock microseconds: the `version` of rows made now (a later
/// analysis of the same call replaces an earlier one).
fn now_micros() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
}
