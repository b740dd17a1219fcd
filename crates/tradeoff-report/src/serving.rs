//! Serving under load, for people: the offline and server scenarios' tables, what serving
//! costs at a traffic, the cheapest way to serve on each interval of a traffic range, and
//! the $/hour-against-traffic plot.
//!
//! ## The cost model
//! A way to serve a candidate is one (machine, target) at its best server configuration,
//! whose *capacity* is the highest Poisson arrival rate that met the latency budget. At
//! traffic `T` rows/s it needs `ceil(T / (capacity x (1 - headroom)))` instances (at least
//! one), each at its machine's price: instances are loaded to at most `1 - headroom` of the
//! measured capacity (`--headroom`, default 0.2), margin for bursts beyond Poisson and for a
//! capacity measured on another day. Costs are step functions of the traffic, so the
//! cheapest way changes only where some way needs one more instance: the intervals are
//! exact, not sampled.

use std::collections::BTreeSet;
use std::fmt::Write;

use serde::{Deserialize, Serialize};
use tradeoff_core::record::ServingRecord;
use tradeoff_core::serving::{Budget, Capacity, Config};
use tradeoff_ir::target::DeviceKind;
use tradeoff_ir::Error;

use crate::svg::{Chart, Point, Series};
use crate::{fmt_ns, fmt_rate};

/// The share of each instance's measured capacity kept free (`--headroom`).
pub const DEFAULT_HEADROOM: f64 = 0.2;

/// The traffic of `--traffic`: one rate (`lo == hi`) or a range `LO..HI`, rows per second.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Traffic {
    pub lo: f64,
    pub hi: f64,
}

/// What serving costs assume: the traffic, and the share of capacity kept free.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Load {
    pub traffic: Option<Traffic>,
    pub headroom: f64,
}

impl Default for Load {
    fn default() -> Load {
        Load {
            traffic: None,
            headroom: DEFAULT_HEADROOM,
        }
    }
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
            (lo <= hi).then_some(Traffic { lo, hi }).ok_or_else(|| {
                Error::option(
                    "--traffic",
                    text,
                    "a range LO..HI needs LO at most HI (1000..200000)",
                )
            })
        }
        None => {
            let v = num(text)?;
            Ok(Traffic { lo: v, hi: v })
        }
    }
}

/// `--headroom`: in [0, 1).
pub fn check_headroom(h: f64) -> Result<f64, Error> {
    if (0.0..1.0).contains(&h) {
        Ok(h)
    } else {
        Err(Error::option(
            "--headroom",
            h.to_string(),
            "must be in [0, 1): the share of each instance's capacity kept free",
        ))
    }
}

/// The machine and the instance it was priced as (two runs on one host priced as two
/// instances are two machines to choose between).
pub fn machine(r: &ServingRecord) -> String {
    match &r.instance {
        Some(i) => format!("{} [{i}]", r.machine),
        None => r.machine.clone(),
    }
}

/// `wgsl [sw]`, and `@ machine [instance]` with `with_machine`.
fn target_label(r: &ServingRecord, with_machine: bool) -> String {
    let t = format!("{}{}", r.target, sw(r));
    if with_machine {
        format!("{t} @ {}", machine(r))
    } else {
        t
    }
}

fn sw(r: &ServingRecord) -> &'static str {
    if r.device_kind == DeviceKind::SoftwareGpu {
        " [sw]"
    } else {
        ""
    }
}

/// One way to serve a candidate: a machine and target at its best server configuration.
#[derive(Debug, Clone, Copy)]
pub struct Way<'a> {
    pub record: &'a ServingRecord,
    pub best: &'a Capacity,
    /// The capacity in rows per second.
    pub rows_per_s: f64,
}

impl<'a> Way<'a> {
    /// The record's best configuration, where one met the budget.
    pub fn of(record: &'a ServingRecord) -> Option<Way<'a>> {
        let best = record.best_capacity()?;
        let rows_per_s = best.rps? * best.config.rows_per_request as f64;
        (rows_per_s > 0.0).then_some(Way {
            record,
            best,
            rows_per_s,
        })
    }

    /// `cpu @ host [c7i.large]`, `wgsl [sw] @ host`.
    pub fn label(&self) -> String {
        target_label(self.record, true)
    }

    pub fn gpu(&self) -> bool {
        self.record.device_kind.is_gpu()
    }

    /// Instances needed at `t` rows/s, each loaded to `1 - headroom` of the capacity.
    pub fn instances(&self, t: f64, headroom: f64) -> u64 {
        instances(t, self.rows_per_s * (1.0 - headroom))
    }

    /// $/hour at `t` rows/s; `None` without a price.
    pub fn usd_per_hour(&self, t: f64, headroom: f64) -> Option<f64> {
        Some(self.instances(t, headroom) as f64 * self.record.usd_per_hour?)
    }

    /// $ per million predictions at `t` rows/s; `None` without a price.
    pub fn usd_per_million(&self, t: f64, headroom: f64) -> Option<f64> {
        Some(self.usd_per_hour(t, headroom)? / (t * 3600.0) * 1e6)
    }
}

fn instances(t: f64, usable: f64) -> u64 {
    (t / usable).ceil().max(1.0) as u64
}

/// A way reduced to what its cost depends on: rows/s one instance takes, its $/hour.
#[derive(Debug, Clone, Copy)]
struct Priced {
    usable: f64,
    usd: f64,
    gpu: bool,
}

impl Priced {
    fn cost(&self, t: f64) -> f64 {
        instances(t, self.usable) as f64 * self.usd
    }
}

/// A traffic interval `(from, to]` and the index of the cheapest way on it.
type Cheapest = (f64, f64, usize);

/// Over `lo..hi`, the intervals of traffic on which each way is the cheapest, and those on
/// which a GPU way is cheaper than every CPU way. Costs change only at multiples of each
/// way's usable rate: the intervals are exact.
fn intervals(ways: &[Priced], lo: f64, hi: f64) -> (Vec<Cheapest>, Vec<(f64, f64)>) {
    let mut points = vec![lo, hi];
    for w in ways {
        let mut k = (lo / w.usable).floor() as u64 + 1;
        while (k as f64) * w.usable < hi && points.len() < 200_000 {
            points.push(k as f64 * w.usable);
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
        // Ties go to the larger capacity, as in [`ServingChoice::choose`].
        let best = (0..ways.len()).min_by(|&i, &j| {
            ways[i]
                .cost(t)
                .total_cmp(&ways[j].cost(t))
                .then(ways[j].usable.total_cmp(&ways[i].usable))
        });
        let Some(best) = best else { continue };
        match cheapest.last_mut() {
            Some(last) if last.2 == best => last.1 = b,
            _ => cheapest.push((a, b, best)),
        }
        let min_of = |want_gpu: bool| {
            ways.iter()
                .filter(|w| w.gpu == want_gpu)
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

/// Candidates in the order their records come.
fn candidates(served: &[ServingRecord]) -> Vec<&str> {
    let mut out: Vec<&str> = Vec::new();
    for r in served {
        if !out.contains(&r.candidate.as_str()) {
            out.push(&r.candidate);
        }
    }
    out
}

/// The priced ways of one candidate.
fn priced_ways<'a>(served: &'a [ServingRecord], cand: &str) -> Vec<Way<'a>> {
    served
        .iter()
        .filter(|r| r.candidate == cand && r.usd_per_hour.is_some())
        .filter_map(Way::of)
        .collect()
}

fn headroom_text(headroom: f64) -> String {
    if headroom == 0.0 {
        "each instance at its full measured capacity (--headroom 0)".into()
    } else {
        format!(
            "each instance loaded to at most {:.0}% of its measured capacity (--headroom {headroom})",
            (1.0 - headroom) * 100.0
        )
    }
}

/// A budget in words: `p99 <= 1.00ms, p50 <= 250µs` (empty without one).
pub fn budget_words(b: &Budget) -> String {
    [
        b.p99_ns.map(|v| format!("p99 <= {}", fmt_ns(v))),
        b.p50_ns.map(|v| format!("p50 <= {}", fmt_ns(v))),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>()
    .join(", ")
}

/// The budget of the records (all of one budget: [`under_one_budget`]), in words.
fn budget_text(served: &[ServingRecord]) -> String {
    served
        .first()
        .map_or(String::new(), |r| budget_words(&r.plan.budget))
}

/// The serving records that can be compared: capacities are searched under one budget, so
/// records measured under another are left out, and the note says which. With `wanted`
/// (the budget a merge was given) those measured under it; without, those under the budget
/// of the most records (the first such budget on a tie).
pub fn under_one_budget(
    served: Vec<ServingRecord>,
    wanted: Option<Budget>,
) -> (Vec<ServingRecord>, Option<String>) {
    let mut budgets: Vec<(Budget, usize)> = Vec::new();
    for r in &served {
        match budgets.iter_mut().find(|(b, _)| *b == r.plan.budget) {
            Some((_, n)) => *n += 1,
            None => budgets.push((r.plan.budget, 1)),
        }
    }
    let most = budgets.iter().map(|(_, n)| *n).max().unwrap_or(0);
    let keep = match (wanted, budgets.iter().find(|(_, n)| *n == most)) {
        (Some(b), _) => b,
        // The first budget of the most records.
        (None, Some((b, _))) => *b,
        (None, None) => return (served, None),
    };
    let (kept, left): (Vec<_>, Vec<_>) = served.into_iter().partition(|r| r.plan.budget == keep);
    if left.is_empty() {
        return (kept, None);
    }
    let others: BTreeSet<String> = left.iter().map(|r| budget_words(&r.plan.budget)).collect();
    let note = format!(
        "{} serving record{} measured under {} left out: a capacity holds only for the budget \
         it was searched under, and these are compared under {}{}",
        left.len(),
        if left.len() == 1 { "" } else { "s" },
        others.into_iter().collect::<Vec<_>>().join("; "),
        match budget_words(&keep).as_str() {
            "" => "no budget".to_string(),
            t => t.to_string(),
        },
        if wanted.is_some() {
            " (the budget given here)"
        } else {
            " (the budget of the most records; give --slo-p99 to choose)"
        }
    );
    (kept, Some(note))
}

/// The tables: offline, capacity under the budget, and cost at the traffic.
pub fn tables(served: &[ServingRecord], load: Load) -> String {
    let mut s = String::new();
    if served.is_empty() {
        return s;
    }
    // The target, and its machine where there are several (a merge).
    let several = served.iter().map(machine).collect::<BTreeSet<_>>().len() > 1;
    let target = |r: &ServingRecord| target_label(r, several);
    let tw = served
        .iter()
        .map(|r| target(r).chars().count())
        .max()
        .unwrap_or(6)
        .max(6);
    if served.iter().any(|r| !r.offline.is_empty()) {
        let _ = writeln!(s, "\noffline (every row at once; rows/s over all workers)");
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
    for r in served.iter().filter(|r| r.reason.is_some()) {
        let _ = writeln!(
            s,
            "{:<12} {:<tw$} not served: {}",
            r.candidate,
            target(r),
            r.reason.as_deref().unwrap_or_default()
        );
    }
    if !served.iter().any(|r| !r.capacity.is_empty()) {
        return s;
    }
    let plan = &served[0].plan;
    let _ = writeln!(
        s,
        "\nserver capacity: the highest Poisson arrival rate with {} from arrival, requests of {} row{}",
        budget_text(served),
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
        "requests/s",
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
            let cap = if c.generator_bound {
                format!("{cap}+")
            } else {
                cap
            };
            let _ = writeln!(
                s,
                "{:<12} {:<tw$} {:>7} {:>9} {:>9} {:>11} {:>9} {:>9} {:>10}  {}{}",
                r.candidate,
                target(r),
                c.config.workers,
                c.config.max_batch,
                delay_text(&c.config),
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
        .any(|r| r.capacity.iter().any(|c| c.generator_bound))
    {
        let _ = writeln!(
            s,
            "  +: at least this: every faster step failed because the load generator fell behind, \
             not for the budget; the configuration may serve more than this machine can offer it"
        );
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
    let _ = writeln!(
        s,
        "\ncost at {}: whole instances of its machine at its best configuration, {}",
        load.traffic.map_or(
            "capacity (pass --traffic ROWS_PER_S for a traffic)".to_string(),
            |t| format!("{} rows/s", fmt_rate(t.hi))
        ),
        headroom_text(load.headroom)
    );
    let _ = writeln!(
        s,
        "{:<12} {:<tw$} {:<32} {:>11} {:>9} {:>10} {:>10} {:>10}",
        "candidate",
        "target",
        "best configuration",
        "rows/s",
        "instances",
        "$/hour",
        "$/month",
        "$ per 1M"
    );
    for r in served {
        let Some(way) = Way::of(r) else {
            let _ = writeln!(
                s,
                "{:<12} {:<tw$} no configuration met the budget",
                r.candidate,
                target(r)
            );
            continue;
        };
        // Without a traffic: one instance at its usable rate.
        let usable = way.rows_per_s * (1.0 - load.headroom);
        let t = load.traffic.map_or(usable, |t| t.hi);
        let n = way.instances(t, load.headroom);
        let cost = way
            .usd_per_hour(t, load.headroom)
            .zip(way.usd_per_million(t, load.headroom));
        let (per_hour, per_month, per_million) = match cost {
            Some((usd, per_million)) => (
                format!("{usd:.4}"),
                format!("{:.2}", usd * HOURS_PER_MONTH),
                crate::fmt_usd(per_million),
            ),
            None => ("no price".into(), "-".into(), "-".into()),
        };
        let _ = writeln!(
            s,
            "{:<12} {:<tw$} {:<32} {:>11} {:>9} {:>10} {:>10} {:>10}",
            r.candidate,
            target(r),
            way.best.config.describe(),
            format!(
                "{}{}",
                fmt_rate(way.rows_per_s),
                if way.best.generator_bound { "+" } else { "" }
            ),
            n,
            per_hour,
            per_month,
            per_million
        );
    }
    if let Some(t) = load.traffic.filter(|t| t.lo < t.hi) {
        s.push_str(&over_range(served, t, load.headroom));
    }
    if served
        .iter()
        .any(|r| r.device_kind == DeviceKind::SoftwareGpu)
    {
        let _ = writeln!(
            s,
            "  [sw]: a software adapter on the CPU, not a GPU: its capacity is CPU capacity"
        );
    }
    s
}

/// Hours in a month for $/month: 730 (365 x 24 / 12).
pub const HOURS_PER_MONTH: f64 = 730.0;

fn delay_text(c: &Config) -> String {
    match c.max_queue_delay_ns {
        0 => "0".to_string(),
        d => fmt_ns(d as f64),
    }
}

/// The question "is a GPU worth it" answers for these records.
fn question(served: &[ServingRecord]) -> &'static str {
    if served.iter().map(machine).collect::<BTreeSet<_>>().len() == 1 {
        "on this instance, serve from its GPU or from its CPU cores, both at its price"
    } else {
        "a GPU instance or a CPU instance, each at its own price"
    }
}

/// One candidate's answer over a traffic range: the cheapest way on each interval, and the
/// intervals where a GPU way is cheaper than every CPU way.
pub struct RangeAnswer<'a> {
    pub ways: Vec<Way<'a>>,
    pub cheapest: Vec<(f64, f64, usize)>,
    pub gpu_cheaper: Vec<(f64, f64)>,
}

/// [`RangeAnswer`] for `cand`; `None` when no priced way met the budget.
pub fn over<'a>(
    served: &'a [ServingRecord],
    cand: &str,
    t: Traffic,
    headroom: f64,
) -> Option<RangeAnswer<'a>> {
    let ways = priced_ways(served, cand);
    if ways.is_empty() {
        return None;
    }
    let priced: Vec<Priced> = ways
        .iter()
        .map(|w| Priced {
            usable: w.rows_per_s * (1.0 - headroom),
            usd: w.record.usd_per_hour.unwrap_or(f64::NAN),
            gpu: w.gpu(),
        })
        .collect();
    let (cheapest, gpu_cheaper) = intervals(&priced, t.lo, t.hi);
    Some(RangeAnswer {
        ways,
        cheapest,
        gpu_cheaper,
    })
}

/// "is a GPU worth it" for one candidate's answer, in words.
fn gpu_answer(a: &RangeAnswer, question: &str) -> String {
    let has_gpu = a.ways.iter().any(Way::gpu);
    let has_cpu = a.ways.iter().any(|w| !w.gpu());
    if !has_gpu {
        format!("is a GPU worth it ({question})? no GPU measured (software adapters are not GPUs)")
    } else if !has_cpu {
        format!("is a GPU worth it ({question})? no CPU way to compare with")
    } else if a.gpu_cheaper.is_empty() {
        format!("is a GPU worth it ({question})? not at any traffic in the range")
    } else {
        format!(
            "is a GPU worth it ({question})? cheaper than every CPU way on {}",
            a.gpu_cheaper
                .iter()
                .map(|(a, b)| format!("{}..{} rows/s", fmt_rate(*a), fmt_rate(*b)))
                .collect::<Vec<_>>()
                .join(", ")
        )
    }
}

/// For each candidate, over the traffic range: which (machine, target) is cheapest on each
/// interval, and where a GPU is cheaper than every CPU way, with the question it answers.
fn over_range(served: &[ServingRecord], t: Traffic, headroom: f64) -> String {
    let mut s = String::new();
    let q = question(served);
    let _ = writeln!(
        s,
        "\ncheapest way to serve from {} to {} rows/s (whole instances at each way's best configuration, {})",
        fmt_rate(t.lo),
        fmt_rate(t.hi),
        headroom_text(headroom)
    );
    for cand in candidates(served) {
        let Some(a) = over(served, cand, t, headroom) else {
            let met = served
                .iter()
                .any(|r| r.candidate == cand && Way::of(r).is_some());
            let _ = if met {
                writeln!(
                    s,
                    "  {cand}: no price (pass --instance NAME or --usd-per-hour X to cost it)"
                )
            } else {
                writeln!(s, "  {cand}: no configuration met the budget")
            };
            continue;
        };
        for (lo, hi, i) in &a.cheapest {
            let w = &a.ways[*i];
            let _ = writeln!(
                s,
                "  {cand}: {} to {} rows/s: {} ({} instance{} ${:.4}/h at {} rows/s)",
                fmt_rate(*lo),
                fmt_rate(*hi),
                w.label(),
                w.instances(*hi, headroom),
                if w.instances(*hi, headroom) == 1 {
                    ","
                } else {
                    "s,"
                },
                w.usd_per_hour(*hi, headroom).unwrap_or(f64::NAN),
                fmt_rate(*hi)
            );
        }
        let _ = writeln!(s, "  {cand}: {}", gpu_answer(&a, q));
    }
    s
}

/// Where to serve one candidate at one traffic: the recommendation's placement when a run
/// or merge has server capacities and a traffic.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServingChoice {
    /// The traffic the choice is for, rows/s (the top of `--traffic`), and the whole range.
    pub traffic_rows_per_s: f64,
    pub traffic_lo_rows_per_s: f64,
    pub headroom: f64,
    pub target: String,
    pub device_kind: DeviceKind,
    /// The machine, with the instance it was priced as.
    pub machine: String,
    pub config: Config,
    /// The configuration's capacity under the budget, rows/s, and the latencies at it.
    pub capacity_rows_per_s: f64,
    /// The capacity is a lower bound: the load generator, not the budget, stopped the
    /// search (`Capacity::generator_bound`).
    #[serde(default)]
    pub capacity_is_lower_bound: bool,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub p50_ns: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub p99_ns: Option<f64>,
    pub instances: u64,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub usd_per_hour: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub usd_per_month: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub usd_per_million: Option<f64>,
}

impl ServingChoice {
    /// The cheapest of `ways` at the top of `t`: by $/hour (unpriced ways last), then by
    /// capacity.
    pub fn choose(ways: &[Way], t: Traffic, headroom: f64) -> Option<ServingChoice> {
        let at = t.hi;
        let w = ways.iter().min_by(|a, b| {
            let cost = |w: &Way| w.usd_per_hour(at, headroom).unwrap_or(f64::INFINITY);
            cost(a)
                .total_cmp(&cost(b))
                .then(b.rows_per_s.total_cmp(&a.rows_per_s))
        })?;
        let usd = w.usd_per_hour(at, headroom);
        Some(ServingChoice {
            traffic_rows_per_s: at,
            traffic_lo_rows_per_s: t.lo,
            headroom,
            target: w.record.target.clone(),
            device_kind: w.record.device_kind,
            machine: machine(w.record),
            config: w.best.config,
            capacity_rows_per_s: w.rows_per_s,
            capacity_is_lower_bound: w.best.generator_bound,
            p50_ns: w.best.at.as_ref().and_then(|s| s.p50_ns),
            p99_ns: w.best.at.as_ref().and_then(|s| s.p99_ns),
            instances: w.instances(at, headroom),
            usd_per_hour: usd,
            usd_per_month: usd.map(|u| u * HOURS_PER_MONTH),
            usd_per_million: w.usd_per_million(at, headroom),
        })
    }

    /// `serve it on cpu (host [c7i.large]) with 2 workers, ...: 3 instances ...`.
    pub fn sentence(&self) -> String {
        format!(
            "serve it on {}{} ({}) with {}: capacity {}{} rows/s under the budget (p99 {} at it); \
             at {} rows/s, {}: {} instance{}{}",
            self.target,
            if self.device_kind == DeviceKind::SoftwareGpu {
                " [sw: a software adapter, not a GPU]"
            } else {
                ""
            },
            self.machine,
            self.config.describe(),
            if self.capacity_is_lower_bound {
                "at least "
            } else {
                ""
            },
            fmt_rate(self.capacity_rows_per_s),
            self.p99_ns.map_or("-".into(), fmt_ns),
            fmt_rate(self.traffic_rows_per_s),
            headroom_text(self.headroom),
            self.instances,
            if self.instances == 1 { "" } else { "s" },
            match (self.usd_per_hour, self.usd_per_month, self.usd_per_million) {
                (Some(h), Some(m), Some(p)) => format!(
                    ", ${h:.4}/hour, ${m:.2}/month, {} per million predictions",
                    crate::fmt_usd(p)
                ),
                _ => ", no price".into(),
            }
        )
    }
}

/// The $/hour-against-traffic plot of each candidate with priced ways: one step curve per
/// (machine, target) at its best configuration, over the traffic range (or around the
/// capacities without one).
pub fn figures(served: &[ServingRecord], load: Load) -> Vec<crate::svg::Figure> {
    let mut out = Vec::new();
    let q = question(served);
    for cand in candidates(served) {
        let ways = priced_ways(served, cand);
        if ways.is_empty() {
            continue;
        }
        let t = load.traffic.filter(|t| t.lo < t.hi).unwrap_or_else(|| {
            let caps = ways.iter().map(|w| w.rows_per_s);
            Traffic {
                lo: caps.clone().fold(f64::INFINITY, f64::min) / 10.0,
                hi: caps.fold(0.0, f64::max) * 10.0,
            }
        });
        let Some(answer) = over(served, cand, t, load.headroom) else {
            continue;
        };
        let mut chart = Chart::new(
            format!("{cand}: $/hour to serve the traffic"),
            "traffic (rows/s)",
            "$/hour",
        );
        chart.x_log = true;
        chart.y_log = true;
        chart.x_fmt = fmt_rate;
        chart.y_fmt = crate::fmt_usd;
        for (i, w) in answer.ways.iter().enumerate() {
            let usable = w.rows_per_s * (1.0 - load.headroom);
            let usd = w.record.usd_per_hour.unwrap_or(f64::NAN);
            let title = |x: f64| {
                format!(
                    "{}: {} instance(s) at {} rows/s, ${:.4}/h",
                    w.label(),
                    instances(x, usable),
                    fmt_rate(x),
                    instances(x, usable) as f64 * usd
                )
            };
            let mut pts =
                vec![Point::new(t.lo, instances(t.lo, usable) as f64 * usd).titled(title(t.lo))];
            let first = (t.lo / usable).floor() as u64 + 1;
            let last = (t.hi / usable).ceil() as u64;
            if last.saturating_sub(first) <= 400 {
                // The steps as they are: one more instance past each multiple of the rate.
                for k in first..last {
                    let x = k as f64 * usable;
                    pts.push(Point::new(x, k as f64 * usd).titled(title(x)));
                    pts.push(Point::new(x, (k + 1) as f64 * usd));
                }
            } else {
                // Too many steps to see: the cost at 200 log-spaced traffics.
                for j in 1..200 {
                    let x = t.lo * (t.hi / t.lo).powf(j as f64 / 200.0);
                    pts.push(Point::new(x, instances(x, usable) as f64 * usd).titled(title(x)));
                }
            }
            pts.push(Point::new(t.hi, instances(t.hi, usable) as f64 * usd).titled(title(t.hi)));
            chart.series.push(Series::line(w.label(), i, pts));
        }
        if let Some(tr) = load.traffic {
            chart.markers.push(crate::svg::Marker {
                x: tr.hi,
                label: format!("{} rows/s", fmt_rate(tr.hi)),
            });
        }
        let cheapest = answer
            .cheapest
            .iter()
            .map(|(a, b, i)| {
                format!(
                    "{} on {}..{} rows/s",
                    answer.ways[*i].label(),
                    fmt_rate(*a),
                    fmt_rate(*b)
                )
            })
            .collect::<Vec<_>>()
            .join("; ");
        out.push(crate::svg::Figure {
            name: format!("serving-cost-{cand}"),
            caption: format!(
                "{cand}: $/hour against traffic, whole instances at each way's best server \
                 configuration under {}, {}. Cheapest: {cheapest}. {}.",
                budget_text(served),
                headroom_text(load.headroom),
                gpu_answer(&answer, q)
            ),
            svg: chart.render(),
        });
    }
    out
}

#[cfg(test)]
pub(crate) mod tests {
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
        assert!(check_headroom(1.0).is_err() && check_headroom(-0.1).is_err());
        assert_eq!(check_headroom(0.0).unwrap(), 0.0);
    }

    /// A CPU way of 1,000 rows/s at $1/h against a GPU way of 10,000 rows/s at $9.50/h: the
    /// GPU is cheaper from 9,000 to 10,000 rows/s (10 CPU instances), the CPU again up to
    /// 19,000 (a second GPU instance), the GPU again to 20,000: every interval is listed, not
    /// only the first crossing.
    #[test]
    fn every_interval_where_the_gpu_is_cheaper_is_found() {
        let ways = [
            Priced {
                usable: 1000.0,
                usd: 1.0,
                gpu: false,
            },
            Priced {
                usable: 10_000.0,
                usd: 9.5,
                gpu: true,
            },
        ];
        let (cheapest, gpu_cheaper) = intervals(&ways, 500.0, 20_000.0);
        assert_eq!(gpu_cheaper, vec![(9000.0, 10_000.0), (19_000.0, 20_000.0)]);
        let order: Vec<usize> = cheapest.iter().map(|c| c.2).collect();
        assert_eq!(order, [0, 1, 0, 1], "{cheapest:?}");
    }

    pub(crate) fn record(
        candidate: &str,
        target: &str,
        kind: DeviceKind,
        instance: &str,
        usd: f64,
        rps: f64,
    ) -> ServingRecord {
        let step = serde_json::json!({
            "config": {"workers": 1, "max_batch": 64, "max_queue_delay_ns": 0, "rows_per_request": 1},
            "offered_rps": rps, "served_rps": rps, "requests": 2000, "seconds": 1.0,
            "p50_ns": 1e5, "p99_ns": 5e5, "p999_ns": 6e5, "mean_ns": 2e5, "mean_batch_rows": 1.5,
            "late_share": 0.0, "issue_lag_p99_ns": 1e3, "overloaded": false, "valid": true,
            "reasons": [], "histogram": ""
        });
        serde_json::from_value(serde_json::json!({
            "schema_version": 8, "run_id": "r", "candidate": candidate, "family": "f",
            "target": target, "device": "d", "device_kind": kind, "machine": "m",
            "instance": instance, "usd_per_hour": usd,
            "cores": 2, "weights_shared": false,
            "plan": {"offline": false, "server": true, "workers": [1], "max_batch": [64],
                     "max_queue_delay_ns": [0], "rows_per_request": 1,
                     "budget": {"p99_ns": 1e6, "p50_ns": null}, "step_seconds": 1.0,
                     "offline_seconds": 1.0, "precision": 0.05, "seed": 1},
            "offline": [],
            "capacity": [{"config": step["config"], "budget": {"p99_ns": 1e6, "p50_ns": null},
                          "rps": rps, "at": step, "steps": [step], "reason": null}]
        }))
        .unwrap()
    }

    /// Headroom divides each instance's usable rate: 2,500 rows/s on ways of 1,000 rows/s
    /// takes 3 instances at no headroom, 4 at 0.2 (800 usable each), 5 at 0.5.
    #[test]
    fn instances_count_the_headroom() {
        let r = record("c", "cpu", DeviceKind::Cpu, "a", 1.0, 1000.0);
        let w = Way::of(&r).unwrap();
        assert_eq!(w.instances(2500.0, 0.0), 3);
        assert_eq!(w.instances(2500.0, 0.2), 4);
        assert_eq!(w.instances(2500.0, 0.5), 5);
        assert_eq!(w.instances(1.0, 0.5), 1);
        assert_eq!(w.usd_per_hour(2500.0, 0.2), Some(4.0));
        let t = Traffic {
            lo: 2500.0,
            hi: 2500.0,
        };
        let c = ServingChoice::choose(&[w], t, 0.2).unwrap();
        assert_eq!(c.instances, 4);
        assert!((c.usd_per_month.unwrap() - 4.0 * 730.0).abs() < 1e-9);
        // $4/h for 2,500 rows/s: 9e6 rows an hour, $0.444 per million.
        assert!((c.usd_per_million.unwrap() - 4.0 / 9.0).abs() < 1e-12);
    }

    /// The plot draws the steps: at 1,000 rows/s a way of 1,000 usable rows/s jumps from one
    /// instance's price to two.
    #[test]
    fn the_cost_plot_is_a_step_curve() {
        let served = [
            record("c", "cpu", DeviceKind::Cpu, "a", 1.0, 1000.0),
            record("c", "x", DeviceKind::Gpu, "b", 9.5, 10_000.0),
        ];
        let load = Load {
            traffic: Some(Traffic {
                lo: 500.0,
                hi: 20_000.0,
            }),
            headroom: 0.0,
        };
        let figs = figures(&served, load);
        assert_eq!(figs.len(), 1);
        let f = &figs[0];
        assert!(
            f.svg
                .contains("cpu @ m [a]: 2 instance(s) at 2.00k rows/s, $2.0000/h"),
            "{}",
            f.svg
        );
        assert!(
            f.caption
                .contains("9.00k..10.0k rows/s, 19.0k..20.0k rows/s"),
            "{}",
            f.caption
        );
        assert!(
            f.caption.contains("a GPU instance or a CPU instance"),
            "{}",
            f.caption
        );
    }
}
