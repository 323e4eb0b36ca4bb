//! Spectral method with augmentations (CCA on pairs; theory.md section 2): label-free.

use gmm_core::linalg::{Op, gemm, gen_sym_eig, gram, stacked_gram_with, subtract_mean, symmetrize};
use gmm_core::nalgebra::DMatrix;
use gmm_core::{
    Fit, GmmError, LinearMap, Pairs, Transform, Validate, check_at_least, check_finite, check_finite_given_sums,
    check_non_negative,
};

use crate::error::{BaselineError, Result, singular_with_fix};
use crate::stats::{Classes, centred, column_means, fix_row_signs};

/// CCA-on-pairs parameters: the top `n_components` generalized eigenvectors of
/// `sym(Cov(x+, x)) w = lambda Cov(x) w`. Label-free: in the population
/// `Cov(x+, x) = delta S_B`, so for every `delta > 0` the top `k - 1` directions span the Fisher
/// subspace.
///
/// ```
/// use baselines::{CcaPairs, Fit};
/// use gmm_core::{MixtureGenerator, seeded};
///
/// // The PCA trap: a noise direction stronger than the means; CCA on pairs is not fooled.
/// let gmm = MixtureGenerator::isotropic(3, 8).noise_direction(4.0).generate(&mut seeded(1))?;
/// let pairs = gmm.sample_pairs(4000, 0.8, &mut seeded(2))?;
/// let fit = CcaPairs::new(2).fit(&pairs)?;
/// assert!(fit.map.row_space()?.sin_theta_max(&gmm.fisher_subspace()?)? < 0.2);
/// assert!(gmm.pca_subspace(2)?.sin_theta_max(&gmm.fisher_subspace()?)? > 0.9);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct CcaPairs {
    n_components: usize,
    ridge: f64,
}

impl CcaPairs {
    /// `r` directions, no ridge.
    pub fn new(n_components: usize) -> Self {
        Self { n_components, ridge: 0.0 }
    }

    /// Ridge added to `Cov(x)`: `Cov(x) + ridge I` (default 0: none).
    pub fn ridge(mut self, ridge: f64) -> Self {
        self.ridge = ridge;
        self
    }
}

impl Validate for CcaPairs {
    type Error = BaselineError;

    fn validate(&self) -> Result<()> {
        check_at_least(self.n_components, 1, "CCA n_components")?;
        Ok(check_non_negative(self.ridge, "ridge")?)
    }
}

impl Fit<&Pairs> for CcaPairs {
    type Fitted = CcaPairsFit;

    /// Fits on the anchors and positives of `pairs` (their labels are not used).
    fn fit(&self, pairs: &Pairs) -> Result<CcaPairsFit> {
        self.fit((&pairs.x, &pairs.x_plus))
    }
}

impl Transform for CcaPairsFit {
    /// `(X - mean) A^T`: the canonical coordinates.
    fn transform(&self, x: &DMatrix<f64>) -> gmm_core::Result<DMatrix<f64>> {
        self.map.transform(x)
    }
}

/// A gap between the `r`-th and `(r+1)`-th canonical correlations at most this fraction of the
/// largest is rounding (the generalized eigensolver's relative accuracy is about `1e-13` times
/// the condition of `Cov(x)`), so the subspace is not determined.
pub const CCA_GAP_RTOL: f64 = 1e-9;

/// A fitted CCA on pairs.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct CcaPairsFit {
    /// `r x d`, rows are directions (normalised so `A Cov(x) A^T = I`), centring by the pooled mean.
    pub map: LinearMap,
    /// Generalized eigenvalues (canonical correlations of the pair), descending, first `r`.
    pub eigenvalues: Vec<f64>,
}

impl Fit<(&DMatrix<f64>, &DMatrix<f64>)> for CcaPairs {
    type Fitted = CcaPairsFit;

    /// Fits on anchors `x` and positives `x_plus` (both `n x d`, row `i` a pair). Both sides
    /// have the same marginal, so `Cov(x)` and the centring pool both sides; `Cov(x+, x)` is the
    /// centred cross product `(1/n) sum_i (x+_i - m)(x_i - m)^T`, symmetrised.
    ///
    /// # Errors
    /// Shapes that differ, fewer than 2 pairs, `n_components > d`, non-finite data, a singular
    /// `Cov(x)` without a ridge.
    fn fit(&self, (x, x_plus): (&DMatrix<f64>, &DMatrix<f64>)) -> Result<CcaPairsFit> {
        self.validate()?;
        let (n, d) = gmm_core::check_pairs(x, x_plus, self.n_components, "CCA n_components")?;
        let mean = (column_means(x) + column_means(x_plus)) * 0.5;
        // The pooled means sum every entry of both sides (one pass, no separate scan).
        check_finite_given_sums(mean.as_slice(), x, "anchors")?;
        check_finite_given_sums(mean.as_slice(), x_plus, "positives")?;
        // One blocked pass over both sides, centred block by block (no centred copies): the
        // Gram matrix of [x | x+] holds Cov(x), Cov(x+) and Cov(x+, x) as its blocks.
        let g = stacked_gram_with(&[x, x_plus], subtract_mean(&mean))?;
        let mut cov = (g.view((0, 0), (d, d)) + g.view((d, d), (d, d))) / (2.0 * n as f64);
        let cross = g.view((d, 0), (d, d)) / n as f64;
        for i in 0..d {
            cov[(i, i)] += self.ridge;
        }
        let ge = gen_sym_eig(&symmetrize(&cross), &cov).map_err(singular_with_fix(
            "Cov(x) of the pairs",
            "a constant feature, or fewer pairs than features, does this: pass a ridge (e.g. --ridge 1e-6)",
        ))?;
        let r = self.n_components;
        // Below r = d the subspace is unique only if the r-th canonical correlation exceeds the
        // next. Identical views make every correlation 1 (a gap of rounding size): any r
        // directions would be returned, so the fit is refused.
        let w = &ge.values;
        if r < d && w[r - 1] - w[r] <= CCA_GAP_RTOL * w[0].abs().max(f64::MIN_POSITIVE) {
            return Err(GmmError::NotUnique {
                what: "the CCA subspace (canonical correlations r and r + 1 are equal to rounding)",
                fix: "the views carry no distinct directions at this r (identical views make every correlation 1): \
                      use views that differ, or another number of components",
            }
            .into());
        }
        let mut components = ge.vectors.columns(0, r).transpose();
        fix_row_signs(&mut components);
        Ok(CcaPairsFit {
            map: LinearMap::with_mean(components, mean)?,
            eigenvalues: ge.values.iter().take(r).copied().collect(),
        })
    }
}

impl CcaPairsFit {
    /// The share of the pairs' cross-covariance along the fitted directions that is
    /// within-class: with `labels` the class of each pair (a diagnostic: the fit never sees
    /// them), `tr(A C_W A^T) / tr(A C A^T)`, where `C = (1/n) sum_i (x+_i - m)(x_i - m)^T` is the
    /// cross-covariance the fit used and `C_W = (1/n) sum_i (x+_i - m+_{z_i})(x_i - m_{z_i})^T`
    /// its within-class part (each view centred by its own class means, so that
    /// `C = C_W + C_B` exactly, `C_B` the cross product of the class means).
    ///
    /// The augmentation model of the paper draws the two views' within-class noises
    /// independently, so `C_W = 0` in the population and the share is noise of order
    /// `r sqrt(d / n) / tr(A C A^T)`; real augmentations that keep an image's style in both views
    /// (stroke width, slant, ink) make it large, and then the canonical directions follow the
    /// style as much as the class (docs/theory.md 6, E8).
    ///
    /// # Errors
    /// Shapes (pairs against the map, labels against the pairs), fewer than 2 classes, an empty
    /// class, non-finite data, and a cross-covariance without positive correlation along the
    /// directions (no share to split).
    pub fn within_class_share(&self, (x, x_plus): (&DMatrix<f64>, &DMatrix<f64>), labels: &[usize]) -> Result<f64> {
        gmm_core::check_pairs(x, x_plus, 1, "pairs")?;
        let (u, v) = (self.map.transform(x)?, self.map.transform(x_plus)?);
        let total = u.dot(&v) / x.nrows() as f64;
        let (cu, cv) = (Classes::new(&u, labels)?, Classes::new(&v, labels)?);
        let within = cu.within_centred(&u, labels).dot(&cv.within_centred(&v, labels)) / x.nrows() as f64;
        if !(total > 0.0 && total.is_finite()) {
            return Err(gmm_core::GmmError::out_of_range(
                "cross-covariance along the CCA directions (its trace)",
                total,
                "> 0 (pairs with a positive correlation)",
            )
            .into());
        }
        Ok(within / total)
    }
}

/// Two-view CCA parameters (classical canonical correlation analysis of two modalities, e.g. the
/// x and y of a CLIP-GMM): the top `n_components` pairs of directions `(a_i, b_i)` maximising
/// `corr(a^T x, b^T y)`, from the thin SVD of `Cov(x)^{-1/2} Cov(x, y) Cov(y)^{-1/2}`.
/// Label-free; it is the closed form that CLIP's minimiser is compared with (claim C10).
///
/// ```
/// use baselines::{Cca, Fit};
/// use gmm_core::{ClipGenerator, Side, seeded};
///
/// let clip = ClipGenerator::new(3, 2, 6, 5).generate(&mut seeded(1))?;
/// let pairs = clip.sample_pairs(4000, &mut seeded(2))?;
/// let fit = Cca::new(2).fit((&pairs.x, &pairs.y))?;
/// let f = clip.shared_gmm(Side::X)?.fisher_subspace()?;
/// assert!(fit.map_x.row_space()?.sin_theta_max(&f)? < 0.2);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Cca {
    n_components: usize,
}

impl Cca {
    /// `r` pairs of directions.
    pub fn new(n_components: usize) -> Self {
        Self { n_components }
    }
}

impl Validate for Cca {
    type Error = BaselineError;

    fn validate(&self) -> Result<()> {
        Ok(check_at_least(self.n_components, 1, "CCA n_components")?)
    }
}

/// A fitted two-view CCA.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct CcaFit {
    /// `r x d_x`, normalised so `A Cov(x) A^T = I`, centring by the mean of x.
    pub map_x: LinearMap,
    /// `r x d_y`, normalised so `B Cov(y) B^T = I`, centring by the mean of y.
    pub map_y: LinearMap,
    /// Canonical correlations, descending.
    pub correlations: Vec<f64>,
}

impl Fit<(&DMatrix<f64>, &DMatrix<f64>)> for Cca {
    type Fitted = CcaFit;

    /// Fits on paired rows of `x` (`n x d_x`) and `y` (`n x d_y`).
    ///
    /// # Errors
    /// Row counts that differ, fewer than 2 rows, `n_components` above either dimension,
    /// non-finite data, a singular covariance of either view.
    fn fit(&self, (x, y): (&DMatrix<f64>, &DMatrix<f64>)) -> Result<CcaFit> {
        self.validate()?;
        let n = x.nrows();
        gmm_core::check_shape(y, n, y.ncols(), "rows of view y against view x")?;
        check_at_least(n, 2, "paired rows for CCA")?;
        let r = self.n_components;
        for (m, what) in [(x, "CCA n_components against d_x"), (y, "CCA n_components against d_y")] {
            if r > m.ncols() {
                return Err(gmm_core::GmmError::out_of_range(what, r as f64, format!("at most {}", m.ncols())).into());
            }
        }
        check_finite(x, "view x")?;
        check_finite(y, "view y")?;
        let (mx, my) = (column_means(x), column_means(y));
        let (cx, cy) = (centred(x, &mx), centred(y, &my));
        let whiten = |c: &DMatrix<f64>, what: &'static str| {
            gmm_core::linalg::spd_inv_sqrt(&(gram(c) / n as f64))
                .map_err(singular_with_fix(what, "a constant feature, or fewer rows than features, does this"))
        };
        let (wx, wy) = (whiten(&cx, "Cov(x)")?, whiten(&cy, "Cov(y)")?);
        let mut cross = DMatrix::zeros(x.ncols(), y.ncols());
        gemm(1.0 / n as f64, &cx, Op::T, &cy, Op::N, 0.0, &mut cross)?;
        let svd = gmm_core::linalg::svd(&(&wx * cross * &wy))?;
        let mut a = svd.u.columns(0, r).transpose() * wx;
        let mut b = svd.v.columns(0, r).transpose() * wy;
        // Signs fixed on x's directions; y's follow, so each pair keeps a positive correlation.
        let before = a.clone();
        fix_row_signs(&mut a);
        for i in 0..r {
            if a.row(i).dot(&before.row(i)) < 0.0 {
                b.row_mut(i).neg_mut();
            }
        }
        Ok(CcaFit {
            map_x: LinearMap::with_mean(a, mx)?,
            map_y: LinearMap::with_mean(b, my)?,
            correlations: svd.singular_values.iter().take(r).copied().collect(),
        })
    }
}
