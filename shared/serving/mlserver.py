"""MLServer, KServe's runtime for ``modelFormat: mlflow`` and ``sklearn``, started for one model.

The server runs from its own virtual environment (``make server-venv`` creates ``.venv-server``
from ``docker/requirements/model-server.txt``; the image has it in ``/opt/model-server``):
mlserver 1.7 needs ``fastapi<0.116`` while the project runs MLflow 3's server stack on a newer
fastapi, so the two cannot share one environment. The gate only speaks HTTP to it (the V2 /
Open Inference Protocol that KServe exposes).

One server process per model, on free ports of 127.0.0.1, with ``parallel_workers: 0`` so the
model is loaded and predicts in the process whose peak RSS is read (``/proc/<pid>/status``
``VmHWM``, with its children's). Models are not loaded at start-up: the gate times
``POST /v2/repository/models/<name>/load``, the model's load time.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

from quality_gates.shared.contracts.errors import GateInputError

#: Environment variable naming the ``mlserver`` executable (of the server's own venv).
SERVER_ENV = "QG_MODEL_SERVER"
INSTALL_HINT = (
    "run `make server-venv` (creates .venv-server from docker/requirements/model-server.txt) "
    f"or set {SERVER_ENV} to an mlserver executable"
)
#: KServe's runtimes for the two model formats the gates load.
_MLFLOW_RUNTIME = "mlserver_mlflow.MLflowRuntime"
_SKLEARN_RUNTIME = "mlserver_sklearn.SKLearnModel"
_SKLEARN_SUFFIXES = (".joblib", ".pkl")
_POLL_S = 0.1


def server_executable() -> Path:
    """Return the ``mlserver`` executable the gate starts.

    ``$QG_MODEL_SERVER`` when set, else ``.venv-server/bin/mlserver`` beside the running
    environment (the layout ``make install`` creates).

    Returns:
        The executable's path.

    Raises:
        GateInputError: When it does not exist, saying how to install it.
    """
    given = os.environ.get(SERVER_ENV)
    path = Path(given) if given else Path(sys.prefix).parent / ".venv-server" / "bin" / "mlserver"
    if not (path.is_file() and os.access(path, os.X_OK)):
        raise GateInputError(
            f"the operational gate needs the MLServer model server, not found at {path}; "
            + INSTALL_HINT
        )
    return path


#: Ports handed out by this process: a server binds its ports only once it has started, so a
#: second server asking meanwhile must not get the same ones (seen: MLServer exiting at start-up
#: when two of its three ports collided).
_HANDED_OUT: set[int] = set()


def free_port() -> int:
    """Return a TCP port of 127.0.0.1 that is free now and not handed out before."""
    for _ in range(100):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        if port not in _HANDED_OUT:
            _HANDED_OUT.add(port)
            return port
    raise GateInputError("no free TCP port on 127.0.0.1 after 100 tries")


def runtime_for(local_path: str) -> str:
    """The MLServer runtime KServe would pick for a model artifact.

    Args:
        local_path: An MLflow model folder or a ``.joblib`` / ``.pkl`` file.

    Returns:
        The runtime's implementation class.

    Raises:
        GateInputError: For an artifact KServe does not serve (e.g. ``.skops``).
    """
    path = Path(local_path)
    if path.is_dir() and (path / "MLmodel").is_file():
        return _MLFLOW_RUNTIME
    if path.suffix in _SKLEARN_SUFFIXES:
        return _SKLEARN_RUNTIME
    raise GateInputError(
        f"the operational gate serves MLflow models and .joblib/.pkl files as KServe does; "
        f"{path.name} is neither (log the model with mlflow.sklearn, or save it with joblib)"
    )


def counting_runtime_for(local_path: str) -> tuple[str, str]:
    """The decision-counting variant of KServe's runtime for an artifact, and its folder.

    Returns:
        ``(implementation, pythonpath)`` for :class:`ModelServer` (``implementation`` and
        ``extra_pythonpath``): the same answers, plus ``qg_decision_rows_total`` and
        ``qg_positive_decisions_total`` on the metrics port (``runtimes/qg_counting_runtime``).
    """
    kind = "CountingMLflowRuntime" if runtime_for(local_path) == _MLFLOW_RUNTIME else (
        "CountingSKLearnModel"
    )  # fmt: skip
    return f"qg_counting_runtime.{kind}", str(Path(__file__).with_name("runtimes"))


def artifact_mb(local_path: str) -> float:
    """Size on disk of a model artifact (a file, or every file of a folder), in MB (10**6)."""
    path = Path(local_path)
    files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
    return sum(p.stat().st_size for p in files) / 1e6


def _tree(pid: int) -> list[int]:
    """The process and its descendants (``/proc/<pid>/task/*/children``)."""
    from quality_gates.shared.serving.process import children

    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(children(current))
    return found


def _status_kb(pid: int, key: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def memory_mb(pid: int, *, key: str = "VmHWM") -> float:
    """Peak (``VmHWM``) or current (``VmRSS``) resident memory of a process tree, in MB."""
    return sum(_status_kb(p, key) for p in _tree(pid)) * 1024 / 1e6


@dataclass
class ModelServer:
    """One MLServer process serving one model under a fixed name.

    Attributes:
        name: The model's name on the server (``candidate`` or ``champion``).
        local_path: The model artifact.
        cpus: Threads of the server's math libraries (the CPUs the gate assumes).
        implementation: The MLServer runtime class; default the one KServe picks for the
            artifact (:func:`runtime_for`).
        extra_pythonpath: A folder put on the server's ``PYTHONPATH`` (a custom runtime).
        startup_timeout_s: Time to start and to load the model.
        request_timeout_s: Timeout of each request.
    """

    name: str
    local_path: str
    cpus: int = 1
    implementation: str | None = None
    extra_pythonpath: str | None = None
    startup_timeout_s: float = 90.0
    request_timeout_s: float = 30.0
    port: int = 0
    metrics_port: int = 0
    process: subprocess.Popen | None = None
    http: requests.Session = field(default_factory=requests.Session)
    workdir: Path | None = None
    baseline_mb: float = 0.0
    load_s: float = 0.0

    @property
    def url(self) -> str:
        """Base URL of the server's HTTP endpoint."""
        return f"http://127.0.0.1:{self.port}"

    def _write_repository(self, runtime: str) -> Path:
        self.workdir = Path(tempfile.mkdtemp(prefix=f"qg-mlserver-{self.name}-"))
        self.port, self.metrics_port = free_port(), free_port()
        settings = {
            "debug": False,
            "host": "127.0.0.1",
            "http_port": self.port,
            "grpc_port": free_port(),
            # Prometheus metrics (model_infer_request_*, rest_server_request_duration_*).
            "metrics_port": self.metrics_port,
            # Inference in the server process itself: its RSS is the model's memory, and no
            # worker pool sits between the request and the model.
            "parallel_workers": 0,
            "load_models_at_startup": False,
        }
        (self.workdir / "settings.json").write_text(json.dumps(settings))
        model_dir = self.workdir / self.name
        model_dir.mkdir()
        model_settings = {
            "name": self.name,
            "implementation": runtime,
            "parameters": {"uri": str(Path(self.local_path).resolve())},
        }
        (model_dir / "model-settings.json").write_text(json.dumps(model_settings))
        return self.workdir

    def launch(self) -> None:
        """Start the server process (without waiting: several servers start side by side).

        Raises:
            GateInputError: No server executable, or an artifact KServe does not serve.
        """
        executable = server_executable()
        repo = self._write_repository(self.implementation or runtime_for(self.local_path))
        threads = str(self.cpus)
        # OpenMP/BLAS threads = the CPUs assumed: more threads than cores makes spinning
        # OpenMP workers (HistGradientBoosting, ...) stall for whole scheduler slices.
        env = {
            **os.environ,
            "OMP_NUM_THREADS": threads,
            "OPENBLAS_NUM_THREADS": threads,
            "MKL_NUM_THREADS": threads,
        }
        if self.extra_pythonpath:
            env["PYTHONPATH"] = os.pathsep.join(
                p for p in (self.extra_pythonpath, env.get("PYTHONPATH", "")) if p
            )
        log = (repo / "server.log").open("wb")
        self.process = subprocess.Popen(  # noqa: S603 - our own executable, fixed arguments
            [str(executable), "start", str(repo)],
            cwd=repo,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()

    def wait_ready(self) -> None:
        """Wait until the launched server answers ``/v2/health/live``.

        Raises:
            GateInputError: The server exits or stays silent during start-up.
        """
        deadline = time.monotonic() + self.startup_timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise GateInputError(
                    f"the model server for the {self.name} exited with code "
                    f"{self.process.returncode} during start-up ({self._last_log_line()}); "
                    + INSTALL_HINT
                )
            try:
                if self.http.get(f"{self.url}/v2/health/live", timeout=1.0).status_code == 200:
                    self.baseline_mb = memory_mb(self.process.pid, key="VmRSS")
                    return
            except requests.RequestException:
                pass
            time.sleep(_POLL_S)
        raise GateInputError(
            f"the model server for the {self.name} did not answer GET /v2/health/live within "
            f"{self.startup_timeout_s:g} s; raise gates.operational.measurement."
            "startup_timeout_s or check the task's CPU"
        )

    def _last_log_line(self) -> str:
        try:
            lines = (self.workdir / "server.log").read_text(errors="replace").splitlines()  # type: ignore[operator]
        except OSError:
            return "no log"
        last = next((ln.strip() for ln in reversed(lines) if ln.strip()), "no log")
        return last[:160]

    def load(self, *, uri: str) -> float:
        """Load the model through the repository API; return the seconds it took.

        Args:
            uri: The model's URI, for the message.

        Raises:
            GateInputError: The server refused or failed to load it, naming the request.
        """
        request = f"POST /v2/repository/models/{self.name}/load"
        started = time.perf_counter()
        try:
            answer = self.http.post(
                f"{self.url}/v2/repository/models/{self.name}/load",
                timeout=self.startup_timeout_s,
            )
        except requests.RequestException as exc:
            raise GateInputError(
                f"the model server cannot load the {self.name} model {uri}: {request} failed "
                f"({type(exc).__name__})"
            ) from None
        self.load_s = time.perf_counter() - started
        if answer.status_code != 200:
            raise GateInputError(
                f"the model server cannot load the {self.name} model {uri}: {request} returned "
                f"{answer.status_code} ({server_error(answer)}); check that the model was "
                "logged with the server's mlflow/scikit-learn versions "
                "(docker/requirements/model-server.txt)"
            )
        return self.load_s

    def peak_mb(self) -> float:
        """Peak RSS of the server process (and its children) so far, in MB."""
        return memory_mb(self.process.pid) if self.process else 0.0

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL after 10 s) and remove its folder."""
        self.http.close()
        if self.process is not None and self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGTERM)
                self.process.wait(timeout=10)
            except (subprocess.TimeoutExpired, ProcessLookupError):
                try:
                    os.killpg(self.process.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.process.wait(timeout=10)
        if self.workdir is not None:
            import shutil

            shutil.rmtree(self.workdir, ignore_errors=True)


def server_error(answer: requests.Response) -> str:
    """The kind of error a server answer names, never its text (it may quote a data cell).

    Args:
        answer: A non-200 answer of MLServer (``{"error": "ValueError: ..."}``).

    Returns:
        E.g. ``ValueError`` or ``no error type given``.
    """
    try:
        text = str(answer.json().get("error", ""))
    except ValueError:
        text = ""
    head = text.split(":", 1)[0].strip().split(".")[-1]
    return head if head.isidentifier() else "no error type given"
