"""The performance gate's declaration in the gate registry (see shared/contracts/gates.py)."""

from quality_gates.components.performance_gate.policy import PerformancePolicy
from quality_gates.shared.contracts.gates import GateSpec

GATE = GateSpec(
    name="performance",
    folder="performance_gate",
    title="Performance",
    description="metric thresholds with CIs, per-slice thresholds, non-inferiority to the champion",
    section=PerformancePolicy,
    evaluate="quality_gates.components.performance_gate.core:evaluate_gate",
    inputs=("model", "predictions", "labels", "data", "champion"),
    model_optional=True,
    order=10,
    example={"n_resamples": 200, "rules": [{"metric": "roc_auc", "min": 0.6}]},
)
