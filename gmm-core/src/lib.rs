#![doc = include_str!("../README.md")]
//!
//! ## Features
//!
//! | feature | default | what it adds |
//! |---|---|---|
//! | `parallel` | yes | rayon: large Gram products and sampling batches in parallel row blocks (the same bits on any thread count, and the same bits as without the feature) |
//! | `serde` | yes | `Serialize`/`Deserialize` for mixtures (through the validating constructors), maps, pairs and generators |
//! | `proptest` | no | `strategies`: proptest strategies over mixtures, CLIP mixtures, pairs and maps, for property tests of your own |
//!
//! The crate re-exports the versions of [`nalgebra`] and [`rand`] that its API speaks, and the
//! generator type [`SeedRng`]: import them through `gmm_core::nalgebra` and `gmm_core::rand` to
//! be sure the types match.

pub use nalgebra;
pub use rand;

mod augment;
pub mod budget;
mod clip;
mod error;
mod estimator;
mod generate;
mod gmm;
pub mod linalg;
mod number;
pub mod parallel;
mod population;
mod presets;
mod rng;
mod sample;
#[cfg(feature = "proptest")]
pub mod strategies;
mod subspace;

pub use augment::{Augmentation, Base, NoiseShape, ViewMoments, ViewTransform};
pub use clip::{ClipGenerator, ClipGmm, ClipGmmSpec, ClipPairs, Modality, ModalitySpec, Side};
pub use error::{
    GmmError, Result, all_finite, check_at_least, check_finite, check_finite_given_sums, check_non_negative,
    check_positive, check_shape, parse_name,
};
pub use estimator::{Fit, Predict, Transform, Validate};
pub use generate::{
    MixtureGenerator, gaussian_matrix, random_covariance, random_orthogonal, textbook_2d, unit_vector_orthogonal_to,
};
pub use gmm::{Gmm, GmmSpec, MAX_CONDITION, WEIGHT_SUM_TOL, checked_weights, matrix_from_rows, matrix_to_rows};
pub use number::Sig3;
pub use presets::{Model, PRESET_SEED, PRESETS, preset};
pub use rng::{SeedRng, seeded, stable_hash};
pub use sample::{Labelled, PairSampler, Pairs, check_delta, check_pairs};
pub use subspace::{LinearMap, Subspace};
