"""Type stubs of the native module (re-exported by ``ssl_gmm``)."""

from typing import Optional, Sequence, Tuple, Union

import numpy as np
import numpy.typing as npt

Matrix = npt.NDArray[np.float64]
# None: fresh entropy (NumPy's default_rng); an int; or a numpy.random.Generator (or legacy
# RandomState) to draw one from.
# Results record the resolved integer.
Seed = Union[None, int, np.random.Generator, np.random.RandomState]

__version__: str
Vector = npt.NDArray[np.float64]
Labels = Union[npt.NDArray[np.int64], Sequence[int]]

class Gmm:
    """Shared-covariance Gaussian mixture: ``x = mu_z + Sigma^{1/2} g``, ``z ~ weights``."""

    def __init__(self, weights: Vector, means: Matrix, covariance: Matrix) -> None:
        """``weights`` (k,) summing to 1, ``means`` (k, d) one row per component, ``covariance`` (d, d) SPD."""
    @staticmethod
    def preset(name: str) -> Union["Gmm", "ClipGmm"]:
        """A built-in model (e.g. ``"pca-trap"``, ``"anisotropic"``, ``"clip"``)."""
    @staticmethod
    def from_json(text: str) -> "Gmm": ...
    def to_json(self) -> str: ...
    @property
    def k(self) -> int: ...
    @property
    def dim(self) -> int: ...
    @property
    def weights(self) -> Vector: ...
    @property
    def means(self) -> Matrix: ...
    @property
    def covariance(self) -> Matrix: ...
    def fisher_subspace(self) -> Matrix:
        """``F = range(Sigma^{-1} S_B)`` as orthonormal rows (``dim F x d``)."""
    def pca_subspace(self, r: int) -> Matrix:
        """Top-``r`` eigenvectors of the total covariance ``Sigma + S_B``, as orthonormal rows."""
    def posterior(self, x: Matrix) -> Matrix:
        """``p(z = k | x)`` for each row of ``x`` (n x k)."""
    def sample(self, n: int, seed: Seed = None) -> dict:
        """``{"x": (n, d), "z": (n,)}``."""
    def sample_pairs(self, n: int, delta: float, seed: Seed = None) -> dict:
        """Augmentation pairs with coupling ``delta``: ``z+ = z`` with probability ``delta``, else
        an independent draw. ``{"x", "x_plus", "z", "z_plus"}``."""

class ClipGmm:
    """Two-modality CLIP-GMM: ``x`` and ``y`` share the component ``z``."""

    @staticmethod
    def preset(name: str) -> "ClipGmm":
        """A built-in two-modality model (e.g. ``"clip"``)."""
    @staticmethod
    def from_json(text: str) -> "ClipGmm": ...
    def to_json(self) -> str: ...
    @property
    def k(self) -> int: ...
    @property
    def dims(self) -> Tuple[int, int]: ...
    def fisher_subspace(self, side_name: str) -> Matrix:
        """The shared Fisher subspace of modality ``"x"`` or ``"y"``, as orthonormal rows."""
    def sample_pairs(self, n: int, seed: Seed = None) -> dict:
        """``{"x": (n, d_x), "y": (n, d_y), "z": (n,)}``."""

class TrainResult:
    """``components``: the map (r x d, rows are directions) in the input coordinates;
    ``components_y``: CLIP's map of modality y (else None); ``loss_curve``: the loss after each
    L-BFGS iteration (empty for CLIP, whose fit does not record it); ``converged``: the
    certificate ``relative_grad_norm <= tol`` holds."""

    components: Matrix
    components_y: Optional[Matrix]
    loss_curve: Vector
    converged: bool
    grad_norm: float
    relative_grad_norm: float
    iterations: int
    stop: str
    loss: float
    hyperparameters: dict

def infonce(
    a: Matrix, x: Matrix, x_plus: Matrix, tau: float = 1.0, form: str = "one-way", score: str = "dot"
) -> Tuple[float, Matrix]:
    """InfoNCE loss and ``dL/dA`` (``A``: r x d). One-way dot form:
    ``L = (1/n) sum_i [-S_ii + log sum_j exp S_ij]``, ``S = (X A^T)(X+ A^T)^T / tau``.
    ``form``: one-way | symmetric | simclr; ``score``: dot | cosine."""

def simsiam(
    a: Matrix, w: Matrix, x: Matrix, x_plus: Matrix, form: str = "mse", directions: str = "symmetric"
) -> Tuple[float, Matrix, Matrix]:
    """SimSiam loss and gradients in ``A`` (r x d) and the predictor ``W`` (r x r), the target
    ``A x+`` under stop-gradient: ``L = (1/n) sum_i ||W A x_i - sg(A x+_i)||^2`` (``mse``) or the
    negative cosine (``neg-cosine``); ``directions``: one-way | symmetric."""

def clip(
    a: Matrix, b: Matrix, x: Matrix, y: Matrix, tau: float = 1.0, score: str = "dot"
) -> Tuple[float, Matrix, Matrix]:
    """CLIP loss (symmetric InfoNCE between modalities, ``S = (X A^T)(Y B^T)^T / tau``) and its
    gradients in ``A`` and ``B``."""

def population_infonce(
    gmm: Gmm, a: Matrix, delta: float = 1.0, tau: float = 1.0, n_outer: int = 4096, seed: Seed = None
) -> Tuple[float, Matrix]:
    """The population InfoNCE loss and gradient at ``A``: the inner expectation in closed form,
    the outer one over ``n_outer`` anchors drawn with ``seed``."""

def train(
    data: Union[Gmm, ClipGmm, Tuple[Matrix, Matrix]],
    method: str = "infonce",
    dim: Optional[int] = None,
    delta: float = 1.0,
    samples: int = 8192,
    batch: int = 256,
    tau: float = 1.0,
    form: str = "one-way",
    score: str = "dot",
    center: bool = True,
    whiten: bool = True,
    tol: float = 1e-5,
    max_iters: int = 1000,
    seed: Seed = None,
) -> TrainResult:
    """Minimises InfoNCE (``method="infonce"``: a Gmm or pairs ``(x, x_plus)``) or CLIP
    (``"clip"``: a ClipGmm or pairs ``(x, y)``) by L-BFGS on a fixed sample of ``samples`` pairs
    (drawn with ``seed + 1``) to its certificate ``||grad|| <= tol ||grad_0||``; a run that does
    not converge returns ``converged=False``. ``dim`` defaults to ``k - 1``."""

def pca_fit(x: Matrix, n_components: int) -> dict: ...
def lda_fit(x: Matrix, y: Labels, n_components: Optional[int] = None) -> dict: ...
def cca_pairs_fit(x: Matrix, x_plus: Matrix, n_components: int, ridge: float = 0.0) -> dict: ...
def kmeans_fit(
    x: Matrix, n_clusters: int, n_init: int = 10, max_iter: int = 300, tol: float = 1e-4, seed: Seed = None
) -> dict: ...
def ari(truth: Labels, pred: Labels) -> float:
    """Adjusted Rand index."""
def nmi(truth: Labels, pred: Labels) -> float:
    """Normalised mutual information (arithmetic mean normalisation, as scikit-learn)."""
def clustering_accuracy(truth: Labels, pred: Labels) -> float:
    """Accuracy under the best matching of clusters to classes (Hungarian)."""
def principal_angles(a: Matrix, b: Matrix) -> Vector:
    """Principal angles (radians, ascending) between the row spaces of ``a`` and ``b``."""
def sin_theta_max(a: Matrix, b: Matrix) -> float:
    """``sin`` of the largest principal angle between the row spaces (containment when the
    dimensions differ)."""
def check_json(claims: Optional[Sequence[str]] = None, quick: bool = True, seed: int = 20241105) -> list: ...
def set_max_memory(bytes: Optional[int] = None) -> None:
    """Sets the memory budget (bytes; ``None``: half of the available memory) that every
    allocation-driving size is checked against before anything is allocated: a size above it
    raises ``MemoryError`` with the command-line tool's message (its ``--max-memory``)."""
def max_memory() -> int:
    """The memory budget in bytes."""
