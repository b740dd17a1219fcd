//! What a person sees while a command works: progress bars on stderr (indicatif), log lines
//! (tracing, `-v`), and the switch that turns stdout's human text into one JSON summary
//! (`--json`).
//!
//! Bars are drawn only when both stdout and stderr are terminals and `--quiet` is not given:
//! piped or redirected output, CI logs and `--json | jq` never see escape codes. Plain
//! progress lines (a candidate finished, a warning) still go to stderr unless `--quiet`.

use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Whether stdout carries only the JSON summary (`--json`).
static JSON: AtomicBool = AtomicBool::new(false);

/// The bars on screen, so log lines can be printed above them rather than through them.
static BARS: Mutex<Option<MultiProgress>> = Mutex::new(None);

/// `--json`: from now on, human text meant for stdout is not printed.
pub fn set_json(on: bool) {
    JSON.store(on, Ordering::Relaxed);
}

pub fn json_mode() -> bool {
    JSON.load(Ordering::Relaxed)
}

/// `println!` for the human report on stdout; silent under `--json`.
macro_rules! say {
    () => {
        $crate::ui::out(format_args!("\n"))
    };
    ($($t:tt)*) => {
        $crate::ui::out(format_args!("{}\n", format_args!($($t)*)))
    };
}

/// `print!` for the human report on stdout; silent under `--json`.
macro_rules! say_raw {
    ($($t:tt)*) => {
        $crate::ui::out(format_args!($($t)*))
    };
}

/// Writes human text to stdout (not under `--json`), with the bars lifted while it does, so
/// a line printed mid-run does not leave a torn bar behind.
pub fn out(args: std::fmt::Arguments) {
    if json_mode() {
        return;
    }
    let write = || {
        let mut stdout = std::io::stdout().lock();
        let _ = stdout.write_fmt(args);
        let _ = stdout.flush();
    };
    let bars = BARS.lock().ok().and_then(|b| b.clone());
    match bars {
        Some(m) => m.suspend(write),
        None => write(),
    }
}

/// Prints the JSON summary of a command on stdout (under `--json`).
pub fn print_json(value: &serde_json::Value) {
    let text = serde_json::to_string_pretty(value).expect("a JSON value always serializes");
    println!("{text}");
}

/// Sets up `tracing`: warnings by default, `-v` info, `-vv` debug, `-vvv` trace. Lines go to
/// stderr, above any progress bars.
pub fn init_logging(verbose: u8) {
    let level = match verbose {
        0 => tracing::Level::WARN,
        1 => tracing::Level::INFO,
        2 => tracing::Level::DEBUG,
        _ => tracing::Level::TRACE,
    };
    let _ = tracing_subscriber::fmt()
        .with_max_level(level)
        .with_target(verbose >= 2)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(|| LogLine(Vec::new()))
        .try_init();
}

/// One formatted log event, written to stderr in one piece when dropped (with the bars
/// suspended, so the line does not tear through them).
struct LogLine(Vec<u8>);

impl Write for LogLine {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for LogLine {
    fn drop(&mut self) {
        let emit = |bytes: &[u8]| {
            let _ = std::io::stderr().write_all(bytes);
        };
        let bars = BARS.lock().ok().and_then(|b| b.clone());
        match bars {
            Some(m) => m.suspend(|| emit(&self.0)),
            None => emit(&self.0),
        }
    }
}

/// Progress of a long command: an overall bar (candidates, sizes, updates) and a bar for the
/// step in hand (tuning trials, target cells), on stderr.
pub struct Progress {
    quiet: bool,
    bars: Option<Bars>,
}

struct Bars {
    multi: MultiProgress,
    overall: ProgressBar,
    step: ProgressBar,
}

impl Progress {
    pub fn new(quiet: bool) -> Self {
        let live = !quiet && std::io::stderr().is_terminal() && std::io::stdout().is_terminal();
        Progress {
            quiet,
            bars: live.then(Bars::new),
        }
    }

    /// The overall bar: `total` units of `what` (for example 8 candidates).
    pub fn begin(&self, total: usize, what: &str) {
        if let Some(b) = &self.bars {
            b.overall.set_length(total as u64);
            b.overall.set_position(0);
            b.overall.set_prefix(what.to_string());
            b.overall.set_style(overall_style());
        }
    }

    /// Unit `index` (0-based) of the overall bar is under way; `name` says which.
    pub fn at(&self, index: usize, name: &str) {
        if let Some(b) = &self.bars {
            b.overall.set_position(index as u64);
            b.overall.set_message(name.to_string());
        }
    }

    /// The step in hand, without a count (a spinner).
    pub fn update(&self, msg: &str) {
        if let Some(b) = &self.bars {
            b.step.set_style(spinner_style());
            b.step.set_message(msg.to_string());
        }
    }

    /// The step in hand: `done` of `total` (tuning trials, cells of a target).
    pub fn step(&self, msg: &str, done: usize, total: usize) {
        if let Some(b) = &self.bars {
            b.step.set_style(step_style());
            b.step.set_length(total as u64);
            b.step.set_position(done as u64);
            b.step.set_message(msg.to_string());
        }
    }

    /// A line that stays: printed above the bars, or plainly to stderr without them.
    pub fn line(&self, msg: &str) {
        if self.quiet {
            return;
        }
        match &self.bars {
            Some(b) => {
                let _ = b.multi.println(msg);
            }
            None => eprintln!("{msg}"),
        }
    }
}

/// The engine reports progress through the bars.
impl tradeoff_engine::Observer for Progress {
    fn update(&self, what: &str) {
        Progress::update(self, what);
    }
    fn step(&self, what: &str, done: usize, total: usize) {
        Progress::step(self, what, done, total);
    }
    fn line(&self, text: &str) {
        Progress::line(self, text);
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        if let Some(b) = &self.bars {
            b.step.finish_and_clear();
            b.overall.finish_and_clear();
            let _ = b.multi.clear();
            if let Ok(mut g) = BARS.lock() {
                *g = None;
            }
        }
    }
}

impl Bars {
    fn new() -> Bars {
        let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr_with_hz(10));
        let overall = multi.add(ProgressBar::new(0).with_style(spinner_style()));
        let step = multi.add(ProgressBar::new(0).with_style(spinner_style()));
        step.enable_steady_tick(Duration::from_millis(120));
        if let Ok(mut g) = BARS.lock() {
            *g = Some(multi.clone());
        }
        Bars {
            multi,
            overall,
            step,
        }
    }
}

fn overall_style() -> ProgressStyle {
    ProgressStyle::with_template("{prefix:>10} [{bar:24}] {pos}/{len} {msg} ({elapsed})")
        .expect("a valid template")
        .progress_chars("=> ")
}

fn step_style() -> ProgressStyle {
    ProgressStyle::with_template("{spinner} {msg} [{bar:16}] {pos}/{len}")
        .expect("a valid template")
        .progress_chars("=> ")
}

fn spinner_style() -> ProgressStyle {
    ProgressStyle::with_template("{spinner} {msg}").expect("a valid template")
}
