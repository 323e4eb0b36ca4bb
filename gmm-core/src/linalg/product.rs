//! Matrix products: `gemm` on packed kernels (faer or matrixmultiply, chosen by shape).

use nalgebra::{DMatrix, Dyn, Matrix, RawStorage};

use crate::error::{GmmError, Result, check_shape};

/// Whether an operand of [`gemm`] enters as itself or transposed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// `A`.
    N,
    /// `A^T`.
    T,
}

/// The scalars [`gemm`] multiplies: `f64` and `f32` (sealed: the two floating-point types both
/// faer and matrixmultiply have packed kernels for).
pub trait GemmScalar:
    nalgebra::RealField + Copy + faer::traits::ComplexField + faer::traits::Conjugate<Canonical = Self> + sealed::Sealed
{
    /// matrixmultiply's kernel for this scalar (`dgemm` or `sgemm`).
    ///
    /// # Safety
    /// As `matrixmultiply::dgemm`: the pointers and strides describe matrices of the given
    /// shapes, and `c` aliases neither `a` nor `b`.
    #[doc(hidden)]
    #[allow(clippy::too_many_arguments)]
    unsafe fn packed_gemm(
        m: usize,
        k: usize,
        n: usize,
        alpha: Self,
        a: (*const Self, isize, isize),
        b: (*const Self, isize, isize),
        beta: Self,
        c: (*mut Self, isize, isize),
    );
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for f64 {}
    impl Sealed for f32 {}
}

macro_rules! gemm_scalar {
    ($t:ty, $kernel:ident) => {
        impl GemmScalar for $t {
            unsafe fn packed_gemm(
                m: usize,
                k: usize,
                n: usize,
                alpha: Self,
                a: (*const Self, isize, isize),
                b: (*const Self, isize, isize),
                beta: Self,
                c: (*mut Self, isize, isize),
            ) {
                // SAFETY: the caller's contract is matrixmultiply's.
                unsafe { matrixmultiply::$kernel(m, k, n, alpha, a.0, a.1, a.2, b.0, b.1, b.2, beta, c.0, c.1, c.2) }
            }
        }
    };
}
gemm_scalar!(f64, dgemm);
gemm_scalar!(f32, sgemm);

/// A nalgebra matrix (or view) as a faer view of the same memory, transposed for [`Op::T`].
pub(super) fn faer_view<T: GemmScalar, S: RawStorage<T, Dyn, Dyn>>(
    a: &Matrix<T, Dyn, Dyn, S>,
    op: Op,
) -> faer::MatRef<'_, T> {
    let ((rows, cols), (rs, cs)) = (a.shape(), a.strides());
    // SAFETY: pointer, shape and strides describe the borrowed nalgebra storage, which outlives
    // the returned view (same lifetime); faer reads it only.
    let view = unsafe { faer::MatRef::from_raw_parts(a.as_ptr(), rows, cols, rs as isize, cs as isize) };
    match op {
        Op::N => view,
        Op::T => view.transpose(),
    }
}

/// A nalgebra matrix as a mutable faer view of the same memory.
pub(crate) fn faer_view_mut<T: GemmScalar>(c: &mut DMatrix<T>) -> faer::MatMut<'_, T> {
    let (rows, cols) = c.shape();
    // SAFETY: `c` is borrowed mutably for the view's lifetime; column-major, contiguous.
    unsafe { faer::MatMut::from_raw_parts_mut(c.as_mut_ptr(), rows, cols, 1, rows as isize) }
}

/// Whether faer's kernels run a product `m x k` times `k x n` faster than matrixmultiply's:
/// reduction-shaped ones (`k >= 4 max(m, n)`: a small output summed over a long inner
/// dimension, e.g. a gradient `dZ^T X` or one tile of anchors against all positives), where
/// matrixmultiply packs the long operand into narrow panels; and thin ones (`k <= 32`, e.g. the
/// score tiles `U2 U1_tile^T` and `T U1_tile` of InfoNCE). matrixmultiply is as fast or faster
/// elsewhere (measured interleaved: bench/README.md). A function of the shapes only, so the bits
/// do not depend on timings or on the thread count.
fn faer_shaped(m: usize, k: usize, n: usize) -> bool {
    k >= 4 * m.max(n) || k <= 32
}

/// Below this many multiply-adds [`gemm`] runs on the calling thread; above it, faer's kernels
/// on every thread of the rayon pool (feature `parallel`). faer splits the output among threads
/// and sums every entry's products in the same order whatever their number (tested), so the
/// bits do not depend on the thread count. A function of the shapes only.
pub(super) const PAR_MIN_WORK: usize = 1 << 24;

/// faer's parallelism for large products: the rayon pool's threads with the `parallel`
/// feature, one thread without.
fn parallelism() -> faer::Par {
    #[cfg(feature = "parallel")]
    {
        faer::Par::rayon(rayon::current_num_threads())
    }
    #[cfg(not(feature = "parallel"))]
    {
        faer::Par::Seq
    }
}

/// `C = alpha op(A) op(B) + beta C` by packed microkernels: faer's for reduction-shaped
/// products (`k >= 4 max(m, n)`), thin ones (`k <= 32`) and large ones (at least `2^24` multiply-adds, then on
/// every thread of the pool), matrixmultiply's otherwise (nalgebra's own `gemm_tr` is a plain
/// loop). Transposes cost nothing: they only swap strides. `A` and `B`
/// may be views (e.g. a block of rows). With `beta = 0`, `C` is overwritten (its old content is
/// not read). The kernel is chosen by the shapes and the processor's instruction set (faer
/// dispatches on AVX-512 / AVX2), never by timings: the same inputs give the same bits on a
/// given machine.
///
/// # Errors
/// [`GmmError::Shape`] when the inner dimensions of `op(A) op(B)` differ or `C` is not
/// `rows(op(A)) x cols(op(B))` (an O(1) check before the product).
pub fn gemm<T, SA, SB>(
    alpha: T,
    a: &Matrix<T, Dyn, Dyn, SA>,
    ta: Op,
    b: &Matrix<T, Dyn, Dyn, SB>,
    tb: Op,
    beta: T,
    c: &mut DMatrix<T>,
) -> Result<()>
where
    T: GemmScalar,
    SA: RawStorage<T, Dyn, Dyn>,
    SB: RawStorage<T, Dyn, Dyn>,
{
    let oriented = |shape: (usize, usize), strides: (usize, usize), op: Op| match op {
        Op::N => (shape, (strides.0 as isize, strides.1 as isize)),
        Op::T => ((shape.1, shape.0), (strides.1 as isize, strides.0 as isize)),
    };
    let ((m, k), (rsa, csa)) = oriented(a.shape(), a.strides(), ta);
    let ((k2, n), (rsb, csb)) = oriented(b.shape(), b.strides(), tb);
    if k != k2 {
        return Err(GmmError::Shape { what: "inner dimensions of a matrix product", expected: k, got: k2 });
    }
    check_shape(c, m, n, "output of a matrix product")?;
    let large = m.saturating_mul(n).saturating_mul(k) >= PAR_MIN_WORK;
    if large || faer_shaped(m, k, n) {
        let accum = if beta == T::zero() {
            faer::Accum::Replace
        } else {
            if beta != T::one() {
                *c *= beta;
            }
            faer::Accum::Add
        };
        let (lhs, rhs) = (faer_view(a, ta), faer_view(b, tb));
        let par = if large { parallelism() } else { faer::Par::Seq };
        faer::linalg::matmul::matmul(faer_view_mut(c), accum, lhs, rhs, alpha, par);
        return Ok(());
    }
    let (rsc, csc) = c.strides();
    // SAFETY: the pointers and strides come from nalgebra matrices whose shapes were checked
    // above to match (m, k), (k, n) and (m, n); `c` is borrowed mutably, so it aliases neither.
    unsafe {
        T::packed_gemm(
            m,
            k,
            n,
            alpha,
            (a.as_ptr(), rsa, csa),
            (b.as_ptr(), rsb, csb),
            beta,
            (c.as_mut_ptr(), rsc as isize, csc as isize),
        );
    }
    Ok(())
}

/// `C = A U` for upper-triangular `U` (`k x k`; only its upper triangle is read, half the
/// multiply-adds of a full product), written into a faer view `C` (e.g. a block of rows of a
/// larger matrix), on the calling thread. Shapes are the caller's to check.
pub(crate) fn gemm_upper_into(a: &DMatrix<f64>, u: &DMatrix<f64>, c: faer::MatMut<'_, f64>) {
    use faer::linalg::matmul::triangular::{BlockStructure, matmul};
    let (rect, upper) = (BlockStructure::Rectangular, BlockStructure::TriangularUpper);
    let (lhs, rhs) = (faer_view(a, Op::N), faer_view(u, Op::N));
    matmul(c, rect, faer::Accum::Replace, lhs, rect, rhs, upper, 1.0, faer::Par::Seq);
}
