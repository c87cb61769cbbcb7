//! Live capture on a veth pair inside a network namespace made by the test
//! (nothing outside it is ever a target): `tcpreplay` plays a committed
//! capture onto one end, `voxprobe capture` listens on the other and is
//! stopped by SIGTERM; its calls and streams equal the offline analysis of
//! the same file (times differ: the replay runs at top speed, so jitter is
//! not compared). The probe is started as root with `--user nobody`: it
//! opens the ring, then captures as nobody.

use crate::support::{project_dir, skip};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use voxprobe::analyze::{analyze_file, AnalyzeConfig};

/// A network namespace with a veth pair `vx0` ↔ `vx1`, removed on drop.
struct Namespace(String);

impl Namespace {
    fn create() -> Option<Namespace> {
        let name = format!("vxp-test-{}", std::process::id());
        let ip = |args: &[&str]| {
            Command::new("ip")
                .args(args)
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        };
        let _ = ip(&["netns", "del", &name]);
        if !ip(&["netns", "add", &name]) {
            return None;
        }
        let ns = Namespace(name);
        let ok = ip(&[
            "-n", &ns.0, "link", "add", "vx0", "type", "veth", "peer", "name", "vx1",
        ]) && ip(&["-n", &ns.0, "link", "set", "vx0", "up"])
            && ip(&["-n", &ns.0, "link", "set", "vx1", "up"]);
        ok.then_some(ns)
    }

    fn exec(&self, program: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.0, program]);
        c
    }
}

impl Drop for Namespace {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

fn have(program: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

#[test]
fn live_capture_on_a_veth_equals_the_offline_analysis() {
    if !have("tcpreplay") || !have("ip") {
        skip("live capture: tcpreplay or ip (iproute2) missing; scripts/test-all installs them");
        return;
    }
    let Some(ns) = Namespace::create() else {
        skip("live capture: cannot create a network namespace (needs root)");
        return;
    };
    let capture = project_dir().join("captures/calls.pcap");
    let mut probe = ns
        .exec(env!("CARGO_BIN_EXE_voxprobe"))
        .args([
            "capture",
            "-i",
            "vx1",
            "--format",
            "json",
            "--duration",
            "60",
            "--user",
            "nobody",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("voxprobe starts");
    // Its output is read while it runs: a full pipe would stall it.
    let mut stdout = probe.stdout.take().expect("stdout");
    let reader = std::thread::spawn(move || {
        let mut out = String::new();
        std::io::Read::read_to_string(&mut stdout, &mut out).map(|_| out)
    });
    // Wait for its ring to be open before sending anything.
    let mut stderr = BufReader::new(probe.stderr.take().expect("stderr"));
    let mut said = String::new();
    while !said.contains("capturing on vx1") {
        let mut line = String::new();
        if stderr.read_line(&mut line).expect("stderr") == 0 {
            panic!("voxprobe ended before capturing: {said}");
        }
        said.push_str(&line);
    }
    // It opened the ring as root and now runs as nobody.
    assert!(said.contains("running as nobody"), "{said}");
    let status = std::fs::read_to_string(format!("/proc/{}/status", probe.id())).unwrap();
    let uid_line = status.lines().find(|l| l.starts_with("Uid:")).unwrap();
    let nobody = nix::unistd::User::from_name("nobody")
        .unwrap()
        .expect("user nobody")
        .uid
        .to_string();
    assert!(
        uid_line.split_whitespace().skip(1).all(|u| u == nobody),
        "real, effective, saved and fs uid are nobody's ({nobody}): {uid_line}"
    );

    let replay = ns
        .exec("tcpreplay")
        .args(["-q", "-i", "vx0", "--topspeed"])
        .arg(&capture)
        .output()
        .expect("tcpreplay runs");
    assert!(
        replay.status.success(),
        "{}",
        String::from_utf8_lossy(&replay.stderr)
    );

    // The capture ends by SIGTERM and still prints everything it saw.
    std::thread::sleep(Duration::from_millis(300));
    let pid = probe.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let started = Instant::now();
    let status = loop {
        if let Some(s) = probe.try_wait().unwrap() {
            break s;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "voxprobe did not stop on SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut rest = String::new();
    for l in stderr.lines() {
        rest.push_str(&l.unwrap_or_default());
        rest.push('\n');
    }
    assert_eq!(status.code(), Some(0), "{rest}");
    assert!(rest.contains("0 dropped"), "{rest}");
    let out = reader.join().expect("reader").expect("stdout is UTF-8");
    let live: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .filter(|v: &serde_json::Value| v["type"] == "call")
        .collect();

    let offline = analyze_file(&capture, &AnalyzeConfig::default(), &mut |_| {}).unwrap();
    assert!(offline.calls.len() >= 10, "the capture has calls");
    assert_eq!(live.len(), offline.calls.len(), "{rest}");
    for want in &offline.calls {
        let id = &want.call.call_id;
        let got = live
            .iter()
            .find(|c| c["call_id"] == id.as_str())
            .unwrap_or_else(|| panic!("{id}: not seen live"));
        assert_eq!(
            got["final_code"],
            serde_json::json!(want.call.final_code),
            "{id}"
        );
        let packets = |streams: &serde_json::Value| -> Vec<(u64, i64)> {
            let mut v: Vec<(u64, i64)> = streams
                .as_array()
                .unwrap()
                .iter()
                .map(|s| (s["packets"].as_u64().unwrap(), s["lost"].as_i64().unwrap()))
                .collect();
            v.sort_unstable();
            v
        };
        let mut want_packets: Vec<(u64, i64)> = want
            .streams
            .iter()
            .map(|s| (s.report.packets, s.report.lost))
            .collect();
        want_packets.sort_unstable();
        assert_eq!(packets(&got["streams"]), want_packets, "{id}: streams");
    }
}
