"""``quality-gates rollout`` on a cluster: the recorded policy, the detected router, the outcome.

The rollout reads ``release.canary`` from the policy the version was gated under (authority
lives with the evidence, not with the caller), refuses a version without a recorded approval,
detects how the InferenceService splits traffic (Serverless ``canaryTrafficPercent``, KServe's
Standard-mode ``spec.canary``, or Istio VirtualService weights), runs the stages against
Prometheus and records the outcome in the registry and the audit log.
"""

from __future__ import annotations

from dataclasses import dataclass

from quality_gates.shared.governance.release import canary_release, record_outcome
from quality_gates.shared.release.canary import Clock, RolloutResult, rollout
from quality_gates.shared.release.kube import detect_router
from quality_gates.shared.release.kube_api import KubeApi
from quality_gates.shared.release.prometheus import PrometheusClient


@dataclass(frozen=True)
class Target:
    """What serves the model on the cluster.

    Attributes:
        namespace: The InferenceService's namespace.
        isvc: The stable (Serverless: the only) InferenceService.
        virtual_service: Standard mode with Istio: the VirtualService holding the weights.
        canary_isvc: Standard mode with Istio: the canary's InferenceService.
    """

    namespace: str
    isvc: str
    virtual_service: str | None = None
    canary_isvc: str | None = None


def rollout_version(
    *,
    name: str,
    version: str,
    target: Target,
    actor: str,
    prometheus_url: str | None = None,
    tracking_uri: str | None = None,
    api: KubeApi | None = None,
    clock: Clock | None = None,
) -> RolloutResult:
    """Take an approved version through its canary stages and record the outcome.

    Args:
        name: Registered (gated) model name.
        version: The canary's version (approved under ``approval.release: canary``).
        target: The InferenceService(s) and VirtualService.
        actor: The rollout's identity, for the audit log.
        prometheus_url: Overrides ``release.canary.metrics.prometheus_url`` (where this
            cluster's Prometheus answers); the rules themselves stay the recorded ones.
        tracking_uri: MLflow tracking URI.
        api: The Kubernetes API (default: the official client, in-cluster or kubeconfig).
        clock: Time (tests).

    Returns:
        The outcome (already recorded).

    Raises:
        GateInputError: The version may not be rolled out, or the router cannot be found.
    """
    evidence = canary_release(name, version, tracking_uri)
    spec = evidence.policy.release.canary
    if prometheus_url:
        spec = spec.model_copy(
            update={"metrics": spec.metrics.model_copy(update={"prometheus_url": prometheus_url})}
        )
    if api is None:
        from quality_gates.shared.release.kube_api import KubernetesApi

        api = KubernetesApi()
    choice = detect_router(
        api, target.namespace, target.isvc, target.virtual_service, canary_isvc=target.canary_isvc
    )
    result = rollout(
        router=choice.router,
        client=PrometheusClient(spec.metrics.prometheus_url),
        policy=spec,
        clock=clock,
    )
    details = {**result.as_dict(), "router_decision": choice.decision}
    record_outcome(name=name, version=version, outcome=result.outcome, actor=actor,
                   details=details, tracking_uri=tracking_uri)  # fmt: skip
    return result
