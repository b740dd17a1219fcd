//! `tradeoff curve` end to end.

use crate::util::*;

/// `tradeoff curve` on 600 synthetic rows with a small, quick protocol, then `extra`.
fn curve(name: &str, extra: &[&str]) -> (std::path::PathBuf, std::process::Output) {
    let d = dir(name);
    let mut args = vec![
        "curve",
        "--dataset",
        "synthetic:classification,rows=600,features=4",
        "--trials",
        "2",
        "--folds",
        "3",
        "--quick",
        "--max-cv",
        "1000",
        "--max-cpu-wait",
        "100",
    ];
    args.extend(extra);
    let o = tradeoff(&d, &args);
    (d, o)
}

#[test]
fn curve_records_every_size_and_a_fit_per_candidate() {
    let (d, o) = curve(
        "curve",
        &[
            "--candidates",
            "logistic,tree:max_depth=4,min_leaf=2",
            "--sizes",
            "0.2,0.4,0.7,1",
            "--quiet",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_documented(&d);
    let out = stdout(&o);
    assert!(
        out.contains("ranking at 10x the data (accuracy, extrapolated)"),
        "{out}"
    );
    let recs = records(&d);
    let points: Vec<_> = recs.iter().filter(|r| r["kind"] == "curve_point").collect();
    let fits: Vec<_> = recs.iter().filter(|r| r["kind"] == "curve_fit").collect();
    assert_eq!(points.len(), 2 * 4);
    assert_eq!(fits.len(), 2);
    for cand in ["logistic", "tree"] {
        let ps: Vec<_> = points.iter().filter(|p| p["candidate"] == cand).collect();
        let rows: Vec<u64> = ps
            .iter()
            .map(|p| p["train_rows"].as_u64().unwrap())
            .collect();
        assert!(rows.windows(2).all(|w| w[0] < w[1]), "{rows:?}");
        assert_eq!(rows[3], 480, "the largest size is the whole training part");
        for p in &ps {
            assert_eq!(p["status"], "ok", "{p}");
            // Each fold's model trained on the size less one fold of three.
            let per_fold = p["cv_train_rows"].as_f64().unwrap();
            let size = p["train_rows"].as_f64().unwrap();
            assert!((per_fold - size * 2.0 / 3.0).abs() < 1e-9, "{p}");
            assert_eq!(p["cv_folds"].as_array().unwrap().len(), 3);
            assert!(p["latency_ns"]["p50"].as_f64().unwrap() > 0.0);
            assert!(p["fit_seconds"].is_number() && p["model_bytes"].is_number());
        }
        let hashes: std::collections::BTreeSet<_> =
            ps.iter().map(|p| p["fold_hash"].to_string()).collect();
        assert_eq!(hashes.len(), 4, "each size is its own subset");
        let fit = fits.iter().find(|f| f["candidate"] == cand).unwrap();
        let a = &fit["analysis"];
        assert!(a["fit"]["a"].as_f64().unwrap() <= 1.0);
        assert!(a["at_10x"]["low"].as_f64().unwrap() <= a["at_10x"]["high"].as_f64().unwrap());
        // The curve's x axis is the rows the scored (fold) models trained on.
        assert_eq!(a["check"]["rows"], 320.0);
        assert!(a["check"]["error"].is_number());
    }
    // Tuned once, at the smallest size: every size scores the parameters chosen there.
    let logistic: Vec<_> = points
        .iter()
        .filter(|p| p["candidate"] == "logistic")
        .collect();
    assert_eq!(logistic[0]["trials"], 2);
    for p in &logistic[1..] {
        assert_eq!(p["trials"], 0, "{p}");
        assert_eq!(p["tuned"], true);
        assert_eq!(p["params"], logistic[0]["params"]);
    }
    // Fixed parameters are kept, and still cross-validated at every size.
    let tree = points.iter().find(|p| p["candidate"] == "tree").unwrap();
    assert_eq!(tree["tuned"], false);
    assert_eq!(tree["params"]["max_depth"], 4.0);
}

#[test]
fn curve_skips_the_sizes_its_time_budget_cannot_afford() {
    // A budget of a millisecond: the first size is always measured, the rest are skipped.
    let (d, o) = curve(
        "curve-budget",
        &[
            "--candidates",
            "logistic",
            "--sizes",
            "0.3,0.6,1",
            "--time-cap",
            "0.001",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("2 larger size(s) skipped"),
        "{}",
        stderr(&o)
    );
    let recs = records(&d);
    let points: Vec<_> = recs.iter().filter(|r| r["kind"] == "curve_point").collect();
    assert_eq!(points.len(), 3);
    assert_eq!(points[0]["status"], "ok");
    assert!(points[0]["cv_score"]["folds"].as_u64().unwrap() >= 1);
    for p in &points[1..] {
        assert_eq!(p["status"], "skipped", "{p}");
        assert!(p["reason"].as_str().unwrap().contains("--time-cap"), "{p}");
        assert!(p
            .get("scores")
            .is_none_or(|s| s.as_object().unwrap().is_empty()));
    }
    let fit = recs.iter().find(|r| r["kind"] == "curve_fit").unwrap();
    assert_eq!(fit["sizes"].as_array().unwrap().len(), 1);
    assert!(stdout(&o).contains("skipped"), "{}", stdout(&o));
}

#[test]
fn curve_rejects_bad_sizes() {
    let d = dir("curve-bad");
    let o = tradeoff(&d, &["curve", "--sizes", "0.5,2"]);
    assert_fails(&o, 2, "invalid value \"2\" for --sizes");
}
