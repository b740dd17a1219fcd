//! `tradeoff run --suite`: a TOML file fixes the comparison; the command line overrides it;
//! bad keys and values are named with their line and column.

use std::path::Path;

use crate::util::{
    assert_fails, dir, manifest, mixed_csv, records, stderr, tradeoff, write, QUICK,
};

/// `util::QUICK`'s measurement options, without its protocol (the suites set that) and
/// without its seed (a test overrides the suite's).
fn fast() -> &'static [&'static str] {
    let fast = &QUICK[7..10];
    assert_eq!((fast[0], fast[2]), ("--quick", "--time-cap=20"));
    fast
}

fn suite_run(d: &Path, suite: &str, extra: &[&str]) -> std::process::Output {
    let mut args = vec!["run", "--suite", suite];
    args.extend(fast());
    args.extend(extra);
    tradeoff(d, &args)
}

#[test]
fn suite_fixes_the_comparison_and_the_command_line_overrides_it() {
    let d = dir("suite-apply");
    std::fs::create_dir_all(d.join("fleet/data")).unwrap();
    write(&d.join("fleet/data"), "churn.csv", &mixed_csv(120));
    write(
        &d.join("fleet"),
        "suite.toml",
        r#"
name = "churn"
[data]
file = "data/churn.csv"      # relative to the suite file
target = "churned"
[protocol]
candidates = ["logistic", "tree:max_depth=3,min_leaf=2"]
seed = 42
folds = 3
trials = 2
test_fraction = 0.25
[measure]
targets = "cpu"
batch_sizes = [1, 16]
[budgets]
slo_p99 = "50ms"
"#,
    );
    // Run from another directory: the data path resolves against the suite's own.
    let o = suite_run(&d, "fleet/suite.toml", &["--seed", "7"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let m = manifest(&d);
    assert!(
        m["suite"]
            .as_str()
            .unwrap()
            .contains("fleet/suite.toml (churn, hash "),
        "{}",
        m["suite"]
    );
    assert!(m["dataset"].as_str().unwrap().ends_with("churn.csv"));
    assert_eq!(
        m["seed"], 7,
        "the command line's --seed wins over the suite's 42"
    );
    assert_eq!(m["protocol"]["folds"], 3);
    assert_eq!(m["protocol"]["trials"], 2);
    assert_eq!(m["protocol"]["test_fraction"], 0.25);
    assert_eq!(m["batch_sizes"], serde_json::json!([1, 16]));
    assert_eq!(m["candidates"], serde_json::json!(["logistic", "tree"]));
    assert_eq!(m["targets"], serde_json::json!(["cpu"]));
    let tree = records(&d)
        .into_iter()
        .find(|r| r["kind"] == "cell" && r["candidate"] == "tree")
        .expect("a tree cell");
    assert_eq!(tree["params"]["max_depth"], 3.0, "fixed in the suite");
    assert_eq!(tree["tuned"], false);
    // The suite's budget reaches the recommendation.
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("latency budget p99 <= 50.0ms"), "{text}");
}

#[test]
fn example_suite_runs() {
    let d = dir("suite-example");
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("suites/example.toml");
    // The example's own protocol, with fewer candidates, trials and sizes to keep it short.
    let o = suite_run(
        &d,
        example.to_str().unwrap(),
        &[
            "--candidates",
            "logistic,tree",
            "--targets",
            "cpu",
            "--trials",
            "2",
            "--batch-sizes",
            "1",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let m = manifest(&d);
    assert!(m["suite"]
        .as_str()
        .unwrap()
        .contains("(winequality-ladder, hash "));
    assert!(m["dataset"].as_str().unwrap().contains("winequality"));
    assert_eq!(m["protocol"]["folds"], 5, "from the suite");
    assert_eq!(m["protocol"]["trials"], 2, "from the command line");
}

/// The serving options come from a suite's `[serve]` table and its price's headroom.
#[test]
fn a_suite_sets_the_serving_scenarios() {
    let d = dir("suite-serve");
    let path = write(
        &d,
        "serve.toml",
        "[data]\ndataset = \"iris\"\n[protocol]\ncandidates = [\"logistic\"]\n\
         [price]\nheadroom = 0.5\n\
         [serve]\nscenarios = [\"offline\"]\nworkers = [1]\nmax_batch = \"4\"\noffline_seconds = 0.05\n",
    );
    let o = suite_run(
        &d,
        path.to_str().unwrap(),
        &["--batch-sizes", "1", "--targets", "cpu"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let served: Vec<_> = records(&d)
        .into_iter()
        .filter(|r| r["kind"] == "serving")
        .collect();
    assert_eq!(served.len(), 1, "{served:?}");
    // One worker, batches 1 (the command line's) and 4 (the suite's max batch).
    assert_eq!(
        served[0]["offline"].as_array().unwrap().len(),
        2,
        "{}",
        served[0]
    );
    assert_eq!(served[0]["plan"]["workers"], serde_json::json!([1]));
}

#[test]
fn bad_suites_name_the_line_and_column() {
    let d = dir("suite-bad");
    let cases: [(&str, &str, &str); 12] = [
        (
            "[serve]\nscenarios = \"offline,sever\"\n",
            "suite.toml:2:13: serve.scenarios: \"sever\" is not one of offline, server",
            "bad scenario",
        ),
        (
            "[serve]\nmax_batch = \"1,lots\"\n",
            "suite.toml:2:13: serve.max_batch: \"lots\" is not a whole number",
            "bad size",
        ),
        (
            "[data]\ndataset = \"iris\"\nfile = \"x.csv\"\n",
            "suite.toml:2:11: data.dataset and data.file (3:8) are both set; keep one",
            "two data sources",
        ),
        (
            "[data]\nfile = \"x.csv\"\n",
            "suite.toml:2:8: data.file needs data.target",
            "no target",
        ),
        (
            "[protocol]\nfolds = 3\nfoldz = 4\n",
            "suite.toml:3:1: unknown field `foldz`",
            "unknown key",
        ),
        (
            "[protcol]\nfolds = 3\n",
            "suite.toml:1:2: unknown field `protcol`",
            "unknown table",
        ),
        (
            "[protocol]\nfolds = \"three\"\n",
            "suite.toml:2:9: ",
            "wrong type",
        ),
        (
            "[protocol]\nseed = 1\nfolds = 1\n",
            "suite.toml:3:9: protocol.folds: invalid value \"1\" for --folds: must be 2..=50",
            "out of range",
        ),
        (
            "[protocol]\ncandidates = [\"logistic\", \"lienar\"]\n",
            "suite.toml:2:14: protocol.candidates: invalid value",
            "unknown candidate",
        ),
        (
            "[measure]\ntargets = \"cpu,gpu\"\n",
            "suite.toml:2:11: measure.targets: invalid value \"gpu\" for --targets",
            "unknown target",
        ),
        (
            "[data]\ntask = \"regresion\"\n",
            "suite.toml:2:8: data.task: \"regresion\" is not one of auto, regression, classification",
            "bad enum",
        ),
        ("[data\n", "suite.toml:1:", "broken TOML"),
    ];
    for (text, needle, what) in cases {
        let path = write(&d, "suite.toml", text);
        let o = suite_run(&d, path.to_str().unwrap(), &[]);
        assert_fails(&o, 2, needle);
        assert!(
            !d.join("tradeoff-out/results.jsonl").exists(),
            "{what}: nothing runs before the suite is valid"
        );
    }
    let o = suite_run(&d, "absent.toml", &[]);
    assert_fails(&o, 3, "cannot read absent.toml");
}
