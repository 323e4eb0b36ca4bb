//! `ssl-gmm reproduce`: the paper's experiments E1..E7 on embedded defaults, with CSV data, SVG
//! plots, a markdown report and a JSON summary; `ssl-gmm merge` combines sharded runs.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use baselines::{CcaPairs, Fit, KMeans, Lda, Pca, Predict, Shrinkage, adjusted_rand_index, normalized_mutual_info};
use gmm_core::{ClipGenerator, Gmm, LinearMap, MixtureGenerator, Side, seeded};
use nalgebra::DMatrix;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use ssl_losses::{
    Certificate, Clip, ClipStream, GmmStream, InfoNceFit, Score, StepInfo, TrainConfig, small_random_init, train,
    train_whitened_simsiam,
};

use super::fit::{compact_labels, same_class_pairs, split_labels, standardize};
use super::io::{read_csv, write_atomic};
use super::plot::{PlotSpec, Series, line_plot};

/// The sweeps of every experiment. `ssl-gmm reproduce --print-config` prints the defaults;
/// `--config FILE` overrides any subset of the fields.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Sweeps {
    /// Repetitions (seeds) of every setting.
    pub seeds: usize,
    /// Training steps of the streaming runs (whitened SimSiam: 5x this; CLIP in E6: its sweep).
    pub steps: usize,
    /// Pairs per batch (streams) and per batch of the fixed partition (InfoNCE's in-batch
    /// negatives on a fixed sample).
    pub batch: usize,
    /// Samples / pairs of every fixed-sample method (InfoNCE, CCA, PCA, LDA) and for evaluation.
    pub samples: usize,
    /// Components of the synthetic mixtures.
    pub k: usize,
    /// Dimension of the synthetic mixtures (E1, E2, E4, E5).
    pub d: usize,
    /// E1: condition numbers of Sigma.
    pub e1_conditions: Vec<f64>,
    /// E2: couplings delta.
    pub e2_deltas: Vec<f64>,
    /// E3: dimensions.
    pub e3_dims: Vec<usize>,
    /// E4: sample sizes n (a fixed sample of n pairs, trained to the certificate).
    pub e4_samples: Vec<usize>,
    /// E5: output dimensions r.
    pub e5_ranks: Vec<usize>,
    /// E6: CLIP training steps.
    pub e6_steps: Vec<usize>,
    /// E7: real data sets (`wine`, `digits`).
    pub e7_datasets: Vec<String>,
}

impl Default for Sweeps {
    fn default() -> Self {
        Self {
            seeds: 5,
            steps: 3000,
            batch: 256,
            samples: 20_000,
            k: 4,
            d: 16,
            e1_conditions: vec![1.0, 10.0, 100.0, 1000.0],
            e2_deltas: vec![1.0, 0.8, 0.6, 0.4, 0.2, 0.0],
            e3_dims: vec![8, 16, 32, 64],
            e4_samples: vec![2_000, 8_000, 32_000, 128_000],
            e5_ranks: vec![1, 3, 5, 8],
            e6_steps: vec![100, 300, 1000, 3000],
            e7_datasets: vec!["wine".into(), "digits".into()],
        }
    }
}

impl Sweeps {
    /// The reduced sweeps of `--quick`.
    pub fn quick() -> Self {
        Self {
            seeds: 2,
            steps: 800,
            samples: 5_000,
            e1_conditions: vec![1.0, 10.0, 100.0, 1000.0],
            e2_deltas: vec![1.0, 0.6, 0.2, 0.0],
            e3_dims: vec![8, 16, 32],
            e4_samples: vec![2_000, 8_000, 32_000],
            e5_ranks: vec![1, 3, 5],
            e6_steps: vec![100, 300, 1000],
            ..Self::default()
        }
    }

    fn validate(&self) -> anyhow::Result<()> {
        if self.seeds == 0 || self.steps == 0 || self.batch < 2 || self.samples < 10 || self.k < 2 || self.d < self.k {
            bail!("sweeps need seeds >= 1, steps >= 1, batch >= 2, samples >= 10, k >= 2, d >= k");
        }
        for name in &self.e7_datasets {
            if !matches!(name.as_str(), "wine" | "digits") {
                bail!("unknown data set {name:?} in e7_datasets (known: wine, digits)");
            }
        }
        Ok(())
    }
}

/// One result row (tidy: one row per experiment, setting, method, seed).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Row {
    experiment: String,
    setting: f64,
    label: String,
    method: String,
    seed: u64,
    sin_theta_max: Option<f64>,
    share_outside: Option<f64>,
    ari: Option<f64>,
    nmi: Option<f64>,
    accuracy: Option<f64>,
    singular_values: String,
    /// How the map was obtained: `lbfgs` (fixed sample, certified), `stream` (streaming SGD/Adam,
    /// no certificate), `closed-form`.
    solver: String,
    /// Pairs or samples of the fixed sample (0 for streams).
    n: usize,
    /// The certificate's verdict (`None` for closed forms, which are exact).
    converged: Option<bool>,
    /// The certificate's relative gradient norm.
    relative_grad: Option<f64>,
}

/// Experiment ids with their file stems and titles.
const EXPERIMENTS: [(&str, &str, &str); 7] = [
    ("E1", "e1_variance", "E1 variance structure: condition number of Sigma"),
    ("E2", "e2_augmentation_noise", "E2 augmentation noise: coupling delta"),
    ("E3", "e3_dimension", "E3 dimension d"),
    ("E4", "e4_sample_size", "E4 sample size n"),
    ("E5", "e5_output_dimension", "E5 output dimension r"),
    ("E6", "e6_clip", "E6 CLIP-GMM: weight outside the shared Fisher subspace"),
    ("E7", "e7_real_data", "E7 real data: k-means ARI on held-out samples"),
];

#[derive(Clone, Debug)]
struct Job {
    experiment: &'static str,
    setting: f64,
    label: String,
    seed: u64,
}

fn jobs(s: &Sweeps) -> Vec<Job> {
    let mut out = Vec::new();
    let mut add = |experiment, setting: f64, label: String| {
        for seed in 0..s.seeds as u64 {
            out.push(Job { experiment, setting, label: label.clone(), seed });
        }
    };
    s.e1_conditions.iter().for_each(|&c| add("E1", c, format!("condition {c}")));
    s.e2_deltas.iter().for_each(|&d| add("E2", d, format!("delta {d}")));
    s.e3_dims.iter().for_each(|&d| add("E3", d as f64, format!("d {d}")));
    s.e4_samples.iter().for_each(|&n| add("E4", n as f64, format!("n {n}")));
    s.e5_ranks.iter().for_each(|&r| add("E5", r as f64, format!("r {r}")));
    s.e6_steps.iter().for_each(|&t| add("E6", t as f64, format!("steps {t}")));
    s.e7_datasets.iter().enumerate().for_each(|(i, name)| add("E7", i as f64, name.clone()));
    out
}

/// Whitened SimSiam's label: it trains on a stream of fresh pairs (its recipe), not on the fixed
/// sample of the other methods, and has no certificate.
const SIMSIAM: &str = "SimSiam-whitened (stream)";

/// A learned or fitted map, by method, with how it was obtained.
struct Fitted {
    method: &'static str,
    map: LinearMap,
    solver: &'static str,
    n: usize,
    certificate: Option<Certificate>,
}

impl Fitted {
    fn closed_form(method: &'static str, map: LinearMap, n: usize) -> Self {
        Self { method, map, solver: "closed-form", n, certificate: None }
    }

    /// InfoNCE (tau = 1, one-way, dot score) on a fixed sample of pairs, to the certificate.
    fn infonce(fit: ssl_losses::SslFitted, n: usize) -> Self {
        Self { method: "InfoNCE", map: fit.map, solver: "lbfgs", n, certificate: Some(fit.certificate) }
    }
}

/// The methods on a mixture with coupling `delta`, output dimension `r`, a fixed sample of `n`
/// pairs (InfoNCE to the certificate, CCA) or samples (PCA, LDA), and whitened SimSiam on a
/// stream of `5 * steps` batches (when `simsiam`).
fn fit_methods(g: &Gmm, setup: &Setup, s: &Sweeps, seed: u64) -> anyhow::Result<Vec<Fitted>> {
    let Setup { delta, r, n, steps, simsiam, .. } = *setup;
    let pairs = g.sample_pairs(n, delta, &mut seeded(seed + 2))?;
    let infonce = InfoNceFit::new(r).batch(s.batch).seed(seed).fit(&pairs)?;
    let mut out = vec![Fitted::infonce(infonce, n)];
    if simsiam {
        // Projected SGD converges at a rate set by the smallest nonzero eigenvalue of
        // M^{-1/2} C M^{-1/2} (issue-5 finding); its steps are ~10x cheaper than InfoNCE's, so it
        // gets 5x as many. Stop-gradient dynamics have no cost to certify: reported as such.
        let whitened = TrainConfig { steps: 5 * steps, seed, ..TrainConfig::default() };
        let mut no_observer = |_: &StepInfo, _: &[DMatrix<f64>]| ControlFlow::Continue(());
        let w = train_whitened_simsiam(
            &mut GmmStream::new(g, delta, s.batch)?,
            small_random_init(r, g.dim(), 0.1, seed + 1),
            &whitened,
            &mut no_observer,
        )?
        .params
        .swap_remove(0);
        out.push(Fitted { method: SIMSIAM, map: LinearMap::new(w), solver: "stream", n: 0, certificate: None });
    }
    let cca = CcaPairs::new(r).fit(&pairs)?.map;
    let data = g.sample(n, &mut seeded(seed + 3));
    let pca = Pca::new(r).fit(&data.x)?.map;
    let lda = Lda::new().n_components(r.min(g.k() - 1)).fit(&data)?.map;
    out.extend([
        Fitted::closed_form("CCA", cca, n),
        Fitted::closed_form("PCA", pca, n),
        Fitted::closed_form("LDA", lda, n),
    ]);
    Ok(out)
}

/// k-means ARI / NMI of the projected test set, and the accuracy of an LDA classifier fitted on
/// the projected training set.
fn downstream(
    map: &LinearMap,
    train_x: &DMatrix<f64>,
    train_z: &[usize],
    test_x: &DMatrix<f64>,
    test_z: &[usize],
    k: usize,
    seed: u64,
) -> (Option<f64>, Option<f64>, Option<f64>) {
    let Ok(z_test) = map.transform(test_x) else { return (None, None, None) };
    let clusters = KMeans::new(k).seed(seed).fit(&z_test).ok();
    let ari = clusters.as_ref().and_then(|c| adjusted_rand_index(test_z, &c.labels).ok());
    let nmi = clusters.as_ref().and_then(|c| normalized_mutual_info(test_z, &c.labels).ok());
    let accuracy = map.transform(train_x).ok().and_then(|z_train| {
        let classifier = Lda::new().shrinkage(Shrinkage::Ridge(1e-9)).fit((&z_train, train_z)).ok()?;
        let pred = classifier.predict(&z_test).ok()?;
        Some(pred.iter().zip(test_z).filter(|(a, b)| a == b).count() as f64 / test_z.len() as f64)
    });
    (ari, nmi, accuracy)
}

fn row(job: &Job, method: &str) -> Row {
    Row {
        experiment: job.experiment.into(),
        setting: job.setting,
        label: job.label.clone(),
        method: method.into(),
        seed: job.seed,
        sin_theta_max: None,
        share_outside: None,
        ari: None,
        nmi: None,
        accuracy: None,
        singular_values: String::new(),
        solver: String::new(),
        n: 0,
        converged: None,
        relative_grad: None,
    }
}

/// A row for a fitted map, with how it was obtained.
fn fitted_row(job: &Job, fitted: &Fitted) -> Row {
    Row {
        solver: fitted.solver.into(),
        n: fitted.n,
        converged: fitted.certificate.map(|c| c.converged),
        relative_grad: fitted.certificate.map(|c| c.relative),
        ..row(job, fitted.method)
    }
}

/// What one mixture job varies: coupling, output dimension, fixed-sample size, streaming steps,
/// whether whitened SimSiam (a streaming method) takes part, and whether to evaluate downstream.
#[derive(Clone, Copy)]
struct Setup {
    delta: f64,
    r: usize,
    n: usize,
    steps: usize,
    simsiam: bool,
    evaluate: bool,
}

impl Setup {
    fn new(s: &Sweeps) -> Self {
        Self { delta: 1.0, r: s.k - 1, n: s.samples, steps: s.steps, simsiam: true, evaluate: false }
    }
}

fn mixture_rows(job: &Job, g: &Gmm, setup: Setup, s: &Sweeps) -> anyhow::Result<Vec<Row>> {
    let seed = 1000 * job.seed + 17;
    let f = g.fisher_subspace()?;
    let (train_set, test_set) =
        (g.sample(s.samples.min(5000), &mut seeded(seed + 5)), g.sample(s.samples.min(5000), &mut seeded(seed + 6)));
    let mut rows = Vec::new();
    for fitted in fit_methods(g, &setup, s, seed)? {
        let mut out = fitted_row(job, &fitted);
        // Containment, not ranking (docs/theory.md 5.6): sin theta_max between the smaller of
        // row(A) and F and the larger, i.e. how far F is from lying in row(A) when r > k - 1.
        out.sin_theta_max = fitted.map.row_space().ok().and_then(|l| l.sin_theta_max(&f).ok());
        out.share_outside = g.share_outside_fisher(&fitted.map.components).ok();
        out.singular_values = fitted
            .map
            .singular_values()
            .map(|v| v.iter().map(|x| format!("{x:.4e}")).collect::<Vec<_>>().join(";"))
            .unwrap_or_default();
        if setup.evaluate {
            (out.ari, out.nmi, out.accuracy) =
                downstream(&fitted.map, &train_set.x, &train_set.z, &test_set.x, &test_set.z, g.k(), seed);
        }
        rows.push(out);
    }
    Ok(rows)
}

/// Ridge `(lambda / 2) ||A~||^2` of InfoNCE in E7 (see `real_rows`).
const E7_WEIGHT_DECAY: f64 = 1e-3;

const WINE: &[u8] = include_bytes!("../../../data/wine.csv");
const DIGITS: &[u8] = include_bytes!("../../../data/digits.csv.gz");

fn real_rows(job: &Job, s: &Sweeps) -> anyhow::Result<Vec<Row>> {
    let table = match job.label.as_str() {
        "wine" => read_csv(WINE, false, "embedded wine.csv")?,
        _ => read_csv(DIGITS, true, "embedded digits.csv.gz")?,
    };
    let (mut x, labels) = split_labels(table, "last")?;
    let labels = compact_labels(&labels);
    standardize(&mut x);
    let classes = labels.iter().max().map_or(0, |m| m + 1);
    let r = classes - 1;
    // Held-out split: 70% train, 30% test, by a seeded permutation.
    let mut order: Vec<usize> = (0..x.nrows()).collect();
    rand::seq::SliceRandom::shuffle(&mut order[..], &mut seeded(job.seed + 99));
    let cut = x.nrows() * 7 / 10;
    let pick = |idx: &[usize]| (x.select_rows(idx.iter()), idx.iter().map(|&i| labels[i]).collect::<Vec<_>>());
    let ((xt, zt), (xs, zs)) = (pick(&order[..cut]), pick(&order[cut..]));
    let seed = 1000 * job.seed + 23;
    // Supervised pairing (a positive is another sample of the same class): the fixed sample of
    // every pair method. InfoNCE with a ridge: on these small image sets some pixels are constant
    // within a class, the pairs are separable along them and the fixed-sample loss has no
    // minimiser (measured on digits: the map's norm passes 2000 after 3000 L-BFGS iterations
    // with the relative gradient still at 0.23); E7_WEIGHT_DECAY makes one exist.
    let (anchors, partners) = same_class_pairs(&xt, &zt, seed + 1)?;
    let n = anchors.nrows();
    let infonce =
        InfoNceFit::new(r).batch(s.batch).weight_decay(E7_WEIGHT_DECAY).seed(seed).fit((&anchors, &partners))?;
    let ridge = 1e-6;
    let methods = [
        Fitted::infonce(infonce, n),
        Fitted::closed_form("CCA", CcaPairs::new(r).ridge(ridge).fit((&anchors, &partners))?.map, n),
        Fitted::closed_form("PCA", Pca::new(r).fit(&xt)?.map, xt.nrows()),
        Fitted::closed_form("LDA", Lda::new().shrinkage(Shrinkage::Ridge(ridge)).fit((&xt, &zt))?.map, xt.nrows()),
    ];
    let mut rows = Vec::new();
    for fitted in &methods {
        let mut out = fitted_row(job, fitted);
        (out.ari, out.nmi, out.accuracy) = downstream(&fitted.map, &xt, &zt, &xs, &zs, classes, seed);
        rows.push(out);
    }
    Ok(rows)
}

fn clip_rows(job: &Job, s: &Sweeps) -> anyhow::Result<Vec<Row>> {
    let c = ClipGenerator::new(3, 3, 8, 6).generate(&mut seeded(5))?;
    let seed = 1000 * job.seed + 31;
    let config = TrainConfig { steps: job.setting as usize, seed, ..TrainConfig::default() };
    let mut clip = Clip::new(1.0, Score::Dot)?;
    let init = vec![small_random_init(2, 8, 0.1, seed), small_random_init(2, 6, 0.1, seed + 1)];
    let out = train(&mut clip, &mut ClipStream::new(&c, s.batch)?, init, &config, &mut |_| {})?;
    let mut rows = Vec::new();
    for (side, name, a) in [(Side::X, "CLIP map A (x)", &out.params[0]), (Side::Y, "CLIP map B (y)", &out.params[1])] {
        let shared = c.shared_gmm(side)?;
        let mut r = Row { solver: "stream".into(), ..row(job, name) };
        r.share_outside = shared.share_outside_fisher(a).ok();
        r.sin_theta_max = LinearMap::new(a.clone())
            .top_subspace(2)
            .ok()
            .and_then(|l| l.sin_theta_max(&shared.fisher_subspace().ok()?).ok());
        rows.push(r);
    }
    Ok(rows)
}

fn run_job(job: &Job, s: &Sweeps) -> anyhow::Result<Vec<Row>> {
    let seed = 7919 * job.seed + 1;
    let base =
        |d: usize| MixtureGenerator::isotropic(s.k, d).condition(30.0).noise_direction(2.0).generate(&mut seeded(seed));
    let setup = Setup::new(s);
    match job.experiment {
        "E1" => {
            let g = MixtureGenerator::isotropic(s.k, s.d).condition(job.setting).generate(&mut seeded(seed))?;
            mixture_rows(job, &g, setup, s)
        }
        "E2" => mixture_rows(job, &base(s.d)?, Setup { delta: job.setting, evaluate: true, ..setup }, s),
        "E3" => mixture_rows(job, &base(job.setting as usize)?, setup, s),
        // Sample size is E4's axis: fixed samples only (whitened SimSiam trains on a stream).
        "E4" => mixture_rows(job, &base(s.d)?, Setup { n: job.setting as usize, simsiam: false, ..setup }, s),
        "E5" => mixture_rows(job, &base(s.d)?, Setup { r: (job.setting as usize).min(s.d), ..setup }, s),
        "E6" => clip_rows(job, s),
        _ => real_rows(job, s),
    }
    .with_context(|| format!("{} {} seed {}", job.experiment, job.label, job.seed))
}

/// Arguments of `reproduce`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Reduced sweeps (under 3 minutes on 2 cores).
    #[arg(long)]
    quick: bool,
    /// Output folder.
    #[arg(long, default_value = "results")]
    out: PathBuf,
    /// Sweeps from a JSON file (any subset of the fields of --print-config).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Print the sweeps in force as JSON and exit.
    #[arg(long)]
    print_config: bool,
    /// Run only part I of N (`I/N`, 0-based) of the settings; combine with `ssl-gmm merge`.
    #[arg(long)]
    shard: Option<String>,
    /// No progress bars.
    #[arg(long)]
    quiet: bool,
}

/// Arguments of `merge`.
#[derive(Debug, clap::Args)]
pub struct MergeArgs {
    /// Output folders of shards.
    #[arg(required = true)]
    dirs: Vec<PathBuf>,
    /// Where to write the merged CSVs, plots and report.
    #[arg(long, default_value = "results")]
    out: PathBuf,
}

fn parse_shard(spec: &str) -> anyhow::Result<(usize, usize)> {
    let (i, n) = spec.split_once('/').context("--shard takes I/N, e.g. 0/4")?;
    let (i, n): (usize, usize) =
        (i.parse().context("--shard I/N: I is not a number")?, n.parse().context("--shard I/N: N is not a number")?);
    if n == 0 || i >= n {
        bail!("--shard I/N needs 0 <= I < N, got {i}/{n}");
    }
    Ok((i, n))
}

/// Runs `reproduce`.
pub fn run(args: &Args) -> anyhow::Result<()> {
    let sweeps = match &args.config {
        Some(path) => {
            let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
            serde_json::from_str(&text).with_context(|| format!("invalid sweeps in {}", path.display()))?
        }
        None if args.quick => Sweeps::quick(),
        None => Sweeps::default(),
    };
    if args.print_config {
        println!("{}", serde_json::to_string_pretty(&sweeps)?);
        return Ok(());
    }
    sweeps.validate()?;
    let (shard, shards) = args.shard.as_deref().map(parse_shard).transpose()?.unwrap_or((0, 1));
    let all = jobs(&sweeps);
    let mine: Vec<Job> = all.into_iter().enumerate().filter(|(i, _)| i % shards == shard).map(|(_, j)| j).collect();
    std::fs::create_dir_all(&args.out).with_context(|| format!("cannot create {}", args.out.display()))?;
    let show = !args.quiet && std::io::stderr().is_terminal();
    let bars = indicatif::MultiProgress::new();
    let mut per_experiment: BTreeMap<&str, indicatif::ProgressBar> = BTreeMap::new();
    for (id, _, title) in EXPERIMENTS {
        let count = mine.iter().filter(|j| j.experiment == id).count() as u64;
        let bar = if show { bars.add(indicatif::ProgressBar::new(count)) } else { indicatif::ProgressBar::hidden() };
        bar.set_style(indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} {msg}").expect("static template"));
        bar.set_message(title);
        per_experiment.insert(id, bar);
    }
    let start = std::time::Instant::now();
    let results: Vec<anyhow::Result<Vec<Row>>> = mine
        .par_iter()
        .map(|job| {
            let r = run_job(job, &sweeps);
            per_experiment[job.experiment].inc(1);
            r
        })
        .collect();
    per_experiment.values().for_each(|b| b.finish_and_clear());
    let mut rows = Vec::new();
    for r in results {
        rows.extend(r?);
    }
    write_csvs(&rows, &args.out)?;
    if shards == 1 {
        write_report(&rows, &args.out, start.elapsed().as_secs_f64())?;
        eprintln!(
            "wrote {} rows, 7 CSVs, 7 plots, report.md and summary.json to {} in {:.1} s",
            rows.len(),
            args.out.display(),
            start.elapsed().as_secs_f64()
        );
    } else {
        eprintln!(
            "shard {shard}/{shards}: wrote {} rows to {}; combine the shards with `ssl-gmm merge`",
            rows.len(),
            args.out.display()
        );
    }
    Ok(())
}

fn write_csvs(rows: &[Row], out: &Path) -> anyhow::Result<()> {
    for (id, stem, _) in EXPERIMENTS {
        let path = out.join(format!("{stem}.csv"));
        write_atomic(&path, |w| {
            let mut csv = csv::Writer::from_writer(w);
            for r in rows.iter().filter(|r| r.experiment == id) {
                csv.serialize(r)?;
            }
            csv.flush()?;
            Ok(())
        })?;
    }
    Ok(())
}

/// Runs `merge`.
pub fn merge(args: &MergeArgs) -> anyhow::Result<()> {
    let mut rows = Vec::new();
    for dir in &args.dirs {
        for (_, stem, _) in EXPERIMENTS {
            let path = dir.join(format!("{stem}.csv"));
            if !path.exists() {
                continue;
            }
            let mut reader =
                csv::Reader::from_path(&path).with_context(|| format!("cannot read {}", path.display()))?;
            for r in reader.deserialize::<Row>() {
                rows.push(r.with_context(|| format!("bad row in {}", path.display()))?);
            }
        }
    }
    if rows.is_empty() {
        bail!("no shard CSVs found in the given folders");
    }
    rows.sort_by(|a, b| {
        (&a.experiment, a.setting, &a.method, a.seed)
            .partial_cmp(&(&b.experiment, b.setting, &b.method, b.seed))
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    std::fs::create_dir_all(&args.out)?;
    write_csvs(&rows, &args.out)?;
    write_report(&rows, &args.out, f64::NAN)?;
    eprintln!("merged {} rows into {}", rows.len(), args.out.display());
    Ok(())
}

/// Mean and spread (min, max over seeds) of a metric per method and setting.
type Stats = BTreeMap<String, Vec<(f64, String, f64, f64, f64, usize)>>;

fn stats(rows: &[Row], id: &str, metric: fn(&Row) -> Option<f64>) -> Stats {
    let mut groups: BTreeMap<(String, u64, String), Vec<f64>> = BTreeMap::new();
    for r in rows.iter().filter(|r| r.experiment == id) {
        if let Some(v) = metric(r).filter(|v| v.is_finite()) {
            groups.entry((r.method.clone(), r.setting.to_bits(), r.label.clone())).or_default().push(v);
        }
    }
    let mut out: Stats = BTreeMap::new();
    for ((method, bits, label), v) in groups {
        let mean = v.iter().sum::<f64>() / v.len() as f64;
        let (lo, hi) = v.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &x| (a.min(x), b.max(x)));
        out.entry(method).or_default().push((f64::from_bits(bits), label, mean, lo, hi, v.len()));
    }
    for v in out.values_mut() {
        v.sort_by(|a, b| a.0.total_cmp(&b.0));
    }
    out
}

fn slope(points: &[(f64, String, f64, f64, f64, usize)]) -> f64 {
    let xs: Vec<f64> = points.iter().map(|p| p.0).collect();
    let ys: Vec<f64> = points.iter().map(|p| p.2.max(1e-300)).collect();
    theory_checks::common::log_log_slope(&xs, &ys)
}

/// How an experiment is plotted: id, metric, its name, log x, log y, x-axis label.
struct View(&'static str, fn(&Row) -> Option<f64>, &'static str, bool, bool, &'static str);

fn write_report(rows: &[Row], out: &Path, seconds: f64) -> anyhow::Result<()> {
    let sin: fn(&Row) -> Option<f64> = |r| r.sin_theta_max;
    let ari: fn(&Row) -> Option<f64> = |r| r.ari;
    let share: fn(&Row) -> Option<f64> = |r| r.share_outside;
    let views: [View; 7] = [
        View("E1", sin, "sin theta_max to F", true, false, "condition number of Sigma"),
        View("E2", sin, "sin theta_max to F", false, false, "coupling delta"),
        View("E3", sin, "sin theta_max to F", true, false, "dimension d"),
        View("E4", sin, "sin theta_max to F", true, true, "samples / pairs n"),
        View("E5", sin, "sin theta_max: F against row(A) (containment)", false, false, "output dimension r"),
        View("E6", share, "share outside the shared Fisher subspace", true, true, "training steps"),
        View("E7", ari, "k-means ARI (held-out)", false, false, "data set"),
    ];
    let mut report = String::from(
        "# Reproduction report\n\nBansal, Kavis, Sanghavi, *Understanding Self-Supervised Learning via Gaussian Mixture Models* (arXiv 2411.03517): linear encoders trained with InfoNCE and whitened SimSiam on augmentation pairs, against CCA on pairs (label-free, closed form), PCA and supervised LDA. Every number is a mean over seeds; error bars span min..max over seeds.\n\n",
    );
    if seconds.is_finite() {
        report.push_str(&format!("Run time: {seconds:.1} s.\n\n"));
    }
    let certified: Vec<&Row> = rows.iter().filter(|r| r.converged.is_some()).collect();
    let failed = certified.iter().filter(|r| r.converged == Some(false)).count();
    report.push_str(&format!(
        "How each map is obtained. InfoNCE (tau = 1, one-way, dot score): a fixed sample of n pairs, the mean batch loss over a fixed partition into batches, on centred and whitened inputs (label-free), minimised by L-BFGS to a relative gradient norm of 1e-5 (the certificate, docs/theory.md 5.3): {} of {} fits certified{}. CCA on pairs, PCA and LDA: closed forms on the same n. {SIMSIAM}: its recipe (projected SGD with momentum under A M A^T = I) on a stream of fresh pairs, 5x the streaming step budget; stop-gradient dynamics minimise no cost, so it has no certificate and sees far more data than n. E7 pairs samples of the same class (supervised pairing). Columns `solver`, `n`, `converged` and `relative_grad` of the CSVs say this per row.\n\n",
        certified.len() - failed,
        certified.len(),
        if failed > 0 { "; the others are marked \"not certified\" in the plots" } else { "" }
    ));
    let mut headline = String::from("| experiment | method | setting | value |\n|---|---|---|---|\n");
    let mut summary = serde_json::Map::new();
    let mut sections = String::new();
    for View(id, metric, name, log_x, log_y, x_label) in views {
        let (_, stem, title) = EXPERIMENTS.iter().find(|e| e.0 == id).expect("known id");
        let st = stats(rows, id, metric);
        if st.is_empty() {
            continue;
        }
        let uncertified =
            |m: &str| rows.iter().any(|r| r.experiment == id && r.method == m && r.converged == Some(false));
        let series: Vec<Series> = st
            .iter()
            .map(|(m, pts)| Series {
                label: if uncertified(m) { format!("{m} (not certified)") } else { m.clone() },
                points: pts.iter().map(|p| (p.0.max(if log_x { 1e-9 } else { f64::MIN }), p.2, p.3, p.4)).collect(),
            })
            .collect();
        let x_names: Vec<String> = if id == "E7" {
            let mut names: Vec<(u64, String)> =
                rows.iter().filter(|r| r.experiment == "E7").map(|r| (r.setting.to_bits(), r.label.clone())).collect();
            names.sort();
            names.dedup();
            names.into_iter().map(|(_, n)| n).collect()
        } else {
            Vec::new()
        };
        let spec = PlotSpec { title, x_label, y_label: name, log_x, log_y, x_names };
        line_plot(&out.join(format!("{stem}.svg")), &spec, &series)?;
        let mut json = serde_json::Map::new();
        for (m, pts) in &st {
            let last = pts.last().expect("non-empty");
            headline.push_str(&format!("| {id} | {m} | {} | {:.3} |\n", last.1, last.2));
            json.insert(m.clone(), serde_json::json!(pts.iter().map(|p| serde_json::json!({"setting": p.0, "label": p.1, "mean": p.2, "min": p.3, "max": p.4, "seeds": p.5})).collect::<Vec<_>>()));
        }
        summary.insert(id.into(), serde_json::json!({"metric": name, "methods": json}));
        let get = |m: &str| st.get(m).and_then(|p| p.last()).map(|p| p.2);
        let sentence = match id {
            "E1" => format!(
                "sin theta_max to F at the largest condition number (lower is better): PCA {:.3}, InfoNCE {:.3}, SimSiam-whitened {:.3}, CCA {:.3}, LDA {:.3}; the plot shows where each method departs from the Fisher subspace as Sigma becomes anisotropic.",
                get("PCA").unwrap_or(f64::NAN),
                get("InfoNCE").unwrap_or(f64::NAN),
                get(SIMSIAM).unwrap_or(f64::NAN),
                get("CCA").unwrap_or(f64::NAN),
                get("LDA").unwrap_or(f64::NAN)
            ),
            "E2" => {
                let at = |m: &str, k: usize| {
                    st.get(m).and_then(|p| p.get(k)).map(|p| (p.0, p.2)).unwrap_or((f64::NAN, f64::NAN))
                };
                let ((d0, e0), (d1, e1)) = (at("InfoNCE", 0), at("InfoNCE", 1));
                format!(
                    "InfoNCE's sin theta_max to F is {e1:.3} at delta = {d1} and {e0:.3} at delta = {d0} (no signal); LDA uses labels and does not depend on delta."
                )
            }
            "E3" => format!(
                "At the largest dimension: InfoNCE {:.3}, CCA {:.3}, LDA {:.3}, PCA {:.3}.",
                get("InfoNCE").unwrap_or(f64::NAN),
                get("CCA").unwrap_or(f64::NAN),
                get("LDA").unwrap_or(f64::NAN),
                get("PCA").unwrap_or(f64::NAN)
            ),
            "E4" => format!(
                "Log-log slopes of the error against n (theory: -1/2 for the consistent methods): {}.",
                st.iter().map(|(m, p)| format!("{m} {:.2}", slope(p))).collect::<Vec<_>>().join(", ")
            ),
            "E5" => {
                let weight = stats(rows, id, share);
                let w = |m: &str| weight.get(m).and_then(|p| p.last()).map_or(f64::NAN, |p| p.2);
                format!(
                    "Containment, not ranking (docs/theory.md 5.6): at the largest r, F lies in row(A) up to sin theta_max {:.3} for InfoNCE and {:.3} for CCA (PCA: {:.3}). The weight on the extra directions, the share of ||A Sigma^1/2||^2 outside F (in the CSV), is a separate statistic: InfoNCE {:.3}, CCA {:.3}; a whitening constraint (CCA, whitened SimSiam) forces it up at the exact optimum, so it is not a failure.",
                    get("InfoNCE").unwrap_or(f64::NAN),
                    get("CCA").unwrap_or(f64::NAN),
                    get("PCA").unwrap_or(f64::NAN),
                    w("InfoNCE"),
                    w("CCA")
                )
            }
            "E6" => format!(
                "CLIP's weight outside each modality's shared Fisher subspace falls with training to {:.2e} (x) and {:.2e} (y): the private directions are filtered out.",
                get("CLIP map A (x)").unwrap_or(f64::NAN),
                get("CLIP map B (y)").unwrap_or(f64::NAN)
            ),
            _ => format!(
                "Held-out k-means ARI on the last data set: InfoNCE {:.3}, CCA {:.3}, LDA {:.3}, PCA {:.3}.",
                get("InfoNCE").unwrap_or(f64::NAN),
                get("CCA").unwrap_or(f64::NAN),
                get("LDA").unwrap_or(f64::NAN),
                get("PCA").unwrap_or(f64::NAN)
            ),
        };
        sections.push_str(&format!("## {title}\n\n{sentence}\n\n![{id}]({stem}.svg)\n\nData: `{stem}.csv`.\n\n"));
    }
    report.push_str("## Headline numbers (largest setting of each sweep)\n\n");
    report.push_str(&headline);
    report.push('\n');
    report.push_str(&sections);
    write_atomic(&out.join("report.md"), |w| Ok(std::io::Write::write_all(w, report.as_bytes())?))?;
    write_atomic(&out.join("summary.json"), |w| Ok(serde_json::to_writer_pretty(w, &summary)?))?;
    Ok(())
}
