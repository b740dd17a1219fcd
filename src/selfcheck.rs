//! `tradeoff selfcheck`: the harness measuring predictors of known cost.
//!
//! An empty predictor shows what the harness itself adds; busy-waits of 1 µs, 10 µs, 100 µs
//! and 10 ms (spinning on the clock, so they cannot finish early) show how close the measured
//! median comes to the truth, and whether the grouping rule held: a call shorter than the
//! clock's shortest well-timed region is timed in groups (its figures are group means), a
//! longer one singly. Passing means every verdict is valid, every case was timed the way the
//! rule says, and every median is within 5% of the busy-wait's true cost. A busy-wait of `t`
//! takes from `t` to `t` plus two clock reads (it reads the clock on entry and spins on it),
//! plus the harness's own per-call cost (the empty predictor's median).

use anyhow::Result;
use tradeoff_core::harness::{self, BusyWait, Empty};
use tradeoff_report::{fmt_ns, render};

use crate::cli::SelfcheckArgs;
use crate::common::{environment, measure_config};

/// Tolerance on the median of a busy-wait.
const TOLERANCE: f64 = 0.05;

pub fn selfcheck(args: SelfcheckArgs) -> Result<u8> {
    let cfg = measure_config(&args.measure)?;
    let (clock, env) = environment();
    let region = clock.min_region_ns();
    println!(
        "clock     one read costs {}; readings err by at most {} (the smallest step seen)",
        fmt_ns(clock.read_ns),
        fmt_ns(clock.resolution_ns),
    );
    println!(
        "rule      calls of {} or more are timed one by one (100 reads and 100 steps, at least 1µs); \
         shorter calls in groups, whose figures are group means",
        fmt_ns(region)
    );
    println!(
        "machine   load average {} at start, SIMD {}",
        env.load_average_1m
            .map_or("unknown".into(), |l| format!("{l:.2}")),
        env.simd.join(" ")
    );
    let mut lines = vec![vec![
        "predictor".to_string(),
        "true".into(),
        "p50 (95% CI)".into(),
        "p99".into(),
        "error".into(),
        "n".into(),
        "group".into(),
        "timed".into(),
        "verdict".into(),
        "check".into(),
    ]];
    let mut all_ok = true;
    let empty = harness::measure(&mut Empty, &[0.0], 1, 1, &cfg, &clock)?;
    let overhead = empty.latency_ns.p50;
    let cases: [(&str, Option<u64>); 5] = [
        ("empty", None),
        ("busy 1µs", Some(1_000)),
        ("busy 10µs", Some(10_000)),
        ("busy 100µs", Some(100_000)),
        ("busy 10ms", Some(10_000_000)),
    ];
    for (name, ns) in cases {
        let m = match ns {
            None => empty.clone(),
            Some(ns) => harness::measure(&mut BusyWait { ns }, &[0.0], 1, 1, &cfg, &clock)?,
        };
        let l = &m.latency_ns;
        let ci = l.ci.get("p50").map_or("-".into(), |[lo, hi]| {
            format!("{} ({}-{})", fmt_ns(l.p50), fmt_ns(*lo), fmt_ns(*hi))
        });
        // The rule: grouped exactly when the call is shorter than the shortest region. The
        // empty predictor's call is shorter than any region.
        let should_group = ns.is_none_or(|t| (t as f64) < region);
        let mut problems = Vec::new();
        if should_group == l.per_call() {
            problems.push(if should_group {
                "timed singly"
            } else {
                "grouped"
            });
        }
        if !m.verdict.valid {
            problems.push("invalid");
        }
        let (truth, err) = match ns {
            None => ("0".to_string(), "-".to_string()),
            Some(ns) => {
                let t = ns as f64;
                let (low, high) = (t, t + 2.0 * clock.read_ns + overhead);
                let e = if l.p50 < low {
                    (l.p50 - low) / t
                } else if l.p50 > high {
                    (l.p50 - high) / t
                } else {
                    0.0
                };
                if e.abs() > TOLERANCE {
                    problems.push("median off");
                }
                (fmt_ns(t), format!("{:+.2}%", (l.p50 - t) / t * 100.0))
            }
        };
        all_ok &= problems.is_empty();
        lines.push(vec![
            name.into(),
            truth,
            ci,
            l.p99.map_or("-".into(), fmt_ns),
            err,
            l.n.to_string(),
            l.group_size.to_string(),
            if l.per_call() { "singly" } else { "in groups" }.into(),
            if m.verdict.valid {
                "valid".into()
            } else {
                format!("invalid: {}", m.verdict.reasons.join("; "))
            },
            if problems.is_empty() {
                "pass".into()
            } else {
                format!("FAIL ({})", problems.join(", "))
            },
        ]);
    }
    println!();
    print!("{}", render(&lines, 1));
    println!(
        "\nharness overhead per call (empty predictor, p50): {}",
        fmt_ns(overhead)
    );
    if all_ok {
        println!(
            "selfcheck passed: the grouping rule held and every median is within {:.0}% of the true cost",
            TOLERANCE * 100.0
        );
        Ok(0)
    } else {
        eprintln!("error: selfcheck failed; is the machine busy? (load average above)");
        Ok(crate::EXIT_SOME_FAILED)
    }
}
