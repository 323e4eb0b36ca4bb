//! Reductions: a vectorised sum in a fixed order, log-sum-exp and log-softmax.

/// `sum_i f(v_i)` in eight interleaved partial sums, added in a fixed order at the end: the
/// same bits on every processor, and a loop the compiler vectorises.
pub fn lane_sum_by<T: nalgebra::RealField + Copy>(values: &[T], f: impl Fn(T) -> T) -> T {
    const L: usize = 8;
    let mut lanes = [T::zero(); L];
    let mut chunks = values.chunks_exact(L);
    for c in &mut chunks {
        for l in 0..L {
            lanes[l] += f(c[l]);
        }
    }
    let tail = chunks.remainder().iter().fold(T::zero(), |acc, &v| acc + f(v));
    lanes.iter().fold(tail, |acc, &v| acc + v)
}

/// Numerically stable `log sum_i exp(v_i)`.
pub fn log_sum_exp(v: &[f64]) -> f64 {
    let m = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if !m.is_finite() {
        return m;
    }
    m + v.iter().map(|&x| (x - m).exp()).sum::<f64>().ln()
}

/// `v_i - log sum_j exp(v_j)` in place, for finite `v`: shifted by the maximum first, so that a
/// large common offset cancels exactly (`[a, a]` gives `[-ln 2, -ln 2]` for any finite `a`,
/// where `a - (a + ln 2)` would round to `0` once `|a|` exceeds about `1e16`).
pub fn log_softmax_in_place(v: &mut [f64]) {
    let m = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    v.iter_mut().for_each(|x| *x -= m);
    let lse = v.iter().map(|&x| x.exp()).sum::<f64>().ln();
    v.iter_mut().for_each(|x| *x -= lse);
}
