"""Aggregator: turn the gates' results into one scorecard and one decision, failing closed.

Every expected gate must deliver a well-formed GateResult for the gate it claims to be; a missing,
unreadable or mismatched result counts as ``error``. The gates must also agree on what they
evaluated: two different model digests mean the gates did not see the same model.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from quality_gates.components.aggregator.waivers import apply_waivers
from quality_gates.shared.contracts.errors import one_line
from quality_gates.shared.contracts.results import GateResult, Status, error_result
from quality_gates.shared.contracts.scorecard import Scorecard, decide
from quality_gates.shared.policy.approval import ApprovalPolicy


def read_result(path: str | None, *, gate: str) -> GateResult:
    """Read one gate's result file, or synthesise an ``error`` result when it is unusable.

    Args:
        path: Path of the GateResult JSON; None or empty when the gate produced nothing.
        gate: The gate this input is wired to.

    Returns:
        The parsed result, or an ``error`` result saying what was wrong with the input.
    """
    if not path:
        return error_result(gate=gate, message=f"no result from the {gate} gate; check its task")
    p = Path(path)
    if not p.is_file():
        return error_result(
            gate=gate, message=f"result file of the {gate} gate is missing at {p}; check its task"
        )
    try:
        result = GateResult.from_json(p.read_text(encoding="utf-8"))
    except (ValueError, OSError) as exc:
        return error_result(
            gate=gate, message=f"result of the {gate} gate at {p} is malformed: {one_line(exc)}"
        )
    if result.gate != gate:
        return error_result(
            gate=gate,
            message=f"input wired as the {gate} gate holds a result of gate '{result.gate}'; "
            "fix the pipeline wiring",
        )
    return result


def _agreed(results: list[GateResult], key: str) -> tuple[str | None, list[str]]:
    seen = {r.inputs[key] for r in results if r.inputs.get(key)}
    if len(seen) > 1:
        return None, sorted(seen)
    return (next(iter(seen)) if seen else None), []


def aggregate(
    results: dict[str, GateResult],
    *,
    expected: list[str],
    not_configured: list[str] | None = None,
    require_model_digest: bool = True,
    waivers: list | None = None,
    approval: ApprovalPolicy | None = None,
    submitted_by: str | None = None,
    model_uri: str | None = None,
    registered_model_name: str | None = None,
    lineage: dict | None = None,
) -> Scorecard:
    """Combine gate results into a scorecard.

    Args:
        results: Result per gate name (already read; missing gates may be absent).
        expected: Every gate the policy configures; each must have a passing result.
        not_configured: Gates the pipeline ran whose policy section is absent; their (skipped)
            results are shown on the scorecard but do not take part in the decision.
        require_model_digest: Block when no gate recorded the model digest (promotion needs it;
            a stand-alone ``check`` does not).
        waivers: The policy's waivers; a waived failing check counts as a warning until the
            waiver expires, when the waiver's approver has the authority to grant it.
        approval: The policy's approval section: who may grant waivers and for how long; None
            refuses every waiver.
        submitted_by: Who submitted the run; an approver may not waive their own run, and an
            unknown submitter refuses every waiver.
        model_uri: The candidate's URI, for the record.
        registered_model_name: Registered model the decision is about.
        lineage: Provenance (git commit, versions, run ids).

    Returns:
        The scorecard; ``all_passed`` only when every expected gate passed or warned and the
        gates agree on the model and data digests.
    """
    results, waiver_records = apply_waivers(
        results, list(waivers or []), approval=approval, submitted_by=submitted_by
    )
    ordered = _expected_results(results, expected)
    (model_digest, data_digest, policy_digest), conflicts = _digests(ordered)
    ordered += conflicts
    status, all_passed = decide(ordered)
    if all_passed and require_model_digest and not model_digest:
        # Promotion needs the digest to refuse changed bytes; without one nothing may ship.
        ordered.append(
            error_result(
                gate="consistency",
                message="no gate recorded the model digest, so promotion could not verify the "
                "model bytes; run a gate that loads the model",
            )
        )
        status, all_passed = decide(ordered)
    unexpected = _unconfigured_errors(results, not_configured or [])
    if unexpected:
        ordered += unexpected
        status, all_passed = decide(ordered)
    skipped = [
        results[g]
        for g in not_configured or []
        if g in results and results[g].status == Status.SKIPPED
    ]
    return Scorecard(
        decision=status,
        all_passed=all_passed,
        summary=_summary(ordered, status, all_passed),
        expected_gates=list(expected),
        results=ordered + skipped,
        model_uri=model_uri,
        model_digest=model_digest,
        data_digest=data_digest,
        policy_digest=policy_digest,
        registered_model_name=registered_model_name,
        lineage=lineage or {},
        waivers=waiver_records,
    )


def _expected_results(results: dict[str, GateResult], expected: list[str]) -> list[GateResult]:
    """The result of every expected gate, an ``error`` one where a gate delivered none."""
    ordered = []
    for gate in expected:
        r = results.get(gate)
        ordered.append(r if r is not None else read_result(None, gate=gate))
    if not expected:
        ordered.append(
            error_result(
                gate="aggregator",
                message="the policy configures no gate; add at least one gates.<name> section "
                "with rules",
            )
        )
    return ordered


def _digests(
    ordered: list[GateResult],
) -> tuple[tuple[str | None, str | None, str | None], list[GateResult]]:
    """The model, data and policy digests the gates agree on, and an error per disagreement."""
    model_digest, model_conflict = _agreed(ordered, "model")
    data_digest, data_conflict = _agreed(ordered, "data")
    policy_digest, policy_conflict = _agreed(ordered, "policy")
    errors = []
    for key, conflict in (
        ("model", model_conflict),
        ("data", data_conflict),
        ("policy", policy_conflict),
    ):
        if conflict:
            errors.append(
                error_result(
                    gate="consistency",
                    message=f"gates evaluated different {key} inputs ({', '.join(conflict)}); "
                    "re-run all gates on the same inputs",
                )
            )
    return (model_digest, data_digest, policy_digest), errors


def _unconfigured_errors(
    results: dict[str, GateResult], not_configured: list[str]
) -> list[GateResult]:
    errors = []
    for gate in not_configured:
        r = results.get(gate)
        if r is not None and r.status != Status.SKIPPED:
            # A gate that ran although its section is absent means the wiring and the policy
            # disagree; its verdict cannot be trusted either way.
            errors.append(
                error_result(
                    gate=gate,
                    message=f"the {gate} gate returned {r.status.value} but gates.{gate} is not "
                    "configured in the policy; check the pipeline wiring",
                )
            )
    return errors


def _summary(ordered: list[GateResult], status: Status, all_passed: bool) -> str:
    # One wording for the aggregator and a scorecard whose decision changes later: an error or
    # failed scorecard never says the gates let the model through.
    from quality_gates.shared.contracts.scorecard import summarize

    return summarize(ordered, status, all_passed)


def record_evidence(
    scorecard: Scorecard,
    *,
    out_dir: str | Path,
    experiment_name: str | None,
    tracking_uri: str | None,
    policy_text: str | None = None,
    staging_alias: str = "staging",
) -> Scorecard:
    """Write the scorecard reports and log them, with every result, to an MLflow run.

    Logging is skipped when no tracking URI is configured. A logging failure is recorded on the
    scorecard as an ``evidence`` error that blocks promotion: a model whose evidence was not
    kept must not ship.

    Args:
        scorecard: The scorecard to record.
        out_dir: Folder for scorecard.json, .md and .html.
        experiment_name: MLflow experiment for the evaluation run.
        tracking_uri: MLflow tracking URI, or None to use ``MLFLOW_TRACKING_URI``.
        policy_text: The policy the gates ran with, kept in the run as ``policy.yaml``: approval
            reads its authority (approvers, waivers) from there, checked against the digest
            in the audit log, never from what the approver passes.
        staging_alias: Alias a failing evaluation removes from the version holding these bytes.

    Returns:
        The scorecard, with ``evaluation_run_id`` set when a run was logged.
    """
    from quality_gates.shared.reports.render import write_reports

    uri = tracking_uri or os.environ.get("MLFLOW_TRACKING_URI")
    paths = write_reports(scorecard, out_dir)
    if not uri or not experiment_name:
        return scorecard
    try:
        from quality_gates.shared.governance.registry import log_evaluation_run

        run_id = log_evaluation_run(
            scorecard=scorecard,
            experiment_name=experiment_name,
            report_paths={k: str(v) for k, v in paths.items() if k != "json"},
            tracking_uri=uri,
            policy_text=policy_text,
        )
    except Exception as exc:  # noqa: BLE001 - recorded as an error result, fail closed
        scorecard.results.append(
            error_result(
                gate="evidence",
                message=f"could not log the evaluation run to MLflow at {uri}: {one_line(exc)}; "
                "check the tracking server",
            )
        )
        scorecard.decision, scorecard.all_passed = decide(scorecard.results)
        scorecard.summary += "; evidence could not be logged"
        write_reports(scorecard, out_dir)
        return scorecard
    scorecard.evaluation_run_id = run_id
    if scorecard.registered_model_name:
        try:
            _audit_aggregation(scorecard, tracking_uri=uri)
            if not scorecard.all_passed and scorecard.model_digest:
                from quality_gates.shared.governance.registry import revoke

                # A failing evaluation of bytes that are already staged takes staging away.
                revoke(scorecard=scorecard, tracking_uri=uri, staging_alias=staging_alias)
        except Exception as exc:  # noqa: BLE001 - recorded as an error result, fail closed
            scorecard.results.append(
                error_result(
                    gate="evidence",
                    message=f"could not append to the audit log of "
                    f"{scorecard.registered_model_name}: {one_line(exc)}",
                )
            )
            scorecard.decision, scorecard.all_passed = decide(scorecard.results)
    write_reports(scorecard, out_dir)
    return scorecard


def _audit_aggregation(scorecard: Scorecard, *, tracking_uri: str) -> None:
    """Append the gate results, the decision and every waiver used or refused to the audit log."""
    from quality_gates.shared.governance import audit

    name = scorecard.registered_model_name
    for r in scorecard.results:
        audit.append(
            model=name,
            event="gate_result",
            details={
                "gate": r.gate,
                "status": r.status.value,
                "summary": r.summary,
                "inputs": r.inputs,
                "checks": [
                    {"name": c.name, "status": c.status.value, "value": c.value} for c in r.checks
                ],
            },
            tracking_uri=tracking_uri,
        )
    for w in scorecard.waivers:
        # A use is the approver's act; a refusal is recorded against whoever brought the waiver.
        event = {"used": "waiver_used", "refused": "waiver_refused"}.get(w.get("state"))
        if event:
            audit.append(
                model=name,
                event=event,
                actor=w.get("approver") if event == "waiver_used" else w.get("submitted_by"),
                details=w,
                tracking_uri=tracking_uri,
            )
    audit.append(
        model=name,
        event="aggregation",
        details={
            "decision": scorecard.decision.value,
            "all_passed": scorecard.all_passed,
            "model_uri": scorecard.model_uri,
            "model_digest": scorecard.model_digest,
            "data_digest": scorecard.data_digest,
            "policy_digest": scorecard.policy_digest,
            "evaluation_run_id": scorecard.evaluation_run_id,
            "gates": [
                {"gate": r.gate, "status": r.status.value, "summary": r.summary}
                for r in scorecard.results
            ],
        },
        tracking_uri=tracking_uri,
    )


def policy_waivers(policy_text: str) -> list:
    """Return the waivers of a policy (none when the policy is invalid: nothing is waived)."""
    from quality_gates.shared.contracts.errors import GateInputError
    from quality_gates.shared.policy.schema import parse_policy

    try:
        return list(parse_policy(policy_text, source="<pipeline policy>").waivers)
    except GateInputError:
        return []


def expected_gates(policy_text: str, wired: list[str]) -> tuple[list[str], list[str], str | None]:
    """Split the wired gates into those the policy configures and those it does not.

    Args:
        policy_text: The policy YAML text the gates evaluated.
        wired: Gates whose verdicts reach the aggregator.

    Returns:
        ``(expected, not_configured, problem)``; ``problem`` is a one-line message when the
        policy is invalid or configures a gate that is not wired (then every wired gate is
        expected, so nothing passes by omission).
    """
    from quality_gates.shared.contracts.errors import GateInputError
    from quality_gates.shared.policy.schema import configured_gates, parse_policy

    try:
        configured = configured_gates(parse_policy(policy_text, source="<pipeline policy>"))
    except GateInputError as exc:
        return list(wired), [], str(exc)
    unwired = [g for g in configured if g not in wired]
    if unwired:
        return (
            list(wired),
            [],
            (
                f"the policy configures {', '.join(unwired)} but this pipeline runs no such gate; "
                "use a pipeline that includes it or remove the section"
            ),
        )
    return [g for g in wired if g in configured], [g for g in wired if g not in configured], None


def dump(scorecard: Scorecard) -> str:
    """Return the scorecard JSON text (stable key order for digests)."""
    return json.dumps(json.loads(scorecard.to_json()), indent=2, sort_keys=True)
