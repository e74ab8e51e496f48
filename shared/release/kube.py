"""Pick the cluster's traffic router for an InferenceService, and say why.

:func:`detect_router` reads the InferenceService and its deployment mode
(:func:`quality_gates.shared.release.kserve.resolve_mode`) and returns the router that really
moves traffic there, with one line stating the decision for the report and the audit log:

- Serverless (Knative): ``canaryTrafficPercent`` on the InferenceService
  (:class:`~quality_gates.shared.release.kserve.KServeServerlessRouter`);
- Standard (RawDeployment) with a VirtualService named: its weights between the stable and the
  canary InferenceService's predictor hosts
  (:class:`~quality_gates.shared.release.istio.IstioWeightRouter`);
- Standard with a ``spec.canary[]`` entry (KServe 0.20+) and no VirtualService named:
  that entry's ``trafficPercent``
  (:class:`~quality_gates.shared.release.kserve.KServeStandardCanaryRouter`);
- Standard with neither: refused, since ``canaryTrafficPercent`` would be ignored (kserve#5335).

The building blocks are :mod:`~quality_gates.shared.release.kube_api` (the API calls),
:mod:`~quality_gates.shared.release.kserve` and :mod:`~quality_gates.shared.release.istio`.
"""

from __future__ import annotations

from typing import NamedTuple

from quality_gates.shared.contracts.errors import GateInputError
from quality_gates.shared.release.istio import IstioWeightRouter, predictor_host
from quality_gates.shared.release.kserve import (
    KServeServerlessRouter,
    KServeStandardCanaryRouter,
    resolve_mode,
)
from quality_gates.shared.release.kube_api import KubeApi, isvc_ref
from quality_gates.shared.release.traffic import TrafficRouter


class RouterChoice(NamedTuple):
    """The router :func:`detect_router` chose and the one-line reason."""

    router: TrafficRouter
    decision: str


def detect_router(
    api: KubeApi,
    namespace: str,
    isvc_name: str,
    virtual_service: str | None = None,
    *,
    canary_isvc: str | None = None,
    stable_host: str | None = None,
    canary_host: str | None = None,
    canary_name: str | None = None,
    kserve_namespace: str = "kserve",
) -> RouterChoice:
    """Return the router for ``isvc_name`` and a one-line description of the decision.

    Args:
        api: The Kubernetes API.
        namespace: The InferenceService's (and the VirtualService's) namespace.
        isvc_name: The InferenceService serving the stable model (in Serverless mode: the one
            InferenceService whose revisions are split).
        virtual_service: Standard mode: the Istio VirtualService splitting the traffic.
        canary_isvc: Standard mode with a VirtualService: the InferenceService of the canary
            (its predictor host is the canary destination).
        stable_host: Overrides the stable destination (default: ``isvc_name``'s predictor).
        canary_host: Overrides the canary destination (default: ``canary_isvc``'s predictor).
        canary_name: Standard mode without a VirtualService: ``predictor.name`` of the
            ``spec.canary[]`` entry (default: the only entry).
        kserve_namespace: Where KServe's ``inferenceservice-config`` ConfigMap lives.

    Raises:
        GateInputError: The InferenceService cannot be read, its mode is unsupported, or Standard
            mode has nothing that splits traffic.
    """
    isvc = api.get(isvc_ref(namespace, isvc_name))
    mode, source = resolve_mode(api, isvc, kserve_namespace=kserve_namespace)
    if mode == "serverless":
        router = KServeServerlessRouter(
            api, namespace, isvc_name, kserve_namespace=kserve_namespace
        )
        return RouterChoice(router, f"{router.describe()} ({source})")
    if virtual_service:
        stable = stable_host or predictor_host(isvc_name, namespace)
        canary = canary_host or (canary_isvc and predictor_host(canary_isvc, namespace))
        if not canary:
            raise GateInputError(
                f"isvc {isvc_name} runs in Standard mode ({source}): name the canary "
                f"InferenceService (canary_isvc) or its host that VirtualService "
                f"{virtual_service} routes to"
            )
        router = IstioWeightRouter(api, namespace, virtual_service, stable, canary)
        router.canary_percent()  # fail now if the VirtualService does not split those hosts
        return RouterChoice(router, f"{router.describe()} ({source})")
    entries = [(e.get("predictor") or {}).get("name") for e in isvc["spec"].get("canary") or []]
    if entries:
        name = canary_name or (entries[0] if len(entries) == 1 else None)
        if name is None:
            raise GateInputError(
                f"isvc {isvc_name} has several spec.canary entries {entries}: name one"
            )
        router = KServeStandardCanaryRouter(api, namespace, isvc_name, canary=name)
        router.canary_percent()
        return RouterChoice(router, f"{router.describe()} ({source})")
    raise GateInputError(
        f"isvc {isvc_name} in namespace {namespace} runs in Standard mode ({source}), where "
        "KServe ignores canaryTrafficPercent (kserve#5335); name the Istio VirtualService "
        "that splits traffic between the stable and canary InferenceServices "
        "(manifests/serving/standard), or add a spec.canary entry (KServe 0.20+)"
    )
