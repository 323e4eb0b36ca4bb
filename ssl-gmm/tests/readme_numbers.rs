//! Every number README's `train` paragraph quotes is what the tool gives today: each is
//! recomputed here by the command README names and looked up in README as the tool prints it
//! (three significant digits). A change that moves a number fails this test until README says
//! the new one.

use std::process::Command;

use gmm_core::Sig3;
use serde_json::Value;

fn train(args: &[&str]) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_ssl-gmm"))
        .arg("train")
        .args(args)
        .args(["--json", "--seed", "0"])
        .output()
        .expect("ssl-gmm runs");
    assert!(out.status.success() || out.status.code() == Some(5), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("JSON on standard output")
}

fn sig3(v: &Value) -> String {
    Sig3(v.as_f64().expect("a number")).to_string()
}

#[test]
fn readme_quotes_the_numbers_train_gives_today() {
    let readme = include_str!("../../README.md").replace('\n', " ");
    let says = |text: String| assert!(readme.contains(&text), "README should say: {text}");

    let infonce = train(&["--preset", "pca-trap"]);
    says(format!(
        "certifies in {} iterations at `sin theta_max = {}`",
        infonce["steps"],
        sig3(&infonce["sin_theta_max_fisher"])
    ));
    says(format!("while PCA's is {}", sig3(&infonce["sin_theta_max_pca"])));
    let more = train(&["--preset", "pca-trap", "--samples", "32768"]);
    says(format!("(`{}` with `--samples 32768`)", sig3(&more["sin_theta_max_fisher"])));

    let sin_to_optimum = |v: &Value| sig3(&v["whitened_certificate"]["sin_to_optimum"]);
    let trap = train(&["--preset", "pca-trap", "--method", "simsiam-whitened"]);
    says(format!("on `pca-trap` `{}` after {} steps", sin_to_optimum(&trap), trap["steps"]));
    let aniso = train(&["--preset", "anisotropic", "--method", "simsiam-whitened"]);
    says(format!("on `anisotropic` `{}` after {}", sin_to_optimum(&aniso), aniso["steps"]));
    let short = train(&["--preset", "anisotropic", "--method", "simsiam-whitened", "--steps", "2000"]);
    says(format!("(`{}` on `anisotropic`)", sin_to_optimum(&short)));

    let plain = train(&["--preset", "pca-trap", "--method", "simsiam"]);
    assert_eq!(plain["map_state"], "collapsed", "README: plain SimSiam is collapsed after 2000 steps at seed 0");
    let longer = train(&["--preset", "pca-trap", "--method", "simsiam", "--steps", "10000"]);
    says(format!("`sin theta_max` `{}` after `--steps 10000`", sig3(&longer["sin_theta_max_fisher"])));
}
