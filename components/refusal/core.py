"""The refusal step: turn a refused scorecard into a failed task that says why.

A refused candidate is not a broken pipeline, but a run that ends SUCCEEDED looks, in the KFP
runs list, exactly like a promoted one. So when the aggregator refuses, the pipeline runs this
step, which prints one line per gate that blocked, writes them as a Markdown artifact and (by
default) exits non-zero: the run ends FAILED, with this task, "candidate refused", as the failing
one. ``fail_run=False`` keeps the reasons and lets the run end green.
"""

from __future__ import annotations

from quality_gates.shared.contracts.results import Status
from quality_gates.shared.contracts.scorecard import Scorecard

# What may let a candidate through; everything else blocked it.
_THROUGH = (Status.PASSED, Status.WARNED, Status.SKIPPED)
# Each reason is one line in a pod log; a gate's summary is already one sentence.
_MAX_REASON = 300


def refusal_reasons(card: Scorecard) -> list[str]:
    """Return one line per gate that blocked the candidate.

    Args:
        card: The aggregator's scorecard.

    Returns:
        ``"<gate>: <status> — <summary or error>"`` per blocking gate, worst first; a
        generic line when the scorecard refused without a blocking gate (e.g. a waiver).
    """
    order = {Status.ERROR: 0, Status.FAILED: 1}
    blocking = sorted(
        (r for r in card.results if r.status not in _THROUGH),
        key=lambda r: (order.get(r.status, 2), r.gate),
    )
    lines = []
    for result in blocking:
        why = " ".join(str(result.error or result.summary or "").split())
        if len(why) > _MAX_REASON:
            why = why[: _MAX_REASON - 1] + "…"
        lines.append(f"{result.gate}: {result.status.value} — {why}")
    return lines or [f"scorecard decision {card.decision.value}: {card.summary}"]


def refusal_markdown(card: Scorecard) -> str:
    """Render the refusal as the Markdown the KFP UI shows for this task.

    Args:
        card: The aggregator's scorecard.

    Returns:
        A heading, the candidate, and one bullet per blocking gate.
    """
    bullets = "\n".join(f"- {line}" for line in refusal_reasons(card))
    return (
        f"# Candidate refused\n\n"
        f"Decision: **{card.decision.value}** — {card.summary}\n\n"
        f"Candidate: `{card.model_uri or 'unknown'}` (digest `{card.model_digest or 'none'}`)\n\n"
        f"{bullets}\n"
    )


def refusal_message(card: Scorecard) -> str:
    """Return the one-line message the task ends with.

    Args:
        card: The aggregator's scorecard.

    Returns:
        ``candidate refused: <reason>; <reason> ...``.
    """
    return "candidate refused: " + "; ".join(refusal_reasons(card))
