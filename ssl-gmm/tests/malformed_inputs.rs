//! A fuzz-style test of the file readers behind the CLI: valid CSV, NPY and JSON files mutated at
//! random (truncations, overwritten and inserted bytes, hostile tokens such as `nan`, `1e400`,
//! huge shapes and long fields), each fed to the command that reads it. Every run must end in
//! success or a one-line error with exit status 3 (bad input) or 4 (I/O): never a panic (101) or
//! a signal. The mutations are drawn from a fixed seed, so a failure reproduces.

use std::process::Command;

use gmm_core::rand::RngExt;

/// Hostile tokens inserted into the files.
const TOKENS: &[&str] = &[
    "nan",
    "inf",
    "-inf",
    "1e400",
    "1e-320",
    "-1",
    "0",
    "",
    ",",
    "\n",
    "\"",
    "\0",
    "99999999999999999999999",
    "{",
    "}",
    "[",
    "]",
    "null",
    "'descr': '<f4'",
    "'shape': (4294967296, 4294967296)",
    "(0,)",
    "|u1",
    "\u{feff}",
    "é",
];

fn mutate(base: &[u8], rng: &mut impl gmm_core::rand::Rng) -> Vec<u8> {
    let mut bytes = base.to_vec();
    for _ in 0..rng.random_range(1..4) {
        let at = rng.random_range(0..=bytes.len());
        match rng.random_range(0..6) {
            0 => bytes.truncate(at),
            1 => {
                for _ in 0..rng.random_range(1..8) {
                    if !bytes.is_empty() {
                        let i = rng.random_range(0..bytes.len());
                        bytes[i] = rng.random();
                    }
                }
            }
            2 | 3 => {
                let token = TOKENS[rng.random_range(0..TOKENS.len())];
                bytes.splice(at..at, token.bytes());
            }
            4 => {
                let end = rng.random_range(at..=bytes.len());
                bytes.drain(at..end);
            }
            _ => {
                let long = "9".repeat(rng.random_range(1..100_000));
                bytes.splice(at..at, long.bytes());
            }
        }
    }
    bytes
}

fn run(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_ssl-gmm")).args(args).output().expect("binary runs")
}

/// Feeds `cases` mutations of `base` (written to `file`) to the command `args(file)`.
fn fuzz(name: &str, base: &[u8], cases: usize, seed: u64, args: impl Fn(&str) -> Vec<String>) -> [usize; 2] {
    let dir = std::env::temp_dir().join(format!("ssl-gmm-fuzz-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    let file = path.to_str().unwrap();
    let mut rng = gmm_core::seeded(seed);
    let (mut ok, mut errors) = (0, 0);
    for case in 0..cases {
        let input = mutate(base, &mut rng);
        std::fs::write(&path, &input).unwrap();
        let argv = args(file);
        let out = run(&argv.iter().map(String::as_str).collect::<Vec<_>>());
        let stderr = String::from_utf8_lossy(&out.stderr);
        let shown = String::from_utf8_lossy(&input[..input.len().min(300)]).into_owned();
        assert!(!stderr.contains("panicked"), "{name} case {case}: panic\n{stderr}\ninput: {shown:?}");
        match out.status.code() {
            Some(0) => ok += 1,
            Some(3 | 4) => {
                errors += 1;
                let last = stderr.trim_end().lines().last().unwrap_or("");
                assert!(last.starts_with("error: "), "{name} case {case}: {stderr}");
            }
            code => panic!("{name} case {case}: exit {code:?}\n{stderr}\ninput: {shown:?}"),
        }
    }
    std::fs::remove_dir_all(&dir).ok();
    [ok, errors]
}

#[test]
fn mutated_csv_npy_and_json_files_never_panic() {
    let dir = std::env::temp_dir().join(format!("ssl-gmm-fuzz-base-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut bases = Vec::new();
    for ext in ["csv", "npy"] {
        let path = dir.join(format!("base.{ext}"));
        let p = path.to_str().unwrap();
        let out = run(&["sample", "--preset", "textbook", "--n", "12", "--seed", "1", "--out", p]);
        assert!(out.status.success());
        bases.push(std::fs::read(&path).unwrap());
    }
    let mixture = br#"{"weights":[0.5,0.5],"means":[[1.0,0.0],[-1.0,0.0]],"covariance":[[1.0,0.2],[0.2,2.0]]}"#;
    let fit = |method: &'static str, labels: bool| {
        move |file: &str| {
            let mut a: Vec<String> = ["fit", "--method", method, "--data", file].map(String::from).into();
            if labels {
                a.extend(["--labels-col", "last"].map(String::from));
            }
            a
        }
    };
    let counts = [
        fuzz("a.csv", &bases[0], 120, 1, fit("pca", false)),
        fuzz("b.csv", &bases[0], 80, 2, fit("lda", true)),
        fuzz("c.npy", &bases[1], 120, 3, fit("pca", false)),
        fuzz("d.npy", &bases[1], 80, 4, fit("lda", true)),
        fuzz("e.json", mixture, 120, 5, |f| ["describe", "--config", f].map(String::from).into()),
        fuzz("f.json", mixture, 80, 6, |f| {
            let out = format!("{f}.out.csv");
            ["sample", "--config", f, "--n", "5", "--out", &out].map(String::from).into()
        }),
    ];
    std::fs::remove_dir_all(&dir).ok();
    // Some mutations must keep the file valid and most must break it, or the test proves little.
    let (ok, errors): (usize, usize) = counts.iter().fold((0, 0), |(a, b), [o, e]| (a + o, b + e));
    println!("{} mutated inputs: {ok} accepted, {errors} clean errors, 0 panics", ok + errors);
    assert!(ok > 0 && errors > ok, "{counts:?}");
}
