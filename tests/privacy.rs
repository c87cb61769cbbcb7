//! Privacy: with `--privacy mask` or `hash`, no identifier of a person seen
//! in the traffic (IMSI, MSISDN, phone numbers, SIP users) appears in any
//! output: JSON records, tables, ladders, alert files, logs, and every
//! ClickHouse table, offline and live.

use crate::support::clickhouse::{available, temp_dir, Front};
use crate::support::project_dir;
use std::process::Command;

fn voxprobe() -> Command {
    Command::new(env!("CARGO_BIN_EXE_voxprobe"))
}

fn captures() -> Vec<String> {
    ["calls.pcap", "volte.pcap"]
        .iter()
        .map(|f| project_dir().join("captures").join(f).display().to_string())
        .collect()
}

/// Every identifier of a person an analysis without privacy reports, and
/// the Call-ID of a VoLTE call.
fn identifiers() -> (Vec<String>, String) {
    let out = voxprobe()
        .args(["analyze", "--format", "json", "-q"])
        .args(captures())
        .output()
        .unwrap();
    assert!(out.status.success());
    let mut ids: Vec<String> = Vec::new();
    let mut volte = String::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let r: serde_json::Value = serde_json::from_str(line).unwrap();
        if r["type"] != "call" {
            continue;
        }
        if r["imsi"].is_string() {
            volte = r["call_id"].as_str().unwrap().to_owned();
        }
        for field in ["from_user", "to_user", "imsi", "msisdn"] {
            if let Some(v) = r[field].as_str() {
                ids.push(v.to_owned());
            }
        }
    }
    ids.sort();
    ids.dedup();
    // Short users ("bob") could match inside unrelated text; the rest is
    // what matters (numbers, IMSIs, names).
    ids.retain(|i| i.len() >= 4);
    (ids, volte)
}

fn assert_none_in(ids: &[String], what: &str, text: &str) {
    for id in ids {
        assert!(!text.contains(id.as_str()), "{id} appears in {what}");
    }
}

fn dump_clickhouse(front: &Front, database: &str) -> String {
    let tables = front.query(&format!(
        "SELECT name FROM system.tables WHERE database = '{database}' AND engine NOT LIKE '%View%' FORMAT TSV"
    ));
    let mut all = String::new();
    for t in tables.lines() {
        all.push_str(&front.query(&format!("SELECT * FROM {database}.`{t}` FORMAT TSV")));
    }
    all
}

#[test]
fn no_identifier_leaves_with_privacy_on() {
    let (ids, volte_call) = identifiers();
    assert!(
        ids.iter()
            .any(|i| i.chars().all(|c| c.is_ascii_digit()) && i.len() >= 14),
        "the captures have IMSIs: {ids:?}"
    );
    assert!(ids.iter().any(|i| i == "alice"), "and SIP users: {ids:?}");
    let dir = temp_dir("privacy");
    let key = dir.join("key");
    std::fs::write(&key, b"a secret of thirty-two bytes....").unwrap();
    let front = available("privacy in ClickHouse").then(|| Front::start(&dir.join("data")));
    for mode in ["mask", "hash"] {
        let alerts = dir.join(format!("alerts-{mode}.jsonl"));
        let database = format!("p_{mode}");
        let mut args: Vec<String> = vec![
            "--privacy".into(),
            mode.into(),
            "--privacy-key-file".into(),
            key.display().to_string(),
            "--alerts-file".into(),
            alerts.display().to_string(),
            "--clickhouse-database".into(),
            database.clone(),
            "--clickhouse-spool-dir".into(),
            dir.join("spool").display().to_string(),
        ];
        if let Some(f) = &front {
            args.extend(["--clickhouse-url".into(), f.url()]);
        }
        // Offline: JSON with ladders, then the tables.
        let json_ladder = ["--format", "json", "--ladder", volte_call.as_str()];
        let table_ladder = ["--format", "table", "--ladder", volte_call.as_str()];
        let all = captures();
        let volte = &all[1..];
        for (format, files) in [
            (&json_ladder[..], volte),
            (&["--format", "table"][..], &all[..]),
            (&table_ladder[..], volte),
        ] {
            let out = voxprobe()
                .args(["analyze", "-q"])
                .args(format)
                .args(files)
                .args(&args)
                .output()
                .unwrap();
            crate::support::stdout_of_success(&out);
            let text = String::from_utf8_lossy(&out.stdout);
            assert!(!text.trim().is_empty(), "{text}");
            assert_none_in(&ids, &format!("analyze {format:?} --privacy {mode}"), &text);
            assert_none_in(&ids, "stderr", &String::from_utf8_lossy(&out.stderr));
        }
        // Live: a replay through the capture path (samples, signals, calls
        // as they close), its JSON lines and its log.
        let out = voxprobe()
            .args(["capture", "--replay", &captures()[1], "--speed", "0"])
            .args(["--format", "json", "--log-format", "json"])
            .args(&args)
            .output()
            .unwrap();
        crate::support::stdout_of_success(&out);
        assert_none_in(
            &ids,
            "capture output",
            &String::from_utf8_lossy(&out.stdout),
        );
        assert_none_in(&ids, "capture log", &String::from_utf8_lossy(&out.stderr));
        assert_none_in(
            &ids,
            "alerts file",
            &std::fs::read_to_string(&alerts).unwrap_or_default(),
        );
        if let Some(f) = &front {
            let dump = dump_clickhouse(f, &database);
            assert!(dump.lines().count() > 100, "the tables were filled");
            assert_none_in(&ids, &format!("ClickHouse ({mode})"), &dump);
            if mode == "hash" {
                // Pseudonyms still join: one per subscriber across tables.
                let joined = f.number(&format!(
                    "SELECT count() FROM {database}.signaling s INNER JOIN {database}.calls c ON s.imsi = c.imsi WHERE c.imsi != ''"
                ));
                assert!(joined > 0.0, "hashed IMSIs join signaling to calls");
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn hash_without_a_key_is_refused() {
    let out = voxprobe()
        .args(["analyze", "--privacy", "hash"])
        .args(captures())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--privacy hash needs --privacy-key-file"),
        "{err}"
    );
}
