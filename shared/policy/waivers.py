"""Waivers: a named failing check turned into a warning, by a named person, until a date.

A waiver is an exception with an owner and an end: it names the gate and the check exactly as
the scorecard shows them, who approved it, why, the ticket that tracks the fix, and the last day
it applies. An expired waiver has no effect and is listed as expired on the scorecard.

Writing a waiver into the policy does not make it valid: it takes effect only when its approver
is on ``approval.approvers``, is not the person who submitted the run, and its ``until`` is at
most ``approval.max_waiver_days`` days away. Otherwise it is listed as ``refused`` with the
reason, and the refusal is written to the model's audit log (``waiver_refused``).
"""

from __future__ import annotations

from datetime import date

from pydantic import Field

from quality_gates.shared.policy.base import StrictModel


class Waiver(StrictModel):
    """One waiver of one check.

    Attributes:
        gate: Gate name, e.g. ``performance``.
        check: The check's name as on the scorecard, e.g. ``recall >= 0.4``.
        until: Last day (inclusive, UTC) the waiver applies; at most
            ``approval.max_waiver_days`` days after the day it is used.
        approver: Who granted it; must be on ``approval.approvers`` and not the submitter.
        reason: Why the failure is acceptable for now.
        ticket: Where the fix is tracked.
    """

    gate: str = Field(min_length=1)
    check: str = Field(min_length=1)
    until: date
    approver: str = Field(min_length=1)
    reason: str = Field(min_length=1)
    ticket: str = Field(min_length=1)
