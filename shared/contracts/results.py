"""GateResult: the schema-versioned verdict every gate writes and every consumer reads.

A gate's result is the unit of evidence: the aggregator builds the scorecard from it, the CLI maps
it to an exit code, the registry tags a model version with it and an auditor replays it. It is
plain JSON (``schema_version`` 1) so that it can be read without this package.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from enum import Enum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from quality_gates.shared.contracts.errors import redact

SCHEMA_VERSION = 1


class Status(str, Enum):
    """Outcome of a check or a gate. Only ``passed`` and ``warned`` let a model through."""

    PASSED = "passed"
    WARNED = "warned"
    FAILED = "failed"
    ERROR = "error"
    SKIPPED = "skipped"

    @property
    def lets_through(self) -> bool:
        """Whether this status allows promotion."""
        return self in (Status.PASSED, Status.WARNED)


# Worst first: the gate status is the worst of its checks'.
_SEVERITY_ORDER = [Status.ERROR, Status.FAILED, Status.WARNED, Status.PASSED, Status.SKIPPED]


def worst(statuses: list[Status]) -> Status:
    """Return the most severe status of a list (``error`` > ``failed`` > ``warned`` > ``passed``).

    Args:
        statuses: Statuses of the checks of one gate.

    Returns:
        The worst status; ``skipped`` only when every status is ``skipped``. An empty list is an
        ``error``: a gate that checked nothing must not pass (fail closed).
    """
    if not statuses:
        return Status.ERROR
    return min(statuses, key=_SEVERITY_ORDER.index)


def utc_now() -> str:
    """Return the current UTC time as an ISO-8601 string with a ``Z`` suffix."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _finite_or_none(value: Any) -> Any:
    # JSON has no NaN/inf; an undefined metric (e.g. ROC AUC on one class) is kept as null.
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


class CheckResult(BaseModel):
    """One evaluated rule: the measured value, the threshold it was held to and the outcome."""

    model_config = ConfigDict(extra="forbid")

    name: str
    value: float | str | bool | None = None
    threshold: float | str | None = None
    operator: str | None = None
    status: Status
    severity: str = "block"
    ci_low: float | None = None
    ci_high: float | None = None
    rationale: str | None = None
    message: str = ""
    details: dict[str, Any] = Field(default_factory=dict)
    #: What the evidence showed, for rules judged on an interval: ``pass`` (shown to pass),
    #: ``fail`` (shown to fail) or ``inconclusive`` (the interval straddles the threshold); the
    #: status is what the policy makes of it. None for checks that are not such rules.
    decision: Literal["pass", "fail", "inconclusive"] | None = None
    #: The part of the gate the check belongs to (e.g. ``thresholds``, ``slices``,
    #: ``champion``), each shown with its own status on the scorecard.
    family: str | None = None

    @field_validator("message", mode="after")
    @classmethod
    def _no_credentials(cls, v: str) -> str:
        return redact(v)

    @field_validator("value", "threshold", "ci_low", "ci_high", mode="before")
    @classmethod
    def _no_nan(cls, v: Any) -> Any:
        if hasattr(v, "item"):  # numpy scalar
            v = v.item()
        return _finite_or_none(v)


class GateResult(BaseModel):
    """The verdict of one gate (JSON contract, ``schema_version`` 1; docs/ARCHITECTURE.md)."""

    model_config = ConfigDict(extra="forbid")

    schema_version: int = SCHEMA_VERSION
    gate: str
    status: Status
    summary: str
    checks: list[CheckResult] = Field(default_factory=list)
    metrics: dict[str, float] = Field(default_factory=dict)
    inputs: dict[str, str] = Field(default_factory=dict)
    started_at: str = Field(default_factory=utc_now)
    finished_at: str | None = None
    versions: dict[str, str] = Field(default_factory=dict)
    error: str | None = None
    details: dict[str, Any] = Field(default_factory=dict)

    @field_validator("summary", "error", mode="after")
    @classmethod
    def _no_credentials(cls, v: str | None) -> str | None:
        # Results go to scorecards, MLflow and the audit log, where a secret cannot be removed.
        return redact(v) if v else v

    @field_validator("inputs", mode="after")
    @classmethod
    def _no_credentials_in_inputs(cls, v: dict[str, str]) -> dict[str, str]:
        return {k: redact(x) for k, x in v.items()}

    @field_validator("metrics", mode="before")
    @classmethod
    def _finite_metrics(cls, v: Any) -> Any:
        # Metrics go to KFP Metrics and MLflow, which reject NaN; an undefined metric is dropped
        # here and stays visible as a null check value.
        if isinstance(v, dict):
            out = {}
            for k, x in v.items():
                x = x.item() if hasattr(x, "item") else x
                if isinstance(x, bool):
                    x = float(x)
                if isinstance(x, (int, float)) and math.isfinite(float(x)):
                    out[str(k)] = float(x)
            return out
        return v

    @property
    def passed(self) -> bool:
        """Whether the gate lets the model through (``passed`` or ``warned``)."""
        return self.status.lets_through

    def part_statuses(self) -> list[tuple[str, Status]]:
        """The worst status of each part of the gate (checks grouped by ``family``), in order.

        The performance gate's thresholds, slices and champion comparison each get their own
        status, so a scorecard separates "below the bar" from "worse than the model in use".
        """
        parts: dict[str, list[Status]] = {}
        for c in self.checks:
            if c.family:
                parts.setdefault(c.family, []).append(c.status)
        return [(name, worst(statuses)) for name, statuses in parts.items()]

    def to_json(self, *, indent: int | None = 2) -> str:
        """Serialise to JSON text."""
        return self.model_dump_json(indent=indent)

    @classmethod
    def from_json(cls, text: str) -> GateResult:
        """Parse JSON text produced by :meth:`to_json` (or by any schema-version-1 writer).

        Args:
            text: The JSON document.

        Returns:
            The parsed result.

        Raises:
            ValueError: If the document is not valid JSON, has another schema version or does not
                match the schema.
        """
        data = json.loads(text)
        if not isinstance(data, dict):
            raise ValueError("a GateResult must be a JSON object")
        version = data.get("schema_version")
        if version != SCHEMA_VERSION:
            raise ValueError(
                f"GateResult schema_version {version!r} is not supported "
                f"(expected {SCHEMA_VERSION})"
            )
        return cls.model_validate(data)


def finalize(
    *,
    gate: str,
    checks: list[CheckResult],
    metrics: dict[str, float] | None = None,
    inputs: dict[str, str] | None = None,
    started_at: str | None = None,
    versions: dict[str, str] | None = None,
    details: dict[str, Any] | None = None,
) -> GateResult:
    """Build a GateResult whose status and summary follow from its checks.

    Args:
        gate: Gate name, e.g. ``performance``.
        checks: Every evaluated check, passed ones included.
        metrics: Flat metric name to number.
        inputs: Digests of what was evaluated.
        started_at: Start time; defaults to now.
        versions: Package versions.
        details: Gate-specific extra data for reports (tables, curves).

    Returns:
        The result. No checks at all gives status ``error`` (fail closed).
    """
    status = worst([c.status for c in checks])
    counts = {s: sum(c.status == s for c in checks) for s in Status}
    if not checks:
        summary = f"{gate}: no rules were evaluated; configure at least one rule in the policy"
        error = summary
    else:
        bad = [c for c in checks if c.status in (Status.FAILED, Status.ERROR)]
        parts = [f"{counts[s]} {s.value}" for s in Status if counts[s]]
        summary = f"{gate} gate {status.value}: {len(checks)} checks ({', '.join(parts)})"
        if bad:
            summary += "; first problem: " + (bad[0].message or bad[0].name)
        error = next((c.message for c in checks if c.status == Status.ERROR), None)
    return GateResult(
        gate=gate,
        status=status,
        summary=summary,
        checks=checks,
        metrics=metrics or {},
        inputs=inputs or {},
        started_at=started_at or utc_now(),
        finished_at=utc_now(),
        versions=versions or {},
        error=error,
        details=details or {},
    )


def error_result(
    *,
    gate: str,
    message: str,
    inputs: dict[str, str] | None = None,
    started_at: str | None = None,
    versions: dict[str, str] | None = None,
) -> GateResult:
    """Build the result of a gate that could not evaluate.

    Args:
        gate: Gate name.
        message: One actionable line: what was wrong, where, what to do.
        inputs: Digests computed before the failure, if any.
        started_at: Start time; defaults to now.
        versions: Package versions.

    Returns:
        A GateResult with status ``error`` that blocks promotion.
    """
    return GateResult(
        gate=gate,
        status=Status.ERROR,
        summary=f"{gate} gate could not evaluate: {message}",
        inputs=inputs or {},
        started_at=started_at or utc_now(),
        finished_at=utc_now(),
        versions=versions or {},
        error=message,
    )


def not_configured_result(*, gate: str, inputs: dict[str, str] | None = None) -> GateResult:
    """Build the result of a gate whose policy section is absent.

    The pipeline runs every gate; the aggregator only requires the gates the policy configures,
    so an absent section is ``skipped`` and shown as such on the scorecard, never a pass.

    Args:
        gate: Gate name.
        inputs: Digests computed so far (the policy's at least).

    Returns:
        A GateResult with status ``skipped``.
    """
    now = utc_now()
    return GateResult(
        gate=gate,
        status=Status.SKIPPED,
        summary=f"gates.{gate} is not configured in the policy; the {gate} gate did not run",
        inputs=inputs or {},
        started_at=now,
        finished_at=now,
    )
