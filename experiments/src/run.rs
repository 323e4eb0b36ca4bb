//! The runner: jobs (experiment x setting x seed), the methods each job fits, and its rows.

use baselines::{CcaPairs, Fit, KMeans, Lda, Pca, Predict, Shrinkage, adjusted_rand_index, normalized_mutual_info};
use gmm_core::nalgebra::DMatrix;
use gmm_core::{ClipGenerator, Gmm, LinearMap, MixtureGenerator, Side, seeded};
use serde::{Deserialize, Serialize};
use ssl_losses::{
    Centering, Certificate, Clip, ClipStream, FixedPairs, GmmStream, InfoNceFit, PairSource, PreconditionedSource,
    Preconditioner, Score, Sides, TrainConfig, WHITENED_TOL, WhitenedCertificate, Whitening, small_random_init, train,
    train_whitened_simsiam, train_whitened_simsiam_certified, whitened_budget,
};

use crate::data::{Dataset, same_class_pairs};
use crate::error::{ExperimentError, Result};
use crate::experiment::Experiment;
use crate::sweeps::Sweeps;

/// One result row (tidy: one row per experiment, setting, method, seed).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Row {
    /// The experiment.
    pub experiment: Experiment,
    /// The swept value (condition number, delta, d, n, r, steps, or the data set's index).
    pub setting: f64,
    /// The setting as shown, e.g. `condition 100`.
    pub label: String,
    /// The method.
    pub method: String,
    /// The repetition.
    pub seed: u64,
    /// `sin theta_max` between the smaller and the larger of row(A) and the reference subspace.
    pub sin_theta_max: Option<f64>,
    /// Share of `||A Sigma^{1/2}||_F^2` outside the Fisher coordinates.
    pub share_outside: Option<f64>,
    /// Held-out k-means ARI.
    pub ari: Option<f64>,
    /// Held-out k-means NMI.
    pub nmi: Option<f64>,
    /// Held-out accuracy of an LDA classifier on the representation.
    pub accuracy: Option<f64>,
    /// Singular values of the map, `;`-separated.
    pub singular_values: String,
    /// How the map was obtained: `lbfgs` (fixed sample, certified), `stream` (streaming SGD/Adam,
    /// no certificate), `closed-form`.
    pub solver: String,
    /// Pairs or samples of the fixed sample (0 for streams).
    pub n: usize,
    /// The certificate's verdict: `Some(false)` for a trained map without one (streams,
    /// epochs), `None` for closed forms, which are exact.
    pub converged: Option<bool>,
    /// The certificate's relative gradient norm (InfoNCE).
    pub relative_grad: Option<f64>,
    /// The certificate of whitened SimSiam: `sin theta_max` to the optimum of the problem its
    /// recipe solves (population moments for a stream, the sample's for epochs).
    pub sin_to_optimum: Option<f64>,
    /// E7 and E8, on every row of a job: the share of its pairs' cross-covariance along CCA's
    /// directions that is within-class ([`baselines::CcaFit::within_class_share`], labels used
    /// for this diagnostic only). The paper's augmentation model makes it noise (about 0);
    /// pairs that keep an image's style in both views make it large.
    pub within_class_share: Option<f64>,
}

/// One unit of work: an experiment at one setting and seed. Jobs are seeded on their own, so
/// results do not depend on the order they run in or on the thread count.
#[derive(Clone, Debug, PartialEq)]
pub struct Job {
    /// The experiment.
    pub experiment: Experiment,
    /// The swept value.
    pub setting: f64,
    /// The setting as shown.
    pub label: String,
    /// The repetition.
    pub seed: u64,
}

/// Every job of the sweeps, in a fixed order (experiment, setting, seed).
pub fn jobs(s: &Sweeps) -> Vec<Job> {
    let mut out = Vec::new();
    let mut add = |experiment: Experiment, setting: f64, label: String| {
        for seed in 0..s.seeds as u64 {
            out.push(Job { experiment, setting, label: label.clone(), seed });
        }
    };
    s.e1_conditions.iter().for_each(|&c| add(Experiment::E1, c, format!("condition {c}")));
    s.e2_deltas.iter().for_each(|&d| add(Experiment::E2, d, format!("delta {d}")));
    s.e3_dims.iter().for_each(|&d| add(Experiment::E3, d as f64, format!("d {d}")));
    s.e4_samples.iter().for_each(|&n| add(Experiment::E4, n as f64, format!("n {n}")));
    s.e5_ranks.iter().for_each(|&r| add(Experiment::E5, r as f64, format!("r {r}")));
    s.e6_steps.iter().for_each(|&t| add(Experiment::E6, t as f64, format!("steps {t}")));
    s.e7_datasets.iter().enumerate().for_each(|(i, set)| add(Experiment::E7, i as f64, set.name().into()));
    if s.e8_pairs_per_image > 0 {
        s.e8_recipes.iter().enumerate().for_each(|(i, recipe)| add(Experiment::E8, i as f64, recipe.label()));
    }
    out
}

/// Whitened SimSiam's label: it trains on a stream of fresh pairs (its recipe), not on the fixed
/// sample of the other methods; certified by its distance to the population optimum.
pub(crate) const SIMSIAM: &str = "SimSiam-whitened, stream";

/// Whitened SimSiam's label in E8: its recipe over epochs of the fixed augmented pairs, certified
/// by its distance to the optimum on those pairs' moments.
pub(crate) const SIMSIAM_EPOCHS: &str = "SimSiam-whitened, epochs";

/// How a map's convergence is known.
enum Cert {
    /// A closed form: exact.
    Exact,
    /// L-BFGS on a fixed sample: the relative gradient norm.
    Gradient(Certificate),
    /// Whitened SimSiam's recipe: the distance to the optimum of its problem.
    Whitened(WhitenedCertificate),
    /// No certificate could be computed (e.g. no eigengap): not converged as far as anyone can
    /// tell.
    Missing,
}

/// A learned or fitted map, by method, with how it was obtained.
struct Fitted {
    method: &'static str,
    map: LinearMap,
    solver: &'static str,
    n: usize,
    cert: Cert,
}

impl Fitted {
    fn closed_form(method: &'static str, map: LinearMap, n: usize) -> Self {
        Self { method, map, solver: "closed-form", n, cert: Cert::Exact }
    }

    /// InfoNCE (tau = 1, one-way, dot score) on a fixed sample of pairs, to the certificate.
    fn infonce(fit: ssl_losses::SslFitted, n: usize) -> Self {
        let cert = fit.run.certificate.map_or(Cert::Missing, Cert::Gradient);
        Self { method: "InfoNCE", map: fit.map, solver: "lbfgs", n, cert }
    }
}

/// The methods on a mixture with coupling `delta`, output dimension `r`, a fixed sample of `n`
/// pairs (InfoNCE to the certificate, CCA) or samples (PCA, LDA), and whitened SimSiam on a
/// stream of `5 * steps` batches (when `simsiam`).
fn fit_methods(g: &Gmm, setup: &Setup, s: &Sweeps, seed: u64) -> Result<Vec<Fitted>> {
    let Setup { delta, r, n, steps, simsiam, .. } = *setup;
    let pairs = g.sample_pairs(n, delta, &mut seeded(seed + 2))?;
    let infonce = InfoNceFit::new(r).batch(s.batch).seed(seed).fit(&pairs)?;
    let mut out = vec![Fitted::infonce(infonce, n)];
    if simsiam {
        out.push(whitened_simsiam_stream(g, delta, r, (steps, s.batch), seed)?);
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

/// Whitened SimSiam by its recipe on a stream of pairs with coupling `delta`, certified against
/// the population problem (docs/theory.md 5.3); see [`certified_whitened`] for the budget.
/// Without a signal (`delta = 0`) there is no optimum to certify against: one run of 5x the
/// budget, reported as not converged.
fn whitened_simsiam_stream(g: &Gmm, delta: f64, r: usize, (steps, batch): (usize, usize), seed: u64) -> Result<Fitted> {
    let (m, c) = (g.second_moment(), g.cross_moment(delta)?);
    let mut source =
        || -> ssl_losses::Result<Box<dyn PairSource + '_>> { Ok(Box::new(GmmStream::new(g, delta, batch)?)) };
    if whitened_budget(&m, &c, r, 0).is_err() {
        let config = TrainConfig { steps: 5 * steps, seed, ..TrainConfig::default() };
        let init = small_random_init(r, g.dim(), 0.1, seed + 1);
        let w = train_whitened_simsiam(source()?.as_mut(), init, &config, 1.0, &mut ())?.params.swap_remove(0);
        return Ok(Fitted { method: SIMSIAM, map: LinearMap::new(w), solver: "stream", n: 0, cert: Cert::Missing });
    }
    let (a, cert) = certified_whitened(&mut source, r, (&m, &c), (steps, batch), seed)?;
    Ok(Fitted { method: SIMSIAM, map: LinearMap::new(a), solver: "stream", n: 0, cert })
}

/// Whitened SimSiam's recipe on batches of `batch` pairs from `source` (`r` outputs), run to its
/// certificate against the problem with moments `(m, c)` ([`train_whitened_simsiam_certified`]:
/// up to 4 random starts, each stopping once certified; the predictor's rate from the problem,
/// [`ssl_losses::whitened_predictor_rate`]). The recipe approaches the optimum at a rate set by
/// the eigenvalues of `M^{-1/2} C M^{-1/2}`, so a start's budget is [`whitened_budget`] between
/// 5x and 25x `steps`, the budget of the gradient-based methods (its steps are ~10x cheaper than
/// InfoNCE's); a run that ends uncertified says so. Returns the map (in the coordinates of `m`)
/// and its certificate.
fn certified_whitened<'a>(
    source: &mut dyn FnMut() -> ssl_losses::Result<Box<dyn PairSource + 'a>>,
    r: usize,
    (m, c): (&DMatrix<f64>, &DMatrix<f64>),
    (steps, batch): (usize, usize),
    seed: u64,
) -> Result<(DMatrix<f64>, Cert)> {
    let budget = whitened_budget(m, c, r, 5 * steps)?.min(25 * steps);
    let config = TrainConfig { steps: budget, seed, ..TrainConfig::default() };
    let mut init = |start: usize| small_random_init(r, m.nrows(), 0.1, seed + 1 + 7919 * start as u64);
    let mut run = train_whitened_simsiam_certified(source, &mut init, &config, batch, (m, c), WHITENED_TOL)?;
    Ok((run.trained.params.swap_remove(0), Cert::Whitened(run.certificate)))
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
        experiment: job.experiment,
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
        sin_to_optimum: None,
        within_class_share: None,
    }
}

/// A row for a fitted map, with how it was obtained.
fn fitted_row(job: &Job, fitted: &Fitted) -> Row {
    Row {
        solver: fitted.solver.into(),
        n: fitted.n,
        // A trained map without a certificate is not converged as far as anyone can tell;
        // closed forms are exact (None).
        converged: match &fitted.cert {
            Cert::Exact => None,
            Cert::Gradient(c) => Some(c.converged),
            Cert::Whitened(c) => Some(c.converged),
            Cert::Missing => Some(false),
        },
        relative_grad: if let Cert::Gradient(c) = &fitted.cert { Some(c.relative) } else { None },
        sin_to_optimum: if let Cert::Whitened(c) = &fitted.cert { Some(c.sin_to_optimum) } else { None },
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

fn mixture_rows(job: &Job, g: &Gmm, setup: Setup, s: &Sweeps) -> Result<Vec<Row>> {
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
        out.share_outside = g.share_outside_fisher(fitted.map.components()).ok();
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

fn real_rows(job: &Job, s: &Sweeps) -> Result<Vec<Row>> {
    let dataset: Dataset = job.label.parse()?;
    let (x, labels) = dataset.load()?;
    let classes = labels.iter().max().map_or(0, |m| m + 1);
    let r = classes - 1;
    // Held-out split: 70% train, 30% test, by a seeded permutation.
    let mut order: Vec<usize> = (0..x.nrows()).collect();
    gmm_core::rand::seq::SliceRandom::shuffle(&mut order[..], &mut seeded(job.seed + 99));
    let cut = x.nrows() * 7 / 10;
    let pick = |idx: &[usize]| (x.select_rows(idx.iter()), idx.iter().map(|&i| labels[i]).collect::<Vec<_>>());
    let ((xt, zt), (xs, zs)) = (pick(&order[..cut]), pick(&order[cut..]));
    let seed = 1000 * job.seed + 23;
    // Supervised pairing (a positive is another sample of the same class): the fixed sample of
    // every pair method. InfoNCE with a ridge: on these small image sets some pixels are constant
    // within a class, the pairs are separable along them and the fixed-sample loss has no
    // minimiser (measured on digits: the map's norm passes 2000 after 3000 L-BFGS iterations
    // with the relative gradient still at 0.23); E7_WEIGHT_DECAY makes one exist.
    let pairs = same_class_pairs(&xt, &zt, seed + 1)?;
    let (anchors, partners) = (&pairs.anchors, &pairs.partners);
    let n = anchors.nrows();
    let infonce =
        InfoNceFit::new(r).batch(s.batch).weight_decay(E7_WEIGHT_DECAY).seed(seed).fit((anchors, partners))?;
    let ridge = 1e-6;
    let cca = CcaPairs::new(r).ridge(ridge).fit((anchors, partners))?;
    let share = cca.within_class_share((anchors, partners), &pairs.labels)?;
    let methods = [
        Fitted::infonce(infonce, n),
        Fitted::closed_form("CCA", cca.map, n),
        Fitted::closed_form("PCA", Pca::new(r).fit(&xt)?.map, xt.nrows()),
        Fitted::closed_form("LDA", Lda::new().shrinkage(Shrinkage::Ridge(ridge)).fit((&xt, &zt))?.map, xt.nrows()),
    ];
    let mut rows = Vec::new();
    for fitted in &methods {
        let mut out = Row { within_class_share: Some(share), ..fitted_row(job, fitted) };
        (out.ari, out.nmi, out.accuracy) = downstream(&fitted.map, &xt, &zt, &xs, &zs, classes, seed);
        rows.push(out);
    }
    Ok(rows)
}

/// k-means ARI and NMI of the held-out samples after whitening the representation by its own
/// covariance on the training samples (label-free: k-means then sees the same metric whatever
/// invertible map inside the subspace a method chose).
fn whitened_clustering(
    map: &LinearMap,
    train_x: &DMatrix<f64>,
    test_x: &DMatrix<f64>,
    test_z: &[usize],
    k: usize,
    seed: u64,
) -> Result<(f64, f64)> {
    let z_train = map.transform(train_x)?;
    let pre = Preconditioner::fit(&z_train, Centering::SampleMean, Whitening::SampleCovariance)?;
    let z_test = pre.apply(&map.transform(test_x)?)?;
    let clusters = KMeans::new(k).seed(seed).fit(&z_test)?;
    Ok((adjusted_rand_index(test_z, &clusters.labels)?, normalized_mutual_info(test_z, &clusters.labels)?))
}

/// E8: the digits, two label-free augmented views of a training image per pair; InfoNCE to the
/// certificate and whitened SimSiam (its recipe, epochs over the same pairs) against PCA and
/// supervised LDA on the training images; held-out k-means after whitening.
fn augmented_rows(job: &Job, s: &Sweeps) -> Result<Vec<Row>> {
    let (images, labels) = Dataset::Digits.load_raw()?;
    let classes = labels.iter().max().map_or(0, |m| m + 1);
    let r = classes - 1;
    let mut order: Vec<usize> = (0..images.nrows()).collect();
    gmm_core::rand::seq::SliceRandom::shuffle(&mut order[..], &mut seeded(job.seed + 199));
    let cut = images.nrows() * 7 / 10;
    let pick = |idx: &[usize]| (images.select_rows(idx.iter()), idx.iter().map(|&i| labels[i]).collect::<Vec<_>>());
    let ((xt, zt), (xs, zs)) = (pick(&order[..cut]), pick(&order[cut..]));
    let seed = 1000 * job.seed + 41;
    let recipe = s
        .e8_recipes
        .get(job.setting as usize)
        .ok_or_else(|| ExperimentError::Config(format!("E8 setting {} names no recipe of e8_recipes", job.setting)))?;
    let (left, right) = recipe.pairs(&xt, s.e8_pairs_per_image, &mut seeded(seed))?;
    let n = left.nrows();
    // Both views of pair i are of training image i / per_image: its label, for the diagnostic.
    let pair_labels: Vec<usize> = zt.iter().flat_map(|&z| std::iter::repeat_n(z, s.e8_pairs_per_image)).collect();
    let cca = CcaPairs::new(r).ridge(1e-6).fit((&left, &right))?;
    let share = cca.within_class_share((&left, &right), &pair_labels)?;
    let infonce = InfoNceFit::new(r).batch(s.batch).seed(seed).fit((&left, &right))?;
    // Whitened SimSiam on the same pairs, in InfoNCE's coordinates (centred and whitened by the
    // pairs' own statistics), epochs over them.
    let pre = infonce.preconditioner.clone();
    let (lt, rt) = (pre.apply(&left)?, pre.apply(&right)?);
    // The moments of the problem the epochs solve, the pairs' own: its certificate's reference.
    let m = (lt.transpose() * &lt + rt.transpose() * &rt) / (2 * n) as f64;
    let c = rt.transpose() * &lt / n as f64;
    let batch = s.batch.min(n);
    let mut epochs = || -> ssl_losses::Result<Box<dyn PairSource + '_>> {
        Ok(Box::new(FixedPairs::new(lt.clone(), rt.clone(), batch)?))
    };
    let (siam, cert) = certified_whitened(&mut epochs, r, (&m, &c), (s.steps, batch), seed)?;
    let methods = [
        Fitted::infonce(infonce, n),
        Fitted { method: SIMSIAM_EPOCHS, map: pre.map_back(&siam)?, solver: "epochs", n, cert },
        Fitted::closed_form("CCA", cca.map, n),
        Fitted::closed_form("PCA", Pca::new(r).fit(&xt)?.map, xt.nrows()),
        Fitted::closed_form("LDA", Lda::new().shrinkage(Shrinkage::Ridge(1e-6)).fit((&xt, &zt))?.map, xt.nrows()),
    ];
    let mut rows = Vec::new();
    for fitted in &methods {
        let mut out = Row { within_class_share: Some(share), ..fitted_row(job, fitted) };
        let (ari, nmi) = whitened_clustering(&fitted.map, &xt, &xs, &zs, classes, seed)?;
        (out.ari, out.nmi) = (Some(ari), Some(nmi));
        rows.push(out);
    }
    Ok(rows)
}

fn clip_rows(job: &Job, s: &Sweeps) -> Result<Vec<Row>> {
    let c = ClipGenerator::new(3, 3, 8, 6).generate(&mut seeded(5))?;
    let seed = 1000 * job.seed + 31;
    let config = TrainConfig { steps: job.setting as usize, seed, ..TrainConfig::default() };
    let mut clip = Clip::new(1.0, Score::Dot)?;
    let init = vec![small_random_init(2, 8, 0.1, seed), small_random_init(2, 6, 0.1, seed + 1)];
    // Label-free preconditioning per modality, from a warm-up sample of 16 batches (its own seed).
    let mut stream = PreconditionedSource::new(
        ClipStream::new(&c, s.batch)?,
        16,
        seed ^ 0x5741_524d,
        Sides::Separate,
        Centering::SampleMean,
        Whitening::SampleCovariance,
    )?;
    let out = train(&mut clip, &mut stream, init, &config, &mut ())?;
    let (a, b) = (
        stream.map_back(&out.params[0], false)?.into_components(),
        stream.map_back(&out.params[1], true)?.into_components(),
    );
    let mut rows = Vec::new();
    for (side, name, a) in [(Side::X, "CLIP map A (x)", &a), (Side::Y, "CLIP map B (y)", &b)] {
        let shared = c.shared_gmm(side)?;
        let mut r = Row { solver: "stream".into(), converged: Some(false), ..row(job, name) };
        r.share_outside = shared.share_outside_fisher(a).ok();
        r.sin_theta_max = LinearMap::new(a.clone())
            .top_subspace(2)
            .ok()
            .and_then(|l| l.sin_theta_max(&shared.fisher_subspace().ok()?).ok());
        rows.push(r);
    }
    Ok(rows)
}

/// Runs one job: its rows, one per method.
///
/// # Errors
/// [`ExperimentError::Job`] naming the job, around the error of the method that failed.
pub fn run_job(job: &Job, s: &Sweeps) -> Result<Vec<Row>> {
    let seed = 7919 * job.seed + 1;
    let base =
        |d: usize| MixtureGenerator::isotropic(s.k, d).condition(30.0).noise_direction(2.0).generate(&mut seeded(seed));
    let setup = Setup::new(s);
    match job.experiment {
        Experiment::E1 => {
            let g = MixtureGenerator::isotropic(s.k, s.d).condition(job.setting).generate(&mut seeded(seed))?;
            mixture_rows(job, &g, setup, s)
        }
        Experiment::E2 => mixture_rows(job, &base(s.d)?, Setup { delta: job.setting, evaluate: true, ..setup }, s),
        Experiment::E3 => mixture_rows(job, &base(job.setting as usize)?, setup, s),
        // Sample size is E4's axis: fixed samples only (whitened SimSiam trains on a stream).
        Experiment::E4 => mixture_rows(job, &base(s.d)?, Setup { n: job.setting as usize, simsiam: false, ..setup }, s),
        Experiment::E5 => mixture_rows(job, &base(s.d)?, Setup { r: (job.setting as usize).min(s.d), ..setup }, s),
        Experiment::E6 => clip_rows(job, s),
        Experiment::E7 => real_rows(job, s),
        Experiment::E8 => augmented_rows(job, s),
    }
    .map_err(|e| ExperimentError::Job {
        job: format!("{} {} seed {}", job.experiment.id(), job.label, job.seed),
        source: Box::new(e),
    })
}

/// Which part of the jobs a run takes: part `index` of `count` (jobs `i` with `i % count ==
/// index`), for spreading a sweep over machines.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    /// This part, `0..count`.
    pub index: usize,
    /// The number of parts, `>= 1`.
    pub count: usize,
}

impl Shard {
    /// The whole run.
    pub const WHOLE: Shard = Shard { index: 0, count: 1 };

    /// Part `index` of `count`.
    ///
    /// # Errors
    /// `count = 0` or `index >= count`.
    pub fn new(index: usize, count: usize) -> Result<Self> {
        if count == 0 || index >= count {
            return Err(ExperimentError::Config(format!("a shard I/N needs 0 <= I < N, got {index}/{count}")));
        }
        Ok(Self { index, count })
    }

    /// The jobs of this part, in the order of [`jobs`].
    pub fn jobs(&self, s: &Sweeps) -> Vec<Job> {
        jobs(s).into_iter().enumerate().filter(|(i, _)| i % self.count == self.index).map(|(_, j)| j).collect()
    }
}

/// Runs the jobs of `shard` in parallel (rayon, feature `parallel`) and returns their rows in job order; `progress`
/// is told of each finished job (from any thread). The rows do not depend on the thread count.
///
/// # Errors
/// Invalid sweeps; the first job that failed, named.
pub fn run(s: &Sweeps, shard: Shard, progress: &(dyn Fn(&Job) + Sync)) -> Result<Vec<Row>> {
    s.validate()?;
    let results: Vec<Result<Vec<Row>>> = gmm_core::parallel::map(&shard.jobs(s), |job| {
        let rows = run_job(job, s);
        progress(job);
        rows
    });
    let mut rows = Vec::new();
    for r in results {
        rows.extend(r?);
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny() -> Sweeps {
        Sweeps {
            seeds: 1,
            steps: 20,
            samples: 400,
            k: 3,
            d: 6,
            e1_conditions: vec![1.0, 100.0],
            e2_deltas: vec![1.0],
            e3_dims: vec![6],
            e4_samples: vec![400],
            e5_ranks: vec![2],
            e6_steps: vec![10],
            e7_datasets: vec![Dataset::Wine],
            e8_pairs_per_image: 1,
            e8_recipes: vec![crate::augment::Recipe::default()],
            ..Sweeps::default()
        }
    }

    #[test]
    fn jobs_cover_every_setting_and_shards_partition_them() {
        let s = tiny();
        let all = jobs(&s);
        assert_eq!(all.len(), 2 + 1 + 1 + 1 + 1 + 1 + 1 + 1);
        assert!(Experiment::ALL.iter().all(|e| all.iter().any(|j| j.experiment == *e)));
        let parts: Vec<Vec<Job>> = (0..3).map(|i| Shard::new(i, 3).unwrap().jobs(&s)).collect();
        assert_eq!(parts.iter().map(Vec::len).sum::<usize>(), all.len());
        assert!(Shard::new(3, 3).is_err() && Shard::new(0, 0).is_err());
    }

    #[test]
    fn a_run_gives_certified_infonce_rows_and_reports_progress() {
        let s = tiny();
        let seen = std::sync::atomic::AtomicUsize::new(0);
        let rows = run(&s, Shard::WHOLE, &|_| {
            seen.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        })
        .unwrap();
        assert_eq!(seen.into_inner(), jobs(&s).len());
        let infonce: Vec<&Row> = rows.iter().filter(|r| r.method == "InfoNCE").collect();
        assert!(!infonce.is_empty() && infonce.iter().all(|r| r.converged == Some(true) && r.solver == "lbfgs"));
        // PCA on isotropic E1 data finds F; on anisotropic data it need not: both rows exist.
        assert_eq!(rows.iter().filter(|r| r.experiment == Experiment::E1 && r.method == "PCA").count(), 2);
        assert_eq!(rows, run(&s, Shard::WHOLE, &|_| {}).unwrap(), "same sweeps, same rows");
        let bad = Sweeps { seeds: 0, ..tiny() };
        assert!(matches!(run(&bad, Shard::WHOLE, &|_| {}), Err(ExperimentError::Config(_))));
    }
}
