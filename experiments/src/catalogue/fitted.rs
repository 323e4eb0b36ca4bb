//! A learned or fitted map with how it was obtained and how its convergence is known, and the
//! row it fills; whitened SimSiam's recipe run to its certificate.

use gmm_core::LinearMap;
use gmm_core::nalgebra::DMatrix;
use ssl_losses::{
    Certificate, FixedPairs, InfoNceFit, PairSource, Preconditioner, RecipeSteps, Run, WhitenedCertificate,
    WhitenedSimSiam,
};

use crate::error::Result;
use crate::experiment::Job;
use crate::row::{Method, Row, Solver};

/// How a map's convergence is known.
pub(super) enum Cert {
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
pub(super) struct Fitted {
    pub(super) method: Method,
    pub(super) map: LinearMap,
    pub(super) solver: Solver,
    pub(super) n: usize,
    pub(super) cert: Cert,
    /// The fixed-sample loss at the fit (L-BFGS fits).
    pub(super) loss: Option<f64>,
}

impl Fitted {
    pub(super) fn closed_form(method: Method, map: LinearMap, n: usize) -> Self {
        Self { method, map, solver: Solver::ClosedForm, n, cert: Cert::Exact, loss: None }
    }

    /// A map fitted by L-BFGS on a fixed sample of `n` pairs, with its run's certificate and
    /// final loss.
    pub(super) fn lbfgs(method: Method, map: LinearMap, run: &Run, n: usize) -> Self {
        let cert = run.certificate.map_or(Cert::Missing, Cert::Gradient);
        Self { method, map, solver: Solver::Lbfgs, n, cert, loss: Some(run.loss()) }
    }

    /// InfoNCE (tau = 1, one-way, dot score) on a fixed sample of pairs, to the certificate.
    pub(super) fn infonce(fit: InfoNceFit, n: usize) -> Self {
        Self::lbfgs(Method::InfoNce, fit.map, &fit.run, n)
    }

    /// A row of `job` for this map, with how it was obtained.
    pub(super) fn row(&self, job: &Job<'_>) -> Row {
        let gradient = if let Cert::Gradient(c) = &self.cert { Some(c) } else { None };
        let bound = gradient.and_then(|c| c.bound);
        Row {
            n: self.n,
            // A trained map without a certificate is not converged as far as anyone can tell;
            // closed forms are exact (None).
            converged: match &self.cert {
                Cert::Exact => None,
                Cert::Gradient(c) => Some(c.converged),
                Cert::Whitened(c) => Some(c.converged),
                Cert::Missing => Some(false),
            },
            relative_grad: gradient.map(|c| c.relative),
            grad_norm: gradient.map(|c| c.grad_norm),
            curvature: bound.map(|b| b.curvature),
            distance_bound: bound.map(|b| b.sin_theta.unwrap_or(1.0)),
            loss: self.loss,
            sin_to_optimum: if let Cert::Whitened(c) = &self.cert { Some(c.sin_to_optimum) } else { None },
            ..job.row(self.method, self.solver)
        }
    }
}

/// Whitened SimSiam's estimator ([`WhitenedSimSiam`]: up to 4 random starts, each certified
/// against the problem with moments `(m, c)`) on batches of `batch` pairs from `source` (`r`
/// outputs). The recipe approaches the optimum at a rate set by the eigenvalues of
/// `M^{-1/2} C M^{-1/2}`, so the first start's budget comes from them, between 5x and 25x
/// `steps`, the budget of the gradient-based methods (its steps are ~10x cheaper than InfoNCE's);
/// a run that ends uncertified says so, and a problem without an eigengap (no signal) has no
/// certificate. Returns the map (in the coordinates of `m`) and its certificate.
pub(super) fn certified_whitened<'a>(
    source: &mut dyn FnMut() -> ssl_losses::Result<Box<dyn PairSource + 'a>>,
    r: usize,
    (m, c): (&DMatrix<f64>, &DMatrix<f64>),
    (steps, batch): (usize, usize),
    seed: u64,
) -> Result<(DMatrix<f64>, Cert)> {
    let fit = WhitenedSimSiam::new(r)
        .batch(batch)
        .steps(RecipeSteps::FromSpectrum { at_least: 5 * steps, at_most: 25 * steps })
        .seed(seed)
        .fit(source, (m, c), &mut ())?;
    Ok((fit.map, fit.certificate.map_or(Cert::Missing, Cert::Whitened)))
}

/// Whitened SimSiam by its recipe over epochs of the pairs `(left, right)` (`n` rows, the same
/// fixed sample as InfoNCE's), in the coordinates of `pre` (InfoNCE's: centred and whitened by the
/// pairs' own statistics), certified against the optimum of the problem the epochs solve, on the
/// pairs' own moments ([`certified_whitened`]); the map is carried back to the data's coordinates.
pub(super) fn whitened_epochs(
    (left, right): (&DMatrix<f64>, &DMatrix<f64>),
    pre: &Preconditioner,
    r: usize,
    (steps, batch): (usize, usize),
    seed: u64,
) -> Result<Fitted> {
    let n = left.nrows();
    let (lt, rt) = (pre.apply(left)?, pre.apply(right)?);
    let m = (lt.transpose() * &lt + rt.transpose() * &rt) / (2 * n) as f64;
    let c = rt.transpose() * &lt / n as f64;
    let batch = batch.min(n);
    let mut epochs = || -> ssl_losses::Result<Box<dyn PairSource + '_>> {
        Ok(Box::new(FixedPairs::new(lt.clone(), rt.clone(), batch)?))
    };
    let (map, cert) = certified_whitened(&mut epochs, r, (&m, &c), (steps, batch), seed)?;
    Ok(Fitted { method: Method::SimSiamEpochs, map: pre.map_back(&map)?, solver: Solver::Epochs, n, cert, loss: None })
}
