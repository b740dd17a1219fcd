//! The Parquet reader: any bytes written to a file and read as a table, then typed with
//! its last column as the target.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tradeoff_data::data::{self, CsvOptions, MissingPolicy};

fuzz_target!(|bytes: &[u8]| {
    // libfuzzer-sys aborts on every panic; tradeoff turns the reader's panics on damaged
    // metadata into errors (`protocol::guarded`), so only an unguarded panic is a crash.
    static HOOK: std::sync::Once = std::sync::Once::new();
    HOOK.call_once(|| {
        std::panic::set_hook(Box::new(|info| {
            if !tradeoff_data::protocol::in_guard() {
                eprintln!("{info}");
                std::process::abort();
            }
        }))
    });
    let path = std::env::temp_dir().join(format!("tradeoff-fuzz-{}.parquet", std::process::id()));
    if std::fs::write(&path, bytes).is_err() {
        return;
    }
    let Ok(table) = tradeoff_parquet::read_parquet(&path) else {
        return;
    };
    let Some(target) = table.column_names().last().cloned() else {
        return;
    };
    let mut opts = CsvOptions::new(&target);
    opts.missing = MissingPolicy::Impute;
    let _ = data::load_table(&table, &opts);
});
