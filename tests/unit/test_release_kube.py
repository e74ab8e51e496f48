"""The cluster traffic routers, offline: no API server runs in CI.

A recording fake :class:`KubeApi` holds the repository's own manifests in memory, applies every
merge patch (RFC 7386) and JSON patch (RFC 6902, the ``jsonpatch`` package) the routers send,
and validates each resulting object against the official schemas (KServe's InferenceService CRD
sub-schema and Istio's VirtualService CRD schema, vendored in manifests/schemas/, closed as the
API server's strict field validation closes them). A patch that the schema or a JSON patch
``test`` refuses becomes a real ``kubernetes`` ``ApiException`` 422, translated by the same
function the real client uses. The patches are also applied by ``kubectl patch --local`` to the
manifest files, and the real :class:`KubernetesApi` is driven against a loopback HTTP server to
check what it sends and how it reports 403/404.
"""

from __future__ import annotations

import copy
import importlib.util
import json
import shutil
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import jsonpatch
import pytest
import yaml
from kubernetes.client import ApiClient, Configuration
from kubernetes.client.exceptions import ApiException

from quality_gates.shared.contracts.errors import GateInputError
from quality_gates.shared.release import istio, kserve
from quality_gates.shared.release.istio import IstioWeightRouter, predictor_host
from quality_gates.shared.release.kserve import (
    KServeServerlessRouter,
    KServeStandardCanaryRouter,
)
from quality_gates.shared.release.kube import detect_router
from quality_gates.shared.release.kube_api import (
    KubernetesApi,
    ObjectRef,
    api_error,
    isvc_ref,
    virtual_service_ref,
)
from quality_gates.shared.release.traffic import TrafficRouter

REPO = Path(__file__).resolve().parents[2]
SERVING = REPO / "manifests" / "serving"
NS = "kubeflow-user-example-com"
KUBECTL = shutil.which("kubectl")
needs_kubectl = pytest.mark.skipif(KUBECTL is None, reason="kubectl not on PATH")

_spec = importlib.util.spec_from_file_location(
    "k8s_schemas", REPO / "tests" / "manifests" / "k8s_schemas.py"
)
k8s_schemas = importlib.util.module_from_spec(_spec)
sys.modules.setdefault("k8s_schemas", k8s_schemas)
_spec.loader.exec_module(k8s_schemas)

STEPS = (5, 10, 50, 100, 0)


# --------------------------------------------------------------------------- the fake API


def _merge(target, patch):
    """RFC 7386 JSON merge patch (what application/merge-patch+json does to a custom object)."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = _merge(result.get(key), value)
    return result


class FakeKube:
    """In-memory objects; every patch applied, recorded and schema-validated, as a server would."""

    def __init__(self, *objects: dict, controller=None):
        self.objects: dict[tuple[str, str, str], dict] = {}
        self.patches: list[tuple[ObjectRef, object, str]] = []
        self.gets: list[ObjectRef] = []
        self.fail: dict[tuple[str, str], ApiException] = {}
        self.controller = controller  # plays KServe/Knative: writes status from spec
        for obj in objects:
            self.put(obj)

    def put(self, obj: dict) -> None:
        obj = copy.deepcopy(obj)
        meta = obj.setdefault("metadata", {})
        meta.setdefault("namespace", NS)
        meta.setdefault("resourceVersion", "1")
        meta.setdefault("generation", 1)
        plural = {"InferenceService": "inferenceservices", "VirtualService": "virtualservices"}
        key = (plural.get(obj["kind"], obj["kind"].lower() + "s"), meta["namespace"], meta["name"])
        assert k8s_schemas.object_problems([obj], "fixture") == []
        self.objects[key] = obj

    def _find(self, ref: ObjectRef, verb: str) -> dict:
        if (verb, ref.name) in self.fail:
            raise api_error(self.fail[(verb, ref.name)], ref, verb)
        try:
            return self.objects[(ref.plural, ref.namespace, ref.name)]
        except KeyError:
            raise api_error(ApiException(status=404, reason="Not Found"), ref, verb) from None

    def get(self, ref: ObjectRef) -> dict:
        self.gets.append(ref)
        return copy.deepcopy(self._find(ref, "get"))

    def patch(self, ref: ObjectRef, body, *, patch_type: str) -> dict:
        current = self._find(ref, "patch")
        self.patches.append((ref, copy.deepcopy(body), patch_type))
        try:
            if patch_type == "merge":
                assert isinstance(body, dict)
                updated = _merge(current, body)
            else:
                assert isinstance(body, list)
                updated = jsonpatch.apply_patch(current, body)
        except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException) as exc:
            raise api_error(_status_422(str(exc)), ref, "patch") from None
        problems = k8s_schemas.object_problems([updated], "patched")
        if problems:
            raise api_error(_status_422(problems[0]), ref, "patch")
        meta = updated["metadata"]
        meta["resourceVersion"] = str(int(meta["resourceVersion"]) + 1)
        if updated.get("spec") != current.get("spec"):
            meta["generation"] += 1
        if self.controller:
            self.controller(updated)
        self.objects[(ref.plural, ref.namespace, ref.name)] = updated
        return copy.deepcopy(updated)


def _status_422(message: str) -> ApiException:
    exc = ApiException(status=422, reason="Unprocessable Entity")
    exc.body = json.dumps(
        {"kind": "Status", "message": message, "details": {"causes": [{"field": "spec"}]}}
    )
    return exc


def knative(isvc: dict) -> None:
    """What KServe's ksvc reconciler and Knative report after a canaryTrafficPercent change."""
    percent = isvc["spec"]["predictor"].get("canaryTrafficPercent")
    traffic = [{"latestRevision": True, "percent": 100, "revisionName": "credit-risk-00002"}]
    if percent is not None:
        traffic[0]["percent"] = percent
        if percent < 100:
            traffic.append(
                {
                    "latestRevision": False,
                    "percent": 100 - percent,
                    "revisionName": "credit-risk-00001",
                    "tag": "prev",
                }
            )
    isvc["status"] = {
        "observedGeneration": isvc["metadata"].get("generation", 1),
        "components": {
            "predictor": {
                "latestReadyRevision": "credit-risk-00002",
                "latestRolledoutRevision": "credit-risk-00001",
                "traffic": traffic,
            }
        },
    }


def _load(relpath: str) -> dict:
    (doc,) = [d for d in yaml.safe_load_all((SERVING / relpath).read_text()) if d]
    return doc


def serverless_isvc() -> dict:
    return _load("serverless/inferenceservice.yaml")


def standard_objects() -> list[dict]:
    return [
        _load("standard/inferenceservice-stable.yaml"),
        _load("standard/inferenceservice-canary.yaml"),
        _load("standard/virtualservice.yaml"),
    ]


STABLE = predictor_host("credit-risk-stable", NS)
CANARY = predictor_host("credit-risk-canary", NS)


def _one_line(exc: pytest.ExceptionInfo) -> str:
    text = str(exc.value)
    assert "\n" not in text and "Traceback" not in text
    return text


def _kubectl_patch(manifest: Path, patch_type: str, body) -> dict:
    proc = subprocess.run(
        [KUBECTL, "patch", "--local", "-f", str(manifest), "--type", patch_type]
        + ["-p", json.dumps(body), "-o", "json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


# --------------------------------------------------------------------------- Serverless


def test_serverless_router_steps_canary_traffic_and_reads_knatives_split_back():
    api = FakeKube(serverless_isvc(), controller=knative)
    router = KServeServerlessRouter(api, NS, "credit-risk")
    assert isinstance(router, TrafficRouter)
    seen = []
    for percent in STEPS:
        router.set_canary_percent(percent)
        seen.append(router.canary_percent())
        stored = api.objects[("inferenceservices", NS, "credit-risk")]
        assert stored["spec"]["predictor"]["canaryTrafficPercent"] == percent
        assert k8s_schemas.object_problems([stored], "after patch") == []
    assert seen == list(STEPS)
    assert [(b, t) for _, b, t in api.patches] == [
        ({"spec": {"predictor": {"canaryTrafficPercent": p}}}, "merge") for p in STEPS
    ]
    assert router.describe() == (
        f"Serverless: canaryTrafficPercent on isvc credit-risk in namespace {NS}"
    )


def test_serverless_read_back_is_the_applied_split_not_the_request():
    isvc = serverless_isvc()
    knative(isvc)  # status: 10 % to the latest revision, as the manifest asks
    isvc["spec"]["predictor"]["canaryTrafficPercent"] = 50  # asked, not yet applied
    api = FakeKube(isvc)
    assert KServeServerlessRouter(api, NS, "credit-risk").canary_percent() == 10
    del isvc["status"]
    api.put(isvc)
    assert KServeServerlessRouter(api, NS, "credit-risk").canary_percent() == 50


@needs_kubectl
def test_serverless_patch_applies_to_the_manifest_with_kubectl():
    api = FakeKube(serverless_isvc())
    for percent in (5, 100, 0):
        KServeServerlessRouter(api, NS, "credit-risk").set_canary_percent(percent)
        _, body, patch_type = api.patches[-1]
        patched = _kubectl_patch(SERVING / "serverless" / "inferenceservice.yaml", patch_type, body)
        assert patched["spec"]["predictor"]["canaryTrafficPercent"] == percent
        assert k8s_schemas.object_problems([patched], "kubectl patch") == []
        stored = api.objects[("inferenceservices", NS, "credit-risk")]
        assert patched["spec"] == stored["spec"]


@pytest.mark.parametrize("mode", ["RawDeployment", "Standard"])
def test_standard_mode_refuses_canary_traffic_percent(mode):
    isvc = _load("standard/inferenceservice-stable.yaml")
    isvc["metadata"]["annotations"]["serving.kserve.io/deploymentMode"] = mode
    api = FakeKube(isvc)
    router = KServeServerlessRouter(api, NS, "credit-risk-stable")
    with pytest.raises(GateInputError) as exc:
        router.set_canary_percent(10)
    text = _one_line(exc)
    assert f"serving.kserve.io/deploymentMode={mode}" in text
    assert "kserve#5335" in text and "Istio VirtualService router" in text
    assert api.patches == []
    with pytest.raises(GateInputError, match="Standard mode"):
        router.canary_percent()


def test_serverless_router_refuses_a_bad_percent_before_any_call():
    api = FakeKube(serverless_isvc())
    for bad in (101, -1, 12.5, True, "10"):
        with pytest.raises(ValueError):
            KServeServerlessRouter(api, NS, "credit-risk").set_canary_percent(bad)
    assert api.patches == [] and api.gets == []


# --------------------------------------------------------------------------- Istio weights


def test_istio_router_steps_weights_and_every_patched_object_validates():
    api = FakeKube(*standard_objects())
    router = IstioWeightRouter(api, NS, "credit-risk", STABLE, CANARY)
    assert isinstance(router, TrafficRouter)
    assert router.canary_percent() == 0
    for percent in STEPS:
        router.set_canary_percent(percent)
        assert router.canary_percent() == percent
        vs = api.objects[("virtualservices", NS, "credit-risk")]
        weights = {r["destination"]["host"]: r["weight"] for r in vs["spec"]["http"][0]["route"]}
        assert weights == {STABLE: 100 - percent, CANARY: percent}
        assert k8s_schemas.object_problems([vs], "after patch") == []
    ops = api.patches[0][1]
    assert api.patches[0][2] == "json"
    assert ops[0] == {"op": "test", "path": "/metadata/resourceVersion", "value": "1"}
    assert {"op": "test", "path": "/spec/http/0/route/1/destination/host", "value": CANARY} in ops
    assert "Istio VirtualService credit-risk" in router.describe()


@needs_kubectl
def test_istio_patch_applies_to_the_manifest_with_kubectl():
    api = FakeKube(*standard_objects())
    IstioWeightRouter(api, NS, "credit-risk", STABLE, CANARY).set_canary_percent(50)
    _, ops, patch_type = api.patches[-1]
    # The file carries no resourceVersion (the server adds it): kubectl gets the rest.
    ops = [op for op in ops if op["path"] != "/metadata/resourceVersion"]
    patched = _kubectl_patch(SERVING / "standard" / "virtualservice.yaml", patch_type, ops)
    assert [r["weight"] for r in patched["spec"]["http"][0]["route"]] == [50, 50]
    assert k8s_schemas.object_problems([patched], "kubectl patch") == []


def test_istio_router_accepts_short_hosts_and_refuses_bad_splits():
    (_, _, vs) = standard_objects()
    route = vs["spec"]["http"][0]["route"]
    route[0]["destination"]["host"] = "credit-risk-stable-predictor"
    api = FakeKube(vs)
    router = IstioWeightRouter(api, NS, "credit-risk", STABLE, CANARY)
    router.set_canary_percent(10)
    assert router.canary_percent() == 10

    bad = copy.deepcopy(vs)
    bad["spec"]["http"][0]["route"][1]["weight"] = 20  # 100 + 20
    api.put(bad)
    with pytest.raises(GateInputError) as exc:
        router.canary_percent()
    assert "sum to 120, not 100" in _one_line(exc)

    other = copy.deepcopy(vs)
    other["spec"]["http"][0]["route"][1]["destination"]["host"] = "someone-else"
    api.put(other)
    with pytest.raises(GateInputError) as exc:
        router.set_canary_percent(10)
    text = _one_line(exc)
    assert "must route to exactly" in text and "someone-else" in text

    neither = copy.deepcopy(vs)
    for r in neither["spec"]["http"][0]["route"]:
        r["destination"]["host"] += "-old"
    api.put(neither)
    with pytest.raises(GateInputError, match="routes to neither"):
        router.canary_percent()


def test_a_patch_the_crd_schema_refuses_is_a_one_line_422():
    (_, _, vs) = standard_objects()
    api = FakeKube(vs)
    ref = virtual_service_ref(NS, "credit-risk")
    typo = [{"op": "add", "path": "/spec/http/0/route/1/weigth", "value": 5}]
    with pytest.raises(GateInputError) as exc:
        api.patch(ref, typo, patch_type="json")
    assert "refused the change as invalid (422) at spec" in _one_line(exc)
    as_text = [{"op": "add", "path": "/spec/http/0/route/1/weight", "value": "5"}]
    with pytest.raises(GateInputError):
        api.patch(ref, as_text, patch_type="json")
    assert api.objects[("virtualservices", NS, "credit-risk")]["spec"] == vs["spec"]


def test_istio_patch_is_refused_when_the_object_changed_since_it_was_read():
    api = FakeKube(*standard_objects())
    router = IstioWeightRouter(api, NS, "credit-risk", STABLE, CANARY)
    stale = api.get(virtual_service_ref(NS, "credit-risk"))
    router.set_canary_percent(5)  # someone else's change: resourceVersion 1 -> 2
    api.objects[("virtualservices", NS, "credit-risk")] = stale | {
        "metadata": {**stale["metadata"], "resourceVersion": "7"}
    }
    original_get = api.get
    api.get = lambda ref: stale  # the router computes its patch from the old read
    with pytest.raises(GateInputError, match="422"):
        router.set_canary_percent(50)
    api.get = original_get
    assert router.canary_percent() == 0


# --------------------------------------------------------------------------- mirroring


def test_mirror_manifest_validates_against_istios_schema():
    vs = istio.mirror_virtual_service(
        name="credit-risk-shadow",
        namespace=NS,
        hosts=[STABLE],
        stable_host=STABLE,
        mirror_host=CANARY,
        percent=12.5,
        gateways=["mesh"],
    )
    assert k8s_schemas.object_problems([vs], "mirror") == []
    (http,) = vs["spec"]["http"]
    assert http["mirror"]["host"] == CANARY
    assert http["mirrorPercentage"] == {"value": 12.5}
    assert http["route"] == [
        {"destination": {"host": STABLE, "port": {"number": 80}}, "weight": 100}
    ]
    for bad in (101, -1, True):
        with pytest.raises(ValueError):
            istio.mirror_http_route(STABLE, CANARY, bad)


def test_mirror_patch_on_the_standard_virtual_service_validates_and_removes():
    api = FakeKube(*standard_objects())
    ref = virtual_service_ref(NS, "credit-risk")
    ops = istio.mirror_patch(api.get(ref), stable_host=STABLE, mirror_host=CANARY, percent=100)
    api.patch(ref, ops, patch_type="json")
    http = api.objects[("virtualservices", NS, "credit-risk")]["spec"]["http"][0]
    assert http["mirror"] == {"host": CANARY, "port": {"number": 80}}
    assert http["mirrorPercentage"] == {"value": 100.0}
    # The weights still split as before: mirroring copies, it does not move answers.
    assert IstioWeightRouter(api, NS, "credit-risk", STABLE, CANARY).canary_percent() == 0
    ops = istio.mirror_patch(api.get(ref), stable_host=STABLE, mirror_host=CANARY, percent=0)
    api.patch(ref, ops, patch_type="json")
    assert "mirror" not in api.objects[("virtualservices", NS, "credit-risk")]["spec"]["http"][0]
    with pytest.raises(GateInputError, match="no route to"):
        istio.mirror_patch(api.get(ref), stable_host="elsewhere", mirror_host=CANARY, percent=5)


@needs_kubectl
def test_mirror_patch_matches_the_standard_mirror_kustomization(tmp_path):
    shutil.copytree(SERVING, tmp_path / "serving")
    base = tmp_path / "serving" / "base"
    (base / "storage-s3.env").write_text("AWS_ACCESS_KEY_ID=x\nAWS_SECRET_ACCESS_KEY=y\n")
    out = subprocess.run(
        [KUBECTL, "kustomize", str(tmp_path / "serving" / "standard-mirror")],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    (rendered,) = [d for d in yaml.safe_load_all(out) if d and d["kind"] == "VirtualService"]
    vs = standard_objects()[2]
    patched = jsonpatch.apply_patch(
        vs, istio.mirror_patch(vs, stable_host=STABLE, mirror_host=CANARY, percent=100)
    )
    assert patched["spec"]["http"] == rendered["spec"]["http"]


# --------------------------------------------------------------------------- API errors


def test_forbidden_and_not_found_become_one_actionable_line():
    ref = isvc_ref(NS, "credit-risk")
    forbidden = ApiException(status=403, reason="Forbidden")
    forbidden.body = json.dumps({"message": "token sk-secret-123 cannot patch", "code": 403})
    text = str(api_error(forbidden, ref, "patch"))
    assert "\n" not in text
    assert "forbidden (403)" in text and "'patch'" in text
    assert "inferenceservices (apiGroups: ['serving.kserve.io'])" in text
    assert "resourceNames ['credit-risk']" in text and NS in text
    assert "sk-secret-123" not in text

    missing = str(api_error(ApiException(status=404, reason="Not Found"), ref, "get"))
    assert "cannot get inferenceservices.serving.kserve.io/credit-risk" in missing
    assert f"in namespace {NS}: not found (404)" in missing

    conflict = str(api_error(ApiException(status=409, reason="Conflict"), ref, "patch"))
    assert "conflict (409)" in conflict and "retry" in conflict


def test_router_reports_a_forbidden_patch_in_one_line():
    api = FakeKube(serverless_isvc())
    api.fail[("patch", "credit-risk")] = ApiException(status=403, reason="Forbidden")
    with pytest.raises(GateInputError) as exc:
        KServeServerlessRouter(api, NS, "credit-risk").set_canary_percent(10)
    assert "grant the rollout's service account verb 'patch'" in _one_line(exc)
    with pytest.raises(GateInputError) as exc:
        detect_router(api, NS, "no-such-isvc")
    assert "inferenceservices.serving.kserve.io/no-such-isvc" in _one_line(exc)


class _FakeApiServer(BaseHTTPRequestHandler):
    """A loopback stand-in for the API server: records requests, answers per path."""

    requests: list[tuple[str, str, str, object]] = []
    answers: dict[str, tuple[int, dict]] = {}

    def _answer(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length)) if length else None
        type(self).requests.append(
            (self.command, self.path, self.headers.get("Content-Type"), body)
        )
        status, payload = type(self).answers.get(self.path.split("?")[0], (404, {}))
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_PATCH = _answer

    def log_message(self, *args):
        pass


@pytest.fixture
def api_server():
    server = HTTPServer(("127.0.0.1", 0), _FakeApiServer)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _FakeApiServer.requests, _FakeApiServer.answers = [], {}
    config = Configuration(host=f"http://127.0.0.1:{server.server_port}")
    config.api_key = {"authorization": "Bearer tok-never-print-me"}
    yield KubernetesApi(ApiClient(config)), _FakeApiServer
    server.shutdown()
    server.server_close()


def test_real_client_sends_merge_and_json_patches_with_their_content_types(api_server):
    api, server = api_server
    isvc_path = f"/apis/serving.kserve.io/v1beta1/namespaces/{NS}/inferenceservices/credit-risk"
    vs_path = f"/apis/networking.istio.io/v1/namespaces/{NS}/virtualservices/credit-risk"
    server.answers = {isvc_path: (200, serverless_isvc()), vs_path: (200, standard_objects()[2])}
    assert api.get(isvc_ref(NS, "credit-risk"))["metadata"]["name"] == "credit-risk"
    api.patch(isvc_ref(NS, "credit-risk"), {"spec": {}}, patch_type="merge")
    ops = [{"op": "add", "path": "/spec/http/0/route/1/weight", "value": 5}]
    api.patch(virtual_service_ref(NS, "credit-risk"), ops, patch_type="json")
    assert [(m, p.split("?")[0], t if m == "PATCH" else "") for m, p, t, _ in server.requests] == [
        ("GET", isvc_path, ""),
        ("PATCH", isvc_path, "application/merge-patch+json"),
        ("PATCH", vs_path, "application/json-patch+json"),
    ]
    assert server.requests[-1][3] == ops


def test_real_client_turns_403_and_404_into_one_line(api_server):
    api, server = api_server
    vs_path = f"/apis/networking.istio.io/v1/namespaces/{NS}/virtualservices/credit-risk"
    server.answers = {
        vs_path: (403, {"kind": "Status", "message": "tok-never-print-me is forbidden"})
    }
    with pytest.raises(GateInputError) as exc:
        api.patch(virtual_service_ref(NS, "credit-risk"), [], patch_type="json")
    text = _one_line(exc)
    assert "forbidden (403)" in text and "virtualservices" in text
    assert "tok-never-print-me" not in text
    with pytest.raises(GateInputError) as exc:
        api.get(isvc_ref(NS, "gone"))
    assert "not found (404)" in _one_line(exc)
    with pytest.raises(GateInputError) as exc:
        api.get(ObjectRef("", "v1", "configmaps", "kserve", "inferenceservice-config"))
    assert "configmaps/inferenceservice-config in namespace kserve" in _one_line(exc)


def test_unreachable_api_server_is_one_line():
    config = Configuration(host="http://127.0.0.1:9")  # discard port: connection refused
    config.retries = 0
    api = KubernetesApi(ApiClient(config))
    with pytest.raises(GateInputError) as exc:
        api.get(isvc_ref(NS, "credit-risk"))
    assert "the Kubernetes API is unreachable" in _one_line(exc)


# --------------------------------------------------------------------------- detection


def test_detects_serverless_from_the_annotation():
    api = FakeKube(serverless_isvc(), controller=knative)
    router, decision = detect_router(api, NS, "credit-risk")
    assert isinstance(router, KServeServerlessRouter)
    assert decision.startswith("Serverless: canaryTrafficPercent on isvc credit-risk")
    assert "annotation serving.kserve.io/deploymentMode=Serverless" in decision
    router.set_canary_percent(50)
    assert router.canary_percent() == 50


def test_detects_standard_and_uses_the_virtual_service():
    api = FakeKube(*standard_objects())
    router, decision = detect_router(
        api, NS, "credit-risk-stable", "credit-risk", canary_isvc="credit-risk-canary"
    )
    assert isinstance(router, IstioWeightRouter)
    assert decision.startswith("Standard: Istio VirtualService credit-risk weights")
    assert "deploymentMode=RawDeployment" in decision
    for percent in STEPS:
        router.set_canary_percent(percent)
        assert router.canary_percent() == percent


def test_standard_without_a_virtual_service_is_refused():
    api = FakeKube(*standard_objects())
    with pytest.raises(GateInputError) as exc:
        detect_router(api, NS, "credit-risk-stable")
    text = _one_line(exc)
    assert "Standard mode" in text and "kserve#5335" in text and "VirtualService" in text
    with pytest.raises(GateInputError, match="name the canary"):
        detect_router(api, NS, "credit-risk-stable", "credit-risk")


def _without_annotation(isvc: dict) -> dict:
    isvc = copy.deepcopy(isvc)
    del isvc["metadata"]["annotations"]["serving.kserve.io/deploymentMode"]
    return isvc


def _kserve_config(mode: str) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "inferenceservice-config", "namespace": "kserve"},
        "data": {"deploy": json.dumps({"defaultDeploymentMode": mode})},
    }


def test_without_annotation_the_cluster_default_decides():
    api = FakeKube(_without_annotation(serverless_isvc()), _kserve_config("Knative"))
    router, decision = detect_router(api, NS, "credit-risk")
    assert isinstance(router, KServeServerlessRouter)
    assert "cluster default Knative from ConfigMap kserve/inferenceservice-config" in decision

    objects = standard_objects()
    api = FakeKube(_without_annotation(objects[0]), *objects[1:], _kserve_config("Standard"))
    router, decision = detect_router(
        api, NS, "credit-risk-stable", "credit-risk", canary_isvc="credit-risk-canary"
    )
    assert isinstance(router, IstioWeightRouter) and "cluster default Standard" in decision


def test_without_annotation_or_config_map_the_assumption_is_stated():
    isvc = _without_annotation(serverless_isvc())
    api = FakeKube(isvc)
    api.fail[("get", "inferenceservice-config")] = ApiException(status=403, reason="Forbidden")
    with pytest.raises(GateInputError) as exc:
        detect_router(api, NS, "credit-risk")
    text = _one_line(exc)
    assert "assumed KServe's built-in default Standard" in text and "forbidden (403)" in text
    # The controller's own report of the mode outranks the assumption.
    knative(isvc)
    isvc["status"]["deploymentMode"] = "Serverless"
    api.put(isvc)
    router, decision = detect_router(api, NS, "credit-risk")
    assert isinstance(router, KServeServerlessRouter)
    assert "status.deploymentMode=Serverless" in decision


def test_model_mesh_is_refused():
    isvc = serverless_isvc()
    isvc["metadata"]["annotations"]["serving.kserve.io/deploymentMode"] = "ModelMesh"
    with pytest.raises(GateInputError, match="not ModelMesh"):
        detect_router(FakeKube(isvc), NS, "credit-risk")


# --------------------------------------------------------------------------- KServe 0.20 canary


def _native_canary_isvc() -> dict:
    isvc = _load("standard/inferenceservice-stable.yaml")
    isvc["metadata"]["name"] = "credit-risk"
    isvc["metadata"]["annotations"]["serving.kserve.io/deploymentMode"] = "Standard"
    isvc["spec"]["predictor"]["name"] = "v1"
    canary = copy.deepcopy(isvc["spec"]["predictor"])
    canary["name"] = "v2"
    canary["model"]["name"] = "credit-risk-v2"  # the CRD requires it of a canary's model
    del canary["maxReplicas"]  # KServe's validation: a canary has fixed replicas
    isvc["spec"]["canary"] = [{"predictor": canary, "trafficPercent": 0}]
    return isvc


def test_detects_kserve_standard_canary_and_steps_it():
    def controller(isvc):  # the canary Deployment is ready: KServe routes what spec asks
        isvc["status"] = {
            "canaryStatuses": [
                {
                    "name": c["predictor"]["name"],
                    "ready": True,
                    "trafficPercent": c["trafficPercent"],
                }
                for c in isvc["spec"]["canary"]
            ]
        }

    api = FakeKube(_native_canary_isvc(), controller=controller)
    router, decision = detect_router(api, NS, "credit-risk")
    assert isinstance(router, KServeStandardCanaryRouter)
    assert decision.startswith("Standard: spec.canary[v2].trafficPercent on isvc credit-risk")
    for percent in STEPS:
        router.set_canary_percent(percent)
        assert router.canary_percent() == percent
    assert all(t == "json" for *_, t in api.patches)


def test_kserve_standard_canary_not_ready_gets_no_traffic():
    isvc = _native_canary_isvc()
    isvc["spec"]["canary"][0]["trafficPercent"] = 10
    isvc["status"] = {"canaryStatuses": [{"name": "v2", "ready": False, "trafficPercent": 10}]}
    router = KServeStandardCanaryRouter(FakeKube(isvc), NS, "credit-risk", canary="v2")
    assert router.canary_percent() == 0
    with pytest.raises(GateInputError, match="no spec.canary entry with predictor.name 'v3'"):
        KServeStandardCanaryRouter(FakeKube(isvc), NS, "credit-risk", canary="v3").canary_percent()


def test_module_constants_match_kserve():
    assert kserve.MODE_ANNOTATION == "serving.kserve.io/deploymentMode"
    assert kserve.parse_mode("Knative", "x") == kserve.parse_mode("Serverless", "x")
    assert kserve.parse_mode("RawDeployment", "x") == kserve.parse_mode("Standard", "x")
