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
