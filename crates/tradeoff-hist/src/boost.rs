//! Gradient boosting on binned features, as scikit-learn's `HistGradientBoosting` and
//! LightGBM do it: each round computes every row's gradient and hessian of the loss at the
//! current scores, grows a depth-limited tree on them ([`Target::Gradients`]: second-order
//! gain, Newton-step leaves times the learning rate), and adds each leaf's value to the scores
//! of the rows it holds (read from the partitioned rows, not by walking the tree).
//!
//! Losses: squared error (regression), log loss (binary, one logit) and softmax log loss
//! (multiclass, one tree per class per round, grown in parallel). Scores start from the
//! loss's best constant: the mean, the log-odds of the positive share, the log of each class's
//! share. A class with no training rows starts at [`ABSENT_CLASS_LOGIT`] and gets no trees.

use rayon::prelude::*;

use crate::bins::Bins;
use crate::tree::{fit_boost_tree, BinnedTree, Gradients, Target, TreeParams};

/// The starting logit of a class absent from the training rows: its softmax share is 0.
pub const ABSENT_CLASS_LOGIT: f64 = -1e30;

/// What the booster minimizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Loss {
    /// Half squared error; `y` holds values.
    Squared,
    /// Binary log loss on one logit; `y` holds 0 or 1.
    Logistic,
    /// Multiclass log loss on one logit a class (softmax); `y` holds class indices.
    Softmax { n_classes: usize },
}

impl Loss {
    /// Scores a row.
    pub fn n_scores(&self) -> usize {
        match self {
            Loss::Softmax { n_classes } => *n_classes,
            _ => 1,
        }
    }
}

/// Boosting settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BoostParams {
    /// Rounds (trees a score).
    pub iterations: usize,
    pub learning_rate: f64,
    pub max_depth: usize,
    /// L2 penalty on leaf values.
    pub l2: f64,
    /// Fewest rows a leaf may hold (scikit-learn's and LightGBM's default: 20).
    pub min_leaf: usize,
    /// Smallest hessian sum a leaf may hold (their default: 1e-3).
    pub min_hess: f64,
}

/// A fitted booster: score `k` of a row is `base[k]` plus the leaf values of the trees whose
/// output is `k`.
#[derive(Debug, Clone)]
pub struct Booster {
    pub base: Vec<f64>,
    /// `(output, tree)` in the order they were grown.
    pub trees: Vec<(usize, BinnedTree)>,
}

/// Each row's predictions on the response scale (`n_scores` a row): the value, the positive
/// class's probability, or every class's softmax probability. Computed once a round, so a
/// multiclass round does not redo each row's softmax for every class's gradients.
fn responses(loss: Loss, scores: &[f64], out: &mut [f64]) {
    let m = loss.n_scores();
    out.par_chunks_mut(4096 * m)
        .zip(scores.par_chunks(4096 * m))
        .for_each(|(o, s)| match loss {
            Loss::Squared => o.copy_from_slice(s),
            Loss::Logistic => {
                for (o, s) in o.iter_mut().zip(s) {
                    *o = 1.0 / (1.0 + (-s).exp());
                }
            }
            Loss::Softmax { .. } => {
                for (o, s) in o.chunks_exact_mut(m).zip(s.chunks_exact(m)) {
                    let top = s.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                    let sum: f64 = s.iter().map(|v| (v - top).exp()).sum();
                    for (o, v) in o.iter_mut().zip(s) {
                        *o = (v - top).exp() / sum;
                    }
                }
            }
        });
}

/// Each row's gradient and hessian of `loss` for score `k`, from the rows' `responses`.
fn gradients(loss: Loss, y: &[f32], resp: &[f64], k: usize, gh: &mut [[f64; 2]]) {
    let m = loss.n_scores();
    gh.par_chunks_mut(4096).enumerate().for_each(|(c, chunk)| {
        for (i, out) in chunk.iter_mut().enumerate() {
            let r = c * 4096 + i;
            let p = resp[r * m + k];
            *out = match loss {
                Loss::Squared => [p - y[r] as f64, 1.0],
                Loss::Logistic => [p - y[r] as f64, (p * (1.0 - p)).max(1e-16)],
                Loss::Softmax { .. } => {
                    let is = f64::from(y[r] as usize == k);
                    [p - is, (p * (1.0 - p)).max(1e-16)]
                }
            };
        }
    });
}

/// The loss's best constant scores.
fn base_scores(loss: Loss, y: &[f32]) -> Vec<f64> {
    let n = y.len().max(1) as f64;
    match loss {
        Loss::Squared => vec![y.iter().map(|v| *v as f64).sum::<f64>() / n],
        Loss::Logistic => {
            let p = (y.iter().map(|v| *v as f64).sum::<f64>() / n).clamp(1e-12, 1.0 - 1e-12);
            vec![(p / (1.0 - p)).ln()]
        }
        Loss::Softmax { n_classes } => {
            let mut counts = vec![0usize; n_classes];
            y.iter().for_each(|v| counts[*v as usize] += 1);
            counts
                .iter()
                .map(|c| {
                    if *c == 0 {
                        ABSENT_CLASS_LOGIT
                    } else {
                        (*c as f64 / n).ln()
                    }
                })
                .collect()
        }
    }
}

/// Boosts `params.iterations` rounds on every binned row. Deterministic: nothing is sampled,
/// and every parallel sum is split the same way whatever the thread count.
pub fn fit_boost(bins: &Bins, y: &[f32], loss: Loss, params: BoostParams) -> Booster {
    assert_eq!(y.len(), bins.n_rows, "one target value a binned row");
    let n = bins.n_rows;
    let m = loss.n_scores();
    let base = base_scores(loss, y);
    let mut scores: Vec<f64> = (0..n).flat_map(|_| base.iter().copied()).collect();
    // The classes that get trees (all of them but absent ones).
    let outputs: Vec<usize> = (0..m).filter(|k| base[*k] > ABSENT_CLASS_LOGIT).collect();
    let tree_params = TreeParams {
        max_depth: params.max_depth,
        min_leaf: params.min_leaf,
        max_features: bins.n_features,
    };
    let mut trees = Vec::with_capacity(params.iterations * outputs.len());
    // One target and one row buffer an output, reused every round.
    let mut work: Vec<(Target, Vec<u32>)> = outputs
        .iter()
        .map(|_| {
            let target = Target::Gradients(Gradients {
                gh: vec![[0.0; 2]; n],
                l2: params.l2,
                min_hess: params.min_hess,
                shrink: params.learning_rate,
                unit_hess: loss == Loss::Squared,
            });
            (target, vec![0u32; n])
        })
        .collect();
    let mut resp = vec![0.0; scores.len()];
    let row_codes = bins.row_major();
    for _ in 0..params.iterations {
        // Gradients of every output at the round's starting scores, then its trees: on every
        // core, one tree an output when there are several, else within the tree.
        responses(loss, &scores, &mut resp);
        let several = work.len() > 1;
        let grown: Vec<_> = work
            .par_iter_mut()
            .zip(&outputs)
            .map(|((target, rows), &k)| {
                let Target::Gradients(g) = target else {
                    unreachable!("boosting targets are gradients")
                };
                gradients(loss, y, &resp, k, &mut g.gh);
                rows.iter_mut().enumerate().for_each(|(i, r)| *r = i as u32);
                fit_boost_tree(bins, target, rows, tree_params, !several, &row_codes)
            })
            .collect();
        for ((grown, (_, rows)), &k) in grown.into_iter().zip(&work).zip(&outputs) {
            for &(node, lo, hi) in &grown.leaves {
                let v = grown.tree.nodes[node].value as f64;
                for &r in &rows[lo..hi] {
                    scores[r as usize * m + k] += v;
                }
            }
            trees.push((k, grown.tree));
        }
    }
    Booster { base, trees }
}

impl Booster {
    /// A row's raw scores from its bin codes, summed in `f64`.
    pub fn predict_codes(&self, codes: &[u8], out: &mut [f64]) {
        out.copy_from_slice(&self.base);
        for (k, t) in &self.trees {
            out[*k] += t.predict_codes(codes) as f64;
        }
    }
}
