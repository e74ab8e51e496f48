"""A model's pipeline runs once per prediction: classes derived from predict_proba, same results.

:func:`quality_gates.shared.io.models.predict` used to call ``predict`` and then ``predict_proba``,
running every transform and the estimator twice. For the classifiers whose ``predict`` is the
class of highest probability it now runs ``predict_proba`` once and derives the class; these
tests pin that the outputs are exactly those of the two calls (values and label dtype), that a
tie is settled by the model's own ``predict``, and that other models are still asked ``predict``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC
from sklearn.tree import DecisionTreeClassifier

from quality_gates.shared.io.models import LoadedModel, predict


class CountingScaler(TransformerMixin, BaseEstimator):
    """A scaler that counts how often it transforms (how often the pipeline ran)."""

    calls = 0

    def fit(self, x, y=None):
        self.scaler_ = StandardScaler().fit(x)
        return self

    def transform(self, x):
        type(self).calls += 1
        return self.scaler_.transform(x)


class MajorityIfSure(LogisticRegression):
    """A subclass that decides otherwise than its probabilities: must keep its ``predict``."""

    def predict(self, x):
        return np.where(self.predict_proba(x)[:, 1] > 0.9, self.classes_[1], self.classes_[0])


def _frame(n: int = 3000, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n), "c": rng.normal(size=n)})


def _labels(x: pd.DataFrame, kind: str) -> np.ndarray:
    y = (x["a"] + 0.5 * x["b"] > 0.3).to_numpy()
    if kind == "bool":
        return y
    if kind == "str":
        return np.where(y, "bad", "good")
    if kind == "multiclass":
        return np.digitize(x["a"].to_numpy(), [-0.5, 0.5])
    return y.astype(int)


def _loaded(model) -> LoadedModel:
    return LoadedModel(
        model=model, uri="m.joblib", digest="sha256:0", local_path="", flavor="sklearn"
    )


ESTIMATORS = {
    "logistic": lambda: LogisticRegression(),
    "hist_boosting": lambda: HistGradientBoostingClassifier(max_iter=20),
    "forest": lambda: RandomForestClassifier(n_estimators=10, random_state=0),
    "tree": lambda: DecisionTreeClassifier(max_depth=4),
    "svc_platt": lambda: SVC(probability=True, random_state=0),
    "subclass": lambda: MajorityIfSure(),
}


@pytest.mark.parametrize("kind", ["int", "bool", "str", "multiclass"])
@pytest.mark.parametrize("name", sorted(ESTIMATORS))
def test_same_classes_and_scores_as_predict_and_predict_proba(name, kind):
    x = _frame()
    model = make_pipeline(StandardScaler(), ESTIMATORS[name]()).fit(x, _labels(x, kind))
    test = _frame(seed=1)
    got = predict(_loaded(model), test)
    want = model.predict(test)
    assert got.y_pred.dtype == want.dtype
    np.testing.assert_array_equal(got.y_pred, want)
    np.testing.assert_array_equal(got.y_score, model.predict_proba(test))
    assert got.classes == model.classes_.tolist()


def test_pipeline_transforms_once_and_is_not_asked_predict(monkeypatch):
    x = _frame()
    model = make_pipeline(CountingScaler(), LogisticRegression()).fit(x, _labels(x, "int"))
    final = model.steps[-1][1]
    monkeypatch.setattr(type(final), "predict", lambda *a: pytest.fail("predict was called"))
    CountingScaler.calls = 0
    predict(_loaded(model), _frame(seed=1))
    assert CountingScaler.calls == 1


def test_other_models_run_their_transforms_once_too():
    x = _frame()
    model = make_pipeline(CountingScaler(), MajorityIfSure()).fit(x, _labels(x, "int"))
    CountingScaler.calls = 0
    got = predict(_loaded(model), _frame(seed=1))
    assert CountingScaler.calls == 1
    np.testing.assert_array_equal(got.y_pred, model.predict(_frame(seed=1)))


def test_a_tie_is_settled_by_the_models_own_predict():
    # Two rows with the same features and different labels: a leaf at exactly 0.5 / 0.5.
    x = pd.DataFrame({"a": [0.0, 0.0, 1.0, 1.0, 1.0, 2.0, 2.0, 2.0]})
    y = np.array([0, 1, 1, 1, 1, 0, 0, 0])
    model = DecisionTreeClassifier().fit(x, y)
    got = predict(_loaded(model), x)
    assert got.y_score[0].tolist() == [0.5, 0.5]
    np.testing.assert_array_equal(got.y_pred, model.predict(x))


def test_a_model_without_predict_proba_gives_no_scores():
    x = _frame()
    model = make_pipeline(StandardScaler(), SVC()).fit(x, _labels(x, "int"))
    got = predict(_loaded(model), _frame(seed=1))
    assert got.y_score is None
    np.testing.assert_array_equal(got.y_pred, model.predict(_frame(seed=1)))
