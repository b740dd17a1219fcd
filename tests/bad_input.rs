//! Every kind of bad input gets a one-line error naming the place, a documented exit code
//! (2: option, 3: data, 6: output), and no panic.

use crate::util::*;

fn run_csv(name: &str, text: &str, target: &str, extra: &[&str]) -> std::process::Output {
    let d = dir(name);
    write(&d, "in.csv", text);
    let mut args = vec!["run", "--data", "in.csv", "--target", target];
    args.extend(extra);
    args.extend(QUICK);
    tradeoff(&d, &args)
}

#[test]
fn missing_file() {
    let d = dir("nofile");
    let o = tradeoff(&d, &["run", "--data", "nope.csv", "--target", "y"]);
    assert_fails(&o, 3, "cannot read nope.csv");
}

#[test]
fn empty_and_header_only_files() {
    assert_fails(
        &run_csv("empty", "", "y", &[]),
        3,
        "in.csv: the file is empty",
    );
    assert_fails(
        &run_csv("header", "a,b,y\n", "y", &[]),
        3,
        "in.csv: the file has a header but no data rows",
    );
}

#[test]
fn ragged_row() {
    let o = run_csv("ragged", "a,b,y\n1,2,0\n3,4\n", "y", &[]);
    assert_fails(&o, 3, "in.csv: row 3 has 2 fields, the header has 3");
}

#[test]
fn duplicate_header() {
    let o = run_csv("dup", "a,b,a,y\n1,2,3,0\n", "y", &[]);
    assert_fails(
        &o,
        3,
        "column name \"a\" appears twice in the header (columns 1 and 3)",
    );
}

#[test]
fn unknown_target_lists_columns_and_suggests() {
    let o = run_csv("target", &mixed_csv(30), "churn", &[]);
    assert_fails(
        &o,
        3,
        "no column named \"churn\" (did you mean \"churned\"?); columns are: age, plan, monthly, region, churned",
    );
}

#[test]
fn non_numeric_value_in_numeric_column() {
    let text = mixed_csv(30).replacen("\n18,basic,10", "\n18,basic,ten", 1);
    let o = run_csv("nonnum", &text, "churned", &[]);
    assert_fails(&o, 3, "row 2, column \"monthly\": \"ten\" is not a number");
}

#[test]
fn one_class_only() {
    let text: String = std::iter::once("a,y\n".to_string())
        .chain((0..30).map(|i| format!("{i},same\n")))
        .collect();
    let o = run_csv("oneclass", &text, "y", &[]);
    assert_fails(&o, 3, "target \"y\" has only one class (same)");
}

#[test]
fn class_with_fewer_rows_than_folds() {
    let mut text = mixed_csv(60);
    text.push_str("30,pro,12,north,maybe\n");
    let o = run_csv("rare", &text, "churned", &[]);
    assert_fails(
        &o,
        3,
        "class \"maybe\" has 1 training row(s), fewer than the 3 folds",
    );
}

#[test]
fn constant_column_warns_and_goes_on() {
    let d = dir("constant");
    let text: String = std::iter::once("a,k,y\n".to_string())
        .chain((0..60).map(|i| format!("{},7,{}\n", i, i % 2)))
        .collect();
    write(&d, "in.csv", &text);
    let o = tradeoff(
        &d,
        &[
            "run",
            "--data",
            "in.csv",
            "--target",
            "y",
            "--candidates",
            "tree",
            "--trials",
            "1",
            "--folds",
            "3",
            "--batch-sizes",
            "1",
            "--quick",
            "--max-cv",
            "1000",
            "--max-cpu-wait",
            "100",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("feature \"k\" is constant"),
        "{}",
        stderr(&o)
    );
}

/// A churn table's shape: a `state` column of 51 values, a few common and many rare.
fn churn_csv(rows: usize) -> String {
    let mut s = String::from("state,minutes,calls,churn\n");
    for i in 0..rows {
        // State k (0..51) for about 1/(k+2) of the rows: frequent ones first.
        let state = (0..51).find(|k| i % (k + 2) == 0).unwrap_or(50);
        let minutes = (i * 37 % 300) as f64 / 1.5;
        let calls = i * 7 % 11;
        let churn = if minutes > 120.0 || state == 3 {
            "True"
        } else {
            "False"
        };
        s.push_str(&format!("S{state:02},{minutes},{calls},{churn}\n"));
    }
    // Every state occurs at least once.
    for k in 0..51 {
        s.push_str(&format!("S{k:02},10,1,False\n"));
    }
    s
}

#[test]
fn a_text_column_of_51_levels_is_pooled_not_refused() {
    let d = dir("levels");
    write(&d, "in.csv", &churn_csv(400));
    let mut args = vec!["run", "--data", "in.csv", "--target", "churn"];
    args.extend(["--candidates", "logistic,tree"]);
    args.extend(QUICK);
    let o = tradeoff(&d, &args);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let manifest = manifest(&d);
    // Said on stderr (unless --quiet, as here) and kept in the manifest.
    assert!(
        manifest["warnings"].to_string().contains(
            "column \\\"state\\\" has 51 distinct text values, above --max-levels 32: the 31 most \
             frequent are one-hot encoded, the other 20"
        ),
        "{}",
        manifest["warnings"]
    );
    let levels = manifest["one_hot"]["state"].as_array().unwrap();
    assert_eq!(levels.len(), 32);
    assert_eq!(levels[31], "<other>");
    // The knob still works both ways: a cap above the count keeps every level.
    let o = run_csv(
        "levels2",
        &churn_csv(400),
        "churn",
        &["--max-levels", "60", "--candidates", "tree"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}

#[test]
fn unknown_option_values() {
    let d = dir("options");
    let o = tradeoff(&d, &["run", "--task", "clustering"]);
    assert_fails(&o, 2, "invalid value 'clustering' for '--task <TASK>'");
    let o = tradeoff(&d, &["run", "--missing", "maybe"]);
    assert_fails(&o, 2, "invalid value 'maybe' for '--missing <MISSING>'");
    let o = tradeoff(&d, &["run", "--candidates", "linear,svm"]);
    assert_fails(&o, 2, "invalid value \"svm\" for --candidates: unknown candidate; known: linear, logistic, tree, forest, gbm, mlp-s, mlp-m, mlp-l, linear-sgd, logistic-sgd");
    let o = tradeoff(&d, &["run", "--candidates", "forest:trees=0"]);
    assert_fails(&o, 2, "trees must be in [10, 200]");
    let o = tradeoff(&d, &["run", "--candidates", "forest:depth=3"]);
    assert_fails(
        &o,
        2,
        "unknown parameter \"depth\"; forest takes trees, max_depth, min_leaf, features",
    );
    let o = tradeoff(&d, &["run", "--targets", "tpu"]);
    assert_fails(&o, 2, "invalid value \"tpu\" for --targets: unknown target");
    let o = tradeoff(&d, &["run", "--targets", "cpu,cpu"]);
    assert_fails(&o, 2, "invalid value \"cpu\" for --targets: listed twice");
    let o = tradeoff(&d, &["run", "--train-on", "tpu"]);
    assert_fails(&o, 2, "invalid value 'tpu' for '--train-on <TRAIN_ON>'");
    let o = tradeoff(&d, &["run", "--candidates", "mlp-s:learning_rate=5"]);
    assert_fails(&o, 2, "learning_rate must be in");
    let o = tradeoff(&d, &["run", "--batch-sizes", "1,zero"]);
    assert_fails(&o, 2, "invalid value \"zero\" for --batch-sizes");
    let o = tradeoff(&d, &["run", "--batch-sizes", "0"]);
    assert_fails(
        &o,
        2,
        "each entry must be a whole number of rows from 1 to 16777216",
    );
    let o = tradeoff(&d, &["run", "--delimiter", "\""]);
    assert_fails(
        &o,
        2,
        "invalid value \"\\\"\" for --delimiter: a quote or a line break",
    );
    let o = tradeoff(&d, &["run", "--dataset", "mnist"]);
    assert_fails(
        &o,
        2,
        "invalid value \"mnist\" for --dataset: unknown dataset",
    );
    let o = tradeoff(&d, &["run", "--folds", "1"]);
    assert_fails(&o, 2, "invalid value \"1\" for --folds: must be 2..=50");
    let o = tradeoff(&d, &["run", "--data", "x.csv"]);
    assert_fails(&o, 2, "--target <COLUMN>");
    let o = tradeoff(&d, &["run", "--time-cap", "1e308"]);
    assert_fails(&o, 2, "invalid value \"1e308\" for --time-cap");
    let o = tradeoff(
        &d,
        &[
            "run",
            "--dataset",
            "synthetic:classification,rows=1e12,features=32",
        ],
    );
    assert_fails(&o, 2, "rows x features <= 2^30");
    // Nothing was written for runs that never started.
    assert!(!d.join("tradeoff-out").exists());
}

#[test]
fn unseen_level_in_test_data() {
    let d = dir("unseen");
    write(&d, "train.csv", &mixed_csv(60));
    write(
        &d,
        "test.csv",
        "age,plan,monthly,region,churned\n30,enterprise,20,north,no\n41,basic,30,south,yes\n",
    );
    let run = |extra: &[&str]| {
        let mut args = vec![
            "run",
            "--data",
            "train.csv",
            "--target",
            "churned",
            "--test-data",
            "test.csv",
            "--candidates",
            "logistic",
        ];
        args.extend(extra);
        args.extend(QUICK);
        tradeoff(&d, &args)
    };
    // By default the unseen level is no level at all, counted and reported.
    let o = run(&[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let m = manifest(&d);
    assert!(
        m["warnings"]
            .to_string()
            .contains("(plan: 1 row (such as \\\"enterprise\\\"))"),
        "{}",
        m["warnings"]
    );
    assert_eq!(m["unseen_levels"], "ignore");
    let o = run(&["--unseen-levels", "error"]);
    assert_fails(
        &o,
        3,
        "test.csv: row 2, column \"plan\": value \"enterprise\" was not seen in the training data",
    );
}

#[test]
fn exit_codes_say_whose_side_the_failure_is_on() {
    // Nothing would be measured: an option error before any work, not a success.
    let d = dir("nothing");
    let o = tradeoff(
        &d,
        &[
            &["run", "--dataset", "iris", "--candidates", "linear"][..],
            &QUICK,
        ]
        .concat(),
    );
    assert_fails(
        &o,
        2,
        "invalid value \"linear\" for --candidates: none of them applies to this multiclass task",
    );
    let o = tradeoff(
        &d,
        &[
            "stream",
            "--dataset",
            "diabetes",
            "--candidates",
            "tree",
            "--quiet",
        ],
    );
    assert_fails(
        &o,
        2,
        "none of them is an online candidate for this regression task",
    );
    assert!(!d.join("tradeoff-out").exists());

    // A constant regression target is bad data, named.
    let mut text = String::from("a,y\n");
    for i in 0..40 {
        text.push_str(&format!("{i},5\n"));
    }
    let o = run_csv("constant", &text, "y", &["--task", "regression"]);
    assert_fails(
        &o,
        3,
        "in.csv: target \"y\" is 5 on every row: there is nothing to learn",
    );

    // Ordering a stream by its target names --order-by, not an option never given.
    let d = dir("order-target");
    write(&d, "in.csv", &text);
    let o = tradeoff(
        &d,
        &[
            "stream",
            "--data",
            "in.csv",
            "--target",
            "y",
            "--order-by",
            "y",
        ],
    );
    assert_fails(
        &o,
        2,
        "invalid value \"y\" for --order-by: it is the target column",
    );

    // Output that cannot be written is its own code, not "bad input data".
    let d = dir("unwritable");
    write(&d, "blocker", "a file where the output directory should go");
    let o = tradeoff(
        &d,
        &[
            &["run", "--dataset", "iris", "--out", "blocker/out"][..],
            &QUICK,
        ]
        .concat(),
    );
    assert_fails(&o, 6, "cannot write blocker/out");
}

#[test]
fn invalid_utf8_names_the_row_and_column() {
    let d = dir("utf8");
    std::fs::write(d.join("in.csv"), b"a,b,y\n1,x,0\n2,\xff\xfe,1\n").unwrap();
    let o = tradeoff(
        &d,
        &[&["run", "--data", "in.csv", "--target", "y"][..], &QUICK].concat(),
    );
    assert_fails(&o, 3, "in.csv: row 3, column 2 (\"b\"): invalid UTF-8");
    std::fs::write(d.join("head.csv"), b"a,\xffb,y\n1,2,0\n").unwrap();
    let o = tradeoff(
        &d,
        &[&["run", "--data", "head.csv", "--target", "y"][..], &QUICK].concat(),
    );
    assert_fails(&o, 3, "head.csv: row 1, column 2: invalid UTF-8");
}

#[test]
fn devices_directories_and_future_files_are_refused_before_reading() {
    let d = dir("hostile-files");
    let refused = "not a regular file (a device, pipe or socket)";
    let o = tradeoff(&d, &["run", "--data", "/dev/zero", "--target", "y"]);
    assert_fails(&o, 3, &format!("/dev/zero: {refused}"));
    let o = tradeoff(&d, &["report", "/dev/zero"]);
    assert_fails(&o, 3, &format!("/dev/zero: {refused}"));
    let o = tradeoff(&d, &["merge", "/dev/zero", "--out", "m"]);
    assert_fails(&o, 3, &format!("/dev/zero: {refused}"));
    let o = tradeoff(&d, &["run", "--suite", "/dev/zero"]);
    assert_fails(&o, 2, &format!("/dev/zero:1:1: {refused}"));
    std::fs::create_dir(d.join("sub")).unwrap();
    let o = tradeoff(&d, &["run", "--data", "sub", "--target", "y"]);
    assert_fails(&o, 3, "sub: a directory");
    // A results file from a newer tradeoff is refused, naming both versions.
    write(
        &d,
        "future.jsonl",
        "{\"schema_version\":9,\"kind\":\"cell\"}\n",
    );
    let o = tradeoff(&d, &["report", "future.jsonl"]);
    assert_fails(
        &o,
        3,
        &format!(
            "future.jsonl, line 1: schema version 9, which this tradeoff (0.1.0) does not read: it reads versions 1 to {}",
            tradeoff_core::record::SCHEMA_VERSION
        ),
    );
}

#[test]
fn a_batch_larger_than_the_memory_limit_is_skipped_and_the_run_goes_on() {
    // 40 rows of 2,000 columns: batch 1 rotates through 40 rows (320 KB), batch 1,000
    // needs 8 MB, above a 1 MiB limit.
    let mut text: String = (0..2000).map(|i| format!("f{i},")).collect();
    text.push_str("y\n");
    for r in 0..40 {
        let row: String = (0..2000)
            .map(|c| format!("{},", (r * 7 + c) % 10))
            .collect();
        text.push_str(&format!("{row}{}\n", r % 2));
    }
    let d = dir("memory-limit");
    write(&d, "wide.csv", &text);
    let mut args = vec![
        "run",
        "--data",
        "wide.csv",
        "--target",
        "y",
        "--candidates",
        "tree:max_depth=3",
    ];
    args.extend(quick_without("--batch-sizes"));
    args.extend(["--batch-sizes", "1,1000", "--memory-limit", "1MiB"]);
    let o = tradeoff(&d, &args);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let by_batch = |b: u64| {
        cells(&d)
            .into_iter()
            .find(|c| c["batch_size"] == b)
            .unwrap()
    };
    assert_measured(&by_batch(1));
    let big = by_batch(1000);
    assert_eq!(big["status"], "skipped");
    let reason = big["reason"].as_str().unwrap();
    assert!(
        reason.contains("batch 1000 needs 0.01 GiB for its rows and outputs, more than the memory limit of 0.00 GiB (--memory-limit)"),
        "{reason}"
    );
    let o = tradeoff(&d, &["run", "--memory-limit", "0"]);
    assert_fails(&o, 2, "invalid value \"0\" for --memory-limit");
}
