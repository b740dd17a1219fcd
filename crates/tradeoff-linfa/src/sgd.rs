//! Online candidates: linear (`linear-sgd`) and logistic (`logistic-sgd`) models trained by
//! stochastic gradient descent, which can keep learning from new batches (`partial_fit`).
//!
//! linfa has no incremental linear or multinomial logistic model (`linfa-ftrl` is binary
//! only), so this is a small implementation of plain SGD: L2-regularized squared loss or
//! softmax cross-entropy, learning rate `eta0 / t^0.25` (scikit-learn's `invscaling`), a
//! seeded shuffle per epoch. Features are standardized with the statistics of the first batch it sees (a stream
//! cannot know the future), and so is a regression target; both are folded into the exported
//! IR, which is the same linear IR as the batch candidates.

use tradeoff_data::data::{Dataset, Task};
use tradeoff_data::protocol::{ParamSpec, Params, Trainer};
use tradeoff_ir::ir::{Body, Link, ModelIr, Standardize, IR_VERSION};
use tradeoff_ir::rng::Rng;
use tradeoff_ir::{Error, Result};

use crate::convert::{param, Standardizer};

/// A model that can keep learning.
pub trait OnlineModel {
    /// Learns from more rows (several passes, as the parameters say).
    fn partial_fit(&mut self, ds: &Dataset) -> Result<()>;
    fn to_ir(&self) -> Result<ModelIr>;
}

/// SGD state for `k` scores over `nf` standardized features.
pub struct Sgd {
    id: &'static str,
    task: Task,
    n_classes: usize,
    nf: usize,
    k: usize,
    /// Row-major `k x nf`.
    w: Vec<f64>,
    b: Vec<f64>,
    std: Standardize,
    /// Regression target scaling: y' = (y - mean) / scale.
    y_mean: f64,
    y_scale: f64,
    alpha: f64,
    eta0: f64,
    epochs: usize,
    t: f64,
    rng: Rng,
}

fn sgd_space() -> Vec<ParamSpec> {
    vec![
        ParamSpec::log_float("alpha", 1e-6, 1e-1),
        ParamSpec::log_float("eta0", 1e-3, 0.5),
        ParamSpec::int("epochs", 1.0, 10.0),
    ]
}

impl Sgd {
    /// A fresh model whose scaling comes from `first`; it has not learned from it yet.
    pub fn new(id: &'static str, first: &Dataset, params: &Params, seed: u64) -> Result<Sgd> {
        let std = Standardizer::fit(first);
        let (y_mean, y_scale) = if first.task.is_classification() {
            (0.0, 1.0)
        } else {
            let n = first.n_rows as f64;
            let m = first.y.iter().map(|v| *v as f64).sum::<f64>() / n;
            let s = (first.y.iter().map(|v| (*v as f64 - m).powi(2)).sum::<f64>() / n).sqrt();
            (m, if s > 1e-12 { s } else { 1.0 })
        };
        let k = if first.task.is_classification() {
            first.n_classes()
        } else {
            1
        };
        Ok(Sgd {
            id,
            task: first.task,
            n_classes: first.n_classes(),
            nf: first.n_features,
            k,
            w: vec![0.0; k * first.n_features],
            b: vec![0.0; k],
            std: std.to_ir(),
            y_mean,
            y_scale,
            alpha: param(id, params, "alpha")?,
            eta0: param(id, params, "eta0")?,
            epochs: param(id, params, "epochs")? as usize,
            t: 0.0,
            rng: Rng::derive(seed, id),
        })
    }

    fn scores(&self, x: &[f64], out: &mut [f64]) {
        for (c, o) in out.iter_mut().enumerate() {
            *o = self.b[c]
                + self.w[c * self.nf..(c + 1) * self.nf]
                    .iter()
                    .zip(x)
                    .map(|(a, b)| a * b)
                    .sum::<f64>();
        }
    }
}

impl OnlineModel for Sgd {
    fn partial_fit(&mut self, ds: &Dataset) -> Result<()> {
        let mut order: Vec<usize> = (0..ds.n_rows).collect();
        let mut x = vec![0.0; self.nf];
        let mut s = vec![0.0; self.k];
        for _ in 0..self.epochs {
            self.rng.shuffle(&mut order);
            for &i in &order {
                for (j, v) in x.iter_mut().enumerate() {
                    *v = ((ds.row(i)[j] - self.std.mean[j]) / self.std.scale[j]) as f64;
                }
                self.t += 1.0;
                let eta = self.eta0 / self.t.powf(0.25);
                self.scores(&x, &mut s);
                // Gradient of the loss with respect to each score.
                if self.task.is_classification() {
                    let max = s.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                    let sum: f64 = s.iter().map(|v| (v - max).exp()).sum();
                    for (c, v) in s.iter_mut().enumerate() {
                        let p = (*v - max).exp() / sum;
                        *v = p - f64::from(c == ds.y[i] as usize);
                    }
                } else {
                    s[0] -= (ds.y[i] as f64 - self.y_mean) / self.y_scale;
                }
                for (c, &g) in s.iter().enumerate() {
                    for (wj, xj) in self.w[c * self.nf..(c + 1) * self.nf].iter_mut().zip(&x) {
                        *wj -= eta * (g * xj + self.alpha * *wj);
                    }
                    self.b[c] -= eta * g;
                }
            }
        }
        if self.w.iter().chain(&self.b).any(|v| !v.is_finite()) {
            return Err(Error::Candidate {
                candidate: self.id.into(),
                message: "SGD diverged (non-finite weights); a smaller eta0 would help".into(),
            });
        }
        Ok(())
    }

    fn to_ir(&self) -> Result<ModelIr> {
        let nf = self.nf;
        let (weights, bias, link, n_outputs) = match self.task {
            Task::Regression => (
                self.w.iter().map(|v| (v * self.y_scale) as f32).collect(),
                vec![(self.b[0] * self.y_scale + self.y_mean) as f32],
                Link::Identity,
                1,
            ),
            // Two softmax scores are one logit: z1 - z0.
            Task::Binary => (
                (0..nf)
                    .map(|j| (self.w[nf + j] - self.w[j]) as f32)
                    .collect(),
                vec![(self.b[1] - self.b[0]) as f32],
                Link::Sigmoid,
                2,
            ),
            Task::Multiclass => (
                self.w.iter().map(|v| *v as f32).collect(),
                self.b.iter().map(|v| *v as f32).collect(),
                Link::Softmax,
                self.n_classes,
            ),
        };
        Ok(ModelIr {
            ir_version: IR_VERSION,
            n_features: nf,
            n_outputs,
            classification: self.task.is_classification(),
            standardize: Some(self.std.clone()),
            body: Body::Linear {
                weights,
                bias,
                link,
            },
        })
    }
}

/// `linear-sgd`: online least squares (regression).
pub struct LinearSgd;
/// `logistic-sgd`: online softmax regression (classification).
pub struct LogisticSgd;

macro_rules! sgd_trainer {
    ($ty:ty, $id:literal, $regression:literal, $why:literal) => {
        impl $ty {
            /// Starts a model on `first` and learns from it.
            pub fn start(
                &self,
                first: &Dataset,
                params: &Params,
                seed: u64,
            ) -> Result<Box<dyn OnlineModel>> {
                let mut m = Sgd::new($id, first, params, seed)?;
                m.partial_fit(first)?;
                Ok(Box::new(m))
            }
        }

        impl Trainer for $ty {
            fn id(&self) -> &'static str {
                $id
            }
            fn family(&self) -> &'static str {
                "linear"
            }
            fn supports(&self, task: Task) -> std::result::Result<(), String> {
                if task.is_classification() != $regression {
                    Ok(())
                } else {
                    Err($why.into())
                }
            }
            fn space(&self, _task: Task) -> Vec<ParamSpec> {
                sgd_space()
            }
            fn fit(&self, train: &Dataset, params: &Params, seed: u64) -> Result<ModelIr> {
                self.start(train, params, seed)?.to_ir()
            }
            fn library(&self, _task: Task) -> &'static str {
                "tradeoff SGD"
            }
        }
    };
}

sgd_trainer!(
    LinearSgd,
    "linear-sgd",
    true,
    "linear-sgd is a regression model; logistic-sgd is its classification counterpart"
);
sgd_trainer!(
    LogisticSgd,
    "logistic-sgd",
    false,
    "logistic-sgd is a classifier; linear-sgd is its regression counterpart"
);

/// Starts an online model on a first batch.
pub type Start = fn(&Dataset, &Params, u64) -> Result<Box<dyn OnlineModel>>;

/// The online trainer of a candidate id, with the batch candidate it stands for.
pub fn online(id: &str) -> Option<(&'static str, Start)> {
    match id {
        "linear-sgd" => Some(("linear", |d, p, s| LinearSgd.start(d, p, s))),
        "logistic-sgd" => Some(("logistic", |d, p, s| LogisticSgd.start(d, p, s))),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tradeoff_data::data::synthetic;
    use tradeoff_data::metrics::score;
    use tradeoff_ir::target::{predict_all, CpuTarget, Target};

    fn params(alpha: f64, eta0: f64, epochs: f64) -> Params {
        [("alpha", alpha), ("eta0", eta0), ("epochs", epochs)]
            .iter()
            .map(|(k, v)| (k.to_string(), *v))
            .collect()
    }

    fn r2_or_acc(ds: &Dataset, ir: &ModelIr, metric: &str) -> f64 {
        let mut p = CpuTarget.load(&ir.clone().validate().unwrap()).unwrap();
        let pred = predict_all(p.as_mut(), &ds.x, ds.n_rows).unwrap();
        score(ds.task, ir.n_outputs, &pred, &ds.y)[metric]
    }

    #[test]
    fn sgd_regression_approaches_least_squares() {
        let ds = synthetic("synthetic:regression,rows=2000,features=5,noise=0.1").unwrap();
        let ir = LinearSgd.fit(&ds, &params(1e-5, 0.01, 5.0), 1).unwrap();
        let ridge = crate::Linear
            .fit(&ds, &[("alpha".to_string(), 1e-5)].into(), 1)
            .unwrap();
        let (a, b) = (r2_or_acc(&ds, &ir, "r2"), r2_or_acc(&ds, &ridge, "r2"));
        assert!(a > b - 0.02, "sgd r2 {a} vs ridge {b}");
    }

    #[test]
    fn sgd_classifier_learns_and_keeps_learning() {
        let ds = synthetic("synthetic:classification,rows=3000,features=6,classes=3").unwrap();
        let first = ds.select(&(0..300).collect::<Vec<_>>());
        let rest = ds.select(&(300..3000).collect::<Vec<_>>());
        let mut m = LogisticSgd
            .start(&first, &params(1e-4, 0.05, 2.0), 1)
            .unwrap();
        let before = r2_or_acc(&ds, &m.to_ir().unwrap(), "accuracy");
        m.partial_fit(&rest).unwrap();
        let after = r2_or_acc(&ds, &m.to_ir().unwrap(), "accuracy");
        assert!(before > 0.45, "{before}");
        assert!(
            after >= before - 0.01,
            "more data must not hurt much: {before} -> {after}"
        );
        let batch = crate::Logistic
            .fit(&ds, &[("alpha".to_string(), 1e-4)].into(), 1)
            .unwrap();
        let b = r2_or_acc(&ds, &batch, "accuracy");
        assert!(after > b - 0.03, "online {after} vs batch {b}");
    }

    #[test]
    fn binary_export_matches_the_softmax() {
        let ds = synthetic("synthetic:classification,rows=500,features=4").unwrap();
        let mut m = Sgd::new("logistic-sgd", &ds, &params(1e-4, 0.05, 1.0), 3).unwrap();
        m.partial_fit(&ds).unwrap();
        let ir = m.to_ir().unwrap().validate().unwrap();
        let mut p = CpuTarget.load(&ir).unwrap();
        let pred = predict_all(p.as_mut(), &ds.x[..5 * 4], 5).unwrap();
        for i in 0..5 {
            let x: Vec<f64> = (0..4)
                .map(|j| ((ds.row(i)[j] - m.std.mean[j]) / m.std.scale[j]) as f64)
                .collect();
            let mut s = vec![0.0; 2];
            m.scores(&x, &mut s);
            let p1 = 1.0 / (1.0 + (s[0] - s[1]).exp());
            assert!((pred[2 * i + 1] as f64 - p1).abs() < 1e-4);
        }
    }

    #[test]
    fn divergence_is_an_error() {
        let ds = synthetic("synthetic:regression,rows=200,features=3").unwrap();
        let mut huge = ds.clone();
        for v in huge.x.iter_mut() {
            *v *= 1e30;
        }
        // Standardization tames the scale of x; a huge step still diverges.
        let r = LinearSgd.fit(&huge, &params(1e-6, 1e6, 10.0), 1);
        if let Err(e) = r {
            assert!(e.to_string().contains("diverged"), "{e}");
        }
    }
}
