//! Statistical tests of the samplers (statrs).
//!
//! Error rate: every test below rejects at level `ALPHA = 1e-3`; there are 9 positive tests,
//! so with the fixed seeds the family-wise false-rejection rate is at most 9e-3 (Bonferroni).
//! The negative controls feed a deliberately wrong null (weights, mean, covariance, coupling)
//! and assert rejection, which shows each test has power at the sample size used.

use gmm_core::{Gmm, MixtureGenerator, seeded};
use nalgebra::{DMatrix, DVector};
use statrs::distribution::{Binomial, ChiSquared, ContinuousCDF, DiscreteCDF, FisherSnedecor, Normal};

const ALPHA: f64 = 1e-3;

fn mixture(seed: u64) -> Gmm {
    MixtureGenerator::isotropic(4, 6).condition(50.0).unbalanced().generate(&mut seeded(seed)).unwrap()
}

/// Pearson chi-square goodness of fit of label counts to `probs`; returns the p-value.
fn chi_square_p(labels: &[usize], probs: &[f64]) -> f64 {
    let n = labels.len() as f64;
    let mut counts = vec![0.0; probs.len()];
    labels.iter().for_each(|&z| counts[z] += 1.0);
    let stat: f64 = counts.iter().zip(probs).map(|(o, p)| (o - n * p).powi(2) / (n * p)).sum();
    1.0 - ChiSquared::new((probs.len() - 1) as f64).unwrap().cdf(stat)
}

/// Two-sided exact binomial p-value of `x` successes in `n` trials with success probability `p`.
fn binomial_p(x: u64, n: u64, p: f64) -> f64 {
    let b = Binomial::new(p, n).unwrap();
    let lower = b.cdf(x);
    let upper = if x == 0 { 1.0 } else { 1.0 - b.cdf(x - 1) };
    (2.0 * lower.min(upper)).min(1.0)
}

/// Hotelling T^2 test that the rows of `y` (n x p) have mean `mu`; returns the p-value from
/// `F = (n - p) / (p (n - 1)) T^2 ~ F(p, n - p)` (exact for Gaussian rows).
fn hotelling_p(y: &DMatrix<f64>, mu: &DVector<f64>) -> f64 {
    let (n, p) = y.shape();
    let mean = y.row_mean().transpose();
    let mut centred = y.clone();
    for mut row in centred.row_iter_mut() {
        row -= mean.transpose();
    }
    let s = centred.tr_mul(&centred) / (n as f64 - 1.0);
    let diff = &mean - mu;
    let t2 = n as f64 * diff.dot(&s.cholesky().unwrap().solve(&diff));
    let f = (n - p) as f64 / (p as f64 * (n as f64 - 1.0)) * t2;
    1.0 - FisherSnedecor::new(p as f64, (n - p) as f64).unwrap().cdf(f)
}

/// Two-sided chi-square test that `u^T r_i ~ N(0, u^T Sigma u)` for the rows `r_i` of `resid`:
/// `sum_i (u^T r_i)^2 / (u^T Sigma u) ~ chi^2_n`.
fn projection_variance_p(resid: &DMatrix<f64>, sigma: &DMatrix<f64>, u: &DVector<f64>) -> f64 {
    let proj = resid * u;
    let stat = proj.norm_squared() / u.dot(&(sigma * u));
    let cdf = ChiSquared::new(resid.nrows() as f64).unwrap().cdf(stat);
    (2.0 * cdf.min(1.0 - cdf)).min(1.0)
}

/// Rows of `x` minus the mean of their component.
fn residuals(g: &Gmm, x: &DMatrix<f64>, z: &[usize]) -> DMatrix<f64> {
    DMatrix::from_fn(x.nrows(), x.ncols(), |i, j| x[(i, j)] - g.means()[(z[i], j)])
}

fn rows_with_label(x: &DMatrix<f64>, z: &[usize], label: usize) -> DMatrix<f64> {
    let idx: Vec<usize> = (0..z.len()).filter(|&i| z[i] == label).collect();
    x.select_rows(idx.iter())
}

fn random_unit(d: usize, seed: u64) -> DVector<f64> {
    let v = gmm_core::gaussian_matrix(d, 1, &mut seeded(seed)).column(0).into_owned();
    v.normalize()
}

#[test]
fn component_frequencies_follow_the_weights() {
    let g = mixture(1);
    let s = g.sample(50_000, &mut seeded(2));
    let p = chi_square_p(&s.z, g.weights().as_slice());
    assert!(p > ALPHA, "chi-square p = {p}");
    // Negative control: the same counts against equal weights must be rejected.
    let wrong = vec![0.25; 4];
    assert!(chi_square_p(&s.z, &wrong) < ALPHA);
}

#[test]
fn pair_coupling_frequency_is_delta_plus_chance() {
    let g = mixture(3);
    let n = 40_000;
    for (case, &delta) in [0.0, 0.3, 1.0].iter().enumerate() {
        let pairs = g.sample_pairs(n, delta, &mut seeded(10 + case as u64)).unwrap();
        // P(z+ = z+anchor) overall = delta + (1 - delta) sum_i pi_i^2.
        let same = pairs.z.iter().zip(&pairs.z_plus).filter(|(a, b)| a == b).count() as u64;
        let p_same = delta + (1.0 - delta) * g.weights().iter().map(|w| w * w).sum::<f64>();
        let p = binomial_p(same, n as u64, p_same);
        assert!(p > ALPHA, "delta = {delta}: {same} of {n} equal, expected rate {p_same}, p = {p}");
        // Per component: P(z+ = i | z = i) = delta + (1 - delta) pi_i; Bonferroni over k inside.
        for i in 0..g.k() {
            let anchors: Vec<usize> = (0..n).filter(|&t| pairs.z[t] == i).collect();
            let hits = anchors.iter().filter(|&&t| pairs.z_plus[t] == i).count() as u64;
            let rate = delta + (1.0 - delta) * g.weights()[i];
            let p = binomial_p(hits, anchors.len() as u64, rate);
            assert!(p > ALPHA / g.k() as f64, "delta = {delta}, component {i}: p = {p}");
        }
        // The positives' labels are marginally pi.
        assert!(chi_square_p(&pairs.z_plus, g.weights().as_slice()) > ALPHA);
    }
    // Negative control: delta = 0.3 data tested as if delta were 0.35.
    let pairs = g.sample_pairs(n, 0.3, &mut seeded(11)).unwrap();
    let same = pairs.z.iter().zip(&pairs.z_plus).filter(|(a, b)| a == b).count() as u64;
    let wrong = 0.35 + 0.65 * g.weights().iter().map(|w| w * w).sum::<f64>();
    assert!(binomial_p(same, n as u64, wrong) < ALPHA);
}

#[test]
fn component_means_pass_hotelling() {
    let g = mixture(4);
    let pairs = g.sample_pairs(40_000, 0.5, &mut seeded(5)).unwrap();
    let k = g.k() as f64;
    for (x, z) in [(&pairs.x, &pairs.z), (&pairs.x_plus, &pairs.z_plus)] {
        for i in 0..g.k() {
            let rows = rows_with_label(x, z, i);
            let p = hotelling_p(&rows, &g.means().row(i).transpose());
            assert!(p > ALPHA / k, "component {i}: Hotelling p = {p}");
        }
    }
    // Negative control: a shift of 0.1 noise standard deviations is detected.
    let rows = rows_with_label(&pairs.x, &pairs.z, 0);
    let shifted = g.means().row(0).transpose() + DVector::from_element(g.dim(), 0.1);
    assert!(hotelling_p(&rows, &shifted) < ALPHA);
}

#[test]
fn covariance_along_random_projections() {
    let g = mixture(6);
    let s = g.sample(40_000, &mut seeded(7));
    let resid = residuals(&g, &s.x, &s.z);
    let directions = 5;
    for t in 0..directions {
        let u = random_unit(g.dim(), 100 + t);
        let p = projection_variance_p(&resid, g.covariance(), &u);
        assert!(p > ALPHA / directions as f64, "direction {t}: p = {p}");
    }
    // Negative control: a covariance 5% too large is rejected.
    let u = random_unit(g.dim(), 100);
    assert!(projection_variance_p(&resid, &(g.covariance() * 1.05), &u) < ALPHA);
}

#[test]
fn pair_noises_are_independent() {
    // u^T e_i and u^T e+_i standardised are independent N(0, 1): their mean product times
    // sqrt(n) is approximately N(0, 1) (CLT on products of independent standard normals).
    let g = mixture(8);
    let n = 40_000;
    let pairs = g.sample_pairs(n, 1.0, &mut seeded(9)).unwrap();
    let u = random_unit(g.dim(), 200);
    let scale = u.dot(&(g.covariance() * &u)).sqrt();
    let a = residuals(&g, &pairs.x, &pairs.z) * &u / scale;
    let b = residuals(&g, &pairs.x_plus, &pairs.z_plus) * &u / scale;
    let stat = a.dot(&b) / (n as f64).sqrt();
    let p = 2.0 * (1.0 - Normal::standard().cdf(stat.abs()));
    assert!(p > ALPHA, "correlation statistic {stat}, p = {p}");
    // Negative control: a and a are perfectly dependent.
    assert!(a.dot(&a) / (n as f64).sqrt() > 10.0);
}

#[test]
fn same_seed_same_bits() {
    let g = mixture(10);
    let a = g.sample_pairs(257, 0.7, &mut seeded(42)).unwrap();
    let b = g.sample_pairs(257, 0.7, &mut seeded(42)).unwrap();
    assert_eq!(a, b);
    let c = g.sample_pairs(257, 0.7, &mut seeded(43)).unwrap();
    assert_ne!(a.x, c.x);
}

#[test]
fn reusable_sampler_checks_its_buffer() {
    let g = mixture(12);
    let mut sampler = gmm_core::PairSampler::new(&g, 0.5).unwrap();
    let mut wrong = gmm_core::Pairs::zeros(10, g.dim() + 1);
    assert!(sampler.fill(&mut seeded(1), &mut wrong).is_err());
    assert!(gmm_core::PairSampler::new(&g, 1.5).is_err());
    assert!(gmm_core::PairSampler::new(&g, f64::NAN).is_err());
}
