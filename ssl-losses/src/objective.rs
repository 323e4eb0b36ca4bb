//! The one trait every loss implements, and the batch it is evaluated on.

use gmm_core::linalg::{Op, gemm};
use gmm_core::nalgebra::DMatrix;
use gmm_core::{GmmError, check_at_least, check_finite, check_shape};

use crate::error::{LossError, Result};
use crate::scalar::{Real, from_f64, to_f64};

/// A batch of positive pairs: row `i` of `left` and row `i` of `right` are a positive pair
/// (anchors and positives for InfoNCE and SimSiam; modality x and modality y for CLIP).
/// Samples are rows; the scalar is `f64` unless stated.
///
/// A batch is checked once, when it is built ([`Batch::new`]: one pair per row on both sides,
/// every entry finite), so an objective never re-scans its data: it checks only what depends on
/// itself (the batch's size against its minimum, the columns against its parameters). The
/// built-in sources over a fixed sample build their batches from data checked when the source
/// was, without a second scan.
#[derive(Debug)]
pub struct Batch<'a, T: Real = f64> {
    left: &'a DMatrix<T>,
    right: &'a DMatrix<T>,
}

impl<T: Real> Clone for Batch<'_, T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T: Real> Copy for Batch<'_, T> {}

impl<'a, T: Real> Batch<'a, T> {
    /// A batch from two matrices with one pair per row.
    ///
    /// # Errors
    /// Sides with different row counts; a non-finite entry (named by side, row and column).
    pub fn new(left: &'a DMatrix<T>, right: &'a DMatrix<T>) -> Result<Self> {
        if right.nrows() != left.nrows() {
            let what = "rows of the two sides of a batch";
            return Err(GmmError::Shape { what, expected: left.nrows(), got: right.nrows() }.into());
        }
        check_finite(left, "batch (left side)")?;
        check_finite(right, "batch (right side)")?;
        Ok(Self { left, right })
    }

    /// A batch of rows copied from data that was checked (finite, one pair per row) when its
    /// source was built: not scanned again.
    pub(crate) fn from_checked(left: &'a DMatrix<T>, right: &'a DMatrix<T>) -> Self {
        debug_assert_eq!(left.nrows(), right.nrows());
        Self { left, right }
    }

    /// The left side (`n x d_left`).
    pub fn left(&self) -> &'a DMatrix<T> {
        self.left
    }

    /// The right side (`n x d_right`).
    pub fn right(&self) -> &'a DMatrix<T> {
        self.right
    }

    /// Number of pairs.
    pub fn len(&self) -> usize {
        self.left.nrows()
    }

    /// True for an empty batch.
    pub fn is_empty(&self) -> bool {
        self.left.nrows() == 0
    }

    /// Checks that the batch has at least `min_n` pairs (a contrastive batch needs 2: the others
    /// are the negatives).
    ///
    /// # Errors
    /// [`GmmError::TooFew`] below `min_n`.
    pub fn check_len(&self, min_n: usize) -> Result<()> {
        Ok(check_at_least(
            self.len(),
            min_n,
            "pairs in a batch (a contrastive batch needs 2: the others are the negatives)",
        )?)
    }
}

/// A differentiable objective over parameter blocks (e.g. `[A]`, `[A, W]`, `[A, B]`).
///
/// `value_grad` returns the loss on a batch and writes the gradient of each block into the
/// caller-owned `grads` (same shapes as `params`), so a training loop allocates nothing per step.
/// The scalar `T` is `f64` unless stated; the executor is generic over it.
pub trait Objective<T: Real = f64> {
    /// Short name, e.g. `"infonce"`.
    fn name(&self) -> &'static str;

    /// Shapes of the parameter blocks for output dimension `r` and input dimensions
    /// `(d_left, d_right)`.
    fn block_shapes(&self, r: usize, d_left: usize, d_right: usize) -> Vec<(usize, usize)>;

    /// Loss value on `batch`; gradients into `grads`.
    ///
    /// # Errors
    /// Shape mismatches between blocks, batch and gradients; a batch that is too small.
    fn value_grad(&mut self, params: &[DMatrix<T>], batch: Batch<'_, T>, grads: &mut [DMatrix<T>]) -> Result<T>;

    /// A training run diverges when the loss exceeds this factor times `max(|first loss|, 1)`;
    /// `None` (the default) for losses that rightly grow from a small start (SimSiam's does).
    fn divergence_factor(&self) -> Option<f64> {
        None
    }
}

/// The divergence factor of the contrastive losses (InfoNCE, CLIP): they are non-negative and
/// start near `log n` at a small map, so a loss ten times its start means exploding logits.
pub const CONTRASTIVE_DIVERGENCE_FACTOR: f64 = 10.0;

/// `Ok(loss)` when the loss and every gradient entry are finite; otherwise a
/// [`GmmError::NonFinite`] naming the loss: a map or data large enough to overflow the scores
/// (or a non-finite parameter) must not come back as `Ok(NaN)`.
pub(crate) fn finite_loss<T: Real>(name: &'static str, loss: T, grads: &[DMatrix<T>]) -> Result<T> {
    if !loss.is_finite() {
        return Err(GmmError::NonFinite { what: name, row: 0, col: 0, value: to_f64(loss) }.into());
    }
    for g in grads {
        check_finite(g, name)?;
    }
    Ok(loss)
}

/// A loss evaluation whose value or gradient overflowed ([`finite_loss`]'s error) as an infinite
/// value, for the optimisers: the line search backs off from such a trial point, and the
/// training loop reports [`LossError::Diverged`] naming the step and the learning rate.
pub(crate) fn overflow_as_infinite<T: Real>(value: Result<T>) -> Result<T> {
    match value {
        Err(LossError::Core(GmmError::NonFinite { .. })) => Ok(from_f64(f64::INFINITY)),
        other => other,
    }
}

/// Checks that `params` and `grads` have the shapes `shapes`.
pub(crate) fn check_blocks<T: Real>(
    params: &[DMatrix<T>],
    grads: &[DMatrix<T>],
    shapes: &[(usize, usize)],
) -> Result<()> {
    for (blocks, what) in [(params.len(), "number of parameter blocks"), (grads.len(), "number of gradient blocks")] {
        if blocks != shapes.len() {
            return Err(GmmError::Shape { what, expected: shapes.len(), got: blocks }.into());
        }
    }
    for ((p, g), &(rows, cols)) in params.iter().zip(grads).zip(shapes) {
        check_shape(p, rows, cols, "parameter block")?;
        check_shape(g, rows, cols, "gradient block")?;
    }
    Ok(())
}

/// `out = X A^T` into a reusable buffer (resized when the shape changes).
pub(crate) fn project_into<T: Real>(x: &DMatrix<T>, a: &DMatrix<T>, out: &mut DMatrix<T>) -> Result<()> {
    ensure_shape(out, x.nrows(), a.nrows());
    Ok(gemm(T::one(), x, Op::N, a, Op::T, T::zero(), out)?)
}

/// Resizes a buffer to `(n, m)` if needed.
pub(crate) fn ensure_shape<T: Real>(buf: &mut DMatrix<T>, n: usize, m: usize) {
    if buf.shape() != (n, m) {
        *buf = DMatrix::zeros(n, m);
    }
}

/// Refuses a cosine loss on one output direction: every cosine is then +-1, so the loss is
/// piecewise constant (its gradient zero, and undefined where a projection crosses 0): nothing
/// to train. `what` names the setting, `instead` the alternative that does train.
pub(crate) fn check_cosine_rank(r: usize, what: &'static str, instead: &str) -> Result<()> {
    if r == 1 {
        return Err(GmmError::out_of_range(
            what,
            1.0,
            format!("at least 2 (with one direction every cosine is +-1: the loss is piecewise constant); {instead}"),
        )
        .into());
    }
    Ok(())
}
