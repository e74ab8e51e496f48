"""The drift gate: exact statistics, mergeable states, verdicts on effect size, bad input."""

import numpy as np
import pandas as pd
import pytest
from scipy.spatial.distance import jensenshannon
from scipy.stats import chi2_contingency, ks_2samp, wasserstein_distance

from quality_gates.components.drift_gate import stats
from quality_gates.components.drift_gate.core import evaluate_drift
from quality_gates.components.drift_gate.policy import DriftPolicy
from quality_gates.shared.contracts.errors import GateInputError
from quality_gates.shared.contracts.results import Status
from quality_gates.shared.gates.runner import GateInputs, run_gate

POLICY = DriftPolicy(
    numeric={"metric": "wasserstein_norm", "max": 0.1},
    categorical={"metric": "jensen_shannon", "max": 0.1},
    n_resamples=200,
)


def _table(n: int, seed: int, *, shift: float = 0.0, share_b: float = 0.3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "x": rng.normal(shift, 1.0, n),
            "y": rng.lognormal(0.0, 1.0, n).round(1),  # skewed, with ties
            "k": rng.integers(0, 5, n),
            "cat": rng.choice(["a", "b", "c"], n, p=[0.7 - share_b, share_b, 0.3]),
        }
    )


def test_exact_statistics_equal_scipy():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=20_000), rng.normal(0.2, 1.3, 15_000).round(2)
    w, ks = stats.exact_distances(np.sort(a), np.sort(b))
    assert w == pytest.approx(wasserstein_distance(a, b), abs=1e-12)
    assert ks == pytest.approx(ks_2samp(a, b).statistic, abs=1e-12)
    ints_a, ints_b = a.round(), b.round()  # heavy ties
    assert stats.ks_exact(ints_a, ints_b) == pytest.approx(ks_2samp(ints_a, ints_b).statistic)
    assert stats.wasserstein_exact(ints_a, ints_b) == pytest.approx(
        wasserstein_distance(ints_a, ints_b), abs=1e-12
    )
    p, q = np.array([50, 30, 20, 0]), np.array([40, 30, 25, 5])
    assert float(stats.jensen_shannon(p, q)) == pytest.approx(jensenshannon(p / 100, q / 100))
    chi, pval, dof = stats.chi_square(p, q)
    ref = chi2_contingency(np.vstack([p, q]), correction=False)
    assert (chi, pval, dof) == pytest.approx((ref.statistic, ref.pvalue, ref.dof))


def test_shard_states_merge_to_the_whole_exactly():
    table = _table(30_000, 1)
    edges = stats.reference_edges(np.sort(table["x"].to_numpy()))
    whole = stats.count_numeric(table["x"].to_numpy(), edges)
    parts = [stats.count_numeric(c, edges) for c in np.array_split(table["x"].to_numpy(), 7)]
    merged = parts[0]
    for part in parts[1:]:
        merged = merged.merge(part)
    assert np.array_equal(merged.counts, whole.counts) and merged.missing == whole.missing
    assert merged.std == pytest.approx(whole.std, rel=1e-12)
    by_sort = stats.count_sorted(np.sort(table["x"].to_numpy()), edges, 0)
    assert np.array_equal(by_sort.counts, whole.counts)
    cuts = [0, 5, 777, 12_000, 29_999, 30_000]
    cats = [
        stats.count_categorical(table["cat"].iloc[a:b])
        for a, b in zip(cuts, cuts[1:], strict=False)
    ]
    merged_c = cats[0]
    for part in cats[1:]:
        merged_c = merged_c.merge(part)
    whole_c = stats.count_categorical(table["cat"])
    assert merged_c.categories.tolist() == whole_c.categories.tolist()
    assert np.array_equal(merged_c.counts, whole_c.counts)


def _statuses(result) -> dict[str, Status]:
    return {c.name.split(":")[0]: c.status for c in result.checks}


def test_same_distribution_on_many_rows_passes_and_a_trivial_shift_too():
    ref = _table(200_000, 1)
    cur = _table(200_000, 2, shift=0.02)  # 2% of a standard deviation: real but trivial
    result = evaluate_drift(ref, cur, POLICY, skip=set())
    assert {c.status for c in result.checks} == {Status.PASSED}
    x = next(c for c in result.checks if c.name.startswith("x:"))
    assert x.ci_high < 0.1 and x.value == pytest.approx(0.02, abs=0.01)


def test_a_real_shift_in_5k_rows_fails_and_names_the_column():
    ref, cur = _table(5_000, 1), _table(5_000, 2, shift=0.4, share_b=0.45)
    result = evaluate_drift(ref, cur, POLICY, skip=set())
    statuses = _statuses(result)
    assert statuses["x"] == Status.FAILED and statuses["cat"] == Status.FAILED
    assert statuses["y"] == Status.PASSED and statuses["k"] == Status.PASSED
    x = next(c for c in result.checks if c.name.startswith("x:"))
    assert x.decision == "fail" and x.ci_low > 0.1 and "adjusted p" in x.message


def test_a_broken_feed_fails_on_the_null_and_the_rescaled_column():
    ref, cur = _table(20_000, 1), _table(20_000, 2)
    cur["x"] = np.nan
    cur["y"] = cur["y"] * 1000
    cur.loc[:99, "cat"] = "new"
    result = evaluate_drift(ref, cur, POLICY, skip=set())
    statuses = _statuses(result)
    assert statuses["x"] == Status.FAILED and statuses["y"] == Status.FAILED
    x = next(c for c in result.checks if c.name.startswith("x:"))
    assert "no value in the current data" in x.message and x.details["missing_current"] == 1.0
    cat = next(c for c in result.checks if c.name.startswith("cat:"))
    assert cat.details["unseen_share"] == pytest.approx(0.005)


def test_a_small_sample_is_inconclusive_and_warns_by_default():
    ref, cur = _table(300, 1), _table(300, 2, shift=0.1)
    result = evaluate_drift(ref, cur, POLICY.model_copy(update={"numeric": None}), skip=set())
    judged = [c for c in result.checks if c.decision == "inconclusive"]
    assert all(c.status == Status.WARNED for c in judged)


def test_dataset_rule_counts_drifted_columns():
    ref, cur = _table(5_000, 1), _table(5_000, 2, shift=0.5)
    policy = DriftPolicy.model_validate(
        {**POLICY.model_dump(exclude_none=True), "dataset": {"max_drifted_share": 0.2}}
    )
    result = evaluate_drift(ref, cur, policy, skip=set())
    dataset = next(c for c in result.checks if c.family == "dataset")
    assert dataset.value == pytest.approx(0.25) and dataset.status == Status.FAILED
    assert "x" in dataset.message


@pytest.mark.parametrize(
    ("reference", "current", "named"),
    [
        (lambda: _table(100, 1), lambda: _table(100, 2).iloc[:0], "current data has no rows"),
        (lambda: _table(100, 1), lambda: _table(100, 2).drop(columns=["x"]), "lacks 1 column"),
    ],
)
def test_bad_tables_are_one_line_errors(reference, current, named):
    with pytest.raises(GateInputError, match=named):
        evaluate_drift(reference(), current(), POLICY, skip=set())


def test_through_the_registry_without_reference_is_an_error(tmp_path):
    _table(500, 2).to_parquet(tmp_path / "cur.parquet")
    text = "gates:\n  drift:\n    numeric: {max: 0.1}\n"
    result = run_gate("drift", GateInputs(data_uri=str(tmp_path / "cur.parquet"), policy_text=text))
    assert result.status == Status.ERROR and "--reference-data" in result.error
    _table(500, 1)[["y"]].to_parquet(tmp_path / "ref.parquet")
    listed = text + "    columns: [x]\n"
    result = run_gate(
        "drift",
        GateInputs(
            data_uri=str(tmp_path / "cur.parquet"),
            reference_data_uri=str(tmp_path / "ref.parquet"),
            policy_text=listed,
        ),
    )
    assert result.status == Status.ERROR and "reference data lacks" in result.error
    assert result.inputs.get("reference_data", "").startswith("sha256:") or result.error


def test_a_biased_estimate_above_its_interval_is_not_failed():
    # Two samples of one 50-category distribution: the exact JS distance (about 0.035 at 10k
    # rows) is biased above the bound, its bias-corrected interval is not; never a failure.
    rng = np.random.default_rng(4)
    p = 1.0 / np.arange(1, 51) ** 0.8
    cats = np.array([f"c{j:02d}" for j in range(50)], dtype=object)
    policy = DriftPolicy(categorical={"max": 0.03}, n_resamples=200)
    statuses = []
    for _ in range(3):
        ref, cur = (
            pd.DataFrame(
                {
                    "c": cats[rng.choice(50, 10_000, p=p / p.sum())],
                    "d": cats[rng.choice(50, 10_000, p=p / p.sum())],
                }
            )
            for _ in range(2)
        )
        result = evaluate_drift(ref, cur, policy, skip=set())
        for check in result.checks:
            assert check.status != Status.FAILED or check.ci_low > 0.03, check.message
            statuses.append(check.status)
    assert Status.FAILED not in statuses


def test_dataset_weights_count_the_drifted_columns_share_of_the_weight():
    ref, cur = _table(5_000, 1), _table(5_000, 2, shift=0.5)
    base = {**POLICY.model_dump(exclude_none=True)}
    uniform = evaluate_drift(ref, cur, POLICY, skip=set())
    drifted = {c.name.split(":")[0] for c in uniform.checks if c.decision in ("fail", None)}
    compared = [c.name.split(":")[0] for c in uniform.checks]
    assert drifted and set(compared) - drifted
    # All the weight on columns that did not drift: the weighted share is 0 and the rule passes,
    # where the uniform share (a quarter of the columns) would fail it.
    steady = sorted(set(compared) - drifted)
    policy = DriftPolicy.model_validate(
        {**base, "dataset": {"max_drifted_share": 0.2, "weights": {steady[0]: 1.0}}}
    )
    check = next(
        c for c in evaluate_drift(ref, cur, policy, skip=set()).checks if c.family == "dataset"
    )
    assert check.value == 0.0 and check.status == Status.PASSED
    heavy = {steady[0]: 1.0, sorted(drifted)[0]: 3.0}
    policy = DriftPolicy.model_validate(
        {**base, "dataset": {"max_drifted_share": 0.5, "weights": heavy}}
    )
    check = next(
        c for c in evaluate_drift(ref, cur, policy, skip=set()).checks if c.family == "dataset"
    )
    assert check.value == pytest.approx(0.75) and check.status == Status.FAILED
    assert "of the column weight" in check.message


def test_dataset_weights_on_a_column_not_compared_are_an_error():
    ref, cur = _table(500, 1), _table(500, 2)
    policy = DriftPolicy.model_validate(
        {
            **POLICY.model_dump(exclude_none=True),
            "dataset": {"max_drifted_share": 0.2, "weights": {"incomee": 1.0}},
        }
    )
    with pytest.raises(GateInputError, match="not compared.*incomee"):
        evaluate_drift(ref, cur, policy, skip=set())


@pytest.mark.parametrize(
    ("weights", "named"),
    [
        ("attribution", "has no attributions\\); give a weight per column"),
        ({"x": -1.0}, "finite and >= 0"),
        ({"x": 0.0}, "all 0"),
    ],
)
def test_unusable_dataset_weights_are_refused_in_the_policy(weights, named):
    with pytest.raises(ValueError, match=named):
        DriftPolicy.model_validate(
            {"numeric": {"max": 0.1}, "dataset": {"max_drifted_share": 0.2, "weights": weights}}
        )
