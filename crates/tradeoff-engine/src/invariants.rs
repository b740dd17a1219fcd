//! ARCHITECTURE.md's invariants of a cell, each driven by a target or a trainer built to
//! break it.

use std::collections::BTreeMap;

use tradeoff_core::harness::{Clock, MeasureConfig};
use tradeoff_core::record::{CellRecord, ImportedFrom, Status, PARITY_FAILED};
use tradeoff_data::data::{synthetic, Dataset, Task};
use tradeoff_data::protocol::{ParamSpec, Params, Protocol, Splits, Trainer, TuneOutcome};
use tradeoff_ir::ir::{Body, Link, ModelIr, ValidIr, IR_VERSION};
use tradeoff_ir::target::{CpuTarget, Predictor, Target};
use tradeoff_ir::{Error, Result};

use crate::pipeline::*;

/// What a broken target does wrong.
#[derive(Clone, Copy)]
enum Fault {
    /// Every output off by one.
    WrongValues,
    /// No form for the family.
    NoForm,
    /// The device fails while loading.
    LoadFails,
    /// Every call of this many rows fails.
    CallFails(usize),
}

struct Broken(Fault);

impl Target for Broken {
    fn id(&self) -> &'static str {
        "broken"
    }
    fn device(&self) -> String {
        "a target built to fail".into()
    }
    fn load(&self, ir: &ValidIr) -> Result<Box<dyn Predictor>> {
        let err = |message: &str| Error::Target {
            target: "broken".into(),
            message: message.into(),
        };
        match self.0 {
            Fault::NoForm => Err(Error::Unsupported {
                target: "broken".into(),
                message: "no form for this family".into(),
            }),
            Fault::LoadFails => Err(err("the upload failed")),
            fault => Ok(Box::new(BrokenPredictor(CpuTarget.load(ir)?, fault))),
        }
    }
}

struct BrokenPredictor(Box<dyn Predictor>, Fault);

impl Predictor for BrokenPredictor {
    fn n_outputs(&self) -> usize {
        self.0.n_outputs()
    }
    fn predict(&mut self, x: &[f32], n_rows: usize, out: &mut [f32]) -> Result<()> {
        if let Fault::CallFails(n) = self.1 {
            if n == n_rows {
                return Err(Error::Target {
                    target: "broken".into(),
                    message: format!("a call of {n} rows failed"),
                });
            }
        }
        self.0.predict(x, n_rows, out)?;
        if let Fault::WrongValues = self.1 {
            out.iter_mut().for_each(|v| *v += 1.0);
        }
        Ok(())
    }
}

struct Fixture {
    all: Dataset,
    train: Dataset,
    test: Dataset,
    splits: Splits,
    run: RunInfo,
    clock: Clock,
    config: MeasureConfig,
}

impl Fixture {
    fn new() -> Self {
        let all = synthetic("synthetic:regression,rows=600,features=3").unwrap();
        let protocol = protocol();
        let splits = Splits::new(&all, &protocol, false).unwrap();
        Fixture {
            train: all.select(&splits.train),
            test: all.select(&splits.test),
            all,
            splits,
            run: RunInfo {
                run_id: "test".into(),
                machine: "here".into(),
                instance: None,
                usd_per_hour: None,
                utilization: 1.0,
                task: Task::Regression,
                metric: "r2".into(),
                data_hash: "d".into(),
                fold_hash: "f".into(),
            },
            clock: Clock::calibrate(),
            // Timing verdicts off: these tests are about what a fault does to a cell, not
            // about this machine's noise.
            config: MeasureConfig {
                max_cv: f64::INFINITY,
                max_cpu_wait: f64::INFINITY,
                ..MeasureConfig::quick()
            },
        }
    }

    fn data(&self) -> Data<'_> {
        Data {
            all: &self.all,
            train: &self.train,
            test: &self.test,
            splits: &self.splits,
        }
    }

    fn measure(&self) -> Measure<'_> {
        Measure {
            config: &self.config,
            clock: &self.clock,
            memory_limit: None,
            isolation: None,
            serving: None,
        }
    }

    /// A model fitted elsewhere: y = x0 - x1 + 0.5.
    fn model(&self) -> Fitted {
        let ir = ModelIr {
            ir_version: IR_VERSION,
            n_features: 3,
            n_outputs: 1,
            classification: false,
            standardize: None,
            body: Body::Linear {
                weights: vec![1.0, -1.0, 0.0],
                bias: vec![0.5],
                link: Link::Identity,
            },
        }
        .validate()
        .unwrap();
        import(ir, hand_written(), &self.test).unwrap()
    }

    /// The records of `fitted` measured on each target at batch sizes 1 and 7.
    fn cells(&self, fitted: &Fitted, targets: &[&dyn Target], how: &Measure) -> Vec<CellRecord> {
        let mut out = Vec::new();
        for t in targets {
            let cells = TargetCells {
                run: &self.run,
                who: &who(),
                target: *t,
                fitted,
                test: Rows::of(&self.test),
                batch_sizes: &[1, 7],
            };
            measure_on_target(cells, how, &Quiet, "test", &mut |r| {
                out.push(r);
                Ok(())
            })
            .unwrap();
        }
        out
    }
}

fn protocol() -> Protocol {
    Protocol {
        folds: 2,
        trials: 1,
        ..Protocol::default()
    }
}

fn who() -> Identity {
    Identity {
        id: "hand".into(),
        family: "linear".into(),
        rank: 0,
        library: "none".into(),
        train_device: None,
    }
}

fn of<'a>(cells: &'a [CellRecord], target: &str) -> Vec<&'a CellRecord> {
    cells.iter().filter(|c| c.target == target).collect()
}

#[test]
fn wrong_values_make_an_invalid_cell_that_is_still_measured() {
    let f = Fixture::new();
    let cells = f.cells(
        &f.model(),
        &[&Broken(Fault::WrongValues), &CpuTarget],
        &f.measure(),
    );
    let broken = of(&cells, "broken");
    assert_eq!(broken.len(), 2, "one cell per batch size");
    for c in broken {
        assert_eq!(c.status, Status::Invalid, "batch {}", c.batch_size);
        assert!(c.reason.as_deref().unwrap().starts_with(PARITY_FAILED));
        assert!(c.latency_ns.is_some(), "still measured");
        assert!(c.throughput_rows_per_s.is_some());
        assert!(c.parity_max_abs_err.unwrap() >= 0.99);
    }
    for c in of(&cells, "cpu") {
        assert_eq!(c.status, Status::Ok, "{:?}", c.reason);
        assert!(c.parity_max_abs_err.unwrap() < 1e-5);
    }
}

#[test]
fn a_target_without_a_form_is_unsupported_and_one_that_fails_to_load_is_failed() {
    let f = Fixture::new();
    let cells = f.cells(
        &f.model(),
        &[
            &Broken(Fault::NoForm),
            &Broken(Fault::LoadFails),
            &CpuTarget,
        ],
        &f.measure(),
    );
    // One record for the whole target (batch size 0), then the next target measured.
    assert_eq!(cells[0].status, Status::Unsupported);
    assert_eq!(cells[0].batch_size, 0);
    assert!(cells[0].reason.as_deref().unwrap().contains("no form"));
    assert_eq!(cells[1].status, Status::Failed);
    assert_eq!(cells[1].batch_size, 0);
    assert!(cells[1]
        .reason
        .as_deref()
        .unwrap()
        .contains("upload failed"));
    assert_eq!(of(&cells, "cpu").len(), 2);
    assert!(of(&cells, "cpu").iter().all(|c| c.latency_ns.is_some()));
}

#[test]
fn a_failing_call_fails_its_cell_and_the_others_are_measured() {
    let f = Fixture::new();
    let cells = f.cells(
        &f.model(),
        &[&Broken(Fault::CallFails(7)), &CpuTarget],
        &f.measure(),
    );
    let broken = of(&cells, "broken");
    assert_eq!(broken[0].batch_size, 1);
    assert!(broken[0].latency_ns.is_some(), "{:?}", broken[0].reason);
    assert_eq!(broken[1].batch_size, 7);
    assert_eq!(broken[1].status, Status::Failed);
    assert!(broken[1]
        .reason
        .as_deref()
        .unwrap()
        .contains("7 rows failed"));
    assert!(broken[1].latency_ns.is_none());
    assert_eq!(of(&cells, "cpu").len(), 2);
}

#[test]
fn a_figure_that_is_not_finite_is_left_out_with_the_reason() {
    let f = Fixture::new();
    let mut fitted = f.model();
    fitted.origin = Origin::Trained {
        tune: TuneOutcome {
            params: Params::new(),
            tuned: false,
            trials_run: 0,
            trials_failed: 0,
            stopped_by_time_cap: false,
            cv: None,
            tune_seconds: 1.0,
        },
        fit_seconds: f64::NAN,
    };
    fitted.scores.insert("r2".into(), f64::INFINITY);
    let cells = f.cells(&fitted, &[&CpuTarget], &f.measure());
    for c in &cells {
        assert_eq!(c.fit.fit_seconds, None);
        assert!(c.absent["fit_seconds"].contains("not finite"));
        assert_eq!(c.fit.tune_seconds, Some(1.0));
        assert!(!c.fit.scores.contains_key("r2"));
        assert!(c.absent["scores.r2"].contains("not finite"));
    }
}

#[test]
fn a_cell_over_the_memory_limit_is_skipped_with_the_reason() {
    let f = Fixture::new();
    let how = Measure {
        memory_limit: Some((1, "a test's limit")),
        ..f.measure()
    };
    let cells = f.cells(&f.model(), &[&CpuTarget], &how);
    assert_eq!(cells.len(), 2);
    for c in &cells {
        assert_eq!(c.status, Status::Skipped);
        assert!(c.reason.as_deref().unwrap().contains("a test's limit"));
        assert!(c.latency_ns.is_none());
    }
}

/// Where the test's imported model says it came from.
fn hand_written() -> ImportedFrom {
    ImportedFrom {
        file: "model.json".into(),
        format: "xgboost-json".into(),
        producer: "a hand-written model".into(),
        objective: "reg:squarederror".into(),
        file_hash: "0".into(),
    }
}

#[test]
fn an_imported_model_is_measured_without_tuning_and_says_so() {
    let f = Fixture::new();
    let cells = f.cells(&f.model(), &[&CpuTarget], &f.measure());
    for c in &cells {
        assert!(!c.fit.tuned);
        assert_eq!(c.fit.trials, 0);
        assert!(c.fit.cv_score.is_none());
        assert!(c.absent["fit_seconds"].contains("imported"));
        assert!(c.absent["fit_seconds"].contains("a hand-written model"));
        assert_eq!(c.fit.imported, Some(hand_written()));
        // y = x0 - x1 + 0.5 is the synthetic target's shape only by chance; the score is
        // computed, whatever it is.
        assert!(c.fit.scores.contains_key("r2"));
    }
    // A model for other data is refused before anything is measured.
    let mut other = f.model().ir.into_inner();
    other.n_features = 2;
    if let Body::Linear { weights, .. } = &mut other.body {
        weights.pop();
    }
    let err = import(other.validate().unwrap(), hand_written(), &f.test)
        .err()
        .unwrap();
    assert!(err.to_string().contains("takes 2 features"), "{err}");
}

/// A trainer whose library panics, and one with no model for the task.
struct Panics(bool);

impl Trainer for Panics {
    fn id(&self) -> &'static str {
        "panics"
    }
    fn family(&self) -> &'static str {
        "linear"
    }
    fn supports(&self, task: Task) -> std::result::Result<(), String> {
        match (self.0, task) {
            (true, _) => Ok(()),
            (false, _) => Err("no model for regression".into()),
        }
    }
    fn space(&self, _: Task) -> Vec<ParamSpec> {
        vec![]
    }
    fn fit(&self, _: &Dataset, _: &Params, _: u64) -> Result<ModelIr> {
        panic!("the library fell over")
    }
    fn library(&self, _: Task) -> &'static str {
        "none"
    }
}

#[test]
fn a_candidate_that_fails_or_does_not_apply_gives_a_record_per_target_and_the_run_goes_on() {
    let f = Fixture::new();
    let mut out = Vec::new();
    for applies in [true, false] {
        let trainer = Panics(applies);
        evaluate(
            &f.run,
            &f.data(),
            &protocol(),
            &f.measure(),
            Job {
                who: who(),
                how: How::Train {
                    trainer: &trainer,
                    fixed: Some(BTreeMap::new()),
                },
                cells: vec![(&CpuTarget, vec![1, 7]), (&Broken(Fault::NoForm), vec![1])],
            },
            &Quiet,
            "test",
            &mut |r| {
                out.push(r);
                Ok(())
            },
        )
        .unwrap();
    }
    let status: Vec<_> = out.iter().map(|c| (c.target.as_str(), c.status)).collect();
    assert_eq!(
        status,
        [
            ("cpu", Status::Failed),
            ("broken", Status::Failed),
            ("cpu", Status::Unsupported),
            ("broken", Status::Unsupported),
        ]
    );
    assert!(out[0]
        .reason
        .as_deref()
        .unwrap()
        .contains("the library fell over"));
    assert!(out[2]
        .reason
        .as_deref()
        .unwrap()
        .contains("no model for regression"));
}

/// A target whose predictions differ from the model's is not served under load: its serving
/// record says why and holds no figures. A sound target beside it is served.
#[test]
fn a_target_that_fails_parity_is_not_served_under_load() {
    use tradeoff_core::record::ServingRecord;
    let f = Fixture::new();
    let fitted = f.model();
    let plan = tradeoff_core::serving::Plan {
        offline: true,
        server: false,
        workers: vec![1],
        default_workers: false,
        max_batch: vec![4],
        max_queue_delay_ns: vec![0],
        rows_per_request: 1,
        budget: Default::default(),
        step_seconds: 0.1,
        offline_seconds: 0.02,
        precision: 0.05,
        seed: 1,
    };
    let served = std::cell::RefCell::new(Vec::new());
    let emit = |r: ServingRecord| {
        served.borrow_mut().push(r);
        Ok(())
    };
    let how = Measure {
        serving: Some(Serve {
            plan: &plan,
            emit: &emit,
        }),
        ..f.measure()
    };
    f.cells(&fitted, &[&CpuTarget, &Broken(Fault::WrongValues)], &how);
    let served = served.into_inner();
    assert_eq!(served.len(), 2);
    assert_eq!(served[0].reason, None);
    // Batches 1 and 7 (the cells') and 4 (the max batch), one worker.
    assert_eq!(served[0].offline.len(), 3, "{:?}", served[0].offline);
    let why = served[1].reason.as_deref().unwrap_or_default();
    assert!(
        why.starts_with("not served: its predictions differ from the model's at batch 1"),
        "{why}"
    );
    assert!(served[1].offline.is_empty() && served[1].capacity.is_empty());
}
