"""A self-signed, never-ending waiver does not let a failing model through, on a real MLflow.

The attack: the submitter of a run writes a waiver for their own failing check, signs it
themselves and makes it run until 9999-12-31. Neither ``quality-gates check`` nor
``quality-gates run`` may let the model through, and the audit log records the refusal. A
waiver from a listed approver who is not the submitter, for 30 days, still works.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from mlflow import MlflowClient

from quality_gates.components.aggregator.waivers import today_utc
from quality_gates.shared.cli.main import main
from quality_gates.shared.governance import audit

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SUBMITTER = "ci-bot@example.com"
OFFICER = "risk-officer@example.com"
CHECK = "roc_auc >= 0.99"

POLICY = """
data: {{label: target, exclude: [region]}}
gates:
  performance:
    n_resamples: 200
    rules:
      - {{metric: roc_auc, min: 0.99, judge_on: estimate, rationale: must rank}}
approval:
  approvers: [{officer}, {submitter}]
waivers:
  - gate: performance
    check: "{check}"
    until: {until}
    approver: {approver}
    reason: accepted for now
    ticket: RISK-1
"""


def _policy(tmp_path, *, approver: str, until: str):
    path = tmp_path / f"policy-{uuid.uuid4().hex[:6]}.yaml"
    path.write_text(
        POLICY.format(
            officer=OFFICER, submitter=SUBMITTER, check=CHECK, until=until, approver=approver
        ),
        encoding="utf-8",
    )
    return path


def _check(case, policy, *extra) -> int:
    args = ["check", "all", "--model", str(case.model_path), "--data", str(case.data_path)]
    return main([*args, "--policy", str(policy), *extra])


def _run(case, policy, name, uri, out, *extra) -> int:
    return main(
        [
            "run",
            "--model",
            str(case.model_path),
            "--data",
            str(case.data_path),
            "--policy",
            str(policy),
            "--registered-model-name",
            name,
            "--tracking-uri",
            uri,
            "--output-dir",
            str(out),
            *extra,
        ]
    )


def test_self_signed_endless_waiver_is_refused(
    mlflow_env, make_binary, tmp_path, capsys, monkeypatch
):
    weak = make_binary(weak=True)
    policy = _policy(tmp_path, approver=SUBMITTER, until="9999-12-31")
    name = f"waiver-attack-{uuid.uuid4().hex[:8]}"

    # check: the flag, and the QUALITY_GATES_USER fallback, name the submitter.
    assert _check(weak, policy, "--submitted-by", SUBMITTER) == 1
    monkeypatch.setenv("QUALITY_GATES_USER", SUBMITTER.upper())
    assert _check(weak, policy) == 1
    out = capsys.readouterr().out
    assert "refused" in out and "submitted this run" in out

    code = _run(weak, policy, name, mlflow_env, tmp_path / "out")
    out = capsys.readouterr().out
    assert code == 1, out
    assert "not promoted" in out
    # Nothing was registered, let alone staged.
    assert not MlflowClient(mlflow_env).search_model_versions(f"name='{name}'")
    md = (tmp_path / "out" / "scorecard" / "scorecard.md").read_text(encoding="utf-8")
    assert "refused: approver" in md

    records = audit.read(model=name, tracking_uri=mlflow_env)
    refused = [r for r in records if r.get("event") == "waiver_refused"]
    assert len(refused) == 1, [r.get("event") for r in records]
    assert refused[0]["details"]["approver"] == SUBMITTER
    assert refused[0]["details"]["submitted_by"] == SUBMITTER.upper()
    assert "submitted this run" in refused[0]["details"]["refusal"]
    assert not [r for r in records if r.get("event") == "waiver_used"]
    aggregation = [r for r in records if r.get("event") == "aggregation"][-1]
    assert aggregation["details"]["all_passed"] is False


def test_waiver_from_an_independent_listed_approver_still_works(
    mlflow_env, make_binary, tmp_path, capsys
):
    weak = make_binary(weak=True)
    until = (today_utc() + timedelta(days=30)).isoformat()
    policy = _policy(tmp_path, approver=OFFICER, until=until)
    name = f"waiver-ok-{uuid.uuid4().hex[:8]}"

    assert _check(weak, policy, "--submitted-by", SUBMITTER) == 0
    capsys.readouterr()
    code = _run(weak, policy, name, mlflow_env, tmp_path / "out", "--submitted-by", SUBMITTER)
    out = capsys.readouterr().out
    assert code == 0, out
    client = MlflowClient(mlflow_env)
    assert "staging" in client.get_registered_model(name).aliases

    records = audit.read(model=name, tracking_uri=mlflow_env)
    used = [r for r in records if r.get("event") == "waiver_used"]
    assert len(used) == 1
    assert used[0]["actor"] == OFFICER
    assert used[0]["details"]["submitted_by"] == SUBMITTER
    assert not [r for r in records if r.get("event") == "waiver_refused"]
    aggregation = [r for r in records if r.get("event") == "aggregation"][-1]
    assert aggregation["details"]["decision"] == "warned"
