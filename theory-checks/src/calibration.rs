//! Measured per-case error rates of the claims (docs/theory.md 5.1).
//!
//! A statistical claim's verdict allows a few of its cases to go the wrong way (a check's case
//! to fail, a control's to pass); how many depends on how often that happens to a true claim.
//! That rate is measured, not assumed: [`calibrate_run`] runs the quick suite's case design (the
//! same case functions, case indices `0..quick cases`, the same statistics) at a fresh master seed
//! ([`calibration_master`]`(j)` for run `j`, never a seed the suite is run at otherwise), and a
//! [`Calibration`] adds the runs up per claim and role. Its Clopper-Pearson upper bound
//! ([`clopper_pearson_upper`], one-sided, 95%) is the rate the verdict uses.
//!
//! Each entry carries the [`fingerprint`] of the case design it measured: the claim's
//! parameters (statement, assumptions, tolerance, quick cases, control) and the code of its
//! module and of `common.rs`, comments and blank lines left out. A changed claim no longer
//! matches its entry, and its verdict is refused (`Verdict::Uncalibrated`) until it is measured
//! again; so is the verdict of a claim without an entry or with fewer than [`MIN_CASES`] counted
//! cases in a role (no rate is assumed in place of a measured one). The library the claims call
//! (samplers, losses, optimisers) is guarded apart: the entry records case 0 of run 0 of its
//! check and control ([`Probe`]), and a test recomputes it.
//!
//! Exact claims (rounding tolerances: C1, C2, C5, C14, C17) need no rate: their checks compare a
//! deterministic quantity with a tolerance set by floating-point rounding, and their controls
//! fail by an analytic margin that vanishes only on a set of parameters of measure zero.
//! Calibration runs them too (at no cost) and records what it saw.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use gmm_core::parallel::Shard;
use serde::{Deserialize, Serialize};
use statrs::distribution::{Beta, ContinuousCDF};

use crate::{
    Budget, Case, CheckError, Claim, Ctx, MIN_RESOLVED, Result, Role, allowed_failures, case_seed, false_rejection,
    test_level,
};

/// The calibration committed with the crate (`theory-checks/calibration.json`).
const EMBEDDED: &str = include_str!("../calibration.json");

/// The confidence of the rate bounds: one-sided Clopper-Pearson at 95%.
pub const CONFIDENCE: f64 = 0.95;

/// The version of the calibration file's layout.
pub const FORMAT: u32 = 1;

/// The fewest counted cases per role an entry needs before verdicts use its rates (fewer give a
/// bound above 1%, too loose to judge by: such an entry is still being measured, and the claim's
/// verdict is refused).
pub const MIN_CASES: u64 = 300;

/// The one-sided Clopper-Pearson upper bound at `confidence` of a rate seen `k` times in `n`
/// trials: the `confidence` quantile of `Beta(k + 1, n - k)` (`1` when `k = n`; `1 - (1 -
/// confidence)^(1/n)`, about `3 / n` at 95%, when `k = 0`).
pub fn clopper_pearson_upper(k: u64, n: u64, confidence: f64) -> f64 {
    if n == 0 || k >= n {
        return 1.0;
    }
    if k == 0 {
        return 1.0 - (1.0 - confidence).powf(1.0 / n as f64);
    }
    Beta::new(k as f64 + 1.0, (n - k) as f64).map_or(1.0, |b| b.inverse_cdf(confidence))
}

/// The master seed of calibration run `j` (a hash of `j` under a root of its own, so that
/// calibration never reuses the default seed, CI's seeds or any small integer).
pub fn calibration_master(j: u64) -> u64 {
    case_seed(0xca1b_0000_0000_0000 ^ j, "calibration", 0)
}

/// One role's cases over the calibration runs.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Tally {
    /// Cases run.
    pub cases: u64,
    /// Counted cases (certified and resolved) that went the wrong way: failed (check) or
    /// passed (control).
    pub wrong: u64,
    /// Certified cases that could not tell the claim from its nearest wrong answer.
    pub unresolved: u64,
    /// Cases with a trained map without a certificate.
    pub not_converged: u64,
}

impl Tally {
    /// The cases a verdict counts: certified and resolved.
    pub fn counted(&self) -> u64 {
        self.cases - self.unresolved - self.not_converged
    }

    /// The Clopper-Pearson upper bound ([`CONFIDENCE`]) of the per-case wrong-way rate.
    pub fn bound(&self) -> f64 {
        clopper_pearson_upper(self.wrong, self.counted(), CONFIDENCE)
    }

    /// The tally of one role's cases (of a calibration run, or of a `check` run).
    pub(crate) fn of(cases: &[Case], role: Role) -> Self {
        let count = |k: &str| cases.iter().filter(|c| exception_kind(c, role) == Some(k)).count() as u64;
        Self {
            cases: cases.len() as u64,
            wrong: count(WRONG),
            unresolved: count(UNRESOLVED),
            not_converged: count(NOT_CONVERGED),
        }
    }

    /// The chance that `cases` cases of this role leave a `check` run without a verdict, at the
    /// observed (not bounded) rates: some case without a certificate, or fewer than
    /// [`MIN_RESOLVED`] resolved (the two added up). An estimate, 0 when no such case was seen.
    pub fn no_verdict_chance(&self, cases: usize) -> f64 {
        let rate = |k: u64| k as f64 / self.cases.max(1) as f64;
        let uncertified = 1.0 - (1.0 - rate(self.not_converged)).powi(i32::try_from(cases).unwrap_or(i32::MAX));
        let unresolved = false_rejection(cases, rate(self.unresolved), cases - MIN_RESOLVED.min(cases));
        (uncertified + unresolved).min(1.0)
    }

    fn add(&mut self, other: &Self) {
        self.cases += other.cases;
        self.wrong += other.wrong;
        self.unresolved += other.unresolved;
        self.not_converged += other.not_converged;
    }
}

/// Case 0 of calibration run 0 of a claim's check and control: what the library computed for
/// them when the entry was measured (a test recomputes it, so that a change below the claims
/// that moves their statistics is seen).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Probe {
    /// The check's statistic and whether it passed.
    pub check: (f64, bool),
    /// The control's statistic and whether it passed.
    pub control: (f64, bool),
}

/// What calibration measured for one claim.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// The [`fingerprint`] of the case design measured.
    pub fingerprint: String,
    /// Whether the claim is exact (its rate is not used).
    pub exact: bool,
    /// The calibration runs done, as sorted, disjoint half-open ranges `[start, end)`.
    pub runs: Vec<(u64, u64)>,
    /// The check's cases.
    pub check: Tally,
    /// The control's cases.
    pub control: Tally,
    /// Wall-clock seconds of all runs (check and control, on the machine that ran them).
    pub seconds: f64,
    /// Case 0 of run 0: recorded with run 0, or computed apart, not counted, for an entry that
    /// began later ([`Calibration::add_probe`]).
    pub probe: Option<Probe>,
    /// The cases that went the wrong way, were unresolved or were not certified (the first
    /// [`MAX_EXCEPTIONS`]), to be looked at.
    #[serde(default)]
    pub exceptions: Vec<Exception>,
}

/// The most exceptions an entry keeps.
pub const MAX_EXCEPTIONS: usize = 100;

/// A case of a calibration run that went the wrong way, was unresolved or was not certified.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Exception {
    /// `check` or `control`.
    pub role: String,
    /// The calibration run.
    pub run: u64,
    /// The case index.
    pub case: usize,
    /// `wrong`, `unresolved` or `not-converged`.
    pub kind: String,
    /// The case's note.
    pub note: String,
}

const WRONG: &str = "wrong";
const UNRESOLVED: &str = "unresolved";
const NOT_CONVERGED: &str = "not-converged";

/// How a case of `role` is exceptional: not certified, unresolved (certified), or counted and
/// gone the wrong way (failed, for a check; passed, for a control); `None` for a counted case
/// that went the right way.
fn exception_kind(c: &Case, role: Role) -> Option<&'static str> {
    if !c.converged {
        Some(NOT_CONVERGED)
    } else if !c.resolved {
        Some(UNRESOLVED)
    } else if c.passed == (role == Role::Control) {
        Some(WRONG)
    } else {
        None
    }
}

impl Exception {
    /// The exceptions among one run's cases of `role`.
    fn of(cases: &[Case], role: Role, run: u64) -> Vec<Self> {
        let name = if role == Role::Check { "check" } else { "control" };
        cases
            .iter()
            .enumerate()
            .filter_map(|(case, c)| {
                let kind = exception_kind(c, role)?;
                Some(Self { role: name.into(), run, case, kind: kind.into(), note: c.note.clone() })
            })
            .collect()
    }
}

impl Entry {
    /// This entry's state for `claim` as it is now, exact or not: `Stale` when the fingerprints
    /// differ, `Incomplete` below [`MIN_CASES`] counted cases in a role, `Measured` otherwise.
    pub fn status(&self, claim: &Claim) -> Status {
        let current = fingerprint(claim);
        if self.fingerprint != current {
            Status::Stale { recorded: self.fingerprint.clone(), current }
        } else if self.counted() < MIN_CASES {
            Status::Incomplete(self.clone())
        } else {
            Status::Measured(self.clone())
        }
    }

    /// The counted cases of the role that has fewer.
    pub fn counted(&self) -> u64 {
        self.check.counted().min(self.control.counted())
    }

    /// Calibration runs done.
    pub fn run_count(&self) -> u64 {
        self.runs.iter().map(|(a, b)| b - a).sum()
    }

    /// Whether run `j` is done.
    pub fn has_run(&self, j: u64) -> bool {
        self.runs.iter().any(|&(a, b)| (a..b).contains(&j))
    }

    /// The chance that a `check` run of `cases` cases per role has no verdict on the claim at
    /// the observed rates ([`Tally::no_verdict_chance`] of either role).
    pub fn no_verdict_chance(&self, cases: usize) -> f64 {
        let (a, b) = (self.check.no_verdict_chance(cases), self.control.no_verdict_chance(cases));
        1.0 - (1.0 - a) * (1.0 - b)
    }

    /// Seconds per case (check and control cases together).
    pub fn seconds_per_case(&self) -> f64 {
        self.seconds / (self.check.cases + self.control.cases).max(1) as f64
    }

    /// Adds run ranges, keeping them sorted and merged; `false` if one was already there.
    fn add_runs(&mut self, ranges: &[(u64, u64)]) -> bool {
        let mut all: Vec<(u64, u64)> = self.runs.iter().chain(ranges).copied().filter(|(a, b)| a < b).collect();
        all.sort_unstable();
        let mut merged: Vec<(u64, u64)> = Vec::with_capacity(all.len());
        for (a, b) in all {
            match merged.last_mut() {
                Some(last) if a < last.1 => return false,
                Some(last) if a == last.1 => last.1 = b,
                _ => merged.push((a, b)),
            }
        }
        self.runs = merged;
        true
    }
}

/// The state of a claim's calibration.
#[derive(Clone, Debug, PartialEq)]
pub enum Status {
    /// An exact claim: no rate is needed.
    Exact,
    /// Measured for this case design.
    Measured(Entry),
    /// Measured for this case design on fewer than [`MIN_CASES`] counted cases in a role: still
    /// being measured, not used yet.
    Incomplete(Entry),
    /// Measured for another case design (the fingerprint differs): refused.
    Stale {
        /// The fingerprint the entry was measured for.
        recorded: String,
        /// The claim's fingerprint now.
        current: String,
    },
    /// Never measured.
    Missing,
}

/// Measured rates of the claims, per claim id (`theory-checks/calibration.json`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Calibration {
    /// [`FORMAT`].
    pub format: u32,
    /// The case design measured: always `quick` (the budget CI runs).
    pub design: String,
    /// Per claim id.
    pub claims: BTreeMap<String, Entry>,
}

impl Default for Calibration {
    fn default() -> Self {
        Self { format: FORMAT, design: Budget::Quick.name().to_string(), claims: BTreeMap::new() }
    }
}

impl Calibration {
    /// The calibration committed with the crate.
    ///
    /// # Errors
    /// A file that does not parse (a defect of the build, never of the input).
    pub fn embedded() -> Result<&'static Calibration> {
        static CELL: OnceLock<std::result::Result<Calibration, String>> = OnceLock::new();
        CELL.get_or_init(|| Calibration::from_json(EMBEDDED).map_err(|e| e.to_string()))
            .as_ref()
            .map_err(|e| CheckError::Fixture(format!("the embedded calibration.json: {e}")))
    }

    /// Parses a calibration file.
    ///
    /// # Errors
    /// Malformed JSON, another format or design, or runs that overlap or do not match the cases.
    pub fn from_json(text: &str) -> Result<Self> {
        let c: Calibration =
            serde_json::from_str(text).map_err(|e| CheckError::Calibration(format!("not a calibration file: {e}")))?;
        if c.format != FORMAT || c.design != Budget::Quick.name() {
            return Err(CheckError::Calibration(format!(
                "calibration format {} of the '{}' design; this build reads format {FORMAT} of the 'quick' design",
                c.format, c.design
            )));
        }
        for (id, e) in &c.claims {
            // Sorted, merged (a gap between neighbours) and none empty.
            if !e.runs.iter().all(|(a, b)| a < b) || !e.runs.windows(2).all(|w| w[0].1 < w[1].0) {
                return Err(CheckError::Calibration(format!("{id}: runs not sorted, merged and disjoint")));
            }
            if e.check.counted() > e.check.cases || e.check.wrong > e.check.counted() {
                return Err(CheckError::Calibration(format!("{id}: inconsistent check tally")));
            }
            if e.control.counted() > e.control.cases || e.control.wrong > e.control.counted() {
                return Err(CheckError::Calibration(format!("{id}: inconsistent control tally")));
            }
        }
        Ok(c)
    }

    /// The file's text (pretty JSON, one field per line, ending in a newline).
    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).unwrap_or_default();
        s.push('\n');
        s
    }

    /// The calibration state of `claim` (its entry only if the fingerprints match).
    pub fn status(&self, claim: &Claim) -> Status {
        match self.claims.get(claim.id) {
            _ if claim.exact => Status::Exact,
            None => Status::Missing,
            Some(e) => e.status(claim),
        }
    }

    /// Adds one run of `claim` to its entry (a new entry when there is none).
    ///
    /// # Errors
    /// The entry was measured for another case design, or has this run already.
    pub fn record(&mut self, claim: &Claim, run: &Run) -> Result<()> {
        let one = Entry {
            fingerprint: fingerprint(claim),
            exact: claim.exact,
            runs: vec![(run.index, run.index + 1)],
            check: run.check.clone(),
            control: run.control.clone(),
            seconds: run.seconds,
            probe: run.probe.clone(),
            exceptions: run.exceptions.clone(),
        };
        self.add(claim.id, &one)
    }

    /// Gives `claim`'s entry its [`probe`] when it has none (a campaign that began after run 0:
    /// [`next_run`]'s `first`), so that every measured entry is guarded: case 0 of run 0 of the
    /// check and the control, computed apart and not counted. Returns whether it was added.
    ///
    /// # Errors
    /// A library error in a case.
    pub fn add_probe(&mut self, claim: &Claim) -> Result<bool> {
        match self.claims.get_mut(claim.id) {
            Some(e) if e.probe.is_none() => {
                e.probe = Some(probe(claim)?);
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    /// Adds another calibration's entries (shards of one campaign) to this one.
    ///
    /// # Errors
    /// A claim measured for different case designs, or a run in both.
    pub fn merge(&mut self, other: &Calibration) -> Result<()> {
        for (id, e) in &other.claims {
            self.add(id, e)?;
        }
        Ok(())
    }

    fn add(&mut self, id: &str, new: &Entry) -> Result<()> {
        let Some(e) = self.claims.get_mut(id) else {
            self.claims.insert(id.to_string(), new.clone());
            return Ok(());
        };
        if e.fingerprint != new.fingerprint {
            return Err(CheckError::Calibration(format!(
                "{id}: runs of two case designs (fingerprints {} and {}) cannot be added up",
                e.fingerprint, new.fingerprint
            )));
        }
        if !e.add_runs(&new.runs) {
            return Err(CheckError::Calibration(format!(
                "{id}: a run is recorded twice ({:?} and {:?})",
                e.runs, new.runs
            )));
        }
        e.check.add(&new.check);
        e.control.add(&new.control);
        e.seconds += new.seconds;
        if e.probe.is_none() {
            e.probe.clone_from(&new.probe);
        }
        let room = MAX_EXCEPTIONS.saturating_sub(e.exceptions.len());
        e.exceptions.extend(new.exceptions.iter().take(room).cloned());
        Ok(())
    }
}

/// The fingerprint of a claim's case design: a hash (FNV-1a, 64 bits, in hex) of its parameters
/// and of the code of its module, of `common.rs` and of the modules it reads ([`Claim::reads`]),
/// whole-line comments, blank lines and a trailing unit-test module ([`claim_code`]) left out and
/// every line trimmed (so a comment, a re-indentation or a unit test does not invalidate it, a
/// changed line of code does).
pub fn fingerprint(claim: &Claim) -> String {
    let code = |text: &str| -> String {
        claim_code(text)
            .iter()
            .map(|l| l.trim())
            .filter(|l| !l.is_empty() && !l.starts_with("//"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let mut text = vec![
        claim.id.to_string(),
        claim.statement.to_string(),
        claim.assumptions.to_string(),
        claim.control_statement.to_string(),
        claim.tolerance.to_string(),
        claim.cases.0.to_string(),
        claim.exact.to_string(),
        code(claim.source),
        code(crate::COMMON_SOURCE),
    ];
    // Appended only where present, so that a claim reading no other module keeps its fingerprint.
    text.extend(claim.reads.iter().map(|source| code(source)));
    let text = text.join("\u{1f}");
    format!("{:016x}", gmm_core::stable_hash(text.as_bytes()))
}

/// The lines of a module's source that its claims run: all of them, less a unit-test module that
/// ends the file (a line `#[cfg(test)]`, then `mod tests {` on the next, its braces balanced
/// exactly at the last line). Anything else (tests in the middle, code after them, braces that do
/// not balance) keeps every line: a cut that is not certain is not made, so claim code is never
/// left out of a fingerprint.
pub fn claim_code(text: &str) -> Vec<&str> {
    let lines: Vec<&str> = text.lines().collect();
    let Some(start) = lines.windows(2).position(|w| w[0].trim() == "#[cfg(test)]" && w[1].trim() == "mod tests {")
    else {
        return lines;
    };
    let last = lines.iter().rposition(|l| !l.trim().is_empty()).unwrap_or(0);
    let mut depth = 0_i64;
    for (i, line) in lines.iter().enumerate().skip(start + 1) {
        depth += line.matches('{').count() as i64 - line.matches('}').count() as i64;
        if depth <= 0 {
            return if depth == 0 && i == last { lines[..start].to_vec() } else { lines };
        }
    }
    lines
}

/// One calibration run of a claim: its quick cases at [`calibration_master`]`(index)`.
#[derive(Clone, Debug, PartialEq)]
pub struct Run {
    /// The run's index `j`.
    pub index: u64,
    /// The check's cases.
    pub check: Tally,
    /// The control's cases.
    pub control: Tally,
    /// Wall-clock seconds.
    pub seconds: f64,
    /// Case 0 of both roles, for run 0.
    pub probe: Option<Probe>,
    /// Its exceptional cases.
    pub exceptions: Vec<Exception>,
}

/// The quick cases of one role of `claim` at master seed `master`, in parallel (the cases
/// `ssl-gmm check --quick --seed master` runs).
pub(crate) fn quick_cases(claim: &Claim, role: Role, budget: Budget, master: u64) -> Result<Vec<Case>> {
    let n = budget.pick(claim.cases.0, claim.cases.1);
    let ctxs: Vec<Ctx> = (0..n).map(|index| case_ctx(claim, role, budget, master, index)).collect();
    gmm_core::parallel::map(&ctxs, |ctx| case_of(claim, role, ctx)).into_iter().collect()
}

/// The context of case `index` of one role of `claim` at master seed `master`: seeded by
/// [`case_seed`] over `id` or `id/control`.
fn case_ctx(claim: &Claim, role: Role, budget: Budget, master: u64, index: usize) -> Ctx {
    let seed = match role {
        Role::Check => case_seed(master, claim.id, index),
        Role::Control => case_seed(master, &format!("{}/control", claim.id), index),
    };
    Ctx { budget, seed, index }
}

/// One case of one role of `claim`, its seed recorded.
fn case_of(claim: &Claim, role: Role, ctx: &Ctx) -> Result<Case> {
    let f = match role {
        Role::Check => claim.check,
        Role::Control => claim.control,
    };
    f(ctx).map(|c| Case { seed: ctx.seed, ..c })
}

/// Case 0 of calibration run 0 of `claim`'s check and control, computed now (what an entry's
/// [`Probe`] recorded when it was measured).
///
/// # Errors
/// A library error in a case.
pub fn probe(claim: &Claim) -> Result<Probe> {
    let case = |role| case_of(claim, role, &case_ctx(claim, role, Budget::Quick, calibration_master(0), 0));
    let (check, control) = (case(Role::Check)?, case(Role::Control)?);
    Ok(Probe { check: (check.statistic, check.passed), control: (control.statistic, control.passed) })
}

/// Runs calibration run `index` of `claim`: the quick design of its check and control at
/// [`calibration_master`]`(index)`.
///
/// # Errors
/// A library error in a case.
pub fn calibrate_run(claim: &Claim, index: u64) -> Result<Run> {
    let t = std::time::Instant::now();
    let master = calibration_master(index);
    let check = quick_cases(claim, Role::Check, Budget::Quick, master)?;
    let control = quick_cases(claim, Role::Control, Budget::Quick, master)?;
    let probe = match (index, check.first(), control.first()) {
        (0, Some(a), Some(b)) => Some(Probe { check: (a.statistic, a.passed), control: (b.statistic, b.passed) }),
        _ => None,
    };
    Ok(Run {
        index,
        check: Tally::of(&check, Role::Check),
        control: Tally::of(&control, Role::Control),
        seconds: t.elapsed().as_secs_f64(),
        probe,
        exceptions: [Exception::of(&check, Role::Check, index), Exception::of(&control, Role::Control, index)].concat(),
    })
}

/// The calibration runs `claim` needs for at least `cases` cases per role (its quick cases per
/// run, rounded up).
pub fn runs_for(claim: &Claim, cases: u64) -> u64 {
    cases.div_ceil(claim.cases.0.max(1) as u64)
}

/// The next calibration run of `claim` in `part`, from run `first` on, that `entry` (this part's
/// file) has not done, until each role of `entry` counts this part's share of `cases`
/// (unresolved and uncertified cases do not count); `None` then, and also after twice the runs
/// that the share needs when every case counts, so that a claim whose cases mostly do not count
/// ends (its table shows it short). A claim redesigned after its cases at runs `0..first` were
/// looked at starts at `first`, on master seeds its design has not seen.
pub fn next_run(claim: &Claim, entry: Option<&Entry>, cases: u64, part: Shard, first: u64) -> Option<u64> {
    let share = part.share(cases);
    let counted = entry.map_or(0, Entry::counted);
    let done = entry.map_or(0, Entry::run_count);
    if counted >= share || done >= runs_for(claim, share).saturating_mul(2) {
        return None;
    }
    (first..).filter(|&j| part.takes(j)).find(|&j| entry.is_none_or(|e| !e.has_run(j)))
}

/// About how many more runs [`next_run`] gives `claim` in `part`: the counted cases left of the
/// share over the counted cases per run so far (every case, before the first run).
pub fn runs_left(claim: &Claim, entry: Option<&Entry>, cases: u64, part: Shard) -> u64 {
    let share = part.share(cases);
    let (counted, done) = entry.map_or((0, 0), |e| (e.counted(), e.run_count()));
    let per_run = if done > 0 { counted as f64 / done as f64 } else { claim.cases.0 as f64 };
    let cap = runs_for(claim, share).saturating_mul(2).saturating_sub(done);
    if counted >= share {
        0
    } else if per_run <= 0.0 {
        cap
    } else {
        (((share - counted) as f64 / per_run).ceil() as u64).min(cap)
    }
}

/// The calibration of `claims` as a markdown table: per claim its kind, runs, each role's
/// counted cases, wrong-way cases, unresolved and uncertified cases and rate bound, the seconds
/// per case, the wrong-way cases of each role a quick run allows at these bounds when all its
/// cases count (the aim is at most one), and whether the entry matches the claim's case design
/// now.
pub fn table(calibration: &Calibration, claims: &[Claim]) -> String {
    use std::fmt::Write as _;
    let mut s = String::from(
        "| claim | kind | runs | check counted | failures | bound | control counted | passes | bound | unresolved (check / control) | not converged | s per case | allowed of the quick cases (check / control) | entry |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n",
    );
    for claim in claims {
        let kind = if claim.exact { "exact" } else { "statistical" };
        let Some(e) = calibration.claims.get(claim.id) else {
            let _ = writeln!(s, "| {} | {kind} | 0 | - | - | - | - | - | - | - | - | - | - | missing |", claim.id);
            continue;
        };
        let status = e.status(claim);
        let state = match status {
            Status::Stale { .. } => "stale",
            Status::Incomplete(_) if !claim.exact => "incomplete",
            _ => "current",
        };
        let bound = |t: &Tally| if claim.exact { "-".to_string() } else { gmm_core::Sig3(t.bound()).to_string() };
        // What a quick run's pass-count rule allows when all its cases count: none for an exact
        // claim, the measured rates' allowance for a current entry, nothing yet for the others.
        let quick = claim.cases.0;
        let allowed = match status {
            _ if claim.exact => format!("0 / 0 of {quick}"),
            Status::Measured(_) => {
                let of = |t: &Tally| allowed_failures(quick, t.bound(), test_level(claim));
                format!("{} / {} of {quick}", of(&e.check), of(&e.control))
            }
            _ => "-".to_string(),
        };
        let _ = writeln!(
            s,
            "| {} | {kind} | {} | {} | {} | {} | {} | {} | {} | {} / {} | {} | {:.2} | {allowed} | {state} |",
            claim.id,
            e.run_count(),
            e.check.counted(),
            e.check.wrong,
            bound(&e.check),
            e.control.counted(),
            e.control.wrong,
            bound(&e.control),
            e.check.unresolved,
            e.control.unresolved,
            e.check.not_converged + e.control.not_converged,
            e.seconds_per_case(),
        );
    }
    s
}
