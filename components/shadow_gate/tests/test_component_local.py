"""The shadow gate's KFP component run for real through kfp.local (SubprocessRunner, no venv)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from kfp import local

from quality_gates.components.shadow_gate.component import shadow_gate
from quality_gates.shared.contracts.results import GateResult, Status


@pytest.fixture
def kfp_local(tmp_path):
    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=str(tmp_path / "root"))
    return tmp_path / "root"


def test_the_component_refuses_the_east_flips_and_writes_every_output(traffic, kfp_local):
    task = shadow_gate(
        model_uri=str(traffic.candidate_path),
        request_log_uri=str(traffic.log_path),
        policy=traffic.policy(segment_flip_rate={"max": 0.1}, max_flip_rate={"max": 0.25}),
    )
    assert task.outputs["Output"] is False
    verdict = task.outputs["verdict"]
    result = GateResult.from_json(Path(verdict.path).read_text())
    assert result.status == Status.FAILED and verdict.metadata["status"] == "failed"
    assert [c.name for c in result.checks if c.status == Status.FAILED] == [
        "flip rate, segment region=East <= 0.1"
    ]
    metrics = task.outputs["metrics"].metadata
    assert metrics["flip_rate"] == pytest.approx(result.metrics["flip_rate"])
    assert metrics["n_requests"] == len(traffic.log) and metrics["unmatched"] == 0
    assert metrics["flip_rate.region.East"] > 0.1 and metrics["gate_passed"] == 0.0
    html = Path(task.outputs["report"].path).read_text()
    assert "Flip rate per segment" in html and "East" in html
    assert "flip rate" in Path(task.outputs["report_md"].path).read_text()
    json.loads(Path(verdict.path).read_text())


def test_the_component_passes_production_itself_and_errors_without_a_log(traffic, kfp_local):
    policy = traffic.policy(segment_flip_rate={"max": 0.05})
    same = shadow_gate(
        model_uri=str(traffic.production_path),
        request_log_uri=str(traffic.log_path),
        policy=policy,
    )
    assert same.outputs["Output"] is True
    none = shadow_gate(model_uri=str(traffic.production_path), policy=policy)
    assert none.outputs["Output"] is False
    result = GateResult.from_json(Path(none.outputs["verdict"].path).read_text())
    assert result.status == Status.ERROR and "request log" in result.error
