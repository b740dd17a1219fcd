//! burn: the MLP candidates (`mlp-s`, `mlp-m`, `mlp-l`), trained on burn's Flex CPU device
//! or its wgpu device, and the `burn-flex` / `burn-wgpu` execution targets.
//!
//! Device handling never panics: burn's lazy `Device::wgpu(..)` would panic on first use
//! without an adapter, so the wgpu device is initialized once through
//! `Device::wgpu_options().init_with_setup()`, whose error is kept and reported.

mod mlp;
mod target;

use std::sync::OnceLock;

use burn::tensor::Device;
use tradeoff_ir::target::DeviceKind;

pub use mlp::{trainer, MlpTrainer, MLP_SIZES};
pub use target::BurnTarget;

/// Where burn runs: its Flex CPU device or a wgpu adapter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BurnDevice {
    Flex,
    Wgpu,
}

/// An initialized burn device and what it runs on.
#[derive(Clone)]
pub struct Initialized {
    pub device: Device,
    /// `burn-flex on <cpu model>` or the adapter's name, backend and driver.
    pub description: String,
    pub kind: DeviceKind,
}

static WGPU: OnceLock<Result<Initialized, String>> = OnceLock::new();

/// The burn device, initialized once per process. `Err` says why there is none (no wgpu
/// adapter, driver failure); it never panics.
pub fn device(which: BurnDevice) -> Result<Initialized, String> {
    match which {
        BurnDevice::Flex => Ok(Initialized {
            device: Device::flex(),
            description: format!("burn Flex on {}", tradeoff_ir::machine::cpu_model()),
            kind: DeviceKind::Cpu,
        }),
        BurnDevice::Wgpu => WGPU.get_or_init(init_wgpu).clone(),
    }
}

fn init_wgpu() -> Result<Initialized, String> {
    // The initializer returns errors, but a driver can still fail inside wgpu; keep any
    // panic from reaching the user as one.
    let attempt = std::panic::catch_unwind(|| Device::wgpu_options().init_with_setup());
    match attempt {
        Ok(Ok((device, setup))) => {
            let info = setup.adapter.get_info();
            let (description, kind) = tradeoff_ir::target::describe_adapter(
                &info.name,
                &format!("{:?}", info.backend),
                &format!("{} {}", info.driver, info.driver_info),
                info.device_type == burn::tensor::wgpu::wgpu::DeviceType::Cpu,
            );
            Ok(Initialized {
                device,
                description,
                kind,
            })
        }
        Ok(Err(e)) => Err(format!("no usable wgpu adapter for burn: {e}")),
        Err(_) => Err("the wgpu driver failed while burn initialized it".into()),
    }
}
