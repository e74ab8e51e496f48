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

import hashlib
import json
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from quality_gates.shared.contracts.errors import GateInputError
from quality_gates.shared.contracts.tasks import PROMOTE_TASK, REFUSAL_TASK
from quality_gates.shared.contracts.versions import PACKAGE_VERSION

# Runtime states (kfp_server_api V2beta1RuntimeState) after which a run never changes again.
SUCCEEDED = "SUCCEEDED"
FAILED_STATES = ("FAILED", "CANCELED", "SKIPPED")
_LIST_PAGE_SIZE = 100


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


PROMOTED, REFUSED, UNDECIDED = "promoted", "refused", "undecided"


@dataclass(frozen=True)
class RunOutcome:
    """Where a followed run ended.

    Attributes:
        state: The last runtime state seen.
        failed_tasks: Display names of the tasks the API reports as FAILED.
        error: The run's error message, when the API gives one.
        timed_out: True when the timeout passed before a final state.
        candidate: ``promoted`` (the promote task succeeded), ``refused`` (the refusal task
            ran: the aggregator's decision was False) or ``undecided`` (neither: a task crashed
            before the decision, or the run is not of our pipeline).
    """

    state: str
    failed_tasks: list[str] = field(default_factory=list)
    error: str = ""
    timed_out: bool = False
    candidate: str = UNDECIDED


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
            return RunOutcome(state, _failed_tasks(run), _run_error(run), candidate=_decision(run))
        if deadline is not None and clock() >= deadline:
            return RunOutcome(state, timed_out=True)
        pause = poll_s if deadline is None else max(0.0, min(poll_s, deadline - clock()))
        sleep(pause)


def _decision(run) -> str:
    """Read the aggregator's decision from which branch of it ran.

    The v2beta1 API reports task states, not output parameters; the aggregator's ``bool``
    output selects the branch, and each branch has one task of a fixed display name.
    """
    details = getattr(run, "run_details", None)
    states: dict[str, list[str]] = {}
    for task in getattr(details, "task_details", None) or []:
        states.setdefault(str(task.display_name or ""), []).append(str(task.state))
    if SUCCEEDED in states.get(PROMOTE_TASK, []):
        return PROMOTED
    if states.get(REFUSAL_TASK):
        return REFUSED
    return UNDECIDED


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
