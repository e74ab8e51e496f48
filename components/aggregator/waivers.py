"""Apply the policy's waivers to gate results before the decision.

Only a ``failed`` check can be waived (an ``error`` means the gate could not judge, which no
waiver can excuse). A waiver takes effect only when its approver holds the authority to grant
it: the approver is on the policy's ``approval.approvers`` allow-list, is not the submitter of
the run, and the waiver ends within ``approval.max_waiver_days`` days. A waived check becomes
``warned`` with the waiver in its message; the gate's status is recomputed from its checks.
Every waiver, used, unused, expired or refused, is reported so the scorecard and the audit log
show exactly which exceptions were in force and which were turned down, and why.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from quality_gates.shared.contracts.results import GateResult, Status, worst
from quality_gates.shared.policy.approval import ApprovalPolicy
from quality_gates.shared.policy.waivers import Waiver


def today_utc() -> date:
    """Return today's date in UTC (waivers end at the end of their ``until`` day, UTC)."""
    return datetime.now(UTC).date()


def refusal(
    w: Waiver, *, approval: ApprovalPolicy | None, submitted_by: str | None, today: date
) -> str | None:
    """Why a waiver has no authority, or None when it may take effect.

    Args:
        w: The waiver.
        approval: The policy's approval section; None means nobody may grant a waiver.
        submitted_by: Who submitted the run; None when unknown (then no waiver takes effect,
            since its approver cannot be shown to be someone else).
        today: The day the waiver is judged on.

    Returns:
        A one-line reason, or None.
    """
    if approval is None or not approval.approvers:
        return (
            "the policy lists no approval.approvers, so nobody may grant a waiver; add the "
            "approver to approval.approvers"
        )
    if not approval.allows(w.approver):
        return f"approver {w.approver} is not on approval.approvers, so may not grant a waiver"
    submitter = (submitted_by or "").strip()
    if not submitter:
        return "the submitter of the run is unknown, so the waiver's approval is not independent"
    if submitter.casefold() == w.approver.strip().casefold():
        return f"approver {w.approver} submitted this run and may not waive its own failures"
    days = (w.until - today).days
    if days > approval.max_waiver_days:
        return (
            f"until {w.until.isoformat()} is {days} days away, more than approval."
            f"max_waiver_days ({approval.max_waiver_days}); grant a shorter waiver"
        )
    return None


def apply_waivers(
    results: dict[str, GateResult],
    waivers: list[Waiver],
    *,
    approval: ApprovalPolicy | None = None,
    submitted_by: str | None = None,
    today: date | None = None,
) -> tuple[dict[str, GateResult], list[dict]]:
    """Turn failing checks waived by someone with the authority to do so into warnings.

    Args:
        results: Result per gate.
        waivers: The policy's waivers.
        approval: The policy's approval section (who may grant waivers, for how long); None
            refuses every waiver.
        submitted_by: Who submitted the run; an approver may not waive their own run.
        today: The date to judge expiry by; default today in UTC.

    Returns:
        The results (waived ones copied and changed) and one record per waiver with its state:
        ``used`` (applied to a failing check), ``unused`` (nothing failing matched),
        ``expired`` or ``refused`` (with its ``refusal`` reason); neither of the last two has
        any effect.
    """
    today = today or today_utc()
    out = dict(results)
    records = []
    for w in waivers:
        record = {
            "gate": w.gate,
            "check": w.check,
            "until": w.until.isoformat(),
            "approver": w.approver,
            "reason": w.reason,
            "ticket": w.ticket,
            "submitted_by": submitted_by,
        }
        if w.until < today:
            why = f"expired on {w.until.isoformat()}"
            records.append({**record, "state": "expired", "refusal": why})
            continue
        why = refusal(w, approval=approval, submitted_by=submitted_by, today=today)
        if why is not None:
            records.append({**record, "state": "refused", "refusal": why})
            continue
        changed = _waived(out.get(w.gate), w, record)
        records.append({**record, "state": "used" if changed else "unused"})
        if changed:
            out[w.gate] = changed
    return out, records


def _waived(result: GateResult | None, w: Waiver, record: dict) -> GateResult | None:
    """A copy of ``result`` with the checks ``w`` names turned to warnings; None when none fail."""
    hits = [
        i
        for i, c in enumerate(result.checks if result else [])
        if c.name == w.check and c.status == Status.FAILED
    ]
    if not hits or result is None:
        return None
    changed = result.model_copy(deep=True)
    for i in hits:
        c = changed.checks[i]
        c.status = Status.WARNED
        c.message = (
            f"{c.message} [WAIVED until {w.until.isoformat()} by {w.approver}: {w.reason}; "
            f"ticket {w.ticket}]"
        )
        c.details = {**c.details, "waiver": record}
    changed.status = worst([c.status for c in changed.checks])
    changed.summary = f"{changed.summary} (waiver applied to '{w.check}')"
    return changed


def policy_approval(policy_text: str) -> ApprovalPolicy | None:
    """Return the approval section of a policy (None when absent or the policy is invalid).

    Args:
        policy_text: The policy YAML text.

    Returns:
        The section; None refuses every waiver.
    """
    from quality_gates.shared.contracts.errors import GateInputError
    from quality_gates.shared.policy.schema import parse_policy

    try:
        return parse_policy(policy_text, source="<pipeline policy>").approval
    except GateInputError:
        return None


def resolve_submitter(submitted_by: str | None) -> str | None:
    """Who submitted the run: the value given, ``QUALITY_GATES_USER`` or the OS user.

    Args:
        submitted_by: The identity given (a flag or pipeline parameter); empty or None resolves.

    Returns:
        The identity, or None when none can be determined (then no waiver takes effect).
    """
    from quality_gates.shared.contracts.errors import GateInputError
    from quality_gates.shared.governance.approval import resolve_identity

    try:
        return resolve_identity(submitted_by or None)[0]
    except GateInputError:
        return None
