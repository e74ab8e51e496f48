"""Synthetic credit-risk data and three reference models, for the demo and the tests.

The table looks like a consumer-loan book: an applicant id, numeric and categorical features, two
sensitive attributes that are not model inputs, loan-officer free text, and a binary ``default``
label. The label comes from a logistic model of the features (with non-linear terms that a
boosted model can find and a linear one cannot) plus unobserved risk, so a good model reaches a
ROC AUC of about 0.8, not 1.0. Everything is drawn with numpy from one seeded generator: the same
seed gives the same table on every machine.

``bias > 0`` adds a penalty for ``sex == "F"`` to the label's log-odds that no feature explains:
recorded defaults then depend on sex beyond the legitimate signal, which is what a fairness gate
has to catch. ``pii_rate > 0`` puts fictitious e-mail addresses and phone numbers into the notes of
that fraction of rows, for the PII scan.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

NUMERIC_FEATURES: list[str] = [
    "age",
    "income",
    "loan_amount",
    "loan_term_months",
    "credit_score",
    "debt_to_income",
    "employment_years",
    "num_open_accounts",
    "num_late_payments",
]
CATEGORICAL_FEATURES: list[str] = ["home_ownership", "purpose", "region"]
FEATURES: list[str] = NUMERIC_FEATURES + CATEGORICAL_FEATURES
SENSITIVE: list[str] = ["sex", "age_band"]
LABEL = "default"
ID_COLUMN = "applicant_id"
TEXT_COLUMN = "notes"
# Columns that are never model inputs: what a policy's data.exclude lists for this table.
NON_FEATURES: list[str] = [ID_COLUMN, *SENSITIVE, TEXT_COLUMN]

# The weak model sees only these: almost no signal, so its AUC is far below the champion's.
WEAK_FEATURES: list[str] = ["loan_term_months", "num_late_payments"]

AGE_BANDS = ["18-25", "26-40", "41-60", "60+"]
_HOME = np.array(["RENT", "MORTGAGE", "OWN"])
_PURPOSE = np.array(
    [
        "debt_consolidation",
        "credit_card",
        "home_improvement",
        "car",
        "medical",
        "small_business",
        "education",
    ]
)
_PURPOSE_P = [0.34, 0.2, 0.12, 0.12, 0.08, 0.07, 0.07]
# Log-odds added to default per purpose, in _PURPOSE order.
_PURPOSE_RISK = np.array([0.1, 0.15, -0.2, -0.25, 0.3, 0.55, 0.2])
_REGION = np.array(["North", "South", "East", "West", "Central"])
_TERMS = np.array([12, 24, 36, 48, 60])
_TERMS_P = [0.1, 0.2, 0.35, 0.15, 0.2]
_NOTES_A = np.array(
    [
        "Applicant provided recent pay stubs.",
        "Documents verified at branch.",
        "Application submitted online.",
        "Referred by an existing customer.",
        "Requested a lower monthly payment.",
        "Bank statements for three months attached.",
        "Prefers contact by email.",
        "Repeat customer, previous loan repaid.",
    ]
)
_NOTES_B = np.array(
    [
        "Employment verified by phone.",
        "Address matches bureau report.",
        "Asked about early repayment options.",
        "Follow-up scheduled for document check.",
        "No further comments.",
        "",
        "",
    ]
)
_FIRST = np.array(["alex", "sam", "maria", "john", "li", "fatima", "jan", "olga"])
_LAST = np.array(["smith", "garcia", "chen", "novak", "okafor", "jensen", "rossi", "khan"])


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def make_credit_data(
    *, n_rows: int = 20000, seed: int = 0, bias: float = 0.0, pii_rate: float = 0.0
) -> pd.DataFrame:
    """Generate a synthetic consumer-credit table with a binary ``default`` label.

    Args:
        n_rows: Number of applicants.
        seed: Seed of the numpy generator; the same seed gives the same table.
        bias: Log-odds added to ``default`` for ``sex == "F"`` beyond what the features explain
            (0 = labels depend on the features only).
        pii_rate: Fraction of rows whose ``notes`` mention a fictitious e-mail address and phone
            number (0 = no personal data).

    Returns:
        One row per applicant: ``applicant_id``, :data:`FEATURES`, :data:`SENSITIVE`,
        ``notes`` and ``default`` (int 0/1, about 15-25 % ones).

    Raises:
        ValueError: If ``n_rows`` < 1 or ``pii_rate`` is outside [0, 1].

    """
    if n_rows < 1:
        raise ValueError(f"n_rows must be at least 1, got {n_rows}")
    if not 0.0 <= pii_rate <= 1.0:
        raise ValueError(f"pii_rate must be in [0, 1], got {pii_rate}")
    rng = np.random.default_rng(seed)
    n = n_rows
    # One generator through every stage, in a fixed order: each stage's draws follow the
    # previous stage's, so the table for a given seed never changes.
    c = _draw_applicants(rng, n)
    c.update(_draw_credit(rng, n, c))
    default = _draw_default(rng, n, c, bias)

    employment_years = np.where(rng.random(n) < 0.03, np.nan, c["emp_true"])
    notes = np.char.strip(
        np.char.add(
            np.char.add(_NOTES_A[rng.integers(0, len(_NOTES_A), n)], " "),
            _NOTES_B[rng.integers(0, len(_NOTES_B), n)],
        )
    )
    if pii_rate > 0:
        # Drawn last so that pii_rate does not change any other column for a given seed.
        notes = _add_pii(notes, rng, pii_rate)
    width = max(6, len(str(n - 1)))
    ids = np.char.add("A", np.char.zfill(np.arange(n).astype(str), width))

    return pd.DataFrame(
        {
            ID_COLUMN: ids,
            "age": c["age"],
            "income": c["income"],
            "loan_amount": c["loan_amount"],
            "loan_term_months": c["term"].astype(np.int64),
            "credit_score": c["credit_score"],
            "debt_to_income": c["dti"],
            "employment_years": employment_years,
            "num_open_accounts": c["accounts"],
            "num_late_payments": c["late"],
            "home_ownership": c["home"],
            "purpose": c["purpose"],
            "region": c["region"],
            "sex": c["sex"],
            "age_band": c["age_band"],
            TEXT_COLUMN: notes,
            LABEL: default,
        }
    )


def _draw_applicants(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    """Draw who applies and for what: demographics, income, housing, purpose and the loan."""
    sex = np.where(rng.random(n) < 0.5, "F", "M")
    female = sex == "F"
    age = np.clip(np.rint(18 + rng.gamma(3.0, 7.0, n)), 18, 85).astype(np.int64)
    age_band = np.select([age <= 25, age <= 40, age <= 60], AGE_BANDS[:3], AGE_BANDS[3])

    emp_true = np.round(np.minimum(rng.gamma(2.0, 3.5, n), age - 17.0), 1)
    # A modest pay gap gives sex a legitimate (income-mediated) link to risk even at bias=0.
    log_income = (
        10.65
        + 0.012 * (np.minimum(age, 60) - 40)
        + 0.025 * np.minimum(emp_true, 20)
        - 0.06 * female
        + rng.normal(0.0, 0.45, n)
    )
    income = np.round(np.exp(log_income), -2)

    tenure = 0.06 * (age - 38) + 1.0 * (log_income - 10.7) + rng.normal(0.0, 1.0, n)
    home_idx = np.digitize(tenure, [-0.3, 1.2])
    home = _HOME[home_idx]
    purpose_idx = rng.choice(len(_PURPOSE), size=n, p=_PURPOSE_P)
    purpose = _PURPOSE[purpose_idx]
    region = _REGION[rng.integers(0, len(_REGION), n)]

    ratio = rng.lognormal(np.log(0.22), 0.5, n) * np.where(
        np.isin(purpose, ["home_improvement", "small_business"]), 1.4, 1.0
    )
    loan_amount = np.clip(np.round(income * ratio / 50.0) * 50.0, 1000.0, 100000.0)
    term = rng.choice(_TERMS, size=n, p=_TERMS_P)
    return {
        "sex": sex,
        "female": female,
        "age": age,
        "age_band": age_band,
        "emp_true": emp_true,
        "log_income": log_income,
        "income": income,
        "home_idx": home_idx,
        "home": home,
        "purpose_idx": purpose_idx,
        "purpose": purpose,
        "region": region,
        "loan_amount": loan_amount,
        "term": term,
    }


def _draw_credit(
    rng: np.random.Generator, n: int, c: dict[str, np.ndarray]
) -> dict[str, np.ndarray]:
    """Draw the credit history: latent risk, late payments, bureau score, DTI and accounts."""
    age, income, loan_amount, term = c["age"], c["income"], c["loan_amount"], c["term"]
    # Unobserved creditworthiness: seen only through the bureau score and late payments.
    latent = rng.normal(0.0, 1.0, n)
    late = rng.poisson(np.exp(-0.9 + 0.7 * latent)).astype(np.int64)
    credit_score = np.clip(
        np.rint(690 - 40 * latent - 10 * late + rng.normal(0.0, 30.0, n)), 300, 850
    ).astype(np.int64)
    monthly = loan_amount * (1.0 + 0.08 * term / 12.0) / term
    dti = np.round(np.clip(rng.beta(2.2, 7.0, n) + 12.0 * monthly / income, 0.0, 1.5), 3)
    accounts = (1 + rng.poisson(3.0 + 0.04 * (age - 18), n)).astype(np.int64)
    return {
        "latent": latent,
        "late": late,
        "credit_score": credit_score,
        "dti": dti,
        "accounts": accounts,
    }


def _draw_default(
    rng: np.random.Generator, n: int, c: dict[str, np.ndarray], bias: float
) -> np.ndarray:
    """Draw the ``default`` label from the logistic risk model (plus ``bias`` for women)."""
    dti, log_income, term, emp_true = c["dti"], c["log_income"], c["term"], c["emp_true"]
    logit = (
        -2.6
        + 0.5 * c["latent"]
        - 0.01 * (c["credit_score"] - 690)
        + 0.2 * c["late"]
        + 1.0 * dti
        + 5.0 * np.maximum(dti - 0.45, 0.0)
        - 0.45 * (log_income - 10.7)
        + 0.01 * (term - 36)
        - 0.05 * np.minimum(emp_true, 10)
        + _PURPOSE_RISK[c["purpose_idx"]]
        + np.array([0.25, 0.0, -0.2])[c["home_idx"]]
        + 0.0015 * (c["age"] - 45) ** 2
        + bias * c["female"]
        + rng.normal(0.0, 0.3, n)
    )
    return (rng.random(n) < _sigmoid(logit)).astype(np.int64)


def _add_pii(notes: np.ndarray, rng: np.random.Generator, rate: float) -> np.ndarray:
    n = notes.shape[0]
    hit = rng.random(n) < rate
    first = _FIRST[rng.integers(0, len(_FIRST), n)]
    last = _LAST[rng.integers(0, len(_LAST), n)]
    # 555-01xx numbers and example.com addresses are reserved for fiction.
    phone = np.char.add("555-01", np.char.zfill(rng.integers(0, 100, n).astype(str), 2))
    email = np.char.add(np.char.add(np.char.add(first, "."), last), "@example.com")
    extra = np.char.add(np.char.add(np.char.add(" Contact ", email), " or "), phone)
    return np.where(hit, np.char.add(np.char.add(notes, extra), "."), notes)


def _pipeline(numeric: list[str], categorical: list[str], model: object) -> Pipeline:
    transformers = []
    if numeric:
        num = Pipeline([("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler())])
        transformers.append(("num", num, numeric))
    if categorical:
        # Dense output: HistGradientBoosting does not accept sparse input.
        cat = OneHotEncoder(handle_unknown="ignore", sparse_output=False)
        transformers.append(("cat", cat, categorical))
    return Pipeline([("prep", ColumnTransformer(transformers, remainder="drop")), ("model", model)])


def train_models(
    df: pd.DataFrame, *, seed: int = 0, features: list[str] | None = None
) -> dict[str, Pipeline]:
    """Fit the demo's three models on a table from :func:`make_credit_data`.

    Every model is a scikit-learn ``Pipeline`` that takes the same input columns (impute and
    scale numeric columns, one-hot encode the others), so any of them can be swapped for another
    in a gate or in the registry.

    Args:
        df: Training table with the feature columns and ``default``.
        seed: Random state of the stochastic parts (the boosted model's validation split).
        features: Input columns; default :data:`FEATURES`. Add ``"sex"`` to build a model that
            uses a sensitive attribute directly.

    Returns:
        ``{"champion": LogisticRegression, "candidate": HistGradientBoosting (matches or beats
        the champion), "weak": LogisticRegression on two near-useless columns}``, all fitted.

    Raises:
        KeyError: If a feature column or the label is missing from ``df``.

    """
    cols = list(features if features is not None else FEATURES)
    missing = [c for c in [*cols, LABEL] if c not in df.columns]
    if missing:
        raise KeyError(f"train_models: columns {missing} are not in the table")
    X = df.loc[:, cols]
    y = df[LABEL].to_numpy()
    numeric = [c for c in cols if pd.api.types.is_numeric_dtype(X[c].dtype)]
    categorical = [c for c in cols if c not in numeric]

    models = {
        "champion": _pipeline(numeric, categorical, LogisticRegression(C=1.0, max_iter=2000)),
        "candidate": _pipeline(
            numeric,
            categorical,
            HistGradientBoostingClassifier(
                learning_rate=0.05,
                max_iter=400,
                max_leaf_nodes=15,
                min_samples_leaf=40,
                l2_regularization=1.0,
                early_stopping=True,
                validation_fraction=0.15,
                n_iter_no_change=25,
                random_state=seed,
            ),
        ),
        "weak": _pipeline(
            [c for c in WEAK_FEATURES if c in numeric],
            [c for c in WEAK_FEATURES if c in categorical],
            LogisticRegression(C=1.0, max_iter=2000),
        ),
    }
    for model in models.values():
        model.fit(X, y)
    return models


def train_huge_forest(df: pd.DataFrame, *, seed: int = 0, n_trees: int = 800) -> Pipeline:
    """Fit the operational gate's counter-example: accurate, but large and slow to serve.

    A random forest of deep trees (leaves of 3 rows) ranks applicants about as well as the
    champion, but every prediction walks ``n_trees`` trees and the artifact holds all of
    them: with the defaults ~150 MB and ~70 ms per single-row prediction on one core, where
    the champion takes a few milliseconds and a few hundred kilobytes.

    Args:
        df: Training table from :func:`make_credit_data`.
        seed: Random state of the forest.
        n_trees: Number of trees.

    Returns:
        The fitted pipeline (same inputs as the other demo models).
    """
    X = df.loc[:, FEATURES]
    numeric = [c for c in FEATURES if pd.api.types.is_numeric_dtype(X[c].dtype)]
    categorical = [c for c in FEATURES if c not in numeric]
    forest = RandomForestClassifier(
        n_estimators=n_trees, min_samples_leaf=3, max_features="sqrt", random_state=seed
    )
    model = _pipeline(numeric, categorical, forest)
    model.fit(X, df[LABEL].to_numpy())
    return model
