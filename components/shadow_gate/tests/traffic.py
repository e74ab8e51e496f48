"""Logged traffic for the shadow gate's tests (a seed and a model the demo never uses).

Production is a logistic regression on the credit features and the region; the ``east_biased``
candidate is the same pipeline trained on labels that were pushed towards "default" for region
East only, so its decisions flip in that segment and hardly anywhere else.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import yaml
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

NUMERIC = ["income", "loan_amount", "credit_score", "debt_to_income", "num_late_payments"]
FEATURES = [*NUMERIC, "region"]
REGIONS = np.array(["North", "South", "East", "West", "Central"])


def credit_traffic(n: int, *, seed: int) -> pd.DataFrame:
    """Credit applications and their outcome, drawn here (not the demo's generator)."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "income": np.round(rng.lognormal(10.8, 0.5, n), -2),
            "loan_amount": np.round(rng.gamma(2.0, 6000.0, n), -1),
            "credit_score": np.clip(rng.normal(690, 60, n), 300, 850).round(),
            "debt_to_income": rng.beta(2.0, 5.0, n).round(3),
            "num_late_payments": rng.poisson(0.7, n),
            "region": rng.choice(REGIONS, n),
        }
    )
    z = (
        -1.2
        - 0.012 * (frame["credit_score"] - 690)
        + 3.0 * (frame["debt_to_income"] - 0.3)
        + 0.45 * frame["num_late_payments"]
        + 0.4 * np.log(frame["loan_amount"] / frame["income"] * 5)
    )
    frame["default"] = (rng.random(n) < 1.0 / (1.0 + np.exp(-z))).astype(int)
    return frame


def fit(frame: pd.DataFrame, labels: np.ndarray) -> Pipeline:
    """The production pipeline shape: scaled numbers, one-hot region, logistic regression."""
    steps = ColumnTransformer(
        [
            ("num", StandardScaler(), NUMERIC),
            ("cat", OneHotEncoder(handle_unknown="ignore"), ["region"]),
        ]
    )
    model = Pipeline([("prep", steps), ("clf", LogisticRegression(max_iter=1000))])
    return model.fit(frame[FEATURES], labels)


@dataclass
class Traffic:
    """Models and logged traffic on disk."""

    root: Path
    log: pd.DataFrame
    production: Pipeline
    candidate: Pipeline
    production_path: Path
    candidate_path: Path
    log_path: Path

    def policy(self, **section) -> str:
        """A policy with only ``gates.shadow`` (and the positive class)."""
        base = {"columns": {"request_id": "request_id", "score": "prod_score",
                            "segments": ["region"]}}  # fmt: skip
        base["columns"].update(section.pop("columns", {}))
        return yaml.safe_dump(
            {"data": {"positive_label": 1}, "gates": {"shadow": {**base, **section}}}
        )


def make_traffic(root: Path) -> Traffic:
    """Production trained on one sample; 6000 logged requests scored by it, written to root."""
    rng = np.random.default_rng(20261)
    data = credit_traffic(10_000, seed=9071)
    train, served = data.iloc[:4000], data.iloc[4000:].reset_index(drop=True)
    production = fit(train, train["default"].to_numpy())
    biased = train["default"].to_numpy().copy()
    east = (train["region"] == "East").to_numpy()
    biased[east & (rng.random(len(train)) < 0.6)] = 1
    candidate = fit(train, biased)
    log = served[FEATURES].copy()
    log.insert(0, "request_id", [f"req-{i:06d}" for i in range(len(log))])
    log["prod_score"] = production.predict_proba(served[FEATURES])[:, 1]
    log["latency_ms"] = rng.gamma(4.0, 5.0, len(log))
    paths = {n: root / f"{n}.joblib" for n in ("production", "candidate")}
    joblib.dump(production, paths["production"])
    joblib.dump(candidate, paths["candidate"])
    log.to_parquet(root / "log.parquet", index=False)
    return Traffic(root, log, production, candidate, paths["production"], paths["candidate"],
                   root / "log.parquet")  # fmt: skip
