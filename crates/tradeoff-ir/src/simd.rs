//! Kernels compiled for the widest vectors the CPU has, picked at run time.
//!
//! ## Design
//! The crate is built for the baseline of its architecture (SSE2 on x86-64), so that one
//! binary runs on every machine a user merges results from. The `cpu` target's own loops
//! would get 4-wide vectors; `widest_vectors!` compiles a loop three times from the same
//! source, for AVX-512, AVX2 and the baseline, and each call runs the widest this CPU has.
//! The versions do the same operations in the same order (no fused multiply-add, which
//! would round once instead of twice), so they give bit-identical results and only the speed
//! depends on the machine. One `unsafe` call per version, behind the feature check.
//! Matrix products go through the `gemm` crate ([`gemm_into`]), which dispatches itself.

use crate::ir::Activation;

/// Defines a function that runs its body compiled for the widest vectors this CPU has:
/// AVX-512, AVX2 or the build's baseline, picked at run time. The body is compiled three times
/// from the same source, so every version does the same operations in the same order.
/// Everything it calls must be `#[inline(always)]` or generic: a call to an ordinary function
/// runs that function's baseline build (closures included).
macro_rules! widest_vectors {
    ($(#[$attr:meta])* $vis:vis fn $name:ident($($arg:ident: $ty:ty),* $(,)?) $(-> $ret:ty)? $body:block) => {
        $(#[$attr])*
        #[allow(unsafe_code)]
        $vis fn $name($($arg: $ty),*) $(-> $ret)? {
            #[inline(always)]
            fn body($($arg: $ty),*) $(-> $ret)? $body
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f")]
                fn avx512($($arg: $ty),*) $(-> $ret)? {
                    body($($arg),*)
                }
                #[target_feature(enable = "avx2")]
                fn avx2($($arg: $ty),*) $(-> $ret)? {
                    body($($arg),*)
                }
                // `is_x86_feature_detected!` reads a cached word after its first call.
                if std::arch::is_x86_feature_detected!("avx512f") {
                    // SAFETY: `avx512` needs AVX-512F only, and this CPU has it (checked).
                    return unsafe { avx512($($arg),*) };
                }
                if std::arch::is_x86_feature_detected!("avx2") {
                    // SAFETY: as above, for AVX2.
                    return unsafe { avx2($($arg),*) };
                }
            }
            body($($arg),*)
        }
    };
}
pub(crate) use widest_vectors;

widest_vectors! {
    /// A dense layer's product with few outputs (an MLP's last), where a matrix-product
    /// kernel's tiles would be mostly empty: `out_r = x_r · W` as one dot product per row and
    /// output, four rows at a time. `wt` is `W` transposed (`outputs x inputs`), `k` the
    /// inputs; like [`gemm_into`], it writes `out` and leaves the bias to [`bias_activation`].
    pub fn thin_layer(x: &[f32], k: usize, wt: &[f32], out: &mut [f32]) {
        let no = wt.len() / k;
        let mut rows = x.chunks_exact(4 * k);
        let mut outs = out.chunks_exact_mut(4 * no);
        for (xr, o) in (&mut rows).zip(&mut outs) {
            for (j, w) in wt.chunks_exact(k).enumerate() {
                let z = dot::<4, false>(xr, k, w, w);
                for (r, z) in z.iter().enumerate() {
                    o[r * no + j] = *z;
                }
            }
        }
        for (xr, o) in rows
            .remainder()
            .chunks_exact(k)
            .zip(outs.into_remainder().chunks_exact_mut(no))
        {
            for (w, o) in wt.chunks_exact(k).zip(o) {
                *o = dot::<1, false>(xr, k, w, w)[0];
            }
        }
    }
}

widest_vectors! {
    /// The sum of `x` with 64 independent partial sums, so that the loop is bound by its
    /// loads, not by the additions' latency: the benchmark's probe of memory bandwidth (the
    /// limit a linear model's large batches are held to).
    pub fn read_sum(x: &[f32]) -> f32 {
        let mut acc = [0.0f32; 64];
        let chunks = x.chunks_exact(64);
        let tail: f32 = chunks.remainder().iter().sum();
        for c in chunks {
            for i in 0..64 {
                acc[i] += c[i];
            }
        }
        let mut total = tail;
        for a in acc {
            total += a;
        }
        total
    }
}

widest_vectors! {
    /// `y += x · W` for one row `x` (`W` row-major, `x.len() x y.len()`), reading `W` once in
    /// its stored order and skipping the rows of zero inputs (ReLU's): the MLP layer of a
    /// batch of a few rows, where every weight is read once per row whatever the order. `y`
    /// is taken 64 outputs at a time, held in registers across all the inputs; each output
    /// still adds its terms in input order, so the bits are those of the plain loop.
    pub fn stream_layer(x: &[f32], w: &[f32], y: &mut [f32]) {
        const T: usize = 64;
        let n = y.len();
        let mut tiles = y.chunks_exact_mut(T);
        for (t, tile) in (&mut tiles).enumerate() {
            let mut acc = [0.0f32; T];
            acc.copy_from_slice(tile);
            for (xi, wr) in x.iter().zip(w.chunks_exact(n)) {
                if *xi != 0.0 {
                    let wt = &wr[t * T..(t + 1) * T];
                    for j in 0..T {
                        acc[j] += xi * wt[j];
                    }
                }
            }
            tile.copy_from_slice(&acc);
        }
        let rest = tiles.into_remainder();
        let start = n - rest.len();
        for (xi, wr) in x.iter().zip(w.chunks_exact(n)) {
            if *xi != 0.0 {
                for (y, w) in rest.iter_mut().zip(&wr[start..]) {
                    *y += xi * w;
                }
            }
        }
    }
}

widest_vectors! {
    /// Adds `bias` to every row of `y` (rows of `bias.len()`), then the activation: the pass
    /// after an MLP layer's matrix product, while the block is still in cache.
    pub fn bias_activation(y: &mut [f32], bias: &[f32], activation: Activation) {
        for row in y.chunks_exact_mut(bias.len()) {
            match activation {
                Activation::Identity => row.iter_mut().zip(bias).for_each(|(v, b)| *v += b),
                Activation::Relu => row
                    .iter_mut()
                    .zip(bias)
                    .for_each(|(v, b)| *v = (*v + b).max(0.0)),
                // A libm call a value: no vectors to win.
                other => row
                    .iter_mut()
                    .zip(bias)
                    .for_each(|(v, b)| *v = other.apply(*v + b)),
            }
        }
    }
}

/// Adds `Z'Z` to `g` (`q x q`, row-major) for row-major `z` (`rows x q`), with the `gemm`
/// crate's `f64` kernels on one thread (ridge regression's normal equations). The same inputs
/// give the same bits on a given CPU; another CPU's kernels may round differently.
#[allow(unsafe_code)]
pub fn gram_into(z: &[f64], rows: usize, q: usize, g: &mut [f64]) {
    assert!(z.len() == rows * q && g.len() == q * q);
    // SAFETY: the assert bounds every element the strides reach: the left operand is `z`
    // transposed (`q x rows`: row stride 1, column stride q), the right one `z` (`rows x q`:
    // row stride q, column stride 1), both within `rows * q` elements; `g` (`q x q`, row
    // stride q) is borrowed mutably, so it aliases neither.
    unsafe {
        gemm::gemm(
            q,
            q,
            rows,
            g.as_mut_ptr(),
            1,
            q as isize,
            true,
            z.as_ptr(),
            q as isize,
            1,
            z.as_ptr(),
            1,
            q as isize,
            1.0,
            1.0,
            false,
            false,
            false,
            gemm::Parallelism::None,
        )
    }
}

/// `c = a · b` for row-major `a` (`m x k`), `b` (`k x n`) and `c` (`m x n`), with the `gemm`
/// crate's kernels (AVX-512 where the CPU has it), on `threads` threads; `c` is written, not
/// read. Panics if the slices' lengths do not match the shape.
#[allow(unsafe_code)]
pub fn gemm_into(
    (m, k, n): (usize, usize, usize),
    a: &[f32],
    b: &[f32],
    c: &mut [f32],
    threads: usize,
) {
    assert!(a.len() == m * k && b.len() == k * n && c.len() == m * n);
    let parallelism = if threads > 1 {
        gemm::Parallelism::Rayon(threads)
    } else {
        gemm::Parallelism::None
    };
    // SAFETY: the assert bounds every element the strides reach: `a` has row stride k and
    // column stride 1 over m x k elements, `b` n and 1 over k x n, `c` n and 1 over m x n;
    // `c` is borrowed mutably, so it aliases neither input.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            c.as_mut_ptr(),
            1,
            n as isize,
            false,
            a.as_ptr(),
            1,
            k as isize,
            b.as_ptr(),
            1,
            n as isize,
            1.0,
            1.0,
            false,
            false,
            false,
            parallelism,
        )
    }
}

/// `(x_r - m) · w` (`CENTER`) or `x_r · w` for the `R` consecutive rows of `x` (`nf` each), each with sixteen
/// independent partial sums (one AVX-512 register, two AVX2 ones, four SSE2 ones) added up
/// pairwise: the compiler may not reorder a sequential `f32` sum, so this is what lets it
/// vectorize and keeps the dependency chain short, and a row's order of operations is the same
/// whatever the vector width and `R`. Plain indexed loops, no closures: a closure is compiled
/// apart, for the baseline, and a `#[target_feature]` caller would call it instead of
/// inlining it (that is what made an earlier dispatched version slower than the baseline).
#[inline(always)]
pub(crate) fn dot<const R: usize, const CENTER: bool>(
    x: &[f32],
    nf: usize,
    m: &[f32],
    w: &[f32],
) -> [f32; R] {
    const L: usize = 16;
    let (x, m, w) = (&x[..R * nf], &m[..nf], &w[..nf]);
    let mut acc = [[0.0f32; L]; R];
    let full = nf / L * L;
    let mut j = 0;
    while j < full {
        let (mj, wj) = (&m[j..j + L], &w[j..j + L]);
        for (r, acc) in acc.iter_mut().enumerate() {
            let xj = &x[r * nf + j..r * nf + j + L];
            for i in 0..L {
                let v = if CENTER { xj[i] - mj[i] } else { xj[i] };
                acc[i] += v * wj[i];
            }
        }
        j += L;
    }
    // The features past the last whole chunk, added in order; the rows interleaved, so their
    // sums are independent chains (a model of 11 features is all tail).
    let mut tail = [0.0f32; R];
    for k in full..nf {
        for (r, t) in tail.iter_mut().enumerate() {
            let v = if CENTER {
                x[r * nf + k] - m[k]
            } else {
                x[r * nf + k]
            };
            *t += v * w[k];
        }
    }
    let mut out = [0.0f32; R];
    for ((acc, out), tail) in acc.iter_mut().zip(&mut out).zip(tail) {
        let mut n = L;
        while n > 1 {
            n /= 2;
            for i in 0..n {
                acc[i] += acc[i + n];
            }
        }
        *out = acc[0] + tail;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gram_into_adds_every_product_of_two_columns() {
        // Odd sizes, and quarter-integers: every product and sum is exact in any order.
        let (rows, q) = (21, 7);
        let z: Vec<f64> = (0..rows * q)
            .map(|i| ((i * 37 % 19) as f64 - 9.0) / 4.0)
            .collect();
        let mut g = vec![1.0; q * q];
        gram_into(&z, rows, q, &mut g);
        for i in 0..q {
            for j in 0..q {
                let want = 1.0 + (0..rows).map(|r| z[r * q + i] * z[r * q + j]).sum::<f64>();
                assert_eq!(g[i * q + j], want, "entry {i},{j}");
            }
        }
    }
}
