"""CPU and memory requests and limits of every task, with defaults and a compile-time override.

Kubernetes needs them in the pod spec before any pipeline parameter is resolved, so they are
compile-time values: the defaults below, or a YAML file given to ``quality-gates compile
--resources FILE`` (or :func:`overrides` from Python) that replaces any of them per component::

    performance_gate: {cpu_request: "2", memory_request: 8Gi, memory_limit: 12Gi}
    explainability_gate: {memory_limit: 16Gi}

Without requests a pod is BestEffort (first evicted) and a namespace with a ResourceQuota
refuses it. The defaults fit an evaluation table of up to about a million rows and a few dozen
columns (bench/README.md has the measured peaks); larger tables need a larger override, or Spark.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

import yaml

# Kubernetes quantities: "500m" / "2" / "1.5" CPUs; "512Mi" / "4Gi" / "1G" bytes.
_CPU = re.compile(r"^(\d+(\.\d+)?|\d+m)$")
_MEMORY = re.compile(r"^\d+(\.\d+)?(Ki|Mi|Gi|Ti|K|M|G|T)?$")
_MEMORY_FACTOR = {"": 1, "K": 10**3, "M": 10**6, "G": 10**9, "T": 10**12}
_MEMORY_FACTOR |= {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40}


@dataclass(frozen=True)
class TaskResources:
    """Requests and limits of one task, as Kubernetes quantities."""

    cpu_request: str
    cpu_limit: str
    memory_request: str
    memory_limit: str


# The gates hold the evaluation table, the model and its predictions in memory; explainability
# adds SHAP's background and sample matrices. Control tasks only read JSON and talk to MLflow
# (promote downloads and re-hashes the model).
_GATE = TaskResources("1", "2", "2Gi", "6Gi")
DEFAULTS: dict[str, TaskResources] = {
    "contract_gate": _GATE,
    "drift_gate": _GATE,
    "performance_gate": _GATE,
    "decay_gate": _GATE,
    "shadow_gate": _GATE,
    "fairness_gate": _GATE,
    "explainability_gate": TaskResources("1", "2", "3Gi", "8Gi"),
    "pii_scan_gate": _GATE,
    # The operational gate measures latency: its CPU is guaranteed and capped at what the gate
    # assumes (request == limit == gates.operational.measurement.cpus, 1 by default), so the
    # numbers do not depend on what else runs on the node. Memory: the gate plus one MLServer
    # process per model (about 180 MB each before the model is loaded).
    "operational_gate": TaskResources("1", "1", "2Gi", "4Gi"),
    "aggregator": TaskResources("250m", "1", "512Mi", "2Gi"),
    "promote": TaskResources("250m", "1", "1Gi", "4Gi"),
    "manual_approval": TaskResources("100m", "500m", "256Mi", "1Gi"),
    "refusal": TaskResources("100m", "500m", "256Mi", "512Mi"),
    # Patches two Kubernetes objects and queries Prometheus for as long as the stages bake.
    "canary_rollout": TaskResources("100m", "500m", "256Mi", "512Mi"),
}

_OVERRIDES: ContextVar[Mapping[str, TaskResources] | None] = ContextVar(
    "quality_gates_resources", default=None
)


def resources_for(component: str) -> TaskResources:
    """Return the resources a task of ``component`` gets in the pipeline being compiled."""
    active = _OVERRIDES.get() or DEFAULTS
    found = active.get(component) or DEFAULTS.get(component)
    if found is None and component.endswith("_gate"):
        # A gate added since (`make gate`): the gates' defaults until it is given its own.
        return _GATE
    if found is None:
        raise KeyError(f"no resources for component '{component}'")
    return found


def apply(task: Any, component: str) -> Any:
    """Set the requests and limits of ``component`` on a pipeline task.

    Args:
        task: A ``dsl.PipelineTask``.
        component: The component's folder name (``performance_gate`` ...).

    Returns:
        The task.
    """
    r = resources_for(component)
    task.set_cpu_request(r.cpu_request).set_cpu_limit(r.cpu_limit)
    task.set_memory_request(r.memory_request).set_memory_limit(r.memory_limit)
    return task


def parse_overrides(data: Any, *, source: str = "resources") -> dict[str, TaskResources]:
    """Merge a mapping of per-component overrides into the defaults, validating every value.

    Args:
        data: ``{component: {cpu_request|cpu_limit|memory_request|memory_limit: quantity}}``.
        source: Where the mapping came from, for messages.

    Returns:
        The full table (defaults with the overrides applied).

    Raises:
        ValueError: Unknown component or key, a malformed quantity, or a request above its
            limit (Kubernetes would reject the pod).
    """
    if not isinstance(data, Mapping):
        raise ValueError(f"{source}: expected a mapping of component name to resources")
    keys = {f.name for f in fields(TaskResources)}
    table = dict(DEFAULTS)
    for component, given in data.items():
        if component not in DEFAULTS:
            raise ValueError(
                f"{source}: unknown component '{component}'; known: {', '.join(sorted(DEFAULTS))}"
            )
        if not isinstance(given, Mapping) or not set(given) <= keys:
            bad = sorted(set(given) - keys) if isinstance(given, Mapping) else given
            raise ValueError(f"{source}.{component}: unknown key(s) {bad}; use {sorted(keys)}")
        merged = replace(table[component], **{k: str(v) for k, v in given.items()})
        _validate(merged, f"{source}.{component}")
        table[component] = merged
    return table


def _validate(r: TaskResources, where: str) -> None:
    for name in ("cpu_request", "cpu_limit"):
        if not _CPU.match(getattr(r, name)):
            raise ValueError(
                f"{where}.{name}: '{getattr(r, name)}' is not a CPU quantity (2, 500m)"
            )
    for name in ("memory_request", "memory_limit"):
        if not _MEMORY.match(getattr(r, name)):
            raise ValueError(
                f"{where}.{name}: '{getattr(r, name)}' is not a memory quantity (512Mi, 4Gi)"
            )
    if _cpu(r.cpu_request) > _cpu(r.cpu_limit):
        raise ValueError(f"{where}: cpu_request {r.cpu_request} is above cpu_limit {r.cpu_limit}")
    if _bytes(r.memory_request) > _bytes(r.memory_limit):
        raise ValueError(
            f"{where}: memory_request {r.memory_request} is above memory_limit {r.memory_limit}"
        )


def _cpu(q: str) -> float:
    return float(q[:-1]) / 1000 if q.endswith("m") else float(q)


def _bytes(q: str) -> float:
    number = re.match(r"^[\d.]+", q).group(0)  # type: ignore[union-attr] - validated above
    return float(number) * _MEMORY_FACTOR[q[len(number) :]]


def load_overrides(path: str | Path) -> dict[str, TaskResources]:
    """Read a resources YAML file (see the module docstring) into the full table.

    Args:
        path: The YAML file.

    Returns:
        The defaults with the file's overrides applied.

    Raises:
        ValueError: Unreadable file or invalid content, naming the offending key.
    """
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ValueError(f"cannot read resources file {path}: {exc}") from None
    return parse_overrides(data, source=str(path))


@contextlib.contextmanager
def overrides(table: Mapping[str, TaskResources] | None) -> Iterator[None]:
    """Compile with ``table`` instead of the defaults (None keeps the defaults)."""
    token = _OVERRIDES.set(table)
    try:
        yield
    finally:
        _OVERRIDES.reset(token)
