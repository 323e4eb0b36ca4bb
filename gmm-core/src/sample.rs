//! Samplers: labelled samples, augmentation pairs with coupling `delta`, and CLIP-GMM pairs.
//!
//! All outputs are `n x d` matrices with **samples as rows**. Sampling is batched, by blocks of
//! 256 rows in parallel: each block's standard normals `E` come from its own generator (seeded
//! from the caller's, in block order) and are coloured by one triangular product `E L^T`
//! (`Sigma = L L^T`) straight into the output, so the bits depend on the seed and `n`, never on
//! the thread count.

use nalgebra::DMatrix;
use rand::distr::weighted::WeightedIndex;
use rand::{Rng, RngExt};
use rand_distr::StandardNormal;

use crate::error::{GmmError, Result};
use crate::gmm::Gmm;

/// Labelled samples: `x` is `n x d` (rows are samples), `z[i]` the component of row `i`.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Labelled {
    /// `n x d` samples.
    pub x: DMatrix<f64>,
    /// Component labels, length `n`.
    pub z: Vec<usize>,
}

/// Augmentation pairs: row `i` of `x` and row `i` of `x_plus` form a positive pair;
/// `z`, `z_plus` are their components (theory.md section 1).
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Pairs {
    /// Anchors, `n x d`.
    pub x: DMatrix<f64>,
    /// Positives, `n x d`.
    pub x_plus: DMatrix<f64>,
    /// Anchor components.
    pub z: Vec<usize>,
    /// Positive components.
    pub z_plus: Vec<usize>,
}

impl Pairs {
    /// Number of pairs `n`.
    pub fn len(&self) -> usize {
        self.z.len()
    }

    /// True when there are no pairs.
    pub fn is_empty(&self) -> bool {
        self.z.is_empty()
    }

    /// An empty batch of `n` pairs in dimension `d` (zeros), to be filled by a sampler.
    pub fn zeros(n: usize, d: usize) -> Self {
        Self { x: DMatrix::zeros(n, d), x_plus: DMatrix::zeros(n, d), z: vec![0; n], z_plus: vec![0; n] }
    }
}

/// Checks a sample of pairs for a method with `r` output directions: anchors `x` and positives
/// `x_plus` of the same shape `n x d` (row `i` a pair), at least 2 pairs, `1 <= r <= d`.
/// Returns `(n, d)`. `method` names the method in the error.
///
/// # Errors
/// [`GmmError::Shape`], [`GmmError::TooFew`] or [`GmmError::OutOfRange`] naming the problem.
pub fn check_pairs(x: &DMatrix<f64>, x_plus: &DMatrix<f64>, r: usize, method: &'static str) -> Result<(usize, usize)> {
    let (n, d) = x.shape();
    crate::error::check_shape(x_plus, n, d, "positives against the anchors")?;
    crate::error::check_at_least(n, 2, "pairs")?;
    if r == 0 || r > d {
        return Err(GmmError::out_of_range(method, r as f64, format!("output directions between 1 and d = {d}")));
    }
    Ok((n, d))
}

/// Checks the coupling `delta in [0, 1]`.
pub fn check_delta(delta: f64) -> Result<()> {
    if !(0.0..=1.0).contains(&delta) {
        return Err(GmmError::out_of_range("coupling delta", delta, "in [0, 1]"));
    }
    Ok(())
}

/// A categorical sampler over mixture weights.
pub(crate) fn categorical(weights: &[f64], what: &'static str) -> Result<WeightedIndex<f64>> {
    WeightedIndex::new(weights.iter().copied())
        .map_err(|_| GmmError::out_of_range(what, weights.iter().sum(), "positive finite weights"))
}

/// Rows per block of [`fill_gaussian_rows`]: each block draws its normals from its own
/// generator, seeded from the caller's in block order, so the stream depends on the number of
/// rows only, never on the number of threads.
const SAMPLE_BLOCK: usize = 256;

/// Colours standard normals into Gaussian rows: `out = E L^T + means[labels]`.
///
/// `chol_t` is `L^T` (`d x d`, upper triangular: only that triangle is read, half the work of a
/// full product), `means` is `k x d`, `labels` has one entry per row of `out`. By blocks of
/// [`SAMPLE_BLOCK`] rows in parallel (feature `parallel`): one seed per block is drawn from `rng`
/// in block order, the block's normals (column by column) from a generator with that seed, then
/// its product and its means, while the block is in cache. The same bits on any thread count.
pub(crate) fn fill_gaussian_rows<R: Rng + ?Sized>(
    rng: &mut R,
    chol_t: &DMatrix<f64>,
    means: &DMatrix<f64>,
    labels: &[usize],
    out: &mut DMatrix<f64>,
) -> Result<()> {
    let (n, d) = out.shape();
    crate::error::check_shape(chol_t, d, d, "Cholesky factor against the samples' dimension")?;
    if labels.len() != n {
        return Err(GmmError::Shape { what: "labels against rows", expected: n, got: labels.len() });
    }
    if means.ncols() != d {
        return Err(GmmError::Shape { what: "means against the samples' dimension", expected: d, got: means.ncols() });
    }
    let mut blocks = Vec::with_capacity(n.div_ceil(SAMPLE_BLOCK));
    let mut rest = crate::linalg::faer_view_mut(out);
    while rest.nrows() > 0 {
        let rows = SAMPLE_BLOCK.min(rest.nrows());
        let (block, tail) = rest.split_at_row_mut(rows);
        blocks.push((n - block.nrows() - tail.nrows(), rng.random::<u64>(), block));
        rest = tail;
    }
    crate::parallel::for_each_mut(&mut blocks, |(start, seed, block)| {
        let b = block.nrows();
        let mut child = crate::rng::seeded(*seed);
        let normals = DMatrix::from_iterator(b, d, (0..b * d).map(|_| child.sample::<f64, _>(StandardNormal)));
        crate::linalg::gemm_upper_into(&normals, chol_t, block.as_mut());
        add_rows(block.as_mut(), means, &labels[*start..]);
    });
    Ok(())
}

/// `out[i, :] += table[labels[i], :]` for every row `i`.
pub(crate) fn add_rows(mut out: faer::MatMut<'_, f64>, table: &DMatrix<f64>, labels: &[usize]) {
    for j in 0..out.ncols() {
        for (value, &label) in out.as_mut().col_mut(j).iter_mut().zip(labels) {
            *value += table[(label, j)];
        }
    }
}

/// A reusable sampler of augmentation pairs from a [`Gmm`] with coupling `delta`:
/// `z ~ pi`; `z+ = z` with probability `delta`, otherwise `z+ ~ pi` afresh;
/// `x ~ N(mu_z, Sigma)`, `x+ ~ N(mu_{z+}, Sigma)` with independent noises. Then
/// `P(z+ = i | z = i) = delta + (1 - delta) pi_i` and `Cov(x+, x) = delta S_B`.
#[derive(Clone, Debug)]
pub struct PairSampler<'a> {
    gmm: &'a Gmm,
    delta: f64,
    labels: WeightedIndex<f64>,
    chol_t: DMatrix<f64>,
}

impl<'a> PairSampler<'a> {
    /// # Errors
    /// `delta` outside `[0, 1]`.
    pub fn new(gmm: &'a Gmm, delta: f64) -> Result<Self> {
        check_delta(delta)?;
        Ok(Self {
            gmm,
            delta,
            labels: categorical(gmm.weights().as_slice(), "mixture weights")?,
            chol_t: gmm.cholesky_factor().transpose(),
        })
    }

    /// The coupling `delta`.
    pub fn delta(&self) -> f64 {
        self.delta
    }

    /// Overwrites `out` with `out.len()` fresh pairs (no allocation once warmed up, for batches
    /// below the parallel threshold of the colouring product).
    ///
    /// # Errors
    /// `out`'s matrices do not have `d` columns and one row per label.
    pub fn fill<R: Rng + ?Sized>(&mut self, rng: &mut R, out: &mut Pairs) -> Result<()> {
        let n = out.z.len();
        for (what, m) in [("anchors of the pair buffer", &out.x), ("positives of the pair buffer", &out.x_plus)] {
            crate::error::check_shape(m, n, self.gmm.dim(), what)?;
        }
        if out.z_plus.len() != n {
            return Err(GmmError::Shape { what: "labels of the pair buffer", expected: n, got: out.z_plus.len() });
        }
        for (z, zp) in out.z.iter_mut().zip(out.z_plus.iter_mut()) {
            *z = rng.sample(&self.labels);
            *zp = if rng.random::<f64>() < self.delta { *z } else { rng.sample(&self.labels) };
        }
        fill_gaussian_rows(rng, &self.chol_t, self.gmm.means(), &out.z, &mut out.x)?;
        fill_gaussian_rows(rng, &self.chol_t, self.gmm.means(), &out.z_plus, &mut out.x_plus)
    }

    /// `n` fresh pairs in new matrices.
    pub fn sample<R: Rng + ?Sized>(&mut self, n: usize, rng: &mut R) -> Pairs {
        let mut out = Pairs::zeros(n, self.gmm.dim());
        self.fill(rng, &mut out).expect("buffer was built with the right shape");
        out
    }
}

impl Gmm {
    /// `n` labelled samples `x_i ~ N(mu_{z_i}, Sigma)`, `z_i ~ pi`.
    pub fn sample<R: Rng + ?Sized>(&self, n: usize, rng: &mut R) -> Labelled {
        let labels = categorical(self.weights().as_slice(), "mixture weights")
            .expect("weights were validated by the constructor");
        let z: Vec<usize> = (0..n).map(|_| rng.sample(&labels)).collect();
        let mut x = DMatrix::zeros(n, self.dim());
        fill_gaussian_rows(rng, &self.cholesky_factor().transpose(), self.means(), &z, &mut x)
            .expect("x is n x d and the factor d x d by construction");
        Labelled { x, z }
    }

    /// `n` augmentation pairs with coupling `delta` (see [`PairSampler`]): `z+ = z` with
    /// probability `delta`, otherwise `z+ ~ pi` independently; `x | z ~ N(mu_z, Sigma)`, so
    /// `Cov(x+, x) = delta S_B`.
    ///
    /// ```
    /// use gmm_core::{MixtureGenerator, seeded};
    /// let g = MixtureGenerator::isotropic(3, 5).generate(&mut seeded(1))?;
    /// let pairs = g.sample_pairs(1000, 1.0, &mut seeded(2))?;
    /// assert_eq!(pairs.x.shape(), (1000, 5));
    /// assert_eq!(pairs.z, pairs.z_plus); // delta = 1: every positive shares its component
    /// # Ok::<(), gmm_core::GmmError>(())
    /// ```
    ///
    /// # Errors
    /// `delta` outside `[0, 1]`.
    pub fn sample_pairs<R: Rng + ?Sized>(&self, n: usize, delta: f64, rng: &mut R) -> Result<Pairs> {
        Ok(PairSampler::new(self, delta)?.sample(n, rng))
    }
}

#[cfg(test)]
mod tests {
    use crate::{MixtureGenerator, seeded};

    /// One seed per block of rows, drawn in block order: the thread count cannot change a bit
    /// (checked on 1, 2 and 3 threads, with a partial last block).
    #[cfg(feature = "parallel")]
    #[test]
    fn samples_have_the_same_bits_on_any_thread_count() {
        let g = MixtureGenerator::isotropic(3, 9).condition(10.0).generate(&mut seeded(1)).unwrap();
        let run = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            pool.install(|| (g.sample_pairs(1000, 0.5, &mut seeded(2)).unwrap(), g.sample(700, &mut seeded(3))))
        };
        let one = run(1);
        assert_eq!(one, run(2));
        assert_eq!(one, run(3));
    }
}
