"""The permission table on a real ``mlflow server --app-name basic-auth``: who may move production.

Each test acts as one user at a time (``MLFLOW_TRACKING_USERNAME``/``PASSWORD``) against the
session's auth server; refusals are the server's own PERMISSION_DENIED.
"""

from __future__ import annotations

import uuid
from contextlib import contextmanager
from dataclasses import dataclass

import pytest
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from quality_gates.shared.cli.main import main
from quality_gates.shared.contracts.errors import GateInputError
from quality_gates.shared.governance.audit import EXPERIMENT as AUDIT
from quality_gates.shared.governance.permissions import (
    check_permissions,
    evaluation_experiment,
    setup_permissions,
)

pytestmark = pytest.mark.integration


@dataclass
class Setup:
    url: str
    model: str
    production: str
    pipeline: str
    approver: str
    passwords: dict[str, str]


@pytest.fixture
def setup(mlflow_auth_server, monkeypatch) -> Setup:
    tag = uuid.uuid4().hex[:8]
    pipeline, approver = f"qg-pipeline-{tag}", f"approver-{tag}"
    passwords = {u: mlflow_auth_server.add_user(u) for u in (pipeline, approver)}
    passwords[mlflow_auth_server.admin] = mlflow_auth_server.admin_password
    s = Setup(
        url=mlflow_auth_server.url,
        model=f"credit-{tag}",
        production=f"credit-{tag}-production",
        pipeline=pipeline,
        approver=approver,
        passwords=passwords,
    )
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    _act_as(monkeypatch, s, mlflow_auth_server.admin)
    return s


def _act_as(monkeypatch, s: Setup, user: str) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", user)
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", s.passwords[user])


def _run_setup(s: Setup) -> list[str]:
    return setup_permissions(
        tracking_uri=s.url,
        model=s.model,
        production_model=s.production,
        pipeline_users=[s.pipeline],
        approvers=[s.approver],
    )


def _check(s: Setup) -> list[str]:
    return check_permissions(
        tracking_uri=s.url,
        model=s.model,
        production_model=s.production,
        pipeline_users=[s.pipeline],
        approvers=[s.approver],
    )


@contextmanager
def _denied():
    with pytest.raises(MlflowException) as info:
        yield
    assert info.value.error_code == "PERMISSION_DENIED", info.value


def _stage_a_version(client: MlflowClient, s: Setup) -> str:
    """As the pipeline: an evaluation run in its experiment, a version of the gated model."""
    experiment = client.get_experiment_by_name(evaluation_experiment(s.model)).experiment_id
    run = client.create_run(experiment)
    mv = client.create_model_version(
        s.model, source=f"{run.info.artifact_uri}/model", run_id=run.info.run_id
    )
    return str(mv.version)


def test_pipeline_stages_but_cannot_touch_production(setup, monkeypatch):
    lines = _run_setup(setup)
    assert f"granted: {setup.pipeline} EDIT on registered model '{setup.model}'" in lines
    assert not [line for line in lines if setup.passwords[setup.pipeline] in line]

    _act_as(monkeypatch, setup, setup.pipeline)
    client = MlflowClient(setup.url)
    version = _stage_a_version(client, setup)
    client.set_registered_model_alias(setup.model, "staging", version)
    assert client.get_registered_model(setup.model).aliases["staging"] == version
    # The audit log is appendable by the pipeline.
    client.create_run(client.get_experiment_by_name(AUDIT).experiment_id)

    # Production is readable, never writable: no version, no alias, no tag, no rename.
    assert client.get_registered_model(setup.production).name == setup.production
    with _denied():
        client.create_model_version(setup.production, source=f"models:/{setup.model}/{version}")
    with _denied():
        client.set_registered_model_alias(setup.production, "production", "1")
    with _denied():
        client.set_registered_model_tag(setup.production, "quality_gates.note", "forged")
    with _denied():
        client.rename_registered_model(setup.production, f"{setup.production}-x")


def test_approver_moves_production(setup, monkeypatch):
    _run_setup(setup)
    _act_as(monkeypatch, setup, setup.pipeline)
    version = _stage_a_version(MlflowClient(setup.url), setup)

    _act_as(monkeypatch, setup, setup.approver)
    client = MlflowClient(setup.url)
    copied = client.copy_model_version(f"models:/{setup.model}/{version}", setup.production)
    client.set_registered_model_alias(setup.production, "production", str(copied.version))
    assert client.get_registered_model(setup.production).aliases == {
        "production": str(copied.version)
    }
    client.create_run(client.get_experiment_by_name(AUDIT).experiment_id)
    # Approval records its decision on the gated version too (tags, decision lease).
    client.set_model_version_tag(setup.model, version, "quality_gates.approval", "approved")


def test_second_setup_changes_nothing_and_check_is_clean(setup):
    first = _run_setup(setup)
    assert f"created: registered model '{setup.production}'" in first
    second = _run_setup(setup)
    assert [line for line in second if line.startswith(("granted", "changed", "created"))] == []
    assert sum(line.startswith("unchanged:") for line in second) == 7
    assert _check(setup) == []


def test_check_finds_a_wrong_edit_and_setup_repairs_it(setup):
    _run_setup(setup)
    # Setup wrote direct grants; a second grant on the same resource is refused, so replace.
    from mlflow.server.auth.client import AuthServiceClient

    auth = AuthServiceClient(setup.url)
    for user, perm in ((setup.pipeline, "EDIT"), (setup.approver, "READ")):
        auth.revoke_user_permission(user, "registered_model", setup.production)
        auth.grant_user_permission(user, "registered_model", setup.production, perm)
    problems = _check(setup)
    assert any(
        f"pipeline user {setup.pipeline} has EDIT on the production model" in p for p in problems
    ), problems
    assert any(f"approver {setup.approver} lacks EDIT" in p for p in problems), problems

    lines = _run_setup(setup)
    assert f"changed: {setup.pipeline} EDIT -> READ on registered model '{setup.production}'" in (
        lines
    )
    assert _check(setup) == []


def test_a_production_model_the_pipeline_created_is_taken_back(setup, monkeypatch):
    """Ownership gives MANAGE: a production model the pipeline made first must not stay its own."""
    _act_as(monkeypatch, setup, setup.pipeline)
    MlflowClient(setup.url).create_registered_model(setup.production)
    _act_as(monkeypatch, setup, "admin")
    assert any("has MANAGE on the production model" in p for p in _check(setup))
    lines = _run_setup(setup)
    assert any(line.startswith(f"changed: {setup.pipeline} MANAGE -> READ") for line in lines)
    assert _check(setup) == []


def test_refusals_are_one_line(setup, monkeypatch, mlflow_server):
    with pytest.raises(GateInputError, match="do not exist"):
        setup_permissions(
            tracking_uri=setup.url,
            model=setup.model,
            production_model=setup.production,
            pipeline_users=["nobody-" + uuid.uuid4().hex[:6]],
            approvers=[setup.approver],
        )
    _act_as(monkeypatch, setup, setup.pipeline)
    with pytest.raises(GateInputError, match="is not an MLflow admin"):
        _run_setup(setup)
    with pytest.raises(GateInputError, match="no authentication app"):
        setup_permissions(
            tracking_uri=mlflow_server,
            model=setup.model,
            production_model=setup.production,
            pipeline_users=[setup.pipeline],
            approvers=[setup.approver],
        )
    with pytest.raises(GateInputError, match="pipeline user and approver"):
        setup_permissions(
            tracking_uri=setup.url,
            model=setup.model,
            production_model=setup.production,
            pipeline_users=[setup.pipeline],
            approvers=[setup.pipeline],
        )


def test_cli_setup_and_check(setup, mlflow_auth_server, capsys):
    argv = [
        "--model",
        setup.model,
        "--pipeline-user",
        setup.pipeline,
        "--approver",
        setup.approver,
        "--tracking-uri",
        setup.url,
    ]
    assert main(["auth", "setup", *argv]) == 0
    output = capsys.readouterr().out
    assert f"created: registered model '{setup.model}-production'" in output
    assert all(pw not in output for pw in setup.passwords.values())
    assert main(["auth", "check", *argv]) == 0
    capsys.readouterr()

    from mlflow.server.auth.client import AuthServiceClient

    auth = AuthServiceClient(setup.url)
    auth.revoke_user_permission(setup.pipeline, "registered_model", f"{setup.model}-production")
    auth.grant_user_permission(
        setup.pipeline, "registered_model", f"{setup.model}-production", "MANAGE"
    )
    assert main(["auth", "check", *argv]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines == [
        f"problem: pipeline user {setup.pipeline} has MANAGE on the production model "
        f"registered model '{setup.model}-production': it could move production"
    ]
