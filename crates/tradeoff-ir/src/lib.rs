//! `tradeoff-ir`: the portable fitted-model form and what runs it, with no ML framework,
//! no data loading and no GPU dependency. Every backend crate depends on this one.
//!
//! - [`ir`]: the IR every execution target runs; [`ir::ValidIr`], the only form a target
//!   loads; [`ir::eval`], the plain specification every target's parity test compares with.
//! - [`target`]: the [`Target`](target::Target)/[`Predictor`](target::Predictor) traits and the
//!   native `cpu` target.
//! - [`forest`], [`linear`], [`simd`]: the `cpu` target's layouts and kernels for tree
//!   ensembles, linear models and MLP layers.
//! - [`error`]: the one error type; [`machine`]: what this machine is; [`hash`], [`rng`]:
//!   the seeded hashing and random numbers every crate shares.
//!
//! ```
//! use tradeoff_ir::{ir::*, target::{CpuTarget, Target, predict_all}};
//!
//! let x = [3.0_f32, 1.0, 0.5, 2.0];
//! let ir = ModelIr {
//!     ir_version: IR_VERSION, n_features: 2, n_outputs: 1, classification: false,
//!     standardize: None,
//!     body: Body::Linear { weights: vec![1.0, -1.0], bias: vec![0.0], link: Link::Identity },
//! }
//! .validate() // the only form a target loads
//! .unwrap();
//! let mut p = CpuTarget.load(&ir).unwrap();
//! let out = predict_all(p.as_mut(), &x, 2).unwrap();
//! assert_eq!(out, [2.0, -1.5]);
//! ```

pub mod error;
pub mod forest;
pub mod hash;
pub mod ir;
pub mod linear;
pub mod machine;
pub mod rng;
pub mod simd;
pub mod target;

pub use error::{Error, Result};
