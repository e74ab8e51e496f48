"""The gated-promotion pipeline: gates → aggregator → (only if all passed) promote to staging."""

from kfp import dsl, kubernetes
from kfp.dsl import Artifact

from quality_gates.components.aggregator.component import aggregator
from quality_gates.components.explainability_gate.component import explainability_gate
from quality_gates.components.fairness_gate.component import fairness_gate
from quality_gates.components.manual_approval.component import manual_approval
from quality_gates.components.performance_gate.component import performance_gate
from quality_gates.components.pii_scan_gate.component import pii_scan_gate
from quality_gates.components.promote.component import promote
from quality_gates.shared.contracts.gates import gate

PIPELINE_NAME = "quality-gates-gated-promotion"
# Upper bound of the manual approval task on a cluster (kfp-kubernetes `set_timeout`); the
# policy's approval.timeout_s ends the wait earlier with a recorded `timed_out`. A compile-time
# constant because Kubernetes needs it in the pod spec, before any parameter is resolved.
APPROVAL_TASK_TIMEOUT_S = 8 * 24 * 3600
# Keys of the MLflow Secret (manifests/ creates it under this name), each exposed 1:1 as the
# environment variable MLflow and boto3 read; the compiled YAML holds only names, never values.
MLFLOW_SECRET_KEYS = (
    "MLFLOW_TRACKING_URI",
    "MLFLOW_TRACKING_USERNAME",
    "MLFLOW_TRACKING_PASSWORD",
    "MLFLOW_TRACKING_TOKEN",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "MLFLOW_S3_ENDPOINT_URL",
)
DEFAULT_MLFLOW_SECRET = "quality-gates-mlflow"
# Non-secret client settings from a ConfigMap (manifests/ creates it), read by MLflow and boto3
# from the environment: timeouts and retries of a busy tracking server, a private CA (its file
# mounted into the pods), TLS of an in-house S3, the S3 region.
MLFLOW_CONFIG_KEYS = (
    "MLFLOW_HTTP_REQUEST_TIMEOUT",
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES",
    "MLFLOW_TRACKING_SERVER_CERT_PATH",
    "MLFLOW_TRACKING_INSECURE_TLS",
    "MLFLOW_S3_IGNORE_TLS",
    "AWS_DEFAULT_REGION",
)
DEFAULT_MLFLOW_CONFIG = "quality-gates-config"


def _with_mlflow_env(secret_name, config_name, *tasks: dsl.PipelineTask) -> None:
    """Expose the MLflow Secret and ConfigMap as environment variables of every MLflow task.

    ``optional=True`` so a cluster whose tasks reach MLflow without credentials (or with
    ``mlflow_tracking_uri`` passed explicitly) still schedules the pods; a key absent from the
    Secret or the ConfigMap simply leaves its variable unset. kfp.local ignores both; set the
    variables instead.
    """
    for task in tasks:
        kubernetes.use_secret_as_env(
            task,
            secret_name=secret_name,
            secret_key_to_env={key: key for key in MLFLOW_SECRET_KEYS},
            optional=True,
        )
        kubernetes.use_config_map_as_env(
            task,
            config_map_name=config_name,
            config_map_key_to_env={key: key for key in MLFLOW_CONFIG_KEYS},
            optional=True,
        )


def _gate_tasks(
    *,
    model_uri,
    data_uri,
    policy,
    registered_model_name,
    champion_alias,
    mlflow_tracking_uri,
    sensitive_data_uri,
    train_data_uri,
) -> dict[str, dsl.PipelineTask]:
    """Create one task per gate, wired to the pipeline's parameters, keyed by the gate's name.

    The aggregator takes each verdict by that name (one typed input per registered gate); a new
    gate is one more entry here.
    """
    perf = performance_gate(
        model_uri=model_uri,
        data_uri=data_uri,
        policy=policy,
        registered_model_name=registered_model_name,
        champion_alias=champion_alias,
        mlflow_tracking_uri=mlflow_tracking_uri,
    )
    gates = {
        "performance": perf,
        "fairness": fairness_gate(
            model_uri=model_uri,
            data_uri=data_uri,
            policy=policy,
            sensitive_data_uri=sensitive_data_uri,
            mlflow_tracking_uri=mlflow_tracking_uri,
        ),
        "explainability": explainability_gate(
            model_uri=model_uri,
            data_uri=data_uri,
            policy=policy,
            registered_model_name=registered_model_name,
            champion_alias=champion_alias,
            mlflow_tracking_uri=mlflow_tracking_uri,
        ),
        # The PII gate also scans the performance report, so nothing we publish quotes
        # personal data.
        "pii": pii_scan_gate(
            data_uri=data_uri,
            policy=policy,
            train_data_uri=train_data_uri,
            model_uri=model_uri,
            performance_report=perf.outputs["report"],
            mlflow_tracking_uri=mlflow_tracking_uri,
        ),
    }
    for name, task in gates.items():
        task.set_display_name(f"{gate(name).title} gate")
    return gates


def _stage_and_request_approval(
    *,
    scorecard,
    model_uri,
    registered_model_name,
    staging_alias,
    policy,
    submitted_by,
    approval_mode,
    mlflow_tracking_uri,
) -> tuple[dsl.PipelineTask, dsl.PipelineTask]:
    """Promote to the staging alias, then record (or wait for) a named approver's decision."""
    staged = promote(
        scorecard=scorecard,
        model_uri=model_uri,
        registered_model_name=registered_model_name,
        alias=staging_alias,
        mlflow_tracking_uri=mlflow_tracking_uri,
    ).set_display_name("promote to staging")
    approval = manual_approval(
        scorecard=scorecard,
        registered_model_name=registered_model_name,
        version=staged.outputs["Output"],
        policy=policy,
        submitted_by=submitted_by,
        mode=approval_mode,
        mlflow_tracking_uri=mlflow_tracking_uri,
    ).set_display_name("manual approval")
    kubernetes.set_timeout(approval, seconds=APPROVAL_TASK_TIMEOUT_S)
    return staged, approval


@dsl.pipeline(
    name=PIPELINE_NAME,
    description="Promote a candidate model to the MLflow staging alias only when every "
    "quality gate passes; every verdict and the scorecard are kept as evidence.",
)
def gated_promotion(
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
    approval_mode: str = "pending",
    submitted_by: str = "",
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
        approval_mode: ``pending`` ends the run with the staged version waiting for a later
            ``quality-gates approve``; ``wait`` keeps a task polling until a named approver
            decides or the policy's ``approval.timeout_s`` passes.
        submitted_by: Who submitted the run (may not approve it, nor grant its waivers); KFP
            has no placeholder for the run's creator, so pass it explicitly.
        mlflow_secret_name: Kubernetes Secret whose keys (``MLFLOW_TRACKING_URI``, credentials,
            S3 keys) become the environment of every task that talks to MLflow; a non-empty
            ``mlflow_tracking_uri`` still overrides the Secret's tracking URI.
        mlflow_config_name: Kubernetes ConfigMap whose keys (MLflow HTTP timeouts and
            retries, CA path, S3 TLS and region) become the environment of the same tasks.

    Returns:
        The scorecard artifact.
    """
    gates = _gate_tasks(
        model_uri=model_uri,
        data_uri=data_uri,
        policy=policy,
        registered_model_name=registered_model_name,
        champion_alias=champion_alias,
        mlflow_tracking_uri=mlflow_tracking_uri,
        sensitive_data_uri=sensitive_data_uri,
        train_data_uri=train_data_uri,
    )
    agg = aggregator(
        **{name: task.outputs["verdict"] for name, task in gates.items()},
        policy=policy,
        model_uri=model_uri,
        registered_model_name=registered_model_name,
        experiment_name=experiment_name,
        pipeline_run_id=dsl.PIPELINE_JOB_ID_PLACEHOLDER,
        mlflow_tracking_uri=mlflow_tracking_uri,
        submitted_by=submitted_by,
    ).set_display_name("aggregate scorecard")
    # kfp 2.17: branch on a single `-> bool` output; a NamedTuple field is silently skipped.
    with dsl.If(agg.outputs["Output"] == True, name="all-gates-passed"):  # noqa: E712
        tasks = _stage_and_request_approval(
            scorecard=agg.outputs["scorecard"],
            model_uri=model_uri,
            registered_model_name=registered_model_name,
            staging_alias=staging_alias,
            policy=policy,
            submitted_by=submitted_by,
            approval_mode=approval_mode,
            mlflow_tracking_uri=mlflow_tracking_uri,
        )
        _with_mlflow_env(mlflow_secret_name, mlflow_config_name, *tasks)
    _with_mlflow_env(mlflow_secret_name, mlflow_config_name, *gates.values(), agg)
    return agg.outputs["scorecard"]
