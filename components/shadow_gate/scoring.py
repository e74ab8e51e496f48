"""The candidate's decisions on the logged requests, and production's, as positive / negative.

The candidate scores the whole log once through the run template's session (one prediction per
model and table per process). A model that cannot score some rows (it raises, or returns NaN)
makes that call fail; the log is then scored in chunks of ``chunk_rows``, a failing chunk is
halved until its bad rows are isolated (within a budget of model calls), and the rows that
still fail are counted as the candidate's errors, never silently dropped. A problem of the log
itself (a feature column missing, empty, or mixing numbers and text) is an error of the gate.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from quality_gates.shared.contracts.errors import GateInputError
from quality_gates.shared.gates.context import GateContext
from quality_gates.shared.io.data import EvalData
from quality_gates.shared.io.models import LoadedModel, Predictions, model_input, predict

#: Model calls spent isolating failing rows beyond one per chunk; past it a failing chunk's rows
#: are all counted as errors (an upper bound, stated in the report).
BISECT_BUDGET = 200


@dataclass
class Scored:
    """The candidate's answer per request.

    Attributes:
        score: Positive-class probability (NaN where it failed), or None without probabilities.
        positive: Decision is positive.
        failed: The candidate could not score the row.
        chunked: Whether the whole-table call failed and chunks were scored.
        exact: Whether every failed row was isolated (False: failed counts are an upper bound).
    """

    score: np.ndarray | None
    positive: np.ndarray
    failed: np.ndarray
    chunked: bool = False
    exact: bool = True


def positive_index(classes: list[Any] | None, positive_label: Any) -> int:
    """Position of the positive class among the model's classes (default: the last one).

    Args:
        classes: The model's classes, or None when unknown.
        positive_label: ``data.positive_label`` of the policy, or None.

    Returns:
        The index (1 when the classes are unknown: the second probability column).

    Raises:
        GateInputError: The positive label is not a class of the model.
    """
    if not classes:
        return 1
    if positive_label is None:
        return len(classes) - 1
    shown = [str(c) for c in classes]
    if str(positive_label) not in shown:
        raise GateInputError(
            f"data.positive_label {positive_label!r} is not among the model's classes {shown}; "
            "fix the policy"
        )
    return shown.index(str(positive_label))


def feature_names(loaded: LoadedModel, frame: pd.DataFrame, default: list[str]) -> list[str]:
    """The log's columns the model takes; refuse a log that lacks or empties one.

    Args:
        loaded: The candidate.
        frame: The answered requests.
        default: The feature columns for a model that does not name its inputs.

    Returns:
        The feature columns.

    Raises:
        GateInputError: A feature column is missing from the log or holds no value at all.
    """
    names = list(loaded.feature_names or default)
    missing = [n for n in names if n not in frame.columns]
    if missing:
        shown = ", ".join(missing[:10]) + (
            f" (+{len(missing) - 10} more)" if len(missing) > 10 else ""
        )
        raise GateInputError(
            f"the request log lacks {len(missing)} of the {len(names)} feature columns model "
            f"{loaded.uri} takes: {shown}; log the model's inputs with each request"
        )
    empty = [n for n in names if not frame[n].notna().any()]
    if empty:
        raise GateInputError(
            f"feature column(s) {', '.join(empty[:10])} of the request log hold no value; the "
            "logger dropped them, so the candidate cannot be judged on them"
        )
    return names


def _mixed_column(frame: pd.DataFrame, names: list[str], source: str) -> None:
    """Refuse a feature column that mixes numbers and text (a broken export, not a request)."""
    for name in names:
        col = frame[name]
        if pd.api.types.is_numeric_dtype(col.dtype) or pd.api.types.is_bool_dtype(col.dtype):
            continue
        present = col.notna().to_numpy()
        text = present & pd.to_numeric(col, errors="coerce").isna().to_numpy()
        if text.any() and (present & ~text).any():
            raise GateInputError(
                f"column '{name}' of request log {source} mixes numbers and text ({int(text.sum())}"
                f" text value(s) in {len(col)} rows, first at row {int(np.argmax(text))}, "
                "0-based); fix the log's encoding of that column"
            )


def _answer(preds: Predictions, pos: int, threshold: float) -> tuple[np.ndarray | None, np.ndarray]:
    if preds.y_score is not None:
        proba = np.asarray(preds.y_score, dtype=float)
        score = proba[:, pos] if proba.ndim == 2 else proba.ravel()
        return score, score >= threshold
    classes = preds.classes
    target = classes[pos] if classes else 1
    return None, np.asarray(preds.y_pred).astype(str) == str(target)


def score_candidate(ctx: GateContext, loaded: LoadedModel, data: EvalData, *, pos: int) -> Scored:
    """Score every request once; on failure, score chunks and count the rows that fail.

    Args:
        ctx: The run's context (its session caches the whole-table prediction).
        loaded: The candidate.
        data: The answered requests with their feature columns.
        pos: Index of the positive class.

    Returns:
        The candidate's score and decision per request and the rows it could not score.

    Raises:
        GateInputError: A feature column mixes numbers and text (the log is broken).
    """
    threshold = ctx.section.decision_threshold
    try:
        preds = ctx.predictions(loaded, data)
    except GateInputError:
        _mixed_column(data.frame, data.features, data.source)
        return _in_chunks(loaded, data, pos=pos, threshold=threshold, rows=ctx.section.chunk_rows)
    score, positive = _answer(preds, pos, threshold)
    return Scored(score, positive, np.zeros(len(positive), dtype=bool))


def _in_chunks(
    loaded: LoadedModel, data: EvalData, *, pos: int, threshold: float, rows: int
) -> Scored:
    n = len(data.frame)
    score, positive = np.full(n, np.nan), np.zeros(n, dtype=bool)
    failed, has_score = np.zeros(n, dtype=bool), False
    pending = [(a, min(a + rows, n)) for a in range(0, n, rows)]
    budget, exact = len(pending) + BISECT_BUDGET, True
    while pending:
        a, b = pending.pop()
        budget -= 1
        part = dataclasses.replace(data, frame=data.frame.iloc[a:b])
        try:
            got, yes = _answer(predict(loaded, model_input(loaded, part)), pos, threshold)
        except GateInputError:
            if b - a > 1 and budget > 0:
                middle = (a + b) // 2
                pending += [(a, middle), (middle, b)]
            else:
                failed[a:b] = True
                exact = exact and b - a == 1
            continue
        positive[a:b] = yes
        if got is not None:
            score[a:b], has_score = got, True
    return Scored(score if has_score else None, positive, failed, chunked=True, exact=exact)


def production_positive(
    values: pd.Series, *, classes: list[Any] | None, pos: int, column: str, source: str
) -> np.ndarray:
    """Production's decisions as positive / negative, checked against the model's classes.

    Args:
        values: Production's decision per answered request.
        classes: The candidate's classes (production decides among the same), or None.
        pos: Index of the positive class.
        column: The decision column, for messages.
        source: The log, for messages.

    Returns:
        True where production decided positive.

    Raises:
        GateInputError: A decision is not one of the model's classes (counted, never quoted).
    """
    if pd.api.types.is_bool_dtype(values.dtype):
        return values.to_numpy(dtype=bool)
    known = [str(c) for c in classes] if classes else ["0", "1"]
    target = known[pos] if pos < len(known) else known[-1]
    as_number = pd.to_numeric(values, errors="coerce")
    integral = as_number.notna() & (as_number == as_number.round())
    # 1.0 in a CSV is the class 1: read integral numbers as integers before comparing as text.
    text = values.astype(str).where(
        ~integral, as_number.where(integral).astype("Int64").astype(str)
    )
    outside = ~text.isin(known).to_numpy()
    if outside.any():
        raise GateInputError(
            f"{int(outside.sum())} of {len(values)} production decisions in column '{column}' of "
            f"{source} are not among the model's classes {known} (first at row "
            f"{int(np.argmax(outside))}, 0-based); map them to the model's classes"
        )
    return (text == target).to_numpy()
