//! Agreement with scikit-learn and SciPy on committed fixtures (tests/fixtures, made by
//! make_fixtures.py). Subspaces are compared by principal angles (sin theta_max < 1e-8: the
//! two implementations solve the same eigenproblems, so they agree to rounding, amplified by
//! the conditioning of S_W), metrics to 1e-10.

use baselines::{Fit, Lda, Pca, Shrinkage, adjusted_rand_index, normalized_mutual_info};
use gmm_core::{LinearMap, Subspace};
use nalgebra::DMatrix;
use serde_json::Value;

fn load(name: &str) -> Value {
    let path = format!("{}/tests/fixtures/{name}.json", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn matrix(v: &Value) -> DMatrix<f64> {
    let rows: Vec<Vec<f64>> = serde_json::from_value(v.clone()).unwrap();
    DMatrix::from_fn(rows.len(), rows[0].len(), |i, j| rows[i][j])
}

fn labels(v: &Value) -> Vec<usize> {
    serde_json::from_value(v.clone()).unwrap()
}

fn sin_between(ours: &DMatrix<f64>, theirs: &DMatrix<f64>) -> f64 {
    let a = LinearMap::new(ours.clone()).row_space().unwrap();
    let b = LinearMap::new(theirs.clone()).row_space().unwrap();
    assert_eq!(a.dim(), b.dim());
    a.sin_theta_max(&b).unwrap()
}

#[test]
fn lda_pca_and_metrics_match_scikit_learn() {
    for name in ["synthetic", "wine"] {
        let f = load(name);
        let (x, y) = (matrix(&f["x"]), labels(&f["y"]));
        let fit = Lda::new().fit((&x, &y)).unwrap();
        let theirs = matrix(&f["lda"]["scalings"]);
        // Compare nested prefixes too: the directions are ordered by eigenvalue in both.
        for r in 1..=theirs.nrows() {
            let sin = sin_between(&fit.map.components().rows(0, r).into_owned(), &theirs.rows(0, r).into_owned());
            assert!(sin < 1e-8, "{name} LDA top-{r}: sin {sin:e}");
        }
        let ratio: Vec<f64> = serde_json::from_value(f["lda"]["explained_variance_ratio"].clone()).unwrap();
        for (a, b) in fit.explained_variance_ratio.iter().zip(&ratio) {
            assert!((a - b).abs() < 1e-10, "{name} LDA ratio {a} vs {b}");
        }
        let lw = Lda::new().shrinkage(Shrinkage::LedoitWolf).fit((&x, &y)).unwrap();
        let expected = f["ledoit_wolf_mean"].as_f64().unwrap();
        assert!((lw.shrinkage_used - expected).abs() < 1e-10, "{name} Ledoit-Wolf {} vs {expected}", lw.shrinkage_used);
        let pca = Pca::new(3).fit(&x).unwrap();
        let theirs = matrix(&f["pca"]["components"]);
        for r in 1..=3 {
            let sin = sin_between(&pca.map.components().rows(0, r).into_owned(), &theirs.rows(0, r).into_owned());
            assert!(sin < 1e-8, "{name} PCA top-{r}: sin {sin:e}");
        }
        let ratio: Vec<f64> = serde_json::from_value(f["pca"]["explained_variance_ratio"].clone()).unwrap();
        for (a, b) in pca.explained_variance_ratio.iter().zip(&ratio) {
            assert!((a - b).abs() < 1e-10);
        }
        for case in f["clustering"].as_array().unwrap() {
            let pred = labels(&case["pred"]);
            let ari = adjusted_rand_index(&y, &pred).unwrap();
            let nmi = normalized_mutual_info(&y, &pred).unwrap();
            assert!((ari - case["ari"].as_f64().unwrap()).abs() < 1e-10, "{name} ARI {ari}");
            assert!((nmi - case["nmi"].as_f64().unwrap()).abs() < 1e-10, "{name} NMI {nmi}");
        }
    }
}

#[test]
fn principal_angles_match_scipy() {
    let f = load("angles");
    for case in f["cases"].as_array().unwrap() {
        let a = Subspace::from_columns(&matrix(&case["a"]), 1e-12).unwrap();
        let b = Subspace::from_columns(&matrix(&case["b"]), 1e-12).unwrap();
        let ours = a.principal_angles(&b).unwrap();
        let theirs: Vec<f64> = serde_json::from_value(case["angles"].clone()).unwrap();
        assert_eq!(ours.len(), theirs.len());
        for (x, y) in ours.iter().zip(&theirs) {
            assert!((x - y).abs() < 1e-10 * y.max(1e-3), "{ours:?} vs {theirs:?}");
        }
    }
}
