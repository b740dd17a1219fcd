//! `tradeoff selfcheck`: the harness measuring predictors of known cost.
//!
//! An empty predictor shows what the harness itself adds; busy-waits of 1 µs, 100 µs and
//! 10 ms (spinning on the clock, so they cannot finish early) show how close the measured
//! median comes to the truth. Passing means every verdict is valid and every median is within
//! 5% of the true cost (plus the harness overhead).

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
    println!(
        "clock     read {}, resolution {}, timed regions at least {}",
        fmt_ns(clock.read_ns),
        fmt_ns(clock.resolution_ns),
        fmt_ns(clock.min_region_ns())
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
        "verdict".into(),
        "check".into(),
    ]];
    let mut all_ok = true;
    let empty = harness::measure(&mut Empty, &[0.0], 1, 1, &cfg, &clock)?;
    let overhead = empty.latency_ns.p50;
    let cases: [(&str, Option<u64>); 4] = [
        ("empty", None),
        ("busy 1µs", Some(1_000)),
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
        let (truth, err, ok) = match ns {
            None => ("0".to_string(), "-".to_string(), m.verdict.valid),
            Some(ns) => {
                let t = ns as f64;
                let e = (l.p50 - t) / t;
                let ok = m.verdict.valid && (l.p50 - overhead - t).abs() <= TOLERANCE * t;
                (fmt_ns(t), format!("{:+.2}%", e * 100.0), ok)
            }
        };
        all_ok &= ok;
        lines.push(vec![
            name.into(),
            truth,
            ci,
            l.p99.map_or("-".into(), fmt_ns),
            err,
            l.n.to_string(),
            l.group_size.to_string(),
            if m.verdict.valid {
                "valid".into()
            } else {
                format!("invalid: {}", m.verdict.reasons.join("; "))
            },
            if ok { "pass" } else { "FAIL" }.into(),
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
            "selfcheck passed: every median within {:.0}% of the true cost",
            TOLERANCE * 100.0
        );
        Ok(0)
    } else {
        eprintln!("error: selfcheck failed; is the machine busy? (load average above)");
        Ok(crate::EXIT_SOME_FAILED)
    }
}
