//! The result schema: one JSON Lines record per measured cell, and a manifest per run.
//!
//! Records are appended and flushed as each cell completes, so an interrupted run keeps what
//! it measured. A number that is not finite is never written as `null`: the field is left
//! out and `absent` says why. The schema is documented in `docs/results.md`.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, OnceLock};

use serde::{Deserialize, Serialize};

pub use crate::harness::Phases;
use crate::harness::{Clock, Latency, MeasureConfig, Verdict};
use tradeoff_data::protocol::{Params, Protocol, TuneOutcome};
use tradeoff_ir::error::{Error, Result};
use tradeoff_ir::ir::ModelIr;
use tradeoff_ir::machine::Machine;
use tradeoff_ir::target::DeviceKind;

/// Bumped on any change to the records or [`Manifest`]. 2: the status `skipped`
/// (learning-curve sizes past a candidate's time budget). 3: the manifest's `args`, `cwd`
/// and `resumed_unix_s` (`run --resume`). 6: `imported` (`run --model`). 7: the manifest's
/// `finished_unix_s`. 8: the recommendation's `serving` (placed at `--traffic`).
pub const SCHEMA_VERSION: u32 = 8;

/// How a verdict reason about disagreeing predictions starts.
pub const PARITY_FAILED: &str = "parity failed";

/// Outcome of a cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Measured, predictions match the reference.
    Ok,
    /// Training or prediction failed; `reason` says how.
    Failed,
    /// The target cannot run this model family, or the candidate has no model for the task.
    Unsupported,
    /// Measured, but not a valid measurement: the predictions disagree with the reference
    /// beyond tolerance, or the timing is not trustworthy (unstable, preempted, too few
    /// samples); `reason` says which.
    Invalid,
    /// Deliberately not measured (a learning-curve size past the candidate's time budget);
    /// `reason` says why.
    Skipped,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Failed => "failed",
            Status::Unsupported => "unsupported",
            Status::Skipped => "skipped",
            Status::Invalid => "invalid",
        }
    }
}

/// One (candidate, target, batch size) cell.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CellRecord {
    pub schema_version: u32,
    pub run_id: String,
    pub candidate: String,
    pub family: String,
    pub target: String,
    pub device: String,
    pub device_kind: DeviceKind,
    /// The machine that measured the cell: CPU model and host name.
    pub machine: String,
    /// Rank in the ladder of simplicity (lower is simpler): linear models 0, tree 1, forest
    /// 2, boosting 3, then the MLPs.
    pub ladder_rank: u32,
    /// 0 when the cell never got as far as a batch size (failed or unsupported candidates).
    pub batch_size: usize,
    pub status: Status,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub reason: Option<String>,
    pub task: String,
    pub primary_metric: String,
    /// The fitted model: its library, scores, parameters, fit times and size.
    #[serde(flatten)]
    pub fit: Fit,
    /// Upload, compute and readback of device targets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phases_ns: Option<Phases>,
    /// The hardware that trained the model (fit time is measured there).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub train_device: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub latency_ns: Option<Latency>,
    /// First predict call after loading the model on the target, one row.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub cold_ns: Option<u64>,
    /// The harness's verdict on the measurement (absent when nothing was measured).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub verdict: Option<Verdict>,
    /// Memory per phase.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub memory: Option<Memory>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub throughput_rows_per_s: Option<f64>,
    /// Threads one call of this batch size ran on (the `cpu` target says; runtimes with their
    /// own pools do not, and `absent` says so).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub threads: Option<usize>,
    /// Largest absolute difference from the model's definition (`ir::eval`) over the rows
    /// this cell's parity check predicted at its batch size (`parity_rows`).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub parity_max_abs_err: Option<f64>,
    /// Rows the parity check predicted, in calls of this cell's batch size, before timing.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub parity_rows: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub peak_rss_bytes: Option<u64>,
    /// The price of the machine (`--instance` or `--usd-per-hour`), and what a million
    /// predictions cost at this cell's throughput: $/h / (rows/s x 3600 x utilization) x 1e6.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub instance: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub usd_per_hour: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub utilization: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub usd_per_million: Option<f64>,
    pub data_hash: String,
    pub fold_hash: String,
    /// Field name -> why it is missing (non-finite value, not measurable here).
    #[serde(skip_serializing_if = "BTreeMap::is_empty", default)]
    pub absent: BTreeMap<String, String>,
    /// A merged cell: the runs whose repeats of this cell it pools (every part, valid or
    /// not); empty for a cell one run measured.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub merged_from: Vec<String>,
    /// Measured in a child process of its own (`run --isolate`), not in the run's process:
    /// the memory figures are the child's, and per-call allocations meet a fresh heap there.
    #[serde(skip_serializing_if = "std::ops::Not::not", default)]
    pub isolated: bool,
}

/// Peak memory per phase; each phase starts from a reset. `None` is unknown, never 0.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Memory {
    /// Peak resident set of the process while tuning and refitting (Linux `VmHWM`).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub fit_peak_rss_bytes: Option<u64>,
    /// Peak resident set while loading the model on the target and measuring it.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub predict_peak_rss_bytes: Option<u64>,
    /// Heap high-water above the phase's starting point (counting allocator).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub fit_heap_peak_bytes: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub predict_heap_peak_bytes: Option<u64>,
    /// Bytes the model occupies on the target (the predictor's own report).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub model_on_target_bytes: Option<u64>,
    /// What serving this model at this cell's batch size costs in host memory, without the
    /// dataset or anything else the process holds: the heap the loaded predictor keeps (its
    /// model and scratch, counted from before loading it), the high-water of one call of this
    /// batch size above that, and the call's input and output rows. Counting allocator;
    /// device memory is apart (`device_after_predict`).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub serving_bytes: Option<u64>,
    /// Where device memory figures would come from, or why there are none.
    pub device: String,
    /// Device memory the target's runtime held after measuring (in use and reserved).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub device_after_predict: Option<tradeoff_ir::target::DeviceMemory>,
}

/// A fitted model as a record describes it: how it was chosen, how it scored, how big it
/// is. Every cell of a candidate and every learning-curve point carry one, flattened: its
/// fields sit at the top level of the record's JSON.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Fit {
    pub library: String,
    /// Held-out test metrics, by name.
    pub scores: BTreeMap<String, f64>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub cv_score: Option<CvScore>,
    pub params: Params,
    /// False when the user fixed the parameters (no search) or the model was imported.
    pub tuned: bool,
    pub trials: usize,
    /// Refit on the whole training part, after tuning.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub fit_seconds: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub tune_seconds: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub model_bytes: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub parameters: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub nodes: Option<u64>,
    /// Where a model fitted outside tradeoff came from (`run --model`); absent for models
    /// trained here.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub imported: Option<ImportedFrom>,
}

/// A model file a record's model was read from.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ImportedFrom {
    /// The path as given.
    pub file: String,
    /// `xgboost-json` or `lightgbm-text`.
    pub format: String,
    /// The producing library and its version where the file says (`xgboost 3.2.0`), else
    /// the library and the file format's version (`lightgbm, model format v4`).
    pub producer: String,
    /// The objective as the file names it.
    pub objective: String,
    /// FNV-1a 64 of the file's bytes, in hex: which file exactly.
    pub file_hash: String,
}

impl ImportedFrom {
    /// `xgboost 3.2.0 model m.json`.
    pub fn describe(&self) -> String {
        format!("{} model {}", self.producer, self.file)
    }
}

impl Fit {
    /// A model of `library` that scored `scores` on the test split; its size from `ir`.
    /// A score that is not finite is left out and `absent` says why.
    pub fn new(
        library: &str,
        scores: &BTreeMap<String, f64>,
        ir: &ModelIr,
        absent: &mut BTreeMap<String, String>,
    ) -> Fit {
        let size = ir.size();
        Fit {
            library: library.into(),
            scores: scores
                .iter()
                .filter(|(k, v)| finite(&format!("scores.{k}"), **v, absent).is_some())
                .map(|(k, v)| (k.clone(), *v))
                .collect(),
            model_bytes: Some(ir.serialized_bytes()),
            parameters: Some(size.parameters),
            nodes: Some(size.nodes),
            ..Fit::default()
        }
    }

    /// The same model, tuned and refit here: its cross-validated score, its parameters and
    /// how they were found, and the fit times (left out, with the reason, if not finite).
    pub fn tuned_by(
        mut self,
        tune: &TuneOutcome,
        fit_seconds: f64,
        absent: &mut BTreeMap<String, String>,
    ) -> Fit {
        self.cv_score = tune.cv.as_ref().map(|cv| CvScore {
            mean: cv.mean,
            std: cv.std,
            folds: cv.folds.len(),
        });
        self.params = tune.params.clone();
        self.tuned = tune.tuned;
        self.trials = tune.trials_run;
        self.fit_seconds = finite("fit_seconds", fit_seconds, absent);
        self.tune_seconds = finite("tune_seconds", tune.tune_seconds, absent);
        self
    }
}

/// `v` if finite; otherwise `None`, and `absent` says why `name` is missing.
pub fn finite(name: &str, v: f64, absent: &mut BTreeMap<String, String>) -> Option<f64> {
    if v.is_finite() {
        Some(v)
    } else {
        absent.insert(name.to_string(), format!("not finite ({v})"));
        None
    }
}

/// The cross-validated primary score of the chosen parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CvScore {
    pub mean: f64,
    /// Spread of the fold scores: population standard deviation (divided by `folds`).
    pub std: f64,
    pub folds: usize,
}

impl CvScore {
    /// Standard error of the mean: the fold scores' sample standard deviation over the square
    /// root of their number, `std / sqrt(folds - 1)`; infinite with one fold.
    pub fn standard_error(&self) -> f64 {
        if self.folds > 1 {
            self.std / ((self.folds - 1) as f64).sqrt()
        } else {
            f64::INFINITY
        }
    }
}

impl CellRecord {
    /// The runs this cell's figures come from: the ones it was merged from, or its own.
    pub fn source_runs(&self) -> Vec<String> {
        if self.merged_from.is_empty() {
            vec![self.run_id.clone()]
        } else {
            self.merged_from.clone()
        }
    }

    /// Whether the target's predictions disagreed with the reference in this cell.
    pub fn parity_failed(&self) -> bool {
        self.verdict
            .as_ref()
            .is_some_and(|v| v.reasons.iter().any(|w| w.starts_with(PARITY_FAILED)))
    }

    /// Whether the cell is a failure for a run's exit code: a candidate or target that
    /// failed, or predictions that disagree with the reference. A measurement judged invalid
    /// for timing reasons (unstable, preempted, too few samples) is marked and explained, and
    /// counts as a failure only when `strict`.
    pub fn is_failure(&self, strict: bool) -> bool {
        match self.status {
            Status::Failed => true,
            Status::Invalid => strict || self.parity_failed(),
            Status::Ok | Status::Unsupported | Status::Skipped => false,
        }
    }

    /// Sets an optional float field only if finite.
    pub fn finite(&mut self, name: &str, v: f64) -> Option<f64> {
        finite(name, v, &mut self.absent)
    }

    pub fn primary_score(&self) -> Option<f64> {
        self.fit.scores.get(&self.primary_metric).copied()
    }
}

/// One size of a candidate's learning curve (`tradeoff curve`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CurvePoint {
    pub schema_version: u32,
    pub run_id: String,
    pub candidate: String,
    pub family: String,
    pub task: String,
    pub primary_metric: String,
    pub status: Status,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub reason: Option<String>,
    /// Share of the training part used, and the rows that makes.
    pub train_fraction: f64,
    pub train_rows: usize,
    /// Rows each cross-validation fold's model trained on, on average: `train_rows` less one
    /// fold, `train_rows x (k - 1) / k`. The cross-validated score is of those models, so
    /// this is the learning curve's x axis. Absent in files before version 4.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub cv_train_rows: Option<f64>,
    /// The primary metric on each fold at this size.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub cv_folds: Vec<f64>,
    /// The model refit on this size: its library, held-out scores, parameters, fit times
    /// and size.
    #[serde(flatten)]
    pub fit: Fit,
    pub target: String,
    pub batch_size: usize,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub latency_ns: Option<Latency>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub throughput_rows_per_s: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub peak_rss_bytes: Option<u64>,
    pub data_hash: String,
    /// Hash of this size's subset of the training rows and their folds.
    pub fold_hash: String,
    #[serde(skip_serializing_if = "BTreeMap::is_empty", default)]
    pub absent: BTreeMap<String, String>,
}

/// What else shaped the measurements, recorded in the manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Environment {
    pub simd: Vec<String>,
    /// 1-minute load average when the run started: a busy machine skews every figure.
    pub load_average_1m: Option<f64>,
    /// `release` or `debug`.
    pub build_profile: String,
    /// Threads each runtime uses for training or prediction.
    pub threads: BTreeMap<String, usize>,
    pub clock: Clock,
    /// Median cost of one empty predict call through the harness, with grouping: what the
    /// harness adds to every figure.
    pub harness_overhead_ns: f64,
    /// Whether heap high-water marks are measured (the binary installs a counting allocator).
    pub heap_tracking: bool,
}

/// Describes one run: machine, versions, protocol, data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub schema_version: u32,
    /// `run` or `curve`.
    pub command: String,
    pub run_id: String,
    pub tool_version: String,
    pub git_commit: Option<String>,
    pub started_unix_s: u64,
    pub machine: Machine,
    pub environment: Environment,
    pub dataset: String,
    pub test_data: Option<String>,
    pub task: String,
    pub rows: usize,
    pub features: usize,
    pub train_rows: usize,
    pub test_rows: usize,
    pub missing_policy: String,
    /// Each text column's one-hot levels in feature order (`<other>` pools the rarest
    /// values and takes held-out values the training file did not have; `<missing>` is
    /// imputation's level), and what an unseen held-out value became (`ignore`, `error`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub one_hot: BTreeMap<String, Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unseen_levels: Option<String>,
    pub seed: u64,
    pub protocol: Protocol,
    pub measure: MeasureConfig,
    pub batch_sizes: Vec<usize>,
    pub data_hash: String,
    pub fold_hash: String,
    pub primary_metric: String,
    pub candidates: Vec<String>,
    pub targets: Vec<String>,
    /// Each measured target's hardware: CPU model, or adapter, graphics API and driver.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub target_devices: BTreeMap<String, String>,
    /// Every wgpu adapter found (name, backend, type, driver; software ones marked).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub adapters: Vec<String>,
    /// The suite file (`run --suite`) with its name and content hash, when one was used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suite: Option<String>,
    /// The command line after `tradeoff` and the directory it ran in: what `run --resume`
    /// runs again.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cwd: Option<String>,
    /// When `run --resume` took the run up again, each time (the run's records keep its
    /// `run_id`; `started_unix_s` stays the first start).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resumed_unix_s: Vec<u64>,
    /// When the run wrote its recommendation (absent while it runs, or if it was stopped):
    /// with `started_unix_s`, how long the machine ran, interruptions included.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_unix_s: Option<u64>,
    pub dependencies: BTreeMap<String, String>,
    pub warnings: Vec<String>,
}

/// One (candidate, target) served under load (`run --scenarios offline,server`): the
/// offline rates of each (workers, batch) and each server configuration's capacity under the
/// latency budget, with the steps that found it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServingRecord {
    pub schema_version: u32,
    pub run_id: String,
    pub candidate: String,
    pub family: String,
    pub target: String,
    pub device: String,
    pub device_kind: DeviceKind,
    pub machine: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub instance: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub usd_per_hour: Option<f64>,
    /// Logical cores of the machine (what `--workers` counts against).
    pub cores: usize,
    /// The workers share one loaded copy of the model (`Predictor::fork`: the `cpu` target);
    /// false where each worker loads its own.
    pub weights_shared: bool,
    pub plan: crate::serving::Plan,
    pub offline: Vec<crate::serving::Offline>,
    pub capacity: Vec<crate::serving::Capacity>,
    /// Why nothing was measured, where nothing was.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub reason: Option<String>,
}

impl ServingRecord {
    /// The server configuration with the highest capacity under the budget.
    pub fn best_capacity(&self) -> Option<&crate::serving::Capacity> {
        self.capacity
            .iter()
            .filter(|c| c.rps.is_some())
            .max_by(|a, b| a.rps.unwrap_or(0.0).total_cmp(&b.rps.unwrap_or(0.0)))
    }
}

/// Appends records to `results.jsonl`, one line and one flush per record.
pub struct RecordWriter {
    path: PathBuf,
    file: File,
    /// What opening found and set aside: a last line cut off by a full disk or a killed
    /// writer (see [`RecordWriter::open`]).
    pub recovered: Option<String>,
}

impl RecordWriter {
    /// Opens `dir/results.jsonl` for appending (earlier runs stay; records carry `run_id`).
    /// A last line without its newline (a write cut off) is moved to
    /// `results.jsonl.partial-<unix seconds>` and the file cut back to its last complete
    /// record, so the new records start on a line of their own; `recovered` says so.
    pub fn open(dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(dir).map_err(|e| Error::write(dir, e))?;
        let path = dir.join("results.jsonl");
        let recovered = set_aside_partial_line(&path)?;
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|e| Error::write(&path, e))?;
        Ok(RecordWriter {
            path,
            file,
            recovered,
        })
    }

    /// Creates `dir/results.jsonl` afresh (for derived results such as a merge, which can
    /// always be recomputed from their inputs).
    pub fn create(dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(dir).map_err(|e| Error::write(dir, e))?;
        let path = dir.join("results.jsonl");
        let file = File::create(&path).map_err(|e| Error::write(&path, e))?;
        Ok(RecordWriter {
            path,
            file,
            recovered: None,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one record as one line, flushed, under [`hold_writes`]. Only a [`Tagged`]
    /// value is written, so every line says its `kind`.
    pub fn write(&mut self, record: &impl Tagged) -> Result<()> {
        let mut line = serde_json::to_string(record).map_err(|e| Error::Model(e.to_string()))?;
        line.push('\n');
        let n = WRITTEN.fetch_add(1, Ordering::SeqCst);
        let fault = fault();
        let guard = hold_writes();
        let bytes = match fault {
            Some(Fault::StallMid(k)) if n == k => &line.as_bytes()[..line.len() / 2],
            _ => line.as_bytes(),
        };
        self.file
            .write_all(bytes)
            .and_then(|_| self.file.flush())
            .map_err(|e| Error::write(&self.path, e))?;
        drop(guard);
        match fault {
            Some(Fault::StallAfter(k)) if n + 1 == k => stall(),
            Some(Fault::StallMid(k)) if n == k => stall(),
            _ => Ok(()),
        }
    }
}

/// Every write of results and manifests holds this lock, so a process that stops on a
/// signal (`tradeoff`'s Ctrl-C handler takes it before exiting) never cuts a line.
static WRITES: Mutex<()> = Mutex::new(());

/// Holds back every record and manifest write while the guard lives.
pub fn hold_writes() -> MutexGuard<'static, ()> {
    WRITES
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Records written by this process, for [`fault`].
static WRITTEN: AtomicUsize = AtomicUsize::new(0);

/// A test-only fault, from the environment variable `TRADEOFF_FAULT`, so tests can stop a
/// run at a known point and kill it: `stall-after:N` stops for good once N records are
/// written, `stall-mid:N` writes half of record N + 1 and stops (a writer killed mid-line).
#[derive(Clone, Copy)]
enum Fault {
    StallAfter(usize),
    StallMid(usize),
}

fn fault() -> Option<Fault> {
    static FAULT: OnceLock<Option<Fault>> = OnceLock::new();
    *FAULT.get_or_init(|| {
        let v = std::env::var("TRADEOFF_FAULT").ok()?;
        let (kind, n) = v.split_once(':')?;
        let n = n.parse().ok()?;
        match kind {
            "stall-after" => Some(Fault::StallAfter(n)),
            "stall-mid" => Some(Fault::StallMid(n)),
            _ => None,
        }
    })
}

/// Stops this thread for good (the test then kills the process), writes released.
fn stall() -> ! {
    loop {
        std::thread::sleep(std::time::Duration::from_secs(3600));
    }
}

/// Writes `dir/manifest.json` (creating `dir`); an earlier run's manifest is kept as
/// `manifest-<run_id>.json`.
pub fn write_manifest(dir: &Path, m: &Manifest) -> Result<PathBuf> {
    std::fs::create_dir_all(dir).map_err(|e| Error::write(dir, e))?;
    let path = dir.join("manifest.json");
    if let Ok(old) = std::fs::read_to_string(&path) {
        if let Ok(old_m) = serde_json::from_str::<serde_json::Value>(&old) {
            if let Some(id) = old_m.get("run_id").and_then(|v| v.as_str()) {
                if id != m.run_id {
                    let keep = dir.join(format!("manifest-{id}.json"));
                    std::fs::rename(&path, &keep).map_err(|e| Error::write(&keep, e))?;
                }
            }
        }
    }
    let text = serde_json::to_string_pretty(m).map_err(|e| Error::Model(e.to_string()))?;
    write_atomically(&path, &(text + "\n"))?;
    Ok(path)
}

/// See [`RecordWriter::open`]: moves a cut-off last line of `path` aside and says where.
fn set_aside_partial_line(path: &Path) -> Result<Option<String>> {
    let Ok(bytes) = std::fs::read(path) else {
        return Ok(None); // no file yet
    };
    if bytes.is_empty() || bytes.ends_with(b"\n") {
        return Ok(None);
    }
    let keep = bytes.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
    let line = bytes[..keep].iter().filter(|b| **b == b'\n').count() + 1;
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let aside = path.with_file_name(format!("results.jsonl.partial-{stamp}"));
    std::fs::write(&aside, &bytes[keep..]).map_err(|e| Error::write(&aside, e))?;
    let f = OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(|e| Error::write(path, e))?;
    f.set_len(keep as u64).map_err(|e| Error::write(path, e))?;
    Ok(Some(format!(
        "{}: line {line} was cut off ({} bytes without a newline: a full disk or a killed \
         writer); moved to {} and the new records start on a line of their own",
        path.display(),
        bytes.len() - keep,
        aside.display()
    )))
}

/// Writes `text` to a temporary file beside `path`, then renames it over `path`: a full
/// disk or a killed process leaves the old file or the new one, never a cut one.
pub fn write_atomically(path: &Path, text: &str) -> Result<()> {
    let _guard = hold_writes();
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    let tmp = path.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
    let written = (|| {
        let mut f = File::create(&tmp)?;
        f.write_all(text.as_bytes())?;
        f.sync_all()
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(Error::write(path, e));
    }
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        Error::write(path, e)
    })
}

/// Reads every record of a `results.jsonl` file as JSON, with its line number (1-based). A
/// line that is not JSON (a write cut off, a damaged file) is skipped and named in
/// `damaged`, so every complete record is still read; a file none of whose lines is JSON is
/// an error naming the file and its first line.
pub fn read_records(
    path: &Path,
    damaged: &mut Vec<String>,
) -> Result<Vec<(usize, serde_json::Value)>> {
    tradeoff_data::data::check_input_file(path)?;
    let text = std::fs::read_to_string(path).map_err(|e| Error::read(path, e))?;
    parse_records(path, &text, damaged)
}

/// [`read_records`] of a file's text already read; `path` names it in messages.
pub fn parse_records(
    path: &Path,
    text: &str,
    damaged: &mut Vec<String>,
) -> Result<Vec<(usize, serde_json::Value)>> {
    let mut out = Vec::new();
    let mut first_error = None;
    for (i, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        match serde_json::from_str::<serde_json::Value>(line) {
            Ok(v) => {
                let version = v.get("schema_version").and_then(|n| n.as_u64());
                if let Some(n) = version.filter(|n| !(1..=u64::from(SCHEMA_VERSION)).contains(n)) {
                    return Err(Error::Data {
                        what: format!("{}, line {}", path.display(), i + 1),
                        detail: format!(
                            "schema version {n}, which this tradeoff ({}) does not read: it \
                             reads versions 1 to {SCHEMA_VERSION}; use the tradeoff that \
                             wrote the file, or a newer one",
                            env!("CARGO_PKG_VERSION")
                        ),
                    });
                }
                out.push((i + 1, v))
            }
            Err(e) => {
                damaged.push(format!(
                    "{}, line {}: not a JSON record ({e}); skipped",
                    path.display(),
                    i + 1
                ));
                first_error.get_or_insert(Error::Data {
                    what: format!("{}, line {}", path.display(), i + 1),
                    detail: e.to_string(),
                });
            }
        }
    }
    match first_error {
        Some(e) if out.is_empty() => Err(e),
        _ => Ok(out),
    }
}

/// A value that serializes as a whole record, `kind` included: the results file's one
/// record type (`tradeoff_report::record::Record`, a tagged enum of every kind) implements
/// it; the record structs themselves do not, so none is written without its kind.
pub trait Tagged: Serialize {}

/// The `kind` of a record read by [`read_records`].
fn kind_of(v: &serde_json::Value) -> Option<&str> {
    v.get("kind").and_then(|k| k.as_str())
}

/// Decodes one record read by [`read_records`]; errors name the file, line and kind.
pub fn decode<T: serde::de::DeserializeOwned>(
    path: &Path,
    line: usize,
    v: serde_json::Value,
) -> Result<T> {
    let kind = kind_of(&v).unwrap_or("unknown").to_string();
    serde_json::from_value(v).map_err(|e| Error::Data {
        what: format!("{}, line {line}", path.display()),
        detail: format!("not a {kind} record of schema version {SCHEMA_VERSION}: {e}"),
    })
}

/// Decodes a cell record and checks its latency histogram ([`check_histogram`]).
pub fn decode_cell(path: &Path, line: usize, v: serde_json::Value) -> Result<CellRecord> {
    let cell: CellRecord = decode(path, line, v)?;
    check_histogram(path, line, &cell)?;
    Ok(cell)
}

/// Checks that a cell's latency histogram reads back (merge adds them), so a damaged one is
/// named by file and line when it is read rather than failing a merge later.
pub fn check_histogram(path: &Path, line: usize, cell: &CellRecord) -> Result<()> {
    if let Some(l) = &cell.latency_ns {
        crate::harness::decode_histogram(&l.histogram).map_err(|e| Error::Data {
            what: format!("{}, line {line}", path.display()),
            detail: e.to_string(),
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    impl Tagged for serde_json::Value {}

    #[test]
    fn a_cut_off_last_line_is_set_aside_before_appending() {
        let dir = std::env::temp_dir().join(format!("tradeoff-partial-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("results.jsonl");
        std::fs::write(&path, "{\"kind\":\"a\"}\n{\"kind\":\"b\",\"cut").unwrap();
        let mut w = RecordWriter::open(&dir).unwrap();
        let note = w.recovered.clone().expect("the cut line is reported");
        assert!(note.contains("line 2 was cut off (16 bytes"), "{note}");
        w.write(&serde_json::json!({"kind": "c"})).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text, "{\"kind\":\"a\"}\n{\"kind\":\"c\"}\n");
        let aside: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| {
                e.file_name()
                    .to_string_lossy()
                    .starts_with("results.jsonl.partial-")
            })
            .collect();
        assert_eq!(aside.len(), 1);
        let fragment = std::fs::read_to_string(aside[0].path()).unwrap();
        assert_eq!(fragment, "{\"kind\":\"b\",\"cut");
        // A whole file is left alone.
        assert!(RecordWriter::open(&dir).unwrap().recovered.is_none());
    }
}
