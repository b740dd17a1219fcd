//! A target's measurement in a child process: a driver that aborts, a native library that
//! segfaults or a poll that never returns takes down the child only. The parent records
//! what the child measured, and a `failed` record with the reason (the signal, the exit
//! status, the timeout) for every cell it did not, and the run goes on.
//!
//! The parent writes the job (the fitted model, the rows, the settings) to a file and starts
//! the command it is given with the file's path as its last argument; the binary's hidden
//! `measure-cells` command calls [`serve`], which measures and writes one record per line
//! to its stdout.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{mpsc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tradeoff_core::harness::{Clock, MeasureConfig};
use tradeoff_core::record::{CellRecord, ServingRecord, Status};
use tradeoff_ir::ir::ModelIr;
use tradeoff_ir::{Error, Result};

use crate::pipeline::*;
use crate::registry;

/// Everything a child needs to measure one (candidate, target): the rows travel beside it,
/// as raw little-endian `f32` (`<job>.x`).
#[derive(Serialize, Deserialize)]
struct CellJob {
    run: RunInfo,
    who: Identity,
    target: String,
    ir: ModelIr,
    origin: Origin,
    scores: std::collections::BTreeMap<String, f64>,
    parity_pool: Vec<f32>,
    reference: Vec<f32>,
    fit_rss: Option<u64>,
    fit_heap: Option<u64>,
    n_rows: usize,
    n_features: usize,
    batch_sizes: Vec<usize>,
    config: MeasureConfig,
    clock: Clock,
    memory_limit: Option<(u64, String)>,
    /// The scenarios to serve after the cells (`run --scenarios`), if any.
    #[serde(default)]
    serving: Option<tradeoff_core::serving::Plan>,
}

/// What the child writes, one JSON object a line: a cell record, a serving record
/// (`{"serving": ...}`) or progress (`{"progress": "..."}`, which also tells the parent the
/// child is alive while it serves under load, where no cell ends for minutes).
enum Line {
    Cell(Box<CellRecord>),
    Serving(Box<ServingRecord>),
    Progress,
}

fn parse_line(line: &str) -> std::result::Result<Line, String> {
    let v: serde_json::Value = serde_json::from_str(line).map_err(|e| e.to_string())?;
    if let Some(r) = v.get("serving") {
        return ServingRecord::deserialize(r)
            .map(|r| Line::Serving(Box::new(r)))
            .map_err(|e| e.to_string());
    }
    if v.get("progress").is_some() {
        return Ok(Line::Progress);
    }
    CellRecord::deserialize(v)
        .map(|r| Line::Cell(Box::new(r)))
        .map_err(|e| e.to_string())
}

/// Writes one line of the child's protocol to stdout, flushed.
fn write_line(v: &impl Serialize) -> Result<()> {
    let line = serde_json::to_string(v).map_err(|e| Error::Model(e.to_string()))?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}")
        .and_then(|()| out.flush())
        .map_err(|e| Error::Model(format!("writing to the parent: {e}")))
}

/// The child's observer: its progress, as lines the parent reads as a sign of life. (With
/// `TRADEOFF_FAULT=abort-serving:ID`, the child measuring target ID aborts as it starts
/// serving under load, after its cells: tests crash a child at that point.)
struct Heartbeat<'a> {
    target: &'a str,
}

impl Observer for Heartbeat<'_> {
    fn update(&self, what: &str) {
        if what.contains("serving under load")
            && std::env::var("TRADEOFF_FAULT").ok()
                == Some(format!("abort-serving:{}", self.target))
        {
            std::process::abort();
        }
        let _ = write_line(&serde_json::json!({ "progress": what }));
    }
}

/// The test-only fault switch for a child (`TRADEOFF_FAULT=abort-in:ID` or `hang-in:ID`):
/// the child measuring target ID aborts, or hangs, before it loads the model, so tests can
/// crash a target at a known point with a real signal.
fn injected_fault(target: &str) {
    let Ok(fault) = std::env::var("TRADEOFF_FAULT") else {
        return;
    };
    if fault == format!("abort-in:{target}") {
        std::process::abort();
    }
    if fault == format!("hang-in:{target}") {
        loop {
            std::thread::sleep(Duration::from_secs(3600));
        }
    }
}

/// The child's side: measures the job in `path` and writes each record as a line of JSON to
/// stdout, flushed as it completes.
pub fn serve(path: &Path) -> Result<()> {
    let read = |p: &Path| std::fs::read(p).map_err(|e| Error::read(p, e));
    let job: CellJob = serde_json::from_slice(&read(path)?).map_err(|e| Error::Data {
        what: path.display().to_string(),
        detail: format!("not a measurement job: {e}"),
    })?;
    let bytes = read(&rows_path(path))?;
    let x: Vec<f32> = bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    if x.len() != job.n_rows * job.n_features {
        return Err(Error::Data {
            what: rows_path(path).display().to_string(),
            detail: "the rows do not match the job".into(),
        });
    }
    let entry = registry::target(&job.target).ok_or_else(|| Error::Data {
        what: path.display().to_string(),
        detail: format!("unknown target {}", job.target),
    })?;
    injected_fault(entry.id);
    let target = entry.make();
    let fitted = Fitted {
        ir: job.ir.validate()?,
        origin: job.origin,
        scores: job.scores,
        parity_pool: job.parity_pool,
        reference: job.reference,
        fit_rss: job.fit_rss,
        fit_heap: job.fit_heap,
    };
    let emit = |r: ServingRecord| write_line(&serde_json::json!({ "serving": r }));
    let how = Measure {
        config: &job.config,
        clock: &job.clock,
        memory_limit: job.memory_limit.as_ref().map(|(l, s)| (*l, s.as_str())),
        isolation: None,
        serving: job.serving.as_ref().map(|plan| Serve { plan, emit: &emit }),
    };
    let rows = Rows {
        x: &x,
        n_rows: job.n_rows,
        n_features: job.n_features,
    };
    let cells = TargetCells {
        run: &job.run,
        who: &job.who,
        target: target.as_ref(),
        fitted: &fitted,
        test: rows,
        batch_sizes: &job.batch_sizes,
    };
    let heartbeat = Heartbeat { target: entry.id };
    measure_on_target(cells, &how, &heartbeat, "", &mut |r| write_line(&r))
}

fn rows_path(job: &Path) -> PathBuf {
    job.with_extension("x")
}

/// The job files of the children now running, for [`remove_job_files`].
static LIVE_JOBS: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// Removes the job files of every child now running. For a signal handler about to end the
/// process: no destructor runs after `exit`, and the files sit in the temporary directory.
pub fn remove_job_files() {
    let jobs = LIVE_JOBS.lock().unwrap_or_else(|p| p.into_inner());
    for job in jobs.iter() {
        let _ = std::fs::remove_file(job);
        let _ = std::fs::remove_file(rows_path(job));
    }
}

/// A job file and its rows, listed in [`LIVE_JOBS`] while they exist; dropping it removes both.
struct JobFiles(PathBuf);

impl JobFiles {
    fn new(path: PathBuf) -> JobFiles {
        LIVE_JOBS
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(path.clone());
        JobFiles(path)
    }
}

impl Drop for JobFiles {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
        let _ = std::fs::remove_file(rows_path(&self.0));
        LIVE_JOBS
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|p| *p != self.0);
    }
}

/// Whether a child was stopped by SIGHUP, SIGINT or SIGTERM: by the signal itself, or by
/// the binary's handler of them (exit status 130).
fn interrupted(status: std::process::ExitStatus) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if matches!(status.signal(), Some(1 | 2 | 15)) {
            return true;
        }
    }
    status.code() == Some(130)
}

/// How a child ended, in words: `killed by signal 11 (SIGSEGV)`, `exited with status 3`.
fn ended(status: std::process::ExitStatus) -> String {
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(sig) = status.signal() {
            let name = match sig {
                4 => " (SIGILL)",
                6 => " (SIGABRT)",
                7 => " (SIGBUS)",
                8 => " (SIGFPE)",
                9 => " (SIGKILL: out of memory, or killed)",
                11 => " (SIGSEGV)",
                15 => " (SIGTERM)",
                _ => "",
            };
            return format!("killed by signal {sig}{name}");
        }
    }
    match status.code() {
        Some(c) => format!("exited with status {c}"),
        None => "ended without a status".into(),
    }
}

/// Which targets are measured in a child process, and how children are started.
pub struct Isolation {
    /// A command that runs [`serve`] (the job file's path is appended).
    pub command: Box<dyn Fn() -> Command>,
    /// Where job files are written while a child runs.
    pub scratch: PathBuf,
    /// See [`Child::cell_timeout`].
    pub cell_timeout: Duration,
    /// The ids of the targets measured in a child.
    pub targets: Vec<String>,
}

impl Isolation {
    pub fn child(&self) -> Child<'_> {
        Child {
            command: (self.command)(),
            scratch: &self.scratch,
            cell_timeout: self.cell_timeout,
        }
    }
}

impl Elsewhere for Isolation {
    fn applies(&self, target: &str) -> bool {
        self.targets.iter().any(|t| t == target)
    }

    fn measure(&self, cells: TargetCells, how: &Measure, sink: &mut Sink) -> Result<()> {
        measure_in_child(self.child(), cells, how, sink)
    }
}

/// What the parent gives [`measure_in_child`].
pub struct Child<'a> {
    /// The command that runs [`serve`] (the job file's path is appended).
    pub command: Command,
    /// Where the job files are written (removed afterwards).
    pub scratch: &'a Path,
    /// The longest the child may go without finishing a cell (its first cell: loading
    /// included); past it the child is killed and the cells left are `failed`.
    pub cell_timeout: Duration,
}

/// [`measure_on_target`] in a child process. The records the child finished are the
/// records; if it crashed, ended early or passed the timeout, each batch size it did not
/// record gets a `failed` record saying how it ended (a child that cannot be started: each
/// cell, saying why). Only the sink's errors stop it.
pub fn measure_in_child(
    child: Child,
    cells: TargetCells,
    how: &Measure,
    sink: &mut Sink,
) -> Result<()> {
    let Child {
        mut command,
        scratch,
        cell_timeout,
    } = child;
    let job = CellJob {
        run: cells.run.clone(),
        who: cells.who.clone(),
        target: cells.target.id().into(),
        ir: (*cells.fitted.ir).clone(),
        origin: cells.fitted.origin.clone(),
        scores: cells.fitted.scores.clone(),
        parity_pool: cells.fitted.parity_pool.clone(),
        reference: cells.fitted.reference.clone(),
        fit_rss: cells.fitted.fit_rss,
        fit_heap: cells.fitted.fit_heap,
        n_rows: cells.test.n_rows,
        n_features: cells.test.n_features,
        batch_sizes: cells.batch_sizes.to_vec(),
        config: how.config.clone(),
        clock: *how.clock,
        memory_limit: how.memory_limit.map(|(l, s)| (l, s.to_string())),
        serving: how.serving.map(|s| s.plan.clone()),
    };
    let files = JobFiles::new(scratch.join(format!(
        "cell-{}-{}-{}.json",
        std::process::id(),
        cells.who.id,
        cells.target.id()
    )));
    let path = &files.0;
    // The job and its rows; a scratch directory that cannot take them fails this target's
    // cells (with the reason), not the run.
    let written = serde_json::to_vec(&job)
        .map_err(|e| e.to_string())
        .and_then(|bytes| std::fs::write(path, bytes).map_err(|e| e.to_string()))
        .and_then(|()| {
            let rows: Vec<u8> = cells.test.x.iter().flat_map(|v| v.to_le_bytes()).collect();
            std::fs::write(rows_path(path), rows).map_err(|e| e.to_string())
        });
    let mut served = false;
    let mut serve = |r: ServingRecord| -> Result<()> {
        served = true;
        match how.serving {
            Some(s) => (s.emit)(r),
            None => Ok(()),
        }
    };
    let outcome = match written {
        Ok(()) => supervise(&mut command, path, cell_timeout, sink, &mut serve),
        Err(e) => Ok((
            vec![],
            Some(format!(
                "could not be started: its job could not be written to {} ({e})",
                scratch.display()
            )),
        )),
    };
    drop(files);
    let (recorded, why) = outcome?;
    let Some(why) = why else {
        return Ok(());
    };
    // Cells measured, then the child ended while serving under load: the serving record
    // says how it ended (cells not measured say it below).
    let serve_only = cells.batch_sizes.is_empty();
    if let Some(s) = how
        .serving
        .filter(|_| !served && (!recorded.is_empty() || serve_only))
    {
        let mut base = cells.run.base(cells.who, cells.target);
        base.isolated = true;
        let mut r = serving_record(&base, s.plan);
        r.reason = Some(format!(
            "the target's process {why} before its serving record was written (--isolate)"
        ));
        (s.emit)(r)?;
    }
    // The target failed as a whole (before any record), or at the cells it did not finish.
    let mut base = cells.run.base(cells.who, cells.target);
    base.isolated = true;
    base.status = Status::Failed;
    base.reason = Some(format!(
        "the target's process {why}; the cells before it are kept (--isolate)"
    ));
    if serve_only {
        // Only serving was asked of it (a resumed run): its cells are recorded already.
        return Ok(());
    }
    if recorded.is_empty() {
        return sink(base);
    }
    for &b in cells.batch_sizes.iter().filter(|b| !recorded.contains(b)) {
        let mut r = base.clone();
        r.batch_size = b;
        sink(r)?;
    }
    Ok(())
}

/// Runs the child, hands each record it prints to `sink`, and returns the batch sizes
/// recorded and, when it did not end well, how it ended.
fn supervise(
    command: &mut Command,
    job: &Path,
    cell_timeout: Duration,
    sink: &mut Sink,
    serve: &mut dyn FnMut(ServingRecord) -> Result<()>,
) -> Result<(Vec<usize>, Option<String>)> {
    let child = command
        .arg(job)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) => return Ok((vec![], Some(format!("could not be started ({e})")))),
    };
    let stdout = child.stdout.take().expect("piped");
    let mut stderr = child.stderr.take().expect("piped");
    let (tx, rx) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    // The child's stderr, kept for the reason (its last lines say why it stopped).
    let errors = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    let mut recorded = Vec::new();
    let mut why = None;
    loop {
        match rx.recv_timeout(cell_timeout) {
            Ok(Ok(line)) => match parse_line(&line) {
                Ok(Line::Cell(mut r)) => {
                    recorded.push(r.batch_size);
                    r.isolated = true;
                    sink(*r)?;
                }
                Ok(Line::Serving(r)) => serve(*r)?,
                Ok(Line::Progress) => {}
                Err(e) => {
                    why = Some(format!("wrote a line that is not a record ({e})"));
                    let _ = child.kill();
                    break;
                }
            },
            Ok(Err(e)) => {
                why = Some(format!("could not be read ({e})"));
                let _ = child.kill();
                break;
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                why = Some(format!(
                    "finished no cell and reported no progress within {} s (--cell-timeout) \
                     and was killed",
                    cell_timeout.as_secs_f64()
                ));
                let _ = child.kill();
                break;
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    let status = child
        .wait()
        .map_err(|e| Error::Model(format!("waiting for the measuring process: {e}")))?;
    let _ = reader.join();
    let stderr = errors.join().unwrap_or_default();
    if interrupted(status) {
        // Ctrl-C or SIGTERM reaches the whole process group: the run's own handler is about
        // to stop it between two record writes. Give it that moment, so the cells left are
        // missing (and `--resume` measures them), not recorded as failed.
        std::thread::sleep(Duration::from_secs(1));
    }
    if why.is_none() && !status.success() {
        let last = stderr
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty() && !l.contains("XDG_RUNTIME_DIR"))
            .map(|l| format!(": {}", l.trim()))
            .unwrap_or_default();
        why = Some(format!("{}{last}", ended(status)));
    }
    Ok((recorded, why))
}
