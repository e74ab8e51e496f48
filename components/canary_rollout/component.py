"""KFP component of the canary rollout: an approved version through its stages on the cluster."""

from kfp import dsl
from kfp.dsl import Markdown, Metrics, Output

from quality_gates.shared.contracts.versions import image_for


@dsl.component(base_image=image_for("canary_rollout"), install_kfp_package=False)
def canary_rollout(
    registered_model_name: str,
    version: str,
    namespace: str,
    isvc: str,
    report: Output[Markdown],
    metrics: Output[Metrics],
    virtual_service: str = "",
    canary_isvc: str = "",
    prometheus_url: str = "",
    mlflow_tracking_uri: str = "",
    actor: str = "canary-rollout",
) -> str:
    """Roll an approved version out stage by stage; fail the task unless it was promoted.

    The stages, bake time and rules come from the policy the version was gated under
    (``release.canary``); the router is detected from the InferenceService's deployment mode.
    The task's service account needs the rollout Role of ``manifests/serving/<mode>/``.

    Args:
        registered_model_name: The gated registered model.
        version: The approved version (``approval.release: canary``).
        namespace: Namespace of the InferenceService(s).
        isvc: The stable (Serverless: the only) InferenceService.
        report: Markdown: every stage with its checks, and the outcome.
        metrics: Per-stage canary requests and the outcome (1 promoted, 0 otherwise).
        virtual_service: Standard mode with Istio: the VirtualService holding the weights.
        canary_isvc: Standard mode with Istio: the canary InferenceService.
        prometheus_url: Overrides the recorded policy's Prometheus URL.
        mlflow_tracking_uri: MLflow tracking URI (default: the environment's).
        actor: The rollout's identity in the audit log.

    Returns:
        ``promoted`` (the task fails on a rollback or a hold, after writing its outputs).
    """
    import sys

    from quality_gates.components.canary_rollout.core import report_markdown
    from quality_gates.shared.contracts.errors import GateInputError
    from quality_gates.shared.release.run import Target, rollout_version

    target = Target(namespace=namespace, isvc=isvc, virtual_service=virtual_service or None,
                    canary_isvc=canary_isvc or None)  # fmt: skip
    try:
        result = rollout_version(name=registered_model_name, version=version, target=target,
                                 actor=actor, prometheus_url=prometheus_url or None,
                                 tracking_uri=mlflow_tracking_uri or None)  # fmt: skip
    except GateInputError as exc:
        print(f"rollout not started: {exc}", file=sys.stderr, flush=True)
        raise SystemExit(2) from None
    with open(report.path, "w", encoding="utf-8") as fh:
        fh.write(report_markdown(result))
    metrics.log_metric("promoted", 1.0 if result.outcome == "promoted" else 0.0)
    for stage in result.stages:
        metrics.log_metric(f"stage_{stage.percent}_canary_requests", float(stage.canary_requests))
    print(f"{result.outcome}: {result.message}", file=sys.stderr, flush=True)
    if result.outcome != "promoted":
        raise SystemExit(result.exit_code)
    return result.outcome
