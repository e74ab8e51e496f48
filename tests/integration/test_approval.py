"""Manual approval, production promotion, rollback and the audit log on a real mlflow server."""

from __future__ import annotations

import importlib.util
import json
import logging
import sys
import threading
import time
import uuid
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient
from sklearn.linear_model import LogisticRegression

from quality_gates.shared.contracts.errors import GateInputError
from quality_gates.shared.demo.run import log_sklearn_model
from quality_gates.shared.governance import approval, audit
from quality_gates.shared.policy.approval import ApprovalPolicy

_spec = importlib.util.spec_from_file_location(
    "evidence_kit", Path(__file__).with_name("evidence_kit.py")
)
kit = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(kit)

pytestmark = pytest.mark.integration

OFFICER = "risk-officer@example.com"
SECOND = "cro@example.com"
SUBMITTER = "ci-bot@example.com"
FEATURES = ["a", "b", "c"]


def _conftest():
    # The session server fixture's helpers, reused to run a server we can stop and restart.
    path = Path(__file__).resolve().parents[1] / "conftest.py"
    spec = importlib.util.spec_from_file_location("qg_tests_conftest", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(spec.name, module)  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    x = pd.DataFrame(rng.normal(size=(200, 3)), columns=FEATURES)
    y = (x["a"] + rng.normal(scale=0.5, size=200) > 0).astype(int)
    return x, y


@pytest.fixture
def policy(tmp_path) -> ApprovalPolicy:
    return ApprovalPolicy(
        approvers=[OFFICER, SECOND, SUBMITTER.upper()],
        poll_initial_s=0.2,
        poll_max_s=0.5,
        timeout_s=60,
        audit_mirror=str(tmp_path / "mirror"),
    )


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _staged(tmp_path: Path, data, name: str, c: float, uri: str, policy: ApprovalPolicy) -> str:
    """A version that passed the gates, staged the way the pipeline does (evidence, records)."""
    x, y = data
    return kit.stage(
        tmp_path,
        LogisticRegression(C=c).fit(x, y),
        name=name,
        uri=uri,
        policy_text=kit.policy_yaml(policy),
    )


def _champion(uri: str, name: str, data) -> str:
    """A production model registered by hand, before quality gates existed (as in the demo)."""
    x, y = data
    mlflow.set_tracking_uri(uri)
    with mlflow.start_run() as run:
        log_sklearn_model(LogisticRegression(C=0.05).fit(x, y))
    client = MlflowClient(uri)
    client.create_registered_model(name)
    mv = client.create_model_version(name, f"runs:/{run.info.run_id}/model", run.info.run_id)
    client.set_registered_model_alias(name, "production", mv.version)
    return str(mv.version)


def _snapshot(client: MlflowClient, name: str) -> tuple:
    registered = client.get_registered_model(name)
    versions = client.search_model_versions(f"name = '{name}'")
    return (
        sorted((mv.version, tuple(sorted(mv.tags.items()))) for mv in versions),
        dict(registered.aliases),
        dict(registered.tags),
    )


DECISIONS = ("approval_requested", "approval", "rejection", "rollback", "timeout")


def _events(uri: str, name: str) -> list[tuple[str, str | None]]:
    """The decision records (the gates' own records are left out)."""
    return [
        (r["event"], r["version"])
        for r in audit.read(model=name, tracking_uri=uri)
        if r["event"] in DECISIONS
    ]


# --------------------------------------------------------------------------------------------


def test_approve_to_production_rollback_to_champion_and_audit(
    mlflow_server, data, policy, tmp_path
):
    uri, client, name = mlflow_server, MlflowClient(mlflow_server), _name("approve")
    champion = _champion(uri, name, data)
    candidate = _staged(tmp_path, data, name, 1.0, uri, policy)

    requested = approval.request_approval(
        name=name, version=candidate, submitted_by=SUBMITTER, tracking_uri=uri, policy=policy
    )
    assert requested.state == "pending" and requested.audit_seq > 1
    report = approval.status(name=name, tracking_uri=uri)
    assert report["pending"] == [candidate] and report["production"] == champion
    assert report["versions"][0]["gates"] == {"fairness": "passed", "performance": "passed"}
    assert "pending approval: v2" in approval.format_status(report)

    done = approval.approve(
        name=name,
        version=candidate,
        approver=OFFICER,
        comment="reviewed the scorecard",
        tracking_uri=uri,
    )
    assert (done.state, done.alias, done.previous_version) == ("approved", "production", champion)
    assert client.get_registered_model(name).aliases == {
        "production": candidate,
        "staging": candidate,
    }
    tags = client.get_model_version(name, candidate).tags
    assert tags["quality_gates.approval"] == "approved"
    assert tags["quality_gates.approver"] == OFFICER
    assert tags["quality_gates.approval_comment"] == "reviewed the scorecard"
    assert tags["quality_gates.approved_at"] == done.at
    assert tags["quality_gates.previous_production"] == champion
    assert "quality_gates.decision_lock" not in client.get_registered_model(name).tags

    # One command restores the champion (it held production before; it has no digest tags).
    back = approval.rollback(
        name=name, reason="alerts on live traffic", actor=SECOND, tracking_uri=uri
    )
    assert (back.from_version, back.to_version, back.digest_verified) == (
        candidate,
        champion,
        False,
    )
    assert client.get_registered_model(name).aliases["production"] == champion
    assert client.get_model_version(name, candidate).tags["quality_gates.rolled_back"] == "true"

    # Nothing earlier to go back to: refused, registry unchanged.
    before = _snapshot(client, name)
    with pytest.raises(GateInputError, match="no earlier approved version"):
        approval.rollback(name=name, reason="again", actor=SECOND, tracking_uri=uri)
    assert _snapshot(client, name) == before

    assert _events(uri, name) == [
        ("approval_requested", candidate),
        ("approval", candidate),
        ("rollback", champion),
    ]
    all_records = audit.read(model=name, tracking_uri=uri)
    records = [r for r in all_records if r["event"] in DECISIONS]
    assert records[1]["actor"] == OFFICER and records[1]["details"]["previous_version"] == champion
    assert records[1]["details"]["authenticated"] is False  # no authentication on this server
    assert records[2]["details"]["reason"] == "alerts on live traffic"
    assert audit.verify_model(model=name, tracking_uri=uri, mirror=policy.audit_mirror) == []
    assert "approval" in audit.render(records)

    # Any changed byte in the mirror or in the MLflow copy is detected and located.
    mirror_file = Path(audit.mirror_location(policy.audit_mirror, name))
    text = mirror_file.read_text()
    mirror_file.write_text(text.replace("reviewed the scorecard", "reviewed the scorecarD"))
    problems = audit.verify_model(model=name, tracking_uri=uri, mirror=policy.audit_mirror)
    seq = records[1]["seq"]
    assert any(p.startswith(f"mirror: record seq {seq}") and "edited" in p for p in problems)
    lines = text.splitlines()
    k = seq - 1  # the approval's line
    run_id = audit._RUNS[(uri, name)]
    client.log_text(run_id, "\n".join(lines[:k] + lines[k + 1 :]) + "\n", audit.artifact_path(name))
    problems = _verify_stored(uri, name)
    assert problems == [f"record seq {seq} missing between seq {seq - 1} and {seq + 1}: removed"]
    swapped = lines[:k] + [lines[k + 1], lines[k]] + lines[k + 2 :]
    client.log_text(run_id, "\n".join(swapped) + "\n", audit.artifact_path(name))
    assert _verify_stored(uri, name) == [
        f"record seq {seq} (line {k + 2}) comes after record seq {seq + 1}: records reordered"
    ]


def _verify_stored(uri, name):
    records = audit.read(model=name, tracking_uri=uri)
    return audit.verify(records, head=audit.head(model=name, tracking_uri=uri))


def test_reject_and_rollback_between_approved_versions(mlflow_server, data, policy, tmp_path):
    uri, client, name = mlflow_server, MlflowClient(mlflow_server), _name("reject")
    kw = dict(tracking_uri=uri, policy=policy)
    dk = dict(tracking_uri=uri)  # decisions take their authority from the recorded policy
    v1 = _staged(tmp_path, data, name, 1.0, uri, policy)
    approval.request_approval(name=name, version=v1, submitted_by=SUBMITTER, **kw)
    approval.approve(name=name, version=v1, approver=OFFICER, comment="first", **dk)
    v2 = _staged(tmp_path, data, name, 0.5, uri, policy)
    approval.request_approval(name=name, version=v2, submitted_by=SUBMITTER, **kw)
    approval.approve(name=name, version=v2, approver=SECOND, comment="second", **dk)
    v3 = _staged(tmp_path, data, name, 0.2, uri, policy)
    approval.request_approval(name=name, version=v3, submitted_by=SUBMITTER, **kw)

    rejected = approval.reject(name=name, version=v3, approver=OFFICER, comment="too risky", **dk)
    assert rejected.state == "rejected"
    tags = client.get_model_version(name, v3).tags
    assert tags["quality_gates.approval"] == "rejected"
    assert tags["quality_gates.rejected_by"] == OFFICER
    assert tags["quality_gates.rejection_comment"] == "too risky"
    aliases = client.get_registered_model(name).aliases
    assert aliases == {"production": v2, "staging": v3}
    # A decided version: the wait ends at once; approving it now is refused with who and when.
    assert approval.wait_for_decision(name=name, version=v3, **kw) == "rejected"
    before = _snapshot(client, name)
    with pytest.raises(GateInputError, match=f"already rejected by {OFFICER} at "):
        approval.approve(name=name, version=v3, approver=SECOND, comment="override", **dk)
    assert _snapshot(client, name) == before

    back = approval.rollback(name=name, reason="latency", actor=OFFICER, **dk)
    assert (back.from_version, back.to_version, back.digest_verified) == (v2, v1, True)
    assert client.get_registered_model(name).aliases["production"] == v1
    assert audit.verify_model(model=name, tracking_uri=uri, mirror=policy.audit_mirror) == []


def test_every_refusal_is_one_line_and_changes_nothing(mlflow_server, data, policy, tmp_path):
    uri, client, name = mlflow_server, MlflowClient(mlflow_server), _name("refuse")
    kw = dict(tracking_uri=uri, policy=policy)
    dk = dict(tracking_uri=uri)  # decisions take their authority from the recorded policy
    good = _staged(tmp_path, data, name, 1.0, uri, policy)
    never = _staged(tmp_path, data, name, 0.3, uri, policy)
    approval.request_approval(name=name, version=good, submitted_by=SUBMITTER, **kw)
    # A version whose gates did not all pass, and one whose bytes changed after the gates ran
    # (states that promote() itself never writes; reached here by editing the tags).
    bad_gates = _staged(tmp_path, data, name, 0.1, uri, policy)
    approval.request_approval(name=name, version=bad_gates, submitted_by=SUBMITTER, **kw)
    client.set_model_version_tag(name, bad_gates, "quality_gates.gate.fairness", "failed")
    events = _events(uri, name)

    cases = [
        (dict(version=good, approver="intern@example.com"), "may not approve: not on the approver"),
        (dict(version=good, approver="ci-bot@EXAMPLE.com"), "submitted the bytes of .* cannot"),
        (dict(version=good, approver=OFFICER, comment=" "), "needs a comment"),
        (dict(version=never, approver=OFFICER), "never submitted for approval"),
        (dict(version=bad_gates, approver=OFFICER), r"not every gate passed \(fairness=failed\)"),
        (
            dict(version=good, approver=OFFICER, policy_text="approval: {approvers: [x]}\n"),
            "is not the one .* was gated under",
        ),
        (dict(version="99", approver=OFFICER), "version 99 not found"),
    ]
    before = _snapshot(client, name)
    for overrides, phrase in cases:
        args = dict(name=name, comment="ok", **dk) | overrides
        with pytest.raises(GateInputError, match=phrase) as info:
            approval.approve(**args)
        assert "\n" not in str(info.value)
        assert _snapshot(client, name) == before, phrase
    with pytest.raises(GateInputError, match="may not reject"):
        approval.reject(name=name, version=good, approver="intern", comment="no", **dk)
    with pytest.raises(GateInputError, match="nothing to roll back"):
        approval.rollback(name=name, reason="r", actor=OFFICER, **dk)
    assert _snapshot(client, name) == before
    assert _events(uri, name) == events

    # The gates-failed version is refused on its gate tag; the good one is still approvable.
    assert (
        approval.approve(name=name, version=good, approver=OFFICER, comment="ok", **dk).state
        == "approved"
    )


def test_two_approvals_racing_on_one_version(mlflow_server, data, policy, tmp_path):
    uri, client, name = mlflow_server, MlflowClient(mlflow_server), _name("race")
    kw = dict(tracking_uri=uri, policy=policy)
    dk = dict(tracking_uri=uri)  # decisions take their authority from the recorded policy
    version = _staged(tmp_path, data, name, 1.0, uri, policy)
    approval.request_approval(name=name, version=version, submitted_by=SUBMITTER, **kw)
    barrier = threading.Barrier(2)
    outcomes: dict[str, object] = {}

    def attempt(who: str) -> None:
        barrier.wait()
        try:
            outcomes[who] = approval.approve(
                name=name, version=version, approver=who, comment=f"by {who}", **dk
            )
        except GateInputError as exc:
            outcomes[who] = exc

    threads = [threading.Thread(target=attempt, args=(w,)) for w in (OFFICER, SECOND)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    won = [w for w, o in outcomes.items() if isinstance(o, approval.Decision)]
    lost = [w for w, o in outcomes.items() if isinstance(o, GateInputError)]
    assert len(won) == 1 and len(lost) == 1, outcomes
    assert f"already approved by {won[0]}" in str(outcomes[lost[0]])
    tags = client.get_model_version(name, version).tags
    assert tags["quality_gates.approver"] == won[0]
    assert tags["quality_gates.approval_comment"] == f"by {won[0]}"
    registered = client.get_registered_model(name)
    assert registered.aliases["production"] == version
    assert "quality_gates.decision_lock" not in registered.tags
    assert [e for e in _events(uri, name) if e[0] == "approval"] == [("approval", version)]
    assert audit.verify_model(model=name, tracking_uri=uri) == []


def test_timeout_is_recorded(mlflow_server, data, policy, tmp_path):
    uri, client, name = mlflow_server, MlflowClient(mlflow_server), _name("timeout")
    version = _staged(tmp_path, data, name, 1.0, uri, policy)
    short = policy.model_copy(
        update={"timeout_s": 100.0, "poll_initial_s": 5.0, "poll_max_s": 30.0}
    )
    approval.request_approval(
        name=name, version=version, submitted_by=SUBMITTER, tracking_uri=uri, policy=short
    )
    now, slept = [0.0], []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    state = approval.wait_for_decision(
        name=name,
        version=version,
        tracking_uri=uri,
        policy=short,
        sleep=sleep,
        clock=lambda: now[0],
    )
    assert state == "timed_out"
    assert slept == [5.0, 10.0, 20.0, 30.0, 30.0, 5.0]  # backoff, capped, last one to the deadline
    tags = client.get_model_version(name, version).tags
    assert tags["quality_gates.approval"] == "timed_out" and tags["quality_gates.timed_out_at"]
    assert client.get_registered_model(name).aliases == {"staging": version}
    assert _events(uri, name)[-1] == ("timeout", version)
    # A timed-out request can still be approved out of band.
    done = approval.approve(
        name=name, version=version, approver=OFFICER, comment="late", tracking_uri=uri
    )
    assert done.state == "approved"


def test_wait_survives_a_server_restart(tmp_path, data, policy, caplog):
    helpers = _conftest()
    command = helpers._mlflow_command()
    if command is None:
        pytest.skip("mlflow executable not installed")
    root = tmp_path / "server"
    root.mkdir()
    port = helpers._free_port()
    uri = f"http://127.0.0.1:{port}"

    def start():
        proc, log = helpers._start(command, root, port)
        deadline = time.monotonic() + helpers.STARTUP_TIMEOUT_S
        while time.monotonic() < deadline and proc.poll() is None and not helpers._healthy(uri):
            time.sleep(0.2)
        if not helpers._healthy(uri):
            helpers._stop(proc)
            pytest.fail(f"mlflow server did not start:\n{helpers._log_tail(log)}")
        return proc

    proc = start()
    try:
        name = _name("restart")
        version = _staged(tmp_path, data, name, 1.0, uri, policy)
        approval.request_approval(
            name=name, version=version, submitted_by=SUBMITTER, tracking_uri=uri, policy=policy
        )
        result: list[str] = []
        caplog.set_level(logging.WARNING, logger="quality_gates.shared.governance.approval")
        waiter = threading.Thread(
            target=lambda: result.append(
                approval.wait_for_decision(
                    name=name, version=version, tracking_uri=uri, policy=policy
                )
            )
        )
        waiter.start()
        time.sleep(0.5)
        helpers._stop(proc)
        time.sleep(1.5)  # several polls fail while the server is down
        assert waiter.is_alive() and not result
        proc = start()  # same port, same sqlite file
        approval.approve(
            name=name,
            version=version,
            approver=OFFICER,
            comment="after restart",
            tracking_uri=uri,
        )
        waiter.join(timeout=30)
        assert result == ["approved"]
        assert any("unreachable" in r.getMessage() for r in caplog.records)
        assert any("reachable again" in r.getMessage() for r in caplog.records)
        assert MlflowClient(uri).get_registered_model(name).aliases["production"] == version
    finally:
        helpers._stop(proc)


def test_status_and_identity(monkeypatch, mlflow_server):
    monkeypatch.setenv("QUALITY_GATES_USER", "env-user")
    assert approval.resolve_identity("  flag-user ") == ("flag-user", "flag")
    assert approval.resolve_identity(None) == ("env-user", "QUALITY_GATES_USER")
    monkeypatch.delenv("QUALITY_GATES_USER")
    who, source = approval.resolve_identity("")
    assert who and source == "OS user"
    with pytest.raises(GateInputError, match="not found"):
        approval.status(name=_name("missing"), tracking_uri=mlflow_server)
    assert json.dumps(audit.read(model=_name("none"), tracking_uri=mlflow_server)) == "[]"


def test_concurrent_audit_appends_all_land_in_one_intact_chain(mlflow_server, tmp_path):
    name, mirror = _name("audit-race"), str(tmp_path / "mirror")
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def writer(i: int) -> None:
        barrier.wait()
        try:
            audit.append(
                model=name,
                event="gate_result",
                actor=f"writer-{i}",
                details={"i": i},
                tracking_uri=mlflow_server,
                mirror=mirror,
            )
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    records = audit.read(model=name, tracking_uri=mlflow_server)
    assert sorted(r["details"]["i"] for r in records) == [0, 1, 2, 3]
    assert [r["seq"] for r in records] == [1, 2, 3, 4]
    assert audit.verify_model(model=name, tracking_uri=mlflow_server, mirror=mirror) == []
