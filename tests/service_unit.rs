//! The systemd unit (`systemd/voxprobe.service`): systemd's own checks pass
//! (`systemd-analyze verify`), its exposure score stays within the target
//! (`systemd-analyze security --offline=true`, ≤ 2.0), and the probe accepts
//! the command line the unit runs with the example configuration
//! (`systemd/voxprobe.toml`).

use crate::support::{project_dir, skip};
use std::process::Command;

const MAX_EXPOSURE: f64 = 2.0;

/// The unit with its ExecStart pointing at the binary under test and at the
/// example configuration, whose interface is one that does not exist.
fn unit_for_test() -> (std::path::PathBuf, String) {
    let dir = std::env::temp_dir().join(format!("voxprobe-unit-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let config = std::fs::read_to_string(project_dir().join("systemd/voxprobe.toml")).unwrap();
    let config_path = dir.join("voxprobe.toml");
    std::fs::write(
        &config_path,
        config.replace("\"eth1\"", "\"vxp-no-such-if\""),
    )
    .unwrap();
    let text = std::fs::read_to_string(project_dir().join("systemd/voxprobe.service")).unwrap();
    let text = text
        .replace("/usr/local/bin/voxprobe", env!("CARGO_BIN_EXE_voxprobe"))
        .replace(
            "/etc/voxprobe/voxprobe.toml",
            &config_path.display().to_string(),
        );
    let path = dir.join("voxprobe.service");
    std::fs::write(&path, &text).unwrap();
    (path, text)
}

#[test]
fn unit_verifies_and_scores_within_the_exposure_target() {
    if Command::new("systemd-analyze")
        .arg("--version")
        .output()
        .is_err()
    {
        skip("service unit: systemd-analyze missing (Debian package systemd)");
        return;
    }
    let (path, text) = unit_for_test();
    let verify = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        verify.status.success() && verify.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&verify.stderr)
    );
    let security = Command::new("systemd-analyze")
        .args(["security", "--offline=true", "--no-pager"])
        .arg(&path)
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&security.stdout);
    let exposure: f64 = report
        .lines()
        .find_map(|l| {
            l.split("Overall exposure level for voxprobe.service:")
                .nth(1)
        })
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no exposure level in: {report}"));
    assert!(
        exposure <= MAX_EXPOSURE,
        "exposure {exposure} > {MAX_EXPOSURE}:\n{report}"
    );

    // ExecStart and the example configuration parse: the run fails on the
    // missing interface (exit 1), not on the options (exit 2).
    let exec = text
        .lines()
        .find_map(|l| l.strip_prefix("ExecStart="))
        .expect("ExecStart");
    let mut words = exec.split_whitespace();
    let program = words.next().unwrap();
    let out = Command::new(program).args(words).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("interface \"vxp-no-such-if\" not found"),
        "{stderr}"
    );
}
