"""The rendered MLflow Deployment's command really starts MLflow and accepts in-cluster callers.

The container's args and environment are taken from `kubectl kustomize manifests/overlays/dev`,
``$(VAR)`` references expanded the way the kubelet does, and run with the real ``mlflow server``
on 127.0.0.1. Only what a laptop cannot provide is swapped: sqlite for PostgreSQL, a folder for
S3, loopback and a free port for 0.0.0.0:5000, one worker for two. MLflow 3 checks the Host
header, so the test also proves that calls to the Service name pass and other hosts are refused.
"""

from __future__ import annotations

import os
import re
import shutil
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
STARTUP_TIMEOUT_S = 90.0

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(KUBECTL is None, reason="kubectl not on PATH: cannot render the overlay"),
    pytest.mark.skipif(not MLFLOW.exists(), reason=f"no mlflow script next to {sys.executable}"),
]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _rendered_dev(tmp_path: Path) -> list[dict]:
    copy = tmp_path / "manifests"
    shutil.copytree(REPO / "manifests", copy, ignore=shutil.ignore_patterns("*.env"))
    for example in copy.rglob("*.env.example"):
        shutil.copy(example, example.with_suffix(""))
    out = subprocess.run(
        [KUBECTL, "kustomize", str(copy / "overlays" / "dev")],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout
    return [d for d in yaml.safe_load_all(out) if d]


def _container_env(docs: list[dict], container: dict) -> dict[str, str]:
    """Values of the container's env: literal values and ConfigMap keys; Secrets are left out."""
    config = {d["metadata"]["name"]: d.get("data", {}) for d in docs if d["kind"] == "ConfigMap"}
    env = {}
    for item in container["env"]:
        if "value" in item:
            env[item["name"]] = item["value"]
        elif ref := item.get("valueFrom", {}).get("configMapKeyRef"):
            env[item["name"]] = config[ref["name"]][ref["key"]]
    return env


def _expand(arg: str, env: dict[str, str]) -> str:
    # The kubelet replaces $(VAR) with the container's variable and leaves unknown ones as is.
    return re.sub(r"\$\(([A-Za-z0-9_]+)\)", lambda m: env.get(m.group(1), m.group(0)), arg)


def _status(url: str, host: str) -> int:
    request = urllib.request.Request(url, headers={"Host": host})
    try:
        with urllib.request.urlopen(request, timeout=5) as resp:  # noqa: S310 - loopback only
            return resp.status
    except urllib.error.HTTPError as exc:
        return exc.code


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("mlflow-from-manifest")
    docs = _rendered_dev(tmp)
    (deployment,) = [d for d in docs if d["kind"] == "Deployment"]
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    env = _container_env(docs, container)
    # The laptop stand-ins for PostgreSQL, S3 and the pod's network.
    env["MLFLOW_BACKEND_STORE_URI"] = f"sqlite:///{tmp / 'mlflow.db'}"
    env["MLFLOW_ARTIFACTS_DESTINATION"] = (tmp / "artifacts").as_uri()
    env["HOME"] = env["TMPDIR"] = str(tmp)
    port = _free_port()
    args = [_expand(a, env) for a in container["args"]]
    args[args.index("--host") + 1] = "127.0.0.1"
    args[args.index("--port") + 1] = str(port)
    # One worker starts faster on a shared test machine; the count does not change behaviour.
    args[args.index("--workers") + 1] = "1"
    assert container["command"] == ["mlflow"]
    proc_env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")} | env
    log = (tmp / "server.log").open("w")
    proc = subprocess.Popen(
        [str(MLFLOW), *args], env=proc_env, stdout=log, stderr=subprocess.STDOUT, cwd=tmp
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while _status_or_none(url + "/health") != 200:
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"mlflow server from the manifest did not start: {tmp / 'server.log'}")
        time.sleep(0.5)
    yield {"url": url, "artifacts": tmp / "artifacts", "args": args}
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


def _status_or_none(url: str) -> int | None:
    try:
        return _status(url, "127.0.0.1")
    except (urllib.error.URLError, OSError):
        return None


def test_args_from_the_manifest_start_a_proxying_server(server):
    assert "--serve-artifacts" in server["args"]
    assert not [a for a in server["args"] if "$(" in a], "an unexpanded $(VAR) in the args"


@pytest.mark.parametrize(
    "host",
    ["mlflow:5000", "mlflow", "mlflow.kubeflow-user-example-com.svc.cluster.local:5000"],
)
def test_in_cluster_host_names_are_accepted(server, host):
    api = server["url"] + "/api/2.0/mlflow/experiments/search?max_results=1"
    assert _status(api, host) == 200


def test_other_host_names_are_refused(server):
    api = server["url"] + "/api/2.0/mlflow/experiments/search?max_results=1"
    assert _status(api, "mlflow.attacker.example") in (400, 403)


def test_artifacts_go_through_the_server_to_the_destination(server, tmp_path):
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=server["url"])
    experiment = client.create_experiment(f"manifest-check-{time.time_ns()}")
    run = client.create_run(experiment)
    payload = tmp_path / "scorecard.json"
    payload.write_text('{"status": "passed"}')
    client.log_artifact(run.info.run_id, str(payload))
    stored = list(server["artifacts"].rglob("scorecard.json"))
    assert [p.read_text() for p in stored] == ['{"status": "passed"}']
