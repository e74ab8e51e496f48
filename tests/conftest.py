"""Fixtures shared by every test tier: real sklearn models and data files on disk."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.datasets import make_classification, make_regression
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import make_pipeline


@dataclass
class Case:
    model_path: Path
    data_path: Path
    frame: pd.DataFrame
    model: object
    features: list[str]
    label: str


def write_policy(tmp_path: Path, text: str, name: str = "policy.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def policy_file(tmp_path):
    return lambda text, name="policy.yaml": write_policy(tmp_path, text, name)


def _binary(tmp_path: Path, *, n: int = 3000, seed: int = 0, weak: bool = False) -> Case:
    X, y = make_classification(
        n_samples=n,
        n_features=6,
        n_informative=4,
        n_redundant=0,
        weights=[0.7, 0.3],
        flip_y=0.05,
        random_state=seed,
    )
    features = [f"f{i}" for i in range(X.shape[1])]
    frame = pd.DataFrame(X, columns=features)
    frame["target"] = y
    # A segment column that is not a model feature: region B gets noisy labels below.
    frame["region"] = np.where(np.arange(n) % 3 == 0, "B", "A")
    half = n // 2
    train, test = frame.iloc[:half], frame.iloc[half:].reset_index(drop=True)
    if weak:
        # A deliberately weak but real sklearn model: it only looks at one feature.
        model = make_pipeline(
            ColumnTransformer([("one", "passthrough", features[-1:])]),
            LogisticRegression(max_iter=1000),
        ).fit(train[features], train["target"])
    else:
        model = LogisticRegression(max_iter=1000).fit(train[features], train["target"])
    suffix = "weak" if weak else "model"
    model_path = tmp_path / f"{suffix}.joblib"
    joblib.dump(model, model_path)
    data_path = tmp_path / "eval.csv"
    test.to_csv(data_path, index=False)
    return Case(model_path, data_path, test, model, features, "target")


@pytest.fixture
def binary_case(tmp_path) -> Case:
    return _binary(tmp_path)


@pytest.fixture
def multiclass_case(tmp_path) -> Case:
    X, y = make_classification(
        n_samples=1500,
        n_features=5,
        n_informative=4,
        n_redundant=0,
        n_classes=3,
        random_state=1,
    )
    features = [f"f{i}" for i in range(5)]
    frame = pd.DataFrame(X, columns=features)
    frame["species"] = np.array(["setosa", "versicolor", "virginica"])[y]
    train, test = frame.iloc[:750], frame.iloc[750:].reset_index(drop=True)
    model = LogisticRegression(max_iter=1000).fit(train[features], train["species"])
    joblib.dump(model, tmp_path / "mc.joblib")
    test.to_parquet(tmp_path / "mc.parquet", index=False)
    return Case(tmp_path / "mc.joblib", tmp_path / "mc.parquet", test, model, features, "species")


@pytest.fixture
def regression_case(tmp_path) -> Case:
    X, y = make_regression(n_samples=1200, n_features=4, noise=10.0, random_state=2)
    features = [f"x{i}" for i in range(4)]
    frame = pd.DataFrame(X, columns=features)
    frame["price"] = y + 500.0
    train, test = frame.iloc[:600], frame.iloc[600:].reset_index(drop=True)
    model = Ridge().fit(train[features], train["price"])
    joblib.dump(model, tmp_path / "reg.joblib")
    test.to_csv(tmp_path / "reg.csv", index=False)
    return Case(tmp_path / "reg.joblib", tmp_path / "reg.csv", test, model, features, "price")


@pytest.fixture
def make_binary(tmp_path):
    return lambda **kw: _binary(tmp_path, **kw)
