//! Subcommands, one module each.

/// `println!` that returns an error instead of panicking when standard output cannot be written
/// (a full disk, `> /dev/full`): the command then ends with a one-line error.
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout().lock(), $($arg)*)
            .map_err(|e| anyhow::Error::new(e).context("cannot write to standard output"))?
    }};
}

mod check;
pub use check::CheckFailure;
mod describe;
mod fit;
mod io;
mod memory;
mod model;
mod reproduce;
mod sample;
mod train;
mod zoo;

use clap::{Parser, Subcommand};

/// Self-supervised learning on Gaussian mixtures: InfoNCE, SimSiam and CLIP against the Fisher
/// subspace, PCA and LDA (Bansal, Kavis, Sanghavi, arXiv 2411.03517).
#[derive(Debug, Parser)]
#[command(name = "ssl-gmm", version, about, long_about = None)]
pub struct Cli {
    /// Memory budget for the largest allocations (e.g. 512M, 8G; default: half of the available
    /// memory): sizes above it are refused before anything is allocated.
    #[arg(long, global = true, value_parser = memory::parse_size, value_name = "SIZE")]
    max_memory: Option<u64>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the paper's experiments E1..E8 and the loss zoo E9: CSVs, plots (SVG and PNG), report.md and summary.json.
    Reproduce(reproduce::Args),
    /// Combine the outputs of sharded `reproduce --shard I/N` runs.
    Merge(reproduce::MergeArgs),
    /// Describe a mixture: its shape, Fisher subspace, top principal subspace and the angles between them.
    Describe(describe::Args),
    /// Sample augmentation pairs (or CLIP pairs) with their labels to CSV or NPY.
    #[command(allow_negative_numbers = true)]
    Sample(sample::Args),
    /// Train InfoNCE or CLIP (a fixed sample, L-BFGS to its certificate; or streams), SimSiam
    /// (streams) or whitened SimSiam (its recipe, to its certificate) and compare with the Fisher
    /// subspace.
    #[command(allow_negative_numbers = true)]
    Train(train::Args),
    /// Fit a baseline (LDA, PCA, CCA on pairs) to data from a file; optionally evaluate by k-means.
    #[command(allow_negative_numbers = true)]
    Fit(fit::Args),
    /// Check the claims C1..C24 of docs/theory.md over independent cases, each with a negative control, judged with measured error rates (exit 1: a claim failed; 5: no verdict: a fit without a certificate, too few resolved cases or no current calibration).
    Check(check::Args),
    /// Fit the zoo's losses (spectral contrastive, Barlow Twins, VICReg) on augmentations (coupled
    /// pairs, additive noise, masking) over random mixtures and say what each minimiser recovers.
    Zoo(zoo::Args),
    /// Print a completion script for a shell (bash, zsh, fish, elvish, powershell) to standard output.
    Completions {
        /// The shell, e.g. `ssl-gmm completions bash > ~/.local/share/bash-completion/completions/ssl-gmm`.
        shell: clap_complete::Shell,
    },
    /// List the preset mixtures.
    Presets,
}

/// Runs the parsed command.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    memory::set(cli.max_memory);
    match cli.command {
        Command::Describe(args) => describe::run(&args),
        Command::Sample(args) => sample::run(&args),
        Command::Train(args) => train::run(&args),
        Command::Fit(args) => fit::run(&args),
        Command::Check(args) => check::run_check(&args),
        Command::Zoo(args) => zoo::run(&args),
        Command::Completions { shell } => {
            use clap::CommandFactory as _;
            let mut out = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "ssl-gmm", &mut out);
            outln!("{}", String::from_utf8_lossy(&out).trim_end());
            Ok(())
        }
        Command::Reproduce(args) => reproduce::run(&args),
        Command::Merge(args) => reproduce::merge(&args),
        Command::Presets => {
            for (name, what) in gmm_core::PRESETS {
                outln!("{name:<14} {what}");
            }
            Ok(())
        }
    }
}
