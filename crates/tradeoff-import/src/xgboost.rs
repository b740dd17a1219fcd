//! XGBoost's JSON model format (`Booster.save_model("m.json")`, schema of XGBoost 1.0 on).
//!
//! A `gbtree` booster: trees in `gradient_booster.model.trees`, tree `i` adding to output
//! `tree_info[i]`; a node is a leaf where `left_children` is -1, its value in
//! `split_conditions`; a split sends `x < split_conditions` left, XGBoost's own rule on
//! `f32` features and the IR's. The base score (`learner_model_param.base_score`, a number
//! or, from XGBoost 3.1, a list per output) is in the objective's output space: a
//! probability for `binary:logistic`, turned into a margin by the logit as XGBoost does.

use std::path::Path;

use serde_json::Value;
use tradeoff_ir::ir::{Aggregation, Body, Link, Tree};
use tradeoff_ir::Result;

use crate::{bad, build_tree, Imported, Kind, Source};

pub fn read(path: &Path, text: &str) -> Result<Imported> {
    let v: Value = serde_json::from_str(text).map_err(|e| {
        bad(
            path,
            format!("not valid XGBoost JSON ({e}); a truncated or corrupted file?"),
        )
    })?;
    let get = |v: &Value, at: &str| -> Result<Value> {
        let mut cur = v;
        for key in at.split('.') {
            cur = cur.get(key).ok_or_else(|| {
                bad(
                    path,
                    format!("no `{at}` in the model (a truncated file, or not an XGBoost model?)"),
                )
            })?;
        }
        Ok(cur.clone())
    };
    let learner = get(&v, "learner")?;
    let booster = get(&learner, "gradient_booster.name")?;
    if booster != "gbtree" {
        return Err(bad(
            path,
            format!("booster {booster} is not supported: only gbtree (tree boosting without dropout) maps to the IR"),
        ));
    }
    let objective = get(&learner, "objective.name")?
        .as_str()
        .unwrap_or_default()
        .to_string();
    let param = get(&learner, "learner_model_param")?;
    let num = |key: &str| -> Result<usize> {
        let s = get(&param, key)?;
        s.as_str().and_then(|s| s.parse().ok()).ok_or_else(|| {
            bad(
                path,
                format!("learner_model_param.{key} is not a number: {s}"),
            )
        })
    };
    let n_features = num("num_feature")?;
    let num_class = num("num_class")?;
    if param.get("num_target").is_some() && num("num_target")? > 1 {
        return Err(bad(path, "multi-target models are not supported".into()));
    }
    let (kind, link) = match objective.as_str() {
        "reg:squarederror" | "reg:linear" | "reg:absoluteerror" | "reg:pseudohubererror"
        | "reg:squaredlogerror" | "reg:quantileerror" => (Kind::Regression, Link::Identity),
        "binary:logistic" => (Kind::Binary, Link::Sigmoid),
        "multi:softprob" | "multi:softmax" if num_class >= 2 => {
            (Kind::Multiclass(num_class), Link::Softmax)
        }
        other => {
            return Err(bad(
                path,
                format!("objective {other} is not supported: reg:squarederror (and the other identity regressions), binary:logistic, multi:softprob and multi:softmax are"),
            ))
        }
    };
    let n_scores = match kind {
        Kind::Multiclass(k) => k,
        _ => 1,
    };
    // base_score: "5E-1" or "[a,b,c]".
    let base_text = get(&param, "base_score")?;
    let base_text = base_text.as_str().unwrap_or_default();
    let base: Vec<f64> = base_text
        .trim_matches(|c| c == '[' || c == ']')
        .split(',')
        .map(|s| s.trim().parse::<f64>())
        .collect::<std::result::Result<_, _>>()
        .map_err(|_| {
            bad(
                path,
                format!("base_score {base_text:?} is not a number or a list of numbers"),
            )
        })?;
    let base: Vec<f64> = match (base.len(), n_scores) {
        (1, n) => vec![base[0]; n],
        (b, n) if b == n => base,
        (b, n) => {
            return Err(bad(
                path,
                format!("base_score has {b} values for {n} outputs"),
            ))
        }
    };
    let base: Vec<f32> = base
        .iter()
        .map(|&b| match link {
            Link::Sigmoid => {
                if b > 0.0 && b < 1.0 {
                    Ok(((b / (1.0 - b)).ln()) as f32)
                } else {
                    Err(bad(
                        path,
                        format!("base_score {b} is not a probability, as binary:logistic needs"),
                    ))
                }
            }
            _ => Ok(b as f32),
        })
        .collect::<Result<_>>()?;
    let model = get(&learner, "gradient_booster.model")?;
    let trees = model
        .get("trees")
        .and_then(Value::as_array)
        .ok_or_else(|| bad(path, "no trees in gradient_booster.model".into()))?;
    let info = model
        .get("tree_info")
        .and_then(Value::as_array)
        .ok_or_else(|| bad(path, "no tree_info in gradient_booster.model".into()))?;
    if info.len() != trees.len() {
        return Err(bad(
            path,
            format!("{} trees but {} tree_info entries", trees.len(), info.len()),
        ));
    }
    let mut out = Vec::with_capacity(trees.len());
    for (t, (tree, output)) in trees.iter().zip(info).enumerate() {
        let output = output
            .as_u64()
            .filter(|&o| (o as usize) < n_scores)
            .ok_or_else(|| {
                bad(
                    path,
                    format!("tree {t}: tree_info {output} is not an output of the model"),
                )
            })?;
        let nodes = read_tree(tree, n_features).map_err(|m| bad(path, format!("tree {t}: {m}")))?;
        out.push(Tree {
            output: output as u32,
            nodes,
        });
    }
    let feature_names = learner
        .get("feature_names")
        .and_then(Value::as_array)
        .filter(|a| !a.is_empty())
        .map(|a| {
            a.iter()
                .map(|n| n.as_str().unwrap_or_default().to_string())
                .collect::<Vec<_>>()
        });
    if let Some(names) = &feature_names {
        if names.len() != n_features {
            return Err(bad(
                path,
                format!("{} feature names for {n_features} features", names.len()),
            ));
        }
    }
    let version = v
        .get("version")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .map(|n| n.to_string())
                .collect::<Vec<_>>()
                .join(".")
        })
        .unwrap_or_else(|| "version unknown".into());
    Ok(Imported {
        path: path.to_path_buf(),
        format: crate::Format::XgboostJson,
        producer: format!("xgboost {version}"),
        objective,
        kind,
        feature_names,
        n_features,
        body: Body::Trees {
            trees: out,
            aggregation: Aggregation::Sum { base, link },
        },
        file_hash: 0,
        standardize: None,
    })
}

/// One tree's nodes; `Err` says what is wrong with it.
fn read_tree(
    tree: &Value,
    n_features: usize,
) -> std::result::Result<Vec<tradeoff_ir::ir::Node>, String> {
    let ints = |key: &str| -> std::result::Result<Vec<i64>, String> {
        tree.get(key)
            .and_then(Value::as_array)
            .ok_or(format!("no {key}"))?
            .iter()
            .map(|v| v.as_i64().ok_or(format!("{key} holds {v}, not an integer")))
            .collect()
    };
    let floats = |key: &str| -> std::result::Result<Vec<f64>, String> {
        tree.get(key)
            .and_then(Value::as_array)
            .ok_or(format!("no {key}"))?
            .iter()
            .map(|v| v.as_f64().ok_or(format!("{key} holds {v}, not a number")))
            .collect()
    };
    let left = ints("left_children")?;
    let right = ints("right_children")?;
    let feature = ints("split_indices")?;
    let cond = floats("split_conditions")?;
    let split_type = ints("split_type").unwrap_or_default();
    let n = left.len();
    if right.len() != n || feature.len() != n || cond.len() != n {
        return Err("its node arrays differ in length".into());
    }
    if n == 0 {
        return Err("it has no nodes".into());
    }
    build_tree(0, n, |i| {
        if left[i] == -1 {
            return Ok(Source::Leaf(cond[i] as f32));
        }
        if split_type.get(i).is_some_and(|&s| s != 0) {
            return Err(format!(
                "node {i} is a categorical split, which the IR cannot express"
            ));
        }
        let f = feature[i];
        if f < 0 || f as usize >= n_features {
            return Err(format!(
                "node {i} splits on feature {f}, not one of the model's {n_features}"
            ));
        }
        if left[i] < 0 || right[i] < 0 {
            return Err(format!("node {i} has a negative child"));
        }
        Ok(Source::Split {
            feature: f as usize,
            threshold: cond[i] as f32,
            left: left[i] as usize,
            right: right[i] as usize,
        })
    })
}
