//! The `cpu` target's linear models: per score `b + (x - mean) · w`, then the link.
//!
//! ## Design
//! A linear model is a streaming read of the input: 32 features are 128 bytes a row and two
//! 16-wide multiply-adds, so the kernel is worth as much as the vector width it gets and the
//! memory bandwidth it can draw on. The crate is built for baseline x86-64 (SSE2), so the
//! row loop is written once, generic and `#[inline(always)]`, and compiled three times: for
//! AVX-512, for AVX2 and for the baseline (see [`crate::simd`]); each call picks one at run
//! time from the CPU's features. The three are the same source with the same operations in the same
//! order (multiply, then add: no fused multiply-add, which would round once instead of
//! twice), so they give bit-identical scores and only the speed depends on the machine.
//!
//! Batches of [`PARALLEL_ROWS`] rows or more (too large for cache, so bandwidth-bound), or
//! [`PARALLEL_ROWS_MULTI`] for models with several scores (compute-bound), are split into
//! chunks shared by every core; smaller ones run on the caller's thread alone.

use crate::ir::{apply_link, sigmoid, softmax_rows, Body, Link, ModelIr};
use crate::simd::{dot, widest_vectors};

/// From this many rows (8 MiB of 32-feature input, about 100 µs on one core) a call of a
/// one-score model is shared by every core: below it, waking the other threads costs more
/// than they save.
pub const PARALLEL_ROWS: usize = 1 << 16;

/// The same for models with several scores, whose rows cost 20 to 40 ns (the softmax's
/// exponentials). Measured here with 6 classes: at 4096 rows (about 110 µs) the second
/// core gained nothing (rayon's worker woke too late to take a share), at 8192 rows 23 against
/// 30 ns a row, at 65,536 22 against 34.
pub const PARALLEL_ROWS_MULTI: usize = 1 << 13;

/// Rows per chunk handed to a thread in a parallel call (2 MiB of 32-feature input).
const CHUNK_ROWS: usize = 1 << 14;

/// A linear model in the layout the kernel reads.
pub struct FlatLinear {
    /// Models with one score: `n_features` weights, each divided by the standardization's
    /// scale, so a row costs a subtraction, a multiply and an add per feature and no division
    /// (empty otherwise).
    weights: Vec<f32>,
    /// Subtracted from every row first (zeros without standardization), so features with large
    /// offsets do not cancel as they would with the mean folded into the bias.
    mean: Vec<f32>,
    bias: Vec<f32>,
    /// Models with several scores: the weights (divided by the scale) transposed and padded, `n_features x lanes`
    /// (`lanes`: the scores rounded up to 16), so one row's scores are vectors, one
    /// multiply-add per feature and 16 scores (empty otherwise).
    by_feature: Vec<f32>,
    link: Link,
    n_features: usize,
    n_outputs: usize,
    cores: usize,
}

impl FlatLinear {
    /// `None` for bodies that are not linear. The IR must have passed [`ModelIr::validate`]
    /// (shapes consistent, at least one feature), as [`crate::target::CpuTarget`] checks.
    pub fn new(ir: &ModelIr) -> Option<Self> {
        let Body::Linear {
            weights,
            bias,
            link,
        } = &ir.body
        else {
            return None;
        };
        let nf = ir.n_features;
        let (weights, mean) = match &ir.standardize {
            Some(s) => (
                weights
                    .chunks_exact(nf)
                    .flat_map(|w| w.iter().zip(&s.scale).map(|(w, d)| w / d))
                    .collect(),
                s.mean.clone(),
            ),
            None => (weights.clone(), vec![0.0; nf]),
        };
        let ns = bias.len();
        let lanes = ns.div_ceil(16) * 16;
        let by_feature = if ns > 1 {
            let mut t = vec![0.0; nf * lanes];
            for (k, w) in weights.chunks_exact(nf).enumerate() {
                for (j, w) in w.iter().enumerate() {
                    t[j * lanes + k] = *w;
                }
            }
            t
        } else {
            Vec::new()
        };
        Some(FlatLinear {
            weights: if ns > 1 { Vec::new() } else { weights },
            mean,
            by_feature,
            bias: bias.clone(),
            link: *link,
            n_features: nf,
            n_outputs: ir.n_outputs,
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
        })
    }

    /// Bytes of parameters the kernel reads.
    pub fn bytes(&self) -> u64 {
        let floats = self.weights.len() + self.by_feature.len() + self.mean.len() + self.bias.len();
        (floats * 4) as u64
    }

    /// Threads a call of `n_rows` rows runs on.
    pub fn threads(&self, n_rows: usize) -> usize {
        let from = if self.bias.len() > 1 {
            PARALLEL_ROWS_MULTI
        } else {
            PARALLEL_ROWS
        };
        if n_rows >= from {
            self.cores
        } else {
            1
        }
    }

    /// Predicts `n_rows` rows of `x` into `out`; `scores` is scratch for models with more than
    /// one score. Buffer sizes are the caller's to check.
    pub fn predict(&self, x: &[f32], n_rows: usize, out: &mut [f32], scores: &mut Vec<f32>) {
        let (nf, no) = (self.n_features, self.n_outputs);
        let (x, out) = (&x[..n_rows * nf], &mut out[..n_rows * no]);
        if self.threads(n_rows) > 1 {
            use rayon::iter::{IndexedParallelIterator, ParallelIterator};
            use rayon::slice::{ParallelSlice, ParallelSliceMut};
            // Chunks of CHUNK_ROWS, or fewer so that every core gets one.
            let chunk = CHUNK_ROWS.min(n_rows.div_ceil(self.cores));
            x.par_chunks(chunk * nf)
                .zip(out.par_chunks_mut(chunk * no))
                .for_each_init(Vec::new, |scores, (x, out)| {
                    linear_rows(self, x, out, scores)
                });
        } else {
            linear_rows(self, x, out, scores);
        }
    }

    /// Every row of `x` (whole rows) into `out`.
    #[inline(always)]
    fn rows(&self, x: &[f32], out: &mut [f32], scores: &mut Vec<f32>) {
        let (nf, no, mean, link) = (self.n_features, self.n_outputs, &self.mean[..], self.link);
        if self.bias.len() == 1 {
            // One score (regression, binary): four rows at a time, so four independent dot
            // products are in flight, and no scratch between the score and the link.
            let (w, b) = (&self.weights[..nf], self.bias[0]);
            let mut rows = x.chunks_exact(4 * nf);
            let mut outs = out.chunks_exact_mut(4 * no);
            for (xr, o) in (&mut rows).zip(&mut outs) {
                let z = dot::<4, true>(xr, nf, mean, w);
                for (z, o) in z.iter().zip(o.chunks_exact_mut(no)) {
                    link_one(link, b + z, o);
                }
            }
            for (xr, o) in rows
                .remainder()
                .chunks_exact(nf)
                .zip(outs.into_remainder().chunks_exact_mut(no))
            {
                let [z] = dot::<1, true>(xr, nf, mean, w);
                link_one(link, b + z, o);
            }
            return;
        }
        // Several scores (multiclass): a block of rows at a time, each row's scores as vectors
        // of 16 (feature by feature, in feature order), then the link over the block.
        let ns = self.bias.len();
        let lanes = self.by_feature.len() / nf.max(1);
        scores.resize(BLOCK_ROWS * ns, 0.0);
        for (xb, ob) in x
            .chunks(BLOCK_ROWS * nf)
            .zip(out.chunks_mut(BLOCK_ROWS * no))
        {
            let rows = xb.len() / nf;
            let sb = &mut scores[..rows * ns];
            for (raw, sr) in xb.chunks_exact(nf).zip(sb.chunks_exact_mut(ns)) {
                for (t, (st, bt)) in sr.chunks_mut(16).zip(self.bias.chunks(16)).enumerate() {
                    let mut acc = [0.0f32; 16];
                    for ((v, m), wt) in raw
                        .iter()
                        .zip(mean)
                        .zip(self.by_feature.chunks_exact(lanes))
                    {
                        let (v, wt) = (v - m, &wt[t * 16..(t + 1) * 16]);
                        for i in 0..16 {
                            acc[i] += v * wt[i];
                        }
                    }
                    for ((s, b), a) in st.iter_mut().zip(bt).zip(acc) {
                        *s = b + a;
                    }
                }
            }
            if link == Link::Softmax {
                softmax_rows(sb, ns, ob);
            } else {
                for (s, o) in sb.chunks_exact(ns).zip(ob.chunks_exact_mut(no)) {
                    apply_link(link, s, o);
                }
            }
        }
    }
}

/// Rows per block of a multiclass model's scores (the scratch is `BLOCK_ROWS x scores`).
const BLOCK_ROWS: usize = 64;

/// [`FlatLinear::rows`] at the widest vectors: on AVX-512, models with one score and a
/// multiple of 16 features take sixteen rows at a time through [`avx512::rows16`] first.
fn linear_rows(lin: &FlatLinear, x: &[f32], out: &mut [f32], scores: &mut Vec<f32>) {
    #[cfg(target_arch = "x86_64")]
    let (x, out) = {
        let done = avx512::rows16(lin, x, out);
        (
            &x[done * lin.n_features..],
            &mut out[done * lin.n_outputs..],
        )
    };
    linear_rows_widest(lin, x, out, scores);
}

widest_vectors! {
    /// [`FlatLinear::rows`], compiled for the widest vectors this CPU has.
    fn linear_rows_widest(lin: &FlatLinear, x: &[f32], out: &mut [f32], scores: &mut Vec<f32>) {
        lin.rows(x, out, scores)
    }
}

/// Sixteen rows at a time with AVX-512 intrinsics: the sixteen rows' partial-sum registers
/// are reduced together, by transposing shuffles, instead of one horizontal sum per row,
/// which is most of the work of a 32-feature row in [`dot`] (1.5 against 2.7 ns a row on
/// 4096 rows of 32 features here). The additions are the ones [`dot`] does, pair for pair
/// (each shuffle stage lines up the lanes one level of its tree adds), so the scores are
/// bit-identical to the portable path's.
#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
mod avx512 {
    use super::{link_one, FlatLinear};
    use std::arch::x86_64::*;

    /// Runs as many whole groups of sixteen rows as `x` holds, if this CPU has AVX-512F and
    /// the model has one score and a multiple of 16 features; returns the rows done (0 if
    /// not).
    pub(super) fn rows16(lin: &FlatLinear, x: &[f32], out: &mut [f32]) -> usize {
        let nf = lin.n_features;
        if lin.bias.len() != 1
            || !nf.is_multiple_of(16)
            || !std::arch::is_x86_feature_detected!("avx512f")
        {
            return 0;
        }
        // SAFETY: `rows16_avx512` needs AVX-512F only, and this CPU has it (checked).
        unsafe { rows16_avx512(lin, x, out) }
    }

    #[target_feature(enable = "avx512f")]
    fn rows16_avx512(lin: &FlatLinear, x: &[f32], out: &mut [f32]) -> usize {
        let (nf, no) = (lin.n_features, lin.n_outputs);
        let (m, w) = (&lin.mean[..nf], &lin.weights[..nf]);
        let b = _mm512_set1_ps(lin.bias[0]);
        let mut done = 0;
        for (xr, o) in x.chunks_exact(16 * nf).zip(out.chunks_exact_mut(16 * no)) {
            let z = _mm512_add_ps(b, dot16(xr, nf, m, w));
            let mut zs = [0.0f32; 16];
            // SAFETY: `zs` holds the 16 floats written.
            unsafe { _mm512_storeu_ps(zs.as_mut_ptr(), z) };
            for (z, o) in zs.iter().zip(o.chunks_exact_mut(no)) {
                link_one(lin.link, *z, o);
            }
            done += 16;
        }
        done
    }

    /// `(x_r - m) · w` for the 16 rows of `x`, in row order.
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn dot16(x: &[f32], nf: usize, m: &[f32], w: &[f32]) -> __m512 {
        assert!(nf.is_multiple_of(16) && x.len() == 16 * nf && m.len() == nf && w.len() == nf);
        let (xp, mp, wp) = (x.as_ptr(), m.as_ptr(), w.as_ptr());
        // Row r's sixteen partial sums, as in `dot`: starting from zero, one chunk of sixteen
        // features after another.
        let mut acc = [_mm512_setzero_ps(); 16];
        for j in (0..nf).step_by(16) {
            // SAFETY: j + 16 <= nf and r * nf + j + 16 <= 16 * nf (asserted above), so every
            // load reads 16 floats inside its slice.
            unsafe {
                let (mj, wj) = (_mm512_loadu_ps(mp.add(j)), _mm512_loadu_ps(wp.add(j)));
                for (r, acc) in acc.iter_mut().enumerate() {
                    let xr = _mm512_loadu_ps(xp.add(r * nf + j));
                    *acc = _mm512_add_ps(*acc, _mm512_mul_ps(_mm512_sub_ps(xr, mj), wj));
                }
            }
        }
        // `dot`'s tree: lane i += lane i + 8, then + 4, + 2, + 1. Each stage packs two
        // registers' surviving lanes into one, so 16 rows take 15 additions in all.
        // i + 8: rows a, b -> [a0..8 | b0..8], each lane a_i + a_{i+8}.
        let p: [__m512; 8] = std::array::from_fn(|k| {
            let (a, b) = (acc[2 * k], acc[2 * k + 1]);
            _mm512_add_ps(
                _mm512_shuffle_f32x4::<0b01_00_01_00>(a, b),
                _mm512_shuffle_f32x4::<0b11_10_11_10>(a, b),
            )
        });
        // i + 4: [a | b], [c | d] -> four rows' quarters, each lane x_i + x_{i+4}.
        let q: [__m512; 4] = std::array::from_fn(|k| {
            let (a, b) = (p[2 * k], p[2 * k + 1]);
            _mm512_add_ps(
                _mm512_shuffle_f32x4::<0b10_00_10_00>(a, b),
                _mm512_shuffle_f32x4::<0b11_01_11_01>(a, b),
            )
        });
        // i + 2, within 128-bit lanes: quarter j holds rows (j, 4 + j), then (8 + j, 12 + j).
        let r: [__m512; 2] = std::array::from_fn(|k| {
            let (a, b) = (q[2 * k], q[2 * k + 1]);
            _mm512_add_ps(
                _mm512_shuffle_ps::<0b01_00_01_00>(a, b),
                _mm512_shuffle_ps::<0b11_10_11_10>(a, b),
            )
        });
        // i + 1: lane 4j + p holds row j + 4p.
        let s = _mm512_add_ps(
            _mm512_shuffle_ps::<0b10_00_10_00>(r[0], r[1]),
            _mm512_shuffle_ps::<0b11_01_11_01>(r[0], r[1]),
        );
        let order = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
        // `dot` adds its (here empty) tail sum, 0.0: the same addition, for -0.0's sake.
        _mm512_add_ps(_mm512_permutexvar_ps(order, s), _mm512_setzero_ps())
    }
}

/// [`apply_link`] for one score, inlined (the general one is a call per row, and keeps the
/// compiler from interleaving rows): the same operations, so the same bits.
#[inline(always)]
fn link_one(link: Link, z: f32, out: &mut [f32]) {
    match link {
        Link::Identity => out[0] = z,
        Link::Sigmoid => {
            let p = sigmoid(z);
            out[0] = 1.0 - p;
            out[1] = p;
        }
        _ => apply_link(link, &[z], out),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::{Standardize, IR_VERSION};

    fn model(nf: usize, n_scores: usize, link: Link, n_outputs: usize) -> ModelIr {
        let weights = (0..nf * n_scores)
            .map(|i| ((i * 37 % 101) as f32 - 50.0) / 17.0)
            .collect();
        ModelIr {
            ir_version: IR_VERSION,
            n_features: nf,
            n_outputs,
            classification: n_outputs > 1,
            standardize: Some(Standardize {
                mean: (0..nf).map(|j| 1000.0 + j as f32).collect(),
                scale: (0..nf).map(|j| 0.5 + j as f32 / 8.0).collect(),
            }),
            body: Body::Linear {
                weights,
                bias: (0..n_scores).map(|k| k as f32 * 0.25 - 0.5).collect(),
                link,
            },
        }
    }

    fn rows(n: usize, nf: usize) -> Vec<f32> {
        (0..n * nf)
            .map(|i| 1000.0 + (i % nf) as f32 + ((i * 7919 % 1009) as f32 - 504.0) / 100.0)
            .collect()
    }

    #[test]
    fn every_shape_and_path_matches_the_formula() {
        // Feature counts around the 16-lane chunk, every link, row counts around the four-row
        // step, and one batch past PARALLEL_ROWS (several chunks, a ragged last one).
        for (nf, n_scores, link, no) in [
            (1, 1, Link::Identity, 1),
            (15, 1, Link::Identity, 1),
            (32, 1, Link::Identity, 1),
            (33, 1, Link::Sigmoid, 2),
            (32, 3, Link::Softmax, 3),
            (17, 4, Link::OvrSigmoid, 4),
            // More scores than one 16-lane tile: a whole tile and a ragged one.
            (5, 20, Link::Softmax, 20),
        ] {
            let ir = model(nf, n_scores, link, no).validate().unwrap();
            let lin = FlatLinear::new(&ir).unwrap();
            let big = PARALLEL_ROWS + CHUNK_ROWS / 2 + 3;
            for n in [1, 3, 4, 5, 64, 67, PARALLEL_ROWS_MULTI + 7, big] {
                if n == big && nf != 32 {
                    continue;
                }
                let x = rows(n, nf);
                // The IR's definition: what every code path must agree with.
                let want = crate::ir::eval(&ir, &x, n);
                let mut got = vec![f32::NAN; n * no];
                lin.predict(&x, n, &mut got, &mut Vec::new());
                for (i, (g, w)) in got.iter().zip(&want).enumerate() {
                    assert!(
                        (g - w).abs() <= 1e-5 * w.abs().max(1.0),
                        "nf {nf}, {n_scores} scores, {n} rows: output {i}: {g} vs {w}"
                    );
                }
            }
        }
    }

    #[test]
    fn the_vector_paths_give_the_same_bits_as_the_baseline() {
        // `rows` called here is the baseline build; `linear_rows` picks this CPU's widest
        // (on AVX-512, sixteen rows at a time for 32 and 64 features, then the rest).
        for (nf, n_scores, link, no) in [
            (32, 1, Link::Identity, 1),
            (64, 1, Link::Sigmoid, 2),
            (33, 1, Link::Identity, 1),
            (32, 3, Link::Softmax, 3),
        ] {
            let lin = FlatLinear::new(&model(nf, n_scores, link, no)).unwrap();
            let n = 1031;
            let mut x = rows(n, nf);
            // Cancellation to exact zeros and signed zeros: rows equal to the mean.
            x[..nf].copy_from_slice(&lin.mean);
            let mut base = vec![0.0; n * no];
            lin.rows(&x, &mut base, &mut Vec::new());
            let mut best = vec![0.0; n * no];
            linear_rows(&lin, &x, &mut best, &mut Vec::new());
            let bits = |v: &[f32]| v.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&base), bits(&best), "{nf} features, {n_scores} scores");
        }
    }

    #[test]
    fn large_batches_use_every_core() {
        let lin = FlatLinear::new(&model(32, 1, Link::Identity, 1)).unwrap();
        assert_eq!(lin.threads(1), 1);
        assert_eq!(lin.threads(PARALLEL_ROWS - 1), 1);
        assert_eq!(lin.threads(PARALLEL_ROWS), lin.cores);
        let multi = FlatLinear::new(&model(32, 3, Link::Softmax, 3)).unwrap();
        assert_eq!(multi.threads(PARALLEL_ROWS_MULTI - 1), 1);
        assert_eq!(multi.threads(PARALLEL_ROWS_MULTI), multi.cores);
    }
}
