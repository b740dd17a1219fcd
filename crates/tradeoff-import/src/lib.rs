//! Models fitted elsewhere, read into the IR: XGBoost JSON (`save_model("m.json")`) and
//! LightGBM text (`save_model("m.txt")`) gradient-boosted trees, and ONNX linear models and
//! tree ensembles (the `ai.onnx.ml` operators scikit-learn's and onnxmltools' exporters
//! write).
//!
//! [`read`] turns a file into an [`Imported`] model: its IR over the model's own feature
//! order, the feature names the file carries, what kind of model it is and who made it.
//! [`Imported::bind`] then matches the model's features to a dataset's (by name where the
//! file has names, by position otherwise) and gives the IR over the dataset's encoded
//! features. Anything the IR cannot express exactly (a categorical split, a linear tree, an
//! objective with another link) is an error naming the file and the part, never a guess.

mod lightgbm;
mod onnx;
/// ONNX's protobuf schema, compiled by prost-build (`scripts/onnx-proto.sh`).
#[allow(clippy::all, missing_docs)]
pub mod onnx_proto;
mod xgboost;

use std::path::{Path, PathBuf};

use tradeoff_ir::ir::{Body, ModelIr, Node, Standardize, Tree, IR_VERSION};
use tradeoff_ir::{Error, Result};

/// A model file's format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// XGBoost's JSON model (`Booster.save_model("m.json")`).
    XgboostJson,
    /// LightGBM's text model (`Booster.save_model("m.txt")`).
    LightgbmText,
    /// ONNX (`.onnx`): the `ai.onnx.ml` linear and tree ensemble operators.
    Onnx,
}

impl Format {
    /// The names `--model-format` takes.
    pub const NAMES: [&'static str; 3] = ["xgboost-json", "lightgbm-text", "onnx"];

    pub fn name(self) -> &'static str {
        match self {
            Format::XgboostJson => "xgboost-json",
            Format::LightgbmText => "lightgbm-text",
            Format::Onnx => "onnx",
        }
    }

    pub fn parse(s: &str) -> Option<Format> {
        match s {
            "xgboost-json" => Some(Format::XgboostJson),
            "lightgbm-text" => Some(Format::LightgbmText),
            "onnx" => Some(Format::Onnx),
            _ => None,
        }
    }

    /// The format of a file, from its content: XGBoost's JSON starts with `{` and has a
    /// `learner`; LightGBM's text starts with the line `tree`; an ONNX model is a protobuf
    /// message that starts with its `ir_version` (field 1, a varint: byte 0x08).
    pub fn detect(bytes: &[u8]) -> Option<Format> {
        let text = String::from_utf8_lossy(&bytes[..bytes.len().min(1 << 20)]);
        let t = text.trim_start();
        if t.starts_with('{') && t.contains("\"learner\"") {
            Some(Format::XgboostJson)
        } else if t.lines().next().map(str::trim) == Some("tree") {
            Some(Format::LightgbmText)
        } else if bytes.first() == Some(&0x08) {
            Some(Format::Onnx)
        } else {
            None
        }
    }
}

/// What a model predicts, as its file says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Regression,
    Binary,
    Multiclass(usize),
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Kind::Regression => f.write_str("regression"),
            Kind::Binary => f.write_str("binary classification"),
            Kind::Multiclass(k) => write!(f, "{k}-class classification"),
        }
    }
}

/// A model read from a file, over its own feature order.
#[derive(Debug, Clone)]
pub struct Imported {
    pub path: PathBuf,
    pub format: Format,
    /// The producing library and version where the file says (`xgboost 3.2.0`), else the
    /// library and the file format's version (`lightgbm, model format v4`).
    pub producer: String,
    /// The objective as the file names it (`binary:logistic`, `multiclass num_class:3`).
    pub objective: String,
    pub kind: Kind,
    /// The model's feature names, or `None` where the file has none (or only generated ones
    /// such as LightGBM's `Column_0`): features are then matched by position.
    pub feature_names: Option<Vec<String>>,
    pub n_features: usize,
    /// The model over its own feature order: summed trees (boosting), a linear model or a
    /// dense network.
    pub body: Body,
    /// FNV-1a 64 of the file's bytes: which file exactly.
    pub file_hash: u64,
    /// Standardization before the model (an ONNX `Scaler`).
    pub standardize: Option<Standardize>,
}

/// Reads a model file; `format` forces the format (else it is detected from the content).
pub fn read(path: &Path, format: Option<Format>) -> Result<Imported> {
    let bytes = std::fs::read(path).map_err(|e| Error::read(path, e))?;
    let format = match format.or_else(|| Format::detect(&bytes)) {
        Some(f) => f,
        None => {
            return Err(bad(
                path,
                "not a model file tradeoff reads: neither XGBoost JSON (`save_model(\"m.json\")`), LightGBM text (`save_model(\"m.txt\")`) nor ONNX; --model-format forces one".into(),
            ))
        }
    };
    let text = || {
        std::str::from_utf8(&bytes).map_err(|e| {
            bad(
                path,
                format!(
                    "not a text model file (invalid UTF-8 at byte {})",
                    e.valid_up_to()
                ),
            )
        })
    };
    let mut model = match format {
        Format::XgboostJson => xgboost::read(path, text()?),
        Format::LightgbmText => lightgbm::read(path, text()?),
        Format::Onnx => onnx::read(path, &bytes),
    }?;
    model.file_hash = tradeoff_ir::hash::fnv1a(&bytes);
    Ok(model)
}

/// An error about the model file at `path`.
pub(crate) fn bad(path: &Path, message: String) -> Error {
    Error::ModelFile {
        path: path.to_path_buf(),
        message,
    }
}

/// A node of a model file's tree, by the file's own numbering.
pub(crate) enum Source {
    Leaf(f32),
    Split {
        feature: usize,
        threshold: f32,
        left: usize,
        right: usize,
    },
}

/// The IR nodes of one tree, numbered so that children come after their parent (preorder
/// from `root`), from `node`, which describes the file's node `id` (`Err` names the fault).
/// A tree that reaches more nodes than `count`, or a node twice, is malformed.
pub(crate) fn build_tree(
    root: usize,
    count: usize,
    mut node: impl FnMut(usize) -> std::result::Result<Source, String>,
) -> std::result::Result<Vec<Node>, String> {
    let mut out: Vec<Node> = Vec::new();
    let mut seen = vec![false; count];
    // (file node id, index in `out` of the parent and whether this is its left child)
    let mut stack = vec![(root, None::<(usize, bool)>)];
    while let Some((id, parent)) = stack.pop() {
        if id >= count || std::mem::replace(&mut seen[id], true) {
            return Err(format!("node {id} is out of range or reached twice"));
        }
        let at = out.len() as u32;
        if let Some((p, left)) = parent {
            if left {
                out[p].left = at;
            } else {
                out[p].right = at;
            }
        }
        match node(id)? {
            Source::Leaf(v) => out.push(Node::leaf(v)),
            Source::Split {
                feature,
                threshold,
                left,
                right,
            } => {
                out.push(Node {
                    feature: feature as u32,
                    threshold,
                    left: 0,
                    right: 0,
                    value: 0.0,
                });
                let me = out.len() - 1;
                // Right pushed first so the left subtree is numbered first.
                stack.push((right, Some((me, false))));
                stack.push((left, Some((me, true))));
            }
        }
    }
    Ok(out)
}

impl Imported {
    /// The model as an IR over a dataset's encoded features (`names`, in the dataset's
    /// order) for a dataset of `classes` classes (0 for regression). By name where the
    /// model has names: every model feature must be a dataset feature and the other way
    /// round; a dataset feature made from a text column (one-hot, `column=level`) the model
    /// does not name is said to be one. By position otherwise, with the count checked.
    pub fn bind(&self, names: &[String], classes: usize) -> Result<ModelIr> {
        let path = &self.path;
        match (self.kind, classes) {
            (Kind::Regression, 0) => {}
            (Kind::Binary, 2) => {}
            (Kind::Multiclass(k), c) if k == c => {}
            (kind, 0) => {
                return Err(bad(path, format!("the model is for {kind}; the data's target is numeric (regression): choose --target or --task classification")))
            }
            (kind, c) => {
                return Err(bad(path, format!("the model is for {kind}; the data's target has {c} classes")))
            }
        }
        // to_data[model feature] = dataset feature
        let to_data: Vec<usize> = match &self.feature_names {
            Some(model) => {
                let missing: Vec<&String> = model.iter().filter(|m| !names.contains(m)).collect();
                if !missing.is_empty() {
                    // pandas' get_dummies names a level `column_level`; tradeoff `column=level`.
                    let dummies = missing.iter().any(|m| {
                        names.iter().any(|n| {
                            n.contains('=')
                                && ["_", ".", ":", "-"]
                                    .iter()
                                    .any(|sep| n.replacen('=', sep, 1) == **m)
                        })
                    });
                    let hint = if dummies {
                        "; they look like another tool's one-hot names for the data's text columns, which tradeoff encodes as column=level: train the model on the rows as tradeoff encodes them (`tradeoff run --export-split DIR` writes DIR/train.csv), or drop the text columns from both"
                    } else {
                        ""
                    };
                    return Err(bad(
                        path,
                        format!(
                            "the model's feature{} {} {} not in the data (its features: {}){hint}",
                            plural(missing.len()),
                            quoted(&missing),
                            if missing.len() == 1 { "is" } else { "are" },
                            names.join(", ")
                        ),
                    ));
                }
                let extra: Vec<&String> = names.iter().filter(|n| !model.contains(n)).collect();
                if !extra.is_empty() {
                    let text: Vec<&String> =
                        extra.iter().copied().filter(|n| n.contains('=')).collect();
                    let why = if text.is_empty() {
                        String::new()
                    } else {
                        format!(
                            " ({} encoded from a text column, which the model cannot have seen)",
                            quoted(&text)
                        )
                    };
                    return Err(bad(path, format!("the data has feature{} the model does not use: {}{why}; drop {} with --drop", plural(extra.len()), quoted(&extra), if extra.len() == 1 { "it" } else { "them" })));
                }
                model
                    .iter()
                    .map(|m| names.iter().position(|n| n == m).expect("checked"))
                    .collect()
            }
            None => {
                if self.n_features != names.len() {
                    return Err(bad(path, format!("the model takes {} features (matched by position: the file names none); the data has {}: {}", self.n_features, names.len(), names.join(", "))));
                }
                if let Some(t) = names.iter().find(|n| n.contains('=')) {
                    return Err(bad(path, format!("the data's feature {t:?} is encoded from a text column; a model matched by position cannot have seen that encoding")));
                }
                (0..self.n_features).collect()
            }
        };
        // The same model over the data's features: tree splits renumbered; a linear model's
        // columns and a network's first-layer rows moved to the data's positions.
        let feature = |f: usize| to_data[f];
        let body = match &self.body {
            Body::Trees { trees, aggregation } => Body::Trees {
                trees: trees
                    .iter()
                    .map(|t| Tree {
                        output: t.output,
                        nodes: t
                            .nodes
                            .iter()
                            .map(|n| {
                                let mut n = *n;
                                if !n.is_leaf() {
                                    n.feature = feature(n.feature as usize) as u32;
                                }
                                n
                            })
                            .collect(),
                    })
                    .collect(),
                aggregation: aggregation.clone(),
            },
            Body::Linear {
                weights,
                bias,
                link,
            } => {
                let mut w = vec![0.0; weights.len()];
                for (r, row) in weights.chunks(self.n_features).enumerate() {
                    for (j, v) in row.iter().enumerate() {
                        w[r * names.len() + feature(j)] = *v;
                    }
                }
                Body::Linear {
                    weights: w,
                    bias: bias.clone(),
                    link: *link,
                }
            }
            Body::Mlp { layers, link } => {
                let mut layers = layers.clone();
                if let Some(first) = layers.first_mut() {
                    let mut w = vec![0.0; first.weights.len()];
                    for (j, row) in first.weights.chunks(first.outputs).enumerate() {
                        let at = feature(j) * first.outputs;
                        w[at..at + first.outputs].copy_from_slice(row);
                    }
                    first.weights = w;
                }
                Body::Mlp {
                    layers,
                    link: *link,
                }
            }
        };
        // A standardization is per model feature, in the model's order.
        let standardize = self.standardize.as_ref().map(|s| {
            let mut t = Standardize {
                mean: vec![0.0; names.len()],
                scale: vec![1.0; names.len()],
            };
            for j in 0..self.n_features {
                t.mean[feature(j)] = s.mean[j];
                t.scale[feature(j)] = s.scale[j];
            }
            t
        });
        Ok(ModelIr {
            ir_version: IR_VERSION,
            n_features: names.len(),
            n_outputs: match self.kind {
                Kind::Regression => 1,
                Kind::Binary => 2,
                Kind::Multiclass(k) => k,
            },
            classification: self.kind != Kind::Regression,
            standardize,
            body,
        })
    }

    /// The library's name: `xgboost` or `lightgbm`.
    pub fn library(&self) -> &'static str {
        match self.format {
            Format::XgboostJson => "xgboost",
            Format::LightgbmText => "lightgbm",
            Format::Onnx => "onnx",
        }
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

fn quoted(names: &[&String]) -> String {
    names
        .iter()
        .map(|n| format!("{n:?}"))
        .collect::<Vec<_>>()
        .join(", ")
}
