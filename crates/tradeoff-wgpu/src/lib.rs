//! wgpu: the adapters this machine offers (for `tradeoff devices` and for labelling
//! software adapters), and later the `wgsl` target with our own kernels.

use wgpu::{Backends, DeviceType, Instance, InstanceDescriptor};

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

/// Every adapter wgpu finds on the primary backends (or those `WGPU_BACKEND` names). Never panics: a failing
/// driver yields an empty list.
pub fn adapters() -> Vec<Adapter> {
    let found = std::panic::catch_unwind(|| {
        // Vulkan, Metal, DX12 (what compute runs on); `WGPU_BACKEND` overrides, e.g. `gl`.
        let mut desc = InstanceDescriptor::new_without_display_handle();
        desc.backends = Backends::PRIMARY;
        let desc = desc.with_env();
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
