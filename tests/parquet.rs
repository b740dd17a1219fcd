//! Parquet input: files written by pyarrow and pandas (`scripts/parquet-fixtures.py`), read
//! with the same rules and errors as CSV.

use std::path::{Path, PathBuf};

use crate::util::*;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/parquet")
        .join(name)
}

/// Copies fixtures into a fresh directory and runs `tradeoff run` there with [`QUICK`].
fn run_on(name: &str, files: &[&str], args: &[&str]) -> (PathBuf, std::process::Output) {
    let d = dir(name);
    for f in files {
        std::fs::copy(fixture(f), d.join(f)).unwrap();
    }
    let mut all = vec!["run"];
    all.extend_from_slice(args);
    all.extend_from_slice(&QUICK);
    let o = tradeoff(&d, &all);
    (d, o)
}

#[test]
fn a_parquet_file_is_the_same_data_as_its_csv_export() {
    let args = ["--target", "churned", "--candidates", "logistic,tree"];
    let (pq, o) = run_on(
        "pq-churn",
        &["churn.parquet"],
        &[&["--data", "churn.parquet"][..], &args].concat(),
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let (csv, o) = run_on(
        "pq-churn-csv",
        &["churn.csv"],
        &[&["--data", "churn.csv"][..], &args].concat(),
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let (a, b) = (manifest(&pq), manifest(&csv));
    // Integers, a dictionary column, doubles, large strings, dates, timestamps and booleans
    // in three row groups give the features, target and splits of pandas' CSV of the frame.
    assert_eq!(a["data_hash"], b["data_hash"]);
    assert_eq!(a["fold_hash"], b["fold_hash"]);
    assert_eq!(a["features"], b["features"]);
    assert_eq!(a["one_hot"], b["one_hot"]);
    let warnings = a["warnings"].to_string();
    assert!(
        warnings.contains("\\\"customer_id\\\" holds a distinct whole number"),
        "{warnings}"
    );
    assert!(
        warnings.contains("last_seen.hour") && warnings.contains("signup.weekday"),
        "{warnings}"
    );
    assert_eq!(cells(&pq).len(), 2 * 2);
}

#[test]
fn held_out_parquet_with_an_unseen_level_and_a_csv_training_file() {
    // Training from the CSV export, held-out rows from a zstd Parquet file whose plan column
    // has a level ("enterprise") the training data never had.
    let (d, o) = run_on(
        "pq-heldout",
        &["churn.csv", "churn-test.parquet"],
        &[
            "--data",
            "churn.csv",
            "--test-data",
            "churn-test.parquet",
            "--target",
            "churned",
            "--candidates",
            "logistic",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let m = manifest(&d);
    assert_eq!(m["test_rows"], 100, "{m}");
    let warnings = m["warnings"].to_string();
    assert!(warnings.contains("enterprise"), "{warnings}");
}

#[test]
fn parquet_errors_name_the_file_row_group_and_column() {
    // A word in a string column of numbers, in the second row group (gzip).
    let (_, o) = run_on(
        "pq-word",
        &["word-in-numbers.parquet"],
        &["--data", "word-in-numbers.parquet", "--target", "y"],
    );
    assert_fails(
        &o,
        3,
        "word-in-numbers.parquet: row 181 (row group 1), column \"income\": \"twelve\" is not a number",
    );

    // A list column: refused by name and type unless dropped (lz4).
    let args = ["--data", "list-column.parquet", "--target", "y"];
    let (_, o) = run_on("pq-list", &["list-column.parquet"], &args);
    assert_fails(&o, 3, "column \"tags\" has type List(Utf8");
    assert_fails(&o, 3, "--drop-column \"tags\"");
    let (_, o) = run_on(
        "pq-list-dropped",
        &["list-column.parquet"],
        &[
            &args[..],
            &["--drop-column", "tags", "--candidates", "linear"],
        ]
        .concat(),
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));

    // Nulls are missing values, counted per column (brotli), and --missing applies.
    let args = ["--data", "nulls.parquet", "--target", "y"];
    let (_, o) = run_on("pq-nulls", &["nulls.parquet"], &args);
    assert_fails(&o, 3, "c: 6 (6 null); n: 8 (8 null); x: 12 (12 null)");
    let (_, o) = run_on(
        "pq-nulls-impute",
        &["nulls.parquet"],
        &[
            &args[..],
            &["--missing", "impute", "--candidates", "linear"],
        ]
        .concat(),
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));

    // A file cut short (a failed copy) is not a readable Parquet file.
    let d = dir("pq-cut");
    let bytes = std::fs::read(fixture("churn.parquet")).unwrap();
    std::fs::write(d.join("cut.parquet"), &bytes[..bytes.len() / 3]).unwrap();
    let o = tradeoff(
        &d,
        &[
            &["run", "--data", "cut.parquet", "--target", "churned"][..],
            &QUICK,
        ]
        .concat(),
    );
    assert_fails(&o, 3, "cut.parquet: not a readable Parquet file");
    assert!(!d.join("tradeoff-out/results.jsonl").exists());

    // Found by fuzzing: metadata with a negative column offset, on which parquet 60.1
    // asserts. A damaged file, not a crash.
    let (_, o) = run_on(
        "pq-fuzz",
        &["fuzz-negative-offset.parquet"],
        &["--data", "fuzz-negative-offset.parquet", "--target", "y"],
    );
    assert_fails(
        &o,
        3,
        "fuzz-negative-offset.parquet: not a readable Parquet file: the reader stopped on its metadata (column start and length should not be negative)",
    );
}

#[test]
fn stream_orders_rows_by_a_parquet_timestamp() {
    let d = dir("pq-stream");
    std::fs::copy(fixture("churn.parquet"), d.join("churn.parquet")).unwrap();
    let o = tradeoff(
        &d,
        &[
            "stream",
            "--data",
            "churn.parquet",
            "--target",
            "churned",
            "--drop-column",
            "customer_id",
            "--order-by",
            "last_seen",
            "--updates",
            "3",
            "--trials",
            "1",
            "--folds",
            "2",
            "--quiet",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("in order of last_seen"),
        "{}",
        stdout(&o)
    );
    // The order column is not a feature: 1 + 3 plan levels + 1 + 3 regions + 4 date parts
    // + 1 boolean, without the 5 parts of last_seen.
    assert_eq!(manifest(&d)["features"], 13);
}
