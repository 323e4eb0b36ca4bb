//! `ssl-gmm check`: runs the claims of docs/theory.md (theory-checks' registry) and prints a table.

use std::fmt::Write as _;
use std::path::PathBuf;

use gmm_core::Sig3;
use theory_checks::{Budget, FAMILY_WISE_ERROR, Outcome, Verdict, registry, run, select};

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
    /// Print one JSON object per claim (with every case) instead of the table.
    #[arg(long)]
    json: bool,
    /// Also write the table as a markdown report.
    #[arg(long)]
    out: Option<PathBuf>,
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
}

fn table(outcomes: &[Outcome], budget: Budget, seed: u64) -> String {
    let mut s = String::new();
    let claims = registry().len();
    let _ = writeln!(
        s,
        "Claims of docs/theory.md, budget {}, master seed {seed}. Each claim is judged by its pass count at level {} (family-wise {} over {claims} claims, docs/theory.md 5.1).\n",
        budget.name(),
        Sig3(FAMILY_WISE_ERROR / claims as f64),
        Sig3(FAMILY_WISE_ERROR)
    );
    let _ = writeln!(
        s,
        "| claim | statement | check passed / counted | allowed failures | worst statistic | threshold | nearest wrong | control passed / counted | verdict | time (s) |"
    );
    let _ = writeln!(s, "|---|---|---|---|---|---|---|---|---|---|");
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
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {:.1} |",
            o.id,
            o.statement,
            counted(e),
            e.allowed,
            Sig3(e.worst),
            Sig3(e.threshold),
            e.nearest_wrong.map(|v| Sig3(v).to_string()).unwrap_or_else(|| "-".into()),
            counted(c),
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

/// Runs `check`.
pub fn run_check(args: &Args) -> anyhow::Result<()> {
    let budget = if args.full { Budget::Full } else { Budget::Quick };
    let claims = select(args.claims.as_deref())?;
    let mut outcomes = Vec::new();
    for claim in &claims {
        eprintln!("checking {} ...", claim.id);
        let outcome = run(claim, budget, args.seed)?;
        if args.json {
            outln!("{}", serde_json::to_string(&outcome)?);
        }
        outcomes.push(outcome);
    }
    let report = table(&outcomes, budget, args.seed);
    if !args.json {
        outln!("{}", report.trim_end());
    }
    if let Some(path) = &args.out {
        write_atomic(path, |w| Ok(std::io::Write::write_all(w, report.as_bytes())?))?;
    }
    let with = |v: Verdict| -> Vec<&str> { outcomes.iter().filter(|o| o.verdict == v).map(|o| o.id).collect() };
    let (failed, uncertified, unresolved) =
        (with(Verdict::Fails), with(Verdict::NotCertified), with(Verdict::Unresolved));
    if !failed.is_empty() {
        return Err(CheckFailure::Failed(failed.join(", ")).into());
    }
    if !uncertified.is_empty() {
        return Err(CheckFailure::NotCertified(uncertified.join(", ")).into());
    }
    if !unresolved.is_empty() {
        return Err(CheckFailure::Unresolved(unresolved.join(", ")).into());
    }
    Ok(())
}
