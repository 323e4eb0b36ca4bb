use std::time::Instant;
fn main() {
    let mut w = bench::InfoNceStep::new(1024, 128, 16);
    for _ in 0..20 {
        w.run();
    }
    let t = Instant::now();
    let iters = 200;
    for _ in 0..iters {
        std::hint::black_box(w.run());
    }
    println!("step {:.3} ms", t.elapsed().as_secs_f64() * 1e3 / iters as f64);
}
