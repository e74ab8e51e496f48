"""Waivers turn a named failing check into a warning until they expire, and are always shown."""

from datetime import date, timedelta

import pytest

from quality_gates.components.aggregator.core import aggregate
from quality_gates.components.aggregator.waivers import today_utc
from quality_gates.shared.contracts.errors import GateInputError
from quality_gates.shared.contracts.results import CheckResult, Status, finalize
from quality_gates.shared.policy.schema import parse_policy
from quality_gates.shared.reports.render import scorecard_html, scorecard_markdown

POLICY = """
gates: {performance: {rules: [{metric: recall, min: 0.9}]}}
approval: {approvers: [risk-officer@example.com]}
waivers:
  - gate: performance
    check: recall >= 0.9
    until: %s
    approver: risk-officer@example.com
    reason: recall dip accepted while the new features are collected
    ticket: RISK-42
"""


def _results(status=Status.FAILED):
    checks = [
        CheckResult(
            name="recall >= 0.9",
            value=0.8,
            threshold=0.9,
            operator=">=",
            status=status,
            message="recall = 0.8 violates >= 0.9",
        ),
        CheckResult(name="roc_auc >= 0.7", value=0.8, status=Status.PASSED, message="ok"),
    ]
    r = finalize(gate="performance", checks=checks, inputs={"model": "sha256:m"})
    return {"performance": r}


SUBMITTER = "ci-bot@example.com"
SOON = (today_utc() + timedelta(days=30)).isoformat()


def _card(until, status=Status.FAILED):
    policy = parse_policy(POLICY % until)
    return aggregate(
        _results(status),
        expected=["performance"],
        waivers=policy.waivers,
        approval=policy.approval,
        submitted_by=SUBMITTER,
    )


def test_active_waiver_turns_the_failure_into_a_warning():
    card = _card(SOON)
    assert card.all_passed and card.decision == Status.WARNED
    check = card.results[0].checks[0]
    assert check.status == Status.WARNED and f"WAIVED until {SOON}" in check.message
    assert "RISK-42" in check.message
    assert card.waivers[0]["state"] == "used"
    assert "RISK-42" in scorecard_html(card) and "RISK-42" in scorecard_markdown(card)


def test_expired_waiver_has_no_effect_but_is_listed():
    card = _card("2000-01-01")
    assert not card.all_passed and card.results[0].checks[0].status == Status.FAILED
    assert card.waivers[0]["state"] == "expired"
    assert "expired" in scorecard_markdown(card)


def test_waiver_cannot_excuse_an_error():
    card = _card(SOON, status=Status.ERROR)
    assert not card.all_passed
    assert card.waivers[0]["state"] == "unused"


def test_waiver_needs_every_field():
    with pytest.raises(GateInputError, match="waivers.0.ticket"):
        parse_policy((POLICY % "2999-12-31").replace("    ticket: RISK-42\n", ""))
    with pytest.raises(GateInputError, match="waivers.0.until"):
        parse_policy(POLICY % "next week")


def test_waiver_expiry_is_inclusive_of_its_last_day():
    from quality_gates.components.aggregator.waivers import apply_waivers

    policy = parse_policy(POLICY % "2030-06-01")
    kw = {"approval": policy.approval, "submitted_by": SUBMITTER}
    _, on_day = apply_waivers(_results(), policy.waivers, today=date(2030, 6, 1), **kw)
    _, after = apply_waivers(_results(), policy.waivers, today=date(2030, 6, 2), **kw)
    assert on_day[0]["state"] == "used" and after[0]["state"] == "expired"
