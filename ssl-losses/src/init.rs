//! The random initial maps of every trainer.

use gmm_core::nalgebra::DMatrix;
use gmm_core::seeded;

/// The scale of the random initial map of the fixed-sample fits (entries `N(0, scale^2 / d)` in
/// the whitened coordinates, rows of norm about 1). The certificate is the gradient norm relative
/// to the start, so the start must not sit near the saddle at `A = 0`, where the gradient is
/// proportional to `A`: from scale 0.1 the start gradient was 1000x smaller, and a centred k = 2
/// fit stalled at rounding level with the relative gradient at 1.4e-5 (absolute 8e-8), while from
/// scale 1 the same fit certified at 7e-8.
pub const INIT_SCALE: f64 = 1.0;

/// Small random initial map: entries `N(0, scale^2 / d)` (`r x d`), from `seed`.
pub fn small_random_init(r: usize, d: usize, scale: f64, seed: u64) -> DMatrix<f64> {
    gmm_core::gaussian_matrix(r, d, &mut seeded(seed)) * (scale / (d as f64).sqrt())
}
