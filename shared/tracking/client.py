"""The one module through which the project talks to an MLflow tracking server and registry.

Every registry and tracking call goes through :func:`client` inside :func:`mlflow_call`, which turns
a transport or server failure into one actionable line (unreachable, refused, or the server's own
error); :func:`ensure_reachable` probes an HTTP server first so that a down server is one quick
message, not minutes of retries. Registry conventions (the ``quality_gates.`` tag prefix, tag value
limits) live here too, so every writer of tags follows them.
"""

from __future__ import annotations

import base64
import os
import socket
import ssl
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from quality_gates.shared.contracts.errors import GateInputError, missing_module_hint, redact

if TYPE_CHECKING:  # pragma: no cover - typing only
    from mlflow import MlflowClient

_HEALTH_TIMEOUT_S = 10.0

TAG_PREFIX = "quality_gates."
# Conservative limits that every MLflow server version accepts (older servers store run tags and
# model version tags in 5000-character columns).
MAX_TAG_VALUE = 5000
_TRUNCATED = "...[truncated]"


def resolve_tracking_uri(tracking_uri: str | None) -> str:
    """Return ``tracking_uri``, or MLflow's default (``MLFLOW_TRACKING_URI``) when empty."""
    if tracking_uri:
        return tracking_uri
    import mlflow

    return mlflow.get_tracking_uri()


def credentials_to_env(tracking_uri: str | None) -> str | None:
    """Move the user info of an ``http(s)`` tracking URI into MLflow's credential variables.

    A URI becomes a pipeline parameter, which kfp stores in plain text (executor inputs, the
    KFP UI); the credentials travel in ``MLFLOW_TRACKING_USERNAME``/``_PASSWORD`` instead (set
    only when unset), which the local runner's tasks inherit.

    Args:
        tracking_uri: The URI as given, or None.

    Returns:
        The URI without user info (unchanged when it has none).
    """
    if not tracking_uri:
        return tracking_uri
    parsed = urllib.parse.urlsplit(tracking_uri)
    if parsed.scheme not in ("http", "https") or "@" not in parsed.netloc:
        return tracking_uri
    if parsed.username is not None:
        os.environ.setdefault("MLFLOW_TRACKING_USERNAME", urllib.parse.unquote(parsed.username))
        os.environ.setdefault(
            "MLFLOW_TRACKING_PASSWORD", urllib.parse.unquote(parsed.password or "")
        )
    netloc = parsed.netloc.rsplit("@", 1)[-1]
    return urllib.parse.urlunsplit(parsed._replace(netloc=netloc))


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect is an answer: the server is up; the credential is never sent elsewhere."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # noqa: ANN001, ANN201
        return None


def _probe_target(tracking_uri: str) -> tuple[str, dict[str, str]]:
    """The URL to probe without user info, and the credential headers MLflow would send.

    ``http://user:secret@host:5000`` is not a URL urllib can open (it takes ``user:secret@host``
    for the host name); MLflow sends the user info as basic auth, so the probe does the same.
    """
    parsed = urllib.parse.urlsplit(tracking_uri)
    netloc = parsed.netloc.rsplit("@", 1)[-1]
    url = urllib.parse.urlunsplit((parsed.scheme, netloc, parsed.path.rstrip("/"), "", ""))
    user, password = parsed.username, parsed.password
    if user is None:
        user = os.environ.get("MLFLOW_TRACKING_USERNAME")
        password = os.environ.get("MLFLOW_TRACKING_PASSWORD")
    headers: dict[str, str] = {}
    token = os.environ.get("MLFLOW_TRACKING_TOKEN")
    if user:
        pair = f"{urllib.parse.unquote(user)}:{urllib.parse.unquote(password or '')}"
        headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode("ascii")
    elif token:
        headers["Authorization"] = f"Bearer {token}"
    return url, headers


def _probe(url: str, headers: dict[str, str]) -> int | BaseException | None:
    """GET ``url``: its HTTP status, the transport failure, or None for an answer to leave be."""
    opener = urllib.request.build_opener(_NoRedirects())
    try:
        with opener.open(urllib.request.Request(url, headers=headers), timeout=_HEALTH_TIMEOUT_S):
            return 200
    except urllib.error.HTTPError as exc:
        return exc.code
    except urllib.error.URLError as exc:
        return None if isinstance(exc.reason, ssl.SSLError) else exc.reason
    except (TimeoutError, ConnectionError, OSError) as exc:
        return exc


def ensure_reachable(tracking_uri: str) -> None:
    """Fail fast, in one line, when an HTTP tracking server does not answer or refuses access.

    MLflow retries a refused connection for minutes before it gives up with a long traceback;
    a quick ``/health`` probe turns that into an actionable message that tells the causes apart:
    connection refused, a host name that does not resolve, no answer, and a server that refuses
    the credentials (HTTP 401/403). With credentials configured (user info in the URI, or
    ``MLFLOW_TRACKING_USERNAME``/``_PASSWORD``/``_TOKEN``) one API request checks that they are
    accepted (MLflow's ``/health`` is open to anyone). Other HTTP answers and TLS problems are
    left to MLflow. The password is never echoed.

    Args:
        tracking_uri: The tracking URI; only ``http(s)`` URIs are probed.

    Raises:
        GateInputError: The server is unreachable or refused the credentials.
    """
    parsed = urllib.parse.urlparse(tracking_uri)
    if parsed.scheme not in ("http", "https"):
        return
    shown = redact(tracking_uri)
    url, headers = _probe_target(tracking_uri)
    found = _probe(url + "/health", headers)
    if isinstance(found, int) and found not in (401, 403) and headers:
        found = _probe(url + "/api/2.0/mlflow/experiments/search?max_results=1", headers)
        found = found if found == 401 else None
    if found is None or (isinstance(found, int) and found not in (401, 403)):
        return
    if isinstance(found, int):
        raise GateInputError(_refused(shown, found, credentials=bool(headers)))
    raise GateInputError(
        f"MLflow tracking server {shown} is unreachable ({_reason(found, parsed.hostname)}); "
        "start it or set MLFLOW_TRACKING_URI (or --tracking-uri) to a reachable server"
    )


def _refused(shown: str, status: int, *, credentials: bool) -> str:
    if credentials:
        return (
            f"MLflow tracking server {shown} answered HTTP {status}: the server refused the "
            "credentials; check the user name and password (or MLFLOW_TRACKING_TOKEN) and the "
            "user's permissions"
        )
    return (
        f"MLflow tracking server {shown} answered HTTP {status}: the server needs credentials; "
        "set MLFLOW_TRACKING_USERNAME/MLFLOW_TRACKING_PASSWORD or MLFLOW_TRACKING_TOKEN"
    )


def ensure_sqlite_exists(tracking_uri: str, uri: str) -> None:
    """Refuse to look a model up in a sqlite registry file that does not exist.

    MLflow would create an empty database there (``./mlflow.db`` when no tracking URI is set)
    and then report the model missing: a forgotten ``MLFLOW_TRACKING_URI`` deserves its own
    message, and a read must not leave a new database behind.
    """
    if not tracking_uri.startswith("sqlite:///") or os.environ.get("MLFLOW_REGISTRY_URI"):
        return  # a separate registry URI serves models:/ lookups; not ours to judge
    raw = urllib.parse.unquote(tracking_uri[len("sqlite:///") :].split("?", 1)[0])
    if not raw or raw == ":memory:" or Path(raw).exists():
        return
    raise GateInputError(
        f"cannot resolve {uri}: the MLflow registry {tracking_uri} does not exist (no such "
        f"sqlite file {Path(raw).resolve()}); pass --tracking-uri or set MLFLOW_TRACKING_URI "
        "to the registry that holds the model"
    )


def _reason(reason: Any, host: str | None = None) -> str:
    if isinstance(reason, ConnectionRefusedError):
        return "connection refused: nothing listens on that host and port"
    if isinstance(reason, socket.gaierror):
        return f"host name {host!r} not found (DNS)" if host else "host name not found (DNS)"
    if isinstance(reason, (TimeoutError, socket.timeout)):
        return f"no answer within {_HEALTH_TIMEOUT_S:.0f} s"
    return redact(" ".join(str(reason).split())) or type(reason).__name__


def connect(tracking_uri: str) -> MlflowClient:
    """Return an ``MlflowClient`` for ``tracking_uri`` (call it inside :func:`mlflow_call`)."""
    from mlflow import MlflowClient

    # The registry URI follows MLFLOW_REGISTRY_URI when set, else the tracking URI.
    return MlflowClient(tracking_uri=tracking_uri)


def error_code(exc: BaseException) -> str | None:
    """Return the MLflow error code of an exception (``RESOURCE_DOES_NOT_EXIST`` ...), if any."""
    return getattr(exc, "error_code", None)


def _is_connection_error(exc: BaseException) -> bool:
    text = str(exc)
    return any(
        s in text
        for s in ("Max retries exceeded", "Connection refused", "Failed to establish a new conn")
    )


def mlflow_error(exc: BaseException, *, doing: str, tracking_uri: str) -> GateInputError:
    """Translate an MLflow/transport exception into one actionable line."""
    code = error_code(exc)
    if _is_connection_error(exc):
        return GateInputError(
            f"MLflow tracking server {tracking_uri} is unreachable while {doing}; start it or set "
            "MLFLOW_TRACKING_URI to a reachable server"
        )
    text = str(exc)
    if code == "UNAUTHENTICATED" or "error code 401" in text:
        return GateInputError(
            f"MLflow at {tracking_uri} refused access while {doing} (unauthenticated): the "
            "server refused the credentials, or needs some; set MLFLOW_TRACKING_TOKEN or "
            "MLFLOW_TRACKING_USERNAME/MLFLOW_TRACKING_PASSWORD"
        )
    if code == "PERMISSION_DENIED" or "error code 403" in text:
        return GateInputError(
            f"MLflow at {tracking_uri} refused access while {doing} ({code or 'forbidden'}): "
            "the user lacks the permission; ask an MLflow admin, or set MLFLOW_TRACKING_TOKEN "
            "or MLFLOW_TRACKING_USERNAME/MLFLOW_TRACKING_PASSWORD for a user that has it"
        )
    return GateInputError(
        f"MLflow error while {doing} (tracking URI {tracking_uri}): {missing_module_hint(exc)}"
    )


@contextmanager
def mlflow_call(*, doing: str, tracking_uri: str) -> Iterator[None]:
    """Run MLflow calls; anything but a GateInputError becomes one actionable line."""
    try:
        yield
    except GateInputError:
        raise
    except Exception as exc:  # noqa: BLE001 - every failure is reported as one line
        raise mlflow_error(exc, doing=doing, tracking_uri=tracking_uri) from None


def alias_version(client: MlflowClient, name: str, alias: str, *, tracking_uri: str) -> str | None:
    """Version held by ``alias``; None when the alias is unset; error when the model is missing."""
    try:
        registered = client.get_registered_model(name)
    except Exception as exc:
        if error_code(exc) == "RESOURCE_DOES_NOT_EXIST":
            raise ModelMissing(name) from None
        raise
    version = (registered.aliases or {}).get(alias)
    return str(version) if version is not None else None


class ModelMissing(GateInputError):
    """The registered model named in a lookup does not exist."""

    def __init__(self, name: str) -> None:
        super().__init__(f"registered model '{name}' not found")
        self.name = name


def tag_value(value: Any, limit: int) -> str:
    """Return ``value`` as text cut to ``limit`` characters, marked when it was cut.

    Args:
        value: A tag or parameter value.
        limit: The server's column width for that kind of value.

    Returns:
        The text, at most ``limit`` characters.
    """
    text = value if isinstance(value, str) else str(value)
    if len(text) <= limit:
        return text
    return text[: limit - len(_TRUNCATED)] + _TRUNCATED


def ensure_experiment(client: MlflowClient, name: str, *, tracking_uri: str) -> str:
    """Return the id of experiment ``name``, creating it when absent (safe under races).

    Args:
        client: A client from :func:`connect`.
        name: Experiment name.
        tracking_uri: For messages.

    Returns:
        The experiment id.

    Raises:
        GateInputError: When the experiment exists but is deleted.
    """
    exp = client.get_experiment_by_name(name)
    if exp is None:
        try:
            return client.create_experiment(name)
        except Exception as exc:
            if error_code(exc) != "RESOURCE_ALREADY_EXISTS":
                raise
            exp = client.get_experiment_by_name(name)  # created concurrently
            if exp is None:
                raise
    if exp.lifecycle_stage == "deleted":
        raise GateInputError(
            f"MLflow experiment '{name}' is deleted at tracking URI {tracking_uri}; restore it "
            "(mlflow experiments restore) or use another experiment name"
        )
    return exp.experiment_id


def parse_version_uri(uri: str) -> tuple[str, str | None, str | None]:
    """Split ``models:/<name>/<version>`` or ``models:/<name>@<alias>``.

    Args:
        uri: The URI.

    Returns:
        ``(name, version, alias)``, exactly one of version and alias set.

    Raises:
        GateInputError: Any other form (a logged model id, a path inside the version, a stage).
    """
    rest = uri[len("models:/") :] if uri.startswith("models:/") else ""
    name, at, alias = rest.partition("@")
    if at and name and alias and "/" not in rest:
        return name, None, alias
    name, slash, version = rest.partition("/")
    if slash and name and version.isdigit():
        return name, version, None
    raise GateInputError(
        f"{uri} is not a registered model version; use models:/<name>/<version> or "
        "models:/<name>@<alias>"
    )


def get_version(client: MlflowClient, name: str, version: str, *, tracking_uri: str) -> Any:
    """Return a registered model version, or a one-line error when it does not exist.

    Args:
        client: The MLflow client.
        name: Registered model name.
        version: Version number.
        tracking_uri: MLflow tracking URI, for the message.

    Returns:
        The ``ModelVersion``.

    Raises:
        GateInputError: No such version (any other MLflow failure propagates).
    """
    try:
        return client.get_model_version(name, str(version))
    except Exception as exc:
        if error_code(exc) == "RESOURCE_DOES_NOT_EXIST":
            raise GateInputError(
                f"registered model '{name}' version {version} not found at tracking URI "
                f"{tracking_uri}; check the name and version, or set MLFLOW_TRACKING_URI"
            ) from None
        raise


def _version_run(client: MlflowClient, uri: str, tracking_uri: str) -> tuple[str, str, str]:
    """``(name, version, run id)`` of a ``models:/`` version URI (an alias resolved)."""
    name, version, alias = parse_version_uri(uri)
    if alias is not None:
        try:
            version = alias_version(client, name, alias, tracking_uri=tracking_uri)
        except ModelMissing:
            raise GateInputError(f"{uri}: registered model '{name}' not found") from None
        if version is None:
            raise GateInputError(f"{uri}: no version of '{name}' holds alias '{alias}'")
    mv = get_version(client, name, str(version), tracking_uri=tracking_uri)
    if not mv.run_id:
        raise GateInputError(
            f"{uri}: version {mv.version} of '{name}' has no MLflow run to keep artifacts in; "
            "register the version from a run"
        )
    return name, str(mv.version), mv.run_id


def log_version_artifact(
    uri: str, local_path: Path, *, artifact_path: str, tag: str, tag_value_: str, tracking_uri: str
) -> str:
    """Store a file as an artifact of a model version's run and tag the version with it.

    Args:
        uri: ``models:/<name>/<version>`` or ``models:/<name>@<alias>``.
        local_path: The file.
        artifact_path: Folder inside the run's artifacts.
        tag: Version tag name (under :data:`TAG_PREFIX`), e.g. the file's digest.
        tag_value_: Its value.
        tracking_uri: MLflow tracking URI.

    Returns:
        ``models:/<name>/<version>`` of the version it was stored with.
    """
    ensure_reachable(tracking_uri)
    with mlflow_call(doing=f"storing {local_path.name} with {uri}", tracking_uri=tracking_uri):
        client = connect(tracking_uri)
        name, version, run_id = _version_run(client, uri, tracking_uri)
        client.log_artifact(run_id, str(local_path), artifact_path)
        client.set_model_version_tag(
            name, version, TAG_PREFIX + tag, tag_value(tag_value_, MAX_TAG_VALUE)
        )
    return f"models:/{name}/{version}"


def download_version_artifact(
    uri: str, artifact: str, dst: Path, *, tracking_uri: str
) -> tuple[Path | None, str]:
    """Fetch one artifact of a model version's run.

    Args:
        uri: ``models:/<name>/<version>`` or ``models:/<name>@<alias>``.
        artifact: The artifact's path in the run (``folder/file``).
        dst: Local folder to download into.
        tracking_uri: MLflow tracking URI.

    Returns:
        The local file (None when the run has no such artifact) and ``models:/<name>/<version>``.
    """
    ensure_reachable(tracking_uri)
    with mlflow_call(doing=f"reading {artifact} of {uri}", tracking_uri=tracking_uri):
        client = connect(tracking_uri)
        name, version, run_id = _version_run(client, uri, tracking_uri)
        folder, _, file = artifact.rpartition("/")
        listed = {f.path for f in client.list_artifacts(run_id, folder or None)}
        if artifact not in listed:
            return None, f"models:/{name}/{version}"
        local = client.download_artifacts(run_id, artifact, str(dst))
    return Path(local), f"models:/{name}/{version}"
