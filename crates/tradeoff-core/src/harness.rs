//! The measuring code: all timing of predictions lives here.
//!
//! For one (model, target, batch size) cell: warm-up calls, then timed calls until both a
//! minimum sample count and a minimum duration are reached, or a time cap. Every timed region
//! ends with the predictor's `sync`, so device targets are timed to completion, not dispatch.
//! The first call after loading (`cold`) is measured separately by [`cold_call`].

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::target::Predictor;

/// How long and how often to sample one cell.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MeasureConfig {
    pub warmup_calls: usize,
    pub min_samples: usize,
    pub min_seconds: f64,
    pub max_seconds: f64,
}

impl Default for MeasureConfig {
    fn default() -> Self {
        MeasureConfig {
            warmup_calls: 10,
            min_samples: 200,
            min_seconds: 0.2,
            max_seconds: 2.0,
        }
    }
}

/// Latency percentiles of one call (one batch), in nanoseconds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Latency {
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub mean: f64,
    pub min: f64,
    pub max: f64,
    /// Number of timed calls.
    pub n: usize,
}

/// What one cell measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Measurement {
    pub latency_ns: Latency,
    /// Rows predicted divided by the time spent in timed calls (one caller, back to back).
    pub throughput_rows_per_s: f64,
}

/// Nearest-rank percentile of sorted samples.
pub fn percentile(sorted: &[f64], q: f64) -> f64 {
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

/// A batch of `batch` rows drawn cyclically from `pool` (row-major, `n_features` wide),
/// starting at a fixed offset so every target sees the same input.
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

/// Measures steady-state latency and throughput of one batch size.
pub fn measure(
    p: &mut dyn Predictor,
    pool: &[f32],
    n_features: usize,
    batch: usize,
    cfg: &MeasureConfig,
) -> Result<Measurement> {
    let x = make_batch(pool, n_features, batch);
    let mut out = vec![0.0; batch * p.n_outputs()];
    for _ in 0..cfg.warmup_calls {
        p.predict(&x, batch, &mut out)?;
        p.sync()?;
    }
    let min = Duration::from_secs_f64(cfg.min_seconds);
    let max = Duration::from_secs_f64(cfg.max_seconds);
    let mut samples = Vec::with_capacity(cfg.min_samples.max(1024));
    let start = Instant::now();
    loop {
        let t = Instant::now();
        p.predict(&x, batch, &mut out)?;
        p.sync()?;
        samples.push(t.elapsed().as_nanos() as f64);
        std::hint::black_box(&out);
        let elapsed = start.elapsed();
        if (samples.len() >= cfg.min_samples && elapsed >= min) || elapsed >= max {
            break;
        }
    }
    let total: f64 = samples.iter().sum();
    let n = samples.len();
    samples.sort_by(f64::total_cmp);
    Ok(Measurement {
        latency_ns: Latency {
            p50: percentile(&samples, 0.50),
            p90: percentile(&samples, 0.90),
            p99: percentile(&samples, 0.99),
            mean: total / n as f64,
            min: samples[0],
            max: samples[n - 1],
            n,
        },
        throughput_rows_per_s: if total > 0.0 {
            (batch * n) as f64 / (total * 1e-9)
        } else {
            0.0
        },
    })
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
            let (la, lb) = (crate::ir::argmax(a), crate::ir::argmax(b));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parity_catches_disagreement() {
        assert_eq!(parity(&[0.5, 0.5], &[0.5, 0.5], 2, true).1, None);
        assert!(parity(&[1.0], &[1.001], 1, false).1.is_some());
        assert!(parity(&[100.0], &[100.001], 1, false).1.is_none());
        assert!(parity(&[0.2, 0.8], &[0.2, f32::NAN], 2, true).1.is_some());
        assert!(parity(&[1.0], &[1.0, 2.0], 1, false).1.is_some());
    }

    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&v, 0.5), 50.0);
        assert_eq!(percentile(&v, 0.99), 99.0);
        assert_eq!(percentile(&v, 1.0), 100.0);
        assert_eq!(percentile(&[7.0], 0.99), 7.0);
    }

    #[test]
    fn batches_cycle_through_the_pool() {
        let pool = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(make_batch(&pool, 2, 3), vec![1.0, 2.0, 3.0, 4.0, 1.0, 2.0]);
    }

    struct Counting(usize);
    impl Predictor for Counting {
        fn n_outputs(&self) -> usize {
            1
        }
        fn predict(&mut self, _x: &[f32], n: usize, out: &mut [f32]) -> Result<()> {
            self.0 += 1;
            out[..n].fill(1.0);
            Ok(())
        }
    }

    #[test]
    fn sampling_meets_the_minimum_count() {
        let mut p = Counting(0);
        let cfg = MeasureConfig {
            warmup_calls: 3,
            min_samples: 50,
            min_seconds: 0.0,
            max_seconds: 10.0,
        };
        let m = measure(&mut p, &[0.0; 4], 2, 8, &cfg).unwrap();
        assert_eq!(m.latency_ns.n, 50);
        assert_eq!(p.0, 53);
        assert!(m.latency_ns.p50 <= m.latency_ns.p99);
    }
}
