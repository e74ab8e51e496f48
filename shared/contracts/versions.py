"""The one place that pins versions and names images: the package, kfp, the images.

The compiled component YAML, the Dockerfiles and CI all read these names, so that the kfp that
compiled a pipeline is the kfp that runs it (docs/ARCHITECTURE.md, "Pinned versions"). An image
is named for its dependency set, not its component: every component without an extra runs in
``quality-gates-core``, a gate with the ``fairness`` extra in ``quality-gates-fairness``. This
module is loaded by path from ``docker/`` before anything is installed: standard library only.
"""

from __future__ import annotations

import ast
import json
import os
import re
from importlib import metadata
from pathlib import Path

PACKAGE_NAME = "kfp-quality-gates"
PACKAGE_VERSION = "0.1.0"
KFP_VERSION = "2.17.0"
KFP_KUBERNETES_VERSION = "2.17.0"

# Images are tagged with the package version, never `:latest`. A site that mirrors images into its
# own registry sets QUALITY_GATES_IMAGE_REGISTRY before compiling.
DEFAULT_REGISTRY = "ghcr.io/kfp-quality-gates"
# `make push` records each pushed image's repo digest here (docker/digests.py); compiling then
# pins images by digest. The file sits beside the Dockerfiles in a checkout; an installed wheel
# has none, so it names tags unless QUALITY_GATES_IMAGE_DIGESTS points at a file.
DIGESTS_ENV = "QUALITY_GATES_IMAGE_DIGESTS"
_ROOT = Path(__file__).resolve().parents[2]  # the checkout, or quality_gates/ in a wheel
DEFAULT_DIGESTS = _ROOT / "docker" / "digests.json"
CORE = "core"
MLFLOW_SERVER = "mlflow_server"
_DIGEST_RE = re.compile(r"^(?P<repo>[^@\s]+)@sha256:[0-9a-f]{64}$")


class GateDeclarationError(ValueError):
    """A ``gate.py`` whose ``GateSpec(...)`` cannot be read without importing it."""


class ImageDigestError(ValueError):
    """A digests file that is not a JSON object of ``tag reference → repo@sha256:<64 hex>``."""


def gatespec_keywords(path: Path) -> dict[str, ast.expr]:
    """Return the keyword nodes of the first ``GateSpec(...)`` call in a ``gate.py``.

    Images are named and built before anything is installed (plain ``python3``, no pydantic),
    so the declaration is read with :mod:`ast`, never imported.

    Args:
        path: A ``components/<folder>/gate.py``.

    Returns:
        Keyword name → its expression node (``GateSpec(...)`` or ``<module>.GateSpec(...)``).

    Raises:
        GateDeclarationError: When the file has no such call or passes keywords with ``**``.
    """
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if (func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)) != "GateSpec":
            continue
        out = {}
        for kw in node.keywords:
            if kw.arg is None:
                raise GateDeclarationError(f"{path}:{kw.lineno}: GateSpec(**...) cannot be read")
            out[kw.arg] = kw.value
        return out
    raise GateDeclarationError(f"{path}: no GateSpec(...) call found")


def extra_of(folder: str, root: Path | None = None) -> str | None:
    """Return the pip extra a component needs on top of the core, if any.

    Args:
        folder: A component folder, e.g. ``fairness_gate``.
        root: The folder holding ``components/`` (default: this package's own).

    Returns:
        The ``extra=`` of its ``gate.py``; ``None`` without a ``gate.py`` or an extra.

    Raises:
        GateDeclarationError: When ``extra=`` is not a string literal or ``None`` (guessing
            "no extra" would build a fairness image without fairlearn).
    """
    path = (root or _ROOT) / "components" / folder / "gate.py"
    if not path.exists():
        return None
    node = gatespec_keywords(path).get("extra")
    if node is None:
        return None
    if not isinstance(node, ast.Constant) or not isinstance(node.value, str | type(None)):
        raise GateDeclarationError(
            f"{path}:{node.lineno}: extra= must be a string literal or None, "
            f"not {ast.unparse(node)}"
        )
    return node.value or None


def dependency_set(component: str, root: Path | None = None) -> str:
    """Return the dependency set a component's image installs: ``core`` or the core + an extra.

    Args:
        component: Component folder name, or ``mlflow_server``.
        root: The folder holding ``components/`` (default: this package's own).

    Returns:
        ``mlflow_server``, the component's extra (``fairness``, ...) or ``core``; a folder this
        package does not hold (a component of your own) gets the core.
    """
    if component == MLFLOW_SERVER:
        return MLFLOW_SERVER
    return extra_of(component, root) or CORE


def image_name(dependency_set_name: str) -> str:
    """Return the image name of a dependency set, e.g. ``quality-gates-fairness``.

    Args:
        dependency_set_name: ``core``, an extra, or ``mlflow_server``.

    Returns:
        The repository name within the registry (no registry, no tag).
    """
    if dependency_set_name == MLFLOW_SERVER:
        return "mlflow-server"
    return "quality-gates-" + dependency_set_name.replace("_", "-")


def image_tag(component: str, root: Path | None = None) -> str:
    """Return the tag reference of a component's image (what ``make images`` builds).

    Args:
        component: Component folder name, e.g. ``performance_gate``, or ``mlflow_server``.
        root: The folder holding ``components/`` (default: this package's own).

    Returns:
        ``<registry>/<image name of its dependency set>:<package version>``; the components
        that need the same packages share one image (``quality-gates-core``).
    """
    registry = os.environ.get("QUALITY_GATES_IMAGE_REGISTRY", DEFAULT_REGISTRY).rstrip("/")
    return f"{registry}/{image_name(dependency_set(component, root))}:{PACKAGE_VERSION}"


def read_digests(path: Path) -> dict[str, str]:
    """Read and check a digests file (``docker/digests.json``, written by ``make push``).

    Args:
        path: The file: a JSON object mapping a tag reference (``registry/name:tag``) to the
            pushed image's repo digest (``registry/name@sha256:<64 hex>``).

    Returns:
        The mapping; empty when the file does not exist.

    Raises:
        ImageDigestError: When the file is not such an object, naming the file and the entry.
    """
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ImageDigestError(f"image digests file {path} is not readable JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ImageDigestError(f"image digests file {path}: expected an object of tag → digest")
    for tag, ref in data.items():
        match = _DIGEST_RE.match(ref) if isinstance(ref, str) else None
        if match is None or match["repo"] != tag.rsplit(":", 1)[0]:
            raise ImageDigestError(
                f"image digests file {path}: {tag!r} maps to {ref!r}; expected "
                f"'{tag.rsplit(':', 1)[0]}@sha256:<64 lower-case hex>' (re-run `make push`, "
                f"or delete the entry to name the tag)"
            )
    return data


def digests_file() -> Path:
    """Return the digests file in effect: ``$QUALITY_GATES_IMAGE_DIGESTS`` or the default."""
    return Path(os.environ.get(DIGESTS_ENV) or DEFAULT_DIGESTS)


def image_for(component: str) -> str:
    """Return the pinned image reference for a component (what compiled YAMLs name).

    Args:
        component: Component folder name, e.g. ``performance_gate``.

    Returns:
        The repo digest ``<registry>/<image>@sha256:...`` that ``make push`` recorded for this
        registry and tag, else the tag reference of :func:`image_tag`.

    Raises:
        ImageDigestError: When the digests file is malformed, or ``$QUALITY_GATES_IMAGE_DIGESTS``
            names a file that does not exist (never a silent fall back to tags).
    """
    tag = image_tag(component)
    path = digests_file()
    if os.environ.get(DIGESTS_ENV) and not path.exists():
        # Named on purpose: a typo must not compile tags where digests were asked for.
        raise ImageDigestError(f"{DIGESTS_ENV}={path}: no such file (unset it to name tags)")
    return read_digests(path).get(tag, tag)


_REPORTED = (
    "kfp-quality-gates",
    "kfp",
    # The client every image has (the full mlflow, where installed, is the same version).
    "mlflow-skinny",
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
