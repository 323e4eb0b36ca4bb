//! Decompositions and solves: Cholesky, the symmetric and generalized symmetric eigenproblems,
//! triangular solves, the SVD and orthonormal bases.

use nalgebra::{Cholesky, DMatrix, DVector, Dyn};

use super::SYMMETRY_RTOL;
use super::product::{Op, faer_view, faer_view_mut};
use crate::error::{GmmError, Result, check_finite, check_shape};

/// Copies a faer matrix into a nalgebra one.
fn from_faer(m: faer::MatRef<'_, f64>) -> DMatrix<f64> {
    DMatrix::from_fn(m.nrows(), m.ncols(), |i, j| m[(i, j)])
}

/// `(S + S^T) / 2`.
pub fn symmetrize(s: &DMatrix<f64>) -> DMatrix<f64> {
    (s + s.transpose()) * 0.5
}

/// Checks that a square matrix is symmetric within [`SYMMETRY_RTOL`] (relative to its largest
/// entry) and returns its exact symmetrisation `(S + S^T)/2`.
pub fn checked_symmetric(s: &DMatrix<f64>, what: &'static str) -> Result<DMatrix<f64>> {
    check_shape(s, s.ncols(), s.ncols(), what)?;
    check_finite(s, what)?;
    let scale = s.amax().max(f64::MIN_POSITIVE);
    let mut worst = (0.0, 0, 0);
    for j in 0..s.ncols() {
        for i in 0..j {
            let gap = (s[(i, j)] - s[(j, i)]).abs() / scale;
            if gap > worst.0 {
                worst = (gap, i, j);
            }
        }
    }
    if worst.0 > SYMMETRY_RTOL {
        return Err(GmmError::NotSymmetric { what, i: worst.1, j: worst.2, gap: worst.0, tol: SYMMETRY_RTOL });
    }
    Ok(symmetrize(s))
}

/// Cholesky factorisation `S = L L^T` of a symmetric positive definite matrix.
///
/// # Errors
/// Non-finite entries; [`GmmError::Singular`] when the factorisation fails or its factor
/// overflows.
pub fn cholesky(s: &DMatrix<f64>, what: &'static str) -> Result<Cholesky<f64, Dyn>> {
    crate::check_shape(s, s.nrows(), s.nrows(), "columns of a matrix under Cholesky against its rows")?;
    check_finite(s, what)?;
    Cholesky::new(s.clone())
        .filter(|c| c.l_dirty().iter().all(|v| v.is_finite()))
        .ok_or_else(|| not_positive_definite(what))
}

/// [`GmmError::Singular`] for a matrix that had to be symmetric positive definite.
pub(super) fn not_positive_definite(what: &'static str) -> GmmError {
    GmmError::Singular { what, fix: "it must be symmetric positive definite (a covariance of full rank)" }
}

/// Eigen-decomposition of a symmetric matrix, `S = V diag(w) V^T`.
///
/// The input is symmetrised first. Returns `(w, V)` with eigenvalues **descending** and the
/// eigenvectors as the columns of `V` in the same order.
///
/// # Errors
/// Non-finite input, or [`GmmError::NoConvergence`].
pub fn sym_eig_desc(s: &DMatrix<f64>) -> Result<(DVector<f64>, DMatrix<f64>)> {
    check_shape(s, s.ncols(), s.ncols(), "symmetric eigenproblem: square matrix")?;
    check_finite(s, "symmetric eigenproblem")?;
    let n = s.nrows();
    // Entries near the ends of the f64 range overflow or underflow inside the decomposition: such
    // a matrix is scaled by a power of two first (exact), and its eigenvalues back.
    let largest = s.amax();
    let scale = if largest > 2f64.powi(500) || (largest > 0.0 && largest < 2f64.powi(-500)) {
        2f64.powi(-largest.log2().round() as i32)
    } else {
        1.0
    };
    sequential_decompositions();
    let evd = faer_view(&(symmetrize(s) * scale), Op::N)
        .self_adjoint_eigen(faer::Side::Lower)
        .map_err(|_| GmmError::NoConvergence { what: "symmetric eigendecomposition" })?;
    // faer sorts ascending; reverse.
    let (w, v) = (evd.S().column_vector(), evd.U());
    let values = DVector::from_fn(n, |i, _| w[n - 1 - i] / scale);
    let vectors = DMatrix::from_fn(n, n, |i, j| v[(i, n - 1 - j)]);
    check_finite(&vectors, "eigenvectors of a symmetric eigenproblem")?;
    check_finite(&values, "eigenvalues (overflow)")?;
    Ok((values, vectors))
}

/// Solution of the generalized symmetric-definite eigenproblem `A v = lambda B v`.
#[derive(Clone, Debug)]
pub struct GeneralizedEigen {
    /// Eigenvalues, **descending**.
    pub values: DVector<f64>,
    /// Eigenvectors as columns, in the order of `values`, normalised so that `V^T B V = I`.
    pub vectors: DMatrix<f64>,
}

/// Solves `A v = lambda B v` for symmetric `A` and symmetric positive definite `B`.
///
/// Method (theory.md, LDA): symmetrise both, factor `B = L L^T`, take the symmetric
/// eigendecomposition of `C = L^{-1} A L^{-T}`, sort its eigenvalues in descending order, and
/// back-substitute `v = L^{-T} u`. The eigenvectors are `B`-orthonormal.
///
/// # Errors
/// Shape mismatch, non-finite entries, `B` not positive definite, or no convergence.
pub fn gen_sym_eig(a: &DMatrix<f64>, b: &DMatrix<f64>) -> Result<GeneralizedEigen> {
    let n = b.nrows();
    check_shape(a, n, n, "generalized eigenproblem: A against B")?;
    check_finite(a, "generalized eigenproblem: A")?;
    check_finite(b, "generalized eigenproblem: B")?;
    let chol = cholesky(&symmetrize(b), "generalized eigenproblem: B")?;
    let l = chol.l();
    // C = L^{-1} A L^{-T}: two triangular solves.
    let mut c = symmetrize(a);
    solve_lower_in_place(&l, &mut c);
    let mut ct = c.transpose();
    solve_lower_in_place(&l, &mut ct);
    let (values, u) = sym_eig_desc(&ct)?;
    let mut vectors = u;
    solve_lower_transpose_in_place(&l, &mut vectors);
    Ok(GeneralizedEigen { values, vectors })
}

/// `X <- L^{-1} X` for lower-triangular invertible `L` (faer's blocked solve; only the lower
/// triangle of `L` is read).
pub(crate) fn solve_lower_in_place(l: &DMatrix<f64>, x: &mut DMatrix<f64>) {
    faer::linalg::triangular_solve::solve_lower_triangular_in_place(
        faer_view(l, Op::N),
        faer_view_mut(x),
        faer::Par::Seq,
    );
}

/// `X <- L^{-T} X` for lower-triangular invertible `L`.
pub(crate) fn solve_lower_transpose_in_place(l: &DMatrix<f64>, x: &mut DMatrix<f64>) {
    faer::linalg::triangular_solve::solve_upper_triangular_in_place(
        faer_view(l, Op::T),
        faer_view_mut(x),
        faer::Par::Seq,
    );
}

/// Thin singular value decomposition `M = U diag(s) V^T` (`U`: `m x p`, `V`: `n x p`,
/// `p = min(m, n)`), singular values **descending**.
#[derive(Clone, Debug)]
pub struct Svd {
    /// Left singular vectors as columns.
    pub u: DMatrix<f64>,
    /// Singular values, descending.
    pub singular_values: DVector<f64>,
    /// Right singular vectors as columns.
    pub v: DMatrix<f64>,
}

/// faer's decompositions read a process-wide parallelism (the whole rayon pool by default), and
/// with it gave the SimSiam/BYOL flows' certificates (Jacobians of a few hundred rows) different
/// last bits with 1 and 2 threads (ssl-gmm's test `e9_rows_do_not_depend_on_the_thread_count`).
/// Every decomposition here runs on the calling thread, so its bits never do (products choose
/// their parallelism explicitly, [`super::gemm`]); set before each call, so a caller's own
/// setting cannot leak in.
fn sequential_decompositions() {
    faer::set_global_parallelism(faer::Par::Seq);
}

/// Thin SVD of `m` (see [`Svd`]).
pub fn svd(m: &DMatrix<f64>) -> Result<Svd> {
    check_finite(m, "matrix under SVD")?;
    let p = m.nrows().min(m.ncols());
    if p == 0 {
        return Ok(Svd {
            u: DMatrix::zeros(m.nrows(), 0),
            singular_values: DVector::zeros(0),
            v: DMatrix::zeros(m.ncols(), 0),
        });
    }
    sequential_decompositions();
    let f =
        faer_view(m, Op::N).thin_svd().map_err(|_| GmmError::NoConvergence { what: "singular value decomposition" })?;
    let s = f.S().column_vector();
    Ok(Svd { u: from_faer(f.U()), singular_values: DVector::from_fn(p, |i, _| s[i]), v: from_faer(f.V()) })
}

/// Singular values of `m`, descending.
pub fn singular_values(m: &DMatrix<f64>) -> Result<Vec<f64>> {
    check_finite(m, "matrix under SVD")?;
    if m.nrows().min(m.ncols()) == 0 {
        return Ok(Vec::new());
    }
    sequential_decompositions();
    faer_view(m, Op::N).singular_values().map_err(|_| GmmError::NoConvergence { what: "singular value decomposition" })
}

/// Eigenvalues of a square, not necessarily symmetric `m` as `(real, imaginary)` pairs, by
/// decreasing real part (faer's real Schur form; nalgebra 0.35's Schur iteration fails to converge
/// on the Jacobians of the SimSiam/BYOL flow).
pub fn eigenvalues(m: &DMatrix<f64>) -> Result<Vec<(f64, f64)>> {
    check_finite(m, "matrix under eigendecomposition")?;
    if m.nrows() != m.ncols() {
        return Err(GmmError::Shape { what: "columns of a square matrix", expected: m.nrows(), got: m.ncols() });
    }
    if m.nrows() == 0 {
        return Ok(Vec::new());
    }
    sequential_decompositions();
    let values =
        faer_view(m, Op::N).eigenvalues().map_err(|_| GmmError::NoConvergence { what: "eigendecomposition" })?;
    let mut pairs: Vec<(f64, f64)> = values.iter().map(|z| (z.re, z.im)).collect();
    pairs.sort_by(|a, b| b.0.total_cmp(&a.0));
    Ok(pairs)
}

/// Orthonormal basis (as columns, `nrows x rank`) of the column space of `m`.
///
/// The rank counts singular values `s_i > rtol * s_max`; a zero matrix has rank 0 and yields a
/// `nrows x 0` basis. Columns are the left singular vectors, in descending singular-value order.
pub fn orthonormal_column_basis(m: &DMatrix<f64>, rtol: f64) -> Result<DMatrix<f64>> {
    check_finite(m, "matrix whose column space is taken")?;
    if m.ncols() == 0 || m.nrows() == 0 {
        return Ok(DMatrix::zeros(m.nrows(), 0));
    }
    let svd = svd(m)?;
    let s_max = svd.singular_values.max();
    let rank = if s_max > 0.0 { svd.singular_values.iter().filter(|&&s| s > rtol * s_max).count() } else { 0 };
    Ok(svd.u.columns(0, rank).into_owned())
}
