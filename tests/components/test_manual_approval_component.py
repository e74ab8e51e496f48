"""The manual approval component through kfp.local against a real mlflow server."""

import importlib.util
import json
import threading
import time
import uuid
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
from kfp import dsl, local
from mlflow import MlflowClient
from sklearn.linear_model import LogisticRegression

from quality_gates.components.manual_approval.component import manual_approval
from quality_gates.components.manual_approval.core import approval_policy, run_manual_approval
from quality_gates.components.promote.core import promote_from_scorecard
from quality_gates.shared.contracts.errors import GateInputError
from quality_gates.shared.contracts.scorecard import Scorecard
from quality_gates.shared.governance import approval

pytestmark = pytest.mark.integration

_spec = importlib.util.spec_from_file_location(
    "evidence_kit", Path(__file__).parents[1] / "integration" / "evidence_kit.py"
)
kit = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(kit)

OFFICER = "risk-officer@example.com"
POLICY = """
gates: {}
approval:
  approvers: [risk-officer@example.com]
  timeout_s: %s
  poll_initial_s: 0.2
  poll_max_s: 0.5
"""


@pytest.fixture
def kfp_local(tmp_path):
    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=str(tmp_path / "root"))
    return tmp_path / "root"


@pytest.fixture
def staged(mlflow_server, tmp_path):
    """(name, version, scorecard path): a version promoted to staging after passing the gates."""
    rng = np.random.default_rng(1)
    x = pd.DataFrame(rng.normal(size=(120, 2)), columns=["a", "b"])
    y = (x["a"] > 0).astype(int)
    path = tmp_path / "model.joblib"
    joblib.dump(LogisticRegression().fit(x, y), path)
    name = f"component-{uuid.uuid4().hex[:8]}"
    # Staged the way the pipeline stages: evidence and policy recorded, then promoted.
    card = kit.evaluate(tmp_path, path, name=name, uri=mlflow_server, policy_text=POLICY % 60)
    version = promote_from_scorecard(
        scorecard=card, model_uri=str(path), registered_model_name=name, tracking_uri=mlflow_server
    ).version
    card_path = tmp_path / "scorecard.json"
    card_path.write_text(card.to_json())
    return name, version, card_path


def _pipeline_task(card_path: Path, **kwargs):
    # kfp.local needs an artifact produced by a task: import the scorecard file as one.
    @dsl.pipeline
    def approve_pipeline() -> dsl.Artifact:
        card = dsl.importer(
            artifact_uri=str(card_path), artifact_class=dsl.Artifact, reimport=False
        )
        return manual_approval(scorecard=card.output, **kwargs).outputs["decision"]

    decision = approve_pipeline().output
    return json.loads(Path(decision.path).read_text())


def test_pending_mode_requests_and_returns(mlflow_server, staged, kfp_local):
    name, version, card_path = staged
    decision = _pipeline_task(
        card_path,
        registered_model_name=name,
        version=version,
        policy=POLICY % 60,
        submitted_by="ci-bot@example.com",
        mode="pending",
        mlflow_tracking_uri=mlflow_server,
    )
    assert decision["state"] == "pending" and decision["mode"] == "pending"
    assert decision["submitted_by"] == "ci-bot@example.com"
    tags = MlflowClient(mlflow_server).get_model_version(name, version).tags
    assert tags["quality_gates.approval"] == "pending"
    assert tags["quality_gates.submitted_by"] == "ci-bot@example.com"
    # The out-of-band path: a later approval promotes without any pipeline running.
    done = approval.approve(
        name=name,
        version=version,
        approver=OFFICER,
        comment="ok",
        tracking_uri=mlflow_server,
    )
    assert done.state == "approved"
    aliases = MlflowClient(mlflow_server).get_registered_model(name).aliases
    assert aliases["production"] == version


def test_wait_mode_ends_when_an_approver_decides(mlflow_server, staged, kfp_local):
    name, version, card_path = staged
    client = MlflowClient(mlflow_server)
    errors: list[BaseException] = []

    def approver() -> None:
        try:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                tags = client.get_model_version(name, version).tags
                if tags.get("quality_gates.approval") == "pending":
                    approval.approve(
                        name=name,
                        version=version,
                        approver=OFFICER,
                        comment="looks good",
                        tracking_uri=mlflow_server,
                    )
                    return
                time.sleep(0.2)
        except BaseException as exc:  # noqa: BLE001 - reported by the test thread
            errors.append(exc)

    thread = threading.Thread(target=approver)
    thread.start()
    decision = _pipeline_task(
        card_path,
        registered_model_name=name,
        version=version,
        policy=POLICY % 60,
        submitted_by="ci-bot@example.com",
        mlflow_tracking_uri=mlflow_server,
    )
    thread.join()
    assert not errors, errors
    assert decision["state"] == "approved" and decision["mode"] == "wait"
    assert client.get_registered_model(name).aliases["production"] == version


def test_wait_mode_times_out(mlflow_server, staged, kfp_local):
    name, version, card_path = staged
    decision = _pipeline_task(
        card_path,
        registered_model_name=name,
        version=version,
        policy=POLICY % 1,
        submitted_by="ci-bot@example.com",
        mlflow_tracking_uri=mlflow_server,
    )
    assert decision["state"] == "timed_out"
    tags = MlflowClient(mlflow_server).get_model_version(name, version).tags
    assert tags["quality_gates.approval"] == "timed_out"
    assert "production" not in MlflowClient(mlflow_server).get_registered_model(name).aliases


def test_core_refuses_a_scorecard_of_another_model_and_a_policy_without_approvers(
    mlflow_server, staged
):
    name, version, card_path = staged
    card = Scorecard.from_json(card_path.read_text())
    other = card.model_copy(update={"model_digest": "sha256:" + "1" * 64})
    with pytest.raises(GateInputError, match="records model digest"):
        run_manual_approval(
            scorecard=other,
            registered_model_name=name,
            version=version,
            policy_text=POLICY % 60,
            mode="pending",
            tracking_uri=mlflow_server,
        )
    with pytest.raises(GateInputError, match="no 'approval' section"):
        approval_policy("gates: {}")
    with pytest.raises(GateInputError, match="unknown key 'approval.approver'"):
        approval_policy("approval: {approver: [x]}")
    # A second approval section must not silently replace the first (plain YAML keeps the last).
    twice = "approval:\n  approvers: [risk@example.com]\napproval:\n  approvers: [me@example.com]\n"
    with pytest.raises(GateInputError, match="duplicate key 'approval'"):
        approval_policy(twice)
    with pytest.raises(GateInputError, match="unknown mode"):
        run_manual_approval(
            scorecard=card,
            registered_model_name=name,
            version=version,
            policy_text=POLICY % 60,
            mode="later",
            tracking_uri=mlflow_server,
        )
    tags = MlflowClient(mlflow_server).get_model_version(name, version).tags
    assert "quality_gates.approval" not in tags
