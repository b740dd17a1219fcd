//! What a person sees: `--json` summaries, log levels, progress bars only on a terminal.

use std::process::Command;

use crate::util::{cells, dir, stderr, stdout, tradeoff, LIFT_TIMING_VERDICTS, QUICK};

#[test]
fn json_summary_is_the_whole_of_stdout() {
    let d = dir("json");
    let mut args = vec!["run", "--candidates", "logistic,tree", "--json"];
    args.extend(QUICK);
    // The summary must hold a recommendation, which needs valid cells.
    args.extend(LIFT_TIMING_VERDICTS);
    let o = tradeoff(&d, &args);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).expect("stdout is one JSON value");
    assert_eq!(v["command"], "run");
    assert_eq!(v["exit_code"], 0);
    let written = cells(&d);
    let listed = v["cells"].as_array().unwrap();
    assert_eq!(listed.len(), written.len());
    for (l, w) in listed.iter().zip(&written) {
        assert_eq!(l["candidate"], w["candidate"]);
        assert_eq!(l["batch_size"], w["batch_size"]);
        assert_eq!(l["p50_ns"], w["latency_ns"]["p50"]);
    }
    assert!(v["recommendation"]["candidate"].is_string(), "{v}");
    let results = v["files"]["results"].as_str().unwrap();
    assert!(d.join(results).exists(), "{results}");
    assert!(d.join(v["files"]["report"].as_str().unwrap()).exists());
}

#[test]
fn verbose_logs_each_measurement_and_plain_stderr_has_no_escape_codes() {
    let d = dir("verbose");
    let mut args = vec!["-v", "run", "--candidates", "logistic"];
    // QUICK without --quiet: progress lines, but no bars when stderr is not a terminal.
    args.extend(QUICK.iter().filter(|a| **a != "--quiet"));
    let o = tradeoff(&d, &args);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("INFO") && err.contains("measured"), "{err}");
    assert!(err.contains("[1/1] logistic:"), "{err}");
    assert!(
        !err.contains('\x1b'),
        "no escape codes off a terminal: {err:?}"
    );
    let mut args = vec!["run", "--candidates", "logistic"];
    args.extend(QUICK);
    let o = tradeoff(&d, &args);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(!stderr(&o).contains("INFO"), "no -v, no info lines");
}

/// A successful run prints no `error:` line: a user reads those as ours. Mesa's Vulkan
/// device-select layer prints two through libwayland when `XDG_RUNTIME_DIR` is unset (a
/// container, cron, `su`), on every run that lists adapters; where Mesa is not installed
/// there is nothing to print and this checks only our own lines.
#[test]
fn a_run_without_a_session_runtime_dir_prints_no_error_lines() {
    let d = dir("no-xdg");
    let mut args = vec!["run", "--candidates", "logistic"];
    args.extend(QUICK);
    let o = Command::new(crate::util::bin())
        .args(&args)
        .current_dir(&d)
        .env_remove("XDG_RUNTIME_DIR")
        .env_remove("NODEVICE_SELECT")
        .output()
        .expect("the binary runs");
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        !err.lines().any(|l| l.starts_with("error")),
        "a successful run printed an error line: {err}"
    );
}

/// Under a pseudo-terminal (util-linux `script`), the bars are drawn; `--quiet` hides them.
#[test]
fn progress_bars_on_a_terminal_only() {
    if Command::new("script").arg("--version").output().is_err() {
        eprintln!("skipped: no `script` (util-linux) to make a pseudo-terminal");
        return;
    }
    let d = dir("pty");
    let run = |extra: &str| {
        let cmd = format!(
            "{} run --candidates logistic,tree {} {extra}",
            crate::util::bin().display(),
            QUICK
                .iter()
                .filter(|a| **a != "--quiet")
                .cloned()
                .collect::<Vec<_>>()
                .join(" ")
        );
        let o = Command::new("script")
            .args(["-qefc", &cmd, "/dev/null"])
            .current_dir(&d)
            .env("COLUMNS", "120")
            .output()
            .expect("script runs");
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stdout));
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    let screen = run("");
    assert!(screen.contains("candidates ["), "{screen}");
    assert!(screen.contains("/2 "), "{screen}");
    let quiet = run("--quiet");
    assert!(!quiet.contains("candidates ["), "{quiet}");
}
