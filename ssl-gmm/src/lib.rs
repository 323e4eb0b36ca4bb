//! `ssl-gmm`: self-supervised learning on Gaussian mixtures, checked against theory.
//!
//! This crate is the user-facing entry point: the `ssl-gmm` command-line tool and re-exports of
//! the library crates of the workspace.
//!
//! * [`gmm_core`]: mixtures, samplers, population quantities (the Fisher subspace), principal angles.
//! * [`ssl_losses`]: InfoNCE, SimSiam and CLIP with analytic gradients, optimizers, the trainer.
//! * [`baselines`]: PCA, LDA, CCA on pairs, k-means, clustering metrics.
//! * [`theory_checks`]: the claims C1..C24 of docs/theory.md as checks over independent cases, with negative controls.
//! * [`verdict`]: the verdict harness: what a loss's minimiser recovers (the zoo's population
//!   verdicts, and `sample_verdict` for a batch objective of your own).
//! * [`experiments`]: the experiments E1..E8 and the loss zoo E9 (sweeps, runner, CSVs, plots, report).
//!
//! Every method has one estimator shape (`gmm_core::{Validate, Fit, Transform, Predict}`), and
//! gmm-core re-exports the `nalgebra` and `rand` its API speaks:
//!
//! ```
//! use ssl_gmm::baselines::{CcaPairs, Fit, KMeans, Lda, Predict, Transform};
//! use ssl_gmm::gmm_core::{MixtureGenerator, seeded};
//!
//! let gmm = MixtureGenerator::isotropic(3, 10).noise_direction(4.0).generate(&mut seeded(1))?;
//! let (data, pairs) = (gmm.sample(5000, &mut seeded(2)), gmm.sample_pairs(5000, 0.8, &mut seeded(3))?);
//! let cca = CcaPairs::new(2).fit(&pairs)?;                 // label-free, on augmentation pairs
//! let lda = Lda::new().fit((&data.x, &data.z))?;           // supervised reference
//! let clusters = KMeans::new(3).seed(4).fit(&cca.transform(&data.x)?)?;
//! let labels = clusters.predict(&cca.transform(&data.x)?)?; // nearest centre
//! let sin = cca.map.row_space()?.sin_theta_max(&gmm.fisher_subspace()?)?;
//! assert!(sin < 0.2 && labels.len() == 5000 && lda.map.out_dim() == 2);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! A certified InfoNCE map in a few lines (a fixed sample, label-free preconditioning, L-BFGS to
//! the convergence certificate):
//!
//! ```
//! use ssl_gmm::gmm_core::{Fit, MixtureGenerator, seeded};
//! use ssl_gmm::ssl_losses::InfoNce;
//!
//! let gmm = MixtureGenerator::isotropic(3, 10).noise_direction(4.0).generate(&mut seeded(1))?;
//! let fit = InfoNce::new(2).fit(&gmm.sample_pairs(8192, 1.0, &mut seeded(2))?)?;
//! assert!(fit.run.converged());
//! println!("sin theta_max to F: {:.3}", fit.map.row_space()?.sin_theta_max(&gmm.fisher_subspace()?)?);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub use baselines;
pub use experiments;
pub use gmm_core;
pub use ssl_losses;
pub use theory_checks;
pub use verdict;
