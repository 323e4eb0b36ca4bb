//! The crate's error type: the shared error core of gmm-core plus what only labelled data has.

use gmm_core::GmmError;
use thiserror::Error;

/// Everything that can go wrong when fitting a baseline. Bad input (shapes, non-finite values,
/// parameters out of range, too few samples, a singular scatter matrix) is a [`GmmError`] of the
/// shared error core, wrapped in [`BaselineError::Core`].
#[derive(Debug, Error, Clone, PartialEq)]
#[non_exhaustive]
pub enum BaselineError {
    /// Labels that are not `0..c` with every class present.
    #[error("class {class} of the labels 0..{classes} has no sample; labels must be 0..c with every class present")]
    EmptyClass {
        /// The class without samples.
        class: usize,
        /// The number of classes implied by the largest label.
        classes: usize,
    },
    /// Bad input or a failed decomposition (the shared error core).
    #[error(transparent)]
    Core(#[from] GmmError),
}

/// Shorthand.
pub type Result<T> = std::result::Result<T, BaselineError>;

/// Maps the core's [`GmmError::Singular`] of a decomposition to one naming the matrix and the
/// fix a user of this crate can apply (a shrinkage or a ridge option).
pub(crate) fn singular_with_fix(what: &'static str, fix: &'static str) -> impl Fn(GmmError) -> BaselineError {
    move |e| match e {
        GmmError::Singular { .. } => BaselineError::Core(GmmError::Singular { what, fix }),
        other => BaselineError::Core(other),
    }
}
