//! Property tests of the baselines over random mixtures drawn by the shared strategies of
//! `gmm_core::strategies` (centred or not). Each compared pair is equal in exact arithmetic, so
//! the tolerances are rounding tolerances: `1e-6` on `sin theta_max` leaves room for
//! `eps * cond(G) * cond(S_W)` with `cond(G) <= ~1e2` and `cond(Sigma) <= 1e3 (1 + noise)`.

use baselines::{CcaPairs, Fit, Lda, Pca, Transform};
use gmm_core::gaussian_matrix;
use gmm_core::nalgebra::DMatrix;
use gmm_core::seeded;
use gmm_core::strategies::{MixtureRanges, pairs};
use proptest::prelude::*;

/// A random invertible `d x d` matrix, well conditioned (Gaussian plus a multiple of I).
fn invertible(d: usize, seed: u64) -> DMatrix<f64> {
    gaussian_matrix(d, d, &mut seeded(seed)) + DMatrix::identity(d, d) * (2.0 * (d as f64).sqrt())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    /// LDA and CCA are affine-equivariant: fitted on `x G^T`, their directions are those fitted
    /// on `x`, mapped by `G^{-T}` (`row(A') = row(A G^{-1})`). PCA is not (its control).
    #[test]
    fn lda_and_cca_are_equivariant_pca_is_not(
        case in pairs(&MixtureRanges::default().d(3..=12).mean_offset(0.0..=3.0), 400..=400, 0.8..=0.8).unwrap(),
        seed in any::<u64>(),
    ) {
        let (g, p) = (&case.gmm, &case.pairs);
        let d = g.dim();
        let m = invertible(d, seed);
        let moved = |x: &DMatrix<f64>| x * m.transpose();
        let sin = |a: &DMatrix<f64>, b: &DMatrix<f64>| {
            gmm_core::Subspace::from_rows(a, 1e-9).unwrap().sin_theta_max(&gmm_core::Subspace::from_rows(b, 1e-9).unwrap()).unwrap()
        };
        let lda = Lda::new().fit((&p.x, &p.z)).unwrap();
        let lda_moved = Lda::new().fit((&moved(&p.x), &p.z)).unwrap();
        prop_assert!(sin(&(lda_moved.map.components() * &m), lda.map.components()) < 1e-6);
        let r = g.k() - 1;
        let cca = CcaPairs::new(r).fit(p).unwrap();
        let cca_moved = CcaPairs::new(r).fit((&moved(&p.x), &moved(&p.x_plus))).unwrap();
        prop_assert!(sin(&(cca_moved.map.components() * &m), cca.map.components()) < 1e-6);
        // The same identity for PCA would make it see through the mixing; it does not (when it
        // keeps fewer than d directions: r = d spans everything).
        if r < d {
            let pca = Pca::new(r).fit(&p.x).unwrap();
            let pca_moved = Pca::new(r).fit(&moved(&p.x)).unwrap();
            prop_assert!(sin(&(pca_moved.map.components() * &m), pca.map.components()) > 1e-3);
        }
    }

    /// PCA's coordinates are uncorrelated with variances equal to the explained variances, and
    /// its directions are orthonormal.
    #[test]
    fn pca_coordinates_carry_the_explained_variance(
        case in pairs(&MixtureRanges::default().d(2..=12), 50..=50, 1.0..=1.0).unwrap(),
    ) {
        let x = &case.pairs.x;
        let r = x.ncols().min(3);
        let fit = Pca::new(r).fit(x).unwrap();
        let a = fit.map.components();
        prop_assert!((a * a.transpose() - DMatrix::identity(r, r)).amax() < 1e-12);
        let z = fit.transform(x).unwrap();
        let cov = z.transpose() * &z / (x.nrows() as f64 - 1.0);
        let scale = fit.explained_variance[0];
        for i in 0..r {
            prop_assert!((cov[(i, i)] - fit.explained_variance[i]).abs() < 1e-9 * scale);
            for j in 0..i {
                prop_assert!(cov[(i, j)].abs() < 1e-9 * scale);
            }
        }
    }
}
