"""Validators for what a cluster would accept, shared by the manifest and the router tests.

Core resources: kubernetes-validate in strict mode (unknown fields refused) against Kubernetes
``K8S_VERSION``. KServe's InferenceService: the CRD sub-schema vendored in manifests/schemas/;
Istio's VirtualService: a sub-schema of the fields used, written from Istio's API reference.
Both CRD schemas are closed the way the API server's strict field validation closes them,
with ``metadata`` checked as a Kubernetes ObjectMeta. Loaded by file path (tests run with
``--import-mode=importlib``).
"""

from __future__ import annotations

import functools
import json
from importlib import resources
from pathlib import Path

import jsonschema
import kubernetes_validate
import yaml
from referencing import Registry, Resource

REPO = Path(__file__).resolve().parents[2]
SCHEMAS = REPO / "manifests" / "schemas"
KSERVE_SCHEMA = SCHEMAS / "kserve-inferenceservice-v1beta1.subset.yaml"
ISTIO_VS_SCHEMA = SCHEMAS / "istio-virtualservice-v1.subset.yaml"
K8S_VERSION = "1.30"
ISVC = ("serving.kserve.io/v1beta1", "InferenceService")
VS_API_VERSIONS = ("networking.istio.io/v1", "networking.istio.io/v1beta1")
CRD_SCHEMAS = {
    ISVC: KSERVE_SCHEMA,
    **{(v, "VirtualService"): ISTIO_VS_SCHEMA for v in VS_API_VERSIONS},
}


def core_problems(docs: list[dict], where: str, version: str = K8S_VERSION) -> list[str]:
    """Strict kubernetes-validate errors of every resource that is not a vendored CRD kind."""
    problems = []
    for doc in docs:
        if (doc.get("apiVersion"), doc.get("kind")) in CRD_SCHEMAS:
            continue
        ident = f"{where}: {doc.get('kind')}/{doc.get('metadata', {}).get('name')}"
        try:
            kubernetes_validate.validate(doc, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            path = ".".join(str(p) for p in exc.path) or "(root)"
            problems.append(f"{ident}: {path}: {exc.message}")
        except kubernetes_validate.SchemaNotFoundError as exc:
            # A kind with no schema would otherwise pass unchecked.
            problems.append(f"{ident}: {exc.message}")
    return problems


def close(schema):
    """Refuse unknown fields wherever the CRD lists properties and does not preserve unknowns."""
    if isinstance(schema, dict):
        schema = {k: close(v) for k, v in schema.items()}
        if (
            "properties" in schema
            and "additionalProperties" not in schema
            and not schema.get("x-kubernetes-preserve-unknown-fields")
        ):
            schema["additionalProperties"] = False
    elif isinstance(schema, list):
        schema = [close(v) for v in schema]
    return schema


def _definitions() -> Resource:
    base = resources.files("kubernetes_validate") / "kubernetes-json-schema"
    text = (base / f"v{K8S_VERSION}.0-local-strict" / "_definitions.json").read_text()
    return Resource.from_contents(json.loads(text))


@functools.cache
def crd_validator(path: Path) -> jsonschema.Draft202012Validator:
    """A vendored CRD schema, closed, with the root fields every object has."""
    schema = close(yaml.safe_load(path.read_text())["openAPIV3Schema"])
    defs = _definitions()
    # The API server validates the root fields itself (TypeMeta, ObjectMeta), whatever the CRD
    # says of them; Istio's CRD does not list them at all.
    schema["properties"].update(
        apiVersion={"type": "string"},
        kind={"type": "string"},
        metadata={
            "$ref": f"{defs.contents['$id']}#/$defs/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
        },
    )
    return jsonschema.Draft202012Validator(schema, registry=defs @ Registry())


def isvc_validator() -> jsonschema.Draft202012Validator:
    """The KServe InferenceService validator (kept for the tests that name it)."""
    return crd_validator(KSERVE_SCHEMA)


def crd_problems(docs: list[dict], where: str) -> list[str]:
    """Errors of every InferenceService and VirtualService against their vendored schemas."""
    problems = []
    for doc in docs:
        path = CRD_SCHEMAS.get((doc.get("apiVersion"), doc.get("kind")))
        if path is None:
            continue
        errors = crd_validator(path).iter_errors(doc)
        for err in sorted(errors, key=lambda e: [str(p) for p in e.path]):
            at = ".".join(str(p) for p in err.path) or "(root)"
            problems.append(
                f"{where}: {doc['kind']}/{doc['metadata'].get('name')}: {at}: "
                f"{err.message} (fields missing from {path.name} are refused)"
            )
    return problems


def isvc_problems(docs: list[dict], where: str) -> list[str]:
    """Errors of every InferenceService against the vendored, closed KServe schema."""
    return crd_problems([d for d in docs if (d.get("apiVersion"), d.get("kind")) == ISVC], where)


def object_problems(docs: list[dict], where: str) -> list[str]:
    """Every validator over every document: core kinds strictly, the two CRD kinds by schema."""
    return core_problems(docs, where) + crd_problems(docs, where)
