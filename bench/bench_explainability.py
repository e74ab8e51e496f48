"""Benchmark: the explainability gate on 100k rows x 30 features, three model families.

A 100-tree RandomForest (exact TreeExplainer, a few rows/s per core), a HistGradientBoosting
(exact TreeExplainer, thousands of rows/s) and a LogisticRegression (LinearExplainer), each a
scikit-learn Pipeline (impute + scale numeric, one-hot categorical) trained on 100k rows and
gated on another 100k. Reports the gate's wall time (loading included), the rows explained
within the budget, the rate, and the stability figure (top-k agreement of two disjoint halves).

    python bench/bench_explainability.py [--rows 100000] [--budget 60] [--explain-rows 1000]
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import shap
import sklearn
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from quality_gates.shared.gates.runner import check

N_NUMERIC = 26
CATEGORICAL = {"segment": 6, "channel": 4, "region": 8, "product": 5}


def make_data(n: int, seed: int) -> pd.DataFrame:
    """26 numeric + 4 categorical features; the label depends on 8 of them, non-linearly."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, N_NUMERIC))
    frame = pd.DataFrame(x, columns=[f"num_{i:02d}" for i in range(N_NUMERIC)])
    logit = 1.2 * x[:, 0] - 0.9 * x[:, 1] + 0.6 * x[:, 2] ** 2 + 0.5 * x[:, 3] * x[:, 4]
    logit += 0.4 * np.sin(2 * x[:, 5]) - 0.3 * x[:, 6]
    for name, k in CATEGORICAL.items():
        codes = rng.integers(0, k, n)
        frame[name] = np.array([f"{name}_{i}" for i in range(k)])[codes]
        if name == "segment":
            logit += np.linspace(-0.8, 0.8, k)[codes]
    frame.loc[rng.random(n) < 0.02, "num_07"] = np.nan
    frame["y"] = (rng.random(n) < 1 / (1 + np.exp(-(logit - 0.5)))).astype(np.int64)
    return frame


def pipeline(model) -> Pipeline:
    numeric = [f"num_{i:02d}" for i in range(N_NUMERIC)]
    prep = ColumnTransformer(
        [
            ("num", Pipeline([("imp", SimpleImputer()), ("sc", StandardScaler())]), numeric),
            ("cat", OneHotEncoder(handle_unknown="ignore", sparse_output=False), list(CATEGORICAL)),
        ]
    )
    return Pipeline([("prep", prep), ("model", model)])


POLICY = """
data: {{label: y}}
gates:
  explainability:
    sampling: {{explain_rows: {explain_rows}, background_rows: 100, time_budget_s: {budget}}}
    max_share: {{max: 0.6}}
    min_features: {{min_features: 3, share: 0.8}}
    stability: {{top_k: 5, min_agreement: 0.6}}
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--budget", type=float, default=60.0)
    parser.add_argument("--explain-rows", type=int, default=1000)
    parser.add_argument("--models", default="rf,hgb,lr")
    args = parser.parse_args()

    print(
        f"python {platform.python_version()}, shap {shap.__version__}, sklearn "
        f"{sklearn.__version__}, cores {len(os.sched_getaffinity(0))}"
    )
    train, test = make_data(args.rows, 0), make_data(args.rows, 1)
    features = [c for c in train.columns if c != "y"]
    models = {
        "rf": ("RandomForest, 100 trees", RandomForestClassifier(100, n_jobs=-1, random_state=0)),
        "hgb": ("HistGradientBoosting", HistGradientBoostingClassifier(random_state=0)),
        "lr": ("LogisticRegression", LogisticRegression(max_iter=2000)),
    }
    policy = POLICY.format(explain_rows=args.explain_rows, budget=args.budget)
    with tempfile.TemporaryDirectory() as tmp:
        data_path = Path(tmp) / "eval.parquet"
        test.to_parquet(data_path, index=False)
        print(
            "\n| model | gate wall time | budget | explained rows | explain rate (rows/s) "
            "| workers | stopped by | top-5 agreement | halves rank corr | status |"
        )
        print("|---|---|---|---|---|---|---|---|---|---|")
        for key in args.models.split(","):
            label, est = models[key]
            t = time.perf_counter()
            model = pipeline(est).fit(train[features], train["y"])
            fit_s = time.perf_counter() - t
            path = Path(tmp) / f"{key}.joblib"
            joblib.dump(model, path)
            t = time.perf_counter()
            r = check(
                "explainability", model_uri=str(path), data_uri=str(data_path), policy_text=policy
            )
            wall = time.perf_counter() - t
            s = r.details.get("sampling", {})
            m = r.metrics
            print(
                f"| {label} (fit {fit_s:.0f} s) | {wall:.1f} s | {args.budget:g} s "
                f"| {s.get('explained_rows')} | {m.get('explain_rows_per_second', 0):.3g} "
                f"| {s.get('workers')} | {s.get('stopped_by')} "
                f"| {m.get('stability_topk_agreement', float('nan')):.2f} "
                f"| {m.get('stability_rank_correlation', float('nan')):.3f} | {r.status.value} |"
            )
            if r.status.value == "error":
                print("   error:", r.error)


if __name__ == "__main__":
    main()
