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

pub mod budget;
pub mod clip;
pub mod error;
pub mod estimator;
pub mod generate;
pub mod gmm;
pub mod linalg;
mod number;
pub mod parallel;
pub mod population;
pub mod presets;
pub mod rng;
pub mod sample;
#[cfg(feature = "proptest")]
pub mod strategies;
pub mod subspace;

pub use clip::{ClipGenerator, ClipGmm, ClipPairs, Modality, Side};
pub use error::{
    GmmError, Result, all_finite, check_at_least, check_finite, check_finite_given_sums, check_non_negative,
    check_positive, check_shape, parse_name,
};
pub use estimator::{Fit, Predict, Transform, Validate};
pub use generate::{MixtureGenerator, textbook_2d};
pub use gmm::{Gmm, GmmSpec};
pub use number::Sig3;
pub use presets::{Model, PRESETS, preset};
pub use rng::{SeedRng, seeded, stable_hash};
pub use sample::{Labelled, PairSampler, Pairs, check_delta, check_pairs};
pub use subspace::{LinearMap, Subspace};
