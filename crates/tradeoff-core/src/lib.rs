//! `tradeoff-core`: everything between the user's data and a measured cell, with no ML
//! framework and no GPU dependency.
//!
//! - [`data`]: CSV loading and validation, one-hot encoding, missing-value policies, synthetic data.
//! - [`protocol`]: seeded stratified splits and folds, the [`Trainer`](protocol::Trainer)
//!   trait, equal-effort random search.
//! - [`ir`]: the portable fitted-model form every execution target runs.
//! - [`target`]: the [`Target`](target::Target)/[`Predictor`](target::Predictor) traits and the
//!   native `cpu` target.
//! - [`forest`], [`linear`], [`simd`]: the `cpu` target's layouts and kernels for tree
//!   ensembles, linear models and MLP layers.
//! - [`harness`]: all timing code. [`metrics`]: held-out scores. [`record`]: the result schema.
//!
//! ```
//! use tradeoff_core::{data::synthetic, ir::*, target::{CpuTarget, Target, predict_all}};
//!
//! let ds = synthetic("synthetic:regression,rows=100,features=2").unwrap();
//! let ir = ModelIr {
//!     ir_version: IR_VERSION, n_features: 2, n_outputs: 1, classification: false,
//!     standardize: None,
//!     body: Body::Linear { weights: vec![1.0, -1.0], bias: vec![0.0], link: Link::Identity },
//! }
//! .validate() // the only form a target loads
//! .unwrap();
//! let mut p = CpuTarget.load(&ir).unwrap();
//! let out = predict_all(p.as_mut(), &ds.x, ds.n_rows).unwrap();
//! assert_eq!(out[0], ds.x[0] - ds.x[1]);
//! ```

pub mod data;
pub mod error;
pub mod forest;
pub mod harness;
pub mod hash;
pub mod ir;
pub mod linear;
pub mod machine;
pub mod metrics;
pub mod protocol;
pub mod record;
pub mod rng;
pub mod simd;
pub mod target;

pub use error::{Error, Result};

/// The modules' imports form no cycle, so the crate can be split along them (ARCHITECTURE.md:
/// the IR and the target traits, the native target's kernels, data and protocol, harness and
/// records). Read from the sources: every `crate::<module>` path outside comments and test
/// modules.
#[cfg(test)]
mod module_graph {
    use std::collections::{BTreeMap, BTreeSet};
    use std::path::Path;

    /// Each module and the modules it names.
    fn imports() -> BTreeMap<String, BTreeSet<String>> {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut files = vec![];
        for entry in std::fs::read_dir(&src).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                for inner in std::fs::read_dir(&path).unwrap() {
                    files.push(inner.unwrap().path());
                }
            } else {
                files.push(path);
            }
        }
        let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for path in files {
            let rel = path.strip_prefix(&src).unwrap();
            let module = rel
                .components()
                .next()
                .unwrap()
                .as_os_str()
                .to_string_lossy()
                .trim_end_matches(".rs")
                .to_string();
            if module == "lib" {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            let code = text.split("#[cfg(test)]").next().unwrap();
            let names = graph.entry(module.clone()).or_default();
            for line in code.lines() {
                let line = line.split("//").next().unwrap();
                for (i, _) in line.match_indices("crate::") {
                    let name: String = line[i + 7..]
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                        .collect();
                    if !name.is_empty() && name != module {
                        names.insert(name);
                    }
                }
                // `use crate::{a, b}` is not used in this crate; a reminder if it ever is.
                assert!(
                    !line.contains("crate::{"),
                    "{}: list imports one per path",
                    rel.display()
                );
            }
        }
        graph
    }

    /// A cycle through `at`, if the graph has one.
    fn cycle(
        graph: &BTreeMap<String, BTreeSet<String>>,
        at: &str,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(i) = path.iter().position(|m| m == at) {
            let mut c = path[i..].to_vec();
            c.push(at.to_string());
            return Some(c);
        }
        if done.contains(at) {
            return None;
        }
        path.push(at.to_string());
        for next in graph.get(at).into_iter().flatten() {
            if let Some(c) = cycle(graph, next, path, done) {
                return Some(c);
            }
        }
        path.pop();
        done.insert(at.to_string());
        None
    }

    #[test]
    fn no_module_imports_form_a_cycle() {
        let graph = imports();
        assert!(graph.len() >= 14, "every module read: {graph:?}");
        assert!(
            graph["record"].contains("harness"),
            "the reader sees imports"
        );
        let mut done = BTreeSet::new();
        for module in graph.keys() {
            if let Some(c) = cycle(&graph, module, &mut vec![], &mut done) {
                panic!("import cycle: {}", c.join(" -> "));
            }
        }
    }
}
