//! The quick budget of every claim: the check must pass and its negative control must fail.
//! Seeds are fixed (20241105); statistical checks state their error rates in their details.

use theory_checks::{Budget, registry, run};

const SEED: u64 = 20_241_105;

fn check(id: &str) {
    let claim = registry().into_iter().find(|c| c.id == id).expect("registered");
    let outcome = run(&claim, Budget::Quick, SEED).unwrap();
    eprintln!("{id}: {:#?}", outcome);
    assert!(outcome.evidence.passed, "{id} failed: {}", outcome.evidence.details);
    assert!(!outcome.control.passed, "{id}'s control passed but must fail: {}", outcome.control.details);
}

macro_rules! claims {
    ($($name:ident => $id:literal),* $(,)?) => {
        $(#[test] fn $name() { check($id); })*
    };
}

claims! {
    c01 => "C1", c02 => "C2", c03 => "C3", c04 => "C4", c05 => "C5", c06 => "C6", c07 => "C7",
    c08 => "C8", c09 => "C9", c10 => "C10", c11 => "C11", c12 => "C12", c13 => "C13", c14 => "C14",
}

#[test]
fn registry_is_complete_and_ordered() {
    let ids: Vec<&str> = registry().iter().map(|c| c.id).collect();
    let expected: Vec<String> = (1..=14).map(|i| format!("C{i}")).collect();
    assert_eq!(ids, expected);
}
