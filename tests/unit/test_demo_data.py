"""The synthetic credit data and the demo's three models."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import Pipeline

from quality_gates.shared.demo.data import (
    AGE_BANDS,
    FEATURES,
    LABEL,
    NON_FEATURES,
    SENSITIVE,
    make_credit_data,
    train_models,
)

COLUMNS = [
    "applicant_id",
    "age",
    "income",
    "loan_amount",
    "loan_term_months",
    "credit_score",
    "debt_to_income",
    "employment_years",
    "num_open_accounts",
    "num_late_payments",
    "home_ownership",
    "purpose",
    "region",
    "sex",
    "age_band",
    "notes",
    "default",
]
INT_COLUMNS = [
    "age",
    "loan_term_months",
    "credit_score",
    "num_open_accounts",
    "num_late_payments",
    "default",
]
FLOAT_COLUMNS = ["income", "loan_amount", "debt_to_income", "employment_years"]
STRING_COLUMNS = ["applicant_id", "home_ownership", "purpose", "region", "sex", "age_band", "notes"]


@pytest.fixture(scope="module")
def train() -> pd.DataFrame:
    return make_credit_data(n_rows=20000, seed=0)


@pytest.fixture(scope="module")
def holdout() -> pd.DataFrame:
    return make_credit_data(n_rows=10000, seed=1)


@pytest.fixture(scope="module")
def models(train: pd.DataFrame) -> dict[str, Pipeline]:
    return train_models(train, seed=0)


@pytest.fixture(scope="module")
def aucs(models: dict[str, Pipeline], holdout: pd.DataFrame) -> dict[str, float]:
    X = holdout[FEATURES]
    return {
        name: roc_auc_score(holdout[LABEL], model.predict_proba(X)[:, 1])
        for name, model in models.items()
    }


def test_same_seed_same_table_other_seed_other_table() -> None:
    a = make_credit_data(n_rows=3000, seed=7)
    pd.testing.assert_frame_equal(a, make_credit_data(n_rows=3000, seed=7))
    b = make_credit_data(n_rows=3000, seed=8)
    assert not a[FEATURES].equals(b[FEATURES])


def test_columns_and_dtypes(train: pd.DataFrame) -> None:
    assert list(train.columns) == COLUMNS
    assert len(train) == 20000
    for col in INT_COLUMNS:
        assert train[col].dtype == np.int64, col
    for col in FLOAT_COLUMNS:
        assert train[col].dtype == np.float64, col
    for col in STRING_COLUMNS:
        assert pd.api.types.is_string_dtype(train[col].dtype), col
    assert set(FEATURES) | set(NON_FEATURES) | {LABEL} == set(COLUMNS)
    assert not set(SENSITIVE) & set(FEATURES)
    assert SENSITIVE == ["sex", "age_band"]


def test_values_are_plausible(train: pd.DataFrame) -> None:
    assert train["applicant_id"].is_unique
    assert train["applicant_id"].str.fullmatch(r"A\d{6}").all()
    assert set(train["sex"]) == {"F", "M"}
    assert set(train["home_ownership"]) == {"RENT", "OWN", "MORTGAGE"}
    assert train["purpose"].nunique() >= 5 and train["region"].nunique() >= 4
    assert set(train[LABEL]) == {0, 1}
    assert train["age"].between(18, 100).all()
    assert train["credit_score"].between(300, 850).all()
    assert (train["income"] > 0).all() and (train["loan_amount"] > 0).all()
    # Skewed income: the mean well above the median, as with a lognormal.
    assert train["income"].mean() > 1.05 * train["income"].median()
    assert train["income"].skew() > 1.0
    # A few missing employment_years, nothing else missing.
    missing = train["employment_years"].isna().mean()
    assert 0.005 < missing < 0.1
    assert train.drop(columns="employment_years").notna().all().all()


def test_age_band_is_derived_from_age(train: pd.DataFrame) -> None:
    expected = pd.cut(train["age"], [0, 25, 40, 60, 200], labels=AGE_BANDS).astype(str)
    assert (train["age_band"] == expected).all()


def test_notes_hold_no_personal_data_by_default(train: pd.DataFrame) -> None:
    notes = train["notes"]
    assert notes.str.len().gt(10).all()
    assert not notes.str.contains(r"@|\d{3}-\d{4}", regex=True).any()


def test_pii_rate_adds_contacts_without_changing_other_columns() -> None:
    plain = make_credit_data(n_rows=4000, seed=2)
    pii = make_credit_data(n_rows=4000, seed=2, pii_rate=0.1)
    pd.testing.assert_frame_equal(plain.drop(columns="notes"), pii.drop(columns="notes"))
    with_email = pii["notes"].str.contains(r"[a-z]+\.[a-z]+@example\.com", regex=True)
    assert 0.07 < with_email.mean() < 0.13
    assert pii.loc[with_email, "notes"].str.contains(r"555-01\d\d", regex=True).all()
    assert (pii.loc[~with_email, "notes"] == plain.loc[~with_email, "notes"]).all()


def test_label_rate_in_range(train: pd.DataFrame) -> None:
    assert 0.15 <= train[LABEL].mean() <= 0.25


def test_models_are_pipelines_over_the_features(
    models: dict[str, Pipeline], holdout: pd.DataFrame
) -> None:
    assert set(models) == {"champion", "candidate", "weak"}
    for name, model in models.items():
        assert isinstance(model, Pipeline), name
        assert list(model.feature_names_in_) == FEATURES, name
        proba = model.predict_proba(holdout[FEATURES])
        assert proba.shape == (len(holdout), 2)
        # Missing employment_years is imputed inside the pipeline.
        assert np.isfinite(proba).all()


def test_champion_auc_in_range(aucs: dict[str, float]) -> None:
    assert 0.75 <= aucs["champion"] <= 0.85, aucs


def test_candidate_matches_or_beats_champion(aucs: dict[str, float]) -> None:
    assert aucs["candidate"] >= aucs["champion"] - 0.01, aucs


def test_weak_is_clearly_worse(aucs: dict[str, float]) -> None:
    assert aucs["weak"] <= aucs["champion"] - 0.05, aucs
    assert aucs["weak"] > 0.5, aucs  # poor, but a model, not noise


def test_training_is_deterministic(
    train: pd.DataFrame, models: dict[str, Pipeline], holdout: pd.DataFrame
) -> None:
    again = train_models(train, seed=0)
    X = holdout[FEATURES].iloc[:500]
    for name, model in models.items():
        np.testing.assert_array_equal(model.predict_proba(X), again[name].predict_proba(X))


def _sex_gap(df: pd.DataFrame) -> float:
    rates = df.groupby("sex")[LABEL].mean()
    return float(rates["F"] - rates["M"])


def test_bias_raises_the_default_rate_gap_between_sexes() -> None:
    fair = make_credit_data(n_rows=20000, seed=3)
    biased = make_credit_data(n_rows=20000, seed=3, bias=1.0)
    assert abs(_sex_gap(fair)) < 0.03
    assert _sex_gap(biased) > _sex_gap(fair) + 0.08
    # Only the label moves: the features are the same applicants.
    pd.testing.assert_frame_equal(fair[FEATURES], biased[FEATURES])


def test_models_can_be_trained_on_a_sensitive_attribute() -> None:
    df = make_credit_data(n_rows=3000, seed=4, bias=1.5)
    models = train_models(df, features=[*FEATURES, "sex"])
    assert "sex" in models["champion"].feature_names_in_


@pytest.mark.parametrize("kwargs", [{"n_rows": 0}, {"pii_rate": 1.5}])
def test_bad_arguments(kwargs: dict) -> None:
    with pytest.raises(ValueError, match=re.escape(next(iter(kwargs)))):
        make_credit_data(**kwargs)
