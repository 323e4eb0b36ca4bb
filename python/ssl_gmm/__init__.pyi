from typing import Any, Optional, Sequence

import numpy as np
import numpy.typing as npt

from ._native import (
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
    train as train,
)

Matrix = npt.NDArray[np.float64]

def check(claims: Optional[Sequence[str]] = None, quick: bool = True, seed: int = 20241105) -> list[dict[str, Any]]: ...

class _Estimator:
    components_: Matrix
    mean_: npt.NDArray[np.float64]
    n_features_in_: int
    def get_params(self, deep: bool = True) -> dict[str, Any]: ...
    def set_params(self, **params: Any) -> "_Estimator": ...
    def transform(self, X: Any) -> Matrix: ...
    def fit_transform(self, X: Any, y: Any = None) -> Matrix: ...

class PCA(_Estimator):
    n_components: int
    explained_variance_: npt.NDArray[np.float64]
    explained_variance_ratio_: npt.NDArray[np.float64]
    def __init__(self, n_components: int = 2) -> None: ...
    def fit(self, X: Any, y: Any = None) -> "PCA": ...

class LDA(_Estimator):
    n_components: Optional[int]
    eigenvalues_: npt.NDArray[np.float64]
    explained_variance_ratio_: npt.NDArray[np.float64]
    means_: Matrix
    priors_: npt.NDArray[np.float64]
    def __init__(self, n_components: Optional[int] = None) -> None: ...
    def fit(self, X: Any, y: Any) -> "LDA": ...

class CCAPairs(_Estimator):
    n_components: int
    ridge: float
    eigenvalues_: npt.NDArray[np.float64]
    def __init__(self, n_components: int = 2, ridge: float = 0.0) -> None: ...
    def fit(self, X: Any, X_plus: Any) -> "CCAPairs": ...

class KMeans:
    n_clusters: int
    n_init: int
    max_iter: int
    tol: float
    seed: int
    labels_: npt.NDArray[np.int64]
    cluster_centers_: Matrix
    inertia_: float
    def __init__(self, n_clusters: int = 8, n_init: int = 10, max_iter: int = 300, tol: float = 1e-4, seed: int = 0) -> None: ...
    def fit(self, X: Any, y: Any = None) -> "KMeans": ...
    def predict(self, X: Any) -> npt.NDArray[np.int64]: ...
    def fit_predict(self, X: Any, y: Any = None) -> npt.NDArray[np.int64]: ...
    def transform(self, X: Any) -> Matrix: ...
    def get_params(self, deep: bool = True) -> dict[str, Any]: ...
    def set_params(self, **params: Any) -> "KMeans": ...
