//! The measuring code: all timing of predictions lives here.
//!
//! For one (model, target, batch size) cell:
//! 1. **Cold**: the first call after loading is timed on its own ([`cold_call`]).
//! 2. **Warm-up** for a minimum number of calls and seconds; it also estimates one call's cost.
//! 3. **Grouping**: a call shorter than the clock can time with 1% error (100 clock reads and
//!    100 ticks, at least 1 µs: [`Clock::min_region_ns`]) is timed in groups, and each sample
//!    is the group's mean: its percentiles are percentiles of group means, not of single
//!    calls, and the figures are marked `amortized`. A single call's percentile is then known
//!    only to be at most the group's total ([`Latency::single_call_max`]). Longer calls are
//!    timed one by one. Every timed region has one clock read's cost subtracted.
//! 4. **Sampling** until a minimum sample count AND a minimum duration are met AND the spread
//!    is stable (the medians of five consecutive chunks of samples agree within a coefficient
//!    of variation threshold), or the time cap is hit. An unstable attempt is discarded as
//!    extended warm-up while time remains for another (at most 3, counted in `restarts`).
//! 5. **Statistics** from an HDR histogram (3 significant digits) that the record keeps, so
//!    runs merge exactly: percentiles with 95% confidence intervals by order statistics,
//!    reported only with enough samples (LoadGen's minimums), outliers classified by Tukey's
//!    fences (counted, never dropped), and a verdict with reasons.
//!
//! Every timed region ends with the predictor's `sync`, so device targets are timed to
//! completion, not dispatch.

use std::time::{Duration, Instant};

use base64::Engine;
use hdrhistogram::serialization::{Deserializer, Serializer, V2DeflateSerializer};
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use tradeoff_ir::error::{Error, Result};
use tradeoff_ir::target::Predictor;

/// A device cell's phases: medians over repeated calls, each phase ended by a sync.
/// End to end (what the user pays for) is the cell's latency.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Phases {
    pub calls: usize,
    pub upload_ns: f64,
    pub compute_ns: f64,
    pub readback_ns: f64,
    /// Median device-timestamp time of the compute phase, where the adapter has timestamps
    /// and they were consistent with wall time.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub device_compute_ns: Option<f64>,
    /// `device timestamps` or `wall clock between syncs`.
    pub compute_timing: String,
    /// Inconsistencies found (device time above wall time, zero deltas) and what was done.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub flags: Vec<String>,
}

/// Samples needed before a percentile is reported (MLPerf LoadGen's early-stopping minimums
/// for 90%, 99% and 99.9% at 99% confidence).
pub const MIN_SAMPLES_P90: usize = 64;
pub const MIN_SAMPLES_P99: usize = 662;
pub const MIN_SAMPLES_P999: usize = 6636;
/// Default: a cell whose thread waited for a CPU more than this share of the time is invalid.
pub const MAX_CPU_WAIT_SHARE: f64 = 0.05;
/// Below this many samples a cell is invalid.
pub const MIN_SAMPLES_VALID: usize = 10;
/// At most this many unstable sampling attempts are discarded as extended warm-up.
const MAX_RESTARTS: usize = 3;
/// At most this many calls per timed group.
const MAX_GROUP: usize = 1 << 17;

/// How long and how often to sample one cell.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MeasureConfig {
    pub warmup_calls: usize,
    pub warmup_seconds: f64,
    pub min_samples: usize,
    pub min_seconds: f64,
    /// Time cap; a cell whose calls are slow gets at least 12 calls' worth (up to a minute), so
    /// it can reach the validity minimum.
    pub max_seconds: f64,
    /// Largest coefficient of variation of the five chunk medians for a stable cell.
    pub max_cv: f64,
    /// Largest share of the sampling time spent waiting for a CPU (preempted by other load).
    #[serde(default = "default_max_cpu_wait")]
    pub max_cpu_wait: f64,
}

fn default_max_cpu_wait() -> f64 {
    MAX_CPU_WAIT_SHARE
}

impl Default for MeasureConfig {
    /// Enough samples for p99 on fast cells, about a second per cell at most.
    fn default() -> Self {
        MeasureConfig {
            warmup_calls: 10,
            warmup_seconds: 0.05,
            min_samples: MIN_SAMPLES_P99,
            min_seconds: 0.2,
            max_seconds: 1.5,
            max_cv: 0.10,
            max_cpu_wait: MAX_CPU_WAIT_SHARE,
        }
    }
}

impl MeasureConfig {
    /// `--quick`: enough for p90; a few tenths of a second per cell.
    pub fn quick() -> Self {
        MeasureConfig {
            warmup_calls: 3,
            warmup_seconds: 0.01,
            min_samples: MIN_SAMPLES_P90,
            min_seconds: 0.02,
            max_seconds: 0.3,
            max_cv: 0.15,
            max_cpu_wait: MAX_CPU_WAIT_SHARE,
        }
    }

    /// `--thorough`: enough for p99.9; up to 20 s per cell.
    pub fn thorough() -> Self {
        MeasureConfig {
            warmup_calls: 100,
            warmup_seconds: 0.5,
            min_samples: MIN_SAMPLES_P999,
            min_seconds: 2.0,
            max_seconds: 20.0,
            max_cv: 0.05,
            max_cpu_wait: MAX_CPU_WAIT_SHARE,
        }
    }
}

/// What the clock costs and resolves, measured once per run.
///
/// Two different things: what a read costs (the time `Instant::now()` itself takes) and how
/// fine the clock's values are (its tick). Back-to-back reads on a fine clock differ by about
/// one read's cost, so the smallest gap between two reads is the read's cost there, not the
/// tick; only where most back-to-back reads see the same value (the clock is coarser than a
/// read) does the smallest non-zero gap show the tick. Either way the smallest non-zero gap is
/// an upper bound on the step by which the clock's values can err, and that is the figure
/// kept as `resolution_ns`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Clock {
    /// Cost of one `Instant::now()`: the median over 100 runs of 100 back-to-back reads of
    /// the time each run took, divided by 100.
    pub read_ns: f64,
    /// Largest error one reading can add: the smallest non-zero difference between two
    /// back-to-back reads (the tick on a clock coarser than a read, at most one read's cost
    /// on a finer one).
    pub resolution_ns: f64,
}

/// Shares of a timed region the clock may take: a region at least 100 reads and 100 ticks
/// long is timed with about 1% error.
const REGION_READS: f64 = 100.0;

impl Clock {
    pub fn calibrate() -> Clock {
        const RUNS: usize = 100;
        const READS: usize = 100;
        let mut run_ns = Vec::with_capacity(RUNS);
        let mut smallest_step = f64::INFINITY;
        for _ in 0..RUNS {
            let first = Instant::now();
            let mut prev = first;
            for _ in 0..READS {
                let now = Instant::now();
                let d = now.duration_since(prev).as_nanos() as f64;
                if d > 0.0 {
                    smallest_step = smallest_step.min(d);
                }
                prev = now;
            }
            run_ns.push(prev.duration_since(first).as_nanos() as f64 / READS as f64);
        }
        let mean_ns = run_ns.iter().sum::<f64>() / RUNS as f64;
        run_ns.sort_by(f64::total_cmp);
        // The median resists a run that was preempted; on a clock coarser than 100 reads most
        // runs read zero, and the mean over all of them is the better estimate.
        let mut read_ns = if run_ns[RUNS / 2] > 0.0 {
            run_ns[RUNS / 2]
        } else {
            mean_ns
        };
        if !smallest_step.is_finite() {
            // The clock never moved in 10,000 reads: read until it does (a monotonic clock
            // does), counting the reads.
            let start = Instant::now();
            let mut reads = 0u64;
            let moved = loop {
                reads += 1;
                let now = Instant::now();
                if now > start {
                    break now.duration_since(start).as_nanos() as f64;
                }
            };
            smallest_step = moved;
            read_ns = moved / reads as f64;
        }
        Clock {
            read_ns,
            resolution_ns: smallest_step,
        }
    }

    /// The shortest region this clock times with about 1% error: 100 reads (the read's cost
    /// is subtracted from every region, leaving its variation) and 100 ticks (the rounding of
    /// the two readings), and at least 1 µs.
    pub fn min_region_ns(&self) -> f64 {
        (REGION_READS * self.read_ns)
            .max(REGION_READS * self.resolution_ns)
            .max(1000.0)
    }
}

/// A percentile with its 95% confidence interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Percentile {
    pub value: f64,
    pub ci_low: f64,
    pub ci_high: f64,
}

/// Samples outside Tukey's fences (1.5 and 3 times the interquartile range).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Outliers {
    pub low_severe: u64,
    pub low_mild: u64,
    pub high_mild: u64,
    pub high_severe: u64,
}

/// Latency of one call (one batch), in nanoseconds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Latency {
    pub p50: f64,
    /// Absent when the sample count does not support them (see `absent` in the record).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub p90: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub p99: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub p999: Option<f64>,
    /// 95% confidence intervals of the reported percentiles, by name.
    pub ci: std::collections::BTreeMap<String, [f64; 2]>,
    pub mean: f64,
    pub min: f64,
    pub max: f64,
    /// Number of samples (timed groups).
    pub n: usize,
    /// Calls per sample: above 1, each sample is a group's mean and the figures are amortized.
    pub group_size: usize,
    pub amortized: bool,
    pub outliers: Outliers,
    /// Coefficient of variation of the five chunk medians; absent with too few samples to
    /// tell (under ten). A merged cell has the largest of its parts' values.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub stability_cv: Option<f64>,
    /// Unstable sampling attempts discarded as extended warm-up before the kept one.
    #[serde(default)]
    pub restarts: usize,
    /// Share of the sampling time this thread was ready to run but waited for a CPU
    /// (Linux scheduler statistics): other load on the machine. Absent where unknown.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub cpu_wait_share: Option<f64>,
    /// The samples as an HDR histogram (picoseconds, 3 significant digits), V2 + deflate,
    /// base64: merge runs by adding histograms.
    pub histogram: String,
}

impl Latency {
    /// Whether each sample is one call: the percentiles are single-call latencies.
    pub fn per_call(&self) -> bool {
        self.group_size <= 1
    }

    /// The most a single call's percentile can be, given this figure for the same
    /// percentile: the figure itself when calls were timed one by one; for grouped calls the
    /// group's total, `group_size` times the group mean. (A call slower than `t` sits in a
    /// group whose total exceeds `t`, so no more calls than groups exceed the group total's
    /// percentile.)
    pub fn single_call_max(&self, figure: f64) -> f64 {
        figure * self.group_size.max(1) as f64
    }

    /// The p99 a latency budget may rest on: the p99 itself when calls were timed singly,
    /// else its single-call bound. `None` without a p99.
    pub fn p99_for_budget(&self) -> Option<f64> {
        self.p99.map(|v| self.single_call_max(v))
    }

    /// The p50 a latency budget may rest on (see [`Latency::p99_for_budget`]).
    pub fn p50_for_budget(&self) -> f64 {
        self.single_call_max(self.p50)
    }
}

/// How a verdict's note on a preemption check that did not run starts.
pub const PREEMPTION_NOT_CHECKED: &str = "preemption not checked";

/// Valid, or invalid with reasons a person can act on.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Verdict {
    pub valid: bool,
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub reasons: Vec<String>,
    /// Checks that did not run for this cell, each with why: "not checked" is not "passed".
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub not_checked: Vec<String>,
}

/// What one cell measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Measurement {
    pub latency_ns: Latency,
    /// Rows predicted divided by the time spent in timed calls (one caller, back to back).
    pub throughput_rows_per_s: f64,
    pub verdict: Verdict,
    /// Percentiles not reported, with why.
    pub withheld: Vec<(String, String)>,
}

/// A histogram of per-call latencies in picoseconds.
pub fn new_histogram() -> Histogram<u64> {
    let mut h = Histogram::<u64>::new(3).expect("3 significant digits is a valid precision");
    h.auto(true);
    h
}

/// Serializes a histogram for a record.
pub fn encode_histogram(h: &Histogram<u64>) -> String {
    let mut buf = Vec::new();
    V2DeflateSerializer::new()
        .serialize(h, &mut buf)
        .expect("serializing into memory cannot fail");
    base64::engine::general_purpose::STANDARD.encode(buf)
}

/// Reads a histogram back from a record.
pub fn decode_histogram(text: &str) -> Result<Histogram<u64>> {
    let bad = |m: String| Error::Data {
        what: "latency histogram".into(),
        detail: format!("damaged ({m})"),
    };
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text)
        .map_err(|e| bad(e.to_string()))?;
    let mut h: Histogram<u64> = Deserializer::new()
        .deserialize(&mut bytes.as_slice())
        .map_err(|e| bad(format!("{e:?}")))?;
    h.auto(true);
    Ok(h)
}

/// Percentile and its 95% confidence interval from the histogram, by order statistics: the
/// ranks `n q -/+ 1.96 sqrt(n q (1 - q))`.
pub fn percentile_ci(h: &Histogram<u64>, q: f64) -> Percentile {
    let n = h.len() as f64;
    let half = 1.96 * (n * q * (1.0 - q)).sqrt();
    let at = |rank: f64| h.value_at_quantile((rank / n).clamp(0.0, 1.0)) as f64 / 1000.0;
    Percentile {
        value: h.value_at_quantile(q) as f64 / 1000.0,
        ci_low: at((n * q - half).floor().max(1.0)),
        ci_high: at((n * q + half).ceil().min(n)),
    }
}

/// Latency statistics of a histogram (used for fresh measurements and for merged ones).
pub fn latency_from_histogram(
    h: &Histogram<u64>,
    group_size: usize,
    stability_cv: f64,
) -> (Latency, Vec<(String, String)>) {
    let n = h.len() as usize;
    let mut ci = std::collections::BTreeMap::new();
    let mut withheld = Vec::new();
    let mut pick = |name: &str, q: f64, min: usize| -> Option<f64> {
        if n < min {
            withheld.push((
                name.to_string(),
                format!("insufficient samples ({n} < {min} needed for {name})"),
            ));
            return None;
        }
        let p = percentile_ci(h, q);
        ci.insert(name.to_string(), [p.ci_low, p.ci_high]);
        Some(p.value)
    };
    let p50 = pick("p50", 0.5, 1).unwrap_or(f64::NAN);
    let p90 = pick("p90", 0.9, MIN_SAMPLES_P90);
    let p99 = pick("p99", 0.99, MIN_SAMPLES_P99);
    let p999 = pick("p999", 0.999, MIN_SAMPLES_P999);
    let q1 = h.value_at_quantile(0.25) as f64;
    let q3 = h.value_at_quantile(0.75) as f64;
    let iqr = q3 - q1;
    let mut outliers = Outliers::default();
    for v in h.iter_recorded() {
        let x = v.value_iterated_to() as f64;
        let c = v.count_at_value();
        if x < q1 - 3.0 * iqr {
            outliers.low_severe += c;
        } else if x < q1 - 1.5 * iqr {
            outliers.low_mild += c;
        } else if x > q3 + 3.0 * iqr {
            outliers.high_severe += c;
        } else if x > q3 + 1.5 * iqr {
            outliers.high_mild += c;
        }
    }
    (
        Latency {
            p50,
            p90,
            p99,
            p999,
            ci,
            mean: h.mean() / 1000.0,
            min: h.min() as f64 / 1000.0,
            max: h.max() as f64 / 1000.0,
            n,
            group_size,
            amortized: group_size > 1,
            outliers,
            stability_cv: stability_cv.is_finite().then_some(stability_cv),
            cpu_wait_share: None,
            restarts: 0,
            histogram: encode_histogram(h),
        },
        withheld,
    )
}

/// Merges cells' latencies (same model, target, batch size and group size, from several runs
/// or machines) through their histograms: the percentiles of the sum equal those of all samples
/// recorded together, never an average of percentiles. Stability is not defined for a merge
/// and is left NaN.
pub fn merge_latencies(parts: &[&Latency]) -> Result<Latency> {
    let mut total = new_histogram();
    for part in parts {
        total
            .add(decode_histogram(&part.histogram)?)
            .map_err(|e| Error::Model(format!("latency histogram: {e:?}")))?;
    }
    let group = parts.first().map_or(1, |p| p.group_size);
    if parts.iter().any(|p| p.group_size != group) {
        return Err(Error::Data {
            what: "latency histograms".into(),
            detail: "calls timed in groups of different sizes are different measurements and \
                     are not pooled"
                .into(),
        });
    }
    // Each part was as stable as its own figure; the merge claims no more than the worst.
    let stability = parts
        .iter()
        .map(|p| p.stability_cv.unwrap_or(f64::INFINITY))
        .fold(0.0, f64::max);
    Ok(latency_from_histogram(&total, group, stability).0)
}

/// Coefficient of variation of the medians of five consecutive chunks: their population
/// standard deviation (divided by 5, not 4) over their mean.
fn chunk_cv(samples: &[f64]) -> f64 {
    let k = 5;
    if samples.len() < 2 * k {
        return f64::INFINITY;
    }
    let size = samples.len() / k;
    let medians: Vec<f64> = (0..k)
        .map(|i| {
            let mut c = samples[i * size..(i + 1) * size].to_vec();
            c.sort_by(f64::total_cmp);
            c[c.len() / 2]
        })
        .collect();
    let mean = medians.iter().sum::<f64>() / k as f64;
    let var = medians.iter().map(|m| (m - mean).powi(2)).sum::<f64>() / k as f64;
    if mean > 0.0 {
        var.sqrt() / mean
    } else {
        0.0
    }
}

/// Distinct batches one measurement cycles through, where the pool has the rows.
pub const ROTATE_BATCHES: usize = 64;

/// A batch of `batch` rows drawn cyclically from `pool` (row-major, `n_features` wide),
/// so every target sees the same input.
pub fn make_batch(pool: &[f32], n_features: usize, batch: usize) -> Vec<f32> {
    let pool_rows = pool.len() / n_features;
    let mut x = Vec::with_capacity(batch * n_features);
    for i in 0..batch {
        let r = i % pool_rows;
        x.extend_from_slice(&pool[r * n_features..(r + 1) * n_features]);
    }
    x
}

/// Times the first call after loading (shader compilation, allocation, caches all cold).
pub fn cold_call(p: &mut dyn Predictor, row: &[f32]) -> Result<u64> {
    let mut out = vec![0.0; p.n_outputs()];
    let t = Instant::now();
    p.predict(row, 1, &mut out)?;
    p.sync()?;
    Ok(t.elapsed().as_nanos() as u64)
}

/// How many distinct batches [`measure`] rotates through for a pool of `pool_rows` rows (the
/// benchmarks cycle the same way).
pub fn rotated_batches(pool_rows: usize, batch: usize) -> usize {
    (pool_rows / batch.max(1)).clamp(1, ROTATE_BATCHES)
}

/// The bytes [`measure`] allocates for a batch size: its rotated input batches and one
/// output buffer (what the target allocates besides is its own).
pub fn measure_bytes(pool_rows: usize, n_features: usize, n_outputs: usize, batch: usize) -> u64 {
    let rows = (batch * rotated_batches(pool_rows, batch)) as u64;
    let f32s = rows * n_features as u64 + batch as u64 * n_outputs as u64;
    f32s * std::mem::size_of::<f32>() as u64
}

/// Measures steady-state latency and throughput of one batch size.
pub fn measure(
    p: &mut dyn Predictor,
    pool: &[f32],
    n_features: usize,
    batch: usize,
    cfg: &MeasureConfig,
    clock: &Clock,
) -> Result<Measurement> {
    // Consecutive calls get different rows (up to ROTATE_BATCHES distinct batches, as many as
    // the pool holds), so a predictor whose speed depends on the input (a tree's branches)
    // is not timed on one row its branch predictor has learned by heart.
    let k = rotated_batches(pool.len() / n_features.max(1), batch);
    let x = make_batch(pool, n_features, batch * k);
    let stride = batch * n_features;
    let mut off = 0usize;
    // Inside timed regions: a compare and an add, no division.
    let mut next = || {
        let b = &x[off..off + stride];
        off += stride;
        if off == x.len() {
            off = 0;
        }
        b
    };
    let mut out = vec![0.0; batch * p.n_outputs()];
    // Warm-up, timing each call to estimate the cost of one.
    let warm_start = Instant::now();
    let mut warm = Vec::new();
    // At least `warmup_seconds`, and `warmup_calls` calls unless they would take more than ten
    // times that (a 300 ms call is warm after two calls, not ten).
    loop {
        let xb = next();
        let t = Instant::now();
        p.predict(xb, batch, &mut out)?;
        p.sync()?;
        warm.push((t.elapsed().as_nanos() as f64 - clock.read_ns).max(0.0));
        let elapsed = warm_start.elapsed().as_secs_f64();
        let calls_done = warm.len() >= cfg.warmup_calls.max(1)
            || (warm.len() >= 2 && elapsed >= 10.0 * cfg.warmup_seconds);
        if (calls_done && elapsed >= cfg.warmup_seconds) || elapsed > cfg.max_seconds {
            break;
        }
    }
    warm.sort_by(f64::total_cmp);
    let call_ns = warm[warm.len() / 2].max(1.0);
    // A power of two, so repeats of a cell on one machine time their calls alike and merge.
    let group = ((clock.min_region_ns() / call_ns).ceil() as usize)
        .next_power_of_two()
        .clamp(1, MAX_GROUP);
    let min = Duration::from_secs_f64(cfg.min_seconds);
    let max = Duration::from_secs_f64(cfg.max_seconds.max((12.0 * call_ns * 1e-9).min(60.0)));
    let mut samples: Vec<f64> = Vec::with_capacity(cfg.min_samples.max(64));
    let mut hist = new_histogram();
    // The wall-clock window encloses both scheduler readings, so the wait between them can
    // never exceed it: a thread preempted right after a reading (likely on a crowded machine)
    // used to count that wait against a window that started or ended without it, and
    // reported waits above 100%.
    let window = Instant::now();
    let sched0 = tradeoff_ir::machine::thread_sched_ns();
    let start = Instant::now();
    let mut stable_cv: f64;
    let mut restarts = 0usize;
    'attempt: loop {
        // An attempt that ends unstable while time remains for another one is discarded as
        // extended warm-up (counted in `restarts`), so a passing disturbance does not spoil
        // the cell; the last attempt is always kept, stable or not.
        samples.clear();
        hist.reset();
        let attempt = Instant::now();
        let mut next_check = cfg.min_samples.max(MIN_SAMPLES_VALID);
        loop {
            let t = Instant::now();
            for _ in 0..group {
                p.predict(next(), batch, &mut out)?;
                p.sync()?;
            }
            // The clock's own read is subtracted once per region: what is left is the calls.
            let per_call = (t.elapsed().as_nanos() as f64 - clock.read_ns).max(0.0) / group as f64;
            std::hint::black_box(&out);
            samples.push(per_call);
            let _ = hist.record((per_call * 1000.0).round().max(1.0) as u64);
            if start.elapsed() >= max {
                stable_cv = chunk_cv(&samples);
                break 'attempt;
            }
            if samples.len() >= next_check && attempt.elapsed() >= min {
                stable_cv = chunk_cv(&samples);
                if stable_cv <= cfg.max_cv {
                    break 'attempt;
                }
                let time_left = max.saturating_sub(start.elapsed());
                if restarts < MAX_RESTARTS && time_left >= attempt.elapsed() {
                    restarts += 1;
                    continue 'attempt;
                }
                // Check again after another tenth of the samples.
                next_check = samples.len() + (samples.len() / 10).max(1);
            }
        }
    }
    let sched1 = tradeoff_ir::machine::thread_sched_ns();
    let wall_ns = window.elapsed().as_nanos() as f64;
    let cpu_wait_share = match (sched0, sched1) {
        // At most the whole window: the scheduler keeps its own clock, which on a VM runs a
        // few percent apart from the monotonic one (shares of 1.04 were seen here).
        (Some((_, w0)), Some((_, w1))) if wall_ns > 0.0 => {
            Some((w1.saturating_sub(w0) as f64 / wall_ns).min(1.0))
        }
        _ => None,
    };
    let total_ns: f64 = samples.iter().sum::<f64>() * group as f64;
    let n = samples.len();
    let (mut latency_ns, withheld) = latency_from_histogram(&hist, group, stable_cv);
    latency_ns.cpu_wait_share = cpu_wait_share;
    latency_ns.restarts = restarts;
    let mut reasons = Vec::new();
    if n < MIN_SAMPLES_VALID {
        reasons.push(format!(
            "insufficient samples ({n} < {MIN_SAMPLES_VALID}); raise --measure-seconds or use --thorough"
        ));
    } else if stable_cv.is_nan() || stable_cv > cfg.max_cv {
        reasons.push(format!(
            "unstable: chunk medians vary by {:.1}% (threshold {:.1}%); is the machine busy?",
            stable_cv * 100.0,
            cfg.max_cv * 100.0
        ));
    }
    // Where the target says how many threads this batch size used, that decides; otherwise
    // whether it ever hands work to other threads.
    let workers = p
        .threads(batch)
        .map_or_else(|| p.uses_worker_threads(), |t| t > 1);
    let mut not_checked = Vec::new();
    if workers {
        not_checked.push(format!(
            "{PREEMPTION_NOT_CHECKED}: the calls ran on several threads, and the scheduler \
             statistics cover the measuring thread only"
        ));
    } else if cpu_wait_share.is_none() {
        not_checked.push(format!(
            "{PREEMPTION_NOT_CHECKED}: this OS reports no scheduler statistics"
        ));
    }
    if let Some(w) = cpu_wait_share.filter(|w| *w > cfg.max_cpu_wait && !workers) {
        reasons.push(format!(
            "preempted: waited for a CPU {:.0}% of the time (threshold {:.0}%); other load on the machine",
            w * 100.0,
            cfg.max_cpu_wait * 100.0
        ));
    }
    if group == MAX_GROUP && call_ns * (group as f64) < clock.min_region_ns() {
        reasons.push("timer too coarse for this call even in groups".into());
    }
    Ok(Measurement {
        latency_ns,
        throughput_rows_per_s: if total_ns > 0.0 {
            (batch * n * group) as f64 / (total_ns * 1e-9)
        } else {
            0.0
        },
        verdict: Verdict {
            valid: reasons.is_empty(),
            reasons,
            not_checked,
        },
        withheld,
    })
}

/// A predictor that does nothing: what the harness itself costs per call.
pub struct Empty;

impl Predictor for Empty {
    fn n_outputs(&self) -> usize {
        1
    }
    fn predict(&mut self, _x: &[f32], _n: usize, _out: &mut [f32]) -> Result<()> {
        Ok(())
    }
}

/// A predictor of known cost: it spins for `ns` nanoseconds per call (for `selfcheck`).
pub struct BusyWait {
    pub ns: u64,
}

impl Predictor for BusyWait {
    fn n_outputs(&self) -> usize {
        1
    }
    fn predict(&mut self, _x: &[f32], _n: usize, out: &mut [f32]) -> Result<()> {
        let t = Instant::now();
        let d = Duration::from_nanos(self.ns);
        while t.elapsed() < d {
            std::hint::spin_loop();
        }
        out.fill(0.0);
        Ok(())
    }
}

/// Calls with phases a device cell times after its latency measurement.
pub const PHASE_CALLS: usize = 21;

/// Times `PHASE_CALLS` calls phase by phase (or as many as fit in `max`), and returns the
/// median of each phase. Device timestamps are kept only where every call's device time is
/// positive and at most its wall time; otherwise the flags say why wall time is used.
/// `None` when the predictor has no phases.
pub fn measure_phases(
    p: &mut dyn Predictor,
    pool: &[f32],
    n_features: usize,
    batch: usize,
    max: Duration,
) -> Result<Option<Phases>> {
    let x = make_batch(pool, n_features, batch);
    let mut out = vec![0.0; batch * p.n_outputs()];
    let start = Instant::now();
    let mut calls = Vec::new();
    while calls.len() < PHASE_CALLS && (calls.is_empty() || start.elapsed() < max) {
        match p.predict_phased(&x, batch, &mut out)? {
            Some(t) => calls.push(t),
            None => return Ok(None),
        }
    }
    let median = |f: &dyn Fn(&tradeoff_ir::target::PhaseTimes) -> f64| {
        let mut v: Vec<f64> = calls.iter().map(f).collect();
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let mut flags = Vec::new();
    let device: Vec<(f64, f64)> = calls
        .iter()
        .filter_map(|c| c.device_compute_ns.map(|d| (d, c.compute_ns)))
        .collect();
    let device_compute_ns = if device.is_empty() {
        None
    } else if device.len() < calls.len() {
        flags.push(format!(
            "device timestamps missing for {} of {} calls: wall time used",
            calls.len() - device.len(),
            calls.len()
        ));
        None
    } else if let Some((d, w)) = device.iter().find(|(d, w)| *d <= 0.0 || d > w) {
        flags.push(format!(
            "device time {d:.0} ns inconsistent with wall time {w:.0} ns (must be positive and at most wall): wall time used"
        ));
        None
    } else {
        let mut v: Vec<f64> = device.iter().map(|(d, _)| *d).collect();
        v.sort_by(f64::total_cmp);
        Some(v[v.len() / 2])
    };
    Ok(Some(Phases {
        calls: calls.len(),
        upload_ns: median(&|c| c.upload_ns),
        compute_ns: median(&|c| c.compute_ns),
        readback_ns: median(&|c| c.readback_ns),
        compute_timing: if device_compute_ns.is_some() {
            "device timestamps".into()
        } else {
            "wall clock between syncs".into()
        },
        device_compute_ns,
        flags,
    }))
}

/// Relative tolerance of a target's outputs against the reference (`cpu`) outputs.
///
/// Targets compute in `f32` in a different order (vectorized sums, fused multiply-adds, GPU
/// reductions); for the dot products and tree sums of our models the rounding error stays
/// below a few hundred ulps (1 ulp is 6e-8 relative), so 1e-4 of the value's magnitude
/// (floor 1) leaves a wide margin while catching any real disagreement.
pub const PARITY_REL_TOL: f32 = 1e-4;

/// Compares a target's predictions with the reference: returns the largest absolute
/// difference and, if they disagree, why. Class labels must be identical except where the
/// reference itself has an exact tie.
pub fn parity(
    reference: &[f32],
    ours: &[f32],
    n_outputs: usize,
    classification: bool,
) -> (f64, Option<String>) {
    if reference.len() != ours.len() {
        return (
            f64::INFINITY,
            Some(format!(
                "{} outputs, expected {}",
                ours.len(),
                reference.len()
            )),
        );
    }
    let mut max_err = 0.0f64;
    for (i, (a, b)) in reference.iter().zip(ours).enumerate() {
        let err = (a - b).abs();
        if !b.is_finite() || err > PARITY_REL_TOL * a.abs().max(1.0) {
            return (
                if err.is_finite() { err as f64 } else { f64::INFINITY },
                Some(format!(
                    "output {} of row {}: {b} vs reference {a} (tolerance {PARITY_REL_TOL} relative)",
                    i % n_outputs,
                    i / n_outputs
                )),
            );
        }
        max_err = max_err.max(err as f64);
    }
    if classification {
        for (r, (a, b)) in reference
            .chunks(n_outputs)
            .zip(ours.chunks(n_outputs))
            .enumerate()
        {
            let (la, lb) = (tradeoff_ir::ir::argmax(a), tradeoff_ir::ir::argmax(b));
            if la != lb && a[la] != a[lb] {
                return (
                    max_err,
                    Some(format!("row {r}: label {lb}, reference says {la}")),
                );
            }
        }
    }
    (max_err, None)
}

/// Rows a batch size's parity check predicts at least (one batch at least): enough calls at
/// batch 1 to visit many rows, few enough to take well under a second on any target.
pub const PARITY_ROWS: usize = 1024;

/// One batch size's parity check: what [`parity_at_batch`] found.
#[derive(Debug, Clone, PartialEq)]
pub struct ParityCheck {
    /// Rows predicted, in calls of the batch size.
    pub rows: usize,
    pub max_abs_err: f64,
    /// Why the outputs disagree with the reference, naming the batch size; `None` when they
    /// agree.
    pub mismatch: Option<String>,
}

/// Predicts at batch size `batch`, the way [`measure`] calls the predictor (full batches of
/// rows drawn cyclically from `pool`), at least [`PARITY_ROWS`] rows or one batch, and
/// compares every output with `reference` (the pool's rows by the IR's definition,
/// [`tradeoff_ir::ir::eval`]). Code paths change with the batch size (small-batch kernels, blocks,
/// chunking on devices), so each measured batch size is checked, not one call on all rows.
pub fn parity_at_batch(
    p: &mut dyn Predictor,
    pool: &[f32],
    n_features: usize,
    reference: &[f32],
    batch: usize,
    classification: bool,
) -> Result<ParityCheck> {
    let pool_rows = pool.len() / n_features.max(1);
    let n_out = p.n_outputs();
    let calls = PARITY_ROWS.min(pool_rows).max(batch).div_ceil(batch.max(1));
    let rows = calls * batch;
    let x = make_batch(pool, n_features, rows);
    let want = make_batch(reference, n_out, rows);
    let mut got = vec![0.0; rows * n_out];
    for (xb, ob) in x
        .chunks_exact(batch * n_features)
        .zip(got.chunks_exact_mut(batch * n_out))
    {
        p.predict(xb, batch, ob)?;
    }
    p.sync()?;
    let (max_abs_err, why) = parity(&want, &got, n_out, classification);
    Ok(ParityCheck {
        rows,
        max_abs_err,
        mismatch: why.map(|w| format!("at batch {batch}: {w}")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quick() -> MeasureConfig {
        MeasureConfig {
            max_cv: 1.0,
            max_cpu_wait: 1.0,
            ..MeasureConfig::quick()
        }
    }

    #[test]
    fn merged_histograms_give_the_percentiles_of_all_samples() {
        let (mut a, mut b, mut all) = (new_histogram(), new_histogram(), new_histogram());
        let mut rng = tradeoff_ir::rng::Rng::new(5);
        for i in 0..5000u64 {
            // Two machines: one fast, one slow with a tail.
            let v = if i % 2 == 0 {
                1_000_000 + rng.below(200_000) as u64
            } else {
                3_000_000 + (rng.next_f64().powi(8) * 5e7) as u64
            };
            if i % 2 == 0 {
                a.record(v).unwrap()
            } else {
                b.record(v).unwrap()
            };
            all.record(v).unwrap();
        }
        let la = latency_from_histogram(&a, 1, 0.0).0;
        let lb = latency_from_histogram(&b, 1, 0.0).0;
        let merged = merge_latencies(&[&la, &lb]).unwrap();
        let direct = latency_from_histogram(&all, 1, f64::NAN).0;
        assert_eq!(merged.n, 5000);
        assert_eq!(merged.p50, direct.p50);
        assert_eq!(merged.p90, direct.p90);
        assert_eq!(merged.p99, direct.p99);
        assert_eq!(merged.ci, direct.ci);
        // And the merge is not an average of the two medians.
        assert_ne!(merged.p50, (la.p50 + lb.p50) / 2.0);
    }

    #[test]
    fn percentile_intervals_cover_the_true_percentile_95_percent_of_the_time() {
        // Exponential latencies (mean 10 µs): the q-quantile is -ln(1 - q) x 10 µs. Each
        // trial draws 1,000 samples; the 95% interval must hold the true value in about 95%
        // of 600 trials (binomial spread 0.9%: 91% to 99% is four spreads either side).
        let mut rng = tradeoff_ir::rng::Rng::new(7);
        for q in [0.5f64, 0.9, 0.99] {
            let truth = -(1.0 - q).ln() * 10_000.0;
            let trials = 600;
            let mut covered = 0;
            let mut below = 0;
            for _ in 0..trials {
                let mut h = new_histogram();
                for _ in 0..1000 {
                    let ns = -(1.0 - rng.next_f64()).ln() * 10_000.0;
                    h.record((ns * 1000.0).round().max(1.0) as u64).unwrap();
                }
                let p = percentile_ci(&h, q);
                assert!(p.ci_low <= p.value && p.value <= p.ci_high, "{p:?}");
                if p.ci_low <= truth && truth <= p.ci_high {
                    covered += 1;
                } else if p.ci_high < truth {
                    below += 1;
                }
            }
            let share = covered as f64 / trials as f64;
            assert!(
                (0.91..=0.99).contains(&share),
                "q {q}: the interval held the truth in {share:.3} of trials ({below} wholly below it)"
            );
        }
    }

    #[test]
    fn percentiles_need_enough_samples() {
        let mut h = new_histogram();
        for v in 1..=100u64 {
            h.record(v * 1000).unwrap();
        }
        let (l, withheld) = latency_from_histogram(&h, 1, 0.0);
        assert!((l.p50 - 50.0).abs() < 0.1, "{}", l.p50);
        assert!(l.p90.is_some() && l.p99.is_none() && l.p999.is_none());
        assert_eq!(withheld.len(), 2);
        assert!(withheld[0].1.contains("100 < 662"), "{withheld:?}");
        let [lo, hi] = l.ci["p50"];
        assert!(lo < l.p50 && l.p50 < hi, "{lo} {} {hi}", l.p50);
    }

    #[test]
    fn outliers_are_counted_not_dropped() {
        // 100 values from 10 µs to 12 µs: quartiles about 10.5 and 11.5 µs, IQR 1 µs.
        let mut h = new_histogram();
        for i in 0..100u64 {
            h.record(10_000 + 20 * i).unwrap();
        }
        // Beyond 1.5 IQR (mild) and 3 IQR (severe), on both sides.
        for v in [13_500u64, 100_000, 8_000, 1_000] {
            h.record(v).unwrap();
        }
        let (l, _) = latency_from_histogram(&h, 1, 0.0);
        assert_eq!(l.n, 104);
        let o = l.outliers;
        assert_eq!(
            (o.low_severe, o.low_mild, o.high_mild, o.high_severe),
            (1, 1, 1, 1),
            "{o:?}"
        );
        assert!(l.max > 99.0 && l.min < 1.01, "kept: {} {}", l.min, l.max);
    }

    #[test]
    fn short_calls_are_timed_in_groups() {
        let clock = Clock::calibrate();
        let m = measure(&mut Empty, &[0.0; 4], 2, 1, &quick(), &clock).unwrap();
        assert!(
            m.latency_ns.amortized && m.latency_ns.group_size > 1,
            "{:?}",
            m.latency_ns.group_size
        );
        assert!(m.latency_ns.n >= MIN_SAMPLES_P90);
    }

    #[test]
    fn a_check_that_did_not_run_says_so() {
        /// Says its calls run on two threads.
        struct TwoThreads;
        impl Predictor for TwoThreads {
            fn n_outputs(&self) -> usize {
                1
            }
            fn predict(&mut self, _: &[f32], _: usize, _: &mut [f32]) -> Result<()> {
                Ok(())
            }
            fn threads(&self, _batch: usize) -> Option<usize> {
                Some(2)
            }
        }
        let clock = Clock::calibrate();
        let m = measure(&mut TwoThreads, &[0.0; 2], 2, 1, &quick(), &clock).unwrap();
        assert_eq!(m.verdict.not_checked.len(), 1, "{:?}", m.verdict);
        assert!(m.verdict.not_checked[0].starts_with(PREEMPTION_NOT_CHECKED));
        // One thread: checked wherever the OS reports scheduler statistics.
        let m = measure(&mut Empty, &[0.0; 2], 2, 1, &quick(), &clock).unwrap();
        assert_eq!(
            m.verdict.not_checked.is_empty(),
            tradeoff_ir::machine::thread_sched_ns().is_some(),
            "{:?}",
            m.verdict
        );
    }

    #[test]
    fn grouped_calls_are_timed_in_powers_of_two_and_singly_above_the_region() {
        let clock = Clock::calibrate();
        let m = measure(&mut Empty, &[0.0; 2], 2, 1, &quick(), &clock).unwrap();
        assert!(m.latency_ns.group_size.is_power_of_two() && m.latency_ns.group_size > 1);
        assert!(!m.latency_ns.per_call());
        // A call at least twice the shortest well-timed region is timed singly.
        let ns = (2.0 * clock.min_region_ns()) as u64;
        let m = measure(&mut BusyWait { ns }, &[0.0; 2], 2, 1, &quick(), &clock).unwrap();
        assert_eq!(m.latency_ns.group_size, 1);
        assert!(m.latency_ns.per_call());
        assert_eq!(m.latency_ns.single_call_max(7.0), 7.0);
    }

    #[test]
    fn the_clock_reads_cost_something_and_its_steps_are_no_finer_than_a_nanosecond() {
        let c = Clock::calibrate();
        assert!(c.read_ns > 0.0, "{c:?}");
        assert!(c.resolution_ns >= 1.0, "{c:?}");
        assert!(c.min_region_ns() >= 100.0 * c.read_ns.max(c.resolution_ns));
    }

    #[test]
    fn known_costs_measure_in_order() {
        // Ordering only: no speed assertion (the machine may be shared).
        let clock = Clock::calibrate();
        let cfg = quick();
        let e = measure(&mut Empty, &[0.0; 2], 2, 1, &cfg, &clock).unwrap();
        let a = measure(&mut BusyWait { ns: 2_000 }, &[0.0; 2], 2, 1, &cfg, &clock).unwrap();
        let b = measure(&mut BusyWait { ns: 200_000 }, &[0.0; 2], 2, 1, &cfg, &clock).unwrap();
        assert!(e.latency_ns.p50 < a.latency_ns.p50 && a.latency_ns.p50 < b.latency_ns.p50);
        assert!(
            b.latency_ns.p50 >= 200_000.0,
            "a busy wait cannot finish early"
        );
    }

    #[test]
    fn preemption_by_other_load_is_detected() {
        if tradeoff_ir::machine::thread_sched_ns().is_none() {
            eprintln!("skipped: this OS reports no scheduler statistics");
            return;
        }
        // One spinning thread per core, plus the measuring thread: it must wait for a CPU.
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let spinners: Vec<_> = (0..tradeoff_ir::machine::cores())
            .map(|_| {
                let stop = stop.clone();
                std::thread::spawn(move || {
                    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                        std::hint::spin_loop();
                    }
                })
            })
            .collect();
        let cfg = MeasureConfig {
            min_seconds: 0.3,
            ..quick()
        };
        let m = measure(
            &mut BusyWait { ns: 50_000 },
            &[0.0],
            1,
            1,
            &cfg,
            &Clock::calibrate(),
        );
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        for s in spinners {
            s.join().unwrap();
        }
        let share = m.unwrap().latency_ns.cpu_wait_share.unwrap();
        assert!(share > MAX_CPU_WAIT_SHARE, "waited {share}");
    }

    /// Slow for its first calls, then steady: a passing disturbance.
    struct SettlesDown {
        calls: usize,
    }
    impl Predictor for SettlesDown {
        fn n_outputs(&self) -> usize {
            1
        }
        fn predict(&mut self, _x: &[f32], _n: usize, _out: &mut [f32]) -> Result<()> {
            self.calls += 1;
            let ns = if self.calls < 100 { 200_000 } else { 20_000 };
            let t = Instant::now();
            while t.elapsed() < Duration::from_nanos(ns) {
                std::hint::spin_loop();
            }
            Ok(())
        }
    }

    #[test]
    fn a_passing_disturbance_is_discarded_as_warm_up() {
        let cfg = MeasureConfig {
            warmup_calls: 1,
            warmup_seconds: 0.0,
            min_samples: 200,
            min_seconds: 0.0,
            max_seconds: 5.0,
            // The disturbance makes calls ten times slower, far beyond 50%; ordinary noise from tests
            // running beside this one stays well under it.
            max_cv: 0.5,
            max_cpu_wait: 1.0,
        };
        let m = measure(
            &mut SettlesDown { calls: 0 },
            &[0.0],
            1,
            1,
            &cfg,
            &Clock::calibrate(),
        )
        .unwrap();
        assert!(m.latency_ns.restarts >= 1, "{:?}", m.latency_ns.restarts);
        assert!(m.verdict.valid, "{:?}", m.verdict);
        assert!(
            m.latency_ns.p50 < 40_000.0,
            "the kept attempt is the steady one: {}",
            m.latency_ns.p50
        );
    }

    #[test]
    fn nearest_rank_batches_cycle_through_the_pool() {
        let pool = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(make_batch(&pool, 2, 3), vec![1.0, 2.0, 3.0, 4.0, 1.0, 2.0]);
    }

    #[test]
    fn phases_keep_device_time_only_when_consistent() {
        struct Phased(f64);
        impl Predictor for Phased {
            fn n_outputs(&self) -> usize {
                1
            }
            fn predict(&mut self, _: &[f32], _: usize, _: &mut [f32]) -> Result<()> {
                Ok(())
            }
            fn predict_phased(
                &mut self,
                _: &[f32],
                _: usize,
                _: &mut [f32],
            ) -> Result<Option<tradeoff_ir::target::PhaseTimes>> {
                Ok(Some(tradeoff_ir::target::PhaseTimes {
                    upload_ns: 10.0,
                    compute_ns: 100.0,
                    readback_ns: 20.0,
                    device_compute_ns: Some(self.0),
                }))
            }
        }
        let pool = [0.0f32; 4];
        let ok = measure_phases(&mut Phased(80.0), &pool, 1, 1, Duration::from_secs(1))
            .unwrap()
            .unwrap();
        assert_eq!(ok.device_compute_ns, Some(80.0));
        assert_eq!(ok.compute_timing, "device timestamps");
        assert!(ok.flags.is_empty());
        for bad in [150.0, 0.0] {
            let p = measure_phases(&mut Phased(bad), &pool, 1, 1, Duration::from_secs(1))
                .unwrap()
                .unwrap();
            assert_eq!(p.device_compute_ns, None, "{bad}");
            assert_eq!(p.compute_timing, "wall clock between syncs");
            assert!(p.flags[0].contains("inconsistent"), "{:?}", p.flags);
        }
        // The CPU has no phases.
        assert!(
            measure_phases(&mut Empty, &pool, 1, 1, Duration::from_secs(1))
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn parity_catches_disagreement() {
        assert_eq!(parity(&[0.5, 0.5], &[0.5, 0.5], 2, true).1, None);
        assert!(parity(&[1.0], &[1.001], 1, false).1.is_some());
        assert!(parity(&[100.0], &[100.001], 1, false).1.is_none());
        assert!(parity(&[0.2, 0.8], &[0.2, f32::NAN], 2, true).1.is_some());
        assert!(parity(&[1.0], &[1.0, 2.0], 1, false).1.is_some());
    }
}
