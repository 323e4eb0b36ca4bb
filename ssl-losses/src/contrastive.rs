//! InfoNCE and CLIP: batch contrastive losses on linear encoders (theory.md section 3).
//!
//! Both share one core: from embeddings `Z1` (`n x r`) and `Z2`, the score matrix
//! `S = N1 N2^T / tau` (`N = Z` for the dot-product score, `N = Z / ||Z||` row-wise for cosine),
//! the cross-entropy of each row (and, symmetrised, of each column) against the diagonal, and
//! the gradients `dL/dZ1 = G N2 / tau`, `dL/dZ2 = G^T N1 / tau` with
//! `G = dL/dS = (softmax_rows(S) - I) / n` (one-directional) or
//! `[(softmax_rows(S) - I) + (softmax_cols(S) - I)] / (2n)` (symmetrised), pulled back through
//! the normalisation for cosine scores.

use gmm_core::nalgebra::DMatrix;

use gmm_core::{check_positive, check_shape};

use crate::error::Result;

use gmm_core::linalg::{Op, gemm};

use crate::kernels::{normalize_rows, normalize_rows_backward, row_softmax_xent, softmax_xent_in_place};
use crate::objective::{
    Batch, CONTRASTIVE_DIVERGENCE_FACTOR, Objective, check_blocks, check_cosine_rank, ensure_shape, finite_loss,
    project_into,
};
use crate::scalar::{Real, from_f64};

/// Which cross-entropies make up the loss.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "kebab-case"))]
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
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "kebab-case"))]
pub enum Score {
    /// `s(x, y) = <A x, A y> / tau`.
    Dot,
    /// `s(x, y) = <A x, A y> / (||A x|| ||A y|| tau)`.
    Cosine,
}

impl std::str::FromStr for Form {
    type Err = gmm_core::GmmError;

    /// `one-way`, `symmetric` or `simclr`.
    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        let table = [("one-way", Self::OneWay), ("symmetric", Self::Symmetric), ("simclr", Self::SimClr)];
        gmm_core::parse_name("InfoNCE form", s, &table)
    }
}

impl std::str::FromStr for Score {
    type Err = gmm_core::GmmError;

    /// `dot` or `cosine`.
    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        gmm_core::parse_name("score", s, &[("dot", Self::Dot), ("cosine", Self::Cosine)])
    }
}

/// Workspace and settings shared by InfoNCE and CLIP.
#[derive(Clone, Debug)]
struct Core<T: Real> {
    tau: T,
    form: Form,
    score: Score,
    z1: DMatrix<T>,
    z2: DMatrix<T>,
    u1: DMatrix<T>,
    u2: DMatrix<T>,
    s: DMatrix<T>,
    g: DMatrix<T>,
    dz1: DMatrix<T>,
    dz2: DMatrix<T>,
    norms1: Vec<T>,
    norms2: Vec<T>,
    scratch1: Vec<T>,
    scratch2: Vec<T>,
    targets: Vec<usize>,
    blocks: Vec<AnchorBlock<T>>,
    u_cat: DMatrix<T>,
    du: DMatrix<T>,
    /// The symmetric form's row-direction gradients, kept while the column direction runs.
    swapped1: DMatrix<T>,
    swapped2: DMatrix<T>,
}

/// Anchors per tile of the fused one-directional kernel: a tile's scores against all `n`
/// positives (`n x 32` f64, 256 KiB at n = 1024) stay in a core's L2 cache from the product to
/// the gradient.
const ANCHOR_TILE: usize = 32;

/// Anchors per block, the unit of parallel work: its tiles run in order on one thread and
/// accumulate the block's term of `dL/dZ2` in place, so only `n / 256` terms are summed at the
/// end (one per tile, 8x as many, made that serial sum 10% of a step at n = 4096).
const ANCHOR_BLOCK: usize = 8 * ANCHOR_TILE;

/// Workspace of one block of anchors `c0..c0 + b` in the fused one-directional kernel.
#[derive(Clone, Debug)]
struct AnchorBlock<T: Real> {
    start: usize,
    /// Scores `T = U2 U1_tile^T / tau` of one tile (`n x t`: column j = anchor c0 + j against
    /// every positive), overwritten in place by `G^T` restricted to the tile.
    t: DMatrix<T>,
    /// `dL/dZ1` rows of the block (`b x r`).
    dz1: DMatrix<T>,
    /// `dL/dZ1` rows of one tile (`t x r`), copied into `dz1`.
    dz1_tile: DMatrix<T>,
    /// This block's term of `dL/dZ2` (`n x r`).
    dz2: DMatrix<T>,
    loss: T,
    /// A shape error of the block's products (never expected: the layout is checked first).
    error: Option<gmm_core::GmmError>,
}

impl<T: Real> AnchorBlock<T> {
    fn new(start: usize, b: usize, n: usize, r: usize) -> Self {
        Self {
            start,
            t: DMatrix::zeros(n, ANCHOR_TILE.min(b)),
            dz1: DMatrix::zeros(b, r),
            dz1_tile: DMatrix::zeros(ANCHOR_TILE.min(b), r),
            dz2: DMatrix::zeros(n, r),
            loss: T::zero(),
            error: None,
        }
    }

    /// Scores, row-softmax cross-entropy of the block's anchors, and their gradient terms, tile
    /// by tile in order.
    fn run(&mut self, u1: &DMatrix<T>, u2: &DMatrix<T>, inv_tau: T) -> gmm_core::Result<()> {
        let (n, b) = (u2.nrows(), self.dz1.nrows());
        let w = from_f64::<T>(1.0 / n as f64);
        let zero = T::zero();
        self.loss = zero;
        for first in (0..b).step_by(ANCHOR_TILE) {
            let width = ANCHOR_TILE.min(b - first);
            if self.t.ncols() != width {
                self.t = DMatrix::zeros(n, width);
                self.dz1_tile = DMatrix::zeros(width, u2.ncols());
            }
            let u1_tile = u1.rows(self.start + first, width);
            gemm(inv_tau, u2, Op::N, &u1_tile, Op::T, zero, &mut self.t)?;
            for j in 0..width {
                let col = self.t.column_mut(j).data.into_slice_mut();
                self.loss += softmax_xent_in_place(col, self.start + first + j, w);
            }
            // G restricted to the tile's rows is T^T: dZ1 = G U2 / tau, dZ2 += G^T U1 / tau.
            gemm(inv_tau, &self.t, Op::T, u2, Op::N, zero, &mut self.dz1_tile)?;
            self.dz1.rows_mut(first, width).copy_from(&self.dz1_tile);
            let beta = if first == 0 { zero } else { T::one() };
            gemm(inv_tau, &self.t, Op::N, &u1_tile, Op::N, beta, &mut self.dz2)?;
        }
        Ok(())
    }
}

impl<T: Real> Core<T> {
    fn new(tau: f64, form: Form, score: Score) -> Result<Self> {
        check_positive(tau, "temperature tau")?;
        let e = DMatrix::zeros(0, 0);
        Ok(Self {
            tau: from_f64(tau),
            form,
            score,
            z1: e.clone(),
            z2: e.clone(),
            u1: e.clone(),
            u2: e.clone(),
            s: e.clone(),
            g: e.clone(),
            dz1: e.clone(),
            dz2: e,
            norms1: Vec::new(),
            norms2: Vec::new(),
            scratch1: Vec::new(),
            scratch2: Vec::new(),
            targets: Vec::new(),
            blocks: Vec::new(),
            u_cat: DMatrix::zeros(0, 0),
            du: DMatrix::zeros(0, 0),
            swapped1: DMatrix::zeros(0, 0),
            swapped2: DMatrix::zeros(0, 0),
        })
    }

    /// The one-directional loss by blocks of anchors, in parallel over blocks (rayon). Blocks
    /// have a fixed size whatever the thread count and their terms are summed in block order,
    /// so the result is the same bit for bit on any number of threads.
    fn one_way_blocked(&mut self, n: usize, r: usize) -> Result<T> {
        let layout_ok = self.blocks.len() == n.div_ceil(ANCHOR_BLOCK)
            && self.blocks.first().is_some_and(|b| b.t.nrows() == n && b.dz2.ncols() == r);
        if !layout_ok {
            self.blocks = (0..n)
                .step_by(ANCHOR_BLOCK)
                .map(|start| AnchorBlock::new(start, ANCHOR_BLOCK.min(n - start), n, r))
                .collect();
        }
        let inv_tau = T::one() / self.tau;
        let (u1, u2) = (&self.u1, &self.u2);
        gmm_core::parallel::for_each_mut(&mut self.blocks, |block| block.error = block.run(u1, u2, inv_tau).err());
        if let Some(e) = self.blocks.iter_mut().find_map(|b| b.error.take()) {
            return Err(e.into());
        }
        let mut loss = T::zero();
        self.dz2.fill(T::zero());
        for block in &self.blocks {
            loss += block.loss;
            self.dz1.rows_mut(block.start, block.dz1.nrows()).copy_from(&block.dz1);
            self.dz2 += &block.dz2;
        }
        Ok(loss / from_f64::<T>(n as f64))
    }

    /// Embeds both sides, computes the loss, and leaves `dL/dZ1`, `dL/dZ2` in `dz1`, `dz2`.
    fn forward_backward(&mut self, x1: &DMatrix<T>, a1: &DMatrix<T>, x2: &DMatrix<T>, a2: &DMatrix<T>) -> Result<T> {
        let n = x1.nrows();
        let r = a1.nrows();
        if self.score == Score::Cosine {
            check_cosine_rank(r, "output dimension r with the cosine score", "use the dot score")?;
        }
        project_into(x1, a1, &mut self.z1)?;
        project_into(x2, a2, &mut self.z2)?;
        for b in [&mut self.u1, &mut self.u2, &mut self.dz1, &mut self.dz2] {
            ensure_shape(b, n, r);
        }
        let m = if self.form == Form::SimClr { 2 * n } else { n };
        for v in [&mut self.norms1, &mut self.norms2, &mut self.scratch1, &mut self.scratch2] {
            v.resize(m, T::zero());
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
        let (zero, one) = (T::zero(), T::one());
        let inv_tau = one / self.tau;
        let loss = match self.form {
            Form::OneWay => self.one_way_blocked(n, r)?,
            Form::Symmetric => {
                // The column cross-entropies of S are the row cross-entropies of S^T = U2 U1^T /
                // tau: the same fused, parallel one-directional kernel with the sides swapped.
                let rows = self.one_way_blocked(n, r)?;
                ensure_shape(&mut self.swapped1, n, r);
                ensure_shape(&mut self.swapped2, n, r);
                self.swapped1.copy_from(&self.dz1);
                self.swapped2.copy_from(&self.dz2);
                std::mem::swap(&mut self.u1, &mut self.u2);
                let cols = self.one_way_blocked(n, r);
                std::mem::swap(&mut self.u1, &mut self.u2);
                let cols = cols?;
                // Now dz1 is dL_cols/dU2 and dz2 is dL_cols/dU1.
                let half = from_f64::<T>(0.5);
                std::mem::swap(&mut self.dz1, &mut self.dz2);
                self.dz1 += &self.swapped1;
                self.dz2 += &self.swapped2;
                self.dz1 *= half;
                self.dz2 *= half;
                (rows + cols) * half
            }
            Form::SimClr => {
                // U = [U1; U2] (2n x r), S = U U^T / tau with the diagonal masked.
                ensure_shape(&mut self.u_cat, 2 * n, r);
                ensure_shape(&mut self.du, 2 * n, r);
                self.u_cat.rows_mut(0, n).copy_from(&self.u1);
                self.u_cat.rows_mut(n, n).copy_from(&self.u2);
                ensure_shape(&mut self.s, 2 * n, 2 * n);
                ensure_shape(&mut self.g, 2 * n, 2 * n);
                gemm(inv_tau, &self.u_cat, Op::N, &self.u_cat, Op::T, zero, &mut self.s)?;
                self.s.fill_diagonal(from_f64(f64::NEG_INFINITY));
                self.targets.clear();
                self.targets.extend((0..2 * n).map(|i| (i + n) % (2 * n)));
                let w = from_f64::<T>(0.5 / n as f64);
                let loss =
                    row_softmax_xent(&self.s, &self.targets, w, &mut self.g, &mut self.scratch1, &mut self.scratch2);
                // dL/dU = (G + G^T) U / tau.
                gemm(inv_tau, &self.g, Op::N, &self.u_cat, Op::N, zero, &mut self.du)?;
                gemm(inv_tau, &self.g, Op::T, &self.u_cat, Op::N, one, &mut self.du)?;
                self.dz1.copy_from(&self.du.rows(0, n));
                self.dz2.copy_from(&self.du.rows(n, n));
                loss * w
            }
        };
        if self.score == Score::Cosine {
            normalize_rows_backward(&self.u1, &self.norms1[..n], &mut self.dz1, &mut self.scratch1[..n]);
            normalize_rows_backward(&self.u2, &self.norms2[..n], &mut self.dz2, &mut self.scratch1[..n]);
        }
        Ok(loss)
    }
}

/// InfoNCE on a linear encoder `f(x) = A x` (`A`: `r x d`, one parameter block), with in-batch
/// negatives. For the one-directional dot-product form:
/// `Z = X A^T`, `Z+ = X+ A^T`, `S = Z Z+^T / tau`, `L = (1/n) sum_i [-S_ii + logsumexp_j S_ij]`,
/// `dL/dA = (Z+^T G^T X + Z^T G X+) / tau` with `G = (softmax_rows(S) - I) / n`.
///
/// ```
/// use gmm_core::nalgebra::DMatrix;
/// use ssl_losses::{Batch, Form, InfoNceLoss, Objective, Score};
///
/// // The scalar is a type parameter: `InfoNceLoss::<f32>` runs the same code in f32.
/// let mut loss = InfoNceLoss::<f64>::new(1.0, Form::OneWay, Score::Dot)?;
/// let (x, x_plus) = (DMatrix::identity(4, 3), DMatrix::identity(4, 3));
/// // A = 0: every score is 0, so the loss is log n.
/// let a = DMatrix::zeros(2, 3);
/// let mut grad = vec![DMatrix::zeros(2, 3)];
/// let value = loss.value_grad(&[a], Batch::new(&x, &x_plus)?, &mut grad)?;
/// assert!((value - 4f64.ln()).abs() < 1e-15);
/// # Ok::<(), ssl_losses::LossError>(())
/// ```
#[derive(Clone, Debug)]
pub struct InfoNceLoss<T: Real = f64> {
    core: Core<T>,
}

impl<T: Real> InfoNceLoss<T> {
    /// # Errors
    /// `tau <= 0` or not finite.
    pub fn new(tau: f64, form: Form, score: Score) -> Result<Self> {
        Ok(Self { core: Core::new(tau, form, score)? })
    }
}

impl<T: Real> Objective<T> for InfoNceLoss<T> {
    fn name(&self) -> &'static str {
        "infonce"
    }

    fn block_shapes(&self, r: usize, d_left: usize, _d_right: usize) -> Vec<(usize, usize)> {
        vec![(r, d_left)]
    }

    fn value_grad(&mut self, params: &[DMatrix<T>], batch: Batch<'_, T>, grads: &mut [DMatrix<T>]) -> Result<T> {
        batch.check_len(2)?;
        let shapes = [(params.first().map_or(0, |a| a.nrows()), batch.left().ncols())];
        check_blocks(params, grads, &shapes)?;
        check_shape(batch.right(), batch.len(), batch.left().ncols(), "positives against anchors")?;
        let a = &params[0];
        let loss = self.core.forward_backward(batch.left(), a, batch.right(), a)?;
        let (zero, one) = (T::zero(), T::one());
        gemm(one, &self.core.dz1, Op::T, batch.left(), Op::N, zero, &mut grads[0])?;
        gemm(one, &self.core.dz2, Op::T, batch.right(), Op::N, one, &mut grads[0])?;
        finite_loss("InfoNCE loss or gradient (overflow: the map or the data is too large)", loss, grads)
    }

    fn divergence_factor(&self) -> Option<f64> {
        Some(CONTRASTIVE_DIVERGENCE_FACTOR)
    }
}

/// CLIP: symmetric two-way InfoNCE between modality x (`A`: `r x d_x`) and modality y
/// (`B`: `r x d_y`): `S = X A^T B Y^T / tau`, `L = (1/2)[mean_i CE(S_i., i) + mean_j CE(S_.j, j)]`,
/// `dL/dA = B Y^T G^T X / tau`, `dL/dB = A X^T G Y / tau`,
/// `G = [(softmax_rows(S) - I) + (softmax_cols(S) - I)] / (2n)`.
#[derive(Clone, Debug)]
pub struct ClipLoss<T: Real = f64> {
    core: Core<T>,
}

impl<T: Real> ClipLoss<T> {
    /// # Errors
    /// `tau <= 0` or not finite.
    pub fn new(tau: f64, score: Score) -> Result<Self> {
        Ok(Self { core: Core::new(tau, Form::Symmetric, score)? })
    }
}

impl<T: Real> Objective<T> for ClipLoss<T> {
    fn name(&self) -> &'static str {
        "clip"
    }

    fn block_shapes(&self, r: usize, d_left: usize, d_right: usize) -> Vec<(usize, usize)> {
        vec![(r, d_left), (r, d_right)]
    }

    fn value_grad(&mut self, params: &[DMatrix<T>], batch: Batch<'_, T>, grads: &mut [DMatrix<T>]) -> Result<T> {
        batch.check_len(2)?;
        let r = params.first().map_or(0, |a| a.nrows());
        check_blocks(params, grads, &[(r, batch.left().ncols()), (r, batch.right().ncols())])?;
        let loss = self.core.forward_backward(batch.left(), &params[0], batch.right(), &params[1])?;
        let (ga, gb) = grads.split_at_mut(1);
        let (zero, one) = (T::zero(), T::one());
        gemm(one, &self.core.dz1, Op::T, batch.left(), Op::N, zero, &mut ga[0])?;
        gemm(one, &self.core.dz2, Op::T, batch.right(), Op::N, zero, &mut gb[0])?;
        finite_loss("CLIP loss or gradient (overflow: the maps or the data are too large)", loss, grads)
    }

    fn divergence_factor(&self) -> Option<f64> {
        Some(CONTRASTIVE_DIVERGENCE_FACTOR)
    }
}
