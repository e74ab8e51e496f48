"""Image references: one image per dependency set, pinned by digest once `make push` ran."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from quality_gates.shared.contracts import versions
from quality_gates.shared.contracts.versions import ImageDigestError, image_for, image_tag

ROOT = Path(__file__).resolve().parents[2]
CORE = f"ghcr.io/kfp-quality-gates/quality-gates-core:{versions.PACKAGE_VERSION}"
FAIRNESS = f"ghcr.io/kfp-quality-gates/quality-gates-fairness:{versions.PACKAGE_VERSION}"
DIGEST_RE = re.compile(r"^[^@\s]+/quality-gates-[a-z-]+@sha256:[0-9a-f]{64}$")


def _digest(n: int) -> str:
    return "sha256:" + f"{n:x}" * 64


@pytest.fixture
def digests(tmp_path, monkeypatch):
    """A digests file named by QUALITY_GATES_IMAGE_DIGESTS (empty), default registry."""
    monkeypatch.delenv("QUALITY_GATES_IMAGE_REGISTRY", raising=False)
    path = tmp_path / "digests.json"
    path.write_text("{}")
    monkeypatch.setenv(versions.DIGESTS_ENV, str(path))
    return path


def test_a_digests_file_named_but_missing_is_an_error(digests):
    digests.unlink()
    with pytest.raises(ImageDigestError, match="no such file"):
        image_for("aggregator")


def test_components_share_the_image_of_their_dependency_set(digests):
    assert image_for("aggregator") == image_for("promote") == image_for("refusal") == CORE
    assert image_for("performance_gate") == CORE  # a gate without an extra
    assert image_for("fairness_gate") == FAIRNESS
    assert image_for("explainability_gate").split("/")[-1].startswith("quality-gates-explain")
    assert image_for("mlflow_server").endswith(f"/mlflow-server:{versions.PACKAGE_VERSION}")


def test_a_recorded_digest_pins_the_image_for_that_registry_and_tag_only(digests, monkeypatch):
    core = CORE.rsplit(":", 1)[0] + "@" + _digest(1)
    elsewhere = "registry.example.com/ml/quality-gates-fairness"
    digests.write_text(
        json.dumps(
            {CORE: core, f"{elsewhere}:{versions.PACKAGE_VERSION}": f"{elsewhere}@{_digest(2)}"}
        )
    )
    assert image_for("aggregator") == core
    assert image_for("fairness_gate") == FAIRNESS  # recorded for another registry only
    assert image_tag("aggregator") == CORE  # what `make images` builds stays a tag
    monkeypatch.setenv("QUALITY_GATES_IMAGE_REGISTRY", "registry.example.com/ml")
    assert image_for("fairness_gate") == f"{elsewhere}@{_digest(2)}"
    assert image_for("aggregator") == "registry.example.com/ml/quality-gates-core:0.1.0"


@pytest.mark.parametrize(
    "text, phrase",
    [
        ("{not json", "not readable JSON"),
        ('["a"]', "expected an object"),
        (json.dumps({CORE: "sha256:" + "a" * 64}), "expected"),
        (json.dumps({CORE: CORE.rsplit(":", 1)[0] + "@sha256:" + "A" * 64}), "64 lower-case"),
        (json.dumps({CORE: CORE.rsplit(":", 1)[0] + "@sha256:" + "a" * 63}), "64 lower-case"),
        (json.dumps({CORE: "other.io/x/quality-gates-core@sha256:" + "a" * 64}), "maps to"),
        (json.dumps({CORE: 7}), "maps to 7"),
    ],
    ids=["json", "list", "no-repo", "upper", "short", "other-repo", "number"],
)
def test_a_malformed_digests_file_is_a_clear_error_never_a_silent_tag(digests, text, phrase):
    digests.write_text(text)
    with pytest.raises(ImageDigestError, match=re.escape(phrase)) as err:
        image_for("aggregator")
    assert str(digests) in str(err.value)


def _load(name: str):
    spec = importlib.util.spec_from_file_location(f"_t_{name}", ROOT / "docker" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_push_records_the_digest_of_the_pushed_repository(digests, tmp_path):
    # A stand-in `docker` that knows the image in two registries, as after pushing to both.
    target = f"registry.example.com/ml/quality-gates-core:{versions.PACKAGE_VERSION}"
    repo = target.rsplit(":", 1)[0]
    fake = tmp_path / "docker"
    answer = json.dumps(
        [f"ghcr.io/kfp-quality-gates/quality-gates-core@{_digest(3)}", f"{repo}@{_digest(4)}"]
    )
    fake.write_text(f"#!/bin/sh\necho '{answer}'\n")
    fake.chmod(0o755)
    script = ROOT / "docker" / "digests.py"
    env = {**os.environ, versions.DIGESTS_ENV: str(digests)}
    proc = subprocess.run(
        [sys.executable, str(script), "record", target, "--docker", str(fake)],
        capture_output=True,
        text=True,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(digests.read_text()) == {target: f"{repo}@{_digest(4)}"}
    assert f"{repo}@{_digest(4)}" in proc.stdout
    fake.write_text("#!/bin/sh\necho '[]'\n")
    proc = subprocess.run(
        [sys.executable, str(script), "record", target, "--docker", str(fake)],
        capture_output=True,
        text=True,
        env=env,
    )
    assert proc.returncode != 0 and "push it first" in proc.stderr
    digests.write_text('{"x": "y"}')
    shown = subprocess.run(
        [sys.executable, str(script), "show"], capture_output=True, text=True, env=env
    )
    assert shown.returncode == 2 and str(digests) in shown.stderr


def test_compile_writes_the_recorded_digests_into_the_component_yaml(digests, tmp_path):
    tags = _load("image_tags").images()
    digests.write_text(
        json.dumps(
            {
                image: image.rsplit(":", 1)[0] + "@" + _digest(i + 1)
                for i, (_set, _dockerfile, image) in enumerate(tags)
            }
        )
    )
    out = tmp_path / "out"
    qg = Path(sys.executable).with_name("quality-gates")
    env = {**os.environ, versions.DIGESTS_ENV: str(digests)}
    env.pop("QUALITY_GATES_IMAGE_REGISTRY", None)
    proc = subprocess.run(
        [str(qg), "compile", "--output-root", str(out)], capture_output=True, text=True, env=env
    )
    assert proc.returncode == 0, proc.stderr
    compiled = sorted(out.glob("components/*/component.yaml"))
    assert compiled
    for path in compiled:
        spec = yaml.safe_load(path.read_text())
        for executor in spec["deploymentSpec"]["executors"].values():
            assert DIGEST_RE.match(executor["container"]["image"]), (path, executor)
    fairness = yaml.safe_load((out / "components/fairness_gate/component.yaml").read_text())
    (executor,) = fairness["deploymentSpec"]["executors"].values()
    assert executor["container"]["image"] == json.loads(digests.read_text())[FAIRNESS]
