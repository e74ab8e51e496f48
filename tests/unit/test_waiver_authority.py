"""A waiver takes effect only when its approver may grant it: listed, independent, short-lived."""

from __future__ import annotations

import argparse
from datetime import date, timedelta

import pytest

from quality_gates.components.aggregator.core import aggregate
from quality_gates.components.aggregator.waivers import (
    apply_waivers,
    policy_approval,
    resolve_submitter,
)
from quality_gates.shared.cli import main as cli
from quality_gates.shared.contracts.results import CheckResult, Status, finalize
from quality_gates.shared.policy.approval import ApprovalPolicy
from quality_gates.shared.policy.waivers import Waiver
from quality_gates.shared.reports.render import scorecard_html, scorecard_markdown

TODAY = date(2030, 6, 1)
OFFICER = "risk-officer@example.com"
SUBMITTER = "ci-bot@example.com"
CHECK = "recall >= 0.9"


def _results() -> dict:
    checks = [
        CheckResult(
            name=CHECK,
            value=0.8,
            threshold=0.9,
            operator=">=",
            status=Status.FAILED,
            message="recall = 0.8 violates >= 0.9",
        )
    ]
    return {"performance": finalize(gate="performance", checks=checks, inputs={"model": "m"})}


def _waiver(approver: str = OFFICER, until: date = TODAY + timedelta(days=30)) -> Waiver:
    return Waiver(
        gate="performance",
        check=CHECK,
        until=until,
        approver=approver,
        reason="recall dip accepted while new features are collected",
        ticket="RISK-42",
    )


def _apply(waiver: Waiver, *, approval=None, submitted_by=SUBMITTER):
    approval = ApprovalPolicy(approvers=[OFFICER]) if approval is None else approval
    return apply_waivers(
        _results(), [waiver], approval=approval, submitted_by=submitted_by, today=TODAY
    )


def _assert_refused(out: dict, records: list[dict], *needles: str) -> None:
    assert out["performance"].status == Status.FAILED
    assert out["performance"].checks[0].status == Status.FAILED
    assert "WAIVED" not in out["performance"].checks[0].message
    [record] = records
    assert record["state"] == "refused"
    assert "\n" not in record["refusal"]
    for needle in needles:
        assert needle in record["refusal"]


def test_listed_independent_short_waiver_is_used():
    out, [record] = _apply(_waiver())
    assert out["performance"].status == Status.WARNED
    assert record["state"] == "used" and record["submitted_by"] == SUBMITTER
    assert "refusal" not in record


def test_approver_matching_is_case_insensitive():
    out, [record] = _apply(_waiver(approver=OFFICER.upper()))
    assert record["state"] == "used" and out["performance"].status == Status.WARNED


def test_no_approval_section_refuses_every_waiver():
    out, records = apply_waivers(
        _results(), [_waiver()], approval=None, submitted_by=SUBMITTER, today=TODAY
    )
    _assert_refused(out, records, "approval.approvers")


def test_empty_approver_list_refuses_every_waiver():
    out, records = _apply(_waiver(), approval=ApprovalPolicy(approvers=[]))
    _assert_refused(out, records, "approval.approvers")


def test_approver_not_on_the_list_is_refused():
    out, records = _apply(_waiver(approver="someone@example.com"))
    _assert_refused(out, records, "someone@example.com", "not on approval.approvers")


def test_self_signed_waiver_is_refused_even_when_the_submitter_is_an_approver():
    approval = ApprovalPolicy(approvers=[OFFICER, SUBMITTER])
    out, records = _apply(_waiver(approver=SUBMITTER), approval=approval)
    _assert_refused(out, records, "submitted this run")
    # Case and surrounding blanks do not make the submitter someone else.
    out, records = _apply(
        _waiver(approver=SUBMITTER), approval=approval, submitted_by=f" {SUBMITTER.upper()} "
    )
    _assert_refused(out, records, "submitted this run")


def test_unknown_submitter_refuses_the_waiver():
    for who in (None, "", "  "):
        out, records = _apply(_waiver(), submitted_by=who)
        _assert_refused(out, records, "submitter")


def test_waiver_longer_than_max_waiver_days_is_refused():
    out, records = _apply(_waiver(until=date(9999, 12, 31)))
    _assert_refused(out, records, "max_waiver_days (90)")
    _, [edge] = _apply(_waiver(until=TODAY + timedelta(days=90)))
    assert edge["state"] == "used"
    _, [over] = _apply(_waiver(until=TODAY + timedelta(days=91)))
    assert over["state"] == "refused" and "91 days" in over["refusal"]
    longer = ApprovalPolicy(approvers=[OFFICER], max_waiver_days=365)
    _, [allowed] = _apply(_waiver(until=TODAY + timedelta(days=200)), approval=longer)
    assert allowed["state"] == "used"


def test_expired_waiver_has_no_effect():
    out, [record] = _apply(_waiver(until=TODAY - timedelta(days=1)))
    assert out["performance"].status == Status.FAILED
    assert record["state"] == "expired" and "expired on" in record["refusal"]


def test_refused_waiver_is_shown_with_its_reason_on_the_scorecard():
    card = aggregate(
        _results(),
        expected=["performance"],
        waivers=[_waiver(approver=SUBMITTER)],
        approval=ApprovalPolicy(approvers=[OFFICER, SUBMITTER]),
        submitted_by=SUBMITTER,
    )
    assert not card.all_passed and card.decision == Status.FAILED
    assert card.waivers[0]["state"] == "refused"
    md, html = scorecard_markdown(card), scorecard_html(card)
    assert "refused: approver" in md and "submitted this run" in md
    assert "refused: approver" in html


def test_aggregate_without_authority_refuses():
    card = aggregate(_results(), expected=["performance"], waivers=[_waiver()])
    assert not card.all_passed and card.waivers[0]["state"] == "refused"


def test_policy_approval_reads_the_section_and_fails_closed():
    text = "gates: {performance: {rules: [{metric: recall, min: 0.9}]}}\n"
    assert policy_approval(text) is None
    listed = policy_approval(text + f"approval: {{approvers: [{OFFICER}]}}\n")
    assert listed is not None and listed.allows(OFFICER)
    assert policy_approval("gates: [not, a, mapping]") is None


def test_submitter_resolution_order(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("QUALITY_GATES_USER", "env-user")
    assert resolve_submitter("flag-user") == "flag-user"
    assert resolve_submitter("") == "env-user"
    assert resolve_submitter(None) == "env-user"
    args = argparse.Namespace(submitted_by=None)
    assert cli._submitter(args) == "env-user"
    assert cli._submitter(argparse.Namespace()) == "env-user"


def test_check_accepts_submitted_by():
    args = cli.build_parser().parse_args(
        ["check", "performance", "--data", "d.csv", "--policy", "p.yaml", "--submitted-by", "x"]
    )
    assert args.submitted_by == "x"
