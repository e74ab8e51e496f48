"""Performance gate: metric thresholds, per-slice thresholds and non-inferiority to the champion.

Pure functions over numpy/pandas; no kfp import. :func:`evaluate_gate` is the registry's entry
point (``gate.py``): the run template loads the inputs and writes the result.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from quality_gates.components.performance_gate.bootstrap import (
    DiffCI,
    bootstrap_replicates,
    paired_bootstrap_diff,
)
from quality_gates.components.performance_gate.business import Calls, business_checks
from quality_gates.components.performance_gate.metrics import (
    CLASSIFICATION_METRICS,
    LOWER_IS_BETTER,
    REGRESSION_METRICS,
    confusion_matrix,
    point_metrics,
)
from quality_gates.components.performance_gate.policy import (
    ChampionRule,
    ChampionSpec,
    MetricRule,
    PerformancePolicy,
    SliceRule,
)
from quality_gates.shared.contracts.errors import GateInputError
from quality_gates.shared.contracts.results import CheckResult, Status
from quality_gates.shared.gates.context import Evaluation, GateContext
from quality_gates.shared.gates.decisions import (
    Evidence,
    Verdict,
    check_fields,
    describe,
    from_binomial,
    from_replicates,
    judge,
    judge_family,
)
from quality_gates.shared.io.data import EvalData
from quality_gates.shared.io.models import LoadedModel
from quality_gates.shared.io.predictions import infer_task

GATE = "performance"
_SCORE_METRICS = frozenset({"roc_auc", "pr_auc", "log_loss", "brier"})


@dataclass(frozen=True)
class Encoded:
    """Predictions of one model, encoded for the metric functions.

    Attributes:
        task: ``binary``, ``multiclass`` or ``regression``.
        y_true: Encoded labels (0/1, class codes, or floats).
        y_pred: Encoded predictions.
        y_score: Positive-class probability (binary), class probabilities (multiclass) or None.
        classes: Original class values in code order (classification only).
        positive_index: Position of the positive class in ``classes`` (binary only).
    """

    task: str
    y_true: np.ndarray
    y_pred: np.ndarray
    y_score: np.ndarray | None
    classes: list[Any] | None
    positive_index: int | None = None


def _fmt(x: Any) -> str:
    if isinstance(x, float):
        return f"{x:.4g}"
    return str(x)


def _align_labels(y_true: np.ndarray, classes: list, source: str) -> np.ndarray:
    """Return labels in the dtype of the model's classes, or raise naming the mismatch."""
    cls = np.asarray(classes)
    if np.issubdtype(cls.dtype, np.number) and not np.issubdtype(y_true.dtype, np.number):
        try:
            y_true = pd.to_numeric(pd.Series(y_true)).to_numpy()
        except (ValueError, TypeError):
            # Never the cells: a label may be mistyped personal data.
            text = pd.to_numeric(pd.Series(y_true), errors="coerce").isna().to_numpy()
            raise GateInputError(
                f"the label column of {source} holds text in {int(text.sum())} of {len(text)} "
                f"rows but the model's classes are numbers {[_fmt(c) for c in classes[:5]]}; "
                "encode the label column like the training data"
            ) from None
    elif not np.issubdtype(cls.dtype, np.number) and np.issubdtype(y_true.dtype, np.number):
        y_true = y_true.astype(str)
        cls = cls.astype(str)
    outside = ~np.isin(y_true, cls)
    if outside.any():
        unknown = pd.unique(y_true[outside])
        raise GateInputError(
            f"the label column of {source} holds {len(unknown)} value(s) in {int(outside.sum())} "
            f"of {len(outside)} rows that are not among the model's classes "
            f"{[_fmt(c) for c in classes[:10]]}; check the label column and positive_label"
        )
    return y_true


def encode(
    *,
    policy: PerformancePolicy,
    positive_label: Any,
    y_true: np.ndarray,
    y_pred: np.ndarray,
    proba: np.ndarray | None,
    classes: list | None,
    source: str,
) -> Encoded:
    """Encode labels, predictions and scores for the metric functions.

    Args:
        policy: The performance policy (task, decision threshold).
        positive_label: The positive class of a binary task, or None for the larger class.
        y_true: Labels as in the data.
        y_pred: Raw predictions of the model.
        proba: Class probabilities ``(n, K)`` in ``classes`` order, a 1-d positive-class
            score, or None.
        classes: The model's classes, or None when unknown (precomputed predictions).
        source: Name of the data, for error messages.

    Returns:
        The encoded predictions.

    Raises:
        GateInputError: When labels, predictions and classes do not fit together.
    """
    task = infer_task(declared=policy.task, y_true=y_true, y_pred=y_pred, classes=classes)
    if task == "regression":
        return _encode_regression(y_true, y_pred, source)
    if classes is None:
        classes = sorted(pd.unique(np.concatenate([y_true, np.asarray(y_pred)])).tolist())
    y_true = _align_labels(y_true, classes, source)
    cls = np.asarray(classes)
    if not np.issubdtype(cls.dtype, np.number):
        # Classes compared as text (booleans, strings): the labels too, or True != "True".
        cls = cls.astype(str)
        y_true = np.asarray(y_true).astype(str)
    if task == "binary":
        return _encode_binary(
            policy,
            positive_label,
            y_true=y_true,
            y_pred=y_pred,
            proba=proba,
            classes=classes,
            cls=cls,
        )
    code = {c: i for i, c in enumerate(cls.tolist())}
    yt = pd.Series(y_true).map(code).to_numpy(dtype=np.int64)
    yp_series = pd.Series(np.asarray(y_pred).astype(cls.dtype)).map(code)
    if yp_series.isna().any():
        raise GateInputError(f"model predicted classes outside its own classes_ on {source}")
    score = np.asarray(proba, dtype=float) if proba is not None and np.ndim(proba) == 2 else None
    return Encoded("multiclass", yt, yp_series.to_numpy(np.int64), score, list(classes))


def _encode_regression(y_true: np.ndarray, y_pred: np.ndarray, source: str) -> Encoded:
    if not np.issubdtype(y_true.dtype, np.number):
        raise GateInputError(
            f"regression label in {source} is not numeric (dtype {y_true.dtype}); "
            "convert it or set gates.performance.task to a classification task"
        )
    yp = np.asarray(y_pred, dtype=float).ravel()
    if yp.shape[0] != y_true.shape[0] or not np.all(np.isfinite(yp)):
        raise GateInputError(f"model returned non-finite or misshaped predictions on {source}")
    return Encoded("regression", y_true.astype(float), yp, None, None)


def _encode_binary(
    policy: PerformancePolicy,
    positive_label: Any,
    *,
    y_true: np.ndarray,
    y_pred: np.ndarray,
    proba: np.ndarray | None,
    classes: list,
    cls: np.ndarray,
) -> Encoded:
    """0/1 labels and decisions, and the positive-class score; ``cls``: classes as compared."""
    if len(classes) > 2:
        raise GateInputError(
            f"task is binary but the model has {len(classes)} classes; "
            "set gates.performance.task: multiclass"
        )
    pos_idx = _positive_index(positive_label, classes, cls)
    pos_value = cls[pos_idx]
    yt = (y_true == pos_value).astype(np.int64)
    score = None
    if proba is not None:
        proba = np.asarray(proba, dtype=float)
        score = proba[:, pos_idx] if proba.ndim == 2 else proba.ravel()
    if score is not None:
        # The policy's decision threshold, not the model's implicit 0.5, makes the class call.
        yp = (score >= policy.decision_threshold).astype(np.int64)
    else:
        yp = (np.asarray(y_pred).astype(cls.dtype) == pos_value).astype(np.int64)
    return Encoded("binary", yt, yp, score, [c for c in classes], positive_index=pos_idx)


def _positive_index(positive_label: Any, classes: list, cls: np.ndarray) -> int:
    """Position of the positive class (default: the last class) among ``classes``."""
    pos = positive_label if positive_label is not None else classes[-1]
    matches = np.flatnonzero(cls == (str(pos) if cls.dtype.kind in "UO" else pos))
    shown = [_fmt(c) for c in classes]
    if matches.size == 0 and isinstance(pos, str) and pos in shown:
        # positive_label: "1" against numeric classes: the same class written as text (the
        # fairness gate matches it the same way), not a label the model lacks.
        matches = np.array([shown.index(pos)])
    if matches.size == 0:
        raise GateInputError(
            f"positive_label {pos!r} is not among the classes {[_fmt(c) for c in classes]}; "
            "fix data.positive_label in the policy"
        )
    return int(matches[0])


def _available(task: str, enc: Encoded) -> tuple[str, ...]:
    names = REGRESSION_METRICS if task == "regression" else CLASSIFICATION_METRICS
    if enc.y_score is None:
        names = tuple(m for m in names if m not in _SCORE_METRICS)
    return names


def _unavailable_message(metric: str, enc: Encoded) -> str:
    if enc.task == "regression" and metric in CLASSIFICATION_METRICS:
        return (
            f"metric '{metric}' is a classification metric but the task is regression (the "
            f"predictions are continuous numbers); use a regression metric "
            f"({', '.join(REGRESSION_METRICS)}) or evaluate a classifier"
        )
    if enc.task != "regression" and metric in REGRESSION_METRICS:
        return f"metric '{metric}' is a regression metric but the task is {enc.task}; fix the rule"
    return (
        f"metric '{metric}' needs probability scores but the model has no predict_proba and no "
        "score column was given; use a probabilistic model or name data.score"
    )


def _unavailable_check(rule: MetricRule, enc: Encoded, *, name: str, family: str) -> CheckResult:
    return CheckResult(
        name=name,
        threshold=rule.threshold,
        operator=rule.operator,
        severity=rule.severity,
        rationale=rule.rationale,
        family=family,
        status=Status.ERROR,
        message=_unavailable_message(rule.metric, enc),
    )


def _undefined_check(rule: MetricRule, *, name: str, family: str) -> CheckResult:
    return CheckResult(
        name=name,
        threshold=rule.threshold,
        operator=rule.operator,
        severity=rule.severity,
        rationale=rule.rationale,
        family=family,
        status=Status.ERROR,
        message=f"{name}: {rule.metric} is undefined on this data (e.g. only one class "
        "present); evaluate on data with both classes",
    )


def _judged_check(
    rule: MetricRule,
    ev: Evidence,
    verdict: Verdict,
    *,
    name: str,
    what: str,
    policy: PerformancePolicy,
    family: str,
    details: dict | None = None,
) -> CheckResult:
    """A threshold rule's check from its evidence and verdict (the rule engine's outcome)."""
    message = describe(
        verdict,
        ev,
        what=what,
        threshold=rule.threshold,
        operator=rule.operator,
        confidence=policy.confidence,
        on_inconclusive=policy.inconclusive_for(rule),
    )
    return CheckResult(
        name=name,
        threshold=rule.threshold,
        operator=rule.operator,
        severity=rule.severity,
        rationale=rule.rationale,
        family=family,
        message=message,
        details={**(details or {}), **verdict.details(), "method": ev.method},
        **check_fields(verdict, ev),
    )


def _rule_name(rule: MetricRule) -> str:
    return f"{rule.metric} {rule.operator} {rule.threshold:g}"


def _metric_checks(
    policy: PerformancePolicy, enc: Encoded, metrics: dict[str, float]
) -> tuple[list[CheckResult], dict[str, list[float]]]:
    checks: list[CheckResult] = []
    wanted = sorted({r.metric for r in policy.rules if r.metric in metrics})
    n = int(enc.y_true.shape[0])
    reps: dict[str, np.ndarray] = {}
    if wanted and policy.n_resamples > 0:
        reps = bootstrap_replicates(
            task=enc.task,
            y_true=enc.y_true,
            y_pred=enc.y_pred,
            y_score=enc.y_score,
            metrics=wanted,
            n_resamples=policy.n_resamples,
            seed=policy.seed,
        )
    evidence = {
        m: (
            from_replicates(metrics[m], reps[m], confidence=policy.confidence, n=n)
            if m in reps
            else Evidence(metrics[m], n=n)
        )
        for m in wanted
    }
    for rule in policy.rules:
        name = _rule_name(rule)
        if rule.metric not in metrics:
            checks.append(_unavailable_check(rule, enc, name=name, family="thresholds"))
            continue
        if not math.isfinite(metrics[rule.metric]):
            checks.append(_undefined_check(rule, name=name, family="thresholds"))
            continue
        ev = evidence[rule.metric]
        verdict = judge(
            ev,
            threshold=rule.threshold,
            operator=rule.operator,
            judge_on=rule.judge_on,
            severity=rule.severity,
            on_inconclusive=policy.inconclusive_for(rule),
        )
        checks.append(
            _judged_check(
                rule, ev, verdict, name=name, what=rule.metric, policy=policy, family="thresholds"
            )
        )
    cis = {m: [float(e.low), float(e.high)] for m, e in evidence.items() if e.has_interval}
    return checks, cis


def _slice_checks(
    policy: PerformancePolicy, enc: Encoded, frame: pd.DataFrame, source: str
) -> tuple[list[CheckResult], list[dict], dict[str, float]]:
    checks: list[CheckResult] = []
    rows: list[dict] = []
    thresholds: dict[str, float] = {}
    for rule in policy.slices:
        thresholds[f"{rule.column}/{rule.metric}"] = rule.threshold
        if rule.column not in frame.columns:
            checks.append(
                CheckResult(
                    name=f"slice {rule.column}: {_rule_name(rule)}",
                    status=Status.ERROR,
                    severity=rule.severity,
                    family="slices",
                    message=f"slice column '{rule.column}' is not in {source}; "
                    "fix gates.performance.slices or add the column",
                )
            )
            continue
        rule_checks, rule_rows = _slice_rule_checks(policy, rule, enc, frame[rule.column])
        checks.extend(rule_checks)
        rows.extend(rule_rows)
    return checks, rows, thresholds


@dataclass
class _Slice:
    label: str
    n: int
    mask: np.ndarray
    evidence: Evidence | None = None
    check: CheckResult | None = None


def _slice_rule_checks(
    policy: PerformancePolicy, rule: SliceRule, enc: Encoded, column: pd.Series
) -> tuple[list[CheckResult], list[dict]]:
    """One check and one report row per value of the slice column; the slices are a family."""
    # One pass of factorize over the whole column; the loops below are over slices, not rows.
    codes, uniques = pd.factorize(column, use_na_sentinel=False)
    counts = np.bincount(codes, minlength=len(uniques))
    slices = [
        _Slice("<missing>" if pd.isna(value) else str(value), int(counts[k]), codes == k)
        for k, value in enumerate(uniques)
    ]
    for k, sl in enumerate(slices):
        _slice_evidence(policy, rule, enc, sl, seed=policy.seed + 1 + k)
    judged = [sl for sl in slices if sl.check is None]
    verdicts = judge_family(
        [sl.evidence for sl in judged],  # type: ignore[misc]
        thresholds=[rule.threshold] * len(judged),
        operator=rule.operator,
        judge_on=rule.judge_on,
        severity=rule.severity,
        on_inconclusive=policy.inconclusive_for(rule),
        confidence=policy.confidence,
        method=policy.multiplicity,
    )
    family = {"multiplicity": policy.multiplicity, "family_size": len(judged)}
    for sl, verdict in zip(judged, verdicts, strict=True):
        sl.check = _judged_check(
            rule,
            sl.evidence,  # type: ignore[arg-type]
            verdict,
            name=_slice_name(rule, sl.label),
            what=f"slice {rule.column}={sl.label} (n={sl.n}): {rule.metric}",
            policy=policy,
            family="slices",
            details={"n": sl.n, **family},
        )
    checks = [sl.check for sl in slices]
    rows = [
        dict(
            column=rule.column,
            value=sl.label,
            metric=rule.metric,
            value_metric=sl.evidence.estimate if sl.evidence is not None else None,
            ci_low=sl.evidence.low if sl.evidence is not None else None,
            ci_high=sl.evidence.high if sl.evidence is not None else None,
            n=sl.n,
            decision=sl.check.decision,  # type: ignore[union-attr]
            status=sl.check.status.value,  # type: ignore[union-attr]
        )
        for sl in slices
    ]
    return checks, rows  # type: ignore[return-value]


def _slice_name(rule: SliceRule, label: str) -> str:
    return f"slice {rule.column}={label}: {_rule_name(rule)}"


def _slice_evidence(
    policy: PerformancePolicy, rule: SliceRule, enc: Encoded, sl: _Slice, *, seed: int
) -> None:
    """Set the slice's evidence, or its final check when it cannot be judged."""
    y_true, y_pred = enc.y_true[sl.mask], enc.y_pred[sl.mask]
    y_score = None if enc.y_score is None else enc.y_score[sl.mask]
    if sl.n < rule.min_size:
        counts = _proportion_counts(rule.metric, enc.task, y_true, y_pred)
        if counts is None:
            sl.check = _small_slice_check(rule, sl.label, sl.n)
        else:
            # Small counts: the exact binomial interval, not a bootstrap of a few rows.
            sl.evidence = from_binomial(*counts, confidence=policy.confidence)
            if counts[1] == 0:
                sl.check = _small_slice_check(rule, sl.label, sl.n)
        return
    sub = point_metrics(task=enc.task, y_true=y_true, y_pred=y_pred, y_score=y_score)
    name = _slice_name(rule, sl.label)
    if rule.metric not in sub:
        sl.check = _unavailable_check(rule, enc, name=name, family="slices")
        return
    value = sub[rule.metric]
    if not math.isfinite(value):
        sl.check = _undefined_check(rule, name=name, family="slices")
        return
    if policy.n_resamples == 0:
        sl.evidence = Evidence(value, n=sl.n)
        return
    reps = bootstrap_replicates(
        task=enc.task,
        y_true=y_true,
        y_pred=y_pred,
        y_score=y_score,
        metrics=[rule.metric],
        n_resamples=policy.n_resamples,
        seed=seed,
    )
    sl.evidence = from_replicates(value, reps[rule.metric], confidence=policy.confidence, n=sl.n)


def _proportion_counts(
    metric: str, task: str, y_true: np.ndarray, y_pred: np.ndarray
) -> tuple[int, int] | None:
    """``(successes, trials)`` of a metric that is a proportion, else None."""
    if metric == "accuracy" and task != "regression":
        return int((y_true == y_pred).sum()), int(y_true.shape[0])
    if task != "binary":
        return None
    tp = int(((y_true == 1) & (y_pred == 1)).sum())
    if metric == "recall":
        return tp, int((y_true == 1).sum())
    if metric == "precision":
        return tp, int((y_pred == 1).sum())
    return None


def _small_slice_check(rule: SliceRule, label: str, n: int) -> CheckResult:
    status = {"warn": Status.WARNED, "block": Status.FAILED, "skip": Status.SKIPPED}[rule.on_small]
    return CheckResult(
        name=_slice_name(rule, label),
        threshold=rule.threshold,
        operator=rule.operator,
        severity=rule.severity,
        status=status,
        rationale=rule.rationale,
        family="slices",
        message=f"insufficient data: slice {rule.column}={label} has {n} rows, "
        f"fewer than min_size {rule.min_size}",
        details={"n": n},
    )


def champion_checks(
    *,
    spec: ChampionSpec,
    candidate: Encoded,
    champion: Encoded | None,
    champion_ref: dict[str, Any],
    candidate_metrics: dict[str, float] | None = None,
    on_inconclusive: str = "block",
) -> tuple[list[CheckResult], dict[str, Any]]:
    """Compare the candidate with the champion by paired bootstrap, one check per rule.

    The difference is sign-adjusted so that positive means "the candidate is better"; a rule
    is shown to pass when the lower CI bound of that improvement is at least ``-margin``, shown
    to fail when the upper bound is below it, and inconclusive otherwise.

    Args:
        spec: The champion section of the policy.
        candidate: Candidate predictions on the evaluation data.
        champion: Champion predictions on the same rows, or None when no model holds the alias.
        champion_ref: Alias, URI, version and digest of the champion, for the report.
        candidate_metrics: The candidate's point metrics when already computed (else computed).
        on_inconclusive: The section's inconclusive policy (a rule may override it).

    Returns:
        The checks and the report details.
    """
    details: dict[str, Any] = {**champion_ref, "alias": spec.alias, "comparisons": []}
    if not spec.rules:
        return [
            CheckResult(
                name=f"champion@{spec.alias}",
                family="champion",
                status=Status.ERROR,
                message="gates.performance.champion has no rules; add at least one "
                "{metric, margin} rule or remove the champion section",
            )
        ], details
    if champion is None:
        status = {"skip": Status.SKIPPED, "warn": Status.WARNED, "block": Status.FAILED}[
            spec.if_missing
        ]
        return [
            CheckResult(
                name=f"champion@{spec.alias}",
                family="champion",
                status=status,
                message=f"no model holds alias '{spec.alias}' of "
                f"'{champion_ref.get('model_name')}': no champion to compare with "
                f"(if_missing: {spec.if_missing})",
            )
        ], details
    diffs, cand_m, champ_m = _champion_comparison(spec, candidate, champion, candidate_metrics)
    checks = []
    for rule in spec.rules:
        name = f"{rule.metric} vs champion@{spec.alias} (margin {rule.margin:g})"
        if rule.metric not in diffs:
            checks.append(
                CheckResult(
                    name=name,
                    family="champion",
                    status=Status.ERROR,
                    severity=rule.severity,
                    message=_unavailable_message(rule.metric, candidate),
                )
            )
            continue
        check, comparison = _champion_rule_check(
            rule,
            diffs[rule.metric],
            name=name,
            spec=spec,
            on_inconclusive=rule.on_inconclusive or on_inconclusive,
            n_rows=int(candidate.y_true.shape[0]),
            cand_m=cand_m,
            champ_m=champ_m,
        )
        checks.append(check)
        details["comparisons"].append(comparison)
    return checks, details


def _champion_comparison(
    spec: ChampionSpec,
    candidate: Encoded,
    champion: Encoded,
    candidate_metrics: dict[str, float] | None,
) -> tuple[dict[str, DiffCI], dict[str, float], dict[str, float]]:
    """Paired bootstrap differences of the ruled metrics, and both models' point metrics."""
    metrics = sorted({r.metric for r in spec.rules})
    available = set(_available(candidate.task, candidate)) & set(
        _available(champion.task, champion)
    )
    diffs = paired_bootstrap_diff(
        task=candidate.task,
        y_true=candidate.y_true,
        cand_pred=candidate.y_pred,
        cand_score=candidate.y_score,
        champ_pred=champion.y_pred,
        champ_score=champion.y_score,
        metrics=[m for m in metrics if m in available],
        n_resamples=spec.n_resamples,
        confidence=spec.confidence,
        seed=spec.seed,
    )
    cand_m = candidate_metrics or point_metrics(
        task=candidate.task,
        y_true=candidate.y_true,
        y_pred=candidate.y_pred,
        y_score=candidate.y_score,
    )
    champ_m = point_metrics(
        task=champion.task,
        y_true=champion.y_true,
        y_pred=champion.y_pred,
        y_score=champion.y_score,
    )
    return diffs, cand_m, champ_m


def _champion_rule_check(
    rule: ChampionRule,
    d: DiffCI,
    *,
    name: str,
    spec: ChampionSpec,
    on_inconclusive: str,
    n_rows: int,
    cand_m: dict[str, float],
    champ_m: dict[str, float],
) -> tuple[CheckResult, dict[str, Any]]:
    """The non-inferiority check of one rule on its bootstrap difference ``d``, and its row."""
    sign = -1.0 if rule.metric in LOWER_IS_BETTER else 1.0
    # Improvement = how much better the candidate is; its CI's lower end is the worst case.
    est = sign * d.estimate
    margin = float(rule.margin or 0.0)
    base = dict(
        name=name,
        threshold=-margin,
        operator="ci_low >=",
        severity=rule.severity,
        rationale=rule.rationale,
        family="champion",
    )
    reps = sign * d.replicates if d.replicates is not None else None
    if reps is None or not math.isfinite(est):
        check = CheckResult(
            **base,
            status=Status.ERROR,
            message=f"{rule.metric} difference to the champion is undefined on this data; "
            "evaluate on data with both classes",
        )
    else:
        ev = from_replicates(
            est,
            reps,
            confidence=spec.confidence,
            n=n_rows,
            method=d.method,
        )
        verdict = judge(
            ev,
            threshold=-margin,
            operator=">=",
            judge_on="interval",
            severity=rule.severity,
            on_inconclusive=on_inconclusive,
        )
        lead = (
            f"{rule.metric}: candidate {cand_m.get(rule.metric, float('nan')):.4g} vs champion "
            f"{champ_m.get(rule.metric, float('nan')):.4g}; "
        )
        text = describe(
            verdict,
            ev,
            what="improvement",
            threshold=-margin,
            operator=">=",
            confidence=spec.confidence,
            on_inconclusive=on_inconclusive,
        )
        text = text.replace(f">= {-margin:g}", f"the non-inferiority margin -{margin:g}")
        check = CheckResult(
            **base,
            message=lead + text,
            details={
                "candidate": cand_m.get(rule.metric),
                "champion": champ_m.get(rule.metric),
                "method": d.method,
                "n_resamples": d.n_resamples,
                **verdict.details(),
            },
            **{**check_fields(verdict, ev), "value": est},
        )
    return check, _comparison_row(rule, check, est, cand_m=cand_m, champ_m=champ_m)


def _comparison_row(
    rule: ChampionRule,
    check: CheckResult,
    est: float,
    *,
    cand_m: dict[str, float],
    champ_m: dict[str, float],
) -> dict[str, Any]:
    """The report's row of one champion comparison."""
    return dict(
        metric=rule.metric,
        candidate=cand_m.get(rule.metric),
        champion=champ_m.get(rule.metric),
        diff=est,
        ci_low=check.ci_low,
        ci_high=check.ci_high,
        margin=float(rule.margin or 0.0),
        decision=check.decision,
        status=check.status.value,
    )


def _roc_points(y_true: np.ndarray, score: np.ndarray, n: int = 101) -> dict[str, list[float]]:
    """Return a downsampled ROC curve at score quantiles (vectorised via searchsorted)."""
    thresholds = np.unique(np.quantile(score, np.linspace(0.0, 1.0, n)))[::-1]
    pos = np.sort(score[y_true == 1])
    neg = np.sort(score[y_true == 0])
    if pos.size == 0 or neg.size == 0:
        return {}
    tpr = 1.0 - np.searchsorted(pos, thresholds, side="left") / pos.size
    fpr = 1.0 - np.searchsorted(neg, thresholds, side="left") / neg.size
    thresholds = np.concatenate([[np.inf], thresholds])
    return {
        "fpr": [0.0, *fpr.round(6).tolist()],
        "tpr": [0.0, *tpr.round(6).tolist()],
        # KFP's ROC schema wants finite numbers; 1.0 + eps stands in for "above every score".
        "thresholds": [float(min(1.0, score.max()) + 1e-9), *thresholds[1:].round(6).tolist()],
    }


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _class_name(classes: list[Any], index: int) -> str:
    """A class as a message may name it: a number or boolean label, else its position.

    Text labels are data values, which messages never quote.
    """
    if index < len(classes) and isinstance(classes[index], (numbers.Number, np.bool_)):
        return f"class {_fmt(classes[index])}"
    return f"the {_ordinal(index + 1)} class"


def _class_counts(enc: Encoded) -> list[tuple[str, int]]:
    """Rows per class of the label (classes without rows count 0); empty for regression."""
    classes = list(enc.classes or [])
    if enc.task == "binary":
        pos = enc.positive_index if enc.positive_index is not None else len(classes) - 1
        n_pos = int(np.sum(enc.y_true == 1))
        others = [i for i in range(len(classes)) if i != pos]
        negative = _class_name(classes, others[0]) if others else "the negative class"
        return [(negative, int(enc.y_true.shape[0]) - n_pos), (_class_name(classes, pos), n_pos)]
    if enc.task == "multiclass":
        by_code = np.bincount(enc.y_true.astype(np.int64), minlength=len(classes))
        return [(_class_name(classes, i), int(n)) for i, n in enumerate(by_code)]
    return []


def _rows(n: int) -> str:
    return f"{n} row" if n == 1 else f"{n} rows"


def _require_evidence(policy: PerformancePolicy, enc: Encoded, source: str) -> None:
    """Refuse to judge on too few rows, overall (``min_rows``) or of a class.

    Raises:
        GateInputError: Naming the counts and the minimums they fall short of.
    """
    n_rows = int(enc.y_true.shape[0])
    problems = []
    if n_rows < policy.min_rows:
        problems.append(
            f"{source} has {n_rows} evaluation rows, fewer than gates.performance.min_rows "
            f"({policy.min_rows})"
        )
    short = [(c, n) for c, n in _class_counts(enc) if n < policy.min_rows_per_class]
    if short:
        listed = [f"{c} has {_rows(n)}" for c, n in short[:5]]
        if len(short) > 5:
            listed.append(f"{len(short) - 5} more classes have too few")
        problems.append(
            f"{'' if problems else f'in {source} '}{', '.join(listed)}, fewer than "
            f"gates.performance.min_rows_per_class ({policy.min_rows_per_class})"
        )
    if problems:
        raise GateInputError(
            "; ".join(problems) + ": metrics and intervals from so few rows are not evidence; "
            "evaluate on more data"
        )


def evaluate(
    *,
    policy: PerformancePolicy,
    candidate: Encoded,
    frame: pd.DataFrame,
    source: str,
    champion: Encoded | None = None,
    champion_ref: dict[str, Any] | None = None,
) -> tuple[list[CheckResult], dict[str, float], dict[str, Any]]:
    """Evaluate every rule of the performance policy on encoded predictions.

    Args:
        policy: The performance section of the policy.
        candidate: Candidate predictions.
        frame: The evaluation table (slice columns, business amount columns).
        source: Name of the data, for messages.
        champion: Champion predictions on the same rows, or None.
        champion_ref: Alias, URI, version, digest of the champion.

    Returns:
        ``(checks, metrics, details)``.
    """
    _require_evidence(policy, candidate, source)
    metrics = point_metrics(
        task=candidate.task,
        y_true=candidate.y_true,
        y_pred=candidate.y_pred,
        y_score=candidate.y_score,
    )
    checks, metric_cis = _metric_checks(policy, candidate, metrics)
    slice_checks, slice_rows, slice_thr = _slice_checks(policy, candidate, frame, source)
    checks += slice_checks
    details: dict[str, Any] = {
        "task": candidate.task,
        "n_rows": int(candidate.y_true.shape[0]),
        "metric_cis": metric_cis,
    }
    if slice_rows:
        details["slices"] = slice_rows
        details["slice_thresholds"] = slice_thr
    business_only = policy.business is not None and policy.business.vs_champion is not None
    if policy.champion is not None and (policy.champion.rules or not business_only):
        c_checks, c_details = champion_checks(
            spec=policy.champion,
            candidate=candidate,
            champion=champion,
            champion_ref=champion_ref or {},
            candidate_metrics=metrics,
            on_inconclusive=policy.on_inconclusive,
        )
        checks += c_checks
        details["champion"] = c_details
    if policy.business is not None:
        checks += _business(
            policy, candidate, champion, champion_ref, frame, source, metrics, details
        )
    if candidate.task != "regression":
        k = 2 if candidate.task == "binary" else len(candidate.classes or [])
        cm = confusion_matrix(y_true=candidate.y_true, y_pred=candidate.y_pred, n_classes=k)
        labels = ["negative", "positive"] if candidate.task == "binary" else candidate.classes or []
        if candidate.task == "binary" and candidate.classes and len(candidate.classes) == 2:
            pos = candidate.classes[-1]
            neg = candidate.classes[0]
            labels = [str(neg), str(pos)]
        details["confusion_matrix"] = {"labels": [str(x) for x in labels], "matrix": cm.tolist()}
        if candidate.task == "binary" and candidate.y_score is not None:
            roc = _roc_points(candidate.y_true, candidate.y_score)
            if roc:
                details["roc_curve"] = {**roc, "auc": metrics.get("roc_auc")}
    return checks, metrics, details


def _calls(enc: Encoded | None) -> Calls | None:
    if enc is None:
        return None
    return Calls(label=enc.y_true, call=enc.y_pred, by_threshold=enc.y_score is not None)


def _business(
    policy: PerformancePolicy,
    candidate: Encoded,
    champion: Encoded | None,
    champion_ref: dict[str, Any] | None,
    frame: pd.DataFrame,
    source: str,
    metrics: dict[str, float],
    details: dict[str, Any],
) -> list[CheckResult]:
    """Run the business block; its metrics, CIs and tables go into ``metrics``/``details``."""
    outcome = business_checks(
        policy=policy,
        task=candidate.task,
        candidate=_calls(candidate),  # type: ignore[arg-type]
        champion=_calls(champion),
        champion_ref=champion_ref or {},
        frame=frame,
        source=source,
    )
    metrics.update(outcome.metrics)
    details["metric_cis"].update(outcome.metric_cis)
    details["tables"] = [*details.get("tables", []), *outcome.tables]
    details["business"] = outcome.details
    return outcome.checks


def _predict_encoded(ctx: GateContext, data: EvalData) -> Encoded:
    """The candidate's encoded predictions: precomputed columns, or the model predicted once."""
    loaded = ctx.model()  # loaded for its digest even when predictions are precomputed
    if data.prediction or data.score:
        frame = data.frame
        proba = frame[data.score].to_numpy(dtype=float) if data.score else None
        y_pred = (
            frame[data.prediction].to_numpy()
            if data.prediction
            else (proba >= ctx.section.decision_threshold).astype(np.int64)
        )
        classes = [0, 1] if data.score and not data.prediction else None
        return encode(
            policy=ctx.section,
            positive_label=ctx.policy.data.positive_label,
            y_true=data.labels(),
            y_pred=y_pred,
            proba=proba,
            classes=classes,
            source=data.source,
        )
    if loaded is None:
        raise GateInputError(
            "no model given and the policy names no data.prediction or data.score column; "
            "pass the model or precomputed predictions"
        )
    return encode_model(ctx, loaded, data)


def _is_regressor(loaded: LoadedModel, y_pred: np.ndarray, classes: list | None) -> bool:
    """A model without classes that says it is a regressor or predicts continuous numbers."""
    if classes is not None:
        return False
    if getattr(loaded.model, "_estimator_type", None) == "regressor":
        return True
    values = np.asarray(y_pred)
    return bool(
        np.issubdtype(values.dtype, np.floating)
        and values.size
        and not np.all(np.mod(values[np.isfinite(values)], 1) == 0)
    )


def _check_not_regressor(policy: PerformancePolicy, loaded: LoadedModel, preds: Any) -> None:
    """Refuse a regression model under a classification policy, saying which way to go."""
    if policy.task == "regression" or not _is_regressor(loaded, preds.y_pred, preds.classes):
        return
    rules = [*policy.rules, *policy.slices]
    if policy.champion is not None:
        rules += list(policy.champion.rules)
    asked = sorted({r.metric for r in rules if r.metric in CLASSIFICATION_METRICS})
    if policy.task == "auto" and not asked:
        return
    kind = type(loaded.model).__name__
    what = (
        f"the policy's metrics {', '.join(asked)} are classification metrics"
        if asked
        else f"gates.performance.task is {policy.task}"
    )
    raise GateInputError(
        f"model {loaded.uri} is a regressor ({kind}: it predicts continuous numbers and has no "
        f"classes) but {what}; judge it with regression metrics "
        f"({', '.join(REGRESSION_METRICS)}) and task: regression, or evaluate a classifier"
    )


def encode_model(ctx: GateContext, loaded: LoadedModel, data: EvalData) -> Encoded:
    """Encode labels and scores of one loaded model's (cached) predictions on the data.

    Args:
        ctx: The gate's context (its section gives the task and the decision threshold).
        loaded: The model to score.
        data: The labelled table it is scored on.

    Returns:
        The encoded labels, predictions and scores.

    Raises:
        GateInputError: A regressor under a classification policy, or labels the model
            cannot have predicted.
    """
    preds = ctx.predictions(loaded, data)
    _check_not_regressor(ctx.section, loaded, preds)
    return encode(
        policy=ctx.section,
        positive_label=ctx.policy.data.positive_label,
        y_true=data.labels(),
        y_pred=preds.y_pred,
        proba=preds.y_score,
        classes=preds.classes,
        source=data.source,
    )


def champion_encoded(
    ctx: GateContext, data: EvalData, candidate: Encoded
) -> tuple[Encoded | None, dict]:
    """The champion's encoded predictions on the candidate's rows, and its reference.

    Args:
        ctx: The gate's context (its section's ``champion`` names the alias).
        data: The labelled table the candidate was scored on.
        candidate: The candidate's encoded predictions (for the task check).

    Returns:
        ``(None, ref)`` when no version holds the alias, else the champion's predictions.

    Raises:
        GateInputError: The champion is a model of another task.
    """
    loaded, ref = ctx.champion()
    if loaded is None:
        return None, ref
    enc = encode_model(ctx, loaded, data)
    if enc.task != candidate.task:
        raise GateInputError(
            f"champion {ref['uri']} is a {enc.task} model but the candidate is {candidate.task}; "
            "compare models of the same task"
        )
    return enc, ref


def evaluate_gate(ctx: GateContext) -> Evaluation:
    """Evaluate the candidate against ``gates.performance`` (the registry's entry point).

    Args:
        ctx: The run's context: policy section, data, model, champion.

    Returns:
        Checks (thresholds, slices, champion), the candidate's metrics and the report details.
    """
    data = ctx.data()
    candidate = _predict_encoded(ctx, data)
    champion, champion_ref = None, {}
    if ctx.section.champion is not None:
        champion, champion_ref = champion_encoded(ctx, data, candidate)
    checks, metrics, details = evaluate(
        policy=ctx.section,
        candidate=candidate,
        frame=data.frame,
        source=data.source,
        champion=champion,
        champion_ref=champion_ref,
    )
    details["model_uri"] = ctx.inputs.model_uri or ""
    details["data_uri"] = ctx.inputs.data_uri
    return Evaluation(checks=checks, metrics=metrics, details=details)
