//! Tree candidates: a single decision tree (`tree`) and a random forest (`forest`).
//!
//! Classification trains with `linfa-trees` / `linfa-ensemble` on `f32` features, so split
//! values are exact `f32`s and linfa's `x < split` rule is ours. Regression trains with
//! `smartcore`, whose rule is `x <= split` on `f64`; the export converts each threshold so the
//! comparison gives the same branch for every `f32` input.

use linfa::prelude::*;
use linfa_ensemble::{EnsembleLearner, RandomForestParams};
use linfa_trees::{DecisionTree, TreeNode};
use rand::rngs::SmallRng;
use rand::SeedableRng;
use serde_json::Value;
use smartcore::ensemble::random_forest_regressor::{
    RandomForestRegressor, RandomForestRegressorParameters,
};
use smartcore::linalg::basic::matrix::DenseMatrix;
use smartcore::tree::decision_tree_regressor::{
    DecisionTreeRegressor, DecisionTreeRegressorParameters,
};
use tradeoff_core::data::{Dataset, Task};
use tradeoff_core::ir::{threshold_for_le, Aggregation, Body, ModelIr, Node, Tree, IR_VERSION};
use tradeoff_core::protocol::{ParamSpec, Params, Trainer};
use tradeoff_core::{Error, Result};

use crate::convert::{flatten, labels, lib_err, one_hot, param, x_f32, RawNode};
use crate::Fitted;

type Matrix = DenseMatrix<f64>;

fn dense(ds: &Dataset) -> Result<Matrix> {
    let x: Vec<f64> = ds.x.iter().map(|v| *v as f64).collect();
    DenseMatrix::new(ds.n_rows, ds.n_features, x, false).map_err(|e| Error::Model(e.to_string()))
}

/// Flattens a linfa tree; `features` maps the tree's column index to the dataset's (forests
/// train each tree on a subset of columns).
fn linfa_tree(root: &TreeNode<f32, usize>, features: Option<&[usize]>) -> Result<Tree> {
    let mut nodes = Vec::new();
    fn walk(
        n: &TreeNode<f32, usize>,
        features: Option<&[usize]>,
        out: &mut Vec<Node>,
    ) -> Result<()> {
        if let Some(label) = n.prediction() {
            out.push(Node::leaf(label as f32));
            return Ok(());
        }
        let (feature, split, _) = n.split();
        let children = n.children();
        let (Some(left), Some(right)) = (children[0].as_deref(), children[1].as_deref()) else {
            return Err(Error::Model("linfa split node without two children".into()));
        };
        let slot = out.len();
        let feature = match features {
            Some(f) => *f
                .get(feature)
                .ok_or_else(|| Error::Model("forest feature index out of range".into()))?,
            None => feature,
        };
        out.push(Node {
            feature: feature as u32,
            threshold: split,
            left: 0,
            right: 0,
            value: 0.0,
        });
        out[slot].left = out.len() as u32;
        walk(left, features, out)?;
        out[slot].right = out.len() as u32;
        walk(right, features, out)
    }
    walk(root, features, &mut nodes)?;
    Ok(Tree { output: 0, nodes })
}

/// Flattens a smartcore tree from its serde form (`nodes` with `split_feature`,
/// `split_value`, `true_child` for `x <= split`, `false_child`, `output`).
fn smartcore_tree(tree: &Value) -> Result<Tree> {
    let bad = |what: &str| Error::Model(format!("unexpected smartcore tree layout: {what}"));
    let nodes = tree
        .get("nodes")
        .and_then(Value::as_array)
        .ok_or_else(|| bad("no nodes"))?;
    let nodes = flatten(nodes.len(), |i| {
        let n = nodes
            .get(i)
            .ok_or_else(|| bad("child index out of range"))?;
        let output = n
            .get("output")
            .and_then(Value::as_f64)
            .ok_or_else(|| bad("output"))?;
        match (
            n.get("true_child").and_then(Value::as_u64),
            n.get("false_child").and_then(Value::as_u64),
        ) {
            (Some(t), Some(f)) => Ok(RawNode::Split {
                feature: n
                    .get("split_feature")
                    .and_then(Value::as_u64)
                    .ok_or_else(|| bad("split_feature"))? as u32,
                threshold: threshold_for_le(
                    n.get("split_value")
                        .and_then(Value::as_f64)
                        .ok_or_else(|| bad("split_value"))?,
                ),
                left: t as usize,
                right: f as usize,
            }),
            _ => Ok(RawNode::Leaf(output as f32)),
        }
    })?;
    Ok(Tree { output: 0, nodes })
}

fn serde_value(model: &impl serde::Serialize) -> Result<Value> {
    serde_json::to_value(model).map_err(|e| Error::Model(e.to_string()))
}

fn tree_ir(
    ds_features: usize,
    n_outputs: usize,
    trees: Vec<Tree>,
    aggregation: Aggregation,
) -> ModelIr {
    ModelIr {
        ir_version: IR_VERSION,
        n_features: ds_features,
        n_outputs,
        classification: matches!(aggregation, Aggregation::Vote),
        standardize: None,
        body: Body::Trees { trees, aggregation },
    }
}

/// `max_depth` and `min_leaf` as the libraries take them.
fn depth_and_leaf(candidate: &str, params: &Params) -> Result<(usize, usize)> {
    Ok((
        param(candidate, params, "max_depth")? as usize,
        param(candidate, params, "min_leaf")? as usize,
    ))
}

/// One CART decision tree.
pub struct SingleTree;

enum TreeModel {
    Classifier(DecisionTree<f32, usize>),
    Regressor(DecisionTreeRegressor<f64, f64, Matrix, Vec<f64>>),
}

pub struct FittedTree {
    model: TreeModel,
    n_features: usize,
    n_classes: usize,
}

impl SingleTree {
    pub fn native(&self, ds: &Dataset, params: &Params, seed: u64) -> Result<Box<dyn Fitted>> {
        let (depth, leaf) = depth_and_leaf("tree", params)?;
        let model = if ds.task.is_classification() {
            let data = linfa::Dataset::new(x_f32(ds), labels(ds));
            TreeModel::Classifier(
                DecisionTree::params()
                    .max_depth(Some(depth))
                    .min_weight_leaf(leaf as f32)
                    .min_weight_split(2.0 * leaf as f32)
                    .fit(&data)
                    .map_err(|e| lib_err("tree", e))?,
            )
        } else {
            let p = DecisionTreeRegressorParameters {
                max_depth: Some(depth as u16),
                min_samples_leaf: leaf,
                min_samples_split: 2 * leaf,
                seed: Some(seed),
            };
            TreeModel::Regressor(
                DecisionTreeRegressor::fit(
                    &dense(ds)?,
                    &ds.y.iter().map(|v| *v as f64).collect(),
                    p,
                )
                .map_err(|e| lib_err("tree", e))?,
            )
        };
        Ok(Box::new(FittedTree {
            model,
            n_features: ds.n_features,
            n_classes: ds.n_classes(),
        }))
    }
}

impl Fitted for FittedTree {
    fn to_ir(&self) -> Result<ModelIr> {
        Ok(match &self.model {
            TreeModel::Classifier(t) => tree_ir(
                self.n_features,
                self.n_classes,
                vec![linfa_tree(t.root_node(), None)?],
                Aggregation::Vote,
            ),
            TreeModel::Regressor(t) => {
                let v = serde_value(t)?;
                let tree = v
                    .get("tree_regressor")
                    .ok_or_else(|| Error::Model("smartcore tree without tree_regressor".into()))?;
                tree_ir(
                    self.n_features,
                    1,
                    vec![smartcore_tree(tree)?],
                    Aggregation::Mean,
                )
            }
        })
    }
    fn library_predict(&self, x: &Dataset) -> Vec<f32> {
        match &self.model {
            TreeModel::Classifier(t) => {
                let p: ndarray::Array1<usize> = t.predict(&x_f32(x));
                one_hot(p.iter().copied(), self.n_classes)
            }
            TreeModel::Regressor(t) => t
                .predict(&dense(x).expect("dataset shape is valid"))
                .expect("smartcore predicts on a matrix of the training width")
                .iter()
                .map(|v| *v as f32)
                .collect(),
        }
    }
}

impl Trainer for SingleTree {
    fn family(&self) -> &'static str {
        "tree"
    }
    fn id(&self) -> &'static str {
        "tree"
    }
    fn ladder_rank(&self) -> u32 {
        1
    }
    fn supports(&self, _task: Task) -> std::result::Result<(), String> {
        Ok(())
    }
    fn space(&self, _task: Task) -> Vec<ParamSpec> {
        vec![
            ParamSpec::int("max_depth", 2.0, 16.0),
            ParamSpec::log_int("min_leaf", 1.0, 32.0),
        ]
    }
    fn fit(&self, train: &Dataset, params: &Params, seed: u64) -> Result<ModelIr> {
        self.native(train, params, seed)?.to_ir()
    }
    fn library(&self, task: Task) -> &'static str {
        if task.is_classification() {
            "linfa-trees"
        } else {
            "smartcore"
        }
    }
}

/// A random forest: bagged trees on random feature subsets, votes (classification) or mean
/// (regression).
pub struct Forest;

enum ForestModel {
    Classifier(EnsembleLearner<DecisionTree<f32, usize>>),
    Regressor(RandomForestRegressor<f64, f64, Matrix, Vec<f64>>),
}

pub struct FittedForest {
    model: ForestModel,
    n_features: usize,
    n_classes: usize,
}

impl Forest {
    pub fn native(&self, ds: &Dataset, params: &Params, seed: u64) -> Result<Box<dyn Fitted>> {
        let (depth, leaf) = depth_and_leaf("forest", params)?;
        let trees = param("forest", params, "trees")? as usize;
        let features = param("forest", params, "features")?;
        let model = if ds.task.is_classification() {
            let data = linfa::Dataset::new(x_f32(ds), labels(ds));
            let tree = DecisionTree::params()
                .max_depth(Some(depth))
                .min_weight_leaf(leaf as f32)
                .min_weight_split(2.0 * leaf as f32);
            ForestModel::Classifier(
                RandomForestParams::new_fixed_rng(tree, SmallRng::seed_from_u64(seed))
                    .ensemble_size(trees)
                    .bootstrap_proportion(1.0)
                    .feature_proportion(features)
                    .fit(&data)
                    .map_err(|e| lib_err("forest", e))?,
            )
        } else {
            let m = ((ds.n_features as f64 * features).ceil() as usize).clamp(1, ds.n_features);
            let p = RandomForestRegressorParameters {
                max_depth: Some(depth as u16),
                min_samples_leaf: leaf,
                min_samples_split: 2 * leaf,
                n_trees: trees,
                m: Some(m),
                keep_samples: false,
                seed,
            };
            ForestModel::Regressor(
                RandomForestRegressor::fit(
                    &dense(ds)?,
                    &ds.y.iter().map(|v| *v as f64).collect(),
                    p,
                )
                .map_err(|e| lib_err("forest", e))?,
            )
        };
        Ok(Box::new(FittedForest {
            model,
            n_features: ds.n_features,
            n_classes: ds.n_classes(),
        }))
    }
}

impl Fitted for FittedForest {
    fn to_ir(&self) -> Result<ModelIr> {
        Ok(match &self.model {
            ForestModel::Classifier(f) => {
                let trees = f
                    .models
                    .iter()
                    .zip(&f.model_features)
                    .map(|(t, feats)| linfa_tree(t.root_node(), Some(feats)))
                    .collect::<Result<Vec<_>>>()?;
                tree_ir(self.n_features, self.n_classes, trees, Aggregation::Vote)
            }
            ForestModel::Regressor(f) => {
                let v = serde_value(f)?;
                let trees = v
                    .pointer("/forest_regressor/trees")
                    .and_then(Value::as_array)
                    .ok_or_else(|| Error::Model("smartcore forest without trees".into()))?
                    .iter()
                    .map(smartcore_tree)
                    .collect::<Result<Vec<_>>>()?;
                tree_ir(self.n_features, 1, trees, Aggregation::Mean)
            }
        })
    }
    fn library_predict(&self, x: &Dataset) -> Vec<f32> {
        match &self.model {
            ForestModel::Classifier(f) => {
                let p: ndarray::Array1<usize> = f.predict(&x_f32(x));
                one_hot(p.iter().copied(), self.n_classes)
            }
            ForestModel::Regressor(f) => f
                .predict(&dense(x).expect("dataset shape is valid"))
                .expect("smartcore predicts on a matrix of the training width")
                .iter()
                .map(|v| *v as f32)
                .collect(),
        }
    }
}

impl Trainer for Forest {
    fn family(&self) -> &'static str {
        "forest"
    }
    fn id(&self) -> &'static str {
        "forest"
    }
    fn ladder_rank(&self) -> u32 {
        2
    }
    fn supports(&self, _task: Task) -> std::result::Result<(), String> {
        Ok(())
    }
    fn space(&self, _task: Task) -> Vec<ParamSpec> {
        vec![
            ParamSpec::log_int("trees", 10.0, 200.0),
            ParamSpec::int("max_depth", 4.0, 16.0),
            ParamSpec::log_int("min_leaf", 1.0, 16.0),
            ParamSpec::float("features", 0.2, 1.0),
        ]
    }
    fn fit(&self, train: &Dataset, params: &Params, seed: u64) -> Result<ModelIr> {
        self.native(train, params, seed)?.to_ir()
    }
    fn library(&self, task: Task) -> &'static str {
        if task.is_classification() {
            "linfa-ensemble"
        } else {
            "smartcore"
        }
    }
}
