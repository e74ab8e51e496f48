"""Policy section of the data contract gate: the contract itself, as reviewed YAML.

``quality-gates contract infer --data train.parquet`` writes this section from a table the user
trusts; they review it, loosen or tighten it, and commit it in their policy, so the policy digest
recorded with every verdict covers the contract too. Every rule has a severity: a broken feed
blocks, a drifting minor bound may only warn.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, model_validator

from quality_gates.shared.policy.base import GateSection, Severity, StrictModel

Kind = Literal["integer", "float", "boolean", "string", "datetime"]


class ColumnContract(StrictModel):
    """What one column must look like.

    Attributes:
        dtype: The kind of values: ``integer``, ``float`` (integers are accepted), ``boolean``,
            ``string`` or ``datetime``.
        required: The column must be present.
        max_missing_share: Largest share of rows without a value (0 = never missing).
        min: Smallest allowed value (numeric columns), before the tolerance.
        max: Largest allowed value, before the tolerance.
        tolerance: Share of ``max - min`` the range is widened by on each side (never below 0
            when ``min`` is not negative).
        max_out_of_range_share: Largest share of rows outside the widened range.
        domain: The allowed categories (string and boolean columns), compared as text.
        max_unseen_share: Largest share of rows in categories outside ``domain``.
        unique: Every value occurs once (a key).
        key: Rows are named by this column in violation examples.
        personal: The column holds personal data: its values are masked in every example.
        severity: ``block`` or ``warn``, for every rule of the column.
    """

    dtype: Kind
    required: bool = True
    max_missing_share: float = Field(default=0.0, ge=0.0, le=1.0)
    min: float | None = None
    max: float | None = None
    tolerance: float = Field(default=0.0, ge=0.0, le=10.0)
    max_out_of_range_share: float = Field(default=0.0, ge=0.0, le=1.0)
    domain: list[str] | None = None
    max_unseen_share: float = Field(default=0.0, ge=0.0, le=1.0)
    unique: bool = False
    key: bool = False
    personal: bool = False
    severity: Severity = "block"

    @model_validator(mode="after")
    def _coherent(self) -> ColumnContract:
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min {self.min} is above max {self.max}")
        if (self.min is not None or self.max is not None) and self.dtype not in (
            "integer",
            "float",
        ):
            raise ValueError(f"a {self.dtype} column has no numeric range; remove min/max")
        if self.domain is not None and self.dtype not in ("string", "boolean", "integer"):
            raise ValueError(f"a {self.dtype} column has no domain; remove domain")
        return self


class RowsContract(StrictModel):
    """Bounds of the row count.

    Attributes:
        min: Fewest rows a delivery may have.
        max: Most rows (None: no bound).
        severity: ``block`` or ``warn``.
    """

    min: int = Field(default=1, ge=0)
    max: int | None = Field(default=None, ge=1)
    severity: Severity = "block"


class ContractPolicy(GateSection):
    """Policy section ``gates.contract``.

    Attributes:
        columns: The contract of each column, by name.
        rows: Bounds of the row count.
        extra_columns: What a column the contract does not name does: ``allow``, ``warn`` or
            ``block``.
        examples: Example row keys shown per violated rule.
        rationale: Why the contract exists, shown on the scorecard.
    """

    rules_hint: ClassVar[str] = (
        "write one with `quality-gates contract infer --data <a table you trust>`"
    )

    columns: dict[str, ColumnContract] = Field(default_factory=dict)
    rows: RowsContract = Field(default_factory=RowsContract)
    extra_columns: Literal["allow", "warn", "block"] = "warn"
    examples: int = Field(default=5, ge=0, le=50)
    rationale: str | None = None

    @property
    def has_rules(self) -> bool:
        """A contract must name at least one column."""
        return bool(self.columns)

    @model_validator(mode="after")
    def _one_key(self) -> ContractPolicy:
        keys = [name for name, c in self.columns.items() if c.key]
        if len(keys) > 1:
            raise ValueError(f"name one key column, not {len(keys)}: {keys[:5]}")
        return self
