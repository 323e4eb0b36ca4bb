//! Prints one flat JSON object per line and workload (median seconds per call, GFLOP/s): the Rust
//! side of `bench/peers/compare.sh`. `--quick` takes fewer repetitions.

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    for m in bench::measure_all(quick) {
        println!("{}", serde_json::to_string(&m).expect("plain data serialises"));
    }
}
