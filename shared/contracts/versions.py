"""The one place that pins versions: the package, kfp, and the image tags derived from them.

The compiled component YAML, the Dockerfiles and CI all read these names, so that the kfp that
compiled a pipeline is the kfp that runs it (docs/ARCHITECTURE.md, "Pinned versions").
"""

from __future__ import annotations

import os
from importlib import metadata

PACKAGE_NAME = "kfp-quality-gates"
PACKAGE_VERSION = "0.1.0"
KFP_VERSION = "2.17.0"
KFP_KUBERNETES_VERSION = "2.17.0"

# Images are tagged with the package version, never `:latest`. A site that mirrors images into its
# own registry sets QUALITY_GATES_IMAGE_REGISTRY before compiling.
DEFAULT_REGISTRY = "ghcr.io/kfp-quality-gates"


def image_for(component: str) -> str:
    """Return the pinned image reference for a component.

    Args:
        component: Component folder name, e.g. ``performance_gate``.

    Returns:
        ``<registry>/<component-with-dashes>:<package version>``.
    """
    registry = os.environ.get("QUALITY_GATES_IMAGE_REGISTRY", DEFAULT_REGISTRY).rstrip("/")
    return f"{registry}/{component.replace('_', '-')}:{PACKAGE_VERSION}"


_REPORTED = (
    "kfp-quality-gates",
    "kfp",
    "mlflow",
    "scikit-learn",
    "numpy",
    "pandas",
    "pyarrow",
    "pydantic",
)


def package_versions(extra: tuple[str, ...] = ()) -> dict[str, str]:
    """Return the installed versions of the packages that shape a gate's numbers.

    Args:
        extra: Further distribution names to report (a gate's own engine, e.g. ``fairlearn``).

    Returns:
        Mapping of distribution name to version; ``"not installed"`` where absent.
    """
    out: dict[str, str] = {}
    for name in (*_REPORTED, *extra):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out
