//! Named mixtures with fixed seeds, shared by the CLI, the examples and the experiments.

use crate::clip::{ClipGenerator, ClipGmm};
use crate::error::{GmmError, Result};
use crate::generate::{MixtureGenerator, textbook_2d};
use crate::gmm::Gmm;
use crate::rng::seeded;

/// A model: a single-modality mixture or a two-modality CLIP-GMM.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(untagged))]
pub enum Model {
    /// A shared-covariance Gaussian mixture.
    Gmm(Gmm),
    /// A two-modality CLIP-GMM.
    Clip(Box<ClipGmm>),
}

/// Preset names with a one-line description each.
pub const PRESETS: &[(&str, &str)] = &[
    ("isotropic", "k = 3, d = 10, Sigma = I: PCA finds the Fisher subspace"),
    ("anisotropic", "k = 3, d = 10, Sigma with condition number 100 in a random basis: F is not the mean span"),
    ("pca-trap", "k = 3, d = 10, Sigma = I + c v v^T with v orthogonal to the means and c = 4 lambda_max: PCA picks v"),
    ("textbook", "d = 2, mu = +-1.5 e1, Sigma = diag(1, 9): the top principal direction is pure noise"),
    (
        "clip",
        "two modalities (d_x = 8, d_y = 6), k = 3 shared and 3 private components, private means Sigma-orthogonal (claim C10)",
    ),
    ("clip-general", "as clip, without the orthogonality condition (C10's exact statement does not apply)"),
];

/// Seed used by every preset.
pub const PRESET_SEED: u64 = 20_241_105;

/// The model called `name` (see [`PRESETS`]).
///
/// # Errors
/// [`GmmError::UnknownName`] listing the known names.
pub fn preset(name: &str) -> Result<Model> {
    let mut rng = seeded(PRESET_SEED);
    let clip = |orthogonal| ClipGenerator::new(3, 3, 8, 6).orthogonal(orthogonal);
    Ok(match name {
        "isotropic" => Model::Gmm(MixtureGenerator::isotropic(3, 10).generate(&mut rng)?),
        "anisotropic" => Model::Gmm(MixtureGenerator::isotropic(3, 10).condition(100.0).generate(&mut rng)?),
        "pca-trap" => Model::Gmm(MixtureGenerator::isotropic(3, 10).noise_direction(4.0).generate(&mut rng)?),
        "textbook" => Model::Gmm(textbook_2d(1.5, 9.0)?),
        "clip" => Model::Clip(Box::new(clip(true).generate(&mut rng)?)),
        "clip-general" => Model::Clip(Box::new(clip(false).generate(&mut rng)?)),
        _ => {
            let known: Vec<&str> = PRESETS.iter().map(|(n, _)| *n).collect();
            return Err(GmmError::unknown_name("preset", name, &known));
        }
    })
}
