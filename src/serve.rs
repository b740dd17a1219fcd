//! `run --scenarios offline,server`: the plan from the options, and the tables of what was
//! measured (offline rates, capacity under the budget, cost at the user's traffic).

use tradeoff_core::record::ServingRecord;
use tradeoff_core::serving::{Budget, Plan};
use tradeoff_ir::Error;
use tradeoff_report::cost::{self, Slo};
use tradeoff_report::{fmt_ns, fmt_rate};

use crate::cli::{ScenarioArg, ServeArgs};

/// The scenarios to measure, checked; `None` when only single-stream was asked for.
pub fn plan(args: &ServeArgs, slo: &Slo, seed: u64) -> Result<Option<Plan>, Error> {
    if args.scenarios.is_empty() {
        return Ok(None);
    }
    let server = args.scenarios.contains(&ScenarioArg::Server);
    if server && !slo.is_set() {
        return Err(Error::option(
            "--scenarios",
            "server",
            "the server scenario searches the highest rate within a latency budget: give --slo-p99 (or --slo-p50)",
        ));
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut workers = if args.workers.is_empty() {
        vec![1, cores]
    } else {
        args.workers.clone()
    };
    workers.sort_unstable();
    workers.dedup();
    if workers.contains(&0) {
        return Err(Error::option("--workers", "0", "must be at least 1"));
    }
    if args.max_batch.contains(&0) {
        return Err(Error::option("--max-batch", "0", "must be at least 1"));
    }
    if args.rows_per_request == 0 {
        return Err(Error::option(
            "--rows-per-request",
            "0",
            "must be at least 1",
        ));
    }
    let delays = args
        .max_queue_delay
        .iter()
        .map(|t| match t.trim() {
            "0" => Ok(0),
            t => cost::parse_duration_ns(t)
                .map(|ns| ns as u64)
                .ok_or_else(|| {
                    Error::option(
                        "--max-queue-delay",
                        t,
                        "must be 0 or a duration such as 500us or 2ms",
                    )
                }),
        })
        .collect::<Result<Vec<u64>, Error>>()?;
    for (name, v) in [
        ("--step-seconds", args.step_seconds),
        ("--offline-seconds", args.offline_seconds),
    ] {
        if !(v > 0.0 && v.is_finite()) {
            return Err(Error::option(name, v.to_string(), "must be positive"));
        }
    }
    if let Some(t) = args.traffic {
        if !(t > 0.0 && t.is_finite()) {
            return Err(Error::option(
                "--traffic",
                t.to_string(),
                "must be positive (rows per second)",
            ));
        }
    }
    Ok(Some(Plan {
        offline: args.scenarios.contains(&ScenarioArg::Offline),
        server,
        workers,
        max_batch: args.max_batch.clone(),
        max_queue_delay_ns: delays,
        rows_per_request: args.rows_per_request,
        budget: Budget {
            p99_ns: slo.p99_ns,
            p50_ns: slo.p50_ns,
        },
        step_seconds: args.step_seconds,
        offline_seconds: args.offline_seconds,
        precision: 0.05,
        seed,
    }))
}

/// The tables: offline, capacity under the budget, and cost at `traffic` (rows per second).
pub fn tables(served: &[ServingRecord], traffic: Option<f64>) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    if served.is_empty() {
        return s;
    }
    let sw = |r: &ServingRecord| {
        if r.device_kind == tradeoff_ir::target::DeviceKind::SoftwareGpu {
            " [sw]"
        } else {
            ""
        }
    };
    if served.iter().any(|r| !r.offline.is_empty()) {
        let _ = writeln!(
            s,
            "\noffline (every row at once; rows/s over all workers, each with its own copy of the model)"
        );
        let _ = writeln!(
            s,
            "{:<12} {:<16} {:>7} {:>7} {:>12}",
            "candidate", "target", "workers", "batch", "rows/s"
        );
        for r in served {
            let best = r
                .offline
                .iter()
                .map(|o| o.rows_per_s)
                .fold(f64::NAN, f64::max);
            for o in &r.offline {
                let _ = writeln!(
                    s,
                    "{:<12} {:<16} {:>7} {:>7} {:>12}{}",
                    r.candidate,
                    format!("{}{}", r.target, sw(r)),
                    o.workers,
                    o.batch,
                    fmt_rate(o.rows_per_s),
                    if o.rows_per_s == best {
                        "  <- best"
                    } else {
                        ""
                    }
                );
            }
        }
    }
    if !served.iter().any(|r| !r.capacity.is_empty()) {
        return s;
    }
    let plan = &served[0].plan;
    let budget = [
        plan.budget.p99_ns.map(|b| format!("p99 <= {}", fmt_ns(b))),
        plan.budget.p50_ns.map(|b| format!("p50 <= {}", fmt_ns(b))),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>()
    .join(", ");
    let _ = writeln!(
        s,
        "\nserver capacity: the highest Poisson arrival rate with {budget} from arrival, requests of {} row{}",
        plan.rows_per_request,
        if plan.rows_per_request == 1 { "" } else { "s" }
    );
    let _ = writeln!(
        s,
        "{:<12} {:<16} {:>7} {:>9} {:>9} {:>11} {:>9} {:>9} {:>10}  steps",
        "candidate",
        "target",
        "workers",
        "max batch",
        "max delay",
        "capacity/s",
        "p50",
        "p99",
        "rows/call"
    );
    for r in served {
        for c in &r.capacity {
            let (cap, p50, p99, rows) = match &c.at {
                Some(at) => (
                    fmt_rate(c.rps.unwrap_or(0.0)),
                    at.p50_ns.map_or("-".into(), fmt_ns),
                    at.p99_ns.map_or("-".into(), fmt_ns),
                    format!("{:.1}", at.mean_batch_rows),
                ),
                None => ("none".into(), "-".into(), "-".into(), "-".into()),
            };
            let _ = writeln!(
                s,
                "{:<12} {:<16} {:>7} {:>9} {:>9} {:>11} {:>9} {:>9} {:>10}  {}{}",
                r.candidate,
                format!("{}{}", r.target, sw(r)),
                c.config.workers,
                c.config.max_batch,
                match c.config.max_queue_delay_ns {
                    0 => "0".to_string(),
                    d => fmt_ns(d as f64),
                },
                cap,
                p50,
                p99,
                rows,
                c.steps.len(),
                c.reason
                    .as_ref()
                    .map_or(String::new(), |w| format!("  ({w})"))
            );
        }
    }
    // Cost at the traffic: instances of this machine each serving at the best configuration's
    // capacity.
    let _ = writeln!(
        s,
        "\ncost at {}: instances of this machine, each at its best configuration's capacity (no headroom)",
        traffic.map_or("capacity (pass --traffic ROWS_PER_S for a traffic)".to_string(), |t| format!("{} rows/s", fmt_rate(t)))
    );
    let _ = writeln!(
        s,
        "{:<12} {:<16} {:<32} {:>11} {:>9} {:>10} {:>10}",
        "candidate", "target", "best configuration", "rows/s", "instances", "$/hour", "$ per 1M"
    );
    for r in served {
        let Some(best) = r
            .capacity
            .iter()
            .filter(|c| c.rps.is_some())
            .max_by(|a, b| a.rps.unwrap_or(0.0).total_cmp(&b.rps.unwrap_or(0.0)))
        else {
            let _ = writeln!(
                s,
                "{:<12} {:<16} no configuration met the budget",
                r.candidate,
                format!("{}{}", r.target, sw(r))
            );
            continue;
        };
        let rows_per_s = best.rps.unwrap_or(0.0) * best.config.rows_per_request as f64;
        let instances = traffic.map(|t| (t / rows_per_s).ceil().max(1.0));
        let (per_hour, per_million) = match r.usd_per_hour {
            Some(usd) => {
                let n = instances.unwrap_or(1.0);
                let served_rows = traffic.unwrap_or(rows_per_s);
                (
                    format!("{:.4}", usd * n),
                    format!("{:.6}", usd * n / (served_rows * 3600.0) * 1e6),
                )
            }
            None => ("no price".into(), "-".into()),
        };
        let _ = writeln!(
            s,
            "{:<12} {:<16} {:<32} {:>11} {:>9} {:>10} {:>10}",
            r.candidate,
            format!("{}{}", r.target, sw(r)),
            best.config.describe(),
            fmt_rate(rows_per_s),
            instances.map_or("-".into(), |n| format!("{n}")),
            per_hour,
            per_million
        );
    }
    if served
        .iter()
        .any(|r| r.device_kind == tradeoff_ir::target::DeviceKind::SoftwareGpu)
    {
        let _ = writeln!(
            s,
            "  [sw]: a software adapter on the CPU, not a GPU: its capacity is CPU capacity"
        );
    }
    s
}
