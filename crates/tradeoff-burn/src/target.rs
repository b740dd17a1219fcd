//! The `burn-flex` and `burn-wgpu` execution targets: linear models and MLPs as burn tensor
//! programs. Trees have no burn form (burn has no data-dependent traversal op), so they are
//! `unsupported` here; the `cpu` and `wgsl` targets run them.

use burn::tensor::activation::{relu, sigmoid, softmax, tanh};
use burn::tensor::{Device, Tensor, TensorData};
use std::time::Instant;
use tradeoff_ir::ir::{Activation, Link, ValidIr};

use tradeoff_ir::target::{check_buffers, DeviceKind, DeviceMemory, PhaseTimes, Predictor, Target};
use tradeoff_ir::{Error, Result};

use crate::{device, BurnDevice, Initialized};

/// burn on one of its devices, as an execution target.
pub struct BurnTarget {
    which: BurnDevice,
}

impl BurnTarget {
    pub fn new(which: BurnDevice) -> Self {
        BurnTarget { which }
    }

    /// This target cannot run the model here (no form for its family, no device), with why.
    fn unsupported(&self, message: impl Into<String>) -> Error {
        Error::Unsupported {
            target: self.id().into(),
            message: message.into(),
        }
    }

    fn initialized(&self) -> Result<Initialized> {
        device(self.which).map_err(|e| self.unsupported(e))
    }
}

impl Target for BurnTarget {
    fn id(&self) -> &'static str {
        match self.which {
            BurnDevice::Flex => "burn-flex",
            BurnDevice::Wgpu => "burn-wgpu",
        }
    }
    fn device(&self) -> String {
        match self.initialized() {
            Ok(d) => d.description,
            Err(e) => e.to_string(),
        }
    }
    fn device_kind(&self) -> DeviceKind {
        self.initialized().map_or(DeviceKind::Cpu, |d| d.kind)
    }
    fn load(&self, ir: &ValidIr) -> Result<Box<dyn Predictor>> {
        let dev = self.initialized()?.device;
        let Some((layers, link)) = ir.dense_layers() else {
            return Err(self.unsupported(
                "tree ensembles have no burn form (no data-dependent traversal op); \
                 they run on the cpu and wgsl targets",
            ));
        };
        let layers = layers
            .iter()
            .map(|l| Layer::new(&l.weights, &l.bias, l.inputs, l.outputs, l.activation, &dev))
            .collect();
        let standardize = ir
            .standardize
            .as_ref()
            .map(|s| (row_tensor(&s.mean, &dev), row_tensor(&s.scale, &dev)));
        let bytes = ir.size().parameters * 4;
        Ok(Box::new(BurnPredictor {
            id: self.id(),
            device: dev,
            n_features: ir.n_features,
            n_outputs: ir.n_outputs,
            standardize,
            layers,
            link,
            bytes,
        }))
    }
}

fn row_tensor(v: &[f32], dev: &Device) -> Tensor<2> {
    Tensor::from_data(TensorData::new(v.to_vec(), [1, v.len()]), dev)
}

struct Layer {
    weight: Tensor<2>,
    bias: Tensor<2>,
    activation: Activation,
}

impl Layer {
    fn new(
        w: &[f32],
        b: &[f32],
        inputs: usize,
        outputs: usize,
        activation: Activation,
        dev: &Device,
    ) -> Self {
        Layer {
            weight: Tensor::from_data(TensorData::new(w.to_vec(), [inputs, outputs]), dev),
            bias: row_tensor(b, dev),
            activation,
        }
    }
}

struct BurnPredictor {
    id: &'static str,
    device: Device,
    n_features: usize,
    n_outputs: usize,
    standardize: Option<(Tensor<2>, Tensor<2>)>,
    layers: Vec<Layer>,
    link: Link,
    bytes: u64,
}

impl BurnPredictor {
    fn err(&self, message: impl Into<String>) -> Error {
        Error::Target {
            target: self.id.into(),
            message: message.into(),
        }
    }

    fn check_sizes(&self, x: &[f32], n_rows: usize, out: &[f32]) -> Result<()> {
        check_buffers(
            self.id,
            x,
            n_rows,
            out,
            (self.n_features, self.n_outputs),
            false,
        )
    }

    fn input(&self, x: &[f32], n_rows: usize) -> Tensor<2> {
        Tensor::from_data(
            TensorData::new(x.to_vec(), [n_rows, self.n_features]),
            &self.device,
        )
    }

    fn read_into(&self, y: Tensor<2>, out: &mut [f32]) -> Result<()> {
        let data = y
            .try_into_data()
            .map_err(|e| self.err(format!("reading predictions back: {e:?}")))?;
        let values = data
            .as_slice::<f32>()
            .map_err(|e| self.err(format!("predictions are not f32: {e:?}")))?;
        if values.len() != out.len() {
            return Err(self.err(format!(
                "{} predictions for {} outputs",
                values.len(),
                out.len()
            )));
        }
        out.copy_from_slice(values);
        Ok(())
    }

    fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        let mut h = match &self.standardize {
            Some((mean, scale)) => (x - mean.clone()) / scale.clone(),
            None => x,
        };
        for l in &self.layers {
            h = h.matmul(l.weight.clone()) + l.bias.clone();
            h = match l.activation {
                Activation::Identity => h,
                Activation::Relu => relu(h),
                Activation::Tanh => tanh(h),
                Activation::Sigmoid => sigmoid(h),
            };
        }
        match self.link {
            Link::Identity => h,
            Link::Softmax => softmax(h, 1),
            Link::Sigmoid => {
                let p = sigmoid(h);
                Tensor::cat(vec![p.clone().neg() + 1.0, p], 1)
            }
            Link::OvrSigmoid => {
                let p = sigmoid(h);
                let sum = p.clone().sum_dim(1);
                p / sum
            }
        }
    }
}

impl Predictor for BurnPredictor {
    fn n_outputs(&self) -> usize {
        self.n_outputs
    }

    fn predict(&mut self, x: &[f32], n_rows: usize, out: &mut [f32]) -> Result<()> {
        self.check_sizes(x, n_rows, out)?;
        self.read_into(self.forward(self.input(x, n_rows)), out)
    }

    fn predict_phased(
        &mut self,
        x: &[f32],
        n_rows: usize,
        out: &mut [f32],
    ) -> Result<Option<PhaseTimes>> {
        self.check_sizes(x, n_rows, out)?;
        let t0 = Instant::now();
        let input = self.input(x, n_rows);
        self.sync()?;
        let t1 = Instant::now();
        // Device time of the forward pass, where the adapter has timestamps; the window
        // ends after a sync, so it covers all the work queued.
        let profiled = self.device.profile(|| {
            let y = self.forward(input);
            let _ = self.device.sync();
            y
        });
        let (y, duration) = profiled.map_err(|e| self.err(format!("profiling: {e:?}")))?;
        self.sync()?;
        let t2 = Instant::now();
        self.read_into(y, out)?;
        let t3 = Instant::now();
        let device_compute_ns = (duration.timing_method() == burn::tensor::TimingMethod::Device)
            .then(|| pollster::block_on(duration.resolve()))
            .flatten()
            .map(|ticks| ticks.duration().as_nanos() as f64);
        Ok(Some(PhaseTimes {
            upload_ns: (t1 - t0).as_nanos() as f64,
            compute_ns: (t2 - t1).as_nanos() as f64,
            readback_ns: (t3 - t2).as_nanos() as f64,
            device_compute_ns,
        }))
    }

    fn device_memory(&self) -> Option<DeviceMemory> {
        self.device.memory_pool_usage().map(|u| DeviceMemory {
            in_use_bytes: u.bytes_in_use,
            reserved_bytes: u.bytes_reserved,
            source: format!("burn memory pool of {}", self.id),
        })
    }

    fn sync(&mut self) -> Result<()> {
        self.device
            .sync()
            .map_err(|e| self.err(format!("device sync failed: {e:?}")))
    }

    fn memory_bytes(&self) -> Option<u64> {
        Some(self.bytes)
    }

    fn uses_worker_threads(&self) -> bool {
        true
    }
}
