"""A classifier trained on True/False labels is scored like any other binary classifier."""

from __future__ import annotations

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, roc_auc_score

from quality_gates.shared.gates.runner import check

POLICY = """
data: {label: y}
gates:
  performance:
    n_resamples: 200
    rules: [{metric: accuracy, min: 0.6}, {metric: roc_auc, min: 0.6}]
"""


@pytest.mark.parametrize("suffix", ["csv", "parquet"])
def test_boolean_labels_give_sklearn_numbers(tmp_path, suffix):
    rng = np.random.default_rng(3)
    x = pd.DataFrame(rng.normal(size=(600, 3)), columns=["a", "b", "c"])
    y = (x["a"] + rng.normal(scale=0.7, size=600)) > 0
    model = LogisticRegression().fit(x, y)
    joblib.dump(model, tmp_path / "m.joblib")
    frame = x.assign(y=y)
    path = tmp_path / f"eval.{suffix}"
    frame.to_csv(path, index=False) if suffix == "csv" else frame.to_parquet(path)
    result = check(
        "performance", model_uri=str(tmp_path / "m.joblib"), data_uri=str(path), policy_text=POLICY
    )
    assert result.status.value == "passed", result.error or result.summary
    values = {c.name.split()[0]: c.value for c in result.checks}
    proba = model.predict_proba(x)[:, list(model.classes_).index(True)]
    assert values["accuracy"] == pytest.approx(accuracy_score(y, proba >= 0.5))
    assert values["roc_auc"] == pytest.approx(roc_auc_score(y, proba))
