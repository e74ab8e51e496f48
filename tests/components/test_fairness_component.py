"""The fairness component run for real through kfp.local (SubprocessRunner, no venv)."""

from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
from kfp import local
from sklearn.linear_model import LogisticRegression

from quality_gates.components.fairness_gate.component import fairness_gate
from quality_gates.shared.contracts.results import GateResult, Status

POLICY = """
data: {label: target, exclude: [grp, key]}
gates:
  fairness:
    sensitive_features: [grp]
    n_resamples: 200
%s
    rules:
      - {metric: demographic_parity_difference, max: 0.1, rationale: equal approval rates}
      - {metric: equalized_odds_difference, max: 0.1, rationale: equal error rates}
"""


@pytest.fixture
def kfp_local(tmp_path):
    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=str(tmp_path / "root"))
    return tmp_path / "root"


def _files(tmp_path, bias):
    rng = np.random.default_rng(0)
    n = 3000
    grp = rng.choice(["a", "b"], n)
    x0 = rng.normal(0, 1, n) + bias * (grp == "b")
    y = (rng.random(n) < 1 / (1 + np.exp(-x0))).astype(int)
    frame = pd.DataFrame({"key": np.arange(n), "x0": x0, "grp": grp, "target": y})
    joblib.dump(LogisticRegression().fit(frame[["x0"]], y), tmp_path / "m.joblib")
    frame.drop(columns=["grp"]).to_csv(tmp_path / "d.csv", index=False)
    frame[["key", "grp"]].to_csv(tmp_path / "s.csv", index=False)
    return str(tmp_path / "m.joblib"), str(tmp_path / "d.csv"), str(tmp_path / "s.csv")


def test_fairness_component_writes_every_output(tmp_path, kfp_local):
    model, data, sens = _files(tmp_path, bias=0.0)
    task = fairness_gate(
        model_uri=model, data_uri=data, policy=POLICY % "    join_key: key", sensitive_data_uri=sens
    )
    assert task.outputs["Output"] is True
    verdict = task.outputs["verdict"]
    result = GateResult.from_json(Path(verdict.path).read_text())
    assert result.status == Status.PASSED
    assert verdict.metadata["status"] == "passed" and "details" not in verdict.metadata
    assert result.inputs.keys() >= {"model", "data", "policy", "sensitive_data"}
    metrics = task.outputs["metrics"].metadata
    assert metrics["demographic_parity_difference__grp"] == pytest.approx(
        result.metrics["demographic_parity_difference__grp"]
    )
    assert metrics["gate_passed"] == 1.0
    html = Path(task.outputs["report"].path).read_text()
    assert "Per-group metrics: grp" in html and "data:image/png;base64," in html
    assert "demographic_parity_difference" in Path(task.outputs["report_md"].path).read_text()


def test_biased_model_fails_and_bad_input_errors(tmp_path, kfp_local):
    model, data, sens = _files(tmp_path, bias=1.5)
    task = fairness_gate(
        model_uri=model, data_uri=data, policy=POLICY % "    join_key: key", sensitive_data_uri=sens
    )
    assert task.outputs["Output"] is False
    result = GateResult.from_json(Path(task.outputs["verdict"].path).read_text())
    assert result.status == Status.FAILED

    # No separate file: the data lacks `grp`, so the gate says so in one line (no crash).
    task = fairness_gate(model_uri=model, data_uri=data, policy=POLICY % "")
    assert task.outputs["Output"] is False
    result = GateResult.from_json(Path(task.outputs["verdict"].path).read_text())
    assert result.status == Status.ERROR and "'grp'" in result.error
