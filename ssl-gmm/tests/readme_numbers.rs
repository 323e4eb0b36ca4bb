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

/// The methods of each column of README's quick-run table (CLIP's experiment has two maps).
fn columns(experiment: &str) -> [Vec<&'static str>; 5] {
    if experiment == "E6" {
        [vec!["CLIP map A (x)", "CLIP map B (y)"], vec![], vec!["CCA map A (x)", "CCA map B (y)"], vec![], vec![]]
    } else {
        [vec!["InfoNCE"], vec!["SimSiam-whitened, epochs"], vec!["CCA"], vec!["PCA"], vec!["LDA"]]
    }
}

#[test]
fn readme_quick_table_is_the_committed_quick_run() {
    let summary: Value =
        serde_json::from_str(include_str!("../../docs/quick/summary.json")).expect("docs/quick/summary.json");
    let readme = include_str!("../../README.md");
    let table: Vec<&str> = readme
        .lines()
        .skip_while(|l| !l.starts_with("| experiment | InfoNCE (certified)"))
        .skip(2)
        .take_while(|l| l.starts_with("| E"))
        .collect();
    assert!(table.len() >= 8, "README's quick-run table: {table:?}");
    // E4's slopes as the committed report states them (the plot's legend has the same).
    let report = include_str!("../../docs/quick/report.md");
    let sentence = report.lines().find(|l| l.starts_with("Log-log slopes")).expect("E4's sentence in report.md");
    let slope = |name: &str| -> String {
        let after = sentence.split(&format!(" {name} ")).nth(1).expect("the method in E4's sentence");
        after.split(',').next().unwrap_or("").trim_end_matches('.').to_string()
    };
    let quoted = format!(
        "(quick run: InfoNCE {}, CCA {}, LDA {}, PCA {})",
        slope("InfoNCE"),
        slope("CCA"),
        slope("LDA"),
        slope("PCA")
    );
    assert!(readme.replace('\n', " ").contains(&quoted), "README should say: {quoted}");
    for line in table {
        let cells: Vec<&str> = line.trim_matches('|').split('|').map(str::trim).collect();
        let (id, setting) = cells[0].split_once(' ').expect("experiment and setting");
        let methods = &summary[id]["methods"];
        for (cell, names) in cells[1..].iter().zip(columns(id)) {
            let values: Vec<&str> = cell.split(" / ").filter(|v| !v.is_empty()).collect();
            if values.is_empty() {
                continue;
            }
            assert_eq!(values.len(), names.len(), "{line}");
            for (value, name) in values.iter().zip(&names) {
                let points = methods[*name].as_array().unwrap_or_else(|| panic!("{id}: no {name} in summary.json"));
                let point = points
                    .iter()
                    .find(|p| {
                        let label = p["label"].as_str().unwrap_or("\u{0}");
                        setting == label || setting.starts_with(&format!("{label} ("))
                    })
                    .unwrap_or_else(|| panic!("{id}: no setting {setting:?} for {name}"));
                let mean = point["mean"].as_f64().expect("a mean");
                assert_eq!(*value, format!("{mean:.3}"), "README {id} {setting} {name}: docs/quick says {mean:.3}");
            }
        }
    }
}

#[test]
fn readme_bench_numbers_are_in_the_bench_table() {
    let readme = include_str!("../../README.md");
    let bench = include_str!("../../bench/README.md");
    let section = readme.split("## Numbers").nth(1).expect("README's Numbers section");
    let section = section.split("\n## ").next().unwrap_or(section);
    let numbers: Vec<&str> = section
        .split(|c: char| c.is_whitespace() || matches!(c, '(' | ')' | ',' | ';'))
        // Measured values: ratios (`2.10x`), percentages (`46%`) and decimals (`74.6`).
        .filter(|t| {
            let value = t.trim_end_matches(['x', '%']);
            value.parse::<f64>().is_ok() && !value.ends_with('.') && (value.contains('.') || t.ends_with('%'))
        })
        .collect();
    assert!(numbers.len() >= 10, "{numbers:?}");
    for n in numbers {
        assert!(bench.contains(n), "README quotes {n}, which bench/README.md does not have");
    }
}

/// README's zoo table is what `ssl-gmm zoo --quick` prints today, line for line.
#[test]
fn readme_shows_the_zoo_table_of_the_quick_run() {
    let out =
        Command::new(env!("CARGO_BIN_EXE_ssl-gmm")).args(["zoo", "--quick", "--quiet"]).output().expect("ssl-gmm runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let printed = String::from_utf8(out.stdout).unwrap();
    let table: Vec<&str> = printed.lines().filter(|l| l.starts_with('|')).collect();
    assert!(table.len() >= 3, "{printed}");
    let readme = include_str!("../../README.md");
    let start = readme.lines().position(|l| l == table[0]).expect("README has the zoo table's header");
    let shown: Vec<&str> = readme.lines().skip(start).take_while(|l| l.starts_with('|')).collect();
    assert_eq!(shown, table, "README's zoo table differs from `ssl-gmm zoo --quick`");
}
