//! Workloads shared by the criterion benches, `ssl-gmm-bench` and the peer comparison, so the
//! three measure exactly the same thing.

use baselines::Fit;
use gmm_core::linalg::Op;
use gmm_core::{Gmm, MixtureGenerator, PairSampler, Pairs, seeded};
use nalgebra::DMatrix;
use ssl_losses::{Batch, Form, InfoNceLoss, Objective, Real, Score, from_f64};

/// Flops of one InfoNCE loss+gradient step (one-directional, dot score): the four `n x d x r`
/// products (`Z`, `Z+`, and the two halves of `dA`) and the three `n x n x r` products (`S`,
/// `G Z+`, `G^T Z`): `8 n d r + 6 n^2 r`.
pub fn infonce_flops(n: usize, d: usize, r: usize) -> f64 {
    let (n, d, r) = (n as f64, d as f64, r as f64);
    8.0 * n * d * r + 6.0 * n * n * r
}

/// An InfoNCE step workload in the scalar `T` (`f64` unless stated): a batch of pairs and a map.
pub struct InfoNceStep<T: Real = f64> {
    /// The loss with its workspace.
    pub loss: InfoNceLoss<T>,
    /// Anchors `n x d`.
    pub x: DMatrix<T>,
    /// Positives `n x d`.
    pub xp: DMatrix<T>,
    /// The map `r x d`.
    pub a: Vec<DMatrix<T>>,
    /// Gradient buffer.
    pub grad: Vec<DMatrix<T>>,
}

impl<T: Real> InfoNceStep<T> {
    /// Pairs of an anisotropic 10-component mixture, `tau = 1`, a random map of scale 0.3 (drawn
    /// in f64 and rounded to `T`, so both scalars step from the same pairs and map).
    pub fn new(n: usize, d: usize, r: usize) -> Self {
        let g = workload_mixture(d);
        let pairs = g.sample_pairs(n, 1.0, &mut seeded(2)).expect("delta = 1 is valid");
        let a = ssl_losses::small_random_init(r, d, 0.3, 3);
        let cast = |m: &DMatrix<f64>| m.map(from_f64::<T>);
        Self {
            loss: InfoNceLoss::new(1.0, Form::OneWay, Score::Dot).expect("tau = 1 is valid"),
            x: cast(&pairs.x),
            xp: cast(&pairs.x_plus),
            grad: vec![DMatrix::zeros(r, d)],
            a: vec![cast(&a)],
        }
    }

    /// One loss + gradient evaluation.
    pub fn run(&mut self) -> T {
        self.loss
            .value_grad(&self.a, Batch::new(&self.x, &self.xp).expect("finite pairs"), &mut self.grad)
            .expect("shapes fit")
    }

    /// The scalar's name in the records: `"f64"` or `"f32"`.
    pub fn dtype() -> &'static str {
        std::any::type_name::<T>()
    }
}

/// The median seconds of one InfoNCE step in the scalar `T` at `(n, d, r)`, as a record.
fn infonce_record<T: Real>(n: usize, d: usize, r: usize, reps: usize) -> Measurement {
    let mut w = InfoNceStep::<T>::new(n, d, r);
    let calls = if n >= 16384 {
        3
    } else if n > 2048 {
        reps.min(7)
    } else {
        reps
    };
    let s = median_seconds(calls, || {
        std::hint::black_box(w.run());
    });
    let p = serde_json::json!({"n": n, "d": d, "r": r, "dtype": InfoNceStep::<T>::dtype()});
    Measurement::new("infonce-step", p, s, Some(infonce_flops(n, d, r)))
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
            a: gmm_core::gaussian_matrix(m, m, &mut rng),
            b: gmm_core::gaussian_matrix(m, m, &mut rng),
            c: DMatrix::zeros(m, m),
        }
    }

    /// `C = A B` by the workspace GEMM: above its parallel threshold (`2^24` multiply-adds)
    /// faer's kernels on all threads of the rayon pool, the machine's multi-core f64 GEMM rate.
    pub fn run(&mut self) {
        gmm_core::linalg::gemm(1.0, &self.a, Op::N, &self.b, Op::N, 0.0, &mut self.c)
            .expect("square operands of one size");
    }
}

/// Labelled samples for the LDA / PCA fit workloads: `n` samples of the `k = 10` workload mixture.
pub fn labelled(n: usize, d: usize) -> gmm_core::Labelled {
    workload_mixture(d).sample(n, &mut seeded(6))
}

/// Pairs for the CCA fit workload: `n` pairs (`delta = 0.9`) of the `k = 10` workload mixture.
pub fn pairs(n: usize, d: usize) -> Pairs {
    workload_mixture(d).sample_pairs(n, 0.9, &mut seeded(7)).expect("delta = 0.9 is valid")
}

/// Flops of the scatter product of an LDA or PCA fit: `2 n d^2` (one `d x d` Gram matrix; the
/// `d x d` eigendecomposition is excluded, it is small at `d << n`).
pub fn scatter_flops(n: usize, d: usize) -> f64 {
    2.0 * n as f64 * (d * d) as f64
}

/// Median of `reps` timings (seconds) of `f`, after one warm-up call.
pub fn median_seconds(reps: usize, mut f: impl FnMut()) -> f64 {
    f();
    let mut times: Vec<f64> = (0..reps.max(1))
        .map(|_| {
            let t = std::time::Instant::now();
            f();
            t.elapsed().as_secs_f64()
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

/// One measured workload, printed as one flat JSON object per line, e.g.
/// `{"workload": "infonce-step", "n": 1024, "d": 128, "r": 16, "dtype": "f64", "sec_per_step": 0.004, "gflops": 29.1}`
/// (`"dtype": "f32"` for the f32 steps).
#[derive(Debug, serde::Serialize)]
pub struct Measurement {
    /// Workload name.
    pub workload: &'static str,
    /// Parameters, e.g. `n`, `d`, `r`.
    #[serde(flatten)]
    pub params: serde_json::Map<String, serde_json::Value>,
    /// Median seconds per call (per step for the loss workloads).
    pub sec_per_step: f64,
    /// Flops per second, where the flop count is defined.
    pub gflops: Option<f64>,
}

impl Measurement {
    fn new(workload: &'static str, params: serde_json::Value, seconds: f64, flops: Option<f64>) -> Self {
        Self {
            workload,
            params: params.as_object().cloned().unwrap_or_default(),
            sec_per_step: seconds,
            gflops: flops.map(|f| f / seconds / 1e9),
        }
    }
}

/// Flops of a CCA-on-pairs fit's products: the `2d x 2d` Gram matrix of `[x | x+]`, counted as
/// the three `d x d` products it holds (`Cov(x)`, `Cov(x+)`, `Cov(x+, x)`): `6 n d^2`.
pub fn cca_flops(n: usize, d: usize) -> f64 {
    3.0 * scatter_flops(n, d)
}

/// The InfoNCE step sizes of the scaling table (`d = 128`, `r = 16`): `time / n^2` should stay
/// flat once the `n^2` score products dominate.
pub const SCALING_STEPS: [usize; 4] = [256, 1024, 4096, 16384];

/// The sample sizes of the fits' scaling table (`d = 256`, `k = 10`): `time / n` should stay flat.
pub const SCALING_FITS: [usize; 3] = [5_000, 20_000, 80_000];

/// Runs the workloads of the peer comparison and the scaling tables and returns their medians.
pub fn measure_all(quick: bool) -> Vec<Measurement> {
    let reps = if quick { 5 } else { 31 };
    let mut out = Vec::new();
    let m = 2048;
    let mut g = Gemm::new(m);
    let flops = 2.0 * (m as f64).powi(3);
    let s = median_seconds(reps.min(11), || g.run());
    let p = serde_json::json!({"m": m, "threads": rayon::current_num_threads()});
    out.push(Measurement::new("gemm-f64", p, s, Some(flops)));
    let steps = [(1024, 128, 16), (256, 32, 4), (4096, 512, 64)];
    let scaling = SCALING_STEPS.iter().filter(|&&n| n != 1024).map(|&n| (n, 128, 16));
    for (n, d, r) in steps.into_iter().chain(scaling) {
        out.push(infonce_record::<f64>(n, d, r, reps));
    }
    for (n, d, r) in steps {
        out.push(infonce_record::<f32>(n, d, r, reps));
    }
    let d = 256;
    for n in SCALING_FITS {
        let calls = if n > 20_000 { 3 } else { reps.min(11) };
        let data = labelled(n, d);
        let p = serde_json::json!({"n": n, "d": d, "k": 10});
        let s = median_seconds(calls, || {
            std::hint::black_box(baselines::Lda::new().fit((&data.x, &data.z)).expect("valid data"));
        });
        out.push(Measurement::new("lda-fit", p.clone(), s, Some(scatter_flops(n, d))));
        let s = median_seconds(calls, || {
            std::hint::black_box(baselines::Pca::new(9).fit(&data.x).expect("valid data"));
        });
        out.push(Measurement::new("pca-fit", p.clone(), s, Some(scatter_flops(n, d))));
        drop(data);
        let pairs = pairs(n, d);
        let s = median_seconds(calls, || {
            std::hint::black_box(baselines::CcaPairs::new(9).fit((&pairs.x, &pairs.x_plus)).expect("valid data"));
        });
        out.push(Measurement::new("cca-fit", p, s, Some(cca_flops(n, d))));
    }
    for d in [64, 512] {
        let n = 4096;
        let mut w = Sampling::new(n, d);
        let s = median_seconds(reps.min(11), || w.run());
        out.push(Measurement::new("pair-sampling", serde_json::json!({"n": n, "d": d}), s, None));
    }
    out
}
