//! ONNX models (`.onnx`) of the `ai.onnx.ml` operators, read with ONNX's own protobuf schema
//! (compiled by prost-build, `onnx_proto.rs`).
//!
//! One model operator a graph: `LinearRegressor`, `LinearClassifier`,
//! `TreeEnsembleRegressor` or `TreeEnsembleClassifier`, as scikit-learn's and onnxmltools'
//! exporters write them, or the newer `TreeEnsemble` (`ai.onnx.ml` opset 5), with the nodes they wrap it in: `Cast`, `Identity`, `ZipMap`,
//! `ArgMax` (the label output; the IR gives the probabilities), a `Scaler` before a linear
//! model (folded into its standardization) and an L1 `Normalizer` after a classifier (where it
//! turns one-vs-rest logistic scores into probabilities, or follows a softmax). Every other
//! operator, and every attribute value the IR cannot express exactly, is an error naming
//! the operator and node. A graph without one of those is read as a dense network
//! ([`dense`]): `MatMul`/`Gemm` and `Add` layers with `Relu`, `Tanh` or `Sigmoid` between
//! them, ending in `Sigmoid` or `Softmax`.

use std::collections::BTreeMap;
use std::path::Path;

use prost::Message;
use tradeoff_ir::ir::{Activation, Aggregation, Body, Dense, Link, Standardize, Tree};
use tradeoff_ir::Result;

use crate::onnx_proto::{AttributeProto, ModelProto, NodeProto};
use crate::{bad, build_tree, Imported, Kind, Source};

/// The most features a model may take: a file claiming more is refused before anything is
/// sized by it.
const MAX_FEATURES: usize = 1 << 24;

/// The attributes of a node, by name.
struct Attrs<'a>(BTreeMap<&'a str, &'a AttributeProto>);

impl<'a> Attrs<'a> {
    fn of(node: &'a NodeProto) -> Self {
        Attrs(
            node.attribute
                .iter()
                .map(|a| (a.name.as_str(), a))
                .collect(),
        )
    }
    fn ints(&self, k: &str) -> Vec<i64> {
        self.0.get(k).map(|a| a.ints.clone()).unwrap_or_default()
    }
    fn floats(&self, k: &str) -> Vec<f32> {
        self.0.get(k).map(|a| a.floats.clone()).unwrap_or_default()
    }
    fn int(&self, k: &str) -> Option<i64> {
        self.0.get(k).map(|a| a.i)
    }
    fn text(&self, k: &str) -> Option<String> {
        self.0
            .get(k)
            .map(|a| String::from_utf8_lossy(&a.s).into_owned())
    }
    fn strings(&self, k: &str) -> Vec<String> {
        self.0
            .get(k)
            .map(|a| {
                a.strings
                    .iter()
                    .map(|s| String::from_utf8_lossy(s).into_owned())
                    .collect()
            })
            .unwrap_or_default()
    }
    fn has(&self, k: &str) -> bool {
        self.0.contains_key(k)
    }
}

/// A float tensor's values (`float_data`, or little-endian `raw_data`).
fn floats(t: &crate::onnx_proto::TensorProto) -> Option<Vec<f32>> {
    const FLOAT: i32 = 1;
    if t.data_type != FLOAT {
        return None;
    }
    if !t.float_data.is_empty() {
        return Some(t.float_data.clone());
    }
    Some(
        t.raw_data
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect(),
    )
}

fn describe(i: usize, n: &NodeProto) -> String {
    if n.name.is_empty() {
        format!("node {i} ({})", n.op_type)
    } else {
        format!("node {i} {:?} ({})", n.name, n.op_type)
    }
}

pub fn read(path: &Path, bytes: &[u8]) -> Result<Imported> {
    let model = ModelProto::decode(bytes).map_err(|e| {
        bad(
            path,
            format!("not a valid ONNX model ({e}); a truncated or corrupted file?"),
        )
    })?;
    let graph = model
        .graph
        .as_ref()
        .ok_or_else(|| bad(path, "the ONNX model has no graph".into()))?;
    let fail = |m: String| bad(path, m);
    // The model operator, and what surrounds it.
    let mut main: Option<(usize, &NodeProto)> = None;
    let mut scaler: Option<&NodeProto> = None;
    let mut normalizer = false;
    let mut unknown: Option<String> = None;
    for (i, n) in graph.node.iter().enumerate() {
        match n.op_type.as_str() {
            "LinearRegressor"
            | "LinearClassifier"
            | "TreeEnsembleRegressor"
            | "TreeEnsembleClassifier"
            | "TreeEnsemble" => {
                if let Some((j, m)) = main {
                    return Err(fail(format!(
                        "{} and {}: one model operator a graph is read, not two",
                        describe(j, m),
                        describe(i, n)
                    )));
                }
                main = Some((i, n));
            }
            "Cast" | "Identity" | "ZipMap" | "ArgMax" => {}
            // onnxmltools' LightGBM converter multiplies the probabilities by a constant 1.
            "Mul"
                if n.input.iter().any(|input| {
                    graph.initializer.iter().any(|t| {
                        t.name == *input
                            && floats(t)
                                .is_some_and(|v| !v.is_empty() && v.iter().all(|x| *x == 1.0))
                    })
                }) => {}
            "Scaler" if main.is_none() => scaler = Some(n),
            "Normalizer" if main.is_some() => {
                let norm = Attrs::of(n).text("norm").unwrap_or_default();
                if norm != "L1" {
                    return Err(fail(format!(
                        "{}: norm {norm} is not supported (L1 is)",
                        describe(i, n)
                    )));
                }
                normalizer = true;
            }
            other => {
                unknown.get_or_insert(format!(
                    "{}: operator {other} is not supported: LinearRegressor, LinearClassifier, TreeEnsembleRegressor, TreeEnsembleClassifier and TreeEnsemble are, with Cast, Identity, ZipMap, ArgMax, a Mul by 1, a Scaler before and an L1 Normalizer after; or a dense network of MatMul/Gemm and Add layers with Relu, Tanh or Sigmoid between them, ending in Sigmoid or Softmax",
                    describe(i, n)
                ));
            }
        }
    }
    if let (Some(why), Some(_)) = (&unknown, main) {
        return Err(fail(why.clone()));
    }
    let Some((at, node)) = main else {
        return dense(path, &model);
    };
    let here = describe(at, node);
    let a = Attrs::of(node);
    let n_features = graph
        .input
        .first()
        .and_then(|i| i.r#type.as_ref())
        .and_then(|t| match &t.value {
            Some(crate::onnx_proto::type_proto::Value::TensorType(t)) => t.shape.as_ref(),
            _ => None,
        })
        .and_then(|s| s.dim.get(1))
        .and_then(|d| match d.value {
            Some(crate::onnx_proto::tensor_shape_proto::dimension::Value::DimValue(v)) if v > 0 => {
                Some(v as usize)
            }
            _ => None,
        })
        .ok_or_else(|| {
            fail("the graph's input has no fixed feature count (a [batch, features] tensor)".into())
        })?;
    if n_features > MAX_FEATURES {
        return Err(fail(format!("the graph's input has {n_features} features; more than {MAX_FEATURES} is not a model tradeoff measures")));
    }
    let post = if node.op_type == "TreeEnsemble" {
        // An enumeration here, a string in the older operators.
        let p = a.int("post_transform").unwrap_or(0);
        POST_TRANSFORMS
            .get(p as usize)
            .map_or_else(|| format!("{p}"), |s| s.to_string())
    } else {
        a.text("post_transform").unwrap_or_else(|| "NONE".into())
    };
    let standardize = match scaler {
        None => None,
        Some(s) => {
            if !node.op_type.starts_with("Linear") {
                return Err(fail(format!(
                    "a Scaler before {here}: supported before linear models only"
                )));
            }
            let s = Attrs::of(s);
            let widen = |v: Vec<f32>| {
                if v.len() == 1 {
                    vec![v[0]; n_features]
                } else {
                    v
                }
            };
            let (offset, scale) = (widen(s.floats("offset")), widen(s.floats("scale")));
            if offset.len() != n_features
                || scale.len() != n_features
                || scale.iter().any(|v| *v == 0.0 || !v.is_finite())
            {
                return Err(fail(
                    "the Scaler's offset and scale do not fit the features".into(),
                ));
            }
            Some(Standardize {
                mean: offset,
                scale: scale.iter().map(|s| 1.0 / s).collect(),
            })
        }
    };
    let classes = || -> Result<usize> {
        if !a.strings("classlabels_strings").is_empty() {
            return Err(fail(format!("{here}: string class labels are not supported; export with integer labels 0, 1, ...")));
        }
        let labels = if a.has("classlabels_ints") {
            a.ints("classlabels_ints")
        } else {
            a.ints("classlabels_int64s")
        };
        if labels.len() < 2 || labels.iter().enumerate().any(|(i, l)| *l != i as i64) {
            return Err(fail(format!(
                "{here}: class labels {labels:?}; 0, 1, ..., K-1 are supported"
            )));
        }
        Ok(labels.len())
    };
    let (kind, body) = match node.op_type.as_str() {
        "LinearRegressor" => {
            if a.int("targets").unwrap_or(1) != 1 || post != "NONE" {
                return Err(fail(format!(
                    "{here}: one target and post_transform NONE are supported"
                )));
            }
            let w = a.floats("coefficients");
            let b = a.floats("intercepts");
            if w.len() != n_features || b.len() > 1 {
                return Err(fail(format!(
                    "{here}: {} coefficients for {n_features} features",
                    w.len()
                )));
            }
            (
                Kind::Regression,
                Body::Linear {
                    weights: w,
                    bias: vec![b.first().copied().unwrap_or(0.0)],
                    link: Link::Identity,
                },
            )
        }
        "LinearClassifier" => {
            let k = classes()?;
            let w = a.floats("coefficients");
            let b = a.floats("intercepts");
            let rows = w.len() / n_features;
            if rows * n_features != w.len() || b.len() != rows {
                return Err(fail(format!(
                    "{here}: {} coefficients and {} intercepts for {n_features} features",
                    w.len(),
                    b.len()
                )));
            }
            let kind = if k == 2 {
                Kind::Binary
            } else {
                Kind::Multiclass(k)
            };
            let body = match (k, rows, post.as_str(), normalizer) {
                // One logit: p(class 1) = s(z).
                (2, 1, "LOGISTIC", _) => Body::Linear { weights: w, bias: b, link: Link::Sigmoid },
                // Two opposite logits ([-z, z], scikit-learn's binary export): the same.
                (2, 2, "LOGISTIC", _)
                    if w[..n_features].iter().zip(&w[n_features..]).all(|(p, q)| *p == -*q) && b[0] == -b[1] =>
                {
                    Body::Linear { weights: w[n_features..].to_vec(), bias: vec![b[1]], link: Link::Sigmoid }
                }
                (k, r, "SOFTMAX", _) if r == k => Body::Linear { weights: w, bias: b, link: Link::Softmax },
                (k, r, "LOGISTIC", true) if r == k && k > 2 => Body::Linear { weights: w, bias: b, link: Link::OvrSigmoid },
                _ => {
                    return Err(fail(format!("{here}: {rows} coefficient rows for {k} classes with post_transform {post}{}: not a probability the IR computes", if normalizer { " and a Normalizer" } else { "" })))
                }
            };
            (kind, body)
        }
        "TreeEnsemble" => {
            if normalizer {
                return Err(fail(format!(
                    "{here}: a Normalizer after TreeEnsemble is not read"
                )));
            }
            tree_ensemble(path, &here, &a, n_features, &post)?
        }
        _ => trees(path, &here, &a, n_features, &post, normalizer, &classes)?,
    };
    Ok(Imported {
        path: path.to_path_buf(),
        format: crate::Format::Onnx,
        producer: producer_of(&model),
        objective: if node.op_type == "TreeEnsemble"
            && ["SOFTMAX", "LOGISTIC"].contains(&post.as_str())
        {
            // ONNX Runtime 1.32 numbers the transforms 1 LOGISTIC, 2 SOFTMAX.
            format!("TreeEnsemble (post_transform {post}, as the ONNX specification numbers it)")
        } else {
            format!("{} (post_transform {post})", node.op_type)
        },
        kind,
        feature_names: None,
        n_features,
        body,
        file_hash: 0,
        standardize,
    })
}

/// `TreeEnsemble`'s `post_transform` values, by number.
const POST_TRANSFORMS: [&str; 5] = ["NONE", "SOFTMAX", "LOGISTIC", "SOFTMAX_ZERO", "PROBIT"];

/// A tensor attribute's values as f64 (`FLOAT` or `DOUBLE`, in their typed fields or
/// little-endian `raw_data`).
fn tensor_f64(t: &crate::onnx_proto::TensorProto) -> Option<Vec<f64>> {
    const DOUBLE: i32 = 11;
    if t.data_type == DOUBLE {
        if !t.double_data.is_empty() {
            return Some(t.double_data.clone());
        }
        return Some(
            t.raw_data
                .chunks_exact(8)
                .map(|b| f64::from_le_bytes(b.try_into().expect("8 bytes")))
                .collect(),
        );
    }
    floats(t).map(|v| v.into_iter().map(f64::from).collect())
}

/// A `UINT8` tensor's values (`int32_data`, or `raw_data`).
fn tensor_u8(t: &crate::onnx_proto::TensorProto) -> Option<Vec<u8>> {
    const UINT8: i32 = 2;
    if t.data_type != UINT8 {
        return None;
    }
    if !t.int32_data.is_empty() {
        return t.int32_data.iter().map(|v| u8::try_from(*v).ok()).collect();
    }
    Some(t.raw_data.clone())
}

/// The IR's split (`x < threshold` goes left) for a comparison of an f32 feature with an
/// f64 value under `TreeEnsemble`'s mode: exact for every f32 `x`. `None`: a mode the IR
/// cannot express (equality, membership), or a NaN threshold.
fn split_of(mode: u8, v: f64, yes: usize, no: usize) -> Option<(f32, usize, usize)> {
    if v.is_nan() {
        return None;
    }
    // The largest f32 at most v and the smallest at least v.
    let r = v as f32;
    let (down, up) = if f64::from(r) > v {
        (r.next_down(), r)
    } else if f64::from(r) < v {
        (r, r.next_up())
    } else {
        (r, r)
    };
    match mode {
        // x <= v  <=>  x <= down  <=>  x < next_up(down)
        0 => Some((down.next_up(), yes, no)),
        // x < v  <=>  x < up
        1 => Some((up, yes, no)),
        // x >= v  <=>  !(x < up)
        2 => Some((up, no, yes)),
        // x > v  <=>  !(x <= down)
        3 => Some((down.next_up(), no, yes)),
        _ => None,
    }
}

/// The newer `TreeEnsemble` operator (`ai.onnx.ml` opset 5): interior nodes and leaves in
/// separate arrays, each tree from a root, a leaf adding its weight to one target. A tree
/// whose leaves add to several targets becomes one IR tree a target (the other targets'
/// leaves read 0 there): the same sums.
fn tree_ensemble(
    path: &Path,
    here: &str,
    a: &Attrs,
    n_features: usize,
    post: &str,
) -> Result<(Kind, Body)> {
    let fail = |m: String| bad(path, m);
    let tensor = |k: &str| a.0.get(k).and_then(|x| x.t.as_ref());
    let aggregate = a.int("aggregate_function").unwrap_or(1);
    if aggregate != 1 {
        let name = ["AVERAGE", "SUM", "MIN", "MAX"]
            .get(aggregate as usize)
            .copied()
            .unwrap_or("unknown");
        return Err(fail(format!(
            "{here}: aggregate_function {aggregate} ({name}) is not supported (1, SUM, is)"
        )));
    }
    let n_targets = a
        .int("n_targets")
        .ok_or_else(|| fail(format!("{here}: it has no n_targets")))?;
    let (kind, n_scores, link) = match (n_targets, post) {
        (1, "NONE") => (Kind::Regression, 1, Link::Identity),
        // One score: p(class 1) = s(score).
        (1, "LOGISTIC") => (Kind::Binary, 1, Link::Sigmoid),
        (2, "SOFTMAX") => (Kind::Binary, 2, Link::Softmax),
        (k, "SOFTMAX") if k > 2 && k <= MAX_FEATURES as i64 => {
            (Kind::Multiclass(k as usize), k as usize, Link::Softmax)
        }
        (k, p) => {
            return Err(fail(format!("{here}: {k} targets with post_transform {p}: one target with NONE (regression) or LOGISTIC (binary), or several with SOFTMAX, are supported")))
        }
    };
    let modes = tensor("nodes_modes")
        .and_then(tensor_u8)
        .ok_or_else(|| fail(format!("{here}: nodes_modes is not a UINT8 tensor")))?;
    let splits = tensor("nodes_splits")
        .and_then(tensor_f64)
        .ok_or_else(|| fail(format!("{here}: nodes_splits is not a float tensor")))?;
    let weights = tensor("leaf_weights")
        .and_then(tensor_f64)
        .ok_or_else(|| fail(format!("{here}: leaf_weights is not a float tensor")))?;
    let (features, yes, no) = (
        a.ints("nodes_featureids"),
        a.ints("nodes_truenodeids"),
        a.ints("nodes_falsenodeids"),
    );
    let (yes_leaf, no_leaf) = (a.ints("nodes_trueleafs"), a.ints("nodes_falseleafs"));
    let targets = a.ints("leaf_targetids");
    let n = modes.len();
    if [
        splits.len(),
        features.len(),
        yes.len(),
        no.len(),
        yes_leaf.len(),
        no_leaf.len(),
    ]
    .iter()
    .any(|&l| l != n)
    {
        return Err(fail(format!("{here}: its node arrays differ in length")));
    }
    if targets.len() != weights.len() {
        return Err(fail(format!("{here}: its leaf arrays differ in length")));
    }
    if let Some((i, t)) = targets
        .iter()
        .enumerate()
        .find(|(_, t)| **t < 0 || **t >= n_targets)
    {
        return Err(fail(format!(
            "{here}: leaf {i} adds to target {t}, not one of {n_targets}"
        )));
    }
    // Interior node j is entry j, leaf k is entry n + k.
    let child = |j: usize, leaf: &[i64], to: &[i64]| -> std::result::Result<usize, String> {
        let (is_leaf, to) = (leaf[j] != 0, to[j]);
        let bound = if is_leaf { weights.len() } else { n };
        match usize::try_from(to) {
            Ok(to) if to < bound => Ok(if is_leaf { n + to } else { to }),
            _ => Err(format!(
                "node {j} points to {} {to}, out of range",
                if is_leaf { "leaf" } else { "node" }
            )),
        }
    };
    let mut out = Vec::new();
    for (t, &root) in a.ints("tree_roots").iter().enumerate() {
        let here_tree = |m: String| fail(format!("{here}: tree {t} (root {root}): {m}"));
        // The tree's entries in walk order, numbered from 0 for `build_tree`.
        let mut order: Vec<usize> = Vec::new();
        let mut local: std::collections::HashMap<usize, usize> = Default::default();
        let mut touched = std::collections::BTreeSet::new();
        let mut stack = match usize::try_from(root) {
            Ok(r) if r < n => vec![r],
            _ => return Err(here_tree("the root is not a node".into())),
        };
        while let Some(e) = stack.pop() {
            if local.insert(e, order.len()).is_some() {
                return Err(here_tree(format!("entry {e} is reached twice")));
            }
            order.push(e);
            if e >= n {
                touched.insert(targets[e - n]);
            } else {
                let (y, f) = (
                    child(e, &yes_leaf, &yes).map_err(&here_tree)?,
                    child(e, &no_leaf, &no).map_err(&here_tree)?,
                );
                // A one-leaf tree: both branches of a node to the same leaf.
                if y == f && y >= n {
                    // ONNX Runtime reads such a root's leaf at the root's own index.
                    if e as i64 == root && y - n != e {
                        return Err(here_tree(format!("a one-leaf tree whose leaf ({}) is not at its root's index: the specification reads leaf {}, ONNX Runtime leaf {e}; not read", y - n, y - n)));
                    }
                    touched.insert(targets[y - n]);
                } else {
                    stack.extend([f, y]);
                }
            }
        }
        let value = |e: usize, target: i64| {
            let k = e - n;
            if targets[k] == target {
                weights[k] as f32
            } else {
                0.0
            }
        };
        for target in touched {
            let nodes = build_tree(0, order.len(), |id| {
                let e = order[id];
                if e >= n {
                    return Ok(Source::Leaf(value(e, target)));
                }
                let (y, f) = (child(e, &yes_leaf, &yes)?, child(e, &no_leaf, &no)?);
                if y == f && y >= n {
                    return Ok(Source::Leaf(value(y, target)));
                }
                let feature = features[e];
                if feature < 0 || feature as usize >= n_features {
                    return Err(format!(
                        "node {e} splits on feature {feature}, not one of the model's {n_features}"
                    ));
                }
                let (threshold, left, right) = split_of(modes[e], splits[e], local[&y], local[&f])
                    .ok_or_else(|| {
                        format!(
                            "node {e} has mode {} ({}) and threshold {}, which the IR cannot express",
                            modes[e],
                            [
                                "BRANCH_LEQ",
                                "BRANCH_LT",
                                "BRANCH_GTE",
                                "BRANCH_GT",
                                "BRANCH_EQ",
                                "BRANCH_NEQ",
                                "BRANCH_MEMBER"
                            ]
                            .get(modes[e] as usize)
                            .unwrap_or(&"unknown"),
                            splits[e]
                        )
                    })?;
                Ok(Source::Split {
                    feature: feature as usize,
                    threshold,
                    left,
                    right,
                })
            })
            .map_err(&here_tree)?;
            out.push(Tree {
                output: if n_scores == 1 { 0 } else { target as u32 },
                nodes,
            });
        }
    }
    if out.is_empty() {
        return Err(fail(format!("{here}: it has no trees")));
    }
    Ok((
        kind,
        Body::Trees {
            trees: out,
            aggregation: Aggregation::Sum {
                base: vec![0.0; n_scores],
                link,
            },
        },
    ))
}

/// Who made the file: its producer, ONNX IR version and opsets.
fn producer_of(model: &ModelProto) -> String {
    let opset: std::collections::BTreeSet<String> = model
        .opset_import
        .iter()
        .map(|o| {
            let domain = if o.domain.is_empty() {
                "ai.onnx"
            } else {
                &o.domain
            };
            format!("{domain} {}", o.version)
        })
        .collect();
    let opset: Vec<String> = opset.into_iter().collect();
    format!(
        "{} {} (ONNX IR {}, opset {})",
        if model.producer_name.is_empty() {
            "unknown producer"
        } else {
            &model.producer_name
        },
        model.producer_version,
        model.ir_version,
        opset.join(", ")
    )
}

/// A tree ensemble operator's trees.
fn trees(
    path: &Path,
    here: &str,
    a: &Attrs,
    n_features: usize,
    post: &str,
    normalizer: bool,
    classes: &dyn Fn() -> Result<usize>,
) -> Result<(Kind, Body)> {
    let fail = |m: String| bad(path, m);
    let classifier = a.has("class_ids");
    let prefix = if classifier { "class" } else { "target" };
    if a.has("nodes_values_as_tensor") || a.has("base_values_as_tensor") {
        return Err(fail(format!(
            "{here}: thresholds or base values as double tensors are not supported"
        )));
    }
    let aggregate = a.text("aggregate_function").unwrap_or_else(|| "SUM".into());
    if aggregate != "SUM" {
        return Err(fail(format!(
            "{here}: aggregate_function {aggregate} is not supported (SUM is)"
        )));
    }
    if !classifier && a.int("n_targets").unwrap_or(1) != 1 {
        return Err(fail(format!("{here}: several targets are not supported")));
    }
    let (tree_ids, node_ids) = (a.ints("nodes_treeids"), a.ints("nodes_nodeids"));
    let (features, modes, values) = (
        a.ints("nodes_featureids"),
        a.strings("nodes_modes"),
        a.floats("nodes_values"),
    );
    let (yes, no) = (a.ints("nodes_truenodeids"), a.ints("nodes_falsenodeids"));
    let n = tree_ids.len();
    if [
        node_ids.len(),
        features.len(),
        modes.len(),
        values.len(),
        yes.len(),
        no.len(),
    ]
    .iter()
    .any(|&l| l != n)
    {
        return Err(fail(format!("{here}: its node arrays differ in length")));
    }
    let (w_tree, w_node, w_id, w) = (
        a.ints(&format!("{prefix}_treeids")),
        a.ints(&format!("{prefix}_nodeids")),
        a.ints(&format!("{prefix}_ids")),
        a.floats(&format!("{prefix}_weights")),
    );
    if [w_node.len(), w_id.len(), w.len()]
        .iter()
        .any(|&l| l != w_tree.len())
    {
        return Err(fail(format!(
            "{here}: its leaf weight arrays differ in length"
        )));
    }
    // (tree, node) -> index into the node arrays; (tree, node) -> (output, summed weight).
    let mut at: BTreeMap<(i64, i64), usize> = BTreeMap::new();
    for i in 0..n {
        at.insert((tree_ids[i], node_ids[i]), i);
    }
    let mut leaf: BTreeMap<(i64, i64), (i64, f32)> = BTreeMap::new();
    for i in 0..w.len() {
        let e = leaf.entry((w_tree[i], w_node[i])).or_insert((w_id[i], 0.0));
        if e.0 != w_id[i] {
            return Err(fail(format!(
                "{here}: tree {} node {} holds weights for several classes (a class distribution, as a random forest's leaves): the IR's leaves hold one value",
                w_tree[i], w_node[i]
            )));
        }
        e.1 += w[i];
    }
    let base = a.floats("base_values");
    let (kind, n_scores, link) = if classifier {
        let k = classes()?;
        let outputs: std::collections::BTreeSet<i64> = w_id.iter().copied().collect();
        match (k, post, normalizer) {
            // One score: p(class 1) = s(score), as onnxruntime computes the binary case.
            (2, "LOGISTIC", _) if outputs.len() <= 1 => (Kind::Binary, 1, Link::Sigmoid),
            (k, "SOFTMAX", _) if k > 2 => (Kind::Multiclass(k), k, Link::Softmax),
            (k, "LOGISTIC", true) if k > 2 => (Kind::Multiclass(k), k, Link::OvrSigmoid),
            _ => {
                return Err(fail(format!("{here}: {k} classes with post_transform {post}: not a probability the IR computes (a random forest's vote fractions, post_transform NONE, are not read)")))
            }
        }
    } else {
        if post != "NONE" {
            return Err(fail(format!(
                "{here}: post_transform {post} on a regressor is not supported"
            )));
        }
        (Kind::Regression, 1, Link::Identity)
    };
    let base = match base.len() {
        0 => vec![0.0; n_scores],
        l if l == n_scores => base,
        l => {
            return Err(fail(format!(
                "{here}: {l} base values for {n_scores} scores"
            )))
        }
    };
    // Each tree's node-id range (one past its largest id): what its walk may reach.
    let mut ids: BTreeMap<i64, usize> = BTreeMap::new();
    for (t, id) in tree_ids.iter().zip(&node_ids) {
        let end = ids.entry(*t).or_insert(0);
        *end = (*end).max(usize::try_from(*id).map_or(usize::MAX, |i| i.saturating_add(1)));
    }
    let mut out = Vec::new();
    for (&t, &count) in &ids {
        if count > n {
            return Err(fail(format!("{here}: tree {t}: node ids out of range")));
        }
        let mut output = None;
        let nodes = build_tree(0, count, |id| {
            // `id` is a node id within tree `t`.
            let i = *at
                .get(&(t, id as i64))
                .ok_or(format!("node {id} is missing"))?;
            let mode = modes[i].as_str();
            if mode == "LEAF" {
                let (o, v) = leaf.get(&(t, id as i64)).copied().unwrap_or((0, 0.0));
                if *output.get_or_insert(o) != o {
                    return Err("its leaves add to different classes".to_string());
                }
                return Ok(Source::Leaf(v));
            }
            let f = features[i];
            if f < 0 || f as usize >= n_features {
                return Err(format!(
                    "node {id} splits on feature {f}, not one of the model's {n_features}"
                ));
            }
            let v = values[i];
            let (y, nn) = (yes[i] as usize, no[i] as usize);
            // The IR goes left when x < threshold.
            let (threshold, left, right) = match mode {
                "BRANCH_LT" => (v, y, nn),
                "BRANCH_LEQ" => (v.next_up(), y, nn),
                "BRANCH_GTE" => (v, nn, y),
                "BRANCH_GT" => (v.next_up(), nn, y),
                other => {
                    return Err(format!(
                        "node {id} has mode {other}, which the IR cannot express"
                    ))
                }
            };
            Ok(Source::Split {
                feature: f as usize,
                threshold,
                left,
                right,
            })
        })
        .map_err(|m| fail(format!("{here}: tree {t}: {m}")))?;
        let output = output.unwrap_or(0).max(0) as u32;
        out.push(Tree {
            // The binary case's one score is output 0 whichever class id the file names.
            output: if n_scores == 1 { 0 } else { output },
            nodes,
        });
        if out.last().is_some_and(|t| t.output as usize >= n_scores) {
            return Err(fail(format!(
                "{here}: tree {t} adds to class {output}, not one of {n_scores}"
            )));
        }
    }
    Ok((
        kind,
        Body::Trees {
            trees: out,
            aggregation: Aggregation::Sum { base, link },
        },
    ))
}

/// A dense network: from the graph's input, `MatMul` (or `Gemm`) by a weight initializer,
/// `Add` of a bias initializer and `Relu`, `Tanh` or `Sigmoid`, layer after layer, ending with nothing
/// (regression), `Sigmoid` (one logit) or `Softmax`; what follows the end (scikit-learn's
/// `[1 - p, p]`, the label's `ArgMax`) is not read. Any other operator on the way is an error.
fn dense(path: &Path, model: &ModelProto) -> Result<Imported> {
    let fail = |m: String| bad(path, m);
    let graph = model.graph.as_ref().expect("checked");
    let init = |name: &str| -> Option<(Vec<i64>, Vec<f32>)> {
        graph
            .initializer
            .iter()
            .find(|t| t.name == name)
            .and_then(|t| Some((t.dims.clone(), floats(t)?)))
    };
    let mut cur = graph
        .input
        .first()
        .map(|i| i.name.clone())
        .ok_or_else(|| fail("the graph has no input".into()))?;
    let mut layers: Vec<Dense> = Vec::new();
    // The layer being built: weights (inputs x outputs) and its width, before its bias.
    let mut open: Option<Dense> = None;
    let mut link = None;
    let other = |i: usize, n: &NodeProto, why: &str| fail(format!("{}: {why}", describe(i, n)));
    for (i, n) in graph.node.iter().enumerate() {
        let on = n.input.iter().position(|x| *x == cur);
        if link.is_some() || on.is_none() {
            // Off the chain, or after its end: the label's and scikit-learn's wrappers only.
            if ![
                "ArgMax",
                "ArrayFeatureExtractor",
                "Reshape",
                "Cast",
                "Sub",
                "Concat",
                "Identity",
                "ZipMap",
            ]
            .contains(&n.op_type.as_str())
            {
                return Err(other(i, n, &format!("operator {} is not supported in a dense network: MatMul or Gemm, Add, Relu, Tanh or Sigmoid, then Sigmoid or Softmax are", n.op_type)));
            }
            continue;
        }
        let output = n.output.first().cloned().unwrap_or_default();
        match n.op_type.as_str() {
            "Cast" | "Identity" | "Reshape" => {}
            "MatMul" | "Gemm" => {
                if let Some(l) = open.take() {
                    layers.push(l);
                }
                let w = n.input.iter().find(|x| **x != cur).and_then(|x| init(x));
                let Some((dims, mut w)) = w.filter(|(d, _)| d.len() == 2) else {
                    return Err(other(i, n, "its weights are not a 2-D initializer"));
                };
                let (mut inputs, mut outputs) = (dims[0] as usize, dims[1] as usize);
                let a = Attrs::of(n);
                if n.op_type == "Gemm" {
                    if a.int("transA").unwrap_or(0) != 0
                        || a.0.get("alpha").is_some_and(|x| x.f != 1.0)
                        || a.0.get("beta").is_some_and(|x| x.f != 1.0)
                    {
                        return Err(other(i, n, "a Gemm with transA, alpha or beta other than 0, 1, 1"));
                    }
                    if a.int("transB").unwrap_or(0) == 1 {
                        // [outputs, inputs] -> [inputs, outputs]
                        (inputs, outputs) = (outputs, inputs);
                        let t: Vec<f32> = (0..inputs * outputs)
                            .map(|k| w[(k % outputs) * inputs + k / outputs])
                            .collect();
                        w = t;
                    }
                }
                if w.len() != inputs * outputs {
                    return Err(other(i, n, "its weights do not fill their shape"));
                }
                let mut l = Dense {
                    inputs,
                    outputs,
                    weights: w,
                    bias: vec![0.0; outputs],
                    activation: Activation::Identity,
                };
                if n.op_type == "Gemm" {
                    if let Some((_, b)) = n.input.get(2).and_then(|x| init(x)) {
                        l.bias = widen(b, outputs).ok_or_else(|| other(i, n, "its bias does not fit its outputs"))?;
                    }
                }
                open = Some(l);
            }
            "Add" => {
                let l = open.as_mut().ok_or_else(|| other(i, n, "an Add before any MatMul"))?;
                let b = n.input.iter().find(|x| **x != cur).and_then(|x| init(x));
                let b = b.and_then(|(_, b)| widen(b, l.outputs)).ok_or_else(|| other(i, n, "its bias is not an initializer that fits the layer"))?;
                l.bias.iter_mut().zip(b).for_each(|(x, y)| *x += y);
            }
            "Relu" | "Tanh" | "Sigmoid" | "Softmax" => {
                // Between layers, an activation; at the end (what it gives feeds no further
                // layer), Sigmoid and Softmax are the network's link.
                if !feeds_a_layer(graph, i, &output) {
                    match n.op_type.as_str() {
                        "Sigmoid" => link = Some(Link::Sigmoid),
                        "Softmax" => link = Some(Link::Softmax),
                        op => return Err(other(i, n, &format!("a {op} at the end of the network; the IR's last layer gives the scores, then Sigmoid or Softmax"))),
                    }
                } else {
                    let activation = match n.op_type.as_str() {
                        "Relu" => Activation::Relu,
                        "Tanh" => Activation::Tanh,
                        "Sigmoid" => Activation::Sigmoid,
                        op => return Err(other(i, n, &format!("a {op} between layers is not supported (Relu, Tanh and Sigmoid are)"))),
                    };
                    let mut l = open.take().ok_or_else(|| other(i, n, "an activation before any layer"))?;
                    l.activation = activation;
                    layers.push(l);
                }
            }
            op => {
                return Err(other(i, n, &format!("operator {op} is not supported in a dense network (activations: Relu, Tanh or Sigmoid between layers; Sigmoid or Softmax at the end)")))
            }
        }
        cur = output;
    }
    if let Some(l) = open.take() {
        layers.push(l);
    }
    let (first, last) = match (layers.first(), layers.last()) {
        (Some(f), Some(l)) => (f.inputs, l.outputs),
        _ => {
            return Err(fail(
                "no model operator and no dense layer in the graph".into(),
            ))
        }
    };
    if layers
        .last()
        .is_some_and(|l| l.activation != Activation::Identity)
    {
        return Err(fail("the network's last layer has an activation before its output; the IR's last layer gives the scores".into()));
    }
    let link = link.unwrap_or(Link::Identity);
    let kind = match (link, last) {
        (Link::Identity, 1) => Kind::Regression,
        (Link::Sigmoid, 1) => Kind::Binary,
        (Link::Softmax, k) if k >= 2 => if k == 2 { Kind::Binary } else { Kind::Multiclass(k) },
        (link, k) => return Err(fail(format!("a network of {k} outputs ending in {link:?}: not a regression or a classifier's probabilities"))),
    };
    Ok(Imported {
        path: path.to_path_buf(),
        format: crate::Format::Onnx,
        producer: producer_of(model),
        objective: format!("dense network, {} layers, {link:?} output", layers.len()),
        kind,
        feature_names: None,
        n_features: first,
        body: Body::Mlp { layers, link },
        file_hash: 0,
        standardize: None,
    })
}

/// Whether the value `name`, made by node `at`, reaches a `MatMul` or `Gemm` (directly or
/// through `Cast`, `Identity` and `Reshape`): whether an activation there is a hidden
/// layer's rather than the network's output link.
fn feeds_a_layer(graph: &crate::onnx_proto::GraphProto, at: usize, name: &str) -> bool {
    let mut names = vec![name.to_string()];
    for n in &graph.node[at + 1..] {
        if !n.input.iter().any(|x| names.contains(x)) {
            continue;
        }
        match n.op_type.as_str() {
            "MatMul" | "Gemm" => return true,
            "Cast" | "Identity" | "Reshape" => names.extend(n.output.iter().cloned()),
            _ => {}
        }
    }
    false
}

/// A bias of `n` values, or one value for all.
fn widen(v: Vec<f32>, n: usize) -> Option<Vec<f32>> {
    match v.len() {
        1 => Some(vec![v[0]; n]),
        l if l == n => Some(v),
        _ => None,
    }
}
