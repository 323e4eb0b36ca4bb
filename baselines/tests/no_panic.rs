//! No input makes the baselines panic or answer `Ok` with a non-finite number: data of arbitrary
//! small shapes whose entries mix ordinary values with NaN, infinities, subnormals and extremes,
//! and arbitrary labels (up to `usize::MAX`).

use baselines::{
    Cca, CcaPairs, Fit, KMeans, Lda, Pca, adjusted_rand_index, clustering_accuracy, normalized_mutual_info,
};
use gmm_core::nalgebra::DMatrix;
use gmm_core::strategies::spoiled_matrices;
use proptest::prelude::*;

fn label() -> impl Strategy<Value = usize> {
    prop_oneof![4 => 0usize..4, 1 => Just(usize::MAX), 1 => Just(usize::MAX - 1)]
}

fn finite(m: &DMatrix<f64>) -> bool {
    m.iter().all(|v| v.is_finite())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn fits_answer_with_finite_maps_or_errors(
        x in spoiled_matrices(0..12, 0..4), y in spoiled_matrices(0..12, 0..4), labels in proptest::collection::vec(label(), 0..12), r in 0usize..4
    ) {
        if let Ok(f) = Pca::new(r).fit(&x) {
            prop_assert!(finite(f.map.components()) && f.explained_variance_ratio.iter().all(|v| v.is_finite()));
        }
        if let Ok(f) = Lda::new().fit((&x, &labels[..])) {
            prop_assert!(finite(f.map.components()));
        }
        if let Ok(f) = CcaPairs::new(r).fit((&x, &y)) {
            prop_assert!(finite(f.map.components()));
        }
        if let Ok(f) = Cca::new(r).fit((&x, &y)) {
            prop_assert!(finite(f.map_x.components()) && finite(f.map_y.components()));
        }
        if let Ok(f) = KMeans::new(r).seed(1).fit(&x) {
            prop_assert_eq!(f.labels.len(), x.nrows());
        }
    }

    #[test]
    fn clustering_metrics_answer_finite_or_errors(
        a in proptest::collection::vec(label(), 0..10), b in proptest::collection::vec(label(), 0..10)
    ) {
        for v in [adjusted_rand_index(&a, &b), normalized_mutual_info(&a, &b), clustering_accuracy(&a, &b)]
            .into_iter()
            .flatten()
        {
            prop_assert!(v.is_finite(), "{a:?} {b:?}: {v}");
        }
    }
}

/// Classes of duplicated rows: S_W is zero up to rounding, and LDA used to return components of
/// size 1e23 with `Ok`; it is an error naming the ridge that regularises it.
#[test]
fn lda_on_classes_without_spread_is_an_error() {
    // Each class's rows repeat one point whose entries are not exact in binary, so centring
    // leaves S_W at rounding level (about 1e-32) rather than exactly zero.
    let point = |c: usize| {
        let c = c as f64;
        [(c + 1.0).sin(), (2.0 * c + 1.0).cos(), (c + 2.0).sqrt(), (c + 3.0).ln()]
    };
    // Six classes, so the rounding residues span all four features and S_W factors.
    let rows: Vec<f64> = (0..30).flat_map(|i| point(i / 5)).collect();
    let x = DMatrix::from_row_slice(30, 4, &rows);
    let labels: Vec<usize> = (0..30).map(|i| i / 5).collect();
    let err = Lda::new().fit((&x, &labels[..])).unwrap_err().to_string();
    assert!(err.contains("zero up to rounding") && err.contains("ridge"), "{err}");
    assert!(Lda::new().shrinkage(baselines::Shrinkage::Ridge(1e-3)).fit((&x, &labels[..])).is_ok());
}
