"""Fixtures shared by every test tier: real sklearn models, data files and a real
``mlflow server`` on 127.0.0.1 (sqlite backend, proxied artifacts, in a temporary folder).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.datasets import make_classification, make_regression
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import make_pipeline

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
    if importlib.util.find_spec("mlflow") is not None:
        return [sys.executable, "-m", "mlflow"]
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


def _start(
    command: list[str],
    root: Path,
    port: int,
    *,
    extra_args: tuple[str, ...] = (),
    extra_env: dict[str, str] | None = None,
) -> tuple[subprocess.Popen, Path]:
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
    env.update(extra_env or {})
    env.pop("MLFLOW_TRACKING_URI", None)
    args = [
        *command,
        "server",
        *extra_args,
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


def _serve(
    root: Path, *, extra_args: tuple[str, ...] = (), extra_env: dict[str, str] | None = None
) -> Iterator[str]:
    """Start ``mlflow server`` in ``root`` on a free loopback port; yield its URL, then stop it."""
    command = _mlflow_command()
    if command is None:
        pytest.skip(
            "the `mlflow` executable is not installed next to the test interpreter or on PATH; "
            "install mlflow to run the integration tests"
        )
    last_error = ""
    for _attempt in range(2):  # a second port if another process grabbed the first one
        port = _free_port()
        url = f"http://127.0.0.1:{port}"
        proc, log = _start(command, root, port, extra_args=extra_args, extra_env=extra_env)
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
        code = proc.poll()
        _stop(proc)
        state = (
            f"exited with code {code}"
            if code is not None
            else f"did not answer /health within {STARTUP_TIMEOUT_S:.0f} s"
        )
        last_error = f"mlflow server on port {port} {state}. Server log:\n{_log_tail(log)}"
        print(last_error, file=sys.stderr)
    pytest.fail(last_error, pytrace=False)


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Start ``mlflow server`` on a free loopback port and yield its tracking URI."""
    yield from _serve(tmp_path_factory.mktemp("mlflow-server"))


@dataclass
class AuthServer:
    """A real ``mlflow server --app-name basic-auth`` on 127.0.0.1.

    Attributes:
        url: Tracking URI (no credentials in it).
        admin: The admin user name.
        admin_password: Its password.
    """

    url: str
    admin: str
    admin_password: str

    def add_user(self, name: str) -> str:
        """Create a user through the server's auth API (as admin); return its password."""
        from mlflow.server.auth.client import AuthServiceClient

        password = f"{name}-pw-{os.urandom(6).hex()}"
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("MLFLOW_TRACKING_USERNAME", self.admin)
            mp.setenv("MLFLOW_TRACKING_PASSWORD", self.admin_password)
            AuthServiceClient(self.url).create_user(name, password)
        return password

    def grant(self, user: str, resource_type: str, resource_id: str, permission: str) -> None:
        """Grant ``user`` a permission (READ, EDIT, MANAGE, NO_PERMISSIONS) as admin."""
        from mlflow.server.auth.client import AuthServiceClient

        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("MLFLOW_TRACKING_USERNAME", self.admin)
            mp.setenv("MLFLOW_TRACKING_PASSWORD", self.admin_password)
            AuthServiceClient(self.url).grant_user_permission(
                user, resource_type, resource_id, permission
            )


@pytest.fixture(scope="session")
def mlflow_auth_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuthServer]:
    """Start ``mlflow server --app-name basic-auth`` (MLflow's own authentication) on loopback.

    Everyone may read by default (MLflow's ``default_permission = READ``); writing needs a
    grant or ownership (the creator of an experiment or registered model manages it).
    """
    if importlib.util.find_spec("flask_wtf") is None:
        pytest.skip("MLflow's basic-auth app needs Flask-WTF: pip install 'Flask-WTF<2'")
    root = tmp_path_factory.mktemp("mlflow-auth-server")
    password = f"admin-{os.urandom(8).hex()}"
    ini = root / "basic_auth.ini"
    ini.write_text(
        "[mlflow]\n"
        "default_permission = READ\n"
        f"database_uri = sqlite:///{root / 'auth.db'}\n"
        "admin_username = admin\n"
        "authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n"
        # Each request re-hashes the password (PBKDF2, ~0.3 s on this machine) unless cached.
        "auth_cache_ttl_seconds = 300\n",
        encoding="utf-8",
    )
    env = {
        "MLFLOW_AUTH_CONFIG_PATH": str(ini),
        "MLFLOW_AUTH_ADMIN_PASSWORD": password,
        "MLFLOW_FLASK_SERVER_SECRET_KEY": os.urandom(16).hex(),
    }
    for url in _serve(root, extra_args=("--app-name", "basic-auth"), extra_env=env):
        yield AuthServer(url=url, admin="admin", admin_password=password)


@pytest.fixture
def mlflow_env(mlflow_server: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    """Point ``MLFLOW_TRACKING_URI`` at the test server for one test; returns the URI.

    Model downloads the code under test leaves to its caller go to the test's tmp_path.
    """
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server)
    monkeypatch.delenv("MLFLOW_REGISTRY_URI", raising=False)
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    return mlflow_server


@dataclass
class Case:
    model_path: Path
    data_path: Path
    frame: pd.DataFrame
    model: object
    features: list[str]
    label: str


def write_policy(tmp_path: Path, text: str, name: str = "policy.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def policy_file(tmp_path):
    return lambda text, name="policy.yaml": write_policy(tmp_path, text, name)


def _binary(tmp_path: Path, *, n: int = 3000, seed: int = 0, weak: bool = False) -> Case:
    X, y = make_classification(
        n_samples=n,
        n_features=6,
        n_informative=4,
        n_redundant=0,
        weights=[0.7, 0.3],
        flip_y=0.05,
        random_state=seed,
    )
    features = [f"f{i}" for i in range(X.shape[1])]
    frame = pd.DataFrame(X, columns=features)
    frame["target"] = y
    # A segment column that is not a model feature: region B gets noisy labels below.
    frame["region"] = np.where(np.arange(n) % 3 == 0, "B", "A")
    half = n // 2
    train, test = frame.iloc[:half], frame.iloc[half:].reset_index(drop=True)
    if weak:
        # A deliberately weak but real sklearn model: it only looks at one feature.
        model = make_pipeline(
            ColumnTransformer([("one", "passthrough", features[-1:])]),
            LogisticRegression(max_iter=1000),
        ).fit(train[features], train["target"])
    else:
        model = LogisticRegression(max_iter=1000).fit(train[features], train["target"])
    suffix = "weak" if weak else "model"
    model_path = tmp_path / f"{suffix}.joblib"
    joblib.dump(model, model_path)
    data_path = tmp_path / "eval.csv"
    test.to_csv(data_path, index=False)
    return Case(model_path, data_path, test, model, features, "target")


@pytest.fixture
def binary_case(tmp_path) -> Case:
    return _binary(tmp_path)


@pytest.fixture
def multiclass_case(tmp_path) -> Case:
    X, y = make_classification(
        n_samples=1500,
        n_features=5,
        n_informative=4,
        n_redundant=0,
        n_classes=3,
        random_state=1,
    )
    features = [f"f{i}" for i in range(5)]
    frame = pd.DataFrame(X, columns=features)
    frame["species"] = np.array(["setosa", "versicolor", "virginica"])[y]
    train, test = frame.iloc[:750], frame.iloc[750:].reset_index(drop=True)
    model = LogisticRegression(max_iter=1000).fit(train[features], train["species"])
    joblib.dump(model, tmp_path / "mc.joblib")
    test.to_parquet(tmp_path / "mc.parquet", index=False)
    return Case(tmp_path / "mc.joblib", tmp_path / "mc.parquet", test, model, features, "species")


@pytest.fixture
def regression_case(tmp_path) -> Case:
    X, y = make_regression(n_samples=1200, n_features=4, noise=10.0, random_state=2)
    features = [f"x{i}" for i in range(4)]
    frame = pd.DataFrame(X, columns=features)
    frame["price"] = y + 500.0
    train, test = frame.iloc[:600], frame.iloc[600:].reset_index(drop=True)
    model = Ridge().fit(train[features], train["price"])
    joblib.dump(model, tmp_path / "reg.joblib")
    test.to_csv(tmp_path / "reg.csv", index=False)
    return Case(tmp_path / "reg.joblib", tmp_path / "reg.csv", test, model, features, "price")


@pytest.fixture
def make_binary(tmp_path):
    return lambda **kw: _binary(tmp_path, **kw)
