"""Compile the gated-promotion pipeline and run it on a Kubeflow Pipelines endpoint.

Everything goes through ``kfp.Client`` (the v2beta1 REST API): the pipeline is uploaded once per
content (its version is named ``<package version>-<digest of the compiled YAML>``, so the same
YAML is never uploaded twice), the experiment is created when missing, the run is started from
the pipeline version, and :func:`wait_for_run` follows it. Failures a person can fix (an
unreachable host, refused credentials, an unknown parameter) are raised as one-line
:class:`GateInputError`; credentials never appear in a message.

kfp is imported inside the functions: ``quality_gates.shared`` stays importable without it.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import ssl
import tempfile
import time
import urllib.error
import urllib.request
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from quality_gates.shared.errors import GateInputError
from quality_gates.shared.versions import PACKAGE_VERSION

# Runtime states (kfp_server_api V2beta1RuntimeState) after which a run never changes again.
SUCCEEDED = "SUCCEEDED"
FAILED_STATES = ("FAILED", "CANCELED", "SKIPPED")
_PREFLIGHT_TIMEOUT_S = 15.0
_LIST_PAGE_SIZE = 100


# --------------------------------------------------------------------------------------------
# Credentials
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Auth:
    """How requests authenticate; at most one of the three is set.

    Attributes:
        token: A bearer token given directly (``--token`` or ``KFP_TOKEN``).
        token_file: A file holding a bearer token (a projected service-account token), read
            again before every request because the kubelet rotates it.
        cookie: A session cookie ``name=value`` (e.g. ``authservice_session=...``).
        source: Where the credential came from, for messages (never the value).
    """

    token: str | None = None
    token_file: str | None = None
    cookie: str | None = None
    source: str = "no credentials"

    def bearer(self) -> str | None:
        """Return the current bearer token (re-reading ``token_file``), or None."""
        if self.token_file:
            return _read_token_file(self.token_file)
        return self.token

    def headers(self) -> dict[str, str]:
        """Return the HTTP headers that carry the credential."""
        out: dict[str, str] = {}
        token = self.bearer()
        if token:
            out["Authorization"] = f"Bearer {token}"
        if self.cookie:
            out["Cookie"] = self.cookie
        return out

    def secrets(self) -> list[str]:
        """Return every credential value that must never be printed."""
        values = [self.token, self.cookie]
        if self.token_file:
            with contextlib.suppress(GateInputError):
                values.append(_read_token_file(self.token_file))
        if self.cookie and "=" in self.cookie:
            values.append(self.cookie.split("=", 1)[1])
        return [v for v in values if v]


def resolve_auth(
    *,
    token: str | None,
    token_file: str | None,
    cookie: str | None,
    env_token: str | None,
) -> Auth:
    """Pick the one credential source, or fail naming the conflicting ones.

    ``KFP_TOKEN`` counts as a source like the flags, so a CI job that exports it and also passes
    ``--cookie`` is told about the conflict instead of silently sending one of them.

    Args:
        token: ``--token``.
        token_file: ``--token-file``.
        cookie: ``--cookie``.
        env_token: The ``KFP_TOKEN`` environment variable.

    Returns:
        The credentials; an empty :class:`Auth` when none was given (a port-forwarded,
        single-user KFP needs none).

    Raises:
        GateInputError: More than one source, an unreadable or empty token file, or a cookie
            that is not ``name=value``.
    """
    given = {
        "--token": token,
        "KFP_TOKEN (environment)": env_token if token is None else None,
        "--token-file": token_file,
        "--cookie": cookie,
    }
    chosen = [name for name, value in given.items() if value is not None]
    if len(chosen) > 1:
        raise GateInputError(
            f"credentials given more than once ({', '.join(chosen)}); pass exactly one of "
            "--token (or KFP_TOKEN), --token-file or --cookie"
        )
    if token is not None or (env_token is not None and token_file is None and cookie is None):
        value = token if token is not None else env_token
        if not (value or "").strip():
            raise GateInputError(f"{chosen[0]} is empty; pass a bearer token for the KFP API")
        return Auth(token=value.strip(), source=chosen[0])
    if token_file is not None:
        _read_token_file(token_file)  # fail now, in one line, rather than on the first request
        return Auth(token_file=token_file, source=f"--token-file {token_file}")
    if cookie is not None:
        if "=" not in cookie or not cookie.split("=", 1)[1].strip():
            raise GateInputError(
                "--cookie must be name=value, e.g. authservice_session=<value from the browser>"
            )
        return Auth(cookie=cookie.strip(), source="--cookie")
    return Auth()


def _read_token_file(path: str) -> str:
    try:
        token = Path(path).read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise GateInputError(
            f"cannot read the token file {path} ({exc.strerror or exc}); pass the path of a "
            "service-account token, e.g. /var/run/secrets/kubeflow/pipelines/token"
        ) from None
    if not token:
        raise GateInputError(f"the token file {path} is empty; it must hold a bearer token")
    return token


# --------------------------------------------------------------------------------------------
# The pipeline package
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Package:
    """A compiled pipeline YAML and what submit needs from it.

    Attributes:
        path: The YAML file.
        digest: sha256 of its bytes.
        name: ``pipelineInfo.name``.
        description: ``pipelineInfo.description`` (may be empty).
        inputs: The root's declared parameters: name -> ``{parameterType, isOptional, ...}``.
    """

    path: Path
    digest: str
    name: str
    description: str
    inputs: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def default_version(self) -> str:
        """``<package version>-<12 hex of the digest>``: one version per distinct YAML."""
        return f"{PACKAGE_VERSION}-{self.digest[:12]}"


def compile_pipeline(out_dir: str | Path) -> Package:
    """Compile the gated-promotion pipeline into ``out_dir`` and describe the result.

    Args:
        out_dir: Folder for ``gated_promotion.yaml``.

    Returns:
        The compiled :class:`Package`.
    """
    from kfp import compiler

    from quality_gates.pipelines.gated_promotion import gated_promotion

    path = Path(out_dir) / "gated_promotion.yaml"
    compiler.Compiler().compile(gated_promotion, str(path))
    return load_package(path)


def load_package(path: str | Path) -> Package:
    """Describe an already compiled pipeline YAML.

    Args:
        path: A pipeline YAML written by the kfp compiler.

    Returns:
        The :class:`Package`.

    Raises:
        GateInputError: The file is missing or is not a compiled KFP pipeline.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
        docs = [d for d in yaml.safe_load_all(data) if d]
    except OSError as exc:
        raise GateInputError(f"cannot read pipeline package {path}: {exc.strerror}") from None
    except yaml.YAMLError:
        raise GateInputError(
            f"pipeline package {path} is not YAML; pass a compiled pipeline"
        ) from None
    spec = docs[0] if docs and isinstance(docs[0], dict) else {}
    info = spec.get("pipelineInfo") or {}
    if not info.get("name") or "root" not in spec:
        raise GateInputError(
            f"{path} is not a compiled KFP pipeline (no pipelineInfo/root); compile it with "
            "`quality-gates compile` or kfp.compiler"
        )
    params = ((spec.get("root") or {}).get("inputDefinitions") or {}).get("parameters") or {}
    return Package(
        path=path,
        digest=hashlib.sha256(data).hexdigest(),
        name=info["name"],
        description=info.get("description", ""),
        inputs=dict(params),
    )


def build_arguments(
    package: Package, named: dict[str, str | None], params: list[str]
) -> dict[str, Any]:
    """Merge the named flags and ``--param KEY=VALUE`` into the run's parameters.

    Values are converted to the declared ``parameterType`` (integers, numbers, booleans, JSON
    for lists and structs), so the API receives what the pipeline declared.

    Args:
        package: The pipeline being submitted; its declared inputs are the allowed keys.
        named: Pipeline parameter -> value from the dedicated flags (None when not given).
        params: ``KEY=VALUE`` strings.

    Returns:
        Parameter name -> value.

    Raises:
        GateInputError: Malformed or unknown key, a key given twice, a bad value for its type,
            or a required parameter missing.
    """
    declared = package.inputs
    flag_of = {k: "--" + k.replace("_", "-") for k in named}
    out: dict[str, Any] = {k: v for k, v in named.items() if v is not None}
    for item in params:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise GateInputError(f"--param {item!r} is not KEY=VALUE")
        if key not in declared:
            allowed = ", ".join(sorted(k for k in declared if k not in named))
            raise GateInputError(
                f"--param {key}: the pipeline '{package.name}' has no parameter '{key}'; "
                f"accepted: {allowed}"
            )
        if key in named:
            raise GateInputError(f"--param {key}: pass it with {flag_of[key]} instead")
        if key in out:
            raise GateInputError(f"--param {key} given twice")
        out[key] = _convert(key, value, declared[key].get("parameterType", "STRING"))
    missing = [
        k
        for k, d in declared.items()
        if k not in out and not d.get("isOptional") and "defaultValue" not in d
    ]
    if missing:
        hint = ", ".join(flag_of.get(k, f"--param {k}=...") for k in missing)
        raise GateInputError(f"missing required pipeline parameter(s): {hint}")
    unknown = [k for k in out if k not in declared]
    if unknown:
        raise GateInputError(
            f"the pipeline '{package.name}' declares no parameter {', '.join(unknown)}; "
            "was it compiled from another pipeline?"
        )
    return out


def _convert(key: str, value: str, kind: str) -> Any:
    try:
        if kind == "NUMBER_INTEGER":
            return int(value)
        if kind == "NUMBER_DOUBLE":
            return float(value)
        if kind == "BOOLEAN":
            lowered = value.strip().lower()
            if lowered not in ("true", "false"):
                raise ValueError(value)
            return lowered == "true"
        if kind in ("LIST", "STRUCT"):
            return json.loads(value)
    except ValueError:
        raise GateInputError(
            f"--param {key}={value!r} is not a valid {kind.lower().replace('_', ' ')}"
        ) from None
    return value


# --------------------------------------------------------------------------------------------
# Talking to the API
# --------------------------------------------------------------------------------------------


class _Scrubbed:
    """Replace credential values in text; a message may quote a header the server echoed."""

    def __init__(self, auth: Auth) -> None:
        self._secrets = sorted(auth.secrets(), key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text


def preflight(host: str, auth: Auth, *, namespace: str | None) -> dict[str, Any]:
    """Check that ``host`` is a reachable KFP API that accepts the credentials.

    ``kfp.Client`` retries a failing healthz five times, five seconds apart, and then raises a
    multi-line error; one direct request with a timeout answers in one line instead.

    Args:
        host: KFP endpoint, e.g. ``https://kubeflow.example.com/pipeline``.
        auth: Credentials.
        namespace: The ``--namespace`` given, if any.

    Returns:
        The healthz answer (``multi_user``, ...).

    Raises:
        GateInputError: Unreachable, refused credentials, not a KFP API, or a multi-user
            deployment without a namespace.
    """
    url = host.rstrip("/") + "/apis/v2beta1/healthz"
    request = urllib.request.Request(url, headers={"Accept": "application/json", **auth.headers()})
    scrub = _Scrubbed(auth)
    try:
        with urllib.request.urlopen(request, timeout=_PREFLIGHT_TIMEOUT_S) as resp:  # noqa: S310
            ctype = resp.headers.get("Content-Type", "")
            body = resp.read()
    except urllib.error.HTTPError as exc:
        raise GateInputError(_http_error(host, exc.code, "checking the API health", auth)) from None
    except urllib.error.URLError as exc:
        raise GateInputError(
            f"KFP endpoint {host} is unreachable ({_reason(exc.reason)}); check --host / "
            "KFP_HOST (e.g. http://127.0.0.1:8080 with `kubectl port-forward "
            "svc/ml-pipeline-ui 8080:80 -n kubeflow`)"
        ) from None
    except (TimeoutError, OSError) as exc:
        raise GateInputError(
            f"KFP endpoint {host} is unreachable ({_reason(exc)}); check --host"
        ) from None
    try:
        health = json.loads(body)
    except ValueError:
        health = None
    if not isinstance(health, dict) or "json" not in ctype:
        raise GateInputError(
            f"{host} did not answer as the KFP API (got {ctype or 'no content type'}, probably a "
            "login page); pass --token, --token-file or --cookie, and the pipelines endpoint as "
            "--host"
        )
    if health.get("multi_user") and not namespace:
        raise GateInputError(
            f"KFP at {scrub(host)} is multi-user; pass --namespace with your profile's namespace"
        )
    return health


def _http_error(host: str, status: int, doing: str, auth: Auth) -> str:
    if status in (401, 403):
        what = "refused the credentials" if status == 401 else "denied access"
        return (
            f"KFP at {host} {what} (HTTP {status}) while {doing}, using {auth.source}; pass a "
            "valid --token, --token-file or --cookie (and --namespace you may use)"
        )
    if status == 404:
        return (
            f"{host} has no KFP v2beta1 API (HTTP 404 while {doing}); pass the pipelines "
            "endpoint as --host (KFP 2.x)"
        )
    return f"KFP at {host} answered HTTP {status} while {doing}"


def _reason(reason: Any) -> str:
    if isinstance(reason, ConnectionRefusedError):
        return "connection refused"
    if isinstance(reason, ssl.SSLError):
        return f"TLS error: {reason.reason or reason}"
    if isinstance(reason, TimeoutError):
        return "timed out"
    text = str(getattr(reason, "strerror", None) or reason)
    return " ".join(text.split()) or type(reason).__name__


@contextlib.contextmanager
def api_errors(host: str, auth: Auth, doing: str) -> Iterator[None]:
    """Turn kfp_server_api and connection errors into one-line :class:`GateInputError`.

    Also silences the links and warnings ``kfp.Client`` prints: the CLI prints its own.
    """
    import kfp_server_api
    import urllib3

    scrub = _Scrubbed(auth)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore", FutureWarning)
            yield
    except kfp_server_api.ApiException as exc:
        if not exc.status:  # the generated client reports TLS and similar failures as status 0
            raise GateInputError(
                f"KFP endpoint {host} failed while {doing}: {scrub(str(exc.reason))}"
            ) from None
        message = _server_message(exc.body)
        line = _http_error(host, exc.status, doing, auth)
        if message and exc.status not in (401, 403, 404):
            line += f": {message}"
        raise GateInputError(scrub(line)) from None
    except urllib3.exceptions.HTTPError as exc:
        cause = getattr(exc, "reason", None) or exc
        raise GateInputError(
            f"KFP endpoint {host} is unreachable while {doing} ({scrub(_reason(cause))})"
        ) from None


def _server_message(body: Any) -> str:
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    try:
        data = json.loads(body)
    except (TypeError, ValueError):
        return ""
    return " ".join(str(data.get("message", "")).split()) if isinstance(data, dict) else ""


def connect(host: str, auth: Auth, *, namespace: str | None):
    """Return a ``kfp.Client`` for ``host`` with the credentials (call :func:`preflight` first).

    A token file is handed over as kfp's ``ServiceAccountTokenVolumeCredentials``, whose hook
    reads the file before every request, so a rotated token keeps working during ``--wait``.
    """
    import kfp
    from kfp.client.set_volume_credentials import ServiceAccountTokenVolumeCredentials

    kwargs: dict[str, Any] = {"host": host.rstrip("/")}
    if auth.token:
        kwargs["existing_token"] = auth.token
    if auth.token_file:
        kwargs["credentials"] = ServiceAccountTokenVolumeCredentials(path=auth.token_file)
    if auth.cookie:
        kwargs["cookies"] = auth.cookie
    if namespace:
        kwargs["namespace"] = namespace
    with api_errors(host, auth, "connecting"):
        return kfp.Client(**kwargs)


@dataclass(frozen=True)
class PipelineVersion:
    """The uploaded (or found) pipeline version a run starts from."""

    pipeline_id: str
    version_id: str
    version_name: str
    uploaded: bool


def ensure_pipeline_version(
    client, package: Package, *, pipeline_name: str, version_name: str
) -> PipelineVersion:
    """Return the version named ``version_name`` of ``pipeline_name``, uploading it if missing.

    A missing pipeline is created empty (``POST /apis/v2beta1/pipelines``) rather than with
    ``upload_pipeline``, which would add a first version named after the pipeline and so store
    the same YAML under two names. Concurrent submits that lose a create race (HTTP 409) look
    the winner up instead of failing.
    """
    import kfp_server_api

    pipeline_id = client.get_pipeline_id(pipeline_name)
    if pipeline_id is None:
        body = kfp_server_api.V2beta1Pipeline(
            display_name=pipeline_name, description=package.description or None
        )
        try:
            pipeline_id = client.pipelines.pipeline_service_create_pipeline(body).pipeline_id
        except kfp_server_api.ApiException as exc:
            if exc.status != 409:
                raise
            pipeline_id = client.get_pipeline_id(pipeline_name)
    found = _find_version(client, pipeline_id, version_name)
    if found:
        return PipelineVersion(pipeline_id, found, version_name, uploaded=False)
    try:
        version = client.upload_pipeline_version(
            str(package.path),
            pipeline_version_name=version_name,
            pipeline_id=pipeline_id,
            description=f"{package.name} sha256:{package.digest}",
        )
    except kfp_server_api.ApiException as exc:
        found = _find_version(client, pipeline_id, version_name) if exc.status == 409 else None
        if not found:
            raise
        return PipelineVersion(pipeline_id, found, version_name, uploaded=False)
    return PipelineVersion(pipeline_id, version.pipeline_version_id, version_name, uploaded=True)


def _find_version(client, pipeline_id: str, version_name: str) -> str | None:
    query = json.dumps(
        {"predicates": [{"operation": 1, "key": "display_name", "stringValue": version_name}]}
    )
    token = ""
    while True:
        page = client.list_pipeline_versions(
            pipeline_id, page_token=token, page_size=_LIST_PAGE_SIZE, filter=query
        )
        for version in page.pipeline_versions or []:
            # Checked here too: a server that ignores the filter must not pick a wrong version.
            if version_name in (version.display_name, version.name):
                return version.pipeline_version_id
        token = page.next_page_token or ""
        if not token:
            return None


@dataclass(frozen=True)
class RunOutcome:
    """Where a followed run ended.

    Attributes:
        state: The last runtime state seen.
        failed_tasks: Display names of the tasks the API reports as FAILED.
        error: The run's error message, when the API gives one.
        timed_out: True when the timeout passed before a final state.
    """

    state: str
    failed_tasks: list[str] = field(default_factory=list)
    error: str = ""
    timed_out: bool = False


def wait_for_run(
    client,
    run_id: str,
    *,
    timeout_s: float | None,
    poll_s: float,
    on_state: Callable[[str], None] | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> RunOutcome:
    """Poll ``get_run`` until the run ends or ``timeout_s`` passes.

    Our own loop rather than ``Client.wait_for_run_completion``: that one does not stop on
    ``CANCELED`` and cannot report a state change as it happens.

    Args:
        client: A ``kfp.Client``.
        run_id: The run to follow.
        timeout_s: Give up after this many seconds; None waits without limit.
        poll_s: Seconds between polls.
        on_state: Called with each new state.
        clock: Monotonic clock (injectable for tests of the loop itself).
        sleep: Sleep function.

    Returns:
        The :class:`RunOutcome`.
    """
    deadline = None if timeout_s is None else clock() + timeout_s
    last = ""
    while True:
        run = client.get_run(run_id)
        state = str(run.state or "RUNTIME_STATE_UNSPECIFIED")
        if state != last and on_state is not None:
            on_state(state)
        last = state
        if state == SUCCEEDED or state in FAILED_STATES:
            return RunOutcome(state, _failed_tasks(run), _run_error(run))
        if deadline is not None and clock() >= deadline:
            return RunOutcome(state, timed_out=True)
        pause = poll_s if deadline is None else max(0.0, min(poll_s, deadline - clock()))
        sleep(pause)


def _failed_tasks(run) -> list[str]:
    details = getattr(run, "run_details", None)
    tasks = getattr(details, "task_details", None) or []
    names = [t.display_name or t.task_id for t in tasks if str(t.state) == "FAILED"]
    return list(dict.fromkeys(n for n in names if n))


def _run_error(run) -> str:
    error = getattr(run, "error", None)
    return " ".join(str(getattr(error, "message", "") or "").split())


def compiled_or_given(package_path: str | None, workdir: str | None = None) -> Package:
    """Return the package to submit: the given YAML, or a fresh compile into a temp folder."""
    if package_path:
        return load_package(package_path)
    out = Path(workdir or tempfile.mkdtemp(prefix="quality-gates-submit-"))
    return compile_pipeline(out)
