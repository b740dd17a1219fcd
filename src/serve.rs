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
    // Checked before any work, though used only at the end.
    if let Some(t) = &args.traffic {
        parse_traffic(t)?;
    }
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

/// The traffic of `--traffic`: one rate (`lo == hi`) or a range `LO..HI`, rows per second.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Traffic {
    pub lo: f64,
    pub hi: f64,
}

/// `--traffic 50000` or `--traffic 1000..200000`.
pub fn parse_traffic(text: &str) -> Result<Traffic, Error> {
    let bad = || {
        Error::option(
            "--traffic",
            text,
            "must be rows per second, one rate (50000) or a range (1000..200000), positive",
        )
    };
    let num = |t: &str| -> Result<f64, Error> {
        let v: f64 = t.trim().parse().map_err(|_| bad())?;
        (v > 0.0 && v.is_finite()).then_some(v).ok_or_else(bad)
    };
    match text.split_once("..") {
        Some((a, b)) => {
            let (lo, hi) = (num(a)?, num(b)?);
            (lo <= hi).then_some(Traffic { lo, hi }).ok_or_else(bad)
        }
        None => {
            let v = num(text)?;
            Ok(Traffic { lo: v, hi: v })
        }
    }
}

/// The machine and the instance it was priced as (two runs on one host priced as two
/// instances are two machines to choose between).
fn machine(r: &ServingRecord) -> String {
    match &r.instance {
        Some(i) => format!("{} [{i}]", r.machine),
        None => r.machine.clone(),
    }
}

/// One way to serve a candidate: a machine and target at its best server configuration.
struct Way<'a> {
    record: &'a ServingRecord,
    rows_per_s: f64,
    usd_per_hour: f64,
}

impl Way<'_> {
    fn label(&self) -> String {
        let r = self.record;
        format!(
            "{}{} @ {}",
            r.target,
            if r.device_kind == tradeoff_ir::target::DeviceKind::SoftwareGpu {
                " [sw]"
            } else {
                ""
            },
            machine(r)
        )
    }

    fn gpu(&self) -> bool {
        self.record.device_kind.is_gpu()
    }

    /// $/hour to serve `t` rows per second: whole instances, each at the capacity.
    fn cost(&self, t: f64) -> f64 {
        (t / self.rows_per_s).ceil().max(1.0) * self.usd_per_hour
    }
}

/// A traffic interval `(from, to]` and the index of the cheapest way on it.
type Cheapest = (f64, f64, usize);

/// Over `lo..hi`, the intervals of traffic on which each way is the cheapest, and those on
/// which a GPU way is cheaper than every CPU way. Costs are step functions of the traffic
/// (whole instances), so they change only at multiples of each way's capacity: the
/// intervals are exact.
fn intervals(ways: &[Way], lo: f64, hi: f64) -> (Vec<Cheapest>, Vec<(f64, f64)>) {
    let mut points = vec![lo, hi];
    for w in ways {
        let first = (lo / w.rows_per_s).floor() as u64 + 1;
        let mut k = first;
        while (k as f64) * w.rows_per_s < hi && points.len() < 200_000 {
            points.push(k as f64 * w.rows_per_s);
            k += 1;
        }
    }
    points.sort_by(f64::total_cmp);
    points.dedup();
    let mut cheapest: Vec<Cheapest> = Vec::new();
    let mut gpu: Vec<(f64, f64)> = Vec::new();
    for pair in points.windows(2) {
        let (a, b) = (pair[0], pair[1]);
        // Costs are constant on (a, b]: ceil(t / c) is, between multiples of c.
        let t = b;
        let best = (0..ways.len()).min_by(|&i, &j| ways[i].cost(t).total_cmp(&ways[j].cost(t)));
        let Some(best) = best else { continue };
        match cheapest.last_mut() {
            Some(last) if last.2 == best => last.1 = b,
            _ => cheapest.push((a, b, best)),
        }
        let min_of = |want_gpu: bool| {
            ways.iter()
                .filter(|w| w.gpu() == want_gpu)
                .map(|w| w.cost(t))
                .fold(f64::INFINITY, f64::min)
        };
        if min_of(true) < min_of(false) {
            match gpu.last_mut() {
                Some(last) if last.1 == a => last.1 = b,
                _ => gpu.push((a, b)),
            }
        }
    }
    (cheapest, gpu)
}

/// The tables: offline, capacity under the budget, and cost at `traffic` (rows per second).
pub fn tables(served: &[ServingRecord], traffic: Option<Traffic>) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    if served.is_empty() {
        return s;
    }
    // The target, and its machine where there are several (a merge).
    let several = served
        .iter()
        .map(machine)
        .collect::<std::collections::BTreeSet<_>>()
        .len()
        > 1;
    let target = |r: &ServingRecord| {
        let sw = if r.device_kind == tradeoff_ir::target::DeviceKind::SoftwareGpu {
            " [sw]"
        } else {
            ""
        };
        if several {
            format!("{}{sw} @ {}", r.target, machine(r))
        } else {
            format!("{}{sw}", r.target)
        }
    };
    let tw = served
        .iter()
        .map(|r| target(r).chars().count())
        .max()
        .unwrap_or(6)
        .max(6);
    if served.iter().any(|r| !r.offline.is_empty()) {
        let _ = writeln!(
            s,
            "\noffline (every row at once; rows/s over all workers, each with its own copy of the model)"
        );
        let _ = writeln!(
            s,
            "{:<12} {:<tw$} {:>7} {:>7} {:>12}",
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
                    "{:<12} {:<tw$} {:>7} {:>7} {:>12}{}",
                    r.candidate,
                    target(r),
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
        "{:<12} {:<tw$} {:>7} {:>9} {:>9} {:>11} {:>9} {:>9} {:>10}  steps",
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
                "{:<12} {:<tw$} {:>7} {:>9} {:>9} {:>11} {:>9} {:>9} {:>10}  {}{}",
                r.candidate,
                target(r),
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
    if served
        .iter()
        .any(|r| r.capacity.iter().any(|c| c.config.workers >= r.cores))
    {
        let _ = writeln!(
            s,
            "  a configuration with as many workers as cores shares them with the load generator: \
             its steps are often invalid (the generator late) and its capacity is noisy"
        );
    }
    // Cost at the traffic: instances of this machine each serving at the best configuration's
    // capacity.
    let _ = writeln!(
        s,
        "\ncost at {}: instances of its machine, each at its best configuration's capacity (no headroom)",
        traffic.map_or("capacity (pass --traffic ROWS_PER_S for a traffic)".to_string(), |t| format!("{} rows/s", fmt_rate(t.hi)))
    );
    let _ = writeln!(
        s,
        "{:<12} {:<tw$} {:<32} {:>11} {:>9} {:>10} {:>10}",
        "candidate", "target", "best configuration", "rows/s", "instances", "$/hour", "$ per 1M"
    );
    for r in served {
        let Some(best) = r.best_capacity() else {
            let _ = writeln!(
                s,
                "{:<12} {:<tw$} no configuration met the budget",
                r.candidate,
                target(r)
            );
            continue;
        };
        let rows_per_s = best.rps.unwrap_or(0.0) * best.config.rows_per_request as f64;
        let instances = traffic.map(|t| (t.hi / rows_per_s).ceil().max(1.0));
        let (per_hour, per_million) = match r.usd_per_hour {
            Some(usd) => {
                let n = instances.unwrap_or(1.0);
                let served_rows = traffic.map_or(rows_per_s, |t| t.hi);
                (
                    format!("{:.4}", usd * n),
                    format!("{:.6}", usd * n / (served_rows * 3600.0) * 1e6),
                )
            }
            None => ("no price".into(), "-".into()),
        };
        let _ = writeln!(
            s,
            "{:<12} {:<tw$} {:<32} {:>11} {:>9} {:>10} {:>10}",
            r.candidate,
            target(r),
            best.config.describe(),
            fmt_rate(rows_per_s),
            instances.map_or("-".into(), |n| format!("{n}")),
            per_hour,
            per_million
        );
    }
    if let Some(t) = traffic.filter(|t| t.lo < t.hi) {
        s.push_str(&over_range(served, t));
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

/// For each candidate, over the traffic range: which (machine, target) is cheapest on each
/// interval, and where a GPU is cheaper than every CPU way, with the question it answers.
fn over_range(served: &[ServingRecord], t: Traffic) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let machines: std::collections::BTreeSet<String> = served.iter().map(machine).collect();
    let question = if machines.len() == 1 {
        "on this instance, serve from its GPU or from its CPU cores (both at its price)"
    } else {
        "a GPU instance or a CPU instance (each at its own price)"
    };
    let _ = writeln!(
        s,
        "\ncheapest way to serve from {} to {} rows/s (whole instances, each at its best configuration's capacity)",
        fmt_rate(t.lo),
        fmt_rate(t.hi)
    );
    let mut candidates: Vec<&str> = Vec::new();
    for r in served {
        if !candidates.contains(&r.candidate.as_str()) {
            candidates.push(&r.candidate);
        }
    }
    for cand in candidates {
        let ways: Vec<Way> = served
            .iter()
            .filter(|r| r.candidate == cand)
            .filter_map(|r| {
                let best = r.best_capacity()?;
                Some(Way {
                    record: r,
                    rows_per_s: best.rps? * best.config.rows_per_request as f64,
                    usd_per_hour: r.usd_per_hour?,
                })
            })
            .collect();
        if ways.is_empty() {
            let _ = writeln!(s, "  {cand}: no priced way met the budget");
            continue;
        }
        let (cheapest, gpu) = intervals(&ways, t.lo, t.hi);
        for (a, b, i) in &cheapest {
            let _ = writeln!(
                s,
                "  {cand}: {} to {} rows/s: {} (${:.4}/h at {} rows/s)",
                fmt_rate(*a),
                fmt_rate(*b),
                ways[*i].label(),
                ways[*i].cost(*b),
                fmt_rate(*b)
            );
        }
        let has_gpu = ways.iter().any(Way::gpu);
        let has_cpu = ways.iter().any(|w| !w.gpu());
        let _ = if !has_gpu {
            writeln!(s, "  {cand}: is a GPU worth it ({question})? no GPU measured (software adapters are not GPUs)")
        } else if !has_cpu {
            writeln!(
                s,
                "  {cand}: is a GPU worth it ({question})? no CPU way to compare with"
            )
        } else if gpu.is_empty() {
            writeln!(
                s,
                "  {cand}: is a GPU worth it ({question})? not at any traffic in the range"
            )
        } else {
            writeln!(
                s,
                "  {cand}: is a GPU worth it ({question})? cheaper than every CPU way on {}",
                gpu.iter()
                    .map(|(a, b)| format!("{}..{} rows/s", fmt_rate(*a), fmt_rate(*b)))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traffic_is_one_rate_or_a_range() {
        assert_eq!(
            parse_traffic("500").unwrap(),
            Traffic {
                lo: 500.0,
                hi: 500.0
            }
        );
        assert_eq!(
            parse_traffic("10..2e3").unwrap(),
            Traffic {
                lo: 10.0,
                hi: 2000.0
            }
        );
        for bad in ["", "0", "-5", "9..3", "a..b", "inf"] {
            assert!(parse_traffic(bad).is_err(), "{bad}");
        }
    }

    fn record(target: &str, kind: tradeoff_ir::target::DeviceKind) -> ServingRecord {
        serde_json::from_value(serde_json::json!({
            "schema_version": 7, "run_id": "r", "candidate": "c", "family": "f",
            "target": target, "device": "d", "device_kind": kind, "machine": "m",
            "cores": 2, "weights_shared": false,
            "plan": {"offline": false, "server": true, "workers": [1], "max_batch": [1],
                     "max_queue_delay_ns": [0], "rows_per_request": 1,
                     "budget": {"p99_ns": 1e6, "p50_ns": null}, "step_seconds": 1.0,
                     "offline_seconds": 1.0, "precision": 0.05, "seed": 1},
            "offline": [], "capacity": []
        }))
        .unwrap()
    }

    /// A CPU way of 1,000 rows/s at $1/h against a GPU way of 10,000 rows/s at $9.50/h: the
    /// GPU is cheaper from 9,000 to 10,000 rows/s (10 CPU instances), the CPU again up to
    /// 19,000 (a second GPU instance), the GPU again to 20,000: every interval is listed, not
    /// only the first crossing.
    #[test]
    fn every_interval_where_the_gpu_is_cheaper_is_found() {
        use tradeoff_ir::target::DeviceKind;
        let (cpu, gpu) = (record("cpu", DeviceKind::Cpu), record("x", DeviceKind::Gpu));
        let ways = [
            Way {
                record: &cpu,
                rows_per_s: 1000.0,
                usd_per_hour: 1.0,
            },
            Way {
                record: &gpu,
                rows_per_s: 10_000.0,
                usd_per_hour: 9.5,
            },
        ];
        let (cheapest, gpu_cheaper) = intervals(&ways, 500.0, 20_000.0);
        assert_eq!(gpu_cheaper, vec![(9000.0, 10_000.0), (19_000.0, 20_000.0)]);
        let order: Vec<usize> = cheapest.iter().map(|c| c.2).collect();
        assert_eq!(order, [0, 1, 0, 1], "{cheapest:?}");
    }
}
