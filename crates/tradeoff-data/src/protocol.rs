//! The fair protocol: one seed, one test split, one set of folds, equal tuning effort.
//!
//! Splits are drawn with our portable [`Rng`] and hashed, so every
//! candidate, on every machine, sees the same rows; records carry the hash as proof.

use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::data::{Dataset, Task};
use crate::metrics::{primary_metric, score};
use tradeoff_ir::error::{Error, Result};
use tradeoff_ir::hash::Hasher;
use tradeoff_ir::ir::{ModelIr, ValidIr};
use tradeoff_ir::rng::Rng;
use tradeoff_ir::target::{predict_all, CpuTarget, Target};

/// Longest tuning time cap accepted (a week).
pub const MAX_TIME_CAP_SECONDS: f64 = 7.0 * 24.0 * 3600.0;

/// The settings every candidate shares.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Protocol {
    pub seed: u64,
    /// Fraction of rows held out for the final test (ignored with `--test-data`).
    pub test_fraction: f64,
    /// Cross-validation folds used to score tuning trials.
    pub folds: usize,
    /// Random-search trials per candidate.
    pub trials: usize,
    /// Wall-clock cap on one candidate's tuning, in seconds.
    pub time_cap_seconds: f64,
}

impl Default for Protocol {
    fn default() -> Self {
        Protocol {
            seed: 42,
            test_fraction: 0.2,
            folds: 5,
            trials: 8,
            time_cap_seconds: 60.0,
        }
    }
}

impl Protocol {
    pub fn validate(&self) -> Result<()> {
        if !(self.test_fraction > 0.0 && self.test_fraction < 0.9) {
            return Err(Error::option(
                "--test-fraction",
                self.test_fraction.to_string(),
                "must be in (0, 0.9)",
            ));
        }
        if !(2..=50).contains(&self.folds) {
            return Err(Error::option(
                "--folds",
                self.folds.to_string(),
                "must be 2..=50",
            ));
        }
        if self.trials == 0 {
            return Err(Error::option("--trials", "0", "must be at least 1"));
        }
        if !(self.time_cap_seconds > 0.0 && self.time_cap_seconds <= MAX_TIME_CAP_SECONDS) {
            return Err(Error::option(
                "--time-cap",
                format!("{:?}", self.time_cap_seconds),
                format!("must be in (0, {MAX_TIME_CAP_SECONDS}] seconds"),
            ));
        }
        Ok(())
    }
}

/// Train/test rows and the cross-validation folds over the training rows.
#[derive(Debug, Clone)]
pub struct Splits {
    /// Row indices of the training part.
    pub train: Vec<usize>,
    /// Row indices of the test part (empty when the test set is a separate file).
    pub test: Vec<usize>,
    /// `fold_of[i]` is the validation fold of `train[i]`.
    pub fold_of: Vec<usize>,
    pub folds: usize,
    pub hash: String,
}

impl Splits {
    /// Draws the splits. With `external_test`, every row is training data.
    pub fn new(ds: &Dataset, p: &Protocol, external_test: bool) -> Result<Splits> {
        p.validate()?;
        let mut rng = Rng::derive(p.seed, "splits");
        // Strata: one per class, or one for regression.
        let n_strata = if ds.task.is_classification() {
            ds.n_classes()
        } else {
            1
        };
        let mut strata: Vec<Vec<usize>> = vec![vec![]; n_strata];
        for i in 0..ds.n_rows {
            let s = if ds.task.is_classification() {
                ds.y[i] as usize
            } else {
                0
            };
            strata[s].push(i);
        }
        let mut train = Vec::new();
        let mut test = Vec::new();
        let mut fold_of = Vec::new();
        // Folds are dealt round-robin within each stratum, continuing across strata, so fold
        // sizes differ by at most one and every class is spread over every fold.
        let mut next_fold = 0;
        for (s, rows) in strata.iter_mut().enumerate() {
            rng.shuffle(rows);
            let n_test = if external_test {
                0
            } else {
                ((rows.len() as f64) * p.test_fraction).round() as usize
            };
            let (te, tr) = rows.split_at(n_test.min(rows.len()));
            if ds.task.is_classification() && !tr.is_empty() && tr.len() < p.folds {
                return Err(Error::Data {
                    what: ds.source.clone(),
                    detail: format!(
                        "class {:?} has {} training row(s), fewer than the {} folds; lower --folds or merge rare classes",
                        ds.schema.classes[s],
                        tr.len(),
                        p.folds
                    ),
                });
            }
            test.extend_from_slice(te);
            for &r in tr {
                train.push(r);
                fold_of.push(next_fold);
                next_fold = (next_fold + 1) % p.folds;
            }
        }
        if train.len() < p.folds * 2 {
            return Err(Error::Data {
                what: ds.source.clone(),
                detail: format!(
                    "{} training rows are too few for {} folds",
                    train.len(),
                    p.folds
                ),
            });
        }
        if !external_test && test.is_empty() {
            return Err(Error::Data {
                what: ds.source.clone(),
                detail: "the test split is empty; raise --test-fraction or add rows".into(),
            });
        }
        let mut h = Hasher::new();
        h.write(ds.hash().as_bytes());
        for v in train.iter().chain(&test).chain(&fold_of) {
            h.write_u64(*v as u64);
        }
        Ok(Splits {
            train,
            test,
            fold_of,
            folds: p.folds,
            hash: h.hex(),
        })
    }

    /// A stratified share of the training rows, keeping each row's fold, for learning
    /// curves. Subsets are nested: a smaller fraction's rows are all in a larger one's, so a
    /// curve measures more data, not different data. Classification keeps at least one row of
    /// every class present.
    pub fn subset(&self, ds: &Dataset, fraction: f64, seed: u64) -> Splits {
        let mut rng = Rng::derive(seed, "curve-subset");
        let n_strata = if ds.task.is_classification() {
            ds.n_classes()
        } else {
            1
        };
        let mut strata: Vec<Vec<usize>> = vec![vec![]; n_strata];
        for (i, &r) in self.train.iter().enumerate() {
            let s = if ds.task.is_classification() {
                ds.y[r] as usize
            } else {
                0
            };
            strata[s].push(i);
        }
        let mut keep = vec![false; self.train.len()];
        for rows in strata.iter_mut().filter(|r| !r.is_empty()) {
            rng.shuffle(rows);
            let n = ((rows.len() as f64 * fraction).round() as usize).clamp(1, rows.len());
            for &i in &rows[..n] {
                keep[i] = true;
            }
        }
        self.filtered(|i, _| keep[i])
    }

    /// The training rows that are in `rows` (dataset row indices), keeping their folds.
    pub fn restricted_to(&self, rows: &[usize]) -> Splits {
        let set: std::collections::HashSet<usize> = rows.iter().copied().collect();
        self.filtered(|_, r| set.contains(&r))
    }

    /// The training rows for which `keep(position in train, dataset row)` holds, with their
    /// folds, and a hash of the result.
    fn filtered(&self, keep: impl Fn(usize, usize) -> bool) -> Splits {
        let mut train = Vec::new();
        let mut fold_of = Vec::new();
        for (i, &r) in self.train.iter().enumerate() {
            if keep(i, r) {
                train.push(r);
                fold_of.push(self.fold_of[i]);
            }
        }
        let mut h = Hasher::new();
        h.write(self.hash.as_bytes());
        for v in train.iter().chain(&fold_of) {
            h.write_u64(*v as u64);
        }
        Splits {
            train,
            test: self.test.clone(),
            fold_of,
            folds: self.folds,
            hash: h.hex(),
        }
    }

    /// Indices into `train` for fold `k`: (fit part, validation part).
    pub fn fold(&self, k: usize) -> (Vec<usize>, Vec<usize>) {
        let mut fit = Vec::new();
        let mut val = Vec::new();
        for (i, &f) in self.fold_of.iter().enumerate() {
            if f == k {
                val.push(self.train[i]);
            } else {
                fit.push(self.train[i]);
            }
        }
        (fit, val)
    }
}

/// Hyperparameter values by name. Integers are stored as whole numbers.
pub type Params = BTreeMap<String, f64>;

/// One tunable hyperparameter.
#[derive(Debug, Clone, PartialEq)]
pub struct ParamSpec {
    pub name: &'static str,
    pub low: f64,
    pub high: f64,
    pub integer: bool,
    /// Sample uniformly in log space.
    pub log: bool,
}

impl ParamSpec {
    pub fn int(name: &'static str, low: f64, high: f64) -> Self {
        ParamSpec {
            name,
            low,
            high,
            integer: true,
            log: false,
        }
    }
    pub fn log_int(name: &'static str, low: f64, high: f64) -> Self {
        ParamSpec {
            name,
            low,
            high,
            integer: true,
            log: true,
        }
    }
    pub fn float(name: &'static str, low: f64, high: f64) -> Self {
        ParamSpec {
            name,
            low,
            high,
            integer: false,
            log: false,
        }
    }
    pub fn log_float(name: &'static str, low: f64, high: f64) -> Self {
        ParamSpec {
            name,
            low,
            high,
            integer: false,
            log: true,
        }
    }

    fn sample(&self, rng: &mut Rng) -> f64 {
        let u = rng.next_f64();
        let v = if self.log {
            (self.low.ln() + u * (self.high.ln() - self.low.ln())).exp()
        } else {
            self.low + u * (self.high - self.low)
        };
        if self.integer {
            v.round().clamp(self.low, self.high)
        } else {
            v
        }
    }

    /// Checks a user-fixed value against the space's bounds.
    pub fn check(&self, v: f64) -> std::result::Result<(), String> {
        if !v.is_finite() || v < self.low || v > self.high {
            return Err(format!(
                "{} must be in [{}, {}]",
                self.name, self.low, self.high
            ));
        }
        if self.integer && v.fract() != 0.0 {
            return Err(format!("{} must be a whole number", self.name));
        }
        Ok(())
    }
}

/// A candidate family's trainer: a search space and a fit that exports the IR.
pub trait Trainer {
    /// Candidate id: `linear`, `logistic`, `tree`, `forest`, `gbm`, ...
    fn id(&self) -> &'static str;
    /// Model family recorded in results: `linear`, `tree`, `forest`, `boosted_trees`, `mlp`.
    fn family(&self) -> &'static str;
    /// `Err(reason)` when the candidate has no model for the task.
    fn supports(&self, task: Task) -> std::result::Result<(), String>;
    /// The declared search space for a task.
    fn space(&self, task: Task) -> Vec<ParamSpec>;
    /// The library default this model has (scikit-learn's, where ours is the same model),
    /// for a fit on `rows` x `features`: tuning's first trial, so tuning can only improve on
    /// it. Inside [`Trainer::space`]. `None`: every trial is drawn.
    fn defaults(&self, _task: Task, _rows: usize, _features: usize) -> Option<Params> {
        None
    }
    /// Fits on `train` with `params` and exports the portable form.
    fn fit(&self, train: &Dataset, params: &Params, seed: u64) -> Result<ModelIr>;
    /// Name of the library that trains this candidate (recorded).
    fn library(&self, task: Task) -> &'static str;
    /// The hardware that trains it (recorded with the fit time).
    fn train_device(&self) -> String {
        format!("cpu: {}", tradeoff_ir::machine::cpu_model())
    }
}

/// Parses `key=value,key=value` for a candidate and checks it against the space.
pub fn parse_params(trainer: &dyn Trainer, task: Task, text: &str) -> Result<Params> {
    let space = trainer.space(task);
    let mut out = Params::new();
    for kv in text.split(',').filter(|s| !s.trim().is_empty()) {
        let bad = |reason: String| {
            Error::option("--candidates", format!("{}:{}", trainer.id(), text), reason)
        };
        let (k, v) = kv
            .split_once('=')
            .ok_or_else(|| bad(format!("{kv:?} is not key=value")))?;
        let spec = space.iter().find(|s| s.name == k.trim()).ok_or_else(|| {
            bad(format!(
                "unknown parameter {:?}; {} takes {}",
                k.trim(),
                trainer.id(),
                space.iter().map(|s| s.name).collect::<Vec<_>>().join(", ")
            ))
        })?;
        let v: f64 = v
            .trim()
            .parse()
            .map_err(|_| bad(format!("{v:?} is not a number")))?;
        spec.check(v).map_err(bad)?;
        out.insert(spec.name.to_string(), v);
    }
    // Unfixed parameters take the middle of their range, so a partial fix is still complete.
    for s in &space {
        out.entry(s.name.to_string()).or_insert_with(|| {
            let mid = if s.log {
                (s.low * s.high).sqrt()
            } else {
                (s.low + s.high) / 2.0
            };
            if s.integer {
                mid.round()
            } else {
                mid
            }
        });
    }
    Ok(out)
}

/// What tuning found.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TuneOutcome {
    pub params: Params,
    /// Whether the parameters were searched (false when the user fixed them).
    pub tuned: bool,
    pub trials_run: usize,
    pub trials_failed: usize,
    pub stopped_by_time_cap: bool,
    /// The primary metric over the folds, for the best trial (absent for fixed parameters).
    pub cv: Option<CvResult>,
    pub tune_seconds: f64,
}

thread_local! {
    static IN_GUARD: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Whether the current thread is inside [`fit_guarded`]; a panic hook can stay quiet then,
/// because the panic becomes a recorded failure rather than a crash.
pub fn in_guard() -> bool {
    IN_GUARD.with(|g| g.get())
}

/// Fits and turns a panic inside a library into an error, so one candidate cannot take the
/// run down; the fitted model is validated (an invalid export is the candidate's error).
pub fn fit_guarded(
    trainer: &dyn Trainer,
    train: &Dataset,
    params: &Params,
    seed: u64,
) -> Result<ValidIr> {
    match guarded(|| trainer.fit(train, params, seed)) {
        Ok(r) => r?.validate().map_err(|e| Error::Candidate {
            candidate: trainer.id().into(),
            message: format!("exported an invalid model: {e}"),
        }),
        Err(msg) => Err(Error::Candidate {
            candidate: trainer.id().into(),
            message: format!("the training library panicked: {msg}"),
        }),
    }
}

/// Runs `f`, a call into a library that may panic on what it is given, and returns the
/// panic's message instead of unwinding further; the panic hook stays quiet meanwhile
/// ([`in_guard`]).
pub fn guarded<T>(f: impl FnOnce() -> T) -> std::result::Result<T, String> {
    IN_GUARD.with(|g| g.set(true));
    let caught = catch_unwind(AssertUnwindSafe(f));
    IN_GUARD.with(|g| g.set(false));
    caught.map_err(|payload| {
        payload
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "unknown panic".into())
    })
}

/// Cross-validated primary metric of one parameter set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CvResult {
    pub mean: f64,
    pub std: f64,
    /// The metric on each fold, in fold order.
    pub folds: Vec<f64>,
}

/// Cross-validates one parameter set on the splits' folds.
pub fn cross_validate(
    trainer: &dyn Trainer,
    ds: &Dataset,
    splits: &Splits,
    params: &Params,
    seed: u64,
) -> Result<CvResult> {
    cross_validate_until(trainer, ds, splits, params, seed, None, 0)
}

/// Cross-validates, stopping when `deadline` passes between two folds once `min_folds` folds
/// are scored: the result then holds fewer folds than the splits have (possibly none, when
/// `min_folds` is 0; its mean is then NaN).
pub fn cross_validate_until(
    trainer: &dyn Trainer,
    ds: &Dataset,
    splits: &Splits,
    params: &Params,
    seed: u64,
    deadline: Option<Instant>,
    min_folds: usize,
) -> Result<CvResult> {
    let metric = primary_metric(ds.task);
    let mut values = Vec::with_capacity(splits.folds);
    for k in 0..splits.folds {
        if k >= min_folds && deadline.is_some_and(|d| Instant::now() > d) {
            break;
        }
        let (fit_rows, val_rows) = splits.fold(k);
        // `--missing impute`: each fold's model sees values imputed from its own fitting
        // rows, never from the fold it is scored on.
        let refilled;
        let ds = if ds.imputed.is_empty() {
            ds
        } else {
            let mut d = ds.clone();
            d.impute_from(&fit_rows);
            refilled = d;
            &refilled
        };
        let train = ds.select(&fit_rows);
        let val = ds.select(&val_rows);
        let ir = fit_guarded(trainer, &train, params, seed)?;
        let mut p = CpuTarget.load(&ir)?;
        let pred = predict_all(p.as_mut(), &val.x, val.n_rows)?;
        let m = score(ds.task, ir.n_outputs, &pred, &val.y);
        values.push(*m.get(metric).unwrap_or(&f64::NAN));
    }
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let std = (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n).sqrt();
    Ok(CvResult {
        mean,
        std,
        folds: values,
    })
}

/// Random search over the trainer's space, scored by cross-validation on the shared folds,
/// within the protocol's trial count and time cap. The cap is checked before each trial and
/// between any two folds. A trial it cuts short is discarded, except the first to succeed:
/// that one stops after the fold during which the cap passed and keeps the score of the folds
/// it finished (at least one, so there is a model to refit; `cv.folds` says how many), so a
/// slow candidate costs the cap plus at most one fold's fit, not all its folds.
/// `on_trial(done, total)` reports progress.
pub fn tune(
    trainer: &dyn Trainer,
    ds: &Dataset,
    splits: &Splits,
    protocol: &Protocol,
    fixed: Option<Params>,
    on_trial: &mut dyn FnMut(usize, usize),
) -> Result<TuneOutcome> {
    let start = Instant::now();
    if let Some(params) = fixed {
        return Ok(TuneOutcome {
            params,
            tuned: false,
            trials_run: 0,
            trials_failed: 0,
            stopped_by_time_cap: false,
            cv: None,
            tune_seconds: 0.0,
        });
    }
    let space = trainer.space(ds.task);
    let mut rng = Rng::derive(protocol.seed, trainer.id());
    let mut best: Option<(Params, CvResult)> = None;
    let mut last_err = None;
    let (mut run, mut failed, mut capped) = (0, 0, false);
    let deadline = start + std::time::Duration::from_secs_f64(protocol.time_cap_seconds);
    // The library default, for a fold's training rows.
    let fold_rows = splits.train.len() * splits.folds.saturating_sub(1) / splits.folds.max(1);
    let mut defaults = trainer.defaults(ds.task, fold_rows, ds.n_features);
    for t in 0..protocol.trials {
        if t > 0 && Instant::now() > deadline {
            capped = true;
            break;
        }
        let drawn: Params = space
            .iter()
            .map(|s| (s.name.to_string(), s.sample(&mut rng)))
            .collect();
        // The first trial is the library default where the trainer has one (drawn all the
        // same, so the later trials are what they would be without it).
        let params = match (t, defaults.take()) {
            (0, Some(d)) => d,
            _ => drawn,
        };
        // Until a trial has succeeded, the cap may cut one short only after its first fold.
        let first = best.is_none();
        let cv = cross_validate_until(
            trainer,
            ds,
            splits,
            &params,
            protocol.seed,
            Some(deadline),
            usize::from(first),
        );
        match cv {
            Ok(cv) if cv.folds.len() < splits.folds => {
                capped = true;
                if first && cv.mean.is_finite() {
                    run += 1;
                    best = Some((params, cv));
                } else if first {
                    run += 1;
                    failed += 1;
                }
                on_trial(t + 1, protocol.trials);
                break;
            }
            Ok(cv) if cv.mean.is_finite() => {
                run += 1;
                if best.as_ref().is_none_or(|b| cv.mean > b.1.mean) {
                    best = Some((params, cv));
                }
            }
            Ok(_) => {
                run += 1;
                failed += 1;
            }
            Err(e) => {
                run += 1;
                failed += 1;
                last_err = Some(e);
            }
        }
        on_trial(t + 1, protocol.trials);
    }
    match best {
        Some((params, cv)) => Ok(TuneOutcome {
            params,
            tuned: true,
            trials_run: run,
            trials_failed: failed,
            stopped_by_time_cap: capped,
            cv: Some(cv),
            tune_seconds: start.elapsed().as_secs_f64(),
        }),
        None => Err(last_err.unwrap_or_else(|| Error::Candidate {
            candidate: trainer.id().into(),
            message: "every tuning trial produced a non-finite score".into(),
        })),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::synthetic;

    #[test]
    fn splits_are_stratified_deterministic_and_disjoint() {
        let ds = synthetic("synthetic:classification,rows=500,features=3,classes=3").unwrap();
        let p = Protocol::default();
        let a = Splits::new(&ds, &p, false).unwrap();
        let b = Splits::new(&ds, &p, false).unwrap();
        assert_eq!(a.hash, b.hash);
        assert_eq!(a.train.len() + a.test.len(), 500);
        let mut all: Vec<usize> = a.train.iter().chain(&a.test).copied().collect();
        all.sort();
        all.dedup();
        assert_eq!(all.len(), 500);
        // Each fold holds close to 1/k of each class.
        let counts = ds.class_counts();
        for k in 0..p.folds {
            let (_, val) = a.fold(k);
            for (c, &total) in counts.iter().enumerate() {
                let in_fold = val.iter().filter(|&&r| ds.y[r] as usize == c).count() as f64;
                let expect = total as f64 * (1.0 - p.test_fraction) / p.folds as f64;
                assert!(
                    (in_fold - expect).abs() <= 2.0,
                    "fold {k} class {c}: {in_fold} vs {expect}"
                );
            }
        }
        let other = Splits::new(&ds, &Protocol { seed: 7, ..p }, false).unwrap();
        assert_ne!(other.hash, a.hash);
    }

    #[test]
    fn subsets_are_nested_stratified_and_keep_folds() {
        let ds = synthetic("synthetic:classification,rows=1000,features=3,classes=3").unwrap();
        let p = Protocol::default();
        let s = Splits::new(&ds, &p, false).unwrap();
        let small = s.subset(&ds, 0.1, 1);
        let big = s.subset(&ds, 0.5, 1);
        assert!(
            (small.train.len() as f64 - 80.0).abs() <= 3.0,
            "{}",
            small.train.len()
        );
        assert!(small.train.iter().all(|r| big.train.contains(r)));
        for (i, r) in big.train.iter().enumerate() {
            let j = s.train.iter().position(|x| x == r).unwrap();
            assert_eq!(big.fold_of[i], s.fold_of[j]);
        }
        let full = s.subset(&ds, 1.0, 1);
        assert_eq!(full.train.len(), s.train.len());
        assert_ne!(small.hash, big.hash);
    }

    #[test]
    fn rare_class_is_an_error() {
        let mut ds = synthetic("synthetic:classification,rows=100,features=2").unwrap();
        for y in ds.y.iter_mut() {
            *y = 0.0;
        }
        ds.y[0] = 1.0;
        ds.y[1] = 1.0;
        let e = Splits::new(&ds, &Protocol::default(), false)
            .unwrap_err()
            .to_string();
        assert!(e.contains("fewer than the 5 folds"), "{e}");
    }

    /// A trainer with one parameter whose fits `fit` does, and whose default is `defaults`.
    struct Stub {
        id: &'static str,
        fit: fn(&Dataset, &Params) -> Result<ModelIr>,
        defaults: Option<fn(usize, usize) -> Params>,
    }

    /// A linear model that predicts `bias` whatever the row.
    fn constant(ds: &Dataset, bias: f32) -> ModelIr {
        ModelIr {
            ir_version: tradeoff_ir::ir::IR_VERSION,
            n_features: ds.n_features,
            n_outputs: 1,
            classification: false,
            standardize: None,
            body: tradeoff_ir::ir::Body::Linear {
                weights: vec![0.0; ds.n_features],
                bias: vec![bias],
                link: tradeoff_ir::ir::Link::Identity,
            },
        }
    }

    /// A trainer with a default of x = 0.25 whose score is best at exactly that value: it
    /// predicts the constant -|x - 0.25| * 1000, so R^2 is highest at the default.
    const DEFAULTED: Stub = Stub {
        id: "defaulted",
        fit: |ds, params| {
            let bias = -((params["x"] - 0.25).abs() as f32) * 1000.0;
            Ok(constant(ds, bias))
        },
        defaults: Some(|rows, features| {
            // A fold trains on 4/5 of the 80 training rows.
            assert_eq!((rows, features), (64, 2));
            [("x".to_string(), 0.25)].into()
        }),
    };

    #[test]
    fn the_first_trial_is_the_library_default() {
        let ds = synthetic("synthetic:regression,rows=100,features=2").unwrap();
        let p = Protocol {
            trials: 6,
            ..Protocol::default()
        };
        let splits = Splits::new(&ds, &p, false).unwrap();
        let out = tune(&DEFAULTED, &ds, &splits, &p, None, &mut |_, _| {}).unwrap();
        assert_eq!(out.params["x"], 0.25, "no drawn trial beats the default");
        assert_eq!(out.trials_run, 6);
    }
    impl Trainer for Stub {
        fn id(&self) -> &'static str {
            self.id
        }
        fn family(&self) -> &'static str {
            "linear"
        }
        fn supports(&self, _: Task) -> std::result::Result<(), String> {
            Ok(())
        }
        fn space(&self, _: Task) -> Vec<ParamSpec> {
            vec![ParamSpec::float("x", 0.0, 1.0)]
        }
        fn defaults(&self, _: Task, rows: usize, features: usize) -> Option<Params> {
            self.defaults.map(|d| d(rows, features))
        }
        fn fit(&self, ds: &Dataset, params: &Params, _: u64) -> Result<ModelIr> {
            (self.fit)(ds, params)
        }
        fn library(&self, _: Task) -> &'static str {
            "none"
        }
    }

    /// A trainer whose library panics on every fit.
    const PANICKING: Stub = Stub {
        id: "panicking",
        fit: |_, _| panic!("singular matrix"),
        defaults: None,
    };

    /// A trainer whose every fit takes at least 50 ms and gives a constant model.
    const SLOW: Stub = Stub {
        id: "slow",
        fit: |ds, _| {
            std::thread::sleep(std::time::Duration::from_millis(50));
            Ok(constant(ds, 1.0))
        },
        defaults: None,
    };

    /// The training sets the `RECORDING` stub saw: (column 0, column 1) of each row.
    static SEEN: std::sync::Mutex<Vec<Vec<(f32, f32)>>> = std::sync::Mutex::new(Vec::new());

    const RECORDING: Stub = Stub {
        id: "recording",
        fit: |ds, _| {
            let rows = (0..ds.n_rows)
                .map(|r| (ds.row(r)[0], ds.row(r)[1]))
                .collect();
            SEEN.lock().unwrap().push(rows);
            Ok(constant(ds, 0.0))
        },
        defaults: None,
    };

    #[test]
    fn each_fold_imputes_from_its_own_fitting_rows() {
        // Every fifth row's column 0 was missing (column 1 marks it) and holds a value no
        // fold's own rows would give it.
        let mut ds = synthetic("synthetic:regression,rows=100,features=2").unwrap();
        let missing: Vec<usize> = (0..100).step_by(5).collect();
        for r in 0..100 {
            let m = missing.contains(&r);
            ds.x[r * 2] = if m { 999.0 } else { r as f32 };
            ds.x[r * 2 + 1] = if m { 1.0 } else { 0.0 };
        }
        ds.imputed = vec![(0, missing)];
        let p = Protocol {
            folds: 4,
            ..Protocol::default()
        };
        let splits = Splits::new(&ds, &p, false).unwrap();
        SEEN.lock().unwrap().clear();
        cross_validate(&RECORDING, &ds, &splits, &Params::new(), 1).unwrap();
        let seen = SEEN.lock().unwrap().clone();
        assert_eq!(seen.len(), 4);
        for rows in &seen {
            let present: Vec<f32> = rows.iter().filter(|r| r.1 == 0.0).map(|r| r.0).collect();
            let mean = present.iter().map(|v| *v as f64).sum::<f64>() / present.len() as f64;
            for (v, marked) in rows {
                if *marked == 1.0 {
                    assert!(
                        (*v as f64 - mean).abs() < 1e-3,
                        "imputed {v}, the fold's mean {mean}"
                    );
                }
            }
        }
        // The folds' means differ: each learnt its own.
        assert!(seen.windows(2).any(|w| w[0] != w[1]));
    }

    #[test]
    fn a_panicking_library_becomes_an_error() {
        let ds = synthetic("synthetic:regression,rows=60,features=2").unwrap();
        let p = Protocol {
            trials: 3,
            folds: 2,
            ..Protocol::default()
        };
        let splits = Splits::new(&ds, &p, false).unwrap();
        let prev = std::panic::take_hook();
        std::panic::set_hook(Box::new(|_| {}));
        let e = tune(&PANICKING, &ds, &splits, &p, None, &mut |_, _| {}).unwrap_err();
        std::panic::set_hook(prev);
        assert!(!in_guard());
        let msg = e.to_string();
        assert!(
            msg.contains("candidate panicking: the training library panicked: singular matrix"),
            "{msg}"
        );
    }

    #[test]
    fn the_time_cap_stops_the_first_trial_after_a_fold() {
        let ds = synthetic("synthetic:regression,rows=100,features=2").unwrap();
        // Every fit sleeps 50 ms: the 80 ms cap has passed after two folds on any machine.
        let p = Protocol {
            trials: 4,
            folds: 5,
            time_cap_seconds: 0.08,
            ..Protocol::default()
        };
        let splits = Splits::new(&ds, &p, false).unwrap();
        let out = tune(&SLOW, &ds, &splits, &p, None, &mut |_, _| {}).unwrap();
        let cv = out.cv.unwrap();
        assert!(
            (1..=2).contains(&cv.folds.len()),
            "{} folds",
            cv.folds.len()
        );
        assert!(out.stopped_by_time_cap);
        assert_eq!((out.trials_run, out.trials_failed), (1, 0));
        // Without the cap, the first trial scores every fold.
        let p = Protocol {
            time_cap_seconds: 60.0,
            trials: 1,
            ..p
        };
        let out = tune(&SLOW, &ds, &splits, &p, None, &mut |_, _| {}).unwrap();
        assert_eq!(out.cv.unwrap().folds.len(), 5);
        assert!(!out.stopped_by_time_cap);
    }

    #[test]
    fn sampled_params_respect_bounds() {
        let mut rng = Rng::new(3);
        let s = ParamSpec::log_int("trees", 10.0, 200.0);
        for _ in 0..200 {
            let v = s.sample(&mut rng);
            assert!(s.check(v).is_ok(), "{v}");
        }
    }
}
