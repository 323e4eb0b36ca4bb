//! `ssl-gmm check`: runs the claims of docs/theory.md (theory-checks' registry) and prints a table.

use std::fmt::Write as _;
use std::path::PathBuf;

use anyhow::{Context, bail};
use gmm_core::Sig3;
use gmm_core::parallel::Shard;
use theory_checks::calibration::{self, Calibration};
use theory_checks::{Budget, FAMILY_WISE_ERROR, Outcome, RateSource, Verdict, run_with, select, test_level};

use super::io::write_atomic;

/// Arguments of `check`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// At least 5 cases per claim, short runs (the CI run; the default).
    #[arg(long, conflicts_with = "full")]
    quick: bool,
    /// At least 20 cases per claim (a release run).
    #[arg(long)]
    full: bool,
    /// Master seed: case i of claim C is seeded by a hash of (seed, C, i). Any integer in
    /// 0..=18446744073709551615.
    #[arg(long, default_value_t = 20_241_105, allow_hyphen_values = true, value_parser = parse_seed)]
    seed: u64,
    /// Only these claims, comma separated (e.g. C4,C7).
    #[arg(long, value_delimiter = ',', num_args = 1..)]
    claims: Option<Vec<String>>,
    /// All claims (or those of --claims) but these, comma separated (e.g. C10).
    #[arg(long, value_delimiter = ',', num_args = 1.., value_name = "CLAIMS")]
    skip: Option<Vec<String>>,
    /// Print one JSON object per claim (with every case) instead of the table.
    #[arg(long)]
    json: bool,
    /// Also write the table as a markdown report.
    #[arg(long)]
    out: Option<PathBuf>,
    /// A calibration file: the per-case rates the verdicts use (instead of the one built in);
    /// with --calibrate, the file the runs are added to (created if absent, resumed if not);
    /// with --merge-calibration, the merged output.
    #[arg(long, value_name = "FILE")]
    calibration: Option<PathBuf>,
    /// Measure the claims' per-case error rates: run the quick design at fresh master seeds
    /// (calibration runs 0, 1, ...) until each selected claim counts --cases cases per role, adding
    /// each run to --calibration as it ends (an interrupted campaign resumes where it stopped).
    #[arg(long, requires = "calibration", conflicts_with_all = ["full", "json", "out", "seed"])]
    calibrate: bool,
    /// Counted cases (resolved and certified) per role each claim's calibration reaches (with
    /// --calibrate; a shard reaches its share, this over the shards, rounded up).
    #[arg(long, default_value_t = 300, requires = "calibrate")]
    cases: u64,
    /// Run only part I of N (`I/N`, 0-based) of the calibration runs (runs j with j % N == I);
    /// combine the shards' files with --merge-calibration.
    #[arg(long, value_parser = super::reproduce::parse_shard, value_name = "I/N", requires = "calibrate")]
    shard: Option<Shard>,
    /// With --calibrate: the first calibration run to measure (runs before it are skipped). For a
    /// claim redesigned after its cases at earlier runs were looked at, so that its new entry is
    /// measured on master seeds its design has not seen.
    #[arg(long, default_value_t = 0, value_name = "J", requires = "calibrate")]
    first_run: u64,
    /// With --calibrate: drop the entries of --calibration measured for another case design of a
    /// selected claim (otherwise refused).
    #[arg(long, requires = "calibrate")]
    discard_stale: bool,
    /// Merge calibration files (shards of one campaign) into --calibration.
    #[arg(long, num_args = 1.., value_name = "FILE", requires = "calibration", conflicts_with_all = ["calibrate", "full", "json", "out", "seed", "claims", "skip"])]
    merge_calibration: Option<Vec<PathBuf>>,
    /// Print the calibration's table (the built-in one, or --calibration's) and exit.
    #[arg(long, conflicts_with_all = ["calibrate", "merge_calibration", "full", "json", "out", "seed"])]
    print_calibration: bool,
}

impl Args {
    /// The claims of `--claims` (all when absent) less those of `--skip`.
    fn selected(&self) -> theory_checks::Result<Vec<theory_checks::Claim>> {
        select(self.claims.as_deref(), self.skip.as_deref())
    }
}

/// A master seed: an integer in `0..=u64::MAX`.
fn parse_seed(s: &str) -> Result<u64, String> {
    s.trim().parse().map_err(|_| format!("the master seed must be an integer in 0..={}, got '{s}'", u64::MAX))
}

/// What `check` found when it is not a plain success.
#[derive(Debug, thiserror::Error)]
pub enum CheckFailure {
    /// Some claim failed (its check failed or its control passed).
    #[error("claims not confirmed (check failed or control passed): {0}")]
    Failed(String),
    /// Some claim has a trained map without a certificate: no verdict (exit status 5).
    #[error("no verdict (a trained map has no convergence certificate): {0}")]
    NotCertified(String),
    /// Some claim has too few cases that can tell it from its nearest wrong answer: no verdict
    /// (exit status 5).
    #[error("no verdict (fewer than {min} cases could tell the claim from its nearest wrong answer): {0}", min = theory_checks::MIN_RESOLVED)]
    Unresolved(String),
    /// Some claim has no current calibration (measured for another case design, missing, or on
    /// too few cases): no verdict (exit status 5).
    #[error("no verdict (no calibration of this case design on {min} counted cases per role; run `ssl-gmm check --calibrate`): {0}", min = theory_checks::calibration::MIN_CASES)]
    Uncalibrated(String),
}

/// The family-wise bound of a run: the chance that some claim of `outcomes` is rejected when
/// true, given the calibration's rate bounds (the claims' error bounds added up).
fn family_wise(outcomes: &[Outcome]) -> f64 {
    outcomes.iter().map(|o| o.error_bound).sum()
}

/// The chance that a run like this one has no verdict on some claim, at the rates the
/// calibration observed (the claims' chances added up), and how many claims it does not cover
/// (no current entry), as one phrase.
fn no_verdict(outcomes: &[Outcome]) -> String {
    let chance: f64 = outcomes.iter().filter_map(|o| o.no_verdict_chance).sum();
    let unknown = outcomes.iter().filter(|o| o.no_verdict_chance.is_none()).count();
    let unknown = match unknown {
        0 => String::new(),
        1 => ", 1 claim without a current entry not included".to_string(),
        n => format!(", {n} claims without a current entry not included"),
    };
    format!("chance of a run without a verdict {} at the calibration's observed rates{unknown}", Sig3(chance.min(1.0)))
}

/// The registry's levels: the common one and the weighted claims', e.g. `1.92e-4 each, C10
/// 1.54e-3`.
fn levels() -> String {
    let claims: Vec<_> = theory_checks::registry().into_iter().filter(|c| !c.exact).collect();
    let weighted: Vec<String> =
        claims.iter().filter(|c| c.weight != 1).map(|c| format!("{} {}", c.id, Sig3(test_level(c)))).collect();
    let common =
        claims.iter().find(|c| c.weight == 1).map_or(String::new(), |c| format!("{} each", Sig3(test_level(c))));
    [common].into_iter().chain(weighted).filter(|s| !s.is_empty()).collect::<Vec<_>>().join(", ")
}

/// A role's rate as the table shows it.
fn rate(o: &Outcome, e: &theory_checks::Evidence) -> String {
    match &o.calibration {
        RateSource::Exact => "exact".into(),
        RateSource::Measured { .. } => Sig3(e.rate).to_string(),
        RateSource::Stale { .. } => "stale".into(),
        RateSource::Unmeasured { counted } => format!("unmeasured ({counted} cases)"),
    }
}

fn table(outcomes: &[Outcome], budget: Budget, seed: u64) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "Claims of docs/theory.md, budget {}, master seed {seed}. Each check and control is judged by its pass count at its level (family-wise {} split over the {} checks and controls of statistical claims by weight: {}) with its per-case rate measured by calibration (Clopper-Pearson 95% bound, docs/theory.md 5.9). Family-wise bound of this run: {}; {}.\n",
        budget.name(),
        Sig3(FAMILY_WISE_ERROR),
        theory_checks::statistical_tests(),
        levels(),
        Sig3(family_wise(outcomes)),
        no_verdict(outcomes)
    );
    let _ = writeln!(
        s,
        "| claim | statement | check passed / counted | rate | allowed failures | worst statistic | threshold | nearest wrong | control passed / counted | rate | allowed passes | error bound | verdict | time (s) |"
    );
    let _ = writeln!(s, "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    for o in outcomes {
        let (e, c) = (&o.evidence, &o.control);
        let counted = |e: &theory_checks::Evidence| {
            let mut aside = Vec::new();
            if e.not_converged > 0 {
                aside.push(format!("{} not converged", e.not_converged));
            }
            if e.unresolved > 0 {
                aside.push(format!("{} unresolved", e.unresolved));
            }
            let aside = if aside.is_empty() { String::new() } else { format!(" ({})", aside.join(", ")) };
            format!("{}/{}{aside}", e.passed_cases, e.cases - e.not_converged - e.unresolved)
        };
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {:.1} |",
            o.id,
            o.statement,
            counted(e),
            rate(o, e),
            e.allowed,
            Sig3(e.worst),
            Sig3(e.threshold),
            e.nearest_wrong.map(|v| Sig3(v).to_string()).unwrap_or_else(|| "-".into()),
            counted(c),
            rate(o, c),
            c.allowed,
            Sig3(o.error_bound),
            o.verdict,
            o.seconds
        );
    }
    let _ = writeln!(s, "\nDetails (worst case of each check and control; tolerances and where they come from):\n");
    for o in outcomes {
        let _ = writeln!(
            s,
            "- {}: {}. Tolerance: {}. Control (must fail): {}",
            o.id, o.evidence.details, o.tolerance, o.control.details
        );
    }
    s
}

/// Reads a calibration file.
fn read_calibration(path: &std::path::Path) -> anyhow::Result<Calibration> {
    let text = super::io::read_text(path, "calibration")?;
    Calibration::from_json(&text).with_context(|| format!("invalid calibration file {}", path.display()))
}

/// Writes a calibration file (atomically: an interruption leaves the previous one).
fn write_calibration(path: &std::path::Path, c: &Calibration) -> anyhow::Result<()> {
    write_atomic(path, |w| Ok(std::io::Write::write_all(w, c.to_json().as_bytes())?))
}

/// `check --calibrate`: adds calibration runs to the file until each selected claim has the
/// cases asked for (this shard's runs only).
fn calibrate(args: &Args, path: &std::path::Path) -> anyhow::Result<()> {
    let claims = args.selected()?;
    let mut c = if path.exists() { read_calibration(path)? } else { Calibration::default() };
    // Exact claims included: their entries are not used by verdicts, but runs of two case
    // designs never add up.
    let stale: Vec<&str> = claims
        .iter()
        .filter(|claim| {
            c.claims.get(claim.id).is_some_and(|e| matches!(e.status(claim), theory_checks::Status::Stale { .. }))
        })
        .map(|claim| claim.id)
        .collect();
    if !stale.is_empty() {
        if !args.discard_stale {
            bail!(
                "{} has entries measured for another case design of {}: use another file, or --discard-stale to drop them",
                path.display(),
                stale.join(", ")
            );
        }
        for id in &stale {
            c.claims.remove(*id);
        }
        // Written now, so that the drop holds even when no run follows (`--cases 0`).
        write_calibration(path, &c)?;
        eprintln!("dropped the stale entries of {} from {}", stale.join(", "), path.display());
    }
    let shard = args.shard.unwrap_or(Shard::WHOLE);
    let runs_left = |c: &Calibration, claims: &[theory_checks::Claim]| -> Vec<u64> {
        claims.iter().map(|claim| calibration::runs_left(claim, c.claims.get(claim.id), args.cases, shard)).collect()
    };
    eprintln!(
        "about {} calibration runs to do ({} claims, {} counted cases per role, shard {}/{}: its share {})",
        runs_left(&c, &claims).iter().sum::<u64>(),
        claims.len(),
        args.cases,
        shard.index(),
        shard.count(),
        shard.share(args.cases)
    );
    let start = std::time::Instant::now();
    let mut done = 0u64;
    for (i, claim) in claims.iter().enumerate() {
        while let Some(j) = calibration::next_run(claim, c.claims.get(claim.id), args.cases, shard, args.first_run) {
            let r = calibration::calibrate_run(claim, j)?;
            c.record(claim, &r)?;
            write_calibration(path, &c)?;
            done += 1;
            // Each claim's runs so far (its entry, this run included) time its runs left; a
            // claim not started yet is timed at this invocation's mean (claims differ a
            // hundredfold).
            let mean = start.elapsed().as_secs_f64() / done as f64;
            let per_run = |id: &str| {
                c.claims.get(id).filter(|e| e.run_count() > 0).map_or(mean, |e| e.seconds / e.run_count() as f64)
            };
            let left: Vec<u64> = runs_left(&c, &claims[i..]);
            // (A fold from +0: an empty f64 sum is -0, printed "-0".)
            let minutes =
                claims[i..].iter().zip(&left).fold(0.0, |sum, (claim, &n)| sum + n as f64 * per_run(claim.id)) / 60.0;
            eprintln!(
                "{} run {j}: check {} of {} failed, control {} of {} passed ({} unresolved, {} not converged) in {:.1} s; {done} done, about {} more (about {minutes:.0} min)",
                claim.id,
                r.check.wrong,
                r.check.counted(),
                r.control.wrong,
                r.control.counted(),
                r.check.unresolved + r.control.unresolved,
                r.check.not_converged + r.control.not_converged,
                r.seconds,
                left.iter().sum::<u64>(),
            );
        }
        if c.add_probe(claim)? {
            write_calibration(path, &c)?;
        }
        let counted = c.claims.get(claim.id).map_or(0, calibration::Entry::counted);
        if counted < shard.share(args.cases) {
            eprintln!(
                "{}: {counted} counted cases per role, short of {} after twice the runs they need (its cases mostly do not count: see the table)",
                claim.id,
                shard.share(args.cases)
            );
        }
    }
    outln!("{}", calibration::table(&c, &claims).trim_end());
    Ok(())
}

/// `check --merge-calibration`: adds the shards' files up into --calibration (which must not
/// be one of them).
fn merge_calibration(inputs: &[PathBuf], out: &std::path::Path) -> anyhow::Result<()> {
    if let Ok(o) = out.canonicalize()
        && let Some(i) = inputs.iter().find(|i| i.canonicalize().is_ok_and(|i| i == o))
    {
        bail!(
            "--calibration {} is one of the files being merged ({}); choose another output",
            out.display(),
            i.display()
        );
    }
    let mut merged = Calibration::default();
    for path in inputs {
        merged.merge(&read_calibration(path)?).with_context(|| format!("cannot merge {}", path.display()))?;
    }
    write_calibration(out, &merged)?;
    outln!("{}", calibration::table(&merged, &theory_checks::registry()).trim_end());
    Ok(())
}

/// Runs `check`.
pub fn run_check(args: &Args) -> anyhow::Result<()> {
    if let Some(inputs) = &args.merge_calibration {
        return merge_calibration(inputs, args.calibration.as_deref().context("--calibration names the output")?);
    }
    if args.calibrate {
        return calibrate(args, args.calibration.as_deref().context("--calibration names the file")?);
    }
    let owned;
    let calibration = match &args.calibration {
        Some(path) => {
            owned = read_calibration(path)?;
            &owned
        }
        None => Calibration::embedded()?,
    };
    if args.print_calibration {
        outln!("{}", calibration::table(calibration, &args.selected()?).trim_end());
        return Ok(());
    }
    let budget = if args.full { Budget::Full } else { Budget::Quick };
    let claims = args.selected()?;
    let mut outcomes = Vec::new();
    for claim in &claims {
        eprintln!("checking {} ...", claim.id);
        let outcome = run_with(claim, budget, args.seed, calibration)?;
        if args.json {
            outln!("{}", serde_json::to_string(&outcome)?);
        }
        outcomes.push(outcome);
    }
    let report = table(&outcomes, budget, args.seed);
    eprintln!(
        "family-wise bound of this run: {} (target {} over the registry; the calibration's rate bounds taken as the rates); {}",
        Sig3(family_wise(&outcomes)),
        Sig3(FAMILY_WISE_ERROR),
        no_verdict(&outcomes)
    );
    if !args.json {
        outln!("{}", report.trim_end());
    }
    if let Some(path) = &args.out {
        write_atomic(path, |w| Ok(std::io::Write::write_all(w, report.as_bytes())?))?;
    }
    let with = |v: Verdict| -> Vec<&str> { outcomes.iter().filter(|o| o.verdict == v).map(|o| o.id).collect() };
    let (failed, uncertified, unresolved, uncalibrated) =
        (with(Verdict::Fails), with(Verdict::NotCertified), with(Verdict::Unresolved), with(Verdict::Uncalibrated));
    if !failed.is_empty() {
        return Err(CheckFailure::Failed(failed.join(", ")).into());
    }
    if !uncertified.is_empty() {
        return Err(CheckFailure::NotCertified(uncertified.join(", ")).into());
    }
    if !unresolved.is_empty() {
        return Err(CheckFailure::Unresolved(unresolved.join(", ")).into());
    }
    if !uncalibrated.is_empty() {
        return Err(CheckFailure::Uncalibrated(uncalibrated.join(", ")).into());
    }
    Ok(())
}
