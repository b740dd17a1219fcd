//! Prices, budgets, the recommendation and merging runs.

use crate::util::*;

/// Asserts a successful exit, showing stderr otherwise.
fn assert_ok(o: &std::process::Output) {
    assert_eq!(o.status.code(), Some(0), "{}", stderr(o));
}

fn quick_run(d: &std::path::Path, out: &str, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        "run",
        "--dataset",
        "iris",
        "--candidates",
        "logistic,tree",
        "--out",
        out,
    ];
    // Batch sizes may be given in `extra` instead.
    if extra.contains(&"--batch-sizes") {
        args.extend(quick_without("--batch-sizes"));
    } else {
        args.extend(QUICK);
    }
    // These tests check arithmetic over valid cells (costs, pooling), not noise.
    args.extend(LIFT_TIMING_VERDICTS);
    args.extend(extra);
    tradeoff(d, &args)
}

#[test]
fn priced_run_records_cost_and_recommends() {
    let d = dir("priced");
    let o = quick_run(
        &d,
        "a",
        &[
            "--usd-per-hour",
            "0.36",
            "--utilization",
            "1",
            "--slo-p50",
            "1s",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("Recommendation: logistic on cpu"), "{out}");
    let text = std::fs::read_to_string(d.join("a/results.jsonl")).unwrap();
    let recs: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    for r in recs.iter().filter(|r| r["kind"] == "cell") {
        let rps = r["throughput_rows_per_s"].as_f64().unwrap();
        // $0.36/h at full utilization: 0.36 / (rps * 3600) * 1e6.
        let expect = 0.36 / (rps * 3600.0) * 1e6;
        let got = r["usd_per_million"].as_f64().unwrap();
        assert!(
            (got - expect).abs() <= 1e-12 * expect.max(1.0),
            "{got} vs {expect}"
        );
        assert_eq!(r["device_kind"], "cpu");
    }
    let rec = recs.iter().find(|r| r["kind"] == "recommendation").unwrap();
    assert_eq!(rec["candidate"], "logistic");
    assert!(rec["reasons"].as_array().unwrap().len() >= 2);
}

#[test]
fn the_memory_budget_is_what_serving_the_model_costs() {
    let d = dir("serving-memory");
    // Far below the process (its data, its libraries), far above a small model's serving.
    let o = quick_run(&d, "a", &["--max-memory", "1MiB"]);
    assert_ok(&o);
    let out = stdout(&o);
    assert!(out.contains("Recommendation: logistic on cpu"), "{out}");
    for c in records_in(&d.join("a/results.jsonl"))
        .iter()
        .filter(|r| r["kind"] == "cell")
    {
        let m = &c["memory"];
        let serving = m["serving_bytes"].as_u64().unwrap();
        let model = m["model_on_target_bytes"].as_u64().unwrap();
        let batch = c["batch_size"].as_u64().unwrap();
        // The model, and at least one call's rows in (4 features) and out.
        assert!(serving >= model + batch * 4 * 4, "{c}");
        assert!(serving < (1 << 20), "{c}");
        assert!(c["peak_rss_bytes"].as_u64().unwrap() > (1 << 20), "{c}");
    }
}

#[test]
fn unpriced_run_says_no_price() {
    let d = dir("unpriced");
    let o = quick_run(&d, "a", &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("no price"), "{out}");
    assert!(!out.contains("$0"), "no invented figures: {out}");
}

#[test]
fn bad_cost_options_are_rejected() {
    let d = dir("cost-options");
    assert_fails(
        &tradeoff(&d, &["run", "--instance", "c9.huge"]),
        2,
        "no instance \"c9.huge\" in prices.toml (shipped); known:",
    );
    assert_fails(
        &tradeoff(&d, &["run", "--slo-p99", "fast"]),
        2,
        "invalid value \"fast\" for --slo-p99",
    );
    assert_fails(
        &tradeoff(&d, &["run", "--utilization", "1.5"]),
        2,
        "--utilization: must be in (0, 1]",
    );
    assert_fails(
        &tradeoff(&d, &["run", "--max-cost-per-million", "1"]),
        2,
        "needs a price",
    );
    write(&d, "p.toml", "[[instance]]\nname = \"x\"\nprice = 3\n");
    assert_fails(
        &tradeoff(&d, &["run", "--prices", "p.toml", "--instance", "x"]),
        2,
        "p.toml",
    );
}

#[test]
fn merge_builds_a_cross_hardware_table_and_merges_repeats() {
    let d = dir("merge");
    assert_ok(&quick_run(&d, "a", &["--instance", "c7i.xlarge"]));
    assert_ok(&quick_run(&d, "b", &["--usd-per-hour", "1.2"]));
    let o = tradeoff(
        &d,
        &["merge", "a/results.jsonl", "b/results.jsonl", "--out", "m"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.contains("cpu @ ") && out.contains("[c7i.xlarge]") && out.contains("[$1.2/h (given)]"),
        "{out}"
    );
    assert!(out.contains("Recommendation:"), "{out}");

    // A second run on the same machine at the same price repeats every cell: repeats timed
    // alike merge their histograms, so sample counts add up; every sample of both runs is
    // kept either way. Batch 2048's calls are long enough to be timed singly on any clock.
    let sizes = ["--batch-sizes", "1,2048", "--instance", "c7i.xlarge"];
    assert_ok(&quick_run(&d, "a2", &sizes));
    assert_ok(&quick_run(&d, "c2", &sizes));
    let o = tradeoff(
        &d,
        &[
            "merge",
            "a2/results.jsonl",
            "c2/results.jsonl",
            "--out",
            "twice",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let (a2, c2) = (
        records_in(&d.join("a2/results.jsonl")),
        records_in(&d.join("c2/results.jsonl")),
    );
    let two = records_in(&d.join("twice/results.jsonl"));
    let n = |recs: &[serde_json::Value]| -> u64 {
        recs.iter()
            .filter(|r| r["kind"] == "cell")
            .filter_map(|r| r["latency_ns"]["n"].as_u64())
            .sum()
    };
    assert_eq!(n(&two), n(&a2) + n(&c2));
    let pooled: Vec<&serde_json::Value> = two
        .iter()
        .filter(|r| r["kind"] == "cell" && r["batch_size"] == 2048)
        .collect();
    assert_eq!(pooled.len(), 2, "{pooled:?}");
    for r in &pooled {
        assert_eq!(r["merged_from"].as_array().unwrap().len(), 2, "{r}");
        assert_eq!(r["latency_ns"]["group_size"], 1, "{r}");
    }

    // The same run twice, or a merge merged again with one of its own inputs, would count
    // samples twice: refused, naming the run and both files.
    let o = tradeoff(
        &d,
        &[
            "merge",
            "a/results.jsonl",
            "a/results.jsonl",
            "--out",
            "dup",
        ],
    );
    assert_fails(
        &o,
        3,
        "is in the inputs twice (a/results.jsonl and a/results.jsonl)",
    );
    let o = tradeoff(
        &d,
        &[
            "merge",
            "twice/results.jsonl",
            "c2/results.jsonl",
            "--out",
            "dup",
        ],
    );
    assert_fails(&o, 3, "twice/results.jsonl and c2/results.jsonl");
    assert!(!d.join("dup/results.jsonl").exists());

    let one = records_in(&d.join("a/results.jsonl"));
    // Results are never overwritten: not an earlier merge's without --force, and never an
    // input's, even with it.
    let before = std::fs::read_to_string(d.join("m/results.jsonl")).unwrap();
    let o = tradeoff(&d, &["merge", "a/results.jsonl", "--out", "m"]);
    assert_fails(
        &o,
        2,
        "it already holds results.jsonl and manifest.json; give a new or empty directory, or --force to replace them",
    );
    assert_eq!(
        std::fs::read_to_string(d.join("m/results.jsonl")).unwrap(),
        before
    );
    let o = tradeoff(&d, &["merge", "a/results.jsonl", "--out", "a", "--force"]);
    assert_fails(&o, 2, "its results.jsonl is the input a/results.jsonl");
    assert_eq!(records_in(&d.join("a/results.jsonl")), one);
    let o = tradeoff(&d, &["merge", "a/results.jsonl", "--out", "m", "--force"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    // The manifest is written by rename: no temporary file is left beside it.
    let left: Vec<_> = std::fs::read_dir(d.join("m"))
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
    // `report --out` writes report files only; an input that is one of them in that
    // directory is refused, not overwritten.
    std::fs::copy(d.join("a/results.jsonl"), d.join("m/cells.csv")).unwrap();
    let o = tradeoff(&d, &["report", "m/cells.csv", "--out", "m"]);
    assert_fails(&o, 2, "the report would overwrite its input m/cells.csv");
    assert_eq!(records_in(&d.join("m/cells.csv")), one);
    let o = tradeoff(&d, &["report", "m/results.jsonl", "--out", "m"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(d.join("m/report.html").exists());
}

/// A run's records with a new run id (another run of the same cells) and one cell changed.
fn as_another_run(
    recs: &[serde_json::Value],
    run: &str,
    change: &dyn Fn(&mut serde_json::Value),
) -> String {
    let mut out = String::new();
    let mut changed = false;
    for r in recs {
        let mut r = r.clone();
        r["run_id"] = run.into();
        if !changed && r["kind"] == "cell" && r["status"] == "ok" && r["batch_size"] == 16 {
            change(&mut r);
            changed = true;
        }
        out.push_str(&(r.to_string() + "\n"));
    }
    assert!(changed);
    out
}

#[test]
fn merge_keeps_invalid_repeats_invalid() {
    let d = dir("merge-verdicts");
    assert_ok(&quick_run(&d, "a", &[]));
    let a = records_in(&d.join("a/results.jsonl"));
    // The same cells measured again, one of them judged unstable.
    let unstable = as_another_run(&a, "other-run", &|r| {
        r["status"] = "invalid".into();
        r["reason"] = "unstable: chunk medians vary by 31.0% (threshold 10.0%)".into();
        r["verdict"] = serde_json::json!({"valid": false, "reasons": [r["reason"].clone()]});
    });
    std::fs::create_dir_all(d.join("b")).unwrap();
    std::fs::write(d.join("b/results.jsonl"), unstable).unwrap();
    let o = tradeoff(
        &d,
        &["merge", "a/results.jsonl", "b/results.jsonl", "--out", "m"],
    );
    assert_ok(&o);
    let m = records_in(&d.join("m/results.jsonl"));
    let cells: Vec<&serde_json::Value> = m.iter().filter(|r| r["kind"] == "cell").collect();
    let bad: Vec<&&serde_json::Value> = cells.iter().filter(|r| r["status"] != "ok").collect();
    assert_eq!(bad.len(), 1, "{cells:?}");
    let bad = bad[0];
    assert_eq!(bad["status"], "invalid");
    assert_eq!(bad["verdict"]["valid"], false);
    assert!(
        bad["reason"]
            .as_str()
            .unwrap()
            .contains("unstable: chunk medians vary by 31.0% (threshold 10.0%) (run other-run)"),
        "{bad}"
    );
    // Both repeats are counted: the invalid one's samples are in the pooled histogram.
    let original = a
        .iter()
        .find(|r| {
            r["candidate"] == bad["candidate"]
                && r["target"] == bad["target"]
                && r["batch_size"] == bad["batch_size"]
        })
        .unwrap();
    assert_eq!(
        bad["latency_ns"]["n"].as_u64().unwrap(),
        2 * original["latency_ns"]["n"].as_u64().unwrap()
    );
    // The table marks it, and the recommendation does not use it.
    assert!(stdout(&o).contains("(run other-run)"), "{}", stdout(&o));
    // Every other cell pooled two valid repeats.
    for c in cells.iter().filter(|r| r["status"] == "ok") {
        assert_eq!(c["merged_from"].as_array().unwrap().len(), 2, "{c}");
        assert_eq!(c["verdict"]["valid"], true, "{c}");
    }
}

#[test]
fn merge_refuses_different_splits() {
    let d = dir("merge-refuse");
    assert_ok(&quick_run(&d, "a", &[]));
    let mut args = vec![
        "run",
        "--dataset",
        "iris",
        "--candidates",
        "tree",
        "--out",
        "b",
        "--seed",
        "7",
    ];
    args.extend(&QUICK[..QUICK.len() - 1]);
    assert_eq!(tradeoff(&d, &args).status.code(), Some(0));
    let o = tradeoff(&d, &["merge", "a/results.jsonl", "b/results.jsonl"]);
    assert_fails(&o, 3, "the runs used different data or splits");
    let o = tradeoff(
        &d,
        &[
            "merge",
            "a/results.jsonl",
            "b/results.jsonl",
            "--allow-different-data",
            "--out",
            "m",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}

fn records_in(p: &std::path::Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(p)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn report_renders_text_markdown_and_csv() {
    let d = dir("report");
    assert_ok(&quick_run(&d, "a", &["--usd-per-hour", "1"]));
    let md = stdout(&tradeoff(
        &d,
        &["report", "a/results.jsonl", "--format", "md"],
    ));
    assert!(md.starts_with("# tradeoff report"), "{md}");
    let table = md.find("| candidate | target |").expect("the cell table");
    assert!(
        md[table..]
            .lines()
            .nth(1)
            .unwrap()
            .starts_with("|---|---|---:|"),
        "{md}"
    );
    assert!(md.contains("**Recommendation: "), "{md}");
    // The run wrote its report: HTML with inline SVG, Markdown with SVGs beside it, CSV.
    let html = std::fs::read_to_string(d.join("a/report.html")).unwrap();
    assert!(html.contains("<svg class=\"plot\"") && html.contains("Recommendation: "));
    let md_file = std::fs::read_to_string(d.join("a/report.md")).unwrap();
    for name in ["pareto", "latency-logistic", "throughput-tree", "cost-tree"] {
        assert!(md_file.contains(&format!("]({name}.svg)")), "{md_file}");
        let svg = std::fs::read_to_string(d.join(format!("a/{name}.svg"))).unwrap();
        assert!(
            svg.starts_with("<svg") && svg.contains("class=\"series\""),
            "{name}"
        );
    }
    assert!(d.join("a/cells.csv").exists());
    // Only the Markdown format into a directory: report.md and its plots.
    let o = tradeoff(
        &d,
        &["report", "a/results.jsonl", "--format", "md", "--out", "md"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(d.join("md/report.md").exists() && d.join("md/pareto.svg").exists());
    assert!(!d.join("md/report.html").exists());
    // A results.jsonl that two runs appended to: the latest run is reported, with a note.
    let one = std::fs::read_to_string(d.join("a/results.jsonl")).unwrap();
    let run_id = cells_of(&one)[0]["run_id"].as_str().unwrap().to_string();
    let earlier = one.replace(&run_id, "1000-1");
    write(&d, "two.jsonl", &(earlier + &one));
    let o = tradeoff(&d, &["report", "two.jsonl", "--format", "csv"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("1 earlier runs left out"),
        "{}",
        stderr(&o)
    );
    assert!(!stdout(&o).contains("1000-1") && stdout(&o).contains(&run_id));
    let o = tradeoff(
        &d,
        &["report", "two.jsonl", "--format", "csv", "--all-runs"],
    );
    assert!(stdout(&o).contains("1000-1") && stdout(&o).contains(&run_id));
    let o = tradeoff(
        &d,
        &["report", "a/results.jsonl", "--format", "csv", "--out", "r"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let csv = std::fs::read_to_string(d.join("r/cells.csv")).unwrap();
    let rows: Vec<&str> = csv.lines().collect();
    assert!(
        rows[0].starts_with("run_id,candidate,family,target,device_kind"),
        "{}",
        rows[0]
    );
    // logistic and tree, two batch sizes each.
    assert_eq!(rows.len(), 1 + 4);
    assert!(rows[1..].iter().all(|r| r.contains(",cpu,cpu,")), "{csv}");
    let text = stdout(&tradeoff(&d, &["report", "a/results.jsonl"]));
    assert!(text.contains("$/1M @16"), "{text}");
    // A record that does not decode as its kind is named by file and line.
    write(&d, "not.jsonl", "{\"kind\":\"curve_fit\"}\n");
    assert_fails(
        &tradeoff(&d, &["report", "not.jsonl"]),
        3,
        &format!(
            "not.jsonl, line 1: not a curve_fit record of schema version {}: missing field",
            tradeoff_core::record::SCHEMA_VERSION
        ),
    );
    // A file of records but no cells or curve points has nothing to report.
    let only_recommendation: String = records_in(&d.join("a/results.jsonl"))
        .into_iter()
        .filter(|r| r["kind"] == "recommendation")
        .map(|r| format!("{r}\n"))
        .collect();
    write(&d, "none.jsonl", &only_recommendation);
    assert_fails(
        &tradeoff(&d, &["report", "none.jsonl"]),
        3,
        "no cell records and no curve points",
    );
}

fn cells_of(text: &str) -> Vec<serde_json::Value> {
    text.lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|r| r["kind"] == "cell")
        .collect()
}

#[test]
fn report_and_merge_read_every_complete_record_of_a_damaged_file() {
    let d = dir("damaged");
    assert_ok(&quick_run(&d, "a", &[]));
    // A line in the middle mangled, as a bad copy or a disk error leaves it.
    let path = d.join("a/results.jsonl");
    let text = std::fs::read_to_string(&path).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    let cells = lines
        .iter()
        .filter(|l| l.contains("\"kind\":\"cell\""))
        .count();
    let mangled = lines[1][..lines[1].len() / 2].to_string();
    lines[1] = &mangled;
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    let o = tradeoff(&d, &["report", "a/results.jsonl"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("a/results.jsonl, line 2: not a JSON record"),
        "{}",
        stderr(&o)
    );
    let o = tradeoff(&d, &["merge", "a/results.jsonl", "--out", "m"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("a/results.jsonl, line 2: not a JSON record ("),
        "{}",
        stderr(&o)
    );
    let merged = records_in(&d.join("m/results.jsonl"));
    assert_eq!(
        merged.iter().filter(|r| r["kind"] == "cell").count(),
        cells - 1,
        "every cell but the damaged one"
    );
    // A file with no record at all is still an error naming it.
    std::fs::write(d.join("junk.jsonl"), "not json\n").unwrap();
    let o = tradeoff(&d, &["report", "junk.jsonl"]);
    assert_fails(&o, 3, "junk.jsonl, line 1");
}

/// `run --scenarios offline,server`: one serving record per (candidate, target), with the
/// offline rates and each configuration's capacity under the budget, documented; the server
/// scenario without a budget is refused.
#[test]
fn serving_scenarios_write_offline_rates_and_capacity_under_the_budget() {
    let d = dir("serving");
    let o = quick_run(
        &d,
        "tradeoff-out",
        &[
            "--scenarios",
            "offline,server",
            "--slo-p99",
            "5ms",
            "--workers",
            "1",
            "--max-batch",
            "1,8",
            "--step-seconds",
            "0.2",
            "--offline-seconds",
            "0.2",
            "--instance",
            "c7i.large",
            "--traffic",
            "1000",
        ],
    );
    assert_ok(&o);
    let serving: Vec<serde_json::Value> = records_in(&d.join("tradeoff-out/results.jsonl"))
        .into_iter()
        .filter(|r| r["kind"] == "serving")
        .collect();
    // logistic and tree, on cpu.
    assert_eq!(serving.len(), 2, "{serving:?}");
    for r in &serving {
        assert_eq!(
            r["offline"].as_array().unwrap().len(),
            3,
            "batches 1, 8 and 16: {r}"
        );
        let caps = r["capacity"].as_array().unwrap();
        assert_eq!(caps.len(), 2, "max batch 1 and 8");
        for c in caps {
            let steps = c["steps"].as_array().unwrap();
            assert!(!steps.is_empty());
            if let Some(rps) = c["rps"].as_f64() {
                // The capacity is a rate whose step was valid and met the budget.
                let at = &c["at"];
                assert_eq!(at["offered_rps"].as_f64(), Some(rps));
                assert!(at["valid"].as_bool().unwrap() && at["p99_ns"].as_f64().unwrap() <= 5e6);
            } else {
                assert!(c["reason"].is_string(), "{c}");
            }
        }
    }
    let out = stdout(&o);
    assert!(
        out.contains("server capacity") && out.contains("cost at 1.00k rows/s"),
        "{out}"
    );
    // The recommendation is placed at the traffic, with its instance count, wherever a
    // candidate within the tolerance was served within the budget.
    let rec = records_in(&d.join("tradeoff-out/results.jsonl"))
        .into_iter()
        .find(|r| r["kind"] == "recommendation")
        .unwrap();
    let rec = &rec["recommendation"];
    if rec["candidate"].is_string() {
        let at = &rec["serving"];
        assert_eq!(at["traffic_rows_per_s"].as_f64(), Some(1000.0), "{rec}");
        let (cap, n) = (
            at["capacity_rows_per_s"].as_f64().unwrap(),
            at["instances"].as_u64().unwrap(),
        );
        // ceil(1000 / (capacity x 0.8)), the default headroom.
        assert_eq!(n, (1000.0 / (cap * 0.8)).ceil().max(1.0) as u64, "{rec}");
        assert!(rec["batch_size"].is_null(), "{rec}");
        assert!(
            out.contains(&format!(
                "instance{} for 1.00k rows/s.",
                if n == 1 { "" } else { "s" }
            )),
            "{out}"
        );
    }
    // The report shows the tables and the $/hour-against-traffic plot.
    let md = std::fs::read_to_string(d.join("tradeoff-out/report.md")).unwrap();
    assert!(
        md.contains("## Serving under load") && md.contains("server capacity"),
        "{md}"
    );
    let html = std::fs::read_to_string(d.join("tradeoff-out/report.html")).unwrap();
    assert!(html.contains("<h2>Serving under load</h2>"));
    if serving.iter().any(|r| {
        r["capacity"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["rps"].is_number())
    }) {
        assert!(
            d.join("tradeoff-out/serving-cost-logistic.svg").exists()
                || d.join("tradeoff-out/serving-cost-tree.svg").exists()
        );
        assert!(html.contains("$/hour to serve the traffic"));
    }
    // A second run priced as another instance, merged: the cost table and the intervals
    // span both machines, and the question is the fleet's.
    let mut b = SERVE_BRIEFLY.to_vec();
    b.extend(["--usd-per-hour", "0.05"]);
    let o2 = quick_run(&d, "b", &b);
    assert_ok(&o2);
    let m = tradeoff(
        &d,
        &[
            "merge",
            "tradeoff-out",
            "b",
            "--out",
            "m",
            "--traffic",
            "100..5000",
            "--headroom",
            "0.5",
        ],
    );
    assert_ok(&m);
    let out = stdout(&m);
    assert!(
        out.contains("cheapest way to serve from 100 to 5.00k rows/s"),
        "{out}"
    );
    // Pareto points of two machines name their machine: no two entries read alike.
    let pareto = out
        .lines()
        .find(|l| l.contains("Pareto front"))
        .unwrap_or_default();
    // Each entry is `name (score, p99, $)`; a machine's name holds parentheses too.
    let names: Vec<&str> = pareto
        .split_once("): ")
        .map_or("", |p| p.1)
        .split("), ")
        .map(|e| e.rsplit_once(" (").map_or(e, |p| p.0).trim())
        .collect();
    let distinct: std::collections::BTreeSet<&&str> = names.iter().collect();
    assert_eq!(distinct.len(), names.len(), "{pareto}");
    assert!(
        out.contains(
            "each instance loaded to at most 50% of its measured capacity (--headroom 0.5)"
        ),
        "{out}"
    );
    assert!(
        out.contains("a GPU instance or a CPU instance")
            || out.contains("no configuration met the budget"),
        "{out}"
    );
    assert_fails(
        &tradeoff(
            &d,
            &[
                "merge",
                "tradeoff-out",
                "b",
                "--out",
                "m2",
                "--headroom",
                "1",
            ],
        ),
        2,
        "--headroom",
    );
    crate::util::assert_documented(&d);
    assert_fails(
        &quick_run(&d, "t", &["--scenarios", "server"]),
        2,
        "give --slo-p99",
    );
}
