from typing import Any, Callable, Optional, Sequence, Union

import numpy as np
import numpy.typing as npt

from ._native import (
    Augmentation as Augmentation,
    ClipGmm as ClipGmm,
    Gmm as Gmm,
    TrainResult as TrainResult,
    ari as ari,
    clip as clip,
    clustering_accuracy as clustering_accuracy,
    infonce as infonce,
    max_memory as max_memory,
    nmi as nmi,
    population_infonce as population_infonce,
    principal_angles as principal_angles,
    set_max_memory as set_max_memory,
    simsiam as simsiam,
    sin_theta_max as sin_theta_max,
    spectral_contrastive as spectral_contrastive,
    train as train,
)

Matrix = npt.NDArray[np.float64]

def check(
    claims: Optional[Sequence[str]] = None, quick: bool = True, seed: int = 20241105, skip: Optional[Sequence[str]] = None
) -> list[dict[str, Any]]: ...
def zoo(losses: Optional[Sequence[str]] = None, augmentations: Optional[Sequence[str]] = None, cases: int = 12, seed: int = 20241105) -> list[dict[str, Any]]: ...
def verdict(loss: Union[Callable[[np.ndarray, np.ndarray, np.ndarray], tuple[float, np.ndarray]], str], augmentation: Union[str, Augmentation] = "coupled", mixtures: Union[int, Gmm, Sequence[Gmm]] = 4, r: Optional[int] = None, pairs: int = 8192, batch: int = 256, tau: float = 1.0, check_rtol: float = 1e-4, bound_max: float = 0.5, seed: int = 20241105, progress: Union[bool, Callable[[dict[str, Any]], None]] = False) -> VerdictResult: ...

class VerdictResult:
    cases: list[dict[str, Any]]
    augmentation: str
    seed: int
    loss: str
    counts: dict[str, int]
    resolved: int
    outcome: str
    def __init__(self, cases: list[dict[str, Any]], augmentation: str, seed: int) -> None: ...
    def to_dict(self) -> dict[str, list[Any]]: ...

__version__: str

class NotFittedError(ValueError, AttributeError): ...
class ComplexDataError(TypeError, ValueError): ...

RandomState = Union[None, int, np.random.Generator, np.random.RandomState]

class _Map:
    components_: Matrix
    mean_: npt.NDArray[np.float64]
    n_features_in_: int
    def get_params(self, deep: bool = True) -> dict[str, Any]: ...
    def set_params(self, **params: Any) -> Any: ...
    def transform(self, X: Any) -> Matrix: ...
    def fit_transform(self, X: Any, y: Any = None, **fit_params: Any) -> Matrix: ...
    def get_feature_names_out(self, input_features: Any = None) -> npt.NDArray[np.object_]: ...
    def set_output(self, *, transform: Optional[str] = None) -> Any: ...

class PCA(_Map):
    n_components: Union[int, float, None]
    n_components_: int
    explained_variance_: npt.NDArray[np.float64]
    explained_variance_ratio_: npt.NDArray[np.float64]
    def __init__(self, n_components: Union[int, float, None] = 2) -> None: ...
    def fit(self, X: Any, y: Any = None) -> "PCA": ...
    def inverse_transform(self, X: Any) -> Matrix: ...

class LDA(_Map):
    n_components: Optional[int]
    classes_: npt.NDArray[Any]
    eigenvalues_: npt.NDArray[np.float64]
    explained_variance_ratio_: npt.NDArray[np.float64]
    means_: Matrix
    priors_: npt.NDArray[np.float64]
    def __init__(self, n_components: Optional[int] = None) -> None: ...
    def fit(self, X: Any, y: Any) -> "LDA": ...
    def decision_function(self, X: Any) -> Matrix: ...
    def predict_proba(self, X: Any) -> Matrix: ...
    def predict(self, X: Any) -> npt.NDArray[Any]: ...
    def score(self, X: Any, y: Any, sample_weight: Any = None) -> float: ...

class CCAPairs(_Map):
    n_components: int
    ridge: float
    eigenvalues_: npt.NDArray[np.float64]
    def __init__(self, n_components: int = 2, ridge: float = 0.0) -> None: ...
    def fit(self, X: Any, y: Any = None, X_plus: Any = None) -> "CCAPairs": ...

class KMeans:
    n_clusters: int
    n_init: int
    max_iter: int
    tol: float
    random_state: RandomState
    seed: Optional[int]
    labels_: npt.NDArray[np.int64]
    cluster_centers_: Matrix
    inertia_: float
    n_iter_: int
    n_features_in_: int
    def __init__(
        self,
        n_clusters: int = 8,
        n_init: int = 10,
        max_iter: int = 300,
        tol: float = 1e-4,
        random_state: RandomState = None,
        seed: Optional[int] = None,
    ) -> None: ...
    def fit(self, X: Any, y: Any = None) -> "KMeans": ...
    def predict(self, X: Any) -> npt.NDArray[np.int64]: ...
    def fit_predict(self, X: Any, y: Any = None) -> npt.NDArray[np.int64]: ...
    def transform(self, X: Any) -> Matrix: ...
    def score(self, X: Any, y: Any = None) -> float: ...
    def get_params(self, deep: bool = True) -> dict[str, Any]: ...
    def set_params(self, **params: Any) -> "KMeans": ...
