"""The few Kubernetes API calls a traffic router makes, behind a small interface.

A router reads a namespaced object and patches it: a KServe InferenceService, an Istio
VirtualService, and reads KServe's ``inferenceservice-config`` ConfigMap. :class:`KubeApi` is
that interface; :class:`KubernetesApi` implements it with the official ``kubernetes`` client
(``CustomObjectsApi``, ``CoreV1Api``), configured in-cluster or from a kubeconfig, and turns
every ``ApiException`` into one :class:`GateInputError` line that names the object and what to
fix (the RBAC verb for a 403, the object and namespace for a 404), never the response body.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from quality_gates.shared.contracts.errors import GateInputError

PatchType = Literal["merge", "json"]
# The RBAC verb each call needs, for the message of a 403.
_VERB = {"get": "get", "patch": "patch"}
# Connection refused, DNS, TLS: urllib3's errors (an HTTPError, not an OSError) and the OS's.
try:
    from urllib3.exceptions import HTTPError as _Urllib3Error
except ImportError:  # pragma: no cover - urllib3 comes with the kubernetes client
    _Urllib3Error = OSError
_UNREACHABLE = (_Urllib3Error, OSError)


@dataclass(frozen=True)
class ObjectRef:
    """A namespaced Kubernetes object: ``group``/``version``, resource ``plural``, namespace, name.

    The core group is ``""`` (a ConfigMap: ``ObjectRef("", "v1", "configmaps", ns, name)``).
    """

    group: str
    version: str
    plural: str
    namespace: str
    name: str

    def __str__(self) -> str:
        resource = f"{self.plural}.{self.group}" if self.group else self.plural
        return f"{resource}/{self.name} in namespace {self.namespace}"

    @property
    def rbac_resource(self) -> str:
        """The ``resources`` entry of a Role rule for this object (``plural`` in its group)."""
        return f"{self.plural} (apiGroups: [{self.group!r}])"


def isvc_ref(namespace: str, name: str) -> ObjectRef:
    """A KServe InferenceService (``serving.kserve.io/v1beta1``)."""
    return ObjectRef("serving.kserve.io", "v1beta1", "inferenceservices", namespace, name)


def virtual_service_ref(namespace: str, name: str) -> ObjectRef:
    """An Istio VirtualService (``networking.istio.io/v1``)."""
    return ObjectRef("networking.istio.io", "v1", "virtualservices", namespace, name)


def config_map_ref(namespace: str, name: str) -> ObjectRef:
    """A core ConfigMap."""
    return ObjectRef("", "v1", "configmaps", namespace, name)


def version_test(obj: dict[str, Any]) -> list[dict[str, Any]]:
    """A JSON patch ``test`` of ``resourceVersion``: the patch applies to the version read.

    Index-addressed operations (``/spec/http/0/route/1/weight``) are only right for the version
    they were computed from; the API server refuses the whole patch when the test fails.
    """
    version = obj.get("metadata", {}).get("resourceVersion")
    return (
        [{"op": "test", "path": "/metadata/resourceVersion", "value": version}] if version else []
    )


class KubeApi(Protocol):
    """Get and patch one namespaced object; errors are one-line :class:`GateInputError`."""

    def get(self, ref: ObjectRef) -> dict[str, Any]:
        """Return the object as a plain dict (``metadata``, ``spec``, ``status``, ``data``)."""

    def patch(self, ref: ObjectRef, body: Any, *, patch_type: PatchType) -> dict[str, Any]:
        """Apply a JSON merge patch (a dict) or a JSON patch (a list of operations).

        Returns:
            The object as the API server stored it.
        """


def api_error(exc: Exception, ref: ObjectRef, verb: str) -> GateInputError:
    """Translate a ``kubernetes`` ``ApiException`` into one actionable line.

    Args:
        exc: The exception the client raised (``status`` and ``reason`` are read, never the
            body beyond the names of the fields a 422 refused).
        ref: The object the call was about.
        verb: ``get`` or ``patch``.

    Returns:
        A :class:`GateInputError` naming the object and what to fix.
    """
    status = getattr(exc, "status", None)
    what = f"cannot {verb} {ref}"
    if status == 401:
        return GateInputError(
            f"{what}: the Kubernetes API refused the credentials (401); check the service "
            "account token or the kubeconfig context"
        )
    if status == 403:
        return GateInputError(
            f"{what}: forbidden (403); grant the rollout's service account verb "
            f"{_VERB.get(verb, verb)!r} on {ref.rbac_resource} with resourceNames "
            f"[{ref.name!r}] in namespace {ref.namespace} (manifests/serving/*/rollout-rbac.yaml)"
        )
    if status == 404:
        return GateInputError(
            f"{what}: not found (404); check the name and namespace, and that the "
            f"{ref.plural}.{ref.group or 'core'} API ({ref.group or 'core'}/{ref.version}) is "
            "installed on the cluster"
        )
    if status == 409:
        return GateInputError(
            f"{what}: conflict (409), the object changed while it was being patched; "
            "read it again and retry"
        )
    if status == 422:
        fields = _refused_fields(getattr(exc, "body", None))
        return GateInputError(
            f"{what}: the API server refused the change as invalid (422)"
            + (f" at {', '.join(fields)}" if fields else "")
            + "; the traffic is unchanged, check the values against the CRD"
        )
    reason = " ".join(str(getattr(exc, "reason", "") or "").split())[:80]
    return GateInputError(f"{what}: the Kubernetes API answered {status} {reason}".rstrip())


def _refused_fields(body: Any) -> list[str]:
    """The field paths a 422 Status names (``details.causes[].field``), at most five."""
    try:
        causes = json.loads(body).get("details", {}).get("causes", [])
        fields = [str(c["field"]) for c in causes if isinstance(c, dict) and c.get("field")]
    except (TypeError, ValueError, AttributeError):
        return []
    return [f[:80] for f in dict.fromkeys(fields)][:5]


class KubernetesApi:
    """:class:`KubeApi` over the official ``kubernetes`` client.

    Args:
        api_client: A configured ``kubernetes.client.ApiClient``; without one, the in-cluster
            configuration is loaded when the process runs in a pod, else the kubeconfig
            (``$KUBECONFIG`` or ``~/.kube/config``, its current context).
    """

    def __init__(self, api_client: Any = None) -> None:
        client = _client_module()
        self._exception = client.exceptions.ApiException
        api_client = api_client if api_client is not None else _configured_client()
        self._custom = client.CustomObjectsApi(api_client)
        self._core = client.CoreV1Api(api_client)

    def get(self, ref: ObjectRef) -> dict[str, Any]:
        """Return the object as a dict; a ConfigMap through ``CoreV1Api``."""
        try:
            if ref.group == "" and ref.plural == "configmaps":
                found = self._core.read_namespaced_config_map(ref.name, ref.namespace)
                return self._core.api_client.sanitize_for_serialization(found)
            return self._custom.get_namespaced_custom_object(
                ref.group, ref.version, ref.namespace, ref.plural, ref.name
            )
        except self._exception as exc:
            raise api_error(exc, ref, "get") from None
        except _UNREACHABLE as exc:
            raise _unreachable(exc, ref, "get") from None

    def patch(self, ref: ObjectRef, body: Any, *, patch_type: PatchType) -> dict[str, Any]:
        """Patch a custom object with a merge patch (dict) or a JSON patch (list)."""
        expected = dict if patch_type == "merge" else list
        if not isinstance(body, expected):
            raise TypeError(f"a {patch_type} patch is a {expected.__name__}, got {type(body)}")
        try:
            if patch_type == "merge":
                return self._custom.patch_namespaced_custom_object(
                    ref.group, ref.version, ref.namespace, ref.plural, ref.name, body
                )
            return self._json_patch(ref, body)
        except self._exception as exc:
            raise api_error(exc, ref, "patch") from None
        except _UNREACHABLE as exc:
            raise _unreachable(exc, ref, "patch") from None

    def _json_patch(self, ref: ObjectRef, operations: list) -> dict[str, Any]:
        # The client kfp pins (kubernetes < 31) always sends custom-object patches as
        # application/merge-patch+json, which would make a list of operations replace the
        # object; send the same request with the JSON patch content type instead.
        return self._custom.api_client.call_api(
            "/apis/{group}/{version}/namespaces/{namespace}/{plural}/{name}",
            "PATCH",
            {
                "group": ref.group,
                "version": ref.version,
                "namespace": ref.namespace,
                "plural": ref.plural,
                "name": ref.name,
            },
            [],
            {"Accept": "application/json", "Content-Type": "application/json-patch+json"},
            body=operations,
            response_type="object",
            auth_settings=["BearerToken"],
            _return_http_data_only=True,
        )


def _unreachable(exc: Exception, ref: ObjectRef, verb: str) -> GateInputError:
    first = (str(exc).strip().splitlines() or [""])[0][:160]
    return GateInputError(
        f"cannot {verb} {ref}: the Kubernetes API is unreachable ({type(exc).__name__}: {first}); "
        "check the cluster address and network policy"
    )


def _client_module() -> Any:
    try:
        from kubernetes import client
    except ImportError:
        raise GateInputError(
            "the Kubernetes routers need the kubernetes client: "
            "pip install 'kfp-quality-gates[kube]'"
        ) from None
    return client


def _configured_client() -> Any:
    """An ApiClient from the in-cluster service account, else from the kubeconfig."""
    from kubernetes import client, config

    try:
        config.load_incluster_config()
    except config.ConfigException:
        try:
            config.load_kube_config()
        except (config.ConfigException, OSError) as exc:
            first = (str(exc).strip().splitlines() or [""])[0][:160]
            raise GateInputError(
                "no Kubernetes configuration: not running in a pod and no usable kubeconfig "
                f"({first}); set KUBECONFIG or run the task with a service account"
            ) from None
    return client.ApiClient()
