//! The soak script (`scripts/soak`) in a short run: generated calls replayed
//! in a loop through the live pipeline with every sink on; the script checks
//! that every call is reported once per pass (and stored once in
//! ClickHouse) and that no counter goes backwards. The memory slope needs
//! minutes: the README's figures come from `scripts/soak` itself.

use crate::support::clickhouse::temp_dir;
use crate::support::project_dir;
use std::process::Command;
use voxprobe::synth::{generate, Scenario};

#[test]
fn a_short_soak_reports_every_call_once_per_pass_and_no_counter_goes_backwards() {
    let dir = temp_dir("soak");
    let capture = dir.join("calls.pcap");
    let mut pcap = Vec::new();
    let truth = generate(Scenario::CallsBulk { calls: 40 }, 11, &mut pcap).unwrap();
    std::fs::write(&capture, pcap).unwrap();
    let expected = dir.join("calls.expected.json");
    std::fs::write(&expected, serde_json::to_vec(&truth).unwrap()).unwrap();
    let out = Command::new("python3")
        .arg(project_dir().join("scripts/soak"))
        .args(["--seconds", "30", "--speed", "4"])
        .arg("--binary")
        .arg(env!("CARGO_BIN_EXE_voxprobe"))
        .arg("--capture")
        .arg(&capture)
        .arg("--expected")
        .arg(&expected)
        .arg("--out")
        .arg(dir.join("run"))
        .output()
        .unwrap();
    let said = crate::support::stdout_of_success(&out);
    let passes: usize = said
        .lines()
        .find_map(|l| {
            l.strip_prefix("soak: ")?
                .split(" passes of ")
                .next()?
                .parse()
                .ok()
        })
        .unwrap_or_else(|| panic!("{said}"));
    assert!(passes >= 5, "{said}");
    let reported = format!("{} calls reported ({} generated)", passes * 40, passes * 40);
    assert!(said.contains(&reported), "{said}");
    assert!(said.contains(" 0 counters backwards"), "{said}");
    // Thirty seconds cannot tell a memory trend from the swing within a
    // pass: the slope is reported, judged only in runs of 20 minutes on.
    assert!(
        said.contains("slope") && said.contains("not judged"),
        "{said}"
    );
    if crate::support::clickhouse::available("the soak's ClickHouse sink") {
        assert!(
            said.contains(&format!("ClickHouse {}", passes * 40)),
            "{said}"
        );
    }
    // The records themselves: each generated call once per pass.
    let records = std::fs::read(dir.join("run/records.jsonl")).unwrap();
    let calls: Vec<serde_json::Value> = crate::support::json_lines(&records)
        .into_iter()
        .filter(|r| r["type"] == "call")
        .collect();
    for call in &truth.calls {
        let n = calls
            .iter()
            .filter(|c| c["call_id"] == call.call_id)
            .count();
        assert_eq!(n, passes, "{}", call.call_id);
    }
}
