//! LightGBM's text model format (`Booster.save_model("m.txt")`, model format v3 and v4).
//!
//! A header of `key=value` lines, then one block per tree (`Tree=N`). A tree's internal
//! nodes are `0..num_leaves-1`; a child `c < 0` is leaf `!c`. A numerical split sends
//! `x <= threshold` (in `f64`) left: on `f32` features that is exactly the IR's
//! `x < threshold_for_le(threshold)`. Leaf values already carry the shrinkage; tree `i`
//! adds to output `i % num_tree_per_iteration`; the base score is 0 (LightGBM folds the
//! initial score into the first trees).

use std::collections::HashMap;
use std::path::Path;

use tradeoff_ir::ir::{threshold_for_le, Aggregation, Body, Link, Tree};
use tradeoff_ir::Result;

use crate::{bad, build_tree, Imported, Kind, Source};

pub fn read(path: &Path, text: &str) -> Result<Imported> {
    let mut lines = text.lines().map(str::trim);
    let mut header: HashMap<&str, &str> = HashMap::new();
    let mut blocks: Vec<(usize, HashMap<&str, &str>)> = Vec::new();
    let mut ended = false;
    for line in lines.by_ref() {
        if line == "end of trees" {
            ended = true;
            break;
        }
        if let Some(n) = line.strip_prefix("Tree=") {
            let n = n
                .parse()
                .map_err(|_| bad(path, format!("{line:?} does not number its tree")))?;
            blocks.push((n, HashMap::new()));
            continue;
        }
        let (k, v) = line.split_once('=').unwrap_or((line, ""));
        match blocks.last_mut() {
            Some((_, block)) => block.insert(k, v),
            None => header.insert(k, v),
        };
    }
    if !ended {
        return Err(bad(
            path,
            "no `end of trees` line: a truncated file, or not a LightGBM text model?".into(),
        ));
    }
    let key = |k: &str| -> Result<&str> {
        header
            .get(k)
            .copied()
            .ok_or_else(|| bad(path, format!("no `{k}=` line in the model's header")))
    };
    let number = |k: &str| -> Result<usize> {
        let v = key(k)?;
        v.parse()
            .map_err(|_| bad(path, format!("`{k}={v}` is not a whole number")))
    };
    if header.contains_key("average_output") {
        return Err(bad(
            path,
            "a random-forest model (average_output) is not supported: only boosting".into(),
        ));
    }
    let n_features = number("max_feature_idx")? + 1;
    let num_class = number("num_class")?;
    let per_iteration = number("num_tree_per_iteration")?;
    let objective = key("objective")?.to_string();
    let mut words = objective.split_whitespace();
    let name = words.next().unwrap_or_default();
    let option = |o: &str| -> Option<f64> {
        objective
            .split_whitespace()
            .find_map(|w| w.strip_prefix(o)?.strip_prefix(':')?.parse().ok())
    };
    let (kind, link, scale) = match name {
        "regression" | "regression_l2" | "l2" | "mean_squared_error" | "mse" | "regression_l1"
        | "l1" | "huber" | "fair" | "quantile" | "mape" => (Kind::Regression, Link::Identity, 1.0),
        "binary" => (Kind::Binary, Link::Sigmoid, option("sigmoid").unwrap_or(1.0)),
        "multiclass" | "softmax" if num_class >= 2 => {
            (Kind::Multiclass(num_class), Link::Softmax, 1.0)
        }
        other => {
            return Err(bad(
                path,
                format!("objective {other} is not supported: the regressions with an identity output (regression, regression_l1, huber, fair, quantile, mape), binary and multiclass are"),
            ))
        }
    };
    let n_scores = match kind {
        Kind::Multiclass(k) => k,
        _ => 1,
    };
    if per_iteration != n_scores {
        return Err(bad(
            path,
            format!("num_tree_per_iteration={per_iteration} for a model with {n_scores} outputs"),
        ));
    }
    let mut trees = Vec::with_capacity(blocks.len());
    for (i, (n, block)) in blocks.iter().enumerate() {
        let nodes = read_tree(block, n_features, scale as f32)
            .map_err(|m| bad(path, format!("tree {n}: {m}")))?;
        trees.push(Tree {
            output: (i % per_iteration) as u32,
            nodes,
        });
    }
    if trees.is_empty() {
        return Err(bad(path, "the model has no trees".into()));
    }
    let feature_names = header.get("feature_names").and_then(|v| {
        let names: Vec<String> = v.split_whitespace().map(String::from).collect();
        // LightGBM names unnamed features Column_0, Column_1, ...: those say nothing.
        let generated = names
            .iter()
            .enumerate()
            .all(|(i, n)| *n == format!("Column_{i}"));
        (!generated).then_some(names)
    });
    if let Some(names) = &feature_names {
        if names.len() != n_features {
            return Err(bad(
                path,
                format!("{} feature names for {n_features} features", names.len()),
            ));
        }
    }
    Ok(Imported {
        path: path.to_path_buf(),
        format: crate::Format::LightgbmText,
        producer: format!(
            "lightgbm, model format {}",
            header.get("version").copied().unwrap_or("unknown")
        ),
        objective,
        kind,
        feature_names,
        n_features,
        body: Body::Trees {
            trees,
            aggregation: Aggregation::Sum {
                base: vec![0.0; n_scores],
                link,
            },
        },
        file_hash: 0,
        standardize: None,
    })
}

/// One tree's nodes; `Err` says what is wrong with it. `scale` multiplies leaf values (the
/// binary objective's `sigmoid:` factor).
fn read_tree(
    block: &HashMap<&str, &str>,
    n_features: usize,
    scale: f32,
) -> std::result::Result<Vec<tradeoff_ir::ir::Node>, String> {
    let get = |k: &str| block.get(k).copied().ok_or(format!("no `{k}=` line"));
    let list = |k: &str| -> std::result::Result<Vec<f64>, String> {
        get(k)?
            .split_whitespace()
            .map(|w| {
                w.parse::<f64>()
                    .map_err(|_| format!("`{k}` holds {w:?}, not a number"))
            })
            .collect()
    };
    let leaves: usize = get("num_leaves")?
        .parse()
        .map_err(|_| "num_leaves is not a whole number".to_string())?;
    if get("is_linear").is_ok_and(|v| v != "0") {
        return Err("it is a linear tree (linear_tree=true), which the IR cannot express".into());
    }
    let values = list("leaf_value")?;
    if values.len() != leaves || leaves == 0 {
        return Err(format!("{} leaf values for {leaves} leaves", values.len()));
    }
    if leaves == 1 {
        return Ok(vec![tradeoff_ir::ir::Node::leaf(values[0] as f32 * scale)]);
    }
    let internal = leaves - 1;
    let feature = list("split_feature")?;
    let threshold = list("threshold")?;
    let decision = list("decision_type")?;
    let left = list("left_child")?;
    let right = list("right_child")?;
    if [
        feature.len(),
        threshold.len(),
        decision.len(),
        left.len(),
        right.len(),
    ]
    .iter()
    .any(|&l| l != internal)
    {
        return Err(format!("its split arrays are not {internal} long"));
    }
    // Ids: internal nodes 0..internal, leaf j at internal + j.
    let id = |c: f64| -> usize {
        if c < 0.0 {
            internal.saturating_add((-c - 1.0) as usize)
        } else {
            c as usize
        }
    };
    build_tree(0, internal + leaves, |i| {
        if i >= internal {
            return Ok(Source::Leaf(values[i - internal] as f32 * scale));
        }
        let d = decision[i] as u32;
        if d & 1 != 0 {
            return Err(format!(
                "node {i} is a categorical split, which the IR cannot express"
            ));
        }
        if (d >> 2) & 3 == 1 {
            return Err(format!("node {i} treats zero as missing (zero_as_missing=true): a zero would take the default branch, which the IR cannot express"));
        }
        let f = feature[i] as usize;
        if f >= n_features {
            return Err(format!(
                "node {i} splits on feature {f}, not one of the model's {n_features}"
            ));
        }
        Ok(Source::Split {
            feature: f,
            threshold: threshold_for_le(threshold[i]),
            left: id(left[i]),
            right: id(right[i]),
        })
    })
}
