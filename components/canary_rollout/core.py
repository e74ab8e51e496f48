"""The canary rollout's report: every stage, its checks and the outcome, as Markdown."""

from __future__ import annotations

from quality_gates.shared.release.canary import RolloutResult
from quality_gates.shared.reports.render import md_escape


def report_markdown(result: RolloutResult) -> str:
    """Markdown of a rollout for the KFP UI and the audit trail.

    Args:
        result: The rollout's outcome.

    Returns:
        A heading with the outcome, the router, and one table row per check of every stage.
    """
    lines = [
        f"# Canary rollout: {result.outcome}",
        "",
        md_escape(result.message),
        "",
        f"Router: {md_escape(result.router)}; canary share at the end: {result.canary_percent}%",
        "",
        "| stage | bakes | canary / stable requests | check | value | CI | decision | message |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for s in result.stages:
        for c in s.checks:
            ci = f"[{c.ci_low:.4g}, {c.ci_high:.4g}]" if c.ci_low is not None else "—"
            value = "—" if c.value is None else f"{c.value:.4g}"
            lines.append(
                f"| {s.percent}% | {s.bakes} | {s.canary_requests} / {s.stable_requests} | "
                f"{md_escape(c.name)} | {value} | {ci} | {c.decision} | {md_escape(c.message)} |"
            )
    return "\n".join(lines) + "\n"
