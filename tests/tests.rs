//! Integration tests: the `tradeoff` binary end to end, each test in its own directory.

mod util;

mod bad_input;
mod browser;
mod cost;
mod curve;
mod fleet;
mod import;
mod isolate;
mod parquet;
mod resume;
mod run;
mod stream;
mod suite;
mod targets;
mod ui;
