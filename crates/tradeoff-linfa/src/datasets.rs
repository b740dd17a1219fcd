//! Built-in real datasets, shipped inside `linfa-datasets` (no download).

use linfa::dataset::Records;
use tradeoff_data::data::{Dataset, Task};
use tradeoff_ir::{Error, Result};

/// Names accepted by `--dataset`.
pub const BUILTIN_DATASETS: [&str; 3] = ["winequality", "iris", "diabetes"];

/// The dataset `tradeoff run` uses when given none: red wine quality, 1,599 rows, 11
/// physico-chemical features, 6 quality classes (3 to 8), imbalanced.
pub const DEFAULT_DATASET: &str = "winequality";

/// Loads a built-in dataset by name.
pub fn builtin(name: &str) -> Result<Dataset> {
    // linfa-datasets ships 441 of the 442 rows of the original diabetes data.
    let (ds, task, classes, target): (linfa::Dataset<f64, f32, ndarray::Ix1>, _, Vec<String>, _) =
        match name {
            "iris" => {
                let d = linfa_datasets::iris();
                let names = ["setosa", "versicolor", "virginica"];
                (
                    d.map_targets(|c| *c as f32),
                    Task::Multiclass,
                    names.iter().map(|s| s.to_string()).collect(),
                    "species",
                )
            }
            "winequality" => {
                // Quality scores 3..=8 become class indices 0..=5, named by their score.
                let d = linfa_datasets::winequality();
                let lo = *d.targets().iter().min().unwrap_or(&0);
                let hi = *d.targets().iter().max().unwrap_or(&0);
                (
                    d.map_targets(move |c| (*c - lo) as f32),
                    Task::Multiclass,
                    (lo..=hi).map(|q| q.to_string()).collect(),
                    "quality",
                )
            }
            "diabetes" => (
                linfa_datasets::diabetes().map_targets(|v| *v as f32),
                Task::Regression,
                vec![],
                "progression",
            ),
            other => {
                return Err(Error::option(
                    "--dataset",
                    other,
                    format!(
                        "unknown dataset; built-in ones are {}, or synthetic:classification,rows=N,features=M",
                        BUILTIN_DATASETS.join(", ")
                    ),
                ))
            }
        };
    let names = if ds.feature_names().len() == ds.nfeatures() {
        ds.feature_names().to_vec()
    } else {
        (0..ds.nfeatures()).map(|i| format!("x{i}")).collect()
    };
    let x: Vec<f32> = ds.records().iter().map(|v| *v as f32).collect();
    let y: Vec<f32> = ds.targets().to_vec();
    let mut out = Dataset::from_arrays(&format!("builtin:{name}"), names, x, y, task, classes)?;
    out.schema.target = target.to_string();
    Ok(out)
}

#[cfg(test)]
mod tests {
    #[test]
    fn builtins_load_with_expected_shapes() {
        let w = super::builtin("winequality").unwrap();
        assert_eq!((w.n_rows, w.n_features, w.n_classes()), (1599, 11, 6));
        let i = super::builtin("iris").unwrap();
        assert_eq!(
            (i.n_rows, i.n_features, i.class_counts()),
            (150, 4, vec![50, 50, 50])
        );
        let d = super::builtin("diabetes").unwrap();
        assert_eq!((d.n_rows, d.n_features), (441, 10));
        assert!(super::builtin("mnist").is_err());
    }
}
