//! Workloads shared by the criterion benches, `ssl-gmm bench` and the peer comparison, so the
//! three measure exactly the same thing.
#![warn(missing_docs)]

use gmm_core::{Gmm, MixtureGenerator, PairSampler, Pairs, seeded};
use nalgebra::DMatrix;
use ssl_losses::{Batch, Form, InfoNce, Objective, Score};

/// Flops of one InfoNCE loss+gradient step (one-directional, dot score): the four `n x d x r`
/// products (`Z`, `Z+`, and the two halves of `dA`) and the three `n x n x r` products (`S`,
/// `G Z+`, `G^T Z`): `8 n d r + 6 n^2 r`.
pub fn infonce_flops(n: usize, d: usize, r: usize) -> f64 {
    let (n, d, r) = (n as f64, d as f64, r as f64);
    8.0 * n * d * r + 6.0 * n * n * r
}

/// An InfoNCE step workload: a batch of pairs and a map.
pub struct InfoNceStep {
    /// The loss with its workspace.
    pub loss: InfoNce,
    /// Anchors `n x d`.
    pub x: DMatrix<f64>,
    /// Positives `n x d`.
    pub xp: DMatrix<f64>,
    /// The map `r x d`.
    pub a: Vec<DMatrix<f64>>,
    /// Gradient buffer.
    pub grad: Vec<DMatrix<f64>>,
}

impl InfoNceStep {
    /// Pairs of an anisotropic 10-component mixture, `tau = 1`, a random map of scale 0.3.
    pub fn new(n: usize, d: usize, r: usize) -> Self {
        let g = workload_mixture(d);
        let pairs = g.sample_pairs(n, 1.0, &mut seeded(2)).expect("delta = 1 is valid");
        let a = ssl_losses::small_random_init(r, d, 0.3, 3);
        Self {
            loss: InfoNce::new(1.0, Form::OneWay, Score::Dot).expect("tau = 1 is valid"),
            x: pairs.x,
            xp: pairs.x_plus,
            grad: vec![DMatrix::zeros(r, d)],
            a: vec![a],
        }
    }

    /// One loss + gradient evaluation.
    pub fn run(&mut self) -> f64 {
        self.loss.value_grad(&self.a, Batch::new(&self.x, &self.xp), &mut self.grad).expect("shapes fit")
    }
}

/// The mixture of every workload: `k = 10` components in dimension `d`, condition number 100.
pub fn workload_mixture(d: usize) -> Gmm {
    MixtureGenerator::isotropic(10, d.max(10)).condition(100.0).generate(&mut seeded(1)).expect("valid generator")
}

/// A pair-sampling workload: `n` pairs per call into a reused buffer.
pub struct Sampling {
    gmm: Gmm,
    buf: Pairs,
    rng: gmm_core::SeedRng,
}

impl Sampling {
    /// `n` pairs of dimension `d` per call.
    pub fn new(n: usize, d: usize) -> Self {
        let gmm = workload_mixture(d);
        Self { buf: Pairs::zeros(n, gmm.dim()), gmm, rng: seeded(4) }
    }

    /// Draws one batch.
    pub fn run(&mut self) {
        PairSampler::new(&self.gmm, 0.9).expect("valid delta").fill(&mut self.rng, &mut self.buf).expect("shapes fit");
    }
}

/// Square `m x m` matrix product workload (the machine's f64 GEMM rate): `2 m^3` flops per call.
pub struct Gemm {
    a: DMatrix<f64>,
    b: DMatrix<f64>,
    c: DMatrix<f64>,
}

impl Gemm {
    /// Two random `m x m` matrices.
    pub fn new(m: usize) -> Self {
        let mut rng = seeded(5);
        Self {
            a: gmm_core::generate::gaussian_matrix(m, m, &mut rng),
            b: gmm_core::generate::gaussian_matrix(m, m, &mut rng),
            c: DMatrix::zeros(m, m),
        }
    }

    /// `C = A B`.
    pub fn run(&mut self) {
        self.c.gemm(1.0, &self.a, &self.b, 0.0);
    }
}
