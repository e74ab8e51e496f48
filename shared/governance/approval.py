"""Manual approval, production promotion and rollback over the MLflow registry.

After the gates pass and the candidate holds ``staging``, a named person approves it for
``production`` (or rejects it). The state lives in model version tags (docs/ARCHITECTURE.md, "MLflow
conventions")::

    quality_gates.approval          pending | approved | rejected | timed_out
    quality_gates.submitted_by      who submitted the run (comma-separated when re-submitted)
    quality_gates.approver / approved_at / approval_comment
    quality_gates.rejected_by / rejected_at / rejection_comment
    quality_gates.previous_production   the version that held production before this one
    quality_gates.rolled_back / rolled_back_at / rolled_back_by / rollback_reason

Fail closed: every refusal is a :class:`~quality_gates.shared.contracts.errors.GateInputError` with
one line saying why, raised before the registry is touched. Authority comes from the evidence
(:mod:`quality_gates.shared.governance.evidence`, docs/THREAT_MODEL.md): approval is refused when
the approver is not on the allow-list of the policy the gates ran with (an empty list refuses
everyone), is not who the server authenticated, submitted the same bytes, when the latest
evaluation of the bytes did not pass, when the bytes differ from the digest the audit log
recorded at registration, when the audit log does not verify, and when it was already decided.

Concurrency: every state change (request, approve, reject, time-out, rollback) of a registered
model runs under a lease held in the registered model tag ``quality_gates.decision_lock``
(:func:`quality_gates.shared.governance.audit.tag_lease`), so two people approving the same version
at the same moment get one approval and one refusal ("already approved by ... at ..."). The lease
is removed afterwards: a refusal leaves the registry as it was.

Order of writes on approval: the version's tags, then the ``production`` alias, then the audit
record. If the process dies between them, ``status`` shows the half-done state and the error
names it; nothing is ever promoted without its approval tags.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from quality_gates.shared.contracts.errors import GateInputError, one_line
from quality_gates.shared.contracts.results import utc_now
from quality_gates.shared.governance import audit
from quality_gates.shared.governance.evidence import (
    Evidence,
    require_current_pass,
    verified_log,
    version_evidence,
)
from quality_gates.shared.io.models import model_digest
from quality_gates.shared.policy.approval import ApprovalPolicy
from quality_gates.shared.policy.schema import policy_digest
from quality_gates.shared.tracking.client import (
    MAX_TAG_VALUE,
    TAG_PREFIX,
    ModelMissing,
    alias_version,
    connect,
    ensure_reachable,
    error_code,
    mlflow_call,
    resolve_tracking_uri,
    tag_value,
)
from quality_gates.shared.tracking.identity import (
    Identity,
    acting_identity,
    claimed_identity,
    server_identity,
)

if TYPE_CHECKING:  # pragma: no cover - typing only
    from mlflow import MlflowClient

log = logging.getLogger(__name__)

APPROVAL = f"{TAG_PREFIX}approval"
SUBMITTED_BY = f"{TAG_PREFIX}submitted_by"
REQUESTED_AT = f"{TAG_PREFIX}approval_requested_at"
APPROVER = f"{TAG_PREFIX}approver"
APPROVED_AT = f"{TAG_PREFIX}approved_at"
APPROVAL_COMMENT = f"{TAG_PREFIX}approval_comment"
REJECTED_BY = f"{TAG_PREFIX}rejected_by"
REJECTED_AT = f"{TAG_PREFIX}rejected_at"
REJECTION_COMMENT = f"{TAG_PREFIX}rejection_comment"
TIMED_OUT_AT = f"{TAG_PREFIX}timed_out_at"
PREVIOUS_PRODUCTION = f"{TAG_PREFIX}previous_production"
ROLLED_BACK = f"{TAG_PREFIX}rolled_back"
ROLLED_BACK_AT = f"{TAG_PREFIX}rolled_back_at"
ROLLED_BACK_BY = f"{TAG_PREFIX}rolled_back_by"
ROLLBACK_REASON = f"{TAG_PREFIX}rollback_reason"
DECISION = f"{TAG_PREFIX}decision"
MODEL_DIGEST = f"{TAG_PREFIX}model_digest"
ARTIFACT_DIGEST = f"{TAG_PREFIX}artifact_digest"
GATE_PREFIX = f"{TAG_PREFIX}gate."
LOCK = f"{TAG_PREFIX}decision_lock"
AUTHENTICATED = f"{TAG_PREFIX}approval_authenticated"
SOURCE_MODEL = f"{TAG_PREFIX}source_model"
SOURCE_VERSION = f"{TAG_PREFIX}source_version"
USER_ENV = "QUALITY_GATES_USER"

PENDING, APPROVED, REJECTED, TIMED_OUT = "pending", "approved", "rejected", "timed_out"
_PASSING_DECISIONS = ("passed", "warned")
_PASSING_GATES = ("passed", "warned", "skipped")
# Errors that will not go away by waiting.
_PERMANENT_CODES = ("RESOURCE_DOES_NOT_EXIST", "PERMISSION_DENIED", "UNAUTHENTICATED")


@dataclass(frozen=True)
class Decision:
    """The outcome of :func:`request_approval`, :func:`approve` or :func:`reject`.

    Attributes:
        name: Registered model name.
        version: Model version.
        state: ``pending``, ``approved``, ``rejected`` or ``timed_out``.
        actor: Who requested, approved or rejected.
        at: When (UTC, ISO 8601).
        comment: Why (approval/rejection comment).
        alias: The alias moved to the version (``production`` on approval), else None.
        previous_version: The version that held that alias before, else None.
        audit_seq: Sequence number of the audit record written, or None when nothing changed.
    """

    name: str
    version: str
    state: str
    actor: str
    at: str
    comment: str = ""
    alias: str | None = None
    previous_version: str | None = None
    audit_seq: int | None = None


@dataclass(frozen=True)
class Rollback:
    """The outcome of :func:`rollback`.

    Attributes:
        name: Registered model name.
        alias: The alias moved (``production``).
        from_version: The version that held it.
        to_version: The version that holds it now.
        actor: Who rolled back.
        reason: Why.
        at: When (UTC, ISO 8601).
        digest_verified: Whether the restored version's bytes were checked against a recorded
            digest (False only for a version registered without quality-gates digests).
        audit_seq: Sequence number of the audit record.
    """

    name: str
    alias: str
    from_version: str
    to_version: str
    actor: str
    reason: str
    at: str
    digest_verified: bool
    audit_seq: int | None = None


# --------------------------------------------------------------------------------------------
# Identity
# --------------------------------------------------------------------------------------------


def resolve_identity(explicit: str | None) -> tuple[str, str]:
    """Return who claims to act and where that came from (flag, env, OS user; unverified).

    Decisions use :func:`quality_gates.shared.tracking.identity.acting_identity`, which prefers
    the identity the tracking server authenticated.

    Args:
        explicit: The identity given on the command line, or None.

    Returns:
        ``(identity, source)`` with source ``"flag"``, ``"QUALITY_GATES_USER"`` or ``"OS user"``.

    Raises:
        GateInputError: When no identity can be determined.
    """
    return claimed_identity(explicit)


def _same_identity(a: str, b: str) -> bool:
    return a.strip().casefold() == b.strip().casefold()


# --------------------------------------------------------------------------------------------
# Registry access
# --------------------------------------------------------------------------------------------


def _check_version(version: str | int) -> str:
    text = str(version).strip()
    if not text.isdigit():
        raise GateInputError(f"version '{version}' is not a number; pass --version N")
    return str(int(text))


def _check_name(name: str) -> str:
    if not name or not str(name).strip():
        raise GateInputError("no registered model name given; pass --model NAME")
    if "'" in name:
        raise GateInputError(f"registered model name {name!r} contains a quote; use another name")
    return str(name).strip()


def _get_version(client: MlflowClient, name: str, version: str, tracking: str) -> Any:
    try:
        return client.get_model_version(name, version)
    except Exception as exc:
        if error_code(exc) == "RESOURCE_DOES_NOT_EXIST":
            raise GateInputError(
                f"registered model '{name}' version {version} not found at tracking URI "
                f"{tracking}; check the name and version (quality-gates status --model {name})"
            ) from None
        raise


def _alias_holder(client: MlflowClient, name: str, alias: str, tracking: str) -> str | None:
    try:
        return alias_version(client, name, alias, tracking_uri=tracking)
    except ModelMissing:
        raise GateInputError(
            f"registered model '{name}' not found at tracking URI {tracking}; check the name"
        ) from None


def _set_tags(client: MlflowClient, name: str, version: str, tags: dict[str, str]) -> None:
    for key, value in tags.items():
        client.set_model_version_tag(name, version, key, tag_value(value, MAX_TAG_VALUE))


def _decision_lease(client: MlflowClient, name: str, owner: str):
    def get() -> str | None:
        return (client.get_registered_model(name).tags or {}).get(LOCK)

    return audit.tag_lease(
        get=get,
        put=lambda token: client.set_registered_model_tag(name, LOCK, token),
        drop=lambda: client.delete_registered_model_tag(name, LOCK),
        what=f"the approval state of '{name}'",
        owner=owner,
    )


def _audit(
    policy: ApprovalPolicy,
    *,
    name: str,
    event: str,
    version: str | None,
    actor: str,
    details: dict[str, Any],
    tracking: str,
    done: str,
) -> int:
    """Append the audit record of a change that already took effect; say so if it fails."""
    try:
        record = audit.append(
            model=name,
            event=event,
            version=version,
            actor=actor,
            details=details,
            tracking_uri=tracking,
            mirror=policy.audit_mirror,
        )
    except GateInputError as exc:
        raise GateInputError(
            f"{done}, but its audit record could not be written: {exc}; record it again with "
            "the audit log restored"
        ) from None
    return int(record["seq"])


def _state_text(tags: dict[str, str], version: str) -> str:
    state = tags.get(APPROVAL)
    if state == APPROVED:
        return (
            f"version {version} was already approved by {tags.get(APPROVER, '?')} at "
            f"{tags.get(APPROVED_AT, '?')}"
        )
    if state == REJECTED:
        return (
            f"version {version} was already rejected by {tags.get(REJECTED_BY, '?')} at "
            f"{tags.get(REJECTED_AT, '?')}"
        )
    return f"version {version} is in approval state '{state}'"


def _require_decidable(tags: dict[str, str], name: str, version: str) -> None:
    state = tags.get(APPROVAL)
    if state in (PENDING, TIMED_OUT):
        return
    if state is None:
        raise GateInputError(
            f"'{name}' version {version} was never submitted for approval ({APPROVAL} is unset); "
            "run the pipeline's manual_approval step for it first"
        )
    raise GateInputError(f"{_state_text(tags, version)}; a decision is final")


def _require_gates_passed(tags: dict[str, str], name: str, version: str) -> None:
    decision = tags.get(DECISION)
    if decision not in _PASSING_DECISIONS:
        raise GateInputError(
            f"'{name}' version {version} cannot be approved: its gate decision is "
            f"{decision or 'not recorded'} (needs passed or warned); re-run the gates"
        )
    gates = {k[len(GATE_PREFIX) :]: v for k, v in tags.items() if k.startswith(GATE_PREFIX)}
    if not gates:
        raise GateInputError(
            f"'{name}' version {version} cannot be approved: no gate results are recorded on it; "
            "promote it through the gates first"
        )
    bad = {g: s for g, s in sorted(gates.items()) if s not in _PASSING_GATES}
    if bad:
        shown = ", ".join(f"{g}={s}" for g, s in bad.items())
        raise GateInputError(
            f"'{name}' version {version} cannot be approved: not every gate passed ({shown}); "
            "fix the model and re-run the gates"
        )


def _verify_digest(
    tags: dict[str, str], name: str, version: str, tracking: str, *, required: bool
) -> bool:
    """Re-hash the registered bytes; True when checked, False when no digest was recorded."""
    # A .joblib upload is wrapped in an MLflow model: the gates saw the file (model_digest), the
    # registry holds the wrapper (artifact_digest). Compare like with like.
    expected = tags.get(ARTIFACT_DIGEST) or tags.get(MODEL_DIGEST)
    if not expected:
        if required:
            raise GateInputError(
                f"'{name}' version {version} cannot be approved: it records no model digest, so "
                "its bytes cannot be checked against what the gates saw; promote it through the "
                "gates"
            )
        return False
    found = model_digest(f"models:/{name}/{version}", tracking_uri=tracking)
    if found != expected:
        raise GateInputError(
            f"'{name}' version {version} cannot be promoted: its model bytes changed since the "
            f"gates ran (recorded {expected}, found {found}); re-run the gates"
        )
    return True


# --------------------------------------------------------------------------------------------
# Request, approve, reject
# --------------------------------------------------------------------------------------------


def request_approval(
    *,
    name: str,
    version: str,
    submitted_by: str,
    tracking_uri: str | None = None,
    policy: ApprovalPolicy,
) -> Decision:
    """Mark a staged version as waiting for approval (``pending``) and record who submitted it.

    A version already approved or rejected is left as it is and its state returned, so a
    pipeline re-run on the same bytes does not reopen a final decision; a ``timed_out`` version
    becomes ``pending`` again.

    Args:
        name: Registered model name.
        version: Model version.
        submitted_by: Identity that submitted the run; cannot approve it later.
        tracking_uri: MLflow tracking URI; defaults to ``MLFLOW_TRACKING_URI``.
        policy: The policy's ``approval`` section.

    Returns:
        The version's state after the request.

    Raises:
        GateInputError: When the version does not exist or MLflow fails.
    """
    name, version = _check_name(name), _check_version(version)
    submitter = submitted_by.strip() if submitted_by else ""
    if not submitter:
        raise GateInputError("no submitter identity given; pass submitted_by")
    tracking = resolve_tracking_uri(tracking_uri)
    ensure_reachable(tracking)
    doing = f"requesting approval of '{name}' version {version}"
    with mlflow_call(doing=doing, tracking_uri=tracking):
        client = connect(tracking)
        _get_version(client, name, version, tracking)
        with _decision_lease(client, name, submitter):
            tags = dict(_get_version(client, name, version, tracking).tags or {})
            state = tags.get(APPROVAL)
            if state in (APPROVED, REJECTED):
                actor = tags.get(APPROVER if state == APPROVED else REJECTED_BY, "")
                at = tags.get(APPROVED_AT if state == APPROVED else REJECTED_AT, "")
                return Decision(name=name, version=version, state=state, actor=actor, at=at)
            known = [s.strip() for s in tags.get(SUBMITTED_BY, "").split(",") if s.strip()]
            if state == PENDING and any(_same_identity(s, submitter) for s in known):
                at = tags.get(REQUESTED_AT, "")
                return Decision(name=name, version=version, state=PENDING, actor=submitter, at=at)
            at = utc_now()
            # Every submitter of these bytes stays on record: a re-request after a time-out
            # must not let an earlier submitter approve.
            submitters = list(known)
            if not any(_same_identity(s, submitter) for s in submitters):
                submitters.append(submitter)
            _set_tags(
                client,
                name,
                version,
                {SUBMITTED_BY: ",".join(submitters), REQUESTED_AT: at, APPROVAL: PENDING},
            )
    seq = _audit(
        policy,
        name=name,
        event="approval_requested",
        version=version,
        actor=submitter,
        details={
            "submitted_by": submitters,
            "previous_state": state,
            # Who the server authenticated for this request (None without authentication): the
            # pipeline's identity, kept beside the submitter it names.
            "recorded_by": server_identity(tracking),
        },
        tracking=tracking,
        done=f"'{name}' version {version} is pending approval",
    )
    return Decision(
        name=name, version=version, state=PENDING, actor=submitter, at=at, audit_seq=seq
    )


def _authority(evidence: Evidence, policy_text: str | None) -> ApprovalPolicy:
    """The approval rules of the policy the gates ran with; a different caller policy refuses."""
    where = f"'{evidence.name}' version {evidence.version}"
    if policy_text is not None:
        given = policy_digest(policy_text)
        if given != evidence.policy_digest:
            raise GateInputError(
                f"the policy passed ({given}) is not the one {where} was gated under "
                f"({evidence.policy_digest}); approval follows the recorded policy: omit --policy "
                "or pass that one"
            )
    if evidence.policy.approval is None:
        raise GateInputError(
            f"{where} was gated under a policy with no 'approval' section, so nobody may decide "
            "on it; add approval.approvers and re-run the gates"
        )
    return evidence.policy.approval


def _require_approver(policy: ApprovalPolicy, who: str, verb: str) -> str:
    who = who.strip() if who else ""
    if not who:
        raise GateInputError(f"no identity given to {verb} as")
    if not policy.approvers:
        raise GateInputError(
            f"nobody may {verb}: the recorded policy's approval.approvers list is empty; add "
            "the identities allowed to decide and re-run the gates"
        )
    if not policy.allows(who):
        raise GateInputError(
            f"'{who}' may not {verb}: not on the approver list of the policy the gates ran with "
            f"({', '.join(policy.approvers)})"
        )
    return who


def _check_approvable(
    client: MlflowClient, evidence: Evidence, approver: str, tracking: str
) -> tuple[dict[str, str], list[str]]:
    """Refuse before taking the lease; return the version's tags and every submitter."""
    name, version = evidence.name, evidence.version
    tags = dict(_get_version(client, name, version, tracking).tags or {})
    _require_decidable(tags, name, version)
    submitters = list(evidence.submitters)
    for s in tags.get(SUBMITTED_BY, "").split(","):
        if s.strip() and not any(_same_identity(s, k) for k in submitters):
            submitters.append(s.strip())
    if any(_same_identity(s, approver) for s in submitters):
        raise GateInputError(
            f"'{approver}' submitted the bytes of '{name}' version {version} and cannot approve "
            "them; another approver must"
        )
    require_current_pass(evidence)
    _require_gates_passed(tags, name, version)
    _verify_bytes(evidence, f"models:/{name}/{version}", tracking)
    return tags, submitters


def _verify_bytes(evidence: Evidence, uri: str, tracking: str) -> None:
    """Re-hash the registered bytes against the digest the audit log recorded at registration."""
    found = model_digest(uri, tracking_uri=tracking)
    if found != evidence.artifact_digest:
        raise GateInputError(
            f"'{evidence.name}' version {evidence.version} cannot be promoted: its model bytes "
            "differ from those registered after the gates ran (audit log "
            f"{evidence.artifact_digest}, found {found}); re-run the gates"
        )


def production_copy(client: MlflowClient, evidence: Evidence, target: str, tracking: str) -> str:
    """The version of the production model holding the approved bytes (copied once)."""
    source = f"models:/{evidence.name}/{evidence.version}"
    if target == evidence.name:
        return evidence.version
    try:
        client.get_registered_model(target)
    except Exception as exc:
        if error_code(exc) == "RESOURCE_DOES_NOT_EXIST":
            raise GateInputError(
                f"the production model '{target}' does not exist at {tracking}; an administrator "
                "creates it and grants approvers EDIT on it (quality-gates auth setup)"
            ) from None
        raise
    for mv in client.search_model_versions(f"name = '{target}'"):
        t = mv.tags or {}
        if t.get(SOURCE_MODEL) == evidence.name and t.get(SOURCE_VERSION) == evidence.version:
            return str(mv.version)
    copied = client.copy_model_version(source, target)
    _set_tags(
        client,
        target,
        str(copied.version),
        {
            SOURCE_MODEL: evidence.name,
            SOURCE_VERSION: evidence.version,
            MODEL_DIGEST: evidence.model_digest,
            ARTIFACT_DIGEST: evidence.artifact_digest,
        },
    )
    _verify_bytes(evidence, f"models:/{target}/{copied.version}", tracking)
    return str(copied.version)


def _record_approval(
    client: MlflowClient,
    evidence: Evidence,
    rules: ApprovalPolicy,
    who: Identity,
    comment: str,
    tracking: str,
) -> tuple[str | None, str, str]:
    """Under the lease: re-check, tag, copy to the production model, move the alias.

    Returns (previous holder, when, production version).
    """
    name, version = evidence.name, evidence.version
    now = dict(_get_version(client, name, version, tracking).tags or {})
    _require_decidable(now, name, version)  # decided meanwhile: refuse with who and when
    target = rules.production_model_for(name)
    alias = rules.alias_on_approval
    prod_version = production_copy(client, evidence, target, tracking)
    previous = _alias_holder(client, target, alias, tracking)
    at = utc_now()
    new_tags = {
        APPROVER: who.name,
        APPROVED_AT: at,
        APPROVAL_COMMENT: comment,
        AUTHENTICATED: str(who.authenticated).lower(),
    }
    if previous and previous != prod_version:
        new_tags[PREVIOUS_PRODUCTION] = previous
    # The state tag last, then the alias: production never points at a version whose
    # approval record is incomplete.
    new_tags[APPROVAL] = APPROVED
    _set_tags(client, name, version, new_tags)
    if target != name:
        _set_tags(client, target, prod_version, new_tags)
    client.set_registered_model_alias(target, alias, prod_version)
    return previous, at, prod_version


def _evidence_details(evidence: Evidence, tags: dict[str, str]) -> dict[str, Any]:
    return {
        "model_digest": evidence.model_digest,
        "artifact_digest": evidence.artifact_digest,
        "policy_digest": evidence.policy_digest,
        "evaluation_run_id": evidence.evaluation_run_id,
        "scorecard_digest": tags.get(f"{TAG_PREFIX}scorecard_digest"),
    }


def approve(
    *,
    name: str,
    version: str,
    approver: str | None,
    comment: str,
    tracking_uri: str | None = None,
    policy_text: str | None = None,
) -> Decision:
    """Approve a version and point the production alias at it.

    Authority comes from the evidence (docs/THREAT_MODEL.md): the approvers of the policy the
    gates ran with, the identity the server authenticated, the bytes' digest and submitters as
    the audit log recorded them. With ``approval.production_model`` set, the version is copied
    into that registered model and its alias moved there.

    Args:
        name: Registered model name (the gated one).
        version: Model version.
        approver: The identity claimed (``--as``), or None to use the authenticated one.
        comment: Why; required, kept on the version and in the audit log.
        tracking_uri: MLflow tracking URI; defaults to ``MLFLOW_TRACKING_URI``.
        policy_text: A policy the caller expects in force; refused unless it is the recorded one.

    Returns:
        The decision, with the version that held production before.

    Raises:
        GateInputError: One line when refused or when MLflow fails; a refusal changes nothing.
    """
    name, version = _check_name(name), _check_version(version)
    comment = (comment or "").strip()
    if not comment:
        raise GateInputError("an approval needs a comment saying why; pass --comment")
    tracking = resolve_tracking_uri(tracking_uri)
    ensure_reachable(tracking)
    who = acting_identity(approver, tracking)
    with mlflow_call(doing=f"approving '{name}' version {version}", tracking_uri=tracking):
        client = connect(tracking)
        _get_version(client, name, version, tracking)
        evidence = version_evidence(client, name, version, tracking)
        rules = _authority(evidence, policy_text)
        _require_approver(rules, who.name, "approve")
        tags, submitters = _check_approvable(client, evidence, who.name, tracking)
        with _decision_lease(client, name, who.name):
            previous, at, prod_version = _record_approval(
                client, evidence, rules, who, comment, tracking
            )
    target = rules.production_model_for(name)
    seq = _audit(
        rules,
        name=name,
        event="approval",
        version=version,
        actor=who.name,
        details={
            "comment": comment,
            "alias": rules.alias_on_approval,
            "production_model": target,
            "production_version": prod_version,
            "previous_version": previous,
            "submitted_by": submitters,
            "authenticated": who.authenticated,
            "identity_source": who.source,
            **_evidence_details(evidence, tags),
        },
        tracking=tracking,
        done=f"'{name}' version {version} is approved and holds '{rules.alias_on_approval}'",
    )
    return Decision(
        name=name,
        version=version,
        state=APPROVED,
        actor=who.name,
        at=at,
        comment=comment,
        alias=rules.alias_on_approval,
        previous_version=previous if previous != prod_version else None,
        audit_seq=seq,
    )


def reject(
    *,
    name: str,
    version: str,
    approver: str | None,
    comment: str,
    tracking_uri: str | None = None,
    policy_text: str | None = None,
) -> Decision:
    """Reject a version; no alias changes.

    Only an approver of the recorded policy may reject (identity as in :func:`approve`). A
    submitter may reject (withdraw) their own submission: rejecting only ever keeps a model out
    of production.

    Args:
        name: Registered model name.
        version: Model version.
        approver: The identity claimed (``--as``), or None to use the authenticated one.
        comment: Why; required.
        tracking_uri: MLflow tracking URI; defaults to ``MLFLOW_TRACKING_URI``.
        policy_text: A policy the caller expects to be in force; refused unless recorded.

    Returns:
        The decision.

    Raises:
        GateInputError: One line when refused (not an approver, not pending, already decided) or
            when MLflow fails; a refusal changes nothing.
    """
    name, version = _check_name(name), _check_version(version)
    comment = (comment or "").strip()
    if not comment:
        raise GateInputError("a rejection needs a comment saying why; pass --comment")
    tracking = resolve_tracking_uri(tracking_uri)
    ensure_reachable(tracking)
    who = acting_identity(approver, tracking)
    with mlflow_call(doing=f"rejecting '{name}' version {version}", tracking_uri=tracking):
        client = connect(tracking)
        _require_decidable(
            dict(_get_version(client, name, version, tracking).tags or {}), name, version
        )
        rules = _authority(version_evidence(client, name, version, tracking), policy_text)
        _require_approver(rules, who.name, "reject")
        with _decision_lease(client, name, who.name):
            _require_decidable(
                dict(_get_version(client, name, version, tracking).tags or {}), name, version
            )
            at = utc_now()
            _set_tags(
                client,
                name,
                version,
                {
                    REJECTED_BY: who.name,
                    REJECTED_AT: at,
                    REJECTION_COMMENT: comment,
                    AUTHENTICATED: str(who.authenticated).lower(),
                },
            )
            _set_tags(client, name, version, {APPROVAL: REJECTED})
    seq = _audit(
        rules,
        name=name,
        event="rejection",
        version=version,
        actor=who.name,
        details={"comment": comment, "authenticated": who.authenticated},
        tracking=tracking,
        done=f"'{name}' version {version} is rejected",
    )
    return Decision(
        name=name,
        version=version,
        state=REJECTED,
        actor=who.name,
        at=at,
        comment=comment,
        audit_seq=seq,
    )


# --------------------------------------------------------------------------------------------
# Waiting
# --------------------------------------------------------------------------------------------


def _poll_state(name: str, version: str, tracking: str) -> str | None:
    """The version's approval state; raises only errors that waiting cannot fix."""
    ensure_reachable(tracking)
    try:
        mv = connect(tracking).get_model_version(name, version)
    except Exception as exc:
        code = error_code(exc)
        if code in _PERMANENT_CODES:
            if code == "RESOURCE_DOES_NOT_EXIST":
                raise GateInputError(
                    f"'{name}' version {version} disappeared from the registry at {tracking} "
                    "while waiting for its approval"
                ) from None
            raise GateInputError(
                f"MLflow at {tracking} refused access while waiting for the approval of "
                f"'{name}' version {version} ({code})"
            ) from None
        raise
    return (mv.tags or {}).get(APPROVAL)


def wait_for_decision(
    *,
    name: str,
    version: str,
    tracking_uri: str | None = None,
    policy: ApprovalPolicy,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> str:
    """Poll the version's approval state until it is decided or the policy's timeout passes.

    Polls after ``poll_initial_s``, doubling up to ``poll_max_s``. A server that cannot be
    reached (restarted, network blip) is retried at the next poll; a version that disappears
    or access that is refused ends the wait. On timeout the version is tagged ``timed_out``
    (unless it was decided at the last moment) and the timeout is audited.

    Args:
        name: Registered model name.
        version: Model version (already ``pending``).
        tracking_uri: MLflow tracking URI; defaults to ``MLFLOW_TRACKING_URI``.
        policy: The policy's ``approval`` section.
        sleep: Sleeps between polls (injectable for tests).
        clock: Monotonic clock in seconds (injectable for tests).

    Returns:
        ``approved``, ``rejected`` or ``timed_out``.

    Raises:
        GateInputError: When the version is not waiting for approval, disappears, or the
            time-out cannot be recorded.
    """
    name, version = _check_name(name), _check_version(version)
    tracking = resolve_tracking_uri(tracking_uri)
    start = clock()
    interval = policy.poll_initial_s
    unreachable_since: float | None = None
    while True:
        try:
            state = _poll_state(name, version, tracking)
        except GateInputError as exc:
            if "unreachable" not in str(exc):
                raise
            state = "unknown"
        except Exception as exc:  # noqa: BLE001 - a server restarting answers 5xx, resets
            state = "unknown"
            log.warning("approval poll of '%s' v%s failed: %s", name, version, one_line(exc))
        if state == "unknown":
            if unreachable_since is None:
                unreachable_since = clock()
                log.warning("MLflow at %s unreachable; retrying at the next poll", tracking)
        else:
            if unreachable_since is not None:
                log.warning("MLflow at %s reachable again", tracking)
            unreachable_since = None
        if state in (APPROVED, REJECTED, TIMED_OUT):
            return str(state)
        if state is None:
            raise GateInputError(
                f"'{name}' version {version} is not waiting for approval ({APPROVAL} is unset); "
                "request approval first"
            )
        elapsed = clock() - start
        if elapsed >= policy.timeout_s:
            return _time_out(name=name, version=version, tracking=tracking, policy=policy)
        sleep(min(interval, policy.timeout_s - elapsed))
        interval = min(interval * 2, policy.poll_max_s)


def _time_out(*, name: str, version: str, tracking: str, policy: ApprovalPolicy) -> str:
    ensure_reachable(tracking)
    doing = f"recording the approval time-out of '{name}' version {version}"
    with mlflow_call(doing=doing, tracking_uri=tracking):
        client = connect(tracking)
        with _decision_lease(client, name, "quality-gates"):
            tags = dict(_get_version(client, name, version, tracking).tags or {})
            if tags.get(APPROVAL) in (APPROVED, REJECTED, TIMED_OUT):
                return str(tags[APPROVAL])  # decided at the last moment
            at = utc_now()
            _set_tags(client, name, version, {TIMED_OUT_AT: at, APPROVAL: TIMED_OUT})
    _audit(
        policy,
        name=name,
        event="timeout",
        version=version,
        actor="quality-gates",
        details={"timeout_s": policy.timeout_s, "submitted_by": tags.get(SUBMITTED_BY)},
        tracking=tracking,
        done=f"'{name}' version {version} timed out waiting for approval",
    )
    return TIMED_OUT


# --------------------------------------------------------------------------------------------
# Rollback
# --------------------------------------------------------------------------------------------


def _rollback_target(
    client: MlflowClient, name: str, current: str
) -> tuple[str, dict[str, str]] | None:
    versions = {
        str(mv.version): dict(mv.tags or {})
        for mv in client.search_model_versions(f"name = '{name}'")
        if mv.name == name and str(mv.status).endswith("READY")
    }

    def eligible(v: str) -> bool:
        tags = versions.get(v)
        return (
            tags is not None
            and v != current
            and tags.get(ROLLED_BACK) != "true"
            and tags.get(APPROVAL) not in (REJECTED, PENDING, TIMED_OUT)
        )

    # The recorded previous holder first: it held production, whether approved here or by the
    # process that came before quality gates (a champion registered by hand).
    preferred = versions.get(current, {}).get(PREVIOUS_PRODUCTION)
    if preferred and eligible(preferred):
        return preferred, versions[preferred]
    approved = [v for v, t in versions.items() if eligible(v) and t.get(APPROVAL) == APPROVED]
    if not approved:
        return None
    best = max(approved, key=lambda v: (versions[v].get(APPROVED_AT, ""), int(v)))
    return best, versions[best]


def _choose_rollback(
    client: MlflowClient, name: str, alias: str, tracking: str
) -> tuple[str, str, dict[str, str]]:
    """Return (current holder, target, target's tags), or refuse when there is none."""
    current = _alias_holder(client, name, alias, tracking)
    if current is None:
        raise GateInputError(f"no version of '{name}' holds '{alias}'; nothing to roll back")
    found = _rollback_target(client, name, current)
    if found is None:
        raise GateInputError(
            f"no earlier approved version of '{name}' to roll back to ('{alias}' is version "
            f"{current}); approve one first"
        )
    target, target_tags = found
    return current, target, target_tags


def _record_rollback(
    client: MlflowClient,
    name: str,
    alias: str,
    current: str,
    target: str,
    actor: str,
    reason: str,
    tracking: str,
) -> str:
    """Under the lease: re-check, tag the version rolled back from and move the alias."""
    if (
        _alias_holder(client, name, alias, tracking) != current
        or (_rollback_target(client, name, current) or ("", {}))[0] != target
    ):
        raise GateInputError(f"'{alias}' of '{name}' changed meanwhile; retry")
    at = utc_now()
    _set_tags(
        client,
        name,
        current,
        {
            ROLLED_BACK_AT: at,
            ROLLED_BACK_BY: actor,
            ROLLBACK_REASON: reason,
            ROLLED_BACK: "true",
        },
    )
    client.set_registered_model_alias(name, alias, target)
    return at


def policy_in_force(client: MlflowClient, name: str, tracking: str) -> Evidence:
    """The evidence of the latest promotion in the model's log: the policy now in force.

    Args:
        client: MLflow client.
        name: Registered model name.
        tracking: Tracking URI.

    Returns:
        The evidence of the most recently promoted version.

    Raises:
        GateInputError: When the log does not verify or records no promotion.
    """
    records, _ = verified_log(name, tracking)
    promoted = [r for r in records if r.get("event") == "promotion" and r.get("version")]
    if not promoted:
        raise GateInputError(
            f"'{name}' has no promotion in its audit log, so no policy names who may decide; "
            "promote a version through the gates first"
        )
    return version_evidence(client, name, str(promoted[-1]["version"]), tracking)


def rollback(
    *,
    name: str,
    reason: str,
    actor: str | None,
    tracking_uri: str | None = None,
    policy_text: str | None = None,
) -> Rollback:
    """Move the production alias back to the previous approved version.

    The target is the version recorded as ``previous_production`` on the current holder (the
    champion it replaced) unless that version was rejected or rolled back itself; otherwise the
    most recently approved version other than the current holder. The version rolled back from
    is tagged ``rolled_back`` so that a second rollback does not return to it. The target's
    bytes are re-hashed against its recorded digest.

    Args:
        name: Registered model name.
        reason: Why; required.
        actor: The identity claimed (``--as``), or None for the authenticated one; must be on
            the approver list of the policy in force (the latest promotion's).
        tracking_uri: MLflow tracking URI; defaults to ``MLFLOW_TRACKING_URI``.
        policy_text: A policy the caller expects to be in force; refused unless it is it.

    Returns:
        What moved where.

    Raises:
        GateInputError: One line when refused (no production holder, nothing to roll back to,
            not an approver, the target's bytes changed) or when MLflow fails.
    """
    name = _check_name(name)
    reason = (reason or "").strip()
    if not reason:
        raise GateInputError("a rollback needs a reason; pass --reason")
    tracking = resolve_tracking_uri(tracking_uri)
    ensure_reachable(tracking)
    who = acting_identity(actor, tracking)
    with mlflow_call(doing=f"rolling back '{name}'", tracking_uri=tracking):
        client = connect(tracking)
        rules = _authority(policy_in_force(client, name, tracking), policy_text)
        actor = _require_approver(rules, who.name, "roll back")
        alias, model = rules.production_alias, rules.production_model_for(name)
        current, target, target_tags = _choose_rollback(client, model, alias, tracking)
        verified = _verify_digest(target_tags, model, target, tracking, required=False)
        with _decision_lease(client, name, actor):
            at = _record_rollback(client, model, alias, current, target, actor, reason, tracking)
    seq = _audit(
        rules,
        name=name,
        event="rollback",
        version=target_tags.get(SOURCE_VERSION, target),
        actor=actor,
        details={
            "alias": alias,
            "production_model": model,
            "from_version": current,
            "to_version": target,
            "reason": reason,
            "digest_verified": verified,
            "authenticated": who.authenticated,
        },
        tracking=tracking,
        done=f"'{alias}' of '{name}' is rolled back from version {current} to {target}",
    )
    return Rollback(
        name=name,
        alias=alias,
        from_version=current,
        to_version=target,
        actor=actor,
        reason=reason,
        at=at,
        digest_verified=verified,
        audit_seq=seq,
    )


# --------------------------------------------------------------------------------------------
# Status
# --------------------------------------------------------------------------------------------


def status(
    *, name: str, tracking_uri: str | None = None, policy: ApprovalPolicy | None = None
) -> dict[str, Any]:
    """Return the registered model's aliases, approval states and gate summary per version.

    Args:
        name: Registered model name.
        tracking_uri: MLflow tracking URI; defaults to ``MLFLOW_TRACKING_URI``.
        policy: The policy's ``approval`` section, for the alias names (defaults otherwise).

    Returns:
        ``{"name", "aliases": {alias: version}, "production", "staging", "pending": [versions],
        "versions": [{"version", "aliases", "approval", "submitted_by", "approver",
        "approved_at", "approval_comment", "rejected_by", "rejected_at", "rejection_comment",
        "rolled_back", "decision", "gates": {gate: status}, "model_digest"}]}``, newest first.

    Raises:
        GateInputError: When the model does not exist or MLflow fails.
    """
    name = _check_name(name)
    tracking = resolve_tracking_uri(tracking_uri)
    ensure_reachable(tracking)
    with mlflow_call(doing=f"reading the status of '{name}'", tracking_uri=tracking):
        client = connect(tracking)
        policy, evaluations, log_problem = _status_context(client, name, tracking, policy)
        try:
            registered = client.get_registered_model(name)
        except Exception as exc:
            if error_code(exc) == "RESOURCE_DOES_NOT_EXIST":
                raise GateInputError(
                    f"registered model '{name}' not found at tracking URI {tracking}; check the "
                    "name, and --tracking-uri or MLFLOW_TRACKING_URI"
                ) from None
            raise
        aliases = {str(k): str(v) for k, v in (registered.aliases or {}).items()}
        found = client.search_model_versions(f"name = '{name}'")
        production_model = policy.production_model_for(name)
        production = aliases.get(policy.production_alias)
        if production_model != name:
            production = _production_source(client, production_model, policy, tracking)
    by_version: dict[str, list[str]] = {}
    for alias_name, v in sorted(aliases.items()):
        by_version.setdefault(v, []).append(alias_name)
    rows = [
        _status_row(mv, by_version, evaluations)
        for mv in sorted(found, key=lambda m: int(m.version), reverse=True)
        if mv.name == name
    ]
    return {
        "name": name,
        "aliases": aliases,
        "production_model": production_model,
        "audit_log": log_problem or "verified",
        "production": production,
        "staging": aliases.get(policy.staging_alias),
        "pending": [r["version"] for r in rows if r["approval"] == PENDING],
        "versions": rows,
    }


def _status_row(mv: Any, by_version: dict[str, list[str]], evaluations: dict[str, str]) -> dict:
    tags = dict(mv.tags or {})
    v = str(mv.version)
    return {
        "version": v,
        "aliases": by_version.get(v, []),
        "approval": tags.get(APPROVAL),
        "submitted_by": tags.get(SUBMITTED_BY),
        "approver": tags.get(APPROVER),
        "approved_at": tags.get(APPROVED_AT),
        "approval_comment": tags.get(APPROVAL_COMMENT),
        "rejected_by": tags.get(REJECTED_BY),
        "rejected_at": tags.get(REJECTED_AT),
        "rejection_comment": tags.get(REJECTION_COMMENT),
        "rolled_back": tags.get(ROLLED_BACK) == "true",
        "decision": tags.get(DECISION),
        "gates": {
            k[len(GATE_PREFIX) :]: val
            for k, val in sorted(tags.items())
            if k.startswith(GATE_PREFIX)
        },
        "model_digest": tags.get(MODEL_DIGEST),
        "approval_authenticated": tags.get(AUTHENTICATED),
        "latest_evaluation": evaluations.get(tags.get(MODEL_DIGEST, "")),
    }


def _status_context(
    client: MlflowClient, name: str, tracking: str, given: ApprovalPolicy | None
) -> tuple[ApprovalPolicy, dict[str, str], str | None]:
    """The approval rules in force, the latest decision per model digest, and a log problem."""
    try:
        records, _ = verified_log(name, tracking)
    except GateInputError as exc:
        return given or ApprovalPolicy(), {}, str(exc)
    latest: dict[str, str] = {}
    for r in records:
        details = r.get("details") or {}
        if r.get("event") == "aggregation" and details.get("model_digest"):
            latest[str(details["model_digest"])] = str(details.get("decision"))
    rules = given
    if rules is None:
        try:
            rules = policy_in_force(client, name, tracking).policy.approval
        except GateInputError:
            rules = None
    return rules or ApprovalPolicy(), latest, None


def _production_source(
    client: MlflowClient, model: str, policy: ApprovalPolicy, tracking: str
) -> str | None:
    """The gated version the production model's alias holder was copied from."""
    try:
        holder = alias_version(client, model, policy.production_alias, tracking_uri=tracking)
    except ModelMissing:
        return None
    if holder is None:
        return None
    tags = client.get_model_version(model, holder).tags or {}
    return tags.get(SOURCE_VERSION) or f"{model}/{holder}"


def format_status(report: dict[str, Any]) -> str:
    """Render :func:`status` as text for the terminal.

    Args:
        report: The dict :func:`status` returned.

    Returns:
        A few lines: aliases, pending approvals, one line per version.
    """
    aliases = ", ".join(f"{a}=v{v}" for a, v in sorted(report["aliases"].items())) or "none"
    pending = ", ".join(f"v{v}" for v in report["pending"]) or "none"
    lines = [f"{report['name']}: aliases {aliases}; pending approval: {pending}"]
    if report.get("production_model") not in (None, report["name"]):
        lines.append(
            f"  production: {report['production_model']} holds it, copied from "
            f"v{report.get('production') or '-'}"
        )
    if report.get("audit_log") not in (None, "verified"):
        lines.append(f"  audit log: {report['audit_log']}")
    for r in report["versions"]:
        state = r["approval"] or "-"
        if state in (APPROVED, REJECTED):
            by, at = (
                ("approver", "approved_at") if state == APPROVED else ("rejected_by", "rejected_at")
            )
            state += f" by {r[by]} at {r[at]}"
            if r.get("approval_authenticated") != "true":
                state += " (unauthenticated)"
        if r["rolled_back"]:
            state += " (rolled back)"
        latest = r.get("latest_evaluation")
        if latest and latest not in _PASSING_DECISIONS:
            state += f" (revoked: latest evaluation {latest})"
        gates = " ".join(f"{g}={s}" for g, s in r["gates"].items()) or "no gate results"
        held = f" [{', '.join(r['aliases'])}]" if r["aliases"] else ""
        lines.append(
            f"  v{r['version']}{held}: approval {state}; gates {r['decision'] or '-'}: {gates}"
        )
    return "\n".join(lines)
