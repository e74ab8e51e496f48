"""Each image holds only what it needs, runs as uid 10001, and shares the core layer."""

from __future__ import annotations

import json
from importlib import metadata

import pytest

from quality_gates.shared.contracts.gates import component_folders, gates
from quality_gates.shared.contracts.versions import KFP_VERSION

# Heavy engines and the one component image allowed to hold each of them.
HEAVY = {
    "shap": "explainability_gate",
    "numba": "explainability_gate",
    "llvmlite": "explainability_gate",
    "fairlearn": "fairness_gate",
    "phonenumbers": "pii_scan_gate",
}
# The MLflow server's own packages: the component images hold the client (mlflow-skinny) only.
SERVER_ONLY = ("flask", "graphene", "gunicorn", "huey")
COMPONENTS = component_folders()
WITH_EXTRA = tuple(s.folder for s in gates() if s.extra)
# Runs inside the image: which modules import, who we are, which versions.
PROBE = """
import importlib, json, os, sys
mods = sys.argv[1].split(",")
found = {}
for m in mods:
    try:
        importlib.import_module(m)
        found[m] = True
    except ImportError:
        found[m] = False
from importlib import metadata
def ver(d):
    try:
        return metadata.version(d)
    except metadata.PackageNotFoundError:
        return None
print(json.dumps({"uid": os.getuid(), "imports": found, "kfp": ver("kfp"),
                  "mlflow": ver("mlflow"), "executable": sys.executable}))
"""


def _probe(docker_client, image: str, modules: list[str]) -> dict:
    out = docker_client.containers.run(
        image, ["python3", "-c", PROBE, ",".join(modules)], remove=True, stderr=False
    )
    return json.loads(out.decode().strip().splitlines()[-1])


@pytest.mark.parametrize("component", COMPONENTS)
def test_component_image_has_its_engine_and_none_of_the_others(docker_client, images, component):
    own_module = f"quality_gates.components.{component}.component"
    result = _probe(docker_client, images[component], [own_module, *HEAVY, *SERVER_ONLY])
    assert result["uid"] == 10001, f"{component} image runs as uid {result['uid']}"
    assert result["imports"][own_module], f"{component} image cannot import its component"
    assert result["kfp"] == KFP_VERSION
    assert result["executable"].startswith("/opt/venv/")
    assert result["mlflow"] is None, "a component image holds the full mlflow (server and UI)"
    assert not [m for m in SERVER_ONLY if result["imports"][m]], result["imports"]
    for module, owner in HEAVY.items():
        expected = owner == component
        assert result["imports"][module] is expected, (
            f"{module} importable={result['imports'][module]} in the {component} image; "
            f"only the {owner} image may hold it"
        )


def test_mlflow_server_image_holds_the_tested_mlflow_and_its_stores(docker_client, images):
    result = _probe(
        docker_client,
        images["mlflow_server"],
        ["mlflow", "psycopg2", "boto3", "quality_gates.shared", *HEAVY],
    )
    assert result["uid"] == 10001
    assert result["mlflow"] == metadata.version("mlflow")
    assert result["imports"]["mlflow"] and result["imports"]["psycopg2"]
    assert result["imports"]["boto3"]
    unexpected = [m for m in ("quality_gates.shared", *HEAVY) if result["imports"][m]]
    assert not unexpected, f"the MLflow server image holds {unexpected}"


def test_component_images_store_the_core_once(docker_client, images):
    layers = {c: docker_client.images.get(images[c]).attrs["RootFS"]["Layers"] for c in COMPONENTS}
    common = list(layers[COMPONENTS[0]])
    for other in COMPONENTS[1:]:
        n = 0
        while n < min(len(common), len(layers[other])) and common[n] == layers[other][n]:
            n += 1
        common = common[:n]
    server = set(docker_client.images.get(images["mlflow_server"]).attrs["RootFS"]["Layers"])
    # Beyond the base image (which the server image shares too): the user and the core venv.
    shared_by_components_only = [layer for layer in common if layer not in server]
    assert len(shared_by_components_only) >= 2, (
        "the component images do not share their core layers; the first RUN/COPY steps of "
        "the component Dockerfiles must stay identical"
    )
    for component in WITH_EXTRA:
        assert len(layers[component]) > len(common), f"{component} has no layer of its own"
