#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

pub mod contrastive;
pub mod data;
pub mod error;
pub mod fit;
pub mod kernels;
pub mod lbfgs;
pub mod objective;
pub mod optim;
pub mod population;
pub mod simsiam;
pub mod train;

pub use contrastive::{Clip, Form, InfoNce, Score};
pub use data::{ClipStream, FixedPairs, GmmStream, LabelledPairs, PairSource, Rounded};
pub use error::{LossError, Result};
pub use fit::{
    Centering, ClipFit, ClipFitted, InfoNceFit, PreconditionedSource, Preconditioner, Sides, SslFitted,
    WHITENING_RIDGE, Whitening,
};
pub use lbfgs::{
    Certificate, Cost, FixedSample, FnCost, INFIMUM_FRACTION, Lbfgs, LbfgsStep, LbfgsStop, Minimized, PopulationCost,
    population_minimiser,
};
pub use objective::{Batch, Objective, Real, from_f64, to_f64};
pub use optim::{FirstOrder, Optimizer, OptimizerKind, Schedule};
pub use population::PopulationInfoNce;
pub use simsiam::{
    CertifiedSimSiam, Directions, SIMSIAM_START_BUDGETS, SimSiam, SimSiamForm, WHITENED_TOL, WhitenedCertificate,
    train_whitened_simsiam, train_whitened_simsiam_certified, whiten_rows, whitened_budget, whitened_eigenvalues,
    whitened_optimum, whitened_predictor_rate,
};
pub use train::{
    Constraint, Observer, PARAM_DIVERGENCE_FACTOR, Plateau, RunningWhitening, StepInfo, StopReason, TrainConfig,
    TrainOutcome, small_random_init, train, train_with,
};
