"""MLServer runtimes that also count the decisions they answer, for canary analysis.

Loaded *inside* MLServer (its own venv; the server gets this folder on ``PYTHONPATH`` and the
model settings name ``qg_counting_runtime.CountingSKLearnModel`` or ``CountingMLflowRuntime``).
They answer exactly as KServe's runtimes do and add two Prometheus counters, per model:
``qg_decision_rows_total`` (rows answered) and ``qg_positive_decisions_total`` (rows whose
prediction is the positive class, ``$QG_POSITIVE_LABEL``, default ``1``), counted over the whole
output array at once. A canary's positive-decision rate against stable's is then a
two-proportion comparison (``release.canary`` rule ``positive_rate``). On a cluster the same
runtime is a ServingRuntime whose ``implementation`` names these classes.
"""

from __future__ import annotations

import os

import numpy as np

try:  # inside MLServer's venv
    from mlserver_mlflow import MLflowRuntime
    from mlserver_sklearn import SKLearnModel
    from prometheus_client import Counter
except ImportError:  # imported by the project's own tooling (docs, layer checks)
    MLflowRuntime = SKLearnModel = object  # type: ignore[assignment,misc]
    Counter = None  # type: ignore[assignment,misc]

_COUNTERS: dict[str, object] = {}


def _counter(name: str, doc: str):
    if name not in _COUNTERS:
        _COUNTERS[name] = Counter(name, doc, ["model"])  # type: ignore[misc]
    return _COUNTERS[name]


def count_decisions(model: str, response) -> None:
    """Add a response's rows and positive decisions to the model's counters."""
    if not getattr(response, "outputs", None):
        return
    values = np.asarray(response.outputs[0].data, dtype=object).ravel()
    positive = os.environ.get("QG_POSITIVE_LABEL", "1")
    hits = int(np.count_nonzero(values.astype(str) == positive))
    _counter("qg_decision_rows", "rows answered").labels(model=model).inc(values.size)
    _counter("qg_positive_decisions", "rows predicted positive").labels(model=model).inc(hits)


class CountingSKLearnModel(SKLearnModel):  # type: ignore[misc,valid-type]
    """KServe's scikit-learn runtime, counting its decisions."""

    async def predict(self, payload):  # noqa: D102 - the runtime's own method
        response = await super().predict(payload)
        count_decisions(self.name, response)
        return response


class CountingMLflowRuntime(MLflowRuntime):  # type: ignore[misc,valid-type]
    """KServe's MLflow runtime, counting its decisions."""

    async def predict(self, payload):  # noqa: D102 - the runtime's own method
        response = await super().predict(payload)
        count_decisions(self.name, response)
        return response
