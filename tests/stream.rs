//! `tradeoff stream`: incremental learning against full retrains.

use crate::util::*;

#[test]
fn stream_records_every_update_and_a_summary() {
    let d = dir("stream");
    // A CSV with a timestamp column that orders the rows (and is not a feature).
    let mut text = String::from("ts,a,b,y\n");
    for i in 0..400 {
        let a = (i * 37 % 100) as f64 / 10.0;
        let b = (i * 11 % 50) as f64 / 5.0;
        text.push_str(&format!(
            "{},{a},{b},{}\n",
            1_700_000_000 + (400 - i) * 60,
            2.0 * a - b + (i % 7) as f64 * 0.1
        ));
    }
    write(&d, "s.csv", &text);
    let o = tradeoff(
        &d,
        &[
            "stream",
            "--data",
            "s.csv",
            "--target",
            "y",
            "--order-by",
            "ts",
            "--updates",
            "4",
            "--trials",
            "2",
            "--folds",
            "3",
            "--usd-per-hour",
            "1",
            "--quiet",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_documented(&d);
    let out = stdout(&o);
    assert!(out.contains("in order of ts"), "{out}");
    assert!(
        out.contains("linear-sgd (online, tradeoff SGD) against linear retrained"),
        "{out}"
    );
    let recs = records(&d);
    let steps: Vec<_> = recs.iter().filter(|r| r["kind"] == "stream_step").collect();
    assert_eq!(steps.len(), 4);
    let seen: Vec<u64> = steps
        .iter()
        .map(|s| s["rows_seen"].as_u64().unwrap())
        .collect();
    assert!(seen.windows(2).all(|w| w[0] < w[1]), "{seen:?}");
    assert_eq!(
        *seen.last().unwrap(),
        320,
        "all training rows are seen at the end"
    );
    for s in &steps {
        assert!(s["update_seconds"].as_f64().unwrap() >= 0.0);
        assert!(s["prequential_score"].is_number() && s["retrain_holdout_score"].is_number());
    }
    let summary = recs.iter().find(|r| r["kind"] == "stream_summary").unwrap();
    assert!(summary["update_usd_per_day"].as_f64().unwrap() > 0.0);
    assert!(
        summary["final_holdout_score"].as_f64().unwrap() > 0.5,
        "{summary}"
    );
    // The order column is not a feature.
    let m = manifest(&d);
    assert_eq!(m["features"], 2);
}

#[test]
fn stream_rejects_bad_options() {
    let d = dir("stream-bad");
    write(&d, "s.csv", "a,y\n1,2\n2,3\n3,4\n");
    assert_fails(
        &tradeoff(&d, &["stream", "--updates", "0"]),
        2,
        "--updates: must be 1..=1000",
    );
    assert_fails(
        &tradeoff(
            &d,
            &[
                "stream",
                "--data",
                "s.csv",
                "--target",
                "y",
                "--order-by",
                "when",
            ],
        ),
        3,
        "no column named \"when\"",
    );
}

#[test]
fn online_candidates_also_run_as_ordinary_candidates() {
    let d = dir("sgd-run");
    let mut args = vec!["run", "--dataset", "iris", "--candidates", "logistic-sgd"];
    args.extend(QUICK);
    let o = tradeoff(&d, &args);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let c = cells(&d);
    for r in &c {
        assert_eq!(r["candidate"], "logistic-sgd");
        assert_measured(r);
    }
    // Three balanced classes: chance is 0.33; two random trials still learn something.
    assert!(c[0]["scores"]["accuracy"].as_f64().unwrap() > 0.6);
}
