//! Execution targets: the one trait every backend implements, and the native `cpu` target.
//!
//! ## Design
//! A [`Target`] turns a [`ValidIr`] into a [`Predictor`] (`load` does all one-time work:
//! layout, uploads; validation happened before, in the type). `predict` is the timed call; `sync` waits for queued device
//! work and is a no-op on the CPU, so every timed region can end with it unconditionally.
//! A target that cannot run a model family answers `Err(Error::Unsupported)` from `load`
//! with the reason, and the run records the cell as `unsupported`.

use crate::error::{Error, Result};
use crate::forest::FlatForest;
use crate::ir::{
    apply_link, softmax_rows, Activation, Aggregation, Body, Dense, Link, Standardize, ValidIr,
};
use crate::linear::FlatLinear;
use crate::simd::{bias_activation, gemm_into, stream_layer, thin_layer};

/// A place predictions can run: `cpu`, and later `burn-flex`, `candle-cpu`, `burn-wgpu`, `wgsl`.
pub trait Target: Sync {
    /// The stable id users pass to `--targets`.
    fn id(&self) -> &'static str;
    /// A human description of the hardware behind it (CPU model, adapter name).
    fn device(&self) -> String;
    /// What kind of hardware runs the predictions. Software GPU adapters (llvmpipe,
    /// lavapipe) are not GPUs and must say so.
    fn device_kind(&self) -> DeviceKind {
        DeviceKind::Cpu
    }
    /// Prepares a model to run. Only a validated model reaches a target. Unsupported
    /// families (and a target with no device here) answer `Err(Error::Unsupported)`; a
    /// failure while loading is `Err(Error::Target)`.
    fn load(&self, ir: &ValidIr) -> Result<Box<dyn Predictor>>;
}

/// The hardware behind a target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DeviceKind {
    Cpu,
    Gpu,
    /// A GPU API implemented on the CPU (llvmpipe, lavapipe, WARP): never counted as a GPU.
    SoftwareGpu,
}

impl DeviceKind {
    /// The name records use: `cpu`, `gpu`, `software-gpu`.
    pub fn as_str(self) -> &'static str {
        match self {
            DeviceKind::Cpu => "cpu",
            DeviceKind::Gpu => "gpu",
            DeviceKind::SoftwareGpu => "software-gpu",
        }
    }

    pub fn is_gpu(self) -> bool {
        self == DeviceKind::Gpu
    }
}

/// A wgpu adapter as every target and every table names it, and its kind: an adapter whose
/// device type is the CPU (llvmpipe, lavapipe, WARP) is a software adapter, never a GPU, and
/// its description says so. `cpu_device_type` is `info.device_type == DeviceType::Cpu`.
pub fn describe_adapter(
    name: &str,
    backend: &str,
    driver: &str,
    cpu_device_type: bool,
) -> (String, DeviceKind) {
    let driver = driver.trim();
    if cpu_device_type {
        (
            format!("{name} ({backend}, {driver}) [software adapter: not a GPU]"),
            DeviceKind::SoftwareGpu,
        )
    } else {
        (format!("{name} ({backend}, {driver})"), DeviceKind::Gpu)
    }
}

/// A loaded model on a target.
pub trait Predictor: Send {
    /// Values per row written by `predict`.
    fn n_outputs(&self) -> usize;
    /// Predicts `n_rows` rows of row-major `x` into `out` (`n_rows * n_outputs`).
    fn predict(&mut self, x: &[f32], n_rows: usize, out: &mut [f32]) -> Result<()>;
    /// Waits until all submitted work is finished. No-op on the CPU.
    fn sync(&mut self) -> Result<()> {
        Ok(())
    }
    /// Bytes the loaded model occupies on the target, where known.
    fn memory_bytes(&self) -> Option<u64> {
        None
    }
    /// Another predictor over the same loaded model (its weights shared, not copied), with
    /// scratch of its own, for a further worker; `None` where the target cannot share one
    /// loaded model between predictors (each worker then loads its own).
    fn fork(&self) -> Option<Box<dyn Predictor>> {
        None
    }
    /// Threads a call of `n_rows` rows runs on, where the target decides it (the `cpu`
    /// target); `None` where a runtime schedules its own pool. Where given, it also decides
    /// whether the harness's preemption check applies (see `uses_worker_threads`).
    fn threads(&self, _n_rows: usize) -> Option<usize> {
        None
    }
    /// Whether predictions run on threads besides the caller's (a runtime's thread pool, a
    /// software GPU driver's workers). The caller then waits for a CPU because of our own
    /// work, so its run-queue wait says nothing about other load on the machine.
    fn uses_worker_threads(&self) -> bool {
        false
    }
    /// One call split into its phases (device targets): upload, compute, readback, each
    /// ended by a sync. `None` where the target has no phases (the CPU).
    fn predict_phased(
        &mut self,
        _x: &[f32],
        _n_rows: usize,
        _out: &mut [f32],
    ) -> Result<Option<PhaseTimes>> {
        Ok(None)
    }
    /// Device memory the runtime holds now, where it reports it.
    fn device_memory(&self) -> Option<DeviceMemory> {
        None
    }
}

/// Wall time of one call's phases on a device, each ended by a sync.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PhaseTimes {
    pub upload_ns: f64,
    pub compute_ns: f64,
    pub readback_ns: f64,
    /// The compute phase by the device's own timestamps, where the adapter has them.
    pub device_compute_ns: Option<f64>,
}

/// Device memory in use and reserved, with where the figures come from.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DeviceMemory {
    pub in_use_bytes: u64,
    pub reserved_bytes: u64,
    pub source: String,
}

/// Checks that `x` holds `n_rows` rows of `n_features` and `out` room for `n_outputs` each
/// (and, unless `allow_empty`, that there is at least one row): every target's first step.
pub fn check_buffers(
    target: &str,
    x: &[f32],
    n_rows: usize,
    out: &[f32],
    (n_features, n_outputs): (usize, usize),
    allow_empty: bool,
) -> Result<()> {
    if (n_rows == 0 && !allow_empty)
        || x.len() != n_rows * n_features
        || out.len() != n_rows * n_outputs
    {
        return Err(Error::Target {
            target: target.into(),
            message: format!(
                "buffer sizes {}/{} do not match {n_rows} rows of {n_features} features and {n_outputs} outputs",
                x.len(),
                out.len()
            ),
        });
    }
    Ok(())
}

/// Predicts every row of `x` and returns the outputs.
pub fn predict_all(p: &mut dyn Predictor, x: &[f32], n_rows: usize) -> Result<Vec<f32>> {
    let mut out = vec![0.0; n_rows * p.n_outputs()];
    p.predict(x, n_rows, &mut out)?;
    p.sync()?;
    Ok(out)
}

/// The native CPU target: plain loops over the IR, the reference every target is checked against.
#[derive(Debug, Default, Clone, Copy)]
pub struct CpuTarget;

impl Target for CpuTarget {
    fn id(&self) -> &'static str {
        "cpu"
    }
    fn device(&self) -> String {
        crate::machine::cpu_model()
    }
    fn load(&self, ir: &ValidIr) -> Result<Box<dyn Predictor>> {
        Ok(Box::new(CpuPredictor::new(ir.clone())))
    }
}

/// A model loaded on the CPU target: its layouts, shared by every predictor over it
/// ([`Predictor::fork`]).
struct CpuModel {
    ir: ValidIr,
    /// Tree ensembles in the traversal layout (see [`crate::forest`]).
    forest: Option<FlatForest>,
    /// Linear models in the kernel's layout (see [`crate::linear`]).
    linear: Option<FlatLinear>,
    /// MLPs: the transposed weights of thin layers (see [`FlatMlp`]).
    thin: Vec<Option<Vec<f32>>>,
    /// Threads the MLP's large layers run on (see [`PARALLEL_MACS`]).
    cores: usize,
}

/// A predictor on the CPU target: the loaded model, shared, and this caller's scratch.
pub struct CpuPredictor {
    model: std::sync::Arc<CpuModel>,
    /// Scratch: a block of a multiclass linear model's scores (see [`FlatLinear::predict`]).
    scores: Vec<f32>,
    /// Scratch: MLP activations of the whole batch, two layers' worth.
    act: [Vec<f32>; 2],
    /// Scratch: a forest's per-row sums.
    forest: crate::forest::ForestScratch,
}

impl CpuPredictor {
    pub fn new(ir: ValidIr) -> Self {
        let forest = match &ir.body {
            Body::Trees { trees, aggregation } => {
                let n_scores = match aggregation {
                    Aggregation::Sum { link, .. } => ir.n_scores(*link),
                    _ => ir.n_outputs,
                };
                Some(FlatForest::new(
                    trees,
                    aggregation,
                    ir.n_features,
                    ir.n_outputs,
                    n_scores,
                ))
            }
            _ => None,
        };
        let linear = FlatLinear::new(&ir);
        let model = CpuModel {
            forest,
            linear,
            thin: match &ir.body {
                Body::Mlp { layers, .. } => thin_weights(layers),
                _ => Vec::new(),
            },
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
            ir,
        };
        CpuPredictor::over(std::sync::Arc::new(model))
    }

    fn over(model: std::sync::Arc<CpuModel>) -> Self {
        CpuPredictor {
            model,
            scores: Vec::new(),
            act: [Vec::new(), Vec::new()],
            forest: Default::default(),
        }
    }

    /// A predictor over the same loaded model, with scratch of its own.
    pub fn fork_shared(&self) -> CpuPredictor {
        CpuPredictor::over(self.model.clone())
    }

    /// Whether `other` runs over the same loaded model (not a copy of it).
    pub fn shares_model_with(&self, other: &CpuPredictor) -> bool {
        std::sync::Arc::ptr_eq(&self.model, &other.model)
    }

    /// Threads a call of `n_rows` rows runs on: the caller's alone, except MLP layers and
    /// linear batches large enough to amortize handing work to other cores.
    pub fn threads(&self, n_rows: usize) -> usize {
        let m = &self.model;
        match &m.ir.body {
            Body::Mlp { layers, .. } if parallel_layers(layers, n_rows) => m.cores,
            Body::Linear { .. } => m.linear.as_ref().map_or(1, |l| l.threads(n_rows)),
            _ => 1,
        }
    }
}

impl Predictor for CpuPredictor {
    fn n_outputs(&self) -> usize {
        self.model.ir.n_outputs
    }

    fn predict(&mut self, x: &[f32], n_rows: usize, out: &mut [f32]) -> Result<()> {
        let threads = self.threads(n_rows);
        let m = &*self.model;
        let nf = m.ir.n_features;
        let no = m.ir.n_outputs;
        check_buffers("cpu", x, n_rows, out, (nf, no), true)?;
        if let Body::Mlp { layers, link } = &m.ir.body {
            let mlp = FlatMlp {
                layers,
                thin: &m.thin,
                link: *link,
                standardize: m.ir.standardize.as_ref(),
            };
            mlp_forward(&mlp, (x, n_rows), &mut self.act, out, threads);
            return Ok(());
        }
        if let Some(f) = &m.forest {
            match &m.ir.standardize {
                Some(s) => {
                    let z = &mut self.act[0];
                    z.clear();
                    z.extend_from_slice(x);
                    s.apply_in_place(z);
                    f.predict(z, n_rows, out, &mut self.forest);
                }
                None => f.predict(x, n_rows, out, &mut self.forest),
            }
            return Ok(());
        }
        let lin = m.linear.as_ref().expect("built for linear bodies");
        lin.predict(x, n_rows, out, &mut self.scores);
        Ok(())
    }

    fn fork(&self) -> Option<Box<dyn Predictor>> {
        Some(Box::new(self.fork_shared()))
    }

    fn threads(&self, n_rows: usize) -> Option<usize> {
        Some(CpuPredictor::threads(self, n_rows))
    }

    fn memory_bytes(&self) -> Option<u64> {
        let m = &self.model;
        let floats = match &m.ir.body {
            Body::Linear { .. } => return m.linear.as_ref().map(FlatLinear::bytes),
            Body::Trees { .. } => {
                return m.forest.as_ref().map(FlatForest::bytes);
            }
            Body::Mlp { layers, .. } => layers
                .iter()
                .map(|l| l.weights.len() + l.bias.len())
                .sum::<usize>(),
        };
        Some((floats * 4) as u64)
    }
}

/// Up to this many rows, MLP layers stream the weights row by row instead of calling GEMM.
const SMALL_BATCH: usize = 4;

/// Multiply-adds in one layer above which the layer runs on every core: below it, handing
/// work to other threads costs more than it saves (about 8 MFLOP, some 35 µs on one core).
pub const PARALLEL_MACS: usize = 1 << 22;

fn parallel_layers(layers: &[Dense], n_rows: usize) -> bool {
    layers
        .iter()
        .any(|l| n_rows * l.inputs * l.outputs >= PARALLEL_MACS)
}

/// Layers with at most this many outputs run on [`thin_layer`]: `gemm` took 40 µs for a
/// 512 x 256 x 2 product here (13 GFLOP/s, a tenth of an MLP-m block's time for under 1% of
/// its FLOPs).
const THIN_OUTPUTS: usize = 8;

/// Rows per block of a large batch: a block's activations (512 rows of a 256-wide layer,
/// 512 KiB) stay in the core's L2 cache through every layer, and the blocks are what the
/// cores share out.
const BLOCK_ROWS: usize = 512;

/// An MLP in the layout the `cpu` target runs: the IR's layers, and for each thin layer (at
/// most [`THIN_OUTPUTS`] outputs) its weights transposed, one output's row after another.
struct FlatMlp<'a> {
    layers: &'a [Dense],
    thin: &'a [Option<Vec<f32>>],
    link: Link,
    standardize: Option<&'a Standardize>,
}

/// The transposed weights of each thin layer (see [`FlatMlp`]).
fn thin_weights(layers: &[Dense]) -> Vec<Option<Vec<f32>>> {
    layers
        .iter()
        .map(|l| {
            (l.outputs <= THIN_OUTPUTS).then(|| {
                (0..l.outputs)
                    .flat_map(|o| (0..l.inputs).map(move |i| l.weights[i * l.outputs + o]))
                    .collect()
            })
        })
        .collect()
}

/// Runs an MLP on a whole batch, block by block (in parallel on `threads` > 1): per layer one
/// matrix product (GEMM; a dot product per row and output for thin layers), then bias and
/// activation in one pass, then the link row by row. `act` is reusable scratch for the
/// caller's thread.
fn mlp_forward(
    mlp: &FlatMlp,
    (x, n_rows): (&[f32], usize),
    act: &mut [Vec<f32>; 2],
    out: &mut [f32],
    threads: usize,
) {
    let nf = mlp.layers.first().map_or(1, |l| l.inputs);
    let n_out = out.len() / n_rows.max(1);
    if threads > 1 && n_rows > BLOCK_ROWS {
        use rayon::iter::{IndexedParallelIterator, ParallelIterator};
        use rayon::slice::{ParallelSlice, ParallelSliceMut};
        thread_local! {
            /// A worker thread's activations, kept from call to call: fresh buffers each call
            /// cost a page fault per 4 KiB touched (a tenth of an MLP-m call at 4096 rows).
            static ACT: std::cell::RefCell<[Vec<f32>; 2]> = const {
                std::cell::RefCell::new([Vec::new(), Vec::new()])
            };
        }
        x.par_chunks(BLOCK_ROWS * nf)
            .zip(out.par_chunks_mut(BLOCK_ROWS * n_out))
            .for_each(|(xb, ob)| {
                ACT.with_borrow_mut(|act| mlp_block(mlp, xb, act, ob, 1));
            });
    } else {
        // One block on several threads (a small batch of a wide layer), or blocks in turn.
        for (xb, ob) in x
            .chunks(BLOCK_ROWS * nf)
            .zip(out.chunks_mut(BLOCK_ROWS * n_out))
        {
            mlp_block(mlp, xb, act, ob, threads);
        }
    }
}

/// One block of rows through every layer; `threads` for the GEMMs.
fn mlp_block(mlp: &FlatMlp, x: &[f32], act: &mut [Vec<f32>; 2], out: &mut [f32], threads: usize) {
    let n_rows = x.len() / mlp.layers.first().map_or(1, |l| l.inputs.max(1));
    let [cur, next] = act;
    cur.clear();
    cur.extend_from_slice(x);
    if let Some(s) = mlp.standardize {
        s.apply_in_place(cur);
    }
    for (l, thin) in mlp.layers.iter().zip(mlp.thin) {
        if n_rows <= SMALL_BATCH {
            // A few rows: the weights are read once per row whatever we do, so stream them
            // in their stored order (row i of W scaled by x[i], skipping zero inputs).
            next.clear();
            for _ in 0..n_rows {
                next.extend_from_slice(&l.bias);
            }
            for (xr, yr) in cur
                .chunks_exact(l.inputs)
                .zip(next.chunks_exact_mut(l.outputs))
            {
                stream_layer(xr, &l.weights, yr);
            }
            if l.activation != Activation::Identity {
                next.iter_mut().for_each(|v| *v = l.activation.apply(*v));
            }
        } else {
            // The product, then bias and activation in one pass. Every element is
            // overwritten: resizing a buffer already this long writes nothing.
            next.resize(n_rows * l.outputs, 0.0);
            let x = &cur[..n_rows * l.inputs];
            match thin {
                Some(wt) => thin_layer(x, l.inputs, wt, next),
                None => {
                    // Shapes were checked by `ModelIr::validate`, buffer sizes by `predict`.
                    let t = if n_rows * l.inputs * l.outputs >= PARALLEL_MACS {
                        threads
                    } else {
                        1
                    };
                    gemm_into((n_rows, l.inputs, l.outputs), x, &l.weights, next, t);
                }
            }
            bias_activation(next, &l.bias, l.activation);
        }
        std::mem::swap(cur, next);
    }
    let n_scores = mlp.layers.last().map_or(0, |l| l.outputs);
    let n_out = out.len() / n_rows.max(1);
    if mlp.link == Link::Softmax {
        softmax_rows(&cur[..n_rows * n_scores], n_scores, out);
        return;
    }
    for (scores, o) in cur.chunks_exact(n_scores).zip(out.chunks_exact_mut(n_out)) {
        apply_link(mlp.link, scores, o);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::{Link, ModelIr, Node, Standardize, Tree, IR_VERSION};

    #[test]
    fn software_adapters_are_labelled_and_never_gpus() {
        let (text, kind) = describe_adapter(
            "llvmpipe (LLVM 15.0.6, 256 bits)",
            "Vulkan",
            "llvmpipe Mesa 22.3.6 ",
            true,
        );
        assert_eq!(kind, DeviceKind::SoftwareGpu);
        assert!(!kind.is_gpu());
        assert_eq!(
            text,
            "llvmpipe (LLVM 15.0.6, 256 bits) (Vulkan, llvmpipe Mesa 22.3.6) [software adapter: not a GPU]"
        );
        let (text, kind) = describe_adapter("NVIDIA H200", "Vulkan", "NVIDIA 560.35.03", false);
        assert_eq!(kind, DeviceKind::Gpu);
        assert!(kind.is_gpu());
        assert!(!text.contains("software"), "{text}");
    }

    #[test]
    fn linear_with_standardization() {
        let ir = ModelIr {
            ir_version: IR_VERSION,
            n_features: 2,
            n_outputs: 1,
            classification: false,
            standardize: Some(Standardize {
                mean: vec![1.0, 2.0],
                scale: vec![2.0, 4.0],
            }),
            body: Body::Linear {
                weights: vec![3.0, -1.0],
                bias: vec![0.5],
                link: Link::Identity,
            },
        };
        let mut p = CpuTarget.load(&ir.clone().validate().unwrap()).unwrap();
        let out = predict_all(p.as_mut(), &[3.0, 6.0, 1.0, 2.0], 2).unwrap();
        assert_eq!(out, vec![0.5 + 3.0 - 1.0, 0.5]);
    }

    #[test]
    fn vote_and_boosting() {
        let split = Node {
            feature: 1,
            threshold: 0.0,
            left: 1,
            right: 2,
            value: 0.0,
        };
        let tree = |a: f32, b: f32, output| Tree {
            output,
            nodes: vec![split, Node::leaf(a), Node::leaf(b)],
        };
        let vote = ModelIr {
            ir_version: IR_VERSION,
            n_features: 2,
            n_outputs: 3,
            classification: true,
            standardize: None,
            body: Body::Trees {
                trees: vec![tree(0.0, 2.0, 0), tree(0.0, 1.0, 0), tree(1.0, 2.0, 0)],
                aggregation: Aggregation::Vote,
            },
        };
        let mut p = CpuTarget.load(&vote.clone().validate().unwrap()).unwrap();
        let out = predict_all(p.as_mut(), &[0.0, -1.0, 0.0, 1.0], 2).unwrap();
        let third = 1.0 / 3.0;
        assert_eq!(out, vec![2.0 * third, third, 0.0, 0.0, third, 2.0 * third]);

        let boost = ModelIr {
            body: Body::Trees {
                trees: vec![tree(-1.0, 1.0, 0), tree(-0.5, 0.5, 0)],
                aggregation: Aggregation::Sum {
                    base: vec![0.25],
                    link: Link::Identity,
                },
            },
            n_outputs: 1,
            classification: false,
            ..vote
        };
        let mut p = CpuTarget.load(&boost.clone().validate().unwrap()).unwrap();
        let out = predict_all(p.as_mut(), &[0.0, -1.0, 0.0, 1.0], 2).unwrap();
        assert_eq!(out, vec![-1.25, 1.75]);
    }

    /// Forks run over one loaded model, each with its own scratch, and predict what a model
    /// of their own would, on several threads at once.
    #[test]
    fn forks_share_one_loaded_model_and_predict_alike_on_their_own_threads() {
        let split = Node {
            feature: 1,
            threshold: 0.0,
            left: 1,
            right: 2,
            value: 0.0,
        };
        let tree = |a: f32, b: f32| Tree {
            output: 0,
            nodes: vec![split, Node::leaf(a), Node::leaf(b)],
        };
        let ir = ModelIr {
            ir_version: IR_VERSION,
            n_features: 2,
            n_outputs: 1,
            classification: false,
            standardize: None,
            body: Body::Trees {
                trees: vec![tree(-1.0, 1.0), tree(-0.5, 0.5), tree(2.0, -2.0)],
                aggregation: Aggregation::Sum {
                    base: vec![0.25],
                    link: Link::Identity,
                },
            },
        }
        .validate()
        .unwrap();
        let first = CpuPredictor::new(ir.clone());
        let forks: Vec<CpuPredictor> = (0..3).map(|_| first.fork_shared()).collect();
        assert!(forks.iter().all(|f| f.shares_model_with(&first)));
        assert!(!CpuPredictor::new(ir.clone()).shares_model_with(&first));
        let rows: Vec<f32> = (0..2000).map(|i| (i % 7) as f32 - 3.0).collect();
        let want = predict_all(&mut CpuPredictor::new(ir), &rows, 1000).unwrap();
        std::thread::scope(|s| {
            for mut f in forks {
                let (rows, want) = (&rows, &want);
                s.spawn(move || {
                    for n in [1000, 1, 7, 64] {
                        let got = predict_all(&mut f, &rows[..2 * n], n).unwrap();
                        assert_eq!(got, want[..n]);
                    }
                });
            }
        });
    }

    #[test]
    fn mlp_matches_a_hand_computation() {
        // 2 features -> 3 hidden (relu) -> 2 classes (softmax).
        let ir = ModelIr {
            ir_version: IR_VERSION,
            n_features: 2,
            n_outputs: 2,
            classification: true,
            standardize: None,
            body: Body::Mlp {
                layers: vec![
                    Dense {
                        inputs: 2,
                        outputs: 3,
                        weights: vec![1.0, -1.0, 0.5, 2.0, 1.0, -0.5],
                        bias: vec![0.0, 0.5, -1.0],
                        activation: Activation::Relu,
                    },
                    Dense {
                        inputs: 3,
                        outputs: 2,
                        weights: vec![1.0, 0.0, 0.0, 1.0, 1.0, 1.0],
                        bias: vec![0.0, 0.0],
                        activation: Activation::Identity,
                    },
                ],
                link: Link::Softmax,
            },
        };
        ir.check().unwrap();
        let mut p = CpuTarget.load(&ir.clone().validate().unwrap()).unwrap();
        let rows = [1.0, 1.0, -1.0, 2.0];
        let out = predict_all(p.as_mut(), &rows, 2).unwrap();
        for (r, x) in rows.chunks(2).enumerate() {
            let h = [
                (x[0] + 2.0 * x[1]).max(0.0),
                (-x[0] + x[1] + 0.5).max(0.0),
                (0.5 * x[0] - 0.5 * x[1] - 1.0).max(0.0),
            ];
            let mut want = [0.0; 2];
            apply_link(Link::Softmax, &[h[0] + h[2], h[1] + h[2]], &mut want);
            for k in 0..2 {
                assert!(
                    (out[r * 2 + k] - want[k]).abs() < 1e-6,
                    "row {r}: {out:?} vs {want:?}"
                );
            }
        }
        // More rows than SMALL_BATCH take the GEMM path: the same answers.
        let many: Vec<f32> = rows.iter().copied().cycle().take(rows.len() * 5).collect();
        let batched = predict_all(p.as_mut(), &many, 10).unwrap();
        for (a, b) in batched.iter().zip(out.iter().cycle()) {
            assert!((a - b).abs() < 1e-6, "{batched:?} vs {out:?}");
        }
        let mut bad = ir.clone();
        if let Body::Mlp { layers, .. } = &mut bad.body {
            layers[1].bias.push(0.0);
        }
        assert!(bad.check().is_err());
    }

    #[test]
    fn large_mlp_layers_use_every_core_and_agree_with_a_plain_product() {
        let mut rng = crate::rng::Rng::new(3);
        let mut dense = |inputs: usize, outputs: usize, activation| Dense {
            inputs,
            outputs,
            weights: (0..inputs * outputs)
                .map(|_| (rng.next_f64() - 0.5) as f32 * 0.2)
                .collect(),
            bias: (0..outputs)
                .map(|_| (rng.next_f64() - 0.5) as f32)
                .collect(),
            activation,
        };
        let layers = vec![
            dense(8, 300, Activation::Relu),
            dense(300, 300, Activation::Tanh),
            dense(300, 16, Activation::Sigmoid),
            dense(16, 1, Activation::Identity),
        ];
        let ir = ModelIr {
            ir_version: IR_VERSION,
            n_features: 8,
            n_outputs: 1,
            classification: false,
            standardize: None,
            body: Body::Mlp {
                layers: layers.clone(),
                link: Link::Identity,
            },
        };
        ir.check().unwrap();
        let p = CpuPredictor::new(ir.clone().validate().unwrap());
        let rows = 64;
        assert!(rows * 300 * 300 >= PARALLEL_MACS);
        assert_eq!(p.threads(1), 1, "one row runs on the caller's thread");
        assert_eq!(
            p.threads(rows),
            std::thread::available_parallelism().map_or(1, |n| n.get())
        );
        let x: Vec<f32> = (0..rows * 8)
            .map(|i| ((i * 37 % 17) as f32 - 8.0) / 4.0)
            .collect();
        let mut p = CpuTarget.load(&ir.clone().validate().unwrap()).unwrap();
        let mut got = predict_all(p.as_mut(), &x, rows).unwrap();
        // A few rows at a time take the streamed path (300 outputs: four 64-wide tiles held
        // in registers and a ragged rest): checked against the same formula.
        got.extend(predict_all(p.as_mut(), &x[..3 * 8], 3).unwrap());
        got.extend(predict_all(p.as_mut(), &x[3 * 8..4 * 8], 1).unwrap());
        for (r, g) in got.iter().enumerate() {
            let r = r % rows;
            let mut h: Vec<f64> = x[r * 8..(r + 1) * 8].iter().map(|v| *v as f64).collect();
            for l in &layers {
                let mut y: Vec<f64> = l.bias.iter().map(|b| *b as f64).collect();
                for (i, hi) in h.iter().enumerate() {
                    for (o, yo) in y.iter_mut().enumerate() {
                        *yo += hi * l.weights[i * l.outputs + o] as f64;
                    }
                }
                y.iter_mut().for_each(|v| *v = l.activation.eval(*v));
                h = y;
            }
            assert!(
                (*g as f64 - h[0]).abs() < 1e-4 * h[0].abs().max(1.0),
                "row {r}: {g} vs {}",
                h[0]
            );
        }
    }

    #[test]
    fn wrong_buffer_sizes_are_errors() {
        let ir = ModelIr {
            ir_version: IR_VERSION,
            n_features: 2,
            n_outputs: 1,
            classification: false,
            standardize: None,
            body: Body::Linear {
                weights: vec![1.0, 1.0],
                bias: vec![0.0],
                link: Link::Identity,
            },
        };
        let mut p = CpuTarget.load(&ir.clone().validate().unwrap()).unwrap();
        let mut out = [0.0; 1];
        assert!(p.predict(&[1.0], 1, &mut out).is_err());
    }
}
