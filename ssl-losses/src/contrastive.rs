//! InfoNCE and CLIP: batch contrastive losses on linear encoders (theory.md section 3).
//!
//! Both share one core: from embeddings `Z1` (`n x r`) and `Z2`, the score matrix
//! `S = N1 N2^T / tau` (`N = Z` for the dot-product score, `N = Z / ||Z||` row-wise for cosine),
//! the cross-entropy of each row (and, symmetrised, of each column) against the diagonal, and
//! the gradients `dL/dZ1 = G N2 / tau`, `dL/dZ2 = G^T N1 / tau` with
//! `G = dL/dS = (softmax_rows(S) - I) / n` (one-directional) or
//! `[(softmax_rows(S) - I) + (softmax_cols(S) - I)] / (2n)` (symmetrised), pulled back through
//! the normalisation for cosine scores.

use nalgebra::DMatrix;
use serde::{Deserialize, Serialize};

use crate::error::{Result, check_positive};
use crate::kernels::{col_softmax_xent_add, normalize_rows, normalize_rows_backward, row_softmax_xent};
use crate::objective::{Batch, Objective, check_blocks, ensure_shape, project_into};

/// Which cross-entropies make up the loss.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Form {
    /// `L = (1/n) sum_i [-S_ii + logsumexp_j S_ij]` (anchors against in-batch positives).
    OneWay,
    /// Mean of the row and the column cross-entropies (CLIP's form).
    Symmetric,
    /// SimCLR's NT-Xent: all `2n` embeddings are anchors; each one's positive is its pair, its
    /// negatives are the other `2n - 2`: `S = U U^T / tau` with `U = [N1; N2]`, diagonal masked.
    SimClr,
}

/// Similarity score.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Score {
    /// `s(x, y) = <A x, A y> / tau`.
    Dot,
    /// `s(x, y) = <A x, A y> / (||A x|| ||A y|| tau)`.
    Cosine,
}

/// Workspace and settings shared by InfoNCE and CLIP.
#[derive(Clone, Debug)]
struct Core {
    tau: f64,
    form: Form,
    score: Score,
    z1: DMatrix<f64>,
    z2: DMatrix<f64>,
    u1: DMatrix<f64>,
    u2: DMatrix<f64>,
    u2t: DMatrix<f64>,
    s: DMatrix<f64>,
    g: DMatrix<f64>,
    dz1: DMatrix<f64>,
    dz2: DMatrix<f64>,
    norms1: Vec<f64>,
    norms2: Vec<f64>,
    scratch1: Vec<f64>,
    scratch2: Vec<f64>,
    targets: Vec<usize>,
}

impl Core {
    fn new(tau: f64, form: Form, score: Score) -> Result<Self> {
        check_positive(tau, "temperature tau")?;
        let e = DMatrix::zeros(0, 0);
        Ok(Self {
            tau,
            form,
            score,
            z1: e.clone(),
            z2: e.clone(),
            u1: e.clone(),
            u2: e.clone(),
            u2t: e.clone(),
            s: e.clone(),
            g: e.clone(),
            dz1: e.clone(),
            dz2: e,
            norms1: Vec::new(),
            norms2: Vec::new(),
            scratch1: Vec::new(),
            scratch2: Vec::new(),
            targets: Vec::new(),
        })
    }

    /// Embeds both sides, computes the loss, and leaves `dL/dZ1`, `dL/dZ2` in `dz1`, `dz2`.
    fn forward_backward(&mut self, x1: &DMatrix<f64>, a1: &DMatrix<f64>, x2: &DMatrix<f64>, a2: &DMatrix<f64>) -> f64 {
        let n = x1.nrows();
        let r = a1.nrows();
        project_into(x1, a1, &mut self.z1);
        project_into(x2, a2, &mut self.z2);
        for b in [&mut self.u1, &mut self.u2, &mut self.dz1, &mut self.dz2] {
            ensure_shape(b, n, r);
        }
        let m = if self.form == Form::SimClr { 2 * n } else { n };
        for v in [&mut self.norms1, &mut self.norms2, &mut self.scratch1, &mut self.scratch2] {
            v.resize(m, 0.0);
        }
        match self.score {
            Score::Dot => {
                self.u1.copy_from(&self.z1);
                self.u2.copy_from(&self.z2);
            }
            Score::Cosine => {
                normalize_rows(&self.z1, &mut self.u1, &mut self.norms1[..n]);
                normalize_rows(&self.z2, &mut self.u2, &mut self.norms2[..n]);
            }
        }
        let inv_tau = 1.0 / self.tau;
        let loss = match self.form {
            Form::OneWay | Form::Symmetric => {
                ensure_shape(&mut self.s, n, n);
                ensure_shape(&mut self.g, n, n);
                ensure_shape(&mut self.u2t, r, n);
                self.u2.transpose_to(&mut self.u2t);
                self.s.gemm(inv_tau, &self.u1, &self.u2t, 0.0);
                self.targets.clear();
                self.targets.extend(0..n);
                let (s, g, t) = (&self.s, &mut self.g, &self.targets);
                if self.form == Form::OneWay {
                    let w = 1.0 / n as f64;
                    row_softmax_xent(s, t, w, g, &mut self.scratch1, &mut self.scratch2) * w
                } else {
                    let w = 0.5 / n as f64;
                    let rows = row_softmax_xent(s, t, w, g, &mut self.scratch1, &mut self.scratch2);
                    (rows + col_softmax_xent_add(s, t, w, g)) * w
                }
            }
            Form::SimClr => {
                // U = [U1; U2] (2n x r), S = U U^T / tau with the diagonal masked.
                let mut u = DMatrix::zeros(2 * n, r);
                u.rows_mut(0, n).copy_from(&self.u1);
                u.rows_mut(n, n).copy_from(&self.u2);
                ensure_shape(&mut self.s, 2 * n, 2 * n);
                ensure_shape(&mut self.g, 2 * n, 2 * n);
                self.s.gemm(inv_tau, &u, &u.transpose(), 0.0);
                self.s.fill_diagonal(f64::NEG_INFINITY);
                self.targets.clear();
                self.targets.extend((0..2 * n).map(|i| (i + n) % (2 * n)));
                let w = 0.5 / n as f64;
                let loss =
                    row_softmax_xent(&self.s, &self.targets, w, &mut self.g, &mut self.scratch1, &mut self.scratch2);
                // dL/dU = (G + G^T) U / tau.
                let sym = &self.g + self.g.transpose();
                let du = sym * &u * inv_tau;
                self.dz1.copy_from(&du.rows(0, n));
                self.dz2.copy_from(&du.rows(n, n));
                loss * w
            }
        };
        if self.form != Form::SimClr {
            self.dz1.gemm(inv_tau, &self.g, &self.u2, 0.0);
            self.dz2.gemm_tr(inv_tau, &self.g, &self.u1, 0.0);
        }
        if self.score == Score::Cosine {
            normalize_rows_backward(&self.u1, &self.norms1[..n], &mut self.dz1, &mut self.scratch1[..n]);
            normalize_rows_backward(&self.u2, &self.norms2[..n], &mut self.dz2, &mut self.scratch1[..n]);
        }
        loss
    }
}

/// InfoNCE on a linear encoder `f(x) = A x` (`A`: `r x d`, one parameter block), with in-batch
/// negatives. For the one-directional dot-product form:
/// `Z = X A^T`, `Z+ = X+ A^T`, `S = Z Z+^T / tau`, `L = (1/n) sum_i [-S_ii + logsumexp_j S_ij]`,
/// `dL/dA = (Z+^T G^T X + Z^T G X+) / tau` with `G = (softmax_rows(S) - I) / n`.
#[derive(Clone, Debug)]
pub struct InfoNce {
    core: Core,
}

impl InfoNce {
    /// # Errors
    /// `tau <= 0` or not finite.
    pub fn new(tau: f64, form: Form, score: Score) -> Result<Self> {
        Ok(Self { core: Core::new(tau, form, score)? })
    }
}

impl Objective for InfoNce {
    fn name(&self) -> &'static str {
        "infonce"
    }

    fn block_shapes(&self, r: usize, d_left: usize, _d_right: usize) -> Vec<(usize, usize)> {
        vec![(r, d_left)]
    }

    fn value_grad(&mut self, params: &[DMatrix<f64>], batch: Batch<'_>, grads: &mut [DMatrix<f64>]) -> Result<f64> {
        batch.validate(2)?;
        let shapes = [(params.first().map_or(0, |a| a.nrows()), batch.left.ncols())];
        check_blocks(params, grads, &shapes)?;
        crate::error::check_shape(batch.right, (batch.len(), batch.left.ncols()), "positives against anchors")?;
        let a = &params[0];
        let loss = self.core.forward_backward(batch.left, a, batch.right, a);
        grads[0].gemm_tr(1.0, &self.core.dz1, batch.left, 0.0);
        grads[0].gemm_tr(1.0, &self.core.dz2, batch.right, 1.0);
        Ok(loss)
    }
}

/// CLIP: symmetric two-way InfoNCE between modality x (`A`: `r x d_x`) and modality y
/// (`B`: `r x d_y`): `S = X A^T B Y^T / tau`, `L = (1/2)[mean_i CE(S_i., i) + mean_j CE(S_.j, j)]`,
/// `dL/dA = B Y^T G^T X / tau`, `dL/dB = A X^T G Y / tau`,
/// `G = [(softmax_rows(S) - I) + (softmax_cols(S) - I)] / (2n)`.
#[derive(Clone, Debug)]
pub struct Clip {
    core: Core,
}

impl Clip {
    /// # Errors
    /// `tau <= 0` or not finite.
    pub fn new(tau: f64, score: Score) -> Result<Self> {
        Ok(Self { core: Core::new(tau, Form::Symmetric, score)? })
    }
}

impl Objective for Clip {
    fn name(&self) -> &'static str {
        "clip"
    }

    fn block_shapes(&self, r: usize, d_left: usize, d_right: usize) -> Vec<(usize, usize)> {
        vec![(r, d_left), (r, d_right)]
    }

    fn value_grad(&mut self, params: &[DMatrix<f64>], batch: Batch<'_>, grads: &mut [DMatrix<f64>]) -> Result<f64> {
        batch.validate(2)?;
        let r = params.first().map_or(0, |a| a.nrows());
        check_blocks(params, grads, &[(r, batch.left.ncols()), (r, batch.right.ncols())])?;
        let loss = self.core.forward_backward(batch.left, &params[0], batch.right, &params[1]);
        let (ga, gb) = grads.split_at_mut(1);
        ga[0].gemm_tr(1.0, &self.core.dz1, batch.left, 0.0);
        gb[0].gemm_tr(1.0, &self.core.dz2, batch.right, 0.0);
        Ok(loss)
    }
}
