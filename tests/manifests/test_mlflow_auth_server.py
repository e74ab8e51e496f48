"""manifests/mlflow-auth/dev, run for real: the init container's script, the server, the setup Job.

From `kubectl kustomize manifests/mlflow-auth/dev`: the init container's script renders the
ConfigMap's basic_auth.ini (paths moved into a temporary folder), the server container's args
start the real ``mlflow server --app-name basic-auth`` on 127.0.0.1 with that file and the Secret's
keys, and the Job's command (``quality-gates auth setup ...``) grants the permission table as the
configured admin. Only what a laptop cannot provide is swapped: sqlite for PostgreSQL (one file
for tracking and auth tables, as in the cluster one database holds both), a folder for S3,
loopback and a free port.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
KUBECTL = shutil.which("kubectl")
MLFLOW = Path(sys.executable).with_name("mlflow")
STARTUP_TIMEOUT_S = 120.0
ETC, RUN = "/etc/mlflow-auth", "/run/mlflow-auth"

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(KUBECTL is None, reason="kubectl not on PATH: cannot render the overlay"),
    pytest.mark.skipif(not MLFLOW.exists(), reason=f"no mlflow script next to {sys.executable}"),
]


def _render(tmp: Path) -> list[dict]:
    copy = tmp / "manifests"
    shutil.copytree(REPO / "manifests", copy, ignore=shutil.ignore_patterns("*.env"))
    for example in copy.rglob("*.env.example"):
        shutil.copy(example, example.with_suffix(""))
    out = subprocess.run(
        [KUBECTL, "kustomize", str(copy / "mlflow-auth" / "dev")],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout
    return [d for d in yaml.safe_load_all(out) if d]


def _one(docs: list[dict], kind: str, name: str) -> dict:
    (doc,) = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    return doc


def _render_ini(docs: list[dict], tmp: Path, uri: str) -> Path:
    """Run the init container's script, its mount paths moved under ``tmp``."""
    pod = _one(docs, "Deployment", "mlflow")["spec"]["template"]["spec"]
    (init,) = [c for c in pod["initContainers"] if c["name"] == "auth-config"]
    etc, run = tmp / "etc", tmp / "run"
    etc.mkdir(exist_ok=True)
    run.mkdir(exist_ok=True)
    ini = _one(docs, "ConfigMap", "mlflow-auth-config")["data"]["basic_auth.ini"]
    (etc / "basic_auth.ini").write_text(ini)
    script = init["args"][0].replace(ETC, str(etc)).replace(RUN, str(run))
    assert init["command"] == ["python3", "-c"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    subprocess.run(
        [sys.executable, "-c", script],
        env=env | {"MLFLOW_BACKEND_STORE_URI": uri},
        check=True,
        timeout=60,
    )
    return run / "basic_auth.ini"


def test_init_script_keeps_a_percent_encoded_password_intact(tmp_path):
    """configparser interpolates '%': the script escapes it, MLflow reads the URI back exact."""
    docs = _render(tmp_path)
    uri = "postgresql://mlflow:p%40ss%25w0rd@db.example:5432/mlflow?sslmode=require"
    rendered = _render_ini(docs, tmp_path, uri)
    assert oct(rendered.stat().st_mode & 0o777) == "0o600"
    code = (
        "from mlflow.server.auth.config import read_auth_config as r; c = r(); "
        "print(c.database_uri); print(c.default_permission); print(c.admin_username)"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    out = subprocess.run(
        [sys.executable, "-c", code],
        env=env | {"MLFLOW_AUTH_CONFIG_PATH": str(rendered)},
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout.split()
    assert out == [uri, "READ", "admin"]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/health", timeout=5) as resp:  # noqa: S310 - loopback
            return resp.status == 200
    except (urllib.error.URLError, OSError):
        return False


def _server_env(docs: list[dict], container: dict) -> dict[str, str]:
    config = {d["metadata"]["name"]: d.get("data", {}) for d in docs if d["kind"] == "ConfigMap"}
    env = {}
    for item in container["env"]:
        if "value" in item:
            env[item["name"]] = item["value"]
        elif ref := item.get("valueFrom", {}).get("configMapKeyRef"):
            env[item["name"]] = config[ref["name"]][ref["key"]]
    return env


@pytest.fixture(scope="module")
def auth_server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("mlflow-auth-from-manifest")
    docs = _render(tmp)
    (container,) = _one(docs, "Deployment", "mlflow")["spec"]["template"]["spec"]["containers"]
    uri = f"sqlite:///{tmp / 'mlflow.db'}"
    env = _server_env(docs, container)
    env |= {
        "MLFLOW_BACKEND_STORE_URI": uri,
        "MLFLOW_ARTIFACTS_DESTINATION": (tmp / "artifacts").as_uri(),
        "MLFLOW_AUTH_CONFIG_PATH": str(_render_ini(docs, tmp, uri)),
        # What the Secret mlflow-auth holds on a cluster.
        "MLFLOW_AUTH_ADMIN_PASSWORD": f"admin-{os.urandom(8).hex()}",
        "MLFLOW_FLASK_SERVER_SECRET_KEY": os.urandom(16).hex(),
        "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "HOME": str(tmp),
        "TMPDIR": str(tmp),
    }
    env.pop("PGPASSWORD", None)
    port = _free_port()
    args = [
        re.sub(r"\$\(([A-Za-z0-9_]+)\)", lambda m: env[m.group(1)], a) for a in container["args"]
    ]
    args[args.index("--host") + 1] = "127.0.0.1"
    args[args.index("--port") + 1] = str(port)
    args[args.index("--workers") + 1] = "1"
    proc_env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")} | env
    log = (tmp / "server.log").open("w")
    proc = subprocess.Popen(
        [str(MLFLOW), *args],
        env=proc_env,
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=tmp,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while not _healthy(url):
        if proc.poll() is not None or time.monotonic() > deadline:
            os.killpg(proc.pid, signal.SIGKILL)
            pytest.fail(f"mlflow server from the manifest did not start: {tmp / 'server.log'}")
        time.sleep(0.5)
    yield {"url": url, "docs": docs, "admin_password": env["MLFLOW_AUTH_ADMIN_PASSWORD"]}
    # The server's workers share its session: stop the whole group this fixture started.
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=15)
    log.close()


def test_setup_job_grants_the_table_on_the_server_the_manifest_starts(auth_server, monkeypatch):
    from mlflow.server.auth.client import AuthServiceClient

    from quality_gates.shared.cli.main import main
    from quality_gates.shared.governance.permissions import check_permissions

    job = _one(auth_server["docs"], "Job", "quality-gates-auth-setup")
    (container,) = job["spec"]["template"]["spec"]["containers"]
    args = list(container["args"])
    args[args.index("--tracking-uri") + 1] = auth_server["url"]
    env = {e["name"]: e for e in container["env"]}
    # The Job's credentials: the admin user of basic_auth.ini, the Secret's admin password.
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", env["MLFLOW_TRACKING_USERNAME"]["value"])
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", auth_server["admin_password"])
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)

    parsed = dict(zip(args[2::2], args[3::2], strict=True))
    auth = AuthServiceClient(auth_server["url"])
    for user in (parsed["--pipeline-user"], parsed["--approver"]):
        auth.create_user(user, f"{user}-{os.urandom(6).hex()}")  # the site creates the users

    assert container["command"] == ["quality-gates"]
    assert main(args) == 0
    assert main(args) == 0, "a re-run Job must succeed"
    assert not check_permissions(
        tracking_uri=auth_server["url"],
        model=parsed["--model"],
        production_model=parsed["--production-model"],
        pipeline_users=[parsed["--pipeline-user"]],
        approvers=[parsed["--approver"]],
    )
    pipeline_on_production = auth.get_user_permission(
        parsed["--pipeline-user"], "registered_model", parsed["--production-model"]
    )
    assert pipeline_on_production.permission == "READ"
