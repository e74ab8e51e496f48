"""The refusal step through kfp.local: it names every blocking gate and fails the run by default."""

from pathlib import Path

import pytest
from kfp import dsl, local
from kfp.dsl import Artifact

from quality_gates.components.aggregator.core import aggregate
from quality_gates.components.refusal.component import refusal
from quality_gates.components.refusal.core import refusal_markdown, refusal_reasons
from quality_gates.shared.contracts.results import GateResult, Status, error_result


def _card(tmp_path: Path) -> Path:
    results = {
        "performance": GateResult(
            gate="performance", status=Status.FAILED, summary="roc_auc 0.61 below min 0.70"
        ),
        "fairness": GateResult(gate="fairness", status=Status.PASSED, summary="all groups ok"),
        "pii": error_result(gate="pii", message="data file eval.parquet does not exist"),
    }
    card = aggregate(results, expected=list(results), model_uri="runs:/abc/model")
    path = tmp_path / "scorecard.json"
    path.write_text(card.to_json(), encoding="utf-8")
    return path


@pytest.fixture
def kfp_local(tmp_path):
    root = tmp_path / "root"
    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=str(root))
    return root


def _pipeline(fail_run: bool):
    @dsl.pipeline(name="refusal-only")
    def refusal_only(scorecard_uri: str) -> str:
        card = dsl.importer(artifact_uri=scorecard_uri, artifact_class=Artifact)
        return refusal(scorecard=card.output, fail_run=fail_run).outputs["Output"]

    return refusal_only


def test_reasons_name_each_blocking_gate_worst_first(tmp_path):
    from quality_gates.components.promote.core import load_scorecard

    card = load_scorecard(_card(tmp_path))
    reasons = refusal_reasons(card)
    assert [r.split(":")[0] for r in reasons] == ["pii", "performance"]
    assert "roc_auc 0.61 below min 0.70" in reasons[1]
    assert "fairness" not in refusal_markdown(card)


def test_refusal_fails_the_run_with_the_reasons_in_its_log(tmp_path, kfp_local, capfd):
    path = _card(tmp_path)
    with pytest.raises(RuntimeError):
        _pipeline(fail_run=True)(scorecard_uri=str(path))
    logs = capfd.readouterr()
    text = logs.out + logs.err
    assert "candidate refused: pii: error" in text
    assert "performance: failed — roc_auc 0.61 below min 0.70" in text
    (reasons,) = kfp_local.glob("*/refusal/reasons")
    assert "# Candidate refused" in reasons.read_text()


def test_fail_run_false_keeps_the_run_green_and_still_records_why(tmp_path, kfp_local):
    path = _card(tmp_path)
    message = _pipeline(fail_run=False)(scorecard_uri=str(path)).output
    assert message.startswith("candidate refused: pii: error")
    (reasons,) = kfp_local.glob("*/refusal/reasons")
    assert "performance: failed" in reasons.read_text()
