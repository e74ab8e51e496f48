"""The approval and audit attacks of issue 13, each against a real ``mlflow server`` on loopback.

Each test plays an insider with registry write access (the identity the pipeline runs as) and
checks that the attack no longer gets a model into production, or is detected by
``quality-gates audit verify``. Identity attacks run against MLflow's own authentication app.
"""

from __future__ import annotations

import importlib.util
import json
import threading
import uuid
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient
from sklearn.linear_model import LogisticRegression

from quality_gates.shared.cli.main import main
from quality_gates.shared.contracts.errors import GateInputError
from quality_gates.shared.gates.runner import check
from quality_gates.shared.governance import approval, audit, signing
from quality_gates.shared.io.models import model_digest
from quality_gates.shared.policy.approval import ApprovalPolicy

pytestmark = pytest.mark.integration

_spec = importlib.util.spec_from_file_location(
    "evidence_kit", Path(__file__).with_name("evidence_kit.py")
)
kit = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(kit)

OFFICER = "risk-officer@example.com"
SECOND = "cro@example.com"
BOT = "ci-bot@example.com"
CHAMPION_POLICY = """
data: {{label: y}}
gates:
  performance:
    rules: [{{metric: accuracy, min: 0.5}}]
    champion: {{alias: production, rules: [{{metric: accuracy, margin: 0.2}}]}}
approval: {{approvers: [officer], production_model: "{name}-production"}}
"""
RULES = ApprovalPolicy(approvers=[OFFICER, SECOND], poll_initial_s=0.2, poll_max_s=0.5)


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(1)
    x = pd.DataFrame(rng.normal(size=(200, 3)), columns=["a", "b", "c"])
    y = (x["a"] + rng.normal(scale=0.5, size=200) > 0).astype(int)
    return x, y


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _fit(data, c: float = 1.0):
    x, y = data
    return LogisticRegression(C=c).fit(x, y)


def _pending(tmp_path, data, name, uri, *, c=1.0, rules=RULES, submitter=BOT) -> str:
    version = kit.stage(
        tmp_path, _fit(data, c), name=name, uri=uri, policy_text=kit.policy_yaml(rules)
    )
    approval.request_approval(
        name=name, version=version, submitted_by=submitter, tracking_uri=uri, policy=rules
    )
    return version


def _cli(capsys, *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_a_policy_of_ones_own_is_refused_with_both_digests(mlflow_env, data, tmp_path, capsys):
    uri, name = mlflow_env, _name("own-policy")
    version = _pending(tmp_path, data, name, uri)
    mine = tmp_path / "my-own.yaml"
    mine.write_text("approval:\n  approvers: [anyone@example.com]\n", encoding="utf-8")
    code, text = _cli(
        capsys,
        "approve", "--model", name, "--version", version, "--policy", str(mine),
        "--as", "anyone@example.com", "--comment", "mine", "--tracking-uri", uri,
    )  # fmt: skip
    assert code == 2
    assert "is not the one" in text and text.count("sha256:") >= 2
    # Without --policy the recorded allow-list decides: still refused.
    code, text = _cli(
        capsys,
        "approve", "--model", name, "--version", version, "--as", "anyone@example.com",
        "--comment", "mine", "--tracking-uri", uri,
    )  # fmt: skip
    assert code == 2 and "may not approve" in text
    assert "production" not in MlflowClient(uri).get_registered_model(name).aliases
    # The recorded approver may, and the record says nobody authenticated them.
    code, text = _cli(
        capsys,
        "approve", "--model", name, "--version", version, "--as", OFFICER,
        "--comment", "reviewed", "--tracking-uri", uri,
    )  # fmt: skip
    assert code == 0, text
    assert "NOT authenticated" in text
    record = [r for r in audit.read(model=name, tracking_uri=uri) if r["event"] == "approval"][-1]
    assert record["details"]["authenticated"] is False
    report = approval.status(name=name, tracking_uri=uri)
    assert "(unauthenticated)" in approval.format_status(report)


def test_artifact_swap_with_a_matching_tag_is_refused(mlflow_env, data, tmp_path):
    uri, name = mlflow_env, _name("swap")
    client = MlflowClient(uri)
    version = _pending(tmp_path, data, name, uri)
    # The insider overwrites the registered model's files through the artifact API and sets the
    # digest tag to the new bytes.
    mv = client.get_model_version(name, version)
    model_id = mv.model_id or mv.source.removeprefix("models:/")
    other = tmp_path / "other"
    import mlflow.sklearn

    from quality_gates.shared.demo.run import log_sklearn_model  # noqa: F401 - same packaging

    mlflow.sklearn.save_model(_fit(data, 0.01), str(other))
    client.log_model_artifacts(model_id, str(other))
    swapped = model_digest(f"models:/{name}/{version}", tracking_uri=uri)
    client.set_model_version_tag(name, version, "quality_gates.artifact_digest", swapped)
    client.set_model_version_tag(name, version, "quality_gates.model_digest", swapped)
    with pytest.raises(GateInputError, match="differ from those registered"):
        approval.approve(
            name=name, version=version, approver=OFFICER, comment="ok", tracking_uri=uri
        )
    assert "production" not in client.get_registered_model(name).aliases


def _signed(monkeypatch, tmp_path) -> Path:
    private, public, _ = signing.generate(tmp_path / "keys")
    monkeypatch.setenv(signing.KEY_ENV, str(private))
    monkeypatch.delenv(signing.PUBLIC_KEYS_ENV, raising=False)
    return public


def test_a_consistent_rewrite_without_the_key_is_detected(
    mlflow_env, data, tmp_path, monkeypatch, capsys
):
    uri, name = mlflow_env, _name("rewrite")
    public = _signed(monkeypatch, tmp_path)
    version = _pending(tmp_path, data, name, uri)
    code, text = _cli(capsys, "audit", "verify", "--model", name, "--public-key", str(public))
    assert code == 0 and "every record signed by a trusted key" in text, text
    # The insider (no key) drops the approval request, re-hashes the rest and moves the head.
    records = [r for r in audit.read(model=name, tracking_uri=uri)]
    kept = [r for r in records if r["event"] != "approval_requested"]
    prev, lines = audit.GENESIS, []
    for seq, r in enumerate(kept, start=1):
        forged = audit.make_record(
            seq=seq, prev_sha256=prev, model=name, event=r["event"], version=r["version"],
            actor=r["actor"], details=r["details"], ts=r["ts"],
        )  # fmt: skip
        prev = forged["sha256"]
        lines.append(json.dumps(forged, sort_keys=True, separators=(",", ":")))
    client = MlflowClient(uri)
    run_id = audit._RUNS[(uri, name)]
    client.log_text(run_id, "\n".join(lines) + "\n", audit.artifact_path(name))
    client.set_tag(run_id, audit.HEAD_TAG, f"{len(kept)}:{prev}")
    monkeypatch.delenv(signing.KEY_ENV)
    # Without keys the chain looks intact, and verify says it did not check signatures...
    code, text = _cli(capsys, "audit", "verify", "--model", name)
    assert "signatures NOT checked" in text or code == 1
    # ...with the trusted key, every forged record is named.
    code, text = _cli(capsys, "audit", "verify", "--model", name, "--public-key", str(public))
    assert code == 1 and "unsigned: written or rewritten without a trusted signing key" in text
    monkeypatch.setenv(signing.PUBLIC_KEYS_ENV, str(public))
    with pytest.raises(GateInputError, match="does not verify"):
        approval.approve(
            name=name, version=version, approver=OFFICER, comment="ok", tracking_uri=uri
        )


def test_deleted_and_planted_audit_runs_are_detected(mlflow_env, data, tmp_path, capsys):
    uri, client = mlflow_env, MlflowClient(mlflow_env)
    planted_name, deleted_name = _name("planted"), _name("deleted")
    v_planted = _pending(tmp_path, data, planted_name, uri)
    _pending(tmp_path, data, deleted_name, uri)
    # A planted log that starts earlier, claiming another approver and history.
    exp = client.get_experiment_by_name(audit.EXPERIMENT)
    run = client.create_run(exp.experiment_id, start_time=1, tags={audit.MODEL_TAG: planted_name})
    fake = audit.make_record(
        seq=1, prev_sha256=audit.GENESIS, model=planted_name, event="promotion"
    )
    client.log_text(run.info.run_id, json.dumps(fake) + "\n", audit.artifact_path(planted_name))
    audit._reset_cache()
    code, text = _cli(capsys, "audit", "verify", "--model", planted_name)
    assert code == 1 and "2 audit runs" in text and run.info.run_id in text
    with pytest.raises(GateInputError, match="2 audit runs"):
        approval.approve(
            name=planted_name, version=v_planted, approver=OFFICER, comment="ok", tracking_uri=uri
        )
    # Deleting the log: verify says so, and approval has nothing to decide on.
    client.delete_run(audit._RUNS.get((uri, deleted_name)) or audit._audit_run(
        client, deleted_name, tracking=uri, create=False
    ))  # fmt: skip
    audit._reset_cache()
    code, text = _cli(capsys, "audit", "verify", "--model", deleted_name)
    assert code == 1 and "was deleted" in text


def test_an_alias_moved_without_a_record_is_detected(mlflow_env, data, tmp_path, capsys):
    uri, client, name = mlflow_env, MlflowClient(mlflow_env), _name("alias")
    version = _pending(tmp_path, data, name, uri)
    code, text = _cli(capsys, "audit", "verify", "--model", name)
    assert code == 0, text
    # Production set straight through the registry (or a crash before the record was written).
    client.set_registered_model_alias(name, "production", version)
    code, text = _cli(capsys, "audit", "verify", "--model", name)
    assert code == 1 and "moved without a record" in text
    # Approval tags written by hand are named too.
    client.set_model_version_tag(name, version, "quality_gates.approval", "approved")
    code, text = _cli(capsys, "audit", "verify", "--model", name)
    assert "no approval of it" in text


def test_identical_bytes_registered_concurrently_get_one_version(mlflow_env, data, tmp_path):
    uri, name = mlflow_env, _name("twice")
    path = kit.save(tmp_path, _fit(data))
    text = kit.policy_yaml(RULES)
    cards = [kit.evaluate(tmp_path, path, name=name, uri=uri, policy_text=text) for _ in "ab"]
    versions: list[str] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def run(card) -> None:
        from quality_gates.components.promote.core import promote_from_scorecard

        barrier.wait()
        try:
            versions.append(
                promote_from_scorecard(
                    scorecard=card, model_uri=str(path), registered_model_name=name,
                    tracking_uri=uri,
                ).version
            )  # fmt: skip
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(c,)) for c in cards]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert len(set(versions)) == 1
    assert len(MlflowClient(uri).search_model_versions(f"name = '{name}'")) == 1
    # Both submitters of those bytes are on record: neither may approve them.
    version = versions[0]
    for who in (OFFICER, BOT):
        approval.request_approval(
            name=name, version=version, submitted_by=who, tracking_uri=uri, policy=RULES
        )
    with pytest.raises(GateInputError, match="submitted the bytes"):
        approval.approve(
            name=name, version=version, approver=OFFICER, comment="ok", tracking_uri=uri
        )
    done = approval.approve(
        name=name, version=version, approver=SECOND, comment="ok", tracking_uri=uri
    )
    assert done.state == "approved"


def test_a_later_failing_evaluation_revokes_and_blocks(mlflow_env, data, tmp_path):
    uri, client, name = mlflow_env, MlflowClient(mlflow_env), _name("revoke")
    text = kit.policy_yaml(RULES)
    path = kit.save(tmp_path, _fit(data))
    card = kit.evaluate(tmp_path, path, name=name, uri=uri, policy_text=text)
    from quality_gates.components.promote.core import promote_from_scorecard

    version = promote_from_scorecard(
        scorecard=card, model_uri=str(path), registered_model_name=name, tracking_uri=uri
    ).version
    approval.request_approval(
        name=name, version=version, submitted_by=BOT, tracking_uri=uri, policy=RULES
    )
    # The same bytes fail a later run (e.g. the PII gate): staging goes, approval is blocked.
    failed = kit.evaluate(tmp_path, path, name=name, uri=uri, policy_text=text, passed=False)
    assert not failed.all_passed
    assert "staging" not in client.get_registered_model(name).aliases
    report = approval.status(name=name, tracking_uri=uri)
    assert "revoked: latest evaluation failed" in approval.format_status(report)
    with pytest.raises(GateInputError, match="later evaluation of its bytes was failed"):
        approval.approve(
            name=name, version=version, approver=OFFICER, comment="ok", tracking_uri=uri
        )
    # A passing evaluation of the same bytes lifts the block.
    again = kit.evaluate(tmp_path, path, name=name, uri=uri, policy_text=text)
    promote_from_scorecard(
        scorecard=again, model_uri=str(path), registered_model_name=name, tracking_uri=uri
    )
    approval.approve(name=name, version=version, approver=OFFICER, comment="ok", tracking_uri=uri)
    tags = client.get_model_version(name, version).tags
    decided_on = tags["quality_gates.evaluation_run_id"]
    # Re-running the approved bytes keeps the evidence it was approved on; the new run is beside.
    third = kit.evaluate(tmp_path, path, name=name, uri=uri, policy_text=text)
    promote_from_scorecard(
        scorecard=third, model_uri=str(path), registered_model_name=name, tracking_uri=uri
    )
    tags = client.get_model_version(name, version).tags
    assert tags["quality_gates.evaluation_run_id"] == decided_on
    assert tags["quality_gates.latest_evaluation_run_id"] == third.evaluation_run_id
    assert tags["quality_gates.approver"] == OFFICER


# --------------------------------------------------------------------------------------------
# Identity: MLflow's authentication app
# --------------------------------------------------------------------------------------------


def _as(monkeypatch, user: str, password: str) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", user)
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", password)


def test_identity_is_the_one_the_server_authenticated(
    mlflow_auth_server, monkeypatch, data, tmp_path, capsys
):
    server = mlflow_auth_server
    uri, name = server.url, _name("auth")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    audit._reset_cache()
    pipe, officer, mallory = "qg-pipeline", "officer", "mallory"
    passwords = {u: server.add_user(u) for u in (pipe, officer, mallory)}
    rules = ApprovalPolicy(
        approvers=[officer], production_model="{name}-production", poll_initial_s=0.2
    )
    # The administrator creates the production model; only the approver may edit it.
    _as(monkeypatch, server.admin, server.admin_password)
    admin = MlflowClient(uri)
    admin.create_registered_model(f"{name}-production")
    server.grant(officer, "registered_model", f"{name}-production", "EDIT")
    found = admin.get_experiment_by_name(audit.EXPERIMENT)
    exp = found.experiment_id if found else admin.create_experiment(audit.EXPERIMENT)
    for user in (pipe, officer):
        server.grant(user, "experiment", exp, "EDIT")
    # The pipeline stages a candidate (it owns the gated model and the experiments it creates).
    _as(monkeypatch, pipe, passwords[pipe])
    version = _pending(tmp_path, data, name, uri, rules=rules, submitter=pipe)
    server.grant(officer, "registered_model", name, "EDIT")
    # The pipeline's identity cannot move production, whatever it calls.
    with pytest.raises(Exception) as denied:
        MlflowClient(uri).set_registered_model_alias(f"{name}-production", "production", "1")
    assert "PERMISSION_DENIED" in str(denied.value) or "403" in str(denied.value)
    # Mallory, authenticated as herself, claims to be the officer: refused.
    _as(monkeypatch, mallory, passwords[mallory])
    code, text = _cli(
        capsys,
        "approve", "--model", name, "--version", version, "--as", officer,
        "--comment", "me", "--tracking-uri", uri,
    )  # fmt: skip
    assert code == 2 and "is not who the MLflow server authenticated ('mallory')" in text
    # A wrong password is named as such, never echoed.
    _as(monkeypatch, officer, "wrong-password")
    code, text = _cli(
        capsys, "approve", "--model", name, "--version", version, "--comment", "x",
        "--tracking-uri", uri,
    )  # fmt: skip
    assert code == 2 and "refused the credentials" in text and "wrong-password" not in text
    # The officer, authenticated: production moves on the production model, recorded as such.
    _as(monkeypatch, officer, passwords[officer])
    code, text = _cli(
        capsys, "approve", "--model", name, "--version", version, "--comment", "reviewed",
        "--tracking-uri", uri,
    )  # fmt: skip
    assert code == 0, text
    assert "authenticated by the MLflow server" in text
    client = MlflowClient(uri)
    assert client.get_registered_model(f"{name}-production").aliases == {"production": "1"}
    assert "production" not in client.get_registered_model(name).aliases
    record = [r for r in audit.read(model=name, tracking_uri=uri) if r["event"] == "approval"][-1]
    assert (record["actor"], record["details"]["authenticated"]) == (officer, True)
    report = approval.status(name=name, tracking_uri=uri)
    assert report["production"] == version and report["production_model"] == f"{name}-production"
    code, text = _cli(capsys, "audit", "verify", "--model", name, "--tracking-uri", uri)
    assert code == 0, text
    # The gates compare the next candidate with the champion on the production model.
    x, y = data
    frame = x.assign(y=y.to_numpy())
    frame.to_csv(tmp_path / "eval.csv", index=False)
    candidate = kit.save(tmp_path, _fit(data, 0.5))
    result = check(
        "performance",
        model_uri=str(candidate),
        data_uri=str(tmp_path / "eval.csv"),
        policy_text=CHAMPION_POLICY.format(name=name),
        tracking_uri=uri,
        registered_model_name=name,
    )
    assert result.status.value != "error", result.error
    champion_digest = model_digest(f"models:/{name}-production/1", tracking_uri=uri)
    assert result.inputs.get("champion_model") == champion_digest
