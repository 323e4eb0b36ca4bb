#![doc = include_str!("../README.md")]

mod certificate;
mod contrastive;
mod cost;
mod curvature;
mod data;
mod decorrelation;
mod error;
mod executor;
mod fit;
mod flow;
mod infonce_views;
mod init;
mod kernels;
mod lbfgs;
mod line_search;
mod objective;
mod observe;
mod optim;
mod outcome;
mod population;
mod precondition;
mod scalar;
mod simsiam;
mod spectral;
mod streamed;
mod whitened;
mod whitened_simsiam;

pub use certificate::{Certificate, DistanceBound, INFIMUM_FRACTION};
pub use contrastive::{ClipLoss, Form, InfoNceLoss, Score};
pub use cost::{Cost, FixedSample, FnCost};
pub use curvature::{Curvature, LANCZOS_STEPS, row_rotations, smallest_curvature};
pub use data::{ClipStream, FixedPairs, GmmStream, LabelledPairs, PairSource, Rounded};
pub use decorrelation::{
    BARLOW_EPS, BARLOW_LAMBDA, BarlowTwinsLoss, DecorrelationCost, VICREG_EPS, VICREG_WEIGHTS, VicRegHinge, VicRegLoss,
    VicRegWeights, barlow_population, vicreg_hinges, vicreg_population,
};
pub use error::{LossError, Result};
pub use executor::{Constraint, PARAM_DIVERGENCE_FACTOR, Plateau, TrainConfig, train, train_with};
pub use fit::{Clip, ClipFit, InfoNce, InfoNceFit};
pub use flow::{
    BYOL_MOMENTUM, FixedPointSettings, FlowRule, FlowState, PredictorFlow, SteadyState, whitened_fixed_point,
};
pub use infonce_views::{INFONCE_VIEW_NODES, InfoNceViewPopulation, sobol_normal_nodes};
pub use init::{INIT_SCALE, small_random_init};
pub use lbfgs::Lbfgs;
pub use objective::{Batch, CONTRASTIVE_DIVERGENCE_FACTOR, Objective};
pub use observe::{Observer, Progress};
pub use optim::{FirstOrder, Optimizer, OptimizerKind, Schedule};
pub use outcome::{Ending, Run, Trained};
pub use population::{
    POPULATION_STARTS, PopulationCost, PopulationInfoNce, PopulationInfoNceFit, PopulationInfoNceLoss,
};
pub use precondition::{Centering, PreconditionedSource, Preconditioner, Sides, WHITENING_RIDGE, Whitening};
pub use scalar::{EXP_F32_FLUSH, Real, exp, exp_f32, from_f64, to_f64};
pub use simsiam::{Directions, SimSiamForm, SimSiamLoss};
pub use spectral::{SpectralContrastiveLoss, SpectralPopulationCost, spectral_optimum, spectral_population};
pub use streamed::{
    CLIP_ON_MIXTURE, FINAL_LOSS_WINDOW, MAX_INIT_SCALE, MIXTURE_LOSS_ON_CLIP, Preconditioning, StreamLoss, Streamed,
    StreamedFit, WARMUP_BATCHES,
};
pub use whitened::{
    RunningWhitening, WHITENED_TOL, WhitenedCertificate, whiten_rows, whitened_budget, whitened_eigenvalues,
    whitened_optimum, whitened_predictor_rate,
};
pub use whitened_simsiam::{
    RecipeSteps, WhitenedMixtureFit, WhitenedSimSiam, WhitenedSimSiamFit, train_whitened_simsiam,
};
