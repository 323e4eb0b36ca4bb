//! The harness of the claims: the registry, case seeds, the pass-count rule of docs/theory.md
//! 5.1, claim selection, the equivalence test, and one exact claim run end to end. The suite
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
        assert!((0.0..0.01).contains(&c.alpha_case), "{}", c.id);
    }
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
    let level = theory_checks::FAMILY_WISE_ERROR / theory_checks::registry().len() as f64;
    // Exact identities: nothing may fail.
    assert_eq!(allowed_failures(10, 0.0, level), 0);
    // alpha 1e-3: P(>= 1 of 5) = 5e-3 > level, P(>= 2 of 5) = 1e-5 <= level.
    assert_eq!(allowed_failures(5, 1e-3, level), 1);
    // 20 cases: P(>= 2) = 1.9e-4 > level, P(>= 3) = 1.1e-6 <= level.
    assert_eq!(allowed_failures(20, 1e-3, level), 2);
}

#[test]
fn selection_rejects_unknown_and_empty() {
    assert!(select(Some(&["c4".to_string(), " C7 ".to_string()])).is_ok_and(|c| c.len() == 2));
    for bad in [vec![], vec![String::new()], vec!["C25".to_string()], vec!["x".to_string()]] {
        let e = select(Some(&bad)).unwrap_err().to_string();
        assert!(e.contains("claim"), "{e}");
    }
    assert_eq!(select(None).unwrap().len(), 24);
}

#[test]
fn tost_needs_gaps_inside_the_margin() {
    use theory_checks::trained::tost;
    let level = theory_checks::FAMILY_WISE_ERROR / theory_checks::registry().len() as f64;
    let small: Vec<f64> = (0..12).map(|i| 0.002 * ((i % 3) as f64 - 1.0)).collect();
    assert!(tost(&small, level).0);
    let shifted: Vec<f64> = small.iter().map(|g| g + 0.03).collect();
    assert!(!tost(&shifted, level).0);
    let noisy: Vec<f64> = (0..12).map(|i| 0.05 * ((i % 2) as f64 * 2.0 - 1.0)).collect();
    assert!(!tost(&noisy, level).0);
    assert!(!tost(&[0.0], level).0);
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
