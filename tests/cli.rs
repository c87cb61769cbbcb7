//! The `voxprobe` binary as a user runs it: output formats, exit codes,
//! error messages, broken pipes.

use crate::support::{project_dir, shared_captures};
use std::io::Read;
use std::process::{Command, Stdio};

fn voxprobe() -> Command {
    Command::new(env!("CARGO_BIN_EXE_voxprobe"))
}

/// The records of one type that `voxprobe analyze --format json ARGS
/// CAPTURE` prints, once it has exited 0.
fn json_records(capture: &std::path::Path, args: &[&str], kind: &str) -> Vec<serde_json::Value> {
    let out = voxprobe()
        .args(["analyze", "--format", "json"])
        .args(args)
        .arg(capture)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|l| l["type"] == kind)
        .collect()
}

#[test]
fn json_lines_have_types_and_contract_fields() {
    let capture = project_dir().join("captures/impairments.pcap");
    let out = voxprobe()
        .args(["analyze", "--format", "json"])
        .arg(&capture)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let streams: Vec<_> = lines.iter().filter(|l| l["type"] == "stream").collect();
    assert!(!streams.is_empty());
    for s in &streams {
        for field in [
            "ssrc",
            "src",
            "dst",
            "observation",
            "payload_type",
            "codec",
            "clock_rate",
            "packets",
            "expected",
            "lost",
            "duplicates",
            "out_of_order",
            "seq_errors",
            "max_delta_ms",
            "mean_jitter_ms",
            "max_jitter_ms",
            "first_time",
            "last_time",
        ] {
            assert!(!s[field].is_null(), "stream lacks {field}: {s}");
        }
        assert!(s["first_time"].as_str().unwrap().ends_with('Z'));
    }
    let summary = lines.last().unwrap();
    assert_eq!(summary["type"], "summary");
    let p = &summary["packets"];
    assert!(p["total"].as_u64().unwrap() > 0);
    assert_eq!(
        p["total"],
        p["decoded"].as_u64().unwrap() + p["not_for_us"].as_u64().unwrap()
    );
}

#[test]
fn table_output_lists_streams_and_counters() {
    let capture = project_dir().join("captures/impairments.pcap");
    let out = voxprobe()
        .args(["analyze", "--streams"])
        .arg(&capture)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("0 calls"), "{text}");
    assert!(text.contains("9 RTP streams"), "{text}");
    assert!(text.contains("MaxJit(ms)"), "{text}");
    assert!(text.contains("packets: "), "{text}");
}

#[test]
fn missing_file_is_named_and_exits_1() {
    let out = voxprobe()
        .args(["analyze", "no/such/file.pcap"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("no/such/file.pcap"), "{err}");
}

#[test]
fn usage_error_exits_2() {
    let out = voxprobe().args(["analyze"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn not_a_capture_is_rejected_with_its_format_named() {
    let Some(shared) = shared_captures("NetMon rejection") else {
        return;
    };
    let out = voxprobe()
        .arg("analyze")
        .arg(shared.join("odd/netmon2-format-protos-sip-malformed.cap"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("netmon2-format-protos-sip-malformed.cap"),
        "{err}"
    );
    assert!(err.contains("NetMon"), "{err}");
}

#[test]
fn truncated_file_reports_offset_keeps_output_and_exits_3() {
    let Some(shared) = shared_captures("truncated file exit code") else {
        return;
    };
    let out = voxprobe()
        .args(["analyze", "--format", "json"])
        .arg(shared.join("odd/truncated-file-mid-record-sip-g711.pcap"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("stopped at byte"), "{err}");
    let text = String::from_utf8(out.stdout).unwrap();
    let summary: serde_json::Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    assert_eq!(summary["packets"]["total"], 429);
    assert!(summary["stopped"]["offset"].as_u64().unwrap() > 99_000);
    // The PCMU stream read before the cut is still reported (424 packets of it are whole).
    assert!(text
        .lines()
        .any(|l| l.contains("\"type\":\"stream\"") && l.contains("\"codec\":\"PCMU\"")));
}

#[test]
fn closed_stdout_pipe_exits_quietly() {
    let capture = project_dir().join("captures/impairments.pcap");
    // Twenty copies: more output than a pipe buffer holds, so the write
    // after the reader has gone really fails with EPIPE.
    let mut child = voxprobe()
        .args(["analyze", "--format", "json"])
        .args(std::iter::repeat_n(&capture, 20))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut first = [0u8; 1];
    stdout.read_exact(&mut first).unwrap();
    drop(stdout);
    let status = child.wait().unwrap();
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert_eq!(status.code(), Some(0), "stderr: {err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn call_table_json_calls_and_ladder() {
    let capture = project_dir().join("captures/sip-call.pcap");
    let out = voxprobe().arg("analyze").arg(&capture).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("1 calls"), "{text}");
    assert!(text.contains("answered"), "{text}");
    assert!(text.contains("ASR 100.0%"), "{text}");

    let out = voxprobe()
        .args(["analyze", "--format", "json"])
        .arg(&capture)
        .output()
        .unwrap();
    let lines: Vec<serde_json::Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let call = lines
        .iter()
        .find(|l| l["type"] == "call")
        .expect("a call line");
    for field in [
        "call_id",
        "from",
        "to",
        "caller_ip",
        "callee_ip",
        "outcome",
        "final_code",
        "final_reason",
        "invite_time",
        "ringing_time",
        "answer_time",
        "end_time",
        "setup_ms",
        "pdd_ms",
        "answer_delay_ms",
        "duration_s",
        "codec",
        "diagnosis",
        "streams",
        "intervals",
    ] {
        assert!(call.get(field).is_some(), "call lacks {field}: {call}");
    }
    assert_eq!(call["outcome"], "answered");
    let streams = call["streams"].as_array().unwrap();
    assert_eq!(streams.len(), 2);
    assert!(streams.iter().all(|s| s["call_id"] == call["call_id"]));
    let call_id = call["call_id"].as_str().unwrap().to_owned();

    let out = voxprobe()
        .args(["analyze", "--ladder", &call_id])
        .arg(&capture)
        .output()
        .unwrap();
    let ladder = String::from_utf8(out.stdout).unwrap();
    for step in ["INVITE (SDP)", "180 Ringing", "200 OK (SDP)", "ACK", "BYE"] {
        assert!(ladder.contains(step), "ladder lacks {step}:\n{ladder}");
    }
    let out = voxprobe()
        .args(["analyze", "--ladder", "no-such-call"])
        .arg(&capture)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8(out.stderr)
        .unwrap()
        .contains("no call with Call-ID"));
}

#[test]
fn extract_writes_one_call_that_analyses_the_same() {
    let capture = project_dir().join("captures/sip-call.pcap");
    let original =
        voxprobe::analyze::analyze_file(&capture, &Default::default(), &mut |_| {}).unwrap();
    let call = &original.calls[0];
    let dir = std::env::temp_dir().join(format!("voxprobe-extract-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let out_path = dir.join("call.pcap");
    let out = voxprobe()
        .args(["extract", "--call-id", &call.call.call_id, "-o"])
        .arg(&out_path)
        .arg(&capture)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let again =
        voxprobe::analyze::analyze_file(&out_path, &Default::default(), &mut |_| {}).unwrap();
    assert_eq!(again.calls.len(), 1);
    let c = &again.calls[0];
    assert_eq!(c.call.call_id, call.call.call_id);
    assert_eq!(
        (c.outcome, c.setup_ms(), c.duration_s()),
        (call.outcome, call.setup_ms(), call.duration_s())
    );
    let packets = |a: &voxprobe::analyze::FileAnalysis| {
        a.all_streams().map(|s| s.report.packets).sum::<u64>()
    };
    assert_eq!(packets(&again), packets(&original));
    assert_eq!(again.summary.protocols.sip, original.summary.protocols.sip);
    // Only the call: nothing else in the extracted file.
    assert_eq!(again.summary.packets.not_for_us, 0);

    let out = voxprobe()
        .args(["extract", "--call-id", "nope", "-o"])
        .arg(dir.join("none.pcap"))
        .arg(&capture)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8(out.stderr)
        .unwrap()
        .contains("no call with Call-ID"));
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn mos_calculator_prints_each_term_and_rejects_unknown_codecs() {
    let out = voxprobe()
        .args([
            "mos", "--codec", "G711", "--loss", "2", "--burst", "1.5", "--delay", "80",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    for term in ["Ro", "Is", "Id", "Ie,eff", "R ", "MOS"] {
        assert!(text.contains(term), "{term} missing:\n{text}");
    }
    let json = |args: &[&str]| -> serde_json::Value {
        let out = voxprobe()
            .arg("mos")
            .args(args)
            .args(["--format", "json"])
            .output()
            .unwrap();
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let clean = json(&["--codec", "G711"]);
    // G.107 defaults with no loss and no delay: R = 93.2, MOS 4.41.
    assert!(
        (clean["r"].as_f64().unwrap() - 93.2).abs() < 0.05,
        "{clean}"
    );
    assert!(
        (clean["mos"].as_f64().unwrap() - 4.41).abs() < 0.01,
        "{clean}"
    );
    let lossy = json(&["--codec", "G711", "--loss", "5"]);
    let bursty = json(&["--codec", "G711", "--loss", "5", "--burst", "2"]);
    let delayed = json(&[
        "--codec", "G711", "--loss", "5", "--burst", "2", "--delay", "200",
    ]);
    let buffered = json(&[
        "--codec",
        "G711",
        "--loss",
        "5",
        "--burst",
        "2",
        "--delay",
        "200",
        "--jitter-buffer",
        "100",
    ]);
    let mos = |v: &serde_json::Value| v["mos"].as_f64().unwrap();
    assert!(mos(&clean) > mos(&lossy) && mos(&lossy) > mos(&bursty));
    assert!(mos(&bursty) > mos(&delayed) && mos(&delayed) > mos(&buffered));
    let out = voxprobe().args(["mos", "--codec", "XYZ"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8(out.stderr)
        .unwrap()
        .contains("unknown codec"));
}

#[test]
fn call_filters_and_the_volte_summary() {
    let Some(shared) = shared_captures("call filters") else {
        return;
    };
    let capture = shared.join("volte/volte-call-gx-rar-cbr-amrwb.pcapng");
    let calls = |args: &[&str]| json_records(&capture, args, "call");
    let all = calls(&[]);
    assert_eq!(all.len(), 1);
    let id = all[0]["call_id"].as_str().unwrap().to_owned();
    assert_eq!(calls(&["--call-id", &id]).len(), 1);
    assert_eq!(calls(&["--call-id", "other"]).len(), 0);
    assert_eq!(calls(&["--imsi", "001010000000000"]).len(), 0);
    assert_eq!(all[0]["bearer_leg"]["qci"], 1);
    let out = voxprobe().arg("analyze").arg(&capture).output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("VoLTE calls: 1 (1 successful"), "{text}");
    assert!(text.contains("bearer setup (ms): p50 229.0"), "{text}");
}

#[test]
fn volte_ladder_shows_every_protocol_with_named_nodes() {
    let Some(shared) = shared_captures("VoLTE ladder") else {
        return;
    };
    let capture = shared.join("volte/volte-call-gx-rar-cbr-amrwb.pcapng");
    let out = voxprobe()
        .args([
            "analyze",
            "--format",
            "json",
            "--ladder",
            "401181964_495972856@192.168.101.3",
        ])
        .arg(&capture)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ladder: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let messages = ladder["messages"].as_array().unwrap();
    for protocol in ["sip", "diameter", "gtpv2"] {
        assert!(
            messages.iter().any(|m| m["protocol"] == protocol),
            "no {protocol} message"
        );
    }
    let times: Vec<&str> = messages
        .iter()
        .map(|m| m["time"].as_str().unwrap())
        .collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "not in time order");
    let names: Vec<&str> = ladder["participants"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    assert!(names.contains(&"UE"), "{names:?}");
    assert!(names.iter().any(|n| n.starts_with("pcrf.")), "{names:?}");
    assert!(names.iter().any(|n| n.starts_with("pgw.")), "{names:?}");
    // Roles by endpoint (the open5gs host 10.4.128.21 is the P-CSCF on 5060,
    // other CSCFs on 6060 and 4060, and the MME on 2123; sgwc is 127.0.0.2).
    let role_of = |address: &str| {
        ladder["participants"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["address"] == address)
            .map(|p| p["role"].clone())
            .unwrap_or_else(|| panic!("no participant {address}"))
    };
    assert_eq!(role_of("192.168.101.2:5060"), "UE");
    assert_eq!(role_of("192.168.101.3:40762"), "remote");
    assert_eq!(role_of("10.4.128.21:5060"), "P-CSCF");
    assert_eq!(role_of("10.4.128.21:6060"), serde_json::Value::Null);
    assert_eq!(role_of("10.4.128.21:2123"), "MME");
    assert_eq!(role_of("127.0.0.2:2123"), "SGW");
    assert_eq!(role_of("127.0.0.1:39478"), "PCRF");
    assert_eq!(role_of("127.0.0.3:3868"), "PGW");
    // The bearer's request and response, the Gx RAR and its answer.
    let labels: Vec<&str> = messages
        .iter()
        .map(|m| m["label"].as_str().unwrap())
        .collect();
    for label in [
        "RAR",
        "RAA 2001",
        "create_bearer_request",
        "create_bearer_response (cause 16)",
    ] {
        assert!(labels.contains(&label), "{label} missing: {labels:?}");
    }
}

#[test]
fn teid_filter_finds_the_call_of_a_bearer() {
    let capture = project_dir().join("captures/volte.pcap");
    let truth: voxprobe::synth::ExpectedCapture = serde_json::from_str(
        &std::fs::read_to_string(project_dir().join("captures/volte.expected.json")).unwrap(),
    )
    .unwrap();
    let call_ids = |teid: &str| -> Vec<String> {
        json_records(&capture, &["--teid", teid], "call")
            .iter()
            .map(|l| l["call_id"].as_str().unwrap().to_owned())
            .collect()
    };
    let mut checked = 0;
    for want in &truth.volte_calls {
        for teid in [want.bearer_uplink_teid, want.bearer_downlink_teid]
            .into_iter()
            .flatten()
        {
            assert_eq!(
                call_ids(&format!("0x{teid:x}")),
                std::slice::from_ref(&want.call_id),
                "{}",
                want.name
            );
            checked += 1;
        }
    }
    assert!(checked >= 4, "the generated capture has bearers");
    let some = truth
        .volte_calls
        .iter()
        .find_map(|c| c.bearer_uplink_teid)
        .unwrap();
    assert_eq!(call_ids(&some.to_string()).len(), 1, "decimal form");
    assert!(call_ids("0x1").is_empty());
    let out = voxprobe()
        .args(["analyze", "--teid", "0xZZ"])
        .arg(&capture)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not a TEID"));
}

#[test]
fn configuration_file_options_and_command_line_overrides() {
    let dir = std::env::temp_dir().join(format!("voxprobe-config-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let good = dir.join("good.toml");
    std::fs::write(
        &good,
        "interface = \"vxp-from-file\"\nformat = \"json\"\nring_blocks = 16\nsip-port = [5062]\n",
    )
    .unwrap();
    let out = voxprobe().arg("check-config").arg(&good).output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains(": OK"), "{text}");
    assert!(
        text.contains("--interface vxp-from-file") && text.contains("--ring-blocks 16"),
        "{text}"
    );

    // The file's interface is used, and the command line's wins over it.
    let run = |extra: &[&str]| {
        let out = voxprobe()
            .args(["capture", "--config"])
            .arg(&good)
            .args(extra)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, err) = run(&[]);
    assert_eq!(code, Some(1));
    assert!(err.contains("\"vxp-from-file\" not found"), "{err}");
    let (code, err) = run(&["--interface", "vxp-from-cli"]);
    assert_eq!(code, Some(1));
    assert!(err.contains("\"vxp-from-cli\" not found"), "{err}");

    // A key that is no option, and a file that is not TOML: exit 2, named.
    let bad = dir.join("bad.toml");
    std::fs::write(&bad, "interface = \"eth1\"\nbogus-key = 3\n").unwrap();
    let out = voxprobe().arg("check-config").arg(&bad).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        err.contains("bad.toml") && err.contains("--bogus-key"),
        "{err}"
    );
    std::fs::write(&bad, "interface = \n").unwrap();
    let out = voxprobe()
        .args(["capture", "--config"])
        .arg(&bad)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2));
    assert!(err.contains("bad.toml: not valid TOML"), "{err}");
    // A ring layout no kernel accepts is caught before the service starts;
    // a missing interface is only a warning (the file may be for another host).
    std::fs::write(
        &bad,
        "interface = \"vxp-nowhere\"\nring-block-size = 1000\n",
    )
    .unwrap();
    let out = voxprobe().arg("check-config").arg(&bad).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("not a positive multiple of 4096"), "{err}");
    std::fs::write(&bad, "interface = \"vxp-nowhere\"\n").unwrap();
    let out = voxprobe().arg("check-config").arg(&bad).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("warning: interface \"vxp-nowhere\""), "{err}");
    // Options for analyze: the capture files stay on the command line.
    let out = voxprobe()
        .args(["check-config", "--for", "analyze"])
        .arg(&good)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "interface is no analyze option");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn replay_feeds_the_live_path_at_the_files_pace() {
    let capture = project_dir().join("captures/calls.pcap");
    // At top speed the live path gives exactly what analyze gives.
    let live = voxprobe()
        .args(["capture", "--format", "json", "--speed", "0", "--replay"])
        .arg(&capture)
        .output()
        .unwrap();
    assert_eq!(
        live.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&live.stderr)
    );
    let offline = voxprobe()
        .args(["analyze", "--format", "json"])
        .arg(&capture)
        .output()
        .unwrap();
    assert!(!offline.stdout.is_empty());
    assert!(live.stdout == offline.stdout, "replay and analyze differ");

    // Paced, it takes the file's own span divided by the speed, at least.
    let small = project_dir().join("captures/sip-call.pcap");
    let file = voxprobe::capture::CaptureFile::open(&small).unwrap();
    let times: Vec<i64> = file.frames().map(|f| f.time.as_nanos()).collect();
    let span_s = (times.last().unwrap() - times.first().unwrap()) as f64 / 1e9;
    assert!(span_s > 5.0, "the capture spans {span_s} s");
    let speed = 25.0;
    let started = std::time::Instant::now();
    let out = voxprobe()
        .args(["capture", "--speed", "25", "--replay"])
        .arg(&small)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let took = started.elapsed().as_secs_f64();
    assert!(
        took >= span_s / speed * 0.95,
        "took {took} s for {span_s} s at {speed}x"
    );

    // SIGINT ends a slow replay early, and what came so far is reported.
    let child = voxprobe()
        .args([
            "capture",
            "--format",
            "json",
            "--log-format",
            "json",
            "--replay",
        ])
        .arg(&small)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(400));
    let pid = child.id().to_string();
    // SIGHUP (systemctl reload) is answered, not fatal; SIGINT stops it.
    assert!(Command::new("kill")
        .args(["-HUP", &pid])
        .status()
        .unwrap()
        .success());
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert!(Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .unwrap()
        .success());
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    let analysed: u64 = err
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find_map(|l| l["frames"].as_u64())
        .unwrap_or_else(|| panic!("{err}"));
    assert!(
        analysed > 0 && (analysed as usize) < times.len(),
        "{analysed} of {}",
        times.len()
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("\"type\":\"summary\""));
    assert!(err.contains("SIGHUP"), "{err}");
}

#[test]
fn replay_loops_make_each_pass_new_calls_that_analyse_like_the_first() {
    let capture = project_dir().join("captures/calls.pcap");
    let offline = json_records(&capture, &[], "call");
    assert!(offline.len() >= 15);
    let out = voxprobe()
        .args(["capture", "--format", "json", "--speed", "0"])
        .args([
            "--replay-loops",
            "3",
            "--call-linger",
            "4",
            "--stream-timeout",
            "2",
        ])
        .args(["--call-idle-timeout", "30"])
        .arg("--replay")
        .arg(&capture)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("3 times"), "{err}");
    let records: Vec<serde_json::Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let calls: Vec<&serde_json::Value> = records.iter().filter(|r| r["type"] == "call").collect();
    assert_eq!(calls.len(), 3 * offline.len());
    let summary = records.iter().find(|r| r["type"] == "summary").unwrap();
    let offline_summary = &json_records(&capture, &[], "summary")[0];
    for protocol in ["rtp", "sip", "sdp"] {
        assert_eq!(
            summary["protocols"][protocol].as_u64().unwrap(),
            3 * offline_summary["protocols"][protocol].as_u64().unwrap(),
            "{protocol}"
        );
    }
    // Every call of the file, once per pass (also those that never end:
    // they time out before the next pass): each pass a gap (idle timeout,
    // linger and stream timeout, and a second) after the one before, with
    // the same outcome and quality.
    let time = |c: &serde_json::Value| unix_seconds(c["invite_time"].as_str().unwrap());
    let span = offline.iter().map(time).fold(f64::MIN, f64::max)
        - offline.iter().map(time).fold(f64::MAX, f64::min);
    for original in &offline {
        let mut passes: Vec<&&serde_json::Value> = calls
            .iter()
            .filter(|c| c["call_id"] == original["call_id"])
            .collect();
        passes.sort_by(|a, b| time(a).total_cmp(&time(b)));
        assert_eq!(passes.len(), 3, "{}", original["call_id"]);
        for pair in passes.windows(2) {
            let step = time(pair[1]) - time(pair[0]);
            assert!(step > span + 37.0, "{step} s between passes");
            assert!((step - (time(passes[1]) - time(passes[0]))).abs() < 1e-6);
        }
        for pass in passes {
            for field in ["outcome", "final_code", "setup_ms", "mos_caller_to_callee"] {
                assert_eq!(pass[field], original[field], "{field}");
            }
        }
    }
}

/// Seconds since 1970 of a record's `YYYY-MM-DDTHH:MM:SS.ffffffZ` time.
fn unix_seconds(t: &str) -> f64 {
    let number = |range: std::ops::Range<usize>| t[range].parse::<i64>().unwrap();
    let (year, month, day) = (number(0..4), number(5..7), number(8..10));
    // Days from 1970-01-01 to the date (the proleptic Gregorian calendar).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let year_of_era = y - era * 400;
    let day_of_year = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    let days = era * 146_097 + day_of_era - 719_468;
    let fraction: f64 = t[19..t.len() - 1].parse::<f64>().unwrap_or(0.0);
    (days * 86_400 + number(11..13) * 3600 + number(14..16) * 60 + number(17..19)) as f64 + fraction
}

#[test]
fn limits_are_options_and_what_they_refuse_is_counted() {
    let calls = project_dir().join("captures/calls.pcap");
    let all = json_records(&calls, &[], "call").len();
    assert!(all > 3);
    let summary = |capture: &std::path::Path, args: &[&str]| {
        json_records(capture, args, "summary")
            .pop()
            .expect("summary")
    };
    let capped = json_records(&calls, &["--max-calls", "3"], "call");
    assert_eq!(capped.len(), 3);
    let s = summary(&calls, &["--max-calls", "3"]);
    // Counted per refused INVITE (a refused call's retransmissions too).
    let refused = s["sip"]["calls_refused_table_full"].as_u64().unwrap();
    assert!(refused >= (all - 3) as u64, "{s}");
    let volte = project_dir().join("captures/volte.pcap");
    let s = summary(&volte, &["--max-exchanges", "2", "--max-procedures", "2"]);
    assert!(s["volte"]["exchanges_evicted"].as_u64() > Some(0), "{s}");
    assert!(s["volte"]["procedures_evicted"].as_u64() > Some(0), "{s}");
    let s = summary(&volte, &[]);
    assert_eq!(s["volte"]["exchanges_evicted"].as_u64(), Some(0), "{s}");
}

#[test]
fn live_path_reports_calls_as_they_close_with_the_records_analyze_gives() {
    // Short timeouts so calls close while the replay runs (about 3 s).
    let capture = project_dir().join("captures/calls.pcap");
    let timeouts = ["--call-linger", "1", "--stream-timeout", "1"];
    let live = voxprobe()
        .args(["capture", "--format", "json", "--log-format", "json"])
        .args(timeouts)
        .args(["--status-every", "1", "--speed", "8", "--replay"])
        .arg(&capture)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&live.stderr);
    assert_eq!(live.status.code(), Some(0), "{err}");
    let logs: Vec<serde_json::Value> = err
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let early = logs
        .iter()
        .find_map(|l| l["calls_early"].as_u64())
        .unwrap_or_else(|| panic!("{err}"));
    // A status line a second while frames come.
    let status = logs
        .iter()
        .find(|l| l["active_calls"].is_u64() && l["frames_per_s"].is_number())
        .unwrap_or_else(|| panic!("no status line: {err}"));
    assert!(status["frames"].as_u64() > Some(0), "{status}");
    let offline = voxprobe()
        .args(["analyze", "--format", "json"])
        .args(timeouts)
        .arg(&capture)
        .output()
        .unwrap();
    // The records of calls and streams, and the summary (the live run also
    // writes samples and call updates while it runs).
    let records = |out: &[u8]| {
        let mut lines: Vec<String> = String::from_utf8_lossy(out)
            .lines()
            .map(str::to_owned)
            .collect();
        let summary = lines.pop().unwrap_or_default();
        lines.retain(|l| {
            l.starts_with("{\"type\":\"call\"") || l.starts_with("{\"type\":\"stream\"")
        });
        lines.sort();
        (lines, summary)
    };
    let (live_lines, live_summary) = records(&live.stdout);
    let (offline_lines, offline_summary) = records(&offline.stdout);
    let calls = offline_lines
        .iter()
        .filter(|l| l.contains("\"type\":\"call\""))
        .count() as u64;
    assert!(
        early > 0 && early < calls,
        "{early} of {calls} calls before the end"
    );
    assert_eq!(
        live_lines, offline_lines,
        "the same call and stream records"
    );
    assert_eq!(live_summary, offline_summary);
    // And the live output put the early calls first: not in analyze's order.
    assert_ne!(
        String::from_utf8_lossy(&live.stdout),
        String::from_utf8_lossy(&offline.stdout)
    );
}
