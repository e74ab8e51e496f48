"""The shadow gate's own behaviour (the contract suite in tests/contract covers bad input)."""

import pandas as pd
import yaml

from quality_gates.shared.contracts.results import Status
from quality_gates.shared.gates.runner import check


def _run(tmp_path, frame, **section):
    path = tmp_path / "data.csv"
    frame.to_csv(path, index=False)
    policy = yaml.safe_dump({"gates": {"shadow": section}})
    return check("shadow", data_uri=str(path), policy_text=policy)


def test_a_column_over_the_limit_fails_and_one_under_it_passes(tmp_path):
    frame = pd.DataFrame({"a": [1.0, None, None, 4.0], "b": [1, 2, 3, 4]})
    failed = _run(tmp_path, frame, max_missing_share=0.25)
    assert failed.status == Status.FAILED
    assert failed.checks[0].value == 0.5 and "column a" in failed.checks[0].message
    assert _run(tmp_path, frame, max_missing_share=0.5).status == Status.PASSED
    warned = _run(tmp_path, frame, max_missing_share=0.25, severity="warn")
    assert warned.status == Status.WARNED and warned.passed


def test_unknown_columns_are_an_error(tmp_path):
    frame = pd.DataFrame({"a": [1, 2]})
    result = _run(tmp_path, frame, max_missing_share=0.1, columns=["nope"])
    assert result.status == Status.ERROR and "nope" in result.error
