//! Criterion benches: pair sampling, the InfoNCE step, and the GEMM peak they are compared to.
//! `cargo bench -p ssl-gmm-bench`; `cargo test --benches` runs each once as a smoke test.

use std::hint::black_box;

use baselines::Fit;
use bench::{Gemm, InfoNceStep, Sampling, infonce_flops, labelled, scatter_flops, workload_mixture};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use gmm_core::{LinearMap, seeded};
use nalgebra::DMatrix;
use ssl_losses::{Batch, ClipLoss, Directions, Objective, Score, SimSiamForm, SimSiamLoss};

fn gemm(c: &mut Criterion) {
    let mut g = c.benchmark_group("gemm");
    let m = 1024;
    g.throughput(Throughput::Elements((2 * m * m * m) as u64));
    let mut w = Gemm::new(m);
    g.bench_function("f64 1024", |b| b.iter(|| w.run()));
    g.finish();
}

fn infonce(c: &mut Criterion) {
    let mut g = c.benchmark_group("infonce-step");
    g.sample_size(20);
    let grid = [256, 1024, 4096]
        .into_iter()
        .flat_map(|n| [32, 128, 512].into_iter().flat_map(move |d| [4, 16, 64].into_iter().map(move |r| (n, d, r))));
    for (n, d, r) in grid {
        g.throughput(Throughput::Elements(infonce_flops(n, d, r) as u64));
        let mut w = InfoNceStep::<f64>::new(n, d, r);
        g.bench_function(format!("n{n} d{d} r{r}"), |b| b.iter(|| black_box(w.run())));
        if (d, r) == (128, 16) || (n, d, r) == (4096, 512, 64) {
            let mut w = InfoNceStep::<f32>::new(n, d, r);
            g.bench_function(format!("f32 n{n} d{d} r{r}"), |b| b.iter(|| black_box(w.run())));
        }
    }
    g.finish();
}

fn sampling(c: &mut Criterion) {
    let mut g = c.benchmark_group("pair-sampling");
    g.sample_size(20);
    for d in [64, 512] {
        let n = 4096;
        g.throughput(Throughput::Elements(n as u64));
        let mut w = Sampling::new(n, d);
        g.bench_function(format!("n{n} d{d}"), |b| b.iter(|| w.run()));
    }
    g.finish();
}

fn other_steps(c: &mut Criterion) {
    let mut g = c.benchmark_group("steps");
    g.sample_size(20);
    let (n, d, r) = (1024, 128, 16);
    let clip_model = gmm_core::ClipGenerator::new(10, 4, d, d / 2).generate(&mut seeded(1)).expect("valid generator");
    let pairs = clip_model.sample_pairs(n, &mut seeded(2)).expect("valid model");
    let mut clip = ClipLoss::new(1.0, Score::Dot).expect("tau > 0");
    let params = vec![ssl_losses::small_random_init(r, d, 0.3, 3), ssl_losses::small_random_init(r, d / 2, 0.3, 4)];
    let mut grads = vec![DMatrix::zeros(r, d), DMatrix::zeros(r, d / 2)];
    g.bench_function(format!("clip n{n} dx{d} dy{} r{r}", d / 2), |b| {
        b.iter(|| {
            black_box(
                clip.value_grad(&params, Batch::new(&pairs.x, &pairs.y).expect("finite pairs"), &mut grads)
                    .expect("shapes"),
            )
        })
    });
    let gmm = workload_mixture(d);
    let p = gmm.sample_pairs(n, 1.0, &mut seeded(5)).expect("valid delta");
    let mut siam = SimSiamLoss::new(SimSiamForm::Mse, Directions::Symmetric);
    let params = vec![ssl_losses::small_random_init(r, d, 0.3, 6), DMatrix::identity(r, r)];
    let mut grads = vec![DMatrix::zeros(r, d), DMatrix::zeros(r, r)];
    g.bench_function(format!("simsiam n{n} d{d} r{r}"), |b| {
        b.iter(|| {
            black_box(
                siam.value_grad(&params, Batch::new(&p.x, &p.x_plus).expect("finite pairs"), &mut grads)
                    .expect("shapes"),
            )
        })
    });
    g.finish();
}

fn fits(c: &mut Criterion) {
    let mut g = c.benchmark_group("fits");
    g.sample_size(10);
    let (n, d) = (20_000, 256);
    let data = labelled(n, d);
    g.throughput(Throughput::Elements(scatter_flops(n, d) as u64));
    g.bench_function("lda n20000 d256 k10", |b| {
        b.iter(|| black_box(baselines::Lda::new().fit((&data.x, &data.z)).expect("valid")))
    });
    g.bench_function("pca n20000 d256 r9", |b| {
        b.iter(|| black_box(baselines::Pca::new(9).fit(&data.x).expect("valid")))
    });
    let pairs = bench::pairs(n, d);
    g.throughput(Throughput::Elements(bench::cca_flops(n, d) as u64));
    g.bench_function("cca-pairs n20000 d256 r9", |b| {
        b.iter(|| black_box(baselines::CcaPairs::new(9).fit((&pairs.x, &pairs.x_plus)).expect("valid")))
    });
    let small = labelled(5000, 16);
    g.throughput(Throughput::Elements(5000));
    g.bench_function("kmeans n5000 d16 k10", |b| {
        b.iter(|| black_box(baselines::KMeans::new(10).seed(1).fit(&small.x).expect("valid")))
    });
    g.finish();
}

fn angles(c: &mut Criterion) {
    let mut rng = seeded(7);
    let a = LinearMap::new(gmm_core::gaussian_matrix(16, 512, &mut rng)).row_space().expect("full rank");
    let b = LinearMap::new(gmm_core::gaussian_matrix(16, 512, &mut rng)).row_space().expect("full rank");
    c.bench_function("principal-angles d512 r16", |bench| {
        bench.iter(|| black_box(a.principal_angles(&b).expect("same d")))
    });
}

criterion_group!(benches, gemm, infonce, sampling, other_steps, fits, angles);
criterion_main!(benches);
