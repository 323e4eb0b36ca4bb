//! A workload in a loop, for `perf record`: `cargo run --release -p ssl-gmm-bench --example profile_step
//! -- [infonce [n d r]|infonce-f32 [n d r]|pca|lda|cca|sampling]` (default `infonce 1024 128 16`); prints the mean
//! time per call (`ITERS` calls, default 30).
use std::time::Instant;

use baselines::Fit;

fn main() {
    let which = std::env::args().nth(1).unwrap_or_else(|| "infonce".into());
    let size = |i: usize, default: usize| std::env::args().nth(i).and_then(|v| v.parse().ok()).unwrap_or(default);
    let mut run: Box<dyn FnMut()> = match which.as_str() {
        "infonce" => {
            let mut step = bench::InfoNceStep::<f64>::new(size(2, 1024), size(3, 128), size(4, 16));
            Box::new(move || {
                std::hint::black_box(step.run());
            })
        }
        "infonce-f32" => {
            let mut step = bench::InfoNceStep::<f32>::new(size(2, 1024), size(3, 128), size(4, 16));
            Box::new(move || {
                std::hint::black_box(step.run());
            })
        }
        "pca" => {
            let data = bench::labelled(20_000, 256);
            Box::new(move || {
                std::hint::black_box(baselines::Pca::new(9).fit(&data.x).expect("valid data"));
            })
        }
        "lda" => {
            let data = bench::labelled(20_000, 256);
            Box::new(move || {
                std::hint::black_box(baselines::Lda::new().fit((&data.x, &data.z)).expect("valid data"));
            })
        }
        "cca" => {
            let pairs = bench::pairs(20_000, 256);
            Box::new(move || {
                std::hint::black_box(baselines::CcaPairs::new(9).fit((&pairs.x, &pairs.x_plus)).expect("valid data"));
            })
        }
        "sampling" => {
            let mut sampling = bench::Sampling::new(4096, 512);
            Box::new(move || sampling.run())
        }
        other => {
            eprintln!("unknown workload {other}: infonce, infonce-f32, pca, lda, cca or sampling");
            std::process::exit(2);
        }
    };
    for _ in 0..3 {
        run();
    }
    let iters = std::env::var("ITERS").ok().and_then(|v| v.parse().ok()).unwrap_or(30);
    let t = Instant::now();
    for _ in 0..iters {
        run();
    }
    println!("{which}: {:.3} ms per call", t.elapsed().as_secs_f64() * 1e3 / iters as f64);
}
