"""The fairness gate's declaration in the gate registry (see shared/contracts/gates.py)."""

from quality_gates.components.fairness_gate.policy import FairnessPolicy
from quality_gates.shared.contracts.gates import GateSpec

GATE = GateSpec(
    name="fairness",
    folder="fairness_gate",
    title="Fairness",
    description="group and intersectional disparities (fairlearn) with bootstrap CIs",
    section=FairnessPolicy,
    evaluate="quality_gates.components.fairness_gate.core:evaluate_gate",
    inputs=("model", "predictions", "labels", "data", "sensitive_data"),
    model_optional=True,
    extra="fairness",
    requires=("fairlearn>=0.11",),
    report_packages=("fairlearn",),
    order=20,
    area="fairness",
    example={
        "sensitive_features": ["sex"],
        "decision_threshold": 0.3,
        "n_resamples": 200,
        "rules": [{"metric": "demographic_parity_difference", "max": 0.15}],
    },
)
