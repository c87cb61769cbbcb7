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

/// A probe replaying a call, serving its metrics on a free port with these
/// credentials (written to a file in `dir`) and `extra` options, once the
/// port answers.
fn probe_serving_metrics(
    dir: &std::path::Path,
    credentials: &str,
    extra: &[&str],
) -> (u16, std::process::Child) {
    let auth = dir.join("auth");
    std::fs::write(&auth, format!("{credentials}\n")).unwrap();
    let port = free_port();
    let probe = Command::new(env!("CARGO_BIN_EXE_voxprobe"))
        .args(["capture", "--replay", &sip_call(), "--speed", "1"])
        .args(["--metrics-listen", &format!("127.0.0.1:{port}")])
        .arg("--metrics-auth-file")
        .arg(&auth)
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for(port);
    (port, probe)
}

#[test]
fn the_metrics_endpoint_can_require_credentials() {
    let dir = temp_dir("metrics-auth");
    let (port, mut probe) = probe_serving_metrics(&dir, "prometheus:s3cret-metrics", &[]);
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

/// `program ARGS`, which must succeed; a visible skip (false) when the
/// program is not installed.
fn run_tool(program: &str, args: &[&str]) -> Option<std::process::Output> {
    match Command::new(program).args(args).output() {
        Ok(out) => Some(out),
        Err(e) => {
            crate::support::skip(&format!("{program} is not installed ({e})"));
            None
        }
    }
}

#[test]
fn the_metrics_endpoint_speaks_https_with_credentials_when_given_a_certificate() {
    let dir = temp_dir("metrics-tls");
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let (cert_s, key_s) = (cert.display().to_string(), key.display().to_string());
    // A self-signed certificate for 127.0.0.1, made with OpenSSL.
    let Some(made) = run_tool(
        "openssl",
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=voxprobe-test",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            &key_s,
            "-out",
            &cert_s,
        ],
    ) else {
        return;
    };
    crate::support::stdout_of_success(&made);
    let tls = ["--metrics-tls-cert", &cert_s, "--metrics-tls-key", &key_s];
    let (port, mut probe) = probe_serving_metrics(&dir, "prometheus:tls-s3cret", &tls);
    let url = format!("https://127.0.0.1:{port}/metrics");
    let curl = |extra: &[&str]| {
        let mut args = vec!["-sS", "--max-time", "5", "-o", "-", "-w", "\n%{http_code}"];
        args.extend_from_slice(extra);
        args.push(&url);
        run_tool("curl", &args)
    };
    if let Some(ok) = curl(&["--cacert", &cert_s, "-u", "prometheus:tls-s3cret"]) {
        let body = crate::support::stdout_of_success(&ok);
        assert!(body.ends_with("\n200"), "{body}");
        assert!(body.contains("voxprobe_frames_total"), "{body}");
        // Over TLS, still no metrics without the credentials.
        let denied = curl(&["--cacert", &cert_s]).unwrap();
        let said = String::from_utf8_lossy(&denied.stdout);
        assert!(
            said.ends_with("\n401") && !said.contains("voxprobe_"),
            "{said}"
        );
        // A client that does not trust the certificate refuses it.
        let untrusted = curl(&["-u", "prometheus:tls-s3cret"]).unwrap();
        assert!(!untrusted.status.success());
        assert!(!String::from_utf8_lossy(&untrusted.stdout).contains("voxprobe_"));
    }
    // Plain HTTP gets no metrics: the port speaks TLS only.
    let (status, body) = http(port, "GET", "/metrics", "");
    assert_ne!(status, 200, "{body}");
    assert!(!body.contains("voxprobe_"), "{body}");
    let _ = probe.kill();
    let _ = probe.wait();

    // A key that does not fit is refused at start, naming the files.
    let other = dir.join("other-key.pem");
    let other_s = other.display().to_string();
    let made = run_tool(
        "openssl",
        &[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-out",
            &other_s,
        ],
    )
    .unwrap();
    crate::support::stdout_of_success(&made);
    let refused = Command::new(env!("CARGO_BIN_EXE_voxprobe"))
        .args(["capture", "--replay", &sip_call(), "--speed", "0"])
        .args(["--metrics-listen", &format!("127.0.0.1:{}", free_port())])
        .args(["--metrics-tls-cert", &cert_s, "--metrics-tls-key", &other_s])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success(), "{err}");
    assert!(
        err.contains("cert.pem") && err.contains("other-key.pem"),
        "{err}"
    );
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
