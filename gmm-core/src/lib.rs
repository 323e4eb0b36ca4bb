#![doc = include_str!("../README.md")]
#![warn(missing_docs)]

pub mod clip;
pub mod error;
pub mod generate;
pub mod gmm;
pub mod linalg;
pub mod population;
pub mod presets;
pub mod rng;
pub mod sample;
pub mod subspace;

pub use clip::{ClipGenerator, ClipGmm, ClipPairs, Modality, Side};
pub use error::{GmmError, Result};
pub use generate::{MixtureGenerator, textbook_2d};
pub use gmm::{Gmm, GmmSpec};
pub use presets::{Model, PRESETS, preset};
pub use rng::{SeedRng, seeded};
pub use sample::{Labelled, PairSampler, Pairs, check_delta};
pub use subspace::{LinearMap, Subspace};
