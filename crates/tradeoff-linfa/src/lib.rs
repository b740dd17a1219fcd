//! `tradeoff-linfa`: the classical ladder, trained by maintained libraries or by our own
//! trainers where no library is fast, exact and reproducible enough, and exported to the
//! portable IR.
//!
//! | candidate | classification | regression |
//! |---|---|---|
//! | `linear` | (none; use `logistic`) | ridge in closed form (ours, `linear.rs`) |
//! | `logistic` | L-BFGS, binary and multinomial (ours, `lbfgs.rs`) | (none) |
//! | `tree` | histogram CART (`tradeoff-hist`) | histogram regression tree |
//! | `forest` | histogram random forest (`tradeoff-hist`) | histogram random forest |
//! | `gbm` | histogram boosting, softmax for multiclass (`tradeoff-hist`) | histogram boosting |
//! | `logistic-sgd`, `linear-sgd` | online softmax regression (ours, `sgd.rs`) | online least squares |
//!
//! linfa 0.8 has no regression trees, forests or boosting, and its classification trees are
//! not reproducible under a fixed seed; smartcore's trees scan every row at every node (see
//! `trees.rs`), and forust-ml's boosting was slower than scikit-learn's (see `gbm.rs`), so
//! trees, forests and boosting come from `tradeoff-hist`;
//! `linfa-logistic` computed its products one generic `ndarray` dot a row (8x scikit-learn's
//! fit time), so logistic regression is ours too. Ridge has a
//! closed form, which coordinate descent (`linfa-elasticnet`, before) did not reach on
//! correlated one-hot columns. Each trainer's [`Fitted`] model can export the IR and predict with the library, so
//! tests can check that the IR computes exactly what the library predicts.
//!
//! ```no_run
//! use tradeoff_data::protocol::{Params, Trainer};
//! let ds = tradeoff_linfa::builtin("iris").unwrap();
//! let tree = tradeoff_linfa::SingleTree;
//! let params: Params = [("max_depth".to_string(), 4.0), ("min_leaf".to_string(), 1.0)].into();
//! let ir = tree.fit(&ds, &params, 42).unwrap();
//! assert_eq!(ir.family(), "tree");
//! ```

mod convert;
mod datasets;
mod gbm;
pub mod lbfgs;
mod linear;
mod sgd;
mod trees;

#[cfg(test)]
mod parity_tests;

pub use datasets::{builtin, BUILTIN_DATASETS, DEFAULT_DATASET};
pub use gbm::Gbm;
pub use linear::{Linear, Logistic};
pub use sgd::{online, LinearSgd, LogisticSgd, OnlineModel};
pub use trees::{Forest, SingleTree};

use tradeoff_data::data::Dataset;
use tradeoff_data::protocol::Params;
use tradeoff_ir::ir::ModelIr;
use tradeoff_ir::{Error, Result};

/// A fitted model as the training library holds it: it can export the IR, and predict with
/// the library's own code (the reference the IR must reproduce).
pub trait Fitted {
    fn to_ir(&self) -> Result<ModelIr>;
    /// Library predictions for every row of `x`: class probabilities (row-major, one per
    /// class) for classifiers, values for regressors. Hard-label classifiers give one-hot rows.
    fn library_predict(&self, x: &Dataset) -> Vec<f32>;
}

/// Fits a candidate and returns the library's model (used by parity tests).
pub fn fit_native(id: &str, ds: &Dataset, params: &Params, seed: u64) -> Result<Box<dyn Fitted>> {
    match id {
        "linear" => Linear.native(ds, params),
        "logistic" => Logistic.native(ds, params),
        "tree" => SingleTree.native(ds, params, seed),
        "forest" => Forest.native(ds, params, seed),
        "gbm" => Gbm.native(ds, params, seed),
        _ => Err(Error::Candidate {
            candidate: id.into(),
            message: "unknown candidate".into(),
        }),
    }
}
