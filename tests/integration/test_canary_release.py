"""The registry side of a canary release on a real mlflow server: who moves production, when.

Under ``approval.release: canary`` an approval moves the ``approved`` alias only; the rollout's
outcome moves production (promoted) or leaves it (rolled back, held), and every outcome is in
the audit log, which still reconciles with the registry.
"""

from __future__ import annotations

import importlib.util
import uuid
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
import yaml
from mlflow import MlflowClient
from sklearn.linear_model import LogisticRegression

from quality_gates.shared.contracts.errors import GateInputError
from quality_gates.shared.demo.run import log_sklearn_model
from quality_gates.shared.governance import approval, audit
from quality_gates.shared.governance.reconcile import reconcile
from quality_gates.shared.governance.release import canary_release, record_outcome
from quality_gates.shared.policy.approval import ApprovalPolicy

_spec = importlib.util.spec_from_file_location(
    "evidence_kit", Path(__file__).with_name("evidence_kit.py")
)
kit = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(kit)

pytestmark = pytest.mark.integration

OFFICER = "risk-officer@example.com"
BOT = "canary-rollout@example.com"
POLICY = yaml.safe_dump(
    {
        "approval": {"approvers": [OFFICER], "release": "canary"},
        "release": {
            "canary": {
                "stages": [5, 50, 100],
                "rules": [{"metric": "error_rate", "max_increase": 0.01}],
            }
        },
    }
)


def _world(tmp_path, uri):
    rng = np.random.default_rng(4)
    x = pd.DataFrame(rng.normal(size=(200, 3)), columns=["a", "b", "c"])
    y = (x["a"] + rng.normal(scale=0.5, size=200) > 0).astype(int)
    name = f"canary-{uuid.uuid4().hex[:8]}"
    mlflow.set_tracking_uri(uri)
    with mlflow.start_run() as run:
        log_sklearn_model(LogisticRegression(C=0.05).fit(x, y))
    client = MlflowClient(uri)
    client.create_registered_model(name)
    mv = client.create_model_version(name, f"runs:/{run.info.run_id}/model", run.info.run_id)
    client.set_registered_model_alias(name, "production", mv.version)
    version = kit.stage(tmp_path, LogisticRegression(C=1.0).fit(x, y), name=name, uri=uri,
                        policy_text=POLICY)  # fmt: skip
    return client, name, str(mv.version), version


def _events(uri, name):
    return [r["event"] for r in audit.read(model=name, tracking_uri=uri)]


def test_production_moves_only_when_the_rollout_promotes(mlflow_server, tmp_path):
    uri = mlflow_server
    client, name, stable, version = _world(tmp_path, uri)
    with pytest.raises(GateInputError, match="no approval by a listed approver"):
        canary_release(name, version, uri)  # nothing moves before an approval
    rules = ApprovalPolicy.model_validate(yaml.safe_load(POLICY)["approval"])
    approval.request_approval(name=name, version=version, submitted_by="ci-bot@example.com",
                              tracking_uri=uri, policy=rules)  # fmt: skip
    done = approval.approve(name=name, version=version, approver=OFFICER, comment="canary",
                            tracking_uri=uri)  # fmt: skip
    assert done.alias == "approved"
    aliases = client.get_registered_model(name).aliases
    assert aliases["production"] == stable and aliases["approved"] == version
    evidence = canary_release(name, version, uri)
    assert evidence.policy.release.canary.stages == [5, 50, 100]

    details = {"stages": [{"percent": 5, "decision": "rollback"}], "message": "error_rate"}
    record_outcome(name=name, version=version, outcome="rolled_back", actor=BOT,
                   details=details, tracking_uri=uri)  # fmt: skip
    assert client.get_registered_model(name).aliases["production"] == stable
    record_outcome(name=name, version=version, outcome="promoted", actor=BOT,
                   details={"stages": []}, tracking_uri=uri)  # fmt: skip
    assert client.get_registered_model(name).aliases["production"] == version
    events = _events(uri, name)
    assert events[-2:] == ["canary_rollback", "canary_promotion"] and "approval" in events
    records = audit.read(model=name, tracking_uri=uri)
    assert reconcile(client, name, records) == []  # every alias move has its record
    assert audit.verify_model(model=name, tracking_uri=uri) == []


def test_a_policy_without_a_canary_release_cannot_be_rolled_out(mlflow_server, tmp_path):
    uri = mlflow_server
    direct = yaml.safe_dump({"approval": {"approvers": [OFFICER]}})
    rng = np.random.default_rng(5)
    x = pd.DataFrame(rng.normal(size=(100, 2)), columns=["a", "b"])
    y = (x["a"] > 0).astype(int)
    name = f"direct-{uuid.uuid4().hex[:8]}"
    version = kit.stage(tmp_path, LogisticRegression().fit(x, y), name=name, uri=uri,
                        policy_text=direct)  # fmt: skip
    with pytest.raises(GateInputError, match="without a canary release"):
        record_outcome(name=name, version=version, outcome="promoted", actor=BOT, details={},
                       tracking_uri=uri)  # fmt: skip
    assert "production" not in MlflowClient(uri).get_registered_model(name).aliases
