//! The `wgsl` execution target: every IR family on a wgpu adapter through our own kernels.
//! The model's buffers are uploaded once at load; each call uploads the rows, dispatches the
//! kernel chain in one submission, and reads the outputs back. Batches larger than the
//! adapter's limits allow in one dispatch run in chunks.

use std::sync::Arc;
use std::time::Instant;

use tradeoff_ir::ir::{Aggregation, Body, Link, ModelIr, ValidIr};
use tradeoff_ir::target::{check_buffers, DeviceKind, DeviceMemory, PhaseTimes, Predictor, Target};
use tradeoff_ir::{Error, Result};
use wgpu::util::{BufferInitDescriptor, DeviceExt};
use wgpu::{BindGroup, Buffer, BufferUsages, ComputePipeline};

use crate::gpu::{gpu, Gpu, Kernel, LinearShape};

const ID: &str = "wgsl";

fn err(message: impl std::fmt::Display) -> Error {
    Error::Target {
        target: ID.into(),
        message: message.to_string(),
    }
}

/// Our WGSL kernels on the process's wgpu adapter.
#[derive(Debug, Default, Clone, Copy)]
pub struct WgslTarget {
    /// Rows per dispatch chain, below what the adapter's limits allow (tests use it to
    /// exercise chunking on small batches).
    pub max_rows: Option<usize>,
    /// Run linear models through the tiled `dense` kernel instead of the `linear` one (to
    /// compare the two, and to test the path models of more than 16 scores take).
    pub dense_linear: bool,
    /// Workgroups per dispatch dimension, below the adapter's limit (tests use it to exercise
    /// chunking and two-dimensional dispatch on small batches).
    pub max_groups: Option<u32>,
}

impl Target for WgslTarget {
    fn id(&self) -> &'static str {
        ID
    }
    fn device(&self) -> String {
        match gpu() {
            Ok(g) => g.description.clone(),
            Err(e) => e,
        }
    }
    fn device_kind(&self) -> DeviceKind {
        match gpu() {
            Ok(g) if g.software => DeviceKind::SoftwareGpu,
            Ok(_) => DeviceKind::Gpu,
            Err(_) => DeviceKind::Cpu,
        }
    }
    fn load(&self, ir: &ValidIr) -> Result<Box<dyn Predictor>> {
        // No adapter on this machine: the target cannot run here (a failure of one that
        // exists is an error below).
        let g = gpu().map_err(|e| Error::Unsupported {
            target: ID.into(),
            message: e,
        })?;
        let program = Program::new(&g, ir, self.dense_linear).map_err(err)?;
        g.check().map_err(err)?;
        let widest = program.widest(ir);
        let groups = g
            .limits
            .max_compute_workgroups_per_dimension
            .min(self.max_groups.unwrap_or(u32::MAX))
            .max(1);
        let max_rows = g
            .max_rows(widest, program.rows_per_group(), groups as usize)
            .min(self.max_rows.unwrap_or(usize::MAX))
            .max(1);
        Ok(Box::new(WgslPredictor {
            gpu: g,
            program,
            n_features: ir.n_features,
            n_outputs: ir.n_outputs,
            max_rows,
            groups,
            plans: Vec::new(),
        }))
    }
}

fn storage(g: &Gpu, label: &str, data: &[f32]) -> Buffer {
    // A binding needs at least one element.
    let data: &[f32] = if data.is_empty() { &[0.0] } else { data };
    g.device.create_buffer_init(&BufferInitDescriptor {
        label: Some(label),
        contents: bytemuck::cast_slice(data),
        usage: BufferUsages::STORAGE,
    })
}

fn uniform(g: &Gpu, words: &[u32]) -> Buffer {
    g.device.create_buffer_init(&BufferInitDescriptor {
        label: Some("params"),
        contents: bytemuck::cast_slice(words),
        usage: BufferUsages::UNIFORM,
    })
}

fn link_code(link: Link) -> u32 {
    match link {
        Link::Identity => 0,
        Link::Sigmoid => 1,
        Link::Softmax => 2,
        Link::OvrSigmoid => 3,
    }
}

struct Layer {
    w: Buffer,
    bias: Buffer,
    norm: Buffer,
    inputs: usize,
    outputs: usize,
    /// [`tradeoff_ir::ir::Activation::code`].
    activation: u32,
    standardize: bool,
}

enum Program {
    /// Linear models of up to 16 scores through the `linear` kernel, then the link (none for
    /// identity: the kernel writes the outputs).
    Linear {
        layer: Layer,
        shape: LinearShape,
        kernel: Arc<Kernel>,
        link: Link,
    },
    /// Other linear models (one layer) and MLPs, then the link.
    Layers { layers: Vec<Layer>, link: Link },
    Trees {
        nodes: Buffer,
        trees: Buffer,
        extra: Buffer,
        n_trees: usize,
        /// 0 vote, 1 mean, 2 sum (then the link).
        mode: u32,
        n_cols: usize,
        link: Option<Link>,
        standardize: bool,
        std_offset: usize,
    },
}

impl Program {
    fn new(g: &Gpu, ir: &ModelIr, dense_linear: bool) -> std::result::Result<Program, String> {
        let norm = |on: bool| match (&ir.standardize, on) {
            (Some(s), true) => {
                let v: Vec<f32> = s.mean.iter().chain(&s.scale).copied().collect();
                storage(g, "norm", &v)
            }
            _ => storage(g, "norm", &[]),
        };
        if let Some((layers, link)) = ir.dense_layers() {
            let mut layers: Vec<Layer> = layers
                .iter()
                .enumerate()
                .map(|(i, l)| Layer {
                    w: storage(g, "weights", &l.weights),
                    bias: storage(g, "bias", &l.bias),
                    norm: norm(i == 0),
                    inputs: l.inputs,
                    outputs: l.outputs,
                    activation: l.activation.code(),
                    standardize: i == 0 && ir.standardize.is_some(),
                })
                .collect();
            let scores = layers.first().map_or(0, |l| l.outputs);
            let shape = LinearShape::new(ir.n_features, scores, ir.standardize.is_some());
            if let (Body::Linear { .. }, Some(shape), false) = (&ir.body, shape, dense_linear) {
                return Ok(Program::Linear {
                    layer: layers.remove(0),
                    kernel: g.linear(shape)?,
                    shape,
                    link,
                });
            }
            return Ok(Program::Layers { layers, link });
        }
        match &ir.body {
            Body::Trees { trees, aggregation } => {
                let mut nodes: Vec<u32> = Vec::new();
                let mut meta: Vec<u32> = Vec::new();
                for t in trees {
                    meta.push((nodes.len() / 5) as u32);
                    meta.push(t.output);
                    for n in &t.nodes {
                        nodes.extend([
                            n.feature,
                            n.threshold.to_bits(),
                            n.left,
                            n.right,
                            n.value.to_bits(),
                        ]);
                    }
                }
                let (mode, n_cols, link, mut extra) = match aggregation {
                    Aggregation::Vote => (0, ir.n_outputs, None, Vec::new()),
                    Aggregation::Mean => (1, 1, None, Vec::new()),
                    Aggregation::Sum { base, link } => (2, base.len(), Some(*link), base.clone()),
                };
                let std_offset = extra.len();
                if let Some(s) = &ir.standardize {
                    extra.extend(s.mean.iter().chain(&s.scale));
                }
                let words = |label: &str, v: &[u32]| {
                    g.device.create_buffer_init(&BufferInitDescriptor {
                        label: Some(label),
                        contents: bytemuck::cast_slice(v),
                        usage: BufferUsages::STORAGE,
                    })
                };
                Ok(Program::Trees {
                    nodes: words("nodes", &nodes),
                    trees: words("trees", &meta),
                    extra: storage(g, "extra", &extra),
                    n_trees: trees.len(),
                    mode,
                    n_cols,
                    link,
                    standardize: ir.standardize.is_some(),
                    std_offset,
                })
            }
            Body::Linear { .. } | Body::Mlp { .. } => {
                unreachable!("linear models and MLPs are dense layers, handled above")
            }
        }
    }

    /// The widest per-row buffer any step uses, in floats.
    fn widest(&self, ir: &ModelIr) -> usize {
        let mut w = ir.n_features.max(ir.n_outputs);
        if let Program::Layers { layers, .. } = self {
            for l in layers {
                w = w.max(l.outputs);
            }
        }
        w
    }

    /// The fewest rows one workgroup of the chain covers along the dispatch's one dimension;
    /// `None` when the chain dispatches in two dimensions (the `linear` kernel, alone).
    fn rows_per_group(&self) -> Option<usize> {
        match self {
            Program::Linear {
                link: Link::Identity,
                ..
            } => None,
            Program::Linear { .. } | Program::Trees { .. } => Some(64),
            Program::Layers { .. } => Some(16),
        }
    }

    fn model_bytes(&self) -> u64 {
        match self {
            Program::Linear { layer: l, .. } => l.w.size() + l.bias.size() + l.norm.size(),
            Program::Layers { layers, .. } => layers
                .iter()
                .map(|l| l.w.size() + l.bias.size() + l.norm.size())
                .sum(),
            Program::Trees {
                nodes,
                trees,
                extra,
                ..
            } => nodes.size() + trees.size() + extra.size(),
        }
    }
}

/// The buffers and bind groups of one chunk size, built on first use.
struct Plan {
    rows: usize,
    /// Mapped for writing on the host, then copied to `x`: kept per plan, so a call neither
    /// allocates a staging buffer (as `Queue::write_buffer` does) nor faults in fresh pages.
    upload: Buffer,
    x: Buffer,
    out: Buffer,
    staging: Buffer,
    /// Pipeline, bind group, workgroup counts.
    steps: Vec<(ComputePipeline, BindGroup, [u32; 3])>,
    bytes: u64,
}

struct WgslPredictor {
    gpu: Arc<Gpu>,
    program: Program,
    n_features: usize,
    n_outputs: usize,
    max_rows: usize,
    /// Workgroups per dispatch dimension.
    groups: u32,
    /// At most two: full chunks and the last partial one.
    plans: Vec<Plan>,
}

/// A query set for two timestamps, with the buffers to resolve and read them.
struct Stamps {
    set: wgpu::QuerySet,
    resolve: Buffer,
    read: Buffer,
}

impl Stamps {
    fn new(g: &Gpu) -> Stamps {
        let buffer = |usage| {
            g.device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("timestamps"),
                size: 16,
                usage,
                mapped_at_creation: false,
            })
        };
        Stamps {
            set: g.device.create_query_set(&wgpu::QuerySetDescriptor {
                label: Some("compute pass"),
                ty: wgpu::QueryType::Timestamp,
                count: 2,
            }),
            resolve: buffer(BufferUsages::QUERY_RESOLVE | BufferUsages::COPY_SRC),
            read: buffer(BufferUsages::MAP_READ | BufferUsages::COPY_DST),
        }
    }

    /// The pass's device time; `None` when the ticks went backwards (left to the caller's
    /// consistency check to report as missing).
    fn read_ns(&self, g: &Gpu) -> std::result::Result<Option<f64>, String> {
        let slice = self.read.slice(..);
        slice.map_async(wgpu::MapMode::Read, |_| {});
        g.wait()?;
        let ticks: [u64; 2] = {
            let view = slice
                .get_mapped_range()
                .map_err(|e| format!("reading timestamps: {e}"))?;
            let v: &[u64] = bytemuck::cast_slice(&view);
            [v[0], v[1]]
        };
        self.read.unmap();
        let period = g.queue.get_timestamp_period() as f64;
        Ok(ticks[1].checked_sub(ticks[0]).map(|d| d as f64 * period))
    }
}

fn groups(n: usize, per: usize) -> u32 {
    n.div_ceil(per) as u32
}

/// The `link` kernel from `n_scores` scores a row in `scores` to `n_outputs` outputs in `out`.
#[allow(clippy::too_many_arguments)]
fn link_step(
    g: &Gpu,
    bind: &dyn Fn(&Kernel, &[&Buffer]) -> BindGroup,
    rows: usize,
    n_scores: usize,
    n_outputs: usize,
    link: Link,
    scores: &Buffer,
    out: &Buffer,
) -> (ComputePipeline, BindGroup, [u32; 3]) {
    let params = uniform(
        g,
        &[
            rows as u32,
            n_scores as u32,
            n_outputs as u32,
            link_code(link),
        ],
    );
    let bg = bind(&g.link, &[&params, scores, out]);
    (g.link.pipeline.clone(), bg, [groups(rows, 64), 1, 1])
}

impl WgslPredictor {
    fn plan(&mut self, rows: usize) -> usize {
        if let Some(i) = self.plans.iter().position(|p| p.rows == rows) {
            return i;
        }
        let g = self.gpu.clone();
        let f32s = |label: &str, floats: usize, usage: BufferUsages| {
            g.device.create_buffer(&wgpu::BufferDescriptor {
                label: Some(label),
                size: (floats.max(1) * 4) as u64,
                usage,
                mapped_at_creation: false,
            })
        };
        let rw = BufferUsages::STORAGE | BufferUsages::COPY_SRC | BufferUsages::COPY_DST;
        let x = f32s("x", rows * self.n_features, rw);
        let out = f32s("out", rows * self.n_outputs, rw);
        let staging = f32s(
            "staging",
            rows * self.n_outputs,
            BufferUsages::MAP_READ | BufferUsages::COPY_DST,
        );
        let upload = f32s(
            "upload",
            rows * self.n_features,
            BufferUsages::MAP_WRITE | BufferUsages::COPY_SRC,
        );
        let mut bytes = upload.size() + x.size() + out.size() + staging.size();
        let mut steps = Vec::new();
        let bind = |kernel: &Kernel, buffers: &[&Buffer]| -> BindGroup {
            let entries: Vec<wgpu::BindGroupEntry> = buffers
                .iter()
                .enumerate()
                .map(|(i, b)| wgpu::BindGroupEntry {
                    binding: i as u32,
                    resource: b.as_entire_binding(),
                })
                .collect();
            g.device.create_bind_group(&wgpu::BindGroupDescriptor {
                label: None,
                layout: &kernel.layout,
                entries: &entries,
            })
        };
        match &self.program {
            Program::Linear {
                layer,
                shape,
                kernel,
                link,
            } => {
                // Workgroups in two dimensions when one is not enough.
                let needed = rows.div_ceil(shape.rows_per_group());
                let gx = needed.min(self.groups as usize);
                let gy = needed.div_ceil(gx);
                let params = uniform(&g, &[rows as u32, layer.inputs as u32, gx as u32, 0]);
                let scores =
                    (*link != Link::Identity).then(|| f32s("scores", rows * layer.outputs, rw));
                let target = scores.as_ref().unwrap_or(&out);
                let bg = bind(
                    kernel,
                    &[&params, &x, &layer.w, &layer.bias, &layer.norm, target],
                );
                steps.push((kernel.pipeline.clone(), bg, [gx as u32, gy as u32, 1]));
                if let Some(s) = &scores {
                    steps.push(link_step(
                        &g,
                        &bind,
                        rows,
                        layer.outputs,
                        self.n_outputs,
                        *link,
                        s,
                        &out,
                    ));
                    bytes += s.size();
                }
            }
            Program::Layers { layers, link } => {
                let mut input = &x;
                let mut acts: Vec<Buffer> = Vec::new();
                for l in layers {
                    acts.push(f32s("activations", rows * l.outputs, rw));
                }
                for (i, l) in layers.iter().enumerate() {
                    let params = uniform(
                        &g,
                        &[
                            rows as u32,
                            l.inputs as u32,
                            l.outputs as u32,
                            l.activation,
                            l.standardize as u32,
                            0,
                            0,
                            0,
                        ],
                    );
                    let bg = bind(
                        &g.dense,
                        &[&params, input, &l.w, &l.bias, &l.norm, &acts[i]],
                    );
                    steps.push((
                        g.dense.pipeline.clone(),
                        bg,
                        [groups(l.outputs, 16), groups(rows, 16), 1],
                    ));
                    input = &acts[i];
                }
                let n_scores = layers.last().map_or(1, |l| l.outputs);
                steps.push(link_step(
                    &g,
                    &bind,
                    rows,
                    n_scores,
                    self.n_outputs,
                    *link,
                    input,
                    &out,
                ));
                bytes += acts.iter().map(|b| b.size()).sum::<u64>();
            }
            Program::Trees {
                nodes,
                trees,
                extra,
                n_trees,
                mode,
                n_cols,
                link,
                standardize,
                std_offset,
            } => {
                let scores = link.map(|_| f32s("scores", rows * n_cols, rw));
                let target = scores.as_ref().unwrap_or(&out);
                let params = uniform(
                    &g,
                    &[
                        rows as u32,
                        self.n_features as u32,
                        *n_trees as u32,
                        *n_cols as u32,
                        *mode,
                        *standardize as u32,
                        *std_offset as u32,
                        0,
                    ],
                );
                let bg = bind(&g.trees, &[&params, &x, nodes, trees, extra, target]);
                steps.push((g.trees.pipeline.clone(), bg, [groups(rows, 64), 1, 1]));
                if let (Some(link), Some(s)) = (link, &scores) {
                    steps.push(link_step(
                        &g,
                        &bind,
                        rows,
                        *n_cols,
                        self.n_outputs,
                        *link,
                        s,
                        &out,
                    ));
                    bytes += s.size();
                }
            }
        }
        if self.plans.len() >= 2 {
            self.plans.remove(0);
        }
        self.plans.push(Plan {
            rows,
            x,
            out,
            staging,
            upload,
            steps,
            bytes,
        });
        self.plans.len() - 1
    }

    /// Runs one chunk; with `phased`, waits after the upload and after the compute so each
    /// phase is timed on its own.
    fn chunk(
        &mut self,
        x: &[f32],
        rows: usize,
        out: &mut [f32],
        phased: bool,
    ) -> Result<PhaseTimes> {
        let p = self.plan(rows);
        let g = self.gpu.clone();
        let plan = &self.plans[p];
        let t0 = Instant::now();
        // The previous call has waited for the device, so the mapping is granted at once.
        let upload = plan.upload.slice(..);
        upload.map_async(wgpu::MapMode::Write, |_| {});
        g.wait().map_err(err)?;
        {
            let mut view = upload
                .get_mapped_range_mut()
                .map_err(|e| err(format!("writing the rows: {e}")))?;
            let bytes: &[u8] = bytemuck::cast_slice(x);
            view.slice(..bytes.len()).copy_from_slice(bytes);
        }
        plan.upload.unmap();
        let mut enc = g.device.create_command_encoder(&Default::default());
        enc.copy_buffer_to_buffer(&plan.upload, 0, &plan.x, 0, (x.len() * 4) as u64);
        if phased {
            g.queue.submit([enc.finish()]);
            g.wait().map_err(err)?;
            enc = g.device.create_command_encoder(&Default::default());
        }
        let t1 = Instant::now();
        // Device timestamps around the compute pass, in phased calls on adapters with them.
        let stamps = (phased && g.timestamps).then(|| Stamps::new(&g));
        {
            let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: None,
                timestamp_writes: stamps.as_ref().map(|s| wgpu::ComputePassTimestampWrites {
                    query_set: &s.set,
                    beginning_of_pass_write_index: Some(0),
                    end_of_pass_write_index: Some(1),
                }),
            });
            for (pipeline, bg, [gx, gy, gz]) in &plan.steps {
                pass.set_pipeline(pipeline);
                pass.set_bind_group(0, bg, &[]);
                pass.dispatch_workgroups(*gx, *gy, *gz);
            }
        }
        if let Some(s) = &stamps {
            enc.resolve_query_set(&s.set, 0..2, &s.resolve, 0);
            enc.copy_buffer_to_buffer(&s.resolve, 0, &s.read, 0, 16);
        }
        let mut t2 = t1;
        let mut device_compute_ns = None;
        if phased {
            g.queue.submit([enc.finish()]);
            g.wait().map_err(err)?;
            t2 = Instant::now();
            if let Some(s) = &stamps {
                device_compute_ns = s.read_ns(&g).map_err(err)?;
            }
            enc = g.device.create_command_encoder(&Default::default());
        }
        enc.copy_buffer_to_buffer(&plan.out, 0, &plan.staging, 0, plan.out.size());
        g.queue.submit([enc.finish()]);
        let slice = plan.staging.slice(..);
        slice.map_async(wgpu::MapMode::Read, |_| {});
        g.wait().map_err(err)?;
        g.check().map_err(err)?;
        {
            let view = slice
                .get_mapped_range()
                .map_err(|e| err(format!("reading predictions back: {e}")))?;
            let values: &[f32] = bytemuck::cast_slice(&view);
            out.copy_from_slice(&values[..out.len()]);
        }
        plan.staging.unmap();
        let t3 = Instant::now();
        Ok(PhaseTimes {
            upload_ns: (t1 - t0).as_nanos() as f64,
            compute_ns: (t2 - t1).as_nanos() as f64,
            readback_ns: (t3 - t2).as_nanos() as f64,
            device_compute_ns,
        })
    }

    fn run(
        &mut self,
        x: &[f32],
        n_rows: usize,
        out: &mut [f32],
        phased: bool,
    ) -> Result<PhaseTimes> {
        check_buffers(ID, x, n_rows, out, (self.n_features, self.n_outputs), false)?;
        let (nf, no) = (self.n_features, self.n_outputs);
        let mut total = PhaseTimes {
            upload_ns: 0.0,
            compute_ns: 0.0,
            readback_ns: 0.0,
            device_compute_ns: None,
        };
        let mut start = 0;
        while start < n_rows {
            let rows = (n_rows - start).min(self.max_rows);
            let t = self.chunk(
                &x[start * nf..(start + rows) * nf],
                rows,
                &mut out[start * no..(start + rows) * no],
                phased,
            )?;
            total.upload_ns += t.upload_ns;
            total.compute_ns += t.compute_ns;
            total.readback_ns += t.readback_ns;
            total.device_compute_ns = match (total.device_compute_ns, t.device_compute_ns) {
                (None, d) if start == 0 => d,
                (Some(a), Some(b)) => Some(a + b),
                _ => None,
            };
            start += rows;
        }
        Ok(total)
    }
}

impl Predictor for WgslPredictor {
    fn n_outputs(&self) -> usize {
        self.n_outputs
    }

    fn predict(&mut self, x: &[f32], n_rows: usize, out: &mut [f32]) -> Result<()> {
        self.run(x, n_rows, out, false).map(|_| ())
    }

    fn sync(&mut self) -> Result<()> {
        // `predict` has already waited for its readback.
        self.gpu.wait().map_err(err)
    }

    fn predict_phased(
        &mut self,
        x: &[f32],
        n_rows: usize,
        out: &mut [f32],
    ) -> Result<Option<PhaseTimes>> {
        self.run(x, n_rows, out, true).map(Some)
    }

    fn memory_bytes(&self) -> Option<u64> {
        Some(self.program.model_bytes())
    }

    fn device_memory(&self) -> Option<DeviceMemory> {
        let batch: u64 = self.plans.iter().map(|p| p.bytes).sum();
        let model = self.program.model_bytes();
        Some(DeviceMemory {
            in_use_bytes: model + batch,
            reserved_bytes: model + batch,
            source: "buffers the wgsl target created (model, plus upload, rows, activations and readback of the cached batch sizes)".into(),
        })
    }

    fn uses_worker_threads(&self) -> bool {
        // A software adapter runs the kernels on its own threads.
        self.gpu.software
    }
}
