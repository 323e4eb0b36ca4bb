//! One estimator shape for every method of the workspace: `params -> validate -> fit -> fitted
//! model`, then `transform` (and `predict` where it means something), as in scikit-learn and
//! linfa.
//!
//! * [`Validate`]: a data-independent check of the parameters, done by `fit` before any work
//!   (linfa's `ParamGuard`, lighter). Parameters are built with builders whose defaults mirror
//!   scikit-learn's where it has the method.
//! * [`Fit<D>`]: fits to data `D`, given by reference: `&DMatrix<f64>` (rows are samples) for
//!   unsupervised methods, `(&DMatrix<f64>, &[usize])` or `&Labelled` for supervised ones,
//!   `(&DMatrix<f64>, &DMatrix<f64>)` or `&Pairs` for methods on augmentation pairs.
//! * [`Transform`]: every fitted model maps samples (`n x d`) to features (`n x r`).
//! * [`Predict`]: a label per sample, for classifiers and clusterings.
//!
//! [`LinearMap`] implements [`Transform`], so code that only needs a representation can take
//! any fitted model or any map:
//!
//! ```
//! use gmm_core::nalgebra::DMatrix;
//! use gmm_core::{LinearMap, Transform};
//!
//! fn first_feature(model: &impl Transform, x: &DMatrix<f64>) -> gmm_core::Result<f64> {
//!     Ok(model.transform(x)?[(0, 0)])
//! }
//! let map = LinearMap::new(DMatrix::from_row_slice(1, 2, &[1.0, -1.0]));
//! let x = DMatrix::from_row_slice(1, 2, &[3.0, 1.0]);
//! assert_eq!(first_feature(&map, &x)?, 2.0);
//! # Ok::<(), gmm_core::GmmError>(())
//! ```
//!
//! [`Labelled`]: crate::Labelled
//! [`Pairs`]: crate::Pairs

use nalgebra::DMatrix;

use crate::error::{GmmError, Result};
use crate::subspace::LinearMap;

/// Parameters that can be checked before any data is seen.
pub trait Validate {
    /// The error of the crate that owns the parameters.
    type Error: From<GmmError>;

    /// Checks every parameter against its allowed range; `fit` calls this first.
    ///
    /// # Errors
    /// The first parameter out of range.
    fn validate(&self) -> std::result::Result<(), Self::Error>;
}

/// Fitting parameters to data `D` (see the module docs for the data types).
pub trait Fit<D>: Validate {
    /// The fitted model.
    type Fitted;

    /// Validates the parameters, checks the data (shapes, finiteness, counts) and fits.
    ///
    /// # Errors
    /// Invalid parameters or data, or a numerically impossible fit (e.g. a singular scatter
    /// matrix), each as a typed error.
    fn fit(&self, data: D) -> std::result::Result<Self::Fitted, Self::Error>;
}

/// A fitted model that maps samples to features.
pub trait Transform {
    /// Maps `x` (`n x d`, rows are samples) to `n x r` features.
    ///
    /// # Errors
    /// [`GmmError::Shape`] when `x` has the wrong number of columns; [`GmmError::NonFinite`]
    /// for NaN or infinite samples.
    fn transform(&self, x: &DMatrix<f64>) -> Result<DMatrix<f64>>;
}

/// A fitted model that assigns a label to each sample.
pub trait Predict {
    /// One label per row of `x` (`n x d`).
    ///
    /// # Errors
    /// As [`Transform::transform`].
    fn predict(&self, x: &DMatrix<f64>) -> Result<Vec<usize>>;
}

impl Transform for LinearMap {
    fn transform(&self, x: &DMatrix<f64>) -> Result<DMatrix<f64>> {
        LinearMap::transform(self, x)
    }
}
