"""Write a GateResult to the KFP output artifacts that the UI renders.

Kept free of kfp imports (``shared/`` never imports kfp, so the CLI and the gates run without
it): the artifacts are passed in duck-typed, with ``.path``, ``.metadata`` and, for Metrics,
``log_metric``. :func:`run_component` is the whole body of a gate's KFP component.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from quality_gates.shared.contracts.results import GateResult
from quality_gates.shared.gates.context import GateInputs
from quality_gates.shared.gates.runner import run_gate


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


def write_outputs(
    result: GateResult,
    *,
    verdict: Any,
    metrics: Any,
    report: Any,
    report_md: Any,
    classification_metrics: Any = None,
) -> bool:
    """Write a gate's result to its KFP output artifacts.

    Args:
        result: The gate's result.
        verdict: ``Output[Artifact]``: the GateResult JSON, also in its metadata.
        metrics: ``Output[Metrics]``.
        report: ``Output[HTML]``.
        report_md: ``Output[Markdown]``.
        classification_metrics: ``Output[ClassificationMetrics]``, for gates that have one.

    Returns:
        True when the gate passed or warned (the component's ``bool`` output).
    """
    from quality_gates.shared.reports import render

    write_verdict(result, verdict)
    write_metrics(result, metrics)
    if classification_metrics is not None:
        write_classification_metrics(result, classification_metrics)
    write_text(render.gate_report_html(result), report)
    write_text(render.gate_report_markdown(result), report_md)
    return result.passed


def run_component(
    name: str, *, outputs: dict[str, Any], artifacts: dict[str, Any] | None = None, **inputs: Any
) -> bool:
    """Run a registered gate inside its KFP component and write every output.

    Empty strings (KFP's "not given" for a ``str`` parameter) become None. An input given twice
    (artifact and URI) or an empty artifact is an ``error`` verdict, like any bad input.

    Args:
        name: The gate's registered name.
        outputs: The component's output artifacts by :func:`write_outputs` keyword.
        artifacts: The component's ``Input[Model]`` / ``Input[Dataset]`` by parameter name
            (``model``, ``data``, ``train_data``, ``sensitive_data``); None when not wired.
        **inputs: :class:`~quality_gates.shared.gates.context.GateInputs` fields.

    Returns:
        True when the gate passed or warned.
    """
    from quality_gates.shared.contracts.errors import GateInputError
    from quality_gates.shared.contracts.results import error_result
    from quality_gates.shared.gates.artifacts import resolve_inputs

    try:
        merged = resolve_inputs(inputs, artifacts or {})
    except GateInputError as exc:
        return write_outputs(error_result(gate=name, message=str(exc)), **outputs)
    given = {k: (v if v != "" else None) for k, v in merged.items()}
    given["policy_text"] = merged.get("policy_text") or ""
    given["data_uri"] = merged.get("data_uri") or ""
    result = run_gate(name, GateInputs(**given))
    return write_outputs(result, **outputs)
