//! Conversions between the core dataset and library types, and tree flattening.

use ndarray::{Array1, Array2};
use tradeoff_core::data::Dataset;
use tradeoff_core::ir::{Node, Standardize};
use tradeoff_core::protocol::Params;
use tradeoff_core::{Error, Result};

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
        let (mean, scale) = Standardize::moments(ds);
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

/// A node as a library describes it, before flattening.
pub enum RawNode {
    Leaf(f32),
    /// Left when `x[feature] < threshold` (thresholds already converted to our rule).
    Split {
        feature: u32,
        threshold: f32,
        left: usize,
        right: usize,
    },
}

/// Lays a tree out in pre-order (every parent before its children), from any indexing.
pub fn flatten(n_nodes: usize, get: impl Fn(usize) -> Result<RawNode>) -> Result<Vec<Node>> {
    let mut out: Vec<Node> = Vec::with_capacity(n_nodes);
    // (library index, slot in `out` to patch with our index, is left child)
    let mut stack = vec![(0usize, None::<(usize, bool)>)];
    while let Some((idx, parent)) = stack.pop() {
        if out.len() >= n_nodes.max(1) {
            return Err(Error::Model("tree has a cycle or too many nodes".into()));
        }
        let me = out.len() as u32;
        if let Some((p, is_left)) = parent {
            if is_left {
                out[p].left = me;
            } else {
                out[p].right = me;
            }
        }
        match get(idx)? {
            RawNode::Leaf(v) => out.push(Node::leaf(v)),
            RawNode::Split {
                feature,
                threshold,
                left,
                right,
            } => {
                let slot = out.len();
                out.push(Node {
                    feature,
                    threshold,
                    left: 0,
                    right: 0,
                    value: 0.0,
                });
                stack.push((right, Some((slot, false))));
                stack.push((left, Some((slot, true))));
            }
        }
    }
    Ok(out)
}
