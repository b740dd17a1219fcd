//! One wgpu context per process: adapter, device, queue, and the compute pipelines of our
//! kernels, created once. Validation errors are captured, never left to wgpu's default
//! handler (which panics).

use std::sync::{Arc, Mutex, OnceLock};

use wgpu::{
    Adapter, BindGroupLayout, ComputePipeline, Device, DeviceType, Instance, InstanceDescriptor,
    Limits, PollType, Queue,
};

/// The kernels, embedded at compile time from `kernels/`.
pub const KERNELS: [(&str, &str); 3] = [
    ("dense", include_str!("../../../kernels/dense.wgsl")),
    ("link", include_str!("../../../kernels/link.wgsl")),
    ("trees", include_str!("../../../kernels/trees.wgsl")),
];

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
    let kernel = |name: &str| -> Result<Kernel, String> {
        let source = KERNELS
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, s)| *s)
            .ok_or_else(|| format!("no kernel {name}"))?;
        let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some(name),
            source: wgpu::ShaderSource::Wgsl(source.into()),
        });
        let pipeline = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
            label: Some(name),
            layout: None,
            module: &module,
            entry_point: Some("main"),
            compilation_options: Default::default(),
            cache: None,
        });
        let layout = pipeline.get_bind_group_layout(0);
        Ok(Kernel { pipeline, layout })
    };
    let (dense, link, trees) = (kernel("dense")?, kernel("link")?, kernel("trees")?);
    let gpu = Gpu {
        description: format!(
            "{} ({:?}, {} {}){}",
            info.name,
            info.backend,
            info.driver,
            info.driver_info,
            if software {
                " [software adapter: not a GPU]"
            } else {
                ""
            }
        ),
        software,
        timestamps,
        device,
        queue,
        limits,
        dense,
        link,
        trees,
        errors,
    };
    gpu.check()?;
    Ok(gpu)
}

impl Gpu {
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

    /// Most rows one dispatch chain may take: bounded by the workgroup count per dimension
    /// (16 rows per dense workgroup, 64 per row-parallel one) and by the largest storage
    /// binding for a buffer `row_floats` wide.
    pub fn max_rows(&self, row_floats: usize) -> usize {
        let by_groups = self.limits.max_compute_workgroups_per_dimension as usize * 16;
        let by_binding =
            self.limits.max_storage_buffer_binding_size as usize / (4 * row_floats.max(1));
        by_groups.min(by_binding).max(1)
    }
}
