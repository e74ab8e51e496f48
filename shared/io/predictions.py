"""The one rule that names a model's task, used by every gate.

Every gate that scores a model asks :func:`infer_task` what it is looking at, so the performance
and fairness gates can never disagree about the same model and labels. The rule, in order:

1. A task the policy declares (``task: binary | multiclass | regression``) wins.
2. A classifier (its classes are known) is ``binary`` with at most two classes, else
   ``multiclass``.
3. Only a score column and no predictions: ``binary`` (positive-class probabilities).
4. Non-integral numbers among the predictions or the labels: ``regression``.
5. Numeric labels with more than :data:`MAX_CLASS_VALUES` distinct values: ``regression``.
6. Otherwise ``binary`` with at most two distinct labels, else ``multiclass``.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

Task = Literal["binary", "multiclass", "regression"]

#: More distinct numeric labels than this, all integral, are read as a regression target (a count,
#: a price in whole units), not as classes.
MAX_CLASS_VALUES = 20


def _non_integral(values: np.ndarray) -> bool:
    values = np.asarray(values)
    if not np.issubdtype(values.dtype, np.floating):
        return False
    finite = values[np.isfinite(values)]
    return bool(finite.size) and not bool(np.all(np.mod(finite, 1) == 0))


def infer_task(
    *,
    declared: str = "auto",
    y_true: np.ndarray,
    y_pred: np.ndarray | None,
    classes: list | None,
) -> Task:
    """Return the task of a model on its labels, by the module's one rule.

    Args:
        declared: The policy's ``task`` (``auto`` to infer).
        y_true: Labels as in the data.
        y_pred: The model's raw predictions, or None when only a score column is given.
        classes: The classifier's classes, or None when the model has none (or no model).

    Returns:
        ``binary``, ``multiclass`` or ``regression``.
    """
    if declared != "auto":
        return declared  # type: ignore[return-value]
    if classes is not None:
        return "binary" if len(classes) <= 2 else "multiclass"
    if y_pred is None:
        return "binary"
    if _non_integral(np.asarray(y_pred)) or _non_integral(np.asarray(y_true)):
        return "regression"
    y_true = np.asarray(y_true)
    n_values = len(np.unique(y_true))
    if np.issubdtype(y_true.dtype, np.number) and n_values > MAX_CLASS_VALUES:
        return "regression"
    return "binary" if n_values <= 2 else "multiclass"
