//! The `cpu` target's tree ensembles, laid out for traversal rather than for reading.
//!
//! ## Design
//! A row's walk down a tree is a chain of dependent loads and a branch per level that the
//! predictor cannot guess, so one walk at a time costs a cache hit and a mispredicted branch
//! per level. Here:
//! - every tree's nodes sit in one array of 16-byte nodes (feature, threshold, two children),
//!   four to a cache line, in the IR's order (parents before children);
//! - a leaf's children point at itself, so every walk takes exactly the tree's depth in steps
//!   and the next node is an index computed from the comparison, not a branch;
//! - 16 walks (`LANES`) run in lockstep, so their loads overlap: the rows of a block through one
//!   tree for batches, one row through a group of trees for a single row.
//!
//! Results are bit-for-bit those of a walk one node at a time: the comparison is the IR's
//! (`x < threshold` goes left, anything else, NaN included, right), and each row's leaf values
//! are added up in tree order, as in the IR's definition.

use crate::ir::{apply_link, Aggregation, Tree};

/// Walks in flight at once.
const LANES: usize = 16;

#[derive(Debug, Clone, Copy)]
struct FlatNode {
    feature: u32,
    threshold: f32,
    /// `[left, right]`; both the node itself for a leaf.
    child: [u32; 2],
}

#[derive(Debug, Clone, Copy)]
struct TreeInfo {
    root: u32,
    /// Edges from the root to the deepest leaf.
    depth: u32,
    output: u32,
}

/// A validated tree ensemble in the flat layout.
#[derive(Debug, Clone)]
pub struct FlatForest {
    nodes: Vec<FlatNode>,
    /// Leaf values by node index (0 for split nodes).
    value: Vec<f32>,
    trees: Vec<TreeInfo>,
    aggregation: Aggregation,
    n_features: usize,
    n_outputs: usize,
    /// Scores per row before the link (boosting) or outputs (vote, mean).
    n_scores: usize,
}

/// What one caller of [`FlatForest::predict`] writes as it goes, per row of a batch: vote
/// counts or boosting scores (`f32`, as the IR sums them; counts are exact), and the `f64`
/// sums of a mean. Apart from the layout so several callers share one layout.
#[derive(Debug, Default)]
pub struct ForestScratch {
    acc: Vec<f32>,
    acc64: Vec<f64>,
}

impl FlatForest {
    /// Lays out `trees` (already validated by `ModelIr::validate`: children after parents,
    /// features in range, class indices below `n_outputs`).
    pub fn new(
        trees: &[Tree],
        aggregation: &Aggregation,
        n_features: usize,
        n_outputs: usize,
        n_scores: usize,
    ) -> FlatForest {
        let total: usize = trees.iter().map(|t| t.nodes.len()).sum();
        let mut nodes = Vec::with_capacity(total);
        let mut value = Vec::with_capacity(total);
        let mut infos = Vec::with_capacity(trees.len());
        for t in trees {
            let base = nodes.len() as u32;
            for (i, n) in t.nodes.iter().enumerate() {
                let me = base + i as u32;
                if n.is_leaf() {
                    nodes.push(FlatNode {
                        feature: 0,
                        threshold: 0.0,
                        child: [me, me],
                    });
                    value.push(n.value);
                } else {
                    nodes.push(FlatNode {
                        feature: n.feature,
                        threshold: n.threshold,
                        child: [base + n.left, base + n.right],
                    });
                    value.push(0.0);
                }
            }
            infos.push(TreeInfo {
                root: base,
                depth: t.depth(),
                output: t.output,
            });
        }
        FlatForest {
            nodes,
            value,
            trees: infos,
            aggregation: aggregation.clone(),
            n_features,
            n_outputs,
            n_scores,
        }
    }

    /// Bytes of the layout.
    pub fn bytes(&self) -> u64 {
        (self.nodes.len() * std::mem::size_of::<FlatNode>() + self.value.len() * 4) as u64
    }

    /// `steps` lockstep steps of the first `lanes` walks; lane `k` reads its features at
    /// `x[row[k]..]`. The full width is its own loop, so the compiler unrolls it.
    #[inline(always)]
    fn walk(
        &self,
        x: &[f32],
        row: &[usize; LANES],
        idx: &mut [u32; LANES],
        steps: u32,
        lanes: usize,
    ) {
        let nodes = &self.nodes[..];
        let step = |idx: &mut u32, row: usize| {
            let n = nodes[*idx as usize];
            // Left exactly when `x < threshold`: NaN goes right, as in the IR.
            let left = x[row + n.feature as usize] < n.threshold;
            let right = !left;
            *idx = n.child[right as usize];
        };
        if lanes == LANES {
            for _ in 0..steps {
                for k in 0..LANES {
                    step(&mut idx[k], row[k]);
                }
            }
        } else {
            for _ in 0..steps {
                for k in 0..lanes {
                    step(&mut idx[k], row[k]);
                }
            }
        }
    }

    /// Predicts `n_rows` rows of `x` (`n_features` wide) into `out` (`n_outputs` wide).
    pub fn predict(&self, x: &[f32], n_rows: usize, out: &mut [f32], scratch: &mut ForestScratch) {
        let (nf, ns) = (self.n_features, self.n_scores);
        let (mut acc, mut acc64) = (
            std::mem::take(&mut scratch.acc),
            std::mem::take(&mut scratch.acc64),
        );
        acc.clear();
        acc64.clear();
        match &self.aggregation {
            Aggregation::Vote => acc.resize(n_rows * ns, 0.0),
            Aggregation::Mean => acc64.resize(n_rows, 0.0),
            Aggregation::Sum { base, .. } => {
                for _ in 0..n_rows {
                    acc.extend_from_slice(base);
                }
            }
        }
        let mut add = |this: &Self, r: usize, tree: usize, leaf: u32| {
            let v = this.value[leaf as usize];
            match this.aggregation {
                Aggregation::Vote => acc[r * ns + v as usize] += 1.0,
                Aggregation::Mean => acc64[r] += v as f64,
                Aggregation::Sum { .. } => acc[r * ns + this.trees[tree].output as usize] += v,
            }
        };
        let mut idx = [0u32; LANES];
        let mut row = [0usize; LANES];
        if n_rows >= LANES / 2 {
            // Batches: blocks of rows walk each tree together.
            for r0 in (0..n_rows).step_by(LANES) {
                let lanes = LANES.min(n_rows - r0);
                for (k, r) in row.iter_mut().enumerate().take(lanes) {
                    *r = (r0 + k) * nf;
                }
                for (t, info) in self.trees.iter().enumerate() {
                    idx[..lanes].fill(info.root);
                    self.walk(x, &row, &mut idx, info.depth, lanes);
                    for (k, &leaf) in idx.iter().enumerate().take(lanes) {
                        add(self, r0 + k, t, leaf);
                    }
                }
            }
        } else {
            // A few rows: each walks groups of trees together.
            for r in 0..n_rows {
                row.fill(r * nf);
                for t0 in (0..self.trees.len()).step_by(LANES) {
                    let group = &self.trees[t0..(t0 + LANES).min(self.trees.len())];
                    let mut steps = 0;
                    for (i, g) in idx.iter_mut().zip(group) {
                        *i = g.root;
                        steps = steps.max(g.depth);
                    }
                    self.walk(x, &row, &mut idx, steps, group.len());
                    for (k, &leaf) in idx.iter().enumerate().take(group.len()) {
                        add(self, r, t0 + k, leaf);
                    }
                }
            }
        }
        self.finish(&acc, &acc64, out);
        (scratch.acc, scratch.acc64) = (acc, acc64);
    }

    fn finish(&self, acc: &[f32], acc64: &[f64], out: &mut [f32]) {
        let n = self.trees.len();
        match &self.aggregation {
            Aggregation::Vote => {
                for (o, c) in out.iter_mut().zip(acc) {
                    *o = c / n as f32;
                }
            }
            Aggregation::Mean => {
                for (o, s) in out.iter_mut().zip(acc64) {
                    *o = (s / n as f64) as f32;
                }
            }
            Aggregation::Sum { link, .. } => {
                for (scores, o) in acc
                    .chunks_exact(self.n_scores)
                    .zip(out.chunks_exact_mut(self.n_outputs))
                {
                    apply_link(*link, scores, o);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::{Link, Node};
    use crate::rng::Rng;

    /// An aggregation, its outputs, how leaf values are drawn, and how many scores trees feed.
    type Case = (Aggregation, usize, Box<dyn Fn(&mut Rng) -> f32>, u32);

    /// The IR's definition, one node at a time.
    fn leaf_value(tree: &Tree, x: &[f32]) -> f32 {
        crate::ir::walk(&tree.nodes, x)
    }

    fn reference(trees: &[Tree], agg: &Aggregation, x: &[f32], nf: usize, no: usize) -> Vec<f32> {
        let mut out = vec![0.0f32; x.len() / nf * no];
        for (row, o) in x.chunks_exact(nf).zip(out.chunks_exact_mut(no)) {
            match agg {
                Aggregation::Vote => {
                    for t in trees {
                        o[leaf_value(t, row) as usize] += 1.0;
                    }
                    o.iter_mut().for_each(|v| *v /= trees.len() as f32);
                }
                Aggregation::Mean => {
                    let sum: f64 = trees.iter().map(|t| leaf_value(t, row) as f64).sum();
                    o[0] = (sum / trees.len() as f64) as f32;
                }
                Aggregation::Sum { base, link } => {
                    let mut s = base.clone();
                    for t in trees {
                        s[t.output as usize] += leaf_value(t, row);
                    }
                    apply_link(*link, &s, o);
                }
            }
        }
        out
    }

    /// A random tree of uneven depth (up to `max_depth`), nodes in breadth-first order.
    fn random_tree(
        rng: &mut Rng,
        nf: usize,
        max_depth: u32,
        leaf: &dyn Fn(&mut Rng) -> f32,
        output: u32,
    ) -> Tree {
        let mut nodes = vec![Node::leaf(0.0)];
        let mut depth = vec![0u32];
        let mut i = 0;
        while i < nodes.len() {
            if depth[i] < max_depth && (depth[i] < 2 || rng.next_f64() < 0.7) {
                let l = nodes.len() as u32;
                nodes[i] = Node {
                    feature: (rng.next_f64() * nf as f64) as u32 % nf as u32,
                    threshold: (rng.next_f64() * 2.0 - 1.0) as f32,
                    left: l,
                    right: l + 1,
                    value: 0.0,
                };
                nodes.push(Node::leaf(0.0));
                nodes.push(Node::leaf(0.0));
                depth.push(depth[i] + 1);
                depth.push(depth[i] + 1);
            } else {
                nodes[i].value = leaf(rng);
            }
            i += 1;
        }
        Tree { output, nodes }
    }

    #[test]
    fn matches_a_walk_one_node_at_a_time_bit_for_bit() {
        let mut rng = Rng::new(7);
        let nf = 5;
        // Row counts on both sides of the lane width and of the batch/few-rows switch.
        for n_rows in [1, 2, 7, 8, 15, 16, 17, 100] {
            let mut x: Vec<f32> = (0..n_rows * nf)
                .map(|_| (rng.next_f64() * 2.4 - 1.2) as f32)
                .collect();
            x[0] = f32::NAN; // goes right, as in the IR
            for n_trees in [1, 3, 16, 17, 40] {
                let cases: Vec<Case> = vec![
                    (
                        Aggregation::Vote,
                        3,
                        Box::new(|r: &mut Rng| (r.next_f64() * 3.0) as u32 as f32),
                        1,
                    ),
                    (
                        Aggregation::Mean,
                        1,
                        Box::new(|r: &mut Rng| r.next_f64() as f32 * 10.0),
                        1,
                    ),
                    (
                        Aggregation::Sum {
                            base: vec![0.1, -0.2, 0.3],
                            link: Link::OvrSigmoid,
                        },
                        3,
                        Box::new(|r: &mut Rng| r.next_f64() as f32 - 0.5),
                        3,
                    ),
                ];
                for (agg, no, leaf, outputs) in cases {
                    let trees: Vec<Tree> = (0..n_trees)
                        .map(|t| {
                            random_tree(&mut rng, nf, 1 + (t % 9) as u32, &leaf, t as u32 % outputs)
                        })
                        .collect();
                    let want = reference(&trees, &agg, &x, nf, no);
                    let ns = if outputs > 1 { 3 } else { no };
                    let f = FlatForest::new(&trees, &agg, nf, no, ns);
                    let mut scratch = ForestScratch::default();
                    let mut got = vec![0.0f32; n_rows * no];
                    f.predict(&x, n_rows, &mut got, &mut scratch);
                    let same = want
                        .iter()
                        .zip(&got)
                        .all(|(a, b)| a.to_bits() == b.to_bits());
                    assert!(
                        same,
                        "{agg:?}, {n_rows} rows, {n_trees} trees: {want:?} vs {got:?}"
                    );
                }
            }
        }
    }
}
