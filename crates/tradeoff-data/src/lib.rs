//! `tradeoff-data`: from the user's table to a trained candidate, on the IR crate alone.
//!
//! - [`data`]: CSV loading and validation, one-hot encoding, missing-value policies,
//!   synthetic data.
//! - [`protocol`]: seeded stratified splits and folds, the [`Trainer`](protocol::Trainer)
//!   trait, equal-effort random search, cross-validated scores.
//! - [`metrics`]: held-out scores.
//!
//! ```
//! use tradeoff_data::data::synthetic;
//!
//! let ds = synthetic("synthetic:regression,rows=100,features=2").unwrap();
//! assert_eq!((ds.n_rows, ds.n_features), (100, 2));
//! ```

pub mod data;
pub mod metrics;
pub mod protocol;
