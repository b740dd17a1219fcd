//! wgpu: the adapters this machine offers (for `tradeoff devices`), and the `wgsl` execution
//! target, which runs every IR family through our own kernels (`kernels/*.wgsl`).

mod gpu;
mod target;

pub use gpu::{gpu, CopyProbe, Gpu, KERNELS};
pub use target::WgslTarget;

use wgpu::{DeviceType, Instance, InstanceDescriptor};

/// One wgpu adapter as `tradeoff devices` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Adapter {
    pub name: String,
    pub backend: String,
    pub device_type: String,
    pub driver: String,
    /// A CPU implementation of the API (llvmpipe, lavapipe, WARP): not a GPU.
    pub software: bool,
}

/// Every adapter wgpu finds on every backend (or those `WGPU_BACKEND` names). Never panics: a failing
/// driver yields an empty list.
pub fn adapters() -> Vec<Adapter> {
    let found = std::panic::catch_unwind(|| {
        // Every backend burn may fall back to (OpenGL included); `WGPU_BACKEND` narrows it.
        let desc = InstanceDescriptor::new_without_display_handle_from_env();
        let backends = desc.backends;
        let instance = Instance::new(desc);
        pollster::block_on(instance.enumerate_adapters(backends))
            .into_iter()
            .map(|a| a.get_info())
            .collect::<Vec<_>>()
    })
    .unwrap_or_default();
    found
        .into_iter()
        .map(|info| Adapter {
            software: info.device_type == DeviceType::Cpu,
            device_type: format!("{:?}", info.device_type),
            backend: format!("{:?}", info.backend),
            driver: format!("{} {}", info.driver, info.driver_info)
                .trim()
                .to_string(),
            name: info.name,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    /// Every kernel parses and validates with naga, wgpu's shader compiler, without a GPU.
    #[test]
    fn every_kernel_validates_with_naga() {
        for (name, source) in crate::KERNELS {
            let module = naga::front::wgsl::parse_str(source)
                .unwrap_or_else(|e| panic!("{name}.wgsl: {}", e.emit_to_string(source)));
            naga::valid::Validator::new(
                naga::valid::ValidationFlags::all(),
                naga::valid::Capabilities::empty(),
            )
            .validate(&module)
            .unwrap_or_else(|e| panic!("{name}.wgsl: {e:?}"));
            assert!(
                module.entry_points.iter().any(|e| e.name == "main"),
                "{name}.wgsl has no main"
            );
        }
    }

    /// The linear kernel specialized to every shape the target builds (features 1 to 70,
    /// 1 to 16 scores, with and without standardization) validates with the constants the
    /// target sets (by those names), and every shape keeps within the kernel's arrays (8 row
    /// loads, 16 accumulators) and its power-of-two lanes.
    #[test]
    fn linear_kernel_validates_for_every_shape() {
        let source = crate::KERNELS
            .iter()
            .find(|(n, _)| *n == "linear")
            .unwrap()
            .1;
        let module = naga::front::wgsl::parse_str(source).unwrap();
        let mut validator = naga::valid::Validator::new(
            naga::valid::ValidationFlags::all(),
            naga::valid::Capabilities::empty(),
        );
        let info = validator.validate(&module).unwrap();
        let mut shapes = 0;
        for inputs in [1, 2, 13, 32, 33, 70] {
            for scores in 1..=crate::gpu::LinearShape::MAX_SCORES {
                for standardize in [false, true] {
                    let s = crate::gpu::LinearShape::new(inputs, scores, standardize).unwrap();
                    assert!(s.lanes.is_power_of_two() && s.lanes <= 32, "{s:?}");
                    assert!(
                        s.steps >= 1 && s.steps <= 8 && s.steps * s.scores <= 16,
                        "{s:?}"
                    );
                    let constants: naga::back::PipelineConstants = s
                        .constants()
                        .iter()
                        .map(|(name, v)| (name.to_string(), *v))
                        .collect();
                    let (m, _) = naga::back::pipeline_constants::process_overrides(
                        &module,
                        &info,
                        Some((naga::ShaderStage::Compute, "main")),
                        &constants,
                    )
                    .unwrap_or_else(|e| panic!("{s:?}: {e}"));
                    validator
                        .validate(&m)
                        .unwrap_or_else(|e| panic!("{s:?}: {e:?}"));
                    shapes += 1;
                }
            }
        }
        assert_eq!(shapes, 6 * 16 * 2);
        assert!(crate::gpu::LinearShape::new(13, 17, false).is_none());
        assert!(crate::gpu::LinearShape::new(13, 0, false).is_none());
    }

    /// Every file in `kernels/` is embedded (and so validated above), and nothing else is.
    #[test]
    fn every_kernel_file_is_embedded() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../kernels");
        let mut files: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .filter_map(|e| {
                let name = e.unwrap().file_name().into_string().unwrap();
                name.strip_suffix(".wgsl").map(str::to_string)
            })
            .collect();
        files.sort();
        let mut embedded: Vec<String> = crate::KERNELS.iter().map(|(n, _)| n.to_string()).collect();
        embedded.sort();
        assert_eq!(files, embedded);
    }
}
