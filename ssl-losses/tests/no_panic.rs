//! No input makes the losses, the SimSiam closed form and certificate, or the fixed-sample fits
//! panic or answer `Ok` with a non-finite number: parameters, batches and moments of arbitrary
//! small shapes, ordinary or with one hostile entry (NaN, infinity, subnormal, extremes).

use gmm_core::Fit;
use gmm_core::ViewMoments;
use gmm_core::nalgebra::{DMatrix, DVector};
use gmm_core::strategies::{hostile_f64, spoiled_matrices, spoiled_matrix};
use proptest::prelude::*;
use ssl_losses::{
    BarlowTwinsLoss, Batch, Clip, ClipLoss, Directions, Form, InfoNce, InfoNceLoss, Objective, Score, SimSiamForm,
    SimSiamLoss, SpectralContrastiveLoss, VICREG_WEIGHTS, VicRegLoss, VicRegWeights, WhitenedCertificate,
    barlow_population, spectral_optimum, spectral_population, vicreg_population, whiten_rows, whitened_budget,
    whitened_optimum,
};

/// An objective and the parameter blocks it is evaluated at.
type Case = (Box<dyn Objective>, Vec<DMatrix<f64>>);

fn finite(m: &DMatrix<f64>) -> bool {
    m.iter().all(|v| v.is_finite())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn losses_answer_finite_values_and_gradients_or_errors(
        a in spoiled_matrices(0..4, 0..4), w in spoiled_matrices(0..4, 0..4), x in spoiled_matrices(0..6, 0..4), y in spoiled_matrices(0..6, 0..4),
        tau in prop_oneof![0.1..2.0f64, hostile_f64()], cosine in any::<bool>(), form in 0usize..3
    ) {
        let score = if cosine { Score::Cosine } else { Score::Dot };
        let form = [Form::OneWay, Form::Symmetric, Form::SimClr][form];
        let mut objectives: Vec<Case> = Vec::new();
        if let Ok(l) = InfoNceLoss::new(tau, form, score) {
            objectives.push((Box::new(l), vec![a.clone()]));
        }
        if let Ok(l) = ClipLoss::new(tau, score) {
            objectives.push((Box::new(l), vec![a.clone(), w.clone()]));
        }
        objectives.push((Box::new(SimSiamLoss::new(SimSiamForm::NegCosine, Directions::Symmetric)), vec![a.clone(), w.clone()]));
        objectives.push((Box::new(SpectralContrastiveLoss::new()), vec![a.clone()]));
        let eps = if cosine { 0.0 } else { 1e-5 };
        if let Ok(l) = BarlowTwinsLoss::new(tau, eps) {
            objectives.push((Box::new(l), vec![a.clone()]));
        }
        if let Ok(l) = VicRegLoss::new(VicRegWeights { invariance: tau, variance: 25.0, covariance: 1.0 }, eps) {
            objectives.push((Box::new(l), vec![a.clone()]));
        }
        for (mut loss, params) in objectives {
            let mut grads: Vec<DMatrix<f64>> = params.iter().map(|p| DMatrix::zeros(p.nrows(), p.ncols())).collect();
            let Ok(batch) = Batch::new(&x, &y) else { continue };
            if let Ok(v) = loss.value_grad(&params, batch, &mut grads) {
                let inputs_finite = finite(&a) && finite(&w) && finite(&x) && finite(&y);
                prop_assert!(!inputs_finite || (v.is_finite() && grads.iter().all(finite)), "{}: {v}", loss.name());
            }
        }
    }

    #[test]
    fn simsiam_closed_form_and_certificate_answer_finite_or_errors(
        (a, m, c) in (1usize..4, 1usize..5).prop_flat_map(|(r, d)| (spoiled_matrix(r, d), spoiled_matrix(d, d), spoiled_matrix(d, d))),
        r in 0usize..5,
        tol in prop_oneof![0.0..1.0f64, hostile_f64()]
    ) {
        let m = &m * m.transpose();
        if let Ok(o) = whitened_optimum(&m, &c, r) {
            prop_assert!(finite(&o));
        }
        if let Ok(o) = spectral_optimum(&c, &m, r) {
            prop_assert!(finite(&o));
        }
        if let Ok((v, g)) = spectral_population(&a, &c, &m) {
            prop_assert!(v.is_finite() && finite(&g));
        }
        // View moments with the same spoiled matrices (means zero, both sides' second moment m).
        let zero = DVector::zeros(m.nrows());
        let views = ViewMoments { mean_left: zero.clone(), mean_right: zero, second_left: m.clone(), second_right: m.clone(), cross: c.clone() };
        for eps in [0.0, 1e-5] {
            if let Ok((v, g)) = barlow_population(&a, &views, tol, eps) {
                prop_assert!(v.is_finite() && finite(&g));
            }
            if let Ok((v, g)) = vicreg_population(&a, &views, &VICREG_WEIGHTS, eps) {
                prop_assert!(v.is_finite() && finite(&g));
            }
        }
        if let Ok(cert) = WhitenedCertificate::new(&a, &m, &c, tol) {
            prop_assert!(cert.sin_to_optimum.is_finite() && cert.eigengap.is_finite());
        }
        if let Ok(b) = whiten_rows(&a, &m) {
            prop_assert!(finite(&b));
        }
        let _ = whitened_budget(&m, &c, r, 10);
    }

    #[test]
    fn infonce_on_views_answers_finite_or_errors(
        a in spoiled_matrix(2, 4), nodes in spoiled_matrices(0..8, 0..4),
        s2 in prop_oneof![0.0..3.0f64, hostile_f64()], tau in prop_oneof![0.1..2.0f64, hostile_f64()], seed in 0u64..50
    ) {
        use gmm_core::{Augmentation, MixtureGenerator, NoiseShape, seeded};
        use ssl_losses::{InfoNceViewPopulation, sobol_normal_nodes};
        let g = MixtureGenerator::isotropic(3, 4).generate(&mut seeded(seed)).unwrap();
        let views = [Augmentation::coupled(1.0), Augmentation::additive_noise(NoiseShape::Isotropic(s2)), Augmentation::masking(0.5)];
        for aug in views.into_iter().flatten() {
            for n in [nodes.clone(), sobol_normal_nodes(16, 2, seed as u32).unwrap()] {
                if let Ok(loss) = InfoNceViewPopulation::new(&g, &aug, tau, n)
                    && let Ok((v, grad)) = loss.value_grad(&a)
                {
                    prop_assert!(v.is_finite() && finite(&grad));
                }
            }
        }
    }

    #[test]
    fn predictor_flows_answer_finite_or_errors(
        s in spoiled_matrices(0..4, 0..4), c in spoiled_matrices(0..4, 0..4), wp in spoiled_matrices(0..3, 0..3),
        w in spoiled_matrices(0..3, 0..4), alpha in prop_oneof![0.1..2.0f64, hostile_f64()],
        eta in prop_oneof![0.0..0.1f64, hostile_f64()], byol in any::<bool>(), r in 0usize..5
    ) {
        use ssl_losses::{FixedPointSettings, FlowRule, FlowState, PredictorFlow, whitened_fixed_point};
        let rule = if byol { FlowRule::Byol { momentum: 0.1 } } else { FlowRule::SimSiam };
        let s = &s * s.transpose();
        if let Ok(flow) = PredictorFlow::new(rule, alpha, eta, &s, &c) {
            let state = FlowState { predictor: wp.clone(), encoder: w.clone(), target: byol.then(|| w.clone()) };
            if let Ok(f) = flow.field(&state) {
                prop_assert!(finite(&f.predictor) && finite(&f.encoder));
            }
            if let Ok((v, gp, gw)) = flow.loss_grad(&state) {
                prop_assert!(v.is_finite() && finite(&gp) && finite(&gw));
            }
            let settings = FixedPointSettings { max_iters: 5, ..FixedPointSettings::default() };
            if let Ok(point) = flow.fixed_point(&state, &settings) {
                prop_assert!(finite(&point.state.encoder) && !point.relative_residual.is_nan());
            }
        }
        for t in [c.clone(), if c.is_square() { &c + c.transpose() } else { c.clone() }] {
            if let Ok(Some(point)) = whitened_fixed_point(&t, r, alpha, eta, rule) {
                prop_assert!(finite(&point.encoder) && finite(&point.predictor));
            }
        }
    }

    #[test]
    fn fixed_sample_fits_answer_finite_maps_or_errors(
        (x, y) in (0usize..30, 1usize..4).prop_flat_map(|(n, d)| (spoiled_matrix(n, d), spoiled_matrix(n, d))),
        r in 0usize..4
    ) {
        if let Ok(f) = InfoNce::new(r).batch(8).fit((&x, &y)) {
            prop_assert!(finite(f.map.components()));
        }
        if let Ok(f) = Clip::new(r).batch(8).fit((&x, &y)) {
            prop_assert!(finite(f.map_x.components()) && finite(f.map_y.components()));
        }
    }
}
