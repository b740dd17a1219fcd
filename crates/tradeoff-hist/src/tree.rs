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

use tradeoff_core::ir::Node;
use tradeoff_core::rng::Rng;

use crate::bins::{Bins, MAX_BINS};

/// What a tree predicts.
#[derive(Debug, Clone)]
pub enum Target {
    /// Class indices in `0..n_classes`; leaves hold the majority class.
    Classes { y: Vec<u32>, n_classes: usize },
    /// Values, stored centred on `mean` (sums of squares stay well conditioned); leaves hold
    /// the mean of their rows.
    Values { y: Vec<f64>, mean: f64 },
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
        }
    }

    fn len(&self) -> usize {
        match self {
            Target::Classes { y, .. } => y.len(),
            Target::Values { y, .. } => y.len(),
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
    /// its rows); else every bin of the feature.
    fn count(&mut self, rows: &[u32], features: &[usize], hist: &mut [f64], ranged: bool) {
        let w = self.w;
        for &f in features {
            let col = self.bins.column(f);
            let (lo, hi) = if ranged {
                rows.iter().fold((u8::MAX, 0u8), |(lo, hi), &r| {
                    let c = col[r as usize];
                    (lo.min(c), hi.max(c))
                })
            } else {
                (0, (self.bins.n_bins(f) - 1) as u8)
            };
            let (lo, hi) = (lo as usize, hi as usize);
            self.ranges[f] = (lo, hi);
            let h = &mut hist[f * MAX_BINS * w..(f + 1) * MAX_BINS * w];
            h[lo * w..(hi + 1) * w].fill(0.0);
            match self.target {
                Target::Classes { y, .. } => {
                    for &r in rows {
                        let b = col[r as usize] as usize * w;
                        h[b] += 1.0;
                        h[b + 1 + y[r as usize] as usize] += 1.0;
                    }
                }
                Target::Values { y, .. } => {
                    for &r in rows {
                        let b = col[r as usize] as usize * 2;
                        h[b] += 1.0;
                        h[b + 1] += y[r as usize];
                    }
                }
            }
        }
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
        }
    }

    /// Whether a node of `n` rows at `depth` may split at all.
    fn may_split(&self, n: f64, depth: usize) -> bool {
        depth < self.params.max_depth && n >= 2.0 * self.params.min_leaf as f64
    }

    fn pure(&self, totals: &[f64]) -> bool {
        match self.target {
            Target::Classes { .. } => totals[1..].iter().any(|c| *c == totals[0]),
            Target::Values { .. } => false,
        }
    }

    /// The best split of a node among `features`, if any improves on the node.
    fn best_split(&self, hist: &[f64], totals: &[f64], features: &[usize]) -> Option<Split> {
        let w = self.w;
        let n = totals[0];
        let min_leaf = self.params.min_leaf as f64;
        let parent: f64 = totals[1..].iter().map(|s| s * s).sum::<f64>() / n;
        let mut best_score = parent + 1e-12 * parent.abs().max(1.0);
        let mut best: Option<(usize, usize)> = None;
        for &f in features {
            let h = &hist[f * MAX_BINS * w..(f + 1) * MAX_BINS * w];
            // Bins outside the range are empty: a boundary below it leaves no row on the left,
            // one past it none on the right.
            let (lo, hi) = self.ranges[f];
            let scan = match w {
                2 => scan_bins::<2>,
                3 => scan_bins::<3>,
                4 => scan_bins::<4>,
                5 => scan_bins::<5>,
                _ => scan_bins_any,
            };
            if let Some(b) = scan(h, lo, hi, totals, min_leaf, &mut best_score) {
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
                self.spare.extend(p.hist);
                continue;
            }
            // The features this split may use, in ascending order (ties go to the lowest).
            let features: &[usize] = if self.params.max_features >= n_features {
                &all
            } else {
                for i in 0..self.params.max_features {
                    let j = i + rng.below(n_features - i);
                    order.swap(i, j);
                }
                order[..self.params.max_features].sort_unstable();
                &order[..self.params.max_features]
            };
            let n_rows = p.hi - p.lo;
            let small = n_rows < self.small_node_rows;
            let hist = match p.hist {
                Some(h) => {
                    self.full_ranges();
                    h
                }
                None => {
                    let mut h = self.take_hist();
                    // A small node counts just the features it may split on: its children
                    // count their own rows too.
                    let counted = if self.all_features && !small {
                        &all
                    } else {
                        features
                    };
                    self.count(&rows[p.lo..p.hi], counted, &mut h, small);
                    h
                }
            };
            let Some(split) = self.best_split(&hist, &p.totals, features) else {
                nodes.push(leaf);
                self.spare.push(hist);
                continue;
            };
            // Stable partition: left rows first, each side in its old (ascending) order.
            let col = self.bins.column(split.feature);
            let node_rows = &mut rows[p.lo..p.hi];
            scratch.clear();
            let mut k = 0;
            for i in 0..node_rows.len() {
                let r = node_rows[i];
                if col[r as usize] as usize <= split.bin {
                    node_rows[k] = r;
                    k += 1;
                } else {
                    scratch.push(r);
                }
            }
            node_rows[k..].copy_from_slice(&scratch);
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
    // Below about one row a histogram slot, clearing and scanning the slots cost more than
    // counting the rows.
    let small_node_rows = MAX_BINS * (1 + target.width());
    fit_tree_with(bins, target, rows, params, rng, small_node_rows)
}

/// [`fit_tree`] with the small-node size set (tests drive both paths through one tree).
pub(crate) fn fit_tree_with(
    bins: &Bins,
    target: &Target,
    mut rows: Vec<u32>,
    params: TreeParams,
    rng: &mut Rng,
    small_node_rows: usize,
) -> BinnedTree {
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
    };
    grower.grow(&mut rows, rng)
}
