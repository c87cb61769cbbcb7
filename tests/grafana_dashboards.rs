//! Grafana dashboards: valid against Grafana's own schema (`@grafana/schema`
//! types → JSON Schema → ajv), and every ClickHouse panel query runs on the
//! real engine over rows the probe inserted (the PromQL panels run against a
//! real Prometheus in `prometheus_export`).

use crate::support::clickhouse::{available, temp_dir, Front};
use crate::support::{project_dir, skip};
use std::process::Command;

/// Whether node and the pinned tools are installed; a visible skip if not.
pub fn grafana_tools(what: &str) -> bool {
    let node = Command::new("node")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    let installed = project_dir()
        .join("tests/support/grafana/node_modules/ajv")
        .is_dir();
    if !(node && installed) {
        skip(&format!(
            "{what}: node or the Grafana tools are missing; scripts/install-grafana-tools installs them"
        ));
    }
    node && installed
}

/// The dashboards' queries, expanded for `env` (see `queries.mjs`).
pub fn panel_queries(env: &[(&str, &str)]) -> Vec<serde_json::Value> {
    let out = Command::new("node")
        .arg(project_dir().join("tests/support/grafana/queries.mjs"))
        .envs(env.iter().copied())
        .output()
        .expect("run queries.mjs");
    crate::support::stdout_of_success(&out);
    crate::support::json_lines(&out.stdout)
}

#[test]
fn dashboards_are_valid_against_grafanas_schema() {
    if !grafana_tools("Grafana dashboards") {
        return;
    }
    let out = Command::new("node")
        .arg(project_dir().join("tests/support/grafana/validate.mjs"))
        .output()
        .unwrap();
    let said = crate::support::stdout_of_success(&out);
    assert!(said.contains("4 dashboard(s)"), "{said}");
    // And a broken one is caught (the validator is not a rubber stamp).
    let dir = temp_dir("grafana-broken");
    let live = std::fs::read_to_string(project_dir().join("grafana/dashboards/voxprobe-live.json"))
        .unwrap();
    let mut v: serde_json::Value = serde_json::from_str(&live).unwrap();
    v["panels"][0]["gridPos"]["x"] = "left".into();
    v["uid"] = "voxprobe-broken".into();
    let broken = dir.join("broken.json");
    std::fs::write(&broken, v.to_string()).unwrap();
    let out = Command::new("node")
        .arg(project_dir().join("tests/support/grafana/validate.mjs"))
        .arg(&broken)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(said.contains("broken.json: /panels/0/gridPos"), "{said}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn every_clickhouse_panel_query_runs_on_the_engine() {
    if !available("Grafana ClickHouse panels") || !grafana_tools("Grafana ClickHouse panels") {
        return;
    }
    let dir = temp_dir("grafana-ch");
    let front = Front::start(&dir.join("data"));
    let out = Command::new(env!("CARGO_BIN_EXE_voxprobe"))
        .args(["analyze", "-q", "--format", "json"])
        .arg(project_dir().join("captures/calls.pcap"))
        .arg(project_dir().join("captures/volte.pcap"))
        .args(["--clickhouse-url", &front.url(), "--clickhouse-spool-dir"])
        .arg(dir.join("spool"))
        .args([
            "--carrier",
            "acme=10.0.0.0/8",
            "--carrier",
            "globex=192.0.2.0/24",
        ])
        .output()
        .unwrap();
    crate::support::stdout_of_success(&out);
    let calls: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|r| r["type"] == "call")
        .collect();
    let sip_call = calls
        .iter()
        .find(|c| c.get("rx_leg").is_none_or(|l| l.is_null()))
        .unwrap();
    let volte_call = calls
        .iter()
        .find(|c| c.get("rx_leg").is_some_and(|l| !l.is_null()))
        .unwrap();
    for call in [sip_call, volte_call] {
        let call_id = call["call_id"].as_str().unwrap();
        let queries = panel_queries(&[("CALL_ID", call_id)]);
        let clickhouse: Vec<_> = queries
            .iter()
            .filter(|q| q["datasource"] == "clickhouse")
            .collect();
        assert!(
            clickhouse.len() >= 30,
            "{} ClickHouse queries",
            clickhouse.len()
        );
        let mut empty = Vec::new();
        for q in &clickhouse {
            let sql = q["query"].as_str().unwrap();
            let (status, body) = front.post(&format!("{sql}\nFORMAT TSV"));
            assert_eq!(
                status, 200,
                "{} / {}: {body}\n{sql}",
                q["dashboard"], q["panel"]
            );
            if body.trim().is_empty() {
                empty.push(format!("{} / {}", q["dashboard"], q["panel"]));
            }
        }
        // The data has calls of every kind: only a few panels (e.g. the
        // VoLTE legs of a SIP call, alerts of a clean call) may be empty.
        assert!(
            empty.len() * 4 <= clickhouse.len(),
            "{call_id}: empty panels: {empty:?}"
        );
        // The call detail panels find the call: one record, with its From.
        let detail = clickhouse
            .iter()
            .find(|q| {
                q["panel"]
                    .as_str()
                    .is_some_and(|p| p.to_lowercase().contains("call record"))
            })
            .expect("a call record panel");
        let (_, body) = front.post(&format!(
            "{}\nFORMAT TSV",
            detail["query"].as_str().unwrap()
        ));
        assert_eq!(body.lines().count(), 1, "call record of {call_id}: {body}");
        let from_user = call["from_user"].as_str().unwrap();
        assert!(body.contains(from_user), "call record of {call_id}: {body}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
