//! `ssl-gmm fit`: a baseline (LDA, PCA or CCA on pairs) on real data, with an optional
//! clustering evaluation.

use std::path::PathBuf;

use anyhow::{Context, bail};
use baselines::{
    CcaPairs, Fit, KMeans, Lda, Pca, Shrinkage, adjusted_rand_index, clustering_accuracy, normalized_mutual_info,
};
use clap::ValueEnum;
use gmm_core::{LinearMap, Sig3};
use nalgebra::DMatrix;
use serde::Serialize;

use experiments::data::{
    column_index, columns_named, compact_labels, labels_in, same_class_pairs, split_labels, standardize,
};

use super::io::{read_data, write_atomic};

#[derive(Debug, Clone, Copy, ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
enum Method {
    Lda,
    Pca,
    Cca,
}

impl Method {
    /// The method as the papers write it.
    fn name(self) -> &'static str {
        match self {
            Method::Lda => "LDA",
            Method::Pca => "PCA",
            Method::Cca => "CCA",
        }
    }
}

/// Arguments of `fit`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The method.
    #[arg(long, value_enum)]
    method: Method,
    /// Data file: .csv (header optional), .csv.gz or .npy; rows are samples.
    #[arg(long)]
    data: PathBuf,
    /// The first row of the CSV files is a header (default: only when none of its fields is a
    /// number; a first row mixing numbers and text is an error).
    #[arg(long, conflicts_with = "no_header")]
    header: bool,
    /// Every row of the CSV files is data.
    #[arg(long)]
    no_header: bool,
    /// Column holding the class labels (1-based number, `last`, or a name of the header row, e.g.
    /// `z` in a file written by `sample`); it is removed from the features.
    #[arg(long)]
    labels_col: Option<String>,
    /// The features are the columns named PREFIX0, PREFIX1, ... of the header row (e.g. `x` for
    /// the anchors of a file written by `sample`); default: every column but the labels.
    #[arg(long, value_name = "PREFIX")]
    features: Option<String>,
    /// For CCA: the positives are the columns named PREFIX0, PREFIX1, ... of --data (e.g. `xp`
    /// in a file written by `sample`).
    #[arg(long, value_name = "PREFIX", conflicts_with = "pairs")]
    positives: Option<String>,
    /// For CCA: the positives, one row per row of --data. Without it (or --positives), CCA pairs
    /// each sample with another of its class (needs labels).
    #[arg(long)]
    pairs: Option<PathBuf>,
    /// Output dimension (default: classes - 1 for LDA and CCA, 2 for PCA without labels).
    #[arg(long)]
    dim: Option<usize>,
    /// LDA shrinkage: a number in [0, 1], `ledoit-wolf` (or `auto`), or `none`.
    #[arg(long, value_name = "X|ledoit-wolf|none")]
    shrinkage: Option<Shrinkage>,
    /// Ridge added to the matrix that is inverted (S_W for LDA, Cov(x) for CCA).
    #[arg(long)]
    ridge: Option<f64>,
    /// Standardise every feature (zero mean, unit variance) before fitting.
    #[arg(long)]
    standardize: bool,
    /// Project, run k-means with as many clusters as classes, report ARI, NMI and accuracy.
    #[arg(long)]
    evaluate: bool,
    /// Seed of k-means and of the CCA pairing.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Write the JSON result here (default: standard output).
    #[arg(long)]
    out: Option<PathBuf>,
}

#[derive(Debug, Serialize)]
struct Evaluation {
    ari: f64,
    nmi: f64,
    accuracy: f64,
}

#[derive(Debug, Serialize)]
struct FitReport<'p> {
    method: Method,
    /// The estimator with its hyper-parameters, serialised.
    estimator: &'p Estimator,
    dim: usize,
    components: Vec<Vec<f64>>,
    mean: Vec<f64>,
    #[serde(flatten)]
    spectrum: Spectrum,
    #[serde(skip_serializing_if = "Option::is_none")]
    evaluation: Option<Evaluation>,
}

/// What each direction's number is, under its own name: PCA's and LDA's share of the variance
/// (between-class variance for LDA) or CCA's canonical correlations (eigenvalues of the
/// symmetrised `Cov(x+, x) w = rho Cov(x) w`, not variances).
#[derive(Debug, Serialize)]
enum Spectrum {
    #[serde(rename = "explained_variance_ratio")]
    VarianceRatio(Vec<f64>),
    #[serde(rename = "canonical_correlations")]
    CanonicalCorrelations(Vec<f64>),
}

impl Spectrum {
    fn describe(&self) -> String {
        let (name, values) = match self {
            Self::VarianceRatio(v) => ("explained-variance ratio", v),
            Self::CanonicalCorrelations(v) => ("canonical correlations", v),
        };
        format!("{name} [{}]", values.iter().map(|v| Sig3(*v).to_string()).collect::<Vec<_>>().join(", "))
    }
}

/// The data as read: the features, the labels (compacted to `0..c`) and the positives when the
/// file or a second file gives them.
struct Input {
    x: DMatrix<f64>,
    labels: Option<Vec<usize>>,
    positives: Option<DMatrix<f64>>,
}

impl Input {
    /// The number of classes of the labels.
    fn classes(&self) -> Option<usize> {
        self.labels.as_ref().map(|l| l.iter().max().map_or(0, |m| m + 1))
    }
}

/// Reads `--data` (and `--pairs`), checks the header and selects the columns.
fn read(args: &Args) -> anyhow::Result<Input> {
    let header = match (args.header, args.no_header) {
        (true, _) => experiments::io::Header::Present,
        (_, true) => experiments::io::Header::Absent,
        _ => experiments::io::Header::Auto,
    };
    let (names, data) = read_data(&args.data, header)?;
    // The fits form d x d matrices (scatter, covariance, their decompositions).
    super::memory::check("the d x d matrices of the fit", &[data.ncols(), data.ncols(), 8])?;
    let names = names.as_deref();
    if let Some(names) = names
        && let Some((j, name)) = names.iter().enumerate().find(|(j, n)| names[..*j].contains(n))
    {
        let first = names.iter().position(|n| n == name).unwrap_or(0);
        bail!(
            "{}: the column name {name:?} appears twice (columns {} and {}); rename one so that columns are named once",
            args.data.display(),
            first + 1,
            j + 1
        );
    }
    let mut positives = args.positives.as_ref().map(|prefix| columns_named(&data, names, prefix)).transpose()?;
    if let (None, Some(path)) = (&positives, &args.pairs) {
        positives = Some(read_data(path, header)?.1);
    }
    let (mut x, labels) = match (&args.features, &args.labels_col) {
        (Some(prefix), spec) => {
            let labels = spec.as_ref().map(|spec| labels_in(&data, column_index(data.ncols(), names, spec)?));
            (columns_named(&data, names, prefix)?, labels.transpose()?.map(|l| compact_labels(&l)))
        }
        (None, Some(spec)) => {
            let (x, l) = split_labels(data, names, spec)?;
            (x, Some(compact_labels(&l)))
        }
        (None, None) => (data, None),
    };
    if args.standardize {
        standardize(&mut x);
        if let Some(p) = positives.as_mut() {
            standardize(p);
        }
    }
    Ok(Input { x, labels, positives })
}

/// The estimator a run fits, with its hyper-parameters.
#[derive(Debug, Serialize)]
#[serde(untagged)]
enum Estimator {
    Lda(Lda),
    Pca(Pca),
    Cca(CcaPairs),
}

/// Checks the options against the method and the data, and builds the estimator.
fn plan(args: &Args, input: &Input) -> anyhow::Result<Estimator> {
    // Options of other methods are errors, not silently ignored.
    let lda = matches!(args.method, Method::Lda);
    let cca = matches!(args.method, Method::Cca);
    if args.positives.is_some() && !cca {
        bail!("--positives applies to CCA only");
    }
    if args.pairs.is_some() && !cca {
        bail!("--pairs applies to CCA only");
    }
    if args.shrinkage.is_some() && !lda {
        bail!("--shrinkage applies to LDA only");
    }
    if args.ridge.is_some() && !(lda || cca) {
        bail!("--ridge applies to LDA and CCA only");
    }
    let classes = input.classes();
    if let Some(c) = classes.filter(|&c| c < 2) {
        bail!(
            "the labels hold {c} class{}: LDA, same-class CCA pairs and --evaluate compare classes, so they need at least two",
            if c == 1 { "" } else { "es" }
        );
    }
    if args.evaluate && input.labels.is_none() {
        bail!("--evaluate needs labels: pass --labels-col");
    }
    let shrinkage = match (args.shrinkage, args.ridge) {
        (Some(_), Some(_)) => bail!("--shrinkage and --ridge are alternatives: pass one"),
        (None, Some(r)) => Shrinkage::Ridge(r),
        (s, None) => s.unwrap_or_default(),
    };
    let by_classes = classes.map(|c| c.saturating_sub(1).max(1));
    Ok(match args.method {
        Method::Lda => {
            input.labels.as_ref().context("LDA needs labels: pass --labels-col N|last")?;
            let lda = Lda::new().shrinkage(shrinkage);
            Estimator::Lda(match args.dim {
                Some(r) => lda.n_components(r),
                None => lda,
            })
        }
        Method::Pca => Estimator::Pca(Pca::new(args.dim.or(by_classes).unwrap_or(2))),
        Method::Cca => {
            if input.positives.is_none() && input.labels.is_none() {
                bail!(
                    "CCA needs pairs: pass --positives PREFIX or --pairs FILE, or --labels-col to pair samples of a class"
                );
            }
            let r = args.dim.or(by_classes).context("pass --dim")?;
            Estimator::Cca(CcaPairs::new(r).ridge(args.ridge.unwrap_or(0.0)))
        }
    })
}

/// Fits the estimator: the map and its spectrum.
fn execute(estimator: &Estimator, input: &Input, seed: u64) -> anyhow::Result<(LinearMap, Spectrum)> {
    Ok(match estimator {
        Estimator::Lda(lda) => {
            let labels = input.labels.as_ref().context("LDA needs labels: pass --labels-col N|last")?;
            let fit = lda.fit((&input.x, labels))?;
            let r = fit.map.out_dim();
            (fit.map, Spectrum::VarianceRatio(fit.explained_variance_ratio[..r].to_vec()))
        }
        Estimator::Pca(pca) => {
            let fit = pca.fit(&input.x)?;
            (fit.map, Spectrum::VarianceRatio(fit.explained_variance_ratio))
        }
        Estimator::Cca(cca) => {
            let fit = match (&input.positives, &input.labels) {
                (Some(p), _) => cca.fit((&input.x, p))?,
                (None, Some(l)) => {
                    let pairs = same_class_pairs(&input.x, l, seed)?;
                    cca.fit((&pairs.anchors, &pairs.partners))?
                }
                (None, None) => bail!("CCA needs pairs"),
            };
            if fit.eigenvalues.first().is_none_or(|&top| top <= 0.0) {
                bail!(
                    "CCA found no positive canonical correlation between the views (largest {}): the pairs share no signal",
                    Sig3(fit.eigenvalues.first().copied().unwrap_or(0.0))
                );
            }
            (fit.map, Spectrum::CanonicalCorrelations(fit.eigenvalues))
        }
    })
}

/// k-means on the projection with as many clusters as classes, against the labels.
fn evaluate(map: &LinearMap, input: &Input, seed: u64) -> anyhow::Result<Evaluation> {
    let labels = input.labels.as_ref().context("--evaluate needs labels: pass --labels-col")?;
    let z = map.transform(&input.x)?;
    let km = KMeans::new(input.classes().unwrap_or(2)).seed(seed).fit(&z)?;
    Ok(Evaluation {
        ari: adjusted_rand_index(labels, &km.labels)?,
        nmi: normalized_mutual_info(labels, &km.labels)?,
        accuracy: clustering_accuracy(labels, &km.labels)?,
    })
}

/// Runs `fit`: read, plan, execute, report.
pub fn run(args: &Args) -> anyhow::Result<()> {
    let input = read(args)?;
    let estimator = plan(args, &input)?;
    let (map, spectrum) = execute(&estimator, &input, args.seed)?;
    let evaluation = if args.evaluate { Some(evaluate(&map, &input, args.seed)?) } else { None };
    let report = FitReport {
        method: args.method,
        estimator: &estimator,
        dim: map.out_dim(),
        components: gmm_core::matrix_to_rows(map.components()),
        mean: map.mean().iter().copied().collect(),
        spectrum,
        evaluation,
    };
    emit(&report, args, &input)
}

/// The human summary on standard error, the JSON on standard output or in `--out`.
fn emit(report: &FitReport<'_>, args: &Args, input: &Input) -> anyhow::Result<()> {
    eprintln!(
        "{} on {} ({} samples x {} features{}): {} directions, {}",
        args.method.name(),
        args.data.display(),
        input.x.nrows(),
        input.x.ncols(),
        input.classes().map(|c| format!(", {c} classes")).unwrap_or_default(),
        report.dim,
        report.spectrum.describe()
    );
    if let Some(e) = &report.evaluation {
        eprintln!("k-means on the projection: ARI {}, NMI {}, accuracy {}", Sig3(e.ari), Sig3(e.nmi), Sig3(e.accuracy));
    }
    let json = serde_json::to_string_pretty(report)?;
    match &args.out {
        Some(path) => write_atomic(path, |w| Ok(std::io::Write::write_all(w, json.as_bytes())?))?,
        None => outln!("{json}"),
    }
    Ok(())
}
