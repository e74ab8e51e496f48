"""Bootstrap intervals of the performance gate: exactness, approximation error, statistics."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn import metrics as skm

from quality_gates.components.performance_gate import bootstrap as bs
from quality_gates.components.performance_gate.bootstrap import (
    DiffCI,
    bootstrap_ci,
    paired_bootstrap_diff,
)
from quality_gates.components.performance_gate.metrics import (
    CLASSIFICATION_METRICS,
    REGRESSION_METRICS,
    point_metrics,
)

BINARY_ALL = list(CLASSIFICATION_METRICS)


def binary_data(n, *, seed=0, noise=1.5, pos_rate=0.2, decimals=None, signal=None, rng=None):
    rng = rng or np.random.default_rng(seed)
    y = (rng.random(n) < pos_rate).astype(np.int64)
    base = np.where(y == 1, 1.0, -1.0) if signal is None else signal
    score = 1.0 / (1.0 + np.exp(-(base + rng.normal(0.0, noise, n) - 1.0)))
    if decimals is not None:
        score = np.round(score, decimals)
    return y, (score >= 0.5).astype(np.int64), score


def two_models(n, *, seed=0, champ_noise=2.5, cand_noise=1.0):
    """A candidate and a champion scoring the same rows; the candidate is less noisy."""
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.3).astype(np.int64)
    truth = np.where(y == 1, 1.0, -1.0)
    _, cand_pred, cand_score = binary_data(n, noise=cand_noise, signal=truth, rng=rng)
    _, champ_pred, champ_score = binary_data(n, noise=champ_noise, signal=truth, rng=rng)
    return y, cand_pred, cand_score, champ_pred, champ_score


def multiclass_data(n, k, *, seed=0, strength=1.0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, n)
    logits = rng.normal(size=(n, k))
    logits[np.arange(n), y] += strength
    proba = np.exp(logits)
    proba /= proba.sum(axis=1, keepdims=True)
    return y, proba.argmax(axis=1), proba


def regression_data(n, *, seed=0, noise=1.0):
    rng = np.random.default_rng(seed)
    y = 10.0 + 3.0 * rng.normal(size=n)
    return y, y + rng.normal(0.0, noise, n)


def row_weights(n, r, seed):
    """Bootstrap counts per row, (r, n), from explicit index resampling."""
    rng = np.random.default_rng(seed)
    return np.stack([np.bincount(rng.integers(0, n, n), minlength=n) for _ in range(r)])


def to_units(weights, units):
    """(r, n) row counts -> the (U, r) unit counts the replicate kernels take."""
    if units.row_unit is None:
        return np.ascontiguousarray(weights.T, dtype=np.float64)
    cells = [np.bincount(units.row_unit, weights=w, minlength=units.n_units) for w in weights]
    return np.ascontiguousarray(np.array(cells).T)


# ------------------------------------------------------------------------------------------
# The vectorised replicate formulas are the weighted metrics, exactly (sklearn sample_weight).
# ------------------------------------------------------------------------------------------


def sk_weighted_binary(y, pred, score, w):
    m = w > 0
    y, pred, score, w = y[m], pred[m], score[m], w[m]
    return {
        "accuracy": skm.accuracy_score(y, pred, sample_weight=w),
        "precision": skm.precision_score(y, pred, sample_weight=w, zero_division=0),
        "recall": skm.recall_score(y, pred, sample_weight=w, zero_division=0),
        "f1": skm.f1_score(y, pred, sample_weight=w, zero_division=0),
        "roc_auc": skm.roc_auc_score(y, score, sample_weight=w),
        "pr_auc": skm.average_precision_score(y, score, sample_weight=w),
        "log_loss": skm.log_loss(y, score, sample_weight=w, labels=[0, 1]),
        "brier": skm.brier_score_loss(y, score, sample_weight=w),
    }


@pytest.mark.parametrize(
    ("n", "decimals", "max_exact_cells"),
    [(400, None, 0), (3000, 2, bs._MAX_EXACT_CELLS), (3000, None, 0)],
    ids=["rows", "tied-scores-multinomial-cells", "rows-3000"],
)
def test_binary_replicates_equal_sklearn_weighted_metrics(n, decimals, max_exact_cells):
    y, pred, score = binary_data(n, seed=1, decimals=decimals)
    units = bs._binary_units(
        y, [(pred, score)], BINARY_ALL, n_resamples=1, max_exact_cells=max_exact_cells
    )
    assert units.methods["roc_auc"].startswith("exact")
    weights = row_weights(n, 6, seed=2)
    reps = bs._evaluate("binary", units.views[0], to_units(weights, units), n, 2, BINARY_ALL)
    for j, w in enumerate(weights):
        ref = sk_weighted_binary(y, pred, score, w)
        for name in BINARY_ALL:
            assert reps[name][j] == pytest.approx(ref[name], abs=1e-9), (name, j)


def test_multiclass_replicates_equal_sklearn_weighted_metrics():
    n, k = 900, 3
    y, pred, proba = multiclass_data(n, k, seed=3)
    pred[:5] = 2  # make sure some class is rarely predicted
    units = bs._multiclass_units(y, [(pred, proba)], k, BINARY_ALL)
    weights = row_weights(n, 5, seed=4)
    reps = bs._evaluate("multiclass", units.views[0], to_units(weights, units), n, k, BINARY_ALL)
    for j, w in enumerate(weights):
        m = w > 0
        yy, pp, ss, ww = y[m], pred[m], proba[m], w[m]
        ref = {
            "accuracy": skm.accuracy_score(yy, pp, sample_weight=ww),
            "roc_auc": skm.roc_auc_score(yy, ss, multi_class="ovr", sample_weight=ww),
            "pr_auc": skm.average_precision_score(yy, ss, sample_weight=ww),
            "log_loss": skm.log_loss(yy, ss, sample_weight=ww, labels=list(range(k))),
            "brier": skm.brier_score_loss(yy, ss, sample_weight=ww, labels=list(range(k))),
        }
        for name, fn in [
            ("precision", skm.precision_score),
            ("recall", skm.recall_score),
            ("f1", skm.f1_score),
        ]:
            ref[name] = fn(yy, pp, average="macro", sample_weight=ww, zero_division=0)
        for name in BINARY_ALL:
            assert reps[name][j] == pytest.approx(ref[name], abs=1e-9), (name, j)


def test_regression_replicates_equal_sklearn_weighted_metrics():
    n = 700
    y, pred = regression_data(n, seed=5)
    y[:3] = 0.0  # mape epsilon path
    units = bs._regression_units(y, [(pred, None)])
    weights = row_weights(n, 5, seed=6)
    names = list(REGRESSION_METRICS)
    reps = bs._evaluate("regression", units.views[0], to_units(weights, units), n, 0, names)
    for j, w in enumerate(weights):
        ref = {
            "rmse": skm.root_mean_squared_error(y, pred, sample_weight=w),
            "mae": skm.mean_absolute_error(y, pred, sample_weight=w),
            "r2": skm.r2_score(y, pred, sample_weight=w),
            "mape": skm.mean_absolute_percentage_error(y, pred, sample_weight=w),
        }
        for name in names:
            assert reps[name][j] == pytest.approx(ref[name], rel=1e-12, abs=1e-9), (name, j)


# ------------------------------------------------------------------------------------------
# Score bins (large n): error against the exact bootstrap on the same resamples.
# ------------------------------------------------------------------------------------------

SCORE_METRICS = ["roc_auc", "pr_auc", "log_loss", "brier"]


@pytest.fixture(scope="module")
def big_binary():
    n = 100_000
    y, cand_pred, cand_score, champ_pred, champ_score = two_models(
        n, seed=7, champ_noise=1.8, cand_noise=1.5
    )
    return y, [(cand_pred, cand_score), (champ_pred, champ_score)], row_weights(n, 60, seed=8)


def _exact_and_binned(y, models, weights, names):
    exact = bs._binary_units(y, models, names, n_resamples=1, max_exact_cells=0)
    binned = bs._binary_units(y, models, names, n_resamples=10**9)
    assert all(m.startswith("exact") for m in exact.methods.values())
    assert binned.methods["roc_auc"].startswith("approximate")
    n = y.size
    out = []
    for units in (exact, binned):
        w = to_units(weights, units)
        out.append([bs._evaluate("binary", v, w, n, 2, names) for v in units.views])
    return out


def test_binned_single_model_replicates_match_exact_bootstrap(big_binary):
    y, models, weights = big_binary
    (exact,), (binned,) = _exact_and_binned(y, models[:1], weights, ["f1", *SCORE_METRICS])
    np.testing.assert_array_equal(binned["f1"], exact["f1"])  # counts stay exact
    bounds = {"roc_auc": 1e-5, "pr_auc": 1e-4, "log_loss": 2e-5, "brier": 1e-5}
    for name, bound in bounds.items():
        err = np.max(np.abs(binned[name] - exact[name]))
        assert err < bound, (name, err)
        assert err < 0.05 * np.std(exact[name]), name


def test_binned_paired_replicates_match_exact_bootstrap(big_binary):
    y, models, weights = big_binary
    exact, binned = _exact_and_binned(y, models, weights, SCORE_METRICS)
    bounds = {"roc_auc": 3e-4, "pr_auc": 1.5e-3, "log_loss": 3e-4, "brier": 1e-4}
    for name, bound in bounds.items():
        diff_exact = exact[0][name] - exact[1][name]
        diff_binned = binned[0][name] - binned[1][name]
        err = np.max(np.abs(diff_binned - diff_exact))
        assert err < bound, (name, err)


def test_binned_intervals_match_exact_intervals_at_100k(big_binary, monkeypatch):
    y, [(cand_pred, cand_score), (champ_pred, champ_score)], _ = big_binary
    kwargs = dict(task="binary", y_true=y, y_pred=cand_pred, y_score=cand_score)
    names = ["f1", *SCORE_METRICS]
    exact = bootstrap_ci(**kwargs, metrics=names, n_resamples=200, seed=1)
    paired_kwargs = dict(
        task="binary",
        y_true=y,
        cand_pred=cand_pred,
        cand_score=cand_score,
        champ_pred=champ_pred,
        champ_score=champ_score,
        metrics=SCORE_METRICS,
        n_resamples=200,
        seed=1,
    )
    exact_diff = paired_bootstrap_diff(**paired_kwargs)
    assert exact_diff["roc_auc"].method.startswith("paired percentile bootstrap, exact")
    monkeypatch.setattr(bs, "_MAX_ROW_DRAWS", 0)
    binned = bootstrap_ci(**kwargs, metrics=names, n_resamples=200, seed=1)
    binned_diff = paired_bootstrap_diff(**paired_kwargs)
    assert "approximate" in binned_diff["roc_auc"].method
    for name in names:
        assert binned[name] == pytest.approx(exact[name], abs=2e-3), name
    for name in SCORE_METRICS:
        got = (binned_diff[name].ci_low, binned_diff[name].ci_high)
        want = (exact_diff[name].ci_low, exact_diff[name].ci_high)
        assert got == pytest.approx(want, abs=2e-3), name
        assert binned_diff[name].estimate == exact_diff[name].estimate


# ------------------------------------------------------------------------------------------
# Statistical behaviour through the public API.
# ------------------------------------------------------------------------------------------


def naive_ci(fn, n, r, seed, confidence=0.95):
    rng = np.random.default_rng(seed)
    values = [fn(rng.integers(0, n, n)) for _ in range(r)]
    return tuple(np.quantile(values, [(1 - confidence) / 2, (1 + confidence) / 2]))


def test_binary_intervals_agree_with_naive_sklearn_loop():
    n, r = 2000, 300
    y, pred, score = binary_data(n, seed=9)
    ours = bootstrap_ci(
        task="binary", y_true=y, y_pred=pred, y_score=score, metrics=BINARY_ALL, n_resamples=r
    )
    naive = {
        "f1": lambda i: skm.f1_score(y[i], pred[i]),
        "roc_auc": lambda i: skm.roc_auc_score(y[i], score[i]),
        "pr_auc": lambda i: skm.average_precision_score(y[i], score[i]),
        "log_loss": lambda i: skm.log_loss(y[i], score[i], labels=[0, 1]),
        "brier": lambda i: skm.brier_score_loss(y[i], score[i]),
        "accuracy": lambda i: skm.accuracy_score(y[i], pred[i]),
    }
    for name, fn in naive.items():
        assert ours[name] == pytest.approx(naive_ci(fn, n, r, seed=10), abs=0.01), name


def test_multiclass_and_regression_intervals_agree_with_naive_sklearn_loop():
    n, r = 2000, 300
    y, pred, proba = multiclass_data(n, 3, seed=11)
    ours = bootstrap_ci(
        task="multiclass",
        y_true=y,
        y_pred=pred,
        y_score=proba,
        metrics=["f1", "roc_auc", "log_loss"],
        n_resamples=r,
    )
    naive = {
        "f1": lambda i: skm.f1_score(y[i], pred[i], average="macro"),
        "roc_auc": lambda i: skm.roc_auc_score(y[i], proba[i], multi_class="ovr"),
        "log_loss": lambda i: skm.log_loss(y[i], proba[i], labels=[0, 1, 2]),
    }
    for name, fn in naive.items():
        assert ours[name] == pytest.approx(naive_ci(fn, n, r, seed=12), abs=0.01), name
    yt, yp = regression_data(n, seed=13)
    ours = bootstrap_ci(
        task="regression", y_true=yt, y_pred=yp, metrics=["rmse", "r2", "mae"], n_resamples=r
    )
    naive = {
        "rmse": lambda i: skm.root_mean_squared_error(yt[i], yp[i]),
        "r2": lambda i: skm.r2_score(yt[i], yp[i]),
        "mae": lambda i: skm.mean_absolute_error(yt[i], yp[i]),
    }
    for name, fn in naive.items():
        assert ours[name] == pytest.approx(naive_ci(fn, n, r, seed=14), abs=0.01), name


def test_accuracy_interval_matches_the_binomial_width():
    y, pred, _ = binary_data(20_000, seed=15)
    low, high = bootstrap_ci(task="binary", y_true=y, y_pred=pred, metrics=["accuracy"])["accuracy"]
    acc = np.mean(y == pred)
    expected = 2 * 1.959964 * np.sqrt(acc * (1 - acc) / y.size)
    assert high - low == pytest.approx(expected, rel=0.1)


@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
def test_interval_contains_point_estimate(task):
    n = 3000
    if task == "binary":
        y, pred, score = binary_data(n, seed=16)
        names = BINARY_ALL
    elif task == "multiclass":
        y, pred, score = multiclass_data(n, 5, seed=17)
        names = BINARY_ALL
    else:
        (y, pred), score = regression_data(n, seed=18), None
        names = list(REGRESSION_METRICS)
    point = point_metrics(task=task, y_true=y, y_pred=pred, y_score=score)
    cis = bootstrap_ci(
        task=task, y_true=y, y_pred=pred, y_score=score, metrics=names, n_resamples=300
    )
    assert list(cis) == names
    for name in names:
        low, high = cis[name]
        assert low < point[name] < high, name


def test_interval_width_shrinks_as_n_grows():
    widths = {}
    for n in (1000, 16_000):
        y, pred, score = binary_data(n, seed=19)
        cis = bootstrap_ci(
            task="binary", y_true=y, y_pred=pred, y_score=score, metrics=["f1", "roc_auc"]
        )
        widths[n] = {name: high - low for name, (low, high) in cis.items()}
    for name in ("f1", "roc_auc"):
        # Width ~ 1/sqrt(n): 16x the rows, about a quarter of the width.
        assert widths[16_000][name] < 0.4 * widths[1000][name], name


def test_same_seed_same_intervals_other_seed_other_intervals():
    y, pred, score = binary_data(5000, seed=20)
    kwargs = dict(task="binary", y_true=y, y_pred=pred, y_score=score, metrics=BINARY_ALL)
    first = bootstrap_ci(**kwargs, n_resamples=200, seed=3)
    assert bootstrap_ci(**kwargs, n_resamples=200, seed=3) == first
    other = bootstrap_ci(**kwargs, n_resamples=200, seed=4)
    assert all(other[name] != first[name] for name in BINARY_ALL)


def test_chunked_resampling_keeps_every_resample(monkeypatch):
    y, pred, score = binary_data(3000, seed=21)
    kwargs = dict(task="binary", y_true=y, y_pred=pred, y_score=score, metrics=["roc_auc"])
    whole = bootstrap_ci(**kwargs, n_resamples=400)
    monkeypatch.setattr(bs, "_CHUNK_BYTES", 1)  # one resample per chunk
    reps, _ = bs._replicates(
        "binary", y, [(pred, score)], 2, ["roc_auc"], 400, np.random.default_rng(0)
    )
    assert reps["roc_auc"][0].shape == (400,)
    chunked = bootstrap_ci(**kwargs, n_resamples=400)
    assert chunked == bootstrap_ci(**kwargs, n_resamples=400)
    assert chunked["roc_auc"] == pytest.approx(whole["roc_auc"], abs=0.01)


# ------------------------------------------------------------------------------------------
# Paired differences.
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("task", "mode"),
    [
        ("binary", "exact: multinomial"),
        ("binary", "exact: resampled row"),
        ("binary", "approximate"),
        ("multiclass", "exact"),
        ("regression", "exact"),
    ],
)
def test_model_against_itself_differs_by_exactly_zero(task, mode, monkeypatch):
    if mode == "approximate":
        monkeypatch.setattr(bs, "_MAX_ROW_DRAWS", 0)
        monkeypatch.setattr(bs, "_MAX_EXACT_CELLS", 100)
    n = 20_000 if task == "binary" else 2000
    if task == "binary":
        y, pred, score = binary_data(
            n, seed=22, decimals=2 if mode.endswith("multinomial") else None
        )
        names = BINARY_ALL
    elif task == "multiclass":
        y, pred, score = multiclass_data(n, 3, seed=23)
        names = BINARY_ALL
    else:
        (y, pred), score = regression_data(n, seed=24), None
        names = list(REGRESSION_METRICS)
    diffs = paired_bootstrap_diff(
        task=task,
        y_true=y,
        cand_pred=pred,
        cand_score=score,
        champ_pred=pred.copy(),
        champ_score=None if score is None else score.copy(),
        metrics=names,
        n_resamples=200,
    )
    assert list(diffs) == names
    for name, d in diffs.items():
        assert isinstance(d, DiffCI)
        assert (d.estimate, d.ci_low, d.ci_high) == (0.0, 0.0, 0.0), name
        assert d.n_resamples == 200
    assert diffs[names[-1]].method.startswith(f"paired percentile bootstrap, {mode}")


def test_clearly_better_candidate_has_positive_lower_bound():
    y, cand_pred, cand_score, champ_pred, champ_score = two_models(5000, seed=25)
    diffs = paired_bootstrap_diff(
        task="binary",
        y_true=y,
        cand_pred=cand_pred,
        cand_score=cand_score,
        champ_pred=champ_pred,
        champ_score=champ_score,
        metrics=BINARY_ALL,
    )
    for name in ("accuracy", "f1", "roc_auc", "pr_auc"):
        assert diffs[name].ci_low > 0, name
        assert diffs[name].ci_low < diffs[name].estimate < diffs[name].ci_high, name
    for name in ("log_loss", "brier"):  # lower is better
        assert diffs[name].ci_high < 0, name
    cand = point_metrics(task="binary", y_true=y, y_pred=cand_pred, y_score=cand_score)
    champ = point_metrics(task="binary", y_true=y, y_pred=champ_pred, y_score=champ_score)
    assert diffs["roc_auc"].estimate == pytest.approx(cand["roc_auc"] - champ["roc_auc"])
    assert diffs["f1"].method.startswith("paired percentile bootstrap, exact")


def test_paired_interval_is_narrower_than_unpaired_for_correlated_models():
    # Two nearly identical models: the noise they share cancels in the paired difference.
    rng = np.random.default_rng(26)
    y, pred_a, score_a = binary_data(4000, rng=rng)
    score_b = np.clip(score_a + rng.normal(0.0, 0.02, y.size), 0.0, 1.0)
    pred_b = (score_b >= 0.5).astype(np.int64)
    d = paired_bootstrap_diff(
        task="binary",
        y_true=y,
        cand_pred=pred_a,
        cand_score=score_a,
        champ_pred=pred_b,
        champ_score=score_b,
        metrics=["roc_auc"],
    )["roc_auc"]
    low, high = bootstrap_ci(
        task="binary", y_true=y, y_pred=pred_a, y_score=score_a, metrics=["roc_auc"]
    )["roc_auc"]
    assert d.ci_high - d.ci_low < 0.2 * (high - low)


def test_regression_better_candidate():
    y, champ = regression_data(3000, seed=27, noise=2.0)
    cand = y + np.random.default_rng(28).normal(0.0, 1.0, y.size)
    diffs = paired_bootstrap_diff(
        task="regression",
        y_true=y,
        cand_pred=cand,
        cand_score=None,
        champ_pred=champ,
        champ_score=None,
        metrics=list(REGRESSION_METRICS),
    )
    assert diffs["rmse"].ci_high < 0 and diffs["mae"].ci_high < 0
    assert diffs["r2"].ci_low > 0


# ------------------------------------------------------------------------------------------
# Undefined metrics and invalid requests.
# ------------------------------------------------------------------------------------------


def test_undefined_metric_gives_nan_interval():
    rng = np.random.default_rng(29)
    score = rng.random(500)
    y = np.zeros(500, dtype=np.int64)
    cis = bootstrap_ci(
        task="binary",
        y_true=y,
        y_pred=(score > 0.5).astype(np.int64),
        y_score=score,
        metrics=["roc_auc", "accuracy"],
        n_resamples=50,
    )
    assert np.isnan(cis["roc_auc"]).all()
    assert np.isfinite(cis["accuracy"]).all()


def test_resamples_without_positives_are_left_out():
    # 3 positives in 300 rows: about 5% of the resamples have none, so no ROC AUC.
    y, pred, score = binary_data(300, seed=30)
    y[:] = 0
    y[:3] = 1
    reps, _ = bs._replicates(
        "binary", y, [(pred, score)], 2, ["roc_auc"], 1000, np.random.default_rng(0)
    )
    assert 10 < np.isnan(reps["roc_auc"][0]).sum() < 150
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no RuntimeWarning from NaN replicates either
        low, high = bootstrap_ci(
            task="binary", y_true=y, y_pred=pred, y_score=score, metrics=["roc_auc"]
        )["roc_auc"]
    assert 0.0 <= low <= high <= 1.0


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(metrics=["rmse"]), "unknown metric"),
        (dict(metrics=["roc_auc"], y_score=None), "need y_score"),
        (dict(metrics="f1"), "sequence of names"),
        (dict(metrics=["f1"], confidence=1.0), "confidence"),
        (dict(metrics=["f1"], n_resamples=0), "n_resamples"),
    ],
)
def test_invalid_requests_raise(kwargs, match):
    y, pred, score = binary_data(100, seed=31)
    args = dict(task="binary", y_true=y, y_pred=pred, y_score=score) | kwargs
    with pytest.raises(ValueError, match=match):
        bootstrap_ci(**args)


def test_empty_metric_list_returns_empty():
    y, pred, score = binary_data(100, seed=32)
    assert bootstrap_ci(task="binary", y_true=y, y_pred=pred, y_score=score, metrics=[]) == {}
