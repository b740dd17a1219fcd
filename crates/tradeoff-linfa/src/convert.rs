//! Conversions between the core dataset and library types.

use ndarray::{Array1, Array2};
use tradeoff_data::data::Dataset;
use tradeoff_data::protocol::Params;
use tradeoff_ir::ir::Standardize;
use tradeoff_ir::{Error, Result};

pub fn values(ds: &Dataset) -> Array1<f64> {
    ds.y.iter().map(|v| *v as f64).collect()
}

/// Reads a parameter the trainer declared; `parse_params` and `tune` always fill every one.
pub fn param(candidate: &str, params: &Params, name: &str) -> Result<f64> {
    params.get(name).copied().ok_or_else(|| Error::Candidate {
        candidate: candidate.into(),
        message: format!("parameter {name} is missing"),
    })
}

pub fn lib_err(candidate: &str, e: impl std::fmt::Display) -> Error {
    Error::Candidate {
        candidate: candidate.into(),
        message: e.to_string(),
    }
}

/// Per-feature mean and standard deviation of the training rows (constant features get
/// scale 1 so they map to 0).
pub struct Standardizer {
    pub mean: Vec<f64>,
    pub scale: Vec<f64>,
}

impl Standardizer {
    pub fn fit(ds: &Dataset) -> Self {
        let (mean, scale) = Standardize::moments(&ds.x, ds.n_rows, ds.n_features);
        Standardizer { mean, scale }
    }

    /// The standardized features, computed in `f32` exactly as the IR targets compute them,
    /// then widened, so the library and the IR see the same inputs.
    pub fn apply(&self, ds: &Dataset) -> Array2<f64> {
        Array2::from_shape_vec((ds.n_rows, ds.n_features), self.apply_rows(ds))
            .expect("n_rows x n_features values")
    }

    /// [`Standardizer::apply`] as a row-major vector: the IR's own standardization, widened.
    pub fn apply_rows(&self, ds: &Dataset) -> Vec<f64> {
        self.to_ir()
            .apply(&ds.x)
            .into_iter()
            .map(f64::from)
            .collect()
    }

    pub fn to_ir(&self) -> Standardize {
        Standardize {
            mean: self.mean.iter().map(|v| *v as f32).collect(),
            scale: self.scale.iter().map(|v| *v as f32).collect(),
        }
    }
}
