//! `tradeoff run --suite suite.toml`: one file that fixes a whole comparison (data,
//! candidates, targets, batch sizes, protocol, measurement, budgets, prices, instance), so
//! every machine of a fleet runs the same one and the merged tables compare like with like.
//!
//! The suite fills in `RunArgs`; an option the user gives on the command line wins over the
//! suite's value (a fleet's machines share the suite and pass their own `--instance`). Paths
//! in the suite are relative to the suite file. Unknown keys and values of the wrong type are
//! rejected by the TOML reader with the line and column; values that parse but are not
//! allowed (`folds = 1`, an unknown candidate) are rejected by the same checks as the
//! command line, and the error names the suite key's line and column.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use clap::parser::ValueSource;
use clap::{ArgMatches, ValueEnum};
use serde::Deserialize;
use toml::Spanned;
use tradeoff_ir::Error;

use crate::cli::{MissingArg, RunArgs, TaskArg, TrainOn, UnseenArg};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SuiteFile {
    /// A name for the comparison, recorded in the manifest.
    name: Option<String>,
    /// Free text for the people who read the suite.
    #[allow(dead_code)]
    description: Option<String>,
    #[serde(default)]
    data: DataSection,
    #[serde(default)]
    protocol: ProtocolSection,
    #[serde(default)]
    measure: MeasureSection,
    #[serde(default)]
    budgets: BudgetSection,
    #[serde(default)]
    price: PriceSection,
    #[serde(default)]
    serve: ServeSection,
}

/// `run --scenarios` and its options.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ServeSection {
    scenarios: Option<Spanned<List>>,
    workers: Option<Spanned<Sizes>>,
    max_batch: Option<Spanned<Sizes>>,
    max_queue_delay: Option<Spanned<List>>,
    rows_per_request: Option<Spanned<usize>>,
    step_seconds: Option<Spanned<f64>>,
    offline_seconds: Option<Spanned<f64>>,
    traffic: Option<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct DataSection {
    dataset: Option<Spanned<String>>,
    file: Option<Spanned<PathBuf>>,
    target: Option<Spanned<String>>,
    test_file: Option<Spanned<PathBuf>>,
    delimiter: Option<Spanned<String>>,
    drop_columns: Option<Spanned<Vec<String>>>,
    task: Option<Spanned<String>>,
    missing: Option<Spanned<String>>,
    max_levels: Option<Spanned<usize>>,
    unseen_levels: Option<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProtocolSection {
    candidates: Option<Spanned<List>>,
    seed: Option<Spanned<u64>>,
    test_fraction: Option<Spanned<f64>>,
    folds: Option<Spanned<usize>>,
    trials: Option<Spanned<usize>>,
    time_cap: Option<Spanned<f64>>,
    train_on: Option<Spanned<String>>,
    /// Model files measured next to the candidates (`--model`), relative to the suite.
    models: Option<Spanned<Vec<PathBuf>>>,
    model_format: Option<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct MeasureSection {
    targets: Option<Spanned<List>>,
    batch_sizes: Option<Spanned<Sizes>>,
    preset: Option<Spanned<String>>,
    seconds: Option<Spanned<f64>>,
    max_cv: Option<Spanned<f64>>,
    max_cpu_wait: Option<Spanned<f64>>,
    require_gpu: Option<Spanned<bool>>,
    strict: Option<Spanned<bool>>,
    isolate: Option<Spanned<String>>,
    cell_timeout: Option<Spanned<f64>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct BudgetSection {
    slo_p99: Option<Spanned<String>>,
    slo_p50: Option<Spanned<String>>,
    tolerance: Option<Spanned<f64>>,
    max_memory: Option<Spanned<String>>,
    max_cost_per_million: Option<Spanned<f64>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct PriceSection {
    prices: Option<Spanned<PathBuf>>,
    instance: Option<Spanned<String>>,
    usd_per_hour: Option<Spanned<f64>>,
    utilization: Option<Spanned<f64>>,
    headroom: Option<Spanned<f64>>,
}

/// `"a,b"` or `["a", "b"]`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum List {
    One(String),
    Many(Vec<String>),
}

impl List {
    fn text(&self) -> String {
        match self {
            List::One(s) => s.clone(),
            List::Many(v) => v.join(","),
        }
    }
}

/// `"1,64"` or `[1, 64]`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Sizes {
    Text(String),
    Numbers(Vec<u64>),
}

/// A suite applied to the arguments: where each value came from, to point errors at it.
pub struct Applied {
    pub path: PathBuf,
    pub name: Option<String>,
    pub hash: String,
    /// Command-line option (`--folds`) to the suite key and its `line:column`.
    origins: BTreeMap<String, (String, String)>,
}

impl Applied {
    /// `suite.toml (name, fnv 1234abcd)`, for the manifest and the header.
    pub fn describe(&self) -> String {
        match &self.name {
            Some(n) => format!("{} ({n}, hash {})", self.path.display(), self.hash),
            None => format!("{} (hash {})", self.path.display(), self.hash),
        }
    }

    /// An option error about a value the suite supplied, rewritten to name the suite key's
    /// line and column; any other error is returned as it is.
    pub fn locate(&self, e: anyhow::Error) -> anyhow::Error {
        let option = match e.downcast_ref::<Error>() {
            Some(Error::Option { option, .. }) => option.clone(),
            _ => return e,
        };
        match self.origins.get(&option) {
            Some((key, at)) => e.context(format!("{}:{at}: {key}", self.path.display())),
            None => e,
        }
    }
}

fn suite_error(path: &Path, at: String, message: impl Into<String>) -> Error {
    Error::Suite {
        path: path.to_path_buf(),
        at,
        message: message.into(),
    }
}

/// 1-based line and column of a byte offset.
fn line_col(text: &str, offset: usize) -> String {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    format!("{line}:{col}")
}

/// Reads the suite at `path` into `args`, leaving alone every option the command line gave.
pub fn apply(path: &Path, args: &mut RunArgs, matches: &ArgMatches) -> Result<Applied, Error> {
    tradeoff_data::data::check_input_file(path).map_err(|e| match e {
        Error::Data { detail, .. } => suite_error(path, "1:1".into(), detail),
        other => other,
    })?;
    let text = std::fs::read_to_string(path).map_err(|e| Error::read(path, e))?;
    let suite: SuiteFile = toml::from_str(&text).map_err(|e| {
        let at = e.span().map_or("1:1".into(), |s| line_col(&text, s.start));
        suite_error(path, at, e.message().trim().replace('\n', "; "))
    })?;
    let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let mut applied = Applied {
        path: path.to_path_buf(),
        name: suite.name.clone(),
        hash: format!("{:016x}", tradeoff_ir::hash::fnv1a(text.as_bytes())),
        origins: BTreeMap::new(),
    };
    let given = |id: &str| matches.value_source(id) == Some(ValueSource::CommandLine);
    // Records where a value came from and says whether to take it (the command line wins).
    let mut take = |id: &str, flag: &str, key: &str, span: std::ops::Range<usize>| -> bool {
        if given(id) {
            return false;
        }
        applied
            .origins
            .insert(flag.into(), (key.into(), line_col(&text, span.start)));
        true
    };
    let enum_value = |key: &str, s: &Spanned<String>, allowed: &str| -> Error {
        suite_error(
            path,
            line_col(&text, s.span().start),
            format!("{key}: {:?} is not one of {allowed}", s.get_ref()),
        )
    };

    let d = &suite.data;
    // The data source is one choice: a command-line --data or --dataset replaces all of it.
    if !given("data") && !given("dataset") {
        if let (Some(ds), Some(f)) = (&d.dataset, &d.file) {
            return Err(suite_error(
                path,
                line_col(&text, ds.span().start),
                format!(
                    "data.dataset and data.file ({}) are both set; keep one",
                    line_col(&text, f.span().start)
                ),
            ));
        }
        if let Some(v) = &d.dataset {
            take("dataset", "--dataset", "data.dataset", v.span());
            args.data.dataset = Some(v.get_ref().clone());
        }
        if let Some(v) = &d.file {
            take("data", "--data", "data.file", v.span());
            args.data.data = Some(base.join(v.get_ref()));
            match &d.target {
                Some(t) => {
                    take("target", "--target", "data.target", t.span());
                    args.data.target = Some(t.get_ref().clone());
                }
                None if args.data.target.is_none() => {
                    return Err(suite_error(
                        path,
                        line_col(&text, v.span().start),
                        "data.file needs data.target (the column to predict)",
                    ))
                }
                None => {}
            }
            if let Some(t) = &d.test_file {
                take("test_data", "--test-data", "data.test_file", t.span());
                args.data.test_data = Some(base.join(t.get_ref()));
            }
        } else if let Some(t) = &d.test_file {
            return Err(suite_error(
                path,
                line_col(&text, t.span().start),
                "data.test_file needs data.file",
            ));
        }
    }
    if let Some(v) = &d.delimiter {
        if take("delimiter", "--delimiter", "data.delimiter", v.span()) {
            args.data.delimiter = v.get_ref().clone();
        }
    }
    if let Some(v) = &d.drop_columns {
        if take(
            "drop_columns",
            "--drop-column",
            "data.drop_columns",
            v.span(),
        ) {
            args.data.drop_columns = v.get_ref().clone();
        }
    }
    if let Some(v) = &d.task {
        if take("task", "--task", "data.task", v.span()) {
            args.data.task = TaskArg::from_str(v.get_ref(), false)
                .map_err(|_| enum_value("data.task", v, "auto, regression, classification"))?;
        }
    }
    if let Some(v) = &d.missing {
        if take("missing", "--missing", "data.missing", v.span()) {
            args.data.missing = MissingArg::from_str(v.get_ref(), false)
                .map_err(|_| enum_value("data.missing", v, "reject, drop, impute"))?;
        }
    }
    if let Some(v) = &d.max_levels {
        if take("max_levels", "--max-levels", "data.max_levels", v.span()) {
            args.data.max_levels = *v.get_ref();
        }
    }
    if let Some(v) = &d.unseen_levels {
        if take(
            "unseen_levels",
            "--unseen-levels",
            "data.unseen_levels",
            v.span(),
        ) {
            args.data.unseen_levels = UnseenArg::from_str(v.get_ref(), false)
                .map_err(|_| enum_value("data.unseen_levels", v, "ignore, error"))?;
        }
    }

    let p = &suite.protocol;
    if let Some(v) = &p.candidates {
        if take(
            "candidates",
            "--candidates",
            "protocol.candidates",
            v.span(),
        ) {
            args.protocol.candidates = Some(v.get_ref().text());
        }
    }
    if let Some(v) = &p.seed {
        if take("seed", "--seed", "protocol.seed", v.span()) {
            args.protocol.seed = *v.get_ref();
        }
    }
    if let Some(v) = &p.test_fraction {
        if take(
            "test_fraction",
            "--test-fraction",
            "protocol.test_fraction",
            v.span(),
        ) {
            args.protocol.test_fraction = *v.get_ref();
        }
    }
    if let Some(v) = &p.folds {
        if take("folds", "--folds", "protocol.folds", v.span()) {
            args.protocol.folds = *v.get_ref();
        }
    }
    if let Some(v) = &p.trials {
        if take("trials", "--trials", "protocol.trials", v.span()) {
            args.protocol.trials = *v.get_ref();
        }
    }
    if let Some(v) = &p.time_cap {
        if take("time_cap", "--time-cap", "protocol.time_cap", v.span()) {
            args.protocol.time_cap = *v.get_ref();
        }
    }
    if let Some(v) = &p.train_on {
        if take("train_on", "--train-on", "protocol.train_on", v.span()) {
            args.protocol.train_on = TrainOn::from_str(v.get_ref(), false)
                .map_err(|_| enum_value("protocol.train_on", v, "cpu, gpu"))?;
        }
    }
    if let Some(v) = &p.models {
        if take("models", "--model", "protocol.models", v.span()) {
            args.models = v.get_ref().iter().map(|m| base.join(m)).collect();
        }
    }
    if let Some(v) = &p.model_format {
        if take(
            "model_format",
            "--model-format",
            "protocol.model_format",
            v.span(),
        ) {
            if tradeoff_import::Format::parse(v.get_ref()).is_none() {
                return Err(enum_value(
                    "protocol.model_format",
                    v,
                    &tradeoff_import::Format::NAMES.join(", "),
                ));
            }
            args.model_format = Some(v.get_ref().clone());
        }
    }

    let m = &suite.measure;
    if let Some(v) = &m.targets {
        if take("targets", "--targets", "measure.targets", v.span()) {
            args.targets = Some(v.get_ref().text());
        }
    }
    if let Some(v) = &m.batch_sizes {
        if take(
            "batch_sizes",
            "--batch-sizes",
            "measure.batch_sizes",
            v.span(),
        ) {
            args.batch_sizes = match v.get_ref() {
                Sizes::Text(s) => s.clone(),
                Sizes::Numbers(n) => n.iter().map(u64::to_string).collect::<Vec<_>>().join(","),
            };
        }
    }
    if let Some(v) = &m.preset {
        if !given("quick") && !given("thorough") {
            match v.get_ref().as_str() {
                "quick" => args.measure.quick = true,
                "thorough" => args.measure.thorough = true,
                "default" => {}
                _ => return Err(enum_value("measure.preset", v, "quick, default, thorough")),
            }
        }
    }
    if let Some(v) = &m.seconds {
        if take(
            "measure_seconds",
            "--measure-seconds",
            "measure.seconds",
            v.span(),
        ) {
            args.measure.measure_seconds = Some(*v.get_ref());
        }
    }
    if let Some(v) = &m.max_cv {
        if take("max_cv", "--max-cv", "measure.max_cv", v.span()) {
            args.measure.max_cv = Some(*v.get_ref());
        }
    }
    if let Some(v) = &m.max_cpu_wait {
        if take(
            "max_cpu_wait",
            "--max-cpu-wait",
            "measure.max_cpu_wait",
            v.span(),
        ) {
            args.measure.max_cpu_wait = Some(*v.get_ref());
        }
    }
    if let Some(v) = &m.require_gpu {
        if take(
            "require_gpu",
            "--require-gpu",
            "measure.require_gpu",
            v.span(),
        ) {
            args.require_gpu = *v.get_ref();
        }
    }
    if let Some(v) = &m.strict {
        if take("strict", "--strict", "measure.strict", v.span()) {
            args.strict = *v.get_ref();
        }
    }
    if let Some(v) = &m.isolate {
        if take("isolate", "--isolate", "measure.isolate", v.span()) {
            args.isolate = match v.get_ref().as_str() {
                "gpu" => crate::cli::IsolateArg::Gpu,
                "all" => crate::cli::IsolateArg::All,
                "none" => crate::cli::IsolateArg::None,
                _ => return Err(enum_value("measure.isolate", v, "gpu, all, none")),
            };
        }
    }
    if let Some(v) = &m.cell_timeout {
        if take(
            "cell_timeout",
            "--cell-timeout",
            "measure.cell_timeout",
            v.span(),
        ) {
            args.cell_timeout = *v.get_ref();
        }
    }

    let b = &suite.budgets;
    if let Some(v) = &b.slo_p99 {
        if take("slo_p99", "--slo-p99", "budgets.slo_p99", v.span()) {
            args.budgets.slo_p99 = Some(v.get_ref().clone());
        }
    }
    if let Some(v) = &b.slo_p50 {
        if take("slo_p50", "--slo-p50", "budgets.slo_p50", v.span()) {
            args.budgets.slo_p50 = Some(v.get_ref().clone());
        }
    }
    if let Some(v) = &b.tolerance {
        if take("tolerance", "--tolerance", "budgets.tolerance", v.span()) {
            args.budgets.tolerance = *v.get_ref();
        }
    }
    if let Some(v) = &b.max_memory {
        if take("max_memory", "--max-memory", "budgets.max_memory", v.span()) {
            args.budgets.max_memory = Some(v.get_ref().clone());
        }
    }
    if let Some(v) = &b.max_cost_per_million {
        if take(
            "max_cost_per_million",
            "--max-cost-per-million",
            "budgets.max_cost_per_million",
            v.span(),
        ) {
            args.budgets.max_cost_per_million = Some(*v.get_ref());
        }
    }

    let pr = &suite.price;
    if let Some(v) = &pr.prices {
        if take("prices", "--prices", "price.prices", v.span()) {
            args.price.prices = Some(base.join(v.get_ref()));
        }
    }
    // A machine's own price on the command line replaces the suite's, whichever form it has.
    if !given("instance") && !given("usd_per_hour") {
        if let (Some(i), Some(u)) = (&pr.instance, &pr.usd_per_hour) {
            return Err(suite_error(
                path,
                line_col(&text, i.span().start),
                format!(
                    "price.instance and price.usd_per_hour ({}) are both set; keep one",
                    line_col(&text, u.span().start)
                ),
            ));
        }
        if let Some(v) = &pr.instance {
            take("instance", "--instance", "price.instance", v.span());
            args.price.instance = Some(v.get_ref().clone());
        }
        if let Some(v) = &pr.usd_per_hour {
            take(
                "usd_per_hour",
                "--usd-per-hour",
                "price.usd_per_hour",
                v.span(),
            );
            args.price.usd_per_hour = Some(*v.get_ref());
        }
    }
    if let Some(v) = &pr.utilization {
        if take(
            "utilization",
            "--utilization",
            "price.utilization",
            v.span(),
        ) {
            args.price.utilization = *v.get_ref();
        }
    }
    if let Some(v) = &pr.headroom {
        if take("headroom", "--headroom", "price.headroom", v.span()) {
            args.budgets.headroom = *v.get_ref();
        }
    }

    let sv = &suite.serve;
    // `[1, 64]` or `"1,64"` as numbers, the key named where one is not.
    let sizes = |key: &str, v: &Spanned<Sizes>| -> Result<Vec<usize>, Error> {
        match v.get_ref() {
            Sizes::Numbers(n) => Ok(n.iter().map(|&x| x as usize).collect()),
            Sizes::Text(t) => t
                .split(',')
                .map(|x| {
                    x.trim().parse::<usize>().map_err(|_| {
                        suite_error(
                            path,
                            line_col(&text, v.span().start),
                            format!("{key}: {x:?} is not a whole number"),
                        )
                    })
                })
                .collect(),
        }
    };
    if let Some(v) = &sv.scenarios {
        if take("scenarios", "--scenarios", "serve.scenarios", v.span()) {
            args.serve.scenarios = v
                .get_ref()
                .text()
                .split(',')
                .map(|x| {
                    crate::cli::ScenarioArg::from_str(x.trim(), false).map_err(|_| {
                        suite_error(
                            path,
                            line_col(&text, v.span().start),
                            format!("serve.scenarios: {x:?} is not one of offline, server"),
                        )
                    })
                })
                .collect::<Result<_, _>>()?;
        }
    }
    if let Some(v) = &sv.workers {
        if take("workers", "--workers", "serve.workers", v.span()) {
            args.serve.workers = sizes("serve.workers", v)?;
        }
    }
    if let Some(v) = &sv.max_batch {
        if take("max_batch", "--max-batch", "serve.max_batch", v.span()) {
            args.serve.max_batch = sizes("serve.max_batch", v)?;
        }
    }
    if let Some(v) = &sv.max_queue_delay {
        if take(
            "max_queue_delay",
            "--max-queue-delay",
            "serve.max_queue_delay",
            v.span(),
        ) {
            args.serve.max_queue_delay = v
                .get_ref()
                .text()
                .split(',')
                .map(|x| x.trim().to_string())
                .collect();
        }
    }
    if let Some(v) = &sv.rows_per_request {
        if take(
            "rows_per_request",
            "--rows-per-request",
            "serve.rows_per_request",
            v.span(),
        ) {
            args.serve.rows_per_request = *v.get_ref();
        }
    }
    if let Some(v) = &sv.step_seconds {
        if take(
            "step_seconds",
            "--step-seconds",
            "serve.step_seconds",
            v.span(),
        ) {
            args.serve.step_seconds = *v.get_ref();
        }
    }
    if let Some(v) = &sv.offline_seconds {
        if take(
            "offline_seconds",
            "--offline-seconds",
            "serve.offline_seconds",
            v.span(),
        ) {
            args.serve.offline_seconds = *v.get_ref();
        }
    }
    if let Some(v) = &sv.traffic {
        if take("traffic", "--traffic", "serve.traffic", v.span()) {
            args.serve.traffic = Some(v.get_ref().clone());
        }
    }
    Ok(applied)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_is_one_based() {
        let t = "a = 1\nbb = 2\n";
        assert_eq!(line_col(t, 0), "1:1");
        assert_eq!(line_col(t, 6), "2:1");
        assert_eq!(line_col(t, 11), "2:6");
    }
}
