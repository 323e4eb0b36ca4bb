//! The sweeps of every experiment, as data: the defaults, the `--quick` reduction, and what a
//! JSON file may override.

use serde::{Deserialize, Serialize};

use verdict::View;

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
    /// The streaming budget: whitened SimSiam's recipe runs 5x to 25x this many steps per start.
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
    /// E6: pairs of CLIP's fixed sample (fitted to its certificate).
    pub e6_pairs: Vec<usize>,
    /// E7: real data sets (`wine`, `digits`).
    pub e7_datasets: Vec<Dataset>,
    /// E8: augmented pairs per training image (0: no E8).
    pub e8_pairs_per_image: usize,
    /// E8: the augmentation recipes, one setting each (from pixel noise alone to strong
    /// geometric changes).
    pub e8_recipes: Vec<Recipe>,
    /// E9: the augmentations of the loss zoo (`coupled`, `noise-iso`, `noise-sigma`,
    /// `noise-both`, `mask`), one setting each; every loss of the zoo is fitted on each, on the
    /// zoo family's mixture of each seed.
    pub e9_views: Vec<View>,
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
            e6_pairs: vec![2_000, 8_000, 32_000, 128_000],
            e7_datasets: Dataset::ALL.to_vec(),
            e8_pairs_per_image: 4,
            e8_recipes: Recipe::SWEEP.to_vec(),
            e9_views: View::ALL.to_vec(),
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
            e6_pairs: vec![2_000, 8_000, 32_000],
            ..Self::default()
        }
    }

    /// Reads sweeps from JSON text: an object whose fields are any subset of
    /// `--print-config`'s (the others keep their defaults). An array, a number or any other
    /// JSON value is refused, so that `[7, 9]` is not read as positional fields.
    ///
    /// # Errors
    /// [`ExperimentError::Config`] for text that is not a JSON object of known fields with
    /// values of the right types, or for sweeps that [`Sweeps::validate`] refuses.
    pub fn from_json(text: &str) -> Result<Self> {
        Self::from_json_over(text, &Self::default())
    }

    /// As [`Sweeps::from_json`], with the fields the text does not set taken from `base` (e.g.
    /// [`Sweeps::quick`] for `reproduce --quick --config FILE`).
    ///
    /// # Errors
    /// As [`Sweeps::from_json`].
    pub fn from_json_over(text: &str, base: &Self) -> Result<Self> {
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|e| ExperimentError::Config(format!("not valid JSON: {e}")))?;
        if !value.is_object() {
            let kind = match value {
                serde_json::Value::Array(_) => "an array",
                serde_json::Value::Null => "null",
                serde_json::Value::Bool(_) => "a boolean",
                serde_json::Value::Number(_) => "a number",
                _ => "a string",
            };
            return Err(ExperimentError::Config(format!(
                "sweeps must be a JSON object of named fields (see --print-config), got {kind}"
            )));
        }
        let mut merged = serde_json::to_value(base).map_err(|e| ExperimentError::Config(e.to_string()))?;
        if let (Some(fields), serde_json::Value::Object(given)) = (merged.as_object_mut(), value) {
            for (key, v) in given {
                if let Some(why) = retired(&key) {
                    return Err(ExperimentError::Config(why));
                }
                if !fields.contains_key(&key) {
                    return Err(ExperimentError::Config(format!(
                        "unknown field `{key}` (the fields are those of --print-config)"
                    )));
                }
                fields.insert(key, v);
            }
        }
        let sweeps: Self = serde_json::from_value(merged).map_err(|e| ExperimentError::Config(e.to_string()))?;
        sweeps.validate()?;
        Ok(sweeps)
    }

    /// Checks the sweeps before any work: ranges, fields against each other (ranks against the
    /// dimension, sizes above zero), no setting listed twice, and the budgets of
    /// [`gmm_core::budget`]: the memory of the largest job's arrays and the steps of the longest
    /// run (the number of jobs depends on the experiments: [`crate::Suite::validate`]).
    ///
    /// # Errors
    /// [`ExperimentError::Config`] naming what is out of range, repeated or inconsistent;
    /// [`ExperimentError::Core`] ([`gmm_core::GmmError::OverBudget`]) for a sweep beyond a budget.
    pub fn validate(&self) -> Result<()> {
        let config = |m: String| Err(ExperimentError::Config(m));
        if self.seeds == 0 || self.steps == 0 || self.batch < 2 || self.samples < 10 || self.k < 2 || self.d < self.k {
            return config("sweeps need seeds >= 1, steps >= 1, batch >= 2, samples >= 10, k >= 2, d >= k".into());
        }
        if self.e3_dims.iter().any(|&d| d < self.k) {
            return config(format!("sweeps need every e3_dims >= k = {}", self.k));
        }
        if let Some(&r) = self.e5_ranks.iter().find(|&&r| r == 0 || r > self.d) {
            return config(format!("e5_ranks: r = {r} is out of range: expected between 1 and d = {}", self.d));
        }
        if self.e4_samples.iter().any(|&n| n < 10) || self.e6_pairs.iter().any(|&n| n < 10) {
            return config("sweeps need e4_samples >= 10 and e6_pairs >= 10".into());
        }
        if let Some(&c) = self.e1_conditions.iter().find(|c| !(c.is_finite() && **c >= 1.0)) {
            return config(format!("e1_conditions: {c} is out of range: a condition number is finite and >= 1"));
        }
        if let Some(&d) = self.e2_deltas.iter().find(|d| !(0.0..=1.0).contains(*d)) {
            return config(format!("e2_deltas: {d} is out of range: a coupling is in [0, 1]"));
        }
        self.check_distinct()?;
        self.e8_recipes.iter().try_for_each(Recipe::validate)?;
        self.check_budgets()
    }

    /// No sweep lists a setting twice (it would count as two seeds of one setting).
    fn check_distinct(&self) -> Result<()> {
        fn first_repeat<T: PartialEq + std::fmt::Debug>(values: &[T]) -> Option<String> {
            values.iter().enumerate().find(|(i, v)| values[..*i].contains(v)).map(|(_, v)| format!("{v:?}"))
        }
        let lists = [
            ("e1_conditions", first_repeat(&self.e1_conditions)),
            ("e2_deltas", first_repeat(&self.e2_deltas)),
            ("e3_dims", first_repeat(&self.e3_dims)),
            ("e4_samples", first_repeat(&self.e4_samples)),
            ("e5_ranks", first_repeat(&self.e5_ranks)),
            ("e6_pairs", first_repeat(&self.e6_pairs)),
            ("e7_datasets", first_repeat(&self.e7_datasets)),
            ("e8_recipes", first_repeat(&self.e8_recipes)),
            ("e9_views", first_repeat(&self.e9_views)),
        ];
        match lists.into_iter().find_map(|(name, repeat)| repeat.map(|v| (name, v))) {
            Some((name, v)) => {
                Err(ExperimentError::Config(format!("{name} lists the setting {v} twice; use seeds for repetitions")))
            }
            None => Ok(()),
        }
    }

    /// The budgets: steps, and the largest arrays of one job times the threads that run jobs at
    /// once (the number of jobs is the suite's to check: [`crate::Suite::validate`]).
    fn check_budgets(&self) -> Result<()> {
        use gmm_core::budget::{MAX_STEPS, check_memory, check_work};
        // Whitened SimSiam runs up to 25x `steps` per start (4 starts).
        check_work(
            "the longest run's steps (100 x steps for whitened SimSiam's starts)",
            (self.steps as u64).saturating_mul(100),
            MAX_STEPS,
        )?;
        let d = self.e3_dims.iter().copied().chain([self.d]).max().unwrap_or(self.d);
        // Jobs run on the pool's threads: at most that many at once (the suite checks the count).
        let at_once = gmm_core::parallel::threads().max(1);
        // A mixture job holds its pairs, evaluation sample and their centred, whitened copies:
        // about 8 arrays of n x d. E3 sweeps d at `samples`, E4 sweeps n at `d`, the others run
        // `samples` at `d`: the largest job is the larger of E3's and E4's largest.
        let e3 = self.e3_dims.iter().copied().max().unwrap_or(0);
        let e4 = self.e4_samples.iter().copied().chain(self.e6_pairs.iter().copied()).max().unwrap_or(0);
        let (n, width) = [(self.samples, self.d), (self.samples, e3), (e4, self.d)]
            .into_iter()
            .max_by_key(|&(n, d)| (n as u128) * (d as u128))
            .unwrap_or((self.samples, self.d));
        check_memory(
            "one mixture job's samples (8 arrays of n x d, for every job that runs at once)",
            &[n, width, 8, at_once],
        )?;
        check_memory("one mixture job's d x d matrices", &[d, d, 16, at_once])?;
        check_memory("the scores of a batch (batch x batch, 4 arrays)", &[self.batch, self.batch, 4, at_once])?;
        if self.e8_pairs_per_image > 0 && !self.e8_recipes.is_empty() {
            let images = crate::data::Dataset::Digits.rows();
            check_memory(
                "E8's augmented pairs (images x e8_pairs_per_image x 64 pixels, 4 arrays)",
                &[images, self.e8_pairs_per_image, 64, 4, at_once],
            )?;
        }
        Ok(())
    }
}

/// Why a field that sweeps no longer have is refused, for configurations written for an earlier
/// version (`None` for a field that never existed).
pub(crate) fn retired(field: &str) -> Option<String> {
    (field == "e6_steps").then(|| {
        "`e6_steps` is retired: E6 now fits CLIP to its certificate on a fixed sample of pairs and sweeps the sample size; replace it by `e6_pairs` (e.g. [2000, 8000, 32000])".into()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_is_an_object_whose_fields_agree_and_skips_are_named() {
        assert!(Sweeps::from_json("[7, 9]").unwrap_err().to_string().contains("JSON object"));
        assert!(Sweeps::from_json(r#"{"e5_ranks": [100], "d": 4}"#).is_err());
        assert!(Sweeps::from_json(r#"{"e2_deltas": [0.2, 0.2]}"#).unwrap_err().to_string().contains("twice"));
        assert!(Sweeps::from_json(r#"{"nope": 1}"#).unwrap_err().to_string().contains("unknown field"));
        // A configuration written for the streaming E6 is refused with what replaced its field.
        assert!(Sweeps::from_json(r#"{"e6_steps": [100]}"#).unwrap_err().to_string().contains("e6_pairs"));
        let s = Sweeps::from_json_over(r#"{"steps": 7, "e6_pairs": []}"#, &Sweeps::quick()).unwrap();
        assert_eq!((s.steps, s.seeds), (7, Sweeps::quick().seeds));
        let err = Sweeps::from_json(r#"{"steps": 1000000000000}"#).unwrap_err();
        assert!(matches!(err, ExperimentError::Core(gmm_core::GmmError::OverBudget { .. })), "{err}");
    }
}
