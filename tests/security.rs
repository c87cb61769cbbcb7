//! Least exposure: the metrics endpoint can require credentials, and the
//! ClickHouse password never shows in logs, errors or metrics.

use crate::support::clickhouse::{available, temp_dir, Front};
use crate::support::{free_port, http, http_with, project_dir};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn sip_call() -> String {
    project_dir()
        .join("captures/sip-call.pcap")
        .display()
        .to_string()
}

/// Waits until `port` accepts connections (the probe's metrics server).
fn wait_for(port: u16) {
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "nothing on port {port}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn the_metrics_endpoint_can_require_credentials() {
    let dir = temp_dir("metrics-auth");
    let auth = dir.join("auth");
    std::fs::write(&auth, "prometheus:s3cret-metrics\n").unwrap();
    let port = free_port();
    let mut probe = Command::new(env!("CARGO_BIN_EXE_voxprobe"))
        .args(["capture", "--replay", &sip_call(), "--speed", "1"])
        .args(["--metrics-listen", &format!("127.0.0.1:{port}")])
        .arg("--metrics-auth-file")
        .arg(&auth)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for(port);
    let (status, body) = http(port, "GET", "/metrics", "");
    assert_eq!(status, 401, "{body}");
    assert!(!body.contains("voxprobe_"), "{body}");
    let wrong = "Authorization: Basic cHJvbWV0aGV1czp3cm9uZw==\r\n";
    assert_eq!(http_with(port, "GET", "/metrics", wrong, "").0, 401);
    // prometheus:s3cret-metrics
    let right = "Authorization: Basic cHJvbWV0aGV1czpzM2NyZXQtbWV0cmljcw==\r\n";
    let (status, body) = http_with(port, "GET", "/metrics", right, "");
    assert_eq!(status, 200);
    assert!(body.contains("voxprobe_frames_total"), "{body}");
    let _ = probe.kill();
    let _ = probe.wait();
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_clickhouse_password_never_shows() {
    if !available("ClickHouse credentials") {
        return;
    }
    let dir = temp_dir("secrets");
    let front = Front::start_with_credentials(&dir.join("data"), "voxprobe", "right-Pa55word-77");
    let wrong = dir.join("wrong");
    let secret = "WRONG-Secret-Pa55word-42";
    std::fs::write(&wrong, format!("{secret}\n")).unwrap();
    let port = free_port();
    // A wrong password: every insert fails, the rows wait, the errors are
    // logged and counted, and the password is nowhere.
    let probe = Command::new(env!("CARGO_BIN_EXE_voxprobe"))
        .args([
            "capture",
            "--replay",
            &sip_call(),
            "--speed",
            "4",
            "--log-format",
            "json",
        ])
        .args([
            "--clickhouse-url",
            &front.url(),
            "--clickhouse-user",
            "voxprobe",
        ])
        .arg("--clickhouse-password-file")
        .arg(&wrong)
        .arg("--clickhouse-spool-dir")
        .arg(dir.join("spool"))
        .args([
            "--clickhouse-drain-seconds",
            "1",
            "--clickhouse-batch-seconds",
            "0.2",
        ])
        .args([
            "--metrics-listen",
            &format!("127.0.0.1:{port}"),
            "--metrics-linger",
            "3",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for(port);
    std::thread::sleep(Duration::from_secs(4));
    let (_, metrics) = http(port, "GET", "/metrics", "");
    let out = probe.wait_with_output().unwrap();
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(
        log.contains("AUTHENTICATION_FAILED") || log.contains("Authentication failed"),
        "{log}"
    );
    assert!(
        metrics.contains("voxprobe_export_failures_total{sink=\"clickhouse\"}"),
        "{metrics}"
    );
    for (what, text) in [("log", log.as_ref()), ("metrics", metrics.as_str())] {
        assert!(!text.contains(secret), "the password shows in the {what}");
    }
    // The right one, from the environment: the spooled rows arrive.
    let out = Command::new(env!("CARGO_BIN_EXE_voxprobe"))
        .args(["analyze", "-q", &sip_call()])
        .args([
            "--clickhouse-url",
            &front.url(),
            "--clickhouse-user",
            "voxprobe",
        ])
        .arg("--clickhouse-spool-dir")
        .arg(dir.join("spool"))
        .env("VOXPROBE_CLICKHOUSE_PASSWORD", "right-Pa55word-77")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(" 0 waiting in the spool"), "{err}");
    assert!(!err.contains("right-Pa55word-77"));
    assert!(front.number("SELECT count() FROM voxprobe.calls") >= 1.0);
    let _ = std::fs::remove_dir_all(&dir);
}
