//! `run --scenarios offline,server`: the plan from the options (the tables of what was
//! measured are `tradeoff_report::serving`'s).

use tradeoff_core::serving::Plan;
use tradeoff_ir::Error;
use tradeoff_report::cost::{self, Slo};

use crate::cli::{ScenarioArg, ServeArgs};

/// The most workers a configuration may have (each is a thread).
const MAX_WORKERS: usize = 1024;

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
    if let Some(w) = workers.iter().find(|&&w| w > MAX_WORKERS) {
        return Err(Error::option(
            "--workers",
            w.to_string(),
            format!("at most {MAX_WORKERS} (one thread each; this machine has {cores} cores)"),
        ));
    }
    if args.max_batch.contains(&0) {
        return Err(Error::option("--max-batch", "0", "must be at least 1"));
    }
    if let Some(b) = args.max_batch.iter().find(|&&b| b < args.rows_per_request) {
        return Err(Error::option(
            "--max-batch",
            b.to_string(),
            format!(
                "is below --rows-per-request {}: a call takes whole requests",
                args.rows_per_request
            ),
        ));
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
        default_workers: args.workers.is_empty(),
        workers,
        max_batch: args.max_batch.clone(),
        max_queue_delay_ns: delays,
        rows_per_request: args.rows_per_request,
        budget: slo.budget(),
        step_seconds: args.step_seconds,
        offline_seconds: args.offline_seconds,
        precision: 0.05,
        seed,
    }))
}
