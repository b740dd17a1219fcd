//! Every execution target computes the reference's function: one parity test for every
//! target present, on every IR family, at batch sizes that are not multiples of anything.

use tradeoff_burn::BurnDevice;
use tradeoff_core::harness::parity;
use tradeoff_engine::registry;
use tradeoff_ir::ir::{
    Activation, Aggregation, Body, Dense, Link, ModelIr, Node, Standardize, Tree, ValidIr,
    IR_VERSION,
};
use tradeoff_ir::rng::Rng;
use tradeoff_ir::target::{predict_all, DeviceKind, Target};
use tradeoff_ir::Error;
use tradeoff_wgpu::WgslTarget;

use crate::util::{assert_measured, cells, dir, quick_any_target, stderr, tradeoff};

/// Rows per call: 1, a prime, one above a power of two, and both sides of the `cpu`
/// target's thresholds (4 and 8,192 rows).
const BATCHES: [usize; 5] = [1, 4, 7, 257, 8193];

fn values(rng: &mut Rng, n: usize, scale: f64) -> Vec<f32> {
    (0..n).map(|_| (rng.normal() * scale) as f32).collect()
}

fn standardize(rng: &mut Rng, nf: usize) -> Option<Standardize> {
    Some(Standardize {
        mean: values(rng, nf, 1.0),
        scale: (0..nf).map(|_| 0.5 + rng.next_f64() as f32).collect(),
    })
}

/// One model of every family the IR has, with random weights.
fn models() -> Vec<(&'static str, ModelIr)> {
    let mut rng = Rng::new(7);
    let nf = 13;
    let linear = |rng: &mut Rng, nf: usize, n_outputs: usize, link: Link| {
        let n_scores = match link {
            Link::Identity | Link::Sigmoid => 1,
            _ => n_outputs,
        };
        ModelIr {
            ir_version: IR_VERSION,
            n_features: nf,
            n_outputs,
            classification: link != Link::Identity,
            standardize: standardize(rng, nf),
            body: Body::Linear {
                weights: values(rng, n_scores * nf, 1.0),
                bias: values(rng, n_scores, 1.0),
                link,
            },
        }
    };
    // `hidden`: the hidden layers' activations, cycled.
    let mlp = |rng: &mut Rng, widths: &[usize], hidden: &[Activation], link: Link, n_outputs| {
        let layers = widths
            .windows(2)
            .enumerate()
            .map(|(i, w)| Dense {
                inputs: w[0],
                outputs: w[1],
                weights: values(rng, w[0] * w[1], (1.0 / w[0] as f64).sqrt()),
                bias: values(rng, w[1], 0.1),
                activation: if i + 2 == widths.len() {
                    Activation::Identity
                } else {
                    hidden[i % hidden.len()]
                },
            })
            .collect();
        ModelIr {
            ir_version: IR_VERSION,
            n_features: widths[0],
            n_outputs,
            classification: link != Link::Identity,
            standardize: standardize(rng, widths[0]),
            body: Body::Mlp { layers, link },
        }
    };
    let split = |f, t, l, r| Node {
        feature: f,
        threshold: t,
        left: l,
        right: r,
        value: 0.0,
    };
    let tree = ModelIr {
        ir_version: IR_VERSION,
        n_features: nf,
        n_outputs: 1,
        classification: false,
        standardize: None,
        body: Body::Trees {
            trees: vec![Tree {
                output: 0,
                nodes: vec![
                    split(0, 0.0, 1, 2),
                    Node::leaf(-1.0),
                    split(3, 0.5, 3, 4),
                    Node::leaf(2.0),
                    Node::leaf(3.0),
                ],
            }],
            aggregation: Aggregation::Mean,
        },
    };
    let ensemble = |rng: &mut Rng, n_trees: usize, n_outputs, aggregation: Aggregation| {
        let classification = !matches!(aggregation, Aggregation::Mean)
            && !matches!(
                aggregation,
                Aggregation::Sum {
                    link: Link::Identity,
                    ..
                }
            );
        let n_scores = match &aggregation {
            Aggregation::Sum { base, .. } => base.len(),
            _ => 1,
        };
        let vote = matches!(aggregation, Aggregation::Vote);
        let trees = (0..n_trees)
            .map(|t| {
                // A full tree of depth 3 on random features and thresholds.
                let mut nodes = Vec::new();
                for i in 0..15u32 {
                    if i < 7 {
                        nodes.push(split(
                            rng.below(nf) as u32,
                            rng.normal() as f32,
                            2 * i + 1,
                            2 * i + 2,
                        ));
                    } else if vote {
                        nodes.push(Node::leaf(rng.below(n_outputs) as f32));
                    } else {
                        nodes.push(Node::leaf(rng.normal() as f32));
                    }
                }
                Tree {
                    output: (t % n_scores) as u32,
                    nodes,
                }
            })
            .collect();
        ModelIr {
            ir_version: IR_VERSION,
            n_features: nf,
            n_outputs,
            classification,
            standardize: None,
            body: Body::Trees { trees, aggregation },
        }
    };
    let forest = ensemble(&mut rng, 9, 3, Aggregation::Vote);
    let forest_regressor = ensemble(&mut rng, 9, 1, Aggregation::Mean);
    let gbm_binary = ensemble(
        &mut rng,
        20,
        2,
        Aggregation::Sum {
            base: vec![0.3],
            link: Link::Sigmoid,
        },
    );
    let gbm_multiclass = ensemble(
        &mut rng,
        21,
        3,
        Aggregation::Sum {
            base: vec![0.1, -0.2, 0.0],
            link: Link::OvrSigmoid,
        },
    );
    let mut gbm_standardized = ensemble(
        &mut rng,
        10,
        1,
        Aggregation::Sum {
            base: vec![1.5],
            link: Link::Identity,
        },
    );
    gbm_standardized.standardize = standardize(&mut rng, nf);
    vec![
        ("forest vote", forest),
        ("forest mean", forest_regressor),
        ("gbm binary", gbm_binary),
        ("gbm one-vs-rest", gbm_multiclass),
        ("gbm standardized", gbm_standardized),
        ("linear regression", linear(&mut rng, nf, 1, Link::Identity)),
        // One feature (one lane a row), and more than 32 (lanes loop over the row).
        ("linear, 1 feature", linear(&mut rng, 1, 1, Link::Identity)),
        (
            "linear, 70 features",
            linear(&mut rng, 70, 1, Link::Identity),
        ),
        ("logistic binary", linear(&mut rng, nf, 2, Link::Sigmoid)),
        ("logistic softmax", linear(&mut rng, nf, 5, Link::Softmax)),
        ("one-vs-rest", linear(&mut rng, nf, 4, Link::OvrSigmoid)),
        // The most scores the linear kernel takes, and one more (the dense kernel's).
        (
            "softmax, 16 classes",
            linear(&mut rng, 33, 16, Link::Softmax),
        ),
        (
            "softmax, 17 classes",
            linear(&mut rng, 33, 17, Link::Softmax),
        ),
        (
            "mlp classifier",
            mlp(
                &mut rng,
                &[nf, 64, 33, 3],
                &[Activation::Relu],
                Link::Softmax,
                3,
            ),
        ),
        (
            "mlp regressor",
            mlp(
                &mut rng,
                &[nf, 256, 1],
                &[Activation::Relu],
                Link::Identity,
                1,
            ),
        ),
        (
            "tanh and sigmoid mlp, binary",
            mlp(
                &mut rng,
                &[nf, 48, 24, 1],
                &[Activation::Tanh, Activation::Sigmoid],
                Link::Sigmoid,
                2,
            ),
        ),
        ("tree", tree),
    ]
}

/// The fixtures, validated: the only form a target loads.
fn fixtures() -> Vec<(&'static str, ValidIr)> {
    models()
        .into_iter()
        .map(|(name, ir)| (name, ir.validate().unwrap()))
        .collect()
}

/// Every target of this build. The wgpu one is skipped when no adapter exists, unless
/// `TRADEOFF_REQUIRE_WGPU` is set (CI sets it: lavapipe must be found there).
pub(crate) fn targets() -> Vec<Box<dyn Target>> {
    let required = std::env::var_os("TRADEOFF_REQUIRE_WGPU").is_some();
    let mut v: Vec<Box<dyn Target>> = Vec::new();
    for entry in &registry::TARGETS {
        match entry.available() {
            Ok(()) => v.push(entry.make()),
            Err(e) if required && entry.gpu_api => {
                panic!(
                    "TRADEOFF_REQUIRE_WGPU is set but {} found no adapter: {e}",
                    entry.id
                )
            }
            Err(e) => eprintln!("skipping {}: {e}", entry.id),
        }
    }
    if v.iter().any(|t| t.id() == "wgsl") {
        // The same kernels with every batch cut into chunks of 5 rows.
        v.push(Box::new(WgslTarget {
            max_rows: Some(5),
            ..Default::default()
        }));
        // Two workgroups per dispatch dimension: chunks where a chain dispatches in one
        // dimension, a second dimension where the linear kernel does.
        v.push(Box::new(WgslTarget {
            max_groups: Some(2),
            ..Default::default()
        }));
        // Linear models through the tiled dense kernel instead of the linear one.
        v.push(Box::new(WgslTarget {
            dense_linear: true,
            ..Default::default()
        }));
    }
    v
}

/// Predictions of `ir` on `target` compared with the IR's definition, at every batch size.
fn check(target: &dyn Target, ir: &ValidIr) -> Result<Option<String>, Error> {
    let mut ours = target.load(ir)?;
    let mut rng = Rng::new(11);
    for n in BATCHES {
        let x = values(&mut rng, n * ir.n_features, 2.0);
        let want = tradeoff_ir::ir::eval(ir, &x, n);
        let got = predict_all(ours.as_mut(), &x, n)?;
        if let (_, Some(why)) = parity(&want, &got, ir.n_outputs, ir.classification) {
            return Ok(Some(format!("batch {n}: {why}")));
        }
    }
    Ok(None)
}

#[test]
fn every_target_matches_the_reference_on_every_family() {
    for target in targets() {
        for (name, ir) in fixtures() {
            match check(target.as_ref(), &ir) {
                Ok(None) => {}
                Ok(Some(why)) => panic!("{} on {name}: parity failed: {why}", target.id()),
                // Trees have no tensor form on burn and candle; everything else must run.
                Err(Error::Unsupported { .. })
                    if matches!(ir.body, Body::Trees { .. }) && target.id() != "wgsl" => {}
                Err(e) => panic!("{} on {name}: {e}", target.id()),
            }
        }
    }
}

#[test]
fn parity_catches_one_perturbed_weight_on_every_target() {
    /// A target that loads a copy of the model with one weight changed (by 1%, or 0.05 or
    /// 0.5 where that is a bias or a leaf).
    struct Perturbed<'a>(&'a dyn Target);
    impl Target for Perturbed<'_> {
        fn id(&self) -> &'static str {
            self.0.id()
        }
        fn device(&self) -> String {
            self.0.device()
        }
        fn load(
            &self,
            ir: &ValidIr,
        ) -> tradeoff_ir::Result<Box<dyn tradeoff_ir::target::Predictor>> {
            let mut ir = ir.clone().into_inner();
            match &mut ir.body {
                Body::Linear { weights, .. } => weights[0] *= 1.01,
                // The scores' first bias: tanh and sigmoid layers can flatten a change
                // made further in below the tolerance.
                Body::Mlp { layers, .. } => layers.last_mut().unwrap().bias[0] += 0.05,
                Body::Trees { trees, aggregation } => {
                    let leaf = trees[0]
                        .nodes
                        .iter_mut()
                        .rev()
                        .find(|n| n.is_leaf())
                        .unwrap();
                    if matches!(aggregation, Aggregation::Vote) {
                        leaf.value = ((leaf.value as usize + 1) % ir.n_outputs) as f32;
                    } else {
                        leaf.value += 0.5;
                    }
                }
            }
            self.0.load(&ir.validate()?)
        }
    }
    for target in targets() {
        for (name, ir) in fixtures() {
            let outcome = match check(&Perturbed(target.as_ref()), &ir) {
                Err(Error::Unsupported { .. }) if matches!(ir.body, Body::Trees { .. }) => continue,
                other => other.unwrap(),
            };
            assert!(
                outcome.is_some(),
                "{} on {name}: a perturbed weight went unnoticed",
                target.id()
            );
        }
    }
}

/// On a machine with a wgpu adapter (CI has lavapipe), burn's device and our own kernels'
/// classify it as `adapters()` does: a software adapter is labelled and never a GPU, a
/// hardware one is a GPU. Without any adapter there is nothing to classify here; the
/// classification itself is tested in `tradeoff-core` (`describe_adapter`).
#[test]
fn software_adapters_are_never_gpus() {
    let adapters = tradeoff_wgpu::adapters();
    if std::env::var_os("TRADEOFF_REQUIRE_WGPU").is_some() {
        assert!(
            !adapters.is_empty(),
            "TRADEOFF_REQUIRE_WGPU is set but no adapter was found"
        );
    }
    let check = |description: &str, kind: DeviceKind| {
        let soft = adapters
            .iter()
            .find(|a| description.starts_with(&a.name))
            .unwrap_or_else(|| panic!("{description} is not among {adapters:?}"))
            .software;
        if soft {
            assert_eq!(kind, DeviceKind::SoftwareGpu, "{description}");
            assert!(
                description.contains("[software adapter: not a GPU]"),
                "{description}"
            );
        } else {
            assert_eq!(kind, DeviceKind::Gpu, "{description}");
            assert!(!description.contains("software"), "{description}");
        }
    };
    if let Ok(d) = tradeoff_burn::device(BurnDevice::Wgpu) {
        check(&d.description, d.kind);
    }
    if tradeoff_wgpu::gpu().is_ok() {
        let t = WgslTarget::default();
        check(&t.device(), t.device_kind());
    }
}

#[test]
fn run_measures_every_target_with_parity() {
    let d = dir("targets");
    let mut args = vec![
        "run",
        "--dataset",
        "iris",
        "--candidates",
        "logistic,tree,mlp-s",
        "--targets",
        "cpu,burn-flex,candle-cpu,burn-wgpu",
    ];
    args.extend(quick_any_target());
    let o = tradeoff(&d, &args);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let recs = cells(&d);
    let wgpu = tradeoff_burn::device(BurnDevice::Wgpu).is_ok();
    for r in &recs {
        let (cand, target) = (
            r["candidate"].as_str().unwrap(),
            r["target"].as_str().unwrap(),
        );
        let status = r["status"].as_str().unwrap();
        if cand == "tree" && target != "cpu" || target == "burn-wgpu" && !wgpu {
            assert_eq!(status, "unsupported", "{r}");
            assert!(!r["reason"].as_str().unwrap().is_empty());
            continue;
        }
        assert_measured(r);
        assert!(r["parity_max_abs_err"].as_f64().unwrap() < 1e-3, "{r}");
        assert!(!r["device"].as_str().unwrap().is_empty());
    }
    let mlp = recs.iter().find(|r| r["candidate"] == "mlp-s").unwrap();
    assert_eq!(mlp["family"], "mlp");
    assert!(
        mlp["train_device"].as_str().unwrap().contains("Flex"),
        "{mlp}"
    );
    assert!(mlp["scores"]["accuracy"].as_f64().unwrap() > 0.7, "{mlp}");
}

#[test]
fn require_gpu_without_an_adapter_exits_5() {
    let d = dir("require-gpu");
    let o = std::process::Command::new(crate::util::bin())
        .args([
            "run",
            "--dataset",
            "iris",
            "--targets",
            "cpu,burn-wgpu",
            "--require-gpu",
        ])
        // Both loader variables: the newer one wins where a GPU machine sets it.
        .env("VK_ICD_FILENAMES", "/nonexistent")
        .env("VK_DRIVER_FILES", "/nonexistent")
        .env("WGPU_BACKEND", "vulkan")
        .current_dir(&d)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(5), "{}", stderr(&o));
    assert!(stderr(&o).contains("--require-gpu"), "{}", stderr(&o));
}
