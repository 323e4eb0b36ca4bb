#![doc = include_str!("../README.md")]

mod classify;
mod fit;
mod flow;
mod loss;
mod own;
mod sampled;
mod zoo;

pub use classify::{ClassifySettings, Outcome, Verdict, Yardstick, classify};
pub use fit::{FitBound, FitReport, FitSettings, fit};
pub use flow::{FlowLoss, Inputs};
pub use loss::{KINK_RTOL, Kink, PopulationLoss, Scenario, ZooLoss};
pub use own::{GradientCheck, SampleSettings, SampleVerdict, sample_family_mixture, sample_verdict};
pub use sampled::{FisherGap, HeldOutSettings, fisher_gap, held_out_verdict};
pub use zoo::{Cell, TableLoss, View, ZOO_LOSSES, family_mixture, run_table, zoo_loss};

/// Fits `loss` on `scenario` ([`fit`]) and classifies the minimiser ([`classify`]).
///
/// # Errors
/// As [`fit`] and [`classify`].
pub fn verdict(
    loss: &mut dyn PopulationLoss,
    scenario: &Scenario,
    fit_settings: &FitSettings,
    classify_settings: &ClassifySettings,
    seed: u64,
) -> ssl_losses::Result<Verdict> {
    classify(fit(loss, scenario, fit_settings, seed)?, scenario, classify_settings)
}
