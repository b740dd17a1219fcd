//! Linear candidates: ridge regression (`linear`, closed form) and logistic regression
//! (`logistic`, L-BFGS in `lbfgs.rs`), both ours.
//! Both train on standardized features; the standardization is part of the exported IR.

use rayon::prelude::*;
use tradeoff_data::data::{Dataset, Task};
use tradeoff_data::protocol::{ParamSpec, Params, Trainer};
use tradeoff_ir::ir::{Body, Link, ModelIr, IR_VERSION};
use tradeoff_ir::simd::gram_into;
use tradeoff_ir::Result;

use crate::convert::{lib_err, param, values, Standardizer};
use crate::Fitted;

/// Ridge regression in closed form: the normal equations solved by Cholesky in `f64`.
/// The smallest penalty per row tuned: scikit-learn's default penalty on 10 million rows.
const ALPHA_LOW: f64 = 1e-7;

/// scikit-learn's unit penalty (`Ridge(alpha=1)`, `LogisticRegression(C=1)`) as ours, which
/// is per row, for a fit on `rows` rows (kept inside the space).
fn per_row_unit_penalty(rows: usize) -> Params {
    let alpha = (1.0 / rows.max(1) as f64).clamp(ALPHA_LOW, 10.0);
    [("alpha".to_string(), alpha)].into()
}

pub struct Linear;

pub struct FittedLinear {
    std: Standardizer,
    weights: Vec<f64>,
    intercept: f64,
    n_features: usize,
}

/// Ridge regression with an intercept, in closed form: minimizes
/// `1/(2n) |y - X w - b|^2 + alpha/2 |w|^2` (the objective `linfa-elasticnet` minimized here
/// before, with `l1_ratio = 0`; scikit-learn's `Ridge(alpha = n * alpha)` minimizes the same
/// up to a factor). Centres `X` and `y`, solves `(Xc'Xc + n alpha I) W = Xc'Yc` by Cholesky in
/// `f64`, then `b = mean(y) - mean(X) W`. Row `i` of `X` (`p` values) is what `row(i, out)`
/// writes, so a caller can standardize on the fly instead of keeping a copy; `y` is `n x k`
/// (`k` outputs), row-major. Returns `W` (`p x k`, row-major) and `b` (`k`). The cost is
/// `n p^2 / 2` multiply-adds for `X'X` (on every core) and `p^3 / 6` for the factorization;
/// no iteration, no tolerance.
pub fn ridge<F>(
    row: F,
    y: &[f64],
    n: usize,
    p: usize,
    k: usize,
    alpha: f64,
) -> Result<(Vec<f64>, Vec<f64>)>
where
    F: Fn(usize, &mut [f64]) + Sync,
{
    assert_eq!(y.len(), n * k);
    let err = |m: String| lib_err("linear", m);
    if n == 0 {
        return Err(err("no training rows".into()));
    }
    // Partial sums over fixed chunks of rows, on every core, added in chunk order, so no sum
    // depends on the thread count.
    let chunks: Vec<usize> = (0..n).step_by(GRAM_CHUNK).collect();
    let sums: Vec<Vec<f64>> = chunks
        .par_iter()
        .map(|&lo| {
            let mut s = vec![0.0; p];
            let mut buf = vec![0.0; p];
            for i in lo..(lo + GRAM_CHUNK).min(n) {
                row(i, &mut buf);
                s.iter_mut().zip(&buf).for_each(|(a, b)| *a += b);
            }
            s
        })
        .collect();
    let mut xm = vec![0.0; p];
    for s in &sums {
        xm.iter_mut().zip(s).for_each(|(a, b)| *a += b);
    }
    xm.iter_mut().for_each(|a| *a /= n as f64);
    let mut ym = vec![0.0; k];
    for r in y.chunks_exact(k) {
        ym.iter_mut().zip(r).for_each(|(a, b)| *a += b);
    }
    ym.iter_mut().for_each(|a| *a /= n as f64);
    // Xc'Xc and Xc'Yc, the same way.
    let parts: Vec<(Vec<f64>, Vec<f64>)> = chunks
        .par_iter()
        .map(|&lo| {
            let hi = (lo + GRAM_CHUNK).min(n);
            gram(&row, lo..hi, &y[lo * k..hi * k], p, k, &xm, &ym)
        })
        .collect();
    let mut g = vec![0.0; p * p];
    let mut c = vec![0.0; p * k];
    for (pg, pc) in parts {
        g.iter_mut().zip(&pg).for_each(|(a, b)| *a += b);
        c.iter_mut().zip(&pc).for_each(|(a, b)| *a += b);
    }
    for i in 0..p {
        g[i * p + i] += n as f64 * alpha;
    }
    // Cholesky, G = L L' (L in the lower triangle, read from the upper one).
    let mut l = vec![0.0; p * p];
    for j in 0..p {
        let mut d = g[j * p + j] - (0..j).map(|t| l[j * p + t] * l[j * p + t]).sum::<f64>();
        if d.is_nan() || d <= 0.0 {
            return Err(err(format!(
                "the ridge system is not positive definite at feature {j} (alpha {alpha} too small for these features)"
            )));
        }
        d = d.sqrt();
        l[j * p + j] = d;
        for i in j + 1..p {
            let s = g[j * p + i] - (0..j).map(|t| l[i * p + t] * l[j * p + t]).sum::<f64>();
            l[i * p + j] = s / d;
        }
    }
    // Forward then back substitution, one output column at a time.
    let mut w = vec![0.0; p * k];
    let mut z = vec![0.0; p];
    for o in 0..k {
        for i in 0..p {
            z[i] = (c[i * k + o] - (0..i).map(|t| l[i * p + t] * z[t]).sum::<f64>()) / l[i * p + i];
        }
        for i in (0..p).rev() {
            let s: f64 = (i + 1..p).map(|t| l[t * p + i] * w[t * k + o]).sum();
            w[i * k + o] = (z[i] - s) / l[i * p + i];
        }
    }
    let b = (0..k)
        .map(|o| ym[o] - (0..p).map(|i| xm[i] * w[i * k + o]).sum::<f64>())
        .collect();
    Ok((w, b))
}

/// Rows a partial Gram matrix covers (a unit of parallel work).
const GRAM_CHUNK: usize = 8192;

/// `Xc'Xc` and `Xc'Yc` for rows `rows` (`y`: their targets): blocks of centred rows
/// `[Xc | Yc]`, whose Gram matrix ([`gram_into`], the `gemm` crate's kernels) holds both.
fn gram<F>(
    row: &F,
    rows: std::ops::Range<usize>,
    y: &[f64],
    p: usize,
    k: usize,
    xm: &[f64],
    ym: &[f64],
) -> (Vec<f64>, Vec<f64>)
where
    F: Fn(usize, &mut [f64]),
{
    // Rows a block: its copy stays in the core's own cache.
    const BLOCK: usize = 1024;
    let q = p + k;
    let mut full = vec![0.0; q * q];
    let mut z = vec![0.0; q * BLOCK];
    for (b, yb) in y.chunks(k * BLOCK).enumerate() {
        let first = rows.start + b * BLOCK;
        let n = yb.len() / k;
        for (r, (zr, yr)) in z.chunks_exact_mut(q).zip(yb.chunks_exact(k)).enumerate() {
            let (zx, zy) = zr.split_at_mut(p);
            row(first + r, zx);
            zx.iter_mut().zip(xm).for_each(|(v, m)| *v -= m);
            zy.iter_mut()
                .zip(yr.iter().zip(ym))
                .for_each(|(v, (y, m))| *v = y - m);
        }
        gram_into(&z[..n * q], n, q, &mut full);
    }
    let g = (0..p)
        .flat_map(|i| (0..p).map(move |j| (i, j)))
        .map(|(i, j)| full[i * q + j])
        .collect();
    let c = (0..p)
        .flat_map(|i| (0..k).map(move |o| (i, o)))
        .map(|(i, o)| full[i * q + p + o])
        .collect();
    (g, c)
}

impl Linear {
    pub fn native(&self, ds: &Dataset, params: &Params) -> Result<Box<dyn Fitted>> {
        let alpha = param("linear", params, "alpha")?;
        let std = Standardizer::fit(ds);
        // Standardized on the fly, as the IR does it (in `f32`), then widened.
        let ir = std.to_ir();
        let nf = ds.n_features;
        let row = |i: usize, out: &mut [f64]| ir.apply_row_wide(&ds.x[i * nf..(i + 1) * nf], out);
        let (weights, intercept) = ridge(
            row,
            values(ds).as_slice().expect("contiguous"),
            ds.n_rows,
            ds.n_features,
            1,
            alpha,
        )?;
        Ok(Box::new(FittedLinear {
            std,
            weights,
            intercept: intercept[0],
            n_features: ds.n_features,
        }))
    }
}

impl Fitted for FittedLinear {
    fn to_ir(&self) -> Result<ModelIr> {
        Ok(ModelIr {
            ir_version: IR_VERSION,
            n_features: self.n_features,
            n_outputs: 1,
            classification: false,
            standardize: Some(self.std.to_ir()),
            body: Body::Linear {
                weights: self.weights.iter().map(|v| *v as f32).collect(),
                bias: vec![self.intercept as f32],
                link: Link::Identity,
            },
        })
    }
    fn library_predict(&self, x: &Dataset) -> Vec<f32> {
        let xs = self.std.apply(x);
        xs.rows()
            .into_iter()
            .map(|r| {
                (self.intercept + r.iter().zip(&self.weights).map(|(a, b)| a * b).sum::<f64>())
                    as f32
            })
            .collect()
    }
}

impl Trainer for Linear {
    fn family(&self) -> &'static str {
        "linear"
    }
    fn id(&self) -> &'static str {
        "linear"
    }
    fn supports(&self, task: Task) -> std::result::Result<(), String> {
        match task {
            Task::Regression => Ok(()),
            _ => Err(
                "linear is a regression model; logistic is its classification counterpart".into(),
            ),
        }
    }
    fn space(&self, _task: Task) -> Vec<ParamSpec> {
        vec![ParamSpec::log_float("alpha", ALPHA_LOW, 10.0)]
    }
    /// scikit-learn's `alpha = 1` (`C = 1` for logistic regression) on standardized
    /// features: per row, `1 / rows`.
    fn defaults(&self, _task: Task, rows: usize, _features: usize) -> Option<Params> {
        Some(per_row_unit_penalty(rows))
    }
    fn fit(&self, train: &Dataset, params: &Params, _seed: u64) -> Result<ModelIr> {
        self.native(train, params)?.to_ir()
    }
    fn library(&self, _task: Task) -> &'static str {
        "tradeoff (ridge, closed form)"
    }
}

/// L2-regularized logistic regression by L-BFGS (`lbfgs.rs`), binary or multinomial.
pub struct Logistic;

pub struct FittedLogistic {
    std: Standardizer,
    /// Row-major `scores x features`: one score (the logit of class 1) for binary models, one
    /// a class otherwise.
    weights: Vec<f64>,
    bias: Vec<f64>,
    n_features: usize,
    n_classes: usize,
}

/// Logit scale for a class absent from the training rows: its probability underflows to 0.
const ABSENT_CLASS_BIAS: f32 = -1e30;

impl Logistic {
    pub fn native(&self, ds: &Dataset, params: &Params) -> Result<Box<dyn Fitted>> {
        let alpha = param("logistic", params, "alpha")?;
        let std = Standardizer::fit(ds);
        let x = std.apply_rows(ds);
        let nf = ds.n_features;
        let k = ds.n_classes();
        // Classes with training rows, in order; absent ones get no weights and a bias that
        // makes their probability 0 (a multinomial fit would push it to minus infinity).
        let counts = ds.class_counts();
        let present: Vec<usize> = (0..k).filter(|c| counts[*c] > 0).collect();
        let index_of = |c: usize| present.binary_search(&c).expect("a present class");
        let y: Vec<usize> = ds.y.iter().map(|v| index_of(*v as usize)).collect();
        if present.len() < 2 {
            return Err(lib_err(
                "logistic",
                "the training rows hold a single class; logistic regression needs two",
            ));
        }
        // Binary tasks: one score under a sigmoid; multiclass ones: a softmax over the present
        // classes (even when only two are present), as the IR's link says.
        let binary = k == 2;
        let fit = crate::lbfgs::fit(&x, &y, nf, present.len(), !binary, alpha)?;
        let (weights, bias) = if binary {
            (fit.weights, fit.bias)
        } else {
            let mut w = vec![0.0; k * nf];
            let mut b = vec![ABSENT_CLASS_BIAS as f64; k];
            for (i, &c) in present.iter().enumerate() {
                w[c * nf..(c + 1) * nf].copy_from_slice(&fit.weights[i * nf..(i + 1) * nf]);
                b[c] = fit.bias[i];
            }
            (w, b)
        };
        Ok(Box::new(FittedLogistic {
            std,
            weights,
            bias,
            n_features: nf,
            n_classes: k,
        }))
    }
}

impl Fitted for FittedLogistic {
    fn to_ir(&self) -> Result<ModelIr> {
        Ok(ModelIr {
            ir_version: IR_VERSION,
            n_features: self.n_features,
            n_outputs: self.n_classes,
            classification: true,
            standardize: Some(self.std.to_ir()),
            body: Body::Linear {
                weights: self.weights.iter().map(|v| *v as f32).collect(),
                bias: self.bias.iter().map(|v| *v as f32).collect(),
                link: if self.n_classes == 2 {
                    Link::Sigmoid
                } else {
                    Link::Softmax
                },
            },
        })
    }

    /// Probabilities in `f64` from the fitted coefficients (sigmoid, or softmax over the
    /// scores), then narrowed.
    fn library_predict(&self, x: &Dataset) -> Vec<f32> {
        let xs = self.std.apply(x);
        let nf = self.n_features;
        let mut out = Vec::with_capacity(x.n_rows * self.n_classes);
        for row in xs.rows() {
            let score = |s: usize| -> f64 {
                self.bias[s]
                    + row
                        .iter()
                        .zip(&self.weights[s * nf..(s + 1) * nf])
                        .map(|(a, b)| a * b)
                        .sum::<f64>()
            };
            if self.n_classes == 2 {
                let p1 = 1.0 / (1.0 + (-score(0)).exp());
                out.extend([(1.0 - p1) as f32, p1 as f32]);
            } else {
                let z: Vec<f64> = (0..self.n_classes).map(score).collect();
                let max = z.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                let sum: f64 = z.iter().map(|v| (v - max).exp()).sum();
                out.extend(z.iter().map(|v| ((v - max).exp() / sum) as f32));
            }
        }
        out
    }
}

impl Trainer for Logistic {
    fn family(&self) -> &'static str {
        "linear"
    }
    fn id(&self) -> &'static str {
        "logistic"
    }
    fn supports(&self, task: Task) -> std::result::Result<(), String> {
        match task {
            Task::Regression => {
                Err("logistic is a classifier; linear is its regression counterpart".into())
            }
            _ => Ok(()),
        }
    }
    fn space(&self, _task: Task) -> Vec<ParamSpec> {
        vec![ParamSpec::log_float("alpha", ALPHA_LOW, 10.0)]
    }
    /// scikit-learn's `alpha = 1` (`C = 1` for logistic regression) on standardized
    /// features: per row, `1 / rows`.
    fn defaults(&self, _task: Task, rows: usize, _features: usize) -> Option<Params> {
        Some(per_row_unit_penalty(rows))
    }
    fn fit(&self, train: &Dataset, params: &Params, _seed: u64) -> Result<ModelIr> {
        self.native(train, params)?.to_ir()
    }
    fn library(&self, _task: Task) -> &'static str {
        "tradeoff (logistic regression, L-BFGS)"
    }
}

#[cfg(test)]
mod tests {
    use tradeoff_ir::rng::Rng;

    use crate::convert::lib_err;

    /// [`super::ridge`] over row-major `x`.
    fn ridge(
        x: &[f64],
        y: &[f64],
        n: usize,
        p: usize,
        k: usize,
        alpha: f64,
    ) -> tradeoff_ir::Result<(Vec<f64>, Vec<f64>)> {
        if x.len() != n * p {
            return Err(lib_err("linear", "x is not n x p"));
        }
        super::ridge(
            |i, out| out.copy_from_slice(&x[i * p..(i + 1) * p]),
            y,
            n,
            p,
            k,
            alpha,
        )
    }

    /// Correlated columns (one nearly a copy of another, as one-hot groups are), two outputs.
    fn data(n: usize, p: usize, k: usize) -> (Vec<f64>, Vec<f64>) {
        let mut rng = Rng::new(11);
        let mut x = Vec::with_capacity(n * p);
        let mut y = Vec::with_capacity(n * k);
        for _ in 0..n {
            let row: Vec<f64> = (0..p).map(|_| rng.normal() * 2.0 + 1.0).collect();
            let mut row = row;
            row[p - 1] = row[0] + 0.01 * rng.normal();
            for o in 0..k {
                y.push(
                    3.0 + row
                        .iter()
                        .enumerate()
                        .map(|(j, v)| v * (j as f64 - o as f64))
                        .sum::<f64>()
                        + rng.normal(),
                );
            }
            x.extend(row);
        }
        (x, y)
    }

    #[test]
    fn ridge_solution_zeroes_the_gradient_of_its_objective() {
        let (n, p, k, alpha) = (500, 6, 2, 0.05);
        let (x, y) = data(n, p, k);
        let (w, b) = ridge(&x, &y, n, p, k, alpha).unwrap();
        for o in 0..k {
            // d/dw_j of 1/(2n)|y - Xw - b|^2 + alpha/2 |w|^2, and d/db.
            let resid: Vec<f64> = (0..n)
                .map(|r| {
                    y[r * k + o] - b[o] - (0..p).map(|j| x[r * p + j] * w[j * k + o]).sum::<f64>()
                })
                .collect();
            assert!(resid.iter().sum::<f64>().abs() / n as f64 <= 1e-9);
            for j in 0..p {
                let g = -(0..n).map(|r| x[r * p + j] * resid[r]).sum::<f64>() / n as f64
                    + alpha * w[j * k + o];
                assert!(g.abs() <= 1e-9, "output {o} feature {j}: gradient {g}");
            }
        }
    }

    #[test]
    fn ridge_outputs_are_solved_independently() {
        let (n, p, k) = (300, 4, 3);
        let (x, y) = data(n, p, k);
        let (w, b) = ridge(&x, &y, n, p, k, 0.1).unwrap();
        for o in 0..k {
            let yo: Vec<f64> = (0..n).map(|r| y[r * k + o]).collect();
            let (wo, bo) = ridge(&x, &yo, n, p, 1, 0.1).unwrap();
            assert!((bo[0] - b[o]).abs() < 1e-9);
            for j in 0..p {
                assert!((wo[j] - w[j * k + o]).abs() < 1e-9);
            }
        }
    }

    #[test]
    fn ridge_without_noise_and_tiny_alpha_recovers_the_coefficients() {
        let (n, p) = (200, 3);
        let mut rng = Rng::new(2);
        let x: Vec<f64> = (0..n * p).map(|_| rng.normal()).collect();
        let y: Vec<f64> = (0..n)
            .map(|r| 0.5 + 2.0 * x[r * p] - x[r * p + 2])
            .collect();
        let (w, b) = ridge(&x, &y, n, p, 1, 1e-12).unwrap();
        for (got, want) in w.iter().zip([2.0, 0.0, -1.0]) {
            assert!((got - want).abs() < 1e-8, "{got} vs {want}");
        }
        assert!((b[0] - 0.5).abs() < 1e-8);
    }
}
