"""Apply the policy's waivers to gate results before the decision.

Only a ``failed`` check can be waived (an ``error`` means the gate could not judge, which no
waiver can excuse). A waived check becomes ``warned`` with the waiver in its message; the gate's
status is recomputed from its checks. Every waiver, used, unused or expired, is reported so the
scorecard and the audit log show exactly which exceptions were in force.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from quality_gates.shared.contracts.results import GateResult, Status, worst
from quality_gates.shared.policy.waivers import Waiver


def today_utc() -> date:
    """Return today's date in UTC (waivers end at the end of their ``until`` day, UTC)."""
    return datetime.now(UTC).date()


def apply_waivers(
    results: dict[str, GateResult], waivers: list[Waiver], *, today: date | None = None
) -> tuple[dict[str, GateResult], list[dict]]:
    """Turn waived failing checks into warnings.

    Args:
        results: Result per gate.
        waivers: The policy's waivers.
        today: The date to judge expiry by; default today in UTC.

    Returns:
        The results (waived ones copied and changed) and one record per waiver with its state:
        ``used`` (applied to a failing check), ``unused`` (nothing failing matched) or
        ``expired``.
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
        }
        if w.until < today:
            records.append({**record, "state": "expired"})
            continue
        result = out.get(w.gate)
        hits = [
            i
            for i, c in enumerate(result.checks if result else [])
            if c.name == w.check and c.status == Status.FAILED
        ]
        if not hits:
            records.append({**record, "state": "unused"})
            continue
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
        out[w.gate] = changed
        records.append({**record, "state": "used"})
    return out, records
