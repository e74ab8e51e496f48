"""The scorecard: every gate's result, the overall decision and the lineage behind it.

The aggregator builds it; reports render it; the promotion step reads the digests in it to refuse
a model whose bytes changed since the gates ran; the registry stores it with the model version.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from quality_gates.shared.contracts.errors import redact
from quality_gates.shared.contracts.results import (
    SCHEMA_VERSION,
    GateResult,
    Status,
    utc_now,
    worst,
)


class Scorecard(BaseModel):
    """The aggregated outcome of one evaluation (JSON, ``schema_version`` 1).

    Attributes:
        decision: ``passed`` when every expected gate passed or warned, else the worst status.
        all_passed: True only when the model may be promoted.
        expected_gates: Gates the pipeline ran; a missing one counts as ``error``.
        results: One GateResult per expected gate (synthesised ``error`` results for missing
            or malformed inputs).
        model_uri: The candidate as given.
        model_digest: sha256 of the model bytes every gate saw (they must agree).
        data_digest: sha256 of the evaluation data.
        policy_digest: sha256 of the policy text.
        lineage: Git commit, package versions, pipeline run id and other provenance.
        evaluation_run_id: MLflow run holding this evidence, when one was logged.
        waivers: Every waiver of the policy with its state (used, unused, expired).
    """

    model_config = ConfigDict(extra="forbid")

    schema_version: int = SCHEMA_VERSION
    decision: Status
    all_passed: bool
    summary: str
    expected_gates: list[str]
    results: list[GateResult]
    model_uri: str | None = None
    model_digest: str | None = None
    data_digest: str | None = None
    policy_digest: str | None = None
    registered_model_name: str | None = None
    lineage: dict[str, Any] = Field(default_factory=dict)
    evaluation_run_id: str | None = None
    waivers: list[dict[str, Any]] = Field(default_factory=list)
    created_at: str = Field(default_factory=utc_now)

    @field_validator("summary", "model_uri", mode="after")
    @classmethod
    def _no_credentials(cls, v: str | None) -> str | None:
        return redact(v) if v else v

    def to_json(self, *, indent: int | None = 2) -> str:
        """Serialise to JSON text."""
        return self.model_dump_json(indent=indent)

    @classmethod
    def from_json(cls, text: str) -> Scorecard:
        """Parse JSON text produced by :meth:`to_json`."""
        data = json.loads(text)
        if not isinstance(data, dict) or data.get("schema_version") != SCHEMA_VERSION:
            raise ValueError("not a schema_version 1 scorecard")
        return cls.model_validate(data)

    def failing_checks(self) -> list[tuple[str, str, str]]:
        """Return ``(gate, check, message)`` for every check or gate that blocks promotion."""
        out = []
        for r in self.results:
            if r.status == Status.ERROR and not any(c.status == Status.ERROR for c in r.checks):
                out.append((r.gate, "(gate)", r.error or r.summary))
            for c in r.checks:
                if c.status in (Status.FAILED, Status.ERROR):
                    out.append((r.gate, c.name, c.message))
        return out


def decide(results: list[GateResult]) -> tuple[Status, bool]:
    """Return the overall status and whether promotion is allowed.

    Args:
        results: One result per expected gate.

    Returns:
        ``(status, all_passed)``; no results at all is an ``error`` (fail closed).
    """
    status = worst([r.status for r in results])
    return status, bool(results) and all(r.status.lets_through for r in results)
