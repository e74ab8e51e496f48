"""The shadow gate's declaration in the gate registry (see shared/contracts/gates.py)."""

from quality_gates.components.shadow_gate.policy import ShadowPolicy
from quality_gates.shared.contracts.gates import GateSpec

GATE = GateSpec(
    name="shadow",
    folder="shadow_gate",
    title="Shadow",
    description="candidate vs production's decisions on logged production traffic: flip rate "
    "overall and per segment, agreement, score shift, rows it cannot score",
    section=ShadowPolicy,
    evaluate="quality_gates.components.shadow_gate.core:evaluate_gate",
    inputs=("model", "predictions", "request_log"),
    order=16,
    area="quality",
    # The demo's data has no production predictions: the example reads the observed outcome
    # as production's decision, so its flip rate is the candidate's error rate (~0.2).
    example={
        "columns": {"request_id": "applicant_id", "decision": "default", "segments": ["region"]},
        "max_flip_rate": {"max": 0.4},
        "segment_flip_rate": {"max": 0.5, "min_size": 50},
        "max_candidate_error_rate": {"max": 0.05},
    },
)
