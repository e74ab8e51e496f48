"""Promotion: register the candidate and move the staging alias, only after every gate passed.

The checks here repeat what the pipeline's ``dsl.If`` already guarantees, on purpose: this step
is also reachable from the CLI and from users' own pipelines, and it must refuse on its own.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from quality_gates.shared.contracts.errors import GateInputError
from quality_gates.shared.contracts.scorecard import Scorecard
from quality_gates.shared.governance.registry import Promotion, promote


def load_scorecard(path: str | Path) -> Scorecard:
    """Read a scorecard JSON file.

    Args:
        path: Path of ``scorecard.json``.

    Returns:
        The scorecard.

    Raises:
        GateInputError: When the file is missing or not a scorecard.
    """
    p = Path(path)
    try:
        return Scorecard.from_json(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise GateInputError(f"scorecard {p} does not exist; run the aggregator first") from None
    except (ValueError, OSError) as exc:
        raise GateInputError(f"scorecard {p} is not a valid scorecard: {exc}") from None


def candidate_source(model_uri: str, model: Any = None) -> tuple[str, str | None]:
    """Return the candidate's recorded URI and the local path to read it from.

    Args:
        model_uri: The URI parameter ("" when the model comes as an artifact).
        model: A KFP ``Input[Model]`` or None.

    Returns:
        ``(uri, path)``: the artifact's URI (what the aggregator recorded) and its local path,
        or ``(model_uri, None)`` when no artifact is wired.

    Raises:
        GateInputError: Both or neither given, or an empty artifact.
    """
    from quality_gates.shared.gates.artifacts import model_path

    if model is None:
        if not model_uri:
            raise GateInputError("no candidate given; pass model_uri or wire the model artifact")
        return model_uri, None
    if model_uri:
        raise GateInputError("the model is given twice, as an artifact and as model_uri")
    return str(model.uri), model_path(model)


def promote_from_scorecard(
    *,
    scorecard: Scorecard,
    model_uri: str,
    registered_model_name: str,
    alias: str = "staging",
    tracking_uri: str | None = None,
    model_path: str | None = None,
) -> Promotion:
    """Register the evaluated model and point ``alias`` at it.

    Args:
        scorecard: The aggregator's scorecard for this model.
        model_uri: The candidate's URI (must hold the bytes the gates saw).
        registered_model_name: Registered model to add the version to.
        alias: Alias to set (``staging`` by default).
        tracking_uri: MLflow tracking URI; default from ``MLFLOW_TRACKING_URI``.
        model_path: Where to read the candidate when it came as a KFP artifact (its local
            copy); ``model_uri`` is then the artifact's URI, which the scorecard recorded.

    Returns:
        What was registered and which version held the alias before.

    Raises:
        GateInputError: When the scorecard does not allow promotion or the model changed.
    """
    if not registered_model_name:
        raise GateInputError("no registered model name given; pass registered_model_name")
    if not scorecard.all_passed:
        raise GateInputError(
            f"refusing to promote: the scorecard decision is {scorecard.decision.value} "
            f"({scorecard.summary})"
        )
    if scorecard.model_uri and scorecard.model_uri != model_uri:
        raise GateInputError(
            f"refusing to promote {model_uri}: the scorecard is for {scorecard.model_uri}"
        )
    lineage = {k: str(v) for k, v in scorecard.lineage.items() if not isinstance(v, dict)}
    done = promote(
        scorecard=scorecard,
        model_uri=model_path or model_uri,
        registered_name=registered_model_name,
        alias=alias,
        tracking_uri=tracking_uri,
        lineage=lineage,
    )
    from quality_gates.shared.governance import audit
    from quality_gates.shared.governance.registry import scorecard_digest

    try:
        audit.append(
            model=registered_model_name,
            event="promotion",
            version=done.version,
            details={
                "alias": done.alias,
                "previous_version": done.previous_version,
                "created": done.created,
                "model_digest": scorecard.model_digest,
                # What approval later compares the registered bytes and the policy with: this
                # record (signed), not the version's tags, which the pipeline's identity can edit.
                "artifact_digest": done.artifact_digest,
                "policy_digest": scorecard.policy_digest,
                "evidence_kept": done.evidence_kept,
                "scorecard_digest": scorecard_digest(scorecard),
                "evaluation_run_id": scorecard.evaluation_run_id,
                "gates": {r.gate: r.status.value for r in scorecard.results},
                "waivers_used": [w for w in scorecard.waivers if w.get("state") == "used"],
            },
            tracking_uri=tracking_uri,
        )
    except GateInputError as exc:
        raise GateInputError(
            f"version {done.version} now holds '{alias}' but the audit record failed: {exc}"
        ) from None
    return done


def promotion_json(p: Promotion) -> str:
    """Return the promotion record as JSON text."""
    return json.dumps(
        {
            "name": p.name,
            "version": p.version,
            "alias": p.alias,
            "created": p.created,
            "previous_version": p.previous_version,
        },
        indent=2,
    )
