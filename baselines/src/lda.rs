//! Fisher's linear discriminant analysis (supervised reference).

use gmm_core::LinearMap;
use gmm_core::linalg::{gen_sym_eig, gram};
use nalgebra::{DMatrix, DVector};
use serde::{Deserialize, Serialize};

use crate::error::{BaselineError, Result};
use crate::stats::{Classes, fix_row_signs};

/// Regularisation of the within-class scatter.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "kind", content = "value")]
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

/// LDA parameters (scikit-learn's `LinearDiscriminantAnalysis(solver="eigen")`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Lda {
    /// Number of directions; default (and maximum) `min(classes - 1, d)`.
    pub n_components: Option<usize>,
    /// Regularisation of `S_W`.
    pub shrinkage: Shrinkage,
}

/// A fitted LDA: the map (rows = discriminant directions, descending eigenvalue, normalised so
/// that `A S_W A^T = I`), the eigenvalues' shares, and what the classifier needs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
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
    /// Fits on `x` (`n x d`, rows are samples) with `labels` in `0..c`.
    ///
    /// `S_W` = prior-weighted class covariances (biased, as scikit-learn) = the covariance of the
    /// rows centred by their class mean, computed in one pass (one blocked product); `S_B` from
    /// the class means and priors; `S_B w = lambda S_W w` by gmm-core's Cholesky reduction.
    ///
    /// # Errors
    /// One class, NaN, `n_components` out of range, singular `S_W` without shrinkage.
    pub fn fit(&self, x: &DMatrix<f64>, labels: &[usize]) -> Result<LdaFit> {
        let classes = Classes::new(x, labels)?;
        let (n, d) = x.shape();
        let max_r = (classes.count - 1).min(d);
        let r = self.n_components.unwrap_or(max_r);
        if r == 0 || r > max_r {
            return Err(BaselineError::InvalidParam {
                name: "n_components",
                value: r as f64,
                reason: format!("must be between 1 and min(classes - 1, d) = {max_r}"),
            });
        }
        let mut sw = classes.within_scatter(x, labels) / n as f64;
        let shrinkage_used = match self.shrinkage {
            Shrinkage::None => 0.0,
            Shrinkage::Fixed(a) => {
                if !(0.0..=1.0).contains(&a) {
                    return Err(BaselineError::InvalidParam {
                        name: "shrinkage",
                        value: a,
                        reason: "must be in [0, 1]".into(),
                    });
                }
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
                if !(lambda >= 0.0 && lambda.is_finite()) {
                    return Err(BaselineError::InvalidParam {
                        name: "ridge",
                        value: lambda,
                        reason: "must be >= 0".into(),
                    });
                }
                for i in 0..d {
                    sw[(i, i)] += lambda;
                }
                0.0
            }
        };
        let sb = classes.between_scatter();
        let ge = gen_sym_eig(&sb, &sw).map_err(|e| match e {
            gmm_core::GmmError::NotPositiveDefinite { .. } => BaselineError::Singular {
                what: "the within-class scatter S_W",
                fix: "pass a shrinkage (e.g. --shrinkage 0.1 or --shrinkage ledoit-wolf) or a ridge (--ridge 1e-6)",
            },
            other => BaselineError::Core(other),
        })?;
        let eigenvalues: Vec<f64> = ge.values.iter().take(max_r).copied().collect();
        let total: f64 = eigenvalues.iter().sum();
        let mut components = ge.vectors.columns(0, r).transpose();
        fix_row_signs(&mut components);
        Ok(LdaFit {
            map: LinearMap { components, mean: classes.mean.clone() },
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

impl LdaFit {
    /// Projects `x` (`n x d`) onto the discriminant directions: `(X - mean) A^T`.
    pub fn transform(&self, x: &DMatrix<f64>) -> Result<DMatrix<f64>> {
        Ok(self.map.transform(x)?)
    }

    /// The LDA classifier: nearest class mean in the projected space (where the pooled
    /// covariance is the identity, since `A S_W A^T = I`), with log-prior correction:
    /// `argmax_c [log p_c - ||A (x - m_c)||^2 / 2]`.
    pub fn predict(&self, x: &DMatrix<f64>) -> Result<Vec<usize>> {
        let z = self.transform(x)?;
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
