"""Compile-time options of the pipelines: literal Secret/ConfigMap names for older backends.

The default compiled YAML names the MLflow Secret and ConfigMap through pipeline parameters
(``secretNameParameter``, ``configMapNameParameter``) and marks them ``optional``. Kubeflow 1.9's
KFP driver (backend 2.2/2.3) predates those fields and fails every task that has them
(kubeflow/pipelines#11935, #12495). ``quality-gates compile --literal-secret-names`` compiles
with the names written as literals and without ``optional``, a YAML such a backend runs; the
Secret and the ConfigMap must then exist (``manifests/`` creates both).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar

_LITERAL: ContextVar[tuple[str, str] | None] = ContextVar("quality_gates_literal", default=None)
# Fields of the kfp-kubernetes platform spec a KFP 2.2/2.3 driver rejects as unknown.
LEGACY_UNKNOWN_FIELDS = ("secretNameParameter", "configMapNameParameter", "optional")


def literal_names() -> tuple[str, str] | None:
    """Return ``(secret, config_map)`` when compiling with literal names, else None."""
    return _LITERAL.get()


@contextlib.contextmanager
def literal_secret_names(secret: str, config_map: str) -> Iterator[None]:
    """Compile with the MLflow Secret and ConfigMap names as literals (older backends)."""
    for what, name in (("Secret", secret), ("ConfigMap", config_map)):
        if not name or not name.replace("-", "").replace(".", "").isalnum() or name != name.lower():
            raise ValueError(f"{what} name '{name}' is not a Kubernetes object name")
    token = _LITERAL.set((secret, config_map))
    try:
        yield
    finally:
        _LITERAL.reset(token)


def strip_for_legacy_backend(platform_spec: dict) -> dict:
    """Remove the fields an older driver rejects from a compiled platform spec, in place.

    Args:
        platform_spec: The second YAML document kfp writes (``platforms.kubernetes...``).

    Returns:
        The same mapping.
    """
    executors = (
        platform_spec.get("platforms", {})
        .get("kubernetes", {})
        .get("deploymentSpec", {})
        .get("executors", {})
    )
    for config in executors.values():
        for kind in ("secretAsEnv", "configMapAsEnv"):
            for entry in config.get(kind, []):
                for name in LEGACY_UNKNOWN_FIELDS:
                    entry.pop(name, None)
    return platform_spec
