//! One boosting fit on synthetic rows, timed: `cargo run --release -p tradeoff-hist --example
//! boost -- ROWS FEATURES ROUNDS DEPTH [THREADS]`, with `TRADEOFF_LOSS=logistic` for
//! binary classes. For profiling the booster alone.

use std::time::Instant;

use tradeoff_hist::{fit_boost, Bins, BoostParams, Loss, MAX_BINS};
use tradeoff_ir::rng::Rng;

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| a.parse().expect("a number"))
        .collect();
    let get = |i: usize, d: usize| args.get(i).copied().unwrap_or(d);
    let (n, f, rounds, depth) = (get(0, 100_000), get(1, 32), get(2, 100), get(3, 6));
    if let Some(t) = args.get(4) {
        rayon::ThreadPoolBuilder::new()
            .num_threads(*t)
            .build_global()
            .expect("one global pool");
    }
    let mut rng = Rng::new(1);
    let x: Vec<f32> = (0..n * f).map(|_| rng.normal() as f32).collect();
    let y: Vec<f32> = (0..n)
        .map(|r| x[r * f] + x[r * f + 1] * x[r * f + 2] + rng.normal() as f32)
        .collect();
    let t = Instant::now();
    let bins = Bins::new(&x, n, f, MAX_BINS, 1);
    let binned = t.elapsed();
    let p = BoostParams {
        iterations: rounds,
        learning_rate: 0.1,
        max_depth: depth,
        l2: 1.0,
        min_leaf: 20,
        min_hess: 1e-3,
    };
    // TRADEOFF_LOSS=logistic: classes from the sign of the same signal.
    let (y, loss) = match std::env::var("TRADEOFF_LOSS").as_deref() {
        Ok("logistic") => (
            y.iter().map(|v| f32::from(u8::from(*v > 0.0))).collect(),
            Loss::Logistic,
        ),
        _ => (y, Loss::Squared),
    };
    let t = Instant::now();
    let b = fit_boost(&bins, &y, loss, p);
    println!(
        "binning {:.3} s, boosting {:.3} s, {} trees, {} nodes",
        binned.as_secs_f64(),
        t.elapsed().as_secs_f64(),
        b.trees.len(),
        b.trees.iter().map(|(_, t)| t.nodes.len()).sum::<usize>()
    );
}
