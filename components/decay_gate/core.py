"""Decay gate: the candidate and the champion on a recent labelled sample of production traffic.

The held-out evaluation set is a snapshot of the past; the traffic a model will serve has moved
on. This gate scores both models on the same rows of a production sample (paired), and judges
with the performance gate's machinery: absolute thresholds and slices on the candidate, and
non-inferiority to the champion with a paired bootstrap interval on the difference. A rule that
the sample is too small to settle is inconclusive, and the policy decides what that does. The
sample itself is checked for recency when the policy names its event-time column.

Pure functions over numpy/pandas; no kfp import. :func:`evaluate_gate` is the registry's entry
point (``gate.py``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pandas as pd

from quality_gates.components.decay_gate.policy import DecayPolicy, SampleRecency
from quality_gates.components.performance_gate.core import (
    champion_encoded,
    encode_model,
    evaluate,
)
from quality_gates.shared.contracts.errors import GateInputError
from quality_gates.shared.contracts.results import CheckResult, Status
from quality_gates.shared.gates.context import Evaluation, GateContext

_DAY = pd.Timedelta(days=1)


def _event_times(frame: pd.DataFrame, column: str, source: str) -> pd.Series:
    """The sample's event times as UTC timestamps; refuse values that are not times."""
    if column not in frame.columns:
        raise GateInputError(
            f"gates.decay.sample.time_column '{column}' is not a column of the production "
            f"sample {source}; name the column holding each request's event time"
        )
    raw = frame[column]
    if pd.api.types.is_numeric_dtype(raw) and not pd.api.types.is_bool_dtype(raw):
        raise GateInputError(
            f"column '{column}' of {source} holds numbers, not times; store the event time as "
            "a timestamp or an ISO 8601 text (epoch numbers are ambiguous: seconds or ms?)"
        )
    times = pd.to_datetime(raw, utc=True, errors="coerce", format="mixed")
    unparsed = int((times.isna() & raw.notna()).sum())
    if unparsed:
        raise GateInputError(
            f"{unparsed} value(s) of column '{column}' of {source} are not times; write them as "
            "ISO 8601 (e.g. 2026-12-01T09:30:00Z)"
        )
    if times.notna().sum() == 0:
        raise GateInputError(f"column '{column}' of {source} holds no event time")
    return times


def recency_check(
    rule: SampleRecency, frame: pd.DataFrame, *, source: str, now: datetime | None = None
) -> tuple[CheckResult, dict[str, Any]]:
    """Whether the production sample is recent and long enough, and its time span.

    Args:
        rule: The policy's recency rule.
        frame: The production sample.
        source: Its URI, for messages.
        now: The time the gate judges at (UTC); default the current time.

    Returns:
        The check and the sample's time span for the report.

    Raises:
        GateInputError: The time column is missing, holds no times, or holds times after now.
    """
    times = _event_times(frame, rule.time_column, source)
    now_ts = pd.Timestamp(now or datetime.now(UTC))
    newest, oldest = times.max(), times.min()
    if newest > now_ts + _DAY:
        raise GateInputError(
            f"column '{rule.time_column}' of {source} holds event times more than a day after "
            "now; check the column's time zone and the clock of the system that wrote it"
        )
    age = max((now_ts - newest) / _DAY, 0.0)
    span = (newest - oldest) / _DAY
    span_info = {
        "newest": newest.isoformat(),
        "oldest": oldest.isoformat(),
        "age_days": round(age, 3),
        "span_days": round(span, 3),
    }
    problems = []
    if age > rule.max_age_days:
        problems.append(
            f"its newest row is {age:.1f} days old (max_age_days {rule.max_age_days:g})"
        )
    if span < rule.min_span_days:
        problems.append(f"it covers {span:.1f} days (min_span_days {rule.min_span_days:g})")
    if problems:
        status = Status.FAILED if rule.severity == "block" else Status.WARNED
        message = (
            "the production sample is not recent enough to stand for today's traffic: "
            + "; ".join(problems)
            + "; evaluate on a fresher sample"
        )
    else:
        status = Status.PASSED
        message = f"production sample: newest row {age:.1f} days old, covering {span:.1f} days"
    check = CheckResult(
        name=f"sample recency ({rule.time_column})",
        value=round(age, 3),
        threshold=rule.max_age_days,
        operator="<=",
        status=status,
        severity=rule.severity,
        rationale=rule.rationale,
        family="sample",
        message=message,
        details=span_info,
    )
    return check, span_info


def _champion_metrics(details: dict[str, Any]) -> dict[str, float]:
    """The champion's point metrics on the sample, from the comparison rows, prefixed."""
    rows = (details.get("champion") or {}).get("comparisons", [])
    return {
        f"champion_{row['metric']}": float(row["champion"])
        for row in rows
        if row.get("champion") is not None
    }


def evaluate_gate(ctx: GateContext) -> Evaluation:
    """Judge the candidate against the champion on the production sample (registry entry point).

    Args:
        ctx: The run's context: the production sample, the candidate, the champion and the
            ``gates.decay`` section.

    Returns:
        Checks (recency, thresholds, slices, champion), the candidate's metrics on the sample
        (and the champion's, prefixed ``champion_``) and the report details.

    Raises:
        GateInputError: No production sample, or one the models cannot be scored on.
    """
    policy: DecayPolicy = ctx.section
    data = ctx.data(role="production_data")
    checks: list[CheckResult] = []
    details: dict[str, Any] = {}
    if policy.sample is not None:
        check, details["sample"] = recency_check(policy.sample, data.frame, source=data.source)
        checks.append(check)
    loaded = ctx.model()
    # Always the model itself: a production log's prediction columns are production's (the
    # champion's) decisions, not the candidate's.
    candidate = encode_model(ctx, loaded, data)
    champion, champion_ref = (None, {})
    if policy.champion is not None:
        champion, champion_ref = champion_encoded(ctx, data, candidate)
    found, metrics, judged = evaluate(
        policy=policy,
        candidate=candidate,
        frame=data.frame,
        source=f"production sample {data.source}",
        champion=champion,
        champion_ref=champion_ref,
    )
    details.update(judged)
    details["model_uri"] = ctx.inputs.model_uri or ""
    details["production_data_uri"] = ctx.inputs.production_data_uri
    return Evaluation(
        checks=checks + found,
        metrics={**metrics, **_champion_metrics(judged)},
        details=details,
    )
