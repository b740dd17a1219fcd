//! The model readers (`run --model`): any bytes written to a file and read as XGBoost JSON,
//! LightGBM text and ONNX (forced, and detected), then matched to data of the model's shape,
//! validated and evaluated on one row. Nothing may panic: a bad file is an error.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tradeoff_import::{read, Format, Kind};

fuzz_target!(|bytes: &[u8]| {
    let path = std::env::temp_dir().join(format!("tradeoff-fuzz-{}.model", std::process::id()));
    if std::fs::write(&path, bytes).is_err() {
        return;
    }
    for format in [
        None,
        Some(Format::XgboostJson),
        Some(Format::LightgbmText),
        Some(Format::Onnx),
    ] {
        let Ok(model) = read(&path, format) else {
            continue;
        };
        // Data of the model's shape (a bounded one: the harness's own allocation).
        if model.n_features > 4096 {
            continue;
        }
        let names: Vec<String> = match &model.feature_names {
            Some(n) => n.clone(),
            None => (0..model.n_features).map(|i| format!("f{i}")).collect(),
        };
        let classes = match model.kind {
            Kind::Regression => 0,
            Kind::Binary => 2,
            Kind::Multiclass(k) => k,
        };
        let Ok(ir) = model.bind(&names, classes) else {
            continue;
        };
        let Ok(ir) = ir.validate() else {
            continue;
        };
        let row = vec![0.5f32; ir.n_features];
        let _ = tradeoff_ir::ir::eval(&ir, &row, 1);
    }
});
