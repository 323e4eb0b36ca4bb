//! The hot kernels, in one place so they can be tuned in one place: fused softmax
//! cross-entropy over rows or columns of a score matrix, and row normalisation.
//!
//! Matrices are nalgebra's column-major `DMatrix`. The row-wise softmax therefore runs column by
//! column (the inner loop walks down a column, contiguous and vectorisable), keeping per-row
//! maxima and sums in caller-owned scratch vectors; nothing here allocates.

use gmm_core::nalgebra::DMatrix;

use crate::scalar::{Real, from_f64};

/// In place: `buf[i] = weight * softmax(buf)[i] - weight * [i == target]`; returns
/// `logsumexp(buf) - buf[target]` (of the input).
pub fn softmax_xent_in_place<T: Real>(buf: &mut [T], target: usize, weight: T) -> T {
    let mx = max_of(buf);
    let positive = buf[target];
    let sum = exp_shifted_in_place(buf, mx);
    let scale = weight / sum;
    for o in buf.iter_mut() {
        *o *= scale;
    }
    buf[target] -= weight;
    mx + sum.ln() - positive
}

/// The largest value (`-inf` for an empty slice; NaN entries are skipped, as by `f64::max`),
/// in eight lanes so that the loop vectorises (`f64::max`'s NaN rule keeps a fold scalar). The
/// maximum is exact, so the lanes change no bit.
fn max_of<T: Real>(buf: &[T]) -> T {
    const L: usize = 8;
    let neg_inf = from_f64::<T>(f64::NEG_INFINITY);
    let mut lanes = [neg_inf; L];
    let mut chunks = buf.chunks_exact(L);
    for c in &mut chunks {
        for l in 0..L {
            lanes[l] = if c[l] > lanes[l] { c[l] } else { lanes[l] };
        }
    }
    chunks.remainder().iter().chain(&lanes).copied().fold(neg_inf, T::max)
}

#[inline(always)]
fn exp_shifted_in_place_generic<T: Real>(buf: &mut [T], shift: T) -> T {
    // Two loops: the map has no loop-carried dependency, so it vectorises; the sum keeps
    // sixteen partial sums so that it vectorises too, in a fixed order.
    for d in buf.iter_mut() {
        *d = T::fast_exp(*d - shift);
    }
    const L: usize = 16;
    let mut acc = [T::zero(); L];
    let mut chunks = buf.chunks_exact(L);
    for d in &mut chunks {
        for l in 0..L {
            acc[l] += d[l];
        }
    }
    for (l, d) in chunks.remainder().iter().enumerate() {
        acc[l] += *d;
    }
    // Pairwise in a fixed order.
    let mut width = L;
    while width > 1 {
        width /= 2;
        for l in 0..width {
            acc[l] += acc[l + width];
        }
    }
    acc[0]
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn exp_shifted_in_place_avx2<T: Real>(buf: &mut [T], shift: T) -> T {
    exp_shifted_in_place_generic(buf, shift)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn exp_shifted_in_place_avx512<T: Real>(buf: &mut [T], shift: T) -> T {
    exp_shifted_in_place_generic(buf, shift)
}

/// `buf[i] = exp(buf[i] - shift)` with [`Real::fast_exp`]; returns the sum (fixed summation
/// order). Uses AVX-512 or AVX2 when the processor has them: the same arithmetic (no fused
/// multiply-add: Rust never contracts `a * b + c`) several lanes at a time, so the same bits.
pub fn exp_shifted_in_place<T: Real>(buf: &mut [T], shift: T) -> T {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx512f") {
        // SAFETY: the processor supports AVX-512F, checked just above.
        return unsafe { exp_shifted_in_place_avx512(buf, shift) };
    }
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the processor supports AVX2, checked just above.
        return unsafe { exp_shifted_in_place_avx2(buf, shift) };
    }
    exp_shifted_in_place_generic(buf, shift)
}

/// Row-wise softmax cross-entropy with targets `target[i]` (column index of row `i`'s positive).
///
/// Writes `out = weight * (softmax_rows(S) - onehot(target))` (overwriting `out`) and returns
/// `sum_i [logsumexp_j S_ij - S_{i, target[i]}]`. Entries of `S` equal to `-inf` (masked) get
/// probability 0. `row_max`, `row_sum` are scratch of length `n`.
pub fn row_softmax_xent<T: Real>(
    s: &DMatrix<T>,
    target: &[usize],
    weight: T,
    out: &mut DMatrix<T>,
    row_max: &mut [T],
    row_sum: &mut [T],
) -> T {
    let (n, m) = s.shape();
    row_max.fill(from_f64(f64::NEG_INFINITY));
    row_sum.fill(T::zero());
    for j in 0..m {
        for (mx, &v) in row_max.iter_mut().zip(s.column(j).iter()) {
            *mx = mx.max(v);
        }
    }
    for j in 0..m {
        let src = s.column(j);
        let mut dst = out.column_mut(j);
        for ((o, &v), (&mx, sum)) in dst.iter_mut().zip(src.iter()).zip(row_max.iter().zip(row_sum.iter_mut())) {
            let e = T::fast_exp(v - mx);
            *o = e;
            *sum += e;
        }
    }
    let mut loss = T::zero();
    for i in 0..n {
        loss += row_max[i] + row_sum[i].ln() - s[(i, target[i])];
        row_sum[i] = weight / row_sum[i]; // reuse as the scale of row i
    }
    for j in 0..m {
        for (o, &scale) in out.column_mut(j).iter_mut().zip(row_sum.iter()) {
            *o *= scale;
        }
    }
    for (i, &t) in target.iter().enumerate() {
        out[(i, t)] -= weight;
    }
    loss
}

/// Normalises each row of `z` into `out` (`out_i = z_i / ||z_i||`) and stores the norms,
/// clamped below at `1e-12` so that a zero row gives a zero output, not NaN.
pub fn normalize_rows<T: Real>(z: &DMatrix<T>, out: &mut DMatrix<T>, norms: &mut [T]) {
    norms.fill(T::zero());
    for j in 0..z.ncols() {
        for (nrm, &v) in norms.iter_mut().zip(z.column(j).iter()) {
            *nrm += v * v;
        }
    }
    for nrm in norms.iter_mut() {
        *nrm = nrm.sqrt().max(from_f64(1e-12));
    }
    for j in 0..z.ncols() {
        for ((o, &v), &nrm) in out.column_mut(j).iter_mut().zip(z.column(j).iter()).zip(norms.iter()) {
            *o = v / nrm;
        }
    }
}

/// Backward pass of [`normalize_rows`]: given `g = dL/d(normalised)` (overwritten) returns
/// `dL/dz_i = (g_i - (g_i . u_i) u_i) / ||z_i||` in `g`, with `u` the normalised rows.
pub fn normalize_rows_backward<T: Real>(u: &DMatrix<T>, norms: &[T], g: &mut DMatrix<T>, dots: &mut [T]) {
    dots.fill(T::zero());
    for j in 0..u.ncols() {
        for ((d, &a), &b) in dots.iter_mut().zip(u.column(j).iter()).zip(g.column(j).iter()) {
            *d += a * b;
        }
    }
    for j in 0..u.ncols() {
        let uj = u.column(j);
        for (((gv, &uv), &d), &nrm) in g.column_mut(j).iter_mut().zip(uj.iter()).zip(dots.iter()).zip(norms.iter()) {
            *gv = (*gv - d * uv) / nrm;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shifted_exponentials_sum_to_the_direct_sum() {
        let src: Vec<f64> = (0..37).map(|i| -0.37 * i as f64).collect();
        let mut dst = src.clone();
        let sum = exp_shifted_in_place(&mut dst, 0.0);
        let direct: f64 = src.iter().map(|v| v.exp()).sum();
        assert!((sum - direct).abs() < 1e-14);
    }

    /// Every instruction-set path gives the bits of the portable loop (values and sum), on
    /// the paths this processor has, in `T` (inputs from `lo` in steps of `step`).
    fn same_bits_on_every_instruction_set<T: Real>(lo: f64, step: f64) {
        let src: Vec<T> = (0..1003).map(|i| from_f64(lo + step * i as f64 + (i % 7) as f64 * 1e-3)).collect();
        let shift = from_f64::<T>(3.25);
        let run = |f: &dyn Fn(&mut [T]) -> T| {
            let mut buf = src.clone();
            let sum = f(&mut buf);
            (
                crate::scalar::to_f64(sum).to_bits(),
                buf.iter().map(|&v| crate::scalar::to_f64(v).to_bits()).collect::<Vec<_>>(),
            )
        };
        let portable = run(&|b| exp_shifted_in_place_generic(b, shift));
        assert_eq!(run(&|b| exp_shifted_in_place(b, shift)), portable);
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx2") {
                // SAFETY: AVX2 is present.
                assert_eq!(run(&|b| unsafe { exp_shifted_in_place_avx2(b, shift) }), portable);
            }
            if std::arch::is_x86_feature_detected!("avx512f") {
                // SAFETY: AVX-512F is present.
                assert_eq!(run(&|b| unsafe { exp_shifted_in_place_avx512(b, shift) }), portable);
            }
        }
    }

    #[test]
    fn exp_has_the_same_bits_on_every_instruction_set() {
        same_bits_on_every_instruction_set::<f64>(-740.0, 1.459);
        same_bits_on_every_instruction_set::<f32>(-95.0, 0.19);
    }

    #[test]
    fn lane_maximum_is_the_maximum() {
        let v: Vec<f64> = (0..37).map(|i| ((i * 17) % 23) as f64 - 11.5).collect();
        assert_eq!(max_of(&v), v.iter().copied().fold(f64::NEG_INFINITY, f64::max));
        assert_eq!(max_of::<f64>(&[]), f64::NEG_INFINITY);
        assert_eq!(max_of(&[f64::NEG_INFINITY, -3.0, f64::NAN, -1.0, f64::NEG_INFINITY]), -1.0);
        let mut with_nan = v.clone();
        with_nan[9] = f64::NAN;
        assert_eq!(max_of(&with_nan), 10.5);
    }

    #[test]
    fn row_softmax_agrees_with_direct_formulas() {
        let s = DMatrix::from_row_slice(2, 3, &[1.0, 2.0, 0.5, -1.0, 0.0, 3.0]);
        let mut out = DMatrix::zeros(2, 3);
        let (mut a, mut b) = (vec![0.0; 2], vec![0.0; 2]);
        let loss = row_softmax_xent(&s, &[0, 2], 1.0, &mut out, &mut a, &mut b);
        let lse0 = (1f64.exp() + 2f64.exp() + 0.5f64.exp()).ln();
        let lse1 = ((-1f64).exp() + 1.0 + 3f64.exp()).ln();
        assert!((loss - (lse0 - 1.0 + lse1 - 3.0)).abs() < 1e-14);
        assert!((out[(0, 1)] - (2.0 - lse0).exp()).abs() < 1e-15);
        assert!((out[(1, 2)] - ((3.0 - lse1).exp() - 1.0)).abs() < 1e-15);
    }
}
