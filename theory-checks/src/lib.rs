#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

pub mod common;
pub mod evidence;
pub mod exact;
pub mod spectral;
pub mod trained;

pub use evidence::{Budget, CheckError, Claim, Evidence, Result};

/// Every claim of theory.md section 4, in order, with its check and negative control.
pub fn registry() -> Vec<Claim> {
    vec![
        Claim {
            id: "C1",
            statement: "the Bayes posterior computed from x equals the one computed from P x",
            assumptions: "any shared-covariance mixture; P the oblique projector onto the Fisher coordinates",
            check: exact::c1,
            control: exact::c1_control,
            control_statement: "orthogonal projector onto the mean span, anisotropic Sigma",
        },
        Claim {
            id: "C2",
            statement: "range(Sigma^-1 S_B) = range(Sigma_T^-1 S_B)",
            assumptions: "any shared-covariance mixture",
            check: exact::c2,
            control: exact::c2_control,
            control_statement: "range(S_B) (the mean span) instead, anisotropic Sigma",
        },
        Claim {
            id: "C3",
            statement: "isotropic Sigma: population PCA = F; sample PCA error ~ n^-1/2",
            assumptions: "Sigma = s^2 I",
            check: spectral::c3,
            control: spectral::c3_control,
            control_statement: "dominant noise direction: PCA converges elsewhere",
        },
        Claim {
            id: "C4",
            statement: "dominant noise direction: PCA misses F while InfoNCE and CCA find it",
            assumptions: "noise direction orthogonal to the means with variance above the signal's",
            check: spectral::c4,
            control: spectral::c4_control,
            control_statement: "sample PCA held to the same threshold",
        },
        Claim {
            id: "C5",
            statement: "L(A; x) = L(A G^-1; G x) for InfoNCE, SimSiam, CLIP",
            assumptions: "G invertible (H for CLIP's second modality)",
            check: exact::c5,
            control: exact::c5_control,
            control_statement: "data transformed, map not",
        },
        Claim {
            id: "C6",
            statement: "noise only hurts: L_inf(A) >= L_inf(A P)",
            assumptions: "population InfoNCE, P the oblique Fisher projector",
            check: trained::c6,
            control: trained::c6_control,
            control_statement: "orthogonal projector onto the mean span instead of P",
        },
        Claim {
            id: "C7",
            statement: "InfoNCE minimiser with r = k - 1 spans F (isotropic or not)",
            assumptions: "delta = 1, linear encoder, dot-product score",
            check: trained::c7,
            control: trained::c7_control,
            control_statement: "PCA on the anisotropic case",
        },
        Claim {
            id: "C8",
            statement: "r > k - 1: extra directions vanish, the top k - 1 subspace is F",
            assumptions: "delta = 1",
            check: trained::c8,
            control: trained::c8_control,
            control_statement: "delta = 0 (no signal)",
        },
        Claim {
            id: "C9",
            statement: "every delta in (0, 1] gives F; k-means ARI of InfoNCE matches LDA's",
            assumptions: "noisy augmentations with coupling delta > 0",
            check: trained::c9,
            control: trained::c9_control,
            control_statement: "delta = 0",
        },
        Claim {
            id: "C10",
            statement: "CLIP learns each modality's shared Fisher subspace, no private directions",
            assumptions: "private means Sigma-orthogonal to the shared ones",
            check: trained::c10,
            control: trained::c10_control,
            control_statement: "without the orthogonality condition",
        },
        Claim {
            id: "C11",
            statement: "whitened SimSiam: closed form and trained optimum span F",
            assumptions: "constraint A M A^T = I, centred means, r = k - 1",
            check: trained::c11,
            control: trained::c11_control,
            control_statement: "SimSiam without the constraint",
        },
        Claim {
            id: "C12",
            statement: "sample LDA and CCA converge to F at rate n^-1/2",
            assumptions: "anisotropic Sigma allowed; CCA with delta > 0",
            check: spectral::c12,
            control: spectral::c12_control,
            control_statement: "PCA on the trap family (does not converge to F)",
        },
        Claim {
            id: "C13",
            statement: "population InfoNCE: closed-form inner expectation = Monte Carlo",
            assumptions: "E exp(v^T x-) = sum_j pi_j exp(v^T mu_j + v^T Sigma v / 2)",
            check: exact::c13,
            control: exact::c13_control,
            control_statement: "closed form without the v^T Sigma v / 2 term",
        },
        Claim {
            id: "C14",
            statement: "small-A gradient grows A along the top eigenvectors of Cov(x+, x) (the mean span)",
            assumptions: "|A| small; population InfoNCE",
            check: exact::c14,
            control: exact::c14_control,
            control_statement: "the same iterate compared with F (anisotropic)",
        },
    ]
}

/// The outcome of one claim: its evidence, its control's, and the time both took.
#[derive(Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Outcome {
    /// Claim id.
    pub id: &'static str,
    /// Statement.
    pub statement: &'static str,
    /// The check's evidence.
    pub evidence: Evidence,
    /// The control's evidence (its `passed` must be false).
    pub control: Evidence,
    /// Seconds for both.
    pub seconds: f64,
}

impl Outcome {
    /// The claim holds and its control fails, as it must.
    pub fn ok(&self) -> bool {
        self.evidence.passed && !self.control.passed
    }
}

/// Runs one claim and its control.
pub fn run(claim: &Claim, budget: Budget, seed: u64) -> Result<Outcome> {
    let t = std::time::Instant::now();
    let evidence = (claim.check)(budget, seed)?;
    let control = (claim.control)(budget, seed)?;
    Ok(Outcome { id: claim.id, statement: claim.statement, evidence, control, seconds: t.elapsed().as_secs_f64() })
}
