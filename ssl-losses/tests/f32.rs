//! The losses in f32 against the same losses in f64 (whose gradients the finite-difference tests
//! check), and training in f32.
//!
//! **Tolerance, from f32 rounding.** Every f32 operation rounds with unit roundoff
//! `u = 2^-24 ~ 6e-8`. A sum of `k` rounded terms is off by at most `lambda sqrt(k) u` times the
//! sum of their magnitudes with probability at least `1 - 2 exp(-lambda^2 / 2)` (Higham and Mary's
//! probabilistic bound, 2019; `lambda = 4`: 1 - 7e-4 per sum). A gradient passes through at most
//! six such stages (rounding of the inputs, the projection over `d`, the scores over `r`, the
//! softmax's sum over the `2n` candidates, the two gradient products over `n` and `d`), each with
//! `k <= K = 2n + d + r`, so the relative error is at most `6 * 4 * sqrt(K) u` per unit of
//! magnitude. The exponential turns an absolute error `e` in a score into a relative error `e` in
//! a probability, and a score's absolute error is its relative error times `|S|`, hence the
//! factor `1 + max |S|` (a Cauchy-Schwarz bound on the scores, `1 / tau` for cosine scores; 0 for
//! SimSiam, which has no softmax). The bound is measured against `max |g_64|`: the tests use maps
//! away from a stationary point, where the gradient does not cancel to zero.
//!
//! Measured over 10 losses x 5 seeds: the f32 gap uses at most 15% of the bound (about `5 u`).
//!
//! **Control.** The same bound must reject, by a factor of 2, an answer carrying 12-bit rounding
//! (unit roundoff `2^-12`, 4096 times f32's): the f64 gradient at inputs rounded to 12
//! significant bits. Measured: rejected by at least 3.8x.

use gmm_core::nalgebra::DMatrix;
use gmm_core::{LinearMap, MixtureGenerator, gaussian_matrix, seeded};
use ssl_losses::{
    Batch, ClipLoss, Directions, Form, GmmStream, InfoNceLoss, Objective, Real, Rounded, Score, SimSiamForm,
    SimSiamLoss, TrainConfig, small_random_init, train,
};

/// f32's unit roundoff `2^-24`.
const U32: f64 = f32::EPSILON as f64 / 2.0;

/// The probabilistic bound's `lambda`: a sum's error exceeds `lambda sqrt(k) u` with probability
/// at most `2 exp(-lambda^2 / 2) = 6.7e-4`.
const LAMBDA: f64 = 4.0;

/// Significant bits of the control's inputs (unit roundoff `2^-12`, 4096 times f32's).
const CONTROL_BITS: i32 = 12;

#[derive(Clone, Copy, Debug)]
enum Case {
    InfoNce(Form, Score),
    Clip(Score),
    SimSiam(SimSiamForm, Directions),
}

const TAU: f64 = 0.5;

fn objective<T: Real>(case: Case) -> Box<dyn Objective<T>> {
    match case {
        Case::InfoNce(form, score) => Box::new(InfoNceLoss::<T>::new(TAU, form, score).unwrap()),
        Case::Clip(score) => Box::new(ClipLoss::<T>::new(TAU, score).unwrap()),
        Case::SimSiam(form, dirs) => Box::new(SimSiamLoss::<T>::new(form, dirs)),
    }
}

const CASES: [Case; 10] = [
    Case::InfoNce(Form::OneWay, Score::Dot),
    Case::InfoNce(Form::OneWay, Score::Cosine),
    Case::InfoNce(Form::Symmetric, Score::Dot),
    Case::InfoNce(Form::Symmetric, Score::Cosine),
    Case::InfoNce(Form::SimClr, Score::Dot),
    Case::Clip(Score::Dot),
    Case::Clip(Score::Cosine),
    Case::SimSiam(SimSiamForm::Mse, Directions::Symmetric),
    Case::SimSiam(SimSiamForm::NegCosine, Directions::OneWay),
    Case::SimSiam(SimSiamForm::NegCosine, Directions::Symmetric),
];

/// Loss and gradient in the scalar `T` from f64 inputs (rounded once to `T`), returned in f64.
fn evaluate<T: Real>(case: Case, params: &[DMatrix<f64>], x: &DMatrix<f64>, y: &DMatrix<f64>) -> (f64, Vec<f64>) {
    let cast = |m: &DMatrix<f64>| m.map(ssl_losses::from_f64::<T>);
    let params: Vec<DMatrix<T>> = params.iter().map(cast).collect();
    let mut grads: Vec<DMatrix<T>> = params.iter().map(|p| DMatrix::zeros(p.nrows(), p.ncols())).collect();
    let (x, y) = (cast(x), cast(y));
    let loss = objective::<T>(case).value_grad(&params, Batch::new(&x, &y).unwrap(), &mut grads).unwrap();
    (ssl_losses::to_f64(loss), grads.iter().flat_map(|g| g.iter().map(|&v| ssl_losses::to_f64(v))).collect())
}

/// `v` rounded to `bits` significant bits.
fn round_to_bits(v: f64, bits: i32) -> f64 {
    if v == 0.0 {
        return 0.0;
    }
    let scale = 2f64.powi(bits - 1 - v.abs().log2().floor() as i32);
    (v * scale).round() / scale
}

struct Instance {
    params: Vec<DMatrix<f64>>,
    x: DMatrix<f64>,
    y: DMatrix<f64>,
    /// The tolerance of the module docs, relative to `max |g_64|`.
    bound: f64,
}

fn instance(case: Case, seed: u64) -> Instance {
    let (n, d, dy, r) = (96, 12, 9, 4);
    let mut rng = seeded(seed);
    let x = gaussian_matrix(n, d, &mut rng);
    let right_cols = if matches!(case, Case::Clip(_)) { dy } else { d };
    let y = if matches!(case, Case::Clip(_)) {
        gaussian_matrix(n, dy, &mut rng)
    } else {
        &x * 0.8 + gaussian_matrix(n, d, &mut rng) * 0.6
    };
    let a = gaussian_matrix(r, d, &mut rng) * 0.15;
    let params = match case {
        Case::InfoNce(..) => vec![a],
        Case::Clip(_) => vec![a, gaussian_matrix(r, right_cols, &mut rng) * 0.15],
        Case::SimSiam(..) => vec![a, gaussian_matrix(r, r, &mut rng) * 0.5 + DMatrix::identity(r, r)],
    };
    let max_abs = |m: DMatrix<f64>| m.amax();
    let smax = match case {
        Case::InfoNce(_, Score::Cosine) | Case::Clip(Score::Cosine) => 1.0 / TAU,
        Case::InfoNce(..) => {
            // Every score the three forms use: anchors and positives against each other and
            // (SimCLR) themselves.
            let u = DMatrix::from_fn(2 * n, d, |i, j| if i < n { x[(i, j)] } else { y[(i - n, j)] })
                * params[0].transpose();
            max_abs(&u * u.transpose()) / TAU
        }
        Case::Clip(_) => max_abs(&x * params[0].transpose() * params[1].clone() * y.transpose()) / TAU,
        Case::SimSiam(..) => 0.0,
    };
    // Stages: the projections (d, r), the scores or predictions (r), the softmax sums (2n), the
    // gradient products (n, then d).
    let k = (3 * n + 2 * d.max(dy) + 2 * r) as f64;
    Instance { params, x, y, bound: LAMBDA * k.sqrt() * U32 * (1.0 + smax) }
}

fn relative_gap(a: &[f64], reference: &[f64]) -> f64 {
    let scale = reference.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    a.iter().zip(reference).map(|(p, q)| (p - q).abs()).fold(0.0, f64::max) / scale
}

#[test]
fn f32_gradients_match_f64_within_f32_rounding_and_8_bit_rounding_fails() {
    let (mut worst_ratio, mut control_margin) = (0.0f64, f64::INFINITY);
    for case in CASES {
        for seed in 0..5 {
            let inst = instance(case, 100 + seed);
            let (l64, g64) = evaluate::<f64>(case, &inst.params, &inst.x, &inst.y);
            let (l32, g32) = evaluate::<f32>(case, &inst.params, &inst.x, &inst.y);
            let gap = relative_gap(&g32, &g64);
            let loss_gap = (l32 - l64).abs() / l64.abs().max(1.0);
            assert!(gap <= inst.bound, "{case:?} seed {seed}: f32 gradient off by {gap:e} > bound {:e}", inst.bound);
            assert!(loss_gap <= inst.bound, "{case:?} seed {seed}: f32 loss off by {loss_gap:e}");
            worst_ratio = worst_ratio.max(gap / inst.bound);
            // Control: the same inputs with 12 significant bits.
            let coarse = |m: &DMatrix<f64>| m.map(|v| round_to_bits(v, CONTROL_BITS));
            let params: Vec<DMatrix<f64>> = inst.params.iter().map(coarse).collect();
            let (_, g8) = evaluate::<f64>(case, &params, &coarse(&inst.x), &coarse(&inst.y));
            let gap8 = relative_gap(&g8, &g64);
            // Rejected with a margin of 2 (measured: at least 3.8).
            assert!(gap8 > 2.0 * inst.bound, "{case:?} seed {seed}: 12-bit inputs not rejected ({gap8:e})");
            control_margin = control_margin.min(gap8 / inst.bound);
        }
    }
    // Printed for the record (run with --nocapture): how much of the bound f32 uses.
    println!("worst f32 gap / bound: {worst_ratio:.3}; smallest 12-bit gap / bound: {control_margin:.1}");
}

#[test]
fn infonce_trains_in_f32_to_the_fisher_subspace_as_in_f64_reproducibly() {
    let g = MixtureGenerator::isotropic(3, 10).noise_direction(4.0).generate(&mut seeded(11)).unwrap();
    let fisher = g.fisher_subspace().unwrap();
    let sin = |a: DMatrix<f64>| LinearMap::new(a).row_space().unwrap().sin_theta_max(&fisher).unwrap();
    assert!(g.pca_subspace(2).unwrap().sin_theta_max(&fisher).unwrap() > 0.99, "the trap must trap PCA");
    let run = || {
        let mut loss = InfoNceLoss::<f32>::new(1.0, Form::OneWay, Score::Dot).unwrap();
        let mut data = Rounded::<_, f32>::new(GmmStream::new(&g, 1.0, 256).unwrap());
        let init = vec![small_random_init(2, 10, 0.1, 1).map(|v| v as f32)];
        train(&mut loss, &mut data, init, &TrainConfig::default(), &mut ()).unwrap()
    };
    let (a, b) = (run(), run());
    assert_eq!(a.params, b.params, "same seed, same f32 bits");
    let sin32 = sin(a.params[0].map(f64::from));
    let mut loss = InfoNceLoss::<f64>::new(1.0, Form::OneWay, Score::Dot).unwrap();
    let mut data = GmmStream::new(&g, 1.0, 256).unwrap();
    let out =
        train(&mut loss, &mut data, vec![small_random_init(2, 10, 0.1, 1)], &TrainConfig::default(), &mut ()).unwrap();
    let sin64 = sin(out.params[0].clone());
    // The acceptance bound of the f64 training test (0.05, from the O(n^{-1/2}) ~ 1e-3
    // statistical error of ~5e5 pairs); f32 rounding (~1e-7 per step) is far below it.
    assert!(sin32 < 0.05 && sin64 < 0.05, "sin theta_max to Fisher: f32 {sin32}, f64 {sin64}");
    assert!((sin32 - sin64).abs() < 0.02, "f32 and f64 runs disagree: {sin32} vs {sin64}");
}

#[test]
fn a_batch_beyond_the_f32_range_is_a_typed_error() {
    struct Huge(DMatrix<f64>);
    impl ssl_losses::PairSource for Huge {
        fn next_batch(&mut self, _: &mut gmm_core::SeedRng) -> ssl_losses::Result<Batch<'_>> {
            Batch::new(&self.0, &self.0)
        }
        fn dims(&self) -> (usize, usize) {
            (self.0.ncols(), self.0.ncols())
        }
    }
    let mut x = DMatrix::from_element(4, 2, 1.0);
    x[(2, 1)] = 1e39; // finite in f64, beyond f32::MAX = 3.4e38
    let mut data = Rounded::<_, f32>::new(Huge(x));
    let err = ssl_losses::PairSource::<f32>::next_batch(&mut data, &mut seeded(0)).unwrap_err().to_string();
    assert!(err.contains("row 2") && err.contains("column 1"), "{err}");
}
