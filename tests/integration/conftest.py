"""A real ``mlflow server`` on 127.0.0.1 for the integration tests.

The server runs as its own process (sqlite backend store, proxied artifact store, both in a
temporary folder) exactly as a user would start it; tests talk to it over HTTP through the same
code paths as a cluster deployment.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

STARTUP_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 15.0


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _mlflow_command() -> list[str] | None:
    # Prefer the mlflow script of the interpreter running the tests, so the server and the
    # client are the same MLflow version.
    script = Path(sys.executable).with_name("mlflow")
    if script.is_file() and os.access(script, os.X_OK):
        return [str(script)]
    found = shutil.which("mlflow")
    return [found] if found else None


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/health", timeout=2) as resp:  # noqa: S310 - loopback
            return resp.status == 200
    except (urllib.error.URLError, OSError):
        return False


def _log_tail(log: Path, lines: int = 60) -> str:
    try:
        text = log.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "(no server log)"
    return "\n".join(text.splitlines()[-lines:])


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return
    # The server forks uvicorn workers; it runs in its own session so the group goes together.
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        proc.wait(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        pass
    # Whatever of the group outlived the graceful stop (a worker, a child) goes now.
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(timeout=STOP_TIMEOUT_S)


def _start(command: list[str], root: Path, port: int) -> tuple[subprocess.Popen, Path]:
    log = root / f"server-{port}.log"
    env = dict(os.environ)
    env.update(
        {
            "MLFLOW_DISABLE_TELEMETRY": "true",
            "DO_NOT_TRACK": "true",
            # The server's background job runner (huey consumers, ~8 processes) serves GenAI
            # features these tests do not use; without it the server starts and stops faster.
            "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
        }
    )
    env.pop("MLFLOW_TRACKING_URI", None)
    args = [
        *command,
        "server",
        "--backend-store-uri",
        f"sqlite:///{root / 'mlflow.db'}",
        "--artifacts-destination",
        str(root / "artifacts"),
        "--serve-artifacts",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
    ]
    with log.open("wb") as out:
        proc = subprocess.Popen(  # noqa: S603 - fixed argv
            args,
            cwd=root,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return proc, log


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Start ``mlflow server`` on a free loopback port and yield its tracking URI."""
    command = _mlflow_command()
    if command is None:
        pytest.skip(
            "the `mlflow` executable is not installed next to the test interpreter or on PATH; "
            "install mlflow to run the integration tests"
        )
    root = tmp_path_factory.mktemp("mlflow-server")
    last_error = ""
    for _attempt in range(2):  # a second port if another process grabbed the first one
        port = _free_port()
        url = f"http://127.0.0.1:{port}"
        proc, log = _start(command, root, port)
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                break
            if _healthy(url):
                break
            time.sleep(0.25)
        if proc.poll() is None and _healthy(url):
            try:
                with pytest.MonkeyPatch.context() as mp:
                    # No usage telemetry from the test process either.
                    mp.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
                    yield url
            finally:
                _stop(proc)
            return
        _stop(proc)
        state = (
            f"exited with code {proc.returncode}"
            if proc.returncode is not None
            else (f"did not answer /health within {STARTUP_TIMEOUT_S:.0f} s")
        )
        last_error = f"mlflow server on port {port} {state}. Server log:\n{_log_tail(log)}"
        print(last_error, file=sys.stderr)
    pytest.fail(last_error, pytrace=False)


@pytest.fixture
def mlflow_env(mlflow_server: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """Point ``MLFLOW_TRACKING_URI`` at the test server for one test; returns the URI."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server)
    monkeypatch.delenv("MLFLOW_REGISTRY_URI", raising=False)
    return mlflow_server
