//! Models fitted by XGBoost and LightGBM (`tests/fixtures/import`, made by
//! `scripts/import-fixtures.py` with the versions in its `versions.json`): read into the IR,
//! they predict what the library itself predicted, on every target that runs trees.

use std::path::{Path, PathBuf};

use tradeoff_core::harness::parity;
use tradeoff_import::{read, Imported};
use tradeoff_ir::ir::ModelIr;
use tradeoff_ir::target::predict_all;
use tradeoff_ir::Error;

use crate::targets::targets;

const TASKS: [(&str, usize); 3] = [("regression", 0), ("binary", 2), ("multiclass", 3)];

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/import")
        .join(name)
}

/// The feature rows of a fixture CSV (every column but the last, `y`) and their names.
fn rows(task: &str) -> (Vec<f32>, usize, Vec<String>) {
    let text = std::fs::read_to_string(fixture(&format!("{task}.csv"))).unwrap();
    let mut lines = text.lines();
    let header: Vec<String> = lines.next().unwrap().split(',').map(String::from).collect();
    let names = header[..header.len() - 1].to_vec();
    let mut x = Vec::new();
    let mut n = 0;
    for line in lines {
        let fields: Vec<&str> = line.split(',').collect();
        x.extend(
            fields[..names.len()]
                .iter()
                .map(|v| v.parse::<f32>().unwrap()),
        );
        n += 1;
    }
    (x, n, names)
}

/// The library's own predictions, row-major, as the IR gives them: a binary model's one
/// probability becomes `[1 - p, p]`.
fn library_predictions(model: &str, classes: usize) -> Vec<f32> {
    let text = std::fs::read_to_string(fixture(&format!("{model}.pred.csv"))).unwrap();
    let mut out = Vec::new();
    for line in text.lines() {
        let p: Vec<f64> = line.split(',').map(|v| v.parse().unwrap()).collect();
        if classes == 2 {
            out.extend([(1.0 - p[0]) as f32, p[0] as f32]);
        } else {
            out.extend(p.iter().map(|&v| v as f32));
        }
    }
    out
}

fn model_file(model: &str) -> PathBuf {
    let ext = if model.starts_with("xgb") {
        "json"
    } else {
        "txt"
    };
    fixture(&format!("{model}.{ext}"))
}

fn bind(imported: &Imported, names: &[String], classes: usize) -> ModelIr {
    imported.bind(names, classes).unwrap()
}

#[test]
fn imported_models_predict_what_their_library_predicted_on_every_target() {
    let targets = targets();
    let mut ran = Vec::new();
    for lib in ["xgb", "lgb"] {
        for (task, classes) in TASKS {
            for suffix in ["", "-positional"] {
                let model = format!("{lib}-{task}{suffix}");
                let imported = read(&model_file(&model), None).unwrap();
                assert_eq!(
                    imported.feature_names.is_none(),
                    suffix == "-positional",
                    "{model}"
                );
                let (x, n, names) = rows(task);
                let ir = bind(&imported, &names, classes).validate().unwrap();
                let want = library_predictions(&model, classes);
                let spec = tradeoff_ir::ir::eval(&ir, &x, n);
                let (err, why) = parity(&want, &spec, ir.n_outputs, ir.classification);
                assert!(why.is_none(), "{model}, ir::eval: {}", why.unwrap());
                eprintln!("{model} ir::eval: max abs difference from {lib} {err:.3e}");
                for target in &targets {
                    let mut p = match target.load(&ir) {
                        Ok(p) => p,
                        // Trees have no tensor form on burn and candle.
                        Err(Error::Unsupported { .. }) => continue,
                        Err(e) => panic!("{model} on {}: {e}", target.id()),
                    };
                    let got = predict_all(p.as_mut(), &x, n).unwrap();
                    let (err, why) = parity(&want, &got, ir.n_outputs, ir.classification);
                    assert!(
                        why.is_none(),
                        "{model} on {}: {}",
                        target.id(),
                        why.unwrap()
                    );
                    eprintln!(
                        "{model} on {}: max abs difference from {lib} {err:.3e}",
                        target.id()
                    );
                    ran.push(target.id());
                }
            }
        }
    }
    assert!(ran.contains(&"cpu"), "the cpu target ran every model");
}

/// One leaf value changed in the file (by 0.5): the predictions no longer match the
/// library's, so the check above can fail.
#[test]
fn a_perturbed_model_file_no_longer_matches_its_library() {
    let dir = crate::util::dir("import-perturbed");
    for lib in ["xgb", "lgb"] {
        for (task, classes) in TASKS {
            let model = format!("{lib}-{task}");
            let text = std::fs::read_to_string(model_file(&model)).unwrap();
            let changed = if lib == "xgb" {
                let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
                let tree = &mut v["learner"]["gradient_booster"]["model"]["trees"][0];
                let leaf = tree["left_children"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .position(|c| c == -1)
                    .unwrap();
                let old = tree["split_conditions"][leaf].as_f64().unwrap();
                tree["split_conditions"][leaf] = (old + 0.5).into();
                v.to_string()
            } else {
                let at = text.find("leaf_value=").unwrap() + "leaf_value=".len();
                let end = at + text[at..].find(' ').unwrap();
                let old: f64 = text[at..end].parse().unwrap();
                format!("{}{}{}", &text[..at], old + 0.5, &text[end..])
            };
            let path = dir.join(model_file(&model).file_name().unwrap());
            std::fs::write(&path, changed).unwrap();
            let (x, n, names) = rows(task);
            let ir = bind(&read(&path, None).unwrap(), &names, classes)
                .validate()
                .unwrap();
            let want = library_predictions(&model, classes);
            let got = tradeoff_ir::ir::eval(&ir, &x, n);
            let (_, why) = parity(&want, &got, ir.n_outputs, ir.classification);
            assert!(why.is_some(), "{model}: a changed leaf went unnoticed");
        }
    }
}
