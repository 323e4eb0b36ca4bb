//! `ssl-gmm describe`: the mixture's shape, its Fisher subspace, its top principal subspace and
//! the principal angles between them (where PCA fails, at a glance).

use gmm_core::{ClipGmm, Gmm, Model, Side, Sig3, Subspace, linalg::sym_eig_desc};
use serde::Serialize;

use super::model::ModelArgs;

/// Arguments of `describe`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    model: ModelArgs,
    /// Print one JSON object instead of the human summary.
    #[arg(long)]
    json: bool,
}

/// Facts about one shared-covariance mixture.
#[derive(Debug, Serialize)]
struct GmmFacts {
    k: usize,
    d: usize,
    weights: Vec<f64>,
    covariance_eigenvalue_min: f64,
    covariance_eigenvalue_max: f64,
    condition_number: f64,
    fisher_dim: usize,
    /// Orthonormal basis of the Fisher subspace, one row per direction.
    fisher_basis: Vec<Vec<f64>>,
    /// Orthonormal basis of the top principal subspace of Sigma_T (same dimension).
    pca_basis: Vec<Vec<f64>>,
    /// Principal angles between the two, in degrees, ascending.
    pca_vs_fisher_angles_deg: Vec<f64>,
    pca_vs_fisher_sin_theta_max: f64,
    /// sin theta_max between the span of the centred means and the Fisher subspace (0 iff Sigma
    /// maps the mean span to itself, e.g. isotropic).
    mean_span_vs_fisher_sin_theta_max: f64,
}

fn rows_of(s: &Subspace) -> Vec<Vec<f64>> {
    gmm_core::matrix_to_rows(&s.basis().transpose())
}

fn gmm_facts(g: &Gmm) -> anyhow::Result<GmmFacts> {
    let (eig, _) = sym_eig_desc(g.covariance())?;
    let fisher = g.fisher_subspace()?;
    let pca = g.pca_subspace(fisher.dim().max(1))?;
    let means = g.mean_span()?;
    let angles = pca.principal_angles(&fisher)?;
    Ok(GmmFacts {
        k: g.k(),
        d: g.dim(),
        weights: g.weights().iter().copied().collect(),
        covariance_eigenvalue_min: eig[eig.len() - 1],
        covariance_eigenvalue_max: eig[0],
        condition_number: eig[0] / eig[eig.len() - 1],
        fisher_dim: fisher.dim(),
        fisher_basis: rows_of(&fisher),
        pca_basis: rows_of(&pca),
        pca_vs_fisher_angles_deg: angles.iter().map(|a| a.to_degrees()).collect(),
        pca_vs_fisher_sin_theta_max: pca.sin_theta_max(&fisher)?,
        mean_span_vs_fisher_sin_theta_max: means.sin_theta_max(&fisher)?,
    })
}

/// Facts about one modality of a CLIP-GMM.
#[derive(Debug, Serialize)]
struct ModalityFacts {
    d: usize,
    private_components: usize,
    /// Dimension of span{Sigma^{-1}(mu_i - mu_bar)} (what CLIP should learn).
    shared_fisher_dim: usize,
    /// Dimension of the private Fisher directions span{Sigma^{-1}(eta_w - eta_bar)}.
    private_dim: usize,
    /// Dimension of the Fisher subspace of the modality's own marginal (shared + private).
    marginal_fisher_dim: usize,
    /// sin theta_max between the shared Fisher subspace and the Cov(x|z) one.
    shared_vs_conditional_sin_theta_max: f64,
    /// sin theta_max between the marginal's top principal subspace and the shared Fisher subspace.
    pca_vs_shared_sin_theta_max: f64,
    /// The shared Fisher subspace, one row per direction.
    shared_fisher_basis: Vec<Vec<f64>>,
}

fn modality_facts(c: &ClipGmm, side: Side) -> anyhow::Result<ModalityFacts> {
    let shared = c.shared_gmm(side)?.fisher_subspace()?;
    let conditional = c.conditional_gmm(side)?.fisher_subspace()?;
    let marginal = c.marginal_gmm(side)?;
    let private = c.private_subspace(side)?;
    let pca = marginal.pca_subspace(shared.dim().max(1))?;
    Ok(ModalityFacts {
        d: c.modality(side).dim(),
        private_components: c.modality(side).private_weights().len(),
        shared_fisher_dim: shared.dim(),
        private_dim: private.dim(),
        marginal_fisher_dim: marginal.fisher_subspace()?.dim(),
        shared_vs_conditional_sin_theta_max: shared.sin_theta_max(&conditional)?,
        pca_vs_shared_sin_theta_max: pca.sin_theta_max(&shared)?,
        shared_fisher_basis: rows_of(&shared),
    })
}

#[derive(Debug, Serialize)]
#[serde(tag = "model", rename_all = "lowercase")]
enum Facts {
    Gmm {
        name: String,
        #[serde(flatten)]
        facts: GmmFacts,
    },
    Clip {
        name: String,
        k: usize,
        /// How far the private means are from the Sigma-orthogonality of claim C10 (0 = exact).
        private_orthogonality_gap: f64,
        x: ModalityFacts,
        y: ModalityFacts,
    },
}

/// Runs `describe`.
pub fn run(args: &Args) -> anyhow::Result<()> {
    let name = args.model.label();
    let facts = match args.model.load()? {
        Model::Gmm(g) => Facts::Gmm { name, facts: gmm_facts(&g)? },
        Model::Clip(c) => Facts::Clip {
            name,
            k: c.weights().len(),
            private_orthogonality_gap: c.private_orthogonality_gap()?,
            x: modality_facts(&c, Side::X)?,
            y: modality_facts(&c, Side::Y)?,
        },
    };
    if args.json {
        outln!("{}", serde_json::to_string_pretty(&facts)?);
    } else {
        print_human(&facts)?;
    }
    Ok(())
}

fn verdict(sin: f64) -> &'static str {
    if sin < 1e-6 {
        "PCA finds the Fisher subspace"
    } else if sin > 0.9 {
        "PCA misses a Fisher direction entirely"
    } else {
        "PCA is tilted away from the Fisher subspace"
    }
}

fn print_human(facts: &Facts) -> anyhow::Result<()> {
    match facts {
        Facts::Gmm { name, facts: f } => {
            outln!("mixture {name}: k = {}, d = {}", f.k, f.d);
            let weights: Vec<String> = f.weights.iter().map(|w| format!("{w:.3}")).collect();
            outln!("  weights                      [{}]", weights.join(", "));
            outln!(
                "  covariance eigenvalues       {} .. {} (condition number {})",
                Sig3(f.covariance_eigenvalue_min),
                Sig3(f.covariance_eigenvalue_max),
                Sig3(f.condition_number)
            );
            outln!("  Fisher subspace              dimension {}", f.fisher_dim);
            let angles: Vec<String> = f.pca_vs_fisher_angles_deg.iter().map(|a| Sig3(*a).to_string()).collect();
            outln!("  PCA vs Fisher angles (deg)   [{}]", angles.join(", "));
            outln!(
                "  PCA vs Fisher sin theta_max  {}: {}",
                Sig3(f.pca_vs_fisher_sin_theta_max),
                verdict(f.pca_vs_fisher_sin_theta_max)
            );
            outln!("  mean span vs Fisher          sin theta_max {}", Sig3(f.mean_span_vs_fisher_sin_theta_max));
        }
        Facts::Clip { name, k, private_orthogonality_gap, x, y } => {
            outln!("CLIP-GMM {name}: k = {k} shared components");
            outln!(
                "  private orthogonality gap    {} (0: claim C10's condition holds)",
                Sig3(*private_orthogonality_gap)
            );
            for (label, m) in [("x", x), ("y", y)] {
                outln!(
                    "  modality {label}: d = {}, {} private components; Fisher dims: shared {}, private {}, marginal {}",
                    m.d,
                    m.private_components,
                    m.shared_fisher_dim,
                    m.private_dim,
                    m.marginal_fisher_dim
                );
                outln!("    shared vs Cov(x|z) Fisher  sin theta_max {}", Sig3(m.shared_vs_conditional_sin_theta_max));
                outln!("    PCA vs shared Fisher       sin theta_max {}", Sig3(m.pca_vs_shared_sin_theta_max));
            }
        }
    }
    Ok(())
}
