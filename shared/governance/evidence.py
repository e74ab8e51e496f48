"""What a version was evaluated as, read from the audit log, never from its mutable tags.

Approval and rollback take their authority from here: the policy the gates ran with (the
``policy.yaml`` of the evaluation run, checked against the ``policy_digest`` of the version's
promotion record), the registered bytes' digest from the record written when they were
registered, every submitter of those bytes, and the latest evaluation of those bytes (a later
failing one revokes the earlier pass). The version's tags are only a display copy: the identity
that runs the pipeline can edit them, so nothing here trusts them.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from quality_gates.shared.contracts.errors import GateInputError
from quality_gates.shared.governance import audit
from quality_gates.shared.governance.registry import POLICY_ARTIFACT
from quality_gates.shared.governance.signing import trusted_keys
from quality_gates.shared.policy.schema import parse_policy, policy_digest

if TYPE_CHECKING:  # pragma: no cover - typing only
    from mlflow import MlflowClient

    from quality_gates.shared.policy.schema import Policy

_PASSING = ("passed", "warned")


@dataclass(frozen=True)
class Evidence:
    """A version's evidence as the audit log records it.

    Attributes:
        name: Registered model name.
        version: Model version.
        model_digest: Digest of the bytes the gates evaluated.
        artifact_digest: Digest of the registered bytes, from the record of their registration.
        policy_digest: Digest of the policy of the latest promotion.
        evaluation_run_id: The run holding that evaluation's results and policy.
        policy: That policy, parsed (its digest verified).
        submitters: Everyone who submitted these bytes (any version with the same digest).
        latest_decision: Decision of the latest evaluation of these bytes.
        latest_seq: Its audit record's sequence number.
        signed: Whether the log's signatures were verified with trusted keys.
        records: The log's records.
    """

    name: str
    version: str
    model_digest: str
    artifact_digest: str
    policy_digest: str
    evaluation_run_id: str
    policy: Policy
    submitters: list[str]
    latest_decision: str
    latest_seq: int
    signed: bool
    records: list[dict[str, Any]] = field(repr=False, default_factory=list)


def verified_log(name: str, tracking: str) -> tuple[list[dict[str, Any]], bool]:
    """Return the model's audit records, refusing a log that does not verify.

    Args:
        name: Registered model name.
        tracking: Tracking URI.

    Returns:
        ``(records, signed)``: signed is True when trusted keys are configured and checked.

    Raises:
        GateInputError: When the log is missing, planted, edited or, with keys configured,
            holds a record without a trusted signature.
    """
    records, top = audit._read_with_head(model=name, tracking_uri=tracking)
    if not records:
        raise GateInputError(
            f"'{name}' has no audit log at {tracking}: nothing records what its versions were "
            "evaluated as; promote through the gates"
        )
    trusted = trusted_keys()
    problems = audit.verify(records, head=top, trusted=trusted or None)
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise GateInputError(
            f"the audit log of '{name}' does not verify: {problems[0]}{more}; nothing is "
            f"decided on it until `quality-gates audit verify --model {name}` passes"
        )
    return records, bool(trusted)


def _of(records: list[dict[str, Any]], event: str, **match: Any) -> list[dict[str, Any]]:
    out = []
    for r in records:
        if r.get("event") != event:
            continue
        details = r.get("details") or {}
        if all((r.get(k) if k == "version" else details.get(k)) == v for k, v in match.items()):
            out.append(r)
    return out


def _submitters(records: list[dict[str, Any]], versions: set[str], digest: str) -> list[str]:
    seen: list[str] = []
    for r in records:
        details = r.get("details") or {}
        names: list[Any] = []
        if r.get("event") == "approval_requested" and r.get("version") in versions:
            names = [
                r.get("actor"),
                details.get("recorded_by"),
                *(details.get("submitted_by") or []),
            ]
        elif r.get("event") in ("aggregation", "promotion") and details.get("model_digest") == (
            digest
        ):
            names = [details.get("submitted_by")]
        for n in names:
            if (
                isinstance(n, str)
                and n.strip()
                and n.strip().casefold() not in map(str.casefold, seen)
            ):
                seen.append(n.strip())
    return seen


def recorded_policy(client: MlflowClient, run_id: str, digest: str, where: str) -> Policy:
    """Return the policy logged with an evaluation run, checked against the recorded digest.

    Args:
        client: MLflow client.
        run_id: Evaluation run id.
        digest: ``sha256:<hex>`` from the audit record.
        where: What the policy is for (for messages), e.g. ``'credit-risk' version 3``.

    Returns:
        The parsed policy.

    Raises:
        GateInputError: When the run holds no policy or its text does not match the digest.
    """
    with tempfile.TemporaryDirectory(prefix="qg-policy-") as tmp:
        try:
            local = client.download_artifacts(run_id, POLICY_ARTIFACT, tmp)
            text = Path(local).read_text(encoding="utf-8")
        except Exception:  # noqa: BLE001 - missing artifact or run: one refusal
            raise GateInputError(
                f"{where}: its evaluation run {run_id} holds no {POLICY_ARTIFACT}, so the policy "
                "it was gated under is unknown; re-run the gates"
            ) from None
    found = policy_digest(text)
    if found != digest:
        raise GateInputError(
            f"{where}: the policy in evaluation run {run_id} ({found}) is not the one the audit "
            f"log recorded ({digest}): it was replaced; re-run the gates"
        )
    return parse_policy(text, source=f"evaluation run {run_id}/{POLICY_ARTIFACT}")


def _same_digest_versions(client: MlflowClient, name: str, digest: str) -> set[str]:
    from quality_gates.shared.tracking.client import TAG_PREFIX

    found = client.search_model_versions(
        filter_string=f"name = '{name}' and tags.`{TAG_PREFIX}model_digest` = '{digest}'"
    )
    return {str(mv.version) for mv in found if mv.name == name}


def version_evidence(client: MlflowClient, name: str, version: str, tracking: str) -> Evidence:
    """Return what the audit log says ``name`` version ``version`` was evaluated as.

    Args:
        client: MLflow client.
        name: Registered model name.
        version: Model version.
        tracking: Tracking URI.

    Returns:
        The evidence.

    Raises:
        GateInputError: When the log does not verify, the version was never promoted through
            the gates, or its recorded policy is missing or replaced.
    """
    where = f"'{name}' version {version}"
    records, signed = verified_log(name, tracking)
    promotions = _of(records, "promotion", version=version)
    if not promotions:
        raise GateInputError(
            f"{where} has no promotion record in the audit log: the gates never staged it; "
            "promote it through the gates"
        )
    first, last = promotions[0]["details"], promotions[-1]["details"]
    digest = str(last.get("model_digest") or "")
    if not digest or not last.get("policy_digest") or not last.get("evaluation_run_id"):
        raise GateInputError(
            f"{where}: its promotion record names no model digest, policy digest or evaluation "
            "run (promoted by an older release?); re-run the gates"
        )
    evaluations = _of(records, "aggregation", model_digest=digest)
    latest = evaluations[-1] if evaluations else promotions[-1]
    versions = _same_digest_versions(client, name, digest) | {version}
    return Evidence(
        name=name,
        version=version,
        model_digest=digest,
        artifact_digest=str(first.get("artifact_digest") or digest),
        policy_digest=str(last["policy_digest"]),
        evaluation_run_id=str(last["evaluation_run_id"]),
        policy=recorded_policy(
            client, str(last["evaluation_run_id"]), str(last["policy_digest"]), where
        ),
        submitters=_submitters(records, versions, digest),
        latest_decision=str((latest.get("details") or {}).get("decision") or "passed"),
        latest_seq=int(latest.get("seq") or 0),
        signed=signed,
        records=records,
    )


def require_current_pass(evidence: Evidence) -> None:
    """Refuse when the latest evaluation of the version's bytes did not pass.

    Args:
        evidence: From :func:`version_evidence`.

    Raises:
        GateInputError: Naming the failing evaluation's record.
    """
    if evidence.latest_decision not in _PASSING:
        raise GateInputError(
            f"'{evidence.name}' version {evidence.version} cannot be approved: a later "
            f"evaluation of its bytes was {evidence.latest_decision} (audit record seq "
            f"{evidence.latest_seq}); it stays blocked until a passing evaluation"
        )
