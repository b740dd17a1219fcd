//! The engine: everything between a command's options and its records.
//!
//! - [`registry`]: the one list of execution targets and the one list of candidates.
//! - [`pipeline`]: a candidate trained (or imported), scored with the `cpu` target checked
//!   against the IR's definition, loaded on each target, checked for parity at every batch
//!   size and measured, one record per cell into a sink. The binary's `run`, `curve` and
//!   `stream` commands, the benchmarks and the tests drive it; it prints nothing.
//! - [`isolate`]: the same measurement of one (candidate, target) in a child process, so a
//!   target that crashes or hangs fails its own cells only.

pub mod isolate;
pub mod pipeline;
pub mod registry;

#[cfg(test)]
mod invariants;

pub use pipeline::{
    evaluate, import, measure_on_target, score_on_cpu, train, Data, Elsewhere, Fitted, How,
    Identity, Job, Measure, Observer, Origin, Quiet, RunInfo, Serve, Sink,
};
