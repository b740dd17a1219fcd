//! What predictions cost, which cells meet the latency budget, whether a GPU pays, and the
//! recommendation.
//!
//! Formulas (unit-tested on hand-computed cases below):
//! - `$ per million predictions = $/hour / (rows/s x 3600 x utilization) x 1e6`;
//! - the SLO cell of a (candidate, target): the batch size with the highest throughput whose
//!   p99 (and p50) meets the budget, among valid cells that report a p99;
//! - GPU crossover: the smallest measured batch size from which a GPU target gives more rows
//!   per dollar than the best CPU target at the same batch size;
//! - break-even traffic: the smallest request rate at which whole GPU instances meeting the SLO
//!   cost less per hour than whole CPU instances meeting it.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use tradeoff_core::record::{CellRecord, ServingRecord, Status};
use tradeoff_ir::target::DeviceKind;

use crate::serving::{ServingChoice, Traffic, Way};

/// The shipped catalog (`prices.toml` at the repository root), embedded at compile time.
pub const DEFAULT_PRICES: &str = include_str!("../../../prices.toml");

/// Default share of an instance's time spent predicting at the measured throughput: headroom
/// for traffic peaks and everything else the instance does.
pub const DEFAULT_UTILIZATION: f64 = 0.5;

/// Catalog entries older than this get a warning.
pub const STALE_DAYS: i64 = 90;

#[derive(Debug, thiserror::Error)]
pub enum CostError {
    #[error("{file}: {message}")]
    Catalog { file: String, message: String },
    #[error("no instance {name:?} in {file}; known: {known}")]
    UnknownInstance {
        name: String,
        file: String,
        known: String,
    },
}

/// One priced instance type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Price {
    pub provider: String,
    pub name: String,
    pub vcpus: u32,
    pub memory_gib: f64,
    /// GPU model, empty for none.
    pub gpu: String,
    pub gpus: u32,
    pub usd_per_hour: f64,
    pub region: String,
    /// When the price was recorded, `YYYY-MM-DD`.
    pub date: String,
    pub source: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Catalog {
    #[serde(rename = "instance")]
    pub instances: Vec<Price>,
}

/// Days since 1970-01-01 of a `YYYY-MM-DD` date (proleptic Gregorian), or `None`.
pub fn days_from_date(date: &str) -> Option<i64> {
    let mut it = date.trim().splitn(3, '-');
    let y: i64 = it.next()?.parse().ok()?;
    let m: i64 = it.next()?.parse().ok()?;
    let d: i64 = it.next()?.parse().ok()?;
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    // Howard Hinnant's days_from_civil.
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Some(era * 146_097 + doe - 719_468)
}

impl Catalog {
    /// Parses and checks a catalog; `file` names it in errors (TOML errors carry the line and
    /// column).
    pub fn parse(text: &str, file: &str) -> Result<Catalog, CostError> {
        let c: Catalog = toml::from_str(text).map_err(|e| CostError::Catalog {
            file: file.into(),
            message: e.to_string().trim_end().replace('\n', " "),
        })?;
        for p in &c.instances {
            let bad = |m: String| CostError::Catalog {
                file: file.into(),
                message: format!("instance {:?}: {m}", p.name),
            };
            if !(p.usd_per_hour.is_finite() && p.usd_per_hour > 0.0) {
                return Err(bad(format!(
                    "usd_per_hour {} must be positive",
                    p.usd_per_hour
                )));
            }
            if days_from_date(&p.date).is_none() {
                return Err(bad(format!("date {:?} is not YYYY-MM-DD", p.date)));
            }
        }
        Ok(c)
    }

    pub fn load(path: &Path) -> Result<Catalog, CostError> {
        let text = std::fs::read_to_string(path).map_err(|e| CostError::Catalog {
            file: path.display().to_string(),
            message: format!("cannot read: {e}"),
        })?;
        Catalog::parse(&text, &path.display().to_string())
    }

    pub fn find(&self, name: &str, file: &str) -> Result<&Price, CostError> {
        self.instances
            .iter()
            .find(|p| p.name == name)
            .ok_or_else(|| CostError::UnknownInstance {
                name: name.into(),
                file: file.into(),
                known: self
                    .instances
                    .iter()
                    .map(|p| p.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }
}

/// A warning when a price is older than [`STALE_DAYS`] on `today` (days since the epoch).
pub fn staleness(p: &Price, today: i64) -> Option<String> {
    let age = today - days_from_date(&p.date)?;
    (age > STALE_DAYS).then(|| {
        format!(
            "the price of {} (${}/h) was recorded {} ({age} days ago); check it or pass --prices / --usd-per-hour",
            p.name, p.usd_per_hour, p.date
        )
    })
}

/// Dollars per million predictions.
pub fn usd_per_million(usd_per_hour: f64, rows_per_s: f64, utilization: f64) -> Option<f64> {
    let v = usd_per_hour / (rows_per_s * 3600.0 * utilization) * 1e6;
    (v.is_finite() && rows_per_s > 0.0 && utilization > 0.0).then_some(v)
}

/// Latency budgets, in nanoseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Slo {
    pub p99_ns: Option<f64>,
    pub p50_ns: Option<f64>,
}

impl Slo {
    pub fn is_set(&self) -> bool {
        self.p99_ns.is_some() || self.p50_ns.is_some()
    }

    /// The same budgets as the serving scenarios take them.
    pub fn budget(&self) -> tradeoff_core::serving::Budget {
        tradeoff_core::serving::Budget {
            p99_ns: self.p99_ns,
            p50_ns: self.p50_ns,
        }
    }

    /// Whether a cell meets the budget: valid, and every budgeted percentile reported and
    /// within it. A cell without a p99 (too few samples) does not qualify for a p99 budget.
    /// Where calls were timed in groups, the percentiles are of group means, and the budget
    /// is checked against what they bound for a single call (the group's total), never
    /// against the group mean as if it were a single call's tail.
    pub fn met_by(&self, c: &CellRecord) -> bool {
        let Some(l) = c.latency_ns.as_ref().filter(|_| c.status == Status::Ok) else {
            return false;
        };
        let p99_ok = match self.p99_ns {
            Some(b) => l.p99_for_budget().is_some_and(|v| v <= b),
            None => true,
        };
        let p50_ok = self.p50_ns.is_none_or(|b| l.p50_for_budget() <= b);
        p99_ok && p50_ok
    }
}

/// Parses `5ms`, `250us`, `250µs`, `800ns`, `1.5s` into nanoseconds.
pub fn parse_duration_ns(text: &str) -> Option<f64> {
    let t = text.trim();
    let split = t.find(|c: char| c.is_alphabetic() || c == 'µ')?;
    let (num, unit) = t.split_at(split);
    let v: f64 = num.trim().parse().ok()?;
    let scale = match unit {
        "ns" => 1.0,
        "us" | "µs" => 1e3,
        "ms" => 1e6,
        "s" => 1e9,
        _ => return None,
    };
    (v.is_finite() && v > 0.0).then_some(v * scale)
}

/// The cell a (candidate, target) should run at under the SLO: the highest throughput among
/// cells meeting it. Without an SLO, the highest-throughput valid cell.
pub fn slo_cell<'a>(cells: &[&'a CellRecord], slo: &Slo) -> Option<&'a CellRecord> {
    cells
        .iter()
        .copied()
        .filter(|c| c.status == Status::Ok && c.throughput_rows_per_s.is_some())
        .filter(|c| !slo.is_set() || slo.met_by(c))
        .max_by(|a, b| {
            a.throughput_rows_per_s
                .unwrap_or(0.0)
                .total_cmp(&b.throughput_rows_per_s.unwrap_or(0.0))
        })
}

/// Rows per dollar of a cell, from its own machine's price.
fn rows_per_usd(c: &CellRecord) -> Option<f64> {
    Some(c.throughput_rows_per_s? * 3600.0 / c.usd_per_hour?)
}

/// Is the GPU worth it, for one candidate?
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GpuVerdict {
    pub candidate: String,
    /// Smallest batch size from which a GPU target gives more rows per dollar than the best
    /// CPU target at the same batch size (and stays ahead at every larger measured size).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub crossover_batch: Option<usize>,
    /// Smallest request rate (rows/s) at which whole GPU instances meeting the SLO cost less
    /// per hour than whole CPU instances meeting it.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub break_even_rows_per_s: Option<f64>,
    /// What the answer rests on, in words.
    pub explanation: String,
}

/// Crossover batch size and break-even traffic for one candidate's cells. Software GPU
/// adapters never count as GPUs.
pub fn gpu_verdict(
    candidate: &str,
    cells: &[&CellRecord],
    slo: &Slo,
    utilization: f64,
) -> GpuVerdict {
    let valid = |c: &&&CellRecord| c.status == Status::Ok;
    let cpu: Vec<&CellRecord> = cells
        .iter()
        .filter(valid)
        .filter(|c| c.device_kind == DeviceKind::Cpu)
        .copied()
        .collect();
    let gpu: Vec<&CellRecord> = cells
        .iter()
        .filter(valid)
        .filter(|c| c.device_kind.is_gpu())
        .copied()
        .collect();
    let mut v = GpuVerdict {
        candidate: candidate.into(),
        crossover_batch: None,
        break_even_rows_per_s: None,
        explanation: String::new(),
    };
    if gpu.is_empty() {
        let software = cells
            .iter()
            .any(|c| c.device_kind == DeviceKind::SoftwareGpu);
        v.explanation = if software {
            "no GPU measured (software adapters are not GPUs)".into()
        } else {
            "no GPU target measured".into()
        };
        return v;
    }
    if cpu.is_empty() {
        v.explanation = "no CPU target measured to compare with".into();
        return v;
    }
    // Crossover: rows per dollar, batch by batch.
    let best_at = |set: &[&CellRecord], b: usize| {
        set.iter()
            .filter(|c| c.batch_size == b)
            .filter_map(|c| rows_per_usd(c))
            .fold(None, |m: Option<f64>, x| Some(m.map_or(x, |m| m.max(x))))
    };
    let mut batches: Vec<usize> = gpu.iter().map(|c| c.batch_size).collect();
    batches.sort_unstable();
    batches.dedup();
    let wins: Vec<(usize, bool)> = batches
        .iter()
        .filter_map(|&b| Some((b, best_at(&gpu, b)? > best_at(&cpu, b)?)))
        .collect();
    v.crossover_batch = wins
        .iter()
        .position(|(_, win)| *win)
        .filter(|&i| wins[i..].iter().all(|(_, w)| *w))
        .map(|i| wins[i].0);
    // Break-even traffic under the SLO: whole instances of each kind at their SLO cell.
    let capacity = |set: &[&CellRecord]| -> Option<(f64, f64)> {
        let c = slo_cell(set, slo)?;
        Some((c.throughput_rows_per_s? * utilization, c.usd_per_hour?))
    };
    match (capacity(&cpu), capacity(&gpu)) {
        (Some(c), Some(g)) => {
            v.break_even_rows_per_s = break_even(c, g);
            v.explanation = match (v.crossover_batch, v.break_even_rows_per_s) {
                (Some(b), Some(r)) => format!("GPU gives more rows per dollar from batch {b}; cheaper from {r:.0} rows/s"),
                (None, Some(r)) => format!("GPU cheaper from {r:.0} rows/s, but never more rows per dollar at one batch size"),
                (Some(b), None) => format!("GPU gives more rows per dollar from batch {b}, but never cheaper within the measured range"),
                (None, None) => "never within the measured range".into(),
            };
        }
        _ => {
            v.explanation = if slo.is_set() {
                "no CPU or no GPU cell meets the SLO with a price".into()
            } else {
                "no price for the CPU or the GPU cells".into()
            }
        }
    }
    v
}

/// Smallest request rate at which `gpu` instances cost less than `cpu` instances, each given
/// as (rows/s one instance serves, $/h), counting whole instances; `None` if not up to 1000
/// GPU instances' worth of traffic.
pub fn break_even(
    (cpu_cap, cpu_price): (f64, f64),
    (gpu_cap, gpu_price): (f64, f64),
) -> Option<f64> {
    if !(cpu_cap > 0.0 && gpu_cap > 0.0) {
        return None;
    }
    // Costs only change where a kind needs one more instance: check just above each of those
    // points, in increasing order.
    let limit = 1000.0 * gpu_cap;
    let mut points: Vec<f64> = Vec::new();
    let mut k = 0.0;
    while k * cpu_cap <= limit && points.len() < 200_000 {
        points.push(k * cpu_cap);
        k += 1.0;
    }
    let mut k = 0.0;
    while k * gpu_cap <= limit {
        points.push(k * gpu_cap);
        k += 1.0;
    }
    points.sort_by(f64::total_cmp);
    for p in points {
        // Just above p (1e-9 relative), demand needs one more instance of whichever kind is
        // full exactly at p.
        let r = p * (1.0 + 1e-9) + 1e-9;
        let cpu_cost = (r / cpu_cap).ceil() * cpu_price;
        let gpu_cost = (r / gpu_cap).ceil() * gpu_price;
        if gpu_cost < cpu_cost {
            return Some(r);
        }
    }
    None
}

/// Budgets a recommendation must meet.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Budgets {
    pub slo: Slo,
    pub max_memory_bytes: Option<u64>,
    pub max_usd_per_million: Option<f64>,
}

/// The recommendation: the simplest good-enough candidate on the cheapest target meeting
/// every budget.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Recommendation {
    pub primary_metric: String,
    pub tolerance: f64,
    /// What "best" and "within tolerance" compare: `cross-validation` (the mean over the
    /// folds of the training part) when every candidate was cross-validated, else `test
    /// split` (a candidate with fixed parameters has no cross-validated score).
    pub score_basis: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub best_candidate: Option<String>,
    /// The most accurate candidate's score on `score_basis`.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub best_score: Option<f64>,
    /// Its standard error (cross-validation only).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub best_score_se: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub candidate: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub target: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub machine: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub batch_size: Option<usize>,
    /// The chosen candidate's score on `score_basis`, with its standard error.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub score: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub score_se: Option<f64>,
    /// The chosen candidate's score on the test split: the confirmation.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub test_score: Option<f64>,
    /// Whether the test score is within `max(tolerance, 3 standard errors)` of the
    /// cross-validated one (cross-validation only); when not, a reason says so.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub test_confirms: Option<bool>,
    /// The chosen cell's p99: a single call's where calls were timed singly, else the most a
    /// single call's p99 can be (see `p99_group_size`).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub p99_ns: Option<f64>,
    /// Set when the chosen cell's calls were timed in groups of this many: `p99_ns` is then
    /// an upper bound (the group's total), not a measured single-call p99.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub p99_group_size: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub usd_per_million: Option<f64>,
    /// The reasons, one sentence each, that a person can check against the table.
    pub reasons: Vec<String>,
    /// (candidate, target, machine, batch) cells on the score / p99 / $ per million Pareto front.
    pub pareto: Vec<ParetoPoint>,
    /// With server capacities and a traffic (`--scenarios server --traffic T`), where to
    /// serve the chosen candidate at that traffic: machine, target, configuration and
    /// instance count (`batch_size` is then absent: the batcher sizes the calls).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub serving: Option<ServingChoice>,
}

/// Server capacities and the traffic a recommendation is placed at.
#[derive(Debug, Clone, Copy)]
pub struct AtTraffic<'a> {
    pub served: &'a [ServingRecord],
    pub traffic: Traffic,
    pub headroom: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ParetoPoint {
    pub candidate: String,
    pub target: String,
    pub machine: String,
    pub batch_size: usize,
    pub score: f64,
    /// As in [`Recommendation::p99_ns`]: a bound where `p99_group_size` is set.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub p99_ns: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub p99_group_size: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub usd_per_million: Option<f64>,
}

/// A cell's p99 for decisions (a single call's, or its bound where calls were timed in
/// groups) and the group size when it is a bound.
fn p99_for_budget(c: &CellRecord) -> (Option<f64>, Option<usize>) {
    match c.latency_ns.as_ref() {
        Some(l) => (l.p99_for_budget(), (!l.per_call()).then_some(l.group_size)),
        None => (None, None),
    }
}

/// "p99 1.20ms", or "p99 <= 3.10µs (bound: calls timed in groups of 40)".
fn fmt_p99(p99: Option<f64>, group: Option<usize>) -> String {
    match (p99, group) {
        (None, _) => "p99 not measured".into(),
        (Some(v), None) => format!("p99 {}", crate::fmt_ns(v)),
        (Some(v), Some(g)) => format!(
            "p99 <= {} (a bound: calls timed in groups of {g})",
            crate::fmt_ns(v)
        ),
    }
}

fn fmt_budget_ns(ns: f64) -> String {
    crate::fmt_ns(ns)
}

/// A candidate's score for choosing: (score, standard error) on the recommendation's basis.
fn basis_score(c: &CellRecord, cv: bool) -> Option<(f64, Option<f64>)> {
    if cv {
        let s = c.fit.cv_score.as_ref()?;
        Some((s.mean, Some(s.standard_error())))
    } else {
        Some((c.primary_score()?, None))
    }
}

/// "0.7120 (SE 0.0050)" or "0.7120".
fn fmt_score(score: f64, se: Option<f64>) -> String {
    match se {
        Some(se) if se.is_finite() => format!("{score:.4} (SE {se:.4})"),
        _ => format!("{score:.4}"),
    }
}

/// Chooses, and says why. Which candidate is most accurate, and which are within the
/// tolerance of it, is decided on the cross-validated score (the test score confirms it),
/// over every candidate that trained: a cell invalid for its timing says nothing about the
/// model's accuracy. Where to run it is decided over valid cells only, or, with `at`, over
/// the server capacities: the cheapest (machine, target, configuration) serving the traffic
/// within the budget, and how many instances.
pub fn recommend(
    cells: &[CellRecord],
    budgets: &Budgets,
    tolerance: f64,
    at: Option<&AtTraffic>,
) -> Recommendation {
    let metric = cells
        .first()
        .map(|c| c.primary_metric.clone())
        .unwrap_or_default();
    // One score per trained candidate: any of its cells that has one (they all share it).
    let trained: Vec<&CellRecord> = cells
        .iter()
        .filter(|c| c.primary_score().is_some())
        .collect();
    let cv = !trained.is_empty() && trained.iter().all(|c| c.fit.cv_score.is_some());
    let valid: Vec<&CellRecord> = trained
        .iter()
        .copied()
        .filter(|c| c.status == Status::Ok)
        .collect();
    let mut rec = Recommendation {
        primary_metric: metric.clone(),
        tolerance,
        score_basis: if cv {
            "cross-validation".into()
        } else {
            "test split".into()
        },
        best_candidate: None,
        best_score: None,
        best_score_se: None,
        candidate: None,
        target: None,
        machine: None,
        batch_size: None,
        score: None,
        score_se: None,
        test_score: None,
        test_confirms: None,
        p99_ns: None,
        p99_group_size: None,
        usd_per_million: None,
        reasons: vec![],
        pareto: pareto(&valid),
        serving: None,
    };
    let Some(best) = trained.iter().copied().max_by(|a, b| {
        let s = |c: &CellRecord| basis_score(c, cv).map_or(f64::NAN, |s| s.0);
        s(a).total_cmp(&s(b))
    }) else {
        rec.reasons
            .push("no candidate was trained and scored, so there is nothing to recommend".into());
        return rec;
    };
    let (best_score, best_se) = basis_score(best, cv).unwrap_or((f64::NAN, None));
    rec.best_candidate = Some(best.candidate.clone());
    rec.best_score = Some(best_score);
    rec.best_score_se = best_se;
    let basis = if cv {
        format!("cross-validated {metric}")
    } else {
        let fixed: Vec<String> = trained
            .iter()
            .filter(|c| c.fit.cv_score.is_none())
            .map(|c| {
                let why = if c.fit.imported.is_some() {
                    "imported"
                } else {
                    "fixed parameters"
                };
                format!("{} ({why})", c.candidate)
            })
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        rec.reasons.push(format!(
            "compared on the test split: {} not cross-validated",
            fixed.join(", ")
        ));
        format!("test {metric}")
    };
    // Candidates in ladder order, simplest first; every trained one is judged on accuracy,
    // and only valid cells are places to run it.
    let mut by_candidate: BTreeMap<(u32, String), Vec<&CellRecord>> = BTreeMap::new();
    for c in &trained {
        by_candidate
            .entry((c.ladder_rank, c.candidate.clone()))
            .or_default()
            .push(c);
    }
    for ((_, cand), all) in &by_candidate {
        let (score, se) = basis_score(all[0], cv).unwrap_or((f64::NAN, None));
        if score < best_score - tolerance {
            rec.reasons.push(format!(
                "{cand}: {basis} {} is more than {tolerance} below the best ({} {})",
                fmt_score(score, se),
                best.candidate,
                fmt_score(best_score, best_se)
            ));
            continue;
        }
        let cs: Vec<&CellRecord> = all
            .iter()
            .copied()
            .filter(|c| c.status == Status::Ok)
            .collect();
        if cs.is_empty() {
            rec.reasons.push(format!(
                "{cand}: {basis} {} is within {tolerance} of the best, but none of its cells is a valid measurement",
                fmt_score(score, se)
            ));
            continue;
        }
        let simplest = format!(
            "{cand}: {basis} {} is within {tolerance} of the best ({} {}) and it is the simplest such candidate",
            fmt_score(score, se),
            best.candidate,
            fmt_score(best_score, best_se),
        );
        if let Some(at) = at {
            match place_at_traffic(cand, &cs, budgets, at) {
                Ok(choice) => {
                    rec.candidate = Some(cand.clone());
                    rec.target = Some(choice.target.clone());
                    rec.machine = Some(choice.machine.clone());
                    rec.score = Some(score);
                    rec.score_se = se;
                    rec.test_score = cs[0].primary_score();
                    rec.p99_ns = choice.p99_ns;
                    rec.usd_per_million = choice.usd_per_million;
                    rec.reasons.push(format!(
                        "{simplest}{}",
                        match (cv, rec.test_score) {
                            (true, Some(t)) => format!("; on the test split it scores {t:.4}"),
                            _ => String::new(),
                        }
                    ));
                    rec.reasons.push(choice.sentence());
                    rec.serving = Some(choice);
                }
                Err(why) => {
                    rec.reasons.push(format!(
                        "{cand}: {basis} {} is within {tolerance} of the best, but {why}",
                        fmt_score(score, se)
                    ));
                    continue;
                }
            }
        } else {
            // Cells of this candidate meeting every budget.
            let ok: Vec<&CellRecord> = cs
                .iter()
                .copied()
                .filter(|c| !budgets.slo.is_set() || budgets.slo.met_by(c))
                .filter(|c| {
                    budgets.max_memory_bytes.is_none_or(|m| {
                        c.memory
                            .as_ref()
                            .and_then(|mem| mem.serving_bytes)
                            .is_some_and(|v| v <= m)
                    })
                })
                .filter(|c| {
                    budgets
                        .max_usd_per_million
                        .is_none_or(|m| c.usd_per_million.is_some_and(|v| v <= m))
                })
                .collect();
            if ok.is_empty() {
                let mut why = Vec::new();
                if let Some(b) = budgets.slo.p99_ns {
                    let best_p99 = cs
                        .iter()
                        .filter_map(|c| c.latency_ns.as_ref()?.p99_for_budget())
                        .fold(f64::INFINITY, f64::min);
                    why.push(if best_p99.is_finite() {
                        format!(
                            "its best p99 is {} (budget {})",
                            fmt_budget_ns(best_p99),
                            fmt_budget_ns(b)
                        )
                    } else {
                        "no cell reports a p99 (too few samples; try --thorough)".into()
                    });
                }
                if budgets.slo.p50_ns.is_some() {
                    why.push("p50 budget".into());
                }
                if let Some(m) = budgets.max_memory_bytes {
                    let least = cs
                        .iter()
                        .filter_map(|c| c.memory.as_ref()?.serving_bytes)
                        .min();
                    why.push(match least {
                        Some(v) => format!(
                            "memory budget {}: serving it takes at least {}",
                            crate::fmt_bytes(m),
                            crate::fmt_bytes(v)
                        ),
                        None => "memory budget: no cell's serving memory is known".into(),
                    });
                }
                if budgets.max_usd_per_million.is_some() {
                    why.push("cost budget (or no price)".into());
                }
                rec.reasons.push(format!(
                    "{cand}: {basis} {} is within {tolerance} of the best, but no cell meets every budget ({})",
                    fmt_score(score, se),
                    why.join("; ")
                ));
                continue;
            }
            // Cheapest cell; without prices, the highest throughput.
            let chosen = ok
                .iter()
                .copied()
                .min_by(|a, b| match (a.usd_per_million, b.usd_per_million) {
                    (Some(x), Some(y)) => x.total_cmp(&y),
                    (Some(_), None) => std::cmp::Ordering::Less,
                    (None, Some(_)) => std::cmp::Ordering::Greater,
                    (None, None) => b
                        .throughput_rows_per_s
                        .unwrap_or(0.0)
                        .total_cmp(&a.throughput_rows_per_s.unwrap_or(0.0)),
                })
                .expect("ok is not empty");
            let (p99, group) = p99_for_budget(chosen);
            rec.candidate = Some(cand.clone());
            rec.target = Some(chosen.target.clone());
            rec.machine = Some(crate::machine_label(chosen));
            rec.batch_size = Some(chosen.batch_size);
            rec.score = Some(score);
            rec.score_se = se;
            rec.test_score = chosen.primary_score();
            rec.p99_ns = p99;
            rec.p99_group_size = group;
            rec.usd_per_million = chosen.usd_per_million;
            rec.reasons.push(format!(
                "{simplest}{}",
                match (cv, chosen.primary_score()) {
                    (true, Some(t)) => format!("; on the test split it scores {t:.4}"),
                    _ => String::new(),
                }
            ));
            rec.reasons.push(format!(
                "run it on {} ({}) at batch {}: {}{}{}",
                chosen.target,
                crate::machine_label(chosen),
                chosen.batch_size,
                fmt_p99(p99, group),
                chosen
                    .throughput_rows_per_s
                    .map_or(String::new(), |t| format!(
                        ", {} rows/s",
                        crate::fmt_rate(t)
                    )),
                chosen
                    .usd_per_million
                    .map_or(", no price".to_string(), |u| format!(
                        ", {} per million predictions",
                        crate::fmt_usd(u)
                    )),
            ));
        }
        // The confirmation: the test split should not contradict the cross-validated
        // choice by more than the tolerance or three standard errors.
        if let (true, Some(t)) = (cv, rec.test_score) {
            let slack = tolerance.max(3.0 * se.filter(|v| v.is_finite()).unwrap_or(0.0));
            let confirmed = t >= score - slack;
            rec.test_confirms = Some(confirmed);
            if !confirmed {
                let best_on_test = trained
                    .iter()
                    .filter_map(|c| Some((c.primary_score()?, c.candidate.as_str())))
                    .max_by(|a, b| a.0.total_cmp(&b.0));
                rec.reasons.push(format!(
                    "the test split does not confirm it: {cand} scores {t:.4} there, {:.4} below \
                     its cross-validated {score:.4}{}; the held-out rows may differ from the \
                     training rows (a later period, another source), so check that the \
                     cross-validation folds resemble what the model will see",
                    score - t,
                    best_on_test
                        .filter(|(_, c)| *c != cand.as_str())
                        .map_or(String::new(), |(v, c)| format!(
                            " (the best there is {c}, {v:.4})"
                        ))
                ));
            }
        }
        return rec;
    }
    rec.reasons.push(
        "no candidate within the tolerance meets every budget; relax a budget or the tolerance"
            .into(),
    );
    rec
}

/// Where to serve `cand` at the traffic: the cheapest of its server capacities (each its
/// (machine, target)'s best configuration) meeting the memory and cost budgets, or why none.
fn place_at_traffic(
    cand: &str,
    cells: &[&CellRecord],
    budgets: &Budgets,
    at: &AtTraffic,
) -> Result<ServingChoice, String> {
    let t = at.traffic.hi;
    let measured: Vec<&ServingRecord> = at.served.iter().filter(|r| r.candidate == cand).collect();
    if measured.is_empty() {
        return Err("it was not served under load (no server capacity recorded)".into());
    }
    let ways: Vec<Way> = measured.iter().copied().filter_map(Way::of).collect();
    if ways.is_empty() {
        return Err(format!(
            "no server configuration met the latency budget at any rate tried, on any of the \
             {} (machine, target) it was served on",
            measured.len()
        ));
    }
    // The memory a way takes: what its single-stream cells on the same machine and target
    // measured for serving.
    let memory_ok = |w: &Way| {
        budgets.max_memory_bytes.is_none_or(|m| {
            cells.iter().any(|c| {
                c.target == w.record.target
                    && c.machine == w.record.machine
                    && c.instance == w.record.instance
                    && c.memory
                        .as_ref()
                        .and_then(|mem| mem.serving_bytes)
                        .is_some_and(|v| v <= m)
            })
        })
    };
    let cost_ok = |w: &Way| {
        budgets
            .max_usd_per_million
            .is_none_or(|m| w.usd_per_million(t, at.headroom).is_some_and(|u| u <= m))
    };
    let ok: Vec<Way> = ways
        .iter()
        .copied()
        .filter(|w| memory_ok(w) && cost_ok(w))
        .collect();
    ServingChoice::choose(&ok, at.traffic, at.headroom).ok_or_else(|| {
        let mut why = Vec::new();
        if budgets.max_memory_bytes.is_some() && !ways.iter().any(memory_ok) {
            why.push("the memory budget (or no serving memory known)");
        }
        if budgets.max_usd_per_million.is_some() && !ways.iter().any(cost_ok) {
            why.push("the cost budget at this traffic (or no price)");
        }
        if why.is_empty() {
            why.push("the memory and cost budgets together");
        }
        format!(
            "no way that serves it within the latency budget meets {}",
            why.join(" and ")
        )
    })
}

/// Cells not dominated on (higher score, lower p99, lower $/1M). Missing p99 or price count
/// as worst on that axis.
fn pareto(cells: &[&CellRecord]) -> Vec<ParetoPoint> {
    let key = |c: &CellRecord| {
        (
            c.primary_score().unwrap_or(f64::NEG_INFINITY),
            p99_for_budget(c).0.unwrap_or(f64::INFINITY),
            c.usd_per_million.unwrap_or(f64::INFINITY),
        )
    };
    let mut out: Vec<ParetoPoint> = cells
        .iter()
        .filter(|a| {
            let ka = key(a);
            !cells.iter().any(|b| {
                let kb = key(b);
                kb.0 >= ka.0
                    && kb.1 <= ka.1
                    && kb.2 <= ka.2
                    && (kb.0 > ka.0 || kb.1 < ka.1 || kb.2 < ka.2)
            })
        })
        .map(|c| ParetoPoint {
            candidate: c.candidate.clone(),
            target: c.target.clone(),
            machine: crate::machine_label(c),
            batch_size: c.batch_size,
            score: c.primary_score().unwrap_or(f64::NAN),
            p99_ns: p99_for_budget(c).0,
            p99_group_size: p99_for_budget(c).1,
            usd_per_million: c.usd_per_million,
        })
        .collect();
    out.sort_by(|a, b| b.score.total_cmp(&a.score));
    out
}

impl Recommendation {
    /// The short paragraph printed under the table.
    pub fn paragraph(&self) -> String {
        let head = match (
            &self.candidate,
            &self.target,
            self.batch_size,
            &self.serving,
        ) {
            (Some(c), Some(t), _, Some(at)) => format!(
                "Recommendation: {c} on {t} ({}), {}, {} instance{} for {} rows/s.",
                at.machine,
                at.config.describe(),
                at.instances,
                if at.instances == 1 { "" } else { "s" },
                crate::fmt_rate(at.traffic_rows_per_s)
            ),
            (Some(c), Some(t), Some(b), None) => {
                format!("Recommendation: {c} on {t} at batch {b}.")
            }
            _ => "Recommendation: none.".to_string(),
        };
        let mut s = head;
        for r in &self.reasons {
            s.push_str("\n  - ");
            s.push_str(r);
        }
        if !self.pareto.is_empty() {
            let several_machines = self
                .pareto
                .iter()
                .map(|p| p.machine.as_str())
                .collect::<std::collections::BTreeSet<_>>()
                .len()
                > 1;
            s.push_str(&format!(
                "\n  Pareto front (test {}, p99, $/1M): {}",
                self.primary_metric,
                self.pareto
                    .iter()
                    .take(8)
                    .map(|p| format!(
                        "{}/{}{}@{} ({:.4}, {}, {})",
                        p.candidate,
                        p.target,
                        // Several machines (a merge): which one.
                        if several_machines {
                            format!(" on {}", p.machine)
                        } else {
                            String::new()
                        },
                        p.batch_size,
                        p.score,
                        match (p.p99_ns, p.p99_group_size) {
                            (None, _) => "no p99".into(),
                            (Some(v), None) => crate::fmt_ns(v),
                            (Some(v), Some(_)) => format!("<={}", crate::fmt_ns(v)),
                        },
                        p.usd_per_million.map_or("no price".into(), crate::fmt_usd)
                    ))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
            if self
                .pareto
                .iter()
                .take(8)
                .any(|p| p.p99_group_size.is_some())
            {
                s.push_str(
                    "\n  (<= marks a p99 bound: calls too short to time singly were timed in \
                     groups, and a single call's p99 is at most the group's total)",
                );
            }
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tradeoff_core::harness::Latency;
    use tradeoff_core::record::Fit;

    #[test]
    fn cost_per_million_by_hand() {
        // $0.36/h at 1000 rows/s, fully used: 3.6e6 rows per hour for $0.36 -> $0.10 per 1M.
        assert!((usd_per_million(0.36, 1000.0, 1.0).unwrap() - 0.10).abs() < 1e-12);
        // At 50% utilization it costs twice as much.
        assert!((usd_per_million(0.36, 1000.0, 0.5).unwrap() - 0.20).abs() < 1e-12);
        assert_eq!(usd_per_million(0.36, 0.0, 0.5), None);
    }

    #[test]
    fn durations_and_dates() {
        assert_eq!(parse_duration_ns("5ms"), Some(5e6));
        assert_eq!(parse_duration_ns("250us"), Some(250e3));
        assert_eq!(parse_duration_ns("250µs"), Some(250e3));
        assert_eq!(parse_duration_ns("1.5s"), Some(1.5e9));
        assert_eq!(parse_duration_ns("5 parsecs"), None);
        assert_eq!(parse_duration_ns("-1ms"), None);
        assert_eq!(days_from_date("1970-01-01"), Some(0));
        assert_eq!(days_from_date("2000-03-01"), Some(11_017));
        assert_eq!(
            days_from_date("2026-11-28").unwrap() - days_from_date("2026-08-30").unwrap(),
            90
        );
        assert_eq!(days_from_date("2026-13-01"), None);
    }

    #[test]
    fn break_even_by_hand() {
        // CPU instance: 100 rows/s for $1/h. GPU instance: 1000 rows/s for $5/h.
        // At 400 rows/s: 4 CPUs ($4) vs 1 GPU ($5). Just above 500 rows/s: 6 CPUs ($6) > $5.
        let r = break_even((100.0, 1.0), (1000.0, 5.0)).unwrap();
        assert!(r > 500.0 && r < 500.001, "{r}");
        // A GPU that is never cheaper per row and costs more: never.
        assert_eq!(break_even((100.0, 1.0), (150.0, 2.0)), None);
    }

    #[test]
    fn shipped_catalog_parses_and_rejects_unknown_keys() {
        let c = Catalog::parse(DEFAULT_PRICES, "prices.toml").unwrap();
        assert!(c.instances.len() >= 5);
        assert!(c.instances.iter().any(|p| p.gpus > 0));
        let bad = "[[instance]]\nprovider = \"x\"\nname = \"y\"\nvcpus = 1\nmemory_gib = 1\ngpu = \"\"\ngpus = 0\nusd_per_hour = 1\nregion = \"r\"\ndate = \"2026-01-01\"\nsource = \"s\"\ncolour = \"red\"\n";
        let e = Catalog::parse(bad, "mine.toml").unwrap_err().to_string();
        assert!(
            e.contains("mine.toml") && e.contains("colour") && e.contains("line 12"),
            "{e}"
        );
        let p = &c.instances[0];
        let today = days_from_date(&p.date).unwrap();
        assert!(staleness(p, today + 10).is_none());
        assert!(staleness(p, today + 91).unwrap().contains("91 days ago"));
    }

    #[allow(clippy::too_many_arguments)]
    fn cell(
        cand: &str,
        rank: u32,
        score: f64,
        kind: DeviceKind,
        batch: usize,
        p99: f64,
        rps: f64,
        price: f64,
    ) -> CellRecord {
        let histogram =
            tradeoff_core::harness::encode_histogram(&tradeoff_core::harness::new_histogram());
        CellRecord {
            schema_version: 1,
            run_id: "r".into(),
            candidate: cand.into(),
            family: "x".into(),
            target: if kind == DeviceKind::Cpu {
                "cpu".into()
            } else {
                "wgsl".into()
            },
            device: "d".into(),
            device_kind: kind,
            machine: "m".into(),
            ladder_rank: rank,
            batch_size: batch,
            status: Status::Ok,
            reason: None,
            task: "binary".into(),
            primary_metric: "accuracy".into(),
            fit: Fit {
                library: "l".into(),
                scores: [("accuracy".to_string(), score)].into(),
                tuned: true,
                trials: 1,
                ..Fit::default()
            },
            train_device: None,
            phases_ns: None,
            latency_ns: Some(Latency {
                p50: p99 / 2.0,
                p90: Some(p99 * 0.9),
                p99: Some(p99),
                p999: None,
                ci: Default::default(),
                mean: p99 / 2.0,
                min: 1.0,
                max: p99,
                n: 1000,
                group_size: 1,
                amortized: false,
                outliers: Default::default(),
                stability_cv: Some(0.0),
                cpu_wait_share: None,
                restarts: 0,
                histogram,
            }),
            cold_ns: None,
            verdict: None,
            memory: None,
            throughput_rows_per_s: Some(rps),
            threads: Some(1),
            parity_max_abs_err: Some(0.0),
            peak_rss_bytes: None,
            instance: None,
            usd_per_hour: Some(price),
            utilization: Some(1.0),
            usd_per_million: usd_per_million(price, rps, 1.0),
            data_hash: "d".into(),
            fold_hash: "f".into(),
            absent: Default::default(),
            parity_rows: None,
            merged_from: Vec::new(),
            isolated: false,
        }
    }

    #[test]
    fn recommendation_takes_the_simplest_good_enough_candidate_meeting_the_slo() {
        let cells = vec![
            cv(
                cell("logistic", 0, 0.80, DeviceKind::Cpu, 64, 20e3, 3e6, 1.0),
                0.80,
            ),
            cv(
                cell("tree", 1, 0.885, DeviceKind::Cpu, 64, 8e6, 1e6, 1.0),
                0.885,
            ),
            cv(
                cell("tree", 1, 0.885, DeviceKind::Cpu, 1, 900e3, 2e5, 1.0),
                0.885,
            ),
            cv(
                cell("gbm", 3, 0.89, DeviceKind::Cpu, 64, 2e6, 5e5, 1.0),
                0.89,
            ),
        ];
        let budgets = Budgets {
            slo: Slo {
                p99_ns: Some(1e6),
                p50_ns: None,
            },
            ..Budgets::default()
        };
        let r = recommend(&cells, &budgets, 0.01, None);
        // logistic is too far below; tree is within 0.01 and meets 1ms at batch 1 only.
        assert_eq!(r.candidate.as_deref(), Some("tree"));
        assert_eq!(r.test_confirms, Some(true));
        assert_eq!(r.batch_size, Some(1));
        assert!(
            r.reasons[0].starts_with(
                "logistic: cross-validated accuracy 0.8000 (SE 0.0100) is more than 0.01 below"
            ),
            "{:?}",
            r.reasons
        );
        // With a tighter budget nobody qualifies except via a different candidate: none here.
        let tight = Budgets {
            slo: Slo {
                p99_ns: Some(10e3),
                p50_ns: None,
            },
            ..Budgets::default()
        };
        let r = recommend(&cells, &tight, 0.01, None);
        assert_eq!(r.candidate, None);
        // Pareto: logistic (fast, cheap) and the best-scoring gbm both survive.
        let all = recommend(&cells, &Budgets::default(), 0.01, None);
        let front: Vec<&str> = all.pareto.iter().map(|p| p.candidate.as_str()).collect();
        assert!(
            front.contains(&"logistic") && front.contains(&"gbm"),
            "{front:?}"
        );
    }

    /// With server capacities and a traffic, the simplest good-enough candidate is placed
    /// on the cheapest (machine, target) at that traffic, with its instance count: tree on
    /// instance a (1,000 rows/s at $1/h) or b (300 rows/s at $0.50/h), headroom 0.2. At
    /// 2,000 rows/s, a needs ceil(2000/800) = 3 instances ($3/h), b ceil(2000/240) = 9
    /// ($4.50/h); at 200 rows/s each needs one and b is cheaper. A good-enough candidate
    /// with no server capacity is passed over with the reason.
    #[test]
    fn at_a_traffic_the_recommendation_counts_instances_on_the_cheapest_machine() {
        use crate::serving::tests::record;
        let cells = vec![
            cv(
                cell("logistic", 0, 0.885, DeviceKind::Cpu, 1, 8e3, 1e5, 1.0),
                0.885,
            ),
            cv(
                cell("tree", 1, 0.885, DeviceKind::Cpu, 1, 9e3, 1e5, 1.0),
                0.885,
            ),
            cv(
                cell("gbm", 3, 0.89, DeviceKind::Cpu, 1, 2e4, 5e4, 1.0),
                0.89,
            ),
        ];
        let served = [
            record("tree", "cpu", DeviceKind::Cpu, "a", 1.0, 1000.0),
            record("tree", "cpu", DeviceKind::Cpu, "b", 0.5, 300.0),
        ];
        let at = |t: f64| AtTraffic {
            served: &served,
            traffic: Traffic { lo: t, hi: t },
            headroom: 0.2,
        };
        let r = recommend(&cells, &Budgets::default(), 0.01, Some(&at(2000.0)));
        assert_eq!(r.candidate.as_deref(), Some("tree"), "{:?}", r.reasons);
        let s = r.serving.as_ref().unwrap();
        assert_eq!((s.machine.as_str(), s.instances), ("m [a]", 3));
        assert_eq!(s.usd_per_hour, Some(3.0));
        assert_eq!(r.batch_size, None);
        assert!(
            r.reasons[0].starts_with("logistic: cross-validated accuracy 0.8850 (SE 0.0100) is within 0.01 of the best, but it was not served under load"),
            "{:?}",
            r.reasons
        );
        assert!(r.paragraph().starts_with("Recommendation: tree on cpu (m [a]), 1 worker, max batch 64, max delay 0, 3 instances for 2.00k rows/s."), "{}", r.paragraph());
        let r = recommend(&cells, &Budgets::default(), 0.01, Some(&at(200.0)));
        let s = r.serving.as_ref().unwrap();
        assert_eq!((s.machine.as_str(), s.instances), ("m [b]", 1));
        // A cost budget of $0.50 per million: at 200 rows/s b costs $0.69 per million, a $1.39.
        let capped = Budgets {
            max_usd_per_million: Some(0.5),
            ..Budgets::default()
        };
        let r = recommend(&cells, &capped, 0.01, Some(&at(200.0)));
        assert_eq!(r.candidate, None, "{:?}", r.reasons);
        assert!(
            r.reasons
                .iter()
                .any(|w| w.contains("meets the cost budget at this traffic")),
            "{:?}",
            r.reasons
        );
    }

    /// The cell with a cross-validated score: `mean` over 5 folds, standard error 0.01.
    fn cv(mut c: CellRecord, mean: f64) -> CellRecord {
        c.fit.cv_score = Some(tradeoff_core::record::CvScore {
            mean,
            std: 0.02,
            folds: 5,
        });
        c
    }

    #[test]
    fn accuracy_is_judged_on_cross_validation_whatever_the_timing_verdicts() {
        // gbm wins on the test split (0.95) but not across folds (0.85); forest is the most
        // accurate by cross-validation, though its only cell was judged unstable.
        let mut forest = cv(
            cell("forest", 2, 0.90, DeviceKind::Cpu, 64, 1e5, 1e6, 1.0),
            0.90,
        );
        forest.status = Status::Invalid;
        forest.reason = Some("unstable: chunk medians vary by 30%".into());
        let cells = vec![
            cv(
                cell("tree", 1, 0.80, DeviceKind::Cpu, 64, 1e4, 1e6, 1.0),
                0.80,
            ),
            forest,
            cv(
                cell("gbm", 3, 0.95, DeviceKind::Cpu, 64, 2e6, 5e5, 1.0),
                0.85,
            ),
            cv(
                cell("mlp-s", 4, 0.70, DeviceKind::Cpu, 64, 1e5, 1e6, 1.0),
                0.895,
            ),
        ];
        let r = recommend(&cells, &Budgets::default(), 0.01, None);
        assert_eq!(r.score_basis, "cross-validation");
        assert_eq!(r.best_candidate.as_deref(), Some("forest"));
        assert_eq!(r.best_score, Some(0.90));
        assert_eq!(r.best_score_se, Some(0.01));
        assert!(
            r.reasons[1]
                .contains("within 0.01 of the best, but none of its cells is a valid measurement"),
            "{:?}",
            r.reasons
        );
        // mlp-s is within the tolerance by cross-validation; its test score is the
        // confirmation, and here it does not confirm (0.70 against 0.895).
        assert_eq!(r.candidate.as_deref(), Some("mlp-s"));
        assert_eq!(r.test_score, Some(0.70));
        assert_eq!(r.test_confirms, Some(false));
        assert!(
            r.reasons.last().unwrap().contains(
                "the test split does not confirm it: mlp-s scores 0.7000 there, 0.1950 below its cross-validated 0.8950 (the best there is gbm, 0.9500)"
            ),
            "{:?}",
            r.reasons
        );
        // A candidate with fixed parameters has no cross-validated score: all are compared on
        // the test split, and the reasons say why.
        let mut fixed = cells.clone();
        fixed[0].fit.cv_score = None;
        let r = recommend(&fixed, &Budgets::default(), 0.01, None);
        assert_eq!(r.score_basis, "test split");
        assert_eq!(r.best_candidate.as_deref(), Some("gbm"));
        assert!(
            r.reasons[0].contains("tree (fixed parameters) not cross-validated"),
            "{:?}",
            r.reasons
        );
    }

    #[test]
    fn budgets_rest_on_single_calls_not_group_means() {
        // Calls timed in groups of 64 whose group-mean p99 is 50 ns: a single call's p99 is
        // known only to be at most 64 x 50 ns = 3.2 µs.
        let mut c = cell("linear", 0, 0.9, DeviceKind::Cpu, 1, 50.0, 2e7, 1.0);
        let l = c.latency_ns.as_mut().unwrap();
        l.group_size = 64;
        l.amortized = true;
        let tight = Slo {
            p99_ns: Some(1_000.0),
            p50_ns: None,
        };
        let loose = Slo {
            p99_ns: Some(5_000.0),
            p50_ns: None,
        };
        assert!(
            !tight.met_by(&c),
            "a group mean is not a single call's tail"
        );
        assert!(loose.met_by(&c));
        let rec = recommend(
            std::slice::from_ref(&c),
            &Budgets {
                slo: loose,
                ..Budgets::default()
            },
            0.01,
            None,
        );
        assert_eq!(rec.p99_ns, Some(3_200.0));
        assert_eq!(rec.p99_group_size, Some(64));
        assert!(
            rec.paragraph()
                .contains("p99 <= 3.20µs (a bound: calls timed in groups of 64)"),
            "{}",
            rec.paragraph()
        );
        // Timed singly, the p99 is the call's own.
        let mut single = c.clone();
        single.latency_ns.as_mut().unwrap().group_size = 1;
        assert!(tight.met_by(&single));
    }

    #[test]
    fn gpu_crossover_and_software_adapters() {
        // Two runs merged, as only a merge can price them: a CPU instance at $1/h and a GPU
        // instance at $4/h (one run prices every target on its machine alike). CPU: 1e6
        // rows/s at any batch. GPU: 1e5 at 1, 1e7 at 4096.
        let on = |machine: &str, instance: &str, mut c: CellRecord| {
            c.machine = machine.into();
            c.instance = Some(instance.into());
            c
        };
        let cells = [
            on(
                "cpu-box",
                "c7i.xlarge",
                cell("gbm", 3, 0.9, DeviceKind::Cpu, 1, 1e3, 1e6, 1.0),
            ),
            on(
                "cpu-box",
                "c7i.xlarge",
                cell("gbm", 3, 0.9, DeviceKind::Cpu, 4096, 4e6, 1e6, 1.0),
            ),
            on(
                "gpu-box",
                "g6.xlarge",
                cell("gbm", 3, 0.9, DeviceKind::Gpu, 1, 1e4, 1e5, 4.0),
            ),
            on(
                "gpu-box",
                "g6.xlarge",
                cell("gbm", 3, 0.9, DeviceKind::Gpu, 4096, 4e5, 1e7, 4.0),
            ),
        ];
        let refs: Vec<&CellRecord> = cells.iter().collect();
        let v = gpu_verdict("gbm", &refs, &Slo::default(), 1.0);
        // Rows per dollar at 4096: GPU 1e7/4 > CPU 1e6/1.
        assert_eq!(v.crossover_batch, Some(4096));
        // One GPU (1e7 rows/s, $4) beats CPUs (1e6 each, $1) above 4e6 rows/s.
        let r = v.break_even_rows_per_s.unwrap();
        assert!(r > 4e6 && r < 4.0001e6, "{r}");
        let mut soft = cells.clone();
        for c in soft.iter_mut().filter(|c| c.device_kind == DeviceKind::Gpu) {
            c.device_kind = DeviceKind::SoftwareGpu;
        }
        let refs: Vec<&CellRecord> = soft.iter().collect();
        let v = gpu_verdict("gbm", &refs, &Slo::default(), 1.0);
        assert_eq!(v.crossover_batch, None);
        assert!(v.explanation.contains("software adapters are not GPUs"));
    }
}
