"""Where the traffic goes: the one interface every router implements.

A canary rollout only ever asks a router to send a percentage of the requests to the canary and
the rest to the stable model, and to say what it sends now. Locally that is nginx's weighted
``split_clients`` (:mod:`quality_gates.shared.release.nginx`); on a cluster a KServe
InferenceService's ``canaryTrafficPercent`` (Serverless mode) or the weights of an Istio
VirtualService between two InferenceServices (Standard mode), through the official
``kubernetes`` client (:mod:`quality_gates.shared.release.kube`).

On a cluster, :func:`quality_gates.shared.release.kube.detect_router` reads the
InferenceService's deployment mode and returns the router that really moves traffic there, with
a one-line reason: :class:`~quality_gates.shared.release.kserve.KServeServerlessRouter`
(Serverless), :class:`~quality_gates.shared.release.istio.IstioWeightRouter` (Standard with a
VirtualService) or :class:`~quality_gates.shared.release.kserve.KServeStandardCanaryRouter`
(Standard with KServe 0.20's ``spec.canary``). Their API calls go through
:class:`~quality_gates.shared.release.kube_api.KubeApi`.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable


@runtime_checkable
class TrafficRouter(Protocol):
    """Splits live traffic between a stable and a canary model."""

    def set_canary_percent(self, percent: int) -> None:
        """Send ``percent`` (0-100) of new requests to the canary, the rest to stable.

        Raises:
            GateInputError: One line naming the resource when the change cannot be made;
                the traffic is then as it was before the call.
        """

    def canary_percent(self) -> int:
        """The share of requests the canary receives now, read back from the router."""

    def describe(self) -> str:
        """One line for reports and the audit log: which router, which resource, which mode."""


def check_percent(percent: int) -> int:
    """Return ``percent`` when it is an integer from 0 to 100, else raise ``ValueError``."""
    if isinstance(percent, bool) or not isinstance(percent, int) or not 0 <= percent <= 100:
        raise ValueError(f"a traffic share is an integer percent from 0 to 100, got {percent!r}")
    return percent
