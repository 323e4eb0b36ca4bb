//! The sweeps of every experiment, as data: the defaults, the `--quick` reduction, and what a
//! JSON file may override.

use serde::{Deserialize, Serialize};

use crate::augment::Recipe;
use crate::data::Dataset;
use crate::error::{ExperimentError, Result};

/// The sweeps of every experiment. `ssl-gmm reproduce --print-config` prints the defaults;
/// `--config FILE` overrides any subset of the fields.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Sweeps {
    /// Repetitions (seeds) of every setting.
    pub seeds: usize,
    /// Training steps of the streaming runs (whitened SimSiam: 5x this; CLIP in E6: its sweep).
    pub steps: usize,
    /// Pairs per batch (streams) and per batch of the fixed partition (InfoNCE's in-batch
    /// negatives on a fixed sample).
    pub batch: usize,
    /// Samples / pairs of every fixed-sample method (InfoNCE, CCA, PCA, LDA) and for evaluation.
    pub samples: usize,
    /// Components of the synthetic mixtures.
    pub k: usize,
    /// Dimension of the synthetic mixtures (E1, E2, E4, E5).
    pub d: usize,
    /// E1: condition numbers of Sigma.
    pub e1_conditions: Vec<f64>,
    /// E2: couplings delta.
    pub e2_deltas: Vec<f64>,
    /// E3: dimensions.
    pub e3_dims: Vec<usize>,
    /// E4: sample sizes n (a fixed sample of n pairs, trained to the certificate).
    pub e4_samples: Vec<usize>,
    /// E5: output dimensions r.
    pub e5_ranks: Vec<usize>,
    /// E6: CLIP training steps.
    pub e6_steps: Vec<usize>,
    /// E7: real data sets (`wine`, `digits`).
    pub e7_datasets: Vec<Dataset>,
    /// E8: augmented pairs per training image (0: no E8).
    pub e8_pairs_per_image: usize,
    /// E8: the augmentation recipes, one setting each (from pixel noise alone to strong
    /// geometric changes).
    pub e8_recipes: Vec<Recipe>,
}

impl Default for Sweeps {
    fn default() -> Self {
        Self {
            seeds: 5,
            steps: 3000,
            batch: 256,
            samples: 20_000,
            k: 4,
            d: 16,
            e1_conditions: vec![1.0, 10.0, 100.0, 1000.0],
            e2_deltas: vec![1.0, 0.8, 0.6, 0.4, 0.2, 0.0],
            e3_dims: vec![8, 16, 32, 64],
            e4_samples: vec![2_000, 8_000, 32_000, 128_000],
            e5_ranks: vec![1, 3, 5, 8],
            e6_steps: vec![100, 300, 1000, 3000],
            e7_datasets: Dataset::ALL.to_vec(),
            e8_pairs_per_image: 4,
            e8_recipes: Recipe::SWEEP.to_vec(),
        }
    }
}

impl Sweeps {
    /// The reduced sweeps of `--quick`.
    pub fn quick() -> Self {
        Self {
            seeds: 2,
            steps: 800,
            samples: 5_000,
            e1_conditions: vec![1.0, 10.0, 100.0, 1000.0],
            e2_deltas: vec![1.0, 0.6, 0.2, 0.0],
            e3_dims: vec![8, 16, 32],
            e4_samples: vec![2_000, 8_000, 32_000],
            e5_ranks: vec![1, 3, 5],
            e6_steps: vec![100, 300, 1000],
            ..Self::default()
        }
    }

    /// Checks the sweeps before any work.
    ///
    /// # Errors
    /// [`ExperimentError::Config`] naming what is out of range.
    pub fn validate(&self) -> Result<()> {
        if self.seeds == 0 || self.steps == 0 || self.batch < 2 || self.samples < 10 || self.k < 2 || self.d < self.k {
            return Err(ExperimentError::Config(
                "sweeps need seeds >= 1, steps >= 1, batch >= 2, samples >= 10, k >= 2, d >= k".into(),
            ));
        }
        if self.e5_ranks.contains(&0) || self.e3_dims.iter().any(|&d| d < self.k) {
            return Err(ExperimentError::Config("sweeps need e5_ranks >= 1 and e3_dims >= k".into()));
        }
        if self.e4_samples.iter().any(|&n| n < 10) || self.e6_steps.contains(&0) {
            return Err(ExperimentError::Config("sweeps need e4_samples >= 10 and e6_steps >= 1".into()));
        }
        self.e8_recipes.iter().try_for_each(Recipe::validate)?;
        Ok(())
    }
}
