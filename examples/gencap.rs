//! Writes a synthetic capture and its expected results.
//!
//! ```text
//! cargo run --release --example gencap -- --scenario NAME --seed N [--packets N | --calls N] -o FILE.pcap [--expected FILE.json]
//! ```
//!
//! Scenarios: `impairments`, `sip-call`, `throughput` (`--packets`, default
//! 5 000 000), `calls`, `calls-bulk` (`--calls`, default 1000; `--packets`
//! is accepted as the same count). Without `--expected`, the JSON goes next to the pcap as
//! `FILE.expected.json`. The same scenario and seed always give the same bytes.

use anyhow::{bail, Context, Result};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use voxprobe::synth::{generate, Scenario};

const USAGE: &str =
    "usage: gencap --scenario NAME --seed N [--packets N | --calls N] -o FILE.pcap [--expected FILE.json]
scenarios: impairments, sip-call, throughput (--packets), calls, calls-bulk (--calls), volte,
volte-bulk (--calls)";

struct Args {
    scenario: Scenario,
    seed: u64,
    out: PathBuf,
    expected: PathBuf,
}

fn parse_args() -> Result<Args> {
    let mut scenario = None;
    let mut seed = None;
    let mut size = None;
    let mut out = None;
    let mut expected = None;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        if flag == "-h" || flag == "--help" {
            println!("{USAGE}");
            std::process::exit(0);
        }
        let value = args
            .next()
            .with_context(|| format!("{flag} needs a value\n{USAGE}"))?;
        match flag.as_str() {
            "--scenario" => scenario = Some(value),
            "--seed" => {
                seed = Some(
                    value
                        .parse::<u64>()
                        .with_context(|| format!("--seed {value}: not a number"))?,
                )
            }
            "--packets" | "--calls" => {
                size = Some(
                    value
                        .parse::<u64>()
                        .with_context(|| format!("{flag} {value}: not a number"))?,
                )
            }
            "-o" | "--output" => out = Some(PathBuf::from(value)),
            "--expected" => expected = Some(PathBuf::from(value)),
            other => bail!("unknown option {other}\n{USAGE}"),
        }
    }
    let name = scenario.with_context(|| format!("--scenario is required\n{USAGE}"))?;
    let scenario = Scenario::from_name(&name, size).with_context(|| {
        format!(
            "unknown scenario {name}; choose one of {}",
            Scenario::NAMES.join(", ")
        )
    })?;
    let seed = seed.with_context(|| format!("--seed is required\n{USAGE}"))?;
    let out = out.with_context(|| format!("-o FILE.pcap is required\n{USAGE}"))?;
    let expected = expected.unwrap_or_else(|| {
        let stem = out
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        out.with_file_name(format!("{stem}.expected.json"))
    });
    Ok(Args {
        scenario,
        seed,
        out,
        expected,
    })
}

fn main() -> Result<()> {
    let args = parse_args()?;
    let file = File::create(&args.out)
        .with_context(|| format!("{}: cannot create", args.out.display()))?;
    let mut w = BufWriter::with_capacity(1 << 20, file);
    let truth = generate(args.scenario, args.seed, &mut w)
        .with_context(|| format!("{}: write failed", args.out.display()))?;
    w.flush()
        .with_context(|| format!("{}: write failed", args.out.display()))?;
    let mut json = serde_json::to_string_pretty(&truth)?;
    json.push('\n');
    std::fs::write(&args.expected, json)
        .with_context(|| format!("{}: write failed", args.expected.display()))?;
    eprintln!(
        "{}: {} frames ({} RTP in {} streams, {} RTCP, {} SIP, {} calls); expected results in {}",
        args.out.display(),
        truth.frames,
        truth.rtp_packets,
        truth.streams.len(),
        truth.rtcp_packets,
        truth.sip_messages,
        truth.calls.len(),
        args.expected.display()
    );
    Ok(())
}
