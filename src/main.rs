//! The `tradeoff` command line.
//!
//! Exit codes (documented in the README):
//! 0 success; 1 internal error; 2 bad option or usage; 3 bad input data;
//! 4 the run finished and its results are written, but some candidates or cells failed;
//! 5 `--require-gpu` and no hardware GPU adapter; 6 the output cannot be written; 130
//! stopped by Ctrl-C or SIGTERM.

#[macro_use]
mod ui;
mod cli;
mod common;
mod conclude;
mod curve;
mod fleet;
mod merge;
mod pricing;
mod report;
mod run;
mod selfcheck;
mod serve;
mod stream;
mod suite;

use std::io::Write;
use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches};
use tradeoff_ir::error::Blame;

pub const EXIT_INTERNAL: u8 = 1;
pub const EXIT_USAGE: u8 = 2;
pub const EXIT_DATA: u8 = 3;
pub const EXIT_SOME_FAILED: u8 = 4;
/// `--require-gpu` and no hardware GPU adapter.
pub const EXIT_NO_GPU: u8 = 5;
/// An output directory or file that cannot be made or written (a path, permissions, a full
/// disk): not the input's fault.
pub const EXIT_OUTPUT: u8 = 6;
/// Stopped by Ctrl-C or SIGTERM (everything recorded before is kept).
pub const EXIT_INTERRUPTED: i32 = 130;

/// What to tell the user when a signal stops the command: where its results are and how to
/// finish it (set by `run` once its output directory is known).
static INTERRUPT_NOTE: std::sync::Mutex<Option<String>> = std::sync::Mutex::new(None);

/// Sets the note printed if a signal stops the command from now on.
pub fn on_interrupt(note: String) {
    *INTERRUPT_NOTE.lock().unwrap_or_else(|p| p.into_inner()) = Some(note);
}

/// Ctrl-C, SIGTERM and SIGHUP stop the command at once, between two record writes (never
/// in the middle of one), with exit 130; the cell in progress is abandoned.
fn stop_on_signals() {
    let installed = ctrlc::set_handler(|| {
        let _writes = tradeoff_core::record::hold_writes();
        tradeoff_engine::isolate::remove_job_files();
        let note = INTERRUPT_NOTE
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        eprintln!(
            "\ninterrupted{}",
            note.map_or(String::new(), |n| format!(": {n}"))
        );
        std::process::exit(EXIT_INTERRUPTED);
    });
    if let Err(e) = installed {
        tracing::warn!("no signal handler ({e}): Ctrl-C stops without a note");
    }
}

// Counts heap bytes, so records can report heap high-water marks per phase.
#[global_allocator]
static ALLOC: tradeoff_ir::machine::CountingAlloc = tradeoff_ir::machine::CountingAlloc;

/// Mesa's Vulkan device-select layer, loaded implicitly wherever Mesa is installed, asks
/// Wayland for the display's GPU when an instance enables Wayland surfaces (wgpu's does); with
/// no `XDG_RUNTIME_DIR` (containers, cron, `su`) libwayland prints "error: XDG_RUNTIME_DIR is
/// invalid or not set in the environment." twice on every run, which reads as ours. Without a
/// runtime dir there is no Wayland display to prefer, so the layer has nothing to choose by:
/// turn it off then (its own documented switch), unless the user asked it for a device.
fn quiet_vulkan_device_select() {
    let set = |k: &str| std::env::var_os(k).is_some();
    if !set("XDG_RUNTIME_DIR")
        && !set("NODEVICE_SELECT")
        && !set("MESA_VK_DEVICE_SELECT")
        && !set("DRI_PRIME")
    {
        // Before any thread starts, so nothing reads the environment concurrently.
        std::env::set_var("NODEVICE_SELECT", "1");
    }
}

fn main() -> ExitCode {
    quiet_vulkan_device_select();
    // A library panic inside a guarded fit becomes a `failed` record; stay quiet about it.
    // Any other panic is a bug in tradeoff and says so.
    std::panic::set_hook(Box::new(|info| {
        if !tradeoff_data::protocol::in_guard() {
            eprintln!("tradeoff: internal error (please report): {info}");
        }
    }));
    let matches = cli::Cli::command().get_matches();
    let cli = cli::Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    ui::init_logging(cli.verbose);
    stop_on_signals();
    let run_matches = matches.subcommand_matches("run").cloned();
    match run_cli(cli, run_matches) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            let _ = std::io::stdout().flush();
            eprintln!("error: {e:#}");
            let code = match e.downcast_ref::<tradeoff_ir::Error>().map(|e| e.blame()) {
                Some(Blame::Usage) => EXIT_USAGE,
                Some(Blame::Data) => EXIT_DATA,
                Some(Blame::Output) => EXIT_OUTPUT,
                Some(Blame::Internal) | None => EXIT_INTERNAL,
            };
            ExitCode::from(code)
        }
    }
}

fn run_cli(cli: cli::Cli, run_matches: Option<clap::ArgMatches>) -> anyhow::Result<u8> {
    match cli.command {
        cli::Command::Run(args) => {
            ui::set_json(args.json);
            run::run(*args, &run_matches.unwrap_or_default())
        }
        cli::Command::Curve(args) => {
            ui::set_json(args.json);
            curve::curve(*args)
        }
        cli::Command::Merge(args) => {
            ui::set_json(args.json);
            merge::merge(args)
        }
        cli::Command::Report(args) => report::report(args),
        cli::Command::Fleet(cli::FleetArgs {
            command: cli::FleetCommand::Plan(args),
        }) => fleet::plan(args),
        cli::Command::Stream(args) => {
            ui::set_json(args.json);
            stream::stream(*args)
        }
        cli::Command::Selfcheck(args) => selfcheck::selfcheck(args),
        cli::Command::Devices => {
            devices();
            Ok(0)
        }
        cli::Command::MeasureCells { job } => {
            tradeoff_engine::isolate::serve(&job)?;
            Ok(0)
        }
    }
}

/// `tradeoff devices`: the CPU, every wgpu adapter, and what each target would run on.
fn devices() {
    use tradeoff_ir::machine;
    let m = machine::Machine::detect();
    let simd = machine::simd_features();
    println!(
        "cpu      {} ({} logical cores, SIMD {}), {}",
        m.cpu_model,
        m.cores,
        if simd.is_empty() {
            "none detected".to_string()
        } else {
            simd.join(" ")
        },
        m.os
    );
    let adapters = tradeoff_wgpu::adapters();
    if adapters.is_empty() {
        println!("wgpu     no adapter found (no Vulkan, Metal, DX12 or OpenGL driver)");
    }
    for (i, a) in adapters.iter().enumerate() {
        println!(
            "wgpu {i}   {} | {} | {} | driver {}{}",
            a.name,
            a.backend,
            a.device_type,
            if a.driver.is_empty() {
                "unknown"
            } else {
                &a.driver
            },
            if a.software {
                " | software: a CPU implementation, not a GPU"
            } else {
                ""
            }
        );
    }
    println!("targets");
    for entry in &tradeoff_engine::registry::TARGETS {
        let id = entry.id;
        match entry.available() {
            Err(why) => println!("  {id:<11} unavailable: {why}"),
            Ok(()) => {
                let t = entry.make();
                println!("  {id:<11} {} [{}]", t.device(), t.device_kind().as_str());
            }
        }
    }
}
