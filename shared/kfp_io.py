"""Write a GateResult to the KFP output artifacts that the UI renders.

Kept free of kfp imports (DESIGN.md: ``shared/`` does not import kfp): the artifacts are passed in
duck-typed, with ``.path``, ``.metadata`` and, for Metrics, ``log_metric``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from quality_gates.shared.results import GateResult


def _write(path: str, text: str) -> None:
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text, encoding="utf-8")


def write_verdict(result: GateResult, verdict: Any) -> None:
    """Write the GateResult JSON to an Artifact and copy its headline into ``.metadata``.

    Args:
        result: The gate's result.
        verdict: A KFP ``Output[Artifact]``.
    """
    _write(verdict.path, result.to_json())
    # The result (less the bulky plot data in ``details``) in metadata makes it visible in the KFP
    # UI's artifact view and lets a downstream task read it where the file is not localised.
    headline = json.loads(result.model_dump_json(exclude={"details"}))
    verdict.metadata.update(headline)


def write_metrics(result: GateResult, metrics: Any) -> None:
    """Log every numeric metric of a result to a KFP ``Output[Metrics]``.

    Args:
        result: The gate's result.
        metrics: A KFP ``Output[Metrics]`` (kfp 2.17 keeps these in ``.metadata``, not a file).
    """
    for name, value in sorted(result.metrics.items()):
        metrics.log_metric(name, float(value))
    metrics.log_metric("gate_passed", 1.0 if result.passed else 0.0)


def write_classification_metrics(result: GateResult, artifact: Any) -> None:
    """Log the confusion matrix and ROC curve found in ``result.details``, when present.

    Args:
        result: The gate's result.
        artifact: A KFP ``Output[ClassificationMetrics]``.
    """
    cm = result.details.get("confusion_matrix")
    if cm and cm.get("labels") and cm.get("matrix"):
        artifact.log_confusion_matrix([str(x) for x in cm["labels"]], cm["matrix"])
    roc = result.details.get("roc_curve")
    if roc and roc.get("thresholds"):
        artifact.log_roc_curve(roc["fpr"], roc["tpr"], roc["thresholds"])


def write_text(text: str, artifact: Any) -> None:
    """Write a rendered report (HTML or Markdown) to a KFP artifact."""
    _write(artifact.path, text)
