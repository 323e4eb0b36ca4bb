//! `ssl-gmm reproduce` and `ssl-gmm merge`: argument parsing and progress bars over the
//! `experiments` crate, which runs the sweeps and writes the CSVs, plots, report and summary.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::PathBuf;

use anyhow::{Context, bail};
use experiments::{Shard, Suite, Sweeps};

/// Arguments of `reproduce`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Reduced sweeps (under 3 minutes on 2 cores).
    #[arg(long)]
    quick: bool,
    /// Output folder.
    #[arg(long, default_value = "results")]
    out: PathBuf,
    /// Sweeps from a JSON file (any subset of the fields of --print-config; the others from the
    /// defaults, or from --quick's sweeps with --quick).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Print the sweeps in force as JSON and exit.
    #[arg(long)]
    print_config: bool,
    /// Run only part I of N (`I/N`, 0-based) of the settings; combine with `ssl-gmm merge`.
    #[arg(long, value_parser = parse_shard, value_name = "I/N")]
    shard: Option<Shard>,
    /// No progress bars.
    #[arg(long)]
    quiet: bool,
}

/// Arguments of `merge`.
#[derive(Debug, clap::Args)]
pub struct MergeArgs {
    /// Output folders of shards.
    #[arg(required = true)]
    dirs: Vec<PathBuf>,
    /// Where to write the merged CSVs, plots and report.
    #[arg(long, default_value = "results")]
    out: PathBuf,
    /// Merge even when some jobs of the sweeps have no rows (shards missing), saying which.
    #[arg(long)]
    allow_partial: bool,
}

/// Parses `--shard I/N` (a usage error, exit 2, when malformed).
pub(super) fn parse_shard(spec: &str) -> Result<Shard, String> {
    let (i, n) = spec.split_once('/').ok_or("expected I/N, e.g. 0/4")?;
    let i: usize = i.trim().parse().map_err(|_| format!("I in I/N is not a number: {i:?}"))?;
    let n: usize = n.trim().parse().map_err(|_| format!("N in I/N is not a number: {n:?}"))?;
    Shard::new(i, n).map_err(|e| e.to_string())
}

/// Runs `reproduce`.
pub fn run(args: &Args) -> anyhow::Result<()> {
    if args.print_config && (args.shard.is_some() || args.quiet) {
        bail!("--print-config prints the sweeps and exits: --shard and --quiet do not apply");
    }
    let base = if args.quick { Sweeps::quick() } else { Sweeps::default() };
    let sweeps = match &args.config {
        // The file's fields over the base (--quick's or the defaults).
        Some(path) => {
            let text = super::io::read_text(path, "sweeps")?;
            Sweeps::from_json_over(&text, &base).with_context(|| format!("invalid sweeps in {}", path.display()))?
        }
        None => base,
    };
    if args.print_config {
        outln!("{}", serde_json::to_string_pretty(&sweeps)?);
        return Ok(());
    }
    let suite = Suite::paper();
    suite.validate(&sweeps)?;
    let shard = args.shard.unwrap_or(Shard::WHOLE);
    let mine = suite.shard_jobs(&sweeps, shard);
    for (experiment, why) in suite.skipped(&sweeps) {
        eprintln!("note: {experiment} is skipped: {why}");
    }
    std::fs::create_dir_all(&args.out).with_context(|| format!("cannot create {}", args.out.display()))?;
    let show = !args.quiet && std::io::stderr().is_terminal();
    let bars = indicatif::MultiProgress::new();
    let mut per_experiment: BTreeMap<&str, indicatif::ProgressBar> = BTreeMap::new();
    for experiment in suite.experiments() {
        let about = experiment.about();
        let count = mine.iter().filter(|j| j.id() == about.id).count() as u64;
        let bar = if show { bars.add(indicatif::ProgressBar::new(count)) } else { indicatif::ProgressBar::hidden() };
        bar.set_style(indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} {msg}").expect("static template"));
        bar.set_message(about.title);
        per_experiment.insert(about.id, bar);
    }
    let start = std::time::Instant::now();
    let rows = suite.run(&sweeps, shard, &|job| per_experiment[job.id()].inc(1));
    per_experiment.values().for_each(|b| b.finish_and_clear());
    let rows = rows?;
    suite.write_csvs(&rows, &args.out)?;
    experiments::write_manifest(&suite, &args.out, &sweeps, shard)?;
    if shard == Shard::WHOLE {
        suite.write_report(&rows, &args.out, Some(start.elapsed().as_secs_f64()))?;
        eprintln!(
            "wrote {} rows, {n} CSVs, {n} plots, report.md and summary.json to {} in {:.1} s",
            rows.len(),
            args.out.display(),
            start.elapsed().as_secs_f64(),
            n = suite.experiments().len()
        );
    } else {
        eprintln!(
            "shard {}/{}: wrote {} rows to {}; combine the shards with `ssl-gmm merge`",
            shard.index(),
            shard.count(),
            rows.len(),
            args.out.display()
        );
    }
    Ok(())
}

/// Runs `merge`.
pub fn merge(args: &MergeArgs) -> anyhow::Result<()> {
    // Writing into one of the inputs would replace its CSVs (and manifest) by the merge's,
    // after which the set of shards no longer merges: refused before anything is read.
    if let Ok(out) = args.out.canonicalize()
        && let Some(dir) = args.dirs.iter().find(|d| d.canonicalize().is_ok_and(|d| d == out))
    {
        bail!(
            "--out {} is one of the shard folders being merged ({}); choose another output folder",
            args.out.display(),
            dir.display()
        );
    }
    let suite = Suite::paper();
    let merged = experiments::merge_shards(&suite, &args.dirs, args.allow_partial)?;
    std::fs::create_dir_all(&args.out).with_context(|| format!("cannot create {}", args.out.display()))?;
    suite.write_csvs(&merged.rows, &args.out)?;
    suite.write_report(&merged.rows, &args.out, None)?;
    if merged.missing.is_empty() {
        experiments::write_manifest(&suite, &args.out, &merged.sweeps, Shard::WHOLE)?;
        eprintln!("merged {} rows of all {} jobs into {}", merged.rows.len(), merged.total, args.out.display());
    } else {
        eprintln!(
            "warning: partial merge: {} of {} jobs have no rows (e.g. {}); merged {} rows into {} (no manifest written)",
            merged.missing.len(),
            merged.total,
            merged.missing[0],
            merged.rows.len(),
            args.out.display()
        );
    }
    Ok(())
}
