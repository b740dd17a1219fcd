//! Gradient-boosted trees (`gbm`) with `forust-ml`: squared loss for regression, log loss for
//! binary classification, and one booster per class (one-vs-rest) for multiclass, since
//! forust has no softmax objective.

use forust_ml::data::Matrix;
use forust_ml::gradientbooster::GradientBooster;
use forust_ml::objective::ObjectiveType;
use tradeoff_core::data::{Dataset, Task};
use tradeoff_core::ir::{ceil_f32, sigmoid, Aggregation, Body, Link, ModelIr, Tree, IR_VERSION};
use tradeoff_core::protocol::{ParamSpec, Params, Trainer};
use tradeoff_core::{Error, Result};

use crate::convert::{flatten, lib_err, param, RawNode};
use crate::Fitted;

pub struct Gbm;

/// Logit of a class with no training rows: its sigmoid is 0, so it is never predicted.
/// (forust would start such a booster from a base score of minus infinity.)
const ABSENT_CLASS_LOGIT: f32 = -1e30;

pub struct FittedGbm {
    /// One booster, or one per class (one-vs-rest); `None` for a class absent from the
    /// training rows (its logit is [`ABSENT_CLASS_LOGIT`]: probability 0).
    boosters: Vec<Option<GradientBooster>>,
    task: Task,
    n_features: usize,
    n_classes: usize,
}

/// Column-major `f64` copy of the features, forust's layout.
fn column_major(ds: &Dataset) -> Vec<f64> {
    let mut out = Vec::with_capacity(ds.x.len());
    for j in 0..ds.n_features {
        out.extend((0..ds.n_rows).map(|i| ds.x[i * ds.n_features + j] as f64));
    }
    out
}

impl Gbm {
    pub fn native(&self, ds: &Dataset, params: &Params, seed: u64) -> Result<Box<dyn Fitted>> {
        let make = |objective| -> Result<GradientBooster> {
            let mut b = GradientBooster::default();
            b.objective_type = objective;
            b.iterations = param("gbm", params, "iterations")? as usize;
            b.learning_rate = param("gbm", params, "learning_rate")? as f32;
            b.max_depth = param("gbm", params, "max_depth")? as usize;
            b.l2 = param("gbm", params, "l2")? as f32;
            b.seed = seed;
            // Histograms on every core, as scikit-learn's and LightGBM's boosting do.
            b.parallel = true;
            Ok(b)
        };
        let data = column_major(ds);
        let matrix = Matrix::new(&data, ds.n_rows, ds.n_features);
        let weights = vec![1.0; ds.n_rows];
        let fit = |objective, y: Vec<f64>| -> Result<GradientBooster> {
            let mut b = make(objective)?;
            b.fit(&matrix, &y, &weights, None)
                .map_err(|e| lib_err("gbm", e))?;
            Ok(b)
        };
        let boosters = match ds.task {
            Task::Regression => vec![Some(fit(
                ObjectiveType::SquaredLoss,
                ds.y.iter().map(|v| *v as f64).collect(),
            )?)],
            Task::Binary => vec![Some(fit(
                ObjectiveType::LogLoss,
                ds.y.iter().map(|v| *v as f64).collect(),
            )?)],
            Task::Multiclass => {
                let counts = ds.class_counts();
                (0..ds.n_classes())
                    .map(|c| {
                        if counts[c] == 0 {
                            return Ok(None);
                        }
                        let y = ds.y.iter().map(|v| f64::from(*v as usize == c)).collect();
                        fit(ObjectiveType::LogLoss, y).map(Some)
                    })
                    .collect::<Result<_>>()?
            }
        };
        Ok(Box::new(FittedGbm {
            boosters,
            task: ds.task,
            n_features: ds.n_features,
            n_classes: ds.n_classes(),
        }))
    }
}

/// forust sends a row left when `x < split_value` (`f64`), our rule once the threshold is
/// rounded up to `f32`.
fn forust_tree(t: &forust_ml::tree::Tree, output: u32) -> Result<Tree> {
    let by_num: std::collections::HashMap<usize, usize> = t
        .nodes
        .iter()
        .enumerate()
        .map(|(i, n)| (n.num, i))
        .collect();
    let bad = || Error::Model("forust tree refers to a missing node".into());
    let nodes = flatten(t.nodes.len(), |num| {
        let n = &t.nodes[*by_num.get(&num).ok_or_else(bad)?];
        Ok(if n.is_leaf {
            RawNode::Leaf(n.weight_value)
        } else {
            RawNode::Split {
                feature: n.split_feature as u32,
                threshold: ceil_f32(n.split_value),
                left: n.left_child,
                right: n.right_child,
            }
        })
    })?;
    Ok(Tree { output, nodes })
}

impl Fitted for FittedGbm {
    fn to_ir(&self) -> Result<ModelIr> {
        let mut trees = Vec::new();
        for (k, b) in self.boosters.iter().enumerate() {
            let Some(b) = b else { continue };
            let n = b
                .prediction_iteration
                .unwrap_or(b.trees.len())
                .min(b.trees.len());
            for t in &b.trees[..n] {
                trees.push(forust_tree(t, k as u32)?);
            }
        }
        let link = match self.task {
            Task::Regression => Link::Identity,
            Task::Binary => Link::Sigmoid,
            Task::Multiclass => Link::OvrSigmoid,
        };
        Ok(ModelIr {
            ir_version: IR_VERSION,
            n_features: self.n_features,
            n_outputs: if self.task.is_classification() {
                self.n_classes
            } else {
                1
            },
            classification: self.task.is_classification(),
            standardize: None,
            body: Body::Trees {
                trees,
                aggregation: Aggregation::Sum {
                    base: self
                        .boosters
                        .iter()
                        .map(|b| {
                            b.as_ref()
                                .map_or(ABSENT_CLASS_LOGIT, |b| b.base_score as f32)
                        })
                        .collect(),
                    link,
                },
            },
        })
    }

    fn library_predict(&self, x: &Dataset) -> Vec<f32> {
        let data = column_major(x);
        let matrix = Matrix::new(&data, x.n_rows, x.n_features);
        let raw: Vec<Vec<f64>> = self
            .boosters
            .iter()
            .map(|b| match b {
                Some(b) => b.predict(&matrix, false),
                None => vec![ABSENT_CLASS_LOGIT as f64; x.n_rows],
            })
            .collect();
        match self.task {
            Task::Regression => raw[0].iter().map(|v| *v as f32).collect(),
            Task::Binary => raw[0]
                .iter()
                .flat_map(|z| {
                    let p = sigmoid(*z as f32);
                    [1.0 - p, p]
                })
                .collect(),
            Task::Multiclass => (0..x.n_rows)
                .flat_map(|i| {
                    let p: Vec<f64> = raw.iter().map(|r| 1.0 / (1.0 + (-r[i]).exp())).collect();
                    let s: f64 = p.iter().sum();
                    p.into_iter().map(move |v| (v / s) as f32)
                })
                .collect(),
        }
    }
}

impl Trainer for Gbm {
    fn family(&self) -> &'static str {
        "boosted_trees"
    }
    fn id(&self) -> &'static str {
        "gbm"
    }
    fn ladder_rank(&self) -> u32 {
        3
    }
    fn supports(&self, _task: Task) -> std::result::Result<(), String> {
        Ok(())
    }
    fn space(&self, _task: Task) -> Vec<ParamSpec> {
        vec![
            ParamSpec::log_int("iterations", 20.0, 300.0),
            ParamSpec::log_float("learning_rate", 0.02, 0.3),
            ParamSpec::int("max_depth", 2.0, 8.0),
            ParamSpec::log_float("l2", 0.1, 10.0),
        ]
    }
    fn fit(&self, train: &Dataset, params: &Params, seed: u64) -> Result<ModelIr> {
        self.native(train, params, seed)?.to_ir()
    }
    fn library(&self, _task: Task) -> &'static str {
        "forust-ml"
    }
}
