//! Tree candidates: a single decision tree (`tree`) and a random forest (`forest`), for
//! classification (Gini impurity, majority leaves) and regression (squared error, mean
//! leaves), trained on binned features by `tradeoff-hist`.
//!
//! Why ours and not a library's: smartcore's CART (used before) scans every row at every node
//! and took 10 s for one depth-15 tree on 90,000 rows; linfa-trees is not reproducible under
//! a fixed seed (its class counts live in `HashMap`s); LightGBM's random-forest mode would
//! bring a C++ build and its own leaf values (not majority votes). Histogram trees do a node
//! in one pass over its rows per feature, and their bin edges are `f32` thresholds in the
//! IR's own `x < t` rule, so the export is exact by construction.

use tradeoff_data::data::{Dataset, Task};
use tradeoff_data::protocol::{ParamSpec, Params, Trainer};
use tradeoff_hist::{fit_forest, fit_tree, BinnedTree, Bins, Target, TreeParams, MAX_BINS};
use tradeoff_ir::ir::{Aggregation, Body, ModelIr, Tree, IR_VERSION};
use tradeoff_ir::rng::Rng;
use tradeoff_ir::Result;

use crate::convert::param;
use crate::Fitted;

/// Binned trees and what the IR needs beside them.
pub struct FittedTrees {
    bins: Bins,
    trees: Vec<BinnedTree>,
    classification: bool,
    n_classes: usize,
}

fn target(ds: &Dataset) -> Target {
    if ds.task.is_classification() {
        Target::classes(&ds.y, ds.n_classes())
    } else {
        Target::values(&ds.y)
    }
}

/// The largest depth tuned, which stands for scikit-learn's unbounded default: a tree grown
/// with one row a leaf stops where its leaves are pure or their rows share every bin.
pub const UNBOUNDED_DEPTH: usize = 64;

fn shape(candidate: &str, params: &Params, max_features: usize) -> Result<TreeParams> {
    Ok(TreeParams {
        max_depth: param(candidate, params, "max_depth")? as usize,
        min_leaf: param(candidate, params, "min_leaf")? as usize,
        max_features,
    })
}

impl FittedTrees {
    /// Fits `n_trees` trees: one on every row with every feature (`forest == false`), or a
    /// forest of bootstrap samples.
    fn fit(
        candidate: &str,
        ds: &Dataset,
        params: &Params,
        seed: u64,
        forest: bool,
    ) -> Result<FittedTrees> {
        let bins = Bins::new(&ds.x, ds.n_rows, ds.n_features, MAX_BINS, seed);
        let target = target(ds);
        let trees = if forest {
            let n_trees = param(candidate, params, "trees")? as usize;
            // Features tried at each split, as a fraction of all features (sklearn's
            // max_features).
            let share = param(candidate, params, "features")?;
            // Less a hair, so that a share of k / features gives k whatever the rounding.
            let m = ((ds.n_features as f64 * share - 1e-9).ceil() as usize).clamp(1, ds.n_features);
            fit_forest(&bins, &target, n_trees, shape(candidate, params, m)?, seed)
        } else {
            let rows = (0..ds.n_rows as u32).collect();
            let p = shape(candidate, params, ds.n_features)?;
            vec![fit_tree(
                &bins,
                &target,
                rows,
                p,
                &mut Rng::derive(seed, "tree"),
            )]
        };
        Ok(FittedTrees {
            bins,
            trees,
            classification: ds.task.is_classification(),
            n_classes: ds.n_classes(),
        })
    }
}

impl Fitted for FittedTrees {
    fn to_ir(&self) -> Result<ModelIr> {
        let trees = self
            .trees
            .iter()
            .map(|t| Tree {
                output: 0,
                nodes: t.to_ir_nodes(&self.bins),
            })
            .collect();
        Ok(ModelIr {
            ir_version: IR_VERSION,
            n_features: self.bins.n_features,
            n_outputs: if self.classification {
                self.n_classes
            } else {
                1
            },
            classification: self.classification,
            standardize: None,
            body: Body::Trees {
                trees,
                aggregation: if self.classification {
                    Aggregation::Vote
                } else {
                    Aggregation::Mean
                },
            },
        })
    }

    /// Predicts on bins: each row binned with the fit's edges, each tree walked on bin
    /// codes (`bin <= b`), votes counted or leaf values averaged in `f64`. The IR's thresholds
    /// must route every row the same way.
    fn library_predict(&self, x: &Dataset) -> Vec<f32> {
        let nf = self.bins.n_features;
        let mut out = Vec::with_capacity(x.n_rows * self.n_classes.max(1));
        let mut codes = vec![0u8; nf];
        for row in x.x.chunks_exact(nf) {
            self.bins.row_codes(row, &mut codes);
            let leaves = self.trees.iter().map(|t| t.predict_codes(&codes));
            if self.classification {
                let mut votes = vec![0usize; self.n_classes];
                leaves.for_each(|c| votes[c as usize] += 1);
                let n = self.trees.len() as f32;
                out.extend(votes.iter().map(|v| *v as f32 / n));
            } else {
                let sum: f64 = leaves.map(|v| v as f64).sum();
                out.push((sum / self.trees.len() as f64) as f32);
            }
        }
        out
    }
}

/// One CART decision tree (Gini impurity for classification, squared error for regression).
pub struct SingleTree;

impl SingleTree {
    pub fn native(&self, ds: &Dataset, params: &Params, seed: u64) -> Result<Box<dyn Fitted>> {
        Ok(Box::new(FittedTrees::fit("tree", ds, params, seed, false)?))
    }
}

impl Trainer for SingleTree {
    fn id(&self) -> &'static str {
        "tree"
    }
    fn family(&self) -> &'static str {
        "tree"
    }
    fn supports(&self, _task: Task) -> std::result::Result<(), String> {
        Ok(())
    }
    fn space(&self, _task: Task) -> Vec<ParamSpec> {
        vec![
            ParamSpec::log_int("max_depth", 2.0, UNBOUNDED_DEPTH as f64),
            ParamSpec::log_int("min_leaf", 1.0, 32.0),
        ]
    }
    /// scikit-learn's `DecisionTree*` defaults: unbounded depth, one row a leaf.
    fn defaults(&self, _task: Task, _rows: usize, _features: usize) -> Option<Params> {
        Some(
            [
                ("max_depth".to_string(), UNBOUNDED_DEPTH as f64),
                ("min_leaf".to_string(), 1.0),
            ]
            .into(),
        )
    }
    fn fit(&self, train: &Dataset, params: &Params, seed: u64) -> Result<ModelIr> {
        self.native(train, params, seed)?.to_ir()
    }
    fn library(&self, _task: Task) -> &'static str {
        "tradeoff-hist (histogram CART)"
    }
}

/// A random forest: bootstrap samples and a random subset of features at each split; majority
/// vote (classification) or mean (regression). Trees grow on every core.
pub struct Forest;

impl Forest {
    pub fn native(&self, ds: &Dataset, params: &Params, seed: u64) -> Result<Box<dyn Fitted>> {
        Ok(Box::new(FittedTrees::fit(
            "forest", ds, params, seed, true,
        )?))
    }
}

impl Trainer for Forest {
    fn id(&self) -> &'static str {
        "forest"
    }
    fn family(&self) -> &'static str {
        "forest"
    }
    fn supports(&self, _task: Task) -> std::result::Result<(), String> {
        Ok(())
    }
    fn space(&self, _task: Task) -> Vec<ParamSpec> {
        vec![
            ParamSpec::log_int("trees", 10.0, 200.0),
            ParamSpec::log_int("max_depth", 4.0, UNBOUNDED_DEPTH as f64),
            ParamSpec::log_int("min_leaf", 1.0, 16.0),
            ParamSpec::log_float("features", 0.01, 1.0),
        ]
    }
    /// scikit-learn's `RandomForest*` defaults: 100 trees of unbounded depth, one row a
    /// leaf, `sqrt(features)` of the features tried at each split for classification and all
    /// of them for regression.
    fn defaults(&self, task: Task, _rows: usize, features: usize) -> Option<Params> {
        let share = if task.is_classification() {
            ((features as f64).sqrt().floor().max(1.0) / features.max(1) as f64).max(0.01)
        } else {
            1.0
        };
        Some(
            [
                ("trees".to_string(), 100.0),
                ("max_depth".to_string(), UNBOUNDED_DEPTH as f64),
                ("min_leaf".to_string(), 1.0),
                ("features".to_string(), share),
            ]
            .into(),
        )
    }
    fn fit(&self, train: &Dataset, params: &Params, seed: u64) -> Result<ModelIr> {
        self.native(train, params, seed)?.to_ir()
    }
    fn library(&self, _task: Task) -> &'static str {
        "tradeoff-hist (histogram random forest)"
    }
}
