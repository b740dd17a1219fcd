//! The IR must compute what the training library computes, for every family and task.
//!
//! Tolerances: tree leaves and splits are copied exactly (the trainer walks its trees on bin
//! codes, the IR on `f32` thresholds: every input must take the same branch), so tree
//! regressors agree to float summation order (1e-5 relative) and tree classifiers give
//! identical labels (both break vote ties towards the lowest class index). Linear models and boosting sum in `f32` where the library sums in
//! `f64`; probabilities and values agree within 1e-4 (relative to the value's magnitude).

use tradeoff_core::data::{synthetic, Dataset};
use tradeoff_core::ir::argmax;
use tradeoff_core::protocol::Params;
use tradeoff_core::target::{predict_all, CpuTarget, Target};

use crate::{builtin, fit_native};

fn params(kv: &[(&str, f64)]) -> Params {
    kv.iter().map(|(k, v)| (k.to_string(), *v)).collect()
}

fn split(ds: &Dataset) -> (Dataset, Dataset) {
    let train: Vec<usize> = (0..ds.n_rows).filter(|i| i % 4 != 0).collect();
    let test: Vec<usize> = (0..ds.n_rows).filter(|i| i % 4 == 0).collect();
    (ds.select(&train), ds.select(&test))
}

/// Fits `id`, predicts the test rows with the library and with the IR on the cpu target.
fn both(id: &str, ds: &Dataset, p: &Params) -> (Vec<f32>, Vec<f32>, usize) {
    let (train, test) = split(ds);
    let fitted = fit_native(id, &train, p, 7).unwrap();
    let ir = fitted.to_ir().unwrap();
    ir.validate().unwrap();
    let lib = fitted.library_predict(&test);
    let mut pred = CpuTarget.load(&ir).unwrap();
    let ours = predict_all(pred.as_mut(), &test.x, test.n_rows).unwrap();
    assert_eq!(lib.len(), ours.len());
    (lib, ours, ir.n_outputs)
}

fn assert_close(lib: &[f32], ours: &[f32], rel: f32) {
    for (i, (a, b)) in lib.iter().zip(ours).enumerate() {
        let tol = rel * a.abs().max(1.0);
        assert!((a - b).abs() <= tol, "value {i}: library {a}, IR {b}");
    }
}

/// Labels must be identical (both sides break vote ties towards the lowest class index).
fn assert_same_labels(lib: &[f32], ours: &[f32], k: usize) {
    for (i, (a, b)) in lib.chunks(k).zip(ours.chunks(k)).enumerate() {
        assert_eq!(argmax(a), argmax(b), "row {i}: library {a:?}, IR {b:?}");
    }
}

fn iris() -> Dataset {
    builtin("iris").unwrap()
}
fn binary() -> Dataset {
    synthetic("synthetic:classification,rows=600,features=6,seed=3").unwrap()
}
fn diabetes() -> Dataset {
    builtin("diabetes").unwrap()
}

#[test]
fn linear_ridge_ir_matches_the_f64_solution() {
    let (lib, ours, _) = both("linear", &diabetes(), &params(&[("alpha", 0.01)]));
    assert_close(&lib, &ours, 1e-4);
}

#[test]
fn logistic_matches_linfa_binary_and_multiclass() {
    for ds in [binary(), iris()] {
        let (lib, ours, _) = both("logistic", &ds, &params(&[("alpha", 0.1)]));
        assert_close(&lib, &ours, 1e-4);
    }
}

#[test]
fn tree_classifier_ir_matches_the_binned_tree_exactly() {
    for ds in [binary(), iris()] {
        let (lib, ours, _) = both(
            "tree",
            &ds,
            &params(&[("max_depth", 6.0), ("min_leaf", 1.0)]),
        );
        // A single tree cannot tie: the one-hot rows are identical.
        assert_eq!(lib, ours);
    }
}

#[test]
fn tree_regressor_ir_matches_the_binned_tree() {
    let (lib, ours, _) = both(
        "tree",
        &diabetes(),
        &params(&[("max_depth", 8.0), ("min_leaf", 2.0)]),
    );
    assert_close(&lib, &ours, 1e-5);
}

#[test]
fn forest_ir_matches_the_binned_forest() {
    let p = params(&[
        ("trees", 25.0),
        ("max_depth", 8.0),
        ("min_leaf", 1.0),
        ("features", 0.6),
    ]);
    for ds in [binary(), iris()] {
        let (lib, ours, k) = both("forest", &ds, &p);
        assert_same_labels(&lib, &ours, k);
    }
    let (lib, ours, _) = both("forest", &diabetes(), &p);
    assert_close(&lib, &ours, 1e-5);
}

#[test]
fn gbm_with_a_class_absent_from_training() {
    // Iris without its first class in the training rows: that class must get probability 0.
    let ds = iris();
    let rows: Vec<usize> = (0..ds.n_rows).filter(|&i| ds.y[i] != 0.0).collect();
    let train = ds.select(&rows);
    let p = params(&[
        ("iterations", 20.0),
        ("learning_rate", 0.1),
        ("max_depth", 3.0),
        ("l2", 1.0),
    ]);
    let fitted = fit_native("gbm", &train, &p, 7).unwrap();
    let ir = fitted.to_ir().unwrap();
    ir.validate().unwrap();
    let mut pred = CpuTarget.load(&ir).unwrap();
    let ours = predict_all(pred.as_mut(), &ds.x, ds.n_rows).unwrap();
    assert!(ours.chunks(3).all(|r| r[0] == 0.0));
    assert_close(&fitted.library_predict(&ds), &ours, 1e-4);
}

#[test]
fn gbm_matches_its_bins_for_every_task() {
    let p = params(&[
        ("iterations", 40.0),
        ("learning_rate", 0.1),
        ("max_depth", 4.0),
        ("l2", 1.0),
    ]);
    for ds in [
        binary(),
        iris(),
        diabetes(),
        synthetic("synthetic:regression,rows=500,features=5").unwrap(),
    ] {
        let (lib, ours, _) = both("gbm", &ds, &p);
        assert_close(&lib, &ours, 1e-4);
    }
}
