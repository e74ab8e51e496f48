"""Example: a training pipeline that hands its model and data to the quality gates as artifacts.

    prepare data ──► train ──► gates (performance, fairness, explainability, PII)
         │                        ──► aggregator ──► promote to staging ──► manual approval
         └── Dataset artifacts ──┘                └─► candidate refused (the run fails)

The two steps before the gates stand for the user's own: they write an ``Output[Dataset]`` and
an ``Output[Model]``, and :func:`add_gated_promotion` wires those artifacts straight into every
gate and the promotion, no URI strings in between. The model is a plain joblib file written to
``model.path``, its format named in ``model.metadata["format"]``; an MLflow model folder
(``mlflow.sklearn.save_model(m, model.path)``) works the same.

Compile for a cluster::

    python examples/train_and_gate/pipeline.py --output train_and_gate.yaml

or run it on this machine through kfp.local (``--local``; MLflow from ``MLFLOW_TRACKING_URI``).
"""

import argparse

from kfp import compiler, dsl
from kfp.dsl import Dataset, Input, Model, Output

from quality_gates.pipelines.wiring import add_gated_promotion
from quality_gates.shared.contracts.versions import image_for

# The training steps run in the gates' core image, which holds pandas and scikit-learn; a real
# training pipeline uses its own image.
TRAIN_IMAGE = image_for("aggregator")


@dsl.component(base_image=TRAIN_IMAGE, install_kfp_package=False)
def prepare_data(rows: int, seed: int, train_data: Output[Dataset], eval_data: Output[Dataset]):
    """Write the training and evaluation tables (synthetic credit-risk data) as Parquet.

    Args:
        rows: Total rows; 60 % training, 40 % evaluation.
        seed: Seed of the generator.
        train_data: The training table.
        eval_data: The held-out evaluation table the gates judge the model on.
    """
    from quality_gates.shared.demo.data import make_credit_data

    df = make_credit_data(n_rows=rows, seed=seed)
    cut = int(len(df) * 0.6)
    df.iloc[:cut].to_parquet(train_data.path, index=False)
    df.iloc[cut:].to_parquet(eval_data.path, index=False)


@dsl.component(base_image=TRAIN_IMAGE, install_kfp_package=False)
def train(train_data: Input[Dataset], model: Output[Model]):
    """Fit a gradient-boosted credit-risk model and save it as a joblib file.

    Args:
        train_data: The training table (label ``default``).
        model: The fitted scikit-learn pipeline (joblib bytes at ``model.path``).
    """
    import joblib
    import pandas as pd
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    df = pd.read_parquet(train_data.path)
    features = [c for c in df.columns if c not in ("applicant_id", "sex", "age_band", "notes")]
    features.remove("default")
    numeric = [c for c in features if pd.api.types.is_numeric_dtype(df[c])]
    categorical = [c for c in features if c not in numeric]
    prep = ColumnTransformer(
        [
            ("num", SimpleImputer(strategy="median"), numeric),
            ("cat", OneHotEncoder(handle_unknown="ignore"), categorical),
        ]
    )
    boost = HistGradientBoostingClassifier(
        learning_rate=0.05, max_iter=300, max_leaf_nodes=15, min_samples_leaf=40, random_state=0
    )
    fitted = Pipeline([("prep", prep), ("model", boost)]).fit(df[features], df["default"])
    joblib.dump(fitted, model.path)
    model.metadata["format"] = "joblib"
    model.metadata["framework"] = "scikit-learn"


@dsl.pipeline(
    name="train-and-gate",
    description="Train a model, then promote it to staging only when every quality gate passes.",
)
def train_and_gate(
    policy: str,
    registered_model_name: str = "credit-risk",
    rows: int = 20000,
    seed: int = 0,
    mlflow_tracking_uri: str = "",
    submitted_by: str = "",
    fail_on_refusal: bool = True,
):
    """Train, gate and promote.

    Args:
        policy: The policy YAML text (the demo's: ``quality_gates/shared/demo/policies/demo.yaml``).
        registered_model_name: Registered model the champion is read from and promoted into.
        rows: Rows of synthetic data to train and evaluate on.
        seed: Seed of the data.
        mlflow_tracking_uri: MLflow tracking URI; empty means the tasks' ``MLFLOW_TRACKING_URI``.
        submitted_by: Who submitted the run (may not approve it).
        fail_on_refusal: End the run FAILED when the candidate is refused.
    """
    data = prepare_data(rows=rows, seed=seed)
    trained = train(train_data=data.outputs["train_data"])
    add_gated_promotion(
        model=trained.outputs["model"],
        data=data.outputs["eval_data"],
        train_data=data.outputs["train_data"],
        # The drift gate compares the evaluation data with the data the model learned from.
        reference_data=data.outputs["train_data"],
        policy=policy,
        registered_model_name=registered_model_name,
        mlflow_tracking_uri=mlflow_tracking_uri,
        submitted_by=submitted_by,
        fail_on_refusal=fail_on_refusal,
    )


def main() -> None:
    """Compile the example, or run it through kfp.local with the demo policy."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", default="train_and_gate.yaml", help="compiled YAML path")
    parser.add_argument("--local", action="store_true", help="run through kfp.local instead")
    args = parser.parse_args()
    if not args.local:
        compiler.Compiler().compile(train_and_gate, args.output)
        print(f"wrote {args.output}")
        return
    from kfp import local

    from quality_gates.shared.demo.run import demo_policy_text

    local.init(runner=local.SubprocessRunner(use_venv=False))
    train_and_gate(policy=demo_policy_text())


if __name__ == "__main__":
    main()
