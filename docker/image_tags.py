"""Print the images `make images` and `make push` build: one per dependency set.

Names and tags come from shared/contracts/versions.py, the one place that names images (the
compiled component YAML reads the same module): an image is named for the packages it holds
(``quality-gates-core``, ``quality-gates-fairness``, ...), and every component that needs the
same set runs in the same image. This helper loads that module by path, so building images needs
neither the package installed nor its dependencies.

    python3 docker/image_tags.py                 # "<set> <Dockerfile> <image>" per image
    python3 docker/image_tags.py --registry R    # the same images renamed into registry R
    python3 docker/image_tags.py --components    # "<component> <image>" per component
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from component_list import image_groups, versions  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SERVER_DOCKERFILE = "docker/mlflow-server/Dockerfile"


def images() -> list[tuple[str, str, str]]:
    """Return every image this repository builds, each once.

    Returns:
        ``(dependency set, Dockerfile path relative to the root, tag reference)`` per image;
        a set's Dockerfile is its first component's (they are the same text).
    """
    out = [
        (name, f"components/{folders[0]}/Dockerfile", versions.image_tag(folders[0], ROOT))
        for name, folders in image_groups(ROOT).items()
    ]
    out.append((versions.MLFLOW_SERVER, SERVER_DOCKERFILE, versions.image_tag("mlflow_server")))
    return out


def component_images() -> dict[str, str]:
    """Return the tag reference of each component's image, plus ``mlflow_server``'s.

    Returns:
        Component folder (or ``mlflow_server``) → tag reference.
    """
    out = {
        folder: versions.image_tag(folder, ROOT)
        for folders in image_groups(ROOT).values()
        for folder in folders
    }
    out[versions.MLFLOW_SERVER] = versions.image_tag(versions.MLFLOW_SERVER)
    return out


def retag(image: str, registry: str) -> str:
    """Move an image reference into another registry, keeping its name and tag.

    Args:
        image: e.g. ``ghcr.io/kfp-quality-gates/quality-gates-core:0.1.0``.
        registry: e.g. ``registry.example.com/ml``.

    Returns:
        ``<registry>/<name>:<tag>``.
    """
    return f"{registry.rstrip('/')}/{image.rsplit('/', 1)[1]}"


def main() -> int:
    """Print one line per image (or per component with ``--components``).

    Returns:
        Process exit code.
    """
    parser = argparse.ArgumentParser(description="Print the image references of this repository.")
    parser.add_argument("--registry", default="", help="print the references moved into REGISTRY")
    parser.add_argument("--components", action="store_true", help="print each component's image")
    args = parser.parse_args()

    def moved(image: str) -> str:
        return retag(image, args.registry) if args.registry else image

    if args.components:
        for name, image in component_images().items():
            print(name, moved(image))
        return 0
    for name, dockerfile, image in images():
        print(name, dockerfile, moved(image))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
