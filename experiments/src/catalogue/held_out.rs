//! Held-out evaluation of a representation: the seeded 70/30 split of a labelled table and the
//! downstream statistics on the held-out part.

use baselines::{Fit, KMeans, Lda, Pca, Predict, Shrinkage, adjusted_rand_index, normalized_mutual_info};
use gmm_core::nalgebra::DMatrix;
use gmm_core::{LinearMap, seeded};
use ssl_losses::{Centering, Preconditioner, Whitening};

use super::fitted::Fitted;
use crate::error::Result;
use crate::row::Method;

/// Samples and their labels.
pub(super) type Labelled = (DMatrix<f64>, Vec<usize>);

/// The held-out split of E7 and E8: 70% train, 30% test, by a permutation seeded by `seed`.
pub(super) fn split(x: &DMatrix<f64>, labels: &[usize], seed: u64) -> (Labelled, Labelled) {
    let mut order: Vec<usize> = (0..x.nrows()).collect();
    gmm_core::rand::seq::SliceRandom::shuffle(&mut order[..], &mut seeded(seed));
    let cut = x.nrows() * 7 / 10;
    let pick = |idx: &[usize]| (x.select_rows(idx.iter()), idx.iter().map(|&i| labels[i]).collect::<Vec<_>>());
    (pick(&order[..cut]), pick(&order[cut..]))
}

/// The number of classes of labels `0..k`.
pub(super) fn classes(labels: &[usize]) -> usize {
    labels.iter().max().map_or(0, |m| m + 1)
}

/// k-means ARI / NMI of the projected test set, and the accuracy of an LDA classifier fitted on
/// the projected training set.
pub(super) fn downstream(
    map: &LinearMap,
    train: (&DMatrix<f64>, &[usize]),
    (test_x, test_z): (&DMatrix<f64>, &[usize]),
    k: usize,
    seed: u64,
) -> (Option<f64>, Option<f64>, Option<f64>) {
    let Ok(z_test) = map.transform(test_x) else { return (None, None, None) };
    let clusters = KMeans::new(k).seed(seed).fit(&z_test).ok();
    let ari = clusters.as_ref().and_then(|c| adjusted_rand_index(test_z, &c.labels).ok());
    let nmi = clusters.as_ref().and_then(|c| normalized_mutual_info(test_z, &c.labels).ok());
    (ari, nmi, accuracy(map, train, (test_x, test_z)))
}

/// The held-out accuracy of an LDA classifier fitted on the projected training set.
pub(super) fn accuracy(
    map: &LinearMap,
    (train_x, train_z): (&DMatrix<f64>, &[usize]),
    (test_x, test_z): (&DMatrix<f64>, &[usize]),
) -> Option<f64> {
    let (z_train, z_test) = (map.transform(train_x).ok()?, map.transform(test_x).ok()?);
    let classifier = Lda::new().shrinkage(Shrinkage::Ridge(1e-9)).fit((&z_train, train_z)).ok()?;
    let pred = classifier.predict(&z_test).ok()?;
    Some(pred.iter().zip(test_z).filter(|(a, b)| a == b).count() as f64 / test_z.len() as f64)
}

/// k-means ARI and NMI of the held-out samples after whitening the representation by its own
/// covariance on the training samples (label-free: k-means then sees the same metric whatever
/// invertible map inside the subspace a method chose).
pub(super) fn whitened_clustering(
    map: &LinearMap,
    train_x: &DMatrix<f64>,
    (test_x, test_z): (&DMatrix<f64>, &[usize]),
    k: usize,
    seed: u64,
) -> Result<(f64, f64)> {
    let z_train = map.transform(train_x)?;
    let pre = Preconditioner::fit(&z_train, Centering::SampleMean, Whitening::SampleCovariance)?;
    let z_test = pre.apply(&map.transform(test_x)?)?;
    let clusters = KMeans::new(k).seed(seed).fit(&z_test)?;
    Ok((adjusted_rand_index(test_z, &clusters.labels)?, normalized_mutual_info(test_z, &clusters.labels)?))
}

/// The closed forms of a labelled-data job (E7, E8): CCA on its `n` pairs (`cca`), PCA and LDA
/// (ridge 1e-6) on the training samples, `r` outputs.
pub(super) fn closed_forms(
    cca: LinearMap,
    n: usize,
    (xt, zt): (&DMatrix<f64>, &[usize]),
    r: usize,
) -> Result<[Fitted; 3]> {
    let lda = Lda::new().shrinkage(Shrinkage::Ridge(1e-6)).fit((xt, zt))?.map;
    Ok([
        Fitted::closed_form(Method::Cca, cca, n),
        Fitted::closed_form(Method::Pca, Pca::new(r).fit(xt)?.map, xt.nrows()),
        Fitted::closed_form(Method::Lda, lda, xt.nrows()),
    ])
}
