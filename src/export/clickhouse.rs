//! The ClickHouse sink: rows from the run go through a bounded queue to an
//! export thread, which batches them per table by size and time, creates
//! and migrates the schema, inserts with the official client (RowBinary,
//! LZ4), and when ClickHouse cannot take a batch spools it to disk and
//! replays the spool in order, with backoff, once it can.
//!
//! Nothing is dropped silently: a full queue (the run never waits for the
//! exporter) and a full spool drop rows and count them in
//! [`ExportCounters`]; so do inserts that failed, batches delivered, and the
//! bytes waiting on disk. A retried batch carries the same
//! `insert_deduplication_token` as its first attempt, so a batch whose first
//! attempt did commit (the answer was lost) is not inserted twice, and the
//! rollups never count it twice.

use super::rows::{AlertRow, CallRow, IntervalRow, Rows, SignalingRow, StreamRow};
use super::schema::{self, SchemaSettings, MIGRATIONS_TABLE, SCHEMA_VERSION};
use super::spool::{Spool, SpoolProblem};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How to reach ClickHouse and how to batch.
#[derive(Clone, Debug)]
pub struct ClickHouseSettings {
    /// HTTP interface, e.g. `http://127.0.0.1:8123`.
    pub url: String,
    /// User (default `default`).
    pub user: Option<String>,
    /// Password (from a file or the environment, never the command line).
    pub password: Option<String>,
    /// Database, cluster and retention.
    pub schema: SchemaSettings,
    /// A batch is sent when it has this many rows...
    pub batch_rows: usize,
    /// ...or when its oldest row waited this long.
    pub batch_period: Duration,
    /// Where undeliverable batches wait.
    pub spool_dir: PathBuf,
    /// Most bytes the spool keeps; past it the oldest batches are dropped.
    pub spool_max_bytes: u64,
    /// Messages (each a step's rows) the queue to the export thread holds.
    pub queue_capacity: usize,
    /// How long one insert or statement may take.
    pub timeout: Duration,
    /// Longest wait between replay attempts.
    pub max_backoff: Duration,
}

impl ClickHouseSettings {
    /// Defaults for a URL.
    pub fn new(url: impl Into<String>) -> Self {
        ClickHouseSettings {
            url: url.into(),
            user: None,
            password: None,
            schema: SchemaSettings::default(),
            batch_rows: 10_000,
            batch_period: Duration::from_secs(1),
            spool_dir: default_spool_dir(),
            spool_max_bytes: 1 << 30,
            queue_capacity: 4096,
            timeout: Duration::from_secs(30),
            max_backoff: Duration::from_secs(30),
        }
    }
}

/// `$STATE_DIRECTORY/clickhouse-spool` under systemd, else a directory in
/// the system's temporary directory.
pub fn default_spool_dir() -> PathBuf {
    match std::env::var_os("STATE_DIRECTORY") {
        Some(d) => PathBuf::from(d).join("clickhouse-spool"),
        None => std::env::temp_dir().join("voxprobe-clickhouse-spool"),
    }
}

/// The tables, in the order of their counters.
pub const TABLES: [&str; 5] = [
    "calls",
    "media_streams",
    "quality_intervals",
    "signaling",
    "quality_alerts",
];

/// What the sink did, readable at any time from any thread (the metrics
/// endpoint reads it).
#[derive(Debug, Default)]
pub struct ExportCounters {
    /// Rows inserted, per table (order of [`TABLES`]).
    pub rows_inserted: [AtomicU64; 5],
    /// Rows handed to the sink.
    pub rows_received: AtomicU64,
    /// Rows dropped because the queue to the export thread was full.
    pub rows_dropped_queue: AtomicU64,
    /// Rows written to the spool.
    pub rows_spooled: AtomicU64,
    /// Rows dropped from a full spool.
    pub rows_dropped_spool: AtomicU64,
    /// Rows lost because the spool could not be written (disk error) or a
    /// spooled batch was corrupt.
    pub rows_lost: AtomicU64,
    /// Batches inserted.
    pub batches_inserted: AtomicU64,
    /// Insert or statement attempts that failed.
    pub failures: AtomicU64,
    /// Rows waiting in the queue.
    pub queue_rows: AtomicU64,
    /// Rows waiting in the spool.
    pub spool_rows: AtomicU64,
    /// Bytes of the spool on disk.
    pub spool_bytes: AtomicU64,
    /// Batch files found corrupt and moved aside.
    pub spool_corrupt: AtomicU64,
    /// The schema is created and current.
    pub schema_ready: AtomicBool,
    /// The last statement or insert succeeded (false while spooling).
    pub connected: AtomicBool,
    /// The last error, for the log and the final report.
    pub last_error: Mutex<Option<String>>,
}

impl ExportCounters {
    /// Rows inserted in all tables.
    pub fn inserted(&self) -> u64 {
        self.rows_inserted
            .iter()
            .map(|c| c.load(Ordering::Relaxed))
            .sum()
    }

    fn note_error(&self, e: String) {
        self.failures.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut last) = self.last_error.lock() {
            *last = Some(e);
        }
    }
}

/// Why the sink could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The spool directory is not usable.
    #[error("ClickHouse spool directory {dir}: {source} (set --clickhouse-spool-dir to a writable directory)")]
    Spool {
        /// The directory.
        dir: String,
        /// The error.
        source: std::io::Error,
    },
    /// The export thread could not be started.
    #[error("cannot start the ClickHouse export thread: {0}")]
    Thread(std::io::Error),
}

/// The handle the run holds.
pub struct ClickHouseSink {
    tx: Option<tokio::sync::mpsc::Sender<Rows>>,
    thread: Option<std::thread::JoinHandle<()>>,
    counters: Arc<ExportCounters>,
    stop_by: Arc<Mutex<Option<Instant>>>,
}

/// What happened to the spool when the sink started.
pub type StartProblems = Vec<SpoolProblem>;

impl ClickHouseSink {
    /// Opens the spool (taking up what a previous run left) and starts the
    /// export thread. ClickHouse being unreachable is not an error: rows
    /// wait in the spool.
    ///
    /// # Errors
    /// When the spool directory cannot be used or the thread not started.
    pub fn start(settings: ClickHouseSettings) -> Result<(Self, StartProblems), StartError> {
        let (spool, problems) = Spool::open(&settings.spool_dir, settings.spool_max_bytes)
            .map_err(|source| StartError::Spool {
                dir: settings.spool_dir.display().to_string(),
                source,
            })?;
        let counters = Arc::new(ExportCounters::default());
        counters
            .spool_corrupt
            .store(spool.corrupt_batches, Ordering::Relaxed);
        let (tx, rx) = tokio::sync::mpsc::channel(settings.queue_capacity.max(1));
        let stop_by = Arc::new(Mutex::new(None));
        let worker = Worker::new(settings, spool, counters.clone(), stop_by.clone());
        let thread = std::thread::Builder::new()
            .name("clickhouse".into())
            .spawn(move || worker.run(rx))
            .map_err(StartError::Thread)?;
        Ok((
            ClickHouseSink {
                tx: Some(tx),
                thread: Some(thread),
                counters,
                stop_by,
            },
            problems,
        ))
    }

    /// Hands rows to the export thread without waiting: when its queue is
    /// full they are dropped and counted.
    pub fn send(&self, rows: Rows) {
        if rows.is_empty() {
            return;
        }
        let n = rows.len() as u64;
        self.counters.rows_received.fetch_add(n, Ordering::Relaxed);
        let Some(tx) = &self.tx else { return };
        // Counted before the send: the export thread may take them at once.
        self.counters.queue_rows.fetch_add(n, Ordering::Relaxed);
        match tx.try_send(rows) {
            Ok(()) => {}
            Err(_) => {
                self.counters.queue_rows.fetch_sub(n, Ordering::Relaxed);
                self.counters
                    .rows_dropped_queue
                    .fetch_add(n, Ordering::Relaxed);
            }
        }
    }

    /// Hands rows to the export thread, waiting for room in its queue
    /// (offline analysis, where waiting loses nothing).
    pub fn send_waiting(&self, rows: Rows) {
        if rows.is_empty() {
            return;
        }
        let n = rows.len() as u64;
        self.counters.rows_received.fetch_add(n, Ordering::Relaxed);
        self.counters.queue_rows.fetch_add(n, Ordering::Relaxed);
        let sent = self
            .tx
            .as_ref()
            .is_some_and(|tx| tx.blocking_send(rows).is_ok());
        if !sent {
            // The export thread is gone (it cannot start its runtime).
            self.counters.queue_rows.fetch_sub(n, Ordering::Relaxed);
            self.counters.rows_lost.fetch_add(n, Ordering::Relaxed);
        }
    }

    /// The counters.
    pub fn counters(&self) -> &Arc<ExportCounters> {
        &self.counters
    }

    /// Sends what is queued and waits for the thread: at most `drain` for
    /// the spool to empty; what is still spooled then stays on disk for the
    /// next start.
    pub fn finish(mut self, drain: Duration) -> Arc<ExportCounters> {
        if let Ok(mut s) = self.stop_by.lock() {
            *s = Some(Instant::now() + drain);
        }
        self.tx = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        self.counters.clone()
    }
}

/// One batch for one table.
enum BatchRows {
    Calls(Vec<CallRow>),
    Streams(Vec<StreamRow>),
    Intervals(Vec<IntervalRow>),
    Signaling(Vec<SignalingRow>),
    Alerts(Vec<AlertRow>),
}

impl BatchRows {
    fn table_index(&self) -> usize {
        match self {
            BatchRows::Calls(_) => 0,
            BatchRows::Streams(_) => 1,
            BatchRows::Intervals(_) => 2,
            BatchRows::Signaling(_) => 3,
            BatchRows::Alerts(_) => 4,
        }
    }

    fn len(&self) -> usize {
        match self {
            BatchRows::Calls(r) => r.len(),
            BatchRows::Streams(r) => r.len(),
            BatchRows::Intervals(r) => r.len(),
            BatchRows::Signaling(r) => r.len(),
            BatchRows::Alerts(r) => r.len(),
        }
    }

    /// The spool's body: one JSON row per line.
    fn to_json_lines(&self) -> Vec<u8> {
        fn lines<T: Serialize>(rows: &[T]) -> Vec<u8> {
            let mut out = Vec::new();
            for r in rows {
                if serde_json::to_writer(&mut out, r).is_ok() {
                    out.push(b'\n');
                }
            }
            out
        }
        match self {
            BatchRows::Calls(r) => lines(r),
            BatchRows::Streams(r) => lines(r),
            BatchRows::Intervals(r) => lines(r),
            BatchRows::Signaling(r) => lines(r),
            BatchRows::Alerts(r) => lines(r),
        }
    }

    fn from_json_lines(table: &str, body: &[u8]) -> Result<BatchRows, String> {
        fn rows<T: DeserializeOwned>(body: &[u8]) -> Result<Vec<T>, String> {
            serde_json::Deserializer::from_slice(body)
                .into_iter::<T>()
                .collect::<Result<Vec<T>, _>>()
                .map_err(|e| e.to_string())
        }
        Ok(match table {
            "calls" => BatchRows::Calls(rows(body)?),
            "media_streams" => BatchRows::Streams(rows(body)?),
            "quality_intervals" => BatchRows::Intervals(rows(body)?),
            "signaling" => BatchRows::Signaling(rows(body)?),
            "quality_alerts" => BatchRows::Alerts(rows(body)?),
            other => return Err(format!("unknown table {other:?}")),
        })
    }
}

struct Batch {
    token: String,
    rows: BatchRows,
}

/// The export thread's state.
struct Worker {
    settings: ClickHouseSettings,
    client: clickhouse::Client,
    spool: Spool,
    counters: Arc<ExportCounters>,
    stop_by: Arc<Mutex<Option<Instant>>>,
    pending: Rows,
    oldest_pending: Option<Instant>,
    run_id: String,
    next_batch: u64,
    backoff: Duration,
    retry_at: Instant,
}

impl Worker {
    fn new(
        settings: ClickHouseSettings,
        spool: Spool,
        counters: Arc<ExportCounters>,
        stop_by: Arc<Mutex<Option<Instant>>>,
    ) -> Self {
        let mut client = clickhouse::Client::default()
            .with_url(&settings.url)
            .with_compression(clickhouse::Compression::Lz4)
            .with_setting("deduplicate_blocks_in_dependent_materialized_views", "1")
            .with_setting("insert_deduplicate", "1");
        if let Some(user) = &settings.user {
            client = client.with_user(user);
        }
        if let Some(password) = &settings.password {
            client = client.with_password(password);
        }
        Worker {
            client,
            spool,
            counters,
            stop_by,
            pending: Rows::default(),
            oldest_pending: None,
            run_id: run_id(),
            next_batch: 0,
            backoff: Duration::from_millis(500),
            retry_at: Instant::now(),
            settings,
        }
    }

    fn run(mut self, rx: tokio::sync::mpsc::Receiver<Rows>) {
        let runtime = match tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            Ok(r) => r,
            Err(e) => {
                self.counters
                    .note_error(format!("cannot start the export runtime: {e}"));
                return;
            }
        };
        runtime.block_on(self.serve(rx));
    }

    async fn serve(&mut self, mut rx: tokio::sync::mpsc::Receiver<Rows>) {
        self.update_spool_counters();
        loop {
            let wake = self.next_wake();
            let received = tokio::select! {
                r = rx.recv() => Some(r),
                () = tokio::time::sleep_until(wake.into()) => None,
            };
            match received {
                Some(Some(rows)) => {
                    self.counters
                        .queue_rows
                        .fetch_sub(rows.len() as u64, Ordering::Relaxed);
                    self.add(rows);
                    if self.pending.len() >= self.settings.batch_rows {
                        self.seal().await;
                    }
                }
                Some(None) => break,
                None => {}
            }
            let now = Instant::now();
            if self
                .oldest_pending
                .is_some_and(|t| now >= t + self.settings.batch_period)
            {
                self.seal().await;
            }
            if now >= self.retry_at && (!self.spool.is_empty() || !self.schema_ready()) {
                self.replay().await;
            }
        }
        // The run is over: send what is left, then replay until the spool is
        // empty or the drain time is up.
        self.seal().await;
        let deadline = self
            .stop_by
            .lock()
            .ok()
            .and_then(|s| *s)
            .unwrap_or_else(Instant::now);
        while !self.spool.is_empty() || !self.schema_ready() {
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            if now < self.retry_at {
                tokio::time::sleep_until(self.retry_at.min(deadline).into()).await;
                continue;
            }
            self.replay().await;
        }
    }

    fn schema_ready(&self) -> bool {
        self.counters.schema_ready.load(Ordering::Relaxed)
    }

    fn next_wake(&self) -> Instant {
        let far = Instant::now() + Duration::from_secs(3600);
        let flush = self
            .oldest_pending
            .map_or(far, |t| t + self.settings.batch_period);
        let retry = if self.spool.is_empty() && self.schema_ready() {
            far
        } else {
            self.retry_at
        };
        flush.min(retry)
    }

    fn add(&mut self, rows: Rows) {
        if rows.is_empty() {
            return;
        }
        self.oldest_pending.get_or_insert_with(Instant::now);
        let p = &mut self.pending;
        p.calls.extend(rows.calls);
        p.streams.extend(rows.streams);
        p.intervals.extend(rows.intervals);
        p.signaling.extend(rows.signaling);
        p.alerts.extend(rows.alerts);
    }

    /// Turns what is pending into batches and delivers them.
    async fn seal(&mut self) {
        self.oldest_pending = None;
        let p = std::mem::take(&mut self.pending);
        let batches = [
            BatchRows::Calls(p.calls),
            BatchRows::Streams(p.streams),
            BatchRows::Intervals(p.intervals),
            BatchRows::Signaling(p.signaling),
            BatchRows::Alerts(p.alerts),
        ];
        for rows in batches {
            if rows.len() == 0 {
                continue;
            }
            let token = format!("{}-{}", self.run_id, self.next_batch);
            self.next_batch += 1;
            self.deliver(Batch { token, rows }).await;
        }
    }

    /// Inserts a batch when nothing is waiting before it, else (or when the
    /// insert fails) appends it to the spool.
    async fn deliver(&mut self, batch: Batch) {
        if self.spool.is_empty() && self.schema_ready() {
            match self.insert(&batch).await {
                Ok(()) => return,
                Err(e) => self.failed(e),
            }
        }
        self.spool_batch(&batch);
    }

    fn spool_batch(&mut self, batch: &Batch) {
        let table = TABLES[batch.rows.table_index()];
        let n = batch.rows.len() as u64;
        let body = batch.rows.to_json_lines();
        match self.spool.push(table, &batch.token, n, &body) {
            Ok(()) => {
                self.counters.rows_spooled.fetch_add(n, Ordering::Relaxed);
            }
            Err(e) => {
                self.counters.rows_lost.fetch_add(n, Ordering::Relaxed);
                self.counters.note_error(format!(
                    "cannot write to the spool {}: {e}; {n} {table} rows lost",
                    self.spool.dir().display()
                ));
            }
        }
        self.update_spool_counters();
    }

    fn update_spool_counters(&self) {
        let c = &self.counters;
        c.spool_rows.store(self.spool.rows(), Ordering::Relaxed);
        c.spool_bytes.store(self.spool.bytes(), Ordering::Relaxed);
        c.rows_dropped_spool
            .store(self.spool.dropped_rows, Ordering::Relaxed);
        c.spool_corrupt
            .store(self.spool.corrupt_batches, Ordering::Relaxed);
    }

    fn failed(&mut self, e: String) {
        self.counters.connected.store(false, Ordering::Relaxed);
        self.counters.note_error(e);
        self.retry_at = Instant::now() + self.backoff;
        self.backoff = (self.backoff * 2).min(self.settings.max_backoff);
    }

    /// Creates the schema if needed, then sends spooled batches oldest
    /// first until one fails.
    async fn replay(&mut self) {
        if !self.schema_ready() {
            match self.ensure_schema().await {
                Ok(()) => {
                    self.counters.schema_ready.store(true, Ordering::Relaxed);
                    self.counters.connected.store(true, Ordering::Relaxed);
                }
                Err(e) => {
                    self.failed(format!("schema: {e}"));
                    return;
                }
            }
        }
        while let Some(front) = self.spool.front() {
            let batch = match front {
                Ok(b) => b,
                Err(problem) => {
                    self.counters.note_error(problem.to_string());
                    self.update_spool_counters();
                    continue;
                }
            };
            let rows = match BatchRows::from_json_lines(&batch.header.table, &batch.body) {
                Ok(r) => r,
                Err(e) => {
                    // Checksummed but unreadable: written by another
                    // version. Lost, and said so.
                    self.counters
                        .rows_lost
                        .fetch_add(batch.header.rows, Ordering::Relaxed);
                    self.counters
                        .note_error(format!("spooled batch {}: {e}", batch.header.token));
                    let _ = self.spool.pop();
                    self.update_spool_counters();
                    continue;
                }
            };
            let batch = Batch {
                token: batch.header.token,
                rows,
            };
            match self.insert(&batch).await {
                Ok(()) => {
                    let _ = self.spool.pop();
                    self.update_spool_counters();
                }
                Err(e) => {
                    self.failed(e);
                    return;
                }
            }
        }
    }

    async fn insert(&mut self, batch: &Batch) -> Result<(), String> {
        let result = match &batch.rows {
            BatchRows::Calls(r) => self.insert_rows("calls", r, &batch.token).await,
            BatchRows::Streams(r) => self.insert_rows("media_streams", r, &batch.token).await,
            BatchRows::Intervals(r) => self.insert_rows("quality_intervals", r, &batch.token).await,
            BatchRows::Signaling(r) => self.insert_rows("signaling", r, &batch.token).await,
            BatchRows::Alerts(r) => self.insert_rows("quality_alerts", r, &batch.token).await,
        };
        let table = batch.rows.table_index();
        result
            .map(|()| {
                let c = &self.counters;
                c.rows_inserted[table].fetch_add(batch.rows.len() as u64, Ordering::Relaxed);
                c.batches_inserted.fetch_add(1, Ordering::Relaxed);
                c.connected.store(true, Ordering::Relaxed);
                self.backoff = Duration::from_millis(500);
            })
            .map_err(|e| format!("insert into {}: {e}", TABLES[table]))
    }

    async fn insert_rows<T>(&self, table: &str, rows: &[T], token: &str) -> Result<(), String>
    where
        T: clickhouse::RowOwned + clickhouse::RowWrite,
    {
        let client = self
            .client
            .clone()
            .with_database(&self.settings.schema.database);
        let timeout = Some(self.settings.timeout);
        let mut insert = client
            .insert::<T>(table)
            .await
            .map_err(|e| e.to_string())?
            .with_timeouts(timeout, timeout)
            .with_setting("insert_deduplication_token", token);
        for r in rows {
            insert.write(r).await.map_err(|e| e.to_string())?;
        }
        insert.end().await.map_err(|e| e.to_string())
    }

    async fn execute(&self, sql: &str) -> Result<(), String> {
        self.execute_query(self.client.query(sql), sql).await
    }

    /// Runs `query` (the statement `sql`) within the timeout; errors name
    /// the statement.
    async fn execute_query(
        &self,
        query: clickhouse::query::Query,
        sql: &str,
    ) -> Result<(), String> {
        match tokio::time::timeout(self.settings.timeout, query.execute()).await {
            Ok(r) => r.map_err(|e| format!("{e} (in: {})", first_line(sql))),
            Err(_) => Err(format!("timed out (in: {})", first_line(sql))),
        }
    }

    /// Creates the database and the migrations table, applies the
    /// migrations past the recorded version, and sets retention.
    async fn ensure_schema(&self) -> Result<(), String> {
        let s = &self.settings.schema;
        for sql in s.bootstrap() {
            self.execute(&sql).await?;
        }
        let current: u32 = self
            .client
            .query(&format!(
                "SELECT toUInt32(max(version)) FROM {}",
                s.table(MIGRATIONS_TABLE)
            ))
            .fetch_one()
            .await
            .map_err(|e| format!("reading the schema version: {e}"))?;
        if current > SCHEMA_VERSION {
            return Err(format!(
                "the database has schema version {current}, newer than this probe's {SCHEMA_VERSION}; upgrade the probe"
            ));
        }
        for version in current + 1..=SCHEMA_VERSION {
            for sql in s.migration(version) {
                self.execute(&sql).await?;
            }
            self.execute(&format!(
                "INSERT INTO {} (version, description) VALUES ({version}, {})",
                s.table(MIGRATIONS_TABLE),
                schema::quote_literal(schema::migration_description(version))
            ))
            .await?;
        }
        // A changed retention applies to old parts as they merge, not by
        // rewriting every table at start.
        for sql in s.retention() {
            let query = self
                .client
                .query(&sql)
                .with_setting("materialize_ttl_after_modify", "0");
            self.execute_query(query, &sql).await?;
        }
        Ok(())
    }
}

fn first_line(sql: &str) -> &str {
    sql.lines().next().unwrap_or_default()
}

/// A random id for this run's insert tokens (tokens must not repeat across
/// runs, or a later run's batch could be taken for a retry).
fn run_id() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u32(std::process::id());
    if let Ok(t) = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
        h.write_u128(t.as_nanos());
    }
    format!("{:016x}", h.finish())
}
