//! One wgpu context per process: adapter, device, queue, and the compute pipelines of our
//! kernels, created once. Validation errors are captured, never left to wgpu's default
//! handler (which panics).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use wgpu::{
    Adapter, BindGroupLayout, ComputePipeline, Device, DeviceType, Instance, InstanceDescriptor,
    Limits, PollType, Queue, ShaderModule,
};

/// The kernels, embedded at compile time from `kernels/`.
pub const KERNELS: [(&str, &str); 4] = [
    ("dense", include_str!("../../../kernels/dense.wgsl")),
    ("linear", include_str!("../../../kernels/linear.wgsl")),
    ("link", include_str!("../../../kernels/link.wgsl")),
    ("trees", include_str!("../../../kernels/trees.wgsl")),
];

/// The `linear` kernel's pipeline constants: lanes per row, row steps per invocation, scores,
/// and whether rows are standardized as they are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LinearShape {
    pub lanes: u32,
    pub steps: u32,
    pub scores: u32,
    pub standardize: bool,
}

impl LinearShape {
    /// Most scores the kernel takes (its accumulators: steps x scores <= 16).
    pub const MAX_SCORES: usize = 16;

    /// The shape for a model of `inputs` features and `scores` scores, or `None` when it has
    /// more scores than the kernel holds.
    pub fn new(inputs: usize, scores: usize, standardize: bool) -> Option<LinearShape> {
        if scores == 0 || scores > Self::MAX_SCORES {
            return None;
        }
        Some(LinearShape {
            lanes: inputs.clamp(1, 32).next_power_of_two() as u32,
            steps: (Self::MAX_SCORES / scores).min(8) as u32,
            scores: scores as u32,
            standardize,
        })
    }

    /// The kernel's pipeline constants for this shape, by name.
    pub fn constants(&self) -> [(&'static str, f64); 4] {
        [
            ("LANES", self.lanes as f64),
            ("STEPS", self.steps as f64),
            ("SCORES", self.scores as f64),
            ("STANDARDIZE", self.standardize as u32 as f64),
        ]
    }

    /// Consecutive rows one workgroup of 256 invocations covers.
    pub fn rows_per_group(&self) -> usize {
        (256 / self.lanes * self.steps) as usize
    }
}

pub struct Kernel {
    pub pipeline: ComputePipeline,
    pub layout: BindGroupLayout,
}

pub struct Gpu {
    pub device: Device,
    pub queue: Queue,
    pub limits: Limits,
    pub description: String,
    pub software: bool,
    /// Whether compute passes can write device timestamps.
    pub timestamps: bool,
    pub dense: Kernel,
    pub link: Kernel,
    pub trees: Kernel,
    /// The `linear` kernel's module, and its pipelines built so far, one per shape.
    linear_module: ShaderModule,
    linear: Mutex<HashMap<LinearShape, Arc<Kernel>>>,
    /// Validation and out-of-memory errors wgpu reported since the last check.
    errors: Arc<Mutex<Vec<String>>>,
}

static GPU: OnceLock<Result<Arc<Gpu>, String>> = OnceLock::new();

/// The process's wgpu context; `Err` says why there is none. Never panics.
pub fn gpu() -> Result<Arc<Gpu>, String> {
    GPU.get_or_init(|| {
        std::panic::catch_unwind(init)
            .unwrap_or_else(|_| Err("the wgpu driver failed during initialization".into()))
            .map(Arc::new)
    })
    .clone()
}

fn init() -> Result<Gpu, String> {
    let instance = Instance::new(InstanceDescriptor::new_without_display_handle_from_env());
    let adapter: Adapter =
        pollster::block_on(instance.request_adapter(&wgpu::RequestAdapterOptions {
            power_preference: wgpu::PowerPreference::HighPerformance,
            ..Default::default()
        }))
        .map_err(|e| format!("no wgpu adapter: {e}"))?;
    let info = adapter.get_info();
    let software = info.device_type == DeviceType::Cpu;
    // Ask for what the adapter offers, so large batches fit in one binding where possible.
    let limits = adapter.limits();
    // Device timestamps for the compute phase, where the adapter has them.
    let timestamps = adapter.features().contains(wgpu::Features::TIMESTAMP_QUERY);
    let (device, queue) = pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
        label: Some("tradeoff"),
        required_features: if timestamps {
            wgpu::Features::TIMESTAMP_QUERY
        } else {
            wgpu::Features::empty()
        },
        required_limits: limits.clone(),
        ..Default::default()
    }))
    .map_err(|e| format!("{}: could not open the device: {e}", info.name))?;
    let errors = Arc::new(Mutex::new(Vec::new()));
    let sink = errors.clone();
    device.on_uncaptured_error(Arc::new(move |e| {
        if let Ok(mut v) = sink.lock() {
            v.push(e.to_string());
        }
    }));
    let module = |name: &str| -> Result<ShaderModule, String> {
        let source = KERNELS
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, s)| *s)
            .ok_or_else(|| format!("no kernel {name}"))?;
        Ok(device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some(name),
            source: wgpu::ShaderSource::Wgsl(source.into()),
        }))
    };
    let kernel = |name: &str| -> Result<Kernel, String> {
        Ok(pipeline(&device, name, &module(name)?, &[], true))
    };
    let (dense, link, trees) = (kernel("dense")?, kernel("link")?, kernel("trees")?);
    let linear_module = module("linear")?;
    let gpu = Gpu {
        description: tradeoff_ir::target::describe_adapter(
            &info.name,
            &format!("{:?}", info.backend),
            &format!("{} {}", info.driver, info.driver_info),
            software,
        )
        .0,
        software,
        timestamps,
        device,
        queue,
        limits,
        dense,
        link,
        trees,
        linear_module,
        linear: Mutex::new(HashMap::new()),
        errors,
    };
    gpu.check()?;
    Ok(gpu)
}

/// A compute pipeline of `module`'s `main`, with its pipeline constants. `zero_workgroup`:
/// wgpu zeroes workgroup memory at the start of every workgroup (WebGPU's rule); a kernel
/// that reads only slots it wrote before a barrier can skip that.
fn pipeline(
    device: &Device,
    name: &str,
    module: &ShaderModule,
    constants: &[(&str, f64)],
    zero_workgroup: bool,
) -> Kernel {
    let pipeline = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
        label: Some(name),
        layout: None,
        module,
        entry_point: Some("main"),
        compilation_options: wgpu::PipelineCompilationOptions {
            constants,
            zero_initialize_workgroup_memory: zero_workgroup,
        },
        cache: None,
    });
    let layout = pipeline.get_bind_group_layout(0);
    Kernel { pipeline, layout }
}

impl Gpu {
    /// The `linear` kernel specialized to `shape`, built on first use and kept for the
    /// process. Errors are wgpu's validation errors for that pipeline.
    pub fn linear(&self, shape: LinearShape) -> Result<Arc<Kernel>, String> {
        let mut built = self
            .linear
            .lock()
            .map_err(|_| "pipeline cache poisoned".to_string())?;
        if let Some(k) = built.get(&shape) {
            return Ok(k.clone());
        }
        let k = Arc::new(pipeline(
            &self.device,
            "linear",
            &self.linear_module,
            &shape.constants(),
            // Every slot of `part` it reads after the barrier, each invocation wrote before
            // it (lanes x rows per step = 256 slots for each of STEPS x SCORES sums); the
            // zeroing would cost 16 stores an invocation and a second barrier.
            false,
        ));
        self.check()?;
        built.insert(shape, k.clone());
        Ok(k)
    }

    /// Waits for all submitted work.
    pub fn wait(&self) -> Result<(), String> {
        self.device
            .poll(PollType::Wait {
                submission_index: None,
                timeout: None,
            })
            .map(|_| ())
            .map_err(|e| format!("waiting for the device: {e}"))
    }

    /// Errors wgpu reported since the last check, as one `Err`.
    pub fn check(&self) -> Result<(), String> {
        let mut v = self
            .errors
            .lock()
            .map_err(|_| "error log poisoned".to_string())?;
        if v.is_empty() {
            Ok(())
        } else {
            Err(std::mem::take(&mut *v).join("; "))
        }
    }

    /// Most rows one dispatch chain may take: bounded by `groups` workgroups per dimension
    /// times the fewest rows one workgroup of the chain covers (16 for a dense workgroup, 64
    /// for a row-parallel one; `None` for a chain whose kernels all dispatch in two
    /// dimensions), and by the largest storage binding for a buffer `row_floats` wide.
    pub fn max_rows(
        &self,
        row_floats: usize,
        rows_per_group: Option<usize>,
        groups: usize,
    ) -> usize {
        let by_groups = rows_per_group.map_or(usize::MAX, |r| groups.saturating_mul(r));
        let by_binding =
            self.limits.max_storage_buffer_binding_size as usize / (4 * row_floats.max(1));
        by_groups.min(by_binding).max(1)
    }
}

/// Device-to-device copies between two buffers on the process's adapter: the bandwidth
/// reference the `wgsl` kernels are read against (a kernel that only reads its input can
/// at best approach the rate a copy reads and writes).
pub struct CopyProbe {
    gpu: Arc<Gpu>,
    src: wgpu::Buffer,
    dst: wgpu::Buffer,
}

impl CopyProbe {
    /// Two buffers of `bytes` each (a multiple of 4).
    pub fn new(bytes: u64) -> Result<CopyProbe, String> {
        let gpu = gpu()?;
        let buffer = |usage| {
            gpu.device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("copy probe"),
                size: bytes,
                usage,
                mapped_at_creation: false,
            })
        };
        let src = buffer(wgpu::BufferUsages::COPY_SRC | wgpu::BufferUsages::COPY_DST);
        let dst = buffer(wgpu::BufferUsages::COPY_DST);
        // Written once, so the copies move real pages, not a never-touched allocation.
        let mut enc = gpu.device.create_command_encoder(&Default::default());
        enc.clear_buffer(&src, 0, None);
        gpu.queue.submit([enc.finish()]);
        gpu.wait()?;
        gpu.check()?;
        Ok(CopyProbe { gpu, src, dst })
    }

    /// Wall time of `copies` whole-buffer copies recorded in one submission, waited for once.
    pub fn time(&self, copies: u64) -> Result<std::time::Duration, String> {
        let mut enc = self.gpu.device.create_command_encoder(&Default::default());
        for _ in 0..copies {
            enc.copy_buffer_to_buffer(&self.src, 0, &self.dst, 0, self.src.size());
        }
        let t = std::time::Instant::now();
        self.gpu.queue.submit([enc.finish()]);
        self.gpu.wait()?;
        let elapsed = t.elapsed();
        self.gpu.check()?;
        Ok(elapsed)
    }
}
