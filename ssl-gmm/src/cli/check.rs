//! `ssl-gmm check`: runs the claims of theory.md (theory-checks' registry) and prints a table.

use std::fmt::Write as _;
use std::path::PathBuf;

use anyhow::bail;
use theory_checks::{Budget, Outcome, registry, run};

use super::io::write_atomic;

/// Arguments of `check`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Few cases and short training (the CI run; the default).
    #[arg(long, conflicts_with = "full")]
    quick: bool,
    /// Many cases and long training (a release run).
    #[arg(long)]
    full: bool,
    /// Seed of every check.
    #[arg(long, default_value_t = 20_241_105)]
    seed: u64,
    /// Only these claims, comma separated (e.g. C4,C7).
    #[arg(long, value_delimiter = ',')]
    claims: Vec<String>,
    /// Print one JSON object per claim instead of the table.
    #[arg(long)]
    json: bool,
    /// Also write the table as a markdown report.
    #[arg(long)]
    out: Option<PathBuf>,
}

fn table(outcomes: &[Outcome], budget: Budget, seed: u64) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "Claims of theory.md, budget {budget:?}, seed {seed}.\n");
    let _ = writeln!(
        s,
        "| claim | statement | cases | holds | worst statistic | threshold | p-value | control fails | time (s) |"
    );
    let _ = writeln!(s, "|---|---|---|---|---|---|---|---|---|");
    for o in outcomes {
        let e = &o.evidence;
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {:.3e} | {:.3e} | {} | {} | {:.1} |",
            o.id,
            o.statement,
            e.cases,
            if e.passed { "yes" } else { "NO" },
            e.statistic,
            e.threshold,
            e.p_value.map(|p| format!("{p:.1e}")).unwrap_or_else(|| "-".into()),
            if o.control.passed { "NO" } else { "yes" },
            o.seconds
        );
    }
    let _ = writeln!(s, "\nDetails:\n");
    for o in outcomes {
        let _ = writeln!(s, "- {}: {}. Control: {}", o.id, o.evidence.details, o.control.details);
    }
    s
}

/// Runs `check`.
pub fn run_check(args: &Args) -> anyhow::Result<()> {
    let budget = if args.full { Budget::Full } else { Budget::Quick };
    let all = registry();
    let wanted: Vec<String> = args.claims.iter().map(|c| c.trim().to_uppercase()).collect();
    for w in &wanted {
        if !all.iter().any(|c| c.id == w) {
            bail!("unknown claim {w}; known: C1..C14");
        }
    }
    let mut outcomes = Vec::new();
    for claim in all.iter().filter(|c| wanted.is_empty() || wanted.iter().any(|w| w == c.id)) {
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
    let failed: Vec<&str> = outcomes.iter().filter(|o| !o.ok()).map(|o| o.id).collect();
    if !failed.is_empty() {
        bail!("claims not confirmed (check failed or control passed): {}", failed.join(", "));
    }
    Ok(())
}
