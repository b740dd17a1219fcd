//! `tradeoff-core`: the measurement harness and the records it writes.
//!
//! - [`harness`]: all timing code: the clock, sampling, histograms, verdicts.
//! - [`record`]: the result schema and the crash-safe record writer.
//! - [`serving`]: serving under load: the offline and server scenarios on N workers, and
//!   capacity under a latency budget.
//!
//! The IR and the targets are in `tradeoff-ir`; data, splits and tuning in `tradeoff-data`.

pub mod harness;
pub mod record;
pub mod serving;

#[cfg(test)]
mod module_graph {
    use std::collections::{BTreeMap, BTreeSet};
    use std::path::Path;

    /// Each module of the crate whose sources are in `src`, and the modules it names.
    fn imports(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
        let mut files = vec![];
        for entry in std::fs::read_dir(src).unwrap() {
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
            let rel = path.strip_prefix(src).unwrap();
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
                    let rest = &line[i + 7..];
                    // `crate::{a, b::C}` names each item; `crate::a::b` names `a`.
                    let items = match rest.strip_prefix('{') {
                        Some(list) => list.split('}').next().unwrap().split(',').collect(),
                        None => vec![rest],
                    };
                    for item in items {
                        let name: String = item
                            .trim()
                            .chars()
                            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                            .collect();
                        if !name.is_empty() && name != module {
                            names.insert(name);
                        }
                    }
                }
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

    /// Crates cannot import each other in a cycle (cargo refuses); modules inside one crate
    /// can, so every crate of the workspace is read.
    #[test]
    fn no_module_imports_form_a_cycle() {
        let crates = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let (mut crates_read, mut seen) = (0, 0);
        for entry in std::fs::read_dir(&crates).unwrap() {
            let src = entry.unwrap().path().join("src");
            if !src.is_dir() {
                continue;
            }
            let graph = imports(&src);
            crates_read += 1;
            seen += graph.len();
            if src.ends_with("tradeoff-core/src") {
                assert!(
                    graph["record"].contains("harness"),
                    "the reader sees imports"
                );
            }
            let mut done = BTreeSet::new();
            for module in graph.keys() {
                if let Some(c) = cycle(&graph, module, &mut vec![], &mut done) {
                    panic!("import cycle in {}: {}", src.display(), c.join(" -> "));
                }
            }
        }
        // Eleven crates with 39 modules besides their roots when this was written.
        assert!(
            crates_read >= 11 && seen >= 39,
            "every crate's modules read: {crates_read} crates, {seen} modules"
        );
    }
}
