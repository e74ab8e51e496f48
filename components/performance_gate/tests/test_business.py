"""Business KPI rules of the performance gate: expected value per 1 000 decisions vs the champion.

Unit tests on encoded predictions (no model, no MLflow): the EV equals a hand computation, the
paired interval covers the truth, the champion rule gives its three outcomes, bad policies and
bad amount columns give clear one-line errors.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from quality_gates.components.decay_gate.policy import DecayPolicy
from quality_gates.components.performance_gate.bootstrap import mean_replicates
from quality_gates.components.performance_gate.core import Encoded, evaluate
from quality_gates.components.performance_gate.policy import PerformancePolicy
from quality_gates.shared.contracts.results import Status
from quality_gates.shared.policy.schema import parse_policy

# Credit: the positive class is "default"; a positive call refuses the loan.
MATRIX = {
    "approve": {"repay": {"column": "margin"}, "default": {"column": "loan", "factor": -0.5}},
    "refuse": {"repay": {"column": "margin", "factor": -1.0}, "default": 0.0},
}
BUSINESS = {
    "positive_decision": "refuse",
    "negative_decision": "approve",
    "positive_outcome": "default",
    "negative_outcome": "repay",
    "matrix": MATRIX,
}


def _policy(business: dict | None = None, **extra) -> PerformancePolicy:
    base = {"min_rows": 4, "min_rows_per_class": 1, "n_resamples": 200, "task": "binary"}
    return PerformancePolicy(**{**base, **extra, "business": {**BUSINESS, **(business or {})}})


def _enc(y: np.ndarray, score: np.ndarray, threshold: float = 0.5) -> Encoded:
    y = np.asarray(y, dtype=np.int64)
    score = np.asarray(score, dtype=float)
    return Encoded("binary", y, (score >= threshold).astype(np.int64), score, [0, 1], 1)


def _by_name(checks, fragment):
    found = [c for c in checks if fragment in c.name]
    assert found, [c.name for c in checks]
    return found[0]


def test_expected_value_equals_a_hand_computation_on_a_tiny_table():
    frame = pd.DataFrame(
        {
            "margin": [100.0, 200.0, 50.0, 80.0, 120.0, 60.0],
            "loan": [1000.0, 2000.0, 500.0, 800.0, 3000.0, 400.0],
        }
    )
    y = np.array([0, 0, 1, 1, 0, 1])  # 1 = default
    score = np.array([0.1, 0.35, 0.2, 0.9, 0.6, 0.31])  # P(default); threshold 0.3
    policy = _policy({"rules": [{"min": -1e9, "judge_on": "estimate"}]}, decision_threshold=0.3)
    checks, metrics, details = evaluate(policy=policy, candidate=_enc(y, score, 0.3), frame=frame,
                                        source="t")  # fmt: skip
    # Row by row: approve/repay +100; refuse/repay -200; approve/default -0.5*500;
    # refuse/default 0; refuse/repay -120; refuse/default 0.
    by_hand = (100 - 200 - 250 + 0 - 120 + 0) / 6 * 1000
    assert metrics["expected_value_per_1000"] == pytest.approx(by_hand)
    assert _by_name(checks, "expected_value_per_1000").status == Status.PASSED
    table = next(t for t in details["tables"] if t["title"].startswith("Business value matrix"))
    counts = {(r[0], r[1]): r[3] for r in table["rows"]}
    assert counts == {
        ("refuse", "default"): 2,
        ("refuse", "repay"): 2,
        ("approve", "default"): 1,
        ("approve", "repay"): 1,
    }
    assert "expected_value_per_1000" in details["metric_cis"]


def _population(rng, n):
    """Loans with a 20% default rate; champion and candidate scores of different quality."""
    y = (rng.random(n) < 0.2).astype(np.int64)
    loan = rng.lognormal(9.0, 0.6, n)
    champ = 1 / (1 + np.exp(-(1.2 * y + rng.normal(0, 1, n) - 1.6)))
    cand = 1 / (1 + np.exp(-(1.0 * y + rng.normal(0, 1, n) - 1.6)))
    return y, loan, cand, champ


def _values(y, loan, score, threshold=0.3):
    refuse = score >= threshold
    return np.where(refuse, np.where(y == 1, 0.0, -0.05 * loan), np.where(y == 1, -0.5 * loan,
                    0.05 * loan))  # fmt: skip


def test_paired_interval_of_the_difference_covers_the_truth():
    rng = np.random.default_rng(7)
    y, loan, cand, champ = _population(rng, 2_000_000)
    truth = float((_values(y, loan, cand) - _values(y, loan, champ)).mean() * 1000)
    covered, runs = 0, 150
    for _ in range(runs):
        idx = rng.integers(0, y.size, 1500)
        d = _values(y[idx], loan[idx], cand[idx]) - _values(y[idx], loan[idx], champ[idx])
        r = mean_replicates(values=d[:, None] * 1000, n_resamples=400, seed=int(rng.integers(1e9)))
        low, high = np.quantile(r.replicates[0], [0.025, 0.975])
        covered += low <= truth <= high
    assert 0.88 <= covered / runs <= 0.995, covered / runs


def test_binned_resampling_at_scale_matches_the_exact_one():
    rng = np.random.default_rng(3)
    y, loan, cand, champ = _population(rng, 200_000)
    v_c, v_h = _values(y, loan, cand), _values(y, loan, champ)
    values = np.stack([v_c - v_h, v_h], axis=1)
    strata = 4 * y + 2 * (cand >= 0.3) + (champ >= 0.3)
    exact = mean_replicates(
        values=values, strata=strata, n_resamples=2000, seed=1, max_row_draws=10**12
    )
    binned = mean_replicates(
        values=values, strata=strata, n_resamples=2000, seed=1, max_row_draws=0
    )
    assert exact.method.startswith("exact") and binned.method.startswith("approximate")
    np.testing.assert_allclose(binned.estimates, exact.estimates)
    sd_e, sd_b = exact.replicates.std(axis=1), binned.replicates.std(axis=1)
    np.testing.assert_allclose(sd_b, sd_e, rtol=0.08)
    q_e = np.quantile(exact.replicates, [0.025, 0.975], axis=1)
    q_b = np.quantile(binned.replicates, [0.025, 0.975], axis=1)
    assert np.all(np.abs(q_b - q_e) < 0.25 * sd_e)


def _champion_case(n_worse: int, *, n: int = 4000, rule=None, on_inconclusive="block"):
    """Champion approves every repayer (+10 each); the candidate refuses ``n_worse`` of them."""
    y = np.zeros(n, dtype=np.int64)
    y[: n // 5] = 1
    champ_score = np.where(y == 1, 0.9, 0.1)
    cand_score = champ_score.copy()
    cand_score[n // 5 : n // 5 + n_worse] = 0.9
    matrix = {
        "approve": {"repay": 10.0, "default": -20.0},
        "refuse": {"repay": -10.0, "default": 0.0},
    }
    policy = _policy(
        {"matrix": matrix, "vs_champion": rule or {"max_drop_pct": 2}},
        champion={"alias": "production", "n_resamples": 500},
        on_inconclusive=on_inconclusive,
    )
    return evaluate(
        policy=policy,
        candidate=_enc(y, cand_score),
        champion=_enc(y, champ_score),
        champion_ref={"model_name": "m"},
        frame=pd.DataFrame({"x": np.zeros(n)}),
        source="t",
    )


def test_two_percent_rule_passes_fails_and_is_inconclusive():
    # Equal decisions: the difference is 0 on every resample, shown within -2%.
    checks, metrics, details = _champion_case(0)
    rule = _by_name(checks, "vs champion")
    assert rule.status == Status.PASSED and rule.decision == "pass"
    assert metrics["expected_value_diff_per_1000"] == 0.0
    assert metrics["champion_expected_value_per_1000"] == pytest.approx(8000.0)
    assert "champion" not in details  # no metric champion rules: no empty champion section
    # 400 of 3200 repayers refused: EV drops by 400 * 20 / 4000 * 1000 = 2000 (25%): shown worse.
    checks, metrics, _ = _champion_case(400)
    rule = _by_name(checks, "vs champion")
    assert rule.status == Status.FAILED and rule.decision == "fail"
    assert metrics["expected_value_diff_per_1000"] == pytest.approx(-2000.0)
    # 8 refused: a drop of 40 = 0.5% with the bar at -160, but the interval is [-80, 0]... shown.
    # Make it straddle: 32 refused, drop 160 = exactly 2%: inconclusive.
    checks, _, _ = _champion_case(32)
    rule = _by_name(checks, "vs champion")
    assert rule.decision == "inconclusive" and rule.status == Status.FAILED
    checks, _, _ = _champion_case(32, on_inconclusive="warn")
    assert _by_name(checks, "vs champion").status == Status.WARNED
    # An absolute margin in currency units judges the same difference.
    checks, _, _ = _champion_case(400, rule={"max_drop": 2500})
    assert _by_name(checks, "vs champion").status == Status.PASSED


def test_percentage_of_a_non_positive_champion_value_is_an_error():
    n = 400
    y = np.zeros(n, dtype=np.int64)
    y[:100] = 1
    score = np.full(n, 0.1)  # approves everyone
    matrix = {"approve": {"repay": 1.0, "default": -10.0}, "refuse": {"repay": 0.0, "default": 0.0}}
    policy = _policy({"matrix": matrix, "vs_champion": {"max_drop_pct": 2}},
                     champion={"alias": "production"})  # fmt: skip
    checks, _, _ = evaluate(policy=policy, candidate=_enc(y, score), champion=_enc(y, score),
                            frame=pd.DataFrame(index=range(n)), source="t")  # fmt: skip
    rule = _by_name(checks, "vs champion")
    assert rule.status == Status.ERROR and "max_drop" in rule.message


def test_missing_champion_follows_if_missing():
    y = np.array([0, 1] * 50)
    policy = _policy({"vs_champion": {"max_drop": 1}},
                     champion={"alias": "production", "if_missing": "warn"})  # fmt: skip
    frame = pd.DataFrame({"margin": np.ones(100), "loan": np.ones(100)})
    checks, _, _ = evaluate(policy=policy, candidate=_enc(y, y * 0.8), frame=frame, source="t",
                            champion=None, champion_ref={"model_name": "m"})  # fmt: skip
    assert _by_name(checks, "vs champion").status == Status.WARNED


@pytest.mark.parametrize(
    ("frame", "fragment"),
    [
        (pd.DataFrame({"margin": [1.0] * 8}), "'loan' is not in t"),
        (pd.DataFrame({"margin": [1.0] * 8, "loan": ["secret-123"] * 3 + ["5"] * 5}), "3 of 8"),
        (pd.DataFrame({"margin": [1.0] * 8, "loan": [np.nan, np.inf] + [5.0] * 6}), "2 of 8"),
    ],
)
def test_bad_amount_columns_are_errors_naming_the_column(frame, fragment):
    y = np.array([0, 1] * 4)
    policy = _policy({"rules": [{"min": 0}]})
    checks, _, _ = evaluate(policy=policy, candidate=_enc(y, y * 0.8), frame=frame, source="t")
    check = _by_name(checks, "expected_value_per_1000")
    assert check.status == Status.ERROR
    assert fragment in check.message and "loan" in check.message
    assert "secret" not in check.message and "\n" not in check.message


def test_multiclass_data_is_refused_at_evaluation():
    rules = [{"min": 0, "judge_on": "estimate"}]
    policy = PerformancePolicy(
        min_rows=3, min_rows_per_class=1, n_resamples=0, business={**BUSINESS, "rules": rules}
    )
    y = np.array([0, 1, 2] * 4)
    enc = Encoded("multiclass", y, y, None, [0, 1, 2])
    checks, _, _ = evaluate(policy=policy, candidate=enc, frame=pd.DataFrame(index=range(12)),
                            source="t")  # fmt: skip
    check = _by_name(checks, "expected_value_per_1000")
    assert check.status == Status.ERROR and "binary" in check.message


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        ({"negative_decision": "refuse"}, "both 'refuse'"),
        ({"negative_outcome": "default"}, "both 'default'"),
        (
            {"matrix": {"approve": MATRIX["approve"], "deny": MATRIX["refuse"]}},
            "['approve', 'refuse']",
        ),
        ({"matrix": {**MATRIX, "refuse": {"repay": 0.0}}}, "business.matrix.refuse"),
        ({"rules": []}, "no rules"),
        ({"vs_champion": {"max_drop_pct": 2, "max_drop": 5}}, "exactly one of max_drop_pct"),
        ({"rules": [{"min": 0, "max": 5}]}, "exactly one of 'min' or 'max'"),
        ({"matrix": {**MATRIX, "refuse": {"repay": "loan", "default": 0}}}, "refuse"),
    ],
)
def test_ambiguous_business_blocks_are_refused(change, fragment):
    business = {**BUSINESS, "rules": [{"min": 0}], **change}
    with pytest.raises(ValidationError) as info:
        PerformancePolicy(business=business)
    assert fragment in str(info.value)


def test_business_needs_a_binary_task_and_a_champion_section():
    with pytest.raises(ValidationError, match="task is regression"):
        PerformancePolicy(task="regression", business={**BUSINESS, "rules": [{"min": 0}]})
    with pytest.raises(ValidationError, match="no champion section"):
        PerformancePolicy(business={**BUSINESS, "vs_champion": {"max_drop": 1}})


def test_policy_yaml_and_the_decay_gate_take_the_business_block():
    text = """
version: 1
data: {label: default, positive_label: 1}
gates:
  performance:
    decision_threshold: 0.3
    champion: {alias: production}
    business:
      positive_decision: refuse
      negative_decision: approve
      positive_outcome: default
      negative_outcome: repay
      currency: EUR
      matrix:
        approve:
          repay: {column: loan_amount, factor: 0.04}
          default: {column: loan_amount, factor: -0.5}
        refuse: {repay: {column: loan_amount, factor: -0.04}, default: 0}
      rules: [{min: 0}]
      vs_champion: {max_drop_pct: 2}
"""
    policy = parse_policy(text)
    business = policy.gates.performance.business
    assert business.columns == ["loan_amount"] and business.vs_champion.max_drop_pct == 2
    # The decay gate's section subclasses the performance one: a champion without metric rules
    # is fine when the business block compares with it.
    decay = DecayPolicy(champion={"alias": "production"},
                        business={**BUSINESS, "vs_champion": {"max_drop_pct": 2}})  # fmt: skip
    assert decay.business is not None
