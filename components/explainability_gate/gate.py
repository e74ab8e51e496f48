"""The explainability gate's declaration in the gate registry (see shared/contracts/gates.py)."""

from quality_gates.components.explainability_gate.policy import ExplainabilityPolicy
from quality_gates.shared.contracts.gates import GateSpec

GATE = GateSpec(
    name="explainability",
    folder="explainability_gate",
    title="Explainability",
    description="SHAP attributions: leakage, dominance, expected directions, drift from champion",
    section=ExplainabilityPolicy,
    evaluate="quality_gates.components.explainability_gate.core:evaluate_gate",
    inputs=("model", "predictions", "data", "champion"),
    extra="explainability",
    requires=("shap>=0.46",),
    report_packages=("shap",),
    order=30,
    example={
        "sampling": {"explain_rows": 120, "background_rows": 40, "time_budget_s": 60},
        "max_share": {"max": 0.6},
    },
)
