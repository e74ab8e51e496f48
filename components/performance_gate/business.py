"""Business KPI rules of the performance gate: expected value per 1 000 decisions.

Each row of the evaluation data gets the value of its (decision, outcome) cell of the policy's
matrix: the decision is the model's call at ``decision_threshold`` on the positive-class
probability (``positive_decision`` at or above it), the outcome is the row's label. A cell is a
constant or ``factor * column + plus`` of the row. The expected value per 1 000 decisions is the
mean row value times 1 000, for the candidate and for the champion on the same rows; their
difference gets a paired bootstrap interval (``bootstrap.mean_replicates``: the same resampled
rows for both). Everything is vectorised over rows; loops run over the four cells.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from quality_gates.components.performance_gate.bootstrap import mean_replicates
from quality_gates.components.performance_gate.policy import (
    BusinessChampionRule,
    BusinessRule,
    BusinessSpec,
    CellValue,
    PerformancePolicy,
)
from quality_gates.shared.contracts.results import CheckResult, Status
from quality_gates.shared.gates.decisions import (
    Evidence,
    check_fields,
    describe,
    from_replicates,
    judge,
)

PER = 1000.0
FAMILY = "business"
METRIC = "expected_value_per_1000"


class BusinessDataError(ValueError):
    """The evaluation data cannot give the matrix's per-row amounts (a one-line message)."""


@dataclass(frozen=True)
class Calls:
    """What the business matrix needs of one model's predictions.

    Attributes:
        label: 1 where the row's label is the positive class, else 0.
        call: 1 where the model takes the positive decision, else 0.
        by_threshold: Whether the calls come from scores at ``decision_threshold``.
    """

    label: np.ndarray
    call: np.ndarray
    by_threshold: bool


def amounts(spec: BusinessSpec, frame: pd.DataFrame, source: str) -> dict[str, np.ndarray]:
    """The matrix's amount columns as float arrays, validated.

    Args:
        spec: The business block.
        frame: The evaluation table.
        source: Name of the data, for messages.

    Returns:
        Column name to its values.

    Raises:
        BusinessDataError: A column is missing, or holds rows that are not finite numbers
            (the message names the column and counts the rows, never quotes a cell).
    """
    out = {}
    for column in spec.columns:
        if column not in frame.columns:
            raise BusinessDataError(
                f"business amount column '{column}' is not in {source}; fix "
                "gates.performance.business.matrix or add the column"
            )
        raw = frame[column]
        # Numbers, or text that parses as numbers (a CSV read as strings); never dates or flags.
        parseable = pd.api.types.is_numeric_dtype(raw) or pd.api.types.is_string_dtype(raw)
        if pd.api.types.is_bool_dtype(raw) or not parseable:
            bad = len(raw)
            values = np.full(len(raw), np.nan)
        else:
            values = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=float)
            bad = int((~np.isfinite(values)).sum())
        if bad:
            raise BusinessDataError(
                f"business amount column '{column}' of {source} has {bad} of {len(raw)} rows that "
                "are not finite numbers (empty, NaN, infinite or text); clean the column"
            )
        out[column] = values
    return out


def row_values(spec: BusinessSpec, calls: Calls, columns: dict[str, np.ndarray]) -> np.ndarray:
    """The value of every row under one model's decisions (currency units).

    Args:
        spec: The business block.
        calls: Labels and decisions of the rows.
        columns: The validated amount columns (see :func:`amounts`).

    Returns:
        ``(n,)`` float values.
    """
    values = np.zeros(calls.label.shape[0])
    for positive_call in (False, True):
        for positive_label in (False, True):
            mask = (calls.call == positive_call) & (calls.label == positive_label)
            cell = spec.cell(positive_call=positive_call, positive_label=positive_label)
            if isinstance(cell, CellValue):
                values[mask] = cell.factor * columns[cell.column][mask] + cell.plus
            else:
                values[mask] = float(cell)
    return values


def _absolute_check(
    rule: BusinessRule, ev: Evidence, *, policy: PerformancePolicy, unit: str
) -> CheckResult:
    on_inconclusive = policy.inconclusive_for(rule)
    verdict = judge(
        ev,
        threshold=rule.threshold,
        operator=rule.operator,
        judge_on=rule.judge_on if ev.has_interval else "estimate",
        severity=rule.severity,
        on_inconclusive=on_inconclusive,
    )
    message = describe(
        verdict,
        ev,
        what=f"{METRIC}{unit}",
        threshold=rule.threshold,
        operator=rule.operator,
        confidence=policy.confidence,
        on_inconclusive=on_inconclusive,
    )
    return CheckResult(
        name=f"{METRIC} {rule.operator} {rule.threshold:g}",
        threshold=rule.threshold,
        operator=rule.operator,
        severity=rule.severity,
        rationale=rule.rationale,
        family=FAMILY,
        message=message,
        details={**verdict.details(), "method": ev.method},
        **check_fields(verdict, ev),
    )


def margin_of(rule: BusinessChampionRule, champion_ev: float) -> tuple[float | None, str]:
    """The allowed drop (currency per 1 000 decisions) and how it was set.

    Args:
        rule: The champion rule.
        champion_ev: The champion's expected value per 1 000 decisions.

    Returns:
        ``(margin, text)``; the margin is None when ``max_drop_pct`` is given and the champion's
        EV is not positive (a percentage of a loss or of nothing is no tolerance).
    """
    if rule.max_drop is not None:
        return float(rule.max_drop), f"max_drop {rule.max_drop:g}"
    pct = float(rule.max_drop_pct or 0.0)
    if champion_ev <= 0:
        return None, f"max_drop_pct {pct:g}"
    return pct / 100.0 * champion_ev, f"{pct:g}% of the champion's {champion_ev:.6g}"


def _champion_check(
    rule: BusinessChampionRule,
    diff: Evidence,
    *,
    cand_ev: float,
    champ_ev: float,
    policy: PerformancePolicy,
    name: str,
) -> CheckResult:
    """The candidate's EV against the champion's: the CI of the difference held to -margin."""
    assert policy.champion is not None  # the policy validator guarantees it
    margin, how = margin_of(rule, champ_ev)
    base = dict(
        name=name, severity=rule.severity, rationale=rule.rationale, family=FAMILY, operator=">="
    )
    if margin is None:
        return CheckResult(
            **base,
            status=Status.ERROR,
            message=f"the champion's {METRIC} is {champ_ev:.6g} (not positive), so max_drop_pct "
            "is no tolerance (a percentage of a loss or of nothing); give vs_champion.max_drop "
            "in currency per 1000 decisions",
        )
    on_inconclusive = rule.on_inconclusive or policy.on_inconclusive
    verdict = judge(
        diff,
        threshold=-margin,
        operator=">=",
        judge_on="interval" if diff.has_interval else "estimate",
        severity=rule.severity,
        on_inconclusive=on_inconclusive,
    )
    text = describe(
        verdict,
        diff,
        what="EV difference (candidate - champion)",
        threshold=-margin,
        operator=">=",
        confidence=policy.champion.confidence,
        on_inconclusive=on_inconclusive,
    )
    return CheckResult(
        **base,
        threshold=-margin,
        message=f"{METRIC}: candidate {cand_ev:.6g} vs champion {champ_ev:.6g} "
        f"(allowed drop {margin:.6g} = {how}); {text}",
        details={
            **verdict.details(),
            "candidate": cand_ev,
            "champion": champ_ev,
            "margin": margin,
            "method": diff.method,
        },
        **check_fields(verdict, diff),
    )


def _missing_champion_check(policy: PerformancePolicy, ref: dict[str, Any]) -> CheckResult:
    spec = policy.champion
    assert spec is not None
    status = {"skip": Status.SKIPPED, "warn": Status.WARNED, "block": Status.FAILED}
    return CheckResult(
        name=f"{METRIC} vs champion@{spec.alias}",
        family=FAMILY,
        status=status[spec.if_missing],
        message=f"no model holds alias '{spec.alias}' of '{ref.get('model_name')}': no champion "
        f"expected value to compare with (if_missing: {spec.if_missing})",
    )


def _cell_text(cell: Any) -> str:
    if isinstance(cell, CellValue):
        plus = f" {'+' if cell.plus >= 0 else '-'} {abs(cell.plus):g}" if cell.plus else ""
        return f"{cell.factor:g} × {cell.column}{plus}"
    return f"{float(cell):g}"


def _matrix_table(
    spec: BusinessSpec, calls: dict[str, Calls], values: dict[str, np.ndarray]
) -> dict[str, Any]:
    """The report's table: each cell's value rule, and each model's rows and total value in it."""
    columns = ["decision", "outcome (label)", "value per row"]
    for who in calls:
        columns += [f"{who} rows", f"{who} total value"]
    rows = []
    for positive_call in (True, False):
        for positive_label in (True, False):
            cell = spec.cell(positive_call=positive_call, positive_label=positive_label)
            row: list[Any] = [
                spec.positive_decision if positive_call else spec.negative_decision,
                spec.positive_outcome if positive_label else spec.negative_outcome,
                _cell_text(cell),
            ]
            for who, c in calls.items():
                mask = (c.call == positive_call) & (c.label == positive_label)
                row += [int(mask.sum()), float(values[who][mask].sum())]
            rows.append(row)
    by = (
        "decision_threshold on P(positive class)"
        if calls["candidate"].by_threshold
        else ("the model's predicted labels (no scores)")
    )
    return {
        "title": "Business value matrix" + (f" ({spec.currency})" if spec.currency else ""),
        "note": f"Decisions from {by}: at or above it '{spec.positive_decision}', below it "
        f"'{spec.negative_decision}'; outcome '{spec.positive_outcome}' is the positive class.",
        "columns": columns,
        "rows": rows,
    }


def _ev_table(evs: list[tuple[str, Evidence]], confidence: float, unit: str) -> dict[str, Any]:
    rows = [
        [who, ev.estimate, *((ev.low, ev.high) if ev.has_interval else ("—", "—")), ev.method]
        for who, ev in evs
    ]
    return {
        "title": f"Expected value per 1000 decisions{unit}",
        "note": f"{confidence:.0%} percentile bootstrap intervals"
        + (
            "; the difference is paired (the same resampled rows for both models)."
            if len(evs) > 1
            else "."
        ),
        "columns": ["model", METRIC, "ci_low", "ci_high", "method"],
        "rows": rows,
    }


def _replicates(values: np.ndarray, strata: np.ndarray, *, n_resamples: int, seed: int):
    """Bootstrap of per-row values per 1 000 decisions: ``(estimates, replicates, method)``."""
    r = mean_replicates(values=values * PER, strata=strata, n_resamples=n_resamples, seed=seed)
    return r.estimates, r.replicates, f"percentile bootstrap, {r.method}"


def _error(message: str) -> list[CheckResult]:
    return [CheckResult(name=METRIC, family=FAMILY, status=Status.ERROR, message=message)]


@dataclass
class BusinessOutcome:
    """The business block's checks, metrics, report tables and details."""

    checks: list[CheckResult]
    metrics: dict[str, float]
    tables: list[dict[str, Any]]
    details: dict[str, Any]
    metric_cis: dict[str, list[float]]


def business_checks(
    *,
    policy: PerformancePolicy,
    task: str,
    candidate: Calls,
    champion: Calls | None,
    champion_ref: dict[str, Any],
    frame: pd.DataFrame,
    source: str,
) -> BusinessOutcome:
    """Judge the business block: absolute EV rules and the EV against the champion's.

    Args:
        policy: The section (its ``business`` block is set).
        task: ``binary`` (anything else is an error check).
        candidate: The candidate's labels and decisions.
        champion: The champion's on the same rows, or None (no champion section or no holder).
        champion_ref: Alias, URI and model name of the champion, for messages.
        frame: The evaluation table (amount columns).
        source: Name of the data, for messages.

    Returns:
        Checks (family ``business``), metrics, report tables and details.
    """
    spec = policy.business
    assert spec is not None
    if task != "binary":
        return BusinessOutcome(
            _error(
                f"business rules need a binary classifier (two decisions at decision_threshold) "
                f"but the task is {task}; remove gates.performance.business"
            ),
            {},
            [],
            {},
            {},
        )
    try:
        columns = amounts(spec, frame, source)
    except BusinessDataError as exc:
        return BusinessOutcome(_error(str(exc)), {}, [], {}, {})
    unit = f" ({spec.currency})" if spec.currency else ""
    v_c = row_values(spec, candidate, columns)
    n = int(v_c.shape[0])
    out = BusinessOutcome([], {METRIC: float(v_c.mean() * PER)}, [], {}, {})
    cand = _candidate_evidence(policy, spec, candidate, v_c, out)
    out.checks += [_absolute_check(r, cand, policy=policy, unit=unit) for r in spec.rules]
    evs = [("candidate", cand)]
    calls, values = {"candidate": candidate}, {"candidate": v_c}
    if champion is not None and policy.champion is not None:
        v_h = row_values(spec, champion, columns)
        calls["champion"], values["champion"] = champion, v_h
        evs += _paired(policy, candidate, champion, v_c, v_h, out, n=n)
    elif spec.vs_champion is not None:
        out.checks.append(_missing_champion_check(policy, champion_ref))
    out.tables = [_matrix_table(spec, calls, values), _ev_table(evs, policy.confidence, unit)]
    out.details = {
        "n_rows": n,
        "currency": spec.currency,
        "decision_threshold": policy.decision_threshold,
        "positive_decision": spec.positive_decision,
        "negative_decision": spec.negative_decision,
        "expected_values": {who: ev.estimate for who, ev in evs},
    }
    return out


def _candidate_evidence(
    policy: PerformancePolicy,
    spec: BusinessSpec,
    candidate: Calls,
    v_c: np.ndarray,
    out: BusinessOutcome,
) -> Evidence:
    """The candidate's EV with its bootstrap interval (when resamples are asked for)."""
    n = int(v_c.shape[0])
    if policy.n_resamples == 0:
        return Evidence(float(v_c.mean() * PER), n=n, method="point value (no resamples)")
    est, reps, method = _replicates(
        v_c[:, None],
        2 * candidate.label + candidate.call,
        n_resamples=policy.n_resamples,
        seed=policy.seed,
    )
    ev = from_replicates(float(est[0]), reps[0], confidence=policy.confidence, n=n, method=method)
    if ev.has_interval:
        out.metric_cis[METRIC] = [float(ev.low), float(ev.high)]
        out.metrics[f"{METRIC}_ci_low"] = float(ev.low)
        out.metrics[f"{METRIC}_ci_high"] = float(ev.high)
    return ev


def _paired(
    policy: PerformancePolicy,
    candidate: Calls,
    champion: Calls,
    v_c: np.ndarray,
    v_h: np.ndarray,
    out: BusinessOutcome,
    *,
    n: int,
) -> list[tuple[str, Evidence]]:
    """Champion EV and the paired CI of the difference; the vs_champion check when asked."""
    spec, champ = policy.business, policy.champion
    assert spec is not None and champ is not None
    strata = 4 * candidate.label + 2 * candidate.call + champion.call
    est, reps, method = _replicates(
        np.stack([v_c - v_h, v_h], axis=1),
        strata,
        n_resamples=champ.n_resamples,
        seed=champ.seed,
    )
    method = "paired " + method
    conf = champ.confidence
    diff = from_replicates(float(est[0]), reps[0], confidence=conf, n=n, method=method)
    champ_ev = from_replicates(float(est[1]), reps[1], confidence=conf, n=n, method=method)
    out.metrics[f"champion_{METRIC}"] = champ_ev.estimate
    out.metrics["expected_value_diff_per_1000"] = diff.estimate
    if diff.has_interval:
        out.metrics["expected_value_diff_per_1000_ci_low"] = float(diff.low)
        out.metrics["expected_value_diff_per_1000_ci_high"] = float(diff.high)
        out.metric_cis["expected_value_diff_per_1000"] = [float(diff.low), float(diff.high)]
        out.metric_cis[f"champion_{METRIC}"] = [float(champ_ev.low), float(champ_ev.high)]
    if spec.vs_champion is not None:
        out.checks.append(
            _champion_check(
                spec.vs_champion,
                diff,
                cand_ev=out.metrics[METRIC],
                champ_ev=champ_ev.estimate,
                policy=policy,
                name=f"{METRIC} vs champion@{champ.alias}",
            )
        )
    return [("champion", champ_ev), ("candidate - champion", diff)]
