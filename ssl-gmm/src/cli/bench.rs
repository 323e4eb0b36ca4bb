//! `ssl-gmm bench`: the Rust side of the peer comparison (bench crate's workloads), no Python.

/// Arguments of `bench`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Fewer repetitions (5 instead of 31 per workload).
    #[arg(long)]
    #[cfg_attr(not(feature = "bench"), allow(dead_code))]
    quick: bool,
    /// One JSON object per line and workload instead of the table.
    #[arg(long)]
    #[cfg_attr(not(feature = "bench"), allow(dead_code))]
    json: bool,
}

/// Runs `bench` (built without the `bench` feature: an error saying how to get it).
#[cfg(not(feature = "bench"))]
pub fn run(_args: &Args) -> anyhow::Result<()> {
    anyhow::bail!(
        "this ssl-gmm was built without the `bench` feature; run `cargo run --release -p ssl-gmm --features bench -- bench`"
    )
}

/// Runs `bench`.
#[cfg(feature = "bench")]
pub fn run(args: &Args) -> anyhow::Result<()> {
    let results = bench::measure_all(args.quick);
    if args.json {
        for m in &results {
            outln!("{}", serde_json::to_string(m)?);
        }
        return Ok(());
    }
    let peak = results.iter().find(|m| m.workload == "gemm-f64").and_then(|m| m.gflops);
    outln!("{:<14} {:<34} {:>12} {:>9} {:>9}", "workload", "parameters", "ms / call", "GFLOP/s", "% peak");
    for m in &results {
        let params: Vec<String> = m.params.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let pct = match (m.gflops, peak) {
            (Some(g), Some(p)) if m.workload != "gemm-f64" => format!("{:.0}%", 100.0 * g / p),
            _ => String::new(),
        };
        outln!(
            "{:<14} {:<34} {:>12.3} {:>9} {:>9}",
            m.workload,
            params.join(" "),
            m.sec_per_step * 1e3,
            m.gflops.map(|g| format!("{g:.1}")).unwrap_or_default(),
            pct
        );
    }
    Ok(())
}
