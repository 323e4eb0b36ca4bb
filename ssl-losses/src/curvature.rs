//! The curvature behind a distance bound (docs/theory.md 5.3): the smallest eigenvalue of a
//! cost's Hessian across the directions its symmetries leave free, by Lanczos on
//! Hessian-vector products taken as central differences of the exact gradient.
//!
//! At a point with gradient `g` where the Hessian restricted to the free directions has
//! smallest eigenvalue `lambda_min > 0`, the Newton step `H^{-1} g` has norm at most
//! `||g|| / lambda_min`: to first order, the distance to the local minimiser (modulo the
//! symmetries). A gradient norm alone bounds no distance: a flat valley has small gradients far
//! from its minimiser.

use gmm_core::GmmError;
use gmm_core::nalgebra::{DMatrix, DVector};

use crate::cost::Cost;
use crate::error::Result;

/// The smallest curvature found and how it was found.
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Curvature {
    /// A lower estimate of the smallest eigenvalue of the Hessian across the free directions:
    /// the smallest Ritz value minus its residual (exact, to rounding, when Lanczos spans every
    /// free direction).
    pub smallest: f64,
    /// The smallest Ritz value itself.
    pub ritz: f64,
    /// Lanczos steps taken (each two gradient evaluations).
    pub steps: usize,
    /// Free directions: the parameters' count minus the symmetries'.
    pub free: usize,
}

/// The most Lanczos steps of [`smallest_curvature`].
pub const LANCZOS_STEPS: usize = 60;

/// The smallest curvature of `cost` at `params` across the directions orthogonal to
/// `symmetries` (tangents of the cost's invariances at `params`, each given as blocks shaped
/// like `params`; e.g. `S A` for skew `S` when the cost depends on `A` through `A^T A`), by
/// Lanczos with full reorthogonalisation for at most [`LANCZOS_STEPS`] steps from a seeded start.
/// Hessian-vector products are central differences of the exact gradient with step
/// `1e-5 max(1, ||params||)` (error `O(h^2)` against a curvature of order 1).
///
/// # Errors
/// A non-finite gradient near `params`; no free direction.
pub fn smallest_curvature(
    cost: &mut dyn Cost,
    params: &[DMatrix<f64>],
    symmetries: &[Vec<DMatrix<f64>>],
) -> Result<Curvature> {
    let shapes: Vec<(usize, usize)> = params.iter().map(|p| p.shape()).collect();
    let x = flatten(params);
    let p = x.len();
    let mut basis: Vec<DVector<f64>> = Vec::new();
    for s in symmetries {
        let mut v = flatten(s);
        let before = v.norm();
        orthogonalise(&mut v, &basis);
        let norm = v.norm();
        if norm > 1e-10 * before.max(f64::MIN_POSITIVE) {
            basis.push(v / norm);
        }
    }
    let free = p.saturating_sub(basis.len());
    if free == 0 {
        return Err(GmmError::TooFew { what: "free directions of the curvature", min: 1, got: 0 }.into());
    }
    let h = 1e-5 * x.norm().max(1.0);
    let mut grads: Vec<DMatrix<f64>> = shapes.iter().map(|&(r, c)| DMatrix::zeros(r, c)).collect();
    let mut gradient_at = |y: &DVector<f64>| -> Result<DVector<f64>> {
        cost.cost_grad(&unflatten(y, &shapes), &mut grads)?;
        let g = flatten(&grads);
        gmm_core::check_finite(&g, "gradient near the point whose curvature is estimated")?;
        Ok(g)
    };
    let mut hessian_times = |v: &DVector<f64>| -> Result<DVector<f64>> {
        Ok((gradient_at(&(&x + v * h))? - gradient_at(&(&x - v * h))?) / (2.0 * h))
    };
    // A fixed start: the same bits on every run.
    let mut q = DVector::from_fn(p, |i, _| ((i as f64 + 1.0) * 0.618_033_988_749_895).fract() - 0.5);
    orthogonalise(&mut q, &basis);
    q /= q.norm();
    let (mut alphas, mut betas, mut lanczos) = (Vec::new(), Vec::new(), vec![q]);
    for _ in 0..free.min(LANCZOS_STEPS) {
        let last = lanczos.last().cloned().unwrap_or_else(|| DVector::zeros(p));
        let mut w = hessian_times(&last)?;
        orthogonalise(&mut w, &basis);
        alphas.push(last.dot(&w));
        // Full reorthogonalisation against the symmetries and every Lanczos vector, twice (once
        // is not enough: when the Krylov space nears the free directions' dimension, what is
        // left of `w` is rounding, and its components along the symmetries, removed only before
        // the Lanczos vectors were, would make a "free" direction of curvature 0).
        for _ in 0..2 {
            orthogonalise(&mut w, &basis);
            orthogonalise(&mut w, &lanczos);
        }
        let beta = w.norm();
        if beta <= 1e-12 * alphas.iter().fold(1e-300_f64, |m, a| m.max(a.abs())) || lanczos.len() == free {
            betas.push(0.0);
            break;
        }
        betas.push(beta);
        lanczos.push(w / beta);
    }
    let m = alphas.len();
    let t = DMatrix::from_fn(m, m, |i, j| match i.abs_diff(j) {
        0 => alphas[i],
        1 => betas[i.min(j)],
        _ => 0.0,
    });
    let (values, vectors) = gmm_core::linalg::sym_eig_desc(&t)?;
    let ritz = values[m - 1];
    // The residual of the smallest Ritz pair: beta_m times the last entry of its eigenvector.
    let residual = betas.last().copied().unwrap_or(0.0) * vectors[(m - 1, m - 1)].abs();
    Ok(Curvature { smallest: ritz - residual, ritz, steps: m, free })
}

/// The tangents of the rotations of the rows of `a` (`r x d`): `S a` for the `r (r - 1) / 2`
/// elementary skew matrices `S`; a cost of `a^T a` (InfoNCE's and CLIP's dot and cosine scores)
/// does not change along them.
pub fn row_rotations(a: &DMatrix<f64>) -> Vec<DMatrix<f64>> {
    let r = a.nrows();
    let mut out = Vec::new();
    for i in 0..r {
        for j in i + 1..r {
            let mut t = DMatrix::zeros(r, a.ncols());
            t.row_mut(i).copy_from(&a.row(j));
            t.row_mut(j).copy_from(&(-a.row(i)));
            out.push(t);
        }
    }
    out
}

fn flatten(blocks: &[DMatrix<f64>]) -> DVector<f64> {
    DVector::from_iterator(blocks.iter().map(|b| b.len()).sum(), blocks.iter().flat_map(|b| b.iter().copied()))
}

fn unflatten(v: &DVector<f64>, shapes: &[(usize, usize)]) -> Vec<DMatrix<f64>> {
    let mut offset = 0;
    shapes
        .iter()
        .map(|&(r, c)| {
            let block = DMatrix::from_column_slice(r, c, &v.as_slice()[offset..offset + r * c]);
            offset += r * c;
            block
        })
        .collect()
}

/// Removes from `v` its components along the orthonormal `basis`.
fn orthogonalise(v: &mut DVector<f64>, basis: &[DVector<f64>]) {
    for b in basis {
        let c = b.dot(v);
        v.axpy(-c, b, 1.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cost::FnCost;

    #[test]
    fn lanczos_finds_the_smallest_free_eigenvalue_of_a_quadratic() {
        // f(x) = x^T M x / 2 with M = diag(5, 4, 3, 0.5, 2): the symmetry e_4 (the 0.5 direction)
        // is projected out, so the smallest free curvature is 2; without it, 0.5.
        let diag = [5.0, 4.0, 3.0, 0.5, 2.0];
        let mut cost = FnCost::new(|p: &[DMatrix<f64>], g: &mut [DMatrix<f64>]| {
            g[0] = DMatrix::from_fn(5, 1, |i, _| diag[i] * p[0][(i, 0)]);
            Ok((0..5).map(|i| 0.5 * diag[i] * p[0][(i, 0)].powi(2)).sum())
        });
        let at = [DMatrix::from_element(5, 1, 0.3)];
        let all = smallest_curvature(&mut cost, &at, &[]).unwrap();
        assert!((all.smallest - 0.5).abs() < 1e-6 && all.free == 5, "{all:?}");
        let symmetry = vec![DMatrix::from_fn(5, 1, |i, _| if i == 3 { 1.0 } else { 0.0 })];
        let free = smallest_curvature(&mut cost, &at, &[symmetry]).unwrap();
        assert!((free.smallest - 2.0).abs() < 1e-6 && free.free == 4, "{free:?}");
    }

    #[test]
    fn the_free_curvature_of_a_gram_cost_matches_its_dense_hessian() {
        // f(A) = ||A^T A - M||_F^2 / 4 near a minimiser (M = A_0^T A_0, A = A_0 + 1e-3 E, as a
        // fit's end point is near, not at, its minimiser): the smallest free curvature must be the
        // smallest eigenvalue of the dense Hessian (finite differences) compressed to the
        // complement of the rotations S A. Lanczos runs until the free directions are spent,
        // where the last Krylov vectors are rounding: a curvature near 0 means the rotations'
        // components leaked back into them.
        for (r, d) in [(2, 5), (3, 4), (3, 6), (4, 7)] {
            let a0 = DMatrix::from_fn(r, d, |i, j| ((i * d + j) as f64 * 0.7).sin() + if i == j { 1.5 } else { 0.0 });
            let m = a0.transpose() * &a0;
            let a = &a0 + DMatrix::from_fn(r, d, |i, j| 1e-3 * ((i + 2 * j) as f64).cos());
            let grad = |p: &DMatrix<f64>| p * (p.transpose() * p - &m);
            let mut cost = FnCost::new(|p: &[DMatrix<f64>], g: &mut [DMatrix<f64>]| {
                g[0] = grad(&p[0]);
                Ok((p[0].transpose() * &p[0] - &m).norm_squared() / 4.0)
            });
            let tangents = row_rotations(&a);
            let symmetries: Vec<Vec<DMatrix<f64>>> = tangents.iter().map(|t| vec![t.clone()]).collect();
            let found = smallest_curvature(&mut cost, std::slice::from_ref(&a), &symmetries).unwrap();
            let (p, h) = (r * d, 1e-6);
            let dense = DMatrix::from_fn(p, p, |i, j| {
                let mut e = DMatrix::zeros(r, d);
                e[j] = h;
                ((grad(&(&a + &e)) - grad(&(&a - &e))) / (2.0 * h))[i]
            });
            // An orthonormal basis of the complement of the tangents: the last p - t columns of
            // a full QR of [tangents | I].
            let t = tangents.len();
            let mut stacked = DMatrix::zeros(p, t + p);
            for (c, tangent) in tangents.iter().enumerate() {
                stacked.column_mut(c).copy_from_slice(tangent.as_slice());
            }
            stacked.columns_mut(t, p).fill_with_identity();
            let q = stacked.qr().q();
            let complement = q.columns(t, p - t).into_owned();
            let compressed = complement.transpose() * (&dense + dense.transpose()) * 0.5 * &complement;
            let smallest = compressed.symmetric_eigenvalues().min();
            assert!(smallest > 1e-2, "r {r}, d {d}: {smallest}");
            assert!((found.smallest - smallest).abs() < 1e-4 * smallest, "r {r}, d {d}: {found:?} against {smallest}");
        }
    }

    #[test]
    fn rotations_of_the_rows_are_orthogonal_to_the_gradient_of_a_gram_cost() {
        let a = DMatrix::from_fn(3, 4, |i, j| (i * 4 + j) as f64 * 0.1 - 0.5);
        let tangents = row_rotations(&a);
        assert_eq!(tangents.len(), 3);
        // f(A) = ||A^T A - I||^2 depends on A^T A only: its gradient 4 A (A^T A - I) is orthogonal
        // to every S A.
        let grad = &a * (a.transpose() * &a - DMatrix::identity(4, 4)) * 4.0;
        for t in &tangents {
            assert!(grad.dot(t).abs() < 1e-12, "{}", grad.dot(t));
        }
    }
}
