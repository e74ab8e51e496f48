"""Fairness gate: group and intersectional disparities with bootstrap intervals, fail closed.

Pure functions over numpy/pandas; no kfp import. :func:`evaluate_gate` is the registry's entry
point (``gate.py``): the run template loads the inputs and writes the result.

Per group of each sensitive feature and each declared intersection the gate reports the row
count and, for binary classification, selection rate, TPR, FPR, FNR, precision and accuracy (for
regression: mean prediction, mean error, MAE, RMSE). Rules bound disparities between groups
(:mod:`~quality_gates.components.fairness_gate.disparities`); every disparity gets a bootstrap
interval and a rule may judge on a bound of it. Groups below ``min_group_size`` are reported as
"insufficient data" and left out of the disparities, never silently passed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from quality_gates.components.fairness_gate import disparities as dp
from quality_gates.components.fairness_gate import pairwise as pw
from quality_gates.components.fairness_gate.groups import (
    Grouping,
    build_grouping,
    sensitive_frame,
)
from quality_gates.components.fairness_gate.policy import (
    BINARY_GROUP_METRICS,
    NAMED_DISPARITIES,
    REGRESSION_GROUP_METRICS,
    FairnessPolicy,
    FairnessRule,
)
from quality_gates.shared.contracts.errors import GateInputError
from quality_gates.shared.contracts.results import CheckResult, Status
from quality_gates.shared.gates.context import Evaluation, GateContext
from quality_gates.shared.gates.decisions import Evidence, check_fields, describe, judge
from quality_gates.shared.io.data import EvalData
from quality_gates.shared.io.models import LoadedModel, model_input, predict
from quality_gates.shared.io.predictions import infer_task

_SHORT = {
    "selection_rate": "selection rate",
    "true_positive_rate": "TPR",
    "false_positive_rate": "FPR",
    "false_negative_rate": "FNR",
    "precision": "precision",
    "accuracy": "accuracy",
    "mean_prediction": "mean prediction",
    "mean_error": "mean error",
    "mean_absolute_error": "MAE",
    "root_mean_squared_error": "RMSE",
}
_REGRESSION_DISPARITIES = tuple(
    f"{m}_{how}" for m in REGRESSION_GROUP_METRICS for how in ("difference", "ratio")
)


# --------------------------------------------------------------------------------------------
# Predictions


def _eq(values: np.ndarray, target: Any) -> np.ndarray:
    """Elementwise ``values == target``, comparing as text when the types differ."""
    values = np.asarray(values)
    numeric = values.dtype.kind in "biuf" and isinstance(target, (int, float, np.number))
    if numeric or (values.dtype.kind == "b" and isinstance(target, (bool, np.bool_))):
        return values == target
    return values.astype(str) == str(target)


def encode_binary(
    *,
    y_true: np.ndarray,
    y_pred: np.ndarray | None,
    proba: np.ndarray | None,
    classes: list | None,
    positive_label: Any,
    threshold: float,
    source: str,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Turn labels, predictions and scores into 0/1 labels, 0/1 decisions and scores.

    Args:
        y_true: Labels as in the data.
        y_pred: Predicted labels, or None when only scores exist.
        proba: ``(n, K)`` class probabilities in ``classes`` order, a 1-d positive-class score,
            or None.
        classes: The model's classes, or None (then taken from the labels and predictions).
        positive_label: The positive class; default the last class in sort order.
        threshold: Scores at or above it are positive decisions.
        source: Name of the data, for messages.

    Returns:
        ``(y_true01, decisions01, positive-class score or None)``.

    Raises:
        GateInputError: When the labels do not fit the classes or the positive label is unknown.
    """
    # The model's classes may be named; classes read off the data are cells and never are.
    shown = f" {[str(c) for c in classes][:10]}" if classes is not None else ""
    if classes is None:
        pool = [y_true] if y_pred is None else [y_true, np.asarray(y_pred)]
        classes = sorted(pd.unique(np.concatenate([np.asarray(p, dtype=object) for p in pool])))
        if len(classes) < 2 and proba is not None and positive_label is None:
            classes = [0, 1]
    pos = positive_label if positive_label is not None else classes[-1]
    cls = np.asarray(classes, dtype=object)
    matches = np.flatnonzero(_eq(cls.astype(str), str(pos)))
    if matches.size == 0:
        raise GateInputError(
            f"positive_label {pos!r} is not among the {len(classes)} classes{shown}; "
            "fix data.positive_label in the policy"
        )
    known = np.isin(np.asarray(y_true).astype(str), cls.astype(str))
    if not known.all():
        n_bad = len(pd.unique(np.asarray(y_true)[~known]))
        raise GateInputError(
            f"the label column of {source} holds {n_bad} value(s) in {int((~known).sum())} of "
            f"{len(known)} rows that are not among the model's classes{shown}; check data.label "
            "and data.positive_label"
        )
    yt = _eq(y_true, pos).astype(np.int64)
    score = None
    if proba is not None:
        proba = np.asarray(proba, dtype=float)
        score = proba[:, int(matches[0])] if proba.ndim == 2 else proba.ravel()
        decisions = (score >= threshold).astype(np.int64)
    else:
        decisions = _eq(y_pred, pos).astype(np.int64)
    return yt, decisions, score


# --------------------------------------------------------------------------------------------
# Evaluation


def _small_status(fp: FairnessPolicy) -> Status:
    return Status.FAILED if fp.on_small == "block" else Status.WARNED


def _rule_name(rule: FairnessRule, grouping: str) -> str:
    on = " (on estimate)" if rule.judge_on == "estimate" else ""
    return f"{rule.metric} [{grouping}] {rule.operator} {rule.threshold:g}{on}"


def _applies(rule: FairnessRule, columns: tuple[str, ...]) -> bool:
    if rule.over is None:
        return True
    return any(((o,) if isinstance(o, str) else tuple(o)) == columns for o in rule.over)


def _fmt(x: float | None) -> str:
    return "n/a" if x is None or not math.isfinite(x) else f"{x:.4g}"


def _explain(
    metric: str, values: np.ndarray, eligible: np.ndarray, g: Grouping, how: str
) -> tuple[str, dict[str, Any]]:
    """One clause naming the groups behind a disparity: highest and lowest value."""
    v = np.where(eligible & np.isfinite(values), values, np.nan)
    if not np.isfinite(v).any():
        return f"{_SHORT.get(metric, metric)} is undefined for every group", {}
    hi, lo = int(np.nanargmax(v)), int(np.nanargmin(v))
    text = (
        f"{_SHORT.get(metric, metric)} is {v[hi]:.3g} for {g.labels[hi]} (n={int(g.counts[hi])}) "
        f"vs {v[lo]:.3g} for {g.labels[lo]} (n={int(g.counts[lo])})"
    )
    return text, {
        "metric": metric,
        "highest": {"group": g.labels[hi], "value": float(v[hi]), "n": int(g.counts[hi])},
        "lowest": {"group": g.labels[lo], "value": float(v[lo]), "n": int(g.counts[lo])},
        "aggregate": how,
    }


def _judge(
    rule: FairnessRule,
    *,
    policy: FairnessPolicy,
    name: str,
    grouping: Grouping,
    value: float,
    interval: pw.DisparityInterval | None,
    why: str,
    why_details: dict[str, Any],
) -> CheckResult:
    """A rule's check: the rule engine's verdict on the disparity's interval (or estimate)."""
    on_inconclusive = policy.inconclusive_for(rule)
    extra: dict[str, Any] = {}
    if interval is not None:
        extra = {
            "bias_corrected": interval.bias_corrected,
            "detectable": interval.detectable,
            "smallest_group_n": interval.smallest_n,
            "critical_value": interval.critical,
        }
    base = dict(
        name=name,
        threshold=rule.threshold,
        operator=rule.operator,
        severity=rule.severity,
        rationale=rule.rationale,
        details={"grouping": grouping.name, "judge_on": rule.judge_on, **why_details, **extra},
    )
    if value is None or not math.isfinite(value):
        return CheckResult(
            **base,
            value=value,
            status=Status.ERROR,
            message=f"{rule.metric} over {grouping.name} is undefined on this data ({why}); "
            "evaluate on data where every compared group has the rows the metric needs",
        )
    if rule.judge_on == "interval" and interval is None:
        return CheckResult(
            **base,
            value=value,
            status=Status.ERROR,
            message=f"{name}: {rule.metric} has no interval here (a regression disparity with "
            "n_resamples 0, or a metric computed by fairlearn without one); set judge_on: "
            "estimate for this rule",
        )
    ev = Evidence(
        value,
        interval.low if interval else None,
        interval.high if interval else None,
        n=interval.smallest_n if interval else None,
        method=interval.method if interval else "",
    )
    verdict = judge(
        ev,
        threshold=rule.threshold,
        operator=rule.operator,
        judge_on=rule.judge_on,
        severity=rule.severity,
        on_inconclusive=on_inconclusive,
    )
    message = describe(
        verdict,
        ev,
        what=f"{rule.metric} over {grouping.name}",
        threshold=rule.threshold,
        operator=rule.operator,
        confidence=policy.confidence,
        on_inconclusive=on_inconclusive,
        rows="rows in the smallest compared group",
    )
    if verdict.decision == "inconclusive" and interval is not None:
        message = "insufficient evidence: " + message + "; " + _resolution(rule, interval)
    base["details"].update(verdict.details(), method=ev.method)
    return CheckResult(**base, message=f"{message}: {why}", **check_fields(verdict, ev))


def _resolution(rule: FairnessRule, iv: pw.DisparityInterval) -> str:
    """What the data can resolve at its group sizes (for an inconclusive result)."""
    if rule.metric.endswith("_ratio"):
        return (
            f"with {iv.smallest_n} rows in the smallest group, ratios above {iv.detectable:.3g} "
            "cannot be told from parity (80% power)"
        )
    return (
        f"with {iv.smallest_n} rows in the smallest group, disparities below "
        f"{iv.detectable:.3g} cannot be told from none (80% power)"
    )


def _group_table(
    g: Grouping,
    task: str,
    rates: dict[str, np.ndarray],
    cis: dict[str, tuple[np.ndarray, np.ndarray]],
    eligible: np.ndarray,
) -> dict[str, Any]:
    names = BINARY_GROUP_METRICS if task == "binary" else REGRESSION_GROUP_METRICS
    rows = []
    for k, label in enumerate(g.labels):
        row: list[Any] = [label, int(g.counts[k]), "ok" if eligible[k] else "insufficient data"]
        for m in names:
            v = float(rates[m][k])
            if m in cis and math.isfinite(v):
                lo, hi = cis[m][0][k], cis[m][1][k]
                row.append(f"{v:.4f} [{_fmt(lo)}, {_fmt(hi)}]")
            else:
                row.append(_fmt(v))
        rows.append(row)
    return {
        "title": f"Per-group metrics: {g.name}",
        "note": "value [bootstrap CI]; groups marked insufficient are left out of disparities",
        "columns": ["group", "n", "status", *[_SHORT[m] for m in names]],
        "rows": rows,
    }


def evaluate(
    *,
    policy: FairnessPolicy,
    task: str,
    y_true: np.ndarray,
    y_pred: np.ndarray,
    y_score: np.ndarray | None,
    groupings: list[Grouping],
) -> tuple[list[CheckResult], dict[str, float], dict[str, Any]]:
    """Evaluate every rule of the fairness policy on encoded predictions.

    Args:
        policy: The ``gates.fairness`` section.
        task: ``binary`` (0/1 labels and decisions) or ``regression`` (floats).
        y_true: Encoded labels.
        y_pred: Encoded decisions or predictions.
        y_score: Positive-class scores (binary) or None; used by fairlearn-engine score metrics.
        groupings: The coded groups of each sensitive feature and intersection.

    Returns:
        ``(checks, metrics, details)``.
    """
    # One generator for every grouping, drawn in grouping order: the intervals depend on it.
    rng = np.random.default_rng(policy.seed)
    checks: list[CheckResult] = []
    metrics: dict[str, float] = {}
    tables: list[dict[str, Any]] = []
    images: list[dict[str, str]] = []
    disparity_rows: list[list[Any]] = []
    detail_groupings: list[dict[str, Any]] = []
    named = tuple(NAMED_DISPARITIES) if task == "binary" else _REGRESSION_DISPARITIES
    method = "exact multinomial bootstrap over (group, label, decision) cells"
    assessed = 0
    too_small: list[str] = []

    for g in groupings:
        if len(g.labels) < 2:
            checks.append(_single_group_check(g))
            continue
        eligible = g.counts >= policy.min_group_size
        checks.extend(_small_group_checks(g, eligible, policy))
        rates, res, group_cis, method, counts = _group_rates(
            g, task, policy, rng, y_true, y_pred, method
        )
        evidence = _Evidence(policy=policy, task=task, rates=rates, res=res, counts=counts)
        values = _named_disparities(named, g, evidence, eligible, metrics)
        disparity_rows.extend(_disparity_rows(g, values))
        rule_checks, n_assessed, small = _assess_rules(
            [r for r in policy.rules if _applies(r, g.columns)],
            policy=policy,
            g=g,
            task=task,
            evidence=evidence,
            eligible=eligible,
            values=values,
            y_true=y_true,
            y_pred=y_pred,
            y_score=y_score,
            metrics=metrics,
        )
        checks.extend(rule_checks)
        assessed += n_assessed
        too_small.extend(small)
        tables.append(_group_table(g, task, rates, group_cis, eligible))
        detail_groupings.append(_grouping_detail(g, rates, group_cis, eligible, values))
        if task == "binary":
            images.append(_chart(g, rates, group_cis, eligible))

    checks.extend(_policy_checks(policy, too_small=too_small, assessed=assessed))
    details = _details(
        policy,
        task=task,
        n_rows=int(np.asarray(y_true).shape[0]),
        method=method,
        groupings=detail_groupings,
        tables=tables,
        disparity_rows=disparity_rows,
        images=images,
    )
    return checks, metrics, details


# Checks on the groups themselves, before any disparity.


def _single_group_check(g: Grouping) -> CheckResult:
    return CheckResult(
        name=f"groups of {g.name}",
        value=len(g.labels),
        threshold=2,
        operator=">=",
        status=Status.ERROR,
        message=f"{g.name} has a single group ({g.labels[0]!r}) in the data; "
        "fairness between groups cannot be assessed, evaluate on data that holds "
        "every group",
    )


def _small_group_checks(
    g: Grouping, eligible: np.ndarray, policy: FairnessPolicy
) -> list[CheckResult]:
    return [
        CheckResult(
            name=f"group size {g.name}={g.labels[k]}",
            value=int(g.counts[k]),
            threshold=policy.min_group_size,
            operator=">=",
            severity=policy.on_small,
            status=_small_status(policy),
            message=f"insufficient data: group {g.name}={g.labels[k]} has "
            f"{int(g.counts[k])} rows, fewer than min_group_size "
            f"{policy.min_group_size}; it is left out of every disparity over {g.name}",
            details={"grouping": g.name, "group": g.labels[k], "n": int(g.counts[k])},
        )
        for k in np.flatnonzero(~eligible)
    ]


# Computing: per-group rates, their resamples and the named disparities.


def _group_rates(
    g: Grouping,
    task: str,
    policy: FairnessPolicy,
    rng: np.random.Generator,
    y_true: np.ndarray,
    y_pred: np.ndarray,
    method: str,
) -> tuple[
    dict[str, np.ndarray],
    dp.Resampled | None,
    dict[str, tuple[np.ndarray, np.ndarray]],
    str,
    np.ndarray | None,
]:
    """Per-group rates, resamples (or None), per-group intervals, the method, binary counts.

    ``method`` comes back unchanged unless a regression bootstrap names the one it used.
    """
    n_groups = len(g.labels)
    counts = None
    if task == "binary":
        counts = dp.confusion_by_group(
            codes=g.codes, n_groups=n_groups, y_true=y_true, y_pred=y_pred
        )
        rates = dp.binary_rates(counts)
        res = (
            dp.bootstrap_binary(counts, n_resamples=policy.n_resamples, rng=rng)
            if policy.n_resamples
            else None
        )
    else:
        rates = dp.regression_stats(
            dp.regression_sums(codes=g.codes, n_groups=n_groups, y_true=y_true, y_pred=y_pred)
        )
        res = None
        if policy.n_resamples:
            res, method = dp.bootstrap_regression(
                codes=g.codes,
                n_groups=n_groups,
                y_true=y_true,
                y_pred=y_pred,
                n_resamples=policy.n_resamples,
                rng=rng,
            )
    group_cis = (
        {m: dp.group_cis(res.rates[m], policy.confidence) for m in rates if m != "count"}
        if res is not None
        else {}
    )
    return rates, res, group_cis, method, counts


Values = dict[str, tuple[float, "pw.DisparityInterval | None"]]


@dataclass
class _Evidence:
    """What one grouping's data says: rates, resamples, counts; intervals computed on demand."""

    policy: FairnessPolicy
    task: str
    rates: dict[str, np.ndarray]
    res: dp.Resampled | None
    counts: np.ndarray | None
    _cache: dict[str, pw.DisparityInterval | None] = field(default_factory=dict)

    def interval(self, name: str, eligible: np.ndarray) -> pw.DisparityInterval | None:
        """The interval of a fast-path disparity over the eligible groups (None if none)."""
        if name not in self._cache:
            self._cache[name] = self._compute(name, eligible)
        return self._cache[name]

    def _compute(self, name: str, eligible: np.ndarray) -> pw.DisparityInterval | None:
        comps, how = dp.fast_components(name)
        if self.task == "binary":
            if self.counts is None or any(m not in pw.PROPORTIONS for m in comps):
                return None
            parts = [pw.binary_component(m, self.counts, eligible, how) for m in comps]
        else:
            if self.res is None:
                return None
            parts = [
                pw.replicate_component(
                    m, self.rates[m], self.res.rates[m], self.rates["count"], eligible, how
                )
                for m in comps
            ]
        return pw.disparity_interval(
            parts,
            how=how,
            confidence=self.policy.confidence,
            simultaneous=self.policy.multiplicity != "none",
            seed=self.policy.seed,
        )


def _named_disparities(
    named: tuple[str, ...],
    g: Grouping,
    evidence: _Evidence,
    eligible: np.ndarray,
    metrics: dict[str, float],
) -> Values:
    """Every named disparity with its interval; the finite ones go into ``metrics`` too."""
    # Every named disparity is computed and kept, judged or not: the evidence is the table.
    values: Values = {}
    for name in named:
        v, _ = dp.disparity(name, evidence.rates, eligible)
        values[name] = (float(v), evidence.interval(name, eligible))
        if math.isfinite(float(v)):
            metrics[f"{name}__{g.slug}"] = float(v)
    return values


# Checks: one per rule and grouping, and the policy-wide ones.


def _assess_rules(
    rules: list[FairnessRule],
    *,
    policy: FairnessPolicy,
    g: Grouping,
    task: str,
    evidence: _Evidence,
    eligible: np.ndarray,
    values: Values,
    y_true: np.ndarray,
    y_pred: np.ndarray,
    y_score: np.ndarray | None,
    metrics: dict[str, float],
) -> tuple[list[CheckResult], int, list[str]]:
    """The checks of the rules over one grouping, how many were assessed, and where too few."""
    if int(eligible.sum()) < 2:
        not_assessed = [
            CheckResult(
                name=_rule_name(rule, g.name),
                threshold=rule.threshold,
                operator=rule.operator,
                severity=rule.severity,
                rationale=rule.rationale,
                status=_small_status(policy),
                message=f"insufficient data: fewer than two groups of {g.name} have "
                f"min_group_size {policy.min_group_size} rows; {rule.metric} was not "
                "assessed",
                details={"grouping": g.name},
            )
            for rule in rules
        ]
        return not_assessed, 0, [g.name] * len(rules)
    judged = [
        _rule_check(
            rule,
            name=_rule_name(rule, g.name),
            g=g,
            task=task,
            evidence=evidence,
            eligible=eligible,
            values=values,
            y_true=y_true,
            y_pred=y_pred,
            y_score=y_score,
            metrics=metrics,
        )
        for rule in rules
    ]
    return judged, len(rules), []


def _policy_checks(
    policy: FairnessPolicy, *, too_small: list[str], assessed: int
) -> list[CheckResult]:
    """The checks on the whole run: was anything assessed, and does every rule say why."""
    checks: list[CheckResult] = []
    if too_small and not assessed:
        # on_small=warn is for some small groups; when no rule could be judged anywhere the gate
        # has measured nothing, and a warning would let the model through unjudged.
        names = ", ".join(dict.fromkeys(too_small))
        checks.append(
            CheckResult(
                name="disparities assessed",
                value=0,
                threshold=1,
                operator=">=",
                status=Status.ERROR,
                message=f"no fairness rule could be assessed: fewer than two groups of {names} "
                f"have min_group_size {policy.min_group_size} rows; evaluate on more data, "
                "use a coarser sensitive feature or lower gates.fairness.min_group_size",
            )
        )
    for i, rule in enumerate(policy.rules):
        if not (rule.rationale or "").strip():
            checks.append(
                CheckResult(
                    name=f"rationale of rule {rule.metric}",
                    status=Status.WARNED,
                    severity="warn",
                    message=f"fairness rule gates.fairness.rules[{i}] ({rule.metric}) has no "
                    "rationale; say why the bound exists so reviewers can judge it",
                )
            )
    return checks


# Report: tables and details.


def _disparity_rows(g: Grouping, values: Values) -> list[list[Any]]:
    return [
        [
            g.name,
            name,
            _fmt(v),
            f"[{_fmt(iv.low)}, {_fmt(iv.high)}]" if iv else "—",
            _fmt(iv.bias_corrected) if iv else "—",
            _fmt(iv.detectable) if iv else "—",
        ]
        for name, (v, iv) in values.items()
    ]


def _grouping_detail(
    g: Grouping,
    rates: dict[str, np.ndarray],
    group_cis: dict[str, tuple[np.ndarray, np.ndarray]],
    eligible: np.ndarray,
    values: Values,
) -> dict[str, Any]:
    return {
        "name": g.name,
        "columns": list(g.columns),
        "groups": [
            {
                "group": label,
                "n": int(g.counts[k]),
                "eligible": bool(eligible[k]),
                **{
                    m: (float(rates[m][k]) if math.isfinite(rates[m][k]) else None)
                    for m in rates
                    if m != "count"
                },
                "ci": {
                    m: [_none(group_cis[m][0][k]), _none(group_cis[m][1][k])] for m in group_cis
                },
            }
            for k, label in enumerate(g.labels)
        ],
        "disparities": {
            k: {
                "value": _none(v),
                "ci": [_none(iv.low), _none(iv.high)] if iv else None,
                "bias_corrected": _none(iv.bias_corrected) if iv else None,
                "detectable": _none(iv.detectable) if iv else None,
            }
            for k, (v, iv) in values.items()
        },
    }


def _details(
    policy: FairnessPolicy,
    *,
    task: str,
    n_rows: int,
    method: str,
    groupings: list[dict[str, Any]],
    tables: list[dict[str, Any]],
    disparity_rows: list[list[Any]],
    images: list[dict[str, str]],
) -> dict[str, Any]:
    return {
        "task": task,
        "n_rows": n_rows,
        "decision_threshold": policy.decision_threshold if task == "binary" else None,
        "min_group_size": policy.min_group_size,
        "bootstrap": {
            "n_resamples": policy.n_resamples,
            "confidence": policy.confidence,
            "seed": policy.seed,
            "method": method if policy.n_resamples else None,
        },
        "groupings": groupings,
        "tables": [
            *tables,
            {
                "title": "Disparities between groups",
                "note": "difference = max - min over groups with enough rows; ratio = min / max; "
                "CI from the signed pairwise group differences (upper bound: every pair within "
                "it; lower bound: simultaneous over the pairs); bias-corrected: the estimate less "
                "its small-group bias; detectable: the smallest disparity (largest ratio) these "
                "group sizes can tell from none with 80% power",
                "columns": [
                    "grouping",
                    "disparity",
                    "value",
                    f"{policy.confidence:.0%} CI",
                    "bias-corrected",
                    "detectable",
                ],
                "rows": disparity_rows,
            },
        ],
        "images": images,
    }


def _none(x: float | None) -> float | None:
    return float(x) if x is not None and math.isfinite(float(x)) else None


def _rule_check(
    rule: FairnessRule,
    *,
    name: str,
    g: Grouping,
    task: str,
    evidence: _Evidence,
    eligible: np.ndarray,
    values: Values,
    y_true: np.ndarray,
    y_pred: np.ndarray,
    y_score: np.ndarray | None,
    metrics: dict[str, float],
) -> CheckResult:
    if dp.is_fast(rule.metric, task):
        return _fast_rule_check(
            rule,
            name=name,
            g=g,
            evidence=evidence,
            eligible=eligible,
            values=values,
            metrics=metrics,
        )
    base = dict(
        name=name,
        threshold=rule.threshold,
        operator=rule.operator,
        severity=rule.severity,
        rationale=rule.rationale,
    )
    try:
        fast_metrics, _ = dp.fast_components(rule.metric)
    except KeyError:
        fast_metrics = ()
    if fast_metrics:
        need = "a binary classifier" if task == "regression" else "a regression model"
        return CheckResult(
            **base,
            status=Status.ERROR,
            message=f"{rule.metric} needs {need} but the task is {task}; fix the rule",
        )
    return _engine_rule_check(
        rule,
        base=base,
        g=g,
        policy=evidence.policy,
        eligible=eligible,
        y_true=y_true,
        y_pred=y_pred,
        y_score=y_score,
        metrics=metrics,
    )


def _fast_rule_check(
    rule: FairnessRule,
    *,
    name: str,
    g: Grouping,
    evidence: _Evidence,
    eligible: np.ndarray,
    values: Values,
    metrics: dict[str, float],
) -> CheckResult:
    """A rule on a disparity of the gate's own per-group rates, with its pairwise interval."""
    rates = evidence.rates
    comps, how = dp.fast_components(rule.metric)
    if rule.metric in values:
        value, interval = values[rule.metric]
    else:
        value = float(dp.disparity(rule.metric, rates, eligible)[0])
        interval = evidence.interval(rule.metric, eligible)
        if math.isfinite(value):
            metrics[f"{rule.metric}__{g.slug}"] = value
    # The component that decides the disparity (for equalized odds: the worse one).
    parts = {m: float(dp.aggregate(rates[m], eligible, how)) for m in comps}
    finite = {m: v for m, v in parts.items() if math.isfinite(v)}
    if finite:
        key = max if how == "difference" else min
        worst = key(finite, key=finite.__getitem__)
    else:
        worst = comps[0]
    why, why_details = _explain(worst, rates[worst], eligible, g, how)
    return _judge(
        rule,
        policy=evidence.policy,
        name=name,
        grouping=g,
        value=value,
        interval=interval,
        why=why,
        why_details=why_details,
    )


def _engine_rule_check(
    rule: FairnessRule,
    *,
    base: dict[str, Any],
    g: Grouping,
    policy: FairnessPolicy,
    eligible: np.ndarray,
    y_true: np.ndarray,
    y_pred: np.ndarray,
    y_score: np.ndarray | None,
    metrics: dict[str, float],
) -> CheckResult:
    """A rule on a fairlearn/sklearn metric computed per group by ``MetricFrame`` (no interval)."""
    try:
        fn_name, fn, how = dp.resolve_engine_metric(rule.metric)
    except LookupError:
        return CheckResult(
            **base,
            status=Status.ERROR,
            message=f"unknown metric in '{rule.metric}': no function "
            f"'{rule.metric.rpartition('_')[0]}' in fairlearn.metrics or sklearn.metrics; fix "
            "the rule's metric",
        )
    try:
        by_group = dp.engine_by_group(
            fn=fn,
            fn_name=fn_name,
            group_labels=g.labels,
            codes=g.codes,
            y_true=y_true,
            y_pred=y_pred,
            y_score=y_score,
        )
    except Exception as exc:  # noqa: BLE001 - a user-named function may fail in any way
        return CheckResult(
            **base,
            status=Status.ERROR,
            message=f"fairlearn could not compute {fn_name} per group of {g.name}: "
            f"{type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}; "
            "choose a metric that fits the task",
        )
    value = float(dp.aggregate(by_group, eligible, how))
    if math.isfinite(value):
        metrics[f"{rule.metric}__{g.slug}"] = value
    why, why_details = _explain(fn_name, by_group, eligible, g, how)
    why_details["engine"] = "fairlearn.MetricFrame"
    return _judge(
        rule,
        policy=policy,
        name=base["name"],
        grouping=g,
        value=value,
        interval=None,
        why=why,
        why_details=why_details,
    )


def _chart(
    g: Grouping,
    rates: dict[str, np.ndarray],
    cis: dict[str, tuple[np.ndarray, np.ndarray]],
    eligible: np.ndarray,
) -> dict[str, str]:
    from quality_gates.components.fairness_gate.plots import group_rates_png

    series = {}
    for m in ("selection_rate", "true_positive_rate", "false_positive_rate"):
        nan = np.full(len(g.labels), np.nan)
        lo, hi = cis.get(m, (nan, nan))
        series[_SHORT[m]] = (rates[m], lo, hi)
    png = group_rates_png(
        title=f"{g.name}: selection rate, TPR and FPR per group (bars: bootstrap CI)",
        groups=g.labels,
        series=series,
        small=list(~eligible),
    )
    return {"title": f"Rates per group: {g.name}", "png_base64": png}


# --------------------------------------------------------------------------------------------
# Entry point


def _model_predictions(
    ctx: GateContext, data: EvalData, sens: pd.DataFrame
) -> tuple[np.ndarray, np.ndarray | None, list | None, LoadedModel, list[str]]:
    """Predict once with the model; returns decisions, scores, classes, model, its inputs."""
    loaded = ctx.model()
    if loaded is None:
        raise GateInputError(
            "no model given and the policy names no data.prediction or data.score column; "
            "pass the model or precomputed predictions"
        )
    names = list(loaded.feature_names or [])
    from_sens = [c for c in names if c not in data.frame.columns and c in sens.columns]
    if from_sens:
        # A model that takes a sensitive attribute kept in a separate file gets it (and is
        # reported for it), even though the evaluation table does not hold it.
        features = model_input(loaded, data).assign(**{c: sens[c].to_numpy() for c in from_sens})
        preds = predict(loaded, features)
    else:
        preds = ctx.predictions(loaded, data)
    return preds.y_pred, preds.y_score, preds.classes, loaded, names or list(data.features)


def _predictions(
    ctx: GateContext, data: EvalData, sens: pd.DataFrame
) -> tuple[str, np.ndarray, np.ndarray, np.ndarray | None, list[str] | None]:
    """Predict once and encode; returns task, labels, decisions, scores, model inputs."""
    fp: FairnessPolicy = ctx.section
    y_true = data.labels()
    model_inputs = None
    if data.prediction or data.score:
        ctx.model()  # loaded for its digest when given
        proba = data.frame[data.score].to_numpy(dtype=float) if data.score else None
        raw = data.frame[data.prediction].to_numpy() if data.prediction else None
        classes = None
    else:
        raw, proba, classes, _, model_inputs = _model_predictions(ctx, data, sens)
    task = infer_task(declared=fp.task, y_true=y_true, y_pred=raw, classes=classes)
    if task == "multiclass":
        n = len(classes) if classes is not None else len(np.unique(y_true))
        raise GateInputError(
            f"the model has {n} classes; the fairness gate supports binary "
            "classification and regression (evaluate one class vs the rest as a binary model)"
        )
    if task == "regression":
        if y_true.dtype.kind not in "iuf" or raw is None:
            raise GateInputError(
                f"regression needs a numeric label and numeric predictions in {data.source}; "
                "convert the label or set gates.fairness.task: binary"
            )
        return task, y_true.astype(float), np.asarray(raw, dtype=float).ravel(), None, model_inputs
    yt, decisions, score = encode_binary(
        y_true=y_true,
        y_pred=raw,
        proba=proba,
        classes=classes,
        positive_label=ctx.policy.data.positive_label,
        threshold=fp.decision_threshold,
        source=data.source,
    )
    return task, yt, decisions, score, model_inputs


def _sensitive_input_check(fp: FairnessPolicy, inputs: list[str] | None) -> list[CheckResult]:
    if inputs is None:
        return []
    used = [c for c in fp.sensitive_columns() if c in set(inputs)]
    if not used:
        return [
            CheckResult(
                name="sensitive inputs",
                value="none",
                status=Status.PASSED,
                severity=fp.sensitive_inputs,
                message="the model takes none of the sensitive columns as input",
            )
        ]
    status = {"allow": Status.PASSED, "warn": Status.WARNED, "block": Status.FAILED}[
        fp.sensitive_inputs
    ]
    return [
        CheckResult(
            name="sensitive inputs",
            value=", ".join(used),
            status=status,
            severity="block" if fp.sensitive_inputs == "block" else "warn",
            message=f"the model takes sensitive column(s) {', '.join(used)} as input "
            f"(gates.fairness.sensitive_inputs: {fp.sensitive_inputs})",
        )
    ]


def _sensitive(ctx: GateContext, data: EvalData) -> tuple[pd.DataFrame, str]:
    """The sensitive attributes of every row (from the data or a joined file)."""
    fp: FairnessPolicy = ctx.section
    uri = ctx.inputs.sensitive_data_uri
    extra = ctx.table(uri, role="sensitive_data") if uri else None
    sens, sens_source = sensitive_frame(
        data.frame,
        fp.sensitive_columns(),
        data_source=data.source,
        extra=extra,
        extra_source=str(uri or ""),
        join_key=fp.join_key,
    )
    unmatched = int(sens.attrs.get("unmatched", 0))
    if unmatched and fp.missing == "error":
        raise GateInputError(
            f"{unmatched} of {len(sens)} rows of {data.source} have no match in "
            f"{uri} on '{fp.join_key}'; add their attributes, or set "
            "gates.fairness.missing: group to compare them as a group of their own"
        )
    return sens, sens_source


def evaluate_gate(ctx: GateContext) -> Evaluation:
    """Evaluate group and intersectional disparities against ``gates.fairness`` (registry entry).

    Args:
        ctx: The run's context: policy section, data, model, sensitive attributes.

    Returns:
        The sensitive-input check and one check per rule and grouping, with their evidence.
    """
    fp: FairnessPolicy = ctx.section
    data = ctx.data()
    sens, sens_source = _sensitive(ctx, data)
    groupings = [
        build_grouping(sens, cols, missing=fp.missing, source=sens_source)
        for cols in fp.groupings()
    ]
    task, y_true, y_pred, y_score, model_inputs = _predictions(ctx, data, sens)
    more, metrics, details = evaluate(
        policy=fp,
        task=task,
        y_true=y_true,
        y_pred=y_pred,
        y_score=y_score,
        groupings=groupings,
    )
    details.update(
        model_uri=ctx.inputs.model_uri or "",
        data_uri=ctx.inputs.data_uri,
        sensitive_source=sens_source,
        unmatched_rows=int(sens.attrs.get("unmatched", 0)),
    )
    return Evaluation(
        checks=_sensitive_input_check(fp, model_inputs) + more, metrics=metrics, details=details
    )
