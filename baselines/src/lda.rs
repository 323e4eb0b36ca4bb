//! Fisher's linear discriminant analysis (supervised reference).

use std::str::FromStr;

use gmm_core::linalg::{gen_sym_eig, gram};
use gmm_core::nalgebra::{DMatrix, DVector};
use gmm_core::{Fit, GmmError, Labelled, LinearMap, Predict, Transform, Validate, check_non_negative};

use crate::error::{BaselineError, Result, singular_with_fix};
use crate::stats::{Classes, fix_row_signs};

/// Regularisation of the within-class scatter.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "kebab-case", tag = "kind", content = "value"))]
pub enum Shrinkage {
    /// None: `S_W` must be positive definite.
    #[default]
    None,
    /// `S_W <- (1 - a) S_W + a (tr S_W / d) I`, `a in [0, 1]` (scikit-learn's float shrinkage,
    /// `shrunk_covariance`, applied to each class covariance and so to their weighted sum).
    Fixed(f64),
    /// Each class covariance `S_c <- (1 - a_c) S_c + a_c diag(S_c)` with `a_c` the Ledoit-Wolf
    /// coefficient of the class's standardised samples (scikit-learn's `shrinkage="auto"`).
    LedoitWolf,
    /// `S_W <- S_W + lambda I`.
    Ridge(f64),
}

impl FromStr for Shrinkage {
    type Err = GmmError;

    /// `none`, `ledoit-wolf` (or scikit-learn's `auto`), or a number in `[0, 1]` (fixed
    /// shrinkage). A ridge has its own option where a tool offers one.
    fn from_str(s: &str) -> std::result::Result<Self, GmmError> {
        match s {
            "none" => Ok(Self::None),
            "ledoit-wolf" | "auto" => Ok(Self::LedoitWolf),
            _ => match s.parse::<f64>() {
                Ok(a) if (0.0..=1.0).contains(&a) => Ok(Self::Fixed(a)),
                Ok(a) => Err(GmmError::out_of_range("shrinkage", a, "in [0, 1]")),
                Err(_) => {
                    Err(GmmError::unknown_name("shrinkage", s, &["none", "ledoit-wolf", "auto", "a number in [0, 1]"]))
                }
            },
        }
    }
}

/// LDA parameters (scikit-learn's `LinearDiscriminantAnalysis(solver="eigen")`): the top
/// generalized eigenvectors of `S_B w = lambda S_W w`, which span the Fisher subspace
/// `range(S_W^{-1} S_B)`.
///
/// ```
/// use baselines::{Fit, Lda, Predict, Shrinkage};
/// use gmm_core::{MixtureGenerator, seeded};
///
/// let gmm = MixtureGenerator::isotropic(3, 6).condition(50.0).generate(&mut seeded(1))?;
/// let train = gmm.sample(3000, &mut seeded(2));
/// let fit = Lda::new().shrinkage(Shrinkage::Ridge(1e-9)).fit(&train)?;
/// // Two directions for three classes, close to the population Fisher subspace.
/// let learned = fit.map.row_space()?;
/// assert_eq!(learned.dim(), 2);
/// assert!(learned.sin_theta_max(&gmm.fisher_subspace()?)? < 0.2);
/// let test = gmm.sample(10, &mut seeded(3));
/// assert_eq!(fit.predict(&test.x)?.len(), 10);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Lda {
    n_components: Option<usize>,
    shrinkage: Shrinkage,
}

/// A fitted LDA: the map (rows = discriminant directions, descending eigenvalue, normalised so
/// that `A S_W A^T = I`), the eigenvalues' shares, and what the classifier needs.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct LdaFit {
    /// `r x d`; rows are directions, centring by the overall mean.
    pub map: LinearMap,
    /// Generalized eigenvalues of `S_B w = lambda S_W w`, descending (all `min(c-1, d)`).
    pub eigenvalues: Vec<f64>,
    /// Their shares of the sum.
    pub explained_variance_ratio: Vec<f64>,
    /// Class means, `c x d`.
    pub class_means: DMatrix<f64>,
    /// Class priors (frequencies).
    pub priors: Vec<f64>,
    /// The shrinkage actually applied (`Fixed`/`LedoitWolf`: the coefficient; else 0).
    pub shrinkage_used: f64,
}

impl Lda {
    /// `min(classes - 1, d)` directions, no shrinkage.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of directions (default, and maximum, `min(classes - 1, d)`).
    pub fn n_components(mut self, n_components: usize) -> Self {
        self.n_components = Some(n_components);
        self
    }

    /// Regularisation of `S_W` (default none).
    pub fn shrinkage(mut self, shrinkage: Shrinkage) -> Self {
        self.shrinkage = shrinkage;
        self
    }
}

impl Validate for Lda {
    type Error = BaselineError;

    fn validate(&self) -> Result<()> {
        if self.n_components == Some(0) {
            return Err(GmmError::out_of_range("LDA n_components", 0.0, ">= 1").into());
        }
        match self.shrinkage {
            Shrinkage::Fixed(a) if !(0.0..=1.0).contains(&a) => {
                Err(GmmError::out_of_range("shrinkage", a, "in [0, 1]").into())
            }
            Shrinkage::Ridge(lambda) => Ok(check_non_negative(lambda, "ridge")?),
            _ => Ok(()),
        }
    }
}

impl<L: AsRef<[usize]> + ?Sized> Fit<(&DMatrix<f64>, &L)> for Lda {
    type Fitted = LdaFit;

    /// Fits on `x` (`n x d`, rows are samples) with `labels` in `0..c`.
    ///
    /// `S_W` = prior-weighted class covariances (biased, as scikit-learn) = the covariance of the
    /// rows centred by their class mean, computed in one pass (one blocked product); `S_B` from
    /// the class means and priors; `S_B w = lambda S_W w` by gmm-core's Cholesky reduction.
    ///
    /// # Errors
    /// One class, an empty class, NaN, `n_components` out of range, singular `S_W` without
    /// shrinkage.
    fn fit(&self, (x, labels): (&DMatrix<f64>, &L)) -> Result<LdaFit> {
        self.fit_labelled(x, labels.as_ref())
    }
}

impl Fit<&Labelled> for Lda {
    type Fitted = LdaFit;

    /// Fits on labelled samples (`x` with the components `z` as labels).
    fn fit(&self, data: &Labelled) -> Result<LdaFit> {
        self.fit_labelled(&data.x, &data.z)
    }
}

impl Lda {
    fn fit_labelled(&self, x: &DMatrix<f64>, labels: &[usize]) -> Result<LdaFit> {
        self.validate()?;
        let classes = Classes::new(x, labels)?;
        let (n, d) = x.shape();
        let max_r = (classes.count - 1).min(d);
        let r = self.n_components.unwrap_or(max_r);
        if r > max_r {
            let expected = format!("between 1 and min(classes - 1, d) = {max_r}");
            return Err(GmmError::out_of_range("LDA n_components", r as f64, expected).into());
        }
        let mut sw = classes.within_scatter(x, labels) / n as f64;
        let shrinkage_used = match self.shrinkage {
            Shrinkage::None => 0.0,
            Shrinkage::Fixed(a) => {
                let mu = sw.trace() / d as f64;
                sw *= 1.0 - a;
                for i in 0..d {
                    sw[(i, i)] += a * mu;
                }
                a
            }
            Shrinkage::LedoitWolf => {
                // Per class, as scikit-learn: each class covariance shrunk with its own
                // coefficient, then weighted by the priors. Reported: the prior-weighted mean.
                sw.fill(0.0);
                let residuals = classes.within_centred(x, labels);
                let mut mean_a = 0.0;
                for c in 0..classes.count {
                    let rows: Vec<usize> = (0..n).filter(|&i| labels[i] == c).collect();
                    let rc = residuals.select_rows(rows.iter());
                    let sc = gram(&rc) / rows.len() as f64;
                    sw += ledoit_wolf_shrunk(&rc, &sc) * classes.priors[c];
                    mean_a += classes.priors[c] * ledoit_wolf_shrinkage(&rc, &sc);
                }
                mean_a
            }
            Shrinkage::Ridge(lambda) => {
                for i in 0..d {
                    sw[(i, i)] += lambda;
                }
                0.0
            }
        };
        let sb = classes.between_scatter();
        let ge = gen_sym_eig(&sb, &sw).map_err(singular_with_fix(
            "the within-class scatter S_W",
            "a constant feature, or fewer samples than features, does this: pass a shrinkage (e.g. --shrinkage 0.1 or --shrinkage ledoit-wolf) or a ridge (--ridge 1e-6)",
        ))?;
        // `lambda_1 = v^T S_B v / v^T S_W v`: the rounding noise of S_W is about d eps ||S_T||, so a
        // ratio within 1000x of 1 / (d eps) means S_W is zero along v up to rounding (e.g. classes of
        // duplicated rows), and v is noise: components of size 1e23 were returned before.
        if ge.values.iter().next().is_some_and(|&top| top > 1e-3 / (d as f64 * f64::EPSILON)) {
            return Err(GmmError::Singular {
                what: "the within-class scatter S_W (zero up to rounding along the discriminant direction)",
                fix: "the classes have (almost) no spread, e.g. duplicated rows; a ridge of the scale of the data's variance (e.g. --ridge 1e-3) regularises it, a shrinkage does not (it scales S_W)",
            }
            .into());
        }
        let eigenvalues: Vec<f64> = ge.values.iter().take(max_r).copied().collect();
        let total: f64 = eigenvalues.iter().sum();
        let mut components = ge.vectors.columns(0, r).transpose();
        fix_row_signs(&mut components);
        Ok(LdaFit {
            map: LinearMap::with_mean(components, classes.mean.clone())?,
            explained_variance_ratio: eigenvalues.iter().map(|v| v / total).collect(),
            eigenvalues,
            class_means: classes.means,
            priors: classes.priors.iter().copied().collect(),
            shrinkage_used,
        })
    }
}

/// Feature scales of scikit-learn's `StandardScaler`: the standard deviation, or 1 for a
/// constant feature.
fn feature_scales(cov: &DMatrix<f64>) -> Vec<f64> {
    cov.diagonal().iter().map(|&v| if v > 0.0 { v.sqrt() } else { 1.0 }).collect()
}

/// One class's covariance shrunk as scikit-learn's `shrinkage="auto"`: in standardised
/// coordinates `C <- (1 - a) C + a mu I` (`mu = tr C / d`, below 1 when a feature is constant),
/// then scaled back: `S <- (1 - a) S + a mu diag(s^2)`.
fn ledoit_wolf_shrunk(residuals: &DMatrix<f64>, cov: &DMatrix<f64>) -> DMatrix<f64> {
    let a = ledoit_wolf_shrinkage(residuals, cov);
    let scales = feature_scales(cov);
    let d = cov.nrows();
    let mu = (0..d).map(|j| cov[(j, j)] / (scales[j] * scales[j])).sum::<f64>() / d as f64;
    let mut out = cov * (1.0 - a);
    for j in 0..d {
        out[(j, j)] += a * mu * scales[j] * scales[j];
    }
    out
}

/// Ledoit-Wolf shrinkage coefficient of one class's standardised residuals (scikit-learn's
/// `ledoit_wolf_shrinkage` applied after `StandardScaler`, as its LDA does per class with
/// `shrinkage="auto"`); `sw` is their covariance. With `Y` the residuals scaled to unit variance,
/// `beta = (1/(n d)) (sum (Y^2)^T Y^2 / n - ||Y^T Y||_F^2 / n^2)`,
/// `delta = (||Y^T Y / n||_F^2 - 2 mu tr + d mu^2) / d`, `a = min(beta, delta) / delta`.
fn ledoit_wolf_shrinkage(residuals: &DMatrix<f64>, sw: &DMatrix<f64>) -> f64 {
    let (n, d) = residuals.shape();
    let nf = n as f64;
    let scale = feature_scales(sw);
    let y = DMatrix::from_fn(n, d, |i, j| residuals[(i, j)] / scale[j]);
    let y2 = y.map(|v| v * v);
    let emp_trace: DVector<f64> = y2.row_sum().transpose() / nf;
    let mu = emp_trace.sum() / d as f64;
    let beta_ = gram(&y2).sum();
    let yty = gram(&y);
    let delta_ = yty.norm_squared() / (nf * nf);
    let beta = (beta_ / nf - delta_) / (d as f64 * nf);
    let delta = (delta_ - 2.0 * mu * emp_trace.sum() + d as f64 * mu * mu) / d as f64;
    let beta = beta.min(delta);
    if beta == 0.0 { 0.0 } else { beta / delta }
}

impl Transform for LdaFit {
    /// Projects `x` (`n x d`) onto the discriminant directions: `(X - mean) A^T`.
    fn transform(&self, x: &DMatrix<f64>) -> gmm_core::Result<DMatrix<f64>> {
        self.map.transform(x)
    }
}

impl Predict for LdaFit {
    /// The LDA classifier: nearest class mean in the projected space (where the pooled
    /// covariance is the identity, since `A S_W A^T = I`), with log-prior correction:
    /// `argmax_c [log p_c - ||A (x - m_c)||^2 / 2]`.
    fn predict(&self, x: &DMatrix<f64>) -> gmm_core::Result<Vec<usize>> {
        let z = self.map.transform(x)?;
        let centres = self.map.transform(&self.class_means)?;
        Ok((0..z.nrows())
            .map(|i| {
                (0..centres.nrows())
                    .map(|c| (c, self.priors[c].ln() - 0.5 * (z.row(i) - centres.row(c)).norm_squared()))
                    .fold((0, f64::NEG_INFINITY), |best, cur| if cur.1 > best.1 { cur } else { best })
                    .0
            })
            .collect())
    }
}
