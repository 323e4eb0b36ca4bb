#![doc = include_str!("../README.md")]

mod classify;
mod fit;
mod loss;

pub use classify::{ClassifySettings, Outcome, Verdict, Yardstick, classify};
pub use fit::{FitReport, FitSettings, fit};
pub use loss::{KINK_RTOL, Kink, PopulationLoss, Scenario, ZooLoss};

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
