"""Committed YAMLs load with kfp and equal a fresh compile (a stale YAML fails here)."""

import pytest
import yaml
from kfp.components import load_component_from_file

from quality_gates.pipelines.compile import REPO_ROOT, compile_all
from quality_gates.shared.contracts.versions import KFP_VERSION, PACKAGE_VERSION

COMPONENT_YAMLS = sorted((REPO_ROOT / "components").glob("*/component.yaml"))
PIPELINE_YAMLS = sorted((REPO_ROOT / "pipelines" / "compiled").glob("*.yaml"))


def test_every_component_folder_has_its_fixed_files():
    folders = [
        p for p in (REPO_ROOT / "components").iterdir() if p.is_dir() and not p.name.startswith("_")
    ]
    assert folders
    for folder in folders:
        for name in ("component.py", "core.py", "component.yaml", "Dockerfile", "README.md"):
            assert (folder / name).is_file(), f"{folder.name}/{name} is missing"


@pytest.fixture(scope="module")
def fresh(tmp_path_factory, monkeypatch_module):
    monkeypatch_module.delenv("QUALITY_GATES_IMAGE_REGISTRY", raising=False)
    out = tmp_path_factory.mktemp("compiled")
    compile_all(output_root=out)
    return out


@pytest.fixture(scope="module")
def monkeypatch_module():
    mp = pytest.MonkeyPatch()
    yield mp
    mp.undo()


@pytest.mark.parametrize(
    "path", COMPONENT_YAMLS + PIPELINE_YAMLS, ids=lambda p: p.parent.name + "/" + p.name
)
def test_committed_yaml_equals_fresh_compile(path, fresh):
    rel = path.relative_to(REPO_ROOT)
    assert (fresh / rel).read_text() == path.read_text(), (
        f"{rel} is stale; run `make compile` and commit the result"
    )


@pytest.mark.parametrize("path", COMPONENT_YAMLS + PIPELINE_YAMLS, ids=lambda p: p.name)
def test_committed_yaml_loads_with_kfp(path):
    comp = load_component_from_file(str(path))
    assert comp.component_spec.name


def test_yaml_pins_kfp_and_image_tags():
    for path in COMPONENT_YAMLS + PIPELINE_YAMLS:
        text = path.read_text()
        for doc in yaml.safe_load_all(text):
            if doc and "sdkVersion" in doc:
                assert doc["sdkVersion"] == f"kfp-{KFP_VERSION}"
        assert ":latest" not in text
        assert f":{PACKAGE_VERSION}" in text
    assert PIPELINE_YAMLS, "no compiled pipeline committed"


def test_kfp_pin_matches_installed_and_pyproject():
    from importlib.metadata import version

    assert version("kfp") == KFP_VERSION
    pyproject = (REPO_ROOT / "pyproject.toml").read_text()
    assert f'"kfp=={KFP_VERSION}"' in pyproject


def test_no_top_level_module_imports():
    # Only `quality_gates.*` is importable; code must never import the bare folders.
    for path in REPO_ROOT.glob("**/*.py"):
        # .venv and .venv-server (the model server's own venv) hold third-party code.
        if any(p.startswith(".venv") for p in path.parts) or "tests" in path.parts:
            continue
        text = path.read_text()
        for bad in (
            "from shared",
            "import shared",
            "from components",
            "import components",
            "from pipelines",
            "import pipelines",
        ):
            assert f"\n{bad}" not in text and not text.startswith(bad), f"{path}: {bad}"
