//! One candidate from fitted model to records: train it (or take an imported model), score
//! it on the test rows with the `cpu` target checked against the IR's definition, then, on
//! each target, load it, check parity at every batch size and measure each cell.
//!
//! What ARCHITECTURE.md's invariants ask of a cell is enforced here and nowhere else: a
//! parity mismatch makes a cell invalid but it is still measured; a target that cannot run a
//! family is `unsupported`, one that fails is `failed`, and the run goes on; a figure that is
//! not finite is left out of the record with the reason.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use tradeoff_core::harness::{self, Clock, MeasureConfig};
use tradeoff_core::record::{
    CellRecord, Fit, ImportedFrom, Memory, ServingRecord, Status, PARITY_FAILED, SCHEMA_VERSION,
};
use tradeoff_data::data::{Dataset, Task};
use tradeoff_data::metrics::score;
use tradeoff_data::protocol::{self, Params, Protocol, Splits, Trainer, TuneOutcome};
use tradeoff_ir::ir::{self, ValidIr};
use tradeoff_ir::machine;
use tradeoff_ir::target::{predict_all, CpuTarget, Target};
use tradeoff_ir::{Error, Result};

use crate::registry::CandidateEntry;

/// Where the pipeline reports progress. The binary draws bars and prints lines; a library
/// caller may ignore it ([`Quiet`]).
pub trait Observer {
    /// What is happening now (replaces the previous state).
    fn update(&self, _what: &str) {}
    /// Progress through `total` steps of something.
    fn step(&self, _what: &str, _done: usize, _total: usize) {}
    /// A line worth keeping (a candidate's outcome, a failure).
    fn line(&self, _text: &str) {}
}

/// An observer that reports nothing.
pub struct Quiet;
impl Observer for Quiet {}

/// Who a candidate is, as its records name it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Identity {
    pub id: String,
    pub family: String,
    pub rank: u32,
    /// The library that fitted the model.
    pub library: String,
    /// The hardware that fitted it (none for a model fitted elsewhere).
    pub train_device: Option<String>,
}

impl Identity {
    /// A registered candidate with its trainer, for a task.
    pub fn of(entry: &CandidateEntry, trainer: &dyn Trainer, task: Task) -> Self {
        Identity {
            id: entry.id.into(),
            family: entry.family.into(),
            rank: entry.rank,
            library: trainer.library(task).into(),
            train_device: Some(trainer.train_device()),
        }
    }
}

/// What every record of a run shares.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunInfo {
    pub run_id: String,
    /// `host (cpu model)`.
    pub machine: String,
    pub instance: Option<String>,
    pub usd_per_hour: Option<f64>,
    /// The share of the instance's time spent serving (`--utilization`).
    pub utilization: f64,
    pub task: Task,
    pub metric: String,
    pub data_hash: String,
    pub fold_hash: String,
}

impl RunInfo {
    /// A record of `who` on `target` with nothing measured yet (batch size 0, status ok).
    pub fn base(&self, who: &Identity, target: &dyn Target) -> CellRecord {
        CellRecord {
            schema_version: SCHEMA_VERSION,
            run_id: self.run_id.clone(),
            candidate: who.id.clone(),
            family: who.family.clone(),
            target: target.id().into(),
            device: target.device(),
            device_kind: target.device_kind(),
            machine: self.machine.clone(),
            ladder_rank: who.rank,
            batch_size: 0,
            status: Status::Ok,
            reason: None,
            task: self.task.to_string(),
            primary_metric: self.metric.clone(),
            fit: Fit {
                library: who.library.clone(),
                ..Fit::default()
            },
            train_device: who.train_device.clone(),
            phases_ns: None,
            latency_ns: None,
            cold_ns: None,
            verdict: None,
            memory: None,
            throughput_rows_per_s: None,
            threads: None,
            parity_max_abs_err: None,
            peak_rss_bytes: None,
            instance: self.instance.clone(),
            usd_per_hour: self.usd_per_hour,
            utilization: self.usd_per_hour.map(|_| self.utilization),
            usd_per_million: None,
            data_hash: self.data_hash.clone(),
            fold_hash: self.fold_hash.clone(),
            absent: BTreeMap::new(),
            parity_rows: None,
            merged_from: Vec::new(),
            isolated: false,
        }
    }
}

/// Where records go: the run's results file, a test's vector.
pub type Sink<'a> = dyn FnMut(CellRecord) -> Result<()> + 'a;

/// Fills what every record carries last (the process's peak RSS when no phase measured
/// one) and hands it to the sink.
fn emit(sink: &mut Sink, mut r: CellRecord) -> Result<()> {
    if r.peak_rss_bytes.is_none() {
        let fit = r.memory.as_ref().and_then(|m| m.fit_peak_rss_bytes);
        let predict = r.memory.as_ref().and_then(|m| m.predict_peak_rss_bytes);
        r.peak_rss_bytes = fit.max(predict).or_else(machine::peak_rss_bytes);
    }
    if r.peak_rss_bytes.is_none() {
        r.absent.insert(
            "peak_rss_bytes".into(),
            "the OS does not report peak RSS".into(),
        );
    }
    sink(r)
}

/// How a fitted model came to be.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Origin {
    /// Tuned (or given fixed parameters) and refitted on the training part here.
    Trained { tune: TuneOutcome, fit_seconds: f64 },
    /// Fitted elsewhere and given to the engine as it is: no tuning, no fit here. `what`
    /// says where it came from (a file and its hash).
    Imported { from: ImportedFrom },
}

/// A fitted candidate and what every target's records of it share.
pub struct Fitted {
    pub ir: ValidIr,
    pub origin: Origin,
    /// Held-out scores of the `cpu` target's predictions on the test rows.
    pub scores: BTreeMap<String, f64>,
    /// The first test rows (see [`parity_rows`]) and what the model predicts for them by the
    /// IR's definition: the reference every target, `cpu` included, is checked against.
    pub parity_pool: Vec<f32>,
    pub reference: Vec<f32>,
    /// Peak RSS and heap of the fit phase (tuning and refit).
    pub fit_rss: Option<u64>,
    pub fit_heap: Option<u64>,
}

/// Test rows the IR's definition is evaluated on: up to 4,096, fewer for large models (about
/// a billion multiply-adds in all: some 300 rows of `mlp-l`), at least 256.
pub fn parity_rows(ir: &ValidIr, test_rows: usize) -> usize {
    let per_row = ir.size().parameters.max(1) as usize;
    (1_000_000_000 / per_row).clamp(256, 4096).min(test_rows)
}

/// The held-out scores of a model's `cpu` predictions on `ds` (unchecked: tuning and
/// learning curves score many models, and the `cpu` target's parity tests cover them).
pub fn score_on_cpu(ir: &ValidIr, ds: &Dataset) -> Result<BTreeMap<String, f64>> {
    let mut p = CpuTarget.load(ir)?;
    let predicted = predict_all(p.as_mut(), &ds.x, ds.n_rows)?;
    Ok(score(ds.task, ir.n_outputs, &predicted, &ds.y))
}

/// Scores a model on the test rows. Scores are those of the `cpu` target's predictions (what
/// ships on it), checked against the IR's definition on the parity rows first, so a score
/// never rests on a wrong answer.
fn checked(ir: ValidIr, origin: Origin, test: &Dataset) -> Result<Fitted> {
    let mut cpu = CpuTarget.load(&ir)?;
    let predicted = predict_all(cpu.as_mut(), &test.x, test.n_rows)?;
    let rows = parity_rows(&ir, test.n_rows);
    let parity_pool = test.x[..rows * test.n_features].to_vec();
    let reference = ir::eval(&ir, &parity_pool, rows);
    if let (_, Some(why)) = harness::parity(
        &reference,
        &predicted[..rows * ir.n_outputs],
        ir.n_outputs,
        ir.classification,
    ) {
        return Err(Error::Model(format!(
            "the cpu target's predictions on the test rows differ from the model's definition \
             (ir::eval): {why}; the scores would not be the model's (please report)"
        )));
    }
    let scores = score(test.task, ir.n_outputs, &predicted, &test.y);
    Ok(Fitted {
        ir,
        origin,
        scores,
        parity_pool,
        reference,
        fit_rss: None,
        fit_heap: None,
    })
}

/// The data a candidate is fitted and scored on.
pub struct Data<'a> {
    /// Every row the splits index (training part and, without a separate test file, the test
    /// rows); tuning's folds are drawn from it.
    pub all: &'a Dataset,
    pub train: &'a Dataset,
    pub test: &'a Dataset,
    pub splits: &'a Splits,
}

/// Tunes `trainer` (or takes `fixed`), refits it on the training part and scores it; the fit
/// phase's peak memory is recorded.
pub fn train(
    trainer: &dyn Trainer,
    data: &Data,
    protocol: &Protocol,
    fixed: Option<Params>,
    observer: &dyn Observer,
    label: &str,
) -> Result<Fitted> {
    machine::reset_peak_rss();
    let heap0 = machine::heap_phase_start();
    observer.update(&format!("{label}: tuning"));
    let tune = protocol::tune(
        trainer,
        data.all,
        data.splits,
        protocol,
        fixed,
        &mut |done, total| observer.step(&format!("{label}: tuning trials"), done, total),
    )?;
    tracing::info!(
        candidate = trainer.id(),
        trials = tune.trials_run,
        seconds = tune.tune_seconds,
        "tuned: {:?}",
        tune.params
    );
    observer.update(&format!("{label}: refitting on the training part"));
    let start = Instant::now();
    let ir = protocol::fit_guarded(trainer, data.train, &tune.params, protocol.seed)?;
    let fit_seconds = start.elapsed().as_secs_f64();
    let mut fitted = checked(ir, Origin::Trained { tune, fit_seconds }, data.test)?;
    fitted.fit_rss = machine::peak_rss_bytes();
    fitted.fit_heap = machine::heap_phase_peak(heap0);
    Ok(fitted)
}

/// A model fitted elsewhere, taken as it is: no tuning and no fit, scored on the test rows
/// like a trained one. `what` says where it came from, for its records.
pub fn import(ir: ValidIr, from: ImportedFrom, test: &Dataset) -> Result<Fitted> {
    if ir.n_features != test.n_features {
        return Err(Error::Model(format!(
            "the model takes {} features, the data has {}",
            ir.n_features, test.n_features
        )));
    }
    checked(ir, Origin::Imported { from }, test)
}

/// The rows cells are timed on: row-major features.
#[derive(Clone, Copy)]
pub struct Rows<'a> {
    pub x: &'a [f32],
    pub n_rows: usize,
    pub n_features: usize,
}

impl<'a> Rows<'a> {
    /// The feature rows of a dataset.
    pub fn of(ds: &'a Dataset) -> Self {
        Rows {
            x: &ds.x[..ds.n_rows * ds.n_features],
            n_rows: ds.n_rows,
            n_features: ds.n_features,
        }
    }

    fn row(&self, i: usize) -> &'a [f32] {
        &self.x[i * self.n_features..(i + 1) * self.n_features]
    }
}

/// One target's cells of a fitted candidate: what [`measure_on_target`] and an
/// [`Elsewhere`] measure.
#[derive(Clone, Copy)]
pub struct TargetCells<'a> {
    pub run: &'a RunInfo,
    pub who: &'a Identity,
    pub target: &'a dyn Target,
    pub fitted: &'a Fitted,
    /// The rows the cells are timed on (the test split).
    pub test: Rows<'a>,
    pub batch_sizes: &'a [usize],
}

/// How cells are measured.
#[derive(Clone, Copy)]
pub struct Measure<'a> {
    pub config: &'a MeasureConfig,
    pub clock: &'a Clock,
    /// The most a cell's timing buffers may take, and where that limit comes from: a batch
    /// size that needs more is `skipped` with the reason.
    pub memory_limit: Option<(u64, &'a str)>,
    /// Which targets [`evaluate`] measures in another process, and how.
    pub isolation: Option<&'a dyn Elsewhere>,
    /// Serving under load after the single-stream cells (`run --scenarios`), in this
    /// process only.
    pub serving: Option<Serve<'a>>,
}

/// The offline and server scenarios to measure, and where their records go.
#[derive(Clone, Copy)]
pub struct Serve<'a> {
    pub plan: &'a tradeoff_core::serving::Plan,
    pub emit: &'a dyn Fn(tradeoff_core::record::ServingRecord) -> Result<()>,
}

/// Measures a target's cells outside this process, with the same records as
/// [`measure_on_target`] (`isolate::Isolation` does it in a child process).
pub trait Elsewhere {
    /// Whether the cells of the target with this id are measured elsewhere.
    fn applies(&self, target: &str) -> bool;

    /// Measures the cells elsewhere; only the sink's errors stop it.
    fn measure(&self, cells: TargetCells, how: &Measure, sink: &mut Sink) -> Result<()>;
}

/// The record fields every cell of a fitted candidate shares.
fn fitted_base(run: &RunInfo, who: &Identity, target: &dyn Target, fitted: &Fitted) -> CellRecord {
    let mut base = run.base(who, target);
    let fit = Fit::new(&who.library, &fitted.scores, &fitted.ir, &mut base.absent);
    base.fit = match &fitted.origin {
        Origin::Trained { tune, fit_seconds } => fit.tuned_by(tune, *fit_seconds, &mut base.absent),
        Origin::Imported { from } => {
            for field in ["fit_seconds", "tune_seconds", "cv_score"] {
                base.absent.insert(
                    field.into(),
                    format!("imported, fitted outside tradeoff: {}", from.describe()),
                );
            }
            Fit {
                imported: Some(from.clone()),
                ..fit
            }
        }
    };
    base
}

/// Loads the fitted model on the target and measures each batch size, one record per cell
/// into `sink`; a target that cannot load it gives one record for the target (batch size
/// 0), `unsupported` or `failed`. Only the sink's errors stop it.
pub fn measure_on_target(
    cells: TargetCells,
    how: &Measure,
    observer: &dyn Observer,
    label: &str,
    sink: &mut Sink,
) -> Result<()> {
    let TargetCells {
        run,
        who,
        target,
        fitted,
        test,
        batch_sizes,
    } = cells;
    let mut base = fitted_base(run, who, target, fitted);
    let mut memory = Memory {
        fit_peak_rss_bytes: fitted.fit_rss,
        fit_heap_peak_bytes: fitted.fit_heap,
        device: if target.device_kind().is_gpu() {
            "unknown: this target does not report device memory".into()
        } else {
            "none: the target runs in host memory".into()
        },
        ..Memory::default()
    };
    base.memory = Some(memory.clone());
    machine::reset_peak_rss();
    let heap0 = machine::heap_phase_start();
    let heap_before_load = machine::heap_live_bytes();
    let mut predictor = match target.load(&fitted.ir) {
        Ok(p) => p,
        Err(e) => {
            // Unsupported (no form for this family, no device here) apart from a target
            // that failed while loading (an upload, a device error).
            base.status = if matches!(e, Error::Unsupported { .. }) {
                Status::Unsupported
            } else {
                Status::Failed
            };
            base.reason = Some(e.to_string());
            return emit(sink, base);
        }
    };
    match harness::cold_call(predictor.as_mut(), test.row(0)) {
        Ok(cold) => base.cold_ns = Some(cold),
        Err(e) => {
            base.status = Status::Failed;
            base.reason = Some(e.to_string());
            return emit(sink, base);
        }
    }
    // The target's outputs against the model's at batch size `b` (the cells', and before
    // serving, every call size the scenarios make).
    let parity = |p: &mut dyn tradeoff_ir::target::Predictor, b: usize| {
        harness::parity_at_batch(
            p,
            &fitted.parity_pool,
            test.n_features,
            &fitted.reference,
            b,
            fitted.ir.classification,
        )
    };
    let n_outputs = fitted.ir.n_outputs;
    for &b in batch_sizes {
        observer.update(&format!(
            "{label}: measuring on {} at batch {b}",
            target.id()
        ));
        let mut r = base.clone();
        r.batch_size = b;
        let need = harness::measure_bytes(test.n_rows, test.n_features, n_outputs, b);
        if let Some((limit, source)) = how.memory_limit.filter(|&(l, _)| need > l) {
            let gib = |v: u64| v as f64 / (1u64 << 30) as f64;
            r.status = Status::Skipped;
            r.reason = Some(format!(
                "batch {b} needs {:.2} GiB for its rows and outputs, more than the memory \
                 limit of {:.2} GiB ({source})",
                gib(need),
                gib(limit),
            ));
            emit(sink, r)?;
            continue;
        }
        // Parity at this batch size, before timing it.
        let mismatch = match parity(predictor.as_mut(), b) {
            Ok(check) => {
                r.parity_max_abs_err = r.finite("parity_max_abs_err", check.max_abs_err);
                r.parity_rows = Some(check.rows);
                check.mismatch
            }
            Err(e) => {
                r.status = Status::Failed;
                r.reason = Some(e.to_string());
                emit(sink, r)?;
                continue;
            }
        };
        // What serving at this batch size costs in host memory: the heap the predictor
        // keeps, plus one call's high-water above it, plus the call's rows in and out.
        let serving = {
            let x = harness::make_batch(&fitted.parity_pool, test.n_features, b);
            let mut out = vec![0.0f32; b * n_outputs];
            let io = ((x.len() + out.len()) * std::mem::size_of::<f32>()) as u64;
            let (called, live, call_peak) = machine::heap_high_water_of(|| {
                predictor.predict(&x, b, &mut out)?;
                predictor.sync()
            });
            match (called, live, heap_before_load, call_peak) {
                (Ok(()), Some(live), Some(before), Some(peak)) => {
                    Some(live.saturating_sub(before) as u64 + peak + io)
                }
                _ => None,
            }
        };
        r.threads = predictor.threads(b);
        if r.threads.is_none() {
            r.absent.insert(
                "threads".into(),
                "the target's runtime schedules its own thread pool".into(),
            );
        }
        match harness::measure(
            predictor.as_mut(),
            test.x,
            test.n_features,
            b,
            how.config,
            how.clock,
        ) {
            Ok(mut m) => {
                tracing::info!(
                    candidate = who.id.as_str(),
                    target = target.id(),
                    batch = b,
                    p50_ns = m.latency_ns.p50,
                    samples = m.latency_ns.n,
                    valid = m.verdict.valid,
                    "measured"
                );
                if let Some(why) = &mismatch {
                    // Still measured, so the user sees what the wrong answer would cost.
                    m.verdict.valid = false;
                    m.verdict
                        .reasons
                        .insert(0, format!("{PARITY_FAILED}: {why}"));
                }
                if !m.verdict.valid {
                    r.status = Status::Invalid;
                    r.reason = Some(m.verdict.reasons.join("; "));
                }
                for (name, why) in &m.withheld {
                    r.absent.insert(format!("latency_ns.{name}"), why.clone());
                }
                r.latency_ns = Some(m.latency_ns);
                r.verdict = Some(m.verdict);
                r.throughput_rows_per_s =
                    r.finite("throughput_rows_per_s", m.throughput_rows_per_s);
                if let (Some(usd), Some(rps)) = (r.usd_per_hour, r.throughput_rows_per_s) {
                    r.usd_per_million = tradeoff_report::cost::usd_per_million(
                        usd,
                        rps,
                        r.utilization.unwrap_or(1.0),
                    );
                }
            }
            Err(e) => {
                r.status = Status::Failed;
                r.reason = Some(e.to_string());
            }
        }
        if r.latency_ns.is_some() {
            // Device targets: the same call split into upload, compute and readback.
            match harness::measure_phases(
                predictor.as_mut(),
                test.x,
                test.n_features,
                b,
                Duration::from_secs(2),
            ) {
                Ok(p) => r.phases_ns = p,
                Err(e) => {
                    r.absent.insert("phases_ns".into(), e.to_string());
                }
            }
        }
        memory.device_after_predict = predictor.device_memory();
        if memory.device_after_predict.is_some() {
            memory.device = "the target runtime's memory pool, after measuring".into();
        }
        memory.predict_peak_rss_bytes = machine::peak_rss_bytes();
        memory.predict_heap_peak_bytes = machine::heap_phase_peak(heap0);
        memory.model_on_target_bytes = predictor.memory_bytes();
        memory.serving_bytes = serving;
        if serving.is_none() {
            r.absent.insert(
                "memory.serving_bytes".into(),
                "the heap is not counted here (no counting allocator), or the call failed".into(),
            );
        }
        r.memory = Some(memory.clone());
        emit(sink, r)?;
    }
    if let Some(serve) = how.serving {
        // Served only where the target predicts what the model does at every call size the
        // scenarios make (each max batch, each batch size), checked as the cells are.
        let mut sizes: Vec<usize> = batch_sizes
            .iter()
            .chain(&serve.plan.max_batch)
            .copied()
            .collect();
        sizes.sort_unstable();
        sizes.dedup();
        let mismatch = sizes
            .iter()
            .find_map(|&b| match parity(predictor.as_mut(), b) {
                Ok(check) => check.mismatch,
                Err(e) => Some(format!("at batch {b}: {e}")),
            });
        // Workers share the loaded model where the target can (`Predictor::fork`), else
        // each loads its own.
        let weights_shared = predictor.fork().is_some();
        let loaded = std::sync::Mutex::new(predictor);
        observer.update(&format!("{label}: serving under load on {}", target.id()));
        let make = || {
            let fork = loaded.lock().unwrap_or_else(|p| p.into_inner()).fork();
            match fork {
                Some(p) => Ok(p),
                None => target.load(&fitted.ir),
            }
        };
        let say = |what: &str| observer.update(&format!("{label}: {} {what}", target.id()));
        let plan = serve
            .plan
            .for_device(target.device_kind() != tradeoff_ir::target::DeviceKind::Cpu);
        let mut record = serving_record(&base, &plan);
        record.weights_shared = weights_shared;
        if let Some(why) = mismatch {
            record.reason = Some(format!(
                "not served: its predictions differ from the model's {why}"
            ));
            return (serve.emit)(record);
        }
        match tradeoff_core::serving::measure(&plan, &make, test.x, test.n_rows, batch_sizes, &say)
        {
            Ok(m) => {
                record.offline = m.offline;
                record.capacity = m.capacity;
            }
            Err(e) => record.reason = Some(e.to_string()),
        }
        (serve.emit)(record)?;
    }
    Ok(())
}

/// The serving record of the (candidate, target) of `base`, with nothing measured yet.
pub fn serving_record(base: &CellRecord, plan: &tradeoff_core::serving::Plan) -> ServingRecord {
    ServingRecord {
        schema_version: SCHEMA_VERSION,
        run_id: base.run_id.clone(),
        candidate: base.candidate.clone(),
        family: base.family.clone(),
        target: base.target.clone(),
        device: base.device.clone(),
        device_kind: base.device_kind,
        machine: base.machine.clone(),
        instance: base.instance.clone(),
        usd_per_hour: base.usd_per_hour,
        cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
        weights_shared: false,
        plan: plan.clone(),
        offline: Vec::new(),
        capacity: Vec::new(),
        reason: None,
    }
}

/// A candidate to evaluate: who it is, how it is fitted, and the cells still to measure.
pub struct Job<'a> {
    pub who: Identity,
    pub how: How<'a>,
    /// Each target with the batch sizes still to measure on it.
    pub cells: Vec<(&'a dyn Target, Vec<usize>)>,
}

/// How a job's model is obtained.
pub enum How<'a> {
    /// Tuned and fitted here by `trainer` (with the user's fixed parameters, if any).
    Train {
        trainer: &'a dyn Trainer,
        fixed: Option<Params>,
    },
    /// Fitted elsewhere: measured as it is.
    Import {
        ir: ValidIr,
        from: Box<ImportedFrom>,
    },
}

/// One candidate, whole: a candidate with no model for the task gives an `unsupported`
/// record per target, one whose fit or scoring fails a `failed` record per target (the
/// run goes on), any other is measured on each target.
#[allow(clippy::too_many_arguments)]
pub fn evaluate(
    run: &RunInfo,
    data: &Data,
    protocol: &Protocol,
    measure: &Measure,
    job: Job,
    observer: &dyn Observer,
    label: &str,
    sink: &mut Sink,
) -> Result<()> {
    let Job { who, how, cells } = job;
    let task = run.task;
    let fitted = match how {
        How::Train { trainer, fixed } => {
            if let Err(why) = trainer.supports(task) {
                observer.line(&format!("{label}: unsupported for {task}: {why}"));
                return each_target(run, &who, &cells, Status::Unsupported, &why, sink);
            }
            train(trainer, data, protocol, fixed, observer, label)
        }
        How::Import { ir, from } => import(ir, *from, data.test),
    };
    let fitted = match fitted {
        Ok(f) => f,
        Err(e) => {
            observer.line(&format!("{label}: failed: {e}"));
            return each_target(run, &who, &cells, Status::Failed, &e.to_string(), sink);
        }
    };
    observer.line(&describe(&fitted, protocol, &run.metric, label));
    for (k, (target, batches)) in cells.iter().enumerate() {
        observer.step(&format!("{label}: target {}", target.id()), k, cells.len());
        let target_cells = TargetCells {
            run,
            who: &who,
            target: *target,
            fitted: &fitted,
            test: Rows::of(data.test),
            batch_sizes: batches,
        };
        if let Some(isolation) = measure.isolation.filter(|i| i.applies(target.id())) {
            observer.update(&format!(
                "{label}: measuring on {} in its own process",
                target.id()
            ));
            isolation.measure(target_cells, measure, sink)?;
            continue;
        }
        measure_on_target(target_cells, measure, observer, label, sink)?;
    }
    Ok(())
}

/// One record per target, standing for all its cells (batch size 0): the candidate could
/// not be measured anywhere, for `reason`.
fn each_target(
    run: &RunInfo,
    who: &Identity,
    cells: &[(&dyn Target, Vec<usize>)],
    status: Status,
    reason: &str,
    sink: &mut Sink,
) -> Result<()> {
    for &(t, _) in cells {
        let mut r = run.base(who, t);
        r.status = status;
        r.reason = Some(reason.to_string());
        emit(sink, r)?;
    }
    Ok(())
}

/// `[1/8] gbm: 40 trials in 12.3s (cv 0.9731), test accuracy 0.9750, fit 0.214s`.
fn describe(fitted: &Fitted, protocol: &Protocol, metric: &str, label: &str) -> String {
    let test = fitted
        .scores
        .get(metric)
        .map_or("n/a".into(), |v| format!("{v:.4}"));
    match &fitted.origin {
        Origin::Trained { tune, fit_seconds } => format!(
            "{label}: {}, test {metric} {test}, fit {fit_seconds:.3}s",
            match (tune.tuned, tune.cv.as_ref()) {
                (true, Some(cv)) => format!(
                    "{} trials in {:.1}s{} (cv {:.4}{})",
                    tune.trials_run,
                    tune.tune_seconds,
                    if tune.stopped_by_time_cap {
                        ", stopped by the time cap"
                    } else {
                        ""
                    },
                    cv.mean,
                    if cv.folds.len() < protocol.folds {
                        format!(" on {} of {} folds", cv.folds.len(), protocol.folds)
                    } else {
                        String::new()
                    }
                ),
                _ => "fixed parameters".into(),
            },
        ),
        Origin::Imported { from } => {
            format!(
                "{label}: imported ({}), test {metric} {test}",
                from.describe()
            )
        }
    }
}
