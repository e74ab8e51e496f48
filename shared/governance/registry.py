"""MLflow registry and evidence: log the evaluation run, register and promote by alias.

Conventions (docs/ARCHITECTURE.md, "MLflow conventions"): registry aliases, never the deprecated
stages; every tag this package writes starts with ``quality_gates.``; gate results, reports and the
scorecard are artifacts of the evaluation run; MLflow is used through :class:`~mlflow.MlflowClient`
methods (``mlflow.sklearn.save_model`` only writes a model folder to local disk).

:func:`promote` fails closed: it refuses, before touching the registry, a scorecard that does not
allow promotion, a scorecard without a model digest, and a model whose bytes differ from the ones
the gates saw. Promoting the same bytes twice reuses the version registered the first time.
"""

from __future__ import annotations

import re
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from quality_gates.shared.contracts.digests import sha256_bytes, sha256_tree
from quality_gates.shared.contracts.errors import GateInputError, one_line
from quality_gates.shared.contracts.results import GateResult, utc_now
from quality_gates.shared.contracts.scorecard import Scorecard
from quality_gates.shared.io.models import Fetched, fetch, load_file_bytes
from quality_gates.shared.tracking.client import (
    MAX_TAG_VALUE,
    TAG_PREFIX,
    ModelMissing,
    alias_version,
    connect,
    ensure_experiment,
    ensure_reachable,
    error_code,
    mlflow_call,
    resolve_tracking_uri,
    tag_value,
)

if TYPE_CHECKING:  # pragma: no cover - typing only
    from mlflow import MlflowClient

# Conservative limits that every MLflow server version accepts (older servers store run tags and
# model version tags in 5000-character columns and params in 500-character columns).
MAX_PARAM_VALUE = 500
MAX_KEY = 250
_BATCH_METRICS = 1000
_BATCH_PARAMS_TAGS = 100
_READY_TIMEOUT_S = 300.0
_BAD_KEY_CHARS = re.compile(r"[^\w.\- ]")
# The policy the gates ran with, as an artifact of the evaluation run.
POLICY_ARTIFACT = "policy.yaml"
REGISTER_LOCK = f"{TAG_PREFIX}register_lock"


@dataclass(frozen=True)
class Promotion:
    """What :func:`promote` did.

    Attributes:
        name: Registered model name.
        version: The version the alias now points at.
        alias: The alias that was set.
        created: False when an existing version with the same model digest was reused.
        previous_version: The version that held the alias before, or None.
        artifact_digest: Digest of the registered bytes when this promotion registered them
            (None when an existing version was reused: its first promotion record has it).
        evidence_kept: False when the version was already decided (approved or rejected):
            its evidence tags were left as they were and this evaluation is only in the
            evaluation run and the audit log.
    """

    name: str
    version: str
    alias: str
    created: bool
    previous_version: str | None
    artifact_digest: str | None = None
    evidence_kept: bool = True


# --------------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------------


def _key(text: str) -> str:
    """Return an MLflow-safe key: alphanumerics, ``_ . - space`` only, at most 250 chars."""
    key = _BAD_KEY_CHARS.sub("_", str(text)).strip()
    return key[:MAX_KEY] or "_"


def scorecard_digest(scorecard: Scorecard) -> str:
    """Return ``sha256:<hex>`` of the scorecard's JSON (as logged to the evaluation run).

    Args:
        scorecard: The scorecard.

    Returns:
        The digest of ``scorecard.to_json()``.
    """
    return sha256_bytes(scorecard.to_json().encode("utf-8"))


def _gate_labels(results: list[GateResult]) -> list[tuple[str, GateResult]]:
    """Label each result by its gate, suffixing repeats (the aggregator may add two errors)."""
    seen: dict[str, int] = {}
    out = []
    for r in results:
        base = _key(r.gate)
        seen[base] = seen.get(base, 0) + 1
        out.append((base if seen[base] == 1 else f"{base}-{seen[base]}", r))
    return out


def _flat_lineage(*sources: dict[str, Any] | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for source in sources:
        for k, v in (source or {}).items():
            if v is None or v == "" or isinstance(v, (dict, list, tuple, set)):
                continue
            out[str(k)] = str(v)
    return out


def _chunks(items: list, size: int) -> list[list]:
    return [items[i : i + size] for i in range(0, len(items), size)]


# --------------------------------------------------------------------------------------------
# Evaluation run
# --------------------------------------------------------------------------------------------


def log_evaluation_run(
    *,
    scorecard: Scorecard,
    experiment_name: str,
    report_paths: dict[str, str] | None = None,
    tracking_uri: str | None = None,
    policy_text: str | None = None,
) -> str:
    """Log one MLflow run holding every number, result and report of an evaluation.

    The run gets params (model URI, digests, registered model name), metrics (each result's
    metrics as ``<gate>.<metric>`` and ``<gate>.passed`` as 1/0), tags (``quality_gates.decision``,
    ``quality_gates.gate.<gate>``, digests, lineage) and artifacts: ``gates/<gate>.json`` per
    result, ``scorecard.json`` (with ``evaluation_run_id`` set to this run, so it is byte-equal
    to the final scorecard) and the report files under ``reports/``.

    Args:
        scorecard: The aggregated scorecard.
        experiment_name: Experiment to log into; created when missing.
        report_paths: Report name to local file (or folder) path, e.g. ``{"html": ...}``.
        tracking_uri: MLflow tracking URI; defaults to ``MLFLOW_TRACKING_URI``.
        policy_text: The policy text the gates ran with, logged as ``policy.yaml`` (its digest
            is ``scorecard.policy_digest``): the authority approval reads.

    Returns:
        The run id.

    Raises:
        GateInputError: When a report file is missing, the experiment is deleted, or MLflow is
            unreachable or refuses a call. A run that fails half-way is marked ``FAILED``.
    """
    if not experiment_name:
        raise GateInputError("no MLflow experiment name given; pass experiment_name")
    reports = {str(k): Path(v) for k, v in (report_paths or {}).items() if v}
    for name, path in reports.items():
        if not path.exists():
            raise GateInputError(f"report '{name}' does not exist at {path}; write it first")
    tracking = resolve_tracking_uri(tracking_uri)
    ensure_reachable(tracking)
    doing = f"logging the evaluation run to experiment '{experiment_name}'"
    with mlflow_call(doing=doing, tracking_uri=tracking):
        client = connect(tracking)
        experiment_id = ensure_experiment(client, experiment_name, tracking_uri=tracking)
        run = client.create_run(
            experiment_id,
            run_name=f"quality-gates-{scorecard.decision.value}",
            tags={f"{TAG_PREFIX}kind": "evaluation"},
        )
        run_id = run.info.run_id
        try:
            _log_run_contents(client, run_id, scorecard, reports)
            if policy_text is not None:
                client.log_text(run_id, policy_text, POLICY_ARTIFACT)
        except BaseException:
            try:
                client.set_terminated(run_id, "FAILED")
            except Exception:  # noqa: BLE001 - the original error is the one to report
                pass
            raise
        client.set_terminated(run_id, "FINISHED")
    return run_id


def _log_run_contents(
    client: MlflowClient,
    run_id: str,
    scorecard: Scorecard,
    reports: dict[str, Path],
) -> None:
    from mlflow.entities import Metric, Param, RunTag

    now_ms = int(time.time() * 1000)
    labelled = _gate_labels(scorecard.results)

    params = {
        "model_uri": scorecard.model_uri,
        "model_digest": scorecard.model_digest,
        "policy_digest": scorecard.policy_digest,
        "data_digest": scorecard.data_digest,
        "registered_model_name": scorecard.registered_model_name,
        "expected_gates": ",".join(scorecard.expected_gates),
    }
    metrics: dict[str, float] = {"all_passed": 1.0 if scorecard.all_passed else 0.0}
    for label, r in labelled:
        for name, value in r.metrics.items():
            metrics[_key(f"{label}.{name}")] = float(value)
        metrics[_key(f"{label}.passed")] = 1.0 if r.passed else 0.0

    lineage = _flat_lineage(scorecard.lineage)
    tags: dict[str, str] = {_key(TAG_PREFIX + k): v for k, v in lineage.items()}
    tags.update(
        {
            f"{TAG_PREFIX}decision": scorecard.decision.value,
            f"{TAG_PREFIX}all_passed": str(scorecard.all_passed).lower(),
            "mlflow.note.content": scorecard.summary,
        }
    )
    for key, value in (
        ("model_uri", scorecard.model_uri),
        ("model_digest", scorecard.model_digest),
        ("policy_digest", scorecard.policy_digest),
        ("data_digest", scorecard.data_digest),
        ("registered_model_name", scorecard.registered_model_name),
    ):
        if value:
            tags[f"{TAG_PREFIX}{key}"] = value
    if lineage.get("git_commit"):
        tags["mlflow.source.git.commit"] = lineage["git_commit"]
    for label, r in labelled:
        tags[_key(f"{TAG_PREFIX}gate.{label}")] = r.status.value
        for part, status in r.part_statuses():
            tags[_key(f"{TAG_PREFIX}gate.{label}.{part}")] = status.value

    param_entities = [
        Param(_key(k), tag_value(v, MAX_PARAM_VALUE))
        for k, v in params.items()
        if v not in (None, "")
    ]
    tag_entities = [RunTag(k, tag_value(v, MAX_TAG_VALUE)) for k, v in tags.items()]
    metric_entities = [Metric(k, v, now_ms, 0) for k, v in metrics.items()]
    for chunk in _chunks(param_entities + tag_entities, _BATCH_PARAMS_TAGS):
        client.log_batch(
            run_id,
            params=[e for e in chunk if isinstance(e, Param)],
            tags=[e for e in chunk if isinstance(e, RunTag)],
        )
    for chunk in _chunks(metric_entities, _BATCH_METRICS):
        client.log_batch(run_id, metrics=chunk)

    for label, r in labelled:
        client.log_text(run_id, r.to_json(), f"gates/{label}.json")
    logged = scorecard.model_copy(update={"evaluation_run_id": run_id})
    client.log_text(run_id, logged.to_json(), "scorecard.json")
    for path in reports.values():
        if path.is_dir():
            client.log_artifacts(run_id, str(path), f"reports/{path.name}")
        else:
            client.log_artifact(run_id, str(path), "reports")


# --------------------------------------------------------------------------------------------
# Promotion
# --------------------------------------------------------------------------------------------


def promote(
    *,
    scorecard: Scorecard,
    model_uri: str,
    registered_name: str,
    alias: str = "staging",
    tracking_uri: str | None = None,
    lineage: dict[str, str] | None = None,
) -> Promotion:
    """Register the evaluated model (or reuse its version) and point ``alias`` at it.

    Fails closed: nothing in the registry changes unless the scorecard allows promotion and the
    model at ``model_uri`` still has the digest the gates recorded. A version already tagged
    with the same ``quality_gates.model_digest`` is reused, so re-running a pipeline does not
    create duplicates. ``models:/<registered_name>/<N>`` (or an alias of it) reuses version N;
    ``runs:/`` and logged-model URIs are registered by reference; local files, local model
    folders and other artifact URIs are uploaded, exactly as verified, as a logged model of the
    evaluation run (a ``.joblib``/``.skops`` file is wrapped in an MLflow sklearn model that also
    carries the original file under ``extra_files/``).

    Args:
        scorecard: The aggregator's scorecard; ``all_passed`` and ``model_digest`` are required.
        model_uri: The candidate, any URI :func:`quality_gates.shared.io.models.load_model` accepts.
        registered_name: Registered model to add the version to (created when missing).
        alias: Alias to point at the version.
        tracking_uri: MLflow tracking URI; defaults to ``MLFLOW_TRACKING_URI``.
        lineage: Provenance to tag the version with (``quality_gates.<key>``); merged over the
            scorecard's lineage.

    Returns:
        The promotion record, including the version that held the alias before.

    Raises:
        GateInputError: When promotion is refused or MLflow fails; the message says why.
    """
    expected = _check_promotable(scorecard, model_uri, registered_name, alias)
    tracking = resolve_tracking_uri(tracking_uri)
    fetched = fetch(model_uri, tracking_uri=tracking, dst_dir=None, read=True)
    work = Path(tempfile.mkdtemp(prefix="qg-promote-"))
    try:
        if fetched.owned_dir is None and fetched.data is None:
            # A local model folder: freeze a copy, so what is verified is what gets uploaded.
            frozen = work / "model"
            shutil.copytree(fetched.local_path, frozen)
            fetched = Fetched(local_path=frozen, digest=sha256_tree(frozen))
        if fetched.digest != expected:
            raise GateInputError(
                f"model bytes changed since the gates ran: expected {expected}, found "
                f"{fetched.digest} at {model_uri}; re-run the gates"
            )
        ensure_reachable(tracking)
        with mlflow_call(
            doing=f"promoting {model_uri} to '{registered_name}'", tracking_uri=tracking
        ):
            return _promote_verified(
                client=connect(tracking),
                scorecard=scorecard,
                model_uri=model_uri,
                fetched=fetched,
                registered_name=registered_name,
                alias=alias,
                tracking=tracking,
                lineage=lineage,
                work=work,
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)
        if fetched.owned_dir is not None:
            shutil.rmtree(fetched.owned_dir, ignore_errors=True)


def _check_promotable(
    scorecard: Scorecard, model_uri: str, registered_name: str, alias: str
) -> str:
    """Refuse before touching the model or the registry; return the recorded model digest."""
    if not registered_name or not registered_name.strip():
        raise GateInputError("no registered model name given; pass registered_name")
    if "'" in registered_name:
        raise GateInputError(
            f"registered model name {registered_name!r} contains a quote; use another name"
        )
    if not alias or not alias.strip():
        raise GateInputError("no alias given; pass alias, e.g. staging")
    if not scorecard.all_passed:
        raise GateInputError(
            f"refusing to promote {model_uri}: the scorecard decision is "
            f"{scorecard.decision.value} ({scorecard.summary}); fix the model and re-run the gates"
        )
    expected = scorecard.model_digest
    if not expected:
        raise GateInputError(
            f"refusing to promote {model_uri}: the scorecard records no model digest, so the "
            "bytes cannot be verified; re-run the gates with a gate that loads the model"
        )
    return expected


def _promote_verified(
    *,
    client: MlflowClient,
    scorecard: Scorecard,
    model_uri: str,
    fetched: Fetched,
    registered_name: str,
    alias: str,
    tracking: str,
    lineage: dict[str, str] | None,
    work: Path,
) -> Promotion:
    digest = scorecard.model_digest or ""
    effective = scorecard
    if not scorecard.evaluation_run_id:
        # Every promoted version links to its evidence: log the run the aggregator did not.
        run_id = log_evaluation_run(
            scorecard=scorecard,
            experiment_name=f"quality-gates-{registered_name}",
            tracking_uri=tracking,
        )
        effective = scorecard.model_copy(update={"evaluation_run_id": run_id})
    _ensure_registered_model(client, registered_name)
    # One version per bytes, also when two runs promote them at once: look up and register
    # under a lease on the registered model (MLflow has no unique constraint on a tag).
    with _registration_lease(client, registered_name):
        version = _version_with_digest(client, registered_name, digest)
        created = False
        artifact_digest: str | None = None
        if version is None:
            version, created, artifact_digest = _register(
                client=client,
                scorecard=effective,
                model_uri=model_uri,
                fetched=fetched,
                registered_name=registered_name,
                tracking=tracking,
                work=work,
            )
            _wait_ready(client, registered_name, version)  # READY before the lease ends
    _wait_ready(client, registered_name, version)
    decided = client.get_model_version(registered_name, version).tags or {}
    keep = decided.get(f"{TAG_PREFIX}approval") not in ("approved", "rejected")

    try:
        previous = alias_version(client, registered_name, alias, tracking_uri=tracking)
    except ModelMissing:
        previous = None

    tags = _evidence_tags(scorecard, effective, lineage, model_uri, artifact_digest)
    if previous and previous != version:
        tags[_key(f"{TAG_PREFIX}previous.{alias}")] = previous
    if not keep:
        # A decided version keeps the evidence it was decided on; the new evaluation is kept
        # beside it (its run and audit records), named here.
        tags = {
            f"{TAG_PREFIX}latest_evaluation_run_id": effective.evaluation_run_id or "",
            f"{TAG_PREFIX}latest_decision": scorecard.decision.value,
        }
    for k, v in tags.items():
        client.set_model_version_tag(registered_name, version, k, tag_value(v, MAX_TAG_VALUE))

    client.set_registered_model_alias(registered_name, alias, version)
    return Promotion(
        name=registered_name,
        version=version,
        alias=alias,
        created=created,
        previous_version=previous,
        artifact_digest=artifact_digest,
        evidence_kept=keep,
    )


def revoke(*, scorecard: Scorecard, tracking_uri: str, staging_alias: str = "staging") -> None:
    """After a failing evaluation, take staging from the version holding the same bytes.

    The version keeps its earlier evidence; approval reads the latest evaluation of its bytes
    from the audit log and stays blocked until a passing one. Nothing happens when the bytes
    were never registered.

    Args:
        scorecard: The failing scorecard (its ``model_digest`` names the bytes).
        tracking_uri: MLflow tracking URI.
        staging_alias: The staging alias.
    """
    from quality_gates.shared.governance import audit

    name, digest = scorecard.registered_model_name, scorecard.model_digest
    if not name or not digest or scorecard.all_passed:
        return
    tracking = resolve_tracking_uri(tracking_uri)
    with mlflow_call(doing=f"revoking the staging of '{name}'", tracking_uri=tracking):
        client = connect(tracking)
        try:
            version = _version_with_digest(client, name, digest)
            held = alias_version(client, name, staging_alias, tracking_uri=tracking)
        except ModelMissing:
            return
        if version is None:
            return
        if held == version:
            client.delete_registered_model_alias(name, staging_alias)
        client.set_model_version_tag(
            name, version, f"{TAG_PREFIX}revoked_by_run", scorecard.evaluation_run_id or "?"
        )
    audit.append(
        model=name,
        event="revocation",
        version=version,
        details={
            "model_digest": digest,
            "decision": scorecard.decision.value,
            "evaluation_run_id": scorecard.evaluation_run_id,
            "removed_alias": staging_alias if held == version else None,
        },
        tracking_uri=tracking,
    )


def _registration_lease(client: MlflowClient, name: str):
    from quality_gates.shared.governance.audit import tag_lease

    return tag_lease(
        get=lambda: (client.get_registered_model(name).tags or {}).get(REGISTER_LOCK),
        put=lambda token: client.set_registered_model_tag(name, REGISTER_LOCK, token),
        drop=lambda: client.delete_registered_model_tag(name, REGISTER_LOCK),
        what=f"registering a version of '{name}'",
        owner="quality-gates",
    )


def _evidence_tags(
    scorecard: Scorecard,
    effective: Scorecard,
    lineage: dict[str, str] | None,
    model_uri: str,
    artifact_digest: str | None,
) -> dict[str, str]:
    """The version's display copy of its evidence (the audit log holds the authoritative one)."""
    flat = _flat_lineage(scorecard.lineage, lineage)
    tags: dict[str, str] = {_key(TAG_PREFIX + k): v for k, v in flat.items()}
    authoritative: dict[str, str | None] = {
        "model_digest": scorecard.model_digest,
        "policy_digest": scorecard.policy_digest,
        "data_digest": scorecard.data_digest,
        "scorecard_digest": scorecard_digest(effective),
        "decision": scorecard.decision.value,
        "evaluation_run_id": effective.evaluation_run_id,
        "git_commit": flat.get("git_commit"),
        "pipeline_run_id": flat.get("pipeline_run_id"),
        "model_uri": model_uri,
        "artifact_digest": artifact_digest,
        "promoted_at": utc_now(),
    }
    for k, v in authoritative.items():
        if v:
            tags[_key(TAG_PREFIX + k)] = v
    for label, r in _gate_labels(scorecard.results):
        tags[_key(f"{TAG_PREFIX}gate.{label}")] = r.status.value
        for part, status in r.part_statuses():
            tags[_key(f"{TAG_PREFIX}gate.{label}.{part}")] = status.value
    return tags


def _ensure_registered_model(client: MlflowClient, name: str) -> None:
    try:
        client.get_registered_model(name)
        return
    except Exception as exc:
        if error_code(exc) != "RESOURCE_DOES_NOT_EXIST":
            raise
    try:
        client.create_registered_model(
            name, tags={f"{TAG_PREFIX}managed": "true"}, description="Promoted by kfp-quality-gates"
        )
    except Exception as exc:
        if error_code(exc) != "RESOURCE_ALREADY_EXISTS":  # created concurrently
            raise


def _version_with_digest(client: MlflowClient, name: str, digest: str) -> str | None:
    """Newest READY version of ``name`` tagged with ``digest``, or None."""
    found = client.search_model_versions(
        filter_string=f"name = '{name}' and tags.`{TAG_PREFIX}model_digest` = '{digest}'"
    )
    ready = [
        mv
        for mv in found
        if mv.name == name
        and str(mv.status).endswith("READY")
        and (mv.tags or {}).get(f"{TAG_PREFIX}model_digest") == digest
    ]
    if not ready:
        return None
    return str(max(int(mv.version) for mv in ready))


def _digest_tag(scorecard: Scorecard) -> dict[str, str]:
    # Tagged at creation, so that a promotion interrupted before its other tags and the alias
    # are written is found and completed by the next attempt instead of duplicated.
    return {f"{TAG_PREFIX}model_digest": scorecard.model_digest or ""}


def _register(
    *,
    client: MlflowClient,
    scorecard: Scorecard,
    model_uri: str,
    fetched: Fetched,
    registered_name: str,
    tracking: str,
    work: Path,
) -> tuple[str, bool, str | None]:
    """Create (or pick) the version; returns (version, created, digest of its artifacts)."""
    if fetched.registered_name == registered_name and fetched.version:
        return fetched.version, False, fetched.digest
    if fetched.model_id or (fetched.run_id and model_uri.startswith("runs:/")):
        try:
            if fetched.model_id:
                mv = client.create_model_version(
                    registered_name,
                    source=f"models:/{fetched.model_id}",
                    run_id=fetched.run_id,
                    model_id=fetched.model_id,
                    tags=_digest_tag(scorecard),
                )
            else:
                mv = client.create_model_version(
                    registered_name,
                    source=model_uri,
                    run_id=fetched.run_id,
                    tags=_digest_tag(scorecard),
                )
            return str(mv.version), True, fetched.digest
        except Exception as exc:
            # The server validates sources; what it rejects is uploaded as verified instead.
            if error_code(exc) != "INVALID_PARAMETER_VALUE":
                raise
    return _upload_and_register(
        client=client,
        scorecard=scorecard,
        fetched=fetched,
        registered_name=registered_name,
        tracking=tracking,
        work=work,
    )


def _upload_and_register(
    *,
    client: MlflowClient,
    scorecard: Scorecard,
    fetched: Fetched,
    registered_name: str,
    tracking: str,
    work: Path,
) -> tuple[str, bool, str | None]:
    run_id = scorecard.evaluation_run_id or ""
    try:
        experiment_id = client.get_run(run_id).info.experiment_id
    except Exception as exc:
        if error_code(exc) == "RESOURCE_DOES_NOT_EXIST":
            raise GateInputError(
                f"evaluation run {run_id} of the scorecard does not exist at tracking URI "
                f"{tracking}; promote against the server that holds the evidence"
            ) from None
        raise

    model_dir = _model_dir_for_upload(fetched, work)
    artifact_digest = sha256_tree(model_dir)
    logged = client.create_logged_model(
        experiment_id,
        name="model",
        source_run_id=run_id,
        tags={
            f"{TAG_PREFIX}model_digest": scorecard.model_digest or "",
            f"{TAG_PREFIX}artifact_digest": artifact_digest,
        },
    )
    try:
        client.log_model_artifacts(logged.model_id, str(model_dir))
    except BaseException:
        try:
            client.finalize_logged_model(logged.model_id, "FAILED")
        except Exception:  # noqa: BLE001 - the upload error is the one to report
            pass
        raise
    client.finalize_logged_model(logged.model_id, "READY")
    mv = client.create_model_version(
        registered_name,
        source=f"models:/{logged.model_id}",
        run_id=run_id,
        model_id=logged.model_id,
        tags=_digest_tag(scorecard),
    )
    return str(mv.version), True, artifact_digest


def _model_dir_for_upload(fetched: Fetched, work: Path) -> Path:
    """An MLflow model folder holding exactly the verified bytes."""
    if fetched.data is None:
        return fetched.local_path  # an MLflow model folder, hashed as is
    import mlflow.sklearn

    # A single file: wrap the estimator deserialised from the verified bytes in an MLflow
    # sklearn model, and keep those bytes beside it for the auditor.
    original = work / "original" / fetched.local_path.name
    original.parent.mkdir(parents=True)
    original.write_bytes(fetched.data)
    estimator = load_file_bytes(fetched.data, path=fetched.local_path)
    out = work / "mlflow-model"
    metadata = {
        "quality_gates_source_file": fetched.local_path.name,
        "quality_gates_source_digest": sha256_bytes(fetched.data),
    }
    try:
        import skops.io

        trusted = skops.io.get_untrusted_types(data=skops.io.dumps(estimator))
        mlflow.sklearn.save_model(
            estimator,
            str(out),
            serialization_format=mlflow.sklearn.SERIALIZATION_FORMAT_SKOPS,
            skops_trusted_types=trusted,
            pip_requirements=mlflow.sklearn.get_default_pip_requirements(include_skops=True),
            extra_files=[str(original)],
            metadata=metadata,
        )
    except Exception:  # noqa: BLE001 - skops cannot store every estimator (e.g. lambdas)
        shutil.rmtree(out, ignore_errors=True)
        try:
            mlflow.sklearn.save_model(
                estimator,
                str(out),
                serialization_format=mlflow.sklearn.SERIALIZATION_FORMAT_CLOUDPICKLE,
                pip_requirements=mlflow.sklearn.get_default_pip_requirements(
                    include_cloudpickle=True
                ),
                extra_files=[str(original)],
                metadata=metadata,
            )
        except Exception as exc:  # noqa: BLE001
            raise GateInputError(
                f"cannot package {fetched.local_path.name} as an MLflow model: {one_line(exc)}; "
                "log it with mlflow.sklearn.log_model and promote the models:/ URI"
            ) from None
    return out


def _wait_ready(client: MlflowClient, name: str, version: str) -> None:
    deadline = time.monotonic() + _READY_TIMEOUT_S
    delay = 0.2
    while True:
        mv = client.get_model_version(name, version)
        status = str(mv.status)
        if status.endswith("READY"):
            return
        if "FAILED" in status:
            raise GateInputError(
                f"registration of '{name}' version {version} failed ({mv.status_message or status})"
                "; check the model source and retry"
            )
        if time.monotonic() > deadline:
            raise GateInputError(
                f"'{name}' version {version} is still {status} after {_READY_TIMEOUT_S:.0f} s; "
                "check the registry and retry"
            )
        time.sleep(delay)
        delay = min(delay * 2, 5.0)
