//! `tradeoff run` end to end: records, manifest, data paths.

use crate::util::*;

const REQUIRED: [&str; 16] = [
    "schema_version",
    "candidate",
    "family",
    "target",
    "batch_size",
    "status",
    "scores",
    "latency_ns",
    "throughput_rows_per_s",
    "model_bytes",
    "fit_seconds",
    "peak_rss_bytes",
    "data_hash",
    "fold_hash",
    "cold_ns",
    "params",
];

#[test]
fn builtin_dataset_run_writes_complete_records() {
    let d = dir("iris");
    let mut args = vec![
        "run",
        "--dataset",
        "iris",
        "--candidates",
        "linear,logistic,tree,forest,gbm",
    ];
    args.extend(QUICK);
    let o = tradeoff(&d, &args);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("protocol  seed 42"), "{out}");
    assert!(out.contains("p50/p99 @16"), "{out}");

    let recs = cells(&d);
    // linear: one unsupported record; four candidates x two batch sizes measured.
    assert_eq!(recs.len(), 1 + 4 * 2);
    let linear = &recs[0];
    assert_eq!(linear["candidate"], "linear");
    assert_eq!(linear["status"], "unsupported");
    assert!(linear["reason"].as_str().unwrap().contains("regression"));
    let fold_hash = &recs[1]["fold_hash"];
    for r in &recs[1..] {
        for f in REQUIRED {
            assert!(r.get(f).is_some(), "record lacks {f}: {r}");
        }
        assert_measured(r);
        assert_eq!(r["target"], "cpu");
        assert_eq!(
            &r["fold_hash"], fold_hash,
            "every candidate sees the same folds"
        );
        let acc = r["scores"]["accuracy"].as_f64().unwrap();
        assert!(acc > 0.8, "iris is easy; {} got {acc}", r["candidate"]);
        let lat = &r["latency_ns"];
        assert!(lat["p50"].as_f64().unwrap() <= lat["p90"].as_f64().unwrap());
        assert!(r["throughput_rows_per_s"].as_f64().unwrap() > 0.0);
        // The cpu target too is checked against the model's definition, at each batch size:
        // iris's 30 test rows, in calls of the batch size (two calls of 16 rows).
        assert!(r["parity_max_abs_err"].as_f64().unwrap() < 1e-5, "{r}");
        let rows = if r["batch_size"] == 1 { 30 } else { 32 };
        assert_eq!(r["parity_rows"], rows, "{r}");
        assert_eq!(r["trials"], 2);
    }
    let ids: Vec<&str> = recs
        .iter()
        .map(|r| r["candidate"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        ["linear", "logistic", "logistic", "tree", "tree", "forest", "forest", "gbm", "gbm"]
    );

    let m = manifest(&d);
    assert_eq!(m["dataset"], "builtin:iris");
    assert_eq!(m["fold_hash"], *fold_hash);
    assert_eq!(m["protocol"]["folds"], 3);
    assert!(m["dependencies"]["linfa"].is_string());

    // A second run appends, and keeps the first manifest.
    let o = tradeoff(&d, &args);
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(cells(&d).len(), 2 * recs.len());
    let kept = std::fs::read_dir(d.join("tradeoff-out"))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .starts_with("manifest-")
        })
        .count();
    assert_eq!(kept, 1);
}

/// Two processes with the same seed train the same models: every library is seeded and our
/// splits use our own RNG (this caught linfa-trees, whose trees vary between processes).
#[test]
fn same_seed_same_models_in_another_process() {
    for (dataset, candidates, metric) in [
        (
            "synthetic:regression,rows=300,features=4",
            "linear,tree,forest,gbm",
            "r2",
        ),
        (
            "synthetic:classification,rows=400,features=5,classes=3",
            "logistic,tree,forest,gbm",
            "accuracy",
        ),
    ] {
        let d1 = dir("seed1");
        let d2 = dir("seed2");
        let mut args = vec!["run", "--dataset", dataset, "--candidates", candidates];
        args.extend(QUICK);
        assert_eq!(tradeoff(&d1, &args).status.code(), Some(0));
        assert_eq!(tradeoff(&d2, &args).status.code(), Some(0));
        let (a, b) = (cells(&d1), cells(&d2));
        assert_eq!(a.len(), b.len());
        for (x, y) in a.iter().zip(&b) {
            assert_eq!(x["fold_hash"], y["fold_hash"]);
            assert_eq!(x["params"], y["params"]);
            assert_eq!(x["scores"], y["scores"], "{}", x["candidate"]);
            assert_eq!(x["model_bytes"], y["model_bytes"], "{}", x["candidate"]);
        }
        assert!(a[0]["scores"][metric].as_f64().unwrap() > 0.5, "{}", a[0]);
    }
}

#[test]
fn csv_with_text_columns_and_fixed_parameters() {
    let d = dir("csv");
    write(&d, "train.csv", &mixed_csv(200));
    let mut args = vec![
        "run",
        "--data",
        "train.csv",
        "--target",
        "churned",
        "--candidates",
        "logistic,tree:max_depth=3,min_leaf=2",
    ];
    args.extend(QUICK);
    let o = tradeoff(&d, &args);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let recs = cells(&d);
    let tree = recs.iter().find(|r| r["candidate"] == "tree").unwrap();
    assert_eq!(tree["tuned"], false);
    assert_eq!(tree["params"]["max_depth"], 3.0);
    assert_eq!(tree["params"]["min_leaf"], 2.0);
    assert_eq!(tree["task"], "binary");
    assert!(tree["scores"]["roc_auc"].is_number());
    let logistic = recs.iter().find(|r| r["candidate"] == "logistic").unwrap();
    assert_eq!(logistic["tuned"], true);
    assert!(logistic["cv_score"]["mean"].is_number());
}

#[test]
fn missing_values_rejected_then_dropped_or_imputed() {
    let d = dir("missing");
    let mut text = mixed_csv(120);
    text = text.replacen("\n18,", "\nNA,", 1);
    text.push_str(",pro,20,north,no\n");
    text.push_str("40,,nan,south,yes\n");
    write(&d, "m.csv", &text);
    let base = [
        "run",
        "--data",
        "m.csv",
        "--target",
        "churned",
        "--candidates",
        "tree",
    ];
    let o = tradeoff(&d, &[&base[..], &QUICK[..]].concat());
    assert_fails(&o, 3, "missing or non-finite values (age: 2 (1 empty, 1 NA); monthly: 1 (1 NaN); plan: 1 (1 empty))");
    for policy in ["drop", "impute"] {
        let o = tradeoff(
            &d,
            &[&base[..], &["--missing", policy], &QUICK[..]].concat(),
        );
        assert_eq!(o.status.code(), Some(0), "{policy}: {}", stderr(&o));
        let m = manifest(&d);
        assert_eq!(m["missing_policy"], policy);
        let rows = m["rows"].as_u64().unwrap();
        assert_eq!(rows, if policy == "drop" { 119 } else { 122 });
    }
}

#[test]
fn imputed_values_come_from_the_training_part_only() {
    let d = dir("impute-leak");
    // x is the row number, missing in every seventh row (flag says which).
    let mut text = String::from("x,flag,y\n");
    for i in 0..300 {
        let missing = i % 7 == 3;
        let x = if missing {
            String::new()
        } else {
            i.to_string()
        };
        text.push_str(&format!(
            "{x},{},{}\n",
            u8::from(missing),
            ["a", "b"][i % 2]
        ));
    }
    write(&d, "m.csv", &text);
    let mut args = vec![
        "run",
        "--data",
        "m.csv",
        "--target",
        "y",
        "--candidates",
        "tree",
        "--missing",
        "impute",
        "--export-split",
        "split",
    ];
    args.extend(QUICK);
    let o = tradeoff(&d, &args);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let rows = |f: &str| -> Vec<(f64, bool)> {
        std::fs::read_to_string(d.join("split").join(f))
            .unwrap()
            .lines()
            .skip(1)
            .map(|l| {
                let v: Vec<&str> = l.split(',').collect();
                (v[0].parse().unwrap(), v[1] == "1")
            })
            .collect()
    };
    let (train, test) = (rows("train.csv"), rows("test.csv"));
    let present: Vec<f64> = train.iter().filter(|r| !r.1).map(|r| r.0).collect();
    let mean = present.iter().sum::<f64>() / present.len() as f64;
    for (x, missing) in train.iter().chain(&test) {
        if *missing {
            assert!(
                (x - mean).abs() < 1e-3,
                "imputed {x}, training part's mean {mean}"
            );
        }
    }
    assert!(
        test.iter().any(|r| r.1),
        "the test part has a missing value"
    );
}

#[test]
fn external_test_set_replaces_the_split() {
    let d = dir("testdata");
    write(&d, "train.csv", &mixed_csv(150));
    let test: String = mixed_csv(190)
        .lines()
        .skip(151)
        .map(|l| format!("{l}\n"))
        .collect();
    write(
        &d,
        "test.csv",
        &format!("age,plan,monthly,region,churned\n{test}"),
    );
    let mut args = vec![
        "run",
        "--data",
        "train.csv",
        "--target",
        "churned",
        "--test-data",
        "test.csv",
        "--candidates",
        "tree",
    ];
    args.extend(QUICK);
    let o = tradeoff(&d, &args);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let m = manifest(&d);
    assert_eq!(m["train_rows"], 150);
    assert_eq!(m["test_rows"], 40);
    assert!(stdout(&o).contains("test from --test-data"));
}

#[test]
fn export_split_writes_the_rows_used() {
    let d = dir("export");
    let mut args = vec![
        "run",
        "--dataset",
        "iris",
        "--candidates",
        "tree",
        "--export-split",
        "split",
    ];
    args.extend(QUICK);
    let o = tradeoff(&d, &args);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let train = std::fs::read_to_string(d.join("split/train.csv")).unwrap();
    let test = std::fs::read_to_string(d.join("split/test.csv")).unwrap();
    let folds = std::fs::read_to_string(d.join("split/folds.csv")).unwrap();
    assert_eq!(train.lines().count() - 1, 120);
    assert_eq!(test.lines().count() - 1, 30);
    assert_eq!(folds.lines().count() - 1, 120);
    assert_eq!(
        train.lines().next(),
        Some("sepal length,sepal width,petal length,petal width,species")
    );
    assert!(test
        .lines()
        .skip(1)
        .all(|l| ["setosa", "versicolor", "virginica"]
            .iter()
            .any(|c| l.ends_with(c))));
    // Three folds, each with a third of the training rows.
    for f in 0..3 {
        assert_eq!(
            folds
                .lines()
                .skip(1)
                .filter(|l| l.ends_with(&format!(",{f}")))
                .count(),
            40
        );
    }
}

#[test]
fn records_carry_the_harness_figures() {
    let d = dir("harness");
    let mut args = vec!["run", "--dataset", "iris", "--candidates", "logistic"];
    args.extend(QUICK);
    let o = tradeoff(&d, &args);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_documented(&d);
    for r in cells(&d) {
        let lat = &r["latency_ns"];
        assert!(
            lat["n"].as_u64().unwrap() >= 64,
            "the quick preset reaches p90: {lat}"
        );
        assert!(lat["p90"].is_number() && lat["ci"]["p90"].is_array());
        // Not enough samples for p99 in the quick preset: absent, with the reason.
        if lat.get("p99").is_none() {
            assert!(r["absent"]["latency_ns.p99"]
                .as_str()
                .unwrap()
                .contains("insufficient samples"));
        }
        assert!(!lat["histogram"].as_str().unwrap().is_empty());
        assert!(lat["outliers"]["high_severe"].is_number());
        assert_measured(&r);
        let mem = &r["memory"];
        assert!(mem["fit_peak_rss_bytes"].as_u64().unwrap() > 0);
        assert!(mem["predict_heap_peak_bytes"].is_number(), "{mem}");
        assert_eq!(mem["device"], "none: the target runs in host memory");
        // A linear model on the cpu target runs on the caller's thread alone.
        assert_eq!(r["threads"], 1, "{r}");
    }
    let m = manifest(&d);
    let env = &m["environment"];
    assert_eq!(env["heap_tracking"], true);
    assert!(env["clock"]["read_ns"].as_f64().unwrap() > 0.0);
    assert!(env["harness_overhead_ns"].is_number());
    assert_eq!(env["build_profile"], "release");
}

#[test]
fn selfcheck_reports_known_costs_in_order() {
    let d = dir("selfcheck");
    let o = tradeoff(
        &d,
        &[
            "selfcheck",
            "--quick",
            "--max-cv",
            "1000",
            "--max-cpu-wait",
            "100",
        ],
    );
    let out = stdout(&o);
    // The figures depend on the machine; the rows, their order and the rule do not.
    let names = ["empty", "busy 1µs", "busy 10µs", "busy 100µs", "busy 10ms"];
    let rows: Vec<&str> = out
        .lines()
        .filter(|l| names.iter().any(|n| l.starts_with(&format!("{n} "))))
        .collect();
    assert_eq!(rows.len(), names.len(), "{out}");
    for (row, name) in rows.iter().zip(names) {
        assert!(row.starts_with(name), "{out}");
    }
    // An empty call is far below any clock's shortest region; 10 ms far above it.
    assert!(rows[0].contains("in groups"), "{out}");
    assert!(rows[4].contains("singly"), "{out}");
    assert!(
        out.contains("calls of ") && out.contains(" or more are timed one by one"),
        "{out}"
    );
    // The exit code is the checks' verdict: 0 exactly when every row passed.
    let failed = rows.iter().any(|r| r.contains("FAIL"));
    let expected = if failed { 4 } else { 0 };
    assert_eq!(o.status.code(), Some(expected), "{out}\n{}", stderr(&o));
    assert_eq!(out.contains("selfcheck passed"), !failed, "{out}");
}

#[test]
fn timing_verdicts_are_marked_and_exit_0_unless_strict() {
    // A stability threshold of one part in a hundred million: cells are measured, judged
    // unstable, marked and explained, and the run still succeeds; --strict makes it exit 4.
    // A quiet machine can time a tiny call so steadily that all five chunk medians are equal
    // (a spread of exactly 0, seen on this VM), which meets any threshold; so each run's exit
    // code is checked against the verdicts it wrote, and a run is repeated (at most three
    // times) until it has an invalid cell to judge.
    let d = dir("strict");
    let mut base = vec![
        "run",
        "--dataset",
        "iris",
        "--candidates",
        "logistic",
        "--max-cv",
        "0.000001",
    ];
    base.extend(QUICK);
    for strict in [false, true] {
        let mut saw_invalid = false;
        for attempt in 0..3 {
            let out = format!("out-{strict}-{attempt}");
            let mut args = base.clone();
            args.extend(["--out", out.as_str()]);
            if strict {
                args.push("--strict");
            }
            let o = tradeoff(&d, &args);
            let recs: Vec<serde_json::Value> =
                std::fs::read_to_string(d.join(&out).join("results.jsonl"))
                    .unwrap()
                    .lines()
                    .map(|l| serde_json::from_str(l).unwrap())
                    .filter(|r: &serde_json::Value| r["kind"] == "cell")
                    .collect();
            for r in &recs {
                assert_measured(r);
            }
            let invalid = recs.iter().any(|r| r["status"] == "invalid");
            if !invalid {
                assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
                continue;
            }
            if strict {
                assert_fails(&o, 4, "cells failed or were invalid");
            } else {
                assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
                assert!(
                    stderr(&o).contains("timings were judged invalid"),
                    "{}",
                    stderr(&o)
                );
                assert!(
                    stdout(&o).contains("unstable: chunk medians vary by"),
                    "{}",
                    stdout(&o)
                );
            }
            saw_invalid = true;
            break;
        }
        assert!(
            saw_invalid,
            "three runs (strict: {strict}) had no unstable cell"
        );
    }
}
