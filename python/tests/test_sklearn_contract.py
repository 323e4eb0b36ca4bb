"""The estimators as scikit-learn users meet them: its own ``check_estimator``, model selection,
labels of any kind, NotFittedError, random_state, pickling. Skipped without scikit-learn (an
optional extra of the package)."""

import pickle

import numpy as np
import pytest

import ssl_gmm

sklearn = pytest.importorskip("sklearn")
from sklearn.cluster import KMeans as SkKMeans  # noqa: E402
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis  # noqa: E402
from sklearn.model_selection import GridSearchCV  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.utils.estimator_checks import check_estimator  # noqa: E402

SEED = 20241105


@pytest.mark.parametrize("estimator", [ssl_gmm.PCA(), ssl_gmm.LDA(), ssl_gmm.KMeans(n_clusters=3)], ids=repr)
def test_check_estimator_passes(estimator):
    results = check_estimator(estimator, on_fail=None)
    failed = [(r["check_name"], str(r["exception"])[:200]) for r in results if r["status"] == "failed"]
    assert not failed, failed
    assert len(results) > 40  # the checks ran (47-61 of them on scikit-learn 1.9)


class CCAPairsOneView(ssl_gmm.CCAPairs):
    """CCAPairs whose second view is made from the first row by row (columns reversed, after the
    package's own validation of X): scikit-learn's checks hand an estimator one view, and with
    this every check reaches CCAPairs' fit, transform, validation of X_plus and pickling."""

    def fit(self, X, y=None):
        X = ssl_gmm._validate(self, X)
        return super().fit(X, X_plus=X * np.arange(1.0, X.shape[1] + 1) + np.tanh(X))


def test_check_estimator_passes_for_ccapairs_given_its_second_view():
    results = check_estimator(CCAPairsOneView(n_components=1), on_fail=None)
    failed = [(r["check_name"], str(r["exception"])[:200]) for r in results if r["status"] == "failed"]
    assert not failed, failed
    assert len(results) > 40


def test_ccapairs_refuses_a_missing_or_mismatched_second_view():
    x = np.random.default_rng(SEED).normal(size=(50, 4))
    with pytest.raises(ValueError, match="second view"):
        ssl_gmm.CCAPairs().fit(x)
    with pytest.raises(ValueError, match="must match"):
        ssl_gmm.CCAPairs().fit(x, X_plus=x[:40])
    with pytest.raises(ValueError, match="NaN"):
        ssl_gmm.CCAPairs().fit(x, X_plus=np.where(x > 2, np.nan, x))


def test_grid_search_picks_the_cluster_count_scikit_learn_picks():
    """The model selection of issue 27: LDA then k-means, scored by ARI over 3 folds. Before, every
    score was NaN (labels_ did not survive the pipeline) and 2 clusters were picked. Same restarts
    (10) on both sides, so the two k-means reach the same minima up to their own seeds."""
    s = ssl_gmm.Gmm.preset("pca-trap").sample(600, seed=3)
    grid = {"kmeans__n_clusters": [2, 3, 4]}

    def search(kmeans):
        gs = GridSearchCV(make_pipeline(ssl_gmm.LDA(), kmeans), grid, cv=3, scoring="adjusted_rand_score")
        return gs.fit(s["x"], s["z"])

    ours, theirs = search(ssl_gmm.KMeans(3, random_state=0)), search(SkKMeans(3, n_init=10, random_state=0))
    assert ours.best_params_ == theirs.best_params_ == {"kmeans__n_clusters": 3}
    got, want = ours.cv_results_["mean_test_score"], theirs.cv_results_["mean_test_score"]
    assert np.all(np.isfinite(got)) and np.max(np.abs(got - want)) <= 0.02, (got, want)


def test_lda_takes_any_labels_and_predicts_as_scikit_learn():
    rng = np.random.default_rng(SEED)
    s = ssl_gmm.Gmm.preset("pca-trap").sample(500, seed=rng)
    names = np.array(["setosa", "versicolor", "virginica"])[s["z"]]
    ours, theirs = ssl_gmm.LDA(n_components=1).fit(s["x"], names), LinearDiscriminantAnalysis().fit(s["x"], names)
    assert list(ours.classes_) == list(theirs.classes_)
    # predict uses every discriminant direction whatever n_components: exact Bayes rule.
    np.testing.assert_allclose(ours.predict_proba(s["x"]), theirs.predict_proba(s["x"]), atol=1e-10)
    assert np.array_equal(ours.predict(s["x"]), theirs.predict(s["x"]))
    assert ours.score(s["x"], names) == theirs.score(s["x"], names)
    odd = np.array([1, 5, 9])[s["z"]]
    assert set(ssl_gmm.LDA().fit(s["x"], odd).predict(s["x"])) <= {1, 5, 9}
    with pytest.raises(ValueError, match="continuous"):
        ssl_gmm.LDA().fit(s["x"], rng.normal(size=500))


def test_pca_fraction_inverse_transform_and_feature_names():
    x = np.random.default_rng(SEED).normal(size=(200, 5)) * np.array([5.0, 3.0, 1.0, 0.1, 0.01])
    p = ssl_gmm.PCA(0.9).fit(x)
    assert p.n_components_ == 2 and p.explained_variance_ratio_.sum() >= 0.9
    full = ssl_gmm.PCA(None).fit(x)
    np.testing.assert_allclose(full.inverse_transform(full.transform(x)), x, atol=1e-10)
    assert list(p.set_output(transform="default").get_feature_names_out()) == ["pca0", "pca1"]


def test_not_fitted_pickling_version_and_random_state():
    x = ssl_gmm.Gmm.preset("anisotropic").sample(300, seed=4)["x"]
    for est in (ssl_gmm.PCA(), ssl_gmm.LDA(), ssl_gmm.KMeans(3)):
        method = est.predict if hasattr(est, "predict") else est.transform
        with pytest.raises(ssl_gmm.NotFittedError):
            method(x)
    km = ssl_gmm.KMeans(3, random_state=7).fit(x)
    again = pickle.loads(pickle.dumps(km))
    assert np.array_equal(again.predict(x), km.labels_)
    assert np.array_equal(ssl_gmm.KMeans(3, random_state=7).fit(x).cluster_centers_, km.cluster_centers_)
    gen = ssl_gmm.KMeans(3, random_state=np.random.default_rng(1)).fit(x)
    assert gen.n_iter_ >= 1
    legacy = [ssl_gmm.KMeans(3, random_state=np.random.RandomState(2)).fit(x).cluster_centers_ for _ in range(2)]
    assert np.array_equal(*legacy)
    with pytest.warns(FutureWarning, match="random_state"):
        ssl_gmm.KMeans(3, seed=7).fit(x)
    assert isinstance(ssl_gmm.__version__, str) and ssl_gmm.__version__.count(".") == 2


def test_cca_pairs_takes_its_second_view_by_name_or_position():
    p = ssl_gmm.Gmm.preset("pca-trap").sample_pairs(4000, 0.9, seed=5)
    by_name = ssl_gmm.CCAPairs(2).fit(p["x"], X_plus=p["x_plus"])
    by_position = ssl_gmm.CCAPairs(2).fit(p["x"], p["x_plus"])
    assert np.array_equal(by_name.components_, by_position.components_)
    with pytest.raises(ValueError, match="second view"):
        ssl_gmm.CCAPairs(2).fit(p["x"])
    assert sklearn.base.clone(by_name).get_params() == {"n_components": 2, "ridge": 0.0}
