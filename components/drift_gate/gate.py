"""The drift gate's declaration in the gate registry (see shared/contracts/gates.py)."""

from quality_gates.components.drift_gate.policy import DriftPolicy
from quality_gates.shared.contracts.gates import GateSpec

GATE = GateSpec(
    name="drift",
    folder="drift_gate",
    title="Drift",
    description="per-column distance of the data from the reference, judged on intervals",
    section=DriftPolicy,
    evaluate="quality_gates.components.drift_gate.core:evaluate_gate",
    inputs=("data", "reference_data"),
    model_optional=True,
    order=5,
    area="data",
    example={
        "n_resamples": 200,
        "numeric": {"metric": "wasserstein_norm", "max": 0.05},
        "categorical": {"metric": "jensen_shannon", "max": 0.05},
    },
)
