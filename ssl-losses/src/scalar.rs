//! The scalar of the training machinery ([`Real`]: `f64` or `f32`), conversions to and from
//! `f64`, and the exponentials without a library call that the softmax kernels vectorise.

use gmm_core::linalg::GemmScalar;

/// The scalar of the training machinery: `f64` (the default everywhere) or `f32`. Sealed: it is
/// implemented for these two, whose products ([`GemmScalar`]) and exponentials have kernels.
pub trait Real: GemmScalar {
    /// `exp(x)` without a library call, so that loops over slices vectorise:
    /// [`exp`] for `f64`, [`exp_f32`] for `f32`.
    fn fast_exp(x: Self) -> Self;
}

impl Real for f64 {
    #[inline(always)]
    fn fast_exp(x: f64) -> f64 {
        exp(x)
    }
}

impl Real for f32 {
    #[inline(always)]
    fn fast_exp(x: f32) -> f32 {
        exp_f32(x)
    }
}

/// `v` in the scalar `T` (exact for `f64`, rounded for `f32`).
pub fn from_f64<T: Real>(v: f64) -> T {
    T::from_subset(&v)
}

/// `v` as `f64` (exact from `f32` and `f64`; NaN if it has no `f64` value).
pub fn to_f64<T: Real>(v: T) -> f64 {
    v.to_subset().unwrap_or(f64::NAN)
}

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
/// exponent bits. Its relative error against `f64::exp` on `[-708, 709]` is bounded in the test
/// (docs/theory.md 7). Inputs below `-708` return `exp(-708) ~ 3.3e-308` (an absolute error below
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

/// `log2(e)` in f32.
const LOG2E_F32: f32 = std::f32::consts::LOG2_E;
/// `ln 2` split for f32: a high part with 9 significant bits (so `k * LN2_HI_F32` is exact for
/// `|k| <= 127`) and the f32 remainder (Cody-Waite).
const LN2_HI_F32: f32 = 0.693_359_4;
const LN2_LO_F32: f32 = -2.121_944_4e-4;
/// `1 / j!` for `j = 0..=7` in f32.
const INV_FACTORIAL_F32: [f32; 8] = {
    let mut c = [1.0; 8];
    let mut j = 1;
    while j < 8 {
        c[j] = (INV_FACTORIAL[j]) as f32;
        j += 1;
    }
    c
};
/// `1.5 * 2^23`: adding it rounds an f32 to an integer kept in the low mantissa bits.
const ROUND_MAGIC_F32: f32 = 12_582_912.0;

/// Below this, [`exp_f32`] returns 0 (see there).
pub const EXP_F32_FLUSH: f32 = -60.0;

/// `exp(x)` in f32 without a library call, as [`exp`]: `x = k ln 2 + t`, `|t| <= ln 2 / 2`,
/// Taylor polynomial of degree 7 by Estrin's scheme (truncation below
/// `0.35^8 / 8! < 6e-9` relative, under a tenth of f32's `2^-24 = 6e-8`), scaled by `2^k` in the
/// exponent bits. Inputs above 88 are clamped to 88 (so `2^k` stays a normal number); NaN
/// stays NaN. Its relative error against `f64::exp` is bounded by 2 f32 ulps in the test
/// (docs/theory.md 7). No fused
/// multiply-add: the same bits on every instruction set.
///
/// Inputs below [`EXP_F32_FLUSH`] give exactly 0: the softmax feeds it shifted scores `<= 0`, and
/// a term below `exp(-60) = 8.8e-27` changes no f32 sum containing the row's maximum term 1,
/// while its products with the softmax's scale would be subnormal numbers, which x86 processors
/// handle about 100x slower (bench/README.md).
#[inline(always)]
pub fn exp_f32(x: f32) -> f32 {
    if x < EXP_F32_FLUSH {
        return 0.0;
    }
    let x = x.clamp(EXP_F32_FLUSH, 88.0);
    let shifted = x * LOG2E_F32 + ROUND_MAGIC_F32;
    let k = shifted - ROUND_MAGIC_F32;
    // As in `exp`: the low mantissa bits hold k, k + 127 is in 1..=254.
    let scale = f32::from_bits(shifted.to_bits().wrapping_add(127) << 23);
    let t = (x - k * LN2_HI_F32) - k * LN2_LO_F32;
    let c = &INV_FACTORIAL_F32;
    let t2 = t * t;
    let t4 = t2 * t2;
    let q0 = c[0] + c[1] * t;
    let q1 = c[2] + c[3] * t;
    let q2 = c[4] + c[5] * t;
    let q3 = c[6] + c[7] * t;
    let r0 = q0 + q1 * t2;
    let r1 = q2 + q3 * t2;
    let p = r0 + r1 * t4;
    p * scale
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
    }

    #[test]
    fn fast_f32_exp_is_accurate_to_two_ulp() {
        // Relative error against f64's exp, over the range [-60, 88] it does not flush or clamp:
        // at most 2 ulp of f32 (2 * 2^-23 = 2.4e-7).
        let mut worst: f64 = 0.0;
        for i in 0..=400_000 {
            let x = (-60.0 + 148.0 * i as f64 / 400_000.0) as f32;
            let exact = f64::from(x).exp();
            worst = worst.max((f64::from(exp_f32(x)) - exact).abs() / exact);
        }
        assert!(worst < 2.0 * f64::from(f32::EPSILON), "worst relative error {worst:e}");
        assert_eq!(exp_f32(0.0), 1.0);
        assert_eq!(exp_f32(-60.001), 0.0);
        assert!(exp_f32(-59.999) > 8.7e-27);
        assert!(exp_f32(1e6).is_finite());
        assert!(exp_f32(f32::NAN).is_nan());
    }
}
