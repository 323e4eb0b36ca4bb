//! Measures augmentation-pair sampling throughput (pairs per second) at d = 64 and d = 512.
//!
//! `cargo run --release -p gmm-core --example sampling_throughput`
//! (criterion benches with statistics live in the `bench` crate).

use std::time::Instant;

use gmm_core::{MixtureGenerator, PairSampler, Pairs, seeded};

fn main() -> Result<(), gmm_core::GmmError> {
    for d in [64, 512] {
        let g = MixtureGenerator::isotropic(10, d).condition(100.0).generate(&mut seeded(1))?;
        let mut sampler = PairSampler::new(&g, 0.9)?;
        let n = 4096;
        let mut pairs = Pairs::zeros(n, d);
        let mut rng = seeded(2);
        sampler.fill(&mut rng, &mut pairs)?; // warm-up
        let mut best = f64::INFINITY;
        for _ in 0..10 {
            let t = Instant::now();
            sampler.fill(&mut rng, &mut pairs)?;
            best = best.min(t.elapsed().as_secs_f64());
        }
        println!("d = {d:4}: {:.3e} pairs/s (batch {n}, best of 10: {:.2} ms)", n as f64 / best, best * 1e3);
    }
    Ok(())
}
