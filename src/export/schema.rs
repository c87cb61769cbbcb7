//! The ClickHouse schema, in one place: the tables the probe writes, the
//! rollups the dashboards read, and the versioned migrations that create
//! them.
//!
//! Every table is partitioned by day and kept for a configurable number of
//! days (TTL). The four record tables are `ReplacingMergeTree`s whose sorting
//! key is the record's identity, so a row inserted twice (a retried batch
//! whose first attempt did commit) collapses to one at merge time; batches
//! also carry an insert deduplication token, so the retry is discarded at
//! insert time and the rollups never see it twice.
//!
//! `--clickhouse-cluster NAME` writes the same schema for a cluster: each
//! table becomes a `Replicated…MergeTree` named `NAME_local` on every node,
//! with a `Distributed` table of the plain name in front, and every statement
//! runs `ON CLUSTER`.

use std::fmt::Write as _;

/// Where and how the schema is written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SchemaSettings {
    /// Database of every table.
    pub database: String,
    /// Cluster name for `ON CLUSTER` DDL and replicated tables.
    pub cluster: Option<String>,
    /// Days a row is kept.
    pub ttl_days: u32,
}

impl Default for SchemaSettings {
    fn default() -> Self {
        SchemaSettings {
            database: "voxprobe".into(),
            cluster: None,
            ttl_days: DEFAULT_TTL_DAYS,
        }
    }
}

/// Days kept unless configured.
pub const DEFAULT_TTL_DAYS: u32 = 90;

/// The schema version the probe writes (the last migration's).
pub const SCHEMA_VERSION: u32 = 1;

/// Engines of the record tables.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Engine {
    /// Rows collapse by sorting key; the highest `version` wins.
    Replacing,
    /// Partial aggregates merged by key (rollups).
    Aggregating,
}

/// One table.
struct Table {
    name: &'static str,
    columns: &'static [(&'static str, &'static str)],
    engine: Engine,
    partition_by: &'static str,
    order_by: &'static str,
    /// Data-skipping indexes: (name, expression, type).
    indexes: &'static [(&'static str, &'static str, &'static str)],
}

const OUTCOME_ENUM: &str = "Enum8('answered' = 1, 'busy' = 2, 'no_answer' = 3, 'rejected' = 4, \
     'cancelled' = 5, 'failed' = 6, 'timed_out' = 7)";

/// The call record: one row per call (the latest `version` wins).
const CALLS: Table = Table {
    name: "calls",
    columns: &[
        ("call_uuid", "UUID"),
        ("version", "UInt64"),
        ("probe", "LowCardinality(String)"),
        ("source", "LowCardinality(String)"),
        ("call_id", "String"),
        ("invite_time", "DateTime64(6, 'UTC')"),
        ("ringing_time", "Nullable(DateTime64(6, 'UTC'))"),
        ("answer_time", "Nullable(DateTime64(6, 'UTC'))"),
        ("end_time", "Nullable(DateTime64(6, 'UTC'))"),
        ("from_uri", "String"),
        ("to_uri", "String"),
        ("from_user", "String"),
        ("to_user", "String"),
        ("caller_ip", "IPv6"),
        ("caller_port", "UInt16"),
        ("callee_ip", "IPv6"),
        ("callee_port", "UInt16"),
        ("caller_user_agent", "LowCardinality(String)"),
        ("callee_user_agent", "LowCardinality(String)"),
        ("carrier", "LowCardinality(String)"),
        ("agent", "String"),
        ("outcome", OUTCOME_ENUM),
        ("state", "LowCardinality(String)"),
        ("final_code", "UInt16"),
        ("final_reason", "LowCardinality(String)"),
        ("q850_cause", "Nullable(UInt16)"),
        ("hangup_by", "LowCardinality(String)"),
        ("ended_by", "LowCardinality(String)"),
        ("setup_ms", "Nullable(Float64)"),
        ("pdd_ms", "Nullable(Float64)"),
        ("answer_delay_ms", "Nullable(Float64)"),
        ("duration_s", "Nullable(Float64)"),
        ("media_duration_s", "Nullable(Float64)"),
        ("codec", "LowCardinality(String)"),
        ("codecs", "Array(LowCardinality(String))"),
        ("messages", "UInt32"),
        ("retransmissions", "UInt32"),
        ("reinvites", "UInt32"),
        ("streams", "UInt16"),
        ("mos", "Nullable(Float32)"),
        ("mos_caller_to_callee", "Nullable(Float32)"),
        ("mos_callee_to_caller", "Nullable(Float32)"),
        ("lost_percent", "Nullable(Float32)"),
        ("jitter_ms", "Nullable(Float32)"),
        ("quality", "LowCardinality(String)"),
        ("diagnosis", "Array(LowCardinality(String))"),
        ("icid", "String"),
        ("imsi", "String"),
        ("msisdn", "String"),
        ("ue_ip", "Nullable(IPv6)"),
        ("volte_state", "LowCardinality(String)"),
        ("failed_leg", "LowCardinality(String)"),
        ("state_reason", "String"),
        ("rx_session_id", "String"),
        ("gx_session_id", "String"),
        ("bearer_teid", "Nullable(UInt32)"),
        ("rx_authorization_ms", "Nullable(Float64)"),
        ("gx_policy_ms", "Nullable(Float64)"),
        ("bearer_setup_ms", "Nullable(Float64)"),
        ("volte_legs", "String"),
    ],
    engine: Engine::Replacing,
    partition_by: "toDate(invite_time)",
    order_by: "(invite_time, call_uuid)",
    indexes: &[
        ("call_id_bf", "call_id", "bloom_filter(0.01)"),
        ("imsi_bf", "imsi", "bloom_filter(0.01)"),
        ("icid_bf", "icid", "bloom_filter(0.01)"),
        ("carrier_set", "carrier", "set(256)"),
    ],
};

/// One row per RTP stream.
const MEDIA_STREAMS: Table = Table {
    name: "media_streams",
    columns: &[
        ("call_uuid", "UUID"),
        ("version", "UInt64"),
        ("probe", "LowCardinality(String)"),
        ("call_id", "String"),
        ("carrier", "LowCardinality(String)"),
        ("direction", "LowCardinality(String)"),
        ("ssrc", "UInt32"),
        ("src_ip", "IPv6"),
        ("src_port", "UInt16"),
        ("dst_ip", "IPv6"),
        ("dst_port", "UInt16"),
        ("observation", "LowCardinality(String)"),
        ("payload_type", "UInt8"),
        ("codec", "LowCardinality(String)"),
        ("clock_rate", "UInt32"),
        ("first_time", "DateTime64(6, 'UTC')"),
        ("last_time", "DateTime64(6, 'UTC')"),
        ("packets", "UInt64"),
        ("expected", "UInt64"),
        ("lost", "Int64"),
        ("lost_percent", "Float32"),
        ("duplicates", "UInt64"),
        ("out_of_order", "UInt64"),
        ("seq_errors", "UInt64"),
        ("max_loss_run", "UInt64"),
        ("max_delta_ms", "Float32"),
        ("mean_jitter_ms", "Float32"),
        ("max_jitter_ms", "Float32"),
        ("late_percent", "Float32"),
        ("mos", "Nullable(Float32)"),
        ("r_factor", "Nullable(Float32)"),
        ("rtt_ms", "Nullable(Float32)"),
    ],
    engine: Engine::Replacing,
    partition_by: "toDate(first_time)",
    order_by: "(first_time, call_uuid, ssrc, src_ip, src_port, dst_ip, dst_port, observation)",
    indexes: &[("call_id_bf", "call_id", "bloom_filter(0.01)")],
};

/// The 5-second samples of each stream: the time series of the live panels.
const QUALITY_INTERVALS: Table = Table {
    name: "quality_intervals",
    columns: &[
        ("call_uuid", "UUID"),
        ("version", "UInt64"),
        ("probe", "LowCardinality(String)"),
        ("call_id", "String"),
        ("carrier", "LowCardinality(String)"),
        ("agent", "String"),
        ("direction", "LowCardinality(String)"),
        ("codec", "LowCardinality(String)"),
        ("ssrc", "UInt32"),
        ("interval_start", "DateTime('UTC')"),
        ("packets", "UInt64"),
        ("expected", "UInt64"),
        ("lost", "Int64"),
        ("lost_percent", "Float32"),
        ("mean_jitter_ms", "Float32"),
        ("max_jitter_ms", "Float32"),
        ("late", "UInt64"),
        ("mos", "Nullable(Float32)"),
        ("r_factor", "Nullable(Float32)"),
    ],
    engine: Engine::Replacing,
    partition_by: "toDate(interval_start)",
    order_by: "(interval_start, carrier, call_uuid, ssrc, direction)",
    indexes: &[("call_id_bf", "call_id", "bloom_filter(0.01)")],
};

/// Every decoded SIP, DIAMETER and GTPv2-C message with the keys that join
/// it to a call (Call-ID, ICID, Session-Id, IMSI, TEID): ladders, and the
/// join of legs seen by different probes.
const SIGNALING: Table = Table {
    name: "signaling",
    columns: &[
        ("time", "DateTime64(6, 'UTC')"),
        ("version", "UInt64"),
        ("probe", "LowCardinality(String)"),
        ("frame", "UInt64"),
        ("protocol", "LowCardinality(String)"),
        ("src_ip", "IPv6"),
        ("src_port", "UInt16"),
        ("dst_ip", "IPv6"),
        ("dst_port", "UInt16"),
        ("transport", "LowCardinality(String)"),
        ("label", "LowCardinality(String)"),
        ("retransmission", "Bool"),
        ("call_uuid", "UUID"),
        ("call_id", "String"),
        ("icid", "String"),
        ("session_id", "String"),
        ("imsi", "String"),
        ("teid", "Nullable(UInt32)"),
        ("gtp_sequence", "Nullable(UInt32)"),
        ("origin_host", "LowCardinality(String)"),
        ("src_role", "LowCardinality(String)"),
        ("dst_role", "LowCardinality(String)"),
    ],
    engine: Engine::Replacing,
    partition_by: "toDate(time)",
    order_by: "(time, src_ip, src_port, dst_ip, dst_port, frame, probe)",
    indexes: &[
        ("call_id_bf", "call_id", "bloom_filter(0.01)"),
        ("icid_bf", "icid", "bloom_filter(0.01)"),
        ("session_bf", "session_id", "bloom_filter(0.01)"),
        ("imsi_bf", "imsi", "bloom_filter(0.01)"),
    ],
};

/// Per-call quality alerts (thresholds crossed).
const QUALITY_ALERTS: Table = Table {
    name: "quality_alerts",
    columns: &[
        ("time", "DateTime64(6, 'UTC')"),
        ("version", "UInt64"),
        ("probe", "LowCardinality(String)"),
        ("call_uuid", "UUID"),
        ("call_id", "String"),
        ("carrier", "LowCardinality(String)"),
        ("agent", "String"),
        ("direction", "LowCardinality(String)"),
        ("metric", "LowCardinality(String)"),
        ("severity", "Enum8('warning' = 1, 'critical' = 2)"),
        ("value", "Float64"),
        ("threshold", "Float64"),
    ],
    engine: Engine::Replacing,
    partition_by: "toDate(time)",
    order_by: "(time, call_uuid, metric, direction)",
    indexes: &[],
};

/// The record tables, in the order they are created.
const RECORD_TABLES: [&Table; 5] = [
    &CALLS,
    &MEDIA_STREAMS,
    &QUALITY_INTERVALS,
    &SIGNALING,
    &QUALITY_ALERTS,
];

/// When a record row was exported: its `version` is the export time in µs.
const RECORD_EXPORTED: &str = "toDateTime(intDiv(version, 1000000), 'UTC')";

/// The columns of a rollup (hour × one dimension of the calls).
const ROLLUP_COLUMNS: &[(&str, &str)] = &[
    ("hour", "DateTime('UTC')"),
    ("exported", "SimpleAggregateFunction(max, DateTime('UTC'))"),
    ("calls", "AggregateFunction(count)"),
    ("answered", "AggregateFunction(countIf, UInt8)"),
    ("rated", "AggregateFunction(count, Nullable(Float32))"),
    ("mos_avg", "AggregateFunction(avg, Nullable(Float32))"),
    ("mos_min", "AggregateFunction(min, Nullable(Float32))"),
    (
        "mos_median",
        "AggregateFunction(quantile(0.5), Nullable(Float32))",
    ),
    ("mos_good", "AggregateFunction(countIf, UInt8)"),
    ("mos_poor", "AggregateFunction(countIf, UInt8)"),
    (
        "lost_percent_avg",
        "AggregateFunction(avg, Nullable(Float32))",
    ),
    ("jitter_ms_avg", "AggregateFunction(avg, Nullable(Float32))"),
    (
        "setup_ms_quantiles",
        "AggregateFunction(quantiles(0.5, 0.9, 0.99), Nullable(Float64))",
    ),
];

/// The aggregates a rollup's view computes, matching [`ROLLUP_COLUMNS`].
const ROLLUP_SELECT: &str = "toStartOfHour(invite_time) AS hour, \
    max(toDateTime(intDiv(version, 1000000), 'UTC')) AS exported, \
    countState() AS calls, \
    countIfState(outcome = 'answered') AS answered, \
    countState(mos) AS rated, \
    avgState(mos) AS mos_avg, \
    minState(mos) AS mos_min, \
    quantileState(0.5)(mos) AS mos_median, \
    countIfState(ifNull(mos >= 4.0, 0)) AS mos_good, \
    countIfState(ifNull(mos < 3.0, 0)) AS mos_poor, \
    avgState(lost_percent) AS lost_percent_avg, \
    avgState(jitter_ms) AS jitter_ms_avg, \
    quantilesState(0.5, 0.9, 0.99)(setup_ms) AS setup_ms_quantiles";

/// The rollups: (table, dimension column, its type, expression over `calls`).
pub const ROLLUPS: [(&str, &str, &str, &str); 3] = [
    (
        "calls_hourly_by_carrier",
        "carrier",
        "LowCardinality(String)",
        "carrier",
    ),
    ("calls_hourly_by_agent", "agent", "String", "agent"),
    (
        "calls_hourly_by_codec",
        "codec",
        "LowCardinality(String)",
        "codec",
    ),
];

/// The table the schema version is kept in.
pub const MIGRATIONS_TABLE: &str = "schema_migrations";

impl SchemaSettings {
    fn on_cluster(&self) -> String {
        match &self.cluster {
            Some(c) => format!(" ON CLUSTER {}", quote_identifier(c)),
            None => String::new(),
        }
    }

    /// `db.name` (with `_local` for the storage table of a cluster).
    fn storage(&self, name: &str) -> String {
        let suffix = if self.cluster.is_some() { "_local" } else { "" };
        format!(
            "{}.{}",
            quote_identifier(&self.database),
            quote_identifier(&format!("{name}{suffix}"))
        )
    }

    /// `db.name`: what queries and inserts use.
    pub fn table(&self, name: &str) -> String {
        format!(
            "{}.{}",
            quote_identifier(&self.database),
            quote_identifier(name)
        )
    }

    fn engine(&self, engine: Engine, table: &str) -> String {
        let (plain, replicated_args) = match engine {
            Engine::Replacing => ("ReplacingMergeTree(version)", "version"),
            Engine::Aggregating => ("AggregatingMergeTree", ""),
        };
        match &self.cluster {
            None => plain.to_owned(),
            Some(_) => {
                let kind = match engine {
                    Engine::Replacing => "ReplicatedReplacingMergeTree",
                    Engine::Aggregating => "ReplicatedAggregatingMergeTree",
                };
                let sep = if replicated_args.is_empty() { "" } else { ", " };
                format!(
                    "{kind}('/clickhouse/tables/{{shard}}/{}/{table}_local', '{{replica}}'{sep}{replicated_args})",
                    self.database
                )
            }
        }
    }

    /// Rows are kept `ttl_days` after the probe exported them (the
    /// `version` of a record row, the `exported` time of a rollup row), not
    /// after the call: a capture from last year analysed today is kept as
    /// long as today's traffic, instead of expiring on insert.
    fn ttl(&self, exported: &str) -> String {
        format!("{exported} + INTERVAL {} DAY", self.ttl_days)
    }

    /// The Distributed table in front of a cluster's local table.
    fn distributed(&self, name: &str) -> Option<String> {
        let cluster = self.cluster.as_ref()?;
        Some(format!(
            "CREATE TABLE IF NOT EXISTS {}{} AS {} ENGINE = Distributed({}, {}, {}, rand())",
            self.table(name),
            self.on_cluster(),
            self.storage(name),
            quote_literal(cluster),
            quote_literal(&self.database),
            quote_literal(&format!("{name}_local")),
        ))
    }

    fn create_table(&self, t: &Table) -> Vec<String> {
        let mut sql = format!(
            "CREATE TABLE IF NOT EXISTS {}{}\n(\n",
            self.storage(t.name),
            self.on_cluster()
        );
        for (name, ty) in t.columns {
            let codec = column_codec(name, ty);
            let _ = writeln!(sql, "    {} {ty}{codec},", quote_identifier(name));
        }
        for (name, expr, kind) in t.indexes {
            let _ = writeln!(sql, "    INDEX {name} {expr} TYPE {kind} GRANULARITY 4,");
        }
        // The trailing comma of the last line.
        sql.truncate(sql.trim_end_matches([',', '\n']).len());
        let _ = write!(
            sql,
            "\n)\nENGINE = {}\nPARTITION BY {}\nORDER BY {}\nTTL {}\n\
             SETTINGS non_replicated_deduplication_window = 1000",
            self.engine(t.engine, t.name),
            t.partition_by,
            t.order_by,
            self.ttl(RECORD_EXPORTED),
        );
        let mut out = vec![sql];
        out.extend(self.distributed(t.name));
        out
    }

    fn create_rollup(&self, (name, dimension, ty, expr): (&str, &str, &str, &str)) -> Vec<String> {
        let mut sql = format!(
            "CREATE TABLE IF NOT EXISTS {}{}\n(\n    {} {ty},\n",
            self.storage(name),
            self.on_cluster(),
            quote_identifier(dimension),
        );
        for (column, ty) in ROLLUP_COLUMNS {
            let _ = writeln!(sql, "    {} {ty},", quote_identifier(column));
        }
        sql.truncate(sql.trim_end_matches([',', '\n']).len());
        let _ = write!(
            sql,
            // The window here too: a retried batch deduplicated at the
            // calls table must also be at the rollup the view writes.
            "\n)\nENGINE = {}\nPARTITION BY toDate(hour)\nORDER BY (hour, {})\nTTL {}\n\
             SETTINGS non_replicated_deduplication_window = 1000",
            self.engine(Engine::Aggregating, name),
            quote_identifier(dimension),
            self.ttl("exported"),
        );
        let view = format!(
            "CREATE MATERIALIZED VIEW IF NOT EXISTS {}{} TO {}\nAS SELECT {expr} AS {}, {ROLLUP_SELECT}\nFROM {}\nGROUP BY {}, hour",
            self.storage(&format!("{name}_mv")),
            self.on_cluster(),
            self.storage(name),
            quote_identifier(dimension),
            self.storage(CALLS.name),
            quote_identifier(dimension),
        );
        let mut out = vec![sql, view];
        out.extend(self.distributed(name));
        out
    }

    /// The statements of migration `version` (1 creates everything).
    pub fn migration(&self, version: u32) -> Vec<String> {
        match version {
            1 => {
                let mut out = Vec::new();
                for t in RECORD_TABLES {
                    out.extend(self.create_table(t));
                }
                for r in ROLLUPS {
                    out.extend(self.create_rollup(r));
                }
                out
            }
            _ => Vec::new(),
        }
    }

    /// The statements that make the database and the migrations table.
    pub fn bootstrap(&self) -> Vec<String> {
        let engine = match &self.cluster {
            None => "MergeTree".to_owned(),
            Some(_) => format!(
                "ReplicatedMergeTree('/clickhouse/tables/{{shard}}/{}/{MIGRATIONS_TABLE}', '{{replica}}')",
                self.database
            ),
        };
        vec![
            format!(
                "CREATE DATABASE IF NOT EXISTS {}{}",
                quote_identifier(&self.database),
                self.on_cluster()
            ),
            format!(
                "CREATE TABLE IF NOT EXISTS {}{} (version UInt32, description String, \
                 applied DateTime('UTC') DEFAULT now()) ENGINE = {engine} ORDER BY version",
                self.table(MIGRATIONS_TABLE),
                self.on_cluster()
            ),
        ]
    }

    /// The statements that set every table's TTL to `ttl_days` (run at every
    /// start, so changing the setting changes the tables).
    pub fn retention(&self) -> Vec<String> {
        let record = RECORD_TABLES.iter().map(|t| (t.name, RECORD_EXPORTED));
        let rollups = ROLLUPS.iter().map(|r| (r.0, "exported"));
        record
            .chain(rollups)
            .map(|(name, column)| {
                format!(
                    "ALTER TABLE {}{} MODIFY TTL {}",
                    self.storage(name),
                    self.on_cluster(),
                    self.ttl(column)
                )
            })
            .collect()
    }

    /// Every statement, in order: what `voxprobe schema` prints.
    pub fn all_statements(&self) -> Vec<String> {
        let mut out = self.bootstrap();
        for v in 1..=SCHEMA_VERSION {
            out.extend(self.migration(v));
        }
        out
    }
}

/// A short description of each migration, stored with its version.
pub fn migration_description(version: u32) -> &'static str {
    match version {
        1 => "record tables (calls, media_streams, quality_intervals, signaling, quality_alerts) and hourly rollups",
        _ => "",
    }
}

/// Compression codecs by column kind: times are near-monotonic (Delta),
/// counters and ids compress with ZSTD.
fn column_codec(name: &str, ty: &str) -> &'static str {
    if ty.starts_with("DateTime") && !ty.starts_with("Nullable") {
        " CODEC(Delta, ZSTD(1))"
    } else if name == "version" || name == "frame" {
        " CODEC(DoubleDelta, ZSTD(1))"
    } else {
        ""
    }
}

/// A ClickHouse identifier in backquotes when it is not plain.
pub fn quote_identifier(s: &str) -> String {
    let plain = !s.is_empty()
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && !s.as_bytes()[0].is_ascii_digit();
    if plain {
        s.to_owned()
    } else {
        format!("`{}`", s.replace('\\', "\\\\").replace('`', "\\`"))
    }
}

/// A ClickHouse string literal.
pub fn quote_literal(s: &str) -> String {
    format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// The column names of a record table, in order (what its row type writes).
pub fn columns(table: &str) -> Option<Vec<&'static str>> {
    RECORD_TABLES
        .iter()
        .find(|t| t.name == table)
        .map(|t| t.columns.iter().map(|(n, _)| *n).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_server_schema_has_every_table_and_view() {
        let s = SchemaSettings::default().all_statements().join(";\n");
        for t in RECORD_TABLES {
            assert!(
                s.contains(&format!("CREATE TABLE IF NOT EXISTS voxprobe.{}\n", t.name)),
                "{}",
                t.name
            );
        }
        for (name, ..) in ROLLUPS {
            assert!(s.contains(&format!("voxprobe.{name}_mv TO voxprobe.{name}")));
        }
        assert!(!s.contains("ON CLUSTER"));
        assert!(s.contains("TTL toDateTime(intDiv(version, 1000000), 'UTC') + INTERVAL 90 DAY"));
        assert!(s.contains("TTL exported + INTERVAL 90 DAY"));
    }

    #[test]
    fn cluster_schema_is_replicated_and_distributed() {
        let settings = SchemaSettings {
            cluster: Some("voice".into()),
            ..SchemaSettings::default()
        };
        let all = settings.all_statements();
        assert!(all.iter().all(|s| s.contains(" ON CLUSTER voice")));
        let s = all.join(";\n");
        assert!(s.contains(
            "ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/voxprobe/calls_local', '{replica}', version)"
        ));
        assert!(s.contains(
            "CREATE TABLE IF NOT EXISTS voxprobe.calls ON CLUSTER voice AS voxprobe.calls_local ENGINE = Distributed('voice', 'voxprobe', 'calls_local', rand())"
        ));
        assert!(s.contains("TO voxprobe.calls_hourly_by_agent_local"));
    }

    #[test]
    fn identifiers_and_literals_are_quoted() {
        assert_eq!(quote_identifier("calls"), "calls");
        assert_eq!(quote_identifier("my-db"), "`my-db`");
        assert_eq!(quote_identifier("1x"), "`1x`");
        assert_eq!(quote_identifier("a`b"), "`a\\`b`");
        assert_eq!(quote_literal("it's"), "'it\\'s'");
    }
}
