//! Learning-curve models: fit `score = a - b * n^(-c)` to (training rows, score) points,
//! extrapolate with a bootstrap band, and check the extrapolation on the largest size.
//!
//! For a fixed `c` the model is linear in `a` and `b`, so the fit is a one-dimensional search
//! over `c` with a closed-form least-squares solve at each step; no optimizer, no start values.

use serde::{Deserialize, Serialize};

use tradeoff_core::record::{CurvePoint, Status};
use tradeoff_ir::rng::Rng;

use crate::{fmt_bytes, fmt_ns, render};

/// The exponents tried: 0.01 to 3, log-spaced.
const C_GRID: usize = 200;
const C_MIN: f64 = 0.01;
const C_MAX: f64 = 3.0;

/// A fitted power law.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PowerLaw {
    pub a: f64,
    pub b: f64,
    pub c: f64,
    /// Root mean squared residual over the points fitted.
    pub rmse: f64,
}

impl PowerLaw {
    pub fn predict(&self, n: f64) -> f64 {
        self.a - self.b * n.powf(-self.c)
    }

    /// Whether the exponent is the first or last of the grid searched.
    pub fn at_edge(&self) -> bool {
        let rel = |x: f64| (self.c - x).abs() <= 1e-9 * x;
        rel(C_MIN) || rel(C_MAX)
    }

    /// Least-squares fit over at least three points with distinct sizes; `None` otherwise.
    /// With `upper`, the asymptote `a` may not exceed it (accuracy and R² cannot pass 1):
    /// where the free fit would, `a` is pinned at `upper` and `b` refit.
    pub fn fit(points: &[(f64, f64)], upper: Option<f64>) -> Option<PowerLaw> {
        let distinct = {
            let mut ns: Vec<f64> = points.iter().map(|p| p.0).collect();
            ns.sort_by(f64::total_cmp);
            ns.dedup();
            ns.len()
        };
        if distinct < 3
            || points
                .iter()
                .any(|(n, s)| !(n.is_finite() && *n > 0.0 && s.is_finite()))
        {
            return None;
        }
        let mut best: Option<PowerLaw> = None;
        for i in 0..C_GRID {
            let c = C_MIN * (C_MAX / C_MIN).powf(i as f64 / (C_GRID - 1) as f64);
            // s = a + beta * x with x = n^-c; b = -beta.
            let m = points.len() as f64;
            let xs: Vec<f64> = points.iter().map(|(n, _)| n.powf(-c)).collect();
            let mx = xs.iter().sum::<f64>() / m;
            let ms = points.iter().map(|p| p.1).sum::<f64>() / m;
            let sxx: f64 = xs.iter().map(|x| (x - mx).powi(2)).sum();
            if sxx <= 0.0 {
                continue;
            }
            let sxs: f64 = xs
                .iter()
                .zip(points)
                .map(|(x, p)| (x - mx) * (p.1 - ms))
                .sum();
            let mut beta = sxs / sxx;
            let mut a = ms - beta * mx;
            if let Some(u) = upper.filter(|u| a > *u) {
                a = u;
                let sxx0: f64 = xs.iter().map(|x| x * x).sum();
                beta = xs
                    .iter()
                    .zip(points)
                    .map(|(x, p)| x * (p.1 - u))
                    .sum::<f64>()
                    / sxx0;
            }
            let sse: f64 = xs
                .iter()
                .zip(points)
                .map(|(x, p)| (a + beta * x - p.1).powi(2))
                .sum();
            let cand = PowerLaw {
                a,
                b: -beta,
                c,
                rmse: (sse / m).sqrt(),
            };
            if best.as_ref().is_none_or(|b| cand.rmse < b.rmse) {
                best = Some(cand);
            }
        }
        best
    }
}

/// A prediction with a bootstrap band.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Band {
    pub rows: f64,
    pub value: f64,
    /// 5th and 95th percentiles over bootstrap refits.
    pub low: f64,
    pub high: f64,
}

/// One size of a learning curve: the rows the scored models trained on, and the per-fold
/// scores at that size (fold `j` is the same fold at every size: nested subsets keep their
/// folds).
#[derive(Debug, Clone, PartialEq)]
pub struct SizeScores {
    pub rows: f64,
    pub folds: Vec<f64>,
}

impl SizeScores {
    pub fn mean(&self) -> f64 {
        self.folds.iter().sum::<f64>() / self.folds.len() as f64
    }

    /// Standard error of the mean over the folds: their sample standard deviation over the
    /// square root of their number; infinite with one fold.
    pub fn standard_error(&self) -> f64 {
        let k = self.folds.len();
        if k < 2 {
            return f64::INFINITY;
        }
        let m = self.mean();
        let var = self.folds.iter().map(|v| (v - m).powi(2)).sum::<f64>() / (k - 1) as f64;
        (var / k as f64).sqrt()
    }
}

/// The analysis of one candidate's curve.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CurveAnalysis {
    pub fit: PowerLaw,
    pub at_2x: Band,
    pub at_10x: Band,
    /// Predicted gain from the largest measured size to 10x.
    pub gain_10x: f64,
    /// The standard error of the mean cross-validated score at the largest size, which the
    /// gain is compared with.
    #[serde(default)]
    pub largest_se: f64,
    pub plateaued: bool,
    /// The fitted exponent sits at an end of the range searched (0.01 or 3): the curve's
    /// shape is outside what the model family can say, and the extrapolation is not to be
    /// trusted.
    #[serde(default)]
    pub exponent_at_edge: bool,
    /// The fit without the largest size, predicting it.
    pub check: Option<Check>,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Check {
    pub rows: f64,
    pub predicted: f64,
    pub actual: f64,
    /// predicted - actual
    pub error: f64,
}

/// Fits, extrapolates and checks a curve. A candidate "plateaus" when the predicted gain at
/// 10x the data is below `max(0.005, standard error of the mean CV score at the largest
/// size)`: more data would not change its score by more than the uncertainty of measuring
/// it. The bootstrap band resamples folds, the same folds at every size (nested subsets
/// share their folds, so one fold's scores move together across sizes).
///
/// `upper` is the metric's ceiling (1 for accuracy and R²), if it has one.
pub fn analyze(sizes: &[SizeScores], seed: u64, upper: Option<f64>) -> Option<CurveAnalysis> {
    let points: Vec<(f64, f64)> = sizes.iter().map(|s| (s.rows, s.mean())).collect();
    let fit = PowerLaw::fit(&points, upper)?;
    let largest = sizes.iter().max_by(|a, b| a.rows.total_cmp(&b.rows))?;
    let n = largest.rows;
    // Bootstrap: draw folds with replacement, the same draw at every size (fold j is one
    // set of rows at every size), refit, predict. Sizes that scored fewer folds (a time cap)
    // draw among the folds every size has.
    let mut rng = Rng::derive(seed, "curve-bootstrap");
    let (mut p2, mut p10) = (Vec::new(), Vec::new());
    let k = sizes.iter().map(|s| s.folds.len()).min().unwrap_or(0);
    for _ in 0..200 {
        if k == 0 {
            break;
        }
        let draw: Vec<usize> = (0..k).map(|_| rng.below(k)).collect();
        let resampled: Vec<(f64, f64)> = sizes
            .iter()
            .map(|s| {
                let m = draw.iter().map(|&j| s.folds[j]).sum::<f64>() / k as f64;
                (s.rows, m)
            })
            .collect();
        if let Some(f) = PowerLaw::fit(&resampled, upper) {
            p2.push(f.predict(2.0 * n));
            p10.push(f.predict(10.0 * n));
        }
    }
    let band = |rows: f64, mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        let q = |p: f64| v[((p * (v.len() - 1) as f64).round() as usize).min(v.len() - 1)];
        Band {
            rows,
            value: fit.predict(rows),
            low: q(0.05),
            high: q(0.95),
        }
    };
    let at_2x = band(2.0 * n, p2);
    let at_10x = band(10.0 * n, p10);
    let se = largest.standard_error();
    let gain_10x = at_10x.value - largest.mean();
    let check = {
        let rest: Vec<(f64, f64)> = points.iter().copied().filter(|p| p.0 < n).collect();
        PowerLaw::fit(&rest, upper).map(|f| {
            let predicted = f.predict(n);
            Check {
                rows: n,
                predicted,
                actual: largest.mean(),
                error: predicted - largest.mean(),
            }
        })
    };
    Some(CurveAnalysis {
        fit,
        at_2x,
        at_10x,
        gain_10x,
        largest_se: if se.is_finite() { se } else { 0.0 },
        plateaued: gain_10x < if se.is_finite() { se.max(0.005) } else { 0.005 },
        exponent_at_edge: fit.at_edge(),
        check,
    })
}

/// The `curve_fit` record: one per candidate of a `tradeoff curve` run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CurveFitRecord {
    pub schema_version: u32,
    pub run_id: String,
    pub candidate: String,
    pub primary_metric: String,
    /// Training rows of the sizes that were measured and fitted.
    pub sizes: Vec<usize>,
    /// Absent when fewer than three sizes were measured.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub analysis: Option<CurveAnalysis>,
    pub data_hash: String,
    pub fold_hash: String,
}

/// A fitted coefficient: three decimals, or scientific notation when far from 1.
fn coef(v: f64) -> String {
    if v != 0.0 && !(1e-3..1e4).contains(&v.abs()) {
        format!("{v:.2e}")
    } else {
        format!("{v:.3}")
    }
}

/// The per-size table of a curve run.
pub fn points_table(points: &[CurvePoint], metric: &str) -> String {
    let mut lines = vec![vec![
        "candidate".to_string(),
        "rows".into(),
        "per fold fit".into(),
        format!("cv {metric}"),
        format!("test {metric}"),
        "fit".into(),
        "model".into(),
        "p50 latency".into(),
        "peak RSS".into(),
    ]];
    // Sizes whose folds a time budget cut short say how many they scored.
    let most_folds = points
        .iter()
        .filter_map(|p| p.fit.cv_score.as_ref().map(|c| c.folds))
        .max()
        .unwrap_or(0);
    for p in points {
        let mut l = vec![
            p.candidate.clone(),
            p.train_rows.to_string(),
            p.cv_train_rows.map_or("-".into(), |r| format!("{r:.0}")),
        ];
        if p.status != Status::Ok {
            l.push(p.status.as_str().into());
            l.extend(std::iter::repeat_n(String::new(), 5));
            lines.push(l);
            continue;
        }
        l.push(
            p.fit
                .cv_score
                .as_ref()
                .map_or("-".into(), |c| match c.folds {
                    1 => format!("{:.4} (1 of {most_folds} folds)", c.mean),
                    k if k < most_folds => {
                        format!("{:.4}±{:.4} ({k} of {most_folds} folds)", c.mean, c.std)
                    }
                    _ => format!("{:.4}±{:.4}", c.mean, c.std),
                }),
        );
        l.push(
            p.fit
                .scores
                .get(metric)
                .map_or("-".into(), |v| format!("{v:.4}")),
        );
        l.push(p.fit.fit_seconds.map_or("-".into(), |s| format!("{s:.3}s")));
        l.push(p.fit.model_bytes.map_or("-".into(), fmt_bytes));
        l.push(p.latency_ns.as_ref().map_or("-".into(), |lat| {
            let g = if lat.per_call() { "" } else { " g" };
            format!("{} @{}{g}", fmt_ns(lat.p50), p.batch_size)
        }));
        l.push(p.peak_rss_bytes.map_or("unknown".into(), fmt_bytes));
        lines.push(l);
    }
    let mut out = render(&lines, 1);
    if points
        .iter()
        .any(|p| p.latency_ns.as_ref().is_some_and(|l| !l.per_call()))
    {
        out.push_str(
            "  note: g: calls too short to time one by one were timed in groups; that p50 is of \
             group means, not single calls\n",
        );
    }
    out
}

/// The fitted curves, extrapolations, checks and the ranking at 10x.
pub fn fits_table(fits: &[CurveFitRecord], metric: &str) -> String {
    let mut lines = vec![vec![
        "candidate".to_string(),
        "fit: a - b*n^-c".into(),
        "at 2x (90% band)".into(),
        "at 10x (90% band)".into(),
        "check: largest size predicted/actual (error)".into(),
        "verdict".into(),
    ]];
    for f in fits {
        let mut l = vec![f.candidate.clone()];
        match &f.analysis {
            None => {
                l.push(format!("too few sizes ({})", f.sizes.len()));
                l.extend(std::iter::repeat_n(String::new(), 4));
            }
            Some(a) => {
                l.push(format!(
                    "a={} b={} c={:.2}",
                    coef(a.fit.a),
                    coef(a.fit.b),
                    a.fit.c
                ));
                let band = |b: &Band| format!("{:.4} [{:.4}, {:.4}]", b.value, b.low, b.high);
                l.push(band(&a.at_2x));
                l.push(band(&a.at_10x));
                l.push(a.check.map_or("-".into(), |c| {
                    format!("{:.4}/{:.4} ({:+.4})", c.predicted, c.actual, c.error)
                }));
                let mut verdict = if a.plateaued {
                    format!(
                        "plateaued ({:+.4} at 10x, SE {:.4})",
                        a.gain_10x, a.largest_se
                    )
                } else {
                    format!(
                        "still improving ({:+.4} at 10x, SE {:.4})",
                        a.gain_10x, a.largest_se
                    )
                };
                if a.exponent_at_edge {
                    verdict.push_str(&format!(
                        "; exponent c at the edge of its range ({C_MIN}..{C_MAX}): extrapolation unreliable"
                    ));
                }
                l.push(verdict);
            }
        }
        lines.push(l);
    }
    let mut out = render(&lines, 1);
    let mut ranked: Vec<(&str, f64)> = fits
        .iter()
        .filter_map(|f| {
            f.analysis
                .as_ref()
                .map(|a| (f.candidate.as_str(), a.at_10x.value))
        })
        .collect();
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1));
    if !ranked.is_empty() {
        out.push_str(&format!(
            "ranking at 10x the data ({metric}, extrapolated): {}\n",
            ranked
                .iter()
                .map(|(c, v)| format!("{c} {v:.4}"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovers_a_known_power_law() {
        let truth = PowerLaw {
            a: 0.9,
            b: 2.0,
            c: 0.5,
            rmse: 0.0,
        };
        let pts: Vec<(f64, f64)> = [100.0, 200.0, 400.0, 800.0, 1600.0]
            .iter()
            .map(|&n| (n, truth.predict(n)))
            .collect();
        let f = PowerLaw::fit(&pts, Some(1.0)).unwrap();
        assert!((f.a - 0.9).abs() < 0.01, "{f:?}");
        assert!((f.c - 0.5).abs() < 0.03, "{f:?}");
        assert!((f.predict(16000.0) - truth.predict(16000.0)).abs() < 0.005);
    }

    #[test]
    fn too_few_points_do_not_fit() {
        assert!(PowerLaw::fit(&[(10.0, 0.5), (20.0, 0.6)], None).is_none());
        assert!(PowerLaw::fit(&[(10.0, 0.5), (10.0, 0.6), (10.0, 0.7)], None).is_none());
    }

    #[test]
    fn the_asymptote_respects_the_ceiling() {
        // Steep, nearly linear in log n: a free fit puts the asymptote far above 1.
        let pts = [(100.0, 0.5), (200.0, 0.6), (400.0, 0.7), (800.0, 0.8)];
        let free = PowerLaw::fit(&pts, None).unwrap();
        assert!(free.a > 1.0, "{free:?}");
        let capped = PowerLaw::fit(&pts, Some(1.0)).unwrap();
        assert!(capped.a <= 1.0, "{capped:?}");
        assert!(capped.predict(1e9) <= 1.0);
    }

    /// Five folds around a power law, fold j off by the same amount at every size.
    fn sizes_with_fold_effects(rows: &[f64], mean: impl Fn(f64) -> f64) -> Vec<SizeScores> {
        rows.iter()
            .map(|&n| SizeScores {
                rows: n,
                folds: [-0.04, -0.02, 0.0, 0.02, 0.04]
                    .iter()
                    .map(|d| mean(n) + d)
                    .collect(),
            })
            .collect()
    }

    #[test]
    fn a_plateau_is_a_gain_below_the_standard_error_not_below_one_folds_spread() {
        // Gain to 10x: 0.83 x (800^-0.5 - 8000^-0.5) = 0.0201. The folds' spread is 0.028
        // (population) but the mean's standard error 0.0141: the gain is real.
        let sizes =
            sizes_with_fold_effects(&[100.0, 200.0, 400.0, 800.0], |n| 0.9 - 0.83 * n.powf(-0.5));
        let a = analyze(&sizes, 1, Some(1.0)).unwrap();
        assert!((a.gain_10x - 0.0201).abs() < 0.001, "{a:?}");
        assert!((a.largest_se - 0.01414).abs() < 1e-4, "{a:?}");
        assert!(!a.plateaued, "{a:?}");
        assert!(!a.exponent_at_edge, "{a:?}");
    }

    #[test]
    fn the_bootstrap_draws_the_same_folds_at_every_size() {
        // Fold effects shared across sizes: each replicate is the curve shifted up or down
        // by its draw's mean effect, so the band is as wide at 10x as at 2x.
        let sizes =
            sizes_with_fold_effects(&[100.0, 200.0, 400.0, 800.0], |n| 0.9 - 0.83 * n.powf(-0.5));
        let a = analyze(&sizes, 3, None).unwrap();
        let w2 = a.at_2x.high - a.at_2x.low;
        let w10 = a.at_10x.high - a.at_10x.low;
        assert!(w2 > 0.0, "{a:?}");
        assert!(
            (w2 - w10).abs() < 1e-6,
            "widths {w2} at 2x and {w10} at 10x"
        );
    }

    #[test]
    fn an_exponent_at_the_edge_of_its_range_is_flagged() {
        // Far steeper than n^-3: the search stops at its last exponent.
        let points: Vec<SizeScores> = [2.0, 3.0, 4.0, 6.0]
            .iter()
            .map(|&n: &f64| SizeScores {
                rows: n,
                folds: vec![0.9 - 0.5 * n.powi(-6)],
            })
            .collect();
        let a = analyze(&points, 1, Some(1.0)).unwrap();
        assert_eq!(a.fit.c, C_MAX, "{a:?}");
        assert!(a.exponent_at_edge);
        let table = fits_table(
            &[CurveFitRecord {
                schema_version: 4,
                run_id: "r".into(),
                candidate: "gbm".into(),
                primary_metric: "accuracy".into(),
                sizes: vec![2, 3, 4, 6],
                analysis: Some(a),
                data_hash: "d".into(),
                fold_hash: "f".into(),
            }],
            "accuracy",
        );
        assert!(
            table.contains("exponent c at the edge of its range"),
            "{table}"
        );
    }

    #[test]
    fn flat_curve_plateaus_and_rising_curve_does_not() {
        let flat: Vec<SizeScores> = [100.0, 200.0, 400.0, 800.0]
            .iter()
            .map(|&n| SizeScores {
                rows: n,
                folds: vec![0.80, 0.81, 0.79],
            })
            .collect();
        let a = analyze(&flat, 1, Some(1.0)).unwrap();
        assert!(a.plateaued, "{a:?}");
        let rising: Vec<SizeScores> = [100.0, 200.0, 400.0, 800.0]
            .iter()
            .map(|&n| {
                let m = 0.95 - 3.0 * f64::powf(n, -0.5);
                SizeScores {
                    rows: n,
                    folds: vec![m - 0.002, m, m + 0.002],
                }
            })
            .collect();
        let a = analyze(&rising, 1, Some(1.0)).unwrap();
        assert!(!a.plateaued, "{a:?}");
        assert!(
            a.at_10x.low <= a.at_10x.value && a.at_10x.value <= a.at_10x.high + 1e-9,
            "{a:?}"
        );
        let check = a.check.unwrap();
        assert!(check.error.abs() < 0.01, "{check:?}");
        assert_eq!(check.rows, 800.0);
    }
}
