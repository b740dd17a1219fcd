//! `run --isolate`: each (candidate, target) measured in a child process; a target that
//! crashes or hangs there fails its own cells, with the reason, and the run goes on. The
//! crash is a real signal: the test-only `TRADEOFF_FAULT=abort-in:ID` makes the child that
//! measures target ID abort before it loads the model, `hang-in:ID` makes it sleep.

use std::path::Path;
use std::process::{Command, Output};

use crate::util::*;

fn run(d: &Path, fault: &str, extra: &[&str]) -> Output {
    run_in(d, fault, extra, &std::env::temp_dir())
}

/// `run` of logistic on iris on the cpu and candle-cpu targets, each in a child process.
fn args() -> Vec<&'static str> {
    let mut args = vec![
        "run",
        "--dataset",
        "iris",
        "--candidates",
        "logistic",
        "--targets",
        "cpu,candle-cpu",
        "--isolate",
        "all",
        "--no-report",
    ];
    args.extend(QUICK.iter().filter(|a| !a.starts_with("--targets")));
    args
}

fn run_in(d: &Path, fault: &str, extra: &[&str], tmp: &Path) -> Output {
    let mut args = args();
    args.extend(extra);
    Command::new(bin())
        .args(&args)
        .current_dir(d)
        .env("TRADEOFF_FAULT", fault)
        .env("TMPDIR", tmp)
        .output()
        .expect("the binary runs")
}

/// The cpu target's two cells were measured, and the run ended with its recommendation.
fn cpu_measured_and_run_finished(d: &Path) {
    let cpu: Vec<_> = cells(d)
        .into_iter()
        .filter(|c| c["target"] == "cpu")
        .collect();
    assert_eq!(cpu.len(), 2);
    for c in &cpu {
        assert_measured(c);
        assert!(c["parity_rows"].as_u64().unwrap() > 0, "{c}");
    }
    assert!(records(d).iter().any(|r| r["kind"] == "recommendation"));
}

/// The one record of `target` (it failed before recording any cell).
fn only_record(d: &Path, target: &str) -> Vec<serde_json::Value> {
    let of: Vec<_> = cells(d)
        .into_iter()
        .filter(|c| c["target"] == target)
        .collect();
    assert_eq!(of.len(), 1, "{of:?}");
    of
}

#[test]
fn a_target_that_aborts_fails_its_cells_and_the_run_goes_on() {
    let d = dir("isolate-abort");
    let o = run(&d, "abort-in:candle-cpu", &[]);
    assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));
    let candle = only_record(&d, "candle-cpu");
    // Nothing was recorded before the crash: one record for the whole target.
    assert_eq!(candle[0]["status"], "failed");
    assert_eq!(candle[0]["isolated"], true);
    assert_eq!(candle[0]["batch_size"], 0);
    let why = candle[0]["reason"].as_str().unwrap();
    assert!(why.contains("killed by signal 6 (SIGABRT)"), "{why}");
    cpu_measured_and_run_finished(&d);
}

#[test]
fn a_target_that_hangs_is_killed_at_the_cell_timeout() {
    let d = dir("isolate-hang");
    let o = run(&d, "hang-in:candle-cpu", &["--cell-timeout", "3"]);
    assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));
    let candle = only_record(&d, "candle-cpu");
    let why = candle[0]["reason"].as_str().unwrap();
    assert!(
        why.contains("finished no cell and reported no progress within 3 s"),
        "{why}"
    );
    cpu_measured_and_run_finished(&d);
}

#[test]
fn a_scratch_directory_that_cannot_take_the_job_fails_the_cells_and_the_run_goes_on() {
    let d = dir("isolate-scratch");
    // Every target isolated, and nowhere to write the jobs: every cell fails, saying why,
    // and the run still ends with its records and recommendation.
    let o = run_in(&d, "", &[], &d.join("no-such-dir"));
    assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));
    let all = cells(&d);
    assert_eq!(all.len(), 2, "one record per target: {all:?}");
    for c in &all {
        assert_eq!(c["status"], "failed", "{c}");
        let why = c["reason"].as_str().unwrap();
        assert!(why.contains("its job could not be written to"), "{why}");
        assert!(why.contains("no-such-dir"), "{why}");
    }
    assert!(records(&d).iter().any(|r| r["kind"] == "recommendation"));
}

#[test]
fn isolated_cells_are_measured_like_the_others() {
    let d = dir("isolate-ok");
    let o = run(&d, "", &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let all = cells(&d);
    assert_eq!(all.len(), 4, "two targets, two batch sizes");
    for c in &all {
        assert_measured(c);
        assert_eq!(c["isolated"], true, "{c}");
        assert!(c["parity_max_abs_err"].as_f64().unwrap() < 1e-4, "{c}");
        assert!(c["cold_ns"].as_f64().unwrap() > 0.0, "{c}");
    }
    // A bad timeout is an option error before any work.
    let o = tradeoff(&d, &["run", "--dataset", "iris", "--cell-timeout", "0"]);
    assert_fails(&o, 2, "--cell-timeout");
}

/// Targets in a child process are served under load there: each writes its serving record
/// like a target of the run's own process. A child that dies while serving keeps its cells,
/// and its serving record says how it ended.
#[test]
fn isolated_targets_are_served_under_load_and_a_crash_while_serving_is_recorded() {
    let d = dir("isolate-serving");
    let o = run(&d, "abort-serving:candle-cpu", &SERVE_BRIEFLY);
    let served: Vec<serde_json::Value> = records(&d)
        .into_iter()
        .filter(|r| r["kind"] == "serving")
        .collect();
    assert_eq!(served.len(), 2, "{}\n{served:?}", stderr(&o));
    let of = |t: &str| served.iter().find(|r| r["target"] == t).unwrap();
    let cpu = of("cpu");
    assert!(cpu["reason"].is_null(), "{cpu}");
    // The cpu target's workers share one loaded model.
    assert_eq!(cpu["weights_shared"], true, "{cpu}");
    assert_eq!(
        cpu["offline"].as_array().unwrap().len(),
        3,
        "batches 1, 4, 16: {cpu}"
    );
    assert_eq!(cpu["capacity"].as_array().unwrap().len(), 1, "{cpu}");
    let candle = of("candle-cpu");
    let why = candle["reason"].as_str().unwrap_or_default();
    assert!(
        why.contains("killed by signal 6 (SIGABRT) before its serving record was written"),
        "{why}"
    );
    // Its cells were measured before the crash, and kept.
    let kept = cells(&d)
        .into_iter()
        .filter(|c| c["target"] == "candle-cpu" && c["status"] != "failed")
        .count();
    assert_eq!(kept, 2);
}

#[test]
fn ctrl_c_during_an_isolated_target_leaves_its_cells_to_resume() {
    use std::os::unix::process::CommandExt;
    use std::time::{Duration, Instant};
    let d = dir("isolate-interrupt");
    // The child's job files go to the temporary directory: this test's own, to see that
    // none is left behind.
    let tmp = d.join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    // Its own process group, as a shell gives a command: Ctrl-C reaches the run and its
    // child together.
    let child = Command::new(bin())
        .args(args())
        .current_dir(&d)
        .env("TMPDIR", &tmp)
        .env("TRADEOFF_FAULT", "hang-in:candle-cpu")
        .process_group(0)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // The cpu cells are recorded, then candle-cpu's child hangs (a guard against a hang of
    // the test itself, not a timing check).
    let start = Instant::now();
    while std::fs::read_to_string(d.join("tradeoff-out/results.jsonl"))
        .unwrap_or_default()
        .lines()
        .count()
        < 2
    {
        assert!(start.elapsed() < Duration::from_secs(120), "no cpu cells");
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(500));
    let group = format!("-{}", child.id());
    let sent = Command::new("kill")
        .args(["-INT", "--", &group])
        .status()
        .unwrap();
    assert!(sent.success());
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(130), "{}", stderr(&o));
    let left: Vec<_> = std::fs::read_dir(&tmp).unwrap().collect();
    assert!(left.is_empty(), "job files left behind: {left:?}");
    // No record says candle-cpu failed: its cells are missing, and resuming measures them.
    let targets: Vec<_> = cells(&d).iter().map(|c| c["target"].clone()).collect();
    assert_eq!(targets, ["cpu", "cpu"]);
    let o = tradeoff(&d, &["run", "--resume", "tradeoff-out", "--quiet"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let candle: Vec<_> = cells(&d)
        .into_iter()
        .filter(|c| c["target"] == "candle-cpu")
        .collect();
    assert_eq!(candle.len(), 2);
    candle.iter().for_each(assert_measured);
}
