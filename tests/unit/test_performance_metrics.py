"""Point metrics of the performance gate against scikit-learn, to 1e-9."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn import metrics as skm

from quality_gates.components.performance_gate.metrics import (
    CLASSIFICATION_METRICS,
    LOWER_IS_BETTER,
    REGRESSION_METRICS,
    confusion_matrix,
    point_metrics,
    roc_curve_points,
)

TOL = 1e-9


def binary_data(n, *, pos_rate=0.2, seed=0, decimals=None, noise=1.5):
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < pos_rate).astype(np.int64)
    signal = np.where(y == 1, 1.0, -1.0) + rng.normal(0.0, noise, n)
    score = 1.0 / (1.0 + np.exp(-(signal - 1.0)))
    if decimals is not None:  # many tied scores, some across both classes
        score = np.round(score, decimals)
    return y, (score >= 0.5).astype(np.int64), score


def multiclass_data(n, k, *, seed=0, strength=1.0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, n)
    logits = rng.normal(size=(n, k))
    logits[np.arange(n), y] += strength
    proba = np.exp(logits)
    proba /= proba.sum(axis=1, keepdims=True)
    return y, proba.argmax(axis=1), proba


def sk_binary(y, pred, score):
    ref = {
        "accuracy": skm.accuracy_score(y, pred),
        "precision": skm.precision_score(y, pred, zero_division=0),
        "recall": skm.recall_score(y, pred, zero_division=0),
        "f1": skm.f1_score(y, pred, zero_division=0),
    }
    if score is not None:
        ref |= {
            "roc_auc": skm.roc_auc_score(y, score),
            "pr_auc": skm.average_precision_score(y, score),
            "log_loss": skm.log_loss(y, score, labels=[0, 1]),
            "brier": skm.brier_score_loss(y, score),
        }
    return ref


def sk_multiclass(y, pred, proba):
    k = proba.shape[1]
    return {
        "accuracy": skm.accuracy_score(y, pred),
        "precision": skm.precision_score(y, pred, average="macro", zero_division=0),
        "recall": skm.recall_score(y, pred, average="macro", zero_division=0),
        "f1": skm.f1_score(y, pred, average="macro", zero_division=0),
        "roc_auc": skm.roc_auc_score(y, proba, multi_class="ovr", average="macro"),
        "pr_auc": skm.average_precision_score(y, proba, average="macro"),
        "log_loss": skm.log_loss(y, proba, labels=list(range(k))),
        "brier": skm.brier_score_loss(y, proba, labels=list(range(k))),
    }


def assert_close(ours, ref, tol=TOL):
    assert set(ours) == set(ref)
    for name, value in ref.items():
        assert ours[name] == pytest.approx(value, abs=tol, rel=0), name


BINARY_CASES = {
    "n50": dict(n=50, seed=1),
    "n2000_ties": dict(n=2000, seed=2, decimals=2),
    "n5000_coarse_ties": dict(n=5000, seed=3, decimals=1),
    "imbalanced_2pct": dict(n=20_000, seed=4, pos_rate=0.02),
    "imbalanced_98pct": dict(n=3000, seed=5, pos_rate=0.98),
    "n100k": dict(n=100_000, seed=6),
    "n100k_ties": dict(n=100_000, seed=7, decimals=3),
}


@pytest.mark.parametrize("case", list(BINARY_CASES))
def test_binary_metrics_equal_sklearn(case):
    y, pred, score = binary_data(**BINARY_CASES[case])
    ours = point_metrics(task="binary", y_true=y, y_pred=pred, y_score=score)
    assert list(ours) == list(CLASSIFICATION_METRICS)
    assert_close(ours, sk_binary(y, pred, score))


def test_binary_scores_with_exact_zero_and_one_use_sklearn_clipping():
    y, pred, score = binary_data(500, seed=8)
    score[:20] = 0.0
    score[20:40] = 1.0
    ours = point_metrics(task="binary", y_true=y, y_pred=pred, y_score=score)
    assert_close(ours, sk_binary(y, pred, score))
    assert np.isfinite(ours["log_loss"])


def test_binary_without_scores_omits_score_metrics():
    y, pred, _ = binary_data(300, seed=9)
    ours = point_metrics(task="binary", y_true=y, y_pred=pred)
    assert list(ours) == ["accuracy", "precision", "recall", "f1"]
    assert_close(ours, sk_binary(y, pred, None))


def test_binary_accepts_bool_and_integral_float_labels():
    y, pred, score = binary_data(400, seed=10)
    ref = point_metrics(task="binary", y_true=y, y_pred=pred, y_score=score)
    assert point_metrics(
        task="binary", y_true=y.astype(bool), y_pred=pred.astype(float), y_score=score
    ) == pytest.approx(ref)


def test_precision_without_predicted_positives_is_zero_like_sklearn():
    y, _, score = binary_data(200, seed=11)
    pred = np.zeros_like(y)
    ours = point_metrics(task="binary", y_true=y, y_pred=pred, y_score=score)
    assert ours["precision"] == 0.0
    assert ours["recall"] == 0.0
    assert ours["f1"] == 0.0
    assert_close(ours, sk_binary(y, pred, score))


def test_single_class_gives_nan_ranking_metrics():
    rng = np.random.default_rng(12)
    score = rng.random(100)
    y = np.zeros(100, dtype=int)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sk_auc = skm.roc_auc_score(y, score)
    out = point_metrics(task="binary", y_true=y, y_pred=(score > 0.5).astype(int), y_score=score)
    assert np.isnan(out["roc_auc"]) and np.isnan(sk_auc)
    # sklearn returns 0.0 with a warning for AP without positives; we report "undefined".
    assert np.isnan(out["pr_auc"])
    assert out["log_loss"] == pytest.approx(skm.log_loss(y, score, labels=[0, 1]), abs=TOL)
    assert out["brier"] == pytest.approx(np.mean(score**2), abs=TOL)
    ones = np.ones(100, dtype=int)
    out = point_metrics(task="binary", y_true=ones, y_pred=ones, y_score=score)
    assert np.isnan(out["roc_auc"])
    assert out["pr_auc"] == pytest.approx(skm.average_precision_score(ones, score), abs=TOL)


@pytest.mark.parametrize(
    ("n", "k", "seed", "strength"),
    [(50, 3, 0, 2.0), (3000, 3, 1, 1.0), (3000, 5, 2, 0.5), (60_000, 5, 3, 1.0)],
)
def test_multiclass_metrics_equal_sklearn(n, k, seed, strength):
    y, pred, proba = multiclass_data(n, k, seed=seed, strength=strength)
    ours = point_metrics(task="multiclass", y_true=y, y_pred=pred, y_score=proba)
    assert list(ours) == list(CLASSIFICATION_METRICS)
    assert_close(ours, sk_multiclass(y, pred, proba))


def test_multiclass_with_tied_probabilities_equals_sklearn():
    y, pred, proba = multiclass_data(4000, 4, seed=4)
    proba = np.round(proba, 2)
    proba[:, -1] = 1.0 - proba[:, :-1].sum(axis=1)
    proba = np.clip(proba, 0.0, 1.0)
    ours = point_metrics(task="multiclass", y_true=y, y_pred=pred, y_score=proba)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # rounding leaves rows summing to 1 +- 1e-16
        ref = sk_multiclass(y, pred, proba)
    assert_close(ours, ref)


def test_multiclass_macro_over_present_labels_like_sklearn_default():
    # Class 3 is never predicted; class 4 is neither true nor predicted (K from the scores).
    y, pred, proba = multiclass_data(1000, 5, seed=5)
    y = np.minimum(y, 3)
    pred = np.minimum(pred, 2)
    ours = point_metrics(task="multiclass", y_true=y, y_pred=pred, y_score=proba)
    for name, fn in [
        ("precision", skm.precision_score),
        ("recall", skm.recall_score),
        ("f1", skm.f1_score),
    ]:
        assert ours[name] == pytest.approx(
            fn(y, pred, average="macro", zero_division=0), abs=TOL
        ), name
    # A class that never occurs in y_true makes one-vs-rest ROC AUC undefined.
    assert np.isnan(ours["roc_auc"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sk_auc = skm.roc_auc_score(y, proba, multi_class="ovr", labels=list(range(5)))
    assert np.isnan(sk_auc)
    assert np.isnan(ours["pr_auc"])
    assert ours["log_loss"] == pytest.approx(skm.log_loss(y, proba, labels=list(range(5))), abs=TOL)
    assert ours["brier"] == pytest.approx(
        skm.brier_score_loss(y, proba, labels=list(range(5))), abs=TOL
    )


def test_multiclass_without_scores_infers_k_from_codes():
    y, pred, _ = multiclass_data(500, 4, seed=6)
    ours = point_metrics(task="multiclass", y_true=y, y_pred=pred)
    assert list(ours) == ["accuracy", "precision", "recall", "f1"]
    ref = sk_multiclass(y, pred, np.full((500, 4), 0.25))
    assert_close(ours, {k: ref[k] for k in ours})


def test_multiclass_two_columns_brier_is_halved_like_sklearn():
    y, pred, score = binary_data(800, seed=13)
    proba = np.column_stack([1.0 - score, score])
    ours = point_metrics(task="multiclass", y_true=y, y_pred=pred, y_score=proba)
    assert ours["brier"] == pytest.approx(skm.brier_score_loss(y, proba, labels=[0, 1]), abs=TOL)
    assert ours["roc_auc"] == pytest.approx(skm.roc_auc_score(y, score), abs=TOL)


def sk_regression(y, pred):
    return {
        "rmse": skm.root_mean_squared_error(y, pred),
        "mae": skm.mean_absolute_error(y, pred),
        "r2": skm.r2_score(y, pred),
        "mape": skm.mean_absolute_percentage_error(y, pred),
    }


@pytest.mark.parametrize("n", [50, 5000, 100_000])
def test_regression_metrics_equal_sklearn(n):
    rng = np.random.default_rng(n)
    y = 100.0 + 20.0 * rng.normal(size=n)
    pred = y + rng.normal(0.0, 5.0, n)
    ours = point_metrics(task="regression", y_true=y, y_pred=pred)
    assert list(ours) == list(REGRESSION_METRICS)
    assert_close(ours, sk_regression(y, pred))


def test_regression_mape_with_zero_targets_uses_sklearn_epsilon():
    rng = np.random.default_rng(14)
    y = rng.normal(size=1000)
    y[:7] = 0.0
    pred = y + rng.normal(0.0, 0.1, 1000)
    ours = point_metrics(task="regression", y_true=y, y_pred=pred)
    ref = sk_regression(y, pred)
    assert ref["mape"] > 1e10  # the zero targets dominate, as in sklearn
    assert ours["mape"] == pytest.approx(ref["mape"], rel=1e-12)
    assert_close(
        {k: ours[k] for k in ("rmse", "mae", "r2")}, {k: ref[k] for k in ("rmse", "mae", "r2")}
    )


def test_regression_r2_edge_cases_follow_sklearn_force_finite():
    y = np.full(10, 3.0)
    assert point_metrics(task="regression", y_true=y, y_pred=y)["r2"] == 1.0
    off = y + np.linspace(-1, 1, 10)
    assert point_metrics(task="regression", y_true=y, y_pred=off)["r2"] == skm.r2_score(y, off)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert np.isnan(skm.r2_score([1.0], [2.0]))
    assert np.isnan(point_metrics(task="regression", y_true=[1.0], y_pred=[2.0])["r2"])


def test_lower_is_better_names_are_metrics():
    assert LOWER_IS_BETTER <= set(CLASSIFICATION_METRICS) | set(REGRESSION_METRICS)


@pytest.mark.parametrize("k", [2, 3, 5])
def test_confusion_matrix_equals_sklearn(k):
    rng = np.random.default_rng(k)
    y = rng.integers(0, k, 3000)
    pred = np.where(rng.random(3000) < 0.7, y, rng.integers(0, k, 3000))
    ours = confusion_matrix(y_true=y, y_pred=pred, n_classes=k)
    np.testing.assert_array_equal(ours, skm.confusion_matrix(y, pred, labels=list(range(k))))


def test_confusion_matrix_keeps_absent_classes_and_rejects_bad_codes():
    cm = confusion_matrix(y_true=np.array([0, 0, 1]), y_pred=np.array([0, 1, 1]), n_classes=3)
    np.testing.assert_array_equal(cm, [[1, 1, 0], [0, 1, 0], [0, 0, 0]])
    with pytest.raises(ValueError, match="outside 0..1"):
        confusion_matrix(y_true=np.array([0, 2]), y_pred=np.array([0, 1]), n_classes=2)


def test_roc_curve_points_small_input_is_sklearns_full_curve():
    y, _, score = binary_data(300, seed=15, decimals=2)
    fpr, tpr = roc_curve_points(y_true=y, y_score=score, max_points=10_000)
    sk_fpr, sk_tpr, _ = skm.roc_curve(y, score, drop_intermediate=False)
    np.testing.assert_allclose(fpr, sk_fpr, atol=1e-12)
    np.testing.assert_allclose(tpr, sk_tpr, atol=1e-12)


def test_roc_curve_points_are_downsampled_points_of_the_full_curve():
    y, _, score = binary_data(50_000, seed=16)
    fpr, tpr = roc_curve_points(y_true=y, y_score=score, max_points=200)
    assert 100 <= fpr.size <= 200
    assert (fpr[0], tpr[0]) == (0.0, 0.0) and (fpr[-1], tpr[-1]) == (1.0, 1.0)
    assert np.all(np.diff(fpr) >= 0) and np.all(np.diff(tpr) >= 0)
    sk_fpr, sk_tpr, _ = skm.roc_curve(y, score, drop_intermediate=False)
    full = set(zip(np.round(sk_fpr, 12), np.round(sk_tpr, 12), strict=True))
    assert all(p in full for p in zip(np.round(fpr, 12), np.round(tpr, 12), strict=True))
    # The thinned curve keeps the area: trapezoids on 200 points vs the exact AUC.
    assert np.trapezoid(tpr, fpr) == pytest.approx(skm.roc_auc_score(y, score), abs=2e-3)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(task="ranking", y_true=[0, 1], y_pred=[0, 1]), "task must be one of"),
        (dict(task="binary", y_true=[0, 1, 1], y_pred=[0, 1]), "same length"),
        (dict(task="binary", y_true=[], y_pred=[]), "empty"),
        (dict(task="binary", y_true=[0, 2], y_pred=[0, 1]), "outside 0..1"),
        (dict(task="binary", y_true=[0.5, 1.0], y_pred=[0, 1]), "integer class codes"),
        (dict(task="binary", y_true=[0, 1], y_pred=[0, 1], y_score=[0.2, 1.5]), r"\[0, 1\]"),
        (dict(task="binary", y_true=[0, 1], y_pred=[0, 1], y_score=[[0.2, 0.8]] * 2), "1-d"),
        (dict(task="binary", y_true=[0, 1], y_pred=[0, 1], y_score=[np.nan, 0.1]), "NaN"),
        (dict(task="multiclass", y_true=[0, 3], y_pred=[0, 1], y_score=[[0.5, 0.5]] * 2), "0..1"),
        (dict(task="multiclass", y_true=[0, 1], y_pred=[0, 1], y_score=[0.5, 0.5]), r"\(2, K\)"),
        (dict(task="regression", y_true=[1.0], y_pred=[1.0], y_score=[1.0]), "None"),
        (dict(task="regression", y_true=[1.0, np.inf], y_pred=[1.0, 2.0]), "finite"),
    ],
)
def test_invalid_inputs_raise_actionable_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        point_metrics(**kwargs)
