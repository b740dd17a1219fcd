//! `run --resume` after a kill or Ctrl-C, and stopping on signals. Runs are stopped at known
//! points with the test-only `TRADEOFF_FAULT` switch (the writer stalls for good after a
//! given record, or halfway through one), then killed from here.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::util::*;

/// Three candidates on one target at two batch sizes: six cells.
fn args() -> Vec<&'static str> {
    let mut a = vec![
        "run",
        "--dataset",
        "diabetes",
        "--candidates",
        "linear,tree,forest",
        "--no-report",
    ];
    a.extend_from_slice(&QUICK);
    a
}

fn spawn(d: &Path, args: &[&str], fault: &str) -> Child {
    Command::new(bin())
        .args(args)
        .current_dir(d)
        .env("TRADEOFF_FAULT", fault)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts")
}

/// Waits until `dir/tradeoff-out/results.jsonl` holds `lines` complete lines and, if
/// `partial`, a cut-off one after them (a guard against a hang, not a timing check).
fn wait_for(d: &Path, lines: usize, partial: bool) {
    let path = d.join("tradeoff-out/results.jsonl");
    let start = Instant::now();
    loop {
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        let complete = text.matches('\n').count();
        let cut = !text.is_empty() && !text.ends_with('\n');
        if complete == lines && cut == partial {
            return;
        }
        assert!(
            complete <= lines && start.elapsed() < Duration::from_secs(300),
            "waiting for {lines} lines (partial {partial}), found {complete}: {text}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// (candidate, target, batch size) of each cell of the directory's run, with counts.
fn cell_keys(d: &Path) -> BTreeMap<(String, String, u64), usize> {
    let run_id = manifest(d)["run_id"].clone();
    let mut keys = BTreeMap::new();
    for c in cells(d).into_iter().filter(|c| c["run_id"] == run_id) {
        let key = (
            c["candidate"].as_str().unwrap().to_string(),
            c["target"].as_str().unwrap().to_string(),
            c["batch_size"].as_u64().unwrap(),
        );
        *keys.entry(key).or_insert(0) += 1;
    }
    keys
}

#[test]
fn a_run_killed_at_three_points_resumes_to_the_cells_of_an_uninterrupted_one() {
    let whole = dir("resume-whole");
    let o = tradeoff(&whole, &args());
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let expected = cell_keys(&whole);
    assert_eq!(expected.len(), 6, "{expected:?}");

    // After the first record; halfway through the fourth; after the fifth.
    for (fault, lines, partial) in [
        ("stall-after:1", 1, false),
        ("stall-mid:3", 3, true),
        ("stall-after:5", 5, false),
    ] {
        let d = dir("resume-killed");
        let mut child = spawn(&d, &args(), fault);
        wait_for(&d, lines, partial);
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let run_id = manifest(&d)["run_id"].clone();

        let o = tradeoff(&d, &["run", "--resume", "tradeoff-out", "--quiet"]);
        assert_eq!(o.status.code(), Some(0), "{fault}: {}", stderr(&o));
        if partial {
            assert!(stderr(&o).contains("was cut off"), "{}", stderr(&o));
        }
        let got = cell_keys(&d);
        assert_eq!(
            got.keys().collect::<Vec<_>>(),
            expected.keys().collect::<Vec<_>>()
        );
        assert!(
            got.values().all(|&n| n == 1),
            "{fault}: a cell twice: {got:?}"
        );
        let m = manifest(&d);
        assert_eq!(m["run_id"], run_id, "the resumed run keeps its id");
        assert_eq!(m["resumed_unix_s"].as_array().unwrap().len(), 1);
        let recommendations = records(&d)
            .into_iter()
            .filter(|r| r["kind"] == "recommendation")
            .count();
        assert_eq!(recommendations, 1);

        // A finished run has nothing left to resume.
        let o = tradeoff(&d, &["run", "--resume", "tradeoff-out"]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        assert!(stdout(&o).contains("nothing to resume"), "{}", stdout(&o));
        assert_eq!(records(&d).len(), 7);
    }
}

/// A run that serves under load, killed after a candidate's cells and before its serving
/// record: the resume serves that candidate (fitting it again), and the tables and the
/// recommendation cover every serving record, those from before the kill included.
#[test]
fn a_run_killed_before_a_serving_record_serves_that_target_on_resume() {
    let d = dir("resume-serving");
    let mut a = args();
    a[4] = "linear,tree";
    a.extend(SERVE_BRIEFLY);
    a.extend(["--traffic", "1000"]);
    // linear's two cells are written; its serving record would be the third.
    let mut child = spawn(&d, &a, "stall-after:2");
    wait_for(&d, 2, false);
    child.kill().unwrap();
    child.wait().unwrap();
    let o = tradeoff(&d, &["run", "--resume", "tradeoff-out"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let serving: Vec<String> = records(&d)
        .into_iter()
        .filter(|r| r["kind"] == "serving")
        .map(|r| r["candidate"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(serving, ["linear", "tree"], "one serving record each");
    assert!(cell_keys(&d).values().all(|&n| n == 1), "a cell twice");
    // The resumed run's capacity table lists both candidates.
    let out = stdout(&o);
    let table = out.split("server capacity").nth(1).unwrap_or_default();
    assert!(table.contains("linear") && table.contains("tree"), "{out}");
}

#[test]
fn ctrl_c_stops_between_records_with_exit_130() {
    let d = dir("sigint");
    let child = spawn(&d, &args(), "stall-after:2");
    wait_for(&d, 2, false);
    let sent = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(130), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("interrupted: the records so far are kept in")
            && stderr(&o).contains("tradeoff run --resume"),
        "{}",
        stderr(&o)
    );
    let text = std::fs::read_to_string(d.join("tradeoff-out/results.jsonl")).unwrap();
    assert!(text.ends_with('\n') && text.lines().count() == 2, "{text}");
    let o = tradeoff(&d, &["run", "--resume", "tradeoff-out", "--quiet"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(cell_keys(&d).len(), 6);
}

#[test]
fn resume_refuses_what_it_cannot_finish() {
    let d = dir("resume-refused");
    let o = tradeoff(&d, &["run", "--resume", "nowhere"]);
    assert_fails(
        &o,
        2,
        "invalid value \"nowhere\" for --resume: cannot open the directory",
    );
    std::fs::create_dir(d.join("empty")).unwrap();
    let o = tradeoff(&d, &["run", "--resume", "empty"]);
    assert_fails(&o, 2, "no run to resume");
    let o = tradeoff(&d, &["run", "--resume", "empty", "--candidates", "linear"]);
    assert_fails(
        &o,
        2,
        "give none but --quiet and --json (given: --candidates)",
    );

    // The data changed under an interrupted run: resuming would mix two datasets.
    let mut a = vec![
        "run",
        "--data",
        "in.csv",
        "--target",
        "churned",
        "--no-report",
    ];
    a.extend_from_slice(&QUICK);
    write(&d, "in.csv", &mixed_csv(60));
    let mut child = spawn(&d, &a, "stall-after:1");
    wait_for(&d, 1, false);
    child.kill().unwrap();
    child.wait().unwrap();
    write(&d, "in.csv", &mixed_csv(61));
    let o = tradeoff(&d, &["run", "--resume", "tradeoff-out"]);
    assert_fails(&o, 3, "the run's data or split changed since it began");
}

#[test]
fn runs_that_do_not_belong_together_are_named_not_mixed() {
    // Two datasets into one --out: a warning, and a report of both is refused.
    let d = dir("two-datasets");
    for dataset in ["iris", "diabetes"] {
        let mut a = vec!["run", "--dataset", dataset, "--no-report"];
        a.extend_from_slice(&QUICK);
        a.extend(["--candidates", "tree"]);
        let o = tradeoff(&d, &a);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    }
    let warnings = manifest(&d)["warnings"].to_string();
    assert!(warnings.contains("holds the results of run"), "{warnings}");
    let o = tradeoff(&d, &["report", "tradeoff-out/results.jsonl", "--all-runs"]);
    assert_fails(
        &o,
        3,
        "the runs used different data or splits, so one table would mix them",
    );
    let o = tradeoff(
        &d,
        &["report", "tradeoff-out/results.jsonl", "--format", "text"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));

    // A damaged latency histogram is named by file and line.
    let text = std::fs::read_to_string(d.join("tradeoff-out/results.jsonl")).unwrap();
    let at = text.find("\"histogram\":\"").unwrap() + "\"histogram\":\"".len();
    let damaged = format!("{}AAAA{}", &text[..at], &text[at + 8..]);
    write(&d, "damaged.jsonl", &damaged);
    let line = text[..at].matches('\n').count() + 1;
    let o = tradeoff(&d, &["report", "damaged.jsonl", "--all-runs"]);
    assert_fails(
        &o,
        3,
        &format!("damaged.jsonl, line {line}: latency histogram: damaged"),
    );

    // An interrupted run's report says so, and which candidates have no cell.
    let d = dir("interrupted-report");
    let mut child = spawn(&d, &args(), "stall-after:2");
    wait_for(&d, 2, false);
    child.kill().unwrap();
    child.wait().unwrap();
    let o = tradeoff(
        &d,
        &["report", "tradeoff-out/results.jsonl", "--format", "text"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("is incomplete (no recommendation recorded")
            && stderr(&o).contains("candidates with no cell yet: tree, forest")
            && stderr(&o).contains("tradeoff run --resume tradeoff-out"),
        "{}",
        stderr(&o)
    );
}
