"""The gated-promotion steps, added to any pipeline: ours, or a user's training pipeline.

:func:`add_gated_promotion` creates, inside the caller's ``@dsl.pipeline``, one task per gate,
the aggregator, and the two branches of its decision: promote to staging (then the approval
step) when every gate passed, the ``candidate refused`` step otherwise. The model and the data
may be URIs (strings or pipeline parameters) or artifacts from upstream tasks
(``train.outputs["model"]``), each wired to the matching component input.

Every task gets CPU/memory requests and limits (:mod:`.resources`) and the MLflow Secret and
ConfigMap as environment where it talks to MLflow. Caching is off for every task whose result
depends on something that can change under the same cache key: a URI (the file behind
``s3://…/eval.parquet`` can be overwritten), the champion behind an alias, the registry and the
audit log. Only a gate fed artifacts alone (immutable per run) and no registry keeps KFP's cache.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kfp import dsl, kubernetes
from kfp.dsl.pipeline_channel import PipelineArtifactChannel

from quality_gates.components.aggregator.component import aggregator
from quality_gates.components.contract_gate.component import contract_gate
from quality_gates.components.decay_gate.component import decay_gate
from quality_gates.components.drift_gate.component import drift_gate
from quality_gates.components.explainability_gate.component import explainability_gate
from quality_gates.components.fairness_gate.component import fairness_gate
from quality_gates.components.manual_approval.component import manual_approval
from quality_gates.components.operational_gate.component import operational_gate
from quality_gates.components.performance_gate.component import performance_gate
from quality_gates.components.pii_scan_gate.component import pii_scan_gate
from quality_gates.components.promote.component import promote
from quality_gates.components.refusal.component import refusal
from quality_gates.components.shadow_gate.component import shadow_gate
from quality_gates.pipelines import options, resources
from quality_gates.shared.contracts.gates import gate
from quality_gates.shared.contracts.tasks import PROMOTE_TASK, REFUSAL_TASK

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
# Gates that look up the champion behind an alias (it moves without the cache key changing).
_REGISTRY_GATES = ("performance", "decay", "explainability", "operational")


@dataclass(frozen=True)
class GatedPromotionTasks:
    """The tasks :func:`add_gated_promotion` created.

    Attributes:
        gates: One task per gate, by gate name.
        aggregator: The aggregator (its ``scorecard`` output is the evidence).
        promote: Promotion to the staging alias (runs only when every gate passed).
        approval: The manual approval step after it.
        refusal: The ``candidate refused`` step (runs only when a gate blocked).
    """

    gates: dict[str, dsl.PipelineTask]
    aggregator: dsl.PipelineTask
    promote: dsl.PipelineTask
    approval: dsl.PipelineTask
    refusal: dsl.PipelineTask


def _is_artifact(value: Any) -> bool:
    return isinstance(value, PipelineArtifactChannel)


def _source(name: str, value: Any) -> dict[str, Any]:
    """Wire one input as the artifact ``name`` or the URI ``<name>_uri``; nothing when empty."""
    if _is_artifact(value):
        return {name: value}
    if value is None:
        return {}
    return {f"{name}_uri": value}


def with_mlflow_env(secret_name: Any, config_name: Any, *tasks: dsl.PipelineTask) -> None:
    """Expose the MLflow Secret and ConfigMap as environment variables of every MLflow task.

    ``optional=True`` so a cluster whose tasks reach MLflow without credentials (or with
    ``mlflow_tracking_uri`` passed explicitly) still schedules the pods; a key absent from the
    Secret or the ConfigMap simply leaves its variable unset. Compiled for an older backend
    (:mod:`.options`), the names are literals and ``optional`` is left out (that driver rejects
    both). kfp.local ignores both; set the variables instead.
    """
    literal = options.literal_names()
    if literal is not None:
        secret_name, config_name = literal
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


def _settle(task: dsl.PipelineTask, component: str, *, display: str, cache: bool) -> None:
    resources.apply(task, component)
    task.set_display_name(display)
    task.set_caching_options(cache)


def _gate_tasks(
    *, model, data, policy, registered_model_name, champion_alias, mlflow_tracking_uri,
    sensitive_data, train_data, reference_data=None, production_data=None, request_log=None,
) -> dict[str, dsl.PipelineTask]:  # fmt: skip
    """Create one task per gate, keyed by the gate's name (the aggregator's input names)."""
    candidate = {**_source("model", model), **_source("data", data)}
    champion = dict(
        registered_model_name=registered_model_name,
        champion_alias=champion_alias,
        mlflow_tracking_uri=mlflow_tracking_uri,
    )
    perf = performance_gate(policy=policy, **candidate, **champion)
    gates = {
        # Data first (no model needed): its contract, and its drift from the reference.
        "contract": contract_gate(
            policy=policy, **_source("data", data), mlflow_tracking_uri=mlflow_tracking_uri
        ),
        "drift": drift_gate(
            policy=policy,
            **_source("data", data),
            **_source("reference_data", reference_data),
            mlflow_tracking_uri=mlflow_tracking_uri,
        ),
        "performance": perf,
        # The candidate against the champion on recent production traffic.
        "decay": decay_gate(
            policy=policy,
            **_source("model", model),
            **_source("production_data", production_data),
            **champion,
        ),
        # The candidate's decisions on logged production traffic against production's.
        "shadow": shadow_gate(
            policy=policy,
            **_source("model", model),
            **_source("request_log", request_log),
            mlflow_tracking_uri=mlflow_tracking_uri,
        ),
        "fairness": fairness_gate(
            policy=policy,
            **candidate,
            **_source("sensitive_data", sensitive_data),
            mlflow_tracking_uri=mlflow_tracking_uri,
        ),
        "explainability": explainability_gate(policy=policy, **candidate, **champion),
        # The PII gate also scans the performance report, so nothing we publish quotes
        # personal data.
        "pii": pii_scan_gate(
            policy=policy,
            **candidate,
            **_source("train_data", train_data),
            performance_report=perf.outputs["report"],
            mlflow_tracking_uri=mlflow_tracking_uri,
        ),
        # Latency, size and memory through MLServer (KServe's runtime), against the champion.
        "operational": operational_gate(policy=policy, **candidate, **champion),
    }
    given = (
        model, data, sensitive_data, train_data, reference_data, production_data, request_log,
    )  # fmt: skip
    uris = [v for v in given if v is not None]
    immutable = all(_is_artifact(v) for v in uris)
    for name, task in gates.items():
        folder = gate(name).folder
        cache = immutable and name not in _REGISTRY_GATES
        _settle(task, folder, display=f"{gate(name).title} gate", cache=cache)
    return gates


def _promotion(
    agg: dsl.PipelineTask, *, model, policy, registered_model_name, staging_alias,
    approval_mode, submitted_by, mlflow_tracking_uri,
) -> tuple[dsl.PipelineTask, dsl.PipelineTask]:  # fmt: skip
    """Promote to staging, then the manual approval step (inside the all-gates-passed branch)."""
    staged = promote(
        scorecard=agg.outputs["scorecard"],
        **_source("model", model),
        registered_model_name=registered_model_name,
        alias=staging_alias,
        mlflow_tracking_uri=mlflow_tracking_uri,
    )
    _settle(staged, "promote", display=PROMOTE_TASK, cache=False)
    approval = manual_approval(
        scorecard=agg.outputs["scorecard"],
        registered_model_name=registered_model_name,
        version=staged.outputs["Output"],
        policy=policy,
        submitted_by=submitted_by,
        mode=approval_mode,
        mlflow_tracking_uri=mlflow_tracking_uri,
    )
    _settle(approval, "manual_approval", display="manual approval", cache=False)
    kubernetes.set_timeout(approval, seconds=APPROVAL_TASK_TIMEOUT_S)
    return staged, approval


def add_gated_promotion(
    *,
    model: Any,
    data: Any,
    policy: Any,
    registered_model_name: Any,
    champion_alias: Any = "production",
    staging_alias: Any = "staging",
    experiment_name: Any = "quality-gates",
    mlflow_tracking_uri: Any = "",
    sensitive_data: Any = None,
    train_data: Any = None,
    reference_data: Any = None,
    production_data: Any = None,
    request_log: Any = None,
    approval_mode: Any = "pending",
    submitted_by: Any = "",
    fail_on_refusal: Any = True,
    mlflow_secret_name: Any = DEFAULT_MLFLOW_SECRET,
    mlflow_config_name: Any = DEFAULT_MLFLOW_CONFIG,
) -> GatedPromotionTasks:
    """Add the gates, the aggregator and promote-or-refuse to the pipeline being defined.

    Call it inside a ``@dsl.pipeline`` function. ``model``, ``request_log`` and every ``*data``
    argument take a URI or an upstream artifact (``Output[Model]``/``Output[Dataset]``).

    Args:
        model: The candidate: URI or ``Model`` artifact.
        data: Evaluation data: URI or ``Dataset`` artifact.
        policy: The policy YAML text.
        registered_model_name: Registered model for the champion lookup and the promotion.
        champion_alias: Alias holding the champion to compare with.
        staging_alias: Alias set on the candidate when every gate passes.
        experiment_name: MLflow experiment for the evaluation run.
        mlflow_tracking_uri: MLflow tracking URI; empty means the tasks' ``MLFLOW_TRACKING_URI``.
        sensitive_data: Sensitive attributes kept apart from the data.
        train_data: Training data scanned for personal data.
        reference_data: Reference data the drift gate compares ``data`` with.
        production_data: Labelled production sample of the decay gate (URI or artifact).
        request_log: Logged production requests of the shadow gate (URI or artifact).
        approval_mode: ``pending`` or ``wait`` (see the manual approval component).
        submitted_by: Who submitted the run (may not approve it, nor grant its waivers).
        fail_on_refusal: End the run FAILED on a refusal (default); False: green, still recorded.
        mlflow_secret_name: Kubernetes Secret with the MLflow URI and credentials.
        mlflow_config_name: Kubernetes ConfigMap with MLflow client settings.

    Returns:
        The created tasks.
    """
    where = dict(
        registered_model_name=registered_model_name, mlflow_tracking_uri=mlflow_tracking_uri
    )
    gates = _gate_tasks(
        model=model, data=data, policy=policy, champion_alias=champion_alias,
        sensitive_data=sensitive_data, train_data=train_data, reference_data=reference_data,
        production_data=production_data, request_log=request_log, **where,
    )  # fmt: skip
    agg = aggregator(
        **{name: task.outputs["verdict"] for name, task in gates.items()},
        policy=policy,
        **_source("model", model),
        experiment_name=experiment_name,
        pipeline_run_id=dsl.PIPELINE_JOB_ID_PLACEHOLDER,
        submitted_by=submitted_by,
        **where,
    )
    # kfp 2.17: branch on a single `-> bool` output; a NamedTuple field is silently skipped.
    passed = agg.outputs["Output"] == True  # noqa: E712
    with dsl.If(passed, name="all-gates-passed"):
        staged, approval = _promotion(
            agg, model=model, policy=policy, staging_alias=staging_alias,
            approval_mode=approval_mode, submitted_by=submitted_by, **where,
        )  # fmt: skip
        with_mlflow_env(mlflow_secret_name, mlflow_config_name, staged, approval)
    with dsl.Else(name="a-gate-blocked"):
        refused = refusal(scorecard=agg.outputs["scorecard"], fail_run=fail_on_refusal)
    _settle(agg, "aggregator", display="aggregate scorecard", cache=False)
    _settle(refused, "refusal", display=REFUSAL_TASK, cache=False)
    with_mlflow_env(mlflow_secret_name, mlflow_config_name, *gates.values(), agg)
    return GatedPromotionTasks(gates, agg, staged, approval, refused)
