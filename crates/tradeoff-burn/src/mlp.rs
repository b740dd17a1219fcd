//! The MLP candidates, trained with burn: Adam on minibatches, early stopping on a validation
//! part of the training rows, seeded; exported to the IR's MLP form.
//!
//! | id      | hidden layers (ReLU) | parameters at 11 inputs, 6 classes |
//! |---------|----------------------|------------------------------------|
//! | `mlp-s` | 64                   | 1,158                              |
//! | `mlp-m` | 256, 256             | 70,406                             |
//! | `mlp-l` | 1024 x 4             | 3,167,238                          |

use std::time::{Duration, Instant};

use burn::module::Module;
use burn::nn::loss::{CrossEntropyLossConfig, MseLoss};
use burn::nn::{Linear, LinearConfig};
use burn::optim::{AdamConfig, GradientsParams};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Int, Tensor, TensorData};
use tradeoff_data::data::{Dataset, Task};
use tradeoff_data::protocol::{ParamSpec, Params, Trainer};
use tradeoff_ir::ir::{Activation, Body, Dense, Link, ModelIr, Standardize, IR_VERSION};
use tradeoff_ir::rng::Rng;
use tradeoff_ir::{Error, Result};

use crate::{device, BurnDevice};

/// Hidden layer widths of each candidate.
pub const MLP_SIZES: [(&str, &[usize]); 3] = [
    ("mlp-s", &[64]),
    ("mlp-m", &[256, 256]),
    ("mlp-l", &[1024, 1024, 1024, 1024]),
];

/// Training settings that are not tuned (the same for every MLP and every trial).
const MAX_EPOCHS: usize = 200;
/// Epochs without a better validation loss before training stops.
const PATIENCE: usize = 10;
/// Share of the training rows held out for early stopping.
const VALIDATION_SHARE: f64 = 0.1;
/// One fit never trains longer than this (checked between minibatches), plus one pass over
/// the validation rows; the protocol's time cap bounds the whole tuning.
const FIT_TIME_LIMIT: Duration = Duration::from_secs(30);

/// The trainer of an MLP candidate on a burn device.
pub fn trainer(id: &str, train_on: BurnDevice) -> Option<Box<dyn Trainer>> {
    let (id, hidden) = MLP_SIZES.iter().copied().find(|(c, _)| *c == id)?;
    Some(Box::new(MlpTrainer {
        id,
        hidden,
        train_on,
    }))
}

pub struct MlpTrainer {
    id: &'static str,
    hidden: &'static [usize],
    train_on: BurnDevice,
}

#[derive(Module, Debug)]
struct Net {
    layers: Vec<Linear>,
}

impl Net {
    fn forward(&self, mut x: Tensor<2>) -> Tensor<2> {
        let last = self.layers.len() - 1;
        for (i, l) in self.layers.iter().enumerate() {
            x = l.forward(x);
            if i < last {
                x = relu(x);
            }
        }
        x
    }
}

fn err(id: &str, message: impl std::fmt::Display) -> Error {
    Error::Candidate {
        candidate: id.into(),
        message: message.to_string(),
    }
}

fn param(id: &str, params: &Params, name: &str) -> Result<f64> {
    params
        .get(name)
        .copied()
        .ok_or_else(|| err(id, format!("parameter {name} missing")))
}

/// Rows of a dataset as a tensor of standardized features.
fn features(x: &[f32], n_rows: usize, n_features: usize, device: &Device) -> Tensor<2> {
    Tensor::from_data(TensorData::new(x.to_vec(), [n_rows, n_features]), device)
}

/// The training target of the rows `idx`: class indices, or standardized values.
enum Targets {
    Classes(Vec<i64>),
    Values(Vec<f32>),
}

impl Trainer for MlpTrainer {
    fn id(&self) -> &'static str {
        self.id
    }
    fn family(&self) -> &'static str {
        "mlp"
    }
    fn supports(&self, _task: Task) -> std::result::Result<(), String> {
        Ok(())
    }
    fn space(&self, _task: Task) -> Vec<ParamSpec> {
        vec![
            ParamSpec::log_float("learning_rate", 1e-4, 3e-2),
            ParamSpec::log_float("weight_decay", 1e-6, 1e-2),
            ParamSpec::log_int("batch_size", 16.0, 256.0),
        ]
    }
    /// scikit-learn's `MLPClassifier`/`MLPRegressor` defaults for Adam: a learning rate of
    /// 1e-3, an L2 penalty of 1e-4, batches of 200 rows.
    fn defaults(&self, _task: Task, _rows: usize, _features: usize) -> Option<Params> {
        Some(
            [
                ("learning_rate".to_string(), 1e-3),
                ("weight_decay".to_string(), 1e-4),
                ("batch_size".to_string(), 200.0),
            ]
            .into(),
        )
    }
    fn library(&self, _task: Task) -> &'static str {
        match self.train_on {
            BurnDevice::Flex => "burn 0.22 (Adam, trained on Flex CPU)",
            BurnDevice::Wgpu => "burn 0.22 (Adam, trained on wgpu)",
        }
    }
    fn train_device(&self) -> String {
        match device(self.train_on) {
            Ok(d) => d.description,
            Err(e) => format!("unavailable: {e}"),
        }
    }

    fn fit(&self, train: &Dataset, params: &Params, seed: u64) -> Result<ModelIr> {
        let id = self.id;
        let lr = param(id, params, "learning_rate")?;
        let decay = param(id, params, "weight_decay")?;
        let batch = param(id, params, "batch_size")?.round().max(1.0) as usize;
        let dev = device(self.train_on).map_err(|e| err(id, e))?;
        let device = dev.device.autodiff();
        device.seed(seed);
        let nf = train.n_features;
        let classification = train.task.is_classification();
        let n_out = if classification { train.n_classes() } else { 1 };
        if train.n_rows < 4 {
            return Err(err(
                id,
                format!("{} training rows are too few", train.n_rows),
            ));
        }

        // Inputs standardized on the training rows; the same standardization goes in the IR.
        let std = Standardize::fit(&train.x, train.n_rows, train.n_features);
        let x = std.apply(&train.x);
        // Regression targets are standardized too and the scale folded into the last layer.
        let (y_mean, y_scale) = if classification {
            (0.0, 1.0)
        } else {
            let n = train.y.len() as f64;
            let m = train.y.iter().map(|v| *v as f64).sum::<f64>() / n;
            let v = train.y.iter().map(|y| (*y as f64 - m).powi(2)).sum::<f64>() / n;
            (m, if v > 0.0 { v.sqrt() } else { 1.0 })
        };

        // Split off the validation rows (seeded).
        let mut order: Vec<usize> = (0..train.n_rows).collect();
        let mut rng = Rng::derive(seed, "mlp-validation");
        rng.shuffle(&mut order);
        let n_val = ((train.n_rows as f64 * VALIDATION_SHARE).round() as usize).max(1);
        let (val_idx, fit_idx) = order.split_at(n_val);
        let gather = |idx: &[usize]| -> (Vec<f32>, Targets) {
            let mut xs = Vec::with_capacity(idx.len() * nf);
            for &i in idx {
                xs.extend_from_slice(&x[i * nf..(i + 1) * nf]);
            }
            let t = if classification {
                Targets::Classes(idx.iter().map(|&i| train.y[i] as i64).collect())
            } else {
                Targets::Values(
                    idx.iter()
                        .map(|&i| ((train.y[i] as f64 - y_mean) / y_scale) as f32)
                        .collect(),
                )
            };
            (xs, t)
        };

        let mut widths = vec![nf];
        widths.extend_from_slice(self.hidden);
        widths.push(n_out);
        let mut net = Net {
            layers: widths
                .windows(2)
                .map(|w| LinearConfig::new(w[0], w[1]).init(&device))
                .collect(),
        };
        let mut optim = AdamConfig::new()
            .with_weight_decay(Some(burn::optim::decay::WeightDecayConfig::new(
                decay as f32,
            )))
            .init();
        let ce = CrossEntropyLossConfig::new().init(&device);
        let loss_of = |net: &Net, xs: Tensor<2>, t: &Targets, rows: usize| -> Tensor<1> {
            let out = net.forward(xs);
            match t {
                Targets::Classes(c) => ce.forward(
                    out,
                    Tensor::<1, Int>::from_data(TensorData::new(c.clone(), [rows]), &device),
                ),
                Targets::Values(v) => MseLoss::new().forward(
                    out,
                    Tensor::from_data(TensorData::new(v.clone(), [rows, 1]), &device),
                    burn::nn::loss::Reduction::Mean,
                ),
            }
        };

        let (val_x, val_t) = gather(val_idx);
        let val_x = features(&val_x, val_idx.len(), nf, &device);
        let mut best: Option<(f32, Net)> = None;
        let mut since_best = 0;
        let started = Instant::now();
        let mut fit_order = fit_idx.to_vec();
        let mut epochs = 0;
        for _epoch in 0..MAX_EPOCHS {
            epochs += 1;
            rng.shuffle(&mut fit_order);
            // The time limit is checked between minibatches too: one epoch of a large MLP on
            // hundreds of thousands of rows takes minutes. An epoch cut short is still scored
            // on the validation rows, and its weights kept if they are the best.
            let mut out_of_time = false;
            for chunk in fit_order.chunks(batch) {
                if started.elapsed() > FIT_TIME_LIMIT {
                    out_of_time = true;
                    break;
                }
                let (bx, bt) = gather(chunk);
                let bx = features(&bx, chunk.len(), nf, &device);
                let loss = loss_of(&net, bx, &bt, chunk.len());
                let grads = GradientsParams::from_grads(loss.backward(), &net);
                net = optim.step(lr, net, grads);
            }
            let val_loss = floats(
                id,
                loss_of(&net.valid(), val_x.clone(), &val_t, val_idx.len()),
                "the loss",
            )?
            .first()
            .copied()
            .ok_or_else(|| err(id, "the loss is not one f32"))?;
            if !val_loss.is_finite() {
                return Err(err(id, "training diverged (validation loss is not finite)"));
            }
            if best.as_ref().is_none_or(|(b, _)| val_loss < *b) {
                best = Some((val_loss, net.valid()));
                since_best = 0;
            } else {
                since_best += 1;
                if since_best >= PATIENCE {
                    break;
                }
            }
            if out_of_time || started.elapsed() > FIT_TIME_LIMIT {
                break;
            }
        }
        let (_, net) = best.ok_or_else(|| err(id, "no epoch ran"))?;
        // For scripts/mlp-vs-sklearn.sh: the cost of an epoch, against scikit-learn's.
        tracing::debug!(
            candidate = id,
            epochs,
            seconds = started.elapsed().as_secs_f64(),
            rows = fit_idx.len(),
            "mlp fit"
        );
        export(id, &net, nf, n_out, classification, std, y_mean, y_scale)
    }
}

/// A tensor's values read back to the host; `what` names them in the error.
fn floats<const D: usize>(id: &str, t: Tensor<D>, what: &str) -> Result<Vec<f32>> {
    t.try_into_data()
        .map_err(|e| err(id, format!("reading {what}: {e:?}")))?
        .try_to_vec::<f32>()
        .map_err(|e| err(id, format!("reading {what}: {e:?}")))
}

#[allow(clippy::too_many_arguments)]
fn export(
    id: &str,
    net: &Net,
    nf: usize,
    n_out: usize,
    classification: bool,
    std: Standardize,
    y_mean: f64,
    y_scale: f64,
) -> Result<ModelIr> {
    let last = net.layers.len() - 1;
    let mut layers = Vec::with_capacity(net.layers.len());
    for (i, l) in net.layers.iter().enumerate() {
        let [inputs, outputs] = l.weight.val().dims();
        let mut weights = floats(id, l.weight.val(), "weights")?;
        let mut bias = match &l.bias {
            Some(b) => floats(id, b.val(), "biases")?,
            None => vec![0.0; outputs],
        };
        if i == last && !classification {
            // Undo the target standardization: y = z * scale + mean.
            weights
                .iter_mut()
                .for_each(|w| *w = (*w as f64 * y_scale) as f32);
            bias.iter_mut()
                .for_each(|b| *b = (*b as f64 * y_scale + y_mean) as f32);
        }
        layers.push(Dense {
            inputs,
            outputs,
            weights,
            bias,
            activation: if i == last {
                Activation::Identity
            } else {
                Activation::Relu
            },
        });
    }
    Ok(ModelIr {
        ir_version: IR_VERSION,
        n_features: nf,
        n_outputs: n_out,
        classification,
        standardize: Some(std),
        body: Body::Mlp {
            layers,
            link: if classification {
                Link::Softmax
            } else {
                Link::Identity
            },
        },
    })
}
