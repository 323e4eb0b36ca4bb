"""Type stubs of the native module (re-exported by ``ssl_gmm``)."""

from typing import Any, Callable, Optional, Sequence, Tuple, Union

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
    def generate(
        k: int,
        d: int,
        separation: float = 1.0,
        condition: float = 1.0,
        noise_direction: Optional[float] = None,
        unbalanced: bool = False,
        mean_offset: float = 0.0,
        seed: Seed = None,
    ) -> "Gmm":
        """A random mixture (the claims' generator): centred means ``N(0, separation^2 I)``,
        ``Sigma_0`` of condition number ``condition``, optionally a dominant noise direction
        orthogonal to the means (``noise_direction`` times ``lambda_max(Sigma_0 + S_B)``)."""
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
    def generate(
        k: int,
        k_private: int,
        d_x: int,
        d_y: int,
        separation: float = 1.0,
        private_separation: float = 1.0,
        condition: float = 10.0,
        orthogonal: bool = True,
        seed: Seed = None,
    ) -> "ClipGmm":
        """A random CLIP-GMM (claim C10's generator): ``k`` shared and ``k_private`` private
        components per modality."""
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
    """The result of ``train``, named as ``ssl-gmm train --json`` names it. ``components``: the
    map (r x d, rows are directions) in the input coordinates; ``components_y``: CLIP's map of
    modality y (else None); ``losses``: the loss at every L-BFGS iteration or streaming step;
    ``final_loss``: the last (a stream's: the mean of its last 50); ``steps``; ``stop``: how the
    run ended (``grad-tol``, ``budget-spent``, ``interrupted``, ...); ``converged``: the
    certificate holds (L-BFGS: ``relative_grad_norm <= tol``; whitened SimSiam: its distance to
    the optimum; a plain stream has none: False); ``hyperparameters``: the serialised settings,
    as the CLI's, plus ``method``, ``delta`` and ``seed``. Pickles; ``==`` compares every field.
    ``loss_curve``, ``loss`` and ``iterations`` are deprecated names of ``losses``,
    ``final_loss`` and ``steps``."""

    def __init__(self, state: dict) -> None: ...
    method: str
    solver: str
    components: Matrix
    components_y: Optional[Matrix]
    losses: Vector
    final_loss: float
    steps: int
    stop: str
    converged: bool
    certificate: Optional[dict]
    whitened_certificate: Optional[dict]
    predictor_rate: Optional[float]
    grad_norm: Optional[float]
    relative_grad_norm: Optional[float]
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

def spectral_contrastive(a: Matrix, x: Matrix, x_plus: Matrix) -> Tuple[float, Matrix]:
    """Spectral contrastive loss ``-(2/n) sum_i S_ii + (1/(n(n-1))) sum_{i != j} S_ij^2``,
    ``S = (X A^T)(X+ A^T)^T``, and ``dL/dA``."""

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
    samples: Optional[int] = None,
    batch: int = 256,
    tau: float = 1.0,
    form: str = "one-way",
    score: str = "dot",
    center: bool = True,
    whiten: Optional[bool] = None,
    tol: Optional[float] = None,
    max_iters: Optional[int] = None,
    stream: bool = False,
    steps: Optional[int] = None,
    lr: Optional[float] = None,
    optimizer: Optional[str] = None,
    init_scale: float = 0.1,
    callback: Optional[Callable[[int, float], Optional[bool]]] = None,
    seed: Seed = None,
) -> TrainResult:
    """Trains a loss as ``ssl-gmm train`` does, with the same defaults and the same numbers for
    the same seed. ``method``: ``"infonce"`` (a Gmm or pairs ``(x, x_plus)``), ``"clip"`` (a
    ClipGmm or pairs ``(x, y)``), ``"simsiam"`` or ``"simsiam-whitened"`` (a Gmm).
    InfoNCE and CLIP fit a fixed sample of ``samples`` pairs (default 8192, drawn with
    ``seed + 1``) by L-BFGS to the certificate ``||grad|| <= tol ||grad_0||`` (default 1e-5,
    ``max_iters`` 1000); with ``stream=True`` they train on fresh batches for ``steps`` (2000)
    by ``optimizer`` (``"adam"``, or ``"sgd"`` with momentum 0.9) at ``lr`` (0.01), as SimSiam
    always does. Whitened SimSiam trains by its recipe to its certificate (without ``steps``: the
    budget from the problem's spectrum and up to 4 starts; with it: one start of them).
    ``center=False`` trains on raw inputs (claim C15); ``whiten=False`` turns off input
    whitening (InfoNCE, CLIP; SimSiam never whitens its inputs). ``callback(step, loss)`` is
    called after every iteration or step; returning ``False`` stops the run
    (``stop == "interrupted"``), and an exception it raises stops the run and propagates.
    Options of the other solver (``steps`` on a fixed sample, ``samples`` on a stream) are a
    ``ValueError``, never ignored. ``dim`` defaults to ``k - 1``."""

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
def check_json(
    claims: Optional[Sequence[str]] = None, quick: bool = True, seed: int = 20241105, skip: Optional[Sequence[str]] = None
) -> list: ...
def zoo_json(losses: Optional[Sequence[str]] = None, augmentations: Optional[Sequence[str]] = None, cases: int = 12, seed: int = 20241105) -> list: ...
def verdict_json(loss: Any, augmentation: Any = None, mixtures: Any = None, r: Optional[int] = None, pairs: int = 8192, batch: int = 256, tau: float = 1.0, check_rtol: float = 1e-4, bound_max: float = 0.5, seed: int = 20241105, progress: Any = None) -> list: ...
def set_max_memory(bytes: Optional[int] = None) -> None:
    """Sets the memory budget (bytes; ``None``: half of the available memory) that every
    allocation-driving size is checked against before anything is allocated: a size above it
    raises ``MemoryError`` with the command-line tool's message (its ``--max-memory``)."""
def max_memory() -> int:
    """The memory budget in bytes."""

class Augmentation:
    @staticmethod
    def coupled(delta: float = 1.0) -> Augmentation: ...
    @staticmethod
    def identical() -> Augmentation: ...
    def noise(self, variance: Optional[float] = None, like_sigma: Optional[float] = None, covariance: Optional[npt.ArrayLike] = None, side: str = "right") -> Augmentation: ...
    def mask(self, keep: float = 0.5, side: str = "right") -> Augmentation: ...
    def sample(self, gmm: Gmm, n: int, seed: Any = None) -> dict[str, np.ndarray]: ...
