"""The explainability component run for real through kfp.local (SubprocessRunner, no venv)."""

from pathlib import Path

import pytest
from kfp import local

from quality_gates.components.explainability_gate.component import explainability_gate
from quality_gates.shared.contracts.results import GateResult, Status

POLICY = """
data: {label: target, exclude: [region]}
gates:
  explainability:
    sampling: {explain_rows: 80, background_rows: 30}
    max_share: {max: %s}
"""


@pytest.fixture
def kfp_local(tmp_path):
    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=str(tmp_path / "root"))
    return tmp_path / "root"


def test_explainability_component_writes_every_output(binary_case, kfp_local):
    task = explainability_gate(
        model_uri=str(binary_case.model_path),
        data_uri=str(binary_case.data_path),
        policy=POLICY % "0.9",
    )
    assert task.outputs["Output"] is True
    verdict = task.outputs["verdict"]
    result = GateResult.from_json(Path(verdict.path).read_text())
    assert result.status == Status.PASSED and result.gate == "explainability"
    assert verdict.metadata["status"] == "passed" and "details" not in verdict.metadata
    metrics = task.outputs["metrics"].metadata
    assert metrics["explained_rows"] == 80.0 and metrics["gate_passed"] == 1.0
    assert "stability_topk_agreement" in metrics
    html = Path(task.outputs["report"].path).read_text()
    assert "data:image/png;base64," in html and "Global importance" in html
    assert "max attribution share" in Path(task.outputs["report_md"].path).read_text()


def test_failing_explainability_gate_is_an_output(binary_case, kfp_local):
    task = explainability_gate(
        model_uri=str(binary_case.model_path),
        data_uri=str(binary_case.data_path),
        policy=POLICY % "0.05",
    )
    assert task.outputs["Output"] is False
    result = GateResult.from_json(Path(task.outputs["verdict"].path).read_text())
    assert result.status == Status.FAILED
