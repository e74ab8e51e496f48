"""Print the image references `make images` and `make push` use.

Names come from the gate registry (every folder under components/) and tags from
shared/contracts/versions.py, the one place that names images (the compiled component YAML reads
the same function); this helper loads it by path, so building images needs neither the package
installed nor its dependencies.

    python3 docker/image_tags.py                 # "<folder> <Dockerfile> <image>" per image
    python3 docker/image_tags.py --registry R    # the same images renamed into registry R
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from component_list import component_folders  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def _versions():
    spec = importlib.util.spec_from_file_location(
        "_qg_versions", ROOT / "shared" / "contracts" / "versions.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def images() -> list[tuple[str, str, str]]:
    """Return every image this repository builds.

    Returns:
        ``(name, Dockerfile path relative to the root, image reference)`` per image.
    """
    image_for = _versions().image_for
    out = [(c, f"components/{c}/Dockerfile", image_for(c)) for c in component_folders(ROOT)]
    out.append(("mlflow_server", "docker/mlflow-server/Dockerfile", image_for("mlflow_server")))
    return out


def retag(image: str, registry: str) -> str:
    """Move an image reference into another registry, keeping its name and tag.

    Args:
        image: e.g. ``ghcr.io/kfp-quality-gates/aggregator:0.1.0``.
        registry: e.g. ``registry.example.com/ml``.

    Returns:
        ``<registry>/<name>:<tag>``.
    """
    return f"{registry.rstrip('/')}/{image.rsplit('/', 1)[1]}"


def main() -> int:
    """Print one line per image.

    Returns:
        Process exit code.
    """
    parser = argparse.ArgumentParser(description="Print the image references of this repository.")
    parser.add_argument("--registry", default="", help="print the references moved into REGISTRY")
    args = parser.parse_args()
    for name, dockerfile, image in images():
        print(name, dockerfile, retag(image, args.registry) if args.registry else image)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
