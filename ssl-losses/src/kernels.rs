//! The hot kernels, in one place so they can be tuned in one place: fused softmax
//! cross-entropy over rows or columns of a score matrix, and row normalisation.
//!
//! Matrices are nalgebra's column-major `DMatrix`. The row-wise softmax therefore runs column by
//! column (the inner loop walks down a column, contiguous and vectorisable), keeping per-row
//! maxima and sums in caller-owned scratch vectors; nothing here allocates.

use nalgebra::DMatrix;

pub use gmm_core::linalg::{Op, gemm};

/// `log2(e)`.
const LOG2E: f64 = std::f64::consts::LOG2_E;
/// `ln 2` split in a high part exact in 32 bits and a low remainder (Cody-Waite reduction).
const LN2_HI: f64 = 0.693_147_180_369_123_8;
const LN2_LO: f64 = 1.908_214_929_270_587_7e-10;
/// `1 / j!` for `j = 0..=13`.
const INV_FACTORIAL: [f64; 14] = {
    let mut c = [1.0; 14];
    let mut j = 1;
    while j < 14 {
        c[j] = c[j - 1] / j as f64;
        j += 1;
    }
    c
};
/// `1.5 * 2^52`: adding it rounds to an integer and leaves that integer in the low mantissa bits.
const ROUND_MAGIC: f64 = 6_755_399_441_055_744.0;

/// `exp(x)` without a library call, so that loops over slices vectorise.
///
/// Cody-Waite reduction `x = k ln 2 + t`, `|t| <= ln 2 / 2`, Taylor polynomial of degree 13 for
/// `exp(t)` evaluated by Estrin's scheme (truncation below `0.35^14 / 14! < 5e-18` relative), scaling by `2^k` built in the
/// exponent bits. Measured relative error below `1e-15` against `f64::exp` on `[-708, 709]`
/// (see the test). Inputs below `-708` return `exp(-708) ~ 3.3e-308` (an absolute error below
/// `3.3e-308`; the softmax only feeds it non-positive shifted scores), inputs above 709 are
/// clamped to 709. No fused multiply-add is used, so every instruction set gives the same bits.
#[inline(always)]
pub fn exp(x: f64) -> f64 {
    let x = x.clamp(-708.0, 709.0);
    let shifted = x * LOG2E + ROUND_MAGIC;
    let k = shifted - ROUND_MAGIC;
    // The low mantissa bits of `shifted` hold k; adding the exponent bias and shifting by 52
    // drops everything above them, leaving the bits of 2^k (k + 1023 is in 1..=2046).
    let scale = f64::from_bits(shifted.to_bits().wrapping_add(1023) << 52);
    let t = (x - k * LN2_HI) - k * LN2_LO;
    // Estrin's scheme on the Taylor coefficients 1/j!: the same polynomial as Horner's rule with
    // a dependency chain of depth 5 instead of 13, so that consecutive elements overlap.
    let c = &INV_FACTORIAL;
    let t2 = t * t;
    let t4 = t2 * t2;
    let t8 = t4 * t4;
    let q0 = c[0] + c[1] * t;
    let q1 = c[2] + c[3] * t;
    let q2 = c[4] + c[5] * t;
    let q3 = c[6] + c[7] * t;
    let q4 = c[8] + c[9] * t;
    let q5 = c[10] + c[11] * t;
    let q6 = c[12] + c[13] * t;
    let r0 = q0 + q1 * t2;
    let r1 = q2 + q3 * t2;
    let r2 = q4 + q5 * t2;
    let s0 = r0 + r1 * t4;
    let s1 = r2 + q6 * t4;
    let p = s0 + s1 * t8;
    p * scale
}

/// In place: `buf[i] = weight * softmax(buf)[i] - weight * [i == target]`; returns
/// `logsumexp(buf) - buf[target]` (of the input).
pub fn softmax_xent_in_place(buf: &mut [f64], target: usize, weight: f64) -> f64 {
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
fn max_of(buf: &[f64]) -> f64 {
    const L: usize = 8;
    let mut lanes = [f64::NEG_INFINITY; L];
    let mut chunks = buf.chunks_exact(L);
    for c in &mut chunks {
        for l in 0..L {
            lanes[l] = if c[l] > lanes[l] { c[l] } else { lanes[l] };
        }
    }
    chunks.remainder().iter().chain(&lanes).copied().fold(f64::NEG_INFINITY, f64::max)
}

#[inline(always)]
fn exp_shifted_in_place_generic(buf: &mut [f64], shift: f64) -> f64 {
    // Two loops: the map has no loop-carried dependency, so it vectorises; the sum keeps
    // sixteen partial sums so that it vectorises too, in a fixed order.
    for d in buf.iter_mut() {
        *d = exp(*d - shift);
    }
    const L: usize = 16;
    let mut acc = [0.0f64; L];
    let mut chunks = buf.chunks_exact(L);
    for d in &mut chunks {
        for l in 0..L {
            acc[l] += d[l];
        }
    }
    for (l, d) in chunks.remainder().iter().enumerate() {
        acc[l] += d;
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
fn exp_shifted_in_place_avx2(buf: &mut [f64], shift: f64) -> f64 {
    exp_shifted_in_place_generic(buf, shift)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn exp_shifted_in_place_avx512(buf: &mut [f64], shift: f64) -> f64 {
    exp_shifted_in_place_generic(buf, shift)
}

/// `buf[i] = exp(buf[i] - shift)` with [`exp`]; returns the sum (fixed summation order). Uses
/// AVX-512 or AVX2 when the processor has them: the same arithmetic (no fused multiply-add:
/// Rust never contracts `a * b + c`) eight or four lanes at a time, so the same bits.
pub fn exp_shifted_in_place(buf: &mut [f64], shift: f64) -> f64 {
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
pub fn row_softmax_xent(
    s: &DMatrix<f64>,
    target: &[usize],
    weight: f64,
    out: &mut DMatrix<f64>,
    row_max: &mut [f64],
    row_sum: &mut [f64],
) -> f64 {
    let (n, m) = s.shape();
    row_max.fill(f64::NEG_INFINITY);
    row_sum.fill(0.0);
    for j in 0..m {
        for (mx, &v) in row_max.iter_mut().zip(s.column(j).iter()) {
            *mx = mx.max(v);
        }
    }
    for j in 0..m {
        let src = s.column(j);
        let mut dst = out.column_mut(j);
        for ((o, &v), (&mx, sum)) in dst.iter_mut().zip(src.iter()).zip(row_max.iter().zip(row_sum.iter_mut())) {
            let e = exp(v - mx);
            *o = e;
            *sum += e;
        }
    }
    let mut loss = 0.0;
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

/// Column-wise softmax cross-entropy with targets `target[j]` (row index of column `j`'s
/// positive). **Adds** `weight * (softmax_cols(S) - onehot(target))` into `out` and returns
/// `sum_j [logsumexp_i S_ij - S_{target[j], j}]`. `probs` is scratch of length `n` (rows).
pub fn col_softmax_xent_add(
    s: &DMatrix<f64>,
    target: &[usize],
    weight: f64,
    out: &mut DMatrix<f64>,
    probs: &mut [f64],
) -> f64 {
    let mut loss = 0.0;
    for (j, &t) in target.iter().enumerate() {
        probs.copy_from_slice(s.column(j).as_slice());
        loss += softmax_xent_in_place(probs, t, weight);
        for (o, &p) in out.column_mut(j).iter_mut().zip(probs.iter()) {
            *o += p;
        }
    }
    loss
}

/// Normalises each row of `z` into `out` (`out_i = z_i / ||z_i||`) and stores the norms,
/// clamped below at `1e-12` so that a zero row gives a zero output, not NaN.
pub fn normalize_rows(z: &DMatrix<f64>, out: &mut DMatrix<f64>, norms: &mut [f64]) {
    norms.fill(0.0);
    for j in 0..z.ncols() {
        for (nrm, &v) in norms.iter_mut().zip(z.column(j).iter()) {
            *nrm += v * v;
        }
    }
    for nrm in norms.iter_mut() {
        *nrm = nrm.sqrt().max(1e-12);
    }
    for j in 0..z.ncols() {
        for ((o, &v), &nrm) in out.column_mut(j).iter_mut().zip(z.column(j).iter()).zip(norms.iter()) {
            *o = v / nrm;
        }
    }
}

/// Backward pass of [`normalize_rows`]: given `g = dL/d(normalised)` (overwritten) returns
/// `dL/dz_i = (g_i - (g_i . u_i) u_i) / ||z_i||` in `g`, with `u` the normalised rows.
pub fn normalize_rows_backward(u: &DMatrix<f64>, norms: &[f64], g: &mut DMatrix<f64>, dots: &mut [f64]) {
    dots.fill(0.0);
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
    fn fast_exp_is_accurate_to_a_few_ulp() {
        let mut worst: f64 = 0.0;
        for i in 0..=200_000 {
            let x = -708.0 + 1417.0 * i as f64 / 200_000.0;
            let rel = (exp(x) - x.exp()).abs() / x.exp();
            worst = worst.max(rel);
        }
        assert!(worst < 1e-15, "worst relative error {worst:e}");
        assert_eq!(exp(0.0), 1.0);
        assert!(exp(-1e6) < 4e-308 && exp(-1e6) >= 0.0);
        let src: Vec<f64> = (0..37).map(|i| -0.37 * i as f64).collect();
        let mut dst = src.clone();
        let sum = exp_shifted_in_place(&mut dst, 0.0);
        let direct: f64 = src.iter().map(|v| v.exp()).sum();
        assert!((sum - direct).abs() < 1e-14);
    }

    /// Every instruction-set path gives the bits of the portable loop (values and sum), on
    /// the paths this processor has.
    #[test]
    fn exp_has_the_same_bits_on_every_instruction_set() {
        let src: Vec<f64> = (0..1003).map(|i| -740.0 + 1.459 * i as f64 + (i % 7) as f64 * 1e-3).collect();
        let run = |f: &dyn Fn(&mut [f64]) -> f64| {
            let mut buf = src.clone();
            let sum = f(&mut buf);
            (sum.to_bits(), buf.iter().map(|v| v.to_bits()).collect::<Vec<_>>())
        };
        let portable = run(&|b| exp_shifted_in_place_generic(b, 3.25));
        assert_eq!(run(&|b| exp_shifted_in_place(b, 3.25)), portable);
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx2") {
                // SAFETY: AVX2 is present.
                assert_eq!(run(&|b| unsafe { exp_shifted_in_place_avx2(b, 3.25) }), portable);
            }
            if std::arch::is_x86_feature_detected!("avx512f") {
                // SAFETY: AVX-512F is present.
                assert_eq!(run(&|b| unsafe { exp_shifted_in_place_avx512(b, 3.25) }), portable);
            }
        }
    }

    #[test]
    fn lane_maximum_is_the_maximum() {
        let v: Vec<f64> = (0..37).map(|i| ((i * 17) % 23) as f64 - 11.5).collect();
        assert_eq!(max_of(&v), v.iter().copied().fold(f64::NEG_INFINITY, f64::max));
        assert_eq!(max_of(&[]), f64::NEG_INFINITY);
        assert_eq!(max_of(&[f64::NEG_INFINITY, -3.0, f64::NAN, -1.0, f64::NEG_INFINITY]), -1.0);
        let mut with_nan = v.clone();
        with_nan[9] = f64::NAN;
        assert_eq!(max_of(&with_nan), 10.5);
    }

    #[test]
    fn row_and_column_softmax_agree_with_direct_formulas() {
        let s = DMatrix::from_row_slice(2, 3, &[1.0, 2.0, 0.5, -1.0, 0.0, 3.0]);
        let mut out = DMatrix::zeros(2, 3);
        let (mut a, mut b) = (vec![0.0; 2], vec![0.0; 2]);
        let loss = row_softmax_xent(&s, &[0, 2], 1.0, &mut out, &mut a, &mut b);
        let lse0 = (1f64.exp() + 2f64.exp() + 0.5f64.exp()).ln();
        let lse1 = ((-1f64).exp() + 1.0 + 3f64.exp()).ln();
        assert!((loss - (lse0 - 1.0 + lse1 - 3.0)).abs() < 1e-14);
        assert!((out[(0, 1)] - (2.0 - lse0).exp()).abs() < 1e-15);
        assert!((out[(1, 2)] - ((3.0 - lse1).exp() - 1.0)).abs() < 1e-15);
        let st = s.transpose();
        let mut out2 = DMatrix::zeros(3, 2);
        let loss2 = col_softmax_xent_add(&st, &[0, 2], 1.0, &mut out2, &mut [0.0; 3]);
        assert!((loss - loss2).abs() < 1e-14);
        assert!((out2.transpose() - out).amax() < 1e-15);
    }
}
