//! CART on binned features: one histogram pass over a node's rows per feature, then every
//! bin boundary scored from prefix sums.
//!
//! The usual savings: a child's histogram is its parent's minus its sibling's (only the
//! smaller child is counted), rows are partitioned in place (stably, so each node's rows stay
//! in ascending order and the column reads stay near each other), and a node that can no
//! longer split is not counted at all.
//!
//! Split score, classification and regression alike: `sum_c L_c^2 / n_L + sum_c R_c^2 / n_R`,
//! where `L_c`, `R_c` are the children's per-class row counts (Gini impurity) or sums of the
//! centred target (variance). Maximizing it minimizes the children's weighted Gini impurity or
//! squared error, which is what scikit-learn's `DecisionTree*` minimize.
//!
//! Boosting trees ([`Target::Gradients`]) score a split by the second-order gain of XGBoost,
//! LightGBM and scikit-learn's `HistGradientBoosting`: `G_L^2 / (H_L + l2) + G_R^2 / (H_R + l2)`,
//! from the children's sums of gradients `G` and hessians `H`; a leaf holds the Newton step
//! `-G / (H + l2)` times the learning rate.

use rayon::prelude::*;
use tradeoff_ir::ir::Node;
use tradeoff_ir::rng::Rng;

use crate::bins::{Bins, MAX_BINS};

/// What a tree predicts.
#[derive(Debug, Clone)]
pub enum Target {
    /// Class indices in `0..n_classes`; leaves hold the majority class.
    Classes { y: Vec<u32>, n_classes: usize },
    /// Values, stored centred on `mean` (sums of squares stay well conditioned); leaves hold
    /// the mean of their rows.
    Values { y: Vec<f64>, mean: f64 },
    /// One boosting step: each row's gradient and hessian of the loss at the current scores.
    Gradients(Gradients),
}

/// The per-row gradients and hessians a boosting tree fits, and its leaf rule.
#[derive(Debug, Clone)]
pub struct Gradients {
    /// `[gradient, hessian]` a row.
    pub gh: Vec<[f64; 2]>,
    /// L2 penalty on leaf values (`lambda`).
    pub l2: f64,
    /// Smallest hessian sum a leaf may hold (scikit-learn's and LightGBM's 1e-3 by default).
    pub min_hess: f64,
    /// Learning rate: leaves hold the Newton step times this.
    pub shrink: f64,
    /// Every hessian is 1 (squared error): a hessian sum is the row count, so histograms keep
    /// no hessian slot (a third fewer additions a row).
    pub unit_hess: bool,
}

impl Gradients {
    /// The hessian sum of a histogram entry or totals (`[count, gradient, hessian?]`).
    fn hess(&self, slots: &[f64]) -> f64 {
        if self.unit_hess {
            slots[0]
        } else {
            slots[2]
        }
    }
}

impl Target {
    pub fn classes(y: &[f32], n_classes: usize) -> Target {
        Target::Classes {
            y: y.iter().map(|v| *v as u32).collect(),
            n_classes,
        }
    }

    pub fn values(y: &[f32]) -> Target {
        let mean = y.iter().map(|v| *v as f64).sum::<f64>() / y.len().max(1) as f64;
        Target::Values {
            y: y.iter().map(|v| *v as f64 - mean).collect(),
            mean,
        }
    }

    /// Sums a histogram slot keeps beside the row count.
    fn width(&self) -> usize {
        match self {
            Target::Classes { n_classes, .. } => *n_classes,
            Target::Values { .. } => 1,
            Target::Gradients(g) => 2 - usize::from(g.unit_hess),
        }
    }

    fn len(&self) -> usize {
        match self {
            Target::Classes { y, .. } => y.len(),
            Target::Values { y, .. } => y.len(),
            Target::Gradients(g) => g.gh.len(),
        }
    }
}

/// The shape limits of one tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TreeParams {
    /// Edges from the root to the deepest leaf.
    pub max_depth: usize,
    /// Fewest rows (bootstrap copies counted) a leaf may hold.
    pub min_leaf: usize,
    /// Features drawn at each split (all of them for a single tree).
    pub max_features: usize,
}

/// A tree over bins: a split sends a row left when its bin of `feature` is at most `bin`.
/// Node 0 is the root, every parent comes before its children, and `left == 0` marks a leaf.
#[derive(Debug, Clone, PartialEq)]
pub struct BinnedTree {
    pub nodes: Vec<BinnedNode>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BinnedNode {
    pub feature: u32,
    pub bin: u8,
    pub left: u32,
    pub right: u32,
    pub value: f32,
}

impl BinnedTree {
    /// The IR's nodes: bin `<= b` is `x < edges[b]`, exactly.
    pub fn to_ir_nodes(&self, bins: &Bins) -> Vec<Node> {
        self.nodes
            .iter()
            .map(|n| {
                if n.left == 0 {
                    Node::leaf(n.value)
                } else {
                    Node {
                        feature: n.feature,
                        threshold: bins.edges[n.feature as usize][n.bin as usize],
                        left: n.left,
                        right: n.right,
                        value: 0.0,
                    }
                }
            })
            .collect()
    }

    /// The leaf value of a row given as bin codes (one a feature).
    pub fn predict_codes(&self, codes: &[u8]) -> f32 {
        let mut i = 0usize;
        loop {
            let n = &self.nodes[i];
            if n.left == 0 {
                return n.value;
            }
            i = if codes[n.feature as usize] <= n.bin {
                n.left
            } else {
                n.right
            } as usize;
        }
    }
}

/// A node waiting to be grown: its rows `rows[lo..hi]`, their totals, and its histogram when
/// its parent could give it one by subtraction.
struct Pending {
    lo: usize,
    hi: usize,
    depth: usize,
    totals: Vec<f64>,
    hist: Option<Vec<f64>>,
    /// The parent's node index and whether this is its left child.
    parent: Option<(usize, bool)>,
}

struct Split {
    feature: usize,
    bin: usize,
    left: Vec<f64>,
}

/// Grows one tree.
struct Grower<'a> {
    bins: &'a Bins,
    target: &'a Target,
    params: TreeParams,
    /// Slots per histogram entry: the row count, then the sums.
    w: usize,
    /// Histograms count every feature (and children get theirs by subtraction) unless few
    /// features are drawn per split, when counting just those is cheaper.
    all_features: bool,
    /// Nodes with fewer rows count their own histograms over just the bins their rows use.
    small_node_rows: usize,
    /// The bins the current histogram covers, per feature (inclusive).
    ranges: Vec<(usize, usize)>,
    spare: Vec<Vec<f64>>,
    /// Nodes with at least this many rows times features counted count their features on
    /// every core (`usize::MAX`: never).
    parallel_work: usize,
    /// Each leaf's node index and its rows' range in the partitioned rows.
    leaves: Vec<(usize, usize, usize)>,
    /// Boosting: the counted rows' gradients and hessians, in row order.
    ordered: Vec<[f64; 2]>,
    /// Boosting: the codes row-major ([`Bins::row_major`]), to count every feature of a
    /// node's rows a row at a time.
    row_codes: Option<&'a [[u8; 8]]>,
}

/// Rows times features below which a node's histogram is counted on one thread (splitting the
/// work costs more than it saves).
const PARALLEL_COUNT_WORK: usize = 1 << 17;

/// One feature's histogram as `MAX_BINS` entries of `W` slots: indexed by a `u8` code, it
/// needs no bounds check in the counting loop.
fn bin_slots<const W: usize>(h: &mut [f64]) -> &mut [[f64; W]; MAX_BINS] {
    let (entries, _) = h.as_chunks_mut::<W>();
    (&mut entries[..MAX_BINS])
        .try_into()
        .expect("a feature's histogram holds MAX_BINS entries")
}

/// Adds `rows` to the histograms that `chunk` holds, of the features in code words
/// `w0..w1` (`W` slots a bin), reading each row's codes from row-major `codes` (`words` a
/// row, see [`Bins::row_major`]) and its slots' values from `slots(gh[row])`. Rows go in
/// blocks: a block's code words and gradients are first gathered into buffers (a tight loop
/// of independent loads, so many cache misses are in flight at once), then counted from
/// cache. Counting straight from the tables stalls on one row's misses at a time: on
/// 1,000,000 x 32 it was about 12% slower than gathering first (40 rounds, 4.3 s against
/// 3.8 s here), and copying a row's codes with `copy_from_slice` (a `memmove` call a row)
/// slower still.
fn add_rows_row_major<const W: usize>(
    codes: &[[u8; 8]],
    words: usize,
    (w0, w1): (usize, usize),
    chunk: &mut [f64],
    rows: &[u32],
    gh: &[[f64; 2]],
    slots: impl Fn([f64; 2]) -> [f64; W],
) {
    const BLOCK: usize = 256;
    let mut hs: Vec<&mut [[f64; W]; MAX_BINS]> =
        chunk.chunks_mut(MAX_BINS * W).map(bin_slots::<W>).collect();
    let n = w1 - w0;
    let mut row_buf = vec![[0u8; 8]; BLOCK * n];
    let mut add_buf = vec![[0.0; W]; BLOCK];
    for block in rows.chunks(BLOCK) {
        for ((&r, buf), add) in block
            .iter()
            .zip(row_buf.chunks_exact_mut(n))
            .zip(add_buf.iter_mut())
        {
            let start = r as usize * words;
            for (d, s) in buf.iter_mut().zip(&codes[start + w0..start + w1]) {
                *d = *s;
            }
            *add = slots(gh[r as usize]);
        }
        for (row, add) in row_buf.chunks_exact(n).zip(&add_buf).take(block.len()) {
            for (h, &c) in hs.iter_mut().zip(row.as_flattened()) {
                for (s, v) in h[c as usize].iter_mut().zip(add) {
                    *s += v;
                }
            }
        }
    }
}

/// Counts `rows` of feature `f` into `h` (that feature's part of a histogram) and returns the
/// bins covered; see [`Grower::count`]. `ordered`: for gradients, the rows' gradients and
/// hessians in the order of `rows`.
fn count_feature(
    bins: &Bins,
    target: &Target,
    ordered: &[[f64; 2]],
    f: usize,
    rows: &[u32],
    h: &mut [f64],
    ranged: bool,
) -> (usize, usize) {
    let col = bins.column(f);
    let (lo, hi) = if ranged {
        rows.iter().fold((u8::MAX, 0u8), |(lo, hi), &r| {
            let c = col[r as usize];
            (lo.min(c), hi.max(c))
        })
    } else {
        (0, (bins.n_bins(f) - 1) as u8)
    };
    let (lo, hi) = (lo as usize, hi as usize);
    match target {
        Target::Classes { y, n_classes } => {
            let w = 1 + n_classes;
            h[lo * w..(hi + 1) * w].fill(0.0);
            for &r in rows {
                let b = col[r as usize] as usize * w;
                h[b] += 1.0;
                h[b + 1 + y[r as usize] as usize] += 1.0;
            }
        }
        Target::Values { y, .. } => {
            let h = bin_slots::<2>(h);
            h[lo..=hi].fill([0.0; 2]);
            for &r in rows {
                let e = &mut h[col[r as usize] as usize];
                e[0] += 1.0;
                e[1] += y[r as usize];
            }
        }
        Target::Gradients(g) if g.unit_hess => {
            let h = bin_slots::<2>(h);
            h[lo..=hi].fill([0.0; 2]);
            for (&r, &[gr, _]) in rows.iter().zip(ordered) {
                let e = &mut h[col[r as usize] as usize];
                e[0] += 1.0;
                e[1] += gr;
            }
        }
        Target::Gradients(_) => {
            let h = bin_slots::<3>(h);
            h[lo..=hi].fill([0.0; 3]);
            for (&r, &[gr, hs]) in rows.iter().zip(ordered) {
                let e = &mut h[col[r as usize] as usize];
                e[0] += 1.0;
                e[1] += gr;
                e[2] += hs;
            }
        }
    }
    (lo, hi)
}

impl Grower<'_> {
    fn hist_len(&self) -> usize {
        self.bins.n_features * MAX_BINS * self.w
    }

    /// A histogram buffer, reused when one is spare; its contents are stale until counted.
    fn take_hist(&mut self) -> Vec<f64> {
        let mut h = self.spare.pop().unwrap_or_default();
        h.resize(self.hist_len(), 0.0);
        h
    }

    /// Counts `rows` into `hist` for `features` (only their parts are cleared and written),
    /// and notes in `self.ranges` the bins each feature's count covers. `ranged`: clear and
    /// cover just the bins between the rows' lowest and highest code (a small node's
    /// histogram is mostly empty bins, and clearing and scanning them cost more than counting
    /// its rows); else every bin of the feature. Features are counted on every core when the
    /// grower is parallel and the node is large; each feature's sums are added in row order by
    /// one thread, so the result does not depend on the thread count.
    fn count(&mut self, rows: &[u32], features: &[usize], hist: &mut [f64], ranged: bool) {
        if let (Some(codes), Target::Gradients(g), false) = (self.row_codes, self.target, ranged) {
            if features.len() == self.bins.n_features {
                return self.count_row_major(codes, g, rows, hist);
            }
        }
        let stride = MAX_BINS * self.w;
        let (bins, target) = (self.bins, self.target);
        // Boosting: the node's gradients gathered once into row order, so each feature's
        // pass reads them in sequence instead of from all over the table.
        let mut ordered = std::mem::take(&mut self.ordered);
        ordered.clear();
        if let Target::Gradients(g) = target {
            ordered.extend(rows.iter().map(|&r| g.gh[r as usize]));
        }
        let ordered_ref = &ordered;
        if rows.len().saturating_mul(features.len()) >= self.parallel_work {
            let mut wanted = vec![false; bins.n_features];
            features.iter().for_each(|&f| wanted[f] = true);
            let ranges: Vec<(usize, (usize, usize))> = hist
                .par_chunks_mut(stride)
                .enumerate()
                .filter(|(f, _)| wanted[*f])
                .map(|(f, h)| {
                    let covered = count_feature(bins, target, ordered_ref, f, rows, h, ranged);
                    (f, covered)
                })
                .collect();
            for (f, r) in ranges {
                self.ranges[f] = r;
            }
        } else {
            for &f in features {
                let h = &mut hist[f * stride..(f + 1) * stride];
                self.ranges[f] = count_feature(bins, target, ordered_ref, f, rows, h, ranged);
            }
        }
        self.ordered = ordered;
    }

    /// Boosting's count of every feature over a node's rows, a row at a time from row-major
    /// codes: a row's codes share one cache line and its gradient is read once, where a
    /// pass a feature reads a line a feature and the gradients once a feature. 100 rounds of
    /// depth 6 on 1,000,000 x 32 took a median 10.6 s counted by feature and 8.2 s by row,
    /// on 100,000 x 32 0.90 s and 0.80 s (same trees; `examples/boost.rs`, 3 runs each,
    /// interleaved). Large nodes split the features into one group a thread, in whole words
    /// of codes; each feature's sums are still added in row order by one thread, so the
    /// result does not depend on the thread count.
    fn count_row_major(
        &mut self,
        codes: &[[u8; 8]],
        g: &Gradients,
        rows: &[u32],
        hist: &mut [f64],
    ) {
        let nf = self.bins.n_features;
        let words = nf.div_ceil(8);
        let w = self.w;
        let stride = MAX_BINS * w;
        let groups = if rows.len().saturating_mul(nf) >= self.parallel_work {
            rayon::current_num_threads().max(1)
        } else {
            1
        };
        // Whole words of codes a group.
        let group_words = words.div_ceil(groups).max(1);
        let bins = self.bins;
        hist[..nf * stride]
            .par_chunks_mut(group_words * 8 * stride)
            .enumerate()
            .for_each(|(i, chunk)| {
                let w0 = i * group_words;
                let f0 = w0 * 8;
                for (k, h) in chunk.chunks_mut(stride).enumerate() {
                    h[..bins.n_bins(f0 + k) * w].fill(0.0);
                }
                let span = (w0, (w0 + group_words).min(words));
                if g.unit_hess {
                    add_rows_row_major::<2>(codes, words, span, chunk, rows, &g.gh, |[gr, _]| {
                        [1.0, gr]
                    });
                } else {
                    add_rows_row_major::<3>(codes, words, span, chunk, rows, &g.gh, |[gr, hs]| {
                        [1.0, gr, hs]
                    });
                }
            });
        self.full_ranges();
    }

    /// Whether feature `f` takes more than one bin among the counted rows of `hist`.
    fn varies(&self, hist: &[f64], f: usize) -> bool {
        let (lo, hi) = self.ranges[f];
        let h = &hist[f * MAX_BINS * self.w..];
        (lo..=hi).filter(|b| h[b * self.w] > 0.0).nth(1).is_some()
    }

    /// Every bin of every feature (a histogram made by subtraction covers them all).
    fn full_ranges(&mut self) {
        for f in 0..self.bins.n_features {
            self.ranges[f] = (0, self.bins.n_bins(f) - 1);
        }
    }

    fn totals(&self, rows: &[u32]) -> Vec<f64> {
        let mut t = vec![0.0; self.w];
        t[0] = rows.len() as f64;
        match self.target {
            Target::Classes { y, .. } => rows
                .iter()
                .for_each(|&r| t[1 + y[r as usize] as usize] += 1.0),
            Target::Values { y, .. } => rows.iter().for_each(|&r| t[1] += y[r as usize]),
            Target::Gradients(g) => rows.iter().for_each(|&r| {
                let [gr, hs] = g.gh[r as usize];
                t[1] += gr;
                if !g.unit_hess {
                    t[2] += hs;
                }
            }),
        }
        t
    }

    fn leaf_value(&self, totals: &[f64]) -> f32 {
        match self.target {
            Target::Classes { .. } => {
                // The majority class; ties go to the lowest class index.
                let mut best = 0;
                for c in 1..self.w - 1 {
                    if totals[1 + c] > totals[1 + best] {
                        best = c;
                    }
                }
                best as f32
            }
            Target::Values { mean, .. } => (mean + totals[1] / totals[0]) as f32,
            Target::Gradients(g) => (-totals[1] / (g.hess(totals) + g.l2) * g.shrink) as f32,
        }
    }

    /// Whether a node of `n` rows at `depth` may split at all.
    fn may_split(&self, n: f64, depth: usize) -> bool {
        depth < self.params.max_depth && n >= 2.0 * self.params.min_leaf as f64
    }

    fn pure(&self, totals: &[f64]) -> bool {
        match self.target {
            Target::Classes { .. } => totals[1..].iter().any(|c| *c == totals[0]),
            Target::Values { .. } | Target::Gradients(_) => false,
        }
    }

    /// The best split of a node among `features`, if any improves on the node.
    fn best_split(&self, hist: &[f64], totals: &[f64], features: &[usize]) -> Option<Split> {
        let w = self.w;
        let n = totals[0];
        let min_leaf = self.params.min_leaf as f64;
        let parent: f64 = match self.target {
            Target::Gradients(g) => totals[1] * totals[1] / (g.hess(totals) + g.l2),
            _ => totals[1..].iter().map(|s| s * s).sum::<f64>() / n,
        };
        // One running best over every (feature, boundary) in order, so ties keep the first.
        // On one thread: scoring on every core (rayon over the features) made 100 boosting
        // rounds on 100,000 x 32 slower here (0.9-1.1 s became 1.3-1.7 s).
        let mut best_score = parent + 1e-12 * parent.abs().max(1.0);
        let mut best: Option<(usize, usize)> = None;
        for &f in features {
            let h = &hist[f * MAX_BINS * w..(f + 1) * MAX_BINS * w];
            // Bins outside the range are empty: a boundary below it leaves no row on the left,
            // one past it none on the right.
            let range = self.ranges[f];
            let found = match self.target {
                Target::Gradients(g) if g.unit_hess => {
                    scan_gain::<2>(h, range, totals, min_leaf, g, &mut best_score)
                }
                Target::Gradients(g) => {
                    scan_gain::<3>(h, range, totals, min_leaf, g, &mut best_score)
                }
                _ => {
                    let scan = match w {
                        2 => scan_bins::<2>,
                        3 => scan_bins::<3>,
                        4 => scan_bins::<4>,
                        5 => scan_bins::<5>,
                        _ => scan_bins_any,
                    };
                    scan(h, range.0, range.1, totals, min_leaf, &mut best_score)
                }
            };
            if let Some(b) = found {
                best = Some((f, b));
            }
        }
        let (feature, bin) = best?;
        let h = &hist[feature * MAX_BINS * w..(feature + 1) * MAX_BINS * w];
        let mut left = vec![0.0; w];
        for b in self.ranges[feature].0..=bin {
            for (l, v) in left.iter_mut().zip(&h[b * w..(b + 1) * w]) {
                *l += v;
            }
        }
        Some(Split { feature, bin, left })
    }

    fn grow(&mut self, rows: &mut [u32], rng: &mut Rng) -> BinnedTree {
        let n_features = self.bins.n_features;
        let mut nodes: Vec<BinnedNode> = Vec::new();
        let mut scratch: Vec<u32> = Vec::with_capacity(rows.len());
        let mut order: Vec<usize> = (0..n_features).collect();
        let all: Vec<usize> = order.clone();
        let mut stack = vec![Pending {
            lo: 0,
            hi: rows.len(),
            depth: 0,
            totals: self.totals(rows),
            hist: None,
            parent: None,
        }];
        while let Some(p) = stack.pop() {
            let me = nodes.len();
            if let Some((parent, is_left)) = p.parent {
                if is_left {
                    nodes[parent].left = me as u32;
                } else {
                    nodes[parent].right = me as u32;
                }
            }
            let leaf = BinnedNode {
                feature: 0,
                bin: 0,
                left: 0,
                right: 0,
                value: self.leaf_value(&p.totals),
            };
            if !self.may_split(p.totals[0], p.depth) || self.pure(&p.totals) {
                nodes.push(leaf);
                self.leaves.push((me, p.lo, p.hi));
                self.spare.extend(p.hist);
                continue;
            }
            let n_rows = p.hi - p.lo;
            let small = n_rows < self.small_node_rows;
            let drawing = self.params.max_features < n_features;
            let counted_all = !drawing || p.hist.is_some() || (self.all_features && !small);
            // Every feature's histogram when all are counted (or come by subtraction); else
            // just the drawn features', counted as they are drawn.
            let mut hist = match p.hist {
                Some(h) => {
                    self.full_ranges();
                    h
                }
                None if self.all_features && !small => {
                    let mut h = self.take_hist();
                    self.count(&rows[p.lo..p.hi], &all, &mut h, false);
                    h
                }
                None if !drawing => {
                    let mut h = self.take_hist();
                    self.count(&rows[p.lo..p.hi], &all, &mut h, small);
                    h
                }
                None => self.take_hist(),
            };
            // The features this split may use, in ascending order (ties go to the lowest).
            // Drawn as scikit-learn draws them: a feature that is constant in this node does
            // not count towards `max_features`, so drawing goes on until that many vary or
            // none are left.
            let features: &[usize] = if !drawing {
                &all
            } else {
                let (mut drawn, mut varying) = (0, 0);
                while varying < self.params.max_features && drawn < n_features {
                    let next = (drawn + self.params.max_features - varying).min(n_features);
                    for i in drawn..next {
                        let j = i + rng.below(n_features - i);
                        order.swap(i, j);
                    }
                    if !counted_all {
                        let batch = order[drawn..next].to_vec();
                        self.count(&rows[p.lo..p.hi], &batch, &mut hist, small);
                    }
                    varying += order[drawn..next]
                        .iter()
                        .filter(|&&f| self.varies(&hist, f))
                        .count();
                    drawn = next;
                }
                order[..drawn].sort_unstable();
                &order[..drawn]
            };
            let Some(split) = self.best_split(&hist, &p.totals, features) else {
                nodes.push(leaf);
                self.leaves.push((me, p.lo, p.hi));
                self.spare.push(hist);
                continue;
            };
            // Stable partition: left rows first, each side in its old (ascending) order.
            let col = self.bins.column(split.feature);
            let node_rows = &mut rows[p.lo..p.hi];
            // Branch-free: each row is written to both sides and only its own side's count
            // advances (a branch on a split mispredicts about half the time). Writing at `k`
            // never overtakes the read at `i`.
            scratch.resize(node_rows.len(), 0);
            let (mut k, mut j) = (0, 0);
            for i in 0..node_rows.len() {
                let r = node_rows[i];
                let left = usize::from(col[r as usize] as usize <= split.bin);
                node_rows[k] = r;
                scratch[j] = r;
                k += left;
                j += 1 - left;
            }
            node_rows[k..].copy_from_slice(&scratch[..j]);
            let mid = p.lo + k;
            let right_totals: Vec<f64> = p
                .totals
                .iter()
                .zip(&split.left)
                .map(|(t, l)| t - l)
                .collect();
            let left_totals = split.left;
            nodes.push(BinnedNode {
                feature: split.feature as u32,
                bin: split.bin as u8,
                left: 0,
                right: 0,
                value: 0.0,
            });
            // Children's histograms: the smaller one counted, the larger by subtraction, and
            // none for a child that cannot split, nor for the children of a small node.
            let left_splits = self.may_split(left_totals[0], p.depth + 1);
            let right_splits = self.may_split(right_totals[0], p.depth + 1);
            let (mut left_hist, mut right_hist) = (None, None);
            if self.all_features && !small && (left_splits || right_splits) {
                let left_smaller = mid - p.lo <= p.hi - mid;
                let (small_lo, small_hi) = if left_smaller {
                    (p.lo, mid)
                } else {
                    (mid, p.hi)
                };
                let mut counted = self.take_hist();
                self.count(&rows[small_lo..small_hi], &all, &mut counted, false);
                let mut large = hist;
                for (l, s) in large.iter_mut().zip(&counted) {
                    *l -= s;
                }
                let (lh, rh) = if left_smaller {
                    (counted, large)
                } else {
                    (large, counted)
                };
                if left_splits {
                    left_hist = Some(lh);
                } else {
                    self.spare.push(lh);
                }
                if right_splits {
                    right_hist = Some(rh);
                } else {
                    self.spare.push(rh);
                }
            } else {
                self.spare.push(hist);
            }
            stack.push(Pending {
                lo: mid,
                hi: p.hi,
                depth: p.depth + 1,
                totals: right_totals,
                hist: right_hist,
                parent: Some((me, false)),
            });
            stack.push(Pending {
                lo: p.lo,
                hi: mid,
                depth: p.depth + 1,
                totals: left_totals,
                hist: left_hist,
                parent: Some((me, true)),
            });
        }
        BinnedTree { nodes }
    }
}

/// The best boundary after bins `lo..hi` of one feature's histogram (`W` slots a bin: the
/// row count, then the sums), if its score beats `best`, which it then raises. Ties keep the
/// earlier boundary. `W` fixed at compile time keeps the running sums in registers.
fn scan_bins<const W: usize>(
    h: &[f64],
    lo: usize,
    hi: usize,
    totals: &[f64],
    min_leaf: f64,
    best: &mut f64,
) -> Option<usize> {
    scan_slots(h, (lo, hi), totals, min_leaf, best, &mut [0.0; W])
}

/// [`scan_bins`] for any slot count (many classes).
fn scan_bins_any(
    h: &[f64],
    lo: usize,
    hi: usize,
    totals: &[f64],
    min_leaf: f64,
    best: &mut f64,
) -> Option<usize> {
    scan_slots(
        h,
        (lo, hi),
        totals,
        min_leaf,
        best,
        &mut vec![0.0; totals.len()],
    )
}

/// The scan itself; `left.len()` is the slot count (a constant once inlined into
/// [`scan_bins`]).
#[inline(always)]
fn scan_slots(
    h: &[f64],
    (lo, hi): (usize, usize),
    totals: &[f64],
    min_leaf: f64,
    best: &mut f64,
    left: &mut [f64],
) -> Option<usize> {
    let w = left.len();
    let n = totals[0];
    let mut found = None;
    for b in lo..hi {
        for (l, v) in left.iter_mut().zip(&h[b * w..(b + 1) * w]) {
            *l += v;
        }
        let nl = left[0];
        let nr = n - nl;
        if nl < min_leaf {
            continue;
        }
        if nr < min_leaf {
            break;
        }
        let (mut sl, mut sr) = (0.0, 0.0);
        for c in 1..w {
            sl += left[c] * left[c];
            let r = totals[c] - left[c];
            sr += r * r;
        }
        let score = sl / nl + sr / nr;
        if score > *best {
            *best = score;
            found = Some(b);
        }
    }
    found
}

/// The best boundary of one feature's gradient histogram (`W` slots: row count, gradient
/// sum, and the hessian sum unless every hessian is 1) by second-order gain, if it beats
/// `best` (the parent's own score at first).
fn scan_gain<const W: usize>(
    h: &[f64],
    (lo, hi): (usize, usize),
    totals: &[f64],
    min_leaf: f64,
    g: &Gradients,
    best: &mut f64,
) -> Option<usize> {
    let (n, gt, ht) = (totals[0], totals[1], g.hess(totals));
    let mut left = [0.0; W];
    let mut found = None;
    for b in lo..hi {
        for (l, v) in left.iter_mut().zip(&h[b * W..(b + 1) * W]) {
            *l += v;
        }
        let (nl, gl, hl) = (left[0], left[1], g.hess(&left));
        let (nr, gr, hr) = (n - nl, gt - gl, ht - hl);
        if nr < min_leaf {
            break;
        }
        if nl < min_leaf || hl < g.min_hess || hr < g.min_hess {
            continue;
        }
        let score = gl * gl / (hl + g.l2) + gr * gr / (hr + g.l2);
        if score > *best {
            *best = score;
            found = Some(b);
        }
    }
    found
}

/// Grows one tree on `rows` (indices into the binned rows, repeats allowed: a bootstrap
/// sample). `rng` draws the features of each split when `max_features` is below the feature
/// count; nothing else is random.
pub fn fit_tree(
    bins: &Bins,
    target: &Target,
    rows: Vec<u32>,
    params: TreeParams,
    rng: &mut Rng,
) -> BinnedTree {
    let mut rows = rows;
    let counting = Counting {
        small_node_rows: small_node_rows(target),
        parallel_work: usize::MAX,
        row_codes: None,
    };
    fit_tree_with(bins, target, &mut rows, params, rng, counting).tree
}

/// Below about one row a histogram slot, clearing and scanning the slots cost more than
/// counting the rows.
fn small_node_rows(target: &Target) -> usize {
    MAX_BINS * (1 + target.width())
}

/// A grown tree and where its rows went.
pub(crate) struct Grown {
    pub tree: BinnedTree,
    /// Each leaf's node index and the range of the (partitioned) rows it holds.
    pub leaves: Vec<(usize, usize, usize)>,
}

/// Grows one boosting tree on every row, counting large nodes' histograms on every core;
/// `rows` comes back partitioned by leaf (see [`Grown::leaves`]).
pub(crate) fn fit_boost_tree(
    bins: &Bins,
    target: &Target,
    rows: &mut [u32],
    params: TreeParams,
    parallel: bool,
    row_codes: &[[u8; 8]],
) -> Grown {
    let mut rng = Rng::new(0); // every feature is tried at every split: nothing is drawn
    let counting = Counting {
        small_node_rows: small_node_rows(target),
        parallel_work: if parallel {
            PARALLEL_COUNT_WORK
        } else {
            usize::MAX
        },
        row_codes: Some(row_codes),
    };
    fit_tree_with(bins, target, rows, params, &mut rng, counting)
}

/// How a grower counts its histograms (tests drive every path through one tree).
pub(crate) struct Counting<'a> {
    /// Nodes with fewer rows count just the bins their rows use.
    pub small_node_rows: usize,
    /// Nodes with at least this many rows times features count on every core.
    pub parallel_work: usize,
    /// Boosting: the codes row-major, to count every feature a row at a time.
    pub row_codes: Option<&'a [[u8; 8]]>,
}

/// [`fit_tree`] with the histogram counting set.
pub(crate) fn fit_tree_with(
    bins: &Bins,
    target: &Target,
    rows: &mut [u32],
    params: TreeParams,
    rng: &mut Rng,
    Counting {
        small_node_rows,
        parallel_work,
        row_codes,
    }: Counting,
) -> Grown {
    assert_eq!(target.len(), bins.n_rows, "one target value a binned row");
    let params = TreeParams {
        min_leaf: params.min_leaf.max(1),
        max_features: params.max_features.clamp(1, bins.n_features.max(1)),
        ..params
    };
    rows.sort_unstable();
    let mut grower = Grower {
        bins,
        target,
        params,
        w: 1 + target.width(),
        all_features: 2 * params.max_features >= bins.n_features,
        small_node_rows,
        ranges: vec![(0, 0); bins.n_features],
        spare: Vec::new(),
        parallel_work,
        leaves: Vec::new(),
        ordered: Vec::new(),
        row_codes,
    };
    let tree = grower.grow(rows, rng);
    Grown {
        tree,
        leaves: grower.leaves,
    }
}
