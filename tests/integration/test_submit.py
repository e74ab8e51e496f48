"""``quality-gates submit`` against a stand-in for the KFP v2beta1 API on 127.0.0.1.

The client side is the real one: the CLI, the kfp compiler and ``kfp.Client`` with its generated
``kfp_server_api`` HTTP client. Only the server is a stand-in (tests/integration/kfp_standin.py),
which keeps what it received so the tests can check what a real server would have been sent.
"""

from __future__ import annotations

import hashlib
import importlib.util
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from quality_gates.pipelines.compile import REPO_ROOT
from quality_gates.shared.cli.main import main
from quality_gates.shared.contracts.versions import PACKAGE_VERSION

_spec = importlib.util.spec_from_file_location(
    "kfp_standin", Path(__file__).with_name("kfp_standin.py")
)
kfp_standin = importlib.util.module_from_spec(_spec)
sys.modules.setdefault("kfp_standin", kfp_standin)
_spec.loader.exec_module(kfp_standin)
KfpStandIn = kfp_standin.KfpStandIn

TOKEN = "tok-9f8e7d6c5b4a-never-print-me"
# The tasks of a run in which the candidate was promoted: what `--wait` reads to exit 0.
PROMOTED = {"aggregate scorecard": "SUCCEEDED", "promote to staging": "SUCCEEDED"}
POLICY = REPO_ROOT / "shared" / "demo" / "policies" / "demo.yaml"


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch, tmp_path):
    # kfp.Client reads ~/.config/kfp/context.json (namespace, cookie): keep the user's out.
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    for name in ("KFP_HOST", "KFP_TOKEN", "KF_PIPELINES_ENDPOINT", "KF_PIPELINES_UI_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("QUALITY_GATES_IMAGE_REGISTRY", raising=False)


@pytest.fixture
def server():
    with KfpStandIn(token=TOKEN) as standin:
        yield standin


@pytest.fixture(scope="module")
def fresh_yaml(tmp_path_factory) -> str:
    """The gated-promotion pipeline compiled here, to compare with what was uploaded."""
    from quality_gates.shared.kfp_glue.submit import compile_pipeline

    mp = pytest.MonkeyPatch()
    mp.delenv("QUALITY_GATES_IMAGE_REGISTRY", raising=False)
    try:
        return compile_pipeline(tmp_path_factory.mktemp("compiled")).path.read_text()
    finally:
        mp.undo()


def _argv(host: str, *extra: str, auth: tuple[str, ...] = ("--token", TOKEN)) -> list[str]:
    return [
        "submit",
        "--host",
        host,
        *auth,
        "--model-uri",
        "models:/credit-risk/7",
        "--data-uri",
        "s3://bucket/eval.parquet",
        "--policy",
        str(POLICY),
        "--registered-model-name",
        "credit-risk",
        "--poll-interval",
        "0.02",
        *extra,
    ]


def _submit(capsys, argv: list[str]) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def _one_error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected one line on stderr, got: {err!r}"
    assert lines[0].startswith("error: ")
    return lines[0]


def _free_closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# ---------------------------------------------------------------------------- upload and run


def test_submit_uploads_the_pipeline_and_starts_a_run_with_the_exact_parameters(
    server, capsys, fresh_yaml
):
    code, out, err = _submit(
        capsys,
        _argv(
            server.url,
            "--experiment",
            "credit-risk-gates",
            "--run-name",
            "gate credit-risk v7",
            "--param",
            "sensitive_data_uri=s3://bucket/sensitive.parquet",
            "--param",
            "approval_mode=wait",
            "--param",
            "mlflow_secret_name=team-a-mlflow",
        ),
    )
    assert code == 0, err

    # The uploaded YAML is the compiled gated_promotion pipeline, versioned by its digest.
    (pipeline,) = server.pipelines.values()
    assert pipeline["display_name"] == "quality-gates-gated-promotion"
    (version,) = server.versions.values()
    digest = hashlib.sha256(fresh_yaml.encode()).hexdigest()
    assert version["display_name"] == f"{PACKAGE_VERSION}-{digest[:12]}"
    assert server.uploads[version["pipeline_version_id"]] == fresh_yaml
    assert version["pipeline_spec"]["pipeline_spec"]["pipelineInfo"]["name"] == (
        "quality-gates-gated-promotion"
    )

    (experiment,) = server.experiments.values()
    assert experiment["display_name"] == "credit-risk-gates"
    (run,) = server.runs.values()
    assert run["display_name"] == "gate credit-risk v7"
    assert run["experiment_id"] == experiment["experiment_id"]
    assert run["pipeline_version_reference"] == {
        "pipeline_id": pipeline["pipeline_id"],
        "pipeline_version_id": version["pipeline_version_id"],
    }
    assert run["runtime_config"]["parameters"] == {
        "model_uri": "models:/credit-risk/7",
        "data_uri": "s3://bucket/eval.parquet",
        "policy": POLICY.read_text(encoding="utf-8"),
        "registered_model_name": "credit-risk",
        "sensitive_data_uri": "s3://bucket/sensitive.parquet",
        "approval_mode": "wait",
        "mlflow_secret_name": "team-a-mlflow",
    }

    assert f"run: {run['run_id']}" in out
    assert f"url: {server.url}/#/runs/details/{run['run_id']}" in out
    assert TOKEN not in out + err
    # Every request carried the bearer token (the stand-in answers 401 otherwise).
    assert server.requests
    assert all(r.headers.get("authorization") == f"Bearer {TOKEN}" for r in server.requests)


def test_second_submit_of_the_same_yaml_reuses_the_version(server, capsys):
    first = _submit(capsys, _argv(server.url))
    second = _submit(capsys, _argv(server.url, "--run-name", "again"))
    assert first[0] == second[0] == 0
    assert len(server.calls("POST", "/pipelines/upload_version")) == 1
    assert len(server.versions) == 1 and len(server.pipelines) == 1
    assert "(uploaded)" in first[1]
    assert "reused" in second[1]
    refs = [r["pipeline_version_reference"] for r in server.runs.values()]
    assert len(refs) == 2 and refs[0] == refs[1]
    # The experiment exists after the first submit and is found, not created again.
    assert len(server.calls("POST", "/experiments")) == 1


def test_named_version_adds_a_version_to_the_existing_pipeline(server, capsys):
    assert _submit(capsys, _argv(server.url, "--pipeline-name", "gates", "--version", "v1"))[0] == 0
    assert _submit(capsys, _argv(server.url, "--pipeline-name", "gates", "--version", "v2"))[0] == 0
    (pipeline,) = server.pipelines.values()
    assert pipeline["display_name"] == "gates"
    assert sorted(v["display_name"] for v in server.versions.values()) == ["v1", "v2"]


def test_package_submits_a_given_yaml_as_is(server, capsys, tmp_path):
    committed = REPO_ROOT / "pipelines" / "compiled" / "gated_promotion.yaml"
    code, _, err = _submit(capsys, _argv(server.url, "--package", str(committed)))
    assert code == 0, err
    (version,) = server.versions.values()
    digest = hashlib.sha256(committed.read_bytes()).hexdigest()
    assert version["display_name"] == f"{PACKAGE_VERSION}-{digest[:12]}"
    assert server.uploads[version["pipeline_version_id"]] == committed.read_text()

    not_a_pipeline = tmp_path / "policy.yaml"
    not_a_pipeline.write_text(POLICY.read_text())
    code, _, err = _submit(capsys, _argv(server.url, "--package", str(not_a_pipeline)))
    assert code == 2
    assert "not a compiled KFP pipeline" in _one_error_line(err)


def test_default_run_name_is_pipeline_name_and_utc_time(server, capsys):
    assert _submit(capsys, _argv(server.url))[0] == 0
    (run,) = server.runs.values()
    prefix = "quality-gates-gated-promotion-"
    assert run["display_name"].startswith(prefix)
    stamp = run["display_name"][len(prefix) :]
    assert len(stamp) == len("20250101-120000") and stamp.replace("-", "").isdigit()


# ---------------------------------------------------------------------------- authentication


@pytest.mark.parametrize(
    "auth",
    [("--token", "wrong-token-value"), ()],
    ids=["wrong-token", "no-token"],
)
def test_refused_credentials_exit_2_in_one_line_without_the_token(server, capsys, auth):
    code, out, err = _submit(capsys, _argv(server.url, auth=auth))
    assert code == 2
    line = _one_error_line(err)
    assert "401" in line and "--token" in line
    assert "wrong-token-value" not in out + err
    assert TOKEN not in out + err
    assert not server.runs and not server.versions


def test_credentials_refused_after_an_open_healthz_exit_2_in_one_line(capsys):
    # healthz answers without credentials; the first protected call (finding the pipeline) fails.
    with KfpStandIn(token=TOKEN, public_healthz=True) as server:
        code, out, err = _submit(capsys, _argv(server.url, auth=("--token", "expired-token")))
        assert code == 2
        line = _one_error_line(err)
        assert "401" in line and "uploading pipeline" in line
        assert "expired-token" not in out + err
        assert not server.runs


def test_token_from_kfp_token_environment(server, capsys, monkeypatch):
    monkeypatch.setenv("KFP_TOKEN", TOKEN)
    code, out, err = _submit(capsys, _argv(server.url, auth=()))
    assert code == 0, err
    assert len(server.runs) == 1
    assert TOKEN not in out + err


def test_token_file_is_read_again_so_a_rotated_token_keeps_working(capsys, tmp_path):
    token_file = tmp_path / "token"
    token_file.write_text("sa-token-1\n")
    with KfpStandIn(token="sa-token-1") as server:
        server.script_run("PENDING", "RUNNING", "RUNNING", "SUCCEEDED", tasks=PROMOTED)

        def rotate(run_id: str, gets: int) -> None:
            # The kubelet rotates a projected token: the file and the server change together.
            if gets == 2:
                token_file.write_text("sa-token-2\n")
                server.token = "sa-token-2"

        server.on_get_run = rotate
        code, out, err = _submit(
            capsys,
            _argv(server.url, "--wait", "--timeout", "60", auth=("--token-file", str(token_file))),
        )
        assert code == 0, err
        assert "SUCCEEDED" in out
        bearers = {r.headers.get("authorization") for r in server.requests}
        assert bearers == {"Bearer sa-token-1", "Bearer sa-token-2"}
        assert "sa-token-1" not in out + err and "sa-token-2" not in out + err


def test_missing_token_file_exit_2_before_any_request(server, capsys, tmp_path):
    code, _, err = _submit(capsys, _argv(server.url, auth=("--token-file", str(tmp_path / "nope"))))
    assert code == 2
    assert "token file" in _one_error_line(err)
    assert not server.requests


def test_session_cookie(capsys):
    cookie = "authservice_session=MTcwMDAwMDAwMHxzZXNzaW9u"
    with KfpStandIn(cookie=cookie) as server:
        code, out, err = _submit(capsys, _argv(server.url, auth=("--cookie", cookie)))
        assert code == 0, err
        assert len(server.runs) == 1
        assert all(cookie in r.headers.get("cookie", "") for r in server.requests)
        assert "MTcwMDAwMDAwMHxzZXNzaW9u" not in out + err

        code, out, err = _submit(
            capsys, _argv(server.url, auth=("--cookie", "authservice_session=stale"))
        )
        assert code == 2
        assert "401" in _one_error_line(err)
        assert "stale" not in out + err


def test_two_credential_sources_are_refused(server, capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("KFP_TOKEN", TOKEN)
    code, out, err = _submit(capsys, _argv(server.url, auth=("--cookie", "a=b")))
    assert code == 2
    line = _one_error_line(err)
    assert "--cookie" in line and "KFP_TOKEN" in line
    assert TOKEN not in out + err
    assert not server.requests


def test_multi_user_kfp_needs_a_namespace(capsys):
    with KfpStandIn(token=TOKEN, multi_user=True) as server:
        code, _, err = _submit(capsys, _argv(server.url))
        assert code == 2
        assert "--namespace" in _one_error_line(err)
        assert not server.runs

        code, _, err = _submit(capsys, _argv(server.url, "--namespace", "team-a"))
        assert code == 0, err
        (experiment,) = server.experiments.values()
        assert experiment["namespace"] == "team-a"


# ---------------------------------------------------------------------------- --wait


@pytest.mark.parametrize(
    ("states", "expected"),
    [
        (("PENDING", "RUNNING", "SUCCEEDED"), 0),
        (("PENDING", "RUNNING", "FAILED"), 1),
        (("RUNNING", "CANCELING", "CANCELED"), 1),
    ],
    ids=["succeeded", "failed", "canceled"],
)
def test_wait_exits_with_the_run_outcome(server, capsys, states, expected):
    tasks = PROMOTED if states[-1] == "SUCCEEDED" else {}
    server.script_run(
        *states, failed_tasks=("performance gate", "aggregate scorecard"), tasks=tasks
    )
    # The timeout only bounds a broken loop (a state it does not treat as final); never hit.
    code, out, err = _submit(capsys, _argv(server.url, "--wait", "--timeout", "60"))
    assert code == expected, err
    assert f"result: run {next(iter(server.runs))} {states[-1]}" in out
    for state in states:
        assert f"state: {state}" in err
    if states[-1] == "FAILED":
        assert "failed tasks: performance gate, aggregate scorecard" in out
        assert "scorecard, ok" not in out  # the task that succeeded is not named


def test_wait_exits_1_for_a_refused_candidate(server, capsys):
    """The default pipeline: the refusal task fails the run; submit names the refusal."""
    server.script_run(
        "RUNNING",
        "FAILED",
        failed_tasks=("candidate refused",),
        tasks={"aggregate scorecard": "SUCCEEDED", "performance gate": "SUCCEEDED"},
    )
    code, out, _ = _submit(capsys, _argv(server.url, "--wait", "--timeout", "60"))
    assert code == 1
    assert "candidate refused by the gates" in out
    assert "failed tasks: candidate refused" in out


def test_wait_exits_1_for_a_refused_candidate_in_a_green_run(server, capsys):
    """fail_on_refusal=false: the run SUCCEEDED, but the refusal branch ran, so exit 1."""
    server.script_run(
        "RUNNING",
        "SUCCEEDED",
        tasks={"aggregate scorecard": "SUCCEEDED", "candidate refused": "SUCCEEDED"},
    )
    code, out, _ = _submit(capsys, _argv(server.url, "--wait", "--timeout", "60"))
    assert code == 1
    assert "SUCCEEDED; candidate refused by the gates" in out


def test_wait_exits_0_only_with_a_succeeded_promote_task(server, capsys):
    """A green run whose tasks say nothing about promotion is not a promotion."""
    server.script_run("RUNNING", "SUCCEEDED", tasks={"aggregate scorecard": "SUCCEEDED"})
    code, out, _ = _submit(capsys, _argv(server.url, "--wait", "--timeout", "60"))
    assert code == 1
    assert "not promoted (no 'promote to staging' task succeeded)" in out
    server.script_run("RUNNING", "SUCCEEDED", tasks=PROMOTED)
    code, out, _ = _submit(capsys, _argv(server.url, "--wait", "--timeout", "60"))
    assert code == 0
    assert "candidate promoted to staging" in out


def test_wait_timeout_exits_3_and_leaves_the_run_alone(server, capsys):
    server.script_run("PENDING", "RUNNING")  # never finishes
    code, out, err = _submit(capsys, _argv(server.url, "--wait", "--timeout", "0.2"))
    assert code == 3
    assert "timeout:" in err and "still RUNNING" in err
    assert not server.calls("POST", ":terminate")
    assert len(server.calls("GET", f"/runs/{next(iter(server.runs))}")) >= 2


# ---------------------------------------------------------------------------- bad input


def test_unknown_param_exit_2_naming_it_before_any_request(server, capsys):
    code, _, err = _submit(capsys, _argv(server.url, "--param", "approvel_mode=wait"))
    assert code == 2
    line = _one_error_line(err)
    assert "approvel_mode" in line and "approval_mode" in line  # names it and the accepted keys
    assert not server.requests


def test_param_for_a_dedicated_flag_is_refused(server, capsys):
    code, _, err = _submit(capsys, _argv(server.url, "--param", "model_uri=x"))
    assert code == 2
    assert "--model-uri" in _one_error_line(err)


def test_unreachable_host_exit_2_in_one_line(capsys):
    host = f"http://127.0.0.1:{_free_closed_port()}"
    code, out, err = _submit(capsys, _argv(host))
    assert code == 2
    line = _one_error_line(err)
    assert "unreachable" in line and host in line
    assert TOKEN not in out + err


def test_host_that_is_not_a_kfp_api_exit_2(capsys):
    # A plain web page where the API should be (a login page, a wrong path).
    with KfpStandIn() as server:
        code, _, err = _submit(capsys, _argv(server.url + "/not-kfp", auth=()))
    assert code == 2
    assert "404" in _one_error_line(err)


def test_missing_host_exit_2(capsys):
    argv = _argv("")
    argv.remove("--host")
    argv.remove("")
    code, _, err = _submit(capsys, argv)
    assert code == 2
    assert "KFP_HOST" in _one_error_line(err)


# ---------------------------------------------------------------------------- the real command


def test_console_script_submits_and_waits(server, tmp_path):
    """The installed ``quality-gates`` entry point, in its own process, end to end."""
    server.script_run("PENDING", "SUCCEEDED", tasks=PROMOTED)
    script = Path(sys.executable).with_name("quality-gates")
    cmd = [str(script)] if script.exists() else [sys.executable, "-m", "quality_gates.shared.cli"]
    env = {"PATH": str(Path(sys.executable).parent), "HOME": str(tmp_path), "KFP_TOKEN": TOKEN}
    done = subprocess.run(
        [*cmd, *_argv(server.url, "--wait", "--timeout", "60", auth=())],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "SUCCEEDED" in done.stdout
    assert TOKEN not in done.stdout + done.stderr
    help_text = subprocess.run(
        [*cmd, "submit", "--help"], capture_output=True, text=True, env=env, check=True
    ).stdout
    for code in ("0 ", "1 ", "2 ", "3 "):
        assert f"\n  {code}" in help_text


def test_uploaded_yaml_carries_the_secret_wiring(server, capsys):
    """What reaches the cluster maps the MLflow Secret, by name only, for the MLflow tasks."""
    assert _submit(capsys, _argv(server.url))[0] == 0
    (text,) = server.uploads.values()
    docs = [d for d in yaml.safe_load_all(text) if d]
    executors = docs[1]["platforms"]["kubernetes"]["deploymentSpec"]["executors"]
    assert "exec-promote" in executors and "secretAsEnv" in executors["exec-promote"]
