//! The harness of the claims: the registry, case seeds, the pass-count rule of docs/theory.md
//! 5.1, claim selection, and one exact claim run end to end. The suite
//! itself runs once per master seed through `ssl-gmm check --quick` (CI runs it at two master
//! seeds), not again claim by claim here.

use theory_checks::{Budget, Role, Verdict, allowed_failures, case_seed, registry, run, select};

const SEED: u64 = 20_241_105;

fn check(id: &str) {
    let claim = registry().into_iter().find(|c| c.id == id).expect("registered");
    let outcome = run(&claim, Budget::Quick, SEED).unwrap();
    let (e, c) = (&outcome.evidence, &outcome.control);
    assert_eq!((e.role, c.role), (Role::Check, Role::Control));
    assert!(e.cases >= 5 && c.cases >= 5, "{id}: at least 5 cases in the quick run");
    assert_eq!(outcome.verdict, Verdict::Holds, "{id}: {e:#?}\ncontrol: {c:#?}");
}

/// One exact claim through `run`: cases, roles and the verdict (rounding tolerances: it cannot
/// fail by chance).
#[test]
fn an_exact_claim_runs_end_to_end() {
    check("C2");
}

#[test]
fn registry_is_complete_ordered_and_sized() {
    let claims = registry();
    let ids: Vec<&str> = claims.iter().map(|c| c.id).collect();
    let expected: Vec<String> = (1..=24).map(|i| format!("C{i}")).collect();
    assert_eq!(ids, expected);
    for c in &claims {
        assert!(c.cases.0 >= 5 && c.cases.1 >= 20, "{}: cases {:?}", c.id, c.cases);
    }
    // The exact identities (rounding tolerances only): no rate.
    let exact: Vec<&str> = claims.iter().filter(|c| c.exact).map(|c| c.id).collect();
    assert_eq!(exact, ["C1", "C2", "C5", "C14", "C17"]);
}

#[test]
fn case_seeds_differ_across_claims_cases_and_masters() {
    let mut seen = std::collections::HashSet::new();
    for master in [0, 1, 2, SEED] {
        for id in ["C1", "C1/control", "C2", "C15"] {
            for case in 0..50 {
                assert!(seen.insert(case_seed(master, id, case)), "collision at {master} {id} {case}");
            }
        }
    }
    assert_eq!(case_seed(7, "C4", 3), case_seed(7, "C4", 3));
}

#[test]
fn allowed_failures_follow_the_binomial_tail() {
    let claims = registry();
    let by_id = |id: &str| claims.iter().find(|c| c.id == id).unwrap();
    // 19 statistical claims, a check and a control each; C10's at weight 8: 36 + 16 = 52 units.
    assert_eq!(theory_checks::statistical_tests(), 38);
    assert_eq!(theory_checks::level_units(), 52);
    let level = theory_checks::test_level(by_id("C4"));
    assert!((level - 1e-2 / 52.0).abs() < 1e-15);
    let costly = theory_checks::test_level(by_id("C10"));
    assert!((costly - 8e-2 / 52.0).abs() < 1e-15);
    // The levels add up to the family-wise error.
    let total: f64 = claims.iter().filter(|c| !c.exact).map(|c| 2.0 * theory_checks::test_level(c)).sum();
    assert!((total - 1e-2).abs() < 1e-15, "{total}");
    // C10: rate 8.5e-3 (no failure in 350 cases): P(> 1 of 7) = 1.48e-3 <= 1.54e-3.
    assert_eq!(allowed_failures(7, 8.5e-3, costly), 1);
    assert_eq!(allowed_failures(7, 8.5e-3, level), 2);
    // Exact identities: nothing may fail.
    assert_eq!(allowed_failures(10, 0.0, level), 0);
    // Rate 3e-3 (no failure in 1000 cases): P(> 0 of 7) = 2.1e-2, P(> 1 of 7) = 1.87e-4 <= 1.92e-4.
    assert_eq!(allowed_failures(7, 3e-3, level), 1);
    // Rate 1e-2 (no failure in 300 cases): P(> 1 of 7) = 2.0e-3 > level, P(> 2 of 7) = 3.4e-5.
    assert_eq!(allowed_failures(7, 1e-2, level), 2);
    let p = theory_checks::false_rejection(7, 1e-2, 2);
    assert!((p - 3.39e-5).abs() < 1e-6, "{p}");
    assert_eq!(theory_checks::false_rejection(7, 0.0, 0), 0.0);
}

#[test]
fn selection_rejects_unknown_and_empty() {
    let ids = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert!(select(Some(&ids(&["c4", " C7 "])), None).is_ok_and(|c| c.len() == 2));
    for bad in [vec![], vec![""], vec!["C25"], vec!["x"]] {
        let e = select(Some(&ids(&bad)), None).unwrap_err().to_string();
        assert!(e.contains("claim"), "{e}");
        let e = select(None, Some(&ids(&bad))).unwrap_err().to_string();
        assert!(e.contains("claim"), "{e}");
    }
    let all = select(None, None).unwrap();
    assert_eq!(all.len(), 24);
    // Skipping keeps registry order and leaves out exactly the skipped claims, from all claims or
    // from a selection.
    let kept: Vec<&str> = select(None, Some(&ids(&["c10", "C7"]))).unwrap().iter().map(|c| c.id).collect();
    let expected: Vec<&str> = all.iter().map(|c| c.id).filter(|id| !["C7", "C10"].contains(id)).collect();
    assert_eq!(kept, expected);
    let kept: Vec<&str> =
        select(Some(&ids(&["C9", "C2", "C4"])), Some(&ids(&["C4"]))).unwrap().iter().map(|c| c.id).collect();
    assert_eq!(kept, ["C2", "C9"]);
    // Skipping a claim the selection leaves out changes nothing: a likely typo, refused; so is
    // skipping everything.
    let e = select(Some(&ids(&["C1"])), Some(&ids(&["C2"]))).unwrap_err().to_string();
    assert!(e.contains("C2 is skipped but not selected"), "{e}");
    let e = select(Some(&ids(&["C1"])), Some(&ids(&["c1"]))).unwrap_err().to_string();
    assert!(e.contains("nothing to run"), "{e}");
}

/// A VICReg minimiser whose row sits just inside its variance hinges' active side (both views'
/// hinges active, variance 0.9936): L-BFGS stalled at the kink and the polish that holds rows on
/// their kink stopped there too (relative subgradient 3.7e-4, so C20 was not certified at master
/// seed 107729226); a fresh run from the held point reaches the minimum below it.
#[test]
fn vicreg_minimum_inside_the_active_hinges_is_certified() {
    let ctx = theory_checks::Ctx { budget: theory_checks::Budget::Quick, seed: 14_329_023_650_865_752_957, index: 6 };
    let case = theory_checks::zoo::c20(&ctx).unwrap();
    assert!(case.converged && case.passed, "{}", case.note);
}

/// Controls decide only where they can show the effect they stand for (docs/theory.md 5.5): the
/// two C23 control cases the calibration counted as rows in `F` (weakly determined raw fixed
/// points, tolerances 6.6e-3 and 1.9e-3 against biases 3.4e-3 and 4.1e-4) are unresolved, and
/// the C4 control case it counted as in `F` (floor 0.093, map 0.276 off `F`: ratio 2.95) draws
/// pairs until its floor is a sixth of the effect and then lands far off `F`.
#[test]
fn controls_that_cannot_show_their_effect_are_not_decided() {
    use theory_checks::{Ctx, calibration::calibration_master};
    let ctx = |run: u64, id: &str, index: usize| Ctx {
        budget: Budget::Quick,
        seed: case_seed(calibration_master(run), &format!("{id}/control"), index),
        index,
    };
    for run in [60, 126] {
        let case = theory_checks::zoo::c23_control(&ctx(run, "C23", 4)).unwrap();
        assert!(!case.resolved && !case.passed, "C23 run {run}: {}", case.note);
        assert!(case.note.contains("this fixed point cannot show it"), "{}", case.note);
    }
    let case = theory_checks::spectral::c4_control(&ctx(8, "C4", 4)).unwrap();
    assert!(case.resolved && !case.passed, "{}", case.note);
    assert!(case.statistic > 2.0 * 3.0, "the ratio {} is not half-way from F", case.statistic);
    assert!(!case.note.contains("n 20000:"), "the anchor drew no more pairs: {}", case.note);
}
