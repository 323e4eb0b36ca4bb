//! The hostile battery: one command per class of defect a hostile but fair user found (budgets
//! skipped, configs read loosely, false certificates, merges that trust their rows or destroy
//! their input, files and exit codes), each with the exit status of README's table and the
//! reason its one-line error must give. Every case must end in that status within its time
//! limit: never a panic (101), an abort (134), a signal or a hang.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// README's exit-status table: every status a command can end with, and what it means.
const EXIT_TABLE: &[(i32, &str)] = &[
    (0, "success"),
    (1, "a claim of check failed or its control passed"),
    (2, "a usage error"),
    (3, "bad input data or parameters"),
    (4, "an I/O error"),
    (5, "check had a trained map without a convergence certificate"),
];

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ssl-gmm-hostile-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

fn write(name: &str, text: &str) -> String {
    let path = scratch(name);
    std::fs::write(&path, text).unwrap();
    path.to_string_lossy().into_owned()
}

/// Runs the binary with a time limit (a hang fails the test instead of stalling it).
fn run(args: &[&str], limit: Duration) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ssl-gmm"))
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("binary runs");
    let start = Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            return child.wait_with_output().unwrap();
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            panic!("{args:?} still runs after {limit:?}: a hang");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Runs a case and checks its exit status and that its error is one line naming `reason`.
fn expect(args: &[&str], code: i32, reason: &str) -> Output {
    let out = run(args, Duration::from_secs(60));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(code), "{args:?}: stderr {stderr}");
    assert!(EXIT_TABLE.iter().any(|(c, _)| *c == code));
    if code != 0 {
        let errors: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error")).collect();
        assert_eq!(errors.len(), 1, "{args:?}: one error line, got {stderr}");
        assert!(stderr.contains(reason), "{args:?}: expected {reason:?} in {stderr}");
    }
    out
}

#[test]
fn exit_statuses_of_the_table() {
    // 0, 2, 3 and 4 here; 1 and 5 are check's verdicts (tests/cli.rs runs check).
    expect(&["presets"], 0, "");
    expect(&["describe", "--bogus"], 2, "unexpected argument");
    expect(&["reproduce", "--shard", "x/2"], 2, "I in I/N is not a number");
    expect(&["describe", "--preset", "nope"], 3, "unknown preset");
    expect(&["describe", "--config", "/nonexistent/m.json"], 4, "cannot read");
    let dir = std::env::temp_dir();
    expect(&["fit", "--method", "pca", "--data", dir.to_str().unwrap()], 4, "is a directory");
    let wine = concat!(env!("CARGO_MANIFEST_DIR"), "/../experiments/data/wine.csv");
    expect(&["fit", "--method", "cca", "--data", wine, "--labels-col", "last", "--ridge", "-1"], 3, "ridge");
}

#[test]
fn sizes_and_work_beyond_the_budgets_are_refused_at_once() {
    let budget = "above the memory budget";
    let work = "above the work bound";
    for (config, reason) in [
        (r#"{"samples": 1000000000}"#, budget),
        (r#"{"seeds": 1000000000000}"#, work),
        (r#"{"d": 100000000, "e3_dims": []}"#, budget),
        (r#"{"e3_dims": [100000000]}"#, budget),
        (r#"{"e4_samples": [10000000000]}"#, budget),
        (r#"{"e8_pairs_per_image": 1000000000}"#, budget),
        (r#"{"batch": 10000000000}"#, budget),
        (r#"{"steps": 100000000000000}"#, work),
        (r#"{"e6_pairs": [10000000000]}"#, budget),
    ] {
        let path = write("budget.json", config);
        expect(&["reproduce", "--config", &path, "--out", scratch("never").to_str().unwrap()], 3, reason);
        assert!(!scratch("never").join("e1_variance.csv").exists(), "{config}: nothing ran");
    }
    expect(&["--max-memory", "1K", "reproduce", "--quick", "--out", scratch("never").to_str().unwrap()], 3, budget);
    let big = format!(
        r#"{{"weights": [0.5, 0.5], "means": [{m}, {m}], "covariance": [{m}]}}"#,
        m = format!("[{}]", vec!["0.0"; 3000].join(","))
    );
    expect(&["--max-memory", "1K", "describe", "--config", &write("big.json", &big)], 3, budget);
    expect(&["--max-memory", "1M", "describe", "--config", "/dev/zero"], 3, budget);
    expect(&["train", "--method", "simsiam", "--steps", "1000000000000"], 3, work);
    expect(&["train", "--max-iters", "1000000000000"], 3, work);
    expect(&["sample", "--n", "100000000000000", "--out", scratch("s.csv").to_str().unwrap()], 3, budget);
}

#[test]
fn data_files_are_budgeted_as_they_are_read() {
    // A gzip bomb: 40 MB of zeros in about 40 KB.
    let bomb = scratch("bomb.csv.gz");
    {
        use std::io::Write as _;
        let mut gz = flate2::write::GzEncoder::new(std::fs::File::create(&bomb).unwrap(), flate2::Compression::best());
        let zeros = vec![b'0'; 1 << 20];
        for _ in 0..40 {
            gz.write_all(&zeros).unwrap();
        }
        gz.finish().unwrap();
    }
    expect(&["--max-memory", "4M", "fit", "--method", "pca", "--data", bomb.to_str().unwrap()], 3, "decompressed");
    let rows: String = (0..20_000).map(|i| format!("{i},{},{}\n", i % 7, i % 3)).collect();
    let csv = write("rows.csv", &rows);
    expect(&["--max-memory", "20K", "fit", "--method", "pca", "--data", &csv], 3, "above the memory budget");
    // An .npy header of a huge shape over a tiny file: refused from the header, not by reading.
    let path = scratch("huge.npy");
    let fit = ["fit", "--method", "pca", "--data", path.to_str().unwrap()];
    std::fs::write(&path, npy("<f8", "(1000000, 1000000)", 0)).unwrap();
    expect(&fit, 3, "above the memory budget");
    std::fs::write(&path, npy("<f8", "(100, 4)", 40)).unwrap();
    expect(&fit, 3, "more data than the file holds");
    std::fs::write(&path, npy("<f4", "(100, 4)", 1600)).unwrap();
    expect(&fit, 3, "dtype must be float64 or int64");
    expect(&["fit", "--method", "pca", "--data", &write("junk.npy", "junk")], 3, "not a valid .npy file");
}

/// An .npy file (version 1) with the dtype `descr` and `shape` in its header, then `data` zero bytes.
fn npy(descr: &str, shape: &str, data: usize) -> Vec<u8> {
    let header = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
    let header = format!("{header:<117}\n");
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend_from_slice(&(header.len() as u16).to_le_bytes());
    bytes.extend_from_slice(header.as_bytes());
    bytes.resize(bytes.len() + data, 0);
    bytes
}

#[test]
fn configs_are_objects_whose_fields_agree() {
    let out = scratch("never").to_string_lossy().into_owned();
    for (config, reason) in [
        ("[7, 9]", "must be a JSON object"),
        ("[]", "must be a JSON object"),
        ("3", "must be a JSON object"),
        (r#"{"e5_ranks": [100], "d": 4}"#, "between 1 and d = 4"),
        (r#"{"e2_deltas": [0.5, 0.5]}"#, "twice"),
        (r#"{"e3_dims": [16, 16]}"#, "twice"),
        (r#"{"e2_deltas": [1.5]}"#, "in [0, 1]"),
        (r#"{"e1_conditions": [0.5]}"#, ">= 1"),
        (r#"{"seed": 3}"#, "unknown field"),
    ] {
        expect(&["reproduce", "--config", &write("c.json", config), "--out", &out], 3, reason);
    }
    let singular =
        r#"{"weights": [0.5, 0.5], "means": [[1.5, 0.0], [-1.5, 0.0]], "covariance": [[1.0, 0.0], [0.0, 1e-17]]}"#;
    expect(&["describe", "--config", &write("sing.json", singular)], 3, "condition number");
}

#[test]
fn no_certificate_from_the_start_and_divergence_is_an_error() {
    expect(&["train", "--preset", "pca-trap", "--tau", "1e300", "--json"], 3, "zero at the random start");
    expect(&["train", "--preset", "pca-trap", "--tau", "1e-300", "--json"], 3, "overflows");
    expect(
        &["train", "--preset", "anisotropic", "--method", "simsiam", "--steps", "50", "--lr", "1e6"],
        3,
        "grew beyond",
    );
    expect(&["train", "--init-scale", "1e300"], 3, "--init-scale must be in");
    // Unconstrained SimSiam collapses at its default 2000 steps: reported as such, no angle.
    let out = expect(&["train", "--method", "simsiam", "--json"], 0, "");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["map_state"], "collapsed", "{v}");
    assert!(v.get("sin_theta_max_fisher").is_none_or(|s| s.is_null()), "{v}");
    let out = expect(&["train", "--method", "simsiam"], 0, "");
    assert!(String::from_utf8_lossy(&out.stdout).contains("COLLAPSED"));
    // A certified run says why it stopped.
    let out = expect(&["train", "--json"], 0, "");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((v["converged"].as_bool(), v["lbfgs_stop"].as_str()), (Some(true), Some("grad-tol")), "{v}");
    assert_eq!(v["map_state"], "grown", "{v}");
    assert!(v.get("stop").is_none(), "the streaming executor's reason is not an L-BFGS run's: {v}");
    // An early stop names its real reason: a tolerance below rounding ends in a line search
    // that finds no decrease (22 of 1000 iterations), not in the iteration budget.
    let out = expect(&["train", "--tol", "1e-15", "--json"], 0, "");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((v["converged"].as_bool(), v["lbfgs_stop"].as_str()), (Some(false), Some("no-decrease")), "{v}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("found no decrease"));
    // Data on a scale of 1e3: the map and its start are compared in the same (input)
    // coordinates, so a certified map is not flagged as small.
    let scaled = write(
        "scaled.json",
        r#"{"weights": [0.5, 0.5], "means": [[1500.0, 0.0, 0.0], [-1500.0, 0.0, 0.0]],
            "covariance": [[1e6, 0.0, 0.0], [0.0, 9e6, 0.0], [0.0, 0.0, 1e6]]}"#,
    );
    for stream in [false, true] {
        let mut args = vec!["train", "--config", &scaled, "--dim", "1", "--json"];
        if stream {
            args.push("--stream");
        }
        let out = expect(&args, 0, "");
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["map_state"], "grown", "stream {stream}: {v}");
    }
}

#[test]
fn inapplicable_options_are_refused_and_quick_is_the_base_of_a_config() {
    let wine = concat!(env!("CARGO_MANIFEST_DIR"), "/../experiments/data/wine.csv");
    expect(&["fit", "--method", "pca", "--data", wine, "--shrinkage", "0.5"], 3, "--shrinkage applies to LDA only");
    expect(&["fit", "--method", "pca", "--data", wine, "--ridge", "0.1"], 3, "--ridge applies to LDA and CCA");
    expect(
        &["fit", "--method", "lda", "--data", wine, "--labels-col", "last", "--pairs", wine],
        3,
        "--pairs applies to CCA",
    );
    expect(&["reproduce", "--print-config", "--shard", "0/2"], 3, "--print-config prints the sweeps");
    let config = write("steps.json", r#"{"steps": 7}"#);
    let out = expect(&["reproduce", "--quick", "--config", &config, "--print-config"], 0, "");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (v["steps"].as_u64(), v["seeds"].as_u64()),
        (Some(7), Some(2)),
        "--quick's seeds under the file's steps"
    );
}

#[test]
fn whitened_simsiam_is_certified_by_its_distance_to_the_optimum() {
    let cert = |args: &[&str]| {
        let out = expect(args, 0, "");
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        (v["converged"].as_bool().unwrap(), v["whitened_certificate"].clone())
    };
    let (ok, w) = cert(&["train", "--method", "simsiam-whitened", "--json"]);
    assert!(ok && w["sin_to_optimum"].as_f64().unwrap() <= 0.05, "{w}");
    // The control: 500 steps are too few on the anisotropic preset (measured 0.96 from its
    // optimum at seed 0, 0.88 and 0.82 at seeds 1 and 2; 2000 steps reach 0.040).
    let (ok, w) =
        cert(&["train", "--method", "simsiam-whitened", "--preset", "anisotropic", "--steps", "500", "--json"]);
    assert!(!ok && w["sin_to_optimum"].as_f64().unwrap() > 0.05, "{w}");
    // No signal, no optimum: no certificate, not converged.
    let (ok, w) = cert(&["train", "--method", "simsiam-whitened", "--delta", "0", "--json"]);
    assert!(!ok && w.is_null(), "{w}");
}

#[test]
fn fit_refuses_what_has_no_answer() {
    let dup = write("dup.csv", "a,b,label,label\n1,2,0,5\n3,4,1,6\n5,7,0,7\n2,9,1,1\n");
    expect(&["fit", "--method", "lda", "--data", &dup, "--labels-col", "label"], 3, "appears twice");
    let one = write("one.csv", "a,b,label\n1,2,0\n3,4,0\n5,7,0\n2,2,0\n");
    expect(&["fit", "--method", "cca", "--data", &one, "--labels-col", "label"], 3, "need at least two");
    let rows: String = (0..200)
        .map(|i| format!("{0},{1},{2},{0},{1},{2}\n", (i * 7 % 13) as f64, (i * 5 % 11) as f64, i % 3))
        .collect();
    let same = write("same.csv", &format!("x0,x1,x2,xp0,xp1,xp2\n{rows}"));
    expect(
        &["fit", "--method", "cca", "--data", &same, "--features", "x", "--positives", "xp", "--dim", "2"],
        3,
        "not unique",
    );
}

/// A sharded run of tiny sweeps, for the merge cases.
fn shards() -> (PathBuf, PathBuf) {
    let config = write(
        "tiny.json",
        r#"{"seeds": 1, "steps": 20, "samples": 300, "e1_conditions": [1.0, 10.0], "e2_deltas": [], "e3_dims": [],
           "e4_samples": [], "e5_ranks": [], "e6_pairs": [], "e7_datasets": [], "e8_pairs_per_image": 0}"#,
    );
    let (a, b) = (scratch("shard0"), scratch("shard1"));
    for (i, dir) in [(0, &a), (1, &b)] {
        let shard = format!("{i}/2");
        expect(
            &["reproduce", "--config", &config, "--shard", &shard, "--out", dir.to_str().unwrap(), "--quiet"],
            0,
            "",
        );
    }
    (a, b)
}

fn edit_csv(dir: &Path, edit: impl Fn(&str) -> String) -> String {
    let path = dir.join("e1_variance.csv");
    let before = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, edit(&before)).unwrap();
    before
}

#[test]
fn merge_validates_rows_and_never_writes_into_an_input() {
    let (a, b) = shards();
    let (sa, sb) = (a.to_str().unwrap(), b.to_str().unwrap());
    let out = scratch("merged");
    expect(&["merge", sa, sb, "--out", out.to_str().unwrap()], 0, "");
    let before = std::fs::read_to_string(a.join("e1_variance.csv")).unwrap();
    expect(&["merge", sa, sb, "--out", sa], 3, "is one of the shard folders");
    assert_eq!(std::fs::read_to_string(a.join("e1_variance.csv")).unwrap(), before, "the input is intact");
    let header_and_rows = |text: &str| {
        let mut lines = text.lines();
        let header: Vec<String> = lines.next().unwrap().split(',').map(String::from).collect();
        (header, lines.map(String::from).collect::<Vec<_>>())
    };
    // Each tampering of the first data row, with the reason the merge must give.
    let tamper = |column: &str, value: &str, reason: &str| {
        let original = edit_csv(&a, |text| {
            let (header, rows) = header_and_rows(text);
            let at = header.iter().position(|h| h == column).unwrap();
            let mut first: Vec<String> = rows[0].split(',').map(String::from).collect();
            first[at] = value.to_string();
            let mut lines = vec![header.join(","), first.join(",")];
            lines.extend(rows[1..].iter().cloned());
            lines.join("\n") + "\n"
        });
        expect(&["merge", sa, sb, "--out", out.to_str().unwrap()], 3, reason);
        std::fs::write(a.join("e1_variance.csv"), original).unwrap();
    };
    tamper("method", "Foo", "unknown method");
    tamper("sin_theta_max", "", "sin_theta_max is empty");
    tamper("setting", "NaN", "where the sweeps give");
    tamper("sin_theta_max", "1.5", "outside [0, 1]");
    expect(&["merge", sa, sb, "--out", out.to_str().unwrap()], 0, "");
}

#[test]
fn outputs_keep_their_permissions_and_devices_are_written() {
    use std::os::unix::fs::PermissionsExt;
    let path = scratch("private.csv");
    std::fs::write(&path, "old").unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    expect(&["sample", "--n", "10", "--out", path.to_str().unwrap()], 0, "");
    assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
    expect(&["sample", "--n", "10", "--out", "/dev/null"], 0, "");
    let full = std::fs::OpenOptions::new().write(true).open("/dev/full").unwrap();
    let help = Command::new(env!("CARGO_BIN_EXE_ssl-gmm")).arg("--help").stdout(full).output().unwrap();
    assert_eq!(help.status.code(), Some(4), "--help into /dev/full");
    let dir = scratch("blocked");
    std::fs::create_dir_all(dir.join("e1_variance.csv")).unwrap();
    let config = write(
        "tiny1.json",
        r#"{"seeds": 1, "steps": 20, "samples": 300, "e1_conditions": [1.0], "e2_deltas": [], "e3_dims": [], "e4_samples": [], "e5_ranks": [], "e6_pairs": [], "e7_datasets": [], "e8_pairs_per_image": 0}"#,
    );
    expect(&["reproduce", "--config", &config, "--out", dir.to_str().unwrap(), "--quiet"], 4, "is a directory");
}

#[test]
fn a_terminated_write_leaves_no_temporary() {
    let dir = scratch("term");
    std::fs::create_dir_all(&dir).unwrap();
    let out = dir.join("big.csv");
    let mut child = Command::new(env!("CARGO_BIN_EXE_ssl-gmm"))
        .args(["sample", "--n", "4000000", "--out", out.to_str().unwrap()])
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Wait until the temporary exists (the write is under way), then terminate.
    let start = Instant::now();
    while std::fs::read_dir(&dir).unwrap().count() == 0 && start.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(5));
    }
    // SAFETY: kill with a valid pid of our own child and a valid signal number.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
    let status = child.wait().unwrap();
    let left: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name()).collect();
    if status.code() == Some(0) {
        return; // finished before the signal: nothing to check (never seen: the write takes seconds)
    }
    assert_eq!(status.code(), Some(128 + libc::SIGTERM), "{status:?}");
    assert!(left.is_empty(), "left behind: {left:?}");
}
