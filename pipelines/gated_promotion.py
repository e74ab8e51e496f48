"""The gated-promotion pipeline: gates → aggregator → promote to staging, or a refused run.

The steps themselves are :func:`~quality_gates.pipelines.wiring.add_gated_promotion`, which a
user's own pipeline calls with artifacts from its training step (``examples/train_and_gate``).
"""

from typing import Any

from kfp import dsl
from kfp.dsl import Artifact

from quality_gates.pipelines.wiring import (
    DEFAULT_MLFLOW_CONFIG,
    DEFAULT_MLFLOW_SECRET,
    add_gated_promotion,
)

PIPELINE_NAME = "quality-gates-gated-promotion"


def gated_promotion_steps(
    model_uri: str,
    data_uri: str,
    policy: str,
    registered_model_name: str,
    champion_alias: str = "production",
    staging_alias: str = "staging",
    experiment_name: str = "quality-gates",
    mlflow_tracking_uri: str = "",
    sensitive_data_uri: str = "",
    train_data_uri: str = "",
    reference_data_uri: str = "",
    production_data_uri: str = "",
    request_log_uri: str = "",
    approval_mode: str = "pending",
    submitted_by: str = "",
    fail_on_refusal: bool = True,
    mlflow_secret_name: str = DEFAULT_MLFLOW_SECRET,
    mlflow_config_name: str = DEFAULT_MLFLOW_CONFIG,
) -> Artifact:
    """Gate a candidate model and promote it to ``staging_alias`` when every gate passes.

    Args:
        model_uri: Candidate model URI (``runs:/``, ``models:/``, or a file the tasks can read).
        data_uri: Evaluation data (CSV or Parquet).
        policy: The policy YAML text.
        registered_model_name: Registered model for the champion lookup and the promotion.
        champion_alias: Alias holding the champion to compare with.
        staging_alias: Alias set on the candidate when every gate passes.
        experiment_name: MLflow experiment for the evaluation run.
        mlflow_tracking_uri: MLflow tracking URI; empty means the tasks' ``MLFLOW_TRACKING_URI``.
        sensitive_data_uri: Sensitive attributes kept apart from the evaluation data, joined on
            the fairness policy's ``join_key``; empty when they are columns of the data.
        train_data_uri: Training data, scanned for personal data with the evaluation data.
        reference_data_uri: Reference data (what the model was built or validated on) the drift
            gate compares the evaluation data with; needed when the policy configures drift.
        production_data_uri: A recent labelled sample of production traffic, on which the decay
            gate compares the candidate with the champion; needed when the policy configures
            decay.
        request_log_uri: Logged requests with production's answers (table or KServe logger
            JSON Lines) the shadow gate compares the candidate with; needed for gates.shadow.
        approval_mode: ``pending`` ends the run with the staged version waiting for a later
            ``quality-gates approve``; ``wait`` keeps a task polling until a named approver
            decides or the policy's ``approval.timeout_s`` passes.
        submitted_by: Who submitted the run (may not approve it, nor grant its waivers); KFP
            has no placeholder for the run's creator, so pass it explicitly.
        fail_on_refusal: A refused candidate ends the run FAILED, with the task "candidate
            refused" naming every gate that blocked; False keeps the run SUCCEEDED (the
            refusal step still runs and records why).
        mlflow_secret_name: Kubernetes Secret whose keys (``MLFLOW_TRACKING_URI``, credentials,
            S3 keys) become the environment of every task that talks to MLflow; a non-empty
            ``mlflow_tracking_uri`` still overrides the Secret's tracking URI.
        mlflow_config_name: Kubernetes ConfigMap whose keys (MLflow HTTP timeouts and
            retries, CA path, S3 TLS and region) become the environment of the same tasks.

    Returns:
        The scorecard artifact.
    """
    tasks = add_gated_promotion(
        model=model_uri,
        data=data_uri,
        policy=policy,
        registered_model_name=registered_model_name,
        champion_alias=champion_alias,
        staging_alias=staging_alias,
        experiment_name=experiment_name,
        mlflow_tracking_uri=mlflow_tracking_uri,
        sensitive_data=sensitive_data_uri,
        train_data=train_data_uri,
        reference_data=reference_data_uri,
        production_data=production_data_uri,
        request_log=request_log_uri,
        approval_mode=approval_mode,
        submitted_by=submitted_by,
        fail_on_refusal=fail_on_refusal,
        mlflow_secret_name=mlflow_secret_name,
        mlflow_config_name=mlflow_config_name,
    )
    return tasks.aggregator.outputs["scorecard"]


def build() -> Any:
    """Trace the pipeline now, under the compile options in effect.

    kfp traces a pipeline function once, when it is decorated: resources and literal Secret
    names (:mod:`.resources`, :mod:`.options`) are read then. ``quality-gates compile`` calls
    this inside its options so that every compile gets exactly the options it was given.

    Returns:
        The pipeline (a kfp ``GraphComponent``).
    """
    return dsl.pipeline(
        name=PIPELINE_NAME,
        description="Promote a candidate model to the MLflow staging alias only when every "
        "quality gate passes; every verdict and the scorecard are kept as evidence.",
    )(gated_promotion_steps)


# The pipeline with the default options: what kfp.local runs and `submit` uploads.
gated_promotion = build()
