"""The scorecard's top section: verdicts grouped by area, each with its headline number.

A reviewer in a regulated team reads "is it good, is it fair, is it private, can we run it, does
it pay" before any gate's detail. Each gate declares its area (``GateSpec.area``); checks of the
family ``business`` (expected-value rules, made by the performance or decay gate) form the
business area whichever gate made them. An area's status is the worst of its checks (a gate in
error, or an expected gate without a result, makes its area ``error``); its headline is the
check that decided it: the first failing one, else the first warned, else the first check.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from quality_gates.shared.contracts.gates import AREAS, gates
from quality_gates.shared.contracts.results import CheckResult, GateResult, Status
from quality_gates.shared.contracts.scorecard import Scorecard

TITLES = {
    "data": "Data",
    "quality": "Quality",
    "fairness": "Fairness",
    "privacy": "Privacy",
    "operations": "Operations",
    "business": "Business",
}
#: Worst first: the status an area takes from its checks.
_RANK = {Status.ERROR: 0, Status.FAILED: 1, Status.WARNED: 2, Status.PASSED: 3, Status.SKIPPED: 4}
#: Check families that belong to the business area whichever gate made them.
BUSINESS_FAMILIES = frozenset({"business"})


@dataclass
class _Area:
    name: str
    gates: list[str] = field(default_factory=list)
    checks: list[tuple[str, CheckResult]] = field(default_factory=list)
    errors: list[tuple[str, str]] = field(default_factory=list)


def _collect(scorecard: Scorecard) -> dict[str, _Area]:
    area_of = {s.name: s.area for s in gates()}
    areas = {a: _Area(a) for a in AREAS}
    seen: set[str] = set()
    for result in scorecard.results:
        seen.add(result.gate)
        home = areas[area_of.get(result.gate, "quality")]
        _add(result, home, areas["business"])
    for name in scorecard.expected_gates:
        if name not in seen:
            home = areas[area_of.get(name, "quality")]
            home.gates.append(name)
            home.errors.append((name, "expected gate has no result"))
    return areas


def _add(result: GateResult, home: _Area, business: _Area) -> None:
    if result.status == Status.SKIPPED and not result.checks:
        return  # not configured in the policy: the area did not hear from it
    if result.gate not in home.gates:
        home.gates.append(result.gate)
    if result.status == Status.ERROR:
        home.errors.append((result.gate, result.error or "error"))
    for check in result.checks:
        target = business if check.family in BUSINESS_FAMILIES else home
        if target is business and result.gate not in business.gates:
            business.gates.append(result.gate)
        target.checks.append((result.gate, check))


def _headline(area: _Area) -> tuple[Status | None, str, str]:
    """The area's status, its headline (check = value) and the check's gate."""
    if area.errors:
        gate, message = area.errors[0]
        return Status.ERROR, message, gate
    if not area.checks:
        return None, "", ""
    ranked = sorted(area.checks, key=lambda gc: _RANK.get(gc[1].status, 5))
    gate, check = ranked[0]
    if check.status == Status.PASSED:  # nothing wrong: the first check is the headline
        gate, check = area.checks[0]
    return ranked[0][1].status, f"{check.name} = {_value(check)}", gate


def _value(check: CheckResult) -> str:
    from quality_gates.shared.reports.render import fmt, fmt_ci

    ci = fmt_ci(check.ci_low, check.ci_high)
    return fmt(check.value) + ("" if ci == fmt_ci(None, None) else f" {ci}")


def area_rows(scorecard: Scorecard) -> list[dict[str, Any]]:
    """One row per area, in :data:`AREAS` order, for the scorecard's top section.

    Args:
        scorecard: The aggregated results.

    Returns:
        Rows with ``area`` (title), ``status`` (``not run`` when no gate of the area ran),
        ``status_enum`` (the Status or None), ``headline``, ``gate`` (of the headline),
        ``gates`` (comma-separated) and ``counts`` (checks passed of checks).
    """
    rows = []
    for name, area in _collect(scorecard).items():
        status, headline, gate = _headline(area)
        passed = sum(c.status.lets_through for _, c in area.checks)
        rows.append(
            {
                "area": TITLES[name],
                "status": status.value if status else "not run",
                "status_enum": status,
                "headline": headline or "no rule of this area in the policy",
                "gate": gate,
                "gates": ", ".join(area.gates) or "—",
                "counts": f"{passed} of {len(area.checks)} checks let through"
                if area.checks
                else "—",
            }
        )
    return rows
