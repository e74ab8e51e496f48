"""A model judged on two rows is not staged: too little evidence is an error, on a real MLflow."""

from __future__ import annotations

import uuid

import pandas as pd
import pytest
from mlflow import MlflowClient

from quality_gates.shared.cli.main import main
from quality_gates.shared.governance import audit

pytestmark = [pytest.mark.integration, pytest.mark.slow]

POLICY = """
data: {label: target, exclude: [region]}
gates:
  performance:
    n_resamples: 200
    rules:
      - {metric: roc_auc, min: 0.6, rationale: must rank}
"""


def test_two_row_evaluation_set_is_not_staged(mlflow_env, binary_case, tmp_path, capsys):
    frame = binary_case.frame
    two = pd.concat([frame[frame.target == 0].head(1), frame[frame.target == 1].head(1)])
    data = tmp_path / "two.csv"
    two.to_csv(data, index=False)
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY, encoding="utf-8")
    name = f"two-rows-{uuid.uuid4().hex[:8]}"
    code = main(
        [
            "run",
            "--model",
            str(binary_case.model_path),
            "--data",
            str(data),
            "--policy",
            str(policy),
            "--registered-model-name",
            name,
            "--tracking-uri",
            mlflow_env,
            "--output-dir",
            str(tmp_path / "out"),
        ]
    )
    captured = capsys.readouterr()
    assert code == 2, captured.out
    assert "not promoted" in captured.out
    assert "2 evaluation rows" in captured.err and "min_rows_per_class (10)" in captured.err
    assert not MlflowClient(mlflow_env).search_model_versions(f"name='{name}'")
    records = audit.read(model=name, tracking_uri=mlflow_env)
    aggregation = [r for r in records if r.get("event") == "aggregation"][-1]
    assert aggregation["details"]["decision"] == "error"
    assert aggregation["details"]["all_passed"] is False
