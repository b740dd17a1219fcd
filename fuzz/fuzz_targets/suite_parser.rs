//! The suite parser: any bytes as a suite file, applied to `run`'s options as the binary
//! applies them (the binary's own `cli.rs` and `suite.rs`, compiled in here).
#![no_main]

#[allow(dead_code)]
#[path = "../../src/cli.rs"]
mod cli;
#[allow(dead_code)]
#[path = "../../src/suite.rs"]
mod suite;

use clap::{CommandFactory, FromArgMatches};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    let path = std::env::temp_dir().join(format!(
        "tradeoff-fuzz-suite-{}.toml",
        std::process::id()
    ));
    if std::fs::write(&path, bytes).is_err() {
        return;
    }
    let matches = cli::Cli::command()
        .try_get_matches_from(["tradeoff", "run"])
        .expect("`run` alone parses");
    let run = matches.subcommand_matches("run").expect("run").clone();
    let cli::Command::Run(mut args) = cli::Cli::from_arg_matches(&matches)
        .expect("`run` alone parses")
        .command
    else {
        return;
    };
    if let Ok(applied) = suite::apply(&path, &mut args, &run) {
        let _ = applied.describe();
    }
});
