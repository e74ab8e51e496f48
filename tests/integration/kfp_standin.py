"""A stand-in for the Kubeflow Pipelines v2beta1 REST API, on 127.0.0.1, for submit tests.

It answers the endpoints ``kfp.Client`` 2.17 calls when ``quality-gates submit`` uploads a
pipeline, creates an experiment and starts and follows a run, with the JSON shapes of
``backend/api/v2beta1/swagger/*.json`` (the models in ``kfp_server_api``): healthz; pipelines
create / list (with the ``display_name`` EQUALS filter) / get / get by name; multipart upload
and upload_version; pipeline versions list / get; experiments create / list / get; runs create /
get / list. Errors are ``googleRpcStatus`` bodies with the HTTP code grpc-gateway would send.

Everything received is kept (``requests``, ``pipelines``, ``versions``, ``runs``) so a test can
assert on it; a test scripts a run's states with :meth:`KfpStandIn.script_run` (each GET of a
run advances one state, so tests never depend on wall time). Authentication, when configured,
is checked on every request: ``Authorization: Bearer <token>`` or a ``Cookie`` header holding
the configured cookie, answered with 401 otherwise (Istio/oauth2-proxy in front of a real
Kubeflow answers the same way for API clients).
"""

from __future__ import annotations

import email.parser
import email.policy
import json
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import yaml

API = "/apis/v2beta1"
# google.rpc.Code values grpc-gateway puts in error bodies.
_RPC_CODE = {400: 3, 401: 16, 403: 7, 404: 5, 409: 6, 500: 13}
TERMINAL = ("SUCCEEDED", "FAILED", "CANCELED", "SKIPPED")


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Request:
    """One request as received (headers lower-cased)."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]


@dataclass
class RunScript:
    """States a run goes through, one per GET, and its tasks' final states.

    ``failed_tasks`` are reported FAILED when the run FAILED; ``tasks`` (display name ->
    state) are reported in ``run_details`` once the run reaches any final state.
    """

    states: list[str]
    failed_tasks: list[str] = field(default_factory=list)
    tasks: dict[str, str] = field(default_factory=dict)


class ApiError(Exception):
    """An error answered as a googleRpcStatus body."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class KfpStandIn:
    """The stand-in server; use as a context manager or call :meth:`start` / :meth:`stop`.

    Args:
        token: When set, every request must carry ``Authorization: Bearer <token>``.
        cookie: When set (``name=value``), every request must carry it in ``Cookie``.
        multi_user: What healthz reports; a multi-user KFP needs a namespace.
        public_healthz: Answer healthz without credentials, as a KFP API server reached past
            its auth proxy does; the other endpoints still check them.
    """

    def __init__(
        self,
        *,
        token: str | None = None,
        cookie: str | None = None,
        multi_user: bool = False,
        public_healthz: bool = False,
    ) -> None:
        self.public_healthz = public_healthz
        self.token = token
        self.cookie = cookie
        self.multi_user = multi_user
        self.requests: list[Request] = []
        self.pipelines: dict[str, dict[str, Any]] = {}
        self.versions: dict[str, dict[str, Any]] = {}
        self.uploads: dict[str, str] = {}  # version id -> uploaded YAML text
        self.experiments: dict[str, dict[str, Any]] = {}
        self.runs: dict[str, dict[str, Any]] = {}
        self.on_get_run: Callable[[str, int], None] | None = None
        self._scripts: dict[str, list[str]] = {}
        self._failed_tasks: dict[str, list[str]] = {}
        self._tasks: dict[str, dict[str, str]] = {}
        self._next_script = RunScript(["PENDING", "RUNNING", "SUCCEEDED"])
        self._gets: dict[str, int] = {}
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ---------------------------------------------------------------- lifecycle
    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>`` of the running server."""
        assert self._server is not None, "start the stand-in first"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> KfpStandIn:
        """Listen on a free loopback port in a daemon thread."""
        standin = self

        class Handler(_Handler):
            owner = standin

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> KfpStandIn:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---------------------------------------------------------------- scripting
    def script_run(
        self,
        *states: str,
        failed_tasks: tuple[str, ...] = (),
        tasks: dict[str, str] | None = None,
    ) -> None:
        """Set the states the NEXT created run goes through (the last one sticks).

        Args:
            states: Runtime states, e.g. ``"PENDING", "RUNNING", "FAILED"``.
            failed_tasks: Display names of the tasks reported FAILED in ``run_details``.
            tasks: Further tasks (display name -> state) reported at the final state, as
                ``run_details.task_details`` of a real run lists every task.
        """
        self._next_script = RunScript(list(states), list(failed_tasks), dict(tasks or {}))

    def calls(self, method: str, path_suffix: str) -> list[Request]:
        """Requests with this method whose path ends with ``path_suffix``."""
        return [r for r in self.requests if r.method == method and r.path.endswith(path_suffix)]

    # ---------------------------------------------------------------- handlers
    def handle(self, method: str, path: str, query: dict, headers: dict, body: bytes) -> Any:
        with self._lock:
            self.requests.append(Request(method, path, query, headers))
        if not (self.public_healthz and path == f"{API}/healthz"):
            self._authorize(headers)
        if not path.startswith(API + "/"):
            raise ApiError(404, f"Not Found: {path}")
        parts = [unquote(p) for p in path[len(API) + 1 :].split("/")]
        with self._lock:
            return self._route(method, parts, query, headers, body)

    def _authorize(self, headers: dict[str, str]) -> None:
        if self.token is not None:
            if headers.get("authorization") != f"Bearer {self.token}":
                raise ApiError(401, "Unauthenticated: missing or invalid bearer token")
        if self.cookie is not None:
            cookies = [c.strip() for c in headers.get("cookie", "").split(";")]
            if self.cookie not in cookies:
                raise ApiError(401, "Unauthenticated: no valid session cookie")

    def _route(self, method: str, parts: list[str], query: dict, headers: dict, body: bytes):
        head = parts[0]
        if (method, parts) == ("GET", ["healthz"]):
            return {"multi_user": self.multi_user, "pipeline_store": "database"}
        if head == "pipelines":
            return self._pipelines(method, parts[1:], query, headers, body)
        if head == "experiments":
            return self._experiments(method, parts[1:], query, body)
        if head == "runs":
            return self._runs(method, parts[1:], query, body)
        raise ApiError(404, f"Not Found: {'/'.join(parts)}")

    # pipelines ------------------------------------------------------------------
    def _pipelines(self, method, rest, query, headers, body):
        if method == "GET" and not rest:
            found = _filtered(self.pipelines.values(), query)
            found = [p for p in found if p["namespace"] == _q(query, "namespace", "")]
            return _page(found, "pipelines", query)
        if method == "POST" and not rest:
            data = json.loads(body or b"{}")
            return self._create_pipeline(data, namespace=data.get("namespace", ""))
        if method == "POST" and rest == ["upload"]:
            name = _q(query, "display_name") or _q(query, "name")
            text = _multipart_file(headers, body)
            pipeline = self._create_pipeline(
                {"display_name": name or _spec_name(text), "description": _q(query, "description")},
                namespace=_q(query, "namespace", ""),
            )
            self._create_version(pipeline["pipeline_id"], pipeline["display_name"], text, query)
            return pipeline
        if method == "POST" and rest == ["upload_version"]:
            pipeline_id = _q(query, "pipelineid")
            if pipeline_id not in self.pipelines:
                raise ApiError(404, f"Pipeline {pipeline_id} not found")
            name = _q(query, "display_name") or _q(query, "name")
            if not name:
                raise ApiError(400, "pipeline version name is empty")
            return self._create_version(pipeline_id, name, _multipart_file(headers, body), query)
        if method == "GET" and len(rest) == 2 and rest[0] == "names":
            for p in self.pipelines.values():
                if p["name"] == rest[1] and p["namespace"] == _q(query, "namespace", ""):
                    return p
            raise ApiError(404, f"Pipeline with name {rest[1]} not found")
        if method == "GET" and len(rest) == 1:
            return self._get(self.pipelines, rest[0], "Pipeline")
        if method == "GET" and len(rest) == 2 and rest[1] == "versions":
            self._get(self.pipelines, rest[0], "Pipeline")
            mine = [v for v in self.versions.values() if v["pipeline_id"] == rest[0]]
            return _page(_filtered(mine, query), "pipeline_versions", query)
        if method == "GET" and len(rest) == 3 and rest[1] == "versions":
            version = self._get(self.versions, rest[2], "Pipeline version")
            if version["pipeline_id"] != rest[0]:
                raise ApiError(404, f"Pipeline version {rest[2]} not found")
            return version
        raise ApiError(404, f"Not Found: pipelines/{'/'.join(rest)}")

    def _create_pipeline(self, data: dict, *, namespace: str) -> dict:
        # Like the real server: name defaults to display_name and the other way round.
        display = data.get("display_name") or data.get("name") or ""
        if not display.strip():
            raise ApiError(400, "pipeline name is empty")
        for p in self.pipelines.values():
            if p["display_name"] == display and p["namespace"] == namespace:
                raise ApiError(409, f"Pipeline with name {display} already exists")
        pipeline = {
            "pipeline_id": str(uuid.uuid4()),
            "name": data.get("name") or display,
            "display_name": display,
            "description": data.get("description") or "",
            "created_at": _now(),
            "namespace": namespace,
        }
        self.pipelines[pipeline["pipeline_id"]] = pipeline
        return pipeline

    def _create_version(self, pipeline_id: str, name: str, text: str, query: dict) -> dict:
        for v in self.versions.values():
            if v["pipeline_id"] == pipeline_id and v["display_name"] == name:
                raise ApiError(409, f"Pipeline version with name {name} already exists")
        try:
            docs = [d for d in yaml.safe_load_all(text) if d]
        except yaml.YAMLError as exc:
            raise ApiError(400, f"invalid pipeline spec: {exc}") from None
        if not docs or "pipelineInfo" not in docs[0]:
            raise ApiError(400, "invalid pipeline spec: no pipelineInfo")
        spec: dict[str, Any] = {"pipeline_spec": docs[0]}
        if len(docs) > 1:
            spec["platform_spec"] = docs[1]
        version = {
            "pipeline_id": pipeline_id,
            "pipeline_version_id": str(uuid.uuid4()),
            "name": name,
            "display_name": name,
            "description": _q(query, "description", ""),
            "created_at": _now(),
            "pipeline_spec": spec,
        }
        self.versions[version["pipeline_version_id"]] = version
        self.uploads[version["pipeline_version_id"]] = text
        return version

    # experiments ----------------------------------------------------------------
    def _experiments(self, method, rest, query, body):
        if method == "GET" and not rest:
            found = _filtered(self.experiments.values(), query)
            namespace = _q(query, "namespace", "")
            found = [e for e in found if e["namespace"] == namespace]
            return _page(found, "experiments", query)
        if method == "POST" and not rest:
            data = json.loads(body or b"{}")
            display = data.get("display_name") or ""
            namespace = data.get("namespace") or ""
            if not display:
                raise ApiError(400, "experiment name is empty")
            for e in self.experiments.values():
                if e["display_name"] == display and e["namespace"] == namespace:
                    raise ApiError(409, f"Experiment {display} already exists")
            experiment = {
                "experiment_id": str(uuid.uuid4()),
                "display_name": display,
                "description": data.get("description") or "",
                "created_at": _now(),
                "namespace": namespace,
                "storage_state": "AVAILABLE",
            }
            self.experiments[experiment["experiment_id"]] = experiment
            return experiment
        if method == "GET" and len(rest) == 1:
            return self._get(self.experiments, rest[0], "Experiment")
        raise ApiError(404, f"Not Found: experiments/{'/'.join(rest)}")

    # runs -------------------------------------------------------------------------
    def _runs(self, method, rest, query, body):
        if method == "POST" and not rest:
            return self._create_run(json.loads(body or b"{}"))
        if method == "GET" and not rest:
            found = list(self.runs.values())
            if _q(query, "experiment_id"):
                found = [r for r in found if r["experiment_id"] == _q(query, "experiment_id")]
            return _page(found, "runs", query)
        if method == "GET" and len(rest) == 1:
            run = self._get(self.runs, rest[0], "Run")
            count = self._gets[run["run_id"]] = self._gets.get(run["run_id"], 0) + 1
            if self.on_get_run is not None:
                self.on_get_run(run["run_id"], count)
            self._advance(run, count)
            return run
        raise ApiError(404, f"Not Found: runs/{'/'.join(rest)}")

    def _create_run(self, data: dict) -> dict:
        ref = data.get("pipeline_version_reference") or {}
        if not data.get("pipeline_spec"):
            version = self.versions.get(ref.get("pipeline_version_id", ""))
            if version is None or version["pipeline_id"] != ref.get("pipeline_id"):
                raise ApiError(404, f"Pipeline version {ref.get('pipeline_version_id')} not found")
        if data.get("experiment_id") and data["experiment_id"] not in self.experiments:
            raise ApiError(404, f"Experiment {data['experiment_id']} not found")
        if not data.get("display_name"):
            raise ApiError(400, "run name is empty")
        script = self._next_script
        run_id = str(uuid.uuid4())
        self._scripts[run_id] = script.states
        self._failed_tasks[run_id] = script.failed_tasks
        self._tasks[run_id] = script.tasks
        run = {
            "run_id": run_id,
            "experiment_id": data.get("experiment_id", ""),
            "display_name": data["display_name"],
            "storage_state": "AVAILABLE",
            "pipeline_version_reference": ref,
            "runtime_config": data.get("runtime_config") or {},
            "service_account": data.get("service_account") or "",
            "created_at": _now(),
            "scheduled_at": _now(),
            "state": "PENDING",
            "state_history": [{"update_time": _now(), "state": "PENDING"}],
        }
        self.runs[run_id] = run
        return run

    def _advance(self, run: dict, count: int) -> None:
        states = self._scripts[run["run_id"]]
        state = states[min(count - 1, len(states) - 1)]
        if state != run["state"]:
            run["state"] = state
            run["state_history"].append({"update_time": _now(), "state": state})
        if state in TERMINAL:
            run.setdefault("finished_at", _now())
        if state not in TERMINAL:
            return
        tasks = [
            {"run_id": run["run_id"], "task_id": str(uuid.uuid4()), "display_name": n}
            | {"state": task_state}
            for n, task_state in self._tasks[run["run_id"]].items()
        ]
        if state == "FAILED":
            tasks += [
                {"run_id": run["run_id"], "task_id": str(uuid.uuid4()), "display_name": n}
                | {"state": "FAILED", "error": {"code": 2, "message": f"{n} exited with 1"}}
                for n in self._failed_tasks[run["run_id"]]
            ]
            tasks.append(
                {"run_id": run["run_id"], "task_id": str(uuid.uuid4()), "display_name": "ok"}
                | {"state": "SUCCEEDED"}
            )
            run["error"] = {"code": 2, "message": "pipeline run failed"}
        if tasks:
            run["run_details"] = {"task_details": tasks}

    @staticmethod
    def _get(table: dict, key: str, kind: str) -> dict:
        if key not in table:
            raise ApiError(404, f"{kind} {key} not found")
        return table[key]


class _Handler(BaseHTTPRequestHandler):
    owner: KfpStandIn
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib name
        """Stay quiet: pytest output is for assertions."""

    def _serve(self, method: str) -> None:
        parsed = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        try:
            payload = self.owner.handle(method, parsed.path, parse_qs(parsed.query), headers, body)
            status = 200
        except ApiError as exc:
            status = exc.status
            payload = {"code": _RPC_CODE.get(status, 2), "message": exc.message, "details": []}
        except Exception as exc:  # noqa: BLE001 - a stand-in bug must surface as a 500, not hang
            status = 500
            payload = {"code": 13, "message": f"stand-in error: {exc!r}", "details": []}
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:  # noqa: N802 - stdlib hook name
        self._serve("GET")

    def do_POST(self) -> None:  # noqa: N802 - stdlib hook name
        self._serve("POST")

    def do_DELETE(self) -> None:  # noqa: N802 - stdlib hook name
        self._serve("DELETE")


def _q(query: dict, key: str, default: str | None = None) -> str | None:
    values = query.get(key)
    return values[0] if values else default


def _filtered(items, query: dict) -> list[dict]:
    """Apply the v2beta1 ``filter`` query (EQUALS predicates on string fields)."""
    items = list(items)
    raw = _q(query, "filter")
    if not raw:
        return items
    for pred in json.loads(raw).get("predicates", []):
        if pred.get("operation") not in (1, "EQUALS"):
            raise ApiError(400, f"stand-in supports EQUALS filters only, got {pred}")
        value = pred.get("stringValue", pred.get("string_value"))
        items = [i for i in items if i.get(pred["key"]) == value]
    return items


def _page(items: list[dict], key: str, query: dict) -> dict:
    """One page of ``items`` (``page_size`` / ``page_token`` = offset), like the real lists."""
    size = int(_q(query, "page_size", "0") or 0) or 20
    start = int(_q(query, "page_token", "0") or 0)
    chunk = items[start : start + size]
    out: dict[str, Any] = {"total_size": len(items)}
    if chunk:
        out[key] = chunk  # proto3 JSON omits empty repeated fields
    if start + size < len(items):
        out["next_page_token"] = str(start + size)
    return out


def _multipart_file(headers: dict[str, str], body: bytes) -> str:
    """Return the text of the ``uploadfile`` part of a multipart/form-data body."""
    ctype = headers.get("content-type", "")
    if not ctype.startswith("multipart/form-data"):
        raise ApiError(400, f"expected multipart/form-data, got {ctype!r}")
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        f"Content-Type: {ctype}\r\n\r\n".encode() + body
    )
    for part in message.iter_parts():
        if part.get_param("name", header="content-disposition") == "uploadfile":
            return part.get_payload(decode=True).decode("utf-8")
    raise ApiError(400, "no uploadfile part in the upload")


def _spec_name(text: str) -> str:
    doc = next(d for d in yaml.safe_load_all(text) if d)
    return doc["pipelineInfo"]["name"]
