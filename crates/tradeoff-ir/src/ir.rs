//! The portable fitted-model form (IR) every execution target runs.
//!
//! A trainer exports its fitted model into a [`ModelIr`]; a target loads the IR and must
//! compute the same function. The input is the encoded feature vector of the dataset's
//! `Schema` (`tradeoff_data::data::Schema`; one-hot encoding is recorded there); numeric
//! preprocessing (standardization) is part of the IR itself.
//!
//! Outputs: regression models produce one value per row; classifiers produce one
//! probability per class (rows sum to 1), and the predicted label is the first class with
//! the highest probability.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Version of the IR format, bumped on any incompatible change.
pub const IR_VERSION: u32 = 1;

/// A fitted model as a trainer or an importer builds it. Targets load only a [`ValidIr`],
/// the same model after [`ModelIr::validate`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelIr {
    pub ir_version: u32,
    pub n_features: usize,
    /// 1 for regression, the number of classes for classification.
    pub n_outputs: usize,
    pub classification: bool,
    /// Applied to the raw features before the body: `(x - mean) / scale`.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub standardize: Option<Standardize>,
    pub body: Body,
}

/// A model whose every index and size passed [`ModelIr::validate`]: the only form
/// [`Target::load`](crate::target::Target::load) and [`eval`] accept, so an unchecked model
/// cannot reach a target. It reads as the [`ModelIr`] it wraps; it cannot be changed.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(transparent)]
pub struct ValidIr(ModelIr);

impl std::ops::Deref for ValidIr {
    type Target = ModelIr;
    fn deref(&self) -> &ModelIr {
        &self.0
    }
}

impl ValidIr {
    /// The model, to change it (it must be validated again to load).
    pub fn into_inner(self) -> ModelIr {
        self.0
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Standardize {
    pub mean: Vec<f32>,
    pub scale: Vec<f32>,
}

impl Standardize {
    /// Per-feature mean and standard deviation of `n_rows` row-major rows, `n_features`
    /// wide, in `f64`; constant features get scale 1 so they map to 0.
    ///
    /// Both passes sum fixed chunks of rows on every core and add the chunks' sums in order,
    /// so the moments do not depend on the thread count.
    pub fn moments(x: &[f32], n_rows: usize, n_features: usize) -> (Vec<f64>, Vec<f64>) {
        use rayon::prelude::*;
        const CHUNK: usize = 8192;
        let nf = n_features;
        let n = n_rows as f64;
        let chunk_sums = |f: &(dyn Fn(&mut [f64], &[f32]) + Sync)| -> Vec<f64> {
            let parts: Vec<Vec<f64>> = x[..n_rows * nf]
                .par_chunks(CHUNK * nf.max(1))
                .map(|rows| {
                    let mut s = vec![0.0; nf];
                    for row in rows.chunks_exact(nf.max(1)) {
                        f(&mut s, row);
                    }
                    s
                })
                .collect();
            let mut total = vec![0.0; nf];
            for p in parts {
                total.iter_mut().zip(&p).for_each(|(t, v)| *t += v);
            }
            total
        };
        let mut mean = chunk_sums(&|s, row| {
            for (m, v) in s.iter_mut().zip(row) {
                *m += *v as f64;
            }
        });
        mean.iter_mut().for_each(|m| *m /= n);
        let var = chunk_sums(&|s, row| {
            for ((q, v), m) in s.iter_mut().zip(row).zip(&mean) {
                *q += (*v as f64 - m).powi(2);
            }
        });
        let scale = var
            .iter()
            .map(|v| {
                let s = (v / n).sqrt();
                if s > 1e-12 && s.is_finite() {
                    s
                } else {
                    1.0
                }
            })
            .collect();
        (mean, scale)
    }

    /// The standardization of `n_rows` row-major rows, as the IR stores it.
    pub fn fit(x: &[f32], n_rows: usize, n_features: usize) -> Self {
        let (mean, scale) = Self::moments(x, n_rows, n_features);
        Standardize {
            mean: mean.iter().map(|v| *v as f32).collect(),
            scale: scale.iter().map(|v| *v as f32).collect(),
        }
    }

    /// `(x - mean) / scale` of row-major rows, in `f32` exactly as the targets compute it.
    pub fn apply(&self, x: &[f32]) -> Vec<f32> {
        let mut out = x.to_vec();
        self.apply_in_place(&mut out);
        out
    }

    /// [`apply`](Self::apply) without allocating.
    pub fn apply_in_place(&self, x: &mut [f32]) {
        for row in x.chunks_exact_mut(self.mean.len().max(1)) {
            for ((v, m), d) in row.iter_mut().zip(&self.mean).zip(&self.scale) {
                *v = Self::one(*v, *m, *d);
            }
        }
    }

    /// One row standardized exactly as [`apply`](Self::apply) does it, widened to `f64` (for
    /// trainers that work in `f64` without a standardized copy of the table).
    pub fn apply_row_wide(&self, row: &[f32], out: &mut [f64]) {
        for (((o, v), m), d) in out.iter_mut().zip(row).zip(&self.mean).zip(&self.scale) {
            *o = Self::one(*v, *m, *d) as f64;
        }
    }

    #[inline(always)]
    fn one(v: f32, mean: f32, scale: f32) -> f32 {
        (v - mean) / scale
    }
}

/// How raw scores become outputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Link {
    /// Regression: the score is the prediction.
    Identity,
    /// Binary classification from one logit: `[1 - s(z), s(z)]`.
    Sigmoid,
    /// Multiclass from one logit per class.
    Softmax,
    /// Multiclass from one-vs-rest logits: sigmoid each, then normalize to sum 1.
    OvrSigmoid,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "family", rename_all = "snake_case")]
pub enum Body {
    /// `scores = weights · x + bias`, `weights` row-major `n_scores x n_features`.
    Linear {
        weights: Vec<f32>,
        bias: Vec<f32>,
        link: Link,
    },
    /// Tree ensembles in flat node arrays.
    Trees {
        trees: Vec<Tree>,
        aggregation: Aggregation,
    },
    /// A multilayer perceptron: dense layers in order, the last one's outputs are the scores.
    Mlp { layers: Vec<Dense>, link: Link },
}

/// One dense layer: `y = activation(x · weights + bias)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Dense {
    pub inputs: usize,
    pub outputs: usize,
    /// Row-major `inputs x outputs` (the layout of burn's `Linear` and of `x · W`).
    pub weights: Vec<f32>,
    pub bias: Vec<f32>,
    pub activation: Activation,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Activation {
    Identity,
    Relu,
    Tanh,
    /// The logistic function `1 / (1 + e^-z)` (scikit-learn's `activation="logistic"`).
    Sigmoid,
}

impl Activation {
    /// The activation of `z` in f64, as [`eval`] computes it.
    pub fn eval(self, z: f64) -> f64 {
        match self {
            Activation::Identity => z,
            Activation::Relu => z.max(0.0),
            Activation::Tanh => z.tanh(),
            Activation::Sigmoid => 1.0 / (1.0 + (-z).exp()),
        }
    }

    /// The activation of `z` in f32, as the `cpu` target computes it.
    #[inline(always)]
    pub fn apply(self, z: f32) -> f32 {
        match self {
            Activation::Identity => z,
            Activation::Relu => z.max(0.0),
            Activation::Tanh => z.tanh(),
            Activation::Sigmoid => 1.0 / (1.0 + (-z).exp()),
        }
    }

    /// The code the `wgsl` target's dense kernel takes (`kernels/dense.wgsl`).
    pub fn code(self) -> u32 {
        match self {
            Activation::Identity => 0,
            Activation::Relu => 1,
            Activation::Tanh => 2,
            Activation::Sigmoid => 3,
        }
    }
}

/// How tree outputs combine.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Aggregation {
    /// Classification: each leaf holds a class index; probabilities are vote fractions.
    Vote,
    /// Regression: the mean of leaf values.
    Mean,
    /// Boosting: `base[o] + sum of leaf values of the trees with output o`, then the link.
    Sum { base: Vec<f32>, link: Link },
}

/// One tree: node 0 is the root. A node with `left == 0` is a leaf holding `value`;
/// otherwise a row goes left when `x[feature] < threshold`, else right.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tree {
    /// Which score the tree adds to (boosting); 0 otherwise.
    #[serde(default)]
    pub output: u32,
    pub nodes: Vec<Node>,
}

/// The leaf value a row reaches in a tree's nodes, one node at a time, by the IR's rule: left
/// when `x[feature] < threshold`, else right (NaN is below no threshold: it goes right).
pub fn walk(nodes: &[Node], row: &[f32]) -> f32 {
    let mut i = 0usize;
    loop {
        let n = &nodes[i];
        if n.is_leaf() {
            return n.value;
        }
        i = if row[n.feature as usize] < n.threshold {
            n.left
        } else {
            n.right
        } as usize;
    }
}

impl Tree {
    /// Edges from the root to the deepest leaf (0 for a single leaf). Relies on the IR's
    /// order, children after their parents (checked by `ModelIr::validate`).
    pub fn depth(&self) -> u32 {
        let mut depth = vec![0u32; self.nodes.len()];
        let mut deepest = 0;
        for (i, n) in self.nodes.iter().enumerate() {
            if n.is_leaf() {
                deepest = deepest.max(depth[i]);
            } else {
                // The longest path, should a node have two parents.
                let below = depth[i] + 1;
                for c in [n.left as usize, n.right as usize] {
                    if let Some(d) = depth.get_mut(c) {
                        *d = (*d).max(below);
                    }
                }
            }
        }
        deepest
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Node {
    pub feature: u32,
    pub threshold: f32,
    pub left: u32,
    pub right: u32,
    pub value: f32,
}

impl Node {
    pub fn leaf(value: f32) -> Self {
        Node {
            feature: 0,
            threshold: 0.0,
            left: 0,
            right: 0,
            value,
        }
    }
    pub fn is_leaf(&self) -> bool {
        self.left == 0
    }
}

/// The largest `f32` that is `<= v`: with it, `x <= v` holds for an `f32` `x` exactly when
/// `x <= floor_f32(v)`.
pub fn floor_f32(v: f64) -> f32 {
    let f = v as f32;
    if (f as f64) > v {
        f.next_down()
    } else {
        f
    }
}

/// The smallest `f32` that is `>= v`: `x < v` holds for an `f32` `x` exactly when
/// `x < ceil_f32(v)`.
pub fn ceil_f32(v: f64) -> f32 {
    let f = v as f32;
    if (f as f64) < v {
        f.next_up()
    } else {
        f
    }
}

/// Threshold for our `x < t` rule that reproduces a library's `x <= v` split on `f32` input.
pub fn threshold_for_le(v: f64) -> f32 {
    floor_f32(v).next_up()
}

impl ModelIr {
    /// The family name records carry.
    pub fn family(&self) -> &'static str {
        match &self.body {
            Body::Linear { .. } => "linear",
            Body::Trees { aggregation, .. } => match aggregation {
                Aggregation::Sum { .. } => "boosted_trees",
                _ if self.tree_count() == 1 => "tree",
                _ => "forest",
            },
            Body::Mlp { .. } => "mlp",
        }
    }

    pub fn tree_count(&self) -> usize {
        match &self.body {
            Body::Trees { trees, .. } => trees.len(),
            _ => 0,
        }
    }

    /// Number of learned parameters (weights and biases) or tree nodes.
    pub fn size(&self) -> ModelSize {
        match &self.body {
            Body::Linear { weights, bias, .. } => ModelSize {
                parameters: (weights.len() + bias.len()) as u64,
                nodes: 0,
            },
            Body::Trees { trees, .. } => ModelSize {
                parameters: 0,
                nodes: trees.iter().map(|t| t.nodes.len() as u64).sum(),
            },
            Body::Mlp { layers, .. } => ModelSize {
                parameters: layers
                    .iter()
                    .map(|l| (l.weights.len() + l.bias.len()) as u64)
                    .sum(),
                nodes: 0,
            },
        }
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("the IR holds only finite numbers and strings")
    }

    /// Size of the serialized IR in bytes, the `model_bytes` of records.
    pub fn serialized_bytes(&self) -> u64 {
        self.to_json().len() as u64
    }

    /// Checks every index and size, so targets can run the IR without bounds surprises, and
    /// returns the model as the one form a target loads ([`ValidIr`]).
    pub fn validate(self) -> Result<ValidIr> {
        self.check()?;
        Ok(ValidIr(self))
    }

    /// The checks of [`ModelIr::validate`], on a borrowed model.
    pub fn check(&self) -> Result<()> {
        let bad = |m: String| Err(Error::Model(m));
        if self.ir_version != IR_VERSION {
            return bad(format!(
                "IR version {} (expected {IR_VERSION})",
                self.ir_version
            ));
        }
        if self.n_features == 0 || self.n_outputs == 0 {
            return bad("no features or no outputs".into());
        }
        if self.classification == (self.n_outputs == 1) {
            return bad("classifiers need at least two outputs, regressors exactly one".into());
        }
        if let Some(s) = &self.standardize {
            if s.mean.len() != self.n_features || s.scale.len() != self.n_features {
                return bad("standardization length differs from n_features".into());
            }
            if s.scale.iter().any(|v| *v == 0.0 || !v.is_finite()) {
                return bad("standardization scale must be finite and non-zero".into());
            }
        }
        match &self.body {
            Body::Linear {
                weights,
                bias,
                link,
            } => {
                if weights.iter().chain(bias).any(|v| !v.is_finite()) {
                    return bad("linear model has non-finite weights".into());
                }
                let n_scores = self.n_scores(*link);
                if bias.len() != n_scores || weights.len() != n_scores * self.n_features {
                    return bad(format!(
                        "linear body has {} weights and {} biases for {} scores of {} features",
                        weights.len(),
                        bias.len(),
                        n_scores,
                        self.n_features
                    ));
                }
            }
            Body::Trees { trees, aggregation } => {
                if trees.is_empty() {
                    return bad("tree ensemble without trees".into());
                }
                let n_scores = match aggregation {
                    Aggregation::Sum { base, link } => {
                        if base.iter().any(|v| !v.is_finite()) {
                            return bad("boosting base score is not finite".into());
                        }
                        let n = self.n_scores(*link);
                        if base.len() != n {
                            return bad("boosting base has the wrong length".into());
                        }
                        n
                    }
                    Aggregation::Vote if !self.classification => {
                        return bad("vote aggregation on a regressor".into())
                    }
                    Aggregation::Mean if self.classification => {
                        return bad("mean aggregation on a classifier".into())
                    }
                    _ => 1,
                };
                for (ti, t) in trees.iter().enumerate() {
                    if t.nodes.is_empty() || t.output as usize >= n_scores {
                        return bad(format!("tree {ti} is empty or has a bad output index"));
                    }
                    for (ni, n) in t.nodes.iter().enumerate() {
                        let ok = if n.is_leaf() {
                            n.value.is_finite()
                                && (!matches!(aggregation, Aggregation::Vote)
                                    || (n.value >= 0.0 && (n.value as usize) < self.n_outputs))
                        } else {
                            // Children come after their parent, so traversal always ends.
                            (n.feature as usize) < self.n_features
                                && (n.left as usize) > ni
                                && (n.right as usize) > ni
                                && (n.left as usize) < t.nodes.len()
                                && (n.right as usize) < t.nodes.len()
                                && !n.threshold.is_nan()
                        };
                        if !ok {
                            return bad(format!("tree {ti}, node {ni} is malformed"));
                        }
                    }
                }
            }
            Body::Mlp { layers, link } => {
                let mut width = self.n_features;
                for (i, l) in layers.iter().enumerate() {
                    if l.inputs != width
                        || l.outputs == 0
                        || l.weights.len() != l.inputs * l.outputs
                        || l.bias.len() != l.outputs
                    {
                        return bad(format!(
                            "MLP layer {i} is {}x{} with {} weights and {} biases after a width of {width}",
                            l.inputs,
                            l.outputs,
                            l.weights.len(),
                            l.bias.len()
                        ));
                    }
                    if l.weights.iter().chain(&l.bias).any(|v| !v.is_finite()) {
                        return bad(format!("MLP layer {i} has non-finite weights"));
                    }
                    width = l.outputs;
                }
                if layers.is_empty() || width != self.n_scores(*link) {
                    return bad(format!(
                        "MLP ends with {width} scores, its link needs {}",
                        self.n_scores(*link)
                    ));
                }
            }
        }
        Ok(())
    }

    /// The model as dense layers and a link, for targets that run linear models and MLPs
    /// the same way: a linear model is one layer without activation (its `scores x features`
    /// weights transposed to `features x scores`). `None` for trees.
    pub fn dense_layers(&self) -> Option<(Vec<Dense>, Link)> {
        match &self.body {
            Body::Linear {
                weights,
                bias,
                link,
            } => {
                let (ns, nf) = (bias.len(), self.n_features);
                let mut t = vec![0.0; weights.len()];
                for k in 0..ns {
                    for j in 0..nf {
                        t[j * ns + k] = weights[k * nf + j];
                    }
                }
                let layer = Dense {
                    inputs: nf,
                    outputs: ns,
                    weights: t,
                    bias: bias.clone(),
                    activation: Activation::Identity,
                };
                Some((vec![layer], *link))
            }
            Body::Mlp { layers, link } => Some((layers.clone(), *link)),
            Body::Trees { .. } => None,
        }
    }

    /// Number of raw scores the link consumes.
    pub fn n_scores(&self, link: Link) -> usize {
        match link {
            Link::Identity | Link::Sigmoid => 1,
            Link::Softmax | Link::OvrSigmoid => self.n_outputs,
        }
    }
}

/// What a model predicts, by the IR's definition: the plain formula, row by row, sums and
/// dot products in `f64`, standardization in `f32` exactly as every target computes it (tree
/// thresholds compare those values). No target runs this; it is the specification every
/// target's predictions are checked against (the run's parity check and the parity tests).
pub fn eval(ir: &ValidIr, x: &[f32], n_rows: usize) -> Vec<f32> {
    let (nf, no) = (ir.n_features, ir.n_outputs);
    let x = match &ir.standardize {
        Some(s) => s.apply(&x[..n_rows * nf]),
        None => x[..n_rows * nf].to_vec(),
    };
    let mut out = vec![0.0f32; n_rows * no];
    for (row, o) in x.chunks_exact(nf.max(1)).zip(out.chunks_exact_mut(no)) {
        match &ir.body {
            Body::Linear {
                weights,
                bias,
                link,
            } => {
                let scores: Vec<f32> = weights
                    .chunks_exact(nf.max(1))
                    .zip(bias)
                    .map(|(w, b)| {
                        let dot: f64 = w.iter().zip(row).map(|(w, v)| *w as f64 * *v as f64).sum();
                        (dot + *b as f64) as f32
                    })
                    .collect();
                apply_link(*link, &scores, o);
            }
            Body::Mlp { layers, link } => {
                let mut h: Vec<f64> = row.iter().map(|v| *v as f64).collect();
                for l in layers {
                    h = (0..l.outputs)
                        .map(|j| {
                            let z = l.bias[j] as f64
                                + (0..l.inputs)
                                    .map(|i| h[i] * l.weights[i * l.outputs + j] as f64)
                                    .sum::<f64>();
                            l.activation.eval(z)
                        })
                        .collect();
                }
                let scores: Vec<f32> = h.iter().map(|v| *v as f32).collect();
                apply_link(*link, &scores, o);
            }
            Body::Trees { trees, aggregation } => {
                let leaf = |t: &Tree| walk(&t.nodes, row);
                match aggregation {
                    Aggregation::Vote => {
                        for t in trees {
                            o[leaf(t) as usize] += 1.0;
                        }
                        o.iter_mut().for_each(|v| *v /= trees.len() as f32);
                    }
                    Aggregation::Mean => {
                        let sum: f64 = trees.iter().map(|t| leaf(t) as f64).sum();
                        o[0] = (sum / trees.len() as f64) as f32;
                    }
                    Aggregation::Sum { base, link } => {
                        let mut s: Vec<f64> = base.iter().map(|v| *v as f64).collect();
                        for t in trees {
                            s[t.output as usize] += leaf(t) as f64;
                        }
                        let scores: Vec<f32> = s.iter().map(|v| *v as f32).collect();
                        apply_link(*link, &scores, o);
                    }
                }
            }
        }
    }
    out
}

/// Counts that describe a model's size besides its bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelSize {
    pub parameters: u64,
    pub nodes: u64,
}

/// Applies a link to raw scores, writing `n_outputs` values.
pub fn apply_link(link: Link, scores: &[f32], out: &mut [f32]) {
    match link {
        Link::Identity => out[0] = scores[0],
        Link::Sigmoid => {
            let p = sigmoid(scores[0]);
            out[0] = 1.0 - p;
            out[1] = p;
        }
        Link::Softmax => {
            let max = scores.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            let mut sum = 0.0;
            for (o, s) in out.iter_mut().zip(scores) {
                *o = (s - max).exp();
                sum += *o;
            }
            for o in out.iter_mut() {
                *o /= sum;
            }
        }
        Link::OvrSigmoid => {
            let mut sum = 0.0;
            for (o, s) in out.iter_mut().zip(scores) {
                *o = sigmoid(*s);
                sum += *o;
            }
            for o in out.iter_mut() {
                *o /= sum;
            }
        }
    }
}

/// [`apply_link`]'s softmax for every row of `scores` (`k` each), the same operations in the
/// same order for each row, so the same bits, but phase by phase over the rows: each phase's
/// rows are independent, so the CPU overlaps them instead of waiting out one row's chain of
/// maximum, exponentials, sum and divisions before the next. Measured here on 4096 rows of
/// 11 features and 6 classes (the default dataset's shape): 78-83 ns a row with a dot product
/// per score and the link row by row, 57-63 with these phases, 27-30 with the scores as
/// vectors too (`crate::linear`); the calls to `exp` are most of what remains. The `cpu`
/// target's multiclass linear models and MLPs use it.
#[inline]
pub fn softmax_rows(scores: &[f32], k: usize, out: &mut [f32]) {
    for (s, o) in scores.chunks_exact(k).zip(out.chunks_exact_mut(k)) {
        let max = s.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        for (o, s) in o.iter_mut().zip(s) {
            *o = s - max;
        }
    }
    for o in out.iter_mut() {
        *o = o.exp();
    }
    for o in out.chunks_exact_mut(k) {
        let mut sum = 0.0;
        for v in o.iter() {
            sum += *v;
        }
        for v in o.iter_mut() {
            *v /= sum;
        }
    }
}

#[inline]
pub fn sigmoid(z: f32) -> f32 {
    1.0 / (1.0 + (-z).exp())
}

/// The predicted class: the first index with the highest probability.
pub fn argmax(probs: &[f32]) -> usize {
    let mut best = 0;
    for (i, p) in probs.iter().enumerate() {
        if *p > probs[best] {
            best = i;
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn softmax_rows_gives_apply_links_bits() {
        let k = 5;
        let scores: Vec<f32> = (0..7 * k)
            .map(|i| ((i * 37 % 23) as f32 - 11.0) * 0.77)
            .collect();
        let mut want = vec![0.0; scores.len()];
        for (s, o) in scores.chunks_exact(k).zip(want.chunks_exact_mut(k)) {
            apply_link(Link::Softmax, s, o);
        }
        let mut got = vec![0.0; scores.len()];
        softmax_rows(&scores, k, &mut got);
        let bits = |v: &[f32]| v.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&got), bits(&want));
    }

    #[test]
    fn rounding_thresholds_preserve_comparisons() {
        let v = 0.1f64; // not representable in f32
        let x_below = (v as f32).next_down();
        let x_at = floor_f32(v);
        let x_above = ceil_f32(v);
        assert!(x_at as f64 <= v && x_above as f64 >= v && x_at != x_above);
        for x in [x_below, x_at, x_above] {
            assert_eq!((x as f64) <= v, x < threshold_for_le(v), "x={x}");
            assert_eq!((x as f64) < v, x < ceil_f32(v), "x={x}");
        }
    }

    #[test]
    fn validate_rejects_cycles_and_bad_features() {
        let ir = |nodes: Vec<Node>| ModelIr {
            ir_version: IR_VERSION,
            n_features: 2,
            n_outputs: 1,
            classification: false,
            standardize: None,
            body: Body::Trees {
                trees: vec![Tree { output: 0, nodes }],
                aggregation: Aggregation::Mean,
            },
        };
        let split = |f, l, r| Node {
            feature: f,
            threshold: 0.5,
            left: l,
            right: r,
            value: 0.0,
        };
        assert!(ir(vec![split(0, 1, 2), Node::leaf(1.0), Node::leaf(2.0)])
            .check()
            .is_ok());
        assert!(ir(vec![split(5, 1, 2), Node::leaf(1.0), Node::leaf(2.0)])
            .check()
            .is_err());
        assert!(ir(vec![split(0, 1, 2), split(0, 1, 2), Node::leaf(2.0)])
            .check()
            .is_err());
        assert!(ir(vec![split(0, 1, 3), Node::leaf(1.0), Node::leaf(2.0)])
            .check()
            .is_err());
    }

    #[test]
    fn links_produce_distributions() {
        let mut out = [0.0; 3];
        apply_link(Link::Softmax, &[1.0, 2.0, 3.0], &mut out);
        assert!((out.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        assert_eq!(argmax(&out), 2);
        let mut two = [0.0; 2];
        apply_link(Link::Sigmoid, &[0.0], &mut two);
        assert_eq!(two, [0.5, 0.5]);
    }
}
