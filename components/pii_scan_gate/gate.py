"""The PII scan gate's declaration in the gate registry (see shared/contracts/gates.py)."""

from quality_gates.components.pii_scan_gate.policy import PiiPolicy
from quality_gates.shared.contracts.gates import GateSpec

GATE = GateSpec(
    name="pii",
    folder="pii_scan_gate",
    title="PII scan",
    description="personal data in training/evaluation data, feature names and pipeline reports",
    section=PiiPolicy,
    evaluate="quality_gates.components.pii_scan_gate.core:evaluate_gate",
    inputs=("model", "data", "train_data", "artifacts"),
    model_optional=True,
    extra="pii",
    requires=("phonenumbers>=8.13",),
    report_packages=("phonenumbers",),
    order=40,
    area="privacy",
    example={"min_confidence": 0.5, "max_findings": 0},
)
