"""Istio VirtualService traffic: weights between two InferenceServices, and mirroring.

In KServe's Standard mode each InferenceService is a Deployment behind a Service named
``<isvc>-predictor`` (port 80). A canary is a second InferenceService; an Istio VirtualService
splits requests between the two predictor Services with ``http[].route[].weight``
(:class:`IstioWeightRouter`). KServe itself cannot mirror traffic (kserve#2978, kserve#2240), so
shadow live mode mirrors with the VirtualService's ``mirror`` and ``mirrorPercentage``: Istio
copies that share of requests to the candidate and drops its answers
(:func:`mirror_virtual_service`, :func:`mirror_patch`).
"""

from __future__ import annotations

from typing import Any

from quality_gates.shared.contracts.errors import GateInputError
from quality_gates.shared.release.kube_api import KubeApi, version_test, virtual_service_ref
from quality_gates.shared.release.traffic import check_percent

PREDICTOR_PORT = 80  # KServe's CommonDefaultHttpPort: the predictor Service's port


def predictor_host(isvc: str, namespace: str) -> str:
    """The cluster-local host of an InferenceService's predictor Service in Standard mode."""
    return f"{isvc}-predictor.{namespace}.svc.cluster.local"


def same_service(host: str, other: str, namespace: str) -> bool:
    """Whether two VirtualService hosts name one Service (``svc``, ``svc.ns``, ... FQDN)."""
    return _fqdn(host, namespace) == _fqdn(other, namespace)


def _fqdn(host: str, namespace: str) -> str:
    parts = host.rstrip(".").split(".")
    if len(parts) == 1:
        parts.append(namespace)
    if len(parts) == 2:
        parts.append("svc")
    if len(parts) == 3 and parts[2] == "svc":
        parts += ["cluster", "local"]
    return ".".join(parts)


class IstioWeightRouter:
    """The weights of a VirtualService's routes between a stable and a canary host.

    Every ``http[]`` entry that routes to either host must route to exactly those two (one
    destination each), with weights summing to 100; all such entries move together.

    Args:
        api: The Kubernetes API.
        namespace: The VirtualService's namespace (short hosts resolve in it).
        virtual_service: The VirtualService's name.
        stable_host: The stable predictor's host (:func:`predictor_host`).
        canary_host: The canary predictor's host.
    """

    def __init__(
        self,
        api: KubeApi,
        namespace: str,
        virtual_service: str,
        stable_host: str,
        canary_host: str,
    ) -> None:
        if same_service(stable_host, canary_host, namespace):
            raise GateInputError(f"stable and canary hosts are the same service: {stable_host}")
        self._api = api
        self._ref = virtual_service_ref(namespace, virtual_service)
        self._stable = stable_host
        self._canary = canary_host

    def set_canary_percent(self, percent: int) -> None:
        """Set the canary's weight to ``percent`` and the stable's to the rest, in one patch."""
        check_percent(percent)
        vs = self._api.get(self._ref)
        operations = version_test(vs)
        for http, stable, canary, _ in self._routes(vs):
            base = f"/spec/http/{http}/route"
            for index, weight in ((stable, 100 - percent), (canary, percent)):
                host = vs["spec"]["http"][http]["route"][index]["destination"]["host"]
                operations += [
                    {"op": "test", "path": f"{base}/{index}/destination/host", "value": host},
                    {"op": "add", "path": f"{base}/{index}/weight", "value": weight},
                ]
        self._api.patch(self._ref, operations, patch_type="json")

    def canary_percent(self) -> int:
        """The canary's weight, read back; every route must agree."""
        weights = {canary_weight for *_, canary_weight in self._routes(self._api.get(self._ref))}
        if len(weights) > 1:
            raise GateInputError(
                f"VirtualService {self._ref.name} in namespace {self._ref.namespace} gives "
                f"{self._canary} different weights on different routes: {sorted(weights)}"
            )
        return weights.pop()

    def describe(self) -> str:
        """One line naming the VirtualService and both hosts."""
        return (
            f"Standard: Istio VirtualService {self._ref.name} weights in namespace "
            f"{self._ref.namespace} (stable {self._stable}, canary {self._canary})"
        )

    def _routes(self, vs: dict[str, Any]) -> list[tuple[int, int, int, int]]:
        """``(http index, stable index, canary index, canary weight)`` of every split route."""
        where = f"VirtualService {self._ref.name} in namespace {self._ref.namespace}"
        namespace = self._ref.namespace
        found, hosts = [], []
        for i, http in enumerate((vs.get("spec") or {}).get("http") or []):
            route = http.get("route") or []
            names = [(r.get("destination") or {}).get("host", "") for r in route]
            hosts += names
            stable = [j for j, h in enumerate(names) if same_service(h, self._stable, namespace)]
            canary = [j for j, h in enumerate(names) if same_service(h, self._canary, namespace)]
            if not stable and not canary:
                continue
            label = f"{where}, http[{i}]" + (f" ({http['name']})" if http.get("name") else "")
            if len(stable) != 1 or len(canary) != 1 or len(route) != 2:
                raise GateInputError(
                    f"{label} must route to exactly {self._stable} and {self._canary}, "
                    f"one destination each; it routes to {names}"
                )
            weights = [int(r.get("weight") or 0) for r in route]
            if sum(weights) != 100:
                raise GateInputError(
                    f"{label}: weights {weights} of {names} sum to {sum(weights)}, not 100"
                )
            found.append((i, stable[0], canary[0], weights[canary[0]]))
        if not found:
            raise GateInputError(
                f"{where} routes to neither {self._stable} nor {self._canary} "
                f"(its destinations: {sorted(set(hosts)) or 'none'}); name the hosts it routes"
            )
        return found


def check_mirror_percent(percent: float) -> float:
    """Return ``percent`` when it is a number from 0 to 100 (Istio's ``mirrorPercentage``)."""
    if isinstance(percent, bool) or not isinstance(percent, int | float) or not 0 <= percent <= 100:
        raise ValueError(f"a mirrored share is a percent from 0 to 100, got {percent!r}")
    return float(percent)


def mirror_http_route(
    stable_host: str, mirror_host: str, percent: float, *, port: int = PREDICTOR_PORT
) -> dict[str, Any]:
    """An ``http[]`` entry: every request to stable, ``percent`` of them copied to the mirror.

    Args:
        stable_host: The host that answers (the stable predictor).
        mirror_host: The host that receives the copies (the candidate); its answers are dropped.
        percent: The share of requests copied, 0-100 (fractions allowed).
        port: The Services' port.
    """
    return {
        "name": "shadow-mirror",
        "route": [{"destination": {"host": stable_host, "port": {"number": port}}, "weight": 100}],
        "mirror": {"host": mirror_host, "port": {"number": port}},
        "mirrorPercentage": {"value": check_mirror_percent(percent)},
    }


def mirror_virtual_service(
    *,
    name: str,
    namespace: str,
    hosts: list[str],
    stable_host: str,
    mirror_host: str,
    percent: float,
    gateways: list[str] | None = None,
    port: int = PREDICTOR_PORT,
) -> dict[str, Any]:
    """A whole VirtualService for shadow live mode (apply it with ``kubectl apply -f``).

    Args:
        name: The VirtualService's name.
        namespace: Its namespace.
        hosts: The hosts clients call (``spec.hosts``).
        stable_host: The host that answers.
        mirror_host: The host the copies go to.
        percent: The share of requests copied, 0-100.
        gateways: ``spec.gateways`` (omitted: the mesh's sidecars only).
        port: The Services' port.
    """
    spec: dict[str, Any] = {
        "hosts": list(hosts),
        "http": [mirror_http_route(stable_host, mirror_host, percent, port=port)],
    }
    if gateways:
        spec["gateways"] = list(gateways)
    return {
        "apiVersion": "networking.istio.io/v1",
        "kind": "VirtualService",
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec,
    }


def mirror_patch(
    vs: dict[str, Any], *, stable_host: str, mirror_host: str, percent: float
) -> list[dict[str, Any]]:
    """JSON patch operations that mirror ``percent`` of an existing VirtualService's traffic.

    Every ``http[]`` entry routing to ``stable_host`` gets ``mirror`` and ``mirrorPercentage``;
    0 % removes them. Apply with ``KubeApi.patch(ref, ops, patch_type="json")``.

    Raises:
        GateInputError: When no route sends traffic to ``stable_host``.
    """
    percent = check_mirror_percent(percent)
    namespace = vs.get("metadata", {}).get("namespace", "default")
    operations = version_test(vs)
    port = {"number": PREDICTOR_PORT}
    for i, http in enumerate((vs.get("spec") or {}).get("http") or []):
        route = http.get("route") or []
        hosts = [(r.get("destination") or {}).get("host", "") for r in route]
        if not any(same_service(h, stable_host, namespace) for h in hosts):
            continue
        base = f"/spec/http/{i}"
        if percent == 0:
            operations += [{"op": "remove", "path": f"{base}/{k}"} for k in _MIRROR if k in http]
        else:
            mirror = {"host": mirror_host, "port": port}
            operations += [
                {"op": "add", "path": f"{base}/mirror", "value": mirror},
                {"op": "add", "path": f"{base}/mirrorPercentage", "value": {"value": percent}},
            ]
    if len(operations) == len(version_test(vs)) and percent:
        raise GateInputError(
            f"VirtualService {vs.get('metadata', {}).get('name')} has no route to {stable_host} "
            "to mirror"
        )
    return operations


_MIRROR = ("mirror", "mirrorPercentage")
