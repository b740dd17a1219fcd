//! Helpers: a fresh directory per test and a way to run the binary in it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

static NEXT: AtomicUsize = AtomicUsize::new(0);

/// A new empty directory for one test.
pub fn dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!(
        "tradeoff-it-{}-{}-{}",
        name,
        std::process::id(),
        NEXT.fetch_add(1, Ordering::SeqCst)
    ));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

pub fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

/// The binary under test: cargo's build of it, or `TRADEOFF_BIN` where the test binary runs
/// on a machine without that build (`scripts/gpu-check.sh` on a borrowed GPU machine).
pub fn bin() -> PathBuf {
    std::env::var_os("TRADEOFF_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| env!("CARGO_BIN_EXE_tradeoff").into())
}

/// Runs `tradeoff` with `args` in `dir`.
pub fn tradeoff(dir: &Path, args: &[&str]) -> Output {
    Command::new(bin())
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the binary runs")
}

/// The quickest full run: few trials, folds and samples. The harness's verdicts stay on:
/// a cell this shared machine made unstable or preempted is marked invalid and the run still
/// exits 0; tests that count cells use [`assert_measured`], and tests that check arithmetic
/// over valid cells add [`LIFT_TIMING_VERDICTS`].
pub const QUICK: [&str; 11] = [
    "--targets=cpu",
    "--trials",
    "2",
    "--folds",
    "3",
    "--batch-sizes",
    "1,16",
    "--quick",
    "--quiet",
    "--time-cap=20",
    "--seed=42",
];

/// Serving under load, briefly: both scenarios, one worker, max batch 4, a 5 ms budget,
/// short steps.
pub const SERVE_BRIEFLY: [&str; 12] = [
    "--scenarios",
    "offline,server",
    "--slo-p99",
    "5ms",
    "--workers",
    "1",
    "--max-batch",
    "4",
    "--offline-seconds",
    "0.05",
    "--step-seconds",
    "0.1",
];

/// [`QUICK`] without one of its options (and its value), to give that option another value.
pub fn quick_without(option: &str) -> Vec<&'static str> {
    let at = QUICK
        .iter()
        .position(|a| *a == option)
        .expect("an option of QUICK");
    QUICK[..at]
        .iter()
        .chain(&QUICK[at + 2..])
        .copied()
        .collect()
}

/// Lifts the stability and preemption verdicts, for the few tests whose subject is
/// arithmetic over valid cells (merging, costs), not the measurement's noise.
pub const LIFT_TIMING_VERDICTS: [&str; 4] = ["--max-cv", "1000", "--max-cpu-wait", "100"];

/// A cell that was measured and whose predictions matched the reference: valid, or judged
/// invalid only for its timing (this machine is shared), never for parity.
pub fn assert_measured(r: &serde_json::Value) {
    match r["status"].as_str() {
        Some("ok") => assert_eq!(r["verdict"]["valid"], true, "{r}"),
        Some("invalid") => {
            let reasons = r["verdict"]["reasons"]
                .as_array()
                .expect("an invalid cell has reasons");
            assert!(!reasons.is_empty(), "{r}");
            for why in reasons {
                let why = why.as_str().unwrap();
                assert!(
                    ["unstable", "preempted", "insufficient samples"]
                        .iter()
                        .any(|t| why.starts_with(t)),
                    "invalid for a reason other than timing: {r}"
                );
            }
        }
        _ => panic!("not measured: {r}"),
    }
}

/// [`QUICK`] without its target choice, for tests that pick their targets.
pub fn quick_any_target() -> &'static [&'static str] {
    &QUICK[1..]
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// The records of `dir/tradeoff-out/results.jsonl`.
pub fn records(dir: &Path) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(dir.join("tradeoff-out/results.jsonl")).unwrap();
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// The run's manifest, `dir/tradeoff-out/manifest.json`.
pub fn manifest(dir: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("tradeoff-out/manifest.json")).unwrap())
        .unwrap()
}

/// The cell records only (runs also record their recommendation).
pub fn cells(dir: &Path) -> Vec<serde_json::Value> {
    records(dir)
        .into_iter()
        .filter(|r| r["kind"] == "cell")
        .collect()
}

/// Asserts the exit code and that stderr contains `needle`, and that nothing panicked.
pub fn assert_fails(o: &Output, code: i32, needle: &str) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(code), "stderr: {err}");
    assert!(err.contains(needle), "expected {needle:?} in: {err}");
    assert!(
        !err.contains("panicked") && !err.contains("internal error"),
        "{err}"
    );
}

/// A small CSV with numeric and text columns: `rows` rows, binary target `churned`.
pub fn mixed_csv(rows: usize) -> String {
    let mut s = String::from("age,plan,monthly,region,churned\n");
    for i in 0..rows {
        let plan = ["basic", "pro", "team"][i % 3];
        let region = ["north", "south"][(i / 3) % 2];
        let monthly = 10.0 + (i * 7 % 50) as f64;
        let age = 18 + (i * 13) % 60;
        let churned = if (monthly > 35.0) ^ (plan == "pro") {
            "yes"
        } else {
            "no"
        };
        s.push_str(&format!("{age},{plan},{monthly},{region},{churned}\n"));
    }
    s
}

/// Every field a command wrote into `dir/tradeoff-out` (each record's top-level fields, and
/// the manifest's) is documented in docs/results.md, in the section of its kind: the schema
/// there is checked against what the code writes.
pub fn assert_documented(dir: &Path) {
    let docs = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/results.md"))
        .expect("docs/results.md");
    // The `## ` section whose heading contains `needle`.
    let section = |needle: &str| -> &str {
        docs.split("\n## ")
            .find(|s| s.lines().next().is_some_and(|h| h.contains(needle)))
            .unwrap_or_else(|| panic!("docs/results.md has no section for {needle}"))
    };
    let mut missing = std::collections::BTreeSet::new();
    let mut check = |what: &str, fields: &serde_json::Value, text: &str| {
        // `kind` is each section's heading.
        for key in fields.as_object().expect("an object").keys() {
            if key != "kind" && !text.contains(&format!("`{key}`")) {
                missing.insert(format!("{what}.{key}"));
            }
        }
    };
    for r in records(dir) {
        let kind = r["kind"]
            .as_str()
            .expect("every record has a kind")
            .to_string();
        let heading = match kind.as_str() {
            "stream_step" | "stream_summary" => "Stream records".to_string(),
            k => format!("`kind: \"{k}\"`"),
        };
        check(&kind, &r, section(&heading));
    }
    check("manifest", &manifest(dir), section("Manifest"));
    assert!(
        missing.is_empty(),
        "fields written but not documented in their section of docs/results.md: {missing:?}"
    );
}
