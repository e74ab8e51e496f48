"""Glue between the aggregator component's KFP artifacts and its core logic."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

from quality_gates.components.aggregator.core import (
    aggregate,
    expected_gates,
    policy_waivers,
    read_result,
    record_evidence,
)
from quality_gates.components.aggregator.waivers import policy_approval, resolve_submitter
from quality_gates.shared.contracts.results import GateResult, error_result
from quality_gates.shared.contracts.scorecard import Scorecard
from quality_gates.shared.io.lineage import collect_lineage


def run_aggregator(
    *,
    verdicts: dict[str, str | None],
    policy: str,
    scorecard: Any,
    scorecard_html: Any,
    scorecard_md: Any,
    model_uri: str,
    registered_model_name: str,
    experiment_name: str,
    pipeline_run_id: str,
    tracking_uri: str,
    submitted_by: str = "",
) -> bool:
    """Aggregate verdict files into scorecard artifacts and return the decision.

    Args:
        verdicts: Path of each gate's GateResult JSON, by gate name.
        policy: The policy text; the gates it configures are the ones that must pass.
        scorecard: ``Output[Artifact]`` for the scorecard JSON.
        scorecard_html: ``Output[HTML]``.
        scorecard_md: ``Output[Markdown]``.
        model_uri: Candidate URI.
        registered_model_name: Registered model name.
        experiment_name: MLflow experiment for the evaluation run ("" skips logging).
        pipeline_run_id: KFP run id.
        tracking_uri: MLflow tracking URI ("" means ``MLFLOW_TRACKING_URI``).
        submitted_by: Who submitted the run ("" resolves ``QUALITY_GATES_USER`` or the OS user);
            a waiver approved by the submitter is refused.

    Returns:
        True only when every gate let the model through.
    """
    results = {gate: read_result(path, gate=gate) for gate, path in verdicts.items()}
    expected, not_configured, problem = expected_gates(policy, list(verdicts))
    if problem:
        results["policy"] = error_result(gate="policy", message=problem)
        expected.append("policy")
    lineage = _lineage(results, expected, pipeline_run_id)
    card = aggregate(
        results,
        expected=expected,
        not_configured=not_configured,
        waivers=policy_waivers(policy),
        approval=policy_approval(policy),
        submitted_by=resolve_submitter(submitted_by),
        model_uri=model_uri or None,
        registered_model_name=registered_model_name or None,
        lineage=lineage,
    )
    out = Path(tempfile.mkdtemp(prefix="scorecard-"))
    card = record_evidence(
        card,
        out_dir=out,
        experiment_name=experiment_name or None,
        tracking_uri=tracking_uri or None,
        policy_text=policy,
        staging_alias=getattr(policy_approval(policy), "staging_alias", "staging"),
    )
    _publish(
        card, out, scorecard=scorecard, scorecard_html=scorecard_html, scorecard_md=scorecard_md
    )
    shutil.rmtree(out, ignore_errors=True)
    return card.all_passed


def _lineage(results: dict[str, GateResult], expected: list[str], pipeline_run_id: str) -> dict:
    """Provenance of the run: the digests of the first expected gate that recorded inputs."""
    first = next((r for g, r in results.items() if g in expected and r.inputs), None)
    return collect_lineage(
        model_digest=first.inputs.get("model") if first else None,
        data_digest=first.inputs.get("data") if first else None,
        policy_digest=first.inputs.get("policy") if first else None,
        # The DVC md5 is read from a `<data>.dvc` file beside the evaluation data, when present.
        data_path=next(
            (str(r.details["data_uri"]) for r in results.values() if r.details.get("data_uri")),
            None,
        ),
        extra={"pipeline_run_id": pipeline_run_id} if pipeline_run_id else None,
    )


def _publish(
    card: Scorecard, out: Path, *, scorecard: Any, scorecard_html: Any, scorecard_md: Any
) -> None:
    """Copy the written reports to the output artifacts and put the decision on the JSON one."""
    for name, artifact in (
        ("scorecard.json", scorecard),
        ("scorecard.html", scorecard_html),
        ("scorecard.md", scorecard_md),
    ):
        Path(artifact.path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(out / name, artifact.path)
    scorecard.metadata.update(
        {
            "decision": card.decision.value,
            "all_passed": card.all_passed,
            "summary": card.summary,
            "model_digest": card.model_digest or "",
            "evaluation_run_id": card.evaluation_run_id or "",
        }
    )
