"""Drift gate: has the data moved away from the reference the model was built on?

Reference (the training data, or a production sample it was validated on) against current data
(new training data, or a recent production sample), column by column. Each column's judged
distance is bounded by the policy with an interval (:mod:`.columns`), all columns judged as one
family (Benjamini-Hochberg by default); a column whose current values are all missing cannot be
compared and fails. An optional dataset rule bounds the share of drifted columns.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from quality_gates.components.drift_gate.columns import (
    MIN_STD,
    ColumnDrift,
    categorical_drift,
    numeric_drift,
    numeric_drift_profiled,
)
from quality_gates.components.drift_gate.policy import ColumnRule, DatasetRule, DriftPolicy
from quality_gates.components.drift_gate.profile import (
    NumericProfile,
    ReferenceProfile,
    check_settings,
    read_reference,
)
from quality_gates.shared.contracts.errors import GateInputError
from quality_gates.shared.contracts.results import CheckResult
from quality_gates.shared.gates.context import Evaluation, GateContext
from quality_gates.shared.gates.decisions import (
    Evidence,
    check_fields,
    describe,
    judge_family,
    status_of,
)
from quality_gates.shared.policy.schema import DataSpec

log = logging.getLogger(__name__)
#: Columns whose reference-vs-current histograms the report draws (the most drifted first).
PLOTTED_COLUMNS = 6


def drift_columns(
    available: list[str], policy: DriftPolicy, *, skip: set[str], what: str = "reference data"
) -> list[str]:
    """Return the columns the gate compares.

    Args:
        available: The reference's columns (a table's, or a profile's).
        policy: The drift section.
        skip: The label and ``data.exclude`` columns (never compared by default).
        what: What the reference is, for the message.

    Returns:
        The policy's ``columns``, or every reference column not skipped nor ignored.

    Raises:
        GateInputError: A listed column the reference lacks.
    """
    if policy.columns is not None:
        missing = [c for c in policy.columns if c not in available]
        if missing:
            raise GateInputError(f"gates.drift.columns names {missing[:5]}, which the {what} lacks")
        return list(policy.columns)
    ignored = set(policy.ignore) | skip
    return [c for c in available if c not in ignored]


def is_numeric(series: pd.Series) -> bool:
    """Numeric columns are compared as distributions; booleans and text as categories."""
    return pd.api.types.is_numeric_dtype(series.dtype) and not pd.api.types.is_bool_dtype(
        series.dtype
    )


def measure(
    reference: pd.DataFrame, current: pd.DataFrame, columns: list[str], policy: DriftPolicy
) -> list[ColumnDrift]:
    """Measure every column (numeric or categorical by the reference's dtype).

    Args:
        reference: Reference table.
        current: Current table (holds every column).
        columns: Columns to compare.
        policy: The drift section (rules, resamples, seed).

    Returns:
        One :class:`ColumnDrift` per column that has a rule for its kind.
    """

    def one(column: str, common: dict[str, Any]) -> ColumnDrift | None:
        if is_numeric(reference[column]):
            if policy.numeric is None:
                return None
            metric = policy.numeric.metric
            return numeric_drift(
                column, reference[column], current[column], metric=metric, **common
            )
        if policy.categorical is None:
            return None
        return categorical_drift(
            column,
            reference[column],
            current[column],
            metric=policy.categorical.metric,
            max_categories=policy.max_categories,
            **common,
        )

    return _each_column(columns, policy, one)


def _each_column(
    columns: list[str],
    policy: DriftPolicy,
    one: Callable[[str, dict[str, Any]], ColumnDrift | None],
) -> list[ColumnDrift]:
    """Measure the columns in order with one random generator (so both sides draw alike)."""
    rng = np.random.default_rng(policy.seed)
    out = []
    for column in columns:
        common = dict(resamples=policy.n_resamples, confidence=policy.confidence, rng=rng)
        drift = one(column, common)
        if drift is not None:
            out.append(drift)
    return out


def measure_profile(
    profile: ReferenceProfile, current: pd.DataFrame, columns: list[str], policy: DriftPolicy
) -> list[ColumnDrift]:
    """:func:`measure` against a stored reference profile (same order, same random draws).

    Args:
        profile: The reference's profile.
        current: Current table (holds every column).
        columns: Columns to compare (all in the profile).
        policy: The drift section.

    Returns:
        One :class:`ColumnDrift` per column that has a rule for its kind.
    """

    def one(column: str, common: dict[str, Any]) -> ColumnDrift | None:
        p = profile.columns[column]
        if isinstance(p, NumericProfile):
            if policy.numeric is None:
                return None
            metric = policy.numeric.metric
            return numeric_drift_profiled(
                column, p.state, p.grid, current[column], metric=metric, **common
            )
        if policy.categorical is None:
            return None
        return categorical_drift(
            column,
            p.state,  # type: ignore[arg-type]
            current[column],
            metric=policy.categorical.metric,
            max_categories=policy.max_categories,
            rest=p.rest,
            **common,
        )

    return _each_column(columns, policy, one)


def _rule_of(drift: ColumnDrift, policy: DriftPolicy) -> ColumnRule:
    return policy.numeric if drift.kind == "numeric" else policy.categorical  # type: ignore[return-value]


def _centred(evidence: Evidence) -> Evidence:
    """The evidence judged: its estimate moved into its own interval when it lies outside.

    The basic bootstrap interval removes a distance's small-sample bias, so on a small sample
    the exact (biased) estimate can lie above the whole interval. The family judgement reads the
    direction (pass or fail) from the estimate; it must read the side the interval is on, or a
    column whose interval lies wholly *below* the bound would be failed.
    """
    if evidence.low is None or evidence.high is None:
        return evidence
    inside = min(max(evidence.estimate, evidence.low), evidence.high)
    return dataclasses.replace(evidence, estimate=inside)


def column_checks(drifts: list[ColumnDrift], policy: DriftPolicy) -> list[CheckResult]:
    """Judge every comparable column as one family; an incomparable column fails.

    Args:
        drifts: The measured columns.
        policy: The drift section.

    Returns:
        One check per column, family ``columns``.
    """
    judged = [d for d in drifts if d.evidence is not None]
    verdicts = judge_family(
        [_centred(d.evidence) for d in judged],  # type: ignore[arg-type]
        thresholds=[_rule_of(d, policy).max for d in judged],
        operator="<=",
        judge_on="interval",
        severity="block",
        on_inconclusive=policy.on_inconclusive,
        confidence=policy.confidence,
        method=policy.multiplicity,
    )
    by_column = dict(zip((d.column for d in judged), verdicts, strict=True))
    checks = []
    for d in drifts:
        rule = _rule_of(d, policy)
        name = f"{d.column}: {rule.metric} <= {rule.max:g}"
        base = dict(
            name=name,
            threshold=rule.max,
            operator="<=",
            severity=rule.severity,
            rationale=rule.rationale,
            family="columns",
            details=_check_details(d),
        )
        if d.evidence is None:
            status = status_of("fail", severity=rule.severity, on_inconclusive="block")
            message = f"{d.column}: cannot be compared, {d.problem}"
            checks.append(CheckResult(**base, status=status, message=message))
            continue
        verdict = by_column[d.column]
        status = status_of(
            verdict.decision, severity=rule.severity, on_inconclusive=policy.on_inconclusive
        )
        verdict = dataclasses.replace(verdict, status=status)
        message = describe(
            verdict,
            d.evidence,
            what=f"{rule.metric} of {d.column}",
            threshold=rule.max,
            operator="<=",
            confidence=policy.confidence,
            on_inconclusive=policy.on_inconclusive,
        )
        base["details"] |= verdict.details()
        checks.append(CheckResult(**base, **check_fields(verdict, d.evidence), message=message))
    return checks


def _check_details(d: ColumnDrift) -> dict[str, Any]:
    return {
        "kind": d.kind,
        "n_reference": d.n_reference,
        "n_current": d.n_current,
        "missing_reference": d.missing_reference,
        "missing_current": d.missing_current,
        **{k: v for k, v in d.statistics.items() if np.isfinite(v)},
    }


def _column_weights(checks: list[CheckResult], rule: DatasetRule) -> np.ndarray:
    """Weight of each column check under ``dataset.weights`` (uniform: 1 each)."""
    columns = [c.name.split(":")[0] for c in checks]
    if rule.weights == "uniform":
        return np.ones(len(columns))
    unknown = sorted(set(rule.weights) - set(columns))
    if unknown:
        raise GateInputError(
            f"drift dataset weights name {len(unknown)} column(s) that are not compared "
            f"({', '.join(unknown[:5])}); weigh only compared columns or add them to the drift "
            "columns"
        )
    weights = np.array([rule.weights.get(c, 0.0) for c in columns])
    if weights.sum() <= 0:
        raise GateInputError("drift dataset weights give every compared column 0; weigh one")
    return weights


def dataset_check(checks: list[CheckResult], policy: DriftPolicy) -> CheckResult | None:
    """The share of columns shown to drift (or incomparable), against ``dataset.max_drifted_share``.

    With ``dataset.weights`` per column the share is the drifted columns' share of the total
    weight, so a drifted feature the model leans on counts more than one it ignores.

    Args:
        checks: The column checks.
        policy: The drift section.

    Returns:
        The dataset check, or None without a dataset rule.

    Raises:
        GateInputError: The weights name a column that is not compared, or weigh all of them 0.
    """
    rule = policy.dataset
    if rule is None or not checks:
        return None
    weights = _column_weights(checks, rule)
    is_drifted = np.array([c.decision == "fail" or c.decision is None for c in checks])
    drifted = [c for c, d in zip(checks, is_drifted, strict=True) if d]
    share = float(weights[is_drifted].sum() / weights.sum())
    ok = share <= rule.max_drifted_share
    status = status_of("pass" if ok else "fail", severity=rule.severity, on_inconclusive="block")
    names = ", ".join(c.name.split(":")[0] for c in drifted[:8]) or "none"
    weighted = "" if rule.weights == "uniform" else " of the column weight"
    return CheckResult(
        name=f"drifted share <= {rule.max_drifted_share:g}",
        value=share,
        threshold=rule.max_drifted_share,
        operator="<=",
        status=status,
        severity=rule.severity,
        rationale=rule.rationale,
        family="dataset",
        message=f"{len(drifted)} of {len(checks)} columns drifted ({share:.0%}{weighted}): {names}",
    )


def _tables_and_plots(drifts: list[ColumnDrift], checks: list[CheckResult]) -> dict[str, Any]:
    rows = []
    for d, c in zip(drifts, checks, strict=True):
        stats_text = ", ".join(f"{k} {v:.4g}" for k, v in d.statistics.items() if k != d.metric)
        rows.append(
            [
                d.column,
                d.kind,
                f"{c.value:.4g}" if isinstance(c.value, float) else "—",
                f"[{c.ci_low:.3g}, {c.ci_high:.3g}]" if c.ci_low is not None else "—",
                c.status.value,
                f"{d.missing_reference:.1%} → {d.missing_current:.1%}",
                stats_text or (d.problem or ""),
            ]
        )
    table = {
        "title": "Drift per column",
        "columns": ["column", "kind", "judged distance", "CI", "status", "missing", "other"],
        "rows": rows,
    }
    return {"tables": [table], "images": _most_drifted(drifts, checks)}


def _most_drifted(drifts: list[ColumnDrift], checks: list[CheckResult]) -> list[dict[str, str]]:
    """Histograms of the columns furthest above their bound (failing first)."""
    from quality_gates.components.drift_gate.plots import distribution_png

    def excess(pair: tuple[ColumnDrift, CheckResult]) -> float:
        d, c = pair
        return (d.evidence.estimate / float(c.threshold)) if d.evidence else -1.0

    ranked = sorted((p for p in zip(drifts, checks, strict=True) if p[0].histogram), key=excess)
    images = []
    for d, c in list(reversed(ranked))[:PLOTTED_COLUMNS]:
        title = f"{d.column}: {d.metric} {c.value:.3g} ({c.status.value})"
        png = distribution_png(title=title, **d.histogram)
        images.append({"title": f"Distribution of {d.column}", "png_base64": png})
    return images


def _current_has(columns: list[str], current: pd.DataFrame, what: str) -> None:
    lacking = [c for c in columns if c not in current.columns]
    if lacking:
        raise GateInputError(
            f"the current data lacks {len(lacking)} column(s) of the {what}, e.g. "
            f"{lacking[:5]}; compare tables with the same columns or list gates.drift.columns"
        )


def evaluate_drift(
    reference: pd.DataFrame, current: pd.DataFrame, policy: DriftPolicy, *, skip: set[str]
) -> Evaluation:
    """Compare two tables under a drift policy (pure: no I/O).

    Args:
        reference: Reference table.
        current: Current table.
        policy: The drift section.
        skip: Columns never compared by default (label, ``data.exclude``).

    Returns:
        Column checks, the dataset check, metrics and report details.

    Raises:
        GateInputError: Empty tables, or columns the current data lacks.
    """
    if len(reference) == 0 or len(current) == 0:
        side = "reference" if len(reference) == 0 else "current"
        raise GateInputError(f"the {side} data has no rows; drift needs rows on both sides")
    columns = drift_columns(list(reference.columns), policy, skip=skip)
    _current_has(columns, current, "reference")
    return _judged(measure(reference, current, columns, policy), policy, reference_table=None)


def evaluate_drift_profile(
    profile: ReferenceProfile,
    current: pd.DataFrame,
    policy: DriftPolicy,
    *,
    skip: set[str],
    reference: dict[str, str] | None = None,
) -> Evaluation:
    """Compare a table with a stored reference profile under a drift policy (pure: no I/O).

    Args:
        profile: The reference's profile (its settings already checked against the policy).
        current: Current table.
        policy: The drift section.
        skip: Columns never compared by default (label, ``data.exclude``).
        reference: What the report says about the reference (``uri``, ``digest``).

    Returns:
        As :func:`evaluate_drift`; the report adds a table on the reference profile.

    Raises:
        GateInputError: An empty side, or columns the profile or the current data lacks.
    """
    if profile.rows == 0 or len(current) == 0:
        side = "reference profile" if profile.rows == 0 else "current data"
        raise GateInputError(f"the {side} has no rows; drift needs rows on both sides")
    what = "reference profile (rebuild it with those columns: quality-gates drift profile)"
    columns = drift_columns(list(profile.columns), policy, skip=skip, what=what)
    _current_has(columns, current, "reference profile")
    drifts = measure_profile(profile, current, columns, policy)
    return _judged(drifts, policy, reference_table=_profile_table(profile, reference or {}))


def _profile_table(profile: ReferenceProfile, reference: dict[str, str]) -> dict[str, Any]:
    """The report's account of the reference: the profile, its source, how exact each column is."""
    rows = [
        ["reference", reference.get("uri", ""), reference.get("digest", "")],
        ["built from", profile.source.get("uri", ""), profile.source.get("sha256", "")],
        ["rows", str(profile.rows), ""],
    ]
    for column, p in profile.columns.items():
        if isinstance(p, NumericProfile):
            g, s = p.grid, p.state
            norm = max(s.std, MIN_STD) if s.n else 1.0
            text = (
                "exact"
                if g.exact
                else (
                    f"wasserstein_norm ±{g.wasserstein_bound(s.low, s.high) / norm:.2g}, "
                    f"ks ±{g.ks_bound():.2g}"
                )
            )
        else:
            text = "exact" if not p.rest_distinct else f"top {p.state.categories.size} kept"
        rows.append([f"column {column}", text, ""])
    return {"title": "Reference profile", "columns": ["", "value", "digest"], "rows": rows}


def _judged(
    drifts: list[ColumnDrift], policy: DriftPolicy, *, reference_table: dict[str, Any] | None
) -> Evaluation:
    """Checks, metrics and report of the measured columns (either kind of reference)."""
    if not drifts:
        raise GateInputError(
            "no column to compare: the policy has no rule for the kinds of the listed columns"
        )
    checks = column_checks(drifts, policy)
    dataset = dataset_check(checks, policy)
    drifted = sum(c.decision in ("fail", None) for c in checks)
    metrics = {f"{d.metric}.{d.column}": d.evidence.estimate for d in drifts if d.evidence}
    metrics |= {"drifted_columns": float(drifted), "drifted_share": drifted / len(checks)}
    log.info("drift: %d of %d columns drifted", drifted, len(checks))
    details = _tables_and_plots(drifts, checks)
    if reference_table is not None:
        details["tables"].append(reference_table)
    return Evaluation(
        checks=checks + ([dataset] if dataset else []), metrics=metrics, details=details
    )


def skipped_columns(spec: DataSpec) -> set[str]:
    """The columns never compared by default: the label, prediction, score and ``data.exclude``."""
    return set(spec.exclude) | {c for c in (spec.label, spec.prediction, spec.score) if c}


def evaluate_gate(ctx: GateContext) -> Evaluation:
    """Compare the current data with the reference (the registry's entry point).

    The reference is a CSV/Parquet table, a stored profile of one (a profile file, or
    ``models:/<name>/<version>`` / ``@<alias>`` for the profile kept with that version); the
    reference input's digest is the table's or the profile's.

    Args:
        ctx: The run's context: the reference data, the current data and the policy.

    Returns:
        The drift evaluation.
    """
    policy: DriftPolicy = ctx.section
    ref_uri = ctx.inputs.reference_data_uri
    if not ref_uri:
        raise GateInputError(
            "the drift gate needs reference data: pass --reference-data (the training data the "
            "model was built on, a production sample it was validated on, or its profile)"
        )
    skip = skipped_columns(ctx.policy.data)
    loaded = read_reference(ref_uri, tracking_uri=ctx.inputs.tracking_uri)
    if loaded is None:
        reference = ctx.table(ref_uri, role="reference_data")
        current = ctx.data(require_label=False).frame
        return evaluate_drift(reference, current, policy, skip=skip)
    profile, digest = loaded
    ctx.digests["reference_data"] = digest
    check_settings(profile, policy, uri=ref_uri)
    current = ctx.data(require_label=False).frame
    return evaluate_drift_profile(
        profile, current, policy, skip=skip, reference={"uri": ref_uri, "digest": digest}
    )
