"""Too few evaluation rows, overall or of one class, are an error, never a verdict."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from quality_gates.components.performance_gate.core import Encoded, evaluate
from quality_gates.components.performance_gate.policy import PerformancePolicy
from quality_gates.shared.contracts.errors import GateInputError
from quality_gates.shared.contracts.results import Status
from quality_gates.shared.gates.runner import check

POLICY = """
data: {{label: {label}, exclude: [region]}}
gates:
  performance:
    n_resamples: 200
    {extra}
    rules:
      - {{metric: accuracy, min: 0.5, judge_on: estimate}}
"""


def _policy(label: str = "target", extra: str = "") -> str:
    return POLICY.format(label=label, extra=extra)


def _gate(case, frame: pd.DataFrame, tmp_path, text: str | None = None, name: str = "eval.csv"):
    path = tmp_path / name
    frame.to_csv(path, index=False)
    return check(
        "performance",
        model_uri=str(case.model_path),
        data_uri=str(path),
        policy_text=text or _policy(case.label),
    )


def test_two_rows_are_an_error_naming_the_counts(binary_case, tmp_path):
    frame = pd.concat(
        [
            binary_case.frame[binary_case.frame.target == 0].head(1),
            binary_case.frame[binary_case.frame.target == 1].head(1),
        ]
    )
    r = _gate(binary_case, frame, tmp_path, name="two.csv")
    assert r.status == Status.ERROR
    assert "2 evaluation rows" in r.error and "min_rows (100)" in r.error
    assert "class 0 has 1 row," in r.error and "class 1 has 1 row," in r.error
    assert "min_rows_per_class (10)" in r.error and "\n" not in r.error


def test_many_rows_but_three_positives_are_an_error_naming_the_class(binary_case, tmp_path):
    frame = pd.concat(
        [
            binary_case.frame[binary_case.frame.target == 0].head(197),
            binary_case.frame[binary_case.frame.target == 1].head(3),
        ]
    )
    assert len(frame) == 200
    r = _gate(binary_case, frame, tmp_path)
    assert r.status == Status.ERROR
    assert "class 1 has 3 rows, fewer than gates.performance.min_rows_per_class (10)" in r.error
    assert "class 0" not in r.error and "min_rows (" not in r.error
    assert "evaluate on more data" in r.error


def test_a_class_of_the_model_absent_from_the_data_counts_zero(binary_case, tmp_path):
    frame = binary_case.frame[binary_case.frame.target == 0].head(300)
    r = _gate(binary_case, frame, tmp_path)
    assert r.status == Status.ERROR and "class 1 has 0 rows" in r.error


def test_the_minimum_per_class_is_a_policy_setting(binary_case, tmp_path):
    frame = pd.concat(
        [
            binary_case.frame[binary_case.frame.target == 0].head(197),
            binary_case.frame[binary_case.frame.target == 1].head(3),
        ]
    )
    r = _gate(binary_case, frame, tmp_path, text=_policy(extra="min_rows_per_class: 3"))
    assert r.status != Status.ERROR, r.error
    assert PerformancePolicy(rules=[]).min_rows_per_class == 10
    with pytest.raises(ValueError):
        PerformancePolicy(min_rows_per_class=0)


def test_an_adequate_set_is_unaffected(binary_case, tmp_path):
    r = _gate(binary_case, binary_case.frame, tmp_path)
    assert r.status == Status.PASSED, r.summary


def test_text_classes_are_named_by_position_never_by_value(multiclass_case, tmp_path):
    frame = multiclass_case.frame
    # Keep every setosa and versicolor row, only four virginica ones.
    thin = pd.concat([frame[frame.species != "virginica"], frame[frame.species == "virginica"][:4]])
    r = _gate(multiclass_case, thin, tmp_path, text=_policy("species"))
    assert r.status == Status.ERROR
    assert "the 3rd class has 4 rows" in r.error
    for value in ("setosa", "versicolor", "virginica"):
        assert value not in r.error
    absent = frame[frame.species != "versicolor"]
    r = _gate(multiclass_case, absent, tmp_path, text=_policy("species"), name="absent.csv")
    assert r.status == Status.ERROR and "the 2nd class has 0 rows" in r.error


def test_boolean_classes_are_named():
    y = np.array([0] * 150 + [1] * 5)
    enc = Encoded("binary", y, y, None, [False, True], positive_index=1)
    with pytest.raises(GateInputError, match="class True has 5 rows"):
        evaluate(policy=PerformancePolicy(), candidate=enc, frame=pd.DataFrame(), source="e")
    # The positive class named first among the model's classes is still counted as positive.
    flipped = Encoded("binary", y, y, None, [1, 0], positive_index=0)
    with pytest.raises(GateInputError, match="class 0 has 150 rows, class 1 has 5 rows"):
        evaluate(
            policy=PerformancePolicy(min_rows_per_class=151),
            candidate=flipped,
            frame=pd.DataFrame(),
            source="e",
        )


def test_regression_has_no_class_minimum(regression_case, tmp_path):
    text = f"""
data: {{label: {regression_case.label}}}
gates:
  performance:
    n_resamples: 200
    rules: [{{metric: r2, min: 0.0, judge_on: estimate}}]
"""
    r = _gate(regression_case, regression_case.frame.head(150), tmp_path, text=text)
    assert r.status != Status.ERROR, r.error


def test_fairness_on_two_rows_is_an_error(binary_case, tmp_path):
    frame = binary_case.frame.head(2)
    path = tmp_path / "two.csv"
    frame.to_csv(path, index=False)
    text = """
data: {label: target, exclude: [region]}
gates:
  fairness:
    sensitive_features: [region]
    n_resamples: 200
    rules:
      - {metric: demographic_parity_difference, max: 0.2, rationale: equal approval rates}
"""
    r = check(
        "fairness", model_uri=str(binary_case.model_path), data_uri=str(path), policy_text=text
    )
    assert r.status == Status.ERROR
    assert not r.status.lets_through
