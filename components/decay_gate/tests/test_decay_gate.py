"""The decay gate's recency rule on production samples: age, span and bad event times."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import pytest

from quality_gates.components.decay_gate.core import recency_check
from quality_gates.components.decay_gate.policy import SampleRecency
from quality_gates.shared.contracts.errors import GateInputError
from quality_gates.shared.contracts.results import Status


@pytest.mark.parametrize(
    ("values", "fragment"),
    [
        (["2026-11-30T10:00:00Z", "not a time"], "1 value(s)"),
        ([1.7e9, 1.7e9], "holds numbers"),
        (["2099-01-01T00:00:00Z"], "after now"),
    ],
)
def test_bad_event_times_are_errors_that_never_quote_a_cell(values, fragment):
    frame = pd.DataFrame({"t": values})
    with pytest.raises(GateInputError, match="t") as info:
        recency_check(SampleRecency(time_column="t", max_age_days=30), frame, source="s.csv")
    assert fragment in str(info.value) and "not a time" not in str(info.value)


def test_recency_measures_age_and_span():
    now = datetime(2026, 12, 4, tzinfo=UTC)
    frame = pd.DataFrame({"t": ["2026-11-20T00:00:00", "2026-12-01T00:00:00+00:00"]})
    rule = SampleRecency(time_column="t", max_age_days=5, min_span_days=20)
    check, span = recency_check(rule, frame, source="s", now=now)
    assert span["age_days"] == 3.0 and span["span_days"] == 11.0
    assert check.status == Status.FAILED and "covers 11.0 days" in check.message
    check, _ = recency_check(rule.model_copy(update={"min_span_days": 10}), frame, source="s",
                             now=now)  # fmt: skip
    assert check.status == Status.PASSED
