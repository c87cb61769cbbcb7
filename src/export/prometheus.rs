//! Prometheus metrics: what the probe counted, served at `/metrics` by a
//! small hyper server on its own thread (`--metrics-listen`, loopback unless
//! configured otherwise).
//!
//! Two kinds of metric, one naming scheme (`voxprobe_*`, the unit in the
//! name):
//! - per-call figures (calls by outcome and carrier, MOS/setup/jitter/loss/
//!   delay histograms, quality alerts) observed as calls end;
//! - counters the run already keeps (frames, packets by protocol, decode
//!   errors, the kernel's ring counters, the exporter's rows, drops and
//!   spool) read at scrape time from the latest [`RunStatus`] and the
//!   exporter's [`ExportCounters`], so the packet path does no extra work.
//!
//! Labels never come from traffic: carriers from configuration, outcomes,
//! protocols, layers and interfaces from fixed sets.

use super::alerts::QualityAlert;
use super::clickhouse::{ExportCounters, TABLES};
use crate::analyze::{InterfaceCounters, ProtocolTally};
use crate::call::{CallRecord, Direction};
use crate::packet::counters::{DecodeCounters, Layer};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

/// Labels of a family: (name, value) pairs.
type Labels = Vec<(&'static str, String)>;

/// What a run counted so far (cumulative), handed to the metrics at every
/// emit tick.
#[derive(Clone, Debug, Default)]
pub struct RunStatus {
    /// Frames analysed.
    pub frames: u64,
    /// Bytes of those frames.
    pub bytes: u64,
    /// Calls in progress.
    pub active_calls: usize,
    /// Streams in progress.
    pub active_streams: usize,
    /// Frame classes (decode errors by layer).
    pub packets: DecodeCounters,
    /// Messages and their payload bytes by protocol.
    pub protocols: ProtocolTally,
    /// The kernel's counters per interface.
    pub interfaces: Vec<InterfaceCounters>,
    /// Frames the capture stage dropped (the analysis was behind).
    pub stage_dropped: u64,
}

impl RunStatus {
    /// The final counters of a run (nothing in progress any more).
    pub fn at_end(frames: u64, bytes: u64, summary: &crate::analyze::Summary) -> Self {
        RunStatus {
            frames,
            bytes,
            active_calls: 0,
            active_streams: 0,
            packets: summary.packets.clone(),
            protocols: ProtocolTally {
                messages: summary.protocols.clone(),
                bytes: summary.protocol_bytes.clone(),
            },
            interfaces: summary.interfaces.clone(),
            stage_dropped: summary.capture_stage.map_or(0, |c| c.frames_dropped),
        }
    }
}

/// The metrics of one probe.
pub struct Metrics {
    registry: Registry,
    calls: Family<Labels, Counter>,
    call_mos: Family<Labels, Histogram>,
    call_setup: Family<Labels, Histogram>,
    stream_jitter: Family<Labels, Histogram>,
    stream_loss: Family<Labels, Histogram>,
    stream_delay: Family<Labels, Histogram>,
    alerts: Family<Labels, Counter>,
    state: Arc<ScrapeState>,
}

/// What the collector reads at scrape time.
#[derive(Debug, Default)]
struct ScrapeState {
    status: Mutex<RunStatus>,
    export: Mutex<Option<Arc<ExportCounters>>>,
    start_time: f64,
}

fn mos_histogram() -> Histogram {
    Histogram::new([1.0, 1.5, 2.0, 2.5, 3.0, 3.1, 3.6, 4.0, 4.3, 4.5])
}
fn setup_histogram() -> Histogram {
    Histogram::new([0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0, 20.0])
}
fn jitter_histogram() -> Histogram {
    Histogram::new([0.005, 0.01, 0.02, 0.03, 0.05, 0.1, 0.2])
}
fn loss_histogram() -> Histogram {
    Histogram::new([0.001, 0.005, 0.01, 0.02, 0.03, 0.05, 0.1, 0.2])
}
fn delay_histogram() -> Histogram {
    Histogram::new([0.05, 0.1, 0.15, 0.2, 0.3, 0.5, 1.0])
}

impl Metrics {
    /// Registers every metric, with a series for each of `carriers` (and
    /// every outcome, severity and alert metric) from the start: Prometheus
    /// sees a counter's first increase only from an earlier zero.
    pub fn new(carriers: &[&str]) -> Self {
        let mut registry = Registry::default();
        let calls = Family::<Labels, Counter>::default();
        registry.register(
            "voxprobe_calls",
            "Calls ended, by outcome and carrier",
            calls.clone(),
        );
        let call_mos =
            Family::<Labels, Histogram>::new_with_constructor(mos_histogram as fn() -> Histogram);
        registry.register(
            "voxprobe_call_mos",
            "MOS of each ended call (the worse direction, G.107 E-model)",
            call_mos.clone(),
        );
        let call_setup =
            Family::<Labels, Histogram>::new_with_constructor(setup_histogram as fn() -> Histogram);
        registry.register(
            "voxprobe_call_setup_seconds",
            "INVITE to 200 OK of each answered call",
            call_setup.clone(),
        );
        let stream_jitter = Family::<Labels, Histogram>::new_with_constructor(
            jitter_histogram as fn() -> Histogram,
        );
        registry.register(
            "voxprobe_stream_jitter_seconds",
            "Mean RFC 3550 jitter of each direction of each ended call",
            stream_jitter.clone(),
        );
        let stream_loss =
            Family::<Labels, Histogram>::new_with_constructor(loss_histogram as fn() -> Histogram);
        registry.register(
            "voxprobe_stream_loss_ratio",
            "Packet loss ratio of each direction of each ended call",
            stream_loss.clone(),
        );
        let stream_delay =
            Family::<Labels, Histogram>::new_with_constructor(delay_histogram as fn() -> Histogram);
        registry.register(
            "voxprobe_stream_delay_seconds",
            "Mouth-to-ear delay of each direction of each ended call, when RTCP measured the network delay",
            stream_delay.clone(),
        );
        let alerts = Family::<Labels, Counter>::default();
        registry.register(
            "voxprobe_quality_alerts",
            "Per-call quality alerts raised, by severity, metric and carrier",
            alerts.clone(),
        );
        let state = Arc::new(ScrapeState {
            start_time: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0.0, |d| d.as_secs_f64()),
            ..ScrapeState::default()
        });
        registry.register_collector(Box::new(RunCollector(state.clone())));
        let metrics = Metrics {
            registry,
            calls,
            call_mos,
            call_setup,
            stream_jitter,
            stream_loss,
            stream_delay,
            alerts,
            state,
        };
        metrics.add_carriers(carriers);
        metrics
    }

    /// Makes every series of `carriers` (every outcome, severity and alert
    /// metric) exist: Prometheus sees a counter's first increase only from
    /// an earlier zero.
    pub fn add_carriers(&self, carriers: &[&str]) {
        let (calls, alerts) = (&self.calls, &self.alerts);
        let histograms = [
            &self.call_mos,
            &self.call_setup,
            &self.stream_jitter,
            &self.stream_loss,
            &self.stream_delay,
        ];
        for carrier in carriers {
            let by_carrier: Labels = vec![("carrier", (*carrier).to_owned())];
            for outcome in crate::call::Outcome::ALL {
                let _ = calls.get_or_create(&vec![
                    ("outcome", outcome.as_str().to_owned()),
                    ("carrier", (*carrier).to_owned()),
                ]);
            }
            for h in histograms {
                let _ = h.get_or_create(&by_carrier);
            }
            for severity in ["warning", "critical"] {
                for metric in super::alerts::METRICS {
                    let _ = alerts.get_or_create(&vec![
                        ("severity", severity.to_owned()),
                        ("metric", metric.to_owned()),
                        ("carrier", (*carrier).to_owned()),
                    ]);
                }
            }
        }
    }

    /// Observes one ended call.
    pub fn observe_call(&self, r: &CallRecord, carrier: &str) {
        let by_carrier: Labels = vec![("carrier", carrier.to_owned())];
        self.calls
            .get_or_create(&vec![
                ("outcome", r.outcome.as_str().to_owned()),
                ("carrier", carrier.to_owned()),
            ])
            .inc();
        if let Some(ms) = r.setup_ms() {
            self.call_setup
                .get_or_create(&by_carrier)
                .observe(ms / 1000.0);
        }
        let directions: Vec<_> = [Direction::CallerToCallee, Direction::CalleeToCaller]
            .into_iter()
            .filter_map(|d| r.direction(d))
            .collect();
        if let Some(worst) = r.worst(|d| d.mos, true) {
            self.call_mos.get_or_create(&by_carrier).observe(worst);
        }
        for d in directions {
            self.stream_jitter
                .get_or_create(&by_carrier)
                .observe(d.mean_jitter_ms / 1000.0);
            self.stream_loss
                .get_or_create(&by_carrier)
                .observe((d.lost_percent / 100.0).clamp(0.0, 1.0));
            if let Some(ms) = r.measured_delay_ms(d) {
                self.stream_delay
                    .get_or_create(&by_carrier)
                    .observe(ms / 1000.0);
            }
        }
    }

    /// Counts one quality alert.
    pub fn observe_alert(&self, a: &QualityAlert, carrier: &str) {
        self.alerts
            .get_or_create(&vec![
                ("severity", a.severity.as_str().to_owned()),
                ("metric", a.metric.to_owned()),
                ("carrier", carrier.to_owned()),
            ])
            .inc();
    }

    /// The run's counters as of now.
    pub fn set_status(&self, status: RunStatus) {
        if let Ok(mut s) = self.state.status.lock() {
            *s = status;
        }
    }

    /// Where the exporter's counters are read from.
    pub fn set_export(&self, counters: Arc<ExportCounters>) {
        if let Ok(mut e) = self.state.export.lock() {
            *e = Some(counters);
        }
    }

    /// The exposition in OpenMetrics text (what Prometheus asks for).
    pub fn encode(&self) -> String {
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }

    /// The exposition in the Prometheus text format 0.0.4 (for clients that
    /// do not ask for OpenMetrics: `curl`, `promtool check metrics`).
    pub fn encode_text(&self) -> String {
        openmetrics_to_text(&self.encode())
    }
}

/// Reads the run's and the exporter's counters at scrape time.
#[derive(Debug)]
struct RunCollector(Arc<ScrapeState>);

/// Encodes one metric family with one sample per label set.
fn family<M: EncodeMetric>(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    kind: MetricType,
    samples: impl IntoIterator<Item = (Labels, M)>,
) -> Result<(), std::fmt::Error> {
    let mut family = encoder.encode_descriptor(name, help, None, kind)?;
    for (labels, metric) in samples {
        metric.encode(family.encode_family(&labels)?)?;
    }
    Ok(())
}

fn counter(v: u64) -> ConstCounter<u64> {
    ConstCounter::new(v)
}

fn gauge(v: u64) -> ConstGauge<i64> {
    ConstGauge::new(i64::try_from(v).unwrap_or(i64::MAX))
}

impl Collector for RunCollector {
    fn encode(&self, mut e: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let status = self.0.status.lock().map(|s| s.clone()).unwrap_or_default();
        let none = || Labels::new();
        family(
            &mut e,
            "voxprobe_build_info",
            "The probe's version",
            MetricType::Gauge,
            [(
                vec![("version", env!("CARGO_PKG_VERSION").to_owned())],
                ConstGauge::new(1i64),
            )],
        )?;
        family(
            &mut e,
            "voxprobe_start_time_seconds",
            "When the probe started (Unix time)",
            MetricType::Gauge,
            [(none(), ConstGauge::new(self.0.start_time))],
        )?;
        family(
            &mut e,
            "voxprobe_frames",
            "Frames analysed",
            MetricType::Counter,
            [(none(), counter(status.frames))],
        )?;
        family(
            &mut e,
            "voxprobe_bytes",
            "Bytes of the frames analysed",
            MetricType::Counter,
            [(none(), counter(status.bytes))],
        )?;
        let by_protocol = |counts: &crate::analyze::ProtocolCounters| {
            counts
                .named()
                .map(|(name, v)| (vec![("protocol", name.to_owned())], counter(v)))
        };
        family(
            &mut e,
            "voxprobe_packets",
            "Packets (messages) by protocol",
            MetricType::Counter,
            by_protocol(&status.protocols.messages),
        )?;
        family(
            &mut e,
            "voxprobe_payload_bytes",
            "Bytes of those messages by protocol, as the transport delivered them (UDP payload, TCP or SCTP message; SDP: the SIP body)",
            MetricType::Counter,
            by_protocol(&status.protocols.bytes),
        )?;
        let errors = Layer::ALL.iter().flat_map(|layer| {
            [
                ("malformed", status.packets.malformed(*layer)),
                ("truncated", status.packets.truncated(*layer)),
            ]
            .into_iter()
            .map(move |(kind, v)| {
                (
                    vec![
                        ("layer", layer.name().to_owned()),
                        ("kind", kind.to_owned()),
                    ],
                    counter(v),
                )
            })
        });
        family(
            &mut e,
            "voxprobe_decode_errors",
            "Frames that could not be decoded, by the layer that failed",
            MetricType::Counter,
            errors,
        )?;
        let per_interface = |f: fn(&InterfaceCounters) -> u64| {
            status
                .interfaces
                .iter()
                .map(move |i| (vec![("interface", i.interface.clone())], counter(f(i))))
                .collect::<Vec<_>>()
        };
        for (name, help, f) in [
            (
                "voxprobe_capture_received",
                "Packets the kernel received on the capture socket (tp_packets)",
                (|i: &InterfaceCounters| i.received) as fn(&InterfaceCounters) -> u64,
            ),
            (
                "voxprobe_capture_dropped",
                "Packets the kernel dropped because the ring was full (tp_drops)",
                |i| i.dropped,
            ),
            (
                "voxprobe_capture_ring_freezes",
                "Times the kernel froze the full ring (tp_freeze_q_cnt)",
                |i| i.ring_freezes,
            ),
            (
                "voxprobe_capture_link_downs",
                "Times the interface went down",
                |i| i.link_downs,
            ),
        ] {
            family(&mut e, name, help, MetricType::Counter, per_interface(f))?;
        }
        if let Some((rss, peak)) = crate::process::memory() {
            family(
                &mut e,
                "voxprobe_resident_memory_bytes",
                "Resident memory of the probe now",
                MetricType::Gauge,
                [(none(), gauge(rss))],
            )?;
            family(
                &mut e,
                "voxprobe_peak_resident_memory_bytes",
                "Highest resident memory of the probe since it started",
                MetricType::Gauge,
                [(none(), gauge(peak))],
            )?;
        }
        family(
            &mut e,
            "voxprobe_pipeline_dropped_frames",
            "Frames dropped between stages of the probe, by the stage that could not take them",
            MetricType::Counter,
            [(
                vec![("stage", "analysis".to_owned())],
                counter(status.stage_dropped),
            )],
        )?;
        family(
            &mut e,
            "voxprobe_active_calls",
            "Calls in progress",
            MetricType::Gauge,
            [(none(), gauge(status.active_calls as u64))],
        )?;
        family(
            &mut e,
            "voxprobe_active_streams",
            "RTP streams in progress",
            MetricType::Gauge,
            [(none(), gauge(status.active_streams as u64))],
        )?;
        let export = self.0.export.lock().ok().and_then(|e| e.clone());
        if let Some(c) = export {
            let sink = || ("sink", "clickhouse".to_owned());
            let load = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);
            family(
                &mut e,
                "voxprobe_export_rows",
                "Rows inserted, by sink and table",
                MetricType::Counter,
                TABLES.iter().zip(&c.rows_inserted).map(|(table, n)| {
                    (
                        vec![sink(), ("table", (*table).to_owned())],
                        counter(load(n)),
                    )
                }),
            )?;
            family(
                &mut e,
                "voxprobe_export_dropped_rows",
                "Rows dropped, by sink and reason",
                MetricType::Counter,
                [
                    ("queue_full", load(&c.rows_dropped_queue)),
                    ("spool_full", load(&c.rows_dropped_spool)),
                    ("lost", load(&c.rows_lost)),
                ]
                .map(|(reason, n)| (vec![sink(), ("reason", reason.to_owned())], counter(n))),
            )?;
            family(
                &mut e,
                "voxprobe_export_failures",
                "Failed insert or schema attempts",
                MetricType::Counter,
                [(vec![sink()], counter(load(&c.failures)))],
            )?;
            for (name, help, v) in [
                (
                    "voxprobe_export_queue_rows",
                    "Rows waiting for the export thread",
                    load(&c.queue_rows),
                ),
                (
                    "voxprobe_export_spool_rows",
                    "Rows waiting on disk for the sink to come back",
                    load(&c.spool_rows),
                ),
                (
                    "voxprobe_export_spool_bytes",
                    "Bytes of the spool on disk",
                    load(&c.spool_bytes),
                ),
                (
                    "voxprobe_export_connected",
                    "1 when the last insert succeeded",
                    u64::from(c.connected.load(Ordering::Relaxed)),
                ),
            ] {
                family(
                    &mut e,
                    name,
                    help,
                    MetricType::Gauge,
                    [(vec![sink()], gauge(v))],
                )?;
            }
        }
        Ok(())
    }
}

/// Why the metrics server could not start.
#[derive(Debug, thiserror::Error)]
#[error("--metrics-listen {address}: {source} (is another process using the port? pick another address)")]
pub struct ServeError {
    /// The address.
    pub address: SocketAddr,
    /// The error.
    pub source: std::io::Error,
}

/// Who may read the metrics, and over what.
#[derive(Clone, Default)]
pub struct Access {
    /// Credentials every request must carry.
    pub auth: Option<BasicAuth>,
    /// TLS: the endpoint speaks HTTPS only.
    pub tls: Option<Tls>,
}

/// The endpoint's certificate and key (`--metrics-tls-cert`,
/// `--metrics-tls-key`, PEM), read once at start (before the probe drops
/// its privileges).
#[derive(Clone)]
pub struct Tls(tokio_rustls::TlsAcceptor);

impl Tls {
    /// From a PEM certificate chain (the server's first) and a PEM private
    /// key (PKCS#8, PKCS#1 or SEC1).
    ///
    /// # Errors
    /// A file that cannot be read, holds no certificate or key, or a key
    /// that does not fit the certificate; the message names the file.
    pub fn from_pem_files(cert: &std::path::Path, key: &std::path::Path) -> Result<Tls, String> {
        use rustls_pki_types::pem::PemObject;
        use rustls_pki_types::{CertificateDer, PrivateKeyDer};
        let chain = CertificateDer::pem_file_iter(cert)
            .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
            .map_err(|e| format!("{}: {e}", cert.display()))?;
        if chain.is_empty() {
            return Err(format!("{}: no PEM certificate in it", cert.display()));
        }
        let private = PrivateKeyDer::from_pem_file(key)
            .map_err(|e| format!("{}: no usable PEM private key ({e})", key.display()))?;
        let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
        let config = tokio_rustls::rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .and_then(|b| b.with_no_client_auth().with_single_cert(chain, private))
            .map_err(|e| format!("{} with {}: {e}", cert.display(), key.display()))?;
        Ok(Tls(tokio_rustls::TlsAcceptor::from(Arc::new(config))))
    }
}

/// A TLS handshake that has not finished by then is given up (a client
/// that connects and says nothing holds no task for ever).
const HANDSHAKE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Serves `metrics` at `http(s)://address/metrics` from a thread of its own
/// until the process ends. Returns the address bound (port 0 picks one).
///
/// # Errors
/// When the address cannot be bound.
pub fn serve(
    metrics: Arc<Metrics>,
    address: SocketAddr,
    access: Access,
) -> Result<SocketAddr, ServeError> {
    let listener =
        std::net::TcpListener::bind(address).map_err(|source| ServeError { address, source })?;
    let bound = listener
        .local_addr()
        .map_err(|source| ServeError { address, source })?;
    listener
        .set_nonblocking(true)
        .map_err(|source| ServeError { address, source })?;
    std::thread::Builder::new()
        .name("metrics".into())
        .spawn(move || {
            let runtime = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(r) => r,
                Err(e) => {
                    tracing::error!(error = %e, "metrics server: cannot start its runtime: {e}");
                    return;
                }
            };
            runtime.block_on(accept(metrics, listener, access));
        })
        .map_err(|source| ServeError { address, source })?;
    Ok(bound)
}

async fn accept(metrics: Arc<Metrics>, listener: std::net::TcpListener, access: Access) {
    let auth = access.auth.map(Arc::new);
    let listener = match tokio::net::TcpListener::from_std(listener) {
        Ok(l) => l,
        Err(e) => {
            tracing::error!(error = %e, "metrics server: {e}");
            return;
        }
    };
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let metrics = metrics.clone();
        let auth = auth.clone();
        let tls = access.tls.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let metrics = metrics.clone();
                let auth = auth.clone();
                async move {
                    Ok::<_, std::convert::Infallible>(respond(&metrics, auth.as_deref(), &req))
                }
            });
            let http = hyper::server::conn::http1::Builder::new();
            match &tls {
                None => {
                    let _ = http
                        .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                        .await;
                }
                Some(Tls(acceptor)) => {
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                        Ok(Ok(stream)) => {
                            let _ = http
                                .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                                .await;
                        }
                        Ok(Err(e)) => tracing::debug!(error = %e, "metrics: TLS handshake: {e}"),
                        Err(_) => tracing::debug!("metrics: TLS handshake timed out"),
                    }
                }
            }
        });
    }
}

/// OpenMetrics text → Prometheus text 0.0.4: a counter family is named
/// with its `_total` in HELP and TYPE, there is no `# EOF` or `# UNIT`, and
/// samples without labels have no braces.
fn openmetrics_to_text(om: &str) -> String {
    let counters: Vec<&str> = om
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.strip_suffix(" counter"))
        .collect();
    let mut out = String::with_capacity(om.len());
    for line in om.lines() {
        if line == "# EOF" || line.starts_with("# UNIT ") {
            continue;
        }
        let header = ["# HELP ", "# TYPE "]
            .into_iter()
            .find_map(|p| line.strip_prefix(p).map(|rest| (p, rest)));
        match header {
            Some((prefix, rest)) => {
                let name = rest.split(' ').next().unwrap_or_default();
                out.push_str(prefix);
                out.push_str(name);
                if counters.contains(&name) {
                    out.push_str("_total");
                }
                out.push_str(&rest[name.len()..]);
            }
            None => out.push_str(&line.replacen("{} ", " ", 1)),
        }
        out.push('\n');
    }
    out
}

/// HTTP basic authentication of the metrics endpoint (`--metrics-auth-file`,
/// one `user:password` line): requests without the credentials get 401.
#[derive(Clone)]
pub struct BasicAuth {
    /// `Basic base64(user:password)`, as the header carries it.
    expected: String,
}

impl BasicAuth {
    /// From a `user:password` line.
    ///
    /// # Errors
    /// A line without `:` or with an empty user or password.
    pub fn from_line(line: &str) -> Result<BasicAuth, &'static str> {
        let line = line.trim_end_matches(['\r', '\n']);
        match line.split_once(':') {
            Some((user, password)) if !user.is_empty() && !password.is_empty() => Ok(BasicAuth {
                expected: format!("Basic {}", base64(line.as_bytes())),
            }),
            _ => Err("expected one line user:password"),
        }
    }

    /// Whether a request carries the credentials (compared in constant time).
    fn allows(&self, header: Option<&hyper::header::HeaderValue>) -> bool {
        let given = header
            .map(hyper::header::HeaderValue::as_bytes)
            .unwrap_or_default();
        let expected = self.expected.as_bytes();
        given.len() == expected.len()
            && given
                .iter()
                .zip(expected)
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0
    }
}

/// Standard base64 with padding.
fn base64(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn respond<B>(
    metrics: &Metrics,
    auth: Option<&BasicAuth>,
    req: &hyper::Request<B>,
) -> hyper::Response<http_body_util::Full<hyper::body::Bytes>> {
    if let Some(auth) = auth {
        if !auth.allows(req.headers().get(hyper::header::AUTHORIZATION)) {
            let mut response = hyper::Response::new(http_body_util::Full::new(
                "authentication required\n".into(),
            ));
            *response.status_mut() = hyper::StatusCode::UNAUTHORIZED;
            response.headers_mut().insert(
                hyper::header::WWW_AUTHENTICATE,
                hyper::header::HeaderValue::from_static("Basic realm=\"voxprobe\""),
            );
            return response;
        }
    }
    let openmetrics = req
        .headers()
        .get(hyper::header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("application/openmetrics-text"));
    let (status, content_type, body) = match (req.method(), req.uri().path()) {
        (&hyper::Method::GET, "/metrics") if openmetrics => (
            hyper::StatusCode::OK,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
            metrics.encode(),
        ),
        (&hyper::Method::GET, "/metrics") => (
            hyper::StatusCode::OK,
            "text/plain; version=0.0.4; charset=utf-8",
            metrics.encode_text(),
        ),
        (&hyper::Method::GET, "/") => (
            hyper::StatusCode::OK,
            "text/plain; charset=utf-8",
            "voxprobe: metrics at /metrics\n".to_owned(),
        ),
        _ => (
            hyper::StatusCode::NOT_FOUND,
            "text/plain; charset=utf-8",
            "not found: metrics are at /metrics\n".to_owned(),
        ),
    };
    let mut response = hyper::Response::new(http_body_util::Full::new(body.into()));
    *response.status_mut() = status;
    if let Ok(v) = hyper::header::HeaderValue::from_str(content_type) {
        response
            .headers_mut()
            .insert(hyper::header::CONTENT_TYPE, v);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_auth_header_and_base64() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"prometheus:s3cret"), "cHJvbWV0aGV1czpzM2NyZXQ=");
        let auth = BasicAuth::from_line("prometheus:s3cret\n").unwrap();
        let header = |v: &str| hyper::header::HeaderValue::from_str(v).unwrap();
        assert!(auth.allows(Some(&header("Basic cHJvbWV0aGV1czpzM2NyZXQ="))));
        assert!(!auth.allows(Some(&header("Basic cHJvbWV0aGV1czpzM2NyZXQ"))));
        assert!(!auth.allows(None));
        assert!(BasicAuth::from_line("nopassword").is_err());
        assert!(BasicAuth::from_line("user:").is_err());
    }

    #[test]
    fn text_format_names_counters_with_total() {
        let om = "# HELP voxprobe_frames Frames analysed.\n# TYPE voxprobe_frames counter\nvoxprobe_frames_total{} 3\n\
                  # HELP voxprobe_active_calls Calls.\n# TYPE voxprobe_active_calls gauge\nvoxprobe_active_calls{} 2\n# EOF\n";
        assert_eq!(
            openmetrics_to_text(om),
            "# HELP voxprobe_frames_total Frames analysed.\n# TYPE voxprobe_frames_total counter\nvoxprobe_frames_total 3\n\
             # HELP voxprobe_active_calls Calls.\n# TYPE voxprobe_active_calls gauge\nvoxprobe_active_calls 2\n"
        );
    }

    #[test]
    fn every_family_is_exposed_with_help() {
        let m = Metrics::new(&["acme", "unknown"]);
        m.set_export(Arc::new(ExportCounters::default()));
        m.set_status(RunStatus {
            interfaces: vec![InterfaceCounters {
                interface: "eth1".into(),
                received: 10,
                dropped: 1,
                ..InterfaceCounters::default()
            }],
            ..RunStatus::default()
        });
        let text = m.encode_text();
        for name in [
            "voxprobe_build_info",
            "voxprobe_frames_total",
            "voxprobe_packets_total",
            "voxprobe_payload_bytes_total",
            "voxprobe_decode_errors_total",
            "voxprobe_capture_dropped_total",
            "voxprobe_active_calls",
            "voxprobe_export_rows_total",
            "voxprobe_export_dropped_rows_total",
            "voxprobe_export_spool_bytes",
        ] {
            assert!(text.contains(&format!("# HELP {name} ")), "{name}:\n{text}");
        }
        assert!(text.contains("voxprobe_capture_dropped_total{interface=\"eth1\"} 1"));
        // Series exist before the first call.
        assert!(
            text.contains("voxprobe_calls_total{outcome=\"busy\",carrier=\"acme\"} 0"),
            "{text}"
        );
        assert!(
            text.contains("voxprobe_call_mos_count{carrier=\"unknown\"} 0"),
            "{text}"
        );
    }
}
