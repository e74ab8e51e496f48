"""What a gate's ``evaluate`` receives and returns.

A gate's evaluation is a pure function ``evaluate(ctx: GateContext) -> Evaluation``: it asks the
context for the data, the model, its predictions or the champion, and returns checks, metrics and
details. The context records the sha256 digest of everything it hands out, so every result names
exactly the bytes it judged, even when the gate fails half way.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from quality_gates.shared.contracts.errors import GateInputError
from quality_gates.shared.contracts.gates import GateSpec
from quality_gates.shared.contracts.results import CheckResult
from quality_gates.shared.gates.session import Session
from quality_gates.shared.io.data import EvalData
from quality_gates.shared.io.models import LoadedModel, Predictions
from quality_gates.shared.policy.schema import Policy


@dataclass(frozen=True)
class GateInputs:
    """Everything any gate may read; each gate reads what its declaration's ``inputs`` name.

    Attributes:
        data_uri: Evaluation data URI.
        policy_text: Policy YAML text.
        model_uri: Candidate model URI; empty when the gate runs on data alone.
        policy_source: Where the policy came from, for messages.
        train_data_uri: Training data (scanned by the PII gate).
        reference_data_uri: Reference data the drift gate compares the data with.
        production_data_uri: A recent labelled sample of production traffic (decay gate).
        request_log_uri: Logged production requests with production's answers (shadow gate):
            a Parquet/CSV table or KServe payload-logger events as JSON Lines.
        sensitive_data_uri: Separate file of sensitive attributes (fairness gate).
        registered_model_name: Registered model holding the champion alias.
        champion_alias: Overrides the policy's champion alias.
        tracking_uri: MLflow tracking URI.
        label: Label column, overriding the policy.
        artifact_paths: Files the pipeline produced, scanned as text (PII gate).
    """

    data_uri: str
    policy_text: str
    model_uri: str | None = None
    policy_source: str = "<policy>"
    train_data_uri: str | None = None
    reference_data_uri: str | None = None
    production_data_uri: str | None = None
    request_log_uri: str | None = None
    sensitive_data_uri: str | None = None
    registered_model_name: str | None = None
    champion_alias: str | None = None
    tracking_uri: str | None = None
    label: str | None = None
    artifact_paths: tuple[str, ...] = ()


@dataclass
class Evaluation:
    """What a gate's evaluation found; the run template turns it into a GateResult.

    Attributes:
        checks: Every check evaluated, passed ones included.
        metrics: Flat name → number, for KFP ``Metrics`` and MLflow.
        details: Evidence for the report (tables, images, the data and model judged).
    """

    checks: list[CheckResult]
    metrics: dict[str, float] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)


@dataclass
class GateContext:
    """The loaded inputs of one gate run, handed out on demand and digested when handed out.

    Attributes:
        spec: The gate's declaration.
        inputs: The URIs and options of the run.
        policy: The whole validated policy.
        section: The gate's own section of it (``policy.gates.<name>``, champion alias applied).
        session: The process's caches.
        digests: sha256 of everything loaded so far, by role (filled as the gate asks).
        clock: ``time.monotonic()`` when the run started, for time budgets.
    """

    spec: GateSpec
    inputs: GateInputs
    policy: Policy
    section: Any
    session: Session
    digests: dict[str, str]
    clock: float = field(default_factory=time.monotonic)

    @property
    def source(self) -> str:
        """Where the policy came from, for messages."""
        return self.inputs.policy_source

    def data(self, *, require_label: bool = True, role: str = "data") -> EvalData:
        """Return a table with the policy's column roles, its digest recorded under ``role``.

        Args:
            require_label: Refuse a table without the label column.
            role: ``data`` (the evaluation data) or ``production_data`` (the production
                sample); the table is read from the matching ``<role>_uri`` of the inputs.

        Returns:
            The table and its resolved label, feature and prediction columns.

        Raises:
            GateInputError: No URI was given for that role, or the columns do not resolve.
        """
        uri = getattr(self.inputs, f"{role}_uri")
        if not uri:
            flag = role.replace("_", "-")
            raise GateInputError(
                f"the {self.spec.name} gate needs --{flag} (in the pipeline: {role}_uri or the "
                f"{role} input); none was given"
            )
        data = self.session.eval_data(
            uri,
            self.policy.data,
            label=self.inputs.label,
            require_label=require_label,
        )
        self.digests[role] = data.digest
        return data

    def table(self, uri: str, *, role: str) -> pd.DataFrame:
        """Return another table the gate reads (digest recorded under ``role``)."""
        frame, digest = self.session.table(uri)
        self.digests[role] = digest
        return frame

    def model(self) -> LoadedModel | None:
        """Return the candidate model, or None when no model URI was given.

        Raises:
            GateInputError: When the gate needs a model and none was given.
        """
        uri = self.inputs.model_uri
        if not uri:
            if self.spec.model_optional:
                return None
            raise GateInputError(f"the {self.spec.name} gate needs a model; pass --model")
        loaded = self.session.model(uri, self.inputs.tracking_uri)
        self.digests["model"] = loaded.digest
        return loaded

    def predictions(self, model: LoadedModel, data: EvalData) -> Predictions:
        """Return a model's predictions on the data (computed once per process)."""
        return self.session.predictions(model, data)

    def champion(self) -> tuple[LoadedModel | None, dict[str, Any]]:
        """Return the model holding the section's champion alias, and its reference.

        Returns:
            ``(None, ref)`` when no version holds the alias yet; the digest is recorded as
            ``champion_model`` when one does.
        """
        spec = self.section.champion
        name, approval = spec.model_name, self.policy.approval
        if not name and approval is not None and spec.alias == approval.production_alias:
            # Production lives on its own registered model when the policy says so.
            registered = self.inputs.registered_model_name
            name = approval.production_model_for(registered) if registered else None
        loaded, ref = self.session.champion(
            model_name=name,
            registered_model_name=self.inputs.registered_model_name,
            alias=spec.alias,
            section=f"gates.{self.spec.name}",
            tracking_uri=self.inputs.tracking_uri,
        )
        if ref.get("digest"):
            self.digests["champion_model"] = ref["digest"]
        return loaded, ref
