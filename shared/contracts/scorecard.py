"""The scorecard: every gate's result, the overall decision and the lineage behind it.

The aggregator builds it; reports render it; the promotion step reads the digests in it to refuse
a model whose bytes changed since the gates ran; the registry stores it with the model version.
"""

from __future__ import annotations

import json
import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

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

    # Assignments are validated: a decision changed after the fact (evidence that could not be
    # logged) rewrites a summary that would still say the model goes through.
    model_config = ConfigDict(extra="forbid", validate_assignment=True)

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

    @model_validator(mode="after")
    def _summary_matches_decision(self) -> Scorecard:
        if _LETS_THROUGH_RE.search(self.summary) and not _goes_through(
            self.decision, self.all_passed
        ):
            gates = [r for r in self.results if r.status != Status.SKIPPED]
            # Set without validating again (this validator runs on every assignment).
            self.__dict__["summary"] = summarize(gates, self.decision, self.all_passed)
        return self

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


_LETS_THROUGH_RE = re.compile(r"\blets? (?:the model )?through\b", re.IGNORECASE)


def _goes_through(status: Status, all_passed: bool) -> bool:
    return all_passed and status.lets_through


def summarize(results: list[GateResult], status: Status, all_passed: bool) -> str:
    """Return the scorecard's one-sentence summary, worded by the decision.

    Only a scorecard whose decision lets the model through says so; any other names the gates
    that block promotion and their statuses.

    Args:
        results: The gates' results (skipped gates left out).
        status: The overall decision.
        all_passed: Whether promotion is allowed.

    Returns:
        The summary.
    """
    if _goes_through(status, all_passed):
        return f"all {len(results)} gates let the model through ({status.value})"
    bad = [r for r in results if not r.status.lets_through]
    if not bad:
        return f"promotion blocked: decision {status.value}, no gate result allows it"
    return f"{len(bad)} of {len(results)} gates block promotion ({status.value}): " + ", ".join(
        f"{r.gate} {r.status.value}" for r in bad
    )


def decide(results: list[GateResult]) -> tuple[Status, bool]:
    """Return the overall status and whether promotion is allowed.

    Args:
        results: One result per expected gate.

    Returns:
        ``(status, all_passed)``; no results at all is an ``error`` (fail closed).
    """
    status = worst([r.status for r in results])
    return status, bool(results) and all(r.status.lets_through for r in results)
