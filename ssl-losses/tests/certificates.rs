//! The certificates of whitened SimSiam and CLIP's fixed-sample fit: they accept the optimum,
//! reject a wrong subspace and a saddle point, and refuse meaningless input with an error.

use gmm_core::nalgebra::{DMatrix, DVector};
use gmm_core::{ClipGenerator, Fit, MixtureGenerator, seeded};
use ssl_losses::{Clip, WHITENED_TOL, WhitenedCertificate, whitened_optimum};

#[test]
fn whitened_certificate_accepts_the_optimum_and_rejects_other_subspaces() {
    let g = MixtureGenerator::isotropic(3, 8).condition(100.0).generate(&mut seeded(4)).unwrap();
    let (m, c) = (g.second_moment(), g.cross_moment(1.0).unwrap());
    let best = whitened_optimum(&m, &c, 2).unwrap();
    let cert = WhitenedCertificate::new(&best, &m, &c, WHITENED_TOL).unwrap();
    assert!(cert.converged && cert.sin_to_optimum < 1e-8 && cert.value_gap.abs() < 1e-10, "{cert:?}");
    // Any invertible mix of the optimum's rows is the same point of the problem.
    let mixed = DMatrix::from_row_slice(2, 2, &[2.0, 1.0, -0.5, 3.0]) * &best;
    assert!(WhitenedCertificate::new(&mixed, &m, &c, WHITENED_TOL).unwrap().converged);
    // A saddle point: the strongest direction and one without signal. Its value gap is modest
    // relative to f* when lambda_2 is small, but the certificate sees the missing direction.
    let (_, q) = gmm_core::linalg::sym_eig_desc(
        &(gmm_core::linalg::spd_inv_sqrt(&m).unwrap()
            * gmm_core::linalg::symmetrize(&c)
            * gmm_core::linalg::spd_inv_sqrt(&m).unwrap()),
    )
    .unwrap();
    let mut saddle = q.columns(0, 3).transpose() * gmm_core::linalg::spd_inv_sqrt(&m).unwrap();
    saddle = saddle.select_rows([0usize, 2].iter());
    let cert = WhitenedCertificate::new(&saddle, &m, &c, WHITENED_TOL).unwrap();
    // (Measured: value gap 0.019 of f*, sin theta_max 0.77 to the optimum's row space.)
    assert!(!cert.converged && cert.sin_to_optimum > 10.0 * WHITENED_TOL && cert.value_gap < 0.05, "{cert:?}");
    // The mean span (what PCA of C alone finds) is off the optimum on anisotropic data.
    let means = g.mean_span().unwrap().basis().transpose();
    assert!(!WhitenedCertificate::new(&means, &m, &c, WHITENED_TOL).unwrap().converged);
}

#[test]
fn whitened_certificate_with_extra_rows_checks_containment() {
    let g = MixtureGenerator::isotropic(3, 8).condition(10.0).generate(&mut seeded(5)).unwrap();
    let (m, c) = (g.second_moment(), g.cross_moment(1.0).unwrap());
    let best = whitened_optimum(&m, &c, 2).unwrap();
    // r = 4 > k - 1 = 2: the optimum's two rows plus two arbitrary ones.
    let extra = DMatrix::from_fn(2, 8, |i, j| ((i + 1) * (j + 2)) as f64 % 5.0 - 2.0);
    let a = DMatrix::from_fn(4, 8, |i, j| if i < 2 { best[(i, j)] } else { extra[(i - 2, j)] });
    let cert = WhitenedCertificate::new(&a, &m, &c, WHITENED_TOL).unwrap();
    assert!(cert.converged && cert.sin_to_optimum < 1e-8, "{cert:?}");
}

#[test]
fn whitened_certificate_refuses_bad_input() {
    let g = MixtureGenerator::isotropic(3, 6).generate(&mut seeded(6)).unwrap();
    let (m, c) = (g.second_moment(), g.cross_moment(1.0).unwrap());
    let a = DMatrix::from_element(2, 6, 1.0);
    assert!(WhitenedCertificate::new(&a, &m, &DMatrix::zeros(6, 6), 0.05).is_err(), "no signal");
    assert!(WhitenedCertificate::new(&DMatrix::zeros(2, 5), &m, &c, 0.05).is_err(), "shape");
    assert!(WhitenedCertificate::new(&a, &m, &c, f64::NAN).is_err(), "tolerance");
    assert!(WhitenedCertificate::new(&a, &m, &c, 0.05).is_err(), "rank-1 map: A M A^T singular");
}

#[test]
fn clip_fit_is_certified_and_refuses_bad_input() {
    let clip = ClipGenerator::new(3, 2, 6, 5).generate(&mut seeded(1)).unwrap();
    let pairs = clip.sample_pairs(3000, &mut seeded(2)).unwrap();
    let fit = Clip::new(2).seed(3).fit((&pairs.x, &pairs.y)).unwrap();
    assert!(fit.run.converged(), "{:?}", fit.run);
    assert_eq!((fit.map_x.components().shape(), fit.map_y.components().shape()), ((2, 6), (2, 5)));
    let short = pairs.y.rows(0, 10).into_owned();
    assert!(Clip::new(2).fit((&pairs.x, &short)).is_err(), "row counts");
    assert!(Clip::new(6).fit((&pairs.x, &pairs.y)).is_err(), "r above d_y");
    assert!(Clip::new(2).tau(0.0).fit((&pairs.x, &pairs.y)).is_err(), "tau");
    let mut bad = pairs.x.clone();
    bad[(0, 0)] = f64::NAN;
    assert!(Clip::new(2).fit((&bad, &pairs.y)).is_err(), "non-finite");
}

#[test]
fn shape_mismatches_are_errors() {
    let g = MixtureGenerator::isotropic(3, 4).generate(&mut seeded(1)).unwrap();
    assert!(ssl_losses::whiten_rows(&DMatrix::identity(2, 4), &DMatrix::identity(3, 3)).is_err());
    let pop = ssl_losses::PopulationInfoNceLoss::new(&g, 1.0, 1.0).unwrap();
    assert!(pop.log_inner_expectation(&gmm_core::nalgebra::DVector::zeros(3)).is_err());
    assert!(pop.log_inner_expectation(&gmm_core::nalgebra::DVector::zeros(4)).is_ok_and(f64::is_finite));
}

/// A start at which the recipe stalls (a row dead in a direction without signal) and the
/// estimator's next start, which reaches the optimum. Stalls are rare at this mixture: the seed
/// 26 was found by a search over seeds 10-129 (2 of the 120 stall at start 0, seeds 26 and 50,
/// at 0.994 and 0.992 from the optimum), so this is a fixture for the estimator's restart, not a
/// rate.
#[test]
fn whitened_simsiam_leaves_a_stalled_start() {
    use ssl_losses::{GmmStream, PairSource, WhitenedSimSiam};
    let g = MixtureGenerator::isotropic(3, 8).condition(100.0).generate(&mut seeded(1010)).unwrap();
    let (m, c) = (g.second_moment(), g.cross_moment(1.0).unwrap());
    let steps = ssl_losses::whitened_budget(&m, &c, 2, 10_000).unwrap();
    assert_eq!(steps, 10_000);
    let mut source = || -> ssl_losses::Result<Box<dyn PairSource + '_>> { Ok(Box::new(GmmStream::new(&g, 1.0, 256)?)) };
    let estimator = WhitenedSimSiam::new(2).seed(26);
    let stalled = estimator.clone().max_starts(1).fit(&mut source, (&m, &c), &mut ()).unwrap();
    assert!(!stalled.converged() && stalled.start == 0, "start 0 was expected to stall: {:?}", stalled.certificate);
    let fit = estimator.fit(&mut source, (&m, &c), &mut ()).unwrap();
    assert!(fit.converged(), "{:?}", fit.certificate);
    assert!(fit.start >= 1);
    // The budgets of the starts are 1x, 2x, 4x and 4x the first.
    assert_eq!(fit.total_steps, steps * [1, 2, 4, 4][..=fit.start].iter().sum::<usize>());
    assert_eq!(fit.first_budget, steps);
    // Bad settings are typed errors.
    for bad in [
        WhitenedSimSiam::new(0),
        WhitenedSimSiam::new(2).max_starts(0),
        WhitenedSimSiam::new(2).max_starts(5),
        WhitenedSimSiam::new(2).lr(f64::NAN),
        WhitenedSimSiam::new(2).steps(ssl_losses::RecipeSteps::FromSpectrum { at_least: 10, at_most: 5 }),
        WhitenedSimSiam::new(9),
    ] {
        assert!(bad.fit(&mut source, (&m, &c), &mut ()).is_err(), "{bad:?}");
    }
}

/// A weak signal needs a slow predictor (docs/theory.md 6). E2's mixture at coupling 0.2
/// (`lambda = 0.127, 0.062, 0.036`): with the predictor at the map's rate its noise
/// (`sigma_w ~ sqrt(lr_eff / batch)` = 0.02) reaches the weakest correlation and that row does not
/// settle; at the rule's rate (0.052) it reaches the stochastic floor
/// `sqrt(lr_eff (d - r) / (2 batch))` = 0.05 of the peak learning rate, lowered by the cosine
/// decay. Single runs are noisy (a start can also sit at the dead-row saddle, or end just above
/// the tolerance), so the test counts certified starts (`sin <= 0.05` to the optimum) over
/// starts 0, 1, 2 (stream seeds 17-19) of 40000 steps. Measured with the block-seeded sampler
/// over starts 0-8: slow predictor 6 of 9 certified (0.034-0.050; the others 0.055, 0.33 and
/// 0.995), plain none of starts 0-5 (0.95-0.98). At the slow rate's measured 2/3 the bound
/// "at least 1 of 3" fails by chance with probability (1/3)^3 = 0.04 for another choice of
/// seeds (at least 2 of 3 would fail with probability 0.26); the plain recipe's rate is known
/// only to be small (0 of 6). These seeds were measured: 1 of 3 (0.034, 0.055, 0.33) against
/// 0 of 3.
#[test]
fn a_weak_signal_is_reached_with_the_slow_predictor_only() {
    use ssl_losses::{GmmStream, TrainConfig, small_random_init, train_whitened_simsiam, whitened_predictor_rate};
    let g = MixtureGenerator::isotropic(4, 16).condition(30.0).noise_direction(2.0).generate(&mut seeded(1)).unwrap();
    let (m, c) = (g.second_moment(), g.cross_moment(0.2).unwrap());
    let config = TrainConfig { steps: 40_000, ..TrainConfig::default() };
    let rule = whitened_predictor_rate(&m, &c, 3, 256, &config).unwrap();
    assert!((rule - 0.052).abs() < 0.002, "rule {rule}");
    let sin_after = |rate: f64, start: u64| {
        let mut source = GmmStream::new(&g, 0.2, 256).unwrap();
        let run = TrainConfig { seed: 17 + start, ..config.clone() };
        let init = small_random_init(3, 16, 0.1, 18 + 7919 * start);
        let out = train_whitened_simsiam(&mut source, init, &run, rate, &mut ()).unwrap();
        WhitenedCertificate::new(&out.params[0], &m, &c, WHITENED_TOL).unwrap().sin_to_optimum
    };
    // The six runs are independent (each reproducible on its own): one thread each.
    let (slow, plain): (Vec<f64>, Vec<f64>) = std::thread::scope(|scope| {
        let runs: Vec<_> = (0..3)
            .map(|start| (scope.spawn(move || sin_after(rule, start)), scope.spawn(move || sin_after(1.0, start))))
            .collect();
        runs.into_iter().map(|(a, b)| (a.join().expect("run"), b.join().expect("run"))).unzip()
    });
    let certified = |v: &[f64]| v.iter().filter(|&&s| s <= WHITENED_TOL).count();
    assert!(certified(&slow) >= 1 && certified(&plain) == 0, "slow predictor {slow:.3?}, plain {plain:.3?}");
    // Strong signals keep the plain recipe; the rate is checked.
    let strong = whitened_predictor_rate(&m, &g.cross_moment(1.0).unwrap(), 3, 256, &config).unwrap();
    assert_eq!(strong, 1.0);
    let mut source = GmmStream::new(&g, 0.2, 256).unwrap();
    for bad in [0.0, 1.5, f64::NAN] {
        let init = small_random_init(3, 16, 0.1, 1);
        assert!(train_whitened_simsiam(&mut source, init, &config, bad, &mut ()).is_err(), "rate {bad}");
    }
}

/// The distance bound of a certified InfoNCE fit against an independent optimiser of the same
/// objective on the same pairs: gradient descent with Armijo backtracking from another random
/// start (to a relative gradient of 1e-3), then Newton's method with a Hessian from central
/// differences of the gradient (pseudo-inverse across the rows' rotations, which leave the loss
/// unchanged) until its gradient is 1e-11 of its start. The fit (L-BFGS to a relative gradient
/// of 1e-7) must agree with it (row spaces within 1e-4, losses within 1e-9 relative), and the
/// distance its certificate claims must hold: the row spaces' `sin theta_max` at most the bound.
/// Over three mixtures.
#[test]
fn a_certified_infonce_fit_is_within_its_distance_bound_of_an_independent_minimiser() {
    use ssl_losses::{Cost, FixedSample, Form, InfoNce, InfoNceLoss, Lbfgs, Score, small_random_init};
    let (r, d) = (2, 6);
    for seed in 1..=3u64 {
        let g = MixtureGenerator::isotropic(3, d).condition(10.0).generate(&mut seeded(seed)).unwrap();
        let pairs = g.sample_pairs(1024, 1.0, &mut seeded(seed + 10)).unwrap();
        let solver = Lbfgs { grad_rtol: 1e-7, ..Lbfgs::default() };
        let fit = InfoNce::new(r).solver(solver).bound_distance(true).seed(seed).fit(&pairs).unwrap();
        let cert = fit.run.certificate.unwrap();
        let bound = cert.bound.unwrap();
        assert!(cert.converged && bound.curvature > 0.0, "{cert:?}");
        let (x, xp) = (fit.preconditioner.apply(&pairs.x).unwrap(), fit.preconditioner.apply(&pairs.x_plus).unwrap());
        let mut loss = InfoNceLoss::new(1.0, Form::OneWay, Score::Dot).unwrap();
        let mut cost = FixedSample::new(&mut loss, &x, &xp, 256).unwrap();
        let mut at = |a: &DMatrix<f64>| {
            let mut grad = [DMatrix::zeros(r, d)];
            let value = cost.cost_grad(std::slice::from_ref(a), &mut grad).unwrap();
            let [grad] = grad;
            (value, grad)
        };
        let mut a = small_random_init(r, d, 1.0, seed + 100);
        let (mut value, mut grad) = at(&a);
        let start = grad.norm();
        let mut step = 1.0;
        while grad.norm() > 1e-3 * start {
            step *= 2.0;
            loop {
                let trial = &a - &grad * step;
                let (v, gt) = at(&trial);
                if v <= value - 0.5 * step * grad.norm_squared() {
                    (a, value, grad) = (trial, v, gt);
                    break;
                }
                step /= 2.0;
            }
        }
        for _ in 0..30 {
            if grad.norm() <= 1e-11 * start {
                break;
            }
            let p = r * d;
            let h = 1e-5;
            let mut hessian = DMatrix::zeros(p, p);
            for j in 0..p {
                let mut e = DMatrix::zeros(r, d);
                e[j] = h;
                let column = (at(&(&a + &e)).1 - at(&(&a - &e)).1) / (2.0 * h);
                hessian.column_mut(j).copy_from_slice(column.as_slice());
            }
            let hessian = (&hessian + hessian.transpose()) * 0.5;
            let newton = hessian.svd(true, true).solve(&DVector::from_column_slice(grad.as_slice()), 1e-8).unwrap();
            a -= DMatrix::from_column_slice(r, d, newton.as_slice());
            (value, grad) = at(&a);
        }
        assert!(grad.norm() <= 1e-11 * start, "Newton did not converge: {:e}", grad.norm() / start);
        let fitted_value = fit.run.loss();
        assert!(((fitted_value - value) / value).abs() < 1e-9, "losses {fitted_value} and {value}");
        let independent = fit.preconditioner.map_back(&a).unwrap();
        let sin = fit.map.row_space().unwrap().sin_theta_max(&independent.row_space().unwrap()).unwrap();
        let claimed = bound.sin_theta.unwrap();
        assert!(sin < 1e-4 && sin <= claimed, "sin {sin:.3e}, bound {claimed:.3e}, {bound:?}");
        eprintln!("seed {seed}: sin {sin:.2e} <= bound {claimed:.2e} (curvature {:.3e})", bound.curvature);
    }
}

#[test]
fn clip_distance_bound_frees_exactly_its_symmetries() {
    // CLIP's dot-score loss depends on (A, B) through A^T B, so (Q A, Q^{-T} B) is the same
    // point for every invertible Q: the Hessian at a minimiser has exactly r^2 zero eigenvalues,
    // and the distance bound's curvature must be the next one (with only the joint rotations
    // treated as symmetries it would be about 0 and bound nothing). Dense Hessian by central
    // differences of the exact gradient in the fit's preconditioned coordinates.
    use ssl_losses::{Centering, ClipLoss, Cost, FixedSample, Lbfgs, Preconditioner, Score, Whitening};
    let clip = ClipGenerator::new(3, 2, 6, 5).generate(&mut seeded(1)).unwrap();
    let pairs = clip.sample_pairs(3000, &mut seeded(2)).unwrap();
    let solver = Lbfgs { grad_rtol: 1e-9, ..Default::default() };
    let fit = Clip::new(2).solver(solver).bound_distance(true).fit((&pairs.x, &pairs.y)).unwrap();
    let cert = fit.run.certificate.unwrap();
    let bound = cert.bound.unwrap();
    // Aimed at 1e-9, it may stall in rounding just above; the library's 1e-5 must hold.
    assert!(cert.holds_at(1e-5) && bound.sin_theta.is_some_and(|s| s < 1e-4), "{cert:?}");
    let px = Preconditioner::fit(&pairs.x, Centering::SampleMean, Whitening::SampleCovariance).unwrap();
    let py = Preconditioner::fit(&pairs.y, Centering::SampleMean, Whitening::SampleCovariance).unwrap();
    let (xt, yt) = (px.apply(&pairs.x).unwrap(), py.apply(&pairs.y).unwrap());
    let back = |p: &Preconditioner, d: usize| p.map_back(&DMatrix::identity(d, d)).unwrap().into_components();
    let a = fit.map_x.components() * back(&px, 6).try_inverse().unwrap();
    let b = fit.map_y.components() * back(&py, 5).try_inverse().unwrap();
    let mut loss = ClipLoss::new(1.0, Score::Dot).unwrap();
    let mut cost = FixedSample::new(&mut loss, &xt, &yt, 256).unwrap();
    let flat = |a: &DMatrix<f64>, b: &DMatrix<f64>| DVector::from_iterator(22, a.iter().chain(b.iter()).copied());
    let mut gradient = |v: &DVector<f64>| {
        let (pa, pb) = (
            DMatrix::from_column_slice(2, 6, &v.as_slice()[..12]),
            DMatrix::from_column_slice(2, 5, &v.as_slice()[12..]),
        );
        let mut g = vec![DMatrix::zeros(2, 6), DMatrix::zeros(2, 5)];
        cost.cost_grad(&[pa, pb], &mut g).unwrap();
        flat(&g[0], &g[1])
    };
    let at = flat(&a, &b);
    let h = 1e-5;
    let mut dense = DMatrix::zeros(22, 22);
    for j in 0..22 {
        let mut e = DVector::zeros(22);
        e[j] = h;
        let column = (gradient(&(&at + &e)) - gradient(&(&at - &e))) / (2.0 * h);
        dense.set_column(j, &column);
    }
    let mut values: Vec<f64> = ((&dense + dense.transpose()) * 0.5).symmetric_eigenvalues().iter().copied().collect();
    values.sort_by(f64::total_cmp);
    assert!(values[..4].iter().all(|v| v.abs() < 1e-6) && values[4] > 1e-3, "{values:?}");
    assert!((bound.curvature - values[4]).abs() < 1e-4 * values[4], "{} against {}", bound.curvature, values[4]);
}
