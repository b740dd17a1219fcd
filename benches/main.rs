//! Benchmarks. Bench ids carry the target: `predict/<candidate>/<target>/<batch>`.
//!
//! Run with `cargo bench --bench main`. The models are trained once with fixed parameters on
//! synthetic data (32 features, as in the CPU-target issue), so the figures are comparable
//! across machines and commits. Every target of the build runs every model it supports
//! (`TRADEOFF_BENCH_TARGETS=cpu,wgsl` narrows them); a software adapter's target is named
//! `<id>[sw]`: its timings are CPU timings. Consecutive calls cycle through up to 64 distinct
//! batches of the data's rows, as the harness and the peers' script do (batch 1: 64 distinct
//! rows). Batches of 1, 64, 4096 and 65,536 rows (the last
//! not on software adapters but for linear models), and 1,048,576 rows for linear models. Before each model, a line on stderr gives its bytes read, FLOPs and tree node steps
//! per row, so the rows/s read against memory bandwidth and peak FLOP/s
//! (`scripts/cpu-vs-peers.sh` turns them into one table with scikit-learn and ONNX Runtime).
//!
//! GPU targets: `predict/<candidate>/<target>/<batch>` is the whole call (upload, compute,
//! readback), and where the adapter has timestamps `predict/<candidate>/<target>/compute/<batch>`
//! is the compute pass alone, in input bytes per second. `wgsl-dense` runs linear models
//! through the tiled dense kernel instead of the `linear` one. `limits/device-copy` copies
//! 256 MiB between two device buffers (bytes read and written). `scripts/gpu-table.py` turns
//! these into the GPU table.

use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use tradeoff_core::harness::{make_batch, rotated_batches};
use tradeoff_data::data::synthetic;
use tradeoff_data::protocol::Params;
use tradeoff_engine::registry::{candidate, TrainOn, TARGETS};
use tradeoff_ir::ir::{Body, ModelIr};
use tradeoff_ir::target::{DeviceKind, PhaseTimes, Target};

/// Bytes of input read, FLOPs (a multiply-add counts two) and tree node steps per row (the
/// `cpu` target walks every tree to its full depth, branch-free).
fn cost_per_row(ir: &ModelIr) -> (usize, usize, usize) {
    let input = ir.n_features * 4;
    match &ir.body {
        Body::Linear { weights, .. } => (input, 2 * weights.len(), 0),
        Body::Mlp { layers, .. } => (
            input,
            layers.iter().map(|l| 2 * l.inputs * l.outputs).sum(),
            0,
        ),
        Body::Trees { trees, .. } => (input, 0, trees.iter().map(|t| t.depth() as usize).sum()),
    }
}

/// Every target of the build, each with the name its bench ids carry: the target id, plus
/// `-dense` for the `wgsl` target with linear models in the tiled dense kernel (linear models
/// only), plus `[sw]` on a software adapter.
fn targets() -> Vec<(String, Box<dyn Target>)> {
    let mut all: Vec<(&str, Box<dyn Target>)> = TARGETS.iter().map(|e| ("", e.make())).collect();
    all.push((
        "-dense",
        Box::new(tradeoff_wgpu::WgslTarget {
            dense_linear: true,
            ..Default::default()
        }),
    ));
    let wanted = std::env::var("TRADEOFF_BENCH_TARGETS").ok();
    all.into_iter()
        .filter(|(_, t)| {
            wanted
                .as_deref()
                .is_none_or(|w| w.split(',').any(|id| id == t.id()))
        })
        .map(|(variant, t)| {
            let sw = if t.device_kind() == DeviceKind::SoftwareGpu {
                "[sw]"
            } else {
                ""
            };
            (format!("{}{variant}{sw}", t.id()), t)
        })
        .collect()
}

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
    let small = synthetic("synthetic:classification,rows=2000,features=32,seed=1").unwrap();
    let mlp = (
        "mlp-m",
        &small,
        params(&[
            ("learning_rate", 0.003),
            ("weight_decay", 1e-4),
            ("batch_size", 64.0),
        ]),
    );
    let mut group = c.benchmark_group("predict");
    group.sample_size(20);
    let targets = targets();
    for (id, ds, p) in models.into_iter().chain([mlp]) {
        let trainer = candidate(id).unwrap().trainer(TrainOn::Flex);
        let ir = trainer.fit(ds, &p, 1).unwrap().validate().unwrap();
        let (bytes, flops, steps) = cost_per_row(&ir);
        eprintln!("{id}: {bytes} input bytes, {flops} FLOPs and {steps} node steps per row");
        let linear = matches!(ir.body, Body::Linear { .. });
        let all: &[usize] = if linear {
            &[1, 64, 4096, 65536, 1 << 20]
        } else {
            &[1, 64, 4096, 65536]
        };
        for (name, target) in &targets {
            if name.contains("-dense") && !linear {
                continue;
            }
            // A software adapter takes seconds a call on the larger models at 65,536 rows.
            let software = target.device_kind() == DeviceKind::SoftwareGpu;
            let batches: Vec<usize> = all
                .iter()
                .copied()
                .filter(|&b| linear || !software || b <= 4096)
                .collect();
            let Ok(mut pred) = target.load(&ir) else {
                continue; // unsupported family, or no adapter
            };
            for &batch in &batches {
                // Consecutive calls get different rows, as in the harness (and the peers'
                // script): up to 64 distinct batches, so a tree's branches are not learned
                // by heart on one row.
                let k = rotated_batches(ds.n_rows, batch);
                let x = make_batch(&ds.x, ds.n_features, batch * k);
                let stride = batch * ds.n_features;
                let mut out = vec![0.0f32; batch * ir.n_outputs];
                group.throughput(Throughput::Elements(batch as u64));
                group.bench_with_input(
                    BenchmarkId::new(format!("{id}/{name}"), batch),
                    &batch,
                    |b, &n| {
                        let mut off = 0;
                        b.iter(|| {
                            // Every timed region ends with a sync (a no-op on the CPU).
                            pred.predict(&x[off..off + stride], n, &mut out).unwrap();
                            pred.sync().unwrap();
                            off += stride;
                            if off == x.len() {
                                off = 0;
                            }
                        })
                    },
                );
            }
            // `.../compute/<batch>`: the compute phase alone, from device timestamps, on
            // adapters that have them, in input bytes per second: what the kernels reach
            // against the device's own limit (`limits/device-copy`).
            if target.device_kind() == DeviceKind::Cpu {
                continue;
            }
            for &batch in &batches {
                let x = make_batch(&ds.x, ds.n_features, batch);
                let mut out = vec![0.0f32; batch * ir.n_outputs];
                let has_stamps = matches!(
                    pred.predict_phased(&x, batch, &mut out),
                    Ok(Some(PhaseTimes {
                        device_compute_ns: Some(_),
                        ..
                    }))
                );
                if !has_stamps {
                    break;
                }
                group.throughput(Throughput::Bytes((batch * bytes) as u64));
                group.bench_with_input(
                    BenchmarkId::new(format!("{id}/{name}/compute"), batch),
                    &batch,
                    |b, &n| {
                        b.iter_custom(|iters| {
                            let mut ns = 0.0;
                            for _ in 0..iters {
                                let t = pred.predict_phased(&x, n, &mut out).unwrap();
                                ns += t
                                    .and_then(|t| t.device_compute_ns)
                                    .expect("device timestamps stopped");
                            }
                            Duration::from_nanos(ns as u64)
                        })
                    },
                );
            }
        }
    }
    group.finish();
}

/// Bytes a plain read loop draws from memory, on one core and on every core, over a buffer far
/// larger than the caches; and what the `gemm` crate alone reaches on the MLP's widest layer
/// at 4096 rows. These are the limits `scripts/cpu-table.py` holds the `cpu` target to, measured
/// in the same run on the same machine (beside the reference figures of issue 5).
fn limits(c: &mut Criterion) {
    use rayon::prelude::*;
    use tradeoff_ir::simd::{gemm_into, read_sum};
    let mut group = c.benchmark_group("limits");
    group.sample_size(20);
    // 256 MiB: 256 times the L2 and far over any L3 slice this VM sees.
    let buf: Vec<f32> = (0..1usize << 26).map(|i| (i % 7) as f32).collect();
    group.throughput(Throughput::Bytes((buf.len() * 4) as u64));
    group.bench_function("read/1", |b| {
        b.iter(|| std::hint::black_box(read_sum(&buf)))
    });
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    group.bench_function(format!("read/{cores}"), |b| {
        b.iter(|| buf.par_chunks(buf.len() / cores).map(read_sum).sum::<f32>())
    });
    let (m, k, n) = (4096usize, 256usize, 256usize);
    let a = vec![0.5f32; m * k];
    let w = vec![0.25f32; k * n];
    let mut out = vec![0.0f32; m * n];
    group.throughput(Throughput::Elements((2 * m * k * n) as u64));
    // As the cpu target runs an MLP layer: 512-row blocks, one single-threaded product each,
    // shared out to the cores (gemm's own threading reached less on this shape here).
    group.bench_function(format!("gemm/4096x256x256/{cores}"), |b| {
        b.iter(|| {
            a.par_chunks(512 * k)
                .zip(out.par_chunks_mut(512 * n))
                .for_each(|(a, out)| gemm_into((a.len() / k, k, n), a, &w, out, 1))
        })
    });
    // Device-to-device copies of 256 MiB on the wgpu adapter (bytes read and written), the
    // reference for the `device` group's input bytes per second.
    if let Ok(probe) = tradeoff_wgpu::CopyProbe::new(1 << 28) {
        let sw = if tradeoff_wgpu::gpu().is_ok_and(|g| g.software) {
            "[sw]"
        } else {
            ""
        };
        group.throughput(Throughput::Bytes(2 << 28));
        group.bench_function(format!("device-copy{sw}"), |b| {
            b.iter_custom(|iters| probe.time(iters).unwrap())
        });
    }
    group.finish();
}

// Limits first: a run cut short (a borrowed machine's time) still has its reference figures.
/// The serving load generator's own limits, with a predictor that does nothing (so what is
/// measured is the generator, the batcher and the hand-off to a worker, not a model):
/// - `serving/per-request/<max batch>`: one request through all three when requests are
///   issued as fast as the generator can (a Poisson rate of 10^9/s, 20,000 requests a step,
///   one worker, lateness not counted so the step is not stopped);
/// - on stderr, `serving: highest valid rate`: the highest Poisson rate whose step stays
///   valid (at most 1% of requests issued over 100 µs late), found by the capacity search
///   with a p99 budget of 2 ms (the largest whose lateness threshold is still 100 µs; a
///   predictor that does nothing meets it up to where the generator falls behind), one
///   worker, max batch 1 and 64.
///   A rate above it cannot be measured on this machine: capacities near it are the
///   generator's, not the model's.
fn serving(c: &mut Criterion) {
    use tradeoff_core::harness::BusyWait;
    use tradeoff_core::serving::{capacity, step_late, Budget, Config, Search};
    use tradeoff_ir::target::Predictor;
    let make = || Ok(Box::new(BusyWait { ns: 0 }) as Box<dyn Predictor>);
    let rows = [0.0f32; 2];
    let mut group = c.benchmark_group("serving");
    group.sample_size(10);
    for max_batch in [1, 64] {
        let cfg = Config {
            workers: 1,
            max_batch,
            max_queue_delay_ns: 0,
            rows_per_request: 1,
        };
        let n = 20_000;
        group.throughput(Throughput::Elements(n as u64));
        group.bench_function(format!("per-request/{max_batch}"), |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for i in 0..iters {
                    let t = std::time::Instant::now();
                    step_late(&make, &rows, 1, cfg, (1e9, n, i), 60_000_000_000).expect("step");
                    total += t.elapsed();
                }
                // Per request, as criterion divides by the throughput's elements.
                total
            })
        });
        let search = Search {
            ceiling: 200_000.0,
            step_seconds: 1.0,
            precision: 0.05,
            seed: 1,
        };
        let budget = Budget {
            p99_ns: Some(2e6),
            p50_ns: None,
        };
        match capacity(&make, &rows, 1, cfg, budget, search) {
            Ok(cap) => eprintln!(
                "serving: highest valid rate {} requests/s (1 worker, max batch {max_batch}, {} steps){}",
                cap.rps.map_or("none".into(), |r| format!("{r:.0}")),
                cap.steps.len(),
                cap.at.as_ref().map_or(String::new(), |s| format!(
                    "; at it {:.2}% issued late, issue lag p99 {:.1} µs",
                    s.late_share * 100.0,
                    s.issue_lag_p99_ns / 1e3
                ))
            ),
            Err(e) => eprintln!("serving: the search failed: {e}"),
        }
    }
    group.finish();
}

criterion_group!(benches, limits, predict, serving);
criterion_main!(benches);
