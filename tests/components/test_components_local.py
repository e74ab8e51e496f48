"""Each component run for real through kfp.local (SubprocessRunner, no venv), outputs read back."""

import json
from pathlib import Path

import pytest
from kfp import local

from quality_gates.components.aggregator.component import aggregator
from quality_gates.components.explainability_gate.component import explainability_gate
from quality_gates.components.fairness_gate.component import fairness_gate
from quality_gates.components.performance_gate.component import performance_gate
from quality_gates.components.pii_scan_gate.component import pii_scan_gate
from quality_gates.shared.contracts.results import GateResult, Status
from quality_gates.shared.contracts.scorecard import Scorecard

POLICY = """
data: {label: target, exclude: [region]}
gates:
  performance:
    n_resamples: 200
    rules:
      - {metric: roc_auc, min: %s}
      - {metric: f1, min: 0.3, severity: warn}
"""


@pytest.fixture
def kfp_local(tmp_path):
    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=str(tmp_path / "root"))
    return tmp_path / "root"


def test_performance_gate_component_writes_every_output(binary_case, kfp_local):
    task = performance_gate(
        model_uri=str(binary_case.model_path),
        data_uri=str(binary_case.data_path),
        policy=POLICY % "0.6",
    )
    assert task.outputs["Output"] is True
    verdict = task.outputs["verdict"]
    result = GateResult.from_json(Path(verdict.path).read_text())
    assert result.status == Status.PASSED
    assert verdict.metadata["status"] == "passed"
    assert "details" not in verdict.metadata
    metrics = task.outputs["metrics"].metadata
    assert metrics["roc_auc"] == pytest.approx(result.metrics["roc_auc"])
    assert metrics["gate_passed"] == 1.0
    cm = task.outputs["classification_metrics"].metadata
    assert cm["confusionMatrix"]["rows"] and cm["confidenceMetrics"]
    html = Path(task.outputs["report"].path).read_text()
    assert "roc_auc" in html and "<html" in html.lower()
    assert "roc_auc" in Path(task.outputs["report_md"].path).read_text()


def test_failing_gate_is_an_output_not_a_crash(binary_case, kfp_local):
    task = performance_gate(
        model_uri=str(binary_case.model_path),
        data_uri=str(binary_case.data_path),
        policy=POLICY % "0.999",
    )
    assert task.outputs["Output"] is False
    result = GateResult.from_json(Path(task.outputs["verdict"].path).read_text())
    assert result.status == Status.FAILED


def test_bad_input_component_returns_error_verdict(binary_case, kfp_local, tmp_path):
    task = performance_gate(
        model_uri=str(tmp_path / "missing.joblib"),
        data_uri=str(binary_case.data_path),
        policy=POLICY % "0.6",
    )
    assert task.outputs["Output"] is False
    result = GateResult.from_json(Path(task.outputs["verdict"].path).read_text())
    assert result.status == Status.ERROR and "missing.joblib" in result.error


def test_aggregator_component_passes_and_fails_closed(binary_case, kfp_local, tmp_path):
    from kfp import dsl

    @dsl.pipeline
    def gate_then_aggregate(model_uri: str, data_uri: str, policy: str) -> dsl.Artifact:
        gate = performance_gate(model_uri=model_uri, data_uri=data_uri, policy=policy)
        # Not configured in the policy: the fairness gate reports `skipped`, which is shown
        # on the scorecard but does not decide.
        fair = fairness_gate(model_uri=model_uri, data_uri=data_uri, policy=policy)
        pii = pii_scan_gate(data_uri=data_uri, policy=policy)
        expl = explainability_gate(model_uri=model_uri, data_uri=data_uri, policy=policy)
        return aggregator(
            performance=gate.outputs["verdict"],
            fairness=fair.outputs["verdict"],
            explainability=expl.outputs["verdict"],
            pii=pii.outputs["verdict"],
            policy=policy,
            model_uri=model_uri,
        ).outputs["scorecard"]

    out = gate_then_aggregate(
        model_uri=str(binary_case.model_path),
        data_uri=str(binary_case.data_path),
        policy=POLICY % "0.6",
    )
    card = Scorecard.from_json(Path(out.outputs["Output"].path).read_text())
    assert card.all_passed and card.model_digest == card.results[0].inputs["model"]
    assert [r.status for r in card.results] == [Status.PASSED] + [Status.SKIPPED] * 3
    html = (Path(out.outputs["Output"].path).parent.parent / "aggregator").glob("scorecard_html")
    assert "performance" in next(iter(html)).read_text()

    # A malformed verdict (an artifact that is not a GateResult) must block, not crash.
    bogus = tmp_path / "bogus.json"
    bogus.write_text(json.dumps({"hello": "world"}))

    @dsl.pipeline
    def wiring() -> dsl.Artifact:
        imp = dsl.importer(artifact_uri=str(bogus), artifact_class=dsl.Artifact)
        return aggregator(
            performance=imp.output,
            fairness=imp.output,
            explainability=imp.output,
            pii=imp.output,
            policy=POLICY % "0.6",
        ).outputs["scorecard"]

    bad = wiring()
    card = Scorecard.from_json(Path(bad.outputs["Output"].path).read_text())
    assert not card.all_passed
    assert card.results[0].status == Status.ERROR
    assert "malformed" in card.results[0].error
