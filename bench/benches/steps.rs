//! Criterion benches: pair sampling, the InfoNCE step, and the GEMM peak they are compared to.
//! `cargo bench -p bench`; `cargo test --benches` runs each once as a smoke test.

use std::hint::black_box;

use bench::{Gemm, InfoNceStep, Sampling, infonce_flops};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

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
    for (n, d, r) in [(1024, 128, 16), (256, 32, 4), (4096, 512, 64)] {
        g.throughput(Throughput::Elements(infonce_flops(n, d, r) as u64));
        let mut w = InfoNceStep::new(n, d, r);
        g.bench_function(format!("n{n} d{d} r{r}"), |b| b.iter(|| black_box(w.run())));
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

criterion_group!(benches, gemm, infonce, sampling);
criterion_main!(benches);
