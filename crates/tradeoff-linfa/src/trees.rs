//! Tree candidates: a single decision tree (`tree`) and a random forest (`forest`), both
//! trained with `smartcore`, for classification and regression.
//!
//! linfa has classification trees and forests, but `linfa-trees` 0.8 is not reproducible: the
//! same data, parameters and seed give different trees from one process to the next (its
//! class counts live in `HashMap`s, whose random iteration order changes impurity sums and
//! tie-breaks). Fixed seeds are a rule here, so trees come from smartcore.
//!
//! smartcore splits on `x <= v` in `f64`; the export converts each threshold so our `x < t`
//! rule in `f32` sends every `f32` input down the same branch.

use serde_json::Value;
use smartcore::ensemble::random_forest_classifier::{
    RandomForestClassifier, RandomForestClassifierParameters,
};
use smartcore::ensemble::random_forest_regressor::{
    RandomForestRegressor, RandomForestRegressorParameters,
};
use smartcore::linalg::basic::matrix::DenseMatrix;
use smartcore::tree::decision_tree_classifier::{
    DecisionTreeClassifier, DecisionTreeClassifierParameters, SplitCriterion,
};
use smartcore::tree::decision_tree_regressor::{
    DecisionTreeRegressor, DecisionTreeRegressorParameters,
};
use tradeoff_core::data::{Dataset, Task};
use tradeoff_core::ir::{threshold_for_le, Aggregation, Body, ModelIr, Tree, IR_VERSION};
use tradeoff_core::protocol::{ParamSpec, Params, Trainer};
use tradeoff_core::{Error, Result};

use crate::convert::{flatten, lib_err, one_hot, param, RawNode};
use crate::Fitted;

type Matrix = DenseMatrix<f64>;

fn dense(ds: &Dataset) -> Result<Matrix> {
    let x: Vec<f64> = ds.x.iter().map(|v| *v as f64).collect();
    DenseMatrix::new(ds.n_rows, ds.n_features, x, false).map_err(|e| Error::Model(e.to_string()))
}

fn values(ds: &Dataset) -> Vec<f64> {
    ds.y.iter().map(|v| *v as f64).collect()
}

/// Flattens a smartcore tree from its serde form (`nodes` with `split_feature`,
/// `split_value`, `true_child` for `x <= split`, `false_child`, `output`). Classifier leaves
/// hold an index into `classes`, mapped back to our class index.
fn smartcore_tree(tree: &Value, classes: Option<&[usize]>) -> Result<Tree> {
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
            _ => Ok(RawNode::Leaf(match classes {
                Some(c) => {
                    *c.get(output as usize)
                        .ok_or_else(|| bad("leaf class out of range"))? as f32
                }
                None => output as f32,
            })),
        }
    })?;
    Ok(Tree { output: 0, nodes })
}

fn serde_value(model: &impl serde::Serialize) -> Result<Value> {
    serde_json::to_value(model).map_err(|e| Error::Model(e.to_string()))
}

/// The `classes` list of a serialized smartcore classifier.
fn classes_of(v: &Value) -> Result<Vec<usize>> {
    v.get("classes")
        .and_then(Value::as_array)
        .ok_or_else(|| Error::Model("smartcore classifier without classes".into()))?
        .iter()
        .map(|c| {
            c.as_u64()
                .map(|c| c as usize)
                .ok_or_else(|| Error::Model("non-integer class".into()))
        })
        .collect()
}

fn class_labels(ds: &Dataset) -> Vec<u32> {
    ds.y.iter().map(|v| *v as u32).collect()
}

fn tree_ir(
    n_features: usize,
    n_outputs: usize,
    trees: Vec<Tree>,
    aggregation: Aggregation,
) -> ModelIr {
    ModelIr {
        ir_version: IR_VERSION,
        n_features,
        n_outputs,
        classification: matches!(aggregation, Aggregation::Vote),
        standardize: None,
        body: Body::Trees { trees, aggregation },
    }
}

/// `max_depth` and `min_leaf` as the libraries take them.
fn depth_and_leaf(candidate: &str, params: &Params) -> Result<(u16, usize)> {
    Ok((
        param(candidate, params, "max_depth")? as u16,
        param(candidate, params, "min_leaf")? as usize,
    ))
}

/// Library predictions as our output rows: one-hot rows for classifiers, values otherwise.
fn library_rows(labels: Result<Vec<u32>, smartcore::error::Failed>, n_classes: usize) -> Vec<f32> {
    one_hot(
        labels
            .expect("smartcore predicts on a matrix of the training width")
            .iter()
            .map(|c| *c as usize),
        n_classes,
    )
}

fn library_values(values: Result<Vec<f64>, smartcore::error::Failed>) -> Vec<f32> {
    values
        .expect("smartcore predicts on a matrix of the training width")
        .iter()
        .map(|v| *v as f32)
        .collect()
}

/// One CART decision tree (Gini impurity for classification, variance for regression).
pub struct SingleTree;

enum TreeModel {
    Classifier(DecisionTreeClassifier<f64, u32, Matrix, Vec<u32>>),
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
        let x = dense(ds)?;
        let model = if ds.task.is_classification() {
            let p = DecisionTreeClassifierParameters {
                criterion: SplitCriterion::Gini,
                max_depth: Some(depth),
                min_samples_leaf: leaf,
                min_samples_split: 2 * leaf,
                seed: Some(seed),
            };
            TreeModel::Classifier(
                DecisionTreeClassifier::fit(&x, &class_labels(ds), p)
                    .map_err(|e| lib_err("tree", e))?,
            )
        } else {
            let p = DecisionTreeRegressorParameters {
                max_depth: Some(depth),
                min_samples_leaf: leaf,
                min_samples_split: 2 * leaf,
                seed: Some(seed),
            };
            TreeModel::Regressor(
                DecisionTreeRegressor::fit(&x, &values(ds), p).map_err(|e| lib_err("tree", e))?,
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
            TreeModel::Classifier(t) => {
                let v = serde_value(t)?;
                let tree = smartcore_tree(&v, Some(&classes_of(&v)?))?;
                tree_ir(
                    self.n_features,
                    self.n_classes,
                    vec![tree],
                    Aggregation::Vote,
                )
            }
            TreeModel::Regressor(t) => {
                let v = serde_value(t)?;
                let tree = v
                    .get("tree_regressor")
                    .ok_or_else(|| Error::Model("smartcore tree without tree_regressor".into()))?;
                tree_ir(
                    self.n_features,
                    1,
                    vec![smartcore_tree(tree, None)?],
                    Aggregation::Mean,
                )
            }
        })
    }

    fn library_predict(&self, x: &Dataset) -> Vec<f32> {
        let m = dense(x).expect("a Dataset has a valid shape");
        match &self.model {
            TreeModel::Classifier(t) => library_rows(t.predict(&m), self.n_classes),
            TreeModel::Regressor(t) => library_values(t.predict(&m)),
        }
    }
}

impl Trainer for SingleTree {
    fn id(&self) -> &'static str {
        "tree"
    }
    fn family(&self) -> &'static str {
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
    fn library(&self, _task: Task) -> &'static str {
        "smartcore"
    }
}

/// A random forest: bootstrap samples and a random subset of features at each split; majority
/// vote (classification) or mean (regression).
pub struct Forest;

enum ForestModel {
    Classifier(RandomForestClassifier<f64, u32, Matrix, Vec<u32>>),
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
        // Features tried at each split, as a fraction of all features (sklearn's max_features).
        let features = param("forest", params, "features")?;
        let m = ((ds.n_features as f64 * features).ceil() as usize).clamp(1, ds.n_features);
        let x = dense(ds)?;
        let model = if ds.task.is_classification() {
            let p = RandomForestClassifierParameters {
                criterion: SplitCriterion::Gini,
                max_depth: Some(depth),
                min_samples_leaf: leaf,
                min_samples_split: 2 * leaf,
                n_trees: trees as u16,
                m: Some(m),
                keep_samples: false,
                seed,
            };
            ForestModel::Classifier(
                RandomForestClassifier::fit(&x, &class_labels(ds), p)
                    .map_err(|e| lib_err("forest", e))?,
            )
        } else {
            let p = RandomForestRegressorParameters {
                max_depth: Some(depth),
                min_samples_leaf: leaf,
                min_samples_split: 2 * leaf,
                n_trees: trees,
                m: Some(m),
                keep_samples: false,
                seed,
            };
            ForestModel::Regressor(
                RandomForestRegressor::fit(&x, &values(ds), p).map_err(|e| lib_err("forest", e))?,
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
        let bad = || Error::Model("smartcore forest without trees".into());
        Ok(match &self.model {
            ForestModel::Classifier(f) => {
                // Every tree's leaves index the forest's class list.
                let v = serde_value(f)?;
                let classes = classes_of(&v)?;
                let trees = v
                    .get("trees")
                    .and_then(Value::as_array)
                    .ok_or_else(bad)?
                    .iter()
                    .map(|t| smartcore_tree(t, Some(&classes)))
                    .collect::<Result<Vec<_>>>()?;
                tree_ir(self.n_features, self.n_classes, trees, Aggregation::Vote)
            }
            ForestModel::Regressor(f) => {
                let v = serde_value(f)?;
                let trees = v
                    .pointer("/forest_regressor/trees")
                    .and_then(Value::as_array)
                    .ok_or_else(bad)?
                    .iter()
                    .map(|t| smartcore_tree(t, None))
                    .collect::<Result<Vec<_>>>()?;
                tree_ir(self.n_features, 1, trees, Aggregation::Mean)
            }
        })
    }

    fn library_predict(&self, x: &Dataset) -> Vec<f32> {
        let m = dense(x).expect("a Dataset has a valid shape");
        match &self.model {
            ForestModel::Classifier(f) => library_rows(f.predict(&m), self.n_classes),
            ForestModel::Regressor(f) => library_values(f.predict(&m)),
        }
    }
}

impl Trainer for Forest {
    fn id(&self) -> &'static str {
        "forest"
    }
    fn family(&self) -> &'static str {
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
    fn library(&self, _task: Task) -> &'static str {
        "smartcore"
    }
}
