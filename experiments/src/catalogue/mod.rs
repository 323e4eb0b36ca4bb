//! The paper's experiments E1..E8 and the loss zoo E9, one module each, and the list that
//! registers them.

mod e1_variance;
mod e2_noise;
mod e3_dimension;
mod e4_sample_size;
mod e5_output_dimension;
mod e6_clip;
mod e7_real_data;
mod e8_augmented_digits;
mod e9_zoo;
mod fitted;
mod held_out;
mod mixture;

pub use e1_variance::E1;
pub use e2_noise::E2;
pub use e3_dimension::E3;
pub use e4_sample_size::E4;
pub use e5_output_dimension::E5;
pub use e6_clip::E6;
pub use e7_real_data::E7;
pub use e8_augmented_digits::E8;
pub use e9_zoo::E9;

use crate::experiment::Experiment;

/// The reproduction's experiments, in the order of the report: E1..E9. Adding one is a module
/// here and an entry in this list.
pub static PAPER: [&dyn Experiment; 9] = [&E1, &E2, &E3, &E4, &E5, &E6, &E7, &E8, &E9];
