//! `ssl-gmm`: self-supervised learning on Gaussian mixtures, checked against theory.
//!
//! This crate is the user-facing entry point: the `ssl-gmm` command-line tool and re-exports of
//! the library crates of the workspace.
//!
//! * [`gmm_core`]: mixtures, samplers, population quantities (the Fisher subspace), principal angles.
//! * [`ssl_losses`]: InfoNCE, SimSiam and CLIP with analytic gradients, optimizers, the trainer.
//! * [`baselines`]: PCA, LDA, CCA on pairs, k-means, clustering metrics.
//! * [`theory_checks`]: the claims C1..C14 as checks with negative controls.
#![deny(missing_docs)]

pub use baselines;
pub use gmm_core;
pub use ssl_losses;
pub use theory_checks;
