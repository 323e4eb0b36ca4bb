//! `ssl-gmm-bench`: the Rust side of the peer comparison (this crate's workloads) with their
//! rates against the machine's measured GEMM peak. `cargo run --release -p ssl-gmm-bench --
//! [--quick] [--json]`; `bench/peers/compare.sh` runs it beside NumPy and JAX.

use std::io::Write as _;

use clap::Parser;

/// Time the workloads of the peer comparison (sampling, loss steps, fits) against the GEMM peak.
#[derive(Debug, Parser)]
#[command(name = "ssl-gmm-bench", version, about)]
struct Args {
    /// Fewer repetitions (5 instead of 31 per workload).
    #[arg(long)]
    quick: bool,
    /// One JSON object per line and workload instead of the table.
    #[arg(long)]
    json: bool,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let results = bench::measure_all(args.quick);
    let mut out = std::io::stdout().lock();
    if args.json {
        for m in &results {
            writeln!(out, "{}", serde_json::to_string(m)?)?;
        }
        return Ok(());
    }
    let peak = results.iter().find(|m| m.workload == "gemm-f64").and_then(|m| m.gflops);
    writeln!(out, "{:<14} {:<34} {:>12} {:>9} {:>9}", "workload", "parameters", "ms / call", "GFLOP/s", "% peak")?;
    for m in &results {
        let params: Vec<String> = m.params.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let pct = match (m.gflops, peak) {
            (Some(g), Some(p)) if m.workload != "gemm-f64" => format!("{:.0}%", 100.0 * g / p),
            _ => String::new(),
        };
        writeln!(
            out,
            "{:<14} {:<34} {:>12.3} {:>9} {:>9}",
            m.workload,
            params.join(" "),
            m.sec_per_step * 1e3,
            m.gflops.map(|g| format!("{g:.1}")).unwrap_or_default(),
            pct
        )?;
    }
    Ok(())
}
