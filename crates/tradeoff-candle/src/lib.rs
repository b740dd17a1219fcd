//! The `candle-cpu` execution target: linear models and MLPs as candle-core tensor programs on
//! the CPU. Trees have no candle form (no data-dependent traversal op): `unsupported`.

use candle_core::{DType, Device, Tensor};
use tradeoff_ir::ir::{Activation, Link, ValidIr};
use tradeoff_ir::target::{check_buffers, Predictor, Target};
use tradeoff_ir::{Error, Result};

const ID: &str = "candle-cpu";

fn err(message: impl std::fmt::Display) -> Error {
    Error::Target {
        target: ID.into(),
        message: message.to_string(),
    }
}

/// candle-core on the CPU.
#[derive(Debug, Default, Clone, Copy)]
pub struct CandleCpu;

impl Target for CandleCpu {
    fn id(&self) -> &'static str {
        ID
    }
    fn device(&self) -> String {
        format!("candle on {}", tradeoff_ir::machine::cpu_model())
    }
    fn load(&self, ir: &ValidIr) -> Result<Box<dyn Predictor>> {
        let dev = Device::Cpu;
        let t = |v: &[f32], rows: usize, cols: usize| {
            Tensor::from_slice(v, (rows, cols), &dev).map_err(err)
        };
        let Some((dense, link)) = ir.dense_layers() else {
            return Err(Error::Unsupported {
                target: ID.into(),
                message: "tree ensembles have no candle form (no data-dependent traversal op); \
                          they run on the cpu and wgsl targets"
                    .into(),
            });
        };
        let layers = dense
            .iter()
            .map(|l| {
                Ok(Layer {
                    weight: t(&l.weights, l.inputs, l.outputs)?,
                    bias: t(&l.bias, 1, l.outputs)?,
                    activation: l.activation,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let standardize = match &ir.standardize {
            Some(s) => Some((t(&s.mean, 1, s.mean.len())?, t(&s.scale, 1, s.scale.len())?)),
            None => None,
        };
        Ok(Box::new(CandlePredictor {
            n_features: ir.n_features,
            n_outputs: ir.n_outputs,
            standardize,
            layers,
            link,
            bytes: ir.size().parameters * 4,
        }))
    }
}

struct Layer {
    weight: Tensor,
    bias: Tensor,
    activation: Activation,
}

struct CandlePredictor {
    n_features: usize,
    n_outputs: usize,
    standardize: Option<(Tensor, Tensor)>,
    layers: Vec<Layer>,
    link: Link,
    bytes: u64,
}

impl CandlePredictor {
    fn forward(&self, x: Tensor) -> candle_core::Result<Tensor> {
        let sigmoid = |z: &Tensor| z.neg()?.exp()?.affine(1.0, 1.0)?.recip();
        let mut h = match &self.standardize {
            Some((mean, scale)) => x.broadcast_sub(mean)?.broadcast_div(scale)?,
            None => x,
        };
        for l in &self.layers {
            h = h.matmul(&l.weight)?.broadcast_add(&l.bias)?;
            h = match l.activation {
                Activation::Identity => h,
                Activation::Relu => h.relu()?,
                Activation::Tanh => h.tanh()?,
                Activation::Sigmoid => sigmoid(&h)?,
            };
        }
        match self.link {
            Link::Identity => Ok(h),
            Link::Softmax => {
                let e = h.broadcast_sub(&h.max_keepdim(1)?)?.exp()?;
                e.broadcast_div(&e.sum_keepdim(1)?)
            }
            Link::Sigmoid => {
                let p = sigmoid(&h)?;
                Tensor::cat(&[p.affine(-1.0, 1.0)?, p], 1)
            }
            Link::OvrSigmoid => {
                let p = sigmoid(&h)?;
                p.broadcast_div(&p.sum_keepdim(1)?)
            }
        }
    }
}

impl Predictor for CandlePredictor {
    fn n_outputs(&self) -> usize {
        self.n_outputs
    }

    fn predict(&mut self, x: &[f32], n_rows: usize, out: &mut [f32]) -> Result<()> {
        check_buffers(ID, x, n_rows, out, (self.n_features, self.n_outputs), false)?;
        let input = Tensor::from_slice(x, (n_rows, self.n_features), &Device::Cpu).map_err(err)?;
        let y = self
            .forward(input)
            .and_then(|y| y.to_dtype(DType::F32)?.flatten_all()?.to_vec1::<f32>())
            .map_err(err)?;
        if y.len() != out.len() {
            return Err(err(format!(
                "{} predictions for {} outputs",
                y.len(),
                out.len()
            )));
        }
        out.copy_from_slice(&y);
        Ok(())
    }

    fn memory_bytes(&self) -> Option<u64> {
        Some(self.bytes)
    }

    fn uses_worker_threads(&self) -> bool {
        true
    }
}
