"""The aggregator fails closed: anything missing, malformed, inconsistent or unconfigured blocks."""

import json

from quality_gates.components.aggregator.core import aggregate, expected_gates, read_result
from quality_gates.shared.contracts.results import (
    CheckResult,
    Status,
    finalize,
    not_configured_result,
)


def _result(gate="performance", status=Status.PASSED, model="sha256:m", data="sha256:d"):
    return finalize(
        gate=gate,
        checks=[CheckResult(name="c", value=1.0, status=status, message="m")],
        inputs={"model": model, "data": data, "policy": "sha256:p"},
    )


def test_all_passed_and_warned_let_through():
    card = aggregate(
        {"performance": _result(), "fairness": _result("fairness", Status.WARNED)},
        expected=["performance", "fairness"],
    )
    assert card.all_passed and card.decision == Status.WARNED
    assert card.model_digest == "sha256:m" and card.policy_digest == "sha256:p"


def test_one_failed_gate_blocks_and_is_named():
    card = aggregate(
        {"performance": _result(), "fairness": _result("fairness", Status.FAILED)},
        expected=["performance", "fairness"],
    )
    assert not card.all_passed and card.decision == Status.FAILED
    assert card.failing_checks() == [("fairness", "c", "m")]


def test_missing_expected_gate_is_an_error():
    card = aggregate({"performance": _result()}, expected=["performance", "fairness"])
    assert not card.all_passed
    missing = [r for r in card.results if r.gate == "fairness"][0]
    assert missing.status == Status.ERROR and "no result" in missing.error


def test_no_expected_gate_is_an_error():
    card = aggregate({}, expected=[])
    assert not card.all_passed and card.decision == Status.ERROR


def test_gates_that_saw_different_models_block():
    card = aggregate(
        {"performance": _result(), "fairness": _result("fairness", model="sha256:other")},
        expected=["performance", "fairness"],
    )
    assert not card.all_passed
    assert any(r.gate == "consistency" and "different model" in r.error for r in card.results)


def test_no_model_digest_blocks():
    r = _result()
    r.inputs.pop("model")
    card = aggregate({"performance": r}, expected=["performance"])
    assert not card.all_passed
    assert "model digest" in card.results[-1].error


def test_unconfigured_gate_is_shown_but_not_counted():
    card = aggregate(
        {"performance": _result(), "fairness": not_configured_result(gate="fairness")},
        expected=["performance"],
        not_configured=["fairness"],
    )
    assert card.all_passed
    assert [r.status for r in card.results] == [Status.PASSED, Status.SKIPPED]


def test_unconfigured_gate_that_ran_anyway_blocks():
    card = aggregate(
        {"performance": _result(), "fairness": _result("fairness")},
        expected=["performance"],
        not_configured=["fairness"],
    )
    assert not card.all_passed


def test_read_result_fails_closed(tmp_path):
    assert read_result(None, gate="performance").status == Status.ERROR
    assert "missing" in read_result(str(tmp_path / "x.json"), gate="performance").error
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    assert "malformed" in read_result(str(bad), gate="performance").error
    other = tmp_path / "other.json"
    other.write_text(_result("fairness").to_json())
    assert "wiring" in read_result(str(other), gate="performance").error
    good = tmp_path / "good.json"
    good.write_text(_result().to_json())
    assert read_result(str(good), gate="performance").status == Status.PASSED
    weird = tmp_path / "weird.json"
    weird.write_text(json.dumps({"schema_version": 1, "gate": "performance"}))
    assert read_result(str(weird), gate="performance").status == Status.ERROR


def test_expected_gates_follow_the_policy():
    policy = "gates: {performance: {rules: [{metric: roc_auc, min: 0.5}]}}"
    assert expected_gates(policy, ["performance", "fairness"])[:2] == (
        ["performance"],
        ["fairness"],
    )
    expected, _, problem = expected_gates("gates: {performanc: {}}", ["performance"])
    assert expected == ["performance"] and "performanc" in problem
