//! Trees against an exhaustive CART written plainly, thresholds against the bins, forests
//! against the thread count.

use super::*;
use tradeoff_ir::ir::{walk, Node};

/// Rows with few distinct values a feature (so every value has its own bin and the histogram
/// tree must find exactly the splits an exhaustive search finds), and integer targets (so
/// every sum is exact and ties break the same way).
fn table(n: usize, f: usize, seed: u64) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    let mut rng = Rng::new(seed);
    let x: Vec<f32> = (0..n * f)
        .map(|_| rng.below(12) as f32 * 0.5 - 2.0)
        .collect();
    let mut classes = Vec::with_capacity(n);
    let mut values = Vec::with_capacity(n);
    for r in 0..n {
        let row = &x[r * f..(r + 1) * f];
        let s = row[0] + 2.0 * row[1 % f] - row[2 % f] * row[0];
        let noise = rng.below(4) as f32;
        classes.push(((s + noise).rem_euclid(3.0)).floor());
        values.push((s * 2.0).round() + noise);
    }
    // An integer mean, so the centred targets are integers too and every sum is exact.
    let sum: f32 = values.iter().sum();
    values[n - 1] -= sum.rem_euclid(n as f32);
    (x, classes, values)
}

/// Plain CART: every threshold between distinct values of every drawn feature, the same
/// score, the same tie rule (lowest feature, then lowest threshold), pre-order, left first.
struct Reference<'a> {
    x: &'a [f32],
    f: usize,
    y: &'a [f64],
    k: Option<usize>,
    /// Added to regression leaves (the mean the targets were centred on).
    offset: f64,
    params: TreeParams,
    order: Vec<usize>,
    nodes: Vec<Node>,
}

impl Reference<'_> {
    fn stats(&self, rows: &[usize]) -> Vec<f64> {
        let mut s = vec![0.0; 1 + self.k.unwrap_or(1)];
        s[0] = rows.len() as f64;
        for &r in rows {
            match self.k {
                Some(_) => s[1 + self.y[r] as usize] += 1.0,
                None => s[1] += self.y[r],
            }
        }
        s
    }

    fn grow(&mut self, rows: Vec<usize>, depth: usize, rng: &mut Rng) -> u32 {
        let me = self.nodes.len();
        let s = self.stats(&rows);
        let n = s[0];
        let value = match self.k {
            Some(k) => (0..k).fold(0, |b, c| if s[1 + c] > s[1 + b] { c } else { b }) as f32,
            None => (self.offset + s[1] / n) as f32,
        };
        self.nodes.push(Node::leaf(value));
        let pure = self.k.is_some() && s[1..].contains(&n);
        if depth >= self.params.max_depth || n < 2.0 * self.params.min_leaf as f64 || pure {
            return me as u32;
        }
        let m = self.params.max_features;
        let features: Vec<usize> = if m >= self.f {
            (0..self.f).collect()
        } else {
            // scikit-learn's draw: features constant in the node do not count towards `m`;
            // drawing goes on (in batches of what is still missing) until `m` vary.
            let varies = |f: usize| {
                let first = self.x[rows[0] * self.f + f];
                rows.iter().any(|&r| self.x[r * self.f + f] != first)
            };
            let (mut drawn, mut varying) = (0, 0);
            while varying < m && drawn < self.f {
                let next = (drawn + m - varying).min(self.f);
                for i in drawn..next {
                    let j = i + rng.below(self.f - i);
                    self.order.swap(i, j);
                }
                varying += self.order[drawn..next]
                    .iter()
                    .filter(|&&f| varies(f))
                    .count();
                drawn = next;
            }
            self.order[..drawn].sort_unstable();
            self.order[..drawn].to_vec()
        };
        let parent: f64 = s[1..].iter().map(|v| v * v).sum::<f64>() / n;
        let mut best_score = parent + 1e-12 * parent.abs().max(1.0);
        let mut best = None;
        for &f in &features {
            let mut values: Vec<f32> = rows.iter().map(|&r| self.x[r * self.f + f]).collect();
            values.sort_by(f32::total_cmp);
            values.dedup();
            for t in values.iter().skip(1) {
                let (l, r): (Vec<usize>, Vec<usize>) =
                    rows.iter().partition(|&&i| self.x[i * self.f + f] < *t);
                if (l.len().min(r.len())) < self.params.min_leaf {
                    continue;
                }
                let (sl, sr) = (self.stats(&l), self.stats(&r));
                let score = sl[1..].iter().map(|v| v * v).sum::<f64>() / sl[0]
                    + sr[1..].iter().map(|v| v * v).sum::<f64>() / sr[0];
                if score > best_score {
                    best_score = score;
                    best = Some((f, *t, l, r));
                }
            }
        }
        let Some((f, t, l, r)) = best else {
            return me as u32;
        };
        self.nodes[me] = Node {
            feature: f as u32,
            threshold: t,
            left: 0,
            right: 0,
            value: 0.0,
        };
        let left = self.grow(l, depth + 1, rng);
        let right = self.grow(r, depth + 1, rng);
        self.nodes[me].left = left;
        self.nodes[me].right = right;
        me as u32
    }
}

/// Our tree and the reference, as the IR sees them: the same structure, features and leaves,
/// and the same prediction for every training row (thresholds may differ: ours lie between
/// values, the reference's on them).
fn check_against_reference(classification: bool, params: TreeParams, seed: u64) {
    let (n, f) = (300, 4);
    let (x, classes, values) = table(n, f, seed);
    let y = if classification { &classes } else { &values };
    let bins = Bins::new(&x, n, f, 256, 0);
    let target = if classification {
        Target::classes(y, 3)
    } else {
        Target::values(y)
    };
    let rows: Vec<u32> = (0..n as u32).collect();
    // Every node by subtraction from its parent, every node counted over its own bins, and
    // a mix (nodes below 40 rows counted), with features counted on one thread or on every
    // core: the same tree each way.
    let grow = |small: usize, parallel_work: usize| {
        tree::fit_tree_with(
            &bins,
            &target,
            &mut rows.clone(),
            params,
            &mut Rng::new(seed),
            tree::Counting {
                small_node_rows: small,
                parallel_work,
                row_codes: None,
            },
        )
        .tree
        .to_ir_nodes(&bins)
    };
    let ours = grow(0, usize::MAX);
    assert_eq!(ours, grow(40, usize::MAX));
    assert_eq!(ours, grow(usize::MAX, usize::MAX));
    assert_eq!(ours, grow(40, 0));
    // The reference sees the centred regression target, as ours does, and adds the mean back.
    let mean = y.iter().map(|v| *v as f64).sum::<f64>() / n as f64;
    let centred: Vec<f64> = if classification {
        y.iter().map(|v| *v as f64).collect()
    } else {
        y.iter().map(|v| *v as f64 - mean).collect()
    };
    let mut reference = Reference {
        x: &x,
        f,
        y: &centred,
        k: classification.then_some(3),
        offset: if classification { 0.0 } else { mean },
        params,
        order: (0..f).collect(),
        nodes: Vec::new(),
    };
    reference.grow((0..n).collect(), 0, &mut Rng::new(seed));
    let theirs = reference.nodes;
    assert!(
        ours.len() > 7,
        "a tree worth comparing: {} nodes",
        ours.len()
    );
    assert_eq!(ours.len(), theirs.len(), "node count");
    for (a, b) in ours.iter().zip(&theirs) {
        assert_eq!((a.feature, a.left, a.right), (b.feature, b.left, b.right));
        if a.is_leaf() {
            assert!((a.value - b.value).abs() <= 1e-5 * b.value.abs().max(1.0));
        }
    }
    for r in 0..n {
        let row = &x[r * f..(r + 1) * f];
        assert_eq!(walk(&ours, row), walk(&theirs, row), "row {r}");
    }
}

#[test]
fn classification_tree_equals_exhaustive_cart() {
    for seed in 1..4 {
        let p = TreeParams {
            max_depth: 6,
            min_leaf: 1,
            max_features: 4,
        };
        check_against_reference(true, p, seed);
        check_against_reference(true, TreeParams { min_leaf: 7, ..p }, seed);
    }
}

#[test]
fn regression_tree_equals_exhaustive_cart() {
    for seed in 1..4 {
        let p = TreeParams {
            max_depth: 5,
            min_leaf: 3,
            max_features: 4,
        };
        check_against_reference(false, p, seed);
    }
}

#[test]
fn drawn_features_per_split_equal_the_reference_draws() {
    // One feature of four per split: histograms count just that one (no subtraction).
    for seed in 1..4 {
        let p = TreeParams {
            max_depth: 6,
            min_leaf: 2,
            max_features: 1,
        };
        check_against_reference(true, p, seed);
        // Three of four: every feature counted, children by subtraction, splits among three.
        check_against_reference(
            false,
            TreeParams {
                max_features: 3,
                ..p
            },
            seed,
        );
    }
}

#[test]
fn ir_thresholds_route_every_value_like_the_bins() {
    // Many distinct values (quantile bins), and fresh rows that were not binned.
    let (n, f) = (5000, 3);
    let mut rng = Rng::new(9);
    let x: Vec<f32> = (0..n * f).map(|_| rng.normal() as f32).collect();
    let y: Vec<f32> = (0..n)
        .map(|r| (x[r * f] * x[r * f + 1] > 0.0) as u8 as f32)
        .collect();
    let bins = Bins::new(&x, n, f, 64, 0);
    let params = TreeParams {
        max_depth: 8,
        min_leaf: 1,
        max_features: f,
    };
    let tree = fit_tree(
        &bins,
        &Target::classes(&y, 2),
        (0..n as u32).collect(),
        params,
        &mut rng,
    );
    let ir = tree.to_ir_nodes(&bins);
    for _ in 0..20_000 {
        let row: Vec<f32> = (0..f).map(|_| rng.normal() as f32).collect();
        let codes: Vec<u8> = (0..f).map(|j| bins::code(&bins.edges[j], row[j])).collect();
        assert_eq!(walk(&ir, &row), tree.predict_codes(&codes));
    }
    // The edges themselves go right, as x < t says.
    for j in 0..f {
        for (b, e) in bins.edges[j].iter().enumerate() {
            assert_eq!(bins::code(&bins.edges[j], *e) as usize, b + 1);
        }
    }
}

#[test]
fn forest_is_the_same_on_one_thread_and_many() {
    let (n, f) = (2000, 6);
    let mut rng = Rng::new(5);
    let x: Vec<f32> = (0..n * f).map(|_| rng.normal() as f32).collect();
    let y: Vec<f32> = (0..n)
        .map(|r| x[r * f] + x[r * f + 3] * x[r * f + 2])
        .collect();
    let bins = Bins::new(&x, n, f, 256, 0);
    let target = Target::values(&y);
    let params = TreeParams {
        max_depth: 7,
        min_leaf: 2,
        max_features: 2,
    };
    let grow = |threads: usize| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| fit_forest(&bins, &target, 12, params, 77))
    };
    let one = grow(1);
    assert_eq!(one, grow(3));
    assert_eq!(one.len(), 12);
    // Different trees: the bootstrap and the feature draws differ between trees.
    assert_ne!(one[0], one[1]);
    assert_ne!(one, fit_forest(&bins, &target, 12, params, 78));
}

/// Rows for boosting: a smooth signal, a class from it (`k` classes) or the value itself.
fn boost_table(n: usize, f: usize, k: usize, seed: u64) -> (Bins, Vec<f32>) {
    let mut rng = Rng::new(seed);
    let x: Vec<f32> = (0..n * f).map(|_| rng.normal() as f32).collect();
    let y: Vec<f32> = (0..n)
        .map(|r| {
            let s = x[r * f] + 0.5 * x[r * f + 1] * x[r * f + 2] + 0.3 * rng.normal() as f32;
            if k == 0 {
                s
            } else {
                ((s + 3.0) * k as f32 / 6.0)
                    .floor()
                    .clamp(0.0, k as f32 - 1.0)
            }
        })
        .collect();
    (Bins::new(&x, n, f, 32, 0), y)
}

fn boost_params(iterations: usize) -> BoostParams {
    BoostParams {
        iterations,
        learning_rate: 0.3,
        max_depth: 4,
        l2: 1.0,
        min_leaf: 5,
        min_hess: 1e-3,
    }
}

/// Boosting written plainly: every round's scores recomputed by walking the trees so far,
/// gradients by the textbook formulas, each tree grown by `fit_tree` on one thread.
fn reference_boost(bins: &Bins, y: &[f32], loss: Loss, p: BoostParams, base: &[f64]) -> Booster {
    let mut booster = Booster {
        base: base.to_vec(),
        trees: Vec::new(),
    };
    let m = base.len();
    let n = bins.n_rows;
    let rows: Vec<Vec<u8>> = (0..n)
        .map(|r| (0..bins.n_features).map(|f| bins.column(f)[r]).collect())
        .collect();
    for _ in 0..p.iterations {
        let scores: Vec<Vec<f64>> = rows
            .iter()
            .map(|codes| {
                let mut s = vec![0.0; m];
                booster.predict_codes(codes, &mut s);
                s
            })
            .collect();
        for k in 0..m {
            let gh = (0..n)
                .map(|r| {
                    let s = &scores[r];
                    let yr = y[r] as f64;
                    match loss {
                        Loss::Squared => [s[0] - yr, 1.0],
                        Loss::Logistic => {
                            let q = 1.0 / (1.0 + (-s[0]).exp());
                            [q - yr, (q * (1.0 - q)).max(1e-16)]
                        }
                        Loss::Softmax { .. } => {
                            let top = s.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                            let sum: f64 = s.iter().map(|v| (v - top).exp()).sum();
                            let q = (s[k] - top).exp() / sum;
                            [
                                q - f64::from(y[r] as usize == k),
                                (q * (1.0 - q)).max(1e-16),
                            ]
                        }
                    }
                })
                .collect();
            let target = Target::Gradients(Gradients {
                gh,
                l2: p.l2,
                min_hess: p.min_hess,
                shrink: p.learning_rate,
                // Hessians kept even where they are all 1: the booster's unit-hessian
                // histograms must give the same trees.
                unit_hess: false,
            });
            let params = TreeParams {
                max_depth: p.max_depth,
                min_leaf: p.min_leaf,
                max_features: bins.n_features,
            };
            let tree = fit_tree(
                bins,
                &target,
                (0..n as u32).collect(),
                params,
                &mut Rng::new(0),
            );
            booster.trees.push((k, tree));
        }
    }
    booster
}

#[test]
fn booster_equals_plain_boosting_for_every_loss() {
    for (loss, k) in [
        (Loss::Squared, 0),
        (Loss::Logistic, 2),
        (Loss::Softmax { n_classes: 3 }, 3),
    ] {
        // 2,000 rows: roots and large nodes are counted from row-major codes, the rest by
        // feature, as the reference counts every node.
        let (bins, y) = boost_table(2000, 4, k, 11);
        let p = boost_params(6);
        let ours = fit_boost(&bins, &y, loss, p);
        let plain = reference_boost(&bins, &y, loss, p, &ours.base);
        assert_eq!(ours.trees.len(), 6 * loss.n_scores());
        assert_eq!(ours.trees, plain.trees, "{loss:?}");
        // Trees that split, with leaves of both signs.
        assert!(ours.trees.iter().all(|(_, t)| t.nodes.len() > 3));
    }
}

#[test]
fn booster_starts_from_the_best_constant_and_lowers_the_loss() {
    let (bins, y) = boost_table(2000, 4, 2, 3);
    let share = y.iter().sum::<f32>() as f64 / y.len() as f64;
    let log_loss = |b: &Booster| {
        let mut s = [0.0];
        let mut total = 0.0;
        for (r, yr) in y.iter().enumerate() {
            let codes: Vec<u8> = (0..4).map(|f| bins.column(f)[r]).collect();
            b.predict_codes(&codes, &mut s);
            let q = 1.0 / (1.0 + (-s[0]).exp());
            total -= if *yr == 1.0 { q.ln() } else { (1.0 - q).ln() };
        }
        total / bins.n_rows as f64
    };
    let none = fit_boost(&bins, &y, Loss::Logistic, boost_params(0));
    assert!((none.base[0] - (share / (1.0 - share)).ln()).abs() < 1e-12);
    let mut last = log_loss(&none);
    for rounds in [1, 5, 20] {
        let now = log_loss(&fit_boost(&bins, &y, Loss::Logistic, boost_params(rounds)));
        assert!(
            now < last,
            "{rounds} rounds: log loss {now} not below {last}"
        );
        last = now;
    }
}

#[test]
fn booster_is_the_same_on_one_thread_and_many_and_skips_absent_classes() {
    let (bins, mut y) = boost_table(3000, 5, 4, 8);
    // Class 1 never occurs: it keeps the absent logit and gets no trees.
    y.iter_mut().filter(|v| **v == 1.0).for_each(|v| *v = 2.0);
    let loss = Loss::Softmax { n_classes: 4 };
    let grow = |threads: usize| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| fit_boost(&bins, &y, loss, boost_params(4)))
    };
    let one = grow(1);
    assert_eq!(one.trees, grow(3).trees);
    assert_eq!(one.base[1], ABSENT_CLASS_LOGIT);
    assert!(one.trees.iter().all(|(k, _)| *k != 1));
    assert_eq!(one.trees.len(), 4 * 3);
    // One output: large nodes' histograms (30,000 rows x 20) are counted on every core, in
    // groups of whole 8-byte words of row-major codes (8, 8 and 4 features on 3 threads).
    let (bins, y) = boost_table(30_000, 20, 0, 8);
    let grow = |threads: usize| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| fit_boost(&bins, &y, Loss::Squared, boost_params(4)))
    };
    assert_eq!(grow(1).trees, grow(3).trees);
}
