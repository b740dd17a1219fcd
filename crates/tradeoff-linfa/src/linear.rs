//! Linear candidates: ridge regression (`linear`) and logistic regression (`logistic`).
//! Both train on standardized features; the standardization is part of the exported IR.

use linfa::prelude::*;
use linfa_elasticnet::ElasticNet;
use linfa_logistic::{
    FittedLogisticRegression, LogisticRegression, MultiFittedLogisticRegression,
    MultiLogisticRegression,
};
use ndarray::Array2;
use tradeoff_core::data::{Dataset, Task};
use tradeoff_core::ir::{Body, Link, ModelIr, IR_VERSION};
use tradeoff_core::protocol::{ParamSpec, Params, Trainer};
use tradeoff_core::Result;

use crate::convert::{labels, lib_err, param, values, Standardizer};
use crate::Fitted;

/// Ridge regression by coordinate descent (`linfa-elasticnet` with `l1_ratio = 0`).
pub struct Linear;

pub struct FittedLinear {
    std: Standardizer,
    model: ElasticNet<f64>,
    n_features: usize,
}

impl Linear {
    pub fn native(&self, ds: &Dataset, params: &Params) -> Result<Box<dyn Fitted>> {
        let alpha = param("linear", params, "alpha")?;
        let std = Standardizer::fit(ds);
        let data = linfa::Dataset::new(std.apply(ds), values(ds));
        let model = ElasticNet::params()
            .penalty(alpha)
            .l1_ratio(0.0)
            .max_iterations(2000)
            .fit(&data)
            .map_err(|e| lib_err("linear", e))?;
        Ok(Box::new(FittedLinear {
            std,
            model,
            n_features: ds.n_features,
        }))
    }
}

impl Fitted for FittedLinear {
    fn to_ir(&self) -> Result<ModelIr> {
        Ok(ModelIr {
            ir_version: IR_VERSION,
            n_features: self.n_features,
            n_outputs: 1,
            classification: false,
            standardize: Some(self.std.to_ir()),
            body: Body::Linear {
                weights: self.model.hyperplane().iter().map(|v| *v as f32).collect(),
                bias: vec![self.model.intercept() as f32],
                link: Link::Identity,
            },
        })
    }
    fn library_predict(&self, x: &Dataset) -> Vec<f32> {
        let p: ndarray::Array1<f64> = self.model.predict(&self.std.apply(x));
        p.iter().map(|v| *v as f32).collect()
    }
}

impl Trainer for Linear {
    fn family(&self) -> &'static str {
        "linear"
    }
    fn id(&self) -> &'static str {
        "linear"
    }
    fn ladder_rank(&self) -> u32 {
        0
    }
    fn supports(&self, task: Task) -> std::result::Result<(), String> {
        match task {
            Task::Regression => Ok(()),
            _ => Err(
                "linear is a regression model; logistic is its classification counterpart".into(),
            ),
        }
    }
    fn space(&self, _task: Task) -> Vec<ParamSpec> {
        vec![ParamSpec::log_float("alpha", 1e-5, 10.0)]
    }
    fn fit(&self, train: &Dataset, params: &Params, _seed: u64) -> Result<ModelIr> {
        self.native(train, params)?.to_ir()
    }
    fn library(&self, _task: Task) -> &'static str {
        "linfa-elasticnet (ridge)"
    }
}

/// L2-regularized logistic regression (`linfa-logistic`), binary or multinomial.
pub struct Logistic;

enum LogisticModel {
    Binary(FittedLogisticRegression<f64, usize>),
    Multi(MultiFittedLogisticRegression<f64, usize>),
}

pub struct FittedLogistic {
    std: Standardizer,
    model: LogisticModel,
    n_features: usize,
    n_classes: usize,
}

impl Logistic {
    pub fn native(&self, ds: &Dataset, params: &Params) -> Result<Box<dyn Fitted>> {
        let alpha = param("logistic", params, "alpha")?;
        let std = Standardizer::fit(ds);
        let data = linfa::Dataset::new(std.apply(ds), labels(ds));
        let model = if ds.task == Task::Binary {
            LogisticModel::Binary(
                LogisticRegression::default()
                    .alpha(alpha)
                    .max_iterations(200)
                    .fit(&data)
                    .map_err(|e| lib_err("logistic", e))?,
            )
        } else {
            LogisticModel::Multi(
                MultiLogisticRegression::default()
                    .alpha(alpha)
                    .max_iterations(200)
                    .fit(&data)
                    .map_err(|e| lib_err("logistic", e))?,
            )
        };
        Ok(Box::new(FittedLogistic {
            std,
            model,
            n_features: ds.n_features,
            n_classes: ds.n_classes(),
        }))
    }
}

/// Logit scale for a class absent from the training rows: its probability underflows to 0.
const ABSENT_CLASS_BIAS: f32 = -1e30;

impl Fitted for FittedLogistic {
    fn to_ir(&self) -> Result<ModelIr> {
        let nf = self.n_features;
        let (weights, bias, link) = match &self.model {
            LogisticModel::Binary(m) => {
                // linfa models P(pos); our sigmoid link gives P(class 1).
                let sign = if m.labels().pos.class == 1 { 1.0 } else { -1.0 };
                (
                    m.params().iter().map(|v| (sign * v) as f32).collect(),
                    vec![(sign * m.intercept()) as f32],
                    Link::Sigmoid,
                )
            }
            LogisticModel::Multi(m) => {
                let mut w = vec![0.0f32; self.n_classes * nf];
                let mut b = vec![ABSENT_CLASS_BIAS; self.n_classes];
                let params: &Array2<f64> = m.params();
                for (k, &class) in m.classes().iter().enumerate() {
                    for j in 0..nf {
                        w[class * nf + j] = params[[j, k]] as f32;
                    }
                    b[class] = m.intercept()[k] as f32;
                }
                (w, b, Link::Softmax)
            }
        };
        Ok(ModelIr {
            ir_version: IR_VERSION,
            n_features: nf,
            n_outputs: self.n_classes,
            classification: true,
            standardize: Some(self.std.to_ir()),
            body: Body::Linear {
                weights,
                bias,
                link,
            },
        })
    }

    fn library_predict(&self, x: &Dataset) -> Vec<f32> {
        let xs = self.std.apply(x);
        match &self.model {
            LogisticModel::Binary(m) => {
                let p = m.predict_probabilities(&xs);
                let pos_is_one = m.labels().pos.class == 1;
                p.iter()
                    .flat_map(|p| {
                        let p1 = if pos_is_one { *p } else { 1.0 - p };
                        [(1.0 - p1) as f32, p1 as f32]
                    })
                    .collect()
            }
            LogisticModel::Multi(m) => {
                let p = m.predict_probabilities(&xs);
                let mut out = vec![0.0f32; x.n_rows * self.n_classes];
                for i in 0..x.n_rows {
                    for (k, &class) in m.classes().iter().enumerate() {
                        out[i * self.n_classes + class] = p[[i, k]] as f32;
                    }
                }
                out
            }
        }
    }
}

impl Trainer for Logistic {
    fn family(&self) -> &'static str {
        "linear"
    }
    fn id(&self) -> &'static str {
        "logistic"
    }
    fn ladder_rank(&self) -> u32 {
        0
    }
    fn supports(&self, task: Task) -> std::result::Result<(), String> {
        match task {
            Task::Regression => {
                Err("logistic is a classifier; linear is its regression counterpart".into())
            }
            _ => Ok(()),
        }
    }
    fn space(&self, _task: Task) -> Vec<ParamSpec> {
        vec![ParamSpec::log_float("alpha", 1e-5, 10.0)]
    }
    fn fit(&self, train: &Dataset, params: &Params, _seed: u64) -> Result<ModelIr> {
        self.native(train, params)?.to_ir()
    }
    fn library(&self, _task: Task) -> &'static str {
        "linfa-logistic"
    }
}
