"""manifests/: every kustomization renders and what it renders would be accepted by a cluster.

Rendering uses the real `kubectl kustomize` (skipped, with the reason, where kubectl is absent).
Core resources are validated with kubernetes-validate in strict mode (unknown fields refused)
against Kubernetes ``K8S_VERSION``; the KServe InferenceService against the CRD sub-schema
vendored in manifests/schemas/, closed the way the API server's strict field validation closes
it. The checkers below are also run on broken copies, so each one is shown to catch its fault.
"""

from __future__ import annotations

import configparser
import copy
import importlib.util
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from quality_gates.pipelines.wiring import (
    DEFAULT_MLFLOW_CONFIG,
    DEFAULT_MLFLOW_SECRET,
    MLFLOW_CONFIG_KEYS,
    MLFLOW_SECRET_KEYS,
)
from quality_gates.shared.contracts.versions import DEFAULT_REGISTRY, PACKAGE_VERSION

_spec = importlib.util.spec_from_file_location(
    "k8s_schemas", Path(__file__).with_name("k8s_schemas.py")
)
k8s_schemas = importlib.util.module_from_spec(_spec)
sys.modules.setdefault("k8s_schemas", k8s_schemas)
_spec.loader.exec_module(k8s_schemas)
core_problems = k8s_schemas.core_problems
crd_problems = k8s_schemas.crd_problems
isvc_problems = k8s_schemas.isvc_problems
K8S_VERSION = k8s_schemas.K8S_VERSION

REPO = Path(__file__).resolve().parents[2]
MANIFESTS = REPO / "manifests"
# The oldest Kubernetes the manifests target (Kubeflow 1.9/1.10 run on 1.29-1.31) and a recent
# one; strict schemas for both ship with kubernetes-validate.
K8S_VERSIONS = (K8S_VERSION, "1.33")
# The overlays that run the MLflow server: as they are, and with MLflow's authentication app.
SERVER_OVERLAYS = (
    "overlays/dev",
    "overlays/production",
    "mlflow-auth/dev",
    "mlflow-auth/production",
)
# The serving modes (manifests/serving/README.md) and the optional KServe ConfigMap reader.
SERVING = ("serving/serverless", "serving/standard", "serving/standard-mirror")
OVERLAYS = (*SERVER_OVERLAYS, *SERVING, "serving/kserve-config-reader")
# Objects the manifests reference but that the site (or Kubeflow) creates; see manifests/README.md.
SITE_PROVIDED = {
    ("Secret", "mlflow-database"),
    ("Secret", "mlflow-artifact-store"),
    ("Secret", "mlpipeline-minio-artifact"),
}
ISVC = ("serving.kserve.io/v1beta1", "InferenceService")
VS = ("networking.istio.io/v1", "VirtualService")
REF_FIELDS = (("Secret", "secretKeyRef"), ("ConfigMap", "configMapKeyRef"))
KUBECTL = shutil.which("kubectl")
needs_kubectl = pytest.mark.skipif(
    KUBECTL is None, reason="kubectl not on PATH: cannot render the kustomizations"
)
PLACEHOLDER = "placeholder-for-tests"


# --------------------------------------------------------------------------- rendering


def _kustomization_dirs(root: Path) -> list[str]:
    """Every folder kustomize can build; a Component is built only inside what includes it."""
    return sorted(
        str(p.parent.relative_to(root))
        for p in root.rglob("kustomization.yaml")
        if yaml.safe_load(p.read_text()).get("kind") != "Component"
    )


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> Path:
    """A copy of manifests/ with each git-ignored .env made from its .env.example, as a user would.

    A developer's real .env files are never copied, so no test reads a real secret.
    """
    dest = tmp_path_factory.mktemp("manifests") / "manifests"
    shutil.copytree(MANIFESTS, dest, ignore=shutil.ignore_patterns("*.env"))
    for example in dest.rglob("*.env.example"):
        lines = []
        for line in example.read_text().splitlines():
            if re.match(r"^[A-Z0-9_]+=$", line):
                line += PLACEHOLDER
            lines.append(line)
        example.with_suffix("").write_text("\n".join(lines) + "\n")
    return dest


def _render(directory: Path) -> list[dict]:
    proc = subprocess.run(
        [KUBECTL, "kustomize", str(directory)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["(no output)"])[-1]
        pytest.fail(f"kubectl kustomize {directory.name} failed: {last}")
    return [doc for doc in yaml.safe_load_all(proc.stdout) if doc]


@pytest.fixture(scope="module")
def rendered(workspace) -> dict[str, list[dict]]:
    if KUBECTL is None:
        pytest.skip("kubectl not on PATH: cannot render the kustomizations")
    return {name: _render(workspace / name) for name in _kustomization_dirs(workspace)}


def _named(docs: list[dict], kind: str, name: str) -> dict:
    found = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind}/{name}, found {len(found)}"
    return found[0]


def _load(relpath: str) -> list[dict]:
    return [d for d in yaml.safe_load_all((MANIFESTS / relpath).read_text()) if d]


# --------------------------------------------------------------------------- checkers


def _containers(doc: dict) -> list[dict]:
    spec = doc.get("spec", {}).get("template", {}).get("spec", {})
    return [*spec.get("initContainers", []), *spec.get("containers", [])]


def _split_image(image: str) -> tuple[str, str]:
    """(repository, tag); a digest counts as a pin, a registry port is not a tag."""
    if "@" in image:
        return image.split("@", 1)[0], "@digest"
    if ":" in image.rsplit("/", 1)[-1]:
        name, tag = image.rsplit(":", 1)
        return name, tag
    return image, ""


def image_problems(docs: list[dict], where: str) -> list[str]:
    """Every image pinned (tag or digest), never :latest; the project's own at the package tag."""
    problems = []
    for doc in docs:
        for container in _containers(doc):
            image = container.get("image", "")
            ident = f"{where}: {doc['kind']}/{doc['metadata']['name']} ({container['name']})"
            name, tag = _split_image(image)
            if not tag:
                problems.append(f"{ident}: image {image!r} has no tag")
            elif tag == "latest":
                problems.append(f"{ident}: image {image!r} uses :latest")
            elif name.startswith(DEFAULT_REGISTRY + "/") and tag != PACKAGE_VERSION:
                problems.append(f"{ident}: image {image!r} is not tagged {PACKAGE_VERSION}")
    return problems


_SECRET_KEY = re.compile(r"(PASSWORD|SECRET|TOKEN|ACCESS_KEY|PRIVATE)", re.IGNORECASE)
_SECRET_TEXT = (
    (re.compile(r"AKIA[0-9A-Z]{16}"), "an AWS access key id"),
    (re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"), "a private key"),
    # <user>:<password>@ placeholders are fine: a value is anything not in angle brackets.
    (re.compile(r"[a-z][a-z0-9+.-]*://[^/\s:@$<]+:[^/\s@$<]+@"), "a URI with an inline password"),
)


def committed_secret_problems(root: Path) -> list[str]:
    """Secret values among the files under root (the committed manifests).

    Refused: a Secret resource with data, a secretGenerator with literals, a filled-in secret
    key in a .env.example, an access key, a private key or a password inside a URI anywhere.
    A secretGenerator's env file must be a git-ignored ``*.env`` with a committed example.
    """
    problems = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = path.relative_to(root)
        if path.suffix == ".env":
            continue  # git-ignored by design; checked against git below
        text = path.read_text(errors="replace")
        for pattern, what in _SECRET_TEXT:
            if pattern.search(text):
                problems.append(f"{rel}: holds {what}")
        if path.name.endswith(".env.example"):
            for line in text.splitlines():
                key, sep, value = line.partition("=")
                if sep and not key.lstrip().startswith("#") and _SECRET_KEY.search(key) and value:
                    problems.append(f"{rel}: {key} has a value; leave it empty in the example")
        if path.suffix not in (".yaml", ".yml"):
            continue
        for doc in yaml.safe_load_all(text):
            if not isinstance(doc, dict):
                continue
            if doc.get("kind") == "Secret" and (doc.get("data") or doc.get("stringData")):
                problems.append(f"{rel}: Secret/{doc['metadata']['name']} has committed values")
            for gen in doc.get("secretGenerator", []) or []:
                if gen.get("literals"):
                    problems.append(f"{rel}: secretGenerator {gen['name']} has literals")
                for env in [*gen.get("envs", []), *gen.get("files", [])]:
                    env_path = path.parent / env.split("=")[-1]
                    if not env_path.name.endswith(".env"):
                        problems.append(
                            f"{rel}: secretGenerator {gen['name']} reads {env}; "
                            "use a git-ignored *.env file"
                        )
                    elif not env_path.with_name(env_path.name + ".example").is_file():
                        problems.append(f"{rel}: {env} has no committed {env}.example")
    return problems


# --------------------------------------------------------------------------- render + validate


@needs_kubectl
def test_every_kustomization_renders(rendered):
    assert set(OVERLAYS) | {"base"} <= set(rendered), sorted(rendered)
    for name, docs in rendered.items():
        assert docs, f"{name} rendered nothing"


@needs_kubectl
@pytest.mark.parametrize("version", K8S_VERSIONS)
def test_rendered_core_resources_validate_strict(rendered, version):
    problems = [p for name, docs in rendered.items() for p in core_problems(docs, name, version)]
    assert not problems, "\n".join(problems)


@needs_kubectl
@pytest.mark.parametrize("overlay", SERVING)
def test_rendered_custom_resources_validate_against_their_crds(rendered, overlay):
    docs = rendered[overlay]
    assert any((d["apiVersion"], d["kind"]) == ISVC for d in docs)
    if overlay != "serving/serverless":
        assert any((d["apiVersion"], d["kind"]) == VS for d in docs)
    assert crd_problems(docs, overlay) == []


@needs_kubectl
def test_every_image_is_pinned(rendered):
    problems = [p for name, docs in rendered.items() for p in image_problems(docs, name)]
    assert not problems, "\n".join(problems)


@needs_kubectl
@pytest.mark.parametrize("overlay", SERVER_OVERLAYS)
def test_overlay_references_only_what_exists(rendered, overlay):
    """Every Secret/ConfigMap an env var names is rendered with that key, or is site-provided."""
    docs = rendered[overlay]
    present = {(d["kind"], d["metadata"]["name"]): d for d in docs}
    for doc in docs:
        for container in _containers(doc):
            for env in container.get("env", []):
                for ref_kind, field in (
                    ("Secret", "secretKeyRef"),
                    ("ConfigMap", "configMapKeyRef"),
                ):
                    ref = env.get("valueFrom", {}).get(field)
                    if not ref:
                        continue
                    target = (ref_kind, ref["name"])
                    if target in SITE_PROVIDED:
                        continue
                    assert target in present, f"{overlay}: {env['name']} names missing {target}"
                    obj = present[target]
                    keys = {*obj.get("data", {}), *obj.get("stringData", {})}
                    assert ref["key"] in keys, f"{overlay}: {target} has no key {ref['key']}"


@needs_kubectl
@pytest.mark.parametrize("overlay", SERVER_OVERLAYS)
def test_pipeline_secret_config_and_rbac(rendered, overlay):
    docs = rendered[overlay]
    secret = _named(docs, "Secret", DEFAULT_MLFLOW_SECRET)  # no hash suffix: the pipeline names it
    unknown = set(secret.get("data", {})) - set(MLFLOW_SECRET_KEYS)
    assert not unknown, f"keys the pipeline never reads (typo?): {sorted(unknown)}"
    assert "MLFLOW_TRACKING_URI" in secret["data"]
    config = _named(docs, "ConfigMap", DEFAULT_MLFLOW_CONFIG)  # named by the pipeline too
    unknown = set(config.get("data", {})) - set(MLFLOW_CONFIG_KEYS)
    assert not unknown, f"ConfigMap keys the pipeline never reads (typo?): {sorted(unknown)}"
    assert all(value.strip() for value in config["data"].values()), "an empty setting: omit it"

    role = _named(docs, "Role", "quality-gates-config-reader")
    secret_rules = [r for r in role["rules"] if "secrets" in r["resources"]]
    assert secret_rules and all(
        r["resourceNames"] == [DEFAULT_MLFLOW_SECRET] and r["verbs"] == ["get"]
        for r in secret_rules
    ), role["rules"]
    assert all("*" not in r["verbs"] + r["resources"] for r in role["rules"])
    binding = _named(docs, "RoleBinding", "quality-gates-config-reader")
    for subject in binding["subjects"]:
        # The API server refuses a ServiceAccount subject without a namespace.
        assert subject.get("namespace") == secret["metadata"]["namespace"], subject


@needs_kubectl
@pytest.mark.parametrize("overlay", SERVER_OVERLAYS)
def test_mlflow_server_is_hardened_and_wired(rendered, overlay):
    deployment = _named(rendered[overlay], "Deployment", "mlflow")
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    for probe in ("livenessProbe", "readinessProbe"):
        assert container[probe]["httpGet"]["path"] == "/health"
    assert container["resources"]["requests"] and container["resources"]["limits"]["memory"]
    args = container["args"]
    assert args[:1] == ["server"] and "--serve-artifacts" in args
    env = {e["name"]: e for e in container["env"]}
    # Every $(VAR) in the arguments is expanded by the kubelet only if the container defines it.
    for var in re.findall(r"\$\(([A-Z0-9_]+)\)", " ".join(args)):
        assert var in env, f"{overlay}: args use $({var}) but the container has no {var}"
    uri = env["MLFLOW_BACKEND_STORE_URI"]
    assert "valueFrom" in uri or ":" not in uri["value"].split("@")[0].split("://")[-1], (
        "the database URI holds a password in plain text"
    )


@needs_kubectl
def test_production_runs_two_replicas_behind_a_pdb(rendered):
    docs = rendered["overlays/production"]
    deployment = _named(docs, "Deployment", "mlflow")
    assert deployment["spec"]["replicas"] == 2
    pdb = _named(docs, "PodDisruptionBudget", "mlflow")
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert pdb["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
    assert not [d for d in docs if d["kind"] == "StatefulSet"], "production uses an external DB"


@needs_kubectl
def test_dev_runs_postgres_with_a_generated_password(rendered):
    docs = rendered["overlays/dev"]
    statefulset = _named(docs, "StatefulSet", "mlflow-postgres")
    assert statefulset["spec"]["volumeClaimTemplates"], "PostgreSQL data needs a volume"
    env = {e["name"]: e for e in statefulset["spec"]["template"]["spec"]["containers"][0]["env"]}
    ref = env["POSTGRES_PASSWORD"]["valueFrom"]["secretKeyRef"]
    assert ref["name"].startswith("mlflow-postgres-"), "the generated Secret (hash-suffixed)"
    _named(docs, "Service", "mlflow-postgres")


@needs_kubectl
def test_serverless_serving_starts_new_versions_as_a_canary(rendered):
    docs = rendered["serving/serverless"]
    (isvc,) = [d for d in docs if (d["apiVersion"], d["kind"]) == ISVC]
    predictor = isvc["spec"]["predictor"]
    assert predictor["canaryTrafficPercent"] == 10
    assert predictor["model"]["storageUri"].startswith("s3://")
    annotations = isvc["metadata"]["annotations"]
    assert annotations["serving.kserve.io/deploymentMode"] == "Serverless"
    assert annotations["serving.kserve.io/enable-prometheus-scraping"] == "true"
    assert predictor["annotations"]["prometheus.io/scrape"] == "true"
    _serving_account_has_its_secret(docs, predictor)


def _serving_account_has_its_secret(docs: list[dict], predictor: dict) -> None:
    account = _named(docs, "ServiceAccount", predictor["serviceAccountName"])
    secret_names = {d["metadata"]["name"] for d in docs if d["kind"] == "Secret"}
    assert {s["name"] for s in account["secrets"]} <= secret_names


@needs_kubectl
@pytest.mark.parametrize("overlay", ["serving/standard", "serving/standard-mirror"])
def test_standard_serving_splits_two_inferenceservices_with_istio(rendered, overlay):
    docs = rendered[overlay]
    isvcs = {d["metadata"]["name"]: d for d in docs if (d["apiVersion"], d["kind"]) == ISVC}
    assert set(isvcs) == {"credit-risk-stable", "credit-risk-canary"}
    namespace = {d["metadata"]["namespace"] for d in isvcs.values()}.pop()
    for isvc in isvcs.values():
        annotations = isvc["metadata"]["annotations"]
        assert annotations["serving.kserve.io/deploymentMode"] in ("RawDeployment", "Standard")
        # Ignored in this mode (kserve#5335): its presence would suggest a split that never is.
        assert "canaryTrafficPercent" not in isvc["spec"]["predictor"]
        assert annotations["serving.kserve.io/enable-prometheus-scraping"] == "true"
        _serving_account_has_its_secret(docs, isvc["spec"]["predictor"])
    vs = _named(docs, "VirtualService", "credit-risk")

    def host(isvc: str) -> str:
        return f"{isvc}-predictor.{namespace}.svc.cluster.local"

    (http,) = vs["spec"]["http"]
    weights = {r["destination"]["host"]: r["weight"] for r in http["route"]}
    assert weights == {host("credit-risk-stable"): 100, host("credit-risk-canary"): 0}
    assert host("credit-risk-stable") in vs["spec"]["hosts"]
    if overlay.endswith("mirror"):
        assert http["mirror"]["host"] == host("credit-risk-canary")
        assert 0 < http["mirrorPercentage"]["value"] <= 100
    else:
        assert "mirror" not in http


@needs_kubectl
@pytest.mark.parametrize("overlay", SERVING)
def test_rollout_rbac_gets_and_patches_only_named_objects(rendered, overlay):
    docs = rendered[overlay]
    role = _named(docs, "Role", "quality-gates-rollout")
    named = {d["metadata"]["name"] for d in docs if (d["apiVersion"], d["kind"]) in (ISVC, VS)}
    patchable = set()
    for rule in role["rules"]:
        assert set(rule["verbs"]) <= {"get", "patch"}, rule
        assert rule["resourceNames"], f"a rule without resourceNames reaches every object: {rule}"
        assert set(rule["resources"]) <= {"inferenceservices", "virtualservices"}, rule
        assert set(rule["resourceNames"]) <= named, f"names no rendered object: {rule}"
        if "patch" in rule["verbs"]:
            patchable |= {(r, n) for r in rule["resources"] for n in rule["resourceNames"]}
    expected = (
        {("inferenceservices", "credit-risk")}
        if overlay == "serving/serverless"
        else {("virtualservices", "credit-risk")}
    )
    assert patchable == expected
    binding = _named(docs, "RoleBinding", "quality-gates-rollout")
    account = _named(docs, "ServiceAccount", "quality-gates-rollout")
    assert binding["roleRef"]["name"] == role["metadata"]["name"]
    assert binding["subjects"] == [
        {
            "kind": "ServiceAccount",
            "name": "quality-gates-rollout",
            "namespace": account["metadata"]["namespace"],
        }
    ]


@needs_kubectl
def test_kserve_config_reader_reads_one_config_map_in_kserves_namespace(rendered):
    docs = rendered["serving/kserve-config-reader"]
    role = _named(docs, "Role", "quality-gates-kserve-config-reader")
    assert role["metadata"]["namespace"] == "kserve"
    assert role["rules"] == [
        {
            "apiGroups": [""],
            "resources": ["configmaps"],
            "resourceNames": ["inferenceservice-config"],
            "verbs": ["get"],
        }
    ]
    binding = _named(docs, "RoleBinding", "quality-gates-kserve-config-reader")
    rollout = _named(rendered["serving/serverless"], "ServiceAccount", "quality-gates-rollout")
    assert binding["subjects"][0]["namespace"] == rollout["metadata"]["namespace"]


# --------------------------------------------------------------------------- the checkers bite


def test_strict_validation_refuses_a_typo_and_a_missing_required_field():
    (deployment,) = _load("base/mlflow-deployment.yaml")
    assert core_problems([deployment], "base") == []
    typo = copy.deepcopy(deployment)
    typo["spec"]["replica"] = 2
    assert any("'replica' was unexpected" in p for p in core_problems([typo], "base"))
    missing = copy.deepcopy(deployment)
    del missing["spec"]["template"]["spec"]["containers"][0]["name"]
    assert any("'name' is a required property" in p for p in core_problems([missing], "base"))
    assert core_problems(
        [{"apiVersion": "example.com/v1", "kind": "Nothing", "metadata": {"name": "x"}}], "base"
    ), "a kind with no schema passed"


def test_kserve_schema_refuses_typos_missing_fields_and_wrong_types():
    (isvc,) = _load("serving/serverless/inferenceservice.yaml")
    assert isvc_problems([isvc], "serving") == []

    typo = copy.deepcopy(isvc)
    typo["spec"]["predictor"]["canaryTraficPercent"] = typo["spec"]["predictor"].pop(
        "canaryTrafficPercent"
    )
    assert any("canaryTraficPercent" in p for p in isvc_problems([typo], "serving"))

    no_predictor = copy.deepcopy(isvc)
    del no_predictor["spec"]["predictor"]
    assert any(
        "'predictor' is a required property" in p for p in isvc_problems([no_predictor], "serving")
    )

    no_format_name = copy.deepcopy(isvc)
    del no_format_name["spec"]["predictor"]["model"]["modelFormat"]["name"]
    assert any(
        "'name' is a required property" in p for p in isvc_problems([no_format_name], "serving")
    )

    wrong_type = copy.deepcopy(isvc)
    wrong_type["spec"]["predictor"]["canaryTrafficPercent"] = "10%"
    assert any("is not of type 'integer'" in p for p in isvc_problems([wrong_type], "serving"))

    bad_metadata = copy.deepcopy(isvc)
    bad_metadata["metadata"]["lables"] = {}
    assert any("lables" in p for p in isvc_problems([bad_metadata], "serving"))

    bad_quantity = copy.deepcopy(isvc)
    bad_quantity["spec"]["predictor"]["model"]["resources"]["limits"]["memory"] = "1 GB"
    assert any("does not match" in p for p in isvc_problems([bad_quantity], "serving"))


def test_image_check_refuses_latest_untagged_and_off_version_images():
    (deployment,) = _load("base/mlflow-deployment.yaml")
    assert image_problems([deployment], "base") == []
    for image, expected in (
        ("ghcr.io/kfp-quality-gates/mlflow-server:latest", ":latest"),
        ("ghcr.io/kfp-quality-gates/mlflow-server", "has no tag"),
        ("localhost:5000/mlflow-server", "has no tag"),
        (f"{DEFAULT_REGISTRY}/mlflow-server:0.0.9", f"is not tagged {PACKAGE_VERSION}"),
    ):
        broken = copy.deepcopy(deployment)
        broken["spec"]["template"]["spec"]["containers"][0]["image"] = image
        assert any(expected in p for p in image_problems([broken], "base")), image
    pinned = copy.deepcopy(deployment)
    pinned["spec"]["template"]["spec"]["containers"][0]["image"] = (
        "registry:5000/pg@sha256:" + "a" * 64
    )
    assert image_problems([pinned], "base") == []


def test_no_committed_file_holds_a_secret_value():
    assert committed_secret_problems(MANIFESTS) == []


def test_secret_check_refuses_committed_values(tmp_path):
    root = tmp_path / "manifests"
    shutil.copytree(MANIFESTS, root, ignore=shutil.ignore_patterns("*.env"))
    assert committed_secret_problems(root) == []

    (root / "leak.yaml").write_text(
        "apiVersion: v1\nkind: Secret\nmetadata: {name: leak}\nstringData: {password: hunter2}\n"
    )
    kustomization = root / "base" / "kustomization.yaml"
    doc = yaml.safe_load(kustomization.read_text())
    doc["secretGenerator"].append({"name": "db", "literals": ["password=hunter2"]})
    doc["secretGenerator"].append({"name": "tracked", "envs": ["tracked.properties"]})
    kustomization.write_text(yaml.safe_dump(doc))
    example = root / "base" / "quality-gates-mlflow.env.example"
    example.write_text(example.read_text() + "MLFLOW_TRACKING_PASSWORD=hunter2\n")
    (root / "notes.md").write_text("db: postgresql://mlflow:hunter2@db:5432/mlflow\n")

    problems = "\n".join(committed_secret_problems(root))
    assert "Secret/leak has committed values" in problems
    assert "secretGenerator db has literals" in problems
    assert "reads tracked.properties" in problems
    assert "MLFLOW_TRACKING_PASSWORD has a value" in problems
    assert "notes.md: holds a URI with an inline password" in problems


def test_secret_env_files_are_git_ignored_and_untracked():
    """The filled-in .env files must never reach git: ignored, and none tracked."""
    git = shutil.which("git")
    if git is None or not (REPO / ".git").exists():
        pytest.skip("not a git checkout: cannot ask git what it ignores")
    tracked = subprocess.run(
        [git, "ls-files", "--", "manifests"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.split()
    assert not [t for t in tracked if t.endswith(".env")], tracked
    env_files = [str(p.with_suffix("").relative_to(REPO)) for p in MANIFESTS.rglob("*.env.example")]
    ignored = subprocess.run(
        [git, "check-ignore", "--no-index", "--", *env_files],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    ).stdout.split()
    missing = sorted(set(env_files) - set(ignored))
    assert not missing, f"not git-ignored (add `manifests/**/*.env` to .gitignore): {missing}"


# --------------------------------------------------------------------------- MLflow auth app

AUTH_OVERLAYS = ("mlflow-auth/dev", "mlflow-auth/production")


def _auth_ini(docs: list[dict]) -> configparser.ConfigParser:
    config = configparser.ConfigParser()
    config.read_string(_named(docs, "ConfigMap", "mlflow-auth-config")["data"]["basic_auth.ini"])
    return config


@needs_kubectl
@pytest.mark.parametrize("overlay", AUTH_OVERLAYS)
def test_mlflow_runs_the_basic_auth_app_with_secrets_from_a_secret(rendered, overlay):
    docs = rendered[overlay]
    pod = _named(docs, "Deployment", "mlflow")["spec"]["template"]["spec"]
    (server,) = pod["containers"]
    args = server["args"]
    assert args[args.index("--app-name") + 1] == "basic-auth"
    env = {e["name"]: e for e in server["env"]}
    for key in ("MLFLOW_AUTH_ADMIN_PASSWORD", "MLFLOW_FLASK_SERVER_SECRET_KEY"):
        ref = env[key]["valueFrom"]["secretKeyRef"]
        assert (ref["name"], ref["key"]) == ("mlflow-auth", key), ref
    # The server reads the file the init container writes, from the volume both mount.
    (init,) = [c for c in pod["initContainers"] if c["name"] == "auth-config"]
    path = Path(env["MLFLOW_AUTH_CONFIG_PATH"]["value"])
    mounts = {m["name"]: m["mountPath"] for m in server["volumeMounts"]}
    init_mounts = {m["name"]: m["mountPath"] for m in init["volumeMounts"]}
    volume = next(name for name, where in mounts.items() if Path(where) == path.parent)
    assert init_mounts[volume] == mounts[volume] and str(path) in init["args"][0]
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes[volume]["emptyDir"]["medium"] == "Memory", "the rendered URI may hold a password"
    template = next(v for v in volumes.values() if "configMap" in v)
    assert template["configMap"]["name"] == "mlflow-auth-config"
    # The auth tables go to the tracking server's own database, from the same source.
    init_uri = {e["name"]: e for e in init["env"]}["MLFLOW_BACKEND_STORE_URI"]
    assert init_uri == env["MLFLOW_BACKEND_STORE_URI"]
    config = _auth_ini(docs)["mlflow"]
    assert config["database_uri"] == "${MLFLOW_BACKEND_STORE_URI}"
    assert config["default_permission"] == "READ"
    assert config["authorization_function"].endswith(":authenticate_request_basic_auth")
    assert "admin_password" not in config, "the admin password comes from the Secret only"


@needs_kubectl
@pytest.mark.parametrize("overlay", AUTH_OVERLAYS)
def test_setup_job_runs_auth_setup_as_the_configured_admin(rendered, overlay):
    docs = rendered[overlay]
    job = _named(docs, "Job", "quality-gates-auth-setup")
    (container,) = job["spec"]["template"]["spec"]["containers"]
    command = [*container["command"], *container["args"]]
    assert command[:3] == ["quality-gates", "auth", "setup"]
    from quality_gates.shared.cli.main import build_parser

    args = build_parser().parse_args(command[1:])  # what the CLI would run, flags checked
    assert args.model and args.pipeline_user and args.approver
    assert args.tracking_uri == "http://mlflow:5000"
    assert set(args.pipeline_user).isdisjoint(args.approver)
    env = {e["name"]: e for e in container["env"]}
    assert env["MLFLOW_TRACKING_USERNAME"]["value"] == _auth_ini(docs)["mlflow"]["admin_username"]
    ref = env["MLFLOW_TRACKING_PASSWORD"]["valueFrom"]["secretKeyRef"]
    assert (ref["name"], ref["key"]) == ("mlflow-auth", "MLFLOW_AUTH_ADMIN_PASSWORD")
    namespaces = {d["metadata"].get("namespace") for d in docs}
    assert namespaces == {"kubeflow-user-example-com"}, namespaces


@needs_kubectl
@pytest.mark.parametrize("overlay", AUTH_OVERLAYS)
def test_network_policy_admits_only_pipeline_tasks_setup_serving_and_approvers(rendered, overlay):
    docs = rendered[overlay]
    policy = _named(docs, "NetworkPolicy", "mlflow-ingress")["spec"]
    deployment = _named(docs, "Deployment", "mlflow")
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert policy["podSelector"]["matchLabels"].items() <= pod_labels.items()
    assert policy["policyTypes"] == ["Ingress"]
    (rule,) = policy["ingress"]
    (server,) = deployment["spec"]["template"]["spec"]["containers"]
    assert [p["port"] for p in rule["ports"]] == [c["containerPort"] for c in server["ports"]]
    peers = rule["from"]
    assert all(len(peer) == 1 for peer in peers), "a peer with two selectors means AND"
    pods = [p["podSelector"] for p in peers if "podSelector" in p]
    assert {"matchLabels": {"pipelines.kubeflow.org/v2_component": "true"}} in pods
    job_labels = _named(docs, "Job", "quality-gates-auth-setup")["spec"]["template"]["metadata"]
    assert any(
        s.get("matchLabels", {}).items() <= job_labels["labels"].items() and s.get("matchLabels")
        for s in pods
    ), "the setup Job could not reach MLflow"
    assert any(
        e["key"] == "serving.kserve.io/inferenceservice"
        for s in pods
        for e in s.get("matchExpressions", [])
    )
    (namespace,) = [p["namespaceSelector"] for p in peers if "namespaceSelector" in p]
    assert set(namespace["matchLabels"]) == {"kubernetes.io/metadata.name"}
    assert {} not in pods and {} not in [namespace], "an empty selector admits everyone"
