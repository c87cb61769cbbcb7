//! Prometheus: Debian's real `prometheus` server scrapes a probe replaying a
//! generated capture, with the project's alerting and recording rules
//! loaded; the stored series must equal what the probe reported, every rule
//! must evaluate, and the exposition must pass `promtool check metrics`.
//! The rules themselves are unit-tested with `promtool test rules`.

use crate::support::{free_port, http, project_dir, skip, url_encode};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn have(program: &str, what: &str) -> bool {
    let ok = Command::new(program)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        skip(&format!(
            "{what}: `{program}` is not installed (scripts/test-all installs Debian's prometheus package)"
        ));
    }
    ok
}

#[test]
fn the_alert_rules_pass_promtool_and_their_unit_tests() {
    if !have("promtool", "alert rules") {
        return;
    }
    let alerts = project_dir().join("alerts");
    let check = Command::new("promtool")
        .args(["check", "rules"])
        .arg(alerts.join("voxprobe.rules.yml"))
        .output()
        .unwrap();
    let said = crate::support::stdout_of_success(&check);
    assert!(said.contains("SUCCESS"), "{said}");
    let test = Command::new("promtool")
        .args(["test", "rules"])
        .arg(alerts.join("voxprobe.tests.yml"))
        .output()
        .unwrap();
    assert!(
        test.status.success(),
        "{}{}",
        String::from_utf8_lossy(&test.stdout),
        String::from_utf8_lossy(&test.stderr)
    );
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// An instant query's result vector: (labels, value).
fn query(port: u16, expr: &str) -> Vec<(serde_json::Value, f64)> {
    let (status, body) = http(
        port,
        "GET",
        &format!("/api/v1/query?query={}", url_encode(expr)),
        "",
    );
    assert_eq!(status, 200, "{expr}: {body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["status"], "success", "{expr}: {body}");
    v["data"]["result"]
        .as_array()
        .map(|r| {
            r.iter()
                .map(|s| {
                    let value = s["value"][1]
                        .as_str()
                        .and_then(|x| x.parse().ok())
                        .unwrap_or(f64::NAN);
                    (s["metric"].clone(), value)
                })
                .collect()
        })
        .unwrap_or_default()
}

fn scalar(port: u16, expr: &str) -> f64 {
    let r = query(port, expr);
    assert_eq!(r.len(), 1, "{expr}: {r:?}");
    r[0].1
}

#[test]
fn prometheus_scrapes_what_the_probe_reported() {
    if !have("prometheus", "Prometheus scrape") || !have("promtool", "Prometheus scrape") {
        return;
    }
    let dir = crate::support::clickhouse::temp_dir("prometheus");
    let (metrics_port, prometheus_port) = (free_port(), free_port());
    let config = format!(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nrule_files:\n  - {}\nscrape_configs:\n  - job_name: voxprobe\n    static_configs:\n      - targets: ['127.0.0.1:{metrics_port}']\n",
        project_dir().join("alerts/voxprobe.rules.yml").display()
    );
    std::fs::write(dir.join("prometheus.yml"), config).unwrap();
    let _prometheus = Server(
        Command::new("prometheus")
            .arg(format!(
                "--config.file={}",
                dir.join("prometheus.yml").display()
            ))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{prometheus_port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start prometheus"),
    );
    let ready = Instant::now();
    while !std::net::TcpStream::connect(("127.0.0.1", prometheus_port))
        .is_ok_and(|_| http(prometheus_port, "GET", "/-/ready", "").0 == 200)
    {
        assert!(
            ready.elapsed() < Duration::from_secs(30),
            "prometheus did not get ready"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    // The exporter's series come from a real ClickHouse sink, when the
    // engine is installed.
    let front = crate::support::clickhouse::available("Prometheus export series")
        .then(|| crate::support::clickhouse::Front::start(&dir.join("clickhouse")));
    let mut clickhouse_args: Vec<String> = Vec::new();
    if let Some(f) = &front {
        clickhouse_args.extend(["--clickhouse-url".to_owned(), f.url()]);
        clickhouse_args.push("--clickhouse-spool-dir".to_owned());
        clickhouse_args.push(dir.join("spool").display().to_string());
    }
    // The probe replays 48 s of calls at 6× (8 s), serving metrics, and
    // keeps the final ones up 8 s after the end.
    let mut probe = Command::new(env!("CARGO_BIN_EXE_voxprobe"))
        .args(["capture", "--replay"])
        .arg(project_dir().join("captures/calls.pcap"))
        .args([
            "--speed",
            "6",
            "--format",
            "json",
            "--call-linger",
            "2",
            "--stream-timeout",
            "2",
        ])
        .args([
            "--metrics-listen",
            &format!("127.0.0.1:{metrics_port}"),
            "--metrics-linger",
            "8",
        ])
        .args([
            "--carrier",
            "acme=10.0.0.0/8",
            "--carrier",
            "globex=192.0.2.0/24",
        ])
        .args(&clickhouse_args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = probe.stdout.take().unwrap();
    let records = std::thread::spawn(move || {
        BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(&l).ok())
            .collect::<Vec<_>>()
    });
    let stderr = BufReader::new(probe.stderr.take().unwrap());
    let mut log = String::new();
    for line in stderr.lines().map_while(Result::ok) {
        log.push_str(&line);
        log.push('\n');
        if line.contains("the final metrics stay at /metrics") {
            break;
        }
    }
    assert!(log.contains("the final metrics stay"), "{log}");
    // Two scrapes of the final state.
    std::thread::sleep(Duration::from_millis(2500));
    let (status, exposition) = http(metrics_port, "GET", "/metrics", "");
    assert_eq!(status, 200);
    let calls_total = scalar(prometheus_port, "sum(voxprobe_calls_total)");
    let by_outcome = query(prometheus_port, "sum by (outcome) (voxprobe_calls_total)");
    let mos_count = scalar(prometheus_port, "sum(voxprobe_call_mos_count)");
    let mos_sum = scalar(prometheus_port, "sum(voxprobe_call_mos_sum)");
    let rtp = scalar(
        prometheus_port,
        "sum(voxprobe_packets_total{protocol=\"rtp\"})",
    );
    let frames = scalar(prometheus_port, "voxprobe_frames_total");
    let payload_bytes = query(
        prometheus_port,
        "sum by (protocol) (voxprobe_payload_bytes_total)",
    );
    let up = scalar(prometheus_port, "up{job=\"voxprobe\"}");
    let (status, rules) = http(prometheus_port, "GET", "/api/v1/rules", "");
    assert_eq!(status, 200);
    // Every PromQL expression of the dashboards runs; most have data.
    let mut dashboard_results = Vec::new();
    if crate::grafana_dashboards::grafana_tools("Grafana PromQL panels") {
        let instance = format!("127.0.0.1:{metrics_port}");
        let queries = crate::grafana_dashboards::panel_queries(&[
            ("INSTANCES", instance.as_str()),
            ("RATE_INTERVAL", "10s"),
            ("INTERVAL", "2s"),
        ]);
        for q in queries.iter().filter(|q| q["datasource"] == "prometheus") {
            let expr = q["query"].as_str().unwrap();
            let series = query(prometheus_port, expr).len();
            dashboard_results.push((format!("{} / {}", q["dashboard"], q["panel"]), series));
        }
        assert!(dashboard_results.len() >= 30, "{dashboard_results:?}");
    }
    let _ = probe.kill();
    let _ = probe.wait();
    let records = records.join().unwrap();

    let promtool = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin.take().unwrap().write_all(exposition.as_bytes())?;
            c.wait_with_output()
        })
        .unwrap();
    assert!(
        promtool.status.success(),
        "promtool check metrics: {}{}",
        String::from_utf8_lossy(&promtool.stdout),
        String::from_utf8_lossy(&promtool.stderr)
    );

    assert_eq!(up, 1.0);
    let calls: Vec<&serde_json::Value> = records.iter().filter(|r| r["type"] == "call").collect();
    assert!(calls.len() >= 15, "{} calls", calls.len());
    assert_eq!(calls_total, calls.len() as f64);
    for (labels, value) in &by_outcome {
        let outcome = labels["outcome"].as_str().unwrap();
        let want = calls.iter().filter(|c| c["outcome"] == outcome).count();
        assert_eq!(*value, want as f64, "{outcome}");
    }
    let worst: Vec<f64> = calls
        .iter()
        .filter_map(|c| {
            [&c["mos_caller_to_callee"], &c["mos_callee_to_caller"]]
                .iter()
                .filter_map(|m| m.as_f64())
                .reduce(f64::min)
        })
        .collect();
    assert_eq!(mos_count, worst.len() as f64);
    assert!(
        (mos_sum - worst.iter().sum::<f64>()).abs() < 1e-6,
        "{mos_sum} vs {worst:?}"
    );
    let summary = records
        .iter()
        .find(|r| r["type"] == "summary")
        .expect("summary");
    assert_eq!(rtp, summary["protocols"]["rtp"].as_f64().unwrap());
    assert_eq!(frames, summary["packets"]["total"].as_f64().unwrap());
    // Bytes by protocol: every protocol's series equals the summary, and
    // the capture's own sums as tshark reads them (UDP payloads; SDP: the
    // SIP bodies' Content-Length).
    assert_eq!(payload_bytes.len(), 11, "{payload_bytes:?}");
    let bytes_of = |protocol: &str| {
        payload_bytes
            .iter()
            .find(|(labels, _)| labels["protocol"] == protocol)
            .map(|(_, v)| *v)
            .unwrap_or_else(|| panic!("no {protocol} bytes: {payload_bytes:?}"))
    };
    for (labels, value) in &payload_bytes {
        let protocol = labels["protocol"].as_str().unwrap();
        assert_eq!(
            *value,
            summary["protocol_bytes"][protocol].as_f64().unwrap(),
            "{protocol}"
        );
    }
    let capture = project_dir().join("captures/calls.pcap");
    let tshark = |filter: &str, field: &str, less: u64| {
        crate::support::tshark::sum_field(&capture, filter, field, less, "payload bytes")
    };
    if let (Some(rtp_bytes), Some(sip_bytes), Some(sdp_bytes)) = (
        tshark("rtp", "udp.length", 8),
        tshark("sip", "udp.length", 8),
        tshark("sdp", "sip.Content-Length", 0),
    ) {
        assert_eq!(rtp_bytes.0 as f64, rtp);
        assert_eq!(bytes_of("rtp"), rtp_bytes.1 as f64);
        assert_eq!(bytes_of("sip"), sip_bytes.1 as f64);
        assert_eq!(bytes_of("sdp"), sdp_bytes.1 as f64);
        assert!(rtp_bytes.1 > 100_000 && sip_bytes.1 > 10_000);
    }

    // Every rule loaded and evaluated without error.
    let rules: serde_json::Value = serde_json::from_str(&rules).unwrap();
    let groups = rules["data"]["groups"].as_array().unwrap();
    assert!(!groups.is_empty(), "no rule groups loaded: {rules}");
    let mut evaluated = 0;
    for g in groups {
        for r in g["rules"].as_array().unwrap() {
            assert_eq!(r["health"], "ok", "{}: {}", r["name"], r["lastError"]);
            evaluated += 1;
        }
    }
    assert!(evaluated >= 20, "{evaluated} rules");
    // A replay has no interface (no kernel counters) and fires no alert;
    // without the engine there are no export series. Everything else has data.
    let mut no_data_expected = vec!["Kernel drops", "Firing alerts"];
    if front.is_none() {
        no_data_expected.push("Export");
    }
    let without_data: Vec<_> = dashboard_results
        .iter()
        .filter(|(panel, n)| *n == 0 && !no_data_expected.iter().any(|p| panel.contains(p)))
        .collect();
    assert!(
        without_data.is_empty(),
        "dashboard expressions without data: {without_data:?}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
