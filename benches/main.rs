//! Benchmarks. Bench ids carry the target: `predict/<candidate>/<target>/<batch>`.
//!
//! Run with `cargo bench --bench main`. The models are trained once with fixed parameters on
//! synthetic data (100k rows x 32 features, as in the CPU-target issue), so the figures are
//! comparable across machines and commits.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use tradeoff_core::data::synthetic;
use tradeoff_core::harness::make_batch;
use tradeoff_core::protocol::Params;
use tradeoff_core::target::{CpuTarget, Target};

fn params(kv: &[(&str, f64)]) -> Params {
    kv.iter().map(|(k, v)| (k.to_string(), *v)).collect()
}

fn predict(c: &mut Criterion) {
    // Training on 100k rows takes a while for the forest; 20k rows give the same model shapes.
    let cls = synthetic("synthetic:classification,rows=20000,features=32,seed=1").unwrap();
    let reg = synthetic("synthetic:regression,rows=20000,features=32,seed=1").unwrap();
    let models = [
        ("linear", &reg, params(&[("alpha", 0.01)])),
        ("logistic", &cls, params(&[("alpha", 0.01)])),
        (
            "tree",
            &cls,
            params(&[("max_depth", 8.0), ("min_leaf", 1.0)]),
        ),
        (
            "forest",
            &cls,
            params(&[
                ("trees", 100.0),
                ("max_depth", 8.0),
                ("min_leaf", 1.0),
                ("features", 0.5),
            ]),
        ),
        (
            "gbm",
            &cls,
            params(&[
                ("iterations", 100.0),
                ("learning_rate", 0.1),
                ("max_depth", 6.0),
                ("l2", 1.0),
            ]),
        ),
    ];
    let mut group = c.benchmark_group("predict");
    group.sample_size(20);
    for (id, ds, p) in models {
        let trainer = tradeoff_linfa::trainer(id).unwrap();
        let ir = trainer.fit(ds, &p, 1).unwrap();
        let mut pred = CpuTarget.load(&ir).unwrap();
        for batch in [1usize, 64, 4096] {
            let x = make_batch(&ds.x, ds.n_features, batch);
            let mut out = vec![0.0f32; batch * ir.n_outputs];
            group.throughput(Throughput::Elements(batch as u64));
            group.bench_with_input(
                BenchmarkId::new(format!("{id}/cpu"), batch),
                &batch,
                |b, &n| {
                    b.iter(|| {
                        // The cpu target has no queue; sync is a no-op, kept so the pattern is the
                        // same for device targets.
                        pred.predict(&x, n, &mut out).unwrap();
                        pred.sync().unwrap();
                    })
                },
            );
        }
    }
    group.finish();
}

criterion_group!(benches, predict);
criterion_main!(benches);
