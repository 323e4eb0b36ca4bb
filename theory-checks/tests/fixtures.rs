//! Claim C5's fixture comparison (docs/theory.md 5.5): the loss values and gradients of InfoNCE,
//! SimSiam and CLIP against a separate implementation, JAX autodiff in float64
//! (tests/fixtures/make_fixtures.py; committed output, so no Python is needed here). The
//! reparametrisation identity alone holds for any loss of `X A^T`, so it cannot catch a wrong
//! loss; this can. Tolerance: both sides compute the same float64 expressions in different
//! orders, so they agree to a few hundred ulps of the largest term: 1e-11 relative.

use nalgebra::DMatrix;
use serde_json::Value;
use ssl_losses::{Batch, ClipLoss, Directions, Form, InfoNceLoss, Objective, Score, SimSiamForm, SimSiamLoss};

fn matrix(v: &Value) -> DMatrix<f64> {
    let rows: Vec<Vec<f64>> = serde_json::from_value(v.clone()).unwrap();
    DMatrix::from_fn(rows.len(), rows[0].len(), |i, j| rows[i][j])
}

fn relative(ours: &DMatrix<f64>, theirs: &DMatrix<f64>) -> f64 {
    (ours - theirs).amax() / theirs.amax().max(1e-300)
}

#[test]
fn losses_and_gradients_match_jax() {
    let path = format!("{}/tests/fixtures/losses.json", env!("CARGO_MANIFEST_DIR"));
    let fixture: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut compared = 0;
    for case in fixture["cases"].as_array().unwrap() {
        let tau = case["tau"].as_f64().unwrap();
        let (x, xp, y) = (matrix(&case["x"]), matrix(&case["x_plus"]), matrix(&case["y"]));
        let (a, b, w) = (matrix(&case["a"]), matrix(&case["b"]), matrix(&case["w"]));
        for l in case["losses"].as_array().unwrap() {
            let name = |key: &str| l[key].as_str().unwrap_or("").to_string();
            let score = || name("score").parse::<Score>().unwrap();
            let (mut objective, params, right): (Box<dyn Objective>, Vec<DMatrix<f64>>, &DMatrix<f64>) =
                match name("loss").as_str() {
                    "infonce" => {
                        let form: Form = name("form").parse().unwrap();
                        (Box::new(InfoNceLoss::new(tau, form, score()).unwrap()), vec![a.clone()], &xp)
                    }
                    "simsiam" => {
                        let form: SimSiamForm = name("form").parse().unwrap();
                        let directions: Directions = name("directions").parse().unwrap();
                        (Box::new(SimSiamLoss::new(form, directions)), vec![a.clone(), w.clone()], &xp)
                    }
                    "clip" => (Box::new(ClipLoss::new(tau, score()).unwrap()), vec![a.clone(), b.clone()], &y),
                    other => panic!("unknown loss {other}"),
                };
            let mut grads: Vec<DMatrix<f64>> = params.iter().map(|p| DMatrix::zeros(p.nrows(), p.ncols())).collect();
            let value = objective.value_grad(&params, Batch::new(&x, right).unwrap(), &mut grads).unwrap();
            let expected = l["value"].as_f64().unwrap();
            let what = format!("{} tau {tau}", l);
            assert!((value - expected).abs() <= 1e-11 * expected.abs().max(1.0), "{what}: value {value} vs {expected}");
            for (g, theirs) in grads.iter().zip(l["grads"].as_array().unwrap()) {
                let err = relative(g, &matrix(theirs));
                assert!(err <= 1e-11, "{what}: gradient relative error {err:e}");
            }
            compared += 1;
        }
    }
    assert_eq!(compared, 4 * 12, "every loss of every case compared");
}
