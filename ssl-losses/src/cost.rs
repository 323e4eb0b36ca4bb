//! Deterministic costs over parameter blocks, each with its exact gradient: what L-BFGS
//! minimises ([`crate::Lbfgs::minimize`]). The mean batch loss of an [`Objective`] over a fixed
//! partition of a fixed sample ([`FixedSample`]), the population InfoNCE at a fixed outer sample
//! ([`crate::PopulationCost`]), or any closure ([`FnCost`]).

use gmm_core::nalgebra::DMatrix;
use gmm_core::{GmmError, check_at_least, check_finite};

use crate::error::Result;
use crate::objective::{Batch, Objective, overflow_as_infinite};
use crate::scalar::{Real, from_f64};

/// A deterministic cost over parameter blocks with its exact gradient, in the scalar `T` (`f64`
/// unless stated).
pub trait Cost<T: Real = f64> {
    /// The value at `params`; the gradient of each block into `grads` (same shapes).
    ///
    /// # Errors
    /// Shapes that do not fit the cost.
    fn cost_grad(&mut self, params: &[DMatrix<T>], grads: &mut [DMatrix<T>]) -> Result<T>;
}

/// A [`Cost`] from a closure `f(params, grads) -> value`.
pub struct FnCost<F>(F);

impl<F> FnCost<F> {
    /// Wraps `f(params, grads) -> value`.
    pub fn new(f: F) -> Self {
        Self(f)
    }
}

impl<T: Real, F: FnMut(&[DMatrix<T>], &mut [DMatrix<T>]) -> Result<T>> Cost<T> for FnCost<F> {
    fn cost_grad(&mut self, params: &[DMatrix<T>], grads: &mut [DMatrix<T>]) -> Result<T> {
        (self.0)(params, grads)
    }
}

/// The deterministic objective on a fixed sample of `n` pairs (docs/theory.md 5.3): the mean of
/// the batch loss over a fixed partition of the rows into consecutive batches of `m` pairs (the
/// last batch keeps the remainder; it is merged into the one before when it would have fewer
/// than 2 pairs), each batch weighted by its share of the pairs, so that
/// `L(A) = sum_b (n_b / n) L_batch(A; b)` and its gradient is exact.
pub struct FixedSample<'a, T: Real = f64> {
    objective: &'a mut dyn Objective<T>,
    batches: Vec<(DMatrix<T>, DMatrix<T>)>,
    n: usize,
    scratch: Vec<DMatrix<T>>,
}

impl<'a, T: Real> FixedSample<'a, T> {
    /// Splits `left` and `right` (`n x d_l`, `n x d_r`, row `i` a pair) into batches of `m`.
    ///
    /// # Errors
    /// Different row counts, fewer than 2 pairs, `m < 2`, non-finite data.
    pub fn new(objective: &'a mut dyn Objective<T>, left: &DMatrix<T>, right: &DMatrix<T>, m: usize) -> Result<Self> {
        let n = left.nrows();
        if right.nrows() != n {
            let what = "rows of the positives against the anchors";
            return Err(GmmError::Shape { what, expected: n, got: right.nrows() }.into());
        }
        check_at_least(n, 2, "pairs of a fixed sample")?;
        check_at_least(m, 2, "pairs per batch of a fixed sample")?;
        check_finite(left, "fixed sample (anchors)")?;
        check_finite(right, "fixed sample (positives)")?;
        let mut starts: Vec<usize> = (0..n).step_by(m).collect();
        if starts.len() > 1 && n - starts[starts.len() - 1] < 2 {
            starts.pop();
        }
        let batches = starts
            .iter()
            .enumerate()
            .map(|(i, &s)| {
                let end = starts.get(i + 1).copied().unwrap_or(n);
                (left.rows(s, end - s).into_owned(), right.rows(s, end - s).into_owned())
            })
            .collect();
        Ok(Self { objective, batches, n, scratch: Vec::new() })
    }

    /// Number of batches in the partition.
    pub fn batches(&self) -> usize {
        self.batches.len()
    }
}

impl<T: Real> Cost<T> for FixedSample<'_, T> {
    fn cost_grad(&mut self, params: &[DMatrix<T>], grads: &mut [DMatrix<T>]) -> Result<T> {
        if self.scratch.len() != grads.len() {
            self.scratch = grads.iter().map(|g| DMatrix::zeros(g.nrows(), g.ncols())).collect();
        }
        grads.iter_mut().for_each(|g| g.fill(T::zero()));
        let mut total = T::zero();
        for (left, right) in &self.batches {
            let w = from_f64::<T>(left.nrows() as f64 / self.n as f64);
            let value = self.objective.value_grad(params, Batch::from_checked(left, right), &mut self.scratch);
            total += w * overflow_as_infinite(value)?;
            for (g, s) in grads.iter_mut().zip(&self.scratch) {
                *g += s * w;
            }
        }
        Ok(total)
    }
}
