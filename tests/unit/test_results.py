import json

import numpy as np
import pytest

from quality_gates.shared.contracts.results import (
    SCHEMA_VERSION,
    CheckResult,
    GateResult,
    Status,
    error_result,
    finalize,
    worst,
)


def _check(status, name="c"):
    return CheckResult(name=name, value=0.8, threshold=0.7, operator=">=", status=status)


def test_round_trip_keeps_every_field():
    result = finalize(
        gate="performance",
        checks=[
            CheckResult(
                name="auc",
                value=np.float64(0.81),
                threshold=0.7,
                operator=">=",
                status=Status.PASSED,
                ci_low=0.79,
                ci_high=0.83,
                rationale="why",
                details={"n": 10},
            ),
            _check(Status.WARNED, "recall"),
        ],
        metrics={"roc_auc": np.float64(0.81), "n": 3},
        inputs={"model": "sha256:ab"},
        versions={"kfp": "2.17.0"},
        details={"confusion_matrix": {"labels": ["0", "1"], "matrix": [[1, 2], [3, 4]]}},
    )
    again = GateResult.from_json(result.to_json())
    assert again == result
    assert again.schema_version == SCHEMA_VERSION
    assert again.status == Status.WARNED
    assert again.checks[0].value == pytest.approx(0.81)


def test_nan_values_become_null_and_are_dropped_from_metrics():
    result = finalize(
        gate="g",
        checks=[CheckResult(name="auc", value=float("nan"), status=Status.ERROR, message="x")],
        metrics={"auc": float("nan"), "acc": 0.5},
    )
    data = json.loads(result.to_json())
    assert data["checks"][0]["value"] is None
    assert data["metrics"] == {"acc": 0.5}


@pytest.mark.parametrize(
    "statuses, expected",
    [
        ([Status.PASSED, Status.WARNED], Status.WARNED),
        ([Status.PASSED, Status.FAILED, Status.WARNED], Status.FAILED),
        ([Status.FAILED, Status.ERROR], Status.ERROR),
        ([Status.SKIPPED, Status.PASSED], Status.PASSED),
        ([Status.SKIPPED], Status.SKIPPED),
        ([], Status.ERROR),
    ],
)
def test_worst(statuses, expected):
    assert worst(statuses) == expected


def test_no_checks_is_an_error_not_a_pass():
    result = finalize(gate="performance", checks=[])
    assert result.status == Status.ERROR
    assert not result.passed
    assert "no rules" in result.error


def test_only_passed_and_warned_let_a_model_through():
    assert {s for s in Status if s.lets_through} == {Status.PASSED, Status.WARNED}


def test_error_result_blocks_and_keeps_message():
    r = error_result(gate="performance", message="column 'x' missing in d.csv; fix it")
    assert r.status == Status.ERROR and not r.passed
    assert r.error == "column 'x' missing in d.csv; fix it"


@pytest.mark.parametrize(
    "text",
    [
        "not json",
        "[1, 2]",
        json.dumps({"schema_version": 2, "gate": "g", "status": "passed", "summary": "s"}),
        json.dumps({"schema_version": 1, "gate": "g", "status": "great", "summary": "s"}),
        json.dumps({"schema_version": 1, "gate": "g", "status": "passed", "summary": "s", "x": 1}),
    ],
)
def test_malformed_json_is_rejected(text):
    with pytest.raises(ValueError):
        GateResult.from_json(text)
