"""The vectorised fast path equals fairlearn's MetricFrame and disparity functions to 1e-9."""

import warnings

import numpy as np
import pandas as pd
import pytest
from fairlearn.metrics import (
    MetricFrame,
    demographic_parity_difference,
    demographic_parity_ratio,
    equal_opportunity_difference,
    equal_opportunity_ratio,
    equalized_odds_difference,
    equalized_odds_ratio,
    false_negative_rate,
    false_positive_rate,
    mean_prediction,
    selection_rate,
    true_positive_rate,
)
from sklearn import metrics as skm

from quality_gates.components.fairness_gate import disparities as dp
from quality_gates.components.fairness_gate.groups import build_grouping

FAIRLEARN_DISPARITIES = {
    "demographic_parity_difference": demographic_parity_difference,
    "demographic_parity_ratio": demographic_parity_ratio,
    "equalized_odds_difference": equalized_odds_difference,
    "equalized_odds_ratio": equalized_odds_ratio,
    "equal_opportunity_difference": equal_opportunity_difference,
    "equal_opportunity_ratio": equal_opportunity_ratio,
}
GROUP_METRICS = {
    "selection_rate": selection_rate,
    "true_positive_rate": true_positive_rate,
    "false_positive_rate": false_positive_rate,
    "false_negative_rate": false_negative_rate,
    "precision": lambda y, p: skm.precision_score(y, p, zero_division=np.nan),
    "accuracy": skm.accuracy_score,
}


def _data(n, seed, kind):
    rng = np.random.default_rng(seed)
    if kind == "string":
        sf = pd.DataFrame({"a": rng.choice(["x", "y", "z"], n), "b": rng.choice(["p", "q"], n)})
    elif kind == "int":
        sf = pd.DataFrame({"a": rng.integers(0, 5, n), "b": rng.integers(10, 12, n)})
    else:
        sf = pd.DataFrame(
            {
                "a": pd.Categorical(
                    rng.choice(["lo", "mid", "hi"], n), categories=["lo", "mid", "hi", "unused"]
                ),
                "b": pd.Categorical(rng.choice([True, False], n)),
            }
        )
    codes_a = pd.factorize(sf["a"])[0]
    # Group-dependent base rates and decisions, so the disparities are far from 0.
    y = (rng.random(n) < 0.2 + 0.1 * (codes_a % 3)).astype(int)
    p = (rng.random(n) < 0.15 + 0.5 * y + 0.05 * (codes_a % 2)).astype(int)
    return sf, y, p


def _aligned(by_group, labels):
    """fairlearn's rows in our group order (categoricals keep their category order here)."""
    keys = [" × ".join(map(str, k)) if isinstance(k, tuple) else str(k) for k in by_group.index]
    assert sorted(keys) == sorted(labels)
    return by_group.set_axis(keys).loc[labels]


@pytest.mark.parametrize(
    "n,seed,kind,cols",
    [
        (5000, 0, "string", ("a",)),
        (5000, 1, "string", ("a", "b")),
        (3000, 2, "int", ("a",)),
        (3000, 3, "int", ("a", "b")),
        (4000, 4, "categorical", ("a", "b")),
        (800, 5, "string", ("a", "b")),
    ],
)
def test_group_metrics_and_disparities_equal_fairlearn(n, seed, kind, cols):
    sf, y, p = _data(n, seed, kind)
    g = build_grouping(sf, cols, missing="error", source="t")
    counts = dp.confusion_by_group(codes=g.codes, n_groups=len(g.labels), y_true=y, y_pred=p)
    rates = dp.binary_rates(counts)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mf = MetricFrame(
            metrics=GROUP_METRICS, y_true=y, y_pred=p, sensitive_features=sf[list(cols)]
        )
    by = _aligned(mf.by_group, g.labels)
    for name in GROUP_METRICS:
        np.testing.assert_allclose(rates[name], by[name].to_numpy(dtype=float), atol=1e-12, rtol=0)
    np.testing.assert_array_equal(rates["count"], g.counts)
    everyone = np.ones(len(g.labels), bool)
    for name, fn in FAIRLEARN_DISPARITIES.items():
        ours = float(dp.disparity(name, rates, everyone)[0])
        theirs = fn(y, p, sensitive_features=sf[list(cols)])
        assert ours == pytest.approx(theirs, abs=1e-9), name
    pp = float(dp.disparity("predictive_parity_difference", rates, everyone)[0])
    assert pp == pytest.approx(mf.difference()["precision"], abs=1e-9)
    fnr = float(dp.disparity("false_negative_rate_ratio", rates, everyone)[0])
    assert fnr == pytest.approx(mf.ratio()["false_negative_rate"], abs=1e-9)


def test_ineligible_groups_are_left_out_like_fairlearn_on_the_rest():
    sf, y, p = _data(4000, 7, "string")
    g = build_grouping(sf, ("a", "b"), missing="error", source="t")
    counts = dp.confusion_by_group(codes=g.codes, n_groups=len(g.labels), y_true=y, y_pred=p)
    rates = dp.binary_rates(counts)
    eligible = np.ones(len(g.labels), bool)
    eligible[[0, 3]] = False
    keep = np.isin(g.codes, np.flatnonzero(eligible))
    theirs = equalized_odds_difference(y[keep], p[keep], sensitive_features=sf[["a", "b"]][keep])
    ours = float(dp.disparity("equalized_odds_difference", rates, eligible)[0])
    assert ours == pytest.approx(theirs, abs=1e-9)


def test_undefined_rate_is_nan_not_zero():
    # Group "b" has no positives: its TPR is undefined, not 0 (sklearn's normalisation says 0).
    codes = np.array([0, 0, 0, 0, 1, 1, 1])
    y = np.array([1, 1, 0, 0, 0, 0, 0])
    p = np.array([1, 0, 0, 1, 1, 0, 0])
    rates = dp.binary_rates(dp.confusion_by_group(codes=codes, n_groups=2, y_true=y, y_pred=p))
    assert rates["true_positive_rate"][0] == 0.5 and np.isnan(rates["true_positive_rate"][1])
    both = np.ones(2, bool)
    # With one defined group the difference is 0 over that group (nan groups left out).
    assert float(dp.disparity("equal_opportunity_difference", rates, both)[0]) == 0.0


def test_all_positive_predictions():
    sf, y, _ = _data(2000, 8, "string")
    p = np.ones_like(y)
    g = build_grouping(sf, ("a",), missing="error", source="t")
    rates = dp.binary_rates(dp.confusion_by_group(codes=g.codes, n_groups=3, y_true=y, y_pred=p))
    both = np.ones(3, bool)
    assert float(dp.disparity("demographic_parity_difference", rates, both)[0]) == 0.0
    assert float(dp.disparity("demographic_parity_ratio", rates, both)[0]) == 1.0
    assert float(dp.disparity("equalized_odds_difference", rates, both)[0]) == 0.0
    # Precision equals each group's base rate: predictive parity shows the base-rate gap.
    base = pd.Series(y).groupby(g.codes).mean().to_numpy()
    assert float(dp.disparity("predictive_parity_difference", rates, both)[0]) == pytest.approx(
        base.max() - base.min(), abs=1e-12
    )


def test_regression_stats_equal_fairlearn():
    rng = np.random.default_rng(3)
    n = 3000
    sf = pd.DataFrame({"a": rng.choice(["u", "v", "w"], n)})
    y = rng.normal(100, 10, n)
    pred = y + rng.normal(0, 5, n) + (sf["a"] == "w").to_numpy() * 3
    g = build_grouping(sf, ("a",), missing="error", source="t")
    stats = dp.regression_stats(
        dp.regression_sums(codes=g.codes, n_groups=3, y_true=y, y_pred=pred)
    )
    mf = MetricFrame(
        metrics={
            "mean_prediction": mean_prediction,
            "mean_absolute_error": skm.mean_absolute_error,
            "root_mean_squared_error": skm.root_mean_squared_error,
        },
        y_true=y,
        y_pred=pred,
        sensitive_features=sf["a"],
    )
    for name in mf.by_group.columns:
        np.testing.assert_allclose(stats[name], mf.by_group[name].to_numpy(), rtol=1e-12, atol=1e-9)
    d = float(dp.disparity("mean_absolute_error_difference", stats, np.ones(3, bool))[0])
    assert d == pytest.approx(mf.difference()["mean_absolute_error"], abs=1e-9)


def test_binary_bootstrap_is_the_row_bootstrap():
    # Multinomial over (group, label, decision) cells has the distribution of row resampling:
    # compare the bootstrap standard deviation of DPD with a naive row-resampling loop.
    sf, y, p = _data(2000, 9, "string")
    g = build_grouping(sf, ("a",), missing="error", source="t")
    counts = dp.confusion_by_group(codes=g.codes, n_groups=3, y_true=y, y_pred=p)
    res = dp.bootstrap_binary(counts, n_resamples=4000, rng=np.random.default_rng(0))
    ours = dp.disparity("demographic_parity_difference", res.rates, np.ones(3, bool))[0]
    rng = np.random.default_rng(1)
    naive = []
    for _ in range(400):
        idx = rng.integers(0, y.size, y.size)
        naive.append(
            demographic_parity_difference(
                y[idx], p[idx], sensitive_features=sf["a"].to_numpy()[idx]
            )
        )
    assert np.std(ours) == pytest.approx(np.std(naive), rel=0.15)
    assert np.mean(ours) == pytest.approx(np.mean(naive), abs=0.005)


def test_regression_bootstrap_exact_and_normal_agree():
    rng = np.random.default_rng(4)
    n = 2000
    codes = rng.integers(0, 3, n)
    y = rng.normal(0, 1, n)
    pred = y + rng.normal(0, 1, n) + 0.3 * codes
    exact, m1 = dp.bootstrap_regression(
        codes=codes,
        n_groups=3,
        y_true=y,
        y_pred=pred,
        n_resamples=500,
        rng=np.random.default_rng(0),
    )
    old = dp._MAX_ROW_DRAWS
    try:
        dp._MAX_ROW_DRAWS = 0
        approx, m2 = dp.bootstrap_regression(
            codes=codes,
            n_groups=3,
            y_true=y,
            y_pred=pred,
            n_resamples=2000,
            rng=np.random.default_rng(0),
        )
    finally:
        dp._MAX_ROW_DRAWS = old
    assert m1 != m2
    for name in ("mean_prediction", "mean_absolute_error"):
        a = dp.disparity(f"{name}_difference", exact.rates, np.ones(3, bool))[0]
        b = dp.disparity(f"{name}_difference", approx.rates, np.ones(3, bool))[0]
        assert np.std(a) == pytest.approx(np.std(b), rel=0.2)


def test_engine_metric_through_metricframe_equals_fairlearn():
    sf, y, p = _data(3000, 10, "string")
    g = build_grouping(sf, ("a", "b"), missing="error", source="t")
    fn_name, fn, how = dp.resolve_engine_metric("balanced_accuracy_score_difference")
    by = dp.engine_by_group(
        fn=fn,
        fn_name=fn_name,
        group_labels=g.labels,
        codes=g.codes,
        y_true=y,
        y_pred=p,
        y_score=None,
    )
    mf = MetricFrame(
        metrics=skm.balanced_accuracy_score, y_true=y, y_pred=p, sensitive_features=sf[["a", "b"]]
    )
    np.testing.assert_allclose(
        by, _aligned(mf.by_group, g.labels).to_numpy(dtype=float), atol=1e-12
    )
    assert float(dp.aggregate(by, np.ones(len(by), bool), how)) == pytest.approx(
        mf.difference(), abs=1e-9
    )
    with pytest.raises(LookupError):
        dp.resolve_engine_metric("no_such_metric_difference")
