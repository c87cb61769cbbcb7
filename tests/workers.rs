//! Media workers (`--workers N`) change where streams are measured, not
//! what: every capture, the project's and the shared ones, gives the same
//! records with workers as without.

use crate::support::project_dir;
use std::path::PathBuf;
use std::process::Command;

fn records(file: &std::path::Path, workers: &str) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_voxprobe"))
        .args(["analyze", "--format", "json", "-q", "--workers", workers])
        .arg(file)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn captures_in(dir: &std::path::Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let path = e.path();
        if path.is_dir() {
            captures_in(&path, out);
        } else if path
            .extension()
            .is_some_and(|x| x == "pcap" || x == "pcapng" || x == "cap")
        {
            out.push(path);
        }
    }
}

#[test]
fn workers_give_the_same_records_as_one_thread() {
    let mut files = Vec::new();
    captures_in(&project_dir().join("captures"), &mut files);
    if let Some(shared) = crate::support::shared_captures("workers on the shared captures") {
        captures_in(&shared, &mut files);
    }
    files.sort();
    assert!(files.len() >= 4);
    let mut streams = 0;
    for file in &files {
        let one = records(file, "0");
        streams += one.matches("\"type\":\"stream\"").count() + one.matches("\"ssrc\"").count();
        for workers in ["1", "3"] {
            assert!(
                records(file, workers) == one,
                "{}: --workers {workers} differs from one thread",
                file.display()
            );
        }
    }
    assert!(streams > 50, "the captures have streams to measure");
}
