//! `tradeoff-core`: everything between the user's data and a measured cell, with no ML
//! framework and no GPU dependency.
//!
//! - [`data`]: CSV loading and validation, one-hot encoding, missing-value policies, synthetic data.
//! - [`protocol`]: seeded stratified splits and folds, the [`Trainer`](protocol::Trainer)
//!   trait, equal-effort random search.
//! - [`ir`]: the portable fitted-model form every execution target runs.
//! - [`target`]: the [`Target`](target::Target)/[`Predictor`](target::Predictor) traits and the
//!   native `cpu` target.
//! - [`forest`], [`linear`], [`simd`]: the `cpu` target's layouts and kernels for tree
//!   ensembles, linear models and MLP layers.
//! - [`harness`]: all timing code. [`metrics`]: held-out scores. [`record`]: the result schema.
//!
//! ```
//! use tradeoff_core::{data::synthetic, ir::*, target::{CpuTarget, Target, predict_all}};
//!
//! let ds = synthetic("synthetic:regression,rows=100,features=2").unwrap();
//! let ir = ModelIr {
//!     ir_version: IR_VERSION, n_features: 2, n_outputs: 1, classification: false,
//!     standardize: None,
//!     body: Body::Linear { weights: vec![1.0, -1.0], bias: vec![0.0], link: Link::Identity },
//! }
//! .validate() // the only form a target loads
//! .unwrap();
//! let mut p = CpuTarget.load(&ir).unwrap();
//! let out = predict_all(p.as_mut(), &ds.x, ds.n_rows).unwrap();
//! assert_eq!(out[0], ds.x[0] - ds.x[1]);
//! ```

pub mod data;
pub mod error;
pub mod forest;
pub mod harness;
pub mod hash;
pub mod ir;
pub mod linear;
pub mod machine;
pub mod metrics;
pub mod protocol;
pub mod record;
pub mod rng;
pub mod simd;
pub mod target;

pub use error::{Error, Result};
