//! The `voxprobe` command line.
//!
//! Exit codes (documented in the README):
//! - 0: every file was read to its end;
//! - 1: a file could not be read at all (missing, not a capture, unsupported
//!   link type); the other files were still analysed;
//! - 2: the command line is wrong;
//! - 3: a file was read only in part (truncated or corrupt); everything before
//!   the stop was analysed and the stop is reported with its byte offset.
//!
//! A closed pipe on stdout (e.g. `| head`) ends the run quietly with 0.

use clap::{Parser, Subcommand, ValueEnum};
use std::io::{self, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};
use voxprobe::analyze::{analyze_file, AnalyzeConfig, FileAnalysis};
use voxprobe::export::{json, table, Delivery};
use voxprobe::log::LogFormat;

/// mimalloc rather than the system allocator: signalling state is many small
/// objects, and glibc's consolidation of freed chunks cost a third of the
/// correlation stage (`benches/volte_state.rs`: 282 k → 400 k messages/s).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Exit code: a file could not be read at all.
const EXIT_UNREADABLE: u8 = 1;
/// Exit code: a file was read only in part.
const EXIT_STOPPED_EARLY: u8 = 3;

#[derive(Parser)]
#[command(
    name = "voxprobe",
    version,
    about = "Passive VoIP/VoLTE probe: decode, correlate and measure voice traffic"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Analyse capture files (pcap or pcapng): calls, RTP streams, packet counters.
    Analyze(Box<AnalyzeArgs>),
    /// Write every packet of one call (SIP, RTP, RTCP) from capture files to one pcap.
    Extract(ExtractArgs),
    /// E-model calculator: R and MOS for a codec under loss, burstiness and delay.
    Mos(MosArgs),
    /// Capture live from a network interface, then print what `analyze`
    /// prints (at SIGINT/SIGTERM, --duration or --count).
    Capture(Box<CaptureArgs>),
    /// Check a configuration file: every key must be an option of the
    /// command it configures; prints the command line it amounts to.
    CheckConfig(CheckConfigArgs),
    /// Print the ClickHouse schema (DDL) the probe creates, for review or
    /// to apply by hand.
    Schema(SchemaArgs),
    /// Rank carriers, agents or codecs from capture files: calls, ASR,
    /// MOS (mean, min, median, shares ≥ 4.0 and < 3.0), loss, jitter and
    /// setup-time quantiles; the figures of the ClickHouse rollups.
    Report(ReportArgs),
}

#[derive(clap::Args)]
struct MosArgs {
    /// Codec (PCMU, PCMA, G711, G729, G723, G722, AMR, AMR-WB, EVS, opus).
    #[arg(long, default_value = "G711")]
    codec: String,
    /// Packet loss, percent.
    #[arg(long, default_value_t = 0.0)]
    loss: f64,
    /// Burst ratio (1 = random loss, above 1 = bursty).
    #[arg(long, default_value_t = 1.0)]
    burst: f64,
    /// One-way network delay, ms.
    #[arg(long, default_value_t = 0.0)]
    delay: f64,
    /// Jitter buffer depth, ms (adds to the delay).
    #[arg(long, value_name = "MS")]
    jitter_buffer: Option<f64>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
}

/// Options that change how packets are decoded and classified.
#[derive(clap::Args)]
struct DecodeArgs {
    /// Only count RTP on endpoints learned from SDP (switch off the heuristic
    /// that finds RTP in captures without signalling).
    #[arg(long)]
    no_rtp_heuristic: bool,
    /// Extra UDP/TCP ports carrying SIP (5060 and 5080 are always on).
    #[arg(long = "sip-port", value_name = "PORT")]
    sip_ports: Vec<u16>,
    /// Most RTP streams tracked at once; more are refused and counted.
    #[arg(long, default_value_t = 100_000)]
    max_streams: usize,
    /// Override a codec's E-model values (ITU-T G.113 by default), e.g.
    /// `--codec-impairment G729=11,19`: NAME=IE,BPL. Repeatable.
    #[arg(long = "codec-impairment", value_name = "NAME=IE,BPL", value_parser = parse_impairment)]
    codec_impairments: Vec<(String, f64, f64)>,
    /// One-way network delay assumed for MOS when RTCP gives no round trip, ms.
    #[arg(long, default_value_t = 40.0, value_name = "MS")]
    default_delay: f64,
    /// A call with no SIP message for this long (packet time) is closed; a
    /// call without BYE otherwise ends at its last media packet.
    #[arg(long, default_value_t = 7200, value_name = "SECONDS")]
    call_idle_timeout: u32,
    /// An ended call is kept this long for late retransmissions and
    /// authentication retries before it is closed (and, live, reported).
    #[arg(long, default_value_t = 64, value_name = "SECONDS")]
    call_linger: u32,
    /// An RTP stream with no packet for this long is finished.
    #[arg(long, default_value_t = 60, value_name = "SECONDS")]
    stream_timeout: u32,
    /// Most calls tracked at once; new calls past it are refused and counted.
    #[arg(long, default_value_t = 100_000, value_name = "N")]
    max_calls: usize,
    /// Most DIAMETER Rx/Gx exchanges the VoLTE correlator remembers (about
    /// five per call); the oldest go first, counted.
    #[arg(long, default_value_t = voxprobe::call::correlator::MAX_EXCHANGES, value_name = "N")]
    max_exchanges: usize,
    /// Most GTPv2-C procedures it remembers (about four per call).
    #[arg(long, default_value_t = voxprobe::call::correlator::MAX_PROCEDURES, value_name = "N")]
    max_procedures: usize,
    /// Most TCP connections reassembled at once (SIP, DIAMETER); new ones
    /// past it are refused and counted.
    #[arg(long, default_value_t = 65_536, value_name = "N")]
    max_tcp_connections: usize,
    /// Bytes TCP reassembly holds across all connections at once (partial
    /// and out-of-order data); past it new data is dropped and counted.
    #[arg(long, default_value_t = voxprobe::packet::tcp::DEFAULT_MAX_TOTAL_BUFFERED_BYTES, value_name = "BYTES")]
    max_tcp_bytes: usize,
    /// Bytes of IP fragments held for reassembly at once.
    #[arg(long, default_value_t = 16 << 20, value_name = "BYTES")]
    max_fragment_bytes: usize,
    /// Bytes of fragmented SCTP messages held at once.
    #[arg(long, default_value_t = 16 << 20, value_name = "BYTES")]
    max_sctp_bytes: usize,
    /// Threads measuring RTP streams beside the analysis thread (the flows
    /// split among them by hash); 0 measures on the analysis thread.
    #[arg(long, default_value_t = 0, value_name = "N")]
    workers: usize,
}

/// `G729=11,19` → ("G729", 11.0, 19.0).
fn parse_impairment(s: &str) -> Result<(String, f64, f64), String> {
    let err = || format!("expected NAME=IE,BPL (e.g. G729=11,19), got {s:?}");
    let (name, values) = s.split_once('=').ok_or_else(err)?;
    let (ie, bpl) = values.split_once(',').ok_or_else(err)?;
    let ie: f64 = ie.trim().parse().map_err(|_| err())?;
    let bpl: f64 = bpl.trim().parse().map_err(|_| err())?;
    Ok((name.trim().to_owned(), ie, bpl))
}

#[derive(clap::Args)]
struct ExtractArgs {
    /// Call-ID of the call.
    #[arg(long, value_name = "CALL-ID")]
    call_id: String,
    /// Output pcap file.
    #[arg(short, long, value_name = "FILE")]
    output: PathBuf,
    /// Capture files to search.
    #[arg(required = true)]
    files: Vec<PathBuf>,
    #[command(flatten)]
    decode: DecodeArgs,
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    /// Readable columns, like `tshark -z rtp,streams`.
    Table,
    /// One JSON object per line (`"type": "stream" | "summary"`).
    Json,
}

/// What to print of an analysis, and of which calls.
#[derive(clap::Args)]
struct OutputArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
    /// Also list every RTP stream (table output; JSON always nests the
    /// streams in their calls and lists the others).
    #[arg(long)]
    streams: bool,
    /// Print the SIP message ladder of this call instead of the tables.
    #[arg(long, value_name = "CALL-ID")]
    ladder: Option<String>,
    /// Only the call with this Call-ID.
    #[arg(long, value_name = "CALL-ID")]
    call_id: Option<String>,
    /// Only the calls with this IMS charging id (P-Charging-Vector icid-value).
    #[arg(long, value_name = "ICID")]
    icid: Option<String>,
    /// Only the VoLTE calls of this subscriber.
    #[arg(long, value_name = "IMSI")]
    imsi: Option<String>,
    /// Only the calls using this GTP-U TEID (decimal or 0x-hex): a TEID of
    /// their dedicated bearer, or of a tunnel carrying their media.
    #[arg(long, value_name = "TEID", value_parser = parse_teid)]
    teid: Option<u32>,
}

/// Where records go besides standard output.
#[derive(clap::Args)]
struct ExportArgs {
    /// Export calls, streams, 5-second samples, signalling and quality
    /// alerts to the ClickHouse server at this HTTP URL (e.g.
    /// http://127.0.0.1:8123); the probe creates and migrates the schema.
    #[arg(long, value_name = "URL")]
    clickhouse_url: Option<String>,
    #[command(flatten)]
    schema: SchemaArgs,
    /// ClickHouse user.
    #[arg(long, value_name = "USER")]
    clickhouse_user: Option<String>,
    /// A file holding the ClickHouse password (else the environment
    /// variable VOXPROBE_CLICKHOUSE_PASSWORD; never on the command line).
    #[arg(long, value_name = "FILE")]
    clickhouse_password_file: Option<PathBuf>,
    /// Rows per insert (or fewer after --clickhouse-batch-seconds).
    #[arg(long, default_value_t = 10_000, value_name = "N")]
    clickhouse_batch_rows: usize,
    /// Longest a row waits before its batch is sent.
    #[arg(long, default_value_t = 1.0, value_name = "SECONDS")]
    clickhouse_batch_seconds: f64,
    /// Where batches wait while ClickHouse is unreachable
    /// (default: $STATE_DIRECTORY/clickhouse-spool, else a temporary directory).
    #[arg(long, value_name = "DIR")]
    clickhouse_spool_dir: Option<PathBuf>,
    /// Most bytes the spool keeps; past it the oldest batches are dropped (and counted).
    #[arg(long, default_value_t = 1 << 30, value_name = "BYTES")]
    clickhouse_spool_max_bytes: u64,
    /// At the end, how long to wait for ClickHouse to take what is spooled
    /// (the rest stays on disk for the next start).
    #[arg(long, default_value_t = 10.0, value_name = "SECONDS")]
    clickhouse_drain_seconds: f64,
    /// The probe's name in every exported row (default: the host name).
    #[arg(long, value_name = "NAME")]
    probe_name: Option<String>,
    #[command(flatten)]
    labels: LabelArgs,
    #[command(flatten)]
    privacy: PrivacyArgs,
    /// Also write per-call quality alerts to this file, one JSON object per line.
    #[arg(long, value_name = "FILE")]
    alerts_file: Option<PathBuf>,
    /// MOS alert levels, warning and critical (below).
    #[arg(long, value_name = "WARN,CRIT", default_value = "3.0,2.5", value_parser = parse_levels)]
    alert_mos: voxprobe::export::alerts::Levels,
    /// Mean jitter alert levels in ms (above).
    #[arg(long, value_name = "WARN,CRIT", default_value = "30,50", value_parser = parse_levels)]
    alert_jitter_ms: voxprobe::export::alerts::Levels,
    /// Loss alert levels in % (above).
    #[arg(long, value_name = "WARN,CRIT", default_value = "3,5", value_parser = parse_levels)]
    alert_loss_percent: voxprobe::export::alerts::Levels,
    /// One-way (mouth-to-ear) delay alert levels in ms (above; only when RTCP measured the delay).
    #[arg(long, value_name = "WARN,CRIT", default_value = "150,200", value_parser = parse_levels)]
    alert_delay_ms: voxprobe::export::alerts::Levels,
}

/// How calls are labelled with a carrier and an agent.
#[derive(clap::Args)]
struct LabelArgs {
    /// A carrier: calls whose signalling address is in CIDR, or whose
    /// From/To host is DOMAIN, belong to NAME. Repeat it; first match wins.
    #[arg(long = "carrier", value_name = "NAME=CIDR|DOMAIN")]
    carriers: Vec<voxprobe::export::labels::CarrierRule>,
    /// Whose SIP user is the agent of a call.
    #[arg(long, value_enum, default_value_t = voxprobe::export::labels::AgentSide::Callee)]
    agent_side: voxprobe::export::labels::AgentSide,
}

impl LabelArgs {
    fn labeller(&self) -> voxprobe::export::labels::Labeller {
        voxprobe::export::labels::Labeller {
            carriers: self.carriers.clone(),
            agent_side: self.agent_side,
        }
    }
}

/// `voxprobe report`.
#[derive(clap::Args)]
#[command(args_override_self = true)]
struct ReportArgs {
    /// Read options from this TOML file first (keys are the long options).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Group and rank calls by this.
    #[arg(long, value_enum)]
    by: voxprobe::export::report::Dimension,
    /// Capture files.
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// Output: a table, or one JSON object per group.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
    #[command(flatten)]
    labels: LabelArgs,
    #[command(flatten)]
    decode: DecodeArgs,
    /// Never show a progress bar.
    #[arg(long, short)]
    quiet: bool,
}

/// How identifiers of people leave the probe.
#[derive(clap::Args)]
struct PrivacyArgs {
    /// IMSI, MSISDN, phone numbers and the users of SIP URIs in every
    /// output: as seen (`off`), masked, or replaced by keyed-hash
    /// pseudonyms (`hash`: the same number, the same pseudonym).
    #[arg(long, value_enum, default_value_t = voxprobe::privacy::PrivacyMode::Off)]
    privacy: voxprobe::privacy::PrivacyMode,
    /// The secret key of `--privacy hash` (at least 16 bytes; keep it out
    /// of reach of whoever reads the outputs).
    #[arg(long, value_name = "FILE")]
    privacy_key_file: Option<PathBuf>,
}

impl PrivacyArgs {
    fn privacy(&self) -> anyhow::Result<voxprobe::privacy::Privacy> {
        let key = match &self.privacy_key_file {
            Some(path) => Some(
                std::fs::read(path)
                    .map_err(|e| anyhow::anyhow!("--privacy-key-file {}: {e}", path.display()))?,
            ),
            None => None,
        };
        Ok(voxprobe::privacy::Privacy::new(self.privacy, key)?)
    }
}

/// The schema's database, cluster and retention.
#[derive(clap::Args)]
struct SchemaArgs {
    /// ClickHouse database.
    #[arg(long, default_value = "voxprobe", value_name = "NAME")]
    clickhouse_database: String,
    /// Write the schema for this cluster: ON CLUSTER DDL, replicated local
    /// tables and Distributed tables in front of them.
    #[arg(long, value_name = "NAME")]
    clickhouse_cluster: Option<String>,
    /// Days rows are kept (TTL).
    #[arg(long, default_value_t = voxprobe::export::schema::DEFAULT_TTL_DAYS, value_name = "DAYS")]
    clickhouse_ttl_days: u32,
}

impl SchemaArgs {
    fn settings(&self) -> voxprobe::export::schema::SchemaSettings {
        voxprobe::export::schema::SchemaSettings {
            database: self.clickhouse_database.clone(),
            cluster: self.clickhouse_cluster.clone(),
            ttl_days: self.clickhouse_ttl_days.max(1),
        }
    }
}

fn parse_levels(s: &str) -> Result<voxprobe::export::alerts::Levels, String> {
    let (w, c) = s
        .split_once(',')
        .ok_or_else(|| format!("{s:?}: expected WARN,CRIT (two numbers)"))?;
    let number = |v: &str| {
        v.trim()
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite())
            .ok_or_else(|| format!("{v:?} is not a number"))
    };
    Ok(voxprobe::export::alerts::Levels {
        warning: number(w)?,
        critical: number(c)?,
    })
}

impl ExportArgs {
    /// The exports of a run; errors name the option to fix.
    fn open(
        &self,
        metrics: Option<std::sync::Arc<voxprobe::export::prometheus::Metrics>>,
    ) -> anyhow::Result<voxprobe::export::Exports> {
        use voxprobe::export::{clickhouse, rows::RowContext};
        let context = RowContext {
            probe: self.probe_name.clone().unwrap_or_else(host_name),
            labels: self.labels.labeller(),
            thresholds: self.thresholds(),
        };
        let sink = match &self.clickhouse_url {
            None => None,
            Some(url) => {
                let mut settings = clickhouse::ClickHouseSettings::new(url.clone());
                settings.user = self.clickhouse_user.clone();
                settings.password = self.password()?;
                settings.schema = self.schema.settings();
                settings.batch_rows = self.clickhouse_batch_rows.max(1);
                settings.batch_period =
                    Duration::try_from_secs_f64(self.clickhouse_batch_seconds.max(0.01))
                        .unwrap_or(Duration::from_secs(1));
                if let Some(dir) = &self.clickhouse_spool_dir {
                    settings.spool_dir = dir.clone();
                }
                settings.spool_max_bytes = self.clickhouse_spool_max_bytes;
                let (sink, problems) = clickhouse::ClickHouseSink::start(settings)?;
                for p in problems {
                    tracing::error!("{p}");
                    eprintln!("voxprobe: {p}");
                }
                Some(sink)
            }
        };
        let alerts_file = match &self.alerts_file {
            None => None,
            Some(path) => Some(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .map_err(|e| anyhow::anyhow!("--alerts-file {}: {e}", path.display()))?,
            ),
        };
        Ok(voxprobe::export::Exports::new(
            context,
            sink,
            metrics,
            alerts_file,
        ))
    }

    fn thresholds(&self) -> voxprobe::export::alerts::Thresholds {
        voxprobe::export::alerts::Thresholds {
            mos: self.alert_mos,
            jitter_ms: self.alert_jitter_ms,
            loss_percent: self.alert_loss_percent,
            delay_ms: self.alert_delay_ms,
        }
    }

    fn password(&self) -> anyhow::Result<Option<String>> {
        if let Some(path) = &self.clickhouse_password_file {
            let text = std::fs::read_to_string(path).map_err(|e| {
                anyhow::anyhow!("--clickhouse-password-file {}: {e}", path.display())
            })?;
            return Ok(Some(text.trim_end_matches(['\r', '\n']).to_owned()));
        }
        Ok(std::env::var("VOXPROBE_CLICKHOUSE_PASSWORD").ok())
    }

    fn drain(&self) -> Duration {
        Duration::try_from_secs_f64(self.clickhouse_drain_seconds.max(0.0)).unwrap_or_default()
    }
}

/// This host's name (the default probe name).
fn host_name() -> String {
    nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .unwrap_or_else(|| "voxprobe".into())
}

/// Says what the exports did: on stderr for `analyze`, in the log (which
/// may be JSON lines) for `capture`.
fn report_exports(exports: voxprobe::export::Exports, drain: Duration, to_log: bool) {
    use std::sync::atomic::Ordering::Relaxed;
    let say = |line: String| {
        if to_log {
            tracing::info!("{line}");
        } else {
            eprintln!("voxprobe: {line}");
        }
    };
    let [warnings, critical] = exports.alerts_raised;
    if warnings + critical > 0 {
        say(format!(
            "quality alerts: {warnings} warning, {critical} critical"
        ));
    }
    let Some(c) = exports.finish(drain) else {
        return;
    };
    let inserted = c.inserted();
    let spooled = c.spool_rows.load(Relaxed);
    let dropped = c.rows_dropped_queue.load(Relaxed) + c.rows_dropped_spool.load(Relaxed);
    let lost = c.rows_lost.load(Relaxed);
    let through_spool = c.rows_spooled.load(Relaxed);
    let failures = c.failures.load(Relaxed);
    say(format!(
        "ClickHouse: {inserted} rows inserted, {spooled} waiting in the spool, {dropped} dropped, {lost} lost ({through_spool} rows went through the spool, {failures} failed attempts)"
    ));
    if let Some(e) = c.last_error.lock().ok().and_then(|e| e.clone()) {
        if spooled + dropped + lost > 0 {
            say(format!("ClickHouse: last error: {e}"));
        }
    }
}

#[derive(clap::Args)]
#[command(args_override_self = true)]
struct AnalyzeArgs {
    /// Read options from this TOML file first (keys are the long options);
    /// the command line overrides it.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Capture files; the format is detected from the content, not the name.
    #[arg(required = true)]
    files: Vec<PathBuf>,
    #[command(flatten)]
    output: OutputArgs,
    #[command(flatten)]
    decode: DecodeArgs,
    #[command(flatten)]
    export: ExportArgs,
    /// Never show a progress bar.
    #[arg(long, short)]
    quiet: bool,
}

#[derive(clap::Args)]
struct CheckConfigArgs {
    /// The TOML file.
    file: PathBuf,
    /// The command it configures.
    #[arg(long = "for", value_enum, default_value_t = Configured::Capture)]
    command: Configured,
}

/// Capture engines.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Engine {
    /// Linux AF_PACKET with a TPACKET_V3 ring (the default).
    Afpacket,
    /// libpcap.
    Pcap,
}

/// Commands a configuration file can configure.
#[derive(Clone, Copy, ValueEnum)]
enum Configured {
    /// `voxprobe capture`.
    Capture,
    /// `voxprobe analyze` (options only; the files stay on the command line).
    Analyze,
}

impl Configured {
    fn name(self) -> &'static str {
        match self {
            Configured::Capture => "capture",
            Configured::Analyze => "analyze",
        }
    }
}

#[derive(clap::Args)]
#[command(args_override_self = true)]
struct CaptureArgs {
    /// Read options from this TOML file first (keys are the long options,
    /// e.g. `interface = "eth1"`); the command line overrides it.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Network interface to capture on (Linux AF_PACKET, TPACKET_V3 ring);
    /// repeat it to capture on several at once.
    #[arg(short, long, value_name = "IFACE", required_unless_present = "replay")]
    interface: Vec<String>,
    /// Instead of an interface, feed this capture file through the live path
    /// at its own pace (for dashboards and alerts without a network).
    #[arg(long, value_name = "FILE", conflicts_with = "interface")]
    replay: Option<PathBuf>,
    /// Replay speed: 1 is the file's own pace, 10 ten times faster, 0 as
    /// fast as possible.
    #[arg(long, default_value_t = 1.0, value_name = "X", requires = "replay")]
    speed: f64,
    /// Replay the file this many times (0: until stopped, e.g. for a soak
    /// or a demonstration). Each pass starts, in packet time, when
    /// everything of the one before has timed out (--call-idle-timeout,
    /// --call-linger and --stream-timeout, and a second: a jump not waited
    /// for), so its calls are new calls.
    #[arg(long, default_value_t = 1, value_name = "N", requires = "replay")]
    replay_loops: u64,
    /// Stop after this many seconds (default: at SIGINT or SIGTERM).
    #[arg(long, value_name = "SECONDS")]
    duration: Option<f64>,
    /// Stop after this many frames.
    #[arg(long, value_name = "FRAMES")]
    count: Option<u64>,
    /// Bytes per ring block (a multiple of 4096).
    #[arg(long, default_value_t = 1 << 20, value_name = "BYTES")]
    ring_block_size: u32,
    /// Blocks in the ring.
    #[arg(long, default_value_t = 64, value_name = "N")]
    ring_blocks: u32,
    /// A ring block is handed over after this long even when not full: the
    /// longest a quiet link's frames wait.
    #[arg(long, default_value_t = 100, value_name = "MS")]
    ring_block_timeout_ms: u32,
    /// Rings (and capture threads) per interface, sharing its packets by
    /// flow hash (PACKET_FANOUT, IP fragments reassembled first).
    #[arg(long, default_value_t = 1, value_name = "N")]
    fanout: u16,
    /// With `--format json`, report every call in progress this often (a
    /// `call_update` line: state, parties, time since the answer).
    #[arg(long, default_value_t = 5, value_name = "SECONDS")]
    call_update_every: u32,
    /// Frames the capture thread copies into one batch for the analysis.
    #[arg(long, default_value_t = 512, value_name = "N")]
    batch_frames: usize,
    /// Batches that may wait for the analysis; past that the capture
    /// thread drops frames (counted) rather than stop emptying the ring.
    #[arg(long, default_value_t = 256, value_name = "N")]
    queue_batches: usize,
    /// Only frames for this host (promiscuous mode off).
    #[arg(long)]
    no_promiscuous: bool,
    /// How frames are read: the AF_PACKET ring, or libpcap (a fallback,
    /// in builds with the `libpcap` feature).
    #[arg(long, value_enum, default_value_t = Engine::Afpacket, conflicts_with = "replay")]
    engine: Engine,
    /// Keep only the frames this expression (tcpdump syntax, e.g. "udp or
    /// sctp") accepts, in the kernel (builds with the `libpcap` feature). On
    /// the AF_PACKET ring it sees frames as the kernel hands them over, VLAN
    /// tags taken off.
    #[arg(long, value_name = "EXPRESSION", conflicts_with = "replay")]
    filter: Option<String>,
    /// Log lines on stderr as text or as one JSON object per line.
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    /// Also write every frame analysed to this pcap file, as captured.
    #[arg(long, value_name = "FILE")]
    write: Option<PathBuf>,
    /// Log how the capture is doing (frames/s, calls and streams in
    /// progress, calls reported) this often while frames come.
    #[arg(long, default_value_t = 10, value_name = "SECONDS")]
    status_every: u32,
    /// Serve Prometheus metrics at http://ADDR/metrics (e.g. 127.0.0.1:9477;
    /// keep it on loopback or a management network).
    #[arg(long, value_name = "ADDR")]
    metrics_listen: Option<std::net::SocketAddr>,
    /// After the run, keep serving the final metrics this long, so a
    /// scraper sees the last counts of a replay or a timed capture.
    #[arg(
        long,
        default_value_t = 0.0,
        value_name = "SECONDS",
        requires = "metrics_listen"
    )]
    metrics_linger: f64,
    /// Require HTTP basic authentication on the metrics endpoint: the file
    /// holds one `user:password` line (give Prometheus the same in its
    /// `basic_auth`).
    #[arg(long, value_name = "FILE", requires = "metrics_listen")]
    metrics_auth_file: Option<PathBuf>,
    /// Serve the metrics over HTTPS only, with this PEM certificate (chain,
    /// the server's first); needs --metrics-tls-key.
    #[arg(long, value_name = "FILE", requires_all = ["metrics_listen", "metrics_tls_key"])]
    metrics_tls_cert: Option<PathBuf>,
    /// The PEM private key of --metrics-tls-cert (readable by the probe's
    /// user only).
    #[arg(long, value_name = "FILE", requires = "metrics_tls_cert")]
    metrics_tls_key: Option<PathBuf>,
    /// When started as root: once the ring is open, run as this user (and
    /// its group) with no supplementary groups. Under the systemd unit the
    /// probe starts as its own user with only CAP_NET_RAW/CAP_NET_ADMIN.
    #[arg(long, value_name = "USER")]
    user: Option<String>,
    #[command(flatten)]
    output: OutputArgs,
    #[command(flatten)]
    decode: DecodeArgs,
    #[command(flatten)]
    export: ExportArgs,
}

/// The exit code of a run: its own, success when the reader of our output
/// went away, else the error said on stderr.
fn exit_code(result: anyhow::Result<u8>) -> ExitCode {
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("voxprobe: {e:#}");
            ExitCode::from(EXIT_UNREADABLE)
        }
    }
}

/// The command line with the options of its `--config FILE` (if any)
/// inserted right after the subcommand, but for those the command line
/// gives itself: those replace the file's (lists included).
/// Also returns the file, when there was one.
fn with_config_file(
    argv: Vec<std::ffi::OsString>,
) -> Result<(Vec<std::ffi::OsString>, Option<std::ffi::OsString>), voxprobe::config::ConfigError> {
    let configurable = argv
        .get(1)
        .is_some_and(|s| s == "capture" || s == "analyze" || s == "report");
    if !configurable {
        return Ok((argv, None));
    }
    let mut path = None;
    let mut words = argv.iter().skip(2);
    while let Some(word) = words.next() {
        if word == "--" {
            break;
        }
        if word == "--config" {
            path = words.next().cloned();
        } else if let Some(p) = word.to_str().and_then(|w| w.strip_prefix("--config=")) {
            path = Some(p.into());
        }
    }
    let Some(path) = path else {
        return Ok((argv, None));
    };
    let options = voxprobe::config::load_options(std::path::Path::new(&path))?;
    let given = given_options(&argv);
    let mut out: Vec<std::ffi::OsString> = argv.iter().take(2).cloned().collect();
    out.extend(
        options
            .iter()
            .filter(|o| !given.contains(&o.long))
            .flat_map(|o| o.words())
            .map(Into::into),
    );
    out.extend(argv.iter().skip(2).cloned());
    Ok((out, Some(path)))
}

/// The long names of the options a subcommand's command line gives
/// (`-i` counts as `interface`).
fn given_options(argv: &[std::ffi::OsString]) -> Vec<String> {
    use clap::CommandFactory;
    let cli = Cli::command();
    let sub = argv
        .get(1)
        .and_then(|s| s.to_str())
        .and_then(|name| cli.find_subcommand(name));
    let mut given = Vec::new();
    for word in argv.iter().skip(2).filter_map(|w| w.to_str()) {
        if word == "--" {
            break;
        }
        if let Some(long) = word.strip_prefix("--") {
            given.push(long.split('=').next().unwrap_or(long).to_owned());
        } else if let Some(short) = word.strip_prefix('-').and_then(|w| w.chars().next()) {
            let long = sub
                .and_then(|c| c.get_arguments().find(|a| a.get_short() == Some(short)))
                .and_then(|a| a.get_long());
            given.extend(long.map(str::to_owned));
        }
    }
    given
}

/// `voxprobe check-config`: parses the file as the command's options would
/// be, and says what it amounts to.
fn run_check_config(args: &CheckConfigArgs) -> u8 {
    let file = args.file.display();
    let words: Vec<String> = match voxprobe::config::load_options(&args.file) {
        Ok(options) => options.iter().flat_map(|o| o.words()).collect(),
        Err(e) => {
            eprintln!("voxprobe: {e}");
            return 2;
        }
    };
    let mut argv = vec!["voxprobe".to_owned(), args.command.name().to_owned()];
    argv.extend(words.iter().cloned());
    if matches!(args.command, Configured::Analyze) {
        argv.push("capture-file-placeholder.pcap".to_owned());
    }
    let parsed = match Cli::try_parse_from(&argv) {
        Ok(cli) => cli,
        Err(e) => {
            let text = e.render().to_string();
            let first = text.lines().next().unwrap_or_default();
            eprintln!("voxprobe: {file}: {first} (keys are the long options of `voxprobe {}`; `voxprobe {} --help` lists them)", args.command.name(), args.command.name());
            return 2;
        }
    };
    let decode = match &parsed.command {
        Command::Capture(c) => &c.decode,
        Command::Analyze(a) => &a.decode,
        _ => return 2,
    };
    if let Err(e) = config_from(decode) {
        eprintln!("voxprobe: {file}: {e:#}");
        return 2;
    }
    #[cfg(target_os = "linux")]
    if let Command::Capture(c) = &parsed.command {
        let ring = voxprobe::capture::afpacket::RingConfig {
            block_size: c.ring_block_size,
            block_count: c.ring_blocks,
            ..Default::default()
        };
        if let Err(e) = ring.frame_count() {
            eprintln!("voxprobe: {file}: {e}");
            return 2;
        }
        for interface in &c.interface {
            if !std::path::Path::new("/sys/class/net")
                .join(interface)
                .exists()
            {
                eprintln!(
                    "voxprobe: {file}: warning: interface {interface:?} is not on this machine (fine if the file is for another)"
                );
            }
        }
    }
    println!("{file}: OK");
    println!("voxprobe {} {}", args.command.name(), words.join(" "));
    0
}

fn main() -> ExitCode {
    let (argv, config_file) = match with_config_file(std::env::args_os().collect()) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("voxprobe: {e}");
            return ExitCode::from(2);
        }
    };
    let cli = match Cli::try_parse_from(argv) {
        Ok(cli) => cli,
        Err(e) => {
            if let Some(file) = config_file.filter(|_| e.use_stderr()) {
                eprintln!(
                    "voxprobe: the options of {} come first on this command line (`voxprobe check-config` checks the file)",
                    std::path::Path::new(&file).display()
                );
            }
            e.exit()
        }
    };
    match cli.command {
        Command::Analyze(args) => exit_code(run_analyze(&args)),
        Command::Capture(args) => exit_code(run_capture(&args)),
        Command::CheckConfig(args) => ExitCode::from(run_check_config(&args)),
        Command::Report(args) => exit_code(run_report(&args)),
        Command::Schema(args) => {
            let mut text = String::new();
            for statement in args.settings().all_statements() {
                text.push_str(&statement);
                text.push_str(";\n\n");
            }
            match io::stdout().write_all(text.as_bytes()) {
                Err(e) if e.kind() != io::ErrorKind::BrokenPipe => {
                    eprintln!("voxprobe: writing to standard output: {e}");
                    ExitCode::from(EXIT_UNREADABLE)
                }
                _ => ExitCode::SUCCESS,
            }
        }
        Command::Mos(args) => {
            match voxprobe::media::emodel::what_if(
                &args.codec,
                args.loss,
                args.burst,
                args.delay,
                args.jitter_buffer,
            ) {
                Ok(rating) => {
                    let text = match args.format {
                        Format::Table => format!("{rating}\n"),
                        Format::Json => format!(
                            "{}\n",
                            serde_json::json!({
                                "type": "mos",
                                "codec": rating.codec.map(|c| c.name),
                                "band": rating.band.name(),
                                "r": rating.r,
                                "r_narrowband": rating.r_narrowband,
                                "mos": rating.mos,
                                "quality": voxprobe::media::quality::label(rating.mos),
                                "ro": rating.ro, "is": rating.is, "id": rating.id,
                                "idte": rating.idte, "idle": rating.idle, "idd": rating.idd,
                                "ie_eff": rating.ie_eff, "a": rating.a,
                                "ie": rating.ie, "bpl": rating.bpl, "ppl": rating.ppl,
                                "burst_r": rating.burst_r, "ta_ms": rating.ta,
                            })
                        ),
                    };
                    match io::stdout().write_all(text.as_bytes()) {
                        Err(e) if e.kind() != io::ErrorKind::BrokenPipe => {
                            eprintln!("voxprobe: writing to standard output: {e}");
                            ExitCode::from(EXIT_UNREADABLE)
                        }
                        _ => ExitCode::SUCCESS,
                    }
                }
                Err(e) => {
                    eprintln!("voxprobe: {e}");
                    ExitCode::from(2)
                }
            }
        }
        Command::Extract(args) => {
            let config = match config_from(&args.decode) {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("voxprobe: {e:#}");
                    return ExitCode::from(2);
                }
            };
            match voxprobe::extract::extract_call(&args.files, &config, &args.call_id, &args.output)
            {
                Ok(s) => {
                    eprintln!(
                        "voxprobe: wrote {} frames of call {} ({} SIP, {} RTP/RTCP) to {}",
                        s.frames_written,
                        args.call_id,
                        s.sip_frames,
                        s.media_frames,
                        args.output.display()
                    );
                    if s.frames_skipped_link_type > 0 {
                        eprintln!(
                            "voxprobe: {} frames of the call were left out: their link type differs from the first frame's",
                            s.frames_skipped_link_type
                        );
                    }
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("voxprobe: {e}");
                    ExitCode::from(EXIT_UNREADABLE)
                }
            }
        }
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.downcast_ref::<io::Error>()
        .is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe)
}

fn config_from(args: &DecodeArgs) -> anyhow::Result<AnalyzeConfig> {
    let mut config = AnalyzeConfig::default();
    if !args.codec_impairments.is_empty() {
        let overrides: Vec<(&str, f64, f64)> = args
            .codec_impairments
            .iter()
            .map(|(n, ie, bpl)| (n.as_str(), *ie, *bpl))
            .collect();
        config.quality.codecs = voxprobe::media::emodel::CodecTable::with_overrides(&overrides)
            .map_err(|e| anyhow::anyhow!("--codec-impairment: {e}"))?;
    }
    anyhow::ensure!(
        args.default_delay.is_finite() && args.default_delay >= 0.0,
        "--default-delay must be a non-negative number of milliseconds"
    );
    config.quality.default_one_way_delay_ms = args.default_delay;
    config.calls.idle_timeout_ns = i64::from(args.call_idle_timeout) * 1_000_000_000;
    config.calls.max_active_calls = args.max_calls;
    config.calls.linger_ns = i64::from(args.call_linger) * 1_000_000_000;
    config.streams.idle_timeout_ns = i64::from(args.stream_timeout) * 1_000_000_000;
    config.correlator.max_exchanges = args.max_exchanges;
    config.correlator.max_procedures = args.max_procedures;
    config.media_workers = args.workers.min(64);
    config.decoder.tcp.max_connections = args.max_tcp_connections;
    config.decoder.tcp.max_total_buffered_bytes = args.max_tcp_bytes;
    config.decoder.defrag.max_buffered_bytes = args.max_fragment_bytes;
    config.decoder.sctp.max_total_bytes = args.max_sctp_bytes;
    config.streams.heuristic = !args.no_rtp_heuristic;
    config.streams.max_streams = args.max_streams;
    for &p in &args.sip_ports {
        if !config.sip_udp_ports.contains(&p) {
            config.sip_udp_ports.push(p);
        }
        if !config.decoder.sip_tcp_ports.contains(&p) {
            config.decoder.sip_tcp_ports.push(p);
        }
    }
    Ok(config)
}

/// The configuration of an `analyze` or `capture` run; `None` (after saying
/// why on stderr) when the options are wrong.
fn run_config(
    decode: &DecodeArgs,
    output: &OutputArgs,
    export: &ExportArgs,
) -> Option<AnalyzeConfig> {
    match config_from(decode) {
        Ok(mut config) => {
            // Every message of every call is kept only when a ladder is
            // printed or messages are exported (the signaling table).
            config.calls.keep_ladders = output.ladder.is_some() || export.clickhouse_url.is_some();
            Some(config)
        }
        Err(e) => {
            eprintln!("voxprobe: {e:#}");
            None
        }
    }
}

fn run_analyze(args: &AnalyzeArgs) -> anyhow::Result<u8> {
    let Some(config) = run_config(&args.decode, &args.output, &args.export) else {
        return Ok(2);
    };
    let mut exports = args.export.open(None)?;
    let privacy = args.export.privacy.privacy()?;
    let stdout = io::stdout();
    let mut out = io::BufWriter::with_capacity(1 << 16, stdout.lock());
    let mut code = 0u8;
    for path in &args.files {
        let mut progress = Progress::new(path, args.quiet);
        let result = analyze_file(path, &config, &mut |offset| progress.update(offset));
        progress.finish();
        let analysis = match result {
            Ok(a) => a,
            Err(e) => {
                out.flush()?;
                eprintln!("voxprobe: {e}");
                code = EXIT_UNREADABLE;
                continue;
            }
        };
        if let Some(stop) = &analysis.summary.stopped {
            eprintln!(
                "voxprobe: {}: reading stopped at byte {}: {}; the frames before it were analysed",
                path.display(),
                stop.offset,
                stop.reason
            );
            if code == 0 {
                code = EXIT_STOPPED_EARLY;
            }
        }
        let mut analysis = analysis;
        privacy.analysis(&mut analysis);
        let source = path.display().to_string();
        exports.calls(&source, &analysis.calls, &analysis.streams, Delivery::Wait);
        exports.signals(analysis.signals.entries(), Delivery::Wait);
        select_calls(&mut analysis, &args.output);
        if let Err(e) = write_analysis(&mut out, &args.output, &analysis) {
            if e.downcast_ref::<io::Error>().is_some() {
                return Err(e.context("writing the results to standard output"));
            }
            out.flush()?;
            eprintln!("voxprobe: {e:#}");
            code = EXIT_UNREADABLE;
        }
    }
    out.flush()?;
    drop(out);
    report_exports(exports, args.export.drain(), false);
    Ok(code)
}

fn run_report(args: &ReportArgs) -> anyhow::Result<u8> {
    let config = match config_from(&args.decode) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("voxprobe: {e:#}");
            return Ok(2);
        }
    };
    let mut report = voxprobe::export::report::Report::new(args.by, args.labels.labeller());
    let mut code = 0u8;
    for path in &args.files {
        let mut progress = Progress::new(path, args.quiet);
        let result = analyze_file(path, &config, &mut |offset| progress.update(offset));
        progress.finish();
        match result {
            Ok(a) => {
                if let Some(stop) = &a.summary.stopped {
                    eprintln!(
                        "voxprobe: {}: reading stopped at byte {}: {}; the frames before it were analysed",
                        path.display(),
                        stop.offset,
                        stop.reason
                    );
                    code = code.max(EXIT_STOPPED_EARLY);
                }
                report.add(&a.calls);
            }
            Err(e) => {
                eprintln!("voxprobe: {e}");
                code = EXIT_UNREADABLE;
            }
        }
    }
    let stdout = io::stdout();
    let mut out = io::BufWriter::new(stdout.lock());
    let rows = report.rows();
    match args.format {
        Format::Json => {
            for row in &rows {
                let mut v = serde_json::to_value(row)?;
                if let Some(o) = v.as_object_mut() {
                    o.insert("type".into(), "report".into());
                    o.insert("by".into(), args.by.as_str().into());
                }
                serde_json::to_writer(&mut out, &v)?;
                out.write_all(b"\n")?;
            }
        }
        Format::Table => table::write_report(&mut out, args.by.as_str(), &rows)?,
    }
    out.flush()?;
    Ok(code)
}

/// A TEID as `--teid` takes it: decimal, or hex with `0x`.
fn parse_teid(s: &str) -> Result<u32, String> {
    let parsed = match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(hex) => u32::from_str_radix(hex, 16),
        None => s.parse(),
    };
    parsed.map_err(|_| format!("{s:?} is not a TEID (a 32-bit number, decimal or 0x-hex)"))
}

/// Whether a call uses a GTP-U TEID: its bearer's, or one its media is in.
fn uses_teid(c: &voxprobe::call::CallRecord, teid: u32) -> bool {
    let bearer = c.volte.as_ref().and_then(|v| v.ue.bearer_leg.as_ref());
    bearer.is_some_and(|b| b.uplink_teids.contains(&teid) || b.downlink_teids.contains(&teid))
        || c.streams
            .iter()
            .any(|s| s.key.observation == voxprobe::packet::Observation::GtpU { teid })
}

/// Keeps only the calls `--call-id`, `--icid`, `--imsi` and `--teid` ask for
/// (all of them must match); without them every call stays.
fn select_calls(a: &mut FileAnalysis, args: &OutputArgs) {
    a.calls.retain(|c| is_selected(c, args));
}

/// Whether a call passes every filter given.
fn is_selected(c: &voxprobe::call::CallRecord, args: &OutputArgs) -> bool {
    let volte = c.volte.as_ref();
    args.call_id.as_ref().is_none_or(|id| &c.call.call_id == id)
        && args.icid.as_ref().is_none_or(|icid| {
            c.call.icid.as_ref() == Some(icid) || volte.and_then(|v| v.icid.as_ref()) == Some(icid)
        })
        && args
            .imsi
            .as_ref()
            .is_none_or(|imsi| volte.and_then(|v| v.ue.imsi.as_ref()) == Some(imsi))
        && args.teid.is_none_or(|teid| uses_teid(c, teid))
}

fn write_analysis(out: &mut dyn Write, args: &OutputArgs, a: &FileAnalysis) -> anyhow::Result<()> {
    if let Some(call_id) = &args.ladder {
        let Some(call) = a.calls.iter().find(|c| &c.call.call_id == call_id) else {
            anyhow::bail!(
                "{}: no call with Call-ID {call_id:?}; `voxprobe analyze --format json {}` lists the calls",
                a.summary.file.display(),
                a.summary.file.display()
            );
        };
        match args.format {
            Format::Json => json::write_ladder(out, &a.summary.file, call, &a.signals)?,
            Format::Table => table::write_ladder(out, call, &a.signals)?,
        }
        return Ok(());
    }
    match args.format {
        Format::Json => {
            write_records(out, &a.summary.file, &a.calls, &a.streams)?;
            json::write_summary(out, &a.summary)?;
        }
        Format::Table => {
            table::write_calls(out, a)?;
            if args.streams {
                table::write_streams(out, a)?;
            }
            table::write_summary(out, &a.summary)?;
        }
    }
    Ok(())
}

/// Captures on an interface until told to stop, then prints the analysis
/// as `analyze` does, and the kernel's counters on stderr.
#[cfg(target_os = "linux")]
fn run_capture(args: &CaptureArgs) -> anyhow::Result<u8> {
    use std::sync::atomic::AtomicBool;
    use std::sync::Arc;
    use voxprobe::live::{Settings, Source};
    voxprobe::log::init(args.log_format);
    let Some(config) = run_config(&args.decode, &args.output, &args.export) else {
        return Ok(2);
    };
    let metrics = match args.metrics_listen {
        Some(address) => {
            let labels = args.export.labels.labeller();
            let metrics = std::sync::Arc::new(voxprobe::export::prometheus::Metrics::new(
                &labels.carrier_names(),
            ));
            let auth = match &args.metrics_auth_file {
                Some(path) => {
                    let line = std::fs::read_to_string(path).map_err(|e| {
                        anyhow::anyhow!("--metrics-auth-file {}: {e}", path.display())
                    })?;
                    Some(
                        voxprobe::export::prometheus::BasicAuth::from_line(&line).map_err(|e| {
                            anyhow::anyhow!("--metrics-auth-file {}: {e}", path.display())
                        })?,
                    )
                }
                None => None,
            };
            let tls = match (&args.metrics_tls_cert, &args.metrics_tls_key) {
                (Some(cert), Some(key)) => Some(
                    voxprobe::export::prometheus::Tls::from_pem_files(cert, key).map_err(|e| {
                        anyhow::anyhow!("--metrics-tls-cert/--metrics-tls-key: {e}")
                    })?,
                ),
                _ => None,
            };
            let scheme = if tls.is_some() { "https" } else { "http" };
            let access = voxprobe::export::prometheus::Access { auth, tls };
            let bound = voxprobe::export::prometheus::serve(metrics.clone(), address, access)?;
            tracing::info!(address = %bound, "metrics at {scheme}://{bound}/metrics");
            Some(metrics)
        }
        None => None,
    };
    let mut exports = args.export.open(metrics.clone())?;
    let privacy = args.export.privacy.privacy()?;
    if !(args.speed == 0.0 || (0.001..=1e6).contains(&args.speed)) {
        eprintln!(
            "voxprobe: --speed must be 0 (as fast as possible) or a factor from 0.001 to 1000000"
        );
        return Ok(2);
    }
    let source = match &args.replay {
        Some(path) => Source::Replay {
            path: path.clone(),
            speed: args.speed,
            loops: args.replay_loops,
            // Longer than any call or stream of a pass can stay open.
            loop_gap: Duration::from_secs(
                u64::from(args.decode.call_idle_timeout)
                    + u64::from(args.decode.call_linger)
                    + u64::from(args.decode.stream_timeout)
                    + 1,
            ),
        },
        None => open_interfaces(args)?,
    };
    if let Some(user) = &args.user {
        drop_privileges(user)?;
    }
    let stop = Arc::new(AtomicBool::new(false));
    let hangup = Arc::new(AtomicBool::new(false));
    for (signal, flag) in [
        (signal_hook::consts::SIGINT, &stop),
        (signal_hook::consts::SIGTERM, &stop),
        (signal_hook::consts::SIGHUP, &hangup),
    ] {
        signal_hook::flag::register(signal, Arc::clone(flag))
            .map_err(|e| anyhow::anyhow!("installing the handler of signal {signal}: {e}"))?;
    }
    // Closed calls leave the analyzer as they close: JSON lines go out at
    // once (what the probe holds stays bounded by what is in progress);
    // tables and ladders need every call, so they are kept for the end.
    let stream_out = matches!(args.output.format, Format::Json) && args.output.ladder.is_none();
    let settings = Settings {
        max_frames: args.count.unwrap_or(u64::MAX),
        // A duration too long to write is no deadline.
        deadline: args
            .duration
            .and_then(|d| Duration::try_from_secs_f64(d).ok())
            .and_then(|d| Instant::now().checked_add(d)),
        stop,
        hangup,
        emit_every: EMIT_EVERY,
        status_every: Duration::from_secs(u64::from(args.status_every.max(1))),
        write_to: args.write.clone(),
        hand_on_signals: exports.to_clickhouse() && args.output.ladder.is_none(),
        call_updates: stream_out.then(|| {
            let privacy = privacy.clone();
            voxprobe::live::CallUpdates {
                every: Duration::from_secs(u64::from(args.call_update_every.max(1))),
                party: Box::new(move |p: &str| {
                    if p.contains(':') {
                        privacy.uri(p)
                    } else {
                        privacy.identifier(p)
                    }
                }),
            }
        }),
        pipeline: voxprobe::pipeline::PipelineConfig {
            batch_frames: args.batch_frames.max(1),
            queue_batches: args.queue_batches.max(1),
        },
        sample_labels: (exports.to_clickhouse() || stream_out).then(|| {
            let labels = exports.labels().clone();
            let privacy = privacy.clone();
            Box::new(move |d: &voxprobe::call::dialog::Dialog| {
                (
                    labels.carrier(d).to_owned(),
                    privacy.identifier(labels.agent(d)),
                )
            }) as voxprobe::live::SampleLabels
        }),
    };
    let mut emitted = Emitted {
        source: source.name(),
        ..Emitted::default()
    };
    let analyzer = voxprobe::analyze::Analyzer::new(&config);
    let source_name = emitted.source.display().to_string();
    let outcome = voxprobe::live::run(source, analyzer, &settings, &mut |mut closed| {
        if closed.reload {
            reload(args, &mut exports);
        }
        for c in &mut closed.calls {
            privacy.call(c);
        }
        for s in &mut closed.signals {
            privacy.signal(s);
        }
        exports.calls(
            &source_name,
            &closed.calls,
            &closed.streams,
            Delivery::DropWhenFull,
        );
        exports.signals(&closed.signals, Delivery::DropWhenFull);
        exports.samples(&closed.samples, Delivery::DropWhenFull);
        exports.status(closed.status);
        if stream_out && !closed.updates.is_empty() {
            let stdout = io::stdout();
            let mut out = io::BufWriter::new(stdout.lock());
            let written = json::write_call_updates(&mut out, &emitted.source, &closed.updates)
                .and_then(|()| out.flush());
            if let Err(e) = written {
                tracing::error!(error = %e, "writing call updates: {e}");
            }
        }
        if stream_out && !closed.samples.is_empty() {
            let stdout = io::stdout();
            let mut out = io::BufWriter::new(stdout.lock());
            let written = closed
                .samples
                .iter()
                .try_for_each(|s| json::write_samples(&mut out, &emitted.source, s))
                .and_then(|()| out.flush());
            if let Err(e) = written {
                tracing::error!(error = %e, "writing samples: {e}");
            }
        }
        if let Err(e) = emitted.add(closed.calls, closed.streams, &args.output, stream_out) {
            tracing::error!(error = %e, "writing records: {e:#}");
        }
    })?;
    let mut analysis = outcome.analysis;
    privacy.analysis(&mut analysis);
    exports.status(voxprobe::export::prometheus::RunStatus::at_end(
        outcome.frames,
        outcome.bytes,
        &analysis.summary,
    ));
    // What was still open at the end (closed by the shutdown).
    exports.calls(
        &source_name,
        &analysis.calls,
        &analysis.streams,
        Delivery::Wait,
    );
    exports.signals(analysis.signals.entries(), Delivery::Wait);
    let stopped = analysis.summary.stopped.is_some();
    emitted.merge_into(&mut analysis);
    select_calls(&mut analysis, &args.output);
    let stdout = io::stdout();
    let mut out = io::BufWriter::with_capacity(1 << 16, stdout.lock());
    write_analysis(&mut out, &args.output, &analysis)
        .map_err(|e| e.context("writing the results to standard output"))?;
    out.flush()?;
    drop(out);
    report_exports(exports, args.export.drain(), true);
    if let Some((_, peak_rss_bytes)) = voxprobe::process::memory() {
        tracing::info!(
            peak_rss_bytes,
            "peak resident memory {} MiB",
            peak_rss_bytes >> 20
        );
    }
    if metrics.is_some() && args.metrics_linger > 0.0 {
        let linger = Duration::try_from_secs_f64(args.metrics_linger).unwrap_or_default();
        tracing::info!(
            seconds = args.metrics_linger,
            "run over; the final metrics stay at /metrics for {} s (SIGINT or SIGTERM ends it)",
            args.metrics_linger
        );
        let until = Instant::now() + linger;
        while Instant::now() < until && !settings.stop.load(std::sync::atomic::Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    Ok(if outcome.failure.is_some() {
        EXIT_UNREADABLE
    } else if stopped {
        EXIT_STOPPED_EARLY
    } else {
        0
    })
}

/// SIGHUP: reads the command line and its configuration file again and
/// applies what can change while capturing (carriers, the agent side, alert
/// levels); says which other changes wait for the next start.
fn reload(running: &CaptureArgs, exports: &mut voxprobe::export::Exports) {
    let parsed = with_config_file(std::env::args_os().collect())
        .map_err(anyhow::Error::from)
        .and_then(|(argv, _)| Cli::try_parse_from(argv).map_err(anyhow::Error::from));
    let args = match parsed {
        Ok(Cli {
            command: Command::Capture(args),
        }) => args,
        Ok(_) => return,
        Err(e) => {
            tracing::error!(error = %e, "SIGHUP: the configuration does not read ({e}); going on unchanged");
            return;
        }
    };
    let later: Vec<&str> = [
        ("interface", running.interface != args.interface),
        ("replay", running.replay != args.replay),
        ("speed", running.speed != args.speed),
        ("replay-loops", running.replay_loops != args.replay_loops),
        ("engine", running.engine != args.engine),
        ("filter", running.filter != args.filter),
        ("fanout", running.fanout != args.fanout),
        ("workers", running.decode.workers != args.decode.workers),
        (
            "clickhouse-url",
            running.export.clickhouse_url != args.export.clickhouse_url,
        ),
        (
            "metrics-listen",
            running.metrics_listen != args.metrics_listen
                || running.metrics_tls_cert != args.metrics_tls_cert
                || running.metrics_tls_key != args.metrics_tls_key,
        ),
        (
            "privacy",
            running.export.privacy.privacy != args.export.privacy.privacy,
        ),
    ]
    .into_iter()
    .filter_map(|(name, changed)| changed.then_some(name))
    .collect();
    let labels = args.export.labels.labeller();
    let carriers = labels.carriers.len();
    exports.reconfigure(labels, args.export.thresholds());
    tracing::info!(
        carriers,
        "SIGHUP: configuration reloaded: {carriers} carrier rules, agent side and alert levels applied to the calls that end from now on"
    );
    if !later.is_empty() {
        let names = later.join(", ");
        tracing::warn!(options = %names, "SIGHUP: {names} changed; that takes effect at the next start");
    }
}

/// The interfaces of `capture`, opened with the chosen engine.
#[cfg(target_os = "linux")]
fn open_interfaces(args: &CaptureArgs) -> anyhow::Result<voxprobe::live::Source> {
    use voxprobe::capture::afpacket::{Ring, RingConfig};
    use voxprobe::live::Source;
    #[cfg(not(feature = "libpcap"))]
    if args.engine == Engine::Pcap || args.filter.is_some() {
        anyhow::bail!(
            "--engine pcap and --filter need the libpcap engine, which this build leaves out (build with `cargo build --release --features libpcap`; Debian: apt install libpcap-dev)"
        );
    }
    #[cfg(feature = "libpcap")]
    if args.engine == Engine::Pcap {
        use voxprobe::capture::libpcap::{PcapConfig, PcapLive};
        let config = PcapConfig {
            promiscuous: !args.no_promiscuous,
            snaplen: 65_535,
            buffer_bytes: args.ring_block_size.saturating_mul(args.ring_blocks),
            filter: args.filter.clone(),
        };
        let mut captures = Vec::new();
        for (index, interface) in args.interface.iter().enumerate() {
            let mut capture = PcapLive::open(interface, &config)?;
            capture.set_index(index as u32);
            captures.push(capture);
        }
        return Ok(Source::Pcap(captures));
    }
    let mut rings = Vec::new();
    let fanout = args.fanout.clamp(1, 64);
    for (index, interface) in args.interface.iter().enumerate() {
        #[allow(unused_mut)]
        let mut ring_config = RingConfig {
            block_size: args.ring_block_size,
            block_count: args.ring_blocks,
            block_timeout_ms: args.ring_block_timeout_ms.clamp(1, 10_000),
            promiscuous: !args.no_promiscuous,
            // A group of this process and interface (groups are per network
            // namespace; another probe's must not be joined).
            fanout_group: (fanout > 1).then(|| {
                (std::process::id() as u16)
                    .wrapping_mul(64)
                    .wrapping_add(index as u16)
            }),
            ..RingConfig::default()
        };
        #[cfg(feature = "libpcap")]
        if let Some(expression) = &args.filter {
            let link = voxprobe::capture::afpacket::link_type_of(interface)?;
            ring_config.filter = voxprobe::capture::libpcap::compile_filter(expression, link)?;
        }
        for _ in 0..fanout {
            let mut ring = Ring::open(interface, &ring_config)?;
            ring.set_index(index as u32);
            rings.push(ring);
        }
    }
    Ok(Source::Interfaces(rings))
}

/// How often (wall clock) a capture hands on the calls that closed.
#[cfg(target_os = "linux")]
const EMIT_EVERY: Duration = Duration::from_secs(1);

/// Records a capture took out of the analyzer before the end.
#[derive(Default)]
struct Emitted {
    /// The `file` of the records (the capture file, or `interface:...`).
    source: PathBuf,
    /// Kept for the final output (tables, ladders); empty when written as
    /// they came.
    calls: Vec<voxprobe::call::CallRecord>,
    streams: Vec<voxprobe::analyze::StreamRecord>,
}

impl Emitted {
    /// Writes the records as JSON lines now (`stream_out`), or keeps them.
    fn add(
        &mut self,
        calls: Vec<voxprobe::call::CallRecord>,
        streams: Vec<voxprobe::analyze::StreamRecord>,
        args: &OutputArgs,
        stream_out: bool,
    ) -> anyhow::Result<()> {
        if !stream_out {
            self.calls.extend(calls);
            self.streams.extend(streams);
            return Ok(());
        }
        let stdout = io::stdout();
        let mut out = io::BufWriter::new(stdout.lock());
        let mut calls = calls;
        calls.retain(|c| is_selected(c, args));
        write_records(&mut out, &self.source, &calls, &streams)?;
        out.flush()?;
        Ok(())
    }

    /// Puts what was kept back among the final analysis's records, in their
    /// usual order.
    fn merge_into(self, analysis: &mut FileAnalysis) {
        if self.calls.is_empty() && self.streams.is_empty() {
            return;
        }
        analysis.calls.extend(self.calls);
        analysis.calls.sort_by(|a, b| {
            (a.call.invite_time, a.call.first_frame, &a.call.call_id).cmp(&(
                b.call.invite_time,
                b.call.first_frame,
                &b.call.call_id,
            ))
        });
        analysis.streams.extend(self.streams);
        analysis.streams.sort_by_key(|s| (s.first_frame, s.key));
    }
}

/// Becomes `name` (its uid, its primary group, no supplementary groups),
/// for a probe started as root that has opened what needs root.
#[cfg(target_os = "linux")]
fn drop_privileges(name: &str) -> anyhow::Result<()> {
    use nix::unistd::{setgid, setgroups, setuid, Uid, User};
    if !Uid::effective().is_root() {
        anyhow::bail!("--user {name}: the probe is not running as root, so it cannot change user (start it as root, or leave --user out)");
    }
    let user = User::from_name(name)
        .map_err(|e| anyhow::anyhow!("--user {name}: looking the user up: {e}"))?
        .ok_or_else(|| anyhow::anyhow!("--user {name}: no such user (see /etc/passwd)"))?;
    setgroups(&[])
        .map_err(|e| anyhow::anyhow!("--user {name}: dropping supplementary groups: {e}"))?;
    setgid(user.gid)
        .map_err(|e| anyhow::anyhow!("--user {name}: setting group {}: {e}", user.gid))?;
    setuid(user.uid)
        .map_err(|e| anyhow::anyhow!("--user {name}: setting user {}: {e}", user.uid))?;
    if setuid(Uid::from_raw(0)).is_ok() {
        anyhow::bail!("--user {name}: root could be regained after the change; refusing to go on");
    }
    tracing::info!(
        user = name,
        uid = user.uid.as_raw(),
        gid = user.gid.as_raw(),
        "running as {name} (uid {}, gid {})",
        user.uid,
        user.gid
    );
    Ok(())
}

#[cfg(not(target_os = "linux"))]
fn run_capture(_args: &CaptureArgs) -> anyhow::Result<u8> {
    anyhow::bail!("live capture needs Linux (AF_PACKET)")
}

/// Call and stream records as JSON lines, `file` naming where they come from.
fn write_records(
    out: &mut dyn Write,
    file: &std::path::Path,
    calls: &[voxprobe::call::CallRecord],
    streams: &[voxprobe::analyze::StreamRecord],
) -> io::Result<()> {
    for c in calls {
        json::write_call(out, file, c)?;
    }
    for s in streams {
        json::write_stream(out, file, s)?;
    }
    Ok(())
}

/// A progress bar on stderr, shown only when stderr is a terminal and the
/// file takes more than a moment.
struct Progress {
    bar: Option<indicatif::ProgressBar>,
    len: u64,
    started: Instant,
    enabled: bool,
}

impl Progress {
    const SHOW_AFTER: Duration = Duration::from_millis(500);

    fn new(path: &std::path::Path, quiet: bool) -> Self {
        let len = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        Progress {
            bar: None,
            len,
            started: Instant::now(),
            enabled: !quiet && io::stderr().is_terminal(),
        }
    }

    fn update(&mut self, offset: u64) {
        if !self.enabled {
            return;
        }
        if self.bar.is_none() && self.started.elapsed() >= Self::SHOW_AFTER {
            let bar = indicatif::ProgressBar::new(self.len);
            if let Ok(style) = indicatif::ProgressStyle::with_template(
                "{bar:40} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
            ) {
                bar.set_style(style);
            }
            self.bar = Some(bar);
        }
        if let Some(bar) = &self.bar {
            bar.set_position(offset);
        }
    }

    fn finish(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}
