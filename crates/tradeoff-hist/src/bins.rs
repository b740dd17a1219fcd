//! Features binned once: at most 256 bins a feature, one byte a value.
//!
//! Bin edges are `f32` thresholds in our IR's rule: a value goes to the first bin whose edge
//! is above it, so `bin <= b` is exactly `x < edges[b]`, and a split found on bins exports as
//! that threshold without conversion. Edges lie halfway between neighbouring distinct training
//! values (as scikit-learn's `HistGradientBoosting` places them), rounded into `f32` so that
//! the lower value stays below the edge and the upper value does not.

use rayon::prelude::*;
use tradeoff_ir::rng::Rng;

/// The most bins a feature gets (codes are `u8`).
pub const MAX_BINS: usize = 256;

/// Rows drawn to place the edges when a table has more (as LightGBM's `bin_construct_sample_cnt`).
pub const EDGE_SAMPLE_ROWS: usize = 200_000;

/// Binned features, column-major: `codes[f * n_rows + r]` is row `r`'s bin of feature `f`.
#[derive(Debug, Clone)]
pub struct Bins {
    pub n_rows: usize,
    pub n_features: usize,
    /// Per feature, ascending; bin `b` holds the values `v` with `edges[b-1] <= v < edges[b]`.
    pub edges: Vec<Vec<f32>>,
    pub codes: Vec<u8>,
}

/// A threshold `t` with `a < t <= b` in `f32`, as close to their midpoint as `f32` allows.
fn midpoint(a: f32, b: f32) -> f32 {
    let m = ((a as f64 + b as f64) / 2.0) as f32;
    if m <= a {
        a.next_up()
    } else if m > b {
        b
    } else {
        m
    }
}

/// Edges for one feature's (sampled) values: every gap between distinct values when there are
/// at most `max_bins` of them, else cuts at equal shares of the values (quantiles), never
/// inside a run of equal values.
fn feature_edges(mut values: Vec<f32>, max_bins: usize) -> Vec<f32> {
    values.sort_unstable_by(f32::total_cmp);
    // Distinct values and how many times each occurs.
    let mut distinct: Vec<(f32, usize)> = Vec::new();
    for v in values.iter().copied() {
        match distinct.last_mut() {
            Some((last, n)) if *last == v => *n += 1,
            _ => distinct.push((v, 1)),
        }
    }
    if distinct.len() <= max_bins {
        return distinct
            .windows(2)
            .map(|w| midpoint(w[0].0, w[1].0))
            .collect();
    }
    let share = values.len() as f64 / max_bins as f64;
    let mut edges = Vec::with_capacity(max_bins - 1);
    let mut seen = 0usize;
    for w in distinct.windows(2) {
        seen += w[0].1;
        if seen as f64 >= share * (edges.len() + 1) as f64 {
            edges.push(midpoint(w[0].0, w[1].0));
            if edges.len() == max_bins - 1 {
                break;
            }
        }
    }
    edges
}

/// The bin of `v` under `edges`.
pub fn code(edges: &[f32], v: f32) -> u8 {
    edges.partition_point(|e| *e <= v) as u8
}

impl Bins {
    /// Bins row-major `x` (`n_rows x n_features`, all finite). Edges come from at most
    /// [`EDGE_SAMPLE_ROWS`] rows, drawn with `seed` when there are more; features are binned
    /// in parallel, each independently, so the result does not depend on the thread count.
    pub fn new(x: &[f32], n_rows: usize, n_features: usize, max_bins: usize, seed: u64) -> Bins {
        assert_eq!(x.len(), n_rows * n_features, "x is n_rows x n_features");
        let max_bins = max_bins.clamp(2, MAX_BINS);
        let sample: Option<Vec<usize>> = (n_rows > EDGE_SAMPLE_ROWS).then(|| {
            let mut rng = Rng::derive(seed, "bin-edges");
            let mut rows: Vec<usize> = (0..n_rows).collect();
            // A partial shuffle: the first EDGE_SAMPLE_ROWS rows are a uniform sample.
            for i in 0..EDGE_SAMPLE_ROWS {
                let j = i + rng.below(n_rows - i);
                rows.swap(i, j);
            }
            rows.truncate(EDGE_SAMPLE_ROWS);
            rows
        });
        let columns: Vec<(Vec<f32>, Vec<u8>)> = (0..n_features)
            .into_par_iter()
            .map(|f| {
                let values = match &sample {
                    Some(rows) => rows.iter().map(|&r| x[r * n_features + f]).collect(),
                    None => (0..n_rows).map(|r| x[r * n_features + f]).collect(),
                };
                let edges = feature_edges(values, max_bins);
                let codes = (0..n_rows)
                    .map(|r| code(&edges, x[r * n_features + f]))
                    .collect();
                (edges, codes)
            })
            .collect();
        let mut edges = Vec::with_capacity(n_features);
        let mut codes = Vec::with_capacity(n_rows * n_features);
        for (e, c) in columns {
            edges.push(e);
            codes.extend_from_slice(&c);
        }
        Bins {
            n_rows,
            n_features,
            edges,
            codes,
        }
    }

    /// Feature `f`'s codes, one a row.
    pub fn column(&self, f: usize) -> &[u8] {
        &self.codes[f * self.n_rows..(f + 1) * self.n_rows]
    }

    /// The codes row-major, each row padded to whole 8-byte words (`nf.div_ceil(8)` words a
    /// row; feature `f` of row `r` is byte `f % 8` of word `r * words + f / 8`): a node of
    /// scattered rows reads each row's codes from one cache line instead of one a feature.
    pub fn row_major(&self) -> Vec<[u8; 8]> {
        let (n, nf) = (self.n_rows, self.n_features);
        let words = nf.div_ceil(8);
        let mut out = vec![[0u8; 8]; n * words];
        const BLOCK: usize = 4096;
        out.par_chunks_mut(BLOCK * words.max(1))
            .enumerate()
            .for_each(|(i, chunk)| {
                let r0 = i * BLOCK;
                for f in 0..nf {
                    let col = &self.column(f)[r0..];
                    for (row, c) in chunk.chunks_exact_mut(words).zip(col) {
                        row[f / 8][f % 8] = *c;
                    }
                }
            });
        out
    }

    /// The bin codes of one row of raw features (to predict on bins).
    pub fn row_codes(&self, row: &[f32], out: &mut [u8]) {
        for ((c, edges), v) in out.iter_mut().zip(&self.edges).zip(row) {
            *c = code(edges, *v);
        }
    }

    /// How many bins feature `f` has.
    pub fn n_bins(&self, f: usize) -> usize {
        self.edges[f].len() + 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn few_distinct_values_get_one_bin_each_and_edges_split_them() {
        let x = [3.0, 1.0, 2.0, 1.0, 3.0, 2.0];
        let b = Bins::new(&x, 6, 1, 256, 1);
        assert_eq!(b.edges[0].len(), 2);
        assert_eq!(b.column(0), &[2, 0, 1, 0, 2, 1]);
        for (r, v) in x.iter().enumerate() {
            for (e, t) in b.edges[0].iter().enumerate() {
                assert_eq!(b.column(0)[r] as usize <= e, *v < *t);
            }
        }
    }

    #[test]
    fn edges_separate_neighbouring_floats() {
        let a = 1.0f32;
        let b = a.next_up();
        let t = midpoint(a, b);
        assert!(a < t && t <= b);
        let t = midpoint(-0.5, 0.25);
        assert_eq!(t, -0.125);
    }

    #[test]
    fn many_values_are_cut_at_quantiles_into_at_most_max_bins() {
        let n = 10_000;
        let x: Vec<f32> = (0..n).map(|i| ((i * 7919) % n) as f32).collect();
        let b = Bins::new(&x, n, 1, 256, 3);
        assert_eq!(b.n_bins(0), 256);
        let mut counts = [0usize; 256];
        for c in b.column(0) {
            counts[*c as usize] += 1;
        }
        let (lo, hi) = (counts.iter().min().unwrap(), counts.iter().max().unwrap());
        assert!(*lo >= 35 && *hi <= 45, "bins hold {lo}..{hi} rows");
        // Codes agree with the thresholds for every row.
        for (r, v) in x.iter().enumerate() {
            assert_eq!(b.column(0)[r], code(&b.edges[0], *v));
        }
    }

    #[test]
    fn runs_of_equal_values_are_never_split() {
        // Half the rows are 0: the quantile cuts must not put some zeros in another bin.
        let mut x = vec![0.0f32; 5000];
        x.extend((0..5000).map(|i| i as f32 + 1.0));
        let b = Bins::new(&x, 10_000, 1, 16, 3);
        let zero_bin = b.column(0)[0];
        assert!(b.column(0)[..5000].iter().all(|c| *c == zero_bin));
        assert!(b.column(0)[5000..].iter().all(|c| *c != zero_bin));
    }
}
