//! The calibration of the claims' error rates (docs/theory.md 5.1): the rate bound, the file's
//! bookkeeping (runs added, shards merged, overlaps and other case designs refused), a verdict
//! that refuses a stale entry, and the committed file matching the claims as they are now.

use gmm_core::parallel::Shard;
use theory_checks::calibration::{
    Calibration, Tally, calibrate_run, calibration_master, claim_code, clopper_pearson_upper, fingerprint, next_run,
    runs_for, runs_left,
};
use theory_checks::{Budget, RateSource, Status, Verdict, registry, run_with};

fn claim(id: &str) -> theory_checks::Claim {
    registry().into_iter().find(|c| c.id == id).expect("registered")
}

/// Reference values of the one-sided 95% Clopper-Pearson bound (scipy.stats.beta.ppf(0.95, k + 1,
/// n - k)).
#[test]
fn clopper_pearson_matches_reference_values() {
    for (k, n, expected) in
        [(0, 300, 0.009_936_082), (0, 1000, 0.002_991_250), (1, 10, 0.394_163_30), (3, 300, 0.025_641_393), (5, 5, 1.0)]
    {
        let got = clopper_pearson_upper(k, n, 0.95);
        assert!((got - expected).abs() < 1e-6 * expected.max(1e-3), "k {k} n {n}: {got} vs {expected}");
    }
    assert_eq!(clopper_pearson_upper(0, 0, 0.95), 1.0);
}

#[test]
fn calibration_masters_are_fresh_and_distinct() {
    let masters: std::collections::HashSet<u64> = (0..10_000).map(calibration_master).collect();
    assert_eq!(masters.len(), 10_000);
    for used in [0, 1, 2, 3, 7, 11, 20_241_105] {
        assert!(!masters.contains(&used), "calibration reuses master seed {used}");
    }
    assert_eq!(runs_for(&claim("C13"), 1000), 100);
    assert_eq!(runs_for(&claim("C4"), 1000), 143);
}

/// A campaign aims at counted cases: its next run is the first one of its part not done yet,
/// none once each role counts the part's share, and a claim whose cases do not count stops
/// after twice the runs its share needs.
#[test]
fn a_campaign_runs_until_its_cases_count() {
    let c13 = claim("C13");
    assert_eq!((next_run(&c13, None, 20, Shard::WHOLE, 0), runs_left(&c13, None, 20, Shard::WHOLE)), (Some(0), 2));
    let mut c = Calibration::default();
    for j in [0, 2] {
        c.record(&c13, &calibrate_run(&c13, j).unwrap()).unwrap();
    }
    let e = c.claims.get("C13");
    assert_eq!(e.unwrap().check.counted(), 20, "C13's 10 quick cases per run all count");
    assert_eq!(next_run(&c13, e, 30, Shard::WHOLE, 0), Some(1), "the first run not done");
    assert_eq!(next_run(&c13, e, 20, Shard::WHOLE, 0), None);
    let first = Shard::new(0, 2).unwrap();
    assert_eq!(next_run(&c13, e, 40, first, 0), None, "the share of part 0 is 20");
    assert_eq!((next_run(&c13, e, 60, first, 0), runs_left(&c13, e, 60, first)), (Some(4), 1));
    // None of its cases counts: two runs are twice what a share of 10 needs.
    let mut none = e.unwrap().clone();
    none.check.unresolved = none.check.cases;
    assert_eq!(none.check.counted(), 0);
    assert_eq!(
        (next_run(&c13, Some(&none), 10, Shard::WHOLE, 0), runs_left(&c13, Some(&none), 10, Shard::WHOLE)),
        (None, 0)
    );
    assert_eq!(next_run(&c13, Some(&none), 20, Shard::WHOLE, 0), Some(1));
    // A redesigned claim measured from run 5 on: no run before 5 is taken, whatever the entry
    // holds.
    assert_eq!(next_run(&c13, None, 20, Shard::WHOLE, 5), Some(5));
    assert_eq!(next_run(&c13, e, 30, Shard::WHOLE, 1), Some(1));
    assert_eq!(next_run(&c13, e, 30, Shard::WHOLE, 2), Some(3), "run 2 is done");
    assert_eq!(next_run(&c13, e, 60, first, 1), Some(4), "part 0 of 2 from run 1: the even runs 4, 6, ..");
}

/// Runs add up per claim; a run recorded twice or runs of another case design are refused;
/// shards merge into the same file as one campaign.
#[test]
fn runs_add_up_and_shards_merge() {
    let c13 = claim("C13");
    let runs: Vec<_> = (0..4).map(|j| calibrate_run(&c13, j).unwrap()).collect();
    let mut whole = Calibration::default();
    for r in &runs {
        whole.record(&c13, r).unwrap();
    }
    let e = &whole.claims["C13"];
    assert_eq!(e.runs, vec![(0, 4)]);
    assert_eq!((e.check.cases, e.control.cases), (40, 40));
    // The probe recorded from run 0 is what `probe` recomputes.
    assert_eq!(e.probe, Some(theory_checks::calibration::probe(&c13).unwrap()));
    assert!(whole.record(&c13, &runs[2]).unwrap_err().to_string().contains("recorded twice"));
    // Two shards (even and odd runs) merge into the whole.
    let (mut even, mut odd) = (Calibration::default(), Calibration::default());
    for r in &runs {
        if r.index % 2 == 0 { even.record(&c13, r) } else { odd.record(&c13, r) }.unwrap();
    }
    let mut merged = Calibration::default();
    merged.merge(&even).unwrap();
    merged.merge(&odd).unwrap();
    assert_eq!(merged.claims["C13"].check, whole.claims["C13"].check);
    assert_eq!(merged.claims["C13"].runs, vec![(0, 4)]);
    assert!(merged.merge(&odd).is_err(), "a shard merged twice");
    // Another case design's runs do not add up.
    let changed = theory_checks::Claim { tolerance: "a changed tolerance", ..c13 };
    assert_ne!(fingerprint(&changed), fingerprint(&c13));
    let mut other = Calibration::default();
    other.record(&changed, &calibrate_run(&changed, 9).unwrap()).unwrap();
    assert!(merged.merge(&other).unwrap_err().to_string().contains("two case designs"));
    // The file round-trips; malformed or inconsistent files are refused.
    assert_eq!(Calibration::from_json(&merged.to_json()).unwrap(), merged);
    for bad in [
        "{}",
        r#"{"format": 2, "design": "quick", "claims": {}}"#,
        r#"{"format": 1, "design": "full", "claims": {}}"#,
        &merged.to_json().replace("\"wrong\": 0", "\"wrong\": 99"),
    ] {
        assert!(Calibration::from_json(bad).is_err(), "{bad}");
    }
}

/// A changed claim no longer matches its entry: its verdict is refused (`uncalibrated`), while
/// the unchanged claim is judged with the measured rate.
#[test]
fn a_stale_entry_is_refused() {
    let c13 = claim("C13");
    let mut c = Calibration::default();
    for j in 0..30 {
        c.record(&c13, &calibrate_run(&c13, j).unwrap()).unwrap();
    }
    let fresh = run_with(&c13, Budget::Quick, 5, &c).unwrap();
    assert!(matches!(fresh.calibration, RateSource::Measured { check: (300, 0), .. }), "{:?}", fresh.calibration);
    assert_eq!(fresh.verdict, Verdict::Holds);
    // 0 of 300: the rate bound is 1 - 0.05^(1/300) = 0.00994; of 10 cases two may fail (P(> 1) =
    // 4.2e-3 is above the level 1.92e-4, P(> 2) = 1.1e-4 is not): why the campaign aims at 1000.
    assert!((fresh.evidence.rate - 0.009_936).abs() < 1e-6, "{}", fresh.evidence.rate);
    assert_eq!(fresh.evidence.allowed, 2);
    // The table shows the same allowance.
    let row = theory_checks::calibration::table(&c, std::slice::from_ref(&c13));
    assert!(row.contains("| 2 / 2 of 10 | current |"), "{row}");
    let changed = theory_checks::Claim { cases: (11, 40), ..c13 };
    assert!(matches!(c.status(&changed), Status::Stale { .. }));
    let stale = run_with(&changed, Budget::Quick, 5, &c).unwrap();
    assert_eq!(stale.verdict, Verdict::Uncalibrated);
    assert!(matches!(stale.calibration, RateSource::Stale { .. }));
    // Cases still ran and are reported.
    assert_eq!(stale.evidence.cases, 11);
}

/// The committed calibration parses, and each entry was measured for its claim as it is now (a
/// claim changed since is caught here, before any verdict uses a stale rate).
#[test]
fn the_committed_calibration_is_current() {
    let c = Calibration::embedded().unwrap();
    for claim in registry() {
        if let Some(e) = c.claims.get(claim.id) {
            assert_eq!(e.fingerprint, fingerprint(&claim), "{}: stale calibration entry", claim.id);
            assert_eq!(e.exact, claim.exact, "{}", claim.id);
        }
    }
    assert!(c.claims.keys().all(|id| registry().iter().any(|c| c.id == id)));
}

/// A claim whose check calls into another claim module (C15 into `spectral.rs`, for its
/// population rate) carries that module's code in its fingerprint: a change there stales it.
/// Every claim module whose claim code (its unit tests left out) imports from another has at least
/// one claim that declares it.
#[test]
fn a_change_in_a_module_a_claim_reads_stales_it() {
    let c15 = claim("C15");
    let spectral = include_str!("../src/spectral.rs");
    assert_eq!(c15.reads, [spectral]);
    assert_ne!(fingerprint(&c15), fingerprint(&theory_checks::Claim { reads: &[], ..c15 }));
    let edited = spectral.replacen("fn population_rate(", "fn population_rate_edited(", 1);
    assert_ne!(edited, spectral, "the edit took");
    // `Claim` holds `'static` code; leaking one test string is the simplest way to make one.
    let reads: &'static [&'static str] = Box::leak(Box::new([&*Box::leak(edited.into_boxed_str())]));
    assert_ne!(fingerprint(&c15), fingerprint(&theory_checks::Claim { reads, ..c15 }));
    let claims = registry();
    for claim in &claims {
        if claim.source != spectral && claim_code(claim.source).iter().any(|l| l.contains("crate::spectral::")) {
            let declared = claims.iter().any(|c| c.source == claim.source && c.reads.contains(&spectral));
            assert!(declared, "{}'s module imports from spectral.rs and no claim of it reads it", claim.id);
        }
    }
}

/// A module's trailing unit tests are cut from its claim code, and only when the cut is certain:
/// an edited unit test keeps its claims' fingerprints, an edited line of claim code (above the
/// tests) changes them, and tests followed by code, or braces that do not balance, keep every line.
#[test]
fn unit_tests_are_cut_from_the_fingerprint_only_when_they_end_the_module() {
    let module = "fn a() -> u8 {\n    1\n}\n#[cfg(test)]\nmod tests {\n    #[test]\n    fn t() {\n        assert_eq!(super::a(), 1);\n    }\n}\n\n";
    assert_eq!(claim_code(module), ["fn a() -> u8 {", "    1", "}"]);
    let all = |text: &str| claim_code(text) == text.lines().collect::<Vec<_>>();
    assert!(all(&format!("{module}fn b() {{}}\n")), "code after the tests counts");
    assert!(all(&module.replacen("mod tests {", "mod tests { {", 1)), "unbalanced braces: no cut");
    assert!(all(&module.replacen("mod tests {", "mod other {", 1)), "not the tests module");
    // The claim modules: each one with unit tests has them cut, and only they change nothing.
    let claims = registry();
    let mut cut = 0;
    for claim in &claims {
        let lines = claim.source.lines().count();
        let kept = claim_code(claim.source).len();
        let Some(tests) = claim.source.find("#[cfg(test)]") else {
            assert_eq!(kept, lines, "{}", claim.id);
            continue;
        };
        assert_eq!(claim_code(claim.source).join("\n").trim_end(), claim.source[..tests].trim_end(), "{}", claim.id);
        cut += 1;
        let leak = |s: String| -> &'static str { Box::leak(s.into_boxed_str()) };
        let test_edited =
            leak(format!("{}{}", &claim.source[..tests], claim.source[tests..].replacen("assert!(", "assert!( ", 1)));
        assert_ne!(test_edited, claim.source, "{}: the edit took", claim.id);
        assert_eq!(
            fingerprint(&theory_checks::Claim { source: test_edited, ..*claim }),
            fingerprint(claim),
            "{}",
            claim.id
        );
        let code_edited = leak(format!("const EDITED: u8 = 0;\n{}", claim.source));
        assert_ne!(
            fingerprint(&theory_checks::Claim { source: code_edited, ..*claim }),
            fingerprint(claim),
            "{}",
            claim.id
        );
    }
    assert!(cut >= 3, "exact.rs, trained.rs and uncentred.rs end with unit tests ({cut} claims cut)");
}

/// An entry that began after run 0 gets its probe apart (case 0 of run 0, not counted), the same
/// as run 0 would have recorded; an entry with a probe keeps it.
#[test]
fn an_entry_begun_later_is_probed_apart() {
    let c13 = claim("C13");
    let mut c = Calibration::default();
    assert!(!c.add_probe(&c13).unwrap(), "no entry, nothing to probe");
    c.record(&c13, &calibrate_run(&c13, 3).unwrap()).unwrap();
    assert!(c.claims["C13"].probe.is_none());
    assert!(c.add_probe(&c13).unwrap());
    let e = &c.claims["C13"];
    assert_eq!((e.check.cases, e.run_count()), (10, 1), "the probe is not counted");
    let mut from_zero = Calibration::default();
    from_zero.record(&c13, &calibrate_run(&c13, 0).unwrap()).unwrap();
    assert_eq!(e.probe, from_zero.claims["C13"].probe);
    assert!(!c.add_probe(&c13).unwrap(), "kept");
}

/// The library below the claims has not moved their statistics since they were measured: case 0
/// of calibration run 0 of each measured claim's check and control is recomputed (to 1e-6
/// relative: optimisers may round differently on another machine, a changed sampler, loss or
/// parameter moves the statistic far more).
#[test]
fn the_measured_probes_still_hold() {
    let c = Calibration::embedded().unwrap();
    for claim in registry() {
        let Some(probe) = c.claims.get(claim.id).and_then(|e| e.probe.clone()) else { continue };
        let now = theory_checks::calibration::probe(&claim).unwrap();
        for (role, (was, is)) in [("check", (probe.check, now.check)), ("control", (probe.control, now.control))] {
            let close = (was.0 - is.0).abs() <= 1e-6 * was.0.abs().max(1e-12) || (was.0.is_nan() && is.0.is_nan());
            assert!(close && was.1 == is.1, "{} {role}: recorded {was:?}, now {is:?}", claim.id);
        }
    }
}

/// An entry on fewer than `MIN_CASES` counted cases in a role is still being measured, and a
/// claim without an entry is not measured at all: no rate is assumed in place of a measured one,
/// the cases run and are reported and the verdict is refused; the table says which.
#[test]
fn an_unmeasured_claim_has_no_verdict() {
    let c13 = claim("C13");
    let mut c = Calibration::default();
    let missing = run_with(&c13, Budget::Quick, 5, &c).unwrap();
    assert_eq!(missing.calibration, RateSource::Unmeasured { counted: 0 });
    assert_eq!(missing.verdict, Verdict::Uncalibrated);
    assert!(theory_checks::calibration::table(&c, std::slice::from_ref(&c13)).contains("| missing |"));
    c.record(&c13, &calibrate_run(&c13, 0).unwrap()).unwrap();
    assert!(matches!(c.status(&c13), Status::Incomplete(_)));
    let incomplete = run_with(&c13, Budget::Quick, 5, &c).unwrap();
    // One run: C13's 10 quick cases per role, all resolved and certified.
    assert_eq!(incomplete.calibration, RateSource::Unmeasured { counted: 10 });
    assert_eq!(incomplete.verdict, Verdict::Uncalibrated);
    // The same cases as a measured verdict would judge, with nothing allowed and nothing bounded.
    assert_eq!(incomplete.evidence.cases, 10);
    assert_eq!((incomplete.evidence.allowed, incomplete.error_bound), (0, 0.0));
    assert!(theory_checks::calibration::table(&c, &[c13]).contains("| incomplete |"));
}

/// The chance of a run without a verdict, at the observed rates: some uncertified case
/// (`1 - (1 - q)^n`), or fewer than 5 resolved (`P(Binomial(n, u) > n - 5)`), added up.
#[test]
fn the_no_verdict_chance_follows_the_observed_rates() {
    let tally = |cases, unresolved, not_converged| Tally { cases, wrong: 3, unresolved, not_converged };
    assert_eq!(tally(1000, 0, 0).no_verdict_chance(7), 0.0);
    let uncertified = tally(1000, 0, 2).no_verdict_chance(7);
    assert!((uncertified - (1.0 - 0.998f64.powi(7))).abs() < 1e-12, "{uncertified}");
    // Half the cases unresolved: more than 2 of 7 unresolved with chance 1 - (1 + 7 + 21) / 128.
    let unresolved = tally(100, 50, 0).no_verdict_chance(7);
    assert!((unresolved - (1.0 - 29.0 / 128.0)).abs() < 1e-12, "{unresolved}");
    // Fewer cases than the least resolved count: every case must resolve.
    let few = tally(100, 10, 0).no_verdict_chance(3);
    assert!((few - (1.0 - 0.9f64.powi(3))).abs() < 1e-12, "{few}");
}
