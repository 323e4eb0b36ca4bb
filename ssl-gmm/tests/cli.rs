//! End-to-end tests of the `ssl-gmm` binary.

use std::process::Command;

fn ssl_gmm(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_ssl-gmm")).args(args).output().expect("binary runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn temp_path(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("ssl-gmm-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

#[test]
fn describe_shows_pca_failing_on_the_trap() {
    let (ok, stdout, _) = ssl_gmm(&["describe", "--preset", "pca-trap", "--json"]);
    assert!(ok);
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert!(v["pca_vs_fisher_sin_theta_max"].as_f64().unwrap() > 0.99);
    let (ok, stdout, _) = ssl_gmm(&["describe", "--preset", "isotropic", "--json"]);
    assert!(ok);
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert!(v["pca_vs_fisher_sin_theta_max"].as_f64().unwrap() < 1e-10);
}

#[test]
fn sample_writes_csv_with_header_and_labels() {
    let write = |name: &str| {
        let path = temp_path(name);
        let args = ["sample", "--preset", "textbook", "--n", "7", "--delta", "1", "--seed", "3", "--out"];
        let (ok, _, stderr) = ssl_gmm(&[&args[..], &[path.to_str().unwrap()]].concat());
        assert!(ok, "{stderr}");
        path
    };
    let path = write("pairs.csv");
    let text = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "x0,x1,xp0,xp1,z,z_plus");
    assert_eq!(lines.len(), 8);
    // delta = 1: every positive shares its anchor's component.
    for line in &lines[1..] {
        let f: Vec<&str> = line.split(',').collect();
        assert_eq!(f[4], f[5]);
    }
    // Same seed, same bytes.
    assert_eq!(std::fs::read(&path).unwrap(), std::fs::read(write("pairs2.csv")).unwrap());
    // `--out -`: the same CSV on standard output, the summary on standard error, no file named -.
    let args = ["sample", "--preset", "textbook", "--n", "7", "--delta", "1", "--seed", "3", "--out", "-"];
    let (ok, stdout, stderr) = ssl_gmm(&args);
    assert!(ok && stderr.contains("to standard output"), "{stderr}");
    assert_eq!(stdout, text);
}

#[test]
fn sample_writes_npy() {
    let path = temp_path("pairs.npy");
    let (ok, _, stderr) = ssl_gmm(&["sample", "--preset", "clip", "--n", "4", "--out", path.to_str().unwrap()]);
    assert!(ok, "{stderr}");
    let bytes = std::fs::read(&path).unwrap();
    let npy = npyz::NpyFile::new(&bytes[..]).unwrap();
    assert_eq!(npy.shape(), &[4, 8 + 6 + 3]);
    let data: Vec<f64> = npy.into_vec().unwrap();
    assert!(data.iter().all(|v| v.is_finite()));
}

#[test]
fn errors_are_one_clear_line() {
    for args in [
        vec!["describe", "--preset", "nope"],
        vec!["sample", "--preset", "isotropic", "--delta", "1.5", "--out", "/tmp/x.csv"],
        vec!["sample", "--preset", "isotropic", "--out", "/tmp/x.txt"],
        vec!["describe", "--config", "/nonexistent.json"],
    ] {
        let (ok, _, stderr) = ssl_gmm(&args);
        assert!(!ok, "{args:?} should fail");
        assert!(stderr.starts_with("error: "), "{stderr}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
        assert!(!stderr.contains("panicked"));
    }
    let bad = temp_path("bad.json");
    std::fs::write(&bad, r#"{"weights":[0.5,0.5],"means":[[0,0],[1,1]],"covariance":[[1,2],[2,1]]}"#).unwrap();
    let (ok, _, stderr) = ssl_gmm(&["describe", "--config", bad.to_str().unwrap()]);
    assert!(!ok && stderr.contains("not positive definite"), "{stderr}");
}

#[test]
fn train_recovers_fisher_on_the_pca_trap_with_defaults() {
    let (ok, stdout, stderr) =
        ssl_gmm(&["train", "--preset", "pca-trap", "--method", "infonce", "--samples", "32768", "--json"]);
    assert!(ok, "{stderr}");
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    for key in [
        "method",
        "final_loss",
        "steps",
        "sin_theta_max_fisher",
        "sin_theta_max_pca",
        "components",
        "converged",
        "certificate",
        "hyperparameters",
    ] {
        assert!(v.get(key).is_some(), "missing {key}");
    }
    assert_eq!(v["converged"], true, "{v}");
    assert!(v["certificate"]["relative"].as_f64().unwrap() <= 1e-5);
    assert_eq!(v["hyperparameters"]["samples"], 32768);
    // A label-free fit on n = 32768 pairs has a sample error of order n^{-1/2} (E4 measures
    // 0.03-0.05 for CCA and InfoNCE at n = 32000); PCA's is 1.
    assert!(v["sin_theta_max_fisher"].as_f64().unwrap() < 0.05, "{v}");
    assert!(v["pca_sin_theta_max_fisher"].as_f64().unwrap() > 0.99);
    assert!(stderr.is_empty(), "no progress bar when piped: {stderr}");
}

#[test]
fn train_says_when_a_fixed_sample_has_no_minimiser() {
    // Two pairs in 10 dimensions: the loss falls toward 0 as the map grows, with a vanishing
    // gradient; this used to print "certified".
    let (ok, stdout, stderr) =
        ssl_gmm(&["train", "--preset", "pca-trap", "--method", "infonce", "--samples", "2", "--batch", "2", "--json"]);
    assert!(ok, "{stderr}");
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["converged"], false, "{v}");
    assert_eq!(v["certificate"]["no_minimiser"], true, "{v}");
    assert!(stderr.contains("no") && stderr.contains("minimiser") && stderr.contains("--samples"), "{stderr}");
}

#[test]
fn train_rejects_bad_settings_in_one_line() {
    for extra in [
        vec!["--dim", "0"],
        vec!["--dim", "11"],
        vec!["--tau", "0"],
        vec!["--tau", "-1"],
        vec!["--stream", "--lr", "0"],
        vec!["--samples", "1"],
        vec!["--tol", "0"],
        vec!["--method", "simsiam", "--no-whiten"],
        vec!["--optimizer", "sgd"],
        vec!["--batch", "1"],
        vec!["--delta", "2"],
        vec!["--method", "clip"],
    ] {
        let mut args = vec!["train", "--preset", "pca-trap", "--steps", "5"];
        args.extend(&extra);
        let (ok, _, stderr) = ssl_gmm(&args);
        assert!(!ok, "{extra:?} should fail");
        assert!(stderr.starts_with("error: ") && stderr.trim_end().lines().count() == 1, "{extra:?}: {stderr}");
    }
}

fn data_file(name: &str) -> String {
    format!("{}/../experiments/data/{name}", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn fit_lda_on_wine_separates_the_cultivars() {
    let out = temp_path("wine-lda.json");
    let wine = data_file("wine.csv");
    let (ok, _, stderr) = ssl_gmm(&[
        "fit",
        "--method",
        "lda",
        "--data",
        &wine,
        "--labels-col",
        "last",
        "--evaluate",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(ok, "{stderr}");
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert_eq!(v["method"], "lda");
    assert_eq!(v["dim"], 2);
    assert_eq!(v["components"].as_array().unwrap().len(), 2);
    assert_eq!(v["components"][0].as_array().unwrap().len(), 13);
    assert_eq!(v["mean"].as_array().unwrap().len(), 13);
    assert!(v["evaluation"]["ari"].as_f64().unwrap() > 0.9, "{v}");
    assert!(stderr.contains("ARI"));
}

#[test]
fn fit_reports_bad_files_by_line_and_column() {
    let cases = [
        ("bad.csv", "1,2,3\n4,x,6\n", "line 2, column 2"),
        ("ragged.csv", "1,2,3\n4,5\n", "line 2 has 2 fields"),
        ("empty.csv", "", "no data rows"),
        ("nan.csv", "1,2,0\nNaN,4,1\n", "line 2, column 1"),
        ("oneclass.csv", "1,2,0\n3,4,0\n5,7,0\n", "classes"),
    ];
    for (name, text, expected) in cases {
        let path = temp_path(name);
        std::fs::write(&path, text).unwrap();
        let (ok, _, stderr) =
            ssl_gmm(&["fit", "--method", "lda", "--data", path.to_str().unwrap(), "--labels-col", "last"]);
        assert!(!ok, "{name} should fail");
        assert!(stderr.contains(expected) && stderr.trim_end().lines().count() == 1, "{name}: {stderr}");
    }
    let wine = data_file("wine.csv");
    let (ok, _, stderr) = ssl_gmm(&["fit", "--method", "lda", "--data", &wine, "--labels-col", "last", "--dim", "5"]);
    assert!(!ok && stderr.contains("n_components"), "{stderr}");
}

#[test]
fn check_prints_evidence_and_rejects_unknown_claims() {
    let (ok, stdout, stderr) = ssl_gmm(&["check", "--quick", "--claims", "C1,c2,c5", "--skip", "C2", "--json"]);
    assert!(ok, "{stderr}");
    let lines: Vec<serde_json::Value> = stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[1]["id"], "C5");
    // The verdict travels in the JSON, spelled as in the table, Python and docs/theory.md.
    assert!(lines.iter().all(|l| l["verdict"] == "holds"), "{stdout}");
    let (e, c) = (&lines[0]["evidence"], &lines[0]["control"]);
    assert_eq!((e["as_required"].as_bool(), c["as_required"].as_bool()), (Some(true), Some(true)));
    assert_eq!(
        (e["passed_cases"].as_u64(), e["cases"].as_u64(), c["passed_cases"].as_u64()),
        (Some(10), Some(10), Some(0))
    );
    assert_eq!(e["per_case"].as_array().map(Vec::len), Some(10));
    for (args, expected) in [
        (vec!["check", "--claims", "C99"], "unknown claim 'C99'"),
        (vec!["check", "--claims", ""], "no claims selected"),
        (vec!["check", "--skip", "C0"], "unknown claim 'C0'"),
        (vec!["check", "--claims", "C1", "--skip", "C2"], "C2 is skipped but not selected"),
        (vec!["check", "--seed", "-1"], "--seed"),
        (vec!["check", "--seed", "18446744073709551616"], "--seed"),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_ssl-gmm")).args(&args).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
    }
}

#[test]
fn a_closed_pipe_ends_quietly() {
    use std::process::Stdio;
    let mut child = Command::new(env!("CARGO_BIN_EXE_ssl-gmm"))
        .args(["describe", "--preset", "clip", "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take()); // the reader goes away before the output is written
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn reproduce_writes_everything_and_shards_merge_to_the_same_rows() {
    let config = temp_path("tiny-sweeps.json");
    std::fs::write(
        &config,
        r#"{"seeds": 1, "steps": 40, "batch": 64, "samples": 600, "k": 3, "d": 6,
            "e1_conditions": [1, 100], "e2_deltas": [1, 0], "e3_dims": [6, 8], "e4_samples": [600, 1200],
            "e5_ranks": [1, 3], "e6_pairs": [300, 600], "e7_datasets": ["wine"],
            "e8_pairs_per_image": 1}"#,
    )
    .unwrap();
    let cfg = config.to_str().unwrap();
    let whole = temp_path("reproduce-whole");
    let (ok, _, stderr) = ssl_gmm(&["reproduce", "--config", cfg, "--out", whole.to_str().unwrap(), "--quiet"]);
    assert!(ok, "{stderr}");
    let stems = [
        "e1_variance",
        "e2_augmentation_noise",
        "e3_dimension",
        "e4_sample_size",
        "e5_output_dimension",
        "e6_clip",
        "e7_real_data",
        "e8_augmented_digits",
    ];
    for stem in stems {
        for ext in ["csv", "svg"] {
            assert!(whole.join(format!("{stem}.{ext}")).exists(), "{stem}.{ext} missing");
        }
    }
    let report = std::fs::read_to_string(whole.join("report.md")).unwrap();
    assert!(report.contains("![E1](e1_variance.svg)") && report.contains("Headline numbers"));
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(whole.join("summary.json")).unwrap()).unwrap();
    assert!(summary["E2"]["methods"]["InfoNCE"].is_array());
    // Two shards, merged, give the same rows as the whole run.
    let shards: Vec<_> = (0..2).map(|i| temp_path(&format!("reproduce-shard{i}"))).collect();
    for (i, dir) in shards.iter().enumerate() {
        let spec = format!("{i}/2");
        let (ok, _, stderr) =
            ssl_gmm(&["reproduce", "--config", cfg, "--shard", &spec, "--out", dir.to_str().unwrap()]);
        assert!(ok, "{stderr}");
    }
    let merged = temp_path("reproduce-merged");
    let (ok, _, stderr) = ssl_gmm(&[
        "merge",
        shards[0].to_str().unwrap(),
        shards[1].to_str().unwrap(),
        "--out",
        merged.to_str().unwrap(),
    ]);
    assert!(ok, "{stderr}");
    for stem in stems {
        let lines = |dir: &std::path::Path| {
            let mut l: Vec<String> =
                std::fs::read_to_string(dir.join(format!("{stem}.csv"))).unwrap().lines().map(String::from).collect();
            l.sort();
            l
        };
        assert_eq!(lines(&whole), lines(&merged), "{stem}");
    }
    let (ok, _, stderr) = ssl_gmm(&["reproduce", "--shard", "2/2", "--out", merged.to_str().unwrap()]);
    assert!(!ok && stderr.contains("--shard"), "{stderr}");
    // Merges that would report a wrong result are refused, with one line saying why.
    let (s0, s1) = (shards[0].to_str().unwrap(), shards[1].to_str().unwrap());
    let out = temp_path("reproduce-bad-merge");
    let o = out.to_str().unwrap();
    for (args, expected) in [
        (vec!["merge", s0, s0, s1, "--out", o], "given twice"),
        (vec!["merge", s0, "--out", o], "jobs have no rows"),
        (vec!["merge", s0, whole.to_str().unwrap(), "--out", o], "split"),
        (vec!["merge", s0, cfg, "--out", o], "not the output of `reproduce`"),
    ] {
        let (ok, _, stderr) = ssl_gmm(&args);
        assert!(!ok && stderr.contains(expected) && stderr.trim_end().lines().count() == 1, "{args:?}: {stderr}");
    }
    // A shard copied from another configuration: same split, other sweeps.
    let alien = temp_path("reproduce-alien");
    let tiny = temp_path("tiny-sweeps-2.json");
    std::fs::write(&tiny, std::fs::read_to_string(&config).unwrap().replace("\"steps\": 40", "\"steps\": 41")).unwrap();
    let (ok, _, stderr) =
        ssl_gmm(&["reproduce", "--config", tiny.to_str().unwrap(), "--shard", "1/2", "--out", alien.to_str().unwrap()]);
    assert!(ok, "{stderr}");
    let (ok, _, stderr) = ssl_gmm(&["merge", s0, alien.to_str().unwrap(), "--out", o]);
    assert!(!ok && stderr.contains("other sweeps"), "{stderr}");
    // A tampered row is out of range.
    let csv = shards[1].join("e1_variance.csv");
    let text = std::fs::read_to_string(&csv).unwrap();
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    if lines.len() > 1 {
        let header: Vec<&str> = lines[0].split(',').collect();
        let col = header.iter().position(|h| *h == "sin_theta_max").unwrap();
        let mut cells: Vec<String> = lines[1].split(',').map(String::from).collect();
        cells[col] = "1.5".into();
        lines[1] = cells.join(",");
        std::fs::write(&csv, lines.join("\n") + "\n").unwrap();
        let (ok, _, stderr) = ssl_gmm(&["merge", s0, s1, "--out", o]);
        assert!(!ok && stderr.contains("outside [0, 1]"), "{stderr}");
    }
    // Partial merges only when asked, and they say so.
    let (ok, _, stderr) = ssl_gmm(&["merge", s0, "--allow-partial", "--out", o]);
    assert!(ok && stderr.contains("partial merge"), "{stderr}");
}

#[cfg(unix)]
#[test]
fn a_full_standard_output_is_a_one_line_error_and_out_keeps_devices_and_links() {
    use std::os::unix::fs::FileTypeExt;
    // /dev/full refuses every write: the command ends with one line on stderr and exit code 2,
    // not a panic (exit 101).
    if let Ok(full) = std::fs::OpenOptions::new().write(true).open("/dev/full") {
        for args in
            [vec!["presets"], vec!["describe", "--preset", "anisotropic"], vec!["check", "--quick", "--claims", "C2"]]
        {
            let out = Command::new(env!("CARGO_BIN_EXE_ssl-gmm"))
                .args(&args)
                .stdout(full.try_clone().unwrap())
                .output()
                .expect("binary runs");
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(4), "{args:?}: {stderr}");
            assert!(stderr.lines().any(|l| l.starts_with("error: cannot write to standard output")), "{stderr}");
        }
    }
    // --out at a device writes into it; at a link, replaces the link's target and keeps the link.
    let train = ["train", "--preset", "pca-trap", "--stream", "--steps", "5", "--json", "--out"];
    let (ok, _, stderr) = ssl_gmm(&[&train[..], &["/dev/null"]].concat());
    assert!(ok, "{stderr}");
    assert!(std::fs::metadata("/dev/null").unwrap().file_type().is_char_device());
    let (target, link) = (temp_path("out-target.json"), temp_path("out-link.json"));
    std::fs::write(&target, "old").unwrap();
    let _ = std::fs::remove_file(&link);
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let (ok, _, stderr) = ssl_gmm(&[&train[..], &[link.to_str().unwrap()]].concat());
    assert!(ok, "{stderr}");
    assert!(std::fs::symlink_metadata(&link).unwrap().file_type().is_symlink());
    assert!(std::fs::read_to_string(&target).unwrap().contains("\"method\""));
}

#[test]
fn exit_status_says_what_went_wrong() {
    let wine = data_file("wine.csv");
    for (args, code) in [
        (vec!["bogus"], 2),
        (vec!["check", "--claims", "C99"], 2),
        (vec!["fit", "--method", "lda", "--data", "/nonexistent/x.csv", "--labels-col", "last"], 4),
        (vec!["fit", "--method", "lda", "--data", wine.as_str(), "--labels-col", "last", "--dim", "50"], 3),
        (vec!["train", "--preset", "nope"], 3),
        // Options of the other solver are errors, not silently ignored.
        (vec!["train", "--preset", "pca-trap", "--lr", "1e10"], 3),
        (vec!["train", "--preset", "pca-trap", "--method", "simsiam", "--samples", "100"], 3),
        (vec!["sample", "--n", "5", "--out", "/nonexistent/dir/x.csv"], 4),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_ssl-gmm")).args(&args).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{args:?}: {stderr}");
    }
}

#[test]
fn a_first_row_that_is_neither_header_nor_data_is_an_error() {
    let path = temp_path("mixed-first-row.csv");
    let mut text = String::from("178,13,class_0\n");
    for i in 0..30 {
        text.push_str(&format!("{},{},{}\n", i as f64 * 0.1, (i * 7 % 5) as f64, i % 2));
    }
    std::fs::write(&path, &text).unwrap();
    let p = path.to_str().unwrap();
    let (ok, _, stderr) = ssl_gmm(&["fit", "--method", "pca", "--data", p, "--dim", "1"]);
    assert!(!ok && stderr.contains("--header") && stderr.contains("line 1"), "{stderr}");
    let (ok, _, stderr) = ssl_gmm(&["fit", "--method", "pca", "--data", p, "--dim", "1", "--header"]);
    assert!(ok && stderr.contains("(30 samples x 3 features)"), "{stderr}");
    // A numeric first row is data: nothing is dropped, with or without --no-header.
    std::fs::write(&path, &text[text.find('\n').unwrap() + 1..]).unwrap();
    for flag in ["--no-header", "--seed"] {
        let mut args = vec!["fit", "--method", "pca", "--data", p, "--dim", "1", flag];
        if flag == "--seed" {
            args.push("0");
        }
        let (ok, _, stderr) = ssl_gmm(&args);
        assert!(ok && stderr.contains("(30 samples x 3 features)"), "{stderr}");
    }
}

#[test]
fn sizes_beyond_the_memory_budget_are_refused_before_allocating() {
    let huge = temp_path("huge-header.npy");
    let header = "{'descr': '<f8', 'fortran_order': False, 'shape': (4294967296, 4294967296), }";
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    let padded = format!("{header:<117}\n");
    bytes.extend_from_slice(&(padded.len() as u16).to_le_bytes());
    bytes.extend_from_slice(padded.as_bytes());
    bytes.extend_from_slice(&[0u8; 64]);
    std::fs::write(&huge, &bytes).unwrap();
    let wide = temp_path("wide.csv");
    let row: Vec<String> = (0..200_000).map(|i| (i % 7).to_string()).collect();
    std::fs::write(&wide, format!("{}\n{}\n{}\n", row.join(","), row.join(","), row.join(","))).unwrap();
    let out = temp_path("never-written.csv");
    let o = out.to_str().unwrap();
    for (args, expected) in [
        (vec!["sample", "--n", "1000000000", "--out", o], "memory budget"),
        (vec!["sample", "--n", "18446744073709551615", "--out", o], "overflows"),
        (vec!["--max-memory", "1K", "sample", "--n", "100", "--out", o], "memory budget"),
        (vec!["train", "--preset", "pca-trap", "--stream", "--steps", "2000000000000"], "work bound"),
        (vec!["train", "--preset", "pca-trap", "--samples", "100000000000"], "memory budget"),
        (vec!["train", "--preset", "pca-trap", "--batch", "400000"], "memory budget"),
        (vec!["fit", "--method", "pca", "--data", huge.to_str().unwrap()], "overflows"),
        (vec!["fit", "--method", "pca", "--data", wide.to_str().unwrap()], "memory budget"),
        (vec!["train", "--preset", "clip", "--method", "clip", "--delta", "0.3"], "--delta applies to mixtures only"),
    ] {
        let run = Command::new(env!("CARGO_BIN_EXE_ssl-gmm")).args(&args).output().unwrap();
        let stderr = String::from_utf8_lossy(&run.stderr);
        assert_eq!(run.status.code(), Some(3), "{args:?}: {stderr}");
        assert!(stderr.contains(expected) && stderr.trim_end().lines().count() == 1, "{args:?}: {stderr}");
    }
    assert!(!out.exists());
    let (ok, _, stderr) = ssl_gmm(&["sample", "--n", "5", "--out", o, "--max-memory", "2x"]);
    assert!(!ok && stderr.contains("a size such as"), "{stderr}");
}

#[test]
fn sample_output_feeds_fit_by_column_names() {
    let path = temp_path("feed.csv");
    let p = path.to_str().unwrap();
    let (ok, _, stderr) = ssl_gmm(&["sample", "--preset", "pca-trap", "--n", "2000", "--out", p]);
    assert!(ok, "{stderr}");
    // LDA on the anchors x0..x9 with the labels z: the Fisher directions separate the classes.
    let (ok, stdout, stderr) =
        ssl_gmm(&["fit", "--method", "lda", "--data", p, "--features", "x", "--labels-col", "z", "--evaluate"]);
    assert!(ok, "{stderr}");
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["components"][0].as_array().unwrap().len(), 10, "x0..x9 only, not xp* or the labels");
    assert!(v["evaluation"]["ari"].as_f64().unwrap() > 0.5, "{stdout}");
    // CCA between the anchors and the positives of the same file.
    let (ok, stdout, stderr) =
        ssl_gmm(&["fit", "--method", "cca", "--data", p, "--features", "x", "--positives", "xp", "--dim", "2"]);
    assert!(ok, "{stderr}");
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["dim"], 2);
    // Names that are not there, and options that do not apply, are one-line errors (status 3).
    for args in [
        &["--method", "pca", "--features", "q"][..],
        &["--method", "lda", "--features", "x", "--labels-col", "zz"],
        &["--method", "lda", "--positives", "xp", "--labels-col", "z"],
    ] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_ssl-gmm"))
            .args([&["fit", "--data", p][..], args].concat())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(3), "{args:?}: {stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    }
}

#[test]
fn the_default_model_is_named_in_help_and_used() {
    for cmd in ["describe", "sample", "train"] {
        let (ok, stdout, _) = ssl_gmm(&[cmd, "--help"]);
        assert!(ok && stdout.contains("without --preset and --config: pca-trap"), "{cmd}: {stdout}");
    }
    let (ok, stdout, _) = ssl_gmm(&["describe"]);
    assert!(ok && stdout.contains("mixture pca-trap"), "{stdout}");
}

/// A number printed in a Rust `{:e}` form (`5.039e-2`, `1.000e0`, `3e5`): the human outputs
/// print three significant digits with a signed two-digit exponent (`5.04e-06`) instead. A
/// power of ten written in prose (`<= 1e-9`, a tolerance's formula) is not a printed number.
fn short_exponent(text: &str) -> Option<String> {
    let b = text.as_bytes();
    (1..b.len()).find_map(|i| {
        let number_before = b[i - 1].is_ascii_digit();
        let word_before = (0..i)
            .rev()
            .take_while(|&j| b[j].is_ascii_alphanumeric() || b[j] == b'.')
            .any(|j| b[j].is_ascii_alphabetic());
        if b[i] != b'e' || !number_before || word_before {
            return None;
        }
        let rest = &text[i + 1..];
        let digits = rest.strip_prefix(['+', '-']).map(|r| r.bytes().take_while(u8::is_ascii_digit).count());
        let bare = rest.bytes().take_while(u8::is_ascii_digit).count();
        let decimal_mantissa =
            b[..i].iter().rev().take_while(|c| c.is_ascii_digit() || **c == b'.').any(|c| *c == b'.');
        let ok = matches!(digits, Some(n) if n >= 2 || !decimal_mantissa);
        (!ok && (digits.is_some() || bare > 0)).then(|| text[i.saturating_sub(8)..(i + 4).min(text.len())].to_string())
    })
}

#[test]
fn human_output_has_three_digit_numbers_and_paper_names() {
    assert_eq!(short_exponent("gap 5.039e-2 here").as_deref(), Some("ap 5.039e-2 "));
    assert!(short_exponent("loss 1.000e0").is_some() && short_exponent("3e5").is_some());
    assert_eq!(short_exponent("norm 3.54e-06, pca-trap, e1_variance, 1e-05, tolerance <= 1e-9"), None);
    let wine = data_file("wine.csv");
    let runs: Vec<Vec<&str>> = vec![
        vec!["presets"],
        vec!["describe", "--preset", "anisotropic"],
        vec!["describe", "--preset", "clip"],
        vec!["train", "--preset", "pca-trap", "--samples", "4096"],
        vec!["train", "--preset", "pca-trap", "--samples", "2", "--batch", "2"],
        vec!["train", "--preset", "pca-trap", "--method", "simsiam-whitened", "--steps", "300"],
        vec!["train", "--preset", "pca-trap", "--method", "simsiam", "--steps", "30"],
        vec!["train", "--preset", "clip", "--method", "clip", "--stream", "--steps", "50"],
        vec!["train", "--preset", "clip", "--method", "clip", "--samples", "2048"],
        vec!["fit", "--method", "cca", "--data", &wine, "--labels-col", "last", "--evaluate"],
        vec!["fit", "--method", "pca", "--data", &wine, "--labels-col", "last", "--evaluate"],
        vec!["check", "--quick", "--claims", "C1,C2"],
    ];
    // Rust `Debug` spellings of the CLI's enums and options.
    let debug =
        ["Infonce", "Simsiam", "Clip ", "Lda ", "Pca ", "Cca ", "Some(", "None", "Quick", "Full", "[\"", "X:", "Y:"];
    for args in runs {
        let (_, stdout, stderr) = ssl_gmm(&args);
        // Machine-readable parts (the JSON `fit` prints) keep every digit: only prose is checked.
        let human: String = format!("{stdout}\n{stderr}")
            .lines()
            .filter(|l| !l.trim_start().starts_with(['{', '"', '[', ']', '}']))
            .collect::<Vec<_>>()
            .join("\n");
        assert!(!human.trim().is_empty(), "{args:?} printed nothing");
        if let Some(bad) = short_exponent(&human) {
            panic!("{args:?}: a number not in the three-digit format near {bad:?}:\n{human}");
        }
        if let Some(name) = debug.iter().find(|d| human.contains(*d)) {
            panic!("{args:?}: a Debug name {name:?}:\n{human}");
        }
    }
}

#[test]
fn an_uncertified_stream_warns_with_the_way_to_a_certificate_for_its_method() {
    let cases: [(&[&str], &str); 3] = [
        (&["--method", "infonce", "--stream"], "for a certified InfoNCE map drop --stream"),
        (&["--preset", "clip", "--method", "clip", "--stream"], "for a certified CLIP map drop --stream"),
        (&["--method", "simsiam"], "--method simsiam-whitened trains SimSiam to a certificate"),
    ];
    for (extra, hint) in cases {
        let mut args = vec!["train", "--steps", "30"];
        args.extend(extra);
        let (ok, _, stderr) = ssl_gmm(&args);
        assert!(ok, "{args:?}: {stderr}");
        let warnings: Vec<&str> = stderr.lines().filter(|l| l.starts_with("warning: ")).collect();
        assert_eq!(warnings.len(), 1, "{args:?}: {stderr}");
        assert!(warnings[0].ends_with(hint), "{args:?}: {stderr}");
    }
}

/// `zoo` prints the table, writes its CSV and JSON, names the outcomes the harness finds (F and a
/// collapse on coupled pairs; a minimiser that is not unique for the spectral loss on noise views,
/// whose cross moment equals the second moment), and refuses unknown names.
#[test]
fn zoo_table_csv_and_json() {
    let dir = std::env::temp_dir().join(format!("ssl-gmm-zoo-{}", std::process::id()));
    let d = dir.to_str().unwrap();
    let (ok, out, err) = ssl_gmm(&[
        "zoo",
        "--cases",
        "2",
        "--losses",
        "spectral,barlow",
        "--augmentations",
        "coupled,noise-iso",
        "--out",
        d,
        "--quiet",
    ]);
    assert!(ok, "{err}");
    assert!(out.contains("| spectral-contrastive | F 2 (median"), "{out}");
    assert!(out.contains("not unique 2 (median"), "{out}");
    assert!(out.contains("| barlow-twins(lambda 0.0051) | collapsed in F 2 (median"), "{out}");
    let csv = std::fs::read_to_string(dir.join("zoo.csv")).unwrap();
    assert!(csv.starts_with("loss,augmentation,cases,resolved,outcome,count"), "{csv}");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("zoo.json")).unwrap()).unwrap();
    assert_eq!(json.as_array().unwrap().len(), 4);
    let svg = std::fs::read_to_string(dir.join("zoo.svg")).unwrap();
    assert!(svg.contains("collapsed in F") && svg.contains("noise-iso"), "the grid names its cells");
    assert!(dir.join("zoo.png").exists());
    // InfoNCE on masked views has no population form: the cell is decided from samples, and its
    // statistics are the held-out test's, in the table and the CSV.
    let (ok, out, err) =
        ssl_gmm(&["zoo", "--cases", "1", "--losses", "infonce", "--augmentations", "mask", "--quiet", "--out", d]);
    assert!(ok, "{err}");
    assert!(out.contains("| infonce(tau 1) | not F (held-out loss) 1 (median sin to F"), "{out}");
    assert!(out.contains("held-out loss gap of the best map in F") && out.contains("smallest t"), "{out}");
    let csv = std::fs::read_to_string(dir.join("zoo.csv")).unwrap();
    let row = csv.lines().nth(1).unwrap();
    assert!(row.starts_with("infonce(tau 1),mask,1,1,not F (held-out loss),1,"), "{csv}");
    assert!(csv.lines().next().unwrap().contains("median_held_out_gap,min_held_out_t"), "{csv}");
    // A built-in loss with hyper-parameters of the user's choice (colon-separated key=value).
    let (ok, out, err) =
        ssl_gmm(&["zoo", "--cases", "1", "--losses", "barlow:lambda=10", "--augmentations", "coupled", "--quiet"]);
    assert!(ok, "{err}");
    assert!(out.contains("| barlow-twins(lambda 10) |"), "{out}");
    for (bad, says) in
        [("barlow:lambda=-1", "lambda"), ("barlow:tau=1", "tau"), ("infonce:tau=x", "tau=x"), ("spectral:tau=1", "tau")]
    {
        let (ok, _, err) = ssl_gmm(&["zoo", "--losses", bad, "--cases", "1", "--augmentations", "coupled"]);
        assert!(!ok && err.contains(says), "{bad}: {err}");
    }
    let (ok, _, err) = ssl_gmm(&["zoo", "--losses", "nope", "--cases", "1"]);
    assert!(!ok && err.contains("nope"), "{err}");
    let (ok, _, err) = ssl_gmm(&["zoo", "--augmentations", "blur"]);
    assert!(!ok && err.contains("blur"), "{err}");
    let (ok, _, err) = ssl_gmm(&["zoo", "--cases", "0"]);
    assert!(!ok && err.contains("mixtures"), "{err}");
    std::fs::remove_dir_all(&dir).ok();
}

/// E9's rows (the zoo's fits and flows' fixed points, whose Jacobians of a few hundred rows faer
/// decomposes) are the same bits with 1 and 2 rayon threads.
#[test]
fn e9_rows_do_not_depend_on_the_thread_count() {
    let dir = std::env::temp_dir().join(format!("ssl-gmm-e9-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("only-e9.json");
    std::fs::write(
        &config,
        r#"{"e1_conditions": [], "e2_deltas": [], "e3_dims": [], "e4_samples": [], "e5_ranks": [], "e6_pairs": [], "e7_datasets": [], "e8_pairs_per_image": 0, "e9_views": ["coupled", "noise-sigma"]}"#,
    )
    .unwrap();
    let rows = |threads: &str| {
        let out = dir.join(format!("threads-{threads}"));
        let status = Command::new(env!("CARGO_BIN_EXE_ssl-gmm"))
            .args([
                "reproduce",
                "--quick",
                "--quiet",
                "--config",
                config.to_str().unwrap(),
                "--out",
                out.to_str().unwrap(),
            ])
            .env("RAYON_NUM_THREADS", threads)
            .output()
            .unwrap();
        assert!(status.status.success(), "{}", String::from_utf8_lossy(&status.stderr));
        std::fs::read_to_string(out.join("e9_loss_zoo.csv")).unwrap()
    };
    let (one, two) = (rows("1"), rows("2"));
    assert!(one.lines().count() > 30, "{one}");
    assert_eq!(one, two);
    std::fs::remove_dir_all(&dir).ok();
}

/// `check --calibrate` adds runs to a file and resumes it; `check --calibration` judges with it;
/// an entry of another case design is refused (no verdict, exit 5; no runs added without
/// --discard-stale); shards merge, never into one of their own files.
#[test]
fn check_calibrates_resumes_and_refuses_stale_entries() {
    let (file, other) = (temp_path("calibration.json"), temp_path("calibration-odd.json"));
    let (f, o) = (file.to_str().unwrap(), other.to_str().unwrap());
    let _ = (std::fs::remove_file(&file), std::fs::remove_file(&other));
    let calibrate = |path: &str, extra: &[&str]| {
        let mut args = vec!["check", "--calibrate", "--claims", "C1,C13", "--cases", "300", "--calibration", path];
        args.extend_from_slice(extra);
        ssl_gmm(&args)
    };
    let (ok, stdout, stderr) = calibrate(f, &["--shard", "0/2"]);
    assert!(ok, "{stderr}");
    assert!(stderr.contains("30 calibration runs to do"), "{stderr}");
    assert!(stdout.contains("| C13 | statistical | 15 | 150 | 0 |") && stdout.contains("| incomplete |"), "{stdout}");
    // Resumed: nothing left for shard 0; shard 1 into its own file, then merged.
    let (ok, _, stderr) = calibrate(f, &["--shard", "0/2"]);
    assert!(ok && stderr.contains("0 calibration runs to do"), "{stderr}");
    assert!(calibrate(o, &["--shard", "1/2"]).0);
    let merged = temp_path("calibration-merged.json");
    let m = merged.to_str().unwrap();
    let (ok, stdout, stderr) = ssl_gmm(&["check", "--merge-calibration", f, o, "--calibration", m]);
    assert!(ok, "{stderr}");
    assert!(stdout.contains("| C13 | statistical | 30 | 300 | 0 | 0.00994 |"), "{stdout}");
    let (ok, _, stderr) = ssl_gmm(&["check", "--merge-calibration", f, o, "--calibration", f]);
    assert!(!ok && stderr.contains("one of the files being merged"), "{stderr}");
    // Judged with the measured rate (300 counted cases per role: complete).
    let (ok, stdout, stderr) = ssl_gmm(&["check", "--claims", "C13", "--json", "--calibration", m]);
    assert!(ok, "{stderr}");
    let v: serde_json::Value = serde_json::from_str(stdout.lines().next().unwrap()).unwrap();
    assert_eq!(v["calibration"]["kind"], "measured", "{v}");
    assert!(stderr.contains("family-wise bound of this run"), "{stderr}");
    // Another case design: the fingerprint in the file no longer matches.
    let text = std::fs::read_to_string(&merged).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let fingerprint = |id: &str| v["claims"][id]["fingerprint"].as_str().unwrap().to_string();
    let (c1, c13) = (fingerprint("C1"), fingerprint("C13"));
    std::fs::write(&merged, text.replace(&c13, "0123456789abcdef").replace(&c1, "fedcba9876543210")).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_ssl-gmm"))
        .args(["check", "--claims", "C13", "--calibration", m])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(5), "{stderr}");
    assert!(stderr.contains("no calibration of this case design") && stderr.contains("C13"), "{stderr}");
    // Refused for the exact claim too (its entry is not used by verdicts, but two designs never
    // add up).
    let (ok, _, stderr) = calibrate(m, &[]);
    assert!(!ok && stderr.contains("--discard-stale") && stderr.contains("C1, C13"), "{stderr}");
    let (ok, stdout, _) = ssl_gmm(&["check", "--print-calibration", "--claims", "C13", "--calibration", m]);
    assert!(ok && stdout.contains("| stale |"), "{stdout}");
    // Dropped without a run: the entry is gone from the file (it was kept, stale, before).
    let (ok, _, stderr) =
        ssl_gmm(&["check", "--calibrate", "--claims", "C13", "--cases", "0", "--calibration", m, "--discard-stale"]);
    assert!(ok && stderr.contains("dropped the stale entries of C13"), "{stderr}");
    let (ok, stdout, _) = ssl_gmm(&["check", "--print-calibration", "--claims", "C13", "--calibration", m]);
    assert!(ok && stdout.contains("| missing |"), "{stdout}");
    let (ok, stdout, stderr) = calibrate(m, &["--discard-stale"]);
    assert!(ok && stdout.contains("| C13 | statistical | 30 | 300 | 0 |"), "{stderr}");
}

/// `--first-run J` measures from run J on (a redesigned claim, on master seeds its design has
/// not seen); the entry is still probed at run 0, apart and not counted.
#[test]
fn check_calibrates_from_a_first_run() {
    let file = temp_path("calibration-first.json");
    let f = file.to_str().unwrap();
    let _ = std::fs::remove_file(&file);
    let (ok, stdout, stderr) =
        ssl_gmm(&["check", "--calibrate", "--claims", "C13", "--cases", "20", "--first-run", "7", "--calibration", f]);
    assert!(ok && stdout.contains("| C13 | statistical | 2 | 20 | 0 |"), "{stdout}{stderr}");
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(v["claims"]["C13"]["runs"], serde_json::json!([[7, 9]]));
    assert!(v["claims"]["C13"]["probe"]["check"].is_array(), "{v}");
    let (ok, _, stderr) = ssl_gmm(&["check", "--first-run", "7"]);
    assert!(!ok && stderr.contains("--calibrate"), "{stderr}");
    std::fs::remove_file(&file).ok();
}
