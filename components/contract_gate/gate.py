"""The data contract gate's declaration in the gate registry (see shared/contracts/gates.py)."""

from quality_gates.components.contract_gate.policy import ContractPolicy
from quality_gates.shared.contracts.gates import GateSpec

GATE = GateSpec(
    name="contract",
    folder="contract_gate",
    title="Data contract",
    description="columns, kinds, missing shares, ranges, domains, keys and row count of the data",
    section=ContractPolicy,
    evaluate="quality_gates.components.contract_gate.core:evaluate_gate",
    inputs=("data",),
    model_optional=True,
    order=1,
    area="data",
    example={
        "columns": {
            "default": {"dtype": "integer", "domain": ["0", "1"]},
            "income": {"dtype": "float", "max_missing_share": 0.05, "min": 0.0},
        },
        "extra_columns": "allow",
    },
)
