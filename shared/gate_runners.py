"""One entry point per gate, by name, for the CLI and the Python API.

The CLI's ``check`` and the pipeline's components call the same ``run_<gate>_gate`` functions, so
a gate gives the same GateResult wherever it runs. Gate modules are imported lazily: a gate's
heavy dependencies (shap, fairlearn) load only when that gate runs.
"""

from __future__ import annotations

from dataclasses import dataclass

from quality_gates.shared.errors import GateInputError
from quality_gates.shared.results import GateResult

# The order gates appear on the scorecard and in the pipeline.
GATES = ("performance", "fairness", "explainability", "pii")


@dataclass(frozen=True)
class GateInputs:
    """Everything any gate may need; each gate reads the fields it uses.

    Attributes:
        model_uri: Candidate model URI.
        data_uri: Evaluation data URI.
        policy_text: Policy YAML text.
        policy_source: Where the policy came from, for messages.
        train_data_uri: Training data (scanned by the PII gate).
        sensitive_data_uri: Separate file of sensitive attributes (fairness gate).
        registered_model_name: Registered model holding the champion alias.
        champion_alias: Overrides the policy's champion alias.
        tracking_uri: MLflow tracking URI.
        label: Label column, overriding the policy.
    """

    model_uri: str | None
    data_uri: str
    policy_text: str
    policy_source: str = "<policy>"
    train_data_uri: str | None = None
    sensitive_data_uri: str | None = None
    registered_model_name: str | None = None
    champion_alias: str | None = None
    tracking_uri: str | None = None
    label: str | None = None


def _need_model(gate: str, inputs: GateInputs) -> str:
    if not inputs.model_uri:
        raise GateInputError(f"the {gate} gate needs a model; pass --model")
    return inputs.model_uri


def run_gate(gate: str, inputs: GateInputs) -> GateResult:
    """Run one gate by name.

    Args:
        gate: One of :data:`GATES`.
        inputs: The inputs; each gate uses what it needs.

    Returns:
        The gate's result (never raises for bad input: that is an ``error`` result).

    Raises:
        GateInputError: For an unknown gate name or a missing model argument.
    """
    if gate == "performance":
        from quality_gates.components.performance_gate.core import run_performance_gate

        return run_performance_gate(
            model_uri=inputs.model_uri or "",
            data_uri=inputs.data_uri,
            policy_text=inputs.policy_text,
            registered_model_name=inputs.registered_model_name,
            champion_alias=inputs.champion_alias,
            tracking_uri=inputs.tracking_uri,
            label=inputs.label,
            policy_source=inputs.policy_source,
        )
    if gate == "fairness":
        from quality_gates.components.fairness_gate.core import run_fairness_gate

        return run_fairness_gate(
            model_uri=_need_model(gate, inputs),
            data_uri=inputs.data_uri,
            policy_text=inputs.policy_text,
            sensitive_data_uri=inputs.sensitive_data_uri,
            tracking_uri=inputs.tracking_uri,
            label=inputs.label,
            policy_source=inputs.policy_source,
        )
    if gate == "explainability":
        from quality_gates.components.explainability_gate.core import run_explainability_gate

        return run_explainability_gate(
            model_uri=_need_model(gate, inputs),
            data_uri=inputs.data_uri,
            policy_text=inputs.policy_text,
            registered_model_name=inputs.registered_model_name,
            champion_alias=inputs.champion_alias,
            tracking_uri=inputs.tracking_uri,
            label=inputs.label,
            policy_source=inputs.policy_source,
        )
    if gate == "pii":
        from quality_gates.components.pii_scan_gate.core import run_pii_gate

        return run_pii_gate(
            data_uris=[u for u in (inputs.train_data_uri, inputs.data_uri) if u],
            policy_text=inputs.policy_text,
            model_uri=inputs.model_uri or None,
            tracking_uri=inputs.tracking_uri,
            policy_source=inputs.policy_source,
        )
    raise GateInputError(f"unknown gate '{gate}'; choose one of {', '.join(GATES)}")
