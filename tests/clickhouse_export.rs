//! ClickHouse export against the real engine (chdb-core behind the test
//! front): every table filled from the generated captures and checked
//! against the JSON records of the same run, rollups against the calls they
//! roll up, migrations, a retried batch, an outage mid-run, a full spool.

use crate::support::clickhouse::{available, temp_dir, Front};
use crate::support::project_dir;
use std::path::Path;
use std::process::{Command, Output};

fn voxprobe() -> Command {
    Command::new(env!("CARGO_BIN_EXE_voxprobe"))
}

fn captures(name: &str) -> String {
    project_dir()
        .join("captures")
        .join(name)
        .display()
        .to_string()
}

/// `analyze FILES --format json` exporting to `url`/`database` through
/// `spool`; returns the output and the JSON records.
fn analyze(
    files: &[&str],
    url: &str,
    database: &str,
    spool: &Path,
    extra: &[&str],
) -> (Output, Vec<serde_json::Value>) {
    let out = voxprobe()
        .arg("analyze")
        .args(files)
        .args(["--format", "json", "-q", "--clickhouse-url", url])
        .args(["--clickhouse-database", database])
        .arg("--clickhouse-spool-dir")
        .arg(spool)
        .args([
            "--carrier",
            "acme=10.0.0.0/8",
            "--carrier",
            "globex=192.0.2.0/24",
        ])
        .args(extra)
        .output()
        .expect("run voxprobe");
    let records = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    (out, records)
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn of_type<'a>(records: &'a [serde_json::Value], t: &str) -> Vec<&'a serde_json::Value> {
    records.iter().filter(|r| r["type"] == t).collect()
}

/// Streams of the run: those of the calls and those of no call.
fn all_streams(records: &[serde_json::Value]) -> Vec<&serde_json::Value> {
    let mut out: Vec<&serde_json::Value> = of_type(records, "stream");
    for c in of_type(records, "call") {
        out.extend(c["streams"].as_array().into_iter().flatten());
    }
    out
}

#[test]
fn every_table_holds_what_the_analysis_reported() {
    if !available("ClickHouse export") {
        return;
    }
    let dir = temp_dir("ch-tables");
    let front = Front::start(&dir.join("data"));
    let alerts = dir.join("alerts.jsonl");
    let files = [captures("calls.pcap"), captures("volte.pcap")];
    let files: Vec<&str> = files.iter().map(String::as_str).collect();
    let (out, records) = analyze(
        &files,
        &front.url(),
        "vp",
        &dir.join("spool"),
        &["--alerts-file", alerts.to_str().unwrap()],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let calls = of_type(&records, "call");
    let streams = all_streams(&records);
    assert!(calls.len() >= 20, "{} calls", calls.len());
    let n = |sql: &str| front.number(sql) as usize;

    // calls: one row per call record, the same outcome and figures.
    assert_eq!(n("SELECT count() FROM vp.calls"), calls.len());
    for outcome in ["answered", "busy", "cancelled", "failed", "no_answer"] {
        let want = calls.iter().filter(|c| c["outcome"] == outcome).count();
        assert_eq!(
            n(&format!(
                "SELECT count() FROM vp.calls WHERE outcome = '{outcome}'"
            )),
            want,
            "{outcome}"
        );
    }
    for c in &calls {
        let id = c["call_id"].as_str().unwrap();
        let row = front.query(&format!(
            "SELECT final_code, round(ifNull(setup_ms, -1), 3), round(ifNull(mos, -1), 2), carrier, \
             messages, length(codecs) FROM vp.calls WHERE call_id = '{id}' FORMAT TSV"
        ));
        let f: Vec<&str> = row.trim().split('\t').collect();
        assert_eq!(
            f[0],
            c["final_code"].as_u64().unwrap_or(0).to_string(),
            "{id}"
        );
        let setup = c["setup_ms"].as_f64().unwrap_or(-1.0);
        assert!(
            (f[1].parse::<f64>().unwrap() - setup).abs() < 0.01,
            "{id} setup {row}"
        );
        let worst = [&c["mos_caller_to_callee"], &c["mos_callee_to_caller"]]
            .iter()
            .filter_map(|m| m.as_f64())
            .reduce(f64::min)
            .unwrap_or(-1.0);
        assert!(
            (f[2].parse::<f64>().unwrap() - worst).abs() < 0.006,
            "{id} mos {row}"
        );
        let caller = c["caller_ip"].as_str().unwrap();
        let callee = c["callee_ip"].as_str().unwrap();
        let carrier = if caller.starts_with("10.") || callee.starts_with("10.") {
            "acme"
        } else if caller.starts_with("192.0.2.") || callee.starts_with("192.0.2.") {
            "globex"
        } else {
            "unknown"
        };
        assert_eq!(f[3], carrier, "{id}: {caller} → {callee}");
        assert_eq!(f[5], c["codecs"].as_array().unwrap().len().to_string());
        // signaling: every SIP message of the call, in its ladder.
        let sip = n(&format!(
            "SELECT count() FROM vp.signaling WHERE protocol = 'sip' AND call_id = '{id}'"
        ));
        assert_eq!(sip.to_string(), f[4], "{id}: SIP rows vs messages");
    }

    // media_streams and quality_intervals: every stream, every sample.
    assert_eq!(n("SELECT count() FROM vp.media_streams"), streams.len());
    let samples: usize = streams
        .iter()
        .map(|s| s["intervals"].as_array().map_or(0, Vec::len))
        .sum();
    assert!(samples > 0);
    assert_eq!(n("SELECT count() FROM vp.quality_intervals"), samples);
    let packets: u64 = streams.iter().map(|s| s["packets"].as_u64().unwrap()).sum();
    assert_eq!(
        n("SELECT sum(packets) FROM vp.media_streams") as u64,
        packets
    );
    assert_eq!(
        n("SELECT sum(packets) FROM vp.quality_intervals") as u64,
        packets
    );

    // signaling: every SIP message, and the DIAMETER and GTPv2-C messages
    // of the VoLTE capture.
    let summary = of_type(&records, "summary");
    let sip: u64 = summary
        .iter()
        .map(|s| s["protocols"]["sip"].as_u64().unwrap_or(0))
        .sum();
    assert_eq!(
        n("SELECT count() FROM vp.signaling WHERE protocol = 'sip'") as u64,
        sip
    );
    let diameter: u64 = summary
        .iter()
        .map(|s| s["protocols"]["diameter"].as_u64().unwrap_or(0))
        .sum();
    assert!(diameter > 0);
    assert_eq!(
        n("SELECT count() FROM vp.signaling WHERE protocol = 'diameter'") as u64,
        diameter
    );
    assert!(n("SELECT count() FROM vp.signaling WHERE protocol = 'gtpv2' AND imsi != ''") > 0);
    assert!(
        n("SELECT count() FROM vp.signaling WHERE protocol = 'diameter' AND session_id != ''") > 0
    );
    // VoLTE legs joined in the call rows.
    let volte = calls
        .iter()
        .filter(|c| c.get("rx_leg").is_some_and(|l| !l.is_null()))
        .count();
    assert!(volte > 0);
    assert_eq!(
        n("SELECT count() FROM vp.calls WHERE rx_session_id != ''"),
        volte
    );

    // quality_alerts: the same alerts as the alerts file.
    let alert_lines = std::fs::read_to_string(&alerts).unwrap_or_default();
    assert_eq!(
        n("SELECT count() FROM vp.quality_alerts"),
        alert_lines.lines().count()
    );
    assert!(
        alert_lines.lines().count() > 0,
        "the generated calls include impaired ones"
    );

    // Rollups: the same figures as the calls they roll up.
    for (rollup, dimension) in [
        ("calls_hourly_by_carrier", "carrier"),
        ("calls_hourly_by_agent", "agent"),
        ("calls_hourly_by_codec", "codec"),
    ] {
        let from_rollup = front.query(&format!(
            "SELECT {dimension}, countMerge(calls), countIfMerge(answered), round(avgMerge(mos_avg), 4), \
             countIfMerge(mos_poor) FROM vp.{rollup} GROUP BY {dimension} ORDER BY {dimension} FORMAT TSV"
        ));
        let from_calls = front.query(&format!(
            "SELECT {dimension}, count(), countIf(outcome = 'answered'), round(avg(mos), 4), \
             countIf(mos < 3.0) FROM vp.calls GROUP BY {dimension} ORDER BY {dimension} FORMAT TSV"
        ));
        assert_eq!(from_rollup, from_calls, "{rollup}");
    }
    assert_eq!(
        front
            .query("SELECT version FROM vp.schema_migrations FORMAT TSV")
            .trim(),
        "1"
    );
    let err = stderr(&out);
    assert!(
        err.contains("rows inserted, 0 waiting in the spool, 0 dropped, 0 lost"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_second_run_migrates_nothing_and_replaces_its_calls() {
    if !available("ClickHouse export") {
        return;
    }
    let dir = temp_dir("ch-rerun");
    let front = Front::start(&dir.join("data"));
    let file = captures("sip-call.pcap");
    for _ in 0..2 {
        let (out, _) = analyze(&[&file], &front.url(), "vp", &dir.join("spool"), &[]);
        assert!(out.status.success(), "{}", stderr(&out));
    }
    assert_eq!(
        front.number("SELECT count() FROM vp.schema_migrations"),
        1.0
    );
    // Two analyses wrote each call twice; the call's UUID is the same, so
    // the table holds it once (FINAL: the latest version of each).
    let raw = front.number("SELECT count() FROM vp.calls");
    let finals = front.number("SELECT count() FROM vp.calls FINAL");
    assert_eq!(
        raw,
        2.0 * finals,
        "both runs' rows are there before merging"
    );
    assert_eq!(
        finals,
        front.number("SELECT uniqExact(call_uuid) FROM vp.calls")
    );
    front.query("OPTIMIZE TABLE vp.calls FINAL");
    assert_eq!(front.number("SELECT count() FROM vp.calls"), finals);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_printed_schema_runs_on_the_engine() {
    if !available("ClickHouse export") {
        return;
    }
    let dir = temp_dir("ch-schema");
    let front = Front::start(&dir.join("data"));
    let out = voxprobe()
        .args([
            "schema",
            "--clickhouse-database",
            "printed",
            "--clickhouse-ttl-days",
            "30",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    let ddl = String::from_utf8(out.stdout).unwrap();
    let statements: Vec<&str> = ddl
        .split(";\n")
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    assert!(statements.len() >= 10, "{ddl}");
    for s in &statements {
        front.query(s);
    }
    let tables = front.query(
        "SELECT name FROM system.tables WHERE database = 'printed' ORDER BY name FORMAT TSV",
    );
    for t in [
        "calls",
        "calls_hourly_by_agent",
        "calls_hourly_by_carrier_mv",
        "media_streams",
        "quality_alerts",
        "quality_intervals",
        "schema_migrations",
        "signaling",
    ] {
        assert!(tables.lines().any(|l| l == t), "{t} missing: {tables}");
    }
    let create = front.query("SHOW CREATE TABLE printed.quality_intervals FORMAT TSVRaw");
    assert!(create.contains("toIntervalDay(30)"), "{create}");
    assert!(
        create.contains("PARTITION BY toDate(interval_start)"),
        "{create}"
    );
    // The cluster form names a cluster this single engine does not have:
    // the engine itself refuses it (so the DDL reached it as written).
    let out = voxprobe()
        .args(["schema", "--clickhouse-cluster", "voice"])
        .output()
        .unwrap();
    let ddl = String::from_utf8(out.stdout).unwrap();
    let first = ddl.split(";\n").next().unwrap();
    let (status, body) = front.post(first);
    assert_ne!(status, 200);
    assert!(
        body.contains("CLUSTER_DOESNT_EXIST") || body.contains("cluster"),
        "{body}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Batch files in a spool directory, oldest first.
fn spool_files(spool: &Path) -> Vec<std::path::PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(spool)
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    files.retain(|p| p.extension().is_some_and(|e| e == "batch"));
    files.sort();
    files
}

#[test]
fn spooled_batches_replay_once_even_when_retried() {
    if !available("ClickHouse export") {
        return;
    }
    let dir = temp_dir("ch-spool");
    let spool = dir.join("spool");
    let file = captures("calls.pcap");
    // ClickHouse down: a port nothing listens on. Everything is spooled.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let (out, records) = analyze(
        &[&file],
        &dead,
        "vp",
        &spool,
        &["--clickhouse-drain-seconds", "1"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("0 rows inserted"), "{err}");
    assert!(err.contains("last error"), "{err}");
    let batches = spool_files(&spool);
    assert!(batches.len() >= 3, "{batches:?}");
    // A retry of the first batch (same token, same rows) as if its first
    // attempt had committed but the answer was lost: it must not count twice.
    let copy = spool.join("00000000000000099999.batch");
    std::fs::copy(&batches[0], &copy).unwrap();
    // ClickHouse back: a run over nothing new replays the spool first.
    let front = Front::start(&dir.join("data"));
    let empty = dir.join("empty.pcap");
    std::fs::write(&empty, pcap_header()).unwrap();
    let (out, _) = analyze(&[empty.to_str().unwrap()], &front.url(), "vp", &spool, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(spool_files(&spool).is_empty(), "the spool was replayed");
    let calls = of_type(&records, "call").len();
    assert_eq!(front.number("SELECT count() FROM vp.calls") as usize, calls);
    assert_eq!(
        front.number("SELECT countMerge(calls) FROM vp.calls_hourly_by_carrier") as usize,
        calls,
        "the rollup counted the retried batch once"
    );
    assert_eq!(
        front.number("SELECT count() FROM vp.media_streams") as usize,
        all_streams(&records).len()
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_full_spool_drops_the_oldest_and_says_so() {
    if !available("ClickHouse export") {
        return;
    }
    let dir = temp_dir("ch-full");
    let spool = dir.join("spool");
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let limit = 30_000u64;
    let (out, _) = analyze(
        &[&captures("calls.pcap")],
        &dead,
        "vp",
        &spool,
        &[
            "--clickhouse-spool-max-bytes",
            &limit.to_string(),
            "--clickhouse-batch-rows",
            "20",
            "--clickhouse-drain-seconds",
            "0",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    let dropped: u64 = err
        .split(" waiting in the spool, ")
        .nth(1)
        .and_then(|r| r.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{err}"));
    assert!(dropped > 0, "{err}");
    let bytes: u64 = spool_files(&spool)
        .iter()
        .map(|p| std::fs::metadata(p).unwrap().len())
        .sum();
    assert!(
        bytes <= limit,
        "{bytes} bytes on disk over the {limit} limit"
    );
    assert!(
        !spool_files(&spool).is_empty(),
        "the newest batches are kept"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn an_outage_mid_capture_loses_nothing_and_doubles_nothing() {
    if !available("ClickHouse export") {
        return;
    }
    let dir = temp_dir("ch-outage");
    let mut front = Front::start(&dir.join("data"));
    let file = captures("calls.pcap");
    // The reference: the same packets analysed offline, in their own database.
    // Short linger and stream timeout, so calls close (and are exported)
    // while the capture runs, not all at its end.
    let timing = ["--call-linger", "2", "--stream-timeout", "2"];
    let (out, _) = analyze(
        &[&file],
        &front.url(),
        "reference",
        &dir.join("spool-ref"),
        &timing,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    // Live: the capture replayed at 4× its pace (about 12 s), rows sent
    // every 0.2 s; the engine is killed 3 s in and comes back 4 s later.
    let probe = voxprobe()
        .args([
            "capture", "--replay", &file, "--speed", "4", "--format", "json",
        ])
        .args(timing)
        .args([
            "--clickhouse-url",
            &front.url(),
            "--clickhouse-database",
            "live",
        ])
        .args([
            "--clickhouse-batch-seconds",
            "0.2",
            "--clickhouse-drain-seconds",
            "30",
        ])
        .arg("--clickhouse-spool-dir")
        .arg(dir.join("spool-live"))
        .args([
            "--carrier",
            "acme=10.0.0.0/8",
            "--carrier",
            "globex=192.0.2.0/24",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_secs(3));
    front.kill();
    std::thread::sleep(std::time::Duration::from_secs(4));
    front.restart();
    let out = probe.wait_with_output().unwrap();
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("0 waiting in the spool, 0 dropped, 0 lost"),
        "{err}"
    );
    let through_spool: u64 = err
        .split(" lost (")
        .nth(1)
        .and_then(|r| r.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{err}"));
    assert!(
        through_spool > 0,
        "the outage happened while rows were coming: {err}"
    );
    // The final samples, one per stream and interval (a running stream's
    // provisional samples are replaced by its final ones).
    let samples = "SELECT count() FROM {db}.quality_intervals FINAL";
    assert_eq!(
        front.number(&samples.replace("{db}", "live")),
        front.number(&samples.replace("{db}", "reference"))
    );
    for table in ["calls", "media_streams", "signaling", "quality_alerts"] {
        // Without FINAL: a row inserted twice would show here.
        let live = front.number(&format!("SELECT count() FROM live.{table}"));
        let reference = front.number(&format!("SELECT count() FROM reference.{table}"));
        assert_eq!(
            live, reference,
            "{table}: live {live} vs offline {reference}\n{err}"
        );
    }
    let rollup = |db: &str| {
        front.query(&format!(
            "SELECT carrier, countMerge(calls), countIfMerge(answered) FROM {db}.calls_hourly_by_carrier GROUP BY carrier ORDER BY carrier FORMAT TSV"
        ))
    };
    assert_eq!(rollup("live"), rollup("reference"));
    let _ = std::fs::remove_dir_all(&dir);
}

/// A pcap file header with no records (Ethernet).
fn pcap_header() -> Vec<u8> {
    let mut h = Vec::new();
    h.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    h.extend_from_slice(&2u16.to_le_bytes());
    h.extend_from_slice(&4u16.to_le_bytes());
    h.extend_from_slice(&[0; 8]);
    h.extend_from_slice(&65535u32.to_le_bytes());
    h.extend_from_slice(&1u32.to_le_bytes());
    h
}

#[test]
fn the_report_ranks_with_the_rollups_figures() {
    if !available("ClickHouse export") {
        return;
    }
    let dir = temp_dir("ch-report");
    let front = Front::start(&dir.join("data"));
    let files = [captures("calls.pcap"), captures("volte.pcap")];
    let files: Vec<&str> = files.iter().map(String::as_str).collect();
    let (out, _) = analyze(&files, &front.url(), "vp", &dir.join("spool"), &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    for (by, rollup) in [
        ("carrier", "calls_hourly_by_carrier"),
        ("agent", "calls_hourly_by_agent"),
        ("codec", "calls_hourly_by_codec"),
    ] {
        let out = voxprobe()
            .args(["report", "--by", by, "--format", "json", "-q"])
            .args(&files)
            .args([
                "--carrier",
                "acme=10.0.0.0/8",
                "--carrier",
                "globex=192.0.2.0/24",
            ])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        let rows: Vec<serde_json::Value> = crate::support::json_lines(&out.stdout);
        let groups = front.number(&format!("SELECT uniqExact({by}) FROM vp.{rollup}"));
        assert_eq!(rows.len(), groups as usize, "{by}");
        for row in &rows {
            let key = row["key"].as_str().unwrap();
            let sql = format!(
                "SELECT countMerge(calls), countIfMerge(answered), countMerge(rated), avgMerge(mos_avg), \
                 minMerge(mos_min), quantileMerge(0.5)(mos_median), countIfMerge(mos_good), countIfMerge(mos_poor), \
                 avgMerge(lost_percent_avg), avgMerge(jitter_ms_avg), quantilesMerge(0.5, 0.9, 0.99)(setup_ms_quantiles) \
                 FROM vp.{rollup} WHERE {by} = '{key}' FORMAT JSONCompactEachRow"
            );
            let v: Vec<serde_json::Value> = serde_json::from_str(front.query(&sql).trim()).unwrap();
            let num = |v: &serde_json::Value| {
                v.as_f64()
                    .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
            };
            let close =
                |what: &str, ours: &serde_json::Value, theirs: Option<f64>, tolerance: f64| match (
                    num(ours),
                    theirs.filter(|t| t.is_finite()),
                ) {
                    (Some(a), Some(b)) => assert!(
                        (a - b).abs() <= tolerance,
                        "{by}={key} {what}: report {a} rollup {b}"
                    ),
                    (None, None) => {}
                    (a, b) => panic!("{by}={key} {what}: report {a:?} rollup {b:?}"),
                };
            assert_eq!(
                row["calls"].as_u64(),
                num(&v[0]).map(|n| n as u64),
                "{by}={key}"
            );
            assert_eq!(
                row["answered"].as_u64(),
                num(&v[1]).map(|n| n as u64),
                "{by}={key}"
            );
            assert_eq!(
                row["rated"].as_u64(),
                num(&v[2]).map(|n| n as u64),
                "{by}={key}"
            );
            let rated = num(&v[2]).unwrap_or(0.0);
            let share = |i: usize| (rated > 0.0).then(|| num(&v[i]).unwrap_or(0.0) / rated);
            close("mos_mean", &row["mos_mean"], num(&v[3]), 1e-4);
            close("mos_min", &row["mos_min"], num(&v[4]), 1e-4);
            close("mos_median", &row["mos_median"], num(&v[5]), 1e-4);
            close("mos_good_share", &row["mos_good_share"], share(6), 1e-9);
            close("mos_poor_share", &row["mos_poor_share"], share(7), 1e-9);
            close(
                "lost_percent_mean",
                &row["lost_percent_mean"],
                num(&v[8]),
                1e-4,
            );
            close("jitter_ms_mean", &row["jitter_ms_mean"], num(&v[9]), 1e-4);
            let q = v[10].as_array().unwrap();
            for (i, field) in ["setup_ms_p50", "setup_ms_p90", "setup_ms_p99"]
                .iter()
                .enumerate()
            {
                close(field, &row[*field], num(&q[i]), 1e-3);
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_newer_schema_is_refused_and_rows_wait_in_the_spool() {
    if !available("ClickHouse export") {
        return;
    }
    let dir = temp_dir("ch-newer");
    let front = Front::start(&dir.join("data"));
    let file = captures("sip-call.pcap");
    let (out, _) = analyze(&[&file], &front.url(), "vp", &dir.join("spool"), &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    // A later probe version migrated this database further.
    front.query(
        "INSERT INTO vp.schema_migrations (version, description) VALUES (99, 'from the future')",
    );
    let before = front.number("SELECT count() FROM vp.calls");
    let (out, _) = analyze(
        &[&file],
        &front.url(),
        "vp",
        &dir.join("spool"),
        &["--clickhouse-drain-seconds", "1"],
    );
    let err = stderr(&out);
    assert!(err.contains("0 rows inserted"), "{err}");
    assert!(
        err.contains("schema version 99, newer than this probe's 1; upgrade the probe"),
        "{err}"
    );
    assert_eq!(front.number("SELECT count() FROM vp.calls"), before);
    assert!(
        !spool_files(&dir.join("spool")).is_empty(),
        "the rows wait for an upgraded probe"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn sip_messages_of_no_call_are_signaling_rows_too() {
    if !available("ClickHouse export") {
        return;
    }
    let Some(shared) = crate::support::shared_captures("SIP messages of no call") else {
        return;
    };
    let dir = temp_dir("ch-register");
    let front = Front::start(&dir.join("data"));
    let file = shared.join("sip-rtp/sip-register-invite-failures-aaa.pcap");
    let (out, records) = analyze(
        &[file.to_str().unwrap()],
        &front.url(),
        "vp",
        &dir.join("spool"),
        &[],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let summary = of_type(&records, "summary");
    let sip = summary[0]["protocols"]["sip"].as_f64().unwrap();
    assert_eq!(
        front.number("SELECT count() FROM vp.signaling WHERE protocol = 'sip'"),
        sip
    );
    // REGISTERs belong to no call: their Call-ID is there, their call UUID is nil.
    let registers = front.number(
        "SELECT count() FROM vp.signaling WHERE label LIKE 'REGISTER%' AND call_id != '' \
         AND call_uuid = toUUID('00000000-0000-0000-0000-000000000000')",
    );
    assert!(registers > 0.0);
    assert_eq!(
        registers,
        front.number("SELECT count() FROM vp.signaling WHERE label LIKE 'REGISTER%'")
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn samples_of_running_streams_arrive_before_the_call_ends_and_are_replaced() {
    if !available("ClickHouse export") {
        return;
    }
    let dir = temp_dir("ch-samples");
    let front = Front::start(&dir.join("data"));
    // One 12 s call replayed at 2×: its streams complete 5-second samples
    // while they run.
    let out = voxprobe()
        .args([
            "capture",
            "--replay",
            &captures("sip-call.pcap"),
            "--speed",
            "2",
        ])
        .args([
            "--format",
            "json",
            "--call-linger",
            "2",
            "--stream-timeout",
            "2",
        ])
        .args([
            "--clickhouse-url",
            &front.url(),
            "--clickhouse-batch-seconds",
            "0.2",
        ])
        .arg("--clickhouse-spool-dir")
        .arg(dir.join("spool"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let records: Vec<serde_json::Value> = crate::support::json_lines(&out.stdout);
    let call_at = records
        .iter()
        .position(|r| r["type"] == "call")
        .expect("the call");
    let call = &records[call_at];
    let live: Vec<(usize, &serde_json::Value)> = records
        .iter()
        .enumerate()
        .filter(|(_, r)| r["type"] == "interval")
        .collect();
    assert!(live.len() >= 2, "{live:?}");
    for (at, sample) in &live {
        assert!(*at < call_at, "a sample came after its call: {sample}");
        assert_eq!(sample["call_id"], call["call_id"]);
        let stream = call["streams"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["ssrc"] == sample["ssrc"])
            .expect("the sample's stream is in the call");
        let last = stream["intervals"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["start"] == sample["start"])
            .expect("the sample is among the stream's final samples");
        // The same counts; only the rating may move as the stream goes on.
        for field in [
            "packets",
            "expected",
            "lost",
            "late",
            "mean_jitter_ms",
            "max_jitter_ms",
        ] {
            assert_eq!(sample[field], last[field], "{field}: {sample} vs {last}");
        }
        let (a, b) = (
            sample["mos"].as_f64().unwrap(),
            last["mos"].as_f64().unwrap(),
        );
        assert!((a - b).abs() < 0.05, "provisional MOS {a} vs final {b}");
    }
    // In ClickHouse: provisional rows, then the final ones replace them.
    let all: usize = call["streams"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["intervals"].as_array().unwrap().len())
        .sum();
    let raw = front.number("SELECT count() FROM voxprobe.quality_intervals") as usize;
    assert_eq!(
        raw,
        all + live.len(),
        "final rows plus the provisional ones"
    );
    let call_id = call["call_id"].as_str().unwrap();
    let final_rows = front.query(&format!(
        "SELECT count(), countIf(call_id = '{call_id}' AND carrier = 'unknown') FROM voxprobe.quality_intervals FINAL FORMAT TSV"
    ));
    assert_eq!(final_rows.trim(), format!("{all}\t{all}"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn sigterm_mid_call_flushes_the_call_as_ended_by_shutdown() {
    if !available("ClickHouse export") {
        return;
    }
    let dir = temp_dir("ch-sigterm");
    let front = Front::start(&dir.join("data"));
    // A 12 s call replayed at its own pace, stopped 4 s in.
    let probe = voxprobe()
        .args([
            "capture",
            "--replay",
            &captures("sip-call.pcap"),
            "--speed",
            "1",
        ])
        .args(["--format", "json", "--clickhouse-url", &front.url()])
        .arg("--clickhouse-spool-dir")
        .arg(dir.join("spool"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_secs(4));
    let pid = probe.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let out = probe.wait_with_output().unwrap();
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    let records: Vec<serde_json::Value> = crate::support::json_lines(&out.stdout);
    let call = records
        .iter()
        .find(|r| r["type"] == "call")
        .expect("the call, flushed");
    assert_eq!(call["ended_by"], "shutdown", "{call}");
    assert_eq!(call["outcome"], "answered");
    // Answered 2 s in, stopped about 4 s in (less the start-up): about 2 s
    // of the call's 10.
    let duration = call["duration_s"].as_f64().unwrap();
    assert!(
        (1.0..3.5).contains(&duration),
        "cut at the stop: {duration}"
    );
    assert!(
        err.contains("0 waiting in the spool, 0 dropped, 0 lost"),
        "{err}"
    );
    let row = front.query(
        "SELECT ended_by, outcome, streams, round(duration_s, 3) FROM voxprobe.calls FORMAT TSV",
    );
    let streams = call["streams"].as_array().unwrap().len();
    assert_eq!(
        row.trim(),
        format!(
            "shutdown\tanswered\t{streams}\t{}",
            (duration * 1000.0).round() / 1000.0
        )
    );
    assert_eq!(
        front.number("SELECT count() FROM voxprobe.media_streams") as usize,
        streams
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Rows in the spool's batch files, by table (from their header lines).
fn spooled_rows(spool: &Path) -> std::collections::BTreeMap<String, u64> {
    let mut rows = std::collections::BTreeMap::new();
    for file in spool_files(spool) {
        let data = std::fs::read(&file).unwrap();
        let head = data.split(|b| *b == b'\n').next().unwrap();
        let header: serde_json::Value = serde_json::from_slice(head).unwrap();
        *rows
            .entry(header["table"].as_str().unwrap().to_owned())
            .or_insert(0) += header["rows"].as_u64().unwrap();
    }
    rows
}

#[test]
fn kill_9_while_spooling_then_every_spooled_row_arrives_once() {
    if !available("ClickHouse crash safety") {
        return;
    }
    let dir = temp_dir("ch-kill9");
    let spool = dir.join("spool");
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    // ClickHouse unreachable: calls close and are spooled as the replay
    // goes; the probe is killed (no chance to flush) half way.
    let mut probe = voxprobe()
        .args([
            "capture",
            "--replay",
            &captures("calls.pcap"),
            "--speed",
            "8",
        ])
        .args(["--call-linger", "1", "--stream-timeout", "1"])
        .args([
            "--clickhouse-url",
            &dead,
            "--clickhouse-batch-seconds",
            "0.1",
        ])
        .arg("--clickhouse-spool-dir")
        .arg(&spool)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_secs(4));
    probe.kill().unwrap(); // SIGKILL
    probe.wait().unwrap();
    let batches = spool_files(&spool);
    assert!(
        batches.len() >= 3,
        "batches were spooled before the kill: {batches:?}"
    );
    // One batch file damaged on disk (a flipped byte in its rows).
    let damaged = batches.last().unwrap().clone();
    let header: serde_json::Value = serde_json::from_slice(
        std::fs::read(&damaged)
            .unwrap()
            .split(|b| *b == b'\n')
            .next()
            .unwrap(),
    )
    .unwrap();
    let mut bytes = std::fs::read(&damaged).unwrap();
    let last = bytes.len() - 2;
    bytes[last] ^= 0x01;
    std::fs::write(&damaged, bytes).unwrap();
    let lost = (
        header["table"].as_str().unwrap().to_owned(),
        header["rows"].as_u64().unwrap(),
    );
    let mut want = spooled_rows(&spool);
    *want.get_mut(&lost.0).unwrap() -= lost.1;
    // Restart with ClickHouse back: the spool is checked and replayed.
    let front = Front::start(&dir.join("data"));
    let empty = dir.join("empty.pcap");
    std::fs::write(&empty, pcap_header()).unwrap();
    let (out, _) = analyze(
        &[empty.to_str().unwrap()],
        &front.url(),
        "voxprobe",
        &spool,
        &[],
    );
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("checksum") && err.contains("moved aside"),
        "{err}"
    );
    assert!(damaged.with_extension("corrupt").exists());
    assert!(spool_files(&spool).is_empty(), "{err}");
    for (table, rows) in &want {
        // Without FINAL: a row replayed twice would show.
        let got = front.number(&format!("SELECT count() FROM voxprobe.{table}")) as u64;
        assert_eq!(got, *rows, "{table}: {err}");
    }
    assert_eq!(
        front.number("SELECT count() FROM voxprobe.calls"),
        front.number("SELECT uniqExact(call_uuid) FROM voxprobe.calls")
    );
    let _ = std::fs::remove_dir_all(&dir);
}
