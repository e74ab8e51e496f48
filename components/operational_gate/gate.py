"""The operational gate's declaration in the gate registry (see shared/contracts/gates.py)."""

from quality_gates.components.operational_gate.policy import OperationalPolicy
from quality_gates.shared.contracts.gates import GateSpec

GATE = GateSpec(
    name="operational",
    folder="operational_gate",
    title="Operational",
    description="latency, size, memory and load time as KServe serves the model (MLServer), "
    "absolute and relative to the champion",
    section=OperationalPolicy,
    evaluate="quality_gates.components.operational_gate.core:evaluate_gate",
    inputs=("model", "predictions", "data", "champion"),
    extra="operational",
    order=60,
    area="operations",
    # Small budget: the contract tests and the demo run it. A real section adds
    # champion: {rules: [{metric: p95_ms, max_ratio: 1.2}]}.
    example={
        "measurement": {
            "warmup_requests": 5,
            "rounds": 3,
            "requests_per_round": 10,
            "batch_requests_per_round": 2,
        },
        "rules": [
            {"metric": "p95_ms", "max": 1000, "judge_on": "estimate"},
            {"metric": "size_mb", "max": 200},
        ],
    },
)
