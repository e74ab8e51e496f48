"""The scorecard's top section: verdicts grouped by area, each with the check that decided it."""

from __future__ import annotations

from quality_gates.shared.contracts.results import (
    CheckResult,
    Status,
    error_result,
    finalize,
    not_configured_result,
)
from quality_gates.shared.contracts.scorecard import Scorecard, decide
from quality_gates.shared.reports import render
from quality_gates.shared.reports.areas import area_rows


def _check(name, value, status, *, family=None, low=None, high=None):
    return CheckResult(
        name=name, value=value, threshold=0.1, operator="<=", status=status, family=family,
        ci_low=low, ci_high=high,
    )  # fmt: skip


def _card(results, expected=None):
    status, ok = decide(results)
    return Scorecard(
        decision=status,
        all_passed=ok,
        summary="s",
        expected_gates=expected or [r.gate for r in results],
        results=results,
    )


def _by_area(card):
    return {row["area"]: row for row in area_rows(card)}


def test_each_area_takes_the_worst_status_and_names_the_check_that_decided_it():
    performance = finalize(
        gate="performance",
        checks=[
            _check("roc_auc >= 0.7", 0.81, Status.PASSED, low=0.79, high=0.83),
            _check("expected value vs champion", -41.5, Status.FAILED, family="business"),
        ],
    )
    fairness = finalize(
        gate="fairness",
        checks=[
            _check("dpd[sex]", 0.02, Status.PASSED),
            _check("eod[sex]", 0.12, Status.WARNED),
        ],
    )
    pii = error_result(gate="pii", message="the text column is missing")
    drift = finalize(gate="drift", checks=[_check("age: wasserstein_norm", 0.01, Status.PASSED)])
    rows = _by_area(_card([performance, fairness, pii, drift]))
    assert list(rows) == ["Data", "Quality", "Fairness", "Privacy", "Operations", "Business"]
    # The business rule is pulled out of the performance gate into its own area.
    assert rows["Business"]["status"] == "failed"
    assert rows["Business"]["headline"] == "expected value vs champion = -41.5"
    assert rows["Quality"]["status"] == "passed"
    assert rows["Quality"]["headline"] == "roc_auc >= 0.7 = 0.81 [0.79, 0.83]"
    assert rows["Fairness"]["status"] == "warned" and rows["Fairness"]["headline"].startswith("eod")
    assert rows["Privacy"]["status"] == "error" and "text column" in rows["Privacy"]["headline"]
    assert rows["Data"]["status"] == "passed" and rows["Data"]["gates"] == "drift"
    assert rows["Operations"]["status"] == "not run"


def test_an_expected_gate_without_a_result_is_an_error_and_an_unconfigured_one_is_not_listed():
    performance = finalize(gate="performance", checks=[_check("f1", 0.7, Status.PASSED)])
    contract = not_configured_result(gate="contract", inputs={})
    rows = _by_area(_card([performance, contract], expected=["performance", "fairness"]))
    assert rows["Fairness"]["status"] == "error"
    assert "no result" in rows["Fairness"]["headline"]
    assert rows["Data"]["status"] == "not run" and rows["Data"]["gates"] == "—"


def test_the_areas_come_before_the_gates_in_both_reports():
    card = _card([finalize(gate="fairness", checks=[_check("dpd", 0.3, Status.FAILED)])])
    md = render.scorecard_markdown(card)
    assert md.index("## At a glance") < md.index("## Why not promoted") < md.index("## Gates")
    assert "| Fairness | failed | dpd = 0.3 | fairness |" in md
    html = render.scorecard_html(card)
    assert html.index("At a glance") < html.index("<h3>Gates</h3>")
    assert 'class="row-failed"><td class="name">Fairness' in html
