//! Shared proptest strategies over theory.md's parameter ranges: `k in 2..=6`, `d in k..=40`,
//! means `~ N(0, s^2 I)` then centred, `Sigma = Q diag(lambda) Q^T` with condition number up to
//! 1e3, optionally a dominant noise direction orthogonal to the means.

use gmm_core::{Gmm, MixtureGenerator, seeded};
use proptest::prelude::*;

/// Parameters of one random mixture (shrinks towards small, isotropic cases).
#[derive(Clone, Debug)]
pub struct MixtureCase {
    /// Components.
    pub k: usize,
    /// Dimension.
    pub d: usize,
    /// log10 of the condition number of `Sigma_0`.
    pub log_condition: f64,
    /// With a dominant noise direction.
    pub noise: bool,
    /// Equal weights.
    pub balanced: bool,
    /// Seed of the draw.
    pub seed: u64,
}

impl MixtureCase {
    /// The mixture.
    pub fn gmm(&self) -> Gmm {
        let mut g = MixtureGenerator::isotropic(self.k, self.d).condition(10f64.powf(self.log_condition));
        if self.noise {
            g = g.noise_direction(4.0);
        }
        if !self.balanced {
            g = g.unbalanced();
        }
        g.generate(&mut seeded(self.seed)).expect("parameters are in range")
    }
}

/// Random mixtures over theory.md's ranges.
pub fn mixtures() -> impl Strategy<Value = MixtureCase> {
    (2usize..=6, 0usize..=34, 0.0f64..=3.0, any::<bool>(), any::<bool>(), any::<u64>()).prop_map(
        |(k, extra, log_condition, noise, balanced, seed)| MixtureCase {
            k,
            d: (k + extra).min(40),
            log_condition,
            noise,
            balanced,
            seed,
        },
    )
}
