"""Manual approval step: mark the staged version ``pending``, then wait for a decision or stop.

Two modes, both fail closed:

* ``wait``: request approval, then poll until an approver approves (``quality-gates approve``
  moves ``production``) or rejects, or the policy's ``approval.timeout_s`` passes
  (``timed_out``). The pod runs for as long as the decision takes.
* ``pending``: request approval and return ``pending`` at once; the decision is taken later
  out of band with ``quality-gates approve|reject``, which promotes without any pipeline running.

The step checks that the scorecard it was given is the one the version was promoted with (same
model digest, all gates passed) before it asks anyone to approve.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass
from typing import Any, Literal

import yaml
from pydantic import ValidationError

from quality_gates.shared.contracts.errors import GateInputError
from quality_gates.shared.contracts.scorecard import Scorecard
from quality_gates.shared.governance.approval import (
    MODEL_DIGEST,
    request_approval,
    resolve_identity,
    wait_for_decision,
)
from quality_gates.shared.policy.approval import ApprovalPolicy
from quality_gates.shared.policy.schema import load_policy_yaml
from quality_gates.shared.tracking.client import (
    connect,
    ensure_reachable,
    mlflow_call,
    resolve_tracking_uri,
)

Mode = Literal["wait", "pending"]
MODES = ("wait", "pending")
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ApprovalOutcome:
    """What the step did.

    Attributes:
        name: Registered model name.
        version: Model version.
        mode: ``wait`` or ``pending``.
        state: ``pending``, ``approved``, ``rejected`` or ``timed_out``.
        submitted_by: Identity recorded as the submitter.
        submitted_by_source: Where that identity came from.
    """

    name: str
    version: str
    mode: str
    state: str
    submitted_by: str
    submitted_by_source: str


def approval_policy(text: str) -> ApprovalPolicy:
    """Return the ``approval:`` section of a policy YAML text.

    Args:
        text: The whole policy YAML.

    Returns:
        The validated section.

    Raises:
        GateInputError: When the text is not YAML, the section is missing (fail closed: nobody
            would be allowed to approve) or invalid.
    """
    try:
        data = load_policy_yaml(text)
    except yaml.YAMLError as exc:
        # A key given twice would let a second, laxer approval section win silently.
        raise GateInputError(f"the policy is not valid YAML ({exc}); fix it") from None
    section = data.get("approval") if isinstance(data, dict) else None
    if section is None:
        raise GateInputError(
            "the policy has no 'approval' section; add approval.approvers (who may approve) "
            "before using the manual approval step"
        )
    if not isinstance(section, dict):
        raise GateInputError("the policy's 'approval' section must be a mapping")
    try:
        return ApprovalPolicy.model_validate(section)
    except ValidationError as exc:
        problems = []
        for err in exc.errors()[:3]:
            path = ".".join(["approval", *(str(p) for p in err["loc"])])
            if err["type"] == "extra_forbidden":
                problems.append(f"unknown key '{path}'")
            else:
                problems.append(f"'{path}': {err['msg'].removeprefix('Value error, ')}")
        raise GateInputError(f"invalid policy: {'; '.join(problems)}; fix the policy") from None


def _check_scorecard(scorecard: Scorecard, *, name: str, version: str, tracking: str) -> None:
    if not scorecard.all_passed:
        raise GateInputError(
            f"refusing to request approval: the scorecard decision is "
            f"{scorecard.decision.value} ({scorecard.summary})"
        )
    ensure_reachable(tracking)
    with mlflow_call(doing=f"reading '{name}' version {version}", tracking_uri=tracking):
        tags = connect(tracking).get_model_version(name, version).tags or {}
    recorded = tags.get(MODEL_DIGEST)
    if not recorded or recorded != scorecard.model_digest:
        raise GateInputError(
            f"refusing to request approval: '{name}' version {version} records model digest "
            f"{recorded or 'none'} but the scorecard is for {scorecard.model_digest or 'none'}; "
            "pass the version the promote step returned"
        )


def run_manual_approval(
    *,
    scorecard: Scorecard,
    registered_model_name: str,
    version: str,
    policy_text: str,
    submitted_by: str = "",
    mode: str = "wait",
    tracking_uri: str | None = None,
    **wait_kwargs: Any,
) -> ApprovalOutcome:
    """Request approval of a staged version and, in ``wait`` mode, wait for the decision.

    Args:
        scorecard: The aggregator's scorecard the version was promoted with.
        registered_model_name: Registered model name.
        version: The version the promote step registered.
        policy_text: The policy YAML; its ``approval`` section is used.
        submitted_by: Who submitted the run; empty resolves ``QUALITY_GATES_USER`` or the OS user.
        mode: ``wait`` or ``pending``.
        tracking_uri: MLflow tracking URI; defaults to ``MLFLOW_TRACKING_URI``.
        **wait_kwargs: Passed to :func:`~quality_gates.shared.governance.approval.wait_for_decision`
            (``sleep``, ``clock``; tests only).

    Returns:
        The outcome; ``state`` is ``pending`` in pending mode, else the decision.

    Raises:
        GateInputError: For an unknown mode, a missing approval section, a scorecard that does
            not match the version, or MLflow failures.
    """
    if mode not in MODES:
        raise GateInputError(f"unknown mode '{mode}'; use one of {', '.join(MODES)}")
    if not registered_model_name:
        raise GateInputError("no registered model name given; pass registered_model_name")
    if mode == "pending" and _has_no_approval_section(policy_text):
        # Nobody is named to approve, so nothing can move to production; the version stays at
        # staging without an approval request instead of failing the run.
        return _not_configured(registered_model_name, version, mode=mode, submitted_by=submitted_by)
    policy = approval_policy(policy_text)
    tracking = resolve_tracking_uri(tracking_uri)
    version = str(version).strip()
    _check_scorecard(scorecard, name=registered_model_name, version=version, tracking=tracking)
    state, who, source = _request(
        registered_model_name, version, submitted_by=submitted_by, tracking=tracking, policy=policy
    )
    if mode == "wait" and state == "pending":
        state = wait_for_decision(
            name=registered_model_name,
            version=version,
            tracking_uri=tracking,
            policy=policy,
            **wait_kwargs,
        )
    return ApprovalOutcome(
        name=registered_model_name,
        version=version,
        mode=mode,
        state=state,
        submitted_by=who,
        submitted_by_source=source,
    )


def _not_configured(name: str, version: str, *, mode: str, submitted_by: str) -> ApprovalOutcome:
    """The outcome when the policy names nobody to approve: no request, the version stays."""
    log.warning("'%s' version %s: the policy has no approval section", name, version)
    who, source = resolve_identity(submitted_by or None)
    return ApprovalOutcome(
        name=name,
        version=str(version),
        mode=mode,
        state="not_configured",
        submitted_by=who,
        submitted_by_source=source,
    )


def _request(
    name: str, version: str, *, submitted_by: str, tracking: str, policy: ApprovalPolicy
) -> tuple[str, str, str]:
    """Mark the version pending approval; returns its approval state and the submitter."""
    who, source = resolve_identity(submitted_by or None)
    requested = request_approval(
        name=name,
        version=version,
        submitted_by=who,
        tracking_uri=tracking,
        policy=policy,
    )
    state = requested.state
    log.warning(
        "'%s' version %s: approval %s (submitted by %s, from %s)",
        name,
        version,
        state,
        who,
        source,
    )
    return state, who, source


def _has_no_approval_section(policy_text: str) -> bool:
    try:
        data = load_policy_yaml(policy_text)
    except yaml.YAMLError:
        return False  # let approval_policy report the syntax error
    return isinstance(data, dict) and data.get("approval") is None


def outcome_json(outcome: ApprovalOutcome) -> str:
    """Return the outcome as JSON text (the component's ``decision`` artifact)."""
    return json.dumps(asdict(outcome), indent=2)
