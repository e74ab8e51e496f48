"""Policy section of the PII scan gate (``gates.pii``)."""

from __future__ import annotations

from typing import Literal, get_args

from pydantic import Field, field_validator, model_validator

from quality_gates.shared.policy.base import GateSection, Severity, StrictModel

PiiEntity = Literal[
    "email",
    "phone",
    "ssn",
    "credit_card",
    "iban",
    "ipv4",
    "ipv6",
    "date_of_birth",
    "person_name",
    "address",
]
# The order is the entity codes of the detectors (pii_scan_gate.context.ENTITIES).
ALL_ENTITIES: tuple[str, ...] = get_args(PiiEntity)


class PiiAllow(StrictModel):
    """An exception: findings in ``column`` of these entity types are allowed, for a reason.

    Attributes:
        column: Column name (in the training and the evaluation data).
        entities: Entity types allowed there; empty means every type (e.g. a hashed id column).
        rationale: Why this is acceptable; required, shown in the report next to what it hid.
    """

    column: str = Field(min_length=1)
    entities: list[PiiEntity] = Field(default_factory=list)
    rationale: str = Field(min_length=1)


class PiiPolicy(GateSection):
    """Policy section of the PII scan gate.

    Attributes:
        entities: Entity types to detect; every type by default. An empty list is an error
            (a scan for nothing would pass everything).
        min_confidence: Findings below this confidence are reported but do not count.
        max_findings: Cells with counted findings tolerated per column; more fails the column.
        severity: ``block`` (fail) or ``warn`` for data findings.
        artifacts_severity: Same for findings in the pipeline's own artifacts and the model's
            feature names (no tolerance: one finding is one too many).
        allow: Per-column exceptions with a rationale.
        phone_regions: Regions whose national phone formats (trunk prefix 0, e.g. GB ``020 ...``)
            are recognised; international (+CC) and North American formats always are.
        sample_rows: Rows scanned per table at most (a seeded random sample beyond); 0 scans all.
        seed: Seed of the sample.
        scan_artifacts: Scan the artifacts given to the gate (reports, verdicts).
        scan_model: Scan the model's feature names (signature).
        rationale: Why the section exists, shown on the scorecard.
    """

    entities: list[PiiEntity] = Field(default_factory=lambda: list(ALL_ENTITIES))
    min_confidence: float = Field(default=0.5, ge=0.0, le=1.0)
    max_findings: int = Field(default=0, ge=0)
    severity: Severity = "block"
    artifacts_severity: Severity = "block"
    allow: list[PiiAllow] = Field(default_factory=list)
    phone_regions: list[str] = Field(default_factory=lambda: ["US", "GB", "DE", "FR"])
    sample_rows: int = Field(default=1_000_000, ge=0)
    seed: int = 0
    scan_artifacts: bool = True
    scan_model: bool = True
    rationale: str | None = None

    @field_validator("phone_regions")
    @classmethod
    def _regions(cls, value: list[str]) -> list[str]:
        # Shape only: every gate parses the whole policy, and only the PII image has the
        # numbering plans (phonenumbers); the gate rejects unknown regions when it runs.
        bad = [r for r in value if len(r) != 2 or not r.isalpha()]
        if bad:
            raise ValueError(f"region codes {bad} are not ISO 3166 alpha-2 codes such as GB, DE")
        return [r.upper() for r in value]

    @model_validator(mode="after")
    def _something_to_scan(self) -> PiiPolicy:
        if not self.entities:
            raise ValueError("'entities' is empty: a scan for no entity type passes everything")
        return self
