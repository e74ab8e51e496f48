"""The registry side of a canary release: production moves only when the canary reached 100%.

Under ``approval.release: canary`` an approver's approval moves ``approval.canary_alias``, not
production (:func:`quality_gates.shared.governance.approval.approve`). ``quality-gates rollout``
then shifts live traffic stage by stage; its outcome lands here:

- ``promoted``: the version must carry an approval the audit log records (by an approver of
  the policy it was gated under, :mod:`~quality_gates.shared.governance.evidence`), its bytes
  must match the registered digest; then production moves to it and a ``canary_promotion``
  record names every stage's numbers.
- ``rolled_back`` / ``hold``: production is not touched (it still names the stable model); a
  ``canary_rollback`` or ``canary_hold`` record names the stage and the metric that decided.
"""

from __future__ import annotations

from typing import Any

from quality_gates.shared.contracts.errors import GateInputError
from quality_gates.shared.governance import audit
from quality_gates.shared.governance.approval import (
    APPROVAL,
    APPROVED,
    production_copy,
)
from quality_gates.shared.governance.evidence import Evidence, version_evidence
from quality_gates.shared.policy.approval import ApprovalPolicy
from quality_gates.shared.tracking.client import (
    alias_version,
    connect,
    ensure_reachable,
    mlflow_call,
    resolve_tracking_uri,
)

OUTCOME_EVENTS = {
    "promoted": "canary_promotion",
    "rolled_back": "canary_rollback",
    "error": "canary_hold",
}


def release_rules(evidence: Evidence) -> ApprovalPolicy:
    """The recorded policy's approval rules, which must declare a canary release."""
    rules = evidence.policy.approval
    if rules is None or rules.release != "canary" or evidence.policy.release.canary is None:
        raise GateInputError(
            f"'{evidence.name}' version {evidence.version} was gated under a policy without a "
            "canary release (approval.release: canary and release.canary); deploy it with "
            "`quality-gates approve` instead"
        )
    return rules


def require_approved(client: Any, evidence: Evidence, tracking: str) -> None:
    """Refuse a version without an approval tag and an approval record by a listed approver."""
    mv = client.get_model_version(evidence.name, evidence.version)
    approvals = [
        r
        for r in audit.read(model=evidence.name, tracking_uri=tracking)
        if r.get("event") == "approval" and str(r.get("version")) == evidence.version
    ]
    approvers = {a.casefold() for a in (evidence.policy.approval.approvers or [])}  # type: ignore[union-attr]
    if (mv.tags or {}).get(APPROVAL) != APPROVED or not any(
        str(r.get("actor", "")).casefold() in approvers for r in approvals
    ):
        raise GateInputError(
            f"'{evidence.name}' version {evidence.version} has no approval by a listed approver "
            "in the audit log; a canary may only promote an approved version "
            "(quality-gates approve)"
        )


def record_outcome(
    *,
    name: str,
    version: str,
    outcome: str,
    actor: str,
    details: dict[str, Any],
    tracking_uri: str | None = None,
) -> dict[str, Any]:
    """Record a rollout's outcome; on ``promoted`` move production to the version first.

    Args:
        name: Registered (gated) model name.
        version: The canary's version.
        outcome: ``promoted``, ``rolled_back`` or ``error``.
        actor: Who ran the rollout (its service identity).
        details: The stages and their checks, for the audit record.
        tracking_uri: MLflow tracking URI.

    Returns:
        The audit record written.

    Raises:
        GateInputError: Unknown outcome, a version that may not be promoted, or MLflow failing.
    """
    if outcome not in OUTCOME_EVENTS:
        raise GateInputError(f"unknown rollout outcome '{outcome}'")
    tracking = resolve_tracking_uri(tracking_uri)
    ensure_reachable(tracking)
    with mlflow_call(doing=f"recording the rollout of '{name}' v{version}", tracking_uri=tracking):
        client = connect(tracking)
        evidence = version_evidence(client, name, str(version), tracking)
        rules = release_rules(evidence)
        target = rules.production_model_for(name)
        previous = alias_version(client, target, rules.production_alias, tracking_uri=tracking)
        extra: dict[str, Any] = {"alias": rules.production_alias, "production_model": target,
                                 "previous_version": previous}  # fmt: skip
        if outcome == "promoted":
            require_approved(client, evidence, tracking)
            prod_version = production_copy(client, evidence, target, tracking)
            client.set_registered_model_alias(target, rules.production_alias, prod_version)
            extra["production_version"] = prod_version
    return audit.append(
        model=name,
        event=OUTCOME_EVENTS[outcome],
        version=str(version),
        actor=actor,
        details={**details, **extra},
        tracking_uri=tracking,
        mirror=rules.audit_mirror,
    )


def canary_release(name: str, version: str, tracking_uri: str | None = None) -> Evidence:
    """The evidence of an approved version gated under a canary-release policy.

    Checked before any traffic moves: the rollout follows the policy recorded when the gates
    ran (``release.canary``), never one the caller passes, and starts only for an approved
    version.

    Raises:
        GateInputError: No canary release in the recorded policy, or no recorded approval.
    """
    tracking = resolve_tracking_uri(tracking_uri)
    ensure_reachable(tracking)
    with mlflow_call(doing=f"reading the release of '{name}' v{version}", tracking_uri=tracking):
        client = connect(tracking)
        evidence = version_evidence(client, name, str(version), tracking)
        release_rules(evidence)
        require_approved(client, evidence, tracking)
    return evidence
