"""Building blocks shared by every policy section: strict models, severities, gate sections.

Each gate's section lives in its gate folder (``components/<gate>/policy.py``) as a
:class:`GateSection`; ``schema.py`` assembles the sections of every registered gate. Unknown keys
are rejected everywhere.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict

Severity = Literal["block", "warn"]


class StrictModel(BaseModel):
    """A frozen pydantic model that rejects unknown keys (a typo must not disable a rule).

    NaN and infinity are rejected in every number: ``min: .nan`` compares false with everything,
    so a rule would fail (or, negated, pass) without ever measuring anything.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class GateSection(StrictModel):
    """Base of every gate's policy section (``gates.<name>``).

    A section with nothing to check is an ``error``, never a pass (fail closed): a section
    overrides :attr:`has_rules` when some of its fields are optional rules, and names an example
    rule in :attr:`rules_hint` for the message.
    """

    rules_hint: ClassVar[str] = "add at least one rule"

    @property
    def has_rules(self) -> bool:
        """Whether the section configures anything to check."""
        return True


class MinMaxBound:
    """Mixin of a rule with exactly one of ``min`` (at least) or ``max`` (at most)."""

    min: float | None
    max: float | None

    @property
    def operator(self) -> str:
        """``>=`` for a ``min`` rule, ``<=`` for a ``max`` rule."""
        return ">=" if self.min is not None else "<="

    @property
    def threshold(self) -> float:
        """The bound of the rule."""
        return self.min if self.min is not None else self.max  # type: ignore[return-value]


JudgeOn = Literal["interval", "estimate"]
OnInconclusive = Literal["block", "warn"]
Multiplicity = Literal["holm", "bh", "none"]


class JudgedSection(GateSection):
    """A gate section whose rules are judged on intervals (see ``shared/gates/decisions.py``).

    Attributes:
        on_inconclusive: What a rule whose interval straddles its threshold does: ``block``
            (the model must be *shown* to meet the bar) or ``warn``. A rule may override it.
        multiplicity: Adjustment over a family of checks of one rule (slices, group pairs):
            ``holm`` (family-wise error), ``bh`` (Benjamini-Hochberg, false discovery rate) or
            ``none``.
    """

    on_inconclusive: OnInconclusive = "block"
    multiplicity: Multiplicity = "holm"

    def inconclusive_for(self, rule: object) -> str:
        """What an inconclusive result of ``rule`` does: its own override, else the section's."""
        return getattr(rule, "on_inconclusive", None) or self.on_inconclusive
