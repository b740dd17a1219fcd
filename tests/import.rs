//! Models fitted by XGBoost and LightGBM (`tests/fixtures/import`, made by
//! `scripts/import-fixtures.py` with the versions in its `versions.json`): read into the IR,
//! they predict what the library itself predicted, on every target that runs trees.

use std::path::{Path, PathBuf};

use tradeoff_core::harness::parity;
use tradeoff_import::{read, Imported};
use tradeoff_ir::ir::{Body, ModelIr};
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
    let ext = if model.starts_with("onnx") {
        "onnx"
    } else if model.starts_with("xgb") {
        "json"
    } else {
        "txt"
    };
    fixture(&format!("{model}.{ext}"))
}

fn bind(imported: &Imported, names: &[String], classes: usize) -> ModelIr {
    imported.bind(names, classes).unwrap()
}

/// Every fixture model: its file's stem, its task and the number of classes (0: regression).
fn all_models() -> Vec<(String, &'static str, usize)> {
    let mut out = Vec::new();
    for lib in ["xgb", "lgb"] {
        for (task, classes) in TASKS {
            for suffix in ["", "-positional"] {
                out.push((format!("{lib}-{task}{suffix}"), task, classes));
            }
        }
    }
    // ONNX: scikit-learn's exports (skl2onnx), and the XGBoost and LightGBM binary models
    // converted by onnxmltools.
    for (name, task, classes) in [
        ("linear", "regression", 0),
        ("logistic", "binary", 2),
        ("logistic", "multiclass", 3),
        ("scaled-logistic", "multiclass", 3),
        ("gbm", "regression", 0),
        ("gbm", "binary", 2),
        ("gbm", "multiclass", 3),
        ("mlp", "regression", 0),
        ("mlp", "binary", 2),
        ("mlp", "multiclass", 3),
        ("mlp-tanh", "binary", 2),
        ("mlp-tanh", "multiclass", 3),
        ("mlp-logistic", "regression", 0),
        ("mlp-logistic", "binary", 2),
        // The newer TreeEnsemble operator (ai.onnx.ml opset 5).
        ("te5-gbm", "regression", 0),
        ("te5-gbm", "binary", 2),
        ("te5-gbm", "multiclass", 3),
        ("te5-mixed", "multiclass", 3),
        ("xgb", "binary", 2),
        ("lgb", "binary", 2),
    ] {
        out.push((format!("onnx-{name}-{task}"), task, classes));
    }
    out
}

#[test]
fn imported_models_predict_what_their_library_predicted_on_every_target() {
    let targets = targets();
    let mut ran = Vec::new();
    for (model, task, classes) in all_models() {
        let lib = model.split('-').next().unwrap().to_string();
        {
            {
                let imported = read(&model_file(&model), None).unwrap();
                assert_eq!(
                    imported.feature_names.is_none(),
                    model.ends_with("-positional") || lib == "onnx",
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
                        Err(Error::Unsupported { .. }) if matches!(ir.body, Body::Trees { .. }) => {
                            continue
                        }
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

/// An ONNX model with its model operator's first weight (a coefficient or a leaf weight)
/// changed by 0.5.
fn perturbed_onnx(path: &Path) -> Vec<u8> {
    use prost::Message;
    use tradeoff_import::onnx_proto::ModelProto;
    let mut m = ModelProto::decode(&*std::fs::read(path).unwrap()).unwrap();
    let graph = m.graph.as_mut().unwrap();
    let te5 = graph.node.iter().any(|n| n.op_type == "TreeEnsemble");
    let weights = graph
        .node
        .iter_mut()
        .flat_map(|n| n.attribute.iter_mut())
        .find(|a| ["coefficients", "target_weights", "class_weights"].contains(&a.name.as_str()));
    match weights {
        Some(a) => a.floats[0] += 0.5,
        // TreeEnsemble's leaf weights are a tensor.
        None if te5 => {
            let t = graph
                .node
                .iter_mut()
                .flat_map(|n| n.attribute.iter_mut())
                .find(|a| a.name == "leaf_weights")
                .and_then(|a| a.t.as_mut())
                .unwrap();
            if t.float_data.is_empty() {
                let v = f32::from_le_bytes(t.raw_data[..4].try_into().unwrap()) + 0.5;
                t.raw_data[..4].copy_from_slice(&v.to_le_bytes());
            } else {
                t.float_data[0] += 0.5;
            }
        }
        // A dense network: its first weight initializer.
        None => {
            let w = graph
                .initializer
                .iter_mut()
                .find(|t| t.name.starts_with("coefficient"))
                .unwrap();
            if w.float_data.is_empty() {
                let v = f32::from_le_bytes(w.raw_data[..4].try_into().unwrap()) + 0.5;
                w.raw_data[..4].copy_from_slice(&v.to_le_bytes());
            } else {
                w.float_data[0] += 0.5;
            }
        }
    }
    m.encode_to_vec()
}

/// One leaf value or weight changed in the file (by 0.5): the predictions no longer match
/// the library's, so the check above can fail.
#[test]
fn a_perturbed_model_file_no_longer_matches_its_library() {
    let dir = crate::util::dir("import-perturbed");
    for (model, task, classes) in all_models() {
        let lib = model.split('-').next().unwrap();
        {
            if model.ends_with("-positional") {
                continue;
            }
            let path = dir.join(model_file(&model).file_name().unwrap());
            if lib == "onnx" {
                std::fs::write(&path, perturbed_onnx(&model_file(&model))).unwrap();
            } else {
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
                std::fs::write(&path, changed).unwrap();
            }
            let (x, n, names) = rows(task);
            let ir = match read(&path, None).and_then(|m| m.bind(&names, classes)) {
                Ok(ir) => ir.validate().unwrap(),
                // scikit-learn's binary export holds the logit twice, [-z, z]: one side
                // changed no longer reads as a probability, and the file is refused.
                Err(Error::ModelFile { message, .. }) if model == "onnx-logistic-binary" => {
                    assert!(message.contains("not a probability"), "{message}");
                    continue;
                }
                Err(e) => panic!("{model}: {e}"),
            };
            let want = library_predictions(&model, classes);
            let got = tradeoff_ir::ir::eval(&ir, &x, n);
            let (_, why) = parity(&want, &got, ir.n_outputs, ir.classification);
            assert!(why.is_some(), "{model}: a changed leaf went unnoticed");
        }
    }
}

/// `run` options for a fixture CSV: its target `y`, the `cpu` target, quick settings.
fn run_args(csv: &str) -> Vec<&str> {
    let mut args = vec!["run", "--data", csv, "--target", "y"];
    args.extend(crate::util::QUICK);
    args
}

#[test]
fn run_measures_an_imported_model_next_to_the_ladder_and_says_where_it_came_from() {
    use crate::util::{assert_documented, assert_measured, cells, dir, stderr, tradeoff};
    let d = dir("import-run");
    let csv = fixture("regression.csv");
    let model = fixture("xgb-regression.json");
    let (csv, model) = (csv.to_str().unwrap(), model.to_str().unwrap());
    let mut args = run_args(csv);
    args.extend(["--candidates", "linear", "--model", model]);
    let o = tradeoff(&d, &args);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    // The run's test split is drawn from the file the model was trained on: said, and kept
    // in the manifest (stderr is quiet here).
    let warned = crate::util::manifest(&d)["warnings"].to_string();
    assert!(
        warned.contains("give the rows it never saw with --test-data"),
        "{warned}"
    );
    let all = cells(&d);
    let imported: Vec<_> = all
        .iter()
        .filter(|c| c["candidate"] == "xgb-regression")
        .collect();
    assert_eq!(imported.len(), 2, "batch sizes 1 and 16: {all:?}");
    let gbm_rank = tradeoff_engine::registry::candidate("gbm").unwrap().rank;
    let bytes = std::fs::read(model).unwrap();
    for c in &imported {
        assert_measured(c);
        assert_eq!(c["family"], "boosted_trees");
        assert_eq!(c["ladder_rank"], gbm_rank);
        assert_eq!(c["tuned"], false);
        assert!(c["scores"]["r2"].as_f64().is_some());
        let from = &c["imported"];
        assert_eq!(from["format"], "xgboost-json");
        assert_eq!(from["producer"], "xgboost 3.2.0");
        assert_eq!(from["objective"], "reg:squarederror");
        assert_eq!(from["file"], model);
        assert_eq!(
            from["file_hash"],
            format!("{:016x}", tradeoff_ir::hash::fnv1a(&bytes))
        );
        assert!(c["absent"]["fit_seconds"]
            .as_str()
            .unwrap()
            .contains("xgboost 3.2.0 model"));
    }
    assert!(all.iter().any(|c| c["candidate"] == "linear"));
    assert_documented(&d);
}

#[test]
fn model_files_that_cannot_be_measured_say_why_and_exit_3() {
    use crate::util::{assert_fails, dir, tradeoff, write};
    let d = dir("import-errors");
    let path = |name: &str| fixture(name).to_str().unwrap().to_string();
    let (regression, binary) = (path("regression.csv"), path("binary.csv"));
    let xgb = std::fs::read_to_string(fixture("xgb-binary.json")).unwrap();
    let edit = |f: &dyn Fn(&mut serde_json::Value)| {
        let mut v: serde_json::Value = serde_json::from_str(&xgb).unwrap();
        f(&mut v);
        v.to_string()
    };
    let truncated = write(&d, "truncated.json", &xgb[..xgb.len() / 2]);
    let poisson = write(
        &d,
        "poisson.json",
        &edit(&|v| v["learner"]["objective"]["name"] = "count:poisson".into()),
    );
    let categorical = write(
        &d,
        "categorical.json",
        &edit(&|v| {
            v["learner"]["gradient_booster"]["model"]["trees"][3]["split_type"][0] = 1.into()
        }),
    );
    let lgb = std::fs::read_to_string(fixture("lgb-binary.txt")).unwrap();
    let linear_tree = write(
        &d,
        "linear-tree.txt",
        &lgb.replacen("is_linear=0", "is_linear=1", 1),
    );
    let not_a_model = write(&d, "notes.txt", "hello\n");
    let onnx_bytes = std::fs::read(fixture("onnx-gbm-binary.onnx")).unwrap();
    let onnx_truncated = d.join("truncated.onnx");
    std::fs::write(&onnx_truncated, &onnx_bytes[..onnx_bytes.len() / 2]).unwrap();
    let lstm = d.join("lstm.onnx");
    let softplus = d.join("softplus.onnx");
    let te5_equal = d.join("te5-equal.onnx");
    {
        use prost::Message;
        use tradeoff_import::onnx_proto::ModelProto;
        let mut m = ModelProto::decode(&*onnx_bytes).unwrap();
        m.graph.as_mut().unwrap().node[0].op_type = "LSTM".into();
        std::fs::write(&lstm, m.encode_to_vec()).unwrap();
        // A network whose hidden activation the IR does not have.
        let tanh = std::fs::read(fixture("onnx-mlp-tanh-binary.onnx")).unwrap();
        let mut m = ModelProto::decode(&*tanh).unwrap();
        for n in &mut m.graph.as_mut().unwrap().node {
            if n.op_type == "Tanh" {
                n.op_type = "Softplus".into();
            }
        }
        std::fs::write(&softplus, m.encode_to_vec()).unwrap();
        // A TreeEnsemble whose first node tests equality (BRANCH_EQ, 4).
        let te5 = std::fs::read(fixture("onnx-te5-gbm-binary.onnx")).unwrap();
        let mut m = ModelProto::decode(&*te5).unwrap();
        let modes = m.graph.as_mut().unwrap().node[0]
            .attribute
            .iter_mut()
            .find(|a| a.name == "nodes_modes")
            .and_then(|a| a.t.as_mut())
            .unwrap();
        if modes.int32_data.is_empty() {
            modes.raw_data[0] = 4;
        } else {
            modes.int32_data[0] = 4;
        }
        std::fs::write(&te5_equal, m.encode_to_vec()).unwrap();
    }
    let gbm = write(&d, "gbm.json", &xgb);
    let cases: Vec<(String, Vec<String>, i32, String)> = vec![
        (
            "truncated".into(),
            vec![binary.clone(), truncated.display().to_string()],
            3,
            "not valid XGBoost JSON".into(),
        ),
        (
            "objective".into(),
            vec![binary.clone(), poisson.display().to_string()],
            3,
            "objective count:poisson is not supported".into(),
        ),
        (
            "categorical".into(),
            vec![binary.clone(), categorical.display().to_string()],
            3,
            "tree 3: node 0 is a categorical split".into(),
        ),
        (
            "linear tree".into(),
            vec![binary.clone(), linear_tree.display().to_string()],
            3,
            "tree 0: it is a linear tree".into(),
        ),
        (
            "not a model".into(),
            vec![binary.clone(), not_a_model.display().to_string()],
            3,
            "not a model file tradeoff reads".into(),
        ),
        (
            "classifier on regression data".into(),
            vec![regression.clone(), path("xgb-binary.json")],
            3,
            "the model is for binary classification; the data's target is numeric".into(),
        ),
        (
            "regressor on classification data".into(),
            vec![binary.clone(), path("lgb-regression.txt")],
            3,
            "the model is for regression; the data's target has 2 classes".into(),
        ),
        (
            "truncated ONNX".into(),
            vec![binary.clone(), onnx_truncated.display().to_string()],
            3,
            "not a valid ONNX model".into(),
        ),
        (
            "ONNX operator".into(),
            vec![binary.clone(), lstm.display().to_string()],
            3,
            "(LSTM): operator LSTM is not supported".into(),
        ),
        (
            "ONNX activation outside the IR".into(),
            vec![binary.clone(), softplus.display().to_string()],
            3,
            "operator Softplus is not supported in a dense network".into(),
        ),
        (
            "ONNX TreeEnsemble equality split".into(),
            vec![binary.clone(), te5_equal.display().to_string()],
            3,
            "tree 0 (root 0): node 0 has mode 4 (BRANCH_EQ) and threshold".into(),
        ),
        (
            "a candidate's id".into(),
            vec![binary.clone(), gbm.display().to_string()],
            2,
            "must differ from the candidates' ids".into(),
        ),
    ];
    for (what, files, code, needle) in &cases {
        let mut args = run_args(&files[0]);
        args.extend(["--model", &files[1]]);
        let o = tradeoff(&d, &args);
        assert_fails(&o, *code, needle);
        assert!(
            crate::util::stderr(&o).contains(files[1].as_str()) || *code == 2,
            "{what}: the error names the file: {}",
            crate::util::stderr(&o)
        );
    }
    // Features: a named model on data without one of its features, a positional one on
    // data with one feature fewer.
    let mut args = run_args(&binary);
    let named = path("xgb-binary.json");
    args.extend(["--model", &named, "--drop-column", "x4"]);
    assert_fails(&tradeoff(&d, &args), 3, "feature \"x4\" is not in the data");
    let mut args = run_args(&binary);
    let positional = path("lgb-binary-positional.txt");
    args.extend(["--model", &positional, "--drop-column", "x4"]);
    assert_fails(
        &tradeoff(&d, &args),
        3,
        "the model takes 5 features (matched by position",
    );
}

#[test]
fn a_suite_names_models_relative_to_itself() {
    use crate::util::{cells, dir, stderr, tradeoff, write};
    let d = dir("import-suite");
    let sub = d.join("suite");
    std::fs::create_dir(&sub).unwrap();
    std::fs::copy(fixture("lgb-regression.txt"), sub.join("mine.txt")).unwrap();
    let suite = write(
        &sub,
        "s.toml",
        &format!(
            "[data]\nfile = {:?}\ntarget = \"y\"\n[protocol]\ncandidates = [\"linear\"]\nmodels = [\"mine.txt\"]\nmodel_format = \"lightgbm-text\"\n",
            fixture("regression.csv")
        ),
    );
    let mut args = vec!["run", "--suite", suite.to_str().unwrap()];
    args.extend(crate::util::QUICK);
    let o = tradeoff(&d, &args);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let mine: Vec<_> = cells(&d)
        .into_iter()
        .filter(|c| c["candidate"] == "mine")
        .collect();
    assert!(!mine.is_empty());
    assert_eq!(mine[0]["imported"]["format"], "lightgbm-text");
    // A format the flag would refuse is refused at its line.
    write(&sub, "bad.toml", "[protocol]\nmodel_format = \"pmml\"\n");
    let o = tradeoff(
        &d,
        &["run", "--suite", sub.join("bad.toml").to_str().unwrap()],
    );
    crate::util::assert_fails(&o, 2, "protocol.model_format: \"pmml\" is not one of");
}

/// Text labels and another tool's one-hot names: what a user of pandas meets.
#[test]
fn class_order_is_said_and_foreign_one_hot_names_get_a_hint() {
    use crate::util::{assert_fails, dir, manifest, stderr, tradeoff, write};
    let d = dir("import-text");
    let csv = std::fs::read_to_string(fixture("binary.csv")).unwrap();
    // The same rows with the labels spelled out, and a text column `c`.
    let mut text = String::from("x0,x1,x2,x3,x4,c,y\n");
    for (i, line) in csv.lines().skip(1).enumerate() {
        let (features, y) = line.rsplit_once(',').unwrap();
        let label = if y == "1" { "yes" } else { "no" };
        let level = if i % 2 == 0 { "a" } else { "b" };
        text.push_str(&format!("{features},{level},{label}\n"));
    }
    let labelled = write(&d, "labelled.csv", &text);
    let model = fixture("xgb-binary.json");
    let mut args = run_args(labelled.to_str().unwrap());
    args.extend([
        "--model",
        model.to_str().unwrap(),
        "--drop-column",
        "c",
        "--candidates",
        "logistic",
    ]);
    let o = tradeoff(&d, &args);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let warned = manifest(&d)["warnings"].to_string();
    assert!(warned.contains("(0 = no, 1 = yes)"), "{warned}");
    // A model whose fifth feature is named as pandas' get_dummies names a level.
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&model).unwrap()).unwrap();
    v["learner"]["feature_names"][4] = "c_a".into();
    let dummies = write(&d, "dummies.json", &v.to_string());
    let mut args = run_args(labelled.to_str().unwrap());
    args.extend(["--model", dummies.to_str().unwrap(), "--out", "o2"]);
    assert_fails(
        &tradeoff(&d, &args),
        3,
        "they look like another tool's one-hot names for the data's text columns",
    );
}
