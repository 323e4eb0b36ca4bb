//! Tests of the linear-algebra helpers.

use nalgebra::DMatrix;

use super::product::PAR_MIN_WORK;
use super::*;
use crate::error::GmmError;

#[test]
fn gemm_matches_nalgebra_in_every_orientation() {
    let a = DMatrix::from_fn(3, 4, |i, j| (i * 4 + j) as f64 * 0.5 - 2.0);
    let b = DMatrix::from_fn(4, 2, |i, j| (i + 3 * j) as f64 - 1.5);
    let mut c = DMatrix::from_element(3, 2, f64::NAN);
    gemm(1.0, &a, Op::N, &b, Op::N, 0.0, &mut c).unwrap();
    assert_eq!(c, &a * &b);
    let mut c2 = DMatrix::zeros(3, 2);
    gemm(2.0, &a.transpose(), Op::T, &b.transpose(), Op::T, 0.0, &mut c2).unwrap();
    assert_eq!(c2, (&a * &b) * 2.0);
    let mut c3 = DMatrix::from_element(4, 4, 1.0);
    gemm(1.0, &a.rows(0, 2), Op::T, &a.rows(1, 2), Op::N, 1.0, &mut c3).unwrap();
    assert_eq!(c3, a.rows(0, 2).transpose() * a.rows(1, 2) + DMatrix::from_element(4, 4, 1.0));
    // Shapes that do not fit are errors, not panics (and C is left untouched).
    let mut wrong = DMatrix::from_element(3, 3, 7.0);
    assert!(matches!(gemm(1.0, &a, Op::N, &b, Op::N, 0.0, &mut wrong), Err(GmmError::Shape { .. })));
    assert!(matches!(gemm(1.0, &a, Op::T, &b, Op::N, 0.0, &mut c), Err(GmmError::Shape { .. })));
    assert!(wrong.iter().all(|&v| v == 7.0));
}

#[test]
fn the_triangular_product_reads_only_the_upper_triangle() {
    let a = DMatrix::from_fn(5, 4, |i, j| (i * 4 + j) as f64 * 0.5 - 2.0);
    let mut upper = DMatrix::from_fn(4, 4, |i, j| if i <= j { (i + 2 * j) as f64 } else { f64::NAN });
    let mut out = DMatrix::from_element(5, 4, f64::NAN);
    gemm_upper_into(&a, &upper, faer_view_mut(&mut out));
    upper.fill_lower_triangle(0.0, 1);
    assert_eq!(out, &a * &upper);
}

#[test]
fn gram_matches_the_direct_product() {
    let x = DMatrix::from_fn(5000, 3, |i, j| ((i * 7 + j * 13) % 11) as f64 - 5.0);
    let g = gram(&x);
    assert!((g - x.transpose() * &x).amax() < 1e-9);
}

#[test]
fn gram_is_exactly_symmetric_and_matches_the_blocked_centring() {
    // Three blocks of rows (n = 5000 > 2 GRAM_BLOCK) with a partial last one.
    let x = DMatrix::from_fn(5000, 7, |i, j| (((i * 31 + j * 17) % 23) as f64 - 11.0) * 0.37);
    let g = gram(&x);
    assert_eq!(g, g.transpose());
    assert!((&g - x.transpose() * &x).amax() <= 1e-12 * g.amax());
    let mean = column_means(&x);
    let centred = gram_with(&x, subtract_mean(&mean));
    let mut xc = x.clone();
    subtract_row(&mut xc, &mean);
    assert!((centred - xc.transpose() * &xc).amax() <= 1e-12 * g.amax());
}

/// Large products run on every thread of the pool; faer sums each entry in the same order
/// whatever the number of threads: checked on 1, 2 and 3 threads in every orientation, with
/// shapes above the parallel threshold and edges that are not multiples of the kernels'.
#[cfg(feature = "parallel")]
#[test]
fn large_products_have_the_same_bits_on_any_thread_count() {
    let a = DMatrix::from_fn(1031, 263, |i, j| ((i * 7 + j * 13) % 19) as f64 / 7.0 - 1.3);
    let b = DMatrix::from_fn(263, 97, |i, j| ((i * 5 + j * 3) % 17) as f64 / 5.0 - 1.7);
    let (at, bt) = (a.transpose(), b.transpose());
    const { assert!(1031 * 263 * 97 >= PAR_MIN_WORK) };
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        pool.install(|| {
            let mut out = Vec::new();
            for (l, tl) in [(&a, Op::N), (&at, Op::T)] {
                for (r, tr) in [(&b, Op::N), (&bt, Op::T)] {
                    let mut c = DMatrix::from_element(1031, 97, 0.5);
                    gemm(0.7, l, tl, r, tr, 1.0, &mut c).unwrap();
                    out.push(c);
                }
            }
            out
        })
    };
    let one = run(1);
    assert!((&one[0] - (&a * &b * 0.7).add_scalar(0.5)).amax() < 1e-10);
    assert_eq!(one, run(2));
    assert_eq!(one, run(3));
}

/// The Gram products run in fixed blocks with one kernel call per block, so the thread
/// count cannot change a bit: checked on 1, 2 and 3 threads.
#[cfg(feature = "parallel")]
#[test]
fn gram_has_the_same_bits_on_any_thread_count() {
    let a = DMatrix::from_fn(5100, 13, |i, j| ((i * 7 + j * 13) % 19) as f64 / 7.0 - 1.3);
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        pool.install(|| (gram(&a), gram_with(&a, subtract_mean(&column_means(&a)))))
    };
    let one = run(1);
    assert_eq!(one, run(2));
    assert_eq!(one, run(3));
}

#[test]
fn generalized_eigen_solves_and_sorts() {
    let a = DMatrix::from_row_slice(3, 3, &[2.0, 1.0, 0.0, 1.0, 3.0, 1.0, 0.0, 1.0, 1.0]);
    let b = DMatrix::from_row_slice(3, 3, &[4.0, 1.0, 0.0, 1.0, 2.0, 0.5, 0.0, 0.5, 1.0]);
    let ge = gen_sym_eig(&a, &b).unwrap();
    for j in 0..3 {
        let v = ge.vectors.column(j);
        let r = &a * v - (&b * v) * ge.values[j];
        assert!(r.norm() < 1e-12, "residual {}", r.norm());
    }
    assert!(ge.values[0] >= ge.values[1] && ge.values[1] >= ge.values[2]);
    let gram = ge.vectors.transpose() * &b * &ge.vectors;
    assert!((gram - DMatrix::identity(3, 3)).amax() < 1e-12);
}

#[test]
fn generalized_eigen_rejects_singular_b() {
    let a = DMatrix::identity(2, 2);
    let b = DMatrix::from_row_slice(2, 2, &[1.0, 1.0, 1.0, 1.0]);
    assert!(matches!(gen_sym_eig(&a, &b), Err(GmmError::Singular { .. })));
}

#[test]
fn square_roots_invert_each_other() {
    let s = DMatrix::from_row_slice(2, 2, &[5.0, 2.0, 2.0, 3.0]);
    let r = spd_sqrt(&s).unwrap();
    assert!((&r * &r - &s).amax() < 1e-12);
    let ri = spd_inv_sqrt(&s).unwrap();
    assert!((&ri * &s * &ri - DMatrix::identity(2, 2)).amax() < 1e-12);
    let indefinite = DMatrix::from_row_slice(2, 2, &[1.0, 2.0, 2.0, 1.0]);
    assert!(spd_sqrt(&indefinite).is_err());
}

#[test]
fn symmetry_check_names_the_gap() {
    let s = DMatrix::from_row_slice(2, 2, &[1.0, 0.5, 0.4, 1.0]);
    assert!(matches!(checked_symmetric(&s, "S"), Err(GmmError::NotSymmetric { i: 0, j: 1, .. })));
    let nearly = DMatrix::from_row_slice(2, 2, &[1.0, 0.5, 0.5 + 1e-14, 1.0]);
    let fixed = checked_symmetric(&nearly, "S").unwrap();
    assert_eq!(fixed[(0, 1)], fixed[(1, 0)]);
}

#[test]
fn rank_tolerance_counts_directions() {
    let m = DMatrix::from_row_slice(3, 2, &[1.0, 2.0, 2.0, 4.0, 3.0, 6.0]);
    assert_eq!(orthonormal_column_basis(&m, RANK_RTOL).unwrap().ncols(), 1);
    assert_eq!(orthonormal_column_basis(&DMatrix::zeros(3, 2), RANK_RTOL).unwrap().ncols(), 0);
}

#[test]
fn svd_of_rank_deficient_matrices_recomposes() {
    // The all-ones 3 x 5 matrix: one singular value sqrt(15) (nalgebra#1172 gets it wrong).
    let ones = DMatrix::from_element(3, 5, 1.0);
    let f = svd(&ones).unwrap();
    assert!((f.singular_values[0] - 15f64.sqrt()).abs() < 1e-14);
    let back = &f.u * DMatrix::from_diagonal(&f.singular_values) * f.v.transpose();
    assert!((back - ones).amax() < 1e-14);
    assert!((singular_values(&DMatrix::from_element(5, 3, 1.0)).unwrap()[0] - 15f64.sqrt()).abs() < 1e-14);
}

#[test]
fn log_sum_exp_is_stable() {
    assert!((log_sum_exp(&[1000.0, 1000.0]) - (1000.0 + 2f64.ln())).abs() < 1e-12);
    assert_eq!(log_sum_exp(&[f64::NEG_INFINITY]), f64::NEG_INFINITY);
    let mut huge = [-5e299, -5e299];
    log_softmax_in_place(&mut huge);
    assert_eq!(huge, [-2f64.ln(), -2f64.ln()], "a common offset cancels exactly");
}
