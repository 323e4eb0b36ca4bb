//! The strong-Wolfe line search of L-BFGS (Nocedal & Wright, Algorithms 3.5-3.6): bracketing
//! by doubling, then zoom with safeguarded cubic interpolation.

use gmm_core::nalgebra::{DMatrix, DVector};

use crate::cost::Cost;
use crate::error::Result;
use crate::scalar::{Real, from_f64, to_f64};

/// The strong Wolfe conditions with sufficient-decrease constant `c1` and curvature constant
/// `c2` (`0 < c1 < c2 < 1`), at most `max_evals` cost evaluations per search.
#[derive(Clone, Copy, Debug)]
pub(crate) struct StrongWolfe {
    pub(crate) c1: f64,
    pub(crate) c2: f64,
    pub(crate) max_evals: usize,
}

/// Flattens blocks into one `f64` vector (column-major within each block, blocks in order): the
/// solver's own arithmetic is in `f64` whatever the cost's scalar.
pub(crate) fn flatten<T: Real>(blocks: &[DMatrix<T>]) -> DVector<f64> {
    DVector::from_iterator(
        blocks.iter().map(|b| b.len()).sum(),
        blocks.iter().flat_map(|b| b.iter().map(|&v| to_f64(v))),
    )
}

/// Writes the vector back into blocks of the same shapes (rounded to the cost's scalar).
pub(crate) fn unflatten<T: Real>(v: &DVector<f64>, blocks: &mut [DMatrix<T>]) {
    let mut offset = 0;
    for b in blocks.iter_mut() {
        for (dst, &src) in b.iter_mut().zip(&v.as_slice()[offset..]) {
            *dst = from_f64(src);
        }
        offset += b.len();
    }
}

/// The cost along the search direction: value and directional derivative at `x + t p`.
pub(crate) struct Line<'a, T: Real> {
    pub(crate) cost: &'a mut dyn Cost<T>,
    pub(crate) x: &'a DVector<f64>,
    pub(crate) p: &'a DVector<f64>,
    pub(crate) blocks: Vec<DMatrix<T>>,
    pub(crate) grads: Vec<DMatrix<T>>,
    pub(crate) evaluations: usize,
}

/// One evaluated point of the line search.
#[derive(Clone)]
pub(crate) struct Point {
    pub(crate) t: f64,
    pub(crate) f: f64,
    pub(crate) slope: f64,
    pub(crate) g: DVector<f64>,
}

impl<T: Real> Line<'_, T> {
    pub(crate) fn eval(&mut self, t: f64) -> Result<Point> {
        let xt = self.x + self.p * t;
        unflatten(&xt, &mut self.blocks);
        let f = to_f64(self.cost.cost_grad(&self.blocks, &mut self.grads)?);
        self.evaluations += 1;
        let g = flatten(&self.grads);
        Ok(Point { t, f, slope: g.dot(self.p), g })
    }
}

/// Minimiser of the cubic through `(a, fa, da)` and `(b, fb, db)`, kept inside the bracket
/// (bisection when the cubic has no usable minimiser).
fn cubic_min(a: &Point, b: &Point) -> f64 {
    let (lo, hi) = if a.t < b.t { (a.t, b.t) } else { (b.t, a.t) };
    let d1 = a.slope + b.slope - 3.0 * (a.f - b.f) / (a.t - b.t);
    let disc = d1 * d1 - a.slope * b.slope;
    let mid = 0.5 * (lo + hi);
    if disc.is_nan() || disc < 0.0 || disc.is_infinite() {
        return mid;
    }
    let d2 = (b.t - a.t).signum() * disc.sqrt();
    let t = b.t - (b.t - a.t) * (b.slope + d2 - d1) / (b.slope - a.slope + 2.0 * d2);
    // Stay clear of the ends, so that the bracket shrinks.
    let margin = 0.1 * (hi - lo);
    if t.is_finite() && t > lo + margin && t < hi - margin { t } else { mid }
}

impl StrongWolfe {
    /// A step length satisfying the strong Wolfe conditions along the line, or `None` when
    /// no decrease is possible (the cost is flat to rounding along the direction).
    pub(crate) fn search<T: Real>(&self, line: &mut Line<'_, T>, start: &Point) -> Result<Option<Point>> {
        let (c1, c2) = (self.c1, self.c2);
        let armijo = |pt: &Point| pt.f <= start.f + c1 * pt.t * start.slope;
        let curvature = |pt: &Point| pt.slope.abs() <= c2 * start.slope.abs();
        let mut prev = start.clone();
        let mut t = 1.0;
        let mut best: Option<Point> = None;
        for i in 0..self.max_evals {
            let pt = line.eval(t)?;
            if pt.f.is_finite() && pt.f < best.as_ref().map_or(start.f, |b| b.f) {
                best = Some(pt.clone());
            }
            if !pt.f.is_finite() || !armijo(&pt) || (i > 0 && pt.f >= prev.f) {
                return self.zoom(line, start, prev, pt, self.max_evals - i - 1, best);
            }
            if curvature(&pt) {
                return Ok(Some(pt));
            }
            if pt.slope >= 0.0 {
                return self.zoom(line, start, pt, prev, self.max_evals - i - 1, best);
            }
            prev = pt;
            t *= 2.0;
        }
        Ok(best)
    }

    /// Zoom of Nocedal & Wright's Algorithm 3.6 between `lo` (satisfies sufficient decrease,
    /// lowest cost so far) and `hi`. Falls back to the best decreasing point seen when the
    /// evaluation budget runs out.
    fn zoom<T: Real>(
        &self,
        line: &mut Line<'_, T>,
        start: &Point,
        mut lo: Point,
        mut hi: Point,
        budget: usize,
        mut best: Option<Point>,
    ) -> Result<Option<Point>> {
        for _ in 0..budget {
            let t = if hi.f.is_finite() { cubic_min(&lo, &hi) } else { 0.5 * (lo.t + hi.t) };
            if (hi.t - lo.t).abs() <= f64::EPSILON * lo.t.abs().max(1e-300) {
                break;
            }
            let pt = line.eval(t)?;
            if pt.f.is_finite() && pt.f < best.as_ref().map_or(start.f, |b| b.f) {
                best = Some(pt.clone());
            }
            if !pt.f.is_finite() || pt.f > start.f + self.c1 * t * start.slope || pt.f >= lo.f {
                hi = pt;
            } else {
                if pt.slope.abs() <= self.c2 * start.slope.abs() {
                    return Ok(Some(pt));
                }
                if pt.slope * (hi.t - lo.t) >= 0.0 {
                    hi = lo;
                }
                lo = pt;
            }
        }
        Ok(best)
    }
}
