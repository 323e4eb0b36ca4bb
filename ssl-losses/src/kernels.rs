//! The hot kernels, in one place so they can be tuned in one place: fused softmax
//! cross-entropy over rows or columns of a score matrix, and row normalisation.
//!
//! Matrices are nalgebra's column-major `DMatrix`. The row-wise softmax therefore runs column by
//! column (the inner loop walks down a column, contiguous and vectorisable), keeping per-row
//! maxima and sums in caller-owned scratch vectors; nothing here allocates.

use nalgebra::DMatrix;

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
            let e = (v - mx).exp();
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
/// `sum_j [logsumexp_i S_ij - S_{target[j], j}]`.
pub fn col_softmax_xent_add(s: &DMatrix<f64>, target: &[usize], weight: f64, out: &mut DMatrix<f64>) -> f64 {
    let mut loss = 0.0;
    for j in 0..s.ncols() {
        let col = s.column(j);
        let mx = col.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let sum: f64 = col.iter().map(|&v| (v - mx).exp()).sum();
        loss += mx + sum.ln() - s[(target[j], j)];
        let scale = weight / sum;
        for (o, &v) in out.column_mut(j).iter_mut().zip(col.iter()) {
            *o += scale * (v - mx).exp();
        }
        out[(target[j], j)] -= weight;
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
        let loss2 = col_softmax_xent_add(&st, &[0, 2], 1.0, &mut out2);
        assert!((loss - loss2).abs() < 1e-14);
        assert!((out2.transpose() - out).amax() < 1e-15);
    }
}
