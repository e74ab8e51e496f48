"""KServe InferenceService traffic: deployment modes and the Serverless canary router.

KServe splits traffic itself only in Serverless (Knative) mode, through
``spec.predictor.canaryTrafficPercent``; Knative reports the split it applied in
``status.components.predictor.traffic``. In Standard mode (``RawDeployment`` in older releases,
KServe's default now) the field is accepted and silently ignored (kserve#5335), so the router
refuses such an InferenceService rather than report a rollout that never happened. Standard
mode is split by an Istio VirtualService between two InferenceServices
(:mod:`quality_gates.shared.release.istio`), or, from KServe 0.20, by the InferenceService's own
``spec.canary[]`` list (:class:`KServeStandardCanaryRouter`, routed through a Gateway API
HTTPRoute).
"""

from __future__ import annotations

import json
from typing import Any, Literal

from quality_gates.shared.contracts.errors import GateInputError
from quality_gates.shared.release.kube_api import KubeApi, config_map_ref, isvc_ref, version_test
from quality_gates.shared.release.traffic import check_percent

MODE_ANNOTATION = "serving.kserve.io/deploymentMode"
Mode = Literal["serverless", "standard"]
# Every spelling KServe accepts (pkg/constants: ParseDeploymentMode normalises the legacy ones).
_MODES: dict[str, Mode] = {
    "Serverless": "serverless",
    "Knative": "serverless",
    "RawDeployment": "standard",
    "Standard": "standard",
}
# KServe's built-in default when neither the annotation nor its ConfigMap says (DefaultDeployment
# in pkg/constants/constants.go: Standard).
BUILTIN_DEFAULT = "Standard"
KSERVE_CONFIG_MAP = "inferenceservice-config"


def parse_mode(value: str, where: str) -> Mode:
    """Map a KServe deployment mode spelling to ``serverless`` or ``standard``.

    Args:
        value: ``Serverless``, ``Knative``, ``RawDeployment`` or ``Standard``.
        where: Where the value was read, for the message.

    Raises:
        GateInputError: For ModelMesh or an unknown spelling.
    """
    if value in _MODES:
        return _MODES[value]
    raise GateInputError(
        f"{where} says deployment mode {value!r}; the traffic routers support Serverless "
        "(Knative) and Standard (RawDeployment), not ModelMesh or other modes"
    )


def resolve_mode(
    api: KubeApi, isvc: dict[str, Any], *, kserve_namespace: str = "kserve"
) -> tuple[Mode, str]:
    """Decide the deployment mode of an InferenceService, and say where it was read.

    In order: the ``serving.kserve.io/deploymentMode`` annotation, the mode the controller
    reported in ``status.deploymentMode``, ``defaultDeploymentMode`` of the ``deploy`` key of
    KServe's ``inferenceservice-config`` ConfigMap, else KServe's built-in default (Standard).

    Args:
        api: The Kubernetes API.
        isvc: The InferenceService as read.
        kserve_namespace: Where KServe's ConfigMap lives.

    Returns:
        ``(mode, source)``; ``source`` is a short phrase for the decision line.
    """
    name = isvc.get("metadata", {}).get("name", "?")
    annotation = (isvc.get("metadata", {}).get("annotations") or {}).get(MODE_ANNOTATION)
    if annotation:
        where = f"annotation {MODE_ANNOTATION} of isvc {name}"
        return parse_mode(annotation, where), f"annotation {MODE_ANNOTATION}={annotation}"
    reported = (isvc.get("status") or {}).get("deploymentMode")
    if reported:
        return parse_mode(reported, f"status.deploymentMode of isvc {name}"), (
            f"status.deploymentMode={reported}"
        )
    default, why = _cluster_default(api, kserve_namespace)
    if default is None:
        return parse_mode(BUILTIN_DEFAULT, "KServe's built-in default"), (
            f"no annotation; assumed KServe's built-in default {BUILTIN_DEFAULT} ({why})"
        )
    return parse_mode(default, f"ConfigMap {kserve_namespace}/{KSERVE_CONFIG_MAP}"), (
        f"no annotation; cluster default {default} from ConfigMap "
        f"{kserve_namespace}/{KSERVE_CONFIG_MAP}"
    )


def _cluster_default(api: KubeApi, namespace: str) -> tuple[str | None, str]:
    """``defaultDeploymentMode`` of KServe's ConfigMap, or ``(None, why it is unknown)``."""
    try:
        config = api.get(config_map_ref(namespace, KSERVE_CONFIG_MAP))
    except GateInputError as exc:
        return None, f"ConfigMap {namespace}/{KSERVE_CONFIG_MAP} unreadable: {exc}"
    text = (config.get("data") or {}).get("deploy")
    try:
        mode = json.loads(text).get("defaultDeploymentMode") if text else None
    except (ValueError, AttributeError):
        return None, f"the deploy key of ConfigMap {namespace}/{KSERVE_CONFIG_MAP} is not JSON"
    if not mode:
        return None, f"ConfigMap {namespace}/{KSERVE_CONFIG_MAP} sets no defaultDeploymentMode"
    return str(mode), "read"


class KServeServerlessRouter:
    """``spec.predictor.canaryTrafficPercent`` of one InferenceService in Serverless mode.

    Args:
        api: The Kubernetes API.
        namespace: The InferenceService's namespace.
        name: The InferenceService's name.
        kserve_namespace: Where KServe's ``inferenceservice-config`` lives (read only when the
            InferenceService carries no deployment-mode annotation).
    """

    def __init__(
        self, api: KubeApi, namespace: str, name: str, *, kserve_namespace: str = "kserve"
    ) -> None:
        self._api = api
        self._ref = isvc_ref(namespace, name)
        self._kserve_namespace = kserve_namespace

    def set_canary_percent(self, percent: int) -> None:
        """Patch ``canaryTrafficPercent``; refuse an InferenceService in Standard mode."""
        check_percent(percent)
        self._serverless()
        patch = {"spec": {"predictor": {"canaryTrafficPercent": percent}}}
        self._api.patch(self._ref, patch, patch_type="merge")

    def canary_percent(self) -> int:
        """The latest revision's share from ``status.components.predictor.traffic``, else spec.

        Knative reports the split it applied there; before the controller wrote a status the
        spec's ``canaryTrafficPercent`` is what was asked for (none asked: the latest revision
        takes all traffic, 100).
        """
        isvc = self._serverless()
        traffic = (
            ((isvc.get("status") or {}).get("components") or {}).get("predictor", {}).get("traffic")
        )
        if traffic:
            return sum(int(t.get("percent") or 0) for t in traffic if t.get("latestRevision"))
        asked = isvc.get("spec", {}).get("predictor", {}).get("canaryTrafficPercent")
        return 100 if asked is None else int(asked)

    def describe(self) -> str:
        """One line naming the InferenceService and the mode."""
        return (
            f"Serverless: canaryTrafficPercent on isvc {self._ref.name} "
            f"in namespace {self._ref.namespace}"
        )

    def _serverless(self) -> dict[str, Any]:
        isvc = self._api.get(self._ref)
        mode, source = resolve_mode(self._api, isvc, kserve_namespace=self._kserve_namespace)
        if mode != "serverless":
            raise GateInputError(
                f"isvc {self._ref.name} in namespace {self._ref.namespace} runs in Standard "
                f"mode ({source}), where KServe ignores canaryTrafficPercent (kserve#5335); "
                f"set {MODE_ANNOTATION}: Serverless on a Knative cluster, or split traffic with "
                "the Istio VirtualService router (manifests/serving/standard)"
            )
        return isvc


class KServeStandardCanaryRouter:
    """``spec.canary[].trafficPercent`` of one canary of an InferenceService in Standard mode.

    KServe 0.20 (kserve#5672) added a list of canary predictors to Standard mode; the controller
    routes them through a Gateway API HTTPRoute, giving a canary traffic only once its
    Deployment is ready (``status.canaryStatuses[]``).

    Args:
        api: The Kubernetes API.
        namespace: The InferenceService's namespace.
        name: The InferenceService's name.
        canary: ``predictor.name`` of the canary entry to move.
    """

    def __init__(self, api: KubeApi, namespace: str, name: str, *, canary: str) -> None:
        self._api = api
        self._ref = isvc_ref(namespace, name)
        self._canary = canary

    def set_canary_percent(self, percent: int) -> None:
        """Replace the entry's ``trafficPercent``, guarded by tests on its name and version."""
        check_percent(percent)
        isvc = self._api.get(self._ref)
        index = self._index(isvc)
        operations = [
            *version_test(isvc),
            {
                "op": "test",
                "path": f"/spec/canary/{index}/predictor/name",
                "value": self._canary,
            },
            {"op": "replace", "path": f"/spec/canary/{index}/trafficPercent", "value": percent},
        ]
        self._api.patch(self._ref, operations, patch_type="json")

    def canary_percent(self) -> int:
        """The share from ``status.canaryStatuses`` (0 while not ready), else the spec's."""
        isvc = self._api.get(self._ref)
        index = self._index(isvc)
        for status in (isvc.get("status") or {}).get("canaryStatuses") or []:
            if status.get("name") == self._canary:
                return int(status.get("trafficPercent") or 0) if status.get("ready") else 0
        return int(isvc["spec"]["canary"][index].get("trafficPercent") or 0)

    def describe(self) -> str:
        """One line naming the InferenceService, the canary entry and the mode."""
        return (
            f"Standard: spec.canary[{self._canary}].trafficPercent on isvc {self._ref.name} "
            f"in namespace {self._ref.namespace} (Gateway API HTTPRoute)"
        )

    def _index(self, isvc: dict[str, Any]) -> int:
        entries = isvc.get("spec", {}).get("canary") or []
        names = [(e.get("predictor") or {}).get("name") for e in entries]
        if self._canary not in names:
            raise GateInputError(
                f"isvc {self._ref.name} in namespace {self._ref.namespace} has no spec.canary "
                f"entry with predictor.name {self._canary!r} (found: {names or 'none'})"
            )
        return names.index(self._canary)
