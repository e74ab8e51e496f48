"""Model loading: the exact bytes a gate evaluates, their digest, and one call to predict.

Every gate loads the candidate through :func:`load_model`, which fetches the model to a local
path first, hashes those bytes (``sha256:<hex>``) and then deserialises from the same bytes, so the
digest in a GateResult is the digest of what was evaluated. Promotion re-hashes with
:func:`model_digest` and refuses a model whose bytes changed.

Supported URIs:

* ``models:/<name>/<version>`` and ``models:/<name>@<alias>`` (registered models; an alias is
  resolved to its version number first, so a concurrent alias move cannot mix two versions),
  ``models:/<model_id>`` (an MLflow 3 logged model);
* ``runs:/<run_id>/<path>`` (an MLflow 3 logged model named ``<path>`` of that run, or a run
  artifact);
* any artifact URI MLflow can download (``mlflow-artifacts:/``, ``s3://``, ``gs://`` ...);
* a local MLflow model folder (has an ``MLmodel`` file), also as ``file://``;
* local ``.joblib`` / ``.pkl`` files (joblib) and ``.skops`` files.

MLflow URIs are resolved to a concrete artifact location with an explicit
:class:`~mlflow.MlflowClient` instead of ``mlflow.artifacts.download_artifacts("models:/...")``:
in MLflow 3 the ``models:/`` artifact repository resolves names against the *global* registry URI
and ignores the ``tracking_uri`` argument, which would silently look in ``./mlflow.db``.

Trust: deserialising a pickle (``.joblib``/``.pkl``, MLflow ``pickle``/``cloudpickle`` formats)
executes code from the file, and a ``.skops`` file is loaded with every type it names marked as
trusted (:func:`skops.io.get_untrusted_types`). Evaluating a model means running it, so loading it
is the same trust decision: point the gates only at models from a registry or a bucket you
control. MLflow's own switch ``MLFLOW_ALLOW_PICKLE_DESERIALIZATION=false`` is honoured for MLflow
models and reported as a one-line error.
"""

from __future__ import annotations

import io
import shutil
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from quality_gates.shared.contracts.digests import sha256_bytes, sha256_tree
from quality_gates.shared.contracts.errors import GateInputError, describe, missing_module_hint
from quality_gates.shared.tracking.client import (
    ModelMissing,
    alias_version,
    connect,
    ensure_reachable,
    ensure_sqlite_exists,
    error_code,
    get_version,
    mlflow_call,
    resolve_tracking_uri,
)

if TYPE_CHECKING:  # pragma: no cover - typing only
    from mlflow import MlflowClient

JOBLIB_SUFFIXES = (".joblib", ".pkl")
SKOPS_SUFFIXES = (".skops",)
MODEL_FILE_SUFFIXES = JOBLIB_SUFFIXES + SKOPS_SUFFIXES
MLMODEL_FILE = "MLmodel"
# MLflow writes this bookkeeping file into a folder it downloads through a ``models:/`` URI; it is
# not part of the stored model, differs per URI form and must not change the digest.
_CLIENT_SIDE_FILES = ("registered_model_meta",)
_HEALTH_TIMEOUT_S = 10.0
# How artifact stores say "no such path" (MLflow proxy, local files, S3, GCS) when MLflow wraps it
# in a generic download error.
_NOT_FOUND_MARKERS = (
    "RESOURCE_DOES_NOT_EXIST",
    "No such artifact",
    "404 Client Error",
    "does not exist",
    "No such file or directory",
    "NoSuchKey",
    "Not Found",
)
_SUPPORTED = (
    "models:/name/<version>, models:/name@alias, runs:/<run_id>/<path>, an MLflow artifact URI, "
    "a local MLflow model folder, or a .joblib/.pkl/.skops file"
)


@dataclass(frozen=True)
class LoadedModel:
    """A model ready to predict, with the digest of the bytes it was loaded from.

    Attributes:
        model: The native estimator for the ``sklearn`` flavor (so ``predict_proba`` and
            ``classes_`` are available), else the MLflow pyfunc model.
        uri: The URI as given.
        digest: ``sha256:<hex>`` of the exact bytes loaded (a file, or the MLflow model folder).
        local_path: Where those bytes are on disk.
        flavor: ``sklearn`` or ``pyfunc`` (any MLflow model without the sklearn flavor).
        registered_name: Registered model name for ``models:/name/...`` URIs.
        version: Resolved version number (also for ``models:/name@alias``).
        run_id: MLflow run that produced the model, when known.
        feature_names: Input columns, from ``feature_names_in_`` or the MLflow signature.
    """

    model: Any
    uri: str
    digest: str
    local_path: str
    flavor: str
    registered_name: str | None = None
    version: str | None = None
    run_id: str | None = None
    feature_names: list[str] | None = None


@dataclass(frozen=True)
class Predictions:
    """What a model said about the evaluation rows.

    Attributes:
        y_pred: Raw predictions (original label values), one per row.
        y_score: ``predict_proba`` output ``(n, K)`` for classifiers when available, else None.
        classes: ``model.classes_`` when available (column order of ``y_score``).
    """

    y_pred: np.ndarray
    y_score: np.ndarray | None
    classes: list | None


# --------------------------------------------------------------------------------------------
# MLflow plumbing shared with registry.py
# --------------------------------------------------------------------------------------------


# --------------------------------------------------------------------------------------------
# Resolving a URI to bytes on disk
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Fetched:
    """A model resolved to bytes on local disk, with its digest and where it came from."""

    local_path: Path
    digest: str
    data: bytes | None = None  # the file's bytes when the model is a single file
    registered_name: str | None = None
    version: str | None = None
    run_id: str | None = None
    model_id: str | None = None
    artifact_uri: str | None = None  # concrete artifact location for MLflow sources
    owned_dir: Path | None = None  # temporary folder created here, removed by model_digest


@dataclass(frozen=True)
class _Remote:
    artifact_uri: str
    registered_name: str | None = None
    version: str | None = None
    run_id: str | None = None
    model_id: str | None = None


def _scheme(uri: str) -> str:
    scheme = urllib.parse.urlparse(uri).scheme
    # A one-letter scheme is a Windows drive ("C:\\models\\m.joblib"), not a URI.
    return "" if len(scheme) <= 1 else scheme.lower()


def _local_path(uri: str) -> Path | None:
    scheme = _scheme(uri)
    if scheme == "":
        return Path(uri).expanduser()
    if scheme == "file":
        parsed = urllib.parse.urlparse(uri)
        return Path(urllib.request.url2pathname(parsed.path))
    return None


@dataclass(frozen=True)
class _ModelsUri:
    name: str | None
    version: str | None
    alias: str | None
    model_id: str | None
    subpath: str


def _parse_models_uri(uri: str) -> _ModelsUri:
    parsed = urllib.parse.urlparse(uri)
    if parsed.netloc:
        raise GateInputError(
            f"unsupported model URI {uri}: models:// with a profile is not supported; use "
            "models:/name/<version> with MLFLOW_TRACKING_URI set"
        )
    parts = [p for p in parsed.path.split("/") if p]
    if not parts:
        raise GateInputError(f"model URI {uri} names no model; use models:/name/<version>")
    head, rest = parts[0], parts[1:]
    if "@" in head:
        name, _, alias = head.partition("@")
        if not name or not alias:
            raise GateInputError(f"model URI {uri} is malformed; use models:/name@alias")
        return _ModelsUri(name, None, alias, None, "/".join(rest))
    if not rest:
        # MLflow 3: models:/<model_id> addresses a logged model.
        return _ModelsUri(None, None, None, head, "")
    version = rest[0]
    if not version.isdigit():
        raise GateInputError(
            f"model URI {uri}: version '{version}' is not a number; use models:/{head}/<version> "
            f"or models:/{head}@<alias> (stages such as 'latest' are not supported)"
        )
    return _ModelsUri(head, version, None, None, "/".join(rest[1:]))


def _join(base: str, sub: str) -> str:
    return base.rstrip("/") + "/" + sub.strip("/") if sub else base


def _resolve_models_uri(uri: str, client: MlflowClient, tracking_uri: str) -> _Remote:
    spec = _parse_models_uri(uri)
    if spec.model_id:
        with mlflow_call(
            doing=f"looking up logged model {spec.model_id}", tracking_uri=tracking_uri
        ):
            try:
                logged = client.get_logged_model(spec.model_id)
            except Exception as exc:
                if error_code(exc) == "RESOURCE_DOES_NOT_EXIST":
                    raise GateInputError(
                        f"MLflow model {uri} not found: no registered version given and no logged "
                        f"model with id '{spec.model_id}' at tracking URI {tracking_uri}; use "
                        "models:/name/<version> or models:/name@alias"
                    ) from None
                raise
        return _Remote(
            artifact_uri=logged.artifact_location,
            run_id=logged.source_run_id,
            model_id=logged.model_id,
        )
    name = spec.name or ""
    doing = f"looking up registered model '{name}'"
    with mlflow_call(doing=doing, tracking_uri=tracking_uri):
        version = spec.version
        if spec.alias is not None:
            version = alias_version(client, name, spec.alias, tracking_uri=tracking_uri)
            if version is None:
                raise GateInputError(
                    f"alias '{spec.alias}' of registered model '{name}' not found at tracking "
                    f"URI {tracking_uri}; set the alias or use models:/{name}/<version>"
                )
        mv = get_version(client, name, str(version), tracking_uri=tracking_uri)
        if str(mv.status) not in ("READY", "ModelVersionStatus.READY"):
            raise GateInputError(
                f"registered model '{name}' version {mv.version} is {mv.status}, not READY; wait "
                "for registration to finish or pick another version"
            )
        download_uri = client.get_model_version_download_uri(name, str(mv.version))
    return _Remote(
        artifact_uri=_join(download_uri, spec.subpath),
        registered_name=name,
        version=str(mv.version),
        run_id=mv.run_id or None,
        model_id=getattr(mv, "model_id", None) or None,
    )


def _resolve_runs_uri(uri: str, client: MlflowClient, tracking_uri: str) -> _Remote:
    parsed = urllib.parse.urlparse(uri)
    parts = [p for p in parsed.path.split("/") if p]
    if len(parts) < 2:
        raise GateInputError(f"model URI {uri} is malformed; use runs:/<run_id>/<artifact path>")
    run_id, path = parts[0], "/".join(parts[1:])
    with mlflow_call(doing=f"looking up run {run_id}", tracking_uri=tracking_uri):
        try:
            run = client.get_run(run_id)
        except Exception as exc:
            if error_code(exc) == "RESOURCE_DOES_NOT_EXIST":
                raise GateInputError(
                    f"MLflow run {run_id} not found at tracking URI {tracking_uri}; check the "
                    "run id or set MLFLOW_TRACKING_URI"
                ) from None
            raise
        # MLflow 3 stores a model logged in a run as a "logged model" outside the run's
        # artifacts; runs:/<run_id>/<name> addresses it by name, as mlflow itself does.
        first, _, rest = path.partition("/")
        page_token = None
        while True:
            page = client.search_logged_models(
                experiment_ids=[run.info.experiment_id],
                filter_string=f"source_run_id = '{run_id}'",
                page_token=page_token,
            )
            for logged in page:
                if logged.name == first and logged.source_run_id == run_id:
                    return _Remote(
                        artifact_uri=_join(logged.artifact_location, rest),
                        run_id=run_id,
                        model_id=logged.model_id,
                    )
            page_token = page.token
            if not page_token:
                break
    return _Remote(artifact_uri=_join(run.info.artifact_uri, path), run_id=run_id)


def _resolve_remote(uri: str, client: MlflowClient, tracking_uri: str, depth: int = 0) -> _Remote:
    scheme = _scheme(uri)
    if depth > 3:
        raise GateInputError(f"model URI {uri} resolves in a loop; register the model again")
    if scheme == "models":
        remote = _resolve_models_uri(uri, client, tracking_uri)
    elif scheme == "runs":
        remote = _resolve_runs_uri(uri, client, tracking_uri)
    else:
        return _Remote(artifact_uri=uri)
    # A registered version's download URI may itself be runs:/ or models:/<id>.
    if _scheme(remote.artifact_uri) in ("models", "runs"):
        inner = _resolve_remote(remote.artifact_uri, client, tracking_uri, depth + 1)
        return _Remote(
            artifact_uri=inner.artifact_uri,
            registered_name=remote.registered_name or inner.registered_name,
            version=remote.version or inner.version,
            run_id=remote.run_id or inner.run_id,
            model_id=remote.model_id or inner.model_id,
        )
    return remote


def _download(remote: _Remote, *, uri: str, tracking_uri: str, dst: Path) -> Path:
    import mlflow.artifacts

    with mlflow_call(doing=f"downloading {uri}", tracking_uri=tracking_uri):
        try:
            local = mlflow.artifacts.download_artifacts(
                artifact_uri=remote.artifact_uri, dst_path=str(dst), tracking_uri=tracking_uri
            )
        except Exception as exc:
            if error_code(exc) == "RESOURCE_DOES_NOT_EXIST" or any(
                marker in str(exc) for marker in _NOT_FOUND_MARKERS
            ):
                raise GateInputError(
                    f"model artifacts of {uri} not found at {remote.artifact_uri} (tracking URI "
                    f"{tracking_uri}); check the path"
                ) from None
            raise
    path = Path(local)
    if not path.exists() or (path.is_dir() and not any(path.iterdir())):
        raise GateInputError(
            f"model artifacts of {uri} not found at {remote.artifact_uri} (tracking URI "
            f"{tracking_uri}); check the path"
        )
    for name in _CLIENT_SIDE_FILES:
        extra = path / name
        if path.is_dir() and extra.is_file():
            extra.unlink()
    return path


def fetch(uri: str, *, tracking_uri: str | None, dst_dir: str | None, read: bool) -> Fetched:
    """Put the model's bytes on local disk and hash them (reading a single file once)."""
    if not isinstance(uri, str) or not uri.strip():
        raise GateInputError(f"no model URI given; pass one of: {_SUPPORTED}")
    uri = uri.strip()
    local = _local_path(uri)
    if local is not None:
        return _fetch_local(local, uri=uri, read=read)
    scheme = _scheme(uri)
    if scheme == "models":
        _parse_models_uri(uri)  # a malformed URI needs no server (and no default sqlite file)
    tracking = resolve_tracking_uri(tracking_uri)
    if scheme in ("models", "runs", "mlflow-artifacts"):
        ensure_reachable(tracking)
    if scheme in ("models", "runs"):
        ensure_sqlite_exists(tracking, uri)
    try:
        with mlflow_call(doing=f"resolving {uri}", tracking_uri=tracking):
            remote = _resolve_remote(uri, connect(tracking), tracking)
    except ModelMissing as exc:
        raise GateInputError(
            f"registered model '{exc.name}' not found at tracking URI {tracking}; register it "
            "first or set MLFLOW_TRACKING_URI to the server that holds it"
        ) from None
    if dst_dir:
        Path(dst_dir).mkdir(parents=True, exist_ok=True)
    # A fresh folder per download: leftovers of an earlier download must not enter the digest.
    owned = Path(tempfile.mkdtemp(prefix="qg-model-", dir=dst_dir or None))
    try:
        path = _download(remote, uri=uri, tracking_uri=tracking, dst=owned)
        data = path.read_bytes() if (read and path.is_file()) else None
        digest = sha256_bytes(data) if data is not None else sha256_tree(path)
    except BaseException:
        shutil.rmtree(owned, ignore_errors=True)
        raise
    return Fetched(
        local_path=path,
        digest=digest,
        data=data,
        registered_name=remote.registered_name,
        version=remote.version,
        run_id=remote.run_id,
        model_id=remote.model_id,
        artifact_uri=remote.artifact_uri,
        owned_dir=owned,
    )


def _fetch_local(path: Path, *, uri: str, read: bool) -> Fetched:
    if path.is_dir():
        if not (path / MLMODEL_FILE).is_file():
            raise GateInputError(
                f"folder {path} is not an MLflow model (no MLmodel file); pass an MLflow model "
                "folder or a .joblib/.pkl/.skops file"
            )
        return Fetched(local_path=path, digest=sha256_tree(path))
    if not path.exists():
        raise GateInputError(
            f"model file {path} does not exist; check the path or pass one of: {_SUPPORTED}"
        )
    suffix = path.suffix.lower()
    if suffix not in MODEL_FILE_SUFFIXES and path.name != MLMODEL_FILE:
        raise GateInputError(
            f"unsupported model file extension '{suffix or path.name}' for {path}; use "
            ".joblib, .pkl, .skops or an MLflow model folder"
        )
    if path.name == MLMODEL_FILE:
        return _fetch_local(path.parent, uri=uri, read=read)
    try:
        data = path.read_bytes() if read else None
        digest = sha256_bytes(data) if data is not None else sha256_tree(path)
    except OSError as exc:
        raise GateInputError(
            f"cannot read model file {path}: {describe(exc, mask=False)}"
        ) from None
    return Fetched(local_path=path, digest=digest, data=data)


# --------------------------------------------------------------------------------------------
# Deserialising
# --------------------------------------------------------------------------------------------


def load_file_bytes(data: bytes, *, path: Path) -> Any:
    """Deserialise a single model file (skops, joblib) from the bytes that were hashed.

    Args:
        data: The file's bytes.
        path: Its path (the suffix picks the loader; named in messages).

    Returns:
        The model object.
    """
    suffix = path.suffix.lower()
    if suffix in SKOPS_SUFFIXES:
        import skops.io

        try:
            # Trust decision (see module docstring): every type the file names is allowed.
            trusted = skops.io.get_untrusted_types(data=data)
            return skops.io.loads(data, trusted=trusted)
        except Exception as exc:  # noqa: BLE001 - corrupt or foreign files fail in many ways
            raise GateInputError(
                f"cannot load model file {path} as skops: {missing_module_hint(exc)}; re-save "
                "it with skops.io.dump"
            ) from None
    if suffix in JOBLIB_SUFFIXES:
        import joblib

        try:
            return joblib.load(io.BytesIO(data))
        except Exception as exc:  # noqa: BLE001 - unpickling fails in many ways
            raise GateInputError(
                f"cannot load model file {path} with joblib: {missing_module_hint(exc)}; "
                "re-save the fitted estimator with joblib.dump"
            ) from None
    raise GateInputError(
        f"unsupported model file extension '{suffix}' for {path}; use .joblib, .pkl, .skops or "
        "an MLflow model folder"
    )


def _signature_names(model_dir: Path) -> list[str] | None:
    try:
        from mlflow.models import Model

        signature = Model.load(str(model_dir / MLMODEL_FILE)).signature
        if signature is None or signature.inputs is None:
            return None
        names = signature.inputs.input_names()
        return [str(n) for n in names] if names and all(isinstance(n, str) for n in names) else None
    except Exception:  # noqa: BLE001 - a signature is optional metadata
        return None


def _load_mlflow_dir(model_dir: Path, *, uri: str) -> tuple[Any, str]:
    from mlflow.models import Model

    try:
        flavors = Model.load(str(model_dir / MLMODEL_FILE)).flavors
    except Exception as exc:  # noqa: BLE001
        raise GateInputError(
            f"MLmodel file of {uri} is unreadable: {describe(exc, mask=False)}; re-log the model"
        ) from None
    try:
        if "sklearn" in flavors:
            import mlflow.sklearn

            return mlflow.sklearn.load_model(str(model_dir)), "sklearn"
        if "python_function" in flavors:
            import mlflow.pyfunc

            return mlflow.pyfunc.load_model(str(model_dir)), "pyfunc"
    except Exception as exc:  # noqa: BLE001
        if "MLFLOW_ALLOW_PICKLE_DESERIALIZATION" in str(exc):
            raise GateInputError(
                f"cannot load MLflow model {uri}: MLFLOW_ALLOW_PICKLE_DESERIALIZATION is false; "
                "set it to true to evaluate models you trust"
            ) from None
        raise GateInputError(
            f"cannot load MLflow model {uri}: {missing_module_hint(exc)}; check that it was "
            "logged with compatible library versions"
        ) from None
    raise GateInputError(
        f"MLflow model {uri} has neither the sklearn nor the python_function flavor (flavors: "
        f"{', '.join(sorted(flavors)) or 'none'}); log it with mlflow.sklearn or mlflow.pyfunc"
    )


def _feature_names(model: Any, model_dir: Path | None) -> list[str] | None:
    names = getattr(model, "feature_names_in_", None)
    if names is not None:
        return [str(n) for n in np.asarray(names).tolist()]
    if model_dir is not None:
        return _signature_names(model_dir)
    return None


def load_model(
    uri: str, *, tracking_uri: str | None = None, dst_dir: str | None = None
) -> LoadedModel:
    """Fetch, hash and load a model so that the digest matches the bytes evaluated.

    Args:
        uri: ``models:/name/3``, ``models:/name@alias``, ``models:/<model_id>``,
            ``runs:/<run_id>/<path>``, an MLflow artifact URI, a local MLflow model folder, or a
            local ``.joblib``/``.pkl``/``.skops`` file. Loading executes code from the model
            (pickle) or trusts the types it names (skops): load only models you trust.
        tracking_uri: MLflow tracking URI; defaults to ``MLFLOW_TRACKING_URI``.
        dst_dir: Folder to download MLflow models into (a fresh sub-folder is created); defaults
            to a new temporary folder, which the caller owns.

    Returns:
        The loaded model with its digest, flavor and provenance.

    Raises:
        GateInputError: One actionable line for a missing file, an unsupported extension, an
            unloadable file, a model/version/alias that does not exist, an unreachable server, or
            an object that is not a model.
    """
    fetched = fetch(uri, tracking_uri=tracking_uri, dst_dir=dst_dir, read=True)
    path = fetched.local_path
    model_dir: Path | None = None
    if fetched.data is not None:
        model, flavor = load_file_bytes(fetched.data, path=path), "sklearn"
    elif path.is_dir() and (path / MLMODEL_FILE).is_file():
        model_dir = path
        model, flavor = _load_mlflow_dir(path, uri=uri)
    else:
        raise GateInputError(
            f"{uri} is not an MLflow model (no MLmodel file at {path}); pass an MLflow model or "
            "a .joblib/.pkl/.skops file"
        )
    if not callable(getattr(model, "predict", None)):
        raise GateInputError(
            f"the object loaded from {uri} is a {type(model).__module__}.{type(model).__name__}, "
            "not a model (it has no predict method); save the fitted estimator itself"
        )
    return LoadedModel(
        model=model,
        uri=uri,
        digest=fetched.digest,
        local_path=str(path),
        flavor=flavor,
        registered_name=fetched.registered_name,
        version=fetched.version,
        run_id=fetched.run_id,
        feature_names=_feature_names(model, model_dir),
    )


def model_digest(uri: str, *, tracking_uri: str | None = None) -> str:
    """Return the digest :func:`load_model` would report, without keeping or loading the model.

    Args:
        uri: Any URI :func:`load_model` accepts.
        tracking_uri: MLflow tracking URI; defaults to ``MLFLOW_TRACKING_URI``.

    Returns:
        ``sha256:<hex>`` of the model bytes.

    Raises:
        GateInputError: When the model cannot be fetched.
    """
    fetched = fetch(uri, tracking_uri=tracking_uri, dst_dir=None, read=False)
    if fetched.owned_dir is not None:
        shutil.rmtree(fetched.owned_dir, ignore_errors=True)
    return fetched.digest


def resolve_alias(*, name: str, alias: str, tracking_uri: str | None = None) -> str | None:
    """Return ``models:/<name>/<version>`` for the version an alias points at.

    Args:
        name: Registered model name.
        alias: Alias, e.g. ``production``.
        tracking_uri: MLflow tracking URI; defaults to ``MLFLOW_TRACKING_URI``.

    Returns:
        The versioned URI, or None when no version holds the alias (e.g. no model of that name
        has reached production yet).

    Raises:
        GateInputError: When the registered model does not exist (a typo in the name must not
            read as "no champion yet"), or the server is unreachable or answers with another
            error.
    """
    tracking = resolve_tracking_uri(tracking_uri)
    ensure_reachable(tracking)
    with mlflow_call(doing=f"resolving alias '{alias}' of '{name}'", tracking_uri=tracking):
        try:
            version = alias_version(connect(tracking), name, alias, tracking_uri=tracking)
        except ModelMissing:
            raise GateInputError(
                f"registered model '{name}' not found at tracking URI {tracking}, so there is "
                "no champion to compare with; check --registered-model-name (or the policy's "
                "champion.model_name), or create the registered model first when this is the "
                "first model of a new name (a model that exists without the alias is handled "
                "by champion.if_missing)"
            ) from None
    return f"models:/{name}/{version}" if version is not None else None


def load_champion(
    *,
    model_name: str | None,
    registered_model_name: str | None,
    alias: str,
    section: str,
    tracking_uri: str | None = None,
) -> tuple[LoadedModel | None, dict[str, Any]]:
    """Load the model holding ``alias`` for a gate's champion comparison.

    Args:
        model_name: The policy's ``<section>.champion.model_name``, if set.
        registered_model_name: The pipeline's registered model, used when the policy names none.
        alias: Alias of the champion (e.g. ``production``).
        section: Policy section, for the message (e.g. ``gates.performance``).
        tracking_uri: MLflow tracking URI.

    Returns:
        The champion (``None`` when no version holds the alias yet) and its reference for the
        evidence: ``model_name``, ``alias`` and, when found, ``uri``, ``version``, ``digest``.

    Raises:
        GateInputError: When no registered model name is known.
    """
    name = model_name or registered_model_name
    ref: dict[str, Any] = {"model_name": name, "alias": alias}
    if not name:
        raise GateInputError(
            "champion comparison needs a registered model name; pass --registered-model-name "
            f"or set {section}.champion.model_name"
        )
    uri = resolve_alias(name=name, alias=alias, tracking_uri=tracking_uri)
    if uri is None:
        return None, ref
    loaded = load_model(uri, tracking_uri=tracking_uri)
    ref.update(uri=uri, version=loaded.version, digest=loaded.digest)
    return loaded, ref


# --------------------------------------------------------------------------------------------
# Predicting
# --------------------------------------------------------------------------------------------


def model_input(model: LoadedModel, data: Any) -> pd.DataFrame:
    """Return the columns of an evaluation table that a model is given.

    A model that names its inputs (``feature_names_in_`` or an MLflow signature) takes exactly
    those columns from the whole table, label and precomputed outputs aside, so a model that
    uses a column the policy excludes (e.g. a sensitive attribute) is still evaluated as it
    will run; the fairness gate reports such inputs. A model without names gets the policy's
    feature columns.

    Args:
        model: The loaded model.
        data: An ``EvalData`` (from ``quality_gates.shared.io.data``).

    Returns:
        The frame to pass to :func:`predict`.
    """
    if model.feature_names:
        roles = {"label": data.label, "prediction": data.prediction, "score": data.score}
        for role, column in roles.items():
            if column and column in model.feature_names:
                # Otherwise reported as "the data lacks column X" while X is right there.
                raise GateInputError(
                    f"column '{column}' of {data.source} is set as the {role} but model "
                    f"{model.uri} takes it as an input feature; check --label / data.{role} "
                    "(the label must not be a model input)"
                )
        drop = [c for c in roles.values() if c]
        return data.frame.drop(columns=drop)
    return data.feature_frame()


def _select_features(model: LoadedModel, features: pd.DataFrame) -> Any:
    names = model.feature_names
    if names:
        missing = [n for n in names if n not in features.columns]
        if missing:
            more = f" (+{len(missing) - 10} more)" if len(missing) > 10 else ""
            shown = ", ".join(missing[:10]) + more
            raise GateInputError(
                f"evaluation data lacks {len(missing)} of the {len(names)} feature columns model "
                f"{model.uri} was trained on: {shown}; add them to the data"
            )
        # The model's column order: scikit-learn rejects the same names in another order.
        return features.loc[:, names]
    n_expected = getattr(model.model, "n_features_in_", None)
    if n_expected is not None and model.flavor == "sklearn":
        if features.shape[1] != int(n_expected):
            raise GateInputError(
                f"model {model.uri} expects {int(n_expected)} features but the evaluation data "
                f"has {features.shape[1]} feature columns; pass exactly the training features"
            )
        # Fitted without column names: give it what it saw (an array), not a named frame.
        return features.to_numpy()
    return features


def _as_array(values: Any, *, what: str, uri: str, n_rows: int) -> np.ndarray:
    if isinstance(values, pd.DataFrame):
        if values.shape[1] != 1:
            raise GateInputError(
                f"model {uri} returned {values.shape[1]} {what} columns; expected one per row"
            )
        values = values.iloc[:, 0]
    arr = np.asarray(values)
    if arr.ndim == 0 or arr.shape[0] != n_rows:
        got = "a scalar" if arr.ndim == 0 else f"{arr.shape[0]} values"
        raise GateInputError(f"model {uri} returned {got} {what} for {n_rows} rows")
    return arr


def _check_no_nan(arr: np.ndarray, *, what: str, uri: str) -> None:
    if arr.dtype.kind in "fc":
        bad = ~np.isfinite(arr)
    elif arr.dtype.kind == "O":
        bad = pd.isna(pd.DataFrame(arr.reshape(arr.shape[0], -1))).to_numpy()
    else:
        return
    if bad.any():
        rows = bad.reshape(bad.shape[0], -1).any(axis=1)
        raise GateInputError(
            f"model {uri} returned NaN or infinite {what} for {int(rows.sum())} of {len(rows)} "
            f"rows (first at row {int(np.argmax(rows))}); fix the model or the data"
        )


def _empty_columns(x: Any) -> list[str]:
    """The columns of a frame that hold no value at all (every row null)."""
    if not isinstance(x, pd.DataFrame) or x.empty:
        return []
    return [str(c) for c in x.columns if not x[c].notna().any()]


def _text_rows(col: pd.Series) -> np.ndarray:
    """Rows of a column that hold text which is not a number."""
    if pd.api.types.is_numeric_dtype(col.dtype) or pd.api.types.is_bool_dtype(col.dtype):
        return np.zeros(len(col), dtype=bool)
    present = col.notna().to_numpy()
    return present & pd.to_numeric(col, errors="coerce").isna().to_numpy()


def _numeric_suspect(name: object, col: pd.Series) -> str | None:
    values = col.to_numpy(dtype=np.float64, na_value=np.nan)
    for mask, what in ((np.isinf(values), "infinite"), (np.isnan(values), "missing")):
        if mask.any():
            first = int(np.flatnonzero(mask)[0])
            return (
                f"column '{name}' holds {int(mask.sum())} {what} value(s) (first at row "
                f"{first}, 0-based)"
            )
    return None


def _column_transformer(estimator: Any) -> Any:
    """The fitted ColumnTransformer a model starts with (itself or a Pipeline's first step)."""
    steps = getattr(estimator, "steps", None)
    head = steps[0][1] if steps else estimator
    return head if hasattr(head, "transformers_") else None


def _transformer_suspect(estimator: Any, x: pd.DataFrame) -> str | None:
    """Ask each part of a fitted ColumnTransformer which of its columns it cannot take."""
    ct = _column_transformer(estimator)
    if ct is None:
        return None
    for _name, part, cols in ct.transformers_:
        if isinstance(part, str) or not isinstance(cols, list | tuple):
            continue
        names = [c for c in cols if isinstance(c, str) and c in x.columns]
        categories = getattr(part, "categories_", None)
        if categories is not None and len(categories) == len(names):
            for name, known in zip(names, categories, strict=True):
                col = x[name]
                unseen = col.notna().to_numpy() & ~col.isin(list(known)).to_numpy()
                if unseen.any():
                    return (
                        f"column '{name}' holds categories not seen in training (unknown "
                        f"categories in {int(unseen.sum())} of {len(col)} rows, first at row "
                        f"{int(np.flatnonzero(unseen)[0])}, 0-based)"
                    )
            continue
        try:
            part.transform(x.loc[:, names])
        except Exception:  # noqa: BLE001 - only to locate the column
            for name in names:
                text = _text_rows(x[name])
                if text.any():
                    return _text_message(name, text)
    return None


def _text_message(name: object, text: np.ndarray) -> str:
    first = int(np.flatnonzero(text)[0])
    return (
        f"column '{name}' holds text in a numeric feature ({int(text.sum())} of {len(text)} "
        f"rows, first at row {first}, 0-based)"
    )


def _suspect_column(x: Any, estimator: Any = None) -> str | None:
    """Name the first column a model typically chokes on (only called after predict failed).

    Library errors say "Input X contains infinity" or quote the cell they could not convert;
    the column, the kind of problem and the row are given, never the value, which may be
    personal data.
    """
    if not isinstance(x, pd.DataFrame):
        return None
    empty = _empty_columns(x)
    if empty:
        return f"column(s) {', '.join(repr(c) for c in empty)} are entirely empty (all null)"
    found = _transformer_suspect(estimator, x)
    if found:
        return found
    plain = _column_transformer(estimator) is None and not hasattr(estimator, "steps")
    for name in x.columns:
        col = x[name]
        if pd.api.types.is_bool_dtype(col.dtype):
            continue
        if pd.api.types.is_numeric_dtype(col.dtype):
            found = _numeric_suspect(name, col)
        else:
            text = _text_rows(col)
            numeric = col.notna().to_numpy() & ~text
            if text.any() and numeric.any():
                first = int(np.flatnonzero(text)[0])
                found = (
                    f"column '{name}' mixes numbers and text ({int(text.sum())} text value(s) "
                    f"in {len(col)} rows, first at row {first}, 0-based)"
                )
            elif text.any() and plain:
                # A bare estimator takes numbers only: any text column is the one it choked on.
                found = _text_message(name, text)
        if found:
            return found
    return None


def _predict_failed(model: LoadedModel, x: Any, exc: Exception) -> GateInputError:
    """The one-line error of a model that raised while predicting, naming the suspect column."""
    suspect = _suspect_column(x, model.model)
    cause = describe(exc, keep=[str(c) for c in getattr(x, "columns", [])])
    return GateInputError(
        f"model {model.uri} failed to predict on the evaluation data: {cause}"
        f"{'; ' + suspect if suspect else ''}; check that the columns and types match what "
        "the model was trained on"
    )


def _checked_proba(model: LoadedModel, proba: Any, n_rows: int) -> np.ndarray:
    y_score = np.asarray(proba, dtype=float)
    if y_score.ndim != 2 or y_score.shape[0] != n_rows:
        raise GateInputError(
            f"model {model.uri} returned predict_proba of shape {y_score.shape} for {n_rows} "
            "rows; expected (rows, classes)"
        )
    _check_no_nan(y_score, what="probabilities", uri=model.uri)
    return y_score


@cache
def _argmax_classifiers() -> tuple[type, ...]:
    """Classifiers whose ``predict`` is the class of highest ``predict_proba`` (a unique one).

    Each predicts the class of the largest raw score, and its probabilities are a monotone
    function of those scores (``expit`` and ``1 - expit``, ``softmax``, or the same leaf
    fractions normalised): wherever one probability is strictly the largest, ``predict`` names
    its class. Rows with a tie are left to ``predict`` itself (``HistGradientBoosting`` says
    ``raw > 0``, ``GradientBoosting`` ``raw >= 0``).
    """
    from sklearn.ensemble import (
        ExtraTreesClassifier,
        GradientBoostingClassifier,
        HistGradientBoostingClassifier,
        RandomForestClassifier,
    )
    from sklearn.linear_model import LogisticRegression
    from sklearn.tree import DecisionTreeClassifier, ExtraTreeClassifier

    return (
        LogisticRegression,
        HistGradientBoostingClassifier,
        GradientBoostingClassifier,
        RandomForestClassifier,
        ExtraTreesClassifier,
        DecisionTreeClassifier,
        ExtraTreeClassifier,
    )


def _class_from_proba(estimator: Any) -> bool:
    """Whether the class may be derived from ``predict_proba`` with the result of ``predict``."""
    kind = type(estimator)
    classes = getattr(estimator, "classes_", None)
    if classes is None or np.ndim(classes) != 1:
        return False  # multi-output, or not fitted as a classifier
    # Only the known methods: a subclass that overrides either may decide otherwise.
    return any(
        kind.predict is base.predict and kind.predict_proba is base.predict_proba
        for base in _argmax_classifiers()
        if issubclass(kind, base)
    )


def _split_pipeline(estimator: Any) -> tuple[Any, Any]:
    """``(steps before the last, last step)`` of a fitted Pipeline; ``(None, estimator)`` else.

    ``Pipeline.predict`` and ``Pipeline.predict_proba`` both run every transform on the rows and
    then the last step: transforming once and calling the last step twice gives the same arrays
    at half the cost of the transforms.
    """
    from sklearn.pipeline import Pipeline

    if not isinstance(estimator, Pipeline) or len(estimator.steps) < 2:
        return None, estimator
    final = estimator.steps[-1][1]
    if not (hasattr(final, "predict") and hasattr(final, "predict_proba")):
        return None, estimator
    return estimator[:-1], final


def _derived_classes(final: Any, xt: Any, y_score: np.ndarray) -> np.ndarray:
    """``classes_[argmax]`` per row; rows whose largest probability is tied ask ``predict``."""
    from sklearn.utils import _safe_indexing

    classes = np.asarray(final.classes_)
    y_pred = classes[np.argmax(y_score, axis=1)]
    top = y_score.max(axis=1, keepdims=True)
    tied = np.flatnonzero(np.count_nonzero(y_score == top, axis=1) > 1)
    if tied.size:
        y_pred[tied] = np.asarray(final.predict(_safe_indexing(xt, tied)))
    return y_pred


def _sklearn_outputs(
    model: LoadedModel, x: Any, n_rows: int
) -> tuple[np.ndarray, np.ndarray | None]:
    """``(predictions, probabilities or None)`` of a scikit-learn model, each pass once."""
    head, final = _split_pipeline(model.model)
    try:
        xt = head.transform(x) if head is not None else x
        if _class_from_proba(final):
            y_score = _checked_proba(model, final.predict_proba(xt), n_rows)
            return _valid_predictions(model, _derived_classes(final, xt, y_score), n_rows), y_score
        raw = final.predict(xt)
    except GateInputError:
        raise
    except Exception as exc:  # noqa: BLE001 - any model failure is one line for the user
        raise _predict_failed(model, x, exc) from None
    # Checked before predict_proba runs, so a bad answer of predict is reported as such.
    y_pred = _valid_predictions(model, raw, n_rows)
    if not hasattr(final, "predict_proba"):
        return y_pred, None
    try:
        proba = final.predict_proba(xt)
    except Exception as exc:  # noqa: BLE001
        raise GateInputError(
            f"model {model.uri} failed in predict_proba: {describe(exc)}; check the model"
        ) from None
    return y_pred, _checked_proba(model, proba, n_rows)


def _valid_predictions(model: LoadedModel, raw: Any, n_rows: int) -> np.ndarray:
    y_pred = _as_array(raw, what="predictions", uri=model.uri, n_rows=n_rows)
    _check_no_nan(y_pred, what="predictions", uri=model.uri)
    return y_pred


def _model_outputs(model: LoadedModel, x: Any, n_rows: int) -> tuple[np.ndarray, np.ndarray | None]:
    """``(predictions, probabilities or None)``: a pyfunc model is only asked ``predict``."""
    if model.flavor == "sklearn":
        return _sklearn_outputs(model, x, n_rows)
    try:
        raw = model.model.predict(x)
    except GateInputError:
        raise
    except Exception as exc:  # noqa: BLE001 - any model failure is one line for the user
        raise _predict_failed(model, x, exc) from None
    return _valid_predictions(model, raw, n_rows), None


def predict(model: LoadedModel, features: pd.DataFrame) -> Predictions:
    """Predict the class and the probabilities, running the model's pipeline once.

    A scikit-learn classifier whose ``predict`` is the class of highest probability (logistic
    regression, boosted trees, forests, single trees) is run once, through ``predict_proba``,
    and its classes derived; any other model is asked ``predict`` (and ``predict_proba`` when
    it has one), with a Pipeline's transforms run once for both. The results are those of
    ``predict`` and ``predict_proba``.

    Args:
        model: A model from :func:`load_model`.
        features: The feature columns of the evaluation data (extra columns are ignored when the
            model knows its feature names).

    Returns:
        Predictions, scores and classes.

    Raises:
        GateInputError: When feature columns are missing, the model raises, or the output has the
            wrong length or contains NaN.
    """
    if not isinstance(features, pd.DataFrame):
        raise GateInputError(f"features must be a pandas DataFrame, got {type(features).__name__}")
    n_rows = len(features)
    if n_rows == 0:
        raise GateInputError(f"evaluation data has no rows; model {model.uri} was not evaluated")
    x = _select_features(model, features)
    empty = _empty_columns(x)
    if empty:
        # Imputed, the model would be judged on filled-in values, not on the data.
        raise GateInputError(
            f"feature column(s) {', '.join(repr(c) for c in empty)} of the evaluation data are "
            f"entirely empty (all {n_rows} rows null); model {model.uri} cannot be judged on "
            "them, supply their values or retrain without them"
        )
    y_pred, y_score = _model_outputs(model, x, n_rows)
    classes = getattr(model.model, "classes_", None)
    return Predictions(
        y_pred=y_pred,
        y_score=y_score,
        classes=np.asarray(classes).tolist() if classes is not None else None,
    )


def is_local_model_file(uri: str) -> bool:
    """Whether ``uri`` is a local ``.joblib``/``.pkl``/``.skops`` file (not an MLflow model)."""
    local = _local_path(uri.strip()) if isinstance(uri, str) and uri.strip() else None
    return bool(local is not None and local.suffix.lower() in MODEL_FILE_SUFFIXES)
