"""The decay gate's declaration in the gate registry (see shared/contracts/gates.py)."""

from quality_gates.components.decay_gate.policy import DecayPolicy
from quality_gates.shared.contracts.gates import GateSpec

GATE = GateSpec(
    name="decay",
    folder="decay_gate",
    title="Decay",
    description="candidate vs champion on a recent labelled production sample, paired, with CIs",
    section=DecayPolicy,
    evaluate="quality_gates.components.decay_gate.core:evaluate_gate",
    inputs=("model", "predictions", "labels", "production_data", "champion"),
    order=15,
    # Evaluates without a registry; a real section adds champion: {rules: [{metric, margin}]}.
    example={"n_resamples": 200, "rules": [{"metric": "roc_auc", "min": 0.6}]},
)
