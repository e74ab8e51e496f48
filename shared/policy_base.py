"""Building blocks shared by every policy section: strict models and severities.

Each gate's section lives in its own module (``policy_<gate>.py``) built on :class:`StrictModel`,
and ``policy.py`` assembles them; unknown keys are rejected everywhere.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

Severity = Literal["block", "warn"]


class StrictModel(BaseModel):
    """A frozen pydantic model that rejects unknown keys (a typo must not disable a rule).

    NaN and infinity are rejected in every number: ``min: .nan`` compares false with everything,
    so a rule would fail (or, negated, pass) without ever measuring anything.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)
