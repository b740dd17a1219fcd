//! `tradeoff-hist`: decision trees, random forests and gradient boosting trained on binned
//! features, exported to the portable IR.
//!
//! Features are binned once per fit ([`Bins`]: at most 256 bins a feature, edges from at most
//! 200,000 rows), and every tree of a forest reuses them. Trees grow by histograms
//! ([`tree`]): the cost of a node is its rows times its features, not a sort. A forest's
//! trees grow on every core, each from its own random stream derived from the seed and its
//! index, so a forest is the same whatever the thread count. Boosting ([`boost`]) grows one
//! tree a round (a class) on gradients and hessians, its large nodes' histograms counted on
//! every core.
//!
//! Bins are placed on each fit's own training rows, so cross-validation folds never see the
//! validation rows' values (a fold's fit does not reuse bins from the whole training set).

pub mod bins;
pub mod boost;
pub mod tree;

use rayon::prelude::*;
use tradeoff_ir::rng::Rng;

pub use bins::{Bins, MAX_BINS};
pub use boost::{fit_boost, BoostParams, Booster, Loss, ABSENT_CLASS_LOGIT};
pub use tree::{fit_tree, BinnedNode, BinnedTree, Gradients, Target, TreeParams};

/// Grows `n_trees` trees, each on a bootstrap sample (as many draws with replacement as there
/// are rows) with `params.max_features` features drawn at each split. Trees grow in parallel;
/// tree `t` draws from `Rng::derive(seed, "forest-tree-{t}")` alone, so the forest does not
/// depend on the thread count.
pub fn fit_forest(
    bins: &Bins,
    target: &Target,
    n_trees: usize,
    params: TreeParams,
    seed: u64,
) -> Vec<BinnedTree> {
    let n = bins.n_rows;
    (0..n_trees)
        .into_par_iter()
        .map(|t| {
            let mut rng = Rng::derive(seed, &format!("forest-tree-{t}"));
            let rows: Vec<u32> = (0..n).map(|_| rng.below(n) as u32).collect();
            fit_tree(bins, target, rows, params, &mut rng)
        })
        .collect()
}

#[cfg(test)]
mod tests;
