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

/// A network namespace with veth pairs (`vx0` ↔ `vx1`, `vy0` ↔ `vy1`, ...:
/// one per prefix), removed on drop.
struct Namespace(String);

impl Namespace {
    /// `tag` keeps the namespaces of tests running at once apart.
    fn create(tag: &str, pairs: &[&str]) -> Option<Namespace> {
        let name = format!("vxp-{tag}-{}", std::process::id());
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
        let ok = pairs.iter().all(|p| {
            let (a, b) = (format!("{p}0"), format!("{p}1"));
            ip(&[
                "-n", &ns.0, "link", "add", &a, "type", "veth", "peer", "name", &b,
            ]) && ip(&["-n", &ns.0, "link", "set", &a, "up"])
                && ip(&["-n", &ns.0, "link", "set", &b, "up"])
        });
        ok.then_some(ns)
    }

    /// `ip -n NS ARGS...`, true when it succeeds.
    fn ip(&self, args: &[&str]) -> bool {
        Command::new("ip")
            .args(["-n", &self.0])
            .args(args)
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    /// `ip -n NS link set DEV up|down`.
    fn set_link(&self, device: &str, state: &str) {
        let ok = Command::new("ip")
            .args(["-n", &self.0, "link", "set", device, state])
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "ip link set {device} {state}");
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

/// A namespace for the test `what`, or `None` after a visible skip message
/// when tcpreplay or ip is missing or namespaces cannot be made (not root).
fn namespace(tag: &str, pairs: &[&str], what: &str) -> Option<Namespace> {
    if !have("tcpreplay") || !have("ip") {
        skip(&format!(
            "{what}: tcpreplay or ip (iproute2) missing; scripts/test-all installs them"
        ));
        return None;
    }
    let ns = Namespace::create(tag, pairs);
    if ns.is_none() {
        skip(&format!(
            "{what}: cannot create a network namespace (needs root)"
        ));
    }
    ns
}

fn have(program: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// A running `voxprobe capture` inside a namespace, its output read while it
/// runs (a full pipe would stall it).
struct Probe {
    child: std::process::Child,
    stdout: std::thread::JoinHandle<std::io::Result<String>>,
    stderr: BufReader<std::process::ChildStderr>,
    /// What it said on stderr up to the start of the capture.
    said: String,
}

impl Probe {
    /// Starts it with `args` and waits until it says `capturing on
    /// {interfaces}`: its rings are open.
    fn start(ns: &Namespace, args: &[&str], interfaces: &str) -> Probe {
        let mut child = ns
            .exec(env!("CARGO_BIN_EXE_voxprobe"))
            .arg("capture")
            .args(args)
            .args(["--format", "json", "--duration", "60"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("voxprobe starts");
        let mut out = child.stdout.take().expect("stdout");
        let stdout = std::thread::spawn(move || {
            let mut text = String::new();
            std::io::Read::read_to_string(&mut out, &mut text).map(|_| text)
        });
        let mut stderr = BufReader::new(child.stderr.take().expect("stderr"));
        let mut said = String::new();
        while !said.contains(&format!("capturing on {interfaces}")) {
            let mut line = String::new();
            if stderr.read_line(&mut line).expect("stderr") == 0 {
                panic!("voxprobe ended before capturing: {said}");
            }
            said.push_str(&line);
        }
        Probe {
            child,
            stdout,
            stderr,
            said,
        }
    }

    /// Ends it with SIGTERM (within 10 s, exit 0) and returns the rest of
    /// its stderr and its call records.
    fn stop(self) -> (String, Vec<serde_json::Value>) {
        let (rest, calls, _) = self.stop_with_summary();
        (rest, calls)
    }

    /// [`Probe::stop`], with the summary record too.
    fn stop_with_summary(mut self) -> (String, Vec<serde_json::Value>, serde_json::Value) {
        // The last block is handed over after its timeout.
        std::thread::sleep(Duration::from_millis(300));
        let pid = self.child.id().to_string();
        assert!(Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success());
        let started = Instant::now();
        let status = loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                break s;
            }
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "voxprobe did not stop on SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(50));
        };
        let mut rest = String::new();
        for l in self.stderr.lines() {
            rest.push_str(&l.unwrap_or_default());
            rest.push('\n');
        }
        assert_eq!(status.code(), Some(0), "{rest}");
        let out = self
            .stdout
            .join()
            .expect("reader")
            .expect("stdout is UTF-8");
        let records: Vec<serde_json::Value> = out
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        // Every run ends with its summary, which names each interface's
        // kernel counters as the log does.
        let summary = records.last().expect("a summary");
        assert_eq!(summary["type"], "summary", "{summary}");
        for counters in summary["interfaces"].as_array().expect("interfaces") {
            let name = counters["interface"].as_str().unwrap();
            let logged = format!(
                "{name}: kernel: {} received, {} dropped",
                counters["received"], counters["dropped"]
            );
            assert!(rest.contains(&logged), "{logged} not in: {rest}");
        }
        let summary = summary.clone();
        let calls = records
            .into_iter()
            .filter(|v| v["type"] == "call")
            .collect();
        (rest, calls, summary)
    }
}

fn replay(ns: &Namespace, interface: &str, file: &std::path::Path) {
    let out = ns
        .exec("tcpreplay")
        .args(["-q", "-i", interface, "--topspeed"])
        .arg(file)
        .output()
        .expect("tcpreplay runs");
    crate::support::stdout_of_success(&out);
}

#[test]
fn live_capture_on_a_veth_equals_the_offline_analysis() {
    let Some(ns) = namespace("live", &["vx"], "live capture") else {
        return;
    };
    let capture = project_dir().join("captures/calls.pcap");
    // Two media workers: the live path with streams measured off the
    // analysis thread still equals the offline, single-thread analysis.
    let probe = Probe::start(
        &ns,
        &["-i", "vx1", "--user", "nobody", "--workers", "2"],
        "vx1",
    );
    // It opened the ring as root and now runs as nobody.
    assert!(probe.said.contains("running as nobody"), "{}", probe.said);
    let status = std::fs::read_to_string(format!("/proc/{}/status", probe.child.id())).unwrap();
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

    replay(&ns, "vx0", &capture);
    // The capture ends by SIGTERM and still prints everything it saw.
    let (rest, live) = probe.stop();
    assert!(rest.contains("0 dropped"), "{rest}");

    assert_same_as_offline(&live, &capture, &rest);
}

/// The calls seen live are those an offline analysis of the replayed file
/// finds, with the same final codes and streams (packets, lost).
fn assert_same_as_offline(live: &[serde_json::Value], capture: &std::path::Path, rest: &str) {
    let offline = analyze_file(capture, &AnalyzeConfig::default(), &mut |_| {}).unwrap();
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

#[test]
fn live_capture_on_two_interfaces_sees_the_calls_of_both() {
    let Some(ns) = namespace("two", &["vx", "vy"], "live capture, two interfaces") else {
        return;
    };
    let one = project_dir().join("captures/sip-call.pcap");
    let other = project_dir().join("captures/calls.pcap");
    let probe = Probe::start(
        &ns,
        &["-i", "vx1", "-i", "vy1", "--log-format", "json"],
        "vx1,vy1",
    );
    replay(&ns, "vx0", &one);
    replay(&ns, "vy0", &other);
    let (rest, live) = probe.stop();
    // Structured logs: one JSON object per line, the counters as fields.
    let logs: Vec<serde_json::Value> = rest
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    for interface in ["vx1", "vy1"] {
        let counters = logs
            .iter()
            .find(|l| l["interface"] == interface && l["received"].is_u64())
            .unwrap_or_else(|| panic!("no counters of {interface}: {rest}"));
        assert_eq!(counters["level"], "INFO");
        assert_eq!(counters["dropped"], 0, "{counters}");
    }
    let mut live: Vec<String> = live
        .iter()
        .map(|v| v["call_id"].as_str().unwrap().to_owned())
        .collect();
    live.sort();
    let mut offline: Vec<String> = [&one, &other]
        .iter()
        .flat_map(|f| {
            analyze_file(f, &AnalyzeConfig::default(), &mut |_| {})
                .unwrap()
                .calls
        })
        .map(|c| c.call.call_id.clone())
        .collect();
    offline.sort();
    assert_eq!(live, offline, "every call of both interfaces");
}

/// The number before `what` in the probe's stderr (e.g. "dropped").
fn count_before(text: &str, what: &str) -> u64 {
    text.split(what)
        .next()
        .and_then(|head| head.split_whitespace().last())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no count before {what:?} in: {text}"))
}

#[test]
fn capture_goes_on_when_the_interface_goes_down_and_comes_back() {
    let Some(ns) = namespace("down", &["vx"], "live capture, link down") else {
        return;
    };
    let before = project_dir().join("captures/sip-call.pcap");
    let after = project_dir().join("captures/calls.pcap");
    let probe = Probe::start(&ns, &["-i", "vx1"], "vx1");
    replay(&ns, "vx0", &before);
    ns.set_link("vx1", "down");
    std::thread::sleep(Duration::from_millis(400));
    ns.set_link("vx1", "up");
    std::thread::sleep(Duration::from_millis(200));
    replay(&ns, "vx0", &after);
    let (rest, live) = probe.stop();
    assert!(rest.contains("vx1: interface down"), "{rest}");
    assert!(
        rest.contains("vx1: interface back after"),
        "the gap is reported: {rest}"
    );
    assert_eq!(count_before(&rest, "times"), 1, "{rest}");
    let offline: usize = [&before, &after]
        .iter()
        .map(|f| {
            analyze_file(f, &AnalyzeConfig::default(), &mut |_| {})
                .unwrap()
                .calls
                .len()
        })
        .sum();
    assert_eq!(
        live.len(),
        offline,
        "the calls before and after the gap: {rest}"
    );
}

#[test]
fn a_burst_larger_than_the_ring_is_dropped_and_counted() {
    let Some(ns) = namespace("burst", &["vx"], "live capture, burst") else {
        return;
    };
    // One 4 KiB block holds two frames: a burst at top speed overflows it.
    let probe = Probe::start(
        &ns,
        &[
            "-i",
            "vx1",
            "--ring-blocks",
            "1",
            "--ring-block-size",
            "4096",
        ],
        "vx1",
    );
    let capture = project_dir().join("captures/calls.pcap");
    replay(&ns, "vx0", &capture);
    let (rest, _) = probe.stop();
    let kernel = rest
        .lines()
        .find(|l| l.contains("vx1: kernel:"))
        .unwrap_or_else(|| panic!("{rest}"));
    let received = count_before(kernel, "received");
    let dropped = count_before(kernel, "dropped");
    let stage = rest
        .lines()
        .find(|l| l.contains("capture stage:"))
        .unwrap_or_else(|| panic!("{rest}"));
    let stage_dropped = count_before(stage, "dropped");
    let analysed = count_before(&rest, "frames analysed");
    assert!(dropped > 0, "{rest}");
    // Every frame the socket received is analysed or counted as dropped (by
    // the kernel, or by the capture stage when the analysis was behind),
    // but those of the block still open when the capture stopped (frames
    // that came after the last drain, e.g. IPv6 neighbour discovery): at
    // most a 4 KiB block of minimum-size frames.
    let open_block = received.checked_sub(analysed + dropped + stage_dropped);
    assert!(open_block.is_some_and(|n| n <= 4096 / 64), "{rest}");
}

/// The payload of `packets` G.711 A-law RTP packets, 20 ms apart, as a pcap
/// for sipp's `play_pcap_audio` (it rewrites the addresses and ports).
fn rtp_pcap(packets: u16) -> Vec<u8> {
    use std::net::{Ipv4Addr, SocketAddrV4};
    let mut w = voxprobe::synth::pcap_writer::PcapWriter::new(Vec::new()).unwrap();
    let src = SocketAddrV4::new(Ipv4Addr::new(192, 0, 2, 1), 40_000);
    let dst = SocketAddrV4::new(Ipv4Addr::new(192, 0, 2, 2), 40_002);
    for i in 0..packets {
        let mut rtp = vec![0x80, 8];
        rtp.extend_from_slice(&i.to_be_bytes());
        rtp.extend_from_slice(&(u32::from(i) * 160).to_be_bytes());
        rtp.extend_from_slice(&0x5eed_0001u32.to_be_bytes());
        rtp.extend(std::iter::repeat_n(0xd5, 160));
        w.write_udp(
            1_700_000_000_000_000 + i64::from(i) * 20_000,
            src,
            dst,
            &rtp,
        )
        .unwrap();
    }
    w.finish().unwrap()
}

#[test]
fn sipp_calls_between_two_namespaces_are_measured_live() {
    if !have("sipp") {
        skip("sipp calls: sipp missing (Debian package sip-tester; scripts/test-all installs it)");
        return;
    }
    let Some(caller) = namespace("sipa", &[], "sipp calls") else {
        return;
    };
    let Some(callee) = namespace("sipb", &[], "sipp calls") else {
        return;
    };
    // One veth across the two namespaces; addresses only inside them.
    let linked = caller.ip(&[
        "link", "add", "va", "type", "veth", "peer", "name", "vb", "netns", &callee.0,
    ]) && caller.ip(&["addr", "add", "10.77.0.1/24", "dev", "va"])
        && callee.ip(&["addr", "add", "10.77.0.2/24", "dev", "vb"])
        && caller.ip(&["link", "set", "va", "up"])
        && callee.ip(&["link", "set", "vb", "up"])
        && caller.ip(&["link", "set", "lo", "up"])
        && callee.ip(&["link", "set", "lo", "up"]);
    assert!(linked, "veth between the namespaces");

    const CALLS: usize = 3;
    const PACKETS: u16 = 100;
    let dir = std::env::temp_dir().join(format!("voxprobe-sipp-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("rtp.pcap"), rtp_pcap(PACKETS)).unwrap();
    let scenario = project_dir().join("tests/sipp/uac_rtp.xml");

    let probe = Probe::start(&caller, &["-i", "va"], "va");
    // tshark captures the same link, as the reference.
    let reference = dir.join("reference.pcapng");
    let mut tshark = have("tshark").then(|| {
        caller
            .exec("tshark")
            .args(["-n", "-q", "-i", "va", "-w"])
            .arg(&reference)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("tshark starts")
    });
    std::thread::sleep(Duration::from_millis(800));
    let calls = CALLS.to_string();
    let mut uas = callee
        .exec("sipp")
        .args([
            "-sn",
            "uas",
            "-i",
            "10.77.0.2",
            "-mi",
            "10.77.0.2",
            "-rtp_echo",
            "-nostdin",
        ])
        .args(["-m", &calls, "-timeout", "30s"])
        .current_dir(&dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("sipp UAS starts");
    std::thread::sleep(Duration::from_millis(300));
    let uac = caller
        .exec("sipp")
        .arg("-sf")
        .arg(&scenario)
        .args([
            "10.77.0.2:5060",
            "-i",
            "10.77.0.1",
            "-mi",
            "10.77.0.1",
            "-nostdin",
        ])
        .args([
            "-m",
            &calls,
            "-l",
            &calls,
            "-r",
            "10",
            "-timeout",
            "30s",
            "-timeout_error",
        ])
        .current_dir(&dir)
        .stdout(Stdio::null())
        .output()
        .expect("sipp UAC runs");
    assert_eq!(
        uac.status.code(),
        Some(0),
        "sipp says not every call succeeded: {}",
        String::from_utf8_lossy(&uac.stderr)
    );
    let _ = uas.wait();
    let (rest, live) = probe.stop();
    if let Some(t) = tshark.as_mut() {
        let pid = t.id().to_string();
        let _ = Command::new("kill").args(["-INT", &pid]).status();
        let _ = t.wait();
    }

    assert_eq!(live.len(), CALLS, "one call per sipp call: {rest}");
    for call in &live {
        let id = &call["call_id"];
        assert_eq!(call["final_code"], 200, "{id}");
        assert_eq!(call["outcome"], "answered", "{id}");
        assert!(call["end_time"].is_string(), "{id}: ended by BYE");
        // The caller plays the pcap; the callee echoes every packet back.
        let streams = call["streams"].as_array().unwrap();
        assert_eq!(streams.len(), 2, "{id}: {streams:?}");
        for s in streams {
            assert_eq!(s["packets"], u64::from(PACKETS), "{id}: {s}");
            assert_eq!(s["lost"], 0, "{id}: {s}");
            assert_eq!(s["codec"], "PCMA", "{id}: {s}");
        }
    }

    // What tshark saw on the same link: the same calls, and the same
    // streams with the same counts and timing.
    if tshark.is_some() {
        let rows = crate::support::tshark::run(
            crate::support::tshark::RTP_STREAMS,
            &reference,
            "sipp calls",
        )
        .map(|out| crate::support::tshark::parse_rtp_streams(&out))
        .unwrap_or_default();
        let streams: Vec<&serde_json::Value> = live
            .iter()
            .flat_map(|c| c["streams"].as_array().unwrap())
            .collect();
        assert_eq!(rows.len(), streams.len(), "tshark streams: {rows:?}");
        for s in streams {
            let (src, dst) = (s["src"].as_str().unwrap(), s["dst"].as_str().unwrap());
            let row = rows
                .iter()
                .find(|r| {
                    r.src == src && r.dst == dst && u64::from(r.ssrc) == s["ssrc"].as_u64().unwrap()
                })
                .unwrap_or_else(|| panic!("tshark has no stream {src} -> {dst}: {rows:?}"));
            assert_eq!(
                row.packets,
                s["packets"].as_u64().unwrap(),
                "{src} -> {dst}"
            );
            assert_eq!(row.lost, s["lost"].as_i64().unwrap(), "{src} -> {dst}");
            let ours = |k: &str| s[k].as_f64().unwrap();
            assert!(
                (row.max_delta_ms - ours("max_delta_ms")).abs() <= 0.0015,
                "{src} -> {dst}: max delta {row:?} {s}"
            );
            assert!(
                crate::support::tshark::agrees(ours("mean_jitter_ms"), row.mean_jitter_ms),
                "{row:?} {s}"
            );
            assert!(
                crate::support::tshark::agrees(ours("max_jitter_ms"), row.max_jitter_ms),
                "{row:?} {s}"
            );
        }
        let invites = crate::support::tshark::run(
            &[
                "-n",
                "-Y",
                "sip.Method == \"INVITE\"",
                "-T",
                "fields",
                "-e",
                "sip.Call-ID",
            ],
            &reference,
            "sipp calls",
        )
        .unwrap_or_default();
        let mut theirs: Vec<&str> = invites.lines().collect();
        theirs.sort_unstable();
        theirs.dedup();
        let mut ours: Vec<&str> = live
            .iter()
            .map(|c| c["call_id"].as_str().unwrap())
            .collect();
        ours.sort_unstable();
        assert_eq!(ours, theirs, "Call-IDs with an INVITE");
    } else {
        skip("sipp calls: tshark missing, the comparison on the same link is left out");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn frames_written_live_keep_the_vlan_tags_the_kernel_took_off() {
    let Some(shared) = crate::support::shared_captures("live VLAN tags") else {
        return;
    };
    let Some(ns) = namespace("vlan", &["vx"], "live VLAN tags") else {
        return;
    };
    // 112 frames, 30 of them tagged VLAN 1508 (nDPI's rtp.pcapng).
    let capture = shared.join("odd/pcapng-2if-vlan-rtp-comments.pcapng");
    let dir = std::env::temp_dir().join(format!("voxprobe-vlan-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let written = dir.join("written.pcap");
    let write_arg = written.display().to_string();
    let probe = Probe::start(&ns, &["-i", "vx1", "--write", &write_arg], "vx1");
    replay(&ns, "vx0", &capture);
    let (rest, _) = probe.stop();
    assert!(count_before(&rest, "frames written") >= 112, "{rest}");
    let count = |file: &std::path::Path| {
        crate::support::tshark::run(&["-n", "-Y", "vlan.id == 1508"], file, "live VLAN tags")
            .map(|out| out.lines().count())
    };
    if let (Some(sent), Some(seen)) = (count(&capture), count(&written)) {
        assert_eq!(sent, 30, "the capture's tagged frames");
        assert_eq!(seen, sent, "every tag put back: {rest}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[cfg(feature = "libpcap")]
#[test]
fn the_libpcap_engine_equals_the_offline_analysis() {
    let Some(ns) = namespace("pcap", &["vp"], "libpcap engine") else {
        return;
    };
    let capture = project_dir().join("captures/calls.pcap");
    let probe = Probe::start(
        &ns,
        &["-i", "vp1", "--engine", "pcap"],
        "vp1 through libpcap",
    );
    replay(&ns, "vp0", &capture);
    let (rest, live) = probe.stop();
    assert!(rest.contains("0 dropped"), "{rest}");
    assert_same_as_offline(&live, &capture, &rest);
}

#[cfg(feature = "libpcap")]
#[test]
fn a_capture_filter_keeps_only_what_it_accepts_on_both_engines() {
    let Some(ns) = namespace("filter", &["vf"], "capture filter") else {
        return;
    };
    let capture = project_dir().join("captures/calls.pcap");
    let offline = analyze_file(&capture, &AnalyzeConfig::default(), &mut |_| {}).unwrap();
    for (engine, said) in [("afpacket", "vf1"), ("pcap", "vf1 through libpcap")] {
        let probe = Probe::start(
            &ns,
            &["-i", "vf1", "--engine", engine, "--filter", "udp port 5060"],
            said,
        );
        replay(&ns, "vf0", &capture);
        let (rest, live, summary) = probe.stop_with_summary();
        // Only SIP came through: every call, no media.
        assert_eq!(summary["protocols"]["rtp"], 0, "{engine}: {rest}");
        assert_eq!(
            summary["protocols"]["sip"], offline.summary.protocols.sip,
            "{engine}: {rest}"
        );
        assert_eq!(live.len(), offline.calls.len(), "{engine}: {rest}");
        let received = summary["interfaces"][0]["received"].as_u64().unwrap();
        assert_eq!(
            received, offline.summary.protocols.sip,
            "{engine}: the kernel queued only what passed"
        );
    }
    // A filter that does not compile is refused, naming it.
    let out = Command::new(env!("CARGO_BIN_EXE_voxprobe"))
        .args([
            "capture",
            "-i",
            "lo",
            "--filter",
            "udp prot 5060",
            "--duration",
            "1",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--filter \"udp prot 5060\""), "{err}");
}

/// The memory budget of the probe: a base for the program, its tables and
/// buffers, and a share per concurrent call with all its legs (the unit's
/// MemoryMax of 4 GiB leaves room for 300 000 calls).
const MEMORY_BASE: u64 = 100 << 20;
const MEMORY_PER_CALL: u64 = 10 << 10;

#[test]
fn a_hundred_thousand_concurrent_calls_stay_within_the_memory_budget() {
    let dir = std::env::temp_dir().join(format!("voxprobe-memory-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let pcap = dir.join("volte-bulk.pcap");
    let calls = 100_000u64;
    // Every call overlaps every other (held 20 s, starts spread over 10 s),
    // each with its SIP dialog, Rx and Gx sessions and bearer procedures.
    voxprobe::synth::generate(
        voxprobe::synth::Scenario::VolteBulk { calls },
        1,
        std::io::BufWriter::new(std::fs::File::create(&pcap).unwrap()),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_voxprobe"))
        .args(["capture", "--replay"])
        .arg(&pcap)
        .args(["--speed", "0", "--format", "json", "--log-format", "json"])
        .output()
        .unwrap();
    crate::support::stdout_of_success(&out);
    let reported = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.starts_with("{\"type\":\"call\""))
        .count() as u64;
    assert_eq!(reported, calls);
    let log = String::from_utf8_lossy(&out.stderr);
    let peak = log
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find_map(|l| l["peak_rss_bytes"].as_u64())
        .unwrap_or_else(|| panic!("no peak memory in the log: {log}"));
    let budget = MEMORY_BASE + calls * MEMORY_PER_CALL;
    assert!(
        peak <= budget,
        "peak resident memory {} MiB over the budget of {} MiB",
        peak >> 20,
        budget >> 20
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_burst_larger_than_the_analysis_queue_is_dropped_at_the_stage_and_counted() {
    let Some(ns) = namespace("queue", &["vq"], "live capture, analysis queue") else {
        return;
    };
    // A big ring (the kernel keeps up) but room for one batch of one frame
    // between the capture thread and the analysis: a burst at top speed
    // outruns the analysis, and the stage drops and counts.
    let probe = Probe::start(
        &ns,
        &["-i", "vq1", "--batch-frames", "1", "--queue-batches", "1"],
        "vq1",
    );
    let capture = project_dir().join("captures/calls.pcap");
    replay(&ns, "vq0", &capture);
    let (rest, _, summary) = probe.stop_with_summary();
    let stage = &summary["capture_stage"];
    let kernel = &summary["interfaces"][0];
    let (sent, stage_dropped) = (
        stage["frames_sent"].as_u64().unwrap(),
        stage["frames_dropped"].as_u64().unwrap(),
    );
    assert!(stage_dropped > 0, "{rest}");
    assert_eq!(kernel["dropped"], 0, "the ring kept up: {rest}");
    // Nothing else affected: what was handed over was analysed, and every
    // frame the kernel received was handed over or dropped at the stage.
    assert_eq!(
        summary["packets"]["total"].as_u64().unwrap(),
        sent,
        "{rest}"
    );
    let received = kernel["received"].as_u64().unwrap();
    assert!(received >= sent + stage_dropped, "{rest}");
    assert!(received - (sent + stage_dropped) <= 4096 / 64, "{rest}");
}

#[test]
fn fanout_rings_share_an_interface_and_miss_nothing() {
    let Some(ns) = namespace("fanout", &["vo"], "live capture, fanout") else {
        return;
    };
    let capture = project_dir().join("captures/calls.pcap");
    // Three rings (and capture threads) in one fanout group on one
    // interface: the flows are spread over them, every frame is analysed
    // once, and the calls are those of the offline analysis.
    let probe = Probe::start(
        &ns,
        &[
            "-i",
            "vo1",
            "--fanout",
            "3",
            "--ring-block-timeout-ms",
            "20",
        ],
        "vo1",
    );
    replay(&ns, "vo0", &capture);
    let (rest, live, summary) = probe.stop_with_summary();
    let interfaces = summary["interfaces"].as_array().unwrap();
    assert_eq!(
        interfaces.len(),
        1,
        "one interface, its rings summed: {rest}"
    );
    assert_eq!(interfaces[0]["dropped"], 0, "{rest}");
    let received = interfaces[0]["received"].as_u64().unwrap();
    let analysed = summary["packets"]["total"].as_u64().unwrap();
    assert_eq!(received, analysed, "{rest}");
    // The kernel spread the flows: more than one ring got frames.
    let busy = (0..3)
        .filter(|i| {
            rest.lines()
                .find(|l| l.contains(&format!("vo1 ring {i}: ")))
                .is_some_and(|l| count_before(l, "received") > 0)
        })
        .count();
    assert!(busy >= 2, "{rest}");
    assert_same_as_offline(&live, &capture, &rest);
}

/// MOS of a JSON stream record.
fn mos_of(stream: &serde_json::Value) -> f64 {
    stream["mos"].as_f64().unwrap_or(f64::NAN)
}

#[test]
fn impaired_traffic_shows_its_loss_and_a_lower_mos() {
    let Some(ns) = namespace("impair", &["vi"], "live capture, impairment") else {
        return;
    };
    let netem = ns
        .exec("tc")
        .args(["qdisc", "add", "dev", "vi0", "root", "netem", "loss", "5%"])
        .output()
        .expect("tc runs");
    if netem.status.success() {
        // netem drops 5 % of what tcpreplay sends: the measured loss of the
        // calls' streams is near 5 % and their MOS falls below the clean
        // capture's.
        let capture = project_dir().join("captures/calls.pcap");
        let probe = Probe::start(&ns, &["-i", "vi1"], "vi1");
        replay(&ns, "vi0", &capture);
        let (rest, live) = probe.stop();
        let streams: Vec<&serde_json::Value> = live
            .iter()
            .flat_map(|c| c["streams"].as_array().into_iter().flatten())
            .collect();
        let (expected, lost) = streams.iter().fold((0, 0), |(e, l), s| {
            (
                e + s["expected"].as_i64().unwrap(),
                l + s["lost"].as_i64().unwrap(),
            )
        });
        let measured = lost as f64 * 100.0 / expected as f64;
        assert!(
            (3.0..8.0).contains(&measured),
            "loss {measured:.1} % with netem 5 %: {rest}"
        );
        return;
    }
    skip(&format!(
        "tc netem is unavailable here ({}): the loss is made by the generator instead",
        String::from_utf8_lossy(&netem.stderr).trim()
    ));
    // The generator's impaired streams (5 % random loss, a burst-loss
    // channel) replayed live: the loss measured is the loss the generator
    // made, packet for packet, and the MOS falls below the clean stream's.
    let capture = project_dir().join("captures/impairments.pcap");
    let truth: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(project_dir().join("captures/impairments.expected.json")).unwrap(),
    )
    .unwrap();
    // These streams have no signalling: they come as stream records.
    let live = live_streams(&ns, &capture);
    let find = |name: &str| {
        let want = truth["streams"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == name)
            .unwrap();
        let got = live
            .iter()
            .find(|s| s["ssrc"] == want["ssrc"] && s["src"] == want["src"])
            .unwrap_or_else(|| panic!("{name} not seen live"));
        (want.clone(), got.clone())
    };
    let (_, clean) = find("clean");
    for name in ["loss-5pct", "burst-loss"] {
        let (want, got) = find(name);
        assert_eq!(got["lost"], want["lost"], "{name}");
        assert_eq!(got["packets"], want["packets"], "{name}");
        assert!(
            mos_of(&got) < mos_of(&clean) - 0.2,
            "{name}: MOS {} vs clean {}",
            mos_of(&got),
            mos_of(&clean)
        );
    }
}

/// The stream records of a live capture of `capture` replayed in `ns`.
fn live_streams(ns: &Namespace, capture: &std::path::Path) -> Vec<serde_json::Value> {
    let mut child = ns
        .exec(env!("CARGO_BIN_EXE_voxprobe"))
        .args([
            "capture",
            "-i",
            "vi1",
            "--format",
            "json",
            "--duration",
            "60",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("voxprobe starts");
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut said = String::new();
    while !said.contains("capturing on vi1") {
        let mut line = String::new();
        if stderr.read_line(&mut line).unwrap() == 0 {
            panic!("voxprobe ended: {said}");
        }
        said.push_str(&line);
    }
    replay(ns, "vi0", capture);
    std::thread::sleep(Duration::from_millis(300));
    let pid = child.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let out = child.wait_with_output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|r| r["type"] == "stream")
        .collect()
}

#[test]
fn calls_in_progress_are_reported_every_few_seconds() {
    // A 12 s call replayed at 2×, an update a second: several updates
    // before the call's record, its time since the answer growing.
    let out = Command::new(env!("CARGO_BIN_EXE_voxprobe"))
        .args(["capture", "--replay"])
        .arg(project_dir().join("captures/sip-call.pcap"))
        .args([
            "--speed",
            "2",
            "--format",
            "json",
            "--call-update-every",
            "1",
        ])
        .args(["--privacy", "mask"])
        .output()
        .unwrap();
    crate::support::stdout_of_success(&out);
    let records: Vec<serde_json::Value> = crate::support::json_lines(&out.stdout);
    let call_at = records.iter().position(|r| r["type"] == "call").unwrap();
    let call = &records[call_at];
    let updates: Vec<(usize, &serde_json::Value)> = records
        .iter()
        .enumerate()
        .filter(|(_, r)| r["type"] == "call_update")
        .collect();
    assert!(updates.len() >= 3, "{updates:?}");
    let mut last = -1.0;
    for (at, u) in &updates {
        assert!(*at < call_at, "an update after the call ended: {u}");
        assert_eq!(u["call_id"], call["call_id"]);
        // Parties as the privacy settings leave them, as in the record.
        assert_eq!(u["from"], call["from_user"], "{u}");
        assert!(u["from"].as_str().unwrap().contains('*'), "{u}");
        let elapsed = u["elapsed_s"].as_f64().unwrap();
        assert!(elapsed >= last, "{u}");
        last = elapsed;
    }
    assert!(
        updates.iter().any(|(_, u)| u["state"] == "confirmed"),
        "{updates:?}"
    );
}

#[test]
fn sighup_reloads_what_can_change_while_capturing() {
    let dir = std::env::temp_dir().join(format!("voxprobe-sighup-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("voxprobe.toml");
    let alerts = dir.join("alerts.jsonl");
    let write_config = |mos: &str, fanout: u16| {
        std::fs::write(
            &config,
            format!(
                "alerts-file = {:?}\ncall-linger = 1\nstream-timeout = 1\nalert-mos = {mos:?}\nfanout = {fanout}\n",
                alerts.display().to_string()
            ),
        )
        .unwrap();
    };
    write_config("3.0,2.5", 1);
    // 48 s of calls at 4×: about 12 s, calls ending all along.
    let mut probe = Command::new(env!("CARGO_BIN_EXE_voxprobe"))
        .args(["capture", "--config"])
        .arg(&config)
        .args(["--replay"])
        .arg(project_dir().join("captures/calls.pcap"))
        .args(["--speed", "4", "--format", "json"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(3));
    // MOS alert levels no call can stay above, and an option that cannot
    // change while running.
    write_config("4.9,4.8", 2);
    let pid = probe.id().to_string();
    assert!(Command::new("kill")
        .args(["-HUP", &pid])
        .status()
        .unwrap()
        .success());
    let mut err = String::new();
    std::io::Read::read_to_string(probe.stderr.as_mut().unwrap(), &mut err).unwrap();
    let status = probe.wait().unwrap();
    assert!(status.success(), "SIGHUP does not end the capture: {err}");
    assert!(err.contains("SIGHUP: configuration reloaded"), "{err}");
    assert!(
        err.contains("fanout changed; that takes effect at the next start"),
        "{err}"
    );
    // Calls that ended after the reload were held to the new levels.
    let lines = std::fs::read_to_string(&alerts).unwrap_or_default();
    let thresholds: Vec<f64> = lines
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|a| a["metric"] == "mos")
        .filter_map(|a| a["threshold"].as_f64())
        .collect();
    assert!(thresholds.iter().any(|t| *t >= 4.8), "{lines}");
    let _ = std::fs::remove_dir_all(&dir);
}
